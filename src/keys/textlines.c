/* textlines: a line reader over the key formats' text (see textlines.h). */
#include "textlines.h"

#include <string.h>

#include "util.h"

int textlines_next(struct textlines *t, const char **line, size_t *llen)
{
	const char *nl;

	if (t->p == t->end)
		return -1;
	nl = memchr(t->p, '\n', (size_t)(t->end - t->p));
	*line = t->p;
	*llen = nl ? (size_t)(nl - t->p) : (size_t)(t->end - t->p);
	t->p = nl ? nl + 1 : t->end;
	t->cut = nl == NULL;
	t->lineno++;
	if (*llen > 0 && (*line)[*llen - 1] == '\r')
		(*llen)--;
	return 0;
}

int textlines_bad_value(struct textlines *t, const char *label, const char *should)
{
	if (t->cut)
		seterr(t->err, t->errlen, "%s: truncated: line %u (%s) is cut short", t->name,
		       t->lineno, label);
	else
		seterr(t->err, t->errlen, "%s: line %u: the %s is not %s", t->name, t->lineno, label,
		       should);
	return -1;
}
