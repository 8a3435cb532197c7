/* clock: the system clocks behind struct clock, and a clock tests set. */
#include "clock.h"

#include "util.h"

static uint64_t system_mono_us(void *arg)
{
	(void)arg;
	return now_mono_us();
}

static uint64_t system_real_us(void *arg)
{
	(void)arg;
	return now_real_us();
}

const struct clock clock_system = { system_mono_us, system_real_us, NULL };

uint64_t clock_mono_us(const struct clock *c)
{
	return c->mono_us(c->arg);
}

uint64_t clock_mono_ms(const struct clock *c)
{
	return c->mono_us(c->arg) / 1000u;
}

uint64_t clock_real_us(const struct clock *c)
{
	return c->real_us(c->arg);
}

uint64_t clock_real_s(const struct clock *c)
{
	return c->real_us(c->arg) / 1000000u;
}

static uint64_t manual_mono_us(void *arg)
{
	return ((const struct clock_manual *)arg)->mono_us;
}

static uint64_t manual_real_us(void *arg)
{
	return ((const struct clock_manual *)arg)->real_us;
}

void clock_manual_init(struct clock *c, struct clock_manual *m, uint64_t mono_ms,
                       uint64_t real_s)
{
	m->mono_us = mono_ms * 1000u;
	m->real_us = real_s * 1000000u;
	*c = (struct clock){ manual_mono_us, manual_real_us, m };
}

void clock_manual_advance(struct clock_manual *m, uint64_t ms)
{
	m->mono_us += ms * 1000u;
	m->real_us += ms * 1000u;
}
