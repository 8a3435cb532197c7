/*
 * unicast: what the receive path does for unicast peers (issue 12) once a
 * line passed every check, and address validation (doc/PROTOCOL.md,
 * extension E): the source becomes a peer credited with the line, the
 * addresses a `cluster` line lists are greeted (at most 3x its bytes), a
 * `probe` is answered and its echo validates, and a join reply goes whole
 * to a validated address and as one datagram within its credit to any
 * other.  Nothing here sends to an address the peer table does not hold.
 */
#ifndef CMEM_UNICAST_H
#define CMEM_UNICAST_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "wire.h"

struct daemon;

/* After an accepted line of LEN bytes from SRC (WAS_IN_VIEW: its sender was
 * alive or a candidate before): peers, probes, join reply. */
void unicast_accepted(struct daemon *d, const struct wire_msg *msg, const struct member_addr *src,
                      size_t len, int was_in_view, uint64_t now_ms);

/* With each heartbeat: probes due (new addresses, backoff passed) and join
 * replies owed to peers that never validate, once their credit pays. */
void unicast_heartbeat(struct daemon *d, uint64_t now_ms);

#endif
