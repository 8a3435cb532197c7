/*
 * test_provision: seal, provision and unseal as cmem-keygen runs them,
 * with an injected clock.  A bundle opens only on its host, only when the
 * trusted administrator signed it and nothing was changed; --force only
 * replaces output files; and a bundle older than the newest one a host
 * has unsealed is refused (issue 10 item 7), --force or not.
 */
#include "testutil.h"

#include <dirent.h>
#include <inttypes.h>

#include "keyfile.h"
#include "privfile.h"
#include "provision.h"
#include "util.h"

#define T0 INT64_C(1764682714) /* 2025-12-02T13:38:34Z */

struct fixture {
	char dir[256];
	char adm[512], adm2[512], h1[512], h2[512]; /* key directories */
	char trust[512], trust2[512];                /* adm/admin.pub, adm2/admin.pub */
	char pub1[512], pub2[512];                   /* h1/host.pub, h2/host.pub */
	char r1[512], r12[512];                      /* a ring of key 1; of keys 1 and 2 */
	char out[512];                               /* what an unseal writes */
	char state[512];                             /* h1/bundle.state */
	char err[PROVISION_ERRLEN];
	struct provision_result r;
};

static void make_pair(struct fixture *f, char *dir, size_t size, const char *name,
                      enum keyfile_kind kind)
{
	uint8_t pk[KEYFILE_PK_BYTES];

	tu_path(dir, size, f->dir, name);
	if (keyfile_pair_create(kind, dir, pk, f->err, sizeof(f->err)) == -1)
		fail_msg("%s", f->err);
}

/* r1: one key; r12: the same key and a second one, primary. */
static void make_rings(struct fixture *f)
{
	struct keyring *kr = keyring_generate();
	uint16_t id;

	assert_non_null(kr);
	tu_path(f->r1, sizeof(f->r1), f->dir, "r1");
	tu_path(f->r12, sizeof(f->r12), f->dir, "r12");
	assert_int_equal(keyring_save(kr, f->r1, 0, f->err, sizeof(f->err)), 0);
	assert_int_equal(keyring_add_random(kr, 1, &id, "r12", f->err, sizeof(f->err)), 0);
	assert_int_equal(id, 2);
	assert_int_equal(keyring_save(kr, f->r12, 0, f->err, sizeof(f->err)), 0);
	keyring_free(kr);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || sodium_init() == -1)
		return -1;
	tu_mkdtemp(f->dir, sizeof(f->dir));
	make_pair(f, f->adm, sizeof(f->adm), "adm", KEYFILE_ADMIN);
	make_pair(f, f->adm2, sizeof(f->adm2), "adm2", KEYFILE_ADMIN);
	make_pair(f, f->h1, sizeof(f->h1), "h1", KEYFILE_HOST);
	make_pair(f, f->h2, sizeof(f->h2), "h2", KEYFILE_HOST);
	tu_path(f->trust, sizeof(f->trust), f->adm, "admin.pub");
	tu_path(f->trust2, sizeof(f->trust2), f->adm2, "admin.pub");
	tu_path(f->pub1, sizeof(f->pub1), f->h1, "host.pub");
	tu_path(f->pub2, sizeof(f->pub2), f->h2, "host.pub");
	tu_path(f->out, sizeof(f->out), f->dir, "out.keys");
	tu_path(f->state, sizeof(f->state), f->h1, PROVISION_STATE_FILE);
	make_rings(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	provision_result_free(&f->r);
	tu_rmtree(f->dir);
	free(f);
	return 0;
}

static void assert_err(const struct fixture *f, const char *needle)
{
	if (strstr(f->err, needle) == NULL)
		fail_msg("message does not say \"%s\": \"%s\"", needle, f->err);
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	return st.st_mode & 07777;
}

/* seal ring for the host of pub, signed with adm, at time now, into dir/name. */
static int seal(struct fixture *f, const char *ring, const char *pub, const char *name,
                int64_t now, int force)
{
	char path[512];
	struct provision_args a = {
		.keyring = ring,
		.to = pub,
		.sign_with = f->adm,
		.output = tu_path(path, sizeof(path), f->dir, name),
		.force = force,
		.now = now,
	};

	provision_result_free(&f->r);
	f->err[0] = '\0';
	return provision_seal(&a, &f->r, f->err, sizeof(f->err));
}

/* unseal dir/name on the host of host_dir, trusting trust, into f->out. */
static int unseal(struct fixture *f, const char *name, const char *host_dir, const char *trust,
                  int force)
{
	char path[512];
	struct provision_args a = {
		.bundle = tu_path(path, sizeof(path), f->dir, name),
		.host_key = host_dir,
		.trust = trust,
		.output = f->out,
		.force = force,
		.now = 0, /* unseal reads no clock */
	};

	provision_result_free(&f->r);
	f->err[0] = '\0';
	return provision_unseal(&a, &f->r, f->err, sizeof(f->err));
}

/* Both files hold the same keys. */
static void assert_same_ring(const char *a, const char *b)
{
	char err[KEYRING_ERRLEN];
	struct keyring *ka = keyring_load(a, err, sizeof(err)), *kb;

	if (ka == NULL)
		fail_msg("%s", err);
	if ((kb = keyring_load(b, err, sizeof(err))) == NULL)
		fail_msg("%s", err);
	assert_int_equal(ka->nkeys, kb->nkeys);
	assert_int_equal(ka->primary, kb->primary);
	for (size_t i = 0; i < ka->nkeys; i++) {
		assert_int_equal(ka->keys[i].id, kb->keys[i].id);
		assert_memory_equal(ka->keys[i].secret, kb->keys[i].secret, KEYRING_KEY_BYTES);
	}
	keyring_free(ka);
	keyring_free(kb);
}

/* The serial recorded in a state file. */
static uint64_t state_serial(struct fixture *f, const char *path)
{
	struct provision_state st;
	size_t len = 0;
	char *text = tu_read_file(path, &len);

	if (text == NULL)
		fail_msg("cannot read %s", path);
	if (provision_state_parse(path, text, len, &st, f->err, sizeof(f->err)) == -1)
		fail_msg("%s", f->err);
	free(text);
	return st.serial;
}

/* Replace the first line starting with prefix in dir/name by line. */
static void edit_line(struct fixture *f, const char *name, const char *prefix, const char *line,
                      const char *newname)
{
	char path[512], out[8192];
	size_t len = 0, off = 0;
	char *text = tu_read_file(tu_path(path, sizeof(path), f->dir, name), &len), *p;

	assert_non_null(text);
	p = strstr(text, prefix);
	assert_non_null(p);
	off = (size_t)(p - text);
	assert_true(len + strlen(line) < sizeof(out));
	memcpy(out, text, off);
	off += (size_t)snprintf(out + off, sizeof(out) - off, "%s", line);
	p = strchr(p, '\n');
	assert_non_null(p);
	memcpy(out + off, p, len - (size_t)(p - text));
	off += len - (size_t)(p - text);
	assert_int_equal(tu_write_file(tu_path(path, sizeof(path), f->dir, newname), out, off, 0644),
	                 0);
	free(text);
}

/* ---- seal and unseal ---- */

static void test_seal_unseal(void **state)
{
	struct fixture *f = *state;
	char serial[512];

	assert_int_equal(seal(f, f->r1, f->pub1, "b", T0, 0), 0);
	assert_int_equal(f->r.bundle.serial, (uint64_t)T0);
	assert_int_equal(f->r.bundle.created, T0);
	assert_int_equal(f->r.nkeys, 1);
	/* the administrator directory remembers the serial it issued */
	assert_int_equal(state_serial(f, tu_path(serial, sizeof(serial), f->adm,
	                                         PROVISION_SERIAL_FILE)),
	                 (uint64_t)T0);
	assert_int_equal(unseal(f, "b", f->h1, f->trust, 0), 0);
	assert_int_equal(f->r.version, 2);
	assert_int_equal(f->r.bundle.serial, (uint64_t)T0);
	assert_int_equal(f->r.had_state, 0);
	assert_int_equal(f->r.nkeys, 1);
	assert_same_ring(f->out, f->r1);
	assert_int_equal(mode_of(f->out), 0600);
	/* the host remembers the newest bundle it unsealed */
	assert_int_equal(mode_of(f->state), 0600);
	assert_int_equal(state_serial(f, f->state), (uint64_t)T0);
}

static void test_unseal_wrong_host_key(void **state)
{
	struct fixture *f = *state;
	char st2[512];

	assert_int_equal(seal(f, f->r1, f->pub1, "b", T0, 0), 0);
	assert_int_equal(unseal(f, "b", f->h2, f->trust, 0), -1);
	assert_err(f, "sealed for another host");
	assert_false(privfile_exists(f->out));
	assert_false(privfile_exists(tu_path(st2, sizeof(st2), f->h2, PROVISION_STATE_FILE)));
}

static void test_unseal_untrusted_signer(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(seal(f, f->r1, f->pub1, "b", T0, 0), 0);
	assert_int_equal(unseal(f, "b", f->h1, f->trust2, 0), -1);
	assert_err(f, "not by the trusted key");
	assert_false(privfile_exists(f->out));
	assert_false(privfile_exists(f->state));
}

/* A serial, a time or sealed data changed after signing: bad signature. */
static void test_unseal_tampered(void **state)
{
	struct fixture *f = *state;
	char line[64];

	assert_int_equal(seal(f, f->r1, f->pub1, "b", T0, 0), 0);
	snprintf(line, sizeof(line), "serial %" PRId64, T0 + 1000);
	edit_line(f, "b", "serial ", line, "b.serial");
	edit_line(f, "b", "created ", "created 2030-01-01T00:00:00Z", "b.created");
	edit_line(f, "b", "sealed\n", "sealed\nAAAA", "b.sealed");
	edit_line(f, "b", "recipient ", "recipient AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	          "b.recipient");
	assert_int_equal(unseal(f, "b.serial", f->h1, f->trust, 0), -1);
	assert_err(f, "bad signature");
	assert_int_equal(unseal(f, "b.created", f->h1, f->trust, 0), -1);
	assert_err(f, "bad signature");
	assert_int_equal(unseal(f, "b.sealed", f->h1, f->trust, 0), -1);
	assert_err(f, "b.sealed");
	assert_int_equal(unseal(f, "b.recipient", f->h1, f->trust, 0), -1);
	assert_err(f, "bad signature");
	edit_line(f, "b", "serial ", "serial 0", "b.zero");
	assert_int_equal(unseal(f, "b.zero", f->h1, f->trust, 0), -1);
	assert_err(f, "the serial is not a number in 1..");
	assert_false(privfile_exists(f->out));
	assert_false(privfile_exists(f->state));
	assert_int_equal(unseal(f, "b", f->h1, f->trust, 0), 0);
}

/* --force replaces output files, and nothing else. */
static void test_force(void **state)
{
	struct fixture *f = *state;
	char bundle[512], serial[512];
	size_t len = 0;
	char *text;

	tu_path(serial, sizeof(serial), f->adm, PROVISION_SERIAL_FILE);
	assert_int_equal(tu_write_file(tu_path(bundle, sizeof(bundle), f->dir, "b"), "x\n", 2,
	                               0644),
	                 0);
	assert_int_equal(seal(f, f->r1, f->pub1, "b", T0, 0), -1);
	assert_err(f, "already exists");
	assert_false(privfile_exists(serial)); /* refused before a serial was taken */
	assert_int_equal(seal(f, f->r1, f->pub1, "b", T0, 1), 0);
	/* unseal over an existing keyring */
	assert_int_equal(tu_write_file(f->out, "old\n", 4, 0600), 0);
	assert_int_equal(unseal(f, "b", f->h1, f->trust, 0), -1);
	assert_err(f, "already exists");
	text = tu_read_file(f->out, &len);
	assert_string_equal(text, "old\n");
	free(text);
	assert_false(privfile_exists(f->state)); /* nothing unsealed, nothing recorded */
	assert_int_equal(unseal(f, "b", f->h1, f->trust, 1), 0);
	assert_same_ring(f->out, f->r1);
	assert_int_equal(state_serial(f, f->state), (uint64_t)T0);
}

/* ---- rollback ---- */

/* The regression of issue 10 item 7: an old bundle over a newer ring. */
static void test_rollback_refused(void **state)
{
	struct fixture *f = *state;
	char want[128];

	assert_int_equal(seal(f, f->r1, f->pub1, "A", T0, 0), 0);
	assert_int_equal(seal(f, f->r12, f->pub1, "B", T0 + 60, 0), 0);
	assert_int_equal(f->r.bundle.serial, (uint64_t)(T0 + 60));
	assert_int_equal(unseal(f, "B", f->h1, f->trust, 0), 0);
	assert_same_ring(f->out, f->r12);
	for (int force = 0; force <= 1; force++) {
		assert_int_equal(unseal(f, "A", f->h1, f->trust, force), -1);
		assert_err(f, "refusing an older bundle");
		snprintf(want, sizeof(want), "serial %" PRId64 " (sealed 2025-12-02T13:38:34Z)", T0);
		assert_err(f, want);
		snprintf(want, sizeof(want), "serial %" PRId64 " (sealed 2025-12-02T13:39:34Z)",
		         T0 + 60);
		assert_err(f, want);
		assert_err(f, f->state);
		assert_same_ring(f->out, f->r12);
		assert_int_equal(state_serial(f, f->state), (uint64_t)(T0 + 60));
	}
	/* the newest bundle again is not older */
	assert_int_equal(unseal(f, "B", f->h1, f->trust, 1), 0);
	assert_int_equal(f->r.had_state, 1);
	assert_int_equal(f->r.prev.serial, (uint64_t)(T0 + 60));
}

/* Serials grow within one second and when the clock goes back. */
static void test_serials_always_grow(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(seal(f, f->r1, f->pub1, "A", T0, 0), 0);
	assert_int_equal(f->r.bundle.serial, (uint64_t)T0);
	assert_int_equal(seal(f, f->r12, f->pub1, "B", T0, 0), 0);
	assert_int_equal(f->r.bundle.serial, (uint64_t)T0 + 1);
	assert_int_equal(seal(f, f->r12, f->pub1, "C", T0 - 3600, 0), 0);
	assert_int_equal(f->r.bundle.serial, (uint64_t)T0 + 2);
	assert_int_equal(f->r.bundle.created, T0 - 3600); /* the time says what the clock said */
	assert_int_equal(seal(f, f->r12, f->pub1, "D", T0 + 60, 0), 0);
	assert_int_equal(f->r.bundle.serial, (uint64_t)T0 + 60);
	/* two bundles of one second are still ordered */
	assert_int_equal(unseal(f, "B", f->h1, f->trust, 0), 0);
	assert_int_equal(unseal(f, "A", f->h1, f->trust, 1), -1);
	assert_err(f, "refusing an older bundle");
	/* a clock before 1970 dates no bundle */
	assert_int_equal(seal(f, f->r1, f->pub1, "E", 0, 0), -1);
	assert_err(f, "cannot date a bundle");
}

/* A v1 bundle, signed as the first cmem-keygen signed it. */
static void write_v1_bundle(struct fixture *f, const char *name)
{
	static const char ctx[] = "cmem-bundle-v1 signature";
	struct keyfile_pair *admin = keyfile_pair_load(KEYFILE_ADMIN, f->adm, f->err,
	                                               sizeof(f->err));
	struct keyfile_bundle b;
	char path[512], *ring, *out;
	size_t ringlen = 0, outlen = 0, mlen;
	uint8_t pk[KEYFILE_PK_BYTES], *m;
	struct keyring *kr = keyring_load(f->r12, f->err, sizeof(f->err));

	assert_non_null(admin);
	assert_non_null(kr);
	assert_int_equal(keyfile_pub_load(KEYFILE_HOST, f->pub1, pk, f->err, sizeof(f->err)), 0);
	ring = keyring_format(kr, &ringlen);
	assert_int_equal(keyfile_bundle_seal(&b, ring, ringlen, pk, admin, 1, T0, f->err,
	                                     sizeof(f->err)),
	                 0);
	b.version = 1;
	mlen = sizeof(ctx) + KEYFILE_PK_BYTES + b.sealed_len;
	m = malloc(mlen);
	memcpy(m, ctx, sizeof(ctx));
	memcpy(m + sizeof(ctx), b.recipient, KEYFILE_PK_BYTES);
	memcpy(m + sizeof(ctx) + KEYFILE_PK_BYTES, b.sealed, b.sealed_len);
	crypto_sign_detached(b.sig, NULL, m, mlen, admin->sk);
	out = keyfile_bundle_format(&b, &outlen);
	assert_true(strncmp(out, "cmem-bundle-v1\nsigner ", 22) == 0);
	assert_null(strstr(out, "\nserial "));
	assert_int_equal(tu_write_file(tu_path(path, sizeof(path), f->dir, name), out, outlen,
	                               0644),
	                 0);
	free(out);
	free(m);
	keyfile_bundle_clear(&b);
	sodium_free(ring);
	keyring_free(kr);
	keyfile_pair_free(admin);
}

static void test_v1_bundle_is_serial_zero(void **state)
{
	struct fixture *f = *state;

	write_v1_bundle(f, "v1");
	/* read as before on a host that never unsealed a v2 bundle */
	assert_int_equal(unseal(f, "v1", f->h1, f->trust, 0), 0);
	assert_int_equal(f->r.version, 1);
	assert_int_equal(f->r.bundle.serial, 0);
	assert_same_ring(f->out, f->r12);
	assert_int_equal(state_serial(f, f->state), 0);
	/* any v2 bundle is newer; after it, the v1 bundle is refused */
	assert_int_equal(seal(f, f->r1, f->pub1, "A", T0, 0), 0);
	assert_int_equal(unseal(f, "A", f->h1, f->trust, 1), 0);
	assert_int_equal(unseal(f, "v1", f->h1, f->trust, 1), -1);
	assert_err(f, "serial 0 (a cmem-bundle-v1 bundle, which has no serial)");
	assert_same_ring(f->out, f->r1);
}

/* The state is checked like a key: a state anyone may write protects nothing. */
static void test_state_file_checked(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(seal(f, f->r1, f->pub1, "A", T0, 0), 0);
	assert_int_equal(unseal(f, "A", f->h1, f->trust, 0), 0);
	assert_int_equal(chmod(f->state, 0644), 0);
	assert_int_equal(unseal(f, "A", f->h1, f->trust, 1), -1);
	assert_err(f, "too open");
	assert_int_equal(unlink(f->state), 0);
	assert_int_equal(tu_write_file(f->state, "# x\nserial 12x\n", 15, 0600), 0);
	assert_int_equal(unseal(f, "A", f->h1, f->trust, 1), -1);
	assert_err(f, "bundle.state: line 2: the serial is not a number");
}

static void test_state_parse(void **state)
{
	static const struct {
		const char *text, *problem; /* problem NULL: accepted */
		uint64_t serial;
	} cases[] = {
		{ "serial 5\n", NULL, 5 },
		{ "# c\n\nserial 18446744073709551615\ncreated 2025-12-02T13:38:34Z\n", NULL,
		  UINT64_MAX },
		{ "serial 7", NULL, 7 },
		{ "", "no \"serial N\" line", 0 },
		{ "created 2025-12-02T13:38:34Z\n", "no \"serial N\" line", 0 },
		{ "serial 1\nserial 2\n", "line 2: a second \"serial\" line", 0 },
		{ "serial 01\n", "the serial is not a number", 0 },
		{ "serial 18446744073709551616\n", "the serial is not a number", 0 },
		{ "serial 1\ncreated 2025-02-30T00:00:00Z\n", "the created time is not", 0 },
		{ "serial 1\ncreated 2025-12-02 13:38:34\n", "the created time is not", 0 },
		{ "serial 1 \n", "the serial is not a number", 0 },
		{ "version 2\n", "line 1: expected", 0 },
	};
	struct fixture *f = *state;
	struct provision_state st;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int rc = provision_state_parse("st", cases[i].text, strlen(cases[i].text), &st,
		                               f->err, sizeof(f->err));

		if (cases[i].problem == NULL) {
			if (rc != 0)
				fail_msg("case %zu refused: %s", i, f->err);
			assert_int_equal(st.serial, cases[i].serial);
		} else {
			assert_int_equal(rc, -1);
			assert_err(f, cases[i].problem);
		}
	}
}

/* ---- provision ---- */

static int provision(struct fixture *f, const char *ring, const char *outdir, int64_t now,
                     int force)
{
	char hosts[512], out[512];
	struct provision_args a = {
		.keyring = ring,
		.hosts = tu_path(hosts, sizeof(hosts), f->dir, "hosts"),
		.sign_with = f->adm,
		.output = tu_path(out, sizeof(out), f->dir, outdir),
		.force = force,
		.now = now,
	};

	provision_result_free(&f->r);
	f->err[0] = '\0';
	return provision_hosts(&a, &f->r, f->err, sizeof(f->err));
}

static void write_hosts(struct fixture *f)
{
	char path[512], text[512], l1[KEYFILE_PUB_LINE_MAX], l2[KEYFILE_PUB_LINE_MAX];
	uint8_t pk[KEYFILE_PK_BYTES];

	assert_int_equal(keyfile_pub_load(KEYFILE_HOST, f->pub1, pk, f->err, sizeof(f->err)), 0);
	keyfile_pub_format(KEYFILE_HOST, pk, l1);
	assert_int_equal(keyfile_pub_load(KEYFILE_HOST, f->pub2, pk, f->err, sizeof(f->err)), 0);
	keyfile_pub_format(KEYFILE_HOST, pk, l2);
	snprintf(text, sizeof(text), "# two hosts\nnode-a %s\nnode-b %s\n", l1, l2);
	assert_int_equal(tu_write_file(tu_path(path, sizeof(path), f->dir, "hosts"), text,
	                               strlen(text), 0644),
	                 0);
}

static void test_provision_new_ring(void **state)
{
	struct fixture *f = *state;
	char ring[512];

	write_hosts(f);
	assert_int_equal(provision(f, NULL, "out.d", T0, 0), 0);
	assert_int_equal(f->r.generated, 1);
	assert_int_equal(f->r.nhosts, 2);
	assert_string_equal(f->r.hosts[1].name, "node-b");
	assert_int_equal(f->r.bundle.serial, (uint64_t)T0);
	tu_path(ring, sizeof(ring), f->dir, "out.d/" PROVISION_RING_FILE);
	assert_int_equal(mode_of(ring), 0600);
	assert_int_equal(unseal(f, "out.d/node-a.bundle", f->h1, f->trust, 0), 0);
	assert_same_ring(f->out, ring);
	assert_int_equal(unseal(f, "out.d/node-b.bundle", f->h1, f->trust, 1), -1);
	assert_err(f, "sealed for another host");
	/* again: refused before anything is written, then replaced with --force */
	assert_int_equal(provision(f, NULL, "out.d", T0 + 1, 0), -1);
	assert_err(f, "already exists");
	assert_int_equal(unseal(f, "out.d/node-a.bundle", f->h1, f->trust, 1), 0);
	assert_int_equal(f->r.bundle.serial, (uint64_t)T0); /* unchanged */
	assert_int_equal(provision(f, NULL, "out.d", T0 + 1, 1), 0);
	assert_int_equal(f->r.bundle.serial, (uint64_t)T0 + 1);
	assert_int_equal(unseal(f, "out.d/node-a.bundle", f->h1, f->trust, 1), 0);
	assert_same_ring(f->out, ring);
}

static void test_provision_given_ring(void **state)
{
	struct fixture *f = *state;
	char ring[512];

	write_hosts(f);
	assert_int_equal(provision(f, f->r12, "out.d", T0, 0), 0);
	assert_int_equal(f->r.generated, 0);
	assert_int_equal(f->r.nkeys, 2);
	assert_int_equal(f->r.primary, 2);
	assert_false(privfile_exists(tu_path(ring, sizeof(ring), f->dir, "out.d/cluster.keys")));
	assert_int_equal(unseal(f, "out.d/node-b.bundle", f->h2, f->trust, 0), 0);
	assert_same_ring(f->out, f->r12);
	/* a hosts file naming an administrator key writes nothing */
	assert_int_equal(tu_write_file(tu_path(ring, sizeof(ring), f->dir, "hosts"),
	                               "x cmem-admin-pub-v1 AAAA\n", 25, 0644),
	                 0);
	assert_int_equal(provision(f, f->r12, "out2.d", T0, 0), -1);
	assert_err(f, "is an administrator public key");
	assert_false(privfile_exists(tu_path(ring, sizeof(ring), f->dir, "out2.d")));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_seal_unseal),
		T(test_unseal_wrong_host_key),
		T(test_unseal_untrusted_signer),
		T(test_unseal_tampered),
		T(test_force),
		T(test_rollback_refused),
		T(test_serials_always_grow),
		T(test_v1_bundle_is_serial_zero),
		T(test_state_file_checked),
		T(test_state_parse),
		T(test_provision_new_ring),
		T(test_provision_given_ring),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
