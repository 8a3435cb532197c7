/*
 * keyfile: the files cmem-keygen writes and reads besides the keyring
 * (all read and written through privfile: atomic, private where secret).
 *
 * - host keypairs (crypto_box, X25519): DIR/host.key and DIR/host.pub;
 * - administrator keypairs (crypto_sign, Ed25519): DIR/admin.key and
 *   DIR/admin.pub;
 * - member identity keypairs (crypto_sign, Ed25519): DIR/member.key and
 *   DIR/member.pub (certified by an administrator: cert.h);
 * - bundles: a keyring sealed to one host (crypto_box_seal) and signed by
 *   an administrator, as text (format below).
 *
 * Functions return 0 / -1 (or NULL) and write one message naming the file
 * and the problem into err.  Secrets live in sodium_malloc memory.
 *
 * Public key line, one line that can be pasted anywhere:
 *
 *	cmem-host-pub-v1 BASE64(32-byte X25519 public key)
 *	cmem-admin-pub-v1 BASE64(32-byte Ed25519 public key)
 *	cmem-member-pub-v1 BASE64(32-byte Ed25519 public key)
 *
 * Secret key file (mode 0600): one line "cmem-host-key-v1 BASE64(sk)",
 * "cmem-admin-key-v1 BASE64(sk)" or "cmem-member-key-v1 BASE64(sk)" (the
 * 64-byte libsodium Ed25519 secret key); the public key is derived from it.
 *
 * Bundle (BASE64 is standard base64 with padding, LF or CRLF line ends):
 *
 *	cmem-bundle-v2
 *	signer BASE64(admin Ed25519 public key)
 *	recipient BASE64(host X25519 public key)
 *	serial N                       decimal, 1..2^64-1, no leading zero
 *	created YYYY-MM-DDTHH:MM:SSZ   the sealing time, UTC
 *	signature BASE64(Ed25519 signature, 64 bytes)
 *	sealed
 *	BASE64(crypto_box_seal(keyring text, recipient)), 64 columns per line
 *	end
 *
 * The signature covers "cmem-bundle-v2 signature" NUL || recipient ||
 * serial (8 bytes, big-endian) || created (8 bytes, big-endian, seconds
 * since 1970) || sealed: a signature made for anything else, for another
 * host or with another serial or time never verifies here.  The serial
 * orders bundles: a host refuses one older than the newest it unsealed
 * (provision.h).
 *
 * cmem-bundle-v3 is v2 with a member identity: the same lines, the
 * signature context "cmem-bundle-v3 signature", and sealed content that
 * is the keyring text followed by the identity part, every line from the
 * first that begins with "cmem-cert-" or "cmem-crl-" (a member
 * certificate and/or a revocation list, cert.h; at most KEYFILE_IDENT_MAX
 * bytes).  It is written only for a bundle that carries an identity, so
 * that a bundle without one still opens with an older cmem-keygen, which
 * refuses a v3 bundle as an unsupported format (it never reads the
 * identity as keyring lines).
 *
 * cmem-bundle-v1 (the first format) has no serial and no created line and
 * signs "cmem-bundle-v1 signature" NUL || recipient || sealed.  It is
 * still read, as serial 0: older than every v2 bundle.  Only v2 is
 * written.
 */
#ifndef CMEM_KEYFILE_H
#define CMEM_KEYFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sodium.h>

#include "name.h"
#include "privfile.h"

struct keyring;

#define KEYFILE_ERRLEN 512
#define KEYFILE_PK_BYTES 32                          /* both kinds */
#define KEYFILE_SK_MAX crypto_sign_SECRETKEYBYTES    /* 64: the larger kind */
#define KEYFILE_PK_B64_LEN 44                        /* base64 of 32 bytes */
#define KEYFILE_PUB_LINE_MAX 96                      /* tag, space, base64, NUL */
#define KEYFILE_BUNDLE_PREFIX "cmem-bundle-"
#define KEYFILE_BUNDLE_MAGIC "cmem-bundle-v2"    /* what is written */
#define KEYFILE_BUNDLE_MAGIC_V1 "cmem-bundle-v1" /* still read */
#define KEYFILE_BUNDLE_MAGIC_V3 "cmem-bundle-v3" /* with a member identity */
#define KEYFILE_IDENT_MAX (48 * 1024)            /* the identity part of v3 content */
#define KEYFILE_TIME_LEN 21                      /* "YYYY-MM-DDTHH:MM:SSZ" + NUL */
#define KEYFILE_TIME_MAX INT64_C(253402300799)   /* 9999-12-31T23:59:59Z */
#define KEYFILE_BUNDLE_MAX (256 * 1024)
#define KEYFILE_NAME_MAX NAME_LEN_MAX                /* host names in a hosts file */

enum keyfile_kind { KEYFILE_HOST, KEYFILE_ADMIN, KEYFILE_MEMBER };

/* A keypair in sodium_malloc memory. */
struct keyfile_pair {
	enum keyfile_kind kind;
	uint8_t pk[KEYFILE_PK_BYTES];
	uint8_t sk[KEYFILE_SK_MAX]; /* host: the first 32 bytes */
};

const char *keyfile_kind_name(enum keyfile_kind kind); /* "host" | "admin" | "member" */

/* A fresh random keypair; NULL if out of secure memory. */
struct keyfile_pair *keyfile_pair_generate(enum keyfile_kind kind);
void keyfile_pair_free(struct keyfile_pair *p);
/* DIR/KIND.key (0600) and DIR/KIND.pub (0644); refuses if either exists. */
int keyfile_pair_save(const struct keyfile_pair *p, const char *dir, char *err, size_t errlen);
/*
 * A new keypair saved in DIR (made, mode 0700, if missing): the public key
 * in pk.
 */
int keyfile_pair_create(enum keyfile_kind kind, const char *dir,
                        uint8_t pk[KEYFILE_PK_BYTES], char *err, size_t errlen);
/* DIR/KIND.key, checked like a keyring. */
struct keyfile_pair *keyfile_pair_load(enum keyfile_kind kind, const char *dir, char *err,
                                       size_t errlen);

/* "cmem-KIND-pub-v1 BASE64", no newline.  */
void keyfile_pub_format(enum keyfile_kind kind, const uint8_t pk[KEYFILE_PK_BYTES],
                        char out[KEYFILE_PUB_LINE_MAX]);
/* Parse one such line (surrounding white space allowed); NAME for messages. */
int keyfile_pub_parse(enum keyfile_kind kind, const char *name, const char *text, size_t len,
                      uint8_t pk[KEYFILE_PK_BYTES], char *err, size_t errlen);
int keyfile_pub_load(enum keyfile_kind kind, const char *path, uint8_t pk[KEYFILE_PK_BYTES],
                     char *err, size_t errlen);

struct keyfile_bundle {
	int version;      /* 1, 2 or 3 (the format line) */
	uint64_t serial;  /* v2: 1 or more; v1: 0 */
	int64_t created;  /* v2: sealing time, seconds since 1970 UTC; v1: 0 */
	uint8_t signer[crypto_sign_PUBLICKEYBYTES];
	uint8_t recipient[crypto_box_PUBLICKEYBYTES];
	uint8_t sig[crypto_sign_BYTES];
	uint8_t *sealed; /* malloc'd: ciphertext only */
	size_t sealed_len;
};

/*
 * Seal text to recipient and sign it, with serial (>= 1) and created
 * (seconds since 1970, up to KEYFILE_TIME_MAX), with admin: b is filled
 * in as a v2 bundle.
 */
int keyfile_bundle_seal(struct keyfile_bundle *b, const char *text, size_t len,
                        const uint8_t recipient[KEYFILE_PK_BYTES],
                        const struct keyfile_pair *admin, uint64_t serial, int64_t created,
                        char *err, size_t errlen);
/* The same with an identity part (ilen > 0): a v3 bundle. */
int keyfile_bundle_seal_ident(struct keyfile_bundle *b, const char *text, size_t len,
                              const char *ident, size_t ilen,
                              const uint8_t recipient[KEYFILE_PK_BYTES],
                              const struct keyfile_pair *admin, uint64_t serial,
                              int64_t created, char *err, size_t errlen);
/* The text form above (of b's version): malloc'd, *len without the NUL. */
char *keyfile_bundle_format(const struct keyfile_bundle *b, size_t *len);
/* Strict parse of the text form; on failure b holds nothing to free. */
int keyfile_bundle_parse(struct keyfile_bundle *b, const char *name, const char *text,
                         size_t len, char *err, size_t errlen);
/*
 * Check that trusted signed b, that b is for host, open it and parse the
 * content as a keyring (NAME in messages).  NULL with a message if not.
 */
struct keyring *keyfile_bundle_open(const struct keyfile_bundle *b, const char *name,
                                    const uint8_t trusted[KEYFILE_PK_BYTES],
                                    const struct keyfile_pair *host, char *err, size_t errlen);
/* The same, and a v3 bundle's identity part into *ident (malloc'd, NUL-terminated; NULL if none). */
struct keyring *keyfile_bundle_open_ident(const struct keyfile_bundle *b, const char *name,
                                          const uint8_t trusted[KEYFILE_PK_BYTES],
                                          const struct keyfile_pair *host, char **ident,
                                          size_t *ilen, char *err, size_t errlen);
void keyfile_bundle_clear(struct keyfile_bundle *b);

/*
 * Times as bundles write them, "YYYY-MM-DDTHH:MM:SSZ" (UTC).  Format: -1
 * (and "(bad time)") outside 0..KEYFILE_TIME_MAX.  Parse: exactly that
 * form, a real date; 0 or -1.
 */
int keyfile_time_format(int64_t t, char out[KEYFILE_TIME_LEN]);
int keyfile_time_parse(const char *s, size_t len, int64_t *t);

/* One line of a hosts file: "NAME cmem-host-pub-v1 BASE64". */
struct keyfile_host_entry {
	char name[KEYFILE_NAME_MAX + 1];
	uint8_t pk[KEYFILE_PK_BYTES];
};

/*
 * Parse a hosts file ('#' comments and blank lines allowed; names are
 * [A-Za-z0-9._-], start with a letter or digit, unique): *out is a malloc'd
 * array of *n >= 1 entries.
 */
int keyfile_hosts_parse(const char *name, const char *text, size_t len,
                        struct keyfile_host_entry **out, size_t *n, char *err, size_t errlen);

#endif
