# every fuzz harness, built with the ordinary compiler around the
# library's entry points (tests/fuzz/replay.c), runs its committed corpus
# cleanly; fuzz_options reaches class_weights with a valid spec, so a
# harness that drifts from the library fails here, clang or not
. "$TOP/tests/lib.sh"
for t in record model decode dicom archive csv arch options onnx; do
	bin=$TOP/build/tests/replay_$t
	[ -x "$bin" ] || fail "$bin not built (make test builds it)"
	OSTEO_FUZZ_TRACE=1 timeout 120 "$bin" "$TOP"/tests/fuzz/corpus/$t/* >out.$t 2>&1 ||
		fail "replay_$t over its corpus: exit $?: $(tail -3 out.$t)"
done
# the seeds 'train' (--class-weights 1,2,3) and 'train-auto' (auto): the
# harness's training set counts 50, 30 and 0 records per class
contains -x 'fuzz_options: class_weights(1,2,3) = 1,2,3' out.options ||
	fail "fuzz_options did not reach class_weights with 1,2,3: $(cat out.options)"
contains -x 'fuzz_options: class_weights(auto) = 0.533333,0.888889,0' out.options ||
	fail "fuzz_options did not reach class_weights with auto: $(cat out.options)"
# no harness includes a program's source: each reaches the library only
if grep -n '#include .*filters/' "$TOP"/tests/fuzz/*.c "$TOP"/tests/fuzz/*.h; then
	fail "a fuzz harness includes a filter"
fi
