/*
 * Unit tests: the control socket server (doc/CONTROL.md) driven in-process.
 * Real UNIX connections to a socket in a temporary directory; the test
 * pumps ctl_pollfds/poll/ctl_process itself with poll timeouts of 0, and
 * time is injected (ctl_process and ctl_expire take now_ms), so nothing
 * sleeps.
 */
#include "testutil.h"

#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "ctl.h"
#include "daemon_state.h"

#define T0_MS 1000000u
#define REPLY_MAX 16384
#define CONNECT_BATCH 32 /* stays under the listen backlog between pumps */

struct handler_log {
	int calls;
	char command[64];
	struct ctl_peer peer;
};

struct fixture {
	char dir[256];
	char path[320];
	struct ctl *c;
	struct handler_log h;
};

struct reply {
	char text[REPLY_MAX];
	size_t len;
	int closed; /* the server closed the connection */
};

static json_t *test_handler(void *arg, const char *command, json_t *req,
                            const struct ctl_peer *peer, int *watch)
{
	struct handler_log *h = arg;
	json_t *r;

	(void)req;
	h->calls++;
	snprintf(h->command, sizeof(h->command), "%s", command);
	h->peer = *peer;
	if (strcmp(command, "watch") == 0) {
		*watch = 1;
		return json_pack("{s:s, s:s}", "status", "ok", "self", "test-node");
	}
	if (strcmp(command, "fail") == 0)
		return ctl_error(CTL_E_BAD_VALUE, "refused: %s", "by the test");
	if (strcmp(command, "huge") == 0) {
		size_t len = CTL_MAX_REPLY + 1;
		char *s = malloc(len + 1);

		assert_non_null(s);
		memset(s, 'x', len);
		s[len] = '\0';
		r = ctl_ok();
		json_object_set_new(r, "data", json_string(s));
		free(s);
		return r;
	}
	r = ctl_ok();
	json_object_set_new(r, "echo", json_string(command));
	return r;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	assert_non_null(f);
	tu_mkdtemp(f->dir, sizeof(f->dir));
	tu_path(f->path, sizeof(f->path), f->dir, "ctl.sock");
	f->c = ctl_open(f->path, NULL, test_handler, &f->h, err, sizeof(err));
	if (f->c == NULL)
		fail_msg("ctl_open: %s", err);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	ctl_close(f->c);
	tu_rmtree(f->dir);
	free(f);
	return 0;
}

static void sun_set(struct sockaddr_un *sun, const char *path)
{
	size_t len = strlen(path);

	assert_true(len < sizeof(sun->sun_path));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, len + 1);
}

static int client_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	sun_set(&sun, path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		fail_msg("connect %s: %s", path, strerror(errno));
	return fd;
}

static void client_send(int fd, const char *s, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, s, len);

		if (w <= 0)
			fail_msg("client write: %s", strerror(errno));
		s += w;
		len -= (size_t)w;
	}
}

static void client_send_str(int fd, const char *s)
{
	client_send(fd, s, strlen(s));
}

/* One round of a daemon's loop; returns how many entries were ready. */
static int pump_once(struct ctl *c, uint64_t now_ms)
{
	struct pollfd pfd[CTL_MAX_CLIENTS + 1];
	size_t n = ctl_pollfds(c, pfd, CTL_MAX_CLIENTS + 1);
	int ready = poll(pfd, n, 0);

	assert_true(ready >= 0);
	ctl_process(c, pfd, n, now_ms);
	return ready;
}

/* Rounds until nothing is ready. */
static void pump(struct ctl *c, uint64_t now_ms)
{
	for (int i = 0; i < 256 && pump_once(c, now_ms) > 0; i++)
		;
}

/* Append what the server has sent so far; notes EOF (or a reset after it). */
static void client_read(int fd, struct reply *r)
{
	for (;;) {
		ssize_t n;

		assert_true(r->len < sizeof(r->text) - 1);
		n = recv(fd, r->text + r->len, sizeof(r->text) - 1 - r->len, MSG_DONTWAIT);
		if (n > 0) {
			r->len += (size_t)n;
			continue;
		}
		if (n == 0 || errno == ECONNRESET)
			r->closed = 1;
		else if (errno != EAGAIN)
			fail_msg("client read: %s", strerror(errno));
		break;
	}
	r->text[r->len] = '\0';
}

/* Line number n (from 0) of the reply, parsed; fails unless it is an object. */
static json_t *reply_line(const struct reply *r, size_t n)
{
	const char *s = r->text, *nl;
	json_error_t jerr;
	json_t *j;

	for (; n > 0; n--) {
		s = strchr(s, '\n');
		if (s == NULL)
			fail_msg("reply has too few lines: %s", r->text);
		s++;
	}
	nl = strchr(s, '\n');
	if (nl == NULL)
		fail_msg("reply line not ended by a newline: '%s'", s);
	j = json_loadb(s, (size_t)(nl - s), 0, &jerr);
	if (j == NULL || !json_is_object(j))
		fail_msg("reply is not a JSON object: %s", s);
	return j;
}

static size_t reply_lines(const struct reply *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->len; i++)
		n += r->text[i] == '\n';
	return n;
}

/* Connect, send the bytes, pump, read: the whole exchange of one client. */
static void exchange(struct fixture *f, const char *req, size_t len, struct reply *r)
{
	int fd = client_connect(f->path);

	memset(r, 0, sizeof(*r));
	pump(f->c, T0_MS);
	client_send(fd, req, len);
	pump(f->c, T0_MS);
	client_read(fd, r);
	close(fd);
}

static void assert_status(json_t *j, const char *status)
{
	assert_string_equal(json_string_value(json_object_get(j, "status")), status);
	assert_int_equal(json_integer_value(json_object_get(j, "version")), CTL_VERSION);
}

/* The request gets exactly one error line, then the connection is closed. */
static void expect_error(struct fixture *f, const char *req, size_t len, const char *code,
                         const char *msg)
{
	struct reply r;
	json_t *j;

	exchange(f, req, len, &r);
	assert_true(r.closed);
	assert_int_equal(reply_lines(&r), 1);
	j = reply_line(&r, 0);
	assert_status(j, "error");
	if (strstr(json_string_value(json_object_get(j, "error")), msg) == NULL)
		fail_msg("error '%s' lacks '%s'", json_string_value(json_object_get(j, "error")), msg);
	assert_string_equal(json_string_value(json_object_get(j, "code")), code);
	json_decref(j);
	assert_int_equal(ctl_nclients(f->c), 0);
}

#define EXPECT_ERROR(f, req, code, msg) expect_error((f), (req), strlen(req), (code), (msg))

static void test_good_request(void **state)
{
	struct fixture *f = *state;
	struct reply r;
	json_t *j;

	exchange(f, "{\"version\":1,\"command\":\"members\"}\n",
	         strlen("{\"version\":1,\"command\":\"members\"}\n"), &r);
	assert_true(r.closed);
	assert_int_equal(reply_lines(&r), 1);
	j = reply_line(&r, 0);
	assert_status(j, "ok");
	assert_string_equal(json_string_value(json_object_get(j, "echo")), "members");
	json_decref(j);
	assert_int_equal(f->h.calls, 1);
	assert_string_equal(f->h.command, "members");
	assert_int_equal(f->h.peer.uid, getuid());
	assert_int_equal(f->h.peer.gid, getgid());
	assert_int_equal(f->h.peer.pid, getpid());
	assert_int_equal(ctl_nclients(f->c), 0);
}

static void test_handler_error_reply(void **state)
{
	struct fixture *f = *state;

	EXPECT_ERROR(f, "{\"version\":1,\"command\":\"fail\"}\n", CTL_E_BAD_VALUE, "refused: by the test");
	assert_int_equal(f->h.calls, 1);
}

static void test_garbage(void **state)
{
	static const char binary[] = "{\"version\":1,\0\xff}\n";
	struct fixture *f = *state;

	EXPECT_ERROR(f, "this is not JSON\n", CTL_E_BAD_REQUEST, "malformed request: ");
	EXPECT_ERROR(f, "\n", CTL_E_BAD_REQUEST, "malformed request: ");
	expect_error(f, binary, sizeof(binary) - 1, CTL_E_BAD_REQUEST, "malformed request: ");
	EXPECT_ERROR(f, "{\"version\":1,\"command\":\"a\",\"command\":\"b\"}\n", CTL_E_BAD_REQUEST, "malformed request: ");
	assert_int_equal(f->h.calls, 0);
}

/* A parser error that quotes bytes of the request is still a JSON error reply
 * (found by fuzz_ctl: the message was not UTF-8, and no reply was made). */
static void test_error_text_quoting_the_request(void **state)
{
	static const char req[] = "{\"v\xdc\xa7\x34\x13\x0fV\xc3rsion\":1}";
	const char *command = NULL;
	json_t *r;

	(void)state;
	r = ctl_decode_request(req, sizeof(req) - 1, &command);
	assert_non_null(r);
	assert_null(command);
	assert_string_equal(json_string_value(json_object_get(r, "code")), CTL_E_BAD_REQUEST);
	assert_non_null(strstr(json_string_value(json_object_get(r, "error")), "malformed request: "));
	json_decref(r);
	r = ctl_error(CTL_E_BAD_REQUEST, "cut in a character: %s", "\xc3");
	assert_non_null(r);
	assert_string_equal(json_string_value(json_object_get(r, "error")), "cut in a character: ?");
	json_decref(r);
}

static void test_not_an_object(void **state)
{
	struct fixture *f = *state;

	EXPECT_ERROR(f, "[1,2,3]\n", CTL_E_BAD_REQUEST, "malformed request: not a JSON object");
	EXPECT_ERROR(f, "\"members\"\n", CTL_E_BAD_REQUEST, "malformed request: ");
	assert_int_equal(f->h.calls, 0);
}

static void test_missing_version(void **state)
{
	struct fixture *f = *state;

	EXPECT_ERROR(f, "{\"command\":\"members\"}\n", CTL_E_BAD_REQUEST, "request carries no protocol version");
	EXPECT_ERROR(f, "{\"version\":\"1\",\"command\":\"members\"}\n", CTL_E_BAD_REQUEST,
	             "request carries no protocol version");
	EXPECT_ERROR(f, "{\"version\":1.0,\"command\":\"members\"}\n", CTL_E_BAD_REQUEST,
	             "request carries no protocol version");
	assert_int_equal(f->h.calls, 0);
}

static void test_wrong_version(void **state)
{
	struct fixture *f = *state;

	EXPECT_ERROR(f, "{\"version\":2,\"command\":\"members\"}\n", CTL_E_VERSION,
	             "control protocol version 2 is not supported: this cmemd speaks version 1 "
	             "(use a matching cmemctl)");
	EXPECT_ERROR(f, "{\"version\":0,\"command\":\"members\"}\n", CTL_E_VERSION, "version 0 is not supported");
	assert_int_equal(f->h.calls, 0);
}

static void test_missing_command(void **state)
{
	struct fixture *f = *state;

	EXPECT_ERROR(f, "{\"version\":1}\n", CTL_E_BAD_REQUEST, "request names no command");
	EXPECT_ERROR(f, "{\"version\":1,\"command\":7}\n", CTL_E_BAD_REQUEST, "request names no command");
	EXPECT_ERROR(f, "{\"version\":1,\"command\":null}\n", CTL_E_BAD_REQUEST, "request names no command");
	assert_int_equal(f->h.calls, 0);
}

/* A request of n bytes, newline included: members, padded with spaces. */
static char *padded_request(size_t n)
{
	static const char head[] = "{\"version\":1,\"command\":\"members\"";
	char *s = malloc(n + 1);

	assert_non_null(s);
	assert_true(n >= sizeof(head) + 1);
	memcpy(s, head, sizeof(head) - 1);
	memset(s + sizeof(head) - 1, ' ', n - (sizeof(head) - 1) - 2);
	s[n - 2] = '}';
	s[n - 1] = '\n';
	s[n] = '\0';
	return s;
}

static void test_oversize(void **state)
{
	struct fixture *f = *state;
	char *big = malloc(CTL_MAX_REQUEST + 2);
	char *limit = padded_request(CTL_MAX_REQUEST), *over = padded_request(CTL_MAX_REQUEST + 1);
	char msg[64];
	struct reply r;
	json_t *j;

	assert_non_null(big);
	memset(big, 'a', CTL_MAX_REQUEST + 1);
	big[CTL_MAX_REQUEST + 1] = '\0';
	snprintf(msg, sizeof(msg), "request longer than %d bytes", CTL_MAX_REQUEST);
	EXPECT_ERROR(f, big, CTL_E_TOO_LARGE, msg);
	EXPECT_ERROR(f, over, CTL_E_TOO_LARGE, msg);
	assert_int_equal(f->h.calls, 0);
	/* exactly CTL_MAX_REQUEST bytes, newline included, is still a request */
	exchange(f, limit, strlen(limit), &r);
	j = reply_line(&r, 0);
	assert_status(j, "ok");
	json_decref(j);
	assert_int_equal(f->h.calls, 1);
	free(big);
	free(limit);
	free(over);
}

static void test_half_sent_request_expires(void **state)
{
	struct fixture *f = *state;
	int half = client_connect(f->path), silent = client_connect(f->path);
	struct reply r = { .len = 0 }, q = { .len = 0 };

	pump(f->c, T0_MS); /* accepted at T0: the deadline is T0 + 5 s */
	client_send_str(half, "{\"version\":1,\"comm");
	pump(f->c, T0_MS + 10);
	assert_int_equal(ctl_nclients(f->c), 2);
	ctl_expire(f->c, T0_MS + CTL_REQUEST_TIMEOUT_MS - 1);
	assert_int_equal(ctl_nclients(f->c), 2);
	client_read(half, &r);
	assert_false(r.closed);
	ctl_expire(f->c, T0_MS + CTL_REQUEST_TIMEOUT_MS);
	assert_int_equal(ctl_nclients(f->c), 0);
	client_read(half, &r);
	client_read(silent, &q);
	assert_true(r.closed);
	assert_true(q.closed);
	assert_int_equal(f->h.calls, 0);
	close(half);
	close(silent);
}

static void test_watch_does_not_expire(void **state)
{
	struct fixture *f = *state;
	int w = client_connect(f->path);
	struct reply r = { .len = 0 };

	pump(f->c, T0_MS);
	client_send_str(w, "{\"version\":1,\"command\":\"watch\"}\n");
	pump(f->c, T0_MS);
	ctl_expire(f->c, T0_MS + 100 * CTL_REQUEST_TIMEOUT_MS);
	assert_int_equal(ctl_nclients(f->c), 1);
	client_read(w, &r);
	assert_false(r.closed);
	close(w);
	pump(f->c, T0_MS);
	assert_int_equal(ctl_nclients(f->c), 0);
}

static void read_one_reply(int fd, const char *status, struct reply *r)
{
	json_t *j;

	memset(r, 0, sizeof(*r));
	client_read(fd, r);
	assert_int_equal(reply_lines(r), 1);
	j = reply_line(r, 0);
	assert_status(j, status);
	json_decref(j);
}

/* Bad clients, in the same poll round as a good one, cost it nothing. */
static void test_bad_client_isolated(void **state)
{
	struct fixture *f = *state;
	int garbage = client_connect(f->path), good = client_connect(f->path);
	int over = client_connect(f->path), half = client_connect(f->path);
	int idle = client_connect(f->path);
	char big[CTL_MAX_REQUEST + 1];
	struct reply r;

	pump(f->c, T0_MS);
	assert_int_equal(ctl_nclients(f->c), 5);
	memset(big, '{', sizeof(big));
	client_send_str(garbage, "\x01\x02 garbage\n");
	client_send_str(good, "{\"version\":1,\"command\":\"status\"}\n");
	client_send(over, big, sizeof(big));
	client_send_str(half, "{\"version\":1,");
	pump_once(f->c, T0_MS + 1);
	read_one_reply(garbage, "error", &r);
	assert_true(r.closed);
	read_one_reply(good, "ok", &r);
	assert_true(r.closed);
	read_one_reply(over, "error", &r);
	assert_true(r.closed);
	assert_int_equal(f->h.calls, 1);
	assert_int_equal(ctl_nclients(f->c), 2); /* the half-sent and the idle one */
	client_send_str(half, "\"command\":\"members\"}\n");
	client_send_str(idle, "{\"version\":1,\"command\":\"stats\"}\n");
	pump(f->c, T0_MS + 2);
	read_one_reply(half, "ok", &r);
	read_one_reply(idle, "ok", &r);
	assert_int_equal(f->h.calls, 3);
	assert_int_equal(ctl_nclients(f->c), 0);
	close(garbage);
	close(good);
	close(over);
	close(half);
	close(idle);
}

static void test_stale_socket_replaced(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_un sun;
	char path[320], err[256];
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct ctl *c;

	/* a socket file left by a daemon that died: bound, nobody listening */
	tu_path(path, sizeof(path), f->dir, "stale.sock");
	sun_set(&sun, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	c = ctl_open(path, NULL, test_handler, &f->h, err, sizeof(err));
	if (c == NULL)
		fail_msg("stale socket not replaced: %s", err);
	fd = client_connect(path);
	pump(c, T0_MS);
	assert_int_equal(ctl_nclients(c), 1);
	close(fd);
	ctl_close(c);
}

static void test_live_socket_refused(void **state)
{
	struct fixture *f = *state;
	struct handler_log other = { .calls = 0 };
	char err[256];
	struct reply r;

	assert_null(ctl_open(f->path, NULL, test_handler, &other, err, sizeof(err)));
	assert_non_null(strstr(err, "another cmemd answers"));
	assert_non_null(strstr(err, f->path));
	/* the first server still owns its socket */
	EXPECT_ERROR(f, "{\"version\":1,\"command\":\"fail\"}\n", CTL_E_BAD_VALUE, "refused");
	exchange(f, "{\"version\":1,\"command\":\"members\"}\n",
	         strlen("{\"version\":1,\"command\":\"members\"}\n"), &r);
	assert_non_null(strstr(r.text, "\"echo\":\"members\""));
	assert_int_equal(other.calls, 0);
}

static void test_non_socket_refused(void **state)
{
	struct fixture *f = *state;
	char path[320], err[256];
	size_t len = 0;
	char *text;

	tu_path(path, sizeof(path), f->dir, "plain");
	assert_int_equal(tu_write_file(path, "keep me\n", 8, 0644), 0);
	assert_null(ctl_open(path, NULL, test_handler, &f->h, err, sizeof(err)));
	assert_non_null(strstr(err, "exists and is not a socket"));
	text = tu_read_file(path, &len);
	assert_non_null(text);
	assert_string_equal(text, "keep me\n");
	free(text);
}

static void test_socket_mode_and_group(void **state)
{
	struct fixture *f = *state;
	struct group *gr = getgrgid(getgid());
	char path[320], err[256];
	struct stat st;
	struct ctl *c;
	mode_t old;

	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0660);
	/* whatever the umask, and with the group asked for */
	assert_non_null(gr);
	tu_path(path, sizeof(path), f->dir, "group.sock");
	old = umask(0);
	c = ctl_open(path, gr->gr_name, test_handler, &f->h, err, sizeof(err));
	umask(old);
	if (c == NULL)
		fail_msg("ctl_open with group %s: %s", gr->gr_name, err);
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(st.st_gid, getgid());
	ctl_close(c);
	unlink(path);
	assert_null(ctl_open(path, "no-such-group-cmem", test_handler, &f->h, err, sizeof(err)));
	assert_non_null(strstr(err, "control_group 'no-such-group-cmem' does not exist"));
	assert_int_equal(lstat(path, &st), -1); /* not left behind */
}

/* Connect n clients, pumping at now_ms between batches so none waits. */
static void connect_many(struct fixture *f, int *fds, size_t n, uint64_t now_ms)
{
	for (size_t i = 0; i < n; i++) {
		fds[i] = client_connect(f->path);
		if ((i + 1) % CONNECT_BATCH == 0)
			pump(f->c, now_ms);
	}
	pump(f->c, now_ms);
}

static void close_all(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* A new client gets an answer; fd is closed afterwards. */
static void expect_served(struct fixture *f, int fd, uint64_t now_ms)
{
	struct reply r;

	client_send_str(fd, "{\"version\":1,\"command\":\"members\"}\n");
	pump(f->c, now_ms);
	read_one_reply(fd, "ok", &r);
	assert_true(r.closed);
	close(fd);
}

static void expect_closed(int fd, int closed)
{
	struct reply r = { .len = 0 };

	client_read(fd, &r);
	assert_int_equal(r.closed, closed);
	assert_int_equal(r.len, 0);
}

static void test_client_limit_evicts_oldest_idle(void **state)
{
	struct fixture *f = *state;
	int fds[CTL_MAX_CLIENTS], extra[3];

	fds[0] = client_connect(f->path); /* the oldest, but it has started a request */
	pump(f->c, T0_MS);
	client_send_str(fds[0], "{");
	fds[1] = client_connect(f->path); /* the oldest idle one */
	pump(f->c, T0_MS + 10);
	connect_many(f, fds + 2, CTL_MAX_CLIENTS - 2, T0_MS + 20);
	assert_int_equal(ctl_nclients(f->c), CTL_MAX_CLIENTS);

	extra[0] = client_connect(f->path);
	pump(f->c, T0_MS + 30);
	assert_int_equal(ctl_nclients(f->c), CTL_MAX_CLIENTS);
	expect_closed(fds[1], 1);
	expect_closed(fds[0], 0);
	expect_closed(fds[2], 0);
	expect_served(f, extra[0], T0_MS + 30);
	assert_int_equal(ctl_nclients(f->c), CTL_MAX_CLIENTS - 1);

	/* two newcomers at once, room for one: both get in */
	extra[1] = client_connect(f->path);
	extra[2] = client_connect(f->path);
	pump(f->c, T0_MS + 40);
	assert_int_equal(ctl_nclients(f->c), CTL_MAX_CLIENTS);
	expect_served(f, extra[1], T0_MS + 40);
	expect_served(f, extra[2], T0_MS + 40);
	expect_closed(fds[0], 0);
	close_all(fds, CTL_MAX_CLIENTS);
	pump(f->c, T0_MS + 50);
	assert_int_equal(ctl_nclients(f->c), 0);
}

static void test_client_limit_all_busy(void **state)
{
	struct fixture *f = *state;
	int fds[CTL_MAX_CLIENTS], late;
	struct reply r;

	connect_many(f, fds, CTL_MAX_CLIENTS, T0_MS);
	for (size_t i = 0; i < CTL_MAX_CLIENTS; i++)
		client_send_str(fds[i], "{\"version\":");
	pump(f->c, T0_MS + 1);
	assert_int_equal(ctl_nclients(f->c), CTL_MAX_CLIENTS);
	/* nobody idle to make room for it: the newcomer is told, then closed */
	late = client_connect(f->path);
	pump(f->c, T0_MS + 2);
	read_one_reply(late, "error", &r);
	assert_true(r.closed);
	assert_non_null(strstr(r.text, "too many control clients"));
	assert_int_equal(ctl_nclients(f->c), CTL_MAX_CLIENTS);
	close(late);
	/* the busy ones are still served */
	client_send_str(fds[5], "1,\"command\":\"status\"}\n");
	pump(f->c, T0_MS + 3);
	read_one_reply(fds[5], "ok", &r);
	close_all(fds, CTL_MAX_CLIENTS);
	pump(f->c, T0_MS + 4);
	assert_int_equal(ctl_nclients(f->c), 0);
}

static int start_watch(struct fixture *f)
{
	int fd = client_connect(f->path);
	struct reply r;
	json_t *j;

	pump(f->c, T0_MS);
	client_send_str(fd, "{\"version\":1,\"command\":\"watch\"}\n");
	pump(f->c, T0_MS);
	memset(&r, 0, sizeof(r));
	client_read(fd, &r);
	assert_false(r.closed);
	assert_int_equal(reply_lines(&r), 1);
	j = reply_line(&r, 0);
	assert_status(j, "ok");
	assert_string_equal(json_string_value(json_object_get(j, "self")), "test-node");
	json_decref(j);
	return fd;
}

static json_t *sample_event(const char *detail)
{
	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "event", "join", "member", "node-b",
	                 "address", "10.0.0.2", "incarnation", (json_int_t)42, "time",
	                 (json_int_t)1764172800, "detail", detail);
}

static void test_watch_broadcast(void **state)
{
	struct fixture *f = *state;
	int w1 = start_watch(f), w2 = start_watch(f), plain = client_connect(f->path);
	json_t *e = sample_event("joined"), *j;
	struct reply r;

	pump(f->c, T0_MS);
	assert_int_equal(ctl_nclients(f->c), 3);
	ctl_broadcast(f->c, e);
	for (int i = 0; i < 2; i++) {
		memset(&r, 0, sizeof(r));
		client_read(i ? w2 : w1, &r);
		assert_false(r.closed);
		assert_int_equal(reply_lines(&r), 1);
		j = reply_line(&r, 0);
		assert_string_equal(json_string_value(json_object_get(j, "event")), "join");
		assert_string_equal(json_string_value(json_object_get(j, "member")), "node-b");
		assert_string_equal(json_string_value(json_object_get(j, "address")), "10.0.0.2");
		assert_int_equal(json_integer_value(json_object_get(j, "incarnation")), 42);
		assert_int_equal(json_integer_value(json_object_get(j, "version")), CTL_VERSION);
		json_decref(j);
	}
	expect_closed(plain, 0); /* not a watcher: nothing sent to it */
	/* a watcher that hangs up goes, and is not counted as a slow reader */
	close(w1);
	ctl_broadcast(f->c, e);
	pump(f->c, T0_MS);
	assert_int_equal(ctl_nclients(f->c), 2);
	memset(&r, 0, sizeof(r));
	client_read(w2, &r);
	assert_int_equal(reply_lines(&r), 1);
	assert_non_null(strstr(r.text, "\"event\":\"join\""));
	assert_int_equal(ctl_dropped_watchers(f->c), 0);
	json_decref(e);
	close(w2);
	close(plain);
}

/* Broadcast until the slow watcher is dropped; returns the bytes sent meanwhile. */
static size_t flood_until_dropped(struct fixture *f, int fast, json_t *e, size_t *fast_lines)
{
	size_t sent = 0, line = strlen(json_string_value(json_object_get(e, "detail")));
	char buf[65536];

	for (int i = 0; i < 100000 && ctl_dropped_watchers(f->c) == 0; i++) {
		ssize_t n;

		ctl_broadcast(f->c, e);
		sent += line;
		while ((n = recv(fast, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
			for (ssize_t k = 0; k < n; k++)
				*fast_lines += buf[k] == '\n';
	}
	return sent;
}

static void test_slow_watcher_dropped(void **state)
{
	struct fixture *f = *state;
	int slow = start_watch(f), fast = start_watch(f), small = 1024;
	char detail[1001];
	struct tu_log log;
	size_t sent, fast_lines = 0, events;
	json_t *e;

	assert_int_equal(setsockopt(slow, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	memset(detail, 'x', sizeof(detail) - 1);
	detail[sizeof(detail) - 1] = '\0';
	e = sample_event(detail);
	tu_log_capture(&log);
	alarm(30); /* a broadcast that blocked would hang here: fail instead */
	sent = flood_until_dropped(f, fast, e, &fast_lines);
	alarm(0);
	tu_log_release(&log);
	events = sent / (sizeof(detail) - 1);
	assert_int_equal(ctl_dropped_watchers(f->c), 1);
	assert_int_equal(ctl_nclients(f->c), 1); /* the one that reads stays */
	assert_int_equal(fast_lines, events);
	assert_true(sent > CTL_WATCH_BACKLOG);     /* it had its whole backlog */
	assert_true(sent < CTL_WATCH_BACKLOG + (8u << 20));
	assert_true(tu_log_contains(&log, "dropped a watch client"));
	ctl_broadcast(f->c, e); /* the reader still gets events */
	assert_int_equal(recv(fast, detail, 1, MSG_DONTWAIT), 1);
	json_decref(e);
	close(slow);
	close(fast);
}

static void test_reply_too_large(void **state)
{
	struct fixture *f = *state;

	EXPECT_ERROR(f, "{\"version\":1,\"command\":\"huge\"}\n", CTL_E_TOO_LARGE, "reply too large");
	assert_int_equal(f->h.calls, 1);
}

/* ---- limits: watchers, per uid, root always answered ---- */

/* A connection made with effective uid uid (root only: seteuid there and back). */
static int connect_as(const char *path, uid_t uid)
{
	int fd;

	if (uid != geteuid())
		assert_int_equal(seteuid(uid), 0);
	fd = client_connect(path);
	if (geteuid() != 0)
		assert_int_equal(seteuid(0), 0);
	return fd;
}

/* Let other uids reach the fixture's socket (the test only; cmemd never does this). */
static void open_to_all(struct fixture *f)
{
	assert_int_equal(chmod(f->dir, 0755), 0);
	assert_int_equal(chmod(f->path, 0666), 0);
}

static void expect_busy(int fd, const char *msg)
{
	struct reply r;
	json_t *j;

	read_one_reply(fd, "error", &r);
	assert_true(r.closed);
	j = reply_line(&r, 0);
	assert_string_equal(json_string_value(json_object_get(j, "code")), CTL_E_BUSY);
	assert_string_equal(json_string_value(json_object_get(j, "error")), msg);
	json_decref(j);
	close(fd);
}

static void test_watch_limit(void **state)
{
	struct fixture *f = *state;
	int w[CTL_MAX_WATCHERS], extra = client_connect(f->path);

	for (size_t i = 0; i < CTL_MAX_WATCHERS; i++)
		w[i] = start_watch(f);
	assert_int_equal(ctl_nwatchers(f->c), CTL_MAX_WATCHERS);
	pump(f->c, T0_MS);
	client_send_str(extra, "{\"version\":1,\"command\":\"watch\"}\n");
	pump(f->c, T0_MS);
	expect_busy(extra, "too many watch clients (64)");
	assert_int_equal(ctl_nwatchers(f->c), CTL_MAX_WATCHERS);
	expect_served(f, client_connect(f->path), T0_MS); /* requests still get in */
	close_all(w, CTL_MAX_WATCHERS);
	pump(f->c, T0_MS);
	assert_int_equal(ctl_nclients(f->c), 0);
}

static void test_per_uid_limit(void **state)
{
	struct fixture *f = *state;
	int fds[CTL_MAX_PER_UID + 1], late;

	if (geteuid() != 0)
		skip(); /* needs a second uid */
	open_to_all(f);
	for (size_t i = 0; i < CTL_MAX_PER_UID; i++) {
		fds[i] = connect_as(f->path, 65534);
		pump(f->c, T0_MS + i);
	}
	assert_int_equal(ctl_nclients(f->c), CTL_MAX_PER_UID);
	/* one more of that uid: its own oldest idle connection makes room */
	fds[CTL_MAX_PER_UID] = connect_as(f->path, 65534);
	pump(f->c, T0_MS + 100);
	assert_int_equal(ctl_nclients(f->c), CTL_MAX_PER_UID);
	expect_closed(fds[0], 1);
	expect_closed(fds[1], 0);
	/* all of them mid-request: the next one of that uid is refused */
	for (size_t i = 1; i <= CTL_MAX_PER_UID; i++)
		client_send_str(fds[i], "{");
	pump(f->c, T0_MS + 101);
	late = connect_as(f->path, 65534);
	pump(f->c, T0_MS + 102);
	expect_busy(late, "too many control clients of this uid");
	/* another uid is not affected */
	expect_served(f, connect_as(f->path, 65533), T0_MS + 103);
	expect_served(f, client_connect(f->path), T0_MS + 103);
	close_all(fds, CTL_MAX_PER_UID + 1);
	pump(f->c, T0_MS + 104);
	assert_int_equal(ctl_nclients(f->c), 0);
}

/* Four non-root uids fill every slot (64 watchers, 64 mid-request): root still gets in. */
static void test_root_always_answered(void **state)
{
	struct fixture *f = *state;
	int fds[CTL_MAX_CLIENTS], lates[2], late;
	size_t n = 0;

	if (geteuid() != 0)
		skip();
	open_to_all(f);
	for (uid_t uid = 65531; uid <= 65534; uid++) {
		for (size_t i = 0; i < CTL_MAX_PER_UID; i++, n++) {
			fds[n] = connect_as(f->path, uid);
			pump(f->c, T0_MS + n);
			client_send_str(fds[n], uid >= 65533 ? "{\"version\":1,\"command\":\"watch\"}\n" : "{");
			pump(f->c, T0_MS + n);
		}
	}
	assert_int_equal(ctl_nclients(f->c), CTL_MAX_CLIENTS);
	assert_int_equal(ctl_nwatchers(f->c), CTL_MAX_WATCHERS);
	/* a fifth non-root uid finds no room */
	late = connect_as(f->path, 65530);
	pump(f->c, T0_MS + 200);
	expect_busy(late, "too many control clients");
	/* root does, each time: the oldest watcher makes room */
	for (int k = 0; k < 2; k++) {
		struct reply r = { .len = 0 };

		expect_served(f, client_connect(f->path), T0_MS + 201 + k);
		client_read(fds[2 * CTL_MAX_PER_UID + k], &r);
		assert_true(r.closed);
		/* the freed slot goes to a non-root newcomer, mid-request: full again */
		lates[k] = connect_as(f->path, 65530);
		pump(f->c, T0_MS + 201 + k);
		client_send_str(lates[k], "{");
		pump(f->c, T0_MS + 201 + k);
		assert_int_equal(ctl_nclients(f->c), CTL_MAX_CLIENTS);
	}
	pump(f->c, T0_MS + 210);
	assert_int_equal(ctl_nwatchers(f->c), CTL_MAX_WATCHERS - 2);
	expect_closed(fds[0], 0); /* the ones mid-request stay */
	close_all(fds, CTL_MAX_CLIENTS);
	close_all(lates, 2);
	pump(f->c, T0_MS + 300);
	assert_int_equal(ctl_nclients(f->c), 0);
}

/* ---- the socket's directory and path ---- */

static void expect_open_refused(struct fixture *f, const char *path, const char *msg)
{
	char err[512];

	assert_null(ctl_open(path, NULL, test_handler, &f->h, err, sizeof(err)));
	if (strstr(err, msg) == NULL)
		fail_msg("error '%s' lacks '%s'", err, msg);
}

static void test_socket_dir_refused(void **state)
{
	struct fixture *f = *state;
	char dir[320], sub[400], path[480], msg[1400];
	struct stat st;

	tu_path(dir, sizeof(dir), f->dir, "open");
	assert_int_equal(mkdir(dir, 0755), 0);
	tu_path(path, sizeof(path), dir, "cmemd.sock");
	assert_int_equal(chmod(dir, 0777), 0);
	snprintf(msg, sizeof(msg), "control socket %s: directory %s is writable by others (mode 0777)",
	         path, dir);
	expect_open_refused(f, path, msg);
	assert_int_equal(chmod(dir, 01777), 0); /* sticky is not enough for the socket's own directory */
	expect_open_refused(f, path, "is writable by others (mode 1777)");
	assert_int_equal(chmod(dir, 0770), 0);
	expect_open_refused(f, path, "is writable by its group (mode 0770)");
	assert_int_equal(lstat(path, &st), -1); /* nothing was created */
	/* a sticky world-writable directory above the socket's own is fine, as /tmp is */
	assert_int_equal(chmod(dir, 01777), 0);
	tu_path(sub, sizeof(sub), dir, "sub");
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_int_equal(chmod(sub, 0755), 0);
	tu_path(path, sizeof(path), sub, "cmemd.sock");
	assert_int_equal(ctl_check_dir(path, geteuid(), msg, sizeof(msg)), 0);
	/* owned by someone else */
	if (geteuid() == 0) {
		assert_int_equal(chmod(dir, 0755), 0);
		assert_int_equal(chown(dir, 65534, 65534), 0);
		tu_path(path, sizeof(path), dir, "cmemd.sock");
		expect_open_refused(f, path, "is owned by uid 65534, not by root");
	}
}

/* A link to an open directory is judged by where it leads. */
static void test_socket_dir_link_resolved(void **state)
{
	struct fixture *f = *state;
	char open_dir[320], link[320], path[400];

	tu_path(open_dir, sizeof(open_dir), f->dir, "open");
	assert_int_equal(mkdir(open_dir, 0755), 0);
	assert_int_equal(chmod(open_dir, 0777), 0);
	tu_path(link, sizeof(link), f->dir, "run");
	assert_int_equal(symlink(open_dir, link), 0);
	tu_path(path, sizeof(path), link, "cmemd.sock");
	expect_open_refused(f, path, "is writable by others (mode 0777)");
}

/* A link planted at the socket's path: refused, and its target keeps its mode. */
static void test_socket_path_link_not_followed(void **state)
{
	struct fixture *f = *state;
	char target[320], path[320];
	struct stat st;

	tu_path(target, sizeof(target), f->dir, "shadow");
	assert_int_equal(tu_write_file(target, "secret\n", 7, 0600), 0);
	tu_path(path, sizeof(path), f->dir, "evil.sock");
	assert_int_equal(symlink(target, path), 0);
	expect_open_refused(f, path, "exists and is not a socket");
	assert_int_equal(stat(target, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, getuid());
	assert_int_equal(st.st_gid, getgid());
}

/* daemon_ctl's loglevel: refused unless the peer is root, before anything else. */
static void test_loglevel_needs_root(void **state)
{
	static struct daemon d;
	struct ctl_peer nobody = { .pid = 1234, .uid = 65534, .gid = 65534 };
	struct ctl_peer root = { .pid = 1234, .uid = 0, .gid = 0 };
	json_t *req = json_pack("{s:i, s:s, s:s}", "version", 1, "command", "loglevel", "level",
	                        "debug");
	struct tu_log log;
	int watch = 0;
	json_t *r;

	(void)state;
	tu_log_capture(&log);
	log_set_level(LOG_LEVEL_WARN);
	r = daemon_ctl_handle(&d, "loglevel", req, &nobody, &watch);
	assert_string_equal(json_string_value(json_object_get(r, "status")), "error");
	assert_string_equal(json_string_value(json_object_get(r, "error")),
	                    "permission denied: changing the log level needs root (uid 0), "
	                    "you are uid 65534");
	assert_int_equal(log_get_level(), LOG_LEVEL_WARN);
	json_decref(r);
	r = daemon_ctl_handle(&d, "loglevel", req, &root, &watch);
	assert_string_equal(json_string_value(json_object_get(r, "status")), "ok");
	assert_string_equal(json_string_value(json_object_get(r, "level")), "debug");
	assert_int_equal(log_get_level(), LOG_LEVEL_DEBUG);
	assert_int_equal(watch, 0);
	json_decref(r);
	json_decref(req);
	assert_true(tu_log_contains(&log, "log level set to debug by uid 0 (pid 1234)"));
	tu_log_release(&log);
}

#define CTL_TEST(t) cmocka_unit_test_setup_teardown(t, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		CTL_TEST(test_good_request),
		CTL_TEST(test_handler_error_reply),
		CTL_TEST(test_garbage),
		CTL_TEST(test_error_text_quoting_the_request),
		CTL_TEST(test_not_an_object),
		CTL_TEST(test_missing_version),
		CTL_TEST(test_wrong_version),
		CTL_TEST(test_missing_command),
		CTL_TEST(test_oversize),
		CTL_TEST(test_half_sent_request_expires),
		CTL_TEST(test_watch_does_not_expire),
		CTL_TEST(test_bad_client_isolated),
		CTL_TEST(test_stale_socket_replaced),
		CTL_TEST(test_live_socket_refused),
		CTL_TEST(test_non_socket_refused),
		CTL_TEST(test_socket_mode_and_group),
		CTL_TEST(test_client_limit_evicts_oldest_idle),
		CTL_TEST(test_client_limit_all_busy),
		CTL_TEST(test_watch_broadcast),
		CTL_TEST(test_slow_watcher_dropped),
		CTL_TEST(test_reply_too_large),
		CTL_TEST(test_watch_limit),
		CTL_TEST(test_per_uid_limit),
		CTL_TEST(test_root_always_answered),
		CTL_TEST(test_socket_dir_refused),
		CTL_TEST(test_socket_dir_link_resolved),
		CTL_TEST(test_socket_path_link_not_followed),
		cmocka_unit_test(test_loglevel_needs_root),
	};

	signal(SIGPIPE, SIG_IGN); /* as cmemd does: a peer that hung up is an error, not a signal */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
