/*
 * privfile: the file I/O that key material needs, in one place for the
 * keyring, the key files and the bundle state.
 *
 * - Private files are read only if they are a regular file reached without
 *   following a symbolic link (O_NOFOLLOW), with no group or other access,
 *   owned by the caller or root, and no larger than the caller's cap; a
 *   buffer that held a refused or partial read is wiped.
 * - Files are written atomically: a temporary file in the same directory,
 *   created O_EXCL with the final mode whatever the umask, written, synced,
 *   renamed over the path, and the directory synced.  A reader sees the old
 *   file or the new one, never a part.  The temporary file (path.tmp.XXXXXX,
 *   holding the secret too) is removed on every way out, signals held until
 *   then; one left by a writer killed outright (SIGKILL, a crash) is removed
 *   at the next write of path.
 *
 * Functions return 0 / -1 (or NULL) and write one message naming the file
 * and the problem into err.
 */
#ifndef CMEM_PRIVFILE_H
#define CMEM_PRIVFILE_H

#include <stddef.h>

/*
 * Write data to path atomically with mode 0600.  Without replace, an
 * existing path (a dangling symbolic link included) is refused ("already
 * exists") and left alone; with replace, the file is swapped in one rename
 * and keeps the owner permission bits, owner and group of the file it
 * replaces (never group or other access).
 */
int privfile_write(const char *path, const void *data, size_t len, int replace, char *err,
                   size_t errlen);
/* Same for a file that holds no secret (a public key, a bundle): mode 0644. */
int privfile_write_public(const char *path, const void *data, size_t len, int replace,
                          char *err, size_t errlen);

/*
 * Open path read-only and check that it is private (see above); the
 * descriptor, or -1.
 */
int privfile_open(const char *path, char *err, size_t errlen);
/* Read a private file of at most cap bytes into buf; *len gets its length. */
int privfile_read(const char *path, void *buf, size_t cap, size_t *len, char *err,
                  size_t errlen);
/*
 * The same into sodium_malloc memory, NUL-terminated (the NUL is not
 * counted in *len); release with privfile_free, which wipes it.
 */
char *privfile_load(const char *path, size_t cap, size_t *len, char *err, size_t errlen);
void privfile_free(char *text);

/*
 * Read a file that holds no secret (a public key, a bundle, a hosts file)
 * of at most max bytes: malloc'd, NUL-terminated; NULL on error.
 */
char *privfile_read_public(const char *path, size_t max, size_t *len, char *err,
                           size_t errlen);

/* 1 if path exists (a dangling symbolic link included), 0 if not. */
int privfile_exists(const char *path);

#endif
