/*
 * plan.c — the planner stage: upgrade, downgrade and stamp plans (Alembic's
 * ScriptDirectory._upgrade_revs/_downgrade_revs/_stamp_revs) and the
 * version-table changes of each step (Alembic's HeadMaintainer, RevisionStep
 * and StampStep), simulated from the current rows while planning.
 *
 * Which revisions a target names and in what order they run come from the
 * revision map (revmap_internal.h); this file turns them into steps.
 */
#include "plan.h"

#include <stdlib.h>
#include <string.h>

#include "revmap_internal.h"

/* ---- version table bookkeeping (Alembic's HeadMaintainer) ---------------- */

typedef struct sim {
	const lm_revmap *m;
	word *in;      /* the rows, as revisions */
	ivec rows;     /* the same, as a list (order irrelevant) */
	lm_step *step; /* where ops are recorded */
	lm_buf what;   /* the step, for messages */
	/* Ancestors of a set of "other rows" (other_ancestors' cache). */
	ivec oa_key;
	word *oa_bits;
	int oa_valid;
} sim;

static void step_op(lm_step *st, lm_vop_kind kind, const char *from, const char *to)
{
	st->ops = lm_realloc(st->ops, (st->nops + 1) * sizeof *st->ops);
	lm_vop *op = &st->ops[st->nops++];
	op->kind = kind;
	op->from = from ? lm_strdup(from) : NULL;
	op->to = to ? lm_strdup(to) : NULL;
}

static void rows_remove(sim *s, size_t v)
{
	bs_clr(s->in, v);
	for (size_t i = 0; i < s->rows.n; i++) {
		if (s->rows.v[i] == v) {
			s->rows.v[i] = s->rows.v[--s->rows.n];
			break;
		}
	}
}

static void rows_add(sim *s, size_t v)
{
	bs_set(s->in, v);
	iv_push(&s->rows, v);
}

/* Where Alembic's bookkeeping would crash (an assertion, a KeyError) or the
 * database would refuse the statement, luamig refuses the whole plan. */
static int sim_insert(sim *s, size_t v)
{
	step_op(s->step, LM_VOP_INSERT, NULL, rid(s->m, v));
	if (bs_get(s->in, v))
		return lm_revmap_fail(
		        RE_INTERNAL, NULL,
		        "Can't run %s: revision %s would be inserted into the version table "
		        "twice",
		        lm_buf_str(&s->what), rid(s->m, v));
	rows_add(s, v);
	return 0;
}

static int sim_delete(sim *s, size_t v)
{
	step_op(s->step, LM_VOP_DELETE, rid(s->m, v), NULL);
	if (!bs_get(s->in, v))
		return lm_revmap_fail(
		        RE_INTERNAL, NULL,
		        "Can't run %s: revision %s would be deleted from the version table "
		        "but is not in it",
		        lm_buf_str(&s->what), rid(s->m, v));
	rows_remove(s, v);
	return 0;
}

static int sim_update(sim *s, size_t from, size_t to)
{
	step_op(s->step, LM_VOP_UPDATE, rid(s->m, from), rid(s->m, to));
	if (bs_get(s->in, to))
		return lm_revmap_fail(RE_INTERNAL, NULL,
		                      "Can't run %s: revision %s is already in the version table",
		                      lm_buf_str(&s->what), rid(s->m, to));
	if (!bs_get(s->in, from))
		return lm_revmap_fail(
		        RE_INTERNAL, NULL,
		        "Can't run %s: revision %s would be updated in the version table but "
		        "is not in it",
		        lm_buf_str(&s->what), rid(s->m, from));
	rows_remove(s, from);
	rows_add(s, to);
	return 0;
}

/* Ancestors (with dependencies, inclusive) of the rows other than `excl`;
 * NULL when there are none. Cached for the plan: while one branch is walked
 * the other rows stay the same, so a long plan pays for this once. */
static const word *other_ancestors(sim *s, const ivec *excl)
{
	const lm_revmap *m = s->m;
	ivec other = {0};
	for (size_t i = 0; i < s->rows.n; i++)
		if (!iv_has(excl, s->rows.v[i]))
			iv_push(&other, s->rows.v[i]);
	if (!other.n) {
		iv_free(&other);
		return NULL;
	}
	iv_sort(&other);
	if (s->oa_valid && s->oa_key.n == other.n &&
	    memcmp(s->oa_key.v, other.v, other.n * sizeof *other.v) == 0) {
		iv_free(&other);
		return s->oa_bits;
	}
	if (!s->oa_bits)
		s->oa_bits = bs_new(m->n);
	else
		bs_zero(s->oa_bits, m->n);
	lm_revmap_reach(m, other.v, other.n, ANC_DEPS, s->oa_bits, NULL);
	iv_free(&s->oa_key);
	s->oa_key = other;
	s->oa_valid = 1;
	return s->oa_bits;
}

/* Version-table changes of a migration step (RevisionStep). */
static int sim_revision(sim *s, size_t r, int upgrade)
{
	const ivec *dn = &s->m->nodes[r].ndown;
	if (upgrade) {
		size_t present = 0;
		for (size_t i = 0; i < dn->n; i++)
			present += (size_t)bs_get(s->in, dn->v[i]);
		if (!present)
			return sim_insert(s, r); /* a base, or a new branch */
		if (dn->n > 1 && present > 1) {
			/* A merge: one row is updated, the others deleted,
			 * leaving alone parents that other rows still imply. */
			const word *anc = other_ancestors(s, dn);
			ivec from = {0};
			for (size_t i = 0; i < dn->n; i++)
				if (!anc || !bs_get(anc, dn->v[i]))
					iv_push(&from, dn->v[i]);
			int rc = 0;
			if (!from.n)
				rc = lm_revmap_fail(RE_INTERNAL, NULL,
				                    "Can't run %s: no row to merge",
				                    lm_buf_str(&s->what));
			for (size_t i = 0; rc == 0 && i + 1 < from.n; i++)
				rc = sim_delete(s, from.v[i]);
			if (rc == 0)
				rc = sim_update(s, from.v[from.n - 1], r);
			iv_free(&from);
			return rc;
		}
	} else {
		if (bs_get(s->in, r)) {
			ivec self = {0};
			iv_push(&self, r);
			const word *anc = other_ancestors(s, &self);
			iv_free(&self);
			ivec to = {0};
			for (size_t i = 0; i < dn->n; i++)
				if (!anc || !bs_get(anc, dn->v[i]))
					iv_push(&to, dn->v[i]);
			int rc = 0;
			if (!to.n) {
				rc = sim_delete(s, r); /* a base, or parents still implied */
			} else if (dn->n > 1) {
				/* An unmerge: parents come back as rows. */
				for (size_t i = 0; rc == 0 && i + 1 < to.n; i++)
					rc = sim_insert(s, to.v[i]);
				if (rc == 0)
					rc = sim_update(s, r, to.v[to.n - 1]);
			} else {
				rc = sim_update(s, r, dn->v[0]);
			}
			iv_free(&to);
			return rc;
		}
	}
	/* A plain UPDATE from the one parent that is a row. */
	size_t down = REF_NONE;
	if (dn->n == 1) {
		down = dn->v[0];
	} else {
		size_t cnt = 0;
		for (size_t i = 0; i < dn->n; i++)
			if (bs_get(s->in, dn->v[i])) {
				down = dn->v[i];
				cnt++;
			}
		if (cnt != 1)
			return lm_revmap_fail(
			        RE_INTERNAL, NULL,
			        "Can't run %s: can't do an UPDATE because downrevision is "
			        "ambiguous",
			        lm_buf_str(&s->what));
	}
	return upgrade ? sim_update(s, down, r) : sim_update(s, r, down);
}

/* Version-table changes of a stamp step (StampStep). */
static int sim_stamp(sim *s, const ivec *from, const ivec *to, int upgrade, int branch_move)
{
	if (!upgrade && branch_move) {
		if (from->n != 1)
			return lm_revmap_fail(RE_INTERNAL, NULL, "Can't run %s",
			                      lm_buf_str(&s->what));
		return sim_delete(s, from->v[0]);
	}
	int from_missing = 0, to_missing = 0;
	for (size_t i = 0; i < from->n; i++)
		from_missing |= !bs_get(s->in, from->v[i]);
	for (size_t i = 0; i < to->n; i++)
		to_missing |= !bs_get(s->in, to->v[i]);
	if (upgrade && (branch_move || from_missing) && to_missing) {
		if (to->n != 1)
			return lm_revmap_fail(RE_INTERNAL, NULL, "Can't run %s",
			                      lm_buf_str(&s->what));
		return sim_insert(s, to->v[0]);
	}
	if (from->n > 1) {
		int rc = 0;
		for (size_t i = 0; rc == 0 && i + 1 < from->n; i++)
			rc = sim_delete(s, from->v[i]);
		if (rc == 0 && !to->n)
			rc = lm_revmap_fail(RE_INTERNAL, NULL, "Can't run %s",
			                    lm_buf_str(&s->what));
		if (rc == 0)
			rc = sim_update(s, from->v[from->n - 1], to->v[0]);
		return rc;
	}
	if (from->n != 1 || to->n != 1)
		return lm_revmap_fail(RE_INTERNAL, NULL, "Can't run %s", lm_buf_str(&s->what));
	return sim_update(s, from->v[0], to->v[0]);
}

/* ---- plans ---------------------------------------------------------------- */

void lm_plan_dispose(lm_plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		lm_step *st = &p->steps[i];
		lm_strv_dispose(&st->from);
		lm_strv_dispose(&st->to);
		for (size_t k = 0; k < st->nops; k++) {
			free(st->ops[k].from);
			free(st->ops[k].to);
		}
		free(st->ops);
	}
	free(p->steps);
	p->steps = NULL;
	p->n = 0;
	lm_strv_dispose(&p->warnings);
}

static lm_step *plan_step(lm_plan *p)
{
	/* The capacity is implied (the power of two at or above n), as
	 * lm_plan has no field for it; growing by one would be quadratic. */
	if ((p->n & (p->n - 1)) == 0)
		p->steps = lm_realloc(p->steps, (p->n ? 2 * p->n : 1) * sizeof *p->steps);
	lm_step *st = &p->steps[p->n++];
	memset(st, 0, sizeof *st);
	return st;
}

void lm_step_describe(const lm_step *s, lm_buf *out)
{
	lm_buf_puts(out, s->stamp ? "stamp_revision" : s->upgrade ? "upgrade" : "downgrade");
	lm_buf_putc(out, ' ');
	for (size_t i = 0; i < s->from.n; i++)
		lm_buf_printf(out, "%s%s", i ? ", " : "", s->from.v[i]);
	lm_buf_puts(out, " -> ");
	for (size_t i = 0; i < s->to.n; i++)
		lm_buf_printf(out, "%s%s", i ? ", " : "", s->to.v[i]);
	if (s->rev) {
		char *doc = lm_revision_doc(s->rev);
		if (*doc)
			lm_buf_printf(out, ", %s", doc);
		free(doc);
	}
}

static void sim_init(sim *s, const lm_revmap *m, const ivec *rows)
{
	memset(s, 0, sizeof *s);
	s->m = m;
	s->in = bs_new(m->n);
	for (size_t i = 0; i < rows->n; i++)
		if (rows->v[i] < m->n && !bs_get(s->in, rows->v[i]))
			rows_add(s, rows->v[i]);
}

static void sim_dispose(sim *s)
{
	free(s->in);
	iv_free(&s->rows);
	lm_buf_dispose(&s->what);
	iv_free(&s->oa_key);
	free(s->oa_bits);
}

/* Turns an ordered list of revisions into migration steps, simulating the
 * version table from `rows`. */
static int plan_revisions(const lm_revmap *m, const ivec *order, int upgrade, const ivec *rows,
                          lm_plan *out)
{
	sim s;
	sim_init(&s, m, rows);
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < order->n; i++) {
		size_t r = order->v[upgrade ? order->n - 1 - i : i];
		lm_step *st = plan_step(out);
		st->upgrade = upgrade;
		st->rev = &m->revs[r];
		const ivec *dn = &m->nodes[r].down;
		lm_strv *down_side = upgrade ? &st->from : &st->to;
		ids_out(m, dn, down_side);
		lm_strv_push(upgrade ? &st->to : &st->from, rid(m, r));
		s.what.len = 0;
		lm_step_describe(st, &s.what);
		s.step = st;
		rc = sim_revision(&s, r, upgrade);
	}
	sim_dispose(&s);
	return rc;
}

static int rows_resolve(const lm_revmap *m, const lm_strv *rows, ivec *out)
{
	for (size_t i = 0; i < rows->n; i++)
		if (lm_revmap_get_revisions(m, rows->v[i], out) < 0)
			return -1;
	for (size_t i = 0; i < out->n; i++)
		if (out->v[i] >= m->n)
			return lm_revmap_fail(RE_INTERNAL, NULL,
			                      "Version table row '%s' is not a revision",
			                      rows->v[0]);
	return 0;
}

static void plan_fail(lm_plan *out)
{
	lm_strv w = out->warnings;
	out->warnings = (lm_strv){0};
	lm_plan_dispose(out);
	out->warnings = w;
}

int lm_plan_upgrade(const lm_revmap *m, const lm_strv *current, const char *target, lm_plan *out)
{
	memset(out, 0, sizeof *out);
	if (lm_revmap_not_built(m))
		return -1;
	cli_ctx c = {.ancestor = "upgrade", .end = target};
	ivec targets = {0}, cur = {0}, order = {0};
	word *need = bs_new(m->n), *have = bs_new(m->n);
	int rc = lm_revmap_parse_upgrade_target(m, current, target, 1, &targets);
	for (size_t i = 0; rc == 0 && i < targets.n; i++)
		if (targets.v[i] >= m->n)
			rc = lm_revmap_fail(
			        RE_INTERNAL, NULL,
			        "Destination %s is beyond the ends of the revision graph", target);
	if (rc == 0)
		rc = lm_revmap_reach_checked(m, &targets, ANC_DEPS, need);
	if (rc == 0)
		rc = rows_resolve(m, current, &cur);
	if (rc == 0)
		rc = lm_revmap_reach_checked(m, &cur, ANC_DEPS, have);
	if (rc == 0) {
		for (size_t w = 0; w < (m->n + 63) / 64 + 1; w++)
			need[w] &= ~have[w];
		rc = lm_revmap_topo_sort(m, need, &targets, &order);
	}
	if (rc == 0)
		rc = plan_revisions(m, &order, 1, &cur, out);
	iv_free(&targets);
	iv_free(&cur);
	iv_free(&order);
	free(need);
	free(have);
	if (rc < 0) {
		plan_fail(out);
		return lm_revmap_report(&c);
	}
	return 0;
}

int lm_plan_downgrade(const lm_revmap *m, const lm_strv *current, const char *target, lm_plan *out)
{
	memset(out, 0, sizeof *out);
	if (lm_revmap_not_built(m))
		return -1;
	cli_ctx c = {.ancestor = "downgrade", .end = target};
	char *label = NULL;
	size_t trev = REF_NONE;
	ivec roots = {0}, heads = {0}, order = {0};
	word *drop = bs_new(m->n), *active = bs_new(m->n);
	int rc = lm_revmap_parse_downgrade_target(m, current, target, 1, &label, &trev,
	                                          &out->warnings);
	if (rc == 0) {
		size_t nroots;
		if (trev >= m->n) {
			trev = REF_NONE;
			for (size_t i = 0; i < m->bases.n; i++)
				iv_push(&roots, m->bases.v[i]);
			nroots = m->base_values; /* Alembic counts label keys too */
		} else {
			const ivec *nx = &m->nodes[trev].next;
			for (size_t i = 0; i < nx->n; i++)
				iv_push(&roots, nx->v[i]);
			nroots = roots.n;
		}
		if (label && nroots > 1) {
			size_t b;
			rc = lm_revmap_resolve_branch(m, label, &b);
			if (rc == 0) {
				word *anc = bs_new(m->n);
				lm_revmap_reach(m, &b, 1, ANC_NODEPS, anc, NULL);
				size_t w = 0;
				for (size_t i = 0; i < roots.n; i++)
					if (bs_get(anc, roots.v[i]))
						roots.v[w++] = roots.v[i];
				roots.n = w;
				free(anc);
				if (!roots.n)
					rc = lm_revmap_fail(
					        RE_REVISION, NULL,
					        "Not a valid downgrade target from current heads");
			}
		}
	}
	if (rc == 0)
		rc = rows_resolve(m, current, &heads);
	if (rc == 0) {
		lm_revmap_reach(m, roots.v, roots.n, DESC_DEPS, drop, NULL);
		lm_revmap_reach(m, heads.v, heads.n, ANC_DEPS, active, NULL);
		int any = 0;
		for (size_t w = 0; w < (m->n + 63) / 64 + 1; w++) {
			drop[w] &= active[w];
			any |= drop[w] != 0;
		}
		if (trev != REF_NONE && !any && !iv_has(&heads, trev))
			rc = lm_revmap_fail(RE_RANGE, NULL, "Nothing to drop");
	}
	if (rc == 0)
		rc = lm_revmap_topo_sort(m, drop, &heads, &order);
	if (rc == 0)
		rc = plan_revisions(m, &order, 0, &heads, out);
	free(label);
	iv_free(&roots);
	iv_free(&heads);
	iv_free(&order);
	free(drop);
	free(active);
	if (rc < 0) {
		plan_fail(out);
		return lm_revmap_report(&c);
	}
	return 0;
}

int lm_plan_stamp(const lm_revmap *m, const lm_strv *current, const lm_strv *targets, int purge,
                  lm_plan *out)
{
	memset(out, 0, sizeof *out);
	if (lm_revmap_not_built(m))
		return -1;
	cli_ctx c = {.multiple_heads = "Multiple heads are present; please specify a single target "
	                               "revision"};
	static const lm_strv no_rows;
	const lm_strv *rows = purge ? &no_rows : current;
	lm_strv base_only = {0};
	if (!targets || !targets->n) {
		lm_strv_push(&base_only, "base");
		targets = &base_only;
	}
	ivec heads = {0}, filtered = {0}, dests = {0};
	int rc = rows_resolve(m, rows, &heads);
	for (size_t i = 0; rc == 0 && i < targets->n; i++) {
		if (!*targets->v[i])
			continue;
		ivec f = {0};
		rc = lm_revmap_filter_for_lineage(m, heads.v, heads.n, targets->v[i], 1, &f);
		for (size_t k = 0; k < f.n; k++)
			iv_push_unique(&filtered, f.v[k]);
		iv_free(&f);
	}
	for (size_t i = 0; rc == 0 && i < targets->n; i++)
		rc = lm_revmap_get_revisions(m, targets->v[i], &dests);
	if (rc == 0 && !dests.n)
		iv_push(&dests, REF_NONE);

	sim s;
	sim_init(&s, m, &heads);
	word *rel = bs_new(m->n);
	for (size_t i = 0; rc == 0 && i < dests.n; i++) {
		size_t d = dests.v[i];
		ivec from = {0}, to = {0};
		int upgrade = 1, branch_move = 0;
		if (d == REF_BASE) {
			rc = lm_revmap_fail(RE_INTERNAL, NULL,
			                    "Can't stamp 'base' reached by a relative walk");
			break;
		}
		if (d == REF_NONE) {
			/* base: one step deleting each row on the lineage. */
			for (size_t k = 0; rc == 0 && k < filtered.n; k++) {
				ivec one = {0}, none = {0};
				iv_push(&one, filtered.v[k]);
				lm_step *st = plan_step(out);
				st->stamp = 1;
				st->branch_move = 1;
				lm_strv_push(&st->from, rid(m, filtered.v[k]));
				s.what.len = 0;
				lm_step_describe(st, &s.what);
				s.step = st;
				rc = sim_stamp(&s, &one, &none, 0, 1);
				iv_free(&one);
			}
			continue;
		}
		if (iv_has(&filtered, d))
			continue; /* already a row */
		int below = 0, above = 0;
		bs_zero(rel, m->n);
		lm_revmap_reach(m, &d, 1, DESC_DEPS, rel, NULL);
		for (size_t k = 0; k < filtered.n; k++)
			below |= bs_get(rel, filtered.v[k]);
		bs_zero(rel, m->n);
		lm_revmap_reach(m, &d, 1, ANC_DEPS, rel, NULL);
		for (size_t k = 0; k < filtered.n; k++)
			above |= bs_get(rel, filtered.v[k]);
		if (below && above) {
			rc = lm_revmap_fail(RE_INTERNAL, NULL,
			                    "Can't stamp %s: rows lie both above and below it",
			                    rid(m, d));
			break;
		}
		if (below || above) {
			/* Rows on d's lineage collapse into d in one step. */
			for (size_t k = 0; k < filtered.n; k++)
				iv_push(&from, filtered.v[k]);
			upgrade = !below;
		} else {
			branch_move = 1; /* a lineage without a row: new branch */
		}
		iv_push(&to, d);
		lm_step *st = plan_step(out);
		st->stamp = 1;
		st->upgrade = upgrade;
		st->branch_move = branch_move;
		ids_out(m, &from, &st->from);
		ids_out(m, &to, &st->to);
		s.what.len = 0;
		lm_step_describe(st, &s.what);
		s.step = st;
		rc = sim_stamp(&s, &from, &to, upgrade, branch_move);
		iv_free(&from);
		iv_free(&to);
	}
	free(rel);
	sim_dispose(&s);
	iv_free(&heads);
	iv_free(&filtered);
	iv_free(&dests);
	lm_strv_dispose(&base_only);
	if (rc < 0) {
		plan_fail(out);
		return lm_revmap_report(&c);
	}
	return 0;
}
