/* sim engine: the event heap, the hosts' clocks and timers, the network. */
#include "sim.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler.h"
#include "util.h"

#define TIMER_SLACK_US 50  /* the kernel's default timer slack: a poll wakes this late */
#define WIRE_DELAY_US 60   /* one hop through a bridge, no model set */
#define BASE_MONO_S 1000   /* hosts booted a while ago ... */
#define BASE_REAL_S 1800000000ull /* ... and agree on a fixed date */

/* ---- random numbers: splitmix64 ---- */

uint64_t rng_u64(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

double rng_unit(struct rng *r)
{
	return (double)(rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* netem: the state changes first, then the state decides the loss */
int loss_drop(struct loss *l, struct rng *r)
{
	switch (l->kind) {
	case LOSS_NONE:
		return 0;
	case LOSS_RANDOM:
		return l->p > 0 && rng_unit(r) < l->p;
	case LOSS_GE:
		if (l->bad) {
			if (rng_unit(r) < l->r)
				l->bad = 0;
		} else if (rng_unit(r) < l->p) {
			l->bad = 1;
		}
		return rng_unit(r) < (l->bad ? l->h1 : l->k1);
	}
	return 0;
}

int loss_total(const struct loss *l)
{
	return (l->kind == LOSS_RANDOM && l->p >= 1.0) ||
	       (l->kind == LOSS_GE && l->h1 >= 1.0 && l->k1 >= 1.0);
}

/* ---- the heap ---- */

static int ev_before(const struct event *a, const struct event *b)
{
	return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

void sim_push(struct sim *s, uint64_t t, uint32_t type, uint32_t host, uint64_t payload, void *pkt)
{
	struct event e = { .t = t, .seq = s->seq++, .type = type, .host = host };
	size_t i;

	if (pkt)
		e.u.pkt = pkt;
	else
		e.u.gen = (uint32_t)payload;
	if (s->nheap == s->capheap) {
		s->capheap = s->capheap ? 2 * s->capheap : 4096;
		s->heap = xreallocarray(s->heap, s->capheap, sizeof(*s->heap));
	}
	for (i = s->nheap++; i > 0 && ev_before(&e, &s->heap[(i - 1) / 2]); i = (i - 1) / 2)
		s->heap[i] = s->heap[(i - 1) / 2];
	s->heap[i] = e;
}

static struct event sim_pop(struct sim *s)
{
	struct event top = s->heap[0], last = s->heap[--s->nheap];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= s->nheap)
			break;
		if (c + 1 < s->nheap && ev_before(&s->heap[c + 1], &s->heap[c]))
			c++;
		if (!ev_before(&s->heap[c], &last))
			break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	if (s->nheap)
		s->heap[i] = last;
	return top;
}

/* ---- clocks ---- */

static uint64_t scaled(uint64_t dt, int64_t ppm)
{
	return (uint64_t)((int64_t)dt + (int64_t)dt / 1000000 * ppm +
	                  (int64_t)(dt % 1000000) * ppm / 1000000);
}

uint64_t host_mono(const struct host *h, uint64_t t)
{
	return h->anchor_mono + scaled(t - h->anchor_t, h->ppm);
}

uint64_t host_real(const struct host *h, uint64_t t)
{
	return h->anchor_real + scaled(t - h->anchor_t, h->ppm);
}

void host_reanchor(struct host *h, uint64_t t)
{
	h->anchor_mono = host_mono(h, t);
	h->anchor_real = host_real(h, t);
	h->anchor_t = t;
}

/* True time at which the host's monotonic clock reads MONO_US (not before now). */
static uint64_t true_time(const struct sim *s, const struct host *h, uint64_t mono_us)
{
	uint64_t dm, dt;

	if (mono_us <= h->anchor_mono)
		return s->now;
	dm = mono_us - h->anchor_mono;
	dt = (uint64_t)((double)dm * 1e6 / (1e6 + (double)h->ppm)) + 1;
	while (dt > 0 && host_mono(h, h->anchor_t + dt - 1) >= mono_us)
		dt--;
	return h->anchor_t + dt < s->now ? s->now : h->anchor_t + dt;
}

static void set_time(const struct sim *s, const struct host *h)
{
	node_set_time(host_mono(h, s->now), host_real(h, s->now));
}

void host_set_time(const struct sim *s, uint32_t i)
{
	set_time(s, &s->hosts[i]);
}

/* ---- hosts ---- */

/* The node's next wake-up, as its poll loop would take it (late when starved). */
void host_schedule(struct sim *s, uint32_t i)
{
	struct host *h = &s->hosts[i];
	uint64_t due, t;

	if (h->state != HOST_UP && h->state != HOST_LEAVING)
		return;
	due = node_next_due_ms(h->node);
	if (due == SCHED_NEVER)
		return;
	t = true_time(s, h, due * 1000u) + TIMER_SLACK_US;
	if (h->starve_us)
		t += rng_u64(&s->rng) % (h->starve_us + 1u);
	if (t >= h->timer_t)
		return;
	h->timer_t = t;
	sim_push(s, t, EV_TIMER, i, ++h->timer_gen, NULL);
}

void host_wake(struct sim *s, uint32_t i)
{
	struct host *h = &s->hosts[i];

	h->timer_t = SIM_NEVER;
	set_time(s, h);
	node_wake(h->node);
	if (h->state == HOST_LEAVING && !node_leaving(h->node))
		host_stop_node(s, i); /* the last leave copy is out: the process exits */
	else
		host_schedule(s, i);
}

int path_blocked(const struct sim *s, uint32_t from, uint32_t to)
{
	const struct host *a = &s->hosts[from], *b = &s->hosts[to];

	return s->blocked[a->group][b->group] || loss_total(&a->out.loss) || loss_total(&b->in.loss);
}

static uint32_t link_delay(struct sim *s, const struct link *l)
{
	uint32_t d = l->delay_us;

	if (l->jitter_us) {
		int64_t j = (int64_t)(rng_u64(&s->rng) % (2u * l->jitter_us + 1u)) - l->jitter_us;

		d = (int64_t)d + j < 0 ? 0 : (uint32_t)((int64_t)d + j);
	}
	return d;
}

/* One copy of P towards host TO (its input link decides). */
static void deliver_to(struct sim *s, uint32_t from, uint32_t to, struct pkt *p, uint32_t out_us)
{
	struct host *b = &s->hosts[to];
	unsigned copies = 1;

	if (b->state == HOST_DOWN || b->state == HOST_LEAVING ||
	    s->blocked[s->hosts[from].group][b->group] || loss_drop(&b->in.loss, &s->rng))
		return;
	if (b->in.dup > 0 && rng_unit(&s->rng) < b->in.dup)
		copies = 2;
	for (unsigned c = 0; c < copies; c++) {
		p->refs++;
		sim_push(s, s->now + WIRE_DELAY_US + out_us + link_delay(s, &b->in), EV_DELIVER, to, 0,
		         p);
	}
}

static uint32_t addr_host(const struct member_addr *a)
{
	return ntohl(a->a.v4.s_addr) - 0x0a000001u;
}

/* The send seam of host ARG's daemon: to everyone (the group) or one peer. */
static void on_send(void *arg, int to_all, const struct member_addr *to, const void *line,
                    size_t len)
{
	struct host *h = arg;
	struct sim *s = h->sim;
	struct pkt *p;
	uint32_t out_us, copies = 1;

	h->c.tx_lines++;
	h->c.tx_bytes += len + SIM_FRAME_OVERHEAD;
	if (loss_drop(&h->out.loss, &s->rng))
		return; /* dropped on output: nobody hears it */
	if (h->out.dup > 0 && rng_unit(&s->rng) < h->out.dup)
		copies = 2;
	p = xmalloc(sizeof(*p) + len);
	p->refs = 1; /* ours, until every copy is queued */
	p->src = h->idx;
	p->len = (uint16_t)len;
	memcpy(p->data, line, len);
	for (uint32_t c = 0; c < copies; c++) {
		out_us = link_delay(s, &h->out);
		if (!to_all) {
			uint32_t j = addr_host(to);

			if (j < s->n && j != h->idx)
				deliver_to(s, h->idx, j, p, out_us);
			continue;
		}
		for (uint32_t j = 0; j < s->n; j++)
			if (j != h->idx)
				deliver_to(s, h->idx, j, p, out_us);
	}
	if (--p->refs == 0)
		free(p);
}

static void on_event(void *arg, enum member_event ev, const char *member)
{
	struct host *h = arg;

	sim_on_event(h->sim, h->idx, ev, member);
}

/* A new daemon on host I (first start or restart): a new incarnation. */
void host_start(struct sim *s, uint32_t i)
{
	struct host *h = &s->hosts[i];

	if (h->state != HOST_DOWN)
		return;
	h->state = HOST_UP;
	s->up++;
	h->timer_t = SIM_NEVER;
	h->alive_seen = 0;
	set_time(s, h);
	h->node = node_new(&s->sc->conf, h->name, &h->addr, on_send, on_event, h);
	host_schedule(s, i);
}

/* The daemon is gone (crash, or the end of a graceful stop). */
void host_stop_node(struct sim *s, uint32_t i)
{
	struct host *h = &s->hosts[i];

	if (h->state == HOST_DOWN)
		return;
	if (h->state == HOST_UP || h->state == HOST_PAUSED)
		s->up--;
	for (unsigned q = 0; q < h->nqueue; q++)
		if (--h->queue[q]->refs == 0)
			free(h->queue[q]);
	h->nqueue = 0;
	s->alive_total -= h->alive_seen;
	h->alive_seen = 0;
	size_t fp = node_footprint(h->node);
	if (s->fig && fp > s->fig->footprint_max)
		s->fig->footprint_max = fp;
	node_free(h->node);
	h->node = NULL;
	h->state = HOST_DOWN;
	h->timer_t = SIM_NEVER;
	h->timer_gen++;
}

static void receive(struct sim *s, uint32_t i, struct pkt *p, uint64_t at)
{
	struct host *h = &s->hosts[i];

	h->c.rx_lines++;
	h->c.rx_bytes += p->len + SIM_FRAME_OVERHEAD;
	if (s->fig)
		s->fig->deliveries++;
	set_time(s, h);
	node_receive(h->node, p->data, p->len, &s->hosts[p->src].addr, host_mono(h, at),
	             host_real(h, at));
}

/* SIGCONT: what queued in the socket is read, arrival times the kernel's. */
void host_resume(struct sim *s, uint32_t i)
{
	struct host *h = &s->hosts[i];

	if (h->state != HOST_PAUSED)
		return;
	h->state = HOST_UP;
	for (unsigned q = 0; q < h->nqueue; q++) {
		receive(s, i, h->queue[q], h->queue_t[q]);
		if (--h->queue[q]->refs == 0)
			free(h->queue[q]);
	}
	h->nqueue = 0;
	h->timer_t = SIM_NEVER;
	host_wake(s, i);
}

static void on_deliver(struct sim *s, struct event *e)
{
	struct host *h = &s->hosts[e->host];
	struct pkt *p = e->u.pkt;

	if (h->state == HOST_PAUSED && h->nqueue < SIM_PAUSE_QUEUE) {
		h->queue[h->nqueue] = p;
		h->queue_t[h->nqueue++] = s->now;
		return; /* kept: the reference goes with it */
	}
	if (h->state == HOST_UP) {
		receive(s, e->host, p, s->now);
		host_schedule(s, e->host);
	}
	if (--p->refs == 0)
		free(p);
}

void sim_init(struct sim *s, const struct scenario *sc, uint64_t seed, struct figures *fig,
              FILE *trace)
{
	memset(s, 0, sizeof(*s));
	s->sc = sc;
	s->n = sc->nodes;
	s->fig = fig;
	s->trace = trace;
	s->rng.s = seed * 0x9e3779b97f4a7c15ull + 7;
	s->converge_s = -1;
	s->counting = 1;
	for (size_t k = 0; k < sc->nacts; k++)
		if (sc->acts[k].kind == ACT_COUNT)
			s->counting = 0;
	node_seed(seed);
	s->hosts = xcalloc(s->n, sizeof(*s->hosts));
	for (uint32_t i = 0; i < s->n; i++) {
		struct host *h = &s->hosts[i];

		h->sim = s;
		h->idx = i;
		snprintf(h->name, sizeof(h->name), "n%u", i + 1);
		h->addr.family = AF_INET;
		h->addr.a.v4.s_addr = htonl(0x0a000001u + i);
		h->addr.port = 7946;
		h->anchor_mono = (BASE_MONO_S + i) * SIM_US;
		h->anchor_real = BASE_REAL_S * SIM_US;
		h->timer_t = SIM_NEVER;
	}
	for (size_t k = 0; k < sc->nacts; k++)
		sim_push(s, sc->acts[k].t, EV_ACTION, 0, k, NULL);
}

void sim_run(struct sim *s)
{
	uint64_t next_note = s->progress ? 10 * SIM_US : SIM_NEVER;

	while (s->nheap && !s->ended) {
		struct event e = sim_pop(s);

		if (e.t >= next_note) {
			fprintf(stderr, "cmem-sim: %s: %.0f s simulated, %llu lines received\n",
			        s->sc->name, (double)e.t / 1e6,
			        (unsigned long long)(s->fig ? s->fig->deliveries : 0));
			next_note += 10 * SIM_US;
		}
		s->now = e.t;
		switch (e.type) {
		case EV_DELIVER:
			on_deliver(s, &e);
			break;
		case EV_TIMER:
			if (e.u.gen == s->hosts[e.host].timer_gen &&
			    (s->hosts[e.host].state == HOST_UP || s->hosts[e.host].state == HOST_LEAVING))
				host_wake(s, e.host);
			break;
		case EV_ACTION:
			sim_action(s, &s->sc->acts[e.u.action]);
			break;
		case EV_START:
			host_start(s, e.host);
			break;
		}
	}
}

void sim_free(struct sim *s)
{
	for (uint32_t i = 0; i < s->n; i++)
		host_stop_node(s, i);
	while (s->nheap) {
		struct event e = sim_pop(s);

		if (e.type == EV_DELIVER && --e.u.pkt->refs == 0)
			free(e.u.pkt);
	}
	for (size_t k = 0; k < s->nprobes; k++)
		free(s->probes[k].pending);
	free(s->probes);
	free(s->heap);
	free(s->hosts);
}
