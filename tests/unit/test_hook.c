/*
 * hook: the queue (order, overflow and the resync it owes), handler runs
 * (environment, stdin, order, exit status, the time limit with an
 * injected clock: SIGTERM, then SIGKILL for a handler that ignores it),
 * the reconnection backoff, names that reach the handler as data and never
 * as arguments, reports that escape what came from the socket, and the
 * whole watch against a fake daemon on a UNIX socket: overflow then
 * resync, --follow across a lost stream, and the client's deadlines (half
 * a line, a daemon that never answers; an idle stream is fine), with a
 * clock that leaps or a short deadline where one must fire.
 */
#include "testutil.h"

#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "ctlproto.h"
#include "hook.h"
#include "util.h"

static char dir[] = "/tmp/cmem-test-hook-XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static json_t *event(const char *ev, const char *member, long long inc)
{
	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "event", ev, "member", member, "address",
	                 "10.0.0.2", "incarnation", (json_int_t)inc, "time", (json_int_t)1764172800,
	                 "detail", "seen");
}

static void path_in_dir(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
	unlink(buf);
}

/* The file's text ("" if it is missing), in a static buffer. */
static char *slurp(const char *path)
{
	static char buf[16384];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	buf[n] = '\0';
	if (f)
		fclose(f);
	return buf;
}

/* ---- the queue ---- */

static void test_queue_order(void **state)
{
	struct hook_queue q;
	json_t *e;

	(void)state;
	hook_queue_init(&q, 4);
	for (int round = 0; round < 3; round++) { /* the ring wraps */
		for (int i = 0; i < 3; i++)
			assert_int_equal(hook_queue_push(&q, event("join", "n", round * 10 + i)), 0);
		for (int i = 0; i < 3; i++) {
			assert_non_null(e = hook_queue_pop(&q));
			assert_int_equal(json_integer_value(json_object_get(e, "incarnation")), round * 10 + i);
			json_decref(e);
		}
	}
	assert_null(hook_queue_pop(&q));
	assert_int_equal(hook_queue_resync_due(&q), 0);
	hook_queue_fini(&q);
}

static void test_queue_overflow(void **state)
{
	struct hook_queue q;
	json_t *e;

	(void)state;
	hook_queue_init(&q, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(hook_queue_push(&q, event("join", "n", i)), 0);
	assert_int_equal(hook_queue_push(&q, event("join", "n", 3)), -1);
	assert_int_equal(hook_queue_push(&q, event("join", "n", 4)), -1);
	e = hook_queue_pop(&q);
	json_decref(e);
	/* room again, but the gap is not over until the handler caught up */
	assert_int_equal(hook_queue_push(&q, event("join", "n", 5)), -1);
	assert_int_equal(hook_queue_resync_due(&q), 0);
	for (int i = 1; i < 3; i++) {
		e = hook_queue_pop(&q);
		assert_int_equal(json_integer_value(json_object_get(e, "incarnation")), i);
		json_decref(e);
	}
	assert_int_equal(hook_queue_resync_due(&q), 3);
	assert_int_equal(hook_queue_resync_due(&q), 0); /* owed once */
	assert_int_equal(hook_queue_push(&q, event("join", "n", 6)), 0);
	hook_queue_fini(&q); /* frees what is still queued */
}

/* ---- handler runs ---- */

/* Wait (without a clock) until the handler has exited, and reap it. */
static void finish(struct hook_child *c, uint64_t now, struct hook_result *r)
{
	struct pollfd pfd = { .fd = c->pidfd, .events = POLLIN };

	assert_int_equal(poll(&pfd, 1, 20000), 1);
	assert_int_equal(hook_child_reap(c, now, r), 0);
	assert_int_equal(c->pid, 0);
}

static void run(const char *cmd, json_t *ev, struct hook_result *r)
{
	struct hook_child c;
	char err[256];

	assert_int_equal(hook_child_start(&c, cmd, ev, 0, 30000, err, sizeof(err)), 0);
	finish(&c, 5, r);
	json_decref(ev);
}

static void test_child_order_and_input(void **state)
{
	static const char *evs[] = { "join", "leave", "restart", "failed" };
	char out[128], cmd[1024];
	struct hook_result r;

	(void)state;
	path_in_dir(out, sizeof(out), "order");
	snprintf(cmd, sizeof(cmd),
	         "echo \"$CMEM_EVENT $CMEM_MEMBER $CMEM_ADDRESS $CMEM_INCARNATION $CMEM_DETAIL "
	         "${CMEM_MEMBERS-unset}\" >> %s; cat >> %s", out, out);
	for (int i = 0; i < 4; i++) {
		run(cmd, event(evs[i], "node-2", 7 + i), &r);
		assert_true(r.exited && r.status == 0 && !r.timed_out);
	}
	assert_string_equal(slurp(out),
	        "join node-2 10.0.0.2 7 seen unset\n"
	        "{\"event\":\"join\",\"member\":\"node-2\",\"address\":\"10.0.0.2\",\"incarnation\":7,"
	        "\"time\":1764172800,\"detail\":\"seen\"}\n"
	        "leave node-2 10.0.0.2 8 seen unset\n"
	        "{\"event\":\"leave\",\"member\":\"node-2\",\"address\":\"10.0.0.2\",\"incarnation\":8,"
	        "\"time\":1764172800,\"detail\":\"seen\"}\n"
	        "restart node-2 10.0.0.2 9 seen unset\n"
	        "{\"event\":\"restart\",\"member\":\"node-2\",\"address\":\"10.0.0.2\",\"incarnation\":9,"
	        "\"time\":1764172800,\"detail\":\"seen\"}\n"
	        "failed node-2 10.0.0.2 10 seen unset\n"
	        "{\"event\":\"failed\",\"member\":\"node-2\",\"address\":\"10.0.0.2\",\"incarnation\":10,"
	        "\"time\":1764172800,\"detail\":\"seen\"}\n");
}

static json_t *members_reply(void)
{
	return json_pack("{s:s, s:s, s:[{s:s, s:s}, {s:s, s:s}]}", "status", "ok", "self", "node-1",
	                 "members", "name", "node-1", "state", "alive", "name", "node-2", "state", "failed");
}

static void test_resync_input(void **state)
{
	char out[128], cmd[1024];
	struct hook_result r;
	json_t *reply = members_reply(), *ev = hook_resync(reply, "reconnect", 4, 1764172800), *in;
	char *text, *s;

	(void)state;
	path_in_dir(out, sizeof(out), "resync");
	snprintf(cmd, sizeof(cmd), "echo \"$CMEM_EVENT|$CMEM_MEMBER|$CMEM_DETAIL|$CMEM_MEMBERS\" >> %s; "
	         "cat >> %s", out, out);
	run(cmd, json_incref(ev), &r);
	assert_true(r.exited && r.status == 0);
	text = slurp(out);
	s = strchr(text, '\n');
	assert_non_null(s);
	*s = '\0';
	assert_string_equal(text, "resync||reconnect|node-1=alive node-2=failed");
	in = json_loads(s + 1, 0, NULL);
	assert_non_null(in);
	assert_true(json_equal(in, ev));
	assert_int_equal(json_integer_value(json_object_get(in, "dropped")), 4);
	assert_int_equal(json_array_size(json_object_get(in, "members")), 2);
	json_decref(in);
	json_decref(ev);
	json_decref(reply);
}

static void test_members_env_limit(void **state)
{
	json_t *reply = members_reply();
	char *s;

	(void)state;
	s = hook_members_env(json_object_get(reply, "members"), 100);
	assert_string_equal(s, "node-1=alive node-2=failed");
	free(s);
	assert_null(hook_members_env(json_object_get(reply, "members"), 20));
	json_decref(reply);
}

static void test_exit_status_reported(void **state)
{
	struct hook_child c;
	struct hook_result r;
	char err[256], *text;
	size_t len;
	FILE *f = open_memstream(&text, &len);
	json_t *failed = event("failed", "node-2", 1), *join = event("join", "node-3", 1);
	json_t *hostile = event("join\x1b[2J", "\x1b]0;owned\x07", 1);

	(void)state;
	assert_int_equal(hook_child_start(&c, "exit 3", failed, 0, 30000, err, sizeof(err)), 0);
	finish(&c, 12, &r);
	assert_true(r.exited && r.status == 3 && !r.timed_out && r.ran_ms == 12);
	assert_int_equal(hook_child_report(f, "exit 3", &c, &r, 30000), 1);
	assert_int_equal(hook_child_start(&c, "kill -9 $$", join, 0, 30000, err, sizeof(err)), 0);
	finish(&c, 1, &r);
	assert_true(!r.exited && r.signo == SIGKILL && !r.timed_out);
	assert_int_equal(hook_child_report(f, "kill -9 $$", &c, &r, 30000), 1);
	assert_int_equal(hook_child_start(&c, "true", join, 0, 30000, err, sizeof(err)), 0);
	finish(&c, 1, &r);
	assert_int_equal(hook_child_report(f, "true", &c, &r, 30000), 0); /* success is quiet */
	/* the event's text came from the socket: escaped */
	assert_int_equal(hook_child_start(&c, "exit 4", hostile, 0, 30000, err, sizeof(err)), 0);
	finish(&c, 1, &r);
	assert_int_equal(hook_child_report(f, "exit 4", &c, &r, 30000), 1);
	fclose(f);
	assert_string_equal(text, "cmemctl: handler exit 3 exited with status 3 for event failed of node-2\n"
	                          "cmemctl: handler kill -9 $$ for event join of node-3 killed by signal 9 "
	                          "(Killed)\n"
	                          "cmemctl: handler exit 4 exited with status 4 for event join\\x1b[2J of "
	                          "\\x1b]0;owned\\x07\n");
	free(text);
	json_decref(failed);
	json_decref(join);
	json_decref(hostile);
}

/* A name that looks like an option reaches the handler as data, never as an argument. */
static void test_names_not_arguments(void **state)
{
	static const char *names[] = { "-rf", "--help", "..", "$(reboot)" };
	char out[128], cmd[1024], want[256];
	struct hook_result r;

	(void)state;
	path_in_dir(out, sizeof(out), "args");
	snprintf(cmd, sizeof(cmd), "printf '%%s|%%s|%%s|' \"$0\" \"$#\" \"$CMEM_MEMBER\" > %s; cat >> %s",
	         out, out);
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		json_t *ev = event("join", names[i], 1), *in;
		char *text;

		run(cmd, json_incref(ev), &r);
		assert_true(r.exited && r.status == 0);
		text = slurp(out);
		snprintf(want, sizeof(want), "sh|0|%s|", names[i]); /* no argument: $# is 0 */
		assert_memory_equal(text, want, strlen(want));
		in = json_loads(text + strlen(want), 0, NULL);
		assert_non_null(in);
		assert_true(json_equal(in, ev));
		json_decref(in);
		json_decref(ev);
	}
}

static void test_time_limit_term(void **state)
{
	struct hook_child c;
	struct hook_result r;
	char err[256], *text;
	size_t len;
	FILE *f;

	json_t *ev = event("join", "node-2", 1);

	(void)state;
	assert_int_equal(hook_child_start(&c, "sleep 100", ev, 1000, 30000, err, sizeof(err)), 0);
	assert_int_equal(hook_child_tick(&c, 1000, 5000), 30000);
	assert_int_equal(hook_child_tick(&c, 30999, 5000), 1);
	assert_int_equal(hook_child_reap(&c, 30999, &r), 1); /* not signalled: still running */
	assert_int_equal(hook_child_tick(&c, 31000, 5000), 5000); /* SIGTERM; SIGKILL in 5 s */
	assert_true(c.term_sent && !c.kill_sent);
	finish(&c, 31002, &r);
	assert_true(r.timed_out && !r.exited && r.signo == SIGTERM && r.ran_ms == 30002);
	f = open_memstream(&text, &len);
	assert_int_equal(hook_child_report(f, "sleep 100", &c, &r, 30000), 1);
	fclose(f);
	assert_string_equal(text, "cmemctl: handler sleep 100 for event join of node-2 ran past its 30 s "
	                          "limit: killed by SIGTERM, 30.0 s after it started\n");
	free(text);
	json_decref(ev);
}

static void test_time_limit_kill(void **state)
{
	char ready[128], cmd[512], err[256];
	struct hook_child c;
	struct hook_result r;
	json_t *ev = event("leave", "node-2", 1);

	(void)state;
	path_in_dir(ready, sizeof(ready), "ready");
	/* ignores SIGTERM, and so does the sleep it becomes */
	snprintf(cmd, sizeof(cmd), "trap '' TERM; touch %s; exec sleep 100", ready);
	assert_int_equal(hook_child_start(&c, cmd, ev, 0, 2000, err, sizeof(err)), 0);
	while (access(ready, F_OK) != 0)
		poll(NULL, 0, 5);
	assert_int_equal(hook_child_tick(&c, 2000, 3000), 3000);
	assert_true(c.term_sent);
	assert_int_equal(hook_child_tick(&c, 4999, 3000), 1);
	assert_false(c.kill_sent);
	assert_int_equal(hook_child_tick(&c, 5000, 3000), -1);
	assert_true(c.kill_sent);
	finish(&c, 5001, &r);
	assert_true(r.timed_out && !r.exited && r.signo == SIGKILL && r.ran_ms == 5001);
	json_decref(ev);
}

static void test_backoff(void **state)
{
	static const uint64_t want[] = { 100, 200, 400, 800, 1600, 3200, 5000, 5000 };
	struct hook_backoff b;

	(void)state;
	hook_backoff_reset(&b);
	for (size_t i = 0; i < ARRAY_SIZE(want); i++)
		assert_int_equal(hook_backoff_next(&b), want[i]);
	hook_backoff_reset(&b);
	assert_int_equal(hook_backoff_next(&b), 100);
}

/* ---- the whole watch against a fake daemon ---- */

static int listen_at(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	unlink(path);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 || listen(fd, 8) == -1)
		return -1;
	return fd;
}

/* Accept one client, check its request names command, answer with text. */
static int serve(int lfd, const char *command, const char *text)
{
	char req[256], want[96];
	int fd = accept(lfd, NULL, NULL);
	ssize_t n = fd == -1 ? -1 : read(fd, req, sizeof(req) - 1);

	if (n <= 0)
		_exit(10);
	req[n] = '\0';
	snprintf(want, sizeof(want), "{\"version\":%d,\"command\":\"%s\"}\n", CTL_VERSION, command);
	if (strcmp(req, want) != 0)
		_exit(11);
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		_exit(12);
	return fd;
}

#define OK_LINE "{\"status\":\"ok\",\"self\":\"node-1\",\"version\":1}\n"
#define EV(e, m, i) \
	"{\"event\":\"" e "\",\"member\":\"" m "\",\"address\":\"10.0.0.2\",\"incarnation\":" #i "}\n"
#define MEMBERS "{\"status\":\"ok\",\"self\":\"node-1\",\"version\":1,\"members\":[" \
	"{\"name\":\"node-1\",\"state\":\"alive\"},{\"name\":\"node-2\",\"state\":\"left\"}]}\n"

static void watch_opts(struct hook_opts *o, const char *sock, const char *cmd, FILE *err)
{
	memset(o, 0, sizeof(*o));
	o->socket = sock;
	o->exec = cmd;
	o->timeout_ms = 30000;
	o->grace_ms = 1000;
	o->queue_max = HOOK_QUEUE_MAX;
	o->err = err;
	o->clk = &clock_system; /* the loop's poll timeouts are real */
}

static void test_watch_overflow_resync(void **state)
{
	char sock[128], out[128], cmd[1024], *text;
	struct hook_opts o;
	size_t len;
	FILE *err = open_memstream(&text, &len);
	int lfd, st, signo = 0;
	pid_t daemon;

	(void)state;
	path_in_dir(sock, sizeof(sock), "overflow.sock");
	path_in_dir(out, sizeof(out), "overflow.log");
	assert_true((lfd = listen_at(sock)) != -1);
	daemon = fork();
	if (daemon == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed test leaves nothing behind */
		/* one write: the watcher reads all six before the handler ends */
		int wfd = serve(lfd, "watch", OK_LINE EV("join", "a", 1) EV("join", "b", 2) EV("join", "c", 3)
		                              EV("join", "d", 4) EV("join", "e", 5) EV("join", "f", 6));
		close(serve(lfd, "members", MEMBERS));
		close(wfd);
		_exit(0);
	}
	close(lfd);
	snprintf(cmd, sizeof(cmd), "echo \"$CMEM_EVENT $CMEM_MEMBER $CMEM_DETAIL $CMEM_MEMBERS\" >> %s", out);
	watch_opts(&o, sock, cmd, err);
	o.queue_max = 2;
	assert_int_equal(hook_watch(&o, &signo), HOOK_END_CLOSED);
	fclose(err);
	assert_int_equal(waitpid(daemon, &st, 0), daemon);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_string_equal(slurp(out), "join a  \njoin b  \nresync  overflow node-1=alive node-2=left\n");
	assert_non_null(strstr(text, "the handler fell behind: 4 events dropped after 2 were waiting; "
	                             "a resync with the current membership follows\n"));
	assert_non_null(strstr(text, "cmemd closed the event stream at "));
	free(text);
}

static void test_watch_follow(void **state)
{
	char sock[128], out[128], cmd[1024], *text;
	struct hook_opts o;
	size_t len;
	FILE *err = open_memstream(&text, &len);
	int lfd, st, signo = 0;
	pid_t daemon;

	(void)state;
	path_in_dir(sock, sizeof(sock), "follow.sock");
	path_in_dir(out, sizeof(out), "follow.log");
	assert_true((lfd = listen_at(sock)) != -1);
	daemon = fork();
	if (daemon == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed test leaves nothing behind */
		int wfd = serve(lfd, "watch", OK_LINE EV("join", "a", 1));

		close(serve(lfd, "members", MEMBERS));
		close(wfd); /* the daemon goes away: the watcher comes back */
		wfd = serve(lfd, "watch", OK_LINE EV("failed", "b", 2));
		close(serve(lfd, "members", MEMBERS));
		/* keep the stream open until the watcher has stopped */
		while (read(wfd, cmd, sizeof(cmd)) > 0)
			;
		_exit(0);
	}
	close(lfd);
	/* the last event's handler stops the watch, as SIGTERM from systemd would */
	snprintf(cmd, sizeof(cmd), "echo \"$CMEM_EVENT $CMEM_MEMBER $CMEM_DETAIL\" >> %s; "
	         "[ \"$CMEM_EVENT\" = failed ] && kill -TERM $PPID; exit 0", out);
	watch_opts(&o, sock, cmd, err);
	o.follow = 1;
	assert_int_equal(hook_watch(&o, &signo), HOOK_END_SIGNAL);
	assert_int_equal(signo, SIGTERM);
	fclose(err);
	assert_int_equal(waitpid(daemon, &st, 0), daemon);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_string_equal(slurp(out), "resync  start\njoin a \nresync  reconnect\nfailed b \n");
	assert_non_null(strstr(text, "reconnecting (--follow)\n"));
	assert_non_null(strstr(text, "cmemctl: reconnected to cmemd at "));
	free(text);
}

/*
 * The watch's clock: the real one until the first event is shown, then
 * one that leaps an hour at every reading, as if the daemon had gone
 * silent for that long.  The reply is awaited in real time, under the
 * usual deadline (a fake daemon may be slow to run on a busy machine);
 * what comes after the first event sees its deadlines pass at once.
 */
static uint64_t leap_ms;

static uint64_t leaping_mono_us(void *arg)
{
	(void)arg;
	if (leap_ms)
		leap_ms += 3600000;
	return clock_mono_us(&clock_system) + leap_ms * 1000;
}

static uint64_t real_us(void *arg)
{
	(void)arg;
	return clock_real_us(&clock_system);
}

static const struct clock leaping_clock = { leaping_mono_us, real_us, NULL };

/* Events shown without --exec: their member names, in order; the first starts the leaps. */
static int note_event(void *arg, json_t *ev)
{
	char *seen = arg;

	strcat(seen, json_string_value(json_object_get(ev, "member")) ?: "?");
	strcat(seen, " ");
	leap_ms += !leap_ms;
	return 0;
}

/*
 * The daemon plays one watch connection: it answers with text, waits
 * pause_ms, sends more, then holds the stream open (hold) or closes it.
 */
static pid_t play_watch(int lfd, const char *text, unsigned pause_ms, const char *more, int hold)
{
	pid_t pid = fork();

	assert_true(pid != -1);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed test leaves nothing behind */
		int wfd = serve(lfd, "watch", text);

		poll(NULL, 0, (int)pause_ms);
		if (write(wfd, more, strlen(more)) != (ssize_t)strlen(more))
			_exit(13);
		while (hold)
			pause();
		_exit(0);
	}
	close(lfd);
	return pid;
}

/* A watch (no --exec) against a daemon that plays its part. */
struct watch_case {
	const char *text, *more; /* what the daemon sends, and pause_ms later */
	unsigned pause_ms;
	int hold;                /* the daemon keeps the stream open */
	uint64_t timeout_ms;     /* the client's deadlines; 0: the usual 5 s */
	enum hook_end end;
	const char *seen;        /* the members of the events shown */
	const char *said, *not_said;
};

static void expect_watch(const struct watch_case *t)
{
	char sock[128], seen[256] = "", *text;
	struct hook_opts o;
	size_t len;
	FILE *err = open_memstream(&text, &len);
	int st, signo = 0;
	pid_t daemon;

	path_in_dir(sock, sizeof(sock), "case.sock");
	daemon = play_watch(listen_at(sock), t->text, t->pause_ms, t->more, t->hold);
	watch_opts(&o, sock, NULL, err);
	o.print = note_event;
	o.print_arg = seen;
	o.io_timeout_ms = t->timeout_ms;
	o.clk = &leaping_clock;
	leap_ms = 0;
	assert_int_equal(hook_watch(&o, &signo), t->end);
	fclose(err);
	assert_string_equal(seen, t->seen);
	if (strstr(text, t->said) == NULL || (t->not_said && strstr(text, t->not_said)))
		fail_msg("the watch said: %s", text);
	free(text);
	if (t->hold)
		kill(daemon, SIGKILL);
	assert_int_equal(waitpid(daemon, &st, 0), daemon);
	assert_true(t->hold || (WIFEXITED(st) && WEXITSTATUS(st) == 0));
}

/* Half a line, then nothing: the watch is not held forever (exit 3 in cmemctl). */
static void test_watch_half_line(void **state)
{
	(void)state;
	expect_watch(&(struct watch_case){
		.text = OK_LINE EV("join", "a", 1), .more = "{\"event\":\"join\",\"mem", .hold = 1,
		.end = HOOK_END_CLOSED, .seen = "a ",
		.said = " sent part of a line, then nothing for 5 s (stopped or stuck?)\n" });
}

/* An idle stream is fine: events may come hours apart. */
static void test_watch_idle_stream(void **state)
{
	(void)state;
	expect_watch(&(struct watch_case){
		.text = OK_LINE EV("join", "early", 1), .pause_ms = 100, .more = EV("join", "late", 2),
		.end = HOOK_END_CLOSED, .seen = "early late ",
		.said = "cmemd closed the event stream at ", .not_said = "part of a line" });
}

/* A daemon that takes the request and never answers: unreachable, said so. */
static void test_watch_no_answer(void **state)
{
	(void)state;
	expect_watch(&(struct watch_case){
		.text = "", .more = "", .hold = 1, .timeout_ms = 50, .end = HOOK_END_UNREACHABLE, .seen = "",
		.said = " did not answer within 0.05 s (stopped or stuck?)\n",
		.not_said = "is cmemd running" /* it is: the hint would mislead */ });
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queue_order),
		cmocka_unit_test(test_queue_overflow),
		cmocka_unit_test(test_child_order_and_input),
		cmocka_unit_test(test_resync_input),
		cmocka_unit_test(test_members_env_limit),
		cmocka_unit_test(test_exit_status_reported),
		cmocka_unit_test(test_time_limit_term),
		cmocka_unit_test(test_time_limit_kill),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_watch_overflow_resync),
		cmocka_unit_test(test_watch_follow),
		cmocka_unit_test(test_names_not_arguments),
		cmocka_unit_test(test_watch_half_line),
		cmocka_unit_test(test_watch_idle_stream),
		cmocka_unit_test(test_watch_no_answer),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
