/*
 * fault.c — fault injection (see fault.h): the counters, the allocators
 * that fail on the Nth allocation, and the driver shim that fails the Nth
 * statement, begin or commit or loses the connection at the Nth call.
 *
 * The shim is a copy of the real driver's table whose entries count the
 * call, inject the fault when its number comes, and otherwise call the
 * real driver; a connection made while fault injection is on points to
 * the shim, so every caller of the driver table (lua_conn.c, reflection)
 * goes through it without knowing.
 */
#define _POSIX_C_SOURCE 200809L
#include "fault.h"

#ifdef LUAMIG_FAULT_INJECTION

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

typedef enum fault_kind { F_NONE, F_COUNT, F_STMT, F_BEGIN, F_COMMIT, F_DROP, F_ALLOC } fault_kind;

static const char *const kind_names[] = {"", "count", "stmt", "begin", "commit", "drop", "alloc"};

/* What LUAMIG_FAULT asked for, and what the process has done so far. */
static struct {
	fault_kind kind;
	unsigned long n;
	int persistent;      /* alloc:N+ */
	unsigned long fired; /* the number at which the fault was injected, or 0 */
	unsigned long stmt, begin, commit, call, alloc;
	FILE *log; /* LUAMIG_FAULT_LOG, or NULL */
} F;

/* Notes that the fault was injected at number n, in the log at once: an
 * out-of-memory exit (util.c) runs no exit handler. */
static void fire(unsigned long n)
{
	if (F.fired)
		return;
	F.fired = n;
	if (F.log)
		fprintf(F.log, "fired %s %lu\n", kind_names[F.kind], n);
}

/* Writes the totals to the log at exit. */
static void write_counts(void)
{
	if (!F.log)
		return;
	fprintf(F.log, "counts stmt=%lu begin=%lu commit=%lu call=%lu alloc=%lu\n", F.stmt, F.begin,
	        F.commit, F.call, F.alloc);
	fclose(F.log);
	F.log = NULL;
}

/* --- allocation ------------------------------------------------------- */

int lm_fault_alloc_fails(void)
{
	if (F.kind == F_NONE)
		return 0;
	F.alloc++;
	if (F.kind != F_ALLOC || F.alloc < F.n || (F.alloc > F.n && !F.persistent))
		return 0;
	fire(F.alloc);
	return 1;
}

/* Lua's allocator, counting. When an allocation fails, Lua collects
 * garbage in emergency mode and asks once more for the same block; that
 * retry fails too (it is the same allocation), so that the failure
 * reaches Lua's error path instead of being absorbed by the collection.
 * Shrinking and freeing never fail: Lua assumes they cannot. */
static lua_Alloc lua_real;
static void *lua_real_ud;
static struct {
	int pending;
	void *ptr;
	size_t nsize;
} retry;

static void *lua_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	(void)ud;
	size_t old = ptr ? osize : 0; /* without ptr, osize is a type tag */
	if (nsize > old) {
		int again = retry.pending && retry.ptr == ptr && retry.nsize == nsize;
		retry.pending = 0;
		if (again)
			return NULL;
		if (lm_fault_alloc_fails()) {
			retry.pending = 1;
			retry.ptr = ptr;
			retry.nsize = nsize;
			return NULL;
		}
	}
	return lua_real(lua_real_ud, ptr, osize, nsize);
}

void lm_fault_lua_state(lua_State *L)
{
	if (F.kind == F_NONE)
		return;
	/* The new allocator frees what the old one allocated: both are
	 * realloc and free underneath. */
	lua_real = lua_getallocf(L, &lua_real_ud);
	lua_setallocf(L, lua_alloc, NULL);
}

/* SQLite's allocator, counting: SQLite answers a NULL with SQLITE_NOMEM. */
static sqlite3_mem_methods sqlite_real;

static void *sqlite_malloc(int n)
{
	return lm_fault_alloc_fails() ? NULL : sqlite_real.xMalloc(n);
}

static void *sqlite_realloc(void *p, int n)
{
	return lm_fault_alloc_fails() ? NULL : sqlite_real.xRealloc(p, n);
}

/* --- the driver shim ---------------------------------------------------- */

/* One shim per real driver, made on its first connection. */
enum { MAX_SHIMS = 8 };
static struct {
	const lm_driver *real;
	lm_driver shim;
} shims[MAX_SHIMS];
static size_t nshims;

static const lm_driver *real_of(lm_conn *c)
{
	for (size_t i = 0; i < nshims; i++)
		if (c->driver == &shims[i].shim)
			return shims[i].real;
	abort(); /* a connection that does not go through a shim cannot get here */
}

/* Counts one driver call (the statement and transaction counters are
 * counted by the caller first); loses the connection just before the
 * call that drop:N names, so that the call fails as it would then. */
static void count_call(lm_conn *c, const lm_driver *d, const char *what)
{
	F.call++;
	if (F.log && F.kind == F_COUNT)
		fprintf(F.log, "call %lu %s stmt=%lu alloc=%lu\n", F.call, what, F.stmt, F.alloc);
	if (F.kind == F_DROP && F.call == F.n) {
		fire(F.call);
		d->drop(c);
	}
}

/* Counts one statement (or begin, or commit) in *counter; 1 when it is
 * the one to fail, with the error slot set. */
static int injected(unsigned long *counter, fault_kind kind, const char *what, const char *sql)
{
	++*counter;
	if (F.kind != kind || *counter != F.n)
		return 0;
	fire(*counter);
	if (sql)
		lm_error_set("injected fault: %s %lu\n[SQL: %s]", what, *counter, sql);
	else
		lm_error_set("injected fault: %s %lu", what, *counter);
	return 1;
}

static int shim_exec(lm_conn *c, const char *sql)
{
	const lm_driver *d = real_of(c);
	int fail = injected(&F.stmt, F_STMT, "statement", sql);
	count_call(c, d, "exec");
	return fail ? -1 : d->exec(c, sql);
}

static int shim_query(lm_conn *c, const char *sql, const lm_value *params, size_t nparams,
                      lm_result **out, long long *changes)
{
	const lm_driver *d = real_of(c);
	int fail = injected(&F.stmt, F_STMT, "statement", sql);
	count_call(c, d, "query");
	if (fail) {
		if (out)
			*out = NULL;
		return -1;
	}
	return d->query(c, sql, params, nparams, out, changes);
}

static int shim_begin(lm_conn *c)
{
	const lm_driver *d = real_of(c);
	int fail = injected(&F.begin, F_BEGIN, "begin", NULL);
	count_call(c, d, "begin");
	return fail ? -1 : d->begin(c);
}

static int shim_commit(lm_conn *c)
{
	const lm_driver *d = real_of(c);
	int fail = injected(&F.commit, F_COMMIT, "commit", NULL);
	count_call(c, d, "commit");
	return fail ? -1 : d->commit(c);
}

static int shim_rollback(lm_conn *c)
{
	const lm_driver *d = real_of(c);
	count_call(c, d, "rollback");
	return d->rollback(c);
}

static int shim_try_lock(lm_conn *c, const char *key, lm_lock_holder *holder)
{
	const lm_driver *d = real_of(c);
	int fail = injected(&F.stmt, F_STMT, "statement", "(taking the runner lock)");
	count_call(c, d, "lock");
	return fail ? -1 : d->try_lock(c, key, holder);
}

static int shim_unlock(lm_conn *c, const char *key)
{
	const lm_driver *d = real_of(c);
	count_call(c, d, "unlock");
	return d->unlock(c, key);
}

static int shim_in_transaction(lm_conn *c)
{
	return real_of(c)->in_transaction(c);
}

static const char *shim_server_version(lm_conn *c)
{
	return real_of(c)->server_version(c);
}

static void shim_close(lm_conn *c)
{
	real_of(c)->close(c);
}

static void shim_drop(lm_conn *c)
{
	real_of(c)->drop(c);
}

const lm_driver *lm_fault_driver(const lm_driver *d)
{
	if (F.kind == F_NONE)
		return d;
	for (size_t i = 0; i < nshims; i++)
		if (shims[i].real == d)
			return &shims[i].shim;
	if (nshims == MAX_SHIMS)
		abort(); /* more drivers than the registry has */
	lm_driver *s = &shims[nshims].shim;
	shims[nshims++].real = d;
	*s = *d; /* name, schemes, placeholder, url_parse, connect, reflect as they are */
	s->close = shim_close;
	s->exec = shim_exec;
	s->query = shim_query;
	s->begin = shim_begin;
	s->commit = shim_commit;
	s->rollback = shim_rollback;
	s->in_transaction = shim_in_transaction;
	s->try_lock = shim_try_lock;
	s->unlock = shim_unlock;
	s->server_version = shim_server_version;
	s->drop = shim_drop;
	return s;
}

/* --- start-up ------------------------------------------------------------ */

int lm_fault_init(void)
{
	const char *spec = getenv("LUAMIG_FAULT");
	if (!spec || !*spec)
		return 0;
	fault_kind kind = F_NONE;
	const char *colon = strchr(spec, ':');
	size_t namelen = colon ? (size_t)(colon - spec) : strlen(spec);
	for (int k = F_COUNT; k <= F_ALLOC; k++)
		if (strlen(kind_names[k]) == namelen && strncmp(spec, kind_names[k], namelen) == 0)
			kind = (fault_kind)k;
	char *end = NULL;
	unsigned long n = 0;
	if (colon && colon[1] >= '0' && colon[1] <= '9')
		n = strtoul(colon + 1, &end, 10);
	int persistent = kind == F_ALLOC && end && *end == '+';
	if (persistent)
		end++;
	if (kind == F_NONE || (kind == F_COUNT) != !colon || (colon && (!end || *end || n == 0))) {
		lm_error_set("LUAMIG_FAULT='%s': expected count, or stmt, begin, commit, drop or "
		             "alloc, ':', a number from 1 (alloc:N+ fails from the Nth on)",
		             spec);
		return -1;
	}
	if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &sqlite_real) != SQLITE_OK) {
		lm_error_set("LUAMIG_FAULT: SQLite was initialised before its allocator could be "
		             "replaced");
		return -1;
	}
	sqlite3_mem_methods counting = sqlite_real;
	counting.xMalloc = sqlite_malloc;
	counting.xRealloc = sqlite_realloc;
	if (sqlite3_config(SQLITE_CONFIG_MALLOC, &counting) != SQLITE_OK) {
		lm_error_set("LUAMIG_FAULT: SQLite refused the counting allocator");
		return -1;
	}
	const char *log = getenv("LUAMIG_FAULT_LOG");
	if (log && *log) {
		F.log = fopen(log, "w");
		if (!F.log) {
			lm_error_set("LUAMIG_FAULT_LOG: cannot write %s", log);
			return -1;
		}
		setvbuf(F.log, NULL, _IOLBF, 0);
		atexit(write_counts);
	}
	F.kind = kind;
	F.n = n;
	F.persistent = persistent;
	return 0;
}

#endif
