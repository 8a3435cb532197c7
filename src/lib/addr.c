/* addr: peer addresses shared by the receive path, members, net and stats. */
#include "addr.h"

#include <arpa/inet.h>
#include <string.h>

#include "util.h"

int addr_same(const struct member_addr *a, const struct member_addr *b)
{
	if (a->family != b->family)
		return 0;
	if (a->family == AF_INET)
		return a->a.v4.s_addr == b->a.v4.s_addr;
	if (a->family == AF_INET6)
		return memcmp(&a->a.v6, &b->a.v6, sizeof(a->a.v6)) == 0;
	return 1;
}

int addr_str(const struct member_addr *a, char *buf, size_t len)
{
	if (a->family == 0)
		return xsnprintf(buf, len, "-") < 0 ? -1 : 0;
	return inet_ntop(a->family, &a->a, buf, (socklen_t)len) ? 0 : -1;
}

void addr_from_sockaddr(struct member_addr *a, const struct sockaddr_storage *ss)
{
	memset(a, 0, sizeof(*a));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		a->family = AF_INET;
		a->port = ntohs(s4->sin_port);
		a->a.v4 = s4->sin_addr;
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		a->family = AF_INET6;
		a->port = ntohs(s6->sin6_port);
		a->a.v6 = s6->sin6_addr;
	}
}

socklen_t addr_to_sockaddr(const struct member_addr *a, uint16_t port,
                           struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		s4->sin_addr = a->a.v4;
		return sizeof(*s4);
	}
	if (a->family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		s6->sin6_addr = a->a.v6;
		return sizeof(*s6);
	}
	return 0;
}

static const char *v4_not_unicast(uint32_t v, int loopback_ok)
{
	if (IN_MULTICAST(v))
		return "a multicast address";
	if (v == INADDR_BROADCAST)
		return "the broadcast address";
	if ((v >> 24) == 0)
		return "the unspecified address";
	if ((v >> 28) == 0xf)
		return "a reserved address (240.0.0.0/4)";
	if ((v >> 24) == 127 && !loopback_ok)
		return "a loopback address";
	return NULL;
}

const char *addr_not_unicast(const struct member_addr *a, int loopback_ok)
{
	const struct in6_addr *v6 = &a->a.v6;

	if (a->family == AF_INET)
		return v4_not_unicast(ntohl(a->a.v4.s_addr), loopback_ok);
	if (a->family != AF_INET6)
		return "not an IP address";
	if (IN6_IS_ADDR_MULTICAST(v6))
		return "a multicast address";
	if (IN6_IS_ADDR_UNSPECIFIED(v6))
		return "the unspecified address";
	if (IN6_IS_ADDR_LOOPBACK(v6) && !loopback_ok)
		return "a loopback address";
	if (IN6_IS_ADDR_V4MAPPED(v6)) {
		uint32_t v;

		memcpy(&v, &v6->s6_addr[12], 4);
		return v4_not_unicast(ntohl(v), loopback_ok);
	}
	return NULL;
}
