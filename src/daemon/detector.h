/*
 * detector: the per-path loss estimate and what is planned from it.
 *
 * One struct detector per peer path holds the estimate, learned from the
 * gaps in the peer's counters and the times between its lines: the loss
 * rate over a long and a short memory, the interval, the jitter and the
 * longest recent silence.  Three separate, named policies read it:
 *
 *   - the receiver's failure timeout for that peer (detector_timeout);
 *   - the sender's heartbeat interval, planned for the worst path
 *     (detector_heartbeat_ms over detector_rate_lines);
 *   - how many `leave` copies the sender says (detector_leave_copies over
 *     detector_leave_lines).
 *
 * Each policy has its own odds, so changing what a receiver waits for does
 * not silently change what this node sends.  Everything here is pure
 * arithmetic on injected values: no clock, no sleep.
 */
#ifndef CMEM_DETECTOR_H
#define CMEM_DETECTOR_H

#include <stddef.h>
#include <stdint.h>

struct detector {
	float loss_lost;    /* exponentially weighted counts of lost ... */
	float loss_total;   /* ... and expected lines */
	float fast_lost;    /* the same over a short memory, to react */
	float fast_total;   /* at once when loss starts */
	float interval_ms;  /* smoothed time per counter step */
	float last_step_ms; /* time per counter step, last line */
	float jitter_ms;    /* smoothed deviation of arrivals */
	float burst_ms;     /* longest recent silence between two lines, decaying */
};

/* What the cluster is configured for (heartbeat_ms, fail_after_ms). */
struct detector_config {
	unsigned heartbeat_ms;  /* the fastest interval a sender uses */
	unsigned fail_after_ms; /* the shortest timeout */
};

#define DETECTOR_LINE_BUDGET 500 /* lines per second a receiver is planned for */
#define DETECTOR_LEAVE_MIN 3     /* leave is sent this often at least, ... */
#define DETECTOR_LEAVE_MAX 16    /* ... at most, a (fastest) heartbeat apart */

/* Start afresh (a peer's first line, or a new incarnation). */
void detector_reset(struct detector *e, const struct detector_config *c);

/*
 * A line above the previous top arrived, DT_MS after the previous one:
 * GAP counters were skipped (lost) since.  Returns 1 when the timeout
 * should be recomputed at once (a line was lost, or came later than a
 * quarter of TIMEOUT_MS): with no loss it only shrinks slowly.
 */
int detector_update(struct detector *e, uint64_t gap, float dt_ms, uint32_t timeout_ms);

/* Measured loss rate 0..1. */
double detector_loss(const struct detector *e);
/* Pessimistic loss rate: the estimate plus its standard errors (at most 0.95). */
double detector_loss_upper(const struct detector *e);

/* The receiver: heartbeats that must all be lost before it declares a false failure. */
double detector_timeout_lines(const struct detector *e);
/* The receiver's failure timeout for this path, in ms. */
uint32_t detector_timeout(const struct detector *e, const struct detector_config *c);

/* The sender's rate: heartbeats this path needs inside fail_after_ms. */
double detector_rate_lines(const struct detector *e);
/*
 * The sender's heartbeat interval for WORST_LINES (the largest
 * detector_rate_lines over its ALIVE peers): enough lines inside
 * fail_after_ms, never faster than heartbeat_ms nor than
 * DETECTOR_LINE_BUDGET lines a second for the whole cluster; heartbeat_ms
 * when alone.
 */
unsigned detector_heartbeat_ms(double worst_lines, size_t alive, const struct detector_config *c);

/* The sender's leave: copies that must all be lost, on this path, for a missed leave. */
double detector_leave_lines(const struct detector *e);
/* Copies of `leave` for WORST_LINES over ALIVE peers: DETECTOR_LEAVE_MIN to _MAX. */
unsigned detector_leave_copies(double worst_lines, size_t alive);

#endif
