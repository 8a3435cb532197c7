/* keyring: load, check, hold and wipe the cluster keys. */
#include "keyring.h"

#include <stdio.h>
#include <string.h>

#include "privfile.h"
#include "util.h"

struct keyring *keyring_new(void)
{
	struct keyring *kr = sodium_malloc(sizeof(*kr));

	if (kr == NULL)
		return NULL;
	sodium_memzero(kr, sizeof(*kr));
	return kr;
}

struct keyring *keyring_generate(void)
{
	struct keyring *kr = keyring_new();
	uint16_t id;

	if (kr && keyring_add_random(kr, 1, &id, "new keyring", NULL, 0) == -1) {
		keyring_free(kr);
		return NULL;
	}
	return kr;
}

void keyring_free(struct keyring *kr)
{
	if (kr)
		sodium_free(kr); /* sodium_free wipes the whole region */
}

const struct keyring_key *keyring_find(const struct keyring *kr, uint16_t id)
{
	for (size_t i = 0; i < kr->nkeys; i++)
		if (kr->keys[i].id == id)
			return &kr->keys[i];
	return NULL;
}

const struct keyring_key *keyring_primary(const struct keyring *kr)
{
	return kr->nkeys ? &kr->keys[kr->primary] : NULL;
}

int keyring_add(struct keyring *kr, uint16_t id, const uint8_t secret[KEYRING_KEY_BYTES],
                int primary)
{
	struct keyring_key *k;

	if (id == 0 || keyring_find(kr, id) || kr->nkeys >= KEYRING_MAX_KEYS)
		return -1;
	k = &kr->keys[kr->nkeys];
	k->id = id;
	k->primary = 0;
	memcpy(k->secret, secret, KEYRING_KEY_BYTES);
	crypto_auth_hmacsha256_init(&k->hmac, k->secret, KEYRING_KEY_BYTES);
	kr->nkeys++;
	if (primary || kr->nkeys == 1)
		keyring_set_primary(kr, id);
	return 0;
}

int keyring_add_random(struct keyring *kr, int primary, uint16_t *id, const char *name,
                       char *err, size_t errlen)
{
	uint8_t *secret;
	uint16_t top = 0;
	int rc;

	for (size_t i = 0; i < kr->nkeys; i++)
		top = kr->keys[i].id > top ? kr->keys[i].id : top;
	if (top == 65535) {
		seterr(err, errlen, "%s: key id 65535 is taken: there is no next id", name);
		return -1;
	}
	if (kr->nkeys >= KEYRING_MAX_KEYS) {
		seterr(err, errlen, "%s: already holds %d keys; remove one first", name,
		       KEYRING_MAX_KEYS);
		return -1;
	}
	/* secure memory: the secret never sits on the stack */
	if ((secret = sodium_malloc(KEYRING_KEY_BYTES)) == NULL) {
		seterr(err, errlen, "%s: out of secure memory", name);
		return -1;
	}
	randombytes_buf(secret, KEYRING_KEY_BYTES);
	*id = (uint16_t)(top + 1);
	rc = keyring_add(kr, *id, secret, primary);
	sodium_free(secret);
	return rc;
}

int keyring_set_primary(struct keyring *kr, uint16_t id)
{
	const struct keyring_key *k = keyring_find(kr, id);

	if (k == NULL)
		return -1;
	for (size_t i = 0; i < kr->nkeys; i++)
		kr->keys[i].primary = 0;
	kr->primary = (size_t)(k - kr->keys);
	kr->keys[kr->primary].primary = 1;
	return 0;
}

int keyring_remove(struct keyring *kr, uint16_t id)
{
	const struct keyring_key *k = keyring_find(kr, id);
	size_t i, primary_id;

	if (k == NULL || k->primary)
		return -1;
	primary_id = kr->keys[kr->primary].id;
	i = (size_t)(k - kr->keys);
	memmove(&kr->keys[i], &kr->keys[i + 1], (kr->nkeys - i - 1) * sizeof(kr->keys[0]));
	kr->nkeys--;
	sodium_memzero(&kr->keys[kr->nkeys], sizeof(kr->keys[0]));
	keyring_set_primary(kr, (uint16_t)primary_id);
	return 0;
}

void keyring_fingerprint(const struct keyring_key *k, char out[KEYRING_FPR_LEN])
{
	uint8_t h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, k->secret, KEYRING_KEY_BYTES);
	sodium_bin2hex(out, KEYRING_FPR_LEN, h, 8);
}

static int is_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* Split a line into at most 4 space/tab separated fields. */
static size_t split_fields(const char *line, size_t len, const char *f[4], size_t flen[4])
{
	size_t n = 0, i = 0;

	while (i < len) {
		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i == len)
			break;
		if (n == 4)
			return 5;
		f[n] = line + i;
		while (i < len && line[i] != ' ' && line[i] != '\t')
			i++;
		flen[n] = (size_t)(line + i - f[n]);
		n++;
	}
	return n;
}

static int parse_key_line(struct keyring *kr, const char *name, unsigned lineno,
                          const char *line, size_t len, int *nprimary, uint16_t *primary_id,
                          char *err, size_t errlen)
{
	const char *f[4];
	size_t flen[4], nf = split_fields(line, len, f, flen);
	uint64_t id;
	uint8_t secret[KEYRING_KEY_BYTES];
	int primary = 0, rc;

	if (nf < 2 || nf > 3) {
		seterr(err, errlen, "keyring %s: line %u: expected \"ID SECRET [primary]\"", name,
		       lineno);
		return -1;
	}
	if (parse_u64(f[0], flen[0], &id) == -1 || id < 1 || id > 65535) {
		seterr(err, errlen, "keyring %s: line %u: key id \"%.*s\" is not a number in 1..65535",
		       name, lineno, (int)(flen[0] > 20 ? 20 : flen[0]), f[0]);
		return -1;
	}
	if (flen[1] != 2 * KEYRING_KEY_BYTES || !is_lower_hex(f[1], flen[1])) {
		seterr(err, errlen, "keyring %s: line %u: secret of key %u is not 64 lowercase hex digits",
		       name, lineno, (unsigned)id);
		return -1;
	}
	if (nf == 3) {
		if (flen[2] != 7 || memcmp(f[2], "primary", 7) != 0) {
			seterr(err, errlen, "keyring %s: line %u: unknown flag (only \"primary\" is allowed)",
			       name, lineno);
			return -1;
		}
		primary = 1;
	}
	if (keyring_find(kr, (uint16_t)id)) {
		seterr(err, errlen, "keyring %s: line %u: duplicate key id %u", name, lineno,
		       (unsigned)id);
		return -1;
	}
	if (kr->nkeys >= KEYRING_MAX_KEYS) {
		seterr(err, errlen, "keyring %s: line %u: more than %d keys", name, lineno,
		       KEYRING_MAX_KEYS);
		return -1;
	}
	sodium_hex2bin(secret, sizeof(secret), f[1], flen[1], NULL, NULL, NULL);
	rc = keyring_add(kr, (uint16_t)id, secret, 0);
	sodium_memzero(secret, sizeof(secret));
	if (primary && rc == 0) {
		*primary_id = (uint16_t)id;
		(*nprimary)++;
	}
	return rc;
}

struct keyring *keyring_parse(const char *name, const char *text, size_t len, char *err,
                              size_t errlen)
{
	struct keyring *kr = keyring_new();
	unsigned lineno = 0;
	int nprimary = 0;
	uint16_t primary_id = 0;
	size_t pos = 0;

	if (kr == NULL) {
		seterr(err, errlen, "keyring %s: out of secure memory", name);
		return NULL;
	}
	while (pos < len) {
		const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
		size_t llen = nl ? (size_t)(nl - line) : len - pos, i = 0;

		pos += llen + (nl ? 1 : 0);
		lineno++;
		for (size_t j = 0; j < llen; j++) {
			unsigned char c = (unsigned char)line[j];

			if (c != '\t' && (c < 0x20 || c > 0x7e)) {
				seterr(err, errlen, "keyring %s: line %u: non-printable byte 0x%02x", name,
				       lineno, c);
				goto fail;
			}
		}
		while (i < llen && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i == llen || line[i] == '#')
			continue;
		if (parse_key_line(kr, name, lineno, line, llen, &nprimary, &primary_id, err,
		                   errlen) == -1)
			goto fail;
	}
	if (kr->nkeys == 0) {
		seterr(err, errlen, "keyring %s: no key", name);
		goto fail;
	}
	if (nprimary != 1) {
		seterr(err, errlen, "keyring %s: %s", name,
		       nprimary == 0 ? "no primary key (mark exactly one key \"primary\")"
		                     : "more than one primary key");
		goto fail;
	}
	keyring_set_primary(kr, primary_id);
	return kr;
fail:
	keyring_free(kr);
	return NULL;
}

struct keyring *keyring_load(const char *path, char *err, size_t errlen)
{
	char why[KEYRING_ERRLEN];
	struct keyring *kr;
	size_t len = 0;
	/* refuses symlinks, non-regular files, group/other access, foreign owners */
	char *text = privfile_load(path, KEYRING_MAX_FILE, &len, why, sizeof(why));

	if (text == NULL) {
		seterr(err, errlen, "keyring %s", why);
		return NULL;
	}
	kr = keyring_parse(path, text, len, err, errlen);
	privfile_free(text);
	return kr;
}

char *keyring_format(const struct keyring *kr, size_t *len)
{
	/* "# ..." header, then per key: id (5) + 2 + 64 + " primary" + "\n" */
	size_t cap = 128 + kr->nkeys * 96, off;
	char *out = sodium_malloc(cap);

	if (out == NULL)
		return NULL;
	off = (size_t)snprintf(out, cap, "# cmem keyring: id secret [primary]; keep mode 0600\n");
	for (size_t i = 0; i < kr->nkeys; i++) {
		char hex[2 * KEYRING_KEY_BYTES + 1];

		sodium_bin2hex(hex, sizeof(hex), kr->keys[i].secret, KEYRING_KEY_BYTES);
		off += (size_t)snprintf(out + off, cap - off, "%u %s%s\n", kr->keys[i].id, hex,
		                        kr->keys[i].primary ? " primary" : "");
		sodium_memzero(hex, sizeof(hex));
	}
	*len = off;
	return out;
}

int keyring_save(const struct keyring *kr, const char *path, int replace, char *err,
                 size_t errlen)
{
	size_t len = 0;
	char *text = keyring_format(kr, &len);
	int rc;

	if (text == NULL) {
		seterr(err, errlen, "%s: out of secure memory", path);
		return -1;
	}
	rc = privfile_write(path, text, len, replace, err, errlen);
	sodium_free(text);
	return rc;
}
