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
[ -f "$dest/usr/share/man/man5/osteo-record.5" ] && [ -f "$dest/usr/share/man/man7/osteo.7" ] || fail "section 5 and 7 pages"
for m in "$dest"/usr/share/man/man*/*; do
	MANWIDTH=80 man -l "$m" >/dev/null 2>err </dev/null || fail "man -l $m: $(cat err)"
done
