/*
 * node: the adapter between the simulator and the daemon's real code.
 *
 * Today's seams (before the one clock and scheduler of contract.md): a
 * struct daemon built as tests/unit/daemon_fixture.h builds one (no
 * sockets, the send seam d->send), daemon_receive() with the arrival time
 * injected, daemon_check_clock() and daemon_timers() at each wake-up.  The
 * daemon still reads the clocks itself in a few places (signing time, rate
 * limits): the link wraps now_*() (-Wl,--wrap, see the Makefile) so those
 * reads return the simulated host's clocks.  libsodium's random source is
 * replaced by a seeded one, so that a run is reproduced byte for byte.
 */
#include "node.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "util.h"

struct node {
	struct daemon d;
	node_send_fn send;
	node_event_fn event;
	void *arg;
};

static struct keyring *cluster_keys;
static uint64_t cur_mono_us, cur_real_us;

/* ---- the clocks the daemon reads: the current host's ---- */

uint64_t __wrap_now_mono_ms(void);
uint64_t __wrap_now_mono_us(void);
uint64_t __wrap_now_real_s(void);
uint64_t __wrap_now_real_us(void);

uint64_t __wrap_now_mono_ms(void)
{
	return cur_mono_us / 1000u;
}

uint64_t __wrap_now_mono_us(void)
{
	return cur_mono_us;
}

uint64_t __wrap_now_real_s(void)
{
	return cur_real_us / 1000000u;
}

uint64_t __wrap_now_real_us(void)
{
	return cur_real_us;
}

void node_set_time(uint64_t mono_us, uint64_t real_us)
{
	cur_mono_us = mono_us;
	cur_real_us = real_us;
}

/* ---- a seeded random source for libsodium (splitmix64) ---- */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static const char *rng_name(void)
{
	return "cmem-sim";
}

static uint32_t rng_random(void)
{
	return (uint32_t)(rng_next() >> 32);
}

static void rng_buf(void *const buf, const size_t size)
{
	unsigned char *p = buf;

	for (size_t i = 0; i < size; i++)
		p[i] = (unsigned char)(rng_next() >> 56);
}

static struct randombytes_implementation rng_impl = {
	.implementation_name = rng_name,
	.random = rng_random,
	.buf = rng_buf,
};

void node_seed(uint64_t seed)
{
	rng_state = seed * 0x2545f4914f6cdd1dull + 1;
}

static void quiet_log(enum log_level level, const char *msg, void *arg)
{
	(void)level;
	(void)msg;
	(void)arg;
}

int node_global_init(void)
{
	randombytes_set_implementation(&rng_impl);
	if (sodium_init() < 0)
		return -1;
	log_set_hook(quiet_log, NULL);
	node_seed(1);
	cluster_keys = keyring_generate();
	return cluster_keys ? 0 : -1;
}

/* ---- the seams ---- */

static int node_send(struct daemon *d, enum daemon_dest dest, const struct member_addr *to,
                     const void *line, size_t len)
{
	struct node *n = (struct node *)d; /* d is the first member */

	n->send(n->arg, dest != DEST_ONE, to, line, len);
	return 0;
}

static void node_event(void *arg, enum member_event ev, const struct member *m, const char *detail)
{
	struct node *n = arg;

	n->event(n->arg, ev, m->name);
	daemon_event(&n->d, ev, m, detail);
}

/* What daemon_run sends before its loop (and send_simple formats). */
static void send_verb(struct node *n, enum wire_verb verb)
{
	char body[160];
	int len = verb == WIRE_ALIVE
	              ? snprintf(body, sizeof(body), "alive %s %llu", n->d.cfg.name,
	                         (unsigned long long)(cur_real_us / 1000000u))
	              : snprintf(body, sizeof(body), "%s %s", wire_verb_name(verb), n->d.cfg.name);

	daemon_send(&n->d, verb, body, (size_t)len, DEST_ALL, NULL);
}

struct node *node_new(const struct node_conf *c, const char *name, const struct member_addr *addr,
                      node_send_fn send, node_event_fn event, void *arg)
{
	struct node *n = xcalloc(1, sizeof(*n));
	struct daemon *d = &n->d;

	config_defaults(&d->cfg);
	snprintf(d->cfg.name, sizeof(d->cfg.name), "%s", name);
	d->cfg.heartbeat_ms = c->heartbeat_ms;
	d->cfg.fail_after_ms = c->fail_after_ms;
	d->cfg.replay_window_s = c->replay_window_s;
	d->cfg.max_members = c->max_members;
	d->cfg.heartbeat_fixed = c->heartbeat_fixed;
	d->kr = cluster_keys;
	d->net.fd = -1;
	d->net.multicast = 1;
	d->net.local = *addr;
	d->send = node_send;
	n->send = send;
	n->event = event;
	n->arg = arg;
	d->incarnation = cur_real_us;
	daemon_init(d, cur_mono_us / 1000u, cur_real_us / 1000000u);
	members_set_event_fn(d->members, node_event, n);
	send_verb(n, WIRE_CJOIN);
	send_verb(n, WIRE_ALIVE);
	return n;
}

void node_free(struct node *n)
{
	if (n == NULL)
		return;
	members_free(n->d.members);
	free(n);
}

void node_receive(struct node *n, const uint8_t *buf, size_t len, const struct member_addr *src,
                  uint64_t at_mono_us, uint64_t at_real_us)
{
	daemon_receive(&n->d, buf, len, src, at_mono_us / 1000u, at_real_us / 1000000u);
}

/* As the poll loop's timeout (daemon.c poll_timeout). */
uint64_t node_next_due_ms(const struct node *n)
{
	const struct daemon *d = &n->d;
	uint64_t next = d->next_heartbeat_ms;

	if (d->next_tick_ms < next)
		next = d->next_tick_ms;
	if (d->next_report_ms < next && stats_unreported(&d->stats))
		next = d->next_report_ms;
	if (d->reply_pending && d->reply_due_ms < next)
		next = d->reply_due_ms;
	return next;
}

void node_wake(struct node *n)
{
	daemon_check_clock(&n->d, cur_mono_us, cur_real_us);
	daemon_timers(&n->d, cur_mono_us / 1000u, cur_real_us / 1000000u);
}

/* As daemon.c send_leave: members_lines_needed copies, 3 to 16. */
unsigned node_leave_copies(const struct node *n, unsigned *gap_ms)
{
	unsigned copies = members_lines_needed(n->d.members);

	*gap_ms = n->d.cfg.heartbeat_ms;
	return copies < DAEMON_LEAVE_MIN ? DAEMON_LEAVE_MIN
	       : copies > DAEMON_LEAVE_MAX ? DAEMON_LEAVE_MAX : copies;
}

void node_send_leave(struct node *n)
{
	send_verb(n, WIRE_LEAVE);
}

size_t node_count(const struct node *n, enum member_state s)
{
	return members_count(n->d.members, s);
}

unsigned node_timeout_ms(struct node *n, const char *member)
{
	const struct member *m = members_find(n->d.members, member);

	return m ? m->timeout_ms : 0;
}

size_t node_footprint(const struct node *n)
{
	return sizeof(*n) + members_size(n->d.members) * sizeof(struct member);
}
