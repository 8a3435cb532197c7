/* sim report: probes (join, leave, crash seen by all), false failures,
 * traffic per node, and the tables and checks made of them. */
#include "sim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char *probe_names[PROBE_NKINDS] = { "join", "leave", "crash" };

void fig_add(double **v, size_t *n, size_t *cap, double x)
{
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 64;
		*v = xreallocarray(*v, *cap, sizeof(**v));
	}
	(*v)[(*n)++] = x;
}

static void probe_done(struct sim *s, struct probe *p)
{
	struct figures *f = s->fig;

	p->open = 0;
	if (f == NULL)
		return;
	fig_add(&f->all[p->kind], &f->nall[p->kind], &f->capall[p->kind],
	        (double)(p->last - p->t0) / 1e6);
	if (p->kind == PROBE_LEAVE)
		f->leave_as_failed += p->saw_failed;
}

/* Every other host up now is to report it. */
void probe_open(struct sim *s, enum probe_kind kind, uint32_t subject)
{
	struct probe *p;

	if (s->counting == 0) /* before `count start`: history, not measured */
		return;
	if (s->nprobes == s->capprobes) {
		s->capprobes = s->capprobes ? 2 * s->capprobes : 16;
		s->probes = xreallocarray(s->probes, s->capprobes, sizeof(*s->probes));
	}
	p = &s->probes[s->nprobes++];
	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->subject = subject;
	p->t0 = p->last = s->now;
	p->pending = xcalloc(s->n, 1);
	for (uint32_t i = 0; i < s->n; i++)
		if (i != subject && s->hosts[i].state == HOST_UP) {
			p->pending[i] = 1;
			p->remaining++;
		}
	p->open = p->remaining > 0;
}

static void probe_mark(struct sim *s, struct probe *p, uint32_t obs)
{
	if (!p->open || !p->pending[obs])
		return;
	p->pending[obs] = 0;
	p->last = s->now;
	if (s->fig)
		fig_add(&s->fig->times[p->kind], &s->fig->ntimes[p->kind], &s->fig->cap[p->kind],
		        (double)(s->now - p->t0) / 1e6);
	if (--p->remaining == 0)
		probe_done(s, p);
}

/* An observer crashed, stopped or paused: not waited for. */
void probe_observer_gone(struct sim *s, uint32_t obs)
{
	for (size_t k = 0; k < s->nprobes; k++) {
		struct probe *p = &s->probes[k];

		if (p->open && p->pending[obs]) {
			p->pending[obs] = 0;
			if (--p->remaining == 0)
				probe_done(s, p);
		}
	}
}

/* The subject changed again before all saw it: counted as missed. */
void probe_subject_gone(struct sim *s, uint32_t subject)
{
	for (size_t k = 0; k < s->nprobes; k++) {
		struct probe *p = &s->probes[k];

		if (p->open && p->subject == subject) {
			p->open = 0;
			if (s->fig)
				s->fig->missed[p->kind]++;
		}
	}
}

void probes_close(struct sim *s)
{
	for (size_t k = 0; k < s->nprobes; k++)
		if (s->probes[k].open) {
			s->probes[k].open = 0;
			if (s->fig)
				s->fig->missed[s->probes[k].kind]++;
		}
}

static struct probe *probe_find(struct sim *s, enum probe_kind kind, uint32_t subject,
                                uint32_t obs)
{
	for (size_t k = s->nprobes; k-- > 0;) {
		struct probe *p = &s->probes[k];

		if (p->open && p->kind == kind && p->subject == subject && p->pending[obs])
			return p;
	}
	return NULL;
}

/* A failure nobody caused: the member runs and the path from it is open. */
static void judge_failure(struct sim *s, uint32_t obs, uint32_t subj)
{
	struct probe *p = probe_find(s, PROBE_CRASH, subj, obs);
	const struct host *h = &s->hosts[subj];

	if (p) {
		probe_mark(s, p, obs);
		return;
	}
	if ((p = probe_find(s, PROBE_LEAVE, subj, obs)) != NULL) {
		p->saw_failed++;
		probe_mark(s, p, obs);
		return;
	}
	if (s->fig == NULL)
		return;
	if (h->state != HOST_UP || path_blocked(s, subj, obs))
		s->fig->expected_failures++;
	else if (s->counting == 1)
		s->fig->false_failures++;
	else if (s->counting == 0)
		s->fig->false_before++;
	else
		s->fig->false_after++;
}

static void follow_convergence(struct sim *s, uint32_t obs)
{
	struct host *h = &s->hosts[obs];
	size_t alive = h->node ? node_count(h->node, MEMBER_ALIVE) : 0;

	s->alive_total = s->alive_total - h->alive_seen + alive;
	h->alive_seen = alive;
	if (s->converge_s < 0 && s->started_t && s->up == s->n &&
	    s->alive_total == (size_t)s->n * (s->n - 1))
		s->converge_s = (double)(s->now - (s->started_t - 1)) / 1e6;
}

void sim_on_event(struct sim *s, uint32_t obs, enum member_event ev, const char *member)
{
	uint32_t subj = (uint32_t)strtoul(member + 1, NULL, 10) - 1;
	struct probe *p;

	if (s->fig)
		s->fig->events++;
	if (s->trace)
		fprintf(s->trace, "%.6f n%u %s %s (timeout %u ms)\n", (double)s->now / 1e6, obs + 1,
		        members_event_name(ev), member, node_timeout_ms(s->hosts[obs].node, member));
	if (subj < s->n) {
		if (ev == MEV_FAILED)
			judge_failure(s, obs, subj);
		else if (ev == MEV_LEAVE && (p = probe_find(s, PROBE_LEAVE, subj, obs)) != NULL)
			probe_mark(s, p, obs);
		else if ((ev == MEV_JOIN || ev == MEV_RESTART) &&
		         (p = probe_find(s, PROBE_JOIN, subj, obs)) != NULL)
			probe_mark(s, p, obs);
	}
	follow_convergence(s, obs);
}

void measure_begin(struct sim *s)
{
	s->measuring = 1;
	s->measure_t0 = s->now;
	for (uint32_t i = 0; i < s->n; i++)
		s->hosts[i].c0 = s->hosts[i].c;
}

static void timeouts_sample(struct sim *s)
{
	struct figures *f = s->fig;
	char name[16];

	if (s->n > 256) /* N^2 lookups: enough from the smaller clusters */
		return;
	for (uint32_t i = 0; i < s->n; i++) {
		if (s->hosts[i].state != HOST_UP)
			continue;
		for (uint32_t j = 0; j < s->n; j++) {
			unsigned t;

			snprintf(name, sizeof(name), "n%u", j + 1);
			if (j != i && (t = node_timeout_ms(s->hosts[i].node, name)) > 0)
				fig_add(&f->timeouts, &f->ntimeouts, &f->cap_timeouts, t);
		}
	}
}

void measure_end(struct sim *s)
{
	struct figures *f = s->fig;
	double dt = (double)(s->now - s->measure_t0) / 1e6;

	s->measuring = 0;
	if (f == NULL || dt <= 0)
		return;
	f->measured_s += dt;
	for (uint32_t i = 0; i < s->n; i++) {
		const struct counters *a = &s->hosts[i].c0, *b = &s->hosts[i].c;
		double v[4] = { (double)(b->tx_lines - a->tx_lines) / dt,
		                (double)(b->rx_lines - a->rx_lines) / dt,
		                (double)(b->tx_bytes - a->tx_bytes) / dt,
		                (double)(b->rx_bytes - a->rx_bytes) / dt };

		if (s->hosts[i].state != HOST_UP)
			continue;
		for (int k = 0; k < 4; k++)
			fig_add(&f->per_node[k], &f->nper_node[k], &f->cap_per_node[k], v[k]);
	}
	timeouts_sample(s);
}

void figures_free(struct figures *f)
{
	for (int k = 0; k < PROBE_NKINDS; k++) {
		free(f->times[k]);
		free(f->all[k]);
	}
	for (int k = 0; k < 4; k++)
		free(f->per_node[k]);
	free(f->converge);
	free(f->false_runs);
	free(f->timeouts);
	memset(f, 0, sizeof(*f));
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile (0..100) of V; NAN when empty. */
static double percentile(const double *v, size_t n, double pct)
{
	double *c, r;
	size_t k;

	if (n == 0)
		return NAN;
	c = xreallocarray(NULL, n, sizeof(*c));
	memcpy(c, v, n * sizeof(*c));
	qsort(c, n, sizeof(*c), cmp_double);
	k = (size_t)ceil(pct / 100.0 * (double)n);
	r = c[k ? k - 1 : 0];
	free(c);
	return r;
}

static double stat_of(const double *v, size_t n, const char *what, int *ok)
{
	static const struct { const char *k; double pct; } st[] = {
		{ "min", 0 }, { "p50", 50 }, { "median", 50 }, { "p90", 90 }, { "p99", 99 },
		{ "max", 100 },
	};

	for (size_t k = 0; k < ARRAY_SIZE(st); k++)
		if (strcmp(what, st[k].k) == 0)
			return *ok = 1, v ? percentile(v, n, st[k].pct) : 0;
	if (strcmp(what, "n") == 0)
		return *ok = 1, (double)n;
	return *ok = 0, 0;
}

/* A figure by name (crash.p99, false, rx_lines, ...); F NULL: is the name known. */
double figure_value(const struct figures *f, const char *what, int *ok)
{
	static const char *pn[4] = { "tx_lines", "rx_lines", "tx_bytes", "rx_bytes" };
	const char *dot = strchr(what, '.');

	*ok = 1;
	if (strcmp(what, "leave.failed") == 0)
		return f ? f->leave_as_failed : 0;
	for (int k = 0; k < PROBE_NKINDS; k++)
		if (dot && strncmp(what, probe_names[k], (size_t)(dot - what)) == 0 &&
		    strlen(probe_names[k]) == (size_t)(dot - what)) {
			if (strcmp(dot + 1, "missed") == 0)
				return f ? f->missed[k] : 0;
			return stat_of(f ? f->times[k] : NULL, f ? f->ntimes[k] : 0, dot + 1, ok);
		}
	for (int k = 0; k < PROBE_NKINDS; k++)
		if (dot && strncmp(what, probe_names[k], strlen(probe_names[k])) == 0 &&
		    strncmp(what + strlen(probe_names[k]), "_all.", 5) == 0)
			return stat_of(f ? f->all[k] : NULL, f ? f->nall[k] : 0, dot + 1, ok);
	if (dot && strncmp(what, "converge.", 9) == 0)
		return stat_of(f ? f->converge : NULL, f ? f->nconverge : 0, dot + 1, ok);
	if (dot && strncmp(what, "false_run.", 10) == 0)
		return stat_of(f ? f->false_runs : NULL, f ? f->nfalse_runs : 0, dot + 1, ok);
	if (dot && strncmp(what, "timeout.", 8) == 0)
		return stat_of(f ? f->timeouts : NULL, f ? f->ntimeouts : 0, dot + 1, ok);
	for (int k = 0; k < 4; k++)
		if (strcmp(what, pn[k]) == 0)
			return f ? percentile(f->per_node[k], f->nper_node[k], 50) : 0;
	if (strcmp(what, "false") == 0)
		return f ? (double)f->false_failures : 0;
	if (strcmp(what, "false_before") == 0)
		return f ? (double)f->false_before : 0;
	if (strcmp(what, "false_after") == 0)
		return f ? (double)f->false_after : 0;
	if (strcmp(what, "unconverged") == 0) {
		size_t bad = 0;

		for (size_t k = 0; f && k < f->nconverge; k++)
			bad += f->converge[k] < 0;
		return (double)bad;
	}
	return *ok = 0, 0;
}

static void spread(char *buf, size_t len, const double *v, size_t n, double scale,
                   const char *unit, int digits)
{
	if (n == 0) {
		snprintf(buf, len, "—");
		return;
	}
	snprintf(buf, len, "%.*f / %.*f / %.*f / %.*f %s (%zu)", digits,
	         percentile(v, n, 0) * scale, digits, percentile(v, n, 50) * scale, digits,
	         percentile(v, n, 99) * scale, digits, percentile(v, n, 100) * scale, unit, n);
}

static void probe_row(FILE *out, const struct figures *f, enum probe_kind k, const char *label,
                      double scale, const char *unit, int digits)
{
	char b[160];

	spread(b, sizeof(b), f->times[k], f->ntimes[k], scale, unit, digits);
	fprintf(out, "| %s seen by each observer: min / median / p99 / max | %s |\n", label, b);
	spread(b, sizeof(b), f->all[k], f->nall[k], scale, unit, digits);
	fprintf(out, "| %s seen by all (the last observer) | %s", label, b);
	if (f->missed[k])
		fprintf(out, "; %u not seen by all", f->missed[k]);
	if (k == PROBE_LEAVE && f->leave_as_failed)
		fprintf(out, "; %u observers saw failed", f->leave_as_failed);
	fprintf(out, " |\n");
}

void report_print(FILE *out, const struct scenario *sc, const struct figures *f, double sim_s)
{
	char b[160];

	fprintf(out, "### %s: N=%u, %u run%s of %.0f s simulated (heartbeat_ms %u%s, fail_after_ms %u)\n\n",
	        sc->name, sc->nodes, f->runs, f->runs == 1 ? "" : "s", sim_s, sc->conf.heartbeat_ms,
	        sc->conf.heartbeat_fixed ? " fixed" : "", sc->conf.fail_after_ms);
	fprintf(out, "| figure | simulated |\n|---|---|\n");
	spread(b, sizeof(b), f->converge, f->nconverge, 1, "s", 2);
	fprintf(out, "| converged: all list all alive, from the start | %s",
	        f->nconverge ? b : "—");
	if (figure_value(f, "unconverged", &(int){ 0 }) > 0)
		fprintf(out, "; %.0f runs never", figure_value(f, "unconverged", &(int){ 0 }));
	fprintf(out, " |\n");
	probe_row(out, f, PROBE_JOIN, "join", 1000, "ms", 1);
	probe_row(out, f, PROBE_LEAVE, "leave", 1000, "ms", 1);
	probe_row(out, f, PROBE_CRASH, "crash", 1, "s", 3);
	fprintf(out, "| false failures (member running, path open) | %llu |\n",
	        (unsigned long long)f->false_failures);
	if (f->false_before)
		fprintf(out, "| false failures before `count start` (not counted above) | %llu |\n",
		        (unsigned long long)f->false_before);
	if (f->false_after)
		fprintf(out, "| false failures after `count stop` (not counted above) | %llu |\n",
		        (unsigned long long)f->false_after);
	fprintf(out, "| failures explained (partition, cut input, pause) | %llu |\n",
	        (unsigned long long)f->expected_failures);
	if (f->measured_s > 0) {
		fprintf(out, "| lines sent / received per s per node, median | %.1f / %.1f |\n",
		        percentile(f->per_node[0], f->nper_node[0], 50),
		        percentile(f->per_node[1], f->nper_node[1], 50));
		fprintf(out, "| bytes sent / received per s per node, median (frames) | %.0f / %.0f |\n",
		        percentile(f->per_node[2], f->nper_node[2], 50),
		        percentile(f->per_node[3], f->nper_node[3], 50));
	}
	if (f->ntimeouts) {
		spread(b, sizeof(b), f->timeouts, f->ntimeouts, 1, "ms", 0);
		fprintf(out, "| adaptive timeouts at the end: min / median / p99 / max | %s |\n", b);
	}
	fprintf(out, "| daemon state per node (struct and member table), largest | %zu kB |\n\n",
	        (f->footprint_max + 1023) / 1024);
}

/* The scenario's `expect` lines against the figures; 0 if all hold. */
int report_expect(FILE *out, const struct scenario *sc, const struct figures *f)
{
	static const char *ops[] = { "<", "<=", "==", ">=", ">" };
	int bad = 0;

	for (size_t k = 0; k < sc->nexpects; k++) {
		const struct expect *e = &sc->expects[k];
		int ok;
		double v = figure_value(f, e->what, &ok);
		int hold = !isnan(v) && (e->op == OP_LT   ? v < e->value
		                         : e->op == OP_LE ? v <= e->value
		                         : e->op == OP_EQ ? v == e->value
		                         : e->op == OP_GE ? v >= e->value
		                                          : v > e->value);

		if (isnan(v))
			fprintf(out, "FAILED: %s: %s not measured (wanted %s %g)\n", sc->name, e->what,
			        ops[e->op], e->value);
		else
			fprintf(out, "%s: %s: %s = %g (wanted %s %g)\n", hold ? "ok" : "FAILED",
			        sc->name, e->what, v, ops[e->op], e->value);
		bad += !hold;
	}
	return bad ? -1 : 0;
}
