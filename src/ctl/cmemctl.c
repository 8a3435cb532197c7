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
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "config.h"
#include "ctlfmt.h"
#include "ctlproto.h"
#include "hook.h"
#include "keyring.h"
#include "log.h"
#include "util.h"
#include "version.h"

#define EXIT_DAEMON_ERROR CLIENT_ERROR
#define EXIT_USAGE 2
#define EXIT_UNREACHABLE CLIENT_UNREACHABLE

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: cmemctl [-s SOCKET] [-c FILE] [--json] COMMAND\n"
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
	        "                          (use and remove also rewrite the keyring file)\n"
	        "  reload                  send the configuration's log level and keyring (root)\n"
	        "options:\n"
	        "  -s, --socket SOCKET     control socket (default from the configuration)\n"
	        "  -c, --config FILE       cmemd's configuration (default %s)\n"
	        "  -j, --json              JSON output for programs\n"
	        "  -V, --version           print the version and exit\n"
	        "  -h, --help              this help\n",
	        CONFIG_DEFAULT_FILE);
}

enum cmd_kind { CMD_MEMBERS, CMD_STATUS, CMD_STATS, CMD_WATCH, CMD_SIMPLE, CMD_KEYS, CMD_RELOAD };

struct cmd {
	const char *name;
	int min_args, max_args; /* positional arguments after the command */
	enum cmd_kind kind;
};

static const struct cmd commands[] = {
	{ .name = "members", .kind = CMD_MEMBERS },
	{ .name = "status", .kind = CMD_STATUS },
	{ .name = "stats", .kind = CMD_STATS },
	{ .name = "watch", .kind = CMD_WATCH },
	{ .name = "loglevel", .min_args = 1, .max_args = 1, .kind = CMD_SIMPLE },
	{ .name = "keys", .min_args = 1, .max_args = 2, .kind = CMD_KEYS },
	{ .name = "reload", .kind = CMD_RELOAD },
};

typedef int (*write_fn)(FILE *f, json_t *reply);

/* The writer's slot for a command's reply; NULL if the format has none. */
static write_fn writer_slot(const struct ctlfmt_writer *w, enum cmd_kind kind, int prometheus)
{
	switch (kind) {
	case CMD_MEMBERS: return w->members;
	case CMD_STATUS: return w->status;
	case CMD_STATS: return prometheus ? w->metrics : w->stats;
	case CMD_WATCH: return w->event;
	case CMD_SIMPLE: return w->simple;
	case CMD_KEYS:
	case CMD_RELOAD: return w->keys;
	}
	return NULL;
}

struct ctl_opts {
	const char *socket, *exec, *config;
	const struct ctlfmt_writer *w;
	int prometheus;
	int follow;          /* watch: reconnect */
	const char *timeout; /* watch --exec: as given */
	uint64_t timeout_ms;
};

/* The configuration cmemctl reads: -c FILE, or the default if it exists. */
static const char *config_path(const struct ctl_opts *o)
{
	if (o->config)
		return o->config;
	return access(CONFIG_DEFAULT_FILE, F_OK) == 0 ? CONFIG_DEFAULT_FILE : NULL;
}

/* The whole configuration, as cmemd would read it; exits on a bad file. */
static void load_config(const char *path, struct cmem_config *c)
{
	char err[CONFIG_ERRLEN];

	config_defaults(c);
	if (config_load(c, path, err, sizeof(err)) == -1) {
		fprintf(stderr, "cmemctl: %s\n", err);
		exit(EXIT_DAEMON_ERROR);
	}
}

static const char *default_socket(const struct ctl_opts *o)
{
	static struct cmem_config c;
	const char *path = config_path(o);
	char err[CONFIG_ERRLEN];

	config_defaults(&c);
	if (path && access(path, R_OK) == 0)
		config_load(&c, path, err, sizeof(err));
	return c.control_socket;
}

static const struct cmd *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

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
		{ "config", required_argument, NULL, 'c' },  { "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },       { "follow", no_argument, NULL, 'F' },
		{ "timeout", required_argument, NULL, 'T' }, { NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "s:c:jVh", longopts, NULL)) != -1) {
		switch (ch) {
		case 's': o->socket = optarg; break;
		case 'c': o->config = optarg; break;
		case 'j': o->w = &ctlfmt_json; break;
		case 'p': o->prometheus = 1; break;
		case 'e': o->exec = optarg; break;
		case 'V': printf("cmemctl %s\n", CMEM_VERSION); exit(0);
		case 'F': o->follow = 1; break;
		case 'T': o->timeout = optarg; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	return 0;
}

/* The keyring FILE, read with our own privileges; exits with its error. */
static struct keyring *load_ring(const char *path)
{
	char err[KEYRING_ERRLEN];
	struct keyring *kr = keyring_load(path, err, sizeof(err));

	if (kr == NULL) {
		fprintf(stderr, "cmemctl: %s\n", err);
		exit(EXIT_DAEMON_ERROR);
	}
	return kr;
}

/* A ring as request keys: [{"id", "secret" (hex), "primary"}]. */
static json_t *ring_json(const struct keyring *kr)
{
	json_t *keys = json_array();

	for (size_t i = 0; i < kr->nkeys; i++) {
		char hex[2 * KEYRING_KEY_BYTES + 1];

		sodium_bin2hex(hex, sizeof(hex), kr->keys[i].secret, KEYRING_KEY_BYTES);
		json_array_append_new(keys, json_pack("{s:i, s:s, s:b}", "id", kr->keys[i].id, "secret",
		                                      hex, "primary", kr->keys[i].primary));
		sodium_memzero(hex, sizeof(hex));
	}
	return keys;
}

static json_t *keyring_keys(const char *path)
{
	struct keyring *kr = load_ring(path);
	json_t *keys = ring_json(kr);

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

/* reload: the file's reloadable options and its keyring (doc/CONTROL.md). */
static json_t *reload_request(json_t *req, const struct ctl_opts *o)
{
	const char *path = o->config ? o->config : CONFIG_DEFAULT_FILE;
	struct cmem_config c;

	load_config(path, &c);
	json_object_set_new(req, "file", json_string(path));
	json_object_set_new(req, "config", json_pack("{s:s}", "log_level",
	                                             log_level_name((enum log_level)c.log_level)));
	json_object_set_new(req, "keys", keyring_keys(c.keyring));
	return req;
}

static json_t *build_request(const struct cmd *c, int nargs, char **args, const struct ctl_opts *o)
{
	json_t *req = ctl_request(c->name);

	if (c->kind == CMD_SIMPLE && strcmp(c->name, "loglevel") == 0)
		json_object_set_new(req, "level", json_string(args[0]));
	if (c->kind == CMD_KEYS && keys_request(req, nargs, args) == -1) {
		json_decref(req);
		return NULL;
	}
	if (c->kind == CMD_RELOAD)
		reload_request(req, o);
	return req;
}

/* Does the request carry secrets (so that only root may receive it)? */
static int carries_keys(json_t *req)
{
	return json_object_get(req, "keys") != NULL;
}

/*
 * One exchange (client_ask): connect, (for secrets: check the listener is
 * root), send, read the reply, check its version and status.  Exits on
 * any failure, with the client's status: 1 the daemon said no or sent
 * garbage, 3 it cannot be reached or did not answer in time.
 */
static json_t *ask(const char *path, json_t *req)
{
	struct client c;
	json_t *reply;
	enum client_status st;

	client_init(&c, path, CLIENT_TIMEOUT_MS, &clock_system);
	st = client_ask(&c, req, carries_keys(req) ? CLIENT_TO_ROOT : 0, &reply);
	if (st != CLIENT_OK) {
		fprintf(stderr, "cmemctl: %s%s\n", c.err, client_hint(&c));
		exit(st);
	}
	client_fini(&c);
	return reply;
}

/* stats --prometheus: counters and gauges from three replies. */
static json_t *ask_metrics(const char *path)
{
	json_t *all = json_object();

	for (const char *const *cmd = (const char *const[]){ "stats", "status", "members", NULL };
	     *cmd; cmd++) {
		json_t *req = ctl_request(*cmd);

		json_object_set_new(all, *cmd, ask(path, req));
		json_decref(req);
	}
	return all;
}

/*
 * keys use | remove also change the keyring file, so that a restarted
 * daemon signs as the running one does.  Checked with the caller's
 * privileges before the daemon is asked; written once it agreed.
 */
struct ring_file {
	char path[CONFIG_PATH_MAX];
	struct keyring *kr; /* the file's ring, the change applied; NULL: no file to follow */
};

static void ring_file_prepare(struct ring_file *rf, const struct ctl_opts *o, const char *action,
                              uint16_t id)
{
	const char *cfg = config_path(o);
	struct cmem_config c;
	int rc;

	rf->kr = NULL;
	if (geteuid() != 0)
		return; /* the daemon refuses it (root only): its message says why */
	if (cfg == NULL) {
		fprintf(stderr, "cmemctl: no configuration at %s (-c names one): only the running "
		        "daemon changes, not its keyring file\n", CONFIG_DEFAULT_FILE);
		return;
	}
	load_config(cfg, &c);
	snprintf(rf->path, sizeof(rf->path), "%s", c.keyring);
	rf->kr = load_ring(rf->path);
	if (keyring_find(rf->kr, id) == NULL) {
		fprintf(stderr, "cmemctl: key %u is not in %s (the keyring named by %s): install a "
		        "keyring that holds it first\n", id, rf->path, cfg);
		exit(EXIT_DAEMON_ERROR);
	}
	rc = strcmp(action, "use") == 0 ? keyring_set_primary(rf->kr, id) : keyring_remove(rf->kr, id);
	if (rc == -1) {
		fprintf(stderr, "cmemctl: key %u is the primary in %s: make another key primary first "
		        "(keys use)\n", id, rf->path);
		exit(EXIT_DAEMON_ERROR);
	}
}

static int ring_file_commit(struct ring_file *rf, const char *action, uint16_t id)
{
	char err[KEYRING_ERRLEN];
	int rc;

	if (rf->kr == NULL)
		return 0;
	rc = keyring_save(rf->kr, rf->path, 1, err, sizeof(err));
	keyring_free(rf->kr);
	if (rc == -1) {
		fprintf(stderr, "cmemctl: the daemon did keys %s %u, but %s was not updated: %s; "
		        "fix it before cmemd restarts\n", action, id, rf->path, err);
		return -1;
	}
	return 0;
}

static int run_keys_change(const struct ctl_opts *o, json_t *req, json_t **reply)
{
	const char *action = json_string_value(json_object_get(req, "action"));
	uint16_t id = (uint16_t)json_integer_value(json_object_get(req, "id"));
	struct ring_file rf;

	ring_file_prepare(&rf, o, action, id);
	*reply = ask(o->socket, req);
	return ring_file_commit(&rf, action, id);
}

static int is_keys_change(const struct cmd *c, json_t *req)
{
	const char *action = json_string_value(json_object_get(req, "action"));

	return c->kind == CMD_KEYS && action && (!strcmp(action, "use") || !strcmp(action, "remove"));
}

/* watch without --exec: each event, and a resync as a members table. */
static int watch_print(void *arg, json_t *e)
{
	const struct ctlfmt_writer *w = arg;
	const char *ev = json_string_value(json_object_get(e, "event"));
	int rc;

	if (w == &ctlfmt_table && ev && strcmp(ev, "resync") == 0) {
		char reason[64];

		ctlfmt_escape(reason, sizeof(reason), json_string_value(json_object_get(e, "reason")) ?: "-");
		printf("resync (%s): the membership now\n", reason);
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
		.clk = &clock_system,
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

static int check_usage(const struct cmd *c, int nargs, struct ctl_opts *o)
{
	if (nargs < c->min_args || nargs > c->max_args)
		return usage_error("wrong number of arguments for ", c->name);
	if (o->prometheus && c->kind != CMD_STATS)
		return usage_error("--prometheus applies to 'stats' only", "");
	if (watch_opts(o, c) == -1)
		return -1;
	if (o->prometheus)
		o->w = &ctlfmt_prometheus;
	if (writer_slot(o->w, c->kind, o->prometheus) == NULL)
		return usage_error("this output format cannot show ", c->name);
	return 0;
}

static int show(const struct ctl_opts *o, const struct cmd *c, json_t *reply)
{
	int rc = writer_slot(o->w, c->kind, o->prometheus)(stdout, reply);

	json_decref(reply);
	if (rc == -1) {
		fprintf(stderr, "cmemctl: the reply from cmemd lacks the fields this command shows\n");
		return EXIT_DAEMON_ERROR;
	}
	return fflush(stdout) == 0 ? 0 : EXIT_DAEMON_ERROR;
}

int main(int argc, char **argv)
{
	struct ctl_opts o = { .w = &ctlfmt_table };
	const struct cmd *c;
	json_t *req, *reply;
	int nargs, failed = 0;

	signal(SIGPIPE, SIG_IGN);
	ctl_json_wipe_on_free(); /* requests may carry keys: jansson wipes what it frees */
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
	if (check_usage(c, nargs, &o) != 0)
		return EXIT_USAGE;
	if (o.socket == NULL)
		o.socket = default_socket(&o);
	if (strlen(o.socket) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		fprintf(stderr, "cmemctl: socket path too long: %s\n", o.socket);
		return EXIT_USAGE;
	}
	if (c->kind == CMD_STATS && o.prometheus)
		return show(&o, c, ask_metrics(o.socket));
	if (c->kind == CMD_WATCH)
		return do_watch(&o);
	req = build_request(c, nargs, argv + optind + 1, &o);
	if (req == NULL)
		return usage_error("usage: keys list | keys install FILE | keys use ID | keys remove ID", "");
	if (is_keys_change(c, req))
		failed = run_keys_change(&o, req, &reply) == -1;
	else
		reply = ask(o.socket, req);
	json_decref(req);
	return show(&o, c, reply) || failed ? EXIT_DAEMON_ERROR : 0;
}
