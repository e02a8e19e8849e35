# faults: a full disk on every program's output, a closed pipe on every
# filter, a kill while a model is being replaced, SIGINT during training
. "$TOP/tests/lib.sh"
small_cohort 12
osteo-baseline -q -o svm.rec fused.rec
osteo-synth -q -n 4 -o imgs

# /dev/full: ENOSPC on write or on the final flush is an I/O error, 74,
# with a message; never a signal
full() {
	local st=0
	"$@" >/dev/full 2>err || st=$?
	[ "$st" = 74 ] || fail "'$*' > /dev/full: status $st: $(cat err)"
	contains -i 'no space left' err || fail "'$*' > /dev/full: $(cat err)"
}
full osteo-decode -q imgs
full osteo-dump syn.rec
full osteo-dump --csv pred.rec
full osteo-cat syn.rec
full osteo-normalize --size 4x4 syn.rec
full osteo-augment -q --copies 1 norm.rec
full osteo-fuse -q --clinical clin.csv --encoding enc.rec --missing impute norm.rec
full osteo-infer -q -m model.rec fused.rec
full osteo-baseline -q -m svm.rec fused.rec
full osteo-metrics pred.rec
full osteo-metrics --json pred.rec
full osteo-synth -q -n 3 --records
full osteo-dump --help
full osteo-cat --version

# a closed pipe: quiet, status 141 (as SIGPIPE), nothing on stderr
big() { for i in 1 2 3 4 5 6 7 8; do cat "$1"; done; }
big syn.rec >big.rec
big norm.rec >bignorm.rec
big fused.rec >bigfused.rec
closed() {
	local st
	set +o pipefail
	"$@" 2>err | head -c 1 >/dev/null
	st=${PIPESTATUS[0]}
	set -o pipefail
	[ "$st" = 141 ] || [ "$st" = 0 ] || fail "'$*' | head: status $st"
	[ ! -s err ] || fail "'$*' | head: stderr: $(cat err)"
}
closed osteo-cat big.rec
closed osteo-dump big.rec
closed osteo-normalize --size 4x4 big.rec
closed osteo-augment -q --copies 2 bignorm.rec
closed osteo-fuse -q --clinical clin.csv --encoding enc.rec --missing impute bignorm.rec
closed osteo-infer -q -m model.rec bigfused.rec
closed osteo-baseline -q -m svm.rec bigfused.rec

# output files that cannot be created: 73, nothing left behind
mkdir ro && chmod 555 ro
if [ "$(id -u)" != 0 ]; then
	expect_status 73 osteo-train -q -o ro/m.rec --arch dense:4 --epochs 1 fused.rec 2>err
	[ -z "$(ls ro)" ] || fail "files left in ro/"
fi
expect_status 73 osteo-train -q -o no/such/dir/m.rec --arch dense:4 --epochs 1 fused.rec 2>err
contains -F 'no/such/dir/m.rec' err || fail "cannot create: $(cat err)"

# a model being replaced and the writer killed at any moment: the old file
# or the new one, never half of one.  Kill a long run's periodic
# checkpoint writes at several points, and the final model write itself.
cp model.rec old.rec
for delay in 0.05 0.2 0.5; do
	cp old.rec m.rec
	cp old.rec m.ckpt
	osteo-train -q -o m.rec --checkpoint m.ckpt --arch dense:64,dense:64 --epochs 100000 --patience 0 \
		fused.rec 2>/dev/null & pid=$!
	sleep $delay
	kill -KILL $pid
	wait $pid || true
	cmp -s m.rec old.rec || fail "killed after ${delay}s: the model file changed"
	osteo-dump m.ckpt >/dev/null || fail "killed after ${delay}s: the checkpoint is broken"
done
rm -f m.rec.tmp.* m.ckpt.tmp.*
# the new model, once written, is whole
osteo-train -q -o m.rec --arch dense:4 --epochs 2 fused.rec
osteo-dump m.rec | jq -e '.meta.kind == "osteonet-model"' >/dev/null || fail "new model"

# SIGINT during training: 130, a checkpoint to resume from, no model (env gives back the SIGINT a
# script's background job ignores, which osteo-train, as every program, leaves ignored)
( env --default-signal=INT,TERM,HUP osteo-train -o i.model --checkpoint i.ckpt --arch dense:64,dense:64 --epochs 100000 --patience 0 \
	fused.rec 2>err & pid=$!
  # its first message comes after its handlers are in place: a loaded machine can take more
  # than a second to get there, and a signal before it ends the program unheard
  for _ in $(seq 100); do [ -s err ] && break; sleep 0.1; done
  sleep 0.5; kill -INT $pid; st=0; wait $pid || st=$?; [ $st = 130 ] ) || fail "SIGINT: exit status"
contains 'stopped by signal 2' err || fail "SIGINT message: $(cat err)"
[ ! -e i.model ] || fail "a model after SIGINT"
ls i.model.tmp.* i.ckpt.tmp.* 2>/dev/null && fail "temporary files after SIGINT"
e=$(osteo-dump i.ckpt | jq -r '.meta["train.epoch"]')
osteo-train -q --resume i.ckpt -o i.model --arch dense:64,dense:64 --epochs $((e + 1)) --patience 0 fused.rec
osteo-dump i.model >/dev/null
