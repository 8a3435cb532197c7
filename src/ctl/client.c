/* client: the control client; every wait has a deadline (see src/ctl/client.h). */
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctlfmt.h"
#include "util.h"

void client_init(struct client *c, const char *path, uint64_t timeout_ms,
                 const struct clock *clk)
{
	memset(c, 0, sizeof(*c));
	c->path = path;
	c->timeout_ms = timeout_ms ? timeout_ms : CLIENT_TIMEOUT_MS;
	c->clk = clk ? clk : &clock_system;
	c->fd = -1;
}

void client_close(struct client *c)
{
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	c->off = c->len = 0;
	c->partial = 0;
}

void client_fini(struct client *c)
{
	client_close(c);
	free(c->buf);
	c->buf = NULL;
	c->cap = 0;
}

static enum client_status __attribute__((format(printf, 3, 4)))
fail(struct client *c, enum client_status st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return st;
}

const char *client_hint(const struct client *c)
{
	return c->refused ? "\n  is cmemd running (pgrep cmemd)? is this the socket named by "
	                    "control_socket in its configuration? use -s to name another one; "
	                    "reading it needs membership of the socket's group."
	                  : "";
}

/*
 * A listener whose backlog is full (a daemon that stopped accepting) makes
 * connect() wait: SO_SNDTIMEO bounds that wait.  Then the socket is made
 * non-blocking and every later wait is a poll with a deadline.
 */
static enum client_status client_connect(struct client *c)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = (time_t)(c->timeout_ms / 1000),
		              .tv_usec = (suseconds_t)(c->timeout_ms % 1000) * 1000 };

	client_close(c);
	c->refused = 0;
	if (strlen(c->path) >= sizeof(sun.sun_path)) {
		c->refused = 1;
		return fail(c, CLIENT_UNREACHABLE, "cannot reach cmemd at %s: %s", c->path,
		            strerror(ENAMETOOLONG));
	}
	memcpy(sun.sun_path, c->path, strlen(c->path) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd == -1 || setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1 ||
	    connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		int e = errno;

		client_close(c);
		if (e == EAGAIN || e == EINTR)
			return fail(c, CLIENT_UNREACHABLE, "cmemd at %s did not accept the connection "
			            "within %.3g s (stopped or stuck?)", c->path, c->timeout_ms / 1000.0);
		c->refused = 1;
		return fail(c, CLIENT_UNREACHABLE, "cannot reach cmemd at %s: %s", c->path, strerror(e));
	}
	if (fcntl(c->fd, F_SETFL, O_NONBLOCK) == -1)
		return fail(c, CLIENT_UNREACHABLE, "cannot use the connection to %s: %s", c->path,
		            strerror(errno));
	return CLIENT_OK;
}

/* Wait until the socket is ready for events, or say what did not happen by end. */
static enum client_status client_wait(struct client *c, short events, uint64_t end,
                                      const char *what)
{
	struct pollfd pfd = { .fd = c->fd, .events = events };
	uint64_t now = clock_mono_ms(c->clk);

	if (now >= end)
		return fail(c, CLIENT_UNREACHABLE, "cmemd at %s did not %s within %.3g s (stopped or "
		            "stuck?)", c->path, what, c->timeout_ms / 1000.0);
	if (poll(&pfd, 1, end - now > 60000 ? 60000 : (int)(end - now)) == -1 && errno != EINTR)
		return fail(c, CLIENT_UNREACHABLE, "poll: %s", strerror(errno));
	return CLIENT_OK;
}

/* The request may carry keys: its text is wiped whatever happens. */
static enum client_status client_send(struct client *c, json_t *req)
{
	size_t len = 0, off = 0;
	char *s = ctl_line(req, &len);
	uint64_t end = clock_mono_ms(c->clk) + c->timeout_ms;
	enum client_status st = CLIENT_OK;

	if (s == NULL)
		return fail(c, CLIENT_ERROR, "cannot encode the request");
	while (off < len && st == CLIENT_OK) {
		ssize_t w = write(c->fd, s + off, len - off);

		if (w >= 0)
			off += (size_t)w;
		else if (errno == EAGAIN)
			st = client_wait(c, POLLOUT, end, "take the request");
		else if (errno != EINTR)
			st = fail(c, CLIENT_UNREACHABLE, "cannot send to %s: %s", c->path, strerror(errno));
	}
	sodium_memzero(s, len);
	free(s);
	return st;
}

/*
 * Key material goes to root only: the process listening on the socket we
 * reached must be root (SO_PEERCRED of a connected socket names the peer
 * as it was at listen()).  A socket someone else put at the path gets
 * nothing.
 */
static enum client_status client_peer_root(struct client *c)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
		return fail(c, CLIENT_ERROR, "cannot tell who listens on %s (%s): no key sent", c->path,
		            strerror(errno));
	if (cred.uid != 0)
		return fail(c, CLIENT_ERROR, "refusing to send key material to %s: the process "
		            "listening there (pid %ld) runs as uid %u, not root; a cmemd started by "
		            "root listens as root (doc/CONTROL.md)", c->path, (long)cred.pid,
		            (unsigned)cred.uid);
	return CLIENT_OK;
}

int client_fill(struct client *c)
{
	size_t max = CTL_MAX_REPLY + 1; /* a longest line and its newline */
	ssize_t n;

	if (c->off > 0) {
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	if (c->cap - c->len < 4096 && c->cap < max) {
		c->cap = c->cap ? 2 * c->cap : 16384;
		c->cap = c->cap > max ? max : c->cap;
		c->buf = xreallocarray(c->buf, c->cap, 1);
	}
	if (c->len == c->cap)
		return 1; /* full: client_next() says the line is too long */
	n = read(c->fd, c->buf + c->len, c->cap - c->len);
	if (n > 0)
		c->len += (size_t)n;
	else if (n == 0)
		return 0;
	else if (errno != EAGAIN && errno != EINTR)
		return fail(c, CLIENT_UNREACHABLE, "cannot read from %s: %s", c->path, strerror(errno)),
		       -1;
	return 1;
}

int client_next(struct client *c, json_t **out)
{
	char *line = c->len > c->off ? c->buf + c->off : NULL;
	char *nl = line ? memchr(line, '\n', c->len - c->off) : NULL;
	char why[256];
	json_error_t jerr;
	json_t *j;

	if (nl == NULL) {
		if (c->len - c->off > CTL_MAX_REPLY)
			return fail(c, CLIENT_ERROR, "garbled reply from %s: a line longer than %u bytes",
			            c->path, CTL_MAX_REPLY), -1;
		if (c->len > c->off && !c->partial) {
			c->partial = 1;
			c->line_since_ms = clock_mono_ms(c->clk);
		}
		return 0;
	}
	c->partial = 0;
	c->off += (size_t)(nl - line) + 1;
	j = json_loadb(line, (size_t)(nl - line), 0, &jerr);
	if (j == NULL || !json_is_object(j)) {
		ctlfmt_escape(why, sizeof(why), j == NULL ? jerr.text : "not a JSON object");
		json_decref(j);
		return fail(c, CLIENT_ERROR, "garbled reply from %s: %s", c->path, why), -1;
	}
	*out = j;
	return 1;
}

int client_line_wait(const struct client *c, uint64_t now)
{
	uint64_t end = c->line_since_ms + c->timeout_ms;

	if (!c->partial)
		return -1;
	return end <= now ? 0 : end - now > 60000 ? 60000 : (int)(end - now);
}

int client_line_overdue(struct client *c, uint64_t now)
{
	if (client_line_wait(c, now) != 0)
		return 0;
	fail(c, CLIENT_UNREACHABLE, "cmemd at %s sent part of a line, then nothing for %.3g s "
	     "(stopped or stuck?)", c->path, c->timeout_ms / 1000.0);
	return 1;
}

/* The reply line, within the time limit. */
static enum client_status client_reply(struct client *c, json_t **reply)
{
	uint64_t end = clock_mono_ms(c->clk) + c->timeout_ms;
	enum client_status st;
	int r;

	while ((r = client_next(c, reply)) == 0) {
		if ((st = client_wait(c, POLLIN, end, "answer")) != CLIENT_OK)
			return st;
		if ((r = client_fill(c)) == 0)
			return fail(c, CLIENT_UNREACHABLE, "cmemd at %s closed the connection without "
			            "answering", c->path);
		if (r == -1)
			return CLIENT_UNREACHABLE;
	}
	return r == 1 ? CLIENT_OK : CLIENT_ERROR;
}

/* Its version first: a reply of another version is not read further. */
static enum client_status client_check(struct client *c, json_t *reply)
{
	char msg[256], code[64];
	json_t *v = json_object_get(reply, "version");

	switch (ctl_check_reply(reply)) {
	case CTL_REPLY_OK:
		return CLIENT_OK;
	case CTL_REPLY_NO_VERSION:
		return fail(c, CLIENT_ERROR, "the reply from %s names no control protocol version: is "
		            "it a cmemd socket?", c->path);
	case CTL_REPLY_VERSION:
		return fail(c, CLIENT_ERROR, "cmemd at %s speaks control protocol version %lld, this "
		            "cmemctl speaks version %d: use the cmemctl that came with this cmemd",
		            c->path, (long long)json_integer_value(v), CTL_VERSION);
	case CTL_REPLY_ERROR:
		break;
	}
	ctlfmt_escape(msg, sizeof(msg),
	              json_string_value(json_object_get(reply, "error")) ?: "error without a message");
	ctlfmt_escape(code, sizeof(code), json_string_value(json_object_get(reply, "code")) ?: "no code");
	return fail(c, CLIENT_ERROR, "cmemd: %s (%s)", msg, code);
}

enum client_status client_ask(struct client *c, json_t *req, int flags, json_t **reply)
{
	enum client_status st = client_connect(c);

	*reply = NULL;
	if (st == CLIENT_OK && (flags & CLIENT_TO_ROOT))
		st = client_peer_root(c);
	if (st == CLIENT_OK)
		st = client_send(c, req);
	if (st == CLIENT_OK)
		st = client_reply(c, reply);
	if (st == CLIENT_OK && (st = client_check(c, *reply)) != CLIENT_OK) {
		json_decref(*reply);
		*reply = NULL;
	}
	if (st != CLIENT_OK)
		client_close(c);
	return st;
}
