/*
 * util.h — allocation, growable strings and arrays, the error slot, files.
 *
 * Every module reports failure the same way: a function returns an int
 * (0 = ok, -1 = failure) after writing a human message into the one error
 * slot with lm_error_set(); callers propagate the -1 and leave the message
 * alone, so the first, most precise message reaches the user.
 */
#ifndef LM_UTIL_H
#define LM_UTIL_H

#include <stdarg.h>
#include <stddef.h>

#if defined(__GNUC__)
#define LM_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define LM_PRINTF(f, a)
#endif

/* LM_ASAN: built with AddressSanitizer (and its leak checker). */
#if defined(__SANITIZE_ADDRESS__)
#define LM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LM_ASAN 1
#endif
#endif

/* 1 when what a command still holds at its end may be left to the
 * process's exit instead of freed piece by piece: the CLI's main sets it,
 * except in a build with the leak checker (valgrind's leak check on a
 * release build lists the revision map as lost: by design). The library
 * leaves it 0. */
extern int lm_exit_reclaims;

/* Allocation that aborts on out-of-memory: callers never check for NULL. */
void *lm_malloc(size_t n);
void *lm_calloc(size_t count, size_t size);
void *lm_realloc(void *p, size_t n);
char *lm_strdup(const char *s);
char *lm_strndup(const char *s, size_t n);
char *lm_sprintf(const char *fmt, ...) LM_PRINTF(1, 2);

/* The error slot. lm_error_set replaces the message; lm_error_get never
 * returns NULL ("" when no error was set). */
void lm_error_set(const char *fmt, ...) LM_PRINTF(1, 2);
const char *lm_error_get(void);
void lm_error_clear(void);
/* The SQLSTATE of the database error in the slot (five characters), set by
 * the driver after lm_error_set (which clears it); "" when unknown. */
void lm_error_set_code(const char *code);
const char *lm_error_code(void);

/* A growable, always NUL-terminated string. Zero-initialise to use. */
typedef struct lm_buf {
	char *data;
	size_t len;
	size_t cap;
} lm_buf;

void lm_buf_grow(lm_buf *b, size_t extra);
void lm_buf_put(lm_buf *b, const char *s, size_t n);
void lm_buf_puts(lm_buf *b, const char *s);
void lm_buf_putc(lm_buf *b, char c);
void lm_buf_printf(lm_buf *b, const char *fmt, ...) LM_PRINTF(2, 3);
/* Returns the string (never NULL) and leaves the buffer empty; the caller owns it. */
char *lm_buf_detach(lm_buf *b);
void lm_buf_dispose(lm_buf *b);
static inline const char *lm_buf_str(const lm_buf *b)
{
	return b->data ? b->data : "";
}

/* Memory handed out in pieces and freed all at once: each piece is carved
 * from a block (a piece larger than a quarter of a block gets one of its
 * own), so that a query's thousands of small strings cost a few mallocs.
 * Pieces are zeroed and aligned for any type. Zero-initialise to use;
 * lm_pool_dispose frees every piece, and leaves the pool empty. */
typedef struct lm_pool {
	char *next;
	size_t left;
	void **blocks;
	size_t n, cap;
} lm_pool;

void *lm_pool_alloc(lm_pool *p, size_t n);
char *lm_pool_strndup(lm_pool *p, const char *s, size_t n);
void lm_pool_dispose(lm_pool *p);

/* A growable array of owned strings. Zero-initialise to use. */
typedef struct lm_strv {
	char **v;
	size_t n;
	size_t cap;
} lm_strv;

void lm_strv_push(lm_strv *sv, const char *s); /* copies s */
void lm_strv_push_own(lm_strv *sv, char *s);   /* takes s */
int lm_strv_contains(const lm_strv *sv, const char *s);
void lm_strv_dispose(lm_strv *sv);

/* Hashes for change detection, not against a writer. lm_fnv1a: FNV-1a (64
 * bit) of a string, for cache files' names. lm_word_hash: 64 bits of n
 * bytes, eight at a time (FNV-1a's constants, a word for a byte, a shift to
 * mix the high bits down), cheap enough to seal every entry a cache hands
 * out; the word's byte order is the machine's, as are the caches'. */
unsigned long long lm_fnv1a(const char *s);
unsigned long long lm_word_hash(const char *p, size_t n);

/* Files. lm_read_file returns a malloc'd NUL-terminated buffer or NULL with
 * the error slot set ("path: reason"). */
char *lm_read_file(const char *path, size_t *len_out);
int lm_write_file(const char *path, const char *data, size_t len);
/* Writes all len bytes to fd, again after EINTR or a short write: 0, or
 * the errno of the write that failed (EIO for one that wrote nothing). */
int lm_write_all(int fd, const void *data, size_t len);
int lm_file_exists(const char *path);
int lm_is_dir(const char *path);
/* 1 for a regular file (symbolic links followed), 0 for anything else that
 * is there (a folder, a FIFO, a device: reading one may block for good), -1
 * when stat fails (errno set). Asked without opening the file. */
int lm_is_regular(const char *path);
/* Creates a directory and its parents; 0 if it exists already, -1 with
 * "path: Not a directory" when a file is where one of them goes (or the
 * reason another level could not be made), the levels it made before the
 * failing one removed again. */
int lm_mkdir_p(const char *path);
/* Joins a directory and a relative name ("a" + "b" -> "a/b"); absolute b wins. */
char *lm_path_join(const char *dir, const char *name);
/* The directory part of a path ("a/b.ini" -> "a", "b.ini" -> "."). */
char *lm_path_dirname(const char *path);
/* An absolute, normalised version of path (does not need to exist); a
 * relative path as given when the working folder cannot be named. */
char *lm_path_abs(const char *path);
/* How a file is named in messages: relative to the working directory when
 * it lies below it (as the user typed paths), else as given. Caller frees. */
char *lm_path_display(const char *path);

/* Monotonic clock in seconds, for elapsed-time logging. */
double lm_now(void);

#endif
