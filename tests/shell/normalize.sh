# osteo-normalize: sizes, per-image methods, statistics fitted on one stream and applied to another
. "$TOP/tests/lib.sh"
osteo-synth -q -n 24 --seed 5 -o c
osteo-decode -q --manifest c/manifest.csv c >all.rec
osteo-split -q --seed 5 --train tr.rec --val va.rec --test te.rec all.rec
# fitted statistics applied to the training stream: mean 0, sd 1
osteo-normalize --size 64x48 --method zscore --fit-stats st.rec tr.rec >trn.rec
osteo-dump --data trn.rec | jq -s -e '[.[].tensors.image.data[]] | (add / length) as $m |
	($m | fabs < 1e-4) and ((map((. - $m) * (. - $m)) | add / length | sqrt) - 1 | fabs < 1e-4)' >/dev/null ||
	fail "fitted statistics do not give mean 0 and sd 1"
osteo-dump trn.rec | jq -s -e 'all(.tensors.image.shape == [1,48,64] and .tensors.image.dtype == "f32" and
	.meta["norm.method"] == "zscore" and .meta["norm.size"] == "64x48")' >/dev/null || fail "shape or meta"
# applied elsewhere: the same fingerprint, settings from the file
osteo-normalize --stats st.rec te.rec >ten.rec
fp=$(osteo-dump st.rec | jq -r .meta.fingerprint)
osteo-dump ten.rec | jq -s -e --arg fp "$fp" 'all(.meta["norm.stats"] == $fp and .tensors.image.shape == [1,48,64])' >/dev/null ||
	fail "--stats"
expect_status 64 osteo-normalize --stats st.rec --size 32x32 te.rec
# per image: minmax gives [0,1] per record; percentile clips to [0,1]
osteo-normalize --size 32x32 --method minmax te.rec | osteo-dump |
	jq -s -e 'all(.tensors.image.min == 0 and .tensors.image.max == 1)' >/dev/null || fail "minmax"
osteo-normalize --size 32x32 --method percentile --percentiles 2,98 te.rec | osteo-dump |
	jq -s -e 'all(.tensors.image.min >= 0 and .tensors.image.max <= 1)' >/dev/null || fail "percentile"
# a window (the CT convention)
osteo-decode -q "$FIX/img/g16.pgm" | osteo-normalize --window 1000,2000 | osteo-dump --data | jq -c .tensors.image.data >got
[ "$(cat got)" = '[0,0.000500000024,0.128000006,1,1,0.150000006,1,1,1,0.00350000011,1,0.00100000005,0.00150000001,0.5,1]' ] ||
	fail "window: $(cat got)"
# color to gray, and channels kept
osteo-decode -q "$FIX/img/rgb8.ppm" | osteo-normalize --method none | osteo-dump --data | jq -c .tensors.image.data >got
[ "$(cat got)" = '[76.2449951,149.684998,29.0699997,18.1499996,48.1500015,78.1500015,1.81500006,255]' ] || fail "gray: $(cat got)"
osteo-decode -q "$FIX/img/rgb8.ppm" | osteo-normalize --keep-channels --method none | osteo-dump | jq -e '.tensors.image.shape == [3,2,4]' >/dev/null
# sharded or not: the same bytes
osteo-normalize --size 32x32 --method percentile tr.rec te.rec >one.rec
osteo-normalize --size 32x32 --method percentile tr.rec >a.rec
osteo-normalize --size 32x32 --method percentile te.rec >b.rec
cat a.rec b.rec | cmp - one.rec || fail "sharded output differs"
# bad input: 65 with a message; bad options: 64
printf '\x82\xa2id\xa1x\xa7tensors\x80' >noimage.rec
expect_status 65 osteo-normalize noimage.rec >/dev/null 2>err
grep -q "record 1 (id 'x'): no 'image' tensor" err || fail "no image: $(cat err)"
printf '\x82\xa2id\xa1z\xa7tensors\x81\xa5image\x83\xa5dtype\xa2u8\xa5shape\x93\x01\x00\x00\xa4data\xc4\x00' >empty.rec
expect_status 65 osteo-normalize empty.rec >/dev/null 2>err
grep -q "empty" err || fail "0x0 image: $(cat err)"
expect_status 64 osteo-normalize --size 0x0 te.rec
expect_status 64 osteo-normalize --method sideways te.rec
expect_status 64 osteo-normalize --method window te.rec
