/*
 * test_replay: the 64-counter anti-replay window of PROTOCOL.md 4.2 at
 * its edges, replay_update()'s gap, and a comparison with a plain model.
 */
#include "testutil.h"

#include "replay.h"
#include "util.h"

/* Accept the line if replay_check() says so; returns what it said. */
static int feed(struct replay_state *st, uint64_t inc, uint64_t ctr)
{
	int ok = replay_check(st, inc, ctr);

	if (ok)
		replay_update(st, inc, ctr);
	return ok;
}

/* A state whose highest counter is TOP with every counter up to it seen. */
static void seen_through(struct replay_state *st, uint64_t inc, uint64_t top)
{
	memset(st, 0, sizeof(*st));
	for (uint64_t c = top > 70 ? top - 70 : 0; c <= top; c++)
		assert_true(feed(st, inc, c));
}

static void test_fresh_state_accepts_anything(void **state)
{
	struct replay_state st = { 0 };

	(void)state;
	assert_true(replay_check(&st, 0, 0));
	assert_true(replay_check(&st, 5, 1));
	assert_true(replay_check(&st, UINT64_MAX, UINT64_MAX));
	assert_int_equal(replay_update(&st, 7, 9), 0);
	assert_true(st.valid);
	assert_int_equal(st.incarnation, 7);
	assert_int_equal(st.top, 9);
	assert_int_equal(st.bitmap, 1);
	assert_false(replay_check(&st, 7, 9));
}

/* replay_check() is a pure function of the state. */
static void test_check_changes_nothing(void **state)
{
	struct replay_state st = { 0 }, before;

	(void)state;
	feed(&st, 3, 100);
	feed(&st, 3, 90);
	before = st;
	for (uint64_t c = 0; c < 200; c++) {
		replay_check(&st, 3, c);
		replay_check(&st, 2, c);
		replay_check(&st, 4, c);
	}
	assert_memory_equal(&st, &before, sizeof(st));
}

static void test_in_order(void **state)
{
	struct replay_state st = { 0 };

	(void)state;
	for (uint64_t c = 1; c <= 1000; c++) {
		assert_true(replay_check(&st, 1, c));
		assert_int_equal(replay_update(&st, 1, c), 0);
		assert_false(replay_check(&st, 1, c));
	}
	/* every one of the last 64 is remembered, the rest are too old */
	for (uint64_t c = 1; c <= 1000; c++)
		assert_false(replay_check(&st, 1, c));
	assert_int_equal(st.bitmap, UINT64_MAX);
}

static void test_63_below_accepted_once(void **state)
{
	struct replay_state st = { 0 };

	(void)state;
	assert_true(feed(&st, 1, 100));
	assert_true(replay_check(&st, 1, 37));
	assert_int_equal(replay_update(&st, 1, 37), 0);
	assert_false(replay_check(&st, 1, 37));
	assert_int_equal(st.top, 100);
	assert_int_equal(st.bitmap, (uint64_t)1 << 63 | 1);
	/* the others in between are still free, once each */
	for (uint64_t c = 38; c < 100; c++) {
		assert_true(feed(&st, 1, c));
		assert_false(feed(&st, 1, c));
	}
	assert_int_equal(st.bitmap, UINT64_MAX);
}

static void test_64_below_rejected(void **state)
{
	struct replay_state st = { 0 };

	(void)state;
	assert_true(feed(&st, 1, 100));
	assert_false(replay_check(&st, 1, 36));
	assert_false(replay_check(&st, 1, 0));
	assert_true(replay_check(&st, 1, 37));
	/* moving the top moves the edge */
	assert_true(feed(&st, 1, 101));
	assert_false(replay_check(&st, 1, 37));
	assert_true(replay_check(&st, 1, 38));
}

/* A jump of 64 or more leaves only the new top in the bitmap. */
static void test_big_jump_clears_bitmap(void **state)
{
	static const uint64_t jumps[] = { 64, 65, 100, 1000000, UINT64_MAX / 2 };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(jumps); i++) {
		struct replay_state st;
		uint64_t top = 200 + jumps[i];

		seen_through(&st, 1, 200);
		assert_int_equal(st.bitmap, UINT64_MAX);
		assert_true(feed(&st, 1, top));
		assert_int_equal(st.top, top);
		assert_int_equal(st.bitmap, 1);
		/* everything 1..63 below the new top is new, 64 below is not */
		for (uint64_t b = 1; b <= 63; b++)
			assert_true(replay_check(&st, 1, top - b));
		assert_false(replay_check(&st, 1, top - 64));
		assert_false(replay_check(&st, 1, 200));
	}
}

/* A jump of 63 keeps the old top as the window's oldest entry. */
static void test_jump_63_keeps_oldest(void **state)
{
	struct replay_state st;

	(void)state;
	seen_through(&st, 1, 200);
	assert_true(feed(&st, 1, 263));
	assert_int_equal(st.bitmap, (uint64_t)1 << 63 | 1);
	assert_false(replay_check(&st, 1, 200));
	assert_true(replay_check(&st, 1, 201));
	assert_true(replay_check(&st, 1, 262));
}

static void test_new_incarnation_resets(void **state)
{
	struct replay_state st;

	(void)state;
	seen_through(&st, 10, 5000);
	assert_true(replay_check(&st, 11, 1));
	assert_int_equal(replay_update(&st, 11, 1), UINT64_MAX);
	assert_int_equal(st.incarnation, 11);
	assert_int_equal(st.top, 1);
	assert_int_equal(st.bitmap, 1);
	assert_false(replay_check(&st, 11, 1));
	assert_true(replay_check(&st, 11, 2));
	/* a restart may even start below the old counter, or at 0 */
	assert_true(replay_check(&st, 12, 0));
	assert_int_equal(replay_update(&st, 12, 0), UINT64_MAX);
	assert_int_equal(st.top, 0);
	assert_false(replay_check(&st, 12, 0));
}

static void test_lower_incarnation_rejected(void **state)
{
	struct replay_state st = { 0 };

	(void)state;
	assert_true(feed(&st, 100, 1));
	assert_false(replay_check(&st, 99, 2));
	assert_false(replay_check(&st, 99, UINT64_MAX));
	assert_false(replay_check(&st, 0, 0));
	assert_true(feed(&st, 101, 1));
	/* the old incarnation is over for good */
	assert_false(replay_check(&st, 100, 2));
	assert_false(replay_check(&st, 100, UINT64_MAX));
}

static void test_uint64_max_counters(void **state)
{
	struct replay_state st = { 0 };

	(void)state;
	assert_true(feed(&st, 1, 0));
	assert_int_equal(replay_update(&st, 1, UINT64_MAX), UINT64_MAX - 1);
	assert_int_equal(st.top, UINT64_MAX);
	assert_int_equal(st.bitmap, 1);
	assert_false(replay_check(&st, 1, UINT64_MAX));
	assert_true(replay_check(&st, 1, UINT64_MAX - 63));
	assert_false(replay_check(&st, 1, UINT64_MAX - 64));
	assert_false(replay_check(&st, 1, 0));
	assert_true(feed(&st, 1, UINT64_MAX - 1));
	assert_false(feed(&st, 1, UINT64_MAX - 1));
	assert_int_equal(st.bitmap, 3);
	/* UINT64_MAX incarnation: the last restart there can be */
	assert_true(feed(&st, UINT64_MAX, UINT64_MAX));
	assert_false(replay_check(&st, UINT64_MAX, UINT64_MAX));
	assert_true(replay_check(&st, UINT64_MAX, UINT64_MAX - 63));
	assert_false(replay_check(&st, UINT64_MAX - 1, 1));
}

static void test_update_gap(void **state)
{
	struct replay_state st = { 0 };

	(void)state;
	assert_int_equal(replay_update(&st, 1, 1), 0);    /* first line */
	assert_int_equal(replay_update(&st, 1, 2), 0);    /* next in order */
	assert_int_equal(replay_update(&st, 1, 5), 2);    /* 3 and 4 skipped */
	assert_int_equal(replay_update(&st, 1, 3), 0);    /* late fill */
	assert_int_equal(replay_update(&st, 1, 4), 0);
	assert_int_equal(replay_update(&st, 1, 1005), 999);
	assert_int_equal(replay_update(&st, 1, 1006), 0);
	assert_int_equal(replay_update(&st, 2, 1), UINT64_MAX); /* restart */
	assert_int_equal(replay_update(&st, 2, 3), 1);
	assert_int_equal(st.bitmap, 5);
}

/* xorshift64: a fixed, reproducible sequence */
static uint64_t next_rand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/*
 * Random arrivals against a model that keeps the full set of counters
 * seen in the current incarnation.
 */
static void test_matches_model(void **state)
{
	enum { SPAN = 400, STEPS = 200000 };
	static uint8_t seen[SPAN];
	struct replay_state st = { 0 };
	uint64_t inc = 5, top = 0, rnd = 0x9e3779b97f4a7c15ull;
	int valid = 0;

	(void)state;
	for (unsigned i = 0; i < STEPS; i++) {
		uint64_t r = next_rand(&rnd) % 1000;
		uint64_t pinc = r < 5 ? inc + 1 : r < 10 ? inc - 1 : inc;
		uint64_t ctr = next_rand(&rnd) % SPAN;
		int want, got;

		if (pinc > inc || !valid)
			want = 1;
		else if (pinc < inc)
			want = 0;
		else
			want = ctr > top || (top - ctr <= 63 && !seen[ctr]);
		got = replay_check(&st, pinc, ctr);
		if (got != want)
			fail_msg("step %u: %llu.%llu (state %llu.%llu): want %d got %d", i,
			         (unsigned long long)pinc, (unsigned long long)ctr,
			         (unsigned long long)inc, (unsigned long long)top, want, got);
		if (!got)
			continue;
		replay_update(&st, pinc, ctr);
		if (!valid || pinc > inc) {
			memset(seen, 0, sizeof(seen));
			inc = pinc;
			top = ctr;
			valid = 1;
		}
		seen[ctr] = 1;
		if (ctr > top)
			top = ctr;
		assert_int_equal(st.top, top);
		assert_int_equal(st.incarnation, inc);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fresh_state_accepts_anything),
		cmocka_unit_test(test_check_changes_nothing),
		cmocka_unit_test(test_in_order),
		cmocka_unit_test(test_63_below_accepted_once),
		cmocka_unit_test(test_64_below_rejected),
		cmocka_unit_test(test_big_jump_clears_bitmap),
		cmocka_unit_test(test_jump_63_keeps_oldest),
		cmocka_unit_test(test_new_incarnation_resets),
		cmocka_unit_test(test_lower_incarnation_rejected),
		cmocka_unit_test(test_uint64_max_counters),
		cmocka_unit_test(test_update_gap),
		cmocka_unit_test(test_matches_model),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
