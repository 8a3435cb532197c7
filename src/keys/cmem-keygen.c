/*
 * cmem-keygen: make and edit cluster keyrings, host and administrator
 * keys, and the sealed, signed bundles that carry a keyring to each host
 * (formats in keyring.h and keyfile.h).  Argument parsing and printing
 * only: the work is done by keyring, keyfile and provision, which the unit
 * tests drive.  Results and the next step to stdout, diagnostics to stderr.
 * Exit: 0 ok, 1 error, 2 usage error.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
};

struct opts {
	unsigned set; /* O_* given */
	const char *output, *to, *sign_with, *host_key, *trust, *hosts, *keyring;
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
	{ "version", no_argument, NULL, 'V' },         { NULL, 0, NULL, 0 },
};

/* Names of the O_* bits, in bit order, for usage errors. */
static const char *const opt_names[] = {
	"-o", "--force", "--primary", "--to", "--sign-with", "--host-key", "--trust", "--hosts",
	"--keyring",
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

static int parse_opts(int argc, char **argv, struct opts *o)
{
	int ch;

	while ((ch = getopt_long(argc, argv, "o:fphV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'o': o->output = optarg; o->set |= O_OUTPUT; break;
		case 'f': o->set |= O_FORCE; break;
		case 'p': o->set |= O_PRIMARY; break;
		case 't': o->to = optarg; o->set |= O_TO; break;
		case 's': o->sign_with = optarg; o->set |= O_SIGN_WITH; break;
		case 'k': o->host_key = optarg; o->set |= O_HOST_KEY; break;
		case 'T': o->trust = optarg; o->set |= O_TRUST; break;
		case 'H': o->hosts = optarg; o->set |= O_HOSTS; break;
		case 'K': o->keyring = optarg; o->set |= O_KEYRING; break;
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
		.force = (o->set & O_FORCE) != 0,
		.now = (int64_t)now_real_s(),
	};

	return a;
}

/* What seal and unseal report of the ring and the bundle. */
struct bundle_summary {
	char keys[64];    /* "N keys, primary key P" */
	char serial[128]; /* "serial N (sealed TIME)" */
	int version;      /* the bundle's format version */
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
	return 0;
}

static int cmd_seal(const struct opts *o)
{
	struct bundle_summary s;

	if (run_bundle(o, 0, &s) != 0)
		return EXIT_FAIL;
	printf("%s: keyring %s (%s) sealed for the host of %s, signed with %s/admin.key, %s\n",
	       o->output, o->args[0], s.keys, o->to, o->sign_with, s.serial);
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
	char err[PROVISION_ERRLEN], serial[128];
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
	printf("next: send each NAME.bundle to its host (any channel will do) and there run "
	       "`cmem-keygen unseal NAME.bundle --host-key DIR --trust admin.pub -o %s`, "
	       "admin.pub being a copy of %s/admin.pub\n",
	       INSTALLED, o->sign_with);
	provision_result_free(&r);
	return 0;
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
	{ "seal", 1, O_TO | O_SIGN_WITH | O_OUTPUT, O_FORCE, cmd_seal },
	{ "unseal", 1, O_HOST_KEY | O_TRUST | O_OUTPUT, O_FORCE, cmd_unseal },
	{ "provision", 0, O_HOSTS | O_SIGN_WITH | O_OUTPUT, O_KEYRING | O_FORCE, cmd_provision },
};

/* Argument count and options fit the command; otherwise a usage error. */
static int check_usage(const struct command *c, const struct opts *o)
{
	char msg[128];
	unsigned missing = c->required & ~o->set, extra = o->set & ~(c->required | c->allowed);

	if (o->nargs != c->nargs) {
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
