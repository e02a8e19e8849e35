# osteo-train --micro-batch and --mpi: micro-batches summed exactly give
# the same model bytes in one process and at 1, 2 and 4 ranks; the sums
# are the whole batch's (held to the plain path on a network where the two
# must agree); resume at another rank count; a dead rank stops the job
# and leaves no model; refusals
. "$TOP/tests/lib.sh"

osteo-synth -q -n 120 --images 2 --size 32x32 --seed 4 --records --clinical clin.csv >syn.rec
osteo-normalize --size 32x32 --method zscore syn.rec >norm.rec
osteo-fuse -q --clinical clin.csv --columns age,bmd_tscore --missing impute norm.rec >fused.rec
osteo-split -q --train tr.rec --val va.rec --test te.rec fused.rec
export OMP_NUM_THREADS=1
# (the whole batch and its one micro-batch draw the same dropout)
T="-q --epochs 2 --seed 3 --val va.rec --class-weights auto --calibrate"
M="--mpi --micro-batch 8"

# one process: a batch that is one micro-batch trains as a whole batch does
osteo-train $T -o plain.model tr.rec
osteo-train $T --micro-batch 32 -o one.model tr.rec
cmp plain.model one.model || fail "--micro-batch 32 of --batch 32 is not the plain training"
# micro-batches of 7 in batches of 30 (a ragged last one), class weights:
# on a network without batch norm or dropout the micro-batches' weighted
# sum is the batch's gradient, so the model is the plain one's within rounding
N="-q --arch pool,dense:24,dense:12 --epochs 3 --batch 30 --seed 2 --val va.rec --class-weights auto"
osteo-train $N -o a.model tr.rec
osteo-train $N --micro-batch 7 -o b.model tr.rec
osteo-infer -q --no-check -m a.model te.rec | osteo-dump --csv >a.csv
osteo-infer -q --no-check -m b.model te.rec | osteo-dump --csv >b.csv
paste -d, a.csv b.csv | awk -F, 'NR > 1 { for (i = 8; i <= 10; i++) { d = $i - $(i + 10); if (d < 0) d = -d; if (d > m) m = d } }
	END { if (m > 1e-5) { print "largest difference " m; exit 1 } }' || fail "micro-batches against the whole batch"

osteo-train $T --micro-batch 8 -o single.model tr.rec

if ! command -v mpirun >/dev/null; then
	echo "no mpirun (Debian's openmpi-bin): the MPI runs are not tested"
	exit 77
fi
# mpirun as root, as CI runs, must be told it may
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
run() { mpirun --oversubscribe -x OMP_NUM_THREADS -np "$@"; }
st=0
run 1 osteo-train $T $M -o mpi1.model tr.rec 2>built.err || st=$?
if [ $st = 69 ] && contains 'built without MPI' built.err; then
	echo "osteo-train was built without MPI (Debian's libopenmpi-dev): the MPI runs are not tested"
	exit 77
fi
[ $st = 0 ] || { cat built.err; fail "mpirun -np 1: exit $st"; }
for np in 1 2 4; do
	[ $np = 1 ] || run $np osteo-train $T $M -o mpi$np.model tr.rec
	cmp single.model mpi$np.model || fail "$np ranks: not the one process's model"
done
[ ! -e mpi2.model.ckpt ] || osteo-dump mpi2.model.ckpt >/dev/null || fail "the checkpoint of 2 ranks"

# resumed at 4 ranks from a 2-rank checkpoint: the uninterrupted run's model
R="-q --epochs 3 --seed 3 --val va.rec $M --patience 0"
run 2 osteo-train $R --epochs 2 -o r.model --checkpoint r.ckpt tr.rec
run 4 osteo-train $R --resume r.ckpt -o r.model --checkpoint r.ckpt tr.rec
run 1 osteo-train $R -o whole.model tr.rec
cmp whole.model r.model || fail "resumed at another rank count"

# a rank killed: mpirun stops the others and names it; no model
( run 2 osteo-train -q --mpi --epochs 100000 --patience 0 -o dead.model tr.rec 2>dead.err & wait $! ) & job=$!
kill_rank dead.model.ckpt OMPI_COMM_WORLD_RANK=1
st=0
wait $job || st=$?
[ $st != 0 ] || fail "a dead rank: exit 0"
contains 'rank 1' dead.err || fail "the dead rank is not named: $(cat dead.err)"
[ ! -e dead.model ] || fail "a model after a rank died"
ls dead.model.tmp.* 2>/dev/null && fail "a partial model after a rank died"

# SIGTERM to mpirun: every rank stops after the same step; the checkpoint
# resumes
mpirun --oversubscribe -x OMP_NUM_THREADS -np 2 osteo-train -q --mpi --epochs 100000 --patience 0 -o term.model \
	tr.rec 2>term.err & job=$!
for _ in $(seq 200); do [ -s term.model.ckpt ] && break; sleep 0.1; done
kill -TERM $job
st=0
wait $job || st=$?
[ $st != 0 ] || fail "SIGTERM: exit 0"
contains 'stopped by signal 15' term.err || fail "SIGTERM: $(cat term.err)"
[ ! -e term.model ] || fail "a model after SIGTERM"
e=$(osteo-dump term.model.ckpt | jq -r '.meta["train.epoch"]')
run 2 osteo-train -q --mpi --patience 0 --epochs $((e + 1)) --resume term.model.ckpt -o term.model tr.rec
osteo-dump term.model >/dev/null

# refusals: standard input; copies launched without --mpi; more ranks
# than micro-batches; --auto; a micro-batch larger than the batch
expect_status 64 run 1 osteo-train -q --mpi -o x.model - <tr.rec 2>err
contains 'standard input reaches one rank' err || fail "stdin: $(cat err)"
expect_status 64 run 2 osteo-train -q -o x.model tr.rec 2>err
contains 'without --mpi' err || fail "without --mpi: $(cat err)"
expect_status 64 run 4 osteo-train -q --mpi -o x.model tr.rec 2>err
contains '4 ranks share batches of 2 micro-batches' err || fail "ranks: $(cat err)"
expect_status 64 osteo-train -q --auto --micro-batch 8 -o x.model tr.rec 2>err
expect_status 64 osteo-train -q --micro-batch 64 -o x.model tr.rec 2>err
contains 'larger than --batch' err || fail "micro-batch: $(cat err)"
# a bad record stops every rank with the reader's status and message
head -c 3000 tr.rec >cut.rec
expect_status 65 run 2 osteo-train -q --mpi -o x.model cut.rec 2>err
contains 'cut.rec' err || fail "cut file: $(cat err)"
[ ! -e x.model ] || fail "a model from refused runs"
