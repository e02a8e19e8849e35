# the layout keeps its promises (README, "Layout"): the folders' includes
# form no loop, no file outside engine/ and gpu/ includes oneDNN or CUDA,
# and the layer words are spelt in engine/spec/net.h's table alone
. "$TOP/tests/lib.sh"
here=$PWD
cd "$TOP"
src=$(find common engine gpu filters -name '*.[ch]' -o -name '*.cc' -o -name '*.cu' -o -name '*.inc' | sort)
# a folder's edges to the folders it includes from (a quoted include with
# a slash is written from the root; one without is its own folder's)
for f in $src; do
	from=$(dirname "$f")
	sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\/[^"]*\)".*/\1/p' "$f" |
		while read -r inc; do
			to=$(dirname "$inc")
			[ -f "$inc" ] || { echo "BAD $f includes $inc, which is not a file from the root"; continue; }
			[ "$to" = "$from" ] || echo "$from $to"
		done
done | sort -u >"$here/edges"
if grep '^BAD' "$here/edges"; then
	fail "includes that do not name a file from the root"
fi
[ -s "$here/edges" ] || fail "no edges found"
tsort "$here/edges" >"$here/order" 2>"$here/loop" || fail "the folders' includes form a loop: $(cat "$here/loop")"
# the ground floor includes nothing of ours; common/ reaches the network
# only through its spec
awk '$1 == "common/base"' "$here/edges" >"$here/up"
[ ! -s "$here/up" ] || fail "common/base includes other folders: $(cat "$here/up")"
awk '$1 ~ /^common/ && $2 ~ /^(engine|gpu)/ && $2 != "engine/spec"' "$here/edges" >"$here/up"
[ ! -s "$here/up" ] || fail "common/ reaches past the network's spec: $(cat "$here/up")"
awk '$2 == "filters"' "$here/edges" >"$here/up"
[ ! -s "$here/up" ] || fail "a folder includes a program: $(cat "$here/up")"
# oneDNN and CUDA: engine/ and gpu/ alone
if grep -ln '#[[:space:]]*include[[:space:]]*<\(oneapi/\|dnnl\|cuda\|cublas\)' $src tests/unit/*.c tests/fuzz/*.[ch] bench/*.[ch] 2>/dev/null |
	grep -v '^engine/\|^gpu/' >"$here/leak"; then
	fail "oneDNN or CUDA headers outside engine/ and gpu/: $(cat "$here/leak")"
fi
# each layer word once, in the table's row (net.h), nowhere else as a word
for w in conv pool dense dropout gap clin classifier cbn route add maxpool avgpool; do
	n=$(grep -rn "\"$w\"" common engine gpu filters | grep -vc '^engine/spec/net.h:' || :)
	[ "$n" = 0 ] || fail "the layer word \"$w\" is spelt outside net.h's table: $(grep -rn "\"$w\"" common engine gpu filters | grep -v '^engine/spec/net.h:')"
	grep -q "X(L_[A-Z]*, *\"$w\"" engine/spec/net.h || fail "\"$w\" is not a row of net.h's NET_LAYERS"
done
