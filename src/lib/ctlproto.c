/* ctlproto: the control protocol's framing, version and reply helpers. */
#include "ctlproto.h"

#include <malloc.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static void wipe_free(void *p)
{
	if (p) {
		sodium_memzero(p, malloc_usable_size(p));
		free(p);
	}
}

void ctl_json_wipe_on_free(void)
{
	json_set_alloc_funcs(malloc, wipe_free);
}

json_t *ctl_request(const char *command)
{
	return json_pack("{s:i, s:s}", "version", CTL_VERSION, "command", command);
}

json_t *ctl_ok(void)
{
	return json_pack("{s:s}", "status", "ok");
}

json_t *ctl_error(const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* the message may quote the request (a parser's "near '...'") and be cut
	 * anywhere: keep it printable ASCII, so that it is always a JSON string */
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	return json_pack("{s:s, s:s, s:s}", "status", "error", "code", code, "error", msg);
}

char *ctl_line(json_t *obj, size_t *len)
{
	char *s, *line;

	if (json_object_get(obj, "version") == NULL)
		json_object_set_new(obj, "version", json_integer(CTL_VERSION));
	if ((s = json_dumps(obj, JSON_COMPACT)) == NULL)
		return NULL;
	*len = strlen(s);
	line = xmalloc(*len + 2);
	memcpy(line, s, *len);
	line[(*len)++] = '\n';
	line[*len] = '\0';
	wipe_free(s); /* it may carry keys */
	return line;
}

json_t *ctl_decode_request(const char *line, size_t len, const char **command)
{
	json_error_t jerr;
	json_t *req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr), *v;

	if (req == NULL)
		return ctl_error(CTL_E_BAD_REQUEST, "malformed request: %s", jerr.text);
	if (!json_is_object(req)) {
		json_decref(req);
		return ctl_error(CTL_E_BAD_REQUEST, "malformed request: not a JSON object");
	}
	v = json_object_get(req, "version");
	if (!json_is_integer(v)) {
		json_decref(req);
		return ctl_error(CTL_E_BAD_REQUEST, "request carries no protocol version");
	}
	if (json_integer_value(v) != CTL_VERSION) {
		json_t *e = ctl_error(CTL_E_VERSION, "control protocol version %lld is not supported: "
		                      "this cmemd speaks version %d (use a matching cmemctl)",
		                      (long long)json_integer_value(v), CTL_VERSION);

		json_decref(req);
		return e;
	}
	v = json_object_get(req, "command");
	if (!json_is_string(v)) {
		json_decref(req);
		return ctl_error(CTL_E_BAD_REQUEST, "request names no command");
	}
	*command = json_string_value(v);
	return req;
}

enum ctl_reply_check ctl_check_reply(json_t *reply)
{
	json_t *v = json_object_get(reply, "version");
	const char *st = json_string_value(json_object_get(reply, "status"));

	if (!json_is_integer(v))
		return CTL_REPLY_NO_VERSION;
	if (json_integer_value(v) != CTL_VERSION)
		return CTL_REPLY_VERSION;
	return st && strcmp(st, "ok") == 0 ? CTL_REPLY_OK : CTL_REPLY_ERROR;
}
