/* net: the cluster socket (multicast group and unicast peers), send and receive. */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "netlink.h"
#include "util.h"

#define NET_SEND_MAX 1024 /* datagrams per sendmmsg (UIO_MAXIOV) */

/* A destination as sendmmsg wants it: IPv4 or IPv6, nothing larger. */
union net_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in v4;
	struct sockaddr_in6 v6;
};

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

	if (err == NULL || errlen == 0)
		return -1;
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

/* A socket option and its name, for messages. */
#define OPT(x) x, #x
struct mcast_opts {
	int level;
	int all;  const char *all_name;  /* off: no other group's traffic */
	int ttl;  const char *ttl_name;  /* the configured TTL (hop limit) */
	int loop; const char *loop_name; /* on: the other daemons of this host hear us */
};
static const struct mcast_opts mcast_v4 = {
	IPPROTO_IP, OPT(IP_MULTICAST_ALL), OPT(IP_MULTICAST_TTL), OPT(IP_MULTICAST_LOOP),
};
static const struct mcast_opts mcast_v6 = {
	IPPROTO_IPV6, OPT(IPV6_MULTICAST_ALL), OPT(IPV6_MULTICAST_HOPS), OPT(IPV6_MULTICAST_LOOP),
};

/* Multicast options that do not depend on the interface. */
static int setup_mcast(struct net *n, const struct cmem_config *c, char *err, size_t errlen)
{
	const struct mcast_opts *o = n->family == AF_INET ? &mcast_v4 : &mcast_v6;
	int zero = 0, one = 1, ttl = (int)c->ttl;

	if (setopt(n->fd, o->level, o->all, &zero, sizeof(zero), o->all_name, err, errlen) == -1 ||
	    setopt(n->fd, o->level, o->ttl, &ttl, sizeof(ttl), o->ttl_name, err, errlen) == -1 ||
	    setopt(n->fd, o->level, o->loop, &one, sizeof(one), o->loop_name, err, errlen) == -1)
		return -1;
	return 0;
}

/*
 * Send on, and join the group on, n->ifindex (0: the kernel's choice).  Also
 * what the interface watcher calls when the interface comes back: neither
 * option needs a privilege.  Already a member counts as joined.
 */
static int join_group(struct net *n, char *err, size_t errlen)
{
	int r;

	if (n->family == AF_INET) {
		struct ip_mreqn mreq = { .imr_multiaddr = ((struct sockaddr_in *)&n->group)->sin_addr,
			                 .imr_ifindex = (int)n->ifindex };

		if (n->ifindex && setopt(n->fd, IPPROTO_IP, IP_MULTICAST_IF, &mreq, sizeof(mreq),
		                         "IP_MULTICAST_IF", err, errlen) == -1)
			return -1;
		r = setsockopt(n->fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof(mreq));
	} else {
		struct ipv6_mreq mreq = { .ipv6mr_multiaddr =
			                          ((struct sockaddr_in6 *)&n->group)->sin6_addr,
			                  .ipv6mr_interface = n->ifindex };

		if (n->ifindex && setopt(n->fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &n->ifindex,
		                         sizeof(n->ifindex), "IPV6_MULTICAST_IF", err, errlen) == -1)
			return -1;
		((struct sockaddr_in6 *)&n->group)->sin6_scope_id = n->ifindex;
		r = setsockopt(n->fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mreq, sizeof(mreq));
	}
	if (r == -1 && errno != EADDRINUSE)
		return net_err(err, errlen, "cannot join group %s%s%s", n->group_str,
		               n->ifname[0] ? " on " : "", n->ifname);
	n->joined = 1;
	return 0;
}

/* Leave the group on ifindex (an interface already gone included: that frees our entry). */
static void leave_group(struct net *n, unsigned ifindex)
{
	if (n->family == AF_INET) {
		struct ip_mreqn mreq = { .imr_multiaddr = ((struct sockaddr_in *)&n->group)->sin_addr,
			                 .imr_ifindex = (int)ifindex };

		setsockopt(n->fd, IPPROTO_IP, IP_DROP_MEMBERSHIP, &mreq, sizeof(mreq));
	} else {
		struct ipv6_mreq mreq = { .ipv6mr_multiaddr =
			                          ((struct sockaddr_in6 *)&n->group)->sin6_addr,
			                  .ipv6mr_interface = ifindex };

		setsockopt(n->fd, IPPROTO_IPV6, IPV6_LEAVE_GROUP, &mreq, sizeof(mreq));
	}
	n->joined = 0;
}

static int parse_group(struct net *n, const struct cmem_config *c, char *err, size_t errlen)
{
	struct sockaddr_in *g4 = (struct sockaddr_in *)&n->group;
	struct sockaddr_in6 *g6 = (struct sockaddr_in6 *)&n->group;

	memset(&n->group, 0, sizeof(n->group));
	snprintf(n->group_str, sizeof(n->group_str), "%s", c->group);
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

/* ---- this host's addresses (seeds and listed addresses among them are skipped) ---- */

static int own_find(const struct net *n, const struct member_addr *a)
{
	for (size_t i = 0; i < n->nown; i++)
		if (addr_same(&n->own[i], a))
			return (int)i;
	return -1;
}

static void own_add(struct net *n, const struct member_addr *a, unsigned ifindex)
{
	int i = own_find(n, a);

	if (i >= 0) {
		n->own_ifindex[i] = ifindex;
		return;
	}
	if (n->nown == NET_OWN_MAX)
		return; /* a host with more addresses: the extra ones are treated as peers */
	n->own[n->nown] = *a;
	n->own[n->nown].port = 0;
	n->own_ifindex[n->nown++] = ifindex;
}

static void own_del(struct net *n, const struct member_addr *a)
{
	int i = own_find(n, a);

	if (i < 0)
		return;
	n->nown--;
	n->own[i] = n->own[n->nown];
	n->own_ifindex[i] = n->own_ifindex[n->nown];
}

static void own_load(struct net *n)
{
	struct ifaddrs *ifa;

	if (getifaddrs(&ifa) == -1)
		return;
	for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
		struct member_addr a;

		if (i->ifa_addr == NULL)
			continue;
		addr_from_sockaddr(&a, (const struct sockaddr_storage *)(void *)i->ifa_addr);
		if (a.family)
			own_add(n, &a, if_nametoindex(i->ifa_name));
		if ((i->ifa_flags & IFF_BROADCAST) && i->ifa_broadaddr && n->nbcast < NET_OWN_MAX) {
			addr_from_sockaddr(&a, (const struct sockaddr_storage *)(void *)i->ifa_broadaddr);
			if (a.family)
				n->bcast[n->nbcast++] = a;
		}
	}
	freeifaddrs(ifa);
}

/* Our own address and port: never a destination. */
static int is_self(const struct net *n, const struct member_addr *a)
{
	return (a->port == 0 || a->port == n->port) && own_find(n, a) >= 0;
}

/* ---- unicast peers ---- */

static void setup_peers(struct net *n, const struct cmem_config *c)
{
	size_t cap = (size_t)c->max_members + c->npeers;

	n->peers = peers_new(cap);
	for (unsigned i = 0; i < c->npeers; i++) {
		struct member_addr a = c->peers[i];
		char s[ADDR_STR_MAX];

		if (a.port == 0)
			a.port = c->port;
		addr_str(&a, s, sizeof(s));
		if (is_self(n, &a)) {
			log_info("peer %s port %u is this host: skipped", s, (unsigned)a.port);
			continue;
		}
		peers_add_seed(n->peers, &a, clock_mono_ms(n->clk));
	}
	if (peers_size(n->peers) == 0)
		log_info("unicast: no seed but this host; members will find it from their seeds");
}

/*
 * A link- or interface-scoped IPv6 group binds the socket to the interface's
 * index, which dies with the interface: such a socket is bound to the
 * wildcard instead (IPV6_MULTICAST_ALL off still keeps other groups out).
 */
static int group_scoped(const struct net *n)
{
	const struct in6_addr *g = &((const struct sockaddr_in6 *)&n->group)->sin6_addr;

	return n->family == AF_INET6 && (IN6_IS_ADDR_MC_LINKLOCAL(g) || IN6_IS_ADDR_MC_NODELOCAL(g));
}

/* Bind: the group (multicast only), or the wildcard address for unicast. */
static int bind_socket(struct net *n, const struct cmem_config *c, char *err, size_t errlen)
{
	struct sockaddr_storage any;
	struct member_addr wild = { .family = n->family };
	socklen_t len;

	if (!n->unicast && !group_scoped(n)) {
		if (bind(n->fd, (struct sockaddr *)&n->group, n->grouplen) == -1)
			return net_err(err, errlen, "cannot bind %s port %u", c->group,
			               (unsigned)c->port);
		return 0;
	}
	len = addr_to_sockaddr(&wild, c->port, &any);
	if (bind(n->fd, (struct sockaddr *)&any, len) == -1)
		return net_err(err, errlen, "cannot bind port %u", (unsigned)c->port);
	return 0;
}

static int open_socket(struct net *n, const struct cmem_config *c, char *err, size_t errlen)
{
	int one = 1, rcvbuf = 4 << 20;

	n->fd = socket(n->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (n->fd == -1)
		return net_err(err, errlen, "socket");
	if (setopt(n->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one), "SO_REUSEADDR", err,
	           errlen) == -1 ||
	    setopt(n->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one), "SO_TIMESTAMPNS", err,
	           errlen) == -1)
		return -1;
	if (n->family == AF_INET6 && setopt(n->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one),
	                                    "IPV6_V6ONLY", err, errlen) == -1)
		return -1;
	/* best effort: a bigger queue rides out bursts and floods (FORCE: as root,
	 * past net.core.rmem_max) */
	if (setsockopt(n->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) == -1)
		setsockopt(n->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (n->multicast && (setup_mcast(n, c, err, errlen) == -1 || join_group(n, err, errlen) == -1))
		return -1;
	return bind_socket(n, c, err, errlen);
}

int net_open(struct net *n, const struct cmem_config *c, char *err, size_t errlen)
{
	memset(n, 0, sizeof(*n));
	n->clk = &clock_system;
	n->rl_full = (struct log_ratelimit)LOG_RATELIMIT_INIT(10000, 1);
	n->fd = n->nl_fd = -1;
	n->port = c->port;
	n->multicast = c->multicast;
	n->unicast = c->npeers > 0 || !c->multicast;
	if (parse_group(n, c, err, errlen) == -1)
		return -1;
	if (!n->multicast && c->npeers)
		n->family = c->peers[0].family; /* the group does not matter then */
	if (resolve_interface(n, c->interface, err, errlen) == -1)
		return -1;
	if (n->ifindex)
		n->link_up = 1; /* as far as we know: changes are logged */
	own_load(n);
	if (open_socket(n, c, err, errlen) == -1) {
		net_close(n);
		return -1;
	}
	if (n->unicast) {
		setup_peers(n, c);
		peers_require_validation(n->peers);
	}
	/* the interface is followed by name; without the socket it is not, which is logged */
	n->nl_fd = netlink_open();
	if (n->nl_fd == -1)
		log_warn("rtnetlink: changes of the interface will not be followed");
	return 0;
}

/* ---- sending ---- */

/* Room for the group and every peer in the send scratch arrays. */
static void dest_reserve(struct net *n)
{
	size_t want = 1 + (n->peers ? peers_size(n->peers) : 0);

	if (want <= n->dest_alloc)
		return;
	n->dest_alloc = want + 16;
	n->dest = xreallocarray(n->dest, n->dest_alloc, sizeof(*n->dest));
	n->msgs = xreallocarray(n->msgs, n->dest_alloc, sizeof(struct mmsghdr));
	n->names = xreallocarray(n->names, n->dest_alloc, sizeof(union net_sockaddr));
}

static socklen_t dest_sockaddr(const struct net *n, const struct member_addr *a,
                               union net_sockaddr *u)
{
	struct sockaddr_storage ss;
	socklen_t len = addr_to_sockaddr(a, a->port ? a->port : n->port, &ss);

	/* a link-local IPv6 source (learned) needs its zone: our interface */
	if (a->family == AF_INET6 && IN6_IS_ADDR_LINKLOCAL(&a->a.v6))
		((struct sockaddr_in6 *)&ss)->sin6_scope_id = n->ifindex;
	memcpy(u, &ss, len);
	return len;
}

/*
 * Send buf to the group (if group) and to the first ndest of n->dest: one
 * sendmmsg for them all (up to NET_SEND_MAX).  A refused datagram (a
 * peer's network unreachable) is skipped, not retried.  Returns how many
 * went out.
 */
static size_t send_all(struct net *n, int group, size_t ndest, const void *buf, size_t len,
                       int *first_errno)
{
	union net_sockaddr *names = n->names;
	struct mmsghdr *msg = n->msgs;
	struct iovec iov = { .iov_base = (void *)(uintptr_t)buf, .iov_len = len };
	size_t total = ndest + (group ? 1 : 0), done = 0, sent = 0;

	for (size_t i = 0; i < total; i++) {
		socklen_t sl;

		if (group && i == 0) {
			memcpy(&names[i], &n->group, n->grouplen);
			sl = n->grouplen;
		} else {
			sl = dest_sockaddr(n, &n->dest[i - (group ? 1 : 0)], &names[i]);
		}
		msg[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = &names[i], .msg_namelen = sl,
			                                .msg_iov = &iov, .msg_iovlen = 1 } };
	}
	while (done < total) {
		size_t k = total - done < NET_SEND_MAX ? total - done : NET_SEND_MAX;
		int r = sendmmsg(n->fd, msg + done, (unsigned)k, 0);

		if (r <= 0) {
			if (*first_errno == 0)
				*first_errno = r < 0 ? errno : EIO;
			if (!(group && done == 0))
				n->peer_send_errors++;
			done++; /* skip the datagram the kernel refused */
			continue;
		}
		done += (size_t)r;
		sent += (size_t)r;
	}
	return sent;
}

int net_send(struct net *n, const void *buf, size_t len)
{
	size_t ndest = 0, sent;
	int err = 0;

	if (n->fd == -1) {
		errno = EBADF;
		return -1;
	}
	n->lines_sent++;
	dest_reserve(n);
	if (n->peers)
		ndest = peers_due(n->peers, clock_mono_ms(n->clk), len, n->dest, n->dest_alloc - 1);
	if (!n->multicast && ndest == 0)
		return 0; /* nobody known yet */
	sent = send_all(n, n->multicast, ndest, buf, len, &err);
	n->datagrams_sent += sent;
	if (sent == 0) {
		errno = err;
		return -1;
	}
	return 0;
}

/* One datagram to a peer the caller has checked (port set). */
static int send_one(struct net *n, const struct member_addr *a, const void *buf, size_t len)
{
	union net_sockaddr u;
	socklen_t sl = dest_sockaddr(n, a, &u);

	if (sendto(n->fd, buf, len, 0, &u.sa, sl) != (ssize_t)len)
		return -1;
	n->datagrams_sent++;
	return 0;
}

int net_send_to(struct net *n, const struct member_addr *to, const void *buf, size_t len)
{
	struct member_addr a = *to;

	if (a.port == 0)
		a.port = n->port;
	if (n->peers == NULL || !peers_send_one(n->peers, &a, len)) {
		errno = EPERM;
		return -1;
	}
	return send_one(n, &a, buf, len);
}

int net_send_probe(struct net *n, const struct member_addr *to, const void *buf, size_t len)
{
	if (n->peers == NULL || !peers_known(n->peers, to)) {
		errno = EPERM;
		return -1;
	}
	return send_one(n, to, buf, len);
}

int net_send_group(struct net *n, const void *buf, size_t len)
{
	if (!n->multicast) {
		errno = EDESTADDRREQ;
		return -1;
	}
	if (sendto(n->fd, buf, len, 0, (struct sockaddr *)&n->group, n->grouplen) != (ssize_t)len)
		return -1;
	n->datagrams_sent++;
	return 0;
}

/* ---- learning peers ---- */

int net_unicast_ok(const struct net *n, const struct member_addr *a, int loopback_ok)
{
	if (a->family != n->family || is_self(n, a) || addr_not_unicast(a, loopback_ok))
		return 0;
	for (size_t i = 0; i < n->nbcast; i++)
		if (addr_same(&n->bcast[i], a))
			return 0;
	return 1;
}

/* A usable unicast destination (net_unicast_ok) while unicast is on. */
static int peer_candidate(const struct net *n, const struct member_addr *a, int loopback_ok)
{
	return n->peers && net_unicast_ok(n, a, loopback_ok);
}

static void note_full(struct net *n, uint64_t now_ms)
{
	log_limited(&n->rl_full, now_ms, LOG_LEVEL_WARN, 0,
	            "unicast peer table full (%zu, max_members + seeds): a new member's address "
	            "is not sent to",
	            peers_size(n->peers));
}

static int learned(struct net *n, const struct member_addr *a, enum peers_result r,
                   const char *how, uint64_t now_ms)
{
	char s[ADDR_STR_MAX];

	if (r == PEERS_FULL) {
		note_full(n, now_ms);
	} else if (r == PEERS_ADDED) {
		addr_str(a, s, sizeof(s));
		log_debug("unicast peer %s port %u %s", s, (unsigned)a->port, how);
	}
	return r == PEERS_ADDED;
}

int net_peer_learn(struct net *n, const struct member_addr *src, size_t bytes, uint64_t now_ms)
{
	int added;

	/* only this host can send from a loopback address */
	if (!peer_candidate(n, src, 1) || src->port == 0)
		return 0;
	added = learned(n, src, peers_learn(n->peers, src, now_ms), "learned from its lines",
	                now_ms);
	return peers_credit(n->peers, src, bytes) || added;
}

int net_peer_learn_listed(struct net *n, const struct member_addr *a, uint64_t now_ms)
{
	struct member_addr p = *a;

	p.port = n->port;
	if (!peer_candidate(n, &p, 0))
		return 0;
	return learned(n, &p, peers_learn_listed(n->peers, &p, now_ms), "listed in a cluster line",
	               now_ms);
}

void net_peer_failed(struct net *n, const struct member_addr *a, uint64_t now_ms)
{
	struct member_addr p = *a;

	if (n->peers == NULL)
		return;
	if (p.port == 0)
		p.port = n->port;
	peers_failed(n->peers, &p, now_ms);
}

void net_peer_counts(const struct net *n, uint64_t now_ms, struct peers_counts *c)
{
	if (n->peers)
		peers_counts(n->peers, now_ms, c);
	else
		memset(c, 0, sizeof(*c));
}

/* ---- receiving ---- */

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

uint64_t net_rx_time_ns(const struct msghdr *m)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR((struct msghdr *)m, c)) {
		struct timespec ts;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS ||
		    c->cmsg_len < CMSG_LEN(sizeof(ts)))
			continue;
		memcpy(&ts, CMSG_DATA(c), sizeof(ts));
		if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000L)
			return 0;
		return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	}
	return 0;
}

int net_recv_batch(struct net *n, struct net_batch *b)
{
	struct mmsghdr msg[NET_BATCH];
	struct iovec iov[NET_BATCH];
	struct sockaddr_storage ss[NET_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(struct timespec))];
		struct cmsghdr align;
	} ctrl[NET_BATCH];
	int got;

	for (int i = 0; i < NET_BATCH; i++) {
		iov[i] = (struct iovec){ .iov_base = b->buf[i], .iov_len = NET_BUFSIZE };
		msg[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = &ss[i],
			                                .msg_namelen = sizeof(ss[i]),
			                                .msg_iov = &iov[i],
			                                .msg_iovlen = 1,
			                                .msg_control = ctrl[i].buf,
			                                .msg_controllen = sizeof(ctrl[i].buf) } };
	}
	got = recvmmsg(n->fd, msg, NET_BATCH, MSG_DONTWAIT, NULL);
	if (got < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	for (int i = 0; i < got; i++) {
		/* MSG_TRUNC in msg_flags: the datagram was longer than the buffer */
		b->len[i] = msg[i].msg_hdr.msg_flags & MSG_TRUNC ? NET_BUFSIZE + 1 : msg[i].msg_len;
		addr_from_sockaddr(&b->src[i], &ss[i]);
		b->rx_real_ns[i] = net_rx_time_ns(&msg[i].msg_hdr);
	}
	return got;
}

/* ---- following the interface (rtnetlink) ---- */

int net_netlink_fd(const struct net *n)
{
	return n->nl_fd;
}

/* net.local: the first address of our family on the interface. */
static void update_local(struct net *n)
{
	struct member_addr was = n->local;
	char s[ADDR_STR_MAX];

	memset(&n->local, 0, sizeof(n->local));
	for (size_t i = 0; i < n->nown && n->ifindex; i++)
		if (n->own_ifindex[i] == n->ifindex && n->own[i].family == n->family) {
			n->local = n->own[i];
			break;
		}
	if (addr_same(&was, &n->local))
		return;
	if (n->local.family == 0) {
		log_info("interface %s: no address of ours on it now", n->ifname);
		return;
	}
	addr_str(&n->local, s, sizeof(s));
	log_info("interface %s: our address is now %s", n->ifname, s);
}

static void rejoin(struct net *n, const char *why)
{
	char err[256];

	if (!n->multicast)
		return;
	if (join_group(n, err, sizeof(err)) == -1)
		log_warnx("interface %s %s: %s", n->ifname[0] ? n->ifname : "(default)", why, err);
	else
		log_info("interface %s %s: joined group %s again", n->ifname[0] ? n->ifname : "(default)",
		         why, n->group_str);
}

static void link_event(struct net *n, const struct netlink_event *e)
{
	unsigned up = IFF_UP | IFF_RUNNING;
	int is_up = (e->flags & up) == up;

	if (e->kind == NETLINK_LINK_DEL) {
		if (n->ifindex && e->ifindex == n->ifindex && !n->link_gone) {
			log_warnx("interface %s (index %u) is gone; waiting for it to come back",
			          n->ifname, n->ifindex);
			if (n->multicast)
				leave_group(n, n->ifindex); /* frees our membership of the dead index */
			n->link_gone = 1;
			n->link_up = 0;
		}
		return;
	}
	if (strcmp(e->ifname, n->ifname) != 0)
		return;
	if (e->ifindex != n->ifindex || n->link_gone) {
		log_info("interface %s is back as index %u (was %u)", n->ifname, e->ifindex, n->ifindex);
		n->ifindex = e->ifindex;
		n->link_gone = 0;
		n->link_up = is_up;
		rejoin(n, "re-created");
		update_local(n);
		if (n->peers)
			peers_retry_all(n->peers, clock_mono_ms(n->clk));
		return;
	}
	if (is_up == n->link_up)
		return;
	n->link_up = is_up;
	if (!is_up) {
		log_warnx("interface %s is down", n->ifname);
		return;
	}
	log_info("interface %s is up", n->ifname);
	if (n->peers)
		peers_retry_all(n->peers, clock_mono_ms(n->clk));
	if (n->multicast && join_group(n, NULL, 0) == -1)
		log_warn("interface %s is up but the group cannot be joined", n->ifname);
}

static void addr_event(struct net *n, const struct netlink_event *e)
{
	if (e->kind == NETLINK_ADDR_NEW)
		own_add(n, &e->addr, e->ifindex);
	else
		own_del(n, &e->addr);
	if (n->ifname[0])
		update_local(n);
	else if (e->kind == NETLINK_ADDR_NEW && e->addr.family == n->family && n->multicast)
		join_group(n, NULL, 0); /* the kernel's choice may be a new interface: join there too */
}

static void on_netlink(void *arg, const struct netlink_event *e)
{
	struct net *n = arg;

	if (e->kind == NETLINK_LINK_NEW || e->kind == NETLINK_LINK_DEL) {
		if (n->ifname[0])
			link_event(n, e);
	} else {
		addr_event(n, e);
	}
}

/* After an overflow: dump the links, then the addresses, to learn what was missed. */
static void resync(struct net *n, int next)
{
	n->nl_dumping = next;
	if (next && netlink_dump(n->nl_fd, next, ++n->nl_seq) == -1) {
		log_warn("rtnetlink: cannot ask for the interfaces");
		n->nl_dumping = 0;
	}
}

void net_netlink_process(struct net *n, uint64_t now_ms)
{
	static union {
		char buf[32768]; /* room for a big link message; untouched pages cost nothing */
		struct nlmsghdr align;
	} u;

	(void)now_ms;
	for (int round = 0; round < 64 && n->nl_fd != -1; round++) {
		ssize_t r = recv(n->nl_fd, u.buf, sizeof(u.buf), MSG_DONTWAIT);

		if (r < 0 && errno == ENOBUFS) {
			log_warnx("rtnetlink: events were lost; reading the interfaces again");
			resync(n, RTM_GETLINK);
			continue;
		}
		if (r <= 0)
			return;
		if (netlink_parse(u.buf, (size_t)r, on_netlink, n) && n->nl_dumping)
			resync(n, n->nl_dumping == RTM_GETLINK ? RTM_GETADDR : 0);
	}
}

void net_close(struct net *n)
{
	if (n->nl_fd != -1)
		close(n->nl_fd);
	n->nl_fd = -1;
	peers_free(n->peers);
	n->peers = NULL;
	free(n->dest);
	free(n->msgs);
	free(n->names);
	n->dest = NULL;
	n->msgs = NULL;
	n->names = NULL;
	n->dest_alloc = 0;
	if (n->fd == -1)
		return;
	if (n->multicast && n->joined)
		leave_group(n, n->ifindex);
	close(n->fd);
	n->fd = -1;
}

void net_info(const struct net *n, struct net_info *info)
{
	*info = (struct net_info){
		.multicast = n->multicast,
		.unicast = n->unicast,
		.ifname = n->ifname,
		.lines_sent = n->lines_sent,
		.datagrams_sent = n->datagrams_sent,
		.peer_send_errors = n->peer_send_errors,
	};
}
