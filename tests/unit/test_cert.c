/*
 * test_cert: member certificates and revocation lists against
 * vectors/ident.tsv, written by a separate implementation
 * (vectors/gen_ident.py, python3-nacl): every row is reproduced byte for
 * byte (keys from seeds, both forms of every certificate and list) or
 * gives the status the row expects.  Then what the rows cannot show:
 * signing refuses bad fields, crl_add keeps the list sorted and bounded;
 * and the identity files of ident.h: certify and revoke with an injected
 * clock, the identity part of a cmem-bundle-v3 bundle, and the checks of
 * unseal (another member's key, revoked, an older list, not yet valid).
 */
#include "testutil.h"

#include <inttypes.h>

#include "cert.h"
#include "provision.h"
#include "ident.h"
#include "keyfile.h"
#include "util.h"

#define MAX_FIELDS 12
#define MAX_CRLS 8

struct row {
	char *f[MAX_FIELDS];
	int n;
};

struct vectors {
	char *text;
	struct row rows[128];
	size_t nrows;
};

static struct vectors V;

static int setup(void **state)
{
	size_t len = 0;
	char *cur, *line;

	(void)state;
	if (sodium_init() == -1)
		return -1;
	V.text = tu_read_file(TU_VECTORS "/ident.tsv", &len);
	if (V.text == NULL)
		return -1;
	cur = V.text;
	while ((line = strsep(&cur, "\n")) != NULL) {
		struct row *r = &V.rows[V.nrows];
		char *field;

		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (V.nrows == ARRAY_SIZE(V.rows))
			return -1;
		while ((field = strsep(&line, "\t")) != NULL && r->n < MAX_FIELDS)
			r->f[r->n++] = field;
		V.nrows++;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(V.text);
	return 0;
}

/* The rows of one kind, each with exactly nfields fields. */
static size_t rows_of(const char *kind, int nfields, struct row **out, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < V.nrows; i++) {
		if (strcmp(V.rows[i].f[0], kind) != 0)
			continue;
		if (V.rows[i].n != nfields)
			fail_msg("ident.tsv: a %s row with %d fields, not %d", kind, V.rows[i].n, nfields);
		assert_true(n < cap);
		out[n++] = &V.rows[i];
	}
	return n;
}

/* "\n" escapes back to line ends, in place; the length. */
static size_t unescape(char *s)
{
	size_t o = 0;

	for (size_t i = 0; s[i]; i++) {
		if (s[i] == '\\' && s[i + 1] == 'n') {
			s[o++] = '\n';
			i++;
		} else if (s[i] == '\\' && s[i + 1] == 'r') {
			s[o++] = '\r';
			i++;
		} else
			s[o++] = s[i];
	}
	s[o] = '\0';
	return o;
}

static size_t hex(const char *h, uint8_t *out, size_t cap)
{
	ssize_t n;

	if (strcmp(h, "-") == 0)
		return 0;
	n = tu_hex_decode(h, strlen(h), out, cap);
	if (n < 0)
		fail_msg("ident.tsv: bad hex %.40s", h);
	return (size_t)n;
}

static uint64_t num(const char *s)
{
	uint64_t v = 0;

	if (parse_u64_str(s, &v) == -1)
		fail_msg("ident.tsv: bad number %s", s);
	return v;
}

/* An Ed25519 pair of kind from a 32-byte seed in hex. */
static void pair_from_seed(struct keyfile_pair *p, enum keyfile_kind kind, const char *seed_hex)
{
	uint8_t seed[crypto_sign_SEEDBYTES];

	assert_int_equal(hex(seed_hex, seed, sizeof(seed)), sizeof(seed));
	memset(p, 0, sizeof(*p));
	p->kind = kind;
	crypto_sign_seed_keypair(p->pk, p->sk, seed);
}

static void assert_b64(const uint8_t *bin, size_t len, const char *want)
{
	char got[128];

	sodium_bin2base64(got, sizeof(got), bin, len, sodium_base64_VARIANT_ORIGINAL);
	assert_string_equal(got, want);
}

/* key KIND SEED PUB SECRET: the seed gives both, and a key file of SECRET loads as KIND. */
static void test_keys(void **state)
{
	struct row *rows[16];
	size_t n = rows_of("key", 5, rows, ARRAY_SIZE(rows));
	char dir[256], path[512], line[256], err[KEYFILE_ERRLEN];

	(void)state;
	assert_int_equal(n, 4);
	assert_non_null(tu_mkdtemp(dir, sizeof(dir)));
	for (size_t i = 0; i < n; i++) {
		enum keyfile_kind kind = strcmp(rows[i]->f[1], "admin") == 0 ? KEYFILE_ADMIN
		                                                             : KEYFILE_MEMBER;
		struct keyfile_pair p, *loaded;

		pair_from_seed(&p, kind, rows[i]->f[2]);
		assert_b64(p.pk, 32, rows[i]->f[3]);
		assert_b64(p.sk, 64, rows[i]->f[4]);
		snprintf(line, sizeof(line), "cmem-%s-key-v1 %s\n", rows[i]->f[1], rows[i]->f[4]);
		snprintf(path, sizeof(path), "%s/%s.key", dir, rows[i]->f[1]);
		unlink(path);
		assert_int_equal(tu_write_file(path, line, strlen(line), 0600), 0);
		loaded = keyfile_pair_load(kind, dir, err, sizeof(err));
		if (loaded == NULL)
			fail_msg("%s", err);
		assert_memory_equal(loaded->pk, p.pk, 32);
		keyfile_pair_free(loaded);
	}
	tu_rmtree(dir);
}

/* cert ID ADMIN MEMBER NAME SERIAL NB NA BIN TEXT: signing gives both forms; both decode. */
static void test_certs(void **state)
{
	struct row *rows[16];
	size_t n = rows_of("cert", 10, rows, ARRAY_SIZE(rows));

	(void)state;
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++) {
		struct row *r = rows[i];
		struct keyfile_pair admin, member;
		struct cert c = { .serial = 0 }, fromtext, frombin;
		uint8_t bin[CERT_BIN_MAX], want[CERT_BIN_MAX];
		size_t wlen = hex(r->f[8], want, sizeof(want)), tlen = unescape(r->f[9]), len;
		char err[256], *text;

		pair_from_seed(&admin, KEYFILE_ADMIN, r->f[2]);
		pair_from_seed(&member, KEYFILE_MEMBER, r->f[3]);
		snprintf(c.name, sizeof(c.name), "%s", r->f[4]);
		memcpy(c.key, member.pk, 32);
		c.serial = num(r->f[5]);
		c.not_before = (int64_t)num(r->f[6]);
		c.not_after = (int64_t)num(r->f[7]);
		assert_int_equal(cert_sign(&c, &admin, err, sizeof(err)), 0);
		assert_int_equal(cert_encode(&c, bin), wlen);
		assert_int_equal(wlen, CERT_BIN_FIXED + strlen(c.name));
		assert_memory_equal(bin, want, wlen);
		text = cert_format(&c, &len);
		assert_int_equal(len, tlen);
		assert_string_equal(text, r->f[9]);
		free(text);
		assert_int_equal(cert_decode(&frombin, r->f[1], want, wlen, err, sizeof(err)), CERT_OK);
		assert_int_equal(cert_parse(&fromtext, r->f[1], r->f[9], tlen, err, sizeof(err)),
		                 CERT_OK);
		assert_memory_equal(&frombin, &c, sizeof(c));
		assert_memory_equal(&fromtext, &c, sizeof(c));
	}
}

/* The crl row of id, decoded (a valid list), into l. */
static void crl_by_id(const char *id, struct crl *l)
{
	struct row *rows[MAX_CRLS];
	size_t n = rows_of("crl", 8, rows, ARRAY_SIZE(rows));
	uint8_t bin[1024];
	char err[256];

	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i]->f[1], id) == 0) {
			size_t len = hex(rows[i]->f[6], bin, sizeof(bin));

			assert_int_equal(crl_decode(l, id, bin, len, err, sizeof(err)), CERT_OK);
			return;
		}
	fail_msg("ident.tsv: no crl row %s", id);
}

/* crl ID ADMIN SEQUENCE ISSUED SERIALS BIN TEXT */
static void test_crls(void **state)
{
	struct row *rows[MAX_CRLS];
	size_t n = rows_of("crl", 8, rows, ARRAY_SIZE(rows));

	(void)state;
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++) {
		struct row *r = rows[i];
		struct keyfile_pair admin;
		struct crl l = { .n = 0 }, fromtext;
		uint8_t want[1024], *bin;
		size_t wlen = hex(r->f[6], want, sizeof(want)), tlen = unescape(r->f[7]), len;
		char err[256], *text, *list = r->f[5], *s;

		pair_from_seed(&admin, KEYFILE_ADMIN, r->f[2]);
		l.sequence = num(r->f[3]);
		l.issued = (int64_t)num(r->f[4]);
		while (strcmp(r->f[5], "-") != 0 && (s = strsep(&list, ",")) != NULL)
			assert_int_equal(crl_add(&l, num(s)), 0);
		assert_int_equal(crl_sign(&l, &admin, err, sizeof(err)), 0);
		bin = crl_encode(&l, &len);
		assert_int_equal(len, wlen);
		assert_memory_equal(bin, want, wlen);
		free(bin);
		text = crl_format(&l, &len);
		assert_int_equal(len, tlen);
		assert_string_equal(text, r->f[7]);
		free(text);
		assert_int_equal(crl_parse(&fromtext, r->f[1], r->f[7], tlen, err, sizeof(err)),
		                 CERT_OK);
		assert_int_equal(fromtext.sequence, l.sequence);
		assert_int_equal(fromtext.n, l.n);
		assert_memory_equal(fromtext.serials, l.serials, 8 * l.n);
		assert_int_equal(crl_verify(&fromtext, admin.pk), CERT_OK);
		crl_clear(&fromtext);
		crl_clear(&l);
	}
}

/* check ID FORM DATA ADMIN NAME NOW CRL EXPECT */
static void test_checks(void **state)
{
	struct row *rows[80];
	size_t n = rows_of("check", 9, rows, ARRAY_SIZE(rows));

	(void)state;
	assert_int_equal(n, 37);
	for (size_t i = 0; i < n; i++) {
		struct row *r = rows[i];
		struct keyfile_pair admin;
		struct crl l = { .n = 0 };
		struct cert c;
		uint8_t bin[CERT_BIN_MAX + 16];
		char err[256];
		enum cert_status st;

		pair_from_seed(&admin, KEYFILE_ADMIN, r->f[4]);
		if (strcmp(r->f[2], "bin") == 0)
			st = cert_decode(&c, r->f[1], bin, hex(r->f[3], bin, sizeof(bin)), err,
			                 sizeof(err));
		else
			st = cert_parse(&c, r->f[1], r->f[3], unescape(r->f[3]), err, sizeof(err));
		if (st == CERT_OK) {
			if (strcmp(r->f[7], "-") != 0)
				crl_by_id(r->f[7], &l);
			st = cert_check(&c, strcmp(r->f[7], "-") ? &l : NULL, admin.pk,
			                strcmp(r->f[5], "-") ? r->f[5] : NULL, (int64_t)num(r->f[6]));
			crl_clear(&l);
		}
		if (strcmp(cert_status_name(st), r->f[8]) != 0)
			fail_msg("check %s: got %s, the vector says %s", r->f[1], cert_status_name(st),
			         r->f[8]);
	}
}

/* crlcheck ID FORM DATA ADMIN SERIAL EXPECT */
static void test_crlchecks(void **state)
{
	struct row *rows[40];
	size_t n = rows_of("crlcheck", 7, rows, ARRAY_SIZE(rows));

	(void)state;
	assert_int_equal(n, 20);
	for (size_t i = 0; i < n; i++) {
		struct row *r = rows[i];
		struct keyfile_pair admin;
		struct crl l;
		uint8_t bin[1024];
		char err[256];
		enum cert_status st;

		pair_from_seed(&admin, KEYFILE_ADMIN, r->f[4]);
		if (strcmp(r->f[2], "bin") == 0)
			st = crl_decode(&l, r->f[1], bin, hex(r->f[3], bin, sizeof(bin)), err,
			                sizeof(err));
		else
			st = crl_parse(&l, r->f[1], r->f[3], unescape(r->f[3]), err, sizeof(err));
		if (st == CERT_OK && (st = crl_verify(&l, admin.pk)) == CERT_OK &&
		    crl_is_revoked(&l, num(r->f[5])))
			st = CERT_REVOKED;
		crl_clear(&l);
		if (strcmp(cert_status_name(st), r->f[6]) != 0)
			fail_msg("crlcheck %s: got %s, the vector says %s", r->f[1],
			         cert_status_name(st), r->f[6]);
	}
}

/* newer A B 0|1 */
static void test_newer(void **state)
{
	struct row *rows[8];
	size_t n = rows_of("newer", 4, rows, ARRAY_SIZE(rows));

	(void)state;
	assert_int_equal(n, 4);
	for (size_t i = 0; i < n; i++) {
		struct crl a, b;

		crl_by_id(rows[i]->f[1], &a);
		crl_by_id(rows[i]->f[2], &b);
		assert_int_equal(crl_newer(&a, &b), (int)num(rows[i]->f[3]));
		crl_clear(&a);
		crl_clear(&b);
	}
}

/* cert_sign refuses what no parser would accept, and keys other than an admin's. */
static void test_sign_refuses(void **state)
{
	struct keyfile_pair admin, member;
	struct cert good = { .name = "n1", .serial = 1, .not_before = 10, .not_after = 20 }, c;
	char err[256];

	(void)state;
	pair_from_seed(&admin, KEYFILE_ADMIN, "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1");
	pair_from_seed(&member, KEYFILE_MEMBER, "0101010101010101010101010101010101010101010101010101010101010101");
	c = good;
	assert_int_equal(cert_sign(&c, &member, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not an administrator key"));
	c = good;
	snprintf(c.name, sizeof(c.name), "-rf");
	assert_int_equal(cert_sign(&c, &admin, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "is not 1 to 64"));
	c = good;
	c.serial = 0;
	assert_int_equal(cert_sign(&c, &admin, err, sizeof(err)), -1);
	c = good;
	c.not_after = 9;
	assert_int_equal(cert_sign(&c, &admin, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "validity"));
	c = good;
	c.not_after = KEYFILE_TIME_MAX + 1;
	assert_int_equal(cert_sign(&c, &admin, err, sizeof(err)), -1);
	c = good;
	assert_int_equal(cert_sign(&c, &admin, err, sizeof(err)), 0);
	assert_int_equal(cert_verify(&c, admin.pk, "n1", 15), CERT_OK);
}

/* crl_add: sorted, once, never 0, at most CRL_MAX. */
static void test_crl_add(void **state)
{
	struct crl l = { .sequence = 1 };

	(void)state;
	assert_int_equal(crl_add(&l, 5), 0);
	assert_int_equal(crl_add(&l, 2), 0);
	assert_int_equal(crl_add(&l, 9), 0);
	assert_int_equal(crl_add(&l, 5), 0);
	assert_int_equal(crl_add(&l, 0), -1);
	assert_int_equal(l.n, 3);
	assert_true(l.serials[0] == 2 && l.serials[1] == 5 && l.serials[2] == 9);
	assert_true(crl_is_revoked(&l, 9) && !crl_is_revoked(&l, 3) && !crl_is_revoked(&l, 10));
	for (uint64_t s = 100; l.n < CRL_MAX; s++)
		assert_int_equal(crl_add(&l, s), 0);
	assert_int_equal(crl_add(&l, 1), -1);
	assert_int_equal(crl_add(&l, 5), 0); /* already there: not an error */
	crl_clear(&l);
}

/* The messages name the input and the problem. */
static void test_messages(void **state)
{
	struct cert c;
	char err[256];

	(void)state;
	assert_int_equal(cert_parse(&c, "x.cert", "cmem-bundle-v2\n", 15, err, sizeof(err)),
	                 CERT_BAD_MAGIC);
	assert_string_equal(err, "x.cert: not a cmem-cert-v1 file (the first line is not "
	                         "\"cmem-cert-v1\")");
	assert_int_equal(cert_parse(&c, "x.cert", "cmem-cert-v1\nname n1\n", 21, err, sizeof(err)),
	                 CERT_TRUNCATED);
	assert_string_equal(err, "x.cert: truncated: no \"key\" line");
	assert_int_equal(cert_parse(&c, "x.cert", "cmem-cert-v1\nname n\001\n", 21, err,
	                            sizeof(err)),
	                 CERT_BAD_FORMAT);
	assert_non_null(strstr(err, "byte 0x01"));
	assert_string_equal(cert_status_name(CERT_REVOKED), "revoked");
	assert_string_equal(cert_status_name((enum cert_status)99), "unknown");
}


#define SEED_ADMIN "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
#define SEED_M1 "0101010101010101010101010101010101010101010101010101010101010101"
#define SEED_M2 "0202020202020202020202020202020202020202020202020202020202020202"
#define T0 INT64_C(1767225600)

/* A certificate for name and the member of seed, signed by the vectors' administrator. */
static void signed_cert(struct cert *c, const char *name, const char *seed, uint64_t serial,
                        int64_t nb, int64_t na)
{
	struct keyfile_pair admin, member;
	char err[256];

	pair_from_seed(&admin, KEYFILE_ADMIN, SEED_ADMIN);
	pair_from_seed(&member, KEYFILE_MEMBER, seed);
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	memcpy(c->key, member.pk, 32);
	c->serial = serial;
	c->not_before = nb;
	c->not_after = na;
	assert_int_equal(cert_sign(c, &admin, err, sizeof(err)), 0);
}

static void signed_crl(struct crl *l, uint64_t sequence, uint64_t revoked)
{
	struct keyfile_pair admin;
	char err[256];

	pair_from_seed(&admin, KEYFILE_ADMIN, SEED_ADMIN);
	memset(l, 0, sizeof(*l));
	l->sequence = sequence;
	l->issued = T0;
	if (revoked)
		assert_int_equal(crl_add(l, revoked), 0);
	assert_int_equal(crl_sign(l, &admin, err, sizeof(err)), 0);
}

/* certify: serials 1, 2, then a given one; revoke: the sequence grows. */
static void test_certify_and_revoke(void **state)
{
	char dir[256], adm[512], pub[512], out[512], path[512], err[PROVISION_ERRLEN];
	uint8_t pk[KEYFILE_PK_BYTES];
	uint64_t serials[] = { 9, 3 };
	struct ident_args a = { .name = "n1", .days = 10, .now = T0 };
	struct cert c, back;
	struct crl l;

	(void)state;
	assert_non_null(tu_mkdtemp(dir, sizeof(dir)));
	tu_path(adm, sizeof(adm), dir, "adm");
	assert_int_equal(keyfile_pair_create(KEYFILE_ADMIN, adm, pk, err, sizeof(err)), 0);
	assert_int_equal(keyfile_pair_create(KEYFILE_MEMBER, dir, pk, err, sizeof(err)), 0);
	tu_path(pub, sizeof(pub), dir, "member.pub");
	tu_path(out, sizeof(out), dir, "n1.cert");
	a.pub = pub;
	a.sign_with = adm;
	a.output = out;
	assert_int_equal(ident_certify(&a, &c, err, sizeof(err)), 0);
	assert_true(c.serial == 1 && c.not_before == T0 && c.not_after == T0 + 10 * 86400);
	assert_memory_equal(c.key, pk, 32);
	assert_int_equal(ident_cert_load(out, &back, err, sizeof(err)), CERT_OK);
	assert_memory_equal(&back, &c, sizeof(c));
	assert_int_equal(ident_certify(&a, &c, err, sizeof(err)), -1); /* exists */
	assert_non_null(strstr(err, "already exists"));
	a.force = 1;
	assert_int_equal(ident_certify(&a, &c, err, sizeof(err)), 0);
	assert_true(c.serial == 2);
	a.serial = 40;
	assert_int_equal(ident_certify(&a, &c, err, sizeof(err)), 0);
	assert_true(c.serial == 40);
	a.serial = 0;
	a.days = 0;
	assert_int_equal(ident_certify(&a, &c, err, sizeof(err)), -1);
	a.days = 1;
	a.name = "../x";
	assert_int_equal(ident_certify(&a, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "a member name is"));
	a.serials = serials;
	a.nserials = 2;
	assert_int_equal(ident_revoke(&a, &l, path, sizeof(path), err, sizeof(err)), 0);
	assert_true(l.sequence == 1 && l.n == 2 && l.serials[0] == 3 && l.serials[1] == 9);
	crl_clear(&l);
	a.nserials = 1;
	assert_int_equal(ident_revoke(&a, &l, path, sizeof(path), err, sizeof(err)), 0);
	assert_true(l.sequence == 2 && l.n == 2);
	crl_clear(&l);
	assert_true(ident_is_crl(path) && !ident_is_crl(out));
	tu_rmtree(dir);
}

/* A v3 bundle carries the identity part after the ring; v2 has none. */
static void test_bundle_v3(void **state)
{
	struct keyfile_pair admin, *host = keyfile_pair_generate(KEYFILE_HOST);
	struct keyfile_bundle b, parsed;
	struct ident_parts p;
	struct keyring *kr;
	struct cert c;
	struct crl l;
	size_t rlen = 0, clen = 0, llen = 0, ilen = 0, blen = 0;
	char *ring = tu_read_file(TU_VECTOR_KEYRING, &rlen), *ct, *lt, both[2048], *ident = NULL;
	char err[512], *text;

	(void)state;
	assert_non_null(ring);
	pair_from_seed(&admin, KEYFILE_ADMIN, SEED_ADMIN);
	signed_cert(&c, "n1", SEED_M1, 1, T0, T0 + 100);
	signed_crl(&l, 4, 7);
	ct = cert_format(&c, &clen);
	lt = crl_format(&l, &llen);
	snprintf(both, sizeof(both), "%s%s", ct, lt);
	assert_int_equal(keyfile_bundle_seal_ident(&b, ring, rlen, both, clen + llen, host->pk,
	                                           &admin, 5, T0, err, sizeof(err)),
	                 0);
	assert_int_equal(b.version, 3);
	text = keyfile_bundle_format(&b, &blen);
	assert_memory_equal(text, "cmem-bundle-v3\n", 15);
	assert_int_equal(keyfile_bundle_parse(&parsed, "b", text, blen, err, sizeof(err)), 0);
	kr = keyfile_bundle_open_ident(&parsed, "b", admin.pk, host, &ident, &ilen, err,
	                               sizeof(err));
	assert_non_null(kr);
	assert_int_equal(ilen, clen + llen);
	assert_string_equal(ident, both);
	assert_int_equal(ident_parts_parse("b", ident, ilen, &p, err, sizeof(err)), 0);
	assert_true(p.has_cert && p.has_crl && p.crl.sequence == 4);
	assert_memory_equal(&p.cert, &c, sizeof(c));
	ident_parts_clear(&p);
	assert_int_equal(ident_parts_parse("b", lt, llen, &p, err, sizeof(err)), 0);
	assert_true(!p.has_cert && p.has_crl);
	ident_parts_clear(&p);
	assert_int_equal(ident_parts_parse("b", ct, clen - 10, &p, err, sizeof(err)), -1);
	keyring_free(kr);
	free(ident);
	free(text);
	keyfile_bundle_clear(&parsed);
	keyfile_bundle_clear(&b);
	/* no identity: a v2 bundle, as before */
	assert_int_equal(keyfile_bundle_seal(&b, ring, rlen, host->pk, &admin, 6, T0, err,
	                                     sizeof(err)) == 0 && b.version == 2, 1);
	keyfile_bundle_clear(&b);
	free(ct);
	free(lt);
	crl_clear(&l);
	free(ring);
	keyfile_pair_free(host);
}

static void test_beside(void **state)
{
	char out[256];

	(void)state;
	ident_beside(out, sizeof(out), "/etc/cmem/cluster.keys", IDENT_CERT_FILE);
	assert_string_equal(out, "/etc/cmem/member.cert");
	ident_beside(out, sizeof(out), "cluster.keys", IDENT_CRL_FILE);
	assert_string_equal(out, "./revoked.crl");
	ident_beside(out, sizeof(out), "/cluster.keys", IDENT_CRL_FILE);
	assert_string_equal(out, "/revoked.crl");
}

/* A host directory with the member key of SEED_M2; p holds its certificate. */
static void unseal_setup(char *dir, size_t size, char *ring, size_t rsize, struct ident_parts *p)
{
	struct keyfile_pair member;
	char err[512];

	assert_non_null(tu_mkdtemp(dir, size));
	tu_path(ring, rsize, dir, "cluster.keys");
	pair_from_seed(&member, KEYFILE_MEMBER, SEED_M2);
	assert_int_equal(keyfile_pair_save(&member, dir, err, sizeof(err)), 0);
	memset(p, 0, sizeof(*p));
	p->has_cert = 1;
	signed_cert(&p->cert, "n1", SEED_M2, 3, T0, T0 + 100);
}

/* unseal_check's verdict at now, with force; the message in err. */
static int unseal_at(const struct ident_parts *p, const char *dir, const char *ring, int force,
                     int64_t now, int *pending, char *err, size_t errlen)
{
	struct keyfile_pair admin;

	pair_from_seed(&admin, KEYFILE_ADMIN, SEED_ADMIN);
	return ident_unseal_check(p, "b", dir, ring, admin.pk, force, now, pending, err, errlen);
}

/* The certificate of a bundle: this host's key, valid now or later, not revoked. */
static void test_unseal_cert(void **state)
{
	char dir[256], ring[512], err[1024];
	struct ident_parts p;
	int pending = -1;

	(void)state;
	unseal_setup(dir, sizeof(dir), ring, sizeof(ring), &p);
	assert_int_equal(unseal_at(&p, dir, ring, 0, T0, &pending, err, sizeof(err)), 0);
	assert_int_equal(pending, 0);
	assert_int_equal(unseal_at(&p, dir, ring, 0, T0 - 5, &pending, err, sizeof(err)), 0);
	assert_int_equal(pending, 1);
	assert_int_equal(unseal_at(&p, dir, ring, 0, T0 + 101, &pending, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "expired"));
	p.has_crl = 1;
	signed_crl(&p.crl, 2, 3);
	assert_int_equal(unseal_at(&p, dir, ring, 0, T0, &pending, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "revoked: serial 3"));
	signed_cert(&p.cert, "n1", SEED_M1, 4, T0, T0 + 100);
	assert_int_equal(unseal_at(&p, dir, ring, 0, T0, &pending, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "certifies another member key"));
	memset(&p.cert, 0, sizeof(p.cert));
	assert_int_equal(unseal_at(&p, dir, ring, 0, T0, &pending, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "another administrator"));
	ident_parts_clear(&p);
	tu_rmtree(dir);
	/* no member key on this host */
	assert_non_null(tu_mkdtemp(dir, sizeof(dir)));
	p.has_cert = 1;
	signed_cert(&p.cert, "n1", SEED_M2, 3, T0, T0 + 100);
	assert_int_equal(unseal_at(&p, dir, ring, 0, T0, &pending, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "has no member key"));
	tu_rmtree(dir);
}

/* The list of a bundle: never older than the host's, whatever force says. */
static void test_unseal_list(void **state)
{
	char dir[256], ring[512], crlpath[512], err[1024], *text;
	struct ident_parts p;
	struct crl have;
	size_t len = 0;
	int pending = -1;

	(void)state;
	unseal_setup(dir, sizeof(dir), ring, sizeof(ring), &p);
	p.has_crl = 1;
	signed_crl(&p.crl, 2, 0);
	signed_crl(&have, 5, 0);
	text = crl_format(&have, &len);
	tu_path(crlpath, sizeof(crlpath), dir, IDENT_CRL_FILE);
	assert_int_equal(tu_write_file(crlpath, text, len, 0600), 0);
	free(text);
	crl_clear(&have);
	assert_int_equal(unseal_at(&p, dir, ring, 1, T0, &pending, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "refusing an older revocation list"));
	crl_clear(&p.crl);
	signed_crl(&p.crl, 6, 0);
	assert_int_equal(unseal_at(&p, dir, ring, 0, T0, &pending, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "already exists"));
	assert_int_equal(unseal_at(&p, dir, ring, 1, T0, &pending, err, sizeof(err)), 0);
	assert_int_equal(ident_unseal_write(&p, ring, err, sizeof(err)), 0);
	assert_int_equal(tu_mode_of(crlpath) & 0777, 0600);
	assert_int_equal(ident_crl_load(crlpath, &have, err, sizeof(err)), CERT_OK);
	assert_true(have.sequence == 6);
	crl_clear(&have);
	ident_parts_clear(&p);
	tu_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),         cmocka_unit_test(test_certs),
		cmocka_unit_test(test_crls),         cmocka_unit_test(test_checks),
		cmocka_unit_test(test_crlchecks),    cmocka_unit_test(test_newer),
		cmocka_unit_test(test_sign_refuses), cmocka_unit_test(test_crl_add),
		cmocka_unit_test(test_messages),     cmocka_unit_test(test_certify_and_revoke),
		cmocka_unit_test(test_bundle_v3),    cmocka_unit_test(test_beside),
		cmocka_unit_test(test_unseal_cert),  cmocka_unit_test(test_unseal_list),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
