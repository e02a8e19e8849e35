#!/bin/bash
# How export/ was made (run once; its files are committed): CT slices of
# osteo-synth's cohort, seed 3, written as a PACS sends them by dcmtk's
# dump2dcm: 12-bit values with a rescale to HU, a window, the patient's
# name, ID, birth date and sex, the institution, free text, UIDs.  The
# names and dates are invented; nothing here is anyone's.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PATH="$here/../../bin:$PATH"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
osteo-synth -q -n 12 --seed 3 --size 64x64 -o "$tmp/cohort"
rm -rf "$here/export" && mkdir -p "$here/export"
names=(Doe^Jane Roe^Richard Poe^Edgar Moe^Anna)
n=0
grep ',ct,' "$tmp/cohort/manifest.csv" | head -n 6 | while IFS=, read -r path label patient modality region; do
	n=$((n + 1))
	id=$((10#${patient#P}))
	k=$((id % 4))
	osteo-decode -q "$tmp/cohort/$path" | osteo-dump --data | jq -r '.tensors.image.data[]' |
		perl -ne 'chomp; print pack("v", $_)' >"$tmp/pixels.raw"
	cat >"$tmp/slice.dump" <<EOD
(0008,0016) UI [1.2.840.10008.5.1.4.1.1.2]
(0008,0018) UI [1.2.826.0.1.3680043.2.1125.9.$n]
(0008,0060) CS [CT]
(0008,0080) LO [St Elsewhere Hospital]
(0008,1030) LO [back pain, see referral letter]
(0010,0010) PN [${names[$k]}]
(0010,0020) LO [MRN$((40000 + id))]
(0010,0030) DA [1955$(printf %02d $((k + 1)))14]
(0010,0040) CS [$([ $((k % 2)) = 0 ] && echo F || echo M)]
(0010,1010) AS [0$((60 + k * 5))Y]
(0018,0015) CS [$(echo "$region" | tr a-z_ A-Z' ' | sed 's/LUMBAR SPINE/LSPINE/')]
(0020,000d) UI [1.2.826.0.1.3680043.2.1125.8.$id]
(0020,000e) UI [1.2.826.0.1.3680043.2.1125.7.$n]
(0028,0002) US 1
(0028,0004) CS [MONOCHROME2]
(0028,0010) US 64
(0028,0011) US 64
(0028,0030) DS [0.7\\0.7]
(0028,0100) US 16
(0028,0101) US 12
(0028,0102) US 11
(0028,0103) US 0
(0028,1050) DS [400]
(0028,1051) DS [1800]
(0028,1052) DS [-1024]
(0028,1053) DS [1]
(7fe0,0010) OW =$tmp/pixels.raw
EOD
	dump2dcm -q "$tmp/slice.dump" "$here/export/IM$(printf %04d $n)"
done
ls -l "$here/export"
