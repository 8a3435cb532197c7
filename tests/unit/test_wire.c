/*
 * test_wire: the v1 line format against the independent vectors, and
 * sign/receive round trips, mutations, limits and the order of checks.
 */
#include "testutil.h"

#include <arpa/inet.h>

#include "replay.h"
#include "util.h"
#include "wire.h"

#define NOW TU_VECTOR_NOW
#define WINDOW TU_VECTOR_WINDOW
#define INC 1764172790123456ull
#define MAX_ROWS 128

struct vector_row {
	char verdict[32]; /* as the tsv says: "accept", "bad_mac", ... */
	char desc[128];
	uint8_t *data;    /* exactly len bytes (malloc'd), so ASan sees over-reads */
	size_t len;
};

static struct keyring *kr;
static struct vector_row rows[MAX_ROWS];
static size_t nrows;

/*
 * The wire module's checks composed for its own unit tests: 1-4
 * (wire_verify), the replay window (5, replay.h) and the body (6).  The
 * daemon's one receive path is daemon_receive (tested with the same
 * vectors in test_daemon.c); this only exercises the pieces it is built of.
 */
static enum wire_verdict split_receive(const struct keyring *k, const uint8_t *buf, size_t len,
                                       uint64_t now, uint64_t window, struct replay_state *rs,
                                       struct wire_msg *msg)
{
	enum wire_verdict v = wire_verify(k, buf, len, now, window, msg);

	if (v != WIRE_OK)
		return v;
	if (rs && !replay_check(rs, msg->incarnation, msg->counter))
		return WIRE_REPLAY;
	v = wire_parse_body(msg, window);
	if (v == WIRE_OK && rs)
		replay_update(rs, msg->incarnation, msg->counter);
	return v;
}

/* The verdict name wire_verdict_name() gives for a tsv verdict. */
static const char *api_name(const char *tsv_verdict)
{
	return strcmp(tsv_verdict, "accept") == 0 ? "ok" : tsv_verdict;
}

static void load_rows(void)
{
	size_t len;
	char *text = tu_read_file(TU_VECTORS "/v1.tsv", &len), *cur = text, *line;

	if (text == NULL)
		fail_msg("cannot read %s/v1.tsv", TU_VECTORS);
	while ((line = strsep(&cur, "\n")) != NULL) {
		char *verdict, *hex, *desc;
		struct vector_row *r;
		ssize_t n;

		if (*line == '\0' || *line == '#')
			continue;
		verdict = strsep(&line, "\t");
		hex = strsep(&line, "\t");
		desc = strsep(&line, "\t");
		if (hex == NULL || desc == NULL || line != NULL)
			fail_msg("v1.tsv: malformed row \"%s\"", verdict);
		if (nrows == MAX_ROWS)
			fail_msg("v1.tsv: more than %d rows", MAX_ROWS);
		r = &rows[nrows++];
		snprintf(r->verdict, sizeof(r->verdict), "%s", verdict);
		snprintf(r->desc, sizeof(r->desc), "%s", desc);
		r->data = malloc(strlen(hex) / 2 + 1);
		assert_non_null(r->data);
		n = tu_hex_decode(hex, strlen(hex), r->data, strlen(hex) / 2 + 1);
		if (n < 0)
			fail_msg("v1.tsv: bad hex in row \"%s\"", desc);
		r->len = (size_t)n;
	}
	free(text);
}

static const struct vector_row *find_row(const char *desc)
{
	for (size_t i = 0; i < nrows; i++)
		if (strcmp(rows[i].desc, desc) == 0)
			return &rows[i];
	fail_msg("v1.tsv has no row \"%s\"", desc);
	return NULL;
}

static int group_setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	kr = tu_vector_keyring();
	load_rows();
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < nrows; i++)
		free(rows[i].data);
	keyring_free(kr);
	return 0;
}

static const struct keyring_key *key(uint16_t id)
{
	const struct keyring_key *k = keyring_find(kr, id);

	assert_non_null(k);
	return k;
}

/* Sign BODY as SENDER with key ID; fails the test if wire_sign refuses. */
static size_t sign(uint16_t id, uint64_t ts, const char *sender, const char *body, uint64_t inc,
                   uint64_t ctr, char *out, size_t outlen)
{
	int n = wire_sign(key(id), ts, sender, body, strlen(body), inc, ctr, out, outlen);

	if (n < 0)
		fail_msg("wire_sign refused body \"%s\"", body);
	assert_int_equal((size_t)n, strlen(out));
	return (size_t)n;
}

/*
 * split_receive on an exact-size heap copy of the datagram (so that ASan
 * catches any read past its end), with a fresh replay state.
 */
static enum wire_verdict recv_copy(const void *data, size_t len, uint64_t now, uint64_t window)
{
	struct replay_state rs = { 0 };
	struct wire_msg m;
	uint8_t *copy = malloc(len ? len : 1);
	enum wire_verdict v;

	assert_non_null(copy);
	if (len)
		memcpy(copy, data, len);
	v = split_receive(kr, copy, len, now, window, &rs, &m);
	free(copy);
	return v;
}

/* A line built by hand: HMAC of SIGNED with SECRET, appended the v1 way. */
static size_t raw_line(const uint8_t secret[32], const char *signed_part, char *out, size_t outlen)
{
	uint8_t mac[32];
	size_t n = strlen(signed_part);

	assert_true(n + 3 + 64 + 2 <= outlen);
	crypto_auth_hmacsha256(mac, (const uint8_t *)signed_part, n, secret);
	memcpy(out, signed_part, n);
	memcpy(out + n, " h=", 3);
	sodium_bin2hex(out + n + 3, 65, mac, sizeof(mac));
	out[n + 67] = '\n';
	out[n + 68] = '\0';
	return n + 68;
}

static void key1_secret(uint8_t secret[32])
{
	assert_int_equal(tu_hex_decode(TEST_KEY1_HEX, 64, secret, 32), 32);
}

static void test_verdict_and_verb_names(void **state)
{
	static const char *const want[] = { "ok", "bad_format", "bad_version", "unknown_key",
		                            "bad_mac", "stale", "replay", "bad_body" };

	(void)state;
	for (int v = 0; v < WIRE_NVERDICTS; v++)
		assert_string_equal(wire_verdict_name((enum wire_verdict)v), want[v]);
	assert_string_equal(wire_verdict_name(WIRE_NVERDICTS), "unknown");
	assert_string_equal(wire_verb_name(WIRE_CJOIN), "cjoin");
	assert_string_equal(wire_verb_name(WIRE_ALIVE), "alive");
	assert_string_equal(wire_verb_name(WIRE_LEAVE), "leave");
	assert_string_equal(wire_verb_name(WIRE_CLUSTER), "cluster");
	assert_string_equal(wire_verb_name(WIRE_NVERBS), "unknown");
}

/* Every row of v1.tsv, each judged as the first line from its sender. */
static void test_v1_vectors(void **state)
{
	unsigned failures = 0, seen[WIRE_NVERDICTS] = { 0 };

	(void)state;
	assert_true(nrows >= 46);
	for (size_t i = 0; i < nrows; i++) {
		const struct vector_row *r = &rows[i];
		enum wire_verdict v = recv_copy(r->data, r->len, NOW, WINDOW);

		seen[v]++;
		if (strcmp(wire_verdict_name(v), api_name(r->verdict)) != 0) {
			print_error("v1.tsv row %zu (%s): want %s, got %s\n", i + 1, r->desc,
			            api_name(r->verdict), wire_verdict_name(v));
			failures++;
		}
	}
	assert_int_equal(failures, 0);
	/* the vectors exercise every verdict */
	for (int v = 0; v < WIRE_NVERDICTS; v++)
		if (v != WIRE_REPLAY)
			assert_true(seen[v] > 0);
}

/* Same rows through the split API: wire_verify then wire_parse_body. */
static void test_v1_vectors_split_api(void **state)
{
	(void)state;
	for (size_t i = 0; i < nrows; i++) {
		const struct vector_row *r = &rows[i];
		struct wire_msg m;
		enum wire_verdict v = wire_verify(kr, r->data, r->len, NOW, WINDOW, &m);

		if (v == WIRE_OK)
			v = wire_parse_body(&m, WINDOW);
		if (strcmp(wire_verdict_name(v), api_name(r->verdict)) != 0)
			fail_msg("row %s: want %s, got %s", r->desc, api_name(r->verdict),
			         wire_verdict_name(v));
	}
}

static void test_v1_fields(void **state)
{
	const struct vector_row *r = find_row("alive, key 1");
	struct replay_state rs = { 0 };
	struct wire_msg m;

	(void)state;
	assert_int_equal(split_receive(kr, r->data, r->len, NOW, WINDOW, &rs, &m), WIRE_OK);
	assert_int_equal(m.timestamp, 1764172800u);
	assert_string_equal(m.sender, "node-a");
	assert_int_equal(m.sender_len, 6);
	assert_int_equal(m.version, 1);
	assert_int_equal(m.key_id, 1);
	assert_int_equal(m.incarnation, INC);
	assert_int_equal(m.counter, 42);
	assert_int_equal(m.verb, WIRE_ALIVE);
	assert_int_equal(m.alive_time, 1764172800u);
	/* the body points into the datagram */
	assert_ptr_equal(m.body, (const char *)r->data + strlen("1764172800: [node-a] "));
	assert_int_equal(m.body_len, strlen("alive node-a 1764172800"));
	assert_memory_equal(m.body, "alive node-a 1764172800", m.body_len);
	assert_true(rs.valid);
	assert_int_equal(rs.incarnation, INC);
	assert_int_equal(rs.top, 42);

	r = find_row("counter 0 and incarnation 0 are valid numbers");
	memset(&rs, 0, sizeof(rs));
	assert_int_equal(split_receive(kr, r->data, r->len, NOW, WINDOW, &rs, &m), WIRE_OK);
	assert_int_equal(m.incarnation, 0);
	assert_int_equal(m.counter, 0);

	r = find_row("64-character sender name");
	assert_int_equal(split_receive(kr, r->data, r->len, NOW, WINDOW, NULL, &m), WIRE_OK);
	assert_int_equal(m.sender_len, 64);
	assert_int_equal(strlen(m.sender), 64);
	assert_int_equal(m.verb, WIRE_CJOIN);
}

/* An accepted vector received twice by the same receiver is a replay. */
static void test_v1_accepted_then_replayed(void **state)
{
	unsigned naccept = 0;

	(void)state;
	for (size_t i = 0; i < nrows; i++) {
		const struct vector_row *r = &rows[i];
		struct replay_state rs = { 0 };
		struct wire_msg m;

		if (strcmp(r->verdict, "accept") != 0)
			continue;
		naccept++;
		assert_int_equal(split_receive(kr, r->data, r->len, NOW, WINDOW, &rs, &m), WIRE_OK);
		assert_true(rs.valid);
		assert_int_equal(rs.incarnation, m.incarnation);
		assert_int_equal(rs.top, m.counter);
		if (split_receive(kr, r->data, r->len, NOW, WINDOW, &rs, &m) != WIRE_REPLAY)
			fail_msg("row %s: second copy not refused as a replay", r->desc);
	}
	assert_true(naccept >= 10);
}

/* A refused line changes no replay state (PROTOCOL.md section 4). */
static void test_v1_refused_leave_state_alone(void **state)
{
	(void)state;
	for (size_t i = 0; i < nrows; i++) {
		const struct vector_row *r = &rows[i];
		struct replay_state rs = { 1, 5, 7, 0x55 }, before = rs;
		struct wire_msg m;

		if (strcmp(r->verdict, "accept") == 0)
			continue;
		assert_int_not_equal(split_receive(kr, r->data, r->len, NOW, WINDOW, &rs, &m), WIRE_OK);
		if (memcmp(&rs, &before, sizeof(rs)) != 0)
			fail_msg("row %s changed the replay state", r->desc);
	}
}

/* vectors/replay.tsv rows: incarnation, counter, verdict. */
struct replay_row {
	uint64_t inc, ctr;
	int accept;
};

static size_t load_replay_rows(struct replay_row *out, size_t max)
{
	char *text = tu_read_file(TU_VECTORS "/replay.tsv", NULL), *cur = text, *line;
	size_t n = 0;

	if (text == NULL)
		fail_msg("cannot read %s/replay.tsv", TU_VECTORS);
	while ((line = strsep(&cur, "\n")) != NULL) {
		char *inc, *ctr, *verdict;

		if (*line == '\0' || *line == '#')
			continue;
		inc = strsep(&line, "\t");
		ctr = strsep(&line, "\t");
		verdict = strsep(&line, "\t");
		assert_non_null(verdict);
		assert_true(n < max);
		assert_int_equal(parse_u64_str(inc, &out[n].inc), 0);
		assert_int_equal(parse_u64_str(ctr, &out[n].ctr), 0);
		assert_true(strcmp(verdict, "accept") == 0 || strcmp(verdict, "replay") == 0);
		out[n].accept = strcmp(verdict, "accept") == 0;
		n++;
	}
	free(text);
	return n;
}

static void test_replay_vectors_replay_api(void **state)
{
	struct replay_row r[64];
	size_t n = load_replay_rows(r, 64);
	struct replay_state rs = { 0 };

	(void)state;
	assert_true(n >= 27);
	for (size_t i = 0; i < n; i++) {
		struct replay_state before = rs;
		int ok = replay_check(&rs, r[i].inc, r[i].ctr);

		if (ok != r[i].accept)
			fail_msg("replay.tsv step %zu (%llu.%llu): want %d, got %d", i + 1,
			         (unsigned long long)r[i].inc, (unsigned long long)r[i].ctr,
			         r[i].accept, ok);
		assert_memory_equal(&rs, &before, sizeof(rs));
		if (ok)
			replay_update(&rs, r[i].inc, r[i].ctr);
	}
}

static void test_replay_vectors_wire_api(void **state)
{
	struct replay_row r[64];
	size_t n = load_replay_rows(r, 64);
	struct replay_state rs = { 0 };

	(void)state;
	for (size_t i = 0; i < n; i++) {
		/* a clock so late that every incarnation of the vectors is in bound */
		const uint64_t late = UINT64_MAX / 1000000u;
		char line[256];
		struct wire_msg m;
		size_t len = sign(1, late, "node-a", "alive node-a 18446744073709", r[i].inc, r[i].ctr,
		                  line, sizeof(line));
		enum wire_verdict v = split_receive(kr, (uint8_t *)line, len, late, WINDOW, &rs, &m);

		if (v != (r[i].accept ? WIRE_OK : WIRE_REPLAY))
			fail_msg("replay.tsv step %zu through the checks: got %s", i + 1,
			         wire_verdict_name(v));
	}
}

static void check_roundtrip(const char *body, enum wire_verb verb, uint16_t id)
{
	char line[WIRE_MAX_DATAGRAM + 16];
	size_t len = sign(id, NOW, "node-a", body, INC, 7, line, sizeof(line));
	struct replay_state rs = { 0 };
	struct wire_msg m;
	uint8_t secret[32], mac[32];
	char hex[65];

	assert_int_equal(len, wire_overhead("node-a", NOW, id, INC, 7) + strlen(body));
	assert_true(len <= WIRE_MAX_DATAGRAM);
	assert_int_equal(line[len - 1], '\n');
	assert_int_equal(line[len], '\0');
	assert_int_equal(split_receive(kr, (uint8_t *)line, len, NOW, WINDOW, &rs, &m), WIRE_OK);
	assert_int_equal(m.verb, verb);
	assert_int_equal(m.key_id, id);
	assert_int_equal(m.timestamp, NOW);
	assert_int_equal(m.incarnation, INC);
	assert_int_equal(m.counter, 7);
	assert_string_equal(m.sender, "node-a");
	assert_int_equal(m.body_len, strlen(body));
	assert_memory_equal(m.body, body, m.body_len);
	assert_int_equal(rs.top, 7);

	/* the MAC is plain HMAC-SHA256 of the signed part, lowercase hex */
	assert_int_equal(tu_hex_decode(id == 1 ? TEST_KEY1_HEX : TEST_KEY2_HEX, 64, secret, 32), 32);
	crypto_auth_hmacsha256(mac, (uint8_t *)line, len - 68, secret);
	sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
	assert_memory_equal(line + len - 68, " h=", 3);
	assert_memory_equal(line + len - 65, hex, 64);
}

static void test_roundtrip_cjoin(void **state)
{
	(void)state;
	check_roundtrip("cjoin node-a", WIRE_CJOIN, 1);
}

static void test_roundtrip_alive(void **state)
{
	char line[256];
	struct wire_msg m;
	size_t len;

	(void)state;
	check_roundtrip("alive node-a 1764172800", WIRE_ALIVE, 1);
	len = sign(1, NOW, "node-a", "alive node-a 18446744073709551615", 1, 1, line, sizeof(line));
	assert_int_equal(split_receive(kr, (uint8_t *)line, len, NOW, WINDOW, NULL, &m), WIRE_OK);
	assert_int_equal(m.alive_time, UINT64_MAX);
}

static void test_roundtrip_leave(void **state)
{
	(void)state;
	check_roundtrip("leave node-a", WIRE_LEAVE, 1);
}

static void test_roundtrip_cluster(void **state)
{
	(void)state;
	check_roundtrip("cluster node-a@10.1.0.1 node-b@fd00::2 n_c.x@::ffff:192.0.2.1 d@::",
	                WIRE_CLUSTER, 1);
}

/* A line signed with key 2 (not primary) verifies. */
static void test_key2_verifies(void **state)
{
	char line[256];
	struct wire_msg m;
	size_t len;

	(void)state;
	assert_int_equal(keyring_primary(kr)->id, 1);
	check_roundtrip("alive node-a 1764172800", WIRE_ALIVE, 2);
	len = sign(2, NOW, "node-b", "leave node-b", 3, 9, line, sizeof(line));
	assert_non_null(strstr(line, "|v1 k=2 n=3.9 h="));
	assert_int_equal(split_receive(kr, (uint8_t *)line, len, NOW, WINDOW, NULL, &m), WIRE_OK);
	assert_int_equal(m.key_id, 2);
}

/* A key id not in the ring, and a known id with another secret. */
static void test_unknown_key(void **state)
{
	uint8_t other[32];
	struct keyring *kr3 = keyring_new();
	char line[256];
	struct wire_msg m;
	int len;

	(void)state;
	assert_non_null(kr3);
	randombytes_buf(other, sizeof(other));
	assert_int_equal(keyring_add(kr3, 3, other, 1), 0);
	assert_int_equal(keyring_add(kr3, 1, other, 0), 0);
	len = wire_sign(keyring_find(kr3, 3), NOW, "node-a", "cjoin node-a", 12, INC, 1, line,
	                sizeof(line));
	assert_true(len > 0);
	assert_int_equal(split_receive(kr, (uint8_t *)line, (size_t)len, NOW, WINDOW, NULL, &m),
	                 WIRE_UNKNOWN_KEY);
	/* the ring that has key 3 accepts it */
	assert_int_equal(split_receive(kr3, (uint8_t *)line, (size_t)len, NOW, WINDOW, NULL, &m),
	                 WIRE_OK);
	len = wire_sign(keyring_find(kr3, 1), NOW, "node-a", "cjoin node-a", 12, INC, 1, line,
	                sizeof(line));
	assert_true(len > 0);
	assert_int_equal(split_receive(kr, (uint8_t *)line, (size_t)len, NOW, WINDOW, NULL, &m),
	                 WIRE_BAD_MAC);
	assert_int_equal(recv_copy(find_row("key id 3 not in keyring")->data,
	                           find_row("key id 3 not in keyring")->len, NOW, WINDOW),
	                 WIRE_UNKNOWN_KEY);
	keyring_free(kr3);
}

/* Name width 4, 10.9.x.y / fd00::x:y addresses, alternating families. */
static void member(unsigned i, char *out, size_t outlen)
{
	if (i % 2)
		snprintf(out, outlen, "member-%04u@10.9.%u.%u", i, i / 256, i % 256);
	else
		snprintf(out, outlen, "member-%04u@fd00::%x:%x", i, i / 7, i);
}

/*
 * Split a membership list over cluster lines, each as full as the
 * 1232-byte limit allows, and read the whole list back from them.
 */
static void test_cluster_split(void **state)
{
	enum { NMEMBERS = 300 };
	struct replay_state rs = { 0 };
	unsigned next = 0, got = 0, nlines = 0;
	uint64_t ctr = 1;

	(void)state;
	while (next < NMEMBERS) {
		size_t budget = WIRE_MAX_DATAGRAM - wire_overhead("node-a", NOW, 1, INC, ctr);
		char body[WIRE_MAX_DATAGRAM] = "cluster", ent[96], line[WIRE_MAX_DATAGRAM + 2];
		size_t blen = 7, len, pos = 0;
		struct wire_entry e;
		struct wire_msg m;
		unsigned first = next;

		for (; next < NMEMBERS; next++) {
			member(next, ent, sizeof(ent));
			if (blen + 1 + strlen(ent) > budget)
				break;
			blen += (size_t)snprintf(body + blen, sizeof(body) - blen, " %s", ent);
		}
		assert_true(next > first);
		len = sign(1, NOW, "node-a", body, INC, ctr++, line, sizeof(line));
		assert_true(len <= WIRE_MAX_DATAGRAM);
		if (next < NMEMBERS) /* full: the next entry would not have fitted */
			assert_true(len + 1 + strlen(ent) > WIRE_MAX_DATAGRAM);
		assert_int_equal(split_receive(kr, (uint8_t *)line, len, NOW, WINDOW, &rs, &m), WIRE_OK);
		assert_int_equal(m.nentries, next - first);
		while (wire_cluster_next(&m, &pos, &e)) {
			char want[96];

			member(got++, want, sizeof(want));
			*strchr(want, '@') = '\0';
			assert_string_equal(e.name, want);
			assert_string_equal(e.addr, want + strlen(want) + 1);
			assert_int_equal(e.family, got % 2 ? AF_INET6 : AF_INET);
		}
		nlines++;
	}
	assert_int_equal(got, NMEMBERS);
	assert_true(nlines >= 3);
}

/* Fill a cluster body so that the whole line is exactly `target` bytes. */
static size_t fill_cluster(char *body, size_t size, size_t target_body)
{
	size_t blen = 7, remaining;
	unsigned k = 0;

	assert_true(target_body >= 7 + 11 && target_body < size);
	memcpy(body, "cluster", 8);
	remaining = target_body - blen;
	while (remaining > 0) {
		/* " NAME@10.0.0.1" costs 10 + NAME; keep at least 11 for the last */
		size_t name = remaining - 10;

		if (name > WIRE_NAME_MAX)
			name = remaining - 10 - 11 < WIRE_NAME_MAX ? remaining - 10 - 11 : WIRE_NAME_MAX;
		body[blen++] = ' ';
		for (size_t i = 0; i < name; i++)
			body[blen++] = (char)('a' + (k + i) % 26);
		memcpy(body + blen, "@10.0.0.1", 9);
		blen += 9;
		remaining -= 10 + name;
		k++;
	}
	body[blen] = '\0';
	assert_int_equal(blen, target_body);
	return blen;
}

/* A line of exactly 1232 bytes is signed and accepted; one more byte is not. */
static void test_cluster_exact_limit(void **state)
{
	size_t over = wire_overhead("node-a", NOW, 1, INC, 99);
	char body[WIRE_MAX_DATAGRAM + 8], line[WIRE_MAX_DATAGRAM + 64];
	size_t blen = fill_cluster(body, sizeof(body), WIRE_MAX_DATAGRAM - over), len;
	struct wire_msg m;

	(void)state;
	len = sign(1, NOW, "node-a", body, INC, 99, line, sizeof(line));
	assert_int_equal(len, WIRE_MAX_DATAGRAM);
	assert_int_equal(recv_copy(line, len, NOW, WINDOW), WIRE_OK);
	assert_int_equal(split_receive(kr, (uint8_t *)line, len, NOW, WINDOW, NULL, &m), WIRE_OK);
	assert_true(m.nentries > 10);

	/* one byte more: "10.0.0.1" -> "10.0.0.10" at the end */
	memcpy(body + blen, "0", 2);
	assert_int_equal(wire_sign(key(1), NOW, "node-a", body, blen + 1, INC, 99, line,
	                           sizeof(line)),
	                 -1);
}

/* A correctly MACed 1233-byte line is dropped unparsed: bad_format. */
static void test_oversize_datagram(void **state)
{
	uint8_t secret[32];
	char sp[WIRE_MAX_DATAGRAM + 128], body[WIRE_MAX_DATAGRAM], line[WIRE_MAX_DATAGRAM + 256];
	size_t over = wire_overhead("node-a", NOW, 1, INC, 5), len;
	const struct vector_row *r = find_row("1233-byte datagram");

	(void)state;
	key1_secret(secret);
	fill_cluster(body, sizeof(body), WIRE_MAX_DATAGRAM + 1 - over);
	snprintf(sp, sizeof(sp), "%u: [node-a] %s |v1 k=1 n=%llu.5", NOW, body,
	         (unsigned long long)INC);
	len = raw_line(secret, sp, line, sizeof(line));
	assert_int_equal(len, WIRE_MAX_DATAGRAM + 1);
	assert_int_equal(recv_copy(line, len, NOW, WINDOW), WIRE_BAD_FORMAT);
	/* the vectors' own 1233-byte row, and their 1232-byte one */
	assert_int_equal(r->len, WIRE_MAX_DATAGRAM + 1);
	assert_int_equal(recv_copy(r->data, r->len, NOW, WINDOW), WIRE_BAD_FORMAT);
	assert_int_equal(recv_copy(find_row("cluster line of exactly 1232 bytes")->data,
	                           WIRE_MAX_DATAGRAM, NOW, WINDOW),
	                 WIRE_OK);
}

static void test_sign_refuses_pipe(void **state)
{
	char line[256];

	(void)state;
	assert_int_equal(wire_sign(key(1), NOW, "node-a", "cjoin node|a", 12, 1, 1, line,
	                           sizeof(line)),
	                 -1);
	assert_int_equal(wire_sign(key(1), NOW, "node-a", "|v1 k=1", 7, 1, 1, line, sizeof(line)),
	                 -1);
	assert_int_equal(wire_sign(key(1), NOW, "node-a", "|", 1, 1, 1, line, sizeof(line)), -1);
}

static void test_sign_refuses_nonprintable(void **state)
{
	static const unsigned char bad[] = { 0x00, 0x01, 0x09, 0x0a, 0x0d, 0x1f, 0x7f, 0x80, 0xc3, 0xff };
	char body[] = "cjoin node-a", line[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad); i++) {
		for (size_t pos = 0; pos < strlen("cjoin node-a"); pos += 5) {
			memcpy(body, "cjoin node-a", sizeof(body));
			body[pos] = (char)bad[i];
			assert_int_equal(wire_sign(key(1), NOW, "node-a", body, 12, 1, 1, line,
			                           sizeof(line)),
			                 -1);
		}
	}
	/* the printable extremes are fine */
	assert_true(wire_sign(key(1), NOW, "node-a", " ~", 2, 1, 1, line, sizeof(line)) > 0);
}

static void test_sign_refuses_overlong(void **state)
{
	char body[WIRE_MAX_DATAGRAM + 1], line[4096];
	size_t over = wire_overhead("node-a", NOW, 1, 1, 1);

	(void)state;
	memset(body, 'x', sizeof(body));
	/* the longest body that fits, then one more byte */
	assert_int_equal(wire_sign(key(1), NOW, "node-a", body, WIRE_MAX_DATAGRAM - over, 1, 1,
	                           line, sizeof(line)),
	                 WIRE_MAX_DATAGRAM);
	assert_int_equal(wire_sign(key(1), NOW, "node-a", body, WIRE_MAX_DATAGRAM - over + 1, 1, 1,
	                           line, sizeof(line)),
	                 -1);
	assert_int_equal(wire_sign(key(1), NOW, "node-a", body, sizeof(body), 1, 1, line,
	                           sizeof(line)),
	                 -1);
}

/* outlen too small by one byte: refused, and nothing written past outlen. */
static void test_sign_respects_outlen(void **state)
{
	char line[256];
	int len;

	(void)state;
	len = wire_sign(key(1), NOW, "node-a", "cjoin node-a", 12, 1, 1, line, sizeof(line));
	assert_true(len > 0);
	for (size_t outlen = 0; outlen <= (size_t)len; outlen++) {
		memset(line, 0xAA, sizeof(line));
		assert_int_equal(wire_sign(key(1), NOW, "node-a", "cjoin node-a", 12, 1, 1, line,
		                           outlen),
		                 -1);
		for (size_t i = outlen; i < sizeof(line); i++)
			assert_int_equal((unsigned char)line[i], 0xAA);
	}
	/* the line and its NUL fit exactly */
	assert_int_equal(wire_sign(key(1), NOW, "node-a", "cjoin node-a", 12, 1, 1, line,
	                           (size_t)len + 1),
	                 len);
}

static void test_sign_refuses_bad_sender_or_empty_body(void **state)
{
	char name65[66], line[512];

	(void)state;
	memset(name65, 'n', 65);
	name65[65] = '\0';
	assert_int_equal(wire_sign(key(1), NOW, "", "cjoin x", 7, 1, 1, line, sizeof(line)), -1);
	assert_int_equal(wire_sign(key(1), NOW, name65, "cjoin x", 7, 1, 1, line, sizeof(line)), -1);
	assert_int_equal(wire_sign(key(1), NOW, "a/b", "cjoin x", 7, 1, 1, line, sizeof(line)), -1);
	assert_int_equal(wire_sign(key(1), NOW, "a b", "cjoin x", 7, 1, 1, line, sizeof(line)), -1);
	assert_int_equal(wire_sign(key(1), NOW, "a]", "cjoin x", 7, 1, 1, line, sizeof(line)), -1);
	assert_int_equal(wire_sign(key(1), NOW, "node-a", "", 0, 1, 1, line, sizeof(line)), -1);
	name65[64] = '\0';
	assert_true(wire_sign(key(1), NOW, name65, "cjoin x", 7, 1, 1, line, sizeof(line)) > 0);
}

/*
 * PROTOCOL.md 2.1: a name begins with a letter or digit.  At each place
 * the wire reads one: the sender of a signed line (envelope), a `cluster`
 * entry (body) and the sender wire_sign is given.
 */
static const struct {
	const char *name;
	int ok;
} names[] = {
	{ ".", 0 }, { "..", 0 }, { "-rf", 0 }, { "--help", 0 }, { "_x", 0 }, { ".x", 0 },
	{ "-", 0 }, { "_", 0 }, { "a", 1 }, { "9", 1 }, { "node-a", 1 }, { "n.-_", 1 },
	{ "9.node-a_b", 1 }, { "A_", 1 },
};

static enum wire_verdict recv_sender(const char *name)
{
	char signed_part[256], line[512];
	uint8_t secret[32];

	key1_secret(secret);
	snprintf(signed_part, sizeof(signed_part), "%u: [%s] cjoin %s |v1 k=1 n=%llu.1", NOW, name,
	         name, (unsigned long long)INC);
	return recv_copy(line, raw_line(secret, signed_part, line, sizeof(line)), NOW, WINDOW);
}

static enum wire_verdict recv_entry(const char *name)
{
	char body[128], line[512];

	snprintf(body, sizeof(body), "cluster node-a@10.1.0.1 %s@10.1.0.2", name);
	return recv_copy(line, sign(1, NOW, "node-a", body, INC, 1, line, sizeof(line)), NOW,
	                 WINDOW);
}

static void test_name_rule(void **state)
{
	char line[512];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		const char *n = names[i].name;
		int ok = names[i].ok;

		if (recv_sender(n) != (ok ? WIRE_OK : WIRE_BAD_FORMAT))
			fail_msg("sender \"%s\": want %s", n, ok ? "ok" : "bad_format");
		if (recv_entry(n) != (ok ? WIRE_OK : WIRE_BAD_BODY))
			fail_msg("cluster entry \"%s\": want %s", n, ok ? "ok" : "bad_body");
		if ((wire_sign(key(1), NOW, n, "cjoin x", 7, 1, 1, line, sizeof(line)) > 0) != ok)
			fail_msg("wire_sign: sender \"%s\" %s", n, ok ? "refused" : "accepted");
		assert_int_equal(name_valid(n), ok);
		assert_int_equal(name_span(n, strlen(n)), ok ? strlen(n) : 0);
	}
	/* name_span stops at the first other character, and only there */
	assert_int_equal(name_span("node-a] x", 9), 6);
	assert_int_equal(name_span("node-a@1", 3), 3);
	assert_false(name_valid("node a"));
	assert_false(name_valid(""));
}

static int is_lower_hex(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Every single-byte change of a valid line is refused. */
static void mutate_every_byte(const char *line, size_t len)
{
	static const uint8_t values[] = { 0x00, 0x09, 0x0a, 0x0d, ' ', '.', '0', '1', '9', ':',
		                          '@', 'A', 'F', '[', ']', 'a', 'f', 'g', 'z',
		                          '|', '~', 0x7f, 0x80, 0xff };
	uint8_t *buf = malloc(len);
	unsigned checked = 0;

	assert_non_null(buf);
	for (size_t i = 0; i < len; i++) {
		uint8_t cand[8 + sizeof(values)];

		for (int b = 0; b < 8; b++)
			cand[b] = (uint8_t)(line[i] ^ (1 << b));
		memcpy(cand + 8, values, sizeof(values));
		for (size_t c = 0; c < sizeof(cand); c++) {
			struct replay_state rs = { 0 };
			struct wire_msg m;
			enum wire_verdict v;

			if (cand[c] == (uint8_t)line[i])
				continue;
			memcpy(buf, line, len);
			buf[i] = cand[c];
			v = split_receive(kr, buf, len, NOW, WINDOW, &rs, &m);
			if (v == WIRE_OK)
				fail_msg("byte %zu changed 0x%02x -> 0x%02x was accepted", i,
				         (unsigned char)line[i], cand[c]);
			assert_false(rs.valid);
			/* a MAC digit: still lowercase hex is a bad MAC, else bad format */
			if (i >= len - 65 && i < len - 1)
				assert_int_equal(v, is_lower_hex(cand[c]) ? WIRE_BAD_MAC
				                                          : WIRE_BAD_FORMAT);
			/* the newline, or a byte outside 0x20-0x7e: bad format */
			if (i == len - 1 || cand[c] < 0x20 || cand[c] > 0x7e)
				assert_int_equal(v, WIRE_BAD_FORMAT);
			checked++;
		}
	}
	assert_true(checked >= len * 25);
	free(buf);
}

static void test_mutation_every_byte_alive(void **state)
{
	char line[256];
	size_t len = sign(1, NOW, "node-a", "alive node-a 1764172800", INC, 42, line, sizeof(line));

	(void)state;
	assert_int_equal(recv_copy(line, len, NOW, WINDOW), WIRE_OK);
	mutate_every_byte(line, len);
}

static void test_mutation_every_byte_cluster(void **state)
{
	char line[512];
	size_t len = sign(2, NOW, "n1", "cluster n1@10.0.0.1 n2@fe80::2", 1, 2, line, sizeof(line));

	(void)state;
	assert_int_equal(recv_copy(line, len, NOW, WINDOW), WIRE_OK);
	mutate_every_byte(line, len);
}

/* Every truncation, every deleted byte and every inserted byte is refused. */
static void test_truncation_deletion_insertion(void **state)
{
	char line[256], buf[258];
	size_t len = sign(1, NOW, "node-a", "leave node-a", INC, 3, line, sizeof(line));

	(void)state;
	for (size_t n = 0; n < len; n++)
		assert_int_equal(recv_copy(line, n, NOW, WINDOW), WIRE_BAD_FORMAT);
	for (size_t i = 0; i < len; i++) {
		memcpy(buf, line, i);
		memcpy(buf + i, line + i + 1, len - i - 1);
		assert_int_not_equal(recv_copy(buf, len - 1, NOW, WINDOW), WIRE_OK);
	}
	for (size_t i = 0; i <= len; i++) {
		memcpy(buf, line, i);
		buf[i] = line[i < len ? i : len - 1];
		memcpy(buf + i + 1, line + i, len - i);
		assert_int_not_equal(recv_copy(buf, len + 1, NOW, WINDOW), WIRE_OK);
	}
}

static void test_cluster_next_iteration(void **state)
{
	const struct vector_row *r = find_row("cluster with IPv4 and IPv6 entries");
	struct wire_msg m;
	struct wire_entry e;
	size_t pos = 0;
	struct in_addr v4;
	struct in6_addr v6;

	(void)state;
	assert_int_equal(split_receive(kr, r->data, r->len, NOW, WINDOW, NULL, &m), WIRE_OK);
	assert_int_equal(m.verb, WIRE_CLUSTER);
	assert_int_equal(m.nentries, 3);

	assert_int_equal(wire_cluster_next(&m, &pos, &e), 1);
	assert_string_equal(e.name, "node-a");
	assert_string_equal(e.addr, "10.1.0.1");
	assert_int_equal(e.family, AF_INET);
	inet_pton(AF_INET, "10.1.0.1", &v4);
	assert_memory_equal(&e.a.v4, &v4, sizeof(v4));

	assert_int_equal(wire_cluster_next(&m, &pos, &e), 1);
	assert_string_equal(e.name, "node-b");
	assert_string_equal(e.addr, "10.1.0.2");
	assert_int_equal(e.family, AF_INET);

	assert_int_equal(wire_cluster_next(&m, &pos, &e), 1);
	assert_string_equal(e.name, "node_c.x");
	assert_string_equal(e.addr, "fe80::1");
	assert_int_equal(e.family, AF_INET6);
	inet_pton(AF_INET6, "fe80::1", &v6);
	assert_memory_equal(&e.a.v6, &v6, sizeof(v6));

	/* the end is sticky */
	assert_int_equal(wire_cluster_next(&m, &pos, &e), 0);
	assert_int_equal(wire_cluster_next(&m, &pos, &e), 0);
	assert_int_equal(pos, m.nentries);

	/* restart from 0 */
	pos = 0;
	assert_int_equal(wire_cluster_next(&m, &pos, &e), 1);
	assert_string_equal(e.name, "node-a");
}

static void test_cluster_next_other_verbs(void **state)
{
	static const char *const bodies[] = { "cjoin node-a", "alive node-a 1764172800",
		                              "leave node-a" };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bodies); i++) {
		char line[256];
		size_t len = sign(1, NOW, "node-a", bodies[i], 1, 1, line, sizeof(line)), pos = 0;
		struct wire_msg m;
		struct wire_entry e;

		assert_int_equal(split_receive(kr, (uint8_t *)line, len, NOW, WINDOW, NULL, &m),
		                 WIRE_OK);
		assert_int_equal(m.nentries, 0);
		assert_int_equal(wire_cluster_next(&m, &pos, &e), 0);
		assert_int_equal(pos, 0);
	}
}

static enum wire_verdict recv_at(uint64_t ts, uint64_t now, uint64_t window)
{
	char line[256];
	size_t len = sign(1, ts, "node-a", "cjoin node-a", 1, 1, line, sizeof(line));

	return recv_copy(line, len, now, window);
}

static void test_stale_boundaries(void **state)
{
	(void)state;
	assert_int_equal(recv_at(NOW, NOW, 30), WIRE_OK);
	assert_int_equal(recv_at(NOW - 30, NOW, 30), WIRE_OK);
	assert_int_equal(recv_at(NOW + 30, NOW, 30), WIRE_OK);
	assert_int_equal(recv_at(NOW - 31, NOW, 30), WIRE_STALE);
	assert_int_equal(recv_at(NOW + 31, NOW, 30), WIRE_STALE);
	/* the window is configurable, 0 included */
	assert_int_equal(recv_at(NOW, NOW, 0), WIRE_OK);
	assert_int_equal(recv_at(NOW - 1, NOW, 0), WIRE_STALE);
	assert_int_equal(recv_at(NOW + 1, NOW, 0), WIRE_STALE);
	assert_int_equal(recv_at(NOW - 300, NOW, 300), WIRE_OK);
	assert_int_equal(recv_at(NOW + 301, NOW, 300), WIRE_STALE);
	/* the vectors' own boundary rows */
	assert_int_equal(recv_copy(find_row("timestamp 31 s behind")->data,
	                           find_row("timestamp 31 s behind")->len, NOW, 31),
	                 WIRE_OK);
	assert_int_equal(recv_copy(find_row("timestamp 30 s ahead: inside the window")->data,
	                           find_row("timestamp 30 s ahead: inside the window")->len,
	                           NOW + 61, 30),
	                 WIRE_STALE);
}

/* |now - ts| never wraps around, whatever the values. */
static void test_stale_extremes(void **state)
{
	(void)state;
	assert_int_equal(recv_at(0, 5, 30), WIRE_OK);
	assert_int_equal(recv_at(40, 5, 30), WIRE_STALE);
	assert_int_equal(recv_at(UINT64_MAX, 0, 30), WIRE_STALE);
	assert_int_equal(recv_at(0, UINT64_MAX, 30), WIRE_STALE);
	assert_int_equal(recv_at(UINT64_MAX, UINT64_MAX - 30, 30), WIRE_OK);
	assert_int_equal(recv_at(UINT64_MAX - 31, UINT64_MAX, 30), WIRE_STALE);
	assert_int_equal(recv_at(0, UINT64_MAX, UINT64_MAX), WIRE_OK);
}

/* PROTOCOL.md 4: the first failing check names the verdict. */
static void test_check_order(void **state)
{
	uint8_t secret[32];
	char line[512], sp[256];
	size_t len;
	struct replay_state rs = { 1, INC, 50, 1 }, before = rs;
	struct wire_msg m;

	(void)state;
	key1_secret(secret);
	/* a bad version wins over an unknown key, an unknown key over the MAC */
	snprintf(sp, sizeof(sp), "%u: [node-a] cjoin node-a |v2 k=9 n=1.1", NOW);
	len = raw_line(secret, sp, line, sizeof(line));
	assert_int_equal(recv_copy(line, len, NOW, WINDOW), WIRE_BAD_VERSION);
	snprintf(sp, sizeof(sp), "%u: [node-a] cjoin node-a |v1 k=9 n=1.1", NOW);
	len = raw_line(secret, sp, line, sizeof(line));
	assert_int_equal(recv_copy(line, len, NOW, WINDOW), WIRE_UNKNOWN_KEY);
	snprintf(sp, sizeof(sp), "%u: [node-a] cjoin node-a |v999 k=1 n=1.1", NOW);
	len = raw_line(secret, sp, line, sizeof(line));
	assert_int_equal(recv_copy(line, len, NOW, WINDOW), WIRE_BAD_VERSION);
	snprintf(sp, sizeof(sp), "%u: [node-a] cjoin node-a |v1000 k=1 n=1.1", NOW);
	len = raw_line(secret, sp, line, sizeof(line));
	assert_int_equal(recv_copy(line, len, NOW, WINDOW), WIRE_BAD_FORMAT);
	/* a bad MAC wins over a stale timestamp */
	len = sign(1, NOW - 100, "node-a", "cjoin node-a", 1, 1, line, sizeof(line));
	line[len - 2] = line[len - 2] == '0' ? '1' : '0';
	assert_int_equal(recv_copy(line, len, NOW, WINDOW), WIRE_BAD_MAC);
	/* stale wins over replay and a bad body */
	len = sign(1, NOW - 100, "node-a", "cjoin node-b", INC, 50, line, sizeof(line));
	assert_int_equal(split_receive(kr, (uint8_t *)line, len, NOW, WINDOW, &rs, &m), WIRE_STALE);
	/* replay wins over a bad body */
	len = sign(1, NOW, "node-a", "cjoin node-b", INC, 50, line, sizeof(line));
	assert_int_equal(split_receive(kr, (uint8_t *)line, len, NOW, WINDOW, &rs, &m), WIRE_REPLAY);
	/* a bad body, not a replay: refused, and the replay state is untouched */
	len = sign(1, NOW, "node-a", "cjoin node-b", INC, 51, line, sizeof(line));
	assert_int_equal(split_receive(kr, (uint8_t *)line, len, NOW, WINDOW, &rs, &m), WIRE_BAD_BODY);
	assert_memory_equal(&rs, &before, sizeof(rs));
	/* the same counter with a good body is accepted afterwards */
	len = sign(1, NOW, "node-a", "cjoin node-a", INC, 51, line, sizeof(line));
	assert_int_equal(split_receive(kr, (uint8_t *)line, len, NOW, WINDOW, &rs, &m), WIRE_OK);
	assert_int_equal(rs.top, 51);
}

/* Envelope grammar details beyond the vectors, each MACed correctly. */
static void test_envelope_grammar(void **state)
{
	static const struct {
		const char *signed_part;
		enum wire_verdict want;
	} cases[] = {
		{ "1764172800: [node-a] cjoin node-a |v1 k=1 n=1.1", WIRE_OK },
		{ "1764172800: [node-a] cjoin node-a |v1 k=65535 n=1.1", WIRE_UNKNOWN_KEY },
		{ "1764172800: [node-a] cjoin node-a |v1 k=01 n=1.1", WIRE_BAD_FORMAT },
		{ "1764172800: [node-a] cjoin node-a |v1 k=1 n=01.1", WIRE_BAD_FORMAT },
		{ "1764172800: [node-a] cjoin node-a |v1 k=1 n=1.01", WIRE_BAD_FORMAT },
		{ "1764172800: [node-a] cjoin node-a |v1 k=1 n=1", WIRE_BAD_FORMAT },
		{ "1764172800: [node-a] cjoin node-a |v1 k=1 n=.1", WIRE_BAD_FORMAT },
		{ "1764172800: [node-a] cjoin node-a |v1 k=1 n=1.", WIRE_BAD_FORMAT },
		{ "1764172800: [node-a] cjoin node-a |v1 k=1 n=1.1 ", WIRE_BAD_FORMAT },
		{ "1764172800: [node-a] cjoin node-a |v1 k=1  n=1.1", WIRE_BAD_FORMAT },
		/* the envelope takes the largest numbers; the incarnation bound (check 6) refuses it */
		{ "1764172800: [node-a] cjoin node-a |v1 k=1 n=18446744073709551615.18446744073709551615",
		  WIRE_BAD_BODY },
		{ "1764172800: [node-a] cjoin node-a |v1 k=1 n=18446744073709551616.1", WIRE_BAD_FORMAT },
		{ "1764172800: [node-a] cjoin node-a |v1 k=1 n=1.18446744073709551616", WIRE_BAD_FORMAT },
		{ "1764172800: [node-a] cjoin node-a |v1 k=1 n=-1.1", WIRE_BAD_FORMAT },
		{ "1764172800: [node-a] cjoin node-a |v1 k=+1 n=1.1", WIRE_BAD_FORMAT },
		{ "1764172800: [node-a] cjoin node-a|v1 k=1 n=1.1", WIRE_BAD_FORMAT },
		{ "1764172800: [node-a] cjoin node-a |V1 k=1 n=1.1", WIRE_BAD_FORMAT },
		{ "1764172800: [node-a] |v1 k=1 n=1.1", WIRE_BAD_FORMAT },
		{ "1764172800: [node-a]  |v1 k=1 n=1.1", WIRE_BAD_FORMAT },
		{ "1764172800: [node-a]   |v1 k=1 n=1.1", WIRE_BAD_BODY },
		{ "1764172800: [] cjoin node-a |v1 k=1 n=1.1", WIRE_BAD_FORMAT },
		{ "1764172800:[node-a] cjoin node-a |v1 k=1 n=1.1", WIRE_BAD_FORMAT },
		{ "1764172800: [node-a]cjoin node-a |v1 k=1 n=1.1", WIRE_BAD_FORMAT },
		{ "1764172800: node-a cjoin node-a |v1 k=1 n=1.1", WIRE_BAD_FORMAT },
		{ " 1764172800: [node-a] cjoin node-a |v1 k=1 n=1.1", WIRE_BAD_FORMAT },
		{ "1764172800: [node-a] cjoin node-a |v1 k=1 n=1.1 |v1 k=1 n=1.1", WIRE_BAD_FORMAT },
	};
	uint8_t secret[32];
	char line[512];

	(void)state;
	key1_secret(secret);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		size_t len = raw_line(secret, cases[i].signed_part, line, sizeof(line));
		enum wire_verdict v = recv_copy(line, len, NOW, WINDOW);

		if (v != cases[i].want)
			fail_msg("\"%s\": want %s, got %s", cases[i].signed_part,
			         wire_verdict_name(cases[i].want), wire_verdict_name(v));
	}
}

/*
 * A byte outside 0x20-0x7e anywhere before the final LF is bad_format even
 * when the MAC over it is right: the byte set is checked before the MAC.
 */
static void test_byte_set_before_mac(void **state)
{
	static const uint8_t bad[] = { 0x00, 0x01, 0x09, 0x0a, 0x0d, 0x1f, 0x7f, 0x80, 0xc3, 0xff };
	static const char tmpl[] = "1764172800: [node-a] cjoin node-a |v1 k=1 n=1.1";
	uint8_t secret[32];
	char sp[sizeof(tmpl)], line[256];

	(void)state;
	key1_secret(secret);
	for (size_t i = 0; i < sizeof(bad); i++) {
		for (size_t pos = 0; pos < sizeof(tmpl) - 1; pos += 3) {
			uint8_t mac[32];
			size_t n = sizeof(tmpl) - 1;

			/* raw_line() stops at a NUL, so build the line here */
			memcpy(sp, tmpl, sizeof(tmpl));
			sp[pos] = (char)bad[i];
			crypto_auth_hmacsha256(mac, (uint8_t *)sp, n, secret);
			memcpy(line, sp, n);
			memcpy(line + n, " h=", 3);
			sodium_bin2hex(line + n + 3, 65, mac, sizeof(mac));
			line[n + 67] = '\n';
			if (recv_copy(line, n + 68, NOW, WINDOW) != WIRE_BAD_FORMAT)
				fail_msg("byte 0x%02x at %zu: not bad_format", bad[i], pos);
		}
	}
}

/* Digit strings for the number fields: edges of lengths, zeros, overflow. */
static size_t number_cases(char out[][32], size_t max)
{
	static const char *const fixed[] = {
		"0", "1", "9", "10", "00", "01", "007", "12345678", "123456789", "1234567",
		"99999999", "100000000", "09999999", "1764172800", "1764172790123456",
		"9999999999999999999", "10000000000000000000", "18446744073709551614",
		"18446744073709551615", "18446744073709551616", "18446744073709551620",
		"19000000000000000000", "99999999999999999999", "100000000000000000000",
		"0000000000000000000000",
	};
	uint64_t rnd = 0x2545f4914f6cdd1dull;
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(fixed) && n < max; i++)
		snprintf(out[n++], 32, "%s", fixed[i]);
	for (size_t len = 1; len <= 22 && n < max; len++) {
		memset(out[n], '7', len);
		out[n++][len] = '\0';
		out[n][0] = '1';
		memset(out[n] + 1, '0', len - 1);
		out[n++][len] = '\0';
	}
	while (n < max) {
		size_t len;

		rnd ^= rnd << 13;
		rnd ^= rnd >> 7;
		rnd ^= rnd << 17;
		len = 1 + rnd % 21;
		for (size_t i = 0; i < len; i++) {
			rnd ^= rnd << 13;
			rnd ^= rnd >> 7;
			rnd ^= rnd << 17;
			out[n][i] = (char)('0' + (i == 0 ? 1 + rnd % 9 : rnd % 10));
		}
		out[n++][len] = '\0';
	}
	return n;
}

/*
 * Every number field against util's strict parse_u64(): the same strings
 * are accepted, with the same values, and the rest are refused with the
 * verdict of PROTOCOL.md 4 (bad_format in the envelope, bad_body in it).
 */
static void test_number_fields(void **state)
{
	static char nums[200][32];
	size_t count = number_cases(nums, ARRAY_SIZE(nums));
	uint8_t secret[32];

	(void)state;
	key1_secret(secret);
	for (size_t i = 0; i < count; i++) {
		const char *d = nums[i];
		uint64_t val;
		int ok = parse_u64_str(d, &val) == 0;
		char sp[512], line[640];
		struct wire_msg m;
		enum wire_verdict v, want;
		size_t len;

		/* timestamp: the receiver's clock is the value itself */
		snprintf(sp, sizeof(sp), "%.31s: [a] cjoin a |v1 k=1 n=0.1", d);
		len = raw_line(secret, sp, line, sizeof(line));
		v = split_receive(kr, (uint8_t *)line, len, ok ? val : 0, 0, NULL, &m);
		assert_int_equal(v, ok ? WIRE_OK : WIRE_BAD_FORMAT);
		if (ok)
			assert_int_equal(m.timestamp, val);

		/* version: 1 to 3 digits, 1 is the only one known */
		snprintf(sp, sizeof(sp), "%u: [a] cjoin a |v%.31s k=1 n=1.1", NOW, d);
		len = raw_line(secret, sp, line, sizeof(line));
		want = !ok || strlen(d) > 3 ? WIRE_BAD_FORMAT : val != 1 ? WIRE_BAD_VERSION : WIRE_OK;
		assert_int_equal(recv_copy(line, len, NOW, WINDOW), want);

		/* key id: 1 to 5 digits, 1..65535; the MAC is key 1's */
		snprintf(sp, sizeof(sp), "%u: [a] cjoin a |v1 k=%.31s n=1.1", NOW, d);
		len = raw_line(secret, sp, line, sizeof(line));
		want = !ok || strlen(d) > 5 || val == 0 || val > 65535 ? WIRE_BAD_FORMAT
		       : val == 1                                     ? WIRE_OK
		       : val == 2                                     ? WIRE_BAD_MAC
		                                                      : WIRE_UNKNOWN_KEY;
		assert_int_equal(recv_copy(line, len, NOW, WINDOW), want);

		/* incarnation and counter */
		snprintf(sp, sizeof(sp), "%u: [a] cjoin a |v1 k=1 n=%.31s.%.31s", NOW, d, d);
		len = raw_line(secret, sp, line, sizeof(line));
		v = split_receive(kr, (uint8_t *)line, len, NOW, WINDOW, NULL, &m);
		/* an incarnation is a start time: not after the line's time plus the window */
		want = !ok ? WIRE_BAD_FORMAT
		       : val > (NOW + WINDOW) * 1000000ull ? WIRE_BAD_BODY
		                                            : WIRE_OK;
		assert_int_equal(v, want);
		if (want == WIRE_OK) {
			assert_int_equal(m.incarnation, val);
			assert_int_equal(m.counter, val);
		}

		/* the time in an alive body: bad_body if it is not a number */
		snprintf(sp, sizeof(sp), "alive node-a %.31s", d);
		len = sign(1, NOW, "node-a", sp, 1, 1, line, sizeof(line));
		v = split_receive(kr, (uint8_t *)line, len, NOW, WINDOW, NULL, &m);
		assert_int_equal(v, ok ? WIRE_OK : WIRE_BAD_BODY);
		if (ok)
			assert_int_equal(m.alive_time, val);
	}
}

/* Body grammar (2.1), each body signed by node-a. */
static void test_body_grammar(void **state)
{
	static const struct {
		const char *body;
		enum wire_verdict want;
	} cases[] = {
		{ "cjoin node-a", WIRE_OK },
		{ "cjoin node-a ", WIRE_BAD_BODY },
		{ "cjoin  node-a", WIRE_BAD_BODY },
		{ "cjoin node-", WIRE_BAD_BODY },
		{ "cjoin node-ab", WIRE_BAD_BODY },
		{ "cjoin", WIRE_BAD_BODY },
		{ "cjoin ", WIRE_BAD_BODY },
		{ " cjoin node-a", WIRE_BAD_BODY },
		{ "CJOIN node-a", WIRE_BAD_BODY },
		{ "leave node-a", WIRE_OK },
		{ "leave node-A", WIRE_BAD_BODY },
		{ "alive node-a 0", WIRE_OK },
		{ "alive node-a 18446744073709551615", WIRE_OK },
		{ "alive node-a 18446744073709551616", WIRE_BAD_BODY },
		{ "alive node-a 1x", WIRE_BAD_BODY },
		{ "alive node-a  1", WIRE_BAD_BODY },
		{ "alive node-a 1 ", WIRE_BAD_BODY },
		{ "alive node-a", WIRE_BAD_BODY },
		{ "alive node-ax1764172800", WIRE_BAD_BODY },
		{ "alive node-a_1", WIRE_BAD_BODY },
		{ "alive node 1", WIRE_BAD_BODY },
		{ "alive node-a ", WIRE_BAD_BODY },
		{ "alive", WIRE_BAD_BODY },
		{ "cluster a@1.2.3.4", WIRE_OK },
		{ "cluster a@::", WIRE_OK },
		{ "cluster a@::ffff:10.0.0.1", WIRE_OK },
		{ "cluster a@2001:db8:0:0:0:0:0:1", WIRE_OK },
		{ "cluster a@ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", WIRE_OK },
		{ "cluster a@1.2.3.4 b@1.2.3.5 c@fe80::3", WIRE_OK },
		{ "cluster a@1.2.3", WIRE_BAD_BODY },
		{ "cluster a@1.2.3.256", WIRE_BAD_BODY },
		{ "cluster a@fe80::1%eth0", WIRE_BAD_BODY },
		{ "cluster a@fe80:::1", WIRE_BAD_BODY },
		{ "cluster a@1.2.3.4@5", WIRE_BAD_BODY },
		{ "cluster @1.2.3.4", WIRE_BAD_BODY },
		{ "cluster a@", WIRE_BAD_BODY },
		{ "cluster a", WIRE_BAD_BODY },
		{ "cluster a/b@1.2.3.4", WIRE_BAD_BODY },
		{ "cluster a@1.2.3.4 ", WIRE_BAD_BODY },
		{ "cluster  a@1.2.3.4", WIRE_BAD_BODY },
		{ "cluster a@1.2.3.4  b@1.2.3.5", WIRE_BAD_BODY },
		{ "clustera@1.2.3.4", WIRE_BAD_BODY },
		{ "cluster", WIRE_BAD_BODY },
		{ "cluster ", WIRE_BAD_BODY },
		{ "cluster aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@1.2.3.4",
		  WIRE_OK },
		{ "cluster aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@1.2.3.4",
		  WIRE_BAD_BODY },
		{ "cluster a@0000:0000:0000:0000:0000:0000:0000:0000:0000", WIRE_BAD_BODY },
		{ "hello node-a", WIRE_BAD_BODY },
		{ "x", WIRE_BAD_BODY },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char line[512];
		size_t len = sign(1, NOW, "node-a", cases[i].body, INC, 1, line, sizeof(line));
		enum wire_verdict v = recv_copy(line, len, NOW, WINDOW);

		if (v != cases[i].want)
			fail_msg("body \"%s\": want %s, got %s", cases[i].body,
			         wire_verdict_name(cases[i].want), wire_verdict_name(v));
	}
}

/* split_receive with NULL replay state: a fresh sender every time. */
static void test_receive_without_replay_state(void **state)
{
	char line[256];
	size_t len = sign(1, NOW, "node-a", "cjoin node-a", 5, 5, line, sizeof(line));
	struct wire_msg m;

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_int_equal(split_receive(kr, (uint8_t *)line, len, NOW, WINDOW, NULL, &m), WIRE_OK);
	/* wire_verify alone stops before the body: a bad body still verifies */
	len = sign(1, NOW, "node-a", "cjoin node-b", 5, 5, line, sizeof(line));
	assert_int_equal(wire_verify(kr, (uint8_t *)line, len, NOW, WINDOW, &m), WIRE_OK);
	assert_int_equal(wire_parse_body(&m, WINDOW), WIRE_BAD_BODY);
	assert_int_equal(m.verb, WIRE_CJOIN);
}

static void test_overhead(void **state)
{
	char line[256];
	static const uint64_t nums[] = { 0, 1, 9, 10, 1764172800, UINT64_MAX };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(nums); i++)
		for (size_t j = 0; j < ARRAY_SIZE(nums); j++) {
			int n = wire_sign(key(2), nums[i], "n", "cjoin n", 7, nums[j], nums[i], line,
			                  sizeof(line));

			assert_true(n > 0);
			assert_int_equal((size_t)n, wire_overhead("n", nums[i], 2, nums[j], nums[i]) + 7);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verdict_and_verb_names),
		cmocka_unit_test(test_v1_vectors),
		cmocka_unit_test(test_v1_vectors_split_api),
		cmocka_unit_test(test_v1_fields),
		cmocka_unit_test(test_v1_accepted_then_replayed),
		cmocka_unit_test(test_v1_refused_leave_state_alone),
		cmocka_unit_test(test_replay_vectors_replay_api),
		cmocka_unit_test(test_replay_vectors_wire_api),
		cmocka_unit_test(test_roundtrip_cjoin),
		cmocka_unit_test(test_roundtrip_alive),
		cmocka_unit_test(test_roundtrip_leave),
		cmocka_unit_test(test_roundtrip_cluster),
		cmocka_unit_test(test_key2_verifies),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_cluster_split),
		cmocka_unit_test(test_cluster_exact_limit),
		cmocka_unit_test(test_oversize_datagram),
		cmocka_unit_test(test_sign_refuses_pipe),
		cmocka_unit_test(test_name_rule),
		cmocka_unit_test(test_sign_refuses_nonprintable),
		cmocka_unit_test(test_sign_refuses_overlong),
		cmocka_unit_test(test_sign_respects_outlen),
		cmocka_unit_test(test_sign_refuses_bad_sender_or_empty_body),
		cmocka_unit_test(test_mutation_every_byte_alive),
		cmocka_unit_test(test_mutation_every_byte_cluster),
		cmocka_unit_test(test_truncation_deletion_insertion),
		cmocka_unit_test(test_cluster_next_iteration),
		cmocka_unit_test(test_cluster_next_other_verbs),
		cmocka_unit_test(test_stale_boundaries),
		cmocka_unit_test(test_stale_extremes),
		cmocka_unit_test(test_check_order),
		cmocka_unit_test(test_envelope_grammar),
		cmocka_unit_test(test_byte_set_before_mac),
		cmocka_unit_test(test_number_fields),
		cmocka_unit_test(test_body_grammar),
		cmocka_unit_test(test_receive_without_replay_state),
		cmocka_unit_test(test_overhead),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
