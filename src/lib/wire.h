/*
 * wire: CMem protocol v1 lines (PROTOCOL.md sections 1-4).
 *
 * Receive: wire_verify() runs checks 1-4 (envelope, version and key, MAC,
 * timestamp window) without allocating; the receive path (daemon_receive,
 * src/daemon.c, through members_receive) checks the sender's replay state
 * (5, replay.h) and then wire_parse_body() (6), which parses a cluster
 * line's entries once into the message.  Send: wire_sign() builds a
 * signed line.
 */
#ifndef CMEM_WIRE_H
#define CMEM_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "addr.h"
#include "keyring.h"
#include "name.h"

#define WIRE_MAX_DATAGRAM 1232
#define WIRE_NAME_MAX NAME_LEN_MAX
#define WIRE_VERSION 1
#define WIRE_MAC_HEX 64
#define WIRE_ADDR_MAX ADDR_STR_MAX
/* A cluster body of 1232 bytes holds at most 224 entries (" a@::" each). */
#define WIRE_MAX_ENTRIES 240

enum wire_verdict {
	WIRE_OK = 0,
	WIRE_BAD_FORMAT,
	WIRE_BAD_VERSION,
	WIRE_UNKNOWN_KEY,
	WIRE_BAD_MAC,
	WIRE_STALE,
	WIRE_REPLAY,
	WIRE_BAD_BODY,
	WIRE_NVERDICTS
};

/* WIRE_PROBE is the address-validation extension (doc/PROTOCOL.md, "probe"). */
enum wire_verb {
	WIRE_VERB_NONE = 0, WIRE_CJOIN, WIRE_ALIVE, WIRE_LEAVE, WIRE_CLUSTER, WIRE_PROBE, WIRE_NVERBS
};

#define WIRE_NONCE_BYTES 16 /* a probe's nonce: 32 lowercase hex digits on the wire */

/* One cluster entry, parsed once by wire_parse_body(). */
struct wire_entry {
	char name[WIRE_NAME_MAX + 1];
	char addr[WIRE_ADDR_MAX]; /* as written in the line */
	int family;               /* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} a;
};

struct wire_msg {
	uint64_t timestamp;
	char sender[WIRE_NAME_MAX + 1];
	size_t sender_len;
	const char *body; /* points into the datagram; not NUL-terminated */
	size_t body_len;
	unsigned version;
	uint16_t key_id;
	uint64_t incarnation;
	uint64_t counter;
	/* filled by wire_parse_body */
	enum wire_verb verb;
	uint64_t alive_time;
	size_t nentries; /* cluster: number of entries */
	uint8_t has_nonce, has_echo; /* probe: n= and e= present */
	uint8_t nonce[WIRE_NONCE_BYTES], echo[WIRE_NONCE_BYTES];
	struct wire_entry entries[WIRE_MAX_ENTRIES];
};

/* "bad_format", "replay", ... ("ok" for WIRE_OK). */
const char *wire_verdict_name(enum wire_verdict v);
/* "cjoin", "alive", "leave", "cluster". */
const char *wire_verb_name(enum wire_verb v);

/* Checks 1-4 of PROTOCOL.md section 4. */
enum wire_verdict wire_verify(const struct keyring *kr, const uint8_t *buf, size_t len,
                              uint64_t now, uint64_t window, struct wire_msg *msg);

/*
 * Check 6: the body grammar and semantics of 2.1, and the incarnation
 * bound (incarnation <= (timestamp + window) * 10^6).  A cluster line's
 * entries are parsed into msg->entries.  WIRE_OK or WIRE_BAD_BODY.
 */
enum wire_verdict wire_parse_body(struct wire_msg *msg, uint64_t window);

/* Iterate a parsed cluster body: *pos starts at 0; returns 1 per entry, 0 at the end. */
int wire_cluster_next(const struct wire_msg *msg, size_t *pos, struct wire_entry *e);

/*
 * Sign: build "TS: [SENDER] BODY |v1 k=ID n=INC.CTR h=MAC\n" into out with
 * key K.  Returns the length, or -1 if it does not fit in outlen or in a
 * datagram, or if the body contains a '|' or a non-printable byte.
 */
int wire_sign(const struct keyring_key *k, uint64_t timestamp, const char *sender,
              const char *body, size_t body_len, uint64_t incarnation, uint64_t counter,
              char *out, size_t outlen);

/* Length of the fixed part of a line for SENDER, everything but the body. */
size_t wire_overhead(const char *sender, uint64_t timestamp, uint16_t key_id,
                     uint64_t incarnation, uint64_t counter);

#endif
