/* detector: the per-path loss estimate, the receiver's timeout, the sender's rate and leave. */
#include "detector.h"

#include <math.h>

#define LOSS_SAMPLES 512.0f /* effective memory of the loss estimate */
#define FAST_SAMPLES 16.0f  /* and of the one that reacts when loss starts */
#define SMOOTH 16.0f        /* smoothing of interval and jitter */
#define BURST_DECAY 0.995f  /* per line: a burst is remembered for a few hundred lines */
#define BURST_CAP 4u        /* a learned burst adds at most this many fail_after_ms */

/*
 * Odds that every line of a stretch is lost, which each policy plans for:
 * 1 in 10^6 at the pessimistic loss (which covers a young estimate), and 1
 * in 10^8 at the measured loss itself (which covers a lossy path whose
 * estimate has drifted a few points below the truth: a receiver hears some
 * 10^4 lines a minute, and at 50 % loss one in 10^6 is not rare enough for
 * that).  One pair per policy: the receiver's timeout, the sender's rate,
 * the sender's leave copies.
 */
#define TIMEOUT_ODDS 1e-6
#define TIMEOUT_MEASURED_ODDS 1e-8
#define RATE_ODDS 1e-6
#define RATE_MEASURED_ODDS 1e-8
#define LEAVE_ODDS 1e-6
#define LEAVE_MEASURED_ODDS 1e-8

void detector_reset(struct detector *e, const struct detector_config *c)
{
	*e = (struct detector){
		.interval_ms = (float)c->heartbeat_ms,
		.last_step_ms = (float)c->heartbeat_ms,
		.jitter_ms = (float)c->heartbeat_ms / 4,
	};
}

int detector_update(struct detector *e, uint64_t gap, float dt_ms, uint32_t timeout_ms)
{
	float steps = (float)(gap > 1000 ? 1000 : gap) + 1.0f;
	float decay = steps >= LOSS_SAMPLES ? 0.0f : 1.0f - steps / LOSS_SAMPLES;
	float dev;

	e->loss_lost = e->loss_lost * decay + (steps - 1.0f);
	e->loss_total = e->loss_total * decay + steps;
	/* the short memory sees scattered loss; a long gap is a burst, which
	 * burst_ms answers without making every later line look lost */
	decay = steps >= FAST_SAMPLES ? 0.0f : 1.0f - steps / FAST_SAMPLES;
	e->fast_lost = e->fast_lost * decay + fminf(steps - 1.0f, 2.0f);
	e->fast_total = e->fast_total * decay + fminf(steps, 3.0f);
	e->last_step_ms = dt_ms / steps;
	e->interval_ms += (e->last_step_ms - e->interval_ms) / SMOOTH;
	dev = fabsf(dt_ms - steps * e->interval_ms);
	e->jitter_ms += (dev - e->jitter_ms) / SMOOTH;
	e->burst_ms = steps > 2.0f && dt_ms > e->burst_ms * BURST_DECAY ? dt_ms
	                                                                 : e->burst_ms * BURST_DECAY;
	return steps > 1.0f || dt_ms > (float)timeout_ms / 4;
}

double detector_loss(const struct detector *e)
{
	return e->loss_total > 0 ? (double)(e->loss_lost / e->loss_total) : 0.0;
}

/* The loss rate over LOST of TOTAL lines (with a prior of half a loss in 8
 * lines) plus Z standard errors. */
static double upper(double lost, double total, double z)
{
	double n = total + 8.0;
	double p = (lost + 0.5) / n;

	return p + z * sqrt(p * (1.0 - p) / n);
}

/*
 * The estimate plus one standard error over the long memory (512 lines);
 * once a line was lost lately, plus two over the short one too, so that
 * loss starting on a clean network is answered within a few lines.
 */
double detector_loss_upper(const struct detector *e)
{
	double p_up = upper((double)e->loss_lost, (double)e->loss_total, 1.0);

	if (e->fast_lost >= 0.5f)
		p_up = fmax(p_up, upper((double)e->fast_lost, (double)e->fast_total, 2.0));
	return p_up > 0.95 ? 0.95 : p_up;
}

/* Lines that must all be lost for that to be rarer than ODDS. */
static double lines_needed(double p, double odds)
{
	return ceil(log(odds) / log(p));
}

/* Lines that must all be lost to be rarer than ODDS at the pessimistic
 * loss (at least 0.1 %) and MEASURED_ODDS at the measured one. */
static double lines_at_odds(const struct detector *e, double odds, double measured_odds)
{
	double k = lines_needed(fmax(detector_loss_upper(e), 1e-3), odds);
	double p = detector_loss(e);

	if (p > 0.0)
		k = fmax(k, lines_needed(fmin(p, 0.95), measured_odds));
	return k;
}

double detector_timeout_lines(const struct detector *e)
{
	return lines_at_odds(e, TIMEOUT_ODDS, TIMEOUT_MEASURED_ODDS);
}

/*
 * Enough heartbeat intervals that losing all of them in a row is that rare
 * (detector_timeout_lines); never below fail_after_ms.  The interval is
 * the larger of the smoothed one and the last, so that a sender slowing
 * down is followed at once.  Loss in bursts is not independent: the
 * longest recent silence (plus two intervals) is a floor of its own.
 */
uint32_t detector_timeout(const struct detector *e, const struct detector_config *c)
{
	double interval = fmax(fmax((double)e->interval_ms, (double)e->last_step_ms),
	                       (double)c->heartbeat_ms);
	double ms = detector_timeout_lines(e) * interval + 4.0 * (double)e->jitter_ms;
	double cap = fmax(10.0 * c->fail_after_ms, 8.0 * interval);
	double burst = fmin((double)e->burst_ms, (double)BURST_CAP * c->fail_after_ms);

	if (burst > 0 && ms < burst + 2.0 * interval)
		ms = burst + 2.0 * interval;
	if (ms < c->fail_after_ms)
		ms = c->fail_after_ms;
	return (uint32_t)(ms > cap ? cap : ms);
}

double detector_rate_lines(const struct detector *e)
{
	return lines_at_odds(e, RATE_ODDS, RATE_MEASURED_ODDS);
}

unsigned detector_heartbeat_ms(double worst_lines, size_t alive, const struct detector_config *c)
{
	double ms;

	if (alive == 0)
		return c->heartbeat_ms;
	/* enough lines inside fail_after_ms for the worst path, ... */
	ms = (double)c->fail_after_ms / worst_lines;
	/* ... and no more than the budget per receiver for the whole cluster */
	ms = fmax(ms, 1000.0 * (double)(alive + 1) / DETECTOR_LINE_BUDGET);
	return ms < c->heartbeat_ms ? c->heartbeat_ms : (unsigned)ms;
}

double detector_leave_lines(const struct detector *e)
{
	return lines_at_odds(e, LEAVE_ODDS, LEAVE_MEASURED_ODDS);
}

unsigned detector_leave_copies(double worst_lines, size_t alive)
{
	unsigned k = alive ? (unsigned)worst_lines : 1;

	return k < DETECTOR_LEAVE_MIN ? DETECTOR_LEAVE_MIN : k > DETECTOR_LEAVE_MAX ? DETECTOR_LEAVE_MAX : k;
}
