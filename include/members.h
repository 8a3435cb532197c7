/*
 * members: the membership table and the failure detector.
 *
 * A hash table (SipHash keyed at random, so names chosen by a key holder
 * cannot degrade it) of members by name, capped at max_members.  Time is
 * injected: every call takes now_ms (CLOCK_MONOTONIC) and, where protocol
 * time matters, now_s (UNIX time), so the unit tests never sleep.
 *
 * Failure detection adapts per peer: the timeout is the larger of
 * fail_after_ms and the time for enough consecutive heartbeats to be lost
 * that, at the loss rate measured from gaps in the peer's counters, it
 * would happen by chance less than once in 10^6 heartbeats; plus a
 * jitter margin.
 */
#ifndef CMEM_MEMBERS_H
#define CMEM_MEMBERS_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
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
	MEV_NEVENTS
};

struct member {
	char name[WIRE_NAME_MAX + 1];
	uint8_t state;          /* enum member_state */
	uint8_t skew_reported;  /* a skew event was sent for the current offset */
	uint16_t last_key;      /* key id of its last accepted line (rotation progress) */
	struct member_addr addr;
	struct replay_state replay;
	uint64_t incarnation;
	uint64_t since_s;       /* UNIX time of the last state change */
	uint64_t since_ms;      /* same, monotonic */
	uint64_t last_heard_ms; /* last accepted line (candidates: when reported) */
	uint64_t accepted;      /* lines accepted from it */
	int64_t skew_s;         /* its timestamps minus our clock, last line */
	float loss_lost;        /* exponentially weighted counts of lost ... */
	float loss_total;       /* ... and expected lines */
	float interval_ms;      /* smoothed time per counter step */
	float jitter_ms;        /* smoothed deviation of arrivals */
	uint32_t timeout_ms;    /* current failure timeout */
	uint32_t reply_round;   /* last join-reply round it was reported in */
	uint32_t next;          /* hash chain */
};

struct members_params {
	unsigned heartbeat_ms;
	unsigned fail_after_ms;
	unsigned replay_window_s;
	unsigned max_members;
	unsigned skew_warn_s; /* |offset| above this is reported (default 2) */
};

typedef void (*members_event_fn)(void *arg, enum member_event ev, const struct member *m,
                                 const char *detail);

struct members;

struct members *members_new(const struct members_params *p, const char *self_name,
                            uint64_t self_incarnation);
void members_free(struct members *t);
void members_set_event_fn(struct members *t, members_event_fn fn, void *arg);

struct member *members_find(struct members *t, const char *name);
size_t members_count(const struct members *t, enum member_state s);
size_t members_size(const struct members *t);
/* Iterate: i from 0 to members_size()-1. */
struct member *members_at(struct members *t, size_t i);

enum members_result {
	MEMBERS_OK = 0,
	MEMBERS_REPLY,      /* a cjoin from another member: a cluster reply is due */
	MEMBERS_TABLE_FULL, /* a new member was refused */
};

/*
 * Would this authenticated line pass the sender's replay state?
 * (PROTOCOL.md 4 check 5; an unknown sender passes.)
 */
int members_replay_ok(struct members *t, const struct wire_msg *msg);

/*
 * Apply a line that passed every check (1-6) from source address SRC.
 * Updates replay state, membership and the detector, and emits events.
 */
enum members_result members_accept(struct members *t, const struct wire_msg *msg,
                                   const struct member_addr *src, uint64_t now_ms,
                                   uint64_t now_s);

/* Declare failures, expire candidates, purge old entries.  Returns the
 * number of state changes. */
size_t members_tick(struct members *t, uint64_t now_ms, uint64_t now_s);

/* Join-reply suppression. */
void members_reply_round_start(struct members *t);
/* A cluster line from another member during the round; returns 1 when it
 * (with earlier lines of the round) covers every member we believe alive. */
int members_reply_covered(struct members *t, const struct wire_msg *msg);

/* Loss estimate 0..1 of a member. */
double members_loss(const struct member *m);

const char *members_state_name(enum member_state s);
const char *members_event_name(enum member_event e);

#endif
