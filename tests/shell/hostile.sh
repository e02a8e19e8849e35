# hostile input: every program against every kind of bad input gives its
# documented status (65 bad data, 0 where the input is merely empty) and a
# message naming the file; never a signal, never 70; no partial output file
. "$TOP/tests/lib.sh"
H=$FIX/hostile

# valid material: 1x4x4 images with two clinical features, a model, predictions
small_cohort 8

# the hostile streams
: >empty.rec
cp "$H/random.bin" random.rec
size=$(stat -c %s pred.rec)
head -c $((size - 7)) pred.rec >truncated.rec
printf '\x82\xa2id\x05\xa7tensors\x80' >wrongtype.rec
printf '\x82\xa2id\xa1a\xa7tensors\x81\xa5image\x83\xa5dtype\xa2u8\xa5shape\x93\x01\x02\x02\xa4data\xc4\x03abc' \
	>mismatch.rec
printf '\xdf\xff\xff\xff\xff' >map32.rec     # announces 2^32 entries in 5 bytes
# an empty tensor [0,100000,100000]: no data, but its sides multiply past any limit
printf '\x82\xa2id\xa1a\xa7tensors\x81\xa5image\x83\xa5dtype\xa2u8\xa5shape\x93\x00\xce\x00\x01\x86\xa0\xce\x00\x01\x86\xa0\xa4data\xc4\x00' \
	>hugedims.rec
cp "$H/nan.rec" nan.rec

# run NAME KIND CMD...: the status, with checks common to all
run() {
	local name=$1 kind=$2 st=0
	shift 2
	"$@" >out 2>err </dev/null || st=$?
	[ "$st" -lt 128 ] || fail "$name on $kind: killed by signal $((st - 128)): $(cat err)"
	[ "$st" != 70 ] || fail "$name on $kind: internal error: $(cat err)"
	if [ "$st" != 0 ]; then
		[ -s err ] || fail "$name on $kind: status $st without a message"
		contains -F "$kind." err || fail "$name on $kind: the message does not name the file: $(cat err)"
	fi
	echo "$st"
}

# NAME CMD (the stream is appended); NAME also says whether the program
# computes on pixels, so NaN must stop it
progs='dump:osteo-dump
cat:osteo-cat
normalize*:osteo-normalize --size 4x4
split:osteo-split --train o.train --val o.val --test o.test
augment*:osteo-augment --copies 1
fuse:osteo-fuse --clinical clin.csv --encoding enc.rec --missing impute
train*:osteo-train -q -o o.model --arch dense:4 --epochs 1
infer*:osteo-infer -m model.rec --no-check
metrics:osteo-metrics
baseline*:osteo-baseline -o o.svm
plot:osteo-plot confusion -o o.png'
n=0
while IFS=: read -r name cmd; do
	pixels=0
	case $name in *\*) pixels=1; name=${name%\*} ;; esac
	for kind in empty random truncated wrongtype mismatch map32 hugedims nan; do
		rm -f o.*
		# shellcheck disable=SC2086
		st=$(run "$name" "$kind" $cmd "$kind.rec")
		case $kind in
		empty) [ "$st" = 0 ] || [ "$st" = 65 ] || fail "$name on empty: $st" ;;
		nan) if [ $pixels = 1 ]; then
			[ "$st" = 65 ] || fail "$name on NaN pixels: $st"
			contains -i 'nan or infinite' err || fail "$name on NaN: $(cat err)"
		     else
			[ "$st" = 0 ] || [ "$st" = 65 ] || fail "$name on NaN pixels: $st"
		     fi ;;
		*) [ "$st" = 65 ] || fail "$name on $kind: status $st, expected 65: $(cat err)"
		   contains -E "$kind.rec: record [0-9]+" err || fail "$name on $kind: no record number: $(cat err)" ;;
		esac
		if [ "$st" != 0 ]; then
			leftover=$(ls o.* 2>/dev/null || true)
			[ -z "$leftover" ] || fail "$name on $kind left $leftover"
		fi
		n=$((n + 1))
	done
done <<EOF2
$progs
EOF2
[ $n = 88 ] || fail "ran $n cases"

# model files: infer and baseline refuse a bad one with 65, naming it
for kind in empty random truncated wrongtype map32; do
	st=$(run infer "$kind" osteo-infer -m "$kind.rec" fused.rec)
	[ "$st" = 65 ] || fail "infer -m $kind: $st"
	st=$(run baseline "$kind" osteo-baseline -m "$kind.rec" fused.rec)
	[ "$st" = 65 ] || fail "baseline -m $kind: $st"
	st=$(run train "$kind" osteo-train -q -o o.model --arch dense:4 --resume "$kind.rec" fused.rec)
	[ "$st" = 65 ] || fail "train --resume $kind: $st"
done
# images: osteo-decode
cp "$H/huge.png" huge.png
cp "$H/huge16.png" huge16.png
printf 'P5\n65535 65535\n255\n\0\0\0' >huge.pgm
cp "$H/random.bin" random.png
: >empty.png
for f in huge.png huge16.png huge.pgm; do
	expect_status 65 osteo-decode "$f" >out 2>err
	contains -F "$f: image of 65535x65535 pixels is larger than the limit" err || fail "$f: $(cat err)"
	[ ! -s out ] || fail "$f: output"
done
# the pixel limit raised, the tensor limit still stops it before the allocation
expect_status 65 osteo-decode --max-pixels 5000000000 huge16.png >/dev/null 2>err
contains -F 'more than the limit of 1073741824 (--max-tensor-bytes)' err || fail "tensor limit: $(cat err)"
expect_status 65 osteo-decode --strict random.png >/dev/null 2>err
contains -F 'random.png: not a PNG, JPEG, PNM or DICOM' err || fail "random.png: $(cat err)"
expect_status 65 osteo-decode --strict empty.png >/dev/null 2>err
# zip bombs: 20 MB of zeros in 20 KB, with and without the size in the header
head -c 20000000 /dev/zero >zeros.pgm
zip -q bomb.zip zeros.pgm
head -c 20000000 /dev/zero | zip -q bomb-stream.zip -
for z in bomb.zip bomb-stream.zip; do
	expect_status 65 osteo-decode --max-member-bytes 1000000 "$z" >out 2>err
	contains -F -- '--max-member-bytes' err || fail "$z: $(cat err)"
done
# costs in proportion: a gzip bomb on stdin holds at most --max-member-bytes (and a little);
# members that are not images are skipped from their first bytes, never inflated whole
# peak: the command's peak memory in KB into $kb (its status is for the messages to tell); 0
# where costs are not the program's own (costs_measurable), so every bound below holds there
peak() {
	/usr/bin/time -f %M -o rss "$@" || true
	kb=$(tail -n 1 rss)
	costs_measurable || kb=0
}
{ printf 'P5\n8000 8000\n255\n'; head -c 300000000 /dev/zero; } | gzip -1 >bomb.pgm.gz
peak osteo-decode -q --max-member-bytes 100000000 <bomb.pgm.gz 2>err >/dev/null
contains -F -- '--max-member-bytes' err || fail "stdin bomb: $(cat err)"
[ "$kb" -lt 160000 ] || fail "a gzip bomb on stdin held $kb KB over a 100 MB limit"
head -c 300000000 < <(yes) | gzip -1 >text.gz
peak osteo-decode <text.gz 2>err >/dev/null
contains -F -- '-: not an image, skipped' err || fail "stdin text: $(cat err)"
[ "$kb" -lt 60000 ] || fail "300 MB of text on stdin held $kb KB"
mkdir members && head -c 64000000 /dev/zero >members/m0.bin
for i in 1 2 3 4 5 6 7; do ln members/m0.bin members/m$i.bin; done
(cd members && zip -q -1 ../members.zip m*.bin)
rm -r members
start=$(date +%s%N)
peak osteo-decode -q members.zip 2>err >/dev/null
ms=$((($(date +%s%N) - start) / 1000000))
costs_measurable || ms=0
[ "$kb" -lt 60000 ] && [ "$ms" -lt 2000 ] || fail "8 members of 64 MB that are not images: $kb KB, $ms ms"
# fourteen bytes that announce a 3 GiB value: GDCM's worker may use what the file justifies, so
# the file fails at once (it took 4.2 GB and 17 s): the fuzzers' slow units, in their corpus
for u in "$TOP"/tests/fuzz/corpus/decode/slow-length-*; do
	start=$(date +%s%N)
	peak osteo-decode "$u" 2>err >/dev/null
	ms=$((($(date +%s%N) - start) / 1000000))
	costs_measurable || ms=0
	contains -F "$(basename "$u"): " err || fail "$u: not named: $(cat err)"
	[ "$kb" -lt 300000 ] && [ "$ms" -lt 3000 ] || fail "$(basename "$u") (14 bytes): $kb KB, $ms ms"
done
# a member name is data: nothing is written, whatever the name
mkdir -p evil && printf 'P5\n1 1\n255\n\x07' >evil/x.pgm
(cd evil && tar cf ../evil.tar --transform 's,^,../../../tmp/osteo-evil-,' x.pgm)
osteo-decode evil.tar | osteo-dump | contains -F '"member":"../../../tmp/osteo-evil-x.pgm"' ||
	fail "member name not kept as data"
[ ! -e /tmp/osteo-evil-x.pgm ] || fail "a file was extracted"

# CSV: a header of a million columns, a row of a hundred million bytes of short fields: refused
# as they are read, at the limits, in memory and time out of proportion to neither
{ echo patient; seq 1000000 | sed 's/^/c/'; } | paste -sd, >wide.csv
peak osteo-fuse --clinical wide.csv norm.rec 2>err >/dev/null
contains -F 'wide.csv: row 1: more than 4096 fields, the limit' err || fail "wide.csv: $(cat err)"
[ "$kb" -lt 40000 ] || fail "wide.csv: $kb KB"
{ printf 'patient,age\nP1,'; head -c 100000000 /dev/zero | tr '\0' ','; echo; } >long.csv
peak osteo-fuse --clinical long.csv norm.rec 2>err >/dev/null
contains -F "long.csv: row 2 has more fields than the header's 2" err || fail "long.csv: $(cat err)"
[ "$kb" -lt 40000 ] || fail "long.csv: $kb KB"
# CSV: a ragged row, a huge field, an empty file
printf 'patient,age\nP1,50,extra\n' >ragged.csv
printf 'patient,age\nP1,' >huge.csv
head -c 100000 /dev/zero | tr '\0' 9 >>huge.csv
: >empty.csv
for c in ragged huge empty; do
	st=$(run fuse "$c" osteo-fuse --clinical "$c.csv" --columns age --missing impute norm.rec)
	[ "$st" = 65 ] || fail "fuse --clinical $c.csv: $st"
done
contains -F -- '--max-string' err || true
osteo-fuse --clinical huge.csv --columns age norm.rec >/dev/null 2>err || true
contains -F -- '--max-string' err || fail "huge CSV field: $(cat err)"

# the limits as options, on every program that reads records
expect_status 65 osteo-dump --max-string 8 syn.rec >/dev/null 2>err
contains -F 'more than the limit of 8 (--max-string)' err || fail "--max-string: $(cat err)"
expect_status 65 osteo-cat --max-tensor-bytes 10 syn.rec >/dev/null 2>err
contains -F -- '--max-tensor-bytes' err || fail "--max-tensor-bytes: $(cat err)"
expect_status 65 osteo-cat --max-record-bytes 100 syn.rec >/dev/null 2>err
contains -F -- '--max-record-bytes' err || fail "--max-record-bytes: $(cat err)"
expect_status 65 osteo-split --max-records 3 --train o.train --val o.val --test o.test syn.rec 2>err
contains -F 'more than 3 records to hold in memory (--max-records)' err || fail "--max-records: $(cat err)"
[ ! -e o.train ] || fail "split left a file"
expect_status 65 osteo-train -q --max-records 3 -o o.model --arch dense:4 fused.rec 2>/dev/null
expect_status 65 osteo-metrics --max-records 3 pred.rec >/dev/null 2>/dev/null
expect_status 64 osteo-cat --max-records 0 syn.rec
expect_status 64 osteo-cat --max-string x syn.rec
