/*
 * test_daemon_new: two daemons built without sockets (daemon_new: the
 * configuration, the test keyring, one clock the test sets, a send seam
 * that queues datagrams) and driven only through their schedulers, as the
 * simulator drives them: they join, hear each other's heartbeats on the
 * injected clock, and one leaves with its copies a heartbeat apart.
 */
#include "testutil.h"

#include <arpa/inet.h>

#include "clock.h"
#include "daemon.h"
#include "scheduler.h"

#define NOW_S 1764172800u
#define QMAX 256

struct datagram {
	int to; /* node index */
	struct member_addr src;
	size_t len;
	char line[WIRE_MAX_DATAGRAM + 2];
};

struct node {
	int index;
	struct member_addr addr;
	struct daemon *d;
	size_t sent[WIRE_NVERBS];
	uint64_t last_leave_ms;
	uint64_t leave_gap_ms; /* between the last two leave copies */
};

static struct keyring *kr;
static struct clock clk;
static struct clock_manual manual;
static struct node nodes[2];
static struct datagram queue[QMAX];
static size_t nqueued;

static enum wire_verb verb_of(const char *line, size_t len)
{
	struct wire_msg m;

	assert_int_equal(wire_verify(kr, (const uint8_t *)line, len, clock_real_s(&clk), 30, &m),
	                 WIRE_OK);
	assert_int_equal(wire_parse_body(&m, 30), WIRE_OK);
	return m.verb;
}

/* The send seam: every datagram to the other node, queued; counted by verb. */
static int queue_send(struct daemon *d, enum daemon_dest dest, const struct member_addr *to,
                      const void *line, size_t len)
{
	struct node *n = daemon_send_arg(d);
	struct datagram *g;
	enum wire_verb v;

	(void)dest;
	(void)to;
	assert_true(nqueued < QMAX);
	g = &queue[nqueued++];
	g->to = 1 - n->index;
	g->src = n->addr;
	g->len = len;
	memcpy(g->line, line, len);
	v = verb_of(g->line, len);
	n->sent[v]++;
	if (v == WIRE_LEAVE) {
		uint64_t now = clock_mono_ms(&clk);

		n->leave_gap_ms = n->last_leave_ms ? now - n->last_leave_ms : 0;
		n->last_leave_ms = now;
	}
	return 0;
}

static void deliver(void)
{
	for (size_t i = 0; i < nqueued; i++) {
		struct datagram *g = &queue[i];

		if (nodes[g->to].d)
			daemon_receive(nodes[g->to].d, (const uint8_t *)g->line, g->len, &g->src,
			               clock_mono_ms(&clk), clock_real_s(&clk));
	}
	nqueued = 0;
}

/* Advance the clock by MS in 5 ms steps, delivering and running the due timers. */
static void run_for(uint64_t ms)
{
	for (uint64_t t = 0; t < ms; t += 5) {
		clock_manual_advance(&manual, 5);
		deliver();
		for (int i = 0; i < 2; i++)
			if (nodes[i].d)
				daemon_timers(nodes[i].d);
		deliver();
	}
}

static int setup(void **state)
{
	const char *names[2] = { "node-a", "node-b" };

	(void)state;
	assert_true(sodium_init() >= 0);
	kr = tu_vector_keyring();
	clock_manual_init(&clk, &manual, 1000, NOW_S);
	memset(nodes, 0, sizeof(nodes));
	nqueued = 0;
	for (int i = 0; i < 2; i++) {
		struct cmem_config c;

		config_defaults(&c);
		snprintf(c.name, sizeof(c.name), "%s", names[i]);
		nodes[i].index = i;
		nodes[i].addr.family = AF_INET;
		nodes[i].addr.a.v4.s_addr = htonl(0x0a000001u + (uint32_t)i);
		nodes[i].d = daemon_new(&c, kr, &clk, queue_send, &nodes[i]);
		daemon_set_address(nodes[i].d, &nodes[i].addr);
		clock_manual_advance(&manual, 1); /* distinct incarnations */
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < 2; i++)
		daemon_free(nodes[i].d);
	keyring_free(kr);
	return 0;
}

static void test_join_heartbeats_and_leave(void **state)
{
	struct member *a_at_b;
	unsigned copies, hb;
	size_t alive_before;

	(void)state;
	assert_string_equal(daemon_name(nodes[0].d), "node-a");
	assert_int_equal(daemon_incarnation(nodes[0].d), (uint64_t)NOW_S * 1000000u);
	/* the heartbeat is armed from daemon_new on, a fastest interval ahead */
	assert_int_equal(sched_timer_last_due(daemon_sched(nodes[0].d), 0), SCHED_NEVER);
	assert_true(sched_next_due(daemon_sched(nodes[0].d)) <= clock_mono_ms(&clk) + 50);
	assert_int_equal(nqueued, 0);
	daemon_start(nodes[0].d);
	daemon_start(nodes[1].d);
	run_for(3000);
	a_at_b = members_find(daemon_members(nodes[1].d), "node-a");
	assert_non_null(a_at_b);
	assert_int_equal(a_at_b->state, MEMBER_ALIVE);
	assert_int_equal(members_find(daemon_members(nodes[0].d), "node-b")->state, MEMBER_ALIVE);
	/* heartbeats on the injected clock: at most one per fastest interval */
	hb = daemon_heartbeat_ms(nodes[0].d);
	assert_true(hb >= 50);
	assert_true(nodes[0].sent[WIRE_ALIVE] >= 3000 / 1000 && nodes[0].sent[WIRE_ALIVE] <= 3000 / 50 + 1);
	assert_true(daemon_stats(nodes[1].d)->accepted[WIRE_ALIVE] == nodes[0].sent[WIRE_ALIVE]);
	assert_true(sched_next_due(daemon_sched(nodes[1].d)) != SCHED_NEVER);
	/* leave: the copies, a (configured) heartbeat apart, and nothing else */
	copies = members_leave_copies(daemon_members(nodes[0].d));
	alive_before = nodes[0].sent[WIRE_ALIVE];
	daemon_leave(nodes[0].d);
	assert_true(daemon_leaving(nodes[0].d));
	deliver();
	assert_int_equal(a_at_b->state, MEMBER_LEFT);
	run_for(50 * DETECTOR_LEAVE_MAX + 100);
	assert_false(daemon_leaving(nodes[0].d));
	assert_int_equal(nodes[0].sent[WIRE_LEAVE], copies);
	assert_true(copies >= DETECTOR_LEAVE_MIN);
	assert_int_equal(nodes[0].leave_gap_ms, 50); /* config_defaults: heartbeat_ms 50 */
	assert_int_equal(nodes[0].sent[WIRE_ALIVE], alive_before);
	/* the one left has nothing more to run but the service manager's (none) */
	assert_int_equal(sched_next_due(daemon_sched(nodes[0].d)), SCHED_NEVER);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_join_heartbeats_and_leave, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
