# osteo-dump: JSON summaries, PNGs people can look at, counts
. "$TOP/tests/lib.sh"
osteo-decode -q "$FIX/img/gray16.png" "$FIX/img/rgb8.png" >s.rec
osteo-dump s.rec | jq -s -e 'all(.tensors.image | has("min") and has("max") and has("mean"))' >/dev/null
[ "$(osteo-dump s.rec | jq -r '.tensors.image.max' | head -n 1)" = 65535 ] || fail "max of gray16"
osteo-dump --png out s.rec
ls out
for f in out/*.png; do pngtopnm "$f" >/dev/null || fail "$f does not decode"; done
# what --png wrote reads back to the same values
osteo-decode -q out | osteo-dump --data | jq -c .tensors.image.data | sort >got
osteo-dump --data s.rec | jq -c .tensors.image.data | sort >want
diff want got || fail "--png round trip"
# an id with slashes never becomes a path
[ "$(find out -type f | wc -l)" = 2 ] || fail "unexpected files"
