/* netlink: rtnetlink link and address events, parsed with the kernel's own macros. */
#include "netlink.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int netlink_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK,
		                  .nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
	int rcvbuf = 1 << 20;

	if (fd == -1)
		return -1;
	/* best effort: a burst of events (a bond or a container network restarting)
	 * should not overflow; when it does, the reader asks for a dump */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) == -1)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

int netlink_dump(int fd, int rtm_type, uint32_t seq)
{
	struct {
		struct nlmsghdr h;
		struct rtgenmsg g;
	} req = { .h = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct rtgenmsg)),
		         .nlmsg_type = (uint16_t)rtm_type,
		         .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		         .nlmsg_seq = seq },
		  .g = { .rtgen_family = AF_UNSPEC } };
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };

	return sendto(fd, &req, req.h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) ==
	               (ssize_t)req.h.nlmsg_len
	           ? 0
	           : -1;
}

static void parse_link(const struct nlmsghdr *h, netlink_fn fn, void *arg)
{
	const struct ifinfomsg *ifi = NLMSG_DATA(h);
	struct netlink_event e = { .kind = h->nlmsg_type == RTM_NEWLINK ? NETLINK_LINK_NEW
	                                                                : NETLINK_LINK_DEL };
	int len = (int)IFLA_PAYLOAD(h);

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)) || ifi->ifi_index <= 0)
		return;
	e.ifindex = (unsigned)ifi->ifi_index;
	e.flags = ifi->ifi_flags;
	for (const struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		size_t n = RTA_PAYLOAD(a);

		if (a->rta_type != IFLA_IFNAME || n == 0)
			continue;
		if (n > sizeof(e.ifname))
			n = sizeof(e.ifname);
		memcpy(e.ifname, RTA_DATA(a), n);
		e.ifname[n - 1] = '\0';
	}
	fn(arg, &e);
}

static void parse_addr(const struct nlmsghdr *h, netlink_fn fn, void *arg)
{
	const struct ifaddrmsg *ifa = NLMSG_DATA(h);
	struct netlink_event e = { .kind = h->nlmsg_type == RTM_NEWADDR ? NETLINK_ADDR_NEW
	                                                                : NETLINK_ADDR_DEL };
	int len = (int)IFA_PAYLOAD(h);
	size_t want;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifa)) ||
	    (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6))
		return;
	want = ifa->ifa_family == AF_INET ? 4 : 16;
	e.ifindex = ifa->ifa_index;
	for (const struct rtattr *a = IFA_RTA(ifa); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		/* IFA_LOCAL is our end of a point-to-point link; else IFA_ADDRESS is it */
		if ((a->rta_type != IFA_LOCAL && a->rta_type != IFA_ADDRESS) ||
		    RTA_PAYLOAD(a) != want || (a->rta_type == IFA_ADDRESS && e.addr.family))
			continue;
		e.addr.family = ifa->ifa_family;
		memcpy(&e.addr.a, RTA_DATA(a), want);
	}
	if (e.addr.family)
		fn(arg, &e);
}

int netlink_parse(const void *buf, size_t len, netlink_fn fn, void *arg)
{
	int done = 0;
	unsigned left = len > UINT32_MAX ? UINT32_MAX : (unsigned)len;

	for (const struct nlmsghdr *h = buf; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
		switch (h->nlmsg_type) {
		case RTM_NEWLINK:
		case RTM_DELLINK:
			parse_link(h, fn, arg);
			break;
		case RTM_NEWADDR:
		case RTM_DELADDR:
			parse_addr(h, fn, arg);
			break;
		case NLMSG_DONE:
			done = 1;
			break;
		default:
			break;
		}
	}
	return done;
}
