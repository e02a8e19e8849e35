# every PNG variant decodes to the values netpbm's pngtopnm reads
. "$TOP/tests/lib.sh"
img=$FIX/img
for f in gray8 gray16 gray8-interlaced gray16-interlaced gray-alpha rgb8 rgb16 rgba palette; do
	want=$(pngtopnm "$img/$f.png" 2>/dev/null | pnm_planar)
	got=$(decoded "$img/$f.png")
	[ "$got" = "$want" ] || fail "$f.png: got $got, want $want"
done
# 1, 2 and 4-bit gray are stretched to 8 bits
for f in gray1 gray2 gray4; do
	want=$(pngtopnm "$img/$f.png" | pgmtopgm | pnm_planar scale)
	got=$(decoded "$img/$f.png")
	[ "$got" = "$want" ] || fail "$f.png: got $got, want $want"
done
# shapes, dtypes and provenance
osteo-decode "$img/rgb16.png" | osteo-dump | jq -e '
	.tensors.image.dtype == "u16" and .tensors.image.shape == [3,2,3] and
	.meta.bit_depth == 16 and .meta.color == "rgb" and .meta.width == 3 and .meta.height == 2' >/dev/null ||
	fail "rgb16.png metadata"
osteo-decode "$img/palette.png" | osteo-dump | jq -e '.tensors.image.shape == [3,2,4] and .meta.color == "palette"' >/dev/null ||
	fail "palette.png metadata"
