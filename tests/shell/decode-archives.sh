# the same tree decoded from a directory, tar, tar.gz, tar.zst, zip and stdin
. "$TOP/tests/lib.sh"
mkdir -p tree/healthy/P1 tree/osteoporosis/P2 tree/osteopenia
cp "$FIX/img/gray8.png" tree/healthy/P1/a.png
cp "$FIX/img/gray16.png" tree/healthy/P1/b.png
cp "$FIX/img/rgb.jpg" tree/osteoporosis/P2/c.jpg
cp "$FIX/img/g16.raw.pgm" tree/osteopenia/d.pgm
summary() { osteo-dump "$@" | jq -c '[.id, .label, .tensors.image.shape, .tensors.image.mean]' | sort; }
osteo-decode -q tree >dir.rec
summary dir.rec >want
[ "$(wc -l <want)" = 4 ] || fail "directory: expected 4 records"
(cd tree && tar cf ../t.tar healthy osteoporosis osteopenia)
(cd tree && tar czf ../t.tar.gz healthy osteoporosis osteopenia)
(cd tree && tar --zstd -cf ../t.tar.zst healthy osteoporosis osteopenia)
(cd tree && zip -qr ../t.zip healthy osteoporosis osteopenia)
for a in t.tar t.tar.gz t.tar.zst t.zip; do
	osteo-decode -q $a >a.rec
	summary a.rec >got
	diff want got || fail "$a differs from the directory"
	osteo-dump a.rec | jq -s -e --arg a $a 'map(select(.id == "healthy/P1/a.png"))[0] | .meta.source == $a and .meta.member == "healthy/P1/a.png"' >/dev/null ||
		fail "$a: meta.source and meta.member"
done
osteo-decode -q - <t.tar.gz >s.rec
summary s.rec >got
diff want got || fail "tar.gz on stdin differs"
# one image on stdin
[ "$(osteo-decode -q - <"$FIX/img/gray8.png" | osteo-dump | jq -r .id)" = "-" ] || fail "image on stdin"
# --files-from
printf '%s\n' tree/healthy/P1/a.png tree/osteopenia/d.pgm >list
[ "$(osteo-decode -q --files-from list | osteo-dump --count | grep -c '^[0-9]')" = 2 ] || fail "--files-from"
