/* hook: watch --exec / --follow machinery (see src/ctl/hook.h). */
#include "hook.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "ctlfmt.h"
#include "ctlproto.h"
#include "util.h"

/* ---- the bounded FIFO ---- */

void hook_queue_init(struct hook_queue *q, size_t cap)
{
	memset(q, 0, sizeof(*q));
	q->cap = cap ? cap : 1;
	q->ev = xcalloc(q->cap, sizeof(*q->ev));
}

void hook_queue_fini(struct hook_queue *q)
{
	json_t *e;

	while ((e = hook_queue_pop(q)) != NULL)
		json_decref(e);
	free(q->ev);
	q->ev = NULL;
}

int hook_queue_push(struct hook_queue *q, json_t *ev)
{
	/*
	 * Once full, keep dropping until the handler has caught up: the
	 * resync that follows then covers every event dropped, and the
	 * handler never sees a gap it is not told about.
	 */
	if (q->overflowed || q->len == q->cap) {
		q->overflowed = 1;
		q->dropped++;
		json_decref(ev);
		return -1;
	}
	q->ev[(q->head + q->len++) % q->cap] = ev;
	return 0;
}

json_t *hook_queue_pop(struct hook_queue *q)
{
	json_t *e;

	if (q->len == 0)
		return NULL;
	e = q->ev[q->head];
	q->ev[q->head] = NULL;
	q->head = (q->head + 1) % q->cap;
	q->len--;
	return e;
}

uint64_t hook_queue_resync_due(struct hook_queue *q)
{
	uint64_t n = q->dropped;

	if (!q->overflowed || q->len > 0)
		return 0;
	q->overflowed = 0;
	q->dropped = 0;
	return n;
}

/* ---- the handler's input ---- */

static const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

char *hook_members_env(json_t *members, size_t max)
{
	size_t i, len = 0;
	json_t *m;
	char *s;

	json_array_foreach(members, i, m)
		len += strlen(jstr(m, "name")) + strlen(jstr(m, "state")) + 2;
	if (len > max)
		return NULL;
	s = xmalloc(len + 1);
	s[0] = '\0';
	len = 0;
	json_array_foreach(members, i, m)
		len += (size_t)sprintf(s + len, "%s%s=%s", len ? " " : "", jstr(m, "name"), jstr(m, "state"));
	return s;
}

json_t *hook_resync(json_t *reply, const char *reason, uint64_t dropped, uint64_t time_s)
{
	json_t *members = json_object_get(reply, "members");

	return json_pack("{s:s, s:s, s:I, s:I, s:s, s:O}", "event", "resync", "reason", reason,
	                 "dropped", (json_int_t)dropped, "time", (json_int_t)time_s, "self",
	                 jstr(reply, "self"), "members", members ? members : json_array());
}

/* The event's JSON line in an unlinked file, to be the handler's stdin. */
static int event_stdin(json_t *ev, char *err, size_t errlen)
{
	char *s = json_dumps(ev, JSON_COMPACT);
	int fd = memfd_create("cmem-event", MFD_CLOEXEC);
	size_t len = s ? strlen(s) : 0;

	if (s == NULL || fd == -1 || write(fd, s, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
	    lseek(fd, 0, SEEK_SET) != 0) {
		seterr(err, errlen, "cannot prepare the handler's input: %s", strerror(errno));
		if (fd != -1)
			close(fd);
		fd = -1;
	}
	free(s);
	return fd;
}

/* In the forked child: the handler's environment, signals and stdin, then exec. */
static void __attribute__((noreturn))
child_exec(const char *cmd, json_t *ev, const char *members, int in)
{
	char inc[32];
	sigset_t none;

	setpgid(0, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL); /* ignored by cmemctl, which exec would pass on */
	if (dup2(in, STDIN_FILENO) == -1)
		_exit(126);
	snprintf(inc, sizeof(inc), "%lld", (long long)json_integer_value(json_object_get(ev, "incarnation")));
	setenv("CMEM_EVENT", jstr(ev, "event"), 1);
	setenv("CMEM_MEMBER", jstr(ev, "member"), 1);
	setenv("CMEM_ADDRESS", jstr(ev, "address"), 1);
	setenv("CMEM_INCARNATION", inc, 1);
	if (strcmp(jstr(ev, "event"), "resync") == 0)
		setenv("CMEM_DETAIL", jstr(ev, "reason"), 1);
	else
		setenv("CMEM_DETAIL", jstr(ev, "detail"), 1);
	if (members)
		setenv("CMEM_MEMBERS", members, 1);
	else
		unsetenv("CMEM_MEMBERS");
	execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
	_exit(127);
}

/* ---- one handler run ---- */

void hook_child_init(struct hook_child *c)
{
	memset(c, 0, sizeof(*c));
	c->pidfd = -1;
}

/* "event failed of node-2" for the reports, escaped: it came from the socket. */
static void describe(char *buf, size_t len, json_t *ev)
{
	int resync = strcmp(jstr(ev, "event"), "resync") == 0;
	char *e = ctlfmt_escape_dup(jstr(ev, "event")), *x = ctlfmt_escape_dup(jstr(ev, resync ? "reason" : "member"));

	snprintf(buf, len, resync ? "event %s (%s)" : "event %s of %s", e, x);
	free(e);
	free(x);
}

int hook_child_start(struct hook_child *c, const char *cmd, json_t *ev, uint64_t now,
                     uint64_t timeout_ms, char *err, size_t errlen)
{
	char *members = NULL;
	int in;
	pid_t pid;

	if ((in = event_stdin(ev, err, errlen)) == -1)
		return -1;
	if (json_is_array(json_object_get(ev, "members")))
		members = hook_members_env(json_object_get(ev, "members"), HOOK_MEMBERS_ENV_MAX);
	pid = fork();
	if (pid == 0)
		child_exec(cmd, ev, members, in);
	free(members);
	close(in);
	if (pid == -1) {
		seterr(err, errlen, "cannot start the handler: fork: %s", strerror(errno));
		return -1;
	}
	setpgid(pid, pid); /* as the child does: whichever runs first */
	hook_child_init(c);
	c->pid = pid;
	c->pidfd = pidfd_open(pid, 0);
	if (c->pidfd == -1) {
		seterr(err, errlen, "cannot watch the handler: pidfd_open: %s", strerror(errno));
		kill(-pid, SIGKILL);
		waitpid(pid, NULL, 0);
		c->pid = 0;
		return -1;
	}
	c->started_ms = now;
	c->deadline_ms = now + timeout_ms;
	describe(c->what, sizeof(c->what), ev);
	return 0;
}

int hook_child_tick(struct hook_child *c, uint64_t now, uint64_t grace_ms)
{
	if (c->pid == 0 || c->kill_sent)
		return -1;
	if (!c->term_sent && now >= c->deadline_ms) {
		/* the group: a shell script's own children go too */
		kill(-c->pid, SIGTERM);
		c->term_sent = 1;
		c->kill_ms = now + grace_ms;
	}
	if (c->term_sent && now >= c->kill_ms) {
		kill(-c->pid, SIGKILL);
		c->kill_sent = 1;
		return -1;
	}
	return (int)((c->term_sent ? c->kill_ms : c->deadline_ms) - now);
}

int hook_child_reap(struct hook_child *c, uint64_t now, struct hook_result *r)
{
	int st;
	pid_t p;

	if (c->pid == 0)
		return -1;
	/*
	 * A handler we signalled takes its whole group with it: the leader
	 * is a zombie until reaped, so the group id still names it alone.
	 */
	if (c->term_sent) {
		siginfo_t si = { 0 };

		if (waitid(P_PID, (id_t)c->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == c->pid)
			kill(-c->pid, SIGKILL);
	}
	p = waitpid(c->pid, &st, WNOHANG);
	if (p == 0)
		return 1;
	if (p == -1)
		return -1;
	memset(r, 0, sizeof(*r));
	r->exited = WIFEXITED(st);
	r->status = r->exited ? WEXITSTATUS(st) : 0;
	r->signo = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
	r->timed_out = c->term_sent;
	r->ran_ms = now - c->started_ms;
	close(c->pidfd);
	c->pidfd = -1;
	c->pid = 0;
	return 0;
}

int hook_child_report(FILE *f, const char *cmd, const struct hook_child *c,
                      const struct hook_result *r, uint64_t timeout_ms)
{
	if (r->timed_out && r->exited)
		fprintf(f, "cmemctl: handler %s for %s ran past its %.3g s limit: exited with status %d "
		        "after SIGTERM, %.1f s after it started\n", cmd, c->what, timeout_ms / 1000.0,
		        r->status, r->ran_ms / 1000.0);
	else if (r->timed_out)
		fprintf(f, "cmemctl: handler %s for %s ran past its %.3g s limit: killed by %s, "
		        "%.1f s after it started\n", cmd, c->what, timeout_ms / 1000.0,
		        r->signo == SIGKILL ? "SIGKILL" : r->signo == SIGTERM ? "SIGTERM" : strsignal(r->signo),
		        r->ran_ms / 1000.0);
	else if (!r->exited)
		fprintf(f, "cmemctl: handler %s for %s killed by signal %d (%s)\n", cmd, c->what,
		        r->signo, strsignal(r->signo));
	else if (r->status != 0)
		fprintf(f, "cmemctl: handler %s exited with status %d for %s\n", cmd, r->status, c->what);
	else
		return 0;
	fflush(f);
	return 1;
}

/* ---- reconnection delays ---- */

void hook_backoff_reset(struct hook_backoff *b)
{
	b->next_ms = HOOK_BACKOFF_MIN_MS;
}

uint64_t hook_backoff_next(struct hook_backoff *b)
{
	uint64_t d = b->next_ms;

	if (d < HOOK_BACKOFF_MIN_MS)
		d = HOOK_BACKOFF_MIN_MS;
	b->next_ms = d * 2 > HOOK_BACKOFF_MAX_MS ? HOOK_BACKOFF_MAX_MS : d * 2;
	return d;
}

/* ---- talking to the daemon (client.c) ---- */

/* Ask for command on c (not connected yet): the checked reply, or c->err. */
static enum client_status request(struct client *c, const char *command, json_t **reply)
{
	json_t *req = ctl_request(command);
	enum client_status st = client_ask(c, req, 0, reply);

	json_decref(req);
	return st;
}

/* ---- the watch ---- */

struct watcher {
	const struct hook_opts *o;
	struct client conn; /* the event stream; fd -1 while disconnected */
	struct hook_queue q;
	struct hook_child child;
	struct hook_backoff backoff;
	uint64_t retry_at, up_since, down_since;
	unsigned failures; /* connection attempts failed since the last success */
	unsigned connections;
	int sigfd;
	int closed; /* the stream is over and we are not following: drain, then end */
	int done, signo;
	enum hook_end end;
};

static void w_stop(struct watcher *w, enum hook_end end)
{
	w->done = 1;
	w->end = end;
}

/* An event for the handler's queue, or to be shown at once. */
static void w_deliver(struct watcher *w, json_t *ev)
{
	if (w->o->exec) {
		hook_queue_push(&w->q, ev);
		return;
	}
	w->o->print(w->o->print_arg, ev);
	json_decref(ev);
}

/* The current membership as a resync event, asked on a connection of its own. */
static int w_resync(struct watcher *w, const char *reason, uint64_t dropped)
{
	struct client c;
	json_t *reply = NULL;
	enum client_status st;

	client_init(&c, w->o->socket, w->o->io_timeout_ms, w->o->clk);
	st = request(&c, "members", &reply);
	if (st != CLIENT_OK)
		fprintf(w->o->err, "cmemctl: cannot ask for the membership (%s resync): %s\n", reason,
		        c.err);
	client_fini(&c);
	if (st != CLIENT_OK)
		return -1;
	/* if the queue is full, the resync that ends the overflow covers this one */
	w_deliver(w, hook_resync(reply, reason, dropped, clock_real_s(w->o->clk)));
	json_decref(reply);
	return 0;
}

/* The stream is over, msg says why: drain and end, or reconnect when following. */
static void w_gone(struct watcher *w, const char *msg)
{
	uint64_t now = clock_mono_ms(w->o->clk);

	client_close(&w->conn);
	fprintf(w->o->err, "cmemctl: %s%s\n", msg, w->o->follow ? "; reconnecting (--follow)" : "");
	if (!w->o->follow) {
		w->closed = 1;
		return;
	}
	/* a daemon that keeps dropping us at once is retried ever more slowly */
	if (now - w->up_since >= HOOK_BACKOFF_MAX_MS)
		hook_backoff_reset(&w->backoff);
	w->down_since = now;
	w->retry_at = now + hook_backoff_next(&w->backoff);
}

static void w_lost(struct watcher *w, const char *why)
{
	char msg[CLIENT_ERRLEN + 256];

	snprintf(msg, sizeof(msg), "cmemd closed the event stream at %s%s%s", w->o->socket,
	         why ? ": " : "", why ? why : "");
	w_gone(w, msg);
}

static void w_unreachable(struct watcher *w, enum client_status st)
{
	const char *hint = w->connections == 0 && w->failures == 0 ? client_hint(&w->conn) : "";

	if (st == CLIENT_ERROR || !w->o->follow || w->failures++ == 0)
		fprintf(w->o->err, "cmemctl: %s%s%s\n", w->conn.err, hint,
		        st == CLIENT_UNREACHABLE && w->o->follow ? "\n  retrying (--follow)" : "");
	if (st == CLIENT_ERROR || !w->o->follow)
		w_stop(w, st == CLIENT_ERROR ? HOOK_END_ERROR : HOOK_END_UNREACHABLE);
	else
		w->retry_at = clock_mono_ms(w->o->clk) + hook_backoff_next(&w->backoff);
}

/* Hand over the whole lines read so far; -1 when one is garbled (the watch ends). */
static int w_take(struct watcher *w)
{
	json_t *ev;
	int r;

	while ((r = client_next(&w->conn, &ev)) == 1)
		w_deliver(w, ev);
	if (r == -1) {
		fprintf(w->o->err, "cmemctl: %s\n", w->conn.err);
		w_stop(w, HOOK_END_ERROR);
	}
	return r;
}

/* Take in what the daemon sent. */
static void w_read(struct watcher *w)
{
	int r = client_fill(&w->conn);

	if (w_take(w) != -1 && r <= 0)
		w_lost(w, r == 0 ? NULL : w->conn.err);
}

static void w_connect(struct watcher *w)
{
	json_t *reply = NULL;
	enum client_status st = request(&w->conn, "watch", &reply);
	uint64_t now = clock_mono_ms(w->o->clk);
	char self[128];

	if (st != CLIENT_OK) {
		w_unreachable(w, st);
		return;
	}
	ctlfmt_escape(self, sizeof(self), jstr(reply, "self")[0] ? jstr(reply, "self") : "cmemd");
	if (w->connections > 0)
		fprintf(w->o->err, "cmemctl: reconnected to cmemd at %s, %.1f s after losing it\n",
		        w->o->socket, (now - w->down_since) / 1000.0);
	else if (w->o->banner)
		fprintf(w->o->err, "cmemctl: watching %s's events (Ctrl-C to stop)\n", self);
	json_decref(reply);
	w->connections++;
	w->failures = 0;
	w->up_since = now;
	/*
	 * The stream is open before the membership is read, so nothing falls
	 * between the two; events read with the ok line come after the resync.
	 */
	if (w->o->follow && w_resync(w, w->connections > 1 ? "reconnect" : "start", 0) == -1) {
		w_lost(w, "no membership for the resync");
		return;
	}
	w_take(w);
}

/* After an overflow, once the queue is worked through: say so and resync. */
static void w_overflow(struct watcher *w)
{
	uint64_t dropped = hook_queue_resync_due(&w->q);

	if (dropped == 0)
		return;
	fprintf(w->o->err, "cmemctl: the handler fell behind: %llu events dropped after %zu were "
	        "waiting; ", (unsigned long long)dropped, w->q.cap);
	if (w->conn.fd == -1) {
		fprintf(w->o->err, "no resync now: cmemd is not connected%s\n",
		        w->o->follow ? " (one follows the reconnection)" : "");
		return;
	}
	fprintf(w->o->err, "a resync with the current membership follows\n");
	if (w_resync(w, "overflow", dropped) == -1)
		w_lost(w, "no membership for the resync");
}

/* Start the next handler when none runs. */
static void w_run(struct watcher *w)
{
	char err[256];
	json_t *ev;

	while (w->child.pid == 0 && !w->done) {
		w_overflow(w);
		if ((ev = hook_queue_pop(&w->q)) == NULL)
			return;
		if (hook_child_start(&w->child, w->o->exec, ev, clock_mono_ms(w->o->clk), w->o->timeout_ms, err,
		                     sizeof(err)) == -1)
			fprintf(w->o->err, "cmemctl: %s\n", err);
		json_decref(ev);
	}
}

static void w_reap(struct watcher *w)
{
	struct hook_result r;

	if (hook_child_reap(&w->child, clock_mono_ms(w->o->clk), &r) == 0)
		hook_child_report(w->o->err, w->o->exec, &w->child, &r, w->o->timeout_ms);
}

static int min_timeout(int a, int b)
{
	return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

/* One poll: the signals, the stream, the handler and the timers. */
static void w_step(struct watcher *w)
{
	struct pollfd pfd[3] = { { .fd = w->sigfd, .events = POLLIN } };
	uint64_t now = clock_mono_ms(w->o->clk);
	int timeout = hook_child_tick(&w->child, now, w->o->grace_ms);
	nfds_t n = 1, ci = 0, pi = 0;

	if (w->conn.fd != -1) {
		pfd[ci = n++] = (struct pollfd){ .fd = w->conn.fd, .events = POLLIN };
		timeout = min_timeout(timeout, client_line_wait(&w->conn, now));
	}
	if (w->child.pid != 0)
		pfd[pi = n++] = (struct pollfd){ .fd = w->child.pidfd, .events = POLLIN };
	if (w->conn.fd == -1 && !w->closed)
		timeout = min_timeout(timeout, w->retry_at > now ? (int)(w->retry_at - now) : 0);
	if (poll(pfd, n, timeout) == -1) {
		if (errno != EINTR) {
			fprintf(w->o->err, "cmemctl: poll: %s\n", strerror(errno));
			w_stop(w, HOOK_END_ERROR);
		}
		return;
	}
	if (pfd[0].revents) {
		struct signalfd_siginfo si;

		if (read(w->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			w->signo = (int)si.ssi_signo;
			w_stop(w, HOOK_END_SIGNAL);
			return;
		}
	}
	if (ci && pfd[ci].revents)
		w_read(w);
	if (w->conn.fd != -1 && client_line_overdue(&w->conn, clock_mono_ms(w->o->clk)))
		w_gone(w, w->conn.err); /* a line begun and never finished */
	if (pi && pfd[pi].revents)
		w_reap(w);
	if (w->conn.fd == -1 && !w->closed && !w->done && clock_mono_ms(w->o->clk) >= w->retry_at)
		w_connect(w);
}

/* Stopping: the running handler gets SIGTERM, and SIGKILL after the grace. */
static void w_finish(struct watcher *w)
{
	struct pollfd pfd = { .fd = w->child.pidfd, .events = POLLIN };
	struct hook_result r;

	if (w->child.pid != 0) {
		fprintf(w->o->err, "cmemctl: stopping the handler for %s (SIGTERM)\n", w->child.what);
		kill(-w->child.pid, SIGTERM);
		if (poll(&pfd, 1, (int)w->o->grace_ms) != 1)
			kill(-w->child.pid, SIGKILL);
		while (hook_child_reap(&w->child, clock_mono_ms(w->o->clk), &r) == 1)
			poll(&pfd, 1, 100);
	}
	if (w->q.len > 0)
		fprintf(w->o->err, "cmemctl: %zu events were not handed to the handler\n", w->q.len);
}

enum hook_end hook_watch(const struct hook_opts *o, int *signo)
{
	struct watcher w = { .o = o };
	sigset_t stop, old;

	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGHUP);
	sigprocmask(SIG_BLOCK, &stop, &old);
	w.sigfd = signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK);
	if (w.sigfd == -1) {
		fprintf(o->err, "cmemctl: signalfd: %s\n", strerror(errno));
		sigprocmask(SIG_SETMASK, &old, NULL);
		return HOOK_END_ERROR;
	}
	client_init(&w.conn, o->socket, o->io_timeout_ms, o->clk);
	hook_queue_init(&w.q, o->queue_max);
	hook_child_init(&w.child);
	hook_backoff_reset(&w.backoff);
	w_connect(&w);
	while (!w.done) {
		w_run(&w);
		if (w.closed && w.child.pid == 0 && w.q.len == 0)
			w_stop(&w, HOOK_END_CLOSED);
		else
			w_step(&w);
	}
	w_finish(&w);
	client_fini(&w.conn);
	hook_queue_fini(&w.q);
	close(w.sigfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	*signo = w.signo;
	return w.end;
}
