/*
 * Unit tests: the receive path's unicast rules (issue 12) with a real
 * unicast socket on loopback: who becomes a peer, and who gets a datagram.
 * Lines are handed to daemon_receive() with an injected clock and source
 * address; what the daemon sends is read back from sockets the test owns.
 * Loopback delivers in order, so "nothing was sent for the first line" is
 * checked by what arrives first after a second, valid line: no sleeping.
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>

#include "daemon_state.h"
#include "util.h"

#define NOW_S 1764172800u

static struct daemon d;

static void quiet(enum log_level level, const char *msg, void *arg)
{
	(void)level;
	(void)msg;
	(void)arg;
}

static int setup(void **state)
{
	char err[256];

	(void)state;
	assert_true(sodium_init() >= 0);
	memset(&d, 0, sizeof(d));
	config_defaults(&d.cfg);
	snprintf(d.cfg.name, sizeof(d.cfg.name), "self");
	d.cfg.multicast = 0; /* unicast only, no seed */
	d.cfg.port = 0;      /* any free port */
	snprintf(d.cfg.interface, sizeof(d.cfg.interface), "lo"); /* our address: 127.0.0.1 */
	log_set_hook(quiet, NULL);
	if (net_open(&d.net, &d.cfg, err, sizeof(err)) == -1)
		fail_msg("net_open: %s", err);
	d.kr = tu_vector_keyring();
	d.incarnation = 1000;
	daemon_init(&d, &clock_system);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	log_set_hook(NULL, NULL);
	net_close(&d.net);
	daemon_fini(&d);
	keyring_free(d.kr);
	return 0;
}

/* A UDP socket on 127.0.0.1 standing for a remote peer; its address in *a. */
static int peer_socket(struct member_addr *a)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &sl), 0);
	addr_from_sockaddr(a, &ss);
	return fd;
}

/* The next datagram on fd (waits for it: loopback delivers it), NUL-terminated. */
static ssize_t next_datagram(int fd, char *buf, size_t cap)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, 2000) != 1)
		return -1;
	n = recv(fd, buf, cap - 1, MSG_DONTWAIT);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

static int pending(int fd)
{
	char c;

	return recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK) >= 0;
}

static void rx_key(const struct keyring_key *k, const char *sender, const char *body, uint64_t inc,
                   uint64_t ctr, const struct member_addr *from)
{
	char line[WIRE_MAX_DATAGRAM + 2];
	int n = wire_sign(k, NOW_S, sender, body, strlen(body), inc, ctr, line, sizeof(line));

	assert_true(n > 0);
	/* net_send reads CLOCK_MONOTONIC itself: the receive path must use the same clock */
	daemon_receive(&d, (uint8_t *)line, n, from, now_mono_ms(), NOW_S);
}

static void rx(const char *sender, const char *body, uint64_t inc, uint64_t ctr,
               const struct member_addr *from)
{
	rx_key(keyring_primary(d.kr), sender, body, inc, ctr, from);
}

static size_t npeers(void)
{
	struct peers_counts c;

	net_peer_counts(&d.net, now_mono_ms(), &c);
	return c.known;
}

/* The nonce of the probe we sent to fd (read up to it): 1 if there was one. */
static int read_probe(int fd, char nonce[2 * WIRE_NONCE_BYTES + 1])
{
	char buf[1300];

	while (pending(fd) && next_datagram(fd, buf, sizeof(buf)) > 0) {
		const char *n = strstr(buf, "] probe self n=");

		if (n) {
			memcpy(nonce, n + 15, 2 * WIRE_NONCE_BYTES);
			nonce[2 * WIRE_NONCE_BYTES] = '\0';
			return 1;
		}
	}
	return 0;
}

/* SENDER at a echoes NONCE (doc/PROTOCOL.md, "probe"): a is validated. */
static void echo_probe(const char *nonce, const char *sender, uint64_t inc, uint64_t ctr,
                       const struct member_addr *a)
{
	char body[160];

	snprintf(body, sizeof(body), "probe %s e=%s", sender, nonce);
	rx(sender, body, inc, ctr, a);
	assert_true(peers_validated(d.net.peers, a));
}

/* SENDER at fd/a answers the probe it was sent. */
static void validate(int fd, const char *sender, uint64_t inc, uint64_t ctr,
                     const struct member_addr *a)
{
	char nonce[2 * WIRE_NONCE_BYTES + 1];

	assert_true(read_probe(fd, nonce));
	echo_probe(nonce, sender, inc, ctr, a);
}

/* A probe from a with an echo one digit off our NONCE: validates nothing. */
static void echo_wrong(const char *nonce, const struct member_addr *a)
{
	char body[160];

	snprintf(body, sizeof(body), "probe node-2 e=%.31s%c", nonce, nonce[31] == '0' ? '1' : '0');
	rx("node-2", body, 7, 2, a);
	assert_false(peers_validated(d.net.peers, a));
}

static void test_forged_cjoin_draws_nothing(void **state)
{
	struct keyring_key forged = *keyring_primary(d.kr);
	struct member_addr a;
	int fd = peer_socket(&a);
	char buf[1300], nonce[2 * WIRE_NONCE_BYTES + 1];

	(void)state;
	memset(forged.secret, 0x5a, sizeof(forged.secret)); /* same id, another secret */
	crypto_auth_hmacsha256_init(&forged.hmac, forged.secret, sizeof(forged.secret));
	rx_key(&forged, "intruder", "cjoin intruder", 7, 1, &a);
	assert_int_equal(d.stats.dropped[DROP_BAD_MAC], 1);
	assert_int_equal(npeers(), 0);
	/* the same cjoin signed with the cluster key: a peer, not validated: one
	 * datagram, the probe (its credit does not pay for a view beside it) */
	rx("node-2", "cjoin node-2", 7, 1, &a);
	assert_int_equal(npeers(), 1);
	assert_true(read_probe(fd, nonce));
	assert_false(pending(fd)); /* and nothing before or after it */
	assert_false(peers_validated(d.net.peers, &a));
	/* a wrong echo validates nothing; the right one does, and the view it
	 * was owed follows, and nothing else */
	echo_wrong(nonce, &a);
	echo_probe(nonce, "node-2", 7, 3, &a);
	assert_true(next_datagram(fd, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "] cluster self@127.0.0.1 node-2@127.0.0.1 |"));
	assert_false(pending(fd));
	close(fd);
}

static void test_replay_from_new_address_adds_no_peer(void **state)
{
	struct member_addr a, b;
	int fa = peer_socket(&a), fb = peer_socket(&b);
	char buf[1300];

	(void)state;
	rx("node-2", "alive node-2 1764172800", 7, 10, &a);
	assert_int_equal(npeers(), 1);
	validate(fa, "node-2", 7, 11, &a);
	assert_true(next_datagram(fa, buf, sizeof(buf)) > 0); /* welcome: our view */
	/* the same line again, from b: a replay */
	rx("node-2", "alive node-2 1764172800", 7, 10, &b);
	assert_int_equal(d.stats.dropped[DROP_REPLAY], 1);
	/* a line that only fills a gap in the window, from b: sets its bit (late), no peer */
	rx("node-2", "alive node-2 1764172800", 7, 8, &b);
	assert_int_equal(d.stats.dropped[DROP_REPLAY], 1);
	assert_int_equal(d.stats.late, 1);
	assert_int_equal(npeers(), 1);
	/* what the daemon sends goes to a, never to b */
	assert_int_equal(daemon_send(&d, WIRE_ALIVE, "alive self 1764172800", 21, DEST_ALL, NULL), 0);
	assert_true(next_datagram(fa, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "] alive self "));
	assert_false(pending(fb));
	close(fa);
	close(fb);
}

static void test_every_line_to_every_peer_once(void **state)
{
	struct member_addr a[3];
	int fd[3];
	char buf[1300];

	(void)state;
	for (int i = 0; i < 3; i++) {
		char name[16], body[64];

		fd[i] = peer_socket(&a[i]);
		snprintf(name, sizeof(name), "node-%d", i + 2);
		snprintf(body, sizeof(body), "alive %s 1764172800", name);
		rx(name, body, 7, 1, &a[i]);
		validate(fd[i], name, 7, 2, &a[i]);
		while (pending(fd[i]))
			next_datagram(fd[i], buf, sizeof(buf)); /* the welcomes */
	}
	assert_int_equal(npeers(), 3);
	d.net.lines_sent = d.net.datagrams_sent = 0;
	assert_int_equal(daemon_send(&d, WIRE_ALIVE, "alive self 1764172800", 21, DEST_ALL, NULL), 0);
	assert_int_equal(d.net.lines_sent, 1);
	assert_int_equal(d.net.datagrams_sent, 3);
	for (int i = 0; i < 3; i++) {
		assert_true(next_datagram(fd[i], buf, sizeof(buf)) > 0);
		assert_false(pending(fd[i]));
		close(fd[i]);
	}
	/* net_send_to refuses an address that is not a peer */
	{
		struct member_addr x = a[0];

		x.port ^= 1; /* another port on the same host */
		assert_int_equal(net_send_to(&d.net, &x, "x\n", 2), -1);
		assert_int_equal(errno, EPERM);
	}
}

static void test_failed_member_slows_down(void **state)
{
	struct member_addr a;
	int fd = peer_socket(&a);
	char buf[1300];
	int got = 0;

	(void)state;
	rx("node-2", "alive node-2 1764172800", 7, 1, &a);
	validate(fd, "node-2", 7, 2, &a);
	while (pending(fd))
		next_datagram(fd, buf, sizeof(buf));
	net_peer_failed(&d.net, &a, now_mono_ms());
	for (unsigned i = 0; i < 10 * PEERS_SLOW_EVERY; i++)
		daemon_send(&d, WIRE_ALIVE, "alive self 1764172800", 21, DEST_ALL, NULL);
	while (pending(fd) && next_datagram(fd, buf, sizeof(buf)) > 0)
		got++;
	assert_int_equal(got, 10);
	close(fd);
}

/* A cluster line listing many addresses adds at most 3x its bytes in probes. */
static void test_listed_addresses_capped(void **state)
{
	struct member_addr a;
	int fd = peer_socket(&a);
	char body[WIRE_MAX_DATAGRAM];
	size_t len = 7, probes = 0, before, cost;
	char line[WIRE_MAX_DATAGRAM + 2];
	int n;

	(void)state;
	rx("node-2", "alive node-2 1764172800", 7, 1, &a);
	validate(fd, "node-2", 7, 2, &a);
	before = npeers();
	memcpy(body, "cluster", 7);
	for (int i = 1; len + 24 < 1000; i++)
		len += (size_t)snprintf(body + len, sizeof(body) - len, " v%d@10.9.%d.%d", i, i / 200,
		                        i % 200 + 1);
	n = wire_sign(keyring_primary(d.kr), NOW_S, "node-2", body, len, 7, 3, line, sizeof(line));
	assert_true(n > 0);
	daemon_receive(&d, (uint8_t *)line, (size_t)n, &a, now_mono_ms(), NOW_S);
	assert_int_equal(d.stats.accepted[WIRE_CLUSTER], 1);
	/* the probes of the addresses it added: at most 3x the line in bytes */
	probes = npeers() - before;
	cost = wire_overhead("self", UINT64_MAX, 65535, UINT64_MAX, UINT64_MAX) + 6 + 4 +
	       2 * (3 + 2 * WIRE_NONCE_BYTES); /* the longest probe "self" sends */
	assert_int_equal(probes, 3 * (size_t)n / cost);
	assert_true(probes < 40); /* of the 50 and more it lists */
	close(fd);
}

/* Addresses that are not unicast never become peers, from a cluster line. */
static void test_listed_not_unicast(void **state)
{
	static const char body[] = "cluster a@224.0.0.1 b@255.255.255.255 c@0.0.0.0 d@127.0.0.2 "
	                           "e@240.1.2.3 f@0.0.0.7";
	struct member_addr a;
	int fd = peer_socket(&a);

	(void)state;
	rx("node-2", "alive node-2 1764172800", 7, 1, &a);
	assert_int_equal(npeers(), 1);
	rx("node-2", body, 7, 2, &a);
	assert_int_equal(d.stats.accepted[WIRE_CLUSTER], 1);
	assert_int_equal(npeers(), 1);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_forged_cjoin_draws_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_from_new_address_adds_no_peer, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_every_line_to_every_peer_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_member_slows_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listed_addresses_capped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listed_not_unicast, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
