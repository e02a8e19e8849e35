# a 16-bit PNG keeps its exact values through osteo-decode | osteo-dump --data
. "$TOP/tests/lib.sh"
want='[0,1,256,4095,65535,300,40000,12345,54321,7,65534,2,3,1000,60000]'
for f in gray16.png gray16-interlaced.png g16.pgm g16.raw.pgm; do
	got=$(decoded "$FIX/img/$f")
	[ "$got" = "$want" ] || fail "$f: got $got, want $want"
done
osteo-decode "$FIX/img/gray16.png" | osteo-dump | jq -e '.tensors.image.dtype == "u16"' >/dev/null
