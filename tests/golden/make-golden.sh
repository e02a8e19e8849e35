#!/bin/bash
# tests/golden/make-golden.sh: rewrite tests/golden/SHA256SUMS from this
# build, when a change to what a program writes is meant (say so in the
# commit).  The sums of the model and the predictions are kept per CPU
# kernel key: this machine's replace its own, the others' stay.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
export PATH="$top/bin:$PATH"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$here/run.sh" "$tmp/out" >"$tmp/new"
key=$(sed -n 's/^# @\([0-9a-f]*\):.*/\1/p' "$tmp/new")
{
	grep -v '@' "$tmp/new" | grep -v '^#'
	[ -f "$here/SHA256SUMS" ] && grep '@' "$here/SHA256SUMS" | grep -v "@$key" || true
	grep '@' "$tmp/new"
} >"$here/SHA256SUMS"
echo "tests/golden/SHA256SUMS written (kernels @$key)"
