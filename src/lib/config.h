/*
 * config: cmemd's configuration file (libconfig syntax).
 *
 * Every option has a default; an unknown option, a wrong type or an
 * out-of-range value is refused with the file, the line and the reason.
 */
#ifndef CMEM_CONFIG_H
#define CMEM_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "name.h"

#define CONFIG_DEFAULT_FILE "/etc/cmem/cmemd.conf"
#define CONFIG_PATH_MAX 256
#define CONFIG_ERRLEN 512
#define CONFIG_PEERS_MAX 128 /* seeds; the rest of the cluster is learned */

struct cmem_config {
	char name[NAME_LEN_MAX + 1];   /* default: short host name (first label) */
	char group[64];                /* multicast group, IPv4 or IPv6 literal */
	uint16_t port;                 /* 1..65535, default 51510 */
	char interface[64];            /* "" = kernel's choice; else a name or a local address */
	unsigned ttl;                  /* 0..255, default 1 */
	char keyring[CONFIG_PATH_MAX];
	char control_socket[CONFIG_PATH_MAX];
	char control_group[64];        /* "" = the daemon's group */
	unsigned heartbeat_ms;         /* 10..60000 */
	unsigned fail_after_ms;        /* >= 2 * heartbeat_ms, <= 600000 */
	int heartbeat_fixed;           /* bool, default 0: always heartbeat_ms (no adaptation) */
	unsigned replay_window_s;      /* 1..3600 */
	unsigned max_members;          /* 2..1000000 */
	char user[64];
	char chroot[CONFIG_PATH_MAX];  /* "" = no chroot (only when not root) */
	char pidfile[CONFIG_PATH_MAX];
	int log_level;                 /* enum log_level */
	int syslog_facility;           /* LOG_DAEMON, LOG_LOCAL0.. */
	char syslog_facility_name[16];
	int seccomp;                   /* bool, default 1: system call allow-list after the drop */
	int multicast;                 /* 1 (default): join the group; 0: unicast only */
	unsigned npeers;               /* seeds from `peers`, own addresses included */
	struct member_addr peers[CONFIG_PEERS_MAX]; /* port always set (default `port`) */
};

/* Fill with the defaults. */
void config_defaults(struct cmem_config *c);

/*
 * Load PATH over the defaults.  Returns 0, or -1 with one message in err
 * of the form "PATH:LINE: REASON" (or "PATH: REASON" when no line applies).
 */
int config_load(struct cmem_config *c, const char *path, char *err, size_t errlen);

/* Same, from a string (tests); NAME stands for the file in messages. */
int config_load_string(struct cmem_config *c, const char *name, const char *text, char *err,
                       size_t errlen);

/*
 * One `peers` entry: "10.0.0.2", "10.0.0.3:51510", "fd00::2" or
 * "[fd00::3]:51510"; numeric only.  Port 0 when the entry has none.
 * Returns 0, or -1 with the reason in why.
 */
int config_peer_parse(const char *s, struct member_addr *a, char *why, size_t whylen);

/* "daemon", "local0".."local7", "user" -> LOG_*; -1 if unknown. */
int config_facility_parse(const char *name);

#endif
