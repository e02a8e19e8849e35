/*
 * pseudo.c - keyed pseudonyms (pseudo.h): HMAC-SHA256 through OpenSSL.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "pseudo.h"
#include "common/base/util.h"

void
pseudo_load(struct pseudo *p, const char *path)
{
	FILE *fp = fopen(path, "rb");

	if (!fp)
		die(EX_NOINPUT, "%s: cannot open the pseudonymisation key:", path);
	p->keylen = fread(p->key, 1, sizeof p->key, fp);
	int bad = ferror(fp), more = fgetc(fp) != EOF;
	fclose(fp);
	if (bad)
		die(EX_NOINPUT, "%s: read error:", path);
	if (more)
		die(EX_USAGE, "%s: a pseudonymisation key of more than %d bytes", path, PSEUDO_KEY_MAX);
	while (p->keylen && (p->key[p->keylen - 1] == '\n' || p->key[p->keylen - 1] == '\r'))
		p->keylen--;
	if (p->keylen < PSEUDO_KEY_MIN)
		die(EX_USAGE, "%s: a pseudonymisation key needs at least %d bytes (it has %zu); make one with "
		    "'head -c 32 /dev/urandom > KEYFILE'", path, PSEUDO_KEY_MIN, p->keylen);
}

void
pseudo_make(const struct pseudo *p, const char *kind, const char *value, char *out, size_t outlen)
{
	unsigned char mac[EVP_MAX_MD_SIZE], msg[1024];
	unsigned int n = 0;
	size_t kl = strlen(kind), vl = strlen(value);

	/* the domain first, so a patient's pseudonym is never also a UID's */
	if (kl + 1 + vl > sizeof msg)
		vl = sizeof msg - kl - 1;
	memcpy(msg, kind, kl);
	msg[kl] = 0;
	memcpy(msg + kl + 1, value, vl);
	if (!HMAC(EVP_sha256(), p->key, (int)p->keylen, msg, kl + 1 + vl, mac, &n) || n < 16)
		die(EX_SOFTWARE, "HMAC-SHA256 failed");
	if (!strcmp(kind, "patient"))
		snprintf(out, outlen, "P%02x%02x%02x%02x%02x%02x%02x%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
		         mac[5], mac[6], mac[7]);
	else if (!strcmp(kind, "uid")) {
		/* 2.25.N: a UID from a 128-bit number (ISO/IEC 9834-8), no leading zeros */
		unsigned __int128 v = 0;
		char digits[48];
		int nd = 0;
		for (int i = 0; i < 16; i++)
			v = v << 8 | mac[i];
		do {
			digits[nd++] = (char)('0' + (int)(v % 10));
			v /= 10;
		} while (v);
		size_t o = (size_t)snprintf(out, outlen, "2.25.");
		for (int i = nd - 1; i >= 0 && o + 1 < outlen; i--)
			out[o++] = digits[i];
		out[o < outlen ? o : outlen - 1] = 0;
	} else {
		size_t o = 0;
		for (int i = 0; i < 16 && o + 2 < outlen; i++)
			o += (size_t)snprintf(out + o, outlen - o, "%02x", mac[i]);
	}
}
