/*
 * driver.h — one interface for every database luamig speaks to.
 *
 * A driver is a table of function pointers; a connection is an opaque
 * handle that starts with a pointer to its driver. The callers (the Lua
 * binding in lua_conn.c, the lock, reflection) never know which database
 * they talk to. URLs follow SQLAlchemy's spelling so Alembic users can paste
 * theirs: sqlite:///relative.db, sqlite:////abs.db, sqlite://,
 * postgresql[+driver]://user:pass@host:port/db?param=value.
 *
 * SQL handed to exec/query uses the driver's own placeholder syntax
 * (`?` for SQLite, `$1` for PostgreSQL); the Lua side turns named
 * `:name` parameters into that syntax (lm_driver.placeholder tells how).
 */
#ifndef LM_DRIVER_H
#define LM_DRIVER_H

#include <stddef.h>

/* A parsed database URL. All strings are owned by the struct. */
typedef struct lm_url {
	char *dialect;  /* "sqlite", "postgresql" */
	char *driver;   /* "+psycopg2" part without the plus, or NULL */
	char *raw;      /* the URL as given */
	char *redacted; /* the URL with any password replaced by "***" */
	char *path;     /* sqlite: file path, or NULL for memory */
	char *conninfo; /* postgresql: the libpq URI, "+driver" removed */
} lm_url;

int lm_url_parse(const char *text, lm_url *out);
void lm_url_dispose(lm_url *u);
/* Replaces every "user:password@" in text by "user:***@"; caller frees. */
char *lm_redact(const char *text);
/* PostgreSQL's part of lm_url_parse (driver_pg.c): postgresql://, postgres://
 * and postgresql+<driver>:// become conninfo, a libpq URI. Fills redacted
 * and conninfo, and raw, dialect and driver when still NULL. 0, or -1 with
 * the error slot set and *out disposed. */
int lm_pg_url_parse(const char *text, lm_url *out);
/* The pg_advisory_lock id of a runner lock key: 64-bit FNV-1a of the key's
 * bytes as a signed bigint (driver_pg.c), for DBAs and tests to use too. */
long long lm_pg_advisory_key(const char *key);

/* A bound parameter or a result value. Text is also used for numbers that
 * arrive as text from the database; blob for bytes. */
typedef enum lm_vtype { LM_V_NULL, LM_V_INT, LM_V_FLOAT, LM_V_TEXT, LM_V_BLOB, LM_V_BOOL } lm_vtype;

typedef struct lm_value {
	lm_vtype type;
	long long i;   /* INT, BOOL */
	double f;      /* FLOAT */
	const char *s; /* TEXT, BLOB: not owned */
	size_t len;    /* TEXT, BLOB */
} lm_value;

/* A query result: rows × cols of values, owned by the result. Text and
 * blob values point into memory the result owns. */
typedef struct lm_result {
	size_t nrows;
	size_t ncols;
	char **colnames;
	lm_value *cells; /* row-major, nrows * ncols */
	void *priv;      /* the driver's storage behind the cells */
	void (*free_priv)(void *priv);
} lm_result;

static inline const lm_value *lm_result_at(const lm_result *r, size_t row, size_t col)
{
	return &r->cells[row * r->ncols + col];
}
void lm_result_free(lm_result *r);

typedef struct lm_conn lm_conn;

/* Who holds a lock that we are waiting for, as the database tells it. */
typedef struct lm_lock_holder {
	char text[512]; /* "pid 1234, application_name 'luamig', since 2026-..." */
} lm_lock_holder;

typedef struct lm_driver {
	const char *name; /* "sqlite", "postgresql" */
	char placeholder; /* '?' (SQLite) or '$' ($1, $2, ... PostgreSQL) */
	/* Allocates the connection; lm_connect() then fills its header
	 * (driver, and url, which lm_conn_close disposes: close frees only
	 * what the driver allocated). */
	int (*connect)(const lm_url *url, lm_conn **out);
	void (*close)(lm_conn *c);
	/* Runs one or more statements without parameters. */
	int (*exec)(lm_conn *c, const char *sql);
	/* Runs one statement with parameters; out may be NULL to discard rows.
	 * *changes receives the rows affected when not NULL. */
	int (*query)(lm_conn *c, const char *sql, const lm_value *params, size_t nparams,
	             lm_result **out, long long *changes);
	int (*begin)(lm_conn *c);
	int (*commit)(lm_conn *c);
	int (*rollback)(lm_conn *c);
	/* 1 when a transaction is open on the connection. */
	int (*in_transaction)(lm_conn *c);
	/* Tries once to take the runner lock named by key; returns 1 taken,
	 * 0 held by someone else (holder filled when known), -1 error. */
	int (*try_lock)(lm_conn *c, const char *key, lm_lock_holder *holder);
	int (*unlock)(lm_conn *c, const char *key);
	/* The server's version as text, for logs. */
	const char *(*server_version)(lm_conn *c);
} lm_driver;

/* Every connection struct starts with this header. */
struct lm_conn {
	const lm_driver *driver;
	lm_url url;
};

/* The driver for a dialect name, or NULL. */
const lm_driver *lm_driver_find(const char *dialect);
/* Parses the URL and connects; on failure the error slot never holds a password. */
int lm_connect(const char *url, lm_conn **out);
void lm_conn_close(lm_conn *c);

extern const lm_driver lm_driver_sqlite;
extern const lm_driver lm_driver_postgresql;

#endif
