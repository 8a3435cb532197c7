/* name: the one rule for member names. */
#include "name.h"

#include <stdint.h>
#include <string.h>

/* 1: may begin a name (ALPHA / DIGIT); 2: may follow ("." / "-" / "_");
 * by table, one load per character on the receive path. */
#define RANGE(a, b, v) [a ... b] = v
static const uint8_t name_chars[256] = {
	RANGE('a', 'z', 1), RANGE('A', 'Z', 1), RANGE('0', '9', 1),
	['.'] = 2, ['-'] = 2, ['_'] = 2,
};

size_t name_span(const char *s, size_t len)
{
	size_t n = 0;

	if (len == 0 || name_chars[(unsigned char)s[0]] != 1)
		return 0;
	while (n < len && name_chars[(unsigned char)s[n]])
		if (++n > NAME_LEN_MAX)
			return 0;
	return n;
}

int name_valid(const char *s)
{
	size_t len = strnlen(s, NAME_LEN_MAX + 1);

	return len > 0 && name_span(s, len) == len;
}
