/* scheduler: timers and descriptors registered with one small scheduler. */
#include "scheduler.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "util.h"

struct sched_timer {
	sched_timer_fn fn;
	void *arg;
	uint64_t due_ms;
	uint64_t last_due_ms; /* what it was due at when it last ran */
};

struct sched_fd {
	int fd;
	short events;
	sched_fd_fn fn;
	void *arg;
};

struct sched_group {
	size_t max;
	sched_group_fill_fn fill;
	sched_group_fn fn;
	void *arg;
	size_t first, n; /* its entries in the last poll */
};

struct sched {
	const struct clock *clk;
	struct sched_timer *timers;
	size_t ntimers;
	struct sched_fd *fds;
	size_t nfds;
	struct sched_group *groups;
	size_t ngroups;
	struct pollfd *pfd;
	int *pfd_owner; /* the fd id of each pollfd entry, -1 for a group's */
	size_t npfd_max;
};

struct sched *sched_new(const struct clock *clk)
{
	struct sched *s = xcalloc(1, sizeof(*s));

	s->clk = clk;
	return s;
}

void sched_free(struct sched *s)
{
	if (s == NULL)
		return;
	free(s->timers);
	free(s->fds);
	free(s->groups);
	free(s->pfd);
	free(s->pfd_owner);
	free(s);
}

const struct clock *sched_clock(const struct sched *s)
{
	return s->clk;
}

int sched_timer_add(struct sched *s, sched_timer_fn fn, void *arg)
{
	s->timers = xreallocarray(s->timers, s->ntimers + 1, sizeof(*s->timers));
	s->timers[s->ntimers] = (struct sched_timer){ fn, arg, SCHED_NEVER, SCHED_NEVER };
	return (int)s->ntimers++;
}

void sched_timer_set(struct sched *s, int id, uint64_t due_ms)
{
	if (id >= 0 && (size_t)id < s->ntimers)
		s->timers[id].due_ms = due_ms;
}

uint64_t sched_timer_due(const struct sched *s, int id)
{
	return id >= 0 && (size_t)id < s->ntimers ? s->timers[id].due_ms : SCHED_NEVER;
}

uint64_t sched_timer_last_due(const struct sched *s, int id)
{
	return id >= 0 && (size_t)id < s->ntimers ? s->timers[id].last_due_ms : SCHED_NEVER;
}

/* Room for every descriptor and group entry in one poll. */
static void grow_pollfds(struct sched *s, size_t more)
{
	s->npfd_max += more;
	s->pfd = xreallocarray(s->pfd, s->npfd_max, sizeof(*s->pfd));
	s->pfd_owner = xreallocarray(s->pfd_owner, s->npfd_max, sizeof(*s->pfd_owner));
}

int sched_fd_add(struct sched *s, int fd, short events, sched_fd_fn fn, void *arg)
{
	s->fds = xreallocarray(s->fds, s->nfds + 1, sizeof(*s->fds));
	s->fds[s->nfds] = (struct sched_fd){ fd, events, fn, arg };
	grow_pollfds(s, 1);
	return (int)s->nfds++;
}

void sched_fd_events(struct sched *s, int id, short events)
{
	if (id >= 0 && (size_t)id < s->nfds)
		s->fds[id].events = events;
}

int sched_group_add(struct sched *s, size_t max, sched_group_fill_fn fill, sched_group_fn fn,
                    void *arg)
{
	s->groups = xreallocarray(s->groups, s->ngroups + 1, sizeof(*s->groups));
	s->groups[s->ngroups] = (struct sched_group){ max, fill, fn, arg, 0, 0 };
	grow_pollfds(s, max);
	return (int)s->ngroups++;
}

uint64_t sched_next_due(const struct sched *s)
{
	uint64_t next = SCHED_NEVER;

	for (size_t i = 0; i < s->ntimers; i++)
		if (s->timers[i].due_ms < next)
			next = s->timers[i].due_ms;
	return next;
}

void sched_run_due(struct sched *s, uint64_t now_ms)
{
	/* by index: a callback may add timers (the array may move) */
	for (size_t i = 0; i < s->ntimers; i++) {
		if (s->timers[i].due_ms > now_ms)
			continue;
		s->timers[i].last_due_ms = s->timers[i].due_ms;
		s->timers[i].due_ms = SCHED_NEVER;
		s->timers[i].fn(s->timers[i].arg, now_ms);
	}
}

/* The pollfd array for this step; how many entries. */
static size_t fill_pollfds(struct sched *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nfds; i++) {
		if (s->fds[i].events == 0 || s->fds[i].fd < 0)
			continue;
		s->pfd[n] = (struct pollfd){ .fd = s->fds[i].fd, .events = s->fds[i].events };
		s->pfd_owner[n++] = (int)i;
	}
	for (size_t g = 0; g < s->ngroups; g++) {
		struct sched_group *gr = &s->groups[g];

		gr->first = n;
		gr->n = gr->fill(gr->arg, s->pfd + n, gr->max);
		for (size_t k = 0; k < gr->n; k++)
			s->pfd_owner[n + k] = -1;
		n += gr->n;
	}
	return n;
}

static int timeout_ms(const struct sched *s, uint64_t now_ms)
{
	uint64_t next = sched_next_due(s);

	if (next == SCHED_NEVER)
		return -1;
	if (next <= now_ms)
		return 0;
	return next - now_ms > INT_MAX ? INT_MAX : (int)(next - now_ms);
}

int sched_poll_once(struct sched *s)
{
	size_t n = fill_pollfds(s);
	int r = poll(s->pfd, n, timeout_ms(s, clock_mono_ms(s->clk)));
	uint64_t now;

	if (r == -1 && errno != EINTR)
		return -1;
	for (size_t i = 0; r == -1 && i < n; i++)
		s->pfd[i].revents = 0; /* interrupted: nothing is ready */
	now = clock_mono_ms(s->clk);
	for (size_t i = 0; r > 0 && i < n; i++) {
		int id = s->pfd_owner[i];

		if (id >= 0 && s->pfd[i].revents)
			s->fds[id].fn(s->fds[id].arg, s->pfd[i].fd, s->pfd[i].revents, now);
	}
	for (size_t g = 0; g < s->ngroups; g++) {
		const struct sched_group *gr = &s->groups[g];

		gr->fn(gr->arg, s->pfd + gr->first, gr->n, clock_mono_ms(s->clk));
	}
	sched_run_due(s, clock_mono_ms(s->clk));
	return 0;
}
