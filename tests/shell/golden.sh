# golden: what decode, normalize, augment, fuse, a 2-epoch train and infer write from fixed
# inputs, against the checksums in tests/golden/SHA256SUMS (tests/golden/make-golden.sh
# rewrites them when a change is meant).  The model and the predictions depend on the CPU's
# kernels too: where SHA256SUMS has no sums for this CPU's, those two are reported, not held.
. "$TOP/tests/lib.sh"
"$TOP/tests/golden/run.sh" out >got
key=$(sed -n 's/^# @\([0-9a-f]*\):.*/\1/p' got)
sums=$TOP/tests/golden/SHA256SUMS
bad=
while read -r sum name; do
	case $name in
	*@*) want=$(awk -v n="$name" '$2 == n { print $1 }' "$sums")
	     if [ -z "$want" ]; then
		echo "no checked-in sum for $name: this CPU's kernels are new ($(sed -n 's/^# @[0-9a-f]*: //p' got)); run tests/golden/make-golden.sh to add them" >&2
		continue
	     fi ;;
	*) want=$(awk -v n="$name" '$2 == n { print $1 }' "$sums") ;;
	esac
	[ "$sum" = "$want" ] || bad="$bad ${name%@*}"
done < <(grep -v '^#' got)
[ -z "$bad" ] || fail "changed from tests/golden/SHA256SUMS:$bad (if meant, run tests/golden/make-golden.sh and say why in the commit; a new CPU or oneDNN kernel may round the model and predictions differently)"
