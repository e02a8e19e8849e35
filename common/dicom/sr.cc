/*
 * sr.cc - osteo-sr's objects through dcmtk (sr.h).  The report is a
 * Comprehensive SR rather than TID 1500's measurement report: the answer
 * is a classification of the study and of each image, with no region,
 * tracking identifier or measurement group for TID 1500's slots to hold,
 * and Comprehensive SR lets each image's answer sit in a container with
 * a reference to the image.
 * Concepts with a code in DCM (the algorithm's name and version) use it;
 * the rest are in the local scheme 99OSTEO, declared in the document's
 * coding scheme identification as local schemes must be.
 */
#include "sr.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmdata/dcostrmb.h>
#include <dcmtk/dcmsr/dsrdoc.h>
#include <dcmtk/dcmsr/dsrcodvl.h>
#include <dcmtk/dcmsr/dsrnumvl.h>
#include <dcmtk/dcmsr/dsrimgvl.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

static const char SCHEME[] = "99OSTEO";

/* dcmtk's log says what it skipped (the pixels, which no report reads)
 * on standard error; osteo-sr says what went wrong itself */
static struct quiet_dcmtk {
	quiet_dcmtk() { OFLog::configure(OFLogger::FATAL_LOG_LEVEL); }
} quiet;

static int
fail(char *err, size_t n, const std::string &what, const OFCondition &c)
{
	snprintf(err, n, "%s: %s", what.c_str(), c.text());
	return -1;
}

/* the source's header without its pixels: a report needs none */
static OFCondition
load_header(const char *path, DcmFileFormat &ff)
{
	return ff.loadFileUntilTag(path, EXS_Unknown, EGL_noChange, DCM_MaxReadLength, ERM_autoDetect, DCM_PixelData);
}

int
sr_read_source(const char *path, struct sr_source *s, char *err, size_t errlen)
{
	DcmFileFormat ff;
	OFCondition c = load_header(path, ff);
	if (c.bad())
		return fail(err, errlen, "not a DICOM file dcmtk reads", c);
	DcmDataset *d = ff.getDataset();
	const struct { DcmTagKey tag; char *out; const char *name; } want[] = {
		{ DCM_StudyInstanceUID, s->study, "StudyInstanceUID" },
		{ DCM_SeriesInstanceUID, s->series, "SeriesInstanceUID" },
		{ DCM_SOPInstanceUID, s->sop, "SOPInstanceUID" },
		{ DCM_SOPClassUID, s->sop_class, "SOPClassUID" },
	};
	for (const auto &w : want) {
		OFString v;
		if (d->findAndGetOFString(w.tag, v).bad() || v.empty() || v.length() >= SR_UID) {
			snprintf(err, errlen, "no %s", w.name);
			return -1;
		}
		snprintf(w.out, SR_UID, "%s", v.c_str());
	}
	return 0;
}

/* the patient and study as the source has them, so the PACS puts the new
 * object beside the images: what the modules require (type 2) is empty
 * where the source lacks it, the rest left out */
static const struct { DcmTagKey tag; bool type2; } patient_study[] = {
	{ DCM_PatientName, true }, { DCM_PatientID, true }, { DCM_PatientBirthDate, true }, { DCM_PatientSex, true },
	{ DCM_StudyInstanceUID, true }, { DCM_StudyDate, true }, { DCM_StudyTime, true },
	{ DCM_ReferringPhysicianName, true }, { DCM_StudyID, true }, { DCM_AccessionNumber, true },
	{ DCM_IssuerOfPatientID, false }, { DCM_StudyDescription, false }, { DCM_SpecificCharacterSet, false },
};


static OFCondition
copy_attrs(DcmDataset *from, DcmDataset *to, const DcmTagKey &tag, bool type2)
{
	OFString v;

	if (from->findAndGetOFStringArray(tag, v).good() && !v.empty())
		return to->putAndInsertOFStringArray(tag, v);
	if (type2)
		return to->putAndInsertString(tag, "");
	delete to->remove(tag);
	return EC_Normal;
}

static OFCondition
copy_patient_study(const char *source, DcmDataset *to, bool image)
{
	DcmFileFormat ff;
	OFCondition c = load_header(source, ff);
	if (c.bad())
		return c;
	DcmDataset *from = ff.getDataset();
	for (const auto &t : patient_study)
		if ((c = copy_attrs(from, to, t.tag, t.type2)).bad())
			return c;
	/* an image of the source's: its side, empty if unknown (type 2C in
	 * the General Series module: wanted where the body part is a paired
	 * one; the body part, type 3, is left out so that no validator
	 * second-guesses which parts are paired) */
	if (image && (c = copy_attrs(from, to, DCM_Laterality, true)).bad())
		return c;
	return EC_Normal;
}

static std::string
num(double v)
{
	char s[32];
	snprintf(s, sizeof s, "%.6g", v);
	return s;
}

static std::string
now(const char *fmt)
{
	char s[32];
	time_t t = time(NULL);
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(s, sizeof s, fmt, &tm);
	return s;
}

static DSRCodedEntryValue
local(const std::string &code, const std::string &meaning)
{
	return DSRCodedEntryValue(code.substr(0, 16).c_str(), SCHEME, meaning.substr(0, 64).c_str());
}

/* a class's code: its index, as class names need not fit a code value */
static DSRCodedEntryValue
class_code(const struct sr_study *s, int c)
{
	return local("C" + std::to_string(c), s->classes[c]);
}

/* an answer below the current item: the class, each probability, the
 * risk and the uncertainty */
static OFCondition
add_answer(DSRDocumentTree &t, const struct sr_study *s, const struct sr_answer *a)
{
	static const DSRCodedEntryValue unit("1", "UCUM", "no units");
	OFCondition c = t.addChildContentItem(DSRTypes::RT_contains, DSRTypes::VT_Code, local("class", "Predicted class"));
	if (c.good())
		c = t.getCurrentContentItem().setCodeValue(class_code(s, a->pred));
	for (int k = 0; c.good() && k < s->k; k++) {
		c = t.addContentItem(DSRTypes::RT_contains, DSRTypes::VT_Num,
		                     local("P" + std::to_string(k), std::string("Probability of ") + s->classes[k]));
		if (c.good())
			c = t.getCurrentContentItem().setNumericValue(DSRNumericMeasurementValue(num(a->p[k]).c_str(), unit));
	}
	if (c.good())
		c = t.addContentItem(DSRTypes::RT_contains, DSRTypes::VT_Num, local("risk", "Risk score"));
	if (c.good())
		c = t.getCurrentContentItem().setNumericValue(DSRNumericMeasurementValue(num(a->risk).c_str(), unit));
	if (c.good() && !std::isnan(a->unc)) {
		c = t.addContentItem(DSRTypes::RT_contains, DSRTypes::VT_Num,
		                     local("uncertainty", "Uncertainty (one less the largest probability)"));
		if (c.good())
			c = t.getCurrentContentItem().setNumericValue(DSRNumericMeasurementValue(num(a->unc).c_str(), unit));
	}
	return c;
}

static OFCondition
add_text(DSRDocumentTree &t, const DSRCodedEntryValue &concept, const std::string &value, bool child)
{
	OFCondition c = child ? t.addChildContentItem(DSRTypes::RT_contains, DSRTypes::VT_Text, concept)
	                      : t.addContentItem(DSRTypes::RT_contains, DSRTypes::VT_Text, concept);
	if (c.good())
		c = t.getCurrentContentItem().setStringValue(value.c_str());
	return c;
}

/*
 * The finished dataset, with the series and instance UIDs given, as a
 * DICOM file's bytes (malloc'd) for the caller to write: dcmtk's
 * saveFile does not report a write that failed (ENOSPC gave a short file
 * and success), so the bytes are written where errors are checked.
 */
static OFCondition
to_bytes(DcmFileFormat &ff, const char *series_uid, const char *sop_uid, unsigned char **out, size_t *outlen)
{
	const E_TransferSyntax x = EXS_LittleEndianExplicit;
	DcmDataset *d = ff.getDataset();
	OFCondition c = d->putAndInsertString(DCM_SeriesInstanceUID, series_uid);
	std::vector<char> chunk(1 << 16);
	std::vector<unsigned char> all;
	DcmOutputBufferStream os(chunk.data(), (offile_off_t)chunk.size());
	void *p;
	offile_off_t n;

	if (c.good())
		c = d->putAndInsertString(DCM_SOPInstanceUID, sop_uid);
	if (c.good())
		c = ff.validateMetaInfo(x);
	if (c.bad())
		return c;
	ff.transferInit();
	while ((c = ff.write(os, x, EET_ExplicitLength, NULL)) == EC_StreamNotifyClient) {
		os.flushBuffer(p, n);
		all.insert(all.end(), (unsigned char *)p, (unsigned char *)p + n);
	}
	ff.transferEnd();
	os.flush();
	os.flushBuffer(p, n);
	all.insert(all.end(), (unsigned char *)p, (unsigned char *)p + n);
	if (c.bad())
		return c;
	if (!(*out = (unsigned char *)malloc(all.size() ? all.size() : 1)))
		return EC_MemoryExhausted;
	memcpy(*out, all.data(), all.size());
	*outlen = all.size();
	return EC_Normal;
}

int
sr_make_report(const struct sr_study *s, const char *series_uid, const char *sop_uid, unsigned char **buf,
               size_t *len, char *err, size_t errlen)
{
	DSRDocument doc(DSRTypes::DT_ComprehensiveSR);
	DSRDocumentTree &t = doc.getTree();
	OFCondition c;

	doc.getCodingSchemeIdentification().addItem(SCHEME, "", "osteo's local concepts", "osteo");
	doc.setManufacturer("osteo");
	doc.setSoftwareVersions(s->version);
	doc.setSeriesDescription("osteo: bone health classification");
	doc.setSeriesNumber("9901");
	doc.setInstanceNumber("1");
	c = t.addContentItem(DSRTypes::RT_isRoot, DSRTypes::VT_Container, local("report", "Bone health classification"));
	if (c.bad())
		return fail(err, errlen, "the report's root", c);
	/* the algorithm: DCM's codes for its name and version */
	c = add_text(t, DSRCodedEntryValue("111001", "DCM", "Algorithm Name"), s->model_file, true);
	if (c.good())
		c = add_text(t, DSRCodedEntryValue("111003", "DCM", "Algorithm Version"), s->version, false);
	if (c.good())
		c = add_text(t, local("model-sha256", "Model file SHA-256"), s->model_sha256, false);
	/* the study's answer, then each image's beside a reference to it */
	if (c.good())
		c = t.addContentItem(DSRTypes::RT_contains, DSRTypes::VT_Container, local("study", "Study result"));
	if (c.good())
		c = add_answer(t, s, &s->all);
	if (c.good())
		t.goUp();
	for (int i = 0; c.good() && i < s->n; i++) {
		const struct sr_image *im = &s->img[i];
		c = t.addContentItem(DSRTypes::RT_contains, DSRTypes::VT_Container, local("image", "Image result"));
		if (c.good())
			c = add_answer(t, s, &im->a);
		if (c.good())
			c = t.addContentItem(DSRTypes::RT_contains, DSRTypes::VT_Image, local("source", "Source image"));
		if (c.good())
			c = t.getCurrentContentItem().setImageReference(
				DSRImageReferenceValue(im->src.sop_class, im->src.sop));
		if (c.good())
			c = doc.getCurrentRequestedProcedureEvidence().addItem(im->src.study, im->src.series,
			                                                       im->src.sop_class, im->src.sop);
		if (c.good())
			t.goUp();
	}
	if (c.bad())
		return fail(err, errlen, "the report's content", c);
	doc.setContentDate(now("%Y%m%d").c_str());
	doc.setContentTime(now("%H%M%S").c_str());
	/* a machine's answer: complete, and verified by no one */
	doc.completeDocument();

	DcmFileFormat ff;
	c = doc.write(*ff.getDataset());
	if (c.bad())
		return fail(err, errlen, "dcmsr", c);
	c = copy_patient_study(s->img[0].path, ff.getDataset(), false);
	if (c.bad())
		return fail(err, errlen, std::string(s->img[0].path) + ": its patient and study", c);
	c = to_bytes(ff, series_uid, sop_uid, buf, len);
	if (c.bad())
		return fail(err, errlen, "the report", c);
	return 0;
}

int
sr_make_heatmap(const struct sr_study *s, int i, const char *series_uid, const char *sop_uid, unsigned char **buf,
                size_t *len, char *err, size_t errlen)
{
	const struct sr_image *im = &s->img[i];
	DcmFileFormat ff;
	DcmDataset *d = ff.getDataset();
	OFCondition c;
	size_t n = (size_t)im->hh * im->hw;
	std::vector<Uint8> px(n);
	float lo = INFINITY, hi = -INFINITY;

	/* the map's range onto 0..255: a picture to look at, not values to
	 * compute with (those stay in the record) */
	for (size_t j = 0; j < n; j++)
		if (std::isfinite(im->heat[j])) {
			lo = std::fmin(lo, im->heat[j]);
			hi = std::fmax(hi, im->heat[j]);
		}
	for (size_t j = 0; j < n; j++)
		px[j] = !std::isfinite(im->heat[j]) || !(hi > lo) ? 0
		      : (Uint8)std::lround(255.0 * (im->heat[j] - lo) / (hi - lo));

	c = copy_patient_study(im->path, d, true);
	std::string desc = std::string("osteo heat map") + (im->heat_mode ? std::string(" (") + im->heat_mode + ")" : "") +
	                   (im->heat_class >= 0 && im->heat_class < s->k ? std::string(" of ") + s->classes[im->heat_class] : "");
	const struct { DcmTagKey tag; std::string v; } attrs[] = {
		{ DCM_SOPClassUID, UID_SecondaryCaptureImageStorage },
		{ DCM_Modality, "OT" },
		{ DCM_ConversionType, "WSD" },
		{ DCM_SeriesNumber, "9902" },
		{ DCM_InstanceNumber, std::to_string(i + 1) },
		{ DCM_SeriesDescription, "osteo: heat maps" },
		{ DCM_DerivationDescription, desc },
		{ DCM_ImageType, "DERIVED\\SECONDARY" },
		{ DCM_Manufacturer, "osteo" },
		{ DCM_SoftwareVersions, s->version },
		{ DCM_ContentDate, now("%Y%m%d") },
		{ DCM_ContentTime, now("%H%M%S") },
		{ DCM_PatientOrientation, "" },
		{ DCM_PhotometricInterpretation, "MONOCHROME2" },
		{ DCM_BurnedInAnnotation, "NO" },
	};
	for (const auto &a : attrs)
		if (c.good())
			c = d->putAndInsertOFStringArray(a.tag, a.v.c_str());
	if (c.good())
		c = d->putAndInsertUint16(DCM_SamplesPerPixel, 1);
	if (c.good())
		c = d->putAndInsertUint16(DCM_Rows, (Uint16)im->hh);
	if (c.good())
		c = d->putAndInsertUint16(DCM_Columns, (Uint16)im->hw);
	if (c.good())
		c = d->putAndInsertUint16(DCM_BitsAllocated, 8);
	if (c.good())
		c = d->putAndInsertUint16(DCM_BitsStored, 8);
	if (c.good())
		c = d->putAndInsertUint16(DCM_HighBit, 7);
	if (c.good())
		c = d->putAndInsertUint16(DCM_PixelRepresentation, 0);
	/* the image the map is of */
	DcmItem *src = NULL;
	if (c.good())
		c = d->findOrCreateSequenceItem(DCM_SourceImageSequence, src, -2);
	if (c.good())
		c = src->putAndInsertString(DCM_ReferencedSOPClassUID, im->src.sop_class);
	if (c.good())
		c = src->putAndInsertString(DCM_ReferencedSOPInstanceUID, im->src.sop);
	if (c.good())
		c = d->putAndInsertUint8Array(DCM_PixelData, px.data(), (unsigned long)n);
	if (c.bad())
		return fail(err, errlen, "the heat map's attributes", c);
	c = to_bytes(ff, series_uid, sop_uid, buf, len);
	if (c.bad())
		return fail(err, errlen, "the heat map", c);
	return 0;
}
