/* ctlfmt: table, JSON and Prometheus writers for cmemctl. */
#include "ctlfmt.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

/* ---- escaping what came from the socket ---- */

/* The code point of the valid UTF-8 sequence at s (n bytes), its length in *len; -1 if invalid. */
static long utf8_decode(const unsigned char *s, size_t n, size_t *len)
{
	static const long min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t k = s[0] < 0x80 ? 1 : s[0] < 0xc2 ? 0 : s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : s[0] < 0xf5 ? 4 : 0;
	long cp;

	if (k == 0 || k > n)
		return -1;
	cp = k == 1 ? s[0] : s[0] & (0x7f >> k);
	for (size_t i = 1; i < k; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min[k] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*len = k;
	return cp;
}

size_t ctlfmt_escape(char *out, size_t outlen, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), o = 0;

	if (outlen == 0)
		return 0;
	while (n > 0) {
		char piece[8];
		size_t k = 1, plen;
		long cp = utf8_decode(p, n, &k);

		if (cp < 0)
			plen = (size_t)snprintf(piece, sizeof(piece), "\\x%02x", p[0]);
		else if (cp < 0x20 || cp == 0x7f)
			plen = (size_t)snprintf(piece, sizeof(piece), "\\x%02lx", cp);
		else if (cp >= 0x80 && cp < 0xa0)
			plen = (size_t)snprintf(piece, sizeof(piece), "\\u%04lx", cp);
		else
			memcpy(piece, p, plen = k);
		if (o + plen >= outlen)
			break;
		memcpy(out + o, piece, plen);
		o += plen;
		p += k;
		n -= k;
	}
	out[o] = '\0';
	return o;
}

char *ctlfmt_escape_dup(const char *s)
{
	size_t cap = 4 * strlen(s) + 1; /* one byte at most \xNN, two at most \u00NN */
	char *out = xmalloc(cap);

	ctlfmt_escape(out, cap, s);
	return out;
}

json_t *ctlfmt_clean(json_t *v)
{
	const char *key;
	json_t *x, *copy;
	size_t i;
	char *e;

	if (json_is_string(v)) {
		copy = json_string(e = ctlfmt_escape_dup(json_string_value(v)));
		free(e);
	} else if (json_is_array(v)) {
		copy = json_array();
		json_array_foreach(v, i, x)
			json_array_append_new(copy, ctlfmt_clean(x));
	} else if (json_is_object(v)) {
		copy = json_object();
		json_object_foreach(v, key, x) {
			json_object_set_new(copy, e = ctlfmt_escape_dup(key), ctlfmt_clean(x));
			free(e);
		}
	} else {
		copy = json_incref(v); /* a number, true, false, null */
	}
	return copy;
}

/* A writer's slot that prints a clean copy of what it is given. */
#define CLEAN_WRITER(fn) \
	static int fn##_clean(FILE *f, json_t *r) \
	{ \
		json_t *c = ctlfmt_clean(r); \
		int rc = fn(f, c); \
		json_decref(c); \
		return rc; \
	}

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "-";
}

static long long num(json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

/* ---- JSON: the reply itself, one line ---- */

/*
 * jansson escapes C0 controls; DEL and the C1 controls (two bytes, 0xc2
 * 0x80-0x9f, in its UTF-8 output) are escaped here.  Outside strings its
 * output is ASCII, so the result is the same JSON.
 */
static int json_write(FILE *f, json_t *reply)
{
	char *s = json_dumps(reply, JSON_COMPACT);

	if (s == NULL)
		return -1;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == 0x7f)
			fputs("\\u007F", f); /* as jansson writes its escapes */
		else if (*p == 0xc2 && p[1] >= 0x80 && p[1] < 0xa0)
			fprintf(f, "\\u%04X", *++p);
		else
			fputc(*p, f);
	}
	fputc('\n', f);
	free(s);
	return 0;
}

const struct ctlfmt_writer ctlfmt_json = {
	.name = "json",
	.members = json_write,
	.status = json_write,
	.stats = json_write,
	.event = json_write,
	.keys = json_write,
	.simple = json_write,
};

/* ---- table ---- */

static void format_time(long long t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || localtime_r(&tt, &tm) == NULL || strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, len, "-");
}

static int table_members(FILE *f, json_t *reply)
{
	json_t *list = json_object_get(reply, "members"), *m;
	size_t i;

	if (!json_is_array(list))
		return -1;
	fprintf(f, "%-24s %-26s %-9s %-19s %10s %6s %6s\n", "NAME", "ADDRESS", "STATE", "SINCE",
	        "LAST HEARD", "LOSS", "SKEW");
	json_array_foreach(list, i, m) {
		char since[32], heard[32];
		int self = json_is_true(json_object_get(m, "self"));

		format_time(num(m, "since"), since, sizeof(since));
		if (self)
			snprintf(heard, sizeof(heard), "(self)");
		else
			snprintf(heard, sizeof(heard), "%lld ms", num(m, "last_heard_ms"));
		fprintf(f, "%-24s %-26s %-9s %-19s %10s %5.1f%% %+5llds\n", str(m, "name"),
		        str(m, "address"), str(m, "state"), since, heard,
		        100.0 * json_number_value(json_object_get(m, "loss")), num(m, "skew_s"));
	}
	list = json_object_get(reply, "rejected");
	if (json_array_size(list))
		fprintf(f, "not admitted (authenticated, but dropped):\n");
	json_array_foreach(list, i, m)
		fprintf(f, "  %s (%s): %s; %lld lines, last %lld ms ago\n", str(m, "name"),
		        str(m, "address"), str(m, "detail"), num(m, "lines"), num(m, "last_ms"));
	return 0;
}

static int table_status(FILE *f, json_t *r)
{
	json_t *c = json_object_get(r, "cluster"), *mem = json_object_get(r, "members");
	json_t *det = json_object_get(r, "detector"), *conf = json_object_get(r, "confinement");
	json_t *keys = json_object_get(r, "keys"), *k;
	size_t i;

	if (!json_is_object(c) || !json_is_object(mem) || !json_is_object(det) || !json_is_object(conf))
		return -1;
	fprintf(f, "node:        %s (incarnation %lld)\n", str(r, "name"), num(r, "incarnation"));
	fprintf(f, "version:     cmemd %s\n", str(r, "daemon_version"));
	fprintf(f, "cluster:     group %s port %lld interface %s ttl %lld\n", str(c, "group"),
	        num(c, "port"), str(c, "interface"), num(c, "ttl"));
	if (json_is_object(json_object_get(r, "transport"))) {
		json_t *t = json_object_get(r, "transport");
		long long lines = num(t, "lines_sent");

		fprintf(f, "transport:   multicast %s, unicast %s: %lld peers (%lld seeds, %lld every "
		           "line, %lld slow), %.2f datagrams per line\n",
		        json_is_true(json_object_get(t, "multicast")) ? "on" : "off",
		        json_is_true(json_object_get(t, "unicast")) ? "on" : "off", num(t, "peers"),
		        num(t, "seeds"), num(t, "peers_active"), num(t, "peers_slow"),
		        lines ? (double)num(t, "datagrams_sent") / (double)lines : 0.0);
	}
	fprintf(f, "uptime:      %lld s\n", num(r, "uptime_s"));
	fprintf(f, "members:     %lld alive, %lld failed, %lld left, %lld candidates\n",
	        num(mem, "alive"), num(mem, "failed"), num(mem, "left"), num(mem, "candidate"));
	if (json_is_object(json_object_get(r, "quorum"))) {
		json_t *q = json_object_get(r, "quorum");

		fprintf(f, "quorum:      %lld of %lld known members reachable: %s\n", num(q, "alive"),
		        num(q, "known"),
		        json_is_true(json_object_get(q, "has_quorum")) ? "majority" : "NO MAJORITY");
	}
	fprintf(f, "detector:    heartbeat %lld ms now (fastest %lld ms, %s), fail after >= %lld ms "
	           "(adaptive), replay window %lld s, max %lld members\n",
	        num(det, "heartbeat_now_ms"), num(det, "heartbeat_ms"),
	        json_is_true(json_object_get(det, "heartbeat_fixed")) ? "fixed" : "adaptive",
	        num(det, "fail_after_ms"), num(det, "replay_window_s"), num(det, "max_members"));
	fprintf(f, "keys:       ");
	json_array_foreach(keys, i, k)
		fprintf(f, " %lld%s (%s)", num(k, "id"),
		        json_is_true(json_object_get(k, "primary")) ? "*" : "", str(k, "fingerprint"));
	fprintf(f, "   (* primary)\n");
	fprintf(f, "log level:   %s\n", str(r, "log_level"));
	fprintf(f, "confinement: pid %lld, uid %lld, gid %lld, chroot %s, no_new_privs %s, "
	           "seccomp %s\n",
	        num(conf, "pid"), num(conf, "uid"), num(conf, "gid"),
	        str(conf, "chroot")[0] ? str(conf, "chroot") : "none",
	        json_is_true(json_object_get(conf, "no_new_privs")) ? "yes" : "no",
	        num(conf, "seccomp") == 2 ? "filter" : "off");
	return 0;
}

static void table_counts(FILE *f, const char *title, json_t *o)
{
	const char *key;
	json_t *v;

	fprintf(f, "%s\n", title);
	json_object_foreach(o, key, v)
		fprintf(f, "  %-20s %12lld\n", key, (long long)json_integer_value(v));
}

static int table_stats(FILE *f, json_t *r)
{
	json_t *top = json_object_get(r, "top_sources"), *s;
	size_t i;

	if (!json_is_object(json_object_get(r, "dropped")))
		return -1;
	table_counts(f, "sent", json_object_get(r, "sent"));
	table_counts(f, "accepted", json_object_get(r, "accepted"));
	table_counts(f, "dropped", json_object_get(r, "dropped"));
	table_counts(f, "accepted by key id", json_object_get(r, "by_key"));
	table_counts(f, "other", json_object_get(r, "other"));
	if (json_array_size(top))
		fprintf(f, "top sources of dropped lines\n");
	json_array_foreach(top, i, s) {
		const char *key;
		json_t *v;

		fprintf(f, "  %-26s %12lld:", str(s, "address"), num(s, "total"));
		json_object_foreach(json_object_get(s, "dropped"), key, v)
			fprintf(f, " %s %lld", key, (long long)json_integer_value(v));
		fputc('\n', f);
	}
	return 0;
}

static int table_event(FILE *f, json_t *e)
{
	char when[32];

	if (!json_is_string(json_object_get(e, "event")) || !json_is_string(json_object_get(e, "member")))
		return -1;
	format_time(num(e, "time"), when, sizeof(when));
	fprintf(f, "%s %-13s %s (%s) incarnation %lld: %s\n", when, str(e, "event"),
	        str(e, "member"), str(e, "address"), num(e, "incarnation"), str(e, "detail"));
	fflush(f);
	return 0;
}

static int table_simple(FILE *f, json_t *r)
{
	const char *key;
	json_t *v;

	json_object_foreach(r, key, v) {
		if (strcmp(key, "status") == 0 || strcmp(key, "version") == 0)
			continue;
		if (json_is_string(v))
			fprintf(f, "%s: %s\n", key, json_string_value(v));
	}
	return 0;
}

static int table_keys(FILE *f, json_t *r)
{
	json_t *keys = json_object_get(r, "keys"), *behind = json_object_get(r, "peers_not_on_primary");
	json_t *k;
	size_t i;

	if (!json_is_array(keys))
		return -1;
	fprintf(f, "%-6s %-8s %-17s %12s %6s\n", "ID", "PRIMARY", "FINGERPRINT", "ACCEPTED", "PEERS");
	json_array_foreach(keys, i, k)
		fprintf(f, "%-6lld %-8s %-17s %12lld %6lld\n", num(k, "id"),
		        json_is_true(json_object_get(k, "primary")) ? "yes" : "", str(k, "fingerprint"),
		        num(k, "accepted"), num(k, "peers"));
	if (json_is_string(json_object_get(r, "log_level"))) /* a reload's reply */
		fprintf(f, "log level: %s\n", str(r, "log_level"));
	if (json_array_size(behind) == 0) {
		fprintf(f, "every alive peer signs with the primary key %lld\n", num(r, "primary"));
		return 0;
	}
	fprintf(f, "peers not yet signing with the primary key %lld:", num(r, "primary"));
	json_array_foreach(behind, i, k)
		fprintf(f, " %s (key %lld)", str(k, "name"), num(k, "key"));
	fputc('\n', f);
	return 0;
}

CLEAN_WRITER(table_members)
CLEAN_WRITER(table_status)
CLEAN_WRITER(table_stats)
CLEAN_WRITER(table_event)
CLEAN_WRITER(table_keys)
CLEAN_WRITER(table_simple)

const struct ctlfmt_writer ctlfmt_table = {
	.name = "table",
	.members = table_members_clean,
	.status = table_status_clean,
	.stats = table_stats_clean,
	.event = table_event_clean,
	.keys = table_keys_clean,
	.simple = table_simple_clean,
};

/* ---- Prometheus text exposition format (stats --prometheus) ---- */

/* A label value as the exposition format wants it: \\, \" and \n escaped. */
static void prom_value(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void prom_head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/*
 * name{label="value"} N, or name N when label is NULL.  N is v times
 * scale: integers exactly (counters pass 2^53), booleans as 1 or 0.
 */
static void prom_sample(FILE *f, const char *name, const char *label, const char *value, json_t *v,
                        double scale)
{
	fputs(name, f);
	if (label) {
		fprintf(f, "{%s=\"", label);
		prom_value(f, value);
		fputs("\"}", f);
	}
	if (json_is_integer(v) && scale == 1)
		fprintf(f, " %lld\n", (long long)json_integer_value(v));
	else if (json_is_boolean(v))
		fprintf(f, " %d\n", json_is_true(v));
	else
		fprintf(f, " %.9g\n", json_number_value(v) * scale);
}

static void prom_family(FILE *f, const char *name, const char *help, const char *label, json_t *o)
{
	const char *key;
	json_t *v;

	prom_head(f, name, "counter", help);
	json_object_foreach(o, key, v)
		prom_sample(f, name, label, key, v, 1);
}

static void prom_counters(FILE *f, json_t *r)
{
	json_t *top = json_object_get(r, "top_sources"), *other = json_object_get(r, "other"), *s;
	const char *key;
	json_t *v;
	size_t i;

	prom_family(f, "cmem_lines_sent_total", "Protocol lines sent, by verb.", "verb",
	            json_object_get(r, "sent"));
	prom_family(f, "cmem_lines_accepted_total", "Protocol lines accepted, by verb.", "verb",
	            json_object_get(r, "accepted"));
	prom_family(f, "cmem_lines_dropped_total", "Protocol lines dropped, by reason.", "reason",
	            json_object_get(r, "dropped"));
	prom_family(f, "cmem_lines_accepted_by_key_total", "Protocol lines accepted, by key id.",
	            "key_id", json_object_get(r, "by_key"));
	prom_head(f, "cmem_source_dropped_total", "counter",
	          "Lines dropped from the top source addresses.");
	json_array_foreach(top, i, s) {
		json_object_foreach(json_object_get(s, "dropped"), key, v) {
			fputs("cmem_source_dropped_total{address=\"", f);
			prom_value(f, str(s, "address"));
			fputs("\",reason=\"", f);
			prom_value(f, key);
			fprintf(f, "\"} %lld\n", (long long)json_integer_value(v));
		}
	}
	json_object_foreach(other, key, v) {
		char name[96];

		snprintf(name, sizeof(name), "cmem_%s_total", key);
		for (char *p = name; *p; p++) /* a metric name: [a-zA-Z0-9_] */
			if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') && !(*p >= '0' && *p <= '9'))
				*p = '_';
		fprintf(f, "# HELP %s Daemon counter %s.\n# TYPE %s counter\n", name, key, name);
		prom_sample(f, name, NULL, NULL, v, 1);
	}
}

/* One gauge per peer (this node excluded), labelled member=. */
static void prom_peer_gauge(FILE *f, json_t *list, const char *name, const char *help,
                            const char *field, double scale)
{
	json_t *m;
	size_t i;

	prom_head(f, name, "gauge", help);
	json_array_foreach(list, i, m) {
		json_t *v = json_object_get(m, field);

		if (json_is_true(json_object_get(m, "self")))
			continue;
		if (strcmp(field, "state") == 0)
			v = json_boolean(strcmp(str(m, "state"), "alive") == 0); /* a static singleton */
		prom_sample(f, name, "member", str(m, "name"), v, scale);
	}
}

static void prom_members(FILE *f, json_t *status, json_t *members)
{
	json_t *counts = json_object_get(status, "members"), *list = json_object_get(members, "members");

	prom_head(f, "cmem_members", "gauge", "Members by state, as this node sees them (itself included).");
	for (const char *const *st = (const char *const[]){ "alive", "failed", "left", "candidate", NULL };
	     *st; st++)
		prom_sample(f, "cmem_members", "state", *st, json_object_get(counts, *st), 1);
	prom_peer_gauge(f, list, "cmem_peer_up", "1 if the member is alive, else 0.", "state", 1);
	prom_peer_gauge(f, list, "cmem_peer_loss_ratio", "Estimated loss of the member's lines (0..1).",
	                "loss", 1);
	prom_peer_gauge(f, list, "cmem_peer_skew_seconds", "The member's clock minus ours.", "skew_s", 1);
	prom_peer_gauge(f, list, "cmem_peer_timeout_seconds",
	                "The member's adaptive failure timeout.", "timeout_ms", 0.001);
	prom_peer_gauge(f, list, "cmem_peer_last_heard_seconds",
	                "Time since the member's last valid line.", "last_heard_ms", 0.001);
}

static void prom_status(FILE *f, json_t *status)
{
	json_t *keys = json_object_get(status, "keys"), *q = json_object_get(status, "quorum"), *k;
	size_t i;

	prom_head(f, "cmem_key_in_use", "gauge", "Key ids in the running keyring; primary=\"true\" signs.");
	json_array_foreach(keys, i, k)
		fprintf(f, "cmem_key_in_use{key=\"%lld\",primary=\"%s\"} 1\n", num(k, "id"),
		        json_is_true(json_object_get(k, "primary")) ? "true" : "false");
	prom_head(f, "cmem_build_info", "gauge", "The running cmemd's version.");
	fputs("cmem_build_info{version=\"", f);
	prom_value(f, str(status, "daemon_version"));
	fputs("\"} 1\n", f);
	prom_head(f, "cmem_uptime_seconds", "gauge", "Seconds since cmemd started.");
	prom_sample(f, "cmem_uptime_seconds", NULL, NULL, json_object_get(status, "uptime_s"), 1);
	if (!json_is_object(q))
		return;
	prom_head(f, "cmem_quorum_alive", "gauge", "Members alive, this node included, for the quorum.");
	prom_sample(f, "cmem_quorum_alive", NULL, NULL, json_object_get(q, "alive"), 1);
	prom_head(f, "cmem_quorum_known", "gauge", "Members the quorum is counted against.");
	prom_sample(f, "cmem_quorum_known", NULL, NULL, json_object_get(q, "known"), 1);
	prom_head(f, "cmem_quorum_has_quorum", "gauge", "1 if this node's side has a quorum, else 0.");
	prom_sample(f, "cmem_quorum_has_quorum", NULL, NULL, json_object_get(q, "has_quorum"), 1);
}

static int prom_metrics(FILE *f, json_t *replies)
{
	json_t *stats = json_object_get(replies, "stats"), *status = json_object_get(replies, "status");
	json_t *members = json_object_get(replies, "members");

	if (!json_is_object(json_object_get(stats, "dropped")) ||
	    !json_is_object(json_object_get(status, "members")) ||
	    !json_is_array(json_object_get(status, "keys")) ||
	    !json_is_array(json_object_get(members, "members")))
		return -1;
	prom_counters(f, stats);
	prom_members(f, status, members);
	prom_status(f, status);
	return 0;
}

CLEAN_WRITER(prom_metrics)

const struct ctlfmt_writer ctlfmt_prometheus = {
	.name = "prometheus",
	.metrics = prom_metrics_clean,
};
