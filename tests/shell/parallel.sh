# scale-out: osteo-cat shards cover the stream exactly once; pipelines/shard.sh with GNU parallel
# (-j2) gives the records one process gives, for normalize, augment and infer
. "$TOP/tests/lib.sh"
command -v parallel >/dev/null || { echo "GNU parallel is not installed (apt-get install parallel)"; exit 77; }
make -s -f "$TOP/pipelines/prep.mk" OUT=p N=30 SEED=4 SIZE=32x32 COPIES=0 >/dev/null 2>&1
osteo-train -q --arch conv:4,pool,conv:8,pool,dense:8 --epochs 2 --batch 8 -o m.model p/train.fused.rec
# shards: disjoint, complete, whatever N; --by patient keeps a patient in one shard
all=$(osteo-dump p/test.fused.rec | jq -r .id | sort)
for n in 1 2 3 7; do
	for i in $(seq 0 $((n - 1))); do osteo-cat --shard $i/$n p/test.fused.rec; done | osteo-dump | jq -r .id | sort >ids
	[ "$(cat ids)" = "$all" ] || fail "shards of $n do not cover the stream once"
done
for i in 0 1 2; do
	osteo-cat --by patient --shard $i/3 p/test.fused.rec | osteo-dump | jq -r .patient | sort -u
done | sort | uniq -d >dup
[ ! -s dup ] || fail "--by patient split patients: $(cat dup)"
expect_status 64 osteo-cat --shard 3/3 p/test.fused.rec 2>/dev/null
expect_status 64 osteo-cat --shard x p/test.fused.rec 2>/dev/null
# sharded runs of each filter against one process, records sorted by id
sorted() { osteo-dump --data "$1" | jq -c . | sort; }
check() {
	name=$1; shift
	"$@" <p/test.rec >one.rec 2>/dev/null
	"$TOP/pipelines/shard.sh" -j 2 p/test.rec two.rec "$@"
	[ "$(sorted one.rec)" = "$(sorted two.rec)" ] || fail "$name: sharded records differ"
	[ "$(osteo-dump --count two.rec | tail -n 1)" = "$(osteo-dump --count one.rec | tail -n 1)" ] || fail "$name: count"
}
check normalize osteo-normalize --stats p/stats.rec
check augment osteo-augment --copies 2 --rotate 10 --noise 0.05 --seed 3
osteo-normalize --stats p/stats.rec p/test.rec | osteo-fuse --clinical p/cohort/clinical.csv --encoding p/encoding.rec >t.rec
# (on the CPU: a GPU's products may round differently for another batch)
"$TOP/pipelines/shard.sh" -j 2 t.rec two.rec osteo-infer --device cpu -m m.model
osteo-infer --device cpu -m m.model t.rec >one.rec
[ "$(sorted one.rec)" = "$(sorted two.rec)" ] || fail "infer: sharded predictions differ"
# a failing shard fails the whole run and leaves no output
if "$TOP/pipelines/shard.sh" -j 2 t.rec bad.rec osteo-infer -m missing.model 2>err; then fail "a failed shard succeeded"; fi
contains "missing.model: cannot open" err || fail "the shard's message: $(cat err)"
[ ! -e bad.rec ] && [ -z "$(ls bad.rec.* 2>/dev/null)" ] || fail "output after a failed shard"
# osteo-cat checks what it passes: a truncated stream is named, 65, and the records before it pass
head -c 5000 p/test.fused.rec >trunc.rec
expect_status 65 osteo-cat trunc.rec >part.rec 2>err
contains "trunc.rec: record" err || fail "osteo-cat on a truncated stream: $(cat err)"
expect_status 66 osteo-cat nowhere.rec >/dev/null 2>&1
