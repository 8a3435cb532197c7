/*
 * test_keyring: every refusal of keyring_load()/keyring_parse() names the
 * file and the problem; accepted files, formatting and ring editing.
 */
#include "testutil.h"

#include <sys/stat.h>

#include "util.h"

#define K1 TEST_KEY1_HEX
#define K2 TEST_KEY2_HEX
#define GOOD TEST_KEYRING_TEXT

struct fixture {
	char dir[256];
	char path[512]; /* dir/keyring, not created yet */
	char err[KEYRING_ERRLEN];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	tu_mkdtemp(f->dir, sizeof(f->dir));
	tu_path(f->path, sizeof(f->path), f->dir, "keyring");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	tu_rmtree(f->dir);
	free(f);
	return 0;
}

static void write_keyring(struct fixture *f, const char *text, mode_t mode)
{
	/* a fresh file each time: a previous mode may have made it read-only */
	unlink(f->path);
	assert_int_equal(tu_write_file(f->path, text, strlen(text), mode), 0);
}

/* keyring_load(path) must fail with a message naming path and `problem`. */
static void assert_refused(struct fixture *f, const char *path, const char *problem)
{
	struct keyring *kr;

	f->err[0] = '\0';
	kr = keyring_load(path, f->err, sizeof(f->err));
	if (kr != NULL) {
		keyring_free(kr);
		fail_msg("%s was accepted; expected \"%s\"", path, problem);
	}
	if (strstr(f->err, path) == NULL)
		fail_msg("message does not name the file %s: \"%s\"", path, f->err);
	if (strstr(f->err, problem) == NULL)
		fail_msg("message does not say \"%s\": \"%s\"", problem, f->err);
}

/* Same for file content (mode 0600, owned by us). */
static void assert_text_refused(struct fixture *f, const char *text, const char *problem)
{
	write_keyring(f, text, 0600);
	assert_refused(f, f->path, problem);
}

static struct keyring *load_ok(struct fixture *f, const char *text)
{
	struct keyring *kr;

	write_keyring(f, text, 0600);
	kr = keyring_load(f->path, f->err, sizeof(f->err));
	if (kr == NULL)
		fail_msg("refused: %s", f->err);
	return kr;
}

static void assert_key(const struct keyring *kr, uint16_t id, const char *hex, int primary)
{
	const struct keyring_key *k = keyring_find(kr, id);
	uint8_t secret[32];

	assert_non_null(k);
	assert_int_equal(k->id, id);
	assert_int_equal(k->primary, primary);
	assert_int_equal(tu_hex_decode(hex, 64, secret, sizeof(secret)), 32);
	assert_memory_equal(k->secret, secret, 32);
}

static void test_refuses_symlink(void **state)
{
	struct fixture *f = *state;
	char link[600];

	write_keyring(f, GOOD, 0600);
	tu_path(link, sizeof(link), f->dir, "link");
	assert_int_equal(symlink(f->path, link), 0);
	assert_refused(f, link, "symbolic link");
}

static void test_refuses_directory(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(mkdir(f->path, 0700), 0);
	assert_refused(f, f->path, "not a regular file");
}

static void test_refuses_fifo(void **state)
{
	struct fixture *f = *state;

	/* O_NONBLOCK: the open must not wait for a writer */
	assert_int_equal(mkfifo(f->path, 0600), 0);
	assert_refused(f, f->path, "not a regular file");
}

static void test_refuses_group_bits(void **state)
{
	struct fixture *f = *state;
	static const mode_t modes[] = { 0640, 0620, 0610, 0660, 0670 };

	for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
		write_keyring(f, GOOD, modes[i]);
		assert_refused(f, f->path, "too open");
		assert_non_null(strstr(f->err, "chmod 600"));
	}
}

static void test_refuses_other_bits(void **state)
{
	struct fixture *f = *state;
	static const mode_t modes[] = { 0604, 0602, 0601, 0644, 0404 };
	char want[16];

	for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
		write_keyring(f, GOOD, modes[i]);
		assert_refused(f, f->path, "too open");
		snprintf(want, sizeof(want), "%04o", (unsigned)modes[i]);
		assert_non_null(strstr(f->err, want));
	}
}

static void test_refuses_foreign_owner(void **state)
{
	struct fixture *f = *state;

	if (geteuid() != 0) {
		/* only root can give a file away */
		skip();
		return;
	}
	write_keyring(f, GOOD, 0600);
	assert_int_equal(chown(f->path, 65534, 65534), 0);
	assert_refused(f, f->path, "owned by uid 65534");
}

static void test_refuses_missing_file(void **state)
{
	struct fixture *f = *state;

	assert_refused(f, f->path, "cannot open");
}

static void test_refuses_malformed_line(void **state)
{
	struct fixture *f = *state;

	assert_text_refused(f, GOOD "garbage\n", "line 3: expected \"ID SECRET [primary]\"");
	assert_text_refused(f, "1 " K1 " primary extra\n", "line 1: expected");
	assert_text_refused(f, "1\n", "line 1: expected");
}

static void test_refuses_duplicate_id(void **state)
{
	struct fixture *f = *state;

	assert_text_refused(f, "# dup\n7 " K1 " primary\n7 " K2 "\n", "line 3: duplicate key id 7");
}

static void test_refuses_id_zero(void **state)
{
	struct fixture *f = *state;

	assert_text_refused(f, "0 " K1 " primary\n", "line 1: key id \"0\" is not a number in 1..65535");
}

static void test_refuses_id_65536(void **state)
{
	struct fixture *f = *state;

	assert_text_refused(f, "1 " K1 " primary\n65536 " K2 "\n",
	                    "line 2: key id \"65536\" is not a number in 1..65535");
	assert_text_refused(f, "01 " K1 " primary\n", "key id \"01\"");
	assert_text_refused(f, "-1 " K1 " primary\n", "key id \"-1\"");
	assert_text_refused(f, "x " K1 " primary\n", "key id \"x\"");
}

static void test_refuses_short_secret(void **state)
{
	struct fixture *f = *state;
	char text[128];

	snprintf(text, sizeof(text), "1 %.63s primary\n", K1); /* one digit short */
	assert_text_refused(f, text, "line 1: secret of key 1 is not 64 lowercase hex digits");
	assert_text_refused(f, "1 " K1 "0 primary\n", "secret of key 1 is not 64 lowercase hex");
}

static void test_refuses_uppercase_secret(void **state)
{
	struct fixture *f = *state;

	assert_text_refused(f,
	                    "3 93A61365900abee44daa0730506b48ef"
	                    "0085d44e8108630e942b46159e354112 primary\n",
	                    "secret of key 3 is not 64 lowercase hex digits");
}

static void test_refuses_nonhex_secret(void **state)
{
	struct fixture *f = *state;

	assert_text_refused(f,
	                    "4 93g61365900abee44daa0730506b48ef"
	                    "0085d44e8108630e942b46159e354112 primary\n",
	                    "secret of key 4 is not 64 lowercase hex digits");
}

static void test_refuses_no_primary(void **state)
{
	struct fixture *f = *state;

	assert_text_refused(f, "1 " K1 "\n2 " K2 "\n", "no primary key");
}

static void test_refuses_two_primaries(void **state)
{
	struct fixture *f = *state;

	assert_text_refused(f, "1 " K1 " primary\n2 " K2 " primary\n", "more than one primary key");
}

static void test_refuses_unknown_flag(void **state)
{
	struct fixture *f = *state;

	assert_text_refused(f, "1 " K1 " primary\n2 " K2 " secondary\n", "line 2: unknown flag");
	assert_text_refused(f, "1 " K1 " PRIMARY\n", "line 1: unknown flag");
	assert_text_refused(f, "1 " K1 " primaryx\n", "line 1: unknown flag");
}

static void test_refuses_empty_file(void **state)
{
	struct fixture *f = *state;

	assert_text_refused(f, "", "no key");
	assert_text_refused(f, "# only a comment\n\n   \n", "no key");
}

static void test_refuses_nonprintable(void **state)
{
	struct fixture *f = *state;

	assert_text_refused(f, "1 " K1 " primary\r\n", "line 1: non-printable byte 0x0d");
	assert_text_refused(f, "# caf\xc3\xa9\n1 " K1 " primary\n", "line 1: non-printable byte 0xc3");
}

static void test_refuses_huge_file(void **state)
{
	struct fixture *f = *state;
	size_t n = KEYRING_MAX_FILE + 1;
	char *text = malloc(n + 1);

	assert_non_null(text);
	memset(text, '#', n);
	text[n] = '\0';
	write_keyring(f, text, 0600);
	free(text);
	assert_refused(f, f->path, "larger than 65536 bytes");
}

static void test_refuses_too_many_keys(void **state)
{
	struct fixture *f = *state;
	char text[(KEYRING_MAX_KEYS + 2) * 80];
	size_t off = 0;

	for (unsigned id = 1; id <= KEYRING_MAX_KEYS + 1; id++)
		off += (size_t)snprintf(text + off, sizeof(text) - off, "%u %s%s\n", id, K1,
		                        id == 1 ? " primary" : "");
	assert_text_refused(f, text, "line 65: more than 64 keys");
}

/* keyring_parse() names the file it was given in every message. */
static void test_parse_names_source(void **state)
{
	char err[KEYRING_ERRLEN];

	(void)state;
	assert_null(keyring_parse("<inline>", "1 x primary\n", 12, err, sizeof(err)));
	assert_non_null(strstr(err, "keyring <inline>: line 1"));
	/* a NULL or empty err buffer is allowed */
	assert_null(keyring_parse("<inline>", "", 0, NULL, 0));
	assert_null(keyring_parse("<inline>", "", 0, err, 0));
}

static void test_accepts_comments_and_blank_lines(void **state)
{
	struct fixture *f = *state;
	struct keyring *kr = load_ok(f, "# cluster keys\n\n   \n\t\n  # indented comment\n"
	                                 "2 " K2 "\n\n# the signing key\n1 " K1 " primary\n# end");

	assert_int_equal(kr->nkeys, 2);
	assert_key(kr, 1, K1, 1);
	assert_key(kr, 2, K2, 0);
	assert_int_equal(keyring_primary(kr)->id, 1);
	assert_null(keyring_find(kr, 3));
	keyring_free(kr);
}

static void test_accepts_tabs(void **state)
{
	struct fixture *f = *state;
	struct keyring *kr = load_ok(f, "1\t" K1 "\t\tprimary\t\n\t 2 \t" K2 "  ");

	assert_int_equal(kr->nkeys, 2);
	assert_key(kr, 1, K1, 1);
	assert_key(kr, 2, K2, 0);
	keyring_free(kr);
}

static void test_accepts_vectors_keyring(void **state)
{
	struct fixture *f = *state;
	size_t len;
	char *text = tu_read_file(TU_VECTOR_KEYRING, &len);
	struct keyring *kr;

	assert_non_null(text);
	kr = load_ok(f, text);
	free(text);
	assert_int_equal(kr->nkeys, 2);
	assert_key(kr, 1, K1, 1);
	assert_key(kr, 2, K2, 0);
	assert_ptr_equal(keyring_primary(kr), keyring_find(kr, 1));
	keyring_free(kr);

	/* a primary that is not the first key, ids up to 65535 */
	kr = load_ok(f, "65535 " K1 "\n9 " K2 " primary\n");
	assert_int_equal(keyring_primary(kr)->id, 9);
	assert_key(kr, 65535, K1, 0);
	keyring_free(kr);
}

static void test_accepts_root_or_own_mode_0400(void **state)
{
	struct fixture *f = *state;
	struct keyring *kr;

	write_keyring(f, GOOD, 0400);
	kr = keyring_load(f->path, f->err, sizeof(f->err));
	assert_non_null(kr);
	keyring_free(kr);
}

static void test_format_parse_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct keyring *kr = load_ok(f, "5 " K2 "\n1 " K1 "\n300 " K2 " primary\n"), *again;
	size_t len, len2;
	char *text = keyring_format(kr, &len), *text2;

	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	assert_non_null(strstr(text, "300 " K2 " primary\n"));
	again = keyring_parse("formatted", text, len, f->err, sizeof(f->err));
	if (again == NULL)
		fail_msg("formatted ring refused: %s", f->err);
	assert_int_equal(again->nkeys, 3);
	assert_key(again, 5, K2, 0);
	assert_key(again, 1, K1, 0);
	assert_key(again, 300, K2, 1);
	assert_int_equal(keyring_primary(again)->id, 300);
	text2 = keyring_format(again, &len2);
	assert_non_null(text2);
	assert_int_equal(len, len2);
	assert_memory_equal(text, text2, len);
	/* and it loads from a file too */
	keyring_free(again);
	again = load_ok(f, text);
	assert_int_equal(again->nkeys, 3);
	sodium_free(text);
	sodium_free(text2);
	keyring_free(again);
	keyring_free(kr);
}

/* keyring_format of a full ring fits and parses back. */
static void test_format_full_ring(void **state)
{
	struct keyring *kr = keyring_new(), *again;
	uint8_t secret[KEYRING_KEY_BYTES];
	char err[KEYRING_ERRLEN];
	size_t len;
	char *text;

	(void)state;
	assert_non_null(kr);
	for (unsigned i = 0; i < KEYRING_MAX_KEYS; i++) {
		randombytes_buf(secret, sizeof(secret));
		assert_int_equal(keyring_add(kr, (uint16_t)(65535 - i), secret, i == 7), 0);
	}
	text = keyring_format(kr, &len);
	assert_non_null(text);
	again = keyring_parse("full", text, len, err, sizeof(err));
	if (again == NULL)
		fail_msg("%s", err);
	assert_int_equal(again->nkeys, KEYRING_MAX_KEYS);
	assert_int_equal(keyring_primary(again)->id, 65535 - 7);
	for (unsigned i = 0; i < KEYRING_MAX_KEYS; i++)
		assert_memory_equal(keyring_find(again, (uint16_t)(65535 - i))->secret,
		                    keyring_find(kr, (uint16_t)(65535 - i))->secret, KEYRING_KEY_BYTES);
	sodium_free(text);
	keyring_free(again);
	keyring_free(kr);
}

static void test_add_set_primary_remove(void **state)
{
	struct keyring *kr = keyring_new();
	uint8_t s1[32], s2[32], s3[32];

	(void)state;
	assert_non_null(kr);
	assert_null(keyring_primary(kr));
	assert_null(keyring_find(kr, 1));
	randombytes_buf(s1, sizeof(s1));
	randombytes_buf(s2, sizeof(s2));
	randombytes_buf(s3, sizeof(s3));

	assert_int_equal(keyring_add(kr, 0, s1, 0), -1);
	/* the first key becomes primary even if not asked */
	assert_int_equal(keyring_add(kr, 1, s1, 0), 0);
	assert_int_equal(keyring_primary(kr)->id, 1);
	assert_int_equal(keyring_add(kr, 2, s2, 0), 0);
	assert_int_equal(keyring_primary(kr)->id, 1);
	assert_int_equal(keyring_add(kr, 2, s3, 0), -1);
	assert_int_equal(keyring_add(kr, 3, s3, 1), 0);
	assert_int_equal(keyring_primary(kr)->id, 3);
	assert_false(keyring_find(kr, 1)->primary);
	assert_int_equal(kr->nkeys, 3);

	assert_int_equal(keyring_set_primary(kr, 99), -1);
	assert_int_equal(keyring_primary(kr)->id, 3);
	assert_int_equal(keyring_set_primary(kr, 2), 0);
	assert_int_equal(keyring_primary(kr)->id, 2);
	assert_true(keyring_find(kr, 2)->primary);
	assert_false(keyring_find(kr, 3)->primary);

	/* the primary cannot be removed; others can, and the primary survives the shift */
	assert_int_equal(keyring_remove(kr, 2), -1);
	assert_int_equal(keyring_remove(kr, 99), -1);
	assert_int_equal(keyring_remove(kr, 1), 0);
	assert_null(keyring_find(kr, 1));
	assert_int_equal(kr->nkeys, 2);
	assert_int_equal(keyring_primary(kr)->id, 2);
	assert_memory_equal(keyring_primary(kr)->secret, s2, 32);
	assert_memory_equal(keyring_find(kr, 3)->secret, s3, 32);
	assert_int_equal(keyring_set_primary(kr, 3), 0);
	assert_int_equal(keyring_remove(kr, 2), 0);
	assert_int_equal(kr->nkeys, 1);
	assert_int_equal(keyring_primary(kr)->id, 3);
	assert_int_equal(keyring_remove(kr, 3), -1);
	keyring_free(kr);
}

/* The precomputed HMAC state of each key equals a plain HMAC, after edits too. */
static void test_precomputed_hmac(void **state)
{
	struct keyring *kr = keyring_new();
	uint8_t s[3][32], want[32], got[32];
	static const uint8_t msg[] = "1764172800: [a] cjoin a |v1 k=1 n=1.1";

	(void)state;
	assert_non_null(kr);
	for (int i = 0; i < 3; i++) {
		randombytes_buf(s[i], 32);
		assert_int_equal(keyring_add(kr, (uint16_t)(i + 1), s[i], 0), 0);
	}
	assert_int_equal(keyring_remove(kr, 2), 0);
	for (int i = 0; i < 3; i += 2) {
		crypto_auth_hmacsha256_state st = keyring_find(kr, (uint16_t)(i + 1))->hmac;

		crypto_auth_hmacsha256_update(&st, msg, sizeof(msg) - 1);
		crypto_auth_hmacsha256_final(&st, got);
		crypto_auth_hmacsha256(want, msg, sizeof(msg) - 1, s[i]);
		assert_memory_equal(got, want, 32);
	}
	keyring_free(kr);
}

static void test_ring_full(void **state)
{
	struct keyring *kr = keyring_new();
	uint8_t s[32] = { 1 };

	(void)state;
	assert_non_null(kr);
	for (unsigned i = 1; i <= KEYRING_MAX_KEYS; i++)
		assert_int_equal(keyring_add(kr, (uint16_t)i, s, 0), 0);
	assert_int_equal(keyring_add(kr, KEYRING_MAX_KEYS + 1, s, 0), -1);
	assert_int_equal(kr->nkeys, KEYRING_MAX_KEYS);
	keyring_free(kr);
}

static int is_lower_hex16(const char *s)
{
	if (strlen(s) != 16)
		return 0;
	for (size_t i = 0; i < 16; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static void test_fingerprint(void **state)
{
	struct fixture *f = *state;
	struct keyring *kr = load_ok(f, GOOD), *kr2;
	char a[KEYRING_FPR_LEN], b[KEYRING_FPR_LEN], c[KEYRING_FPR_LEN];

	keyring_fingerprint(keyring_find(kr, 1), a);
	keyring_fingerprint(keyring_find(kr, 1), b);
	keyring_fingerprint(keyring_find(kr, 2), c);
	assert_true(is_lower_hex16(a));
	assert_true(is_lower_hex16(c));
	/* stable: first 8 bytes of SHA-256 of the secret (sha256sum gives the same) */
	assert_string_equal(a, b);
	assert_string_equal(a, "0f3c61915e62767c");
	assert_string_equal(c, "500247cab3f77a04");
	/* it depends on the secret only, not on the id or the ring */
	kr2 = load_ok(f, "42 " K1 " primary\n");
	keyring_fingerprint(keyring_find(kr2, 42), b);
	assert_string_equal(a, b);
	/* and contains no run of the secret's hex */
	for (size_t i = 0; i + 8 <= 16; i++) {
		char part[9];

		memcpy(part, a + i, 8);
		part[8] = '\0';
		assert_null(strstr(K1, part));
	}
	keyring_free(kr2);
	keyring_free(kr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_refuses_symlink),
		T(test_refuses_directory),
		T(test_refuses_fifo),
		T(test_refuses_group_bits),
		T(test_refuses_other_bits),
		T(test_refuses_foreign_owner),
		T(test_refuses_missing_file),
		T(test_refuses_malformed_line),
		T(test_refuses_duplicate_id),
		T(test_refuses_id_zero),
		T(test_refuses_id_65536),
		T(test_refuses_short_secret),
		T(test_refuses_uppercase_secret),
		T(test_refuses_nonhex_secret),
		T(test_refuses_no_primary),
		T(test_refuses_two_primaries),
		T(test_refuses_unknown_flag),
		T(test_refuses_empty_file),
		T(test_refuses_nonprintable),
		T(test_refuses_huge_file),
		T(test_refuses_too_many_keys),
		cmocka_unit_test(test_parse_names_source),
		T(test_accepts_comments_and_blank_lines),
		T(test_accepts_tabs),
		T(test_accepts_vectors_keyring),
		T(test_accepts_root_or_own_mode_0400),
		T(test_format_parse_roundtrip),
		cmocka_unit_test(test_format_full_ring),
		cmocka_unit_test(test_add_set_primary_remove),
		cmocka_unit_test(test_precomputed_hmac),
		cmocka_unit_test(test_ring_full),
		T(test_fingerprint),
#undef T
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
