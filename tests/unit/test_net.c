/*
 * Unit tests: the parts of net that read what the kernel hands over —
 * SO_TIMESTAMPNS control messages, rtnetlink link and address messages —
 * and a real loopback round trip of arrival times (no timing assumed).
 */
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "net.h"
#include "netlink.h"

/* ---- SO_TIMESTAMPNS ---- */

union ctrl {
	char buf[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct timespec))];
	struct cmsghdr align;
};

/* A message whose control data holds an unrelated cmsg, then (if ts) a timestamp. */
static void make_msg(struct msghdr *m, union ctrl *c, const struct timespec *ts, int type)
{
	struct cmsghdr *h;
	int other = 7;

	memset(m, 0, sizeof(*m));
	memset(c, 0, sizeof(*c));
	m->msg_control = c->buf;
	m->msg_controllen = CMSG_SPACE(sizeof(int)) + (ts ? CMSG_SPACE(sizeof(*ts)) : 0);
	h = CMSG_FIRSTHDR(m);
	h->cmsg_level = IPPROTO_IP;
	h->cmsg_type = IP_TTL;
	h->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(h), &other, sizeof(other));
	if (ts == NULL)
		return;
	h = CMSG_NXTHDR(m, h);
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = type;
	h->cmsg_len = CMSG_LEN(sizeof(*ts));
	memcpy(CMSG_DATA(h), ts, sizeof(*ts));
}

static void test_timestamp_cmsg(void **state)
{
	struct timespec ts = { .tv_sec = 1764172800, .tv_nsec = 123456789 };
	struct msghdr m;
	union ctrl c;

	(void)state;
	make_msg(&m, &c, &ts, SCM_TIMESTAMPNS);
	assert_int_equal(net_rx_time_ns(&m), 1764172800123456789ull);
	/* absent, another type, or no control data at all: 0 */
	make_msg(&m, &c, NULL, 0);
	assert_int_equal(net_rx_time_ns(&m), 0);
	make_msg(&m, &c, &ts, SCM_TIMESTAMP);
	assert_int_equal(net_rx_time_ns(&m), 0);
	memset(&m, 0, sizeof(m));
	assert_int_equal(net_rx_time_ns(&m), 0);
	/* out-of-range nanoseconds are not a time */
	ts.tv_nsec = 1000000000L;
	make_msg(&m, &c, &ts, SCM_TIMESTAMPNS);
	assert_int_equal(net_rx_time_ns(&m), 0);
}

/*
 * A real round trip on loopback: every datagram of a batch carries a kernel
 * time, no earlier than its send and no later than its read.  (Arrival
 * rather than read time is the kernel's doing; right after the first socket
 * asks for stamps the kernel may still stamp at read time, so the test does
 * not insist on which.)
 */
static void test_batch_arrival_times(void **state)
{
	struct cmem_config cfg;
	struct net n;
	static struct net_batch b;
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in bound;
	socklen_t bl = sizeof(bound);
	struct timespec before, after;
	char err[256];
	uint64_t lo, hi;
	int s, got;

	(void)state;
	config_defaults(&cfg);
	cfg.multicast = 0; /* unicast only: bound to the wildcard, nothing joined */
	cfg.port = 0;      /* any free port */
	if (net_open(&n, &cfg, err, sizeof(err)) == -1)
		fail_msg("net_open: %s", err);
	assert_int_equal(getsockname(n.fd, (struct sockaddr *)&bound, &bl), 0);
	to.sin_port = bound.sin_port;
	s = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(s >= 0);
	clock_gettime(CLOCK_REALTIME, &before);
	for (int i = 0; i < 3; i++)
		assert_int_equal(sendto(s, "x\n", 2, 0, (struct sockaddr *)&to, sizeof(to)), 2);
	got = net_recv_batch(&n, &b);
	clock_gettime(CLOCK_REALTIME, &after);
	assert_int_equal(got, 3);
	lo = (uint64_t)before.tv_sec * 1000000000u + (uint64_t)before.tv_nsec;
	hi = (uint64_t)after.tv_sec * 1000000000u + (uint64_t)after.tv_nsec;
	for (int i = 0; i < got; i++) {
		assert_int_equal(b.len[i], 2);
		assert_true(b.rx_real_ns[i] >= lo && b.rx_real_ns[i] <= hi);
		assert_true(i == 0 || b.rx_real_ns[i] >= b.rx_real_ns[i - 1]);
	}
	close(s);
	net_close(&n);
}

/* ---- rtnetlink ---- */

struct seen {
	struct netlink_event e[8];
	int n;
};

static void collect(void *arg, const struct netlink_event *e)
{
	struct seen *s = arg;

	if (s->n < 8)
		s->e[s->n++] = *e;
}

/* Append one rtattr to the message at h (room assumed). */
static void add_attr(struct nlmsghdr *h, unsigned short type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));

	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(a->rta_len);
}

static size_t link_msg(char *buf, unsigned short type, int index, unsigned flags, const char *name)
{
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	struct ifinfomsg *ifi = NLMSG_DATA(h);

	h->nlmsg_len = NLMSG_LENGTH(sizeof(*ifi));
	h->nlmsg_type = type;
	ifi->ifi_index = index;
	ifi->ifi_flags = flags;
	if (name)
		add_attr(h, IFLA_IFNAME, name, strlen(name) + 1);
	return h->nlmsg_len;
}

static size_t addr_msg(char *buf, unsigned short type, int family, unsigned index, const char *a)
{
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	struct ifaddrmsg *ifa = NLMSG_DATA(h);
	uint8_t bin[16], peer[16];
	size_t len = family == AF_INET ? 4 : 16;

	h->nlmsg_len = NLMSG_LENGTH(sizeof(*ifa));
	h->nlmsg_type = type;
	ifa->ifa_family = (uint8_t)family;
	ifa->ifa_index = index;
	assert_int_equal(inet_pton(family, a, bin), 1);
	memset(peer, 0xee, sizeof(peer));
	add_attr(h, IFA_ADDRESS, family == AF_INET ? peer : bin, len); /* point-to-point: the peer */
	if (family == AF_INET)
		add_attr(h, IFA_LOCAL, bin, len);
	return h->nlmsg_len;
}

static void test_netlink_messages(void **state)
{
	static char buf[4096] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct seen s = { .n = 0 };
	char text[64];
	size_t len = 0;

	(void)state;
	memset(buf, 0, sizeof(buf));
	len += link_msg(buf + len, RTM_NEWLINK, 7, IFF_UP | IFF_RUNNING, "eth0");
	len += link_msg(buf + len, RTM_DELLINK, 3, 0, NULL);
	len += addr_msg(buf + len, RTM_NEWADDR, AF_INET, 7, "10.1.2.3");
	len += addr_msg(buf + len, RTM_DELADDR, AF_INET6, 7, "fd00::9");
	assert_int_equal(netlink_parse(buf, len, collect, &s), 0);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.e[0].kind, NETLINK_LINK_NEW);
	assert_int_equal(s.e[0].ifindex, 7);
	assert_string_equal(s.e[0].ifname, "eth0");
	assert_int_equal(s.e[0].flags & (IFF_UP | IFF_RUNNING), IFF_UP | IFF_RUNNING);
	assert_int_equal(s.e[1].kind, NETLINK_LINK_DEL);
	assert_int_equal(s.e[1].ifindex, 3);
	assert_string_equal(s.e[1].ifname, "");
	/* IPv4: IFA_LOCAL is ours, IFA_ADDRESS may be the far end */
	assert_int_equal(s.e[2].kind, NETLINK_ADDR_NEW);
	assert_int_equal(addr_str(&s.e[2].addr, text, sizeof(text)), 0);
	assert_string_equal(text, "10.1.2.3");
	assert_int_equal(s.e[3].kind, NETLINK_ADDR_DEL);
	assert_int_equal(addr_str(&s.e[3].addr, text, sizeof(text)), 0);
	assert_string_equal(text, "fd00::9");
}

static void test_netlink_truncated(void **state)
{
	static char buf[4096] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct nlmsghdr *done;
	struct seen s = { .n = 0 };
	size_t len;

	(void)state;
	memset(buf, 0, sizeof(buf));
	len = link_msg(buf, RTM_NEWLINK, 7, 0, "a-very-long-interface-name-indeed");
	/* a name longer than IF_NAMESIZE is cut, and terminated */
	assert_int_equal(netlink_parse(buf, len, collect, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(strlen(s.e[0].ifname), IF_NAMESIZE - 1);
	/* a short read: nothing is read past it */
	s.n = 0;
	for (size_t cut = 0; cut < len; cut++)
		netlink_parse(buf, cut, collect, &s);
	assert_int_equal(s.n, 0);
	/* the end of a dump is reported */
	done = (struct nlmsghdr *)(buf + NLMSG_ALIGN(len));
	done->nlmsg_len = NLMSG_LENGTH(sizeof(int));
	done->nlmsg_type = NLMSG_DONE;
	assert_int_equal(netlink_parse(buf, NLMSG_ALIGN(len) + done->nlmsg_len, collect, &s), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timestamp_cmsg),
		cmocka_unit_test(test_batch_arrival_times),
		cmocka_unit_test(test_netlink_messages),
		cmocka_unit_test(test_netlink_truncated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
