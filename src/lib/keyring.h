/*
 * keyring: the cluster keys (PROTOCOL.md section 3).
 *
 * One key per line, "ID SECRET [primary]", '#' comments, blank lines
 * ignored.  The ring lives in sodium_malloc memory, with each key's
 * HMAC-SHA256 state precomputed once, and is wiped when freed.
 */
#ifndef CMEM_KEYRING_H
#define CMEM_KEYRING_H

#include <stddef.h>
#include <stdint.h>
#include <sodium.h>

#define KEYRING_MAX_KEYS 64
#define KEYRING_KEY_BYTES 32
#define KEYRING_MAX_FILE 65536
#define KEYRING_ERRLEN 512
#define KEYRING_FPR_LEN 17 /* 16 hex digits + NUL */

struct keyring_key {
	uint16_t id;
	int primary;
	uint8_t secret[KEYRING_KEY_BYTES];
	crypto_auth_hmacsha256_state hmac; /* state after the key: copy, update, final */
};

struct keyring {
	size_t nkeys;
	size_t primary; /* index into keys */
	struct keyring_key keys[KEYRING_MAX_KEYS];
};

/*
 * Load PATH with the caller's privileges.  Refuses a symlink, a non-regular
 * file, any group/other permission bit, an owner other than the caller or
 * root, and any malformed content.  On failure returns NULL and writes one
 * message naming the file and the problem into err.
 */
struct keyring *keyring_load(const char *path, char *err, size_t errlen);

/* Parse keyring text (no file checks); NAME is used in messages. */
struct keyring *keyring_parse(const char *name, const char *text, size_t len, char *err,
                              size_t errlen);

/*
 * Write kr to path atomically, mode 0600 (privfile_write: without replace
 * an existing path is refused).
 */
int keyring_save(const struct keyring *kr, const char *path, int replace, char *err,
                 size_t errlen);

/* An empty ring (for tools that build one). */
struct keyring *keyring_new(void);
/* A ring of one random key, id 1, primary; NULL if out of secure memory. */
struct keyring *keyring_generate(void);
/*
 * Add a random key with the next id (the highest id plus one), primary if
 * asked; its id in *id.  -1 with a message naming NAME if the ring is full
 * or id 65535 is taken.
 */
int keyring_add_random(struct keyring *kr, int primary, uint16_t *id, const char *name,
                       char *err, size_t errlen);
/* Add a key; returns 0, or -1 if the id exists or the ring is full. */
int keyring_add(struct keyring *kr, uint16_t id, const uint8_t secret[KEYRING_KEY_BYTES],
                int primary);
/* Make ID primary / remove ID (refuses the primary): 0 or -1. */
int keyring_set_primary(struct keyring *kr, uint16_t id);
int keyring_remove(struct keyring *kr, uint16_t id);

void keyring_free(struct keyring *kr);

const struct keyring_key *keyring_find(const struct keyring *kr, uint16_t id);
const struct keyring_key *keyring_primary(const struct keyring *kr);

/* First 8 bytes of SHA-256(secret) in hex: names a key without revealing it. */
void keyring_fingerprint(const struct keyring_key *k, char out[KEYRING_FPR_LEN]);

/*
 * Serialize into sodium_malloc memory (caller frees with sodium_free);
 * returns NULL if out of memory.  *len receives the length.
 */
char *keyring_format(const struct keyring *kr, size_t *len);

#endif
