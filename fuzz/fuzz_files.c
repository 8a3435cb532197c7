/*
 * fuzz_files: the parsers of files an operator is handed: keyrings
 * (keyring_parse), sealed bundles (keyfile_bundle_parse) and hosts files
 * (keyfile_hosts_parse).  The first byte chooses the parser, the rest is
 * the file.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keyfile.h"
#include "keyring.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	return 0;
}

static void keyring_case(const char *text, size_t len)
{
	char err[KEYRING_ERRLEN];
	struct keyring *kr = keyring_parse("fuzz", text, len, err, sizeof(err));

	if (kr == NULL)
		return;
	/* an accepted ring has exactly one primary and formats back to a ring */
	if (keyring_primary(kr) == NULL || !keyring_primary(kr)->primary)
		abort();
	{
		size_t flen = 0;
		char *f = keyring_format(kr, &flen);
		struct keyring *again = f ? keyring_parse("again", f, flen, err, sizeof(err)) : NULL;

		if (f == NULL || again == NULL || again->nkeys != kr->nkeys)
			abort();
		keyring_free(again);
		sodium_free(f);
	}
	keyring_free(kr);
}

static void bundle_case(const char *text, size_t len)
{
	struct keyfile_bundle b;
	char err[512];

	if (keyfile_bundle_parse(&b, "fuzz", text, len, err, sizeof(err)) == 0)
		keyfile_bundle_clear(&b);
}

static void hosts_case(const char *text, size_t len)
{
	struct keyfile_host_entry *hosts = NULL;
	char err[512];
	size_t n = 0;

	if (keyfile_hosts_parse("fuzz", text, len, &hosts, &n, err, sizeof(err)) == 0) {
		if (n == 0)
			abort();
		free(hosts);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data + 1;

	if (size == 0)
		return 0;
	switch (data[0] % 3) {
	case 0: keyring_case(text, size - 1); break;
	case 1: bundle_case(text, size - 1); break;
	default: hosts_case(text, size - 1); break;
	}
	return 0;
}
