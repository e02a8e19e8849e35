# osteo-synth: a cohort in three classes, the same bytes for the same seed
. "$TOP/tests/lib.sh"
osteo-synth -q -n 30 --seed 1 -o a
osteo-decode -q a | osteo-dump --count >count
awk -F'\t' '$1 ~ /^[0-2]$/ && $3 > 0 { n++ } END { exit n == 3 ? 0 : 1 }' count || fail "not all three classes: $(cat count)"
total=$(awk -F'\t' '$1 == "all" { print $3 }' count)
[ "$total" -ge 30 ] || fail "only $total records"
head -n 1 a/clinical.csv | contains -x 'patient,age,sex,bmd_tscore,fracture_history,modality,region,label' || fail "clinical header"
[ "$(tail -n +2 a/clinical.csv | wc -l)" = 30 ] || fail "clinical rows"
[ "$(tail -n +2 a/manifest.csv | wc -l)" = "$total" ] || fail "manifest rows"
# deterministic for a seed; different for another
osteo-synth -q -n 30 --seed 1 -o b
diff -r a b >/dev/null || fail "same seed, different files"
osteo-synth -q -n 30 --seed 2 -o c
! diff -r a c >/dev/null || fail "different seeds, same files"
osteo-synth -q -n 30 --seed 1 --tar -o a.tar.gz
osteo-synth -q -n 30 --seed 1 --tar -o b.tar.gz
cmp a.tar.gz b.tar.gz || fail "tar.gz differs between runs"
osteo-decode -q a.tar.gz | osteo-dump --count >count2
diff count count2 || fail "tar.gz decodes differently from the tree"
# the manifest gives patients
osteo-decode -q --manifest a/manifest.csv a | osteo-dump | jq -s -e 'all(.patient != null)' >/dev/null ||
	fail "records without a patient"
# clinical columns go with the class as in life: age up, T-score down
awk -F, 'NR > 1 { n[$8]++; age[$8] += $2; t[$8] += $4 }
	END { exit !(age["healthy"]/n["healthy"] < age["osteoporosis"]/n["osteoporosis"] &&
	             t["healthy"]/n["healthy"] > t["osteoporosis"]/n["osteoporosis"]) }' a/clinical.csv ||
	fail "clinical columns do not follow the class"
# records straight to stdout
osteo-synth -q -n 5 --seed 1 --records --clinical k.csv --size 64x64 | osteo-dump | jq -e '.tensors.image.shape == [1,64,64]' >/dev/null
[ -s k.csv ] || fail "--clinical"
# an existing output is not overwritten
expect_status 73 osteo-synth -q -n 2 -o a 2>err
grep -q exists err || fail "existing -o message"
expect_status 64 osteo-synth -n 0 -o z 2>/dev/null
# drawn on every core, written in order: the same bytes on one thread
osteo-synth -q -n 70 --seed 4 --masks -o many
OMP_NUM_THREADS=1 osteo-synth -q -n 70 --seed 4 --masks -o one
diff -r many one >/dev/null || fail "a cohort differs with the number of threads"
