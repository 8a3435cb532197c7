/*
 * config: read cmemd.conf with libconfig and check every option.
 *
 * One table describes the options: their type, where they live in struct
 * cmem_config, their range and an optional check.  The file is applied to
 * a copy of the configuration, so a refused file leaves the caller's
 * configuration as it was.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libconfig.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "name.h"
#include "util.h"

#define FIELD_SIZE(f) sizeof(((struct cmem_config *)0)->f)

/* Where the messages go, and the settings the whole-file checks report. */
struct loader {
	const char *path;
	char *err;
	size_t errlen;
	const config_setting_t *heartbeat;
	const config_setting_t *fail_after;
	const config_setting_t *peers;
};

typedef int (*check_fn)(struct cmem_config *c, const char *s, char *why, size_t whylen);

enum opt_type { OPT_INT, OPT_STRING, OPT_BOOL, OPT_PEERS };

struct option {
	const char *name;
	enum opt_type type;
	size_t offset;
	size_t size;         /* of the field; 0: the check stores the value */
	long long min, max;  /* OPT_INT */
	check_fn check;      /* OPT_STRING, may be NULL */
};

static const struct {
	const char *name;
	int facility;
} facilities[] = {
	{ "daemon", LOG_DAEMON }, { "user", LOG_USER },     { "local0", LOG_LOCAL0 },
	{ "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 }, { "local6", LOG_LOCAL6 },
	{ "local7", LOG_LOCAL7 },
};

int config_facility_parse(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(facilities); i++)
		if (strcmp(name, facilities[i].name) == 0)
			return facilities[i].facility;
	return -1;
}

/* The host name up to its first dot (may be empty or not a valid name). */
static void short_host_name(char *buf, size_t size)
{
	char host[256];

	if (gethostname(host, sizeof(host)) == -1)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	host[strcspn(host, ".")] = '\0';
	snprintf(buf, size, "%s", host);
}

void config_defaults(struct cmem_config *c)
{
	char host[256];

	memset(c, 0, sizeof(*c));
	/* left empty when the host name will not do: config_load then asks for `name` */
	short_host_name(host, sizeof(host));
	if (name_valid(host))
		memcpy(c->name, host, strlen(host) + 1); /* fits: checked by name_valid */
	snprintf(c->group, sizeof(c->group), "239.192.51.10");
	c->port = 51510;
	c->ttl = 1;
	snprintf(c->keyring, sizeof(c->keyring), "/etc/cmem/cluster.keys");
	snprintf(c->control_socket, sizeof(c->control_socket), "/run/cmem/cmemd.sock");
	c->heartbeat_ms = 50;
	c->fail_after_ms = 750;
	c->replay_window_s = 30;
	c->max_members = 4096;
	snprintf(c->user, sizeof(c->user), "cmem");
	snprintf(c->chroot, sizeof(c->chroot), "/var/lib/cmem");
	snprintf(c->pidfile, sizeof(c->pidfile), "/run/cmem/cmemd.pid");
	c->log_level = LOG_LEVEL_INFO;
	c->syslog_facility = LOG_DAEMON;
	snprintf(c->syslog_facility_name, sizeof(c->syslog_facility_name), "daemon");
	c->seccomp = 1;
	c->multicast = 1;
}

static int check_name(struct cmem_config *c, const char *s, char *why, size_t whylen)
{
	(void)c;
	if (name_valid(s))
		return 0;
	snprintf(why, whylen, "must be " NAME_RULE ", not '%s'", s);
	return -1;
}

static int check_group(struct cmem_config *c, const char *s, char *why, size_t whylen)
{
	struct in_addr a4;
	struct in6_addr a6;

	(void)c;
	if (inet_pton(AF_INET, s, &a4) == 1) {
		if (IN_MULTICAST(ntohl(a4.s_addr)))
			return 0;
	} else if (inet_pton(AF_INET6, s, &a6) == 1) {
		if (IN6_IS_ADDR_MULTICAST(&a6))
			return 0;
	} else {
		snprintf(why, whylen, "is not an IPv4 or IPv6 address: %s", s);
		return -1;
	}
	snprintf(why, whylen, "is not a multicast address: %s", s);
	return -1;
}

static int check_abs(struct cmem_config *c, const char *s, char *why, size_t whylen)
{
	(void)c;
	if (s[0] == '/')
		return 0;
	snprintf(why, whylen, "must be an absolute path, not '%s'", s);
	return -1;
}

static int check_abs_or_empty(struct cmem_config *c, const char *s, char *why, size_t whylen)
{
	(void)c;
	if (s[0] == '\0' || s[0] == '/')
		return 0;
	snprintf(why, whylen, "must be an absolute path or \"\", not '%s'", s);
	return -1;
}

static int check_socket(struct cmem_config *c, const char *s, char *why, size_t whylen)
{
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;

	if (check_abs(c, s, why, whylen) == -1)
		return -1;
	if (strlen(s) <= max)
		return 0;
	snprintf(why, whylen, "is too long for a unix socket, at most %zu characters", max);
	return -1;
}

static int check_nonempty(struct cmem_config *c, const char *s, char *why, size_t whylen)
{
	(void)c;
	if (s[0] != '\0')
		return 0;
	snprintf(why, whylen, "must not be empty");
	return -1;
}

/* A word of a fixed list (value: its number, -1 if none), stored at *field. */
static int check_word(int value, int *field, const char *list, const char *s, char *why,
                      size_t whylen)
{
	if (value == -1) {
		snprintf(why, whylen, "must be %s, not '%s'", list, s);
		return -1;
	}
	*field = value;
	return 0;
}

static int check_log_level(struct cmem_config *c, const char *s, char *why, size_t whylen)
{
	return check_word(log_level_parse(s), &c->log_level, "error, warn, info or debug", s, why,
	                  whylen);
}

static int check_facility(struct cmem_config *c, const char *s, char *why, size_t whylen)
{
	return check_word(config_facility_parse(s), &c->syslog_facility,
	                  "daemon, user or local0 to local7", s, why, whylen);
}

#define INT_OPT(f, lo, hi) \
	{ #f, OPT_INT, offsetof(struct cmem_config, f), FIELD_SIZE(f), lo, hi, NULL }
#define STR_OPT(f, chk) \
	{ #f, OPT_STRING, offsetof(struct cmem_config, f), FIELD_SIZE(f), 0, 0, chk }
#define BOOL_OPT(f) \
	{ #f, OPT_BOOL, offsetof(struct cmem_config, f), FIELD_SIZE(f), 0, 1, NULL }

static const struct option options[] = {
	STR_OPT(name, check_name),
	STR_OPT(group, check_group),
	INT_OPT(port, 1, 65535),
	STR_OPT(interface, NULL),
	INT_OPT(ttl, 0, 255),
	STR_OPT(keyring, check_abs),
	STR_OPT(control_socket, check_socket),
	STR_OPT(control_group, NULL),
	INT_OPT(heartbeat_ms, 10, 60000),
	BOOL_OPT(heartbeat_fixed),
	INT_OPT(fail_after_ms, 20, 600000),  /* and >= 2 * heartbeat_ms, checked last */
	INT_OPT(replay_window_s, 1, 3600),
	INT_OPT(max_members, 2, 1000000),
	STR_OPT(user, check_nonempty),
	STR_OPT(chroot, check_abs_or_empty),
	STR_OPT(pidfile, check_abs_or_empty),
	{ "log_level", OPT_STRING, 0, 0, 0, 0, check_log_level },
	{ "syslog_facility", OPT_STRING, offsetof(struct cmem_config, syslog_facility_name),
	  FIELD_SIZE(syslog_facility_name), 0, 0, check_facility },
	BOOL_OPT(seccomp),
	BOOL_OPT(multicast),
	{ "peers", OPT_PEERS, offsetof(struct cmem_config, peers), FIELD_SIZE(peers), 0, 0, NULL },
};

static int refuse(const struct loader *ld, const config_setting_t *s, const char *fmt, ...)
    CMEM_PRINTF(3, 4);

/*
 * One message "FILE:LINE: ..." about setting s in ld->err, or "PATH: ..."
 * when s is NULL.  FILE is the file s came from (@include) or PATH.
 */
static int refuse(const struct loader *ld, const config_setting_t *s, const char *fmt, ...)
{
	const char *file = s ? config_setting_source_file(s) : NULL;
	char msg[CONFIG_ERRLEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ld->err == NULL || ld->errlen == 0)
		return -1;
	if (s)
		snprintf(ld->err, ld->errlen, "%s:%u: %s", file ? file : ld->path,
		         (unsigned)config_setting_source_line(s), msg);
	else
		snprintf(ld->err, ld->errlen, "%s: %s", ld->path, msg);
	return -1;
}

static const struct option *find_option(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(options); i++)
		if (strcmp(name, options[i].name) == 0)
			return &options[i];
	return NULL;
}

static int apply_int(struct cmem_config *c, const struct option *o, const config_setting_t *s,
                     const struct loader *ld)
{
	char *field = (char *)c + o->offset;
	long long v;

	if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64)
		return refuse(ld, s, "'%s' must be an integer", o->name);
	v = config_setting_get_int64(s);
	if (v < o->min || v > o->max)
		return refuse(ld, s, "'%s' must be between %lld and %lld, not %lld", o->name, o->min,
		              o->max, v);
	if (o->size == sizeof(uint16_t))
		*(uint16_t *)(void *)field = (uint16_t)v;
	else
		*(unsigned *)(void *)field = (unsigned)v;
	return 0;
}

static int apply_bool(struct cmem_config *c, const struct option *o, const config_setting_t *s,
                      const struct loader *ld)
{
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return refuse(ld, s, "'%s' must be true or false (unquoted)", o->name);
	*(int *)(void *)((char *)c + o->offset) = config_setting_get_bool(s) ? 1 : 0;
	return 0;
}

static int apply_string(struct cmem_config *c, const struct option *o, const config_setting_t *s,
                        const struct loader *ld)
{
	char why[CONFIG_ERRLEN];
	const char *v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return refuse(ld, s, "'%s' must be a string", o->name);
	v = config_setting_get_string(s);
	if (o->size && strlen(v) >= o->size)
		return refuse(ld, s, "'%s' is too long, at most %zu characters", o->name,
		              o->size - 1);
	if (o->check && o->check(c, v, why, sizeof(why)) == -1)
		return refuse(ld, s, "'%s' %s", o->name, why);
	if (o->size)
		snprintf((char *)c + o->offset, o->size, "%s", v);
	return 0;
}

/* Letters, digits, dots and dashes with at least one letter: a host name. */
static int looks_like_host_name(const char *s)
{
	size_t n = strlen(s);

	return n > 0 &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-") == n &&
	       strpbrk(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != NULL;
}

/* The address part of a peer entry, numeric only. */
static int peer_host(const char *h, int want_v6, struct member_addr *a, char *why, size_t whylen)
{
	if (!want_v6 && inet_pton(AF_INET, h, &a->a.v4) == 1) {
		a->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, h, &a->a.v6) == 1) {
		a->family = AF_INET6;
		return 0;
	}
	if (looks_like_host_name(h))
		snprintf(why, whylen, "'%s' is a host name: cmemd is linked statically and resolves "
		                      "no names; give a numeric IPv4 or IPv6 address",
		         h);
	else if (want_v6)
		snprintf(why, whylen, "'%s' between [ ] is not an IPv6 address", h);
	else
		snprintf(why, whylen, "'%s' is not an IPv4 or IPv6 address", h);
	return -1;
}

static int peer_port(const char *p, uint16_t *port, char *why, size_t whylen)
{
	uint64_t v;

	if (parse_u64_str(p, &v) == -1 || v < 1 || v > 65535) {
		snprintf(why, whylen, "port '%s' is not a number from 1 to 65535", p);
		return -1;
	}
	*port = (uint16_t)v;
	return 0;
}

/* Addresses no datagram of ours may go to (addr_not_unicast; a seed may be loopback). */
static int peer_usable(const struct member_addr *a, char *why, size_t whylen)
{
	const char *bad = addr_not_unicast(a, 1);

	if (bad == NULL && a->family == AF_INET6 && IN6_IS_ADDR_LINKLOCAL(&a->a.v6))
		bad = "link-local (fe80::/10): it needs a zone; give a global or ULA address";
	if (bad == NULL)
		return 0;
	snprintf(why, whylen, "is %s%s", bad,
	         strstr(bad, "multicast") ? " (that is `group`)" : "");
	return -1;
}

int config_peer_parse(const char *s, struct member_addr *a, char *why, size_t whylen)
{
	char host[64];
	const char *colon = strrchr(s, ':'), *port = NULL;
	int v6 = 0;

	memset(a, 0, sizeof(*a));
	if (s[0] == '\0' || strlen(s) >= sizeof(host)) {
		snprintf(why, whylen, "%s", s[0] ? "is too long for an address" : "is empty");
		return -1;
	}
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (end == NULL || (end[1] != '\0' && end[1] != ':')) {
			snprintf(why, whylen, "'%s' is not [IPv6 address] or [IPv6 address]:port", s);
			return -1;
		}
		snprintf(host, sizeof(host), "%.*s", (int)(end - s - 1), s + 1);
		port = end[1] == ':' ? end + 2 : NULL;
		v6 = 1;
	} else if (colon && strchr(s, ':') == colon) {
		snprintf(host, sizeof(host), "%.*s", (int)(colon - s), s); /* IPv4 or name, :port */
		port = colon + 1;
	} else {
		snprintf(host, sizeof(host), "%s", s); /* no port, or an IPv6 address */
	}
	if (peer_host(host, v6, a, why, whylen) == -1 || peer_usable(a, why, whylen) == -1)
		return -1;
	if (port && peer_port(port, &a->port, why, whylen) == -1)
		return -1;
	return 0;
}

static int apply_peers(struct cmem_config *c, const config_setting_t *s, struct loader *ld)
{
	char why[CONFIG_ERRLEN];
	int n;

	if (config_setting_type(s) != CONFIG_TYPE_ARRAY && config_setting_type(s) != CONFIG_TYPE_LIST)
		return refuse(ld, s, "'peers' must be a list of addresses: [ \"10.0.0.2\", "
		                     "\"[fd00::3]:51510\" ]");
	n = config_setting_length(s);
	if (n > CONFIG_PEERS_MAX)
		return refuse(ld, s, "'peers' lists %d addresses, at most %d: a few seeds are enough, "
		                     "the other members are learned",
		              n, CONFIG_PEERS_MAX);
	ld->peers = s;
	c->npeers = 0;
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		struct member_addr *a = &c->peers[i];

		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return refuse(ld, e, "'peers' entry %d must be a string", i + 1);
		if (config_peer_parse(config_setting_get_string(e), a, why, sizeof(why)) == -1)
			return refuse(ld, e, "'peers' entry %d %s", i + 1, why);
		for (int j = 0; j < i; j++)
			if (addr_same(a, &c->peers[j]) && a->port == c->peers[j].port)
				return refuse(ld, e, "'peers' entry %d '%s' is listed twice", i + 1,
				              config_setting_get_string(e));
		c->npeers++;
	}
	return 0;
}

/* One socket carries everything: the peers must be of one family, the group's if joined. */
static int check_peer_families(const struct cmem_config *c, const struct loader *ld)
{
	struct in6_addr g6;
	int family = !c->multicast && c->npeers ? c->peers[0].family
	             : inet_pton(AF_INET6, c->group, &g6) == 1 ? AF_INET6
	                                                       : AF_INET;

	for (unsigned i = 0; i < c->npeers; i++)
		if (c->peers[i].family != family)
			return refuse(ld, ld->peers,
			              "'peers' entry %u is %s but %s is %s: every peer must be of one "
			              "family%s",
			              i + 1, c->peers[i].family == AF_INET ? "IPv4" : "IPv6",
			              c->multicast ? "the group" : "entry 1",
			              family == AF_INET ? "IPv4" : "IPv6",
			              c->multicast ? ", the group's (or set multicast = false)" : "");
	return 0;
}

static int apply_setting(struct cmem_config *c, const config_setting_t *s, struct loader *ld)
{
	const char *name = config_setting_name(s);
	const struct option *o = name ? find_option(name) : NULL;

	if (o == NULL)
		return refuse(ld, s, "unknown option '%s'", name ? name : "");
	if (o->offset == offsetof(struct cmem_config, heartbeat_ms))
		ld->heartbeat = s;
	else if (o->offset == offsetof(struct cmem_config, fail_after_ms))
		ld->fail_after = s;
	if (o->type == OPT_INT)
		return apply_int(c, o, s, ld);
	if (o->type == OPT_BOOL)
		return apply_bool(c, o, s, ld);
	if (o->type == OPT_PEERS)
		return apply_peers(c, s, ld);
	return apply_string(c, o, s, ld);
}

/* Checks that involve more than one option, or the defaults. */
static int check_whole(const struct cmem_config *c, const struct loader *ld)
{
	char host[256];

	if (c->fail_after_ms < 2 * c->heartbeat_ms)
		return refuse(ld, ld->fail_after ? ld->fail_after : ld->heartbeat,
		              "'fail_after_ms' must be at least twice 'heartbeat_ms' (2 * %u = %u), "
		              "not %u%s",
		              c->heartbeat_ms, 2 * c->heartbeat_ms, c->fail_after_ms,
		              ld->fail_after ? "" : " (the default)");
	if (check_peer_families(c, ld) == -1)
		return -1;
	if (c->name[0] == '\0') {
		short_host_name(host, sizeof(host));
		return refuse(ld, NULL,
		              "the short host name '%s' is not a valid member name (" NAME_RULE
		              "); set 'name'",
		              host);
	}
	return 0;
}

/* Apply the parsed file to a copy of c; copy back only if all of it is good. */
static int apply_config(struct cmem_config *c, const config_t *cf, const char *path, char *err,
                        size_t errlen)
{
	struct loader ld = { path, err, errlen, NULL, NULL, NULL };
	const config_setting_t *root = config_root_setting(cf), *s;
	struct cmem_config next = *c;

	for (unsigned i = 0; (s = config_setting_get_elem(root, i)) != NULL; i++)
		if (apply_setting(&next, s, &ld) == -1)
			return -1;
	if (check_whole(&next, &ld) == -1)
		return -1;
	*c = next;
	return 0;
}

/* FILE is the included file the error is in, or PATH. */
static int parse_error(const config_t *cf, const char *path, char *err, size_t errlen)
{
	const char *file = config_error_file(cf), *text = config_error_text(cf);

	if (text == NULL || strcmp(text, "syntax error") == 0)
		text = NULL; /* libconfig's usual text would only repeat ours */
	if (err && errlen)
		snprintf(err, errlen, "%s:%d: syntax error%s%s", file ? file : path,
		         config_error_line(cf), text ? ": " : "", text ? text : "");
	return -1;
}

/* After config_read*() returned read: apply what cf holds, or report its error; free cf. */
static int finish_load(struct cmem_config *c, config_t *cf, int read, const char *name,
                       char *err, size_t errlen)
{
	int rc = read == CONFIG_FALSE ? parse_error(cf, name, err, errlen)
	                              : apply_config(c, cf, name, err, errlen);

	config_destroy(cf);
	return rc;
}

int config_load_string(struct cmem_config *c, const char *name, const char *text, char *err,
                       size_t errlen)
{
	config_t cf;

	config_init(&cf);
	return finish_load(c, &cf, config_read_string(&cf, text), name, err, errlen);
}

/* Open path for reading, refusing what is not a file (a directory reads as empty). */
static FILE *open_config(const char *path, char *err, size_t errlen)
{
	struct loader ld = { path, err, errlen, NULL, NULL, NULL };
	struct stat st;
	FILE *f = fopen(path, "r");

	if (f != NULL && fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(f);
		f = NULL;
		errno = EISDIR;
	}
	if (f == NULL)
		refuse(&ld, NULL, "cannot read: %s", strerror(errno));
	return f;
}

int config_load(struct cmem_config *c, const char *path, char *err, size_t errlen)
{
	config_t cf;
	FILE *f = open_config(path, err, errlen);
	int rc;

	if (f == NULL)
		return -1;
	config_init(&cf);
	rc = finish_load(c, &cf, config_read(&cf, f), path, err, errlen);
	fclose(f);
	return rc;
}
