/*
 * cmem-keygen: make and edit cluster keyrings, host and administrator
 * keys, and the sealed, signed bundles that carry a keyring to each host
 * (formats in keyring.h and keyfile.h).  Argument parsing and printing
 * only: the work is done by keyring, keyfile and provision, which the unit
 * tests drive.  Results and the next step to stdout, diagnostics to stderr.
 * Exit: 0 ok, 1 error, 2 usage error.
 */
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cert.h"
#include "ident.h"
#include "keyfile.h"
#include "keyring.h"
#include "provision.h"
#include "util.h"
#include "version.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define INSTALLED "/etc/cmem/cluster.keys"

enum {
	O_OUTPUT = 1 << 0,
	O_FORCE = 1 << 1,
	O_PRIMARY = 1 << 2,
	O_TO = 1 << 3,
	O_SIGN_WITH = 1 << 4,
	O_HOST_KEY = 1 << 5,
	O_TRUST = 1 << 6,
	O_HOSTS = 1 << 7,
	O_KEYRING = 1 << 8,
	O_NAME = 1 << 9,
	O_PUB = 1 << 10,
	O_DAYS = 1 << 11,
	O_SERIAL = 1 << 12,
	O_CERT = 1 << 13,
	O_CERTS = 1 << 14,
	O_CRL = 1 << 15,
};

#define ANY_ARGS (-1) /* a command that takes one or more arguments */

struct opts {
	unsigned set; /* O_* given */
	const char *output, *to, *sign_with, *host_key, *trust, *hosts, *keyring;
	const char *name, *pub, *days, *serial, *cert, *certs, *crl;
	char **args;
	int nargs;
};

struct command {
	const char *name;
	int nargs;
	unsigned required, allowed;
	int (*run)(const struct opts *o);
};

static const struct option longopts[] = {
	{ "output", required_argument, NULL, 'o' },    { "force", no_argument, NULL, 'f' },
	{ "primary", no_argument, NULL, 'p' },         { "to", required_argument, NULL, 't' },
	{ "sign-with", required_argument, NULL, 's' }, { "host-key", required_argument, NULL, 'k' },
	{ "trust", required_argument, NULL, 'T' },     { "hosts", required_argument, NULL, 'H' },
	{ "keyring", required_argument, NULL, 'K' },   { "help", no_argument, NULL, 'h' },
	{ "name", required_argument, NULL, 'N' },      { "pub", required_argument, NULL, 'P' },
	{ "days", required_argument, NULL, 'D' },      { "serial", required_argument, NULL, 'S' },
	{ "cert", required_argument, NULL, 'C' },      { "certs", required_argument, NULL, 'c' },
	{ "crl", required_argument, NULL, 'R' },
	{ "version", no_argument, NULL, 'V' },         { NULL, 0, NULL, 0 },
};

/* Names of the O_* bits, in bit order, for usage errors. */
static const char *const opt_names[] = {
	"-o", "--force", "--primary", "--to", "--sign-with", "--host-key", "--trust", "--hosts",
	"--keyring", "--name", "--pub", "--days", "--serial", "--cert", "--certs", "--crl",
};

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: cmem-keygen COMMAND [ARGUMENTS] [OPTIONS]\n"
	        "cluster keyrings (mode 0600; every change is atomic):\n"
	        "  new -o FILE [--force]        a new keyring: one random key, id 1, primary\n"
	        "  add FILE [--primary]         add a random key with the next id\n"
	        "  primary FILE ID              make key ID the one that signs\n"
	        "  remove FILE ID               remove key ID (not the primary)\n"
	        "  list FILE                    ids, primary flag, fingerprints (never a secret)\n"
	        "host and administrator keys:\n"
	        "  host-init DIR                this host's keypair: DIR/host.key, DIR/host.pub\n"
	        "  admin-init DIR               a signing keypair: DIR/admin.key, DIR/admin.pub\n"
	        "bundles (a keyring only one host can open, signed by an administrator):\n"
	        "  seal KEYRING --to HOST.pub --sign-with ADMIN_DIR -o BUNDLE [--force]\n"
	        "  unseal BUNDLE --host-key DIR --trust ADMIN.pub -o KEYRING [--force]\n"
	        "            refuses a bundle older than the newest unsealed with DIR (its serial\n"
	        "            is kept in DIR/bundle.state), --force or not\n"
	        "  provision --hosts HOSTS_FILE --sign-with ADMIN_DIR [--keyring FILE] -o OUTDIR\n"
	        "            [--force]   one OUTDIR/NAME.bundle per line \"NAME cmem-host-pub-v1 KEY\"\n"
	        "            of HOSTS_FILE; without --keyring a new ring, saved as OUTDIR/cluster.keys\n"
	        "member identities (files only: cmemd does not use them yet):\n"
	        "  member-init DIR              this host's identity: DIR/member.key, DIR/member.pub\n"
	        "  certify --name NAME --pub MEMBER.pub --days N --sign-with ADMIN_DIR -o CERT\n"
	        "            [--serial N] [--force]   a member certificate; the serial is the next\n"
	        "            one of ADMIN_DIR/cert.serial unless given\n"
	        "  revoke SERIAL... --sign-with ADMIN_DIR   add serials to ADMIN_DIR/revoked.crl\n"
	        "  show-cert FILE [--trust ADMIN.pub [--name NAME] [--crl FILE]]   print a\n"
	        "            certificate or a revocation list; with --trust, check it\n"
	        "  seal ... [--cert CERT] [--crl LIST], provision ... [--certs DIR] [--crl LIST]\n"
	        "            carry them in the bundle (DIR/NAME.cert per host); unseal writes\n"
	        "            member.cert and revoked.crl beside the keyring\n"
	        "options:\n"
	        "  -o, --output PATH            the file (or directory) to write\n"
	        "  -f, --force                  replace an existing output file, atomically\n"
	        "  -p, --primary                the added key signs from now on\n"
	        "  -h, --help                   this help\n"
	        "  -V, --version                print the version\n");
}

/* A message into buf, cut short if it does not fit. */
static void msgf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void msgf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

static int usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "cmem-keygen: %s%s\n", what, arg);
	usage(stderr);
	return EXIT_USAGE;
}

static int fail(const char *msg)
{
	fprintf(stderr, "cmem-keygen: %s\n", msg);
	return EXIT_FAIL;
}

/* A write error; says how to replace the file when --force would. */
static int fail_write(const char *msg, int force_hint)
{
	fprintf(stderr, "cmem-keygen: %s%s\n", msg,
	        force_hint && strstr(msg, "already exists") ? " (--force replaces it)" : "");
	return EXIT_FAIL;
}

/* The options with a value: the letter getopt returns, the O_* bit, where the value goes. */
static const struct valued_opt {
	int ch;
	unsigned bit;
	size_t field; /* offsetof a const char * in struct opts */
} valued_opts[] = {
	{ 'o', O_OUTPUT, offsetof(struct opts, output) },
	{ 't', O_TO, offsetof(struct opts, to) },
	{ 's', O_SIGN_WITH, offsetof(struct opts, sign_with) },
	{ 'k', O_HOST_KEY, offsetof(struct opts, host_key) },
	{ 'T', O_TRUST, offsetof(struct opts, trust) },
	{ 'H', O_HOSTS, offsetof(struct opts, hosts) },
	{ 'K', O_KEYRING, offsetof(struct opts, keyring) },
	{ 'N', O_NAME, offsetof(struct opts, name) },
	{ 'P', O_PUB, offsetof(struct opts, pub) },
	{ 'D', O_DAYS, offsetof(struct opts, days) },
	{ 'S', O_SERIAL, offsetof(struct opts, serial) },
	{ 'C', O_CERT, offsetof(struct opts, cert) },
	{ 'c', O_CERTS, offsetof(struct opts, certs) },
	{ 'R', O_CRL, offsetof(struct opts, crl) },
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
	int ch;

	while ((ch = getopt_long(argc, argv, "o:fphV", longopts, NULL)) != -1) {
		size_t i = 0;

		while (i < ARRAY_SIZE(valued_opts) && valued_opts[i].ch != ch)
			i++;
		if (i < ARRAY_SIZE(valued_opts)) {
			*(const char **)(void *)((char *)o + valued_opts[i].field) = optarg;
			o->set |= valued_opts[i].bit;
			continue;
		}
		switch (ch) {
		case 'f': o->set |= O_FORCE; break;
		case 'p': o->set |= O_PRIMARY; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("cmem-keygen %s\n", CMEM_VERSION); exit(0);
		default: usage(stderr); return -1;
		}
	}
	return 0;
}

/* Key id argument: 1..65535, or a usage error. */
static int parse_id(const char *s, uint16_t *id)
{
	uint64_t v;

	if (parse_u64_str(s, &v) == -1 || v < 1 || v > 65535)
		return -1;
	*id = (uint16_t)v;
	return 0;
}

static struct keyring *load_ring(const char *path)
{
	char err[KEYRING_ERRLEN];
	struct keyring *kr = keyring_load(path, err, sizeof(err));

	if (kr == NULL)
		fail(err);
	return kr;
}

static const char *fingerprint(const struct keyring *kr, uint16_t id,
                               char out[KEYRING_FPR_LEN])
{
	keyring_fingerprint(keyring_find(kr, id), out);
	return out;
}

/* ---- keyrings ---- */

static int cmd_new(const struct opts *o)
{
	char err[KEYFILE_ERRLEN], fpr[KEYRING_FPR_LEN];
	struct keyring *kr = keyring_generate();
	int rc;

	if (kr == NULL)
		return fail("out of secure memory");
	rc = keyring_save(kr, o->output, (o->set & O_FORCE) != 0, err, sizeof(err));
	if (rc == 0) {
		printf("%s: new keyring: key 1 (fingerprint %s), primary\n", o->output,
		       fingerprint(kr, 1, fpr));
		printf("next: copy it to every host as %s (mode 0600; cmemd.conf: keyring = ...), "
		       "or seal one copy per host with `cmem-keygen provision --hosts HOSTS_FILE "
		       "--sign-with ADMIN_DIR --keyring %s -o OUTDIR`\n",
		       INSTALLED, o->output);
	}
	keyring_free(kr);
	return rc == 0 ? 0 : fail_write(err, 1);
}

static int cmd_add(const struct opts *o)
{
	char err[KEYFILE_ERRLEN], fpr[KEYRING_FPR_LEN];
	const char *path = o->args[0];
	struct keyring *kr = load_ring(path);
	uint16_t id = 0, old;
	int primary = (o->set & O_PRIMARY) != 0;

	if (kr == NULL)
		return EXIT_FAIL;
	old = keyring_primary(kr)->id;
	if (keyring_add_random(kr, primary, &id, path, err, sizeof(err)) == -1 ||
	    keyring_save(kr, path, 1, err, sizeof(err)) == -1) {
		keyring_free(kr);
		return fail(err);
	}
	printf("%s: added key %u (fingerprint %s)%s\n", path, id, fingerprint(kr, id, fpr),
	       primary ? ", primary" : "");
	if (primary)
		printf("next: install it on every host at once with `cmemctl keys install %s`: until "
		       "a host has key %u it drops the lines signed with it; then watch `cmemctl keys "
		       "list` until every peer is seen on key %u, then remove the old key with "
		       "`cmem-keygen remove %s %u`\n",
		       path, id, id, path, old);
	else
		printf("next: install it everywhere with `cmemctl keys install %s`, then make it "
		       "primary with `cmem-keygen primary %s %u` and `cmemctl keys use %u`\n",
		       path, path, id, id);
	keyring_free(kr);
	return 0;
}

/* Load args[0] and look up the key id args[1]; exit status in *rc if not. */
static struct keyring *ring_and_id(const struct opts *o, uint16_t *id, int *rc)
{
	char msg[KEYRING_ERRLEN];
	struct keyring *kr;

	*rc = EXIT_FAIL;
	if (parse_id(o->args[1], id) == -1) {
		*rc = usage_error("a key id is a number in 1..65535, not ", o->args[1]);
		return NULL;
	}
	if ((kr = load_ring(o->args[0])) == NULL)
		return NULL;
	if (keyring_find(kr, *id) == NULL) {
		msgf(msg, sizeof(msg), "%s: there is no key %u", o->args[0], *id);
		fail(msg);
		keyring_free(kr);
		return NULL;
	}
	return kr;
}

static int cmd_primary(const struct opts *o)
{
	char err[KEYFILE_ERRLEN], fpr[KEYRING_FPR_LEN];
	const char *path = o->args[0];
	uint16_t id, old;
	int rc;
	struct keyring *kr = ring_and_id(o, &id, &rc);

	if (kr == NULL)
		return rc;
	old = keyring_primary(kr)->id;
	if (old == id) {
		printf("%s: key %u is already primary; nothing to do\n", path, id);
		keyring_free(kr);
		return 0;
	}
	keyring_set_primary(kr, id);
	if (keyring_save(kr, path, 1, err, sizeof(err)) == -1) {
		keyring_free(kr);
		return fail(err);
	}
	printf("%s: key %u (fingerprint %s) is now primary\n", path, id, fingerprint(kr, id, fpr));
	printf("next: run `cmemctl keys use %u` on every host, watch `cmemctl keys list` until "
	       "every peer is seen on key %u, then remove the old key with `cmem-keygen remove %s "
	       "%u`\n",
	       id, id, path, old);
	keyring_free(kr);
	return 0;
}

static int cmd_remove(const struct opts *o)
{
	char err[KEYFILE_ERRLEN];
	const char *path = o->args[0];
	uint16_t id;
	int rc;
	struct keyring *kr = ring_and_id(o, &id, &rc);

	if (kr == NULL)
		return rc;
	if (keyring_primary(kr)->id == id)
		msgf(err, sizeof(err),
		         "%s: key %u is the primary key; refusing to remove it (make another key "
		         "primary first: cmem-keygen primary %s ID)",
		         path, id, path);
	else if (keyring_remove(kr, id) == 0 && keyring_save(kr, path, 1, err, sizeof(err)) == 0)
		rc = 0;
	keyring_free(kr);
	if (rc != 0)
		return fail(err);
	printf("%s: removed key %u\n", path, id);
	printf("next: run `cmemctl keys remove %u` on every host (or install %s there with "
	       "`cmemctl keys install %s`)\n",
	       id, path, path);
	return 0;
}

static int cmd_list(const struct opts *o)
{
	char fpr[KEYRING_FPR_LEN];
	struct keyring *kr = load_ring(o->args[0]);

	if (kr == NULL)
		return EXIT_FAIL;
	printf("%-6s %-8s %s\n", "ID", "PRIMARY", "FINGERPRINT");
	for (size_t i = 0; i < kr->nkeys; i++) {
		keyring_fingerprint(&kr->keys[i], fpr);
		printf("%-6u %-8s %s\n", kr->keys[i].id, kr->keys[i].primary ? "yes" : "", fpr);
	}
	keyring_free(kr);
	return 0;
}

/* ---- host and administrator keys ---- */

static int cmd_init(const struct opts *o, enum keyfile_kind kind)
{
	char err[KEYFILE_ERRLEN], line[KEYFILE_PUB_LINE_MAX], host[256] = "HOSTNAME";
	const char *dir = o->args[0], *name = keyfile_kind_name(kind);
	uint8_t pk[KEYFILE_PK_BYTES];

	if (keyfile_pair_create(kind, dir, pk, err, sizeof(err)) == -1)
		return fail(err);
	keyfile_pub_format(kind, pk, line);
	printf("%s\n", line);
	printf("wrote %s/%s.key (secret, mode 0600%s) and %s/%s.pub\n", dir, name,
	       kind == KEYFILE_HOST ? ": it never leaves this host" : "", dir, name);
	if (kind == KEYFILE_ADMIN) {
		printf("next: copy %s/admin.pub to every host: `cmem-keygen unseal --trust "
		       "admin.pub` accepts only bundles it signed\n",
		       dir);
		return 0;
	}
	if (gethostname(host, sizeof(host) - 1) == -1 || host[0] == '\0')
		snprintf(host, sizeof(host), "HOSTNAME");
	printf("next: add this line to the hosts file of `cmem-keygen provision`:\n%s %s\n", host,
	       line);
	return 0;
}

static int cmd_host_init(const struct opts *o)
{
	return cmd_init(o, KEYFILE_HOST);
}

static int cmd_admin_init(const struct opts *o)
{
	return cmd_init(o, KEYFILE_ADMIN);
}

/* ---- bundles ---- */

/* The provision arguments of the command line. */
static struct provision_args pargs(const struct opts *o)
{
	struct provision_args a = {
		.keyring = o->keyring,
		.to = o->to,
		.sign_with = o->sign_with,
		.hosts = o->hosts,
		.host_key = o->host_key,
		.trust = o->trust,
		.output = o->output,
		.cert = o->cert,
		.certs = o->certs,
		.crl = o->crl,
		.force = (o->set & O_FORCE) != 0,
		.now = (int64_t)now_real_s(),
	};

	return a;
}

/* The identity a bundle carries (cmem-bundle-v3), if any, as lines into out. */
static void describe_ident(const struct provision_result *r, char *out, size_t size)
{
	size_t off = 0;

	out[0] = '\0';
	if (r->has_cert && r->cert.serial)
		off += (size_t)snprintf(out, size, "with the member certificate of %s (serial %" PRIu64
		                                   ")%s\n",
		                        r->cert.name, r->cert.serial,
		                        r->cert_pending ? ", not valid yet: check this host's clock"
		                                        : "");
	else if (r->has_cert)
		off += (size_t)snprintf(out, size, "with a member certificate\n");
	if (r->has_crl && r->crl_sequence && off < size)
		off += (size_t)snprintf(out + off, size - off,
		                        "with the revocation list of sequence %" PRIu64 "\n",
		                        r->crl_sequence);
	else if (r->has_crl && off < size)
		off += (size_t)snprintf(out + off, size - off, "with a revocation list\n");
	if ((r->has_cert || r->has_crl) && off < size)
		snprintf(out + off, size - off, "(a cmem-bundle-v3 bundle: an older cmem-keygen "
		                                "refuses it as an unsupported format)\n");
}

/* What seal and unseal report of the ring and the bundle. */
struct bundle_summary {
	char keys[64];    /* "N keys, primary key P" */
	char serial[128]; /* "serial N (sealed TIME)" */
	int version;      /* the bundle's format version */
	char ident[512];  /* the identity it carries: lines, or "" */
};

/* Seal the keyring args[0], or unseal the bundle args[0]: 0, or EXIT_FAIL said. */
static int run_bundle(const struct opts *o, int unseal, struct bundle_summary *s)
{
	char err[PROVISION_ERRLEN];
	struct provision_args a = pargs(o);
	struct provision_result r;
	int rc;

	if (unseal) {
		a.bundle = o->args[0];
		rc = provision_unseal(&a, &r, err, sizeof(err));
	} else {
		a.keyring = o->args[0];
		rc = provision_seal(&a, &r, err, sizeof(err));
	}
	if (rc == -1)
		return fail_write(err, 1);
	snprintf(s->keys, sizeof(s->keys), "%zu key%s, primary key %u", r.nkeys,
	         r.nkeys == 1 ? "" : "s", r.primary);
	provision_state_describe(&r.bundle, s->serial, sizeof(s->serial));
	s->version = r.version;
	describe_ident(&r, s->ident, sizeof(s->ident));
	return 0;
}

static int cmd_seal(const struct opts *o)
{
	struct bundle_summary s;

	if (run_bundle(o, 0, &s) != 0)
		return EXIT_FAIL;
	printf("%s: keyring %s (%s) sealed for the host of %s, signed with %s/admin.key, %s\n",
	       o->output, o->args[0], s.keys, o->to, o->sign_with, s.serial);
	fputs(s.ident, stdout);
	printf("next: send %s to that host (any channel will do), and there run `cmem-keygen "
	       "unseal %s --host-key DIR --trust admin.pub -o %s`\n",
	       o->output, o->output, INSTALLED);
	return 0;
}

static int cmd_unseal(const struct opts *o)
{
	struct bundle_summary s;

	if (run_bundle(o, 1, &s) != 0)
		return EXIT_FAIL;
	printf("%s: keyring from %s (%s), signed by the trusted administrator, %s\n", o->output,
	       o->args[0], s.keys, s.serial);
	fputs(s.ident, stdout);
	if (s.version == 1)
		printf("warning: %s is a cmem-bundle-v1 bundle, which has no serial: ask for a "
		       "bundle made by a newer cmem-keygen, so that older ones are refused here\n",
		       o->args[0]);
	printf("next: name it in cmemd.conf (keyring = \"%s\") before starting cmemd, or give it "
	       "to the running daemon with `cmemctl keys install %s`\n",
	       o->output, o->output);
	return 0;
}

static int cmd_provision(const struct opts *o)
{
	char err[PROVISION_ERRLEN], serial[128], ident[512];
	struct provision_args a = pargs(o);
	struct provision_result r;

	if (provision_hosts(&a, &r, err, sizeof(err)) == -1) {
		provision_result_free(&r);
		return fail_write(err, 1);
	}
	if (r.generated)
		printf("%s/%s: new keyring: key %u (fingerprint %s), primary; keep it for later "
		       "changes (mode 0600)\n",
		       o->output, PROVISION_RING_FILE, r.primary, r.fpr);
	provision_state_describe(&r.bundle, serial, sizeof(serial));
	for (size_t i = 0; i < r.nhosts; i++)
		printf("%s/%s.bundle: for host %s, %s\n", o->output, r.hosts[i].name,
		       r.hosts[i].name, serial);
	describe_ident(&r, ident, sizeof(ident));
	fputs(ident, stdout);
	printf("next: send each NAME.bundle to its host (any channel will do) and there run "
	       "`cmem-keygen unseal NAME.bundle --host-key DIR --trust admin.pub -o %s`, "
	       "admin.pub being a copy of %s/admin.pub\n",
	       INSTALLED, o->sign_with);
	provision_result_free(&r);
	return 0;
}

/* ---- member identities ---- */

static int cmd_member_init(const struct opts *o)
{
	char err[KEYFILE_ERRLEN], line[KEYFILE_PUB_LINE_MAX];
	uint8_t pk[KEYFILE_PK_BYTES];

	if (keyfile_pair_create(KEYFILE_MEMBER, o->args[0], pk, err, sizeof(err)) == -1)
		return fail(err);
	keyfile_pub_format(KEYFILE_MEMBER, pk, line);
	printf("%s\n", line);
	printf("wrote %s/member.key (secret, mode 0600: it never leaves this host) and "
	       "%s/member.pub\n",
	       o->args[0], o->args[0]);
	printf("next: send %s/member.pub to the administrator, who runs `cmem-keygen certify "
	       "--name NAME --pub member.pub --days N --sign-with ADMIN_DIR -o NAME.cert`\n",
	       o->args[0]);
	return 0;
}

/* A number argument of an option, or a usage error. */
static int number_opt(const char *opt, const char *s, uint64_t min, uint64_t *v)
{
	if (parse_u64_str(s, v) == 0 && *v >= min)
		return 0;
	fprintf(stderr, "cmem-keygen: %s %s: not a number of at least %" PRIu64 "\n", opt, s, min);
	return -1;
}

/* What a certificate says, one field a line. */
static void print_cert(const struct cert *c)
{
	char nb[KEYFILE_TIME_LEN], na[KEYFILE_TIME_LEN], line[KEYFILE_PUB_LINE_MAX];
	char id[CERT_KEYID_HEX_LEN];

	keyfile_time_format(c->not_before, nb);
	keyfile_time_format(c->not_after, na);
	keyfile_pub_format(KEYFILE_MEMBER, c->key, line);
	sodium_bin2hex(id, sizeof(id), c->issuer, sizeof(c->issuer));
	printf("name:       %s\nkey:        %s\nserial:     %" PRIu64 "\nnot-before: %s\n"
	       "not-after:  %s\nissuer:     %s (administrator key id)\n",
	       c->name, line, c->serial, nb, na, id);
}

static int cmd_certify(const struct opts *o)
{
	char err[PROVISION_ERRLEN];
	struct ident_args a = { .name = o->name, .pub = o->pub, .sign_with = o->sign_with,
		                .output = o->output, .force = (o->set & O_FORCE) != 0,
		                .now = (int64_t)now_real_s() };
	struct cert c;

	if (number_opt("--days", o->days, 1, &a.days) == -1 ||
	    (o->serial && number_opt("--serial", o->serial, 1, &a.serial) == -1))
		return EXIT_USAGE;
	if (ident_certify(&a, &c, err, sizeof(err)) == -1)
		return fail_write(err, 1);
	printf("%s: member certificate, signed with %s/admin.key\n", o->output, o->sign_with);
	print_cert(&c);
	printf("next: seal it with that host's keyring (`cmem-keygen seal KEYRING --to HOST.pub "
	       "--sign-with %s --cert %s -o BUNDLE`, or provision --certs DIR with DIR/%s.cert)\n",
	       o->sign_with, o->output, c.name);
	return 0;
}

static int cmd_revoke(const struct opts *o)
{
	char err[PROVISION_ERRLEN], path[PATH_MAX], when[KEYFILE_TIME_LEN];
	uint64_t *serials = xreallocarray(NULL, (size_t)o->nargs, sizeof(*serials));
	struct ident_args a = { .sign_with = o->sign_with, .serials = serials,
		                .nserials = (size_t)o->nargs, .now = (int64_t)now_real_s() };
	struct crl l;
	int rc;

	for (int i = 0; i < o->nargs; i++)
		if (number_opt("serial", o->args[i], 1, &serials[i]) == -1) {
			free(serials);
			return EXIT_USAGE;
		}
	rc = ident_revoke(&a, &l, path, sizeof(path), err, sizeof(err));
	free(serials);
	if (rc == -1)
		return fail(err);
	keyfile_time_format(l.issued, when);
	printf("%s: revocation list sequence %" PRIu64 " (issued %s), %zu serial%s revoked\n",
	       path, l.sequence, when, l.n, l.n == 1 ? "" : "s");
	printf("next: send it to every host with its next bundle (seal/provision --crl %s)\n",
	       path);
	crl_clear(&l);
	return 0;
}

static int show_crl(const struct opts *o, const uint8_t *trusted)
{
	char err[PROVISION_ERRLEN], when[KEYFILE_TIME_LEN], id[CERT_KEYID_HEX_LEN];
	struct crl l;
	enum cert_status st;

	if (ident_crl_load(o->args[0], &l, err, sizeof(err)) != CERT_OK)
		return fail(err);
	keyfile_time_format(l.issued, when);
	sodium_bin2hex(id, sizeof(id), l.issuer, sizeof(l.issuer));
	printf("revocation list\nsequence:   %" PRIu64 "\nissued:     %s\nissuer:     %s "
	       "(administrator key id)\n",
	       l.sequence, when, id);
	for (size_t i = 0; i < l.n; i++)
		printf("revoked:    %" PRIu64 "\n", l.serials[i]);
	st = trusted ? crl_verify(&l, trusted) : CERT_OK;
	crl_clear(&l);
	if (st != CERT_OK) {
		ident_describe(st, o->args[0], NULL, NULL, 0, err, sizeof(err));
		return fail(err);
	}
	if (trusted)
		printf("verified: signed by the administrator of %s\n", o->trust);
	return 0;
}

/* The check of show-cert --trust; 0 or the exit status. */
static int check_cert(const struct opts *o, const struct cert *c, const uint8_t *trusted)
{
	char err[PROVISION_ERRLEN];
	struct crl l = { .n = 0 };
	int64_t now = (int64_t)now_real_s();
	enum cert_status st;

	if (o->crl && ident_crl_load(o->crl, &l, err, sizeof(err)) != CERT_OK)
		return fail(err);
	st = cert_check(c, o->crl ? &l : NULL, trusted, o->name, now);
	crl_clear(&l);
	if (st != CERT_OK) {
		ident_describe(st, o->args[0], c, o->name, now, err, sizeof(err));
		return fail(err);
	}
	printf("verified: signed by the administrator of %s%s%s, valid now%s\n", o->trust,
	       o->name ? ", for " : "", o->name ? o->name : "", o->crl ? ", not revoked" : "");
	return 0;
}

static int cmd_show_cert(const struct opts *o)
{
	char err[PROVISION_ERRLEN];
	uint8_t trusted[KEYFILE_PK_BYTES];
	struct cert c;

	if ((o->name || o->crl) && !o->trust)
		return usage_error("show-cert: --name and --crl check a certificate: ", "add --trust");
	if (o->trust && keyfile_pub_load(KEYFILE_ADMIN, o->trust, trusted, err, sizeof(err)) == -1)
		return fail(err);
	if (ident_is_crl(o->args[0]))
		return show_crl(o, o->trust ? trusted : NULL);
	if (ident_cert_load(o->args[0], &c, err, sizeof(err)) != CERT_OK)
		return fail(err);
	printf("member certificate\n");
	print_cert(&c);
	return o->trust ? check_cert(o, &c, trusted) : 0;
}

/* ---- main ---- */

static const struct command commands[] = {
	{ "new", 0, O_OUTPUT, O_FORCE, cmd_new },
	{ "add", 1, 0, O_PRIMARY, cmd_add },
	{ "primary", 2, 0, 0, cmd_primary },
	{ "remove", 2, 0, 0, cmd_remove },
	{ "list", 1, 0, 0, cmd_list },
	{ "host-init", 1, 0, 0, cmd_host_init },
	{ "admin-init", 1, 0, 0, cmd_admin_init },
	{ "seal", 1, O_TO | O_SIGN_WITH | O_OUTPUT, O_FORCE | O_CERT | O_CRL, cmd_seal },
	{ "unseal", 1, O_HOST_KEY | O_TRUST | O_OUTPUT, O_FORCE, cmd_unseal },
	{ "provision", 0, O_HOSTS | O_SIGN_WITH | O_OUTPUT, O_KEYRING | O_FORCE | O_CERTS | O_CRL,
	  cmd_provision },
	{ "member-init", 1, 0, 0, cmd_member_init },
	{ "certify", 0, O_NAME | O_PUB | O_DAYS | O_SIGN_WITH | O_OUTPUT, O_SERIAL | O_FORCE,
	  cmd_certify },
	{ "revoke", ANY_ARGS, O_SIGN_WITH, 0, cmd_revoke },
	{ "show-cert", 1, 0, O_TRUST | O_NAME | O_CRL, cmd_show_cert },
};

/* Argument count and options fit the command; otherwise a usage error. */
static int check_usage(const struct command *c, const struct opts *o)
{
	char msg[128];
	unsigned missing = c->required & ~o->set, extra = o->set & ~(c->required | c->allowed);

	if (c->nargs == ANY_ARGS && o->nargs < 1)
		return usage_error(c->name, " takes one or more arguments: see the usage below");
	if (c->nargs != ANY_ARGS && o->nargs != c->nargs) {
		msgf(msg, sizeof(msg), "%s takes %d argument%s, not %d: ", c->name, c->nargs,
		         c->nargs == 1 ? "" : "s", o->nargs);
		return usage_error(msg, "see the usage below");
	}
	for (size_t i = 0; i < ARRAY_SIZE(opt_names); i++) {
		if (missing & (1u << i)) {
			msgf(msg, sizeof(msg), "%s needs ", c->name);
			return usage_error(msg, opt_names[i]);
		}
		if (extra & (1u << i)) {
			msgf(msg, sizeof(msg), "%s does not take ", c->name);
			return usage_error(msg, opt_names[i]);
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { .set = 0 };
	const struct command *c = NULL;

	if (parse_opts(argc, argv, &o) == -1)
		return EXIT_USAGE;
	if (optind >= argc)
		return usage_error("no command given", "");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (strcmp(commands[i].name, argv[optind]) == 0)
			c = &commands[i];
	if (c == NULL)
		return usage_error("unknown command: ", argv[optind]);
	o.args = argv + optind + 1;
	o.nargs = argc - optind - 1;
	if (check_usage(c, &o) != 0)
		return EXIT_USAGE;
	if (sodium_init() == -1)
		return fail("cannot initialize libsodium");
	return c->run(&o);
}
