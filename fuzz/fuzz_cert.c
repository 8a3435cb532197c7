/*
 * fuzz_cert: the decoders of member identities (cert.h, ident.h): the
 * text and binary forms of certificates and revocation lists, and the
 * identity part of a cmem-bundle-v3 bundle.  The first byte chooses the
 * decoder, modulo 5, so that the seeds in corpus/fuzz_cert start with a
 * readable digit: '0' certificate text, '1' certificate binary, '2' list
 * text, '3' list binary, '4' bundle identity part; the rest is the input.
 * What is accepted must encode back to what decodes to the same fields,
 * and the checks must give a status, never crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cert.h"
#include "ident.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t admin_pk[crypto_sign_PUBLICKEYBYTES];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	uint8_t seed[crypto_sign_SEEDBYTES], sk[crypto_sign_SECRETKEYBYTES];

	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	memset(seed, 0xa1, sizeof(seed)); /* the administrator of tests/vectors/ident.tsv */
	crypto_sign_seed_keypair(admin_pk, sk, seed);
	return 0;
}

/* Both forms of an accepted certificate decode to it again; the checks answer. */
static void cert_roundtrip(const struct cert *c)
{
	uint8_t bin[CERT_BIN_MAX];
	size_t len = cert_encode(c, bin), tlen = 0;
	char err[512], *text = cert_format(c, &tlen);
	struct cert a, b;

	if (cert_decode(&a, "again", bin, len, err, sizeof(err)) != CERT_OK ||
	    memcmp(&a, c, sizeof(a)) != 0 ||
	    cert_parse(&b, "again", text, tlen, err, sizeof(err)) != CERT_OK ||
	    memcmp(&b, c, sizeof(b)) != 0)
		abort();
	free(text);
	if (cert_status_name(cert_verify(c, admin_pk, c->name, c->not_before))[0] == '\0')
		abort();
}

static void crl_roundtrip(const struct crl *l)
{
	size_t len = 0, tlen = 0;
	uint8_t *bin = crl_encode(l, &len);
	char err[512], *text = crl_format(l, &tlen);
	struct crl a, b;

	if (crl_decode(&a, "again", bin, len, err, sizeof(err)) != CERT_OK ||
	    crl_parse(&b, "again", text, tlen, err, sizeof(err)) != CERT_OK || a.n != l->n ||
	    b.n != l->n || a.sequence != l->sequence || b.sequence != l->sequence)
		abort();
	for (size_t i = 0; i < l->n; i++)
		if (!crl_is_revoked(&a, l->serials[i]) || b.serials[i] != l->serials[i])
			abort();
	(void)crl_verify(l, admin_pk);
	crl_clear(&a);
	crl_clear(&b);
	free(bin);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	struct ident_parts p;
	struct cert c;
	struct crl l;

	if (size < 1)
		return 0;
	switch (data[0] % 5) {
	case 0:
		if (cert_parse(&c, "fuzz", (const char *)data + 1, size - 1, err, sizeof(err)) ==
		    CERT_OK)
			cert_roundtrip(&c);
		break;
	case 1:
		if (cert_decode(&c, "fuzz", data + 1, size - 1, err, sizeof(err)) == CERT_OK)
			cert_roundtrip(&c);
		break;
	case 2:
		if (crl_parse(&l, "fuzz", (const char *)data + 1, size - 1, err, sizeof(err)) ==
		    CERT_OK)
			crl_roundtrip(&l);
		crl_clear(&l);
		break;
	case 3:
		if (crl_decode(&l, "fuzz", data + 1, size - 1, err, sizeof(err)) == CERT_OK)
			crl_roundtrip(&l);
		crl_clear(&l);
		break;
	default:
		if (ident_parts_parse("fuzz", (const char *)data + 1, size - 1, &p, err,
		                      sizeof(err)) == 0 &&
		    p.has_cert)
			cert_roundtrip(&p.cert);
		ident_parts_clear(&p);
	}
	return 0;
}
