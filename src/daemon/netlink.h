/*
 * netlink: what the kernel says about links and addresses (rtnetlink).
 *
 * cmemd follows its interface by name through these events (issue 12,
 * "Networks change"): a link deleted and made again gets a new index, an
 * address comes and goes.  The socket is opened before the chroot and the
 * privilege drop; listening to these groups and asking for a dump need no
 * privilege afterwards.
 */
#ifndef CMEM_NETLINK_H
#define CMEM_NETLINK_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

enum netlink_kind { NETLINK_LINK_NEW, NETLINK_LINK_DEL, NETLINK_ADDR_NEW, NETLINK_ADDR_DEL };

struct netlink_event {
	enum netlink_kind kind;
	unsigned ifindex;
	char ifname[IF_NAMESIZE];  /* links: the name ("" if absent) */
	unsigned flags;            /* links: IFF_UP, IFF_RUNNING, ... */
	struct member_addr addr;   /* addresses: the local address */
};

typedef void (*netlink_fn)(void *arg, const struct netlink_event *e);

/* A non-blocking NETLINK_ROUTE socket on the link and IPv4/IPv6 address groups, or -1. */
int netlink_open(void);

/*
 * Parse one buffer of rtnetlink messages and call fn once per link or
 * address event.  Returns 1 if it held the end of a dump (NLMSG_DONE),
 * else 0.  Anything malformed is skipped: the kernel is trusted, but a
 * short read must not be read past.
 */
int netlink_parse(const void *buf, size_t len, netlink_fn fn, void *arg);

/* Ask for a dump of every link (RTM_GETLINK) or address (RTM_GETADDR): 0 or -1. */
int netlink_dump(int fd, int rtm_type, uint32_t seq);

#endif
