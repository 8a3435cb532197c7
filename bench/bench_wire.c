/*
 * bench_wire: cost of the full receive path against its floor.
 *
 * On one core, measures lines per second through daemon_receive(), the
 * daemon's one receive path (size and byte checks, envelope, MAC, window,
 * sender lookup, replay, body, membership and detector update), set up as
 * the unit tests set it up, for a typical alive line; and the bare
 * HMAC-SHA256 of the same signed part from the key's precomputed state.  The receive path should cost at most TARGET times
 * the bare MAC; the exit status is 1 if it does not.
 */
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "../tests/unit/daemon_fixture.h"
#include "keyring.h"
#include "testkey.h"
#include "wire.h"

#define NOW 1764172800u
#define WINDOW 30u
#define INCARNATION 1764172790123456u
#define NLINES 4096 /* distinct counters, so that every line passes replay */
#define LINE_MAX_LEN 192
#define SECONDS 1.5 /* per path and round */
#define CHUNKS 15
#define REPEAT 3
#define TARGET 1.20

static const char vector_keyring[] = TEST_KEYRING_TEXT; /* tests/vectors/keyring */

#define NOW_MS 5000000u

static struct keyring *kr;
static struct daemon d;
static uint8_t lines[NLINES][LINE_MAX_LEN];
static size_t line_len[NLINES];
static volatile uint8_t sink;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sign_lines(void)
{
	const char body[] = "alive node-a 1764172800";

	for (size_t i = 0; i < NLINES; i++) {
		int n = wire_sign(keyring_primary(kr), NOW, "node-a", body, sizeof(body) - 1,
		                  INCARNATION, i + 1, (char *)lines[i], LINE_MAX_LEN);

		if (n < 0) {
			fprintf(stderr, "bench_wire: wire_sign failed\n");
			exit(2);
		}
		line_len[i] = (size_t)n;
	}
}

/* n lines through the daemon's receive path; a fresh receiver per cycle of NLINES. */
static void run_receive(uint64_t n)
{
	struct member_addr src = { .family = AF_INET, .a.v4.s_addr = htonl(0x0a000002) };
	static uint64_t fed;

	for (uint64_t k = 0; k < n; k++) {
		size_t i = k % NLINES;

		if (i == 0) {
			if (d.stats.accepted[WIRE_ALIVE] != fed) {
				fprintf(stderr, "bench_wire: %llu of %llu lines accepted\n",
				        (unsigned long long)d.stats.accepted[WIRE_ALIVE],
				        (unsigned long long)fed);
				exit(2);
			}
			fixture_daemon_reset(&d, NOW_MS, NOW);
			fed = 0;
		}
		daemon_receive(&d, lines[i], line_len[i], &src, NOW_MS + i, NOW);
		fed++;
	}
	sink ^= (uint8_t)d.stats.accepted[WIRE_ALIVE];
}

/* n bare MACs of the same signed parts: copy the state, update, final. */
static void run_hmac(uint64_t n)
{
	const struct keyring_key *k = keyring_primary(kr);
	uint8_t mac[crypto_auth_hmacsha256_BYTES];

	for (uint64_t j = 0; j < n; j++) {
		size_t i = j % NLINES;
		crypto_auth_hmacsha256_state st = k->hmac;

		/* the signed part ends before " h=" + 64 hex + "\n" */
		crypto_auth_hmacsha256_update(&st, lines[i], line_len[i] - 68);
		crypto_auth_hmacsha256_final(&st, mac);
		sink ^= mac[0];
	}
}

static double seconds(void (*fn)(uint64_t), uint64_t n)
{
	double t0 = now_s();

	fn(n);
	return now_s() - t0;
}

/* Iterations of fn that take about s seconds. */
static uint64_t calibrate(void (*fn)(uint64_t), double s)
{
	uint64_t n = 1000;
	double dt;

	while ((dt = seconds(fn, n)) < s / 4)
		n *= 2;
	return (uint64_t)((double)n * s / dt) + 1;
}

/*
 * Best rates of the two paths.  REPEAT rounds of about SECONDS per path;
 * each round alternates CHUNKS short runs of either path, so that a burst
 * of load from other processes hits both alike, and the best chunk is the
 * path's undisturbed rate.
 */
static void measure(double *full, double *bare)
{
	uint64_t nf = calibrate(run_receive, SECONDS / CHUNKS);
	uint64_t nb = calibrate(run_hmac, SECONDS / CHUNKS);

	*full = *bare = 0;
	for (int r = 0; r < REPEAT; r++) {
		for (int c = 0; c < CHUNKS; c++) {
			double f = (double)nf / seconds(run_receive, nf);
			double b = (double)nb / seconds(run_hmac, nb);

			if (f > *full)
				*full = f;
			if (b > *bare)
				*bare = b;
		}
	}
}

static void pin_to_one_core(void)
{
	cpu_set_t set;
	int cpu = sched_getcpu();

	CPU_ZERO(&set);
	CPU_SET(cpu < 0 ? 0 : cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) == -1)
		fprintf(stderr, "bench_wire: cannot pin to one CPU; measuring anyway\n");
}

int main(void)
{
	char err[KEYRING_ERRLEN];
	double full, bare, ratio;

	if (sodium_init() < 0)
		return 2;
	kr = keyring_parse("vectors", vector_keyring, sizeof(vector_keyring) - 1, err, sizeof(err));
	if (kr == NULL) {
		fprintf(stderr, "bench_wire: %s\n", err);
		return 2;
	}
	log_init("bench_wire", LOG_LEVEL_WARN); /* no "join" line per cycle */
	fixture_daemon_init(&d, kr, "receiver", NULL, NOW_MS, NOW);
	pin_to_one_core();
	sign_lines();
	printf("line: %.*s (%zu bytes)\n", (int)line_len[0] - 1, (const char *)lines[0],
	       line_len[0]);
	measure(&full, &bare);
	ratio = bare / full;
	printf("full receive path: %.0f lines/s (%.0f ns/line)\n", full, 1e9 / full);
	printf("bare HMAC-SHA256:  %.0f MACs/s (%.0f ns/MAC)\n", bare, 1e9 / bare);
	printf("ratio: %.2f (target <= %.2f)\n", ratio, TARGET);
	fixture_daemon_free(&d);
	keyring_free(kr);
	if (ratio > TARGET) {
		printf("bench_wire: FAILED: the receive path costs more than %.2fx the bare MAC\n",
		       TARGET);
		return 1;
	}
	return 0;
}
