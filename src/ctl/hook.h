/*
 * hook: the machinery behind `cmemctl watch --exec` and `--follow`.
 *
 * Events are read from the daemon as soon as they arrive, whatever the
 * handler is doing, so a slow handler never lets the daemon's backlog for
 * this watcher grow until it drops us.  They wait in a bounded FIFO and
 * are handed to the handler in order, one run at a time.  Each run has a
 * time limit: past it the handler's process group gets SIGTERM, then
 * SIGKILL after a grace, and the kill is reported on stderr.  A full
 * queue drops later events until the handler has worked through it; the
 * number dropped is reported and the handler then gets a "resync" event
 * with the current membership.  With --follow a lost daemon is reconnected
 * with backoff (100 ms doubling to 5 s) and a resync follows every
 * (re)connection, so a hook can reconcile what it missed.
 *
 * A handler runs as `/bin/sh -c CMD` in its own process group with
 * CMEM_EVENT, CMEM_MEMBER, CMEM_ADDRESS, CMEM_INCARNATION and CMEM_DETAIL
 * in its environment (CMEM_MEMBERS, "name=state ...", for a resync) and the
 * event's JSON line on its standard input: names reach it only there,
 * never as arguments.  The daemon is talked to through client.h: the
 * request and its reply have deadlines, an idle stream none, a line begun
 * must end in time.
 */
#ifndef CMEM_HOOK_H
#define CMEM_HOOK_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "clock.h"

#define HOOK_QUEUE_MAX 1024          /* events waiting for the handler */
#define HOOK_TIMEOUT_MS 30000        /* default time limit of one run */
#define HOOK_GRACE_MS 5000           /* SIGTERM to SIGKILL */
#define HOOK_BACKOFF_MIN_MS 100      /* first reconnection delay */
#define HOOK_BACKOFF_MAX_MS 5000     /* and the most it doubles to */
#define HOOK_MEMBERS_ENV_MAX 100000  /* CMEM_MEMBERS longer than this is left unset */

/* ---- the bounded FIFO ---- */

struct hook_queue {
	json_t **ev;
	size_t cap, head, len;
	int overflowed;   /* dropping until the handler has emptied the queue */
	uint64_t dropped; /* since the last resync */
};

void hook_queue_init(struct hook_queue *q, size_t cap);
void hook_queue_fini(struct hook_queue *q);
/* Takes ev's reference.  0, or -1 when it was dropped (and counted). */
int hook_queue_push(struct hook_queue *q, json_t *ev);
/* The oldest event (the caller owns it), NULL when empty. */
json_t *hook_queue_pop(struct hook_queue *q);
/*
 * After an overflow, once the queue is empty: the number of events dropped
 * (and the overflow is over: the caller now owes the handler a resync).
 * 0 otherwise.
 */
uint64_t hook_queue_resync_due(struct hook_queue *q);

/* ---- one handler run ---- */

struct hook_child {
	pid_t pid; /* 0 when no handler runs */
	int pidfd; /* readable once the handler has exited */
	uint64_t started_ms, deadline_ms, kill_ms;
	int term_sent, kill_sent;
	char what[160]; /* "event failed of node-2", for the reports */
};

struct hook_result {
	int exited;    /* 1: status is the exit status; 0: signo killed it */
	int status, signo;
	int timed_out; /* it ran past its limit and we signalled it */
	uint64_t ran_ms;
};

void hook_child_init(struct hook_child *c);
/*
 * Start `/bin/sh -c cmd` for event ev at time now (ms), allowed to run
 * until now + timeout_ms.  0, or -1 with err set.
 */
int hook_child_start(struct hook_child *c, const char *cmd, json_t *ev, uint64_t now,
                     uint64_t timeout_ms, char *err, size_t errlen);
/*
 * Enforce the time limit at time now: SIGTERM to the handler's process
 * group at the deadline, SIGKILL grace_ms later.  Returns the ms until the
 * next deadline, -1 if none.
 */
int hook_child_tick(struct hook_child *c, uint64_t now, uint64_t grace_ms);
/* Reap an exited handler: 0 and r filled, 1 if still running, -1 on error. */
int hook_child_reap(struct hook_child *c, uint64_t now, struct hook_result *r);
/* Say on f what became of a run that did not exit 0; 1 if it said something. */
int hook_child_report(FILE *f, const char *cmd, const struct hook_child *c,
                      const struct hook_result *r, uint64_t timeout_ms);

/* "name=state name=state ..." of a members list; NULL if longer than max. */
char *hook_members_env(json_t *members, size_t max);
/* The resync event for a `members` reply: the caller owns it. */
json_t *hook_resync(json_t *members_reply, const char *reason, uint64_t dropped, uint64_t time_s);

/* ---- reconnection delays ---- */

struct hook_backoff {
	uint64_t next_ms;
};

void hook_backoff_reset(struct hook_backoff *b);
/* The delay before the next attempt; the one after it doubles, up to the max. */
uint64_t hook_backoff_next(struct hook_backoff *b);

/* ---- the watch ---- */

struct hook_opts {
	const char *socket;
	const char *exec;     /* NULL: show each event with print() */
	int follow;           /* reconnect when the daemon goes away */
	int banner;           /* say on stderr whose events these are */
	uint64_t timeout_ms;  /* of one handler run */
	uint64_t grace_ms;    /* SIGTERM to SIGKILL */
	size_t queue_max;
	int (*print)(void *arg, json_t *ev); /* 0, or -1 if the event lacks fields */
	void *print_arg;
	FILE *err;                /* diagnostics */
	const struct clock *clk;  /* monotonic for timers, real for resync times */
	uint64_t io_timeout_ms;   /* the client's deadlines (client.h); 0: CLIENT_TIMEOUT_MS */
};

enum hook_end {
	HOOK_END_CLOSED,      /* the daemon closed the stream (not following) */
	HOOK_END_UNREACHABLE, /* it could not be reached (not following) */
	HOOK_END_ERROR,       /* it answered with an error or garbage */
	HOOK_END_SIGNAL,      /* SIGINT, SIGTERM or SIGHUP: *signo */
};

/* Watch until the end; SIGINT, SIGTERM and SIGHUP are blocked meanwhile. */
enum hook_end hook_watch(const struct hook_opts *o, int *signo);

#endif
