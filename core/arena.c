/*
 * arena.c — size-class allocator for the Lua state (see arena.h).
 *
 * The range is reserved PROT_NONE, so that it costs no commit charge
 * under strict overcommit, and opened for writing 2 MiB at a time as the
 * bump pointer reaches it. A freed small block goes on the free list of
 * its class. Its memory stays the process's until lm_arena_trim, which a
 * long command calls between its phases: the free blocks that make long
 * runs leave the lists, their pages go back to the kernel, and the runs
 * are carved with a bump pointer, as the range's tail is, before it.
 */
#define _DEFAULT_SOURCE
#include "arena.h"

#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util.h"

#ifdef LM_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/lsan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* LeakSanitizer does not look inside this range for pointers unless told:
 * a large block (malloc's) that only a Lua object points to would be
 * reported as leaked by a process that exits without lua_close
 * (os.exit). Each part is registered as it opens. */
static void lsan_watch(void *p, size_t n, int on)
{
#ifdef LM_ASAN
	if (on)
		__lsan_register_root_region(p, n);
	else
		__lsan_unregister_root_region(p, n);
#else
	(void)p, (void)n, (void)on;
#endif
}

enum {
	STEP = 16, /* class width, and the alignment of every block */
	MAX_SMALL = 512,
	NCLASS = MAX_SMALL / STEP + 1, /* class 0 is unused */
};
/* The range is opened for writing a chunk at a time. */
#define CHUNK ((size_t)2 << 20)
#define RESERVE ((size_t)256 << 20)

/* A run of free memory whose pages lm_arena_trim gave back, carved again
 * with a bump pointer before the range's tail is. */
typedef struct spare {
	char *start, *end;
} spare;

struct lm_arena {
	char *base, *cur, *open, *limit;
	void *free[NCLASS];
	/* the spare run being carved ([scur, send)), then the rest in order */
	char *scur, *send;
	spare *spares;
	size_t nspares, next_spare;
};

lm_arena *lm_arena_new(void)
{
	lm_arena *a = calloc(1, sizeof *a);
	if (!a)
		return NULL;
	a->base =
	        mmap(NULL, RESERVE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (a->base == MAP_FAILED) {
		free(a);
		return NULL;
	}
	a->cur = a->open = a->base;
	a->limit = a->base + RESERVE;
#ifdef MADV_NOHUGEPAGE
	/* 4 KiB pages, even where the system's setting is "always". A huge
	 * page is zeroed whole at its first touch, and the Lua heap is either
	 * too small to fill one (heads, current: about 120 pages of the first)
	 * or grows through many (an upgrade): on the development VM every
	 * command measured as fast or faster without them (interleaved runs:
	 * heads 5 % faster, current and an upgrade of 1,000 revisions the same
	 * within noise; tests/bench/README.md). malloc's heap keeps its first
	 * block in a huge page (lm_heap_prefer_huge_pages): SQLite's schema
	 * fills it, and `current` is 5 % slower without it. */
	(void)madvise(a->base, RESERVE, MADV_NOHUGEPAGE);
#endif
	return a;
}

void lm_arena_free(lm_arena *a)
{
	if (!a)
		return;
	free(a->spares);
	/* a sanitizer must not keep the poison for what maps here next */
	UNPOISON(a->base, (size_t)(a->open - a->base));
	for (char *p = a->base; p < a->open; p += CHUNK)
		lsan_watch(p, CHUNK, 0);
	munmap(a->base, RESERVE);
	free(a);
}

static int owns(const lm_arena *a, const void *p)
{
	return (const char *)p >= a->base && (const char *)p < a->limit;
}

static size_t class_of(size_t n)
{
	return (n + STEP - 1) / STEP;
}

static void give(lm_arena *a, void *p, size_t size);

/* Puts [start, end) on the lists, as blocks of the largest class and one
 * of the rest. */
static void give_run(lm_arena *a, char *start, char *end)
{
	while (end - start >= STEP) {
		size_t n = (size_t)(end - start) < MAX_SMALL ? (size_t)(end - start) : MAX_SMALL;
		give(a, start, n);
		start += n;
	}
}

/* Moves the spare run being carved on to the next one that has room for
 * `size` bytes; what is left of each run passed over goes on the lists.
 * Returns 0 when no spare run is left. */
static int next_spare(lm_arena *a, size_t size)
{
	while (a->next_spare < a->nspares) {
		give_run(a, a->scur, a->send);
		spare *r = &a->spares[a->next_spare++];
		a->scur = r->start;
		a->send = r->end;
		if ((size_t)(a->send - a->scur) >= size)
			return 1;
	}
	return 0;
}

/* A block for n bytes (class c), or NULL when the range cannot give one.
 * A sanitizer sees its n bytes usable and the rest of the class not. */
static void *take(lm_arena *a, size_t c, size_t n)
{
	size_t size = c * STEP;
	void *p = a->free[c];
	if (p) {
		UNPOISON(p, size);
		memcpy(&a->free[c], p, sizeof(void *));
	} else if ((size_t)(a->send - a->scur) >= size || next_spare(a, size)) {
		p = a->scur;
		a->scur += size;
	} else {
		if ((size_t)(a->open - a->cur) < size) {
			if ((size_t)(a->limit - a->open) < CHUNK ||
			    mprotect(a->open, CHUNK, PROT_READ | PROT_WRITE) != 0)
				return NULL;
			POISON(a->open, CHUNK);
			lsan_watch(a->open, CHUNK, 1);
			a->open += CHUNK;
		}
		p = a->cur;
		a->cur += size;
	}
	POISON(p, size);
	UNPOISON(p, n);
	return p;
}

/* Puts the block of `size` bytes on its class's free list. */
static void give(lm_arena *a, void *p, size_t size)
{
	size_t c = class_of(size);
	UNPOISON(p, c * STEP);
	memcpy(p, &a->free[c], sizeof(void *));
	a->free[c] = p;
	POISON(p, c * STEP);
}

static void *alloc_new(lm_arena *a, size_t n)
{
	void *p = n <= MAX_SMALL ? take(a, class_of(n), n) : NULL;
	return p ? p : malloc(n);
}

void *lm_arena_lua_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	lm_arena *a = ud;
	if (!ptr) /* osize is a type tag then */
		return nsize ? alloc_new(a, nsize) : NULL;
	if (!owns(a, ptr)) {
		if (nsize)
			return realloc(ptr, nsize);
		free(ptr);
		return NULL;
	}
	if (nsize == 0) {
		give(a, ptr, osize);
		return NULL;
	}
	if (nsize <= MAX_SMALL && class_of(nsize) == class_of(osize)) {
		POISON(ptr, class_of(osize) * STEP);
		UNPOISON(ptr, nsize);
		return ptr;
	}
	void *q = alloc_new(a, nsize);
	if (!q)
		/* Lua assumes a shrink cannot fail: keep the larger block (it
		 * goes back on a smaller class's list when freed, which wastes
		 * the difference but is safe) */
		return nsize < osize ? ptr : NULL;
	memcpy(q, ptr, nsize < osize ? nsize : osize);
	give(a, ptr, osize);
	return q;
}

/* lm_arena_trim marks the free memory in a bitmap of granules: every block
 * is a multiple of STEP bytes, at a multiple of STEP from base. A block
 * on a smaller class's list than its size (lm_arena_lua_alloc's shrink)
 * is marked for that class only: what is marked is always free. */
static void mark(uint64_t *bits, size_t from, size_t n)
{
	for (size_t g = from; g < from + n; g++)
		bits[g / 64] |= (uint64_t)1 << (g % 64);
}

static int marked(const uint64_t *bits, size_t g)
{
	return (int)(bits[g / 64] >> (g % 64)) & 1;
}

/* The link of a free block (its first bytes), read past the poison. */
static void *link_of(void *p)
{
	void *next;
	UNPOISON(p, sizeof next);
	memcpy(&next, p, sizeof next);
	POISON(p, sizeof next);
	return next;
}

/* Makes p the block after prev on class c's list (prev NULL: its head). */
static void set_link(lm_arena *a, size_t c, char *prev, void *p)
{
	if (!prev) {
		a->free[c] = p;
		return;
	}
	UNPOISON(prev, sizeof p);
	memcpy(prev, &p, sizeof p);
	POISON(prev, sizeof p);
}

/* The whole pages inside run r: the first, and their bytes in *n. */
static char *whole_pages(const spare *r, size_t page, size_t *n)
{
	uintptr_t lo = ((uintptr_t)r->start + page - 1) & ~(uintptr_t)(page - 1);
	uintptr_t hi = (uintptr_t)r->end & ~(uintptr_t)(page - 1);
	*n = hi > lo ? (size_t)(hi - lo) : 0;
	return (char *)lo;
}

/* Runs of free memory with at least this many bytes of whole pages are
 * given back; shorter ones stay on the lists. */
#define MIN_RUN ((size_t)64 << 10)

/* The runs of marked granules (bits: ngran of them) with MIN_RUN bytes of
 * whole pages or more: their number. With out, each is stored there, and
 * the bits of the shorter runs are cleared (a set bit then means "in a
 * run given back"). */
static size_t long_runs(const lm_arena *a, uint64_t *bits, size_t ngran, size_t page, spare *out)
{
	size_t n = 0;
	for (size_t g = 0; g < ngran;) {
		if (!marked(bits, g)) {
			g++;
			continue;
		}
		size_t e = g, bytes;
		while (e < ngran && marked(bits, e))
			e++;
		spare run = {a->base + g * STEP, a->base + e * STEP};
		(void)whole_pages(&run, page, &bytes);
		if (bytes >= MIN_RUN) {
			if (out)
				out[n] = run;
			n++;
		} else if (out) {
			for (size_t k = g; k < e; k++)
				bits[k / 64] &= ~((uint64_t)1 << (k % 64));
		}
		g = e;
	}
	return n;
}

void lm_arena_trim(lm_arena *a)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), bytes;
	/* what is left of the run being carved: a short rest goes on the lists
	 * (a long one is marked below, and stays a run) */
	spare rest = {a->scur, a->send};
	(void)whole_pages(&rest, page, &bytes);
	if (bytes < MIN_RUN) {
		give_run(a, a->scur, a->send);
		a->scur = a->send = NULL;
	}
	size_t ngran = (size_t)(a->cur - a->base) / STEP;
	uint64_t *bits = calloc(ngran / 64 + 1, sizeof *bits);
	if (!bits)
		return; /* nothing is given back, nothing is lost */
	/* what is free: the blocks on the lists, the runs not carved yet */
	for (size_t c = 1; c < NCLASS; c++)
		for (char *p = a->free[c]; p; p = link_of(p))
			mark(bits, (size_t)(p - a->base) / STEP, c);
	if (a->send > a->scur)
		mark(bits, (size_t)(a->scur - a->base) / STEP, (size_t)(a->send - a->scur) / STEP);
	for (size_t i = a->next_spare; i < a->nspares; i++)
		mark(bits, (size_t)(a->spares[i].start - a->base) / STEP,
		     (size_t)(a->spares[i].end - a->spares[i].start) / STEP);
	/* (a run not carved yet only grows by what joins it: it stays long) */
	size_t nruns = long_runs(a, bits, ngran, page, NULL);
	spare *runs = malloc((nruns ? nruns : 1) * sizeof *runs);
	if (!runs) {
		free(bits);
		return;
	}
	(void)long_runs(a, bits, ngran, page, runs);
	/* the lists again, without the blocks of the runs (before their pages
	 * go: the links are in them) */
	for (size_t c = 1; c < NCLASS; c++) {
		char *prev = NULL;
		for (char *p = a->free[c], *next; p; p = next) {
			next = link_of(p);
			if (!marked(bits, (size_t)(p - a->base) / STEP)) {
				set_link(a, c, prev, p);
				prev = p;
			}
		}
		set_link(a, c, prev, NULL);
	}
	free(bits);
	for (size_t i = 0; i < nruns; i++) {
		size_t n;
		char *first = whole_pages(&runs[i], page, &n);
		(void)madvise(first, n, MADV_DONTNEED);
	}
	free(a->spares);
	a->spares = runs;
	a->nspares = nruns;
	a->next_spare = 0;
	a->scur = a->send = NULL;
}

void lm_heap_prefer_huge_pages(void)
{
#if defined(__GLIBC__) && defined(MADV_HUGEPAGE) && !defined(LM_ASAN)
	/* malloc's heap starts with PAD of address space (not memory), and
	 * that range is advised before anything is touched in it: its first
	 * 2 MiB block in a huge page, which is all that a short command uses;
	 * the rest of the pad in 4 KiB pages: each huge page is zeroed whole
	 * at its first touch, which costs a long run more than the faults it
	 * saves (lm_arena_new), and small pages keep its peak memory down (an
	 * upgrade of 10,000 revisions stays under 32 MiB). What the heap grows
	 * beyond the pad has no advice: the system's setting decides. Blocks
	 * up to 4 MiB come from the heap too, and freeing never gives the pad
	 * back to the kernel, so that the advice is not lost with it. */
	const size_t pad = (size_t)8 << 20, huge = (size_t)2 << 20;
	char *start = sbrk(0);
	/* Only whole, aligned 2 MiB blocks of the range can be huge pages, and
	 * a block that has a page mapped before the advice stays in 4 KiB
	 * pages. The malloc below maps the heap's first page; so that it is
	 * the only one, the heap starts one page below a 2 MiB boundary
	 * (moving the break there costs address space only). Else the first
	 * block (up to 2 MiB, all that a short command uses) would be in
	 * small pages, at a random share that made the faults of one command
	 * vary from 120 to 380 from run to run. */
	uintptr_t page = 4096, at = (uintptr_t)start;
	uintptr_t want = ((at + page + huge - 1) & ~(uintptr_t)(huge - 1)) - page;
	if (start != (char *)-1 && want > at && sbrk((intptr_t)(want - at)) != (void *)-1)
		start = (char *)want;
	if (start == (char *)-1 || !mallopt(M_TOP_PAD, (int)pad) ||
	    !mallopt(M_TRIM_THRESHOLD, (int)(2 * pad)) ||
	    !mallopt(M_MMAP_THRESHOLD, (int)((size_t)4 << 20)))
		return;
	/* a block kept through a volatile, so that the compiler cannot
	 * drop the pair: the heap must exist before the advice */
	void *volatile first = malloc(1);
	free(first);
	char *end = sbrk(0);
	uintptr_t lo = ((uintptr_t)start + 4095) & ~(uintptr_t)4095;
	uintptr_t hi = (uintptr_t)start + page + huge; /* the end of the first block */
	if (end != (char *)-1 && (uintptr_t)end > hi) {
		(void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
		(void)madvise((void *)hi, (uintptr_t)end - hi, MADV_NOHUGEPAGE);
	}
#endif
}
