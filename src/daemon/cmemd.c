/*
 * cmemd: the cmem membership daemon.  main() is the start-up, linear and
 * in the order of STYLE.md: everything that needs root happens first, in
 * the open, then the daemon chroots, drops to its user for good and runs
 * the poll loop (src/daemon/daemon.c).
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "daemon_state.h"
#include "log.h"
#include "notify.h"
#include "priv.h"
#include "sandbox.h"
#include "util.h"
#include "version.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: cmemd [-f] [-s] [-d] [-n] [-c FILE] [-V] [-h]\n"
	           "  -f       stay in the foreground, log to stderr\n"
	           "  -s       log to syslog only, also with -f\n"
	           "  -d       debug logging\n"
	           "  -n       check the configuration and exit\n"
	           "  -c FILE  configuration file (default %s)\n"
	           "  -V       print the version and exit\n"
	           "  -h       this help\n",
	           CONFIG_DEFAULT_FILE);
}

struct options {
	int foreground, syslog_only, debug, check_only;
	const char *config;
};

static void parse_args(int argc, char **argv, struct options *o)
{
	int ch;

	o->config = CONFIG_DEFAULT_FILE;
	while ((ch = getopt(argc, argv, "fsdnc:Vh")) != -1) {
		switch (ch) {
		case 'f': o->foreground = 1; break;
		case 's': o->syslog_only = 1; break;
		case 'd': o->debug = 1; break;
		case 'n': o->check_only = 1; break;
		case 'c': o->config = optarg; break;
		case 'V': printf("cmemd %s\n", CMEM_VERSION); exit(0);
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "cmemd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		exit(2);
	}
}

static int signal_fd(void)
{
	sigset_t set;
	int fd;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		fatal("sigprocmask");
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd == -1)
		fatal("signalfd");
	return fd;
}

/*
 * What -n can check besides the file: the run-as user (not uid or gid 0),
 * the chroot (required as root, and safe), the control group.  The chroot
 * is checked again just before chroot().
 */
static void check_start(const struct options *o, const struct cmem_config *c, int as_root,
                        struct priv_user *u)
{
	char err[PRIV_ERRLEN];
	gid_t gid;

	if (as_root && priv_lookup_user(c->user, u, err, sizeof(err)) == -1)
		fatalx("%s: %s", o->config, err);
	if (as_root && c->chroot[0] == '\0')
		fatalx("%s: chroot = \"\" is only for a daemon started as an ordinary user; "
		       "started as root, cmemd must chroot (e.g. chroot = \"/var/lib/cmem\")",
		       o->config);
	if (as_root && priv_check_chroot(c->chroot, err, sizeof(err)) == -1)
		fatalx("%s", err);
	if (c->control_group[0] && priv_lookup_group(c->control_group, &gid) == -1)
		fatalx("%s: control_group '%s' does not exist in /etc/group", o->config,
		       c->control_group);
}

/* chroot and drop to the run-as user; as an ordinary user, only harden. */
static void confine(struct daemon *d, int as_root, const struct priv_user *u)
{
	char err[PRIV_ERRLEN];

	if (!as_root) {
		if (priv_harden(err, sizeof(err)) == -1)
			fatalx("%s", err);
		log_info("not started as root: running as uid %u without chroot or user change",
		         (unsigned)getuid());
		return;
	}
	if (priv_check_chroot(d->cfg.chroot, err, sizeof(err)) == -1)
		fatalx("%s", err);
	if (priv_drop(d->cfg.chroot, u, err, sizeof(err)) == -1)
		fatalx("%s", err);
	d->chrooted = 1;
	snprintf(d->chroot_dir, sizeof(d->chroot_dir), "%s", d->cfg.chroot);
	log_info("running as %s (uid %u, gid %u), chrooted to %s", u->name, (unsigned)u->uid,
	         (unsigned)u->gid, d->cfg.chroot);
}

/* The system call allow-list, unless turned off for debugging. */
static void sandbox(const struct daemon *d)
{
	char err[SANDBOX_ERRLEN];

	if (!d->cfg.seccomp) {
		log_warnx("seccomp = false: running without a system call filter");
		return;
	}
	switch (sandbox_scope(err, sizeof(err))) {
	case -1: fatalx("%s", err);
	case 1: log_warnx("%s", err); break;
	default: break;
	}
	if (sandbox_install(err, sizeof(err)) == -1)
		fatalx("%s", err);
}

/*
 * The pidfile lock (the fd, or -1 without a pidfile), then the control
 * socket; their directory may not exist yet on a fresh /run.
 */
static int lock_and_listen(struct daemon *d)
{
	char err[CONFIG_ERRLEN];
	int pidfd = -1;

	if (d->cfg.pidfile[0] &&
	    (priv_make_rundir(d->cfg.pidfile, err, sizeof(err)) == -1 ||
	     (pidfd = priv_pidfile_lock(d->cfg.pidfile, err, sizeof(err))) == -1))
		fatalx("%s", err);
	if (priv_make_rundir(d->cfg.control_socket, err, sizeof(err)) == -1)
		fatalx("%s", err);
	d->ctl = ctl_open(d->cfg.control_socket, d->cfg.control_group, daemon_ctl_handle, d, err,
	                  sizeof(err));
	if (d->ctl == NULL)
		fatalx("%s", err);
	return pidfd;
}

/* Service manager: connect now, while the socket's path is reachable. */
static void notify_connect(struct daemon *d)
{
	char err[PRIV_ERRLEN];

	if (notify_open(&d->notify, err, sizeof(err)) == -1)
		log_warnx("%s: the service manager will not hear from cmemd", err);
}

/* Step 1: close what was inherited, parse the arguments, log to stderr. */
static void begin(int argc, char **argv, struct options *o)
{
	char err[PRIV_ERRLEN];

	log_init("cmemd", LOG_LEVEL_INFO);
	if (priv_close_inherited(err, sizeof(err)) == -1)
		fatalx("%s", err);
	parse_args(argc, argv, o);
	ctl_json_wipe_on_free();
}

/* Step 2: the whole configuration file, or exit with its file:line: reason. */
static void load_config(struct daemon *d, const struct options *o)
{
	char err[CONFIG_ERRLEN];

	config_defaults(&d->cfg);
	if (config_load(&d->cfg, o->config, err, sizeof(err)) == -1)
		fatalx("%s", err);
	d->config_path = o->config;
	log_set_level(o->debug ? LOG_LEVEL_DEBUG : (enum log_level)d->cfg.log_level);
}

/* Step 8: daemonize (unless -f), write the pidfile, start the watchdog, block the signals. */
static void background(struct daemon *d, const struct options *o, int pidfd)
{
	char err[PRIV_ERRLEN];

	if (!o->foreground) {
		if (priv_daemonize(err, sizeof(err)) == -1)
			fatalx("%s", err);
		log_stderr_off(); /* stderr is /dev/null now */
	}
	if (pidfd != -1 && priv_pidfile_write(pidfd, d->cfg.pidfile, err, sizeof(err)) == -1)
		fatalx("%s", err);
	if (notify_start(&d->notify, getpid(), !o->foreground, clock_mono_ms(&clock_system)))
		log_info("service manager watchdog: WATCHDOG=1 every %llu ms",
		         (unsigned long long)d->notify.watchdog_ms);
	d->sigfd = signal_fd();
}

/* Step 10: the run-time state on the system clocks, then the loop. */
static int run(struct daemon *d)
{
	daemon_init(d, &clock_system); /* the incarnation: the wall clock now, in microseconds */
	log_info("%s joining %s%s%s port %u as incarnation %llu", d->cfg.name,
	         d->net.multicast ? d->cfg.group : "",
	         d->net.multicast && d->net.unicast ? " and " : "",
	         d->net.unicast ? "unicast peers" : "", (unsigned)d->cfg.port,
	         (unsigned long long)d->incarnation);
	priv_ready();
	return daemon_run(d);
}

int main(int argc, char **argv)
{
	static struct daemon d;
	struct options o = { 0 };
	struct priv_user user = { 0 };
	char err[CONFIG_ERRLEN];
	int as_root = geteuid() == 0, pidfd = -1;

	/* 1. nothing inherited but stdio; arguments; log to stderr until we know better */
	begin(argc, argv, &o);

	/* 2. the whole configuration, checked before anything else */
	load_config(&d, &o);

	/* 3. the run-as user, a first look at the chroot, the control group:
	 * -n and the terminal see a bad one */
	check_start(&o, &d.cfg, as_root, &user);
	if (o.check_only) {
		printf("configuration OK\n");
		return 0;
	}

	/* 4. crypto and keys, read with our start-up privileges */
	if (sodium_init() < 0)
		fatalx("cannot initialize libsodium");
	d.kr = keyring_load(d.cfg.keyring, err, sizeof(err));
	if (d.kr == NULL)
		fatalx("%s", err);

	/* 5. syslog, time zone, jansson's hash seed and the service manager's
	 * socket, while /dev/log, /etc, /dev/urandom and $NOTIFY_SOCKET are
	 * reachable (in the chroot jansson would seed from the time and pid) */
	if (!o.foreground || o.syslog_only)
		log_to_syslog(config_facility_parse(d.cfg.syslog_facility_name),
		              as_root ? d.cfg.chroot : NULL, NULL);
	if (o.syslog_only)
		log_stderr_off();
	tzset();
	json_object_seed(0);
	notify_connect(&d);

	/* 6. one daemon per pidfile; then the control socket */
	pidfd = lock_and_listen(&d);

	/* 7. the cluster socket: bound, the group joined (unless multicast = false),
	 * the seeds loaded; the rtnetlink socket that follows the interface */
	if (net_open(&d.net, &d.cfg, err, sizeof(err)) == -1)
		fatalx("%s", err);

	/* 8. background, pidfile (the kept descriptor is read-only), watchdog, signals */
	background(&d, &o, pidfd);

	/* 9. chroot and drop root for good; then only the system calls the loop needs */
	confine(&d, as_root, &user);
	sandbox(&d);

	/* 10. run */
	return run(&d);
}
