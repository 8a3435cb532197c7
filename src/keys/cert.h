/*
 * cert: member identities as files (doc/PROTOCOL.md, "Member identities
 * (extension, files only)"): a member certificate binds a member name to
 * its Ed25519 public key for a time, signed by the administrator's
 * Ed25519 key; a revocation list is the administrator's signed list of
 * the certificate serials it has withdrawn.  Nothing here is on the wire
 * yet: these are the files cmem-keygen writes and the checks cmemd will
 * make once it loads them.
 *
 * Certificate, binary form (integers big-endian), 130 + L bytes (at most
 * 194; 260 characters of base64):
 *
 *	version  1 byte   1
 *	namelen  1 byte   L, 1..64
 *	name     L bytes  a member name (name.h)
 *	key      32       the member's Ed25519 public key
 *	serial   8        1..2^64-1
 *	notbefore 8       seconds since 1970, UTC, <= notafter
 *	notafter 8        at most 9999-12-31T23:59:59Z
 *	issuer   8        the administrator's key id: SHA-256(admin pk)[0..8)
 *	signature 64      Ed25519 over "cmem-cert-v1 signature" NUL || the
 *	                  bytes before the signature
 *
 * Certificate, text form (LF or CRLF line ends, nothing but white space
 * after the last line):
 *
 *	cmem-cert-v1
 *	name NAME
 *	key BASE64(32 bytes)
 *	serial N
 *	not-before YYYY-MM-DDTHH:MM:SSZ
 *	not-after YYYY-MM-DDTHH:MM:SSZ
 *	issuer HEX(8 bytes, lower case)
 *	signature BASE64(64 bytes)
 *
 * Revocation list, binary form:
 *
 *	version 1 byte 1 | issuer 8 | sequence 8 (1..2^64-1) | issued 8 |
 *	count 4 (0..CRL_MAX) | count serials of 8, strictly ascending |
 *	signature 64 over "cmem-crl-v1 signature" NUL || the bytes before it
 *
 * and text form: "cmem-crl-v1", "issuer HEX", "sequence N", "issued TIME",
 * one "revoked N" line per serial in ascending order, "signature BASE64".
 *
 * Parsers and checks return a cert_status; parsers also write a message
 * naming the input and the problem into err.
 */
#ifndef CMEM_CERT_H
#define CMEM_CERT_H

#include <stddef.h>
#include <stdint.h>
#include <sodium.h>

#include "keyfile.h"
#include "name.h"

#define CERT_MAGIC "cmem-cert-v1"
#define CRL_MAGIC "cmem-crl-v1"
#define CERT_VERSION 1
#define CERT_KEYID_BYTES 8
#define CERT_KEYID_HEX_LEN (2 * CERT_KEYID_BYTES + 1)
#define CERT_BIN_FIXED (2 + 32 + 8 + 8 + 8 + CERT_KEYID_BYTES + crypto_sign_BYTES)
#define CERT_BIN_MAX (CERT_BIN_FIXED + NAME_LEN_MAX) /* 194 */
#define CERT_TEXT_MAX 1024
#define CRL_MAX 1024 /* serials in one list */
#define CRL_BIN_FIXED (1 + CERT_KEYID_BYTES + 8 + 8 + 4 + crypto_sign_BYTES)
#define CRL_TEXT_MAX (256 + CRL_MAX * 32)

/* The status of a parse or a check; cert_status_name gives the vectors' word. */
enum cert_status {
	CERT_OK = 0,
	CERT_TRUNCATED,     /* the input ends before the form does */
	CERT_BAD_MAGIC,     /* not a cmem-cert-v1 / cmem-crl-v1 (or version 1) */
	CERT_BAD_FORMAT,    /* a field is missing, malformed or out of order; trailing data */
	CERT_BAD_NAME,      /* the name breaks the member name rule */
	CERT_BAD_VALIDITY,  /* not-before after not-after, or a time out of range */
	CERT_BAD_SERIALS,   /* a list's serials are not strictly ascending, 0, or too many */
	CERT_WRONG_ADMIN,   /* issued by another administrator key */
	CERT_BAD_SIGNATURE, /* the signature does not verify */
	CERT_NAME_MISMATCH, /* valid, but for another member name */
	CERT_NOT_YET_VALID, /* now < not-before */
	CERT_EXPIRED,       /* now > not-after */
	CERT_REVOKED,       /* its serial is on the (verified) revocation list */
};

struct cert {
	char name[NAME_LEN_MAX + 1];
	uint8_t key[crypto_sign_PUBLICKEYBYTES];
	uint64_t serial;
	int64_t not_before, not_after; /* inclusive, seconds since 1970 UTC */
	uint8_t issuer[CERT_KEYID_BYTES];
	uint8_t sig[crypto_sign_BYTES];
};

struct crl {
	uint8_t issuer[CERT_KEYID_BYTES];
	uint64_t sequence; /* a host refuses a list with a lower sequence than its own */
	int64_t issued;
	uint64_t *serials; /* malloc'd, strictly ascending */
	size_t n;
	uint8_t sig[crypto_sign_BYTES];
};

/* "ok", "truncated", "bad_magic", ... (the words of tests/vectors/ident.tsv) */
const char *cert_status_name(enum cert_status st);
/* The administrator key id: SHA-256(pk), first 8 bytes; and as 16 hex digits. */
void cert_keyid(const uint8_t pk[crypto_sign_PUBLICKEYBYTES], uint8_t id[CERT_KEYID_BYTES]);
void cert_keyid_hex(const uint8_t pk[crypto_sign_PUBLICKEYBYTES], char out[CERT_KEYID_HEX_LEN]);

/*
 * Sign c (name, key, serial and validity filled in) with the admin key:
 * sets issuer and signature.  -1 with a message if a field is out of range.
 */
int cert_sign(struct cert *c, const struct keyfile_pair *admin, char *err, size_t errlen);
/* The binary form into out: its length (CERT_BIN_FIXED + name length). */
size_t cert_encode(const struct cert *c, uint8_t out[CERT_BIN_MAX]);
/* The text form: malloc'd, *len without the NUL. */
char *cert_format(const struct cert *c, size_t *len);
/* Strict decoders of both forms; NAME in messages.  No signature check. */
enum cert_status cert_decode(struct cert *c, const char *name, const uint8_t *buf, size_t len,
                             char *err, size_t errlen);
enum cert_status cert_parse(struct cert *c, const char *name, const char *text, size_t len,
                            char *err, size_t errlen);
/*
 * The checks, in this order: issued by admin_pub (key id, then signature),
 * for name (unless name is NULL), valid at now.
 */
enum cert_status cert_verify(const struct cert *c, const uint8_t admin_pub[32], const char *name,
                             int64_t now);
/* cert_verify, then: crl (unless NULL) verifies against admin_pub and does not list c. */
enum cert_status cert_check(const struct cert *c, const struct crl *crl,
                            const uint8_t admin_pub[32], const char *name, int64_t now);

/* Add a serial (kept sorted, once); -1 if 0 or the list is full. */
int crl_add(struct crl *l, uint64_t serial);
int crl_sign(struct crl *l, const struct keyfile_pair *admin, char *err, size_t errlen);
uint8_t *crl_encode(const struct crl *l, size_t *len); /* malloc'd */
char *crl_format(const struct crl *l, size_t *len);    /* malloc'd */
enum cert_status crl_decode(struct crl *l, const char *name, const uint8_t *buf, size_t len,
                            char *err, size_t errlen);
enum cert_status crl_parse(struct crl *l, const char *name, const char *text, size_t len,
                           char *err, size_t errlen);
enum cert_status crl_verify(const struct crl *l, const uint8_t admin_pub[32]);
/* 1 if serial is on the list (binary search), else 0. */
int crl_is_revoked(const struct crl *l, uint64_t serial);
/* 1 if candidate is newer than current (higher sequence), else 0. */
int crl_newer(const struct crl *candidate, const struct crl *current);
void crl_clear(struct crl *l);

#endif
