/*
 * addr: a peer's IP address (IPv4 or IPv6) and UDP port, as the receive
 * path, the membership table, the network and the statistics share it.
 */
#ifndef CMEM_ADDR_H
#define CMEM_ADDR_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define ADDR_STR_MAX 46 /* INET6_ADDRSTRLEN */

struct member_addr {
	int family; /* 0 unknown, AF_INET, AF_INET6 */
	uint16_t port; /* host order; 0 unknown */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} a;
};

/* Same family and address (the port is not compared). */
int addr_same(const struct member_addr *a, const struct member_addr *b);
/* Numeric text of the address ("-" when unknown): 0, or -1 if it does not fit. */
int addr_str(const struct member_addr *a, char *buf, size_t len);
/* From a socket address (AF_INET or AF_INET6; anything else: family 0). */
void addr_from_sockaddr(struct member_addr *a, const struct sockaddr_storage *ss);
/* To a socket address with PORT (host order); returns its length, 0 if unknown. */
socklen_t addr_to_sockaddr(const struct member_addr *a, uint16_t port,
                           struct sockaddr_storage *ss);

/*
 * Why a is no unicast destination, or NULL if it is one: multicast,
 * broadcast (255.255.255.255), unspecified (0.0.0.0/8, ::), reserved
 * (240.0.0.0/4), or loopback unless LOOPBACK_OK (only this host can send
 * from there; an address listed by a remote line cannot be trusted to).
 * Subnet broadcasts need the interfaces: net.c checks those.
 */
const char *addr_not_unicast(const struct member_addr *a, int loopback_ok);

#endif
