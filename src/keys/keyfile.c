/*
 * keyfile: host and administrator keypairs, public key lines, signed
 * sealed bundles and hosts files (formats in keyfile.h); the files
 * themselves are read and written by privfile.
 */
#include "keyfile.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "keyring.h"
#include "name.h"
#include "privfile.h"
#include "textlines.h"
#include "util.h"

#define B64 sodium_base64_VARIANT_ORIGINAL
#define B64_WRAP 64
/* what a signature is for, signed with its NUL: one per format version */
#define BUNDLE_SIGCTX_V1 "cmem-bundle-v1 signature"
#define BUNDLE_SIGCTX_V2 "cmem-bundle-v2 signature"
#define BUNDLE_SIGCTX_V3 "cmem-bundle-v3 signature"
#define KEYFILE_SECRET_MAX 256                   /* a secret key file */

_Static_assert(crypto_box_PUBLICKEYBYTES == KEYFILE_PK_BYTES, "X25519 public key size");
_Static_assert(crypto_sign_PUBLICKEYBYTES == KEYFILE_PK_BYTES, "Ed25519 public key size");
_Static_assert(crypto_box_SECRETKEYBYTES <= KEYFILE_SK_MAX, "X25519 secret key size");
_Static_assert(sodium_base64_ENCODED_LEN(KEYFILE_PK_BYTES, B64) == KEYFILE_PK_B64_LEN + 1,
               "base64 public key length");

/* ---- keypairs and public key lines ---- */

static const char *const kind_names[] = { [KEYFILE_HOST] = "host", [KEYFILE_ADMIN] = "admin",
	                                  [KEYFILE_MEMBER] = "member" };
static const char *const pub_tags[] = { [KEYFILE_HOST] = "cmem-host-pub-v1",
	                                [KEYFILE_ADMIN] = "cmem-admin-pub-v1",
	                                [KEYFILE_MEMBER] = "cmem-member-pub-v1" };
static const char *const key_tags[] = { [KEYFILE_HOST] = "cmem-host-key-v1",
	                                [KEYFILE_ADMIN] = "cmem-admin-key-v1",
	                                [KEYFILE_MEMBER] = "cmem-member-key-v1" };

const char *keyfile_kind_name(enum keyfile_kind kind)
{
	return kind == KEYFILE_ADMIN || kind == KEYFILE_MEMBER ? kind_names[kind]
	                                                       : kind_names[KEYFILE_HOST];
}

static size_t sk_len(enum keyfile_kind kind)
{
	return kind == KEYFILE_HOST ? crypto_box_SECRETKEYBYTES : crypto_sign_SECRETKEYBYTES;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void trim(const char **s, size_t *len)
{
	while (*len > 0 && is_space(**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && is_space((*s)[*len - 1]))
		(*len)--;
}

/* Does s start with tag followed by a blank? */
static int has_tag(const char *s, size_t len, const char *tag)
{
	size_t n = strlen(tag);

	return len > n && memcmp(s, tag, n) == 0 && (s[n] == ' ' || s[n] == '\t');
}

/* What the line at s is, if it is one of ours: for messages. */
static const char *line_kind(const char *s, size_t len)
{
	static const struct {
		const char *const *tags;
		enum keyfile_kind kind;
		const char *what;
	} kinds[] = {
		{ pub_tags, KEYFILE_HOST, "a host public key" },
		{ pub_tags, KEYFILE_ADMIN, "an administrator public key" },
		{ key_tags, KEYFILE_HOST, "a host secret key" },
		{ key_tags, KEYFILE_ADMIN, "an administrator secret key" },
		{ pub_tags, KEYFILE_MEMBER, "a member public key" },
		{ key_tags, KEYFILE_MEMBER, "a member secret key" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
		if (has_tag(s, len, kinds[i].tags[kinds[i].kind]))
			return kinds[i].what;
	if (len >= strlen(KEYFILE_BUNDLE_PREFIX) &&
	    memcmp(s, KEYFILE_BUNDLE_PREFIX, strlen(KEYFILE_BUNDLE_PREFIX)) == 0)
		return "a bundle";
	return NULL;
}

/* "TAG BASE64" (white space around it allowed) holding exactly outlen bytes. */
static int parse_tagged(const char *name, const char *tag, const char *text, size_t len,
                        uint8_t *out, size_t outlen, char *err, size_t errlen)
{
	size_t tlen = strlen(tag), got = 0;
	const char *b64, *end = NULL, *kind;

	trim(&text, &len);
	if (!has_tag(text, len, tag)) {
		if ((kind = line_kind(text, len)) != NULL)
			seterr(err, errlen, "%s: is %s, not a \"%s\" line", name, kind, tag);
		else
			seterr(err, errlen, "%s: expected one line \"%s BASE64\"", name, tag);
		return -1;
	}
	b64 = text + tlen;
	len -= tlen;
	trim(&b64, &len);
	if (sodium_base642bin(out, outlen, b64, len, NULL, &got, &end, B64) != 0 ||
	    end != b64 + len || got != outlen) {
		sodium_memzero(out, outlen);
		seterr(err, errlen, "%s: the key after \"%s\" is not %zu bytes of base64", name, tag,
		       outlen);
		return -1;
	}
	return 0;
}

static struct keyfile_pair *pair_new(enum keyfile_kind kind)
{
	struct keyfile_pair *p = sodium_malloc(sizeof(*p));

	if (p == NULL)
		return NULL;
	sodium_memzero(p, sizeof(*p));
	p->kind = kind;
	return p;
}

struct keyfile_pair *keyfile_pair_generate(enum keyfile_kind kind)
{
	struct keyfile_pair *p = pair_new(kind);

	if (p == NULL)
		return NULL;
	if (kind != KEYFILE_HOST)
		crypto_sign_keypair(p->pk, p->sk);
	else
		crypto_box_keypair(p->pk, p->sk);
	return p;
}

void keyfile_pair_free(struct keyfile_pair *p)
{
	if (p)
		sodium_free(p); /* wipes */
}

/* The public half from the secret; -1 if an Ed25519 key is inconsistent. */
static int derive_pk(struct keyfile_pair *p)
{
	uint8_t seed[crypto_sign_SEEDBYTES], sk[crypto_sign_SECRETKEYBYTES];
	int rc;

	if (p->kind == KEYFILE_HOST)
		return crypto_scalarmult_base(p->pk, p->sk) == 0 ? 0 : -1;
	crypto_sign_ed25519_sk_to_seed(seed, p->sk);
	crypto_sign_seed_keypair(p->pk, sk, seed);
	rc = sodium_memcmp(sk, p->sk, sizeof(sk)) == 0 ? 0 : -1;
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(sk, sizeof(sk));
	return rc;
}

static int pair_path(char *buf, size_t size, const char *dir, enum keyfile_kind kind,
                     const char *ext, char *err, size_t errlen)
{
	if (xsnprintf(buf, size, "%s/%s.%s", dir, keyfile_kind_name(kind), ext) < 0) {
		seterr(err, errlen, "%s: directory name too long", dir);
		return -1;
	}
	return 0;
}

/* "cmem-KIND-key-v1 BASE64\n" in sodium_malloc memory. */
static char *secret_text(const struct keyfile_pair *p, size_t *len)
{
	size_t cap = 128, off;
	char *out = sodium_malloc(cap);

	if (out == NULL)
		return NULL;
	off = (size_t)snprintf(out, cap, "%s ", key_tags[p->kind]);
	sodium_bin2base64(out + off, cap - off, p->sk, sk_len(p->kind), B64);
	off += strlen(out + off);
	out[off++] = '\n';
	*len = off;
	return out;
}

int keyfile_pair_save(const struct keyfile_pair *p, const char *dir, char *err, size_t errlen)
{
	char key[PATH_MAX], pub[PATH_MAX], line[KEYFILE_PUB_LINE_MAX + 1];
	size_t len = 0;
	char *text;
	int rc;

	if (pair_path(key, sizeof(key), dir, p->kind, "key", err, errlen) == -1 ||
	    pair_path(pub, sizeof(pub), dir, p->kind, "pub", err, errlen) == -1)
		return -1;
	if (privfile_exists(key) || privfile_exists(pub)) {
		seterr(err, errlen, "%s: already exists; refusing to overwrite a %s key",
		       privfile_exists(key) ? key : pub, keyfile_kind_name(p->kind));
		return -1;
	}
	if ((text = secret_text(p, &len)) == NULL) {
		seterr(err, errlen, "%s: out of secure memory", key);
		return -1;
	}
	rc = privfile_write(key, text, len, 0, err, errlen);
	sodium_free(text);
	if (rc == -1)
		return -1;
	keyfile_pub_format(p->kind, p->pk, line);
	len = strlen(line);
	line[len++] = '\n';
	if (privfile_write_public(pub, line, len, 0, err, errlen) == -1) {
		unlink(key); /* all or nothing */
		return -1;
	}
	return 0;
}

int keyfile_pair_create(enum keyfile_kind kind, const char *dir,
                        uint8_t pk[KEYFILE_PK_BYTES], char *err, size_t errlen)
{
	struct keyfile_pair *p;
	int rc;

	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		seterr(err, errlen, "%s: cannot create the directory: %s", dir, strerror(errno));
		return -1;
	}
	if ((p = keyfile_pair_generate(kind)) == NULL) {
		seterr(err, errlen, "%s: out of secure memory", dir);
		return -1;
	}
	rc = keyfile_pair_save(p, dir, err, errlen);
	memcpy(pk, p->pk, KEYFILE_PK_BYTES);
	keyfile_pair_free(p);
	return rc;
}

struct keyfile_pair *keyfile_pair_load(enum keyfile_kind kind, const char *dir, char *err,
                                       size_t errlen)
{
	char path[PATH_MAX];
	struct keyfile_pair *p;
	char *text;
	size_t len = 0;

	if (pair_path(path, sizeof(path), dir, kind, "key", err, errlen) == -1)
		return NULL;
	if ((p = pair_new(kind)) == NULL) {
		seterr(err, errlen, "%s: out of secure memory", path);
		return NULL;
	}
	text = privfile_load(path, KEYFILE_SECRET_MAX, &len, err, errlen);
	if (text == NULL ||
	    parse_tagged(path, key_tags[kind], text, len, p->sk, sk_len(kind), err, errlen) == -1)
		goto fail;
	if (derive_pk(p) == -1) {
		seterr(err, errlen, "%s: damaged: its public half does not match its secret seed",
		       path);
		goto fail;
	}
	privfile_free(text);
	return p;
fail:
	privfile_free(text);
	keyfile_pair_free(p);
	return NULL;
}

void keyfile_pub_format(enum keyfile_kind kind, const uint8_t pk[KEYFILE_PK_BYTES],
                        char out[KEYFILE_PUB_LINE_MAX])
{
	char b64[KEYFILE_PK_B64_LEN + 1];

	sodium_bin2base64(b64, sizeof(b64), pk, KEYFILE_PK_BYTES, B64);
	snprintf(out, KEYFILE_PUB_LINE_MAX, "%s %s", pub_tags[kind], b64);
}

int keyfile_pub_parse(enum keyfile_kind kind, const char *name, const char *text, size_t len,
                      uint8_t pk[KEYFILE_PK_BYTES], char *err, size_t errlen)
{
	return parse_tagged(name, pub_tags[kind], text, len, pk, KEYFILE_PK_BYTES, err, errlen);
}

int keyfile_pub_load(enum keyfile_kind kind, const char *path, uint8_t pk[KEYFILE_PK_BYTES],
                     char *err, size_t errlen)
{
	size_t len = 0;
	char *text = privfile_read_public(path, 4096, &len, err, errlen);
	int rc;

	if (text == NULL)
		return -1;
	rc = keyfile_pub_parse(kind, path, text, len, pk, err, errlen);
	free(text);
	return rc;
}

/* ---- bundles ---- */

static void pk_b64(const uint8_t pk[KEYFILE_PK_BYTES], char out[KEYFILE_PK_B64_LEN + 1])
{
	sodium_bin2base64(out, KEYFILE_PK_B64_LEN + 1, pk, KEYFILE_PK_BYTES, B64);
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/*
 * What the administrator signs: the context of the format version, the
 * recipient, (v2) the serial and the creation time, and the ciphertext.
 * The contexts differ, so a signature never passes for another version.
 */
static uint8_t *signed_message(const struct keyfile_bundle *b, size_t *len)
{
	const char *ctx = b->version == 1   ? BUNDLE_SIGCTX_V1
	                  : b->version == 3 ? BUNDLE_SIGCTX_V3
	                                    : BUNDLE_SIGCTX_V2;
	size_t clen = strlen(ctx) + 1, off = 0; /* the NUL included */
	uint8_t *m = xmalloc(clen + sizeof(b->recipient) + 16 + b->sealed_len);

	memcpy(m, ctx, clen);
	off += clen;
	memcpy(m + off, b->recipient, sizeof(b->recipient));
	off += sizeof(b->recipient);
	if (b->version != 1) {
		put_be64(m + off, b->serial);
		put_be64(m + off + 8, (uint64_t)b->created);
		off += 16;
	}
	memcpy(m + off, b->sealed, b->sealed_len);
	*len = off + b->sealed_len;
	return m;
}

int keyfile_time_format(int64_t t, char out[KEYFILE_TIME_LEN])
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t < 0 || t > KEYFILE_TIME_MAX || gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, KEYFILE_TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) != KEYFILE_TIME_LEN - 1) {
		snprintf(out, KEYFILE_TIME_LEN, "(bad time)");
		return -1;
	}
	return 0;
}

/* Two digits at s into *v. */
static int two_digits(const char *s, int *v)
{
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return -1;
	*v = (s[0] - '0') * 10 + (s[1] - '0');
	return 0;
}

int keyfile_time_parse(const char *s, size_t len, int64_t *t)
{
	char again[KEYFILE_TIME_LEN];
	struct tm tm = { .tm_isdst = 0 };
	int cc, yy;
	time_t tt;

	/* exactly YYYY-MM-DDTHH:MM:SSZ; formatting back rejects a 31st of June */
	if (len != KEYFILE_TIME_LEN - 1 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
	    s[13] != ':' || s[16] != ':' || s[19] != 'Z' || two_digits(s, &cc) == -1 ||
	    two_digits(s + 2, &yy) == -1 || two_digits(s + 5, &tm.tm_mon) == -1 ||
	    two_digits(s + 8, &tm.tm_mday) == -1 || two_digits(s + 11, &tm.tm_hour) == -1 ||
	    two_digits(s + 14, &tm.tm_min) == -1 || two_digits(s + 17, &tm.tm_sec) == -1 ||
	    tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_hour > 23 ||
	    tm.tm_min > 59 || tm.tm_sec > 59)
		return -1;
	tm.tm_year = cc * 100 + yy - 1900;
	tm.tm_mon--;
	tt = timegm(&tm);
	if (tt == (time_t)-1 || keyfile_time_format((int64_t)tt, again) == -1 ||
	    memcmp(again, s, len) != 0)
		return -1;
	*t = (int64_t)tt;
	return 0;
}

int keyfile_bundle_seal(struct keyfile_bundle *b, const char *text, size_t len,
                        const uint8_t recipient[KEYFILE_PK_BYTES],
                        const struct keyfile_pair *admin, uint64_t serial, int64_t created,
                        char *err, size_t errlen)
{
	return keyfile_bundle_seal_ident(b, text, len, NULL, 0, recipient, admin, serial, created,
	                                 err, errlen);
}

/* The sealed content: the ring's text, then (v3) the identity part. */
static char *bundle_content(const char *ring, size_t len, const char *ident, size_t ilen)
{
	char *plain = sodium_malloc(len + ilen + 1);

	if (plain == NULL)
		return NULL;
	memcpy(plain, ring, len);
	if (ilen)
		memcpy(plain + len, ident, ilen);
	return plain;
}

int keyfile_bundle_seal_ident(struct keyfile_bundle *b, const char *text, size_t len,
                              const char *ident, size_t ilen,
                              const uint8_t recipient[KEYFILE_PK_BYTES],
                              const struct keyfile_pair *admin, uint64_t serial,
                              int64_t created, char *err, size_t errlen)
{
	uint8_t *m;
	size_t mlen;
	char *plain;
	int bad;

	memset(b, 0, sizeof(*b));
	if (admin->kind != KEYFILE_ADMIN) {
		seterr(err, errlen, "cannot seal: the signing key is not an admin key");
		return -1;
	}
	if (len > KEYRING_MAX_FILE || ilen > KEYFILE_IDENT_MAX) {
		seterr(err, errlen, "cannot seal: the keyring or the identity files are too large");
		return -1;
	}
	if (serial == 0 || created < 0 || created > KEYFILE_TIME_MAX) {
		seterr(err, errlen, "cannot seal: serial %" PRIu64 " or time %" PRId64
		                    " out of range (serial >= 1, time 1970..9999)",
		       serial, created);
		return -1;
	}
	if ((plain = bundle_content(text, len, ident, ilen)) == NULL) {
		seterr(err, errlen, "cannot seal: out of secure memory");
		return -1;
	}
	b->version = ilen ? 3 : 2;
	b->serial = serial;
	b->created = created;
	b->sealed_len = len + ilen + crypto_box_SEALBYTES;
	b->sealed = xmalloc(b->sealed_len);
	bad = crypto_box_seal(b->sealed, (const uint8_t *)plain, len + ilen, recipient);
	sodium_free(plain);
	if (bad != 0) {
		seterr(err, errlen, "cannot seal: the host public key is not a usable X25519 key");
		keyfile_bundle_clear(b);
		return -1;
	}
	memcpy(b->recipient, recipient, sizeof(b->recipient));
	memcpy(b->signer, admin->pk, sizeof(b->signer));
	m = signed_message(b, &mlen);
	crypto_sign_detached(b->sig, NULL, m, mlen, admin->sk);
	free(m);
	return 0;
}

void keyfile_bundle_clear(struct keyfile_bundle *b)
{
	free(b->sealed);
	memset(b, 0, sizeof(*b));
}

/* "serial N\ncreated TIME\n" of a v2 bundle, "" for v1. */
static void v2_fields(const struct keyfile_bundle *b, char *out, size_t size)
{
	char when[KEYFILE_TIME_LEN];

	out[0] = '\0';
	if (b->version == 1)
		return;
	keyfile_time_format(b->created, when);
	snprintf(out, size, "serial %" PRIu64 "\ncreated %s\n", b->serial, when);
}

char *keyfile_bundle_format(const struct keyfile_bundle *b, size_t *len)
{
	char signer[KEYFILE_PK_B64_LEN + 1], recipient[KEYFILE_PK_B64_LEN + 1], v2[96];
	char sig[sodium_base64_ENCODED_LEN(crypto_sign_BYTES, B64)];
	size_t b64len = sodium_base64_ENCODED_LEN(b->sealed_len, B64);
	size_t cap = 512 + b64len + b64len / B64_WRAP + 1, off;
	char *out = xmalloc(cap), *b64 = xmalloc(b64len);

	pk_b64(b->signer, signer);
	pk_b64(b->recipient, recipient);
	sodium_bin2base64(sig, sizeof(sig), b->sig, sizeof(b->sig), B64);
	sodium_bin2base64(b64, b64len, b->sealed, b->sealed_len, B64);
	v2_fields(b, v2, sizeof(v2));
	off = (size_t)snprintf(out, cap, "%s\nsigner %s\nrecipient %s\n%ssignature %s\nsealed\n",
	                       b->version == 1   ? KEYFILE_BUNDLE_MAGIC_V1
	                       : b->version == 3 ? KEYFILE_BUNDLE_MAGIC_V3
	                                         : KEYFILE_BUNDLE_MAGIC,
	                       signer, recipient, v2, sig);
	for (size_t i = 0; i + 1 < b64len; i += B64_WRAP) {
		size_t n = b64len - 1 - i < B64_WRAP ? b64len - 1 - i : B64_WRAP;

		memcpy(out + off, b64 + i, n);
		off += n;
		out[off++] = '\n';
	}
	memcpy(out + off, "end\n", 5);
	*len = off + 4;
	free(b64);
	return out;
}

/* The next line, which must be "LABEL VALUE": the value in *val. */
static int take_labelled(struct textlines *c, const char *label, const char *what,
                         const char **val, size_t *vlen)
{
	const char *line;
	size_t llen, lab = strlen(label);

	if (textlines_next(c, &line, &llen) == -1) {
		seterr(c->err, c->errlen, "%s: truncated: no \"%s\" line", c->name, label);
		return -1;
	}
	if (llen > lab + 1 && memcmp(line, label, lab) == 0 && line[lab] == ' ') {
		*val = line + lab + 1;
		*vlen = llen - lab - 1;
		return 0;
	}
	if (c->cut)
		seterr(c->err, c->errlen, "%s: truncated: line %u (%s) is cut short", c->name,
		       c->lineno, label);
	else
		seterr(c->err, c->errlen, "%s: line %u: expected \"%s %s\"", c->name, c->lineno,
		       label, what);
	return -1;
}

/* "LABEL BASE64" holding exactly n bytes. */
static int take_field(struct textlines *c, const char *label, uint8_t *out, size_t n)
{
	const char *val, *end = NULL;
	size_t vlen, got = 0;
	char should[64];

	if (take_labelled(c, label, "BASE64", &val, &vlen) == -1)
		return -1;
	if (sodium_base642bin(out, n, val, vlen, NULL, &got, &end, B64) == 0 &&
	    end == val + vlen && got == n)
		return 0;
	snprintf(should, sizeof(should), "%zu bytes of base64", n);
	return textlines_bad_value(c, label, should);
}

/* v2: "serial N" (1 or more) and "created YYYY-MM-DDTHH:MM:SSZ". */
static int take_v2_fields(struct textlines *c, struct keyfile_bundle *b)
{
	const char *val;
	size_t vlen;

	if (take_labelled(c, "serial", "NUMBER", &val, &vlen) == -1)
		return -1;
	if (parse_u64(val, vlen, &b->serial) == -1 || b->serial == 0)
		return textlines_bad_value(c, "serial", "a number in 1..18446744073709551615");
	if (take_labelled(c, "created", "YYYY-MM-DDTHH:MM:SSZ", &val, &vlen) == -1)
		return -1;
	if (keyfile_time_parse(val, vlen, &b->created) == -1)
		return textlines_bad_value(c, "created time", "a UTC time YYYY-MM-DDTHH:MM:SSZ");
	return 0;
}

/* The base64 between start and stop, CR and LF ignored, into b->sealed. */
static int decode_sealed(struct textlines *c, struct keyfile_bundle *b, const char *start,
                         const char *stop)
{
	size_t cap = (size_t)(stop - start) / 4 * 3 + 3;
	const char *end = NULL;

	b->sealed = xmalloc(cap);
	if (sodium_base642bin(b->sealed, cap, start, (size_t)(stop - start), "\r\n", &b->sealed_len,
	                      &end, B64) != 0 ||
	    end != stop) {
		seterr(c->err, c->errlen, "%s: the sealed data is not valid base64", c->name);
		return -1;
	}
	if (b->sealed_len <= crypto_box_SEALBYTES ||
	    b->sealed_len > KEYRING_MAX_FILE + (b->version == 3 ? KEYFILE_IDENT_MAX : 0) +
	                        crypto_box_SEALBYTES) {
		seterr(c->err, c->errlen, "%s: the sealed data has an impossible size (%zu bytes)",
		       c->name, b->sealed_len);
		return -1;
	}
	return 0;
}

/* "sealed", the base64 lines, "end", then nothing but white space. */
static int take_sealed(struct textlines *c, struct keyfile_bundle *b)
{
	const char *line, *start, *stop = NULL;
	size_t llen;

	if (textlines_next(c, &line, &llen) == -1) {
		seterr(c->err, c->errlen, "%s: truncated: no \"sealed\" line", c->name);
		return -1;
	}
	if (llen != 6 || memcmp(line, "sealed", 6) != 0) {
		seterr(c->err, c->errlen, c->cut ? "%s: truncated: line %u is cut short"
		                                 : "%s: line %u: expected \"sealed\"",
		       c->name, c->lineno);
		return -1;
	}
	start = c->p;
	while (stop == NULL && textlines_next(c, &line, &llen) == 0)
		if (llen == 3 && memcmp(line, "end", 3) == 0)
			stop = line;
	if (stop == NULL) {
		seterr(c->err, c->errlen, "%s: truncated: no \"end\" line after the sealed data",
		       c->name);
		return -1;
	}
	for (const char *p = c->p; p < c->end; p++)
		if (!is_space(*p)) {
			seterr(c->err, c->errlen, "%s: unexpected text after the \"end\" line", c->name);
			return -1;
		}
	return decode_sealed(c, b, start, stop);
}

/* Printable ASCII and line ends only (a NUL would slip through base64 decoding). */
static int check_bytes(const char *name, const char *text, size_t len, char *err,
                       size_t errlen)
{
	unsigned lineno = 1;

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)text[i];

		if (ch == '\n')
			lineno++;
		else if (ch != '\r' && (ch < 0x20 || ch > 0x7e)) {
			seterr(err, errlen, "%s: line %u: byte 0x%02x: a bundle is printable ASCII text",
			       name, lineno, ch);
			return -1;
		}
	}
	return 0;
}

/* The first line: the format version into *version. */
static int take_magic(struct textlines *c, int *version)
{
	const char *line = "";
	size_t llen = 0, mlen = strlen(KEYFILE_BUNDLE_MAGIC), plen = strlen(KEYFILE_BUNDLE_PREFIX);

	textlines_next(c, &line, &llen);
	/* both versions have the same length: only the last digit differs */
	if (llen == mlen && memcmp(line, KEYFILE_BUNDLE_MAGIC, mlen) == 0)
		*version = 2;
	else if (llen == mlen && memcmp(line, KEYFILE_BUNDLE_MAGIC_V3, mlen) == 0)
		*version = 3;
	else if (llen == mlen && memcmp(line, KEYFILE_BUNDLE_MAGIC_V1, mlen) == 0)
		*version = 1;
	else
		*version = 0;
	if (*version)
		return 0;
	if (c->p == c->end && llen < mlen && memcmp(line, KEYFILE_BUNDLE_MAGIC, llen) == 0)
		seterr(c->err, c->errlen, "%s: truncated: %s", c->name,
		       llen ? "the first line is cut short" : "empty file");
	else if (llen > plen && memcmp(line, KEYFILE_BUNDLE_PREFIX, plen) == 0)
		seterr(c->err, c->errlen,
		       "%s: unsupported bundle format \"%.*s\" (this program reads %s, %s and %s)",
		       c->name, (int)(llen > 32 ? 32 : llen), line, KEYFILE_BUNDLE_MAGIC_V1,
		       KEYFILE_BUNDLE_MAGIC, KEYFILE_BUNDLE_MAGIC_V3);
	else
		seterr(c->err, c->errlen, "%s: not a cmem bundle (the first line is not \"%s\")",
		       c->name, KEYFILE_BUNDLE_MAGIC);
	return -1;
}

int keyfile_bundle_parse(struct keyfile_bundle *b, const char *name, const char *text,
                         size_t len, char *err, size_t errlen)
{
	struct textlines c = { name, text, text + len, 0, 0, err, errlen };

	memset(b, 0, sizeof(*b));
	if (len > KEYFILE_BUNDLE_MAX) {
		seterr(err, errlen, "%s: larger than %d bytes", name, KEYFILE_BUNDLE_MAX);
		return -1;
	}
	if (check_bytes(name, text, len, err, errlen) == -1 || take_magic(&c, &b->version) == -1 ||
	    take_field(&c, "signer", b->signer, sizeof(b->signer)) == -1 ||
	    take_field(&c, "recipient", b->recipient, sizeof(b->recipient)) == -1 ||
	    (b->version != 1 && take_v2_fields(&c, b) == -1) ||
	    take_field(&c, "signature", b->sig, sizeof(b->sig)) == -1 || take_sealed(&c, b) == -1) {
		keyfile_bundle_clear(b);
		return -1;
	}
	return 0;
}

/* Where the identity part of v3 content begins: a line "cmem-cert-..." or "cmem-crl-...". */
static size_t ident_start(const char *plain, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((i == 0 || plain[i - 1] == '\n') &&
		    ((len - i > 10 && memcmp(plain + i, "cmem-cert-", 10) == 0) ||
		     (len - i > 9 && memcmp(plain + i, "cmem-crl-", 9) == 0)))
			return i;
	return len;
}

/* The identity part (v3) into *ident (malloc'd) and *ilen, if the caller wants it. */
static int take_ident(const struct keyfile_bundle *b, const char *name, const char *plain,
                      size_t *len, char **ident, size_t *ilen, char *err, size_t errlen)
{
	size_t at = b->version == 3 ? ident_start(plain, *len) : *len;

	if (b->version == 3 && at == *len) {
		seterr(err, errlen, "%s: a %s bundle without its identity part: damaged", name,
		       KEYFILE_BUNDLE_MAGIC_V3);
		return -1;
	}
	if (ident != NULL) {
		*ilen = *len - at;
		*ident = xmalloc(*ilen + 1);
		memcpy(*ident, plain + at, *ilen);
		(*ident)[*ilen] = '\0';
	}
	*len = at;
	return 0;
}

/* crypto_box_seal_open, then the content must parse as a keyring (and identity part). */
static struct keyring *open_sealed(const struct keyfile_bundle *b, const char *name,
                                   const struct keyfile_pair *host, char **ident,
                                   size_t *ilen, char *err, size_t errlen)
{
	size_t len = b->sealed_len - crypto_box_SEALBYTES;
	char *plain = sodium_malloc(len + 1), what[PATH_MAX];
	struct keyring *kr = NULL;

	if (plain == NULL) {
		seterr(err, errlen, "%s: out of secure memory", name);
		return NULL;
	}
	if (crypto_box_seal_open((uint8_t *)plain, b->sealed, b->sealed_len, host->pk, host->sk) !=
	    0)
		seterr(err, errlen,
		       "%s: cannot be opened with this host's secret key, although it names this "
		       "host as its recipient",
		       name);
	else if (take_ident(b, name, plain, &len, ident, ilen, err, errlen) == 0) {
		if (xsnprintf(what, sizeof(what), "%s (sealed content)", name) < 0)
			xsnprintf(what, sizeof(what), "(sealed content)");
		kr = keyring_parse(what, plain, len, err, errlen);
	}
	sodium_free(plain);
	return kr;
}

struct keyring *keyfile_bundle_open(const struct keyfile_bundle *b, const char *name,
                                    const uint8_t trusted[KEYFILE_PK_BYTES],
                                    const struct keyfile_pair *host, char *err, size_t errlen)
{
	return keyfile_bundle_open_ident(b, name, trusted, host, NULL, NULL, err, errlen);
}

struct keyring *keyfile_bundle_open_ident(const struct keyfile_bundle *b, const char *name,
                                          const uint8_t trusted[KEYFILE_PK_BYTES],
                                          const struct keyfile_pair *host, char **ident,
                                          size_t *ilen, char *err, size_t errlen)
{
	char got[KEYFILE_PK_B64_LEN + 1], want[KEYFILE_PK_B64_LEN + 1];
	uint8_t *m;
	size_t mlen;
	int bad;

	if (sodium_memcmp(b->signer, trusted, KEYFILE_PK_BYTES) != 0) {
		pk_b64(b->signer, got);
		pk_b64(trusted, want);
		seterr(err, errlen,
		       "%s: signed by administrator key %s, not by the trusted key %s; refusing it",
		       name, got, want);
		return NULL;
	}
	m = signed_message(b, &mlen);
	bad = crypto_sign_verify_detached(b->sig, m, mlen, trusted);
	free(m);
	if (bad) {
		seterr(err, errlen,
		       "%s: bad signature: the bundle was changed after it was signed, or is "
		       "damaged; refusing it",
		       name);
		return NULL;
	}
	if (host->kind != KEYFILE_HOST ||
	    sodium_memcmp(b->recipient, host->pk, KEYFILE_PK_BYTES) != 0) {
		pk_b64(b->recipient, got);
		pk_b64(host->pk, want);
		seterr(err, errlen,
		       "%s: sealed for another host (%s %s), not for this one (%s %s); refusing it",
		       name, pub_tags[KEYFILE_HOST], got, pub_tags[KEYFILE_HOST], want);
		return NULL;
	}
	return open_sealed(b, name, host, ident, ilen, err, errlen);
}

/* ---- hosts file ---- */

static int parse_host_line(const char *name, unsigned lineno, const char *line, size_t len,
                           struct keyfile_host_entry *e, char *err, size_t errlen)
{
	char where[PATH_MAX + 128];
	size_t n = 0;

	while (n < len && line[n] != ' ' && line[n] != '\t')
		n++;
	if (n == 0 || name_span(line, n) != n) {
		seterr(err, errlen, "%s: line %u: host name \"%.*s\" is not " NAME_RULE, name,
		       lineno, (int)(n > KEYFILE_NAME_MAX ? KEYFILE_NAME_MAX : n), line);
		return -1;
	}
	memcpy(e->name, line, n);
	e->name[n] = '\0';
	if (xsnprintf(where, sizeof(where), "%s: line %u (host %s)", name, lineno, e->name) < 0)
		xsnprintf(where, sizeof(where), "line %u (host %s)", lineno, e->name);
	return keyfile_pub_parse(KEYFILE_HOST, where, line + n, len - n, e->pk, err, errlen);
}

static int check_unique(const char *name, unsigned lineno, const struct keyfile_host_entry *v,
                        size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].name, v[n].name) == 0) {
			seterr(err, errlen, "%s: line %u: host %s is listed twice", name, lineno,
			       v[n].name);
			return -1;
		}
		if (memcmp(v[i].pk, v[n].pk, KEYFILE_PK_BYTES) == 0) {
			seterr(err, errlen, "%s: line %u: host %s has the public key of host %s", name,
			       lineno, v[n].name, v[i].name);
			return -1;
		}
	}
	return 0;
}

int keyfile_hosts_parse(const char *name, const char *text, size_t len,
                        struct keyfile_host_entry **out, size_t *n, char *err, size_t errlen)
{
	struct keyfile_host_entry *v = NULL;
	size_t nv = 0, pos = 0;
	unsigned lineno = 0;

	while (pos < len) {
		const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
		size_t llen = nl ? (size_t)(nl - line) : len - pos;

		pos += llen + (nl != NULL);
		lineno++;
		trim(&line, &llen);
		if (llen == 0 || line[0] == '#')
			continue;
		v = xreallocarray(v, nv + 1, sizeof(*v));
		if (parse_host_line(name, lineno, line, llen, &v[nv], err, errlen) == -1 ||
		    check_unique(name, lineno, v, nv, err, errlen) == -1) {
			free(v);
			return -1;
		}
		nv++;
	}
	if (nv == 0) {
		seterr(err, errlen, "%s: no host (one line \"NAME %s BASE64\" per host)", name,
		       pub_tags[KEYFILE_HOST]);
		free(v);
		return -1;
	}
	*out = v;
	*n = nv;
	return 0;
}
