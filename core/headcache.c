/*
 * headcache.c — revision headers kept between runs (see headcache.h).
 *
 * Format: a first line "luamig-headcache <version> <written-at seconds>",
 * then one line per file with tab-separated, backslash-escaped fields:
 * path size ino mtime_s mtime_ns ctime_s ctime_ns id down labels depends
 * message doc create_date checksum seal — lists joined by \x1f, a NULL date
 * as "\N", the checksum in the current scheme (checksum.h), and the seal
 * (lm_word_hash) of the line's bytes before its last tab, in 16 hex digits.
 * A line whose seal does not match is not used: damage that keeps a line's
 * shape (a changed down revision) would otherwise be believed.
 *
 * A line that starts with a tab is a versions folder's: "" dir listed_at
 * ino mtime_s mtime_ns ctime_s ctime_ns names seal, the names of its
 * revision files as the listing begun at listed_at (seconds) found them
 * (joined by \x1f, in listing order). While the folder's own stat is the
 * recorded one, and older than that listing by more than a second, no
 * name was added, removed or renamed in
 * it (POSIX updates a folder's mtime and ctime for each), and the names
 * stand for a listing: at 1,000 revisions, reading the folder costs a
 * tenth of `history`. An older luamig reads such a line as a file's whose
 * path is "", which no file has, and drops it.
 *
 * The file is mapped, not read: its pages are the page cache's, where a
 * read would copy 300 bytes a revision into fresh memory, and a fresh page
 * costs more than the parsing (a fault). It is replaced by rename, never
 * rewritten in place, so a mapping stays whole while another run saves;
 * only another program truncating it in place during a run would end that
 * run with SIGBUS (as with git's mapped index).
 */
#define _DEFAULT_SOURCE /* MAP_POPULATE */
#include "headcache.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cachedir.h"
#include "checksum.h"
#include "util.h"

#define MAGIC "luamig-headcache " LUAMIG_VERSION "-3"
#define LIST_SEP '\x1f'

/* An entry is its line as save() writes it (no '\n'): a line of the mapped
 * file, or one put this run (own). Lines are parsed when asked for, so a
 * command reads only the lines of the files it stats. */
typedef struct entry {
	const char *line;
	size_t len;
	char *own;
	int used;
} entry;

struct lm_headcache {
	char *file;
	const char *map; /* the file, mapped read-only: page-cache pages, no copy */
	size_t map_len;
	long long written_at;
	long long opened_at; /* what this run's save records as written_at */
	entry *e;
	size_t n, cap;
	entry *dirs; /* the folder lines (used: listed from, or put, this run) */
	size_t ndirs, dircap;
	size_t *slots; /* open addressing over e, by path: made at the first miss of the cursor */
	size_t nslots;
	size_t cursor;         /* the entry after the last one found: files come in line order */
	size_t *order, norder; /* the entries used, in the order of use: how save() writes them */
	int dirty;
};

typedef struct span {
	const char *p;
	size_t n;
} span;

/* The character of an escaped field at *i, where "\t", "\n" and "\x"
 * stand for tab, newline and x; *i moves past it. */
static char next_char(span f, size_t *i)
{
	char c = f.p[(*i)++];
	if (c != '\\' || *i == f.n)
		return c;
	c = f.p[(*i)++];
	return c == 't' ? '\t' : c == 'n' ? '\n' : c;
}

/* Whether an escaped field reads s. */
static int span_is(span f, const char *s)
{
	if (!memchr(f.p, '\\', f.n)) /* no escape: the usual path */
		return strncmp(s, f.p, f.n) == 0 && s[f.n] == '\0';
	for (size_t i = 0; i < f.n; s++)
		if (*s != next_char(f, &i))
			return 0;
	return *s == '\0';
}

static int span_is_null(span f)
{
	return f.n == 2 && f.p[0] == '\\' && f.p[1] == 'N';
}

/* Writes the escaped field's text at out, NUL-terminated (at most f.n + 1
 * bytes); returns the end of what it wrote, past the NUL. */
static char *span_copy(span f, char *out)
{
	char *w = out;
	/* runs without an escape copied whole: a docstring has one per line */
	for (size_t i = 0; i < f.n;) {
		const char *bs = memchr(f.p + i, '\\', f.n - i);
		size_t run = bs ? (size_t)(bs - f.p) - i : f.n - i;
		memcpy(w, f.p + i, run);
		w += run;
		i += run;
		if (i < f.n)
			*w++ = next_char(f, &i);
	}
	*w++ = '\0';
	return w;
}

/* span_copy, with "\N" read as "" (a message or docstring has no NULL). */
static char *span_text(span f, char *out)
{
	if (!span_is_null(f))
		return span_copy(f, out);
	*out = '\0';
	return out + 1;
}

/* The escaped field as a new string; NULL for "\N". */
static char *span_dup(span f)
{
	if (span_is_null(f))
		return NULL;
	char *out = lm_malloc(f.n + 1);
	span_copy(f, out);
	return out;
}

static span first_field(const entry *e)
{
	const char *tab = memchr(e->line, '\t', e->len);
	span f = {e->line, tab ? (size_t)(tab - e->line) : e->len};
	return f;
}

static char *cache_file(const char *script_dir)
{
	return lm_cache_file(1, "", script_dir, "idx");
}

/* The index's key of a path as a line writes it (escaped). */
static size_t path_key(span f)
{
	if (!memchr(f.p, '\\', f.n)) /* no escape: the usual path */
		return (size_t)lm_word_hash(f.p, f.n);
	char *path = span_dup(f);
	size_t k = path ? (size_t)lm_word_hash(path, strlen(path)) : 0;
	free(path);
	return k;
}

static void index_add(lm_headcache *c, size_t i)
{
	size_t k = path_key(first_field(&c->e[i])) & (c->nslots - 1);
	while (c->slots[k] != (size_t)-1)
		k = (k + 1) & (c->nslots - 1);
	c->slots[k] = i;
}

static void reindex(lm_headcache *c)
{
	free(c->slots);
	c->nslots = 64;
	while (c->nslots < c->n * 2 + 2)
		c->nslots *= 2;
	c->slots = lm_malloc(c->nslots * sizeof *c->slots);
	memset(c->slots, 0xff, c->nslots * sizeof *c->slots);
	for (size_t i = 0; i < c->n; i++)
		index_add(c, i);
}

/* The entry of path, or NULL. save() writes the lines in the order a run
 * asked for them, which is the order the next run asks in (its listing's):
 * the line after the last one found is tried first, and the index by path
 * is only made when that guess fails. */
static entry *find(lm_headcache *c, const char *path)
{
	if (c->cursor < c->n && span_is(first_field(&c->e[c->cursor]), path))
		return &c->e[c->cursor++];
	if (!c->n)
		return NULL;
	if (!c->slots)
		reindex(c);
	size_t k = (size_t)lm_word_hash(path, strlen(path)) & (c->nslots - 1);
	while (c->slots[k] != (size_t)-1) {
		entry *e = &c->e[c->slots[k]];
		if (span_is(first_field(e), path)) {
			c->cursor = c->slots[k] + 1;
			return e;
		}
		k = (k + 1) & (c->nslots - 1);
	}
	return NULL;
}

/* Marks an entry used: it stays in the cache, at its place in the order of use. */
static void use(lm_headcache *c, entry *e)
{
	if (e->used)
		return;
	e->used = 1;
	if (!c->order)
		c->order = lm_malloc((c->cap ? c->cap : 1) * sizeof *c->order);
	c->order[c->norder++] = (size_t)(e - c->e);
}

/* Splits a line into its n fields (the seal last); 0, or -1 when it has
 * fewer. */
static int split_n(const entry *e, span *f, int n)
{
	const char *p = e->line, *end = e->line + e->len;
	for (int k = 0; k < n; k++) {
		const char *tab = memchr(p, '\t', (size_t)(end - p));
		if (!tab && k < n - 1)
			return -1;
		f[k].p = p;
		f[k].n = (size_t)((tab ? tab : end) - p);
		p = tab ? tab + 1 : end;
	}
	return 0;
}

static int split_fields(const entry *e, span f[16])
{
	return split_n(e, f, 16);
}

/* Whether seal, the line's last field, is the seal of the bytes before it. */
static int sealed(const entry *e, span seal)
{
	if (seal.n != 16 || seal.p + 16 != e->line + e->len)
		return 0;
	unsigned long long h = lm_word_hash(e->line, (size_t)(seal.p - 1 - e->line));
	static const char hex[] = "0123456789abcdef";
	for (int i = 15; i >= 0; i--, h >>= 4)
		if (seal.p[i] != hex[h & 15])
			return 0;
	return 1;
}

/* A decimal field as written by save() (an optional '-', digits); anything
 * else reads as -1, which matches no stat and so reads the file again. */
static long long number(span f)
{
	size_t i = f.n && f.p[0] == '-';
	int neg = (int)i;
	if (i == f.n)
		return -1;
	unsigned long long v = 0;
	if (f.n - i <= 18) { /* cannot overflow: one test a digit */
		for (; i < f.n; i++) {
			unsigned d = (unsigned)(unsigned char)f.p[i] - '0';
			if (d > 9)
				return -1;
			v = v * 10 + d;
		}
	}
	for (; i < f.n; i++) {
		char c = f.p[i];
		if (c < '0' || c > '9' || v > 922337203685477580ULL)
			return -1;
		v = v * 10 + (unsigned)(c - '0');
	}
	if (v > (unsigned long long)LLONG_MAX)
		return -1;
	return neg ? -(long long)v : (long long)v;
}

static void put_escaped(lm_buf *b, const char *s)
{
	if (!s) {
		lm_buf_puts(b, "\\N");
		return;
	}
	for (; *s; s++) {
		if (*s == '\\')
			lm_buf_puts(b, "\\\\");
		else if (*s == '\t')
			lm_buf_puts(b, "\\t");
		else if (*s == '\n')
			lm_buf_puts(b, "\\n");
		else
			lm_buf_putc(b, *s);
	}
}

/* A list field (items joined by LIST_SEP) into out, its text written at w
 * (span_copy): the items point into it. Returns the end of what it wrote. */
static char *split_into(span f, char *w, lm_strv *out)
{
	if (f.n == 0 || span_is_null(f))
		return w; /* no items, the usual case for labels and depends_on */
	char *p = w, *end = span_copy(f, w), *q;
	while ((q = memchr(p, LIST_SEP, (size_t)(end - 1 - p))) != NULL) {
		*q = '\0';
		lm_strv_push_own(out, p);
		p = q + 1;
	}
	lm_strv_push_own(out, p);
	return end;
}

/* Appends an unused entry for the line p (len bytes) to the list *v of
 * *n entries (room for *cap), growing it. */
static entry *add_line(entry **v, size_t *n, size_t *cap, const char *p, size_t len)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 256;
		*v = lm_realloc(*v, *cap * sizeof **v);
	}
	entry *e = &(*v)[(*n)++];
	e->line = p;
	e->len = len;
	e->own = NULL;
	e->used = 0;
	return e;
}

/* Maps the file and indexes its lines by path. A line without its '\n' (a
 * write cut short) or with a NUL byte is not indexed; any other damage is
 * found when the line is asked for, and only means reading that file. */
static void load(lm_headcache *c)
{
	/* non-blocking: a FIFO put where the cache goes must not hang the run */
	int fd = open(c->file, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return;
	struct stat st;
	void *map = MAP_FAILED;
	/* only a file this user's luamig wrote (lm_cache_own_file): the names
	 * of a versions folder's files and the revisions' checksums are read
	 * from it */
	if (fstat(fd, &st) == 0 && lm_cache_own_file(&st) && st.st_size > 0 &&
	    (unsigned long long)st.st_size <= SIZE_MAX) {
		map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
		lm_cache_mark_used(fd, &st);
	}
	close(fd);
	if (map == MAP_FAILED)
		return;
	c->map = map;
	c->map_len = (size_t)st.st_size;
	const char *p = c->map, *end = c->map + c->map_len;
	const char *eol = memchr(p, '\n', c->map_len);
	size_t mlen = strlen(MAGIC);
	if (!eol || (size_t)(eol - p) <= mlen + 1 || memcmp(p, MAGIC " ", mlen + 1) != 0)
		return;
	char stamp[24];
	size_t slen = (size_t)(eol - p) - mlen - 1;
	if (slen >= sizeof stamp)
		return;
	memcpy(stamp, p + mlen + 1, slen);
	stamp[slen] = '\0';
	span sf = {stamp, slen};
	c->written_at = number(sf);
	if (c->written_at < 0)
		return;
	/* a NUL anywhere (only damage writes one) has each line checked for it */
	int nul = memchr(eol, '\0', (size_t)(end - eol)) != NULL;
	for (p = eol + 1; p < end && (eol = memchr(p, '\n', (size_t)(end - p))); p = eol + 1) {
		size_t len = (size_t)(eol - p);
		if (!len || (nul && memchr(p, '\0', len)))
			continue;
		if (*p == '\t') /* a folder's */
			add_line(&c->dirs, &c->ndirs, &c->dircap, p, len);
		else
			add_line(&c->e, &c->n, &c->cap, p, len);
	}
}

lm_headcache *lm_headcache_open(const char *script_dir)
{
	const char *off = getenv("LUAMIG_NO_CACHE");
	if (off && *off)
		return NULL;
	char *file = cache_file(script_dir);
	if (!file)
		return NULL;
	lm_headcache *c = lm_calloc(1, sizeof *c);
	c->file = file;
	c->opened_at = (long long)time(NULL);
	load(c);
	return c;
}

/* Five fields from f: ino mtime_s mtime_ns ctime_s ctime_ns, against st. */
static int same_inode_times(const span *f, const struct stat *st)
{
	return number(f[0]) == (long long)st->st_ino &&
	       number(f[1]) == (long long)st->st_mtim.tv_sec &&
	       number(f[2]) == (long long)st->st_mtim.tv_nsec &&
	       number(f[3]) == (long long)st->st_ctim.tv_sec &&
	       number(f[4]) == (long long)st->st_ctim.tv_nsec;
}

static int same_file(const span *f, const struct stat *st)
{
	return number(f[1]) == (long long)st->st_size && same_inode_times(f + 2, st);
}

int lm_headcache_get(lm_headcache *c, const char *path, const struct stat *st, lm_revision *r)
{
	if (!c)
		return 0;
	/* Racy: changed within a second of the cache being written; the same
	 * stat could hide a second change. Read the file. A cache written
	 * after this run began was written under a clock since set back: its
	 * times say nothing. */
	if ((long long)st->st_ctim.tv_sec >= c->written_at - 1 || c->written_at > c->opened_at)
		return 0;
	entry *e = find(c, path);
	span f[16];
	if (!e || split_fields(e, f) != 0 || !same_file(f, st) || !sealed(e, f[15]))
		return 0;
	/* an id (not "\N") and a checksum of the current scheme, or the line is damaged */
	char sum[LM_CHECKSUM_MAX + 1];
	if (span_is_null(f[7]) || f[14].n > LM_CHECKSUM_MAX)
		return 0;
	memcpy(sum, f[14].p, f[14].n);
	sum[f[14].n] = '\0';
	if (lm_checksum_scheme(sum) != LM_CHECKSUM_CURRENT)
		return 0;
	use(c, e);
	memset(r, 0, sizeof *r);
	/* every string in one block (lm_revision.strings); a message or
	 * docstring of "\N" (only damage writes one) reads as "" */
	char *w = r->strings =
	        lm_malloc(f[7].n + f[8].n + f[9].n + f[10].n + f[11].n + f[12].n + f[13].n + 7);
	r->id = w;
	w = span_copy(f[7], w);
	w = split_into(f[8], w, &r->down);
	w = split_into(f[9], w, &r->labels);
	w = split_into(f[10], w, &r->depends);
	r->message = w;
	w = span_text(f[11], w);
	r->doc = w;
	w = span_text(f[12], w);
	if (!span_is_null(f[13])) {
		r->create_date = w;
		span_copy(f[13], w);
	}
	strcpy(r->checksum, sum);
	return 1;
}

int lm_headcache_dir_get(lm_headcache *c, const char *dir, const struct stat *st, lm_strv *out)
{
	if (!c)
		return 0;
	for (size_t i = 0; i < c->ndirs; i++) {
		entry *d = &c->dirs[i];
		span f[10];
		if (d->used || split_n(d, f, 10) != 0 || f[0].n != 0 || !span_is(f[1], dir))
			continue;
		/* racy: a folder changed in the second before it was listed (f[2])
		 * could change again after the listing and keep its stat; a
		 * listing dated after this run began, under a clock since set
		 * back, proves nothing */
		long long listed_at = number(f[2]);
		if (!same_inode_times(f + 3, st) ||
		    (long long)st->st_ctim.tv_sec >= listed_at - 1 || listed_at > c->opened_at ||
		    !sealed(d, f[9]))
			return 0;
		d->used = 1;
		if (!f[8].n)
			return 1; /* a folder without revisions */
		/* whether they are names a listing could give is the caller's
		 * to say (script.c, names_listable) */
		char *names = lm_malloc(f[8].n + 1), *end = span_copy(f[8], names) - 1;
		for (char *p = names, *q;; p = q + 1) {
			q = memchr(p, LIST_SEP, (size_t)(end - p));
			if (q)
				*q = '\0';
			lm_strv_push_own(out, lm_path_join(dir, p));
			if (!q)
				break;
		}
		free(names);
		return 1;
	}
	return 0;
}

void lm_headcache_dir_put(lm_headcache *c, const char *dir, const struct stat *st,
                          long long listed_at, char *const *paths, size_t n)
{
	/* a folder changed in the second before its listing is never believed
	 * (lm_headcache_dir_get): nothing worth writing the cache for */
	if (!c || (long long)st->st_ctim.tv_sec >= listed_at - 1)
		return;
	lm_buf b = {0};
	lm_buf_putc(&b, '\t');
	put_escaped(&b, dir);
	lm_buf_printf(&b, "\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld\t", listed_at,
	              (long long)st->st_ino, (long long)st->st_mtim.tv_sec,
	              (long long)st->st_mtim.tv_nsec, (long long)st->st_ctim.tv_sec,
	              (long long)st->st_ctim.tv_nsec);
	for (size_t i = 0; i < n; i++) {
		const char *slash = strrchr(paths[i], '/'), *name = slash ? slash + 1 : paths[i];
		/* a name the list separator would split is listed by reading the folder */
		if (strchr(name, LIST_SEP)) {
			lm_buf_dispose(&b);
			return;
		}
		if (i)
			lm_buf_putc(&b, LIST_SEP);
		put_escaped(&b, name);
	}
	lm_buf_printf(&b, "\t%016llx", lm_word_hash(lm_buf_str(&b), b.len));
	/* the folder's older line, if any, is not written again */
	for (size_t i = 0; i < c->ndirs; i++) {
		span f0 = first_field(&c->dirs[i]);
		span f[2];
		if (f0.n == 0 && split_n(&c->dirs[i], f, 2) == 0 && span_is(f[1], dir))
			c->dirs[i].used = -1;
	}
	entry *d = add_line(&c->dirs, &c->ndirs, &c->dircap, NULL, b.len);
	d->own = lm_buf_detach(&b);
	d->line = d->own;
	d->used = 1;
	c->dirty = 1;
}

static void put_list(lm_buf *b, const lm_strv *v)
{
	for (size_t i = 0; i < v->n; i++) {
		if (i)
			lm_buf_putc(b, LIST_SEP);
		put_escaped(b, v->v[i]);
	}
}

void lm_headcache_put(lm_headcache *c, const char *path, const struct stat *st,
                      const lm_revision *r)
{
	if (!c)
		return;
	entry *e = find(c, path);
	int added = 0;
	if (e) {
		free(e->own);
	} else {
		if (c->n == c->cap) {
			c->cap = c->cap ? c->cap * 2 : 256;
			c->e = lm_realloc(c->e, c->cap * sizeof *c->e);
			if (c->order)
				c->order = lm_realloc(c->order, c->cap * sizeof *c->order);
		}
		e = &c->e[c->n++];
		e->used = 0;
		added = 1;
	}
	lm_buf b = {0};
	put_escaped(&b, path);
	lm_buf_printf(&b, "\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld\t", (long long)st->st_size,
	              (long long)st->st_ino, (long long)st->st_mtim.tv_sec,
	              (long long)st->st_mtim.tv_nsec, (long long)st->st_ctim.tv_sec,
	              (long long)st->st_ctim.tv_nsec);
	put_escaped(&b, r->id);
	const lm_strv *lists[] = {&r->down, &r->labels, &r->depends};
	for (int k = 0; k < 3; k++) {
		lm_buf_putc(&b, '\t');
		put_list(&b, lists[k]);
	}
	const char *texts[] = {r->message ? r->message : "", r->doc ? r->doc : "", r->create_date,
	                       r->checksum};
	for (int k = 0; k < 4; k++) {
		lm_buf_putc(&b, '\t');
		put_escaped(&b, texts[k]);
	}
	lm_buf_printf(&b, "\t%016llx", lm_word_hash(lm_buf_str(&b), b.len));
	e->len = b.len;
	e->own = lm_buf_detach(&b);
	e->line = e->own;
	use(c, e);
	c->dirty = 1;
	if (added) {
		if (!c->slots || c->n * 2 + 2 > c->nslots)
			reindex(c);
		else
			index_add(c, c->n - 1);
	}
}

static void save(lm_headcache *c)
{
	lm_buf b = {0};
	/* the time this run began to stat files, not the time of the save: an
	 * entry is believed when its file is older than that by a second, and
	 * a file changed after its stat (in a run whose save comes seconds
	 * later) must not be */
	lm_buf_printf(&b, "%s %lld\n", MAGIC, c->opened_at);
	/* the folders listed this run, then the files in the order of use;
	 * files that are gone (never used) leave the cache */
	for (size_t i = 0; i < c->ndirs; i++) {
		if (c->dirs[i].used == 1) {
			lm_buf_put(&b, c->dirs[i].line, c->dirs[i].len);
			lm_buf_putc(&b, '\n');
		}
	}
	for (size_t i = 0; i < c->norder; i++) {
		const entry *e = &c->e[c->order[i]];
		lm_buf_put(&b, e->line, e->len);
		lm_buf_putc(&b, '\n');
	}
	lm_cache_write(c->file, lm_buf_str(&b), b.len); /* one that cannot be is no error */
	lm_buf_dispose(&b);
}

void lm_headcache_close(lm_headcache *c)
{
	if (!c)
		return;
	if (c->dirty)
		save(c);
	for (size_t i = 0; i < c->n; i++)
		free(c->e[i].own);
	free(c->e);
	for (size_t i = 0; i < c->ndirs; i++)
		free(c->dirs[i].own);
	free(c->dirs);
	free(c->order);
	free(c->slots);
	free(c->file);
	if (c->map)
		munmap((void *)c->map, c->map_len);
	free(c);
}
