/*
 * clock: the one way time reaches protocol logic.
 *
 * A struct clock is two readings, CLOCK_MONOTONIC (timers, arrival times)
 * and CLOCK_REALTIME (protocol timestamps), behind function pointers: the
 * daemon reads clock_system; unit tests and the simulator give a clock
 * they set.  Nothing in the daemon's logic calls clock_gettime itself.
 */
#ifndef CMEM_CLOCK_H
#define CMEM_CLOCK_H

#include <stdint.h>

struct clock {
	uint64_t (*mono_us)(void *arg); /* CLOCK_MONOTONIC, microseconds */
	uint64_t (*real_us)(void *arg); /* CLOCK_REALTIME, microseconds */
	void *arg;
};

/* The real clocks (arg unused). */
extern const struct clock clock_system;

uint64_t clock_mono_us(const struct clock *c);
uint64_t clock_mono_ms(const struct clock *c);
uint64_t clock_real_us(const struct clock *c);
uint64_t clock_real_s(const struct clock *c);

/*
 * A clock a test sets: both readings come from the fields below, which the
 * test moves (clock_manual_init points C at M).
 */
struct clock_manual {
	uint64_t mono_us;
	uint64_t real_us;
};
void clock_manual_init(struct clock *c, struct clock_manual *m, uint64_t mono_ms,
                       uint64_t real_s);
/* Move both readings forward by MS milliseconds. */
void clock_manual_advance(struct clock_manual *m, uint64_t ms);

#endif
