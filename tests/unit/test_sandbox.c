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
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "sandbox.h"

typedef int (*child_fn)(void);

static int scope_first; /* sandbox_scope() before the filter, as cmemd does */

/* Run fn in a child under the filter; its wait status. */
static int run_filtered(child_fn fn)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		char err[SANDBOX_ERRLEN];

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
		    (scope_first && sandbox_scope(err, sizeof(err)) != 0) ||
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

static int exec_mapping(void)
{
	mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return 0;
}

static int make_executable(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return 1;
	mprotect(p, 4096, PROT_READ | PROT_EXEC);
	return 0;
}

static int unix_stream_socket(void)
{
	socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	return 0;
}

static int raw_ip_socket(void)
{
	socket(AF_INET, SOCK_RAW, IPPROTO_UDP);
	return 0;
}

/* syslog's socket, re-made after a syslog restart */
static int unix_dgram_socket(void)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	return fd >= 0 ? 0 : 1;
}

static int open_directory(void)
{
	open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return 0;
}

static int open_path_handle(void)
{
	open("/", O_PATH | O_CLOEXEC);
	return 0;
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
	allowed(unix_dgram_socket);
}

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#endif

/*
 * abort() (and fortify failures, which call it) dies by SIGABRT, not
 * SIGSYS.  Under ASan, whose abort() first calls sigaltstack() of its own,
 * the kernel call that glibc's abort() ends in: tgkill(SIGABRT).
 */
static int call_abort(void)
{
#ifdef UNDER_ASAN
	syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), SIGABRT);
	return 1;
#else
	abort();
#endif
}

static void test_abort_is_sigabrt(void **state)
{
	int status = run_filtered(call_abort);

	(void)state;
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
}

/* An abstract socket made outside the daemon: connect() refused; a named one works. */
static const char abstract_name[] = "\0cmem-sandbox-test";
static char named_path[64];

static int connect_to(const struct sockaddr_un *sun, socklen_t len)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	return fd != -1 && connect(fd, (const struct sockaddr *)sun, len) == 0 ? 0 : errno;
}

static socklen_t abstract_addr(struct sockaddr_un *a)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	memcpy(a->sun_path, abstract_name, sizeof(abstract_name) - 1);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + sizeof(abstract_name) - 1);
}

static int scoped_connects(void)
{
	struct sockaddr_un a, n = { .sun_family = AF_UNIX };
	socklen_t alen = abstract_addr(&a);

	memcpy(n.sun_path, named_path, strlen(named_path) + 1);
	if (connect_to(&a, alen) != EPERM)
		return 3;
	return connect_to(&n, sizeof(n)) == 0 ? 0 : 4;
}

static void test_abstract_sockets_out_of_reach(void **state)
{
	struct sockaddr_un a, n = { .sun_family = AF_UNIX };
	socklen_t alen = abstract_addr(&a);
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, 1U);
	int sa, sn;

	(void)state;
	if (abi < 6) {
		print_message("Landlock ABI %ld: abstract sockets cannot be scoped here\n", abi);
		skip();
	}
	sa = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(sa, (struct sockaddr *)&a, alen), 0);
	assert_int_equal(connect_to(&a, alen), 0); /* reachable without the scope */
	snprintf(named_path, sizeof(named_path), "/tmp/cmem-sandbox-%d.sock", (int)getpid());
	memcpy(n.sun_path, named_path, strlen(named_path) + 1);
	unlink(named_path);
	sn = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(sn, (struct sockaddr *)&n, sizeof(n)), 0);
	scope_first = 1;
	allowed(scoped_connects);
	scope_first = 0;
	close(sa);
	close(sn);
	unlink(named_path);
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
	killed(open_directory);
	killed(open_path_handle);
	killed(exec_mapping);
	killed(make_executable);
	killed(unix_stream_socket);
	killed(raw_ip_socket);
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
	assert_non_null(strstr(text, "\nallow openat if arg2 & 0x210643 in {0x0}\n"));
	assert_non_null(strstr(text, "\nallow mmap if arg2 & 0x4 in {0x0}\n"));
	assert_null(strstr(text, "\nallow mprotect\n"));
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
		cmocka_unit_test(test_abort_is_sigabrt),
		cmocka_unit_test(test_abstract_sockets_out_of_reach),
		cmocka_unit_test(test_export),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
