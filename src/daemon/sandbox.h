/*
 * sandbox: the seccomp system call allow-list cmemd installs after the
 * privilege drop.
 *
 * A classic BPF program written by this module (see sandbox.c for why not
 * libseccomp): the native architecture only (an x32 or 32-bit call
 * kills), the calls of the loop, a few of them with an argument check.
 * Anything outside the list kills the whole process
 * (SECCOMP_RET_KILL_PROCESS), so that a flaw in the daemon cannot be
 * turned into running a program, opening a file for writing, tracing
 * another process, opening a raw socket or executing memory it wrote.
 */
#ifndef CMEM_SANDBOX_H
#define CMEM_SANDBOX_H

#include <stddef.h>

#define SANDBOX_ERRLEN 256

/*
 * Install the filter on the calling process for good (no_new_privs must
 * be set, or CAP_SYS_ADMIN held).  0, or -1 with a message in err.
 */
int sandbox_install(char *err, size_t errlen);

/*
 * Landlock: no connect() to an abstract AF_UNIX socket made outside this
 * process (what the filter cannot check: the address is behind a pointer).
 * 0 done; 1 this kernel cannot (before Linux 6.12), err says so; -1 error.
 */
int sandbox_scope(char *err, size_t errlen);

/* The filter in readable form, one rule a line, to fd (tests, debugging). */
int sandbox_export(int fd, char *err, size_t errlen);

#endif
