/*
 * headcache.c — revision headers kept between runs (see headcache.h).
 *
 * Format: a first line "luamig-headcache <version> <written-at seconds>",
 * then one line per file with tab-separated, backslash-escaped fields:
 * path size ino mtime_s mtime_ns ctime_s ctime_ns id down labels depends
 * message doc create_date checksum — lists joined by \x1f, a NULL date as
 * "\N", the checksum in the current scheme (checksum.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "headcache.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "checksum.h"
#include "util.h"

#define MAGIC "luamig-headcache " LUAMIG_VERSION "-2"
#define LIST_SEP '\x1f'

typedef struct entry {
	char *path;
	long long size, ino, mtime_s, mtime_ns, ctime_s, ctime_ns;
	char *id, *down, *labels, *depends, *message, *doc, *create_date; /* escaped-free */
	char checksum[LM_CHECKSUM_MAX + 1];
	int used;
	int owned; /* the strings are the entry's (put); else they point into text */
} entry;

struct lm_headcache {
	char *file;
	char *text; /* the file as read, unescaped in place: the loaded entries' strings */
	long long written_at;
	entry *e;
	size_t n, cap;
	size_t *slots; /* open addressing over e, by path */
	size_t nslots;
	int dirty;
};

static unsigned long long fnv(const char *s)
{
	unsigned long long h = 14695981039346656037ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static char *cache_file(const char *script_dir)
{
	const char *dir = getenv("LUAMIG_CACHE_DIR");
	char *base = NULL;
	if (dir && *dir) {
		base = lm_strdup(dir);
	} else if ((dir = getenv("XDG_CACHE_HOME")) && *dir) {
		base = lm_sprintf("%s/luamig", dir);
	} else if ((dir = getenv("HOME")) && *dir) {
		base = lm_sprintf("%s/.cache/luamig", dir);
	} else {
		return NULL;
	}
	char *file = NULL;
	if (lm_mkdir_p(base) == 0)
		file = lm_sprintf("%s/%016llx.idx", base, fnv(script_dir));
	else
		lm_error_clear();
	free(base);
	return file;
}

static void index_add(lm_headcache *c, size_t i)
{
	size_t k = (size_t)fnv(c->e[i].path) & (c->nslots - 1);
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

static entry *find(lm_headcache *c, const char *path)
{
	if (!c->nslots)
		return NULL;
	size_t k = (size_t)fnv(path) & (c->nslots - 1);
	while (c->slots[k] != (size_t)-1) {
		entry *e = &c->e[c->slots[k]];
		if (strcmp(e->path, path) == 0)
			return e;
		k = (k + 1) & (c->nslots - 1);
	}
	return NULL;
}

static char empty[] = ""; /* an absent field of a loaded entry */

static void entry_free(entry *e)
{
	if (!e->owned)
		return;
	free(e->path);
	free(e->id);
	free(e->down);
	free(e->labels);
	free(e->depends);
	free(e->message);
	free(e->doc);
	free(e->create_date);
}

/* Unescapes one field in place; returns the start of the next field.
 * Runs without a backslash are skipped with strcspn, since escapes are
 * rare and a thousand lines are read per command. */
static char *field(char *p, char **out)
{
	*out = p;
	p += strcspn(p, "\\\t");
	char *w = p;
	while (*p && *p != '\t') {
		if (*p == '\\' && p[1]) {
			p++;
			*w++ = *p == 't' ? '\t' : *p == 'n' ? '\n' : *p == 'N' ? '\0' : *p;
			if (*p == 'N')
				*out = NULL;
			p++;
			continue;
		}
		*w++ = *p++;
	}
	char *next = *p ? p + 1 : NULL;
	*w = '\0';
	return next;
}

/* A decimal field as written by save() (an optional '-', digits); anything
 * else reads as -1, which matches no stat and so reads the file again. */
static long long number(const char *s)
{
	int neg = *s == '-';
	s += neg;
	if (!*s)
		return -1;
	unsigned long long v = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > 922337203685477580ULL)
			return -1;
		v = v * 10 + (unsigned)(*s - '0');
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

static char *join(const lm_strv *v)
{
	lm_buf b = {0};
	for (size_t i = 0; i < v->n; i++) {
		if (i)
			lm_buf_putc(&b, LIST_SEP);
		lm_buf_puts(&b, v->v[i]);
	}
	return lm_buf_detach(&b);
}

static void split(const char *s, lm_strv *out)
{
	if (!s || !*s)
		return;
	const char *p = s;
	for (;;) {
		const char *q = strchr(p, LIST_SEP);
		if (!q) {
			lm_strv_push(out, p);
			return;
		}
		lm_strv_push_own(out, lm_strndup(p, (size_t)(q - p)));
		p = q + 1;
	}
}

static void load(lm_headcache *c)
{
	char *text = lm_read_file(c->file, NULL);
	if (!text) {
		lm_error_clear();
		return;
	}
	char *line = text, *eol = strchr(line, '\n');
	size_t mlen = strlen(MAGIC);
	if (!eol || strncmp(line, MAGIC " ", mlen + 1) != 0) {
		free(text);
		return;
	}
	c->written_at = atoll(line + mlen + 1);
	for (line = eol + 1; *line; line = eol + 1) {
		eol = strchr(line, '\n');
		if (!eol)
			break;
		*eol = '\0';
		char *f[15];
		char *p = line;
		int k = 0;
		for (; k < 15 && p; k++)
			p = field(p, &f[k]);
		if (k < 15 || !f[0] || !f[7] || !f[14] || strlen(f[14]) > LM_CHECKSUM_MAX ||
		    lm_checksum_scheme(f[14]) != LM_CHECKSUM_CURRENT)
			continue; /* a damaged line: that file is simply read again */
		if (c->n == c->cap) {
			c->cap = c->cap ? c->cap * 2 : 256;
			c->e = lm_realloc(c->e, c->cap * sizeof *c->e);
		}
		entry *e = &c->e[c->n++];
		memset(e, 0, sizeof *e);
		/* no copies: the strings stay in c->text, unescaped in place */
		e->path = f[0];
		e->size = number(f[1]);
		e->ino = number(f[2]);
		e->mtime_s = number(f[3]);
		e->mtime_ns = number(f[4]);
		e->ctime_s = number(f[5]);
		e->ctime_ns = number(f[6]);
		e->id = f[7];
		e->down = f[8] ? f[8] : empty;
		e->labels = f[9] ? f[9] : empty;
		e->depends = f[10] ? f[10] : empty;
		e->message = f[11] ? f[11] : empty;
		e->doc = f[12] ? f[12] : empty;
		e->create_date = f[13];
		strcpy(e->checksum, f[14]);
	}
	c->text = text;
	reindex(c);
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
	load(c);
	return c;
}

static int same_file(const entry *e, const struct stat *st)
{
	return e->size == (long long)st->st_size && e->ino == (long long)st->st_ino &&
	       e->mtime_s == (long long)st->st_mtim.tv_sec &&
	       e->mtime_ns == (long long)st->st_mtim.tv_nsec &&
	       e->ctime_s == (long long)st->st_ctim.tv_sec &&
	       e->ctime_ns == (long long)st->st_ctim.tv_nsec;
}

int lm_headcache_get(lm_headcache *c, const char *path, const struct stat *st, lm_revision *r)
{
	if (!c)
		return 0;
	entry *e = find(c, path);
	if (!e || !same_file(e, st))
		return 0;
	/* Racy: changed within a second of the cache being written; the same
	 * stat could hide a second change. Read the file. */
	if ((long long)st->st_ctim.tv_sec >= c->written_at - 1)
		return 0;
	e->used = 1;
	memset(r, 0, sizeof *r);
	r->id = lm_strdup(e->id);
	split(e->down, &r->down);
	split(e->labels, &r->labels);
	split(e->depends, &r->depends);
	r->message = lm_strdup(e->message);
	r->doc = lm_strdup(e->doc);
	r->create_date = e->create_date ? lm_strdup(e->create_date) : NULL;
	r->path = lm_strdup(path);
	strcpy(r->checksum, e->checksum);
	return 1;
}

void lm_headcache_put(lm_headcache *c, const char *path, const struct stat *st,
                      const lm_revision *r)
{
	if (!c)
		return;
	entry *e = find(c, path);
	int added = 0;
	if (e) {
		entry_free(e);
	} else {
		if (c->n == c->cap) {
			c->cap = c->cap ? c->cap * 2 : 256;
			c->e = lm_realloc(c->e, c->cap * sizeof *c->e);
		}
		e = &c->e[c->n++];
		added = 1;
	}
	e->owned = 1;
	e->path = lm_strdup(path);
	e->size = (long long)st->st_size;
	e->ino = (long long)st->st_ino;
	e->mtime_s = (long long)st->st_mtim.tv_sec;
	e->mtime_ns = (long long)st->st_mtim.tv_nsec;
	e->ctime_s = (long long)st->st_ctim.tv_sec;
	e->ctime_ns = (long long)st->st_ctim.tv_nsec;
	e->id = lm_strdup(r->id);
	e->down = join(&r->down);
	e->labels = join(&r->labels);
	e->depends = join(&r->depends);
	e->message = lm_strdup(r->message ? r->message : "");
	e->doc = lm_strdup(r->doc ? r->doc : "");
	e->create_date = r->create_date ? lm_strdup(r->create_date) : NULL;
	snprintf(e->checksum, sizeof e->checksum, "%s", r->checksum);
	e->used = 1;
	c->dirty = 1;
	if (added) {
		if (c->n * 2 + 2 > c->nslots)
			reindex(c);
		else
			index_add(c, c->n - 1);
	}
}

static void save(lm_headcache *c)
{
	lm_buf b = {0};
	lm_buf_printf(&b, "%s %lld\n", MAGIC, (long long)time(NULL));
	for (size_t i = 0; i < c->n; i++) {
		const entry *e = &c->e[i];
		if (!e->used)
			continue; /* files that are gone leave the cache */
		put_escaped(&b, e->path);
		lm_buf_printf(&b, "\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld\t", e->size, e->ino,
		              e->mtime_s, e->mtime_ns, e->ctime_s, e->ctime_ns);
		const char *fs[] = {e->id, e->down, e->labels, e->depends, e->message, e->doc};
		for (int k = 0; k < 6; k++) {
			put_escaped(&b, fs[k]);
			lm_buf_putc(&b, '\t');
		}
		put_escaped(&b, e->create_date);
		lm_buf_putc(&b, '\t');
		put_escaped(&b, e->checksum);
		lm_buf_putc(&b, '\n');
	}
	char *tmp = lm_sprintf("%s.%ld.tmp", c->file, (long)getpid());
	if (lm_write_file(tmp, lm_buf_str(&b), b.len) != 0 || rename(tmp, c->file) != 0) {
		remove(tmp);
		lm_error_clear(); /* a cache that cannot be written is no error */
	}
	free(tmp);
	lm_buf_dispose(&b);
}

void lm_headcache_close(lm_headcache *c)
{
	if (!c)
		return;
	if (c->dirty)
		save(c);
	for (size_t i = 0; i < c->n; i++)
		entry_free(&c->e[i]);
	free(c->e);
	free(c->slots);
	free(c->file);
	free(c->text);
	free(c);
}
