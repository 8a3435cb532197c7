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
