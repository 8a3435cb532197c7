/*
 * client: the one control client against fake daemons on a UNIX socket
 * (each a child process that plays one connection): a good exchange, error
 * and version replies, replies carrying terminal controls (the messages
 * keep none), lines up to and over the length limit, and daemons that
 * never accept, never read or never answer, where the deadline fires
 * (with a short deadline: no test waits more than a fraction of a second)
 * and the status is cmemctl's exit status 3.
 */
#include "testutil.h"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "client.h"
#include "ctlproto.h"
#include "util.h"

#define SHORT_MS 50 /* the deadline of the tests where it must fire */

static char dir[] = "/tmp/cmem-test-ctlclient-XXXXXX";
static char sock[100];

static int setup(void **state)
{
	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(sock, sizeof(sock), "%s/fake.sock", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return tu_rmtree(dir);
}

static int listen_at(const char *path, int backlog)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	unlink(path);
	assert_true(fd != -1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(fd, backlog), 0);
	return fd;
}

enum play {
	PLAY_ANSWER, /* read the request, write the text, close */
	PLAY_HOLD,   /* read the request, write the text, keep the connection open */
	PLAY_DEAF,   /* accept and never read */
};

/*
 * A fake daemon for one connection: it checks the request is the one line
 * of a members request, then plays its part.  Ended by fake_end().
 */
static pid_t fake(int lfd, enum play play, const char *text, size_t len)
{
	pid_t pid = fork();
	char req[256];
	ssize_t n;
	int fd;

	assert_true(pid != -1);
	if (pid > 0) {
		close(lfd);
		return pid;
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed test leaves nothing behind */
	if ((fd = accept(lfd, NULL, NULL)) == -1)
		_exit(10);
	if (play != PLAY_DEAF) {
		n = read(fd, req, sizeof(req) - 1);
		if (n <= 0)
			_exit(11);
		req[n] = '\0';
		if (strcmp(req, "{\"version\":1,\"command\":\"members\"}\n") != 0)
			_exit(12);
		for (size_t off = 0; off < len; off += (size_t)n)
			if ((n = write(fd, text + off, len - off)) <= 0)
				_exit(play == PLAY_HOLD ? 13 : 0); /* the client may hang up first */
	}
	if (play == PLAY_ANSWER)
		_exit(0);
	for (;;)
		pause();
}

/* The fake's exit status once it ended (-1: killed, as one that holds must be). */
static int fake_end(pid_t pid, int hold)
{
	int st;

	if (hold)
		kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Ask for "members" with a deadline; the client is left for checks. */
static enum client_status ask_within(struct client *c, uint64_t timeout_ms, json_t **reply)
{
	json_t *req = ctl_request("members");
	enum client_status st;

	client_init(c, sock, timeout_ms, &clock_system);
	st = client_ask(c, req, 0, reply);
	json_decref(req);
	return st;
}

/* A fake that answers may be slow to run on a busy machine: the usual deadline. */
#define ask(c, reply) ask_within((c), CLIENT_TIMEOUT_MS, (reply))

/* A message for people: no terminal control in it. */
static void expect_printable(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f || (*p == 0xc2 && p[1] >= 0x80 && p[1] < 0xa0))
			fail_msg("control byte 0x%02x in '%s'", *p, s);
}

static void expect_fails(enum client_status want, const char *text, size_t len, const char *msg)
{
	struct client c;
	json_t *reply = (json_t *)1;
	pid_t pid = fake(listen_at(sock, 4), PLAY_ANSWER, text, len);

	assert_int_equal(ask(&c, &reply), want);
	assert_null(reply);
	assert_int_equal(c.fd, -1);
	if (strstr(c.err, msg) == NULL)
		fail_msg("message '%s' lacks '%s'", c.err, msg);
	expect_printable(c.err);
	assert_string_equal(client_hint(&c), "");
	client_fini(&c);
	assert_int_equal(fake_end(pid, 0), 0);
}

#define FAILS(want, text, msg) expect_fails(want, text, strlen(text), msg)

/* The next line of the stream, waiting for it (1), or 0 once a line is begun. */
static int next_line(struct client *c, json_t **ev)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	int r;

	while ((r = client_next(c, ev)) == 0 && !c->partial) {
		assert_int_equal(poll(&pfd, 1, 5000), 1);
		assert_int_equal(client_fill(c), 1);
	}
	return r;
}

static void test_answer(void **state)
{
	static const char text[] = "{\"status\":\"ok\",\"members\":[],\"version\":1}\n"
	                           "{\"event\":\"join\",\"member\":\"b\",\"version\":1}\n{\"event\"";
	struct client c;
	json_t *reply, *ev;
	pid_t pid = fake(listen_at(sock, 4), PLAY_HOLD, text, sizeof(text) - 1);

	(void)state;
	assert_int_equal(ask(&c, &reply), CLIENT_OK);
	assert_true(json_is_array(json_object_get(reply, "members")));
	json_decref(reply);
	assert_true(c.fd != -1); /* open for the stream that follows (watch) */
	assert_int_equal(next_line(&c, &ev), 1);
	assert_string_equal(json_string_value(json_object_get(ev, "member")), "b");
	json_decref(ev);
	assert_false(c.partial);
	assert_int_equal(client_line_wait(&c, 0), -1); /* an idle stream has no deadline */
	assert_int_equal(next_line(&c, &ev), 0);
	/* a line begun has one, from when it was seen */
	assert_int_equal(client_line_wait(&c, c.line_since_ms), CLIENT_TIMEOUT_MS);
	assert_int_equal(client_line_wait(&c, c.line_since_ms + 4000), 1000);
	assert_int_equal(client_line_overdue(&c, c.line_since_ms + CLIENT_TIMEOUT_MS - 1), 0);
	assert_int_equal(client_line_overdue(&c, c.line_since_ms + CLIENT_TIMEOUT_MS), 1);
	assert_non_null(strstr(c.err, "sent part of a line, then nothing for 5 s (stopped or stuck?)"));
	client_fini(&c);
	assert_int_equal(fake_end(pid, 1), -1);
}

static void test_error_replies(void **state)
{
	(void)state;
	FAILS(CLIENT_ERROR, "{\"status\":\"error\",\"code\":\"busy\",\"error\":\"too many\",\"version\":1}\n",
	      "cmemd: too many (busy)");
	FAILS(CLIENT_ERROR, "{\"status\":\"ok\",\"members\":[],\"version\":2}\n",
	      "speaks control protocol version 2, this cmemctl speaks version 1");
	FAILS(CLIENT_ERROR, "{\"status\":\"ok\",\"members\":[]}\n", "names no control protocol version");
	FAILS(CLIENT_ERROR, "[1,2]\n", "garbled reply from ");
	FAILS(CLIENT_UNREACHABLE, "{\"status\":\"ok\"", "closed the connection without answering");
	FAILS(CLIENT_UNREACHABLE, "", "closed the connection without answering");
}

/* ESC ] 0 ; sets a terminal's title, ESC [ 2 J clears it: shown escaped. */
static void test_controls_escaped(void **state)
{
	(void)state;
	FAILS(CLIENT_ERROR, "{\"status\":\"error\",\"code\":\"\\u001b[2J\",\"error\":\"\\u001b]0;owned"
	      "\\u0007 \\u009b31mred\\u007f\",\"version\":1}\n",
	      "cmemd: \\x1b]0;owned\\x07 \\u009b31mred\\x7f (\\x1b[2J)");
	/* raw controls are not JSON: jansson's message about them is escaped too */
	FAILS(CLIENT_ERROR, "{\"status\":\"ok\",\"x\":\x1b]0;owned\x07\x1b[2J}\n", "garbled reply from ");
	FAILS(CLIENT_ERROR, "\x1b]0;owned\x07\x1b[2J\n", "garbled reply from ");
}

/* A reply of CTL_MAX_REPLY bytes is read; one byte more is refused, unread. */
static void test_line_limit(void **state)
{
	static const char head[] = "{\"status\":\"ok\",\"version\":1,\"pad\":\"", tail[] = "\"}\n";
	size_t len = CTL_MAX_REPLY + 1;
	char *text = xmalloc(len + 1);
	struct client c;
	json_t *reply;
	pid_t pid;

	(void)state;
	memset(text, 'x', len);
	memcpy(text, head, strlen(head));
	memcpy(text + len - strlen(tail), tail, strlen(tail)); /* CTL_MAX_REPLY bytes and "\n" */
	pid = fake(listen_at(sock, 4), PLAY_ANSWER, text, len);
	assert_int_equal(ask(&c, &reply), CLIENT_OK);
	assert_int_equal(json_string_length(json_object_get(reply, "pad")),
	                 CTL_MAX_REPLY - strlen(head) - strlen(tail) + 1);
	json_decref(reply);
	client_fini(&c);
	assert_int_equal(fake_end(pid, 0), 0);
	memset(text, 'x', len); /* no newline at all */
	pid = fake(listen_at(sock, 4), PLAY_HOLD, text, len);
	assert_int_equal(ask(&c, &reply), CLIENT_ERROR);
	assert_non_null(strstr(c.err, "a line longer than 8388608 bytes"));
	assert_true(c.cap <= CTL_MAX_REPLY + 1);
	client_fini(&c);
	fake_end(pid, 1);
	free(text);
}

/* Accepted, read, never answered: exit status 3 and a message, in time. */
static void test_no_answer(void **state)
{
	struct client c;
	json_t *reply;
	pid_t pid = fake(listen_at(sock, 4), PLAY_HOLD, "", 0);
	uint64_t t0 = now_mono_ms();
	char want[256];

	(void)state;
	assert_int_equal(ask_within(&c, SHORT_MS, &reply), CLIENT_UNREACHABLE);
	assert_int_equal(CLIENT_UNREACHABLE, 3);
	assert_true(now_mono_ms() - t0 >= SHORT_MS);
	snprintf(want, sizeof(want), "cmemd at %s did not answer within 0.05 s (stopped or stuck?)", sock);
	assert_string_equal(c.err, want);
	client_fini(&c);
	assert_int_equal(fake_end(pid, 1), -1);
}

/* Never reads: a request larger than the socket's buffer is not waited for. */
static void test_request_not_taken(void **state)
{
	struct client c;
	json_t *reply, *req = ctl_request("members");
	char *big = xmalloc(4u << 20);
	pid_t pid = fake(listen_at(sock, 4), PLAY_DEAF, NULL, 0);

	(void)state;
	memset(big, 'k', (4u << 20) - 1);
	big[(4u << 20) - 1] = '\0';
	json_object_set_new(req, "pad", json_string(big));
	client_init(&c, sock, SHORT_MS, &clock_system);
	assert_int_equal(client_ask(&c, req, 0, &reply), CLIENT_UNREACHABLE);
	assert_non_null(strstr(c.err, "did not take the request within 0.05 s (stopped or stuck?)"));
	client_fini(&c);
	json_decref(req);
	free(big);
	assert_int_equal(fake_end(pid, 1), -1);
}

/* A listener that stopped accepting, its backlog full: connect() gives up. */
static void test_not_accepted(void **state)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int lfd = listen_at(sock, 0), first = socket(AF_UNIX, SOCK_STREAM, 0);
	struct client c;
	json_t *reply;

	(void)state;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock);
	assert_int_equal(connect(first, (struct sockaddr *)&sun, sizeof(sun)), 0); /* fills it */
	assert_int_equal(ask_within(&c, SHORT_MS, &reply), CLIENT_UNREACHABLE);
	assert_non_null(strstr(c.err, "did not accept the connection within 0.05 s"));
	assert_string_equal(client_hint(&c), "");
	client_fini(&c);
	close(first);
	close(lfd);
}

static void test_no_daemon(void **state)
{
	struct client c;
	json_t *reply;

	(void)state;
	unlink(sock);
	assert_int_equal(ask(&c, &reply), CLIENT_UNREACHABLE);
	assert_non_null(strstr(c.err, "cannot reach cmemd at "));
	assert_non_null(strstr(c.err, ": No such file or directory"));
	assert_non_null(strstr(client_hint(&c), "is cmemd running (pgrep cmemd)?"));
	client_fini(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answer),
		cmocka_unit_test(test_error_replies),
		cmocka_unit_test(test_controls_escaped),
		cmocka_unit_test(test_line_limit),
		cmocka_unit_test(test_no_answer),
		cmocka_unit_test(test_request_not_taken),
		cmocka_unit_test(test_not_accepted),
		cmocka_unit_test(test_no_daemon),
	};

	signal(SIGPIPE, SIG_IGN);
	alarm(60); /* a client that hangs fails the run instead of holding it */
	return cmocka_run_group_tests(tests, setup, teardown);
}
