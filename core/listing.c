/*
 * listing.c — the listing stage: the history walk (Alembic's
 * ScriptDirectory.walk_revisions) and every output format of the heads,
 * history, show, branches and current commands (Alembic's Script._head_only
 * and Script.log_entry), byte for byte as Alembic prints them.
 *
 * It reads the revision map through revmap_internal.h (targets, ordering,
 * derived edges) and appends text; it prints nothing itself.
 */
#include "listing.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "revmap_internal.h"

/* ---- history walk -------------------------------------------------------- */

/* lm_listing_walk's revisions as map indices, into order (emptied first). */
static int walk(const lm_revmap *m, const char *lower, const char *upper, ivec *order)
{
	order->n = 0;
	if (lm_revmap_not_built(m))
		return -1;
	if (!lower || !*lower)
		lower = "base";
	if (!upper || !*upper)
		upper = "heads";
	cli_ctx c = {.start = lower, .end = upper};
	lm_strv cur_s = {0};
	lm_strv_push(&cur_s, lower);
	ivec targets = {0}, cur = {0};
	word *need = bs_new(m->n), *have = bs_new(m->n);
	char *low = lm_strdup(lower);
	int rc = lm_revmap_parse_upgrade_target(m, &cur_s, upper, 0, &targets);
	for (size_t i = 0; rc == 0 && i < targets.n; i++)
		if (targets.v[i] >= m->n)
			rc = lm_revmap_fail(RE_INTERNAL, NULL,
			                    "Range end %s is beyond the revision graph", upper);
	const char *at = strchr(lower, '@');
	if (rc == 0 && at) {
		/* "branch@..." as the lower bound keeps only that branch's targets. */
		char *branch = lm_strndup(lower, (size_t)(at - lower));
		size_t br;
		rc = lm_revmap_get_revision(m, branch, &br);
		if (rc == 0 && br != REF_NONE && strcmp(rid(m, br), branch) == 0) {
			const lm_strv *l = &m->nodes[br].labels;
			if (l->n != 1) {
				rc = lm_revmap_fail(
				        RE_INTERNAL, NULL,
				        "Revision %s does not have exactly one branch label",
				        branch);
			} else {
				free(branch);
				branch = lm_strdup(l->v[0]);
			}
		}
		if (rc == 0) {
			word *kept = bs_new(m->n);
			size_t w = 0;
			for (size_t i = 0; i < targets.n; i++) {
				size_t t = targets.v[i];
				if (lm_strv_contains(&m->nodes[t].labels, branch) &&
				    !bs_get(kept, t)) {
					bs_set(kept, t);
					targets.v[w++] = t;
				}
			}
			targets.n = w;
			free(kept);
		}
		free(branch);
	}
	if (rc == 0)
		rc = lm_revmap_reach_checked(m, &targets, ANC_DEPS, need);
	if (rc == 0)
		rc = lm_revmap_get_revisions(m, lower, &cur);
	for (size_t i = 0; rc == 0 && i < cur.n; i++)
		if (cur.v[i] != REF_NONE && (cur.v[i] >= m->n || !bs_get(need, cur.v[i])))
			rc = lm_revmap_fail(RE_RANGE, NULL,
			                    "Revision %s is not an ancestor of revision %s", lower,
			                    upper);
	if (rc == 0 && cur.n && cur.v[0] == REF_NONE) {
		/* A relative lower bound that walked off: Alembic parses it again
		 * as a downgrade target from the upper bound. */
		lm_strv up = {0};
		char *lab = NULL;
		size_t r = REF_NONE;
		lm_strv_push(&up, upper);
		rc = lm_revmap_parse_downgrade_target(m, &up, lower, 0, &lab, &r, NULL);
		free(lab);
		lm_strv_dispose(&up);
		cur.n = 0;
		free(low);
		low = NULL;
		if (rc == 0 && r == REF_NONE)
			rc = lm_revmap_fail(RE_INTERNAL, NULL,
			                    "Range start %s is beyond the revision graph", lower);
		if (rc == 0 && r != REF_BASE) {
			iv_push(&cur, r);
			low = lm_strdup(rid(m, r));
		}
	}
	for (size_t i = 0; rc == 0 && i < cur.n; i++)
		if (cur.v[i] >= m->n)
			rc = lm_revmap_fail(RE_INTERNAL, NULL,
			                    "Range start %s is beyond the revision graph", lower);
	if (rc == 0)
		rc = lm_revmap_reach_checked(m, &cur, ANC_DEPS, have);
	if (rc == 0) {
		for (size_t w = 0; w < (m->n + 63) / 64 + 1; w++)
			need[w] &= ~have[w];
		ivec incl = {0};
		if (low)
			rc = lm_revmap_get_revisions(m, low, &incl);
		for (size_t i = 0; rc == 0 && i < incl.n; i++) {
			if (incl.v[i] >= m->n)
				rc = lm_revmap_fail(RE_INTERNAL, NULL,
				                    "Range start %s is not a revision", lower);
			else
				bs_set(need, incl.v[i]);
		}
		iv_free(&incl);
	}
	if (rc == 0 && cur.n) {
		word *desc = bs_new(m->n);
		rc = lm_revmap_reach_checked(m, &cur, DESC_NODEPS, desc);
		for (size_t w = 0; w < (m->n + 63) / 64 + 1; w++)
			need[w] &= desc[w];
		free(desc);
	}
	if (rc == 0)
		rc = lm_revmap_topo_sort(m, need, &targets, order);
	lm_strv_dispose(&cur_s);
	iv_free(&targets);
	iv_free(&cur);
	free(need);
	free(have);
	free(low);
	return rc < 0 ? lm_revmap_report(&c) : 0;
}

int lm_listing_walk(const lm_revmap *m, const char *lower, const char *upper, lm_strv *out)
{
	ivec order = {0};
	int rc = walk(m, lower, upper, &order);
	if (rc == 0)
		ids_out(m, &order, out);
	iv_free(&order);
	return rc;
}

/* ---- formatting ------------------------------------------------------------ */

static void put_list(lm_buf *out, const lm_strv *v)
{
	for (size_t i = 0; i < v->n; i++) {
		if (i)
			lm_buf_puts(out, ", ");
		lm_buf_puts(out, v->v[i]);
	}
}

static void put_ids(const lm_revmap *m, lm_buf *out, const ivec *v)
{
	for (size_t i = 0; i < v->n; i++) {
		if (i)
			lm_buf_puts(out, ", ");
		lm_buf_puts(out, rid(m, v->v[i]));
	}
}

static void put_down(const lm_revmap *m, lm_buf *out, size_t i)
{
	if (!m->nodes[i].down.n)
		lm_buf_puts(out, "<base>");
	else
		put_ids(m, out, &m->nodes[i].down);
}

/* Alembic's Script._head_only. */
static void head_only(const lm_revmap *m, size_t i, int branches, int doc, int parents, int tree,
                      int current, lm_buf *out)
{
	const lm_revision *r = &m->revs[i];
	const node *d = &m->nodes[i];
	if (parents) {
		put_down(m, out, i);
		if (r->depends.n) {
			lm_buf_puts(out, " (");
			put_list(out, &r->depends);
			lm_buf_putc(out, ')');
		}
		lm_buf_puts(out, " -> ");
	}
	lm_buf_puts(out, r->id);
	if (branches && d->labels.n) {
		lm_buf_puts(out, " (");
		put_list(out, &d->labels);
		lm_buf_putc(out, ')');
	}
	if (!d->allnext.n)
		lm_buf_puts(out, " (head)");
	else if (!d->next.n)
		lm_buf_puts(out, " (effective head)");
	if (current)
		lm_buf_puts(out, " (current)");
	if (tree) {
		if (d->next.n > 1)
			lm_buf_puts(out, " (branchpoint)");
		if (d->down.n > 1)
			lm_buf_puts(out, " (mergepoint)");
	}
	if (doc) {
		size_t n;
		const char *s = lm_revision_doc_span(r, &n);
		lm_buf_puts(out, ", ");
		lm_buf_put(out, s, n);
	}
}

/* Alembic's Script.log_entry (ends in a newline; print adds another). */
static void log_entry(const lm_revmap *m, size_t i, int current, lm_buf *out)
{
	const lm_revision *r = &m->revs[i];
	const node *d = &m->nodes[i];
	lm_buf_printf(out, "Rev: %s%s%s%s%s\n", r->id, d->next.n ? "" : " (head)",
	              d->next.n > 1 ? " (branchpoint)" : "", d->down.n > 1 ? " (mergepoint)" : "",
	              current ? " (current)" : "");
	lm_buf_puts(out, d->down.n > 1 ? "Merges: " : "Parent: ");
	put_down(m, out, i);
	lm_buf_putc(out, '\n');
	if (r->depends.n) {
		lm_buf_puts(out, "Also depends on: ");
		put_list(out, &r->depends);
		lm_buf_putc(out, '\n');
	}
	if (d->next.n > 1) {
		lm_buf_puts(out, "Branches into: ");
		put_ids(m, out, &d->next);
		lm_buf_putc(out, '\n');
	}
	if (d->labels.n) {
		lm_buf_puts(out, "Branch names: ");
		put_list(out, &d->labels);
		lm_buf_putc(out, '\n');
	}
	lm_buf_printf(out, "Path: %s\n\n", r->path ? r->path : "");
	char *l = lm_revision_longdoc(r);
	const char *p = l;
	int first = 1;
	while (*p) {
		size_t n = strcspn(p, "\r\n");
		lm_buf_printf(out, "%s    %.*s", first ? "" : "\n", (int)n, p);
		first = 0;
		p += n;
		if (*p == '\r' && p[1] == '\n')
			p += 2;
		else if (*p)
			p++;
	}
	free(l);
	lm_buf_putc(out, '\n');
}

static size_t index_of(const lm_revmap *m, const lm_revision *r)
{
	return (size_t)(r - m->revs);
}

void lm_listing_format_short(const lm_revmap *m, const lm_revision *r, int verbose, lm_buf *out)
{
	if (verbose) {
		log_entry(m, index_of(m, r), 0, out);
		lm_buf_putc(out, '\n');
		return;
	}
	head_only(m, index_of(m, r), 1, 0, 0, 0, 0, out);
	lm_buf_putc(out, '\n');
}

void lm_listing_format_current(const lm_revmap *m, const lm_revision *r, int verbose, lm_buf *out)
{
	if (verbose) {
		log_entry(m, index_of(m, r), 0, out);
		lm_buf_putc(out, '\n');
		return;
	}
	head_only(m, index_of(m, r), 0, 0, 0, 1, 0, out);
	lm_buf_putc(out, '\n');
}

/* "parent -> rev (label) (head) (branchpoint) (mergepoint), message", or
 * verbose the `show` block, with its "\n". */
static void history_line(const lm_revmap *m, size_t i, int verbose, const lm_strv *current,
                         lm_buf *out)
{
	int cur = current && lm_strv_contains(current, rid(m, i));
	if (verbose)
		log_entry(m, i, cur, out);
	else
		head_only(m, i, 1, 1, 1, 1, cur, out);
	lm_buf_putc(out, '\n');
}

int lm_listing_history(const lm_revmap *m, const char *lower, const char *upper, int verbose,
                       const lm_strv *current, lm_buf *out)
{
	ivec order = {0};
	int rc = walk(m, lower, upper, &order);
	for (size_t k = 0; rc == 0 && k < order.n; k++)
		history_line(m, order.v[k], verbose, current, out);
	iv_free(&order);
	return rc;
}

void lm_listing_format_show(const lm_revmap *m, const lm_revision *r, const lm_strv *current,
                            lm_buf *out)
{
	log_entry(m, index_of(m, r), current && lm_strv_contains(current, r->id), out);
	lm_buf_putc(out, '\n');
}

int lm_listing_format_branches(const lm_revmap *m, int verbose, lm_buf *out)
{
	ivec order = {0};
	if (walk(m, "base", "heads", &order) < 0) {
		iv_free(&order);
		return -1;
	}
	for (size_t k = 0; k < order.n; k++) {
		size_t i = order.v[k];
		const node *d = &m->nodes[i];
		if (d->next.n < 2)
			continue;
		if (verbose)
			log_entry(m, i, 0, out);
		else
			head_only(m, i, 1, 0, 0, 1, 0, out);
		for (size_t c = 0; c < d->next.n; c++) {
			lm_buf_putc(out, '\n');
			for (size_t s = strlen(rid(m, i)); s; s--)
				lm_buf_putc(out, ' ');
			lm_buf_puts(out, " -> ");
			head_only(m, d->next.v[c], 1, verbose, 0, 1, 0, out);
		}
		lm_buf_puts(out, "\n\n");
	}
	iv_free(&order);
	return 0;
}

/* ---- JSON ------------------------------------------------------------------ */

static void json_ids(const lm_revmap *m, lm_buf *out, const ivec *v)
{
	lm_buf_putc(out, '[');
	for (size_t i = 0; i < v->n; i++) {
		if (i)
			lm_buf_puts(out, ", ");
		lm_json_string(out, rid(m, v->v[i]));
	}
	lm_buf_putc(out, ']');
}

void lm_listing_json_revision(const lm_revmap *m, const lm_revision *r, const lm_strv *current,
                              lm_buf *out)
{
	const node *d = &m->nodes[index_of(m, r)];
	lm_buf_puts(out, "{\"revision\": ");
	lm_json_string(out, r->id);
	lm_buf_puts(out, ", \"down_revisions\": ");
	json_ids(m, out, &d->down);
	lm_buf_puts(out, ", \"depends_on\": ");
	lm_json_strv(out, &r->depends);
	lm_buf_puts(out, ", \"branch_labels\": ");
	lm_json_strv(out, &d->labels);
	lm_buf_puts(out, ", \"next\": ");
	json_ids(m, out, &d->next);
	lm_buf_printf(out, ", \"is_head\": %s, \"is_branch_point\": %s, \"is_merge_point\": %s",
	              d->next.n ? "false" : "true", d->next.n > 1 ? "true" : "false",
	              d->down.n > 1 ? "true" : "false");
	lm_buf_puts(out, ", \"message\": ");
	lm_json_string(out, r->message ? r->message : "");
	char *l = lm_revision_longdoc(r);
	lm_buf_puts(out, ", \"doc\": ");
	lm_json_string(out, l);
	free(l);
	lm_buf_puts(out, ", \"path\": ");
	lm_json_string(out, r->path);
	lm_buf_puts(out, ", \"create_date\": ");
	lm_json_string(out, r->create_date);
	lm_buf_puts(out, ", \"current\": ");
	lm_buf_puts(out, !current ? "null" : lm_strv_contains(current, r->id) ? "true" : "false");
	lm_buf_putc(out, '}');
}

int lm_listing_json_branches(const lm_revmap *m, lm_buf *out)
{
	ivec order = {0};
	if (walk(m, "base", "heads", &order) < 0) {
		iv_free(&order);
		return -1;
	}
	int first = 1;
	for (size_t k = 0; k < order.n; k++) {
		const lm_revision *r = &m->revs[order.v[k]];
		if (m->nodes[order.v[k]].next.n < 2)
			continue;
		if (!first)
			lm_buf_puts(out, ", ");
		first = 0;
		lm_listing_json_revision(m, r, NULL, out);
	}
	iv_free(&order);
	return 0;
}
