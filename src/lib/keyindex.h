/*
 * keyindex: a hash index over a caller's dense array (slots 0 .. n-1),
 * keyed by byte strings.
 *
 * The hash is SipHash-2-4 (libsodium's crypto_shorthash) under a key drawn
 * at random for each index, so keys chosen by a sender (member names,
 * source addresses) cannot be made to collide and degrade lookups.  The
 * index keeps each slot's hash and chain link; the caller keeps the
 * entries and compares keys itself:
 *
 *	uint64_t h = keyindex_hash(x, key, len);
 *	for (uint32_t i = keyindex_first(x, h); i != KEYINDEX_NONE; i = keyindex_next(x, i))
 *		if (entry i has this key) return i;
 *
 * Slots are dense like the caller's array: keyindex_append adds slot n,
 * keyindex_remove takes slot i out and moves slot n-1 into it, as the
 * caller does with its array (swap-remove).
 */
#ifndef CMEM_KEYINDEX_H
#define CMEM_KEYINDEX_H

#include <stddef.h>
#include <stdint.h>

#define KEYINDEX_NONE UINT32_MAX

struct keyindex;

struct keyindex *keyindex_new(void);
void keyindex_free(struct keyindex *x);

/* The keyed hash of len bytes at key. */
uint64_t keyindex_hash(const struct keyindex *x, const void *key, size_t len);

/* Slots in the index. */
size_t keyindex_size(const struct keyindex *x);

/* Adds slot keyindex_size() with hash h; returns it. */
uint32_t keyindex_append(struct keyindex *x, uint64_t h);

/* Removes slot i; slot size-1 (if another) moves into i. */
void keyindex_remove(struct keyindex *x, uint32_t i);

/* The slots whose hash is h, first to last (KEYINDEX_NONE: no more). */
uint32_t keyindex_first(const struct keyindex *x, uint64_t h);
uint32_t keyindex_next(const struct keyindex *x, uint32_t i);

#endif
