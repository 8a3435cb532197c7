/*
 * cert: member certificates and revocation lists (formats in cert.h).
 * The binary form is the canonical one: the signature covers it, and the
 * text form is only another spelling of the same fields.
 */
#include "cert.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "textlines.h"
#include "util.h"

#define B64 sodium_base64_VARIANT_ORIGINAL
#define CERT_SIGCTX "cmem-cert-v1 signature" /* signed with its NUL */
#define CRL_SIGCTX "cmem-crl-v1 signature"

_Static_assert(CERT_BIN_MAX == 194, "certificate size stated in cert.h and PROTOCOL.md");

static const char *const status_names[] = {
	[CERT_OK] = "ok",
	[CERT_TRUNCATED] = "truncated",
	[CERT_BAD_MAGIC] = "bad_magic",
	[CERT_BAD_FORMAT] = "bad_format",
	[CERT_BAD_NAME] = "bad_name",
	[CERT_BAD_VALIDITY] = "bad_validity",
	[CERT_BAD_SERIALS] = "bad_serials",
	[CERT_WRONG_ADMIN] = "wrong_admin",
	[CERT_BAD_SIGNATURE] = "bad_signature",
	[CERT_NAME_MISMATCH] = "name_mismatch",
	[CERT_NOT_YET_VALID] = "not_yet_valid",
	[CERT_EXPIRED] = "expired",
	[CERT_REVOKED] = "revoked",
};

const char *cert_status_name(enum cert_status st)
{
	if ((size_t)st >= ARRAY_SIZE(status_names) || status_names[st] == NULL)
		return "unknown";
	return status_names[st];
}

void cert_keyid(const uint8_t pk[crypto_sign_PUBLICKEYBYTES], uint8_t id[CERT_KEYID_BYTES])
{
	uint8_t h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, pk, crypto_sign_PUBLICKEYBYTES);
	memcpy(id, h, CERT_KEYID_BYTES);
}

void cert_keyid_hex(const uint8_t pk[crypto_sign_PUBLICKEYBYTES], char out[CERT_KEYID_HEX_LEN])
{
	uint8_t id[CERT_KEYID_BYTES];

	cert_keyid(pk, id);
	sodium_bin2hex(out, CERT_KEYID_HEX_LEN, id, sizeof(id));
}

/* ---- big-endian fields ---- */

static uint8_t *put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
	return p + 8;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* ---- certificates ---- */

/* The rules every form obeys, whoever made it. */
static enum cert_status cert_fields(const struct cert *c, char *why, size_t size)
{
	if (!name_valid(c->name)) {
		snprintf(why, size, "the name \"%.64s\" is not %s", c->name, NAME_RULE);
		return CERT_BAD_NAME;
	}
	if (c->serial == 0) {
		snprintf(why, size, "the serial is 0 (serials are 1..2^64-1)");
		return CERT_BAD_FORMAT;
	}
	if (c->not_before < 0 || c->not_after > KEYFILE_TIME_MAX || c->not_before > c->not_after) {
		snprintf(why, size, "the validity %" PRId64 "..%" PRId64
		                    " is empty or outside 1970..9999",
		         c->not_before, c->not_after);
		return CERT_BAD_VALIDITY;
	}
	return CERT_OK;
}

size_t cert_encode(const struct cert *c, uint8_t out[CERT_BIN_MAX])
{
	size_t nlen = strnlen(c->name, NAME_LEN_MAX);
	uint8_t *p = out;

	*p++ = CERT_VERSION;
	*p++ = (uint8_t)nlen;
	memcpy(p, c->name, nlen);
	p += nlen;
	memcpy(p, c->key, sizeof(c->key));
	p += sizeof(c->key);
	p = put64(p, c->serial);
	p = put64(p, (uint64_t)c->not_before);
	p = put64(p, (uint64_t)c->not_after);
	memcpy(p, c->issuer, sizeof(c->issuer));
	p += sizeof(c->issuer);
	memcpy(p, c->sig, sizeof(c->sig));
	return (size_t)(p - out) + sizeof(c->sig);
}

/* "CTX" NUL || body: what a signature covers. */
static uint8_t *signed_bytes(const char *ctx, const uint8_t *body, size_t blen, size_t *len)
{
	size_t clen = strlen(ctx) + 1;
	uint8_t *m = xmalloc(clen + blen);

	memcpy(m, ctx, clen);
	memcpy(m + clen, body, blen);
	*len = clen + blen;
	return m;
}

static void sign_body(uint8_t sig[crypto_sign_BYTES], const char *ctx, const uint8_t *body,
                      size_t blen, const struct keyfile_pair *admin)
{
	size_t mlen;
	uint8_t *m = signed_bytes(ctx, body, blen, &mlen);

	crypto_sign_detached(sig, NULL, m, mlen, admin->sk);
	free(m);
}

static int verify_body(const uint8_t sig[crypto_sign_BYTES], const char *ctx,
                       const uint8_t *body, size_t blen, const uint8_t pk[32])
{
	size_t mlen;
	uint8_t *m = signed_bytes(ctx, body, blen, &mlen);
	int rc = crypto_sign_verify_detached(sig, m, mlen, pk);

	free(m);
	return rc;
}

/*
 * Signing needs an administrator key and fields that hold: fields is their
 * check's verdict, why its reason, what the message's start.
 */
static int can_sign(const struct keyfile_pair *admin, enum cert_status fields, const char *why,
                    const char *what, char *err, size_t errlen)
{
	if (admin->kind != KEYFILE_ADMIN) {
		seterr(err, errlen, "cannot sign: the signing key is not an administrator key");
		return -1;
	}
	if (fields != CERT_OK) {
		seterr(err, errlen, "%s: %s", what, why);
		return -1;
	}
	return 0;
}

int cert_sign(struct cert *c, const struct keyfile_pair *admin, char *err, size_t errlen)
{
	uint8_t bin[CERT_BIN_MAX];
	char why[160];
	size_t len;

	if (can_sign(admin, cert_fields(c, why, sizeof(why)), why, "cannot certify", err, errlen))
		return -1;
	cert_keyid(admin->pk, c->issuer);
	len = cert_encode(c, bin);
	sign_body(c->sig, CERT_SIGCTX, bin, len - crypto_sign_BYTES, admin);
	return 0;
}

enum cert_status cert_decode(struct cert *c, const char *name, const uint8_t *buf, size_t len,
                             char *err, size_t errlen)
{
	enum cert_status st;
	char why[160];
	size_t nlen;

	memset(c, 0, sizeof(*c));
	if (len < 2 || (buf[0] == CERT_VERSION && len < CERT_BIN_FIXED + buf[1])) {
		seterr(err, errlen, "%s: truncated: %zu bytes", name, len);
		return CERT_TRUNCATED;
	}
	if (buf[0] != CERT_VERSION) {
		seterr(err, errlen, "%s: not a version %d certificate (version byte %u)", name,
		       CERT_VERSION, buf[0]);
		return CERT_BAD_MAGIC;
	}
	nlen = buf[1];
	if (len != CERT_BIN_FIXED + nlen) {
		seterr(err, errlen, "%s: %zu bytes after the certificate", name,
		       len - CERT_BIN_FIXED - nlen);
		return CERT_BAD_FORMAT;
	}
	if (nlen > NAME_LEN_MAX || memchr(buf + 2, '\0', nlen) != NULL)
		nlen = 0; /* fails the name rule below */
	memcpy(c->name, buf + 2, nlen);
	buf += 2 + buf[1];
	memcpy(c->key, buf, sizeof(c->key));
	c->serial = get64(buf + 32);
	c->not_before = get64(buf + 40) > (uint64_t)KEYFILE_TIME_MAX ? -1 : (int64_t)get64(buf + 40);
	c->not_after = get64(buf + 48) > (uint64_t)KEYFILE_TIME_MAX ? INT64_MAX
	                                                             : (int64_t)get64(buf + 48);
	memcpy(c->issuer, buf + 56, sizeof(c->issuer));
	memcpy(c->sig, buf + 56 + CERT_KEYID_BYTES, sizeof(c->sig));
	if ((st = cert_fields(c, why, sizeof(why))) != CERT_OK)
		seterr(err, errlen, "%s: %s", name, why);
	return st;
}

enum cert_status cert_verify(const struct cert *c, const uint8_t admin_pub[32], const char *name,
                             int64_t now)
{
	uint8_t id[CERT_KEYID_BYTES], bin[CERT_BIN_MAX];
	size_t len;

	cert_keyid(admin_pub, id);
	if (sodium_memcmp(id, c->issuer, sizeof(id)) != 0)
		return CERT_WRONG_ADMIN;
	len = cert_encode(c, bin);
	if (verify_body(c->sig, CERT_SIGCTX, bin, len - crypto_sign_BYTES, admin_pub) != 0)
		return CERT_BAD_SIGNATURE;
	if (name != NULL && strcmp(name, c->name) != 0)
		return CERT_NAME_MISMATCH;
	if (now < c->not_before)
		return CERT_NOT_YET_VALID;
	if (now > c->not_after)
		return CERT_EXPIRED;
	return CERT_OK;
}

enum cert_status cert_check(const struct cert *c, const struct crl *crl,
                            const uint8_t admin_pub[32], const char *name, int64_t now)
{
	enum cert_status st = cert_verify(c, admin_pub, name, now);

	if (st != CERT_OK || crl == NULL)
		return st;
	if ((st = crl_verify(crl, admin_pub)) != CERT_OK)
		return st;
	return crl_is_revoked(crl, c->serial) ? CERT_REVOKED : CERT_OK;
}

/* ---- text forms ---- */

/*
 * The next line, which must be "LABEL VALUE": the value in *val.  A
 * missing line, or a last line cut short, is CERT_TRUNCATED.
 */
static enum cert_status field(struct textlines *r, const char *label, const char **val,
                              size_t *vlen)
{
	const char *line;
	size_t llen, lab = strlen(label);

	if (textlines_next(r, &line, &llen) == -1) {
		seterr(r->err, r->errlen, "%s: truncated: no \"%s\" line", r->name, label);
		return CERT_TRUNCATED;
	}
	if (llen > lab && memcmp(line, label, lab) == 0 && line[lab] == ' ') {
		*val = line + lab + 1;
		*vlen = llen - lab - 1;
		return CERT_OK;
	}
	if (r->cut && llen <= lab && memcmp(line, label, llen) == 0) {
		seterr(r->err, r->errlen, "%s: truncated: line %u is cut short", r->name, r->lineno);
		return CERT_TRUNCATED;
	}
	seterr(r->err, r->errlen, "%s: line %u: expected \"%s ...\"", r->name, r->lineno, label);
	return CERT_BAD_FORMAT;
}

static enum cert_status bad_field(struct textlines *r, const char *label, const char *should)
{
	textlines_bad_value(r, label, should);
	return r->cut ? CERT_TRUNCATED : CERT_BAD_FORMAT;
}

/* The first line must be magic exactly. */
static enum cert_status magic_line(struct textlines *r, const char *magic)
{
	size_t mlen = strlen(magic), avail = (size_t)(r->end - r->p);
	size_t n = avail < mlen ? avail : mlen;

	if (avail > mlen && memcmp(r->p, magic, mlen) == 0 &&
	    (r->p[mlen] == '\n' || (r->p[mlen] == '\r' && avail > mlen + 1 && r->p[mlen + 1] == '\n'))) {
		r->p += mlen + (r->p[mlen] == '\r') + 1;
		r->lineno = 1;
		return CERT_OK;
	}
	if (memcmp(r->p, magic, n) == 0 && avail <= mlen + 1) {
		seterr(r->err, r->errlen, "%s: truncated: %s", r->name,
		       avail ? "the first line is cut short" : "empty");
		return CERT_TRUNCATED;
	}
	seterr(r->err, r->errlen, "%s: not a %s file (the first line is not \"%s\")", r->name,
	       magic, magic);
	return CERT_BAD_MAGIC;
}

static enum cert_status b64_field(struct textlines *r, const char *label, uint8_t *out, size_t n)
{
	const char *val, *end = NULL;
	size_t vlen, got = 0;
	enum cert_status st = field(r, label, &val, &vlen);

	if (st != CERT_OK)
		return st;
	if (sodium_base642bin(out, n, val, vlen, NULL, &got, &end, B64) == 0 && end == val + vlen &&
	    got == n)
		return CERT_OK;
	return bad_field(r, label, n == 32 ? "32 bytes of base64" : "64 bytes of base64");
}

static enum cert_status u64_field(struct textlines *r, const char *label, uint64_t *v)
{
	const char *val;
	size_t vlen;
	enum cert_status st = field(r, label, &val, &vlen);

	if (st != CERT_OK)
		return st;
	if (parse_u64(val, vlen, v) == 0 && *v != 0)
		return CERT_OK;
	return bad_field(r, label, "a number in 1..18446744073709551615");
}

static enum cert_status time_field(struct textlines *r, const char *label, int64_t *t)
{
	const char *val;
	size_t vlen;
	enum cert_status st = field(r, label, &val, &vlen);

	if (st != CERT_OK)
		return st;
	if (keyfile_time_parse(val, vlen, t) == 0)
		return CERT_OK;
	return bad_field(r, label, "a UTC time YYYY-MM-DDTHH:MM:SSZ");
}

/* 16 lower-case hex digits. */
static enum cert_status keyid_field(struct textlines *r, uint8_t id[CERT_KEYID_BYTES])
{
	const char *val;
	size_t vlen, got = 0;
	enum cert_status st = field(r, "issuer", &val, &vlen);

	if (st != CERT_OK)
		return st;
	for (size_t i = 0; i < vlen; i++)
		if (!((val[i] >= '0' && val[i] <= '9') || (val[i] >= 'a' && val[i] <= 'f')))
			vlen = 0;
	if (vlen == 2 * CERT_KEYID_BYTES &&
	    sodium_hex2bin(id, CERT_KEYID_BYTES, val, vlen, NULL, &got, NULL) == 0 &&
	    got == CERT_KEYID_BYTES)
		return CERT_OK;
	return bad_field(r, "issuer", "an administrator key id (16 lower-case hex digits)");
}

static enum cert_status name_field(struct textlines *r, char out[NAME_LEN_MAX + 1])
{
	const char *val;
	size_t vlen;
	enum cert_status st = field(r, "name", &val, &vlen);

	if (st != CERT_OK)
		return st;
	if (vlen > 0 && name_span(val, vlen) == vlen) {
		memcpy(out, val, vlen);
		return CERT_OK;
	}
	seterr(r->err, r->errlen, "%s: line %u: the name \"%.*s\" is not %s", r->name, r->lineno,
	       (int)(vlen > NAME_LEN_MAX ? NAME_LEN_MAX : vlen), val, NAME_RULE);
	return CERT_BAD_NAME;
}

/* Nothing but white space after the last line. */
static enum cert_status at_end(struct textlines *r)
{
	for (const char *p = r->p; p < r->end; p++)
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
			seterr(r->err, r->errlen, "%s: unexpected text after the signature", r->name);
			return CERT_BAD_FORMAT;
		}
	return CERT_OK;
}

/* Text of at most max bytes, printable ASCII and line ends only. */
static enum cert_status check_text(const char *name, const char *text, size_t len, size_t max,
                                   char *err, size_t errlen)
{
	if (len > max) {
		seterr(err, errlen, "%s: larger than %zu bytes", name, max);
		return CERT_BAD_FORMAT;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)text[i];

		if (ch != '\n' && ch != '\r' && (ch < 0x20 || ch > 0x7e)) {
			seterr(err, errlen, "%s: byte 0x%02x at offset %zu: not printable text", name, ch,
			       i);
			return CERT_BAD_FORMAT;
		}
	}
	return CERT_OK;
}

enum cert_status cert_parse(struct cert *c, const char *name, const char *text, size_t len,
                            char *err, size_t errlen)
{
	struct textlines r = { name, text, text + len, 0, 0, err, errlen };
	enum cert_status st;
	char why[160];

	memset(c, 0, sizeof(*c));
	if ((st = check_text(name, text, len, CERT_TEXT_MAX, err, errlen)) != CERT_OK ||
	    (st = magic_line(&r, CERT_MAGIC)) != CERT_OK || (st = name_field(&r, c->name)) != CERT_OK ||
	    (st = b64_field(&r, "key", c->key, sizeof(c->key))) != CERT_OK ||
	    (st = u64_field(&r, "serial", &c->serial)) != CERT_OK ||
	    (st = time_field(&r, "not-before", &c->not_before)) != CERT_OK ||
	    (st = time_field(&r, "not-after", &c->not_after)) != CERT_OK ||
	    (st = keyid_field(&r, c->issuer)) != CERT_OK ||
	    (st = b64_field(&r, "signature", c->sig, sizeof(c->sig))) != CERT_OK ||
	    (st = at_end(&r)) != CERT_OK)
		return st;
	if ((st = cert_fields(c, why, sizeof(why))) != CERT_OK)
		seterr(err, errlen, "%s: %s", name, why);
	return st;
}

char *cert_format(const struct cert *c, size_t *len)
{
	char key[sodium_base64_ENCODED_LEN(32, B64)], sig[sodium_base64_ENCODED_LEN(64, B64)];
	char nb[KEYFILE_TIME_LEN], na[KEYFILE_TIME_LEN], id[CERT_KEYID_HEX_LEN];
	size_t cap = 512;
	char *out = xmalloc(cap);

	sodium_bin2base64(key, sizeof(key), c->key, sizeof(c->key), B64);
	sodium_bin2base64(sig, sizeof(sig), c->sig, sizeof(c->sig), B64);
	sodium_bin2hex(id, sizeof(id), c->issuer, sizeof(c->issuer));
	keyfile_time_format(c->not_before, nb);
	keyfile_time_format(c->not_after, na);
	*len = (size_t)snprintf(out, cap,
	                        "%s\nname %s\nkey %s\nserial %" PRIu64
	                        "\nnot-before %s\nnot-after %s\nissuer %s\nsignature %s\n",
	                        CERT_MAGIC, c->name, key, c->serial, nb, na, id, sig);
	return out;
}

/* ---- revocation lists ---- */

static size_t crl_body_len(const struct crl *l)
{
	return CRL_BIN_FIXED - crypto_sign_BYTES + 8 * l->n;
}

uint8_t *crl_encode(const struct crl *l, size_t *len)
{
	size_t blen = crl_body_len(l);
	uint8_t *out = xmalloc(blen + crypto_sign_BYTES), *p = out;

	*p++ = CERT_VERSION;
	memcpy(p, l->issuer, CERT_KEYID_BYTES);
	p = put64(p + CERT_KEYID_BYTES, l->sequence);
	p = put64(p, (uint64_t)l->issued);
	for (int i = 3; i >= 0; i--)
		*p++ = (uint8_t)(l->n >> (8 * i));
	for (size_t i = 0; i < l->n; i++)
		p = put64(p, l->serials[i]);
	memcpy(p, l->sig, crypto_sign_BYTES);
	*len = blen + crypto_sign_BYTES;
	return out;
}

int crl_add(struct crl *l, uint64_t serial)
{
	size_t i = 0;

	if (serial == 0)
		return -1;
	while (i < l->n && l->serials[i] < serial)
		i++;
	if (i < l->n && l->serials[i] == serial)
		return 0;
	if (l->n >= CRL_MAX)
		return -1;
	l->serials = xreallocarray(l->serials, l->n + 1, sizeof(*l->serials));
	memmove(l->serials + i + 1, l->serials + i, (l->n - i) * sizeof(*l->serials));
	l->serials[i] = serial;
	l->n++;
	return 0;
}

static enum cert_status crl_fields(const struct crl *l, char *why, size_t size)
{
	if (l->sequence == 0) {
		snprintf(why, size, "the sequence is 0 (sequences are 1..2^64-1)");
		return CERT_BAD_FORMAT;
	}
	if (l->issued < 0 || l->issued > KEYFILE_TIME_MAX) {
		snprintf(why, size, "the issue time is outside 1970..9999");
		return CERT_BAD_VALIDITY;
	}
	if (l->n > CRL_MAX) {
		snprintf(why, size, "%zu serials, more than %d", l->n, CRL_MAX);
		return CERT_BAD_SERIALS;
	}
	for (size_t i = 0; i < l->n; i++)
		if (l->serials[i] == 0 || (i > 0 && l->serials[i] <= l->serials[i - 1])) {
			snprintf(why, size, "serial %" PRIu64 " (number %zu) is 0 or not above the one "
			                    "before: serials are listed once, in ascending order",
			         l->serials[i], i + 1);
			return CERT_BAD_SERIALS;
		}
	return CERT_OK;
}

int crl_sign(struct crl *l, const struct keyfile_pair *admin, char *err, size_t errlen)
{
	char why[160];
	uint8_t *bin;
	size_t len;

	if (can_sign(admin, crl_fields(l, why, sizeof(why)), why, "cannot sign the revocation list",
	             err, errlen))
		return -1;
	cert_keyid(admin->pk, l->issuer);
	bin = crl_encode(l, &len);
	sign_body(l->sig, CRL_SIGCTX, bin, len - crypto_sign_BYTES, admin);
	free(bin);
	return 0;
}

enum cert_status crl_verify(const struct crl *l, const uint8_t admin_pub[32])
{
	uint8_t id[CERT_KEYID_BYTES], *bin;
	size_t len;
	int bad;

	cert_keyid(admin_pub, id);
	if (sodium_memcmp(id, l->issuer, sizeof(id)) != 0)
		return CERT_WRONG_ADMIN;
	bin = crl_encode(l, &len);
	bad = verify_body(l->sig, CRL_SIGCTX, bin, len - crypto_sign_BYTES, admin_pub);
	free(bin);
	return bad ? CERT_BAD_SIGNATURE : CERT_OK;
}

enum cert_status crl_decode(struct crl *l, const char *name, const uint8_t *buf, size_t len,
                            char *err, size_t errlen)
{
	enum cert_status st;
	uint64_t n = 0;
	char why[200];

	memset(l, 0, sizeof(*l));
	if (len >= 1 && buf[0] != CERT_VERSION) {
		seterr(err, errlen, "%s: not a version %d revocation list", name, CERT_VERSION);
		return CERT_BAD_MAGIC;
	}
	if (len >= CRL_BIN_FIXED)
		n = (uint64_t)buf[25] << 24 | (uint64_t)buf[26] << 16 | (uint64_t)buf[27] << 8 | buf[28];
	if (n > CRL_MAX) {
		seterr(err, errlen, "%s: %" PRIu64 " serials, more than %d", name, n, CRL_MAX);
		return CERT_BAD_SERIALS;
	}
	if (len < CRL_BIN_FIXED + 8 * n) {
		seterr(err, errlen, "%s: truncated: %zu bytes", name, len);
		return CERT_TRUNCATED;
	}
	if (len > CRL_BIN_FIXED + 8 * n) {
		seterr(err, errlen, "%s: bytes after the signature", name);
		return CERT_BAD_FORMAT;
	}
	memcpy(l->issuer, buf + 1, CERT_KEYID_BYTES);
	l->sequence = get64(buf + 9);
	l->issued = get64(buf + 17) > (uint64_t)KEYFILE_TIME_MAX ? -1 : (int64_t)get64(buf + 17);
	l->n = (size_t)n;
	l->serials = xmalloc(n ? 8 * n : 1);
	for (size_t i = 0; i < l->n; i++)
		l->serials[i] = get64(buf + 29 + 8 * i);
	memcpy(l->sig, buf + 29 + 8 * n, crypto_sign_BYTES);
	if ((st = crl_fields(l, why, sizeof(why))) != CERT_OK) {
		seterr(err, errlen, "%s: %s", name, why);
		crl_clear(l);
	}
	return st;
}

/* "revoked N" lines, then the signature line. */
static enum cert_status crl_serials(struct textlines *r, struct crl *l)
{
	enum cert_status st;
	uint64_t v;

	while (r->end - r->p > 8 && memcmp(r->p, "revoked ", 8) == 0) {
		if ((st = u64_field(r, "revoked", &v)) != CERT_OK)
			return st;
		if (l->n >= CRL_MAX || (l->n > 0 && v <= l->serials[l->n - 1])) {
			seterr(r->err, r->errlen, "%s: line %u: serial %" PRIu64 " is %s", r->name,
			       r->lineno, v,
			       l->n >= CRL_MAX ? "one too many" : "not above the one before it");
			return CERT_BAD_SERIALS;
		}
		l->serials = xreallocarray(l->serials, l->n + 1, sizeof(*l->serials));
		l->serials[l->n++] = v;
	}
	return CERT_OK;
}

static enum cert_status crl_text(struct textlines *r, struct crl *l)
{
	enum cert_status st;
	char why[200];

	if ((st = magic_line(r, CRL_MAGIC)) != CERT_OK || (st = keyid_field(r, l->issuer)) != CERT_OK ||
	    (st = u64_field(r, "sequence", &l->sequence)) != CERT_OK ||
	    (st = time_field(r, "issued", &l->issued)) != CERT_OK ||
	    (st = crl_serials(r, l)) != CERT_OK ||
	    (st = b64_field(r, "signature", l->sig, sizeof(l->sig))) != CERT_OK ||
	    (st = at_end(r)) != CERT_OK)
		return st;
	if ((st = crl_fields(l, why, sizeof(why))) != CERT_OK)
		seterr(r->err, r->errlen, "%s: %s", r->name, why);
	return st;
}

enum cert_status crl_parse(struct crl *l, const char *name, const char *text, size_t len,
                           char *err, size_t errlen)
{
	struct textlines r = { name, text, text + len, 0, 0, err, errlen };
	enum cert_status st;

	memset(l, 0, sizeof(*l));
	st = check_text(name, text, len, CRL_TEXT_MAX, err, errlen);
	if (st == CERT_OK)
		st = crl_text(&r, l);
	if (st != CERT_OK)
		crl_clear(l);
	return st;
}

char *crl_format(const struct crl *l, size_t *len)
{
	char sig[sodium_base64_ENCODED_LEN(64, B64)], when[KEYFILE_TIME_LEN];
	char id[CERT_KEYID_HEX_LEN];
	size_t cap = 256 + 32 * l->n, off;
	char *out = xmalloc(cap);

	sodium_bin2hex(id, sizeof(id), l->issuer, sizeof(l->issuer));
	sodium_bin2base64(sig, sizeof(sig), l->sig, sizeof(l->sig), B64);
	keyfile_time_format(l->issued, when);
	off = (size_t)snprintf(out, cap, "%s\nissuer %s\nsequence %" PRIu64 "\nissued %s\n",
	                       CRL_MAGIC, id, l->sequence, when);
	for (size_t i = 0; i < l->n; i++)
		off += (size_t)snprintf(out + off, cap - off, "revoked %" PRIu64 "\n", l->serials[i]);
	off += (size_t)snprintf(out + off, cap - off, "signature %s\n", sig);
	*len = off;
	return out;
}

int crl_is_revoked(const struct crl *l, uint64_t serial)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->serials[mid] == serial)
			return 1;
		if (l->serials[mid] < serial)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

int crl_newer(const struct crl *candidate, const struct crl *current)
{
	return candidate->sequence > current->sequence;
}

void crl_clear(struct crl *l)
{
	free(l->serials);
	memset(l, 0, sizeof(*l));
}
