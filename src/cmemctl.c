/*
 * cmemctl: ask cmemd over its control socket (doc/CONTROL.md).
 * Data to stdout, diagnostics to stderr.  Exit: 0 ok, 1 the daemon
 * answered with an error, 2 usage error, 3 the daemon cannot be reached.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "ctl.h"
#include "ctlfmt.h"
#include "hook.h"
#include "keyring.h"
#include "util.h"

#define EXIT_DAEMON_ERROR 1
#define EXIT_USAGE 2
#define EXIT_UNREACHABLE 3

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: cmemctl [-s SOCKET] [--json] COMMAND\n"
	        "commands:\n"
	        "  members                 the members, this node included\n"
	        "  status                  this node, the cluster and the daemon's confinement\n"
	        "  stats [--prometheus]    counters: sent, accepted, dropped by reason, by key\n"
	        "  watch [--follow] [--exec PROGRAM [--timeout SECONDS]]\n"
	        "                          stream membership events as they happen, or run\n"
	        "                          PROGRAM for each (time limit 30 s); --follow\n"
	        "                          reconnects when cmemd restarts\n"
	        "  loglevel LEVEL          set the daemon's log level (root only)\n"
	        "  keys list               key ids, primary, fingerprints, lines and peers per key\n"
	        "  keys install FILE       send keyring FILE to the daemon, replacing its ring (root)\n"
	        "  keys use ID             sign with key ID from now on (root)\n"
	        "  keys remove ID          stop accepting key ID (root; not the primary)\n"
	        "options:\n"
	        "  -s, --socket SOCKET     control socket (default from %s)\n"
	        "  -j, --json              JSON output for programs\n"
	        "  -h, --help              this help\n",
	        CONFIG_DEFAULT_FILE);
}

static int connect_daemon(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "cmemctl: socket path too long: %s\n", path);
		exit(EXIT_USAGE);
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr,
		        "cmemctl: cannot reach cmemd at %s: %s\n"
		        "  is cmemd running (pgrep cmemd)? is this the socket named by "
		        "control_socket in its configuration? use -s to name another one; "
		        "reading it needs membership of the socket's group.\n",
		        path, strerror(errno));
		exit(EXIT_UNREACHABLE);
	}
	return fd;
}

static void send_request(int fd, json_t *req, const char *path)
{
	char *s = json_dumps(req, JSON_COMPACT);
	size_t len = strlen(s), off = 0;

	while (off < len + 1) {
		ssize_t w = off < len ? write(fd, s + off, len - off) : write(fd, "\n", 1);

		if (w <= 0) {
			fprintf(stderr, "cmemctl: cannot send to %s: %s\n", path, strerror(errno));
			exit(EXIT_UNREACHABLE);
		}
		off += (size_t)w;
	}
	free(s);
}

/* Read one JSON line; NULL at end of stream. */
static json_t *read_reply(FILE *in, const char *path)
{
	char *line = NULL;
	size_t cap = 0;
	json_error_t jerr;
	json_t *r;

	if (getline(&line, &cap, in) <= 0) {
		free(line);
		return NULL;
	}
	r = json_loads(line, 0, &jerr);
	free(line);
	if (r == NULL || !json_is_object(r)) {
		fprintf(stderr, "cmemctl: garbled reply from %s: %s\n", path,
		        r == NULL ? jerr.text : "not a JSON object");
		exit(EXIT_DAEMON_ERROR);
	}
	return r;
}

static int is_error(json_t *r)
{
	const char *st = json_string_value(json_object_get(r, "status"));

	if (st && strcmp(st, "ok") == 0)
		return 0;
	fprintf(stderr, "cmemctl: cmemd: %s\n",
	        json_string_value(json_object_get(r, "error")) ?: "error without a message");
	return 1;
}

enum cmd_kind { CMD_MEMBERS, CMD_STATUS, CMD_STATS, CMD_WATCH, CMD_SIMPLE, CMD_KEYS };

struct cmd {
	const char *name;
	int min_args, max_args; /* positional arguments after the command */
	enum cmd_kind kind;
};

static const struct cmd commands[] = {
	{ "members", 0, 0, CMD_MEMBERS },
	{ "status", 0, 0, CMD_STATUS },
	{ "stats", 0, 0, CMD_STATS },
	{ "watch", 0, 0, CMD_WATCH },
	{ "loglevel", 1, 1, CMD_SIMPLE },
	{ "keys", 1, 2, CMD_KEYS },
};

static int write_reply(const struct ctlfmt_writer *w, enum cmd_kind kind, json_t *r)
{
	switch (kind) {
	case CMD_MEMBERS: return w->members(stdout, r);
	case CMD_STATUS: return w->status(stdout, r);
	case CMD_STATS: return w->stats(stdout, r);
	case CMD_WATCH: return w->event(stdout, r);
	case CMD_SIMPLE: return w->simple(stdout, r);
	case CMD_KEYS: return w->keys(stdout, r);
	}
	return -1;
}

static const char *default_socket(void)
{
	static struct cmem_config c;
	char err[CONFIG_ERRLEN];

	config_defaults(&c);
	if (access(CONFIG_DEFAULT_FILE, R_OK) == 0)
		config_load(&c, CONFIG_DEFAULT_FILE, err, sizeof(err));
	return c.control_socket;
}

static const struct cmd *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

struct ctl_opts {
	const char *socket, *exec;
	const struct ctlfmt_writer *w;
	int prometheus;
	int follow;          /* watch: reconnect */
	const char *timeout; /* watch --exec: as given */
	uint64_t timeout_ms;
};

static int usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, "cmemctl: %s%s\n", msg, arg);
	usage(stderr);
	return EXIT_USAGE;
}

/* Options may come before or after the command. */
static int parse_opts(int argc, char **argv, struct ctl_opts *o)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },  { "json", no_argument, NULL, 'j' },
		{ "prometheus", no_argument, NULL, 'p' },    { "exec", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },          { "follow", no_argument, NULL, 'F' },
		{ "timeout", required_argument, NULL, 'T' }, { NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "s:jh", longopts, NULL)) != -1) {
		switch (ch) {
		case 's': o->socket = optarg; break;
		case 'j': o->w = &ctlfmt_json; break;
		case 'p': o->prometheus = 1; break;
		case 'e': o->exec = optarg; break;
		case 'F': o->follow = 1; break;
		case 'T': o->timeout = optarg; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	return 0;
}

/* The keyring FILE, read with our own privileges, as request keys. */
static json_t *keyring_keys(const char *path)
{
	char err[KEYRING_ERRLEN];
	struct keyring *kr = keyring_load(path, err, sizeof(err));
	json_t *keys = json_array();

	if (kr == NULL) {
		fprintf(stderr, "cmemctl: %s\n", err);
		exit(EXIT_DAEMON_ERROR);
	}
	for (size_t i = 0; i < kr->nkeys; i++) {
		char hex[2 * KEYRING_KEY_BYTES + 1];

		sodium_bin2hex(hex, sizeof(hex), kr->keys[i].secret, KEYRING_KEY_BYTES);
		json_array_append_new(keys, json_pack("{s:i, s:s, s:b}", "id", kr->keys[i].id, "secret",
		                                      hex, "primary", kr->keys[i].primary));
		sodium_memzero(hex, sizeof(hex));
	}
	keyring_free(kr);
	return keys;
}

static int keys_request(json_t *req, int nargs, char **args)
{
	const char *action = args[0];
	char *end;
	long id;

	json_object_set_new(req, "action", json_string(action));
	if (strcmp(action, "list") == 0)
		return nargs == 1 ? 0 : -1;
	if (nargs != 2)
		return -1;
	if (strcmp(action, "install") == 0) {
		json_object_set_new(req, "keys", keyring_keys(args[1]));
		return 0;
	}
	if (strcmp(action, "use") && strcmp(action, "remove"))
		return -1;
	id = strtol(args[1], &end, 10);
	if (*end || end == args[1] || id < 1 || id > 65535)
		return -1;
	json_object_set_new(req, "id", json_integer(id));
	return 0;
}

static json_t *build_request(const struct cmd *c, int nargs, char **args)
{
	json_t *req = json_pack("{s:i, s:s}", "version", CTL_VERSION, "command", c->name);

	if (c->kind == CMD_SIMPLE && strcmp(c->name, "loglevel") == 0)
		json_object_set_new(req, "level", json_string(args[0]));
	if (c->kind == CMD_KEYS && keys_request(req, nargs, args) == -1) {
		json_decref(req);
		return NULL;
	}
	return req;
}

/* watch without --exec: each event, and a resync as a members table. */
static int watch_print(void *arg, json_t *e)
{
	const struct ctlfmt_writer *w = arg;
	const char *ev = json_string_value(json_object_get(e, "event"));
	int rc;

	if (w == &ctlfmt_table && ev && strcmp(ev, "resync") == 0) {
		printf("resync (%s): the membership now\n",
		       json_string_value(json_object_get(e, "reason")) ?: "-");
		rc = w->members(stdout, e);
	} else {
		rc = w->event(stdout, e);
	}
	fflush(stdout);
	return rc;
}

static int do_watch(const struct ctl_opts *o)
{
	struct hook_opts h = {
		.socket = o->socket,
		.exec = o->exec,
		.follow = o->follow,
		.banner = o->w == &ctlfmt_table && !o->exec,
		.timeout_ms = o->timeout_ms,
		.grace_ms = HOOK_GRACE_MS,
		.queue_max = HOOK_QUEUE_MAX,
		.print = watch_print,
		.print_arg = (void *)o->w,
		.err = stderr,
		.now_ms = now_mono_ms,
	};
	int signo = 0;

	switch (hook_watch(&h, &signo)) {
	case HOOK_END_CLOSED:
	case HOOK_END_UNREACHABLE: return EXIT_UNREACHABLE;
	case HOOK_END_ERROR: return EXIT_DAEMON_ERROR;
	case HOOK_END_SIGNAL: break;
	}
	/* die of the signal, as a shell or systemd expects */
	fflush(stdout);
	signal(signo, SIG_DFL);
	raise(signo);
	return EXIT_DAEMON_ERROR;
}

/* --exec, --follow and --timeout: watch's alone, and sound. */
static int watch_opts(struct ctl_opts *o, const struct cmd *c)
{
	char *end;
	double t;

	if (c->kind != CMD_WATCH && (o->exec || o->follow || o->timeout)) {
		usage_error(o->exec ? "--exec applies to 'watch' only"
		            : o->follow ? "--follow applies to 'watch' only"
		                        : "--timeout applies to 'watch' only", "");
		return -1;
	}
	if (o->timeout && !o->exec) {
		usage_error("--timeout limits the --exec handler: give --exec too", "");
		return -1;
	}
	/* a plain path is checked now rather than failing with 127 at every event */
	if (o->exec && strchr(o->exec, '/') && !strpbrk(o->exec, " \t\n;&|<>()$`\\\"'*?[#~") &&
	    access(o->exec, X_OK) == -1) {
		fprintf(stderr, "cmemctl: --exec %s: %s\n", o->exec, strerror(errno));
		return -1;
	}
	o->timeout_ms = HOOK_TIMEOUT_MS;
	if (o->timeout == NULL)
		return 0;
	errno = 0;
	t = strtod(o->timeout, &end);
	if (errno || end == o->timeout || *end || !(t >= 0.001 && t <= 86400)) {
		usage_error("--timeout wants seconds from 0.001 to 86400, not ", o->timeout);
		return -1;
	}
	o->timeout_ms = (uint64_t)(t * 1000 + 0.5);
	return 0;
}

int main(int argc, char **argv)
{
	struct ctl_opts o = { .w = &ctlfmt_table };
	const struct cmd *c;
	json_t *req, *reply;
	FILE *in;
	int fd, rc, nargs;

	signal(SIGPIPE, SIG_IGN);
	ctl_json_wipe_on_free();
	if (sodium_init() < 0) {
		fprintf(stderr, "cmemctl: cannot initialize libsodium\n");
		return EXIT_DAEMON_ERROR;
	}
	if (parse_opts(argc, argv, &o) == -1)
		return EXIT_USAGE;
	if (optind >= argc)
		return usage_error("no command given", "");
	if ((c = find_command(argv[optind])) == NULL)
		return usage_error("unknown command: ", argv[optind]);
	nargs = argc - optind - 1;
	if (nargs < c->min_args || nargs > c->max_args)
		return usage_error("wrong number of arguments for ", c->name);
	if (o.prometheus && c->kind != CMD_STATS)
		return usage_error("--prometheus applies to 'stats' only", "");
	if (watch_opts(&o, c) == -1)
		return EXIT_USAGE;
	if (o.prometheus)
		o.w = &ctlfmt_prometheus;
	if (o.socket == NULL)
		o.socket = default_socket();
	if (c->kind == CMD_WATCH)
		return do_watch(&o);
	req = build_request(c, nargs, argv + optind + 1);
	if (req == NULL)
		return usage_error("usage: keys list | keys install FILE | keys use ID | keys remove ID", "");
	fd = connect_daemon(o.socket);
	send_request(fd, req, o.socket);
	json_decref(req);
	in = fdopen(fd, "r");
	reply = in ? read_reply(in, o.socket) : NULL;
	if (reply == NULL) {
		fprintf(stderr, "cmemctl: cmemd at %s closed the connection without answering\n",
		        o.socket);
		return EXIT_UNREACHABLE;
	}
	if (is_error(reply))
		return EXIT_DAEMON_ERROR;
	rc = write_reply(o.w, c->kind, reply);
	json_decref(reply);
	if (rc == -1) {
		fprintf(stderr, "cmemctl: the reply from cmemd lacks the fields this command shows\n");
		return EXIT_DAEMON_ERROR;
	}
	return fflush(stdout) == 0 ? 0 : EXIT_DAEMON_ERROR;
}
