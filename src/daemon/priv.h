/*
 * priv: leaving root for good, in the open.
 *
 * Inherited descriptors closed, run-time directories made, a pidfile with
 * a lock on a read-only descriptor (a second daemon refuses and names the
 * pid that holds it), daemonizing with a readiness pipe (the starting shell gets
 * the daemon's start-up verdict as its exit status), the chroot check,
 * chroot, and the drop to the run-as user, proven by setuid(0) failing.
 */
#ifndef CMEM_PRIV_H
#define CMEM_PRIV_H

#include <stddef.h>
#include <sys/types.h>

#define PRIV_ERRLEN 512

struct priv_user {
	uid_t uid;
	gid_t gid;
	char name[64];
};

/*
 * The run-as user from /etc/passwd (priv_lookup_user_in: from another
 * file, for tests).  A user with uid 0 or group id 0 is refused.
 */
int priv_lookup_user(const char *name, struct priv_user *u, char *err, size_t errlen);
int priv_lookup_user_in(const char *passwd, const char *name, struct priv_user *u, char *err,
                        size_t errlen);
/* A group's id from /etc/group: 0, or -1 if there is no such group. */
int priv_lookup_group(const char *name, gid_t *gid);

/* Close every descriptor above stderr (those inherited from our parent). */
int priv_close_inherited(char *err, size_t errlen);

/* Create the missing directory of a run-time file (one level, root 0755 as root). */
int priv_make_rundir(const char *path, char *err, size_t errlen);

/*
 * Open and lock the pidfile: a read-only fd that holds the lock, or -1
 * with a message (e.g. the holder's pid).
 */
int priv_pidfile_lock(const char *path, char *err, size_t errlen);
/* Write our pid into the pidfile locked by lockfd (through a descriptor closed at once). */
int priv_pidfile_write(int lockfd, const char *path, char *err, size_t errlen);

/*
 * Fork into the background: setsid, std fds on /dev/null.  The parent
 * waits until the child calls priv_ready() (exit 0) or exits (its status).
 */
int priv_daemonize(char *err, size_t errlen);
void priv_ready(void);

/* The chroot directory and every directory above it must be owned by root
 * and not writable by group or others (safedir.h). */
int priv_check_chroot(const char *dir, char *err, size_t errlen);

/*
 * chroot (if dir is non-empty) and chdir("/"), setgroups, setresgid,
 * setresuid; then prove setuid(0) fails; then no_new_privs, no core dumps.
 */
int priv_drop(const char *dir, const struct priv_user *u, char *err, size_t errlen);

/* Only the no-new-privs and no-core-dump part (when not started as root). */
int priv_harden(char *err, size_t errlen);

#endif
