/*
 * node: the adapter between the simulator and the daemon's real code.
 *
 * The daemon's public face (daemon.h): daemon_new() builds one without
 * sockets from a configuration, the cluster's keyring, a clock and the
 * send seam; daemon_receive() is the one receive path (arrival time
 * injected); its timers live in its scheduler (daemon_sched), run by
 * daemon_timers() at the clock's now, after daemon_check_clock() as the
 * poll loop does.  Every daemon reads the same clock, which returns the
 * time of the host being run (node_set_time).  libsodium's random source
 * is replaced by a seeded one, so that a run is reproduced byte for byte.
 */
#include "node.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "log.h"
#include "util.h"

struct node {
	struct daemon *d;
	node_send_fn send;
	node_event_fn event;
	void *arg;
};

static struct keyring *cluster_keys;
static uint64_t cur_mono_us, cur_real_us;

/* ---- the clock every daemon reads: the current host's ---- */

static uint64_t host_mono_us(void *arg)
{
	(void)arg;
	return cur_mono_us;
}

static uint64_t host_real_us(void *arg)
{
	(void)arg;
	return cur_real_us;
}

static const struct clock host_clock = { host_mono_us, host_real_us, NULL };

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
	struct node *n = daemon_send_arg(d);

	n->send(n->arg, dest != DEST_ONE, to, line, len);
	return 0;
}

static void node_event(void *arg, enum member_event ev, const struct member *m, const char *detail)
{
	struct node *n = arg;

	n->event(n->arg, ev, m->name);
	daemon_event(n->d, ev, m, detail);
}

struct node *node_new(const struct node_conf *c, const char *name, const struct member_addr *addr,
                      node_send_fn send, node_event_fn event, void *arg)
{
	struct node *n = xcalloc(1, sizeof(*n));
	struct cmem_config cfg;

	config_defaults(&cfg);
	snprintf(cfg.name, sizeof(cfg.name), "%s", name);
	cfg.heartbeat_ms = c->heartbeat_ms;
	cfg.fail_after_ms = c->fail_after_ms;
	cfg.replay_window_s = c->replay_window_s;
	cfg.max_members = c->max_members;
	cfg.heartbeat_fixed = c->heartbeat_fixed;
	n->send = send;
	n->event = event;
	n->arg = arg;
	n->d = daemon_new(&cfg, cluster_keys, &host_clock, node_send, n);
	daemon_set_address(n->d, addr);
	members_set_event_fn(daemon_members(n->d), node_event, n);
	daemon_start(n->d);
	return n;
}

void node_free(struct node *n)
{
	if (n == NULL)
		return;
	daemon_free(n->d);
	free(n);
}

void node_receive(struct node *n, const uint8_t *buf, size_t len, const struct member_addr *src,
                  uint64_t at_mono_us, uint64_t at_real_us)
{
	daemon_receive(n->d, buf, len, src, at_mono_us / 1000u, at_real_us / 1000000u);
}

uint64_t node_next_due_ms(const struct node *n)
{
	return sched_next_due(daemon_sched(n->d));
}

/* A wake-up of the poll loop: the clock check, then the timers due. */
void node_wake(struct node *n)
{
	daemon_check_clock(n->d, cur_mono_us, cur_real_us);
	daemon_timers(n->d);
}

void node_leave(struct node *n)
{
	daemon_leave(n->d);
}

int node_leaving(const struct node *n)
{
	return daemon_leaving(n->d);
}

size_t node_count(const struct node *n, enum member_state s)
{
	return members_count(daemon_members(n->d), s);
}

unsigned node_timeout_ms(struct node *n, const char *member)
{
	const struct member *m = members_find(daemon_members(n->d), member);

	return m ? m->timeout_ms : 0;
}

size_t node_footprint(const struct node *n)
{
	return members_size(daemon_members(n->d)) * sizeof(struct member);
}
