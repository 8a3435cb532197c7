/*
 * provision: what cmem-keygen does with bundles, as library calls that the
 * unit tests drive (cmem-keygen itself only parses arguments and prints):
 *
 * - seal: a keyring for one host, signed by an administrator;
 * - provision: one bundle of the same ring for every host of a hosts file;
 * - unseal: check and open a bundle on its host and write the keyring,
 *   refusing a bundle older than the newest one this host has unsealed.
 *
 * A member certificate and a revocation list (ident.h) travel in the same
 * bundle (cmem-bundle-v3) when seal or provision is given them; unseal
 * checks them and writes them beside the keyring.
 *
 * Bundle serials (keyfile.h, cmem-bundle-v2).  Every seal or provision
 * takes a new serial: the current time in seconds since 1970, or one more
 * than the last serial this administrator directory issued if that is
 * larger (ADMIN_DIR/bundle.serial), so serials grow even when two seals
 * fall in one second or the clock goes back, and still grow from another
 * copy of the administrator directory.  A host keeps the serial of the
 * newest bundle it unsealed in HOST_KEY_DIR/bundle.state and refuses an
 * older one, with --force or without: a bundle from before a key was
 * retired would bring that key back.  A cmem-bundle-v1 bundle counts as
 * serial 0.
 *
 * Both files are "# comment", "serial N" and "created TIME" lines, mode
 * 0600, written atomically.
 *
 * Functions return 0 / -1 with one message naming the file and the problem
 * in err; nothing is written when they refuse.
 */
#ifndef CMEM_PROVISION_H
#define CMEM_PROVISION_H

#include <stddef.h>
#include <stdint.h>

#include "cert.h"
#include "keyfile.h"
#include "keyring.h"

#define PROVISION_ERRLEN 1024
#define PROVISION_HOSTS_MAX (1024 * 1024)
#define PROVISION_STATE_FILE "bundle.state"  /* in the host key directory */
#define PROVISION_SERIAL_FILE "bundle.serial" /* in the administrator directory */
#define PROVISION_RING_FILE "cluster.keys"    /* a new ring of provision, in OUTDIR */
#define PROVISION_STATE_MAX 4096

/* What a command needs; each names the fields it reads. */
struct provision_args {
	const char *keyring;   /* seal: the ring; provision: the ring, or NULL for a new one */
	const char *to;        /* seal: the host's public key file */
	const char *sign_with; /* seal, provision: the administrator directory */
	const char *hosts;     /* provision: the hosts file */
	const char *bundle;    /* unseal: the bundle */
	const char *host_key;  /* unseal: the host key directory (holds bundle.state) */
	const char *trust;     /* unseal: the trusted administrator public key file */
	const char *output;    /* the file to write (provision: the directory) */
	const char *cert;      /* seal: a member certificate to carry (a v3 bundle), or NULL */
	const char *certs;     /* provision: a directory of NAME.cert, one per host, or NULL */
	const char *crl;       /* seal, provision: a revocation list to carry, or NULL */
	int force;             /* replace existing output files (never allows a rollback) */
	int64_t now;           /* the wall clock, seconds since 1970 */
};

/* The newest serial issued (admin) or unsealed (host). */
struct provision_state {
	uint64_t serial;
	int64_t created; /* 0: unknown (a v1 bundle) */
};

/* What a command did, for its report. */
struct provision_result {
	size_t nkeys;     /* in the ring sealed or unsealed */
	uint16_t primary; /* its primary key id */
	struct provision_state bundle; /* the bundle's serial and time */
	int version;      /* unseal: the bundle's format version */
	int had_state;    /* unseal: the host had unsealed a bundle before */
	struct provision_state prev; /* unseal: the newest before this one */
	int generated;    /* provision: a new ring was written as OUTDIR/cluster.keys */
	char fpr[KEYRING_FPR_LEN];        /* provision: its primary key's fingerprint */
	int has_cert, has_crl; /* the bundle carries a certificate, a revocation list */
	int cert_pending;      /* unseal: the certificate is valid only from its not-before */
	struct cert cert;      /* seal, unseal: the certificate */
	uint64_t crl_sequence; /* the list's sequence */
	struct keyfile_host_entry *hosts; /* provision: the hosts (malloc'd) */
	size_t nhosts;
};

/*
 * Each fills in r from scratch, so free a previous provision_hosts result
 * first.  Only provision_hosts allocates in r (the hosts): free it with
 * provision_result_free, success or not.
 */
int provision_seal(const struct provision_args *a, struct provision_result *r, char *err,
                   size_t errlen);
int provision_unseal(const struct provision_args *a, struct provision_result *r, char *err,
                     size_t errlen);
int provision_hosts(const struct provision_args *a, struct provision_result *r, char *err,
                    size_t errlen);
void provision_result_free(struct provision_result *r);

/* Parse a state file's text (NAME in messages). */
int provision_state_parse(const char *name, const char *text, size_t len,
                          struct provision_state *st, char *err, size_t errlen);
/*
 * A state file (the same checks as a key): *exists 0 and st zero if there
 * is none; and one written atomically, mode 0600, WHAT as its comment.
 */
int provision_state_load(const char *path, struct provision_state *st, int *exists, char *err,
                         size_t errlen);
int provision_state_save(const char *path, const struct provision_state *st, const char *what,
                         char *err, size_t errlen);
/* "serial N (sealed TIME)" or "serial 0 (a cmem-bundle-v1 bundle)", for messages. */
void provision_state_describe(const struct provision_state *st, char *out, size_t size);

#endif
