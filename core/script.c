/*
 * script.c — the script directory and the revision-header scanner.
 */
#define _POSIX_C_SOURCE 200809L
#include "script.h"

#include "headcache.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void split_locations(const char *value, const char *sep, lm_strv *out)
{
	/* With no path_separator Alembic splits on spaces and commas (its
	 * legacy behaviour); "os" means ':' on POSIX. */
	const char *delims = " ,\n\t";
	char one[2] = {0, 0};
	if (sep) {
		if (strcmp(sep, "os") == 0 || strcmp(sep, ":") == 0)
			delims = ":";
		else if (strcmp(sep, ";") == 0)
			delims = ";";
		else if (strcmp(sep, "space") == 0)
			delims = " ";
		else if (strcmp(sep, "newline") == 0)
			delims = "\n";
		else if (strlen(sep) == 1) {
			one[0] = sep[0];
			delims = one;
		}
	}
	char *copy = lm_strdup(value);
	char *save = NULL;
	for (char *tok = strtok_r(copy, delims, &save); tok; tok = strtok_r(NULL, delims, &save)) {
		while (isspace((unsigned char)*tok))
			tok++;
		size_t n = strlen(tok);
		while (n && isspace((unsigned char)tok[n - 1]))
			tok[--n] = '\0';
		if (n)
			lm_strv_push_own(out, lm_path_abs(tok));
	}
	free(copy);
}

int lm_script_dir_open(lm_config *cfg, const char *section, lm_script_dir *out)
{
	memset(out, 0, sizeof *out);
	/* Every key of the section must interpolate: a bad %(name)s is an
	 * error here, never part of a value (a file named "%(nosuch)s.db"). */
	if (lm_config_check_section(cfg, section) != 0)
		return -1;
	const char *loc = lm_config_get(cfg, section, "script_location");
	if (!loc) {
		lm_error_set("No 'script_location' key found in configuration.");
		return -1;
	}
	out->dir = lm_path_abs(loc);
	if (!lm_is_dir(out->dir)) {
		lm_error_set("Path doesn't exist: '%s'.  Please use the 'init' command to create a "
		             "new scripts folder.",
		             out->dir);
		lm_script_dir_dispose(out);
		return -1;
	}
	const char *vl = lm_config_get(cfg, section, "version_locations");
	if (vl) {
		const char *sep = lm_config_get(cfg, section, "path_separator");
		if (!sep)
			sep = lm_config_get(cfg, section, "version_path_separator");
		split_locations(vl, sep, &out->version_locations);
	}
	if (out->version_locations.n == 0)
		lm_strv_push_own(&out->version_locations, lm_path_join(out->dir, "versions"));
	const char *ft = lm_config_get(cfg, section, "file_template");
	out->file_template = lm_strdup(ft && *ft ? ft : "%(rev)s_%(slug)s");
	const char *tsl = lm_config_get(cfg, section, "truncate_slug_length");
	out->truncate_slug_length = tsl ? atoi(tsl) : 40;
	const char *tz = lm_config_get(cfg, section, "timezone");
	out->timezone = tz && *tz ? lm_strdup(tz) : NULL;
	const char *rec = lm_config_get(cfg, section, "recursive_version_locations");
	out->recursive = rec && (strcmp(rec, "true") == 0 || strcmp(rec, "True") == 0 ||
	                         strcmp(rec, "1") == 0 || strcmp(rec, "yes") == 0);
	return 0;
}

void lm_script_dir_dispose(lm_script_dir *sd)
{
	free(sd->dir);
	lm_strv_dispose(&sd->version_locations);
	free(sd->file_template);
	free(sd->timezone);
	lm_revmap_free(sd->map);
	memset(sd, 0, sizeof *sd);
}

void lm_script_dir_end(lm_script_dir *sd)
{
	if (lm_exit_reclaims)
		sd->map = NULL;
	lm_script_dir_dispose(sd);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_revision_file(const char *name)
{
	size_t n = strlen(name);
	return n > 4 && strcmp(name + n - 4, ".lua") == 0 && strncmp(name, ".#", 2) != 0 &&
	       name[0] != '.';
}

/* A file of a folder being listed: its path, and its name's first eight
 * bytes as a number (NULs past a shorter name), which orders two names as
 * strcmp does unless the numbers are equal. */
typedef struct listed {
	unsigned long long key;
	char *path;
} listed;

static unsigned long long name_key(const char *name)
{
	unsigned long long k = 0;
	for (int i = 0; i < 8; i++) {
		k <<= 8;
		if (*name)
			k |= (unsigned char)*name++;
	}
	return k;
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const listed *)a)->path, ((const listed *)b)->path);
}

/* Sorts files by name: a radix sort on the keys (least significant byte
 * first, a stable pass a byte), then each run of equal keys by strcmp.
 * Revision files start with their revision ids, so runs are short; a
 * file_template that starts with a constant or a date makes one run of
 * many files, which qsort keeps at n log n. Paths in one folder share its
 * prefix, so they sort as names do. */
static void sort_listed(listed *v, size_t n)
{
	listed *tmp = lm_malloc((n ? n : 1) * sizeof *tmp), *src = v, *dst = tmp;
	for (int shift = 0; shift < 64; shift += 8) {
		size_t at[257] = {0};
		for (size_t i = 0; i < n; i++)
			at[((src[i].key >> shift) & 0xff) + 1]++;
		for (int b = 0; b < 256; b++)
			at[b + 1] += at[b];
		for (size_t i = 0; i < n; i++)
			dst[at[(src[i].key >> shift) & 0xff]++] = src[i];
		listed *t = src;
		src = dst;
		dst = t;
	}
	/* eight passes: the sorted array is v again */
	free(tmp);
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && v[j].key == v[i].key; j++)
			;
		if (j - i > 1)
			qsort(v + i, j - i, sizeof *v, by_path);
	}
}

/* Files sorted by name, then (when recursive) each subfolder sorted. */
static int list_dir(const char *dir, int recursive, lm_strv *out)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0; /* a missing versions folder holds no revisions */
	listed *files = NULL;
	size_t nfiles = 0, cap = 0;
	lm_strv subdirs = {0};
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (is_revision_file(e->d_name)) {
			if (nfiles == cap) {
				cap = cap ? cap * 2 : 64;
				files = lm_realloc(files, cap * sizeof *files);
			}
			files[nfiles].key = name_key(e->d_name);
			files[nfiles++].path = lm_path_join(dir, e->d_name);
		} else if (recursive) {
			char *p = lm_path_join(dir, e->d_name);
			if (lm_is_dir(p) && strcmp(e->d_name, "__pycache__") != 0)
				lm_strv_push(&subdirs, e->d_name);
			free(p);
		}
	}
	closedir(d);
	sort_listed(files, nfiles);
	if (subdirs.n)
		qsort(subdirs.v, subdirs.n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < nfiles; i++)
		lm_strv_push_own(out, files[i].path);
	free(files);
	for (size_t i = 0; i < subdirs.n; i++) {
		char *p = lm_path_join(dir, subdirs.v[i]);
		list_dir(p, recursive, out);
		free(p);
	}
	lm_strv_dispose(&subdirs);
	return 0;
}

int lm_script_dir_files(const lm_script_dir *sd, lm_strv *out)
{
	for (size_t i = 0; i < sd->version_locations.n; i++)
		if (list_dir(sd->version_locations.v[i], sd->recursive, out) != 0)
			return -1;
	return 0;
}

/* Whether the paths are what reading dir could list: each dir's, naming a
 * revision file, each once, in order. A cache file that says otherwise
 * (damaged, or not this user's making) cannot have a file outside the
 * folder run as a revision, nor one run twice. */
static int names_listable(const char *dir, char *const *paths, size_t n)
{
	size_t len = strlen(dir), prefix = len ? len + (dir[len - 1] != '/') : 0;
	for (size_t i = 0; i < n; i++) {
		const char *slash = strrchr(paths[i], '/'), *name = slash ? slash + 1 : paths[i];
		if ((size_t)(name - paths[i]) != prefix || strncmp(paths[i], dir, len) != 0 ||
		    !is_revision_file(name) || (i && strcmp(paths[i - 1], paths[i]) >= 0))
			return 0;
	}
	return 1;
}

/* lm_script_dir_files, with each (non-recursive) versions folder that is
 * unchanged since a listing was cached listed from the cache instead of
 * read (lm_headcache_dir_get), and each folder read put in the cache.
 * *from_cache tells whether any was. */
static void list_files(const lm_script_dir *sd, lm_headcache *cache, int use_cache, lm_strv *out,
                       int *from_cache)
{
	*from_cache = 0;
	for (size_t i = 0; i < sd->version_locations.n; i++) {
		const char *dir = sd->version_locations.v[i];
		struct stat st;
		/* the time and the folder's stat before it is read: a name added
		 * while it is read changes the folder after this, and the next run
		 * reads it */
		long long listed_at = (long long)time(NULL);
		int have = cache && !sd->recursive && stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
		size_t before = out->n;
		if (have && use_cache && lm_headcache_dir_get(cache, dir, &st, out)) {
			if (names_listable(dir, out->v + before, out->n - before)) {
				*from_cache = 1;
				continue;
			}
			while (out->n > before)
				free(out->v[--out->n]);
		}
		list_dir(dir, sd->recursive, out);
		if (have)
			lm_headcache_dir_put(cache, dir, &st, listed_at, out->v + before,
			                     out->n - before);
	}
}

int lm_script_dir_load(lm_script_dir *sd)
{
	lm_strv files = {0};
	int rc = -1, use_cache = 1, from_cache;
	lm_revmap *map = lm_revmap_new();
	lm_headcache *cache = NULL;
	char *dir_path = NULL;
	int dir_fd = -1;
	cache = lm_headcache_open(sd->dir);
again:
	list_files(sd, cache, use_cache, &files, &from_cache);
	lm_revmap_reserve(map, files.n);
	for (size_t i = 0; i < files.n; i++) {
		lm_revision r;
		struct stat st;
		/* stat relative to the open folder: no path walk per file */
		const char *slash = strrchr(files.v[i], '/');
		size_t dlen = slash ? (size_t)(slash - files.v[i]) : 0;
		if (cache && (!dir_path || strlen(dir_path) != dlen ||
		              strncmp(dir_path, files.v[i], dlen) != 0)) {
			if (dir_fd >= 0)
				close(dir_fd);
			free(dir_path);
			dir_path = lm_strndup(files.v[i], dlen);
			dir_fd = open(dlen ? dir_path : ".", O_RDONLY | O_DIRECTORY);
		}
		int have_stat = cache && dir_fd >= 0 &&
		                fstatat(dir_fd, slash ? slash + 1 : files.v[i], &st, 0) == 0;
		if (!have_stat && from_cache) {
			/* a cached name that is gone: the folder changed without its
			 * stat (a file system that does not keep it): read it */
			lm_revmap_free(map);
			map = lm_revmap_new();
			lm_strv_dispose(&files);
			use_cache = 0;
			goto again;
		}
		if (have_stat && lm_headcache_get(cache, files.v[i], &st, &r)) {
			r.path = files.v[i]; /* the list's copy: one string fewer to make */
			files.v[i] = NULL;
			r.seen = 1;
		} else {
			/* a FIFO (or a device) would block the read below for good */
			struct stat own;
			const struct stat *kind = &st;
			if (!have_stat)
				kind = stat(files.v[i], &own) == 0 ? &own : NULL;
			if (kind && !S_ISREG(kind->st_mode)) {
				lm_error_set("%s: not a regular file", files.v[i]);
				goto done;
			}
			size_t len;
			char *text = lm_read_file(files.v[i], &len);
			if (!text)
				goto done;
			int ok = lm_script_scan(files.v[i], text, &r);
			/* the checksum comes with the read, and is cached with the header:
			 * comparing applied revisions on every command costs a stat */
			if (ok == 0)
				lm_checksum(text, len, LM_CHECKSUM_CURRENT, r.checksum);
			free(text);
			if (ok != 0)
				goto done;
			if (have_stat)
				lm_headcache_put(cache, files.v[i], &st, &r);
		}
		r.order = i;
		lm_revmap_add(map, &r);
	}
	/* the cache goes before the map grows: both at once is the peak */
	lm_headcache_close(cache);
	cache = NULL;
	if (lm_revmap_build(map) != 0)
		goto done;
	lm_revmap_free(sd->map);
	sd->map = map;
	map = NULL;
	rc = 0;
done:
	if (dir_fd >= 0)
		close(dir_fd);
	free(dir_path);
	lm_headcache_close(cache);
	lm_revmap_free(map);
	lm_strv_dispose(&files);
	return rc;
}

/* ---- the header scanner ------------------------------------------------ */

typedef struct scanner {
	const char *path;
	const char *p;
	int line;
} scanner;

/* A long bracket "[==[" at s->p: returns its level, or -1. */
static int long_bracket(const char *p)
{
	if (*p != '[')
		return -1;
	int level = 0;
	p++;
	while (*p == '=') {
		level++;
		p++;
	}
	return *p == '[' ? level : -1;
}

static void skip_space(scanner *s)
{
	for (;;) {
		while (*s->p == ' ' || *s->p == '\t' || *s->p == '\r')
			s->p++;
		/* "--" starts a line comment unless a long bracket follows
		 * ("--[[", "--[==["): the callers read those. "--[ x" is a
		 * line comment too. */
		if (s->p[0] == '-' && s->p[1] == '-' && long_bracket(s->p + 2) < 0) {
			while (*s->p && *s->p != '\n')
				s->p++;
		}
		if (*s->p == '\n') {
			s->line++;
			s->p++;
			continue;
		}
		return;
	}
}

/* Reads a long string body after "[==[" and returns it (caller frees). */
static char *read_long(scanner *s, int level)
{
	s->p += level + 2;
	if (*s->p == '\n') { /* Lua drops a first newline */
		s->p++;
		s->line++;
	}
	const char *start = s->p;
	for (; *s->p; s->p++) {
		if (*s->p == '\n')
			s->line++;
		if (*s->p == ']') {
			int l = 0;
			const char *q = s->p + 1;
			while (*q == '=') {
				l++;
				q++;
			}
			if (*q == ']' && l == level) {
				char *body = lm_strndup(start, (size_t)(s->p - start));
				s->p = q + 1;
				return body;
			}
		}
	}
	return NULL;
}

static int scan_error(scanner *s, const char *what)
{
	lm_error_set("%s:%d: %s", s->path, s->line, what);
	return -1;
}

/* A quoted Lua string at s->p. With literal set (header values), the text
 * must be written plainly: a backslash escape would make the scanner and
 * Lua disagree on the value, so it is refused (NULL). Otherwise (code being
 * skipped) an escape just steps over the next character. NULL also for a
 * string not closed on its line. */
static char *read_quoted(scanner *s, int literal)
{
	char q = *s->p++;
	lm_buf b = {0};
	while (*s->p && *s->p != q) {
		if (*s->p == '\n' || (*s->p == '\\' && (literal || !s->p[1]))) {
			lm_buf_dispose(&b);
			return NULL;
		}
		if (*s->p == '\\') {
			s->p += 2;
			continue;
		}
		lm_buf_putc(&b, *s->p++);
	}
	if (*s->p != q) {
		lm_buf_dispose(&b);
		return NULL;
	}
	s->p++;
	return lm_buf_detach(&b);
}

/* After a header value: only spaces and a comment may follow on the line
 * ("revision = 'a' .. 'b'" is not a literal). */
static int value_ends_line(const scanner *s)
{
	const char *p = s->p;
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == ';')
		p++;
	return *p == '\0' || *p == '\n' || (p[0] == '-' && p[1] == '-');
}

/* value := nil | string | { string [, string]* [,] } ; 1 = literal read,
 * 0 = not a literal (the caller reports it). */
static int read_value(scanner *s, lm_strv *out)
{
	skip_space(s);
	if (strncmp(s->p, "nil", 3) == 0 && !isalnum((unsigned char)s->p[3]) && s->p[3] != '_') {
		s->p += 3;
		return value_ends_line(s);
	}
	if (*s->p == '"' || *s->p == '\'') {
		char *v = read_quoted(s, 1);
		if (!v)
			return 0;
		lm_strv_push_own(out, v);
		return value_ends_line(s);
	}
	if (*s->p == '{') {
		s->p++;
		for (;;) {
			skip_space(s);
			if (*s->p == '}') {
				s->p++;
				return value_ends_line(s);
			}
			if (*s->p != '"' && *s->p != '\'')
				return 0;
			char *v = read_quoted(s, 1);
			if (!v)
				return 0;
			lm_strv_push_own(out, v);
			skip_space(s);
			if (*s->p == ',' || *s->p == ';')
				s->p++;
		}
	}
	return 0;
}

/* The docstring: the first paragraph is Alembic's Script.doc (the message). */
static void set_doc(lm_revision *r, const char *body)
{
	const char *b = body;
	while (*b == '\n' || *b == ' ' || *b == '\t' || *b == '\r')
		b++;
	size_t n = strlen(b);
	while (n && isspace((unsigned char)b[n - 1]))
		n--;
	r->doc = lm_strndup(b, n);
	const char *para = strstr(r->doc, "\n\n");
	r->message = para ? lm_strndup(r->doc, (size_t)(para - r->doc)) : lm_strdup(r->doc);
	const char *cd = strstr(r->doc, "Create Date:");
	if (cd) {
		cd += 12;
		while (*cd == ' ')
			cd++;
		r->create_date = lm_strndup(cd, strcspn(cd, "\n"));
	}
}

int lm_script_scan(const char *path, const char *text, lm_revision *r)
{
	memset(r, 0, sizeof *r);
	r->path = lm_strdup(path);
	/* A UTF-8 byte-order mark, as some editors write, is not part of the text. */
	if (strncmp(text, "\xEF\xBB\xBF", 3) == 0)
		text += 3;
	char *shown = lm_path_display(path);
	scanner s = {shown, text, 1};
	int have_rev = 0, have_down = 0, have_labels = 0, have_deps = 0;
	if (s.p[0] == '#' && s.p[1] == '!')
		while (*s.p && *s.p != '\n')
			s.p++;
	skip_space(&s);
	if (s.p[0] == '-' && s.p[1] == '-' && long_bracket(s.p + 2) >= 0) {
		s.p += 2;
		char *body = read_long(&s, long_bracket(s.p));
		if (!body) {
			scan_error(&s, "unfinished long comment");
			goto fail;
		}
		set_doc(r, body);
		free(body);
	}
	if (!r->doc) {
		r->doc = lm_strdup("");
		r->message = lm_strdup("");
	}
	/* Top-level assignments start a line; everything else is skipped line
	 * by line (long strings and comments included, so that a "revision ="
	 * inside one is not taken). */
	while (*s.p) {
		skip_space(&s);
		if (!*s.p)
			break;
		/* All four names seen and code begins: the header is complete, the
		 * rest of the file is the migration itself. */
		if (have_rev && have_down && have_labels && have_deps &&
		    (strncmp(s.p, "function", 8) == 0 || strncmp(s.p, "local", 5) == 0))
			break;
		int lb = -1;
		if (s.p[0] == '-' && s.p[1] == '-' && (lb = long_bracket(s.p + 2)) >= 0) {
			s.p += 2;
			free(read_long(&s, lb));
			continue;
		}
		const char *names[] = {"revision", "down_revision", "branch_labels", "depends_on"};
		int which = -1;
		size_t nlen = 0;
		/* Only a line that starts with the name counts: an indented
		 * "revision = ..." belongs to some function's body. */
		int at_line_start = s.p == text || s.p[-1] == '\n';
		for (int i = 0; at_line_start && i < 4; i++) {
			nlen = strlen(names[i]);
			if (strncmp(s.p, names[i], nlen) == 0 &&
			    !isalnum((unsigned char)s.p[nlen]) && s.p[nlen] != '_') {
				which = i;
				break;
			}
		}
		if (which >= 0) {
			const char *q = s.p + nlen;
			while (*q == ' ' || *q == '\t')
				q++;
			if (*q == '=' && q[1] != '=') {
				s.p = q + 1;
				lm_strv vals = {0};
				int line = s.line;
				if (!read_value(&s, &vals)) {
					lm_strv_dispose(&vals);
					s.line = line;
					char *m = lm_sprintf(
					        "%s must be nil, a string or a list of strings "
					        "written literally",
					        names[which]);
					scan_error(&s, m);
					free(m);
					goto fail;
				}
				switch (which) {
				case 0:
					if (vals.n != 1) {
						lm_strv_dispose(&vals);
						scan_error(&s, "revision must be a string");
						goto fail;
					}
					free(r->id);
					r->id = lm_strdup(vals.v[0]);
					have_rev = 1;
					lm_strv_dispose(&vals);
					break;
				case 1:
					lm_strv_dispose(&r->down);
					r->down = vals;
					have_down = 1;
					break;
				case 2:
					lm_strv_dispose(&r->labels);
					r->labels = vals;
					have_labels = 1;
					break;
				default:
					lm_strv_dispose(&r->depends);
					r->depends = vals;
					have_deps = 1;
					break;
				}
				continue;
			}
		}
		/* Not a header line: skip to the end of the line, stepping over
		 * any long string that starts on it. */
		while (*s.p && *s.p != '\n') {
			if (*s.p == '[' && (lb = long_bracket(s.p)) >= 0) {
				free(read_long(&s, lb));
				continue;
			}
			if (*s.p == '"' || *s.p == '\'') {
				char *v = read_quoted(&s, 0);
				if (!v)
					break;
				free(v);
				continue;
			}
			if (s.p[0] == '-' && s.p[1] == '-')
				break;
			s.p++;
		}
	}
	if (!have_rev) {
		lm_error_set("%s: no 'revision = \"...\"' line: a revision file must name its "
		             "revision",
		             shown);
		goto fail;
	}
	if (!have_down) {
		lm_error_set("%s: no 'down_revision = ...' line (use down_revision = nil for a "
		             "first revision)",
		             shown);
		goto fail;
	}
	free(shown);
	return 0;
fail:
	free(shown);
	lm_revision_dispose(r);
	return -1;
}
