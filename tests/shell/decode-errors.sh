# corrupt input: exit 65 naming the file, every record before it written
. "$TOP/tests/lib.sh"
mkdir d
cp "$FIX/img/gray8.png" d/a.png
cp "$FIX/img/rgb8.png" d/b.png
cp "$FIX/img/truncated.png" d/c.png
cp "$FIX/img/gray16.png" d/d.png
expect_status 65 osteo-decode d >out.rec 2>err
grep -q 'd/c.png' err || fail "message does not name the file: $(cat err)"
[ "$(osteo-dump out.rec | jq -r .id | tr '\n' ' ')" = "a.png b.png " ] || fail "records before the corrupt file"
# --keep-going: the rest too, still exit 65
expect_status 65 osteo-decode --keep-going d >out.rec 2>err
[ "$(osteo-dump out.rec | jq -r .id | tr '\n' ' ')" = "a.png b.png d.png " ] || fail "--keep-going"
for f in crc.png truncated.jpg truncated.pgm; do
	expect_status 65 osteo-decode "$FIX/img/$f" >/dev/null 2>err
	grep -q "$f" err || fail "$f: message does not name it"
done
# a corrupt member of an archive names the archive and the member
mkdir t && cp "$FIX/img/gray8.png" t/ok.png && cp "$FIX/img/truncated.png" t/bad.png
tar cf t.tar -C t ok.png bad.png
expect_status 65 osteo-decode t.tar >out.rec 2>err
grep -q 't.tar: member bad.png' err || fail "archive member message: $(cat err)"
[ "$(osteo-dump --count out.rec | tail -n 1)" = "$(printf 'all\t-\t1')" ] || fail "record before the bad member"
# a truncated archive
head -c 2000 t.tar >short.tar
gzip -c t.tar | head -c 200 >short.tar.gz
expect_status 65 osteo-decode short.tar.gz >/dev/null 2>err
grep -q 'short.tar.gz' err || fail "truncated tar.gz: $(cat err)"
# missing input: 66
expect_status 66 osteo-decode nosuchfile >/dev/null 2>err
grep -q nosuchfile err || fail "missing file message"
# not an image: skipped with a message, or an error with --strict
cp "$FIX/img/notes.txt" d/
rm d/c.png
osteo-decode d >out.rec 2>err
grep -q 'notes.txt: not an image' err || fail "skip message"
expect_status 65 osteo-decode --strict d >/dev/null 2>err
grep -q 'notes.txt' err || fail "--strict message"
# image size limit
expect_status 65 osteo-decode --max-pixels 10 "$FIX/img/gray8.png" >/dev/null 2>err
grep -q 'limit' err || fail "--max-pixels message"
# a decompression bomb stops at the member limit
head -c 50000000 /dev/zero >zeros.pgm
tar czf bomb.tar.gz zeros.pgm
rm zeros.pgm
expect_status 65 osteo-decode --max-member-bytes 1000000 bomb.tar.gz >/dev/null 2>err
grep -q 'max-member-bytes' err || fail "bomb message: $(cat err)"
# usage errors: 64
expect_status 64 osteo-decode --no-such-option d >/dev/null 2>&1
expect_status 64 osteo-decode --max-pixels abc d >/dev/null 2>&1
