/*
 * ident: certify, revoke, and the identity part of bundles (rules in
 * ident.h, formats in cert.h).
 */
#include "ident.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "privfile.h"
#include "provision.h"
#include "util.h"

#define DAY INT64_C(86400)

_Static_assert(CERT_TEXT_MAX + CRL_TEXT_MAX <= KEYFILE_IDENT_MAX,
               "a bundle's identity part holds a certificate and a full list");
#define DAYS_MAX 36500 /* a hundred years */

void ident_describe(enum cert_status st, const char *what, const struct cert *c,
                    const char *want, int64_t now, char *out, size_t size)
{
	char t[KEYFILE_TIME_LEN], n[KEYFILE_TIME_LEN];

	keyfile_time_format(now, n);
	switch (st) {
	case CERT_WRONG_ADMIN:
		snprintf(out, size, "%s: issued by another administrator key (not the trusted one)",
		         what);
		break;
	case CERT_BAD_SIGNATURE:
		snprintf(out, size, "%s: bad signature: changed after it was signed, or damaged",
		         what);
		break;
	case CERT_NAME_MISMATCH:
		snprintf(out, size, "%s: certifies the name \"%s\", not \"%s\"", what,
		         c ? c->name : "?", want ? want : "?");
		break;
	case CERT_NOT_YET_VALID:
		keyfile_time_format(c ? c->not_before : 0, t);
		snprintf(out, size, "%s: not yet valid: valid from %s, the clock reads %s", what, t, n);
		break;
	case CERT_EXPIRED:
		keyfile_time_format(c ? c->not_after : 0, t);
		snprintf(out, size, "%s: expired at %s, the clock reads %s", what, t, n);
		break;
	case CERT_REVOKED:
		snprintf(out, size, "%s: revoked: serial %" PRIu64 " is on the revocation list", what,
		         c ? c->serial : 0);
		break;
	default:
		snprintf(out, size, "%s: %s", what, cert_status_name(st));
	}
}

/* ---- loading ---- */

/* The public file at path (at most max bytes) parsed into c, or else into l. */
static enum cert_status load_parse(const char *path, size_t max, struct cert *c, struct crl *l,
                                   char *err, size_t errlen)
{
	size_t len = 0;
	char *text = privfile_read_public(path, max, &len, err, errlen);
	enum cert_status st;

	if (text == NULL)
		return CERT_TRUNCATED; /* unreadable: err says why */
	st = c ? cert_parse(c, path, text, len, err, errlen) : crl_parse(l, path, text, len, err, errlen);
	free(text);
	return st;
}

enum cert_status ident_cert_load(const char *path, struct cert *c, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	return load_parse(path, CERT_TEXT_MAX, c, NULL, err, errlen);
}

enum cert_status ident_crl_load(const char *path, struct crl *l, char *err, size_t errlen)
{
	memset(l, 0, sizeof(*l));
	return load_parse(path, CRL_TEXT_MAX, NULL, l, err, errlen);
}

int ident_is_crl(const char *path)
{
	char err[256];
	size_t len = 0, mlen = strlen(CRL_MAGIC);
	char *text = privfile_read_public(path, CRL_TEXT_MAX, &len, err, sizeof(err));
	int yes = text != NULL && len > mlen && memcmp(text, CRL_MAGIC, mlen) == 0;

	free(text);
	return yes;
}

/* ---- certify ---- */

/* The serial to use: a->serial, or the next one; recorded in ADMIN_DIR/cert.serial. */
static int next_serial(const struct ident_args *a, uint64_t *serial, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct provision_state last, next = { .created = a->now };
	int exists;

	if (path_join(path, sizeof(path), a->sign_with, IDENT_SERIAL_FILE, err, errlen) == -1 ||
	    provision_state_load(path, &last, &exists, err, errlen) == -1)
		return -1;
	if (a->serial == 0 && exists && last.serial == UINT64_MAX) {
		seterr(err, errlen, "%s: serial %" PRIu64 " is the last one there is", path,
		       last.serial);
		return -1;
	}
	next.serial = a->serial ? a->serial : (exists ? last.serial + 1 : 1);
	*serial = next.serial;
	if (exists && last.serial >= next.serial)
		next.serial = last.serial; /* an explicit older serial: keep the newest */
	return provision_state_save(path, &next, "the last certificate serial issued from this "
	                                         "directory",
	                            err, errlen);
}

int ident_certify(const struct ident_args *a, struct cert *c, char *err, size_t errlen)
{
	struct keyfile_pair *admin;
	size_t len = 0;
	char *text;
	int rc = -1;

	memset(c, 0, sizeof(*c));
	if (a->days < 1 || a->days > DAYS_MAX || a->now < 0 ||
	    a->now + (int64_t)a->days * DAY > KEYFILE_TIME_MAX) {
		seterr(err, errlen, "--days %" PRIu64 ": a certificate is valid for 1..%d days, "
		                    "ending before the year 10000",
		       a->days, DAYS_MAX);
		return -1;
	}
	if (!name_valid(a->name)) {
		seterr(err, errlen, "--name \"%.64s\": a member name is %s", a->name, NAME_RULE);
		return -1;
	}
	snprintf(c->name, sizeof(c->name), "%s", a->name);
	c->not_before = a->now;
	c->not_after = a->now + (int64_t)a->days * DAY;
	c->serial = 1; /* for the checks of cert_sign; the real one below */
	if (keyfile_pub_load(KEYFILE_MEMBER, a->pub, c->key, err, errlen) == -1 ||
	    (admin = keyfile_pair_load(KEYFILE_ADMIN, a->sign_with, err, errlen)) == NULL)
		return -1;
	if (!a->force && privfile_exists(a->output))
		seterr(err, errlen, "%s: already exists; refusing to overwrite it", a->output);
	else if (next_serial(a, &c->serial, err, errlen) == 0 &&
	         cert_sign(c, admin, err, errlen) == 0) {
		text = cert_format(c, &len);
		rc = privfile_write_public(a->output, text, len, a->force, err, errlen);
		free(text);
	}
	keyfile_pair_free(admin);
	return rc;
}

/* ---- revoke ---- */

/*
 * The list at path, if there is one, into l, checked against the key pub; l
 * empty if there is none.  -1 if it cannot be read or does not verify: then
 * err says why, a verification failure followed by context.
 */
static int list_if_any(const char *path, const uint8_t pub[32], struct crl *l,
                       const char *context, char *err, size_t errlen)
{
	enum cert_status st;
	char why[512];

	memset(l, 0, sizeof(*l));
	if (!privfile_exists(path))
		return 0;
	if (ident_crl_load(path, l, err, errlen) != CERT_OK)
		return -1;
	if ((st = crl_verify(l, pub)) != CERT_OK) {
		ident_describe(st, path, NULL, NULL, 0, why, sizeof(why));
		seterr(err, errlen, "%s%s", why, context);
		crl_clear(l);
		return -1;
	}
	return 0;
}

int ident_revoke(const struct ident_args *a, struct crl *l, char *path, size_t pathsize,
                 char *err, size_t errlen)
{
	struct keyfile_pair *admin;
	size_t len = 0;
	char *text;
	int rc = -1;

	memset(l, 0, sizeof(*l));
	if (path_join(path, pathsize, a->sign_with, IDENT_CRL_FILE, err, errlen) == -1 ||
	    (admin = keyfile_pair_load(KEYFILE_ADMIN, a->sign_with, err, errlen)) == NULL)
		return -1;
	if (list_if_any(path, admin->pk, l, "; refusing to extend it", err, errlen) == -1)
		goto out;
	if (l->sequence == UINT64_MAX) {
		seterr(err, errlen, "%s: sequence %" PRIu64 " is the last one there is", path,
		       l->sequence);
		goto out;
	}
	for (size_t i = 0; i < a->nserials; i++)
		if (crl_add(l, a->serials[i]) == -1) {
			seterr(err, errlen, "%s: cannot add serial %" PRIu64 " (0, or the list holds %d)",
			       path, a->serials[i], CRL_MAX);
			goto out;
		}
	l->sequence++;
	l->issued = a->now;
	if (crl_sign(l, admin, err, errlen) == 0) {
		text = crl_format(l, &len);
		rc = privfile_write_public(path, text, len, 1, err, errlen);
		free(text);
	}
out:
	keyfile_pair_free(admin);
	if (rc == -1)
		crl_clear(l);
	return rc;
}

/* ---- the identity part of bundles ---- */

/* Load the list file for sealing, checked against the administrator's key. */
static int seal_crl(const char *path, const uint8_t admin_pub[32], struct crl *l, char *err,
                    size_t errlen)
{
	enum cert_status st;
	char why[256];

	if (ident_crl_load(path, l, err, errlen) != CERT_OK)
		return -1;
	if ((st = crl_verify(l, admin_pub)) != CERT_OK) {
		ident_describe(st, path, NULL, NULL, 0, why, sizeof(why));
		seterr(err, errlen, "%s; refusing to seal it", why);
		return -1;
	}
	return 0;
}

/* Load the certificate file for sealing: it must be valid now or later, and not revoked. */
static int seal_cert(const char *path, const struct crl *l, const uint8_t admin_pub[32],
                     const char *name, int64_t now, struct cert *c, char *err, size_t errlen)
{
	enum cert_status st;
	char why[512];

	if (ident_cert_load(path, c, err, errlen) != CERT_OK)
		return -1;
	st = cert_check(c, l, admin_pub, name, now);
	if (st == CERT_OK || st == CERT_NOT_YET_VALID)
		return 0;
	ident_describe(st, path, c, name, now, why, sizeof(why));
	seterr(err, errlen, "%s; refusing to seal it", why);
	return -1;
}

char *ident_seal_text(const char *cert, const char *crl, const uint8_t admin_pub[32],
                      const char *name, int64_t now, size_t *len, char *err, size_t errlen)
{
	struct crl l = { .n = 0 };
	struct cert c;
	char *ctext = NULL, *ltext = NULL, *out = NULL;
	size_t clen = 0, llen = 0;

	*len = 0;
	if ((crl == NULL || seal_crl(crl, admin_pub, &l, err, errlen) == 0) &&
	    (cert == NULL ||
	     seal_cert(cert, crl ? &l : NULL, admin_pub, name, now, &c, err, errlen) == 0)) {
		ctext = cert ? cert_format(&c, &clen) : NULL;
		ltext = crl ? crl_format(&l, &llen) : NULL;
		out = xmalloc(clen + llen + 1); /* the certificate first, then the list */
		memcpy(out, ctext ? ctext : "", clen);
		memcpy(out + clen, ltext ? ltext : "", llen);
		out[clen + llen] = '\0';
		*len = clen + llen;
	}
	free(ctext);
	free(ltext);
	crl_clear(&l);
	return out;
}

int ident_parts_parse(const char *name, const char *text, size_t len, struct ident_parts *p,
                      char *err, size_t errlen)
{
	size_t mlen = strlen(CRL_MAGIC), at = 0;

	memset(p, 0, sizeof(*p));
	/* the list, if any, begins at the first line "cmem-crl-v1" */
	while (at < len && !((at == 0 || text[at - 1] == '\n') && len - at > mlen &&
	                     memcmp(text + at, CRL_MAGIC, mlen) == 0))
		at++;
	if (at > 0) {
		if (cert_parse(&p->cert, name, text, at, err, errlen) != CERT_OK)
			return -1;
		p->has_cert = 1;
	}
	if (at < len) {
		if (crl_parse(&p->crl, name, text + at, len - at, err, errlen) != CERT_OK)
			return -1;
		p->has_crl = 1;
	}
	return 0;
}

void ident_parts_clear(struct ident_parts *p)
{
	crl_clear(&p->crl);
	memset(p, 0, sizeof(*p));
}

/* ---- unsealing ---- */

int ident_beside(char *out, size_t size, const char *path, const char *file)
{
	const char *slash = strrchr(path, '/');
	int dlen = slash ? (int)(slash - path) : 1;

	if (slash == path)
		dlen = 0; /* "/x": the root directory */
	return xsnprintf(out, size, "%.*s/%s", dlen, slash ? path : ".", file);
}

/* The certificate is for the member key this host made (member-init). */
static int check_member_key(const struct cert *c, const char *bundle, const char *host_key,
                            char *err, size_t errlen)
{
	char why[KEYFILE_ERRLEN];
	struct keyfile_pair *me = keyfile_pair_load(KEYFILE_MEMBER, host_key, why, sizeof(why));
	int same;

	if (me == NULL) {
		seterr(err, errlen, "%s carries a member certificate, but this host has no member "
		                    "key (%s; make one with `cmem-keygen member-init %s` and have it "
		                    "certified)",
		       bundle, why, host_key);
		return -1;
	}
	same = sodium_memcmp(me->pk, c->key, sizeof(c->key)) == 0;
	keyfile_pair_free(me);
	if (same)
		return 0;
	seterr(err, errlen, "%s: the certificate for \"%s\" certifies another member key than "
	                    "%s/member.key; refusing it",
	       bundle, c->name, host_key);
	return -1;
}

/* The list beside the keyring, if any, must be older or the same age as the bundle's. */
static int check_list(const struct ident_parts *p, const char *bundle, const char *path,
                      const uint8_t trusted[32], struct crl *have, char *err, size_t errlen)
{
	if (list_if_any(path, trusted, have, " (the list this host has)", err, errlen) == -1)
		return -1;
	if (p->has_crl && crl_newer(have, &p->crl)) {
		seterr(err, errlen,
		       "%s: refusing an older revocation list: sequence %" PRIu64 ", but %s has "
		       "sequence %" PRIu64 "; an older list can take a revocation back, so --force "
		       "does not override this",
		       bundle, p->crl.sequence, path, have->sequence);
		return -1;
	}
	return 0;
}

static int check_outputs(const struct ident_parts *p, const char *keyring, int force, char *err,
                         size_t errlen)
{
	char path[PATH_MAX];

	for (int i = 0; i < 2; i++) {
		if (!(i ? p->has_crl : p->has_cert))
			continue;
		if (ident_beside(path, sizeof(path), keyring, i ? IDENT_CRL_FILE : IDENT_CERT_FILE) < 0) {
			seterr(err, errlen, "%s: path too long", keyring);
			return -1;
		}
		if (!force && privfile_exists(path)) {
			seterr(err, errlen, "%s: already exists; refusing to overwrite it", path);
			return -1;
		}
	}
	return 0;
}

int ident_unseal_check(const struct ident_parts *p, const char *bundle, const char *host_key,
                       const char *keyring, const uint8_t trusted[32], int force, int64_t now,
                       int *pending, char *err, size_t errlen)
{
	char path[PATH_MAX], why[512];
	struct crl have;
	enum cert_status st;
	int rc = -1;

	*pending = 0;
	if (ident_beside(path, sizeof(path), keyring, IDENT_CRL_FILE) < 0) {
		seterr(err, errlen, "%s: path too long", keyring);
		return -1;
	}
	if (p->has_crl && (st = crl_verify(&p->crl, trusted)) != CERT_OK) {
		ident_describe(st, bundle, NULL, NULL, 0, why, sizeof(why));
		seterr(err, errlen, "%s (its revocation list)", why);
		return -1;
	}
	if (check_list(p, bundle, path, trusted, &have, err, errlen) == -1)
		goto out;
	if (p->has_cert) {
		const struct crl *l = p->has_crl ? &p->crl : (have.sequence ? &have : NULL);

		st = cert_check(&p->cert, l, trusted, NULL, now);
		if (st != CERT_OK && st != CERT_NOT_YET_VALID) {
			ident_describe(st, bundle, &p->cert, NULL, now, why, sizeof(why));
			seterr(err, errlen, "%s (its member certificate); refusing it", why);
			goto out;
		}
		*pending = st == CERT_NOT_YET_VALID;
		if (check_member_key(&p->cert, bundle, host_key, err, errlen) == -1)
			goto out;
	}
	rc = check_outputs(p, keyring, force, err, errlen);
out:
	crl_clear(&have);
	return rc;
}

int ident_unseal_write(const struct ident_parts *p, const char *keyring, char *err,
                       size_t errlen)
{
	char path[PATH_MAX], *text;
	size_t len = 0;
	int rc = 0;

	for (int i = 0; i < 2 && rc == 0; i++) {
		if (!(i ? p->has_crl : p->has_cert))
			continue;
		ident_beside(path, sizeof(path), keyring, i ? IDENT_CRL_FILE : IDENT_CERT_FILE);
		text = i ? crl_format(&p->crl, &len) : cert_format(&p->cert, &len);
		rc = privfile_write(path, text, len, 1, err, errlen);
		free(text);
	}
	return rc;
}
