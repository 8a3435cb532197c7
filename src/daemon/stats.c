/* stats: counters and the heavy-hitter table of dropping sources. */
#include "stats.h"

#include <stdio.h>
#include <string.h>

static const char *const reason_names[DROP_NREASONS] = {
	[DROP_BAD_FORMAT] = "bad_format", [DROP_BAD_VERSION] = "bad_version",
	[DROP_UNKNOWN_KEY] = "unknown_key", [DROP_BAD_MAC] = "bad_mac",
	[DROP_STALE] = "stale",           [DROP_REPLAY] = "replay",
	[DROP_BAD_BODY] = "bad_body",
};

/* Each failing wire verdict and the counter it feeds, by name: no reliance on order. */
static const enum drop_reason reason_of_verdict[WIRE_NVERDICTS] = {
	[WIRE_BAD_FORMAT] = DROP_BAD_FORMAT, [WIRE_BAD_VERSION] = DROP_BAD_VERSION,
	[WIRE_UNKNOWN_KEY] = DROP_UNKNOWN_KEY, [WIRE_BAD_MAC] = DROP_BAD_MAC,
	[WIRE_STALE] = DROP_STALE,           [WIRE_REPLAY] = DROP_REPLAY,
	[WIRE_BAD_BODY] = DROP_BAD_BODY,
};

enum drop_reason stats_reason_of(enum wire_verdict v)
{
	return v > WIRE_OK && v < WIRE_NVERDICTS ? reason_of_verdict[v] : DROP_BAD_FORMAT;
}

const char *stats_reason_name(enum drop_reason r)
{
	return (unsigned)r < DROP_NREASONS ? reason_names[r] : "unknown";
}

/* Space-saving: a new source replaces the smallest, inheriting its count. */
static struct stats_source *source_slot(struct stats *s, const struct member_addr *src)
{
	struct stats_source *min = NULL;

	for (unsigned i = 0; i < s->ntop; i++) {
		if (addr_same(&s->top[i].addr, src))
			return &s->top[i];
		if (min == NULL || s->top[i].total < min->total)
			min = &s->top[i];
	}
	if (s->ntop < STATS_TOP_SOURCES) {
		min = &s->top[s->ntop++];
		memset(min, 0, sizeof(*min));
	} else {
		memset(min->by_reason, 0, sizeof(min->by_reason));
	}
	min->addr = *src;
	return min;
}

void stats_drop(struct stats *s, enum drop_reason r, const struct member_addr *src)
{
	struct stats_source *slot;

	s->dropped[r]++;
	s->unreported[r]++;
	if (src == NULL || src->family == 0)
		return;
	slot = source_slot(s, src);
	slot->total++;
	slot->by_reason[r]++;
}

void stats_accept(struct stats *s, enum wire_verb verb, uint16_t key_id)
{
	s->accepted[verb]++;
	for (unsigned i = 0; i < STATS_MAX_KEYS; i++) {
		if (s->by_key[i].id == key_id || s->by_key[i].id == 0) {
			s->by_key[i].id = key_id;
			s->by_key[i].n++;
			return;
		}
	}
}

uint64_t stats_key_count(const struct stats *s, uint16_t key_id)
{
	for (unsigned i = 0; i < STATS_MAX_KEYS && s->by_key[i].id; i++)
		if (s->by_key[i].id == key_id)
			return s->by_key[i].n;
	return 0;
}

uint64_t stats_take_unreported(struct stats *s, char *buf, size_t len)
{
	uint64_t total = 0;
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned r = 0; r < DROP_NREASONS; r++) {
		int n;

		if (s->unreported[r] == 0)
			continue;
		total += s->unreported[r];
		n = snprintf(buf + off, len - off, "%s%s %llu", off ? ", " : "", reason_names[r],
		             (unsigned long long)s->unreported[r]);
		if (n > 0 && (size_t)n < len - off)
			off += (size_t)n;
		s->unreported[r] = 0;
	}
	return total;
}

uint64_t stats_unreported(const struct stats *s)
{
	uint64_t n = 0;

	for (int i = 0; i < DROP_NREASONS; i++)
		n += s->unreported[i];
	return n;
}

void stats_count(struct stats *s, enum stats_other what)
{
	uint64_t *const counter[] = {
		[STATS_OVERSIZE] = &s->oversize,         [STATS_OWN_LINE] = &s->own_lines,
		[STATS_OWN_REPLAY] = &s->own_replays,    [STATS_LATE] = &s->late,
		[STATS_DUPLICATE] = &s->duplicates,      [STATS_NAME_CONFLICT] = &s->name_conflicts,
		[STATS_TABLE_FULL] = &s->table_full,     [STATS_SEND_ERROR] = &s->send_errors,
	};

	if ((unsigned)what < sizeof(counter) / sizeof(counter[0]))
		(*counter[what])++;
}

void stats_sent(struct stats *s, enum wire_verb verb)
{
	if ((unsigned)verb < WIRE_NVERBS)
		s->sent[verb]++;
}

const struct stats_source *stats_top_source(const struct stats *s)
{
	const struct stats_source *top = NULL;

	for (unsigned i = 0; i < s->ntop; i++)
		if (top == NULL || s->top[i].total > top->total)
			top = &s->top[i];
	return top;
}
