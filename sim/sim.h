/*
 * sim: a discrete-event simulator of a cmem cluster (issue 18).
 *
 * N hosts, each running the real daemon code (node.c), on one virtual
 * clock (true time, microseconds) and a modelled network.  Every host has
 * its own monotonic and wall clocks derived from true time (offset, rate,
 * steps).  Events are kept in one binary heap ordered by (time, sequence):
 * with the same seed and scenario a run is reproduced byte for byte.
 */
#ifndef CMEM_SIM_H
#define CMEM_SIM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "node.h"

#define SIM_NEVER UINT64_MAX
#define SIM_US 1000000ull
#define SIM_FRAME_OVERHEAD 42   /* Ethernet 14 + IPv4 20 + UDP 8: bytes are frames, as bench-cluster counts */
#define SIM_MAX_GROUPS 8
#define SIM_MAX_RANGES 16
#define SIM_PAUSE_QUEUE 256     /* datagrams a stopped daemon's socket holds */

/* ---- random numbers (the network's; node.c has the daemon's) ---- */
struct rng { uint64_t s; };
uint64_t rng_u64(struct rng *r);
double rng_unit(struct rng *r);           /* [0, 1) */

/* ---- loss: none, independent, or Gilbert-Elliott (netem's gemodel) ---- */
enum loss_kind { LOSS_NONE = 0, LOSS_RANDOM, LOSS_GE };
struct loss {
	enum loss_kind kind;
	double p;         /* random: loss probability; GE: good -> bad */
	double r;         /* GE: bad -> good */
	double h1;        /* GE: 1-h, loss probability in the bad state */
	double k1;        /* GE: 1-k, loss probability in the good state */
	int bad;
};
int loss_drop(struct loss *l, struct rng *r);
int loss_total(const struct loss *l);     /* drops every datagram */

/* One direction of a host's interface. */
struct link {
	struct loss loss;
	double dup;
	uint32_t delay_us, jitter_us;
};

enum host_state { HOST_DOWN = 0, HOST_UP, HOST_PAUSED, HOST_LEAVING };

struct counters { uint64_t tx_lines, tx_bytes, rx_lines, rx_bytes; };

struct host {
	struct sim *sim;
	uint32_t idx;
	char name[16];
	struct member_addr addr;
	struct node *node;
	enum host_state state;
	/* clocks: mono/real = anchor + (t - anchor_t) * (1 + ppm / 1e6) */
	uint64_t anchor_t, anchor_mono, anchor_real;
	int64_t ppm;
	uint32_t starve_us;        /* timers fire up to this late */
	uint64_t timer_t;          /* the wake-up scheduled (true time), SIM_NEVER */
	uint32_t timer_gen;
	struct link in, out;
	uint8_t group;             /* partition group */
	size_t alive_seen;         /* its view's alive count, last event */
	/* a paused daemon's socket */
	struct pkt *queue[SIM_PAUSE_QUEUE];
	uint64_t queue_t[SIM_PAUSE_QUEUE];
	unsigned nqueue;
	struct counters c, c0;
};

struct pkt {
	uint32_t refs;
	uint32_t src;
	uint16_t len;
	uint8_t data[];
};

enum ev_type { EV_DELIVER = 0, EV_TIMER, EV_ACTION, EV_START };
struct event {
	uint64_t t, seq;
	uint32_t type, host;
	union {
		struct pkt *pkt;
		uint32_t gen;
		uint32_t action;
	} u;
};

/* ---- scenario ---- */
struct hostset { unsigned n; uint32_t lo[SIM_MAX_RANGES], hi[SIM_MAX_RANGES]; int all; };

enum act_kind {
	ACT_START, ACT_CRASH, ACT_RESTART, ACT_STOP, ACT_PAUSE, ACT_RESUME, ACT_LOSS, ACT_DELAY,
	ACT_DUP, ACT_PARTITION, ACT_HEAL, ACT_CLOCK_STEP, ACT_CLOCK_RATE, ACT_STARVE, ACT_MEASURE,
	ACT_UNMEASURE, ACT_COUNT, ACT_END
};
enum dir { DIR_IN = 1, DIR_OUT = 2, DIR_BOTH = 3 };

struct action {
	uint64_t t;
	enum act_kind kind;
	struct hostset a, b;       /* b: the other side of a partition */
	int oneway;                /* partition: b does not hear a */
	enum dir dir;
	struct loss loss;
	double value;              /* dup share, step s, ppm, starve ms, delay */
	double value2;             /* jitter */
	int line;
};

enum expect_op { OP_LT, OP_LE, OP_EQ, OP_GE, OP_GT };
struct expect { char what[32]; enum expect_op op; double value; int line; };

struct scenario {
	char name[64];
	unsigned nodes;
	struct node_conf conf;
	uint64_t seeds;            /* runs unless --seeds says (default 1) */
	struct action *acts;
	size_t nacts;
	struct expect *expects;
	size_t nexpects;
};

int scenario_load(struct scenario *s, const char *path, char *err, size_t errlen);
void scenario_free(struct scenario *s);
int hostset_has(const struct hostset *hs, uint32_t i);

/* ---- what is measured ---- */
enum probe_kind { PROBE_JOIN = 0, PROBE_LEAVE, PROBE_CRASH, PROBE_NKINDS };

struct probe {
	enum probe_kind kind;
	uint32_t subject;
	uint64_t t0, last;
	size_t remaining;
	uint8_t *pending;          /* per observer: 1 until it reported */
	unsigned saw_failed;       /* leave: observers that saw failed instead */
	int open;
};

/* Figures over one or many runs (seeds). */
struct figures {
	double *times[PROBE_NKINDS];          /* seconds, each observer's (bench-cluster's) */
	size_t ntimes[PROBE_NKINDS], cap[PROBE_NKINDS];
	double *all[PROBE_NKINDS];            /* seconds until the last observer saw it */
	size_t nall[PROBE_NKINDS], capall[PROBE_NKINDS];
	unsigned missed[PROBE_NKINDS];        /* not seen by all by the end */
	unsigned leave_as_failed;
	uint64_t false_failures, expected_failures, events;
	uint64_t false_before;                /* before `count start` */
	uint64_t false_after;                 /* after `count stop` */
	double *false_runs;                   /* false failures in each run */
	size_t nfalse_runs, cap_false_runs;
	double *converge;                     /* per run, s; < 0 never */
	size_t nconverge, cap_converge;
	double measured_s;                    /* steady window, summed over runs */
	double *per_node[4];                  /* tx lines, rx lines, tx bytes, rx bytes per s */
	size_t nper_node[4], cap_per_node[4];
	double *timeouts;                     /* adaptive timeouts at the end, ms */
	size_t ntimeouts, cap_timeouts;
	uint64_t deliveries;                  /* lines handed to daemon_receive */
	double sim_s;                         /* simulated seconds */
	size_t footprint_max;                 /* bytes, one node */
	unsigned runs;
};

struct sim {
	const struct scenario *sc;
	struct host *hosts;
	unsigned n;
	uint64_t now, seq;
	struct event *heap;
	size_t nheap, capheap;
	struct rng rng;
	uint8_t blocked[SIM_MAX_GROUPS][SIM_MAX_GROUPS];   /* [from][to] */
	struct probe *probes;
	size_t nprobes, capprobes;
	size_t alive_total;        /* sum of alive_seen over hosts */
	unsigned up;               /* hosts up */
	uint64_t started_t;        /* `start all` */
	double converge_s;
	int measuring;
	int counting;               /* false failures: 0 not yet (before `count start`), 1 counted
	                               (from it, or all along), 2 no more (after `count stop`) */
	uint64_t measure_t0;
	int ended;
	FILE *trace;
	int progress;              /* a line on stderr every 10 s simulated */
	struct figures *fig;
};

/* engine.c */
void sim_init(struct sim *s, const struct scenario *sc, uint64_t seed, struct figures *fig,
              FILE *trace);
void sim_run(struct sim *s);
void sim_free(struct sim *s);
void sim_push(struct sim *s, uint64_t t, uint32_t type, uint32_t host, uint64_t payload, void *pkt);
uint64_t host_mono(const struct host *h, uint64_t t);
uint64_t host_real(const struct host *h, uint64_t t);
void host_reanchor(struct host *h, uint64_t t);
void host_start(struct sim *s, uint32_t i);
void host_stop_node(struct sim *s, uint32_t i);
void host_resume(struct sim *s, uint32_t i);
void host_schedule(struct sim *s, uint32_t i);
void host_wake(struct sim *s, uint32_t i);
void host_set_time(const struct sim *s, uint32_t i);
int path_blocked(const struct sim *s, uint32_t from, uint32_t to);

/* actions.c */
void sim_action(struct sim *s, const struct action *a);

/* report.c */
void fig_add(double **v, size_t *n, size_t *cap, double x);
void probe_open(struct sim *s, enum probe_kind kind, uint32_t subject);
void probe_observer_gone(struct sim *s, uint32_t obs);
void probe_subject_gone(struct sim *s, uint32_t subject);
void probes_close(struct sim *s);
void sim_on_event(struct sim *s, uint32_t obs, enum member_event ev, const char *member);
void measure_begin(struct sim *s);
void measure_end(struct sim *s);
void figures_free(struct figures *f);
void report_print(FILE *out, const struct scenario *sc, const struct figures *f, double wall_s);
int report_expect(FILE *out, const struct scenario *sc, const struct figures *f);
double figure_value(const struct figures *f, const char *what, int *ok);

#endif
