/*
 * ctlfmt: cmemctl's writers.  One data model (the daemon's JSON replies),
 * several writers: a table for people, JSON for programs, and the
 * Prometheus text format for `stats --prometheus`.  Each function returns
 * 0, or -1 if the reply lacks what it needs.  The writers are defined with
 * designated initialisers: a slot a writer does not fill is NULL (that
 * format cannot show that reply), never another slot's function.
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

#endif
