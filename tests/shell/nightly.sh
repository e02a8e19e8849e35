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
# replacing done.list fails (an error injected into its rename by strace): non-zero, nothing
# marked done (the old list kept whole), a message that says why, no temporary left
osteo-synth -q -n 6 --seed 16 --tar -o inbox/saturday.tar.gz
touch -d '+6 minutes' inbox/saturday.tar.gz
cp out/done.list done.before
if strace -f -qq -o /dev/null -e trace=rename -e inject=rename:error=ENOSPC true 2>/dev/null; then
	st=0
	strace -f -qq -o /dev/null -e trace=rename,renameat,renameat2 \
		-e inject=rename,renameat,renameat2:error=ENOSPC -P out/done.list "$N" -d run -i inbox -o out 2>err || st=$?
	[ "$st" = 74 ] || fail "done.list cannot be replaced: exit $st: $(cat err)"
	contains "cannot record saturday.tar.gz as done" err || fail "done.list failure message: $(cat err)"
	cmp done.before out/done.list || fail "done.list changed by a failed run"
	[ -z "$(ls out/done.list.tmp.* out/.work.* 2>/dev/null)" ] || fail "left behind: $(ls -a out)"
	contains "FAILED (74)" out/nightly.log || fail "not logged"
	"$N" -d run -i inbox -o out
	[ "$(grep -c saturday out/done.list)" = 1 ] || fail "not done after the disk had room"
else
	echo "strace cannot inject faults here: done.list's replacement failing is not tested" >&2
fi
# a full disk under the whole OUTDIR (a small tmpfs, when mount works here): the pipeline fails,
# and its message is not lost with the disk
mkdir small
if mount -t tmpfs -o size=64k tmpfs small 2>/dev/null; then
	trap 'umount small 2>/dev/null || true' EXIT
	osteo-synth -q -n 40 --seed 17 --tar -o inbox/sunday.tar.gz
	touch -d '+7 minutes' inbox/sunday.tar.gz
	st=0
	"$N" -d run -i inbox -o small 2>err || st=$?
	[ "$st" != 0 ] || fail "a full disk succeeded"
	contains "sunday.tar.gz: the pipeline failed: ..*[a-z]" err || fail "empty failure message: $(cat err)"
	[ ! -s small/done.list ] || fail "marked done on a full disk"
	umount small
	trap - EXIT
else
	echo "cannot mount a tmpfs here: nightly on a full disk is not tested" >&2
fi
# signals: SIGINT is 130, SIGTERM 143, nothing marked done, no working directory left; a SIGKILL's
# working directory goes with the next run; outputs follow the umask
osteo-synth -q -n 200 --seed 18 --size 64x64 --tar -o inbox/monday2.tar.gz
touch -d '+8 minutes' inbox/monday2.tar.gz
for s in INT:130 TERM:143; do
	setsid env --default-signal=INT,TERM,HUP "$N" -d run -i inbox -o out 2>/dev/null & p=$!
	for _ in $(seq 50); do ls out/.work.* >/dev/null 2>&1 && break; sleep 0.1; done
	sleep 0.3
	kill -"${s%:*}" -- -$p
	st=0; wait $p || st=$?
	[ "$st" = "${s#*:}" ] || fail "SIG${s%:*}: exit $st"
	[ -z "$(ls -d out/.work.* out/monday2-* 2>/dev/null)" ] || fail "SIG${s%:*}: left $(ls -a out)"
	! grep -q monday2 out/done.list || fail "SIG${s%:*}: marked done"
done
mkdir out/.work.stale && echo 'P1,secret' >out/.work.stale/predictions.csv
(umask 027 && "$N" -d run -i inbox -o out)
[ ! -e out/.work.stale ] || fail "a killed run's working directory stays"
contains "removed out/.work.stale" out/nightly.log || fail "the removal is not logged"
[ "$(stat -c %a out/monday2-*)" = 750 ] || fail "umask 027: $(stat -c %a out/monday2-*)"
