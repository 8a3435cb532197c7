/*
 * ctl: the control socket server (protocol in doc/CONTROL.md; its framing,
 * version and reply helpers, shared with the client, in ctlproto.h).
 *
 * A bad request gets an error reply and its connection is closed, and
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

#include "ctlproto.h"

#define CTL_MAX_CLIENTS 128   /* connections at once, every uid together */
#define CTL_MAX_WATCHERS 64   /* of which watch streams */
#define CTL_MAX_PER_UID 32    /* connections of one non-root uid */
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

/*
 * Create the socket (removing a stale one, refusing one that answers).
 * Its directory, and every directory above it, must be owned by root or
 * by the daemon's user and not writable by group or others (a sticky
 * directory such as /tmp is allowed above the socket's own directory):
 * whoever can write there could swap the socket for a link.  The socket
 * gets mode 0660 from the umask at bind and its group without following
 * a link, so nothing ever changes the mode or owner of another file.
 */
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

/* Refuse a socket directory others could write: 0, or -1 with a message. */
int ctl_check_dir(const char *path, uid_t owner, char *err, size_t errlen);

size_t ctl_nclients(const struct ctl *c);
size_t ctl_nwatchers(const struct ctl *c);
uint64_t ctl_dropped_watchers(const struct ctl *c);

#endif
