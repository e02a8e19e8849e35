# pipelines/nightly: processes the newest export once, atomically, under a lock; a corrupt export
# fails loudly and changes nothing; two runs at once never both work
. "$TOP/tests/lib.sh"
N="$TOP/pipelines/nightly"
make -s -f "$TOP/pipelines/train.mk" OUT=run N=40 SEED=5 SIZE=32x32 COPIES=0 EPOCHS=2 \
	ARCH=conv:4,pool,conv:8,pool,dense:8 BOOTSTRAP=50 >/dev/null 2>&1
mkdir inbox
osteo-synth -q -n 6 --seed 11 --tar -o inbox/monday.tar.gz
"$N" -d run -i inbox -o out
d=$(ls -d out/monday-*)
[ -s $d/predictions.csv ] && [ -s $d/predictions.rec ] && [ -s $d/metrics.json ] || fail "outputs: $(ls $d)"
[ "$(($(wc -l <$d/predictions.csv) - 1))" = "$(osteo-dump --count $d/predictions.rec | tail -n 1 | cut -f 3)" ] ||
	fail "CSV rows"
head -n 1 $d/predictions.csv | contains -x 'id,patient,label,class,pred,pred_class,risk,p_healthy,p_osteopenia,p_osteoporosis' ||
	fail "CSV header"
# the same predictions as the pipeline run by hand
osteo-decode -q --manifest <(tar -xOzf inbox/monday.tar.gz manifest.csv) inbox/monday.tar.gz |
	osteo-normalize --size 32x32 --method percentile | osteo-normalize --stats run/stats.rec |
	osteo-fuse --clinical <(tar -xOzf inbox/monday.tar.gz clinical.csv) --encoding run/encoding.rec |
	osteo-infer -m run/osteonet.model | cmp - $d/predictions.rec || fail "predictions differ from the pipeline by hand"
jq -e '.n > 0' $d/metrics.json >/dev/null || fail "metrics"
contains "monday.tar.gz: done" out/nightly.log || fail "log: $(cat out/nightly.log)"
contains -E '^20[0-9-]{8}T[0-9:]{8}Z nightly' out/nightly.log || fail "log timestamps"
# a second run on the same inbox does nothing
sum=$(cat $d/* | md5sum)
"$N" -d run -i inbox -o out
[ "$(ls -d out/monday-* | wc -l)" = 1 ] && [ "$(wc -l <out/done.list)" = 1 ] || fail "processed twice"
[ "$(cat $d/* | md5sum)" = "$sum" ] || fail "the second run changed the outputs"
contains "nothing new" out/nightly.log || fail "second run's log"
# a corrupt export: non-zero, kept, not marked done, earlier outputs untouched, no work left over
osteo-synth -q -n 6 --seed 12 --tar -o tuesday.tar.gz
head -c 3000 tuesday.tar.gz >inbox/tuesday.tar.gz
touch -d '+1 minute' inbox/tuesday.tar.gz
if "$N" -d run -i inbox -o out 2>err; then fail "a corrupt export succeeded"; fi
[ -e inbox/tuesday.tar.gz ] || fail "the corrupt export is gone"
[ "$(wc -l <out/done.list)" = 1 ] || fail "the corrupt export was marked done"
[ -z "$(ls -d out/tuesday-* out/.work.* 2>/dev/null)" ] || fail "left behind: $(ls -a out)"
[ "$(cat $d/* | md5sum)" = "$sum" ] || fail "earlier outputs changed"
contains "FAILED" out/nightly.log || fail "failure not logged"
# fixed: the next run processes it
cp tuesday.tar.gz inbox/tuesday.tar.gz
touch -d '+2 minutes' inbox/tuesday.tar.gz
"$N" -d run -i inbox -o out
[ "$(ls -d out/tuesday-* | wc -l)" = 1 ] && [ "$(wc -l <out/done.list)" = 2 ] || fail "the repaired export"
# the lock: held elsewhere, a run exits 75 at once (or waits with -w)
osteo-synth -q -n 6 --seed 13 --tar -o inbox/wednesday.tar.gz
touch -d '+3 minutes' inbox/wednesday.tar.gz
flock out/.nightly.lock sleep 3 &
sleep 0.5
expect_status 75 "$N" -d run -i inbox -o out 2>/dev/null
"$N" -w 10 -d run -i inbox -o out
wait
[ "$(ls -d out/wednesday-* | wc -l)" = 1 ] || fail "-w: did not wait for the lock"
# two runs at once on a new export: one does the work, the other exits 75 or finds it done
osteo-synth -q -n 6 --seed 14 --tar -o inbox/thursday.tar.gz
touch -d '+4 minutes' inbox/thursday.tar.gz
"$N" -d run -i inbox -o out 2>/dev/null & a=$!
"$N" -d run -i inbox -o out 2>/dev/null & b=$!
sa=0 sb=0; wait $a || sa=$?; wait $b || sb=$?
case "$sa $sb" in "0 0"|"0 75"|"75 0") ;; *) fail "two runs at once exited $sa and $sb" ;; esac
[ "$(ls -d out/thursday-* | wc -l)" = 1 ] && [ "$(grep -c thursday out/done.list)" = 1 ] || fail "two runs at once"
osteo-dump --count out/thursday-*/predictions.rec >/dev/null || fail "a corrupted output"
# usage and a missing model
expect_status 64 "$N" -i inbox -o out 2>/dev/null
expect_status 66 "$N" -d nowhere -i inbox -o out 2>/dev/null
# a DICOM export: a directory of DICOM files (classes as directories), its clinical.csv by
# PatientID; processed once, its content's hash recorded
if command -v dump2dcm >/dev/null; then
	osteo-synth -q -n 4 --images 1 --size 32x32 --seed 15 -o syn
	mkdir -p friday
	awk -F, 'NR > 1 { print $1 "," $2 "," $3 }' syn/manifest.csv | while IFS=, read -r path label pat; do
		osteo-decode -q "syn/$path" | osteo-normalize --method minmax | osteo-dump --data |
			jq -r '.tensors.image.data[]' | awk '{ printf "%c", int($1 * 255) }' >px.raw
		mkdir -p "friday/$label"
		printf '(0008,0016) UI [1.2.840.10008.5.1.4.1.1.1.1]\n(0008,0018) UI [1.2.3.%s]\n(0008,0060) CS [DX]\n(0010,0020) LO [%s]\n(0028,0002) US 1\n(0028,0004) CS [MONOCHROME2]\n(0028,0010) US 32\n(0028,0011) US 32\n(0028,0100) US 8\n(0028,0101) US 8\n(0028,0102) US 7\n(0028,0103) US 0\n(7fe0,0010) OB =px.raw\n' \
			"$((10#${pat#P}))" "$pat" >d.dump
		dump2dcm -q d.dump "friday/$label/$pat.dcm"
	done
	cp syn/clinical.csv friday/clinical.csv
	mv friday inbox/friday && touch -d '+5 minutes' inbox/friday
	"$N" -d run -i inbox -o out
	d=$(ls -d out/friday-*)
	[ "$(osteo-dump $d/predictions.rec | jq -s -c 'map(.meta.format) | unique')" = '["dicom"]' ] || fail "DICOM export"
	[ "$(($(wc -l <$d/predictions.csv) - 1))" = 4 ] || fail "DICOM export: $(cat $d/predictions.csv)"
	"$N" -d run -i inbox -o out
	[ "$(grep -c friday out/done.list)" = 1 ] || fail "a DICOM directory processed twice"
fi
