/*
 * fuzz_files: the parsers of files an operator is handed: keyrings
 * (keyring_parse), sealed bundles of both versions (keyfile_bundle_parse),
 * hosts files (keyfile_hosts_parse) and bundle serial state files
 * (provision_state_parse).  The first byte chooses the parser, modulo 4,
 * so that the seeds in corpus/fuzz_files start with a readable digit:
 * '0' keyring, '1' bundle, '2' hosts, '3' state; the rest is the file.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keyfile.h"
#include "keyring.h"
#include "provision.h"

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

/* An accepted bundle formats back to text that parses to the same bundle. */
static void bundle_case(const char *text, size_t len)
{
	struct keyfile_bundle b, again;
	char err[512];
	size_t flen = 0;
	char *f;

	if (keyfile_bundle_parse(&b, "fuzz", text, len, err, sizeof(err)) == -1)
		return;
	if ((b.version == 1) != (b.serial == 0))
		abort();
	f = keyfile_bundle_format(&b, &flen);
	if (keyfile_bundle_parse(&again, "again", f, flen, err, sizeof(err)) == -1 ||
	    again.version != b.version || again.serial != b.serial ||
	    again.created != b.created || again.sealed_len != b.sealed_len ||
	    memcmp(again.sealed, b.sealed, b.sealed_len) != 0 ||
	    memcmp(again.sig, b.sig, sizeof(b.sig)) != 0)
		abort();
	keyfile_bundle_clear(&again);
	keyfile_bundle_clear(&b);
	free(f);
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

static void state_case(const char *text, size_t len)
{
	struct provision_state st;
	char err[512], desc[128];

	if (provision_state_parse("fuzz", text, len, &st, err, sizeof(err)) == 0)
		provision_state_describe(&st, desc, sizeof(desc));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data + 1;

	if (size == 0)
		return 0;
	switch (data[0] % 4) {
	case 0: keyring_case(text, size - 1); break;
	case 1: bundle_case(text, size - 1); break;
	case 2: hosts_case(text, size - 1); break;
	default: state_case(text, size - 1); break;
	}
	return 0;
}
