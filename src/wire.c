/*
 * wire: parse, verify, build and sign CMem v1 lines.
 *
 * The receive path works in place on the datagram: no allocation, and
 * the checks run in the order of PROTOCOL.md section 4 so that the reason
 * returned is the first check that failed.
 */
#include "wire.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

static const char *const verdict_names[WIRE_NVERDICTS] = {
	"ok", "bad_format", "bad_version", "unknown_key", "bad_mac", "stale", "replay", "bad_body",
};

static const char *const verb_names[WIRE_NVERBS] = { "none", "cjoin", "alive", "leave", "cluster" };

const char *wire_verdict_name(enum wire_verdict v)
{
	return (unsigned)v < WIRE_NVERDICTS ? verdict_names[v] : "unknown";
}

const char *wire_verb_name(enum wire_verb v)
{
	return (unsigned)v < WIRE_NVERBS ? verb_names[v] : "unknown";
}

static int is_name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '_';
}

/* Length of the name at s (up to end), 0 if none or longer than 64. */
static size_t name_span(const char *s, const char *end)
{
	size_t n = 0;

	while (s + n < end && is_name_char((unsigned char)s[n]))
		if (++n > WIRE_NAME_MAX)
			return 0;
	return n;
}

static size_t digit_span(const char *s, const char *end)
{
	size_t n = 0;

	while (s + n < end && s[n] >= '0' && s[n] <= '9')
		n++;
	return n;
}

/* Parse "DIGITS" at *p (max maxdig digits) into *v, advancing *p. */
static int take_number(const char **p, const char *end, size_t maxdig, uint64_t *v)
{
	size_t n = digit_span(*p, end);

	if (n == 0 || n > maxdig || parse_u64(*p, n, v) == -1)
		return -1;
	*p += n;
	return 0;
}

static int take_literal(const char **p, const char *end, const char *lit, size_t n)
{
	if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0)
		return -1;
	*p += n;
	return 0;
}

static signed char hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return (signed char)(c - '0');
	if (c >= 'a' && c <= 'f')
		return (signed char)(c - 'a' + 10);
	return -1;
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
	for (size_t i = 0; i < len - 1; i++)
		if (buf[i] < 0x20 || buf[i] > 0x7e)
			return WIRE_BAD_FORMAT;
	*signed_len = len - 1 - WIRE_MAC_HEX - 3;
	if (memcmp(s + *signed_len, " h=", 3) != 0)
		return WIRE_BAD_FORMAT;
	for (size_t i = 0; i < 32; i++) {
		signed char hi = hexval(buf[*signed_len + 3 + 2 * i]);
		signed char lo = hexval(buf[*signed_len + 4 + 2 * i]);

		if (hi < 0 || lo < 0)
			return WIRE_BAD_FORMAT;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}

	p = s;
	end = s + *signed_len;
	if (take_number(&p, end, 20, &m->timestamp) == -1 || take_literal(&p, end, ": [", 3) == -1)
		return WIRE_BAD_FORMAT;
	m->sender_len = name_span(p, end);
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
	size_t n = name_span(p, end), alen;
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
	const char *end = msg->body + msg->body_len;
	const char *p = msg->body + (*pos ? *pos : 7); /* after "cluster" */

	if (msg->verb != WIRE_CLUSTER || p >= end || *p != ' ')
		return 0;
	p = parse_entry(p + 1, end, e);
	if (p == NULL)
		return 0;
	*pos = (size_t)(p - msg->body);
	return 1;
}

enum wire_verdict wire_parse_body(struct wire_msg *m)
{
	const char *p = m->body, *end = m->body + m->body_len;

	if (take_literal(&p, end, "cjoin ", 6) == 0) {
		m->verb = WIRE_CJOIN;
		return is_sender(m, p, end) ? WIRE_OK : WIRE_BAD_BODY;
	}
	if (take_literal(&p, end, "leave ", 6) == 0) {
		m->verb = WIRE_LEAVE;
		return is_sender(m, p, end) ? WIRE_OK : WIRE_BAD_BODY;
	}
	if (take_literal(&p, end, "alive ", 6) == 0) {
		const char *sp = memchr(p, ' ', (size_t)(end - p));

		m->verb = WIRE_ALIVE;
		if (sp == NULL || !is_sender(m, p, sp))
			return WIRE_BAD_BODY;
		p = sp + 1;
		if (take_number(&p, end, 20, &m->alive_time) == -1 || p != end)
			return WIRE_BAD_BODY;
		return WIRE_OK;
	}
	if (take_literal(&p, end, "cluster", 7) == 0) {
		struct wire_entry e;

		m->verb = WIRE_CLUSTER;
		m->nentries = 0;
		if (p == end)
			return WIRE_BAD_BODY;
		while (p < end) {
			if (*p != ' ' || (p = parse_entry(p + 1, end, &e)) == NULL)
				return WIRE_BAD_BODY;
			m->nentries++;
		}
		return WIRE_OK;
	}
	m->verb = WIRE_VERB_NONE;
	return WIRE_BAD_BODY;
}

enum wire_verdict wire_receive(const struct keyring *kr, const uint8_t *buf, size_t len,
                               uint64_t now, uint64_t window, struct replay_state *rs,
                               struct wire_msg *msg)
{
	enum wire_verdict v = wire_verify(kr, buf, len, now, window, msg);

	if (v != WIRE_OK)
		return v;
	if (rs && !replay_check(rs, msg->incarnation, msg->counter))
		return WIRE_REPLAY;
	v = wire_parse_body(msg);
	if (v != WIRE_OK)
		return v;
	if (rs)
		replay_update(rs, msg->incarnation, msg->counter);
	return WIRE_OK;
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
	size_t slen = strlen(sender);
	int n;

	if (slen == 0 || slen > WIRE_NAME_MAX || name_span(sender, sender + slen) != slen ||
	    body_len == 0)
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
