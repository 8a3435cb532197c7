/*
 * replay: the per-sender anti-replay window of PROTOCOL.md 4.2
 * (RFC 4303 style: highest counter plus a 64-bit bitmap below it).
 */
#ifndef CMEM_REPLAY_H
#define CMEM_REPLAY_H

#include <stdint.h>

struct replay_state {
	int valid;            /* 0 until the first accepted line */
	uint64_t incarnation; /* highest incarnation seen */
	uint64_t top;         /* highest counter seen in it */
	uint64_t bitmap;      /* bit i set: counter top - i seen */
};

/* Would (incarnation, counter) be accepted?  Changes nothing. 1 yes, 0 replay. */
int replay_check(const struct replay_state *st, uint64_t incarnation, uint64_t counter);
/*
 * Record an accepted line.  Call only after the line passed every check.
 * Returns the number of counters skipped (gap above the previous top, for
 * loss estimation), 0 for an out-of-order fill or a sender's first line,
 * or UINT64_MAX for a new incarnation.
 */
uint64_t replay_update(struct replay_state *st, uint64_t incarnation, uint64_t counter);

#endif
