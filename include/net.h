/*
 * net: the cluster's multicast socket (IPv4 or IPv6).
 *
 * Bound to the group and port, joined on the configured interface, TTL /
 * hop limit as configured, IP_MULTICAST_ALL off so that only our group is
 * heard, multicast loop on so that several daemons on one host form one
 * cluster.
 */
#ifndef CMEM_NET_H
#define CMEM_NET_H

#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "config.h"
#include "addr.h"

struct net {
	int fd;
	int family;
	unsigned ifindex;
	struct sockaddr_storage group;
	socklen_t grouplen;
	struct member_addr local; /* the interface's address, when known */
	char ifname[64];
};

/* Open, bind and join.  Returns 0, or -1 with a message in err. */
int net_open(struct net *n, const struct cmem_config *c, char *err, size_t errlen);

/* Send one datagram to the group: 0 or -1 (errno set). */
int net_send(struct net *n, const void *buf, size_t len);

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
};

/*
 * Receive up to NET_BATCH datagrams with one system call.  Returns how
 * many (0: nothing to read), or -1 with errno on an error.
 */
int net_recv_batch(struct net *n, struct net_batch *b);

/* Leave the group and close. */
void net_close(struct net *n);

#endif
