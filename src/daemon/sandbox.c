/*
 * sandbox: the system calls of cmemd's loop, and nothing else.
 *
 * A BPF program of our own, in the way of OpenSSH's seccomp sandbox, not
 * libseccomp: linked into the static daemon libseccomp added some 130 kB
 * to its resident size (its code and every architecture's syscall tables)
 * and 30 kB of private memory, for a program of about 130 instructions
 * that this file writes directly.
 *
 * The list was taken with `strace -f` of daemons under the whole system
 * test suite (receive, send, control clients, key rotation, signals,
 * syslog) and a filter in log mode over the same suite, plus what unicast
 * peers and the run-time interface following need (netlink, re-joining
 * the group on a new socket).  Calls that need an argument check get one:
 * sockets of the families and types the daemon uses (datagrams, and
 * rtnetlink), memory never executable (mmap, mprotect without PROT_EXEC),
 * plain read-only opens (SIGHUP re-reads the configuration where it is
 * reachable, a copy in the chroot included: no write, creation,
 * truncation, append, directory or O_PATH handle), the ioctls of interface lookups, read-only prctl()s, and what abort()
 * needs to die by SIGABRT rather than SIGSYS (tgkill and rt_sigaction of
 * SIGABRT).  The arguments checked are all int-sized in the kernel, so
 * their low 32 bits are what the kernel uses.
 *
 * What a filter cannot see (connect()'s address is behind a pointer) a
 * Landlock scope does: no abstract AF_UNIX socket made outside the daemon
 * can be connected to (Landlock ABI 6, Linux 6.12; older kernels are told
 * in the log).  Paths stay reachable: syslog's socket is re-connected by
 * its name after a syslog restart (log.c).
 */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "util.h"

#if defined(__x86_64__)
#define SANDBOX_ARCH AUDIT_ARCH_X86_64
#define SANDBOX_ARCH_NAME "x86_64"
#elif defined(__aarch64__)
#define SANDBOX_ARCH AUDIT_ARCH_AARCH64
#define SANDBOX_ARCH_NAME "aarch64"
#else
#error "sandbox: no seccomp filter for this architecture yet (add its AUDIT_ARCH_*)"
#endif
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "sandbox: argument offsets assume a little-endian machine"
#endif

#define SYS(x) { __NR_##x, #x }
#define ARG_LOW(i) ((uint32_t)offsetof(struct seccomp_data, args[i])) /* little-endian */
#define MAX_INSNS 256

struct sys {
	int nr;
	const char *name;
};

/* Allowed with any arguments. */
static const struct sys allowed[] = {
	/* the loop: poll, signalfd reads, control clients, the group socket */
#ifdef __NR_poll
	SYS(poll),
#endif
	SYS(ppoll), SYS(read), SYS(write), SYS(writev), SYS(close), SYS(accept4),
	SYS(getsockopt), SYS(recvmmsg), SYS(sendto),
	/* unicast peers, interface following (netlink, re-joining on a new socket), and
	 * syslog reconnecting after its daemon restarts */
	SYS(recvfrom), SYS(recvmsg), SYS(sendmsg), SYS(sendmmsg), SYS(setsockopt),
	SYS(getsockname), SYS(bind), SYS(connect), SYS(fcntl),
	/* SIGHUP re-reads the configuration file (stdio and libconfig; the default
	 * name is the host name) */
	SYS(fstat), SYS(newfstatat), SYS(statx), SYS(lseek), SYS(uname),
	/* time, randomness (libsodium), identity, memory (malloc, sodium_malloc) */
	SYS(clock_gettime), SYS(gettimeofday), SYS(getrandom), SYS(getpid), SYS(gettid), SYS(getuid),
	SYS(geteuid), SYS(getgid), SYS(getegid), SYS(brk), SYS(munmap), SYS(mremap),
	SYS(madvise), SYS(mlock), SYS(munlock),
	/* signals, and leaving (the leave copies go a heartbeat apart) */
	SYS(rt_sigreturn), SYS(rt_sigprocmask), SYS(restart_syscall), SYS(exit), SYS(exit_group),
#ifdef __NR_nanosleep
	SYS(nanosleep),
#endif
	SYS(clock_nanosleep),
};

/* Allowed when one argument (its low 32 bits, under mask if non-zero) is one of values. */
struct arg_rule {
	struct sys sys;
	unsigned arg;
	uint32_t mask;
	uint32_t values[4];
	unsigned nvalues;
};

static const struct arg_rule arg_rules[] = {
	/* interface lookups by name or index (if_nametoindex, if_indextoname) */
	{ SYS(ioctl), 1, 0, { SIOCGIFINDEX, SIOCGIFNAME, FIONREAD, TCGETS }, 4 },
	/* what `status` reports about the confinement */
	{ SYS(prctl), 0, 0, { PR_GET_NO_NEW_PRIVS, PR_GET_SECCOMP, PR_GET_DUMPABLE }, 3 },
	/* memory (malloc, sodium_malloc's guard pages), never executable */
	{ SYS(mmap), 2, PROT_EXEC, { 0 }, 1 },
	{ SYS(mprotect), 2, PROT_EXEC, { 0 }, 1 },
	/* plain read-only opens of files: no write access, creation, truncation, appending,
	 * directory listing (O_TMPFILE has O_DIRECTORY's bit) or O_PATH handle */
	{ SYS(openat), 2, O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND | O_DIRECTORY | O_PATH, { 0 }, 1 },
	/* abort() and fortify failures: SIGABRT to ourselves, its handler reset */
	{ SYS(tgkill), 2, 0, { SIGABRT }, 1 },
	{ SYS(rt_sigaction), 0, 0, { SIGABRT }, 1 },
};


/* socket(): datagrams of these families (syslog; the group, re-joined), and rtnetlink. */
static const uint32_t socket_families[] = { AF_UNIX, AF_INET, AF_INET6 };
#define SOCKET_FLAGS ((uint32_t)(SOCK_NONBLOCK | SOCK_CLOEXEC))

struct prog {
	struct sock_filter f[MAX_INSNS];
	unsigned n;
};

static void emit(struct prog *p, uint16_t code, uint32_t k, uint8_t jt, uint8_t jf)
{
	if (p->n < MAX_INSNS) /* a full program is refused as a whole in sandbox_build */
		p->f[p->n] = (struct sock_filter)BPF_JUMP(code, k, jt, jf);
	p->n++;
}

/* "if A == k: allow" */
static void allow_if(struct prog *p, uint32_t k)
{
	emit(p, BPF_JMP | BPF_JEQ | BPF_K, k, 0, 1);
	emit(p, BPF_RET | BPF_K, SECCOMP_RET_ALLOW, 0, 0);
}

/* Start a block for system call nr; block_end() makes a mismatch skip it. */
static unsigned block_start(struct prog *p, int nr)
{
	emit(p, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 0);
	return p->n - 1;
}

/* The block ends with kill: its call number was matched, its arguments were not. */
static void block_end(struct prog *p, unsigned start)
{
	emit(p, BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS, 0, 0);
	if (p->n <= MAX_INSNS)
		p->f[start].jf = (uint8_t)(p->n - start - 1);
}

static void arg_block(struct prog *p, const struct arg_rule *r)
{
	unsigned start = block_start(p, r->sys.nr);

	emit(p, BPF_LD | BPF_W | BPF_ABS, ARG_LOW(r->arg), 0, 0);
	if (r->mask)
		emit(p, BPF_ALU | BPF_AND | BPF_K, r->mask, 0, 0);
	for (unsigned i = 0; i < r->nvalues; i++)
		allow_if(p, r->values[i]);
	block_end(p, start);
}

/* socket(): rtnetlink raw, or a datagram socket of the families listed. */
static void socket_block(struct prog *p)
{
	unsigned start = block_start(p, __NR_socket), n = ARRAY_SIZE(socket_families);

	emit(p, BPF_LD | BPF_W | BPF_ABS, ARG_LOW(0), 0, 0);
	emit(p, BPF_JMP | BPF_JEQ | BPF_K, AF_NETLINK, 0, 7); /* else: to the families */
	emit(p, BPF_LD | BPF_W | BPF_ABS, ARG_LOW(1), 0, 0);
	emit(p, BPF_ALU | BPF_AND | BPF_K, ~SOCKET_FLAGS, 0, 0);
	emit(p, BPF_JMP | BPF_JEQ | BPF_K, SOCK_RAW, 0, 3);
	emit(p, BPF_LD | BPF_W | BPF_ABS, ARG_LOW(2), 0, 0);
	allow_if(p, NETLINK_ROUTE);
	emit(p, BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS, 0, 0);
	for (unsigned i = 0; i < n; i++) /* a family listed: on to its type */
		emit(p, BPF_JMP | BPF_JEQ | BPF_K, socket_families[i], (uint8_t)(n - i), 0);
	emit(p, BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS, 0, 0);
	emit(p, BPF_LD | BPF_W | BPF_ABS, ARG_LOW(1), 0, 0);
	emit(p, BPF_ALU | BPF_AND | BPF_K, ~SOCKET_FLAGS, 0, 0);
	allow_if(p, SOCK_DGRAM);
	block_end(p, start);
}

/*
 * The program: our architecture only (a call through another ABI, e.g. x32
 * or 32-bit, kills), then each allowed call, then the argument checks;
 * anything else kills the whole process.
 */
static int sandbox_build(struct prog *p, char *err, size_t errlen)
{
	p->n = 0;
	emit(p, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch), 0, 0);
	emit(p, BPF_JMP | BPF_JEQ | BPF_K, SANDBOX_ARCH, 1, 0);
	emit(p, BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS, 0, 0);
	emit(p, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr), 0, 0);
#ifdef __X32_SYSCALL_BIT
	emit(p, BPF_JMP | BPF_JGE | BPF_K, __X32_SYSCALL_BIT, 0, 1);
	emit(p, BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS, 0, 0);
#endif
	for (size_t i = 0; i < ARRAY_SIZE(allowed); i++)
		allow_if(p, (uint32_t)allowed[i].nr);
	for (size_t i = 0; i < ARRAY_SIZE(arg_rules); i++)
		arg_block(p, &arg_rules[i]);
	socket_block(p);
	emit(p, BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS, 0, 0);
	if (p->n > MAX_INSNS) {
		snprintf(err, errlen, "seccomp: the filter needs %u instructions, more than %d", p->n,
		         MAX_INSNS);
		return -1;
	}
	return 0;
}

int sandbox_install(char *err, size_t errlen)
{
	struct prog p;
	struct sock_fprog fprog;
	uint32_t action = SECCOMP_RET_KILL_PROCESS;

	if (sandbox_build(&p, err, errlen) == -1)
		return -1;
	/* before Linux 4.14, "kill process" would only kill the calling thread */
	if (syscall(__NR_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == -1) {
		snprintf(err, errlen, "seccomp: this kernel cannot kill a process from a filter "
		         "(Linux 4.14 or later needed; set seccomp = false to run without): %s",
		         strerror(errno));
		return -1;
	}
	fprog.len = (unsigned short)p.n;
	fprog.filter = p.f;
	if (syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) == -1) {
		snprintf(err, errlen, "seccomp: cannot install the system call filter: %s",
		         strerror(errno));
		return -1;
	}
	return 0;
}

/* Landlock's ABI, from Linux 6.12's <linux/landlock.h> (Debian 12's lacks "scoped"). */
struct scope_ruleset_attr {
	uint64_t handled_access_fs, handled_access_net, scoped;
};
#define LANDLOCK_VERSION_FLAG (1U << 0)       /* LANDLOCK_CREATE_RULESET_VERSION */
#define LANDLOCK_SCOPE_ABSTRACT (1ULL << 0)   /* LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET */
#define LANDLOCK_SCOPE_ABI 6

int sandbox_scope(char *err, size_t errlen)
{
	struct scope_ruleset_attr attr = { .scoped = LANDLOCK_SCOPE_ABSTRACT };
	long abi = syscall(__NR_landlock_create_ruleset, NULL, 0, LANDLOCK_VERSION_FLAG);
	int fd, r;

	if (abi == -1) { /* ENOSYS, EOPNOTSUPP (disabled), EPERM (a service manager's filter) */
		snprintf(err, errlen, "Landlock unavailable (%s): abstract AF_UNIX sockets stay "
		         "reachable", strerror(errno));
		return 1;
	}
	if (abi < LANDLOCK_SCOPE_ABI) {
		snprintf(err, errlen, "Landlock: this kernel cannot scope abstract sockets (ABI %ld, "
		         "6 needed: Linux 6.12): abstract AF_UNIX sockets stay reachable", abi);
		return 1;
	}
	fd = (int)syscall(__NR_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (fd == -1) {
		snprintf(err, errlen, "Landlock: cannot create the ruleset: %s", strerror(errno));
		return -1;
	}
	r = (int)syscall(__NR_landlock_restrict_self, fd, 0);
	close(fd);
	if (r == -1) {
		snprintf(err, errlen, "Landlock: cannot restrict the daemon: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void export_rule(FILE *f, const struct arg_rule *r)
{
	fprintf(f, "allow %s if arg%u", r->sys.name, r->arg);
	if (r->mask)
		fprintf(f, " & 0x%x", (unsigned)r->mask);
	fprintf(f, " in {");
	for (unsigned i = 0; i < r->nvalues; i++)
		fprintf(f, "%s0x%x", i ? ", " : "", (unsigned)r->values[i]);
	fprintf(f, "}\n");
}

int sandbox_export(int fd, char *err, size_t errlen)
{
	struct prog p;
	FILE *f;

	if (sandbox_build(&p, err, errlen) == -1)
		return -1;
	f = fdopen(dup(fd), "w");
	if (f == NULL) {
		snprintf(err, errlen, "seccomp: cannot write the filter: %s", strerror(errno));
		return -1;
	}
	fprintf(f, "# cmemd system call filter: %u BPF instructions\n", p.n);
	fprintf(f, "arch %s only (AUDIT_ARCH 0x%x), else KILL_PROCESS\n", SANDBOX_ARCH_NAME,
	        (unsigned)SANDBOX_ARCH);
	for (size_t i = 0; i < ARRAY_SIZE(allowed); i++)
		fprintf(f, "allow %s\n", allowed[i].name);
	for (size_t i = 0; i < ARRAY_SIZE(arg_rules); i++)
		export_rule(f, &arg_rules[i]);
	fprintf(f, "allow socket if arg0 in {0x%x, 0x%x, 0x%x} and arg1 & ~0x%x == 0x%x, "
	        "or arg0 == 0x%x and arg1 & ~0x%x == 0x%x and arg2 == 0x%x\n",
	        socket_families[0], socket_families[1], socket_families[2], SOCKET_FLAGS,
	        SOCK_DGRAM, AF_NETLINK, SOCKET_FLAGS, SOCK_RAW, NETLINK_ROUTE);
	fprintf(f, "anything else: KILL_PROCESS\n");
	if (fclose(f) == EOF) {
		snprintf(err, errlen, "seccomp: cannot write the filter: %s", strerror(errno));
		return -1;
	}
	return 0;
}
