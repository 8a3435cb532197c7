/*
 * test_cert: member certificates and revocation lists against
 * vectors/ident.tsv, written by a separate implementation
 * (vectors/gen_ident.py, python3-nacl): every row is reproduced byte for
 * byte (keys from seeds, both forms of every certificate and list) or
 * gives the status the row expects.  Then what the rows cannot show:
 * signing refuses bad fields, crl_add keeps the list sorted and bounded.
 */
#include "testutil.h"

#include <inttypes.h>

#include "cert.h"
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),         cmocka_unit_test(test_certs),
		cmocka_unit_test(test_crls),         cmocka_unit_test(test_checks),
		cmocka_unit_test(test_crlchecks),    cmocka_unit_test(test_newer),
		cmocka_unit_test(test_sign_refuses), cmocka_unit_test(test_crl_add),
		cmocka_unit_test(test_messages),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
