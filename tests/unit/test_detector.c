/*
 * test_detector: the per-path loss estimate and the three policies read
 * from it (the receiver's timeout, the sender's rate, the leave copies),
 * on injected gaps and times: no clock, no sleep.
 */
#include "testutil.h"

#include <math.h>

#include "detector.h"

static const struct detector_config cfg = { .heartbeat_ms = 100, .fail_after_ms = 1000 };

/* N lines, each GAP counters above the last, DT_MS apart. */
static void feed(struct detector *e, unsigned n, uint64_t gap, float dt_ms)
{
	for (unsigned i = 0; i < n; i++)
		detector_update(e, gap, dt_ms, 1000);
}

static void test_reset(void **state)
{
	struct detector e;

	(void)state;
	memset(&e, 0x55, sizeof(e));
	detector_reset(&e, &cfg);
	assert_true(e.interval_ms == 100.0f);
	assert_true(e.last_step_ms == 100.0f);
	assert_true(e.jitter_ms == 25.0f);
	assert_true(e.loss_lost == 0.0f && e.loss_total == 0.0f && e.burst_ms == 0.0f);
	assert_true(detector_loss(&e) == 0.0);
	/* a young estimate is pessimistic: the prior of half a loss in 8 lines */
	assert_true(detector_loss_upper(&e) > 0.1 && detector_loss_upper(&e) < 0.2);
}

/* A clean path: no loss measured, interval learned, timeout at its floor. */
static void test_clean_path(void **state)
{
	struct detector e;

	(void)state;
	detector_reset(&e, &cfg);
	feed(&e, 600, 0, 200.0f);
	assert_true(detector_loss(&e) == 0.0);
	assert_true(fabs(e.interval_ms - 200.0) < 1.0);
	assert_true(e.jitter_ms < 1.0f);
	assert_true(detector_loss_upper(&e) < 0.01);
	/* 1e-6 at a loss under 1 %: 3 or 4 lines; 200 ms each is under the floor */
	assert_true(detector_timeout_lines(&e) >= 3 && detector_timeout_lines(&e) <= 4);
	assert_int_equal(detector_timeout(&e, &cfg), 1000);
}

/* Every other line lost: the measured loss near 1/2, the timeout waits 27+ lines. */
static void test_half_lost(void **state)
{
	struct detector e;
	uint32_t t;

	(void)state;
	detector_reset(&e, &cfg);
	feed(&e, 2000, 1, 200.0f);
	assert_true(fabs(detector_loss(&e) - 0.5) < 0.01);
	assert_true(detector_loss_upper(&e) >= detector_loss(&e));
	/* 1e-8 at the measured 0.5: ceil(8 log 10 / log 2) = 27 */
	assert_true(detector_timeout_lines(&e) >= 27);
	t = detector_timeout(&e, &cfg);
	/* 27 lines at 100 ms per counter step, capped at ten fail_after_ms */
	assert_true(t >= 2700);
	assert_true(t <= 10000);
}

/* A long silence (a burst of loss) is a floor of its own, then decays. */
static void test_burst_floor_and_decay(void **state)
{
	struct detector e;
	float burst;

	(void)state;
	detector_reset(&e, &cfg);
	feed(&e, 100, 0, 100.0f);
	detector_update(&e, 30, 3100.0f, 1000); /* 30 lines lost in a row */
	burst = e.burst_ms;
	assert_true(burst == 3100.0f);
	assert_true(detector_timeout(&e, &cfg) >= 3100 + 2 * 100);
	feed(&e, 1000, 0, 100.0f);
	assert_true(e.burst_ms < burst * 0.01f);
}

/* The burst floor is capped at BURST_CAP (4) fail_after_ms; the timeout at 10. */
static void test_caps(void **state)
{
	struct detector e;

	(void)state;
	detector_reset(&e, &cfg);
	feed(&e, 100, 0, 100.0f);
	detector_update(&e, 999, 60000.0f, 1000);
	assert_true(detector_timeout(&e, &cfg) <= 10 * cfg.fail_after_ms);
	detector_reset(&e, &cfg);
	feed(&e, 600, 0, 100.0f);
	e.burst_ms = 60000.0f;
	assert_true(detector_timeout(&e, &cfg) <= 4 * cfg.fail_after_ms + 2 * 100 + 1);
}

/* A sender slowing down is followed at once: the last step counts. */
static void test_slower_sender_followed(void **state)
{
	struct detector e;

	(void)state;
	detector_reset(&e, &cfg);
	feed(&e, 600, 0, 100.0f);
	detector_update(&e, 0, 900.0f, 1000);
	assert_true(e.last_step_ms == 900.0f);
	assert_true(detector_timeout(&e, &cfg) >= 3 * 900);
}

/* detector_update asks for a recomputed timeout on loss or a late line only. */
static void test_update_says_when_to_recompute(void **state)
{
	struct detector e;

	(void)state;
	detector_reset(&e, &cfg);
	assert_false(detector_update(&e, 0, 100.0f, 1000));
	assert_true(detector_update(&e, 1, 100.0f, 1000));
	assert_true(detector_update(&e, 0, 251.0f, 1000));
	assert_false(detector_update(&e, 0, 249.0f, 1000));
}

/* Loss starting on a clean path is seen within a few lines (the short memory). */
static void test_fast_memory_reacts(void **state)
{
	struct detector e;
	double before;

	(void)state;
	detector_reset(&e, &cfg);
	feed(&e, 2000, 0, 100.0f);
	before = detector_loss_upper(&e);
	feed(&e, 3, 1, 200.0f);
	assert_true(detector_loss_upper(&e) > 10 * before);
	assert_true(detector_loss_upper(&e) <= 0.95);
}

/* The sender's rate: fail_after_ms over the worst path's lines, within the budget. */
static void test_heartbeat_interval(void **state)
{
	(void)state;
	assert_int_equal(detector_heartbeat_ms(40.0, 0, &cfg), 100); /* alone: the fastest */
	assert_int_equal(detector_heartbeat_ms(4.0, 2, &cfg), 250);
	assert_int_equal(detector_heartbeat_ms(40.0, 2, &cfg), 100); /* never faster */
	/* 999 peers: 1000 senders at most DETECTOR_LINE_BUDGET lines a second */
	assert_int_equal(detector_heartbeat_ms(4.0, 999, &cfg), 1000 * 1000 / DETECTOR_LINE_BUDGET);
}

/* Leave copies: the worst path's lines, from DETECTOR_LEAVE_MIN to _MAX. */
static void test_leave_copies(void **state)
{
	(void)state;
	assert_int_equal(detector_leave_copies(30.0, 0), DETECTOR_LEAVE_MIN); /* alone */
	assert_int_equal(detector_leave_copies(1.0, 3), DETECTOR_LEAVE_MIN);
	assert_int_equal(detector_leave_copies(7.0, 3), 7);
	assert_int_equal(detector_leave_copies(27.0, 3), DETECTOR_LEAVE_MAX);
}

/* Each policy asks for more lines on a lossier path. */
static void test_policies_grow_with_loss(void **state)
{
	struct detector clean, lossy;

	(void)state;
	detector_reset(&clean, &cfg);
	detector_reset(&lossy, &cfg);
	feed(&clean, 1000, 0, 100.0f);
	feed(&lossy, 1000, 1, 200.0f);
	assert_true(detector_timeout_lines(&lossy) > detector_timeout_lines(&clean));
	assert_true(detector_rate_lines(&lossy) > detector_rate_lines(&clean));
	assert_true(detector_leave_lines(&lossy) > detector_leave_lines(&clean));
	assert_true(detector_heartbeat_ms(detector_rate_lines(&lossy), 2, &cfg) <
	            detector_heartbeat_ms(detector_rate_lines(&clean), 2, &cfg));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_clean_path),
		cmocka_unit_test(test_half_lost),
		cmocka_unit_test(test_burst_floor_and_decay),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_slower_sender_followed),
		cmocka_unit_test(test_update_says_when_to_recompute),
		cmocka_unit_test(test_fast_memory_reacts),
		cmocka_unit_test(test_heartbeat_interval),
		cmocka_unit_test(test_leave_copies),
		cmocka_unit_test(test_policies_grow_with_loss),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
