/*
 * sha256.c - a file's SHA-256 (sha256.h).
 */
#include "sha256.h"
#include "util.h"

#include <openssl/evp.h>
#include <stdio.h>

void
file_sha256(const char *path, char hex[65])
{
	unsigned char buf[1 << 16], md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	size_t n;
	FILE *fp = fopen(path, "rb");
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (!fp)
		die(EX_NOINPUT, "%s: cannot open:", path);
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		die(EX_SOFTWARE, "libcrypto: no SHA-256");
	while ((n = fread(buf, 1, sizeof buf, fp)) > 0)
		EVP_DigestUpdate(ctx, buf, n);
	if (ferror(fp))
		die(EX_IOERR, "%s: read error:", path);
	fclose(fp);
	EVP_DigestFinal_ex(ctx, md, &len);
	EVP_MD_CTX_free(ctx);
	for (unsigned int i = 0; i < len && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	hex[64] = 0;
}
