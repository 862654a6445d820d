/*
 * revmap.c — the revision DAG with Alembic's semantics (RevisionMap): its
 * construction and validation, heads and bases, identifier resolution, the
 * targets of upgrades and downgrades, and their ordering. The planner
 * (plan.c) and the listings (listing.c) are built on it through
 * revmap_internal.h.
 *
 * Revisions are referred to by their index in load order. Sets of revisions
 * are bitsets over those indices, lists are index vectors kept in the order
 * Alembic would produce them wherever Alembic's order is deterministic (and
 * in map order where Alembic iterates a Python set). Every lookup by name
 * goes through one hash table of "map keys" (revision ids, then branch
 * labels, as in Alembic's _revision_map), and prefix lookups through the
 * same keys sorted (at the first one), so nothing scans the map per lookup.
 *
 * Internally errors carry Alembic's exception kind (ResolutionError,
 * MultipleHeads, RangeNotAncestorError, RevisionError, or an internal crash)
 * so that each public entry point can word them as the CLI command wrapping
 * it does (_catch_revision_errors with its templates).
 */
#include "revmap.h"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "revmap_internal.h"

/* ---- errors ------------------------------------------------------------ */

static struct {
	int kind;
	char *arg; /* ResolutionError / MultipleHeads argument */
	char *msg;
} rerr;

int lm_revmap_fail(int kind, const char *arg, const char *fmt, ...)
{
	free(rerr.arg);
	free(rerr.msg);
	rerr.kind = kind;
	rerr.arg = arg ? lm_strdup(arg) : NULL;
	va_list ap, ap2;
	va_start(ap, fmt);
	va_copy(ap2, ap);
	int len = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	size_t size = (size_t)(len > 0 ? len : 0) + 1;
	rerr.msg = lm_malloc(size);
	vsnprintf(rerr.msg, size, fmt, ap);
	va_end(ap);
	return -1;
}

void lm_revmap_clear_error(void)
{
	free(rerr.arg);
	free(rerr.msg);
	memset(&rerr, 0, sizeof rerr);
}

int lm_revmap_report(const cli_ctx *c)
{
	static const cli_ctx none;
	if (!c)
		c = &none;
	switch (rerr.kind) {
	case RE_RESOLUTION:
		lm_error_set("Can't locate revision identified by '%s'", rerr.arg ? rerr.arg : "");
		break;
	case RE_MULTIPLE_HEADS:
		if (c->multiple_heads) {
			lm_error_set("%s", c->multiple_heads);
		} else {
			const char *a = c->end ? c->end : (rerr.arg ? rerr.arg : "None");
			lm_error_set(
			        "Multiple head revisions are present for given argument '%s'; "
			        "please specify a specific target revision, '<branchname>@%s' to "
			        "narrow to a specific head, or 'heads' for all heads",
			        a, a);
		}
		break;
	case RE_RANGE:
		if (c->ancestor)
			lm_error_set("Destination %s is not a valid %s target from current head(s)",
			             c->end ? c->end : "", c->ancestor);
		else
			lm_error_set("Requested range %s:%s does not refer to ancestor/descendant "
			             "revisions along the same branch",
			             c->start ? c->start : "base", c->end ? c->end : "base");
		break;
	default:
		lm_error_set("%s", rerr.msg ? rerr.msg : "revision map error");
		break;
	}
	return -1;
}

int lm_revmap_not_built(const lm_revmap *m)
{
	if (m->built)
		return 0;
	lm_error_set("revision map used before lm_revmap_build()");
	return -1;
}

/* ---- construction ---------------------------------------------------- */

lm_revmap *lm_revmap_new(void)
{
	lm_revmap *m = lm_calloc(1, sizeof *m);
	m->lin_rev = REF_NONE;
	return m;
}

void lm_revision_dispose(lm_revision *r)
{
	if (r->strings) {
		/* the lists' items are in the block too: only their arrays are not */
		free(r->strings);
		free(r->down.v);
		free(r->labels.v);
		free(r->depends.v);
	} else {
		free(r->id);
		free(r->message);
		free(r->doc);
		free(r->create_date);
		lm_strv_dispose(&r->down);
		lm_strv_dispose(&r->labels);
		lm_strv_dispose(&r->depends);
	}
	free(r->path);
	memset(r, 0, sizeof *r);
}

static void nodes_free(lm_revmap *m)
{
	if (!m->nodes)
		return;
	for (size_t i = 0; i < m->n; i++) {
		node *d = &m->nodes[i];
		iv_free(&d->down);
		iv_free(&d->deps);
		iv_free(&d->normdeps);
		iv_free(&d->ndown);
		iv_free(&d->alldown);
		iv_free(&d->next);
		iv_free(&d->allnext);
		free(d->labels.v); /* the strings are borrowed (revmap_internal.h) */
	}
	free(m->nodes);
	free(m->own_slab);
	free(m->kid_slab);
	m->nodes = NULL;
	m->own_slab = m->kid_slab = NULL;
}

void lm_revmap_free(lm_revmap *m)
{
	if (!m)
		return;
	nodes_free(m);
	for (size_t i = 0; i < m->n; i++)
		lm_revision_dispose(&m->revs[i]);
	free(m->revs);
	free(m->keys);
	free(m->keyrev);
	free(m->slots);
	free(m->sorted);
	iv_free(&m->heads);
	iv_free(&m->real_heads);
	iv_free(&m->bases);
	iv_free(&m->real_bases);
	free(m->lin_bits);
	free(m);
}

void lm_revmap_reserve(lm_revmap *m, size_t n)
{
	if (n > m->cap) {
		m->cap = n;
		m->revs = lm_realloc(m->revs, m->cap * sizeof *m->revs);
	}
}

void lm_revmap_add(lm_revmap *m, lm_revision *r)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 64;
		m->revs = lm_realloc(m->revs, m->cap * sizeof *m->revs);
	}
	lm_revision *dst = &m->revs[m->n];
	*dst = *r;
	dst->order = m->n;
	if (!dst->message)
		dst->message = lm_strdup("");
	if (!dst->doc)
		dst->doc = lm_strdup("");
	if (!dst->id)
		dst->id = lm_strdup("");
	m->n++;
	memset(r, 0, sizeof *r);
	m->built = 0;
}

size_t lm_revmap_count(const lm_revmap *m)
{
	return m->n;
}

const lm_revision *lm_revmap_at(const lm_revmap *m, size_t i)
{
	return i < m->n ? &m->revs[i] : NULL;
}

static size_t hash_str(const char *s)
{
	size_t h = 1469598103934665603u;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211u;
	}
	return h;
}

/* The key index of an exact map key (revision id or branch label), or REF_NONE. */
static size_t key_find(const lm_revmap *m, const char *s)
{
	if (!m->nslots)
		return REF_NONE;
	size_t mask = m->nslots - 1;
	for (size_t i = hash_str(s) & mask;; i = (i + 1) & mask) {
		size_t k = m->slots[i];
		if (!k)
			return REF_NONE;
		if (strcmp(m->keys[k - 1], s) == 0)
			return k - 1;
	}
}

static void key_add(lm_revmap *m, const char *s, size_t rev)
{
	size_t k = m->nkeys++;
	m->keys[k] = s;
	m->keyrev[k] = rev;
	size_t mask = m->nslots - 1;
	size_t i = hash_str(s) & mask;
	while (m->slots[i])
		i = (i + 1) & mask;
	m->slots[i] = k + 1;
}

/* The revision index of an exact id (not a label), or REF_NONE. */
static size_t rev_find(const lm_revmap *m, const char *id)
{
	size_t k = key_find(m, id);
	if (k == REF_NONE || k >= m->n)
		return REF_NONE;
	return m->keyrev[k];
}

const lm_revision *lm_revmap_get(const lm_revmap *m, const char *id)
{
	size_t i = rev_find(m, id);
	return i == REF_NONE ? NULL : &m->revs[i];
}

/* ---- traversal ------------------------------------------------------- */

static const ivec *edges(const lm_revmap *m, size_t i, int rel)
{
	const node *d = &m->nodes[i];
	switch (rel) {
	case ANC_DEPS:
		return &d->ndown;
	case ANC_NODEPS:
		return &d->down;
	case ANC_ALL:
		return &d->alldown;
	case DESC_DEPS:
		return &d->allnext;
	default:
		return &d->next;
	}
}

/* Marks in `seen` every revision reachable from starts (inclusive), visiting
 * depth-first from a stack as Alembic's _iterate_related_revisions does;
 * `order` (may be NULL) receives revisions in the order Alembic yields them. */
void lm_revmap_reach(const lm_revmap *m, const size_t *starts, size_t nstarts, int rel, word *seen,
                     ivec *order)
{
	ivec stack = {0};
	for (size_t s = 0; s < nstarts; s++) {
		if (starts[s] >= m->n)
			continue;
		iv_push(&stack, starts[s]);
		while (stack.n) {
			size_t r = stack.v[--stack.n];
			if (bs_get(seen, r))
				continue;
			bs_set(seen, r);
			const ivec *e = edges(m, r, rel);
			for (size_t i = 0; i < e->n; i++)
				iv_push(&stack, e->v[i]);
			if (order)
				iv_push(order, r);
		}
	}
	iv_free(&stack);
}

/* lm_revmap_reach() with Alembic's check=True: fails with "Requested revision X
 * overlaps with other requested revisions Y" when one start lies on the path
 * of another. */
int lm_revmap_reach_checked(const lm_revmap *m, const ivec *starts, int rel, word *seen)
{
	word *is_start = bs_new(m->n);
	for (size_t i = 0; i < starts->n; i++)
		if (starts->v[i] < m->n)
			bs_set(is_start, starts->v[i]);
	ivec stack = {0}, overlaps = {0};
	int rc = 0;
	for (size_t s = 0; s < starts->n && rc == 0; s++) {
		size_t t = starts->v[s];
		if (t >= m->n)
			continue;
		overlaps.n = 0;
		iv_push(&stack, t);
		while (stack.n) {
			size_t r = stack.v[--stack.n];
			if (r != t && bs_get(is_start, r))
				iv_push_unique(&overlaps, r);
			if (bs_get(seen, r))
				continue;
			bs_set(seen, r);
			const ivec *e = edges(m, r, rel);
			for (size_t i = 0; i < e->n; i++)
				iv_push(&stack, e->v[i]);
		}
		if (overlaps.n) {
			lm_buf b = {0};
			for (size_t i = 0; i < overlaps.n; i++) {
				if (i)
					lm_buf_puts(&b, ", ");
				lm_buf_puts(&b, rid(m, overlaps.v[i]));
			}
			rc = lm_revmap_fail(
			        RE_REVISION, NULL,
			        "Requested revision %s overlaps with other requested revisions %s",
			        rid(m, t), lm_buf_str(&b));
			lm_buf_dispose(&b);
		}
	}
	iv_free(&stack);
	iv_free(&overlaps);
	free(is_start);
	return rc;
}

/* Ancestors and descendants of one revision (both inclusive): the set
 * Alembic's _shares_lineage intersects. Cached for the last revision asked,
 * as walks and filters ask about the same branch over and over. */
static const word *lineage(const lm_revmap *m, size_t r, int deps)
{
	lm_revmap *mm = (lm_revmap *)m;
	if (mm->lin_bits && mm->lin_rev == r && mm->lin_deps == deps)
		return mm->lin_bits;
	if (!mm->lin_bits)
		mm->lin_bits = bs_new(m->n);
	else
		bs_zero(mm->lin_bits, m->n);
	lm_revmap_reach(m, &r, 1, deps ? ANC_DEPS : ANC_NODEPS, mm->lin_bits, NULL);
	/* lm_revmap_reach() stops at marked nodes, so the descendant pass starts afresh
	 * from r's children with r itself unmarked again. */
	word *desc = bs_new(m->n);
	lm_revmap_reach(m, &r, 1, deps ? DESC_DEPS : DESC_NODEPS, desc, NULL);
	for (size_t i = 0; i < (m->n + 63) / 64 + 1; i++)
		mm->lin_bits[i] |= desc[i];
	free(desc);
	mm->lin_rev = r;
	mm->lin_deps = deps;
	return mm->lin_bits;
}

/* ---- build ------------------------------------------------------------- */

typedef struct keysort {
	const char *s;
	size_t k;
} keysort;

static int keysort_cmp(const void *a, const void *b)
{
	return strcmp(((const keysort *)a)->s, ((const keysort *)b)->s);
}

/* Adds to a node's labels, kept sorted: Alembic holds them in a Python
 * set, whose order varies from run to run; sorted is as good as any order
 * and the same every time. label is a revision's own string, borrowed, not
 * copied: a label reaches every descendant of its revision, thousands of
 * copies in a history with branches. */
static void label_add(lm_strv *dst, const char *label)
{
	if (lm_strv_contains(dst, label))
		return;
	lm_strv_push_own(dst, (char *)label);
	size_t i = dst->n - 1;
	while (i > 0 && strcmp(dst->v[i - 1], dst->v[i]) > 0) {
		char *t = dst->v[i - 1];
		dst->v[i - 1] = dst->v[i];
		dst->v[i] = t;
		i--;
	}
}

static void labels_add(lm_strv *dst, const lm_strv *src)
{
	for (size_t i = 0; i < src->n; i++)
		label_add(dst, src->v[i]);
}

static int strp_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "Cycle is detected in revisions (a, b)" with the revisions outside `space`,
 * sorted as Alembic sorts them. */
static int cycle_error(const lm_revmap *m, const char *kind, const word *space)
{
	size_t cnt = 0;
	const char **ids = lm_malloc((m->n + 1) * sizeof *ids);
	for (size_t i = 0; i < m->n; i++)
		if (!space || !bs_get(space, i))
			ids[cnt++] = rid(m, i);
	if (space)
		qsort(ids, cnt, sizeof *ids, strp_cmp);
	lm_buf b = {0};
	for (size_t i = 0; i < cnt; i++) {
		if (i)
			lm_buf_puts(&b, ", ");
		lm_buf_puts(&b, ids[i]);
	}
	free(ids);
	lm_error_set("%s is detected in revisions (%s)", kind, lm_buf_str(&b));
	lm_buf_dispose(&b);
	return -1;
}

static int detect_remaining_cycle(lm_revmap *m);

/* Alembic's _detect_cycles: every revision must lie between a head and a
 * base, first along down_revision, then along down_revision + depends_on. */
static int detect_cycles(lm_revmap *m)
{
	if (!m->n)
		return 0;
	if (!m->heads.n || !m->bases.n)
		return cycle_error(m, "Cycle", NULL);
	word *up = bs_new(m->n), *dn = bs_new(m->n);
	int rc = 0;
	lm_revmap_reach(m, m->heads.v, m->heads.n, ANC_NODEPS, up, NULL);
	lm_revmap_reach(m, m->bases.v, m->bases.n, DESC_NODEPS, dn, NULL);
	for (size_t i = 0; i < (m->n + 63) / 64 + 1; i++)
		up[i] &= dn[i];
	for (size_t i = 0; i < m->n && rc == 0; i++)
		if (!bs_get(up, i))
			rc = cycle_error(m, "Cycle", up);
	if (rc == 0 && (!m->real_heads.n || !m->real_bases.n))
		rc = cycle_error(m, "Dependency cycle", NULL);
	if (rc == 0) {
		bs_zero(up, m->n);
		bs_zero(dn, m->n);
		lm_revmap_reach(m, m->real_heads.v, m->real_heads.n, ANC_ALL, up, NULL);
		lm_revmap_reach(m, m->real_bases.v, m->real_bases.n, DESC_DEPS, dn, NULL);
		for (size_t i = 0; i < (m->n + 63) / 64 + 1; i++)
			up[i] &= dn[i];
		for (size_t i = 0; i < m->n && rc == 0; i++)
			if (!bs_get(up, i))
				rc = cycle_error(m, "Dependency cycle", up);
	}
	free(up);
	free(dn);
	if (rc == 0)
		rc = detect_remaining_cycle(m);
	return rc;
}

/* Alembic's heuristic above misses a cycle whose revisions all lie between
 * some head and some base (r0 depends on r6, which descends from r0): then
 * Alembic runs a dependency in the wrong order or its sort never ends.
 * This pass removes revisions whose down revisions and dependencies are all
 * removed (Kahn's algorithm, linear in the edges); what is left lies on or
 * above a cycle, and the message names the cycle. */
static int detect_remaining_cycle(lm_revmap *m)
{
	size_t *pending = lm_calloc(m->n ? m->n : 1, sizeof *pending);
	size_t *queue = lm_malloc((m->n ? m->n : 1) * sizeof *queue);
	size_t qn = 0, done = 0;
	for (size_t i = 0; i < m->n; i++) {
		pending[i] = m->nodes[i].alldown.n;
		if (!pending[i])
			queue[qn++] = i;
	}
	word *left = bs_new(m->n);
	for (size_t i = 0; i < m->n; i++)
		bs_set(left, i);
	while (done < qn) {
		size_t i = queue[done++];
		bs_clr(left, i);
		/* every revision that lists i among its down revisions or
		 * dependencies loses one pending edge */
		const ivec *kids = &m->nodes[i].allnext;
		for (size_t k = 0; k < kids->n; k++) {
			size_t c = kids->v[k];
			const ivec *ad = &m->nodes[c].alldown;
			for (size_t e = 0; e < ad->n; e++)
				if (ad->v[e] == i && pending[c] && --pending[c] == 0)
					queue[qn++] = c;
		}
	}
	int rc = 0;
	if (qn < m->n) {
		/* What is left lies on a cycle or above one: peel off, the other
		 * way, revisions no revision left depends on, so that the message
		 * names the cycle itself. */
		qn = done = 0;
		for (size_t i = 0; i < m->n; i++) {
			pending[i] = 0;
			if (!bs_get(left, i))
				continue;
			const ivec *kids = &m->nodes[i].allnext;
			for (size_t k = 0; k < kids->n; k++)
				pending[i] += bs_get(left, kids->v[k]) ? 1 : 0;
			if (!pending[i])
				queue[qn++] = i;
		}
		while (done < qn) {
			size_t i = queue[done++];
			bs_clr(left, i);
			const ivec *ad = &m->nodes[i].alldown;
			for (size_t e = 0; e < ad->n; e++)
				if (bs_get(left, ad->v[e]) && pending[ad->v[e]] &&
				    --pending[ad->v[e]] == 0)
					queue[qn++] = ad->v[e];
		}
		word *space = bs_new(m->n);
		for (size_t i = 0; i < m->n; i++)
			if (!bs_get(left, i))
				bs_set(space, i);
		rc = cycle_error(m, "Dependency cycle", space);
		free(space);
	}
	free(left);
	free(pending);
	free(queue);
	return rc;
}

/* Alembic's _normalize_depends_on: a dependency that an ancestor (along
 * down_revision) already depends on is dropped from the revision's own
 * "down" edges. Only revisions with depends_on pay for the ancestor walk. */
static void normalize_deps(lm_revmap *m)
{
	word *seen = NULL;
	ivec order = {0};
	for (size_t i = 0; i < m->n; i++) {
		node *d = &m->nodes[i];
		if (!d->deps.n)
			continue;
		if (!seen)
			seen = bs_new(m->n);
		else
			bs_zero(seen, m->n);
		order.n = 0;
		lm_revmap_reach(m, d->down.v, d->down.n, ANC_NODEPS, seen, &order);
		word *implied = bs_new(m->n);
		for (size_t a = 0; a < order.n; a++) {
			const ivec *ad = &m->nodes[order.v[a]].deps;
			for (size_t k = 0; k < ad->n; k++)
				bs_set(implied, ad->v[k]);
		}
		for (size_t k = 0; k < d->deps.n; k++)
			if (!bs_get(implied, d->deps.v[k]))
				iv_push_unique(&d->normdeps, d->deps.v[k]);
		free(implied);
		/* Alembic keeps these in a Python set (arbitrary, run-dependent
		 * order); sort by id for one reproducible order. */
		for (size_t a = 1; a < d->normdeps.n; a++)
			for (size_t b = a; b > 0 && strcmp(rid(m, d->normdeps.v[b - 1]),
			                                   rid(m, d->normdeps.v[b])) > 0;
			     b--) {
				size_t t = d->normdeps.v[b - 1];
				d->normdeps.v[b - 1] = d->normdeps.v[b];
				d->normdeps.v[b] = t;
			}
	}
	free(seen);
	iv_free(&order);
	for (size_t i = 0; i < m->n; i++) {
		node *d = &m->nodes[i];
		for (size_t k = 0; k < d->down.n; k++)
			iv_push_unique(&d->ndown, d->down.v[k]);
		for (size_t k = 0; k < d->normdeps.n; k++)
			iv_push_unique(&d->ndown, d->normdeps.v[k]);
	}
}

/* Alembic's _add_branches: a label reaches every descendant of the revision
 * declaring it, and then, from the last descendant Alembic's walk yields,
 * every revision down the line until a branch point or merge point. */
static void propagate_labels(lm_revmap *m)
{
	ivec order = {0};
	word *seen = NULL;
	for (size_t i = 0; i < m->n; i++) {
		if (!m->revs[i].labels.n)
			continue;
		if (!seen)
			seen = bs_new(m->n);
		else
			bs_zero(seen, m->n);
		order.n = 0;
		lm_revmap_reach(m, &i, 1, DESC_NODEPS, seen, &order);
		const lm_strv *src = &m->nodes[i].labels;
		for (size_t k = 0; k < order.n; k++)
			if (order.v[k] != i)
				labels_add(&m->nodes[order.v[k]].labels, src);
		size_t p = order.v[order.n - 1];
		for (;;) {
			node *pd = &m->nodes[p];
			if (pd->allnext.n > 1 || pd->down.n > 1)
				break;
			if (p != i)
				labels_add(&pd->labels, src);
			if (!pd->down.n)
				break;
			p = pd->down.v[0];
		}
	}
	free(seen);
	iv_free(&order);
}

static void reset_derived(lm_revmap *m)
{
	nodes_free(m);
	free(m->keys);
	free(m->keyrev);
	free(m->slots);
	free(m->sorted);
	m->keys = NULL;
	m->keyrev = m->slots = m->sorted = NULL;
	m->nkeys = m->nslots = 0;
	iv_free(&m->heads);
	iv_free(&m->real_heads);
	iv_free(&m->bases);
	iv_free(&m->real_bases);
	free(m->lin_bits);
	m->lin_bits = NULL;
	m->lin_rev = REF_NONE;
	m->built = 0;
}

/* What Alembic's Revision() constructor refuses, in load order: self-loops
 * and characters that identifiers can't hold. Returns 0 or -1 (error set). */
static int check_revisions(const lm_revmap *m)
{
	for (size_t i = 0; i < m->n; i++) {
		const lm_revision *r = &m->revs[i];
		if (lm_strv_contains(&r->down, r->id)) {
			lm_error_set("Self-loop is detected in revisions (%s)", r->id);
			return -1;
		}
		if (lm_strv_contains(&r->depends, r->id)) {
			lm_error_set("Dependency self-loop is detected in revisions (%s)", r->id);
			return -1;
		}
		if (lm_revmap_check_id(r->id) != 0)
			return -1;
	}
	return 0;
}

/* Fills the map keys: every revision id, then every declared branch label;
 * refuses an id or a label given twice. Returns 0 or -1 (error set). */
static int index_keys(lm_revmap *m)
{
	size_t nlabels = 0;
	for (size_t i = 0; i < m->n; i++)
		nlabels += m->revs[i].labels.n;
	size_t maxkeys = m->n + nlabels;
	m->keys = lm_calloc(maxkeys + 1, sizeof *m->keys);
	m->keyrev = lm_calloc(maxkeys + 1, sizeof *m->keyrev);
	m->nslots = 16;
	while (m->nslots < 2 * maxkeys)
		m->nslots *= 2;
	m->slots = lm_calloc(m->nslots, sizeof *m->slots);

	for (size_t i = 0; i < m->n; i++) {
		size_t kk = key_find(m, m->revs[i].id);
		if (kk != REF_NONE) {
			/* Alembic only warns and lets the later file win; two files
			 * claiming one id is always a mistake, so refuse it, naming
			 * both files so that the user knows which to change. */
			const char *first = m->revs[m->keyrev[kk]].path;
			const char *second = m->revs[i].path;
			if (first && second)
				lm_error_set(
				        "Revision %s is present more than once: in %s and in %s",
				        m->revs[i].id, first, second);
			else
				lm_error_set("Revision %s is present more than once",
				             m->revs[i].id);
			return -1;
		}
		key_add(m, m->revs[i].id, i);
	}
	for (size_t i = 0; i < m->n; i++) {
		const lm_strv *l = &m->revs[i].labels;
		for (size_t k = 0; k < l->n; k++) {
			size_t kk = key_find(m, l->v[k]);
			if (kk != REF_NONE) {
				lm_error_set("Branch name '%s' in revision %s already used by "
				             "revision %s",
				             l->v[k], m->revs[i].id, rid(m, m->keyrev[kk]));
				return -1;
			}
			key_add(m, l->v[k], i);
		}
	}
	return 0;
}

/* Resolves down_revision and depends_on to revisions and links each node to
 * its parents and children. Returns 0 or -1 (a reference is missing). */
static int link_nodes(lm_revmap *m)
{
	m->nodes = lm_calloc(m->n ? m->n : 1, sizeof *m->nodes);
	/* Each vector gets its room from one of two blocks, not a malloc of
	 * its own (thousands of them): a node's down, deps, alldown, ndown and
	 * normdeps hold at most its declared down revisions and dependencies
	 * (normalize_deps fills the last two), its next and allnext at most
	 * the revisions that name it, counted once alldown is known. */
	size_t own = 0;
	for (size_t i = 0; i < m->n; i++)
		own += 3 * m->revs[i].down.n + 4 * m->revs[i].depends.n;
	size_t *slab = m->own_slab = lm_malloc((own ? own : 1) * sizeof *slab);
	for (size_t i = 0; i < m->n; i++) {
		const lm_revision *r = &m->revs[i];
		node *d = &m->nodes[i];
		size_t nd = r->down.n, np = r->depends.n;
		iv_lend(&d->down, &slab, nd);
		iv_lend(&d->deps, &slab, np);
		iv_lend(&d->alldown, &slab, nd + np);
		iv_lend(&d->ndown, &slab, nd + np);
		iv_lend(&d->normdeps, &slab, np);
		labels_add(&d->labels, &r->labels);
		for (size_t k = 0; k < r->depends.n; k++) {
			size_t kk = key_find(m, r->depends.v[k]);
			if (kk == REF_NONE) {
				lm_error_set("Revision %s referenced from %s is not present",
				             r->depends.v[k], r->id);
				return -1;
			}
			iv_push(&d->deps, m->keyrev[kk]);
		}
	}
	for (size_t i = 0; i < m->n; i++) {
		const lm_revision *r = &m->revs[i];
		node *d = &m->nodes[i];
		for (size_t k = 0; k < r->down.n; k++) {
			size_t j = rev_find(m, r->down.v[k]);
			if (j == REF_NONE) {
				lm_error_set("Revision %s referenced from %s is not present",
				             r->down.v[k], r->id);
				return -1;
			}
			iv_push(&d->down, j);
		}
		for (size_t k = 0; k < d->down.n; k++)
			iv_push_unique(&d->alldown, d->down.v[k]);
		for (size_t k = 0; k < d->deps.n; k++)
			iv_push_unique(&d->alldown, d->deps.v[k]);
	}
	size_t *kids = lm_calloc(m->n ? m->n : 1, sizeof *kids), all = 0;
	for (size_t i = 0; i < m->n; i++)
		for (size_t k = 0; k < m->nodes[i].alldown.n; k++)
			kids[m->nodes[i].alldown.v[k]]++;
	for (size_t i = 0; i < m->n; i++)
		all += 2 * kids[i];
	slab = m->kid_slab = lm_malloc((all ? all : 1) * sizeof *slab);
	for (size_t i = 0; i < m->n; i++) {
		iv_lend(&m->nodes[i].next, &slab, kids[i]);
		iv_lend(&m->nodes[i].allnext, &slab, kids[i]);
	}
	free(kids);
	for (size_t i = 0; i < m->n; i++) {
		node *d = &m->nodes[i];
		for (size_t k = 0; k < d->alldown.n; k++) {
			node *p = &m->nodes[d->alldown.v[k]];
			iv_push_unique(&p->allnext, i);
			if (iv_has(&d->down, d->alldown.v[k]))
				iv_push_unique(&p->next, i);
		}
	}
	return 0;
}

/* Heads, real heads, bases and real bases, in map order. */
static void find_ends(lm_revmap *m)
{
	m->base_values = 0;
	for (size_t i = 0; i < m->n; i++) {
		const node *d = &m->nodes[i];
		if (!d->next.n)
			iv_push(&m->heads, i);
		if (!d->allnext.n)
			iv_push(&m->real_heads, i);
		if (!d->down.n) {
			iv_push(&m->bases, i);
			m->base_values += 1 + m->revs[i].labels.n;
			if (!m->revs[i].depends.n)
				iv_push(&m->real_bases, i);
		}
	}
}

/* The map keys in byte order, for prefix lookups. */
static void sort_keys(lm_revmap *m)
{
	keysort *ks = lm_malloc((m->nkeys + 1) * sizeof *ks);
	for (size_t k = 0; k < m->nkeys; k++) {
		ks[k].s = m->keys[k];
		ks[k].k = k;
	}
	qsort(ks, m->nkeys, sizeof *ks, keysort_cmp);
	m->sorted = lm_malloc((m->nkeys + 1) * sizeof *m->sorted);
	for (size_t k = 0; k < m->nkeys; k++)
		m->sorted[k] = ks[k].k;
	free(ks);
}

int lm_revmap_build(lm_revmap *m)
{
	reset_derived(m);
	if (check_revisions(m) < 0 || index_keys(m) < 0 || link_nodes(m) < 0)
		return -1;
	find_ends(m);
	if (detect_cycles(m) < 0)
		return -1;
	normalize_deps(m);
	propagate_labels(m);
	m->built = 1;
	return 0;
}

void lm_revmap_heads(const lm_revmap *m, lm_strv *out)
{
	ids_out(m, &m->heads, out);
}

void lm_revmap_real_heads(const lm_revmap *m, lm_strv *out)
{
	ids_out(m, &m->real_heads, out);
}

void lm_revmap_bases(const lm_revmap *m, lm_strv *out)
{
	ids_out(m, &m->bases, out);
}

void lm_revmap_branch_points(const lm_revmap *m, lm_strv *out)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->nodes[i].next.n > 1)
			lm_strv_push(out, rid(m, i));
}

int lm_revmap_info(const lm_revmap *m, const char *id, lm_revinfo *out)
{
	memset(out, 0, sizeof *out);
	size_t i = rev_find(m, id);
	if (i == REF_NONE) {
		lm_error_set("Can't locate revision identified by '%s'", id);
		return -1;
	}
	const node *d = &m->nodes[i];
	ids_out(m, &d->next, &out->nextrev);
	ids_out(m, &d->allnext, &out->all_nextrev);
	for (size_t k = 0; k < d->labels.n; k++)
		lm_strv_push(&out->branch_labels, d->labels.v[k]);
	ids_out(m, &d->down, &out->down);
	ids_out(m, &d->deps, &out->resolved_deps);
	ids_out(m, &d->ndown, &out->normalized_down);
	out->is_head = d->next.n == 0;
	out->is_real_head = d->allnext.n == 0;
	out->is_base = d->down.n == 0;
	out->is_real_base = d->down.n == 0 && m->revs[i].depends.n == 0;
	out->is_branch_point = d->next.n > 1;
	out->is_real_branch_point = d->allnext.n > 1;
	out->is_merge_point = d->down.n > 1;
	return 0;
}

void lm_revinfo_dispose(lm_revinfo *info)
{
	lm_strv_dispose(&info->nextrev);
	lm_strv_dispose(&info->all_nextrev);
	lm_strv_dispose(&info->branch_labels);
	lm_strv_dispose(&info->down);
	lm_strv_dispose(&info->resolved_deps);
	lm_strv_dispose(&info->normalized_down);
}

/* ---- identifier resolution --------------------------------------------- */

/* Alembic's _resolve_revision_number: "label@rest" splits at the first '@';
 * head/heads become revision ids, base nothing, anything else stays a name. */
typedef struct rnum {
	lm_strv ids;
	char *label; /* NULL when absent or empty */
} rnum;

static void rnum_dispose(rnum *r)
{
	lm_strv_dispose(&r->ids);
	free(r->label);
	r->label = NULL;
}

/* Alembic's get_current_head(label): the one versioned head (on the branch). */
static int current_head(const lm_revmap *m, const char *label, size_t *out)
{
	ivec hs = {0};
	int rc = 0;
	if (label) {
		rc = lm_revmap_filter_for_lineage(m, m->heads.v, m->heads.n, label, 0, &hs);
	} else {
		for (size_t i = 0; i < m->heads.n; i++)
			iv_push(&hs, m->heads.v[i]);
	}
	if (rc == 0 && hs.n > 1) {
		char *arg = label ? lm_sprintf("%s@head", label) : lm_strdup("head");
		rc = lm_revmap_fail(RE_MULTIPLE_HEADS, arg,
		                    "Multiple heads are present for given argument '%s'", arg);
		free(arg);
	}
	if (rc == 0)
		*out = hs.n ? hs.v[0] : REF_NONE;
	iv_free(&hs);
	return rc;
}

static int resolve_number(const lm_revmap *m, const char *id, rnum *out)
{
	memset(out, 0, sizeof *out);
	if (!id)
		return 0;
	const char *at = strchr(id, '@');
	const char *rest = id;
	if (at) {
		if (at > id)
			out->label = lm_strndup(id, (size_t)(at - id));
		rest = at + 1;
	}
	if (strcmp(rest, "heads") == 0) {
		if (out->label) {
			ivec hs = {0};
			if (lm_revmap_filter_for_lineage(m, m->heads.v, m->heads.n, out->label, 0,
			                                 &hs) < 0) {
				rnum_dispose(out);
				return -1;
			}
			ids_out(m, &hs, &out->ids);
			iv_free(&hs);
		} else {
			ids_out(m, &m->real_heads, &out->ids);
		}
	} else if (strcmp(rest, "head") == 0) {
		size_t h = REF_NONE;
		if (current_head(m, out->label, &h) < 0) {
			rnum_dispose(out);
			return -1;
		}
		if (h != REF_NONE)
			lm_strv_push(&out->ids, rid(m, h));
	} else if (strcmp(rest, "base") != 0) {
		lm_strv_push(&out->ids, rest);
	}
	return 0;
}

/* Ancestors or descendants of any of `revs` (Alembic's _shares_lineage
 * against several revisions at once). The result is owned by the caller
 * unless *borrowed is set. */
static word *lineage_of(const lm_revmap *m, const ivec *revs, int deps, int *borrowed)
{
	*borrowed = 0;
	if (revs->n == 1) {
		*borrowed = 1;
		return (word *)lineage(m, revs->v[0], deps);
	}
	word *acc = bs_new(m->n);
	for (size_t i = 0; i < revs->n; i++) {
		const word *l = lineage(m, revs->v[i], deps);
		for (size_t w = 0; w < (m->n + 63) / 64 + 1; w++)
			acc[w] |= l[w];
	}
	return acc;
}

static int rev_for_ident(const lm_revmap *m, const char *s, const char *branch, size_t *out);

/* Alembic's filter_for_lineage: the targets related (ancestor or
 * descendant) to what `check` names; all of them when it names nothing. */
int lm_revmap_filter_for_lineage(const lm_revmap *m, const size_t *t, size_t nt, const char *check,
                                 int deps, ivec *out)
{
	rnum rn;
	if (resolve_number(m, check, &rn) < 0)
		return -1;
	ivec shares = {0};
	int rc = 0;
	if (rn.label) {
		size_t r;
		rc = rev_for_ident(m, rn.label, NULL, &r);
		if (rc == 0)
			iv_push(&shares, r);
	}
	for (size_t i = 0; rc == 0 && i < rn.ids.n; i++) {
		size_t r;
		rc = rev_for_ident(m, rn.ids.v[i], NULL, &r);
		if (rc == 0)
			iv_push(&shares, r);
	}
	if (rc == 0) {
		if (!shares.n) {
			for (size_t i = 0; i < nt; i++)
				iv_push(out, t[i]);
		} else {
			int borrowed;
			word *lin = lineage_of(m, &shares, deps, &borrowed);
			for (size_t i = 0; i < nt; i++)
				if (t[i] < m->n && bs_get(lin, t[i]))
					iv_push(out, t[i]);
			if (!borrowed)
				free(lin);
		}
	}
	iv_free(&shares);
	rnum_dispose(&rn);
	return rc;
}

int lm_revmap_resolve_branch(const lm_revmap *m, const char *label, size_t *out)
{
	size_t k = key_find(m, label);
	if (k != REF_NONE) {
		*out = m->keyrev[k];
		return 0;
	}
	if (rev_for_ident(m, label, NULL, out) < 0)
		return lm_revmap_fail(RE_RESOLUTION, label, "No such branch: '%s'", label);
	return 0;
}

/* Map keys longer than three characters that start with `prefix`, in map
 * order (Alembic's partial identifier lookup). */
static void prefix_keys(const lm_revmap *m, const char *prefix, ivec *out)
{
	/* sorted at the first prefix lookup: most commands make none */
	if (!m->sorted)
		sort_keys((lm_revmap *)m);
	size_t lo = 0, hi = m->nkeys, plen = strlen(prefix);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(m->keys[m->sorted[mid]], prefix) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < m->nkeys; i++) {
		const char *k = m->keys[m->sorted[i]];
		if (strncmp(k, prefix, plen) != 0)
			break;
		if (strlen(k) > 3)
			iv_push(out, m->sorted[i]);
	}
	iv_sort(out);
}

/* Alembic's _revision_for_ident: s is an exact key or a unique prefix,
 * checked against the branch when one is given. s NULL means "base" and
 * gives REF_NONE. */
static int rev_for_ident(const lm_revmap *m, const char *s, const char *branch, size_t *out)
{
	size_t branch_rev = REF_NONE;
	if (branch && lm_revmap_resolve_branch(m, branch, &branch_rev) < 0)
		return -1;
	if (!s) {
		*out = REF_NONE;
		return 0;
	}
	size_t r;
	size_t k = key_find(m, s);
	if (k != REF_NONE) {
		r = m->keyrev[k];
	} else {
		if (!*s)
			return lm_revmap_fail(RE_INTERNAL, NULL, "Empty revision identifier");
		ivec keys = {0};
		prefix_keys(m, s, &keys);
		if (branch_rev != REF_NONE) {
			const word *lin = lineage(m, branch_rev, 0);
			size_t w = 0;
			for (size_t i = 0; i < keys.n; i++)
				if (bs_get(lin, m->keyrev[keys.v[i]]))
					keys.v[w++] = keys.v[i];
			keys.n = w;
		}
		if (!keys.n) {
			iv_free(&keys);
			return lm_revmap_fail(
			        RE_RESOLUTION, s, "No such revision or branch '%s'%s", s,
			        strlen(s) < 4 ? "; please ensure at least four characters are "
			                        "present for partial revision identifier matches"
			                      : "");
		}
		if (keys.n > 1) {
			lm_buf b = {0};
			for (size_t i = 0; i < keys.n && i < 3; i++)
				lm_buf_printf(&b, "%s'%s'", i ? ", " : "", m->keys[keys.v[i]]);
			int rc = lm_revmap_fail(RE_RESOLUTION, s,
			                        "Multiple revisions start with '%s': %s...", s,
			                        lm_buf_str(&b));
			lm_buf_dispose(&b);
			iv_free(&keys);
			return rc;
		}
		r = m->keyrev[keys.v[0]];
		iv_free(&keys);
	}
	if (branch_rev != REF_NONE && !bs_get(lineage(m, branch_rev, 0), r))
		return lm_revmap_fail(RE_RESOLUTION, s,
		                      "Revision %s is not a member of branch '%s'", rid(m, r),
		                      branch);
	*out = r;
	return 0;
}

/* Python's int() on a string, for the "-N" check of get_revisions. */
static int parse_pyint(const char *s, long long *v)
{
	while (*s == ' ' || *s == '\t' || *s == '\n')
		s++;
	int neg = 0;
	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	if (*s < '0' || *s > '9')
		return 0;
	long long x = 0;
	while ((*s >= '0' && *s <= '9') || (*s == '_' && s[1] >= '0' && s[1] <= '9')) {
		if (*s != '_')
			x = x > LLONG_MAX / 10 - 10 ? LLONG_MAX / 10 : x * 10 + (*s - '0');
		s++;
	}
	while (*s == ' ' || *s == '\t' || *s == '\n')
		s++;
	if (*s)
		return 0;
	*v = neg ? -x : x;
	return 1;
}

static int walk(const lm_revmap *m, size_t start, long long steps, const char *label,
                int no_overwalk, size_t *out);

/* Alembic's get_revisions for one identifier; appends to out, which may get
 * REF_BASE / REF_NONE from "-N" walks. */
int lm_revmap_get_revisions(const lm_revmap *m, const char *id, ivec *out)
{
	rnum rn;
	if (resolve_number(m, id, &rn) < 0)
		return -1;
	int rc = 0;
	long long v;
	if (rn.ids.n == 1 && parse_pyint(rn.ids.v[0], &v) && v < 0) {
		for (size_t i = 0; rc == 0 && i < m->real_heads.n; i++) {
			size_t h = m->real_heads.v[i], r;
			if (rn.label && !lm_strv_contains(&m->nodes[h].labels, rn.label))
				continue;
			rc = walk(m, h, v, NULL, 1, &r);
			if (rc == 0)
				iv_push(out, r);
		}
	} else {
		for (size_t i = 0; rc == 0 && i < rn.ids.n; i++) {
			size_t r;
			rc = rev_for_ident(m, rn.ids.v[i], rn.label, &r);
			if (rc == 0)
				iv_push(out, r);
		}
	}
	rnum_dispose(&rn);
	return rc;
}

/* Alembic's get_revision: one revision or REF_NONE ("base"). */
int lm_revmap_get_revision(const lm_revmap *m, const char *id, size_t *out)
{
	rnum rn;
	if (resolve_number(m, id, &rn) < 0)
		return -1;
	int rc;
	if (rn.ids.n > 1)
		rc = lm_revmap_fail(RE_MULTIPLE_HEADS, id,
		                    "Multiple heads are present for given argument '%s'", id);
	else
		rc = rev_for_ident(m, rn.ids.n ? rn.ids.v[0] : NULL, rn.label, out);
	rnum_dispose(&rn);
	return rc;
}

/* Alembic's _walk: |steps| steps up (children, optionally within a branch)
 * or down (parents) from start. REF_NONE as start is "below the bases".
 * Running out gives REF_NONE with no_overwalk, else where the walk stopped;
 * a step with several choices is "Ambiguous walk". */
static int walk(const lm_revmap *m, size_t start, long long steps, const char *label,
                int no_overwalk, size_t *out)
{
	size_t cur = start;
	unsigned long long count =
	        steps < 0 ? (unsigned long long)(-(steps + 1)) + 1 : (unsigned long long)steps;
	ivec kids = {0};
	int rc = 0;
	for (unsigned long long s = 0; s < count; s++) {
		kids.n = 0;
		if (steps > 0) {
			if (cur == REF_BASE) {
				rc = lm_revmap_fail(RE_INTERNAL, NULL, "Can't walk up from 'base'");
				break;
			}
			const ivec *src = cur == REF_NONE ? &m->bases : &m->nodes[cur].next;
			if (label) {
				rc = lm_revmap_filter_for_lineage(m, src->v, src->n, label, 0,
				                                  &kids);
				if (rc < 0)
					break;
			} else {
				for (size_t i = 0; i < src->n; i++)
					iv_push(&kids, src->v[i]);
			}
		} else if (cur != REF_BASE) {
			const ivec *src = cur == REF_NONE ? &m->heads : &m->nodes[cur].down;
			for (size_t i = 0; i < src->n; i++)
				iv_push(&kids, src->v[i]);
			if (!kids.n)
				iv_push(&kids, REF_BASE);
		}
		if (!kids.n) {
			*out = no_overwalk ? REF_NONE : cur;
			iv_free(&kids);
			return 0;
		}
		if (kids.n > 1) {
			rc = lm_revmap_fail(RE_REVISION, NULL, "Ambiguous walk");
			break;
		}
		cur = kids.v[0];
	}
	iv_free(&kids);
	if (rc == 0)
		*out = cur;
	return rc;
}

/* Alembic's relative-destination pattern, (?:(.+?)@)?(\w+)?((?:\+|-)\d+),
 * matched at the start of t (the rest of t is ignored, as re.match does). */
typedef struct relm {
	char *label, *symbol, *relstr;
	long long rel;
} relm;

static void relm_dispose(relm *r)
{
	free(r->label);
	free(r->symbol);
	free(r->relstr);
	memset(r, 0, sizeof *r);
}

static int is_word(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c >= 0x80;
}

static int rel_tail(const char *s, relm *out)
{
	size_t i = 0;
	while (is_word((unsigned char)s[i]))
		i++;
	if ((s[i] != '+' && s[i] != '-') || s[i + 1] < '0' || s[i + 1] > '9')
		return 0;
	size_t j = i + 1;
	while (s[j] >= '0' && s[j] <= '9')
		j++;
	out->symbol = i ? lm_strndup(s, i) : NULL;
	out->relstr = lm_strndup(s + i, j - i);
	out->rel =
	        strtoll(out->relstr, NULL, 10); /* saturates, as good as Python's big ints here */
	return 1;
}

static int rel_match(const char *t, relm *out)
{
	memset(out, 0, sizeof *out);
	for (const char *at = strchr(t, '@'); at; at = strchr(at + 1, '@')) {
		if (at > t && rel_tail(at + 1, out)) {
			out->label = lm_strndup(t, (size_t)(at - t));
			return 1;
		}
	}
	return rel_tail(t, out);
}

static long long llabs_sat(long long v)
{
	return v < 0 ? (v == LLONG_MIN ? LLONG_MAX : -v) : v;
}

/* ---- targets ----------------------------------------------------------- */

/* Alembic's _parse_upgrade_target: the revisions an upgrade (or history
 * walk) goes to, given the current rows `cur`. Entries may be REF_NONE or
 * REF_BASE where a relative target walks off the graph. */
int lm_revmap_parse_upgrade_target(const lm_revmap *m, const lm_strv *cur, const char *target,
                                   int no_overwalk, ivec *targets)
{
	relm rm;
	if (!rel_match(target, &rm))
		return lm_revmap_get_revisions(m, target, targets);
	int rc = 0;
	size_t start = REF_NONE, r = REF_NONE;
	if (rm.rel > 0 && !rm.symbol) {
		const char *start_s = NULL;
		size_t nstart = 1;
		if (rm.label) {
			ivec revs = {0}, sel = {0};
			for (size_t i = 0; rc == 0 && i < cur->n; i++)
				rc = lm_revmap_get_revisions(m, cur->v[i], &revs);
			if (rc == 0)
				rc = lm_revmap_filter_for_lineage(m, revs.v, revs.n, rm.label, 0,
				                                  &sel);
			if (rc == 0 && !sel.n) {
				/* The branch has no current head: start from the
				 * tips of what is applied on it, or from base. */
				word *seen = bs_new(m->n);
				ivec order = {0}, active = {0};
				lm_revmap_reach(m, revs.v, revs.n, ANC_DEPS, seen, &order);
				iv_sort(&order);
				rc = lm_revmap_filter_for_lineage(m, order.v, order.n, rm.label, 0,
				                                  &active);
				if (rc == 0) {
					word *below = bs_new(m->n);
					for (size_t i = 0; i < active.n; i++) {
						const ivec *d = &m->nodes[active.v[i]].ndown;
						for (size_t k = 0; k < d->n; k++)
							bs_set(below, d->v[k]);
					}
					for (size_t i = 0; i < active.n; i++)
						if (!bs_get(below, active.v[i]))
							iv_push(&sel, active.v[i]);
					free(below);
				}
				free(seen);
				iv_free(&order);
				iv_free(&active);
			}
			nstart = sel.n ? sel.n : 1;
			start = sel.n ? sel.v[0] : REF_NONE;
			iv_free(&revs);
			iv_free(&sel);
		} else if (cur->n) {
			nstart = cur->n;
			start_s = cur->v[0];
		}
		if (rc == 0 && nstart > 1)
			rc = lm_revmap_fail(RE_REVISION, NULL,
			                    "Ambiguous upgrade from multiple current revisions");
		if (rc == 0 && start_s)
			rc = lm_revmap_get_revision(m, start_s, &start);
		if (rc == 0)
			rc = walk(m, start, rm.rel, rm.label, no_overwalk, &r);
		if (rc == 0 && r == REF_NONE)
			rc = lm_revmap_fail(RE_REVISION, NULL,
			                    "Relative revision %s didn't produce %lld migrations",
			                    rm.relstr, llabs_sat(rm.rel));
	} else if (rm.rel > 0) {
		rc = lm_revmap_get_revision(m, rm.symbol, &start);
		if (rc == 0)
			rc = walk(m, start, rm.rel, rm.label, no_overwalk, &r);
	} else if (!rm.symbol) {
		rc = lm_revmap_fail(RE_REVISION, NULL,
		                    "Relative revision %lld didn't produce %lld migrations", rm.rel,
		                    llabs_sat(rm.rel));
	} else {
		char *s =
		        rm.label ? lm_sprintf("%s@%s", rm.label, rm.symbol) : lm_strdup(rm.symbol);
		rc = lm_revmap_get_revision(m, s, &start);
		free(s);
		if (rc == 0)
			rc = walk(m, start, rm.rel, NULL, no_overwalk, &r);
	}
	if (rc == 0)
		iv_push(targets, r);
	relm_dispose(&rm);
	return rc;
}

/* Alembic's _get_all_current: the rows and all they imply, reduced to the
 * revisions with no child (along down_revision) in that set; map order. */
static int all_current(const lm_revmap *m, const lm_strv *rows, ivec *out)
{
	ivec top = {0};
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < rows->n; i++)
		rc = lm_revmap_get_revisions(m, rows->v[i], &top);
	if (rc == 0) {
		word *set = bs_new(m->n);
		lm_revmap_reach(m, top.v, top.n, ANC_DEPS, set, NULL);
		for (size_t i = 0; i < m->n; i++) {
			if (!bs_get(set, i))
				continue;
			const ivec *nx = &m->nodes[i].next;
			size_t k = 0;
			while (k < nx->n && !bs_get(set, nx->v[k]))
				k++;
			if (k == nx->n)
				iv_push(out, i);
		}
		free(set);
	}
	iv_free(&top);
	return rc;
}

static const char multiple_heads_warning[] =
        "downgrade -1 from multiple heads is ambiguous; this usage will be disallowed in a future "
        "release.";

/* Alembic's _parse_downgrade_target: the revision a downgrade goes to
 * (REF_NONE or REF_BASE for base) and the branch it is restricted to. */
int lm_revmap_parse_downgrade_target(const lm_revmap *m, const lm_strv *cur, const char *target,
                                     int no_overwalk, char **label_out, size_t *rev_out,
                                     lm_strv *warnings)
{
	*label_out = NULL;
	relm rm;
	int rc = 0;
	size_t start = REF_NONE, r = REF_NONE;
	if (!rel_match(target, &rm)) {
		const char *at = strrchr(target, '@');
		rc = lm_revmap_get_revision(m, at ? at + 1 : target, rev_out);
		if (rc == 0 && at && at > target)
			*label_out = lm_strndup(target, (size_t)(at - target));
		return rc;
	}
	if (rm.rel >= 0) {
		if (!rm.symbol) {
			rc = lm_revmap_fail(RE_REVISION, NULL,
			                    "Relative revision %s didn't produce %lld migrations",
			                    rm.relstr, llabs_sat(rm.rel));
		} else {
			rc = lm_revmap_get_revision(m, rm.symbol, &start);
			if (rc == 0)
				rc = walk(m, start, rm.rel, rm.label, no_overwalk, &r);
			if (rc == 0 && r == REF_NONE)
				rc = lm_revmap_fail(RE_REVISION, NULL, "Walked too far");
		}
		if (rc == 0) {
			*label_out = rm.label;
			rm.label = NULL;
			*rev_out = r;
		}
		relm_dispose(&rm);
		return rc;
	}
	int relative_revision = rm.symbol == NULL;
	char *symbol = rm.symbol ? lm_strdup(rm.symbol) : NULL;
	char *label = rm.label ? lm_strdup(rm.label) : NULL;
	if (!symbol && label) {
		/* The one current head on the branch, or failing that the one
		 * applied branch tip on it. */
		ivec revs = {0};
		lm_strv picked = {0};
		for (size_t i = 0; rc == 0 && i < cur->n; i++) {
			size_t x;
			rc = rev_for_ident(m, cur->v[i], NULL, &x);
			if (rc == 0)
				iv_push(&revs, x);
		}
		if (rc == 0) {
			ivec sel = {0};
			rc = lm_revmap_filter_for_lineage(m, revs.v, revs.n, label, 0, &sel);
			for (size_t i = 0; rc == 0 && i < revs.n; i++)
				if (iv_has(&sel, revs.v[i]))
					lm_strv_push(&picked, cur->v[i]);
			iv_free(&sel);
		}
		if (rc == 0 && !picked.n) {
			ivec all = {0}, sel = {0};
			rc = all_current(m, cur, &all);
			if (rc == 0)
				rc = lm_revmap_filter_for_lineage(m, all.v, all.n, label, 0, &sel);
			if (rc == 0)
				ids_out(m, &sel, &picked);
			iv_free(&all);
			iv_free(&sel);
		}
		if (rc == 0 && picked.n != 1)
			rc = lm_revmap_fail(
			        RE_INTERNAL, NULL,
			        "Relative downgrade '%s' needs exactly one current revision on "
			        "branch "
			        "'%s'; %zu found",
			        target, label, picked.n);
		if (rc == 0)
			symbol = lm_strdup(picked.v[0]);
		iv_free(&revs);
		lm_strv_dispose(&picked);
	} else if (!symbol) {
		if (!cur->n) {
			rc = lm_revmap_fail(RE_REVISION, NULL,
			                    "Relative revision %s didn't produce %lld migrations",
			                    rm.relstr, llabs_sat(rm.rel));
		} else {
			for (size_t i = 1; i < cur->n; i++) {
				if (strcmp(cur->v[i], cur->v[0]) != 0) {
					if (warnings)
						lm_strv_push(warnings, multiple_heads_warning);
					break;
				}
			}
			symbol = lm_strdup(cur->v[0]);
			/* Alembic restricts the walk to the first row's branch
			 * by using that row as the branch name. */
			label = lm_strdup(cur->v[0]);
		}
	}
	if (rc == 0) {
		char *s = label ? lm_sprintf("%s@%s", label, symbol) : lm_strdup(symbol);
		rc = lm_revmap_get_revision(m, s, &start);
		free(s);
	}
	if (rc == 0)
		rc = walk(m, start, rm.rel, NULL, no_overwalk, &r);
	if (rc == 0 && r == REF_NONE) {
		if (relative_revision)
			rc = lm_revmap_fail(RE_REVISION, NULL,
			                    "Relative revision %s didn't produce %lld migrations",
			                    rm.relstr, llabs_sat(rm.rel));
		else
			rc = lm_revmap_fail(RE_REVISION, NULL, "Walked too far");
	}
	if (rc == 0) {
		*label_out = label;
		label = NULL;
		*rev_out = r;
	}
	free(label);
	free(symbol);
	relm_dispose(&rm);
	return rc;
}

/* ---- ordering ------------------------------------------------------------ */

typedef struct topo_head {
	size_t rev;
	word *anc; /* rev and all its ancestors (with dependencies) */
} topo_head;

static word *ancestors_of(const lm_revmap *m, size_t r)
{
	word *b = bs_new(m->n);
	lm_revmap_reach(m, &r, 1, ANC_DEPS, b, NULL);
	return b;
}

/* Alembic's _topological_sort: emits every revision of `todo` (cleared as
 * it goes), newest first. It walks down from the heads in map order, one
 * branch at a time, and switches to another pending head whenever the next
 * revision is that head's ancestor, so a branch is emitted down to where it
 * joins before the next one starts. Linear stretches cost O(1) per step. */
int lm_revmap_topo_sort(const lm_revmap *m, word *todo, const ivec *heads, ivec *out)
{
	ivec start = {0};
	for (size_t i = 0; i < heads->n; i++)
		if (heads->v[i] < m->n && bs_get(todo, heads->v[i]))
			iv_push_unique(&start, heads->v[i]);
	iv_sort(&start);

	size_t nh = start.n, caph = start.n + 4;
	topo_head *h = lm_malloc(caph * sizeof *h);
	word *is_head = bs_new(m->n);
	for (size_t i = 0; i < nh; i++) {
		h[i].rev = start.v[i];
		h[i].anc = ancestors_of(m, start.v[i]);
		bs_set(is_head, start.v[i]);
	}
	iv_free(&start);

	ivec add = {0};
	size_t idx = 0;
	while (nh) {
		size_t cand = h[idx].rev;
		size_t j;
		for (j = 0; j < nh; j++)
			if (j != idx && bs_get(h[j].anc, cand))
				break;
		if (j < nh) {
			idx = j; /* a pending head descends from cand: it goes first */
			continue;
		}
		if (bs_get(todo, cand)) {
			iv_push(out, cand);
			bs_clr(todo, cand);
		}
		const node *d = &m->nodes[cand];
		add.n = 0;
		for (size_t k = 0; k < d->ndown.n; k++)
			if (bs_get(todo, d->ndown.v[k]) && !bs_get(is_head, d->ndown.v[k]))
				iv_push(&add, d->ndown.v[k]);
		bs_clr(is_head, cand);
		if (!add.n) {
			free(h[idx].anc);
			memmove(&h[idx], &h[idx + 1], (nh - idx - 1) * sizeof *h);
			nh--;
			idx = idx ? idx - 1 : 0;
			continue;
		}
		h[idx].rev = add.v[0];
		bs_set(is_head, add.v[0]);
		if (!d->normdeps.n && d->down.n == 1) {
			bs_clr(h[idx].anc, cand);
		} else {
			free(h[idx].anc);
			h[idx].anc = ancestors_of(m, add.v[0]);
			for (size_t k = 1; k < add.n; k++) {
				if (nh == caph) {
					caph *= 2;
					h = lm_realloc(h, caph * sizeof *h);
				}
				h[nh].rev = add.v[k];
				h[nh].anc = ancestors_of(m, add.v[k]);
				bs_set(is_head, add.v[k]);
				nh++;
			}
		}
	}
	iv_free(&add);
	free(h);
	free(is_head);
	for (size_t i = 0; i < m->n; i++)
		if (bs_get(todo, i))
			return lm_revmap_fail(
			        RE_INTERNAL, NULL,
			        "Revision %s can't be ordered: it is not reachable from the "
			        "requested revisions",
			        rid(m, i));
	return 0;
}

/* ---- public resolution ------------------------------------------------------ */

int lm_revmap_resolve_raw(const lm_revmap *m, const char *ident, lm_strv *out)
{
	if (lm_revmap_not_built(m))
		return -1;
	ivec v = {0};
	int rc = lm_revmap_get_revisions(m, ident, &v);
	if (rc == 0) {
		for (size_t i = 0; i < v.n; i++) {
			if (v.v[i] == REF_BASE)
				lm_strv_push(out, "base");
			else if (v.v[i] == REF_NONE)
				lm_strv_push_own(out, NULL);
			else
				lm_strv_push(out, rid(m, v.v[i]));
		}
	}
	iv_free(&v);
	return rc < 0 ? lm_revmap_report(NULL) : 0;
}

int lm_revmap_resolve(const lm_revmap *m, const char *ident, lm_strv *out)
{
	if (lm_revmap_not_built(m))
		return -1;
	ivec v = {0};
	int rc = lm_revmap_get_revisions(m, ident, &v);
	for (size_t i = 0; rc == 0 && i < v.n; i++)
		if (v.v[i] >= m->n)
			rc = lm_revmap_fail(RE_RESOLUTION, ident,
			                    "Relative revision %s walks off the graph", ident);
	if (rc == 0)
		ids_out(m, &v, out);
	iv_free(&v);
	return rc < 0 ? lm_revmap_report(NULL) : 0;
}

int lm_revmap_resolve_one(const lm_revmap *m, const char *ident, const lm_revision **out)
{
	*out = NULL;
	if (lm_revmap_not_built(m))
		return -1;
	size_t r;
	if (lm_revmap_get_revision(m, ident, &r) < 0)
		return lm_revmap_report(NULL);
	*out = r < m->n ? &m->revs[r] : NULL;
	return 0;
}

int lm_revmap_current(const lm_revmap *m, const lm_strv *rows, lm_strv *out)
{
	if (lm_revmap_not_built(m))
		return -1;
	ivec v = {0};
	int rc = all_current(m, rows, &v);
	if (rc == 0)
		ids_out(m, &v, out);
	iv_free(&v);
	return rc < 0 ? lm_revmap_report(NULL) : 0;
}

void lm_revmap_applied(const lm_revmap *m, const lm_strv *rows, lm_strv *applied, lm_strv *unknown)
{
	ivec top = {0};
	for (size_t i = 0; i < rows->n; i++) {
		size_t r = rev_find(m, rows->v[i]);
		if (r == REF_NONE)
			lm_strv_push(unknown, rows->v[i]);
		else
			iv_push(&top, r);
	}
	word *set = bs_new(m->n);
	lm_revmap_reach(m, top.v, top.n, ANC_ALL, set, NULL);
	for (size_t i = 0; i < m->n; i++)
		if (bs_get(set, i))
			lm_strv_push(applied, rid(m, i));
	free(set);
	iv_free(&top);
}

/* ---- docstrings ------------------------------------------------------------ */

/* The docstring Alembic prints: longdoc is the stripped docstring, doc its
 * first paragraph. Revisions without a docstring fall back to the message. */
const char *lm_revision_longdoc_span(const lm_revision *r, size_t *n)
{
	const char *d = r->doc && *r->doc ? r->doc : (r->message ? r->message : "");
	const char *e = d + strlen(d);
	while (*d == ' ' || *d == '\t' || *d == '\n' || *d == '\r' || *d == '\f' || *d == '\v')
		d++;
	while (e > d && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r' ||
	                 e[-1] == '\f' || e[-1] == '\v'))
		e--;
	*n = (size_t)(e - d);
	return d;
}

const char *lm_revision_doc_span(const lm_revision *r, size_t *n)
{
	const char *d = lm_revision_longdoc_span(r, n);
	for (size_t i = 0; i + 1 < *n; i++)
		if (d[i] == '\n' && d[i + 1] == '\n') {
			*n = i;
			break;
		}
	return d;
}

char *lm_revision_longdoc(const lm_revision *r)
{
	size_t n;
	const char *d = lm_revision_longdoc_span(r, &n);
	return lm_strndup(d, n);
}

char *lm_revision_doc(const lm_revision *r)
{
	size_t n;
	const char *d = lm_revision_doc_span(r, &n);
	return lm_strndup(d, n);
}

/* ---- the revision-id grammar ------------------------------------------- */

int lm_revmap_check_id(const char *id)
{
	size_t n = strlen(id);
	if (n == 0) {
		lm_error_set("A revision identifier must not be empty");
		return -1;
	}
	if (n > LM_REV_ID_MAX) {
		lm_error_set("Revision identifier '%.*s...' is longer than %d characters (the "
		             "version table's version_num column)",
		             LM_REV_ID_MAX, id, LM_REV_ID_MAX);
		return -1;
	}
	/* Alembic's four, then what would let an id leave the versions folder
	 * (path separators), close a Lua string or comment of the file that
	 * names it (quotes, brackets), or split a line (spaces, controls). */
	static const char illegal[] = " \"'+,-/:@[\\]`";
	/* The usual id (hex digits, letters, '_') in one pass: every byte
	 * below '0' (controls, space, the punctuation above, '.') and the
	 * other illegal ones send it to the exact check below. */
	int suspect = 0;
	for (const unsigned char *p = (const unsigned char *)id; *p && !suspect; p++)
		suspect = *p < '0' || *p == ':' || *p == '@' || (*p >= '[' && *p <= ']') ||
		          *p == '`' || *p == 0x7f;
	if (!suspect)
		return 0;
	char seen[sizeof illegal] = {0};
	int other = 0;
	for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
		const char *c = *p ? strchr(illegal, *p) : NULL;
		if (c)
			seen[c - illegal] = 1;
		else if (*p < 0x20 || *p == 0x7f)
			other = 1;
	}
	if (id[0] == '.')
		other = 1;
	lm_buf b = {0};
	for (size_t i = 0; i + 1 < sizeof illegal; i++) {
		if (!seen[i])
			continue;
		if (b.len)
			lm_buf_puts(&b, ", ");
		lm_buf_putc(&b, illegal[i]);
	}
	int rc = 0;
	if (b.len) {
		/* Alembic's message: the characters sorted, joined by ", " */
		lm_error_set("Character(s) '%s' not allowed in revision identifier '%s'",
		             lm_buf_str(&b), id);
		rc = -1;
	} else if (other) {
		lm_error_set("Revision identifier '%s' may not start with '.' or hold control "
		             "characters",
		             id);
		rc = -1;
	}
	lm_buf_dispose(&b);
	return rc;
}
