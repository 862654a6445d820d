/*
 * driver.h — one interface for every database luamig speaks to, and the
 * registry of drivers.
 *
 * A driver is a table of function pointers that owns everything about its
 * database: the URL schemes it accepts and how it parses them, connecting,
 * statements, transactions, the runner lock, and reflection. A connection
 * is an opaque handle that starts with a pointer to its driver. The
 * registry (driver.c) is a table of drivers, searched by URL scheme or by
 * name; its callers (the Lua binding in lua_conn.c, the lock, reflection)
 * never ask which database they talk to. A new database is a
 * driver_<db>.c, a reflect_<db>.c and one line in the registry.
 *
 * URLs follow SQLAlchemy's spelling, "scheme[+driver]://...", so Alembic
 * users can paste theirs; each driver documents its own forms.
 *
 * SQL handed to exec/query uses the driver's own placeholder syntax
 * (lm_driver.placeholder); the Lua side turns named `:name` parameters
 * into that syntax.
 */
#ifndef LM_DRIVER_H
#define LM_DRIVER_H

#include <stddef.h>

/* A parsed database URL. All strings are owned by the struct. */
typedef struct lm_url {
	char *dialect;  /* the name of the driver that accepted the scheme */
	char *driver;   /* the "+psycopg2" part without the plus, or NULL */
	char *raw;      /* the URL as given */
	char *redacted; /* the URL with any password replaced by "***" */
	char *path;     /* a file database's path, or NULL (in memory; or none) */
	char *conninfo; /* a server database's connection string, or NULL */
} lm_url;

/* Parses text with the driver whose scheme it names (the part before any
 * "+driver"). 0, or -1 with the error slot set (never holding a password)
 * and *out disposed. */
int lm_url_parse(const char *text, lm_url *out);
void lm_url_dispose(lm_url *u);
/* Replaces every "user:password@" in text by "user:***@"; caller frees. */
char *lm_redact(const char *text);

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
struct lm_reflect; /* reflect.h */

/* Who holds a lock that we are waiting for, as the database tells it. */
typedef struct lm_lock_holder {
	char text[512]; /* "pid 1234, application_name 'luamig', since 2026-..." */
} lm_lock_holder;

/* How the runner lock is taken, where a database has more than one way
 * (PostgreSQL: an advisory lock, or a row in a lock table for the engines
 * that speak its protocol without advisory locks). */
enum { LM_LOCK_AUTO = 0, LM_LOCK_ADVISORY = 1, LM_LOCK_TABLE = 2 };

typedef struct lm_lock_options {
	int mode;       /* LM_LOCK_AUTO: the driver decides from the server */
	char *table;    /* the lock table as SQL (quoted, qualified), or NULL for the driver's
	                 * default; owned by the connection (lm_conn_close frees it) */
	double lease_s; /* a lock row's lease, renewed while held; 0: the driver's default */
} lm_lock_options;

typedef struct lm_driver {
	const char *name; /* the dialect: what a connection and a URL say they are */
	/* The URL schemes accepted, before any "+driver" part; NULL-terminated. */
	const char *const *schemes;
	char placeholder; /* '?' (?, ?, ...) or '$' ($1, $2, ...) */
	/* Fills the driver's part of a URL that lm_url_parse has started:
	 * out->raw, redacted, dialect (= name) and driver are set. 0, or -1
	 * with the error slot set. */
	int (*url_parse)(const char *text, lm_url *out);
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
	/* Stops the statement running on c, if any: it fails soon, leaving
	 * its transaction for the caller to roll back. Called from a signal
	 * handler (signals.c), so async-signal-safe. NULL: cannot be stopped. */
	void (*interrupt)(lm_conn *c);
	/* Turns the enforcement of foreign keys on (on = 1) or off (0) for
	 * this connection, inside a transaction too, and sets *was to whether
	 * it was on. 0, or -1 with the error slot set. NULL where the database
	 * has no such switch (only SQLite's batch rebuild needs it). */
	int (*enforce_foreign_keys)(lm_conn *c, int on, int *was);
	/* The server's version as text, for logs. */
	const char *(*server_version)(lm_conn *c);
	/* Reads the schema into the schema model (reflect.h): pushes a
	 * metadata value, or returns -1 with the error slot set. NULL when the
	 * database has no reflection. */
	int (*reflect)(struct lm_reflect *r);
	/* Loses the connection as a network failure, a crashed server or an
	 * unreachable file would: what was not committed is rolled back by
	 * the database, and every later call fails with the driver's message
	 * for a lost connection (close still frees everything). For fault
	 * injection (fault.h) only. */
	void (*drop)(lm_conn *c);
} lm_driver;

/* Every connection struct starts with this header. */
struct lm_conn {
	const lm_driver *driver;
	lm_url url;
	lm_lock_options lock; /* read by try_lock; set by its caller (lua_conn.c) */
};

/* The registered driver named dialect, or NULL. */
const lm_driver *lm_driver_find(const char *dialect);
/* Parses the URL and connects; on failure the error slot never holds a password. */
int lm_connect(const char *url, lm_conn **out);
void lm_conn_close(lm_conn *c);

/* The drivers the registry lists (driver.c), each defined in its own
 * driver_<db>.c. */
extern const lm_driver lm_driver_sqlite;
extern const lm_driver lm_driver_postgresql;

#endif
