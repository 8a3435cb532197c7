/*
 * members: the membership table and the failure detector.
 *
 * A hash table (SipHash keyed at random, so names chosen by a key holder
 * cannot degrade it) of members by name, capped at max_members.  Time is
 * injected: every call takes now_ms (CLOCK_MONOTONIC, or the kernel's
 * arrival time of the datagram mapped onto it) and, where protocol time
 * matters, now_s (UNIX time), so the unit tests never sleep.
 *
 * members_receive() is the receive path after the envelope checks: it
 * looks the sender up once, checks its replay state, parses the body once
 * and applies the line (replay state, membership, detector, events) in one
 * place, and only when every check passed.
 *
 * Failure detection adapts per peer (the maths is detector.c): the timeout is the larger of
 * fail_after_ms and the time for enough consecutive heartbeats to be lost
 * that, at the loss rate measured from gaps in the peer's counters, it
 * would happen by chance less than once in 10^6 heartbeats; plus a
 * jitter margin.  When every peer goes quiet at once, the fault is most
 * likely our own input: verdicts are held for a grace period (local
 * health, as Lifeguard does) while the quorum view says we are cut off.
 */
#ifndef CMEM_MEMBERS_H
#define CMEM_MEMBERS_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "detector.h"
#include "replay.h"
#include "wire.h"

enum member_state { MEMBER_CANDIDATE = 0, MEMBER_ALIVE, MEMBER_FAILED, MEMBER_LEFT, MEMBER_NSTATES };

enum member_event {
	MEV_JOIN = 0,
	MEV_LEAVE,
	MEV_FAILED,
	MEV_RESTART,
	MEV_NAME_CONFLICT,
	MEV_SKEW,
	MEV_QUORUM_LOST,
	MEV_QUORUM_REGAINED,
	MEV_NEVENTS
};

struct member {
	char name[WIRE_NAME_MAX + 1];
	uint8_t state;          /* enum member_state */
	uint8_t skew_reported;  /* a skew event was sent for the current offset */
	uint8_t suspect;        /* overdue, verdict held (local health) */
	uint16_t last_key;      /* key id of its last accepted line (rotation progress) */
	struct member_addr addr;
	struct replay_state replay;
	uint64_t incarnation;
	uint64_t since_s;       /* UNIX time of the last state change */
	uint64_t last_heard_ms; /* newest line (candidates: when reported) */
	uint64_t accepted;      /* lines accepted from it */
	int64_t skew_s;         /* its timestamps minus our clock, last line */
	struct detector det;    /* the loss estimate of its path (detector.h) */
	uint32_t timeout_ms;    /* current failure timeout */
	uint32_t reply_round;   /* last join-reply round it was reported in */
};

struct members_params {
	unsigned heartbeat_ms;
	unsigned fail_after_ms;
	unsigned replay_window_s;
	unsigned max_members;
	unsigned skew_warn_s;     /* |offset| above this is reported (default 2) */
	unsigned local_grace_ms;  /* hold verdicts this long when all peers go quiet (0: 2 x fail_after_ms) */
	int count_duplicates;     /* lines arrive by two paths (multicast and unicast) */
};

typedef void (*members_event_fn)(void *arg, enum member_event ev, const struct member *m,
                                 const char *detail);

struct members;

struct members *members_new(const struct members_params *p, const char *self_name,
                            uint64_t self_incarnation);
void members_free(struct members *t);
void members_set_event_fn(struct members *t, members_event_fn fn, void *arg);
/* Our own incarnation changed (wall clock step): lines of the old one are ours. */
void members_set_self_incarnation(struct members *t, uint64_t incarnation);

struct member *members_find(struct members *t, const char *name);
size_t members_count(const struct members *t, enum member_state s);
size_t members_size(const struct members *t);
/* Iterate: i from 0 to members_size()-1. */
struct member *members_at(struct members *t, size_t i);

enum members_result {
	MEMBERS_OK = 0,     /* applied */
	MEMBERS_REPLY,      /* applied; a cjoin from another member: a cluster reply is due */
	MEMBERS_LATE,       /* a late line filled a gap of the window: its bit is set, nothing else */
	MEMBERS_REPLAY,     /* check 5: a replay */
	MEMBERS_DUPLICATE,  /* the same line again, by the other path (multicast and unicast) */
	MEMBERS_BAD_BODY,   /* check 6 */
	MEMBERS_TABLE_FULL, /* a new member was refused */
};

/* What members_receive tells its caller beside the result. */
struct members_rx {
	const struct member *sender; /* REPLAY, DUPLICATE: the member named (unchanged) */
	int was_in_view;             /* applied: the sender was alive or a candidate before */
};

/*
 * A line that passed checks 1-4, from SRC: checks 5 and 6 and applies it.
 * RX (may be NULL) is filled as its comment says.
 */
enum members_result members_receive(struct members *t, struct wire_msg *msg,
                                    const struct member_addr *src, uint64_t now_ms,
                                    uint64_t now_s, struct members_rx *rx);

/*
 * Would a line with this (incarnation, counter) from NAME be at or below
 * what its replay window has seen?  (A stale line that is a replay is not
 * evidence of a skewed clock.)
 */
int members_seen(struct members *t, const char *name, uint64_t incarnation, uint64_t counter);

/* Declare failures, expire candidates, purge old entries, follow the
 * quorum.  Returns the number of state changes. */
size_t members_tick(struct members *t, uint64_t now_ms, uint64_t now_s);
/* After members_tick: when it next has something to do if no line arrives
 * (UINT64_MAX: never), so that an idle daemon does not wake to find nothing. */
uint64_t members_next_due(const struct members *t);

/* Join-reply suppression: cluster lines received during a round count. */
void members_reply_round_start(struct members *t);
void members_reply_round_end(struct members *t);
/* The cluster lines of the round cover every member we believe alive. */
int members_reply_covered(const struct members *t);

/* Quorum view: members reachable (ourselves included) of those known
 * (alive, suspected or failed; not left). */
struct members_quorum {
	size_t reachable, known;
	int has_quorum;
};
void members_quorum(const struct members *t, struct members_quorum *q);

/*
 * Heartbeat interval for this node's lines (detector_heartbeat_ms over the
 * worst alive peer's path): the fastest (fastest_ms) when the loss
 * measured from the peers needs it, slower when the network is clean, and
 * never so fast that a receiver gets more than MEMBERS_LINE_BUDGET lines
 * per second from the whole cluster.
 */
#define MEMBERS_LINE_BUDGET DETECTOR_LINE_BUDGET
unsigned members_heartbeat_ms(const struct members *t, unsigned fastest_ms);

/* Copies of `leave` to send (detector_leave_copies over the worst alive
 * peer's path): DETECTOR_LEAVE_MIN when alone. */
unsigned members_leave_copies(const struct members *t);

/* Loss estimate 0..1 of a member. */
double members_loss(const struct member *m);

const char *members_state_name(enum member_state s);
const char *members_event_name(enum member_event e);

#endif
