/*
 * listing.h — the listing stage: the history walk and what the heads,
 * history, show, branches and current commands print, line for line as
 * Alembic's CLI prints it.
 *
 * Input is a built revision map (revmap.h) and revisions from it; output is
 * text appended to a caller's lm_buf, or the ids of a walk appended to a
 * caller's lm_strv. Nothing here writes to stdout or touches a database.
 *
 * Error messages are Alembic's CLI wording (see ../shared/alembic.md §2).
 */
#ifndef LM_LISTING_H
#define LM_LISTING_H

#include "revmap.h"
#include "util.h"

/* Walks revisions for `history`: from upper (default "heads") down to lower
 * (default "base"), newest first, as Alembic's walk_revisions. Appends the
 * ids to out (the caller disposes of it). Returns 0, or -1 with the error
 * set (lm_error_get). */
int lm_listing_walk(const lm_revmap *m, const char *lower, const char *upper, lm_strv *out);

/* Formatting, as Alembic's CLI prints it. Each appends one line (or, verbose,
 * one `show` block) to out, ending in "\n". r must belong to m. `current`
 * (may be NULL) marks revisions with "(current)" as history -i and show do. */
/* "rev (label) (head)" for `heads` ("(effective head)" for a head only
 * depended on); verbose gives the `show` block. */
void lm_listing_format_short(const lm_revmap *m, const lm_revision *r, int verbose, lm_buf *out);
/* "rev (head) (branchpoint)" for `current` (no labels, as Alembic). */
void lm_listing_format_current(const lm_revmap *m, const lm_revision *r, int verbose, lm_buf *out);
/* `history`: the walk from lower to upper (lm_listing_walk), a line for each
 * revision, "parent -> rev (label) (head) (branchpoint) (mergepoint),
 * message" (verbose: its `show` block). Returns 0, or -1 with the error set. */
int lm_listing_history(const lm_revmap *m, const char *lower, const char *upper, int verbose,
                       const lm_strv *current, lm_buf *out);
/* The `show` block ("Rev: x (head)\nParent: ...\nPath: ...\n\n    doc\n"). */
void lm_listing_format_show(const lm_revmap *m, const lm_revision *r, const lm_strv *current,
                            lm_buf *out);
/* The whole output of `branches`: per branch point, newest first, the point
 * then one "   -> child" line per child and a blank line. Returns 0, or -1
 * with the error set. */
int lm_listing_format_branches(const lm_revmap *m, int verbose, lm_buf *out);

/* One revision as the JSON object of --json output (README, "Machine-readable
 * output"): revision, down_revisions, depends_on, branch_labels, next,
 * is_head, is_branch_point, is_merge_point, message, doc, path, create_date,
 * current (null when current is NULL: the database was not asked). */
void lm_listing_json_revision(const lm_revmap *m, const lm_revision *r, const lm_strv *current,
                              lm_buf *out);
/* The branch points, newest first, as JSON objects separated by ", " (the
 * revisions `branches` lists). Returns 0, or -1 with the error set. */
int lm_listing_json_branches(const lm_revmap *m, lm_buf *out);

#endif
