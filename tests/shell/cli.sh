# every program: --help to stdout with 0, --version, 64 on a bad option
. "$TOP/tests/lib.sh"
for p in "$TOP"/bin/osteo-*; do
	n=$(basename "$p")
	"$p" --help >out 2>err || fail "$n --help exited $?"
	grep -q "usage: $n" out || fail "$n --help output"
	[ ! -s err ] || fail "$n --help wrote to stderr"
	"$p" --version | contains "^$n (osteo)" || fail "$n --version"
	expect_status 64 "$p" --definitely-not-an-option </dev/null >/dev/null 2>&1
done
