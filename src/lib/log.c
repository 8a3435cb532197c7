/*
 * log: stderr, the journal or syslog; a test hook; rate limiting; a
 * bounded queue so that the daemon never waits for its log.
 *
 * Where a line goes:
 *  - stderr as "PROG: message" (foreground, tools);
 *  - stderr as "<N>message" when $JOURNAL_STREAM names it (a systemd
 *    service, sd-daemon(3)): the journal keeps the priority, so that
 *    `journalctl -p err` shows every fatal error, and it records the
 *    program itself; syslog is then skipped, because it reaches the same
 *    journal and every line would be there twice (issue 16, finding 9);
 *  - syslog: RFC 3164 datagrams, written here to a non-blocking AF_UNIX
 *    socket rather than by glibc's syslog(3), whose socket blocks: with
 *    the reader stopped the daemon froze inside send() from its poll loop,
 *    and its peers declared it failed (issue 17, finding 4).
 *
 * Never blocking, never silent: a line that cannot be written at once
 * waits in a queue of LOG_QUEUE lines, which the daemon's loop drains when
 * the socket becomes writable (log_pollfd, log_flush); a line that finds
 * the queue full is dropped and counted (log_dropped: `cmemctl stats`), and
 * the count is logged once the queue has drained.
 *
 * After the chroot, when the syslog daemon restarts: a syslog daemon that
 * re-creates its socket leaves ours connected to a dead one, and glibc's
 * reconnection by path looked for /dev/log inside the chroot, where it is
 * not (finding 5).  We keep the socket connected before the chroot (what
 * systemd's journald needs: its /dev/log belongs to systemd and survives a
 * journald restart), and when it breaks, reconnect to a socket bound into
 * the chroot: CHROOT/dev/log, which the syslog daemon is told to create
 * (rsyslog: an imuxsock input with Socket="/var/lib/cmem/dev/log";
 * OpenBSD-style syslogd: -a), as Postfix and BIND do.  Before the chroot
 * that socket is preferred when it exists.  Not a descriptor of /dev kept
 * open across the chroot and reconnected relative to it: a directory
 * descriptor outside the root undoes the chroot; not journald's native
 * protocol: its socket is a path outside the chroot as well, and not every
 * host runs journald.  Until a reconnection succeeds (tried at most once a
 * second) lines wait in the queue, then are dropped and counted.
 */
#include "log.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define LOG_MSG_MAX 1024
#define LOG_LINE_MAX (LOG_MSG_MAX + 128) /* with the syslog header */
#define LOG_RETRY_MS 1000

struct log_line {
	size_t len;
	char text[LOG_LINE_MAX];
};

static const char *log_progname = "cmem";
static enum log_level log_level = LOG_LEVEL_INFO;
static int log_syslog;  /* syslog is on */
static int log_stderr = 1;
static int log_journal; /* stderr is the journal's stream */
static int log_stream_gone; /* ... and it broke: lines are counted, not written */
static int log_facility = LOG_DAEMON;
static int log_sock = -1; /* the syslog socket, -1 when broken */
static char log_paths[2][sizeof(((struct sockaddr_un *)0)->sun_path)];
static uint64_t log_retry_ms; /* the next reconnection, when broken */
static log_hook_fn log_hook;
static void *log_hook_arg;

static struct log_line log_queue[LOG_QUEUE];
static unsigned log_head, log_count;
static size_t log_head_off; /* what a stream has taken of the first line */
static uint64_t log_ndropped, log_unreported;

static const char *const level_names[] = { "error", "warn", "info", "debug" };
static const int level_prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

/* $JOURNAL_STREAM is "DEVICE:INODE" of the stream systemd gave us (systemd.exec(5)). */
static int stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	return js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
	       (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(const char *progname, enum log_level level)
{
	log_progname = progname;
	log_level = level;
	log_syslog = 0;
	log_stderr = 1;
	log_journal = stderr_is_journal();
	log_sock = -1;
	log_stream_gone = 0;
	log_count = 0;
	log_head_off = 0;
	log_unreported = 0;
}

static int sock_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (path[0] == '\0')
		return -1;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd != -1 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* The socket bound into the chroot first, then the one the path names where we are. */
static void reconnect(void)
{
	if (log_sock != -1)
		close(log_sock);
	log_sock = sock_connect(log_paths[0]);
	if (log_sock == -1)
		log_sock = sock_connect(log_paths[1]);
}

void log_to_syslog(int facility, const char *chroot_dir, const char *path)
{
	log_facility = facility;
	log_syslog = 1;
	if (chroot_dir && chroot_dir[0] &&
	    strlen(chroot_dir) + sizeof("/dev/log") <= sizeof(log_paths[0]))
		snprintf(log_paths[0], sizeof(log_paths[0]), "%s/dev/log", chroot_dir);
	snprintf(log_paths[1], sizeof(log_paths[1]), "%s", path ? path : _PATH_LOG);
	reconnect();
}

void log_use_socket(int fd)
{
	log_syslog = 1;
	log_stderr = 0;
	log_journal = 0;
	log_paths[0][0] = log_paths[1][0] = '\0';
	log_sock = fd;
}

void log_use_journal(int on)
{
	log_journal = on;
	log_stderr = 1;
}

void log_stderr_off(void)
{
	log_stderr = 0;
	if (log_journal && log_count) { /* a stream the daemon leaves: its lines are lost */
		log_ndropped += log_count;
		log_unreported += log_count;
		log_count = 0;
		log_head_off = 0;
	}
	log_journal = 0;
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

uint64_t log_dropped(void)
{
	return log_ndropped;
}

unsigned log_queued(void)
{
	return log_count;
}

/* The descriptor the queue drains into: the journal's stream or syslog's socket. */
static int sink_fd(void)
{
	if (log_journal && log_stderr)
		return log_stream_gone ? -1 : STDERR_FILENO;
	return log_syslog ? log_sock : -1;
}

/*
 * Write what is left of the first line: 1 when it is out (or cannot ever
 * be: counted), 0 when the sink is full, -1 when the sink is gone.
 */
static int write_head(int fd)
{
	const struct log_line *l = &log_queue[log_head];
	ssize_t n;

	/* the journal's stream is a socket too: neither waits, nor raises SIGPIPE */
	n = send(fd, l->text + log_head_off, l->len - log_head_off, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (fd == STDERR_FILENO && n > 0 && (log_head_off += (size_t)n) < l->len)
		return 0;
	if (n >= 0)
		return 1;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ENOBUFS)
		return 0;
	if (errno == ECONNREFUSED || errno == ENOTCONN || errno == ECONNRESET || errno == EPIPE ||
	    errno == EBADF || errno == EDESTADDRREQ)
		return -1;
	log_ndropped++; /* e.g. EMSGSIZE: this line, never */
	log_unreported++;
	return 1;
}

/* Write the queue out as far as the sink takes it, without waiting. */
static void drain(void)
{
	int fd = sink_fd();

	while (log_count && fd != -1) {
		int r = write_head(fd);

		if (r == 0)
			return;
		if (r == -1) {
			if (fd == log_sock) {
				close(log_sock);
				log_sock = -1;
				log_retry_ms = 0; /* at the next log_flush */
			} else {
				log_stream_gone = 1; /* no way back to the journal */
			}
			return;
		}
		log_head = (log_head + 1) % LOG_QUEUE;
		log_count--;
		log_head_off = 0;
	}
}

static void enqueue(const char *text, size_t len)
{
	struct log_line *l;

	if (log_count == LOG_QUEUE) {
		log_ndropped++;
		log_unreported++;
		return;
	}
	l = &log_queue[(log_head + log_count) % LOG_QUEUE];
	l->len = len < sizeof(l->text) ? len : sizeof(l->text);
	memcpy(l->text, text, l->len);
	log_count++;
	drain();
}

/* RFC 3164 as syslog(3) writes it to /dev/log: <PRI>Mmm dd hh:mm:ss TAG[PID]: MSG */
static size_t syslog_format(char *out, size_t len, int prio, const char *msg)
{
	char stamp[32] = "";
	time_t t = time(NULL);
	struct tm tm;
	int n;

	if (localtime_r(&t, &tm))
		strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
	n = snprintf(out, len, "<%d>%s %s[%ld]: %s", log_facility | prio, stamp, log_progname,
	             (long)getpid(), msg);
	return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

static void log_emit(enum log_level level, const char *msg)
{
	char line[LOG_LINE_MAX];
	int n;

	if (level > log_level)
		return;
	if (log_hook) {
		log_hook(level, msg, log_hook_arg);
		return;
	}
	if (log_journal && log_stderr) {
		n = snprintf(line, sizeof(line), "<%d>%s\n", level_prio[level], msg);
		enqueue(line, n < 0 ? 0 : (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
		return;
	}
	if (log_syslog)
		enqueue(line, syslog_format(line, sizeof(line), level_prio[level], msg));
	if (log_stderr || !log_syslog)
		fprintf(stderr, "%s: %s\n", log_progname, msg);
}

void log_pollfd(struct pollfd *p)
{
	int fd = sink_fd();

	p->fd = log_count && fd != -1 ? fd : -1;
	p->events = POLLOUT;
	p->revents = 0;
}

uint64_t log_next_ms(void)
{
	return log_count && log_syslog && sink_fd() == -1 && (log_paths[0][0] || log_paths[1][0])
	           ? log_retry_ms
	           : UINT64_MAX;
}

void log_flush(uint64_t now_ms)
{
	uint64_t n;

	if (log_count && log_syslog && sink_fd() == -1 && now_ms >= log_retry_ms) {
		reconnect();
		log_retry_ms = now_ms + LOG_RETRY_MS;
	}
	drain();
	if (log_count || log_unreported == 0)
		return;
	n = log_unreported;
	log_unreported = 0;
	log_warnx("log: %llu lines dropped since the last report: the log socket was full or gone",
	          (unsigned long long)n);
}

void log_flush_wait(int timeout_ms)
{
	for (int waited = 0; log_count && waited < timeout_ms; waited += 50) {
		struct pollfd p;

		if (sink_fd() == -1 && log_syslog)
			reconnect();
		log_pollfd(&p);
		if (p.fd != -1)
			poll(&p, 1, 50);
		else
			poll(NULL, 0, 50);
		drain();
	}
}

static void log_vmsg(enum log_level level, int with_errno, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void log_vmsg_note(enum log_level level, int with_errno, uint64_t suppressed,
                          const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

/* Format, add errno's text and the count of messages held back, emit. */
static void log_vmsg_note(enum log_level level, int with_errno, uint64_t suppressed,
                          const char *fmt, va_list ap)
{
	char buf[LOG_MSG_MAX];
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

/* A fatal error's line is out (or given a second) before the process ends. */
#define FATAL_FN(name, with_errno)                       \
	void name(const char *fmt, ...)                  \
	{                                                \
		va_list ap;                              \
		va_start(ap, fmt);                       \
		log_vmsg(LOG_LEVEL_ERROR, with_errno, fmt, ap); \
		va_end(ap);                              \
		log_flush_wait(1000);                    \
		exit(1);                                 \
	}

FATAL_FN(fatal, 1)
FATAL_FN(fatalx, 0)

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
