/*
 * fuzz_body: arbitrary bytes as the body of a line from node-a.
 *
 * The body is signed with key 1 of the test keyring, so the receive path
 * passes the envelope, MAC and window checks and reaches the body parser
 * (and the cluster entry iterator) with whatever the fuzzer made.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fuzz_common.h"
#include "keyring.h"
#include "replay.h"
#include "wire.h"

#define NOW FUZZ_NOW
#define WINDOW FUZZ_WINDOW
#define INCARNATION 1764172790123456u

static struct keyring *kr;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	kr = fuzz_init_keyring();
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
	char line[WIRE_MAX_DATAGRAM + 1];
	struct replay_state rs = { 0 };
	struct wire_msg m;
	struct wire_entry e;
	size_t pos = 0, n = 0;
	enum wire_verdict v;
	uint8_t *dgram;
	int len;

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
	v = wire_receive(kr, dgram, (size_t)len, NOW, WINDOW, &rs, &m);
	/* the envelope is ours: only the body can be refused */
	if (v != WIRE_OK && v != WIRE_BAD_BODY)
		abort();
	if (m.body_len != size || memcmp(m.body, data, size) != 0)
		abort();
	if (rs.valid != (v == WIRE_OK))
		abort();
	if (v == WIRE_OK && m.verb == WIRE_CLUSTER) {
		while (wire_cluster_next(&m, &pos, &e))
			n++;
		if (n != m.nentries || n == 0)
			abort();
	}
	free(dgram);
	return 0;
}
