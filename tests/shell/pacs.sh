# The hospital loop against a real PACS: Orthanc (Debian's package) started on a free port with
# a temporary configuration and storage, DICOM services only for our AE title from 127.0.0.1 and
# its REST API only from this machine; examples/dicom-export loaded into it with storescu;
# pipelines/nightly -p finds the studies (C-FIND), retrieves them (C-GET), answers them and sends
# a structured report and the heat maps back (C-STORE).  Orthanc's REST API then shows each
# study with its SR (naming the model, referencing every image of the study) and a Secondary
# Capture per image; a second run sends nothing; with Orthanc stopped a run exits 75 and marks
# nothing done, and the next run, with Orthanc back, answers the study that came in meanwhile.
. "$TOP/tests/lib.sh"
command -v Orthanc >/dev/null || [ -x /usr/sbin/Orthanc ] || { echo "Orthanc is not installed (apt-get install orthanc)"; exit 77; }
for t in findscu getscu storescu dsrdump dcmodify dump2dcm curl; do
	command -v $t >/dev/null || { echo "$t is not installed (apt-get install dcmtk curl)"; exit 77; }
done
orthanc=$(command -v Orthanc || echo /usr/sbin/Orthanc)
N="$TOP/pipelines/nightly"
export=$TOP/examples/dicom-export/export

# two free ports on 127.0.0.1 (the kernel's choice)
read -r http dicom < <(/usr/bin/python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
mkdir db
cat >orthanc.json <<EOF
{
  "Name": "osteo-test", "StorageDirectory": "$PWD/db", "IndexDirectory": "$PWD/db",
  "HttpPort": $http, "DicomPort": $dicom, "DicomAet": "PACS", "RemoteAccessAllowed": false,
  "AuthenticationEnabled": false, "Plugins": [], "HttpServerEnabled": true, "DicomServerEnabled": true,
  "DicomCheckCalledAet": true, "DicomCheckModalityHost": true,
  "DicomAlwaysAllowEcho": false, "DicomAlwaysAllowStore": false, "DicomAlwaysAllowFind": false,
  "DicomAlwaysAllowGet": false, "DicomAlwaysAllowMove": false,
  "DicomModalities": { "osteo": { "AET": "OSTEO", "Host": "127.0.0.1", "Port": 1,
    "AllowEcho": true, "AllowFind": true, "AllowGet": true, "AllowMove": false, "AllowStore": true } },
  "StableAge": 1, "SaveJobs": false
}
EOF
start() {
	"$orthanc" orthanc.json >orthanc.log 2>&1 & pid=$!
	for _ in $(seq 100); do
		curl -sf "http://127.0.0.1:$http/system" >/dev/null && return 0
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	fail "Orthanc did not start: $(tail -n 5 orthanc.log)"
}
stop() { kill $pid 2>/dev/null; wait $pid 2>/dev/null || true; }
trap stop EXIT
start
api() { curl -sf "http://127.0.0.1:$http$1"; }

# the hospital's studies in the PACS: six CT slices of three patients
storescu -aet OSTEO -aec PACS 127.0.0.1 $dicom "$export"/* || fail "storescu into Orthanc"
[ "$(api /studies | jq length)" = 3 ] && [ "$(api /instances | jq length)" = 6 ] || fail "Orthanc holds $(api /instances)"
# another AE title is refused
! storescu -aet STRANGER -aec PACS 127.0.0.1 $dicom "$export/IM0001" 2>/dev/null || fail "Orthanc took a stranger's store"

# a model of the site's own CT slices (12-bit, with a rescale, as the PACS holds them: the model
# refuses images decoded otherwise than its training images), small for speed
osteo-synth -q -n 90 --seed 4 --size 32x32 -o cohort
mkdir -p train/healthy train/osteopenia train/osteoporosis
grep ',ct,' cohort/manifest.csv | while IFS=, read -r path label patient modality region; do
	osteo-decode -q "cohort/$path" | osteo-dump --data | jq -r '.tensors.image.data[]' |
		perl -ne 'chomp; print pack("v", $_)' >px.raw
	printf '(0008,0016) UI [1.2.840.10008.5.1.4.1.1.2]\n(0008,0018) UI [1.2.3.%s]\n(0008,0060) CS [CT]\n(0010,0020) LO [%s]\n(0028,0002) US 1\n(0028,0004) CS [MONOCHROME2]\n(0028,0010) US 32\n(0028,0011) US 32\n(0028,0100) US 16\n(0028,0101) US 12\n(0028,0102) US 11\n(0028,0103) US 0\n(0028,1052) DS [-1024]\n(0028,1053) DS [1]\n(7fe0,0010) OW =px.raw\n' \
		"$(echo "$path" | cksum | cut -d' ' -f1)" "$patient" >slice.dump
	dump2dcm -q slice.dump "train/$label/$(basename "$path" .png).dcm"
done
make -s -f "$TOP/pipelines/train.mk" OUT=run IMAGES=train SIZE=32x32 COPIES=0 EPOCHS=2 \
	ARCH=conv:4,pool,conv:8,pool,dense:8 BOOTSTRAP=50 >/dev/null 2>&1 || fail "training on the site's slices"
cat >pacs.conf <<EOF
# the PACS nightly asks and answers
host=127.0.0.1
port=$dicom
aet=OSTEO
pacs_aet=PACS
modalities=CT,DX
uid_root=1.2.826.0.1.3680043.10.543
timeout=10
EOF
"$N" -d run -p pacs.conf -o out 2>err || fail "nightly -p: $(cat err; tail -n 3 out/nightly.log)"
[ "$(wc -l <out/done.studies)" = 3 ] || fail "done.studies: $(cat out/done.studies)"

# what Orthanc now holds: in each study its three images' worth of answers: one SR, naming the
# model, referencing exactly the study's CT images, and a Secondary Capture per CT image
for s in $(api /studies | jq -r '.[]'); do
	api "/studies/$s/instances" >inst.json
	ct=$(jq -r '[.[] | select(.MainDicomTags.SOPInstanceUID | startswith("1.2.826.0.1.3680043.10.543.") | not)] | length' inst.json)
	mine=$(jq -r '.[] | select(.MainDicomTags.SOPInstanceUID | startswith("1.2.826.0.1.3680043.10.543.")) | .ID' inst.json)
	nsr=0 nsc=0
	for i in $mine; do
		api "/instances/$i/file" >obj.dcm
		case $(api "/instances/$i/simplified-tags" | jq -r .SOPClassUID) in
		1.2.840.10008.5.1.4.1.1.88.33)
			nsr=$((nsr + 1))
			dsrdump obj.dcm >sr.txt || fail "dsrdump of the SR in study $s"
			contains '"Algorithm Name")="osteonet.model"' sr.txt || fail "the SR does not name the model: $(head -n 20 sr.txt)"
			/usr/bin/python3 - obj.dcm inst.json <<'EOF' || fail "the SR's references in study $s"
import json, sys
import pydicom
d = pydicom.dcmread(sys.argv[1])
refs = {i.ReferencedSOPInstanceUID for st in d.CurrentRequestedProcedureEvidenceSequence
        for se in st.ReferencedSeriesSequence for i in se.ReferencedSOPSequence}
ct = {x["MainDicomTags"]["SOPInstanceUID"] for x in json.load(open(sys.argv[2]))
      if not x["MainDicomTags"]["SOPInstanceUID"].startswith("1.2.826.0.1.3680043.10.543.")}
assert refs == ct, (refs, ct)
EOF
			;;
		1.2.840.10008.5.1.4.1.1.7) nsc=$((nsc + 1)) ;;
		*) fail "an object of another class in study $s" ;;
		esac
	done
	[ "$nsr" = 1 ] && [ "$nsc" = "$ct" ] || fail "study $s: $nsr SRs and $nsc SCs for $ct images"
done
[ "$(api /instances | jq length)" = 15 ] || fail "Orthanc holds $(api /instances | jq length) instances, not 6 + 3 + 6"
contains '3 studies of CT,DX, 3 new' out/nightly.log || fail "log: $(cat out/nightly.log)"

# a second night: nothing new, nothing sent
"$N" -d run -p pacs.conf -o out 2>err || fail "the second night: $(cat err)"
[ "$(api /instances | jq length)" = 15 ] && [ "$(wc -l <out/done.studies)" = 3 ] || fail "the second night sent again"
contains ', 0 new' out/nightly.log || fail "second night's log: $(tail -n 2 out/nightly.log)"

# the PACS down: 75, nothing marked done; back up with a study new to it: answered
stop
api /system >/dev/null 2>&1 && fail "Orthanc is still up"
cp out/done.studies done.before
expect_status 75 "$N" -d run -p pacs.conf -o out 2>err
contains "PACS PACS at 127.0.0.1:$dicom: C-FIND" err || fail "the PACS down: $(cat err)"
cmp done.before out/done.studies || fail "a run with the PACS down changed done.studies"
[ -z "$(ls -d out/.work.* 2>/dev/null)" ] || fail "left behind: $(ls -a out)"
start
# while it was down a new study came in, dated today: a slice under new study, series and
# instance UIDs
cp "$export/IM0001" new.dcm
dcmodify -nb -i "(0008,0020)=$(date -u +%Y%m%d)" -m "(0020,000d)=1.2.826.0.1.3680043.2.1125.8.99" -m "(0020,000e)=1.2.826.0.1.3680043.2.1125.7.99" \
	-m "(0008,0018)=1.2.826.0.1.3680043.2.1125.9.99" new.dcm || fail "dcmodify"
storescu -aet OSTEO -aec PACS 127.0.0.1 $dicom new.dcm || fail "storescu of the new study"
"$N" -d run -p pacs.conf -o out 2>err || fail "the night after: $(cat err)"
contains ', 1 new' out/nightly.log || fail "the new study: $(tail -n 3 out/nightly.log)"
[ "$(wc -l <out/done.studies)" = 4 ] && [ "$(api /instances | jq length)" = 18 ] ||
	fail "the new study: $(api /instances | jq length) instances, done: $(cat out/done.studies)"
# a wrong AE title for the PACS: refused, 75; a configuration without its keys: 78
sed -i 's/^pacs_aet=PACS/pacs_aet=OTHER/' pacs.conf
expect_status 75 "$N" -d run -p pacs.conf -o out 2>err
expect_status 78 "$N" -d run -p /dev/null -o out 2>err
