/*
 * fuzz_body: arbitrary bytes as the body of a line from node-a.
 *
 * The body is signed with key 1 of the test keyring, so daemon_receive(),
 * the daemon's one receive path (set up as in the unit tests), passes the
 * envelope, MAC and window checks and reaches the body parser and the
 * membership update with whatever the fuzzer made: the line is accepted
 * or refused as bad_body, nothing else.
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
#define INCARNATION 1764172790123456u

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

/* wire_sign must take exactly the printable, '|'-free bodies that fit. */
static int signable(const uint8_t *data, size_t size)
{
	if (size == 0 ||
	    wire_overhead("node-a", NOW, 1, INCARNATION, 1) + size > WIRE_MAX_DATAGRAM)
		return 0;
	for (size_t i = 0; i < size; i++)
		if (data[i] < 0x20 || data[i] > 0x7e || data[i] == '|')
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy, so that ASan sees any read past the datagram */
	struct member_addr src = { .family = AF_INET, .a.v4.s_addr = htonl(0x0a000002) };
	char line[WIRE_MAX_DATAGRAM + 1];
	struct wire_msg m;
	struct wire_entry e;
	size_t pos = 0, n = 0;
	enum wire_verdict v;
	uint8_t *dgram;
	int len, accepted;

	len = wire_sign(keyring_primary(kr), NOW, "node-a", (const char *)data, size, INCARNATION,
	                1, line, sizeof(line));
	if ((len > 0) != signable(data, size))
		abort();
	if (len <= 0)
		return 0;
	dgram = malloc((size_t)len);
	if (dgram == NULL)
		abort();
	memcpy(dgram, line, (size_t)len);
	fixture_daemon_reset(&d, NOW_MS, NOW);
	daemon_receive(&d, dgram, (size_t)len, &src, NOW_MS, NOW);
	accepted = d.stats.accepted[WIRE_CJOIN] + d.stats.accepted[WIRE_ALIVE] +
	           d.stats.accepted[WIRE_LEAVE] + d.stats.accepted[WIRE_CLUSTER] == 1;
	/* the envelope is ours: only the body can be refused */
	if (!accepted && d.stats.dropped[DROP_BAD_BODY] != 1)
		abort();
	if (accepted != (members_find(d.members, "node-a") != NULL))
		abort();
	if (wire_verify(kr, dgram, (size_t)len, NOW, WINDOW, &m) != WIRE_OK)
		abort();
	v = wire_parse_body(&m, WINDOW);
	if ((v == WIRE_OK) != accepted || m.body_len != size || memcmp(m.body, data, size) != 0)
		abort();
	if (accepted && m.verb == WIRE_CLUSTER) {
		while (wire_cluster_next(&m, &pos, &e))
			n++;
		/* candidates: the entries other than node-a and us, at most */
		if (n != m.nentries || n == 0 || members_size(d.members) > n + 1)
			abort();
	}
	free(dgram);
	return 0;
}
