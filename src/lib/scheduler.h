/*
 * scheduler (sched_*): one small scheduler of timers and descriptors (after chrony's
 * sched.c).  A module registers what it waits for once (a timer, a
 * descriptor, or a group of descriptors that changes, like the control
 * socket's clients) and is called back; the loop is one call,
 * sched_poll_once(), with no hand-kept pollfd indexes or next_* fields.
 *
 * Time comes from the clock given to sched_new() (milliseconds on its
 * monotonic reading), so a test or the simulator that sets the clock and
 * calls sched_run_due() drives the same callbacks without polling.
 */
#ifndef CMEM_SCHEDULER_H
#define CMEM_SCHEDULER_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"

#define SCHED_NEVER UINT64_MAX

struct sched;

typedef void (*sched_timer_fn)(void *arg, uint64_t now_ms);
typedef void (*sched_fd_fn)(void *arg, int fd, short revents, uint64_t now_ms);
/* A group fills up to MAX pollfd entries before each poll ... */
typedef size_t (*sched_group_fill_fn)(void *arg, struct pollfd *pfd, size_t max);
/* ... and is handed them back after it (with their revents, maybe none). */
typedef void (*sched_group_fn)(void *arg, const struct pollfd *pfd, size_t n, uint64_t now_ms);

struct sched *sched_new(const struct clock *clk);
void sched_free(struct sched *s);
const struct clock *sched_clock(const struct sched *s);

/* A timer, disarmed; returns its id (>= 0). */
int sched_timer_add(struct sched *s, sched_timer_fn fn, void *arg);
/* Arm timer ID for DUE_MS (monotonic ms); SCHED_NEVER disarms it. */
void sched_timer_set(struct sched *s, int id, uint64_t due_ms);
uint64_t sched_timer_due(const struct sched *s, int id);
/* What timer ID was due at when it last ran (SCHED_NEVER: never ran): a
 * periodic timer keeps its grid by adding its period to this. */
uint64_t sched_timer_last_due(const struct sched *s, int id);

/* A descriptor polled for EVENTS (0: registered, not polled); its id. */
int sched_fd_add(struct sched *s, int fd, short events, sched_fd_fn fn, void *arg);
void sched_fd_events(struct sched *s, int id, short events);

/* A group of at most MAX descriptors that changes between polls; its id. */
int sched_group_add(struct sched *s, size_t max, sched_group_fill_fn fill, sched_group_fn fn,
                    void *arg);

/* The earliest armed timer, or SCHED_NEVER. */
uint64_t sched_next_due(const struct sched *s);

/*
 * Run every timer due at NOW_MS (due <= now_ms), each at most once, in the
 * order they were added; a timer is disarmed before it is called, so it
 * re-arms itself if it repeats.
 */
void sched_run_due(struct sched *s, uint64_t now_ms);

/*
 * The real loop's one step: poll the descriptors until the next timer is
 * due (or forever if none), dispatch the ready descriptors, hand the
 * groups their entries, then run the due timers.  0, or -1 if poll failed
 * (not EINTR; errno set).
 */
int sched_poll_once(struct sched *s);

#endif
