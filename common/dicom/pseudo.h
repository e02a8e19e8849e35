/*
 * pseudo.h - keyed pseudonyms for identifiers that leave the hospital
 * (osteo-decode --pseudonymize, osteo-fuse --pseudonymize): HMAC-SHA256
 * (OpenSSL's libcrypto) of the value under a secret key, so the same
 * patient gets the same pseudonym in every export made with that key,
 * and nobody without the key can tell who it is or test a guess.
 */
#ifndef OSTEO_PSEUDO_H
#define OSTEO_PSEUDO_H

#include <stddef.h>

#define PSEUDO_KEY_MIN 16        /* bytes: a shorter key can be guessed */
#define PSEUDO_KEY_MAX 4096

struct pseudo {
	unsigned char key[PSEUDO_KEY_MAX];
	size_t keylen;
};

/* the key file's bytes (a trailing newline dropped); dies naming the file
 * with 66 when it cannot be read, 64 when it is shorter than
 * PSEUDO_KEY_MIN bytes */
void pseudo_load(struct pseudo *p, const char *path);
/* the pseudonym of value in the domain `kind` ("patient", "uid", "id"):
 * patients as "P" and 16 hex digits, UIDs as a valid UID under the root
 * 2.25 (a decimal 128-bit number), anything else as 32 hex digits */
void pseudo_make(const struct pseudo *p, const char *kind, const char *value, char *out, size_t outlen);

#endif
