/* Unit tests: the unicast destination table (injected clock, no sleeping). */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "peers.h"

static struct member_addr v4(const char *s, uint16_t port)
{
	struct member_addr a = { .family = AF_INET, .port = port };

	assert_int_equal(inet_pton(AF_INET, s, &a.a.v4), 1);
	return a;
}

static struct member_addr v6(const char *s, uint16_t port)
{
	struct member_addr a = { .family = AF_INET6, .port = port };

	assert_int_equal(inet_pton(AF_INET6, s, &a.a.v6), 1);
	return a;
}

/* How many times a is among the destinations of one line. */
static int sent_to(struct peers *p, uint64_t now, const struct member_addr *a)
{
	struct member_addr out[64];
	size_t n = peers_due(p, now, 100, out, 64);
	int hits = 0;

	for (size_t i = 0; i < n; i++)
		hits += addr_same(&out[i], a) && out[i].port == a->port;
	return hits;
}

/* Of the next `lines` lines at time now, how many went to a. */
static int lines_to(struct peers *p, uint64_t now, const struct member_addr *a, int lines)
{
	int hits = 0;

	for (int i = 0; i < lines; i++)
		hits += sent_to(p, now, a);
	return hits;
}

static void test_learn_and_send(void **state)
{
	struct peers *p = peers_new(8);
	struct member_addr a = v4("10.0.0.2", 51510), b = v4("10.0.0.2", 51511),
	                   c = v6("fd00::2", 51510);

	(void)state;
	assert_int_equal(peers_learn(p, &a, 1000), PEERS_ADDED);
	assert_int_equal(peers_learn(p, &a, 1000), PEERS_KNOWN);
	/* the port is part of the destination: another daemon on that host */
	assert_int_equal(peers_learn(p, &b, 1000), PEERS_ADDED);
	assert_int_equal(peers_learn(p, &c, 1000), PEERS_ADDED);
	assert_int_equal(peers_size(p), 3);
	assert_true(peers_known(p, &c));
	/* every line goes once to each peer heard lately */
	assert_int_equal(lines_to(p, 2000, &a, 20), 20);
	assert_int_equal(lines_to(p, 2000, &b, 20), 20);
	assert_int_equal(lines_to(p, 2000, &c, 20), 20);
	peers_free(p);
}

static void test_unknown_is_not_a_destination(void **state)
{
	struct peers *p = peers_new(8);
	struct member_addr a = v4("10.0.0.2", 51510), x = v4("10.0.0.9", 51510);

	(void)state;
	peers_learn(p, &a, 0);
	assert_false(peers_known(p, &x));
	assert_int_equal(lines_to(p, 10, &x, 20), 0);
	/* failing an unknown address adds nothing */
	peers_failed(p, &x, 10);
	assert_int_equal(peers_size(p), 1);
	peers_free(p);
}

static void test_failed_slow_then_forgotten(void **state)
{
	struct peers *p = peers_new(8);
	struct member_addr a = v4("10.0.0.2", 51510);
	struct peers_counts c;

	(void)state;
	peers_learn(p, &a, 0);
	peers_failed(p, &a, 1000);
	peers_counts(p, 1000, &c);
	assert_int_equal(c.slow, 1);
	assert_int_equal(c.active, 0);
	/* one line in PEERS_SLOW_EVERY, evenly */
	assert_int_equal(lines_to(p, 2000, &a, 100), 100 / PEERS_SLOW_EVERY);
	assert_int_equal(lines_to(p, 1000 + PEERS_FORGET_MS, &a, 100), 100 / PEERS_SLOW_EVERY);
	/* heard again: every line */
	peers_learn(p, &a, 5000);
	assert_int_equal(lines_to(p, 5000, &a, 30), 30);
	/* failed again, and quiet past the forget time: gone */
	peers_failed(p, &a, 6000);
	assert_int_equal(lines_to(p, 6001 + PEERS_FORGET_MS, &a, 10), 0);
	assert_int_equal(peers_size(p), 0);
	peers_free(p);
}

static void test_quiet_peer_slows_down(void **state)
{
	struct peers *p = peers_new(8);
	struct member_addr a = v4("10.0.0.2", 51510);

	(void)state;
	peers_learn(p, &a, 0);
	assert_int_equal(lines_to(p, PEERS_QUIET_MS, &a, 20), 20);
	assert_int_equal(lines_to(p, PEERS_QUIET_MS + 1, &a, 20), 20 / PEERS_SLOW_EVERY);
	peers_free(p);
}

static void test_seed_forever(void **state)
{
	struct peers *p = peers_new(8);
	struct member_addr s = v6("fd00::1", 51510);
	uint64_t later = 10ull * PEERS_FORGET_MS;
	struct peers_counts c;

	(void)state;
	assert_int_equal(peers_add_seed(p, &s, 0), PEERS_ADDED);
	/* at first every line, so that a join is quick */
	assert_int_equal(lines_to(p, 100, &s, 10), 10);
	/* silent: one line in PEERS_SLOW_EVERY, forever */
	assert_int_equal(lines_to(p, later, &s, 100), 100 / PEERS_SLOW_EVERY);
	peers_failed(p, &s, later);
	assert_int_equal(lines_to(p, 2 * later, &s, 100), 100 / PEERS_SLOW_EVERY);
	peers_counts(p, 2 * later, &c);
	assert_int_equal(c.seeds, 1);
	assert_int_equal(c.known, 1);
	/* learned as a member: a seed that answers gets every line */
	assert_int_equal(peers_learn(p, &s, 2 * later), PEERS_KNOWN);
	assert_int_equal(lines_to(p, 2 * later, &s, 10), 10);
	peers_free(p);
}

static void test_retry_all(void **state)
{
	struct peers *p = peers_new(8);
	struct member_addr a = v4("10.0.0.2", 51510), s = v4("10.0.0.3", 51510);

	(void)state;
	peers_learn(p, &a, 0);
	peers_failed(p, &a, 100);
	peers_add_seed(p, &s, 0);
	assert_int_equal(lines_to(p, 20000, &s, 10), 10 / PEERS_SLOW_EVERY);
	/* our link is back: everyone gets every line ... */
	peers_retry_all(p, 30000);
	assert_int_equal(lines_to(p, 30000, &a, 10), 10);
	assert_int_equal(lines_to(p, 30000, &s, 10), 10);
	/* ... and whoever stays silent slows down again */
	assert_int_equal(lines_to(p, 30001 + PEERS_QUIET_MS, &a, 10), 10 / PEERS_SLOW_EVERY);
	peers_free(p);
}

static void test_listed(void **state)
{
	struct peers *p = peers_new(8);
	struct member_addr a = v4("10.0.0.2", 51510), b = v4("10.0.0.3", 51510);

	(void)state;
	assert_int_equal(peers_learn_listed(p, &a, 0), PEERS_ADDED);
	assert_int_equal(lines_to(p, 100, &a, 10), 10);
	/* a report does not bring back a peer that failed: only its own lines do */
	peers_learn(p, &b, 0);
	peers_failed(p, &b, 50);
	assert_int_equal(peers_learn_listed(p, &b, 100), PEERS_KNOWN);
	assert_int_equal(lines_to(p, 100, &b, 100), 100 / PEERS_SLOW_EVERY);
	peers_free(p);
}

static void test_cap(void **state)
{
	struct peers *p = peers_new(3);
	struct member_addr a = v4("10.0.0.2", 1), b = v4("10.0.0.3", 1), s = v4("10.0.0.4", 1),
	                   x = v4("10.0.0.5", 1), y = v4("10.0.0.6", 1);
	struct member_addr out[8];

	(void)state;
	peers_add_seed(p, &s, 0);
	peers_learn(p, &a, 0);
	peers_learn(p, &b, 0);
	/* full of peers heard lately: refused, nothing sent to it */
	assert_int_equal(peers_learn(p, &x, 10), PEERS_FULL);
	assert_false(peers_known(p, &x));
	assert_int_equal(peers_due(p, 10, 100, out, 8), 3);
	/* a failed learned peer makes way; a seed never does */
	peers_failed(p, &s, 20);
	assert_int_equal(peers_learn(p, &x, 30), PEERS_FULL);
	peers_failed(p, &b, 40);
	assert_int_equal(peers_learn(p, &x, 50), PEERS_ADDED);
	assert_false(peers_known(p, &b));
	assert_true(peers_known(p, &s));
	assert_int_equal(peers_learn(p, &y, 60), PEERS_FULL);
	/* sends per line never exceed the cap */
	for (int i = 0; i < 50; i++)
		assert_true(peers_due(p, 100, 100, out, 8) <= 3);
	peers_free(p);
}

/* Many peers: the hash chains survive growth and removal. */
static void test_many(void **state)
{
	struct peers *p = peers_new(5000);
	struct member_addr *out = calloc(5000, sizeof(*out));
	char s[32];

	(void)state;
	for (int i = 0; i < 4000; i++) {
		struct member_addr a;

		snprintf(s, sizeof(s), "10.1.%d.%d", i / 250, i % 250 + 1);
		a = v4(s, 51510);
		assert_int_equal(peers_learn(p, &a, 0), PEERS_ADDED);
		if (i % 2)
			peers_failed(p, &a, 0);
	}
	/* over PEERS_SLOW_EVERY lines: the live half every line, the failed half once each */
	{
		size_t total = 0;

		for (unsigned l = 0; l < PEERS_SLOW_EVERY; l++)
			total += peers_due(p, 1, 100, out, 5000);
		assert_int_equal(total, 2000 * PEERS_SLOW_EVERY + 2000);
	}
	/* the failed half is forgotten, the rest still found */
	for (int i = 0; i < 4000; i += 2) {
		struct member_addr a;

		snprintf(s, sizeof(s), "10.1.%d.%d", i / 250, i % 250 + 1);
		a = v4(s, 51510);
		peers_learn(p, &a, PEERS_FORGET_MS);
	}
	peers_due(p, PEERS_FORGET_MS + 1, 100, out, 5000);
	assert_int_equal(peers_size(p), 2000);
	for (int i = 0; i < 4000; i++) {
		struct member_addr a;

		snprintf(s, sizeof(s), "10.1.%d.%d", i / 250, i % 250 + 1);
		a = v4(s, 51510);
		assert_int_equal(peers_known(p, &a), i % 2 == 0);
	}
	free(out);
	peers_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_learn_and_send),
		cmocka_unit_test(test_unknown_is_not_a_destination),
		cmocka_unit_test(test_failed_slow_then_forgotten),
		cmocka_unit_test(test_quiet_peer_slows_down),
		cmocka_unit_test(test_seed_forever),
		cmocka_unit_test(test_retry_all),
		cmocka_unit_test(test_listed),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_many),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
