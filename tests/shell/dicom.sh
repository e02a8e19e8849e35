# DICOM read by osteo-decode itself (GDCM), on files this test makes: a hand-built CT slice
# (dump2dcm) from a synthetic image, in every transfer syntax dcmtk and GDCM write
# (uncompressed little/big endian, implicit VR, deflate, RLE, JPEG lossless, JPEG-LS, JPEG 2000,
# lossy JPEG), MONOCHROME1, signed multi-frame, RGB and YBR colour, objects without pixels, and
# broken files.  Every value is checked against an independent reader: the stored values this
# test wrote, dcmtk's own decoders (dcmdjpeg, dcmdjpls, dcmdrle, dcmconv), djpeg.
. "$TOP/tests/lib.sh"
for t in dump2dcm dcmdump dcmcjpeg dcmcjpls dcmcrle dcmdjpeg dcmdjpls dcmdrle dcmconv img2dcm; do
	command -v $t >/dev/null || { echo "dcmtk is not installed (apt-get install dcmtk)"; exit 77; }
done
command -v gdcmconv >/dev/null || { echo "gdcmconv is not installed (apt-get install libgdcm-tools)"; exit 77; }

# stored values: a synthetic 64x48 image's 8 bits spread over 12 (v*16 + x%16), little endian
osteo-synth -q -n 1 --images 1 --size 64x48 -o syn
osteo-decode -q syn | osteo-dump --data | jq -r '.tensors.image.data[]' >values
[ "$(wc -l <values)" = 3072 ] || fail "the synthetic image has $(wc -l <values) values"
awk '{ v = $1 * 16 + (NR - 1) % 16; print v }' values >stored
awk '{ printf "%c%c", $1 % 256, int($1 / 256) }' stored >pixels.raw
[ "$(stat -c %s pixels.raw)" = 6144 ] || fail "pixels.raw: $(stat -c %s pixels.raw) bytes"
ct() { # ct SOP PATIENT: a 12-bit CT slice, rescale -1024, window 40/400
	cat <<EOD
(0008,0016) UI [1.2.840.10008.5.1.4.1.1.2]
(0008,0018) UI [1.2.826.0.1.3680043.2.1125.1.$1]
(0008,0060) CS [CT]
(0008,0080) LO [St Elsewhere Hospital]
(0008,1030) LO [hip pain, ask Dr Who]
(0010,0010) PN [Doe^Jane]
(0010,0020) LO [$2]
(0010,0030) DA [19580314]
(0010,0040) CS [F]
(0010,1010) AS [067Y]
(0018,0015) CS [HIP]
(0020,000d) UI [1.2.826.0.1.3680043.2.1125.2.$1]
(0020,000e) UI [1.2.826.0.1.3680043.2.1125.3.$1]
(0020,0062) CS [L]
(0028,0002) US 1
(0028,0004) CS [MONOCHROME2]
(0028,0010) US 48
(0028,0011) US 64
(0028,0030) DS [0.5\\0.75]
(0028,0100) US 16
(0028,0101) US 12
(0028,0102) US 11
(0028,0103) US 0
(0028,1050) DS [40\\500]
(0028,1051) DS [400\\2000]
(0028,1052) DS [-1024]
(0028,1053) DS [1]
(7fe0,0010) OW =pixels.raw
EOD
}
ct 1 PAT042 >ct.dump
dump2dcm -q ct.dump ct.dcm
hu=$(awk '{ printf "%s%d", (NR > 1 ? "," : "["), $1 - 1024 } END { print "]" }' stored)

# the values and the header
[ "$(decoded ct.dcm)" = "$hu" ] || fail "uncompressed CT: not stored - 1024"
osteo-decode -q ct.dcm | osteo-dump | jq -c '[.id, .patient, .tensors.image.dtype, .tensors.image.shape, .meta.format,
	.meta.modality, .meta.dicom_modality, .meta.region, .meta.laterality, .meta.sex, .meta.age, .meta.spacing_y,
	.meta.spacing_x, .meta.window_center, .meta.window_width, .meta.rescale_intercept, .meta.bit_depth,
	.meta.photometric, .meta.sop_uid, .meta.transfer_syntax]' >got
[ "$(cat got)" = '["ct.dcm","PAT042","f32",[1,48,64],"dicom","ct","CT","hip","L","F",67,0.5,0.75,40,400,-1024,12,"MONOCHROME2","1.2.826.0.1.3680043.2.1125.1.1","1.2.840.10008.1.2.1"]' ] ||
	fail "CT header: $(cat got)"

# dcmtk's reading of a file's pixels (decompressed to little endian by its own codecs): the
# stored values, rescaled as the header says
dcmtk_values() {
	rm -rf px && mkdir px
	case $2 in
	jpeg) dcmdjpeg "$1" px/u.dcm ;; jpls) dcmdjpls "$1" px/u.dcm ;; rle) dcmdrle "$1" px/u.dcm ;;
	*) dcmconv +te "$1" px/u.dcm ;;
	esac
	(cd px && dcmdump -q +W . u.dcm >/dev/null)
	od -An -v -tu2 -w2 px/*.raw | awk '{ printf "%s%d", (NR > 1 ? "," : "["), $1 - 1024 } END { print "]" }'
}
[ "$(dcmtk_values ct.dcm raw)" = "$hu" ] || fail "dcmtk reads ct.dcm otherwise"
# every transfer syntax, each against dcmtk (and, lossless, against the stored values)
dcmconv -q +tb ct.dcm be.dcm
dcmconv -q +ti ct.dcm implicit.dcm
dcmconv -q +td ct.dcm deflate.dcm
dcmcrle -q ct.dcm rle.dcm
dcmcjpeg -q ct.dcm jpeg-lossless.dcm
dcmcjpls -q ct.dcm jpeg-ls.dcm
gdcmconv --j2k ct.dcm j2k.dcm
for f in be:raw:1.2.840.10008.1.2.2 implicit:raw:1.2.840.10008.1.2 deflate:raw:1.2.840.10008.1.2.1.99 \
	rle:rle:1.2.840.10008.1.2.5 jpeg-lossless:jpeg:1.2.840.10008.1.2.4.70 jpeg-ls:jpls:1.2.840.10008.1.2.4.80; do
	IFS=: read -r name codec ts <<<"$f"
	[ "$(dcmtk_values $name.dcm $codec)" = "$hu" ] || fail "$name: dcmtk reads it otherwise"
	[ "$(decoded $name.dcm)" = "$hu" ] || fail "$name: not the stored values"
	[ "$(osteo-decode -q $name.dcm | osteo-dump | jq -r .meta.transfer_syntax)" = $ts ] || fail "$name: transfer syntax"
done
[ "$(decoded j2k.dcm)" = "$hu" ] || fail "JPEG 2000 (lossless): not the stored values"
contains -F '"JPEG 2000' <<<"$(osteo-decode -q j2k.dcm | osteo-dump)" || fail "JPEG 2000: transfer syntax name"

# lossy JPEG (8 bits, gray): against dcmtk's decoder, give or take one
sed -e 's/(0028,0100) US 16/(0028,0100) US 8/' -e 's/(0028,0101) US 12/(0028,0101) US 8/' \
	-e 's/(0028,0102) US 11/(0028,0102) US 7/' -e '/(0028,105[23])/d' -e 's/=pixels.raw/=pixels8.raw/' \
	-e 's/ OW / OB /' ct.dump >ct8.dump
awk '{ printf "%c", $1 }' values >pixels8.raw
dump2dcm -q ct8.dump ct8.dcm
dcmcjpeg -q +eb ct8.dcm lossy.dcm
rm -rf px && mkdir px && dcmdjpeg lossy.dcm px/u.dcm && (cd px && dcmdump -q +W . u.dcm >/dev/null)
od -An -v -tu1 -w1 px/*.raw >want
decoded lossy.dcm | jq -r '.[]' | paste - want | awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d }
	END { exit !(NR == 3072 && m <= 1) }' || fail "lossy JPEG: more than 1 from dcmtk's decoding"
[ "$(osteo-decode -q lossy.dcm | osteo-dump | jq -r .tensors.image.dtype)" = u8 ] || fail "lossy JPEG: not u8"

# MONOCHROME1: turned round, so that brighter is denser; unsigned 16 bits without a LUT stay u16
sed -e 's/MONOCHROME2/MONOCHROME1/' -e '/(0028,105[23])/d' ct.dump >m1.dump
dump2dcm -q m1.dump m1.dcm
want=$(awk '{ printf "%s%d", (NR > 1 ? "," : "["), 4095 - $1 } END { print "]" }' stored)
[ "$(decoded m1.dcm)" = "$want" ] || fail "MONOCHROME1: not 4095 - stored"
osteo-decode -q m1.dcm | osteo-dump | jq -e '.meta.inverted == true and .meta.photometric == "MONOCHROME1" and
	.tensors.image.dtype == "u16"' >/dev/null || fail "MONOCHROME1: meta or dtype"

# signed multi-frame (2 frames of 2x2), slope 2: one record per frame, FILE#N
printf '\x18\xfc\x00\x00\xe8\x03\xff\xff\x01\x00\x02\x00\x03\x00\x00\x80' >mf.raw
cat >mf.dump <<'EOD'
(0008,0016) UI [1.2.840.10008.5.1.4.1.1.2]
(0008,0018) UI [1.2.3.4.6]
(0008,0060) CS [CT]
(0010,0020) LO [PAT7]
(0028,0002) US 1
(0028,0004) CS [MONOCHROME2]
(0028,0008) IS [2]
(0028,0010) US 2
(0028,0011) US 2
(0028,0100) US 16
(0028,0101) US 16
(0028,0102) US 15
(0028,0103) US 1
(0028,1052) DS [0]
(0028,1053) DS [2]
(7fe0,0010) OW =mf.raw
EOD
dump2dcm -q mf.dump mf.dcm
osteo-decode -q mf.dcm | osteo-dump --data | jq -c '[.id, .meta.frame, .meta.frames, .tensors.image.data]' >got
[ "$(tr -d '\n' <got)" = '["mf.dcm#1",1,2,[-2000,0,2000,-2]]["mf.dcm#2",2,2,[2,4,6,-65536]]' ] || fail "multi-frame: $(cat got)"
dcmconv -q +tb mf.dcm mf-be.dcm
[ "$(decoded mf-be.dcm | tr -d '\n')" = '[-2000,0,2000,-2][2,4,6,-65536]' ] || fail "big-endian multi-frame"

# colour: RGB interleaved and planar as [3,H,W]; JPEG's YCbCr against djpeg, give or take one
rgb() { # rgb PLANAR
	cat <<EOD
(0008,0016) UI [1.2.840.10008.5.1.4.1.1.7]
(0008,0018) UI [1.2.3.4.7]
(0008,0060) CS [OT]
(0028,0002) US 3
(0028,0004) CS [RGB]
(0028,0006) US $1
(0028,0010) US 2
(0028,0011) US 2
(0028,0100) US 8
(0028,0101) US 8
(0028,0102) US 7
(0028,0103) US 0
(7fe0,0010) OB =rgb$1.raw
EOD
}
printf '\xff\x00\x00\x00\xff\x00\x00\x00\xff\x10\x20\x30' >rgb0.raw
printf '\xff\x00\x00\x10\x00\xff\x00\x20\x00\x00\xff\x30' >rgb1.raw
for p in 0 1; do
	rgb $p >rgb$p.dump && dump2dcm -q rgb$p.dump rgb$p.dcm
	[ "$(decoded rgb$p.dcm)" = "[255,0,0,16,0,255,0,32,0,0,255,48]" ] || fail "RGB planar $p: $(decoded rgb$p.dcm)"
done
awk 'BEGIN { print "P3 32 24 255"; for (y = 0; y < 24; y++) for (x = 0; x < 32; x++) print x * 8, y * 10, (x * y) % 256 }' >c.ppm
cjpeg -quality 90 c.ppm >c.jpg
img2dcm -q c.jpg ybr.dcm
dcmdump ybr.dcm | contains YBR_FULL_422 || fail "img2dcm did not write YBR_FULL_422"
djpeg -pnm c.jpg | pnm_planar | jq -r '.[]' >want
decoded ybr.dcm | jq -r '.[]' | paste - want | awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d }
	END { exit !(NR == 2304 && m <= 1) }' || fail "YBR JPEG: more than 1 from djpeg's RGB"
[ "$(osteo-decode -q ybr.dcm | osteo-dump | jq -r .meta.color)" = rgb ] || fail "YBR JPEG: not rgb"

# no preamble, stdin, archives, a tree with labels from the path
tail -c +133 ct.dcm >nopreamble.dcm
[ "$(decoded nopreamble.dcm)" = "$hu" ] || fail "a dataset without its preamble"
# a bare dataset of 106 bytes: no preamble, no file meta, no SOP class; and trailing padding
printf '\x01\x02\x03\x04' >t.raw
printf '(0028,0002) US 1\n(0028,0004) CS [MONOCHROME2]\n(0028,0010) US 2\n(0028,0011) US 2\n(0028,0100) US 8\n(0028,0101) US 8\n(0028,0102) US 7\n(0028,0103) US 0\n(7fe0,0010) OB =t.raw\n' >t.dump
dump2dcm -q -F t.dump bare.dcm
[ "$(decoded bare.dcm)" = "[1,2,3,4]" ] || fail "a bare dataset: $(decoded bare.dcm)"
cp m1.dcm padded.dcm && printf '\0\0\0' >>padded.dcm
[ "$(decoded padded.dcm)" = "$(decoded m1.dcm)" ] || fail "three bytes of padding after the dataset"
[ "$(osteo-decode -q <jpeg-ls.dcm | osteo-dump --data | jq -c .tensors.image.data)" = "$hu" ] || fail "stdin"
mkdir -p tree/osteoporosis/s1 tree/healthy/s2 tree/notes
cp ct.dcm tree/osteoporosis/s1/IM0001
cp j2k.dcm tree/healthy/s2/IM0001
cat >sr.dump <<'EOD'
(0008,0016) UI [1.2.840.10008.5.1.4.1.1.88.11]
(0008,0018) UI [1.2.3.4.8]
(0008,0060) CS [SR]
(0010,0020) LO [PAT042]
EOD
dump2dcm -q sr.dump tree/notes/SR0001
echo "not DICOM" >tree/notes/readme.txt
(cd tree && zip -qr ../export.zip . && tar -czf ../export.tar.gz .)
for t in tree export.zip export.tar.gz; do
	osteo-decode $t 2>err | osteo-dump | jq -s -c 'map([.id, .label, .patient])' >got
	case $t in tree) want='[["healthy/s2/IM0001",0,"PAT042"],["osteoporosis/s1/IM0001",2,"PAT042"]]' ;;
	*) want=$(jq -c 'sort' got) ;; esac
	[ "$(jq -c 'map(.[0] |= ltrimstr("./")) | sort' got)" = "$(jq -c 'sort' <<<"$want")" ] && [ "$(jq length got)" = 2 ] ||
		fail "$t: $(cat got)"
	contains 'SR0001: a DICOM object without pixel data, skipped' err || fail "$t: the SR was not noted: $(cat err)"
done

# broken files: named, GDCM's reason or ours, exit 65, the good records kept
head -c 3000 ct.dcm >cut.dcm
head -c 1500 j2k.dcm >cut-j2k.dcm
printf 'DICM' | cat <(head -c 128 /dev/zero) - <(head -c 200 /dev/urandom) >junk.dcm
# (GDCM asserts on this one: its worker dies, the next file is read)
head -c 128 /dev/zero >empty.dcm && printf 'DICM\x02\x00' >>empty.dcm
for f in cut cut-j2k junk empty; do
	expect_status 65 osteo-decode -q --keep-going ct.dcm $f.dcm mf.dcm >out.rec 2>err
	contains "$f.dcm: " err || fail "$f: not named: $(cat err)"
	[ "$(osteo-dump --count out.rec | awk -F'\t' '$1 == "all" { print $3 }')" = 3 ] || fail "$f: the good records were lost"
done
contains 'truncated' <(osteo-decode -q cut.dcm 2>&1 >/dev/null || true) || fail "a cut file is not said to be truncated"
contains 'GDCM stopped on it (signal 6): Assertion' <(osteo-decode -q empty.dcm 2>&1 >/dev/null || true) ||
	fail "GDCM's assertion is not reported"
expect_status 65 osteo-decode -q --max-pixels 1000 ct.dcm >/dev/null 2>err
contains 'limit of 1000 pixels' err || fail "--max-pixels: $(cat err)"
expect_status 65 osteo-decode -q --max-member-bytes 1000 export.zip >/dev/null 2>&1

# --window file: the header's own window (its first, 40/400)
want=$(awk '{ y = ($1 - 1024 - (40 - 200)) / 400; y = y < 0 ? 0 : y > 1 ? 1 : y; printf "%s%.4f", (NR > 1 ? "," : ""), y }' stored)
got=$(osteo-decode -q ct.dcm | osteo-normalize --window file | osteo-dump --data | jq -r '[.tensors.image.data[] | . * 10000 | round / 10000 | tostring] | join(",")')
[ "$(awk -v a="$got" -v b="$want" 'BEGIN { n = split(a, x, ","); split(b, y, ","); for (i = 1; i <= n; i++)
	{ d = x[i] - y[i]; if (d < 0) d = -d; if (d > 1e-4) bad++ } print n, bad + 0 }')" = "3072 0" ] || fail "--window file"
osteo-decode -q rgb0.dcm >rgb.rec
expect_status 65 osteo-normalize --window file rgb.rec >/dev/null 2>&1

# header values as clinical columns when the CSV has no row for the patient
printf 'patient,age,sex\nOTHER,50,M\n' >clin.csv
osteo-decode -q ct.dcm | osteo-fuse -q --clinical clin.csv --columns age,sex --fit-encoding enc.rec >fused.rec
[ "$(osteo-dump fused.rec | jq -r '.meta["fuse.features"]')" = "age,sex=F" ] || fail "fuse from the header: features"
osteo-decode -q ct.dcm | osteo-fuse -q --clinical clin.csv --encoding enc.rec | osteo-dump --data |
	jq -e '.tensors.clinical.data == [0, 1]' >/dev/null || fail "fuse from the header: values"

# pipelines/dicom2rec is osteo-decode now
[ "$("$TOP/pipelines/dicom2rec" -q tree | osteo-dump | jq -s -c 'map(.id)')" = '["healthy/s2/IM0001","osteoporosis/s1/IM0001"]' ] ||
	fail "dicom2rec"

# files GDCM 3.0 decodes wrongly, made by pydicom (tests/fixtures/dicom/make-fixtures.py): RLE of
# 16- and 32-bit colour and of signed 16-bit gray, decoded by osteo's own Annex G reader, and big
# endian 32-bit values; each frame against pydicom's values in expected.json (f32: 1e-6 relative)
D=$FIX/dicom
for f in rle-rgb16 rle-rgb32 rle-gray16s be32; do
	osteo-decode -q "$D/$f.dcm" | osteo-dump --data | jq -c '.tensors.image.data' >got
	jq -c --arg f "$f.dcm" '.[$f][]' "$D/expected.json" >want
	[ "$(wc -l <got)" = "$(wc -l <want)" ] || fail "$f: $(wc -l <got) frames, pydicom $(wc -l <want)"
	jq -n -e --slurpfile g got --slurpfile w want '[$g, $w] | transpose | all(.[]; (.[0] | length) == (.[1] | length)
		and ([.[0], .[1]] | transpose | all(.[]; ((.[0] - .[1]) | fabs) <= 1e-6 * ([(.[1] | fabs), 1] | max))))' \
		>/dev/null || fail "$f: values differ from pydicom's: $(head -c 300 got) / $(head -c 300 want)"
done
osteo-decode -q "$D/rle-rgb16.dcm" | osteo-dump --data | jq -s -e '.[0].tensors.image | .shape == [3, 6, 8] and
	.data[0] == 65535 and .data[48] == 0 and .data[96] == 0' >/dev/null || fail "rle-rgb16: the red pixel"
# BurnedInAnnotation: kept in meta; under --pseudonymize the file is refused by name (65), unless
# --allow-burned-in; the others of the stream go on with --keep-going
osteo-decode -q "$D/burned.dcm" | osteo-dump | jq -e '.meta.burned_in_annotation == "YES"' >/dev/null ||
	fail "burned_in_annotation not in meta"
# a fixed key: a random one gave a pseudonym beginning P27 one run in 256, which the search
# for the patient's own ID below took for the ID (seen in CI)
printf '%s\n' 0123456789abcdef0123456789abcdef >bkey
expect_status 65 osteo-decode -q --pseudonymize bkey "$D/burned.dcm" >out.rec 2>err
contains -F "burned.dcm: BurnedInAnnotation is YES" err || fail "burned in, pseudonymised: $(cat err)"
[ ! -s out.rec ] || fail "a burned-in image was written under --pseudonymize"
expect_status 65 osteo-decode -q --keep-going --pseudonymize bkey "$D/burned.dcm" "$D/be32.dcm" >out.rec 2>/dev/null
[ "$(osteo-dump --count out.rec | awk -F'\t' '$1 == "all" { print $3 }')" = 2 ] || fail "--keep-going past a burned-in image"
osteo-decode -q --pseudonymize bkey --allow-burned-in "$D/burned.dcm" | osteo-dump | contains -F '"burned_in_annotation":"YES"' ||
	fail "--allow-burned-in"
! osteo-decode -q --pseudonymize bkey --allow-burned-in "$D/burned.dcm" | contains -a -i -E 'doe|jane|P27' ||
	fail "an identifier in the pseudonymised record"
expect_status 64 osteo-decode --allow-burned-in "$D/burned.dcm" >/dev/null 2>&1
