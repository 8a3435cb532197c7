/* ctl: control socket server: framing, limits, peer credentials, watchers. */
#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "priv.h"
#include "safedir.h"
#include "util.h"

struct ctl_client {
	int fd;
	int watch;
	int closing; /* close once the output is flushed */
	uint64_t since_ms;
	uint64_t deadline_ms;
	struct ctl_peer peer;
	char *in; /* grows up to CTL_MAX_REQUEST + 1; may hold keys: wiped */
	size_t inlen, incap;
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
	struct log_ratelimit rl, rl_busy;
};

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

int ctl_check_dir(const char *path, uid_t owner, char *err, size_t errlen)
{
	char dir[PATH_MAX], what[PATH_MAX + 32];
	const char *slash = strrchr(path, '/');

	if (slash == NULL || path[0] != '/') {
		seterr(err, errlen, "control socket %s: not an absolute path", path);
		return -1;
	}
	if ((size_t)(slash - path) >= sizeof(dir)) {
		seterr(err, errlen, "control socket %s: path too long", path);
		return -1;
	}
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash == path ? 1 : slash - path] = '\0';
	snprintf(what, sizeof(what), "control socket %s", path);
	return safedir_check(what, dir, owner, err, errlen);
}

/*
 * The socket's group, changed without following a link (lchown semantics):
 * had the path been swapped for a link, only the link itself would change.
 * Then prove the path is our socket with the mode the umask gave it.
 */
static int set_group(const char *path, const char *group, char *err, size_t errlen)
{
	struct stat st;
	gid_t gid;

	if (group != NULL && group[0] != '\0') {
		if (priv_lookup_group(group, &gid) == -1) {
			seterr(err, errlen, "control socket %s: control_group '%s' does not exist in /etc/group",
			       path, group);
			return -1;
		}
		if (fchownat(AT_FDCWD, path, (uid_t)-1, gid, AT_SYMLINK_NOFOLLOW) == -1)
			return ctl_fail(err, errlen, "chown", path);
	}
	if (lstat(path, &st) == -1)
		return ctl_fail(err, errlen, "cannot stat", path);
	if (!S_ISSOCK(st.st_mode) || (st.st_mode & 07777) != 0660) {
		seterr(err, errlen, "control socket %s: replaced while being created (mode %o)", path,
		       (unsigned)st.st_mode);
		return -1;
	}
	return 0;
}

/* Bind with mode 0660 from the umask: no chmod by path afterwards. */
static int bind_socket(int fd, const struct sockaddr_un *sun)
{
	mode_t old = umask(0117);
	int rc = bind(fd, (const struct sockaddr *)sun, sizeof(*sun));

	umask(old);
	return rc;
}

struct ctl *ctl_open(const char *path, const char *group, ctl_handler_fn fn, void *arg,
                     char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct ctl *c;
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
	if (ctl_check_dir(path, geteuid(), err, errlen) == -1 ||
	    remove_stale(path, &sun, err, errlen) == -1)
		return NULL;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		ctl_fail(err, errlen, "socket", path);
		return NULL;
	}
	if (bind_socket(fd, &sun) == -1) {
		ctl_fail(err, errlen, "bind", path);
		close(fd);
		return NULL;
	}
	if (set_group(path, group, err, errlen) == -1 || listen(fd, 64) == -1) {
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
	c->rl_busy = (struct log_ratelimit)LOG_RATELIMIT_INIT(10000, 1);
	return c;
}

static void client_free(struct ctl *c, size_t i)
{
	struct ctl_client *cl = c->clients[i];

	close(cl->fd);
	free(cl->out);
	if (cl->in) {
		sodium_memzero(cl->in, cl->incap);
		free(cl->in);
	}
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
	size_t len;
	char *s = ctl_line(obj, &len);
	int rc;

	if (s == NULL)
		return -1;
	rc = client_queue(cl, s, len, limit + 1);
	free(s);
	return rc;
}

/* How a client may be displaced: idle first, then a watcher, then one mid-request. */
static int displace_rank(const struct ctl_client *cl)
{
	if (cl->closing)
		return -1; /* answered already: about to go by itself */
	if (cl->watch)
		return 1;
	return cl->inlen == 0 ? 0 : 2;
}

enum pick { PICK_ANY, PICK_UID, PICK_NON_ROOT };

/*
 * The client to close so that a newcomer fits: the oldest of the lowest
 * rank up to max_rank, among all clients, those of uid, or the non-root
 * ones.  SIZE_MAX if none.
 */
static size_t pick_victim(const struct ctl *c, enum pick among, uid_t uid, int max_rank)
{
	size_t victim = SIZE_MAX;
	int best = max_rank + 1;

	for (size_t i = 0; i < c->nclients; i++) {
		const struct ctl_client *cl = c->clients[i];
		int rank = displace_rank(cl);

		if (rank < 0 || rank > max_rank || (among == PICK_UID && cl->peer.uid != uid) ||
		    (among == PICK_NON_ROOT && cl->peer.uid == 0))
			continue;
		if (rank < best || (rank == best && cl->since_ms < c->clients[victim]->since_ms)) {
			victim = i;
			best = rank;
		}
	}
	return victim;
}

static size_t uid_clients(const struct ctl *c, uid_t uid)
{
	size_t n = 0;

	for (size_t i = 0; i < c->nclients; i++)
		n += c->clients[i]->peer.uid == uid;
	return n;
}

size_t ctl_nwatchers(const struct ctl *c)
{
	size_t n = 0;

	for (size_t i = 0; i < c->nclients; i++)
		n += c->clients[i]->watch;
	return n;
}

/*
 * Make room for a newcomer of uid: 0, or -1 with *why set.  A non-root uid
 * past its own limit gives up its own oldest idle connection; a full table
 * gives up its oldest idle one; and root, whom a crowd must never lock
 * out, displaces a non-root client (idle, else a watcher, else any).
 */
static int make_room(struct ctl *c, uid_t uid, const char **why)
{
	size_t victim;

	if (uid != 0 && uid_clients(c, uid) >= CTL_MAX_PER_UID) {
		if ((victim = pick_victim(c, PICK_UID, uid, 0)) == SIZE_MAX) {
			*why = "too many control clients of this uid";
			return -1;
		}
		client_free(c, victim);
	}
	if (c->nclients < CTL_MAX_CLIENTS)
		return 0;
	victim = pick_victim(c, PICK_ANY, 0, 0);
	if (victim == SIZE_MAX && uid == 0)
		victim = pick_victim(c, PICK_NON_ROOT, 0, 2);
	if (victim == SIZE_MAX) {
		*why = "too many control clients";
		return -1;
	}
	client_free(c, victim);
	return 0;
}

static void refuse_busy(struct ctl *c, int fd, const char *why, const struct ucred *cred)
{
	json_t *e = ctl_error(CTL_E_BUSY, "%s", why);
	size_t len;
	char *s = ctl_line(e, &len);

	if (s) {
		ssize_t w = write(fd, s, len); /* best effort: it is closed either way */

		(void)w;
		free(s);
	}
	json_decref(e);
	close(fd);
	log_limited(&c->rl_busy, now_mono_ms(), LOG_LEVEL_WARN, 0,
	            "control client uid %u (pid %ld) refused: %s", (unsigned)cred->uid,
	            (long)cred->pid, why);
}

static void accept_clients(struct ctl *c, uint64_t now_ms)
{
	for (;;) {
		struct ctl_client *cl;
		socklen_t len = sizeof(struct ucred);
		struct ucred cred;
		const char *why = NULL;
		int fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd == -1)
			return;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
			close(fd); /* no credentials, no service */
			continue;
		}
		if (make_room(c, cred.uid, &why) == -1) {
			refuse_busy(c, fd, why, &cred);
			continue;
		}
		cl = xcalloc(1, sizeof(*cl));
		cl->fd = fd;
		cl->peer.pid = cred.pid;
		cl->peer.uid = cred.uid;
		cl->peer.gid = cred.gid;
		cl->since_ms = now_ms;
		cl->deadline_ms = now_ms + CTL_REQUEST_TIMEOUT_MS;
		c->clients[c->nclients++] = cl;
	}
}

static json_t *dispatch(struct ctl *c, struct ctl_client *cl, size_t len, int *watch)
{
	const char *command = NULL;
	json_t *req = ctl_decode_request(cl->in, len, &command), *reply;

	if (command == NULL)
		return req; /* the error */
	reply = c->fn(c->arg, command, req, &cl->peer, watch);
	json_decref(req);
	if (*watch && ctl_nwatchers(c) >= CTL_MAX_WATCHERS) {
		json_decref(reply);
		*watch = 0;
		reply = ctl_error(CTL_E_BUSY, "too many watch clients (%d)", CTL_MAX_WATCHERS);
	}
	return reply;
}

static void handle_request(struct ctl *c, struct ctl_client *cl, size_t len)
{
	int watch = 0;
	json_t *reply = dispatch(c, cl, len, &watch);

	if (client_send_json(cl, reply, CTL_MAX_REPLY) == -1) {
		json_t *e = ctl_error(CTL_E_TOO_LARGE, "reply too large");

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

/* Room to read more of a request, up to CTL_MAX_REQUEST; old copies wiped. */
static void client_grow(struct ctl_client *cl)
{
	size_t cap = cl->incap ? cl->incap * 4 : 1024;
	char *in;

	if (cl->inlen < cl->incap)
		return;
	if (cap > CTL_MAX_REQUEST)
		cap = CTL_MAX_REQUEST;
	in = xmalloc(cap);
	if (cl->in) {
		memcpy(in, cl->in, cl->inlen);
		sodium_memzero(cl->in, cl->incap); /* not realloc: it would leave a copy */
		free(cl->in);
	}
	cl->in = in;
	cl->incap = cap;
}

/* A request ended, or grew too long: answer it. */
static void client_request(struct ctl *c, struct ctl_client *cl, const char *nl)
{
	if (nl) {
		handle_request(c, cl, (size_t)(nl - cl->in));
		sodium_memzero(cl->in, cl->incap); /* it may have carried keys */
	} else {
		json_t *e = ctl_error(CTL_E_TOO_LARGE, "request longer than %d bytes", CTL_MAX_REQUEST);

		client_send_json(cl, e, CTL_MAX_REPLY);
		json_decref(e);
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
	do { /* until the socket is drained, the request ends or reaches its limit */
		client_grow(cl);
		r = read(cl->fd, cl->in + cl->inlen, cl->incap - cl->inlen);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
			return -1;
		if (r < 0)
			return 0;
		nl = memchr(cl->in + cl->inlen, '\n', (size_t)r);
		cl->inlen += (size_t)r;
		if (nl || cl->inlen == CTL_MAX_REQUEST) {
			client_request(c, cl, nl);
			return 0;
		}
	} while (cl->inlen == cl->incap);
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
		int slow;

		if (!cl->watch)
			continue;
		slow = client_send_json(cl, event, CTL_WATCH_BACKLOG) == -1;
		if (!slow && client_write(cl) == 0)
			continue;
		if (slow) { /* otherwise it hung up: nothing to count */
			c->dropped_watchers++;
			log_limited(&c->rl, now_mono_ms(), LOG_LEVEL_WARN, 0,
			            "dropped a watch client (pid %ld) that does not read its events",
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
