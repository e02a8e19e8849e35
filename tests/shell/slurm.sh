# pipelines/slurm on a real Slurm: a one-node cluster brought up on
# 127.0.0.1 (munged, slurmctld and slurmd as root, as CI runs, on a
# generated slurm.conf and free ports), then decoding and inference as job
# arrays and an srun MPI training, each held to what one process gives,
# and a failing array that leaves no output; the cluster taken down after
. "$TOP/tests/lib.sh"
S=$TOP/pipelines/slurm/submit

for c in munged slurmctld slurmd sbatch srun sinfo scancel; do
	command -v $c >/dev/null || { echo "no $c (Debian's munge, slurmctld, slurmd, slurm-client)"; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "a one-node Slurm needs root (CI runs as root)"; exit 77; }

# the cluster: everything under this directory, nothing of the system's
d=$PWD/slurm
mkdir -p "$d/state" "$d/spool" "$d/log"
read -r p1 p2 < <(/usr/bin/python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
head -c 1024 /dev/urandom >"$d/munge.key"
chmod 600 "$d/munge.key"
host=$(hostname -s)
cat >"$d/slurm.conf" <<EOF
ClusterName=osteotest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$p1
SlurmdPort=$p2
AuthType=auth/munge
AuthInfo=socket=$d/munge.sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
MpiDefault=none
ReturnToService=2
NodeName=osteo0 NodeAddr=127.0.0.1 NodeHostname=$host CPUs=2 State=UNKNOWN
PartitionName=osteo Nodes=osteo0 Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$d/slurm.conf
down() {
	scancel --quiet --user=root 2>/dev/null || true
	for f in slurmd slurmctld; do
		[ -s "$d/$f.pid" ] && kill "$(cat "$d/$f.pid")" 2>/dev/null
	done
	munged -s --socket="$d/munge.sock" >/dev/null 2>&1 || true
	sleep 0.5
}
trap down EXIT
munged -f --socket="$d/munge.sock" --key-file="$d/munge.key" --pid-file="$d/munged.pid" \
	--log-file="$d/log/munged.log" --seed-file="$d/munged.seed" || fail "munged did not start"
slurmctld -f "$d/slurm.conf" || fail "slurmctld: $(tail -n 5 "$d/log/slurmctld.log")"
slurmd -f "$d/slurm.conf" -N osteo0 || fail "slurmd: $(tail -n 5 "$d/log/slurmd.log")"
for _ in $(seq 300); do
	[ "$(sinfo -h -o %T 2>/dev/null)" = idle ] && break
	sleep 0.1
done
[ "$(sinfo -h -o %T)" = idle ] ||
	fail "the node is not up: $(sinfo 2>&1; tail -n 5 "$d/log/slurmctld.log" "$d/log/slurmd.log")"

# decoding as an array over a list of files: the records one process decodes
osteo-synth -q -n 60 --images 2 --size 32x32 --seed 5 -o img
find "$PWD/img" -name '*.png' | sort >files.txt
osteo-decode -q --patient-dir --files-from files.txt >one.rec
"$S" shard -n 3 --files --wait files.txt dec.rec osteo-decode -q --patient-dir >ids.txt || fail "decode array: $(cat dec.rec.parts.*/*.out 2>/dev/null)"
[ "$(wc -l <ids.txt)" = 2 ] || fail "submit printed $(cat ids.txt)"
cmp <(osteo-cat --sort id one.rec) <(osteo-cat --sort id dec.rec) || fail "the decode array's records"
ls -d dec.rec.parts.* 2>/dev/null && fail "the parts were left behind"

# inference as an array of patient shards: one process's predictions
osteo-normalize --size 32x32 --method zscore one.rec >norm.rec
osteo-split -q --train tr.rec --val va.rec --test te.rec norm.rec
export OMP_NUM_THREADS=1
osteo-train -q --epochs 1 --seed 2 -o m.model tr.rec
osteo-infer -q -m m.model te.rec >one.pred
"$S" shard -n 3 --wait te.rec pred.rec osteo-infer -q -m "$PWD/m.model" >/dev/null || fail "inference array"
cmp <(osteo-cat --sort id one.pred) <(osteo-cat --sort id pred.rec) || fail "the inference array's predictions"
# (every patient in one shard)
[ "$(osteo-dump pred.rec | jq -r .patient | sort -u | wc -l)" = "$(osteo-dump te.rec | jq -r .patient | sort -u | wc -l)" ]

# training by srun, 2 ranks of 1 thread: the one process's model
T="-q --epochs 2 --seed 3 --val $PWD/va.rec"
"$S" train -n 2 -c 1 --wait $T -o "$PWD/slurm.model" "$PWD/tr.rec" >/dev/null || fail "srun training: $(cat slurm-*.out)"
osteo-train $T --micro-batch 16 -o one.model tr.rec
cmp one.model slurm.model || fail "srun's model is not the one process's"

# a rank killed under srun: --kill-on-bad-exit ends the other, srun names
# the task, the job fails, no model
"$S" train -n 2 -c 1 --wait -q --epochs 100000 --patience 0 -o "$PWD/dead.model" "$PWD/tr.rec" >dead.job 2>&1 &
job=$!
kill_rank dead.model.ckpt SLURM_PROCID=1
st=0
wait $job || st=$?
[ $st != 0 ] || fail "a dead rank under srun: the job succeeded"
contains 'task 1' "slurm-$(head -n 1 dead.job).out" || fail "srun did not name the dead task: $(cat slurm-*.out)"
[ ! -e dead.model ] || fail "a model after a rank died under srun"

# a shard that fails: no output, the parts kept for the logs, a failed wait
st=0
"$S" shard -n 2 --wait te.rec bad.rec osteo-infer -q -m "$PWD/missing.model" >/dev/null 2>&1 || st=$?
[ $st != 0 ] || fail "a failed shard: submit --wait exited 0"
[ ! -e bad.rec ] || fail "output from a failed array"
contains 'missing.model' bad.rec.parts.*/slurm-*.out || fail "the failed task's log"
# the merge alone: a missing part is 65, a full disk leaves no output
# and keeps the parts (a 64 KiB tmpfs, root's)
M=$TOP/pipelines/slurm/merge.sbatch
mkdir p1 && cp norm.rec p1/part.0.rec
expect_status 65 "$M" p1 2 m1.rec 2>err
contains 'part.1.rec: missing' err || fail "merge of a missing part: $(cat err)"
[ ! -e m1.rec ] && [ -e p1/part.0.rec ] || fail "a failed merge wrote or removed"
cp norm.rec p1/part.1.rec
mkdir small
mount -t tmpfs -o size=64k tmpfs small
st=0
"$M" p1 2 small/m.rec 2>err || st=$?
left=$(ls -A small)
umount small
[ $st != 0 ] || fail "a merge onto a full disk: exit 0"
contains -i 'no space left' err || fail "a merge onto a full disk: $(cat err)"
[ -z "$left" ] && [ -e p1/part.1.rec ] || fail "a merge onto a full disk left '$left' or lost its parts"
expect_status 66 "$S" shard -n 2 nothere.rec x.rec cat
expect_status 64 "$S" shard -n 0 te.rec x.rec cat
