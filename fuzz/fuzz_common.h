/*
 * fuzz_common: what the wire fuzz targets share: libsodium and the test
 * keyring of tests/vectors (parsed from a copy, so the target needs no file).
 */
#ifndef CMEM_FUZZ_COMMON_H
#define CMEM_FUZZ_COMMON_H

#include <stdlib.h>

#include <sodium.h>

#include "keyring.h"

#define FUZZ_NOW 1764172800u
#define FUZZ_WINDOW 30u

/* tests/vectors/keyring */
static const char fuzz_vector_keyring[] =
	"1 93a61365900abee44daa0730506b48ef0085d44e8108630e942b46159e354112 primary\n"
	"2 ec2b3f68a179d7401c9914ab6812df21aff82a40e1979c4738912b4263490584\n";

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
