/*
 * chunkcache.c — revision files' bytecode kept between runs (see
 * chunkcache.h).
 *
 * An entry is one file: a fixed header (below), the chunk name, then the
 * bytecode lua_dump wrote, debug information kept (errors name the user's
 * line). The seal is lm_word_hash of the whole entry with the seal field
 * zeroed. Entries are written to a temporary file and renamed over the old
 * one, so a reader sees an old entry or a new one, never half of one.
 */
#define _DEFAULT_SOURCE /* st_mtim, O_NOFOLLOW */
#include "chunkcache.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>

#include "cachedir.h"
#include "lua_host.h"
#include "util.h"

#define MAGIC "luamig-chunk-2"
/* An entry larger than this is not read (a revision's bytecode is a few KiB). */
#define MAX_ENTRY (64u << 20)

typedef struct header {
	char magic[16];   /* MAGIC, NUL-padded */
	char release[24]; /* LUA_RELEASE of the Lua that dumped the code */
	uint64_t size, ino, mtime_s, mtime_ns, ctime_s, ctime_ns; /* the revision file's */
	uint64_t written_at; /* seconds, taken before the revision file was read */
	uint64_t name_len, code_len;
	uint64_t runtime; /* runtime_tag() of the Lua that dumped the code */
	uint64_t seal;
} header;

/* What a load holds across Lua calls that may raise (lm_lua_scratch). */
typedef struct work {
	char *file;       /* the entry's path; NULL when caching is off */
	int fd;           /* the revision file, read a block at a time; -1 when closed */
	char *block;      /* the block read last */
	size_t left;      /* bytes of a regular file still to read; SIZE_MAX for others */
	int first;        /* the first block is next (a byte-order mark is skipped there) */
	int read_errno;   /* a read that failed */
	char *entry;      /* the entry's bytes, as read */
	lm_buf code;      /* the bytecode dumped for a new entry */
	uint64_t runtime; /* runtime_tag() */
	time_t started;   /* before the revision file was stat'ed and read */
} work;

static void work_dispose(void *block)
{
	work *w = block;
	free(w->file);
	if (w->fd >= 0)
		close(w->fd);
	free(w->block);
	free(w->entry);
	lm_buf_dispose(&w->code);
}

/* The entry's path for the revision file at path, or NULL when caching is
 * off or there is no cache folder. */
static char *entry_file(const char *path)
{
	const char *off = getenv("LUAMIG_NO_CACHE");
	if (off && *off)
		return NULL;
	return lm_cache_file(0, "chunks/", path, "luac");
}

static void fill_release(char out[24])
{
	memset(out, 0, 24);
	strncpy(out, LUA_RELEASE, 23);
}

static int same_stat(const header *h, const struct stat *st)
{
	return h->size == (uint64_t)st->st_size && h->ino == (uint64_t)st->st_ino &&
	       h->mtime_s == (uint64_t)st->st_mtim.tv_sec &&
	       h->mtime_ns == (uint64_t)st->st_mtim.tv_nsec &&
	       h->ctime_s == (uint64_t)st->st_ctim.tv_sec &&
	       h->ctime_ns == (uint64_t)st->st_ctim.tv_nsec;
}

/* The seal of an entry of n bytes (its seal field is zeroed for the hash and put back). */
static uint64_t seal_of(char *entry, size_t n)
{
	uint64_t kept;
	memcpy(&kept, entry + offsetof(header, seal), sizeof kept);
	memset(entry + offsetof(header, seal), 0, sizeof kept);
	uint64_t s = lm_word_hash(entry, n);
	memcpy(entry + offsetof(header, seal), &kept, sizeof kept);
	return s;
}

/* Reads all of fd (size bytes, a regular file) into a new block; NULL on a
 * short read or an error. */
static char *read_all(int fd, size_t size)
{
	char *p = lm_malloc(size ? size : 1);
	size_t got = 0;
	while (got < size) {
		ssize_t n = read(fd, p + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(p);
			return NULL;
		}
		got += (size_t)n;
	}
	return p;
}

static int dump_writer(lua_State *L, const void *p, size_t n, void *ud)
{
	(void)L;
	lm_buf_put(ud, p, n);
	return 0;
}

/* The Lua that runs, not the one whose headers luamig was built with: the
 * library and the Lua module run on the system's Lua, whose patch release
 * an upgrade changes under entries written before. A hash of the dump of a
 * small function (the dump's header, layout and opcodes). */
static uint64_t runtime_tag(lua_State *L)
{
	static uint64_t tag; /* one Lua runs in a process: worked out once */
	if (tag)
		return tag;
	if (luaL_loadstring(L, "local a, b = ... return a .. b, { a, #b, b[1] }, a < b") ==
	    LUA_OK) {
		lm_buf b = {0};
		if (lua_dump(L, dump_writer, &b, 1) == 0)
			tag = lm_word_hash(lm_buf_str(&b), b.len);
		lm_buf_dispose(&b);
	}
	lua_pop(L, 1);
	return tag;
}

/* Pushes the cached chunk and returns 1 when the entry is there and may be
 * believed for the revision file st describes; 0 (nothing pushed) otherwise. */
static int load_entry(lua_State *L, work *w, const struct stat *st, const char *chunkname)
{
	/* not followed if a link, and never waited on if a FIFO */
	int fd = open(w->file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return 0;
	struct stat es;
	int ok = fstat(fd, &es) == 0 && lm_cache_own_file(&es) &&
	         (uint64_t)es.st_size >= sizeof(header) && (uint64_t)es.st_size <= MAX_ENTRY;
	size_t n = ok ? (size_t)es.st_size : 0;
	if (ok) {
		w->entry = read_all(fd, n);
		lm_cache_mark_used(fd, &es);
	}
	close(fd);
	if (!w->entry)
		return 0;
	header h;
	memcpy(&h, w->entry, sizeof h);
	char release[24];
	fill_release(release);
	size_t name_len = strlen(chunkname);
	if (memcmp(h.magic, MAGIC, sizeof MAGIC) != 0 || memcmp(h.release, release, 24) != 0 ||
	    h.runtime != w->runtime || !same_stat(&h, st) || h.name_len != name_len ||
	    h.code_len > n || sizeof h + h.name_len + h.code_len != n)
		return 0;
	/* Racy: changed within a second of the entry being written; the same
	 * stat could hide a second change. */
	if ((long long)st->st_ctim.tv_sec >= (long long)h.written_at - 1)
		return 0;
	if (memcmp(w->entry + sizeof h, chunkname, name_len) != 0 || seal_of(w->entry, n) != h.seal)
		return 0;
	const char *code = w->entry + sizeof h + name_len;
	if (luaL_loadbufferx(L, code, (size_t)h.code_len, chunkname, "b") != LUA_OK) {
		lua_pop(L, 1);
		return 0;
	}
	return 1;
}

/* Set when an entry this process wrote would not be believed (a file
 * system that keeps no owner or mode, as some network and shared-folder
 * mounts): writing more would only cost a file each. */
static int writes_unbelieved;

/* Writes the entry of the chunk on top of the stack; a cache that cannot
 * be written is no error. */
static void save_entry(lua_State *L, work *w, const struct stat *st, const char *chunkname)
{
	/* an entry the next run would not believe is not written: a file
	 * changed in the last second (or, on a skewed clock, in the future) */
	if (writes_unbelieved || (long long)st->st_ctim.tv_sec >= (long long)w->started - 1)
		return;
	if (lua_dump(L, dump_writer, &w->code, 0) != 0)
		return;
	header h;
	memset(&h, 0, sizeof h);
	memcpy(h.magic, MAGIC, sizeof MAGIC);
	fill_release(h.release);
	h.size = (uint64_t)st->st_size;
	h.ino = (uint64_t)st->st_ino;
	h.mtime_s = (uint64_t)st->st_mtim.tv_sec;
	h.mtime_ns = (uint64_t)st->st_mtim.tv_nsec;
	h.ctime_s = (uint64_t)st->st_ctim.tv_sec;
	h.ctime_ns = (uint64_t)st->st_ctim.tv_nsec;
	h.written_at = (uint64_t)w->started;
	h.name_len = strlen(chunkname);
	h.code_len = w->code.len;
	h.runtime = w->runtime;
	lm_buf b = {0};
	lm_buf_put(&b, (const char *)&h, sizeof h);
	lm_buf_put(&b, chunkname, h.name_len);
	lm_buf_put(&b, lm_buf_str(&w->code), w->code.len);
	char *entry = (char *)lm_buf_str(&b);
	h.seal = seal_of(entry, b.len);
	memcpy(entry + offsetof(header, seal), &h.seal, sizeof h.seal);

	if (lm_cache_write(w->file, entry, b.len) == 1)
		writes_unbelieved = 1;
	lm_buf_dispose(&b);
}

/* The parser takes the file a block at a time: a checkpoint's megabytes of
 * text are never held whole beside what the parser builds of them. A
 * regular file is read up to its size, with no read() to see EOF (a
 * revision under a block is one read, as when files were read whole). */
#define BLOCK ((size_t)64 << 10)

/* Reads up to cap bytes (less when the file has less left) into `into`: the
 * count, 0 at the end of the file or on an error (kept in read_errno). */
static size_t fill(work *w, char *into, size_t cap)
{
	if (w->left == 0)
		return 0;
	ssize_t n;
	do
		n = read(w->fd, into, w->left < cap ? w->left : cap);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		if (n < 0)
			w->read_errno = errno;
		w->left = 0;
		return 0;
	}
	if (w->left != SIZE_MAX)
		w->left -= (size_t)n;
	return (size_t)n;
}

static const char *read_block(lua_State *L, void *ud, size_t *size)
{
	(void)L;
	work *w = ud;
	if (w->first) {
		/* a UTF-8 byte-order mark is skipped, as luaL_loadfile skips it:
		 * its three bytes are looked for however the reads split them */
		w->first = 0;
		size_t n = fill(w, w->block, BLOCK), k;
		while (n < 3 && (k = fill(w, w->block + n, BLOCK - n)) > 0)
			n += k;
		const char *p = w->block;
		if (n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
			p += 3;
			n -= 3;
		}
		if (n > 0) { /* (0 would end the chunk: the next block follows) */
			*size = n;
			return p;
		}
	}
	*size = fill(w, w->block, BLOCK);
	return *size ? w->block : NULL;
}

int lm_chunkcache_load(lua_State *L, const char *path, const char *chunkname, int seen)
{
	work *w = lm_lua_scratch(L, sizeof *w, work_dispose);
	w->fd = -1;
	int status = LUA_OK;
	w->started = time(NULL);
	struct stat st;
	/* stat before the read: a change during it leaves a stat the next run
	 * does not match, never a stale chunk under a current stat */
	if (stat(path, &st) != 0) {
		lua_pushfstring(L, "%s: %s", path, strerror(errno));
		status = LUA_ERRFILE;
		goto done;
	}
	w->file = seen && S_ISREG(st.st_mode) ? entry_file(path) : NULL;
	if (w->file)
		w->runtime = runtime_tag(L);
	if (w->file && load_entry(L, w, &st, chunkname))
		goto done;
	w->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (w->fd < 0) {
		lua_pushfstring(L, "%s: %s", path, strerror(errno));
		status = LUA_ERRFILE;
		goto done;
	}
	struct stat fst;
	/* (a regular file of size 0 may still have text: a /proc file) */
	w->left = fstat(w->fd, &fst) == 0 && S_ISREG(fst.st_mode) && fst.st_size > 0
	                  ? (size_t)fst.st_size
	                  : SIZE_MAX;
	w->block = lm_malloc(BLOCK);
	w->first = 1;
	status = lua_load(L, read_block, w, chunkname, "t");
	if (w->read_errno) { /* the chunk or message of a text cut short */
		lua_pop(L, 1);
		lua_pushfstring(L, "%s: %s", path, strerror(w->read_errno));
		status = LUA_ERRFILE;
		goto done;
	}
	if (status == LUA_OK && w->file)
		save_entry(L, w, &st, chunkname);
done:
	lm_lua_scratch_done(w);
	lua_remove(L, -2); /* the scratch block */
	return status;
}
