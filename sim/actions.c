/* sim actions: what a scenario line does to the hosts and the network. */
#include "sim.h"

#include <string.h>

static void set_link(struct sim *s, const struct action *a, struct link *l)
{
	(void)s;
	switch (a->kind) {
	case ACT_LOSS:
		l->loss = a->loss;
		break;
	case ACT_DELAY:
		l->delay_us = (uint32_t)(a->value * 1000.0);
		l->jitter_us = (uint32_t)(a->value2 * 1000.0);
		break;
	case ACT_DUP:
		l->dup = a->value;
		break;
	default:
		break;
	}
}

static void crash(struct sim *s, uint32_t i)
{
	if (s->hosts[i].state == HOST_DOWN)
		return;
	probe_observer_gone(s, i);
	probe_subject_gone(s, i);
	host_stop_node(s, i);
	probe_open(s, PROBE_CRASH, i);
}

static void start(struct sim *s, uint32_t i, int measured)
{
	if (s->hosts[i].state != HOST_DOWN)
		return;
	probe_subject_gone(s, i);
	host_start(s, i);
	if (measured)
		probe_open(s, PROBE_JOIN, i);
}

/* SIGTERM: the daemon leaves its loop and sends its leave copies. */
static void stop(struct sim *s, uint32_t i)
{
	struct host *h = &s->hosts[i];

	if (h->state != HOST_UP)
		return;
	probe_observer_gone(s, i);
	probe_subject_gone(s, i);
	h->state = HOST_LEAVING;
	s->up--;
	s->alive_total -= h->alive_seen;
	h->alive_seen = 0;
	probe_open(s, PROBE_LEAVE, i);
	host_set_time(s, i);
	node_leave(h->node);
	host_schedule(s, i);
}

static void pause_host(struct sim *s, uint32_t i)
{
	struct host *h = &s->hosts[i];

	if (h->state != HOST_UP)
		return;
	probe_observer_gone(s, i);
	h->state = HOST_PAUSED;
	h->timer_gen++;
	h->timer_t = SIM_NEVER;
}

static void clock_change(struct sim *s, const struct action *a, uint32_t i)
{
	struct host *h = &s->hosts[i];

	host_reanchor(h, s->now);
	if (a->kind == ACT_CLOCK_RATE) {
		h->ppm = (int64_t)a->value;
		return;
	}
	h->anchor_real = (uint64_t)((int64_t)h->anchor_real + (int64_t)(a->value * 1e6));
}

static void host_action(struct sim *s, const struct action *a, uint32_t i)
{
	struct host *h = &s->hosts[i];

	switch (a->kind) {
	case ACT_START:
		if (a->a.all || a->a.n > 1 || a->a.lo[0] != a->a.hi[0])
			sim_push(s, s->now + rng_u64(&s->rng) % ((uint64_t)(a->value * 1e6) + 1), EV_START,
			         i, 0, NULL);
		else
			start(s, i, 1);
		break;
	case ACT_RESTART:
		crash(s, i);
		start(s, i, 1);
		break;
	case ACT_CRASH:
		crash(s, i);
		break;
	case ACT_STOP:
		stop(s, i);
		break;
	case ACT_PAUSE:
		pause_host(s, i);
		break;
	case ACT_RESUME:
		host_resume(s, i);
		break;
	case ACT_LOSS:
	case ACT_DELAY:
	case ACT_DUP:
		if (a->dir & DIR_IN)
			set_link(s, a, &h->in);
		if (a->dir & DIR_OUT)
			set_link(s, a, &h->out);
		break;
	case ACT_CLOCK_STEP:
	case ACT_CLOCK_RATE:
		clock_change(s, a, i);
		break;
	case ACT_STARVE:
		h->starve_us = (uint32_t)(a->value * 1000.0);
		break;
	default:
		break;
	}
}

/* Hosts listed in A go to group 1, those in B to group 2; 1 <-> 2 blocked
 * (one way: B does not hear A). */
static void partition(struct sim *s, const struct action *a)
{
	for (uint32_t i = 0; i < s->n; i++)
		s->hosts[i].group = hostset_has(&a->a, i) ? 1 : hostset_has(&a->b, i) ? 2 : 0;
	memset(s->blocked, 0, sizeof(s->blocked));
	s->blocked[1][2] = 1;
	if (!a->oneway)
		s->blocked[2][1] = 1;
}

void sim_action(struct sim *s, const struct action *a)
{
	switch (a->kind) {
	case ACT_PARTITION:
		partition(s, a);
		return;
	case ACT_HEAL:
		memset(s->blocked, 0, sizeof(s->blocked));
		return;
	case ACT_MEASURE:
		measure_begin(s);
		return;
	case ACT_UNMEASURE:
		measure_end(s);
		return;
	case ACT_COUNT:
		s->counting = a->value > 0 ? 2 : 1;
		return;
	case ACT_END:
		if (s->measuring)
			measure_end(s);
		probes_close(s);
		s->ended = 1;
		return;
	default:
		break;
	}
	if (a->kind == ACT_START && a->a.all && s->started_t == 0)
		s->started_t = s->now + 1;
	for (uint32_t i = 0; i < s->n; i++)
		if (hostset_has(&a->a, i))
			host_action(s, a, i);
}
