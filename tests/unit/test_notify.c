/*
 * Unit tests: the service manager protocol (READY, STATUS, STOPPING,
 * WATCHDOG) against a datagram socket bound in a temporary directory,
 * as the manager's would be; the clock is injected.
 */
#include "testutil.h"

#include <sys/socket.h>
#include <sys/un.h>

#include "daemon_fixture.h"
#include "notify.h"

static char dir[128], path[256];
static int mgr = -1; /* the manager's end */
static struct notify n;
static char err[256];
static int warnings;

static void count_warnings(enum log_level level, const char *msg, void *arg)
{
	(void)msg;
	(void)arg;
	warnings += level == LOG_LEVEL_WARN;
}

static int bind_manager(const char *name)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	socklen_t len;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	if (name[0] == '@') { /* abstract */
		memcpy(sun.sun_path + 1, name + 1, strlen(name) - 1);
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(name));
	} else {
		memcpy(sun.sun_path, name, strlen(name) + 1);
		len = sizeof(sun);
	}
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, len), 0);
	return fd;
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s/cmem-notify.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/notify", dir);
	mgr = bind_manager(path);
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	setenv("NOTIFY_SOCKET", path, 1);
	memset(&n, 0, sizeof(n));
	err[0] = '\0';
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	notify_close(&n);
	close(mgr);
	unlink(path);
	rmdir(dir);
	unsetenv("NOTIFY_SOCKET");
	return 0;
}

/* The next datagram the manager got, or "" when there is none. */
static const char *got(void)
{
	static char buf[512];
	ssize_t r = recv(mgr, buf, sizeof(buf) - 1, 0);

	buf[r > 0 ? r : 0] = '\0';
	return buf;
}

static void test_unset_is_inactive(void **state)
{
	(void)state;
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(notify_open(&n, err, sizeof(err)), 0);
	assert_false(n.active);
	assert_int_equal(notify_start(&n, getpid(), 0, 0), 0);
	notify_ready(&n);
	notify_status(&n, 1, 0, 0, 0);
	notify_stopping(&n);
	notify_timers(&n, 100000);
	assert_true(notify_next_ms(&n) == UINT64_MAX);
	assert_string_equal(got(), "");
}

static void test_ready_and_env_removed(void **state)
{
	(void)state;
	assert_int_equal(notify_open(&n, err, sizeof(err)), 0);
	assert_true(n.active);
	assert_null(getenv("NOTIFY_SOCKET")); /* nothing started later talks to the manager */
	assert_string_equal(got(), "");       /* connecting says nothing */
	assert_int_equal(notify_start(&n, getpid(), 0, 1000), 0);
	notify_ready(&n);
	assert_string_equal(got(), "READY=1");
	assert_string_equal(got(), "");
}

/* After daemonizing, the manager is told which process is the service now. */
static void test_ready_after_fork_names_mainpid(void **state)
{
	char want[64];

	(void)state;
	assert_int_equal(notify_open(&n, err, sizeof(err)), 0);
	notify_start(&n, 4242, 1, 0);
	notify_ready(&n);
	snprintf(want, sizeof(want), "READY=1\nMAINPID=%d", 4242);
	assert_string_equal(got(), want);
}

static void test_status_on_change_at_most_once_a_second(void **state)
{
	(void)state;
	assert_int_equal(notify_open(&n, err, sizeof(err)), 0);
	notify_status(&n, 3, 0, 0, 10000);
	assert_string_equal(got(), "STATUS=3 alive, 0 failed, 0 left");
	notify_status(&n, 3, 0, 0, 10050); /* unchanged: nothing */
	notify_timers(&n, 12000);
	assert_string_equal(got(), "");
	assert_true(notify_next_ms(&n) == UINT64_MAX);
	/* a change inside the second is held back until the second is over */
	notify_status(&n, 2, 1, 0, 12000);
	assert_string_equal(got(), "STATUS=2 alive, 1 failed, 0 left"); /* 2 s since the last */
	notify_status(&n, 1, 2, 0, 12100);
	assert_string_equal(got(), "");
	assert_true(notify_next_ms(&n) == 13000);
	notify_status(&n, 1, 1, 1, 12500); /* the newest counts win */
	notify_timers(&n, 12999);
	assert_string_equal(got(), "");
	notify_timers(&n, 13000);
	assert_string_equal(got(), "STATUS=1 alive, 1 failed, 1 left");
	assert_string_equal(got(), "");
	assert_true(notify_next_ms(&n) == UINT64_MAX);
}

/* A change undone before the rate limit lets it out is never sent. */
static void test_status_change_undone(void **state)
{
	(void)state;
	assert_int_equal(notify_open(&n, err, sizeof(err)), 0);
	notify_status(&n, 4, 0, 0, 0);
	assert_string_equal(got(), "STATUS=4 alive, 0 failed, 0 left");
	notify_status(&n, 3, 1, 0, 200);
	notify_status(&n, 4, 0, 0, 400);
	notify_timers(&n, 5000);
	assert_string_equal(got(), "");
}

static void test_stopping(void **state)
{
	(void)state;
	assert_int_equal(notify_open(&n, err, sizeof(err)), 0);
	notify_stopping(&n);
	assert_string_equal(got(), "STOPPING=1");
}

static void test_watchdog_every_half_interval(void **state)
{
	(void)state;
	setenv("WATCHDOG_USEC", "3000000", 1);
	assert_int_equal(notify_open(&n, err, sizeof(err)), 0);
	assert_null(getenv("WATCHDOG_USEC"));
	assert_int_equal(notify_start(&n, getpid(), 0, 50000), 1500);
	assert_true(notify_next_ms(&n) == 51500);
	notify_timers(&n, 51499);
	assert_string_equal(got(), "");
	notify_timers(&n, 51500);
	assert_string_equal(got(), "WATCHDOG=1");
	assert_true(notify_next_ms(&n) == 53000);
	notify_timers(&n, 53010); /* a little late: the period does not drift */
	assert_string_equal(got(), "WATCHDOG=1");
	assert_true(notify_next_ms(&n) == 54500);
	/* stalled for 10 s: one message, not a burst of the missed ones */
	notify_timers(&n, 64000);
	assert_string_equal(got(), "WATCHDOG=1");
	assert_string_equal(got(), "");
	assert_true(notify_next_ms(&n) == 65500);
}

static void test_watchdog_pid(void **state)
{
	char pid[32];

	(void)state;
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("WATCHDOG_USEC", "2000000", 1);
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(notify_open(&n, err, sizeof(err)), 0);
	assert_null(getenv("WATCHDOG_PID"));
	assert_int_equal(notify_start(&n, getpid(), 0, 0), 1000);
	notify_close(&n);

	/* meant for another process (the one we forked from): not ours to feed */
	setenv("NOTIFY_SOCKET", path, 1);
	setenv("WATCHDOG_USEC", "2000000", 1);
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(notify_open(&n, err, sizeof(err)), 0);
	assert_int_equal(notify_start(&n, getpid() + 1, 1, 0), 0);
	notify_timers(&n, 100000);
	assert_string_equal(got(), "");
	assert_true(notify_next_ms(&n) == UINT64_MAX);
}

static void test_watchdog_bad_values_ignored(void **state)
{
	(void)state;
	setenv("WATCHDOG_USEC", "-5", 1);
	assert_int_equal(notify_open(&n, err, sizeof(err)), 0);
	assert_int_equal(notify_start(&n, getpid(), 0, 0), 0);
	notify_close(&n);
	setenv("NOTIFY_SOCKET", path, 1);
	setenv("WATCHDOG_USEC", "1000", 1); /* 1 ms: every 1 ms at the least, not every 0 */
	assert_int_equal(notify_open(&n, err, sizeof(err)), 0);
	assert_int_equal(notify_start(&n, getpid(), 0, 0), 1);
}

static void test_abstract_socket(void **state)
{
	char name[64];
	int fd;

	(void)state;
	snprintf(name, sizeof(name), "@cmem-test-notify-%ld", (long)getpid());
	fd = bind_manager(name);
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(notify_open(&n, err, sizeof(err)), 0);
	notify_ready(&n);
	{
		char buf[64];
		ssize_t r = recv(fd, buf, sizeof(buf) - 1, 0);

		assert_int_equal(r, 7);
		buf[r] = '\0';
		assert_string_equal(buf, "READY=1");
	}
	assert_string_equal(got(), ""); /* nothing went to the path socket */
	close(fd);
}

static void test_bad_socket_refused(void **state)
{
	char missing[300];

	(void)state;
	setenv("NOTIFY_SOCKET", "run/notify", 1);
	assert_int_equal(notify_open(&n, err, sizeof(err)), -1);
	assert_string_equal(err, "NOTIFY_SOCKET=run/notify: not an absolute path or an @abstract name");
	assert_false(n.active);
	assert_null(getenv("NOTIFY_SOCKET"));

	snprintf(missing, sizeof(missing), "%s/none", dir);
	setenv("NOTIFY_SOCKET", missing, 1);
	assert_int_equal(notify_open(&n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file or directory"));
	assert_false(n.active);

	setenv("NOTIFY_SOCKET", "@", 1);
	assert_int_equal(notify_open(&n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "a socket name is 1 to"));
}

/* The manager went away: the daemon carries on, counts and says so once. */
static void test_manager_gone(void **state)
{
	(void)state;
	assert_int_equal(notify_open(&n, err, sizeof(err)), 0);
	close(mgr);
	unlink(path);
	mgr = bind_manager(path); /* a new socket at the path is not the one we are connected to */
	warnings = 0;
	log_set_hook(count_warnings, NULL);
	notify_ready(&n);
	notify_stopping(&n);
	log_set_hook(NULL, NULL);
	assert_int_equal(n.send_errors, 2);
	assert_int_equal(warnings, 1); /* rate-limited */
	assert_string_equal(got(), "");
}

/* The daemon's timers report its member counts (this node counted alive). */
static void test_daemon_reports_counts(void **state)
{
	static struct daemon d;

	(void)state;
	assert_true(sodium_init() >= 0);
	memset(&d, 0, sizeof(d));
	config_defaults(&d.cfg);
	snprintf(d.cfg.name, sizeof(d.cfg.name), "self");
	d.net.fd = -1;
	d.kr = tu_vector_keyring();
	daemon_init(&d, fixture_set_time(1000, TU_VECTOR_NOW));
	assert_int_equal(notify_open(&d.notify, err, sizeof(err)), 0);
	log_set_hook(count_warnings, NULL); /* heartbeats cannot go out: no socket */
	fixture_timers(&d, 1000, TU_VECTOR_NOW);
	assert_string_equal(got(), "STATUS=1 alive, 0 failed, 0 left");
	fixture_timers(&d, 1500, TU_VECTOR_NOW);
	log_set_hook(NULL, NULL);
	assert_string_equal(got(), "");
	notify_close(&d.notify);
	daemon_fini(&d);
	keyring_free(d.kr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unset_is_inactive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ready_and_env_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ready_after_fork_names_mainpid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_on_change_at_most_once_a_second, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_status_change_undone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stopping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watchdog_every_half_interval, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watchdog_pid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watchdog_bad_values_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abstract_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_socket_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_manager_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_daemon_reports_counts, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
