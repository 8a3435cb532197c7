/*
 * net: the cluster's socket (IPv4 or IPv6): the multicast group, unicast
 * peers, or both (PROTOCOL.md section 1).
 *
 * Multicast: joined on the configured interface, TTL / hop limit as
 * configured, IP_MULTICAST_ALL off so that only our group is heard,
 * multicast loop on so that several daemons on one host form one cluster.
 * Multicast only, the socket is bound to the group; with unicast (`peers`
 * set, or `multicast = false`) it is bound to the wildcard address and the
 * port, and each line also goes to every known peer (peers.h) in the same
 * sendmmsg.  Unicast uses the system's default hop limit: it crosses routers.
 *
 * The interface is followed by name through rtnetlink (netlink.h): when it
 * is deleted and made again, goes down and up, or changes address, the
 * group is joined again on it and IP_MULTICAST_IF and `local` follow.
 */
#ifndef CMEM_NET_H
#define CMEM_NET_H

#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "clock.h"
#include "config.h"
#include "addr.h"
#include "log.h"
#include "peers.h"

union net_sockaddr;

#define NET_OWN_MAX 64 /* this host's addresses remembered (never sent to) */

struct net {
	const struct clock *clk;   /* the daemon's (net_open: clock_system) */
	int fd;
	int family;
	int multicast;            /* the group is joined and sent to */
	int unicast;              /* lines also go to the peers */
	int joined;               /* member of the group on ifindex now */
	int link_gone;            /* the interface was deleted: waiting for it */
	unsigned ifindex;
	int link_up;              /* IFF_UP and IFF_RUNNING, last seen */
	uint16_t port;
	struct sockaddr_storage group;
	socklen_t grouplen;
	struct member_addr local; /* the interface's address, when known */
	char ifname[64];
	char group_str[64];
	struct peers *peers;      /* NULL unless unicast */
	struct member_addr own[NET_OWN_MAX]; /* this host's addresses (port 0) */
	unsigned own_ifindex[NET_OWN_MAX];
	size_t nown;
	struct member_addr bcast[NET_OWN_MAX]; /* our subnets' broadcast addresses (never peers) */
	size_t nbcast;
	/* rtnetlink */
	int nl_fd;
	int nl_dumping;           /* 0, or the RTM_GET* dump under way */
	uint32_t nl_seq;
	/* scratch for net_send, grown with the peer table */
	struct member_addr *dest;
	struct mmsghdr *msgs;
	union net_sockaddr *names;
	size_t dest_alloc;
	/* counters for `cmemctl status` */
	uint64_t lines_sent;      /* net_send calls */
	uint64_t datagrams_sent;  /* datagrams the kernel took, group and peers */
	uint64_t peer_send_errors;
	struct log_ratelimit rl_full; /* "peer table full", at most once in 10 s */
};

/* Open, bind and join.  Returns 0, or -1 with a message in err. */
int net_open(struct net *n, const struct cmem_config *c, char *err, size_t errlen);

/*
 * Send one line to everyone: the group (if multicast is on) and every peer
 * due (peers.h), with one sendmmsg.  Returns 0 if at least one datagram
 * went out or there was nobody to send to; -1 (errno set) if every one of
 * them was refused.
 */
int net_send(struct net *n, const void *buf, size_t len);

/*
 * One datagram to one peer already in the table (a verified sender; a
 * port of 0 means the configured port): -1 with errno EPERM for an address
 * the table does not hold, so that no line can reach a new target, or one
 * not validated whose credit does not cover it (peers.h).
 */
int net_send_to(struct net *n, const struct member_addr *to, const void *buf, size_t len);

/* One probe to a peer that peers_probes_due named (already charged): -1 EPERM if unknown. */
int net_send_probe(struct net *n, const struct member_addr *to, const void *buf, size_t len);

/* One datagram to the group only (multicast on): 0 or -1 (errno set). */
int net_send_group(struct net *n, const void *buf, size_t len);

/*
 * Call ONLY for a line (BYTES long) that passed every check and advanced
 * its sender's state: its source address and port become a peer, credited
 * with the line (peers_credit) (no-op without unicast, for another family,
 * for this host's own address and port, or for an address that is not
 * unicast: net_unicast_ok).  1 if it is new to the table, or was only
 * listed until now (a probe is due at once).
 */
int net_peer_learn(struct net *n, const struct member_addr *src, size_t bytes, uint64_t now_ms);
/* An address listed in an accepted `cluster` line (port 0: the configured
 * port); loopback is refused there.  1 if it is new to the table. */
int net_peer_learn_listed(struct net *n, const struct member_addr *a, uint64_t now_ms);
/* Could a (its port 0: the configured port) be a peer?  Our family, not this
 * host, unicast (addr_not_unicast; loopback only if LOOPBACK_OK), not one of
 * our subnets' broadcast addresses. */
int net_unicast_ok(const struct net *n, const struct member_addr *a, int loopback_ok);
/* Its member failed or left: tried at a low rate for a while (seeds forever). */
void net_peer_failed(struct net *n, const struct member_addr *a, uint64_t now_ms);
/* Peer table counts (all zero without unicast). */
void net_peer_counts(const struct net *n, uint64_t now_ms, struct peers_counts *c);

/* The rtnetlink socket for the poll set (-1: not following the interface). */
int net_netlink_fd(const struct net *n);
/* Read and act on pending link and address events. */
void net_netlink_process(struct net *n, uint64_t now_ms);

/*
 * Receive one datagram into buf (cap bytes; pass WIRE_MAX_DATAGRAM + 1 so
 * that oversize datagrams are seen as such).  Returns the datagram's real
 * length (may exceed cap: truncated), 0 for an empty one, -1 with errno
 * EAGAIN when there is nothing to read.
 */
ssize_t net_recv(struct net *n, void *buf, size_t cap, struct member_addr *src);

/* A batch of received datagrams (see net_recv_batch). */
#define NET_BATCH 32
#define NET_BUFSIZE 1233 /* WIRE_MAX_DATAGRAM + 1: a longer datagram is seen as such */

struct net_batch {
	uint8_t buf[NET_BATCH][NET_BUFSIZE];
	size_t len[NET_BATCH]; /* real length: may exceed NET_BUFSIZE (truncated) */
	struct member_addr src[NET_BATCH];
	/* arrival time from the kernel (SO_TIMESTAMPNS), CLOCK_REALTIME ns; 0 if absent */
	uint64_t rx_real_ns[NET_BATCH];
};

/*
 * Receive up to NET_BATCH datagrams with one system call.  Returns how
 * many (0: nothing to read), or -1 with errno on an error.
 */
int net_recv_batch(struct net *n, struct net_batch *b);

/* The SCM_TIMESTAMPNS time of a received message in ns, or 0 if it has none. */
uint64_t net_rx_time_ns(const struct msghdr *m);

/* Leave the group and close. */
void net_close(struct net *n);

/* What `cmemctl status` shows of the transport: read through this, not the struct. */
struct net_info {
	int multicast, unicast;
	const char *ifname;        /* "" for the default */
	uint64_t lines_sent, datagrams_sent, peer_send_errors;
};
void net_info(const struct net *n, struct net_info *info);

#endif
