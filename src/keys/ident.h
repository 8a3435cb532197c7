/*
 * ident: what cmem-keygen does with member identities (cert.h), as
 * library calls the unit tests drive:
 *
 * - certify: the administrator signs a member certificate for a name and
 *   a member public key (DIR/member.pub of `member-init`).  Serials come
 *   from ADMIN_DIR/cert.serial: one more than the last one issued there
 *   (1 for the first), or the one given if that is larger, recorded before
 *   the certificate is written so that no two certificates share one.
 * - revoke: add serials to the administrator's revocation list,
 *   ADMIN_DIR/revoked.crl (made if missing), with the next sequence number
 *   and the current time; the list is re-signed.
 * - the identity part of a v3 bundle (keyfile.h): a certificate and/or a
 *   revocation list, checked when sealed and when unsealed.
 *
 * Functions return 0 / -1 with one message naming the file and the problem
 * in err.
 */
#ifndef CMEM_IDENT_H
#define CMEM_IDENT_H

#include <stddef.h>
#include <stdint.h>

#include "cert.h"
#include "keyfile.h"

#define IDENT_SERIAL_FILE "cert.serial" /* in the administrator directory */
#define IDENT_CRL_FILE "revoked.crl"    /* in the administrator directory; beside a keyring */
#define IDENT_CERT_FILE "member.cert"   /* beside the keyring a bundle was unsealed to */

struct ident_args {
	const char *name;      /* certify: the member name */
	const char *pub;       /* certify: the member's public key file */
	const char *sign_with; /* certify, revoke: the administrator directory */
	const char *output;    /* certify: the certificate file to write */
	uint64_t serial;       /* certify: 0 for the next one of ADMIN_DIR/cert.serial */
	uint64_t days;         /* certify: valid from now for this many days (1..36500) */
	const uint64_t *serials; /* revoke: the serials to add */
	size_t nserials;
	int force;   /* certify: replace an existing output file */
	int64_t now; /* the wall clock, seconds since 1970 */
};

/* The identity a bundle carries. */
struct ident_parts {
	int has_cert, has_crl;
	struct cert cert;
	struct crl crl; /* crl_clear it (ident_parts_clear) */
};

int ident_certify(const struct ident_args *a, struct cert *c, char *err, size_t errlen);
/* *l gets the new list (free with crl_clear); *path where it was written. */
int ident_revoke(const struct ident_args *a, struct crl *l, char *path, size_t pathsize,
                 char *err, size_t errlen);

/*
 * A certificate or a revocation list file (text form): the status of the
 * parse; a file that cannot be read gives CERT_TRUNCATED, err saying why.
 */
enum cert_status ident_cert_load(const char *path, struct cert *c, char *err, size_t errlen);
enum cert_status ident_crl_load(const char *path, struct crl *l, char *err, size_t errlen);
/* Which the file at path holds, by its first line: 1 a list, 0 not (or unreadable). */
int ident_is_crl(const char *path);

/* One message for a failed check of c (or of a list, c NULL); want: the name expected. */
void ident_describe(enum cert_status st, const char *what, const struct cert *c,
                    const char *want, int64_t now, char *out, size_t size);

/*
 * Sealing: the identity text for one host of the files cert (NULL: none)
 * and crl (NULL: none), each checked against the signing administrator's
 * key, the certificate also for name (NULL: any) and against the list;
 * malloc'd, *len; NULL with a message.
 */
char *ident_seal_text(const char *cert, const char *crl, const uint8_t admin_pub[32],
                      const char *name, int64_t now, size_t *len, char *err, size_t errlen);
/* Unsealing: the identity part of a v3 bundle (NAME for messages). */
int ident_parts_parse(const char *name, const char *text, size_t len, struct ident_parts *p,
                      char *err, size_t errlen);
void ident_parts_clear(struct ident_parts *p);

/*
 * Unsealing, before anything is written: the certificate is for this
 * host's member key (HOST_KEY_DIR/member.key), issued by the trusted
 * administrator, valid now or later, not revoked by the newest list this
 * host has (the bundle's or the one already beside the keyring); a list
 * older than the one beside the keyring is refused, --force or not; an
 * existing output is refused without force.  *pending is 1 for a
 * certificate valid only from its not-before.  Then the writes:
 * DIR/member.cert and DIR/revoked.crl, DIR being the keyring's directory,
 * mode 0600 (cmemd will read them with the keyring's checks).
 */
int ident_unseal_check(const struct ident_parts *p, const char *bundle, const char *host_key,
                       const char *keyring, const uint8_t trusted[32], int force, int64_t now,
                       int *pending, char *err, size_t errlen);
int ident_unseal_write(const struct ident_parts *p, const char *keyring, char *err,
                       size_t errlen);
/* DIR/file, DIR being the directory of path ("." if it has none). */
int ident_beside(char *out, size_t size, const char *path, const char *file);

#endif
