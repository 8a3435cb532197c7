/* Unit tests: cmemd's receive path and join-reply suppression (injected clock). */
#include "testutil.h"

#include <arpa/inet.h>

#include "daemon_state.h"
#include "daemon_fixture.h"
#include "util.h"

#define NOW_MS 5000000u
#define NOW_S 1764172800u

static struct daemon d;
static char logbuf[8192];

/* The send seam: every line the daemon sends, parsed, with its destination. */
#define MAX_SENT 64
static struct sent {
	char line[WIRE_MAX_DATAGRAM + 2];
	struct wire_msg msg;
	enum daemon_dest dest;
	struct member_addr to;
} sent[MAX_SENT];
static size_t nsent;

static int capture_send(struct daemon *dd, enum daemon_dest dest, const struct member_addr *to,
                        const void *line, size_t len)
{
	struct sent *s;

	assert_true(nsent < MAX_SENT);
	assert_true(len < sizeof(s->line));
	s = &sent[nsent++];
	memcpy(s->line, line, len);
	s->line[len] = '\0';
	s->dest = dest;
	if (to)
		s->to = *to;
	/* signed at the daemon's clock, to the second: the injected one, not the real one */
	assert_int_equal(wire_verify(dd->kr, (uint8_t *)s->line, len, clock_real_s(dd->clk), 30,
	                             &s->msg),
	                 WIRE_OK);
	assert_int_equal(s->msg.timestamp, clock_real_s(dd->clk));
	assert_int_equal(wire_parse_body(&s->msg, 30), WIRE_OK);
	return 0;
}

/* How many lines of VERB were sent since index FROM. */
static size_t sent_of(enum wire_verb verb, size_t from)
{
	size_t n = 0;

	for (size_t i = from; i < nsent; i++)
		n += sent[i].msg.verb == verb;
	return n;
}

static void capture(enum log_level level, const char *msg, void *arg)
{
	(void)level;
	(void)arg;
	size_t used = strlen(logbuf);

	if (used + 2 < sizeof(logbuf))
		snprintf(logbuf + used, sizeof(logbuf) - used, "%s\n", msg);
}

static int setup(void **state)
{
	(void)state;
	assert_true(sodium_init() >= 0);
	/* started 10 s before NOW_S, our address 10.0.0.1 */
	fixture_daemon_init(&d, tu_vector_keyring(), "self", capture_send, NOW_MS, NOW_S);
	d.self_addr.family = AF_INET;
	inet_pton(AF_INET, "10.0.0.1", &d.self_addr.a.v4);
	nsent = 0;
	logbuf[0] = '\0';
	log_set_hook(capture, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	log_set_hook(NULL, NULL);
	fixture_daemon_free(&d);
	keyring_free(d.kr);
	return 0;
}

static struct member_addr addr(const char *s)
{
	return fixture_addr4(s);
}

static void rx(const char *sender, const char *body, uint64_t inc, uint64_t ctr, uint64_t ts,
               const char *from, uint64_t now_ms)
{
	assert_int_equal(fixture_rx(&d, sender, body, inc, ctr, ts, from, now_ms, NOW_S), 0);
}

/* Finding 3: our own line, even from elsewhere, never rewrites our entry. */
static void test_own_line_changes_nothing(void **state)
{
	char buf[WIRE_ADDR_MAX];

	(void)state;
	rx("self", "alive self 1764172800", d.incarnation, 1, NOW_S, "10.0.0.99", NOW_MS);
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

/* Finding 3: our line of an earlier run, replayed after our restart, is not a conflict. */
static void test_our_old_line_replayed_is_not_a_conflict(void **state)
{
	(void)state;
	rx("self", "alive self 1764172780", d.incarnation - 20000000u, 77, NOW_S - 20, "10.0.0.1",
	   NOW_MS);
	assert_int_equal(d.stats.name_conflicts, 0);
	assert_int_equal(d.stats.own_replays, 1);
	assert_int_equal(d.stats.dropped[DROP_REPLAY], 1);
	assert_string_equal(logbuf, "");
}

/* Finding 3: a replayed hour-old line of a known member is not a skewed clock. */
static void test_stale_replay_is_not_a_skew(void **state)
{
	(void)state;
	rx("node-b", "cjoin node-b", 5, 1, NOW_S, "10.0.0.2", NOW_MS);
	rx("node-b", "alive node-b 1764172800", 5, 2, NOW_S, "10.0.0.2", NOW_MS + 50);
	/* its line 1, recorded an hour ago (its timestamp says so) */
	rx("node-b", "cjoin node-b", 5, 1, NOW_S - 3600, "10.0.0.2", NOW_MS + 100);
	assert_int_equal(d.stats.dropped[DROP_STALE], 1);
	assert_string_equal(d.rejected[0].name, ""); /* no "clock 3600 s behind" diagnosis */
	assert_null(strstr(logbuf, "its clock is"));
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
	assert_int_equal(d.stats.oversize, 1);
	assert_int_equal(d.stats.dropped[DROP_BAD_FORMAT], 2); /* size is check 1 */
	assert_int_equal(d.stats.top[0].total, 2);
	assert_string_equal(logbuf, ""); /* never one log line per packet */
	fixture_timers(&d, NOW_MS + 1000, NOW_S);
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
	assert_true(daemon_reply_pending(&d));
	assert_true(sched_timer_due(d.sched, d.t_reply) <= NOW_MS + 100);
	/* node-b answers first with a view that holds ours: we stay quiet */
	rx("node-b", "cluster node-b@10.0.0.2 node-c@10.0.0.3 self@10.0.0.1", 5, 2, NOW_S,
	   "10.0.0.2", NOW_MS + 5);
	assert_false(daemon_reply_pending(&d));
	assert_int_equal(d.replies_suppressed, 1);
	fixture_timers(&d, NOW_MS + 1000, NOW_S);
	assert_int_equal(sent_of(WIRE_ALIVE, 0), 1); /* the heartbeat ... */
	assert_int_equal(sent_of(WIRE_CLUSTER, 0), 0); /* ... and no cluster reply */
}

static void test_join_reply_sent_when_view_differs(void **state)
{
	(void)state;
	rx("node-b", "cjoin node-b", 5, 1, NOW_S, "10.0.0.2", NOW_MS);
	rx("node-c", "cjoin node-c", 6, 1, NOW_S, "10.0.0.3", NOW_MS);
	rx("node-b", "cluster node-b@10.0.0.2 self@10.0.0.1", 5, 2, NOW_S, "10.0.0.2", NOW_MS + 5);
	assert_true(daemon_reply_pending(&d)); /* node-c missing from that answer */
	fixture_timers(&d, sched_timer_due(d.sched, d.t_reply), NOW_S);
	assert_false(daemon_reply_pending(&d));
	assert_int_equal(sent_of(WIRE_CLUSTER, 0), 1);
	for (size_t i = 0; i < nsent; i++) {
		struct wire_entry e;
		size_t pos = 0, seen = 0;

		if (sent[i].msg.verb != WIRE_CLUSTER)
			continue;
		/* multicast: to the group, where it can silence the other answers */
		assert_int_equal(sent[i].dest, DEST_GROUP);
		while (wire_cluster_next(&sent[i].msg, &pos, &e))
			seen |= strcmp(e.name, "self") == 0 ? 1 : strcmp(e.name, "node-b") == 0 ? 2
			        : strcmp(e.name, "node-c") == 0 ? 4 : 8;
		assert_int_equal(seen, 7);
	}
}

/* Every row of v1.tsv through the daemon's one receive path, each into a fresh daemon. */
static void test_v1_vectors_through_daemon_receive(void **state)
{
	size_t len, rows = 0;
	char *text = tu_read_file(TU_VECTORS "/v1.tsv", &len), *cur = text, *line;

	(void)state;
	assert_non_null(text);
	while ((line = strsep(&cur, "\n")) != NULL) {
		char *verdict, *hex, *desc;
		uint8_t buf[2048];
		ssize_t n;
		struct member_addr a = addr("10.0.0.2");
		uint64_t total = 0;

		if (*line == '\0' || *line == '#')
			continue;
		verdict = strsep(&line, "\t");
		hex = strsep(&line, "\t");
		desc = line;
		n = tu_hex_decode(hex, strlen(hex), buf, sizeof(buf));
		assert_true(n >= 0);
		snprintf(d.cfg.name, sizeof(d.cfg.name), "receiver");
		fixture_daemon_reset(&d, NOW_MS, NOW_S);
		daemon_receive(&d, buf, (size_t)n, &a, NOW_MS, TU_VECTOR_NOW);
		for (int v = 0; v < WIRE_NVERBS; v++)
			total += d.stats.accepted[v];
		if (strcmp(verdict, "accept") == 0) {
			if (total != 1)
				fail_msg("row \"%s\": not accepted", desc);
		} else {
			enum drop_reason r = DROP_NREASONS;

			for (int i = 0; i < DROP_NREASONS; i++)
				if (strcmp(stats_reason_name((enum drop_reason)i), verdict) == 0)
					r = (enum drop_reason)i;
			assert_true(r != DROP_NREASONS);
			if (total != 0 || d.stats.dropped[r] != 1)
				fail_msg("row \"%s\": want %s", desc, verdict);
			assert_int_equal(members_size(d.members), 0);
		}
		rows++;
	}
	free(text);
	assert_true(rows >= 49);
}

/* Finding 10: a wall clock step makes a new incarnation from the corrected clock. */
static void test_clock_step_starts_new_incarnation(void **state)
{
	uint64_t mono = 7000000000u, real = (uint64_t)NOW_S * 1000000u, old = d.incarnation;

	(void)state;
	d.clock_offset_us = (int64_t)(real - mono);
	/* drift below a second: nothing */
	assert_int_equal(daemon_check_clock(&d, mono + 1000000, real + 1900000), 0);
	assert_int_equal(daemon_check_clock(&d, mono + 2000000, real + 2000000), 0);
	assert_int_equal(d.incarnation, old);
	assert_int_equal(nsent, 0);
	/* stepped back an hour (the clock was an hour ahead at start) */
	assert_int_equal(daemon_check_clock(&d, mono + 3000000, real - 3600000000u + 3000000), 1);
	assert_int_equal(d.incarnation, real - 3600000000u + 3000000);
	assert_int_equal(sent_of(WIRE_CJOIN, 0), 1);
	assert_int_equal(sent[0].msg.incarnation, d.incarnation);
	assert_int_equal(sent[0].msg.counter, 1);
	assert_non_null(strstr(logbuf, "stepped back by 3600.0 s"));
	/* lines of the retired incarnation still in flight are ours, not a conflict */
	rx("self", "alive self 1764172800", old, 9, NOW_S, "10.0.0.1", NOW_MS);
	assert_int_equal(d.stats.name_conflicts, 0);
	/* a small step forward (2 s) counts too */
	assert_int_equal(daemon_check_clock(&d, mono + 4000000, real - 3600000000u + 6000000), 1);
	assert_int_equal(sent_of(WIRE_CJOIN, 0), 2);
}

/* Arrival times come from the kernel's timestamp: a line read 5 s late is judged at arrival. */
static void test_arrival_from_kernel_timestamp(void **state)
{
	uint64_t at_ms, at_s, read_real = (uint64_t)NOW_S * 1000000000u + 500000000u;

	(void)state;
	daemon_arrival(read_real - 5000000000u, NOW_MS, read_real, &at_ms, &at_s);
	assert_int_equal(at_ms, NOW_MS - 5000);
	assert_int_equal(at_s, NOW_S - 5);
	/* no timestamp, or one after the read (a clock step): the read time */
	daemon_arrival(0, NOW_MS, read_real, &at_ms, &at_s);
	assert_int_equal(at_ms, NOW_MS);
	assert_int_equal(at_s, NOW_S);
	daemon_arrival(read_real + 1000, NOW_MS, read_real, &at_ms, &at_s);
	assert_int_equal(at_ms, NOW_MS);
	/* a line sent at NOW_S - 5 that waited 5 s in the queue: no skew seen */
	{
		char line[WIRE_MAX_DATAGRAM + 2];
		struct member_addr a = addr("10.0.0.2");
		int n = wire_sign(keyring_primary(d.kr), NOW_S - 5, "node-b", "cjoin node-b", 12, 5, 1,
		                  line, sizeof(line));

		assert_true(n > 0);
		daemon_arrival(read_real - 5000000000u, NOW_MS, read_real, &at_ms, &at_s);
		daemon_receive(&d, (uint8_t *)line, (size_t)n, &a, at_ms, at_s);
		assert_int_equal(members_find(d.members, "node-b")->skew_s, 0);
		assert_int_equal(members_find(d.members, "node-b")->last_heard_ms, NOW_MS - 5000);
		assert_null(strstr(logbuf, "skew"));
	}
}

/* The heartbeat slows down gradually: a quarter more per line at most. */
static void test_heartbeat_slows_gradually(void **state)
{
	uint64_t now = NOW_MS;
	unsigned prev = d.heartbeat_ms;

	(void)state;
	/* a clean peer for a minute */
	for (uint64_t c = 1; c < 600; c++) {
		rx("node-b", c == 1 ? "cjoin node-b" : "alive node-b 1764172800", 5, c, NOW_S,
		   "10.0.0.2", now);
		rx("node-c", c == 1 ? "cjoin node-c" : "alive node-c 1764172800", 6, c, NOW_S,
		   "10.0.0.3", now);
		now += 100;
		nsent = 0;
		fixture_timers(&d, now, NOW_S);
		assert_true(d.heartbeat_ms <= prev + prev / 4);
		prev = d.heartbeat_ms;
	}
	assert_int_equal(members_count(d.members, MEMBER_ALIVE), 2);
	assert_true(d.heartbeat_ms > 150 && d.heartbeat_ms <= 250);
	/* pinned: always heartbeat_ms */
	d.cfg.heartbeat_fixed = 1;
	fixture_timers(&d, sched_timer_due(d.sched, d.t_heartbeat) > now
	                       ? sched_timer_due(d.sched, d.t_heartbeat) : now, NOW_S);
	assert_int_equal(d.heartbeat_ms, d.cfg.heartbeat_ms);
}

/* Reads are paced only past DAEMON_RX_BUSY lines a second, and only while
 * that lasts: a cluster within its budget, and a quiet one, never wait. */
static void test_reads_paced_only_when_busy(void **state)
{
	uint64_t now = NOW_MS;

	(void)state;
	/* 500 lines a second, one per wake-up, for 3 s: never held */
	for (int i = 0; i < 1500; i++, now += 2) {
		daemon_rx_pace(&d, 1, now);
		assert_int_equal(d.rx_hold_until_ms, 0);
	}
	/* 10 000 a second: after the first busy second, each read holds the socket */
	for (int i = 0; i < 2000; i++, now += 1)
		daemon_rx_pace(&d, 10, now);
	assert_int_equal(d.rx_hold_until_ms, now - 1 + DAEMON_RX_HOLD_MS);
	/* the load drops to 200 a second: held for at most the next second */
	for (int i = 0; i < 400; i++, now += 5)
		daemon_rx_pace(&d, 1, now);
	assert_int_equal(d.rx_hold_until_ms, 0);
	/* busy again, then silence for 5 s: the next line (a join) is not held */
	for (int i = 0; i < 1100; i++, now += 1)
		daemon_rx_pace(&d, 20, now);
	assert_true(d.rx_hold_until_ms > 0);
	daemon_rx_pace(&d, 1, now + 5000);
	assert_int_equal(d.rx_hold_until_ms, 0);
}

/*
 * SIGHUP re-reads the log level only, and says why it could not: a file
 * with an error is named with its line, not blamed on the chroot (issue 17
 * finding 12); a file the daemon cannot reach is named as looked up inside
 * the chroot.
 */
static void test_sighup_says_why(void **state)
{
	char dir[256], conf[512];
	const char bad[] = "log_level = \"debug\"\nname = ;\n";
	enum log_level was = log_get_level();

	(void)state;
	tu_mkdtemp(dir, sizeof(dir));
	tu_path(conf, sizeof(conf), dir, "cmem.conf");
	assert_int_equal(tu_write_file(conf, bad, sizeof(bad) - 1, 0600), 0);
	d.config_path = conf;
	d.chrooted = 1;
	snprintf(d.chroot_dir, sizeof(d.chroot_dir), "/var/lib/cmem");
	daemon_sighup(&d);
	assert_non_null(strstr(logbuf, "SIGHUP: cannot re-read the log level: "));
	assert_non_null(strstr(logbuf, "cmem.conf:2: "));
	assert_null(strstr(logbuf, "chroot"));
	assert_int_equal(log_get_level(), was);
	logbuf[0] = '\0';
	assert_int_equal(unlink(conf), 0);
	daemon_sighup(&d);
	assert_non_null(strstr(logbuf, "No such file or directory, looked up inside the chroot "
	                               "/var/lib/cmem; it stays"));
	assert_non_null(strstr(logbuf, "`cmemctl reload` applies the file and the keyring"));
	logbuf[0] = '\0';
	assert_int_equal(tu_write_file(conf, "log_level = \"debug\"\n", 20, 0600), 0);
	daemon_sighup(&d);
	assert_non_null(strstr(logbuf, "SIGHUP: log level is now debug (SIGHUP re-reads the log "
	                               "level only"));
	assert_int_equal(log_get_level(), LOG_LEVEL_DEBUG);
	log_set_level(was);
	tu_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_own_line_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_our_old_line_replayed_is_not_a_conflict, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_replay_is_not_a_skew, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v1_vectors_through_daemon_receive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clock_step_starts_new_incarnation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_heartbeat_slows_gradually, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reads_paced_only_when_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sighup_says_why, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arrival_from_kernel_timestamp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_our_name_other_incarnation_is_a_conflict, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_sender_is_named_and_kept_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversize_and_garbage_are_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replayed_line_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_join_reply_suppressed_by_covering_answer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_join_reply_sent_when_view_differs, setup, teardown),
	};

	return cmocka_run_group_tests_name("daemon", tests, NULL, NULL);
}
