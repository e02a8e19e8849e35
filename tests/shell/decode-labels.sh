# labels from exact path components or a manifest; patients
. "$TOP/tests/lib.sh"
mkdir -p d/healthy/P1 d/healthy-ish/P2 d/osteopenia/healthy d/x
cp "$FIX/img/gray8.png" d/healthy/P1/a.png
cp "$FIX/img/gray8.png" d/healthy-ish/P2/b.png       # not a class name: no label
cp "$FIX/img/gray8.png" d/osteopenia/healthy/c.png   # the deepest class wins
cp "$FIX/img/gray8.png" d/x/healthy.png              # a file name is not a folder
osteo-decode -q d | osteo-dump | jq -c '[.id, .label]' >got
cat >want <<'W'
["healthy/P1/a.png",0]
["healthy-ish/P2/b.png",null]
["osteopenia/healthy/c.png",0]
["x/healthy.png",null]
W
diff want got || fail "labels from folders"
# other class names
osteo-decode -q --classes normal,healthy d | osteo-dump | jq -c '[.id, .label]' | contains '\["healthy/P1/a.png",1\]' ||
	fail "--classes"
# a manifest overrides folders and brings patient, modality, region
cat >m.csv <<'M'
path,label,patient,modality,region
healthy/P1/a.png,osteoporosis,"P 1",xray,hip
x/healthy.png,1,P9,ct,femur
M
osteo-decode -q --manifest m.csv d | osteo-dump | jq -c '[.id, .label, .patient, .meta.modality, .meta.region]' >got
grep -qx '\["healthy/P1/a.png",2,"P 1","xray","hip"\]' got || fail "manifest row 1: $(cat got)"
grep -qx '\["x/healthy.png",1,"P9","ct","femur"\]' got || fail "manifest row 2"
grep -qx '\["osteopenia/healthy/c.png",0,null,null,null\]' got || fail "fallback to folders"
# a bad label in the manifest is an error naming the row
printf 'path,label\na.png,broken\n' >bad.csv
expect_status 65 osteo-decode --manifest bad.csv d >/dev/null 2>err
grep -q 'bad.csv: row 2' err || fail "bad manifest message: $(cat err)"
printf 'path,label\na.png,healthy,extra\n' >ragged.csv
expect_status 65 osteo-decode --manifest ragged.csv d >/dev/null 2>err
grep -q 'ragged.csv' err || fail "ragged manifest message: $(cat err)"
# --patient-dir
osteo-decode -q --patient-dir d | osteo-dump | jq -r 'select(.id == "healthy/P1/a.png") | .patient' | contains -x P1 ||
	fail "--patient-dir"
