/*
 * testutil: helpers shared by the cmocka unit tests.
 *
 * Header-only: every helper is static inline, so a test that does not use
 * one does not trip -Wunused-function.  Tests run from the tests/
 * directory, so the vectors are at TU_VECTORS "/...".
 */
#ifndef CMEM_TESTUTIL_H
#define CMEM_TESTUTIL_H

#include <dirent.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <sodium.h>

#include "keyring.h"
#include "log.h"

#define TU_VECTORS "vectors"
#define TU_VECTOR_KEYRING TU_VECTORS "/keyring"
#define TU_VECTOR_NOW 1764172800u /* receiver clock of vectors/v1.tsv */
#define TU_VECTOR_WINDOW 30u

/* TEST_KEY1_HEX, TEST_KEY2_HEX, TEST_KEYRING_TEXT: the secrets and text of
 * vectors/keyring, their one definition (made by the Makefile) */
#include "testkey.h"

/* The value of a hex digit (either case), or -1. */
static inline int tu_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decode hexlen hex digits into out (room for cap bytes).  Returns the
 * number of bytes written, or -1 on an odd length, a non-hex digit or
 * too little room.
 */
static inline ssize_t tu_hex_decode(const char *hex, size_t hexlen, uint8_t *out, size_t cap)
{
	if (hexlen % 2 || hexlen / 2 > cap)
		return -1;
	for (size_t i = 0; i < hexlen / 2; i++) {
		int hi = tu_hexval((unsigned char)hex[2 * i]);
		int lo = tu_hexval((unsigned char)hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (ssize_t)(hexlen / 2);
}

/* Whole file into a malloc'd, NUL-terminated buffer; NULL on error. */
static inline char *tu_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, r;

	if (f == NULL)
		return NULL;
	do {
		if (cap - n < 4096) {
			char *nb = realloc(buf, cap + 65536);

			if (nb == NULL) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
			cap += 65536;
		}
		r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
	} while (r > 0);
	if (ferror(f)) {
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

/* Create (or truncate) path with exactly this text and mode; 0 or -1. */
static inline int tu_write_file(const char *path, const char *text, size_t len, mode_t mode)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL)
		return -1;
	if (fwrite(text, 1, len, f) != len) {
		fclose(f);
		return -1;
	}
	if (fclose(f) != 0)
		return -1;
	return chmod(path, mode);
}

/*
 * The keyring of the test vectors.  vectors/keyring is checked in with
 * whatever mode git gave it, so it is parsed, not loaded with the file
 * checks of keyring_load().  Fails the test if it cannot be read.
 */
static inline struct keyring *tu_vector_keyring(void)
{
	char err[KEYRING_ERRLEN] = "";
	size_t len = 0;
	char *text = tu_read_file(TU_VECTOR_KEYRING, &len);
	struct keyring *kr;

	if (text == NULL)
		fail_msg("cannot read %s: %s", TU_VECTOR_KEYRING, strerror(errno));
	kr = keyring_parse(TU_VECTOR_KEYRING, text, len, err, sizeof(err));
	free(text);
	if (kr == NULL)
		fail_msg("%s", err);
	return kr;
}

/* Log capture through log_set_hook(): every message, concatenated. */
struct tu_log {
	char text[16384]; /* messages, each followed by '\n' (truncated if long) */
	size_t len;
	unsigned count;
	enum log_level last_level;
	enum log_level saved_level;
};

static inline void tu_log_hook(enum log_level level, const char *msg, void *arg)
{
	struct tu_log *c = arg;
	size_t room = sizeof(c->text) - c->len;
	int n = snprintf(c->text + c->len, room, "%s\n", msg);

	c->count++;
	c->last_level = level;
	if (n > 0)
		c->len += (size_t)n < room ? (size_t)n : room - 1;
}

/* Start capturing every level (debug included) into c. */
static inline void tu_log_capture(struct tu_log *c)
{
	memset(c, 0, sizeof(*c));
	c->saved_level = log_get_level();
	log_set_level(LOG_LEVEL_DEBUG);
	log_set_hook(tu_log_hook, c);
}

/* Stop capturing and restore the previous level. */
static inline void tu_log_release(struct tu_log *c)
{
	log_set_hook(NULL, NULL);
	log_set_level(c->saved_level);
}

static inline void tu_log_clear(struct tu_log *c)
{
	c->text[0] = '\0';
	c->len = 0;
	c->count = 0;
}

static inline int tu_log_contains(const struct tu_log *c, const char *needle)
{
	return strstr(c->text, needle) != NULL;
}

/*
 * A fresh private directory under $TMPDIR (or /tmp) in buf; fails the
 * test if it cannot be made.  Remove it with tu_rmtree().
 */
static inline char *tu_mkdtemp(char *buf, size_t size)
{
	const char *tmp = getenv("TMPDIR");
	int n = snprintf(buf, size, "%s/cmem-test.XXXXXX", tmp && *tmp ? tmp : "/tmp");

	if (n < 0 || (size_t)n >= size)
		fail_msg("temporary directory name too long");
	if (mkdtemp(buf) == NULL)
		fail_msg("mkdtemp %s: %s", buf, strerror(errno));
	return buf;
}

static inline int tu_rmtree_one(const char *path, const struct stat *st, int flag,
                                struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) == -1 ? -1 : 0;
	return unlink(path) == -1 ? -1 : 0;
}

/* rm -rf dir, without following symbolic links; 0 or -1. */
static inline int tu_rmtree(const char *dir)
{
	return nftw(dir, tu_rmtree_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* dir "/" name into buf; fails the test if it does not fit. */
static inline char *tu_path(char *buf, size_t size, const char *dir, const char *name)
{
	int n = snprintf(buf, size, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= size)
		fail_msg("path %s/%s too long", dir, name);
	return buf;
}


/* Permission bits of PATH (not following a link); fails the test if it cannot. */
static inline mode_t tu_mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	return st.st_mode & 07777;
}

/* Entries in dir, "." and ".." excluded: no temporary file may be left. */
static inline int tu_count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

#endif
