/*
 * driver_pg.c — PostgreSQL, through libpq.
 *
 * URLs: postgresql://, postgres:// and postgresql+<anything>:// (SQLAlchemy's
 * +psycopg2 and friends) all become one libpq URI, so every libpq parameter
 * (sslmode, host=/socket/dir, options, ...) and every PG* environment
 * variable works as libpq documents it. luamig adds two defaults that the URL
 * overrides: client_encoding=UTF8 (Lua source is UTF-8) and
 * application_name=luamig (as a fallback, so PGAPPNAME wins too).
 *
 * Values travel as text both ways, except blobs, which go out in binary
 * (bytea) and come back unescaped. Result cells are typed from the column's
 * type: integers, floats and booleans as such, everything else (numeric
 * included, to keep its precision) as text.
 *
 * The runner lock is a session-level advisory lock held by a second
 * connection that this driver opens for it: outside the migration's
 * transaction, so that a migration's CREATE INDEX CONCURRENTLY (which waits
 * for every older transaction, the lock holder's included) cannot wait
 * for us, and so that a rollback never drops the lock. The lock id is the
 * 64-bit FNV-1a hash of the key (lm_pg_advisory_key); when the lock is
 * busy, pg_locks and pg_stat_activity tell who holds it.
 *
 * Engines that speak PostgreSQL's protocol without its advisory locks
 * (CockroachDB, YugabyteDB: lm_pg_engine_lacks_advisory_locks reads
 * version()), or a lock options' mode of LM_LOCK_TABLE, get a lock row
 * instead: the key in a lock table (luamig_lock unless told otherwise),
 * with the holder (pid@host), when it took it and a lease. It is taken by
 * an INSERT ... ON CONFLICT that only replaces an expired lease, each
 * statement its own transaction on the lock session; a thread renews the
 * lease every third of it while held (a migration may outlast it), and
 * the row is deleted on release. A runner killed with SIGKILL leaves its
 * row, which the next runner takes over once the lease has run out.
 *
 * Passwords: every message that could quote the URL is scrubbed before it
 * reaches the error slot (lm_redact, plus the literal password).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <libpq-fe.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "driver_pg.h"
#include "pq.h"
#include "reflect.h"
#include "util.h"

/* Type OIDs from pg_type.h (stable since forever; the server header is not
 * part of libpq-dev). */
enum {
	PG_BOOLOID = 16,
	PG_BYTEAOID = 17,
	PG_INT8OID = 20,
	PG_INT2OID = 21,
	PG_INT4OID = 23,
	PG_OIDOID = 26,
	PG_FLOAT4OID = 700,
	PG_FLOAT8OID = 701
};

typedef struct pg_conn {
	lm_conn base; /* first: the callers see an lm_conn */
	PGconn *pg;
	char *conninfo;  /* owned copy, to open the lock connection */
	char *password;  /* owned, the URL's password or NULL: scrubbed from messages */
	PGconn *lock_pg; /* the lock's session, open while trying or holding */
	char *lock_key;  /* the key held, or NULL */
	/* The lock row (table mode): held as a row of lock_table rather than
	 * an advisory lock; renewed by the renewer thread, which alone uses
	 * lock_pg while it runs (started when the row is taken, joined before
	 * the row is deleted). */
	int engine_checked, engine_lacks_advisory;
	int lock_is_row;
	char *lock_table;  /* owned: the table the row is in */
	char *lock_holder; /* owned: "pid@host" */
	double lease_s;
	pthread_t renewer;
	int renewer_running;
	pthread_mutex_t renew_mu;
	pthread_cond_t renew_cv;
	int renew_stop;
	/* Made at connect: pg_interrupt runs in a signal handler, where
	 * nothing may be allocated. */
	PGcancel *cancel;
	/* 1 while exec or query waits for the server: a cancel request is
	 * for a statement in flight only. */
	volatile sig_atomic_t busy;
} pg_conn;

static pg_conn *pg_of(lm_conn *c)
{
	return (pg_conn *)c;
}

/* --- URLs and passwords ------------------------------------------------ */

/* The password written in a URL, decoded as libpq would, or NULL. Found
 * by libpq's own parser, so that we scrub exactly what libpq will send.
 * Returns an owned string. */
static char *url_password(const char *conninfo)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	char *pw = NULL;
	if (!opts)
		return NULL;
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val && o->val[0])
			pw = lm_strdup(o->val);
	PQconninfoFree(opts);
	return pw;
}

/* Replaces every occurrence of needle in *text by "***" (in place). */
static void replace_all(char **text, const char *needle)
{
	size_t n = strlen(needle);
	if (n == 0 || !strstr(*text, needle))
		return;
	lm_buf b = {0};
	const char *p = *text, *hit;
	while ((hit = strstr(p, needle))) {
		lm_buf_put(&b, p, (size_t)(hit - p));
		lm_buf_puts(&b, "***");
		p = hit + n;
	}
	lm_buf_puts(&b, p);
	free(*text);
	*text = lm_buf_detach(&b);
}

/* A message made safe to show: URLs and password= redacted, and the
 * password itself removed wherever it appears (a libpq message may quote a
 * token of the URL, e.g. a bad percent-encoding). Very short passwords are
 * left to the structural redaction: replacing every "a" would destroy the
 * message and still reveal the password by its absence. Caller frees. */
static char *scrub(const char *msg, const char *password, const char *raw_password)
{
	char *s = lm_redact(msg);
	if (password && strlen(password) >= 4)
		replace_all(&s, password);
	if (raw_password && strlen(raw_password) >= 4)
		replace_all(&s, raw_password);
	return s;
}

/* The password as written between "user:" and "@" in a URL (still
 * percent-encoded, or not: a user may write "#", "?", "/", a quote or a
 * space as is), or NULL. text is one URL, so its last "@" ends the
 * password whatever characters come before it. Caller frees. */
static char *raw_url_password(const char *text)
{
	const char *auth = strstr(text, "://");
	if (!auth)
		return NULL;
	auth += 3;
	const char *at = strrchr(auth, '@');
	if (!at)
		return NULL;
	const char *colon = memchr(auth, ':', (size_t)(at - auth));
	if (!colon || colon + 1 == at)
		return NULL;
	return lm_strndup(colon + 1, (size_t)(at - colon - 1));
}

/* Strips trailing newlines and spaces (libpq's messages end with "\n"). */
static void chomp(char *s)
{
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

/*
 * The libpq URI for what follows "scheme://". SQLAlchemy reads the
 * credentials up to the LAST "@" of the host part, so "u:p@ss@host" means
 * password "p@ss"; libpq stops at the first "@" and would take "ss@host"
 * for the host, and print it in its error. Encoding the inner "@"s as
 * %40 makes both agree. Returns an owned string.
 */
static char *libpq_uri(const char *after_scheme)
{
	size_t authlen = strcspn(after_scheme, "/?#");
	const char *at = NULL;
	for (const char *q = after_scheme; q < after_scheme + authlen; q++)
		if (*q == '@')
			at = q;
	lm_buf b = {0};
	lm_buf_puts(&b, "postgresql://");
	for (const char *q = after_scheme; at && q < at; q++) {
		if (*q == '@')
			lm_buf_puts(&b, "%40");
		else
			lm_buf_putc(&b, *q);
	}
	lm_buf_puts(&b, at ? at : after_scheme);
	return lm_buf_detach(&b);
}

/*
 * Parses a PostgreSQL URL into out: conninfo (a libpq URI, scheme
 * "postgresql://", the "+driver" dropped), redacted, and, when not already
 * set by lm_url_parse, raw, dialect and driver. Accepts postgresql://,
 * postgres://, and either with "+<driver>". libpq checks the rest (it is
 * the one that will read it). Returns 0, or -1 with the error slot set and
 * out disposed.
 */
int lm_pg_url_parse(const char *text, lm_url *out)
{
	const char *sep = strstr(text, "://");
	size_t schemelen = sep ? (size_t)(sep - text) : 0;
	const char *plus = sep ? memchr(text, '+', schemelen) : NULL;
	size_t baselen = plus ? (size_t)(plus - text) : schemelen;
	int ok = sep && ((baselen == 10 && strncmp(text, "postgresql", 10) == 0) ||
	                 (baselen == 8 && strncmp(text, "postgres", 8) == 0));
	if (ok && plus) {
		ok = plus + 1 < sep;
		for (const char *q = plus + 1; q < sep; q++)
			if (!(*q == '_' || (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
			      (*q >= '0' && *q <= '9')))
				ok = 0;
	}

	/* The password goes by position first (from "user:" to the URL's last
	 * "@", whatever it holds: "#", "?", "/", quotes, spaces, "password="),
	 * then lm_redact catches what else looks like one. */
	free(out->redacted);
	char *rawpw = raw_url_password(text);
	if (rawpw) {
		const char *start = strchr(strstr(text, "://") + 3, ':') + 1;
		char *positional =
		        lm_sprintf("%.*s***%s", (int)(start - text), text, start + strlen(rawpw));
		out->redacted = lm_redact(positional);
		free(positional);
	} else {
		out->redacted = lm_redact(text);
	}
	free(rawpw);
	if (!ok) {
		lm_error_set("Could not parse SQLAlchemy URL from string '%s' (expected "
		             "postgresql://user:password@host:port/database)",
		             out->redacted);
		lm_url_dispose(out);
		return -1;
	}
	if (!out->raw)
		out->raw = lm_strdup(text);
	if (!out->dialect)
		out->dialect = lm_strdup("postgresql");
	if (!out->driver && plus)
		out->driver = lm_strndup(plus + 1, (size_t)(sep - plus - 1));
	free(out->conninfo);
	out->conninfo = libpq_uri(sep + 3);

	if (lm_pq_load() != 0) {
		lm_url_dispose(out);
		return -1;
	}
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(out->conninfo, &err);
	if (!opts) {
		char *raw = raw_url_password(text);
		if (raw) {
			/* libpq quotes the token it stumbled on, which may be a
			 * piece of a password written unencoded: say nothing of it */
			lm_error_set("Invalid PostgreSQL URL '%s': libpq cannot parse it (write "
			             "'/', '?', '#' and '@' in a password percent-encoded: %%2F, "
			             "%%3F, %%23, %%40)",
			             out->redacted);
		} else {
			char *msg = scrub(err ? err : "out of memory", NULL, NULL);
			chomp(msg);
			lm_error_set("Invalid PostgreSQL URL '%s': %s", out->redacted, msg);
			free(msg);
		}
		free(raw);
		PQfreemem(err);
		lm_url_dispose(out);
		return -1;
	}
	PQconninfoFree(opts);
	return 0;
}

/* --- errors -------------------------------------------------------------- */

/*
 * Puts a failed result's message in the error slot: the server's error
 * code (SQLSTATE, which a user can look up and a script can match; none
 * for a client-side failure), the server's message without its "ERROR:  "
 * (so with DETAIL, HINT, the LINE pointer and CONTEXT when the server sent
 * them), then the statement as SQLAlchemy prints it:
 *     [SQLSTATE 42P01] relation "x" does not exist
 *     LINE 1: SELECT * FROM x
 *                           ^
 *     [SQL: SELECT * FROM x]
 * res may be NULL (the statement never got a result: libpq tells why on
 * conn). Returns -1.
 */
static int fail_on(PGconn *conn, const char *password, const PGresult *res, const char *sql)
{
	lm_buf b = {0};
	const char *sqlstate = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *severity = res ? PQresultErrorField(res, PG_DIAG_SEVERITY) : NULL;
	if (sqlstate && sqlstate[0])
		lm_buf_printf(&b, "[SQLSTATE %s] ", sqlstate);
	/* Without a result message it is a client-side failure (lost
	 * connection, bad parameter), which libpq tells on the connection. */
	char *m = lm_strdup(res && PQresultErrorMessage(res)[0] ? PQresultErrorMessage(res)
	                                                        : PQerrorMessage(conn));
	chomp(m);
	if (!sqlstate) {
		/* libpq's own messages (no SQLSTATE) wrap with "\n\t": "server
		 * closed the connection unexpectedly\n\tThis probably means ...".
		 * One line, as the report prints it. */
		for (char *p = m, *q = m;; p++) {
			if (*p == '\n' && p[1] == '\t') {
				*q++ = ' ';
				p++;
			} else if (!(*q++ = *p)) {
				break;
			}
		}
	}
	const char *text = m;
	/* A server message starts with its (localised) severity and ":  ". */
	size_t sevlen = severity ? strlen(severity) : 0;
	if (sevlen && strncmp(m, severity, sevlen) == 0 && strncmp(m + sevlen, ":  ", 3) == 0)
		text = m + sevlen + 3;
	lm_buf_puts(&b, text[0] ? text : "unknown libpq error");
	free(m);
	if (sql)
		lm_buf_printf(&b, "\n[SQL: %s]", sql);
	char *msg = scrub(lm_buf_str(&b), password, NULL);
	lm_error_set("%s", msg);
	lm_error_set_code(sqlstate);
	free(msg);
	lm_buf_dispose(&b);
	return -1;
}

static int fail(pg_conn *pc, const PGresult *res, const char *sql)
{
	return fail_on(pc->pg, pc->password, res, sql);
}

static int ok_status(ExecStatusType st)
{
	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY ||
	       st == PGRES_SINGLE_TUPLE;
}

/* --- connections --------------------------------------------------------- */

/* libpq prints NOTICEs ("table does not exist, skipping") to stderr by
 * default; psycopg2 keeps them to itself, and so do we, so that stdout and
 * stderr carry only what luamig means to say. */
static void ignore_notice(void *arg, const PGresult *res)
{
	(void)arg;
	(void)res;
}

/*
 * Opens a libpq connection from conninfo with luamig's defaults: UTF8 as
 * the client encoding (Lua source is UTF-8) and "luamig" as the
 * application name unless the URL or PGAPPNAME names one. On failure sets
 * the error slot (scrubbed) and returns NULL.
 */
static PGconn *open_pg(const char *conninfo, const char *redacted, const char *password)
{
	/* Keywords before "dbname" are defaults that the expanded URI
	 * overrides: libpq keeps the last value of a repeated keyword. */
	const char *const keys[] = {"client_encoding", "fallback_application_name", "dbname", NULL};
	const char *const vals[] = {"UTF8", "luamig", conninfo, NULL};
	if (lm_pq_load() != 0)
		return NULL;
	PGconn *pg = PQconnectdbParams(keys, vals, 1);
	if (!pg) {
		lm_error_set("could not connect to %s: out of memory", redacted);
		return NULL;
	}
	if (PQstatus(pg) != CONNECTION_OK) {
		char *msg = scrub(PQerrorMessage(pg), password, NULL);
		chomp(msg);
		lm_error_set("could not connect to %s: %s", redacted, msg);
		free(msg);
		PQfinish(pg);
		return NULL;
	}
	PQsetNoticeReceiver(pg, ignore_notice, NULL);
	return pg;
}

static int pg_connect(const lm_url *url, lm_conn **out)
{
	if (!url->conninfo) {
		lm_error_set("not a PostgreSQL URL: %s", url->redacted ? url->redacted : "(none)");
		return -1;
	}
	if (lm_pq_load() != 0)
		return -1;
	char *password = url_password(url->conninfo);
	PGconn *pg = open_pg(url->conninfo, url->redacted ? url->redacted : "(url)", password);
	if (!pg) {
		free(password);
		return -1;
	}
	pg_conn *pc = lm_calloc(1, sizeof *pc);
	pc->pg = pg;
	pc->conninfo = lm_strdup(url->conninfo);
	pc->password = password;
	pc->cancel = PQgetCancel(pg);
	pthread_mutex_init(&pc->renew_mu, NULL);
	pthread_cond_init(&pc->renew_cv, NULL);
	*out = &pc->base;
	return 0;
}

/* Releases the runner lock, if held, and closes its session. The explicit
 * unlock matters: PQfinish returns before the server ends the session, so
 * the lock could outlive us for a moment and make the next runner wait. */
static void row_release(pg_conn *pc);

static void lock_close(pg_conn *pc)
{
	if (pc->lock_pg && pc->lock_key && pc->lock_is_row) {
		row_release(pc);
	} else if (pc->lock_pg && pc->lock_key) {
		/* The session holds nothing but our lock: release it all. */
		PGresult *r = PQexec(pc->lock_pg, "SELECT pg_advisory_unlock_all()");
		PQclear(r);
	}
	PQfinish(pc->lock_pg);
	pc->lock_pg = NULL;
	free(pc->lock_key);
	pc->lock_key = NULL;
	pc->lock_is_row = 0;
}

static void pg_close(lm_conn *c)
{
	if (!c)
		return;
	pg_conn *pc = pg_of(c);
	lock_close(pc);
	PQfreeCancel(pc->cancel);
	PQfinish(pc->pg);
	pthread_mutex_destroy(&pc->renew_mu);
	pthread_cond_destroy(&pc->renew_cv);
	free(pc->lock_table);
	free(pc->lock_holder);
	free(pc->conninfo);
	free(pc->password);
	free(pc);
}

/* --- statements ------------------------------------------------------------ */

/*
 * Runs sql, which may hold several statements, with the simple query
 * protocol, reading every result so the connection is ready afterwards.
 * The first error wins; the server stops at the failing statement.
 */
static int pg_exec(lm_conn *c, const char *sql)
{
	pg_conn *pc = pg_of(c);
	pc->busy = 1;
	if (!PQsendQuery(pc->pg, sql)) {
		pc->busy = 0;
		return fail(pc, NULL, sql);
	}
	int rc = 0;
	PGresult *res;
	while ((res = PQgetResult(pc->pg))) {
		ExecStatusType st = PQresultStatus(res);
		if (st == PGRES_COPY_IN) {
			/* COPY ... FROM STDIN has no data here; end it so that
			 * the server reports the failure and moves on. */
			PQputCopyEnd(pc->pg,
			             "luamig: COPY FROM STDIN is not supported in SQL text");
		} else if (st == PGRES_COPY_OUT) {
			char *buf;
			while (PQgetCopyData(pc->pg, &buf, 0) > 0)
				PQfreemem(buf);
		} else if (!ok_status(st) && rc == 0) {
			rc = fail(pc, res, sql);
		}
		PQclear(res);
	}
	pc->busy = 0;
	return rc;
}

/* What a result's cells point into: the PGresult, and the blobs that
 * PQunescapeBytea decoded. */
typedef struct pg_result_store {
	PGresult *res;
	unsigned char **blobs;
	size_t nblobs;
} pg_result_store;

static void store_free(void *p)
{
	pg_result_store *s = p;
	if (!s)
		return;
	for (size_t i = 0; i < s->nblobs; i++)
		PQfreemem(s->blobs[i]);
	free(s->blobs);
	PQclear(s->res);
	free(s);
}

/* Turns one text-format cell into a typed value. Returns -1 (error slot
 * set) only when a bytea cell cannot be decoded. */
static int convert_cell(pg_result_store *s, int row, int col, lm_value *v)
{
	PGresult *res = s->res;
	memset(v, 0, sizeof *v);
	if (PQgetisnull(res, row, col)) {
		v->type = LM_V_NULL;
		return 0;
	}
	const char *text = PQgetvalue(res, row, col);
	switch (PQftype(res, col)) {
	case PG_INT2OID:
	case PG_INT4OID:
	case PG_INT8OID:
	case PG_OIDOID:
		v->type = LM_V_INT;
		v->i = strtoll(text, NULL, 10);
		return 0;
	case PG_FLOAT4OID:
	case PG_FLOAT8OID:
		/* strtod reads "Infinity", "-Infinity" and "NaN" too. */
		v->type = LM_V_FLOAT;
		v->f = strtod(text, NULL);
		return 0;
	case PG_BOOLOID:
		v->type = LM_V_BOOL;
		v->i = text[0] == 't';
		return 0;
	case PG_BYTEAOID: {
		size_t len = 0;
		unsigned char *bytes = PQunescapeBytea((const unsigned char *)text, &len);
		if (!bytes) {
			lm_error_set("could not decode a bytea value (column %d)", col + 1);
			return -1;
		}
		s->blobs[s->nblobs++] = bytes;
		v->type = LM_V_BLOB;
		v->s = (const char *)bytes;
		v->len = len;
		return 0;
	}
	default:
		v->type = LM_V_TEXT;
		v->s = text;
		v->len = (size_t)PQgetlength(res, row, col);
		return 0;
	}
}

/* Builds an lm_result that takes ownership of res. */
static int make_result(PGresult *res, lm_result **out)
{
	size_t nrows = (size_t)PQntuples(res), ncols = (size_t)PQnfields(res);
	lm_result *r = lm_calloc(1, sizeof *r);
	pg_result_store *s = lm_calloc(1, sizeof *s);
	s->res = res;
	r->priv = s;
	r->free_priv = store_free;
	r->nrows = nrows;
	r->ncols = ncols;
	r->colnames = lm_calloc(ncols, sizeof *r->colnames);
	for (size_t j = 0; j < ncols; j++)
		r->colnames[j] = lm_strdup(PQfname(res, (int)j));
	r->cells = lm_calloc(nrows * ncols, sizeof *r->cells);
	size_t nbytea = 0;
	for (size_t j = 0; j < ncols; j++)
		if (PQftype(res, (int)j) == PG_BYTEAOID)
			nbytea++;
	s->blobs = lm_calloc(nbytea * nrows, sizeof *s->blobs);
	for (size_t i = 0; i < nrows; i++)
		for (size_t j = 0; j < ncols; j++)
			if (convert_cell(s, (int)i, (int)j, &r->cells[i * ncols + j]) != 0) {
				lm_result_free(r);
				return -1;
			}
	*out = r;
	return 0;
}

/*
 * Runs one statement with $1..$n parameters (extended protocol). Values go
 * as text with their type left for the server to infer from the context,
 * as a literal would be; blobs go as binary bytea. out (may be NULL)
 * receives the rows; *changes (may be NULL) the rows affected, 0 for
 * statements that report none.
 */
static int pg_query(lm_conn *c, const char *sql, const lm_value *params, size_t nparams,
                    lm_result **out, long long *changes)
{
	pg_conn *pc = pg_of(c);
	if (out)
		*out = NULL;
	if (nparams > 65535) {
		lm_error_set("too many parameters (%zu; PostgreSQL takes at most 65535)", nparams);
		return -1;
	}
	Oid *types = lm_calloc(nparams, sizeof *types);
	const char **values = lm_calloc(nparams, sizeof *values);
	int *lengths = lm_calloc(nparams, sizeof *lengths);
	int *formats = lm_calloc(nparams, sizeof *formats);
	char **owned = lm_calloc(nparams, sizeof *owned);
	int rc = -1;
	PGresult *res = NULL;

	for (size_t i = 0; i < nparams; i++) {
		const lm_value *v = &params[i];
		switch (v->type) {
		case LM_V_NULL:
			break;
		case LM_V_INT:
			owned[i] = lm_sprintf("%lld", v->i);
			break;
		case LM_V_FLOAT:
			/* PostgreSQL's spellings; printf's "inf" is not one. */
			if (isnan(v->f))
				owned[i] = lm_strdup("NaN");
			else if (isinf(v->f))
				owned[i] = lm_strdup(v->f > 0 ? "Infinity" : "-Infinity");
			else
				owned[i] = lm_sprintf("%.17g", v->f);
			break;
		case LM_V_BOOL:
			owned[i] = lm_strdup(v->i ? "true" : "false");
			break;
		case LM_V_TEXT:
			/* Text parameters are NUL-terminated on the wire;
			 * lm_value's are not. A NUL inside would cut the value
			 * short without a word (PostgreSQL's text holds none):
			 * refused in psycopg2's words. */
			if (v->s && memchr(v->s, '\0', v->len)) {
				lm_error_set(
				        "A string literal cannot contain NUL (0x00) characters. "
				        "[SQL: %s]",
				        sql);
				goto done;
			}
			owned[i] = lm_strndup(v->s ? v->s : "", v->len);
			break;
		case LM_V_BLOB:
			if (v->len > INT32_MAX) {
				lm_error_set("parameter $%zu: blob too large", i + 1);
				goto done;
			}
			types[i] = PG_BYTEAOID;
			formats[i] = 1;
			lengths[i] = (int)v->len;
			values[i] = v->s ? v->s : "";
			break;
		}
		if (owned[i])
			values[i] = owned[i];
	}

	pc->busy = 1;
	res = PQexecParams(pc->pg, sql, (int)nparams, types, values, lengths, formats, 0);
	pc->busy = 0;
	if (!res || !ok_status(PQresultStatus(res))) {
		fail(pc, res, sql);
		goto done;
	}
	if (changes) {
		const char *n = PQcmdTuples(res);
		*changes = n[0] ? strtoll(n, NULL, 10) : 0;
	}
	if (out) {
		PGresult *taken = res;
		res = NULL;
		if (make_result(taken, out) != 0)
			goto done;
	}
	rc = 0;
done:
	PQclear(res);
	for (size_t i = 0; i < nparams; i++)
		free(owned[i]);
	free(owned);
	free(formats);
	free(lengths);
	free(values);
	free(types);
	return rc;
}

/* --- transactions ------------------------------------------------------------ */

static int simple(pg_conn *pc, const char *sql, const char **tag)
{
	PGresult *res = PQexec(pc->pg, sql);
	if (!res || !ok_status(PQresultStatus(res))) {
		fail(pc, res, sql);
		PQclear(res);
		return -1;
	}
	if (tag) {
		/* PQcmdStatus points into res: keep only what the caller asks. */
		*tag = strcmp(PQcmdStatus(res), "ROLLBACK") == 0 ? "ROLLBACK" : "";
	}
	PQclear(res);
	return 0;
}

static int pg_begin(lm_conn *c)
{
	return simple(pg_of(c), "BEGIN", NULL);
}

/* COMMIT of a transaction in which a statement failed succeeds and says
 * ROLLBACK; a migration must not count that as committed. */
static int pg_commit(lm_conn *c)
{
	const char *tag = NULL;
	if (simple(pg_of(c), "COMMIT", &tag) != 0)
		return -1;
	if (strcmp(tag, "ROLLBACK") == 0) {
		lm_error_set("the transaction was rolled back, not "
		             "committed: an earlier statement in it failed");
		return -1;
	}
	return 0;
}

static int pg_rollback(lm_conn *c)
{
	return simple(pg_of(c), "ROLLBACK", NULL);
}

static int pg_in_transaction(lm_conn *c)
{
	switch (PQtransactionStatus(pg_of(c)->pg)) {
	case PQTRANS_ACTIVE:
	case PQTRANS_INTRANS:
	case PQTRANS_INERROR:
		return 1;
	default:
		return 0;
	}
}

/* A cancel request for the statement in flight, from a signal handler:
 * PQcancel with a handle made beforehand is async-signal-safe (libpq's
 * documentation; psql's ^C does the same). Between statements nothing is
 * sent: the server would drop the request, or, arriving late, cancel the
 * rollback that follows. */
static void pg_interrupt(lm_conn *c)
{
	pg_conn *pc = pg_of(c);
	char errbuf[256];
	if (pc->cancel && pc->busy)
		PQcancel(pc->cancel, errbuf, sizeof errbuf);
}

static const char *pg_server_version(lm_conn *c)
{
	const char *v = PQparameterStatus(pg_of(c)->pg, "server_version");
	return v ? v : "unknown";
}

/* --- the runner lock ------------------------------------------------------- */

/*
 * The advisory lock id of a key: 64-bit FNV-1a over the key's bytes
 * (offset basis 14695981039346656037, prime 1099511628211), read as a
 * two's-complement signed bigint. Stable across machines and versions, so
 * that every luamig, and a DBA's psql, agree:
 *     SELECT pg_advisory_lock(<lm_pg_advisory_key(key)>);
 */
long long lm_pg_advisory_key(const char *key)
{
	uint64_t h = 14695981039346656037u;
	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		h ^= *p;
		h *= 1099511628211u;
	}
	/* Through int64_t's defined representation: no implementation-
	 * defined conversion of an out-of-range unsigned value. */
	int64_t s;
	memcpy(&s, &h, sizeof s);
	return (long long)s;
}

/* A one-row, text-only query on the lock session; returns the result or
 * NULL (error slot set). */
static PGresult *lock_query(pg_conn *pc, const char *sql, int n, const char *const *values)
{
	PGresult *res = PQexecParams(pc->lock_pg, sql, n, NULL, values, NULL, NULL, 0);
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		fail_on(pc->lock_pg, pc->password, res, sql);
		PQclear(res);
		return NULL;
	}
	return res;
}

/* Describes who holds the advisory lock id, from pg_locks and
 * pg_stat_activity, into holder. Best effort: any failure leaves a generic
 * text, since the lock being busy is the news, not who holds it. */
static void describe_holder(pg_conn *pc, long long id, lm_lock_holder *holder)
{
	/* A bigint advisory lock shows as classid = high 32 bits, objid = low
	 * 32 bits, objsubid = 1, in the lock's own database. */
	uint64_t u = (uint64_t)id;
	char hi[24], lo[24];
	snprintf(hi, sizeof hi, "%lu", (unsigned long)(u >> 32));
	snprintf(lo, sizeof lo, "%lu", (unsigned long)(u & 0xffffffffu));
	const char *const values[] = {hi, lo};
	const char *sql = "SELECT l.pid, a.application_name, a.usename,"
	                  " coalesce(host(a.client_addr), 'local'),"
	                  " date_trunc('second', a.backend_start)::text"
	                  " FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid"
	                  " JOIN pg_database d ON d.oid = l.database"
	                  " WHERE l.locktype = 'advisory' AND l.granted"
	                  " AND d.datname = current_database()"
	                  " AND l.classid = $1::oid AND l.objid = $2::oid AND l.objsubid = 1"
	                  " LIMIT 1";
	snprintf(holder->text, sizeof holder->text, "another session (it could not be identified)");
	PGresult *res = PQexecParams(pc->lock_pg, sql, 2, NULL, values, NULL, NULL, 0);
	if (res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
		lm_buf b = {0};
		lm_buf_printf(&b, "pid %s", PQgetvalue(res, 0, 0));
		if (!PQgetisnull(res, 0, 1)) {
			lm_buf_printf(&b, " (application_name '%s'", PQgetvalue(res, 0, 1));
			if (!PQgetisnull(res, 0, 2))
				lm_buf_printf(&b, ", user %s", PQgetvalue(res, 0, 2));
			lm_buf_printf(&b, ", client %s", PQgetvalue(res, 0, 3));
			if (!PQgetisnull(res, 0, 4))
				lm_buf_printf(&b, ", since %s", PQgetvalue(res, 0, 4));
			lm_buf_putc(&b, ')');
		}
		snprintf(holder->text, sizeof holder->text, "%s", lm_buf_str(&b));
		lm_buf_dispose(&b);
	} else if (res && PQresultStatus(res) == PGRES_TUPLES_OK) {
		/* Released between our attempt and this look: the next try
		 * will likely succeed. */
		snprintf(holder->text, sizeof holder->text, "another session (just released)");
	}
	PQclear(res);
}

/* --- the lock row, for engines without advisory locks ---------------------- */

int lm_pg_engine_lacks_advisory_locks(const char *version)
{
	return version && (strstr(version, "CockroachDB") || strstr(version, "-YB-"));
}

/* Whether the server lacks advisory locks, asked once per connection on
 * the lock session (a failed question counts as "it has them": the
 * advisory lock's own error then says what is wrong). */
static int engine_lacks_advisory(pg_conn *pc)
{
	if (!pc->engine_checked) {
		PGresult *res = PQexec(pc->lock_pg, "SELECT version()");
		if (res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
			pc->engine_lacks_advisory =
			        lm_pg_engine_lacks_advisory_locks(PQgetvalue(res, 0, 0));
		PQclear(res);
		pc->engine_checked = 1;
	}
	return pc->engine_lacks_advisory;
}

/* The lease as text, for the $3 of the row statements. */
static void lease_text(const pg_conn *pc, char *buf, size_t size)
{
	snprintf(buf, size, "%.3f", pc->lease_s);
}

/* Renews the lease of the row held (best effort: a failure shows when the
 * lease has run out and another runner took the row). Runs on the renewer
 * thread, which must not touch the error slot. */
static void row_renew(pg_conn *pc)
{
	char lease[32];
	lease_text(pc, lease, sizeof lease);
	const char *const values[] = {pc->lock_key, pc->lock_holder, lease};
	char *sql = lm_sprintf("UPDATE %s SET expires_at = now() + $3::float8 * interval '1 second'"
	                       " WHERE key = $1 AND holder = $2",
	                       pc->lock_table);
	PGresult *res = PQexecParams(pc->lock_pg, sql, 3, NULL, values, NULL, NULL, 0);
	PQclear(res);
	free(sql);
}

/* The renewer thread: renews the lease every third of it until told to
 * stop. Signals stay with the main thread (signals.c). */
static void *renewer_main(void *arg)
{
	pg_conn *pc = arg;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&pc->renew_mu);
	while (!pc->renew_stop) {
		struct timespec at;
		clock_gettime(CLOCK_REALTIME, &at);
		double step = pc->lease_s / 3;
		at.tv_sec += (time_t)step;
		at.tv_nsec += (long)((step - floor(step)) * 1e9);
		if (at.tv_nsec >= 1000000000L) {
			at.tv_sec++;
			at.tv_nsec -= 1000000000L;
		}
		int rc = 0;
		while (!pc->renew_stop && rc != ETIMEDOUT)
			rc = pthread_cond_timedwait(&pc->renew_cv, &pc->renew_mu, &at);
		if (pc->renew_stop)
			break;
		pthread_mutex_unlock(&pc->renew_mu);
		row_renew(pc);
		pthread_mutex_lock(&pc->renew_mu);
	}
	pthread_mutex_unlock(&pc->renew_mu);
	return NULL;
}

/* Stops and joins the renewer thread, if it runs. */
static void renewer_stop(pg_conn *pc)
{
	if (!pc->renewer_running)
		return;
	pthread_mutex_lock(&pc->renew_mu);
	pc->renew_stop = 1;
	pthread_cond_signal(&pc->renew_cv);
	pthread_mutex_unlock(&pc->renew_mu);
	pthread_join(pc->renewer, NULL);
	pc->renewer_running = 0;
}

/* Deletes the row held (after stopping its renewal); errors ignored: the
 * session may be gone, and then the lease runs out on its own. */
static void row_release(pg_conn *pc)
{
	renewer_stop(pc);
	const char *const values[] = {pc->lock_key, pc->lock_holder};
	char *sql = lm_sprintf("DELETE FROM %s WHERE key = $1 AND holder = $2", pc->lock_table);
	PGresult *res = PQexecParams(pc->lock_pg, sql, 2, NULL, values, NULL, NULL, 0);
	PQclear(res);
	free(sql);
}

/* Describes the holder of the row of key, into holder (best effort). */
static void describe_row_holder(pg_conn *pc, const char *key, lm_lock_holder *holder)
{
	const char *const values[] = {key};
	char *sql = lm_sprintf("SELECT holder, date_trunc('second', acquired_at)::text,"
	                       " date_trunc('second', expires_at)::text FROM %s WHERE key = $1",
	                       pc->lock_table);
	snprintf(holder->text, sizeof holder->text, "another runner (it could not be identified)");
	PGresult *res = PQexecParams(pc->lock_pg, sql, 1, NULL, values, NULL, NULL, 0);
	if (res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		snprintf(holder->text, sizeof holder->text,
		         "%s (lock row in %s since %s, lease until %s)", PQgetvalue(res, 0, 0),
		         pc->lock_table, PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
	else if (res && PQresultStatus(res) == PGRES_TUPLES_OK)
		snprintf(holder->text, sizeof holder->text, "another runner (just released)");
	PQclear(res);
	free(sql);
}

/* Tries once to take the row of key in the lock table (created first if
 * missing): 1 taken, 0 held by another runner whose lease has not run out
 * (holder tells who), -1 error. */
static int row_try_lock(pg_conn *pc, const char *key, lm_lock_holder *holder)
{
	/* Two runners may create the table at once, and one of them fail:
	 * the INSERT below says whether the table is there. */
	char *sql = lm_sprintf("CREATE TABLE IF NOT EXISTS %s (key VARCHAR(255) NOT NULL PRIMARY "
	                       "KEY, holder TEXT NOT NULL, acquired_at TIMESTAMPTZ NOT NULL, "
	                       "expires_at TIMESTAMPTZ NOT NULL)",
	                       pc->lock_table);
	PQclear(PQexec(pc->lock_pg, sql));
	free(sql);
	char lease[32];
	lease_text(pc, lease, sizeof lease);
	const char *const values[] = {key, pc->lock_holder, lease};
	sql = lm_sprintf("INSERT INTO %s AS l (key, holder, acquired_at, expires_at)"
	                 " VALUES ($1, $2, now(), now() + $3::float8 * interval '1 second')"
	                 " ON CONFLICT (key) DO UPDATE SET holder = excluded.holder,"
	                 " acquired_at = excluded.acquired_at, expires_at = excluded.expires_at"
	                 " WHERE l.expires_at < now() RETURNING l.holder",
	                 pc->lock_table);
	PGresult *res = lock_query(pc, sql, 3, values);
	free(sql);
	if (!res)
		return -1;
	int taken = PQntuples(res) == 1;
	PQclear(res);
	if (!taken) {
		if (holder)
			describe_row_holder(pc, key, holder);
		return 0;
	}
	pc->lock_key = lm_strdup(key);
	pc->lock_is_row = 1;
	pc->renew_stop = 0;
	if (pthread_create(&pc->renewer, NULL, renewer_main, pc) == 0)
		pc->renewer_running = 1;
	return 1;
}

/* Sets up the lock row's table, holder and lease from the connection's
 * lock options. */
static void row_setup(pg_conn *pc)
{
	const lm_lock_options *o = &pc->base.lock;
	free(pc->lock_table);
	pc->lock_table = lm_strdup(o->table && o->table[0] ? o->table : "luamig_lock");
	pc->lease_s = o->lease_s > 0 ? o->lease_s : 60;
	if (!pc->lock_holder) {
		char host[256] = "localhost";
		if (gethostname(host, sizeof host) != 0)
			snprintf(host, sizeof host, "localhost");
		host[sizeof host - 1] = '\0';
		pc->lock_holder = lm_sprintf("%ld@%s", (long)getpid(), host);
	}
}

/*
 * Tries once to take the runner lock named key, on the lock session (opened
 * here on first use from the same URL): an advisory lock, or a lock row
 * (above) where the options or the server say so. Returns 1 taken (or already held by
 * this connection), 0 held by another session (holder, when not NULL,
 * tells who), -1 error.
 */
static int pg_try_lock(lm_conn *c, const char *key, lm_lock_holder *holder)
{
	pg_conn *pc = pg_of(c);
	if (pc->lock_key) {
		if (strcmp(pc->lock_key, key) == 0)
			return 1;
		lm_error_set("this connection already holds the lock '%s'", pc->lock_key);
		return -1;
	}
	if (!pc->lock_pg) {
		const char *redacted = c->url.redacted ? c->url.redacted : "(the migration's URL)";
		pc->lock_pg = open_pg(pc->conninfo, redacted, pc->password);
		if (!pc->lock_pg)
			return -1;
	}
	int mode = c->lock.mode;
	if (mode == LM_LOCK_AUTO)
		mode = engine_lacks_advisory(pc) ? LM_LOCK_TABLE : LM_LOCK_ADVISORY;
	if (mode == LM_LOCK_TABLE) {
		row_setup(pc);
		return row_try_lock(pc, key, holder);
	}
	long long id = lm_pg_advisory_key(key);
	char idtext[24];
	snprintf(idtext, sizeof idtext, "%lld", id);
	const char *const values[] = {idtext};
	PGresult *res = lock_query(pc, "SELECT pg_try_advisory_lock($1::bigint)", 1, values);
	if (!res) {
		/* an engine version() did not give away: no such function, or
		 * not supported; auto falls back to the lock row */
		const char *code = lm_error_code();
		if (c->lock.mode == LM_LOCK_AUTO && code &&
		    (strcmp(code, "42883") == 0 || strcmp(code, "0A000") == 0)) {
			lm_error_clear();
			pc->engine_lacks_advisory = 1;
			row_setup(pc);
			return row_try_lock(pc, key, holder);
		}
		return -1;
	}
	int taken = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (taken) {
		pc->lock_key = lm_strdup(key);
		return 1;
	}
	if (holder)
		describe_holder(pc, id, holder);
	return 0;
}

/* Releases the lock named key and closes the lock session. 0 when this
 * connection does not hold it (nothing to do); -1 for another key. */
static int pg_unlock(lm_conn *c, const char *key)
{
	pg_conn *pc = pg_of(c);
	if (pc->lock_key && strcmp(pc->lock_key, key) != 0) {
		lm_error_set("cannot release lock '%s': this connection holds '%s'", key,
		             pc->lock_key);
		return -1;
	}
	lock_close(pc);
	return 0;
}

/* --- losing the connection (fault injection) --------------------------------- */

/* Shuts both sessions' sockets down, as a network failure would: the
 * server sees the sessions end (rolling back the open transaction and
 * releasing the lock), and libpq meets the dead socket on the next call
 * and fails with its own message. The descriptors stay open for PQfinish. */
static void pg_drop(lm_conn *c)
{
	pg_conn *pc = pg_of(c);
	PGconn *sessions[] = {pc->pg, pc->lock_pg};
	for (size_t i = 0; i < 2; i++)
		if (sessions[i] && PQsocket(sessions[i]) >= 0)
			shutdown(PQsocket(sessions[i]), SHUT_RDWR);
}

static const char *const pg_schemes[] = {"postgresql", "postgres", NULL};

const lm_driver lm_driver_postgresql = {
        .name = "postgresql",
        .schemes = pg_schemes,
        .placeholder = '$',
        .url_parse = lm_pg_url_parse,
        .connect = pg_connect,
        .close = pg_close,
        .exec = pg_exec,
        .query = pg_query,
        .begin = pg_begin,
        .commit = pg_commit,
        .rollback = pg_rollback,
        .in_transaction = pg_in_transaction,
        .try_lock = pg_try_lock,
        .unlock = pg_unlock,
        .interrupt = pg_interrupt,
        .server_version = pg_server_version,
        .reflect = lm_reflect_pg,
        .drop = pg_drop,
};
