/*
 * test_driver_pg.c — the PostgreSQL driver against the fixture's real server.
 *
 * Needs the ctest fixture "postgres" (tests/pg): LUAMIG_TEST_PG_ENV names
 * its pg.env. Without it the test skips (exit 77), except under CI=true,
 * where it fails. Each case works in its own database, lm_unit_driver_pg,
 * created afresh at the start.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "driver_pg.h"
#include "util.h"

#define DBNAME "lm_unit_driver_pg"

static const char *current;
static int failures;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: %s: CHECK(%s) failed\n  error slot: %s\n",         \
			        __FILE__, __LINE__, current, #cond, lm_error_get());               \
			failures++;                                                                \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#define CHECK_CONTAINS(hay, needle)                                                                \
	do {                                                                                       \
		const char *h_ = (hay);                                                            \
		if (!h_ || !strstr(h_, (needle))) {                                                \
			fprintf(stderr, "%s:%d: %s: expected \"%s\" in:\n  %s\n", __FILE__,        \
			        __LINE__, current, (needle), h_ ? h_ : "(null)");                  \
			failures++;                                                                \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#define CHECK_LACKS(hay, needle)                                                                   \
	do {                                                                                       \
		const char *h_ = (hay);                                                            \
		if (h_ && strstr(h_, (needle))) {                                                  \
			fprintf(stderr, "%s:%d: %s: \"%s\" must not appear in:\n  %s\n", __FILE__, \
			        __LINE__, current, (needle), h_);                                  \
			failures++;                                                                \
			return;                                                                    \
		}                                                                                  \
	} while (0)

/* --- the fixture's connection info ----------------------------------------- */

static lm_strv env_keys, env_vals;

static const char *fixture(const char *key)
{
	for (size_t i = 0; i < env_keys.n; i++)
		if (strcmp(env_keys.v[i], key) == 0)
			return env_vals.v[i];
	fprintf(stderr, "pg.env lacks %s\n", key);
	exit(1);
}

/* Reads KEY='value' lines. Returns -1 when the file is missing. */
static int load_fixture(const char *path)
{
	char *text = lm_read_file(path, NULL);
	if (!text)
		return -1;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');
		if (!eq || line[0] == '#')
			continue;
		*eq = '\0';
		char *val = eq + 1;
		size_t n = strlen(val);
		if (n >= 2 && val[0] == '\'' && val[n - 1] == '\'') {
			val[n - 1] = '\0';
			val++;
		}
		lm_strv_push(&env_keys, line);
		lm_strv_push(&env_vals, val);
	}
	free(text);
	return 0;
}

/* A URL for the test database over the fixture's unix socket. */
static char *db_url(const char *scheme, const char *extra)
{
	return lm_sprintf("%s:///%s?host=%s&port=%s&user=postgres%s", scheme, DBNAME,
	                  fixture("LUAMIG_TEST_PG_HOST"), fixture("LUAMIG_TEST_PG_PORT"),
	                  extra ? extra : "");
}

static lm_conn *connect_db(void)
{
	char *url = db_url("postgresql", NULL);
	lm_conn *c = NULL;
	if (lm_connect(url, &c) != 0)
		c = NULL;
	free(url);
	return c;
}

/* The first cell of a query without parameters as an owned string ("NULL"
 * for NULL, numbers printed), or NULL on error. */
static char *scalar(lm_conn *c, const char *sql)
{
	lm_result *r = NULL;
	if (c->driver->query(c, sql, NULL, 0, &r, NULL) != 0)
		return NULL;
	char *s = NULL;
	if (r->nrows > 0 && r->ncols > 0) {
		const lm_value *v = lm_result_at(r, 0, 0);
		switch (v->type) {
		case LM_V_NULL:
			s = lm_strdup("NULL");
			break;
		case LM_V_INT:
		case LM_V_BOOL:
			s = lm_sprintf("%lld", v->i);
			break;
		case LM_V_FLOAT:
			s = lm_sprintf("%g", v->f);
			break;
		default:
			s = lm_strndup(v->s, v->len);
		}
	}
	lm_result_free(r);
	return s;
}

static int scalar_is(lm_conn *c, const char *sql, const char *want)
{
	char *got = scalar(c, sql);
	int same = got && strcmp(got, want) == 0;
	if (!same)
		fprintf(stderr, "  %s -> %s (want %s)\n", sql, got ? got : "(error)", want);
	free(got);
	return same;
}

/* --- URLs and redaction --------------------------------------------------- */

static void test_url_forms_become_libpq_uris(void)
{
	lm_url u;
	CHECK(lm_url_parse(
	              "postgresql+psycopg2://scott:tiger99@db.example:5433/app?sslmode=require",
	              &u) == 0);
	CHECK(strcmp(u.dialect, "postgresql") == 0);
	CHECK(u.driver && strcmp(u.driver, "psycopg2") == 0);
	CHECK(strcmp(u.conninfo,
	             "postgresql://scott:tiger99@db.example:5433/app?sslmode=require") == 0);
	CHECK(strcmp(u.redacted,
	             "postgresql+psycopg2://scott:***@db.example:5433/app?sslmode=require") == 0);
	lm_url_dispose(&u);

	CHECK(lm_url_parse("postgres://me@/app?host=/var/run/postgresql", &u) == 0);
	CHECK(strcmp(u.dialect, "postgresql") == 0);
	CHECK(u.driver == NULL);
	CHECK(strcmp(u.conninfo, "postgresql://me@/app?host=/var/run/postgresql") == 0);
	CHECK(strcmp(u.redacted, "postgres://me@/app?host=/var/run/postgresql") == 0);
	lm_url_dispose(&u);

	CHECK(lm_url_parse("postgresql+asyncpg:///app", &u) == 0);
	CHECK(strcmp(u.conninfo, "postgresql:///app") == 0);
	lm_url_dispose(&u);

	/* As in SQLAlchemy, the credentials end at the last "@". */
	CHECK(lm_url_parse("postgresql://u:p@ss@w0rd@h/d", &u) == 0);
	CHECK(strcmp(u.conninfo, "postgresql://u:p%40ss%40w0rd@h/d") == 0);
	CHECK(strcmp(u.redacted, "postgresql://u:***@h/d") == 0);
	lm_url_dispose(&u);

	/* Called on its own, lm_pg_url_parse fills every field. */
	memset(&u, 0, sizeof u);
	CHECK(lm_pg_url_parse("postgresql+pg8000://a:b-secret@h/d", &u) == 0);
	CHECK(strcmp(u.raw, "postgresql+pg8000://a:b-secret@h/d") == 0);
	CHECK(strcmp(u.dialect, "postgresql") == 0);
	CHECK(strcmp(u.driver, "pg8000") == 0);
	CHECK(strcmp(u.redacted, "postgresql+pg8000://a:***@h/d") == 0);
	lm_url_dispose(&u);
}

static void test_bad_urls_are_refused_without_password(void)
{
	lm_url u;
	memset(&u, 0, sizeof u);
	CHECK(lm_pg_url_parse("postgresql:/only-one-slash", &u) == -1);
	CHECK_CONTAINS(lm_error_get(), "Could not parse SQLAlchemy URL");
	CHECK(u.raw == NULL && u.conninfo == NULL);

	CHECK(lm_pg_url_parse("postgresql+://x@h/d", &u) == -1);
	CHECK(lm_pg_url_parse("mysql://x@h/d", &u) == -1);

	/* libpq quotes the bad token; the token is the password here. */
	CHECK(lm_url_parse("postgresql://u:Bad%zzSecret@h/d", &u) == -1);
	CHECK_LACKS(lm_error_get(), "Bad%zzSecret");
	CHECK_LACKS(lm_error_get(), "zzSecret");
	CHECK_CONTAINS(lm_error_get(), "u:***@h/d");

	CHECK(lm_url_parse("postgresql://u:Hunter2Secret@h/d?no_such_param=1", &u) == -1);
	CHECK_CONTAINS(lm_error_get(), "no_such_param");
	CHECK_LACKS(lm_error_get(), "Hunter2Secret");
}

static void test_redaction_of_urls(void)
{
	lm_url u;
	CHECK(lm_url_parse("postgresql://u:p%40ss:w0rd@h:1/d?password=other-secret&sslmode=disable",
	                   &u) == 0);
	CHECK_LACKS(u.redacted, "p%40ss");
	CHECK_LACKS(u.redacted, "w0rd");
	CHECK_LACKS(u.redacted, "other-secret");
	CHECK_CONTAINS(u.redacted, "u:***@h:1/d");
	CHECK_CONTAINS(u.redacted, "sslmode=disable");
	lm_url_dispose(&u);

	char *r = lm_redact("could not connect to postgresql://u:pw123456@h/d: refused");
	CHECK(strcmp(r, "could not connect to postgresql://u:***@h/d: refused") == 0);
	free(r);
	r = lm_redact("postgresql://nobody@h/d");
	CHECK(strcmp(r, "postgresql://nobody@h/d") == 0);
	free(r);
}

/* --- connecting ------------------------------------------------------------ */

static void test_connect_through_socket_host_param(void)
{
	lm_conn *c = NULL;
	CHECK(lm_connect(fixture("LUAMIG_TEST_PG_URL"), &c) == 0);
	CHECK(c->driver == &lm_driver_postgresql);
	CHECK(c->driver->placeholder == '$');
	const char *v = c->driver->server_version(c);
	CHECK(v && v[0] >= '1' && v[0] <= '9');
	CHECK(scalar_is(c, "SELECT current_setting('application_name')", "luamig"));
	CHECK(scalar_is(c, "SELECT current_setting('client_encoding')", "UTF8"));
	CHECK(!c->driver->in_transaction(c));
	lm_conn_close(c);
}

static void test_connect_with_driver_suffix_and_tcp(void)
{
	lm_conn *c = NULL;
	char *url = db_url("postgresql+psycopg2", "&application_name=mine");
	CHECK(lm_connect(url, &c) == 0);
	free(url);
	CHECK(scalar_is(c, "SELECT current_database()", DBNAME));
	/* The URL's application_name wins over luamig's default. */
	CHECK(scalar_is(c, "SELECT current_setting('application_name')", "mine"));
	lm_conn_close(c);

	const char *tcp = fixture("LUAMIG_TEST_PG_TCP_URL");
	char *t = lm_sprintf("postgres+psycopg2%s", strstr(tcp, "://"));
	CHECK(lm_connect(t, &c) == 0);
	free(t);
	CHECK(scalar_is(c, "SELECT inet_server_addr() IS NOT NULL", "1"));
	lm_conn_close(c);
}

static void test_password_role_connects_and_never_shows_password(void)
{
	const char *pw = fixture("LUAMIG_TEST_PG_PASSWORD");
	const char *urls[] = {fixture("LUAMIG_TEST_PG_PW_URL"),
	                      fixture("LUAMIG_TEST_PG_PW_SOCK_URL")};
	for (size_t i = 0; i < 2; i++) {
		lm_conn *c = NULL;
		CHECK(lm_connect(urls[i], &c) == 0);
		CHECK(scalar_is(c, "SELECT current_user", "luamig_pw"));
		CHECK_LACKS(c->url.redacted, pw);
		/* A failing statement's message carries no password either. */
		CHECK(c->driver->exec(c, "SELECT no_such_column") == -1);
		CHECK_LACKS(lm_error_get(), pw);

		/* The lock session authenticates with the same password. */
		lm_lock_holder h;
		CHECK(c->driver->try_lock(c, "pw-lock", &h) == 1);
		CHECK(c->driver->unlock(c, "pw-lock") == 0);
		lm_conn_close(c);
	}
}

static void test_bad_password_message_has_no_password(void)
{
	const char *good = fixture("LUAMIG_TEST_PG_PASSWORD");
	const char *urls[] = {fixture("LUAMIG_TEST_PG_PW_URL"),
	                      fixture("LUAMIG_TEST_PG_PW_SOCK_URL")};
	for (size_t i = 0; i < 2; i++) {
		/* Same URL, the password swapped for a wrong one. */
		const char *at = strstr(urls[i], good);
		CHECK(at);
		char *bad = lm_sprintf("%.*sWr0ngPassw0rd-%zu%s", (int)(at - urls[i]), urls[i], i,
		                       at + strlen(good));
		lm_conn *c = NULL;
		CHECK(lm_connect(bad, &c) == -1);
		const char *err = lm_error_get();
		CHECK_CONTAINS(err, "password authentication failed for user \"luamig_pw\"");
		CHECK_CONTAINS(err, "luamig_pw:***@");
		CHECK_LACKS(err, "Wr0ngPassw0rd");
		CHECK_LACKS(err, good);
		free(bad);
	}
	/* An unencoded "@" in the password: libpq must not mistake the
	 * password's tail for a host name (and print it). */
	{
		const char *tcp = fixture("LUAMIG_TEST_PG_TCP_URL"); /* postgresql://postgres@... */
		char *url =
		        lm_sprintf("postgresql://luamig_pw:Tail@Secret@%s", strchr(tcp, '@') + 1);
		lm_conn *c = NULL;
		CHECK(lm_connect(url, &c) == -1);
		CHECK_CONTAINS(lm_error_get(), "password authentication failed");
		CHECK_LACKS(lm_error_get(), "Secret");
		free(url);
	}
	/* Nobody listens on port 1: libpq's message names host and port. */
	lm_conn *c = NULL;
	CHECK(lm_connect("postgresql://luamig_pw:An0therSecret@127.0.0.1:1/postgres", &c) == -1);
	CHECK_CONTAINS(lm_error_get(), "127.0.0.1");
	CHECK_LACKS(lm_error_get(), "An0therSecret");
}

/* --- statements ------------------------------------------------------------- */

static void test_query_with_params_and_nulls(void)
{
	lm_conn *c = connect_db();
	CHECK(c);
	const char blob[] = {'a', '\0', 'b', (char)0xff};
	lm_value p[7] = {
	        {.type = LM_V_INT, .i = 41},
	        {.type = LM_V_TEXT, .s = "héllo, world", .len = 6}, /* not NUL-terminated at len */
	        {.type = LM_V_NULL},
	        {.type = LM_V_FLOAT, .f = 2.5},
	        {.type = LM_V_BOOL, .i = 1},
	        {.type = LM_V_BLOB, .s = blob, .len = sizeof blob},
	        {.type = LM_V_INT, .i = -9000000000LL},
	};
	lm_result *r = NULL;
	long long changes = -1;
	CHECK(c->driver->query(
	              c,
	              "SELECT $1::int + 1 AS answer, $2::text AS greeting, $3::text AS nothing, "
	              "$4::float8 * 2 AS dbl, NOT $5::bool AS flag, $6::bytea AS bytes, "
	              "$7::bigint AS big, 1.50::numeric AS price",
	              p, 7, &r, &changes) == 0);
	CHECK(r->nrows == 1 && r->ncols == 8);
	CHECK(strcmp(r->colnames[0], "answer") == 0 && strcmp(r->colnames[7], "price") == 0);
	CHECK(changes == 1); /* SELECT reports the rows it returned */
	const lm_value *v = lm_result_at(r, 0, 0);
	CHECK(v->type == LM_V_INT && v->i == 42);
	v = lm_result_at(r, 0, 1);
	CHECK(v->type == LM_V_TEXT && v->len == 6 && memcmp(v->s, "héllo", 6) == 0);
	CHECK(lm_result_at(r, 0, 2)->type == LM_V_NULL);
	v = lm_result_at(r, 0, 3);
	CHECK(v->type == LM_V_FLOAT && v->f == 5.0);
	v = lm_result_at(r, 0, 4);
	CHECK(v->type == LM_V_BOOL && v->i == 0);
	v = lm_result_at(r, 0, 5);
	CHECK(v->type == LM_V_BLOB && v->len == sizeof blob &&
	      memcmp(v->s, blob, sizeof blob) == 0);
	v = lm_result_at(r, 0, 6);
	CHECK(v->type == LM_V_INT && v->i == -9000000000LL);
	v = lm_result_at(r, 0, 7);
	CHECK(v->type == LM_V_TEXT && v->len == 4 && memcmp(v->s, "1.50", 4) == 0);
	lm_result_free(r);

	/* Untyped parameters take their type from the context, as literals do. */
	CHECK(c->driver->exec(c,
	                      "DROP TABLE IF EXISTS typed; "
	                      "CREATE TABLE typed (n int, flag boolean, x float8, t text)") == 0);
	lm_value q[4] = {{.type = LM_V_INT, .i = 7},
	                 {.type = LM_V_BOOL, .i = 1},
	                 {.type = LM_V_FLOAT, .f = INFINITY},
	                 {.type = LM_V_NULL}};
	CHECK(c->driver->query(c, "INSERT INTO typed VALUES ($1, $2, $3, $4)", q, 4, NULL,
	                       &changes) == 0);
	CHECK(changes == 1);
	CHECK(scalar_is(c, "SELECT n FROM typed WHERE flag AND x = 'Infinity' AND t IS NULL", "7"));
	lm_conn_close(c);
}

static void test_rowcounts(void)
{
	lm_conn *c = connect_db();
	CHECK(c);
	CHECK(c->driver->exec(c, "DROP TABLE IF EXISTS counted; "
	                         "CREATE TABLE counted (id int primary key, name text)") == 0);
	long long changes = -1;
	for (int i = 1; i <= 3; i++) {
		lm_value p[2] = {{.type = LM_V_INT, .i = i},
		                 {.type = LM_V_TEXT, .s = "x", .len = 1}};
		CHECK(c->driver->query(c, "INSERT INTO counted VALUES ($1, $2)", p, 2, NULL,
		                       &changes) == 0);
		CHECK(changes == 1);
	}
	lm_value one = {.type = LM_V_INT, .i = 1};
	CHECK(c->driver->query(c, "UPDATE counted SET name = 'y' WHERE id > $1", &one, 1, NULL,
	                       &changes) == 0);
	CHECK(changes == 2);
	CHECK(c->driver->query(c, "DELETE FROM counted WHERE id = 99", NULL, 0, NULL, &changes) ==
	      0);
	CHECK(changes == 0);
	CHECK(c->driver->query(c, "CREATE INDEX ix_counted_name ON counted (name)", NULL, 0, NULL,
	                       &changes) == 0);
	CHECK(changes == 0);
	lm_result *r = NULL;
	CHECK(c->driver->query(c, "SELECT id, name FROM counted ORDER BY id", NULL, 0, &r, NULL) ==
	      0);
	CHECK(r->nrows == 3 && r->ncols == 2);
	CHECK(lm_result_at(r, 2, 0)->i == 3);
	lm_result_free(r);
	CHECK(c->driver->query(c, "SELECT 1 WHERE false", NULL, 0, &r, NULL) == 0);
	CHECK(r->nrows == 0 && r->ncols == 1);
	lm_result_free(r);
	lm_conn_close(c);
}

static void test_rollback_undoes_ddl(void)
{
	lm_conn *c = connect_db();
	CHECK(c);
	CHECK(c->driver->exec(c, "DROP TABLE IF EXISTS kept; DROP TABLE IF EXISTS undone") == 0);
	CHECK(c->driver->begin(c) == 0);
	CHECK(c->driver->in_transaction(c) == 1);
	CHECK(c->driver->exec(c,
	                      "CREATE TABLE undone (x int); CREATE INDEX ix_undone ON undone (x); "
	                      "INSERT INTO undone VALUES (1)") == 0);
	CHECK(scalar_is(c, "SELECT count(*) FROM undone", "1"));
	CHECK(c->driver->rollback(c) == 0);
	CHECK(c->driver->in_transaction(c) == 0);
	CHECK(scalar_is(c, "SELECT to_regclass('undone') IS NULL", "1"));
	CHECK(scalar_is(c, "SELECT to_regclass('ix_undone') IS NULL", "1"));

	CHECK(c->driver->begin(c) == 0);
	CHECK(c->driver->exec(c, "CREATE TABLE kept (x int)") == 0);
	CHECK(c->driver->commit(c) == 0);
	CHECK(c->driver->in_transaction(c) == 0);
	CHECK(scalar_is(c, "SELECT to_regclass('kept') IS NOT NULL", "1"));
	lm_conn_close(c);
}

static void test_commit_after_failed_statement_is_an_error(void)
{
	lm_conn *c = connect_db();
	CHECK(c);
	CHECK(c->driver->exec(c, "DROP TABLE IF EXISTS half") == 0);
	CHECK(c->driver->begin(c) == 0);
	CHECK(c->driver->exec(c, "CREATE TABLE half (x int)") == 0);
	CHECK(c->driver->exec(c, "SELECT * FROM no_such_table") == -1);
	CHECK(c->driver->in_transaction(c) == 1);
	CHECK(c->driver->commit(c) == -1);
	CHECK_CONTAINS(lm_error_get(), "rolled back");
	CHECK(c->driver->in_transaction(c) == 0);
	CHECK(scalar_is(c, "SELECT to_regclass('half') IS NULL", "1"));
	lm_conn_close(c);
}

static void test_errors_carry_server_message(void)
{
	lm_conn *c = connect_db();
	CHECK(c);
	CHECK(c->driver->exec(c, "SELECT * FROM no_such_table") == -1);
	CHECK_CONTAINS(lm_error_get(),
	               "[SQLSTATE 42P01] relation \"no_such_table\" does not exist");
	CHECK_CONTAINS(lm_error_get(), "[SQL: SELECT * FROM no_such_table]");
	/* The server's pointer into the statement comes along, as in psql. */
	CHECK_CONTAINS(lm_error_get(), "\nLINE 1: SELECT * FROM no_such_table\n");
	CHECK_LACKS(lm_error_get(), "ERROR:");

	CHECK(c->driver->exec(c,
	                      "DROP TABLE IF EXISTS uniq; CREATE TABLE uniq (id int primary key); "
	                      "INSERT INTO uniq VALUES (1)") == 0);
	lm_value one = {.type = LM_V_INT, .i = 1};
	CHECK(c->driver->query(c, "INSERT INTO uniq VALUES ($1)", &one, 1, NULL, NULL) == -1);
	CHECK_CONTAINS(lm_error_get(), "[SQLSTATE 23505] duplicate key value violates unique "
	                               "constraint \"uniq_pkey\"");
	CHECK_CONTAINS(lm_error_get(), "DETAIL:  Key (id)=(1) already exists.");

	/* Several statements: the failing one stops the rest, and the text
	 * runs as one implicit transaction, so the first is undone too. */
	CHECK(c->driver->exec(c, "DROP TABLE IF EXISTS m1; DROP TABLE IF EXISTS m2") == 0);
	CHECK(c->driver->exec(c, "CREATE TABLE m1 (x int); SELECT 1/0; CREATE TABLE m2 (x int)") ==
	      -1);
	CHECK_CONTAINS(lm_error_get(), "[SQLSTATE 22012] division by zero");
	CHECK(scalar_is(c, "SELECT to_regclass('m1') IS NULL AND to_regclass('m2') IS NULL", "1"));

	/* A bad parameter count is the server's error, not a crash. */
	CHECK(c->driver->query(c, "SELECT $1::int + $2::int", &one, 1, NULL, NULL) == -1);
	CHECK_CONTAINS(lm_error_get(),
	               "bind message supplies 1 parameters, but prepared statement");

	/* The connection is still usable after all of that. */
	CHECK(scalar_is(c, "SELECT 1", "1"));
	lm_conn_close(c);
}

static void test_lost_connection_is_an_error(void)
{
	lm_conn *victim = connect_db(), *killer = connect_db();
	CHECK(victim && killer);
	char *pid = scalar(victim, "SELECT pg_backend_pid()");
	CHECK(pid);
	lm_value p = {.type = LM_V_TEXT, .s = pid, .len = strlen(pid)};
	CHECK(killer->driver->query(killer, "SELECT pg_terminate_backend($1::int, 5000)", &p, 1,
	                            NULL, NULL) == 0);
	free(pid);
	CHECK(victim->driver->exec(victim, "SELECT 1") == -1);
	CHECK(lm_error_get()[0] != '\0');
	CHECK(victim->driver->query(victim, "SELECT 1", NULL, 0, NULL, NULL) == -1);
	lm_conn_close(victim);
	lm_conn_close(killer);
}

/* --- the runner lock ---------------------------------------------------------- */

static void test_advisory_key_is_fnv1a_64(void)
{
	CHECK(lm_pg_advisory_key("") == -3750763034362895579LL);
	CHECK(lm_pg_advisory_key("a") == -5808556873153909620LL);
	CHECK(lm_pg_advisory_key("luamig") == -3615924975131863440LL);
}

static void test_engines_without_advisory_locks_are_recognised(void)
{
	CHECK(lm_pg_engine_lacks_advisory_locks("CockroachDB CCL v23.1.11 (x86_64-pc-linux-gnu, "
	                                        "built 2023/09/27 01:53:43, go1.19.10)"));
	CHECK(lm_pg_engine_lacks_advisory_locks(
	        "PostgreSQL 11.2-YB-2.18.3.0-b0 on x86_64-pc-linux-gnu, compiled by clang"));
	CHECK(!lm_pg_engine_lacks_advisory_locks(
	        "PostgreSQL 15.5 (Debian 15.5-0+deb12u1) on x86_64-pc-linux-gnu, compiled by gcc"));
	/* Citus is PostgreSQL with an extension: its coordinator has advisory locks */
	CHECK(!lm_pg_engine_lacks_advisory_locks("PostgreSQL 16.1 on x86_64-pc-linux-gnu"));
	CHECK(!lm_pg_engine_lacks_advisory_locks(NULL));
}

/* A lock row (runner_lock = table): a second connection sees it held and
 * who holds it; released, the row is gone. */
static void test_lock_row_from_two_connections(void)
{
	lm_conn *a = connect_db(), *b = connect_db();
	CHECK(a && b);
	const lm_driver *d = a->driver;
	a->lock.mode = b->lock.mode = LM_LOCK_TABLE;
	lm_lock_holder h;
	memset(&h, 0, sizeof h);
	CHECK(d->try_lock(a, "luamig-row-lock", &h) == 1);
	CHECK(d->try_lock(b, "luamig-row-lock", &h) == 0);
	CHECK_CONTAINS(h.text, "(lock row in luamig_lock since 2");
	CHECK_CONTAINS(h.text, ", lease until 2");
	CHECK(scalar_is(b, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'", "0"));
	CHECK(d->unlock(a, "luamig-row-lock") == 0);
	CHECK(scalar_is(b, "SELECT count(*) FROM luamig_lock", "0"));
	CHECK(d->try_lock(b, "luamig-row-lock", &h) == 1);
	CHECK(d->unlock(b, "luamig-row-lock") == 0);
	lm_conn_close(a);
	lm_conn_close(b);
}

static void test_lock_from_two_connections(void)
{
	lm_conn *a = connect_db(), *b = connect_db();
	CHECK(a && b);
	const lm_driver *d = a->driver;
	lm_lock_holder h;
	memset(&h, 0, sizeof h);
	CHECK(d->try_lock(a, "luamig-test-lock", &h) == 1);
	CHECK(d->try_lock(a, "luamig-test-lock", &h) == 1); /* already ours */
	CHECK(d->try_lock(a, "another-lock", &h) == -1);

	CHECK(d->try_lock(b, "luamig-test-lock", &h) == 0);
	CHECK(strncmp(h.text, "pid ", 4) == 0);
	CHECK_CONTAINS(h.text, "application_name 'luamig'");
	CHECK_CONTAINS(h.text, "since 2");
	/* The holder is a's lock session, not a's own connection. */
	char *a_pid = scalar(a, "SELECT pg_backend_pid()");
	CHECK(a_pid);
	CHECK(strtol(h.text + 4, NULL, 10) > 0);
	CHECK(strtol(h.text + 4, NULL, 10) != strtol(a_pid, NULL, 10));
	free(a_pid);

	/* The server agrees on the key: bigint lock, split in two oids. */
	long long id = lm_pg_advisory_key("luamig-test-lock");
	lm_value p = {.type = LM_V_INT, .i = id};
	lm_result *r = NULL;
	CHECK(d->query(b,
	               "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
	               "AND ((classid::int8 << 32) | objid::int8) = $1::int8 AND objsubid = 1",
	               &p, 1, &r, NULL) == 0);
	CHECK(lm_result_at(r, 0, 0)->i == 1);
	lm_result_free(r);

	/* The lock lives outside a's transactions: a rollback keeps it. */
	CHECK(d->begin(a) == 0);
	CHECK(d->exec(a, "SELECT 1") == 0);
	CHECK(d->rollback(a) == 0);
	CHECK(d->try_lock(b, "luamig-test-lock", &h) == 0);

	CHECK(d->unlock(a, "another-lock") == -1);
	CHECK(d->unlock(a, "luamig-test-lock") == 0);
	CHECK(d->unlock(a, "luamig-test-lock") == 0); /* nothing left to release */
	/* Released at once: b needs no retry. */
	CHECK(d->try_lock(b, "luamig-test-lock", &h) == 1);
	CHECK(d->try_lock(a, "luamig-test-lock", &h) == 0);
	lm_conn_close(b); /* closing releases too */
	CHECK(d->try_lock(a, "luamig-test-lock", &h) == 1);
	CHECK(d->unlock(a, "luamig-test-lock") == 0);
	lm_conn_close(a);
}

static void test_lock_does_not_block_create_index_concurrently(void)
{
	lm_conn *c = connect_db();
	CHECK(c);
	lm_lock_holder h;
	CHECK(c->driver->exec(c, "DROP TABLE IF EXISTS conc; CREATE TABLE conc (x int)") == 0);
	CHECK(c->driver->try_lock(c, "luamig-conc-lock", &h) == 1);
	/* CONCURRENTLY waits for every older transaction to end; the lock
	 * session has none open, so this returns instead of hanging. */
	CHECK(c->driver->exec(c, "SET lock_timeout = '10s'") == 0);
	CHECK(c->driver->exec(c, "CREATE INDEX CONCURRENTLY ix_conc ON conc (x)") == 0);
	CHECK(c->driver->unlock(c, "luamig-conc-lock") == 0);
	lm_conn_close(c);
}

static void test_lock_session_that_cannot_connect_is_an_error(void)
{
	/* A role allowed one connection: the main one gets it, the lock's
	 * own session is refused by the server. */
	lm_conn *admin = connect_db();
	CHECK(admin);
	CHECK(admin->driver->exec(admin,
	                          "DROP ROLE IF EXISTS lm_unit_one_conn; "
	                          "CREATE ROLE lm_unit_one_conn LOGIN CONNECTION LIMIT 1") == 0);
	char *url = lm_sprintf("postgresql:///%s?host=%s&port=%s&user=lm_unit_one_conn", DBNAME,
	                       fixture("LUAMIG_TEST_PG_HOST"), fixture("LUAMIG_TEST_PG_PORT"));
	lm_conn *c = NULL;
	CHECK(lm_connect(url, &c) == 0);
	free(url);
	lm_lock_holder h;
	CHECK(c->driver->try_lock(c, "luamig-one-conn", &h) == -1);
	CHECK_CONTAINS(lm_error_get(), "too many connections for role \"lm_unit_one_conn\"");
	/* The main connection is untouched and the next try starts afresh. */
	CHECK(scalar_is(c, "SELECT 1", "1"));
	CHECK(c->driver->unlock(c, "luamig-one-conn") == 0);
	lm_conn_close(c);
	CHECK(admin->driver->exec(admin, "DROP ROLE lm_unit_one_conn") == 0);
	lm_conn_close(admin);
}

/* --- main ------------------------------------------------------------------------ */

static int fresh_database(void)
{
	lm_conn *admin = NULL;
	if (lm_connect(fixture("LUAMIG_TEST_PG_URL"), &admin) != 0) {
		fprintf(stderr, "cannot reach the fixture's server: %s\n", lm_error_get());
		return -1;
	}
	int rc = admin->driver->exec(admin, "DROP DATABASE IF EXISTS " DBNAME " WITH (FORCE)");
	if (rc == 0)
		rc = admin->driver->exec(admin, "CREATE DATABASE " DBNAME);
	if (rc != 0)
		fprintf(stderr, "cannot create %s: %s\n", DBNAME, lm_error_get());
	lm_conn_close(admin);
	return rc;
}

int main(void)
{
	const char *path = getenv("LUAMIG_TEST_PG_ENV");
	char *fallback = NULL;
	if (!path) {
		const char *tmp = getenv("LUAMIG_TEST_TMP");
		path = fallback = lm_sprintf("%s/pg.env", tmp ? tmp : "test-tmp");
	}
	if (load_fixture(path) != 0) {
		const char *ci = getenv("CI");
		if (ci && strcmp(ci, "true") == 0) {
			fprintf(stderr, "no PostgreSQL fixture (%s) and CI=true: failing\n", path);
			return 1;
		}
		printf("no PostgreSQL fixture (%s): skipping\n", path);
		free(fallback);
		return 77;
	}
	free(fallback);
	if (fresh_database() != 0)
		return 1;

	static const struct {
		const char *name;
		void (*fn)(void);
	} tests[] = {
#define T(f) {#f, f}
	        T(test_url_forms_become_libpq_uris),
	        T(test_engines_without_advisory_locks_are_recognised),
	        T(test_lock_row_from_two_connections),
	        T(test_bad_urls_are_refused_without_password),
	        T(test_redaction_of_urls),
	        T(test_connect_through_socket_host_param),
	        T(test_connect_with_driver_suffix_and_tcp),
	        T(test_password_role_connects_and_never_shows_password),
	        T(test_bad_password_message_has_no_password),
	        T(test_query_with_params_and_nulls),
	        T(test_rowcounts),
	        T(test_rollback_undoes_ddl),
	        T(test_commit_after_failed_statement_is_an_error),
	        T(test_errors_carry_server_message),
	        T(test_lost_connection_is_an_error),
	        T(test_advisory_key_is_fnv1a_64),
	        T(test_lock_from_two_connections),
	        T(test_lock_does_not_block_create_index_concurrently),
	        T(test_lock_session_that_cannot_connect_is_an_error),
#undef T
	};
	size_t n = sizeof tests / sizeof tests[0];
	for (size_t i = 0; i < n; i++) {
		int before = failures;
		current = tests[i].name;
		lm_error_clear();
		tests[i].fn();
		printf("%s %s\n", failures == before ? "ok  " : "FAIL", tests[i].name);
	}
	lm_strv_dispose(&env_keys);
	lm_strv_dispose(&env_vals);
	printf("%zu tests, %d failed\n", n, failures);
	return failures ? 1 : 0;
}
