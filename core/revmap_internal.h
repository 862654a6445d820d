/*
 * revmap_internal.h — the revision map seen from inside, for the two stages
 * built on it: plan.c (plans, version-table steps) and listing.c (the history
 * walk and the output formats). Nothing else includes it.
 *
 * Contract: revmap.c alone writes a map; the other stages read its derived
 * edges (struct lm_revmap, node) once lm_revmap_build() has succeeded and
 * never change them. Revisions are named by their index in load order; sets
 * of revisions are bitsets over those indices (word *), lists are index
 * vectors (ivec) whose order is Alembic's wherever Alembic's is deterministic.
 * The functions below are Alembic's RevisionMap methods at that level, as
 * ScriptDirectory and HeadMaintainer use them.
 *
 * Errors: the functions here record Alembic's exception kind with
 * lm_revmap_fail() and return -1; each public entry point then words the
 * error once with lm_revmap_report() as its CLI command does. The record is
 * one static slot (single-threaded use).
 */
#ifndef LM_REVMAP_INTERNAL_H
#define LM_REVMAP_INTERNAL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "revmap.h"
#include "util.h"

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

/* A flag in cap: v is a slice of a block the vector does not own (the
 * map's node slabs, iv_lend), which it never frees; a push beyond the
 * slice moves the items to a block of the vector's own. */
#define IV_LENT ((size_t)1 << (sizeof(size_t) * 8 - 1))

static inline void iv_grow(ivec *a)
{
	size_t cap = a->cap & ~IV_LENT;
	size_t more = cap ? cap * 2 : 4;
	if (a->cap & IV_LENT) {
		size_t *v = lm_malloc(more * sizeof *v);
		if (a->n)
			memcpy(v, a->v, a->n * sizeof *v);
		a->v = v;
	} else {
		a->v = lm_realloc(a->v, more * sizeof *a->v);
	}
	a->cap = more;
}

static inline void iv_push(ivec *a, size_t x)
{
	if (a->n == (a->cap & ~IV_LENT))
		iv_grow(a);
	a->v[a->n++] = x;
}

/* Gives an empty vector room for n items from *slab, which moves past them. */
static inline void iv_lend(ivec *a, size_t **slab, size_t n)
{
	if (!n)
		return;
	a->v = *slab;
	a->cap = n | IV_LENT;
	*slab += n;
}

static inline int iv_has(const ivec *a, size_t x)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i] == x)
			return 1;
	return 0;
}

static inline void iv_push_unique(ivec *a, size_t x)
{
	if (!iv_has(a, x))
		iv_push(a, x);
}

static inline void iv_free(ivec *a)
{
	if (!(a->cap & IV_LENT))
		free(a->v);
	a->v = NULL;
	a->n = a->cap = 0;
}

static inline int sizet_cmp(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? -1 : x > y;
}

/* Sorts revision indices into map order. */
static inline void iv_sort(ivec *a)
{
	if (a->n > 1)
		qsort(a->v, a->n, sizeof *a->v, sizet_cmp);
}

typedef uint64_t word;

static inline word *bs_new(size_t n)
{
	return lm_calloc((n + 63) / 64 + 1, sizeof(word));
}

static inline int bs_get(const word *b, size_t i)
{
	return (int)((b[i / 64] >> (i % 64)) & 1u);
}

static inline void bs_set(word *b, size_t i)
{
	b[i / 64] |= (word)1 << (i % 64);
}

static inline void bs_clr(word *b, size_t i)
{
	b[i / 64] &= ~((word)1 << (i % 64));
}

static inline void bs_zero(word *b, size_t n)
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
	lm_strv labels; /* branch labels after propagation (strings borrowed from revs[]) */
} node;

struct lm_revmap {
	lm_revision *revs;
	size_t n, cap;
	node *nodes;
	/* the room of the nodes' vectors, lent (iv_lend): one block for each
	 * node's own links, one for its children */
	size_t *own_slab, *kid_slab;
	int built;

	/* Alembic's map keys: every revision id (load order), then every
	 * declared branch label. keyrev is the revision a key stands for. */
	const char **keys;
	size_t *keyrev;
	size_t nkeys;
	size_t *slots; /* open addressing, key index + 1, 0 = empty */
	size_t nslots;
	size_t *sorted;     /* key indices in byte order, for prefix lookups (lazily) */
	size_t base_values; /* map values with no down_revision, label keys included */

	ivec heads, real_heads, bases, real_bases;

	/* Caches, filled lazily by const queries (single-threaded use). */
	size_t lin_rev; /* lineage (ancestors and descendants) of one revision */
	int lin_deps;
	word *lin_bits;
};

static inline const char *rid(const lm_revmap *m, size_t i)
{
	return m->revs[i].id;
}

/* Appends the ids of revision indices to out. */
static inline void ids_out(const lm_revmap *m, const ivec *v, lm_strv *out)
{
	for (size_t i = 0; i < v->n; i++)
		lm_strv_push(out, rid(m, v->v[i]));
}

/* ---- errors ------------------------------------------------------------ */

enum {
	RE_RESOLUTION = 1, /* ResolutionError: the CLI says "Can't locate revision ..." */
	RE_MULTIPLE_HEADS, /* MultipleHeads */
	RE_RANGE,          /* RangeNotAncestorError */
	RE_REVISION,       /* RevisionError: message printed as is */
	RE_INTERNAL,       /* where Alembic crashes (AssertionError, KeyError) */
};

/* Records an error of one kind (arg: the ResolutionError / MultipleHeads
 * argument, may be NULL; copied) in the slot. Returns -1. */
int lm_revmap_fail(int kind, const char *arg, const char *fmt, ...) LM_PRINTF(3, 4);

/* How one command words Alembic's exceptions (ScriptDirectory.
 * _catch_revision_errors and its arguments at that call site). */
typedef struct cli_ctx {
	const char *ancestor; /* "upgrade"/"downgrade": "Destination X is not a valid ..." */
	const char *start, *end;
	const char *multiple_heads; /* full replacement message, or NULL */
} cli_ctx;

/* Words the recorded error as the command c describes (NULL: no context)
 * and sets it with lm_error_set. Returns -1. */
int lm_revmap_report(const cli_ctx *c);

/* Sets the error and returns -1 if the map has not been built, else 0. */
int lm_revmap_not_built(const lm_revmap *m);

/* ---- traversal ------------------------------------------------------- */

enum rel {
	ANC_DEPS,    /* _normalized_down_revisions */
	ANC_NODEPS,  /* _versioned_down_revisions */
	ANC_ALL,     /* _all_down_revisions */
	DESC_DEPS,   /* _all_nextrev */
	DESC_NODEPS, /* nextrev */
};

/* Marks in `seen` every revision reachable from starts (inclusive) along
 * `rel`, depth-first as Alembic's _iterate_related_revisions; `order` (may
 * be NULL) receives revisions in the order Alembic yields them. Starts that
 * are not revisions (REF_NONE, REF_BASE) are skipped. */
void lm_revmap_reach(const lm_revmap *m, const size_t *starts, size_t nstarts, int rel, word *seen,
                     ivec *order);
/* lm_revmap_reach() with Alembic's check=True: fails (RE_REVISION) when one
 * start lies on the path of another. Returns 0 or -1. */
int lm_revmap_reach_checked(const lm_revmap *m, const ivec *starts, int rel, word *seen);

/* ---- resolution and targets (all return 0 or -1 with the slot set) ---- */

/* Alembic's get_revisions for one identifier; appends to out, which may get
 * REF_BASE / REF_NONE from "-N" walks. */
int lm_revmap_get_revisions(const lm_revmap *m, const char *id, ivec *out);
/* Alembic's get_revision: one revision, or REF_NONE for "base". */
int lm_revmap_get_revision(const lm_revmap *m, const char *id, size_t *out);
/* Alembic's filter_for_lineage: appends to out the nt targets t related
 * (ancestor or descendant; through depends_on if deps) to what `check`
 * names; all of them when it names nothing. */
int lm_revmap_filter_for_lineage(const lm_revmap *m, const size_t *t, size_t nt, const char *check,
                                 int deps, ivec *out);
/* The revision a branch label (or revision identifier) stands for. */
int lm_revmap_resolve_branch(const lm_revmap *m, const char *label, size_t *out);
/* Alembic's _parse_upgrade_target: appends the revisions an upgrade (or
 * history walk) goes to from the rows `cur`. Entries may be REF_NONE or
 * REF_BASE where a relative target walks off the graph (with no_overwalk,
 * such a walk gives REF_NONE rather than where it stopped). */
int lm_revmap_parse_upgrade_target(const lm_revmap *m, const lm_strv *cur, const char *target,
                                   int no_overwalk, ivec *targets);
/* Alembic's _parse_downgrade_target: the revision a downgrade goes to
 * (REF_NONE or REF_BASE for base) in *rev_out, and the branch it is
 * restricted to in *label_out (caller frees; NULL for none). warnings (may
 * be NULL) receives what Alembic would warn about. */
int lm_revmap_parse_downgrade_target(const lm_revmap *m, const lm_strv *cur, const char *target,
                                     int no_overwalk, char **label_out, size_t *rev_out,
                                     lm_strv *warnings);

/* ---- ordering ------------------------------------------------------------ */

/* Alembic's _topological_sort: appends every revision of `todo` (cleared as
 * it goes) to out, newest first, starting from `heads`. Fails if some
 * revision of todo is not reachable from them. */
int lm_revmap_topo_sort(const lm_revmap *m, word *todo, const ivec *heads, ivec *out);

#endif
