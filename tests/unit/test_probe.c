/*
 * test_probe: the address-validation extension (doc/PROTOCOL.md, "Address
 * validation"): the `probe` body against the independent vectors
 * (tests/vectors/ext-probe.tsv, made by gen_ext_probe.py), and the
 * validation state machine of the peer table (peers.h) with an injected
 * clock: credit, probes and their backoff, the echo, expiry.
 */
#include "testutil.h"

#include <arpa/inet.h>

#include "addr.h"
#include "peers.h"
#include "util.h"
#include "wire.h"

#define NOW TU_VECTOR_NOW
#define WINDOW TU_VECTOR_WINDOW

/* ---- the vectors ---- */

static int hex_or_none(const char *hex, uint8_t out[WIRE_NONCE_BYTES])
{
	if (strcmp(hex, "-") == 0)
		return 0;
	assert_int_equal(tu_hex_decode(hex, strlen(hex), out, WIRE_NONCE_BYTES), WIRE_NONCE_BYTES);
	return 1;
}

/* One row: the verdict of checks 1-4 and 6, and the nonce and echo parsed. */
static void check_row(const struct keyring *kr, char *row)
{
	char *verdict = strsep(&row, "\t"), *hex = strsep(&row, "\t"), *nonce = strsep(&row, "\t");
	char *echo = strsep(&row, "\t"), *desc = row;
	uint8_t buf[WIRE_MAX_DATAGRAM + 1], n[WIRE_NONCE_BYTES], e[WIRE_NONCE_BYTES];
	struct wire_msg msg;
	ssize_t len;
	enum wire_verdict v;
	int has_n, has_e;

	if (desc == NULL)
		fail_msg("ext-probe.tsv: malformed row \"%s\"", verdict);
	len = tu_hex_decode(hex, strlen(hex), buf, sizeof(buf));
	assert_true(len > 0);
	v = wire_verify(kr, buf, (size_t)len, NOW, WINDOW, &msg);
	if (v == WIRE_OK)
		v = wire_parse_body(&msg, WINDOW);
	if (strcmp(wire_verdict_name(v), strcmp(verdict, "accept") == 0 ? "ok" : verdict) != 0)
		fail_msg("ext-probe.tsv \"%s\": %s, wanted %s", desc, wire_verdict_name(v), verdict);
	if (v != WIRE_OK)
		return;
	has_n = hex_or_none(nonce, n);
	has_e = hex_or_none(echo, e);
	assert_int_equal(msg.verb, WIRE_PROBE);
	assert_int_equal(msg.has_nonce, has_n);
	assert_int_equal(msg.has_echo, has_e);
	if (has_n)
		assert_memory_equal(msg.nonce, n, WIRE_NONCE_BYTES);
	if (has_e)
		assert_memory_equal(msg.echo, e, WIRE_NONCE_BYTES);
}

static void test_vectors(void **state)
{
	struct keyring *kr = tu_vector_keyring();
	size_t len, rows = 0;
	char *text = tu_read_file(TU_VECTORS "/ext-probe.tsv", &len), *cur = text, *line;

	(void)state;
	if (text == NULL)
		fail_msg("cannot read %s/ext-probe.tsv", TU_VECTORS);
	while ((line = strsep(&cur, "\n")) != NULL) {
		if (*line == '\0' || *line == '#')
			continue;
		check_row(kr, line);
		rows++;
	}
	assert_int_equal(rows, 16);
	free(text);
	keyring_free(kr);
}

/* wire_sign makes the first vector byte for byte. */
static void test_sign_matches_vector(void **state)
{
	struct keyring *kr = tu_vector_keyring();
	size_t len;
	char *text = tu_read_file(TU_VECTORS "/ext-probe.tsv", &len), *cur = text, *line, out[1300];
	const char *body = "probe node-a n=";
	char full[128];
	uint8_t want[WIRE_MAX_DATAGRAM + 1];
	int n;

	(void)state;
	assert_non_null(text);
	while ((line = strsep(&cur, "\n")) != NULL && (*line == '#' || *line == '\0'))
		;
	assert_non_null(line);
	strsep(&line, "\t");
	{
		char *hex = strsep(&line, "\t"), *nonce = strsep(&line, "\t");
		ssize_t wl = tu_hex_decode(hex, strlen(hex), want, sizeof(want));

		snprintf(full, sizeof(full), "%s%s", body, nonce);
		n = wire_sign(keyring_find(kr, 1), NOW, "node-a", full, strlen(full),
		              1764172790123456ull, 7, out, sizeof(out));
		assert_int_equal(n, wl);
		assert_memory_equal(out, want, (size_t)n);
	}
	free(text);
	keyring_free(kr);
}

/* ---- the state machine ---- */

static struct member_addr addr4(const char *s, uint16_t port)
{
	struct member_addr a = { .family = AF_INET, .port = port };

	assert_int_equal(inet_pton(AF_INET, s, &a.a.v4), 1);
	return a;
}

static size_t due(struct peers *p, uint64_t now, size_t len, const struct member_addr *want)
{
	struct member_addr out[16];
	size_t n = peers_due(p, now, len, out, 16), hit = 0;

	for (size_t i = 0; i < n; i++)
		hit += addr_same(&out[i], want) && out[i].port == want->port;
	return hit;
}

/* Before validation: 3x the bytes received, less what was sent; then nothing. */
static void test_credit(void **state)
{
	struct peers *p = peers_new(8);
	struct member_addr a = addr4("10.0.0.2", 51510);

	(void)state;
	peers_require_validation(p);
	assert_int_equal(peers_learn(p, &a, 0), PEERS_ADDED);
	assert_false(peers_validated(p, &a));
	assert_int_equal(due(p, 1, 100, &a), 0); /* heard nothing yet: no credit */
	peers_credit(p, &a, 100);
	assert_int_equal(peers_credit_left(p, &a), 300);
	assert_int_equal(due(p, 2, 100, &a), 1);
	assert_int_equal(due(p, 3, 100, &a), 1);
	assert_int_equal(peers_send_one(p, &a, 100), 1);
	assert_int_equal(peers_send_one(p, &a, 1), 0); /* 300 spent */
	assert_int_equal(due(p, 4, 100, &a), 0);
	/* credit is not banked: gone once the address is quiet */
	peers_credit(p, &a, 1000);
	assert_int_equal(due(p, PEERS_QUIET_MS + 10, 100, &a), 0);
	assert_int_equal(peers_credit_left(p, &a), 0);
	/* and capped while it is not */
	for (int i = 0; i < 100; i++)
		peers_credit(p, &a, 1232);
	assert_int_equal(peers_credit_left(p, &a), PEERS_CREDIT_MAX);
	peers_free(p);
}

/* A probe, its backoff (1 s, doubling, at most 64 s), its echo. */
static void test_probe_and_echo(void **state)
{
	struct peers *p = peers_new(8);
	struct member_addr a = addr4("10.0.0.2", 51510), out[4];
	uint8_t nonce[PEERS_NONCE_BYTES], wrong[PEERS_NONCE_BYTES];
	uint64_t t = 1000;

	(void)state;
	peers_require_validation(p);
	peers_learn(p, &a, t);
	peers_credit(p, &a, 1232);
	assert_int_equal(peers_probes_due(p, t, 200, out, NULL, 4), 1);
	assert_int_equal(peers_credit_left(p, &a), 3 * 1232 - 200); /* charged */
	assert_int_equal(peers_probe_sent(p, &a, t, nonce), 0);
	assert_int_equal(peers_probes_due(p, t + 999, 200, out, NULL, 4), 0);
	peers_credit(p, &a, 1232); /* still heard from */
	assert_int_equal(peers_probes_due(p, t + 1000, 200, out, NULL, 4), 1);
	assert_int_equal(peers_probe_sent(p, &a, t + 1000, nonce), 0);
	assert_int_equal(peers_probes_due(p, t + 2999, 200, out, NULL, 4), 0); /* 2 s now */
	assert_int_equal(peers_probes_due(p, t + 3000, 200, out, NULL, 4), 1);
	/* a wrong echo does nothing; the right one validates, once */
	memcpy(wrong, nonce, sizeof(wrong));
	wrong[15] ^= 1;
	assert_int_equal(peers_echo(p, &a, wrong), PEERS_ECHO_NONE);
	assert_false(peers_validated(p, &a));
	peers_owe_reply(p, &a);
	assert_int_equal(peers_echo(p, &a, nonce), PEERS_ECHO_VALIDATED_OWED);
	assert_true(peers_validated(p, &a));
	assert_int_equal(peers_echo(p, &a, nonce), PEERS_ECHO_NONE);
	/* validated: every line, whatever its credit; no more probes */
	peers_credit(p, &a, 0);
	assert_int_equal(due(p, t + 4000, 1232, &a), 1);
	assert_int_equal(peers_send_one(p, &a, 1232), 1);
	assert_int_equal(peers_probes_due(p, t + 100000, 200, out, NULL, 4), 0);
	assert_int_equal(peers_probe_sent(p, &a, t, nonce), -1);
	peers_free(p);
}

/* The echo must come from the address and port probed. */
static void test_echo_from_elsewhere(void **state)
{
	struct peers *p = peers_new(8);
	struct member_addr a = addr4("10.0.0.2", 51510), b = addr4("10.0.0.3", 51510);
	struct member_addr a2 = addr4("10.0.0.2", 51511), out[4];
	uint8_t nonce[PEERS_NONCE_BYTES];

	(void)state;
	peers_require_validation(p);
	peers_learn(p, &a, 0);
	peers_learn(p, &b, 0);
	peers_credit(p, &a, 500);
	assert_int_equal(peers_probes_due(p, 0, 200, out, NULL, 4), 1);
	peers_probe_sent(p, &a, 0, nonce);
	assert_int_equal(peers_echo(p, &b, nonce), PEERS_ECHO_NONE);
	assert_int_equal(peers_echo(p, &a2, nonce), PEERS_ECHO_NONE);
	assert_false(peers_validated(p, &b));
	assert_false(peers_validated(p, &a));
	/* b was never probed: no nonce of its own to echo */
	assert_int_equal(peers_probe_sent(p, &b, 0, nonce), 0);
	peers_free(p);
}

/* A listed address: one datagram (a greeting), whatever its credit, then nothing until heard. */
static void test_listed_one_probe(void **state)
{
	struct peers *p = peers_new(8);
	struct member_addr a = addr4("10.0.0.9", 51510), b = addr4("10.0.0.8", 51510), out[4];
	uint8_t nonce[PEERS_NONCE_BYTES], greet[4];

	(void)state;
	peers_require_validation(p);
	assert_int_equal(peers_learn_listed(p, &a, 0), PEERS_ADDED);
	assert_int_equal(due(p, 1, 100, &a), 0);
	peers_learn(p, &b, 0);
	peers_credit(p, &b, 1000);
	assert_int_equal(peers_probes_due(p, 1, 200, out, greet, 4), 2);
	assert_int_equal(greet[0] + greet[1], 1); /* a is greeted, b probed */
	assert_int_equal(greet[addr_same(&out[0], &a) ? 0 : 1], 1);
	peers_probe_sent(p, &b, 1, nonce);
	peers_probe_sent(p, &a, 1, nonce);
	for (uint64_t t = 2; t < 200000; t += 500) {
		size_t n = peers_probes_due(p, t, 200, out, NULL, 4);

		for (size_t i = 0; i < n; i++) /* b, while its credit lasts; never a */
			assert_false(addr_same(&out[i], &a));
		assert_int_equal(due(p, t, 100, &a), 0);
	}
	/* heard from at last: probed at once, as its credit allows */
	assert_int_equal(peers_learn(p, &a, 200000), PEERS_KNOWN);
	assert_int_equal(peers_credit(p, &a, 200), 1);
	assert_int_equal(peers_credit(p, &a, 200), 0);
	assert_int_equal(peers_probes_due(p, 200001, 200, out, greet, 4), 1);
	assert_true(addr_same(&out[0], &a) && greet[0] == 0);
	peers_free(p);
}

/* Seeds are the operator's: never probed, sent every line. */
static void test_seed_exempt(void **state)
{
	struct peers *p = peers_new(8);
	struct member_addr s = addr4("10.0.0.1", 51510), out[4];

	(void)state;
	peers_require_validation(p);
	peers_add_seed(p, &s, 0);
	assert_true(peers_validated(p, &s));
	assert_int_equal(due(p, 1, 1232, &s), 1);
	assert_int_equal(peers_probes_due(p, 1, 200, out, NULL, 4), 0);
	peers_free(p);
}

/* Owed join replies come due once the credit pays for a full line. */
static void test_owed_reply(void **state)
{
	struct peers *p = peers_new(8);
	struct member_addr a = addr4("10.0.0.2", 51510), out[4];

	(void)state;
	peers_require_validation(p);
	peers_learn(p, &a, 0);
	peers_credit(p, &a, 100);
	peers_owe_reply(p, &a);
	assert_int_equal(peers_owed_due(p, 1400, out, 4), 0);
	peers_credit(p, &a, 400);
	assert_int_equal(peers_owed_due(p, 1400, out, 4), 1);
	assert_int_equal(peers_owed_due(p, 1400, out, 4), 0); /* paid */
	peers_free(p);
}

/* Addresses that are not unicast, wherever they come from. */
static void test_not_unicast(void **state)
{
	static const char *const bad4[] = { "224.0.0.1", "239.1.2.3", "255.255.255.255", "0.0.0.0",
		                            "0.1.2.3", "240.0.0.1" };
	struct member_addr a;

	(void)state;
	for (size_t i = 0; i < sizeof(bad4) / sizeof(bad4[0]); i++) {
		a = addr4(bad4[i], 0);
		assert_non_null(addr_not_unicast(&a, 1));
	}
	a = addr4("127.0.0.1", 0);
	assert_non_null(addr_not_unicast(&a, 0));
	assert_null(addr_not_unicast(&a, 1));
	a = addr4("10.1.2.3", 0);
	assert_null(addr_not_unicast(&a, 0));
	a.family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, "ff02::1", &a.a.v6), 1);
	assert_non_null(addr_not_unicast(&a, 1));
	assert_int_equal(inet_pton(AF_INET6, "::", &a.a.v6), 1);
	assert_non_null(addr_not_unicast(&a, 1));
	assert_int_equal(inet_pton(AF_INET6, "::1", &a.a.v6), 1);
	assert_non_null(addr_not_unicast(&a, 0));
	assert_int_equal(inet_pton(AF_INET6, "::ffff:255.255.255.255", &a.a.v6), 1);
	assert_non_null(addr_not_unicast(&a, 1));
	assert_int_equal(inet_pton(AF_INET6, "fd00::1", &a.a.v6), 1);
	assert_null(addr_not_unicast(&a, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_sign_matches_vector),
		cmocka_unit_test(test_credit),
		cmocka_unit_test(test_probe_and_echo),
		cmocka_unit_test(test_echo_from_elsewhere),
		cmocka_unit_test(test_listed_one_probe),
		cmocka_unit_test(test_seed_exempt),
		cmocka_unit_test(test_owed_reply),
		cmocka_unit_test(test_not_unicast),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
