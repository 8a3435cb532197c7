/*
 * notify: the service manager's readiness protocol (sd_notify), spoken by
 * cmemd itself.
 *
 * cmemd is a static PIE and does not link libsystemd: the protocol is one
 * datagram of "KEY=VALUE" lines to the AF_UNIX socket named by
 * $NOTIFY_SOCKET (a path, or "@name" for an abstract socket).  The socket
 * is connected at start, before the chroot makes the path unreachable;
 * every later message goes over that connection.
 *
 * Messages: READY=1 once the loop runs; STATUS=<n> alive, <n> failed,
 * <n> left when the counts change (at most once a second); WATCHDOG=1
 * every $WATCHDOG_USEC / 2 when the manager asks for it; STOPPING=1 when
 * told to stop.  A zeroed struct notify is inactive: every call is a no-op.
 */
#ifndef CMEM_NOTIFY_H
#define CMEM_NOTIFY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "log.h"

#define NOTIFY_STATUS_MS 1000 /* at most one STATUS= per this long */
#define NOTIFY_STATUS_MAX 96

struct notify {
	int active;                  /* connected to the manager's socket */
	int fd;
	pid_t mainpid;               /* sent with READY=1 when we forked, else 0 */
	uint64_t watchdog_usec;      /* $WATCHDOG_USEC, 0 = none */
	pid_t watchdog_pid;          /* $WATCHDOG_PID, 0 = unset */
	uint64_t watchdog_ms;        /* WATCHDOG=1 interval once started, 0 = off */
	uint64_t next_watchdog_ms;
	uint64_t next_status_ms;     /* no STATUS= before this */
	char sent[NOTIFY_STATUS_MAX];    /* the last STATUS= message sent */
	char pending[NOTIFY_STATUS_MAX]; /* a newer one held back by the rate limit */
	size_t counts[3];            /* alive, failed, left at the last notify_status() */
	int have_counts;
	uint64_t send_errors;
	struct log_ratelimit rl;
};

/*
 * Read $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID, remove them from
 * the environment, and connect to the socket.  Returns 0 when the variable
 * is unset (inactive) or the socket is connected; -1 with a message in err
 * when it is set but unusable (the struct stays inactive).
 */
int notify_open(struct notify *n, char *err, size_t errlen);

/*
 * Once our pid is final (after daemonizing; forked says whether we did):
 * remember to name ourselves in READY=1 if we forked, and start the
 * watchdog when $WATCHDOG_USEC was set and $WATCHDOG_PID was unset or is
 * pid.  Returns the interval in ms between two WATCHDOG=1, 0 when off.
 */
uint64_t notify_start(struct notify *n, pid_t pid, int forked, uint64_t now_ms);

/* READY=1 (with MAINPID= if we forked). */
void notify_ready(struct notify *n);

/* The member counts (this node included in alive); sent when changed, rate-limited. */
void notify_status(struct notify *n, size_t alive, size_t failed, size_t left, uint64_t now_ms);

/* STOPPING=1. */
void notify_stopping(struct notify *n);

/* Send what is due at now_ms: WATCHDOG=1, a held-back STATUS=. */
void notify_timers(struct notify *n, uint64_t now_ms);

/* When notify_timers() next has something to do; UINT64_MAX for never. */
uint64_t notify_next_ms(const struct notify *n);

void notify_close(struct notify *n);

#endif
