/* net: multicast socket set-up, send and receive. */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef IPV6_MULTICAST_ALL
#define IPV6_MULTICAST_ALL 29
#endif

static int net_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int net_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	n = strlen(err);
	if (saved && n < errlen)
		snprintf(err + n, errlen - n, ": %s", strerror(saved));
	return -1;
}

/* Find the interface holding local address A (family af); fills n->ifname. */
static int ifindex_of_addr(struct net *n, int af, const void *a)
{
	struct ifaddrs *ifa, *i;
	int found = 0;

	if (getifaddrs(&ifa) == -1)
		return -1;
	for (i = ifa; i && !found; i = i->ifa_next) {
		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != af)
			continue;
		if (af == AF_INET)
			found = !memcmp(&((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr, a, 4);
		else
			found = !memcmp(&((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr, a, 16);
		if (found) {
			n->ifindex = if_nametoindex(i->ifa_name);
			snprintf(n->ifname, sizeof(n->ifname), "%s", i->ifa_name);
		}
	}
	freeifaddrs(ifa);
	return found && n->ifindex ? 0 : -1;
}

/* The first address of family af on interface n->ifname, if any. */
static void local_addr_of_if(struct net *n, int af)
{
	struct ifaddrs *ifa, *i;

	if (getifaddrs(&ifa) == -1)
		return;
	for (i = ifa; i; i = i->ifa_next) {
		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != af ||
		    strcmp(i->ifa_name, n->ifname) != 0)
			continue;
		n->local.family = af;
		if (af == AF_INET)
			n->local.a.v4 = ((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr;
		else
			n->local.a.v6 = ((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr;
		break;
	}
	freeifaddrs(ifa);
}

static int resolve_interface(struct net *n, const char *iface, char *err, size_t errlen)
{
	uint8_t a[16];

	if (iface[0] == '\0')
		return 0;
	if (inet_pton(AF_INET, iface, a) == 1 || inet_pton(AF_INET6, iface, a) == 1) {
		int af = strchr(iface, ':') ? AF_INET6 : AF_INET;

		errno = 0;
		if (ifindex_of_addr(n, af, a) == -1)
			return net_err(err, errlen, "interface address %s is not configured on this host",
			               iface);
	} else {
		n->ifindex = if_nametoindex(iface);
		if (n->ifindex == 0)
			return net_err(err, errlen, "interface %s", iface);
		snprintf(n->ifname, sizeof(n->ifname), "%s", iface);
	}
	local_addr_of_if(n, n->family);
	return 0;
}

static int setopt(int fd, int level, int name, const void *v, socklen_t len, const char *what,
                  char *err, size_t errlen)
{
	if (setsockopt(fd, level, name, v, len) == -1)
		return net_err(err, errlen, "setsockopt %s", what);
	return 0;
}

static int setup_v4(struct net *n, const struct cmem_config *c, char *err, size_t errlen)
{
	struct sockaddr_in *g = (struct sockaddr_in *)&n->group;
	struct ip_mreqn mreq = { .imr_multiaddr = g->sin_addr, .imr_ifindex = (int)n->ifindex };
	int zero = 0, one = 1, ttl = (int)c->ttl;

	if (setopt(n->fd, IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof(zero), "IP_MULTICAST_ALL",
	           err, errlen) == -1 ||
	    setopt(n->fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl), "IP_MULTICAST_TTL", err,
	           errlen) == -1 ||
	    setopt(n->fd, IPPROTO_IP, IP_MULTICAST_LOOP, &one, sizeof(one), "IP_MULTICAST_LOOP", err,
	           errlen) == -1)
		return -1;
	if (n->ifindex && setopt(n->fd, IPPROTO_IP, IP_MULTICAST_IF, &mreq, sizeof(mreq),
	                         "IP_MULTICAST_IF", err, errlen) == -1)
		return -1;
	if (setsockopt(n->fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof(mreq)) == -1)
		return net_err(err, errlen, "cannot join group %s%s%s", c->group,
		               n->ifname[0] ? " on " : "", n->ifname);
	return 0;
}

static int setup_v6(struct net *n, const struct cmem_config *c, char *err, size_t errlen)
{
	struct sockaddr_in6 *g = (struct sockaddr_in6 *)&n->group;
	struct ipv6_mreq mreq = { .ipv6mr_multiaddr = g->sin6_addr, .ipv6mr_interface = n->ifindex };
	int zero = 0, one = 1, hops = (int)c->ttl;

	if (setopt(n->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one), "IPV6_V6ONLY", err,
	           errlen) == -1 ||
	    setopt(n->fd, IPPROTO_IPV6, IPV6_MULTICAST_ALL, &zero, sizeof(zero),
	           "IPV6_MULTICAST_ALL", err, errlen) == -1 ||
	    setopt(n->fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof(hops),
	           "IPV6_MULTICAST_HOPS", err, errlen) == -1 ||
	    setopt(n->fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &one, sizeof(one),
	           "IPV6_MULTICAST_LOOP", err, errlen) == -1)
		return -1;
	if (n->ifindex && setopt(n->fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &n->ifindex,
	                         sizeof(n->ifindex), "IPV6_MULTICAST_IF", err, errlen) == -1)
		return -1;
	if (setsockopt(n->fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mreq, sizeof(mreq)) == -1)
		return net_err(err, errlen, "cannot join group %s%s%s", c->group,
		               n->ifname[0] ? " on " : "", n->ifname);
	return 0;
}

static int parse_group(struct net *n, const struct cmem_config *c, char *err, size_t errlen)
{
	struct sockaddr_in *g4 = (struct sockaddr_in *)&n->group;
	struct sockaddr_in6 *g6 = (struct sockaddr_in6 *)&n->group;

	memset(&n->group, 0, sizeof(n->group));
	if (inet_pton(AF_INET, c->group, &g4->sin_addr) == 1) {
		n->family = g4->sin_family = AF_INET;
		g4->sin_port = htons(c->port);
		n->grouplen = sizeof(*g4);
	} else if (inet_pton(AF_INET6, c->group, &g6->sin6_addr) == 1) {
		n->family = g6->sin6_family = AF_INET6;
		g6->sin6_port = htons(c->port);
		n->grouplen = sizeof(*g6);
	} else {
		errno = 0;
		return net_err(err, errlen, "group %s is not an IP address", c->group);
	}
	return 0;
}

int net_open(struct net *n, const struct cmem_config *c, char *err, size_t errlen)
{
	int one = 1, rcvbuf = 4 << 20;

	memset(n, 0, sizeof(*n));
	n->fd = -1;
	if (parse_group(n, c, err, errlen) == -1 || resolve_interface(n, c->interface, err, errlen) == -1)
		return -1;
	if (n->family == AF_INET6)
		((struct sockaddr_in6 *)&n->group)->sin6_scope_id = n->ifindex;
	n->fd = socket(n->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (n->fd == -1)
		return net_err(err, errlen, "socket");
	if (setopt(n->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one), "SO_REUSEADDR", err,
	           errlen) == -1)
		goto fail;
	/* best effort: a bigger queue rides out bursts and floods (FORCE: as root,
	 * past net.core.rmem_max) */
	if (setsockopt(n->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) == -1)
		setsockopt(n->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if ((n->family == AF_INET ? setup_v4(n, c, err, errlen) : setup_v6(n, c, err, errlen)) == -1)
		goto fail;
	if (bind(n->fd, (struct sockaddr *)&n->group, n->grouplen) == -1) {
		net_err(err, errlen, "cannot bind %s port %u", c->group, (unsigned)c->port);
		goto fail;
	}
	return 0;
fail:
	close(n->fd);
	n->fd = -1;
	return -1;
}

int net_send(struct net *n, const void *buf, size_t len)
{
	ssize_t r = sendto(n->fd, buf, len, 0, (struct sockaddr *)&n->group, n->grouplen);

	return r == (ssize_t)len ? 0 : -1;
}

ssize_t net_recv(struct net *n, void *buf, size_t cap, struct member_addr *src)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	ssize_t r = recvfrom(n->fd, buf, cap, MSG_TRUNC, (struct sockaddr *)&ss, &sl);

	if (r < 0)
		return -1;
	addr_from_sockaddr(src, &ss);
	return r;
}

int net_recv_batch(struct net *n, struct net_batch *b)
{
	struct mmsghdr msg[NET_BATCH];
	struct iovec iov[NET_BATCH];
	struct sockaddr_storage ss[NET_BATCH];
	int got;

	for (int i = 0; i < NET_BATCH; i++) {
		iov[i] = (struct iovec){ .iov_base = b->buf[i], .iov_len = NET_BUFSIZE };
		msg[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = &ss[i],
			                                .msg_namelen = sizeof(ss[i]),
			                                .msg_iov = &iov[i],
			                                .msg_iovlen = 1 } };
	}
	got = recvmmsg(n->fd, msg, NET_BATCH, MSG_DONTWAIT, NULL);
	if (got < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	for (int i = 0; i < got; i++) {
		/* MSG_TRUNC in msg_flags: the datagram was longer than the buffer */
		b->len[i] = msg[i].msg_hdr.msg_flags & MSG_TRUNC ? NET_BUFSIZE + 1 : msg[i].msg_len;
		addr_from_sockaddr(&b->src[i], &ss[i]);
	}
	return got;
}

void net_close(struct net *n)
{
	if (n->fd == -1)
		return;
	if (n->family == AF_INET) {
		struct ip_mreqn mreq = { .imr_multiaddr = ((struct sockaddr_in *)&n->group)->sin_addr,
			                 .imr_ifindex = (int)n->ifindex };

		setsockopt(n->fd, IPPROTO_IP, IP_DROP_MEMBERSHIP, &mreq, sizeof(mreq));
	} else {
		struct ipv6_mreq mreq = { .ipv6mr_multiaddr =
			                          ((struct sockaddr_in6 *)&n->group)->sin6_addr,
			                  .ipv6mr_interface = n->ifindex };

		setsockopt(n->fd, IPPROTO_IPV6, IPV6_LEAVE_GROUP, &mreq, sizeof(mreq));
	}
	close(n->fd);
	n->fd = -1;
}
