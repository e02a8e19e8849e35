/*
 * gdcm.cc - GDCM behind a C function, gdcm_read (dicom.h): parse a DICOM
 * file held in memory, decode its pixel data (every transfer syntax GDCM
 * has a codec for), and keep the header values osteo reads.  It runs in
 * dicom.c's worker process; the values' meaning (LUTs, inversion, dtypes)
 * is dicom.c's, in C.
 */
#include <cstring>
#include <istream>
#include <new>
#include <sstream>
#include <streambuf>
#include <string>
#include <vector>

#include <gdcmDataSet.h>
#include <gdcmImage.h>
#include <gdcmImageChangePhotometricInterpretation.h>
#include <gdcmImageApplyLookupTable.h>
#include <gdcmImageReader.h>
#include <gdcmReader.h>
#include <gdcmTrace.h>
#include <gdcmUIDs.h>

#include "dicom.h"

/* the file's bytes as a stream, not copied: GDCM seeks back and forth */
struct membuf : std::streambuf {
	membuf(const unsigned char *p, size_t n)
	{
		char *b = (char *)p;
		setg(b, b, b + n);
	}
	pos_type seekoff(off_type off, std::ios_base::seekdir dir, std::ios_base::openmode) override
	{
		char *to = dir == std::ios_base::beg ? eback() + off : dir == std::ios_base::cur ? gptr() + off :
		           egptr() + off;
		if (to < eback() || to > egptr())
			return pos_type(off_type(-1));
		setg(eback(), to, egptr());
		return pos_type(to - eback());
	}
	pos_type seekpos(pos_type pos, std::ios_base::openmode m) override
	{
		return seekoff(off_type(pos), std::ios_base::beg, m);
	}
	/* GDCM keeps what a truncated file holds and calls it read; a value
	 * cut short is told here from the end of the dataset (a tag, VR or
	 * length read there, or trailing padding: 8 bytes or fewer) and from
	 * the preamble tried on a file without one (a read from byte 0) */
	std::streamsize xsgetn(char *s, std::streamsize n) override
	{
		std::streamsize have = egptr() - gptr(), got = n < have ? n : have;
		if (got < n && n > 8 && gptr() != eback())
			cut = true;
		memcpy(s, gptr(), (size_t)got);
		gbump((int)got);
		return got;
	}
	bool cut = false;
};

static const gdcm::Tag field_tags[DCM_FIELDS] = {
	gdcm::Tag(0x0010, 0x0020), gdcm::Tag(0x0010, 0x0040), gdcm::Tag(0x0010, 0x1010), gdcm::Tag(0x0020, 0x000d),
	gdcm::Tag(0x0020, 0x000e), gdcm::Tag(0x0008, 0x0018), gdcm::Tag(0x0008, 0x0060),
	gdcm::Tag(0x0018, 0x0015), gdcm::Tag(0x0018, 0x5101), gdcm::Tag(0x0020, 0x0060),
	gdcm::Tag(0x0020, 0x0062), gdcm::Tag(0x0028, 0x0030), gdcm::Tag(0x0018, 0x1164),
	gdcm::Tag(0x0028, 0x1050), gdcm::Tag(0x0028, 0x1051), gdcm::Tag(0x0028, 0x0301),
};

/* GDCM's own complaints (where its release build makes any) */
static std::ostringstream trace;

/* a code string without its padding */
static void
code(char *out, size_t n, const char *s)
{
	snprintf(out, n, "%s", s ? s : "");
	for (size_t l = strlen(out); l > 0 && out[l - 1] == ' '; l--)
		out[l - 1] = 0;
}

/* the pixel layout GDCM gives for an image */
static void
take_format(const gdcm::Image *im, struct dcm_image *img)
{
	const gdcm::PixelFormat &pf = im->GetPixelFormat();

	img->samples = pf.GetSamplesPerPixel();
	img->bits_allocated = pf.GetBitsAllocated();
	img->bits_stored = pf.GetBitsStored();
	img->high_bit = pf.GetHighBit();
	img->is_signed = pf.GetPixelRepresentation() == 1;
}

static int
failed(char *err, size_t errlen, const std::string &msg)
{
	snprintf(err, errlen, "%s", msg.c_str());
	return DCM_ERROR;
}

static void
keep_fields(struct dcm_result *res, const gdcm::DataSet &ds)
{
	for (int f = 0; f < DCM_FIELDS; f++) {
		std::string s;
		res->fields[f][0] = 0;
		if (!ds.FindDataElement(field_tags[f]))
			continue;
		const gdcm::ByteValue *bv = ds.GetDataElement(field_tags[f]).GetByteValue();
		if (bv && bv->GetPointer())
			s.assign(bv->GetPointer(), bv->GetLength());
		/* value padding: a trailing space or NUL; NULs inside end the value */
		s.resize(strnlen(s.c_str(), s.size()));
		while (!s.empty() && (s.back() == ' '))
			s.pop_back();
		size_t lead = s.find_first_not_of(' ');
		s.erase(0, lead == std::string::npos ? s.size() : lead);
		snprintf(res->fields[f], sizeof res->fields[f], "%s", s.c_str());
	}
}

/*
 * RLE Lossless by rle.c, frame by frame: each frame is one fragment
 * (PS3.5 A.4.2), or a single frame's fragments joined.  The pixels come
 * out one plane per sample.
 */
static int
rle_frames(const gdcm::Image *im, struct dcm_image *img, unsigned char *px, char *err, size_t errlen)
{
	const gdcm::SequenceOfFragments *sf = im->GetDataElement().GetSequenceOfFragments();
	size_t nfrag = sf ? sf->GetNumberOfFragments() : 0;
	int bytes = img->bits_allocated / 8;
	size_t plane = (size_t)img->rows * img->cols, frame = plane * img->samples * bytes;

	if (!nfrag || (nfrag != (size_t)img->frames && img->frames != 1))
		return failed(err, errlen, "RLE: " + std::to_string(nfrag) + " fragments for " +
		              std::to_string(img->frames) + " frames");
	std::vector<unsigned char> scratch(plane), joined;
	for (int f = 0; f < img->frames; f++) {
		const unsigned char *p;
		size_t n;
		if (nfrag == (size_t)img->frames) {
			const gdcm::ByteValue *bv = sf->GetFragment(f).GetByteValue();
			if (!bv || !bv->GetPointer())
				return failed(err, errlen, "RLE: frame " + std::to_string(f + 1) + " has no data");
			p = (const unsigned char *)bv->GetPointer();
			n = bv->GetLength();
		} else {
			for (size_t i = 0; i < nfrag; i++) {
				const gdcm::ByteValue *bv = sf->GetFragment(i).GetByteValue();
				if (bv && bv->GetPointer())
					joined.insert(joined.end(), bv->GetPointer(), bv->GetPointer() + bv->GetLength());
			}
			p = joined.data();
			n = joined.size();
		}
		if (rle_decode_frame(p, n, img->rows, img->cols, img->samples, bytes, px + f * frame, scratch.data(),
		                     err, errlen) < 0)
			return DCM_ERROR;
	}
	if (img->samples == 3)
		img->planar = 1;
	return 0;
}

/* why ImageReader refused: no image at all, or a dataset GDCM cannot parse */
static int
why_not(const unsigned char *buf, size_t len, char *err, size_t errlen)
{
	membuf mb(buf, len);
	std::istream in(&mb);
	gdcm::Reader r;
	r.SetStream(in);
	if (!r.Read())
		return failed(err, errlen, "not a DICOM dataset GDCM can parse (truncated or malformed)");
	const gdcm::DataSet &ds = r.GetFile().GetDataSet();
	if (!ds.FindDataElement(gdcm::Tag(0x7fe0, 0x0010)) && !ds.FindDataElement(gdcm::Tag(0x7fe0, 0x0008)) &&
	    !ds.FindDataElement(gdcm::Tag(0x7fe0, 0x0009)))
		return DCM_NOPIXELS;
	return failed(err, errlen, "GDCM cannot read its image (its pixel description is incomplete or inconsistent)");
}

extern "C" int
gdcm_read(const unsigned char *buf, size_t len, size_t max_pixels, struct dcm_result *res,
          unsigned char *(*out)(size_t n, void *ctx), void *ctx, char *err, size_t errlen)
{
	struct dcm_image *img = &res->img;
	static int once;

	if (!once++) {
		gdcm::Trace::SetStream(trace);
		gdcm::Trace::WarningOff();
		gdcm::Trace::DebugOff();
	}
	memset(img, 0, sizeof *img);
	trace.str("");
	try {
		membuf mb(buf, len);
		std::istream in(&mb);
		gdcm::ImageReader r;
		r.SetStream(in);
		if (!r.Read())
			return why_not(buf, len, err, errlen);
		/* (deflate reads the stream in blocks: zlib tells a cut one) */
		if (mb.cut && r.GetImage().GetTransferSyntax() != gdcm::TransferSyntax::DeflatedExplicitVRLittleEndian)
			return failed(err, errlen, "truncated: the file ends inside an element (" +
			              std::to_string(len) + " bytes)");
		keep_fields(res, r.GetFile().GetDataSet());
		const gdcm::Image *im = &r.GetImage();
		const gdcm::TransferSyntax &ts = im->GetTransferSyntax();
		const char *tsuid = ts.GetString();
		gdcm::UIDs uid;
		std::string ts_name = tsuid && uid.SetFromUID(tsuid) ? uid.GetName() : "unknown transfer syntax";
		snprintf(img->ts_uid, sizeof img->ts_uid, "%s", tsuid ? tsuid : "");
		snprintf(res->ts_name, sizeof res->ts_name, "%s", ts_name.c_str());
		code(img->photometric_file, sizeof img->photometric_file,
		     gdcm::PhotometricInterpretation::GetPIString(im->GetPhotometricInterpretation()));

		img->cols = (int)im->GetDimension(0);
		img->rows = (int)im->GetDimension(1);
		img->frames = im->GetNumberOfDimensions() > 2 ? (int)im->GetDimension(2) : 1;
		take_format(im, img);
		if (img->rows <= 0 || img->cols <= 0 || img->frames <= 0)
			return failed(err, errlen, "an image of no pixels");
		if (img->samples != 1 && img->samples != 3)
			return failed(err, errlen, std::to_string(img->samples) + " samples per pixel (1 or 3 are read)");
		if (img->bits_allocated != 8 && img->bits_allocated != 16 && img->bits_allocated != 32)
			return failed(err, errlen, std::to_string(img->bits_allocated) +
			              " bits allocated per sample (8, 16 or 32 are read)");
		if (img->bits_stored < 1 || img->bits_stored > img->bits_allocated ||
		    img->high_bit < img->bits_stored - 1 || img->high_bit >= img->bits_allocated)
			return failed(err, errlen, "bits stored " + std::to_string(img->bits_stored) + ", high bit " +
			              std::to_string(img->high_bit) + " do not fit " +
			              std::to_string(img->bits_allocated) + " bits allocated");
		double npx = (double)img->rows * img->cols * img->frames;
		if (npx > (double)max_pixels) {
			snprintf(err, errlen, "%dx%d pixels x %d frames: more than the limit of %zu pixels (--max-pixels)",
			         img->cols, img->rows, img->frames, max_pixels);
			return DCM_ERROR;
		}

		/* colour as RGB: a palette through its LUT; YBR_FULL (JPEG's
		 * YCbCr, which GDCM's JPEG codec leaves as it is) through GDCM's
		 * equations once decoded; JPEG 2000's YBR_RCT and YBR_ICT come out
		 * of OpenJPEG as RGB already */
		gdcm::ImageApplyLookupTable lut;
		const gdcm::PhotometricInterpretation &pi = im->GetPhotometricInterpretation();
		int ybr = pi == gdcm::PhotometricInterpretation::YBR_FULL ||
		          pi == gdcm::PhotometricInterpretation::YBR_FULL_422;
		if (pi == gdcm::PhotometricInterpretation::PALETTE_COLOR) {
			lut.SetInput(*im);
			if (!lut.Apply())
				return failed(err, errlen, "GDCM cannot apply its palette");
			im = &lut.GetOutput();
		}
		take_format(im, img);   /* a palette's output is RGB */
		img->planar = img->samples == 3 ? (int)im->GetPlanarConfiguration() : 0;
		img->slope = im->GetSlope();
		img->intercept = im->GetIntercept();
		const char *pis = gdcm::PhotometricInterpretation::GetPIString(im->GetPhotometricInterpretation());
		code(img->photometric, sizeof img->photometric, img->samples == 3 ? "RGB" : pis);

		size_t want = (size_t)img->rows * img->cols * img->frames * img->samples * (img->bits_allocated / 8);
		size_t have = im->GetBufferLength();
		if (have < want)
			return failed(err, errlen, "its pixel data holds " + std::to_string(have) + " bytes; " +
			              std::to_string(img->cols) + "x" + std::to_string(img->rows) + " x " +
			              std::to_string(img->frames) + " frames need " + std::to_string(want));
		unsigned char *px = out(have, ctx);
		if (!px)
			return failed(err, errlen, "out of memory for " + std::to_string(have) + " bytes of pixels");
		if (ts == gdcm::TransferSyntax::RLELossless &&
		    im->GetPhotometricInterpretation() != gdcm::PhotometricInterpretation::PALETTE_COLOR) {
			if (rle_frames(im, img, px, err, errlen) < 0)
				return DCM_ERROR;
		} else if (!im->GetBuffer((char *)px)) {
			std::string why = trace.str();
			return failed(err, errlen, "GDCM cannot decode its pixel data (" + ts_name + ")" +
			              (why.empty() ? "" : ": " + why.substr(0, why.find('\n'))));
		}
		/* big endian 32-bit values: GDCM swaps them as 16-bit words, so
		 * their halves come out crossed (1249000 as 250085395); put them
		 * back (tests/fixtures/dicom's be32 pins the values) */
		if (ts == gdcm::TransferSyntax::ExplicitVRBigEndian && img->bits_allocated == 32)
			for (size_t k = 0; k + 4 <= want; k += 4) {
				unsigned char t0 = px[k], t1 = px[k + 1];
				px[k] = px[k + 2];
				px[k + 1] = px[k + 3];
				px[k + 2] = t0;
				px[k + 3] = t1;
			}
		if (ybr && img->samples == 3 && img->bits_allocated == 8) {
			unsigned char *p = px;
			size_t plane = (size_t)img->rows * img->cols, n = plane * img->frames;
			for (size_t k = 0; k < n; k++) {
				/* interleaved YBRYBR..., or planar per frame */
				size_t f = k / plane, q = k % plane;
				size_t at[3];
				for (int c = 0; c < 3; c++)
					at[c] = img->planar ? (f * 3 + c) * plane + q : 3 * k + c;
				unsigned char ybr3[3] = { p[at[0]], p[at[1]], p[at[2]] }, rgb[3];
				gdcm::ImageChangePhotometricInterpretation::YBR2RGB(rgb, ybr3, 8);
				for (int c = 0; c < 3; c++)
					p[at[c]] = rgb[c];
			}
		} else if (ybr)
			return failed(err, errlen, "YBR colour of " + std::to_string(img->bits_allocated) +
			              " bits (8 are read)");
		img->pixels = px;
		img->nbytes = want;
		return DCM_OK;
	} catch (const std::bad_alloc &) {
		return failed(err, errlen, "GDCM needed more memory than a file of " + std::to_string(len) +
		              " bytes is allowed (osteo(7), SECURITY: GDCM's worker)");
	} catch (const std::exception &e) {
		return failed(err, errlen, std::string("GDCM: ") + e.what());
	} catch (...) {
		return failed(err, errlen, "GDCM failed on it");
	}
}
