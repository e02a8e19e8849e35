#!/bin/bash
# bench/auto.sh: osteo-train --auto against the three baselines and make
# demo's recipe, on make demo's cohorts and on real images from Debian's
# packages (bench/realsets.py), each prepared by pipelines/prep.mk as a
# user's folder would be.  One row per set: test accuracy and macro F1 of
# the SVM, random forest and boosted trees (osteo-baseline), the demo
# recipe and --auto (and --auto's ensemble with osteo-infer --tta),
# --auto's seconds and chosen candidate, and the accuracy on the test
# patients left when the 10% most uncertain go to a reader, with its gain
# and the gain's interval (osteo-metrics --per-patient --coverage 0.9).
#
#   bench/auto.sh [SET...]      SET: demo:SEED, textures, digits or faces
#                               (default: demo:1 .. demo:10 textures digits faces)
#
# Settable: BUDGET (--auto's minutes, default 10), WORK (kept between runs:
# the prepared sets are reused), ONLY (baselines,demo,auto: what to run).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$top/bin:$PATH"
. "$top/pipelines/defaults.sh"
budget=${BUDGET:-10}
only=${ONLY:-baselines,demo,auto}
work=${WORK:-$(mktemp -d)}
[ -n "${WORK:-}" ] || trap 'rm -rf "$work"' EXIT
mkdir -p "$work"
sets=${*:-$(echo demo:{1..10}) textures digits faces}

score() { osteo-metrics --json "$1" | jq -r '[.accuracy, .macro.f1] | map(. * 10000 | round / 10000) | @tsv'; }
secs() { echo "$(date +%s.%N) - $1" | bc -l | xargs printf %.0f; }

echo "osteo --auto, $(date -u +%Y-%m-%d), $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), budget $budget min"
printf 'set\tSVM acc\tSVM F1\tRF acc\tRF F1\tGBT acc\tGBT F1\tdemo acc\tdemo F1\tauto acc\tauto F1\tauto s\tchosen\ttta acc\ttta F1\tpatients 90%% acc\tgain\tgain lo\tgain hi\n'
for set in $sets; do
	d=$work/${set/:/-}
	case $set in
	demo:*) seed=${set#demo:}
		make -s -f "$top/pipelines/prep.mk" BIN="$top/bin/" OUT="$d" N="$DEMO_N" SEED="$seed" SIZE="$DEMO_SIZE" \
			COPIES="$DEMO_COPIES" COLUMNS="$DEMO_COLUMNS" >/dev/null 2>&1 ;;
	textures|digits|faces) seed=1
		[ -d "$d/images" ] || classes=$(/usr/bin/python3 "$top/bench/realsets.py" "$set" "$d")
		classes=$(ls "$d/images" | paste -sd,)
		size=$(case $set in textures) echo 16x16 ;; digits) echo 8x8 ;; faces) echo 25x25 ;; esac)
		make -s -f "$top/pipelines/prep.mk" BIN="$top/bin/" OUT="$d" IMAGES="$d/images" CLASSES="$classes" \
			PATIENT='([A-Za-z]+[0-9]+)_' SIZE="$size" >/dev/null 2>&1 ;;
	*) echo "bench/auto.sh: no set '$set'" >&2; exit 64 ;;
	esac
	row=$set
	for m in svm rf gbt; do
		case ",$only," in *,baselines,*) ;; *) row="$row	-	-"; continue ;; esac
		osteo-baseline -q --seed "$seed" $([ $m = svm ] || echo --model $m) -o "$d/$m.model" "$d/train.fused.rec"
		osteo-baseline -m "$d/$m.model" "$d/test.fused.rec" >"$d/$m.pred.rec"
		row="$row	$(score "$d/$m.pred.rec")"
	done
	late=
	[ "$(osteo-dump "$d/val.fused.rec" | jq -s 'map(select(.tensors.clinical)) | length')" = 0 ] || late="--fusion late"
	case ",$only," in
	*,demo,*) osteo-train -q --arch "$DEMO_ARCH" --epochs "$DEMO_EPOCHS" --seed "$seed" $DEMO_TRAIN $late \
			--val "$d/val.fused.rec" -o "$d/demo.model" "$d/train.fused.rec" 2>/dev/null \
		  && osteo-infer -q -m "$d/demo.model" "$d/test.fused.rec" >"$d/demo.pred.rec" \
		  && row="$row	$(score "$d/demo.pred.rec")" || row="$row	-	-" ;;
	*) row="$row	-	-" ;;
	esac
	case ",$only," in
	*,auto,*) t0=$(date +%s.%N)
		osteo-train --auto --budget "$budget" --seed "$seed" -o "$d/auto.model" "$d/train.fused.rec" 2>"$d/auto.log"
		t=$(secs "$t0")
		osteo-infer -q -m "$d/auto.model" "$d/test.fused.rec" >"$d/auto.pred.rec"
		osteo-infer -q --tta -m "$d/auto.model" "$d/test.fused.rec" >"$d/tta.pred.rec"
		chosen=$(osteo-dump "$d/auto.model" | jq -r '.meta["auto.chosen"]' | cut -d: -f1)
		refer=$(osteo-metrics --per-patient --coverage 0.9 --json "$d/auto.pred.rec" |
			jq -r '.coverage[0] | [.accuracy, .gain, .gain_ci[]] | map(. * 10000 | round / 10000) | @tsv')
		row="$row	$(score "$d/auto.pred.rec")	$t	$chosen	$(score "$d/tta.pred.rec")	$refer" ;;
	*) row="$row	-	-	-	-	-	-	-	-	-	-	-" ;;
	esac
	printf '%s\n' "$row"
done | tee "$work/rows.tsv"
