#!/bin/bash
# Runs every tests/shell/*.sh in a fresh temporary directory with bin/
# and the test helpers of build/tests (mkrec) on PATH.  A test passes by exiting 0 and is skipped by exiting 77; the log
# of a failure is shown.  Ends with the line "N passed, N failed, N skipped".
top=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$top/bin:$top/build/tests:$PATH" TOP="$top" FIX="$top/tests/fixtures"
pass=0 fail=0 skip=0
for t in "$top"/tests/shell/${1:-*}.sh; do
	name=$(basename "$t" .sh)
	dir=$(mktemp -d)
	(cd "$dir" && bash -eu -o pipefail "$t") >"$dir.log" 2>&1 </dev/null
	rc=$?
	if [ $rc = 0 ]; then
		pass=$((pass + 1)); echo "ok - $name"
	elif [ $rc = 77 ]; then
		skip=$((skip + 1)); echo "skip - $name: $(tail -n 1 "$dir.log")"
	else
		fail=$((fail + 1)); echo "not ok - $name (exit $rc)"
		tail -n 30 "$dir.log" | sed 's/^/    /'
	fi
	rm -rf "$dir" "$dir.log"
done
echo "$pass passed, $fail failed, $skip skipped"
[ $fail = 0 ]
