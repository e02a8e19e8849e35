# osteo-augment: copies, balance, the same seed gives the same bytes sharded or not
. "$TOP/tests/lib.sh"
osteo-synth -q -n 30 --seed 2 -o c
osteo-decode -q --manifest c/manifest.csv c | osteo-normalize --size 48x48 --method percentile >all.rec
n=$(osteo-dump --count all.rec | awk -F'\t' '$1 == "all" { print $3 }')
A="--seed 9 --rotate 15 --scale 0.1 --translate 0.05 --hflip 0.5 --noise 0.02,0.5 --contrast 0.2 --brightness 0.1"
osteo-augment $A --copies 2 all.rec >aug.rec
[ "$(osteo-dump --count aug.rec | awk -F'\t' '$1 == "all" { print $3 }')" = $((3 * n)) ] || fail "copies"
osteo-dump aug.rec | jq -r .id | contains '#aug2$' || fail "copy ids"
osteo-dump aug.rec | jq -s -e 'map(select(.id | test("#aug"))) | all(.meta["aug.of"] != null)' >/dev/null || fail "aug.of"
osteo-augment $A --copies 2 --no-original all.rec | osteo-dump --count | contains "$(printf 'all\t-\t%d' $((2 * n)))" ||
	fail "--no-original"
# reproducible, and sharded runs give the same records
osteo-augment $A --copies 2 all.rec | cmp - aug.rec || fail "not reproducible"
osteo-dump all.rec | jq -r .id >ids
osteo-split -q --ratios 50,50,0 --train h1.rec --val h2.rec --test h3.rec all.rec
osteo-augment $A --copies 2 h1.rec h2.rec >whole.rec
osteo-augment $A --copies 2 h1.rec >p1.rec
osteo-augment $A --copies 2 h2.rec >p2.rec
cat p1.rec p2.rec | cmp - whole.rec || fail "sharded output differs"
# copies differ from their originals, and with another seed
osteo-augment --seed 10 --rotate 15 --copies 1 all.rec | cmp -s - "$(osteo-augment --seed 9 --rotate 15 --copies 1 all.rec >s9.rec; echo s9.rec)" &&
	fail "the seed does not matter"
# --balance: equal class counts
osteo-augment -q $A --balance all.rec | osteo-dump --count >bal
awk -F'\t' '$1 ~ /^[0-9]+$/ { c[$3]++ } END { exit length(c) == 1 ? 0 : 1 }' bal || fail "--balance: $(cat bal)"
osteo-augment -q $A --balance --copies 1 all.rec | osteo-dump --count >bal
awk -F'\t' '$1 ~ /^[0-9]+$/ { c[$3]++ } END { exit length(c) == 1 ? 0 : 1 }' bal || fail "--balance --copies: $(cat bal)"
# bad input
printf '\x82\xa2id\xa1x\xa7tensors\x80' >noimage.rec
expect_status 65 osteo-augment --copies 1 noimage.rec >/dev/null 2>err
grep -q 'image' err || fail "no image message"
osteo-dump all.rec >/dev/null
expect_status 64 osteo-augment --rotate 500 all.rec
expect_status 64 osteo-augment --hflip 2 all.rec
