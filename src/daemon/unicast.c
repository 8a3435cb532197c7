/* unicast: peers learned, probes and their echo, join replies within credit. */
#include "unicast.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "daemon_state.h"
#include "log.h"
#include "util.h"

/* The largest trailer one of our lines can have (20-digit numbers). */
static size_t line_overhead(const struct daemon *d)
{
	return wire_overhead(d->cfg.name, UINT64_MAX, 65535, UINT64_MAX, UINT64_MAX);
}

/* " name@addr" into entry; its length, or -1 if a has no address. */
static int cluster_entry(char *entry, size_t size, const char *name, const struct member_addr *a)
{
	char addr[WIRE_ADDR_MAX];

	if (a->family == 0 || addr_str(a, addr, sizeof(addr)) == -1)
		return -1;
	return snprintf(entry, size, " %s@%s", name, addr);
}

/* Our `alive` to one address: the one datagram of an address only listed. */
static void send_greeting(struct daemon *d, const struct member_addr *to)
{
	char body[WIRE_NAME_MAX + 32];
	int n = snprintf(body, sizeof(body), "alive %s %llu", d->cfg.name,
	                 (unsigned long long)clock_real_s(d->clk));

	daemon_send(d, WIRE_ALIVE, body, (size_t)n, DEST_PROBE, to);
}

/*
 * The join reply to an address not validated yet: one `cluster` line, no
 * longer than CREDIT (its credit: three times what it sent, less what it
 * was sent), ourselves first, then as many alive members as fit.  1 if the
 * whole view fit; else the rest follows its validation (or more credit).
 */
static int cluster_reply_one(struct daemon *d, const struct member_addr *to, size_t credit)
{
	char body[WIRE_MAX_DATAGRAM], entry[WIRE_NAME_MAX + WIRE_ADDR_MAX + 3];
	size_t over = line_overhead(d), room = WIRE_MAX_DATAGRAM - over, len = 7;
	int complete = 1;

	if (credit < over + room)
		room = credit > over ? credit - over : 0;
	memcpy(body, "cluster", 7);
	for (size_t i = 0; i <= members_size(d->members); i++) {
		const struct member *m = i ? members_at(d->members, i - 1) : NULL;
		int n = m == NULL                   ? cluster_entry(entry, sizeof(entry), d->cfg.name,
		                                                    &d->self_addr)
		        : m->state == MEMBER_ALIVE ? cluster_entry(entry, sizeof(entry), m->name, &m->addr)
		                                   : -1;

		if (n < 0)
			continue;
		if (len + (size_t)n > room) {
			complete = 0;
			break;
		}
		memcpy(body + len, entry, (size_t)n);
		len += (size_t)n;
	}
	if (len > 7)
		daemon_send(d, WIRE_CLUSTER, body, len, DEST_ONE, to);
	return complete && len > 7;
}

/* The longest probe we send: what peers_probes_due charges for one. */
static size_t probe_max(const struct daemon *d)
{
	return line_overhead(d) + 6 + strlen(d->cfg.name) + 2 * (3 + 2 * WIRE_NONCE_BYTES);
}

/*
 * A probe to TO (doc/PROTOCOL.md, "probe"): our nonce if TO is not
 * validated yet, ECHO (a nonce TO sent us) if given; nothing if neither.
 */
static void send_probe(struct daemon *d, const struct member_addr *to, const uint8_t *echo,
                       enum daemon_dest dest, uint64_t now_ms)
{
	char body[WIRE_NAME_MAX + 80], hex[2 * WIRE_NONCE_BYTES + 1];
	uint8_t nonce[WIRE_NONCE_BYTES];
	int n = snprintf(body, sizeof(body), "probe %s", d->cfg.name);

	if (peers_probe_sent(d->net.peers, to, now_ms, nonce) == 0) {
		sodium_bin2hex(hex, sizeof(hex), nonce, sizeof(nonce));
		n += snprintf(body + n, sizeof(body) - (size_t)n, " n=%s", hex);
	} else if (echo == NULL) {
		return;
	}
	if (echo) {
		sodium_bin2hex(hex, sizeof(hex), echo, WIRE_NONCE_BYTES);
		n += snprintf(body + n, sizeof(body) - (size_t)n, " e=%s", hex);
	}
	daemon_send(d, WIRE_PROBE, body, (size_t)n, dest, to);
}

/*
 * The unvalidated peers due a probe now (a new one, or its backoff passed).
 * An address only listed gets its one datagram as an `alive`, which a
 * daemon that does not know `probe` accepts too: it learns us from it (and
 * sends us its lines, which pay for ours), and one that does answers it
 * with a probe of its own.
 */
static void send_probes(struct daemon *d, uint64_t now_ms)
{
	struct member_addr due[64];
	uint8_t greet[64], nonce[WIRE_NONCE_BYTES];
	size_t n;

	if (d->net.peers == NULL)
		return;
	n = peers_probes_due(d->net.peers, now_ms, probe_max(d), due, greet, 64);
	for (size_t i = 0; i < n; i++) {
		if (!greet[i]) {
			send_probe(d, &due[i], NULL, DEST_PROBE, now_ms);
			continue;
		}
		peers_probe_sent(d->net.peers, &due[i], now_ms, nonce);
		send_greeting(d, &due[i]);
	}
}

/*
 * An accepted probe from SRC: its echo of our nonce validates SRC (and
 * sends the view a cut-short join reply owed it); its nonce is answered,
 * with ours if SRC is not validated yet.
 */
static void probe_received(struct daemon *d, const struct wire_msg *msg,
                           const struct member_addr *src, uint64_t now_ms)
{
	enum peers_echo v = msg->has_echo ? peers_echo(d->net.peers, src, msg->echo) : PEERS_ECHO_NONE;
	char a[ADDR_STR_MAX];

	if (v != PEERS_ECHO_NONE) {
		addr_str(src, a, sizeof(a));
		log_debug("unicast peer %s port %u (%s) validated: it echoed our probe", a,
		          (unsigned)src->port, msg->sender);
	}
	if (v == PEERS_ECHO_VALIDATED_OWED)
		daemon_send_cluster(d, DEST_ONE, src);
	if (msg->has_nonce)
		send_probe(d, src, msg->nonce, DEST_ONE, now_ms);
}

/*
 * One cut-short join reply to an unvalidated TO, within its credit less
 * what a probe still due to it needs; owed again if the view did not fit.
 */
static void pay_reply(struct daemon *d, const struct member_addr *to, uint64_t now_ms)
{
	size_t credit = peers_credit_left(d->net.peers, to);
	size_t probe = peers_probe_pending(d->net.peers, to, now_ms) ? probe_max(d) : 0;

	if (credit <= probe || !cluster_reply_one(d, to, credit - probe))
		peers_owe_reply(d->net.peers, to);
}

/* Owed replies to peers that never validate (a plain v1 daemon) once their
 * credit pays for a full line. */
static void pay_replies(struct daemon *d, uint64_t now_ms)
{
	struct member_addr due[16];
	size_t n;

	if (d->net.peers == NULL)
		return;
	n = peers_owed_due(d->net.peers, WIRE_MAX_DATAGRAM + probe_max(d), due, 16);
	for (size_t i = 0; i < n; i++)
		pay_reply(d, &due[i], now_ms);
}

/* A member new to us (or a cjoin): our view, whole to a validated address,
 * else one datagram within its credit and the rest once it is validated. */
static void join_reply(struct daemon *d, const struct wire_msg *msg, const struct member_addr *src,
                       uint64_t now_ms)
{
	if (peers_validated(d->net.peers, src))
		daemon_send_cluster(d, DEST_ONE, src);
	else if (msg->verb == WIRE_PROBE) /* a probe is answered by a probe: one datagram */
		peers_owe_reply(d->net.peers, src);
	else
		pay_reply(d, src, now_ms);
}

/*
 * The addresses a cluster line lists: each unknown one costs a probe, and a
 * line of LEN bytes pays for at most three times its size in probes, so
 * that a key holder's list of addresses is no amplifier.  Returns how many
 * were added.
 */
static size_t learn_listed(struct daemon *d, const struct wire_msg *msg, size_t len,
                           uint64_t now_ms)
{
	size_t budget = PEERS_CREDIT_FACTOR * len, cost = probe_max(d), added = 0;

	for (size_t i = 0; i < msg->nentries && budget >= cost; i++) {
		const struct wire_entry *e = &msg->entries[i];
		struct member_addr a = { .family = e->family, .port = d->net.port };

		memcpy(&a.a, &e->a, sizeof(a.a));
		if (net_peer_learn_listed(&d->net, &a, now_ms)) {
			budget -= cost;
			added++;
		}
	}
	return added;
}

/*
 * Unicast (issue 12), after a line that advanced its sender: its source
 * becomes a peer, credited with the line, and so do the members a
 * `cluster` line lists (parsed once, in the message).  A member new to us
 * (or back after failing or leaving) gets our view by unicast at once: a
 * joiner's cjoin may have reached nobody else (its seed was down), and a
 * healed partition may have lost links; this is how the mesh closes.  Only
 * verified senders of verified lines are ever answered, and an address not
 * validated yet only within its credit (doc/PROTOCOL.md, "probe").
 */
void unicast_accepted(struct daemon *d, const struct wire_msg *msg, const struct member_addr *src,
                      size_t len, int was_in_view, uint64_t now_ms)
{
	size_t added;

	if (!d->net.unicast || d->net.peers == NULL)
		return;
	added = (size_t)net_peer_learn(&d->net, src, len, now_ms);
	if (msg->verb == WIRE_CLUSTER)
		added += learn_listed(d, msg, len, now_ms);
	if (msg->verb == WIRE_PROBE)
		probe_received(d, msg, src, now_ms);
	if (msg->verb == WIRE_CJOIN || (msg->verb != WIRE_LEAVE && !was_in_view))
		join_reply(d, msg, src, now_ms);
	if (added)
		send_probes(d, now_ms);
}

void unicast_heartbeat(struct daemon *d, uint64_t now_ms)
{
	send_probes(d, now_ms);
	pay_replies(d, now_ms);
}
