/*
 * daemon_fixture: a struct daemon ready for daemon_receive(), as the unit
 * tests, the fuzz targets and the receive-path benchmark set it up: the
 * test keyring, no sockets, sends captured through the send seam, an
 * injected clock.  Header-only so that fuzz/ and bench/ share it.
 */
#ifndef CMEM_DAEMON_FIXTURE_H
#define CMEM_DAEMON_FIXTURE_H

#include <arpa/inet.h>
#include <string.h>

#include "clock.h"
#include "daemon_state.h"

/* The fixture's clock: set by the fixture's calls, read by the daemon for every time. */
struct fixture_clock {
	struct clock clock;
	struct clock_manual manual;
};

static inline struct fixture_clock *fixture_clock(void)
{
	static struct fixture_clock c;

	return &c;
}

/* Set the clock to NOW_MS (monotonic) and NOW_S (wall clock). */
static inline const struct clock *fixture_set_time(uint64_t now_ms, uint64_t now_s)
{
	struct fixture_clock *c = fixture_clock();

	clock_manual_init(&c->clock, &c->manual, now_ms, now_s);
	return &c->clock;
}

/* The timers due at NOW_MS (the clock set there first), as the loop runs them. */
static inline void fixture_timers(struct daemon *d, uint64_t now_ms, uint64_t now_s)
{
	fixture_set_time(now_ms, now_s);
	daemon_timers(d);
}

/* Sends go nowhere; counted, so that a caller can see one was made. */
static inline int fixture_send(struct daemon *d, enum daemon_dest dest,
                               const struct member_addr *to, const void *line, size_t len)
{
	(void)dest;
	(void)to;
	(void)line;
	(void)len;
	d->stats.sent[WIRE_VERB_NONE]++;
	return 0;
}

/*
 * D named NAME with keyring KR (kept by the caller), on the fixture's clock
 * set to now_ms / now_s, started at now_s - 10 (incarnation from that), no
 * network.  send: NULL for fixture_send.
 */
static inline void fixture_daemon_init(struct daemon *d, struct keyring *kr, const char *name,
                                       daemon_send_fn send, uint64_t now_ms, uint64_t now_s)
{
	memset(d, 0, sizeof(*d));
	config_defaults(&d->cfg);
	snprintf(d->cfg.name, sizeof(d->cfg.name), "%s", name);
	d->kr = kr;
	d->net.fd = -1;
	d->send = send ? send : fixture_send;
	d->incarnation = (now_s - 10) * 1000000u;
	daemon_init(d, fixture_set_time(now_ms, now_s));
	d->start_s = now_s - 10; /* as if started 10 s ago: lines of the last seconds are new */
}

/* Back to a fresh receiver (no members, no counters), same identity. */
static inline void fixture_daemon_reset(struct daemon *d, uint64_t now_ms, uint64_t now_s)
{
	struct keyring *kr = d->kr;
	daemon_send_fn send = d->send;
	char name[sizeof(d->cfg.name)];

	snprintf(name, sizeof(name), "%s", d->cfg.name);
	daemon_fini(d);
	fixture_daemon_init(d, kr, name, send, now_ms, now_s);
}

static inline void fixture_daemon_free(struct daemon *d)
{
	daemon_fini(d);
}

/* An IPv4 address from its text (the tests' own literals). */
static inline struct member_addr fixture_addr4(const char *s)
{
	struct member_addr a = { .family = AF_INET };

	inet_pton(AF_INET, s, &a.a.v4);
	return a;
}

/*
 * A line from SENDER signed with D's primary key (timestamp TS), received
 * from FROM at now_ms / now_s through daemon_receive.  Returns 0, or -1 if
 * the line could not be signed.
 */
static inline int fixture_rx(struct daemon *d, const char *sender, const char *body, uint64_t inc,
                             uint64_t ctr, uint64_t ts, const char *from, uint64_t now_ms,
                             uint64_t now_s)
{
	char line[WIRE_MAX_DATAGRAM + 2];
	struct member_addr a = fixture_addr4(from);
	int n = wire_sign(keyring_primary(d->kr), ts, sender, body, strlen(body), inc, ctr, line,
	                  sizeof(line));

	if (n <= 0)
		return -1;
	daemon_receive(d, (uint8_t *)line, (size_t)n, &a, now_ms, now_s);
	return 0;
}

#endif
