/*
 * util: conventions written down once.
 *
 * Functions return 0 on success and -1 on failure (or a named enum).
 * Allocation wrappers never return NULL: they abort on out-of-memory and
 * check multiplication overflow.  Secrets live in sodium_malloc memory.
 * External input never reaches an assert.
 */
#ifndef CMEM_UTIL_H
#define CMEM_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xreallocarray(void *p, size_t n, size_t size);

/*
 * Strict decimal u64: digits only, no sign, no leading zero (except "0"),
 * no overflow.  Parses exactly len bytes.  Returns 0 or -1.
 */
int parse_u64(const char *s, size_t len, uint64_t *out);
/* Same for a NUL-terminated string. */
int parse_u64_str(const char *s, uint64_t *out);

/* Clocks: monotonic for timers, real time for protocol timestamps. */
uint64_t now_mono_ms(void);
uint64_t now_mono_us(void);
uint64_t now_real_s(void);
uint64_t now_real_us(void);

/* Write one error message into err (if err and errlen are set). */
void seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* snprintf that reports truncation as -1 instead of a length. */
int xsnprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* path = dir/file; -1 with "DIR: directory name too long" in err if it does not fit. */
int path_join(char *path, size_t size, const char *dir, const char *file, char *err,
              size_t errlen);

#endif
