/*
 * util.c — allocation, growable strings and arrays, the error slot, files.
 */
#define _POSIX_C_SOURCE 200809L
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"

/* Out of memory in luamig's own C: the one report line and exit status 1,
 * at once, as abort() would end it but without a core dump or a signal.
 * Nothing half-done is committed: the databases roll back the open
 * transaction of a vanished client, as after a kill
 * (tests/integration/test_crash.py). */
static void oom(void)
{
	fflush(stdout);
	fputs("FAILED: out of memory\n", stderr);
	_exit(1);
}

void *lm_malloc(size_t n)
{
	void *p = lm_fault_alloc_fails() ? NULL : malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *lm_calloc(size_t count, size_t size)
{
	void *p = lm_fault_alloc_fails() ? NULL : calloc(count ? count : 1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *lm_realloc(void *p, size_t n)
{
	p = lm_fault_alloc_fails() ? NULL : realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *lm_strdup(const char *s)
{
	return lm_strndup(s, strlen(s));
}

char *lm_strndup(const char *s, size_t n)
{
	char *d = lm_malloc(n + 1);
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static char *vformat(const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		n = 0;
	char *s = lm_malloc((size_t)n + 1);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	return s;
}

char *lm_sprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = vformat(fmt, ap);
	va_end(ap);
	return s;
}

/* The one error slot. A process runs one command at a time, so a single
 * slot is enough; it is heap-allocated because messages can be long
 * (a SQL error quotes the statement). */
static char *error_msg;
static char error_code[6]; /* the SQLSTATE of a database error, or "" */

void lm_error_set(const char *fmt, ...)
{
	error_code[0] = '\0';
	va_list ap;
	va_start(ap, fmt);
	char *s = vformat(fmt, ap);
	va_end(ap);
	free(error_msg);
	error_msg = s;
}

const char *lm_error_get(void)
{
	return error_msg ? error_msg : "";
}

void lm_error_clear(void)
{
	free(error_msg);
	error_msg = NULL;
	error_code[0] = '\0';
}

void lm_error_set_code(const char *code)
{
	size_t n = code ? strlen(code) : 0;
	if (n >= sizeof error_code)
		n = 0;
	memcpy(error_code, code ? code : "", n);
	error_code[n] = '\0';
}

const char *lm_error_code(void)
{
	return error_code;
}

void lm_buf_grow(lm_buf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < b->len + extra + 1)
		cap *= 2;
	b->data = lm_realloc(b->data, cap);
	b->cap = cap;
}

void lm_buf_put(lm_buf *b, const char *s, size_t n)
{
	lm_buf_grow(b, n);
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void lm_buf_puts(lm_buf *b, const char *s)
{
	lm_buf_put(b, s, strlen(s));
}

void lm_buf_putc(lm_buf *b, char c)
{
	lm_buf_put(b, &c, 1);
}

void lm_buf_printf(lm_buf *b, const char *fmt, ...)
{
	va_list ap, ap2;
	va_start(ap, fmt);
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n > 0) {
		lm_buf_grow(b, (size_t)n);
		vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
		b->len += (size_t)n;
	}
	va_end(ap2);
}

char *lm_buf_detach(lm_buf *b)
{
	char *s = b->data ? b->data : lm_strdup("");
	b->data = NULL;
	b->len = b->cap = 0;
	return s;
}

void lm_buf_dispose(lm_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void lm_strv_push_own(lm_strv *sv, char *s)
{
	if (sv->n == sv->cap) {
		sv->cap = sv->cap ? sv->cap * 2 : 4;
		sv->v = lm_realloc(sv->v, sv->cap * sizeof *sv->v);
	}
	sv->v[sv->n++] = s;
}

void lm_strv_push(lm_strv *sv, const char *s)
{
	lm_strv_push_own(sv, lm_strdup(s));
}

int lm_exit_reclaims = 0;

int lm_strv_contains(const lm_strv *sv, const char *s)
{
	for (size_t i = 0; i < sv->n; i++)
		if (strcmp(sv->v[i], s) == 0)
			return 1;
	return 0;
}

enum { POOL_BLOCK = 16 << 10, POOL_ALIGN = _Alignof(max_align_t) };

static void *pool_block(lm_pool *p, size_t n)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 8;
		p->blocks = lm_realloc(p->blocks, p->cap * sizeof *p->blocks);
	}
	return p->blocks[p->n++] = lm_calloc(1, n);
}

void *lm_pool_alloc(lm_pool *p, size_t n)
{
	if (n > POOL_BLOCK / 4) /* before the rounding, which could wrap */
		return pool_block(p, n);
	n = n ? (n + POOL_ALIGN - 1) & ~(size_t)(POOL_ALIGN - 1) : POOL_ALIGN;
	if (n > p->left) {
		p->next = pool_block(p, POOL_BLOCK);
		p->left = POOL_BLOCK;
	}
	void *r = p->next;
	p->next += n;
	p->left -= n;
	return r;
}

char *lm_pool_strndup(lm_pool *p, const char *s, size_t n)
{
	char *r = lm_pool_alloc(p, n + 1);
	memcpy(r, s, n);
	return r; /* the piece is zeroed: r[n] is the terminator */
}

void lm_pool_dispose(lm_pool *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->blocks[i]);
	free(p->blocks);
	memset(p, 0, sizeof *p);
}

void lm_strv_dispose(lm_strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = sv->cap = 0;
}

#define FNV_BASIS 14695981039346656037ULL
#define FNV_PRIME 1099511628211ULL

unsigned long long lm_fnv1a(const char *s)
{
	unsigned long long h = FNV_BASIS;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * FNV_PRIME;
	return h;
}

unsigned long long lm_word_hash(const char *p, size_t n)
{
	unsigned long long h = FNV_BASIS ^ n;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		unsigned long long w;
		memcpy(&w, p + i, sizeof w);
		h = (h ^ w) * FNV_PRIME;
		h ^= h >> 29;
	}
	for (; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * FNV_PRIME;
	return h;
}

char *lm_read_file(const char *path, size_t *len_out)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		lm_error_set("%s: %s", path, strerror(errno));
		return NULL;
	}
	struct stat st;
	size_t size = (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) ? (size_t)st.st_size : 0;
	size_t cap = size ? size + 1 : 4096;
	char *data = lm_malloc(cap);
	size_t len = 0;
	/* A regular file is read in one call: no second read() to see EOF
	 * (a thousand revision headers are read per command). */
	while (!size || len < size) {
		if (len + 1 >= cap) {
			cap *= 2;
			data = lm_realloc(data, cap);
		}
		ssize_t n = read(fd, data + len, cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			lm_error_set("%s: %s", path, strerror(errno));
			free(data);
			close(fd);
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	data[len] = '\0';
	if (len_out)
		*len_out = len;
	return data;
}

int lm_write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f) {
		lm_error_set("%s: %s", path, strerror(errno));
		return -1;
	}
	int ok = fwrite(data, 1, len, f) == len;
	ok = (fclose(f) == 0) && ok;
	if (!ok) {
		lm_error_set("%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int lm_write_all(int fd, const void *data, size_t len)
{
	size_t put = 0;
	while (put < len) {
		ssize_t n = write(fd, (const char *)data + put, len - put);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? errno : EIO;
		put += (size_t)n;
	}
	return 0;
}

int lm_file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

int lm_is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int lm_is_regular(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return -1;
	return S_ISREG(st.st_mode) ? 1 : 0;
}

/* mkdir, where a directory already there is success and a file there is
 * ENOTDIR (EEXIST alone let a caller go on to write into a file's path). */
static int make_dir(const char *p, int *made)
{
	*made = 0;
	if (mkdir(p, 0777) == 0) {
		*made = 1;
		return 0;
	}
	int e = errno;
	struct stat st;
	if (e == EEXIST) {
		if (stat(p, &st) != 0)
			e = errno; /* a link to nothing */
		else if (S_ISDIR(st.st_mode))
			return 0;
		else
			e = ENOTDIR;
	}
	lm_error_set("%s: %s", p, strerror(e));
	return -1;
}

int lm_mkdir_p(const char *path)
{
	if (!path[0]) {
		lm_error_set("an empty path is no directory");
		return -1;
	}
	char *p = lm_strdup(path);
	size_t len = strlen(p);
	/* where each level this call made ends, in order: past a "..", a level
	 * after one it made may have been there before */
	size_t *made_at = lm_malloc(sizeof(size_t) * (len + 1));
	size_t nmade = 0;
	int rc = 0;
	for (size_t at = 1; at <= len; at++) {
		if (at < len && p[at] != '/')
			continue;
		char c = p[at];
		int made;
		p[at] = '\0';
		rc = make_dir(p, &made);
		p[at] = c;
		if (rc != 0)
			break;
		if (made)
			made_at[nmade++] = at;
	}
	/* a level that could not be made: the levels this call made go again,
	 * deepest first, so that a failure leaves the tree as it was */
	while (rc != 0 && nmade > 0) {
		p[made_at[--nmade]] = '\0';
		(void)rmdir(p);
	}
	free(made_at);
	free(p);
	return rc;
}

char *lm_path_join(const char *dir, const char *name)
{
	if (name[0] == '/' || !dir || !dir[0])
		return lm_strdup(name);
	/* memcpy, not lm_sprintf: listing a versions folder joins every file */
	size_t n = strlen(dir), m = strlen(name);
	int slash = dir[n - 1] != '/';
	char *out = lm_malloc(n + (size_t)slash + m + 1);
	memcpy(out, dir, n);
	if (slash)
		out[n] = '/';
	memcpy(out + n + (size_t)slash, name, m + 1);
	return out;
}

char *lm_path_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return lm_strdup(".");
	if (slash == path)
		return lm_strdup("/");
	return lm_strndup(path, (size_t)(slash - path));
}

char *lm_path_display(const char *path)
{
	char cwd[4096];
	size_t n;
	if (path[0] == '/' && getcwd(cwd, sizeof cwd) && (n = strlen(cwd)) > 1 &&
	    strncmp(path, cwd, n) == 0 && path[n] == '/' && path[n + 1])
		return lm_strdup(path + n + 1);
	return lm_strdup(path);
}

char *lm_path_abs(const char *path)
{
	lm_buf b = {0};
	if (path[0] != '/') {
		char cwd[4096];
		/* a working folder too deep to name: "./x" normalised would be
		 * "/x", another place; the path stays relative, as given */
		if (!getcwd(cwd, sizeof cwd))
			return lm_strdup(path);
		lm_buf_puts(&b, cwd);
		lm_buf_putc(&b, '/');
	}
	lm_buf_puts(&b, path);
	/* Normalise "//", "/./" and "/../" segment by segment. */
	char *in = lm_buf_detach(&b);
	size_t nseg = 0;
	char **segs = lm_malloc(sizeof(char *) * (strlen(in) / 2 + 2));
	for (char *tok = strtok(in, "/"); tok; tok = strtok(NULL, "/")) {
		if (strcmp(tok, ".") == 0)
			continue;
		if (strcmp(tok, "..") == 0) {
			if (nseg)
				nseg--;
			continue;
		}
		segs[nseg++] = tok;
	}
	for (size_t i = 0; i < nseg; i++) {
		lm_buf_putc(&b, '/');
		lm_buf_puts(&b, segs[i]);
	}
	if (!nseg)
		lm_buf_putc(&b, '/');
	free(segs);
	free(in);
	return lm_buf_detach(&b);
}

double lm_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
