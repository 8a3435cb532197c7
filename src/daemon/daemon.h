/*
 * daemon: cmemd's protocol engine and its one loop.
 *
 * The public face: a daemon built from a configuration, a keyring, a clock
 * and a send seam, with no sockets (daemon_new: the unit tests and the
 * simulator), fed datagrams through daemon_receive (the one receive path,
 * arrival time injected) and driven by the timers it registered with its
 * scheduler (daemon_sched).  Every time it uses comes from its clock.
 * cmemd's start-up fills the state itself (daemon_state.h) and calls
 * daemon_run(), the poll loop over the same scheduler.
 */
#ifndef CMEM_DAEMON_H
#define CMEM_DAEMON_H

#include <stdint.h>
#include <sys/types.h>

#include "clock.h"
#include "config.h"
#include "ctl.h"
#include "keyring.h"
#include "members.h"
#include "scheduler.h"
#include "stats.h"

#define DAEMON_REJECTED_MAX 8
#define DAEMON_REJECTED_SHOW_MS 60000
#define DAEMON_EVENT_LOG_BURST 20  /* membership events logged a second; the rest counted */
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

/*
 * A daemon without sockets: CFG copied, KR kept by the caller, CLK (kept
 * by the caller) read for every time, every datagram handed to SEND
 * (daemon_send_arg() gives SEND_ARG back to it).  Its incarnation is the
 * clock's wall time in microseconds; its timers are armed (daemon_sched:
 * the first heartbeat a heartbeat_ms ahead, as in cmemd, where daemon_run
 * starts at once); call daemon_start() before its first timer is due.
 */
struct daemon *daemon_new(const struct cmem_config *cfg, struct keyring *kr,
                          const struct clock *clk, daemon_send_fn send, void *send_arg);
void daemon_free(struct daemon *d);
void *daemon_send_arg(const struct daemon *d);
struct sched *daemon_sched(struct daemon *d);
struct members *daemon_members(struct daemon *d);
const struct stats *daemon_stats(const struct daemon *d);
const char *daemon_name(const struct daemon *d);
uint64_t daemon_incarnation(const struct daemon *d);
/* The address this node advertises in its `cluster` lines (cmemd: the
 * socket's; a daemon from daemon_new has none until this is called). */
void daemon_set_address(struct daemon *d, const struct member_addr *a);
/* The heartbeat interval in use now (adaptive). */
unsigned daemon_heartbeat_ms(const struct daemon *d);

/* Join: cjoin and a first alive (what daemon_run does first). */
void daemon_start(struct daemon *d);
/*
 * Leave: the heartbeat, failure and report timers stop and `leave` is
 * sent members_leave_copies() times, a heartbeat apart, from a timer of
 * the scheduler; daemon_leaving() says whether copies remain.
 */
void daemon_leave(struct daemon *d);
int daemon_leaving(const struct daemon *d);

/* Run the timers due at the clock's now (sched_run_due), then the service
 * manager's (the simulator's and the tests' step; daemon_run polls). */
void daemon_timers(struct daemon *d);

/* A join reply is pending (a cjoin was heard, the answer not sent yet). */
int daemon_reply_pending(const struct daemon *d);

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
