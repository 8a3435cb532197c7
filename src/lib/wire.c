/*
 * wire: parse, verify, build and sign CMem v1 lines.
 *
 * The receive path works in place on the datagram: no allocation, and
 * the checks run in the order of PROTOCOL.md section 4 so that the reason
 * returned is the first check that failed.
 */
#include "wire.h"

#include <arpa/inet.h>
#include <endian.h>
#include <stdio.h>
#include <string.h>

#include "name.h"

static const char *const verdict_names[WIRE_NVERDICTS] = {
	"ok", "bad_format", "bad_version", "unknown_key", "bad_mac", "stale", "replay", "bad_body",
};

static const char *const verb_names[WIRE_NVERBS] = { "none", "cjoin", "alive", "leave", "cluster",
                                                          "probe" };

const char *wire_verdict_name(enum wire_verdict v)
{
	return (unsigned)v < WIRE_NVERDICTS ? verdict_names[v] : "unknown";
}

const char *wire_verb_name(enum wire_verb v)
{
	return (unsigned)v < WIRE_NVERBS ? verb_names[v] : "unknown";
}

#define ONES 0x0101010101010101u
#define HIGH 0x8080808080808080u

/* Eight bytes at p, the first in the low byte whatever the host order. */
static uint64_t load_le64(const char *p)
{
	uint64_t w;

	memcpy(&w, p, 8);
	return le64toh(w);
}

/*
 * The value of eight digit values (0-9, not ASCII), the first in the low
 * byte: pairs, then fours, then all eight, by multiplication.
 */
static uint64_t eight_digits(uint64_t v)
{
	v = v * 10 + (v >> 8);
	return ((v & 0x000000ff000000ffu) * (100 + (1000000ull << 32)) +
	        ((v >> 16) & 0x000000ff000000ffu) * (1 + (10000ull << 32))) >> 32;
}

/*
 * Parse "DIGITS" at *p (at most maxdig of them, no leading zero, no
 * overflow) into *v, advancing *p.
 *
 * Eight bytes at a time while a whole word is left before end: once '0'
 * is subtracted from each byte, the first byte above 9 ends the number.
 * A borrow or carry between bytes only runs from such a byte upwards, so
 * the bytes before the first one are exact.  Up to 19 digits cannot
 * overflow; 20 digits fit if, as a string, they are not above UINT64_MAX's
 * (the sum then did not wrap).  Inlined: seven numbers per line, most of
 * them short, make the call itself a good part of the cost.
 */
static inline __attribute__((always_inline)) int take_number(const char **p, const char *end,
                                                             size_t maxdig, uint64_t *v)
{
	static const uint64_t pow10[8] = { 1, 10, 100, 1000, 10000, 100000, 1000000, 10000000 };
	const char *s = *p;
	uint64_t x = 0;
	size_t n = 0;

	while ((size_t)(end - s) - n >= 8) {
		uint64_t d = load_le64(s + n) - '0' * ONES;
		/* high bit of a byte: it is 0x80 or more, or 10 or more */
		uint64_t stop = (d | (d + (0x80 - 10) * ONES)) & HIGH;
		unsigned k;

		if (stop == 0) {
			x = x * 100000000 + eight_digits(d);
			n += 8;
			continue;
		}
		/* k digits, then the byte that ends the number */
		k = (unsigned)__builtin_ctzll(stop) / 8;
		if (k > 0)
			x = x * pow10[k] + eight_digits(d << (64 - 8 * k));
		n += k;
		break;
	}
	/* the last bytes before end (after a break, s[n] is no digit) */
	while (s + n < end && (unsigned)(s[n] - '0') <= 9) {
		x = x * 10 + (unsigned)(s[n] - '0');
		n++;
	}
	if (n == 0 || n > maxdig || (n > 1 && s[0] == '0'))
		return -1;
	if (n == 20 && memcmp(s, "18446744073709551615", 20) > 0)
		return -1;
	*v = x;
	*p += n;
	return 0;
}

/* The literals are a few bytes long: a loop beats a call to memcmp. */
static int take_literal(const char **p, const char *end, const char *lit, size_t n)
{
	if ((size_t)(end - *p) < n)
		return -1;
	for (size_t i = 0; i < n; i++)
		if ((*p)[i] != lit[i])
			return -1;
	*p += n;
	return 0;
}

/*
 * 1 if every byte of p[0..n) is in 0x20-0x7e.  Eight bytes at a time: the
 * high bit of a byte of `bad` is set by a byte below 0x20 ((w - 0x20) & ~w),
 * at 0x7f (w + 1) or at 0x80 and above (w).  A borrow or carry between
 * bytes can only come from a byte that is itself flagged, so the test is
 * exact for the word as a whole.
 */
static int all_printable(const uint8_t *p, size_t n)
{
	uint64_t bad = 0, w;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		bad |= ((w - 0x20 * ONES) & ~w) | (w + ONES) | w;
	}
	for (; i < n; i++)
		bad |= (uint64_t)((uint8_t)(p[i] - 0x20) > 0x5e) << 7;
	return (bad & HIGH) == 0;
}

/*
 * Decode the 64 hex digits at p into mac; 0, or -1 if any is not a
 * lowercase hex digit.  Eight digits at a time, with no branch on their
 * values: MAC digits are random, so a branch per digit would be a
 * misprediction every other digit.
 */
static int decode_mac(const uint8_t *p, uint8_t mac[32])
{
	const uint64_t lanes = 0x00ff00ff00ff00ffu;
	uint64_t bad = 0;

	for (size_t i = 0; i < 8; i++) {
		uint64_t w, low7, digit, letter, nib, t;
		uint32_t out;

		w = load_le64((const char *)p + 8 * i); /* digit k in byte k */
		low7 = w & ~HIGH; /* no carry between bytes in the sums below */
		/* high bit of each byte: '0' <= c <= '9', 'a' <= c <= 'f' */
		digit = (low7 + (0x80 - '0') * ONES) & ~(low7 + (0x7f - '9') * ONES);
		letter = (low7 + (0x80 - 'a') * ONES) & ~(low7 + (0x7f - 'f') * ONES);
		bad |= ~(digit | letter) | w;
		/* value: the low nibble, plus 9 for a letter (bit 6 set) */
		nib = (w & 0x0f * ONES) + 9 * ((w >> 6) & ONES);
		/* digits 2k and 2k+1 make byte k */
		t = ((nib & lanes) << 4 | nib >> 8) & lanes;
		t = (t | t >> 8) & 0x0000ffff0000ffffu;
		t = (t | t >> 16) & 0xffffffffu;
		out = htole32((uint32_t)t);
		memcpy(mac + 4 * i, &out, 4);
	}
	return (bad & HIGH) ? -1 : 0;
}

/* Check 1: size, bytes, envelope grammar and number ranges. */
static enum wire_verdict parse_envelope(const uint8_t *buf, size_t len, struct wire_msg *m,
                                        size_t *signed_len, uint8_t mac[32])
{
	const char *s = (const char *)buf, *p, *end, *bar;
	uint64_t version, key_id;

	/* the shortest line: "0: [a] b |v1 k=1 n=0.0 h=" + 64 + "\n" */
	if (len > WIRE_MAX_DATAGRAM || len < 90 || buf[len - 1] != '\n')
		return WIRE_BAD_FORMAT;
	/* " h=" and the MAC digits are checked below, more strictly */
	*signed_len = len - 1 - WIRE_MAC_HEX - 3;
	if (!all_printable(buf, *signed_len))
		return WIRE_BAD_FORMAT;
	if (memcmp(s + *signed_len, " h=", 3) != 0)
		return WIRE_BAD_FORMAT;
	if (decode_mac(buf + *signed_len + 3, mac) == -1)
		return WIRE_BAD_FORMAT;

	p = s;
	end = s + *signed_len;
	if (take_number(&p, end, 20, &m->timestamp) == -1 || take_literal(&p, end, ": [", 3) == -1)
		return WIRE_BAD_FORMAT;
	m->sender_len = name_span(p, (size_t)(end - p));
	if (m->sender_len == 0)
		return WIRE_BAD_FORMAT;
	memcpy(m->sender, p, m->sender_len);
	m->sender[m->sender_len] = '\0';
	p += m->sender_len;
	if (take_literal(&p, end, "] ", 2) == -1)
		return WIRE_BAD_FORMAT;
	bar = memchr(p, '|', (size_t)(end - p));
	if (bar == NULL || bar - p < 2 || bar[-1] != ' ')
		return WIRE_BAD_FORMAT;
	m->body = p;
	m->body_len = (size_t)(bar - 1 - p);
	p = bar + 1;
	if (take_literal(&p, end, "v", 1) == -1 || take_number(&p, end, 3, &version) == -1 ||
	    take_literal(&p, end, " k=", 3) == -1 || take_number(&p, end, 5, &key_id) == -1 ||
	    key_id < 1 || key_id > 65535 || take_literal(&p, end, " n=", 3) == -1 ||
	    take_number(&p, end, 20, &m->incarnation) == -1 || take_literal(&p, end, ".", 1) == -1 ||
	    take_number(&p, end, 20, &m->counter) == -1 || p != end)
		return WIRE_BAD_FORMAT;
	m->version = (unsigned)version;
	m->key_id = (uint16_t)key_id;
	m->verb = WIRE_VERB_NONE;
	m->nentries = 0;
	return WIRE_OK;
}

enum wire_verdict wire_verify(const struct keyring *kr, const uint8_t *buf, size_t len,
                              uint64_t now, uint64_t window, struct wire_msg *msg)
{
	crypto_auth_hmacsha256_state st;
	const struct keyring_key *key;
	uint8_t mac[32], want[32];
	size_t signed_len;
	enum wire_verdict v = parse_envelope(buf, len, msg, &signed_len, mac);
	int ok;

	if (v != WIRE_OK)
		return v;
	if (msg->version != WIRE_VERSION)
		return WIRE_BAD_VERSION;
	key = keyring_find(kr, msg->key_id);
	if (key == NULL)
		return WIRE_UNKNOWN_KEY;
	st = key->hmac;
	crypto_auth_hmacsha256_update(&st, buf, signed_len);
	crypto_auth_hmacsha256_final(&st, want);
	ok = crypto_verify_32(mac, want) == 0;
	sodium_memzero(&st, sizeof(st));
	if (!ok)
		return WIRE_BAD_MAC;
	if ((now > msg->timestamp ? now - msg->timestamp : msg->timestamp - now) > window)
		return WIRE_STALE;
	return WIRE_OK;
}

/* "NAME" equal to the sender, from p to end exactly. */
static int is_sender(const struct wire_msg *m, const char *p, const char *end)
{
	return (size_t)(end - p) == m->sender_len && memcmp(p, m->sender, m->sender_len) == 0;
}

/* Parse one "name@address" entry at p (ending at a space or end). */
static const char *parse_entry(const char *p, const char *end, struct wire_entry *e)
{
	size_t n = name_span(p, (size_t)(end - p)), alen;
	const char *a, *ae;

	if (n == 0 || p + n >= end || p[n] != '@')
		return NULL;
	a = p + n + 1;
	ae = memchr(a, ' ', (size_t)(end - a));
	if (ae == NULL)
		ae = end;
	alen = (size_t)(ae - a);
	if (alen == 0 || alen >= WIRE_ADDR_MAX)
		return NULL;
	memcpy(e->name, p, n);
	e->name[n] = '\0';
	memcpy(e->addr, a, alen);
	e->addr[alen] = '\0';
	if (inet_pton(AF_INET, e->addr, &e->a.v4) == 1)
		e->family = AF_INET;
	else if (inet_pton(AF_INET6, e->addr, &e->a.v6) == 1)
		e->family = AF_INET6;
	else
		return NULL;
	return ae;
}

int wire_cluster_next(const struct wire_msg *msg, size_t *pos, struct wire_entry *e)
{
	if (msg->verb != WIRE_CLUSTER || *pos >= msg->nentries)
		return 0;
	*e = msg->entries[(*pos)++];
	return 1;
}

/* An incarnation is a start time: no later than the line's own time plus the window. */
static int incarnation_in_bound(const struct wire_msg *m, uint64_t window)
{
	uint64_t limit_s = m->timestamp + window;

	if (limit_s < m->timestamp || limit_s > UINT64_MAX / 1000000u)
		return 1; /* the bound is past the largest incarnation */
	return m->incarnation <= limit_s * 1000000u;
}

static enum wire_verdict parse_verb(struct wire_msg *m);

/* " n=HEX" or " e=HEX" (KEY) at *p: 32 lowercase hex digits into out. */
static int take_nonce(const char **p, const char *end, char key, uint8_t *out)
{
	const char *s = *p;

	if (end - s < 3 + 2 * WIRE_NONCE_BYTES || s[0] != ' ' || s[1] != key || s[2] != '=')
		return -1;
	s += 3;
	for (int i = 0; i < 2 * WIRE_NONCE_BYTES; i++) {
		char c = s[i];
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;

		if (v < 0)
			return -1;
		out[i / 2] = (uint8_t)(i % 2 ? out[i / 2] | v : v << 4);
	}
	*p = s + 2 * WIRE_NONCE_BYTES;
	return 0;
}

/* "probe NAME [n=NONCE] [e=NONCE]", at least one of them (doc/PROTOCOL.md). */
static enum wire_verdict parse_probe(struct wire_msg *m, const char *p, const char *end)
{
	size_t n = m->sender_len;

	m->has_nonce = m->has_echo = 0;
	if ((size_t)(end - p) <= n || p[n] != ' ' || !is_sender(m, p, p + n))
		return WIRE_BAD_BODY;
	p += n;
	if (end - p > 1 && p[1] == 'n' && take_nonce(&p, end, 'n', m->nonce) == 0)
		m->has_nonce = 1;
	if (end - p > 1 && p[1] == 'e' && take_nonce(&p, end, 'e', m->echo) == 0)
		m->has_echo = 1;
	return p == end && (m->has_nonce || m->has_echo) ? WIRE_OK : WIRE_BAD_BODY;
}

enum wire_verdict wire_parse_body(struct wire_msg *m, uint64_t window)
{
	enum wire_verdict v = parse_verb(m);

	if (v == WIRE_OK && !incarnation_in_bound(m, window))
		return WIRE_BAD_BODY;
	return v;
}

static enum wire_verdict parse_verb(struct wire_msg *m)
{
	const char *p = m->body, *end = m->body + m->body_len;

	/* alive first: it is most of the traffic */
	if (take_literal(&p, end, "alive ", 6) == 0) {
		/* a name has no space: the sender, then the first space */
		size_t n = m->sender_len;

		m->verb = WIRE_ALIVE;
		if ((size_t)(end - p) <= n || p[n] != ' ' || !is_sender(m, p, p + n))
			return WIRE_BAD_BODY;
		p += n + 1;
		if (take_number(&p, end, 20, &m->alive_time) == -1 || p != end)
			return WIRE_BAD_BODY;
		return WIRE_OK;
	}
	if (take_literal(&p, end, "cjoin ", 6) == 0) {
		m->verb = WIRE_CJOIN;
		return is_sender(m, p, end) ? WIRE_OK : WIRE_BAD_BODY;
	}
	if (take_literal(&p, end, "leave ", 6) == 0) {
		m->verb = WIRE_LEAVE;
		return is_sender(m, p, end) ? WIRE_OK : WIRE_BAD_BODY;
	}
	if (take_literal(&p, end, "cluster", 7) == 0) {
		m->verb = WIRE_CLUSTER;
		m->nentries = 0;
		if (p == end)
			return WIRE_BAD_BODY;
		while (p < end) {
			if (*p != ' ' || m->nentries == WIRE_MAX_ENTRIES ||
			    (p = parse_entry(p + 1, end, &m->entries[m->nentries])) == NULL)
				return WIRE_BAD_BODY;
			m->nentries++;
		}
		return WIRE_OK;
	}
	if (take_literal(&p, end, "probe ", 6) == 0) {
		m->verb = WIRE_PROBE;
		return parse_probe(m, p, end);
	}
	m->verb = WIRE_VERB_NONE;
	return WIRE_BAD_BODY;
}

size_t wire_overhead(const char *sender, uint64_t timestamp, uint16_t key_id,
                     uint64_t incarnation, uint64_t counter)
{
	char tmp[160];
	int n = snprintf(tmp, sizeof(tmp), "%llu: [%s]  |v%d k=%u n=%llu.%llu h=",
	                 (unsigned long long)timestamp, sender, WIRE_VERSION, (unsigned)key_id,
	                 (unsigned long long)incarnation, (unsigned long long)counter);

	return (size_t)n + WIRE_MAC_HEX + 1;
}

int wire_sign(const struct keyring_key *k, uint64_t timestamp, const char *sender,
              const char *body, size_t body_len, uint64_t incarnation, uint64_t counter,
              char *out, size_t outlen)
{
	crypto_auth_hmacsha256_state st;
	uint8_t mac[32];
	int n;

	if (!name_valid(sender) || body_len == 0)
		return -1;
	for (size_t i = 0; i < body_len; i++)
		if ((unsigned char)body[i] < 0x20 || (unsigned char)body[i] > 0x7e || body[i] == '|')
			return -1;
	n = snprintf(out, outlen, "%llu: [%s] %.*s |v%d k=%u n=%llu.%llu",
	             (unsigned long long)timestamp, sender, (int)body_len, body, WIRE_VERSION,
	             (unsigned)k->id, (unsigned long long)incarnation, (unsigned long long)counter);
	if (n < 0 || (size_t)n + 3 + WIRE_MAC_HEX + 2 > outlen ||
	    (size_t)n + 3 + WIRE_MAC_HEX + 1 > WIRE_MAX_DATAGRAM)
		return -1;
	st = k->hmac;
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)out, (size_t)n);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
	memcpy(out + n, " h=", 3);
	sodium_bin2hex(out + n + 3, WIRE_MAC_HEX + 1, mac, sizeof(mac));
	out[n + 3 + WIRE_MAC_HEX] = '\n';
	out[n + 4 + WIRE_MAC_HEX] = '\0';
	return n + 4 + WIRE_MAC_HEX;
}
