/* Unit tests: membership table, detector, reply suppression (injected clock). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "members.h"
#include "wire.h"

#define T0_MS 1000000u
#define T0_S 1764172800u

static const uint8_t test_secret[32] = { 0x93, 0xa6, 0x13, 0x65 };
static struct keyring *ring;

struct recorder {
	int n[MEV_NEVENTS];
	enum member_event last;
	char last_name[WIRE_NAME_MAX + 1];
	char last_detail[256];
};

static void record_event(void *arg, enum member_event ev, const struct member *m, const char *detail)
{
	struct recorder *r = arg;

	r->n[ev]++;
	r->last = ev;
	snprintf(r->last_name, sizeof(r->last_name), "%s", m->name);
	snprintf(r->last_detail, sizeof(r->last_detail), "%s", detail);
}

static const struct members_params params = {
	.heartbeat_ms = 50, .fail_after_ms = 750, .replay_window_s = 30, .max_members = 4096,
};

static struct members *new_table(struct recorder *r, const struct members_params *p)
{
	struct members *t = members_new(p ? p : &params, "self", 777);

	memset(r, 0, sizeof(*r));
	members_set_event_fn(t, record_event, r);
	return t;
}

/* Build and verify a line so that msg points into a static buffer. */
static struct wire_msg make(const char *sender, const char *body, uint64_t inc, uint64_t ctr,
                            uint64_t ts)
{
	static char line[4][WIRE_MAX_DATAGRAM + 2];
	static int slot;
	struct wire_msg msg;
	char *buf = line[slot++ % 4];
	int n = wire_sign(keyring_primary(ring), ts, sender, body, strlen(body), inc, ctr, buf,
	                  sizeof(line[0]));

	assert_true(n > 0);
	assert_int_equal(wire_verify(ring, (uint8_t *)buf, (size_t)n, ts, 30, &msg), WIRE_OK);
	return msg; /* members_receive parses the body */
}

static struct member_addr addr4(const char *s)
{
	struct member_addr a = { .family = AF_INET };

	inet_pton(AF_INET, s, &a.a.v4);
	return a;
}

static enum members_result feed(struct members *t, const char *name, const char *verb, uint64_t inc,
                                uint64_t ctr, uint64_t now_ms)
{
	char body[128];
	struct member_addr a = addr4("10.0.0.2");
	struct wire_msg m;

	if (strcmp(verb, "alive") == 0)
		snprintf(body, sizeof(body), "alive %s %u", name, T0_S);
	else
		snprintf(body, sizeof(body), "%s %s", verb, name);
	m = make(name, body, inc, ctr, T0_S);
	return members_receive(t, &m, &a, now_ms, T0_S, NULL);
}

static int setup(void **state)
{
	(void)state;
	assert_true(sodium_init() >= 0);
	ring = keyring_new();
	assert_int_equal(keyring_add(ring, 1, test_secret, 1), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	keyring_free(ring);
	return 0;
}

static void test_cjoin_adds_member_and_asks_reply(void **state)
{
	struct recorder r;
	struct members *t = new_table(&r, NULL);
	struct member *m;

	(void)state;
	assert_int_equal(feed(t, "node-b", "cjoin", 5, 1, T0_MS), MEMBERS_REPLY);
	m = members_find(t, "node-b");
	assert_non_null(m);
	assert_int_equal(m->state, MEMBER_ALIVE);
	assert_int_equal(r.n[MEV_JOIN], 1);
	assert_string_equal(r.last_name, "node-b");
	assert_int_equal(members_count(t, MEMBER_ALIVE), 1);
	assert_int_equal(feed(t, "node-b", "alive", 5, 2, T0_MS + 50), MEMBERS_OK);
	assert_int_equal(r.n[MEV_JOIN], 1); /* no second join */
	members_free(t);
}

static void test_leave_marks_left_and_replay_cannot_revive(void **state)
{
	struct recorder r;
	struct members *t = new_table(&r, NULL);
	struct wire_msg old;

	(void)state;
	feed(t, "node-b", "cjoin", 5, 1, T0_MS);
	feed(t, "node-b", "alive", 5, 2, T0_MS + 50);
	feed(t, "node-b", "leave", 5, 3, T0_MS + 60);
	assert_int_equal(members_find(t, "node-b")->state, MEMBER_LEFT);
	assert_int_equal(r.n[MEV_LEAVE], 1);
	assert_string_equal(r.last_detail, "left the cluster");
	old = make("node-b", "alive node-b 1764172800", 5, 2, T0_S);
	/* a recorded line cannot bring it back */
	assert_int_equal(members_receive(t, &old, NULL, T0_MS + 100, T0_S, NULL), MEMBERS_REPLAY);
	assert_int_equal(members_find(t, "node-b")->state, MEMBER_LEFT);
	members_free(t);
}

static void test_silence_fails_member_at_timeout(void **state)
{
	struct recorder r;
	struct members *t = new_table(&r, NULL);
	uint64_t now = T0_MS;

	(void)state;
	for (uint64_t c = 1; c <= 40; c++, now += 50)
		feed(t, "node-b", c == 1 ? "cjoin" : "alive", 5, c, now);
	now -= 50;
	assert_int_equal(members_find(t, "node-b")->timeout_ms, 750);
	assert_int_equal(members_tick(t, now + 750, T0_S), 0);
	/* the next verdict is due the moment its timeout passes */
	assert_int_equal(members_next_due(t), now + 751);
	assert_int_equal(members_find(t, "node-b")->state, MEMBER_ALIVE);
	assert_int_equal(members_tick(t, now + 751, T0_S), 1);
	assert_int_equal(members_find(t, "node-b")->state, MEMBER_FAILED);
	assert_int_equal(r.n[MEV_FAILED], 1);
	assert_non_null(strstr(r.last_detail, "no line for 751 ms"));
	members_free(t);
}

static void test_failed_member_heard_again_rejoins(void **state)
{
	struct recorder r;
	struct members *t = new_table(&r, NULL);

	(void)state;
	feed(t, "node-b", "cjoin", 5, 1, T0_MS);
	members_tick(t, T0_MS + 5000, T0_S);
	assert_int_equal(members_find(t, "node-b")->state, MEMBER_FAILED);
	feed(t, "node-b", "alive", 5, 90, T0_MS + 6000);
	assert_int_equal(members_find(t, "node-b")->state, MEMBER_ALIVE);
	assert_int_equal(r.n[MEV_JOIN], 2);
	assert_string_equal(r.last_detail, "heard again after failure");
	members_free(t);
}

static void test_restart_is_reported(void **state)
{
	struct recorder r;
	struct members *t = new_table(&r, NULL);

	(void)state;
	feed(t, "node-b", "cjoin", 5, 1, T0_MS);
	members_tick(t, T0_MS + 5000, T0_S);
	feed(t, "node-b", "cjoin", 6, 1, T0_MS + 5100);
	assert_int_equal(members_find(t, "node-b")->state, MEMBER_ALIVE);
	assert_int_equal(members_find(t, "node-b")->incarnation, 6);
	assert_int_equal(r.n[MEV_RESTART], 1);
	assert_non_null(strstr(r.last_detail, "incarnation 6, was 5"));
	/* a restart while alive is reported too */
	feed(t, "node-b", "alive", 7, 1, T0_MS + 5200);
	assert_int_equal(r.n[MEV_RESTART], 2);
	members_free(t);
}

static void test_candidate_expires_unheard(void **state)
{
	struct recorder r;
	struct members *t = new_table(&r, NULL);
	struct member_addr a = addr4("10.0.0.2");
	struct wire_msg m = make("node-b", "cluster node-b@10.0.0.2 node-c@10.0.0.3 self@10.0.0.1",
	                         5, 1, T0_S);

	(void)state;
	members_receive(t, &m, &a, T0_MS, T0_S, NULL);
	assert_int_equal(members_find(t, "node-c")->state, MEMBER_CANDIDATE);
	assert_null(members_find(t, "self"));
	assert_int_equal(members_count(t, MEMBER_CANDIDATE), 1);
	assert_int_equal(r.n[MEV_JOIN], 1); /* node-b only: a report is not evidence */
	members_tick(t, T0_MS + 700, T0_S);
	assert_non_null(members_find(t, "node-c"));
	feed(t, "node-b", "alive", 5, 2, T0_MS + 700);
	members_tick(t, T0_MS + 751, T0_S);
	assert_null(members_find(t, "node-c"));
	assert_int_equal(r.n[MEV_FAILED], 0);
	members_free(t);
}

static void test_candidate_heard_directly_becomes_alive(void **state)
{
	struct recorder r;
	struct members *t = new_table(&r, NULL);
	struct member_addr a = addr4("10.0.0.2");
	struct wire_msg m = make("node-b", "cluster node-b@10.0.0.2 node-c@10.0.0.3", 5, 1, T0_S);

	(void)state;
	members_receive(t, &m, &a, T0_MS, T0_S, NULL);
	feed(t, "node-c", "alive", 9, 1, T0_MS + 10);
	assert_int_equal(members_find(t, "node-c")->state, MEMBER_ALIVE);
	assert_int_equal(r.n[MEV_JOIN], 2);
	members_free(t);
}

static void test_report_does_not_revive_failed(void **state)
{
	struct recorder r;
	struct members *t = new_table(&r, NULL);
	struct member_addr a = addr4("10.0.0.3");
	struct wire_msg m;

	(void)state;
	feed(t, "node-b", "cjoin", 5, 1, T0_MS);
	members_tick(t, T0_MS + 5000, T0_S);
	m = make("node-c", "cluster node-c@10.0.0.3 node-b@10.0.0.2", 8, 1, T0_S);
	members_receive(t, &m, &a, T0_MS + 5001, T0_S, NULL);
	assert_int_equal(members_find(t, "node-b")->state, MEMBER_FAILED);
	members_free(t);
}

static void test_table_cap_refuses_then_reuses_old_entries(void **state)
{
	struct members_params p = params;
	struct recorder r;
	struct members *t;

	(void)state;
	p.max_members = 3;
	t = new_table(&r, &p);
	assert_int_equal(feed(t, "a", "cjoin", 1, 1, T0_MS), MEMBERS_REPLY);
	assert_int_equal(feed(t, "b", "cjoin", 1, 1, T0_MS), MEMBERS_REPLY);
	assert_int_equal(feed(t, "c", "leave", 1, 1, T0_MS), MEMBERS_OK);
	assert_int_equal(feed(t, "d", "cjoin", 1, 1, T0_MS + 1000), MEMBERS_TABLE_FULL);
	assert_null(members_find(t, "d"));
	/* c left more than twice the replay window ago: its slot may be reused */
	assert_int_equal(feed(t, "a", "alive", 1, 2, T0_MS + 61000), MEMBERS_OK);
	assert_int_equal(feed(t, "b", "alive", 1, 2, T0_MS + 61000), MEMBERS_OK);
	assert_int_equal(feed(t, "d", "cjoin", 1, 1, T0_MS + 61000), MEMBERS_REPLY);
	assert_null(members_find(t, "c"));
	assert_int_equal(members_size(t), 3);
	members_free(t);
}

static void test_hash_table_many_members(void **state)
{
	struct recorder r;
	struct members *t = new_table(&r, NULL);
	char name[32];

	(void)state;
	for (int i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		assert_int_equal(feed(t, name, "cjoin", 1, 1, T0_MS), MEMBERS_REPLY);
	}
	assert_int_equal(members_size(t), 3000);
	for (int i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		assert_non_null(members_find(t, name));
		assert_string_equal(members_find(t, name)->name, name);
	}
	assert_null(members_find(t, "m3000"));
	/* all fail, then are purged after the retention time; the index stays right */
	members_tick(t, T0_MS + 10000, T0_S); /* all quiet at once: held a while */
	members_tick(t, T0_MS + 12000, T0_S);
	assert_int_equal(members_count(t, MEMBER_FAILED), 3000);
	members_tick(t, T0_MS + 3601u * 1000u, T0_S);
	assert_int_equal(members_size(t), 0);
	members_free(t);
}

static void test_member_size_budget(void **state)
{
	(void)state;
	/* at most 256 bytes per member beyond the name */
	assert_true(sizeof(struct member) - sizeof(((struct member *)0)->name) <= 256);
}

static void test_detector_adapts_to_loss(void **state)
{
	struct recorder r;
	struct members *t = new_table(&r, NULL);
	uint64_t now = T0_MS, ctr = 1;
	uint32_t lossless, lossy;

	(void)state;
	for (int i = 0; i < 400; i++, ctr++, now += 50)
		feed(t, "node-b", i ? "alive" : "cjoin", 5, ctr, now);
	lossless = members_find(t, "node-b")->timeout_ms;
	assert_int_equal(lossless, 750);
	/* now every second heartbeat is lost (50%, like 30% dropped on input and output) */
	for (int i = 0; i < 600; i++, ctr++, now += 50)
		if (i % 2 != 0)
			feed(t, "node-b", "alive", 5, ctr, now);
	lossy = members_find(t, "node-b")->timeout_ms;
	assert_true(members_loss(members_find(t, "node-b")) > 0.40);
	assert_true(members_loss(members_find(t, "node-b")) < 0.60);
	assert_true(lossy > lossless);
	/* losing every line of the timeout is rarer than 1 in 10^8 at the
	 * measured loss itself, not only at the pessimistic estimate */
	assert_true(lossy >= 50.0 * ceil(log(1e-8) / log(members_loss(members_find(t, "node-b")))));
	assert_true(lossy <= 2000); /* a crash is still seen within 2 s */
	members_free(t);
}

static void test_skew_is_measured_and_reported(void **state)
{
	struct recorder r;
	struct members *t = new_table(&r, NULL);
	struct member_addr a = addr4("10.0.0.2");
	struct wire_msg m = make("node-b", "alive node-b 1764172810", 5, 1, T0_S + 10);

	(void)state;
	members_receive(t, &m, &a, T0_MS, T0_S, NULL);
	assert_int_equal(members_find(t, "node-b")->skew_s, 10);
	assert_int_equal(r.n[MEV_SKEW], 1);
	assert_non_null(strstr(r.last_detail, "ahead of ours by 10 s"));
	m = make("node-b", "alive node-b 1764172810", 5, 2, T0_S + 10);
	members_receive(t, &m, &a, T0_MS + 50, T0_S, NULL);
	assert_int_equal(r.n[MEV_SKEW], 1); /* reported once, not per line */
	members_free(t);
}

static void test_reply_covered_only_by_full_view(void **state)
{
	struct recorder r;
	struct members *t = new_table(&r, NULL);
	struct wire_msg partial, rest;
	struct member_addr a = addr4("10.0.0.2");

	(void)state;
	feed(t, "node-b", "cjoin", 5, 1, T0_MS);
	feed(t, "node-c", "cjoin", 6, 1, T0_MS);
	feed(t, "node-d", "cjoin", 7, 1, T0_MS);
	members_reply_round_start(t);
	partial = make("node-b", "cluster node-b@10.0.0.2 self@10.0.0.1 node-c@10.0.0.3", 5, 2, T0_S);
	assert_int_equal(members_receive(t, &partial, &a, T0_MS + 10, T0_S, NULL), MEMBERS_OK);
	assert_false(members_reply_covered(t));
	/* the second line of a split reply completes the view */
	rest = make("node-b", "cluster node-d@10.0.0.4", 5, 3, T0_S);
	assert_int_equal(members_receive(t, &rest, &a, T0_MS + 20, T0_S, NULL), MEMBERS_OK);
	assert_true(members_reply_covered(t));
	/* a new round starts from nothing */
	members_reply_round_start(t);
	assert_false(members_reply_covered(t));
	/* and a closed round covers nothing */
	members_reply_round_end(t);
	rest = make("node-b", "cluster node-b@10.0.0.2 self@10.0.0.1 node-c@10.0.0.3 node-d@10.0.0.4",
	            5, 4, T0_S);
	members_receive(t, &rest, &a, T0_MS + 30, T0_S, NULL);
	assert_false(members_reply_covered(t));
	members_free(t);
}


/* Finding 1: a late line (inside the window, never seen) after a leave sets its bit only. */
static void test_late_line_after_leave_changes_nothing(void **state)
{
	struct recorder r;
	struct members *t = new_table(&r, NULL);
	struct member_addr other = addr4("10.9.9.9");
	struct wire_msg late;
	struct member *m;

	(void)state;
	feed(t, "node-b", "cjoin", 5, 1, T0_MS);
	/* counter 2 is lost on the way; 3 is the leave */
	feed(t, "node-b", "leave", 5, 3, T0_MS + 100);
	assert_int_equal(r.n[MEV_LEAVE], 1);
	late = make("node-b", "alive node-b 1764172800", 5, 2, T0_S);
	assert_int_equal(members_receive(t, &late, &other, T0_MS + 200, T0_S, NULL), MEMBERS_LATE);
	m = members_find(t, "node-b");
	assert_int_equal(m->state, MEMBER_LEFT);
	assert_int_equal(r.n[MEV_JOIN], 1); /* no "rejoined after leaving" */
	assert_true(addr_same(&m->addr, &(struct member_addr){ .family = AF_INET,
	                                                       .a.v4.s_addr = htonl(0x0a000002) }));
	assert_int_equal(m->last_heard_ms, T0_MS + 100);
	/* the bit is set: the same line again is a replay */
	late = make("node-b", "alive node-b 1764172800", 5, 2, T0_S);
	assert_int_equal(members_receive(t, &late, &other, T0_MS + 300, T0_S, NULL), MEMBERS_REPLAY);
	/* a late line of a failed member does not revive it either */
	feed(t, "node-c", "cjoin", 6, 1, T0_MS);
	feed(t, "node-c", "alive", 6, 5, T0_MS + 50);
	members_tick(t, T0_MS + 5000, T0_S);
	assert_int_equal(members_find(t, "node-c")->state, MEMBER_FAILED);
	late = make("node-c", "alive node-c 1764172800", 6, 3, T0_S);
	assert_int_equal(members_receive(t, &late, &other, T0_MS + 5100, T0_S, NULL), MEMBERS_LATE);
	assert_int_equal(members_find(t, "node-c")->state, MEMBER_FAILED);
	members_free(t);
}

/* Finding 2: an incarnation past (timestamp + window) * 10^6 is bad_body and locks nothing. */
static void test_future_incarnation_is_bad_body(void **state)
{
	struct recorder r;
	struct members *t = new_table(&r, NULL);
	struct member_addr a = addr4("10.0.0.2");
	struct wire_msg m = make("node-b", "alive node-b 1764172800", UINT64_MAX, 1, T0_S);

	(void)state;
	assert_int_equal(members_receive(t, &m, &a, T0_MS, T0_S, NULL), MEMBERS_BAD_BODY);
	assert_null(members_find(t, "node-b"));
	m = make("node-b", "alive node-b 1764172800", (T0_S + 30) * 1000000ull + 1, 1, T0_S);
	assert_int_equal(members_receive(t, &m, &a, T0_MS, T0_S, NULL), MEMBERS_BAD_BODY);
	m = make("node-b", "alive node-b 1764172800", (T0_S + 30) * 1000000ull, 1, T0_S);
	assert_int_equal(members_receive(t, &m, &a, T0_MS, T0_S, NULL), MEMBERS_OK);
	members_free(t);
}

/* Clock steps: a failed member's state expires after twice the window; then a
 * lower incarnation (its clock was wrong at start) is admitted. */
static void test_expired_state_admits_lower_incarnation(void **state)
{
	struct recorder r;
	struct members *t = new_table(&r, NULL);
	uint64_t future = (T0_S + 20) * 1000000ull;

	(void)state;
	feed(t, "node-b", "cjoin", future, 1, T0_MS);
	members_tick(t, T0_MS + 2000, T0_S);
	assert_int_equal(members_find(t, "node-b")->state, MEMBER_FAILED);
	/* within twice the window: a lower incarnation is a replay */
	assert_int_equal(feed(t, "node-b", "cjoin", T0_S * 1000000ull, 1, T0_MS + 59000),
	                 MEMBERS_REPLAY);
	assert_int_equal(members_find(t, "node-b")->state, MEMBER_FAILED);
	/* past it, the state is gone: admitted afresh, reported as a restart */
	assert_int_equal(feed(t, "node-b", "cjoin", T0_S * 1000000ull, 1, T0_MS + 60001),
	                 MEMBERS_REPLY);
	assert_int_equal(members_find(t, "node-b")->state, MEMBER_ALIVE);
	assert_int_equal(members_find(t, "node-b")->incarnation, T0_S * 1000000ull);
	assert_int_equal(r.n[MEV_RESTART], 1);
	/* an alive member's state never expires */
	feed(t, "node-c", "cjoin", 9, 1, T0_MS);
	for (uint64_t c = 2, now = T0_MS; now < T0_MS + 70000; c++, now += 500)
		feed(t, "node-c", "alive", 9, c, now);
	assert_int_equal(feed(t, "node-c", "alive", 8, 1, T0_MS + 70000), MEMBERS_REPLAY);
	members_free(t);
}

/* Two paths: the same line seen moments ago is a duplicate, not a replay. */
static void test_duplicates_counted_when_two_paths(void **state)
{
	struct members_params p = params;
	struct recorder r;
	struct members *t;

	(void)state;
	p.count_duplicates = 1;
	t = new_table(&r, &p);
	feed(t, "node-b", "cjoin", 5, 1, T0_MS);
	assert_int_equal(feed(t, "node-b", "cjoin", 5, 1, T0_MS + 3), MEMBERS_DUPLICATE);
	/* long after, the same line is a replay */
	assert_int_equal(feed(t, "node-b", "cjoin", 5, 1, T0_MS + 2500), MEMBERS_REPLAY);
	members_free(t);
	t = new_table(&r, NULL); /* one path: always a replay */
	feed(t, "node-b", "cjoin", 5, 1, T0_MS);
	assert_int_equal(feed(t, "node-b", "cjoin", 5, 1, T0_MS + 3), MEMBERS_REPLAY);
	members_free(t);
}

static void heartbeat_all(struct members *t, const char *const *names, size_t n, uint64_t *ctr,
                          uint64_t from, uint64_t to, uint64_t step)
{
	for (uint64_t now = from; now < to; now += step, (*ctr)++)
		for (size_t i = 0; i < n; i++)
			feed(t, names[i], *ctr == 1 ? "cjoin" : "alive", 10 + i, *ctr, now);
}

/* Local health: every peer quiet at once holds the verdicts and loses quorum. */
static void test_local_blackout_holds_verdicts(void **state)
{
	static const char *const names[] = { "a", "b", "c", "d" };
	struct recorder r;
	struct members *t = new_table(&r, NULL);
	struct members_quorum q;
	uint64_t ctr = 1, now = T0_MS;

	(void)state;
	heartbeat_all(t, names, 4, &ctr, now, now + 5000, 50);
	now += 5000;
	/* our input blacks out for 0.9 s: all four overdue at 0.75 s */
	for (uint64_t x = now; x <= now + 900; x += 25)
		members_tick(t, x, T0_S);
	assert_int_equal(r.n[MEV_FAILED], 0);
	assert_int_equal(r.n[MEV_QUORUM_LOST], 1);
	members_quorum(t, &q);
	assert_int_equal(q.known, 5);
	assert_int_equal(q.reachable, 1);
	assert_false(q.has_quorum);
	/* input back: "a" is heard first; the others, overdue, get a moment */
	ctr += 18; /* the lines sent during the blackout were lost */
	feed(t, "a", "alive", 10, ctr, now + 900);
	members_tick(t, now + 910, T0_S);
	assert_int_equal(r.n[MEV_FAILED], 0);
	heartbeat_all(t, names, 4, &ctr, now + 920, now + 1000, 50);
	members_tick(t, now + 1000, T0_S);
	assert_int_equal(r.n[MEV_QUORUM_REGAINED], 1);
	assert_int_equal(r.n[MEV_FAILED], 0);
	/* the burst was learned: a gap of 18 lines counts 18 losses */
	assert_true(members_loss(members_find(t, "a")) > 0.05);
	assert_true(members_find(t, "a")->timeout_ms > 750);
	/* a blackout that lasts: after the grace, they fail */
	now += 1000;
	for (uint64_t x = now; x <= now + 6000; x += 25)
		members_tick(t, x, T0_S);
	assert_int_equal(r.n[MEV_FAILED], 4);
	members_quorum(t, &q);
	assert_false(q.has_quorum);
	members_free(t);
}

/* One peer crashing is failed at its timeout, with no hold; quorum kept. */
static void test_single_crash_is_not_held(void **state)
{
	static const char *const names[] = { "a", "b", "c", "d" };
	struct recorder r;
	struct members *t = new_table(&r, NULL);
	struct members_quorum q;
	uint64_t ctr = 1, now = T0_MS, c2;

	(void)state;
	heartbeat_all(t, names, 4, &ctr, now, now + 5000, 50);
	now += 5000;
	c2 = ctr;
	heartbeat_all(t, names, 3, &ctr, now, now + 1000, 50); /* d is silent */
	members_tick(t, now + 760, T0_S);
	assert_int_equal(r.n[MEV_FAILED], 1);
	assert_string_equal(r.last_name, "d");
	members_quorum(t, &q);
	assert_true(q.has_quorum);
	assert_int_equal(q.reachable, 4);
	assert_int_equal(r.n[MEV_QUORUM_LOST], 0);
	(void)c2;
	members_free(t);
}

/* The heartbeat slows down on a clean network, speeds up under loss, and
 * respects the line budget as the cluster grows. */
static void test_heartbeat_adapts(void **state)
{
	static const char *const names[] = { "a", "b", "c", "d" };
	struct recorder r;
	struct members *t = new_table(&r, NULL);
	uint64_t ctr = 1, now = T0_MS;
	unsigned clean, lossy;
	char name[16];

	(void)state;
	assert_int_equal(members_heartbeat_ms(t, 50), 50); /* alone */
	heartbeat_all(t, names, 4, &ctr, now, now + 60000, 200);
	clean = members_heartbeat_ms(t, 50);
	assert_true(clean >= 150 && clean <= 250);
	/* one in two lines of "a" lost */
	for (now += 60000; now < T0_MS + 120000; now += 100, ctr += 2)
		feed(t, "a", "alive", 10, ctr, now);
	lossy = members_heartbeat_ms(t, 50);
	assert_int_equal(lossy, 50);
	members_free(t);
	/* 1000 members: at most MEMBERS_LINE_BUDGET lines per second in all */
	t = new_table(&r, NULL);
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		feed(t, name, "cjoin", 1, 1, T0_MS);
	}
	assert_true(members_heartbeat_ms(t, 50) >= 1000 * 1000 / MEMBERS_LINE_BUDGET);
	members_free(t);
}

/* A sender slowing down: the receiver's timeout follows the last interval. */
static void test_timeout_follows_slower_sender(void **state)
{
	struct recorder r;
	struct members *t = new_table(&r, NULL);
	uint64_t now = T0_MS, ctr = 1;
	double iv = 50;

	(void)state;
	for (int i = 0; i < 400; i++, ctr++, now += 50)
		feed(t, "node-b", i ? "alive" : "cjoin", 5, ctr, now);
	/* slower by a quarter a line up to 1 s: never failed on the way */
	while (iv < 1000) {
		iv *= 1.25;
		now += (uint64_t)iv;
		members_tick(t, now - 1, T0_S);
		feed(t, "node-b", "alive", 5, ctr++, now);
	}
	assert_int_equal(r.n[MEV_FAILED], 0);
	assert_true(members_find(t, "node-b")->timeout_ms >= 1000);
	members_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cjoin_adds_member_and_asks_reply),
		cmocka_unit_test(test_late_line_after_leave_changes_nothing),
		cmocka_unit_test(test_future_incarnation_is_bad_body),
		cmocka_unit_test(test_expired_state_admits_lower_incarnation),
		cmocka_unit_test(test_duplicates_counted_when_two_paths),
		cmocka_unit_test(test_local_blackout_holds_verdicts),
		cmocka_unit_test(test_single_crash_is_not_held),
		cmocka_unit_test(test_heartbeat_adapts),
		cmocka_unit_test(test_timeout_follows_slower_sender),
		cmocka_unit_test(test_leave_marks_left_and_replay_cannot_revive),
		cmocka_unit_test(test_silence_fails_member_at_timeout),
		cmocka_unit_test(test_failed_member_heard_again_rejoins),
		cmocka_unit_test(test_restart_is_reported),
		cmocka_unit_test(test_candidate_expires_unheard),
		cmocka_unit_test(test_candidate_heard_directly_becomes_alive),
		cmocka_unit_test(test_report_does_not_revive_failed),
		cmocka_unit_test(test_table_cap_refuses_then_reuses_old_entries),
		cmocka_unit_test(test_hash_table_many_members),
		cmocka_unit_test(test_member_size_budget),
		cmocka_unit_test(test_detector_adapts_to_loss),
		cmocka_unit_test(test_skew_is_measured_and_reported),
		cmocka_unit_test(test_reply_covered_only_by_full_view),
	};

	return cmocka_run_group_tests_name("members", tests, setup, teardown);
}
