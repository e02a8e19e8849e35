#!/bin/bash
# tests/fuzz/make-dicom-corpus.sh - the seeds of fuzz_dicom (corpus/dicom):
# small DICOM files in every transfer syntax dcmtk and GDCM write, made
# with dump2dcm, dcmconv, dcmcrle, dcmcjpeg, dcmcjpls, img2dcm and gdcmconv,
# kept without their 128-byte preamble and "DICM" (the harness adds them).
set -eu
out=$(cd "$(dirname "$0")" && pwd)/corpus/dicom
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
awk 'BEGIN { for (i = 0; i < 256; i++) { v = (i * 37) % 4096; printf "%c%c", v % 256, int(v / 256) } }' >px16.raw
awk 'BEGIN { for (i = 0; i < 256; i++) printf "%c", (i * 7) % 256 }' >px8.raw
head -c 768 /dev/zero | tr '\0' '\200' >rgb.raw
dump() { # dump PHOTOMETRIC SAMPLES BITS SIGNED FRAMES RAW [MORE]
	cat <<EOD
(0008,0016) UI [1.2.840.10008.5.1.4.1.1.2]
(0008,0018) UI [1.2.3.4.5.6]
(0008,0060) CS [CT]
(0010,0020) LO [PAT1]
(0010,1010) AS [070Y]
(0018,0015) CS [HIP]
(0028,0002) US $2
(0028,0004) CS [$1]
(0028,0008) IS [$5]
(0028,0010) US 16
(0028,0011) US $((16 / $5))
(0028,0030) DS [0.5\\0.5]
(0028,0100) US $3
(0028,0101) US $3
(0028,0102) US $(($3 - 1))
(0028,0103) US $4
(0028,1050) DS [40]
(0028,1051) DS [400]
(0028,1052) DS [-1024]
(0028,1053) DS [1]
${7:-}
(7fe0,0010) O$([ $3 = 8 ] && echo B || echo W) =$6
EOD
}
dump MONOCHROME2 1 16 0 1 px16.raw >a.dump && dump2dcm -q a.dump ct.dcm
dump MONOCHROME1 1 16 1 2 px16.raw >b.dump && dump2dcm -q b.dump m1-signed-2frames.dcm
dump MONOCHROME2 1 8 0 1 px8.raw >c.dump && dump2dcm -q c.dump ct8.dcm
dump RGB 3 8 0 1 rgb.raw "(0028,0006) US 1" >d.dump && dump2dcm -q d.dump rgb-planar.dcm
dcmconv -q +tb ct.dcm be.dcm
dcmconv -q +ti ct.dcm implicit.dcm
dcmconv -q +td ct.dcm deflate.dcm
dcmcrle -q ct.dcm rle.dcm
dcmcjpeg -q ct.dcm jpeg-lossless.dcm
dcmcjpeg -q +eb ct8.dcm jpeg-baseline.dcm
dcmcjpls -q ct.dcm jpeg-ls.dcm
gdcmconv --j2k ct.dcm j2k.dcm
printf 'P6 8 8 255\n' >c.ppm && head -c 192 /dev/urandom >>c.ppm && cjpeg c.ppm >c.jpg && img2dcm -q c.jpg ybr.dcm
printf '(0008,0016) UI [1.2.840.10008.5.1.4.1.1.88.11]\n(0008,0060) CS [SR]\n' >sr.dump && dump2dcm -q sr.dump sr.dcm
mkdir -p "$out"
for f in *.dcm; do tail -c +133 "$f" >"$out/${f%.dcm}"; done
ls "$out"
