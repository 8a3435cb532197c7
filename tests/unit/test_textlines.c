/* Unit tests: the line reader of the key formats (certificates, lists, bundles). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "textlines.h"

static char err[256];

static struct textlines over(const char *text)
{
	struct textlines t = { "f.txt", text, text + strlen(text), 0, 0, err, sizeof(err) };

	err[0] = '\0';
	return t;
}

/* Lines end in LF or CRLF; the ends are not part of the line; a last line may have none. */
static void test_line_ends(void **state)
{
	struct textlines t = over("one\r\ntwo\n\nlast");
	const char *line;
	size_t len;

	(void)state;
	assert_int_equal(textlines_next(&t, &line, &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(line, "one", 3);
	assert_int_equal(t.cut, 0);
	assert_int_equal(textlines_next(&t, &line, &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(line, "two", 3);
	assert_int_equal(textlines_next(&t, &line, &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(textlines_next(&t, &line, &len), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(line, "last", 4);
	assert_int_equal(t.cut, 1);
	assert_int_equal(t.lineno, 4);
	assert_int_equal(textlines_next(&t, &line, &len), -1);
	assert_int_equal(t.lineno, 4);
}

static void test_empty_text(void **state)
{
	struct textlines t = over("");
	const char *line = NULL;
	size_t len = 99;

	(void)state;
	assert_int_equal(textlines_next(&t, &line, &len), -1);
	assert_null(line);
	assert_int_equal(len, 99);
	assert_int_equal(t.lineno, 0);
}

/* A bad value is "cut short" on a last line without its end, else "is not ...". */
static void test_bad_value(void **state)
{
	struct textlines t = over("serial x\nserial 1");
	const char *line;
	size_t len;

	(void)state;
	assert_int_equal(textlines_next(&t, &line, &len), 0);
	assert_int_equal(textlines_bad_value(&t, "serial", "a number"), -1);
	assert_string_equal(err, "f.txt: line 1: the serial is not a number");
	assert_int_equal(textlines_next(&t, &line, &len), 0);
	assert_int_equal(textlines_bad_value(&t, "serial", "a number"), -1);
	assert_string_equal(err, "f.txt: truncated: line 2 (serial) is cut short");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_ends),
		cmocka_unit_test(test_empty_text),
		cmocka_unit_test(test_bad_value),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
