/*
 * Unit tests: cmemctl's writers (table, JSON, Prometheus) on replies shaped
 * like the ones src/daemon_ctl.c produces, written to a memory stream.
 */
#include "testutil.h"

#include <regex.h>
#include <time.h>

#include "ctlfmt.h"

static const char members_reply[] =
    "{\"status\":\"ok\",\"self\":\"node-a\",\"members\":["
    "{\"name\":\"node-a\",\"address\":\"10.0.0.1\",\"state\":\"alive\","
    "\"incarnation\":1764172790123456,\"since\":1764172800,\"last_heard_ms\":0,\"loss\":0.0,"
    "\"skew_s\":0,\"timeout_ms\":0,\"lines\":0,\"self\":true},"
    "{\"name\":\"node-b\",\"address\":\"10.0.0.2\",\"state\":\"alive\","
    "\"incarnation\":1764172791000000,\"since\":1764172801,\"last_heard_ms\":12,\"loss\":0.025,"
    "\"skew_s\":1,\"timeout_ms\":750,\"lines\":420},"
    "{\"name\":\"node-c\",\"address\":\"fd77:1::3\",\"state\":\"failed\","
    "\"incarnation\":1764172792000000,\"since\":1764172900,\"last_heard_ms\":3021,\"loss\":0.5,"
    "\"skew_s\":-2,\"timeout_ms\":900,\"lines\":77}"
    "],\"rejected\":[],\"version\":1}";

static const char status_reply[] =
    "{\"status\":\"ok\",\"name\":\"node-a\",\"daemon_version\":\"0.1.0\","
    "\"incarnation\":1764172790123456,"
    "\"cluster\":{\"group\":\"239.192.51.10\",\"port\":51510,\"interface\":\"eth0\",\"ttl\":1},"
    "\"uptime_s\":3600,"
    "\"members\":{\"alive\":3,\"candidate\":0,\"failed\":1,\"left\":0},"
    "\"detector\":{\"heartbeat_ms\":50,\"fail_after_ms\":750,\"replay_window_s\":30,"
    "\"max_members\":4096},"
    "\"keys\":[{\"id\":1,\"primary\":true,\"fingerprint\":\"SHA256:abcd\",\"accepted\":1500},"
    "{\"id\":2,\"primary\":false,\"fingerprint\":\"SHA256:ef01\",\"accepted\":3}],"
    "\"log_level\":\"info\","
    "\"confinement\":{\"uid\":65534,\"gid\":65534,\"chroot\":\"/var/empty\","
    "\"no_new_privs\":true,\"pid\":4242},\"version\":1}";

static const char stats_reply[] =
    "{\"status\":\"ok\","
    "\"sent\":{\"cjoin\":1,\"alive\":1200,\"leave\":0,\"cluster\":2},"
    "\"accepted\":{\"cjoin\":2,\"alive\":2400,\"leave\":1,\"cluster\":4},"
    "\"dropped\":{\"bad_format\":1,\"bad_version\":0,\"unknown_key\":2,\"bad_mac\":7,"
    "\"stale\":3,\"replay\":4,\"bad_body\":0,\"oversize\":5},"
    "\"by_key\":{\"1\":1500,\"2\":3},"
    "\"top_sources\":[{\"address\":\"10.0.0.9\",\"total\":9,"
    "\"dropped\":{\"bad_mac\":5,\"stale\":4}},"
    "{\"address\":\"fd77:1::9\",\"total\":2,\"dropped\":{\"bad_mac\":2}}],"
    "\"other\":{\"own_lines\":1203,\"name_conflicts\":0,\"table_full\":0,\"send_errors\":0,"
    "\"replies_suppressed\":6,\"dropped_watchers\":2},\"version\":1}";

static const char event_reply[] =
    "{\"event\":\"join\",\"member\":\"node-b\",\"address\":\"10.0.0.2\","
    "\"incarnation\":5,\"time\":1764172800,\"detail\":\"joined\",\"version\":1}";

static const char skew_event[] =
    "{\"event\":\"skew\",\"member\":\"node-c\",\"address\":\"fd77:1::3\","
    "\"incarnation\":7,\"time\":1764172801,\"detail\":\"clock ahead of ours by 4 s (window 30 s)\","
    "\"skew_s\":4,\"version\":1}";

static const char loglevel_reply[] = "{\"status\":\"ok\",\"level\":\"debug\",\"version\":1}";

typedef int (*write_fn)(FILE *f, json_t *reply);

static json_t *parse(const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads(text, 0, &jerr);

	if (j == NULL)
		fail_msg("sample does not parse: %s: %s", jerr.text, text);
	return j;
}

/* What fn writes for the reply in text; *rc gets its return value. */
static char *render(write_fn fn, const char *text, int *rc)
{
	json_t *r = parse(text);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	*rc = fn(f, r);
	assert_int_equal(fclose(f), 0);
	json_decref(r);
	return buf;
}

/* fn refuses the reply and writes nothing. */
static void expect_refused(write_fn fn, const char *text)
{
	int rc;
	char *out = render(fn, text, &rc);

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

static void test_table_members(void **state)
{
	static const char *const header[] = { "NAME", "ADDRESS", "STATE", "SINCE",
		                              "LAST", "HEARD", "LOSS", "SKEW" };
	int rc;
	char *out = render(ctlfmt_table.members, members_reply, &rc), line[256], copy[256];
	char *w[16];

	(void)state;
	assert_int_equal(rc, 0);
	assert_int_equal(count_lines(out), 4); /* header and one row per member */
	line_at(out, 0, line, sizeof(line));
	assert_int_equal(split_words(line, w, 16), 8);
	for (size_t i = 0; i < 8; i++)
		assert_string_equal(w[i], header[i]);

	line_at(out, 1, line, sizeof(line));
	assert_non_null(strstr(line, "(self)"));
	assert_non_null(strstr(line, "2025-11-26 16:00:00"));

	line_at(out, 2, line, sizeof(line));
	/* columns line up under the header */
	line_at(out, 0, copy, sizeof(copy));
	assert_int_equal(strstr(line, "10.0.0.2") - line, strstr(copy, "ADDRESS") - copy);
	assert_int_equal(strstr(line, "alive") - line, strstr(copy, "STATE") - copy);
	assert_int_equal(split_words(line, w, 16), 9);
	assert_string_equal(w[0], "node-b");
	assert_string_equal(w[1], "10.0.0.2");
	assert_string_equal(w[2], "alive");
	assert_string_equal(w[3], "2025-11-26");
	assert_string_equal(w[4], "16:00:01");
	assert_string_equal(w[5], "12");
	assert_string_equal(w[6], "ms");
	assert_string_equal(w[7], "2.5%");
	assert_string_equal(w[8], "+1s");

	line_at(out, 3, line, sizeof(line));
	assert_int_equal(split_words(line, w, 16), 9);
	assert_string_equal(w[0], "node-c");
	assert_string_equal(w[1], "fd77:1::3");
	assert_string_equal(w[2], "failed");
	assert_string_equal(w[5], "3021");
	assert_string_equal(w[7], "50.0%");
	assert_string_equal(w[8], "-2s");
	free(out);
}

static void test_table_members_empty_list(void **state)
{
	int rc;
	char *out = render(ctlfmt_table.members, "{\"status\":\"ok\",\"members\":[]}", &rc);

	(void)state;
	assert_int_equal(rc, 0);
	assert_int_equal(count_lines(out), 1);
	assert_non_null(strstr(out, "NAME"));
	free(out);
}

/* Authenticated senders kept out are listed after the members, one line each. */
static void test_table_members_rejected(void **state)
{
	static const char reply[] =
	    "{\"status\":\"ok\",\"self\":\"node-a\",\"members\":[],\"rejected\":["
	    "{\"name\":\"node-z\",\"address\":\"10.0.0.26\",\"reason\":\"stale\",\"skew_s\":-95,"
	    "\"lines\":12,\"last_ms\":300,\"detail\":\"clock 95 s behind ours\"}],\"version\":1}";
	int rc;
	char *out = render(ctlfmt_table.members, reply, &rc), line[256];

	(void)state;
	assert_int_equal(rc, 0);
	assert_int_equal(count_lines(out), 3);
	assert_non_null(strstr(line_at(out, 1, line, sizeof(line)), "not admitted"));
	assert_string_equal(line_at(out, 2, line, sizeof(line)),
	                    "  node-z (10.0.0.26): clock 95 s behind ours; 12 lines, last 300 ms ago");
	free(out);
}

static void test_table_status(void **state)
{
	int rc;
	char *out = render(ctlfmt_table.status, status_reply, &rc);

	(void)state;
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "node:        node-a (incarnation 1764172790123456)\n"));
	assert_non_null(strstr(out, "version:     cmemd 0.1.0\n"));
	assert_non_null(strstr(out, "cluster:     group 239.192.51.10 port 51510 interface eth0 ttl 1\n"));
	assert_non_null(strstr(out, "uptime:      3600 s\n"));
	assert_non_null(strstr(out, "members:     3 alive, 1 failed, 0 left, 0 candidates\n"));
	assert_non_null(strstr(out, "heartbeat 50 ms, fail after >= 750 ms"));
	assert_non_null(strstr(out, " 1* (SHA256:abcd) 2 (SHA256:ef01)"));
	assert_non_null(strstr(out, "log level:   info\n"));
	assert_non_null(strstr(out, "confinement: pid 4242, uid 65534, gid 65534, chroot /var/empty, "
	                            "no_new_privs yes\n"));
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
	char *out = render(ctlfmt_table.stats, stats_reply, &rc);
	const char *prev = out;

	(void)state;
	assert_int_equal(rc, 0);
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		const char *at = strstr(prev, sections[i]);

		if (at == NULL)
			fail_msg("section %s missing or out of order in:\n%s", sections[i], out);
		prev = at + strlen(sections[i]);
	}
	assert_int_equal(counted(out, "sent\n", "alive"), 1200);
	assert_int_equal(counted(out, "dropped\n", "bad_mac"), 7);
	assert_int_equal(counted(out, "accepted by key id\n", "1"), 1500);
	assert_int_equal(counted(out, "other\n", "dropped_watchers"), 2);
	assert_non_null(strstr(out, "10.0.0.9"));
	assert_non_null(strstr(out, ": bad_mac 5 stale 4\n"));
	free(out);
}

static void test_table_event(void **state)
{
	int rc;
	char *out = render(ctlfmt_table.event, event_reply, &rc);

	(void)state;
	assert_int_equal(rc, 0);
	assert_string_equal(out, "2025-11-26 16:00:00 join          node-b (10.0.0.2) incarnation 5: "
	                         "joined\n");
	free(out);
	out = render(ctlfmt_table.event, skew_event, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, " skew "));
	assert_non_null(strstr(out, "clock ahead of ours by 4 s"));
	free(out);
}

static void test_table_simple(void **state)
{
	int rc;
	char *out = render(ctlfmt_table.simple, loglevel_reply, &rc);

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
}

/* The JSON writer: one line that parses back to the same object. */
static void expect_json_roundtrip(write_fn fn, const char *text)
{
	json_t *orig = parse(text), *back;
	json_error_t jerr;
	int rc;
	char *out = render(fn, text, &rc);

	assert_int_equal(rc, 0);
	assert_int_equal(count_lines(out), 1);
	assert_int_equal(out[strlen(out) - 1], '\n');
	back = json_loads(out, 0, &jerr);
	if (back == NULL)
		fail_msg("JSON writer output does not parse: %s: %s", jerr.text, out);
	if (!json_equal(orig, back))
		fail_msg("JSON writer changed the reply:\n%s\nwrote:\n%s", text, out);
	json_decref(back);
	json_decref(orig);
	free(out);
}

static void test_json_writer(void **state)
{
	(void)state;
	expect_json_roundtrip(ctlfmt_json.members, members_reply);
	expect_json_roundtrip(ctlfmt_json.status, status_reply);
	expect_json_roundtrip(ctlfmt_json.stats, stats_reply);
	expect_json_roundtrip(ctlfmt_json.event, event_reply);
	expect_json_roundtrip(ctlfmt_json.event, skew_event);
	expect_json_roundtrip(ctlfmt_json.simple, loglevel_reply);
}

#define PROM_SAMPLE "^cmem_[a-z_]+(\\{[a-z_]+=\"[^\"]*\"(,[a-z_]+=\"[^\"]*\")*\\})? [0-9]+$"
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

static void test_prometheus_stats(void **state)
{
	struct prom_check p = { .nhelp = 0 };
	int rc;
	char *out = render(ctlfmt_prometheus.stats, stats_reply, &rc), line[512];
	size_t n;

	(void)state;
	assert_int_equal(rc, 0);
	assert_int_equal(regcomp(&p.sample, PROM_SAMPLE, REG_EXTENDED | REG_NOSUB), 0);
	assert_int_equal(regcomp(&p.help, PROM_HELP, REG_EXTENDED), 0);
	assert_int_equal(regcomp(&p.type, PROM_TYPE, REG_EXTENDED), 0);
	n = count_lines(out);
	assert_int_equal(out[strlen(out) - 1], '\n');
	for (size_t i = 0; i < n; i++)
		prom_line(&p, line_at(out, i, line, sizeof(line)));
	/* 4 verbs sent + 4 accepted + 8 reasons + 2 keys + 3 source pairs + 6 others */
	assert_int_equal(p.nsamples, 27);
	assert_int_equal(p.nhelp, p.ntype);
	assert_int_equal(p.nhelp, 11);
	assert_non_null(strstr(out, "\ncmem_lines_sent_total{verb=\"alive\"} 1200\n"));
	assert_non_null(strstr(out, "\ncmem_lines_dropped_total{reason=\"bad_mac\"} 7\n"));
	assert_non_null(strstr(out, "\ncmem_lines_accepted_by_key_total{key_id=\"2\"} 3\n"));
	assert_non_null(strstr(out, "\ncmem_source_dropped_total{address=\"fd77:1::9\","
	                            "reason=\"bad_mac\"} 2\n"));
	assert_non_null(strstr(out, "\ncmem_dropped_watchers_total 2\n"));
	regfree(&p.sample);
	regfree(&p.help);
	regfree(&p.type);
	free(out);
}

static void test_prometheus_refuses(void **state)
{
	(void)state;
	expect_refused(ctlfmt_prometheus.stats, "{\"status\":\"ok\",\"sent\":{}}");
	/* the Prometheus format is for counters: the other commands are refused */
	expect_refused(ctlfmt_prometheus.members, members_reply);
	expect_refused(ctlfmt_prometheus.status, status_reply);
	expect_refused(ctlfmt_prometheus.event, event_reply);
	expect_refused(ctlfmt_prometheus.simple, loglevel_reply);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_members),
		cmocka_unit_test(test_table_members_empty_list),
		cmocka_unit_test(test_table_members_rejected),
		cmocka_unit_test(test_table_status),
		cmocka_unit_test(test_table_stats),
		cmocka_unit_test(test_table_event),
		cmocka_unit_test(test_table_simple),
		cmocka_unit_test(test_table_refuses_incomplete),
		cmocka_unit_test(test_json_writer),
		cmocka_unit_test(test_prometheus_stats),
		cmocka_unit_test(test_prometheus_refuses),
	};

	setenv("TZ", "UTC", 1); /* the table shows local times */
	tzset();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
