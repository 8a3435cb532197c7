/*
 * cmem-sim: run scenarios of N simulated cmemd on a virtual clock.
 *
 *   cmem-sim [--seeds K] [--seed S] [--trace FILE] [--summary FILE] [--progress] SCENARIO...
 *
 * Each scenario runs once per seed (S, S+1, ... S+K-1; K from the
 * scenario's `seeds` line unless --seeds says, S 1); the figures of all
 * runs are pooled into one table (markdown, stdout), then its `expect`
 * lines are checked.  The same seeds and scenario give the same stdout,
 * byte for byte; the speed of the run goes to stderr.  --summary appends
 * one tab-separated line per scenario (for the plot against N).
 * Exit status: 0, 1 if an expectation failed, 2 on a usage or scenario error.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "sim.h"
#include "util.h"

struct opts {
	uint64_t seed, seeds;
	FILE *trace, *summary;
	int progress;
};

static double wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void summary_line(FILE *out, const struct scenario *sc, const struct figures *f,
                         double wall_s)
{
	static const char *cols[] = { "crash.p50", "crash.p99", "crash.max", "join.max", "leave.max",
	                              "false", "tx_lines", "rx_lines", "tx_bytes", "rx_bytes",
	                              "converge.max", "timeout.p50", "false_before", "false_after",
	                              "false_run.min", "false_run.max" };
	int ok;

	fprintf(out, "%s\t%u\t%u", sc->name, sc->nodes, f->runs);
	for (size_t k = 0; k < ARRAY_SIZE(cols); k++)
		fprintf(out, "\t%.4f", figure_value(f, cols[k], &ok));
	fprintf(out, "\t%.2f\t%.0f\t%.0f\t%zu\n", wall_s, f->sim_s,
	        (double)f->deliveries, f->footprint_max);
	fflush(out);
}

static long max_rss_kb(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

/* CPU seconds used so far (the machine may be shared: wall time says less). */
static double cpu_s(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int run_scenario(const char *path, const struct opts *o)
{
	struct scenario sc;
	struct figures f = { 0 };
	char err[256];
	double t0 = wall_now(), c0 = cpu_s(), wall, cpu, end_s;
	int rc;

	if (scenario_load(&sc, path, err, sizeof(err)) == -1) {
		fprintf(stderr, "cmem-sim: %s\n", err);
		return 2;
	}
	end_s = (double)sc.acts[sc.nacts - 1].t / 1e6;
	for (uint64_t k = 0; k < (o->seeds ? o->seeds : sc.seeds); k++) {
		struct sim s;
		uint64_t false0 = f.false_failures;

		sim_init(&s, &sc, o->seed + k, &f, o->trace);
		s.progress = o->progress;
		sim_run(&s);
		fig_add(&f.converge, &f.nconverge, &f.cap_converge, s.converge_s);
		fig_add(&f.false_runs, &f.nfalse_runs, &f.cap_false_runs,
		        (double)(f.false_failures - false0));
		f.sim_s += (double)s.now / 1e6;
		f.runs++;
		sim_free(&s);
	}
	wall = wall_now() - t0;
	cpu = cpu_s() - c0;
	report_print(stdout, &sc, &f, end_s);
	rc = report_expect(stdout, &sc, &f) == 0 ? 0 : 1;
	printf("\n");
	fflush(stdout);
	fprintf(stderr, "cmem-sim: %s: %.0f s simulated in %.2f s wall, %.2f s CPU (%.0f× real time "
	        "per CPU s), %.0f lines received and HMAC-checked (%.0f per CPU s), max RSS %ld MB\n",
	        sc.name, f.sim_s, wall, cpu, cpu > 0 ? f.sim_s / cpu : 0, (double)f.deliveries,
	        cpu > 0 ? (double)f.deliveries / cpu : 0, max_rss_kb() / 1024);
	if (o->summary)
		summary_line(o->summary, &sc, &f, cpu);
	figures_free(&f);
	scenario_free(&sc);
	return rc;
}

static FILE *open_out(const char *path, const char *mode)
{
	FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, mode);

	if (f == NULL) {
		perror(path);
		exit(2);
	}
	return f;
}

static void usage(void)
{
	fprintf(stderr, "usage: cmem-sim [--seeds K] [--seed S] [--trace FILE] [--summary FILE] "
	                "SCENARIO...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = { { "seeds", 1, NULL, 'k' }, { "seed", 1, NULL, 's' },
		                            { "trace", 1, NULL, 't' }, { "summary", 1, NULL, 'S' },
		                            { "progress", 0, NULL, 'p' }, { NULL, 0, NULL, 0 } };
	struct opts o = { .seed = 1, .seeds = 0 };
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, "k:s:t:S:p", lo, NULL)) != -1) {
		if ((c == 'k' || c == 's') &&
		    parse_u64_str(optarg, c == 'k' ? &o.seeds : &o.seed) == -1)
			usage();
		else if (c == 't')
			o.trace = open_out(optarg, "w");
		else if (c == 'p')
			o.progress = 1;
		else if (c == 'S')
			o.summary = open_out(optarg, "a");
		else if (c == '?')
			usage();
	}
	if (optind >= argc)
		usage();
	if (node_global_init() == -1) {
		fprintf(stderr, "cmem-sim: cannot initialise libsodium\n");
		return 2;
	}
	for (int i = optind; i < argc; i++) {
		int r = run_scenario(argv[i], &o);

		rc = r > rc ? r : rc;
	}
	return rc;
}
