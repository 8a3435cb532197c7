/* daemon_ctl: the answers to control requests (doc/CONTROL.md). */
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "util.h"
#include "version.h"

static json_t *member_json(const struct member *m, uint64_t now_ms)
{
	char addr[WIRE_ADDR_MAX];
	json_t *o;

	addr_str(&m->addr, addr, sizeof(addr));
	o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:f, s:I, s:I, s:I}", "name", m->name,
	              "address", addr, "state", members_state_name(m->state), "incarnation",
	              (json_int_t)m->incarnation, "since", (json_int_t)m->since_s,
	              "last_heard_ms", (json_int_t)(now_ms - m->last_heard_ms), "loss",
	              members_loss(m), "skew_s", (json_int_t)m->skew_s, "timeout_ms",
	              (json_int_t)m->timeout_ms, "lines", (json_int_t)m->accepted);
	return o;
}

/* Authenticated senders kept out lately, and why. */
static json_t *rejected_json(const struct daemon *d, uint64_t now_ms)
{
	json_t *list = json_array();

	for (int i = 0; i < DAEMON_REJECTED_MAX; i++) {
		const struct rejected_sender *r = &d->rejected[i];
		char addr[WIRE_ADDR_MAX], why[160];

		if (r->lines == 0 || now_ms - r->last_ms > DAEMON_REJECTED_SHOW_MS)
			continue;
		addr_str(&r->addr, addr, sizeof(addr));
		snprintf(why, sizeof(why), "clock %lld s %s ours, outside the %u s window: lines dropped as stale",
		         (long long)(r->skew_s < 0 ? -r->skew_s : r->skew_s),
		         r->skew_s < 0 ? "behind" : "ahead of", d->cfg.replay_window_s);
		json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s}", "name",
		                                      r->name, "address", addr, "reason", "stale",
		                                      "skew_s", (json_int_t)r->skew_s, "lines",
		                                      (json_int_t)r->lines, "last_ms",
		                                      (json_int_t)(now_ms - r->last_ms), "detail", why));
	}
	return list;
}

static json_t *cmd_members(struct daemon *d)
{
	uint64_t now = now_mono_ms();
	char addr[WIRE_ADDR_MAX];
	json_t *r = ctl_ok(), *list = json_array();

	addr_str(&d->self_addr, addr, sizeof(addr));
	/* the same fields as the others, so that readers need no special case */
	json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:f, s:I, s:I, s:I, s:b}",
	                                      "name", d->cfg.name, "address", addr, "state", "alive",
	                                      "incarnation", (json_int_t)d->incarnation, "since",
	                                      (json_int_t)d->start_s, "last_heard_ms",
	                                      (json_int_t)0, "loss", 0.0, "skew_s", (json_int_t)0,
	                                      "timeout_ms", (json_int_t)0, "lines", (json_int_t)0,
	                                      "self", 1));
	for (size_t i = 0; i < members_size(d->members); i++)
		json_array_append_new(list, member_json(members_at(d->members, i), now));
	json_object_set_new(r, "self", json_string(d->cfg.name));
	json_object_set_new(r, "members", list);
	json_object_set_new(r, "rejected", rejected_json(d, now));
	return r;
}

static json_t *keys_json(const struct daemon *d)
{
	json_t *keys = json_array();

	for (size_t i = 0; i < d->kr->nkeys; i++) {
		const struct keyring_key *k = &d->kr->keys[i];
		char fpr[KEYRING_FPR_LEN];

		keyring_fingerprint(k, fpr);
		json_array_append_new(keys, json_pack("{s:i, s:b, s:s, s:I}", "id", k->id, "primary",
		                                      k->primary, "fingerprint", fpr, "accepted",
		                                      (json_int_t)stats_key_count(&d->stats, k->id)));
	}
	return keys;
}

/* How lines leave: the group, unicast peers (issue 12), datagrams per line. */
static json_t *transport_json(const struct daemon *d)
{
	struct peers_counts c;

	net_peer_counts(&d->net, now_mono_ms(), &c);
	return json_pack("{s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "multicast",
	                 d->net.multicast, "unicast", d->net.unicast, "peers", (json_int_t)c.known,
	                 "seeds", (json_int_t)c.seeds, "peers_active", (json_int_t)c.active,
	                 "peers_slow", (json_int_t)c.slow, "lines_sent",
	                 (json_int_t)d->net.lines_sent, "datagrams_sent",
	                 (json_int_t)d->net.datagrams_sent, "peer_send_errors",
	                 (json_int_t)d->net.peer_send_errors);
}

static json_t *cmd_status(struct daemon *d)
{
	json_t *r = ctl_ok(), *counts = json_object();
	int nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);

	json_object_set_new(counts, "alive", json_integer((json_int_t)members_count(d->members, MEMBER_ALIVE) + 1));
	for (int s = 0; s < MEMBER_NSTATES; s++)
		if (s != MEMBER_ALIVE)
			json_object_set_new(counts, members_state_name((enum member_state)s),
			                    json_integer((json_int_t)members_count(d->members, (enum member_state)s)));
	json_object_set_new(r, "name", json_string(d->cfg.name));
	json_object_set_new(r, "daemon_version", json_string(CMEM_VERSION));
	json_object_set_new(r, "incarnation", json_integer((json_int_t)d->incarnation));
	json_object_set_new(r, "cluster", json_pack("{s:s, s:i, s:s, s:i}", "group", d->cfg.group,
	                                            "port", d->cfg.port, "interface",
	                                            d->net.ifname[0] ? d->net.ifname : "default",
	                                            "ttl", d->cfg.ttl));
	json_object_set_new(r, "transport", transport_json(d));
	json_object_set_new(r, "uptime_s", json_integer((json_int_t)((now_mono_ms() - d->start_ms) / 1000)));
	json_object_set_new(r, "members", counts);
	json_object_set_new(r, "detector", json_pack("{s:i, s:i, s:i, s:i}", "heartbeat_ms",
	                                             d->cfg.heartbeat_ms, "fail_after_ms",
	                                             d->cfg.fail_after_ms, "replay_window_s",
	                                             d->cfg.replay_window_s, "max_members",
	                                             d->cfg.max_members));
	json_object_set_new(r, "keys", keys_json(d));
	json_object_set_new(r, "log_level", json_string(log_level_name(log_get_level())));
	json_object_set_new(r, "confinement",
	                    json_pack("{s:i, s:i, s:s, s:b, s:i}", "uid", (int)getuid(), "gid",
	                              (int)getgid(), "chroot", d->chrooted ? d->chroot_dir : "",
	                              "no_new_privs", nnp == 1, "pid", (int)getpid()));
	return r;
}

static json_t *verb_counts(const uint64_t *v)
{
	json_t *o = json_object();

	for (int i = WIRE_CJOIN; i < WIRE_NVERBS; i++)
		json_object_set_new(o, wire_verb_name((enum wire_verb)i), json_integer((json_int_t)v[i]));
	return o;
}

static json_t *top_sources(const struct stats *s)
{
	json_t *list = json_array();

	for (unsigned i = 0; i < s->ntop; i++) {
		const struct stats_source *src = &s->top[i];
		char addr[WIRE_ADDR_MAX];
		json_t *by = json_object();

		addr_str(&src->addr, addr, sizeof(addr));
		for (int r = 0; r < DROP_NREASONS; r++)
			if (src->by_reason[r])
				json_object_set_new(by, stats_reason_name((enum drop_reason)r),
				                    json_integer((json_int_t)src->by_reason[r]));
		json_array_append_new(list, json_pack("{s:s, s:I, s:o}", "address", addr, "total",
		                                      (json_int_t)src->total, "dropped", by));
	}
	return list;
}

static json_t *cmd_stats(struct daemon *d)
{
	const struct stats *s = &d->stats;
	json_t *r = ctl_ok(), *dropped = json_object(), *by_key = json_object();

	for (int i = 0; i < DROP_NREASONS; i++)
		json_object_set_new(dropped, stats_reason_name((enum drop_reason)i),
		                    json_integer((json_int_t)s->dropped[i]));
	for (unsigned i = 0; i < STATS_MAX_KEYS && s->by_key[i].id; i++) {
		char id[8];

		snprintf(id, sizeof(id), "%u", s->by_key[i].id);
		json_object_set_new(by_key, id, json_integer((json_int_t)s->by_key[i].n));
	}
	json_object_set_new(r, "sent", verb_counts(s->sent));
	json_object_set_new(r, "accepted", verb_counts(s->accepted));
	json_object_set_new(r, "dropped", dropped);
	json_object_set_new(r, "by_key", by_key);
	json_object_set_new(r, "top_sources", top_sources(s));
	json_object_set_new(r, "other", json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	                                          "oversize", (json_int_t)s->oversize,
	                                          "own_replays", (json_int_t)s->own_replays,
	                                          "late", (json_int_t)s->late,
	                                          "duplicates", (json_int_t)s->duplicates,
	                                          "own_lines",
	                                          (json_int_t)s->own_lines, "name_conflicts",
	                                          (json_int_t)s->name_conflicts, "table_full",
	                                          (json_int_t)s->table_full, "send_errors",
	                                          (json_int_t)s->send_errors, "replies_suppressed",
	                                          (json_int_t)d->replies_suppressed,
	                                          "dropped_watchers",
	                                          (json_int_t)(d->ctl ? ctl_dropped_watchers(d->ctl) : 0)));
	return r;
}

static json_t *cmd_loglevel(json_t *req, const struct ctl_peer *peer)
{
	const char *name = json_string_value(json_object_get(req, "level"));
	int level;

	if (peer->uid != 0)
		return ctl_error("permission denied: changing the log level needs root (uid 0), "
		                 "you are uid %u", (unsigned)peer->uid);
	if (name == NULL || (level = log_level_parse(name)) < 0)
		return ctl_error("unknown log level '%s': use error, warn, info or debug",
		                 name ? name : "");
	log_set_level((enum log_level)level);
	log_info("log level set to %s by uid %u (pid %ld)", name, (unsigned)peer->uid,
	         (long)peer->pid);
	return json_pack("{s:s, s:s}", "status", "ok", "level", name);
}

/* ---- keys: list (anyone), install / use / remove (root) ---- */

static json_t *cmd_keys_list(struct daemon *d)
{
	json_t *r = ctl_ok(), *keys = keys_json(d), *k, *behind = json_array();
	const struct keyring_key *primary = keyring_primary(d->kr);
	size_t i;

	json_array_foreach(keys, i, k) {
		uint16_t id = (uint16_t)json_integer_value(json_object_get(k, "id"));
		json_int_t peers = 0;

		for (size_t j = 0; j < members_size(d->members); j++) {
			const struct member *m = members_at(d->members, j);

			peers += m->state == MEMBER_ALIVE && m->last_key == id;
		}
		json_object_set_new(k, "peers", json_integer(peers));
	}
	for (size_t j = 0; j < members_size(d->members); j++) {
		const struct member *m = members_at(d->members, j);

		if (m->state == MEMBER_ALIVE && m->last_key != primary->id)
			json_array_append_new(behind, json_pack("{s:s, s:i}", "name", m->name, "key",
			                                        m->last_key));
	}
	json_object_set_new(r, "keys", keys);
	json_object_set_new(r, "primary", json_integer(primary->id));
	json_object_set_new(r, "peers_not_on_primary", behind);
	return r;
}

/* A keyring from the request's "keys": [{"id", "secret" (hex), "primary"}]. */
static struct keyring *keys_from_request(json_t *req, char *err, size_t errlen)
{
	json_t *list = json_object_get(req, "keys"), *k;
	struct keyring *kr = keyring_new();
	int nprimary = 0;
	size_t i;

	if (kr == NULL || !json_is_array(list) || json_array_size(list) == 0) {
		snprintf(err, errlen, "the request carries no keys");
		goto fail;
	}
	json_array_foreach(list, i, k) {
		const char *hex = json_string_value(json_object_get(k, "secret"));
		json_int_t id = json_integer_value(json_object_get(k, "id"));
		uint8_t secret[KEYRING_KEY_BYTES];
		size_t len = 0;
		int primary = json_is_true(json_object_get(k, "primary"));

		if (id < 1 || id > 65535 || hex == NULL || strlen(hex) != 2 * KEYRING_KEY_BYTES ||
		    sodium_hex2bin(secret, sizeof(secret), hex, strlen(hex), NULL, &len, NULL) != 0 ||
		    len != KEYRING_KEY_BYTES || keyring_add(kr, (uint16_t)id, secret, primary) == -1) {
			sodium_memzero(secret, sizeof(secret));
			snprintf(err, errlen, "key %zu of the request is malformed or a duplicate", i + 1);
			goto fail;
		}
		sodium_memzero(secret, sizeof(secret));
		nprimary += primary;
	}
	if (nprimary != 1) {
		snprintf(err, errlen, "the keyring must have exactly one primary key, not %d", nprimary);
		goto fail;
	}
	return kr;
fail:
	keyring_free(kr);
	return NULL;
}

static json_t *cmd_keys_change(struct daemon *d, const char *action, json_t *req)
{
	json_int_t id = json_integer_value(json_object_get(req, "id"));
	char err[256];

	if (strcmp(action, "install") == 0) {
		struct keyring *kr = keys_from_request(req, err, sizeof(err));

		if (kr == NULL)
			return ctl_error("keys install: %s", err);
		keyring_free(d->kr); /* replay state is per sender, kept in the members table */
		d->kr = kr;
		log_info("keyring replaced: %zu keys, primary %u", kr->nkeys, keyring_primary(kr)->id);
		return cmd_keys_list(d);
	}
	if (id < 1 || id > 65535 || keyring_find(d->kr, (uint16_t)id) == NULL)
		return ctl_error("keys %s: no key with id %lld in the keyring", action, (long long)id);
	if (strcmp(action, "use") == 0) {
		keyring_set_primary(d->kr, (uint16_t)id);
		log_info("key %lld is now primary: lines are signed with it", (long long)id);
		return cmd_keys_list(d);
	}
	if (keyring_find(d->kr, (uint16_t)id)->primary)
		return ctl_error("keys remove: key %lld is the primary; make another key primary first",
		                 (long long)id);
	keyring_remove(d->kr, (uint16_t)id);
	log_info("key %lld removed: lines signed with it are no longer accepted", (long long)id);
	return cmd_keys_list(d);
}

static json_t *cmd_keys(struct daemon *d, json_t *req, const struct ctl_peer *peer)
{
	const char *action = json_string_value(json_object_get(req, "action"));

	if (action == NULL || strcmp(action, "list") == 0)
		return cmd_keys_list(d);
	if (strcmp(action, "install") && strcmp(action, "use") && strcmp(action, "remove"))
		return ctl_error("unknown keys action '%s': use list, install, use or remove", action);
	if (peer->uid != 0)
		return ctl_error("permission denied: keys %s needs root (uid 0), you are uid %u",
		                 action, (unsigned)peer->uid);
	return cmd_keys_change(d, action, req);
}

json_t *daemon_ctl_handle(void *arg, const char *command, json_t *req,
                          const struct ctl_peer *peer, int *watch)
{
	struct daemon *d = arg;

	if (strcmp(command, "members") == 0)
		return cmd_members(d);
	if (strcmp(command, "status") == 0)
		return cmd_status(d);
	if (strcmp(command, "stats") == 0)
		return cmd_stats(d);
	if (strcmp(command, "loglevel") == 0)
		return cmd_loglevel(req, peer);
	if (strcmp(command, "keys") == 0)
		return cmd_keys(d, req, peer);
	if (strcmp(command, "watch") == 0) {
		*watch = 1;
		return json_pack("{s:s, s:s}", "status", "ok", "self", d->cfg.name);
	}
	return ctl_error("unknown command '%s'", command);
}
