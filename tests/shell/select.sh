# osteo-cat --ids, --sort, --reverse, --head against jq's selection and stable sort of the
# same records
. "$TOP/tests/lib.sh"
osteo-synth -q -n 12 --seed 4 --images 2 --size 16x16 --records | osteo-normalize --size 8x8 >syn.rec
osteo-train -q --arch conv:2,pool,dense:4 --epochs 1 -o m.model syn.rec
osteo-infer -q -m m.model syn.rec >pred.rec
ids() { osteo-dump "$@" | jq -r .id; }
# the five largest risks, largest first; ties (none expected, but stable) in stream order
[ "$(osteo-cat --sort risk --reverse --head 5 pred.rec | ids)" = \
	"$(osteo-dump pred.rec | jq -s -r 'to_entries | sort_by(-.value.risk, .key) | .[:5][] | .value.id')" ] ||
	fail "--sort risk --reverse --head 5"
[ "$(osteo-cat --sort patient pred.rec | ids)" = \
	"$(osteo-dump pred.rec | jq -s -r 'to_entries | sort_by(.value.patient, .key) | .[].value.id')" ] || fail "--sort patient"
[ "$(osteo-cat --sort meta.infer.class pred.rec | ids)" = \
	"$(osteo-dump pred.rec | jq -s -r 'to_entries | sort_by(.value.meta["infer.class"], .key) | .[].value.id')" ] ||
	fail "--sort meta.infer.class"
# a key no record has: every record, in the stream's order (missing keys tie, ties keep order)
[ "$(osteo-cat --sort meta.nothing --reverse pred.rec | ids)" = "$(ids pred.rec)" ] || fail "--sort on a missing key"
# --ids: the listed records in the stream's order; an id not in the stream is said
ids pred.rec | sed -n '7p;2p' >want.ids
echo "not-there" >>want.ids
[ "$(osteo-cat --ids want.ids pred.rec 2>err | ids)" = "$(ids pred.rec | sed -n '2p;7p')" ] || fail "--ids"
contains "1 of the 3 ids in want.ids were not in the stream" err || fail "--ids: $(cat err)"
# --head alone passes the first N through
[ "$(osteo-cat --head 3 pred.rec | ids)" = "$(ids pred.rec | head -n 3)" ] || fail "--head"
expect_status 64 osteo-cat --sort weight pred.rec
expect_status 64 osteo-cat --reverse pred.rec
expect_status 66 osteo-cat --ids nowhere.txt pred.rec
