/* peers: the unicast destination table (seeds and verified senders). */
#include "peers.h"

#include <stdlib.h>
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
};

struct peers {
	struct peer *v;
	size_t n, alloc, cap;
	struct keyindex *index; /* by address and port, slots as in v */
	uint64_t line;       /* lines sent: which quiet peers get this one */
	uint32_t next_slot;
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

		if (e->seed || !quiet(e, now_ms))
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
	if (find(p, a))
		return PEERS_KNOWN;
	return insert(p, a, now_ms) ? PEERS_ADDED : PEERS_FULL;
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

size_t peers_due(struct peers *p, uint64_t now_ms, struct member_addr *out, size_t max)
{
	size_t k = 0;
	uint64_t line = p->line++;

	for (size_t i = p->n; i-- > 0;) {
		const struct peer *e = &p->v[i];

		if (!quiet(e, now_ms)) {
			if (k < max)
				out[k++] = e->addr;
			continue;
		}
		if (!e->seed && now_ms - quiet_since(e) > PEERS_FORGET_MS) {
			remove_at(p, i);
			continue;
		}
		if ((line + e->slot) % PEERS_SLOW_EVERY == 0 && k < max)
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
		if (quiet(&p->v[i], now_ms))
			c->slow++;
		else
			c->active++;
	}
}
