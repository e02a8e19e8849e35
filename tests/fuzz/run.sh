#!/bin/sh
# tests/fuzz/run.sh SECONDS TARGET... - run each libFuzzer harness (built by
# `make fuzz-build` in build/fuzz) for SECONDS, one after another, and print
# a table.  New inputs go to build/fuzz/corpus/TARGET; the committed seeds
# in tests/fuzz/corpus/TARGET are read, never written.  A finding is saved
# as build/fuzz/TARGET-crash-*, and the run fails.
set -u
secs=$1
shift
cd "$(dirname "$0")/../.."
out=build/fuzz
export ASAN_OPTIONS=detect_leaks=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
printf '%-8s %8s %12s %10s %8s  %s\n' target seconds execs execs/s corpus result
for t in "$@"; do
	mkdir -p "$out/corpus/$t"
	log=$out/$t.log
	dict=
	[ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
	# dicom: GDCM runs in osteo-decode's worker process, which a file may
	# kill (GDCM's asserts); a huge allocation there ends the worker at
	# once (unsymbolised, so a dead worker costs no symboliser) instead of
	# zero-filling gigabytes; a finding of the harness itself still stops it
	opts=$ASAN_OPTIONS
	[ "$t" = dicom ] && opts=$ASAN_OPTIONS:max_allocation_size_mb=256:symbolize=0
	ASAN_OPTIONS=$opts "$out/fuzz_$t" -max_total_time="$secs" -rss_limit_mb=2560 -timeout=20 -close_fd_mask=3 \
		-print_final_stats=1 -artifact_prefix="$out/$t-" $dict \
		"$out/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
	ncorp=$(ls "$out/corpus/$t" | wc -l)
	if [ "$rc" = 0 ]; then
		result=clean
	else
		result="FINDING (exit $rc; see $log)"
		status=1
	fi
	[ -n "$took" ] || took=$secs
	rate=$([ -n "$execs" ] && [ "$took" -gt 0 ] && echo $((execs / took)) || echo -)
	printf '%-8s %8s %12s %10s %8s  %s\n' "$t" "$took" "${execs:--}" "$rate" "$ncorp" "$result"
done
exit $status
