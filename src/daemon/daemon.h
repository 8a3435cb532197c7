/*
 * daemon: cmemd's state and its one poll loop.
 *
 * Start-up (src/cmemd.c) fills a struct daemon in the order of STYLE.md;
 * daemon_run() then owns it: heartbeats, the receive path, join replies,
 * failure detection, signals and the control socket, all from one poll.
 */
#ifndef CMEM_DAEMON_H
#define CMEM_DAEMON_H

#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "ctl.h"
#include "keyring.h"
#include "log.h"
#include "members.h"
#include "net.h"
#include "notify.h"
#include "stats.h"

/* An authenticated sender whose lines are dropped (e.g. its clock is off). */
struct rejected_sender {
	char name[WIRE_NAME_MAX + 1];
	struct member_addr addr;
	int64_t skew_s;
	uint64_t lines;
	uint64_t last_ms;
};

#define DAEMON_REJECTED_MAX 8
#define DAEMON_REJECTED_SHOW_MS 60000
#define DAEMON_LEAVE_MIN 3         /* leave is sent this often at least, ... */
#define DAEMON_LEAVE_MAX 16        /* ... at most, a (fastest) heartbeat apart */
#define DAEMON_CLOCK_STEP_US 1000000 /* a wall clock step larger than this is a new start */
#define DAEMON_RX_BUSY 1000        /* lines a second past which reads are paced: twice the
                                    * 500 a cluster's heartbeats are planned for */
#define DAEMON_RX_HOLD_MS 2        /* ... by leaving the socket alone this long after a read */

struct daemon;

/* Where a line goes: everyone (the group and the unicast peers), the group
 * only (a join reply that can silence the others), one verified peer (within
 * its credit if not validated), or a probe peers_probes_due allowed. */
enum daemon_dest { DEST_ALL = 0, DEST_GROUP, DEST_ONE, DEST_PROBE };

/*
 * The send seam: every datagram the daemon sends goes through this (TO is
 * set for DEST_ONE only).  Returns 0 or -1 (errno set).  Tests replace it.
 */
typedef int (*daemon_send_fn)(struct daemon *d, enum daemon_dest dest,
                              const struct member_addr *to, const void *line, size_t len);

struct daemon {
	struct cmem_config cfg;
	const char *config_path;
	struct keyring *kr;
	struct net net;
	struct ctl *ctl;
	struct members *members;
	struct stats stats;
	int sigfd;
	int running;
	daemon_send_fn send;
	struct notify notify;         /* the service manager, if any */
	/* our identity on the wire */
	uint64_t incarnation;
	uint64_t prev_incarnation; /* before a wall clock step: its lines are ours */
	uint64_t counter;
	struct member_addr self_addr;
	int64_t clock_offset_us;   /* wall clock minus monotonic, to see steps */
	unsigned heartbeat_ms;     /* current interval (adaptive) */
	/* timers, CLOCK_MONOTONIC ms */
	uint64_t start_ms, start_s;
	uint64_t next_heartbeat_ms;
	uint64_t next_tick_ms;
	uint64_t next_report_ms;
	int reply_pending;
	uint64_t reply_due_ms;
	uint64_t replies_suppressed;
	/* read pacing (daemon_rx_pace) */
	uint64_t rx_window_ms;     /* start of the current second of counting */
	uint64_t rx_window_lines;  /* datagrams read in it */
	int rx_busy;               /* the last second brought more than DAEMON_RX_BUSY */
	uint64_t rx_hold_until_ms; /* the socket is not polled before this */
	/* confinement, for `status` */
	int chrooted;
	char chroot_dir[CONFIG_PATH_MAX];
	struct log_ratelimit rl_conflict, rl_full, rl_stale, rl_send, rl_shadow, rl_recv;
	struct rejected_sender rejected[DAEMON_REJECTED_MAX];
};

/* Prepare the run-time state once sockets and keys are in place
 * (d->incarnation set; d->send defaults to the network). */
void daemon_init(struct daemon *d, uint64_t now_ms, uint64_t now_s);

/* The poll loop; returns the exit status when told to stop. */
int daemon_run(struct daemon *d);

/*
 * The receive path, the only one: one datagram from SRC, arrived at now_ms
 * (monotonic) / now_s (wall clock).  Envelope checks 1-4 (wire), our own
 * lines, then members_receive (sender looked up once, replay check, body
 * parsed once, state updated in one place, events), then what the daemon
 * does about it (join reply, peers learned).
 */
void daemon_receive(struct daemon *d, const uint8_t *buf, size_t len,
                    const struct member_addr *src, uint64_t now_ms, uint64_t now_s);

/*
 * After a wake-up that read N datagrams at NOW_MS.  When the last second
 * brought more than DAEMON_RX_BUSY of them (thousands of members, or a
 * flood), the socket is left alone for DAEMON_RX_HOLD_MS, so that the next
 * wake-up reads a batch instead of one: a wake-up costs more than a line.
 * Arrival times come from the kernel, so the detector does not see the
 * wait; a cluster within its line budget is never held.
 */
void daemon_rx_pace(struct daemon *d, unsigned n, uint64_t now_ms);

/* Watch the wall clock against the monotonic one: a step starts a new
 * incarnation (PROTOCOL.md 4.2).  Returns 1 if it did. */
int daemon_check_clock(struct daemon *d, uint64_t mono_us, uint64_t real_us);

/* Timers due at now: heartbeat, failure detection, join reply, drop report. */
void daemon_timers(struct daemon *d, uint64_t now_ms, uint64_t now_s);

/* Sign one line with the primary key and send it to DEST (TO for DEST_ONE). */
int daemon_send(struct daemon *d, enum wire_verb verb, const char *body, size_t len,
                enum daemon_dest dest, const struct member_addr *to);

/* Send our `cluster` view, split to fit datagrams. */
void daemon_send_cluster(struct daemon *d, enum daemon_dest dest, const struct member_addr *to);

/* The default send: the network (net_send, net_send_group, net_send_to). */
int daemon_send_net(struct daemon *d, enum daemon_dest dest, const struct member_addr *to,
                    const void *line, size_t len);

/* A datagram's arrival time from its kernel timestamp (0: none), on both clocks. */
void daemon_arrival(uint64_t rx_real_ns, uint64_t read_mono_ms, uint64_t read_real_ns,
                    uint64_t *at_ms, uint64_t *at_s);

/* Control request dispatch (src/daemon_ctl.c). */
json_t *daemon_ctl_handle(void *arg, const char *command, json_t *req,
                          const struct ctl_peer *peer, int *watch);
/* Membership event → log and watchers. */
void daemon_event(void *arg, enum member_event ev, const struct member *m, const char *detail);

#endif
