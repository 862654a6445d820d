/*
 * revmap.c — the revision DAG with Alembic's semantics (RevisionMap,
 * ScriptDirectory._upgrade_revs/_downgrade_revs/_stamp_revs, HeadMaintainer).
 *
 * Revisions are referred to by their index in load order. Sets of revisions
 * are bitsets over those indices, lists are index vectors kept in the order
 * Alembic would produce them wherever Alembic's order is deterministic (and
 * in map order where Alembic iterates a Python set). Every lookup by name
 * goes through one hash table of "map keys" (revision ids, then branch
 * labels, as in Alembic's _revision_map), and prefix lookups through the
 * same keys sorted, so nothing scans the map per lookup.
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

/* Pseudo-revisions. REF_NONE is Alembic's None (the position below every
 * base, or a walk that went off the graph); REF_BASE is the string "base"
 * that a downward walk yields when it steps below a base. */
#define REF_NONE ((size_t)-1)
#define REF_BASE ((size_t)-2)

/* ---- small containers ------------------------------------------------ */

typedef struct ivec {
	size_t *v;
	size_t n, cap;
} ivec;

static void iv_push(ivec *a, size_t x)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 4;
		a->v = lm_realloc(a->v, a->cap * sizeof *a->v);
	}
	a->v[a->n++] = x;
}

static int iv_has(const ivec *a, size_t x)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i] == x)
			return 1;
	return 0;
}

static void iv_push_unique(ivec *a, size_t x)
{
	if (!iv_has(a, x))
		iv_push(a, x);
}

static void iv_free(ivec *a)
{
	free(a->v);
	a->v = NULL;
	a->n = a->cap = 0;
}

typedef uint64_t word;

static word *bs_new(size_t n)
{
	return lm_calloc((n + 63) / 64 + 1, sizeof(word));
}

static int bs_get(const word *b, size_t i)
{
	return (int)((b[i / 64] >> (i % 64)) & 1u);
}

static void bs_set(word *b, size_t i)
{
	b[i / 64] |= (word)1 << (i % 64);
}

static void bs_clr(word *b, size_t i)
{
	b[i / 64] &= ~((word)1 << (i % 64));
}

static void bs_zero(word *b, size_t n)
{
	memset(b, 0, ((n + 63) / 64 + 1) * sizeof(word));
}

/* ---- the map ----------------------------------------------------------- */

typedef struct node {
	ivec down;      /* versioned down revisions, declared order */
	ivec deps;      /* depends_on resolved to revisions */
	ivec normdeps;  /* deps not already deps of an ancestor */
	ivec ndown;     /* down + normdeps, deduplicated: Alembic's _normalized_down_revisions */
	ivec alldown;   /* down + deps, deduplicated: _all_down_revisions */
	ivec next;      /* versioned children, map order */
	ivec allnext;   /* children incl. dependents, map order */
	lm_strv labels; /* branch labels after propagation */
} node;

struct lm_revmap {
	lm_revision *revs;
	size_t n, cap;
	node *nodes;
	int built;

	/* Alembic's map keys: every revision id (load order), then every
	 * declared branch label. keyrev is the revision a key stands for. */
	const char **keys;
	size_t *keyrev;
	size_t nkeys;
	size_t *slots; /* open addressing, key index + 1, 0 = empty */
	size_t nslots;
	size_t *sorted;     /* key indices in byte order, for prefix lookups */
	size_t base_values; /* map values with no down_revision, label keys included */

	ivec heads, real_heads, bases, real_bases;

	/* Caches, filled lazily by const queries (single-threaded use). */
	size_t lin_rev; /* lineage (ancestors and descendants) of one revision */
	int lin_deps;
	word *lin_bits;
};

/* ---- errors ------------------------------------------------------------ */

enum {
	RE_RESOLUTION = 1, /* ResolutionError: the CLI says "Can't locate revision ..." */
	RE_MULTIPLE_HEADS, /* MultipleHeads */
	RE_RANGE,          /* RangeNotAncestorError */
	RE_REVISION,       /* RevisionError: message printed as is */
	RE_INTERNAL,       /* where Alembic crashes (AssertionError, KeyError) */
};

static struct {
	int kind;
	char *arg; /* ResolutionError / MultipleHeads argument */
	char *msg;
} rerr;

static int fail(int kind, const char *arg, const char *fmt, ...) LM_PRINTF(3, 4);

static int fail(int kind, const char *arg, const char *fmt, ...)
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

/* How one command words Alembic's exceptions (ScriptDirectory.
 * _catch_revision_errors and its arguments at that call site). */
typedef struct cli_ctx {
	const char *ancestor; /* "upgrade"/"downgrade": "Destination X is not a valid ..." */
	const char *start, *end;
	const char *multiple_heads; /* full replacement message, or NULL */
} cli_ctx;

static int report(const cli_ctx *c)
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

/* ---- construction ---------------------------------------------------- */

lm_revmap *lm_revmap_new(void)
{
	lm_revmap *m = lm_calloc(1, sizeof *m);
	m->lin_rev = REF_NONE;
	return m;
}

void lm_revision_dispose(lm_revision *r)
{
	free(r->id);
	lm_strv_dispose(&r->down);
	lm_strv_dispose(&r->labels);
	lm_strv_dispose(&r->depends);
	free(r->message);
	free(r->doc);
	free(r->path);
	free(r->create_date);
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
		lm_strv_dispose(&d->labels);
	}
	free(m->nodes);
	m->nodes = NULL;
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

static const char *rid(const lm_revmap *m, size_t i)
{
	return m->revs[i].id;
}

/* ---- traversal ------------------------------------------------------- */

enum rel {
	ANC_DEPS,    /* _normalized_down_revisions */
	ANC_NODEPS,  /* _versioned_down_revisions */
	ANC_ALL,     /* _all_down_revisions */
	DESC_DEPS,   /* _all_nextrev */
	DESC_NODEPS, /* nextrev */
};

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
static void reach(const lm_revmap *m, const size_t *starts, size_t nstarts, int rel, word *seen,
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

/* reach() with Alembic's check=True: fails with "Requested revision X
 * overlaps with other requested revisions Y" when one start lies on the path
 * of another. */
static int reach_checked(const lm_revmap *m, const ivec *starts, int rel, word *seen)
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
			rc = fail(
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
	reach(m, &r, 1, deps ? ANC_DEPS : ANC_NODEPS, mm->lin_bits, NULL);
	/* reach() stops at marked nodes, so the descendant pass starts afresh
	 * from r's children with r itself unmarked again. */
	word *desc = bs_new(m->n);
	reach(m, &r, 1, deps ? DESC_DEPS : DESC_NODEPS, desc, NULL);
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

/* Adds to a revision's labels, kept sorted: Alembic holds them in a Python
 * set, whose order varies from run to run; sorted is as good as any order
 * and the same every time. */
static void label_add(lm_strv *dst, const char *label)
{
	if (lm_strv_contains(dst, label))
		return;
	lm_strv_push(dst, label);
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
	reach(m, m->heads.v, m->heads.n, ANC_NODEPS, up, NULL);
	reach(m, m->bases.v, m->bases.n, DESC_NODEPS, dn, NULL);
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
		reach(m, m->real_heads.v, m->real_heads.n, ANC_ALL, up, NULL);
		reach(m, m->real_bases.v, m->real_bases.n, DESC_DEPS, dn, NULL);
		for (size_t i = 0; i < (m->n + 63) / 64 + 1; i++)
			up[i] &= dn[i];
		for (size_t i = 0; i < m->n && rc == 0; i++)
			if (!bs_get(up, i))
				rc = cycle_error(m, "Dependency cycle", up);
	}
	free(up);
	free(dn);
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
		reach(m, d->down.v, d->down.n, ANC_NODEPS, seen, &order);
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
		reach(m, &i, 1, DESC_NODEPS, seen, &order);
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

int lm_revmap_build(lm_revmap *m)
{
	reset_derived(m);

	/* What Alembic's Revision() constructor refuses, in load order. */
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
		static const char illegal[] = "+-:@"; /* sorted, as Alembic lists them */
		lm_buf b = {0};
		for (const char *c = illegal; *c; c++) {
			if (strchr(r->id, *c)) {
				if (b.len)
					lm_buf_puts(&b, ", ");
				lm_buf_putc(&b, *c);
			}
		}
		if (b.len) {
			lm_error_set("Character(s) '%s' not allowed in revision identifier '%s'",
			             lm_buf_str(&b), r->id);
			lm_buf_dispose(&b);
			return -1;
		}
	}

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
		if (key_find(m, m->revs[i].id) != REF_NONE) {
			/* Alembic only warns and lets the later file win; two files
			 * claiming one id is always a mistake, so refuse it. */
			lm_error_set("Revision %s is present more than once", m->revs[i].id);
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

	m->nodes = lm_calloc(m->n ? m->n : 1, sizeof *m->nodes);
	for (size_t i = 0; i < m->n; i++) {
		const lm_revision *r = &m->revs[i];
		node *d = &m->nodes[i];
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
	for (size_t i = 0; i < m->n; i++) {
		node *d = &m->nodes[i];
		for (size_t k = 0; k < d->alldown.n; k++) {
			node *p = &m->nodes[d->alldown.v[k]];
			iv_push_unique(&p->allnext, i);
			if (iv_has(&d->down, d->alldown.v[k]))
				iv_push_unique(&p->next, i);
		}
	}
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
	if (detect_cycles(m) < 0)
		return -1;
	normalize_deps(m);
	propagate_labels(m);

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
	m->built = 1;
	return 0;
}

static void ids_out(const lm_revmap *m, const ivec *v, lm_strv *out)
{
	for (size_t i = 0; i < v->n; i++)
		lm_strv_push(out, rid(m, v->v[i]));
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

static int filter_for_lineage(const lm_revmap *m, const size_t *t, size_t nt, const char *check,
                              int deps, ivec *out);

/* Alembic's get_current_head(label): the one versioned head (on the branch). */
static int current_head(const lm_revmap *m, const char *label, size_t *out)
{
	ivec hs = {0};
	int rc = 0;
	if (label) {
		rc = filter_for_lineage(m, m->heads.v, m->heads.n, label, 0, &hs);
	} else {
		for (size_t i = 0; i < m->heads.n; i++)
			iv_push(&hs, m->heads.v[i]);
	}
	if (rc == 0 && hs.n > 1) {
		char *arg = label ? lm_sprintf("%s@head", label) : lm_strdup("head");
		rc = fail(RE_MULTIPLE_HEADS, arg,
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
			if (filter_for_lineage(m, m->heads.v, m->heads.n, out->label, 0, &hs) < 0) {
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
static int filter_for_lineage(const lm_revmap *m, const size_t *t, size_t nt, const char *check,
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

static int resolve_branch(const lm_revmap *m, const char *label, size_t *out)
{
	size_t k = key_find(m, label);
	if (k != REF_NONE) {
		*out = m->keyrev[k];
		return 0;
	}
	if (rev_for_ident(m, label, NULL, out) < 0)
		return fail(RE_RESOLUTION, label, "No such branch: '%s'", label);
	return 0;
}

static int sizet_cmp(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? -1 : x > y;
}

/* Sorts revision indices into map order. */
static void iv_sort(ivec *a)
{
	if (a->n > 1)
		qsort(a->v, a->n, sizeof *a->v, sizet_cmp);
}

/* Map keys longer than three characters that start with `prefix`, in map
 * order (Alembic's partial identifier lookup). */
static void prefix_keys(const lm_revmap *m, const char *prefix, ivec *out)
{
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
	if (branch && resolve_branch(m, branch, &branch_rev) < 0)
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
			return fail(RE_INTERNAL, NULL, "Empty revision identifier");
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
			return fail(RE_RESOLUTION, s, "No such revision or branch '%s'%s", s,
			            strlen(s) < 4
			                    ? "; please ensure at least four characters are "
			                      "present for partial revision identifier matches"
			                    : "");
		}
		if (keys.n > 1) {
			lm_buf b = {0};
			for (size_t i = 0; i < keys.n && i < 3; i++)
				lm_buf_printf(&b, "%s'%s'", i ? ", " : "", m->keys[keys.v[i]]);
			int rc = fail(RE_RESOLUTION, s, "Multiple revisions start with '%s': %s...",
			              s, lm_buf_str(&b));
			lm_buf_dispose(&b);
			iv_free(&keys);
			return rc;
		}
		r = m->keyrev[keys.v[0]];
		iv_free(&keys);
	}
	if (branch_rev != REF_NONE && !bs_get(lineage(m, branch_rev, 0), r))
		return fail(RE_RESOLUTION, s, "Revision %s is not a member of branch '%s'",
		            rid(m, r), branch);
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
static int get_revisions(const lm_revmap *m, const char *id, ivec *out)
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
static int get_revision(const lm_revmap *m, const char *id, size_t *out)
{
	rnum rn;
	if (resolve_number(m, id, &rn) < 0)
		return -1;
	int rc;
	if (rn.ids.n > 1)
		rc = fail(RE_MULTIPLE_HEADS, id,
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
				rc = fail(RE_INTERNAL, NULL, "Can't walk up from 'base'");
				break;
			}
			const ivec *src = cur == REF_NONE ? &m->bases : &m->nodes[cur].next;
			if (label) {
				rc = filter_for_lineage(m, src->v, src->n, label, 0, &kids);
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
			rc = fail(RE_REVISION, NULL, "Ambiguous walk");
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
static int parse_upgrade_target(const lm_revmap *m, const lm_strv *cur, const char *target,
                                int no_overwalk, ivec *targets)
{
	relm rm;
	if (!rel_match(target, &rm))
		return get_revisions(m, target, targets);
	int rc = 0;
	size_t start = REF_NONE, r = REF_NONE;
	if (rm.rel > 0 && !rm.symbol) {
		const char *start_s = NULL;
		size_t nstart = 1;
		if (rm.label) {
			ivec revs = {0}, sel = {0};
			for (size_t i = 0; rc == 0 && i < cur->n; i++)
				rc = get_revisions(m, cur->v[i], &revs);
			if (rc == 0)
				rc = filter_for_lineage(m, revs.v, revs.n, rm.label, 0, &sel);
			if (rc == 0 && !sel.n) {
				/* The branch has no current head: start from the
				 * tips of what is applied on it, or from base. */
				word *seen = bs_new(m->n);
				ivec order = {0}, active = {0};
				reach(m, revs.v, revs.n, ANC_DEPS, seen, &order);
				iv_sort(&order);
				rc = filter_for_lineage(m, order.v, order.n, rm.label, 0, &active);
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
			rc = fail(RE_REVISION, NULL,
			          "Ambiguous upgrade from multiple current revisions");
		if (rc == 0 && start_s)
			rc = get_revision(m, start_s, &start);
		if (rc == 0)
			rc = walk(m, start, rm.rel, rm.label, no_overwalk, &r);
		if (rc == 0 && r == REF_NONE)
			rc = fail(RE_REVISION, NULL,
			          "Relative revision %s didn't produce %lld migrations", rm.relstr,
			          llabs_sat(rm.rel));
	} else if (rm.rel > 0) {
		rc = get_revision(m, rm.symbol, &start);
		if (rc == 0)
			rc = walk(m, start, rm.rel, rm.label, no_overwalk, &r);
	} else if (!rm.symbol) {
		rc = fail(RE_REVISION, NULL,
		          "Relative revision %lld didn't produce %lld migrations", rm.rel,
		          llabs_sat(rm.rel));
	} else {
		char *s =
		        rm.label ? lm_sprintf("%s@%s", rm.label, rm.symbol) : lm_strdup(rm.symbol);
		rc = get_revision(m, s, &start);
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
		rc = get_revisions(m, rows->v[i], &top);
	if (rc == 0) {
		word *set = bs_new(m->n);
		reach(m, top.v, top.n, ANC_DEPS, set, NULL);
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
static int parse_downgrade_target(const lm_revmap *m, const lm_strv *cur, const char *target,
                                  int no_overwalk, char **label_out, size_t *rev_out,
                                  lm_strv *warnings)
{
	*label_out = NULL;
	relm rm;
	int rc = 0;
	size_t start = REF_NONE, r = REF_NONE;
	if (!rel_match(target, &rm)) {
		const char *at = strrchr(target, '@');
		rc = get_revision(m, at ? at + 1 : target, rev_out);
		if (rc == 0 && at && at > target)
			*label_out = lm_strndup(target, (size_t)(at - target));
		return rc;
	}
	if (rm.rel >= 0) {
		if (!rm.symbol) {
			rc = fail(RE_REVISION, NULL,
			          "Relative revision %s didn't produce %lld migrations", rm.relstr,
			          llabs_sat(rm.rel));
		} else {
			rc = get_revision(m, rm.symbol, &start);
			if (rc == 0)
				rc = walk(m, start, rm.rel, rm.label, no_overwalk, &r);
			if (rc == 0 && r == REF_NONE)
				rc = fail(RE_REVISION, NULL, "Walked too far");
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
			rc = filter_for_lineage(m, revs.v, revs.n, label, 0, &sel);
			for (size_t i = 0; rc == 0 && i < revs.n; i++)
				if (iv_has(&sel, revs.v[i]))
					lm_strv_push(&picked, cur->v[i]);
			iv_free(&sel);
		}
		if (rc == 0 && !picked.n) {
			ivec all = {0}, sel = {0};
			rc = all_current(m, cur, &all);
			if (rc == 0)
				rc = filter_for_lineage(m, all.v, all.n, label, 0, &sel);
			if (rc == 0)
				ids_out(m, &sel, &picked);
			iv_free(&all);
			iv_free(&sel);
		}
		if (rc == 0 && picked.n != 1)
			rc = fail(RE_INTERNAL, NULL,
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
			rc = fail(RE_REVISION, NULL,
			          "Relative revision %s didn't produce %lld migrations", rm.relstr,
			          llabs_sat(rm.rel));
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
		rc = get_revision(m, s, &start);
		free(s);
	}
	if (rc == 0)
		rc = walk(m, start, rm.rel, NULL, no_overwalk, &r);
	if (rc == 0 && r == REF_NONE) {
		if (relative_revision)
			rc = fail(RE_REVISION, NULL,
			          "Relative revision %s didn't produce %lld migrations", rm.relstr,
			          llabs_sat(rm.rel));
		else
			rc = fail(RE_REVISION, NULL, "Walked too far");
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
	reach(m, &r, 1, ANC_DEPS, b, NULL);
	return b;
}

/* Alembic's _topological_sort: emits every revision of `todo` (cleared as
 * it goes), newest first. It walks down from the heads in map order, one
 * branch at a time, and switches to another pending head whenever the next
 * revision is that head's ancestor, so a branch is emitted down to where it
 * joins before the next one starts. Linear stretches cost O(1) per step. */
static int topo_sort(const lm_revmap *m, word *todo, const ivec *heads, ivec *out)
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
			return fail(RE_INTERNAL, NULL,
			            "Revision %s can't be ordered: it is not reachable from the "
			            "requested revisions",
			            rid(m, i));
	return 0;
}

static char *doc_of(const lm_revision *r);

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
		return fail(RE_INTERNAL, NULL,
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
		return fail(RE_INTERNAL, NULL,
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
		return fail(RE_INTERNAL, NULL,
		            "Can't run %s: revision %s is already in the version table",
		            lm_buf_str(&s->what), rid(s->m, to));
	if (!bs_get(s->in, from))
		return fail(RE_INTERNAL, NULL,
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
	reach(m, other.v, other.n, ANC_DEPS, s->oa_bits, NULL);
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
				rc = fail(RE_INTERNAL, NULL, "Can't run %s: no row to merge",
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
			return fail(RE_INTERNAL, NULL,
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
			return fail(RE_INTERNAL, NULL, "Can't run %s", lm_buf_str(&s->what));
		return sim_delete(s, from->v[0]);
	}
	int from_missing = 0, to_missing = 0;
	for (size_t i = 0; i < from->n; i++)
		from_missing |= !bs_get(s->in, from->v[i]);
	for (size_t i = 0; i < to->n; i++)
		to_missing |= !bs_get(s->in, to->v[i]);
	if (upgrade && (branch_move || from_missing) && to_missing) {
		if (to->n != 1)
			return fail(RE_INTERNAL, NULL, "Can't run %s", lm_buf_str(&s->what));
		return sim_insert(s, to->v[0]);
	}
	if (from->n > 1) {
		int rc = 0;
		for (size_t i = 0; rc == 0 && i + 1 < from->n; i++)
			rc = sim_delete(s, from->v[i]);
		if (rc == 0 && !to->n)
			rc = fail(RE_INTERNAL, NULL, "Can't run %s", lm_buf_str(&s->what));
		if (rc == 0)
			rc = sim_update(s, from->v[from->n - 1], to->v[0]);
		return rc;
	}
	if (from->n != 1 || to->n != 1)
		return fail(RE_INTERNAL, NULL, "Can't run %s", lm_buf_str(&s->what));
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
		char *doc = doc_of(s->rev);
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
		if (get_revisions(m, rows->v[i], out) < 0)
			return -1;
	for (size_t i = 0; i < out->n; i++)
		if (out->v[i] >= m->n)
			return fail(RE_INTERNAL, NULL, "Version table row '%s' is not a revision",
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

static int not_built(const lm_revmap *m)
{
	if (m->built)
		return 0;
	lm_error_set("revision map used before lm_revmap_build()");
	return -1;
}

int lm_revmap_plan_upgrade(const lm_revmap *m, const lm_strv *current, const char *target,
                           lm_plan *out)
{
	memset(out, 0, sizeof *out);
	if (not_built(m))
		return -1;
	cli_ctx c = {.ancestor = "upgrade", .end = target};
	ivec targets = {0}, cur = {0}, order = {0};
	word *need = bs_new(m->n), *have = bs_new(m->n);
	int rc = parse_upgrade_target(m, current, target, 1, &targets);
	for (size_t i = 0; rc == 0 && i < targets.n; i++)
		if (targets.v[i] >= m->n)
			rc = fail(RE_INTERNAL, NULL,
			          "Destination %s is beyond the ends of the revision graph",
			          target);
	if (rc == 0)
		rc = reach_checked(m, &targets, ANC_DEPS, need);
	if (rc == 0)
		rc = rows_resolve(m, current, &cur);
	if (rc == 0)
		rc = reach_checked(m, &cur, ANC_DEPS, have);
	if (rc == 0) {
		for (size_t w = 0; w < (m->n + 63) / 64 + 1; w++)
			need[w] &= ~have[w];
		rc = topo_sort(m, need, &targets, &order);
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
		return report(&c);
	}
	return 0;
}

int lm_revmap_plan_downgrade(const lm_revmap *m, const lm_strv *current, const char *target,
                             lm_plan *out)
{
	memset(out, 0, sizeof *out);
	if (not_built(m))
		return -1;
	cli_ctx c = {.ancestor = "downgrade", .end = target};
	char *label = NULL;
	size_t trev = REF_NONE;
	ivec roots = {0}, heads = {0}, order = {0};
	word *drop = bs_new(m->n), *active = bs_new(m->n);
	int rc = parse_downgrade_target(m, current, target, 1, &label, &trev, &out->warnings);
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
			rc = resolve_branch(m, label, &b);
			if (rc == 0) {
				word *anc = bs_new(m->n);
				reach(m, &b, 1, ANC_NODEPS, anc, NULL);
				size_t w = 0;
				for (size_t i = 0; i < roots.n; i++)
					if (bs_get(anc, roots.v[i]))
						roots.v[w++] = roots.v[i];
				roots.n = w;
				free(anc);
				if (!roots.n)
					rc = fail(
					        RE_REVISION, NULL,
					        "Not a valid downgrade target from current heads");
			}
		}
	}
	if (rc == 0)
		rc = rows_resolve(m, current, &heads);
	if (rc == 0) {
		reach(m, roots.v, roots.n, DESC_DEPS, drop, NULL);
		reach(m, heads.v, heads.n, ANC_DEPS, active, NULL);
		int any = 0;
		for (size_t w = 0; w < (m->n + 63) / 64 + 1; w++) {
			drop[w] &= active[w];
			any |= drop[w] != 0;
		}
		if (trev != REF_NONE && !any && !iv_has(&heads, trev))
			rc = fail(RE_RANGE, NULL, "Nothing to drop");
	}
	if (rc == 0)
		rc = topo_sort(m, drop, &heads, &order);
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
		return report(&c);
	}
	return 0;
}

int lm_revmap_plan_stamp(const lm_revmap *m, const lm_strv *current, const lm_strv *targets,
                         int purge, lm_plan *out)
{
	memset(out, 0, sizeof *out);
	if (not_built(m))
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
		rc = filter_for_lineage(m, heads.v, heads.n, targets->v[i], 1, &f);
		for (size_t k = 0; k < f.n; k++)
			iv_push_unique(&filtered, f.v[k]);
		iv_free(&f);
	}
	for (size_t i = 0; rc == 0 && i < targets->n; i++)
		rc = get_revisions(m, targets->v[i], &dests);
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
			rc = fail(RE_INTERNAL, NULL,
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
		reach(m, &d, 1, DESC_DEPS, rel, NULL);
		for (size_t k = 0; k < filtered.n; k++)
			below |= bs_get(rel, filtered.v[k]);
		bs_zero(rel, m->n);
		reach(m, &d, 1, ANC_DEPS, rel, NULL);
		for (size_t k = 0; k < filtered.n; k++)
			above |= bs_get(rel, filtered.v[k]);
		if (below && above) {
			rc = fail(RE_INTERNAL, NULL,
			          "Can't stamp %s: rows lie both above and below it", rid(m, d));
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
		return report(&c);
	}
	return 0;
}

/* ---- history walk -------------------------------------------------------- */

int lm_revmap_walk(const lm_revmap *m, const char *lower, const char *upper, lm_strv *out)
{
	if (not_built(m))
		return -1;
	if (!lower || !*lower)
		lower = "base";
	if (!upper || !*upper)
		upper = "heads";
	cli_ctx c = {.start = lower, .end = upper};
	lm_strv cur_s = {0};
	lm_strv_push(&cur_s, lower);
	ivec targets = {0}, cur = {0}, order = {0};
	word *need = bs_new(m->n), *have = bs_new(m->n);
	char *low = lm_strdup(lower);
	int rc = parse_upgrade_target(m, &cur_s, upper, 0, &targets);
	for (size_t i = 0; rc == 0 && i < targets.n; i++)
		if (targets.v[i] >= m->n)
			rc = fail(RE_INTERNAL, NULL, "Range end %s is beyond the revision graph",
			          upper);
	const char *at = strchr(lower, '@');
	if (rc == 0 && at) {
		/* "branch@..." as the lower bound keeps only that branch's targets. */
		char *branch = lm_strndup(lower, (size_t)(at - lower));
		size_t br;
		rc = get_revision(m, branch, &br);
		if (rc == 0 && br != REF_NONE && strcmp(rid(m, br), branch) == 0) {
			const lm_strv *l = &m->nodes[br].labels;
			if (l->n != 1) {
				rc = fail(RE_INTERNAL, NULL,
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
		rc = reach_checked(m, &targets, ANC_DEPS, need);
	if (rc == 0)
		rc = get_revisions(m, lower, &cur);
	for (size_t i = 0; rc == 0 && i < cur.n; i++)
		if (cur.v[i] != REF_NONE && (cur.v[i] >= m->n || !bs_get(need, cur.v[i])))
			rc = fail(RE_RANGE, NULL, "Revision %s is not an ancestor of revision %s",
			          lower, upper);
	if (rc == 0 && cur.n && cur.v[0] == REF_NONE) {
		/* A relative lower bound that walked off: Alembic parses it again
		 * as a downgrade target from the upper bound. */
		lm_strv up = {0};
		char *lab = NULL;
		size_t r = REF_NONE;
		lm_strv_push(&up, upper);
		rc = parse_downgrade_target(m, &up, lower, 0, &lab, &r, NULL);
		free(lab);
		lm_strv_dispose(&up);
		cur.n = 0;
		free(low);
		low = NULL;
		if (rc == 0 && r == REF_NONE)
			rc = fail(RE_INTERNAL, NULL, "Range start %s is beyond the revision graph",
			          lower);
		if (rc == 0 && r != REF_BASE) {
			iv_push(&cur, r);
			low = lm_strdup(rid(m, r));
		}
	}
	for (size_t i = 0; rc == 0 && i < cur.n; i++)
		if (cur.v[i] >= m->n)
			rc = fail(RE_INTERNAL, NULL, "Range start %s is beyond the revision graph",
			          lower);
	if (rc == 0)
		rc = reach_checked(m, &cur, ANC_DEPS, have);
	if (rc == 0) {
		for (size_t w = 0; w < (m->n + 63) / 64 + 1; w++)
			need[w] &= ~have[w];
		ivec incl = {0};
		if (low)
			rc = get_revisions(m, low, &incl);
		for (size_t i = 0; rc == 0 && i < incl.n; i++) {
			if (incl.v[i] >= m->n)
				rc = fail(RE_INTERNAL, NULL, "Range start %s is not a revision",
				          lower);
			else
				bs_set(need, incl.v[i]);
		}
		iv_free(&incl);
	}
	if (rc == 0 && cur.n) {
		word *desc = bs_new(m->n);
		rc = reach_checked(m, &cur, DESC_NODEPS, desc);
		for (size_t w = 0; w < (m->n + 63) / 64 + 1; w++)
			need[w] &= desc[w];
		free(desc);
	}
	if (rc == 0)
		rc = topo_sort(m, need, &targets, &order);
	if (rc == 0)
		ids_out(m, &order, out);
	lm_strv_dispose(&cur_s);
	iv_free(&targets);
	iv_free(&cur);
	iv_free(&order);
	free(need);
	free(have);
	free(low);
	return rc < 0 ? report(&c) : 0;
}

/* ---- public resolution ------------------------------------------------------ */

int lm_revmap_resolve_raw(const lm_revmap *m, const char *ident, lm_strv *out)
{
	if (not_built(m))
		return -1;
	ivec v = {0};
	int rc = get_revisions(m, ident, &v);
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
	return rc < 0 ? report(NULL) : 0;
}

int lm_revmap_resolve(const lm_revmap *m, const char *ident, lm_strv *out)
{
	if (not_built(m))
		return -1;
	ivec v = {0};
	int rc = get_revisions(m, ident, &v);
	for (size_t i = 0; rc == 0 && i < v.n; i++)
		if (v.v[i] >= m->n)
			rc = fail(RE_RESOLUTION, ident, "Relative revision %s walks off the graph",
			          ident);
	if (rc == 0)
		ids_out(m, &v, out);
	iv_free(&v);
	return rc < 0 ? report(NULL) : 0;
}

int lm_revmap_resolve_one(const lm_revmap *m, const char *ident, const lm_revision **out)
{
	*out = NULL;
	if (not_built(m))
		return -1;
	size_t r;
	if (get_revision(m, ident, &r) < 0)
		return report(NULL);
	*out = r < m->n ? &m->revs[r] : NULL;
	return 0;
}

int lm_revmap_current(const lm_revmap *m, const lm_strv *rows, lm_strv *out)
{
	if (not_built(m))
		return -1;
	ivec v = {0};
	int rc = all_current(m, rows, &v);
	if (rc == 0)
		ids_out(m, &v, out);
	iv_free(&v);
	return rc < 0 ? report(NULL) : 0;
}

/* ---- formatting ------------------------------------------------------------ */

/* The docstring Alembic prints: longdoc is the stripped docstring, doc its
 * first paragraph. Revisions without a docstring fall back to the message. */
static char *longdoc(const lm_revision *r)
{
	const char *d = r->doc && *r->doc ? r->doc : (r->message ? r->message : "");
	const char *e = d + strlen(d);
	while (*d == ' ' || *d == '\t' || *d == '\n' || *d == '\r' || *d == '\f' || *d == '\v')
		d++;
	while (e > d && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r' ||
	                 e[-1] == '\f' || e[-1] == '\v'))
		e--;
	return lm_strndup(d, (size_t)(e - d));
}

static char *doc_of(const lm_revision *r)
{
	char *l = longdoc(r);
	char *para = strstr(l, "\n\n");
	if (para)
		*para = '\0';
	return l;
}

static void put_list(lm_buf *out, const lm_strv *v)
{
	for (size_t i = 0; i < v->n; i++)
		lm_buf_printf(out, "%s%s", i ? ", " : "", v->v[i]);
}

static void put_ids(const lm_revmap *m, lm_buf *out, const ivec *v)
{
	for (size_t i = 0; i < v->n; i++)
		lm_buf_printf(out, "%s%s", i ? ", " : "", rid(m, v->v[i]));
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
		char *s = doc_of(r);
		lm_buf_printf(out, ", %s", s);
		free(s);
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
	char *l = longdoc(r);
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

void lm_revmap_format_short(const lm_revmap *m, const lm_revision *r, int verbose, lm_buf *out)
{
	if (verbose) {
		log_entry(m, index_of(m, r), 0, out);
		lm_buf_putc(out, '\n');
		return;
	}
	head_only(m, index_of(m, r), 1, 0, 0, 0, 0, out);
	lm_buf_putc(out, '\n');
}

void lm_revmap_format_current(const lm_revmap *m, const lm_revision *r, int verbose, lm_buf *out)
{
	if (verbose) {
		log_entry(m, index_of(m, r), 0, out);
		lm_buf_putc(out, '\n');
		return;
	}
	head_only(m, index_of(m, r), 0, 0, 0, 1, 0, out);
	lm_buf_putc(out, '\n');
}

void lm_revmap_format_history(const lm_revmap *m, const lm_revision *r, int verbose,
                              const lm_strv *current, lm_buf *out)
{
	int cur = current && lm_strv_contains(current, r->id);
	if (verbose) {
		log_entry(m, index_of(m, r), cur, out);
		lm_buf_putc(out, '\n');
		return;
	}
	head_only(m, index_of(m, r), 1, 1, 1, 1, cur, out);
	lm_buf_putc(out, '\n');
}

void lm_revmap_format_show(const lm_revmap *m, const lm_revision *r, const lm_strv *current,
                           lm_buf *out)
{
	log_entry(m, index_of(m, r), current && lm_strv_contains(current, r->id), out);
	lm_buf_putc(out, '\n');
}

int lm_revmap_format_branches(const lm_revmap *m, int verbose, lm_buf *out)
{
	lm_strv order = {0};
	if (lm_revmap_walk(m, "base", "heads", &order) < 0)
		return -1;
	for (size_t k = 0; k < order.n; k++) {
		size_t i = rev_find(m, order.v[k]);
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
	lm_strv_dispose(&order);
	return 0;
}
