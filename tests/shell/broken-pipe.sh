# a closed pipe ends the program quietly, and fast
. "$TOP/tests/lib.sh"
osteo-synth -q -n 40 --seed 2 -o c
set +o pipefail
timeout 20 osteo-decode -q c 2>err | head -c 1 >/dev/null
[ ! -s err ] || fail "stderr not empty: $(cat err)"
timeout 20 osteo-synth -q -n 200 --records 2>err | head -c 1 >/dev/null
[ ! -s err ] || fail "osteo-synth stderr: $(cat err)"
osteo-decode -q c >all.rec
timeout 20 osteo-dump all.rec 2>err | head -n 1 >/dev/null
[ ! -s err ] || fail "osteo-dump stderr: $(cat err)"
