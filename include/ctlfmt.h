/*
 * ctlfmt: cmemctl's writers.  One data model (the daemon's JSON replies),
 * several writers: a table for people, JSON for programs, and the
 * Prometheus text format for `stats`.  Each returns 0, or -1 if the reply
 * lacks what it needs.
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
};

extern const struct ctlfmt_writer ctlfmt_table;
extern const struct ctlfmt_writer ctlfmt_json;
extern const struct ctlfmt_writer ctlfmt_prometheus;

#endif
