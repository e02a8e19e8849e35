# bad record streams: a clear message with record number and offset, exit 65
. "$TOP/tests/lib.sh"
osteo-decode -q "$FIX/img/gray8.png" "$FIX/img/rgb8.png" >two.rec
size=$(stat -c %s two.rec)
head -c $((size - 5)) two.rec >trunc.rec
expect_status 65 osteo-dump trunc.rec >out 2>err
grep -q 'trunc.rec: record 2 (byte offset [0-9]*): truncated' err || fail "truncated: $(cat err)"
[ "$(wc -l <out)" = 1 ] || fail "the good first record is lost"
printf '\xc1\xc1\xc1garbage' >garbage.rec
expect_status 65 osteo-dump garbage.rec >/dev/null 2>err
grep -q 'record 1 (byte offset 0)' err || fail "garbage: $(cat err)"
: >empty.rec
expect_status 0 osteo-dump empty.rec >out
[ ! -s out ] || fail "empty stream printed something"
# not a map at top level
printf '\x93\x01\x02\x03' >array.rec
expect_status 65 osteo-dump array.rec >/dev/null 2>err
grep -q 'not a map' err || fail "array: $(cat err)"
# `cat` of two streams is a stream
cat two.rec two.rec | osteo-dump --count | contains "$(printf 'all\t-\t4')" || fail "concatenation"
