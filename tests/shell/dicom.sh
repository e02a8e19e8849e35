# DICOM through dcmtk: a CT slice made for the test (dump2dcm, 12 bits stored, rescale -1024,
# window 40/400), rendered by dcm2pnm as its default interlaced 16-bit PNG and as PGM, decoded
# with the values dcmtk wrote; pipelines/dicom2rec keeps PatientID, Modality and the label
. "$TOP/tests/lib.sh"
command -v dump2dcm >/dev/null || { echo "dcmtk is not installed (apt-get install dcmtk)"; exit 77; }
stored="0 100 1000 1024 1064 2000 3000 4095 500 1500 2500 3500"
for v in $stored; do printf "\\x$(printf %02x $((v & 255)))\\x$(printf %02x $((v >> 8)))"; done >pixels.raw
mkdump() {
	cat <<EOD
(0008,0016) UI [1.2.840.10008.5.1.4.1.1.2]
(0008,0018) UI [1.2.826.0.1.3680043.2.1125.1.$1]
(0008,0060) CS [CT]
(0010,0020) LO [$2]
(0018,0015) CS [HIP]
(0020,000d) UI [1.2.826.0.1.3680043.2.1125.2.$1]
(0020,000e) UI [1.2.826.0.1.3680043.2.1125.3.$1]
(0028,0002) US 1
(0028,0004) CS [MONOCHROME2]
(0028,0010) US 3
(0028,0011) US 4
(0028,0100) US 16
(0028,0101) US 12
(0028,0102) US 11
(0028,0103) US 0
(0028,1050) DS [40]
(0028,1051) DS [400]
(0028,1052) DS [-1024]
(0028,1053) DS [1]
(7fe0,0010) OW =pixels.raw
EOD
}
mkdump 1 PAT042 >ct.dump
dump2dcm -q ct.dump ct.dcm
# no window: the stored values scaled to 16 bits (x16), in an interlaced 16-bit PNG
dcm2pnm -q +on2 ct.dcm ct.png
# IHDR: bit depth (byte 24), colour type (25), interlace method (28)
[ "$(od -An -tu1 -j24 -N5 ct.png | tr -s ' ')" = " 16 0 0 0 1" ] || fail "dcm2pnm's PNG: IHDR $(od -An -tu1 -j24 -N5 ct.png)"
want=$(echo $stored | awk '{ printf "["; for (i = 1; i <= NF; i++) printf "%s%d", (i > 1 ? "," : ""), $i * 16; print "]" }')
[ "$(decoded ct.png)" = "$want" ] || fail "16-bit PNG: $(decoded ct.png), want $want"
osteo-decode -q ct.png | osteo-dump | jq -e '.meta.bit_depth == 16 and .tensors.image.dtype == "u16"' >/dev/null ||
	fail "not kept as 16 bits"
# the file's window (+Wi 1): HU = stored - 1024, then DICOM's linear window to 0..65535
dcm2pnm -q +on2 +Wi 1 ct.dcm w.png
want=$(echo $stored | awk '{ printf "["; for (i = 1; i <= NF; i++) { y = (($i - 1024 - 39.5) / 399 + 0.5) * 65535
	y = y < 0 ? 0 : y > 65535 ? 65535 : int(y); printf "%s%d", (i > 1 ? "," : ""), y } print "]" }')
[ "$(decoded w.png)" = "$want" ] || fail "windowed: $(decoded w.png), want $want"
# dcm2pnm's default output, 8-bit PGM: what netpbm reads, osteo-decode reads
dcm2pnm -q ct.dcm ct.pgm
[ "$(decoded ct.pgm)" = "$(pnm_planar <ct.pgm)" ] || fail "PGM: $(decoded ct.pgm)"
# a tree: patient from PatientID, modality and region from the header, label from the path
mkdir -p tree/osteoporosis/s1 tree/healthy/s2 tree/notes
cp ct.dcm tree/osteoporosis/s1/IM0001
mkdump 2 'PAT,7' >b.dump && dump2dcm -q b.dump tree/healthy/s2/IM0001
echo "not DICOM" >tree/notes/readme.txt
"$TOP/pipelines/dicom2rec" tree >tree.rec
osteo-dump tree.rec | jq -s -c 'map([.id, .patient, .label, .meta.modality, .meta.region])' >got
[ "$(cat got)" = '[["healthy/s2/IM0001.png","PAT,7",0,"ct","hip"],["osteoporosis/s1/IM0001.png","PAT042",2,"ct","hip"]]' ] ||
	fail "dicom2rec: $(cat got)"
[ "$(osteo-dump --data tree.rec | jq -c 'select(.patient == "PAT042") | .tensors.image.data')" = "$(decoded ct.png)" ] ||
	fail "dicom2rec pixels"
"$TOP/pipelines/dicom2rec" -w 40,400 tree | osteo-dump --data | jq -c 'select(.patient == "PAT042") | .tensors.image.data' >got
[ "$(cat got)" = "$(decoded w.png)" ] || fail "dicom2rec -w 40,400: $(cat got)"
expect_status 66 "$TOP/pipelines/dicom2rec" nowhere >/dev/null 2>&1
mkdir empty
expect_status 65 "$TOP/pipelines/dicom2rec" empty >/dev/null 2>&1
