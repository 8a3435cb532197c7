/*
 * log: the one logging API of cmem.
 *
 * Messages go to stderr (foreground, tools), the journal (stderr named by
 * $JOURNAL_STREAM: "<N>" priority prefixes) or syslog (daemon).  The daemon
 * never waits for its log: what the socket cannot take now waits in a
 * bounded queue that its loop drains; what the queue cannot hold is
 * counted (log_dropped) and reported.  Tests install a hook to capture
 * messages.  Everything a remote packet can trigger goes through a struct
 * log_ratelimit so that a flood cannot fill the log.  Why we write syslog's
 * datagrams ourselves and how they survive a syslog restart in the chroot:
 * log.c's header.
 */
#ifndef CMEM_LOG_H
#define CMEM_LOG_H

#include <poll.h>
#include <stdarg.h>
#include <stdint.h>

enum log_level { LOG_LEVEL_ERROR = 0, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

typedef void (*log_hook_fn)(enum log_level level, const char *msg, void *arg);

#define CMEM_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Lines the queue holds while the log socket is full or gone. */
#define LOG_QUEUE 64

/* Log to stderr as PROGNAME (or with <N> prefixes to the journal, when
 * $JOURNAL_STREAM names stderr), at LEVEL and above. */
void log_init(const char *progname, enum log_level level);
/* From now on, log to syslog with the given facility (LOG_DAEMON...),
 * through CHROOT/dev/log if it exists (a socket bound into the chroot:
 * reached again after a syslog restart), else PATH (NULL: /dev/log); and to stderr too
 * until log_stderr_off() (so that start-up errors reach the operator's
 * terminal before the daemon detaches) unless stderr is the journal: then
 * only there, until log_stderr_off(). */
void log_to_syslog(int facility, const char *chroot_dir, const char *path);
void log_stderr_off(void);
/* Tests: syslog datagrams to FD (no reconnection); stderr is the journal or not. */
void log_use_socket(int fd);
void log_use_journal(int on);

/* The queue: POLLOUT on the sink while lines wait (fd -1 otherwise); when
 * to retry a broken syslog socket (UINT64_MAX: no need); write what the
 * sink takes now, reconnect when due, report the drops once drained. */
void log_pollfd(struct pollfd *p);
uint64_t log_next_ms(void);
void log_flush(uint64_t now_ms);
/* Before exiting: wait up to TIMEOUT_MS for the queue to drain. */
void log_flush_wait(int timeout_ms);
/* Lines dropped since the start (queue full, or not writable ever); lines queued. */
uint64_t log_dropped(void);
unsigned log_queued(void);

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Capture messages (tests); NULL restores normal output. */
void log_set_hook(log_hook_fn fn, void *arg);

/* "error" | "warn" | "info" | "debug" -> level; -1 if unknown. */
int log_level_parse(const char *name);
const char *log_level_name(enum log_level level);

void log_warn(const char *fmt, ...) CMEM_PRINTF(1, 2);  /* appends strerror(errno) */
void log_warnx(const char *fmt, ...) CMEM_PRINTF(1, 2);
void log_info(const char *fmt, ...) CMEM_PRINTF(1, 2);
void log_debug(const char *fmt, ...) CMEM_PRINTF(1, 2);
_Noreturn void fatal(const char *fmt, ...) CMEM_PRINTF(1, 2);  /* with errno */
_Noreturn void fatalx(const char *fmt, ...) CMEM_PRINTF(1, 2);

/*
 * Rate limit: at most `burst` messages per `interval_ms`; the rest are
 * counted and the count is reported with the next message let through.
 */
struct log_ratelimit {
	uint64_t interval_ms;
	unsigned burst;
	uint64_t window_start_ms;
	unsigned emitted;
	uint64_t suppressed;
};
#define LOG_RATELIMIT_INIT(ms, n) { (ms), (n), 0, 0, 0 }

/* Returns 1 and sets *suppressed (messages skipped since the last one let
 * through) when a message may be logged at now_ms; 0 when it must be dropped.
 * For a message that is more than a log line (an event); else log_limited. */
int log_ratelimit_allow(struct log_ratelimit *rl, uint64_t now_ms, uint64_t *suppressed);

/*
 * The one way to log what a remote packet or a client can trigger: at most
 * the limit's burst per interval; the message let through says how many
 * were held back ("(N similar messages not logged)").  WITH_ERRNO appends
 * strerror(errno).  Returns 1 if logged.
 */
int log_limited(struct log_ratelimit *rl, uint64_t now_ms, enum log_level level, int with_errno,
                const char *fmt, ...) CMEM_PRINTF(5, 6);

#endif
