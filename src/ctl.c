/* ctl: control socket server: framing, limits, peer credentials, watchers. */
#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "priv.h"
#include "util.h"

struct ctl_client {
	int fd;
	int watch;
	int closing; /* close once the output is flushed */
	uint64_t deadline_ms;
	struct ctl_peer peer;
	size_t inlen;
	char in[CTL_MAX_REQUEST + 1];
	char *out;
	size_t outlen, outoff, outcap;
};

struct ctl {
	int fd;
	ctl_handler_fn fn;
	void *arg;
	struct ctl_client *clients[CTL_MAX_CLIENTS];
	size_t nclients;
	uint64_t dropped_watchers;
	struct log_ratelimit rl;
};

static void wipe_free(void *p)
{
	if (p) {
		sodium_memzero(p, malloc_usable_size(p));
		free(p);
	}
}

void ctl_json_wipe_on_free(void)
{
	json_set_alloc_funcs(malloc, wipe_free);
}

json_t *ctl_ok(void)
{
	return json_pack("{s:s}", "status", "ok");
}

json_t *ctl_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return json_pack("{s:s, s:s}", "status", "error", "error", msg);
}

static int ctl_fail(char *err, size_t errlen, const char *what, const char *path)
{
	snprintf(err, errlen, "control socket %s: %s: %s", path, what, strerror(errno));
	return -1;
}

/* A socket file that still answers means another daemon owns it. */
static int remove_stale(const char *path, const struct sockaddr_un *sun, char *err,
                        size_t errlen)
{
	struct stat st;
	int fd;

	if (lstat(path, &st) == -1)
		return errno == ENOENT ? 0 : ctl_fail(err, errlen, "cannot stat", path);
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "control socket %s: exists and is not a socket", path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return ctl_fail(err, errlen, "socket", path);
	if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0) {
		close(fd);
		snprintf(err, errlen, "control socket %s: another cmemd answers on it", path);
		return -1;
	}
	close(fd);
	if (unlink(path) == -1)
		return ctl_fail(err, errlen, "cannot remove stale socket", path);
	return 0;
}

static int make_parent_dir(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

static int set_owner(const char *path, const char *group, char *err, size_t errlen)
{
	gid_t gid;

	if (chmod(path, 0660) == -1)
		return ctl_fail(err, errlen, "chmod", path);
	if (group == NULL || group[0] == '\0')
		return 0;
	if (priv_lookup_group(group, &gid) == -1) {
		snprintf(err, errlen, "control socket %s: control_group '%s' does not exist in /etc/group",
		         path, group);
		return -1;
	}
	if (chown(path, (uid_t)-1, gid) == -1)
		return ctl_fail(err, errlen, "chown", path);
	return 0;
}

struct ctl *ctl_open(const char *path, const char *group, ctl_handler_fn fn, void *arg,
                     char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct ctl *c;
	mode_t old;
	int fd;

	err[0] = '\0';
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "control socket %s: path too long", path);
		return NULL;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (make_parent_dir(path) == -1) {
		ctl_fail(err, errlen, "cannot create its directory", path);
		return NULL;
	}
	if (remove_stale(path, &sun, err, errlen) == -1)
		return NULL;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		ctl_fail(err, errlen, "socket", path);
		return NULL;
	}
	old = umask(0117);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old);
		ctl_fail(err, errlen, "bind", path);
		close(fd);
		return NULL;
	}
	umask(old);
	if (set_owner(path, group, err, errlen) == -1 || listen(fd, 64) == -1) {
		if (err[0] == '\0')
			ctl_fail(err, errlen, "listen", path);
		close(fd);
		unlink(path);
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->fd = fd;
	c->fn = fn;
	c->arg = arg;
	c->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(1000, 3);
	return c;
}

static void client_free(struct ctl *c, size_t i)
{
	struct ctl_client *cl = c->clients[i];

	close(cl->fd);
	free(cl->out);
	sodium_memzero(cl->in, cl->inlen);
	free(cl);
	c->clients[i] = c->clients[--c->nclients];
	c->clients[c->nclients] = NULL;
}

void ctl_close(struct ctl *c)
{
	if (c == NULL)
		return;
	while (c->nclients)
		client_free(c, c->nclients - 1);
	close(c->fd);
	free(c);
}

/* Queue text for a client; -1 if its backlog would pass the limit. */
static int client_queue(struct ctl_client *cl, const char *s, size_t len, size_t limit)
{
	if (cl->outoff > 0 && cl->outoff == cl->outlen)
		cl->outoff = cl->outlen = 0;
	if (cl->outlen - cl->outoff + len > limit)
		return -1;
	if (cl->outlen + len > cl->outcap) {
		if (cl->outoff > 0) {
			memmove(cl->out, cl->out + cl->outoff, cl->outlen - cl->outoff);
			cl->outlen -= cl->outoff;
			cl->outoff = 0;
		}
		if (cl->outlen + len > cl->outcap) {
			cl->outcap = cl->outlen + len + 4096;
			cl->out = xreallocarray(cl->out, cl->outcap, 1);
		}
	}
	memcpy(cl->out + cl->outlen, s, len);
	cl->outlen += len;
	return 0;
}

static int client_send_json(struct ctl_client *cl, json_t *obj, size_t limit)
{
	char *s;
	int rc;

	if (json_object_get(obj, "version") == NULL)
		json_object_set_new(obj, "version", json_integer(CTL_VERSION));
	s = json_dumps(obj, JSON_COMPACT);
	if (s == NULL)
		return -1;
	rc = client_queue(cl, s, strlen(s), limit);
	if (rc == 0)
		rc = client_queue(cl, "\n", 1, limit + 1);
	free(s);
	return rc;
}

/* At the limit, a new client takes the place of the oldest idle one. */
static void evict_idle(struct ctl *c)
{
	size_t victim = SIZE_MAX;

	for (size_t i = 0; i < c->nclients; i++) {
		const struct ctl_client *cl = c->clients[i];

		if (!cl->watch && !cl->closing && cl->inlen == 0 &&
		    (victim == SIZE_MAX || cl->deadline_ms < c->clients[victim]->deadline_ms))
			victim = i;
	}
	if (victim != SIZE_MAX)
		client_free(c, victim);
}

static void accept_clients(struct ctl *c, uint64_t now_ms)
{
	for (;;) {
		struct ctl_client *cl;
		socklen_t len = sizeof(struct ucred);
		struct ucred cred;
		int fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd == -1)
			return;
		if (c->nclients == CTL_MAX_CLIENTS)
			evict_idle(c);
		if (c->nclients == CTL_MAX_CLIENTS ||
		    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
			static const char busy[] =
			    "{\"status\":\"error\",\"error\":\"too many control clients\",\"version\":1}\n";
			ssize_t w = write(fd, busy, sizeof(busy) - 1);

			(void)w;
			close(fd);
			continue;
		}
		cl = xcalloc(1, sizeof(*cl));
		cl->fd = fd;
		cl->peer.pid = cred.pid;
		cl->peer.uid = cred.uid;
		cl->peer.gid = cred.gid;
		cl->deadline_ms = now_ms + CTL_REQUEST_TIMEOUT_MS;
		c->clients[c->nclients++] = cl;
	}
}

static json_t *check_request(const char *line, size_t len, const char **command)
{
	json_error_t jerr;
	json_t *req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr), *v;

	if (req == NULL)
		return ctl_error("malformed request: %s", jerr.text);
	if (!json_is_object(req)) {
		json_decref(req);
		return ctl_error("malformed request: not a JSON object");
	}
	v = json_object_get(req, "version");
	if (!json_is_integer(v)) {
		json_decref(req);
		return ctl_error("request carries no protocol version");
	}
	if (json_integer_value(v) != CTL_VERSION) {
		json_t *e = ctl_error("control protocol version %lld is not supported: this cmemd "
		                      "speaks version %d (use a matching cmemctl)",
		                      (long long)json_integer_value(v), CTL_VERSION);

		json_decref(req);
		return e;
	}
	v = json_object_get(req, "command");
	if (!json_is_string(v)) {
		json_decref(req);
		return ctl_error("request names no command");
	}
	*command = json_string_value(v);
	return req;
}

static void handle_request(struct ctl *c, struct ctl_client *cl, size_t len)
{
	const char *command = NULL;
	json_t *req = check_request(cl->in, len, &command), *reply;
	int watch = 0;

	if (command == NULL) {
		reply = req; /* the error */
	} else {
		reply = c->fn(c->arg, command, req, &cl->peer, &watch);
		json_decref(req);
	}
	if (client_send_json(cl, reply, CTL_MAX_REPLY) == -1) {
		json_t *e = ctl_error("reply too large");

		cl->outlen = cl->outoff = 0;
		client_send_json(cl, e, CTL_MAX_REPLY);
		json_decref(e);
		watch = 0;
	}
	json_decref(reply);
	if (watch) {
		cl->watch = 1;
		cl->deadline_ms = UINT64_MAX;
	} else {
		cl->closing = 1;
	}
}

/* Read what the client sent; returns -1 when the connection must go. */
static int client_read(struct ctl *c, struct ctl_client *cl)
{
	char *nl;
	ssize_t r;

	if (cl->watch || cl->closing) { /* nothing more is expected: drain, notice EOF */
		char sink[512];

		r = read(cl->fd, sink, sizeof(sink));
		return r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR) ? -1 : 0;
	}
	r = read(cl->fd, cl->in + cl->inlen, CTL_MAX_REQUEST - cl->inlen);
	if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
		return -1;
	if (r < 0)
		return 0;
	cl->inlen += (size_t)r;
	nl = memchr(cl->in, '\n', cl->inlen);
	if (nl) {
		handle_request(c, cl, (size_t)(nl - cl->in));
		sodium_memzero(cl->in, cl->inlen); /* it may have carried keys */
	} else if (cl->inlen == CTL_MAX_REQUEST) {
		json_t *e = ctl_error("request longer than %d bytes", CTL_MAX_REQUEST);

		client_send_json(cl, e, CTL_MAX_REPLY);
		json_decref(e);
		cl->closing = 1;
	}
	return 0;
}

/* Write pending output; -1 when the connection must go. */
static int client_write(struct ctl_client *cl)
{
	while (cl->outoff < cl->outlen) {
		ssize_t w = write(cl->fd, cl->out + cl->outoff, cl->outlen - cl->outoff);

		if (w < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		cl->outoff += (size_t)w;
	}
	return cl->closing ? -1 : 0;
}

size_t ctl_pollfds(struct ctl *c, struct pollfd *pfd, size_t max)
{
	size_t n = 0;

	if (max == 0)
		return 0;
	pfd[n++] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
	for (size_t i = 0; i < c->nclients && n < max; i++) {
		const struct ctl_client *cl = c->clients[i];

		pfd[n++] = (struct pollfd){ .fd = cl->fd,
			                    .events = (short)(POLLIN | (cl->outoff < cl->outlen ? POLLOUT : 0)) };
	}
	return n;
}

static size_t find_client(const struct ctl *c, int fd)
{
	for (size_t i = 0; i < c->nclients; i++)
		if (c->clients[i]->fd == fd)
			return i;
	return SIZE_MAX;
}

void ctl_process(struct ctl *c, const struct pollfd *pfd, size_t n, uint64_t now_ms)
{
	for (size_t k = 1; k < n; k++) {
		size_t i = find_client(c, pfd[k].fd);
		struct ctl_client *cl;
		int drop = 0;

		if (i == SIZE_MAX || pfd[k].revents == 0)
			continue;
		cl = c->clients[i];
		if (pfd[k].revents & (POLLIN | POLLHUP | POLLERR))
			drop = client_read(c, cl) == -1;
		if (!drop && cl->outoff < cl->outlen)
			drop = client_write(cl) == -1;
		if (drop)
			client_free(c, i);
	}
	if (n > 0 && (pfd[0].revents & POLLIN))
		accept_clients(c, now_ms);
}

void ctl_expire(struct ctl *c, uint64_t now_ms)
{
	for (size_t i = c->nclients; i-- > 0;)
		if (c->clients[i]->deadline_ms <= now_ms)
			client_free(c, i);
}

void ctl_broadcast(struct ctl *c, json_t *event)
{
	for (size_t i = c->nclients; i-- > 0;) {
		struct ctl_client *cl = c->clients[i];
		uint64_t suppressed;
		int slow;

		if (!cl->watch)
			continue;
		slow = client_send_json(cl, event, CTL_WATCH_BACKLOG) == -1;
		if (!slow && client_write(cl) == 0)
			continue;
		if (slow) { /* otherwise it hung up: nothing to count */
			c->dropped_watchers++;
			if (log_ratelimit_allow(&c->rl, now_mono_ms(), &suppressed))
				log_warnx("dropped a watch client (pid %ld) that does not read its events",
				          (long)cl->peer.pid);
		}
		client_free(c, i);
	}
}

size_t ctl_nclients(const struct ctl *c)
{
	return c->nclients;
}

uint64_t ctl_dropped_watchers(const struct ctl *c)
{
	return c->dropped_watchers;
}
