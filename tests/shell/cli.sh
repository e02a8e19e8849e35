# every program: --help to stdout with 0, --version, 64 on a bad option
. "$TOP/tests/lib.sh"
for p in "$TOP"/bin/osteo-*; do
	n=$(basename "$p")
	"$p" --help >out 2>err || fail "$n --help exited $?"
	grep -q "usage: $n" out || fail "$n --help output"
	[ ! -s err ] || fail "$n --help wrote to stderr"
	# in the GNU manner: after the synopsis, each option on a line with what it does, the
	# synopsis's options all there (the limits are in the common part)
	contains -x 'options:' out || fail "$n --help: no table of options"
	syn=$(sed -n '1,/^limits:/p' out | grep -oE -- '(^|[][ (|])--[a-z][-a-z0-9]*' | sed 's/^[][ (|]//' | sort -u)
	tab=$(sed -n '/^options:/,/^$/p; /^common to every program:/,/^$/p' out |
		grep -oE -- '^  (-[a-zA-Z], )?--[a-z][-a-z0-9]*' | grep -oE -- '--[a-z][-a-z0-9]*' | sort -u)
	missing=$(comm -23 <(echo "$syn") <(echo "$tab"))
	[ -z "$missing" ] || fail "$n --help: no line for $missing"
	sed -n '/^options:/,/^$/p' out | awk 'NR > 1 && /^  -/ && NF < 3 { print; bad = 1 } END { exit bad }' ||
		fail "$n --help: an option without a description"
	"$p" --version | contains "^$n (osteo)" || fail "$n --version"
	expect_status 64 "$p" --definitely-not-an-option </dev/null >/dev/null 2>&1
done
