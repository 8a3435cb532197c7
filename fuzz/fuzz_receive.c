/*
 * fuzz_receive: arbitrary bytes as one datagram through daemon_receive(),
 * the daemon's one receive path, set up as the unit tests set it up
 * (tests/unit/daemon_fixture.h).
 *
 * The receiver is fixed (clock 1764172800, window 30 s, the keyring of
 * tests/vectors) and every input starts from a fresh daemon, so a crash
 * reproduces from its input alone.  A line that is not accepted must
 * change nothing; an accepted one must be the exact line wire_sign()
 * builds from its parsed fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../tests/unit/daemon_fixture.h"
#include "fuzz_common.h"
#include "keyring.h"
#include "wire.h"

#define NOW FUZZ_NOW
#define WINDOW FUZZ_WINDOW

#define NOW_MS 5000000u

static struct keyring *kr;
static struct daemon d;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	kr = fuzz_init_keyring();
	fixture_daemon_init(&d, kr, "receiver", NULL, NOW_MS, NOW);
	return 0;
}

/* Accepted: re-signing the parsed fields gives back the same bytes. */
static void check_canonical(const uint8_t *data, size_t size, const struct wire_msg *m)
{
	char body[WIRE_MAX_DATAGRAM], line[WIRE_MAX_DATAGRAM + 1];
	int n;

	if (m->body_len >= sizeof(body))
		abort();
	memcpy(body, m->body, m->body_len);
	n = wire_sign(keyring_find(kr, m->key_id), m->timestamp, m->sender, body, m->body_len,
	              m->incarnation, m->counter, line, sizeof(line));
	if (n < 0 || (size_t)n != size || memcmp(line, data, size) != 0)
		abort();
}

static void walk_cluster(const struct wire_msg *m)
{
	struct wire_entry e;
	size_t pos = 0, n = 0;

	while (wire_cluster_next(m, &pos, &e)) {
		if (pos > m->body_len || strlen(e.name) == 0 ||
		    (e.family != AF_INET && e.family != AF_INET6))
			abort();
		n++;
	}
	if (n != m->nentries)
		abort();
}

static uint64_t accepted(void)
{
	uint64_t n = 0;

	for (int v = 0; v < WIRE_NVERBS; v++)
		n += d.stats.accepted[v];
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct member_addr src = { .family = AF_INET, .a.v4.s_addr = htonl(0x0a000002) };
	struct wire_msg m;
	uint64_t dropped = 0;

	fixture_daemon_reset(&d, NOW_MS, NOW);
	daemon_receive(&d, data, size, &src, NOW_MS, NOW);
	for (int r = 0; r < DROP_NREASONS; r++)
		dropped += d.stats.dropped[r];
	/* every datagram is counted once: accepted, dropped, or ... */
	if (accepted() + dropped + d.stats.own_lines + d.stats.late + d.stats.duplicates +
	        d.stats.name_conflicts + d.stats.table_full != 1)
		abort();
	/* ... and only an accepted line may change the membership */
	if (accepted() == 0) {
		if (members_size(d.members) != 0)
			abort();
		return 0;
	}
	if (size > WIRE_MAX_DATAGRAM || members_find(d.members, "receiver") != NULL)
		abort();
	if (wire_verify(kr, data, size, NOW, WINDOW, &m) != WIRE_OK ||
	    wire_parse_body(&m, WINDOW) != WIRE_OK || members_find(d.members, m.sender) == NULL)
		abort();
	if (m.body < (const char *)data || m.body + m.body_len > (const char *)data + size)
		abort();
	check_canonical(data, size, &m);
	if (m.verb == WIRE_CLUSTER)
		walk_cluster(&m);
	return 0;
}
