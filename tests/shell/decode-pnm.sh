# PGM/PPM, binary and ASCII, 8 and 16 bits: values kept as written
. "$TOP/tests/lib.sh"
img=$FIX/img
for f in g8.pgm g8.raw.pgm g16.pgm g16.raw.pgm g12.pgm rgb8.ppm rgb16.ppm rgb16.raw.ppm g4.pgm; do
	want=$(pnm_planar <"$img/$f")
	got=$(decoded "$img/$f")
	[ "$got" = "$want" ] || fail "$f: got $got, want $want"
done
osteo-decode "$img/g12.pgm" | osteo-dump | jq -e '.meta.maxval == 4095 and .tensors.image.dtype == "u16"' >/dev/null ||
	fail "g12.pgm: maxval and dtype"
