/* Unit tests: cmemd's receive path and join-reply suppression (injected clock). */
#include "testutil.h"

#include <arpa/inet.h>

#include "daemon.h"

#define NOW_MS 5000000u
#define NOW_S 1764172800u

static struct daemon d;
static char logbuf[8192];

static void capture(enum log_level level, const char *msg, void *arg)
{
	(void)level;
	(void)arg;
	strncat(logbuf, msg, sizeof(logbuf) - strlen(logbuf) - 2);
	strcat(logbuf, "\n");
}

static int setup(void **state)
{
	(void)state;
	assert_true(sodium_init() >= 0);
	memset(&d, 0, sizeof(d));
	config_defaults(&d.cfg);
	snprintf(d.cfg.name, sizeof(d.cfg.name), "self");
	d.kr = tu_vector_keyring();
	d.net.fd = -1; /* sends fail quietly: we test the receive path */
	d.incarnation = 1000;
	daemon_init(&d, NOW_MS, NOW_S);
	logbuf[0] = '\0';
	log_set_hook(capture, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	log_set_hook(NULL, NULL);
	members_free(d.members);
	keyring_free(d.kr);
	return 0;
}

static struct member_addr addr(const char *s)
{
	struct member_addr a = { .family = AF_INET };

	inet_pton(AF_INET, s, &a.a.v4);
	return a;
}

static void rx(const char *sender, const char *body, uint64_t inc, uint64_t ctr, uint64_t ts,
               const char *from, uint64_t now_ms)
{
	char line[WIRE_MAX_DATAGRAM + 2];
	struct member_addr a = addr(from);
	int n = wire_sign(keyring_primary(d.kr), ts, sender, body, strlen(body), inc, ctr, line,
	                  sizeof(line));

	assert_true(n > 0);
	daemon_receive(&d, (uint8_t *)line, n, &a, now_ms, NOW_S);
}

static void test_own_line_teaches_our_address(void **state)
{
	char buf[WIRE_ADDR_MAX];

	(void)state;
	rx("self", "alive self 1764172800", 1000, 1, NOW_S, "10.0.0.1", NOW_MS);
	assert_int_equal(d.stats.own_lines, 1);
	assert_int_equal(members_size(d.members), 0);
	addr_str(&d.self_addr, buf, sizeof(buf));
	assert_string_equal(buf, "10.0.0.1");
}

static void test_our_name_other_incarnation_is_a_conflict(void **state)
{
	(void)state;
	rx("self", "alive self 1764172800", 999, 1, NOW_S, "10.0.0.9", NOW_MS);
	assert_int_equal(d.stats.name_conflicts, 1);
	assert_int_equal(members_size(d.members), 0);
	assert_non_null(strstr(logbuf, "another node at 10.0.0.9 also calls itself self"));
}

static void test_stale_sender_is_named_and_kept_out(void **state)
{
	(void)state;
	rx("skewed", "alive skewed 1764172840", 7, 1, NOW_S + 40, "10.0.0.7", NOW_MS);
	assert_int_equal(d.stats.dropped[DROP_STALE], 1);
	assert_null(members_find(d.members, "skewed"));
	assert_string_equal(d.rejected[0].name, "skewed");
	assert_int_equal(d.rejected[0].skew_s, 40);
	assert_non_null(strstr(logbuf, "skewed at 10.0.0.7: its clock is 40 s ahead of ours"));
}

static void test_oversize_and_garbage_are_counted(void **state)
{
	uint8_t big[WIRE_MAX_DATAGRAM + 1];
	struct member_addr a = addr("10.0.0.66");

	(void)state;
	memset(big, 'x', sizeof(big));
	daemon_receive(&d, big, 65000, &a, NOW_MS, NOW_S);
	daemon_receive(&d, big, 10, &a, NOW_MS, NOW_S);
	assert_int_equal(d.stats.dropped[DROP_OVERSIZE], 1);
	assert_int_equal(d.stats.dropped[DROP_BAD_FORMAT], 1);
	assert_int_equal(d.stats.top[0].total, 2);
	assert_string_equal(logbuf, ""); /* never one log line per packet */
	daemon_timers(&d, NOW_MS + 1000, NOW_S);
	assert_non_null(strstr(logbuf, "dropped 2 invalid lines in the last second"));
}

static void test_replayed_line_changes_nothing(void **state)
{
	(void)state;
	rx("node-b", "cjoin node-b", 5, 1, NOW_S, "10.0.0.2", NOW_MS);
	rx("node-b", "leave node-b", 5, 2, NOW_S, "10.0.0.2", NOW_MS + 10);
	assert_int_equal(members_find(d.members, "node-b")->state, MEMBER_LEFT);
	rx("node-b", "cjoin node-b", 5, 1, NOW_S, "10.0.0.2", NOW_MS + 20);
	assert_int_equal(d.stats.dropped[DROP_REPLAY], 1);
	assert_int_equal(members_find(d.members, "node-b")->state, MEMBER_LEFT);
}

static void test_join_reply_suppressed_by_covering_answer(void **state)
{
	(void)state;
	rx("node-b", "cjoin node-b", 5, 1, NOW_S, "10.0.0.2", NOW_MS);
	rx("node-c", "cjoin node-c", 6, 1, NOW_S, "10.0.0.3", NOW_MS);
	assert_true(d.reply_pending);
	assert_true(d.reply_due_ms <= NOW_MS + 100);
	/* node-b answers first with a view that holds ours: we stay quiet */
	rx("node-b", "cluster node-b@10.0.0.2 node-c@10.0.0.3 self@10.0.0.1", 5, 2, NOW_S,
	   "10.0.0.2", NOW_MS + 5);
	assert_false(d.reply_pending);
	assert_int_equal(d.replies_suppressed, 1);
	daemon_timers(&d, NOW_MS + 1000, NOW_S);
	/* one send attempt (no socket in the test): the heartbeat, no cluster reply */
	assert_int_equal(d.stats.send_errors, 1);
}

static void test_join_reply_sent_when_view_differs(void **state)
{
	(void)state;
	rx("node-b", "cjoin node-b", 5, 1, NOW_S, "10.0.0.2", NOW_MS);
	rx("node-c", "cjoin node-c", 6, 1, NOW_S, "10.0.0.3", NOW_MS);
	rx("node-b", "cluster node-b@10.0.0.2 self@10.0.0.1", 5, 2, NOW_S, "10.0.0.2", NOW_MS + 5);
	assert_true(d.reply_pending); /* node-c missing from that answer */
	d.stats.send_errors = 0;
	daemon_timers(&d, d.reply_due_ms, NOW_S);
	assert_false(d.reply_pending);
	assert_true(d.stats.send_errors >= 1); /* it tried to send (no socket in the test) */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_own_line_teaches_our_address, setup, teardown),
		cmocka_unit_test_setup_teardown(test_our_name_other_incarnation_is_a_conflict, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_sender_is_named_and_kept_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversize_and_garbage_are_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replayed_line_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_join_reply_suppressed_by_covering_answer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_join_reply_sent_when_view_differs, setup, teardown),
	};

	return cmocka_run_group_tests_name("daemon", tests, NULL, NULL);
}
