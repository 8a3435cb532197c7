/* replay: RFC 4303-style anti-replay window, 64 counters deep. */
#include "replay.h"

int replay_check(const struct replay_state *st, uint64_t incarnation, uint64_t counter)
{
	uint64_t behind;

	if (!st->valid || incarnation > st->incarnation)
		return 1;
	if (incarnation < st->incarnation)
		return 0;
	if (counter > st->top)
		return 1;
	behind = st->top - counter;
	if (behind > 63)
		return 0;
	return !(st->bitmap & ((uint64_t)1 << behind));
}

uint64_t replay_update(struct replay_state *st, uint64_t incarnation, uint64_t counter)
{
	uint64_t gap;

	if (!st->valid || incarnation > st->incarnation) {
		int fresh = !st->valid;

		st->valid = 1;
		st->incarnation = incarnation;
		st->top = counter;
		st->bitmap = 1;
		return fresh ? 0 : UINT64_MAX;
	}
	if (counter > st->top) {
		gap = counter - st->top;
		st->bitmap = gap >= 64 ? 0 : st->bitmap << gap;
		st->bitmap |= 1;
		st->top = counter;
		return gap - 1;
	}
	st->bitmap |= (uint64_t)1 << (st->top - counter);
	return 0;
}
