# JPEG decodes to what libjpeg-turbo's djpeg writes
. "$TOP/tests/lib.sh"
for f in gray rgb; do
	want=$(djpeg -pnm "$FIX/img/$f.jpg" | pnm_planar)
	got=$(decoded "$FIX/img/$f.jpg")
	[ "$got" = "$want" ] || fail "$f.jpg differs from djpeg"
done
osteo-decode "$FIX/img/rgb.jpg" | osteo-dump | jq -e '.tensors.image.shape == [3,12,16] and .meta.format == "jpeg"' >/dev/null
