#!/bin/bash
# A cron job that applies a trained model to each night's export once:
# what the line in ./crontab runs, tried here on two nights.
#   examples/nightly-cron/run.sh [WORKDIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PATH="$here/../../bin:$PATH"
nightly=$here/../../pipelines/nightly
[ -x "$nightly" ] || nightly=$(dirname "$(command -v osteo-decode)")/../share/osteo/pipelines/nightly
work=${1:-$(mktemp -d /tmp/osteo-nightly.XXXXXX)}
mkdir -p "$work" && cd "$work"

# once: a model and what applying it needs (pipelines/train.mk's run/:
# the model, the statistics, the encoding, the settings); small, for speed
make -s -f "$here/../../pipelines/train.mk" OUT=run N=60 SEED=5 SIZE=32x32 COPIES=0 EPOCHS=3 \
	ARCH=conv:4,pool,conv:8,pool,dense:8 BOOTSTRAP=100 >/dev/null

# the hospital drops an export in the inbox; cron runs nightly
mkdir -p inbox out
osteo-synth -q -n 8 --seed 21 --tar -o inbox/monday.tar.gz
"$nightly" -d run -i inbox -o out
# the next night: nothing new, so nothing is done again
"$nightly" -d run -i inbox -o out
# a new export: done once more
osteo-synth -q -n 8 --seed 22 --tar -o inbox/tuesday.tar.gz
"$nightly" -d run -i inbox -o out

ls out
cat out/nightly.log
head -n 3 out/tuesday-*/predictions.csv
echo "outputs in $work"
