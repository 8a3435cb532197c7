/* Unit tests: the keyed index that members and peers share. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "keyindex.h"

#define NKEYS 1000

/* A dense array of names, as members keeps it, mirrored in the index. */
struct table {
	struct keyindex *x;
	char names[NKEYS][16];
	size_t n;
};

static uint64_t hash_of(const struct table *t, const char *name)
{
	return keyindex_hash(t->x, name, strlen(name));
}

static long find(const struct table *t, const char *name)
{
	uint64_t h = hash_of(t, name);

	for (uint32_t i = keyindex_first(t->x, h); i != KEYINDEX_NONE; i = keyindex_next(t->x, i))
		if (strcmp(t->names[i], name) == 0)
			return (long)i;
	return -1;
}

static void add(struct table *t, const char *name)
{
	assert_int_equal(keyindex_append(t->x, hash_of(t, name)), t->n);
	snprintf(t->names[t->n++], sizeof(t->names[0]), "%s", name);
}

static void del(struct table *t, size_t i)
{
	keyindex_remove(t->x, (uint32_t)i);
	if (i != t->n - 1)
		memcpy(t->names[i], t->names[t->n - 1], sizeof(t->names[0]));
	t->n--;
}

static void test_grow_find_remove(void **state)
{
	struct table *t = calloc(1, sizeof(*t));
	char name[16];

	(void)state;
	t->x = keyindex_new();
	assert_int_equal(find(t, "node-0"), -1);
	for (int i = 0; i < NKEYS; i++) {
		snprintf(name, sizeof(name), "node-%d", i);
		add(t, name);
	}
	assert_int_equal(keyindex_size(t->x), NKEYS);
	for (size_t i = 0; i < t->n; i++)
		assert_int_equal(find(t, t->names[i]), (long)i);
	/* swap-remove from the front (node-999 moves in), the middle
	 * (node-998 moves in) and the end (node-997) */
	del(t, 0);
	del(t, 500);
	del(t, t->n - 1);
	assert_int_equal(keyindex_size(t->x), NKEYS - 3);
	assert_int_equal(find(t, "node-0"), -1);
	assert_int_equal(find(t, "node-500"), -1);
	assert_int_equal(find(t, "node-997"), -1);
	assert_int_equal(find(t, "node-999"), 0);
	assert_int_equal(find(t, "node-998"), 500);
	for (size_t i = 0; i < t->n; i++)
		assert_int_equal(find(t, t->names[i]), (long)i);
	while (t->n > 0)
		del(t, t->n / 2);
	assert_int_equal(find(t, "node-1"), -1);
	add(t, "again");
	assert_int_equal(find(t, "again"), 0);
	keyindex_free(t->x);
	free(t);
}

/* Slots of equal hash are all listed, and only they. */
static void test_same_hash_chain(void **state)
{
	struct keyindex *x = keyindex_new();
	uint32_t seen = 0, n = 0;

	(void)state;
	for (uint32_t i = 0; i < 40; i++)
		keyindex_append(x, i % 2 ? 7 : 7 + 64); /* the same bucket, two hashes */
	for (uint32_t i = keyindex_first(x, 7); i != KEYINDEX_NONE; i = keyindex_next(x, i)) {
		assert_int_equal(i % 2, 1);
		seen |= 1u << (i / 2);
		n++;
	}
	assert_int_equal(n, 20);
	assert_int_equal(seen, (1u << 20) - 1);
	keyindex_remove(x, 1); /* slot 39 (hash 7) moves into slot 1 */
	n = 0;
	for (uint32_t i = keyindex_first(x, 7); i != KEYINDEX_NONE; i = keyindex_next(x, i))
		n++;
	assert_int_equal(n, 19);
	assert_int_equal(keyindex_first(x, 8), KEYINDEX_NONE);
	keyindex_free(x);
}

/* Each index draws its own key: a name's place is not predictable. */
static void test_keyed_at_random(void **state)
{
	struct keyindex *a = keyindex_new(), *b = keyindex_new();

	(void)state;
	assert_int_equal(keyindex_hash(a, "node-a", 6), keyindex_hash(a, "node-a", 6));
	assert_true(keyindex_hash(a, "node-a", 6) != keyindex_hash(b, "node-a", 6));
	assert_true(keyindex_hash(a, "node-a", 6) != keyindex_hash(a, "node-b", 6));
	keyindex_free(a);
	keyindex_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grow_find_remove),
		cmocka_unit_test(test_same_hash_chain),
		cmocka_unit_test(test_keyed_at_random),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
