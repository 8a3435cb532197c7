/*
 * node: one simulated cmemd, the real daemon code behind a small interface.
 *
 * This is the simulator's only contact with the daemon (daemon.h: its
 * constructor, receive path, scheduler, send seam and clock): when that
 * interface changes, node.c changes, nothing else in sim/.
 *
 * Time is the host's own: every call takes the host's monotonic and wall
 * clocks in microseconds, as the daemon would read them at that moment.
 */
#ifndef CMEM_SIM_NODE_H
#define CMEM_SIM_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "members.h"

struct node;

/* A datagram the node sends: to everyone (group), or to one address. */
typedef void (*node_send_fn)(void *arg, int to_all, const struct member_addr *to,
                             const void *line, size_t len);
/* A membership event the node reports (what `cmemctl watch` would print). */
typedef void (*node_event_fn)(void *arg, enum member_event ev, const char *member);

struct node_conf {
	unsigned heartbeat_ms, fail_after_ms, replay_window_s, max_members;
	int heartbeat_fixed;
};

/* Process-wide, before anything else: libsodium with a seeded random source. */
int node_global_init(void);
/* Re-seed the daemon's random source (join-reply delays, hash keys). */
void node_seed(uint64_t seed);
/* Everything after this, until the next call, happens at this host's time. */
void node_set_time(uint64_t mono_us, uint64_t real_us);

/* A daemon named NAME at ADDR, started now (node_set_time), incarnation from
 * the wall clock; it sends cjoin and alive at once, as cmemd does. */
struct node *node_new(const struct node_conf *c, const char *name, const struct member_addr *addr,
                      node_send_fn send, node_event_fn event, void *arg);
void node_free(struct node *n);

/* One datagram that arrived at the given host time (the kernel's timestamp). */
void node_receive(struct node *n, const uint8_t *buf, size_t len, const struct member_addr *src,
                  uint64_t at_mono_us, uint64_t at_real_us);
/* When the node's poll loop would wake next, its monotonic ms. */
uint64_t node_next_due_ms(const struct node *n);
/* A wake-up at the current time: the clock check and the timers, as the loop does. */
void node_wake(struct node *n);

/* Graceful stop: the daemon sends its leave copies from its timers ... */
void node_leave(struct node *n);
/* ... while this says copies remain. */
int node_leaving(const struct node *n);

/* Its view: members alive (not counting itself), failed. */
size_t node_count(const struct node *n, enum member_state s);
/* The timeout it keeps for a member, ms (0: not known). */
unsigned node_timeout_ms(struct node *n, const char *member);
/* Memory its member table takes, bytes (the struct daemon is not counted). */
size_t node_footprint(const struct node *n);

#endif
