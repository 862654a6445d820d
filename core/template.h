/*
 * template.h — what `luamig revision` needs to make a file: a revision id,
 * a slug, a file name from file_template, a create date, and the
 * ${name} template language of script.lua.tmpl.
 */
#ifndef LM_TEMPLATE_H
#define LM_TEMPLATE_H

#include <time.h>

#include "util.h"

/* 12 random hex digits, as Alembic's uuid4().hex[-12:]. Caller frees. */
char *lm_rev_id(void);

/* Alembic's slug: the \w+ words of message joined by '_', lower-cased,
 * cut at a word boundary past truncate_len (then ending in '_'). */
char *lm_slug(const char *message, int truncate_len);

/* A moment in a time zone, for file names and "Create Date:". */
typedef struct lm_moment {
	struct tm tm;
	long usec;
	long utcoff; /* seconds east of UTC */
	int has_tz;  /* a timezone was configured: print the offset */
	time_t epoch;
} lm_moment;

/* Now, in the named IANA zone (NULL = local time without offset).
 * Fails with "Can't locate timezone: X" for an unknown zone. */
int lm_moment_now(const char *timezone, lm_moment *out);
/* "2026-11-25 21:00:00.123456" (plus "+00:00" with a timezone), as
 * Python's str(datetime). Caller frees. */
char *lm_moment_format(const lm_moment *m);

/* Expands Python %-formatting of file_template with the tokens rev, slug,
 * epoch, year, month, day, hour, minute, second ("%(year)d",
 * "%(month).2d", "%(slug)s"). NULL with the error slot set on an unknown
 * token or a bad format. */
char *lm_file_name(const char *file_template, const char *rev, const char *slug,
                   const lm_moment *m);

/* A name → value list for template rendering. */
typedef struct lm_vars {
	lm_strv names;
	lm_strv values;
} lm_vars;

void lm_vars_set(lm_vars *v, const char *name, const char *value);
const char *lm_vars_get(const lm_vars *v, const char *name);
void lm_vars_dispose(lm_vars *v);

/* Renders text, replacing ${name} by its value and "$$" by "$". An
 * unknown name fails with "<source>:<line>: unknown template variable
 * ${name}". Caller frees. */
char *lm_render(const char *text, const lm_vars *vars, const char *source);

/* A header's Lua literal for a list of strings: nil, "a", or { "a", "b" },
 * each string in the quotes the header scanner reads back (script.c: no
 * escapes; 'a"b' for a double quote). NULL, with "<what> '<value>' cannot
 * be written in a revision header: ..." in the error slot, for a string
 * that holds both quotes, a backslash or a line break. */
char *lm_lua_literal_list(const lm_strv *items, const char *what);
/* Refuses text that would close a Lua long comment or string ("]]",
 * "]==]") when written into one, as script.lua.tmpl writes the message in
 * its header comment: 0, or -1 with "<what> may not contain ']]': ..." in
 * the error slot. */
int lm_lua_comment_check(const char *text, const char *what);
/* A header value as the header scanner reads it back (script.c): in double
 * quotes, or in single quotes when it holds a double one; NULL when it
 * holds both, a backslash or a line break, which only an escape could
 * write. Caller frees. */
char *lm_header_quote(const char *s);
/* A Lua string literal with escapes. */
char *lm_lua_quote(const char *s);

/* The names of the templates `init` knows (the embedded
 * "templates/<name>/..." folders), each once, appended to out. */
void lm_template_names(lm_strv *out);

#endif
