# make demo's defaults and the ceiling, shared by pipelines/demo.sh and
# bench/models.sh (which measured the defaults over seeds 1-10: README,
# "How good is the CNN"); each default can be overridden from the
# environment.
DEMO_N=${DEMO_N:-2000}
DEMO_SEED=${DEMO_SEED:-1}
DEMO_SIZE=${DEMO_SIZE:-64x64}
DEMO_EPOCHS=${DEMO_EPOCHS:-10}
DEMO_COPIES=${DEMO_COPIES:-1}
DEMO_COLUMNS=${DEMO_COLUMNS:-age,sex,bmd_tscore,fracture_history,modality,region}
DEMO_ARCH=${DEMO_ARCH:-conv:16,pool,conv:32,pool,conv:64,pool,conv:64,pool,dense:64,dropout:0.3}
DEMO_TRAIN=${DEMO_TRAIN:---weight-decay 0.02 --cosine}
# how the clinical values join the CNN (osteo-train --fusion)
DEMO_FUSION=${DEMO_FUSION:-late}

# ceiling TRUTH.csv < "patient label" lines, one per test image: the
# accuracy and macro F1 of each patient's Bayes-optimal class (osteo-synth's
# truth.csv), tab-separated
ceiling() {
	awk -F, -v classes=healthy,osteopenia,osteoporosis '
		BEGIN { split(classes, c, ","); for (k in c) id[c[k]] = k - 1 }
		FNR == NR { if (FNR > 1) bayes[$1] = id[$3]; next }
		{ split($0, f, " "); y = f[2]; p = bayes[f[1]]; n++; ok += p == y; tp[y] += p == y; np[p]++; ny[y]++ }
		END {
			for (k = 0; k < 3; k++) { pr = np[k] ? tp[k] / np[k] : 0; rc = ny[k] ? tp[k] / ny[k] : 0
				f1 += pr + rc > 0 ? 2 * pr * rc / (pr + rc) : 0 }
			printf "%.4f\t%.4f\n", ok / n, f1 / 3 }' "$1" -
}
