/*
 * daemon_state: the inside of struct daemon, for daemon.c, daemon_ctl.c,
 * cmemd's start-up (which fills it: sockets, keys, confinement) and the
 * white-box unit tests.  Everything else (the simulator, the fuzz targets
 * through the fixture) goes through daemon.h.
 */
#ifndef CMEM_DAEMON_STATE_H
#define CMEM_DAEMON_STATE_H

#include "daemon.h"
#include "log.h"
#include "net.h"
#include "notify.h"

/* An authenticated sender whose lines are dropped (e.g. its clock is off). */
struct rejected_sender {
	char name[WIRE_NAME_MAX + 1];
	struct member_addr addr;
	int64_t skew_s;
	uint64_t lines;
	uint64_t last_ms;
};

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
	void *send_arg;
	const struct clock *clk;      /* every time the daemon reads */
	struct sched *sched;          /* its timers and descriptors */
	int t_heartbeat, t_tick, t_reply, t_report, t_notify, t_rxhold, t_leave, t_log; /* timer ids */
	int fd_net, fd_netlink;       /* descriptor ids, for pacing and leave */
	unsigned leaves_left;         /* leave copies still to send */
	uint64_t last_report_ms;      /* the last drop report (one a second at most) */
	struct notify notify;         /* the service manager, if any */
	/* our identity on the wire */
	uint64_t incarnation;
	uint64_t prev_incarnation; /* before a wall clock step: its lines are ours */
	uint64_t counter;
	struct member_addr self_addr;
	int64_t clock_offset_us;   /* wall clock minus monotonic, to see steps */
	unsigned heartbeat_ms;     /* current interval (adaptive) */
	uint64_t start_ms, start_s; /* CLOCK_MONOTONIC ms, wall clock s */
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
	struct log_ratelimit rl_event; /* membership events: a forged flood of them too */
	struct rejected_sender rejected[DAEMON_REJECTED_MAX];
};

/*
 * Prepare the run-time state of D, filled by the caller (configuration,
 * keyring, sockets or a send seam), reading CLK: members, scheduler and
 * timers.  The incarnation is the clock's wall time in microseconds unless
 * set; d->send defaults to the network.  daemon_fini() undoes it.
 */
void daemon_init(struct daemon *d, const struct clock *clk);
void daemon_fini(struct daemon *d);

/* SIGHUP: re-read the log level from the configuration's path (and only that). */
void daemon_sighup(struct daemon *d);

#endif
