# pipelines/train.mk: images to model, predictions and metrics; touching one input redoes only
# the stages after it; changing a setting retrains; -j2 gives the same files
. "$TOP/tests/lib.sh"
V="N=40 SEED=6 SIZE=32x32 COPIES=0 EPOCHS=2 ARCH=conv:4,pool,conv:8,pool,dense:8 BOOTSTRAP=50"
make -s -f "$TOP/pipelines/train.mk" OUT=r $V >/dev/null 2>&1
for f in decoded resized train val test train.norm stats test.norm train.aug train.fused encoding test.fused; do
	[ -s r/$f.rec ] || fail "stage $f.rec missing"
done
for f in osteonet.model predictions.rec predictions.csv metrics.txt metrics.json roc.tsv svm.model svm.metrics.txt train.log.tsv; do
	[ -s r/$f ] || fail "$f missing"
done
jq -e '.n > 0 and .ci.bootstrap == 50' r/metrics.json >/dev/null || fail "metrics.json"
stamp() { for f in r/*.rec r/osteonet.model r/metrics.json r/svm.model; do echo "$f $(stat -c %Y.%y "$f")"; done; }
# nothing to do the second time
stamp >before
make -s -f "$TOP/pipelines/train.mk" OUT=r $V >/dev/null 2>&1
stamp | cmp - before || fail "a second make remade: $(stamp | diff before - | grep '^>')"
# the clinical table changed: fusion and everything after it rerun, nothing before
sleep 1.1
stamp >before
touch r/cohort/clinical.csv
make -s -f "$TOP/pipelines/train.mk" OUT=r $V >/dev/null 2>&1
stamp >after
changed=$({ diff before after || true; } | awk '/^>/ { print $2 }' | sort | tr '\n' ' ')
want="r/encoding.rec r/metrics.json r/osteonet.model r/predictions.rec r/svm.model r/svm.predictions.rec r/test.fused.rec r/train.fused.rec r/val.fused.rec "
[ "$changed" = "$want" ] || fail "after touching clinical.csv, remade: $changed; want: $want"
# a setting: EPOCHS retrains the model and what follows, no data stage
sleep 1.1
stamp >before
make -s -f "$TOP/pipelines/train.mk" OUT=r $V EPOCHS=3 >/dev/null 2>&1
stamp >after
changed=$({ diff before after || true; } | awk '/^>/ { print $2 }' | sort | tr '\n' ' ')
[ "$changed" = "r/metrics.json r/osteonet.model r/predictions.rec " ] || fail "EPOCHS=3 remade: $changed"
[ "$(wc -l <r/train.log.tsv)" = 4 ] || fail "EPOCHS=3: $(wc -l <r/train.log.tsv) log lines"
# in parallel, the same files (paths are inside the records: build under the same name)
mkdir j2
(cd j2 && make -s -j2 -f "$TOP/pipelines/train.mk" OUT=r $V EPOCHS=3 >/dev/null 2>&1)
for f in train.fused.rec test.fused.rec osteonet.model predictions.rec metrics.json svm.model; do
	cmp r/$f j2/r/$f || fail "-j2: $f differs"
done
