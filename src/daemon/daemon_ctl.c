/* daemon_ctl: the answers to control requests (doc/CONTROL.md), one table. */
#include "daemon_ctl.h"

#include "daemon_state.h"

#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

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

static json_t *cmd_members(struct daemon *d, json_t *req, const struct ctl_peer *peer, int *watch)
{
	uint64_t now = clock_mono_ms(d->clk);
	char addr[WIRE_ADDR_MAX];
	json_t *r = ctl_ok(), *list = json_array();
	(void)req;
	(void)peer;
	(void)watch;

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
	struct net_info n;

	net_peer_counts(&d->net, clock_mono_ms(d->clk), &c);
	net_info(&d->net, &n);
	return json_pack("{s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "multicast",
	                 n.multicast, "unicast", n.unicast, "peers", (json_int_t)c.known, "seeds",
	                 (json_int_t)c.seeds, "peers_active", (json_int_t)c.active, "peers_slow",
	                 (json_int_t)c.slow, "peers_validated", (json_int_t)c.validated, "lines_sent", (json_int_t)n.lines_sent,
	                 "datagrams_sent", (json_int_t)n.datagrams_sent, "peer_send_errors",
	                 (json_int_t)n.peer_send_errors);
}

/* This node's quorum view (issue 12): reachable members of those known, and a majority? */
static json_t *quorum_json(const struct daemon *d)
{
	struct members_quorum q;

	members_quorum(d->members, &q);
	return json_pack("{s:I, s:I, s:b}", "alive", (json_int_t)q.reachable, "known",
	                 (json_int_t)q.known, "has_quorum", q.has_quorum);
}

static json_t *cmd_status(struct daemon *d, json_t *req, const struct ctl_peer *peer, int *watch)
{
	json_t *r = ctl_ok(), *counts = json_object();
	struct net_info n;
	int nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
	(void)req;
	(void)peer;
	(void)watch;

	json_object_set_new(counts, "alive", json_integer((json_int_t)members_count(d->members, MEMBER_ALIVE) + 1));
	for (int s = 0; s < MEMBER_NSTATES; s++)
		if (s != MEMBER_ALIVE)
			json_object_set_new(counts, members_state_name((enum member_state)s),
			                    json_integer((json_int_t)members_count(d->members, (enum member_state)s)));
	net_info(&d->net, &n);
	json_object_set_new(r, "name", json_string(d->cfg.name));
	json_object_set_new(r, "daemon_version", json_string(CMEM_VERSION));
	json_object_set_new(r, "incarnation", json_integer((json_int_t)d->incarnation));
	json_object_set_new(r, "cluster", json_pack("{s:s, s:i, s:s, s:i}", "group", d->cfg.group,
	                                            "port", d->cfg.port, "interface",
	                                            n.ifname[0] ? n.ifname : "default",
	                                            "ttl", d->cfg.ttl));
	json_object_set_new(r, "transport", transport_json(d));
	json_object_set_new(r, "uptime_s", json_integer((json_int_t)((clock_mono_ms(d->clk) - d->start_ms) / 1000)));
	json_object_set_new(r, "members", counts);
	json_object_set_new(r, "quorum", quorum_json(d));
	json_object_set_new(r, "detector",
	                    json_pack("{s:i, s:i, s:b, s:i, s:i, s:i}", "heartbeat_ms",
	                              d->cfg.heartbeat_ms, "heartbeat_now_ms", d->heartbeat_ms,
	                              "heartbeat_fixed", d->cfg.heartbeat_fixed, "fail_after_ms",
	                              d->cfg.fail_after_ms, "replay_window_s", d->cfg.replay_window_s,
	                              "max_members", d->cfg.max_members));
	json_object_set_new(r, "keys", keys_json(d));
	json_object_set_new(r, "log_level", json_string(log_level_name(log_get_level())));
	json_object_set_new(r, "confinement",
	                    json_pack("{s:i, s:i, s:s, s:b, s:i, s:i}", "uid", (int)getuid(), "gid",
	                              (int)getgid(), "chroot", d->chrooted ? d->chroot_dir : "",
	                              "no_new_privs", nnp == 1, "seccomp",
	                              prctl(PR_GET_SECCOMP, 0, 0, 0, 0), "pid", (int)getpid()));
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

static json_t *cmd_stats(struct daemon *d, json_t *req, const struct ctl_peer *peer, int *watch)
{
	const struct stats *s = &d->stats;
	json_t *r = ctl_ok(), *dropped = json_object(), *by_key = json_object();
	(void)req;
	(void)peer;
	(void)watch;

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
	json_object_set_new(r, "other", json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
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
	                                          (json_int_t)(d->ctl ? ctl_dropped_watchers(d->ctl) : 0),
	                                          "log_dropped", (json_int_t)log_dropped()));
	return r;
}

/* The log level named by v: 0 and *level, or -1 with an error reply in *e. */
static int parse_level(json_t *v, const char *what, int *level, json_t **e)
{
	const char *name = json_string_value(v);

	if (name == NULL) {
		*e = ctl_error(CTL_E_BAD_REQUEST, "%s: the request names no log level", what);
		return -1;
	}
	if ((*level = log_level_parse(name)) < 0) {
		*e = ctl_error(CTL_E_BAD_VALUE, "unknown log level '%s': use error, warn, info or debug",
		               name);
		return -1;
	}
	return 0;
}

static json_t *cmd_loglevel(struct daemon *d, json_t *req, const struct ctl_peer *peer, int *watch)
{
	json_t *e;
	int level;

	(void)d;
	(void)watch;
	if (parse_level(json_object_get(req, "level"), "loglevel", &level, &e) == -1)
		return e;
	log_set_level((enum log_level)level);
	log_info("log level set to %s by uid %u (pid %ld)", log_level_name((enum log_level)level),
	         (unsigned)peer->uid, (long)peer->pid);
	return json_pack("{s:s, s:s}", "status", "ok", "level", log_level_name((enum log_level)level));
}

static json_t *cmd_watch(struct daemon *d, json_t *req, const struct ctl_peer *peer, int *watch)
{
	(void)req;
	(void)peer;
	*watch = 1;
	return json_pack("{s:s, s:s}", "status", "ok", "self", d->cfg.name);
}

/* ---- keys: list (anyone), install / use / remove (root) ---- */

static json_t *keys_reply(struct daemon *d)
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

static json_t *cmd_keys_list(struct daemon *d, json_t *req, const struct ctl_peer *peer, int *watch)
{
	(void)req;
	(void)peer;
	(void)watch;
	return keys_reply(d);
}

/* One key of the request, {"id", "secret" (hex), "primary"}, added to kr. */
static int key_from_request(struct keyring *kr, json_t *k, size_t n, int *nprimary, char *err,
                            size_t errlen)
{
	const char *hex = json_string_value(json_object_get(k, "secret"));
	json_t *idv = json_object_get(k, "id");
	json_int_t id = json_integer_value(idv);
	uint8_t secret[KEYRING_KEY_BYTES];
	size_t len = 0;
	int primary = json_is_true(json_object_get(k, "primary")), rc;

	if (!json_is_integer(idv) || id < 1 || id > 65535) {
		seterr(err, errlen, "key %zu of the request: the id must be an integer from 1 to 65535", n);
		return -1;
	}
	if (hex == NULL || strlen(hex) != 2 * KEYRING_KEY_BYTES ||
	    sodium_hex2bin(secret, sizeof(secret), hex, strlen(hex), NULL, &len, NULL) != 0 ||
	    len != KEYRING_KEY_BYTES) {
		sodium_memzero(secret, sizeof(secret));
		seterr(err, errlen, "key %zu of the request (id %lld): the secret must be %d hex digits",
		       n, (long long)id, 2 * KEYRING_KEY_BYTES);
		return -1;
	}
	rc = keyring_add(kr, (uint16_t)id, secret, primary);
	sodium_memzero(secret, sizeof(secret));
	if (rc == -1) {
		seterr(err, errlen, "key %zu of the request: %s", n,
		       kr->nkeys == KEYRING_MAX_KEYS ? "more than 64 keys" : "its id is a duplicate");
		return -1;
	}
	*nprimary += primary;
	return 0;
}

/* A keyring from the request's "keys": NULL with a message if malformed. */
static struct keyring *keys_from_request(json_t *req, char *err, size_t errlen)
{
	json_t *list = json_object_get(req, "keys"), *k;
	struct keyring *kr;
	int nprimary = 0;
	size_t i;

	if (!json_is_array(list) || json_array_size(list) == 0) {
		seterr(err, errlen, "the request carries no keys");
		return NULL;
	}
	if ((kr = keyring_new()) == NULL) {
		seterr(err, errlen, "out of secure memory");
		return NULL;
	}
	json_array_foreach(list, i, k) {
		if (key_from_request(kr, k, i + 1, &nprimary, err, errlen) == -1) {
			keyring_free(kr);
			return NULL;
		}
	}
	if (nprimary != 1) {
		seterr(err, errlen, "the keyring must have exactly one primary key, not %d", nprimary);
		keyring_free(kr);
		return NULL;
	}
	return kr;
}

/* The ring is swapped whole: replay state is per sender, in the members table. */
static void install_ring(struct daemon *d, struct keyring *kr, const char *why)
{
	keyring_free(d->kr);
	d->kr = kr;
	log_info("keyring replaced (%s): %zu keys, primary %u", why, kr->nkeys,
	         keyring_primary(kr)->id);
}

static json_t *cmd_keys_install(struct daemon *d, json_t *req, const struct ctl_peer *peer,
                                int *watch)
{
	char err[256];
	struct keyring *kr = keys_from_request(req, err, sizeof(err));

	(void)peer;
	(void)watch;
	if (kr == NULL)
		return ctl_error(CTL_E_BAD_KEY, "keys install: %s", err);
	install_ring(d, kr, "keys install");
	return keys_reply(d);
}

/* The request's key id, present in the ring: 0, or -1 with an error reply. */
static int request_key_id(struct daemon *d, json_t *req, const char *action, uint16_t *id,
                          json_t **e)
{
	json_t *v = json_object_get(req, "id");
	json_int_t n = json_integer_value(v);

	if (!json_is_integer(v)) {
		*e = ctl_error(CTL_E_BAD_REQUEST, "keys %s: the request carries no integer key id", action);
		return -1;
	}
	if (n < 1 || n > 65535 || keyring_find(d->kr, (uint16_t)n) == NULL) {
		*e = ctl_error(CTL_E_NOT_FOUND, "keys %s: no key with id %lld in the keyring", action,
		               (long long)n);
		return -1;
	}
	*id = (uint16_t)n;
	return 0;
}

static json_t *use_key(struct daemon *d, uint16_t id)
{
	keyring_set_primary(d->kr, id);
	log_info("key %u is now primary: lines are signed with it", id);
	return NULL;
}

static json_t *remove_key(struct daemon *d, uint16_t id)
{
	if (keyring_find(d->kr, id)->primary)
		return ctl_error(CTL_E_PRIMARY, "keys remove: key %u is the primary; make another key "
		                 "primary first", id);
	keyring_remove(d->kr, id);
	log_info("key %u removed: lines signed with it are no longer accepted", id);
	return NULL;
}

/* keys use, keys remove: the request's key id (the row's action), then the action's step. */
static json_t *cmd_keys_id(struct daemon *d, json_t *req, const struct ctl_peer *peer, int *watch)
{
	const char *action = json_string_value(json_object_get(req, "action"));
	json_t *(*step)(struct daemon *, uint16_t) = strcmp(action, "use") == 0 ? use_key : remove_key;
	uint16_t id;
	json_t *e;

	(void)peer;
	(void)watch;
	if (request_key_id(d, req, action, &id, &e) == -1 || (e = step(d, id)) != NULL)
		return e;
	return keys_reply(d);
}

/* ---- reload: what the client read from the files, applied at once ---- */

/*
 * The options that change without a restart, as the request's "config"
 * carries them.  A later option (the peer list) is one more row: check
 * validates everything before apply changes anything.
 */
struct reload_option {
	const char *name;
	int (*check)(json_t *v, json_t **e);
	void (*apply)(struct daemon *d, json_t *v);
};

static int check_log_level(json_t *v, json_t **e)
{
	int level;

	return parse_level(v, "reload", &level, e);
}

static void apply_log_level(struct daemon *d, json_t *v)
{
	(void)d;
	log_set_level((enum log_level)log_level_parse(json_string_value(v)));
}

static const struct reload_option reload_options[] = {
	{ .name = "log_level", .check = check_log_level, .apply = apply_log_level },
};

static const struct reload_option *reload_option(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(reload_options); i++)
		if (strcmp(reload_options[i].name, name) == 0)
			return &reload_options[i];
	return NULL;
}

/* Every option of the request's "config" is known and valid: 0, or -1 and *e. */
static int reload_check(json_t *config, json_t **e)
{
	const char *key;
	json_t *v;

	if (!json_is_object(config)) {
		*e = ctl_error(CTL_E_BAD_REQUEST, "reload: the request carries no \"config\" object");
		return -1;
	}
	json_object_foreach(config, key, v) {
		const struct reload_option *o = reload_option(key);

		if (o == NULL) {
			*e = ctl_error(CTL_E_BAD_VALUE, "reload: option '%s' cannot be changed while "
			               "cmemd runs (restart it)", key);
			return -1;
		}
		if (o->check(v, e) == -1)
			return -1;
	}
	return 0;
}

static json_t *cmd_reload(struct daemon *d, json_t *req, const struct ctl_peer *peer, int *watch)
{
	json_t *config = json_object_get(req, "config"), *e, *v, *r;
	const char *key, *file = json_string_value(json_object_get(req, "file"));
	char err[256];
	struct keyring *kr;

	(void)watch;
	if (reload_check(config, &e) == -1)
		return e;
	if ((kr = keys_from_request(req, err, sizeof(err))) == NULL)
		return ctl_error(CTL_E_BAD_KEY, "reload: %s", err);
	/* all checked: from here nothing fails */
	json_object_foreach(config, key, v)
		reload_option(key)->apply(d, v);
	install_ring(d, kr, "reload");
	log_info("reloaded %s by uid %u (pid %ld): log level %s", file ? file : "the configuration",
	         (unsigned)peer->uid, (long)peer->pid, log_level_name(log_get_level()));
	r = keys_reply(d);
	json_object_set_new(r, "log_level", json_string(log_level_name(log_get_level())));
	return r;
}

/* ---- the table and its dispatch ---- */

const struct daemon_ctl_command daemon_ctl_table[] = {
	/* read-only: whoever can open the socket */
	{ .name = "members", .fn = cmd_members },
	{ .name = "status", .fn = cmd_status },
	{ .name = "stats", .fn = cmd_stats },
	{ .name = "watch", .fn = cmd_watch },
	{ .name = "keys", .action = "list", .fn = cmd_keys_list },
	/* read-write: root only */
	{ .name = "loglevel", .fn = cmd_loglevel, .needs_root = 1, .what = "changing the log level" },
	{ .name = "keys", .action = "install", .fn = cmd_keys_install, .needs_root = 1,
	  .what = "keys install" },
	{ .name = "keys", .action = "use", .fn = cmd_keys_id, .needs_root = 1, .what = "keys use" },
	{ .name = "keys", .action = "remove", .fn = cmd_keys_id, .needs_root = 1,
	  .what = "keys remove" },
	{ .name = "reload", .fn = cmd_reload, .needs_root = 1, .what = "reload" },
};

const size_t daemon_ctl_table_size = ARRAY_SIZE(daemon_ctl_table);

/* The row for command (and the request's action): NULL with an error reply. */
static const struct daemon_ctl_command *find_row(const char *command, json_t *req, json_t **e)
{
	json_t *av = json_object_get(req, "action");
	const char *action = json_string_value(av);
	int known = 0;

	if (av != NULL && action == NULL) {
		*e = ctl_error(CTL_E_BAD_REQUEST, "%s: \"action\" must be a string", command);
		return NULL;
	}
	for (size_t i = 0; i < daemon_ctl_table_size; i++) {
		const struct daemon_ctl_command *row = &daemon_ctl_table[i];

		if (strcmp(row->name, command) != 0)
			continue;
		known = 1;
		if (row->action == NULL || strcmp(row->action, action ? action : "list") == 0)
			return row;
	}
	if (known)
		*e = ctl_error(CTL_E_UNKNOWN_COMMAND, "unknown %s action '%s': use list, install, use "
		               "or remove", command, action);
	else
		*e = ctl_error(CTL_E_UNKNOWN_COMMAND, "unknown command '%s'", command);
	return NULL;
}

json_t *daemon_ctl_handle(void *arg, const char *command, json_t *req,
                          const struct ctl_peer *peer, int *watch)
{
	const struct daemon_ctl_command *row;
	json_t *e = NULL;

	if ((row = find_row(command, req, &e)) == NULL)
		return e;
	if (row->needs_root && peer->uid != 0)
		return ctl_error(CTL_E_PERMISSION, "permission denied: %s needs root (uid 0), you are "
		                 "uid %u", row->what, (unsigned)peer->uid);
	return row->fn(arg, req, peer, watch);
}
