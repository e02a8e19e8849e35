# records are never written to a terminal; make install puts everything under DESTDIR
. "$TOP/tests/lib.sh"
if command -v script >/dev/null; then
	script -qec "osteo-decode $FIX/img/gray8.png" /dev/null >out 2>&1 && fail "wrote records to a terminal"
	grep -q 'refusing to write records to a terminal' out || fail "tty message: $(cat out)"
fi
dest=$(pwd)/dest
make -s -C "$TOP" install DESTDIR="$dest" PREFIX=/usr >/dev/null
for p in $(cd "$TOP/bin" && ls); do
	[ -x "$dest/usr/bin/$p" ] || fail "$p not installed"
	[ -f "$dest/usr/share/man/man1/$p.1" ] || fail "$p.1 not installed"
done
# the installed osteo-decode reads DICOM with the GDCM library installed beside it
# (its worker loads ../lib/osteo/libosteo-gdcm.so), and says so when it is missing
[ -f "$dest/usr/lib/osteo/libosteo-gdcm.so" ] || fail "libosteo-gdcm.so not installed"
"$dest/usr/bin/osteo-decode" -q "$TOP/examples/dicom-export/export" >dcm.rec || fail "the installed osteo-decode on DICOM"
[ "$(osteo-dump --count dcm.rec | awk -F'\t' '$1 == "all" { print $3 }')" = 6 ] || fail "DICOM records: $(osteo-dump --count dcm.rec)"
mv "$dest/usr/lib/osteo" "$dest/usr/lib/osteo.away"
st=0; "$dest/usr/bin/osteo-decode" -q "$TOP/examples/dicom-export/export" >dcm.rec 2>err || st=$?
[ $st = 65 ] && contains 'libosteo-gdcm.so) was not found beside the program' err ||
	fail "without libosteo-gdcm.so: exit $st: $(cat err)"
mv "$dest/usr/lib/osteo.away" "$dest/usr/lib/osteo"
[ -f "$dest/usr/share/man/man5/osteo-record.5" ] && [ -f "$dest/usr/share/man/man7/osteo.7" ] || fail "section 5 and 7 pages"
for m in "$dest"/usr/share/man/man*/*; do
	MANWIDTH=80 man -l "$m" >/dev/null 2>err </dev/null || fail "man -l $m: $(cat err)"
done
# bash completion under each program's name, options read from the program's --help
[ -f "$dest/usr/share/bash-completion/completions/osteo" ] || fail "bash completion not installed"
for p in $(cd "$TOP/bin" && ls); do
	[ -e "$dest/usr/share/bash-completion/completions/$p" ] || fail "no completion for $p"
	contains -w "$p" "$TOP/completion/osteo.bash" || fail "completion/osteo.bash does not name $p"
done
got=$(bash -c '. "$1"; COMP_WORDS=(osteo-metrics --boot); COMP_CWORD=1; _osteo; echo "${COMPREPLY[*]}"' _ "$dest/usr/share/bash-completion/completions/osteo")
[ "$got" = "--bootstrap" ] || fail "completion of --boot: '$got'"
# the pipelines, installed, find the installed programs on PATH
for f in prep.mk train.mk apply nightly dicom2rec shard.sh; do
	[ -f "$dest/usr/share/osteo/pipelines/$f" ] || fail "pipelines/$f not installed"
done
PATH="$dest/usr/bin:$PATH" make -s -f "$dest/usr/share/osteo/pipelines/prep.mk" OUT=ip N=8 SIZE=16x16 COPIES=0 >/dev/null 2>&1 ||
	fail "the installed prep.mk"
[ -s ip/test.fused.rec ] || fail "the installed prep.mk made nothing"
mandoc -Tlint -W warning "$dest"/usr/share/man/man*/* || fail "mandoc -Tlint of the installed pages"
