# every ```sh block of the README runs as written, in order, in one directory, with bin/ on PATH
# and the source tree's pipelines/ and examples/ beside it (the README's commands are typed in
# the source tree); each block under bash -e, so its first failing command fails the test.
# Blocks a test cannot run (make demo and make check themselves, the sanitiser and fuzz runs
# CI makes, a GPU's, a crontab line) are fenced otherwise; CI runs the make targets.
. "$TOP/tests/lib.sh"
ln -s "$TOP/pipelines" pipelines
ln -s "$TOP/examples" examples
awk '/^```sh$/ { n++; f = sprintf("block%02d.sh", n); next } /^```/ { f = ""; next } f { print > f }' "$TOP/README.md"
n=0
for b in block*.sh; do
	n=$((n + 1))
	bash -e "$b" >"$b.out" 2>"$b.err" || fail "README block $n ($(head -n 1 "$b")): exit $?: $(tail -n 5 "$b.err")"
done
[ "$n" -ge 9 ] || fail "only $n sh blocks found in README.md"
# what the blocks promise: the own data's metrics, the applied model's predictions
contains -E '^accuracy' runA/metrics.txt || fail "runA/metrics.txt"
[ "$(wc -l <runA/new/predictions.csv)" -gt 1 ] || fail "runA/new/predictions.csv"
[ -s pred.rec ] && [ -s run/metrics.txt ] || fail "the worked example's outputs"
[ "$(osteo-dump auto.model | jq -r '.meta["auto.chosen"] | length > 0')" = true ] && [ -s risk-coverage.png ] &&
	[ "$(osteo-dump auto.pred.rec | jq -s 'map(select(.meta["infer.uncertainty"] != null)) | length')" = \
	  "$(osteo-dump --count auto.pred.rec | awk '$1 == "all" { print $3 }')" ] || fail "the --auto example's outputs"
