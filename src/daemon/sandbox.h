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
 * another process or opening a raw socket.
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

/* The filter in readable form, one rule a line, to fd (tests, debugging). */
int sandbox_export(int fd, char *err, size_t errlen);

#endif
