/* daemon: cmemd's receive path, timers and poll loop. */
#include "daemon_state.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "log.h"
#include "unicast.h"
#include "util.h"

#define RECV_BATCH 256 /* datagrams per wake-up, so that timers still run under a flood */
#define TICK_FIRST_MS 100 /* the first verdict pass; then when one is due (members_next_due) */
#define REPORT_MS 1000    /* drops are reported once a second at most */

static void heartbeat_timer(void *arg, uint64_t now_ms);
static void tick_timer(void *arg, uint64_t now_ms);
static void reply_timer(void *arg, uint64_t now_ms);
static void report_timer(void *arg, uint64_t now_ms);
static void notify_timer(void *arg, uint64_t now_ms);
static void rxhold_timer(void *arg, uint64_t now_ms);
static void leave_timer(void *arg, uint64_t now_ms);
static void log_timer(void *arg, uint64_t now_ms);

/* Join replies are spread over this long, so that one answer can silence the rest. */
static uint64_t reply_spread_ms(const struct daemon *d)
{
	unsigned s = d->cfg.heartbeat_ms * 2;

	return s < 20 ? 20 : s > 500 ? 500 : s;
}

/* The timers, registered once; the loop adds the descriptors (daemon_run). */
static void register_timers(struct daemon *d, uint64_t now_ms)
{
	struct sched *s = d->sched = sched_new(d->clk);

	d->t_heartbeat = sched_timer_add(s, heartbeat_timer, d);
	d->t_tick = sched_timer_add(s, tick_timer, d);
	d->t_reply = sched_timer_add(s, reply_timer, d);
	d->t_report = sched_timer_add(s, report_timer, d);
	d->t_notify = sched_timer_add(s, notify_timer, d);
	d->t_rxhold = sched_timer_add(s, rxhold_timer, d);
	d->t_leave = sched_timer_add(s, leave_timer, d);
	d->t_log = sched_timer_add(s, log_timer, d);
	d->fd_net = d->fd_netlink = -1;
	sched_timer_set(s, d->t_heartbeat, now_ms + d->heartbeat_ms);
	sched_timer_set(s, d->t_tick, now_ms + TICK_FIRST_MS);
}

void daemon_init(struct daemon *d, const struct clock *clk)
{
	uint64_t now_ms = clock_mono_ms(clk);
	struct members_params p = {
		.heartbeat_ms = d->cfg.heartbeat_ms,
		.fail_after_ms = d->cfg.fail_after_ms,
		.replay_window_s = d->cfg.replay_window_s,
		.max_members = d->cfg.max_members,
		.skew_warn_s = 2,
	};

	d->clk = clk;
	d->net.clk = clk;
	if (d->incarnation == 0)
		d->incarnation = clock_real_us(clk);
	d->members = members_new(&p, d->cfg.name, d->incarnation);
	members_set_event_fn(d->members, daemon_event, d);
	if (d->send == NULL)
		d->send = daemon_send_net;
	d->heartbeat_ms = d->cfg.heartbeat_ms;
	d->start_ms = now_ms;
	d->start_s = clock_real_s(clk);
	d->clock_offset_us = (int64_t)(clock_real_us(clk) - clock_mono_us(clk));
	d->self_addr = d->net.local;
	register_timers(d, now_ms);
	d->rl_conflict = (struct log_ratelimit)LOG_RATELIMIT_INIT(10000, 1);
	d->rl_full = (struct log_ratelimit)LOG_RATELIMIT_INIT(10000, 1);
	d->rl_stale = (struct log_ratelimit)LOG_RATELIMIT_INIT(5000, 2);
	d->rl_send = (struct log_ratelimit)LOG_RATELIMIT_INIT(10000, 1);
	d->rl_shadow = (struct log_ratelimit)LOG_RATELIMIT_INIT(10000, 1);
	d->rl_recv = (struct log_ratelimit)LOG_RATELIMIT_INIT(10000, 1);
	d->rl_event = (struct log_ratelimit)LOG_RATELIMIT_INIT(1000, DAEMON_EVENT_LOG_BURST);
	d->running = 1;
}

void daemon_fini(struct daemon *d)
{
	members_free(d->members);
	d->members = NULL;
	sched_free(d->sched);
	d->sched = NULL;
}

struct daemon *daemon_new(const struct cmem_config *cfg, struct keyring *kr,
                          const struct clock *clk, daemon_send_fn send, void *send_arg)
{
	struct daemon *d = xcalloc(1, sizeof(*d));

	d->cfg = *cfg;
	d->kr = kr;
	d->net.fd = -1;
	d->sigfd = -1;
	d->notify.fd = -1;
	d->send = send;
	d->send_arg = send_arg;
	daemon_init(d, clk);
	return d;
}

void daemon_free(struct daemon *d)
{
	if (d == NULL)
		return;
	daemon_fini(d);
	free(d);
}

void *daemon_send_arg(const struct daemon *d)
{
	return d->send_arg;
}

struct sched *daemon_sched(struct daemon *d)
{
	return d->sched;
}

struct members *daemon_members(struct daemon *d)
{
	return d->members;
}

const struct stats *daemon_stats(const struct daemon *d)
{
	return &d->stats;
}

const char *daemon_name(const struct daemon *d)
{
	return d->cfg.name;
}

uint64_t daemon_incarnation(const struct daemon *d)
{
	return d->incarnation;
}

void daemon_set_address(struct daemon *d, const struct member_addr *a)
{
	d->self_addr = *a;
}

unsigned daemon_heartbeat_ms(const struct daemon *d)
{
	return d->heartbeat_ms;
}

int daemon_reply_pending(const struct daemon *d)
{
	return sched_timer_due(d->sched, d->t_reply) != SCHED_NEVER;
}

/* Drops are reported once a second at most, and only when there are some. */
static void report_soon(struct daemon *d, uint64_t now_ms)
{
	uint64_t due = d->last_report_ms + REPORT_MS;

	if (sched_timer_due(d->sched, d->t_report) == SCHED_NEVER)
		sched_timer_set(d->sched, d->t_report, due > now_ms ? due : now_ms);
}

static void drop(struct daemon *d, enum drop_reason r, const struct member_addr *src,
                 uint64_t now_ms)
{
	stats_drop(&d->stats, r, src);
	report_soon(d, now_ms);
}

int daemon_send_net(struct daemon *d, enum daemon_dest dest, const struct member_addr *to,
                    const void *line, size_t len)
{
	if (d->net.fd == -1) {
		errno = EBADF;
		return -1;
	}
	switch (dest) {
	case DEST_ONE:
		return net_send_to(&d->net, to, line, len);
	case DEST_PROBE:
		return net_send_probe(&d->net, to, line, len);
	case DEST_GROUP:
		return net_send_group(&d->net, line, len);
	case DEST_ALL:
		break;
	}
	return net_send(&d->net, line, len);
}

static const char *dest_name(const struct daemon *d, enum daemon_dest dest)
{
	return dest == DEST_ONE || dest == DEST_PROBE ? " to a peer"
	       : d->net.multicast                    ? " to the group"
	                                             : "";
}

int daemon_send(struct daemon *d, enum wire_verb verb, const char *body, size_t len,
                enum daemon_dest dest, const struct member_addr *to)
{
	char line[WIRE_MAX_DATAGRAM + 2];
	int n = wire_sign(keyring_primary(d->kr), clock_real_s(d->clk), d->cfg.name, body, len,
	                  d->incarnation, d->counter + 1, line, sizeof(line));

	if (n < 0)
		return -1;
	d->counter++;
	if (d->send(d, dest, to, line, (size_t)n) == -1) {
		stats_count(&d->stats, STATS_SEND_ERROR);
		log_limited(&d->rl_send, clock_mono_ms(d->clk), LOG_LEVEL_WARN, 1, "cannot send %s%s",
		            wire_verb_name(verb), dest_name(d, dest));
		return -1;
	}
	stats_sent(&d->stats, verb);
	return 0;
}

static void send_simple(struct daemon *d, enum wire_verb verb)
{
	char body[160];
	int n = verb == WIRE_ALIVE
	            ? snprintf(body, sizeof(body), "alive %s %llu", d->cfg.name,
	                       (unsigned long long)clock_real_s(d->clk))
	            : snprintf(body, sizeof(body), "%s %s", wire_verb_name(verb), d->cfg.name);

	daemon_send(d, verb, body, (size_t)n, DEST_ALL, NULL);
}

/* Append " name@addr"; flush the line first when it would not fit. */
static void cluster_add(struct daemon *d, char *body, size_t *len, size_t room, const char *name,
                        const struct member_addr *a, enum daemon_dest dest,
                        const struct member_addr *to)
{
	char addr[WIRE_ADDR_MAX], entry[WIRE_NAME_MAX + WIRE_ADDR_MAX + 3];
	int n;

	if (a->family == 0 || addr_str(a, addr, sizeof(addr)) == -1)
		return;
	n = snprintf(entry, sizeof(entry), " %s@%s", name, addr);
	if (*len + (size_t)n > room && *len > 7) {
		daemon_send(d, WIRE_CLUSTER, body, *len, dest, to);
		*len = 7; /* "cluster" */
	}
	memcpy(body + *len, entry, (size_t)n);
	*len += (size_t)n;
}

void daemon_send_cluster(struct daemon *d, enum daemon_dest dest, const struct member_addr *to)
{
	char body[WIRE_MAX_DATAGRAM];
	/* the trailer grows with the counter: leave room for 20-digit numbers */
	size_t room = WIRE_MAX_DATAGRAM - wire_overhead(d->cfg.name, UINT64_MAX, 65535,
	                                                   UINT64_MAX, UINT64_MAX);
	size_t len = 7;

	memcpy(body, "cluster", 7);
	cluster_add(d, body, &len, room, d->cfg.name, &d->self_addr, dest, to);
	for (size_t i = 0; i < members_size(d->members); i++) {
		const struct member *m = members_at(d->members, i);

		if (m->state == MEMBER_ALIVE)
			cluster_add(d, body, &len, room, m->name, &m->addr, dest, to);
	}
	if (len > 7)
		daemon_send(d, WIRE_CLUSTER, body, len, dest, to);
}

/* Remember who is kept out and why, for `cmemctl members` (not membership state). */
static void note_rejected(struct daemon *d, const struct wire_msg *msg,
                          const struct member_addr *src, int64_t skew, uint64_t now_ms)
{
	struct rejected_sender *r = NULL;

	for (int i = 0; i < DAEMON_REJECTED_MAX; i++) {
		struct rejected_sender *x = &d->rejected[i];

		if (strcmp(x->name, msg->sender) == 0) {
			r = x;
			break;
		}
		if (r == NULL || x->last_ms < r->last_ms)
			r = x; /* the oldest slot, unless the sender is found */
	}
	if (strcmp(r->name, msg->sender) != 0) {
		memset(r, 0, sizeof(*r));
		snprintf(r->name, sizeof(r->name), "%s", msg->sender);
	}
	r->addr = *src;
	r->skew_s = skew;
	r->lines++;
	r->last_ms = now_ms;
}

/*
 * An authenticated line outside the time window.  If its (incarnation,
 * counter) is at or below what its sender's window has seen, it is an old
 * line replayed, not a sign of a skewed clock: counted, nothing noted.
 */
static void note_stale(struct daemon *d, const struct wire_msg *msg, const struct member_addr *src,
                       uint64_t now_ms, uint64_t now_s)
{
	char addr[WIRE_ADDR_MAX];
	int64_t skew = (int64_t)(msg->timestamp - now_s);

	if (strcmp(msg->sender, d->cfg.name) == 0 ||
	    members_seen(d->members, msg->sender, msg->incarnation, msg->counter))
		return;
	note_rejected(d, msg, src, skew, now_ms);
	addr_str(src, addr, sizeof(addr));
	log_limited(&d->rl_stale, now_ms, LOG_LEVEL_WARN, 0,
	            "dropped stale line from %s at %s: its clock is %lld s %s ours, outside the "
	            "%u s window",
	            msg->sender, addr, (long long)(skew < 0 ? -skew : skew),
	            skew < 0 ? "behind" : "ahead of", d->cfg.replay_window_s);
}

/* A line signed with our key and our name but another incarnation. */
static void name_conflict(struct daemon *d, const struct wire_msg *msg,
                          const struct member_addr *src, uint64_t now_ms)
{
	struct member fake = { .incarnation = msg->incarnation, .addr = *src, .state = MEMBER_ALIVE };
	char addr[WIRE_ADDR_MAX], detail[320];
	uint64_t suppressed;

	stats_count(&d->stats, STATS_NAME_CONFLICT);
	if (!log_ratelimit_allow(&d->rl_conflict, now_ms, &suppressed))
		return;
	addr_str(src, addr, sizeof(addr));
	snprintf(fake.name, sizeof(fake.name), "%s", d->cfg.name);
	snprintf(detail, sizeof(detail),
	         "another node at %s also calls itself %s (incarnation %llu, ours %llu; %llu similar "
	         "messages not logged)",
	         addr, d->cfg.name, (unsigned long long)msg->incarnation,
	         (unsigned long long)d->incarnation, (unsigned long long)suppressed);
	daemon_event(d, MEV_NAME_CONFLICT, &fake, detail);
}

/*
 * Our own name.  Our own line (looped back, or by the second path) changes
 * nothing.  Another incarnation is a second node with our name, unless the
 * line predates our start (or is of the incarnation a clock step retired):
 * then it is a recorded line of ours replayed.  Nothing rewrites our entry.
 */
static void own_name(struct daemon *d, const struct wire_msg *msg, const struct member_addr *src,
                     uint64_t now_ms)
{
	if (msg->incarnation == d->incarnation) {
		stats_count(&d->stats, STATS_OWN_LINE);
		return;
	}
	if ((d->prev_incarnation && msg->incarnation == d->prev_incarnation) ||
	    (msg->incarnation < d->incarnation && msg->timestamp <= d->start_s)) {
		stats_count(&d->stats, STATS_OWN_REPLAY);
		drop(d, DROP_REPLAY, src, now_ms);
		return;
	}
	name_conflict(d, msg, src, now_ms);
}

/*
 * A line of an older incarnation than the member's, from another address:
 * two nodes share the name (or old lines are replayed).  Dropped as a
 * replay either way; said in the log so that the view never changes silently.
 */
static void shadowed_name(struct daemon *d, const struct member *m, const struct wire_msg *msg,
                          const struct member_addr *src, uint64_t now_ms)
{
	char addr[WIRE_ADDR_MAX], maddr[WIRE_ADDR_MAX], detail[512];
	uint64_t suppressed;

	if (m == NULL || msg->incarnation >= m->incarnation || addr_same(src, &m->addr))
		return;
	stats_count(&d->stats, STATS_NAME_CONFLICT);
	if (!log_ratelimit_allow(&d->rl_shadow, now_ms, &suppressed))
		return;
	addr_str(src, addr, sizeof(addr));
	addr_str(&m->addr, maddr, sizeof(maddr));
	snprintf(detail, sizeof(detail),
	         "%s at %s sends incarnation %llu while %s at %s runs %llu: two nodes share the "
	         "name (or its old lines are replayed); the newer one is kept (%llu similar "
	         "messages not logged)",
	         msg->sender, addr, (unsigned long long)msg->incarnation, msg->sender, maddr,
	         (unsigned long long)m->incarnation, (unsigned long long)suppressed);
	daemon_event(d, MEV_NAME_CONFLICT, m, detail);
}

static void table_full(struct daemon *d, const struct wire_msg *msg, uint64_t now_ms)
{
	stats_count(&d->stats, STATS_TABLE_FULL);
	log_limited(&d->rl_full, now_ms, LOG_LEVEL_WARN, 0,
	            "membership table full (max_members %u): refused %s", d->cfg.max_members,
	            msg->sender);
}

/* A cjoin from another member: answer once, after a random delay that lets
 * one answer (in multicast) silence the others. */
static void reply_due(struct daemon *d, uint64_t now_ms)
{
	if (daemon_reply_pending(d))
		return;
	sched_timer_set(d->sched, d->t_reply,
	                now_ms + randombytes_uniform((uint32_t)reply_spread_ms(d) + 1));
	members_reply_round_start(d->members);
}

void daemon_receive(struct daemon *d, const uint8_t *buf, size_t len,
                    const struct member_addr *src, uint64_t now_ms, uint64_t now_s)
{
	struct wire_msg msg;
	struct members_rx rx;
	enum wire_verdict v;
	enum members_result r;

	if (len > WIRE_MAX_DATAGRAM) {
		stats_count(&d->stats, STATS_OVERSIZE); /* check 1, size: a bad_format (PROTOCOL.md 4) */
		drop(d, DROP_BAD_FORMAT, src, now_ms);
		return;
	}
	v = wire_verify(d->kr, buf, len, now_s, d->cfg.replay_window_s, &msg); /* checks 1-4 */
	if (v == WIRE_STALE)
		note_stale(d, &msg, src, now_ms, now_s);
	if (v != WIRE_OK)
		return drop(d, stats_reason_of(v), src, now_ms);
	if (strcmp(msg.sender, d->cfg.name) == 0)
		return own_name(d, &msg, src, now_ms);
	r = members_receive(d->members, &msg, src, now_ms, now_s, &rx); /* checks 5-6, apply */
	switch (r) {
	case MEMBERS_REPLAY:
		shadowed_name(d, rx.sender, &msg, src, now_ms);
		return drop(d, DROP_REPLAY, src, now_ms);
	case MEMBERS_DUPLICATE:
		stats_count(&d->stats, STATS_DUPLICATE);
		return;
	case MEMBERS_BAD_BODY:
		return drop(d, DROP_BAD_BODY, src, now_ms);
	case MEMBERS_TABLE_FULL:
		return table_full(d, &msg, now_ms);
	case MEMBERS_LATE:
		stats_count(&d->stats, STATS_LATE);
		return;
	case MEMBERS_REPLY:
		/* multicast: one answer, to the group, where it can silence the others */
		if (d->net.multicast || !d->net.unicast)
			reply_due(d, now_ms);
		break;
	case MEMBERS_OK:
		break;
	}
	stats_accept(&d->stats, msg.verb, msg.key_id);
	unicast_accepted(d, &msg, src, len, rx.was_in_view, now_ms);
	/* a member new to the view: its verdict may fall before the next tick */
	if (!rx.was_in_view && sched_timer_due(d->sched, d->t_tick) > now_ms + d->cfg.fail_after_ms)
		sched_timer_set(d->sched, d->t_tick, now_ms + d->cfg.fail_after_ms);
	if (daemon_reply_pending(d) && msg.verb == WIRE_CLUSTER && members_reply_covered(d->members)) {
		sched_timer_set(d->sched, d->t_reply, SCHED_NEVER); /* another member answered */
		d->replies_suppressed++;
		members_reply_round_end(d->members);
	}
}

int daemon_check_clock(struct daemon *d, uint64_t mono_us, uint64_t real_us)
{
	int64_t offset = (int64_t)(real_us - mono_us), step = offset - d->clock_offset_us;

	d->clock_offset_us = offset;
	if (step <= DAEMON_CLOCK_STEP_US && step >= -DAEMON_CLOCK_STEP_US)
		return 0;
	/* as if restarted: a new incarnation from the corrected clock (PROTOCOL.md 4.2) */
	log_warnx("the wall clock stepped %s by %.1f s: new incarnation %llu (was %llu)",
	          step > 0 ? "forward" : "back", (double)(step < 0 ? -step : step) / 1e6,
	          (unsigned long long)real_us, (unsigned long long)d->incarnation);
	d->prev_incarnation = d->incarnation;
	d->incarnation = real_us;
	d->counter = 0;
	d->start_s = real_us / 1000000u;
	members_set_self_incarnation(d->members, d->incarnation);
	send_simple(d, WIRE_CJOIN);
	send_simple(d, WIRE_ALIVE);
	return 1;
}

static void report_drops(struct daemon *d)
{
	char summary[256], addr[WIRE_ADDR_MAX] = "-";
	const struct stats_source *top = stats_top_source(&d->stats);
	uint64_t n = stats_take_unreported(&d->stats, summary, sizeof(summary));

	if (n == 0)
		return;
	if (top)
		addr_str(&top->addr, addr, sizeof(addr));
	log_warnx("dropped %llu invalid lines in the last second: %s (top source overall: %s)",
	          (unsigned long long)n, summary, addr);
}

/*
 * The next heartbeat interval: as the peers' measured loss and the
 * cluster's size call for (members_heartbeat_ms), or heartbeat_ms pinned.
 * Faster at once; slower by at most a quarter per line, so that every
 * receiver's timeout (which follows the last interval it saw) keeps up.
 */
static unsigned next_interval(struct daemon *d)
{
	unsigned want = d->cfg.heartbeat_fixed
	                    ? d->cfg.heartbeat_ms
	                    : members_heartbeat_ms(d->members, d->cfg.heartbeat_ms);
	unsigned most = d->heartbeat_ms + d->heartbeat_ms / 4;

	return want > most ? most : want;
}

static void daemon_notify(struct daemon *d, uint64_t now_ms);

/* Heartbeat: alive, then the next interval, kept on its grid unless we were stalled. */
static void heartbeat_timer(void *arg, uint64_t now_ms)
{
	struct daemon *d = arg;
	uint64_t next = sched_timer_last_due(d->sched, d->t_heartbeat);

	unicast_heartbeat(d, now_ms); /* before it: probes come first on a peer's credit */
	send_simple(d, WIRE_ALIVE);
	d->heartbeat_ms = next_interval(d);
	next += d->heartbeat_ms;
	if (next <= now_ms) /* we were stalled: do not burst */
		next = now_ms + d->heartbeat_ms;
	sched_timer_set(d->sched, d->t_heartbeat, next);
}

/* Failure detection: verdicts, then the next one due, no sooner than 5 ms, no later than a second. */
static void tick_timer(void *arg, uint64_t now_ms)
{
	struct daemon *d = arg;
	uint64_t due;

	members_tick(d->members, now_ms, clock_real_s(d->clk));
	due = members_next_due(d->members);
	due = due < now_ms + 5 ? now_ms + 5 : due > now_ms + 1000 ? now_ms + 1000 : due;
	sched_timer_set(d->sched, d->t_tick, due);
}

/* The join reply no one else sent: our view, to the group. */
static void reply_timer(void *arg, uint64_t now_ms)
{
	struct daemon *d = arg;

	(void)now_ms;
	members_reply_round_end(d->members);
	daemon_send_cluster(d, DEST_GROUP, NULL);
}

static void report_timer(void *arg, uint64_t now_ms)
{
	struct daemon *d = arg;

	d->last_report_ms = now_ms;
	report_drops(d);
}

/* The log's reconnection is due (a restarted syslog daemon). */
static void log_timer(void *arg, uint64_t now_ms)
{
	(void)arg;
	log_flush(now_ms);
}

static void notify_timer(void *arg, uint64_t now_ms)
{
	daemon_notify(arg, now_ms);
}

/* The service manager: after anything that may change the counts, and when its timers are due. */
static void daemon_notify(struct daemon *d, uint64_t now_ms)
{
	notify_status(&d->notify, members_count(d->members, MEMBER_ALIVE) + 1,
	              members_count(d->members, MEMBER_FAILED),
	              members_count(d->members, MEMBER_LEFT), now_ms);
	notify_timers(&d->notify, now_ms);
	sched_timer_set(d->sched, d->t_notify, notify_next_ms(&d->notify));
}

void daemon_timers(struct daemon *d)
{
	uint64_t now_ms = clock_mono_ms(d->clk);

	sched_run_due(d->sched, now_ms);
	daemon_notify(d, now_ms);
}

void daemon_event(void *arg, enum member_event ev, const struct member *m, const char *detail)
{
	struct daemon *d = arg;
	char addr[WIRE_ADDR_MAX];
	json_t *e;

	if (ev == MEV_FAILED || ev == MEV_LEAVE)
		net_peer_failed(&d->net, &m->addr, clock_mono_ms(d->clk)); /* tried at a low rate from now */
	addr_str(&m->addr, addr, sizeof(addr));
	/* lines can make events: the log takes a burst a second, watchers get them all */
	log_limited(&d->rl_event, clock_mono_ms(d->clk),
	            ev == MEV_FAILED || ev == MEV_NAME_CONFLICT || ev == MEV_SKEW ? LOG_LEVEL_WARN
	                                                                          : LOG_LEVEL_INFO,
	            0, "%s: %s (%s): %s", members_event_name(ev), m->name, addr, detail);
	if (d->ctl == NULL)
		return;
	e = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "event", members_event_name(ev), "member",
	              m->name, "address", addr, "incarnation", (json_int_t)m->incarnation, "time",
	              (json_int_t)clock_real_s(d->clk), "detail", detail);
	if (ev == MEV_SKEW)
		json_object_set_new(e, "skew_s", json_integer(m->skew_s));
	ctl_broadcast(d->ctl, e);
	json_decref(e);
}

static void log_members(struct daemon *d)
{
	uint64_t now = clock_mono_ms(d->clk);

	log_info("membership of %s: %zu alive, %zu failed, %zu left, %zu candidates", d->cfg.name,
	         members_count(d->members, MEMBER_ALIVE), members_count(d->members, MEMBER_FAILED),
	         members_count(d->members, MEMBER_LEFT), members_count(d->members, MEMBER_CANDIDATE));
	for (size_t i = 0; i < members_size(d->members); i++) {
		const struct member *m = members_at(d->members, i);
		char addr[WIRE_ADDR_MAX];

		addr_str(&m->addr, addr, sizeof(addr));
		log_info("  %s %s %s last heard %llu ms ago, loss %.1f%%, skew %lld s, timeout %u ms",
		         m->name, addr, members_state_name(m->state),
		         (unsigned long long)(now - m->last_heard_ms), 100.0 * members_loss(m),
		         (long long)m->skew_s, m->timeout_ms);
	}
}

/*
 * SIGHUP re-reads the log level only, from the configuration's path as the
 * daemon sees it (inside the chroot, where the file usually is not): the
 * keyring and the rest need `cmemctl reload`, whose client reads the files
 * with its own privileges.  The log says which, and why a read failed: a
 * file that cannot be reached is told apart from one with an error.
 */
void daemon_sighup(struct daemon *d)
{
	struct cmem_config c;
	char err[CONFIG_ERRLEN];
	FILE *f = fopen(d->config_path, "r");

	if (f == NULL) {
		log_warnx("SIGHUP: cannot re-read the log level: %s: %s%s%s; it stays %s (SIGHUP reads "
		          "the log level only; `cmemctl reload` applies the file and the keyring)",
		          d->config_path, strerror(errno), d->chrooted ? ", looked up inside the chroot " : "",
		          d->chrooted ? d->chroot_dir : "", log_level_name(log_get_level()));
		return;
	}
	fclose(f);
	config_defaults(&c);
	if (config_load(&c, d->config_path, err, sizeof(err)) == -1) {
		log_warnx("SIGHUP: cannot re-read the log level: %s; it stays %s", err,
		          log_level_name(log_get_level()));
		return;
	}
	log_set_level((enum log_level)c.log_level);
	log_info("SIGHUP: log level is now %s (SIGHUP re-reads the log level only; `cmemctl reload` "
	         "also applies the keyring)", log_level_name((enum log_level)c.log_level));
}

static void handle_signals(struct daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_info("signal %u: leaving the cluster", si.ssi_signo);
			d->running = 0;
			break;
		case SIGHUP:
			daemon_sighup(d);
			break;
		case SIGUSR1:
			log_members(d);
			break;
		default:
			break;
		}
	}
}

/*
 * When a datagram arrived, from the kernel's timestamp (SO_TIMESTAMPNS,
 * wall clock), mapped onto the monotonic clock: lines read late (a batch,
 * a stopped or starved daemon) are judged by their arrival, not by when
 * they were read.  Without a timestamp, or one from the future, the read time.
 */
void daemon_arrival(uint64_t rx_real_ns, uint64_t read_mono_ms, uint64_t read_real_ns,
                    uint64_t *at_ms, uint64_t *at_s)
{
	uint64_t age_ms;

	*at_ms = read_mono_ms;
	*at_s = read_real_ns / 1000000000u;
	if (rx_real_ns == 0 || rx_real_ns > read_real_ns)
		return;
	age_ms = (read_real_ns - rx_real_ns) / 1000000u;
	*at_ms = age_ms < read_mono_ms ? read_mono_ms - age_ms : 0;
	*at_s = rx_real_ns / 1000000000u;
}

/* Read what is queued, at most RECV_BATCH datagrams; how many were read. */
static unsigned receive_batch(struct daemon *d)
{
	static struct net_batch b;
	unsigned total = 0;

	for (int round = 0; round < RECV_BATCH / NET_BATCH; round++) {
		int n = net_recv_batch(&d->net, &b);
		uint64_t read_ms = clock_mono_ms(d->clk), read_ns = clock_real_us(d->clk) * 1000u;

		if (n == -1 && errno != EINTR && errno != EAGAIN)
			log_limited(&d->rl_recv, read_ms, LOG_LEVEL_WARN, 1, "receive");
		for (int i = 0; i < n; i++) {
			uint64_t at_ms, at_s;

			daemon_arrival(b.rx_real_ns[i], read_ms, read_ns, &at_ms, &at_s);
			daemon_receive(d, b.buf[i], b.len[i], &b.src[i], at_ms, at_s);
		}
		if (n > 0)
			total += (unsigned)n;
		if (n < NET_BATCH)
			break;
	}
	return total;
}

void daemon_rx_pace(struct daemon *d, unsigned n, uint64_t now_ms)
{
	uint64_t since = now_ms - d->rx_window_ms;

	if (now_ms < d->rx_window_ms || since >= 1000) {
		/* a quiet second between them: not busy, whatever came before */
		d->rx_busy = since < 2000 && d->rx_window_lines > DAEMON_RX_BUSY;
		d->rx_window_lines = 0;
		d->rx_window_ms = now_ms;
	}
	d->rx_window_lines += n;
	d->rx_hold_until_ms = d->rx_busy ? now_ms + DAEMON_RX_HOLD_MS : 0;
	/* held: the socket is not polled until the hold timer gives it back */
	sched_fd_events(d->sched, d->fd_net, d->rx_busy ? 0 : POLLIN);
	sched_timer_set(d->sched, d->t_rxhold, d->rx_busy ? d->rx_hold_until_ms : SCHED_NEVER);
}

static void rxhold_timer(void *arg, uint64_t now_ms)
{
	struct daemon *d = arg;

	(void)now_ms;
	d->rx_hold_until_ms = 0;
	sched_fd_events(d->sched, d->fd_net, POLLIN);
}

/* Link and address changes: net re-joins; our advertised address follows net.local. */
static void follow_interface(struct daemon *d)
{
	struct member_addr was = d->net.local;

	net_netlink_process(&d->net, clock_mono_ms(d->clk));
	if (!addr_same(&was, &d->net.local) && d->net.local.family)
		d->self_addr = d->net.local;
}

void daemon_start(struct daemon *d)
{
	send_simple(d, WIRE_CJOIN);
	send_simple(d, WIRE_ALIVE);
}

/*
 * Leave: as many copies as the worst path needs for all to be lost by
 * chance no more often than a false failure (members_leave_copies; 3 to
 * 16), a heartbeat apart, so that one loss burst cannot take them all.
 * Nothing else is sent or read meanwhile.
 */
void daemon_leave(struct daemon *d)
{
	int stop[] = { d->t_heartbeat, d->t_tick, d->t_reply, d->t_report, d->t_rxhold };

	for (size_t i = 0; i < sizeof(stop) / sizeof(stop[0]); i++)
		sched_timer_set(d->sched, stop[i], SCHED_NEVER);
	sched_fd_events(d->sched, d->fd_net, 0);
	sched_fd_events(d->sched, d->fd_netlink, 0);
	d->leaves_left = members_leave_copies(d->members);
	leave_timer(d, clock_mono_ms(d->clk));
}

static void leave_timer(void *arg, uint64_t now_ms)
{
	struct daemon *d = arg;

	if (d->leaves_left == 0)
		return;
	send_simple(d, WIRE_LEAVE);
	if (--d->leaves_left)
		sched_timer_set(d->sched, d->t_leave, now_ms + d->cfg.heartbeat_ms);
}

int daemon_leaving(const struct daemon *d)
{
	return d->leaves_left > 0;
}

static void on_signal(void *arg, int fd, short revents, uint64_t now_ms)
{
	(void)fd;
	(void)revents;
	(void)now_ms;
	handle_signals(arg);
}

static void on_datagrams(void *arg, int fd, short revents, uint64_t now_ms)
{
	struct daemon *d = arg;

	(void)fd;
	(void)revents;
	(void)now_ms;
	daemon_rx_pace(d, receive_batch(d), clock_mono_ms(d->clk));
}

static void on_netlink(void *arg, int fd, short revents, uint64_t now_ms)
{
	(void)fd;
	(void)revents;
	(void)now_ms;
	follow_interface(arg);
}

static size_t ctl_fill(void *arg, struct pollfd *pfd, size_t max)
{
	return ctl_pollfds(arg, pfd, max);
}

/* Every poll: the clients' events, and those past their deadline dropped. */
static void ctl_done(void *arg, const struct pollfd *pfd, size_t n, uint64_t now_ms)
{
	ctl_process(arg, pfd, n, now_ms);
	ctl_expire(arg, now_ms);
}

/* The log's sink while lines wait for it (its descriptor changes when it reconnects). */
static size_t log_fill(void *arg, struct pollfd *pfd, size_t max)
{
	(void)arg;
	if (max < 1)
		return 0;
	log_pollfd(pfd);
	return 1;
}

static void log_done(void *arg, const struct pollfd *pfd, size_t n, uint64_t now_ms)
{
	(void)arg;
	(void)pfd;
	(void)n;
	log_flush(now_ms); /* whatever the sink takes now; drops reported once drained */
}

/* The loop's descriptors: signals, the cluster socket, rtnetlink, the log, the control clients. */
static void register_fds(struct daemon *d)
{
	sched_fd_add(d->sched, d->sigfd, POLLIN, on_signal, d);
	d->fd_net = sched_fd_add(d->sched, d->net.fd, POLLIN, on_datagrams, d);
	d->fd_netlink = sched_fd_add(d->sched, net_netlink_fd(&d->net), POLLIN, on_netlink, d);
	sched_group_add(d->sched, 1, log_fill, log_done, d);
	if (d->ctl)
		sched_group_add(d->sched, 1 + CTL_MAX_CLIENTS, ctl_fill, ctl_done, d->ctl);
}

/* One poll step; then the wall clock is checked for a step and the service manager told. */
static void step(struct daemon *d)
{
	sched_timer_set(d->sched, d->t_log, log_next_ms()); /* UINT64_MAX (never) unless broken */
	if (sched_poll_once(d->sched) == -1)
		fatal("poll");
	if (d->running) /* not while leaving: a step would join again */
		daemon_check_clock(d, clock_mono_us(d->clk), clock_real_us(d->clk));
	daemon_notify(d, clock_mono_ms(d->clk));
}

int daemon_run(struct daemon *d)
{
	register_fds(d);
	daemon_start(d);
	notify_ready(&d->notify); /* joined, and the control socket is listening */
	while (d->running)
		step(d);
	notify_stopping(&d->notify);
	daemon_leave(d);
	while (daemon_leaving(d))
		step(d);
	net_close(&d->net);
	ctl_close(d->ctl);
	d->ctl = NULL;
	notify_close(&d->notify);
	log_info("left the cluster; exiting");
	log_flush_wait(1000);
	return 0;
}
