/*
 * fuzz_receive: arbitrary bytes as one received datagram.
 *
 * The receiver is fixed (clock 1764172800, window 30 s, the keyring of
 * tests/vectors) and every input starts from a fresh replay state, so a
 * crash reproduces from its input alone.  An accepted line must be the
 * exact line wire_sign() builds from its parsed fields.
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct replay_state rs = { 0 };
	struct wire_msg m;
	enum wire_verdict v = wire_receive(kr, data, size, NOW, WINDOW, &rs, &m);

	if ((unsigned)v >= WIRE_NVERDICTS)
		abort();
	/* only an accepted line may touch the replay state */
	if (rs.valid != (v == WIRE_OK))
		abort();
	if (v != WIRE_OK)
		return 0;
	if (size > WIRE_MAX_DATAGRAM || m.body < (const char *)data ||
	    m.body + m.body_len > (const char *)data + size)
		abort();
	check_canonical(data, size, &m);
	if (m.verb == WIRE_CLUSTER)
		walk_cluster(&m);
	return 0;
}
