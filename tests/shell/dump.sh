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
# --csv: predictions for spreadsheets, quoted where needed, one column per class
printf 'a,1\tP1\t0\t.7,.2,.1\nb"q\t-\t-\t.1,.2,.7\n' | mkrec >p.rec
osteo-dump --csv p.rec >p.csv
[ "$(sed -n 1p p.csv)" = "id,patient,label,class,pred,pred_class,risk,p_healthy,p_osteopenia,p_osteoporosis" ] ||
	[ "$(sed -n 1p p.csv)" = "id,patient,label,class,pred,pred_class,risk,p_0,p_1,p_2" ] || fail "--csv header: $(sed -n 1p p.csv)"
[ "$(sed -n 2p p.csv)" = '"a,1",P1,0,,,,,0.7,0.2,0.1' ] || fail "--csv row: $(sed -n 2p p.csv)"
[ "$(sed -n 3p p.csv)" = '"b""q",,,,,,,0.1,0.2,0.7' ] || fail "--csv quoting: $(sed -n 3p p.csv)"
[ "$(osteo-dump --csv </dev/null)" = "id,patient,label,class,pred,pred_class,risk" ] || fail "--csv of nothing"
printf 'a\t-\t-\t.5,.5\nb\t-\t-\t.1,.2,.7\n' | mkrec | expect_status 65 osteo-dump --csv >/dev/null 2>&1
expect_status 64 osteo-dump --csv --count p.rec 2>/dev/null
