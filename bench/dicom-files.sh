#!/bin/bash
# bench/dicom-files.sh DIR N - make bench's DICOM files: N synthetic 256x256
# images as 12-bit CT slices (dump2dcm, rescale -1024), a third each left
# uncompressed, JPEG lossless (dcmcjpeg) and JPEG 2000 lossless (gdcmconv),
# under DIR/raw, DIR/jpeg and DIR/j2k.
set -eu
dir=$1 n=$2
here=$(cd "$(dirname "$0")" && pwd)
PATH="$here/../bin:$PATH"
mkdir -p "$dir/raw" "$dir/jpeg" "$dir/j2k" "$dir/tmp"
osteo-synth -q -n "$n" --images 1 --size 256x256 --seed 3 -o "$dir/png"
one() { # one PNG INDEX
	local d=$DIR i=$2 kind
	kind=$(( $2 % 3 ))
	pngtopnm "$1" | ppmtopgm | pamdepth 4095 | tail -c 131072 | dd conv=swab status=none >"$d/tmp/$i.raw"
	sed -e "s/@I@/$i/g" -e "s|@RAW@|$d/tmp/$i.raw|" "$d/tmp/template" >"$d/tmp/$i.dump"
	case $kind in
	0) dump2dcm -q "$d/tmp/$i.dump" "$d/raw/$i.dcm" ;;
	1) dump2dcm -q "$d/tmp/$i.dump" "$d/tmp/$i.dcm" && dcmcjpeg -q "$d/tmp/$i.dcm" "$d/jpeg/$i.dcm" ;;
	2) dump2dcm -q "$d/tmp/$i.dump" "$d/tmp/$i.dcm" && gdcmconv --j2k "$d/tmp/$i.dcm" "$d/j2k/$i.dcm" ;;
	esac
	rm -f "$d/tmp/$i.raw" "$d/tmp/$i.dump" "$d/tmp/$i.dcm"
}
cat >"$dir/tmp/template" <<'EOD'
(0008,0016) UI [1.2.840.10008.5.1.4.1.1.2]
(0008,0018) UI [1.2.826.0.1.3680043.2.1125.9.@I@]
(0008,0060) CS [CT]
(0010,0020) LO [BENCH@I@]
(0018,0015) CS [HIP]
(0020,000d) UI [1.2.826.0.1.3680043.2.1125.10.@I@]
(0020,000e) UI [1.2.826.0.1.3680043.2.1125.11.@I@]
(0028,0002) US 1
(0028,0004) CS [MONOCHROME2]
(0028,0010) US 256
(0028,0011) US 256
(0028,0100) US 16
(0028,0101) US 12
(0028,0102) US 11
(0028,0103) US 0
(0028,1050) DS [40]
(0028,1051) DS [400]
(0028,1052) DS [-1024]
(0028,1053) DS [1]
(7fe0,0010) OW =@RAW@
EOD
export DIR=$dir
export -f one
find "$dir/png" -name '*.png' | sort | awk '{ print $0 " " NR }' | xargs -P "$(nproc)" -n 2 bash -c 'one "$0" "$1"'
rm -rf "$dir/tmp" "$dir/png"
