/* members: membership table, state machine and adaptive failure detector. */
#include "members.h"

#include <arpa/inet.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "util.h"

#define NIL UINT32_MAX
#define LOSS_SAMPLES 128.0f      /* effective memory of the loss estimate */
#define SMOOTH 16.0f             /* smoothing of interval and jitter */
#define FALSE_FAILURE_ODDS 1e-6  /* per heartbeat, at the (pessimistic) measured loss */
#define RETAIN_MS (3600u * 1000u) /* failed/left members stay listed this long */

struct members {
	struct members_params p;
	char self[WIRE_NAME_MAX + 1];
	uint64_t self_incarnation;
	struct member *v;  /* dense array, n used, cap allocated */
	size_t n, cap;
	uint32_t *buckets; /* nbuckets, a power of two */
	size_t nbuckets;
	uint8_t hashkey[crypto_shorthash_KEYBYTES];
	size_t count[MEMBER_NSTATES];
	uint32_t round;          /* join-reply round */
	size_t round_covered;
	int round_self;
	members_event_fn event_fn;
	void *event_arg;
};

static const char *const state_names[MEMBER_NSTATES] = { "candidate", "alive", "failed", "left" };
static const char *const event_names[MEV_NEVENTS] = { "join",    "leave",         "failed",
	                                              "restart", "name_conflict", "skew" };

const char *members_state_name(enum member_state s)
{
	return (unsigned)s < MEMBER_NSTATES ? state_names[s] : "unknown";
}

const char *members_event_name(enum member_event e)
{
	return (unsigned)e < MEV_NEVENTS ? event_names[e] : "unknown";
}

struct members *members_new(const struct members_params *p, const char *self_name,
                            uint64_t self_incarnation)
{
	struct members *t = xcalloc(1, sizeof(*t));

	t->p = *p;
	if (t->p.skew_warn_s == 0)
		t->p.skew_warn_s = 2;
	snprintf(t->self, sizeof(t->self), "%s", self_name);
	t->self_incarnation = self_incarnation;
	t->nbuckets = 16;
	t->buckets = xcalloc(t->nbuckets, sizeof(*t->buckets));
	memset(t->buckets, 0xff, t->nbuckets * sizeof(*t->buckets));
	randombytes_buf(t->hashkey, sizeof(t->hashkey));
	return t;
}

void members_free(struct members *t)
{
	if (t == NULL)
		return;
	free(t->v);
	free(t->buckets);
	free(t);
}

void members_set_event_fn(struct members *t, members_event_fn fn, void *arg)
{
	t->event_fn = fn;
	t->event_arg = arg;
}

static size_t bucket_of(const struct members *t, const char *name)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t x;

	crypto_shorthash(h, (const uint8_t *)name, strlen(name), t->hashkey);
	memcpy(&x, h, sizeof(x));
	return (size_t)(x & (t->nbuckets - 1));
}

static void link_member(struct members *t, uint32_t i)
{
	size_t b = bucket_of(t, t->v[i].name);

	t->v[i].next = t->buckets[b];
	t->buckets[b] = i;
}

static void rehash(struct members *t, size_t nbuckets)
{
	free(t->buckets);
	t->nbuckets = nbuckets;
	t->buckets = xcalloc(nbuckets, sizeof(*t->buckets));
	memset(t->buckets, 0xff, nbuckets * sizeof(*t->buckets));
	for (size_t i = 0; i < t->n; i++)
		link_member(t, (uint32_t)i);
}

struct member *members_find(struct members *t, const char *name)
{
	for (uint32_t i = t->buckets[bucket_of(t, name)]; i != NIL; i = t->v[i].next)
		if (strcmp(t->v[i].name, name) == 0)
			return &t->v[i];
	return NULL;
}

size_t members_count(const struct members *t, enum member_state s)
{
	return (unsigned)s < MEMBER_NSTATES ? t->count[s] : 0;
}

size_t members_size(const struct members *t)
{
	return t->n;
}

struct member *members_at(struct members *t, size_t i)
{
	return i < t->n ? &t->v[i] : NULL;
}

/* Remove entry i: unlink it, move the last entry into its slot. */
static void remove_at(struct members *t, size_t i)
{
	uint32_t *pp = &t->buckets[bucket_of(t, t->v[i].name)];
	size_t last = t->n - 1;

	while (*pp != i)
		pp = &t->v[*pp].next;
	*pp = t->v[i].next;
	t->count[t->v[i].state]--;
	if (i != last) {
		pp = &t->buckets[bucket_of(t, t->v[last].name)];
		while (*pp != last)
			pp = &t->v[*pp].next;
		*pp = (uint32_t)i;
		t->v[i] = t->v[last];
	}
	t->n--;
}

/* When full, make room by dropping the oldest failed/left entry whose
 * replay state is no longer needed (older than twice the window). */
static int make_room(struct members *t, uint64_t now_ms)
{
	uint64_t keep_ms = 2000u * (uint64_t)t->p.replay_window_s;
	size_t victim = SIZE_MAX;

	for (size_t i = 0; i < t->n; i++) {
		const struct member *m = &t->v[i];

		if ((m->state == MEMBER_FAILED || m->state == MEMBER_LEFT ||
		     m->state == MEMBER_CANDIDATE) &&
		    now_ms - m->last_heard_ms > keep_ms &&
		    (victim == SIZE_MAX || m->last_heard_ms < t->v[victim].last_heard_ms))
			victim = i;
	}
	if (victim == SIZE_MAX)
		return -1;
	remove_at(t, victim);
	return 0;
}

static struct member *insert(struct members *t, const char *name, uint64_t now_ms)
{
	struct member *m;

	if (t->n >= t->p.max_members && make_room(t, now_ms) == -1)
		return NULL;
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		if (t->cap > t->p.max_members)
			t->cap = t->p.max_members;
		t->v = xreallocarray(t->v, t->cap, sizeof(*t->v));
	}
	m = &t->v[t->n];
	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->state = MEMBER_CANDIDATE;
	t->count[MEMBER_CANDIDATE]++;
	link_member(t, (uint32_t)t->n);
	t->n++;
	if (t->n > t->nbuckets)
		rehash(t, t->nbuckets * 2);
	return members_find(t, name);
}

static void emit(struct members *t, enum member_event ev, const struct member *m,
                 const char *detail)
{
	if (t->event_fn)
		t->event_fn(t->event_arg, ev, m, detail);
}

static void set_state(struct members *t, struct member *m, enum member_state s, uint64_t now_ms,
                      uint64_t now_s)
{
	t->count[m->state]--;
	t->count[s]++;
	m->state = (uint8_t)s;
	m->since_ms = now_ms;
	m->since_s = now_s;
}

double members_loss(const struct member *m)
{
	return m->loss_total > 0 ? (double)(m->loss_lost / m->loss_total) : 0.0;
}

/* Start the detector afresh (first line, or a new incarnation). */
static void detector_reset(struct members *t, struct member *m)
{
	m->loss_lost = 0;
	m->loss_total = 0;
	m->interval_ms = (float)t->p.heartbeat_ms;
	m->jitter_ms = (float)t->p.heartbeat_ms / 4;
}

/*
 * Timeout for a peer: enough heartbeat intervals that losing all of them
 * in a row at the (pessimistically estimated) loss rate is rarer than
 * FALSE_FAILURE_ODDS; never below fail_after_ms.
 */
static uint32_t detector_timeout(const struct members *t, const struct member *m)
{
	double n = (double)m->loss_total + 8.0;
	double p = ((double)m->loss_lost + 0.5) / n;
	double p_up = p + 2.0 * sqrt(p * (1.0 - p) / n);
	double interval = fmax((double)m->interval_ms, (double)t->p.heartbeat_ms);
	double k, ms, cap = 10.0 * t->p.fail_after_ms;

	if (p_up > 0.95)
		p_up = 0.95;
	k = ceil(log(FALSE_FAILURE_ODDS) / log(p_up));
	ms = k * interval + 4.0 * (double)m->jitter_ms;
	if (ms < t->p.fail_after_ms)
		ms = t->p.fail_after_ms;
	return (uint32_t)(ms > cap ? cap : ms);
}

/* An in-order line arrived: GAP counters were skipped since the last one. */
static void detector_update(struct members *t, struct member *m, uint64_t gap, uint64_t now_ms)
{
	float steps = (float)(gap > 1000 ? 1000 : gap) + 1.0f;
	float dt = (float)(now_ms - m->last_heard_ms);
	float decay = steps >= LOSS_SAMPLES ? 0.0f : 1.0f - steps / LOSS_SAMPLES;
	float dev;

	m->loss_lost = m->loss_lost * decay + (steps - 1.0f);
	m->loss_total = m->loss_total * decay + steps;
	m->interval_ms += (dt / steps - m->interval_ms) / SMOOTH;
	dev = fabsf(dt - steps * m->interval_ms);
	m->jitter_ms += (dev - m->jitter_ms) / SMOOTH;
	m->timeout_ms = detector_timeout(t, m);
}

int members_replay_ok(struct members *t, const struct wire_msg *msg)
{
	const struct member *m = members_find(t, msg->sender);

	return m == NULL || replay_check(&m->replay, msg->incarnation, msg->counter);
}

static void note_skew(struct members *t, struct member *m, const struct wire_msg *msg,
                      uint64_t now_s)
{
	char detail[96];
	int64_t skew = (int64_t)(msg->timestamp - now_s);
	int off = (skew < 0 ? -skew : skew) > (int64_t)t->p.skew_warn_s;

	m->skew_s = skew;
	if (off && !m->skew_reported) {
		snprintf(detail, sizeof(detail), "clock %s ours by %lld s (window %u s)",
		         skew > 0 ? "ahead of" : "behind", (long long)(skew < 0 ? -skew : skew),
		         t->p.replay_window_s);
		emit(t, MEV_SKEW, m, detail);
	}
	m->skew_reported = (uint8_t)off;
}

/* Update replay and detector state for an accepted line from m. */
static void record_line(struct members *t, struct member *m, const struct wire_msg *msg,
                        const struct member_addr *src, uint64_t now_ms)
{
	int fresh = !m->replay.valid;
	uint64_t prev_top = m->replay.top;
	uint64_t gap = replay_update(&m->replay, msg->incarnation, msg->counter);

	if (fresh || gap == UINT64_MAX)
		detector_reset(t, m);
	else if (msg->counter > prev_top)
		detector_update(t, m, gap, now_ms);
	else if (m->loss_lost >= 1.0f)
		m->loss_lost -= 1.0f; /* a late line we had counted as lost */
	if (fresh || gap == UINT64_MAX || msg->counter > prev_top)
		m->last_heard_ms = now_ms;
	if (fresh || gap == UINT64_MAX)
		m->timeout_ms = detector_timeout(t, m);
	m->incarnation = msg->incarnation;
	m->addr = *src;
	m->accepted++;
	m->last_key = msg->key_id;
}

/* Members listed in a cluster line that we do not know become candidates. */
static void learn_candidates(struct members *t, const struct wire_msg *msg, uint64_t now_ms)
{
	struct wire_entry e;
	size_t pos = 0;

	while (wire_cluster_next(msg, &pos, &e)) {
		struct member *c;

		if (strcmp(e.name, t->self) == 0 || members_find(t, e.name))
			continue;
		c = insert(t, e.name, now_ms);
		if (c == NULL)
			return;
		c->addr.family = e.family;
		memcpy(&c->addr.a, &e.a, sizeof(c->addr.a));
		c->last_heard_ms = now_ms;
		c->since_ms = now_ms;
		log_debug("%s: candidate from %s's member list", e.name, msg->sender);
	}
}

static void mark_alive(struct members *t, struct member *m, enum member_state old, int known,
                       uint64_t old_inc, uint64_t now_ms, uint64_t now_s)
{
	char detail[96];

	if (known && m->incarnation > old_inc) {
		set_state(t, m, MEMBER_ALIVE, now_ms, now_s);
		snprintf(detail, sizeof(detail), "restarted: incarnation %llu, was %llu (%s)",
		         (unsigned long long)m->incarnation, (unsigned long long)old_inc,
		         members_state_name(old));
		emit(t, MEV_RESTART, m, detail);
	} else if (old != MEMBER_ALIVE) {
		set_state(t, m, MEMBER_ALIVE, now_ms, now_s);
		emit(t, MEV_JOIN, m,
		     old == MEMBER_FAILED ? "heard again after failure"
		     : old == MEMBER_LEFT ? "rejoined after leaving"
		                          : "joined");
	}
}

enum members_result members_accept(struct members *t, const struct wire_msg *msg,
                                   const struct member_addr *src, uint64_t now_ms,
                                   uint64_t now_s)
{
	struct member *m = members_find(t, msg->sender);
	enum member_state old;
	uint64_t old_inc;
	int known;

	if (m == NULL && (m = insert(t, msg->sender, now_ms)) == NULL)
		return MEMBERS_TABLE_FULL;
	known = m->replay.valid;
	old = (enum member_state)m->state;
	old_inc = m->incarnation;
	record_line(t, m, msg, src, now_ms);
	if (msg->verb == WIRE_LEAVE) {
		if (old != MEMBER_LEFT) {
			set_state(t, m, MEMBER_LEFT, now_ms, now_s);
			if (old == MEMBER_ALIVE || old == MEMBER_CANDIDATE)
				emit(t, MEV_LEAVE, m, "left the cluster");
		}
		return MEMBERS_OK;
	}
	mark_alive(t, m, old, known, old_inc, now_ms, now_s);
	note_skew(t, m, msg, now_s);
	if (msg->verb == WIRE_CLUSTER)
		learn_candidates(t, msg, now_ms); /* may move the table: m is stale now */
	return msg->verb == WIRE_CJOIN ? MEMBERS_REPLY : MEMBERS_OK;
}

size_t members_tick(struct members *t, uint64_t now_ms, uint64_t now_s)
{
	uint64_t retain = RETAIN_MS, keep = 2000u * (uint64_t)t->p.replay_window_s;
	size_t changes = 0;
	char detail[128];

	if (retain < keep)
		retain = keep;
	for (size_t i = t->n; i-- > 0;) {
		struct member *m = &t->v[i];
		uint64_t quiet = now_ms - m->last_heard_ms;

		if (m->state == MEMBER_ALIVE && quiet > m->timeout_ms) {
			set_state(t, m, MEMBER_FAILED, now_ms, now_s);
			snprintf(detail, sizeof(detail),
			         "no line for %llu ms (timeout %u ms, loss %.0f%%)",
			         (unsigned long long)quiet, m->timeout_ms, 100.0 * members_loss(m));
			emit(t, MEV_FAILED, m, detail);
			changes++;
		} else if (m->state == MEMBER_CANDIDATE && quiet > t->p.fail_after_ms) {
			log_debug("%s: candidate not heard within %u ms, dropped", m->name,
			          t->p.fail_after_ms);
			remove_at(t, i);
			changes++;
		} else if ((m->state == MEMBER_FAILED || m->state == MEMBER_LEFT) && quiet > retain) {
			remove_at(t, i);
			changes++;
		}
	}
	return changes;
}

void members_reply_round_start(struct members *t)
{
	t->round++;
	t->round_covered = 0;
	t->round_self = 0;
}

int members_reply_covered(struct members *t, const struct wire_msg *msg)
{
	struct wire_entry e;
	size_t pos = 0;

	while (wire_cluster_next(msg, &pos, &e)) {
		struct member *m;

		if (strcmp(e.name, t->self) == 0) {
			t->round_self = 1;
			continue;
		}
		m = members_find(t, e.name);
		if (m && m->state == MEMBER_ALIVE && m->reply_round != t->round) {
			m->reply_round = t->round;
			t->round_covered++;
		}
	}
	return t->round_self && t->round_covered >= t->count[MEMBER_ALIVE];
}
