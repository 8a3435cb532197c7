/*
 * ctlproto: the control protocol's shared half (doc/CONTROL.md), what the
 * server (src/daemon/ctl.c) and the client (src/ctl/client.c) both need.
 *
 * A UNIX stream socket.  A client sends one request, a JSON object on one
 * line: {"version": 1, "command": "...", ...}.  The daemon answers with
 * one JSON line carrying "version" and "status" ("ok" or "error", the
 * latter with a stable "code" and a message), or, for "watch", an ok line
 * followed by one JSON line per event.  The version, the framing and the
 * length are checked before anything else, on both sides.
 */
#ifndef CMEM_CTLPROTO_H
#define CMEM_CTLPROTO_H

#include <jansson.h>
#include <stddef.h>

#define CTL_VERSION 1
/* room for a reload: 64 keys (about 100 bytes each as JSON) and the config */
#define CTL_MAX_REQUEST 16384
#define CTL_MAX_REPLY (8u << 20) /* one reply or event line, newline excluded */

/*
 * The stable, machine-readable "code" of an error reply (doc/CONTROL.md);
 * the "error" message beside it is for people and may change.
 */
#define CTL_E_BAD_REQUEST "bad_request"         /* framing, JSON, missing or wrong fields */
#define CTL_E_TOO_LARGE "too_large"             /* request or reply over its limit */
#define CTL_E_VERSION "unsupported_version"     /* another control protocol version */
#define CTL_E_UNKNOWN_COMMAND "unknown_command" /* no such command or action */
#define CTL_E_PERMISSION "permission_denied"    /* the command needs root */
#define CTL_E_BUSY "busy"                       /* a client limit is reached */
#define CTL_E_BAD_KEY "bad_key"                 /* a key or keyring the daemon refuses */
#define CTL_E_NOT_FOUND "not_found"             /* no such key id */
#define CTL_E_PRIMARY "primary_key"             /* the primary key cannot be removed */
#define CTL_E_BAD_VALUE "bad_value"             /* a field's value is out of range */

/* Make jansson wipe what it frees: requests may carry key material. */
void ctl_json_wipe_on_free(void);

/* {"version": 1, "command": command}, to add a request's fields to */
json_t *ctl_request(const char *command);
/* {"status": "error", "code": CODE, "error": MSG}; CODE one of CTL_E_* */
json_t *ctl_error(const char *code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* {"status": "ok"} to add to */
json_t *ctl_ok(void);

/*
 * One line of the protocol: obj as compact JSON and "\n" ("version" is
 * added if obj has none).  Returns the text (free it; wipe it first if
 * it carries keys) with its length in *len, or NULL if it cannot be
 * encoded.
 */
char *ctl_line(json_t *obj, size_t *len);

/*
 * The checks every request line (without its newline) passes first: JSON
 * object, integer version 1, string command.  Returns the request with
 * *command set, or an error reply with *command left NULL.
 */
json_t *ctl_decode_request(const char *line, size_t len, const char **command);

enum ctl_reply_check {
	CTL_REPLY_OK,         /* version 1, status "ok" */
	CTL_REPLY_NO_VERSION, /* no integer "version": not a cmemd socket? */
	CTL_REPLY_VERSION,    /* another version: not read further, its fields may differ */
	CTL_REPLY_ERROR,      /* status "error" (or none): "code" and "error" say why */
};

/* A client's checks of a reply (a JSON object), in order: version, then status. */
enum ctl_reply_check ctl_check_reply(json_t *reply);

#endif
