/*
 * client: the one control client, used by every cmemctl command and by
 * `watch` (hook.c).  It connects, sends a request, reads the reply line
 * and checks its version and status (ctlproto.h); then, for `watch`, it
 * reads the event lines that follow.
 *
 * Nothing waits forever.  Connecting, sending a request and reading its
 * reply each have a deadline (CLIENT_TIMEOUT_MS unless set): a daemon
 * that stops answering is an error (CLIENT_UNREACHABLE, exit status 3)
 * with a message saying so.  An event stream may stay idle as long as it
 * likes, but a line begun must be finished within the same time.  A line
 * is at most CTL_MAX_REPLY bytes.
 *
 * Messages name the socket; text that came from it is escaped
 * (ctlfmt_escape) before it is put in one.
 */
#ifndef CMEM_CLIENT_H
#define CMEM_CLIENT_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "clock.h"
#include "ctlproto.h"

#define CLIENT_TIMEOUT_MS 5000 /* connect, send a request, read a reply or finish a line */
#define CLIENT_ERRLEN 512

/* Each value is cmemctl's exit status for it. */
enum client_status {
	CLIENT_OK = 0,
	CLIENT_ERROR = 1,       /* the daemon answered with an error, or garbage */
	CLIENT_UNREACHABLE = 3, /* no daemon there, it closed, or it did not answer in time */
};

struct client {
	const char *path;
	uint64_t timeout_ms;
	const struct clock *clk;  /* deadlines on its monotonic reading */
	int fd;                   /* -1 when not connected */
	char *buf;
	size_t off, len, cap;   /* buf[off..len) read, not yet taken */
	int partial;            /* buf ends in an unfinished line ... */
	uint64_t line_since_ms; /* ... begun then */
	int refused;            /* the last failure was connect(): the hint applies */
	char err[CLIENT_ERRLEN];
};

/* Not connected yet; timeout_ms 0 means CLIENT_TIMEOUT_MS. */
void client_init(struct client *c, const char *path, uint64_t timeout_ms,
                 const struct clock *clk); /* NULL: clock_system */
/* Close the connection (the buffer stays for the next one). */
void client_close(struct client *c);
/* Close and free. */
void client_fini(struct client *c);

/* Flags of client_ask() */
#define CLIENT_TO_ROOT 1 /* the request carries secrets: only a root listener gets it */

/*
 * Connect, send req, read the reply and check it.  CLIENT_OK with *reply
 * set (the caller owns it), or the failure with c->err set.  The
 * connection stays open for what follows (watch); client_close() it.
 */
enum client_status client_ask(struct client *c, json_t *req, int flags, json_t **reply);

/*
 * The stream after the reply.  client_fill() reads what has arrived
 * without waiting: 1 data or nothing yet, 0 end of stream, -1 error
 * (c->err).  client_next() takes the next whole line: 1 and *out set, 0
 * none yet, -1 a garbled or over-long line (c->err).
 */
int client_fill(struct client *c);
int client_next(struct client *c, json_t **out);
/*
 * At time now: the ms until an unfinished line is overdue (-1 if there is
 * none), and 1 if it is overdue already (c->err says so).
 */
int client_line_wait(const struct client *c, uint64_t now);
int client_line_overdue(struct client *c, uint64_t now);

/* "\n  is cmemd running ...?" after a failed connect, else "". */
const char *client_hint(const struct client *c);

#endif
