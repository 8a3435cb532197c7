/* Unit tests: configuration defaults, the sample file and every refusal. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "log.h"

#define SAMPLE "../conf/cmemd.conf"
#define NAME "test.conf"

static struct cmem_config cfg;
static char err[CONFIG_ERRLEN];

static int setup(void **state)
{
	(void)state;
	config_defaults(&cfg);
	memset(err, 0, sizeof(err));
	return 0;
}

static int load(const char *text)
{
	return config_load_string(&cfg, NAME, text, err, sizeof(err));
}

static void accepted(const char *text)
{
	if (load(text) != 0)
		fail_msg("refused %s: %s", text, err);
}

/* text is refused with a message that is exactly want. */
static void refused(const char *text, const char *want)
{
	if (load(text) != -1)
		fail_msg("accepted %s", text);
	assert_string_equal(err, want);
}

/* text is refused with a message that starts with prefix and contains part. */
static void refused_like(const char *text, const char *prefix, const char *part)
{
	if (load(text) != -1)
		fail_msg("accepted %s", text);
	if (strncmp(err, prefix, strlen(prefix)) != 0 || strstr(err, part) == NULL)
		fail_msg("message \"%s\" is not \"%s...%s...\"", err, prefix, part);
}

/* A private file with this text; the caller unlinks it. */
static void write_temp(char *path, size_t size, const char *text)
{
	int fd;

	snprintf(path, size, "%s/cmem-config.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(close(fd), 0);
}

static void test_defaults(void **state)
{
	char host[256] = "";

	(void)state;
	gethostname(host, sizeof(host) - 1);
	host[strcspn(host, ".")] = '\0';
	if (strlen(host) > 64 || host[strspn(host, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                                           "0123456789._-")] != '\0')
		host[0] = '\0'; /* not a valid name: left for config_load to refuse */
	assert_string_equal(cfg.name, host);
	assert_string_equal(cfg.group, "239.192.51.10");
	assert_int_equal(cfg.port, 51510);
	assert_string_equal(cfg.interface, "");
	assert_int_equal(cfg.ttl, 1);
	assert_string_equal(cfg.keyring, "/etc/cmem/cluster.keys");
	assert_string_equal(cfg.control_socket, "/run/cmem/cmemd.sock");
	assert_string_equal(cfg.control_group, "");
	assert_int_equal(cfg.heartbeat_ms, 50);
	assert_int_equal(cfg.heartbeat_fixed, 0);
	assert_int_equal(cfg.fail_after_ms, 750);
	assert_int_equal(cfg.replay_window_s, 30);
	assert_int_equal(cfg.max_members, 4096);
	assert_string_equal(cfg.user, "cmem");
	assert_string_equal(cfg.chroot, "/var/lib/cmem");
	assert_string_equal(cfg.pidfile, "/run/cmem/cmemd.pid");
	assert_int_equal(cfg.log_level, LOG_LEVEL_INFO);
	assert_int_equal(cfg.syslog_facility, LOG_DAEMON);
	assert_string_equal(cfg.syslog_facility_name, "daemon");
	assert_int_equal(cfg.seccomp, 1);
}

static void test_empty_file_keeps_defaults(void **state)
{
	struct cmem_config before = cfg;

	(void)state;
	accepted("# nothing but a comment\n");
	assert_memory_equal(&cfg, &before, sizeof(cfg));
}

/* The shipped sample loads, and as shipped it changes nothing. */
static void test_sample_file(void **state)
{
	struct cmem_config before = cfg;

	(void)state;
	if (config_load(&cfg, SAMPLE, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_memory_equal(&cfg, &before, sizeof(cfg));
}

static void test_every_option(void **state)
{
	(void)state;
	accepted("name = \"node-1.a_b\";\n"
	         "group = \"ff15::c3e3\";\n"
	         "port = 4000;\n"
	         "interface = \"eth0\";\n"
	         "ttl = 4;\n"
	         "keyring = \"/k/keys\";\n"
	         "control_socket = \"/s/sock\";\n"
	         "control_group = \"wheel\";\n"
	         "heartbeat_ms = 100;\n"
	         "heartbeat_fixed = true;\n"
	         "fail_after_ms = 200;\n"
	         "replay_window_s = 5;\n"
	         "max_members = 10;\n"
	         "user = \"nobody\";\n"
	         "chroot = \"\";\n"
	         "pidfile = \"\";\n"
	         "log_level = \"debug\";\n"
	         "syslog_facility = \"local3\";\n"
	         "seccomp = false;\n");
	assert_string_equal(cfg.name, "node-1.a_b");
	assert_string_equal(cfg.group, "ff15::c3e3");
	assert_int_equal(cfg.port, 4000);
	assert_string_equal(cfg.interface, "eth0");
	assert_int_equal(cfg.ttl, 4);
	assert_string_equal(cfg.keyring, "/k/keys");
	assert_string_equal(cfg.control_socket, "/s/sock");
	assert_string_equal(cfg.control_group, "wheel");
	assert_int_equal(cfg.heartbeat_ms, 100);
	assert_int_equal(cfg.heartbeat_fixed, 1);
	assert_int_equal(cfg.fail_after_ms, 200);
	assert_int_equal(cfg.replay_window_s, 5);
	assert_int_equal(cfg.max_members, 10);
	assert_string_equal(cfg.user, "nobody");
	assert_string_equal(cfg.chroot, "");
	assert_string_equal(cfg.pidfile, "");
	assert_int_equal(cfg.log_level, LOG_LEVEL_DEBUG);
	assert_int_equal(cfg.syslog_facility, LOG_LOCAL3);
	assert_string_equal(cfg.syslog_facility_name, "local3");
	assert_int_equal(cfg.seccomp, 0);
}

static void test_syntax_error(void **state)
{
	(void)state;
	refused_like("port = 1;\n\nttl = = 3;\n", NAME ":3: syntax error", "");
	refused("port = 1;\nport = 2;\n", NAME ":2: syntax error: duplicate setting name");
}

static void test_unknown_option(void **state)
{
	(void)state;
	refused("port = 1;\n# comment\nheartbeat = 50;\n", NAME ":3: unknown option 'heartbeat'");
	refused("Port = 1;\n", NAME ":1: unknown option 'Port'");
}

static void test_groups_and_lists_refused(void **state)
{
	(void)state;
	refused("net = { port = 1; };\n", NAME ":1: unknown option 'net'");
	refused("\nport = [ 1 ];\n", NAME ":2: 'port' must be an integer");
	refused("name = ( \"a\" );\n", NAME ":1: 'name' must be a string");
}

static void test_wrong_type(void **state)
{
	(void)state;
	refused("port = \"51510\";\n", NAME ":1: 'port' must be an integer");
	refused("ttl = 1.0;\n", NAME ":1: 'ttl' must be an integer");
	refused("max_members = true;\n", NAME ":1: 'max_members' must be an integer");
	refused("\n\nuser = 1000;\n", NAME ":3: 'user' must be a string");
	refused("log_level = false;\n", NAME ":1: 'log_level' must be a string");
}

static void test_int64_in_range(void **state)
{
	(void)state;
	accepted("port = 4000L;\nmax_members = 0x10;\n");
	assert_int_equal(cfg.port, 4000);
	assert_int_equal(cfg.max_members, 16);
	refused("port = 70000;\n", NAME ":1: 'port' must be between 1 and 65535, not 70000");
	refused("max_members = 4294967298L;\n",
	        NAME ":1: 'max_members' must be between 2 and 1000000, not 4294967298");
}

/* lo - 1 and hi + 1 refused with the bounds in the message; lo and hi taken. */
static void check_bounds(const char *opt, long long lo, long long hi, const char *extra)
{
	char text[256], want[CONFIG_ERRLEN];

	snprintf(text, sizeof(text), "%s%s = %lld;\n", extra, opt, lo - 1);
	snprintf(want, sizeof(want), NAME ":%d: '%s' must be between %lld and %lld, not %lld",
	         extra[0] ? 2 : 1, opt, lo, hi, lo - 1);
	refused(text, want);
	snprintf(text, sizeof(text), "%s%s = %lld;\n", extra, opt, hi + 1);
	snprintf(want, sizeof(want), NAME ":%d: '%s' must be between %lld and %lld, not %lld",
	         extra[0] ? 2 : 1, opt, lo, hi, hi + 1);
	refused(text, want);
	snprintf(text, sizeof(text), "%s%s = %lld;\n", extra, opt, lo);
	accepted(text);
	snprintf(text, sizeof(text), "%s%s = %lld;\n", extra, opt, hi);
	accepted(text);
}

static void test_port_bounds(void **state)
{
	(void)state;
	check_bounds("port", 1, 65535, "");
	assert_int_equal(cfg.port, 65535);
}

static void test_ttl_bounds(void **state)
{
	(void)state;
	check_bounds("ttl", 0, 255, "");
	assert_int_equal(cfg.ttl, 255);
}

static void test_heartbeat_bounds(void **state)
{
	(void)state;
	check_bounds("heartbeat_ms", 10, 60000, "fail_after_ms = 120000;\n");
	assert_int_equal(cfg.heartbeat_ms, 60000);
}

static void test_replay_window_bounds(void **state)
{
	(void)state;
	check_bounds("replay_window_s", 1, 3600, "");
	assert_int_equal(cfg.replay_window_s, 3600);
}

static void test_max_members_bounds(void **state)
{
	(void)state;
	check_bounds("max_members", 2, 1000000, "");
	assert_int_equal(cfg.max_members, 1000000);
}

static void test_fail_after(void **state)
{
	(void)state;
	refused("heartbeat_ms = 100;\n\nfail_after_ms = 199;\n",
	        NAME ":3: 'fail_after_ms' must be at least twice 'heartbeat_ms' (2 * 100 = 200), "
	             "not 199");
	/* the order in the file does not matter */
	refused("fail_after_ms = 150;\nheartbeat_ms = 100;\n",
	        NAME ":1: 'fail_after_ms' must be at least twice 'heartbeat_ms' (2 * 100 = 200), "
	             "not 150");
	/* the default 750 against a slower heartbeat: the heartbeat line is blamed */
	refused("\nheartbeat_ms = 500;\n",
	        NAME ":2: 'fail_after_ms' must be at least twice 'heartbeat_ms' (2 * 500 = 1000), "
	             "not 750 (the default)");
	refused("fail_after_ms = 600001;\n",
	        NAME ":1: 'fail_after_ms' must be between 20 and 600000, not 600001");
	accepted("heartbeat_ms = 100;\nfail_after_ms = 200;\n");
	accepted("fail_after_ms = 600000;\n");
	assert_int_equal(cfg.fail_after_ms, 600000);
}

static void test_group(void **state)
{
	(void)state;
	refused("group = \"10.0.0.1\";\n", NAME ":1: 'group' is not a multicast address: 10.0.0.1");
	refused("group = \"fe80::1\";\n", NAME ":1: 'group' is not a multicast address: fe80::1");
	refused("group = \"cluster.example\";\n",
	        NAME ":1: 'group' is not an IPv4 or IPv6 address: cluster.example");
	refused("group = \"\";\n", NAME ":1: 'group' is not an IPv4 or IPv6 address: ");
	accepted("group = \"ff02::1:3\";\n");
	assert_string_equal(cfg.group, "ff02::1:3");
	accepted("group = \"224.0.0.251\";\n");
	assert_string_equal(cfg.group, "224.0.0.251");
}

static void test_name(void **state)
{
	char text[128];

	(void)state;
	refused_like("name = \"node 1\";\n", NAME ":1: 'name' must be " NAME_RULE, "not 'node 1'");
	refused_like("name = \"n@de\";\n", NAME ":1: 'name'", "not 'n@de'");
	refused_like("name = \"\";\n", NAME ":1: 'name' must be " NAME_RULE, "");
	/* PROTOCOL.md 2.1: a name begins with a letter or digit */
	refused("name = \".\";\n", NAME ":1: 'name' must be " NAME_RULE ", not '.'");
	refused("name = \"..\";\n", NAME ":1: 'name' must be " NAME_RULE ", not '..'");
	refused("name = \"-rf\";\n", NAME ":1: 'name' must be " NAME_RULE ", not '-rf'");
	refused("name = \"--help\";\n", NAME ":1: 'name' must be " NAME_RULE ", not '--help'");
	refused("name = \"_x\";\n", NAME ":1: 'name' must be " NAME_RULE ", not '_x'");
	accepted("name = \"9.node-a_b\";\n");
	assert_string_equal(cfg.name, "9.node-a_b");
	snprintf(text, sizeof(text), "name = \"%065d\";\n", 0);
	refused(text, NAME ":1: 'name' is too long, at most 64 characters");
	snprintf(text, sizeof(text), "name = \"%064d\";\n", 0);
	accepted(text);
	assert_int_equal(strlen(cfg.name), 64);
}

/* A host name that is no valid member name leaves name empty: then `name` is required. */
static void test_name_required(void **state)
{
	(void)state;
	cfg.name[0] = '\0';
	refused_like("port = 1;\n", NAME ": the short host name", "set 'name'");
	accepted("name = \"n1\";\n");
	assert_string_equal(cfg.name, "n1");
}

static void test_paths(void **state)
{
	(void)state;
	refused("keyring = \"cluster.keys\";\n",
	        NAME ":1: 'keyring' must be an absolute path, not 'cluster.keys'");
	refused("keyring = \"\";\n", NAME ":1: 'keyring' must be an absolute path, not ''");
	refused("\ncontrol_socket = \"run/cmemd.sock\";\n",
	        NAME ":2: 'control_socket' must be an absolute path, not 'run/cmemd.sock'");
	refused("pidfile = \"cmemd.pid\";\n",
	        NAME ":1: 'pidfile' must be an absolute path or \"\", not 'cmemd.pid'");
	refused("chroot = \"var/lib/cmem\";\n",
	        NAME ":1: 'chroot' must be an absolute path or \"\", not 'var/lib/cmem'");
	accepted("chroot = \"\";\npidfile = \"\";\n");
	assert_string_equal(cfg.chroot, "");
	assert_string_equal(cfg.pidfile, "");
}

static void test_too_long(void **state)
{
	char text[512];

	(void)state;
	snprintf(text, sizeof(text), "control_socket = \"/%0107d\";\n", 0);
	refused(text, NAME ":1: 'control_socket' is too long for a unix socket, at most 107 "
	              "characters");
	snprintf(text, sizeof(text), "control_socket = \"/%0106d\";\n", 0);
	accepted(text);
	snprintf(text, sizeof(text), "keyring = \"/%0255d\";\n", 0);
	refused(text, NAME ":1: 'keyring' is too long, at most 255 characters");
	snprintf(text, sizeof(text), "interface = \"%064d\";\n", 0);
	refused(text, NAME ":1: 'interface' is too long, at most 63 characters");
	refused("syslog_facility = \"local0local0local0\";\n",
	        NAME ":1: 'syslog_facility' is too long, at most 15 characters");
	refused("user = \"\";\n", NAME ":1: 'user' must not be empty");
}

static void test_log_level(void **state)
{
	(void)state;
	refused("log_level = \"verbose\";\n",
	        NAME ":1: 'log_level' must be error, warn, info or debug, not 'verbose'");
	accepted("log_level = \"warn\";\n");
	assert_int_equal(cfg.log_level, LOG_LEVEL_WARN);
	accepted("log_level = \"error\";\n");
	assert_int_equal(cfg.log_level, LOG_LEVEL_ERROR);
}

static void test_facility(void **state)
{
	(void)state;
	refused("syslog_facility = \"kern\";\n",
	        NAME ":1: 'syslog_facility' must be daemon, user or local0 to local7, not 'kern'");
	refused_like("syslog_facility = \"local8\";\n", NAME ":1: 'syslog_facility'", "'local8'");
	accepted("syslog_facility = \"local7\";\n");
	assert_int_equal(cfg.syslog_facility, LOG_LOCAL7);
	assert_string_equal(cfg.syslog_facility_name, "local7");
	assert_int_equal(config_facility_parse("daemon"), LOG_DAEMON);
	assert_int_equal(config_facility_parse("user"), LOG_USER);
	assert_int_equal(config_facility_parse("local0"), LOG_LOCAL0);
	assert_int_equal(config_facility_parse("Daemon"), -1);
	assert_int_equal(config_facility_parse(""), -1);
}

static void test_seccomp(void **state)
{
	(void)state;
	accepted("seccomp = false;\n");
	assert_int_equal(cfg.seccomp, 0);
	accepted("seccomp = true;\n");
	assert_int_equal(cfg.seccomp, 1);
	accepted("seccomp = FALSE;\n"); /* libconfig's booleans are case-insensitive */
	assert_int_equal(cfg.seccomp, 0);
	refused("\nseccomp = \"false\";\n", NAME ":2: 'seccomp' must be true or false (unquoted)");
	refused("seccomp = 0;\n", NAME ":1: 'seccomp' must be true or false (unquoted)");
	refused("seccomp = [ true ];\n", NAME ":1: 'seccomp' must be true or false (unquoted)");
}

/* A refused file changes nothing, not even the options before the bad one. */
static void test_refusal_changes_nothing(void **state)
{
	struct cmem_config before = cfg;

	(void)state;
	refused("port = 4000;\nttl = 3;\nlog_level = \"loud\";\n",
	        NAME ":3: 'log_level' must be error, warn, info or debug, not 'loud'");
	assert_memory_equal(&cfg, &before, sizeof(cfg));
}

static void test_missing_file(void **state)
{
	struct cmem_config before = cfg;

	(void)state;
	assert_int_equal(config_load(&cfg, "/nonexistent/cmemd.conf", err, sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/cmemd.conf: cannot read: No such file or directory");
	assert_int_equal(config_load(&cfg, "/", err, sizeof(err)), -1);
	assert_string_equal(err, "/: cannot read: Is a directory");
	assert_memory_equal(&cfg, &before, sizeof(cfg));
}

static void test_file_messages(void **state)
{
	char path[256], want[CONFIG_ERRLEN];

	(void)state;
	write_temp(path, sizeof(path), "port = 4000;\n\nttl = 256;\n");
	assert_int_equal(config_load(&cfg, path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:3: 'ttl' must be between 0 and 255, not 256", path);
	assert_string_equal(err, want);
	assert_int_equal(unlink(path), 0);

	write_temp(path, sizeof(path), "port = 4000;\nttl = = 3;\n");
	assert_int_equal(config_load(&cfg, path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:2: syntax error", path);
	assert_string_equal(err, want);
	assert_int_equal(unlink(path), 0);

	write_temp(path, sizeof(path), "port = 4000;\n");
	assert_int_equal(config_load(&cfg, path, err, sizeof(err)), 0);
	assert_int_equal(cfg.port, 4000);
	assert_int_equal(unlink(path), 0);
}

/* A setting from an @include'd file is reported with that file's name and line. */
static void test_include_names_its_file(void **state)
{
	char inc[256], text[512], want[CONFIG_ERRLEN];

	(void)state;
	write_temp(inc, sizeof(inc), "\nmax_members = 1;\n");
	snprintf(text, sizeof(text), "port = 4000;\n@include \"%s\"\n", inc);
	snprintf(want, sizeof(want), "%s:2: 'max_members' must be between 2 and 1000000, not 1", inc);
	refused(text, want);
	assert_int_equal(unlink(inc), 0);
}

/* ---- multicast and peers (unicast) ---- */

static void test_multicast_option(void **state)
{
	(void)state;
	assert_int_equal(cfg.multicast, 1);
	assert_int_equal(cfg.npeers, 0);
	accepted("multicast = false;\npeers = [ \"10.0.0.2\" ];\n");
	assert_int_equal(cfg.multicast, 0);
	accepted("multicast = true;\n");
	assert_int_equal(cfg.multicast, 1);
	refused("multicast = 1;\n", NAME ":1: 'multicast' must be true or false (unquoted)");
	refused("multicast = \"no\";\n", NAME ":1: 'multicast' must be true or false (unquoted)");
}

static void test_peers_good(void **state)
{
	char a[ADDR_STR_MAX];

	(void)state;
	accepted("peers = [ \"10.0.0.2\", \"10.0.0.3:51511\" ];\n");
	assert_int_equal(cfg.npeers, 2);
	assert_int_equal(cfg.peers[0].family, AF_INET);
	assert_int_equal(cfg.peers[0].port, 0); /* the `port` option, whatever it ends up as */
	assert_int_equal(addr_str(&cfg.peers[1], a, sizeof(a)), 0);
	assert_string_equal(a, "10.0.0.3");
	assert_int_equal(cfg.peers[1].port, 51511);

	accepted("group = \"ff15::51:510\";\n"
	         "peers = [ \"fd00::2\", \"[fd00::3]:4000\", \"[fd00::4]\", \"fd00::3:5151\" ];\n");
	assert_int_equal(cfg.npeers, 4);
	assert_int_equal(cfg.peers[1].family, AF_INET6);
	assert_int_equal(cfg.peers[1].port, 4000);
	assert_int_equal(cfg.peers[2].port, 0);
	/* without brackets a trailing :N is part of the IPv6 address */
	assert_int_equal(addr_str(&cfg.peers[3], a, sizeof(a)), 0);
	assert_string_equal(a, "fd00::3:5151");
	assert_int_equal(cfg.peers[3].port, 0);

	/* unicast only: the peers set the family, the group does not matter */
	accepted("multicast = false;\npeers = ( \"fd00::2\" );\n");
	assert_int_equal(cfg.npeers, 1);
	accepted("peers = [];\n");
	assert_int_equal(cfg.npeers, 0);
}

static void test_peers_bad(void **state)
{
	(void)state;
	refused("peers = \"10.0.0.2\";\n",
	        NAME ":1: 'peers' must be a list of addresses: [ \"10.0.0.2\", \"[fd00::3]:51510\" ]");
	refused("peers = [ 1 ];\n", NAME ":1: 'peers' entry 1 must be a string");
	refused("peers = [\n  \"10.0.0.2\",\n  \"db1.example.com\" ];\n",
	        NAME ":3: 'peers' entry 2 'db1.example.com' is a host name: cmemd is linked "
	             "statically and resolves no names; give a numeric IPv4 or IPv6 address");
	refused("peers = [ \"db1:51510\" ];\n",
	        NAME ":1: 'peers' entry 1 'db1' is a host name: cmemd is linked statically and "
	             "resolves no names; give a numeric IPv4 or IPv6 address");
	refused("peers = [ \"10.0.0.256\" ];\n",
	        NAME ":1: 'peers' entry 1 '10.0.0.256' is not an IPv4 or IPv6 address");
	refused("peers = [ \"\" ];\n", NAME ":1: 'peers' entry 1 is empty");
	refused("peers = [ \"10.0.0.2:0\" ];\n",
	        NAME ":1: 'peers' entry 1 port '0' is not a number from 1 to 65535");
	refused("peers = [ \"10.0.0.2:65536\" ];\n",
	        NAME ":1: 'peers' entry 1 port '65536' is not a number from 1 to 65535");
	refused("peers = [ \"10.0.0.2:\" ];\n",
	        NAME ":1: 'peers' entry 1 port '' is not a number from 1 to 65535");
	refused("peers = [ \"10.0.0.2:+5\" ];\n",
	        NAME ":1: 'peers' entry 1 port '+5' is not a number from 1 to 65535");
	refused("peers = [ \"[fd00::2\" ];\n",
	        NAME ":1: 'peers' entry 1 '[fd00::2' is not [IPv6 address] or [IPv6 address]:port");
	refused("peers = [ \"[fd00::2]x\" ];\n",
	        NAME ":1: 'peers' entry 1 '[fd00::2]x' is not [IPv6 address] or [IPv6 address]:port");
	refused("peers = [ \"[10.0.0.2]:5\" ];\n",
	        NAME ":1: 'peers' entry 1 '10.0.0.2' between [ ] is not an IPv6 address");
	refused("peers = [ \"239.1.2.3\" ];\n",
	        NAME ":1: 'peers' entry 1 is a multicast address (that is `group`)");
	refused("peers = [ \"0.0.0.0\" ];\n", NAME ":1: 'peers' entry 1 is the unspecified address");
	refused("peers = [ \"255.255.255.255\" ];\n",
	        NAME ":1: 'peers' entry 1 is the broadcast address");
	refused("group = \"ff15::1\";\npeers = [ \"fe80::1\" ];\n",
	        NAME ":2: 'peers' entry 1 is link-local (fe80::/10): it needs a zone; give a global "
	             "or ULA address");
	refused("peers = [ \"10.0.0.2\", \"10.0.0.3\", \"10.0.0.2\" ];\n",
	        NAME ":1: 'peers' entry 3 '10.0.0.2' is listed twice");
	refused("peers = [ \"fd00::2\" ];\n",
	        NAME ":1: 'peers' entry 1 is IPv6 but the group is IPv4: every peer must be of one "
	             "family, the group's (or set multicast = false)");
	refused("multicast = false;\npeers = [ \"10.0.0.2\", \"fd00::2\" ];\n",
	        NAME ":2: 'peers' entry 2 is IPv6 but entry 1 is IPv4: every peer must be of one "
	             "family");
}

static void test_peers_limit(void **state)
{
	char text[CONFIG_PEERS_MAX * 24 + 64];
	size_t n = 0;

	(void)state;
	n += (size_t)snprintf(text + n, sizeof(text) - n, "peers = [");
	for (int i = 0; i <= CONFIG_PEERS_MAX; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s\"10.0.%d.%d\"", i ? ", " : "",
		                      i / 200, i % 200 + 1);
	snprintf(text + n, sizeof(text) - n, "];\n");
	refused(text, NAME ":1: 'peers' lists 129 addresses, at most 128: a few seeds are enough, "
	              "the other members are learned");
	/* one fewer is fine */
	text[n - strlen(", \"10.0.0.129\"")] = '\0';
	strcat(text, "];\n");
	accepted(text);
	assert_int_equal(cfg.npeers, CONFIG_PEERS_MAX);
}

static void test_peer_parse(void **state)
{
	struct member_addr a;
	char why[256];

	(void)state;
	assert_int_equal(config_peer_parse("192.0.2.7:9", &a, why, sizeof(why)), 0);
	assert_int_equal(a.family, AF_INET);
	assert_int_equal(a.port, 9);
	assert_int_equal(config_peer_parse("2001:db8::7", &a, why, sizeof(why)), 0);
	assert_int_equal(a.family, AF_INET6);
	assert_int_equal(a.port, 0);
	assert_int_equal(config_peer_parse("fd00::2%eth0", &a, why, sizeof(why)), -1);
	assert_string_equal(why, "'fd00::2%eth0' is not an IPv4 or IPv6 address");
	assert_int_equal(config_peer_parse("1.2.3.4:5:6", &a, why, sizeof(why)), -1);
	assert_string_equal(why, "'1.2.3.4:5:6' is not an IPv4 or IPv6 address");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_defaults, setup),
		cmocka_unit_test_setup(test_empty_file_keeps_defaults, setup),
		cmocka_unit_test_setup(test_sample_file, setup),
		cmocka_unit_test_setup(test_every_option, setup),
		cmocka_unit_test_setup(test_syntax_error, setup),
		cmocka_unit_test_setup(test_unknown_option, setup),
		cmocka_unit_test_setup(test_groups_and_lists_refused, setup),
		cmocka_unit_test_setup(test_wrong_type, setup),
		cmocka_unit_test_setup(test_int64_in_range, setup),
		cmocka_unit_test_setup(test_port_bounds, setup),
		cmocka_unit_test_setup(test_ttl_bounds, setup),
		cmocka_unit_test_setup(test_heartbeat_bounds, setup),
		cmocka_unit_test_setup(test_replay_window_bounds, setup),
		cmocka_unit_test_setup(test_max_members_bounds, setup),
		cmocka_unit_test_setup(test_fail_after, setup),
		cmocka_unit_test_setup(test_group, setup),
		cmocka_unit_test_setup(test_name, setup),
		cmocka_unit_test_setup(test_name_required, setup),
		cmocka_unit_test_setup(test_paths, setup),
		cmocka_unit_test_setup(test_too_long, setup),
		cmocka_unit_test_setup(test_log_level, setup),
		cmocka_unit_test_setup(test_facility, setup),
		cmocka_unit_test_setup(test_seccomp, setup),
		cmocka_unit_test_setup(test_refusal_changes_nothing, setup),
		cmocka_unit_test_setup(test_missing_file, setup),
		cmocka_unit_test_setup(test_file_messages, setup),
		cmocka_unit_test_setup(test_include_names_its_file, setup),
		cmocka_unit_test_setup(test_multicast_option, setup),
		cmocka_unit_test_setup(test_peers_good, setup),
		cmocka_unit_test_setup(test_peers_bad, setup),
		cmocka_unit_test_setup(test_peers_limit, setup),
		cmocka_unit_test_setup(test_peer_parse, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
