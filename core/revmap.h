/*
 * revmap.h — the revision DAG, with Alembic's exact semantics.
 *
 * Revisions are added in load order (version_locations order, then sorted
 * file names); that order is the tie-breaker of every traversal, as in
 * Alembic's RevisionMap. After lm_revmap_build() the map answers queries
 * (heads, bases, identifier resolution). The stages built on it have their
 * own headers: plan.h (upgrade/downgrade/stamp plans) and listing.h (the
 * history walk and the output of the listing commands).
 *
 * Error messages are Alembic's CLI wording (see ../shared/alembic.md §2).
 */
#ifndef LM_REVMAP_H
#define LM_REVMAP_H

#include <stddef.h>

#include "checksum.h"
#include "util.h"

/* What a revision file declares. All strings owned by the map once added. */
typedef struct lm_revision {
	char *id;
	lm_strv down;      /* down_revision, in declared order (empty = a base) */
	lm_strv labels;    /* branch_labels as declared */
	lm_strv depends;   /* depends_on as declared (ids, prefixes or labels) */
	char *message;     /* first line of the docstring, "" if none */
	char *doc;         /* the whole docstring, "" if none */
	char *path;        /* the file it came from */
	char *create_date; /* "Create Date:" from the docstring, or NULL */
	/* When set, the one block that every string but path points into (id,
	 * the lists' items, message, doc, create_date: the header cache makes a
	 * revision so), freed whole; NULL when each is a string of its own. */
	char *strings;
	size_t order; /* load order, 0-based */
	/* 1 when the header came from the header cache: an earlier run read
	 * this file as it is now (the chunk cache writes entries only for such
	 * files, chunkcache.h) */
	int seen;
	/* the file's checksum in the current scheme (checksum.h) as the script
	 * directory read it, or "" when not known */
	char checksum[LM_CHECKSUM_MAX + 1];
} lm_revision;

/* Frees the strings of a revision and zeroes it (lm_script_scan fills one). */
void lm_revision_dispose(lm_revision *r);

/* The docstring Alembic prints, as a new string the caller frees: longdoc is
 * the docstring stripped of surrounding white space, doc its first
 * paragraph. A revision without a docstring falls back to its message. */
char *lm_revision_longdoc(const lm_revision *r);
char *lm_revision_doc(const lm_revision *r);
/* The same as n bytes of the revision's own text, not copied. */
const char *lm_revision_longdoc_span(const lm_revision *r, size_t *n);
const char *lm_revision_doc_span(const lm_revision *r, size_t *n);

typedef struct lm_revmap lm_revmap;

lm_revmap *lm_revmap_new(void);
void lm_revmap_free(lm_revmap *m);
/* Frees the record of the last resolution error (revmap_internal.h's one
 * static slot; lm_revmap_report reads it). The library calls it after each
 * command, so that nothing stays allocated once luamig.so is unloaded. */
void lm_revmap_clear_error(void);
/* Makes room for n revisions in all (one allocation instead of doubling). */
void lm_revmap_reserve(lm_revmap *m, size_t n);
/* Adds a revision, taking ownership of the strings in *r (r is zeroed). */
void lm_revmap_add(lm_revmap *m, lm_revision *r);
/* Validates (duplicate ids, missing parents, duplicate labels, cycles,
 * illegal characters) and computes edges and label propagation. */
int lm_revmap_build(lm_revmap *m);

size_t lm_revmap_count(const lm_revmap *m);
const lm_revision *lm_revmap_at(const lm_revmap *m, size_t i);        /* load order */
const lm_revision *lm_revmap_get(const lm_revmap *m, const char *id); /* exact id */

/* Lists in map order; the caller disposes of *out. */
void lm_revmap_heads(const lm_revmap *m, lm_strv *out);
void lm_revmap_real_heads(const lm_revmap *m, lm_strv *out);
void lm_revmap_bases(const lm_revmap *m, lm_strv *out);

/* Resolves an identifier (id, prefix, label, head, heads, base, label@x,
 * relative forms) to revision ids. "base" gives an empty list. */
int lm_revmap_resolve(const lm_revmap *m, const char *ident, lm_strv *out);
/* As lm_revmap_resolve (Alembic's get_revisions), but a negative relative
 * walk that ends before the first revision yields the entry "base", and one
 * that walks off the graph a NULL entry, exactly as Alembic answers. For
 * tests and diagnostics; commands use lm_revmap_resolve, which refuses them. */
int lm_revmap_resolve_raw(const lm_revmap *m, const char *ident, lm_strv *out);
/* One revision (Alembic's get_revision): *out is NULL for "base"; several
 * matches fail with the multiple-heads message. */
int lm_revmap_resolve_one(const lm_revmap *m, const char *ident, const lm_revision **out);
/* The revisions `current` shows for these version-table rows: the rows and
 * everything they imply, reduced to branch tips (Alembic's get_all_current),
 * in map order. */
int lm_revmap_current(const lm_revmap *m, const lm_strv *rows, lm_strv *out);
/* The revisions applied where the version table holds these rows: each
 * row (an exact id) and all its ancestors, through depends_on too, in map
 * order, appended to applied; rows that name no revision are appended to
 * unknown. Needs a built map. */
void lm_revmap_applied(const lm_revmap *m, const lm_strv *rows, lm_strv *applied, lm_strv *unknown);
void lm_revmap_branch_points(const lm_revmap *m, lm_strv *out); /* map order */

/* Everything the map derived about one revision (for tests and `show`). */
typedef struct lm_revinfo {
	lm_strv nextrev;         /* children through down_revision, map order */
	lm_strv all_nextrev;     /* children incl. dependents */
	lm_strv branch_labels;   /* after propagation */
	lm_strv down;            /* versioned down revisions */
	lm_strv resolved_deps;   /* depends_on resolved to ids */
	lm_strv normalized_down; /* down + deps not implied by ancestors */
	int is_head, is_real_head, is_base, is_real_base;
	int is_branch_point, is_real_branch_point, is_merge_point;
} lm_revinfo;

int lm_revmap_info(const lm_revmap *m, const char *id, lm_revinfo *out);
void lm_revinfo_dispose(lm_revinfo *info);

/* The longest revision id: the version table's version_num is VARCHAR(32). */
#define LM_REV_ID_MAX 32

/* The one grammar of revision ids, checked at `revision --rev-id`, when
 * revision files load, and before a version-table write: 1 to
 * LM_REV_ID_MAX printable characters, none of Alembic's '@', '-', '+', ':'
 * nor a space, a comma, a quote, a bracket or a path separator, not
 * starting with '.'. Returns 0, or -1 with Alembic's message ("Character(s)
 * '-' not allowed in revision identifier 'a-b'") in the error slot. */
int lm_revmap_check_id(const char *id);

#endif
