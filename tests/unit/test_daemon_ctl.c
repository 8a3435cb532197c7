/*
 * Unit tests: the control command table (src/daemon/daemon_ctl.c) driven through
 * daemon_ctl_handle() on a struct daemon set up as test_daemon.c does:
 * the root-only rows, the stable error codes, the `keys install | use |
 * remove` and `reload` error paths (each leaves the running ring and log
 * level as they were), a 64-key ring, and every command documented.
 */
#include "testutil.h"

#include "daemon_ctl.h"
#include "daemon_fixture.h"
#include "util.h"

#define NOW_MS 5000000u
#define NOW_S 1764172800u

static struct daemon d;
static const struct ctl_peer root = { .pid = 100, .uid = 0, .gid = 0 };
static const struct ctl_peer nobody = { .pid = 200, .uid = 65534, .gid = 65534 };

static int setup(void **state)
{
	(void)state;
	assert_true(sodium_init() >= 0);
	memset(&d, 0, sizeof(d));
	config_defaults(&d.cfg);
	snprintf(d.cfg.name, sizeof(d.cfg.name), "self");
	d.kr = tu_vector_keyring();
	d.net.fd = -1;
	d.incarnation = 1000;
	daemon_init(&d, fixture_set_time(NOW_MS, NOW_S));
	log_set_level(LOG_LEVEL_WARN);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	daemon_fini(&d);
	keyring_free(d.kr);
	return 0;
}

/* The reply to the request text, as peer. */
static json_t *call(const struct ctl_peer *peer, const char *text)
{
	json_error_t jerr;
	json_t *req = json_loads(text, 0, &jerr), *r;
	int watch = 0;

	if (req == NULL)
		fail_msg("test request does not parse: %s: %s", jerr.text, text);
	r = daemon_ctl_handle(&d, json_string_value(json_object_get(req, "command")), req, peer, &watch);
	json_decref(req);
	assert_non_null(r);
	return r;
}

/* The reply is an error with this code and a message holding msg. */
static void expect_error(json_t *r, const char *code, const char *msg)
{
	const char *e = json_string_value(json_object_get(r, "error"));

	assert_string_equal(json_string_value(json_object_get(r, "status")), "error");
	assert_non_null(e);
	if (strstr(e, msg) == NULL)
		fail_msg("error '%s' lacks '%s'", e, msg);
	assert_string_equal(json_string_value(json_object_get(r, "code")), code);
	json_decref(r);
}

#define EXPECT(peer, req, code, msg) expect_error(call((peer), (req)), (code), (msg))

static void expect_ok(json_t *r)
{
	if (strcmp(json_string_value(json_object_get(r, "status")), "ok") != 0)
		fail_msg("error reply: %s", json_string_value(json_object_get(r, "error")));
	json_decref(r);
}

/* The vector ring as loaded: keys 1 (primary) and 2. */
static void expect_ring_unchanged(const struct keyring *kr)
{
	assert_ptr_equal(d.kr, kr);
	assert_int_equal(d.kr->nkeys, 2);
	assert_int_equal(keyring_primary(d.kr)->id, 1);
	assert_non_null(keyring_find(d.kr, 2));
}

static const char *const bad_installs[][3] = {
	{ "{\"command\":\"keys\",\"action\":\"install\"}", "bad_key", "the request carries no keys" },
	{ "{\"command\":\"keys\",\"action\":\"install\",\"keys\":[]}", "bad_key", "carries no keys" },
	{ "{\"command\":\"keys\",\"action\":\"install\",\"keys\":{}}", "bad_key", "carries no keys" },
	{ "{\"command\":\"keys\",\"action\":\"install\",\"keys\":[{\"id\":0,\"secret\":\"" TEST_KEY1_HEX
	  "\",\"primary\":true}]}", "bad_key", "key 1 of the request: the id must be an integer from 1 to 65535" },
	{ "{\"command\":\"keys\",\"action\":\"install\",\"keys\":[{\"id\":65536,\"secret\":\"" TEST_KEY1_HEX
	  "\",\"primary\":true}]}", "bad_key", "the id must be an integer" },
	{ "{\"command\":\"keys\",\"action\":\"install\",\"keys\":[{\"id\":\"3\",\"secret\":\"" TEST_KEY1_HEX
	  "\",\"primary\":true}]}", "bad_key", "the id must be an integer" },
	{ "{\"command\":\"keys\",\"action\":\"install\",\"keys\":[{\"id\":3,\"secret\":\"abcd\","
	  "\"primary\":true}]}", "bad_key", "key 1 of the request (id 3): the secret must be 64 hex digits" },
	{ "{\"command\":\"keys\",\"action\":\"install\",\"keys\":[{\"id\":3,\"secret\":\"zz"
	  "2b3f68a179d7401c9914ab6812df21aff82a40e1979c4738912b4263490584\",\"primary\":true}]}",
	  "bad_key", "the secret must be 64 hex digits" },
	{ "{\"command\":\"keys\",\"action\":\"install\",\"keys\":[{\"id\":3,\"primary\":true}]}",
	  "bad_key", "the secret must be 64 hex digits" },
	{ "{\"command\":\"keys\",\"action\":\"install\",\"keys\":[{\"id\":3,\"secret\":\"" TEST_KEY1_HEX
	  "\",\"primary\":true},{\"id\":3,\"secret\":\"" TEST_KEY2_HEX "\"}]}", "bad_key",
	  "key 2 of the request: its id is a duplicate" },
	{ "{\"command\":\"keys\",\"action\":\"install\",\"keys\":[{\"id\":3,\"secret\":\"" TEST_KEY1_HEX
	  "\"},{\"id\":4,\"secret\":\"" TEST_KEY2_HEX "\"}]}", "bad_key",
	  "the keyring must have exactly one primary key, not 0" },
	{ "{\"command\":\"keys\",\"action\":\"install\",\"keys\":[{\"id\":3,\"secret\":\"" TEST_KEY1_HEX
	  "\",\"primary\":true},{\"id\":4,\"secret\":\"" TEST_KEY2_HEX "\",\"primary\":true}]}",
	  "bad_key", "exactly one primary key, not 2" },
};

static void test_keys_install_errors(void **state)
{
	const struct keyring *kr = d.kr;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad_installs); i++) {
		EXPECT(&root, bad_installs[i][0], bad_installs[i][1], bad_installs[i][2]);
		expect_ring_unchanged(kr);
	}
}

/* A request installing n keys (ids 1..n, key 1 primary); malloc'd. */
static char *ring_request(const char *command, size_t n, const char *extra)
{
	size_t cap = 128 + n * 128 + strlen(extra), len;
	char *s = malloc(cap);

	assert_non_null(s);
	len = (size_t)snprintf(s, cap, "{\"command\":\"%s\",\"action\":\"install\",%s\"keys\":[",
	                       command, extra);
	for (size_t i = 1; i <= n; i++) {
		uint8_t secret[KEYRING_KEY_BYTES];
		char hex[2 * KEYRING_KEY_BYTES + 1];

		randombytes_buf(secret, sizeof(secret));
		sodium_bin2hex(hex, sizeof(hex), secret, sizeof(secret));
		len += (size_t)snprintf(s + len, cap - len, "%s{\"id\":%zu,\"secret\":\"%s\",\"primary\":%s}",
		                        i > 1 ? "," : "", i, hex, i == 1 ? "true" : "false");
	}
	snprintf(s + len, cap - len, "]}");
	return s;
}

static void test_keys_install_64_and_65(void **state)
{
	const struct keyring *kr = d.kr;
	char *req65 = ring_request("keys", KEYRING_MAX_KEYS + 1, ""), *req64;
	json_t *r;

	(void)state;
	EXPECT(&root, req65, "bad_key", "key 65 of the request: more than 64 keys");
	expect_ring_unchanged(kr);
	req64 = ring_request("keys", KEYRING_MAX_KEYS, "");
	/* what cmemctl sends for it fits the control socket's request limit */
	assert_true(strlen(req64) + 40 < CTL_MAX_REQUEST);
	r = call(&root, req64);
	assert_string_equal(json_string_value(json_object_get(r, "status")), "ok");
	assert_int_equal(json_array_size(json_object_get(r, "keys")), KEYRING_MAX_KEYS);
	assert_int_equal(json_integer_value(json_object_get(r, "primary")), 1);
	json_decref(r);
	assert_int_equal(d.kr->nkeys, KEYRING_MAX_KEYS);
	free(req64);
	free(req65);
}

static void test_keys_use_errors(void **state)
{
	const struct keyring *kr = d.kr;

	(void)state;
	EXPECT(&root, "{\"command\":\"keys\",\"action\":\"use\"}", "bad_request",
	       "keys use: the request carries no integer key id");
	EXPECT(&root, "{\"command\":\"keys\",\"action\":\"use\",\"id\":\"2\"}", "bad_request",
	       "no integer key id");
	EXPECT(&root, "{\"command\":\"keys\",\"action\":\"use\",\"id\":7}", "not_found",
	       "keys use: no key with id 7 in the keyring");
	EXPECT(&root, "{\"command\":\"keys\",\"action\":\"use\",\"id\":0}", "not_found", "no key with id 0");
	EXPECT(&root, "{\"command\":\"keys\",\"action\":\"use\",\"id\":70000}", "not_found",
	       "no key with id 70000");
	expect_ring_unchanged(kr);
	expect_ok(call(&root, "{\"command\":\"keys\",\"action\":\"use\",\"id\":2}"));
	assert_int_equal(keyring_primary(d.kr)->id, 2);
}

static void test_keys_remove_errors(void **state)
{
	const struct keyring *kr = d.kr;

	(void)state;
	EXPECT(&root, "{\"command\":\"keys\",\"action\":\"remove\"}", "bad_request",
	       "keys remove: the request carries no integer key id");
	EXPECT(&root, "{\"command\":\"keys\",\"action\":\"remove\",\"id\":9}", "not_found",
	       "keys remove: no key with id 9 in the keyring");
	EXPECT(&root, "{\"command\":\"keys\",\"action\":\"remove\",\"id\":1}", "primary_key",
	       "keys remove: key 1 is the primary; make another key primary first");
	expect_ring_unchanged(kr);
	expect_ok(call(&root, "{\"command\":\"keys\",\"action\":\"remove\",\"id\":2}"));
	assert_int_equal(d.kr->nkeys, 1);
	assert_null(keyring_find(d.kr, 2));
}

static void test_keys_actions(void **state)
{
	json_t *r;

	(void)state;
	EXPECT(&root, "{\"command\":\"keys\",\"action\":\"rotate\"}", "unknown_command",
	       "unknown keys action 'rotate': use list, install, use or remove");
	EXPECT(&root, "{\"command\":\"keys\",\"action\":5}", "bad_request", "\"action\" must be a string");
	EXPECT(&root, "{\"command\":\"frobnicate\"}", "unknown_command", "unknown command 'frobnicate'");
	/* list is the default action, and read-only */
	r = call(&nobody, "{\"command\":\"keys\"}");
	assert_int_equal(json_integer_value(json_object_get(r, "primary")), 1);
	assert_int_equal(json_array_size(json_object_get(r, "keys")), 2);
	json_decref(r);
	expect_ok(call(&nobody, "{\"command\":\"keys\",\"action\":\"list\"}"));
}

/* Every root-only row refuses uid 65534 before its handler runs. */
static void test_root_only_rows(void **state)
{
	size_t nroot = 0;

	(void)state;
	for (size_t i = 0; i < daemon_ctl_table_size; i++) {
		const struct daemon_ctl_command *row = &daemon_ctl_table[i];
		char req[256], msg[128];

		snprintf(req, sizeof(req), "{\"command\":\"%s\",\"action\":\"%s\",\"id\":2,\"level\":\"debug\"}",
		         row->name, row->action ? row->action : "");
		if (!row->needs_root) {
			json_t *r = call(&nobody, req);

			assert_string_equal(json_string_value(json_object_get(r, "status")), "ok");
			json_decref(r);
			continue;
		}
		nroot++;
		snprintf(msg, sizeof(msg), "permission denied: %s needs root (uid 0), you are uid 65534",
		         row->what);
		EXPECT(&nobody, req, "permission_denied", msg);
	}
	assert_int_equal(nroot, 5); /* loglevel, keys install/use/remove, reload */
	expect_ring_unchanged(d.kr);
	assert_int_equal(log_get_level(), LOG_LEVEL_WARN);
}

static void test_reload_errors_keep_state(void **state)
{
	const struct keyring *kr = d.kr;
	char *req;

	(void)state;
	EXPECT(&root, "{\"command\":\"reload\"}", "bad_request", "reload: the request carries no \"config\" object");
	req = ring_request("reload", 2, "\"config\":{\"log_level\":\"loud\"},");
	EXPECT(&root, req, "bad_value", "unknown log level 'loud'");
	free(req);
	req = ring_request("reload", 2, "\"config\":{\"log_level\":\"debug\",\"group\":\"239.1.1.1\"},");
	EXPECT(&root, req, "bad_value", "reload: option 'group' cannot be changed while cmemd runs");
	free(req);
	/* a bad ring: the (valid) log level is not applied either */
	EXPECT(&root, "{\"command\":\"reload\",\"config\":{\"log_level\":\"debug\"},\"keys\":[]}",
	       "bad_key", "reload: the request carries no keys");
	expect_ring_unchanged(kr);
	assert_int_equal(log_get_level(), LOG_LEVEL_WARN);
}

static void test_reload_applies(void **state)
{
	char *req = ring_request("reload", 3, "\"file\":\"/etc/cmem/cmemd.conf\","
	                                      "\"config\":{\"log_level\":\"error\"},");
	json_t *r = call(&root, req);

	(void)state;
	assert_string_equal(json_string_value(json_object_get(r, "status")), "ok");
	assert_string_equal(json_string_value(json_object_get(r, "log_level")), "error");
	assert_int_equal(json_array_size(json_object_get(r, "keys")), 3);
	json_decref(r);
	assert_int_equal(log_get_level(), LOG_LEVEL_ERROR);
	assert_int_equal(d.kr->nkeys, 3);
	free(req);
}

/* doc/CONTROL.md has a section for every command of the table. */
static void test_every_command_documented(void **state)
{
	char *doc = tu_read_file("../doc/CONTROL.md", NULL);

	(void)state;
	assert_non_null(doc);
	for (size_t i = 0; i < daemon_ctl_table_size; i++) {
		const struct daemon_ctl_command *row = &daemon_ctl_table[i];
		char heading[64];

		if (row->action)
			snprintf(heading, sizeof(heading), "\n### `%s %s`", row->name, row->action);
		else
			snprintf(heading, sizeof(heading), "\n### `%s`", row->name);
		if (strstr(doc, heading) == NULL)
			fail_msg("doc/CONTROL.md has no section %s", heading + 1);
	}
	for (const char *const *code = (const char *const[]){ CTL_E_BAD_REQUEST, CTL_E_TOO_LARGE,
	         CTL_E_VERSION, CTL_E_UNKNOWN_COMMAND, CTL_E_PERMISSION, CTL_E_BUSY, CTL_E_BAD_KEY,
	         CTL_E_NOT_FOUND, CTL_E_PRIMARY, CTL_E_BAD_VALUE, NULL };
	     *code; code++) {
		char cell[64];

		snprintf(cell, sizeof(cell), "| `%s` |", *code);
		if (strstr(doc, cell) == NULL)
			fail_msg("doc/CONTROL.md does not describe the error code %s", *code);
	}
	free(doc);
}

#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_keys_install_errors),
		T(test_keys_install_64_and_65),
		T(test_keys_use_errors),
		T(test_keys_remove_errors),
		T(test_keys_actions),
		T(test_root_only_rows),
		T(test_reload_errors_keep_state),
		T(test_reload_applies),
		T(test_every_command_documented),
	};

	return cmocka_run_group_tests_name("daemon_ctl", tests, NULL, NULL);
}
