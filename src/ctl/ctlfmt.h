/*
 * ctlfmt: cmemctl's writers.  One data model (the daemon's JSON replies),
 * several writers: a table for people, JSON for programs, and the
 * Prometheus text format for `stats --prometheus`.  Each function returns
 * 0, or -1 if the reply lacks what it needs.  The writers are defined with
 * designated initialisers: a slot a writer does not fill is NULL (that
 * format cannot show that reply), never another slot's function.
 *
 * Whatever came from the socket is escaped before it is printed, so that
 * a reply cannot drive the terminal: the table and Prometheus writers
 * print ctlfmt_clean() copies, the JSON writer escapes what jansson leaves
 * raw (DEL and C1 controls) as \u00XX.
 */
#ifndef CMEM_CTLFMT_H
#define CMEM_CTLFMT_H

#include <jansson.h>
#include <stdio.h>

struct ctlfmt_writer {
	const char *name;
	int (*members)(FILE *f, json_t *reply);
	int (*status)(FILE *f, json_t *reply);
	int (*stats)(FILE *f, json_t *reply);
	int (*event)(FILE *f, json_t *event);
	int (*keys)(FILE *f, json_t *reply);
	int (*simple)(FILE *f, json_t *reply); /* replies with nothing to show but "ok" */
	/* {"stats": reply, "status": reply, "members": reply}: counters and gauges */
	int (*metrics)(FILE *f, json_t *replies);
};

extern const struct ctlfmt_writer ctlfmt_table;
extern const struct ctlfmt_writer ctlfmt_json;
extern const struct ctlfmt_writer ctlfmt_prometheus;

/*
 * s with its control characters escaped: C0 and DEL as \xNN, C1 (U+0080 to
 * U+009F, ESC's 8-bit twins) as \u00NN, a byte that is not valid UTF-8 as
 * \xNN; valid UTF-8 text is kept.  Into out (truncated at a whole
 * character, always terminated); returns the length written.
 */
size_t ctlfmt_escape(char *out, size_t outlen, const char *s);
/* The same, allocated (free it). */
char *ctlfmt_escape_dup(const char *s);
/* A copy of v with every string and object key escaped (json_decref it). */
json_t *ctlfmt_clean(json_t *v);

#endif
