/* daemon: cmemd's receive path, timers and poll loop. */
#include "daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define RECV_BATCH 256 /* datagrams per wake-up, so that timers still run under a flood */
#define MAX_POLLFDS (4 + CTL_MAX_CLIENTS)

static uint64_t tick_ms(const struct daemon *d)
{
	unsigned t = d->cfg.heartbeat_ms / 2;

	return t < 5 ? 5 : t > 100 ? 100 : t;
}

/* Join replies are spread over this long, so that one answer can silence the rest. */
static uint64_t reply_spread_ms(const struct daemon *d)
{
	unsigned s = d->cfg.heartbeat_ms * 2;

	return s < 20 ? 20 : s > 500 ? 500 : s;
}

void daemon_init(struct daemon *d, uint64_t now_ms, uint64_t now_s)
{
	struct members_params p = {
		.heartbeat_ms = d->cfg.heartbeat_ms,
		.fail_after_ms = d->cfg.fail_after_ms,
		.replay_window_s = d->cfg.replay_window_s,
		.max_members = d->cfg.max_members,
		.skew_warn_s = 2,
	};

	d->members = members_new(&p, d->cfg.name, d->incarnation);
	members_set_event_fn(d->members, daemon_event, d);
	d->start_ms = now_ms;
	d->start_s = now_s;
	d->next_heartbeat_ms = now_ms + d->cfg.heartbeat_ms;
	d->next_tick_ms = now_ms + tick_ms(d);
	d->next_report_ms = now_ms + 1000;
	d->self_addr = d->net.local;
	d->rl_conflict = (struct log_ratelimit)LOG_RATELIMIT_INIT(10000, 1);
	d->rl_full = (struct log_ratelimit)LOG_RATELIMIT_INIT(10000, 1);
	d->rl_stale = (struct log_ratelimit)LOG_RATELIMIT_INIT(5000, 2);
	d->rl_send = (struct log_ratelimit)LOG_RATELIMIT_INIT(10000, 1);
	d->rl_shadow = (struct log_ratelimit)LOG_RATELIMIT_INIT(10000, 1);
	d->running = 1;
}

/*
 * Sign one line and send it: to everyone (to NULL: the group and every
 * unicast peer), to the group only (group_only), or to one verified peer.
 */
static int send_line(struct daemon *d, enum wire_verb verb, const char *body, size_t len,
                     const struct member_addr *to, int group_only)
{
	char line[WIRE_MAX_DATAGRAM + 2];
	int n = wire_sign(keyring_primary(d->kr), now_real_s(), d->cfg.name, body, len,
	                  d->incarnation, d->counter + 1, line, sizeof(line));
	uint64_t suppressed;
	int r;

	if (n < 0)
		return -1;
	d->counter++;
	if (d->net.fd == -1)
		r = -1;
	else if (to)
		r = net_send_to(&d->net, to, line, (size_t)n);
	else if (group_only)
		r = net_send_group(&d->net, line, (size_t)n);
	else
		r = net_send(&d->net, line, (size_t)n);
	if (r == -1) {
		d->stats.send_errors++;
		if (log_ratelimit_allow(&d->rl_send, now_mono_ms(), &suppressed))
			log_warn("cannot send %s%s", wire_verb_name(verb),
			         to ? " to a peer" : d->net.multicast ? " to the group" : "");
		return -1;
	}
	d->stats.sent[verb]++;
	return 0;
}

int daemon_send(struct daemon *d, enum wire_verb verb, const char *body, size_t len)
{
	return send_line(d, verb, body, len, NULL, 0);
}

static void send_simple(struct daemon *d, enum wire_verb verb)
{
	char body[160];
	int n = verb == WIRE_ALIVE
	            ? snprintf(body, sizeof(body), "alive %s %llu", d->cfg.name,
	                       (unsigned long long)now_real_s())
	            : snprintf(body, sizeof(body), "%s %s", wire_verb_name(verb), d->cfg.name);

	daemon_send(d, verb, body, (size_t)n);
}

/* Append " name@addr"; flush the line first when it would not fit (to: see send_line). */
static void cluster_add(struct daemon *d, char *body, size_t *len, size_t room, const char *name,
                        const struct member_addr *a, const struct member_addr *to)
{
	char addr[WIRE_ADDR_MAX], entry[WIRE_NAME_MAX + WIRE_ADDR_MAX + 3];
	int n;

	if (a->family == 0 || addr_str(a, addr, sizeof(addr)) == -1)
		return;
	n = snprintf(entry, sizeof(entry), " %s@%s", name, addr);
	if (*len + (size_t)n > room && *len > 7) {
		send_line(d, WIRE_CLUSTER, body, *len, to, to == NULL);
		*len = 7; /* "cluster" */
	}
	memcpy(body + *len, entry, (size_t)n);
	*len += (size_t)n;
}

/* Our view in `cluster` lines: to the group (to NULL), or to one verified peer. */
static void send_cluster(struct daemon *d, const struct member_addr *to)
{
	char body[WIRE_MAX_DATAGRAM];
	/* the trailer grows with the counter: leave room for 20-digit numbers */
	size_t room = WIRE_MAX_DATAGRAM - wire_overhead(d->cfg.name, UINT64_MAX, 65535,
	                                                   UINT64_MAX, UINT64_MAX);
	size_t len = 7;

	memcpy(body, "cluster", 7);
	cluster_add(d, body, &len, room, d->cfg.name, &d->self_addr, to);
	for (size_t i = 0; i < members_size(d->members); i++) {
		const struct member *m = members_at(d->members, i);

		if (m->state == MEMBER_ALIVE)
			cluster_add(d, body, &len, room, m->name, &m->addr, to);
	}
	if (len > 7)
		send_line(d, WIRE_CLUSTER, body, len, to, to == NULL);
}

void daemon_send_cluster(struct daemon *d)
{
	send_cluster(d, NULL);
}

/* ---- unicast hooks (issue 12): the lead's receive path calls the same net_* ---- */

/*
 * Before members_accept: does this line advance its sender's replay state,
 * rather than only fill a gap in its window (a late or replayed line)?
 * in_view: the sender is alive here, or a candidate someone reported.
 */
static int line_advances(struct daemon *d, const struct wire_msg *msg, int *in_view)
{
	const struct member *m = members_find(d->members, msg->sender);

	*in_view = m && (m->state == MEMBER_ALIVE || m->state == MEMBER_CANDIDATE);
	if (m == NULL || !m->replay.valid)
		return 1;
	return msg->incarnation > m->replay.incarnation ||
	       (msg->incarnation == m->replay.incarnation && msg->counter > m->replay.top);
}

/*
 * After an accepted line that advanced its sender: its source becomes a
 * peer, and so do the members a `cluster` line lists.  A member new to us
 * (or back after failing or leaving) gets our view by unicast: a joiner's
 * cjoin may have reached nobody (its seed was down), and a healed
 * partition may have lost links; this is how the mesh closes.
 */
static void unicast_accepted(struct daemon *d, const struct wire_msg *msg,
                             const struct member_addr *src, int in_view, uint64_t now_ms)
{
	struct wire_entry e;
	size_t pos = 0;

	if (!d->net.unicast)
		return;
	net_peer_learn(&d->net, src, now_ms);
	while (msg->verb == WIRE_CLUSTER && wire_cluster_next(msg, &pos, &e)) {
		struct member_addr a = { .family = e.family };

		memcpy(&a.a, &e.a, sizeof(a.a));
		net_peer_learn_listed(&d->net, &a, now_ms);
	}
	if (msg->verb == WIRE_CJOIN || (msg->verb != WIRE_LEAVE && !in_view))
		send_cluster(d, src);
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

static void note_stale(struct daemon *d, const struct wire_msg *msg, const struct member_addr *src,
                       uint64_t now_ms, uint64_t now_s)
{
	char addr[WIRE_ADDR_MAX];
	uint64_t suppressed;
	int64_t skew = (int64_t)(msg->timestamp - now_s);

	note_rejected(d, msg, src, skew, now_ms);
	if (!log_ratelimit_allow(&d->rl_stale, now_ms, &suppressed))
		return;
	addr_str(src, addr, sizeof(addr));
	log_warnx("dropped stale line from %s at %s: its clock is %lld s %s ours, outside the "
	          "%u s window (%llu more stale lines not logged)",
	          msg->sender, addr, (long long)(skew < 0 ? -skew : skew),
	          skew < 0 ? "behind" : "ahead of", d->cfg.replay_window_s,
	          (unsigned long long)suppressed);
}

/* A line signed with our key and our name but another incarnation. */
static void name_conflict(struct daemon *d, const struct wire_msg *msg,
                          const struct member_addr *src, uint64_t now_ms)
{
	struct member fake = { .incarnation = msg->incarnation, .addr = *src, .state = MEMBER_ALIVE };
	char addr[WIRE_ADDR_MAX], detail[256];
	uint64_t suppressed;

	d->stats.name_conflicts++;
	if (!log_ratelimit_allow(&d->rl_conflict, now_ms, &suppressed))
		return;
	addr_str(src, addr, sizeof(addr));
	snprintf(fake.name, sizeof(fake.name), "%s", d->cfg.name);
	snprintf(detail, sizeof(detail),
	         "another node at %s also calls itself %s (incarnation %llu, ours %llu)", addr,
	         d->cfg.name, (unsigned long long)msg->incarnation,
	         (unsigned long long)d->incarnation);
	daemon_event(d, MEV_NAME_CONFLICT, &fake, detail);
}

static void drop(struct daemon *d, enum wire_verdict v, const struct member_addr *src)
{
	stats_drop(&d->stats, stats_reason_of(v), src);
}

/*
 * A line of an older incarnation than the member's, from another address:
 * two nodes share the name (or old lines are replayed).  Dropped as a
 * replay either way; said in the log so that the view never changes silently.
 */
static void shadowed_name(struct daemon *d, const struct wire_msg *msg,
                          const struct member_addr *src, uint64_t now_ms)
{
	const struct member *m = members_find(d->members, msg->sender);
	char addr[WIRE_ADDR_MAX], maddr[WIRE_ADDR_MAX], detail[512];
	uint64_t suppressed;

	if (m == NULL || msg->incarnation >= m->incarnation || addr_same(src, &m->addr))
		return;
	d->stats.name_conflicts++;
	if (!log_ratelimit_allow(&d->rl_shadow, now_ms, &suppressed))
		return;
	addr_str(src, addr, sizeof(addr));
	addr_str(&m->addr, maddr, sizeof(maddr));
	snprintf(detail, sizeof(detail),
	         "%s at %s sends incarnation %llu while %s at %s runs %llu: two nodes share the "
	         "name (or its old lines are replayed); the newer one is kept",
	         msg->sender, addr, (unsigned long long)msg->incarnation, msg->sender, maddr,
	         (unsigned long long)m->incarnation);
	daemon_event(d, MEV_NAME_CONFLICT, m, detail);
}

void daemon_receive(struct daemon *d, const uint8_t *buf, ssize_t len,
                    const struct member_addr *src, uint64_t now_ms, uint64_t now_s)
{
	struct wire_msg msg;
	enum wire_verdict v;
	enum members_result r;
	uint64_t suppressed;
	int advances, in_view;

	if (len > WIRE_MAX_DATAGRAM) {
		stats_drop(&d->stats, DROP_OVERSIZE, src);
		return;
	}
	v = wire_verify(d->kr, buf, (size_t)len, now_s, d->cfg.replay_window_s, &msg);
	if (v == WIRE_STALE)
		note_stale(d, &msg, src, now_ms, now_s);
	if (v != WIRE_OK)
		return drop(d, v, src);
	if (strcmp(msg.sender, d->cfg.name) == 0) {
		if (msg.incarnation != d->incarnation)
			return name_conflict(d, &msg, src, now_ms);
		d->stats.own_lines++;
		d->self_addr = *src; /* how the others see us */
		return;
	}
	if (!members_replay_ok(d->members, &msg)) {
		shadowed_name(d, &msg, src, now_ms);
		return drop(d, WIRE_REPLAY, src);
	}
	if (wire_parse_body(&msg) != WIRE_OK)
		return drop(d, WIRE_BAD_BODY, src);
	if (msg.verb == WIRE_CLUSTER && d->reply_pending &&
	    members_reply_covered(d->members, &msg)) {
		d->reply_pending = 0;
		d->replies_suppressed++;
	}
	advances = line_advances(d, &msg, &in_view);
	r = members_accept(d->members, &msg, src, now_ms, now_s);
	if (r != MEMBERS_TABLE_FULL && advances)
		unicast_accepted(d, &msg, src, in_view, now_ms);
	if (r == MEMBERS_TABLE_FULL) {
		d->stats.table_full++;
		if (log_ratelimit_allow(&d->rl_full, now_ms, &suppressed))
			log_warnx("membership table full (max_members %u): refused %s (%llu more "
			          "refusals not logged)",
			          d->cfg.max_members, msg.sender, (unsigned long long)suppressed);
		return;
	}
	stats_accept(&d->stats, msg.verb, msg.key_id);
	/* unicast only: unicast_accepted has answered the joiner itself */
	if (r == MEMBERS_REPLY && (d->net.multicast || !d->net.unicast) &&
	    !d->reply_pending) {
		d->reply_pending = 1;
		d->reply_due_ms = now_ms + randombytes_uniform((uint32_t)reply_spread_ms(d) + 1);
		members_reply_round_start(d->members);
	}
}

static void report_drops(struct daemon *d)
{
	char summary[256], addr[WIRE_ADDR_MAX] = "-";
	const struct stats_source *top = NULL;
	uint64_t n = stats_take_unreported(&d->stats, summary, sizeof(summary));

	if (n == 0)
		return;
	for (unsigned i = 0; i < d->stats.ntop; i++)
		if (top == NULL || d->stats.top[i].total > top->total)
			top = &d->stats.top[i];
	if (top)
		addr_str(&top->addr, addr, sizeof(addr));
	log_warnx("dropped %llu invalid lines in the last second: %s (top source overall: %s)",
	          (unsigned long long)n, summary, addr);
}

void daemon_timers(struct daemon *d, uint64_t now_ms, uint64_t now_s)
{
	if (now_ms >= d->next_heartbeat_ms) {
		send_simple(d, WIRE_ALIVE);
		d->next_heartbeat_ms += d->cfg.heartbeat_ms;
		if (d->next_heartbeat_ms <= now_ms) /* we were stalled: do not burst */
			d->next_heartbeat_ms = now_ms + d->cfg.heartbeat_ms;
	}
	if (now_ms >= d->next_tick_ms) {
		members_tick(d->members, now_ms, now_s);
		d->next_tick_ms = now_ms + tick_ms(d);
	}
	if (d->reply_pending && now_ms >= d->reply_due_ms) {
		d->reply_pending = 0;
		daemon_send_cluster(d);
	}
	if (now_ms >= d->next_report_ms) {
		report_drops(d);
		d->next_report_ms = now_ms + 1000;
	}
}

void daemon_event(void *arg, enum member_event ev, const struct member *m, const char *detail)
{
	struct daemon *d = arg;
	char addr[WIRE_ADDR_MAX];
	json_t *e;

	if (ev == MEV_FAILED || ev == MEV_LEAVE)
		net_peer_failed(&d->net, &m->addr, now_mono_ms()); /* tried at a low rate from now */
	addr_str(&m->addr, addr, sizeof(addr));
	if (ev == MEV_FAILED || ev == MEV_NAME_CONFLICT || ev == MEV_SKEW)
		log_warnx("%s: %s (%s): %s", members_event_name(ev), m->name, addr, detail);
	else
		log_info("%s: %s (%s): %s", members_event_name(ev), m->name, addr, detail);
	if (d->ctl == NULL)
		return;
	e = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "event", members_event_name(ev), "member",
	              m->name, "address", addr, "incarnation", (json_int_t)m->incarnation, "time",
	              (json_int_t)now_real_s(), "detail", detail);
	if (ev == MEV_SKEW)
		json_object_set_new(e, "skew_s", json_integer(m->skew_s));
	ctl_broadcast(d->ctl, e);
	json_decref(e);
}

static void log_members(struct daemon *d)
{
	uint64_t now = now_mono_ms();

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

static void reload_log_level(struct daemon *d)
{
	struct cmem_config c;
	char err[CONFIG_ERRLEN];

	config_defaults(&c);
	if (config_load(&c, d->config_path, err, sizeof(err)) == -1) {
		log_warnx("SIGHUP: cannot re-read the log level (%s%s); it stays %s", err,
		          d->chrooted ? ", the file is outside the chroot" : "",
		          log_level_name(log_get_level()));
		return;
	}
	log_set_level((enum log_level)c.log_level);
	log_info("SIGHUP: log level is now %s", log_level_name((enum log_level)c.log_level));
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
			reload_log_level(d);
			break;
		case SIGUSR1:
			log_members(d);
			break;
		default:
			break;
		}
	}
}

static void receive_batch(struct daemon *d)
{
	static struct net_batch b;
	uint64_t suppressed;

	for (int round = 0; round < RECV_BATCH / NET_BATCH; round++) {
		int n = net_recv_batch(&d->net, &b);
		uint64_t now_ms = now_mono_ms(), now_s = now_real_s();

		if (n == -1 && errno != EINTR && log_ratelimit_allow(&d->rl_send, now_ms, &suppressed))
			log_warn("receive");
		for (int i = 0; i < n; i++)
			daemon_receive(d, b.buf[i], (ssize_t)b.len[i], &b.src[i], now_ms, now_s);
		if (n < NET_BATCH)
			return;
	}
}

/* Link and address changes: net re-joins; our advertised address follows net.local. */
static void follow_interface(struct daemon *d)
{
	struct member_addr was = d->net.local;

	net_netlink_process(&d->net, now_mono_ms());
	if (!addr_same(&was, &d->net.local) && d->net.local.family)
		d->self_addr = d->net.local;
}

static int poll_timeout(const struct daemon *d, uint64_t now)
{
	uint64_t next = d->next_heartbeat_ms;

	if (d->next_tick_ms < next)
		next = d->next_tick_ms;
	if (d->next_report_ms < next)
		next = d->next_report_ms;
	if (d->reply_pending && d->reply_due_ms < next)
		next = d->reply_due_ms;
	return next <= now ? 0 : (int)(next - now);
}

int daemon_run(struct daemon *d)
{
	struct pollfd pfd[MAX_POLLFDS];

	send_simple(d, WIRE_CJOIN);
	send_simple(d, WIRE_ALIVE);
	while (d->running) {
		size_t n = 3, nctl;

		pfd[0] = (struct pollfd){ .fd = d->sigfd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = d->net.fd, .events = POLLIN };
		pfd[2] = (struct pollfd){ .fd = net_netlink_fd(&d->net), .events = POLLIN };
		nctl = d->ctl ? ctl_pollfds(d->ctl, pfd + n, MAX_POLLFDS - n) : 0;
		if (poll(pfd, n + nctl, poll_timeout(d, now_mono_ms())) == -1 && errno != EINTR)
			fatal("poll");
		if (pfd[0].revents & POLLIN)
			handle_signals(d);
		if (pfd[1].revents & POLLIN)
			receive_batch(d);
		if (pfd[2].revents & POLLIN)
			follow_interface(d);
		if (d->ctl) {
			ctl_process(d->ctl, pfd + n, nctl, now_mono_ms());
			ctl_expire(d->ctl, now_mono_ms());
		}
		daemon_timers(d, now_mono_ms(), now_real_s());
	}
	/* twice: under loss one leave may not arrive, and the second costs nothing */
	send_simple(d, WIRE_LEAVE);
	send_simple(d, WIRE_LEAVE);
	net_close(&d->net);
	ctl_close(d->ctl);
	d->ctl = NULL;
	log_info("left the cluster; exiting");
	return 0;
}
