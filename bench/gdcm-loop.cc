/*
 * gdcm-loop - the reference for osteo-decode's DICOM benchmark: a bare GDCM
 * read loop over the files named (gdcm::ImageReader by file name, the
 * pixel data of every frame decoded into a reused buffer), no values
 * turned into anything and no record stream.  Prints the number of files
 * and the sum of their decoded bytes.
 */
#include <cstdio>
#include <vector>

#include <gdcmImageReader.h>
#include <gdcmTrace.h>

int
main(int argc, char **argv)
{
	std::vector<char> buf;
	unsigned long long total = 0;
	int files = 0;

	gdcm::Trace::WarningOff();   /* as osteo-decode has them */

	for (int i = 1; i < argc; i++) {
		gdcm::ImageReader r;
		r.SetFileName(argv[i]);
		if (!r.Read()) {
			fprintf(stderr, "gdcm-loop: %s: cannot read\n", argv[i]);
			return 65;
		}
		const gdcm::Image &im = r.GetImage();
		unsigned long n = im.GetBufferLength();
		if (buf.size() < n)
			buf.resize(n);
		if (!im.GetBuffer(buf.data())) {
			fprintf(stderr, "gdcm-loop: %s: cannot decode\n", argv[i]);
			return 65;
		}
		total += n;
		files++;
	}
	printf("%d files %llu bytes\n", files, total);
	return 0;
}
