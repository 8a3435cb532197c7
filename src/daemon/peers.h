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
#define PEERS_NONCE_BYTES 16      /* WIRE_NONCE_BYTES */
#define PEERS_CREDIT_FACTOR 3     /* an unvalidated address gets 3x the bytes it sent */
#define PEERS_CREDIT_MAX 16384u   /* ... of which at most this much is banked */
#define PEERS_PROBE_MS 1000u      /* an unanswered probe is repeated after 1 s, ... */
#define PEERS_PROBE_MAX_MS 64000u /* ... doubling up to 64 s */

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
 * The destinations of the next line (LEN bytes), into out (room for max;
 * pass peers_size() to get them all).  Forgets learned peers quiet for
 * PEERS_FORGET_MS.  With validation on, an unvalidated learned peer is
 * among them only while its credit covers LEN (charged).  Returns how many
 * were written.
 */
size_t peers_due(struct peers *p, uint64_t now_ms, size_t len, struct member_addr *out,
                 size_t max);

/* Entries in the table, seeds included. */
size_t peers_size(const struct peers *p);

/* Counts for `cmemctl status`. */
struct peers_counts {
	size_t known;  /* every entry */
	size_t seeds;  /* configured seeds */
	size_t active; /* sent every line */
	size_t slow;   /* quiet or failed: one line in PEERS_SLOW_EVERY */
	size_t validated; /* seeds, and learned peers that echoed a probe */
};
void peers_counts(const struct peers *p, uint64_t now_ms, struct peers_counts *c);

/*
 * Address validation (doc/PROTOCOL.md, "probe"; QUIC's path validation and
 * anti-amplification limit).  Once switched on, a learned peer (not a
 * seed) is unvalidated until a line from its address and port echoes the
 * nonce of a probe we sent there.  Until then it is sent only what its
 * credit covers: PEERS_CREDIT_FACTOR times the bytes of the accepted lines
 * that came from it (peers_credit), less what it was sent, probes
 * included, and nothing once it has been quiet for PEERS_QUIET_MS (credit
 * pays for answers, it is not banked); an address only listed in a
 * cluster line gets one datagram (an `alive`: a greeting any v1 daemon
 * accepts).
 */
void peers_require_validation(struct peers *p);
/* An accepted line of BYTES came from a (an entry): credit, and it is heard
 * from.  1 if a was only listed until now: a probe is due at once. */
int peers_credit(struct peers *p, const struct member_addr *a, size_t bytes);
/* One datagram of LEN to a: 1 (charged) if a is in the table and may get it, else 0. */
int peers_send_one(struct peers *p, const struct member_addr *a, size_t len);
/* 1 if a is a seed or validated (or validation is off). */
int peers_validated(const struct peers *p, const struct member_addr *a);
/* Credit left to an unvalidated a (0 if unknown). */
size_t peers_credit_left(const struct peers *p, const struct member_addr *a);
/* A join reply to a was cut to one datagram: peers_echo says when to send the rest. */
void peers_owe_reply(struct peers *p, const struct member_addr *a);
/* Unvalidated peers owed a join reply whose credit reached MIN_CREDIT (no
 * longer owed: the caller sends one line, and owes the rest again if cut). */
size_t peers_owed_due(struct peers *p, size_t min_credit, struct member_addr *out, size_t max);
/* 1 if a is unvalidated and due a probe now (the next one not sent yet). */
int peers_probe_pending(const struct peers *p, const struct member_addr *a, uint64_t now_ms);
/*
 * The unvalidated peers due a probe of at most LEN bytes now, into out
 * (charged to their credit, or the one datagram of a listed address used;
 * LISTED[i], if LISTED is not NULL, says which).  The caller calls
 * peers_probe_sent and sends each one (net_send_probe).
 */
size_t peers_probes_due(struct peers *p, uint64_t now_ms, size_t len, struct member_addr *out,
                        uint8_t *listed, size_t max);
/* A probe with our nonce goes to a now: its nonce into NONCE, the next one
 * scheduled (1 s, doubling to 64 s).  -1 if a needs none (unknown, validated, seed). */
int peers_probe_sent(struct peers *p, const struct member_addr *a, uint64_t now_ms,
                     uint8_t nonce[PEERS_NONCE_BYTES]);

enum peers_echo {
	PEERS_ECHO_NONE = 0,       /* not our nonce for a, or nothing to validate */
	PEERS_ECHO_VALIDATED,      /* a is validated from now on */
	PEERS_ECHO_VALIDATED_OWED, /* ... and a join reply was cut short: send the view */
};
/* A line from a echoed ECHO (compared in constant time). */
enum peers_echo peers_echo(struct peers *p, const struct member_addr *a,
                           const uint8_t echo[PEERS_NONCE_BYTES]);

#endif
