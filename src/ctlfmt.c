/* ctlfmt: table, JSON and Prometheus writers for cmemctl. */
#include "ctlfmt.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

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

static int json_write(FILE *f, json_t *reply)
{
	if (json_dumpf(reply, f, JSON_COMPACT) == -1)
		return -1;
	fputc('\n', f);
	return 0;
}

const struct ctlfmt_writer ctlfmt_json = {
	"json", json_write, json_write, json_write, json_write, json_write, json_write,
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
	fprintf(f, "detector:    heartbeat %lld ms, fail after >= %lld ms (adaptive), replay window %lld s, max %lld members\n",
	        num(det, "heartbeat_ms"), num(det, "fail_after_ms"), num(det, "replay_window_s"),
	        num(det, "max_members"));
	fprintf(f, "keys:       ");
	json_array_foreach(keys, i, k)
		fprintf(f, " %lld%s (%s)", num(k, "id"),
		        json_is_true(json_object_get(k, "primary")) ? "*" : "", str(k, "fingerprint"));
	fprintf(f, "   (* primary)\n");
	fprintf(f, "log level:   %s\n", str(r, "log_level"));
	fprintf(f, "confinement: pid %lld, uid %lld, gid %lld, chroot %s, no_new_privs %s\n",
	        num(conf, "pid"), num(conf, "uid"), num(conf, "gid"),
	        str(conf, "chroot")[0] ? str(conf, "chroot") : "none",
	        json_is_true(json_object_get(conf, "no_new_privs")) ? "yes" : "no");
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

const struct ctlfmt_writer ctlfmt_table = {
	"table", table_members, table_status, table_stats, table_event, table_keys, table_simple,
};

/* ---- Prometheus text exposition format (stats only) ---- */

static void prom_family(FILE *f, const char *name, const char *help, const char *label, json_t *o)
{
	const char *key;
	json_t *v;

	fprintf(f, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
	json_object_foreach(o, key, v)
		fprintf(f, "%s{%s=\"%s\"} %lld\n", name, label, key, (long long)json_integer_value(v));
}

static int prom_stats(FILE *f, json_t *r)
{
	json_t *top = json_object_get(r, "top_sources"), *other = json_object_get(r, "other"), *s;
	size_t i;

	if (!json_is_object(json_object_get(r, "dropped")))
		return -1;
	prom_family(f, "cmem_lines_sent_total", "Protocol lines sent, by verb.", "verb",
	            json_object_get(r, "sent"));
	prom_family(f, "cmem_lines_accepted_total", "Protocol lines accepted, by verb.", "verb",
	            json_object_get(r, "accepted"));
	prom_family(f, "cmem_lines_dropped_total", "Protocol lines dropped, by reason.", "reason",
	            json_object_get(r, "dropped"));
	prom_family(f, "cmem_lines_accepted_by_key_total", "Protocol lines accepted, by key id.",
	            "key_id", json_object_get(r, "by_key"));
	fprintf(f, "# HELP cmem_source_dropped_total Lines dropped from the top source addresses.\n"
	           "# TYPE cmem_source_dropped_total counter\n");
	json_array_foreach(top, i, s) {
		const char *key;
		json_t *v;

		json_object_foreach(json_object_get(s, "dropped"), key, v)
			fprintf(f, "cmem_source_dropped_total{address=\"%s\",reason=\"%s\"} %lld\n",
			        str(s, "address"), key, (long long)json_integer_value(v));
	}
	if (json_is_object(other)) {
		const char *key;
		json_t *v;

		json_object_foreach(other, key, v)
			fprintf(f, "# HELP cmem_%s_total Daemon counter %s.\n# TYPE cmem_%s_total counter\n"
			           "cmem_%s_total %lld\n",
			        key, key, key, key, (long long)json_integer_value(v));
	}
	return 0;
}

static int prom_unsupported(FILE *f, json_t *r)
{
	(void)f;
	(void)r;
	return -1;
}

const struct ctlfmt_writer ctlfmt_prometheus = {
	"prometheus", prom_unsupported, prom_unsupported, prom_stats,
	prom_unsupported, prom_unsupported, prom_unsupported,
};
