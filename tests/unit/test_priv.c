/*
 * Unit tests: start-up hygiene in priv.c: the pidfile lock on a read-only
 * descriptor, run-time directories, inherited descriptors, run-as users
 * with id 0.
 */
#include "testutil.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>

#include "priv.h"

static char dir[128];
static char err[PRIV_ERRLEN];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s/cmem-priv.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(dir));
	err[0] = '\0';
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	(void)state;
	return nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t r;

	assert_true(fd >= 0);
	r = read(fd, buf, size - 1);
	assert_true(r >= 0);
	buf[r] = '\0';
	close(fd);
}

/* The kept descriptor holds the lock but cannot write the file. */
static void test_pidfile_lock_is_read_only(void **state)
{
	char path[256], buf[64], want[64], msg[PRIV_ERRLEN];
	int fd, other;

	(void)state;
	snprintf(path, sizeof(path), "%s/cmemd.pid", dir);
	fd = priv_pidfile_lock(path, err, sizeof(err));
	assert_true(fd >= 0);
	assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	assert_int_equal(priv_pidfile_write(fd, path, err, sizeof(err)), 0);
	read_file(path, buf, sizeof(buf));
	snprintf(want, sizeof(want), "%ld\n", (long)getpid());
	assert_string_equal(buf, want);
	errno = 0;
	assert_int_equal(write(fd, "1\n", 2), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(ftruncate(fd, 0), -1);

	/* the lock still holds after writing: a second daemon is told who runs */
	other = open(path, O_RDONLY);
	assert_int_equal(flock(other, LOCK_EX | LOCK_NB), -1);
	close(other);
	assert_int_equal(priv_pidfile_lock(path, msg, sizeof(msg)), -1);
	snprintf(want, sizeof(want), "cmemd is already running as pid %ld", (long)getpid());
	assert_non_null(strstr(msg, want));
	close(fd);
	/* released with the descriptor */
	fd = priv_pidfile_lock(path, err, sizeof(err));
	assert_true(fd >= 0);
	close(fd);
}

/* A file swapped in at the path after the lock is not written. */
static void test_pidfile_replaced(void **state)
{
	char path[256], other[256], buf[16];
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/cmemd.pid", dir);
	snprintf(other, sizeof(other), "%s/other", dir);
	fd = priv_pidfile_lock(path, err, sizeof(err));
	assert_true(fd >= 0);
	close(open(other, O_WRONLY | O_CREAT, 0644));
	assert_int_equal(rename(other, path), 0);
	assert_int_equal(priv_pidfile_write(fd, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "was replaced after we locked it"));
	read_file(path, buf, sizeof(buf));
	assert_string_equal(buf, "");
	close(fd);
}

static void test_pidfile_symlink_refused(void **state)
{
	char path[256], target[256];

	(void)state;
	snprintf(path, sizeof(path), "%s/cmemd.pid", dir);
	snprintf(target, sizeof(target), "%s/target", dir);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(priv_pidfile_lock(path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "pidfile"));
	assert_int_equal(access(target, F_OK), -1); /* nothing created through the link */
}

/* A fresh /run: the directory is made, mode 0755 whatever the umask. */
static void test_make_rundir(void **state)
{
	char path[320], sub[256];
	struct stat st;
	mode_t old = umask(077);

	(void)state;
	snprintf(sub, sizeof(sub), "%s/cmem", dir);
	snprintf(path, sizeof(path), "%s/cmemd.pid", sub);
	assert_int_equal(priv_make_rundir(path, err, sizeof(err)), 0);
	umask(old);
	assert_int_equal(stat(sub, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_int_equal(st.st_uid, geteuid());

	/* there already: left as it is */
	assert_int_equal(chmod(sub, 0750), 0);
	assert_int_equal(priv_make_rundir(path, err, sizeof(err)), 0);
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);

	/* one level only: a missing parent of the directory is an error */
	snprintf(path, sizeof(path), "%s/a/b/cmemd.pid", dir);
	assert_int_equal(priv_make_rundir(path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file or directory"));
	assert_non_null(strstr(err, "/a/b"));
}

/* In a child: descriptors 5 and 60 inherited, closed; 0-2 kept. */
static void test_close_inherited(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int ok = dup2(STDERR_FILENO, 5) == 5 && dup2(STDERR_FILENO, 60) == 60 &&
		         priv_close_inherited(err, sizeof(err)) == 0 && fcntl(5, F_GETFD) == -1 &&
		         errno == EBADF && fcntl(60, F_GETFD) == -1 && fcntl(0, F_GETFD) != -1 &&
		         fcntl(1, F_GETFD) != -1 && fcntl(2, F_GETFD) != -1;

		_exit(ok ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_run_as_user_with_id_0_refused(void **state)
{
	char passwd[256];
	struct priv_user u = { 0 };
	FILE *f;

	(void)state;
	snprintf(passwd, sizeof(passwd), "%s/passwd", dir);
	f = fopen(passwd, "w");
	assert_non_null(f);
	fputs("root:x:0:0:root:/root:/bin/sh\n"
	      "toor:x:0:1000::/:/usr/sbin/nologin\n"
	      "wheelie:x:998:0::/:/usr/sbin/nologin\n"
	      "cmem:x:999:999::/var/lib/cmem:/usr/sbin/nologin\n",
	      f);
	fclose(f);
	assert_int_equal(priv_lookup_user_in(passwd, "cmem", &u, err, sizeof(err)), 0);
	assert_int_equal(u.uid, 999);
	assert_int_equal(u.gid, 999);
	assert_string_equal(u.name, "cmem");
	assert_int_equal(priv_lookup_user_in(passwd, "root", &u, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "user 'root' has uid 0"));
	assert_int_equal(priv_lookup_user_in(passwd, "toor", &u, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "user 'toor' has uid 0"));
	assert_int_equal(priv_lookup_user_in(passwd, "wheelie", &u, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "user 'wheelie' has group id 0"));
	assert_int_equal(priv_lookup_user_in(passwd, "nobody-here", &u, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "user 'nobody-here' does not exist in"));
	/* the system's own root too */
	assert_int_equal(priv_lookup_user("root", &u, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "has uid 0 in /etc/passwd"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pidfile_lock_is_read_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pidfile_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pidfile_symlink_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_make_rundir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_inherited, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_as_user_with_id_0_refused, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
