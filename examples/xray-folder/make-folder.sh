#!/bin/bash
# examples/xray-folder/make-folder.sh DIR N SEED [--unlabelled]
# Stands in for a research group's own data: osteo-synth's X-rays of N
# patients laid out as such folders usually are, in DIR:
#   DIR/images/healthy/P0008_xray_hip_1.png      (class folders, flat, the
#   DIR/images/osteoporosis/P0011_xray_hip_1.png  patient in the file name)
#   DIR/clinical.csv                             (subject_id,age,sex)
# --unlabelled: DIR/images/P0008_xray_hip_1.png, no class folders (images
# to apply a model to).  Patients are numbered from SEED * 10000 so that
# folders made with other seeds never share one.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PATH="$here/../../bin:$PATH"
[ $# -ge 3 ] || { echo "usage: make-folder.sh DIR N SEED [--unlabelled]" >&2; exit 64; }
dir=$1 n=$2 seed=$3 flat=${4:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
osteo-synth -q -n "$n" --seed "$seed" --size 64x64 -o "$tmp/cohort"
rm -rf "$dir/images"
mkdir -p "$dir/images"
# path,label,patient,modality,...: the X-rays alone, renamed
awk -F, -v off=$((seed * 10000)) 'NR > 1 && $4 == "xray" {
	p = sprintf("P%05d", substr($3, 2) + off); f = $1; sub(/.*\//, "", f); print $1, $2, p "_" f }' \
	"$tmp/cohort/manifest.csv" | while read -r src label name; do
	if [ "$flat" = --unlabelled ]; then
		cp "$tmp/cohort/$src" "$dir/images/$name"
	else
		mkdir -p "$dir/images/$label"
		cp "$tmp/cohort/$src" "$dir/images/$label/$name"
	fi
done
awk -F, -v off=$((seed * 10000)) 'BEGIN { OFS = "," } NR == 1 { print "subject_id", $2, $3; next }
	{ print sprintf("P%05d", substr($1, 2) + off), $2, $3 }' "$tmp/cohort/clinical.csv" >"$dir/clinical.csv"
