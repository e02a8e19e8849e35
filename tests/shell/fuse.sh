# osteo-fuse: encodings fitted on training patients, leakage warnings, bad CSVs
. "$TOP/tests/lib.sh"
osteo-synth -q -n 40 --seed 4 -o c
osteo-decode -q --manifest c/manifest.csv c >all.rec
osteo-split -q --seed 4 --train tr.rec --val va.rec --test te.rec all.rec
osteo-fuse --clinical c/clinical.csv --columns age,sex,fracture_history --fit-encoding enc.rec tr.rec >trf.rec 2>err
[ ! -s err ] || fail "unexpected messages: $(cat err)"
osteo-dump enc.rec | jq -r .meta.feature_names | contains -x 'age,sex=F,sex=M,fracture_history' || fail "feature names"
# z-scored age on the training records' patients: mean 0 over patients
osteo-dump --data trf.rec | jq -s -e 'all(.tensors.clinical.shape == [4])' >/dev/null || fail "clinical shape"
osteo-dump --data trf.rec | jq -r '[.patient, .tensors.clinical.data[0]] | @tsv' | sort -u |
	awk '{ s += $2; n++ } END { exit (s / n < 1e-5 && s / n > -1e-5) ? 0 : 1 }' || fail "age is not centred"
# one-hot and yes/no against the CSV
osteo-dump --data trf.rec | jq -r '[.patient, (.tensors.clinical.data[1:4] | map(tostring) | join(" "))] | @tsv' | sort -u >enc
while IFS=$(printf '\t') read -r p v; do
	want=$(awk -F, -v p="$p" '$1 == p { printf "%d %d %d", $3 == "F", $3 == "M", $5 == "yes" }' c/clinical.csv)
	[ "$v" = "$want" ] || fail "patient $p encoded as $v, want $want"
done <enc
# applied elsewhere with the same encoding
osteo-fuse --clinical c/clinical.csv --encoding enc.rec te.rec | osteo-dump |
	jq -s -e --arg fp "$(osteo-dump enc.rec | jq -r .meta.fingerprint)" 'all(.meta["fuse.encoding"] == $fp)' >/dev/null ||
	fail "--encoding"
# no warning on the honest cohort; a warning when a column defines the class
osteo-fuse --clinical c/clinical.csv --fit-encoding e.rec tr.rec >/dev/null 2>err
! grep -q leakage err || fail "false leakage warning: $(cat err)"
osteo-synth -q -n 40 --seed 4 --leak -o L
osteo-decode -q --manifest L/manifest.csv L | osteo-fuse --clinical L/clinical.csv --fit-encoding e.rec >/dev/null 2>err
grep -q "column 'bmd_tscore' alone predicts the label" err || fail "no leakage warning: $(cat err)"
# missing rows and values: an error by default, or impute, or skip
grep -v '^P0001,' c/clinical.csv >part.csv
osteo-dump all.rec | jq -r .patient | contains P0001 || fail "P0001 missing from the cohort"
expect_status 65 osteo-fuse --clinical part.csv --encoding enc.rec all.rec >/dev/null 2>err
grep -q "no row for patient 'P0001'" err || fail "missing row message: $(cat err)"
osteo-fuse --clinical part.csv --encoding enc.rec --missing skip all.rec 2>err | osteo-dump | jq -r .patient >pats
! grep -q P0001 pats || fail "--missing skip kept P0001"
grep -q 'skipped' err || fail "no counts on stderr"
osteo-fuse -q --clinical part.csv --encoding enc.rec --missing impute all.rec | osteo-dump | jq -r .patient | contains P0001 ||
	fail "--missing impute dropped P0001"
sed 's/^\(P0002\),[0-9]*,/\1,,/' c/clinical.csv >hole.csv
expect_status 65 osteo-fuse --clinical hole.csv --encoding enc.rec all.rec >/dev/null 2>err
grep -q "no value in column 'age'" err || fail "missing value message: $(cat err)"
# columns that identify a patient are never taken by default: skipped with a warning naming
# them; under --pseudonymize refused (65), even named in --columns; without it, named, taken
awk -F, -v OFS=, 'NR == 1 { print $0, "Patient Name", "DOB", "e-mail", "phone_number", "MRN" }
	NR > 1 { print $0, "Doe^Jane" NR, "19" 40 + NR % 50 "0101", "p" NR "@example.org", "555-01" NR, "M" NR }' \
	c/clinical.csv >ids.csv
osteo-fuse --clinical ids.csv all.rec 2>err >ids.rec
for c in "'Patient Name' (a name)" "'DOB' (a birth date)" "'e-mail' (an e-mail address)" \
	"'phone_number' (a phone number)" "'MRN' (a record number)"; do
	contains -F "$c" err || fail "no warning for $c: $(cat err)"
done
osteo-dump ids.rec | jq -r '.meta["fuse.features"]' | sort -u >features
! contains -i -E 'doe|19[0-9]{2}0101|example|555-|name|dob|mail|phone|mrn' features ||
	fail "an identifier became a feature: $(cat features)"
openssl rand -hex 32 >key
expect_status 65 osteo-fuse --clinical ids.csv --pseudonymize key all.rec >out 2>err
contains -F "column 'Patient Name' looks like a name" err || fail "--pseudonymize: $(cat err)"
[ ! -s out ] || fail "--pseudonymize wrote records before refusing"
expect_status 65 osteo-fuse --clinical ids.csv --columns age,DOB --pseudonymize key all.rec >/dev/null 2>err
contains -F "column 'DOB' looks like a birth date" err || fail "--pseudonymize --columns DOB: $(cat err)"
osteo-decode -q --pseudonymize key --manifest c/manifest.csv c |
	osteo-fuse -q --clinical ids.csv --columns age,sex --pseudonymize key >/dev/null ||
	fail "--pseudonymize with harmless --columns"
osteo-fuse -q --clinical ids.csv --columns age,MRN all.rec 2>/dev/null >mrn.rec
osteo-dump mrn.rec | contains -F 'MRN=M' || fail "MRN named in --columns without --pseudonymize is not taken"
# more columns than an encoding holds: refused naming the limit, not cut silently
awk 'BEGIN { printf "patient"; for (i = 0; i < 300; i++) printf ",x%d", i; print ""
	for (p = 1; p <= 40; p++) { printf "P%04d", p; for (i = 0; i < 300; i++) printf ",%d", p % 7; print "" } }' >many.csv
expect_status 65 osteo-fuse --clinical many.csv all.rec >/dev/null 2>err
contains -F 'more than 256 columns to encode, the limit' err || fail "300 columns: $(cat err)"
# bad CSVs: ragged rows, unknown columns, duplicate patients
printf 'patient,age\nP0001,50,extra\n' >ragged.csv
expect_status 65 osteo-fuse --clinical ragged.csv all.rec >/dev/null 2>err
grep -q "ragged.csv: row 2 has more fields than the header's 2" err || fail "ragged message: $(cat err)"
expect_status 65 osteo-fuse --clinical c/clinical.csv --columns age,shoe_size all.rec >/dev/null 2>err
grep -q "no column 'shoe_size'" err || fail "unknown column message"
{ cat c/clinical.csv; tail -n 1 c/clinical.csv; } >dup.csv
expect_status 65 osteo-fuse --clinical dup.csv all.rec >/dev/null 2>err
grep -q 'appears twice' err || fail "duplicate patient message"
expect_status 64 osteo-fuse all.rec
