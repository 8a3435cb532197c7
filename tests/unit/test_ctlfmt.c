/*
 * Unit tests: cmemctl's writers (table, JSON, Prometheus) on the replies
 * the daemon's real handlers produce: a struct daemon is set up as
 * test_daemon.c does, hears two peers through daemon_receive(), and is
 * asked through daemon_ctl_handle(); events come from a real control
 * socket with a watcher on it.  The clock the answers read is injected,
 * so every figure is exact.  A change in a reply breaks a test here.
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <poll.h>
#include <regex.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "ctlfmt.h"
#include "daemon_ctl.h"
#include "daemon_fixture.h"
#include "util.h"

#define NOW_MS 5000000u
#define NOW_S 1764172800u /* 2025-11-26 16:00:00 UTC */
#define ASK_MS (NOW_MS + 12)

static struct daemon d;
static const struct ctl_peer root = { .pid = 100, .uid = 0, .gid = 0 };

static void quiet(enum log_level level, const char *msg, void *arg)
{
	(void)level;
	(void)msg;
	(void)arg;
}

static struct member_addr addr(const char *s)
{
	return fixture_addr4(s);
}

static void rx(const char *sender, const char *body, uint64_t inc, uint64_t ctr, uint64_t ts,
               const char *from, uint64_t now_ms)
{
	assert_int_equal(fixture_rx(&d, sender, body, inc, ctr, ts, from, now_ms, NOW_S), 0);
}

/*
 * node-c heard 3009 ms before the question and then failed; node-b heard
 * 12 ms before it, its clock 1 s ahead; one forged datagram from 10.0.0.9.
 */
static int setup(void **state)
{
	struct member_addr bad = addr("10.0.0.9");

	(void)state;
	assert_true(sodium_init() >= 0);
	memset(&d, 0, sizeof(d));
	config_defaults(&d.cfg);
	snprintf(d.cfg.name, sizeof(d.cfg.name), "node-a");
	snprintf(d.cfg.group, sizeof(d.cfg.group), "239.192.51.10");
	d.kr = tu_vector_keyring();
	d.net.fd = -1;
	d.incarnation = 1764172790123456u;
	d.self_addr = addr("10.0.0.1");
	log_set_hook(quiet, NULL);
	log_set_level(LOG_LEVEL_INFO);
	daemon_init(&d, fixture_set_time(NOW_MS - 3600000, NOW_S - 3600));
	d.self_addr = addr("10.0.0.1");
	rx("node-c", "cjoin node-c", 6, 1, NOW_S, "10.0.0.3", NOW_MS - 3009);
	fixture_timers(&d, NOW_MS - 1, NOW_S);
	rx("node-b", "alive node-b 1764172801", 5, 1, NOW_S + 1, "10.0.0.2", NOW_MS);
	daemon_receive(&d, (const uint8_t *)"1764172800: [x] alive x |v1 k=1 n=1.1 h=00", 43, &bad,
	               NOW_MS, NOW_S);
	fixture_set_time(ASK_MS, NOW_S); /* what the answers read */
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	log_set_hook(NULL, NULL);
	daemon_fini(&d);
	keyring_free(d.kr);
	return 0;
}

/* The daemon's reply to a request of command (and extra fields). */
static json_t *ask(const char *command, const char *extra)
{
	char text[256];
	json_error_t jerr;
	json_t *req, *r;
	int watch = 0;

	snprintf(text, sizeof(text), "{\"version\":1,\"command\":\"%s\"%s}", command, extra);
	req = json_loads(text, 0, &jerr);
	assert_non_null(req);
	r = daemon_ctl_handle(&d, command, req, &root, &watch);
	json_decref(req);
	assert_string_equal(json_string_value(json_object_get(r, "status")), "ok");
	return r;
}

typedef int (*write_fn)(FILE *f, json_t *reply);

/* What fn writes for reply (consumed); *rc gets its return value. */
static char *render(write_fn fn, json_t *r, int *rc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(fn);
	assert_non_null(f);
	*rc = fn(f, r);
	assert_int_equal(fclose(f), 0);
	json_decref(r);
	return buf;
}

static json_t *parse(const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads(text, 0, &jerr);

	if (j == NULL)
		fail_msg("does not parse: %s: %s", jerr.text, text);
	return j;
}

/* fn refuses the reply and writes nothing. */
static void expect_refused(write_fn fn, const char *text)
{
	int rc;
	char *out = render(fn, parse(text), &rc);

	if (rc != -1)
		fail_msg("writer accepted %s and wrote: %s", text, out);
	assert_string_equal(out, "");
	free(out);
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* The n-th line (from 0) of s, without its newline, into buf. */
static const char *line_at(const char *s, size_t n, char *buf, size_t size)
{
	const char *end;

	for (; n > 0; n--) {
		s = strchr(s, '\n');
		assert_non_null(s);
		s++;
	}
	end = strchr(s, '\n');
	assert_non_null(end);
	assert_true((size_t)(end - s) < size);
	memcpy(buf, s, (size_t)(end - s));
	buf[end - s] = '\0';
	return buf;
}

static size_t split_words(char *line, char **words, size_t max)
{
	size_t n = 0;

	for (char *w = strtok(line, " "); w && n < max; w = strtok(NULL, " "))
		words[n++] = w;
	return n;
}

/* The line of out that starts with name (then a space); fails if none. */
static const char *row_of(const char *out, const char *name, char *buf, size_t size)
{
	for (size_t i = 0; i < count_lines(out); i++) {
		line_at(out, i, buf, size);
		if (strncmp(buf, name, strlen(name)) == 0 && buf[strlen(name)] == ' ')
			return buf;
	}
	fail_msg("no row for %s in:\n%s", name, out);
	return NULL;
}

static void test_table_members(void **state)
{
	static const char *const header[] = { "NAME", "ADDRESS", "STATE", "SINCE",
		                              "LAST", "HEARD", "LOSS", "SKEW" };
	int rc;
	char *out = render(ctlfmt_table.members, ask("members", ""), &rc), line[256], head[256];
	char *w[16];

	(void)state;
	assert_int_equal(rc, 0);
	assert_int_equal(count_lines(out), 4); /* header and one row per member, self included */
	line_at(out, 0, head, sizeof(head));
	line_at(out, 0, line, sizeof(line));
	assert_int_equal(split_words(line, w, 16), 8);
	for (size_t i = 0; i < 8; i++)
		assert_string_equal(w[i], header[i]);

	row_of(out, "node-a", line, sizeof(line));
	assert_non_null(strstr(line, "(self)"));
	assert_non_null(strstr(line, "2025-11-26 15:00:00")); /* started an hour before */

	row_of(out, "node-b", line, sizeof(line));
	/* columns line up under the header */
	assert_int_equal(strstr(line, "10.0.0.2") - line, strstr(head, "ADDRESS") - head);
	assert_int_equal(strstr(line, "alive") - line, strstr(head, "STATE") - head);
	assert_int_equal(split_words(line, w, 16), 9);
	assert_string_equal(w[1], "10.0.0.2");
	assert_string_equal(w[2], "alive");
	assert_string_equal(w[3], "2025-11-26");
	assert_string_equal(w[4], "16:00:00");
	assert_string_equal(w[5], "12");
	assert_string_equal(w[6], "ms");
	assert_string_equal(w[7], "0.0%");
	assert_string_equal(w[8], "+1s");

	row_of(out, "node-c", line, sizeof(line));
	assert_int_equal(split_words(line, w, 16), 9);
	assert_string_equal(w[1], "10.0.0.3");
	assert_string_equal(w[2], "failed");
	assert_string_equal(w[5], "3021");
	assert_string_equal(w[8], "+0s");
	free(out);
}

/* A clock 40 s ahead: the sender is named after the members, with why. */
static void test_table_members_rejected(void **state)
{
	int rc;
	char *out, line[256];

	(void)state;
	rx("node-z", "alive node-z 1764172840", 9, 1, NOW_S + 40, "10.0.0.26", NOW_MS - 300 + 12);
	out = render(ctlfmt_table.members, ask("members", ""), &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(count_lines(out), 6);
	assert_non_null(strstr(line_at(out, 4, line, sizeof(line)), "not admitted"));
	assert_string_equal(line_at(out, 5, line, sizeof(line)),
	                    "  node-z (10.0.0.26): clock 40 s ahead of ours, outside the 30 s window: "
	                    "lines dropped as stale; 1 lines, last 300 ms ago");
	free(out);
}

static void test_table_status(void **state)
{
	int rc;
	char *out = render(ctlfmt_table.status, ask("status", ""), &rc), want[160];

	(void)state;
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "node:        node-a (incarnation 1764172790123456)\n"));
	assert_non_null(strstr(out, "version:     cmemd " CMEM_VERSION "\n"));
	assert_non_null(strstr(out, "cluster:     group 239.192.51.10 port 51510 interface default ttl 1\n"));
	assert_non_null(strstr(out, "uptime:      3600 s\n"));
	assert_non_null(strstr(out, "members:     2 alive, 1 failed, 0 left, 0 candidates\n"));
	snprintf(want, sizeof(want), "heartbeat %u ms now (fastest 50 ms, adaptive), fail after >= 750 ms",
	         d.heartbeat_ms);
	assert_non_null(strstr(out, want));
	assert_non_null(strstr(out, "quorum:      2 of 3 known members reachable: majority\n"));
	assert_non_null(strstr(out, "keys:        1* ("));
	assert_non_null(strstr(out, ") 2 ("));
	assert_non_null(strstr(out, "log level:   info\n"));
	snprintf(want, sizeof(want), "confinement: pid %d, uid %d, gid %d, chroot none, ",
	         (int)getpid(), (int)getuid(), (int)getgid());
	assert_non_null(strstr(out, want));
	free(out);
}

/* The number on the line "  KEY   N" of a section of the stats table; -1 if none. */
static long long counted(const char *out, const char *section, const char *key)
{
	const char *at = strstr(out, section);
	char pattern[64];
	long long n = -1;

	if (at == NULL || (at != out && at[-1] != '\n'))
		return -1;
	snprintf(pattern, sizeof(pattern), "\n  %s ", key);
	at = strstr(at, pattern);
	if (at == NULL || sscanf(at + strlen(pattern), "%lld", &n) != 1)
		return -1;
	return n;
}

static void test_table_stats(void **state)
{
	static const char *const sections[] = { "sent\n",  "accepted\n",          "dropped\n",
		                                "accepted by key id\n", "other\n",
		                                "top sources of dropped lines\n" };
	int rc;
	char *out = render(ctlfmt_table.stats, ask("stats", ""), &rc);
	const char *prev = out;

	(void)state;
	assert_int_equal(rc, 0);
	for (size_t i = 0; i < ARRAY_SIZE(sections); i++) {
		const char *at = strstr(prev, sections[i]);

		if (at == NULL)
			fail_msg("section %s missing or out of order in:\n%s", sections[i], out);
		prev = at + strlen(sections[i]);
	}
	assert_int_equal(counted(out, "accepted\n", "alive"), 1);
	assert_int_equal(counted(out, "accepted\n", "cjoin"), 1);
	assert_int_equal(counted(out, "dropped\n", "bad_format") + counted(out, "dropped\n", "bad_mac"), 1);
	assert_int_equal(counted(out, "accepted by key id\n", "1"), 2);
	assert_int_equal(counted(out, "other\n", "dropped_watchers"), 0);
	assert_non_null(strstr(out, "  10.0.0.9 "));
	free(out);
}

static void test_table_keys(void **state)
{
	int rc;
	char *out = render(ctlfmt_table.keys, ask("keys", ""), &rc), line[256];
	char *w[8];

	(void)state;
	assert_int_equal(rc, 0);
	line_at(out, 0, line, sizeof(line));
	assert_int_equal(split_words(line, w, 8), 5);
	assert_string_equal(w[0], "ID");
	line_at(out, 1, line, sizeof(line));
	assert_int_equal(split_words(line, w, 8), 5);
	assert_string_equal(w[0], "1");
	assert_string_equal(w[1], "yes");
	assert_string_equal(w[3], "2"); /* lines accepted on key 1 */
	assert_string_equal(w[4], "1"); /* alive peers on it: node-b */
	assert_string_equal(line_at(out, 3, line, sizeof(line)),
	                    "every alive peer signs with the primary key 1");
	free(out);
}

/* reload answers as keys list does, with the log level it applied. */
static void test_table_reload(void **state)
{
	static const char req[] = "{\"version\":1,\"command\":\"reload\",\"config\":{\"log_level\":"
	                          "\"warn\"},\"keys\":[{\"id\":4,\"secret\":\"" TEST_KEY2_HEX "\","
	                          "\"primary\":true}]}";
	json_t *j = parse(req);
	int watch = 0, rc;
	char *out = render(ctlfmt_table.keys, daemon_ctl_handle(&d, "reload", j, &root, &watch), &rc);
	char line[256];

	(void)state;
	json_decref(j);
	assert_int_equal(rc, 0);
	assert_int_equal(count_lines(out), 4);
	assert_string_equal(line_at(out, 2, line, sizeof(line)), "log level: warn");
	assert_string_equal(line_at(out, 3, line, sizeof(line)),
	                    "peers not yet signing with the primary key 4: node-b (key 1)");
	free(out);
}

static void test_table_simple(void **state)
{
	int rc;
	char *out = render(ctlfmt_table.simple, ask("loglevel", ",\"level\":\"debug\""), &rc);

	(void)state;
	assert_int_equal(rc, 0);
	assert_string_equal(out, "level: debug\n");
	free(out);
}

static void test_table_refuses_incomplete(void **state)
{
	(void)state;
	expect_refused(ctlfmt_table.members, "{\"status\":\"ok\"}");
	expect_refused(ctlfmt_table.members, "{\"status\":\"ok\",\"members\":{}}");
	expect_refused(ctlfmt_table.status, "{\"status\":\"ok\",\"name\":\"node-a\"}");
	expect_refused(ctlfmt_table.status,
	               "{\"status\":\"ok\",\"cluster\":{},\"members\":{},\"detector\":{}}");
	expect_refused(ctlfmt_table.stats, "{\"status\":\"ok\",\"sent\":{}}");
	expect_refused(ctlfmt_table.event, "{\"version\":1}");
	expect_refused(ctlfmt_table.event, "{\"member\":\"node-b\"}");
	expect_refused(ctlfmt_table.event, "{\"event\":\"join\"}");
	expect_refused(ctlfmt_table.keys, "{\"status\":\"ok\"}");
}

/* ---- events: from a real control socket, as a watcher gets them ---- */

struct watcher {
	char dir[256], path[320];
	int fd;
};

static void pump(void)
{
	struct pollfd pfd[8];

	for (int i = 0; i < 16; i++) {
		size_t n = ctl_pollfds(d.ctl, pfd, ARRAY_SIZE(pfd));

		if (poll(pfd, n, 0) <= 0)
			return;
		ctl_process(d.ctl, pfd, n, NOW_MS);
	}
}

static void watch_start(struct watcher *w)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char err[256], buf[256];
	ssize_t n;

	tu_mkdtemp(w->dir, sizeof(w->dir));
	tu_path(w->path, sizeof(w->path), w->dir, "ctl.sock");
	d.ctl = ctl_open(w->path, NULL, daemon_ctl_handle, &d, err, sizeof(err));
	if (d.ctl == NULL)
		fail_msg("ctl_open: %s", err);
	memcpy(sun.sun_path, w->path, strlen(w->path) + 1);
	w->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(w->fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	pump();
	assert_int_equal(write(w->fd, "{\"version\":1,\"command\":\"watch\"}\n", 33), 33);
	pump();
	n = recv(w->fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "\"self\":\"node-a\""));
}

/* The next event line the watcher got, parsed. */
static json_t *watch_next(struct watcher *w)
{
	char buf[1024];
	size_t len = 0;

	while (len < sizeof(buf) - 1) {
		ssize_t n = recv(w->fd, buf + len, 1, MSG_DONTWAIT);

		if (n != 1)
			fail_msg("no event line (got '%.*s')", (int)len, buf);
		if (buf[len++] == '\n')
			break;
	}
	buf[len] = '\0';
	return parse(buf);
}

static void watch_stop(struct watcher *w)
{
	close(w->fd);
	ctl_close(d.ctl);
	d.ctl = NULL;
	tu_rmtree(w->dir);
}

static void test_table_events(void **state)
{
	struct watcher w;
	int rc;
	char *out;
	json_t *e;

	(void)state;
	watch_start(&w);
	rx("node-d", "cjoin node-d", 8, 1, NOW_S, "10.0.0.4", NOW_MS);
	e = watch_next(&w);
	assert_int_equal(json_integer_value(json_object_get(e, "version")), CTL_VERSION);
	json_object_set_new(e, "time", json_integer(NOW_S)); /* the daemon stamps the real time */
	out = render(ctlfmt_table.event, e, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(out, "2025-11-26 16:00:00 join          node-d (10.0.0.4) incarnation 8: "
	                         "joined\n");
	free(out);
	/* a clock 4 s ahead: a skew event */
	rx("node-d", "alive node-d 1764172804", 8, 2, NOW_S + 4, "10.0.0.4", NOW_MS + 50);
	e = watch_next(&w);
	assert_string_equal(json_string_value(json_object_get(e, "event")), "skew");
	assert_int_equal(json_integer_value(json_object_get(e, "skew_s")), 4);
	out = render(ctlfmt_table.event, e, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, " skew          node-d (10.0.0.4) incarnation 8: "));
	free(out);
	watch_stop(&w);
}

/* The JSON writer: one line that parses back to the same object. */
static void expect_json_roundtrip(write_fn fn, json_t *orig)
{
	json_t *back;
	json_error_t jerr;
	int rc;
	char *out = render(fn, json_incref(orig), &rc);

	assert_int_equal(rc, 0);
	assert_int_equal(count_lines(out), 1);
	assert_int_equal(out[strlen(out) - 1], '\n');
	back = json_loads(out, 0, &jerr);
	if (back == NULL)
		fail_msg("JSON writer output does not parse: %s: %s", jerr.text, out);
	if (!json_equal(orig, back))
		fail_msg("JSON writer changed the reply: wrote:\n%s", out);
	json_decref(back);
	json_decref(orig);
	free(out);
}

static void test_json_writer(void **state)
{
	(void)state;
	expect_json_roundtrip(ctlfmt_json.members, ask("members", ""));
	expect_json_roundtrip(ctlfmt_json.status, ask("status", ""));
	expect_json_roundtrip(ctlfmt_json.stats, ask("stats", ""));
	expect_json_roundtrip(ctlfmt_json.keys, ask("keys", ""));
	expect_json_roundtrip(ctlfmt_json.simple, ask("loglevel", ",\"level\":\"warn\""));
}

/* Every writer fills the slots it supports and leaves the others NULL. */
static void test_writer_slots(void **state)
{
	(void)state;
	assert_non_null(ctlfmt_table.members);
	assert_non_null(ctlfmt_table.status);
	assert_non_null(ctlfmt_table.stats);
	assert_non_null(ctlfmt_table.event);
	assert_non_null(ctlfmt_table.keys);
	assert_non_null(ctlfmt_table.simple);
	assert_null(ctlfmt_table.metrics);
	assert_non_null(ctlfmt_json.event);
	assert_non_null(ctlfmt_prometheus.metrics);
	assert_null(ctlfmt_prometheus.members);
	assert_null(ctlfmt_prometheus.status);
	assert_null(ctlfmt_prometheus.stats);
	assert_null(ctlfmt_prometheus.event);
	assert_null(ctlfmt_prometheus.keys);
	assert_null(ctlfmt_prometheus.simple);
}

/* ---- Prometheus: the exposition, checked line by line ---- */

#define PROM_LABEL "[a-z_]+=\"([^\"\\\\]|\\\\.)*\""
#define PROM_SAMPLE "^cmem_[a-z_]+(\\{" PROM_LABEL "(," PROM_LABEL ")*\\})? -?[0-9.e+-]+$"
#define PROM_HELP "^# HELP (cmem_[a-z_]+) [^ ].*$"
#define PROM_TYPE "^# TYPE (cmem_[a-z_]+) (counter|gauge)$"
#define PROM_MAX_FAMILIES 64

struct prom_check {
	regex_t sample, help, type;
	char helped[PROM_MAX_FAMILIES][64], typed[PROM_MAX_FAMILIES][64];
	size_t nhelp, ntype, nsamples;
};

static int seen(char list[][64], size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], name) == 0)
			return 1;
	return 0;
}

/* Record a HELP or TYPE line's family: once each, never after its samples. */
static void prom_note(char list[][64], size_t *n, const char *line, const regmatch_t *m)
{
	char name[64];
	size_t len = (size_t)(m->rm_eo - m->rm_so);

	assert_true(len < sizeof(name));
	memcpy(name, line + m->rm_so, len);
	name[len] = '\0';
	if (seen(list, *n, name))
		fail_msg("family %s described twice: %s", name, line);
	assert_true(*n < PROM_MAX_FAMILIES);
	snprintf(list[(*n)++], 64, "%s", name);
}

static void prom_line(struct prom_check *p, const char *line)
{
	regmatch_t m[3];
	char name[64];

	if (regexec(&p->help, line, 3, m, 0) == 0) {
		prom_note(p->helped, &p->nhelp, line, &m[1]);
		return;
	}
	if (regexec(&p->type, line, 3, m, 0) == 0) {
		prom_note(p->typed, &p->ntype, line, &m[1]);
		return;
	}
	if (line[0] == '#')
		fail_msg("comment line is neither HELP nor TYPE: %s", line);
	if (regexec(&p->sample, line, 0, NULL, 0) != 0)
		fail_msg("not a Prometheus sample line: '%s'", line);
	snprintf(name, sizeof(name), "%.*s", (int)strcspn(line, "{ "), line);
	if (!seen(p->helped, p->nhelp, name) || !seen(p->typed, p->ntype, name))
		fail_msg("sample before the HELP and TYPE of its family: %s", line);
	p->nsamples++;
}

/* The replies `stats --prometheus` combines, from the handlers. */
static json_t *metrics_input(void)
{
	return json_pack("{s:o, s:o, s:o}", "stats", ask("stats", ""), "status", ask("status", ""),
	                 "members", ask("members", ""));
}

static char *prom_render(json_t *in, struct prom_check *p)
{
	int rc;
	char *out = render(ctlfmt_prometheus.metrics, in, &rc), line[512];

	assert_int_equal(rc, 0);
	assert_int_equal(regcomp(&p->sample, PROM_SAMPLE, REG_EXTENDED | REG_NOSUB), 0);
	assert_int_equal(regcomp(&p->help, PROM_HELP, REG_EXTENDED), 0);
	assert_int_equal(regcomp(&p->type, PROM_TYPE, REG_EXTENDED), 0);
	assert_int_equal(out[strlen(out) - 1], '\n');
	for (size_t i = 0; i < count_lines(out); i++)
		prom_line(p, line_at(out, i, line, sizeof(line)));
	assert_int_equal(p->nhelp, p->ntype);
	regfree(&p->sample);
	regfree(&p->help);
	regfree(&p->type);
	return out;
}

#define HAS(out, s) do { if (strstr((out), "\n" s "\n") == NULL) fail_msg("lacks %s in:\n%s", s, (out)); } while (0)

static void test_prometheus(void **state)
{
	struct prom_check p = { .nhelp = 0 };
	char *out = prom_render(metrics_input(), &p);

	(void)state;
	HAS(out, "cmem_lines_accepted_total{verb=\"alive\"} 1");
	HAS(out, "cmem_lines_accepted_by_key_total{key_id=\"1\"} 2");
	HAS(out, "cmem_dropped_watchers_total 0");
	HAS(out, "cmem_members{state=\"alive\"} 2");
	HAS(out, "cmem_members{state=\"failed\"} 1");
	HAS(out, "cmem_members{state=\"left\"} 0");
	HAS(out, "cmem_peer_up{member=\"node-b\"} 1");
	HAS(out, "cmem_peer_up{member=\"node-c\"} 0");
	HAS(out, "cmem_peer_loss_ratio{member=\"node-b\"} 0");
	HAS(out, "cmem_peer_skew_seconds{member=\"node-b\"} 1");
	HAS(out, "cmem_peer_timeout_seconds{member=\"node-b\"} 0.75");
	HAS(out, "cmem_peer_last_heard_seconds{member=\"node-b\"} 0.012");
	HAS(out, "cmem_peer_last_heard_seconds{member=\"node-c\"} 3.021");
	HAS(out, "cmem_key_in_use{key=\"1\",primary=\"true\"} 1");
	HAS(out, "cmem_key_in_use{key=\"2\",primary=\"false\"} 1");
	HAS(out, "cmem_build_info{version=\"" CMEM_VERSION "\"} 1");
	HAS(out, "cmem_uptime_seconds 3600");
	assert_null(strstr(out, "member=\"node-a\"")); /* this node is not a peer */
	/* the daemon's quorum view: node-a and node-b reachable of the three known */
	HAS(out, "cmem_quorum_alive 2");
	HAS(out, "cmem_quorum_known 3");
	HAS(out, "cmem_quorum_has_quorum 1");
	free(out);
}

/* The quorum gauges follow the status reply's quorum object. */
static void test_prometheus_quorum(void **state)
{
	struct prom_check p = { .nhelp = 0 };
	json_t *in = metrics_input();
	char *out;

	(void)state;
	json_object_set_new(json_object_get(in, "status"), "quorum",
	                    json_pack("{s:i, s:i, s:b}", "alive", 2, "known", 3, "has_quorum", 1));
	out = prom_render(in, &p);
	HAS(out, "cmem_quorum_alive 2");
	HAS(out, "cmem_quorum_known 3");
	HAS(out, "cmem_quorum_has_quorum 1");
	free(out);
}

/* Label values are escaped as the exposition format says. */
static void test_prometheus_escapes(void **state)
{
	struct prom_check p = { .nhelp = 0 };
	json_t *in = metrics_input();
	char *out;

	(void)state;
	json_object_set_new(json_object_get(in, "status"), "daemon_version", json_string("1.0\"x\\y"));
	out = prom_render(in, &p);
	HAS(out, "cmem_build_info{version=\"1.0\\\"x\\\\y\"} 1");
	free(out);
}

static void test_prometheus_refuses(void **state)
{
	(void)state;
	expect_refused(ctlfmt_prometheus.metrics, "{\"stats\":{\"status\":\"ok\",\"sent\":{}}}");
	expect_refused(ctlfmt_prometheus.metrics, "{\"stats\":{\"dropped\":{}},\"status\":{}}");
}

/* ---- what came from the socket cannot drive the terminal ---- */

static void expect_escaped(const char *in, const char *want)
{
	char out[256], *dup = ctlfmt_escape_dup(in);

	assert_int_equal(ctlfmt_escape(out, sizeof(out), in), strlen(want));
	assert_string_equal(out, want);
	assert_string_equal(dup, want);
	free(dup);
}

static void test_escape(void **state)
{
	char small[6];

	(void)state;
	expect_escaped("node-1", "node-1");
	expect_escaped("\x1b]0;owned\x07", "\\x1b]0;owned\\x07"); /* set the window title */
	expect_escaped("\x1b[2J", "\\x1b[2J");                    /* clear the screen */
	expect_escaped("a\tb\nc\rd\x7f", "a\\x09b\\x0ac\\x0dd\\x7f");
	expect_escaped("\xc2\x9b" "2J \xc2\x9d" "0;x", "\\u009b2J \\u009d0;x"); /* C1 CSI, OSC */
	expect_escaped("n\xc3\xa6ve \xe5\x90\x8d \xf0\x9f\x90\xa7 \xc2\xa0", /* UTF-8 kept */
	               "n\xc3\xa6ve \xe5\x90\x8d \xf0\x9f\x90\xa7 \xc2\xa0");
	/* not UTF-8: a stray byte, an overlong '/', a cut sequence, a surrogate */
	expect_escaped("\xff\xc0\xaf\xe5\x90 \xed\xa0\x80",
	               "\\xff\\xc0\\xaf\\xe5\\x90 \\xed\\xa0\\x80");
	/* cut at a whole piece, always terminated */
	assert_int_equal(ctlfmt_escape(small, sizeof(small), "ab\x1b" "cd"), 2);
	assert_string_equal(small, "ab");
	assert_int_equal(ctlfmt_escape(small, sizeof(small), "\xe5\x90\x8d\xe5"), 3);
	assert_int_equal(ctlfmt_escape(small, 0, "x"), 0);
}

/* No C0 byte but newlines, no DEL, no C1 in UTF-8: nothing a terminal obeys. */
static void expect_inert(const char *out)
{
	for (const unsigned char *p = (const unsigned char *)out; *p; p++)
		if ((*p < 0x20 && *p != '\n') || *p == 0x7f || (*p == 0xc2 && p[1] >= 0x80 && p[1] < 0xa0))
			fail_msg("control byte 0x%02x at %zu in:\n%s", *p, (size_t)(p - (const unsigned char *)out), out);
}

#define HOSTILE "\x1b]0;owned\x07\x1b[2J\xc2\x9b" "31m\x7f"
#define HOSTILE_SHOWN "\\x1b]0;owned\\x07\\x1b[2J\\u009b31m\\x7f"

/* A reply from a socket that is not cmemd, controls in every string and key. */
static json_t *hostile_reply(void)
{
	json_t *r = json_pack("{s:s, s:[{s:s, s:s, s:s, s:I}], s:{s:I}, s:{s:I}, s:{s:I}, s:s}",
	                      "status", "ok", "members", "name", HOSTILE, "address", HOSTILE,
	                      "state", HOSTILE, "since", (json_int_t)NOW_S, "dropped", HOSTILE,
	                      (json_int_t)1, "sent", HOSTILE, (json_int_t)2, "other", HOSTILE,
	                      (json_int_t)3, HOSTILE, HOSTILE);

	assert_non_null(r);
	json_object_set_new(r, "event", json_string(HOSTILE));
	json_object_set_new(r, "member", json_string(HOSTILE));
	json_object_set_new(r, "detail", json_string(HOSTILE));
	return r;
}

static void test_hostile_reply(void **state)
{
	static const char *inputs[] = { "members", "stats", "event", "simple" };
	json_t *back, *in;
	int rc;
	char *out;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(inputs); i++) {
		write_fn fn = i == 0 ? ctlfmt_table.members : i == 1 ? ctlfmt_table.stats
		              : i == 2 ? ctlfmt_table.event : ctlfmt_table.simple;

		out = render(fn, hostile_reply(), &rc);
		assert_int_equal(rc, 0);
		expect_inert(out);
		if (strstr(out, HOSTILE_SHOWN) == NULL)
			fail_msg("%s: the hostile text is not shown escaped:\n%s", inputs[i], out);
		free(out);
	}
	/* JSON: the same data, DEL and C1 as \u escapes */
	out = render(ctlfmt_json.members, json_incref(in = hostile_reply()), &rc);
	assert_int_equal(rc, 0);
	expect_inert(out);
	assert_non_null(strstr(out, "\\u001B]0;owned\\u0007\\u001B[2J\\u009B31m\\u007F"));
	back = parse(out);
	assert_true(json_equal(back, in));
	json_decref(back);
	json_decref(in);
	free(out);
	/* Prometheus: label values and metric names */
	in = metrics_input();
	json_object_set_new(in, "stats", hostile_reply());
	json_object_set_new(in, "members", hostile_reply());
	out = render(ctlfmt_prometheus.metrics, in, &rc);
	assert_int_equal(rc, 0);
	expect_inert(out);
	assert_non_null(strstr(out, "\ncmem_peer_up{member=\"\\\\x1b]0;owned\\\\x07\\\\x1b[2J"));
	assert_non_null(strstr(out, "\ncmem__x1b_0_owned_x07_x1b_2J_u009b31m_x7f_total 3\n"));
	free(out);
}

#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_table_members),
		T(test_table_members_rejected),
		T(test_table_status),
		T(test_table_stats),
		T(test_table_keys),
		T(test_table_reload),
		T(test_table_simple),
		T(test_table_refuses_incomplete),
		T(test_table_events),
		T(test_json_writer),
		T(test_writer_slots),
		T(test_prometheus),
		T(test_prometheus_quorum),
		T(test_prometheus_escapes),
		T(test_prometheus_refuses),
		cmocka_unit_test(test_escape),
		T(test_hostile_reply),
	};

	setenv("TZ", "UTC", 1); /* the table shows local times */
	tzset();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
