/*
 * sandbox: the system calls of cmemd's loop, and nothing else.
 *
 * The list was taken with `strace -f` of daemons under the whole system
 * test suite (receive, send, control clients, key rotation, signals,
 * syslog) and a filter in log mode over the same suite, plus what unicast
 * peers and the run-time interface following need (netlink, re-joining
 * the group on a new socket).  Calls that need an argument
 * check get one: sockets of the four families the daemon uses, read-only
 * opens (SIGHUP re-reads the configuration when it is reachable), the
 * ioctls of interface lookups.
 */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <malloc.h>
#include <net/if.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <termios.h>

/* Allowed with any arguments. */
static const int allowed[] = {
	/* the loop: poll, signalfd reads, control clients, the group socket */
	SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(writev),
	SCMP_SYS(close), SCMP_SYS(accept4), SCMP_SYS(getsockopt), SCMP_SYS(recvmmsg),
	SCMP_SYS(sendto),
	/* unicast peers, interface following (netlink, re-joining on a new socket), and
	 * syslog reconnecting after its daemon restarts */
	SCMP_SYS(recvfrom), SCMP_SYS(recvmsg), SCMP_SYS(sendmsg), SCMP_SYS(sendmmsg),
	SCMP_SYS(setsockopt), SCMP_SYS(getsockname), SCMP_SYS(bind), SCMP_SYS(connect),
	SCMP_SYS(fcntl),
	/* SIGHUP re-reads the configuration file (stdio and libconfig; the default
	 * name is the host name) */
	SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(statx), SCMP_SYS(lseek), SCMP_SYS(uname),
	/* time, randomness (libsodium), identity, memory (malloc, sodium_malloc) */
	SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday), SCMP_SYS(getrandom), SCMP_SYS(getpid),
	SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid), SCMP_SYS(getegid),
	SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise),
	SCMP_SYS(mprotect), SCMP_SYS(mlock), SCMP_SYS(munlock),
	/* signals, and leaving */
	SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask), SCMP_SYS(restart_syscall),
	SCMP_SYS(exit), SCMP_SYS(exit_group),
};

/* Interface lookups by name or index (if_nametoindex, if_indextoname). */
static const unsigned long allowed_ioctls[] = { SIOCGIFINDEX, SIOCGIFNAME, FIONREAD, TCGETS };

/* What `status` reports about the confinement: read-only prctl()s. */
static const int allowed_prctls[] = { PR_GET_NO_NEW_PRIVS, PR_GET_SECCOMP, PR_GET_DUMPABLE };

/* Socket families the daemon uses: syslog and control (unix), the group, interface events. */
static const int allowed_families[] = { AF_UNIX, AF_INET, AF_INET6 };

/* Argument arg compared to v (under mask for SCMP_CMP_MASKED_EQ). */
static struct scmp_arg_cmp arg_cmp(unsigned arg, enum scmp_compare op, scmp_datum_t a,
                                   scmp_datum_t b)
{
	struct scmp_arg_cmp c = { .arg = arg, .op = op, .datum_a = a, .datum_b = b };

	return c;
}

static int add(scmp_filter_ctx ctx, int nr, unsigned n, const struct scmp_arg_cmp *args,
               char *err, size_t errlen)
{
	int rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, n, args);
	char *name;

	if (rc == 0)
		return 0;
	name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	snprintf(err, errlen, "seccomp: cannot allow %s: %s", name ? name : "a system call",
	         strerror(-rc));
	free(name);
	return -1;
}

static int add_rules(scmp_filter_ctx ctx, char *err, size_t errlen)
{
	/* opens without write access, creation or truncation */
	struct scmp_arg_cmp rdonly = arg_cmp(2, SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_TRUNC, 0);
	struct scmp_arg_cmp netlink[2] = { arg_cmp(0, SCMP_CMP_EQ, AF_NETLINK, 0),
		                           arg_cmp(2, SCMP_CMP_EQ, NETLINK_ROUTE, 0) };

	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (add(ctx, allowed[i], 0, NULL, err, errlen) == -1)
			return -1;
	for (size_t i = 0; i < sizeof(allowed_ioctls) / sizeof(allowed_ioctls[0]); i++) {
		struct scmp_arg_cmp a = arg_cmp(1, SCMP_CMP_EQ, allowed_ioctls[i], 0);

		if (add(ctx, SCMP_SYS(ioctl), 1, &a, err, errlen) == -1)
			return -1;
	}
	for (size_t i = 0; i < sizeof(allowed_prctls) / sizeof(allowed_prctls[0]); i++) {
		struct scmp_arg_cmp a = arg_cmp(0, SCMP_CMP_EQ, (scmp_datum_t)allowed_prctls[i], 0);

		if (add(ctx, SCMP_SYS(prctl), 1, &a, err, errlen) == -1)
			return -1;
	}
	for (size_t i = 0; i < sizeof(allowed_families) / sizeof(allowed_families[0]); i++) {
		struct scmp_arg_cmp a = arg_cmp(0, SCMP_CMP_EQ, (scmp_datum_t)allowed_families[i], 0);

		if (add(ctx, SCMP_SYS(socket), 1, &a, err, errlen) == -1)
			return -1;
	}
	if (add(ctx, SCMP_SYS(socket), 2, netlink, err, errlen) == -1 ||
	    add(ctx, SCMP_SYS(openat), 1, &rdonly, err, errlen) == -1)
		return -1;
	return 0;
}

/* The filter, ready to load or export; NULL with a message. */
static scmp_filter_ctx build(char *err, size_t errlen)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int rc;

	if (ctx == NULL) {
		snprintf(err, errlen, "seccomp: cannot initialize the filter");
		return NULL;
	}
	/* a call through another ABI (x32, 32-bit) kills too, not just the thread */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (rc != 0) {
		snprintf(err, errlen, "seccomp: cannot set the architecture check: %s", strerror(-rc));
		seccomp_release(ctx);
		return NULL;
	}
	if (add_rules(ctx, err, errlen) == -1) {
		seccomp_release(ctx);
		return NULL;
	}
	return ctx;
}

int sandbox_install(char *err, size_t errlen)
{
	scmp_filter_ctx ctx = build(err, errlen);
	int rc;

	if (ctx == NULL)
		return -1;
	rc = seccomp_load(ctx);
	seccomp_release(ctx);
	/* building the filter took some 50 kB of heap: give it back, every host runs this */
	malloc_trim(0);
	if (rc != 0) {
		snprintf(err, errlen, "seccomp: cannot load the filter: %s", strerror(-rc));
		return -1;
	}
	return 0;
}

int sandbox_export(int fd, char *err, size_t errlen)
{
	scmp_filter_ctx ctx = build(err, errlen);
	int rc;

	if (ctx == NULL)
		return -1;
	rc = seccomp_export_pfc(ctx, fd);
	seccomp_release(ctx);
	if (rc != 0) {
		snprintf(err, errlen, "seccomp: cannot export the filter: %s", strerror(-rc));
		return -1;
	}
	return 0;
}
