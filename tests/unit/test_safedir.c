/* Unit tests: the one safe-directory check (control socket directory, chroot). */
#include "testutil.h"

#include "priv.h"
#include "safedir.h"

struct fixture {
	char base[256], a[300], c[340], err[1024];
	uid_t me;
};

/* base (private, from mkdtemp) / a / b / c, each 0755. */
static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char b[320];

	assert_non_null(f);
	tu_mkdtemp(f->base, sizeof(f->base));
	assert_int_equal(chmod(f->base, 0755), 0);
	tu_path(f->a, sizeof(f->a), f->base, "a");
	tu_path(b, sizeof(b), f->a, "b");
	tu_path(f->c, sizeof(f->c), b, "c");
	assert_int_equal(mkdir(f->a, 0755), 0);
	assert_int_equal(mkdir(b, 0755), 0);
	assert_int_equal(mkdir(f->c, 0755), 0);
	f->me = geteuid();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	tu_rmtree(f->base);
	free(f);
	return 0;
}

static void refused(struct fixture *f, const char *dir, uid_t owner, const char *want)
{
	if (safedir_check("test", dir, owner, f->err, sizeof(f->err)) != -1)
		fail_msg("%s accepted", dir);
	if (strncmp(f->err, "test: ", 6) != 0 || strstr(f->err, want) == NULL)
		fail_msg("message '%s' lacks '%s'", f->err, want);
}

static void accepted(struct fixture *f, const char *dir, uid_t owner)
{
	if (safedir_check("test", dir, owner, f->err, sizeof(f->err)) != 0)
		fail_msg("%s refused: %s", dir, f->err);
}

/* A parent two levels up that others (or its group) can write spoils the directory. */
static void test_writable_parent(void **state)
{
	struct fixture *f = *state;
	char want[1024];

	accepted(f, f->c, f->me);
	assert_int_equal(chmod(f->a, 0777), 0);
	snprintf(want, sizeof(want), "directory %s is writable by others (mode 0777)", f->a);
	refused(f, f->c, f->me, want);
	assert_int_equal(chmod(f->a, 0775), 0);
	snprintf(want, sizeof(want), "directory %s is writable by its group (mode 0775)", f->a);
	refused(f, f->c, f->me, want);
	/* sticky (as /tmp): others cannot replace what is ours, fine above the directory ... */
	assert_int_equal(chmod(f->a, 01777), 0);
	accepted(f, f->c, f->me);
	/* ... but not for the directory itself, trailing slash or not */
	refused(f, f->a, f->me, "is writable by others (mode 1777)");
	snprintf(want, sizeof(want), "%s//", f->a);
	refused(f, want, f->me, "is writable by others (mode 1777)");
}

/* Owned by another user: refused, unless that user is the owner allowed (never for a chroot). */
static void test_owner(void **state)
{
	struct fixture *f = *state;
	char want[1024];

	if (f->me != 0)
		skip();
	assert_int_equal(chown(f->a, 65534, 65534), 0);
	snprintf(want, sizeof(want), "directory %s is owned by uid 65534, not by root", f->a);
	refused(f, f->c, 0, want);
	accepted(f, f->c, 65534);
	snprintf(want, sizeof(want), "chroot directory %s: directory %s is owned by uid 65534",
	         f->c, f->a);
	assert_int_equal(priv_check_chroot(f->c, f->err, sizeof(f->err)), -1);
	if (strstr(f->err, want) == NULL)
		fail_msg("message '%s' lacks '%s'", f->err, want);
}

/* A link is judged as written and by where it leads. */
static void test_links(void **state)
{
	struct fixture *f = *state;
	char open_dir[320], link[320], want[1024];

	tu_path(open_dir, sizeof(open_dir), f->base, "open");
	assert_int_equal(mkdir(open_dir, 0755), 0);
	assert_int_equal(chmod(open_dir, 0777), 0);
	/* a safe-looking link to an open directory */
	tu_path(link, sizeof(link), f->base, "run");
	assert_int_equal(symlink(open_dir, link), 0);
	snprintf(want, sizeof(want), "directory %s is writable by others", link);
	refused(f, link, f->me, want);
	/* a link to a safe directory, planted in an open one */
	tu_path(link, sizeof(link), open_dir, "c");
	assert_int_equal(symlink(f->c, link), 0);
	snprintf(want, sizeof(want), "directory %s is writable by others", open_dir);
	refused(f, link, f->me, want);
}

static void test_not_a_directory(void **state)
{
	struct fixture *f = *state;
	char file[400], missing[400];

	tu_path(file, sizeof(file), f->c, "file");
	assert_int_equal(tu_write_file(file, "x", 1, 0600), 0);
	refused(f, file, f->me, "is not a directory");
	tu_path(missing, sizeof(missing), f->c, "missing");
	refused(f, missing, f->me, "cannot check directory");
	refused(f, "var/lib/cmem", f->me, "var/lib/cmem is not an absolute path");
	accepted(f, "/", f->me);
}

/* The chroot check is this one: a writable parent is refused (it once looked at the chroot only). */
static void test_chroot_uses_it(void **state)
{
	struct fixture *f = *state;
	char want[1024];

	assert_int_equal(priv_check_chroot(f->c, f->err, sizeof(f->err)), f->me == 0 ? 0 : -1);
	assert_int_equal(chmod(f->a, 0777), 0);
	snprintf(want, sizeof(want), "chroot directory %s: directory %s is writable by others",
	         f->c, f->a);
	assert_int_equal(priv_check_chroot(f->c, f->err, sizeof(f->err)), -1);
	if (strstr(f->err, want) == NULL)
		fail_msg("message '%s' lacks '%s'", f->err, want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_writable_parent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_links, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chroot_uses_it, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
