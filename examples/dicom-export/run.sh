#!/bin/bash
# A DICOM export, as a PACS sends it (export/: six CT slices of three
# patients, made by make-export.sh), straight into records: no conversion
# step, patients pseudonymised before anything is written, the header's
# modality, region, sex and age in each record's meta, each slice shown
# through its own window.
#   examples/dicom-export/run.sh [WORKDIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PATH="$here/../../bin:$PATH"
work=${1:-$(mktemp -d /tmp/osteo-dicom.XXXXXX)}
mkdir -p "$work" && cd "$work"

# the key that makes pseudonyms: keep it secret and keep it, so that the
# same patient gets the same pseudonym in every export
[ -s site.key ] || head -c 32 /dev/urandom >site.key

# decode the directory (any transfer syntax GDCM reads), pseudonymised
osteo-decode -q --pseudonymize site.key "$here/export" >export.rec
osteo-dump export.rec | jq -r '[.patient, .meta.modality, .meta.region, .meta.sex, .meta.age,
	.meta.window_center, .meta.window_width] | @tsv'

# what is left of the patient: no name, ID, birth date, institution or text
if grep -a -q -E -e 'Doe\^Jane' -e 'MRN4000' -e '19550[1-4]14' -e 'Elsewhere' -e 'referral' export.rec; then
	echo "identifying text is left in export.rec" >&2
	exit 1
fi

# each slice through its own window (the header's), at one size, as PNGs
osteo-normalize --window file --size 64x64 export.rec >windowed.rec
rm -rf png && osteo-dump --png png windowed.rec
ls png
echo "outputs in $work"
