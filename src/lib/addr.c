/* addr: peer addresses shared by the receive path, members, net and stats. */
#include "addr.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <string.h>

#include "util.h"

/* Where a family keeps its port and address in its socket address: one
 * conversion each way for both families. */
struct family {
	int family;
	socklen_t len;         /* of its socket address */
	size_t port_at, addr_at; /* offsets in it */
	size_t addr_len;
};

static const struct family families[] = {
	{ AF_INET, sizeof(struct sockaddr_in), offsetof(struct sockaddr_in, sin_port),
	  offsetof(struct sockaddr_in, sin_addr), sizeof(struct in_addr) },
	{ AF_INET6, sizeof(struct sockaddr_in6), offsetof(struct sockaddr_in6, sin6_port),
	  offsetof(struct sockaddr_in6, sin6_addr), sizeof(struct in6_addr) },
};

static const struct family *family_of(int family)
{
	for (size_t i = 0; i < ARRAY_SIZE(families); i++)
		if (families[i].family == family)
			return &families[i];
	return NULL;
}

int addr_same(const struct member_addr *a, const struct member_addr *b)
{
	const struct family *f = family_of(a->family);

	if (a->family != b->family)
		return 0;
	return f == NULL || memcmp(&a->a, &b->a, f->addr_len) == 0;
}

int addr_str(const struct member_addr *a, char *buf, size_t len)
{
	if (a->family == 0)
		return xsnprintf(buf, len, "-") < 0 ? -1 : 0;
	return inet_ntop(a->family, &a->a, buf, (socklen_t)len) ? 0 : -1;
}

void addr_from_sockaddr(struct member_addr *a, const struct sockaddr_storage *ss)
{
	const struct family *f = family_of(ss->ss_family);
	uint16_t port;

	memset(a, 0, sizeof(*a));
	if (f == NULL)
		return;
	a->family = f->family;
	memcpy(&port, (const char *)ss + f->port_at, sizeof(port));
	a->port = ntohs(port);
	memcpy(&a->a, (const char *)ss + f->addr_at, f->addr_len);
}

socklen_t addr_to_sockaddr(const struct member_addr *a, uint16_t port,
                           struct sockaddr_storage *ss)
{
	const struct family *f = family_of(a->family);
	uint16_t nport = htons(port);

	memset(ss, 0, sizeof(*ss));
	if (f == NULL)
		return 0;
	ss->ss_family = (sa_family_t)f->family;
	memcpy((char *)ss + f->port_at, &nport, sizeof(nport));
	memcpy((char *)ss + f->addr_at, &a->a, f->addr_len);
	return f->len;
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
