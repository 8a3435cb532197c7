/*
 * fuzz_ctl: arbitrary bytes as one control request, through the server's
 * request decoder (ctl_decode_request) and the daemon's command table
 * (daemon_ctl_handle), as root (first byte odd) or as uid 65534.
 *
 * Every input starts from the same daemon: the keyring of tests/vectors,
 * no members, log level error; so a crash reproduces from its input
 * alone.  Every answer is a JSON object with a status, an error has one
 * of the documented codes, and no answer holds a key's secret unless the
 * request itself carried it (an error message may quote the request).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "daemon_ctl.h"
#include "../tests/unit/daemon_fixture.h"
#include "fuzz_common.h"

static struct daemon d;

static const char *const codes[] = {
	CTL_E_BAD_REQUEST, CTL_E_TOO_LARGE,  CTL_E_VERSION,   CTL_E_UNKNOWN_COMMAND,
	CTL_E_PERMISSION,  CTL_E_BUSY,       CTL_E_BAD_KEY,   CTL_E_NOT_FOUND,
	CTL_E_PRIMARY,     CTL_E_BAD_VALUE,
};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet(enum log_level level, const char *msg, void *arg)
{
	(void)level;
	(void)msg;
	(void)arg;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_hook(quiet, NULL);
	config_defaults(&d.cfg);
	strcpy(d.cfg.name, "fuzz");
	d.kr = fuzz_init_keyring();
	d.net.fd = -1;
	d.incarnation = 1000;
	daemon_init(&d, fixture_set_time(5000000, FUZZ_NOW));
	return 0;
}

static int known_code(const char *code)
{
	for (size_t i = 0; code && i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(code, codes[i]) == 0)
			return 1;
	return 0;
}

/* The reply's text holds none of the running ring's secrets the request did not. */
static void check_no_secret(const char *text, const uint8_t *data, size_t size)
{
	for (size_t i = 0; i < d.kr->nkeys; i++) {
		char hex[2 * KEYRING_KEY_BYTES + 1];

		sodium_bin2hex(hex, sizeof(hex), d.kr->keys[i].secret, KEYRING_KEY_BYTES);
		if (strstr(text, hex) && !memmem(data, size, hex, strlen(hex)))
			abort();
	}
}

static void check_reply(json_t *r, const uint8_t *data, size_t size)
{
	const char *status = json_string_value(json_object_get(r, "status"));
	char *text;

	if (!json_is_object(r) || status == NULL)
		abort();
	if (strcmp(status, "error") == 0 &&
	    (!known_code(json_string_value(json_object_get(r, "code"))) ||
	     !json_is_string(json_object_get(r, "error"))))
		abort();
	if (strcmp(status, "ok") != 0 && strcmp(status, "error") != 0)
		abort();
	if ((text = json_dumps(r, JSON_COMPACT)) == NULL)
		abort();
	check_no_secret(text, data, size);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_peer peer = { .pid = 1, .uid = 65534, .gid = 65534 };
	const char *command = NULL;
	json_t *req, *reply;
	int watch = 0;

	if (size == 0)
		return 0;
	if (data[0] & 1)
		peer.uid = peer.gid = 0;
	req = ctl_decode_request((const char *)data + 1, size - 1, &command);
	if (command == NULL) {
		check_reply(req, data, size);
		json_decref(req);
		return 0;
	}
	reply = daemon_ctl_handle(&d, command, req, &peer, &watch);
	json_decref(req);
	check_reply(reply, data, size);
	json_decref(reply);
	/* the next input starts from the same daemon */
	keyring_free(d.kr);
	d.kr = fuzz_init_keyring();
	log_set_level(LOG_LEVEL_ERROR);
	return 0;
}
