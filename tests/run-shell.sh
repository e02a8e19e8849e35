#!/bin/bash
# Runs every tests/shell/*.sh (or those named) in a fresh temporary
# directory with bin/ and the test helpers of build/tests (mkrec) on PATH.
# A test passes by exiting 0 and is skipped by exiting 77; the log of a
# failure is shown.  Ends with the line "N passed, N failed, N skipped".
# OSTEO_TEST_JOBS runs that many tests at once (default 1); OSTEO_WRAP names
# a directory of wrappers put before bin/ on PATH (make check-valgrind runs
# every program under valgrind that way).
top=$(cd "$(dirname "$0")/.." && pwd)
export PATH="${OSTEO_WRAP:+$OSTEO_WRAP:}$top/bin:$top/build/tests:$PATH" TOP="$top" FIX="$top/tests/fixtures"
jobs=${OSTEO_TEST_JOBS:-1}
# arguments: test names or glob patterns (default: all)
tests=()
for pat in "${@:-*}"; do
	tests+=("$top"/tests/shell/$pat.sh)
done
res=$(mktemp -d)
trap 'rm -rf "$res"' EXIT

run_one() {
	local t=$1 name dir
	name=$(basename "$t" .sh)
	dir=$(mktemp -d)
	(cd "$dir" && bash -eu -o pipefail "$t") >"$res/$name.log" 2>&1 </dev/null
	echo $? >"$res/$name.rc"
	rm -rf "$dir"
}

# results are reported in order, each as soon as it and those before it end
pass=0 fail=0 skip=0 next=0
report() {
	while [ $next -lt ${#tests[@]} ]; do
		local name rc
		name=$(basename "${tests[$next]}" .sh)
		[ -f "$res/$name.rc" ] || return 0
		rc=$(cat "$res/$name.rc")
		if [ "$rc" = 0 ]; then
			pass=$((pass + 1)); echo "ok - $name"
		elif [ "$rc" = 77 ]; then
			skip=$((skip + 1)); echo "skip - $name: $(tail -n 1 "$res/$name.log")"
		else
			fail=$((fail + 1)); echo "not ok - $name (exit $rc)"
			tail -n 30 "$res/$name.log" | sed 's/^/    /'
		fi
		next=$((next + 1))
	done
}
running=0
for t in "${tests[@]}"; do
	if [ $running -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
		report
	fi
	run_one "$t" &
	running=$((running + 1))
done
wait
report
echo "$pass passed, $fail failed, $skip skipped"
[ $fail = 0 ]
