/*
 * privfile: private files read with checks, files written atomically
 * (rules in privfile.h).
 */
#include "privfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "util.h"

int privfile_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* The directory of path into buf: "." when path names no directory. */
static int dir_of(const char *path, char *buf, size_t size)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return xsnprintf(buf, size, ".") < 0 ? -1 : 0;
	if (slash == path)
		return xsnprintf(buf, size, "/") < 0 ? -1 : 0;
	return xsnprintf(buf, size, "%.*s", (int)(slash - path), path) < 0 ? -1 : 0;
}

/* Make a committed rename durable. */
static int sync_dir(const char *path)
{
	char dir[PATH_MAX];
	int fd, rc;

	if (dir_of(path, dir, sizeof(dir)) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Create tmp (a mkostemp template: O_EXCL, 0600), give it mode and owner,
 * write data and sync it.  On failure tmp does not exist.
 */
static int write_tmp(const char *path, char *tmp, const void *data, size_t len, mode_t mode,
                     const struct stat *old, char *err, size_t errlen)
{
	int fd = mkostemp(tmp, O_CLOEXEC);

	if (fd == -1) {
		seterr(err, errlen, "%s: cannot create a temporary file beside it: %s", path,
		       strerror(errno));
		return -1;
	}
	/* mkostemp's 0600 went through the umask: set the mode we mean */
	if (fchmod(fd, mode) == -1 ||
	    (old && (old->st_uid != geteuid() || old->st_gid != getegid()) &&
	     fchown(fd, old->st_uid, old->st_gid) == -1 && errno != EPERM) ||
	    write_all(fd, data, len) == -1 || fsync(fd) == -1) {
		seterr(err, errlen, "%s: cannot write %s: %s", path, tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) == -1) {
		seterr(err, errlen, "%s: cannot write %s: %s", path, tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* rename that refuses to replace an existing to. */
static int rename_noreplace(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* a file system without RENAME_NOREPLACE: link() never replaces either */
	if (link(from, to) == -1)
		return -1;
	unlink(from);
	return 0;
}

#define TMP_SUFFIX ".tmp."
#define TMP_RANDOM 6 /* the XXXXXX of mkostemp */

/* name is base TMP_SUFFIX and six letters or digits: a temporary file of base. */
static int is_tmp_of(const char *name, const char *base, size_t blen)
{
	const char *x = name + blen + strlen(TMP_SUFFIX);

	if (strncmp(name, base, blen) != 0 || strncmp(name + blen, TMP_SUFFIX, strlen(TMP_SUFFIX)) ||
	    strlen(x) != TMP_RANDOM)
		return 0;
	for (size_t i = 0; i < TMP_RANDOM; i++)
		if (!((x[i] >= 'a' && x[i] <= 'z') || (x[i] >= 'A' && x[i] <= 'Z') ||
		      (x[i] >= '0' && x[i] <= '9')))
			return 0;
	return 1;
}

/*
 * Temporary files of path left by a writer that died mid-write (killed,
 * or the machine stopped): regular files of ours named path.tmp.XXXXXX,
 * holding what path holds, secrets included.  Removed, so that no copy
 * outlives the crash beyond the next write.
 */
static void remove_stale_tmp(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
	struct dirent *e;
	struct stat st;
	DIR *d;

	if (dir_of(path, dir, sizeof(dir)) == -1 || (d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL)
		if (is_tmp_of(e->d_name, base, strlen(base)) &&
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && st.st_uid == geteuid())
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
}

static int write_replace(const char *path, const void *data, size_t len, mode_t mode,
                         mode_t keep, int replace, char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	struct stat st;
	int have_old = replace && lstat(path, &st) == 0 && S_ISREG(st.st_mode);

	if (xsnprintf(tmp, sizeof(tmp), "%s" TMP_SUFFIX "XXXXXX", path) < 0) {
		seterr(err, errlen, "%s: file name too long", path);
		return -1;
	}
	if (!replace && privfile_exists(path)) {
		seterr(err, errlen, "%s: already exists; refusing to overwrite it", path);
		return -1;
	}
	if (have_old) /* keep the mode, never adding group or other access */
		mode = (st.st_mode & keep) | S_IRUSR;
	if (write_tmp(path, tmp, data, len, mode, have_old ? &st : NULL, err, errlen) == -1)
		return -1;
	if ((replace ? rename(tmp, path) : rename_noreplace(tmp, path)) == -1) {
		if (errno == EEXIST)
			seterr(err, errlen, "%s: already exists; refusing to overwrite it", path);
		else
			seterr(err, errlen, "%s: cannot rename %s to it: %s", path, tmp,
			       strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (sync_dir(path) == -1) {
		seterr(err, errlen, "%s: written, but its directory cannot be synced: %s", path,
		       strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The temporary file exists only inside write_replace, which removes it
 * on every way out; signals wait until then (a SIGINT, a SIGTERM, a SIGXFSZ
 * from the write itself), so that only SIGKILL or a crash can leave one,
 * and the next write of the same path removes that.
 */
static int write_atomic(const char *path, const void *data, size_t len, mode_t mode,
                        mode_t keep, int replace, char *err, size_t errlen)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	remove_stale_tmp(path);
	rc = write_replace(path, data, len, mode, keep, replace, err, errlen);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return rc;
}

int privfile_write(const char *path, const void *data, size_t len, int replace, char *err,
                   size_t errlen)
{
	return write_atomic(path, data, len, 0600, S_IRWXU, replace, err, errlen);
}

int privfile_write_public(const char *path, const void *data, size_t len, int replace,
                          char *err, size_t errlen)
{
	return write_atomic(path, data, len, 0644, 0777, replace, err, errlen);
}

/* Read fd to its end into buf: 0, -1 (errno), or 1 if it holds more than cap. */
static int read_all(int fd, char *buf, size_t cap, size_t *len)
{
	char extra;
	ssize_t n;

	*len = 0;
	while (*len < cap) {
		n = read(fd, buf + *len, cap - *len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			return 0;
		*len += (size_t)n;
	}
	while ((n = read(fd, &extra, 1)) == -1 && errno == EINTR)
		;
	return n == -1 ? -1 : n > 0;
}

int privfile_open(const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);

	if (fd == -1) {
		if (errno == ELOOP)
			seterr(err, errlen, "%s: is a symbolic link; refusing to follow it", path);
		else
			seterr(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1)
		seterr(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		seterr(err, errlen, "%s: not a regular file", path);
	else if (st.st_mode & (S_IRWXG | S_IRWXO))
		seterr(err, errlen,
		       "%s: permissions %04o are too open: group and others must have no access "
		       "(chmod 600)",
		       path, (unsigned)(st.st_mode & 07777));
	else if (st.st_uid != 0 && st.st_uid != geteuid())
		seterr(err, errlen, "%s: owned by uid %u, not by uid %u or root", path,
		       (unsigned)st.st_uid, (unsigned)geteuid());
	else
		return fd;
	close(fd);
	return -1;
}

int privfile_read(const char *path, void *buf, size_t cap, size_t *len, char *err,
                  size_t errlen)
{
	int fd = privfile_open(path, err, errlen), rc;

	if (fd == -1)
		return -1;
	rc = read_all(fd, buf, cap, len);
	close(fd);
	if (rc == -1)
		seterr(err, errlen, "%s: read error: %s", path, strerror(errno));
	else if (rc == 1)
		seterr(err, errlen, "%s: larger than %zu bytes", path, cap);
	if (rc != 0)
		sodium_memzero(buf, cap);
	return rc == 0 ? 0 : -1;
}

char *privfile_load(const char *path, size_t cap, size_t *len, char *err, size_t errlen)
{
	char *text = sodium_malloc(cap + 1);

	if (text == NULL) {
		seterr(err, errlen, "%s: out of secure memory", path);
		return NULL;
	}
	if (privfile_read(path, text, cap, len, err, errlen) == -1) {
		sodium_free(text);
		return NULL;
	}
	text[*len] = '\0';
	return text;
}

void privfile_free(char *text)
{
	if (text)
		sodium_free(text); /* sodium_free wipes the whole region */
}

char *privfile_read_public(const char *path, size_t max, size_t *len, char *err,
                           size_t errlen)
{
	int fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC), rc;
	char *buf;

	if (fd == -1) {
		seterr(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	buf = xmalloc(max + 1);
	rc = read_all(fd, buf, max, len);
	close(fd);
	if (rc == 0) {
		buf[*len] = '\0';
		return buf;
	}
	if (rc == -1)
		seterr(err, errlen, "%s: read error: %s", path, strerror(errno));
	else
		seterr(err, errlen, "%s: larger than %zu bytes", path, max);
	free(buf);
	return NULL;
}
