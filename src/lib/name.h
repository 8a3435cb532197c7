/*
 * name: the one rule for member names (PROTOCOL.md 2.1), wherever a name
 * is read: a line's sender and `cluster` entries (wire), the `name`
 * option (config), the hosts file of `cmem-keygen provision` (keyfile).
 *
 *	name = ( ALPHA / DIGIT ) 0*63( ALPHA / DIGIT / "." / "-" / "_" )
 *
 * Beginning with a letter or digit, a name is never ".", "..", "-rf" or
 * "--help": it can name a file and reach a hook without being taken for a
 * directory or an option.
 */
#ifndef CMEM_NAME_H
#define CMEM_NAME_H

#include <stddef.h>

#define NAME_LEN_MAX 64
/* The rule in words, for error messages. */
#define NAME_RULE "1 to 64 letters, digits, '.', '-' or '_', beginning with a letter or digit"

/*
 * The length of the name at the start of s (of at most len bytes): the
 * name characters from s on, 0 if there is none, it begins with another
 * character or it is longer than NAME_LEN_MAX.  What follows is the
 * caller's: a line's "] ", an entry's "@".
 */
size_t name_span(const char *s, size_t len);

/* 1 if the whole NUL-terminated s is a name, else 0. */
int name_valid(const char *s);

#endif
