/*
 * textlines: a line reader over the key formats' text (certificates,
 * revocation lists, bundles).  Lines end in LF or CRLF; the reader counts
 * them for messages and knows whether the last line read had no line end
 * (the text may have been cut short).
 */
#ifndef CMEM_TEXTLINES_H
#define CMEM_TEXTLINES_H

#include <stddef.h>

struct textlines {
	const char *name, *p, *end; /* name: the file, for messages */
	unsigned lineno;
	int cut; /* the last line read has no line end: the text may be cut short */
	char *err;
	size_t errlen;
};

/* The next line without its line end in *line; -1 at the end of the text. */
int textlines_next(struct textlines *t, const char **line, size_t *llen);

/*
 * A value on the last line read that does not parse: "truncated: line N
 * (LABEL) is cut short" if t->cut, else "line N: the LABEL is not SHOULD",
 * into t->err.  Returns -1.
 */
int textlines_bad_value(struct textlines *t, const char *label, const char *should);

#endif
