/* fuzz_arch - the --arch spec: parsed and sized for a small input, then
 * one forward pass, so a spec that parses but sizes a layer wrong shows */
#include "fuzz.h"
#include "engine/spec/net.h"
#include "engine/ref/ref.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static float x[1 * 16 * 16], clin[4];
	const char *err = NULL;
	struct net *n;

	fuzz_init();
	if (size > 4096)
		return 0;
	n = net_new(fuzz_string(data, size), 1, 16, 16, 2, 3, &err);
	if (!n)
		return 0;
	/* specs that build a huge net are refused by net_new's own limit;
	 * the rest are run once */
	net_init(n, 1);
	net_reserve(n, 1);
	ref_forward(n, x, clin, 1, 0, NULL);
	net_free(n);
	return 0;
}
