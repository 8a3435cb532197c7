/*
 * Unit tests: the seccomp allow-list.  Each case runs in a child process
 * that installs the filter and then makes one kind of call: what the
 * daemon's loop does must work, anything else must kill the child with
 * SIGSYS.
 */
#include "testutil.h"

#include <fcntl.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "sandbox.h"

typedef int (*child_fn)(void);

/* Run fn in a child under the filter; its wait status. */
static int run_filtered(child_fn fn)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		char err[SANDBOX_ERRLEN];

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
		    sandbox_install(err, sizeof(err)) == -1)
			_exit(100);
		/* straight to the kernel: a sanitizer's exit hooks make calls of their own */
		syscall(SYS_exit_group, fn());
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void allowed(child_fn fn)
{
	int status = run_filtered(fn);

	if (WIFSIGNALED(status))
		fail_msg("killed by signal %d", WTERMSIG(status));
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void killed(child_fn fn)
{
	int status = run_filtered(fn);

	if (WIFEXITED(status))
		fail_msg("exited %d: the call was not refused", WEXITSTATUS(status));
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSYS);
}

/* A datagram to ourselves over loopback, as the loop sends and receives. */
static int udp_roundtrip(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	char buf[8];
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1, ok;

	ok = s != -1 && setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
	     bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	     getsockname(s, (struct sockaddr *)&a, &len) == 0 &&
	     sendto(s, "x", 1, 0, (struct sockaddr *)&a, sizeof(a)) == 1 &&
	     recvfrom(s, buf, sizeof(buf), 0, NULL, NULL) == 1;
	close(s);
	return ok ? 0 : 1;
}

/* The loop's own work: time, memory, randomness, sockets, status. */
static int loop_calls(void)
{
	struct timespec ts;
	char buf[8], *big;
	int nl;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1 || clock_gettime(CLOCK_REALTIME, &ts) == -1)
		return 1;
	big = malloc(8 << 20); /* mmap */
	if (big == NULL)
		return 2;
	memset(big, 1, 8 << 20);
	free(big);
	randombytes_buf(buf, sizeof(buf));
	if (udp_roundtrip() != 0)
		return 3;
	nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE); /* interface events */
	if (nl == -1)
		return 5;
	close(nl);
	if (if_nametoindex("lo") == 0) /* ioctl(SIOCGIFINDEX) */
		return 6;
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return 7;
	return getpid() > 0 ? 0 : 8;
}

/* SIGHUP re-reads the configuration: read-only opens work. */
static int open_read_only(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	return fd >= 0 ? 0 : 1;
}

static int open_for_writing(void)
{
	open("/dev/null", O_WRONLY | O_CLOEXEC);
	return 0;
}

static int open_creating(void)
{
	open("/tmp/cmem-sandbox-must-not-exist", O_RDONLY | O_CREAT, 0600);
	return 0;
}

static int run_program(void)
{
	char *argv[] = { "/bin/true", NULL };

	execve(argv[0], argv, NULL);
	return 0;
}

static int make_pipe(void)
{
	int p[2];

	return pipe2(p, O_CLOEXEC) == 0 ? 0 : 1;
}

static int make_process(void)
{
	return fork() == -1 ? 0 : 0;
}

static int packet_socket(void)
{
	socket(AF_PACKET, SOCK_DGRAM, 0);
	return 0;
}

static int other_netlink(void)
{
	socket(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT);
	return 0;
}

static int trace_parent(void)
{
	ptrace(PTRACE_ATTACH, getppid(), NULL, NULL);
	return 0;
}

static int become_dumpable(void)
{
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	return 0;
}

static int set_interface_flags(void)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	ioctl(s, SIOCSIFFLAGS, &ifr);
	return 0;
}

/* x86_64: the x32 ABI (syscall number | 0x40000000) is another architecture. */
static int x32_call(void)
{
#if defined(__x86_64__)
	syscall(0x40000000 | 39 /* getpid */);
	return 0;
#else
	return 200;
#endif
}

static int seccomp_status(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	int mode = -1;

	if (f == NULL)
		return 1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Seccomp: %d", &mode) == 1)
			break;
	fclose(f);
	return mode == 2 ? 0 : 2;
}

static void test_loop_calls_allowed(void **state)
{
	(void)state;
	allowed(loop_calls);
	allowed(open_read_only);
	allowed(seccomp_status);
}

static void test_other_calls_kill(void **state)
{
	(void)state;
	killed(run_program);
	killed(make_process);
	killed(make_pipe);
	killed(open_for_writing);
	killed(open_creating);
	killed(packet_socket);
	killed(other_netlink);
	killed(trace_parent);
	killed(become_dumpable);
	killed(set_interface_flags);
	assert_int_equal(access("/tmp/cmem-sandbox-must-not-exist", F_OK), -1);
}

static void test_other_abi_kills(void **state)
{
	(void)state;
#if defined(__x86_64__)
	killed(x32_call);
#else
	skip();
#endif
}

/* The readable form names the calls and the action. */
static void test_export(void **state)
{
	char path[] = "/tmp/cmem-sandbox.XXXXXX", text[65536], err[SANDBOX_ERRLEN];
	int fd = mkstemp(path);
	ssize_t r;

	(void)state;
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(sandbox_export(fd, err, sizeof(err)), 0);
	r = pread(fd, text, sizeof(text) - 1, 0);
	close(fd);
	assert_true(r > 0);
	text[r] = '\0';
	assert_non_null(strstr(text, "\nallow recvmmsg\n"));
	assert_non_null(strstr(text, "\nallow socket if arg0 in {"));
	assert_non_null(strstr(text, "\nallow openat if arg2 & 0x243 in {0x0}\n"));
	assert_non_null(strstr(text, "\nanything else: KILL_PROCESS\n"));
	assert_null(strstr(text, "execve"));
	assert_null(strstr(text, "fork"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loop_calls_allowed),
		cmocka_unit_test(test_other_calls_kill),
		cmocka_unit_test(test_other_abi_kills),
		cmocka_unit_test(test_export),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
