/*
 * stats: the daemon's counters (what `cmemctl stats` shows): lines sent
 * and accepted by verb, dropped by reason in total and for the top source
 * addresses, accepted per key id, and the drops not yet reported in the
 * (rate-limited) log.
 */
#ifndef CMEM_STATS_H
#define CMEM_STATS_H

#include <stdint.h>

#include "addr.h"
#include "wire.h"

/* Why a datagram was dropped; the first seven are the checks of
 * PROTOCOL.md section 4 (stats_reason_of maps each wire verdict by name). */
enum drop_reason {
	DROP_BAD_FORMAT = 0,
	DROP_BAD_VERSION,
	DROP_UNKNOWN_KEY,
	DROP_BAD_MAC,
	DROP_STALE,
	DROP_REPLAY,
	DROP_BAD_BODY,
	DROP_NREASONS
};

#define STATS_TOP_SOURCES 16
#define STATS_MAX_KEYS 64

struct stats_source {
	struct member_addr addr;
	uint64_t total;
	uint64_t by_reason[DROP_NREASONS];
};

struct stats {
	uint64_t sent[WIRE_NVERBS];
	uint64_t send_errors;
	uint64_t accepted[WIRE_NVERBS];
	uint64_t dropped[DROP_NREASONS];
	uint64_t unreported[DROP_NREASONS]; /* since the last log report */
	uint64_t own_lines;                 /* our own lines, looped back */
	uint64_t own_replays;               /* lines of an earlier run of ours, replayed */
	uint64_t oversize;                  /* of the bad_format drops: over 1232 bytes */
	uint64_t late;                      /* late lines that only filled a gap of the window */
	uint64_t duplicates;                /* the same line by the second path */
	uint64_t name_conflicts;
	uint64_t table_full;
	struct {
		uint16_t id;
		uint64_t n;
	} by_key[STATS_MAX_KEYS];
	struct stats_source top[STATS_TOP_SOURCES]; /* space-saving heavy hitters */
	unsigned ntop;
};

/* Map a wire verdict (not WIRE_OK) to a drop reason. */
enum drop_reason stats_reason_of(enum wire_verdict v);
const char *stats_reason_name(enum drop_reason r);

/* Counters of what is neither a drop nor an accepted line (the `other` of `cmemctl stats`). */
enum stats_other {
	STATS_OVERSIZE = 0, /* (also a bad_format drop) */
	STATS_OWN_LINE,
	STATS_OWN_REPLAY,   /* (also a replay drop) */
	STATS_LATE,
	STATS_DUPLICATE,
	STATS_NAME_CONFLICT,
	STATS_TABLE_FULL,
	STATS_SEND_ERROR,
};

void stats_drop(struct stats *s, enum drop_reason r, const struct member_addr *src);
void stats_count(struct stats *s, enum stats_other what);
void stats_sent(struct stats *s, enum wire_verb verb);
/* The source that dropped most overall, or NULL. */
const struct stats_source *stats_top_source(const struct stats *s);
void stats_accept(struct stats *s, enum wire_verb verb, uint16_t key_id);
uint64_t stats_key_count(const struct stats *s, uint16_t key_id);

/*
 * Summarize the unreported drops into buf ("bad_mac 1200, stale 3") and
 * clear them; returns how many there were.
 */
uint64_t stats_take_unreported(struct stats *s, char *buf, size_t len);
/* Drops not reported yet (the report timer need not wake otherwise). */
uint64_t stats_unreported(const struct stats *s);

#endif
