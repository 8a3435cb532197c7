/* priv: pidfile, daemonize, chroot, privilege drop. */
#include "priv.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "safedir.h"

static int ready_fd = -1;

static int perr(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s: %s", what, strerror(errno));
	return -1;
}

/*
 * Users and groups are read from /etc/passwd and /etc/group directly, not
 * through NSS: cmemd is linked statically to stay small, and a daemon's
 * run-as account is a local system account anyway.
 */
int priv_lookup_user(const char *name, struct priv_user *u, char *err, size_t errlen)
{
	return priv_lookup_user_in("/etc/passwd", name, u, err, errlen);
}

/* Dropping to uid 0 or gid 0 would keep root's files and groups: refused. */
static int check_not_root(const char *passwd, const struct passwd *pw, char *err, size_t errlen)
{
	if (pw->pw_uid == 0) {
		snprintf(err, errlen, "user '%s' has uid 0 in %s: cmemd must run as an unprivileged "
		         "user (set `user`, e.g. to a system user made with `useradd --system cmem`)",
		         pw->pw_name, passwd);
		return -1;
	}
	if (pw->pw_gid == 0) {
		snprintf(err, errlen, "user '%s' has group id 0 (root's group) in %s: give it a "
		         "group of its own", pw->pw_name, passwd);
		return -1;
	}
	return 0;
}

int priv_lookup_user_in(const char *passwd, const char *name, struct priv_user *u, char *err,
                        size_t errlen)
{
	FILE *f = fopen(passwd, "re");
	struct passwd *pw;
	int rc = 0;

	if (f == NULL)
		return perr(err, errlen, passwd);
	while ((pw = fgetpwent(f)) != NULL && strcmp(pw->pw_name, name) != 0)
		;
	if (pw == NULL) {
		snprintf(err, errlen, "user '%s' does not exist in %s (create it with "
		         "`useradd --system %s`, or set `user` in the configuration)", name, passwd,
		         name);
		rc = -1;
	} else if (check_not_root(passwd, pw, err, errlen) == -1) {
		rc = -1;
	} else {
		u->uid = pw->pw_uid;
		u->gid = pw->pw_gid;
		snprintf(u->name, sizeof(u->name), "%s", name);
	}
	fclose(f);
	return rc;
}

int priv_lookup_group(const char *name, gid_t *gid)
{
	FILE *f = fopen("/etc/group", "re");
	struct group *gr;

	if (f == NULL)
		return -1;
	while ((gr = fgetgrent(f)) != NULL && strcmp(gr->gr_name, name) != 0)
		;
	if (gr != NULL)
		*gid = gr->gr_gid;
	fclose(f);
	return gr ? 0 : -1;
}

/*
 * The lock is held on a read-only descriptor: the one descriptor the
 * daemon keeps to the pidfile cannot write to it.  flock() does not need
 * write access.
 */
int priv_pidfile_lock(const char *path, char *err, size_t errlen)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	ssize_t r;

	if (fd == -1) {
		snprintf(err, errlen, "pidfile %s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		r = read(fd, buf, sizeof(buf) - 1);
		buf[r > 0 ? r : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		snprintf(err, errlen, "cmemd is already running as pid %s (pidfile %s is locked)",
		         buf[0] ? buf : "?", path);
		close(fd);
		return -1;
	}
	return fd;
}

/* Write through a descriptor of its own, closed at once; refuse a swapped file. */
int priv_pidfile_write(int lockfd, const char *path, char *err, size_t errlen)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat locked, st;

	if (fd == -1)
		return perr(err, errlen, path);
	if (fstat(lockfd, &locked) == -1 || fstat(fd, &st) == -1) {
		perr(err, errlen, path);
		close(fd);
		return -1;
	}
	if (locked.st_dev != st.st_dev || locked.st_ino != st.st_ino) {
		snprintf(err, errlen, "pidfile %s was replaced after we locked it", path);
		close(fd);
		return -1;
	}
	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, (size_t)n, 0) != n) {
		perr(err, errlen, path);
		close(fd);
		return -1;
	}
	return close(fd) == -1 ? perr(err, errlen, path) : 0;
}

/*
 * The directory of a run-time file (pidfile, control socket): on a fresh
 * /run it does not exist yet, so make it (one level, mode 0755 whatever
 * the umask, owned by whoever starts the daemon).
 */
int priv_make_rundir(const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	char *slash;
	int fd;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0700) == -1) {
		if (errno == EEXIST)
			return 0;
		snprintf(err, errlen, "cannot create directory %s for %s: %s", dir, path,
		         strerror(errno));
		return -1;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 || fchmod(fd, 0755) == -1) {
		snprintf(err, errlen, "directory %s: %s", dir, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	close(fd);
	log_info("created %s (mode 0755) for %s", dir, path);
	return 0;
}

/*
 * Descriptors inherited from whoever started us (beyond stdin, stdout and
 * stderr) would stay open across the chroot and the drop: close them all
 * before opening anything.
 */
int priv_close_inherited(char *err, size_t errlen)
{
	struct rlimit rl;

	if (close_range(STDERR_FILENO + 1, ~0U, 0) == 0)
		return 0;
	if (errno != ENOSYS)
		return perr(err, errlen, "close_range");
	/* kernels before 5.9: every possible descriptor, one by one */
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return perr(err, errlen, "getrlimit(RLIMIT_NOFILE)");
	for (rlim_t fd = STDERR_FILENO + 1; fd < rl.rlim_cur && fd < 1048576; fd++)
		close((int)fd);
	return 0;
}

int priv_daemonize(char *err, size_t errlen)
{
	int p[2], status, fd;
	pid_t pid;
	char c;

	if (pipe2(p, O_CLOEXEC) == -1)
		return perr(err, errlen, "pipe");
	pid = fork();
	if (pid == -1)
		return perr(err, errlen, "fork");
	if (pid > 0) { /* parent: wait for the child's verdict */
		close(p[1]);
		if (read(p[0], &c, 1) == 1)
			_exit(0);
		if (waitpid(pid, &status, 0) == pid && WIFEXITED(status))
			_exit(WEXITSTATUS(status) ? WEXITSTATUS(status) : 1);
		_exit(1);
	}
	close(p[0]);
	ready_fd = p[1];
	if (setsid() == -1)
		return perr(err, errlen, "setsid");
	fd = open("/dev/null", O_RDWR);
	if (fd == -1)
		return perr(err, errlen, "/dev/null");
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
	return 0;
}

void priv_ready(void)
{
	if (ready_fd != -1) {
		ssize_t w = write(ready_fd, "1", 1);

		(void)w;
		close(ready_fd);
		ready_fd = -1;
	}
}

int priv_check_chroot(const char *dir, char *err, size_t errlen)
{
	char what[PATH_MAX + 32];

	snprintf(what, sizeof(what), "chroot directory %s", dir);
	return safedir_check(what, dir, 0, err, errlen);
}

int priv_harden(char *err, size_t errlen)
{
	struct rlimit rl = { 0, 0 };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return perr(err, errlen, "prctl(PR_SET_NO_NEW_PRIVS)");
	/* a service manager that filters setrlimit (systemd's ~@resources) sets
	 * LimitCORE=0 itself: a limit already at 0 is what we want */
	if (setrlimit(RLIMIT_CORE, &rl) == -1 &&
	    (errno != EPERM || getrlimit(RLIMIT_CORE, &rl) == -1 || rl.rlim_max != 0))
		return perr(err, errlen, "setrlimit(RLIMIT_CORE)");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		return perr(err, errlen, "prctl(PR_SET_DUMPABLE)");
	return 0;
}

int priv_drop(const char *dir, const struct priv_user *u, char *err, size_t errlen)
{
	if (dir[0]) {
		if (chroot(dir) == -1)
			return perr(err, errlen, "chroot");
		if (chdir("/") == -1)
			return perr(err, errlen, "chdir(\"/\")");
	}
	if (setgroups(1, &u->gid) == -1)
		return perr(err, errlen, "setgroups");
	if (setresgid(u->gid, u->gid, u->gid) == -1)
		return perr(err, errlen, "setresgid");
	if (setresuid(u->uid, u->uid, u->uid) == -1)
		return perr(err, errlen, "setresuid");
	if (setuid(0) == 0 || seteuid(0) == 0) {
		snprintf(err, errlen, "privileges could be regained after dropping them: refusing to run");
		return -1;
	}
	return priv_harden(err, errlen);
}
