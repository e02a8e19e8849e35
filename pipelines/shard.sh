#!/bin/sh
# pipelines/shard.sh - run one filter over a record stream in N shards at
# once with GNU parallel, on this machine's cores or on other hosts, and
# merge the results:
#
#   pipelines/shard.sh [-j N] [-S SSHLOGINS] [--by patient] IN.rec OUT.rec FILTER [ARGS...]
#   pipelines/shard.sh -j 4 test.rec pred.rec osteo-infer -m osteonet.model
#   pipelines/shard.sh -j 8 -S 8/node1,8/node2 all.rec norm.rec osteo-normalize --stats stats.rec
#
# Shard I of N is `osteo-cat --shard I/N IN.rec | FILTER ARGS`; records are
# independent, so the shards' union is what one process gives, shard by
# shard (sort by id to compare).  OUT.rec appears whole or not at all.  With
# -S the hosts need osteo on PATH and IN.rec at the same path (a shared
# file system); the model and parameter files too.
set -eu
jobs=$(nproc 2>/dev/null || echo 2)
hosts="" by=record
while [ $# -gt 0 ]; do
	case $1 in
	-j) jobs=$2; shift 2 ;;
	-S) hosts=$2; shift 2 ;;
	--by) by=$2; shift 2 ;;
	--) shift; break ;;
	-*) echo "shard.sh: unknown option $1" >&2; exit 64 ;;
	*) break ;;
	esac
done
[ $# -ge 3 ] || { echo "usage: shard.sh [-j N] [-S SSHLOGINS] [--by patient] IN.rec OUT.rec FILTER [ARGS...]" >&2; exit 64; }
in=$1 out=$2
shift 2
case $jobs in ''|*[!0-9]*|0) echo "shard.sh: -j wants a number of shards" >&2; exit 64 ;; esac
command -v parallel >/dev/null || { echo "shard.sh: GNU parallel is not installed (apt-get install parallel)" >&2; exit 69; }
[ -r "$in" ] || { echo "shard.sh: $in: cannot open" >&2; exit 66; }
tmp=$(mktemp -d "${out}.shards.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
# the filter and its arguments, quoted once for the shell parallel starts
cmd=""
for a in "$@"; do
	cmd="$cmd '$(printf '%s' "$a" | sed "s/'/'\\\\''/g")'"
done
qin="'$(printf '%s' "$in" | sed "s/'/'\\\\''/g")'"
set -- --will-cite --halt now,fail=1 -j "$jobs"
[ -n "$hosts" ] && set -- "$@" -S "$hosts" --workdir "$PWD"
seq 0 $((jobs - 1)) | parallel "$@" "osteo-cat --by $by --shard {}/$jobs $qin | $cmd > '$tmp'/{}.rec"
# shards in order, then into place in one rename
for i in $(seq 0 $((jobs - 1))); do cat "$tmp/$i.rec"; done >"$tmp/all"
mv "$tmp/all" "$out"
