/*
 * revmap.h — the revision DAG, with Alembic's exact semantics.
 *
 * Revisions are added in load order (version_locations order, then sorted
 * file names); that order is the tie-breaker of every traversal, as in
 * Alembic's RevisionMap. After lm_revmap_build() the map answers queries
 * (heads, bases, identifier resolution) and computes plans: the ordered
 * steps of an upgrade, downgrade or stamp from a set of current heads,
 * each with the version-table changes Alembic's HeadMaintainer would make.
 *
 * Error messages are Alembic's CLI wording (see ../shared/alembic.md §2).
 */
#ifndef LM_REVMAP_H
#define LM_REVMAP_H

#include <stddef.h>

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
	size_t order;      /* load order, 0-based */
} lm_revision;

/* Frees the strings of a revision and zeroes it (lm_script_scan fills one). */
void lm_revision_dispose(lm_revision *r);

typedef struct lm_revmap lm_revmap;

lm_revmap *lm_revmap_new(void);
void lm_revmap_free(lm_revmap *m);
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

/* One change to the version table. */
typedef enum lm_vop_kind { LM_VOP_INSERT, LM_VOP_DELETE, LM_VOP_UPDATE } lm_vop_kind;

typedef struct lm_vop {
	lm_vop_kind kind;
	char *from; /* DELETE, UPDATE: the row that goes */
	char *to;   /* INSERT, UPDATE: the row that comes */
} lm_vop;

typedef struct lm_step {
	int upgrade;            /* 1 up, 0 down */
	int stamp;              /* 1 for a stamp step (no migration code runs) */
	const lm_revision *rev; /* the revision whose code runs; NULL for stamp */
	lm_strv from;           /* for the log line: "Running upgrade a, b -> c, msg" */
	lm_strv to;
	lm_vop *ops; /* version-table changes after the step, in order */
	size_t nops;
	int branch_move; /* stamp steps: creates or deletes a branch row */
} lm_step;

/* The log text of a step, without "Running ": "upgrade a, b -> c, msg",
 * "downgrade c -> a, b", "stamp_revision a -> b". Appends to out. */
void lm_step_describe(const lm_step *s, lm_buf *out);

typedef struct lm_plan {
	lm_step *steps;
	size_t n;
	lm_strv warnings; /* e.g. "downgrade -1 from multiple heads is ambiguous; ..." */
} lm_plan;

void lm_plan_dispose(lm_plan *p);

/* Plans from the current heads (the version table's rows, in table order).
 * The version-table changes are simulated from `current`, so a plan that
 * Alembic would abort half-way is refused before anything runs.
 * *out is always initialised (dispose it); on failure it has no steps but
 * keeps the warnings Alembic would have printed before failing.
 * stamp with purge plans as if the table were empty: the caller deletes
 * every row first, as Alembic's --purge does. */
int lm_revmap_plan_upgrade(const lm_revmap *m, const lm_strv *current, const char *target,
                           lm_plan *out);
int lm_revmap_plan_downgrade(const lm_revmap *m, const lm_strv *current, const char *target,
                             lm_plan *out);
int lm_revmap_plan_stamp(const lm_revmap *m, const lm_strv *current, const lm_strv *targets,
                         int purge, lm_plan *out);

/* Walks revisions for `history`: from upper (default "heads") down to lower
 * (default "base"), newest first, as Alembic's walk_revisions. */
int lm_revmap_walk(const lm_revmap *m, const char *lower, const char *upper, lm_strv *out);

/* Formatting, as Alembic's CLI prints it. Each appends one line (or, verbose,
 * one `show` block) to out, ending in "\n". `current` (may be NULL) marks
 * revisions with "(current)" as history -i and show do. */
/* "rev (label) (head)" for `heads` ("(effective head)" for a head only
 * depended on); verbose gives the `show` block. */
void lm_revmap_format_short(const lm_revmap *m, const lm_revision *r, int verbose, lm_buf *out);
/* "rev (head) (branchpoint)" for `current` (no labels, as Alembic). */
void lm_revmap_format_current(const lm_revmap *m, const lm_revision *r, int verbose, lm_buf *out);
/* "parent -> rev (label) (head) (branchpoint) (mergepoint), message" for `history`. */
void lm_revmap_format_history(const lm_revmap *m, const lm_revision *r, int verbose,
                              const lm_strv *current, lm_buf *out);
/* The `show` block ("Rev: x (head)\nParent: ...\nPath: ...\n\n    doc\n"). */
void lm_revmap_format_show(const lm_revmap *m, const lm_revision *r, const lm_strv *current,
                           lm_buf *out);
/* The whole output of `branches`: per branch point, newest first, the point
 * then one "   -> child" line per child and a blank line. */
int lm_revmap_format_branches(const lm_revmap *m, int verbose, lm_buf *out);

#endif
