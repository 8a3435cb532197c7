/*
 * daemon_ctl: cmemd's answers to control requests (doc/CONTROL.md).
 *
 * One table, one row per command (and per `keys` action): its handler and
 * whether it needs root.  daemon_ctl_handle() (declared in daemon.h, the
 * ctl_handler_fn of the control socket) finds the row, checks the peer's
 * SO_PEERCRED uid once for the rows that need root, and calls the
 * handler.  Every error reply carries a stable `code` (CTL_E_*).
 */
#ifndef CMEM_DAEMON_CTL_H
#define CMEM_DAEMON_CTL_H

#include <stdint.h>

#include "daemon.h"
#include "version.h"

/* One row of the command table. */
struct daemon_ctl_command {
	const char *name;   /* the request's "command" */
	const char *action; /* the request's "action" ("keys" only), else NULL */
	json_t *(*fn)(struct daemon *d, json_t *req, const struct ctl_peer *peer, int *watch);
	int needs_root;     /* refused unless the peer's uid is 0 */
	const char *what;   /* for the refusal: "WHAT needs root" */
};

extern const struct daemon_ctl_command daemon_ctl_table[];
extern const size_t daemon_ctl_table_size;

#endif
