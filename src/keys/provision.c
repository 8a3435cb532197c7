/*
 * provision: seal a keyring for a host, provision a whole cluster, unseal
 * on a host with the rollback check (rules in provision.h).
 */
#include "provision.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ident.h"
#include "privfile.h"
#include "util.h"

#define STATE_SERIAL 1u
#define STATE_CREATED 2u

/* ---- state files ---- */

/* One "serial N" or "created TIME" line; seen collects the STATE_* bits. */
static int state_line(const char *name, unsigned lineno, const char *line, size_t len,
                      struct provision_state *st, unsigned *seen, char *err, size_t errlen)
{
	unsigned bit = 0;
	int bad = 0;

	if (len > 7 && memcmp(line, "serial ", 7) == 0) {
		bit = STATE_SERIAL;
		bad = parse_u64(line + 7, len - 7, &st->serial) == -1;
	} else if (len > 8 && memcmp(line, "created ", 8) == 0) {
		bit = STATE_CREATED;
		bad = keyfile_time_parse(line + 8, len - 8, &st->created) == -1;
	}
	if (bit == 0)
		seterr(err, errlen,
		       "%s: line %u: expected \"serial N\" or \"created YYYY-MM-DDTHH:MM:SSZ\"", name,
		       lineno);
	else if (*seen & bit)
		seterr(err, errlen, "%s: line %u: a second \"%s\" line", name, lineno,
		       bit == STATE_SERIAL ? "serial" : "created");
	else if (bad)
		seterr(err, errlen, "%s: line %u: the %s is not %s", name, lineno,
		       bit == STATE_SERIAL ? "serial" : "created time",
		       bit == STATE_SERIAL ? "a number" : "a UTC time YYYY-MM-DDTHH:MM:SSZ");
	else {
		*seen |= bit;
		return 0;
	}
	return -1;
}

int provision_state_parse(const char *name, const char *text, size_t len,
                          struct provision_state *st, char *err, size_t errlen)
{
	size_t pos = 0;
	unsigned lineno = 0, seen = 0;

	memset(st, 0, sizeof(*st));
	while (pos < len) {
		const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
		size_t llen = nl ? (size_t)(nl - line) : len - pos;

		pos += llen + (nl != NULL);
		lineno++;
		if (llen == 0 || line[0] == '#')
			continue;
		if (state_line(name, lineno, line, llen, st, &seen, err, errlen) == -1)
			return -1;
	}
	if (!(seen & STATE_SERIAL)) {
		seterr(err, errlen, "%s: no \"serial N\" line", name);
		return -1;
	}
	return 0;
}

void provision_state_describe(const struct provision_state *st, char *out, size_t size)
{
	char when[KEYFILE_TIME_LEN];

	if (st->serial == 0 && st->created == 0) {
		snprintf(out, size, "serial 0 (a cmem-bundle-v1 bundle, which has no serial)");
		return;
	}
	keyfile_time_format(st->created, when);
	snprintf(out, size, "serial %" PRIu64 " (sealed %s)", st->serial, when);
}

/* Load the state at path; *exists 0 (and st zero) if there is none. */
static int state_load(const char *path, struct provision_state *st, int *exists, char *err,
                      size_t errlen)
{
	char buf[PROVISION_STATE_MAX];
	size_t len = 0;

	memset(st, 0, sizeof(*st));
	*exists = privfile_exists(path);
	if (!*exists)
		return 0;
	/* the same checks as a key: a state anyone could write would undo the protection */
	if (privfile_read(path, buf, sizeof(buf), &len, err, errlen) == -1)
		return -1;
	return provision_state_parse(path, buf, len, st, err, errlen);
}

static int state_save(const char *path, const struct provision_state *st, const char *what,
                      char *err, size_t errlen)
{
	char text[256], when[KEYFILE_TIME_LEN];
	int n;

	keyfile_time_format(st->created, when);
	n = snprintf(text, sizeof(text), "# cmem-keygen: %s\nserial %" PRIu64 "\n%s%s%s", what,
	             st->serial, st->created ? "created " : "", st->created ? when : "",
	             st->created ? "\n" : "");
	return privfile_write(path, text, (size_t)n, 1, err, errlen);
}

int provision_state_load(const char *path, struct provision_state *st, int *exists, char *err,
                         size_t errlen)
{
	return state_load(path, st, exists, err, errlen);
}

int provision_state_save(const char *path, const struct provision_state *st, const char *what,
                         char *err, size_t errlen)
{
	return state_save(path, st, what, err, errlen);
}

/*
 * The next serial of the administrator directory: max(last + 1, now),
 * recorded before any bundle is written so that no two seals share one.
 */
static int reserve_serial(const char *admin_dir, int64_t now, struct provision_state *out,
                          char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct provision_state last;
	int exists;

	if (now < 1 || now > KEYFILE_TIME_MAX) {
		seterr(err, errlen, "the clock reads %" PRId64 " s since 1970: cannot date a bundle",
		       now);
		return -1;
	}
	if (path_join(path, sizeof(path), admin_dir, PROVISION_SERIAL_FILE, err, errlen) == -1 ||
	    state_load(path, &last, &exists, err, errlen) == -1)
		return -1;
	if (exists && last.serial == UINT64_MAX) {
		seterr(err, errlen, "%s: serial %" PRIu64 " is the last one there is", path,
		       last.serial);
		return -1;
	}
	out->serial = (uint64_t)now;
	if (exists && last.serial >= out->serial)
		out->serial = last.serial + 1;
	out->created = now;
	return state_save(path, out, "the last bundle serial issued from this directory", err,
	                  errlen);
}

/* ---- sealing ---- */

static void ring_info(const struct keyring *kr, struct provision_result *r)
{
	r->nkeys = kr->nkeys;
	r->primary = keyring_primary(kr)->id;
}

/* Refuse an existing output before anything is done (privfile_write would too). */
static int check_output(const char *path, int force, char *err, size_t errlen)
{
	if (force || !privfile_exists(path))
		return 0;
	seterr(err, errlen, "%s: already exists; refusing to overwrite it", path);
	return -1;
}

/* Seal ring text (and an identity part) for one host and write the bundle to path. */
static int seal_one(const char *text, size_t len, const char *ident, size_t ilen,
                    const uint8_t pk[KEYFILE_PK_BYTES],
                    const struct keyfile_pair *admin, const struct provision_state *serial,
                    const char *path, int replace, char *err, size_t errlen)
{
	struct keyfile_bundle b;
	char *out;
	size_t outlen = 0;
	int rc;

	if (keyfile_bundle_seal_ident(&b, text, len, ident, ilen, pk, admin, serial->serial,
	                              serial->created, err, errlen) == -1)
		return -1;
	out = keyfile_bundle_format(&b, &outlen);
	rc = privfile_write_public(path, out, outlen, replace, err, errlen);
	free(out);
	keyfile_bundle_clear(&b);
	return rc;
}

static char *ring_text(const struct keyring *kr, const char *name, size_t *len, char *err,
                       size_t errlen)
{
	char *text = keyring_format(kr, len);

	if (text == NULL)
		seterr(err, errlen, "%s: out of secure memory", name);
	return text;
}

/* The identity part for one host (name NULL: any), or none: 0 with *ident NULL. */
static int seal_ident(const struct provision_args *a, const char *cert, const char *name,
                      const struct keyfile_pair *admin, struct provision_result *r,
                      char **ident, size_t *ilen, char *err, size_t errlen)
{
	*ident = NULL;
	*ilen = 0;
	if (cert == NULL && a->crl == NULL)
		return 0;
	*ident = ident_seal_text(cert, a->crl, admin->pk, name, a->now, ilen, err, errlen);
	if (*ident == NULL)
		return -1;
	r->has_cert = cert != NULL;
	r->has_crl = a->crl != NULL;
	return 0;
}

int provision_seal(const struct provision_args *a, struct provision_result *r, char *err,
                   size_t errlen)
{
	uint8_t pk[KEYFILE_PK_BYTES];
	struct keyfile_pair *admin = NULL;
	struct keyring *kr;
	char *text = NULL, *ident = NULL;
	size_t len = 0, ilen = 0;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if ((kr = keyring_load(a->keyring, err, errlen)) == NULL)
		return -1;
	ring_info(kr, r);
	if (keyfile_pub_load(KEYFILE_HOST, a->to, pk, err, errlen) == 0 &&
	    (admin = keyfile_pair_load(KEYFILE_ADMIN, a->sign_with, err, errlen)) != NULL &&
	    check_output(a->output, a->force, err, errlen) == 0 &&
	    seal_ident(a, a->cert, NULL, admin, r, &ident, &ilen, err, errlen) == 0 &&
	    (text = ring_text(kr, a->keyring, &len, err, errlen)) != NULL &&
	    reserve_serial(a->sign_with, a->now, &r->bundle, err, errlen) == 0)
		rc = seal_one(text, len, ident, ilen, pk, admin, &r->bundle, a->output, a->force, err,
		              errlen);
	if (text)
		sodium_free(text);
	free(ident);
	keyfile_pair_free(admin);
	keyring_free(kr);
	return rc;
}

/* ---- unsealing ---- */

/*
 * Read, parse, verify and open a->bundle: the ring, or NULL; b is kept, and
 * the identity part (v3) in parts, checked (ident_unseal_check).
 */
static struct keyring *open_bundle(const struct provision_args *a, struct keyfile_bundle *b,
                                   struct ident_parts *parts, struct provision_result *r,
                                   char *err, size_t errlen)
{
	uint8_t trusted[KEYFILE_PK_BYTES];
	struct keyfile_pair *host = NULL;
	struct keyring *kr = NULL;
	size_t len = 0, ilen = 0;
	char *text = privfile_read_public(a->bundle, KEYFILE_BUNDLE_MAX, &len, err, errlen);
	char *ident = NULL;

	if (text != NULL && keyfile_bundle_parse(b, a->bundle, text, len, err, errlen) == 0 &&
	    keyfile_pub_load(KEYFILE_ADMIN, a->trust, trusted, err, errlen) == 0 &&
	    (host = keyfile_pair_load(KEYFILE_HOST, a->host_key, err, errlen)) != NULL)
		kr = keyfile_bundle_open_ident(b, a->bundle, trusted, host, &ident, &ilen, err, errlen);
	if (kr != NULL && ilen > 0 &&
	    (ident_parts_parse(a->bundle, ident, ilen, parts, err, errlen) == -1 ||
	     ident_unseal_check(parts, a->bundle, a->host_key, a->output, trusted, a->force, a->now,
	                        &r->cert_pending, err, errlen) == -1)) {
		keyring_free(kr);
		kr = NULL;
	}
	keyfile_pair_free(host);
	free(ident);
	free(text);
	return kr;
}

/* An older bundle than the newest unsealed here is refused, whatever --force says. */
static int check_rollback(const char *bundle, const char *state,
                          const struct provision_result *r, char *err, size_t errlen)
{
	char got[128], newest[128];

	if (!r->had_state || r->bundle.serial >= r->prev.serial)
		return 0;
	provision_state_describe(&r->bundle, got, sizeof(got));
	provision_state_describe(&r->prev, newest, sizeof(newest));
	seterr(err, errlen,
	       "%s: refusing an older bundle: it has %s, but this host has already unsealed "
	       "one with %s, as %s records; an older bundle can bring back a key retired "
	       "since, so --force does not override this: unseal one sealed later",
	       bundle, got, newest, state);
	return -1;
}

/* After the keyring is written: remember a newer serial. */
static int record_unsealed(const char *state, const char *output,
                           const struct provision_result *r, char *err, size_t errlen)
{
	char why[PROVISION_ERRLEN];

	if (r->had_state && r->bundle.serial <= r->prev.serial)
		return 0;
	if (state_save(state, &r->bundle, "the newest bundle unsealed on this host; "
	                                  "older ones are refused",
	               why, sizeof(why)) == 0)
		return 0;
	seterr(err, errlen, "%s: written, but the bundle's serial could not be recorded: %s",
	       output, why);
	return -1;
}

int provision_unseal(const struct provision_args *a, struct provision_result *r, char *err,
                     size_t errlen)
{
	char state[PATH_MAX];
	struct keyfile_bundle b = { .sealed = NULL };
	struct ident_parts parts = { .has_cert = 0 };
	struct keyring *kr;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if (path_join(state, sizeof(state), a->host_key, PROVISION_STATE_FILE, err, errlen) == -1)
		return -1;
	if ((kr = open_bundle(a, &b, &parts, r, err, errlen)) != NULL) {
		r->has_cert = parts.has_cert;
		r->has_crl = parts.has_crl;
		r->cert = parts.cert;
		r->crl_sequence = parts.crl.sequence;
		r->version = b.version;
		r->bundle.serial = b.serial; /* trusted now: the signature covers it */
		r->bundle.created = b.created;
		ring_info(kr, r);
		if (state_load(state, &r->prev, &r->had_state, err, errlen) == 0 &&
		    check_rollback(a->bundle, state, r, err, errlen) == 0 &&
		    keyring_save(kr, a->output, a->force, err, errlen) == 0 &&
		    ident_unseal_write(&parts, a->output, err, errlen) == 0)
			rc = record_unsealed(state, a->output, r, err, errlen);
		keyring_free(kr);
	}
	ident_parts_clear(&parts);
	keyfile_bundle_clear(&b);
	return rc;
}

/* ---- provision: one bundle per host ---- */

/* The hosts (into r), the administrator's key and the ring (loaded or new). */
static int cluster_load(const struct provision_args *a, struct provision_result *r,
                        struct keyfile_pair **admin, struct keyring **kr, char *err,
                        size_t errlen)
{
	size_t len = 0;
	char *text = privfile_read_public(a->hosts, PROVISION_HOSTS_MAX, &len, err, errlen);
	int rc;

	if (text == NULL)
		return -1;
	rc = keyfile_hosts_parse(a->hosts, text, len, &r->hosts, &r->nhosts, err, errlen);
	free(text);
	if (rc == -1 || (*admin = keyfile_pair_load(KEYFILE_ADMIN, a->sign_with, err, errlen)) == NULL)
		return -1;
	if (a->keyring)
		return (*kr = keyring_load(a->keyring, err, errlen)) ? 0 : -1;
	r->generated = 1;
	if ((*kr = keyring_generate()) == NULL) {
		seterr(err, errlen, "out of secure memory");
		return -1;
	}
	return 0;
}

/* OUTDIR/NAME.bundle, or OUTDIR/cluster.keys for name NULL. */
static const char *out_path(char *buf, size_t size, const char *dir, const char *name)
{
	if (xsnprintf(buf, size, "%s/%s%s", dir, name ? name : PROVISION_RING_FILE,
	              name ? ".bundle" : "") < 0)
		return NULL;
	return buf;
}

/* Make OUTDIR; without force, refuse before writing anything if any output exists. */
static int cluster_check(const struct provision_args *a, const struct provision_result *r,
                         char *err, size_t errlen)
{
	char path[PATH_MAX];

	if (mkdir(a->output, 0700) == -1 && errno != EEXIST) {
		seterr(err, errlen, "%s: cannot create the directory: %s", a->output,
		       strerror(errno));
		return -1;
	}
	for (size_t i = 0; i <= r->nhosts; i++) {
		const char *name = i < r->nhosts ? r->hosts[i].name : NULL;

		if (name == NULL && !r->generated)
			break;
		if (out_path(path, sizeof(path), a->output, name) == NULL) {
			seterr(err, errlen, "%s: directory name too long", a->output);
			return -1;
		}
		if (check_output(path, a->force, err, errlen) == -1)
			return -1;
	}
	return 0;
}

/* Remove the first n bundles (and a new cluster.keys) after a failure. */
static void cluster_undo(const struct provision_args *a, const struct provision_result *r,
                         size_t n)
{
	char path[PATH_MAX];

	if (a->force)
		return; /* they replaced older files: leave what is there */
	for (size_t i = 0; i < n; i++)
		if (out_path(path, sizeof(path), a->output, r->hosts[i].name))
			unlink(path);
	if (r->generated && out_path(path, sizeof(path), a->output, NULL))
		unlink(path);
}

static int cluster_write(const struct provision_args *a, struct provision_result *r,
                         const struct keyfile_pair *admin, const struct keyring *kr,
                         char *err, size_t errlen)
{
	char path[PATH_MAX], *text;
	size_t len = 0, i;

	out_path(path, sizeof(path), a->output, NULL);
	if (r->generated && keyring_save(kr, path, a->force, err, errlen) == -1)
		return -1;
	if ((text = ring_text(kr, path, &len, err, errlen)) == NULL) {
		cluster_undo(a, r, 0);
		return -1;
	}
	for (i = 0; i < r->nhosts; i++) {
		char cert[PATH_MAX], *ident = NULL;
		size_t ilen = 0;
		int bad;

		if (a->certs)
			xsnprintf(cert, sizeof(cert), "%s/%s.cert", a->certs, r->hosts[i].name);
		out_path(path, sizeof(path), a->output, r->hosts[i].name);
		bad = seal_ident(a, a->certs ? cert : NULL, r->hosts[i].name, admin,
		                 r, &ident, &ilen, err, errlen) == -1 ||
		      seal_one(text, len, ident, ilen, r->hosts[i].pk, admin, &r->bundle, path,
		               a->force, err, errlen) == -1;
		free(ident);
		if (bad)
			break;
	}
	sodium_free(text);
	if (i < r->nhosts) {
		cluster_undo(a, r, i);
		return -1;
	}
	return 0;
}

int provision_hosts(const struct provision_args *a, struct provision_result *r, char *err,
                    size_t errlen)
{
	struct keyfile_pair *admin = NULL;
	struct keyring *kr = NULL;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if (cluster_load(a, r, &admin, &kr, err, errlen) == 0 &&
	    cluster_check(a, r, err, errlen) == 0 &&
	    reserve_serial(a->sign_with, a->now, &r->bundle, err, errlen) == 0 &&
	    cluster_write(a, r, admin, kr, err, errlen) == 0) {
		ring_info(kr, r);
		keyring_fingerprint(keyring_primary(kr), r->fpr);
		rc = 0;
	}
	keyfile_pair_free(admin);
	keyring_free(kr);
	return rc;
}

void provision_result_free(struct provision_result *r)
{
	free(r->hosts);
	r->hosts = NULL;
	r->nhosts = 0;
}
