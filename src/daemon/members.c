/* members: membership table, state machine and adaptive failure detector. */
#include "members.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "keyindex.h"
#include "log.h"
#include "util.h"

#define RETAIN_MS (3600u * 1000u) /* failed/left members stay listed this long */
#define DUPLICATE_MS 2000u       /* the same line by the other path arrives within this */

struct members {
	struct members_params p;
	char self[WIRE_NAME_MAX + 1];
	uint64_t self_incarnation;
	struct member *v;  /* dense array, n used, cap allocated */
	size_t n, cap;
	struct keyindex *index; /* by name, slots as in v */
	size_t count[MEMBER_NSTATES];
	uint32_t round;          /* join-reply round */
	int round_open;
	size_t round_covered;
	int round_self;
	uint64_t hold_since_ms;  /* every peer went quiet at once (0: not) */
	uint64_t reprieve_ms;    /* after a hold: the others' next lines are on their way */
	uint64_t next_due_ms;    /* the earliest time members_tick has something to do */
	int had_quorum;
	members_event_fn event_fn;
	void *event_arg;
};

static const char *const state_names[MEMBER_NSTATES] = { "candidate", "alive", "failed", "left" };
static const char *const event_names[MEV_NEVENTS] = {
	[MEV_JOIN] = "join",
	[MEV_LEAVE] = "leave",
	[MEV_FAILED] = "failed",
	[MEV_RESTART] = "restart",
	[MEV_NAME_CONFLICT] = "name_conflict",
	[MEV_SKEW] = "skew",
	[MEV_QUORUM_LOST] = "quorum_lost",
	[MEV_QUORUM_REGAINED] = "quorum_regained",
};

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
	if (t->p.local_grace_ms == 0)
		t->p.local_grace_ms = 2 * t->p.fail_after_ms;
	t->next_due_ms = UINT64_MAX;
	t->had_quorum = 1;
	t->index = keyindex_new();
	return t;
}

void members_free(struct members *t)
{
	if (t == NULL)
		return;
	free(t->v);
	keyindex_free(t->index);
	free(t);
}

void members_set_event_fn(struct members *t, members_event_fn fn, void *arg)
{
	t->event_fn = fn;
	t->event_arg = arg;
}

void members_set_self_incarnation(struct members *t, uint64_t incarnation)
{
	t->self_incarnation = incarnation;
}

static uint64_t name_hash(const struct members *t, const char *name)
{
	return keyindex_hash(t->index, name, strlen(name));
}

struct member *members_find(struct members *t, const char *name)
{
	uint64_t h = name_hash(t, name);

	for (uint32_t i = keyindex_first(t->index, h); i != KEYINDEX_NONE;
	     i = keyindex_next(t->index, i))
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

/* Remove entry i: the last entry moves into its slot. */
static void remove_at(struct members *t, size_t i)
{
	size_t last = t->n - 1;

	keyindex_remove(t->index, (uint32_t)i);
	t->count[t->v[i].state]--;
	if (i != last)
		t->v[i] = t->v[last];
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
	keyindex_append(t->index, name_hash(t, name));
	t->n++;
	return m;
}

static void emit(struct members *t, enum member_event ev, const struct member *m,
                 const char *detail)
{
	if (t->event_fn)
		t->event_fn(t->event_arg, ev, m, detail);
}

static void set_state(struct members *t, struct member *m, enum member_state s, uint64_t now_s)
{
	t->count[m->state]--;
	t->count[s]++;
	m->state = (uint8_t)s;
	m->since_s = now_s;
}

double members_loss(const struct member *m)
{
	return detector_loss(&m->det);
}

static struct detector_config detector_config(const struct members *t)
{
	return (struct detector_config){ t->p.heartbeat_ms, t->p.fail_after_ms };
}

/* A line above the previous top arrived: GAP counters were skipped (lost) since. */
static void detector_line(struct members *t, struct member *m, uint64_t gap, uint64_t now_ms)
{
	float dt = now_ms > m->last_heard_ms ? (float)(now_ms - m->last_heard_ms) : 0.0f;
	struct detector_config c = detector_config(t);

	/* the timeout (a log and a square root) is recomputed when a line was
	 * lost or came late, else every 16 lines: with no loss it only shrinks
	 * slowly, and a late update of a shrinking timeout is the safe side */
	if (detector_update(&m->det, gap, dt, m->timeout_ms) || (m->accepted & 15) == 0)
		m->timeout_ms = detector_timeout(&m->det, &c);
}

/* How a line relates to its sender's replay state (PROTOCOL.md 4.2). */
enum freshness {
	FR_NEW,       /* no state (or state expired): starts afresh */
	FR_RESTART,   /* a newer incarnation */
	FR_NEXT,      /* above the highest counter seen */
	FR_LATE,      /* below it, inside the window, not seen yet */
	FR_DUPLICATE, /* seen, moments ago: the other path's copy */
	FR_REPLAY,
};

/* A failed or departed member's replay state is dropped twice the window
 * after its last line: every line it sent is stale by then. */
static int state_expired(const struct members *t, const struct member *m, uint64_t now_ms)
{
	return (m->state == MEMBER_FAILED || m->state == MEMBER_LEFT) &&
	       now_ms > m->last_heard_ms &&
	       now_ms - m->last_heard_ms > 2000u * (uint64_t)t->p.replay_window_s;
}

static enum freshness freshness(const struct members *t, const struct member *m,
                                const struct wire_msg *msg, uint64_t now_ms)
{
	const struct replay_state *rs;

	if (m == NULL || !m->replay.valid || state_expired(t, m, now_ms))
		return FR_NEW;
	rs = &m->replay;
	if (msg->incarnation > rs->incarnation)
		return FR_RESTART;
	if (msg->incarnation == rs->incarnation && msg->counter > rs->top)
		return FR_NEXT;
	if (replay_check(rs, msg->incarnation, msg->counter))
		return FR_LATE;
	if (t->p.count_duplicates && msg->incarnation == rs->incarnation &&
	    rs->top - msg->counter < 64 && now_ms >= m->last_heard_ms &&
	    now_ms - m->last_heard_ms < DUPLICATE_MS)
		return FR_DUPLICATE;
	return FR_REPLAY;
}

int members_seen(struct members *t, const char *name, uint64_t incarnation, uint64_t counter)
{
	const struct member *m = members_find(t, name);

	return m != NULL && m->replay.valid && !replay_check(&m->replay, incarnation, counter);
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

/* Replay and detector state for a line that advanced its sender (NEW, RESTART, NEXT). */
static void record_line(struct members *t, struct member *m, enum freshness f,
                        const struct wire_msg *msg, const struct member_addr *src,
                        uint64_t now_ms)
{
	uint64_t gap;

	if (f == FR_NEW)
		m->replay.valid = 0;
	gap = replay_update(&m->replay, msg->incarnation, msg->counter);
	if (f == FR_NEXT) {
		detector_line(t, m, gap, now_ms);
	} else {
		struct detector_config c = detector_config(t);

		detector_reset(&m->det, &c);
		m->timeout_ms = detector_timeout(&m->det, &c);
	}
	m->last_heard_ms = now_ms;
	m->suspect = 0;
	m->incarnation = msg->incarnation;
	m->addr = *src;
	m->accepted++;
	m->last_key = msg->key_id;
}

static void mark_alive(struct members *t, struct member *m, enum member_state old, int had_state,
                       uint64_t old_inc, uint64_t now_s)
{
	char detail[96];

	if (had_state && m->incarnation != old_inc) {
		set_state(t, m, MEMBER_ALIVE, now_s);
		snprintf(detail, sizeof(detail), "restarted: incarnation %llu, was %llu (%s)",
		         (unsigned long long)m->incarnation, (unsigned long long)old_inc,
		         members_state_name(old));
		emit(t, MEV_RESTART, m, detail);
	} else if (old != MEMBER_ALIVE) {
		set_state(t, m, MEMBER_ALIVE, now_s);
		emit(t, MEV_JOIN, m,
		     old == MEMBER_FAILED ? "heard again after failure"
		     : old == MEMBER_LEFT ? "rejoined after leaving"
		                          : "joined");
	}
}

/*
 * A cluster line's entries, parsed once by wire_parse_body: members we
 * know count toward the join-reply round, unknown ones become candidates.
 * Inserting may move the table: no member pointer survives this.
 */
static void apply_cluster(struct members *t, const struct wire_msg *msg, uint64_t now_ms)
{
	for (size_t i = 0; i < msg->nentries; i++) {
		const struct wire_entry *e = &msg->entries[i];
		struct member *c;

		if (strcmp(e->name, t->self) == 0) {
			t->round_self = 1;
			continue;
		}
		c = members_find(t, e->name);
		if (c != NULL) {
			if (t->round_open && c->state == MEMBER_ALIVE && c->reply_round != t->round) {
				c->reply_round = t->round;
				t->round_covered++;
			}
			continue;
		}
		if ((c = insert(t, e->name, now_ms)) == NULL)
			return;
		c->addr.family = e->family;
		memcpy(&c->addr.a, &e->a, sizeof(c->addr.a));
		c->last_heard_ms = now_ms;
		log_debug("%s: candidate from %s's member list", e->name, msg->sender);
	}
}

/* Apply a line that passed every check and advanced its sender. */
static enum members_result apply(struct members *t, struct member *m, enum freshness f,
                                 const struct wire_msg *msg, const struct member_addr *src,
                                 uint64_t now_ms, uint64_t now_s)
{
	int had_state = m->replay.valid;
	enum member_state old = (enum member_state)m->state;
	uint64_t old_inc = m->incarnation;

	record_line(t, m, f, msg, src, now_ms);
	if (msg->verb == WIRE_LEAVE) {
		if (old != MEMBER_LEFT) {
			set_state(t, m, MEMBER_LEFT, now_s);
			if (old == MEMBER_ALIVE || old == MEMBER_CANDIDATE)
				emit(t, MEV_LEAVE, m, "left the cluster");
		}
		return MEMBERS_OK;
	}
	mark_alive(t, m, old, had_state, old_inc, now_s);
	note_skew(t, m, msg, now_s);
	if (msg->verb == WIRE_CLUSTER)
		apply_cluster(t, msg, now_ms);
	return msg->verb == WIRE_CJOIN ? MEMBERS_REPLY : MEMBERS_OK;
}

enum members_result members_receive(struct members *t, struct wire_msg *msg,
                                    const struct member_addr *src, uint64_t now_ms,
                                    uint64_t now_s, struct members_rx *rx)
{
	struct member *m = members_find(t, msg->sender);
	enum freshness f = freshness(t, m, msg, now_ms);
	struct members_rx ignored;

	if (rx == NULL)
		rx = &ignored;
	rx->sender = NULL;
	rx->was_in_view = m && (m->state == MEMBER_ALIVE || m->state == MEMBER_CANDIDATE);
	if (f == FR_REPLAY || f == FR_DUPLICATE) {
		rx->sender = m;
		return f == FR_REPLAY ? MEMBERS_REPLAY : MEMBERS_DUPLICATE;
	}
	if (wire_parse_body(msg, t->p.replay_window_s) != WIRE_OK)
		return MEMBERS_BAD_BODY;
	if (f == FR_LATE) {
		/* fills a gap of the window and nothing else: no state, address or event */
		replay_update(&m->replay, msg->incarnation, msg->counter);
		return MEMBERS_LATE;
	}
	if (m == NULL && (m = insert(t, msg->sender, now_ms)) == NULL)
		return MEMBERS_TABLE_FULL;
	return apply(t, m, f, msg, src, now_ms, now_s);
}

void members_quorum(const struct members *t, struct members_quorum *q)
{
	size_t suspects = 0;

	for (size_t i = 0; i < t->n; i++)
		suspects += t->v[i].state == MEMBER_ALIVE && t->v[i].suspect;
	q->known = 1 + t->count[MEMBER_ALIVE] + t->count[MEMBER_FAILED];
	q->reachable = 1 + t->count[MEMBER_ALIVE] - suspects;
	q->has_quorum = 2 * q->reachable > q->known;
}

static void follow_quorum(struct members *t)
{
	struct members_quorum q;
	struct member self = { .state = MEMBER_ALIVE };
	char detail[128];

	members_quorum(t, &q);
	if (q.has_quorum == t->had_quorum)
		return;
	t->had_quorum = q.has_quorum;
	snprintf(self.name, sizeof(self.name), "%s", t->self);
	self.incarnation = t->self_incarnation;
	snprintf(detail, sizeof(detail), "%zu of %zu known members reachable, ourselves included%s",
	         q.reachable, q.known, q.has_quorum ? "" : ": not a majority");
	emit(t, q.has_quorum ? MEV_QUORUM_REGAINED : MEV_QUORUM_LOST, &self, detail);
}

/*
 * Local health: when two or more peers are alive and every one of them has
 * gone quiet (longer than two of its intervals and half its timeout) while
 * at least one is overdue, our own input is the likelier fault.  Their
 * verdicts are held (they are suspects, not reachable for the quorum) for
 * local_grace_ms, and for half of fail_after_ms after some of them were
 * heard again; returns 1 while the hold lasts.
 */
static int local_hold(struct members *t, size_t overdue, size_t silent, uint64_t now_ms)
{
	size_t alive = t->count[MEMBER_ALIVE];

	if (alive < 2 || overdue == 0 || silent < alive) {
		if (t->hold_since_ms) {
			/* our input is back (some peers were heard): the lines of the
			 * others still overdue are on their way; give them a moment */
			if (overdue && now_ms - t->hold_since_ms < t->p.local_grace_ms)
				t->reprieve_ms = now_ms + t->p.fail_after_ms / 2;
			log_info("local hold over: %zu of %zu peers overdue, %zu quiet", overdue, alive,
			         silent);
		}
		t->hold_since_ms = 0;
		return overdue && now_ms < t->reprieve_ms;
	}
	if (t->hold_since_ms == 0) {
		t->hold_since_ms = now_ms;
		log_warnx("every peer (%zu) went quiet at once: our own input is the likelier fault; "
		          "verdicts held for %u ms",
		          alive, t->p.local_grace_ms);
	}
	return now_ms - t->hold_since_ms < t->p.local_grace_ms;
}

/* Not heard for longer than two of its intervals and half its timeout. */
static int is_silent(const struct member *m, uint64_t quiet)
{
	double gap = fmax(2.0 * (double)fmax(m->det.interval_ms, m->det.last_step_ms), m->timeout_ms / 2.0);

	return (double)quiet > gap;
}

static void fail_member(struct members *t, struct member *m, uint64_t quiet, uint64_t now_s)
{
	char detail[128];

	m->suspect = 0;
	set_state(t, m, MEMBER_FAILED, now_s);
	snprintf(detail, sizeof(detail), "no line for %llu ms (timeout %u ms, loss %.0f%%)",
	         (unsigned long long)quiet, m->timeout_ms, 100.0 * members_loss(m));
	emit(t, MEV_FAILED, m, detail);
}

static size_t judge_alive(struct members *t, uint64_t now_ms, uint64_t now_s)
{
	size_t overdue = 0, silent = 0, changes = 0;
	int hold;

	for (size_t i = 0; i < t->n; i++) {
		struct member *m = &t->v[i];
		uint64_t quiet = now_ms > m->last_heard_ms ? now_ms - m->last_heard_ms : 0;

		m->suspect = m->state == MEMBER_ALIVE && quiet > m->timeout_ms;
		overdue += m->suspect;
		silent += m->state == MEMBER_ALIVE && is_silent(m, quiet);
	}
	hold = local_hold(t, overdue, silent, now_ms);
	follow_quorum(t);
	if (hold)
		return 0;
	for (size_t i = 0; i < t->n; i++) {
		struct member *m = &t->v[i];

		if (m->suspect) {
			fail_member(t, m, now_ms - m->last_heard_ms, now_s);
			changes++;
		}
	}
	if (changes)
		follow_quorum(t);
	return changes;
}

/* When member m next needs a verdict, if nothing is heard from it meanwhile. */
static uint64_t due_of(const struct members *t, const struct member *m, uint64_t retain)
{
	switch (m->state) {
	case MEMBER_ALIVE:
		return m->last_heard_ms + m->timeout_ms + 1;
	case MEMBER_CANDIDATE:
		return m->last_heard_ms + t->p.fail_after_ms + 1;
	default:
		return m->last_heard_ms + retain + 1;
	}
}

size_t members_tick(struct members *t, uint64_t now_ms, uint64_t now_s)
{
	uint64_t retain = RETAIN_MS, keep = 2000u * (uint64_t)t->p.replay_window_s;
	size_t changes = judge_alive(t, now_ms, now_s), purged = 0;

	if (retain < keep)
		retain = keep;
	t->next_due_ms = UINT64_MAX;
	for (size_t i = t->n; i-- > 0;) {
		struct member *m = &t->v[i];
		uint64_t quiet = now_ms > m->last_heard_ms ? now_ms - m->last_heard_ms : 0, due;

		if (m->state == MEMBER_CANDIDATE && quiet > t->p.fail_after_ms) {
			log_debug("%s: candidate not heard within %u ms, dropped", m->name,
			          t->p.fail_after_ms);
			remove_at(t, i);
			purged++;
		} else if ((m->state == MEMBER_FAILED || m->state == MEMBER_LEFT) && quiet > retain) {
			remove_at(t, i);
			purged++;
		} else if ((due = due_of(t, m, retain)) < t->next_due_ms) {
			t->next_due_ms = due;
		}
	}
	/* a hold or a reprieve is watched closely: a verdict may come at any tick */
	if (t->hold_since_ms || now_ms < t->reprieve_ms)
		t->next_due_ms = now_ms + 25 < t->next_due_ms ? now_ms + 25 : t->next_due_ms;
	if (purged)
		follow_quorum(t);
	return changes + purged;
}

uint64_t members_next_due(const struct members *t)
{
	return t->next_due_ms;
}

void members_reply_round_start(struct members *t)
{
	t->round++;
	t->round_open = 1;
	t->round_covered = 0;
	t->round_self = 0;
}

void members_reply_round_end(struct members *t)
{
	t->round_open = 0;
}

int members_reply_covered(const struct members *t)
{
	return t->round_open && t->round_self && t->round_covered >= t->count[MEMBER_ALIVE];
}

/* The most lines (by policy LINES) any alive peer's path needs (0 if none), and how many. */
static double worst_lines(const struct members *t, double (*lines)(const struct detector *),
                          size_t *alive)
{
	double worst = 0.0;

	*alive = 0;
	for (size_t i = 0; i < t->n; i++) {
		const struct member *m = &t->v[i];

		if (m->state != MEMBER_ALIVE)
			continue;
		(*alive)++;
		worst = fmax(worst, lines(&m->det));
	}
	return worst;
}

unsigned members_leave_copies(const struct members *t)
{
	size_t alive;
	double k = worst_lines(t, detector_leave_lines, &alive);

	return detector_leave_copies(k, alive);
}

unsigned members_heartbeat_ms(const struct members *t, unsigned fastest_ms)
{
	size_t alive;
	double k = worst_lines(t, detector_rate_lines, &alive);
	struct detector_config c = { fastest_ms, t->p.fail_after_ms };

	return detector_heartbeat_ms(k, alive, &c);
}
