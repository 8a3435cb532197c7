/* keyindex: a SipHash index (keyed at random) over a caller's dense array. */
#include "keyindex.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct keyindex {
	uint64_t *hash;    /* per slot */
	uint32_t *next;    /* per slot: the chain of its bucket */
	size_t n, alloc;
	uint32_t *buckets; /* first slot of each chain; nbuckets, a power of two */
	size_t nbuckets;
	uint8_t key[crypto_shorthash_KEYBYTES];
};

static void link_slot(struct keyindex *x, uint32_t i)
{
	size_t b = (size_t)(x->hash[i] & (x->nbuckets - 1));

	x->next[i] = x->buckets[b];
	x->buckets[b] = i;
}

static void unlink_slot(struct keyindex *x, uint32_t i)
{
	uint32_t *pp = &x->buckets[x->hash[i] & (x->nbuckets - 1)];

	while (*pp != i)
		pp = &x->next[*pp];
	*pp = x->next[i];
}

static void set_buckets(struct keyindex *x, size_t nbuckets)
{
	free(x->buckets);
	x->nbuckets = nbuckets;
	x->buckets = xcalloc(nbuckets, sizeof(*x->buckets));
	memset(x->buckets, 0xff, nbuckets * sizeof(*x->buckets));
	for (size_t i = 0; i < x->n; i++)
		link_slot(x, (uint32_t)i);
}

struct keyindex *keyindex_new(void)
{
	struct keyindex *x = xcalloc(1, sizeof(*x));

	randombytes_buf(x->key, sizeof(x->key));
	set_buckets(x, 16);
	return x;
}

void keyindex_free(struct keyindex *x)
{
	if (x == NULL)
		return;
	free(x->hash);
	free(x->next);
	free(x->buckets);
	sodium_memzero(x->key, sizeof(x->key));
	free(x);
}

uint64_t keyindex_hash(const struct keyindex *x, const void *key, size_t len)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, key, len, x->key);
	memcpy(&v, h, sizeof(v));
	return v;
}

size_t keyindex_size(const struct keyindex *x)
{
	return x->n;
}

uint32_t keyindex_append(struct keyindex *x, uint64_t h)
{
	uint32_t i = (uint32_t)x->n;

	if (x->n == x->alloc) {
		x->alloc = x->alloc ? x->alloc * 2 : 16;
		x->hash = xreallocarray(x->hash, x->alloc, sizeof(*x->hash));
		x->next = xreallocarray(x->next, x->alloc, sizeof(*x->next));
	}
	x->hash[i] = h;
	x->n++;
	if (x->n > x->nbuckets)
		set_buckets(x, x->nbuckets * 2);
	else
		link_slot(x, i);
	return i;
}

void keyindex_remove(struct keyindex *x, uint32_t i)
{
	uint32_t last = (uint32_t)(x->n - 1);

	unlink_slot(x, i);
	if (i != last) {
		unlink_slot(x, last);
		x->hash[i] = x->hash[last];
		link_slot(x, i);
	}
	x->n--;
}

uint32_t keyindex_first(const struct keyindex *x, uint64_t h)
{
	uint32_t i = x->buckets[h & (x->nbuckets - 1)];

	while (i != KEYINDEX_NONE && x->hash[i] != h)
		i = x->next[i];
	return i;
}

uint32_t keyindex_next(const struct keyindex *x, uint32_t i)
{
	uint64_t h = x->hash[i];

	for (i = x->next[i]; i != KEYINDEX_NONE && x->hash[i] != h; i = x->next[i])
		;
	return i;
}
