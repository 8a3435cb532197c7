/*
 * test_keygen: the keyfile module behind cmem-keygen (the files themselves:
 * test_privfile).  Keypairs and public key lines round-trip; bundles open
 * only for their host, only when signed by the trusted administrator, and
 * any damage is refused without writing anything.
 */
#include "testutil.h"

#include <dirent.h>
#include <sys/stat.h>

#include "keyfile.h"
#include "privfile.h"
#include "util.h"

#define SERIAL UINT64_C(1764682714)
#define CREATED INT64_C(1764682714) /* 2025-12-02T13:38:34Z */

struct fixture {
	char dir[256];
	char path[512]; /* dir/ring, not created yet */
	char out[512];  /* dir/out: what an unseal would write */
	char err[KEYFILE_ERRLEN];
	struct keyfile_pair *admin, *admin2, *host, *host2;
	struct keyring *kr; /* the keyring of the test vectors */
	char *ring;         /* its text, sodium_malloc'd */
	size_t ringlen;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || sodium_init() == -1)
		return -1;
	tu_mkdtemp(f->dir, sizeof(f->dir));
	tu_path(f->path, sizeof(f->path), f->dir, "ring");
	tu_path(f->out, sizeof(f->out), f->dir, "out");
	f->admin = keyfile_pair_generate(KEYFILE_ADMIN);
	f->admin2 = keyfile_pair_generate(KEYFILE_ADMIN);
	f->host = keyfile_pair_generate(KEYFILE_HOST);
	f->host2 = keyfile_pair_generate(KEYFILE_HOST);
	f->kr = tu_vector_keyring();
	f->ring = keyring_format(f->kr, &f->ringlen);
	if (!f->admin || !f->admin2 || !f->host || !f->host2 || !f->ring)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	tu_rmtree(f->dir);
	keyfile_pair_free(f->admin);
	keyfile_pair_free(f->admin2);
	keyfile_pair_free(f->host);
	keyfile_pair_free(f->host2);
	keyring_free(f->kr);
	sodium_free(f->ring);
	free(f);
	return 0;
}

static void assert_err(const struct fixture *f, const char *needle)
{
	if (strstr(f->err, needle) == NULL)
		fail_msg("message does not say \"%s\": \"%s\"", needle, f->err);
}

static void assert_same_ring(const struct keyring *a, const struct keyring *b)
{
	assert_int_equal(a->nkeys, b->nkeys);
	assert_int_equal(a->primary, b->primary);
	for (size_t i = 0; i < a->nkeys; i++) {
		assert_int_equal(a->keys[i].id, b->keys[i].id);
		assert_int_equal(a->keys[i].primary, b->keys[i].primary);
		assert_memory_equal(a->keys[i].secret, b->keys[i].secret, KEYRING_KEY_BYTES);
	}
}

/* A bundle of the vector keyring for host pk, signed by admin: malloc'd text. */
static char *make_bundle(struct fixture *f, const uint8_t *pk, const struct keyfile_pair *admin,
                         size_t *len)
{
	struct keyfile_bundle b;
	char *text;

	if (keyfile_bundle_seal(&b, f->ring, f->ringlen, pk, admin, SERIAL, CREATED, f->err,
	                        sizeof(f->err)) == -1)
		fail_msg("seal: %s", f->err);
	text = keyfile_bundle_format(&b, len);
	keyfile_bundle_clear(&b);
	return text;
}

/*
 * What `cmem-keygen unseal` does: parse, open, write f->out.  A refusal
 * must leave the directory as it was.
 */
static int try_unseal(struct fixture *f, const char *text, size_t len,
                      const struct keyfile_pair *host, const uint8_t *trusted)
{
	struct keyfile_bundle b;
	struct keyring *kr = NULL;
	char *out;
	size_t outlen = 0;
	int before = tu_count_entries(f->dir), rc = -1;

	f->err[0] = '\0';
	if (keyfile_bundle_parse(&b, "test.bundle", text, len, f->err, sizeof(f->err)) == 0) {
		kr = keyfile_bundle_open(&b, "test.bundle", trusted, host, f->err, sizeof(f->err));
		keyfile_bundle_clear(&b);
	}
	if (kr != NULL) {
		out = keyring_format(kr, &outlen);
		rc = privfile_write(f->out, out, outlen, 0, f->err, sizeof(f->err));
		sodium_free(out);
		keyring_free(kr);
	}
	if (rc == -1) {
		assert_int_equal(tu_count_entries(f->dir), before);
		assert_true(f->err[0] != '\0');
	}
	return rc;
}

/* ---- private files ---- */

static void test_keyring_round_trip(void **state)
{
	struct fixture *f = *state;
	struct keyring *kr;

	assert_int_equal(privfile_write(f->path, f->ring, f->ringlen, 0, f->err,
	                                       sizeof(f->err)),
	                 0);
	kr = keyring_load(f->path, f->err, sizeof(f->err));
	if (kr == NULL)
		fail_msg("written keyring refused: %s", f->err);
	assert_same_ring(kr, f->kr);
	keyring_free(kr);
	assert_int_equal(tu_count_entries(f->dir), 1);
}

/* ---- keypairs ---- */

static void test_keypair_save_load(void **state)
{
	struct fixture *f = *state;
	struct keyfile_pair *p;
	uint8_t pk[KEYFILE_PK_BYTES];
	char path[512];

	for (int kind = KEYFILE_HOST; kind <= KEYFILE_ADMIN; kind++) {
		const struct keyfile_pair *mine = kind == KEYFILE_HOST ? f->host : f->admin;
		const char *name = keyfile_kind_name(mine->kind);

		assert_int_equal(keyfile_pair_save(mine, f->dir, f->err, sizeof(f->err)), 0);
		snprintf(path, sizeof(path), "%s/%s.key", f->dir, name);
		assert_int_equal(tu_mode_of(path), 0600);
		snprintf(path, sizeof(path), "%s/%s.pub", f->dir, name);
		assert_int_equal(tu_mode_of(path), 0644);
		assert_int_equal(keyfile_pub_load(mine->kind, path, pk, f->err, sizeof(f->err)), 0);
		assert_memory_equal(pk, mine->pk, KEYFILE_PK_BYTES);
		p = keyfile_pair_load(mine->kind, f->dir, f->err, sizeof(f->err));
		if (p == NULL)
			fail_msg("%s", f->err);
		assert_memory_equal(p->pk, mine->pk, KEYFILE_PK_BYTES);
		assert_memory_equal(p->sk, mine->sk, KEYFILE_SK_MAX);
		keyfile_pair_free(p);
		/* never over an existing key */
		assert_int_equal(keyfile_pair_save(f->host2, f->dir, f->err, sizeof(f->err)), -1);
		assert_err(f, "already exists");
	}
	assert_int_equal(tu_count_entries(f->dir), 4);
}

static void test_damaged_admin_key(void **state)
{
	struct fixture *f = *state;
	struct keyfile_pair *p;
	char path[512], hostkey[512], text[160];
	char b64[sodium_base64_ENCODED_LEN(KEYFILE_SK_MAX, sodium_base64_VARIANT_ORIGINAL)];
	uint8_t sk[KEYFILE_SK_MAX];

	/* the public half (last 32 bytes) of an Ed25519 secret key must match its seed */
	memcpy(sk, f->admin->sk, sizeof(sk));
	sk[40] ^= 1;
	sodium_bin2base64(b64, sizeof(b64), sk, sizeof(sk), sodium_base64_VARIANT_ORIGINAL);
	snprintf(text, sizeof(text), "cmem-admin-key-v1 %s\n", b64);
	snprintf(path, sizeof(path), "%s/admin.key", f->dir);
	assert_int_equal(tu_write_file(path, text, strlen(text), 0600), 0);
	p = keyfile_pair_load(KEYFILE_ADMIN, f->dir, f->err, sizeof(f->err));
	assert_null(p);
	assert_err(f, "damaged");
	/* a host key where an admin key is expected */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(keyfile_pair_save(f->host, f->dir, f->err, sizeof(f->err)), 0);
	assert_int_equal(rename(tu_path(hostkey, sizeof(hostkey), f->dir, "host.key"), path), 0);
	assert_null(keyfile_pair_load(KEYFILE_ADMIN, f->dir, f->err, sizeof(f->err)));
	assert_err(f, "is a host secret key");
	sodium_memzero(sk, sizeof(sk));
}

static void test_public_key_lines(void **state)
{
	struct fixture *f = *state;
	char line[KEYFILE_PUB_LINE_MAX], padded[KEYFILE_PUB_LINE_MAX + 8];
	uint8_t pk[KEYFILE_PK_BYTES];

	keyfile_pub_format(KEYFILE_HOST, f->host->pk, line);
	assert_true(strncmp(line, "cmem-host-pub-v1 ", 17) == 0);
	assert_int_equal(strlen(line), 17 + KEYFILE_PK_B64_LEN);
	snprintf(padded, sizeof(padded), "  %s \r\n", line); /* as pasted */
	assert_int_equal(keyfile_pub_parse(KEYFILE_HOST, "paste", padded, strlen(padded), pk,
	                                   f->err, sizeof(f->err)),
	                 0);
	assert_memory_equal(pk, f->host->pk, KEYFILE_PK_BYTES);
	assert_int_equal(keyfile_pub_parse(KEYFILE_ADMIN, "paste", line, strlen(line), pk, f->err,
	                                   sizeof(f->err)),
	                 -1);
	assert_err(f, "paste: is a host public key");
	line[30] = '#';
	assert_int_equal(keyfile_pub_parse(KEYFILE_HOST, "paste", line, strlen(line), pk, f->err,
	                                   sizeof(f->err)),
	                 -1);
	assert_err(f, "not 32 bytes of base64");
	line[strlen(line) - 4] = '\0';
	assert_int_equal(keyfile_pub_parse(KEYFILE_HOST, "paste", line, strlen(line), pk, f->err,
	                                   sizeof(f->err)),
	                 -1);
}

/* ---- bundles ---- */

static void test_seal_and_open(void **state)
{
	struct fixture *f = *state;
	size_t len = 0;
	char *text = make_bundle(f, f->host->pk, f->admin, &len);
	struct keyring *kr;

	assert_true(strncmp(text, "cmem-bundle-v2\nsigner ", 22) == 0);
	assert_true(len > 5 && strcmp(text + len - 5, "\nend\n") == 0);
	assert_null(strstr(text, TEST_KEY1_HEX)); /* sealed: no secret in sight */
	assert_int_equal(try_unseal(f, text, len, f->host, f->admin->pk), 0);
	kr = keyring_load(f->out, f->err, sizeof(f->err));
	if (kr == NULL)
		fail_msg("%s", f->err);
	assert_same_ring(kr, f->kr);
	assert_int_equal(tu_mode_of(f->out), 0600);
	keyring_free(kr);
	/* unseal refuses to overwrite too */
	assert_int_equal(try_unseal(f, text, len, f->host, f->admin->pk), -1);
	assert_err(f, "already exists");
	free(text);
}

static void test_open_crlf_and_no_final_newline(void **state)
{
	struct fixture *f = *state;
	size_t len = 0, n = 0;
	char *text = make_bundle(f, f->host->pk, f->admin, &len), *crlf = malloc(2 * len);

	for (size_t i = 0; i < len; i++) {
		if (text[i] == '\n')
			crlf[n++] = '\r';
		crlf[n++] = text[i];
	}
	assert_int_equal(try_unseal(f, crlf, n, f->host, f->admin->pk), 0);
	unlink(f->out);
	assert_int_equal(try_unseal(f, text, len - 1, f->host, f->admin->pk), 0);
	free(crlf);
	free(text);
}

static void test_bundle_for_another_host(void **state)
{
	struct fixture *f = *state;
	size_t len = 0;
	char *text = make_bundle(f, f->host2->pk, f->admin, &len);

	assert_int_equal(try_unseal(f, text, len, f->host, f->admin->pk), -1);
	assert_err(f, "sealed for another host");
	assert_err(f, "test.bundle");
	free(text);
}

static void test_wrong_host_secret_key(void **state)
{
	struct fixture *f = *state;
	size_t len = 0;
	char *text = make_bundle(f, f->host->pk, f->admin, &len);
	struct keyfile_pair *wrong = keyfile_pair_generate(KEYFILE_HOST);

	/* this host's public key, another secret key */
	memcpy(wrong->pk, f->host->pk, KEYFILE_PK_BYTES);
	assert_int_equal(try_unseal(f, text, len, wrong, f->admin->pk), -1);
	assert_err(f, "cannot be opened with this host's secret key");
	/* another host's whole keypair */
	assert_int_equal(try_unseal(f, text, len, f->host2, f->admin->pk), -1);
	assert_err(f, "sealed for another host");
	keyfile_pair_free(wrong);
	free(text);
}

static void test_untrusted_signer(void **state)
{
	struct fixture *f = *state;
	size_t len = 0;
	char *text = make_bundle(f, f->host->pk, f->admin2, &len);

	assert_int_equal(try_unseal(f, text, len, f->host, f->admin->pk), -1);
	assert_err(f, "not by the trusted key");
	free(text);
}

/* Every byte, changed in several ways: refused, nothing written. */
static void test_flipped_byte_anywhere(void **state)
{
	static const uint8_t masks[] = { 0x01, 0x02, 0x20, 0x40, 0x80, 0xff };
	struct fixture *f = *state;
	size_t len = 0;
	char *text = make_bundle(f, f->host->pk, f->admin, &len);

	for (size_t i = 0; i < len; i++) {
		for (size_t m = 0; m <= ARRAY_SIZE(masks); m++) {
			char saved = text[i];

			text[i] = m < ARRAY_SIZE(masks) ? (char)(saved ^ masks[m]) : '\0';
			if (try_unseal(f, text, len, f->host, f->admin->pk) == 0)
				fail_msg("byte %zu changed from 0x%02x to 0x%02x was accepted", i,
				         (unsigned char)saved, (unsigned char)text[i]);
			text[i] = saved;
		}
	}
	assert_int_equal(try_unseal(f, text, len, f->host, f->admin->pk), 0);
	free(text);
}

static void test_truncated_bundle(void **state)
{
	struct fixture *f = *state;
	size_t len = 0;
	char *text = make_bundle(f, f->host->pk, f->admin, &len);

	/* the last byte is the final newline, which may be lost on the way */
	for (size_t cut = 0; cut + 1 < len; cut++) {
		if (try_unseal(f, text, cut, f->host, f->admin->pk) == 0)
			fail_msg("bundle cut to %zu of %zu bytes was accepted", cut, len);
		assert_err(f, "truncated");
	}
	free(text);
}

static void test_signature_binds_recipient(void **state)
{
	struct fixture *f = *state;
	struct keyfile_bundle b;
	struct keyring *kr;

	/* the recipient line swapped for this host's key, signature kept */
	assert_int_equal(keyfile_bundle_seal(&b, f->ring, f->ringlen, f->host2->pk, f->admin,
	                                     SERIAL, CREATED, f->err, sizeof(f->err)),
	                 0);
	memcpy(b.recipient, f->host->pk, KEYFILE_PK_BYTES);
	kr = keyfile_bundle_open(&b, "x", f->admin->pk, f->host, f->err, sizeof(f->err));
	assert_null(kr);
	assert_err(f, "bad signature");
	/* a signature over another ciphertext */
	memcpy(b.recipient, f->host2->pk, KEYFILE_PK_BYTES);
	b.sealed[b.sealed_len - 1] ^= 1;
	assert_null(keyfile_bundle_open(&b, "x", f->admin->pk, f->host2, f->err, sizeof(f->err)));
	assert_err(f, "bad signature");
	keyfile_bundle_clear(&b);
}

static void test_sealed_content_must_be_a_keyring(void **state)
{
	struct fixture *f = *state;
	struct keyfile_bundle b;
	static const char junk[] = "1 nothex primary\n";

	assert_int_equal(keyfile_bundle_seal(&b, junk, strlen(junk), f->host->pk, f->admin, SERIAL,
	                                     CREATED, f->err, sizeof(f->err)),
	                 0);
	assert_null(keyfile_bundle_open(&b, "x", f->admin->pk, f->host, f->err, sizeof(f->err)));
	assert_err(f, "x (sealed content)");
	assert_err(f, "secret of key 1");
	keyfile_bundle_clear(&b);
}

#define PK_B64 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
#define V2_HEAD "cmem-bundle-v2\nsigner " PK_B64 "\nrecipient " PK_B64 "\n"

static void test_garbled_bundles(void **state)
{
	static const struct {
		const char *text, *problem;
	} cases[] = {
		{ "hello\n", "not a cmem bundle" },
		{ "cmem-bundle-v4\n", "unsupported bundle format" },
		{ "cmem-bundle-v1\nsigner AAAA\n", "the signer is not 32 bytes" },
		{ "cmem-bundle-v1\nrecipient AAAA\n", "expected \"signer BASE64\"" },
		{ "cmem-bundle-v1\n\xc3\xa9\n", "byte 0xc3" },
		{ V2_HEAD "signature AAAA\n", "line 4: expected \"serial NUMBER\"" },
		{ V2_HEAD "serial 01\n", "line 4: the serial is not a number in 1.." },
		{ V2_HEAD "serial 0\n", "line 4: the serial is not a number in 1.." },
		{ V2_HEAD "serial 18446744073709551616\n", "the serial is not a number" },
		{ V2_HEAD "serial 7\nsignature AAAA\n", "line 5: expected \"created YYYY" },
		{ V2_HEAD "serial 7\ncreated 2025-13-01T00:00:00Z\n", "the created time is not" },
		{ V2_HEAD "serial 7\ncreated 2025-12-0", "truncated: line 5 (created time) is cut short" },
		{ V2_HEAD "serial 7\ncreated 2025-12-02T13:38:34Z\nsealed\n",
		  "line 6: expected \"signature BASE64\"" },
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		assert_int_equal(try_unseal(f, cases[i].text, strlen(cases[i].text), f->host,
		                            f->admin->pk),
		                 -1);
		assert_err(f, cases[i].problem);
	}
}

/* Bundle times: exactly YYYY-MM-DDTHH:MM:SSZ, a real date, both ways. */
static void test_times(void **state)
{
	static const char *const bad[] = {
		"2025-12-02T13:38:34",  "2025-12-02 13:38:34Z", "2025-02-29T00:00:00Z",
		"2025-12-02T24:00:00Z", "2025-00-02T13:38:34Z", "2025-12-02T13:60:34Z",
		"+025-12-02T13:38:34Z", "2025-12-02T13:38:34z", "20251202T133834Z",
	};
	char out[KEYFILE_TIME_LEN];
	int64_t t = 0;

	(void)state;
	assert_int_equal(keyfile_time_format(CREATED, out), 0);
	assert_string_equal(out, "2025-12-02T13:38:34Z");
	assert_int_equal(keyfile_time_parse(out, strlen(out), &t), 0);
	assert_int_equal(t, CREATED);
	assert_int_equal(keyfile_time_parse("2024-02-29T00:00:00Z", 20, &t), 0);
	assert_int_equal(keyfile_time_parse("9999-12-31T23:59:59Z", 20, &t), 0);
	assert_int_equal(t, KEYFILE_TIME_MAX);
	assert_int_equal(keyfile_time_format(KEYFILE_TIME_MAX + 1, out), -1);
	assert_int_equal(keyfile_time_format(-1, out), -1);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (keyfile_time_parse(bad[i], strlen(bad[i]), &t) == 0)
			fail_msg("\"%s\" was accepted", bad[i]);
}

/* Serial and time are signed: seal refuses what it could not write. */
static void test_seal_checks_serial_and_time(void **state)
{
	struct fixture *f = *state;
	struct keyfile_bundle b;
	size_t len = 0;
	char *text;

	assert_int_equal(keyfile_bundle_seal(&b, f->ring, f->ringlen, f->host->pk, f->admin, 0,
	                                     CREATED, f->err, sizeof(f->err)),
	                 -1);
	assert_err(f, "serial 0");
	assert_int_equal(keyfile_bundle_seal(&b, f->ring, f->ringlen, f->host->pk, f->admin, 1,
	                                     KEYFILE_TIME_MAX + 1, f->err, sizeof(f->err)),
	                 -1);
	assert_int_equal(keyfile_bundle_seal(&b, f->ring, f->ringlen, f->host->pk, f->host, 1,
	                                     CREATED, f->err, sizeof(f->err)),
	                 -1);
	assert_err(f, "not an admin key");
	/* the largest serial round-trips */
	assert_int_equal(keyfile_bundle_seal(&b, f->ring, f->ringlen, f->host->pk, f->admin,
	                                     UINT64_MAX, CREATED, f->err, sizeof(f->err)),
	                 0);
	text = keyfile_bundle_format(&b, &len);
	keyfile_bundle_clear(&b);
	assert_non_null(strstr(text, "\nserial 18446744073709551615\ncreated 2025-12-02T13:38:34Z\n"));
	assert_int_equal(keyfile_bundle_parse(&b, "x", text, len, f->err, sizeof(f->err)), 0);
	assert_int_equal(b.version, 2);
	assert_true(b.serial == UINT64_MAX);
	assert_int_equal(b.created, CREATED);
	keyfile_bundle_clear(&b);
	free(text);
}

/* ---- hosts file ---- */

static void test_hosts_file(void **state)
{
	struct fixture *f = *state;
	char line1[KEYFILE_PUB_LINE_MAX], line2[KEYFILE_PUB_LINE_MAX], text[512];
	struct keyfile_host_entry *v = NULL;
	size_t n = 0;

	keyfile_pub_format(KEYFILE_HOST, f->host->pk, line1);
	keyfile_pub_format(KEYFILE_HOST, f->host2->pk, line2);
	snprintf(text, sizeof(text), "# cluster\n\nnode-a %s\n  node_b.x\t%s  \n", line1, line2);
	assert_int_equal(keyfile_hosts_parse("hosts", text, strlen(text), &v, &n, f->err,
	                                     sizeof(f->err)),
	                 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].name, "node-a");
	assert_string_equal(v[1].name, "node_b.x");
	assert_memory_equal(v[1].pk, f->host2->pk, KEYFILE_PK_BYTES);
	free(v);
	snprintf(text, sizeof(text), "a %s\na %s\n", line1, line2);
	assert_int_equal(keyfile_hosts_parse("hosts", text, strlen(text), &v, &n, f->err,
	                                     sizeof(f->err)),
	                 -1);
	assert_err(f, "hosts: line 2: host a is listed twice");
	snprintf(text, sizeof(text), "a %s\nb %s\n", line1, line1);
	assert_int_equal(keyfile_hosts_parse("hosts", text, strlen(text), &v, &n, f->err,
	                                     sizeof(f->err)),
	                 -1);
	assert_err(f, "has the public key of host a");
	snprintf(text, sizeof(text), "../etc %s\n", line1);
	assert_int_equal(keyfile_hosts_parse("hosts", text, strlen(text), &v, &n, f->err,
	                                     sizeof(f->err)),
	                 -1);
	assert_err(f, "host name \"../etc\"");
	assert_int_equal(keyfile_hosts_parse("hosts", "# none\n", 7, &v, &n, f->err,
	                                     sizeof(f->err)),
	                 -1);
	assert_err(f, "no host");
}

/* PROTOCOL.md 2.1 in the hosts file too: a name begins with a letter or digit. */
static void test_hosts_file_name_rule(void **state)
{
	static const char *const bad[] = { ".", "..", "-rf", "--help", "_x" };
	static const char *const good[] = { "a", "9", "node-a", "9.node-a_b" };
	struct fixture *f = *state;
	char line1[KEYFILE_PUB_LINE_MAX], text[512], want[128];
	struct keyfile_host_entry *v = NULL;
	size_t n = 0;

	keyfile_pub_format(KEYFILE_HOST, f->host->pk, line1);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		snprintf(text, sizeof(text), "node-a %s\n%s %s\n", line1, bad[i], line1);
		assert_int_equal(keyfile_hosts_parse("hosts", text, strlen(text), &v, &n, f->err,
		                                     sizeof(f->err)),
		                 -1);
		snprintf(want, sizeof(want), "hosts: line 2: host name \"%s\" is not " NAME_RULE,
		         bad[i]);
		assert_string_equal(f->err, want);
	}
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		snprintf(text, sizeof(text), "%s %s\n", good[i], line1);
		assert_int_equal(keyfile_hosts_parse("hosts", text, strlen(text), &v, &n, f->err,
		                                     sizeof(f->err)),
		                 0);
		assert_int_equal(n, 1);
		assert_string_equal(v[0].name, good[i]);
		free(v);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_keyring_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hosts_file_name_rule, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keypair_save_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_admin_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_public_key_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seal_and_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_crlf_and_no_final_newline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bundle_for_another_host, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_host_secret_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_untrusted_signer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flipped_byte_anywhere, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_bundle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signature_binds_recipient, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sealed_content_must_be_a_keyring, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbled_bundles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_times, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seal_checks_serial_and_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hosts_file, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
