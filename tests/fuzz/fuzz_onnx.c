/* fuzz_onnx - the ONNX importer (common/onnx/import.c, onnx_import): a
 * protobuf-c parse of the file, the graph walked into a spec, the network
 * built and its weights matched; every refusal is a return with a message */
#include "fuzz.h"
#include "common/onnx/onnx.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct model m;
	char err[640];
	const char *path;

	fuzz_init();
	path = fuzz_file(data, size);
	memset(&m, 0, sizeof m);
	FUZZ_GUARD(onnx_import(path, NULL, size & 1, &m, err, sizeof err));
	model_free(&m);
	return 0;
}
