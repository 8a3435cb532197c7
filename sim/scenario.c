/*
 * sim scenarios: one line per statement, '#' starts a comment.
 *
 *   nodes N                     cluster size
 *   seeds K                     runs (seeds 1..K) unless --seeds is given
 *   set KEY VALUE               cmemd setting: heartbeat_ms, fail_after_ms,
 *                               replay_window_s, max_members, heartbeat_fixed
 *   at T ACTION ...             at T seconds of simulated time
 *   expect FIGURE OP VALUE      checked at the end (OP: < <= == >= >)
 *
 * HOSTS is `all`, or a list of names and ranges: n1,n3,n5-n8.
 * Actions: start HOSTS [over SECONDS] (each at a random moment within,
 *   default 0.2 s when several);  crash|restart|stop|pause|resume HOSTS;
 *   loss in|out|both HOSTS P%  or  ... gemodel P [R [1-H [1-K]]] (netem's);
 *   delay in|out|both HOSTS MS [JITTER_MS];  dup in|out|both HOSTS P%;
 *   partition HOSTS | HOSTS (both ways)  or  HOSTS > HOSTS (the right does
 *   not hear the left);  heal;  clock HOSTS step SECONDS | rate PPM;
 *   starve HOSTS MS (timers up to MS late);  measure start|stop;
 *   count start (false failures counted from here on, not before: as
 *   bench-cluster counts them from the moment its loss rules are in);  end.
 */
#include "sim.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define MAX_WORDS 12

struct parse {
	struct scenario *s;
	char **w;
	int nw, line;
	char *err;
	size_t errlen;
};

int hostset_has(const struct hostset *hs, uint32_t i)
{
	if (hs->all)
		return 1;
	for (unsigned k = 0; k < hs->n; k++)
		if (i >= hs->lo[k] && i <= hs->hi[k])
			return 1;
	return 0;
}

static int fail(struct parse *p, const char *what, const char *word)
{
	seterr(p->err, p->errlen, "line %d: %s%s%s", p->line, what, word ? ": " : "",
	       word ? word : "");
	return -1;
}

static int parse_num(const char *w, double *out)
{
	char *end;
	size_t len = strlen(w);
	double scale = 1.0;

	if (len && w[len - 1] == '%')
		scale = 0.01;
	errno = 0;
	*out = strtod(w, &end) * scale;
	return errno || end == w || (*end && strcmp(end, "%") != 0) ? -1 : 0;
}

static int host_index(struct parse *p, const char *w, uint32_t *out)
{
	uint64_t v;

	if (*w == 'n')
		w++;
	if (parse_u64_str(w, &v) == -1 || v < 1 || v > p->s->nodes)
		return -1;
	*out = (uint32_t)(v - 1);
	return 0;
}

static int parse_hosts(struct parse *p, const char *word, struct hostset *hs)
{
	char buf[256], *save = NULL;

	memset(hs, 0, sizeof(*hs));
	if (strcmp(word, "all") == 0)
		return hs->all = 1, 0;
	snprintf(buf, sizeof(buf), "%s", word);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *dash = strchr(t, '-');

		if (hs->n == SIM_MAX_RANGES)
			return fail(p, "too many host ranges", word);
		if (dash)
			*dash = '\0';
		if (host_index(p, t, &hs->lo[hs->n]) == -1 ||
		    host_index(p, dash ? dash + 1 : t, &hs->hi[hs->n]) == -1)
			return fail(p, "not a host of this scenario (n1 to nN, or all)", word);
		hs->n++;
	}
	return hs->n ? 0 : fail(p, "no hosts", word);
}

static int parse_dir(struct parse *p, const char *w, enum dir *d)
{
	*d = strcmp(w, "in") == 0 ? DIR_IN : strcmp(w, "out") == 0 ? DIR_OUT
	     : strcmp(w, "both") == 0 ? DIR_BOTH : 0;
	return *d ? 0 : fail(p, "expected in, out or both", w);
}

/* loss DIR HOSTS P%  |  loss DIR HOSTS gemodel P [R [1-H [1-K]]] */
static int parse_loss(struct parse *p, struct action *a, int i)
{
	double v[4] = { 0, -1, 1.0, 0.0 };
	int ge = i < p->nw && strcmp(p->w[i], "gemodel") == 0, n = p->nw - i - ge;

	if (n < 1 || n > (ge ? 4 : 1))
		return fail(p, "loss wants P% or gemodel P [R [1-H [1-K]]]", NULL);
	for (int k = 0; k < n; k++)
		if (parse_num(p->w[i + ge + k], &v[k]) == -1 || v[k] < 0 || v[k] > 1)
			return fail(p, "not a probability", p->w[i + ge + k]);
	a->loss.kind = ge ? LOSS_GE : v[0] > 0 ? LOSS_RANDOM : LOSS_NONE;
	a->loss.p = v[0];
	a->loss.r = v[1] < 0 ? 1.0 - v[0] : v[1];
	a->loss.h1 = v[2];
	a->loss.k1 = v[3];
	return 0;
}

/* A value (and an optional second one) after DIR HOSTS. */
static int parse_values(struct parse *p, struct action *a, int i, int most)
{
	if (p->nw - i < 1 || p->nw - i > most)
		return fail(p, "wrong number of values", NULL);
	if (parse_num(p->w[i], &a->value) == -1 || a->value < 0)
		return fail(p, "not a value", p->w[i]);
	if (p->nw - i == 2 && (parse_num(p->w[i + 1], &a->value2) == -1 || a->value2 < 0))
		return fail(p, "not a value", p->w[i + 1]);
	return 0;
}

static int parse_link(struct parse *p, struct action *a)
{
	if (p->nw < 5 || parse_dir(p, p->w[3], &a->dir) == -1 || parse_hosts(p, p->w[4], &a->a) == -1)
		return p->nw < 5 ? fail(p, "wants in|out|both HOSTS ...", NULL) : -1;
	if (a->kind == ACT_LOSS)
		return parse_loss(p, a, 5);
	if (parse_values(p, a, 5, a->kind == ACT_DELAY ? 2 : 1) == -1)
		return -1;
	if (a->kind == ACT_DUP && a->value > 1)
		return fail(p, "not a probability", p->w[5]);
	return 0;
}

static int parse_partition(struct parse *p, struct action *a)
{
	if (p->nw != 6 || (strcmp(p->w[4], "|") != 0 && strcmp(p->w[4], ">") != 0))
		return fail(p, "partition wants HOSTS | HOSTS, or HOSTS > HOSTS", NULL);
	a->oneway = p->w[4][0] == '>';
	return parse_hosts(p, p->w[3], &a->a) == -1 || parse_hosts(p, p->w[5], &a->b) == -1 ? -1 : 0;
}

static int parse_clock(struct parse *p, struct action *a)
{
	if (p->nw != 6 || parse_hosts(p, p->w[3], &a->a) == -1)
		return fail(p, "clock wants HOSTS step SECONDS, or HOSTS rate PPM", NULL);
	if (strcmp(p->w[4], "step") == 0)
		a->kind = ACT_CLOCK_STEP;
	else if (strcmp(p->w[4], "rate") == 0)
		a->kind = ACT_CLOCK_RATE;
	else
		return fail(p, "expected step or rate", p->w[4]);
	if (parse_num(p->w[5], &a->value) == -1)
		return fail(p, "not a number", p->w[5]);
	if (a->kind == ACT_CLOCK_RATE && (a->value < -100000 || a->value > 100000))
		return fail(p, "rate out of range (+-100000 ppm)", p->w[5]);
	return 0;
}

static const struct {
	const char *name;
	enum act_kind kind;
} act_names[] = {
	{ "start", ACT_START },   { "crash", ACT_CRASH },   { "restart", ACT_RESTART },
	{ "stop", ACT_STOP },     { "pause", ACT_PAUSE },   { "resume", ACT_RESUME },
	{ "loss", ACT_LOSS },     { "delay", ACT_DELAY },   { "dup", ACT_DUP },
	{ "partition", ACT_PARTITION }, { "heal", ACT_HEAL }, { "clock", ACT_CLOCK_STEP },
	{ "starve", ACT_STARVE }, { "measure", ACT_MEASURE }, { "count", ACT_COUNT },
	{ "end", ACT_END },
};

static int parse_act_args(struct parse *p, struct action *a)
{
	switch (a->kind) {
	case ACT_LOSS:
	case ACT_DELAY:
	case ACT_DUP:
		return parse_link(p, a);
	case ACT_PARTITION:
		return parse_partition(p, a);
	case ACT_CLOCK_STEP:
		return parse_clock(p, a);
	case ACT_HEAL:
	case ACT_END:
		return p->nw == 3 ? 0 : fail(p, "takes no argument", p->w[2]);
	case ACT_MEASURE:
		if (p->nw != 4 || (strcmp(p->w[3], "start") != 0 && strcmp(p->w[3], "stop") != 0))
			return fail(p, "measure wants start or stop", NULL);
		a->kind = p->w[3][2] == 'a' ? ACT_MEASURE : ACT_UNMEASURE;
		return 0;
	case ACT_COUNT:
		if (p->nw != 4 || (strcmp(p->w[3], "start") != 0 && strcmp(p->w[3], "stop") != 0))
			return fail(p, "wants: count start, or count stop", NULL);
		a->value = p->w[3][2] == 'o' ? 1 : 0; /* stop: 1 */
		return 0;
	case ACT_STARVE:
		if (p->nw != 5 || parse_hosts(p, p->w[3], &a->a) == -1)
			return fail(p, "starve wants HOSTS MS", NULL);
		return parse_values(p, a, 4, 1);
	case ACT_START:
		a->value = 0.2;
		if (p->nw == 6 && strcmp(p->w[4], "over") == 0) {
			if (parse_num(p->w[5], &a->value) == -1 || a->value < 0 || a->value > 3600)
				return fail(p, "not a duration (0 to 3600 s)", p->w[5]);
		} else if (p->nw != 4) {
			return fail(p, "wants: start HOSTS [over SECONDS]", NULL);
		}
		return parse_hosts(p, p->w[3], &a->a);
	default:
		if (p->nw != 4)
			return fail(p, "wants HOSTS", p->w[2]);
		return parse_hosts(p, p->w[3], &a->a);
	}
}

static int parse_at(struct parse *p)
{
	struct scenario *s = p->s;
	struct action a = { .line = p->line };
	double t;
	size_t k;

	if (p->nw < 3 || parse_num(p->w[1], &t) == -1 || t < 0 || t > 1e6)
		return fail(p, "wants: at SECONDS ACTION ...", NULL);
	a.t = (uint64_t)(t * 1e6 + 0.5);
	for (k = 0; k < ARRAY_SIZE(act_names); k++)
		if (strcmp(p->w[2], act_names[k].name) == 0)
			break;
	if (k == ARRAY_SIZE(act_names))
		return fail(p, "unknown action", p->w[2]);
	a.kind = act_names[k].kind;
	if (parse_act_args(p, &a) == -1)
		return -1;
	if (s->nacts && a.t < s->acts[s->nacts - 1].t)
		return fail(p, "times must not go back", p->w[1]);
	s->acts = xreallocarray(s->acts, s->nacts + 1, sizeof(*s->acts));
	s->acts[s->nacts++] = a;
	return 0;
}

static int parse_set(struct parse *p)
{
	static const struct { const char *k; size_t off; double lo, hi; } keys[] = {
		{ "heartbeat_ms", offsetof(struct node_conf, heartbeat_ms), 10, 60000 },
		{ "fail_after_ms", offsetof(struct node_conf, fail_after_ms), 20, 600000 },
		{ "replay_window_s", offsetof(struct node_conf, replay_window_s), 1, 3600 },
		{ "max_members", offsetof(struct node_conf, max_members), 2, 1000000 },
	};
	double v;

	if (p->nw != 3 || parse_num(p->w[2], &v) == -1)
		return fail(p, "wants: set KEY NUMBER", NULL);
	if (strcmp(p->w[1], "heartbeat_fixed") == 0)
		return p->s->conf.heartbeat_fixed = v != 0, 0;
	for (size_t k = 0; k < ARRAY_SIZE(keys); k++)
		if (strcmp(p->w[1], keys[k].k) == 0) {
			if (v < keys[k].lo || v > keys[k].hi)
				return fail(p, "out of range", p->w[2]);
			*(unsigned *)((char *)&p->s->conf + keys[k].off) = (unsigned)v;
			return 0;
		}
	return fail(p, "unknown setting", p->w[1]);
}

static int parse_expect(struct parse *p)
{
	static const char *ops[] = { "<", "<=", "==", ">=", ">" };
	struct expect e = { .line = p->line };
	size_t k;
	int ok;

	if (p->nw != 4 || parse_num(p->w[3], &e.value) == -1)
		return fail(p, "wants: expect FIGURE OP NUMBER", NULL);
	for (k = 0; k < ARRAY_SIZE(ops); k++)
		if (strcmp(p->w[2], ops[k]) == 0)
			break;
	if (k == ARRAY_SIZE(ops))
		return fail(p, "unknown comparison", p->w[2]);
	e.op = (enum expect_op)k;
	snprintf(e.what, sizeof(e.what), "%s", p->w[1]);
	figure_value(NULL, e.what, &ok);
	if (!ok)
		return fail(p, "unknown figure", p->w[1]);
	p->s->expects = xreallocarray(p->s->expects, p->s->nexpects + 1, sizeof(e));
	p->s->expects[p->s->nexpects++] = e;
	return 0;
}

static int parse_line(struct parse *p)
{
	double v;

	if (strcmp(p->w[0], "at") == 0)
		return p->s->nodes ? parse_at(p) : fail(p, "`nodes N` must come first", NULL);
	if (strcmp(p->w[0], "set") == 0)
		return parse_set(p);
	if (strcmp(p->w[0], "expect") == 0)
		return parse_expect(p);
	if (strcmp(p->w[0], "nodes") == 0) {
		if (p->nw != 2 || parse_num(p->w[1], &v) == -1 || v < 2 || v > 100000 || p->s->nacts)
			return fail(p, "wants: nodes N (2 to 100000), before any `at`", NULL);
		p->s->nodes = (unsigned)v;
		return 0;
	}
	if (strcmp(p->w[0], "seeds") == 0) {
		if (p->nw != 2 || parse_u64_str(p->w[1], &p->s->seeds) == -1 || p->s->seeds == 0)
			return fail(p, "wants: seeds K (at least 1)", NULL);
		return 0;
	}
	return fail(p, "unknown statement", p->w[0]);
}

static void name_from_path(struct scenario *s, const char *path)
{
	const char *base = strrchr(path, '/');
	char *dot;

	snprintf(s->name, sizeof(s->name), "%s", base ? base + 1 : path);
	if ((dot = strrchr(s->name, '.')) != NULL)
		*dot = '\0';
}

int scenario_load(struct scenario *s, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char buf[1024], *w[MAX_WORDS], *save;
	struct parse p = { .s = s, .w = w, .err = err, .errlen = errlen };

	memset(s, 0, sizeof(*s));
	s->conf = (struct node_conf){ 50, 750, 30, 4096, 0 };
	s->seeds = 1;
	name_from_path(s, path);
	if (f == NULL) {
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(buf, sizeof(buf), f)) {
		char *hash = strchr(buf, '#');

		p.line++;
		if (hash)
			*hash = '\0';
		p.nw = 0;
		for (char *t = strtok_r(buf, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save))
			if (p.nw < MAX_WORDS)
				w[p.nw++] = t;
		if (p.nw && parse_line(&p) == -1) {
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	if (s->nacts == 0 || s->acts[s->nacts - 1].kind != ACT_END)
		return seterr(err, errlen, "%s: the last action must be `at T end`", path), -1;
	return 0;
}

void scenario_free(struct scenario *s)
{
	free(s->acts);
	free(s->expects);
	s->acts = NULL;
	s->expects = NULL;
}
