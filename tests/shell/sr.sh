# osteo-sr: predictions of examples/dicom-export (six CT slices of three patients) as a
# Comprehensive SR per study and Secondary Capture heat maps.  Every object passes dciodvfy with
# no error and dsrdump reads each report; pydicom, an independent reader, checks what they say
# against the records (the study's answer the mean of its images', each source image referenced,
# the patient and study the source file's, the model's name and SHA-256, the heat map's pixels).
# The same predictions give the same UIDs; a pseudonymised stream is refused without the link
# file and gives the same objects with it; records without DICOM identity, without a prediction
# or whose source has gone are refused with nothing written; a full disk is 74, nothing left.
. "$TOP/tests/lib.sh"
for t in dciodvfy dsrdump; do
	command -v $t >/dev/null || { echo "$t is not installed (apt-get install dicom3tools dcmtk)"; exit 77; }
done
/usr/bin/python3 -c 'import pydicom' 2>/dev/null || { echo "pydicom is not installed (apt-get install python3-pydicom)"; exit 77; }
export=$TOP/examples/dicom-export/export
root=1.2.826.0.1.3680043.10.543

# a small model, and its answers with Grad-CAM maps to the export's slices
osteo-synth -q -n 24 --seed 1 --size 32x32 -o syn
osteo-decode -q --manifest syn/manifest.csv syn | osteo-normalize -q --size 32x32 --method zscore >s.rec
osteo-train -q --arch conv:4,pool,conv:8,pool,dense:8 --epochs 1 --seed 1 -o m.model s.rec
osteo-decode -q "$export" | osteo-normalize -q --window file --size 32x32 |
	osteo-infer -q --no-check --heatmap -m m.model >p.rec

osteo-sr --uid-root $root -o out p.rec >written 2>err || fail "osteo-sr: $(cat err)"
[ "$(wc -l <written)" = 9 ] || fail "$(wc -l <written) objects, not 3 reports and 6 heat maps"
[ "$(ls out | wc -l)" = 9 ] || fail "out/ holds $(ls -a out)"
while read -r f; do
	[ -s "$f" ] || fail "$f was not written"
	dciodvfy "$f" >v 2>&1 || true
	! grep -E '^Error' v || fail "dciodvfy: $f: $(grep -E '^Error' v)"
done <written
for f in $(grep -E "/$root\\.2\\." written); do
	dsrdump "$f" >/dev/null || fail "dsrdump $f"
done
[ "$(grep -c -E "/$root\\.2\\." written)" = 3 ] || fail "not one report per study"

osteo-dump p.rec | jq -c '{id, src: .meta.source, sop: .meta.sop_uid, probs, pred, risk,
	unc: .meta["infer.uncertainty"], heat: .tensors.heatmap.shape}' >recs.json
osteo-dump --data p.rec | jq -c '.tensors.heatmap.data' >heat.json
sha256sum m.model | cut -d' ' -f1 >sha
/usr/bin/python3 - written recs.json heat.json sha <<'EOF' || fail "the objects against the records"
import json, sys
import numpy as np
import pydicom
files = [l.strip() for l in open(sys.argv[1])]
recs = [json.loads(l) for l in open(sys.argv[2])]
heats = [json.loads(l) for l in open(sys.argv[3])]
sha = open(sys.argv[4]).read().strip()
src = {r["sop"]: pydicom.dcmread(r["src"]) for r in recs}
by_sop = {r["sop"]: (r, h) for r, h in zip(recs, heats)}
classes = ["healthy", "osteopenia", "osteoporosis"]

def items(seq):
    for it in seq:
        yield it
        yield from items(getattr(it, "ContentSequence", []))

def name(it):
    return it.ConceptNameCodeSequence[0].CodeMeaning

def answer(container):
    """the class and numbers a container holds"""
    out = {}
    for it in container.ContentSequence:
        if it.ValueType == "CODE":
            out["class"] = it.ConceptCodeSequence[0].CodeMeaning
        elif it.ValueType == "NUM":
            out[name(it)] = float(it.MeasuredValueSequence[0].NumericValue)
        elif it.ValueType == "IMAGE":
            out["image"] = it.ReferencedSOPSequence[0].ReferencedSOPInstanceUID
    return out

def same(a, r):
    assert a["class"] == classes[r["pred"]], (a, r)
    for c, p in zip(classes, r["probs"]):
        assert abs(a["Probability of " + c] - p) < 1e-5, (a, r)
    assert abs(a["Risk score"] - r["risk"]) < 1e-5, (a, r)
    assert abs(a["Uncertainty (one less the largest probability)"] - r["unc"]) < 1e-5, (a, r)

reports = heatmaps = 0
seen = set()
for f in files:
    d = pydicom.dcmread(f)
    assert f.endswith(d.SOPInstanceUID + ".dcm") and d.SOPInstanceUID.startswith("1.2.826.0.1.3680043.10.543.")
    if d.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.33":
        reports += 1
        top = [it for it in d.ContentSequence]
        texts = {name(it): it.TextValue for it in top if it.ValueType == "TEXT"}
        assert texts["Algorithm Name"] == "m.model" and texts["Model file SHA-256"] == sha, texts
        study = answer(next(it for it in top if name(it) == "Study result"))
        imgs = [answer(it) for it in top if name(it) == "Image result"]
        mine = [by_sop[a["image"]][0] for a in imgs]
        for a, r in zip(imgs, mine):
            same(a, r)
        # the study's answer: its images' mean
        p = np.mean([r["probs"] for r in mine], 0)
        same(study, {"pred": int(np.argmax(p)), "probs": p, "risk": np.mean([r["risk"] for r in mine]),
                     "unc": 1 - p.max()})
        # every source image of the study, in the evidence too, and the source's patient and study
        s0 = src[mine[0]["sop"]]
        want = {r["sop"] for r in recs if src[r["sop"]].StudyInstanceUID == s0.StudyInstanceUID}
        assert {a["image"] for a in imgs} == want, (imgs, want)
        ev = {i.ReferencedSOPInstanceUID for st in d.CurrentRequestedProcedureEvidenceSequence
              for se in st.ReferencedSeriesSequence for i in se.ReferencedSOPSequence}
        assert ev == want, ev
        seen |= want
        for k in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID"):
            assert str(getattr(d, k)) == str(getattr(s0, k)), k
        assert d.SeriesInstanceUID not in {s.SeriesInstanceUID for s in src.values()}
        assert d.CompletionFlag == "COMPLETE" and d.VerificationFlag == "UNVERIFIED"
    else:
        assert d.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7", d.SOPClassUID
        heatmaps += 1
        ref = d.SourceImageSequence[0].ReferencedSOPInstanceUID
        r, h = by_sop[ref]
        s = src[ref]
        assert d.SourceImageSequence[0].ReferencedSOPClassUID == s.SOPClassUID
        assert d.StudyInstanceUID == s.StudyInstanceUID and d.PatientID == s.PatientID
        h = np.array(h, np.float64).reshape(r["heat"][1:])
        want = np.round(255 * (h - h.min()) / (h.max() - h.min()))
        assert d.pixel_array.shape == want.shape and np.abs(d.pixel_array - want).max() <= 1
assert reports == 3 and heatmaps == 6 and seen == set(by_sop), (reports, heatmaps)
EOF

# the same predictions: the same objects' names (UIDs); --no-heatmaps: the reports alone
osteo-sr -q --uid-root $root -o again p.rec >written2
diff <(sed 's|.*/||' written) <(sed 's|.*/||' written2) >/dev/null || fail "another run, other UIDs"
osteo-sr -q --no-heatmaps --uid-root $root -o reports p.rec >/dev/null
[ "$(ls reports | wc -l)" = 3 ] || fail "--no-heatmaps: $(ls reports)"

# pseudonymised: refused without the link file, and with it the same objects as the originals'
head -c 32 /dev/urandom >site.key
osteo-decode -q --pseudonymize site.key --link site.link "$export" | osteo-normalize -q --window file --size 32x32 |
	osteo-infer -q --no-check --heatmap -m m.model >pp.rec
[ "$(wc -l <site.link)" = 6 ] || fail "site.link: $(cat site.link)"
! grep -q "$(osteo-dump pp.rec | jq -r .meta.sop_uid | head -1)" written || fail "the pseudonyms are the UIDs"
expect_status 65 osteo-sr --uid-root $root -o refused pp.rec 2>err
contains 'pseudonymised: its UIDs are pseudonyms' err || fail "pseudonyms without --link: $(cat err)"
[ -z "$(ls -A refused 2>/dev/null)" ] || fail "refused, yet wrote $(ls -A refused)"
osteo-sr -q --uid-root $root --link site.link -o linked pp.rec >written3
diff <(sed 's|.*/||' written) <(sed 's|.*/||' written3) >/dev/null || fail "through the link, other objects"
expect_status 64 osteo-decode -q --link x.link "$export" </dev/null
# a link file damaged (a line without its path) or missing: 65 naming the line, 66
head -n 2 site.link >bad.link && printf 'only\ttwo\n' >>bad.link
expect_status 65 osteo-sr --uid-root $root --link bad.link -o refused pp.rec 2>err
contains 'bad.link: line 3' err || fail "a damaged link file: $(cat err)"
expect_status 66 osteo-sr --uid-root $root --link no.link -o refused pp.rec 2>err
[ -z "$(ls -A refused 2>/dev/null)" ] || fail "refused, yet wrote $(ls -A refused)"

# refused: no DICOM identity, no prediction, a source gone, bad roots; nothing written
osteo-decode -q --manifest syn/manifest.csv syn | osteo-normalize -q --size 32x32 --method zscore |
	osteo-infer -q --no-check -m m.model >png.rec
expect_status 65 osteo-sr --uid-root $root -o bad png.rec 2>err
contains 'no DICOM identity' err || fail "PNG records: $(cat err)"
osteo-decode -q "$export" >plain.rec
expect_status 65 osteo-sr --uid-root $root -o bad plain.rec 2>err
contains 'no prediction' err || fail "records without probs: $(cat err)"
mkdir moved && cp "$export"/* moved/
osteo-decode -q moved | osteo-normalize -q --window file --size 32x32 | osteo-infer -q --no-check -m m.model >moved.rec
rm moved/IM0004
expect_status 66 osteo-sr --uid-root $root -o bad moved.rec 2>err
contains 'IM0004' err || fail "a source gone: $(cat err)"
[ -z "$(ls -A bad 2>/dev/null)" ] || fail "refused, yet wrote $(ls -A bad)"
expect_status 64 osteo-sr -o bad p.rec
expect_status 64 osteo-sr --uid-root 1.02.3 -o bad p.rec
expect_status 64 osteo-sr --uid-root $root p.rec

# a full disk (ENOSPC when the first object is synced; a failed write() would do the same, but
# under AddressSanitizer the runtime's own first write() would take the error): 74, nothing left
if command -v strace >/dev/null; then
	expect_status 74 strace -f -qq -o /dev/null -e trace=fsync -e inject=fsync:error=ENOSPC:when=1 \
		osteo-sr -q --uid-root $root -o full p.rec 2>err
	contains 'No space left' err || fail "full disk: $(cat err)"
	[ -z "$(ls -A full)" ] || fail "full disk: left $(ls -A full)"
fi

# SIGTERM and SIGINT while the predictions come in: the signal's status, nothing in the folder
mkfifo in.fifo
exec 8<>in.fifo
for s in INT:130 TERM:143; do
	env --default-signal=INT,TERM osteo-sr -q --uid-root $root -o sig in.fifo >/dev/null 2>err & p=$!
	cat p.rec >&8
	sleep 0.5
	kill -"${s%:*}" $p
	st=0; wait $p || st=$?
	[ "$st" = "${s#*:}" ] || fail "SIG${s%:*}: exit $st, expected ${s#*:}: $(cat err)"
	[ -z "$(ls -A sig 2>/dev/null)" ] || fail "SIG${s%:*}: left $(ls -A sig)"
done
exec 8>&-
