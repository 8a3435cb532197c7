/*
 * peers: the unicast destinations of every line (issue 12, PROTOCOL.md 1).
 *
 * The table holds the configured seeds and the addresses learned from
 * lines that passed every check (their source address and port) or listed
 * in accepted `cluster` lines.  Nothing else ever enters it, so a forged,
 * stale or replayed line can never make the daemon send to a new address.
 *
 * Each line goes to every peer heard lately.  A peer that is quiet (not
 * heard for PEERS_QUIET_MS) or whose member failed or left gets one line
 * in PEERS_SLOW_EVERY, so that a healed partition or a restarted host is
 * found again without an operator; a learned peer is forgotten after
 * PEERS_FORGET_MS of quiet, a seed never.  The table is capped: sends per
 * line are bounded by the cap (max_members plus the seeds).
 *
 * Time is injected (CLOCK_MONOTONIC ms) so that the unit tests never sleep.
 */
#ifndef CMEM_PEERS_H
#define CMEM_PEERS_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define PEERS_QUIET_MS 10000u
#define PEERS_SLOW_EVERY 10u
#define PEERS_FORGET_MS 600000u

enum peers_result {
	PEERS_ADDED = 0, /* a new destination */
	PEERS_KNOWN,     /* already there: refreshed */
	PEERS_FULL,      /* the table is full of peers heard lately: refused */
};

struct peers;

/* A table of at most cap destinations (seeds included). */
struct peers *peers_new(size_t cap);
void peers_free(struct peers *p);

/* A configured seed (addr with its port): tried forever. */
enum peers_result peers_add_seed(struct peers *p, const struct member_addr *a, uint64_t now_ms);

/* A verified sender (source address and port): sent every line from now on. */
enum peers_result peers_learn(struct peers *p, const struct member_addr *a, uint64_t now_ms);

/*
 * An address listed in an accepted `cluster` line: added if unknown (and
 * sent every line until it has been quiet for PEERS_QUIET_MS); a known
 * entry is left as it is, since only the peer's own lines say it is back.
 */
enum peers_result peers_learn_listed(struct peers *p, const struct member_addr *a,
                                     uint64_t now_ms);

/* Its member failed or left: one line in PEERS_SLOW_EVERY from now on. */
void peers_failed(struct peers *p, const struct member_addr *a, uint64_t now_ms);

/*
 * Our own link came back: every peer gets every line again (those still
 * silent slow down PEERS_QUIET_MS later), so that the way back takes one
 * heartbeat, not PEERS_SLOW_EVERY of them.
 */
void peers_retry_all(struct peers *p, uint64_t now_ms);

/* 1 if a (address and port) is in the table. */
int peers_known(const struct peers *p, const struct member_addr *a);

/*
 * The destinations of the next line, into out (room for max; pass
 * peers_size() to get them all).  Forgets learned peers quiet for
 * PEERS_FORGET_MS.  Returns how many were written.
 */
size_t peers_due(struct peers *p, uint64_t now_ms, struct member_addr *out, size_t max);

/* Entries in the table, seeds included. */
size_t peers_size(const struct peers *p);

/* Counts for `cmemctl status`. */
struct peers_counts {
	size_t known;  /* every entry */
	size_t seeds;  /* configured seeds */
	size_t active; /* sent every line */
	size_t slow;   /* quiet or failed: one line in PEERS_SLOW_EVERY */
};
void peers_counts(const struct peers *p, uint64_t now_ms, struct peers_counts *c);

#endif
