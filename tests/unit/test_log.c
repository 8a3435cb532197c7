/*
 * Unit tests: the log's sinks and its queue.  The journal's stream is a
 * socketpair put on stderr (and named by $JOURNAL_STREAM, as systemd
 * does); syslog is a datagram socketpair whose reader is not reading
 * (the stalled syslog daemon of issue 17) or a socket bound in a temporary
 * directory standing for the chroot, re-created as a restarted syslog
 * daemon does.  Nothing here may block: a test that hangs has failed.
 */
#include "testutil.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>

static int saved_stderr = -1;

/* A stream standing for the journal on stderr; returns the reader's end. */
static int journal_on_stderr(int name_it)
{
	int sv[2];
	struct stat st;
	char js[64];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	assert_int_equal(dup2(sv[1], STDERR_FILENO), STDERR_FILENO);
	close(sv[1]);
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev,
	         (unsigned long long)(st.st_ino + (name_it ? 0 : 1)));
	setenv("JOURNAL_STREAM", js, 1);
	return sv[0];
}

static void restore_stderr(void)
{
	fflush(stderr);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	unsetenv("JOURNAL_STREAM");
	log_init("test", LOG_LEVEL_INFO);
}

static void read_all(int fd, char *buf, size_t len)
{
	ssize_t n = recv(fd, buf, len - 1, MSG_DONTWAIT);

	buf[n > 0 ? n : 0] = '\0';
}

/* stderr named by $JOURNAL_STREAM: "<N>message", no program prefix, every level. */
static void test_journal_prefixes(void **state)
{
	struct log_ratelimit rl = LOG_RATELIMIT_INIT(1000, 10);
	int r = journal_on_stderr(1);
	char buf[512];
	(void)state;

	log_init("cmemd", LOG_LEVEL_DEBUG);
	log_limited(&rl, 1, LOG_LEVEL_ERROR, 0, "bad %s", "thing");
	log_warnx("careful");
	log_info("hello");
	log_debug("details");
	read_all(r, buf, sizeof(buf));
	restore_stderr();
	close(r);
	assert_string_equal(buf, "<3>bad thing\n<4>careful\n<6>hello\n<7>details\n");
}

/* Another stream on stderr (a terminal, a file): the program prefix, no <N>. */
static void test_plain_stderr(void **state)
{
	int r = journal_on_stderr(0);
	char buf[512];
	(void)state;

	log_init("cmemd", LOG_LEVEL_INFO);
	log_warnx("careful");
	fflush(stderr);
	read_all(r, buf, sizeof(buf));
	restore_stderr();
	close(r);
	assert_string_equal(buf, "cmemd: careful\n");
}

/* In daemon mode before detaching, the journal gets a line once, not also through syslog. */
static void test_journal_not_twice(void **state)
{
	int r = journal_on_stderr(1), sv[2];
	char buf[512];
	(void)state;

	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv), 0);
	log_init("cmemd", LOG_LEVEL_INFO);
	log_use_socket(sv[0]);
	log_use_journal(1);
	log_warnx("once");
	read_all(r, buf, sizeof(buf));
	assert_string_equal(buf, "<4>once\n");
	read_all(sv[1], buf, sizeof(buf));
	assert_string_equal(buf, "");
	log_stderr_off(); /* detached: syslog from now on */
	log_warnx("twice");
	read_all(sv[1], buf, sizeof(buf));
	assert_non_null(strstr(buf, "]: twice"));
	restore_stderr();
	close(r);
	close(sv[0]);
	close(sv[1]);
}

/* The journal's stream gone (journald stopped for good): no SIGPIPE, no busy
 * wake-up on a dead descriptor, the lines counted. */
static void test_journal_gone(void **state)
{
	int r = journal_on_stderr(1);
	uint64_t before = log_dropped();
	struct pollfd p;
	(void)state;

	log_init("cmemd", LOG_LEVEL_INFO);
	close(r);
	for (int i = 0; i < LOG_QUEUE + 10; i++)
		log_warnx("into the void %d", i);
	log_pollfd(&p);
	assert_int_equal(p.fd, -1);
	assert_int_equal(log_next_ms(), UINT64_MAX);
	assert_int_equal(log_dropped() - before, 10);
	restore_stderr();
}

/* The line number in a syslog datagram "<28>Mmm dd hh:mm:ss cmemd[PID]: line N". */
static long line_number(const char *dgram)
{
	const char *p = strstr(dgram, "]: line ");

	return p ? strtol(p + 8, NULL, 10) : -1;
}

/*
 * A stalled reader: logging returns at once, a bounded queue keeps the
 * first lines, the rest are counted; once the reader reads again every
 * kept line arrives, in order, and then the count.
 */
static void test_queue_stalled_reader(void **state)
{
	uint64_t before = log_dropped(), dropped;
	int sv[2], got = 0;
	long last = -1;
	struct pollfd p;
	char buf[2048];
	(void)state;

	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv), 0);
	log_init("cmemd", LOG_LEVEL_INFO);
	log_use_socket(sv[0]);
	for (int i = 0; i < 1000; i++)
		log_warnx("line %d", i);
	assert_int_equal(log_queued(), LOG_QUEUE);
	dropped = log_dropped() - before;
	assert_true(dropped > 0 && dropped < 1000 - LOG_QUEUE);
	log_pollfd(&p);
	assert_int_equal(p.fd, sv[0]);
	assert_int_equal(p.events, POLLOUT);
	for (int rounds = 0; rounds < 1000; rounds++) {
		ssize_t n = recv(sv[1], buf, sizeof(buf) - 1, MSG_DONTWAIT);

		if (n <= 0) {
			log_flush(1);
			if (recv(sv[1], buf, 1, MSG_PEEK | MSG_DONTWAIT) <= 0)
				break;
			continue;
		}
		buf[n] = '\0';
		assert_true(strncmp(buf, "<28>", 4) == 0); /* daemon.warning */
		assert_non_null(strstr(buf, "cmemd["));
		if (strstr(buf, "lines dropped")) {
			char want[96];

			snprintf(want, sizeof(want), "log: %llu lines dropped", (unsigned long long)dropped);
			assert_non_null(strstr(buf, want));
			got = -got; /* the report comes last */
			continue;
		}
		assert_true(got >= 0);
		assert_int_equal(line_number(buf), last + 1); /* in order, none lost from the kept */
		last = line_number(buf);
		got++;
	}
	assert_true(got < 0);
	assert_int_equal((long)-got, (long)(1000 - dropped));
	assert_int_equal(log_queued(), 0);
	log_pollfd(&p);
	assert_int_equal(p.fd, -1); /* nothing to write: no wake-up */
	close(sv[0]);
	close(sv[1]);
}

static int bind_dgram(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	unlink(path);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

/* The syslog daemon restarts (its socket in the chroot re-created): the next line arrives. */
static void test_reconnect_after_restart(void **state)
{
	char dir[128], devdir[160], path[192], buf[2048];
	int s;
	(void)state;

	snprintf(dir, sizeof(dir), "%s/cmem-log.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(dir));
	snprintf(devdir, sizeof(devdir), "%s/dev", dir);
	assert_int_equal(mkdir(devdir, 0755), 0);
	snprintf(path, sizeof(path), "%s/log", devdir);
	s = bind_dgram(path);
	log_init("cmemd", LOG_LEVEL_INFO);
	log_to_syslog(LOG_DAEMON, dir, "/nonexistent/cmem-test/log"); /* not the host's */
	log_stderr_off();
	log_info("before");
	read_all(s, buf, sizeof(buf));
	assert_non_null(strstr(buf, "]: before"));
	close(s);
	s = bind_dgram(path); /* restarted */
	log_info("after");
	assert_int_equal(log_queued(), 1); /* the old socket refused it: kept */
	assert_int_equal(log_next_ms(), 0); /* reconnect at once */
	log_flush(5000);
	read_all(s, buf, sizeof(buf));
	assert_non_null(strstr(buf, "]: after"));
	assert_int_equal(log_queued(), 0);
	close(s);
	unlink(path); /* gone for good: lines wait, reconnection once a second */
	log_info("lost");
	log_flush(6000);
	assert_int_equal(log_queued(), 1);
	assert_int_equal(log_next_ms(), 7000);
	s = bind_dgram(path);
	log_flush(6999);
	assert_int_equal(log_queued(), 1);
	log_flush(7000);
	assert_int_equal(log_queued(), 0);
	read_all(s, buf, sizeof(buf));
	assert_non_null(strstr(buf, "]: lost"));
	close(s);
	unlink(path);
	rmdir(devdir);
	rmdir(dir);
	log_init("test", LOG_LEVEL_INFO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_journal_prefixes),
		cmocka_unit_test(test_plain_stderr),
		cmocka_unit_test(test_journal_not_twice),
		cmocka_unit_test(test_journal_gone),
		cmocka_unit_test(test_queue_stalled_reader),
		cmocka_unit_test(test_reconnect_after_restart),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
