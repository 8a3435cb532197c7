/* util: allocation wrappers, strict number parsing, clocks. */
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (p == NULL)
		fatalx("out of memory allocating %zu bytes", size);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p;

	if (size && n > SIZE_MAX / size)
		fatalx("allocation overflow: %zu * %zu", n, size);
	p = calloc(n ? n : 1, size ? size : 1);
	if (p == NULL)
		fatalx("out of memory allocating %zu * %zu bytes", n, size);
	return p;
}

void *xreallocarray(void *p, size_t n, size_t size)
{
	void *q;

	if (size && n > SIZE_MAX / size)
		fatalx("allocation overflow: %zu * %zu", n, size);
	q = realloc(p, (n * size) != 0 ? n * size : 1);
	if (q == NULL)
		fatalx("out of memory allocating %zu * %zu bytes", n, size);
	return q;
}

int parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 20 || (len > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned char)s[i] - '0';

		if (d > 9)
			return -1;
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int parse_u64_str(const char *s, uint64_t *out)
{
	return parse_u64(s, strlen(s), out);
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) == -1)
		fatal("clock_gettime");
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t now_mono_ms(void)
{
	return clock_ns(CLOCK_MONOTONIC) / 1000000u;
}

uint64_t now_mono_us(void)
{
	return clock_ns(CLOCK_MONOTONIC) / 1000u;
}

uint64_t now_real_s(void)
{
	return clock_ns(CLOCK_REALTIME) / 1000000000u;
}

uint64_t now_real_us(void)
{
	return clock_ns(CLOCK_REALTIME) / 1000u;
}

void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int xsnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		return -1;
	return n;
}

int path_join(char *path, size_t size, const char *dir, const char *file, char *err,
              size_t errlen)
{
	if (xsnprintf(path, size, "%s/%s", dir, file) < 0) {
		seterr(err, errlen, "%s: directory name too long", dir);
		return -1;
	}
	return 0;
}
