/*
 * cmem-inject: craft, flood, record and replay CMem lines, for the fault
 * and attack tests.
 *
 * Lines are signed by the wire module (wire_sign) with any key, name,
 * timestamp, incarnation and counter the test asks for.  Every datagram
 * goes to a multicast group with a TTL of 0 or 1, never more, so nothing
 * this tool sends can leave the link it runs on.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "keyring.h"
#include "log.h"
#include "name.h"
#include "net.h"
#include "util.h"
#include "wire.h"

#define PROG "cmem-inject"
#define INJECT_MAX_TTL 1            /* one link: the tool must never send further */
#define FLOOD_BATCH 256             /* datagrams per sendmmsg at most */
#define OVERSIZE_SMALL (WIRE_MAX_DATAGRAM + 1)
#define OVERSIZE_BIG 65000
#define RECORD_BUF 65536            /* more than any UDP payload: nothing is truncated */
#define MAX_INTERVAL_MS 3600000ULL
#define MAX_SECONDS 86400ULL
#define MAX_RATE 10000000ULL
#define MAX_MEMBERS 1000000ULL      /* the daemon's own max_members limit */
#define MAX_OFFSET 4000000000LL     /* seconds, either way: about 126 years */
#define SNDBUF_BYTES (4 << 20)

static volatile sig_atomic_t stop_flag;

enum flood_mode { FLOOD_FORGED, FLOOD_GARBAGE, FLOOD_OVERSIZE, FLOOD_MIXED };
static const char *const flood_mode_names[] = { "forged", "garbage", "oversize", "mixed" };

/* Where datagrams go (send, flood, replay) or come from (record). */
struct dest {
	const char *group;
	uint16_t port;
	const char *iface;
	unsigned ttl;
};

struct send_opts {
	const char *keyring, *name, *body, *entries;
	enum wire_verb verb;
	uint16_t key_id; /* 0: the keyring's primary */
	uint64_t incarnation, counter, timestamp, count, interval_ms;
	int has_incarnation, has_timestamp, has_offset, print;
	int64_t time_offset;
};

struct flood_opts {
	uint64_t rate, seconds;
	enum flood_mode mode;
	const char *name; /* NULL: a random name per line */
};

/* members: M members, each sending alive once an interval. */
struct members_opts {
	const char *prefix;
	uint64_t count, interval_ms, seconds;
	int join, leave;
};

struct opts {
	struct dest dest;
	struct send_opts send;
	struct flood_opts flood;
	struct members_opts members;
	uint64_t seconds;     /* record */
	const char *file;     /* record: -o, replay: -i */
	uint64_t interval_ms; /* replay */
	const char *filter_name, *filter_verb;
};

/* A socket that only sends, to the group, never bound to the cluster port. */
struct sender {
	int fd;
	struct sockaddr_storage to;
	socklen_t tolen;
};

enum opt_id {
	O_GROUP = 256, O_PORT, O_IFACE, O_TTL, O_KEYRING, O_KEY_ID, O_NAME, O_INCARNATION,
	O_COUNTER, O_TIME_OFFSET, O_TIMESTAMP, O_VERB, O_BODY, O_ENTRIES, O_COUNT, O_INTERVAL,
	O_PRINT, O_RATE, O_SECONDS, O_MODE, O_FILTER_NAME, O_FILTER_VERB, O_PREFIX, O_JOIN,
	O_LEAVE,
};

static const char usage_text[] =
	"usage: " PROG " COMMAND [OPTIONS]\n"
	"\n"
	"  send   --keyring FILE [--key-id N] --name NAME [--incarnation N] [--counter N]\n"
	"         [--time-offset SECONDS | --timestamp T]\n"
	"         (--verb cjoin|alive|leave|cluster [--entries \"a@10.0.0.1 b@10.0.0.2\"] | --body TEXT)\n"
	"         [--count N] [--interval-ms N] (DEST | --print)\n"
	"      sign COUNT lines (counters N.., default 1) and send them INTERVAL apart;\n"
	"      --print writes them to stdout instead\n"
	"  flood  --rate N --seconds S [--mode forged|garbage|oversize|mixed] [--name NAME] DEST\n"
	"      send RATE datagrams a second for S seconds, then print the achieved rate\n"
	"  members --keyring FILE [--key-id N] --count M [--prefix NAME (m)] [--interval-ms N (1000)]\n"
	"         [--seconds S] [--join] [--leave] DEST\n"
	"      play M members PREFIX-1..PREFIX-M, each sending alive once an interval (spread\n"
	"      evenly), for S seconds or until SIGINT/SIGTERM; --join: cjoin first;\n"
	"      --leave: each says leave at the end\n"
	"  record --seconds S -o FILE DEST\n"
	"      join the group and write every datagram that ends in a newline to FILE (- stdout)\n"
	"  replay -i FILE [--interval-ms N] [--filter-name NAME] [--filter-verb VERB] DEST\n"
	"      send the lines of FILE (- stdin) again, unchanged\n"
	"\n"
	"DEST: --group G (multicast, IPv4 or IPv6) [--port P (51510)] [--interface IFNAME]\n"
	"      [--ttl 0|1 (1)]\n"
	"Exit status: 0 done, 1 error, 2 usage error.\n";

static const struct option send_long[] = {
	{ "group", required_argument, NULL, O_GROUP }, { "port", required_argument, NULL, O_PORT },
	{ "interface", required_argument, NULL, O_IFACE }, { "ttl", required_argument, NULL, O_TTL },
	{ "help", no_argument, NULL, 'h' }, { "keyring", required_argument, NULL, O_KEYRING },
	{ "key-id", required_argument, NULL, O_KEY_ID }, { "name", required_argument, NULL, O_NAME },
	{ "incarnation", required_argument, NULL, O_INCARNATION },
	{ "counter", required_argument, NULL, O_COUNTER },
	{ "time-offset", required_argument, NULL, O_TIME_OFFSET },
	{ "timestamp", required_argument, NULL, O_TIMESTAMP },
	{ "verb", required_argument, NULL, O_VERB }, { "body", required_argument, NULL, O_BODY },
	{ "entries", required_argument, NULL, O_ENTRIES },
	{ "count", required_argument, NULL, O_COUNT },
	{ "interval-ms", required_argument, NULL, O_INTERVAL },
	{ "print", no_argument, NULL, O_PRINT }, { NULL, 0, NULL, 0 },
};

static const struct option flood_long[] = {
	{ "group", required_argument, NULL, O_GROUP }, { "port", required_argument, NULL, O_PORT },
	{ "interface", required_argument, NULL, O_IFACE }, { "ttl", required_argument, NULL, O_TTL },
	{ "help", no_argument, NULL, 'h' }, { "rate", required_argument, NULL, O_RATE },
	{ "seconds", required_argument, NULL, O_SECONDS }, { "mode", required_argument, NULL, O_MODE },
	{ "name", required_argument, NULL, O_NAME }, { NULL, 0, NULL, 0 },
};

static const struct option members_long[] = {
	{ "group", required_argument, NULL, O_GROUP }, { "port", required_argument, NULL, O_PORT },
	{ "interface", required_argument, NULL, O_IFACE }, { "ttl", required_argument, NULL, O_TTL },
	{ "help", no_argument, NULL, 'h' }, { "keyring", required_argument, NULL, O_KEYRING },
	{ "key-id", required_argument, NULL, O_KEY_ID }, { "count", required_argument, NULL, O_COUNT },
	{ "prefix", required_argument, NULL, O_PREFIX },
	{ "interval-ms", required_argument, NULL, O_INTERVAL },
	{ "seconds", required_argument, NULL, O_SECONDS }, { "join", no_argument, NULL, O_JOIN },
	{ "leave", no_argument, NULL, O_LEAVE }, { NULL, 0, NULL, 0 },
};

static const struct option record_long[] = {
	{ "group", required_argument, NULL, O_GROUP }, { "port", required_argument, NULL, O_PORT },
	{ "interface", required_argument, NULL, O_IFACE }, { "ttl", required_argument, NULL, O_TTL },
	{ "help", no_argument, NULL, 'h' }, { "seconds", required_argument, NULL, O_SECONDS },
	{ "output", required_argument, NULL, 'o' }, { NULL, 0, NULL, 0 },
};

static const struct option replay_long[] = {
	{ "group", required_argument, NULL, O_GROUP }, { "port", required_argument, NULL, O_PORT },
	{ "interface", required_argument, NULL, O_IFACE }, { "ttl", required_argument, NULL, O_TTL },
	{ "help", no_argument, NULL, 'h' }, { "input", required_argument, NULL, 'i' },
	{ "interval-ms", required_argument, NULL, O_INTERVAL },
	{ "filter-name", required_argument, NULL, O_FILTER_NAME },
	{ "filter-verb", required_argument, NULL, O_FILTER_VERB }, { NULL, 0, NULL, 0 },
};

static _Noreturn void usage_error(const char *fmt, ...) CMEM_PRINTF(1, 2);

static _Noreturn void usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", PROG);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s -h' for help.\n", PROG);
	exit(2);
}

/* ---- option values ---- */

static uint64_t num_arg(const char *opt, const char *s, uint64_t min, uint64_t max)
{
	uint64_t v;

	if (parse_u64_str(s, &v) == -1 || v < min || v > max)
		usage_error("--%s: '%s' is not a number from %llu to %llu", opt, s,
		            (unsigned long long)min, (unsigned long long)max);
	return v;
}

static int64_t offset_arg(const char *s)
{
	int neg = s[0] == '-';
	uint64_t v;

	if (parse_u64_str(s + neg, &v) == -1 || v > (uint64_t)MAX_OFFSET)
		usage_error("--time-offset: '%s' is not a number of seconds from -%lld to %lld", s,
		            (long long)MAX_OFFSET, (long long)MAX_OFFSET);
	return neg ? -(int64_t)v : (int64_t)v;
}

static const char *name_arg(const char *opt, const char *s)
{
	if (!name_valid(s))
		usage_error("--%s: '%s' is not a member name (" NAME_RULE ")", opt, s);
	return s;
}

static enum wire_verb verb_arg(const char *s)
{
	for (int v = WIRE_CJOIN; v < WIRE_NVERBS; v++)
		if (strcmp(s, wire_verb_name((enum wire_verb)v)) == 0)
			return (enum wire_verb)v;
	usage_error("--verb: '%s' is not cjoin, alive, leave or cluster", s);
}

static enum flood_mode mode_arg(const char *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(flood_mode_names); i++)
		if (strcmp(s, flood_mode_names[i]) == 0)
			return (enum flood_mode)i;
	usage_error("--mode: '%s' is not forged, garbage, oversize or mixed", s);
}

/* Options every command takes; returns 0 if C is not one of them. */
static int set_dest(struct dest *d, int c, const char *arg)
{
	switch (c) {
	case O_GROUP:
		d->group = arg;
		return 1;
	case O_PORT:
		d->port = (uint16_t)num_arg("port", arg, 1, 65535);
		return 1;
	case O_IFACE:
		d->iface = arg;
		return 1;
	case O_TTL:
		d->ttl = (unsigned)num_arg("ttl", arg, 0, INJECT_MAX_TTL);
		return 1;
	default:
		return 0;
	}
}

static void set_send(struct opts *o, int c, const char *arg)
{
	struct send_opts *s = &o->send;

	switch (c) {
	case O_KEYRING: s->keyring = arg; break;
	case O_KEY_ID: s->key_id = (uint16_t)num_arg("key-id", arg, 1, 65535); break;
	case O_NAME: s->name = name_arg("name", arg); break;
	case O_INCARNATION:
		s->incarnation = num_arg("incarnation", arg, 0, UINT64_MAX);
		s->has_incarnation = 1;
		break;
	case O_COUNTER: s->counter = num_arg("counter", arg, 0, UINT64_MAX); break;
	case O_TIME_OFFSET:
		s->time_offset = offset_arg(arg);
		s->has_offset = 1;
		break;
	case O_TIMESTAMP:
		s->timestamp = num_arg("timestamp", arg, 0, UINT64_MAX);
		s->has_timestamp = 1;
		break;
	case O_VERB: s->verb = verb_arg(arg); break;
	case O_BODY: s->body = arg; break;
	case O_ENTRIES: s->entries = arg; break;
	case O_COUNT: s->count = num_arg("count", arg, 1, UINT64_MAX); break;
	case O_INTERVAL: s->interval_ms = num_arg("interval-ms", arg, 0, MAX_INTERVAL_MS); break;
	case O_PRINT: s->print = 1; break;
	}
}

static void set_flood(struct opts *o, int c, const char *arg)
{
	switch (c) {
	case O_RATE: o->flood.rate = num_arg("rate", arg, 1, MAX_RATE); break;
	case O_SECONDS: o->flood.seconds = num_arg("seconds", arg, 1, MAX_SECONDS); break;
	case O_MODE: o->flood.mode = mode_arg(arg); break;
	case O_NAME: o->flood.name = name_arg("name", arg); break;
	}
}

static void set_members(struct opts *o, int c, const char *arg)
{
	struct members_opts *m = &o->members;

	switch (c) {
	case O_KEYRING: o->send.keyring = arg; break;
	case O_KEY_ID: o->send.key_id = (uint16_t)num_arg("key-id", arg, 1, 65535); break;
	case O_COUNT: m->count = num_arg("count", arg, 1, MAX_MEMBERS); break;
	case O_PREFIX: m->prefix = name_arg("prefix", arg); break;
	case O_INTERVAL: m->interval_ms = num_arg("interval-ms", arg, 1, MAX_INTERVAL_MS); break;
	case O_SECONDS: m->seconds = num_arg("seconds", arg, 1, MAX_SECONDS); break;
	case O_JOIN: m->join = 1; break;
	case O_LEAVE: m->leave = 1; break;
	}
}

static void set_record(struct opts *o, int c, const char *arg)
{
	if (c == O_SECONDS)
		o->seconds = num_arg("seconds", arg, 1, MAX_SECONDS);
	else if (c == 'o')
		o->file = arg;
}

static void set_replay(struct opts *o, int c, const char *arg)
{
	switch (c) {
	case 'i': o->file = arg; break;
	case O_INTERVAL: o->interval_ms = num_arg("interval-ms", arg, 0, MAX_INTERVAL_MS); break;
	case O_FILTER_NAME: o->filter_name = arg; break;
	case O_FILTER_VERB: o->filter_verb = arg; break;
	}
}

/* ---- required options and their combinations ---- */

static void check_dest(const struct dest *d)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (d->group == NULL)
		usage_error("--group is required");
	if (inet_pton(AF_INET, d->group, &a4) == 1) {
		if (!IN_MULTICAST(ntohl(a4.s_addr)))
			usage_error("--group: %s is not a multicast address", d->group);
	} else if (inet_pton(AF_INET6, d->group, &a6) == 1) {
		if (!IN6_IS_ADDR_MULTICAST(&a6))
			usage_error("--group: %s is not a multicast address", d->group);
	} else {
		usage_error("--group: '%s' is not an IPv4 or IPv6 address", d->group);
	}
	if (d->iface && strlen(d->iface) >= IF_NAMESIZE)
		usage_error("--interface: '%s' is too long for an interface name", d->iface);
}

static void check_send(struct opts *o)
{
	const struct send_opts *s = &o->send;

	if (s->keyring == NULL || s->name == NULL)
		usage_error("send needs --keyring and --name");
	if (s->verb == WIRE_VERB_NONE && s->body == NULL)
		usage_error("send needs --verb or --body");
	if (s->verb == WIRE_CLUSTER && s->body == NULL && s->entries == NULL)
		usage_error("--verb cluster needs --entries \"name@address ...\"");
	if (s->has_offset && s->has_timestamp)
		usage_error("use --time-offset or --timestamp, not both");
	if (s->counter > UINT64_MAX - (s->count - 1))
		usage_error("--counter + --count overflows 64 bits");
	if (!s->print)
		check_dest(&o->dest);
}

static void check_flood(struct opts *o)
{
	if (o->flood.rate == 0 || o->flood.seconds == 0)
		usage_error("flood needs --rate and --seconds");
	check_dest(&o->dest);
}

static void check_members(struct opts *o)
{
	const struct members_opts *m = &o->members;
	char last[32];

	if (o->send.keyring == NULL || m->count == 0)
		usage_error("members needs --keyring and --count");
	if (strlen(m->prefix) + (size_t)xsnprintf(last, sizeof(last), "-%llu",
	                                          (unsigned long long)m->count) > WIRE_NAME_MAX)
		usage_error("--prefix: '%s-%llu' would be longer than %d characters", m->prefix,
		            (unsigned long long)m->count, WIRE_NAME_MAX);
	check_dest(&o->dest);
}

static void check_record(struct opts *o)
{
	if (o->seconds == 0 || o->file == NULL)
		usage_error("record needs --seconds and -o FILE");
	check_dest(&o->dest);
}

static void check_replay(struct opts *o)
{
	if (o->file == NULL)
		usage_error("replay needs -i FILE");
	check_dest(&o->dest);
}

/* ---- time, signals ---- */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void sleep_until_ns(uint64_t t)
{
	struct timespec ts = { .tv_sec = (time_t)(t / 1000000000ULL),
		               .tv_nsec = (long)(t % 1000000000ULL) };

	while (!stop_flag && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* The same, even once a signal has asked to stop. */
static void sleep_until_ns_always(uint64_t t)
{
	struct timespec ts = { .tv_sec = (time_t)(t / 1000000000ULL),
		               .tv_nsec = (long)(t % 1000000000ULL) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* No SA_RESTART: a signal ends a sleep or poll, and the command stops cleanly. */
static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* ---- the send-only socket ---- */

static void xsetsockopt(int fd, int level, int name, const void *v, socklen_t len,
                        const char *what)
{
	if (setsockopt(fd, level, name, v, len) == -1)
		fatal("setsockopt %s", what);
}

static void sender_setup_v4(struct sender *s, unsigned ifindex, int ttl)
{
	struct ip_mreqn m = { .imr_ifindex = (int)ifindex };
	int one = 1;

	xsetsockopt(s->fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl), "IP_MULTICAST_TTL");
	xsetsockopt(s->fd, IPPROTO_IP, IP_MULTICAST_LOOP, &one, sizeof(one), "IP_MULTICAST_LOOP");
	if (ifindex)
		xsetsockopt(s->fd, IPPROTO_IP, IP_MULTICAST_IF, &m, sizeof(m), "IP_MULTICAST_IF");
}

static void sender_setup_v6(struct sender *s, unsigned ifindex, int hops)
{
	int one = 1;

	xsetsockopt(s->fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof(hops),
	            "IPV6_MULTICAST_HOPS");
	xsetsockopt(s->fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &one, sizeof(one),
	            "IPV6_MULTICAST_LOOP");
	if (ifindex)
		xsetsockopt(s->fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof(ifindex),
		            "IPV6_MULTICAST_IF");
}

/* The group was checked by check_dest: a multicast IPv4 or IPv6 literal. */
static void sender_open(struct sender *s, const struct dest *d)
{
	struct sockaddr_in *g4 = (struct sockaddr_in *)&s->to;
	struct sockaddr_in6 *g6 = (struct sockaddr_in6 *)&s->to;
	unsigned ifindex = 0;
	int sndbuf = SNDBUF_BYTES;

	if (d->ttl > INJECT_MAX_TTL)
		fatalx("refusing TTL %u: at most %d", d->ttl, INJECT_MAX_TTL);
	if (d->iface && (ifindex = if_nametoindex(d->iface)) == 0)
		fatal("interface %s", d->iface);
	memset(&s->to, 0, sizeof(s->to));
	if (inet_pton(AF_INET, d->group, &g4->sin_addr) == 1) {
		g4->sin_family = AF_INET;
		g4->sin_port = htons(d->port);
		s->tolen = sizeof(*g4);
	} else if (inet_pton(AF_INET6, d->group, &g6->sin6_addr) == 1) {
		g6->sin6_family = AF_INET6;
		g6->sin6_port = htons(d->port);
		g6->sin6_scope_id = ifindex;
		s->tolen = sizeof(*g6);
	} else {
		fatalx("group %s is not an IP address", d->group);
	}
	s->fd = socket(s->to.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s->fd == -1)
		fatal("socket");
	/* best effort: a bigger queue lets a flood keep its pace */
	setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	if (s->to.ss_family == AF_INET)
		sender_setup_v4(s, ifindex, (int)d->ttl);
	else
		sender_setup_v6(s, ifindex, (int)d->ttl);
}

static void sender_send(struct sender *s, const struct dest *d, const void *buf, size_t len)
{
	ssize_t r;

	do
		r = sendto(s->fd, buf, len, 0, (struct sockaddr *)&s->to, s->tolen);
	while (r == -1 && errno == EINTR);
	if (r != (ssize_t)len)
		fatal("cannot send %zu bytes to %s port %u", len, d->group, (unsigned)d->port);
}

/* ---- send ---- */

/* Read the file ourselves so that test keyrings with any owner or mode work. */
static struct keyring *load_keyring(const char *path)
{
	char err[KEYRING_ERRLEN];
	char *text = sodium_malloc(KEYRING_MAX_FILE + 1);
	struct keyring *kr;
	size_t len = 0;
	ssize_t r = 0;
	int fd;

	if (text == NULL)
		fatalx("out of memory");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		fatal("cannot open keyring %s", path);
	while (len <= KEYRING_MAX_FILE &&
	       ((r = read(fd, text + len, KEYRING_MAX_FILE + 1 - len)) > 0 ||
	        (r == -1 && errno == EINTR)))
		len += r > 0 ? (size_t)r : 0;
	if (r == -1)
		fatal("cannot read keyring %s", path);
	close(fd);
	if (len > KEYRING_MAX_FILE)
		fatalx("keyring %s: larger than %d bytes", path, KEYRING_MAX_FILE);
	kr = keyring_parse(path, text, len, err, sizeof(err));
	sodium_free(text); /* wipes the secrets */
	if (kr == NULL)
		fatalx("%s", err);
	return kr;
}

static uint64_t line_time(const struct send_opts *s)
{
	int64_t t;

	if (s->has_timestamp)
		return s->timestamp;
	t = (int64_t)now_real_s() + s->time_offset;
	if (t < 0)
		fatalx("--time-offset %lld puts the timestamp before 1970", (long long)s->time_offset);
	return (uint64_t)t;
}

static int build_body(const struct send_opts *s, uint64_t ts, char *out, size_t cap)
{
	if (s->body)
		return xsnprintf(out, cap, "%s", s->body);
	switch (s->verb) {
	case WIRE_CJOIN:
		return xsnprintf(out, cap, "cjoin %s", s->name);
	case WIRE_ALIVE:
		return xsnprintf(out, cap, "alive %s %llu", s->name, (unsigned long long)ts);
	case WIRE_LEAVE:
		return xsnprintf(out, cap, "leave %s", s->name);
	default:
		return xsnprintf(out, cap, "cluster %s", s->entries);
	}
}

static size_t sign_line(const struct send_opts *s, const struct keyring_key *k,
                        uint64_t counter, char *out, size_t cap)
{
	char body[WIRE_MAX_DATAGRAM + 1];
	uint64_t ts = line_time(s);
	int blen = build_body(s, ts, body, sizeof(body)), n;

	if (blen <= 0)
		fatalx("the body is empty or longer than a datagram");
	n = wire_sign(k, ts, s->name, body, (size_t)blen, s->incarnation, counter, out, cap);
	if (n < 0)
		fatalx("cannot sign: the line would exceed %d bytes, or the body holds a '|' or a "
		       "byte that is not printable ASCII",
		       WIRE_MAX_DATAGRAM);
	return (size_t)n;
}

static const struct keyring_key *pick_key(const struct keyring *kr, const struct send_opts *s)
{
	const struct keyring_key *k;

	if (s->key_id == 0)
		return keyring_primary(kr);
	k = keyring_find(kr, s->key_id);
	if (k == NULL)
		fatalx("key id %u is not in keyring %s", (unsigned)s->key_id, s->keyring);
	return k;
}

static void print_line(const char *line, size_t len, int flush)
{
	if (fwrite(line, 1, len, stdout) != len || (flush && fflush(stdout) == EOF))
		fatal("writing to stdout");
}

static int run_send(struct opts *o)
{
	struct send_opts *s = &o->send;
	struct keyring *kr = load_keyring(s->keyring);
	const struct keyring_key *k = pick_key(kr, s);
	struct sender snd = { .fd = -1 };
	char line[WIRE_MAX_DATAGRAM + 2];
	uint64_t start = mono_ns(), i;

	if (!s->has_incarnation)
		s->incarnation = now_real_us();
	if (!s->print)
		sender_open(&snd, &o->dest);
	for (i = 0; i < s->count && !stop_flag; i++) {
		size_t len;

		if (i > 0)
			sleep_until_ns(start + i * s->interval_ms * 1000000ULL);
		if (stop_flag)
			break;
		len = sign_line(s, k, s->counter + i, line, sizeof(line));
		if (s->print)
			print_line(line, len, s->interval_ms > 0);
		else
			sender_send(&snd, &o->dest, line, len);
	}
	fprintf(s->print ? stderr : stdout,
	        "send: %s %llu line(s) as %s, key %u, incarnation %llu, counters %llu..%llu\n",
	        s->print ? "printed" : "sent", (unsigned long long)i, s->name, (unsigned)k->id,
	        (unsigned long long)s->incarnation, (unsigned long long)s->counter,
	        (unsigned long long)(s->counter + (i ? i - 1 : 0)));
	if (snd.fd != -1)
		close(snd.fd);
	keyring_free(kr);
	return fflush(stdout) == EOF ? 1 : 0;
}

/* ---- flood ---- */

/* splitmix64: fast, and good enough for junk that only has to look random. */
struct rng {
	uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Up to FLOOD_BATCH datagrams to the group, sent with one sendmmsg. */
struct batch {
	struct sender snd;
	const struct dest *dest;
	uint64_t sent, errors;
	char (*bufs)[WIRE_MAX_DATAGRAM + 1];  /* one per slot */
	struct mmsghdr msgs[FLOOD_BATCH];
	struct iovec iov[FLOOD_BATCH];
};

static void batch_init(struct batch *b, const struct dest *d)
{
	b->dest = d;
	b->sent = b->errors = 0;
	b->bufs = xcalloc(FLOOD_BATCH, sizeof(*b->bufs));
	sender_open(&b->snd, d);
	for (size_t i = 0; i < FLOOD_BATCH; i++) {
		b->msgs[i].msg_hdr.msg_name = &b->snd.to;
		b->msgs[i].msg_hdr.msg_namelen = b->snd.tolen;
		b->msgs[i].msg_hdr.msg_iov = &b->iov[i];
		b->msgs[i].msg_hdr.msg_iovlen = 1;
	}
}

static void batch_free(struct batch *b)
{
	close(b->snd.fd);
	free(b->bufs);
}

/* Send slots 0..n-1; a datagram the kernel refuses is counted and skipped. */
static void batch_send(struct batch *b, size_t n)
{
	size_t i = 0;

	while (i < n) {
		int r = sendmmsg(b->snd.fd, b->msgs + i, (unsigned)(n - i), 0);

		if (r > 0) {
			i += (size_t)r;
			b->sent += (uint64_t)r;
		} else if (r == -1 && errno == EINTR) {
			continue;
		} else if (r == -1 && (errno == ENOBUFS || errno == EMSGSIZE || errno == EPERM ||
		                       errno == EAGAIN)) {
			i++;
			b->errors++;
		} else {
			fatal("sendmmsg to %s port %u", b->dest->group, (unsigned)b->dest->port);
		}
	}
}

struct flood {
	struct batch b;
	struct rng rng;
	enum flood_mode mode;
	const char *name;
	uint64_t now_s, flip;
	uint8_t *pool;                        /* OVERSIZE_BIG random bytes */
};

/* A valid-format "alive" line with key id 1 and a random MAC. */
static size_t forge_line(struct flood *f, char *out)
{
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	static const char hex[] = "0123456789abcdef";
	char rname[13] = "f";
	const char *name = f->name;
	uint64_t r = rng_next(&f->rng);
	int n;

	if (name == NULL) {
		for (size_t i = 1; i < sizeof(rname) - 1; i++, r /= 36)
			rname[i] = alnum[r % 36];
		name = rname;
	}
	n = snprintf(out, WIRE_MAX_DATAGRAM + 1, "%llu: [%s] alive %s %llu |v%d k=1 n=%llu.%llu h=",
	             (unsigned long long)f->now_s, name, name, (unsigned long long)f->now_s,
	             WIRE_VERSION, (unsigned long long)(rng_next(&f->rng) >> 8),
	             (unsigned long long)(rng_next(&f->rng) >> 16));
	for (int i = 0; i < WIRE_MAC_HEX; i += 16) {
		r = rng_next(&f->rng);
		for (int j = 0; j < 16; j++, r >>= 4)
			out[n + i + j] = hex[r & 15];
	}
	out[n + WIRE_MAC_HEX] = '\n';
	return (size_t)n + WIRE_MAC_HEX + 1;
}

static size_t garbage(struct flood *f, uint8_t *out)
{
	size_t len = 1 + (size_t)(rng_next(&f->rng) % WIRE_MAX_DATAGRAM);

	for (size_t i = 0; i < len; i += 8) {
		uint64_t r = rng_next(&f->rng);

		memcpy(out + i, &r, len - i < 8 ? len - i : 8);
	}
	return len;
}

/* Mixed: six forged, three garbage, one oversize in ten. */
static enum flood_mode flood_pick(struct flood *f)
{
	uint64_t r;

	if (f->mode != FLOOD_MIXED)
		return f->mode;
	r = rng_next(&f->rng) % 10;
	return r < 6 ? FLOOD_FORGED : r < 9 ? FLOOD_GARBAGE : FLOOD_OVERSIZE;
}

static void flood_fill(struct flood *f, size_t i)
{
	struct iovec *v = &f->b.iov[i];

	switch (flood_pick(f)) {
	case FLOOD_FORGED:
		v->iov_base = f->b.bufs[i];
		v->iov_len = forge_line(f, f->b.bufs[i]);
		break;
	case FLOOD_GARBAGE:
		v->iov_base = f->b.bufs[i];
		v->iov_len = garbage(f, (uint8_t *)f->b.bufs[i]);
		break;
	default:
		v->iov_base = f->pool;
		v->iov_len = (f->flip++ & 1) ? OVERSIZE_BIG : OVERSIZE_SMALL;
		break;
	}
}

static void flood_init(struct flood *f, const struct opts *o)
{
	memset(f, 0, sizeof(*f));
	f->mode = o->flood.mode;
	f->name = o->flood.name;
	randombytes_buf(&f->rng.s, sizeof(f->rng.s));
	f->pool = xmalloc(OVERSIZE_BIG);
	randombytes_buf(f->pool, OVERSIZE_BIG);
	batch_init(&f->b, &o->dest);
}

/* Batches of about a millisecond's worth, each sent when it is due. */
static double flood_loop(struct flood *f, uint64_t total, uint64_t rate)
{
	size_t batch = rate / 1000;
	uint64_t start = mono_ns(), done;

	if (batch < 1)
		batch = 1;
	if (batch > FLOOD_BATCH)
		batch = FLOOD_BATCH;
	while ((done = f->b.sent + f->b.errors) < total && !stop_flag) {
		size_t n = total - done < batch ? (size_t)(total - done) : batch;

		sleep_until_ns(start + (uint64_t)((double)done * 1e9 / (double)rate));
		f->now_s = now_real_s();
		for (size_t i = 0; i < n; i++)
			flood_fill(f, i);
		batch_send(&f->b, n);
	}
	/* the last batch stands for the last millisecond: the run ends when that is over */
	sleep_until_ns(start + (uint64_t)((double)total * 1e9 / (double)rate));
	return (double)(mono_ns() - start) / 1e9;
}

static int run_flood(struct opts *o)
{
	static struct flood f;
	uint64_t total = o->flood.rate * o->flood.seconds;
	double took;

	flood_init(&f, o);
	took = flood_loop(&f, total, o->flood.rate);
	printf("flood: %s: sent %llu datagrams in %.3f s = %.0f/s (asked %llu/s for %llu s), "
	       "%llu refused by the kernel%s\n",
	       flood_mode_names[o->flood.mode], (unsigned long long)f.b.sent, took,
	       took > 0 ? (double)f.b.sent / took : 0.0, (unsigned long long)o->flood.rate,
	       (unsigned long long)o->flood.seconds, (unsigned long long)f.b.errors,
	       stop_flag ? " (interrupted)" : "");
	batch_free(&f.b);
	free(f.pool);
	return fflush(stdout) == EOF ? 1 : 0;
}

/* ---- members ---- */

/*
 * M members PREFIX-1..PREFIX-M, each saying alive once an interval.  Line k
 * of the run belongs to member k % M, with counter k / M + 1, and is due at
 * start + k * interval / M: the members' slots are spread evenly over the
 * interval, as M independent daemons would be.
 */
struct players {
	struct batch b;
	const struct keyring_key *key;
	const struct members_opts *mo;
	uint64_t incarnation; /* member i uses incarnation + i */
	uint64_t interval_ns;
};

static size_t player_line(const struct players *p, uint64_t i, uint64_t counter,
                          enum wire_verb verb, uint64_t ts, char *out)
{
	char name[WIRE_NAME_MAX + 1], body[WIRE_NAME_MAX + 32];
	int blen, n;

	if (xsnprintf(name, sizeof(name), "%s-%llu", p->mo->prefix, (unsigned long long)(i + 1)) < 0)
		fatalx("member name %s-%llu is too long", p->mo->prefix, (unsigned long long)(i + 1));
	if (verb == WIRE_ALIVE)
		blen = xsnprintf(body, sizeof(body), "alive %s %llu", name, (unsigned long long)ts);
	else
		blen = xsnprintf(body, sizeof(body), "%s %s", wire_verb_name(verb), name);
	n = wire_sign(p->key, ts, name, body, (size_t)blen, p->incarnation + i, counter, out,
	              WIRE_MAX_DATAGRAM + 1);
	if (n < 0)
		fatalx("cannot sign a line for %s", name);
	return (size_t)n;
}

/* When line k is due; split so that no product overflows 64 bits. */
static uint64_t players_due(const struct players *p, uint64_t k)
{
	uint64_t m = p->mo->count;

	return (k / m) * p->interval_ns + (k % m) * p->interval_ns / m;
}

/* How many lines are due by elapsed (ns since the start). */
static uint64_t players_due_count(const struct players *p, uint64_t elapsed)
{
	uint64_t m = p->mo->count;

	return (elapsed / p->interval_ns) * m + (elapsed % p->interval_ns) * m / p->interval_ns + 1;
}

/* Sends lines 0..total-1 (total 0: until a signal); returns how many went. */
static uint64_t players_loop(struct players *p, uint64_t total)
{
	uint64_t start = mono_ns(), done = 0, m = p->mo->count;

	while ((total == 0 || done < total) && !stop_flag) {
		uint64_t n, now_s;

		sleep_until_ns(start + players_due(p, done));
		if (stop_flag)
			break;
		n = players_due_count(p, mono_ns() - start) - done;
		if (n > FLOOD_BATCH)
			n = FLOOD_BATCH;
		if (total && n > total - done)
			n = total - done;
		now_s = now_real_s();
		for (uint64_t j = 0; j < n; j++) {
			uint64_t k = done + j;
			enum wire_verb verb = p->mo->join && k < m ? WIRE_CJOIN : WIRE_ALIVE;

			p->b.iov[j].iov_base = p->b.bufs[j];
			p->b.iov[j].iov_len = player_line(p, k % m, k / m + 1, verb, now_s, p->b.bufs[j]);
		}
		batch_send(&p->b, (size_t)n);
		done += n;
	}
	return done;
}

/* Every member says leave, with the counter after its last line; a batch a millisecond. */
static void players_leave(struct players *p, uint64_t done)
{
	uint64_t m = p->mo->count, now_s = now_real_s(), next = mono_ns();

	for (uint64_t i = 0; i < m;) {
		size_t n = 0;

		for (; n < FLOOD_BATCH && i < m; n++, i++) {
			uint64_t sent_by_i = done / m + (i < done % m ? 1 : 0);

			p->b.iov[n].iov_base = p->b.bufs[n];
			p->b.iov[n].iov_len = player_line(p, i, sent_by_i + 1, WIRE_LEAVE, now_s,
			                                  p->b.bufs[n]);
		}
		batch_send(&p->b, n);
		next += 1000000ULL;
		/* the signal that ended the run must not cut the goodbyes short */
		sleep_until_ns_always(next);
	}
}

static int run_members(struct opts *o)
{
	static struct players p;
	const struct members_opts *mo = &o->members;
	struct keyring *kr = load_keyring(o->send.keyring);
	uint64_t rounds = (mo->seconds * 1000 + mo->interval_ms - 1) / mo->interval_ms;
	uint64_t start = mono_ns(), done, refused;
	double took;

	p.key = pick_key(kr, &o->send);
	p.mo = mo;
	p.incarnation = now_real_us();
	p.interval_ns = mo->interval_ms * 1000000ULL;
	batch_init(&p.b, &o->dest);
	done = players_loop(&p, rounds * mo->count);
	took = (double)(mono_ns() - start) / 1e9;
	refused = p.b.errors;
	if (mo->leave)
		players_leave(&p, done);
	printf("members: %llu members %s-1..%s-%llu, one line each per %llu ms: sent %llu lines in "
	       "%.3f s = %.0f/s (asked %.0f/s), %llu refused by the kernel%s%s\n",
	       (unsigned long long)mo->count, mo->prefix, mo->prefix,
	       (unsigned long long)mo->count, (unsigned long long)mo->interval_ms,
	       (unsigned long long)(done - refused), took,
	       took > 0 ? (double)(done - refused) / took : 0.0,
	       (double)mo->count * 1000.0 / (double)mo->interval_ms, (unsigned long long)refused,
	       mo->leave ? ", then one leave each" : "", stop_flag ? " (interrupted)" : "");
	batch_free(&p.b);
	keyring_free(kr);
	return fflush(stdout) == EOF ? 1 : 0;
}

/* ---- record ---- */

struct record {
	struct net net;
	FILE *out;
	const char *path;
	uint64_t lines, skipped;
	uint8_t buf[RECORD_BUF];
};

static void record_open(struct record *r, const struct opts *o)
{
	struct cmem_config c;
	char err[CONFIG_ERRLEN];

	config_defaults(&c);
	if (xsnprintf(c.group, sizeof(c.group), "%s", o->dest.group) < 0 ||
	    xsnprintf(c.interface, sizeof(c.interface), "%s", o->dest.iface ? o->dest.iface : "") < 0)
		usage_error("--group or --interface is too long");
	c.port = o->dest.port;
	c.ttl = o->dest.ttl;
	if (net_open(&r->net, &c, err, sizeof(err)) == -1)
		fatalx("%s", err);
	r->path = o->file;
	r->out = strcmp(o->file, "-") == 0 ? stdout : fopen(o->file, "w");
	if (r->out == NULL)
		fatal("cannot create %s", o->file);
}

/* Read everything queued; keep datagrams that are one line ending in LF. */
static void record_drain(struct record *r)
{
	struct member_addr src;
	ssize_t len;

	while ((len = net_recv(&r->net, r->buf, sizeof(r->buf), &src)) >= 0) {
		size_t n = (size_t)len;

		if (n == 0 || n > sizeof(r->buf) || r->buf[n - 1] != '\n' ||
		    memchr(r->buf, '\n', n - 1) != NULL) {
			r->skipped++;
			continue;
		}
		if (fwrite(r->buf, 1, n, r->out) != n)
			fatal("writing %s", r->path);
		r->lines++;
	}
	if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		fatal("receiving from %s", r->net.ifname[0] ? r->net.ifname : "the group");
}

static void record_loop(struct record *r, uint64_t ms)
{
	uint64_t end = now_mono_ms() + ms, now;

	while (!stop_flag && (now = now_mono_ms()) < end) {
		struct pollfd p = { .fd = r->net.fd, .events = POLLIN };
		uint64_t left = end - now;
		int n = poll(&p, 1, (int)(left < 1000 ? left : 1000));

		if (n == -1 && errno != EINTR)
			fatal("poll");
		if (n > 0)
			record_drain(r);
	}
}

static int run_record(struct opts *o)
{
	static struct record r;
	int to_stdout = strcmp(o->file, "-") == 0;

	record_open(&r, o);
	record_loop(&r, o->seconds * 1000);
	net_close(&r.net);
	if (to_stdout ? fflush(r.out) == EOF : fclose(r.out) == EOF)
		fatal("writing %s", o->file);
	fprintf(to_stdout ? stderr : stdout,
	        "record: %llu lines written to %s, %llu datagrams skipped (not one line)%s\n",
	        (unsigned long long)r.lines, o->file, (unsigned long long)r.skipped,
	        stop_flag ? " (interrupted)" : "");
	return 0;
}

/* ---- replay ---- */

/* Is the token at p (up to end, ended by space, '|', ']' or LF) equal to want? */
static int token_is(const char *p, const char *end, const char *want)
{
	size_t n = 0, wl = strlen(want);

	while (p + n < end && !strchr(" |]\n", p[n]))
		n++;
	return n == wl && memcmp(p, want, n) == 0;
}

/* "TS: [SENDER] VERB ...": does the line match the filters? */
static int replay_match(const struct opts *o, const char *line, size_t len)
{
	const char *end = line + len, *p, *q;

	if (o->filter_name == NULL && o->filter_verb == NULL)
		return 1;
	p = memmem(line, len, ": [", 3);
	if (p == NULL)
		return 0;
	p += 3;
	q = memchr(p, ']', (size_t)(end - p));
	if (q == NULL || q + 1 >= end || q[1] != ' ')
		return 0;
	if (o->filter_name && !token_is(p, q + 1, o->filter_name))
		return 0;
	return o->filter_verb == NULL || token_is(q + 2, end, o->filter_verb);
}

static int run_replay(struct opts *o)
{
	int from_stdin = strcmp(o->file, "-") == 0;
	FILE *in = from_stdin ? stdin : fopen(o->file, "r");
	struct sender snd;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	uint64_t total = 0, sent = 0, start = mono_ns();

	if (in == NULL)
		fatal("cannot open %s", o->file);
	sender_open(&snd, &o->dest);
	while (!stop_flag && (len = getline(&line, &cap, in)) > 0) {
		total++;
		if (!replay_match(o, line, (size_t)len))
			continue;
		if (sent > 0 && o->interval_ms > 0)
			sleep_until_ns(start + sent * o->interval_ms * 1000000ULL);
		if (stop_flag)
			break;
		sender_send(&snd, &o->dest, line, (size_t)len);
		sent++;
	}
	if (ferror(in))
		fatal("reading %s", o->file);
	printf("replay: sent %llu of %llu lines from %s (%llu filtered out)%s\n",
	       (unsigned long long)sent, (unsigned long long)total, o->file,
	       (unsigned long long)(total - sent), stop_flag ? " (interrupted)" : "");
	free(line);
	close(snd.fd);
	if (!from_stdin)
		fclose(in);
	return fflush(stdout) == EOF ? 1 : 0;
}

/* ---- main ---- */

struct command {
	const char *name;
	const struct option *longopts;
	const char *shortopts; /* leading ':' makes getopt report a missing value as ':' */
	void (*set)(struct opts *o, int c, const char *arg);
	void (*check)(struct opts *o);
	int (*run)(struct opts *o);
};

static const struct command commands[] = {
	{ "send", send_long, ":h", set_send, check_send, run_send },
	{ "flood", flood_long, ":h", set_flood, check_flood, run_flood },
	{ "members", members_long, ":h", set_members, check_members, run_members },
	{ "record", record_long, ":ho:", set_record, check_record, run_record },
	{ "replay", replay_long, ":hi:", set_replay, check_replay, run_replay },
};

static void opts_defaults(struct opts *o)
{
	memset(o, 0, sizeof(*o));
	o->dest.port = 51510;
	o->dest.ttl = INJECT_MAX_TTL;
	o->send.count = 1;
	o->send.counter = 1;
	o->flood.mode = FLOOD_FORGED;
	o->members.prefix = "m";
	o->members.interval_ms = 1000;
}

/* argv[0] is the command name; options follow. */
static void parse_args(const struct command *cmd, struct opts *o, int argc, char **argv)
{
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, cmd->shortopts, cmd->longopts, NULL)) != -1) {
		if (c == 'h') {
			fputs(usage_text, stdout);
			exit(0);
		}
		if (c == '?' && optopt)
			usage_error("%s: unknown option '-%c'", cmd->name, optopt);
		if (c == '?')
			usage_error("%s: unknown option '%s'", cmd->name, argv[optind - 1]);
		if (c == ':')
			usage_error("%s: option '%s' needs a value", cmd->name, argv[optind - 1]);
		if (!set_dest(&o->dest, c, optarg))
			cmd->set(o, c, optarg);
	}
	if (optind < argc)
		usage_error("%s: unexpected argument '%s'", cmd->name, argv[optind]);
	cmd->check(o);
}

int main(int argc, char **argv)
{
	const struct command *cmd = NULL;
	struct opts o;

	log_init(PROG, LOG_LEVEL_INFO);
	if (argc < 2)
		usage_error("missing command: send, flood, members, record or replay");
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			cmd = &commands[i];
	if (cmd == NULL)
		usage_error("unknown command '%s': use send, flood, members, record or replay", argv[1]);
	opts_defaults(&o);
	parse_args(cmd, &o, argc - 1, argv + 1);
	if (sodium_init() < 0)
		fatalx("cannot initialise libsodium");
	install_signals();
	return cmd->run(&o);
}
