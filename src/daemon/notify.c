/* notify: READY/STATUS/WATCHDOG/STOPPING to the service manager's socket. */
#include "notify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h"

/* The address in $NOTIFY_SOCKET: an absolute path, or "@name" (abstract). */
static int notify_addr(const char *s, struct sockaddr_un *sun, socklen_t *len, char *err,
                       size_t errlen)
{
	size_t n = strlen(s);

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (s[0] != '/' && s[0] != '@') {
		seterr(err, errlen, "NOTIFY_SOCKET=%s: not an absolute path or an @abstract name", s);
		return -1;
	}
	if (n < 2 || n >= sizeof(sun->sun_path)) {
		seterr(err, errlen, "NOTIFY_SOCKET=%s: a socket name is 1 to %zu characters", s,
		       sizeof(sun->sun_path) - 2);
		return -1;
	}
	memcpy(sun->sun_path, s, n);
	if (s[0] == '@') {
		sun->sun_path[0] = '\0'; /* abstract: no terminating NUL, the length says where it ends */
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	}
	return 0;
}

/* A strictly decimal, non-zero environment value, or 0 when unset or invalid. */
static uint64_t env_u64(const char *name)
{
	const char *s = getenv(name);
	uint64_t v;

	if (s == NULL || parse_u64_str(s, &v) == -1)
		return 0;
	return v;
}

int notify_open(struct notify *n, char *err, size_t errlen)
{
	const char *s = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	socklen_t len;
	uint64_t pid;
	int fd;

	memset(n, 0, sizeof(*n));
	n->fd = -1;
	n->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(60000, 1);
	n->watchdog_usec = env_u64("WATCHDOG_USEC");
	pid = env_u64("WATCHDOG_PID");
	n->watchdog_pid = pid > 0 && pid <= INT32_MAX ? (pid_t)pid : 0;
	/* nothing we start should think the manager is talking to it */
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	if (s == NULL)
		return 0;
	if (notify_addr(s, &sun, &len, err, errlen) == -1) {
		unsetenv("NOTIFY_SOCKET");
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1 || connect(fd, (struct sockaddr *)&sun, len) == -1) {
		seterr(err, errlen, "NOTIFY_SOCKET=%s: %s", s, strerror(errno));
		if (fd != -1)
			close(fd);
		unsetenv("NOTIFY_SOCKET");
		return -1;
	}
	unsetenv("NOTIFY_SOCKET"); /* s points into the environment: used up to here */
	n->fd = fd;
	n->active = 1;
	return 0;
}

uint64_t notify_start(struct notify *n, pid_t pid, int forked, uint64_t now_ms)
{
	if (!n->active)
		return 0;
	n->mainpid = forked ? pid : 0;
	if (n->watchdog_usec == 0 || (n->watchdog_pid != 0 && n->watchdog_pid != pid))
		return 0;
	n->watchdog_ms = n->watchdog_usec / 2000;
	if (n->watchdog_ms == 0)
		n->watchdog_ms = 1;
	n->next_watchdog_ms = now_ms + n->watchdog_ms;
	return n->watchdog_ms;
}

/* One datagram; never blocks the loop (the socket is non-blocking). */
static void notify_send(struct notify *n, const char *msg, uint64_t now_ms)
{

	if (send(n->fd, msg, strlen(msg), MSG_NOSIGNAL) == (ssize_t)strlen(msg))
		return;
	n->send_errors++;
	log_limited(&n->rl, now_ms, LOG_LEVEL_WARN, 1, "cannot notify the service manager (%.*s)",
	            (int)strcspn(msg, "=\n"), msg);
}

void notify_ready(struct notify *n)
{
	char msg[64];

	if (!n->active)
		return;
	if (n->mainpid)
		snprintf(msg, sizeof(msg), "READY=1\nMAINPID=%ld", (long)n->mainpid);
	else
		snprintf(msg, sizeof(msg), "READY=1");
	notify_send(n, msg, now_mono_ms());
}

static void send_status(struct notify *n, const char *msg, uint64_t now_ms)
{
	notify_send(n, msg, now_ms);
	snprintf(n->sent, sizeof(n->sent), "%s", msg);
	n->pending[0] = '\0';
	n->next_status_ms = now_ms + NOTIFY_STATUS_MS;
}

void notify_status(struct notify *n, size_t alive, size_t failed, size_t left, uint64_t now_ms)
{
	char msg[NOTIFY_STATUS_MAX];
	size_t counts[3] = { alive, failed, left };

	if (!n->active)
		return;
	/* called at every wake-up of the loop: the same counts as last time change nothing
	 * (a held-back message goes out from notify_timers) */
	if (n->have_counts && memcmp(counts, n->counts, sizeof(counts)) == 0)
		return;
	memcpy(n->counts, counts, sizeof(counts));
	n->have_counts = 1;
	snprintf(msg, sizeof(msg), "STATUS=%zu alive, %zu failed, %zu left", alive, failed, left);
	if (strcmp(msg, n->sent) == 0) {
		n->pending[0] = '\0'; /* back to what the manager shows: nothing to say */
		return;
	}
	if (now_ms < n->next_status_ms) {
		snprintf(n->pending, sizeof(n->pending), "%s", msg);
		return;
	}
	send_status(n, msg, now_ms);
}

void notify_stopping(struct notify *n)
{
	if (n->active)
		notify_send(n, "STOPPING=1", now_mono_ms());
}

void notify_timers(struct notify *n, uint64_t now_ms)
{
	if (!n->active)
		return;
	if (n->pending[0] && now_ms >= n->next_status_ms) {
		char msg[NOTIFY_STATUS_MAX];

		memcpy(msg, n->pending, sizeof(msg));
		send_status(n, msg, now_ms);
	}
	if (n->watchdog_ms && now_ms >= n->next_watchdog_ms) {
		notify_send(n, "WATCHDOG=1", now_ms);
		n->next_watchdog_ms += n->watchdog_ms;
		if (n->next_watchdog_ms <= now_ms) /* we were stalled: do not burst */
			n->next_watchdog_ms = now_ms + n->watchdog_ms;
	}
}

uint64_t notify_next_ms(const struct notify *n)
{
	uint64_t next = UINT64_MAX;

	if (!n->active)
		return next;
	if (n->pending[0])
		next = n->next_status_ms;
	if (n->watchdog_ms && n->next_watchdog_ms < next)
		next = n->next_watchdog_ms;
	return next;
}

void notify_close(struct notify *n)
{
	if (n->active)
		close(n->fd);
	n->active = 0;
	n->fd = -1;
}
