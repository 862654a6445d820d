/*
 * driver_sqlite.c — the embedded default database, through sqlite3.
 *
 * Unlike pysqlite, luamig runs SQLite DDL inside real transactions, so a
 * whole run (or a migration) rolls back as one. Transactions begin with
 * BEGIN IMMEDIATE: the write lock is taken up front, so two runners never
 * both read the version table and then fight over the upgrade. The runner
 * lock (try_lock) is a lock file beside the database, held from the start
 * of a run to its end, plus that write lock (see "the runner lock" below).
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* flock, gethostname */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "driver.h"
#include "reflect.h"
#include "util.h"

#define BUSY_TIMEOUT_MS 30000

typedef struct sqlite_conn {
	lm_conn base;
	sqlite3 *db;
	int lock_fd;     /* the runner lock file, flocked, while held; else -1 */
	char *lock_path; /* its path while held (owned), else NULL */
} sqlite_conn;

static void lock_release(sqlite_conn *sc);

static sqlite3 *db_of(lm_conn *c)
{
	return ((sqlite_conn *)c)->db;
}

/* The error of a call on a connection that is gone (drop), in the words
 * of pysqlite with SQLite's code name. */
static int closed(void)
{
	lm_error_set("[SQLITE_MISUSE] Cannot operate on a closed database.");
	return -1;
}

/* The name of a SQLite result code as sqlite3.h spells it: the extended
 * code when it is one a user meets (constraints, busy, locked), else its
 * primary code. Static storage; "sqlite3 error N" (in buf) for a code
 * this table does not know. */
static const char *code_name(int code, char *buf, size_t size)
{
	static const struct {
		int code;
		const char *name;
	} names[] = {
#define N(c) {c, #c}
	        N(SQLITE_CONSTRAINT_CHECK),
	        N(SQLITE_CONSTRAINT_FOREIGNKEY),
	        N(SQLITE_CONSTRAINT_NOTNULL),
	        N(SQLITE_CONSTRAINT_PRIMARYKEY),
	        N(SQLITE_CONSTRAINT_UNIQUE),
	        N(SQLITE_CONSTRAINT_TRIGGER),
	        N(SQLITE_CONSTRAINT_ROWID),
	        N(SQLITE_BUSY_SNAPSHOT),
	        N(SQLITE_LOCKED_SHAREDCACHE),
	        N(SQLITE_READONLY_DBMOVED),
	        N(SQLITE_ERROR),
	        N(SQLITE_INTERNAL),
	        N(SQLITE_PERM),
	        N(SQLITE_ABORT),
	        N(SQLITE_BUSY),
	        N(SQLITE_LOCKED),
	        N(SQLITE_NOMEM),
	        N(SQLITE_READONLY),
	        N(SQLITE_INTERRUPT),
	        N(SQLITE_IOERR),
	        N(SQLITE_CORRUPT),
	        N(SQLITE_NOTFOUND),
	        N(SQLITE_FULL),
	        N(SQLITE_CANTOPEN),
	        N(SQLITE_PROTOCOL),
	        N(SQLITE_SCHEMA),
	        N(SQLITE_TOOBIG),
	        N(SQLITE_CONSTRAINT),
	        N(SQLITE_MISMATCH),
	        N(SQLITE_MISUSE),
	        N(SQLITE_NOLFS),
	        N(SQLITE_AUTH),
	        N(SQLITE_RANGE),
	        N(SQLITE_NOTADB),
#undef N
	};
	for (int pass = 0; pass < 2; pass++) {
		int want = pass == 0 ? code : (code & 0xff);
		for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
			if (names[i].code == want)
				return names[i].name;
	}
	snprintf(buf, size, "sqlite3 error %d", code);
	return buf;
}

/* Puts db's last error in the error slot: SQLite's own result code name
 * (the extended one), its message, then the statement as SQLAlchemy
 * prints it:
 *     [SQLITE_ERROR] no such table: x
 *     [SQL: SELECT * FROM x]
 * Returns -1. */
static int fail(sqlite3 *db, const char *what)
{
	char buf[32];
	lm_error_set("[%s] %s%s%s%s", code_name(sqlite3_extended_errcode(db), buf, sizeof buf),
	             sqlite3_errmsg(db), what ? "\n[SQL: " : "", what ? what : "", what ? "]" : "");
	return -1;
}

/* sqlite:///relative.db, sqlite:////abs.db, sqlite:// (memory), with an
 * optional "+driver" and "?query" that SQLite ignores. */
static int sq_url_parse(const char *text, lm_url *out)
{
	const char *rest = strchr(text, ':') + 1; /* lm_url_parse found the colon */
	if (strncmp(rest, "//", 2) != 0) {
		lm_error_set("Could not parse SQLAlchemy URL from string '%s'", out->redacted);
		return -1;
	}
	rest += 2;
	size_t n = strcspn(rest, "?");
	if (n == 0 || (n == 1 && rest[0] == '/')) {
		out->path = NULL; /* memory */
	} else if (rest[0] == '/') {
		out->path = lm_strndup(rest + 1, n - 1);
		if (strcmp(out->path, ":memory:") == 0) {
			free(out->path);
			out->path = NULL;
		}
	} else {
		lm_error_set("Invalid SQLite URL: %s; expected sqlite:///relative.db, "
		             "sqlite:////absolute.db or sqlite://",
		             out->redacted);
		return -1;
	}
	return 0;
}

static int sq_connect(const lm_url *url, lm_conn **out)
{
	/* Before SQLite initialises (the first open): no memory statistics,
	 * which take a global mutex on every allocation. SQLITE_MISUSE when a
	 * host program (the library's) initialised SQLite already: harmless. */
	static int configured;
	if (!configured) {
		configured = 1;
		(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	}
	sqlite_conn *c = lm_calloc(1, sizeof *c);
	c->lock_fd = -1;
	const char *path = url->path ? url->path : ":memory:";
	/* NOMUTEX: a connection is used by one thread at a time (luamig has one;
	 * the library's handles are not shared between threads), so SQLite's
	 * per-call mutexes are pure cost (about 5% of `current`). sqlite3_interrupt
	 * takes no mutex and stays safe from the signal handler. */
	int rc = sqlite3_open_v2(path, &c->db,
	                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                         NULL);
	if (rc != SQLITE_OK) {
		char buf[32];
		lm_error_set(
		        "[%s] unable to open database file '%s': %s",
		        code_name(c->db ? sqlite3_extended_errcode(c->db) : rc, buf, sizeof buf),
		        path, c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
		sqlite3_close(c->db);
		free(c);
		return -1;
	}
	sqlite3_extended_result_codes(c->db, 0);
	/* Readers (current, history -i) and per-migration transactions wait
	 * this long for a writer; the runner lock itself polls (try_lock). */
	sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
	*out = &c->base;
	return 0;
}

static void sq_close(lm_conn *c)
{
	sqlite3_close_v2(db_of(c));
	lock_release((sqlite_conn *)c);
	free(c);
}

static int sq_exec(lm_conn *c, const char *sql)
{
	char *err = NULL;
	if (!db_of(c))
		return closed();
	if (sqlite3_exec(db_of(c), sql, NULL, NULL, &err) != SQLITE_OK) {
		char buf[32];
		lm_error_set("[%s] %s\n[SQL: %s]",
		             code_name(sqlite3_extended_errcode(db_of(c)), buf, sizeof buf),
		             err ? err : "error", sql);
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

/* Storage behind a result's text and blob cells. */
static void pool_free(void *p)
{
	lm_pool_dispose(p);
	free(p);
}

static int bind_params(sqlite3_stmt *st, const lm_value *params, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int idx = (int)i + 1, rc;
		const lm_value *v = &params[i];
		switch (v->type) {
		case LM_V_NULL:
			rc = sqlite3_bind_null(st, idx);
			break;
		case LM_V_INT:
		case LM_V_BOOL:
			rc = sqlite3_bind_int64(st, idx, v->i);
			break;
		case LM_V_FLOAT:
			rc = sqlite3_bind_double(st, idx, v->f);
			break;
		case LM_V_TEXT:
			rc = sqlite3_bind_text(st, idx, v->s, (int)v->len, SQLITE_TRANSIENT);
			break;
		default:
			rc = sqlite3_bind_blob(st, idx, v->s, (int)v->len, SQLITE_TRANSIENT);
			break;
		}
		if (rc != SQLITE_OK)
			return rc;
	}
	return SQLITE_OK;
}

static int sq_query(lm_conn *c, const char *sql, const lm_value *params, size_t nparams,
                    lm_result **out, long long *changes)
{
	sqlite3 *db = db_of(c);
	sqlite3_stmt *st = NULL;
	lm_result *r = NULL;
	int ret = -1;
	if (!db)
		return closed();
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return fail(db, sql);
	if ((size_t)sqlite3_bind_parameter_count(st) != nparams) {
		lm_error_set("[SQLITE_RANGE] Incorrect number of bindings supplied. The "
		             "current statement uses %d, and there are %zu supplied.\n[SQL: %s]",
		             sqlite3_bind_parameter_count(st), nparams, sql);
		goto done;
	}
	if (bind_params(st, params, nparams) != SQLITE_OK) {
		fail(db, sql);
		goto done;
	}
	if (out) {
		r = lm_calloc(1, sizeof *r);
		r->priv = lm_calloc(1, sizeof(lm_pool));
		r->free_priv = pool_free;
		r->ncols = (size_t)sqlite3_column_count(st);
		r->colnames = lm_calloc(r->ncols, sizeof(char *));
		for (size_t i = 0; i < r->ncols; i++)
			r->colnames[i] = lm_strdup(sqlite3_column_name(st, (int)i));
	}
	size_t cap = 0;
	for (;;) {
		int rc = sqlite3_step(st);
		if (rc == SQLITE_DONE)
			break;
		if (rc != SQLITE_ROW) {
			fail(db, sql);
			goto done;
		}
		if (!r)
			continue;
		if (r->nrows == cap) {
			cap = cap ? cap * 2 : 16;
			r->cells = lm_realloc(r->cells,
			                      cap * (r->ncols ? r->ncols : 1) * sizeof(lm_value));
		}
		lm_pool *pool = r->priv;
		for (size_t i = 0; i < r->ncols; i++) {
			lm_value *v = &r->cells[r->nrows * r->ncols + i];
			memset(v, 0, sizeof *v);
			switch (sqlite3_column_type(st, (int)i)) {
			case SQLITE_NULL:
				v->type = LM_V_NULL;
				break;
			case SQLITE_INTEGER:
				v->type = LM_V_INT;
				v->i = sqlite3_column_int64(st, (int)i);
				break;
			case SQLITE_FLOAT:
				v->type = LM_V_FLOAT;
				v->f = sqlite3_column_double(st, (int)i);
				break;
			default: {
				int blob = sqlite3_column_type(st, (int)i) == SQLITE_BLOB;
				const void *p =
				        blob ? sqlite3_column_blob(st, (int)i)
				             : (const void *)sqlite3_column_text(st, (int)i);
				v->len = (size_t)sqlite3_column_bytes(st, (int)i);
				v->s = lm_pool_strndup(pool, p ? p : "", v->len);
				v->type = blob ? LM_V_BLOB : LM_V_TEXT;
			}
			}
		}
		r->nrows++;
	}
	if (changes)
		*changes = sqlite3_changes(db);
	ret = 0;
done:
	sqlite3_finalize(st);
	if (ret == 0 && out)
		*out = r;
	else
		lm_result_free(r);
	return ret;
}

static int sq_begin(lm_conn *c)
{
	return sq_exec(c, "BEGIN IMMEDIATE");
}

static int sq_commit(lm_conn *c)
{
	return sq_exec(c, "COMMIT");
}

static int sq_rollback(lm_conn *c)
{
	if (!db_of(c))
		return closed();
	if (sqlite3_get_autocommit(db_of(c)))
		return 0;
	return sq_exec(c, "ROLLBACK");
}

static int sq_in_transaction(lm_conn *c)
{
	return db_of(c) && !sqlite3_get_autocommit(db_of(c));
}

/* --- the runner lock --------------------------------------------------------
 *
 * SQLite's write lock cannot be the runner lock by itself: a run that
 * commits per migration lets go of it between migrations, and another
 * runner would slip in. So the runner lock of a database file is an
 * exclusive flock(2) on "<database>-luamig-lock", a file beside it, held
 * from the start of a run to its end whatever the transaction mode. A
 * separate file, because a second descriptor on the database itself would
 * meddle with SQLite's own POSIX locks (closing it drops them). The kernel
 * drops a flock when its holder dies, SIGKILL included, so a crash leaves
 * no stale lock: at most the file, which the next runner takes over. The
 * holder writes who it is into the file for the waiters' message, and
 * removes the file as it lets go; a waiter that gets the lock on a file
 * just removed sees that the path now names another file (or none) and
 * tries again. The lock is per database file, whatever the key (the
 * version table): SQLite has one writer at a time anyway.
 *
 * With the lock file held, try_lock begins the run's write transaction
 * without waiting (BEGIN IMMEDIATE): when another connection writes,
 * luamig lets go and waits, saying so, as for another runner. An in-memory
 * database has no file and no other runner: the transaction alone.
 */

/* Who we are, as waiters read it: "pid 1234 (luamig on host h, since
 * 2026-01-02 03:04:05+0000)". Best effort. */
static void lock_write_holder(int fd)
{
	char host[128] = "?", when[40] = "?", line[256];
	if (gethostname(host, sizeof host - 1) != 0)
		snprintf(host, sizeof host, "?");
	host[sizeof host - 1] = 0;
	time_t now = time(NULL);
	struct tm tm;
	if (localtime_r(&now, &tm))
		strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S%z", &tm);
	int n = snprintf(line, sizeof line, "pid %ld (luamig on host %s, since %s)\n",
	                 (long)getpid(), host, when);
	if (n > 0 && ftruncate(fd, 0) == 0 && pwrite(fd, line, (size_t)n, 0) < 0) {
		/* the lock holds without the text; waiters say less */
	}
}

/* The holder's line from the lock file, printable characters only. */
static void lock_read_holder(int fd, lm_lock_holder *holder)
{
	char buf[256];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	size_t k = 0;
	for (ssize_t i = 0; i < n && buf[i] != '\n'; i++)
		if (buf[i] >= 0x20 && buf[i] < 0x7f)
			buf[k++] = buf[i];
	buf[k] = 0;
	snprintf(holder->text, sizeof holder->text, "%s", k ? buf : "another luamig runner");
}

/* Whether fd is still the file at path (the holder removes the file as it
 * lets go: a lock on a removed file keeps nobody out). */
static int lock_is_current(int fd, const char *path)
{
	struct stat a, b;
	return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

/* Takes the lock file of the database without waiting: 1 taken (or no file
 * to lock: an in-memory database), 0 held by another runner (holder
 * filled), -1 error. */
static int lock_take_file(sqlite_conn *sc, lm_lock_holder *holder)
{
	const char *db_path = sqlite3_db_filename(sc->db, "main");
	if (!db_path || !*db_path)
		return 1;
	char *path = lm_sprintf("%s-luamig-lock", db_path);
	struct stat st;
	mode_t mode = stat(db_path, &st) == 0 ? (st.st_mode & 0666) : 0644;
	for (int attempt = 0; attempt < 100; attempt++) {
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, mode);
		if (fd < 0 && (errno == EACCES || errno == EPERM || errno == EROFS)) {
			/* someone else's file: flock needs no write access */
			int first = errno;
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				errno = first;
		}
		if (fd < 0) {
			lm_error_set(
			        "cannot open the runner lock file '%s': %s (luamig locks a SQLite "
			        "database through a file beside it; --no-lock runs without the "
			        "lock)",
			        path, strerror(errno));
			free(path);
			return -1;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
			int err = errno;
			if (err == EWOULDBLOCK || err == EINTR) {
				if (holder)
					lock_read_holder(fd, holder);
				close(fd);
				free(path);
				return 0;
			}
			close(fd);
			lm_error_set("cannot lock the runner lock file '%s': %s (--no-lock runs "
			             "without the lock)",
			             path, strerror(err));
			free(path);
			return -1;
		}
		if (lock_is_current(fd, path)) {
			lock_write_holder(fd);
			sc->lock_fd = fd;
			sc->lock_path = path;
			return 1;
		}
		close(fd); /* its holder removed it as we locked it: the next one */
	}
	lm_error_set("cannot take the runner lock file '%s': it keeps being replaced", path);
	free(path);
	return -1;
}

/* Lets go of the lock file, if held: removed first, while still locked, so
 * that nobody takes a lock on a file about to go (see above). */
static void lock_release(sqlite_conn *sc)
{
	if (sc->lock_fd < 0)
		return;
	if (unlink(sc->lock_path) != 0) {
		/* a directory we may not write in: the file stays, unlocked */
	}
	close(sc->lock_fd);
	sc->lock_fd = -1;
	free(sc->lock_path);
	sc->lock_path = NULL;
}

/* Tries once to take the runner lock: the lock file, then the write
 * transaction (BEGIN IMMEDIATE without waiting). 1 taken, 0 busy (holder
 * says whether another runner or another writer), -1 error; nothing is
 * kept unless both are taken. */
static int sq_try_lock(lm_conn *c, const char *key, lm_lock_holder *holder)
{
	(void)key;
	sqlite_conn *sc = (sqlite_conn *)c;
	sqlite3 *db = db_of(c);
	if (!db)
		return closed();
	if (sc->lock_fd < 0) {
		int rc = lock_take_file(sc, holder);
		if (rc != 1)
			return rc;
	}
	if (!sqlite3_get_autocommit(db))
		return 1;
	sqlite3_busy_timeout(db, 0);
	int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	if (rc == SQLITE_OK)
		return 1;
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
		lock_release(sc);
		if (holder)
			snprintf(holder->text, sizeof holder->text,
			         "another connection (SQLite's write lock; it does not say whose)");
		return 0;
	}
	fail(db, "BEGIN IMMEDIATE");
	lock_release(sc);
	return -1;
}

/* Releases the lock file; the write transaction ends with the run's commit
 * or rollback. */
static int sq_unlock(lm_conn *c, const char *key)
{
	(void)key;
	lock_release((sqlite_conn *)c);
	return 0;
}

/* sqlite3_interrupt only sets a flag that the running statement checks;
 * SQLite's own shell calls it from its SIGINT handler. */
static void sq_interrupt(lm_conn *c)
{
	sqlite3_interrupt(db_of(c));
}

/* SQLite's own switch, sqlite3_db_config(SQLITE_DBCONFIG_ENABLE_FKEY), and
 * not PRAGMA foreign_keys, which is a no-op inside a transaction: the batch
 * rebuild of a table runs inside the run's transaction, and its DROP TABLE
 * would otherwise fire the ON DELETE actions of the tables that refer to
 * it. Refuses when SQLite does not switch (a later SQLite might not inside
 * a transaction): the rebuild must not run with the actions on. */
static int sq_enforce_foreign_keys(lm_conn *c, int on, int *was)
{
	sqlite3 *db = db_of(c);
	int before = 0, after = 0;
	if (sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_FKEY, -1, &before) != SQLITE_OK ||
	    sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_FKEY, on ? 1 : 0, &after) != SQLITE_OK ||
	    after != (on ? 1 : 0)) {
		lm_error_set("SQLite %s did not switch foreign key enforcement %s for this "
		             "connection",
		             sqlite3_libversion(), on ? "on" : "off");
		return -1;
	}
	if (was)
		*was = before;
	return 0;
}

/* An embedded database has no link to lose; what comes closest is the
 * handle gone: SQLite rolls back what was not committed, and every later
 * call fails as on a closed connection. */
static void sq_drop(lm_conn *c)
{
	sqlite3_close_v2(db_of(c));
	((sqlite_conn *)c)->db = NULL;
}

static const char *sq_server_version(lm_conn *c)
{
	(void)c;
	return sqlite3_libversion();
}

static const char *const sq_schemes[] = {"sqlite", NULL};

const lm_driver lm_driver_sqlite = {
        .name = "sqlite",
        .schemes = sq_schemes,
        .placeholder = '?',
        .url_parse = sq_url_parse,
        .connect = sq_connect,
        .close = sq_close,
        .exec = sq_exec,
        .query = sq_query,
        .begin = sq_begin,
        .commit = sq_commit,
        .rollback = sq_rollback,
        .in_transaction = sq_in_transaction,
        .try_lock = sq_try_lock,
        .unlock = sq_unlock,
        .interrupt = sq_interrupt,
        .enforce_foreign_keys = sq_enforce_foreign_keys,
        .server_version = sq_server_version,
        .reflect = lm_reflect_sqlite,
        .drop = sq_drop,
};
