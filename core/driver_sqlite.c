/*
 * driver_sqlite.c — the embedded default database, through sqlite3.
 *
 * Unlike pysqlite, luamig runs SQLite DDL inside real transactions, so a
 * whole run (or a migration) rolls back as one. Transactions begin with
 * BEGIN IMMEDIATE: the write lock is taken up front, so two runners never
 * both read the version table and then fight over the upgrade, and that
 * same lock is the runner lock (try_lock) — SQLite tells no holder.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "reflect.h"
#include "util.h"

#define BUSY_TIMEOUT_MS 30000

typedef struct sqlite_conn {
	lm_conn base;
	sqlite3 *db;
} sqlite_conn;

static sqlite3 *db_of(lm_conn *c)
{
	return ((sqlite_conn *)c)->db;
}

/* The error of a call on a connection that is gone (drop), as pysqlite
 * says it. */
static int closed(void)
{
	lm_error_set("(sqlite3.ProgrammingError) Cannot operate on a closed database.");
	return -1;
}

static int fail(sqlite3 *db, const char *what)
{
	lm_error_set("(sqlite3.OperationalError) %s%s%s", sqlite3_errmsg(db),
	             what ? "\n[SQL: " : "", what ? what : "");
	if (what) {
		/* close the bracket of "[SQL: ...]" as SQLAlchemy prints it */
		char *m = lm_sprintf("%s]", lm_error_get());
		lm_error_set("%s", m);
		free(m);
	}
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
	sqlite_conn *c = lm_calloc(1, sizeof *c);
	const char *path = url->path ? url->path : ":memory:";
	int rc = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		lm_error_set("(sqlite3.OperationalError) unable to open database file '%s': %s",
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
	free(c);
}

static int sq_exec(lm_conn *c, const char *sql)
{
	char *err = NULL;
	if (!db_of(c))
		return closed();
	if (sqlite3_exec(db_of(c), sql, NULL, NULL, &err) != SQLITE_OK) {
		lm_error_set("(sqlite3.OperationalError) %s\n[SQL: %s]", err ? err : "error", sql);
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

/* Storage behind a result's text and blob cells. */
typedef struct arena {
	lm_strv strings;
} arena;

static void arena_free(void *p)
{
	arena *a = p;
	lm_strv_dispose(&a->strings);
	free(a);
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
		lm_error_set(
		        "(sqlite3.ProgrammingError) Incorrect number of bindings supplied. The "
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
		arena *a = lm_calloc(1, sizeof *a);
		r->priv = a;
		r->free_priv = arena_free;
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
		arena *a = r->priv;
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
				char *copy = lm_strndup(p ? p : "", v->len);
				lm_strv_push_own(&a->strings, copy);
				v->s = copy;
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

/* The runner lock is the run's own write transaction: BEGIN IMMEDIATE
 * without waiting. Busy means another runner holds it. */
static int sq_try_lock(lm_conn *c, const char *key, lm_lock_holder *holder)
{
	(void)key;
	sqlite3 *db = db_of(c);
	if (!db)
		return closed();
	if (!sqlite3_get_autocommit(db))
		return 1;
	sqlite3_busy_timeout(db, 0);
	int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	if (rc == SQLITE_OK)
		return 1;
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
		if (holder)
			snprintf(holder->text, sizeof holder->text,
			         "another connection (SQLite's write lock; it does not say whose)");
		return 0;
	}
	return fail(db, "BEGIN IMMEDIATE");
}

static int sq_unlock(lm_conn *c, const char *key)
{
	(void)c;
	(void)key;
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
        .server_version = sq_server_version,
        .reflect = lm_reflect_sqlite,
        .drop = sq_drop,
};
