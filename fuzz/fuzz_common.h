/*
 * fuzz_common: what the wire fuzz targets share: libsodium and the test
 * keyring of tests/vectors (parsed from a copy, so the target needs no file).
 */
#ifndef CMEM_FUZZ_COMMON_H
#define CMEM_FUZZ_COMMON_H

#include <stdlib.h>

#include <sodium.h>

#include "keyring.h"
#include "testkey.h" /* the test key, from tests/vectors/keyring */

#define FUZZ_NOW 1764172800u
#define FUZZ_WINDOW 30u

static const char fuzz_vector_keyring[] = TEST_KEYRING_TEXT;

/* sodium_init and the vector keyring; aborts if either fails. */
static inline struct keyring *fuzz_init_keyring(void)
{
	char err[KEYRING_ERRLEN];
	struct keyring *kr;

	if (sodium_init() < 0)
		abort();
	kr = keyring_parse("vectors", fuzz_vector_keyring, sizeof(fuzz_vector_keyring) - 1, err,
	                   sizeof(err));
	if (kr == NULL)
		abort();
	return kr;
}

#endif
