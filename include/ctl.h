/*
 * ctl: the control socket server (protocol in doc/CONTROL.md).
 *
 * A UNIX stream socket, mode 0660.  A client sends one request, a JSON
 * object on one line: {"version": 1, "command": "...", ...}.  The daemon
 * answers with one JSON line carrying "status" ("ok" or "error"), or,
 * for "watch", an ok line followed by one JSON line per event.  The
 * version, the framing and the length are checked before anything else;
 * a bad request gets an error reply and its connection is closed, and
 * nothing else is affected.  Clients are bounded in number, in request
 * size, in time to send a request and in unread output: a watch client
 * that does not read is dropped, never waited for.
 */
#ifndef CMEM_CTL_H
#define CMEM_CTL_H

#include <jansson.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CTL_VERSION 1
#define CTL_MAX_REQUEST 4096
#define CTL_MAX_CLIENTS 128
#define CTL_MAX_REPLY (8u << 20)
#define CTL_WATCH_BACKLOG (256u << 10)
#define CTL_REQUEST_TIMEOUT_MS 5000

struct ctl_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
};

/*
 * Called for each well-formed request.  Returns the reply (status set by
 * the handler, e.g. with ctl_error()), owned by the caller.  Setting
 * *watch makes the connection an event subscriber.
 */
typedef json_t *(*ctl_handler_fn)(void *arg, const char *command, json_t *req,
                                  const struct ctl_peer *peer, int *watch);

struct ctl;

/* Create the socket (removing a stale one, refusing one that answers). */
struct ctl *ctl_open(const char *path, const char *group, ctl_handler_fn fn, void *arg,
                     char *err, size_t errlen);
void ctl_close(struct ctl *c);

/* Poll set: fills at most max entries, returns how many. */
size_t ctl_pollfds(struct ctl *c, struct pollfd *pfd, size_t max);
/* Handle the events of the entries ctl_pollfds() filled. */
void ctl_process(struct ctl *c, const struct pollfd *pfd, size_t n, uint64_t now_ms);
/* Drop clients past their deadline. */
void ctl_expire(struct ctl *c, uint64_t now_ms);

/* Send one JSON line to every watch client. */
void ctl_broadcast(struct ctl *c, json_t *event);

size_t ctl_nclients(const struct ctl *c);
uint64_t ctl_dropped_watchers(const struct ctl *c);

/* Make jansson wipe what it frees: requests may carry key material. */
void ctl_json_wipe_on_free(void);

/* {"status": "error", "error": MSG} */
json_t *ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* {"status": "ok"} to add to */
json_t *ctl_ok(void);

#endif
