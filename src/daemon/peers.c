/* peers: the unicast destination table (seeds and verified senders). */
#include "peers.h"

#include <stdlib.h>
#include <sodium.h>
#include <string.h>

#include "keyindex.h"
#include "util.h"

struct peer {
	struct member_addr addr; /* with its port */
	uint8_t seed;
	uint8_t failed;      /* its member failed or left, not heard since */
	uint32_t slot;       /* spreads the slow lines of quiet peers over the interval */
	uint64_t heard_ms;   /* last learned (seeds and listed: when added) */
	uint64_t failed_ms;
	/* address validation (doc/PROTOCOL.md, "probe"): none of it for seeds */
	uint8_t validated;   /* it echoed our nonce from this address and port */
	uint8_t listed;      /* entered from a cluster line, never heard from */
	uint8_t owed;        /* a join reply was cut to one datagram: the rest on validation */
	uint8_t probes;      /* probes sent while unvalidated */
	uint32_t credit;     /* bytes it may still be sent while unvalidated */
	uint64_t probe_ms;   /* next probe due */
	uint8_t nonce[PEERS_NONCE_BYTES];
};

struct peers {
	struct peer *v;
	size_t n, alloc, cap;
	struct keyindex *index; /* by address and port, slots as in v */
	uint64_t line;       /* lines sent: which quiet peers get this one */
	uint32_t next_slot;
	int validation;      /* peers_require_validation() */
};

struct peers *peers_new(size_t cap)
{
	struct peers *p = xcalloc(1, sizeof(*p));

	p->cap = cap ? cap : 1;
	p->index = keyindex_new();
	return p;
}

void peers_free(struct peers *p)
{
	if (p == NULL)
		return;
	free(p->v);
	keyindex_free(p->index);
	free(p);
}

/* The bytes that identify a destination: family, address, port. */
static size_t peer_key(const struct member_addr *a, uint8_t *k)
{
	size_t alen = a->family == AF_INET6 ? 16 : 4;

	k[0] = (uint8_t)(a->family == AF_INET6);
	k[1] = (uint8_t)(a->port >> 8);
	k[2] = (uint8_t)a->port;
	memcpy(k + 3, &a->a, alen);
	return 3 + alen;
}

static uint64_t addr_hash(const struct peers *p, const struct member_addr *a)
{
	uint8_t k[19];

	return keyindex_hash(p->index, k, peer_key(a, k));
}

static int same(const struct member_addr *a, const struct member_addr *b)
{
	return addr_same(a, b) && a->port == b->port;
}

static struct peer *find(const struct peers *p, const struct member_addr *a)
{
	uint64_t h = addr_hash(p, a);

	for (uint32_t i = keyindex_first(p->index, h); i != KEYINDEX_NONE;
	     i = keyindex_next(p->index, i))
		if (same(&p->v[i].addr, a))
			return &p->v[i];
	return NULL;
}

int peers_known(const struct peers *p, const struct member_addr *a)
{
	return find(p, a) != NULL;
}

size_t peers_size(const struct peers *p)
{
	return p->n;
}

static int quiet(const struct peer *e, uint64_t now_ms)
{
	return e->failed || now_ms - e->heard_ms > PEERS_QUIET_MS;
}

/* Since when a learned peer has been quiet; it is forgotten PEERS_FORGET_MS later. */
static uint64_t quiet_since(const struct peer *e)
{
	return e->failed && e->failed_ms > e->heard_ms ? e->failed_ms : e->heard_ms;
}

/* Remove entry i (order is not kept). */
static void remove_at(struct peers *p, size_t i)
{
	keyindex_remove(p->index, (uint32_t)i);
	p->v[i] = p->v[--p->n];
}

/* Room for one more: the learned peer quiet the longest makes way when full. */
static int make_room(struct peers *p, uint64_t now_ms)
{
	size_t victim = SIZE_MAX;

	if (p->n < p->cap)
		return 0;
	for (size_t i = 0; i < p->n; i++) {
		const struct peer *e = &p->v[i];

		if (e->seed || (!quiet(e, now_ms) && !e->listed))
			continue;
		if (victim == SIZE_MAX || quiet_since(e) < quiet_since(&p->v[victim]))
			victim = i;
	}
	if (victim == SIZE_MAX)
		return -1;
	remove_at(p, victim);
	return 0;
}

static struct peer *insert(struct peers *p, const struct member_addr *a, uint64_t now_ms)
{
	struct peer *e;

	if (make_room(p, now_ms) == -1)
		return NULL;
	if (p->n == p->alloc) {
		p->alloc = p->alloc ? p->alloc * 2 : 8;
		p->v = xreallocarray(p->v, p->alloc, sizeof(*p->v));
	}
	e = &p->v[p->n];
	memset(e, 0, sizeof(*e));
	e->addr = *a;
	e->heard_ms = now_ms;
	e->slot = p->next_slot++;
	keyindex_append(p->index, addr_hash(p, a));
	e->probe_ms = now_ms;
	randombytes_buf(e->nonce, sizeof(e->nonce));
	p->n++;
	return e;
}

enum peers_result peers_add_seed(struct peers *p, const struct member_addr *a, uint64_t now_ms)
{
	struct peer *e = find(p, a);
	enum peers_result r = PEERS_KNOWN;

	if (e == NULL) {
		if ((e = insert(p, a, now_ms)) == NULL)
			return PEERS_FULL;
		r = PEERS_ADDED;
	}
	e->seed = 1;
	return r;
}

enum peers_result peers_learn(struct peers *p, const struct member_addr *a, uint64_t now_ms)
{
	struct peer *e = find(p, a);

	if (e == NULL) {
		if ((e = insert(p, a, now_ms)) == NULL)
			return PEERS_FULL;
		return PEERS_ADDED;
	}
	e->heard_ms = now_ms;
	e->failed = 0;
	return PEERS_KNOWN;
}

enum peers_result peers_learn_listed(struct peers *p, const struct member_addr *a,
                                     uint64_t now_ms)
{
	struct peer *e = find(p, a);

	if (e)
		return PEERS_KNOWN;
	if ((e = insert(p, a, now_ms)) == NULL)
		return PEERS_FULL;
	e->listed = 1;
	return PEERS_ADDED;
}

void peers_failed(struct peers *p, const struct member_addr *a, uint64_t now_ms)
{
	struct peer *e = find(p, a);

	if (e == NULL)
		return;
	e->failed = 1;
	e->failed_ms = now_ms;
}

void peers_retry_all(struct peers *p, uint64_t now_ms)
{
	for (size_t i = 0; i < p->n; i++) {
		p->v[i].failed = 0;
		p->v[i].heard_ms = now_ms;
	}
}

/* Credit pays for answers, it is not banked: none once e has not been heard
 * for PEERS_QUIET_MS (a failed member heard lately keeps it, so that its
 * slow lines still carry a short partition's healing). */
static void expire_credit(struct peer *e, uint64_t now_ms)
{
	if (now_ms > e->heard_ms && now_ms - e->heard_ms > PEERS_QUIET_MS)
		e->credit = 0;
}

/* May a datagram of LEN bytes go to e now?  Charged to its credit if so. */
static int may_send(const struct peers *p, struct peer *e, size_t len)
{
	if (!p->validation || e->seed || e->validated)
		return 1;
	if (e->credit < len)
		return 0;
	e->credit -= (uint32_t)len;
	return 1;
}

size_t peers_due(struct peers *p, uint64_t now_ms, size_t len, struct member_addr *out,
                 size_t max)
{
	size_t k = 0;
	uint64_t line = p->line++;

	for (size_t i = p->n; i-- > 0;) {
		struct peer *e = &p->v[i];

		expire_credit(e, now_ms);
		if (!quiet(e, now_ms)) {
			if (k < max && may_send(p, e, len))
				out[k++] = e->addr;
			continue;
		}
		if (!e->seed && now_ms - quiet_since(e) > PEERS_FORGET_MS) {
			remove_at(p, i);
			continue;
		}
		if ((line + e->slot) % PEERS_SLOW_EVERY == 0 && k < max && may_send(p, e, len))
			out[k++] = e->addr;
	}
	return k;
}

void peers_counts(const struct peers *p, uint64_t now_ms, struct peers_counts *c)
{
	memset(c, 0, sizeof(*c));
	c->known = p->n;
	for (size_t i = 0; i < p->n; i++) {
		c->seeds += p->v[i].seed;
		c->validated += p->v[i].seed || p->v[i].validated;
		if (quiet(&p->v[i], now_ms))
			c->slow++;
		else
			c->active++;
	}
}

/* ---- address validation (doc/PROTOCOL.md, "probe") ---- */

void peers_require_validation(struct peers *p)
{
	p->validation = 1;
}

int peers_credit(struct peers *p, const struct member_addr *a, size_t bytes)
{
	struct peer *e = find(p, a);
	int first = 0;
	uint64_t c;

	if (e == NULL)
		return 0;
	if (e->listed && !e->validated) { /* greeted, now heard from: probe it at once */
		e->listed = 0;
		e->probe_ms = 0;
		first = 1;
	}
	c = e->credit + (uint64_t)PEERS_CREDIT_FACTOR * bytes;
	e->credit = c > PEERS_CREDIT_MAX ? PEERS_CREDIT_MAX : (uint32_t)c;
	return first;
}

int peers_send_one(struct peers *p, const struct member_addr *a, size_t len)
{
	struct peer *e = find(p, a);

	return e != NULL && may_send(p, e, len);
}

int peers_validated(const struct peers *p, const struct member_addr *a)
{
	const struct peer *e = find(p, a);

	return e != NULL && (!p->validation || e->seed || e->validated);
}

size_t peers_credit_left(const struct peers *p, const struct member_addr *a)
{
	const struct peer *e = find(p, a);

	return e == NULL ? 0 : e->credit;
}

void peers_owe_reply(struct peers *p, const struct member_addr *a)
{
	struct peer *e = find(p, a);

	if (e)
		e->owed = 1;
}

size_t peers_owed_due(struct peers *p, size_t min_credit, struct member_addr *out, size_t max)
{
	size_t k = 0;

	for (size_t i = 0; i < p->n && k < max; i++) {
		struct peer *e = &p->v[i];

		if (e->owed && !e->validated && e->credit >= min_credit) {
			e->owed = 0;
			out[k++] = e->addr;
		}
	}
	return k;
}

int peers_probe_pending(const struct peers *p, const struct member_addr *a, uint64_t now_ms)
{
	const struct peer *e = find(p, a);

	return e != NULL && p->validation && !e->seed && !e->validated && now_ms >= e->probe_ms;
}

/* The wait after the Nth unanswered probe: 1 s, doubling, at most PEERS_PROBE_MAX_MS. */
static uint64_t probe_backoff(unsigned probes)
{
	uint64_t ms = (uint64_t)PEERS_PROBE_MS << (probes > 7 ? 7 : probes - 1);

	return ms > PEERS_PROBE_MAX_MS ? PEERS_PROBE_MAX_MS : ms;
}

int peers_probe_sent(struct peers *p, const struct member_addr *a, uint64_t now_ms,
                     uint8_t nonce[PEERS_NONCE_BYTES])
{
	struct peer *e = find(p, a);

	if (e == NULL || e->validated || e->seed)
		return -1;
	if (e->probes < UINT8_MAX)
		e->probes++;
	e->probe_ms = now_ms + probe_backoff(e->probes);
	memcpy(nonce, e->nonce, PEERS_NONCE_BYTES);
	return 0;
}

/*
 * Is an unvalidated learned peer due a probe of LEN bytes?  A listed one
 * gets one, whatever its credit (the line that listed it paid for it); one
 * heard from, one every backoff while its credit lasts.
 */
static int probe_due(const struct peer *e, uint64_t now_ms, size_t len)
{
	if (e->seed || e->validated || now_ms < e->probe_ms)
		return 0;
	if (e->listed)
		return e->probes == 0;
	return e->credit >= len;
}

size_t peers_probes_due(struct peers *p, uint64_t now_ms, size_t len, struct member_addr *out,
                        uint8_t *listed, size_t max)
{
	size_t k = 0;

	if (!p->validation)
		return 0;
	for (size_t i = 0; i < p->n && k < max; i++) {
		struct peer *e = &p->v[i];

		expire_credit(e, now_ms);
		if (!probe_due(e, now_ms, len))
			continue;
		if (!e->listed)
			e->credit -= (uint32_t)len;
		if (listed)
			listed[k] = e->listed;
		out[k++] = e->addr;
	}
	return k;
}

enum peers_echo peers_echo(struct peers *p, const struct member_addr *a,
                           const uint8_t echo[PEERS_NONCE_BYTES])
{
	struct peer *e = find(p, a);

	if (e == NULL || e->seed || e->validated || e->probes == 0 ||
	    sodium_memcmp(e->nonce, echo, PEERS_NONCE_BYTES) != 0)
		return PEERS_ECHO_NONE;
	e->validated = 1;
	e->listed = 0;
	if (e->owed) {
		e->owed = 0;
		return PEERS_ECHO_VALIDATED_OWED;
	}
	return PEERS_ECHO_VALIDATED;
}
