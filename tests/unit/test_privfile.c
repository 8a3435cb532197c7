/*
 * test_privfile: the file I/O of key material.  Files are written
 * atomically with the right mode whatever the umask, never over an
 * existing file unless asked; private files are read only when they are a
 * regular file reached without a symbolic link, private to their owner and
 * not too large, and a refused read leaves no secret in the buffer.
 */
#include "testutil.h"

#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "privfile.h"
#include "util.h"

struct fixture {
	char dir[256];
	char path[512]; /* dir/ring, not created yet */
	char out[512];  /* dir/out, not created yet */
	char err[512];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || sodium_init() == -1)
		return -1;
	tu_mkdtemp(f->dir, sizeof(f->dir));
	tu_path(f->path, sizeof(f->path), f->dir, "ring");
	tu_path(f->out, sizeof(f->out), f->dir, "out");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	tu_rmtree(f->dir);
	free(f);
	return 0;
}

static void assert_err(const struct fixture *f, const char *needle)
{
	if (strstr(f->err, needle) == NULL)
		fail_msg("message does not say \"%s\": \"%s\"", needle, f->err);
}

static void test_mode_whatever_the_umask(void **state)
{
	struct fixture *f = *state;
	mode_t old = umask(0);
	char pub[512];

	tu_path(pub, sizeof(pub), f->dir, "pub");
	assert_int_equal(privfile_write(f->path, "x\n", 2, 0, f->err, sizeof(f->err)), 0);
	assert_int_equal(privfile_write_public(pub, "y\n", 2, 0, f->err, sizeof(f->err)), 0);
	umask(0277); /* would leave the owner read-only */
	assert_int_equal(privfile_write(f->out, "z\n", 2, 0, f->err, sizeof(f->err)), 0);
	umask(old);
	assert_int_equal(tu_mode_of(f->path), 0600);
	assert_int_equal(tu_mode_of(pub), 0644);
	assert_int_equal(tu_mode_of(f->out), 0600);
}

static void test_refuses_to_overwrite(void **state)
{
	struct fixture *f = *state;
	size_t len = 0;
	char *text;

	assert_int_equal(privfile_write(f->path, "old\n", 4, 0, f->err, sizeof(f->err)), 0);
	assert_int_equal(privfile_write(f->path, "new\n", 4, 0, f->err, sizeof(f->err)), -1);
	assert_err(f, f->path);
	assert_err(f, "already exists");
	text = tu_read_file(f->path, &len);
	assert_string_equal(text, "old\n");
	free(text);
	/* a dangling symbolic link is not followed to create its target */
	assert_int_equal(symlink("nowhere", f->out), 0);
	assert_int_equal(privfile_write(f->out, "new\n", 4, 0, f->err, sizeof(f->err)), -1);
	assert_err(f, "already exists");
	assert_int_equal(tu_count_entries(f->dir), 2);
}

static void test_replace_is_atomic_and_keeps_mode(void **state)
{
	struct fixture *f = *state;
	struct stat before, after;
	mode_t old = umask(0);
	char *text;

	assert_int_equal(privfile_write(f->path, "old\n", 4, 0, f->err, sizeof(f->err)), 0);
	assert_int_equal(chmod(f->path, 0400), 0);
	assert_int_equal(stat(f->path, &before), 0);
	assert_int_equal(privfile_write(f->path, "new\n", 4, 1, f->err, sizeof(f->err)), 0);
	assert_int_equal(stat(f->path, &after), 0);
	assert_true(before.st_ino != after.st_ino); /* a new file renamed over, not rewritten */
	assert_int_equal(tu_mode_of(f->path), 0400);
	text = tu_read_file(f->path, NULL);
	assert_string_equal(text, "new\n");
	free(text);
	/* a private file never keeps group or other access */
	assert_int_equal(chmod(f->path, 0644), 0);
	assert_int_equal(privfile_write(f->path, "3\n", 2, 1, f->err, sizeof(f->err)), 0);
	assert_int_equal(tu_mode_of(f->path), 0600);
	umask(old);
	assert_int_equal(tu_count_entries(f->dir), 1);
}

static void test_read_private_refusals(void **state)
{
	struct fixture *f = *state;
	char buf[64];
	size_t len = 0;

	assert_int_equal(tu_write_file(f->path, "secret\n", 7, 0640), 0);
	assert_int_equal(privfile_read(f->path, buf, sizeof(buf), &len, f->err,
	                                      sizeof(f->err)),
	                 -1);
	assert_err(f, "too open");
	assert_int_equal(chmod(f->path, 0600), 0);
	assert_int_equal(symlink(f->path, f->out), 0);
	assert_int_equal(privfile_read(f->out, buf, sizeof(buf), &len, f->err,
	                                      sizeof(f->err)),
	                 -1);
	assert_err(f, "symbolic link");
	assert_int_equal(privfile_read(f->path, buf, 4, &len, f->err, sizeof(f->err)), -1);
	assert_err(f, "larger than");
	assert_int_equal(privfile_read(f->path, buf, sizeof(buf), &len, f->err,
	                                      sizeof(f->err)),
	                 0);
	assert_int_equal(len, 7);
}


static void test_refuses_non_regular_and_missing(void **state)
{
	struct fixture *f = *state;
	char buf[64];
	size_t len = 0;

	assert_int_equal(privfile_read(f->dir, buf, sizeof(buf), &len, f->err, sizeof(f->err)),
	                 -1);
	assert_err(f, "not a regular file");
	assert_int_equal(mkfifo(f->path, 0600), 0);
	/* O_NONBLOCK: a FIFO with no writer must not hang the reader */
	assert_int_equal(privfile_open(f->path, f->err, sizeof(f->err)), -1);
	assert_err(f, "not a regular file");
	assert_int_equal(privfile_read(f->out, buf, sizeof(buf), &len, f->err, sizeof(f->err)),
	                 -1);
	assert_err(f, "cannot open: No such file or directory");
	assert_err(f, f->out);
}

static void test_refuses_foreign_owner(void **state)
{
	struct fixture *f = *state;
	char buf[64];
	size_t len = 0;

	if (geteuid() != 0)
		skip(); /* only root can give a file away */
	assert_int_equal(tu_write_file(f->path, "secret\n", 7, 0600), 0);
	assert_int_equal(chown(f->path, 65534, 65534), 0);
	assert_int_equal(privfile_read(f->path, buf, sizeof(buf), &len, f->err, sizeof(f->err)),
	                 -1);
	assert_err(f, "owned by uid 65534");
}

/* A refused read leaves nothing of the file in the caller's buffer. */
static void test_refused_read_is_wiped(void **state)
{
	struct fixture *f = *state;
	char buf[8], zero[8] = { 0 };
	size_t len = 0;

	assert_int_equal(tu_write_file(f->path, "0123456789abcdef", 16, 0600), 0);
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(privfile_read(f->path, buf, sizeof(buf), &len, f->err, sizeof(f->err)),
	                 -1);
	assert_err(f, "larger than 8 bytes");
	assert_memory_equal(buf, zero, sizeof(buf));
}

static void test_load_and_read_public(void **state)
{
	struct fixture *f = *state;
	size_t len = 0;
	char *text;

	assert_int_equal(privfile_write(f->path, "1 abc\n", 6, 0, f->err, sizeof(f->err)), 0);
	text = privfile_load(f->path, 64, &len, f->err, sizeof(f->err));
	assert_non_null(text);
	assert_int_equal(len, 6);
	assert_string_equal(text, "1 abc\n"); /* NUL-terminated */
	privfile_free(text);
	assert_null(privfile_load(f->path, 5, &len, f->err, sizeof(f->err)));
	assert_err(f, "larger than 5 bytes");
	/* a public file is read whatever its mode, through a link, capped too */
	assert_int_equal(chmod(f->path, 0644), 0);
	assert_null(privfile_load(f->path, 64, &len, f->err, sizeof(f->err)));
	assert_err(f, "too open");
	assert_int_equal(symlink(f->path, f->out), 0);
	text = privfile_read_public(f->out, 64, &len, f->err, sizeof(f->err));
	assert_non_null(text);
	assert_string_equal(text, "1 abc\n");
	free(text);
	assert_null(privfile_read_public(f->out, 3, &len, f->err, sizeof(f->err)));
	assert_err(f, "larger than 3 bytes");
}

/* A crash mid-write left path.tmp.XXXXXX with the secret: the next write removes it. */
static void test_stale_tmp_removed(void **state)
{
	static const char *const kept[] = { "ring.tmp.abc", "ring.tmp.abcdefg", "ring.tmp.ab-def",
		                            "other.tmp.ABC123", "ring.tmpxABC123" };
	struct fixture *f = *state;
	char stale[600], other[600], link[600];

	tu_path(stale, sizeof(stale), f->dir, "ring.tmp.Xy3Zq9");
	assert_int_equal(tu_write_file(stale, "1 secret primary\n", 17, 0600), 0);
	for (size_t i = 0; i < ARRAY_SIZE(kept); i++) {
		tu_path(other, sizeof(other), f->dir, kept[i]);
		assert_int_equal(tu_write_file(other, "x\n", 2, 0600), 0);
	}
	/* a link with a temporary name is removed as a name, never followed */
	tu_path(link, sizeof(link), f->dir, "ring.tmp.L1nk00");
	tu_path(other, sizeof(other), f->dir, "target");
	assert_int_equal(tu_write_file(other, "keep\n", 5, 0600), 0);
	assert_int_equal(symlink(other, link), 0);
	assert_int_equal(privfile_write(f->path, "new\n", 4, 0, f->err, sizeof(f->err)), 0);
	assert_int_equal(lstat(stale, &(struct stat){ 0 }), -1);
	assert_int_equal(errno, ENOENT);
	/* ring, the kept names, target and the link (not a regular file: left) */
	assert_int_equal(tu_count_entries(f->dir), 1 + (int)ARRAY_SIZE(kept) + 2);
	assert_int_equal(tu_mode_of(other), 0600);
}

/*
 * A signal during the write does not leave the temporary file: here the
 * write itself raises SIGXFSZ (a file size limit), which would kill the
 * writer between creating and renaming it were signals not held.
 */
static void test_signal_mid_write_leaves_no_tmp(void **state)
{
	struct fixture *f = *state;
	static char big[65536];
	int status;
	pid_t pid = fork();

	assert_true(pid != -1);
	if (pid == 0) {
		struct rlimit fsize = { 4096, 4096 }, core = { 0, 0 };

		setrlimit(RLIMIT_CORE, &core);
		setrlimit(RLIMIT_FSIZE, &fsize);
		privfile_write(f->path, big, sizeof(big), 0, f->err, sizeof(f->err));
		_exit(0); /* not reached: SIGXFSZ is delivered once the write returns */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGXFSZ);
	assert_int_equal(tu_count_entries(f->dir), 0);
}

static void test_exists(void **state)
{
	struct fixture *f = *state;

	assert_false(privfile_exists(f->path));
	assert_int_equal(symlink("nowhere", f->path), 0);
	assert_true(privfile_exists(f->path)); /* a dangling link is something */
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_mode_whatever_the_umask),
		T(test_refuses_to_overwrite),
		T(test_replace_is_atomic_and_keeps_mode),
		T(test_read_private_refusals),
		T(test_refuses_non_regular_and_missing),
		T(test_refuses_foreign_owner),
		T(test_refused_read_is_wiped),
		T(test_load_and_read_public),
		T(test_exists),
		T(test_stale_tmp_removed),
		T(test_signal_mid_write_leaves_no_tmp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
