/*
 * test_sched: the scheduler's timers on an injected clock (no sleep), and
 * one real poll step over a pipe, a group and a timer due at once.
 */
#include "testutil.h"

#include "clock.h"
#include "scheduler.h"

struct calls {
	int n;
	uint64_t at[16];
	int order[16];
	struct sched *s;
	int rearm_id;          /* >= 0: the timer re-arms itself this far ahead */
	uint64_t rearm_ms;
};

static struct calls calls;

static void note(int who, uint64_t now_ms)
{
	if (calls.n < 16) {
		calls.at[calls.n] = now_ms;
		calls.order[calls.n] = who;
	}
	calls.n++;
}

static void timer_a(void *arg, uint64_t now_ms)
{
	(void)arg;
	note(0, now_ms);
}

static void timer_b(void *arg, uint64_t now_ms)
{
	(void)arg;
	note(1, now_ms);
}

static void timer_repeat(void *arg, uint64_t now_ms)
{
	(void)arg;
	note(2, now_ms);
	sched_timer_set(calls.s, calls.rearm_id, now_ms + calls.rearm_ms);
}

static int setup(void **state)
{
	(void)state;
	memset(&calls, 0, sizeof(calls));
	calls.rearm_id = -1;
	return 0;
}

static void test_new_timer_is_disarmed(void **state)
{
	struct clock c;
	struct clock_manual m;
	struct sched *s;
	int id;

	(void)state;
	clock_manual_init(&c, &m, 1000, 1700000000);
	s = sched_new(&c);
	assert_int_equal(sched_next_due(s), SCHED_NEVER);
	id = sched_timer_add(s, timer_a, NULL);
	assert_true(id >= 0);
	assert_int_equal(sched_next_due(s), SCHED_NEVER);
	sched_run_due(s, UINT64_MAX - 1);
	assert_int_equal(calls.n, 0);
	sched_free(s);
}

/* Due at or before now runs, once, in the order added; later ones wait. */
static void test_due_timers_run_once_in_order(void **state)
{
	struct clock c;
	struct clock_manual m;
	struct sched *s;
	int a, b;

	(void)state;
	clock_manual_init(&c, &m, 1000, 1700000000);
	s = sched_new(&c);
	a = sched_timer_add(s, timer_a, NULL);
	b = sched_timer_add(s, timer_b, NULL);
	sched_timer_set(s, b, 1100);
	sched_timer_set(s, a, 1200);
	assert_int_equal(sched_next_due(s), 1100);
	sched_run_due(s, 1099);
	assert_int_equal(calls.n, 0);
	sched_run_due(s, 1100);
	assert_int_equal(calls.n, 1);
	assert_int_equal(calls.order[0], 1);
	assert_int_equal(sched_timer_due(s, b), SCHED_NEVER); /* disarmed before the call */
	assert_int_equal(sched_timer_last_due(s, b), 1100);    /* what it was due at */
	assert_int_equal(sched_timer_last_due(s, a), SCHED_NEVER); /* never ran */
	assert_int_equal(sched_next_due(s), 1200);
	sched_timer_set(s, b, 1150);
	sched_run_due(s, 5000); /* both due: a (added first) before b */
	assert_int_equal(calls.n, 3);
	assert_int_equal(calls.order[1], 0);
	assert_int_equal(calls.order[2], 1);
	assert_int_equal(calls.at[2], 5000);
	sched_run_due(s, 9000);
	assert_int_equal(calls.n, 3);
	sched_free(s);
}

/* SCHED_NEVER disarms; re-setting moves the deadline either way. */
static void test_set_moves_and_disarms(void **state)
{
	struct clock c;
	struct clock_manual m;
	struct sched *s;
	int a;

	(void)state;
	clock_manual_init(&c, &m, 0, 0);
	s = sched_new(&c);
	a = sched_timer_add(s, timer_a, NULL);
	sched_timer_set(s, a, 500);
	sched_timer_set(s, a, 50);
	assert_int_equal(sched_next_due(s), 50);
	sched_timer_set(s, a, SCHED_NEVER);
	assert_int_equal(sched_next_due(s), SCHED_NEVER);
	sched_run_due(s, 1000);
	assert_int_equal(calls.n, 0);
	sched_timer_set(s, 99, 10); /* an unknown id changes nothing */
	assert_int_equal(sched_next_due(s), SCHED_NEVER);
	sched_free(s);
}

/* A timer that re-arms itself at now (a zero period) is not run again in the same call. */
static void test_rearming_timer_runs_once_per_call(void **state)
{
	struct clock c;
	struct clock_manual m;
	struct sched *s;

	(void)state;
	clock_manual_init(&c, &m, 0, 0);
	s = sched_new(&c);
	calls.s = s;
	calls.rearm_id = sched_timer_add(s, timer_repeat, NULL);
	calls.rearm_ms = 0;
	sched_timer_set(s, calls.rearm_id, 10);
	sched_run_due(s, 10);
	assert_int_equal(calls.n, 1);
	assert_int_equal(sched_next_due(s), 10);
	calls.rearm_ms = 100;
	sched_run_due(s, 10);
	assert_int_equal(calls.n, 2);
	assert_int_equal(sched_next_due(s), 110);
	sched_free(s);
}

struct fdseen {
	int fd_calls, group_calls, group_ready;
	short revents;
	int pipe_rd;
};

static void on_fd(void *arg, int fd, short revents, uint64_t now_ms)
{
	struct fdseen *f = arg;
	char c;

	(void)now_ms;
	f->fd_calls++;
	f->revents = revents;
	assert_int_equal(read(fd, &c, 1), 1);
}

static size_t group_fill(void *arg, struct pollfd *pfd, size_t max)
{
	struct fdseen *f = arg;

	assert_true(max >= 1);
	pfd[0] = (struct pollfd){ .fd = f->pipe_rd, .events = POLLIN };
	return 1;
}

static void group_done(void *arg, const struct pollfd *pfd, size_t n, uint64_t now_ms)
{
	struct fdseen *f = arg;

	(void)now_ms;
	f->group_calls++;
	f->group_ready += n == 1 && (pfd[0].revents & POLLIN);
}

/*
 * One real step: a readable pipe is dispatched to its callback with its
 * revents; a group sees its own entry; a timer already due runs; a
 * descriptor with no events is not polled.
 */
static void test_poll_once_dispatches(void **state)
{
	struct fdseen f = { 0 }, g = { 0 };
	int p[2], q[2], id, t;
	struct sched *s = sched_new(&clock_system);

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(pipe(q), 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(write(q[1], "y", 1), 1);
	id = sched_fd_add(s, p[0], POLLIN, on_fd, &f);
	g.pipe_rd = q[0];
	sched_group_add(s, 4, group_fill, group_done, &g);
	t = sched_timer_add(s, timer_a, NULL);
	sched_timer_set(s, t, clock_mono_ms(&clock_system));
	assert_int_equal(sched_poll_once(s), 0);
	assert_int_equal(f.fd_calls, 1);
	assert_true(f.revents & POLLIN);
	assert_int_equal(g.group_calls, 1);
	assert_int_equal(g.group_ready, 1);
	assert_int_equal(calls.n, 1);
	/* not polled: the pipe stays readable, its callback is not called */
	assert_int_equal(write(p[1], "x", 1), 1);
	sched_fd_events(s, id, 0);
	sched_timer_set(s, t, 0);
	assert_int_equal(sched_poll_once(s), 0);
	assert_int_equal(f.fd_calls, 1);
	assert_int_equal(g.group_calls, 2);
	assert_int_equal(calls.n, 2);
	for (int i = 0; i < 2; i++) {
		close(p[i]);
		close(q[i]);
	}
	sched_free(s);
}

/* The manual clock: both readings move together, in the units asked for. */
static void test_manual_clock(void **state)
{
	struct clock c;
	struct clock_manual m;

	(void)state;
	clock_manual_init(&c, &m, 2500, 1700000000);
	assert_int_equal(clock_mono_ms(&c), 2500);
	assert_int_equal(clock_mono_us(&c), 2500000);
	assert_int_equal(clock_real_s(&c), 1700000000);
	clock_manual_advance(&m, 1500);
	assert_int_equal(clock_mono_ms(&c), 4000);
	assert_int_equal(clock_real_s(&c), 1700000001);
	assert_int_equal(clock_real_us(&c), 1700000001500000ull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_new_timer_is_disarmed, setup),
		cmocka_unit_test_setup(test_due_timers_run_once_in_order, setup),
		cmocka_unit_test_setup(test_set_moves_and_disarms, setup),
		cmocka_unit_test_setup(test_rearming_timer_runs_once_per_call, setup),
		cmocka_unit_test_setup(test_poll_once_dispatches, setup),
		cmocka_unit_test_setup(test_manual_clock, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
