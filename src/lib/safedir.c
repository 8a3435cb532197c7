/* safedir: a directory and its parents, changeable by nobody but their owner. */
#include "safedir.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

static int check_one(const char *what, const char *dir, int last, uid_t owner, char *err,
                     size_t errlen)
{
	struct stat st;

	if (stat(dir, &st) == -1) {
		seterr(err, errlen, "%s: cannot check directory %s: %s", what, dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		seterr(err, errlen, "%s: %s is not a directory", what, dir);
		return -1;
	}
	if (st.st_uid != 0 && st.st_uid != owner) {
		seterr(err, errlen, "%s: directory %s is owned by uid %u, not by root%s: its owner "
		       "could replace what is in it", what, dir, (unsigned)st.st_uid,
		       owner ? " or by the daemon's user" : "");
		return -1;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && (last || !(st.st_mode & S_ISVTX))) {
		seterr(err, errlen, "%s: directory %s is writable by %s (mode %04o): whoever can "
		       "write there could replace what is in it; use a directory only %s can write "
		       "(chmod go-w)", what, dir, (st.st_mode & S_IWOTH) ? "others" : "its group",
		       (unsigned)(st.st_mode & 07777), owner ? "the daemon's user" : "root");
		return -1;
	}
	return 0;
}

/* Every directory of dir, from "/" down: 0, or -1 at the first bad one. */
static int check_path(const char *what, const char *dir, uid_t owner, char *err, size_t errlen)
{
	char prefix[PATH_MAX];
	size_t len = strlen(dir);

	if (dir[0] != '/') {
		seterr(err, errlen, "%s: %s is not an absolute path", what, dir);
		return -1;
	}
	if (len >= sizeof(prefix)) {
		seterr(err, errlen, "%s: path too long", what);
		return -1;
	}
	if (check_one(what, "/", len == 1, owner, err, errlen) == -1)
		return -1;
	for (size_t i = 1; i <= len; i++) {
		if ((i < len && dir[i] != '/') || dir[i - 1] == '/')
			continue;
		memcpy(prefix, dir, i);
		prefix[i] = '\0';
		/* dir itself: the last name, trailing slashes or not */
		if (check_one(what, prefix, dir[i + strspn(dir + i, "/")] == '\0', owner, err,
		              errlen) == -1)
			return -1;
	}
	return 0;
}

int safedir_check(const char *what, const char *dir, uid_t owner, char *err, size_t errlen)
{
	char real[PATH_MAX];

	if (check_path(what, dir, owner, err, errlen) == -1)
		return -1;
	if (realpath(dir, real) == NULL) {
		seterr(err, errlen, "%s: cannot resolve %s: %s", what, dir, strerror(errno));
		return -1;
	}
	return check_path(what, real, owner, err, errlen);
}
