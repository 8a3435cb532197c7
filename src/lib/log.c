/* log: stderr or syslog, a test hook, and rate limiting. */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

static const char *log_progname = "cmem";
static enum log_level log_level = LOG_LEVEL_INFO;
static int log_syslog;
static int log_stderr = 1;
static log_hook_fn log_hook;
static void *log_hook_arg;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void log_init(const char *progname, enum log_level level)
{
	log_progname = progname;
	log_level = level;
	log_syslog = 0;
}

void log_to_syslog(int facility)
{
	openlog(log_progname, LOG_PID | LOG_NDELAY, facility);
	log_syslog = 1;
}

void log_stderr_off(void)
{
	log_stderr = 0;
}

void log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level log_get_level(void)
{
	return log_level;
}

void log_set_hook(log_hook_fn fn, void *arg)
{
	log_hook = fn;
	log_hook_arg = arg;
}

int log_level_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(name, level_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *log_level_name(enum log_level level)
{
	return (unsigned)level < 4 ? level_names[level] : "unknown";
}

static void log_emit(enum log_level level, const char *msg)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

	if (level > log_level)
		return;
	if (log_hook) {
		log_hook(level, msg, log_hook_arg);
		return;
	}
	if (log_syslog)
		syslog(prio[level], "%s", msg);
	if (log_stderr || !log_syslog)
		fprintf(stderr, "%s: %s\n", log_progname, msg);
}

static void log_vmsg(enum log_level level, int with_errno, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void log_vmsg_note(enum log_level level, int with_errno, uint64_t suppressed,
                          const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

/* Format, add errno's text and the count of messages held back, emit. */
static void log_vmsg_note(enum log_level level, int with_errno, uint64_t suppressed,
                          const char *fmt, va_list ap)
{
	char buf[1024];
	int saved = errno;
	int n;

	if (level > log_level && !log_hook)
		return;
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	if (with_errno && n >= 0 && (size_t)n < sizeof(buf))
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, ": %s", strerror(saved));
	if (suppressed && n >= 0 && (size_t)n < sizeof(buf))
		snprintf(buf + n, sizeof(buf) - (size_t)n, " (%llu similar messages not logged)",
		         (unsigned long long)suppressed);
	log_emit(level, buf);
	errno = saved;
}

static void log_vmsg(enum log_level level, int with_errno, const char *fmt, va_list ap)
{
	log_vmsg_note(level, with_errno, 0, fmt, ap);
}

#define LOG_FN(name, level, with_errno)                  \
	void name(const char *fmt, ...)                  \
	{                                                \
		va_list ap;                              \
		va_start(ap, fmt);                       \
		log_vmsg(level, with_errno, fmt, ap);    \
		va_end(ap);                              \
	}

LOG_FN(log_warn, LOG_LEVEL_WARN, 1)
LOG_FN(log_warnx, LOG_LEVEL_WARN, 0)
LOG_FN(log_info, LOG_LEVEL_INFO, 0)
LOG_FN(log_debug, LOG_LEVEL_DEBUG, 0)

void fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_ERROR, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}

int log_ratelimit_allow(struct log_ratelimit *rl, uint64_t now_ms, uint64_t *suppressed)
{
	if (rl->window_start_ms == 0 || now_ms - rl->window_start_ms >= rl->interval_ms) {
		rl->window_start_ms = now_ms ? now_ms : 1;
		rl->emitted = 0;
	}
	if (rl->emitted >= rl->burst) {
		rl->suppressed++;
		return 0;
	}
	rl->emitted++;
	*suppressed = rl->suppressed;
	rl->suppressed = 0;
	return 1;
}

int log_limited(struct log_ratelimit *rl, uint64_t now_ms, enum log_level level, int with_errno,
                const char *fmt, ...)
{
	uint64_t suppressed;
	va_list ap;

	if (!log_ratelimit_allow(rl, now_ms, &suppressed))
		return 0;
	va_start(ap, fmt);
	log_vmsg_note(level, with_errno, suppressed, fmt, ap);
	va_end(ap);
	return 1;
}
