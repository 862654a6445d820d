/*
 * lua_conn.c — a database connection as a Lua userdata: core.connect and
 * the connection's methods.
 *
 * core.connect creates the userdata first and connects into it, so the
 * connection is owned from the moment it exists: an error afterwards
 * leaks nothing, and __gc (also __close) closes whatever is still open. As
 * in Redis's call/pcall, one C function serves the raising method
 * (execute, query) and the non-raising one (pexecute, pquery: nil,
 * message). Messages from the database are password-free (lm_redact).
 */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "lua_core.h"
#include "lua_host.h"
#include "signals.h"
#include "util.h"

#define CONN_MT "luamig.connection"
/* Registry key of the function core.set_sql_echo installed (or absent). */
#define ECHO_KEY "luamig.sql_echo"

/*
 * core.set_sql_echo(fn | nil)
 *   While set, every statement a connection sends (execute, query and their
 *   protected forms, begin, commit, rollback) is reported after it ran as
 *   fn(sql, params | nil, seconds, error message | nil): the one place all
 *   online SQL passes through, so -v (luamig.log) sees every statement.
 */
int lm_lua_set_sql_echo(lua_State *L)
{
	if (!lua_isnoneornil(L, 1))
		luaL_checktype(L, 1, LUA_TFUNCTION);
	lua_settop(L, 1);
	lua_setfield(L, LUA_REGISTRYINDEX, ECHO_KEY);
	return 0;
}

/* Whether an echo function is installed. */
static int echo_on(lua_State *L)
{
	int on = lua_getfield(L, LUA_REGISTRYINDEX, ECHO_KEY) == LUA_TFUNCTION;
	lua_pop(L, 1);
	return on;
}

/* Calls the echo function, protected: a failing echo (a closed stderr) must
 * neither hide the statement's own outcome nor leak what the caller holds.
 * params_idx 0 = no parameters; err NULL = the statement succeeded. */
static void echo(lua_State *L, const char *sql, int params_idx, double secs, const char *err)
{
	if (lua_getfield(L, LUA_REGISTRYINDEX, ECHO_KEY) != LUA_TFUNCTION) {
		lua_pop(L, 1);
		return;
	}
	lua_pushstring(L, sql);
	if (params_idx && lua_istable(L, params_idx))
		lua_pushvalue(L, params_idx);
	else
		lua_pushnil(L);
	lua_pushnumber(L, secs);
	if (err)
		lua_pushstring(L, err);
	else
		lua_pushnil(L);
	if (lua_pcall(L, 4, 0, 0) != LUA_OK)
		lua_pop(L, 1);
}

typedef struct lconn {
	lm_conn *c;
} lconn;

lm_conn *lm_lua_check_conn(lua_State *L, int idx)
{
	lconn *lc = luaL_checkudata(L, idx, CONN_MT);
	if (!lc->c)
		luaL_error(L, "connection is closed");
	return lc->c;
}

static lm_conn *check_conn(lua_State *L)
{
	return lm_lua_check_conn(L, 1);
}

/* 0, or -1 with the error slot set when url names a database file that
 * does not exist (a URL that does not parse is left to lm_connect). */
static int missing_database_file(const char *url, const char *command)
{
	lm_url u;
	if (lm_url_parse(url, &u) != 0)
		return 0;
	int rc = 0;
	if (u.path && !lm_file_exists(u.path)) {
		lm_error_set("Database file '%s' (%s) does not exist; 'luamig %s' only reads a "
		             "database and does not create one",
		             u.path, u.redacted, command);
		rc = -1;
	}
	lm_url_dispose(&u);
	return rc;
}

/*
 * core.connect(url) -> connection
 *   Connects to the database the URL names (driver.h). Raises when the URL
 *   does not parse or the database refuses, with the driver's message
 *   (password-free); raises when url is not a string. For a command that
 *   only reads the database (lm_host's read_only), raises when the URL
 *   names a database file that does not exist, rather than creating an
 *   empty one.
 */
int lm_lua_connect(lua_State *L)
{
	const char *url = luaL_checkstring(L, 1);
	lm_host *host = lm_lua_host(L);
	if (host && host->read_only && missing_database_file(url, host->read_only) != 0)
		return lm_lua_raise_slot(L);
	/* The owner first: if connecting fails, the userdata stays empty
	 * ("closed") and the collector frees it. */
	lconn *lc = lua_newuserdatauv(L, sizeof *lc, 0);
	lc->c = NULL;
	luaL_setmetatable(L, CONN_MT);
	if (lm_connect(url, &lc->c) != 0)
		return lm_lua_raise_slot(L);
	return 1;
}

/* Reads params (an array table with an optional n field) into values that
 * point into Lua strings kept alive on the stack by the table. The array
 * is a userdata pushed on the stack (NULL, nothing pushed, when there are
 * no parameters), so an error raised while reading leaks nothing. */
static lm_value *read_params(lua_State *L, int idx, size_t *count)
{
	*count = 0;
	if (lua_isnoneornil(L, idx))
		return NULL;
	luaL_checktype(L, idx, LUA_TTABLE);
	lua_getfield(L, idx, "n");
	lua_Integer n = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : luaL_len(L, idx);
	lua_pop(L, 1);
	if (n <= 0)
		return NULL;
	lm_value *v = lua_newuserdatauv(L, (size_t)n * sizeof *v, 0);
	memset(v, 0, (size_t)n * sizeof *v);
	for (lua_Integer i = 1; i <= n; i++) {
		lm_value *p = &v[i - 1];
		int t = lua_rawgeti(L, idx, i);
		switch (t) {
		case LUA_TNIL:
			p->type = LM_V_NULL;
			break;
		case LUA_TBOOLEAN:
			p->type = LM_V_BOOL;
			p->i = lua_toboolean(L, -1);
			break;
		case LUA_TNUMBER:
			if (lua_isinteger(L, -1)) {
				p->type = LM_V_INT;
				p->i = (long long)lua_tointeger(L, -1);
			} else {
				p->type = LM_V_FLOAT;
				p->f = (double)lua_tonumber(L, -1);
			}
			break;
		case LUA_TSTRING:
			p->type = LM_V_TEXT;
			p->s = lua_tolstring(L, -1, &p->len);
			break;
		default:
			luaL_error(L, "parameter %d: cannot bind a %s value", (int)i,
			           lua_typename(L, t));
		}
		lua_pop(L, 1); /* the string stays alive: the table holds it */
	}
	*count = (size_t)n;
	return v;
}

static void push_value(lua_State *L, const lm_value *v)
{
	switch (v->type) {
	case LM_V_NULL:
		lua_pushnil(L);
		break;
	case LM_V_INT:
		lua_pushinteger(L, (lua_Integer)v->i);
		break;
	case LM_V_BOOL:
		lua_pushboolean(L, (int)v->i);
		break;
	case LM_V_FLOAT:
		lua_pushnumber(L, v->f);
		break;
	default:
		lua_pushlstring(L, v->s, v->len);
		break;
	}
}

/* Pushes rows: an array of tables with [i] and [column name] fields, and
 * a second value, the array of column names. */
static void push_result(lua_State *L, const lm_result *r)
{
	lua_createtable(L, (int)r->nrows, 0);
	for (size_t i = 0; i < r->nrows; i++) {
		lua_createtable(L, (int)r->ncols, (int)r->ncols);
		for (size_t j = 0; j < r->ncols; j++) {
			push_value(L, lm_result_at(r, i, j));
			lua_pushvalue(L, -1);
			lua_rawseti(L, -3, (lua_Integer)j + 1);
			lua_setfield(L, -2, r->colnames[j]);
		}
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_createtable(L, (int)r->ncols, 0);
	for (size_t j = 0; j < r->ncols; j++) {
		lua_pushstring(L, r->colnames[j]);
		lua_rawseti(L, -2, (lua_Integer)j + 1);
	}
}

/*
 * conn:execute(sql[, params]) -> rows affected
 * conn:pexecute(sql[, params]) -> rows affected | nil, message
 * conn:query(sql[, params]) -> rows, column names
 * conn:pquery(sql[, params]) -> rows, column names | nil, message
 *   One C function for the four: upvalue 1 = want rows, upvalue 2 =
 *   protected. params is an array (with an optional n for trailing nils)
 *   bound to the driver's placeholders, never spliced; without params,
 *   execute runs sql as a script of one or more statements (and returns
 *   0). rows is an array of rows, each with [i] and [column name] fields.
 *   A failing statement raises the database's message (password-free) from
 *   execute/query and returns nil, message from pexecute/pquery. Misuse
 *   raises in all four: a closed connection, sql not a string, params not
 *   a table, a value that cannot be bound (a table, a function, ...). So
 *   does a signal that stopped the run in progress (signals.h): "Interrupted
 *   by SIGINT", and nothing is sent.
 */
static void free_result(void *block)
{
	lm_result **res = block;
	lm_result_free(*res);
	*res = NULL;
}

static int l_run(lua_State *L)
{
	lm_conn *c = check_conn(L);
	lm_signals_check(L);
	const char *sql = luaL_checkstring(L, 2);
	int want_rows = lua_toboolean(L, lua_upvalueindex(1));
	int protected_ = lua_toboolean(L, lua_upvalueindex(2));
	size_t n;
	lm_value *params = read_params(L, 3, &n);
	/* the rows' owner, before there are rows: turning them into Lua
	 * values may raise (out of memory) */
	lm_result **res = lm_lua_scratch(L, sizeof *res, free_result);
	long long changes = 0;
	int rc;
	int echoing = echo_on(L);
	double t0 = echoing ? lm_now() : 0;
	if (!params && !want_rows && lua_isnoneornil(L, 3))
		rc = c->driver->exec(c, sql);
	else
		rc = c->driver->query(c, sql, params, n, want_rows ? res : NULL, &changes);
	/* The message, taken (onto the stack) before the echo runs: nothing may
	 * replace it. */
	if (rc != 0)
		lm_lua_push_redacted(L, lm_error_get());
	if (echoing)
		echo(L, sql, 3, lm_now() - t0, rc != 0 ? lua_tostring(L, -1) : NULL);
	if (rc != 0) {
		if (protected_) {
			lua_pushnil(L);
			lua_insert(L, -2); /* nil, message */
			return 2;
		}
		return lua_error(L);
	}
	if (want_rows) {
		push_result(L, *res);
		lm_lua_scratch_done(res);
		return 2;
	}
	lua_pushinteger(L, (lua_Integer)changes);
	return 1;
}

/* Runs begin, commit or rollback: returns the connection; raises the
 * database's message (password-free) on failure. */
static int simple(lua_State *L, int (*fn)(lm_conn *), const char *sql)
{
	lm_conn *c = check_conn(L);
	int echoing = echo_on(L);
	double t0 = echoing ? lm_now() : 0;
	int rc = fn(c);
	if (rc != 0) /* the message, before the echo: nothing may replace it */
		lm_lua_push_redacted(L, lm_error_get());
	if (echoing)
		echo(L, sql, 0, lm_now() - t0, rc != 0 ? lua_tostring(L, -1) : NULL);
	if (rc != 0) {
		return lua_error(L);
	}
	lua_settop(L, 1);
	return 1;
}

/* conn:begin() / conn:commit() / conn:rollback() -> conn (see simple).
 * Begin and commit raise "Interrupted by SIG..." instead when a signal
 * stopped the run in progress; rollback always runs. */
static int l_begin(lua_State *L)
{
	lm_signals_check(L);
	return simple(L, check_conn(L)->driver->begin, "BEGIN");
}

static int l_commit(lua_State *L)
{
	lm_signals_check(L);
	return simple(L, check_conn(L)->driver->commit, "COMMIT");
}

static int l_rollback(lua_State *L)
{
	return simple(L, check_conn(L)->driver->rollback, "ROLLBACK");
}

/* conn:in_transaction() -> boolean: a transaction is open. */
static int l_in_transaction(lua_State *L)
{
	lm_conn *c = check_conn(L);
	lua_pushboolean(L, c->driver->in_transaction(c));
	return 1;
}

/* Reads conn:try_lock's options table at idx into c->lock: mode ("auto",
 * "advisory", "table"), table (the lock table as SQL), lease (seconds).
 * Raises on a bad value. */
static void read_lock_options(lua_State *L, int idx, lm_conn *c)
{
	static const char *const modes[] = {"auto", "advisory", "table", NULL};
	lua_getfield(L, idx, "mode");
	int mode = luaL_checkoption(L, -1, "auto", modes);
	lua_getfield(L, idx, "table");
	const char *table = luaL_optstring(L, -1, NULL);
	lua_getfield(L, idx, "lease");
	lua_Number lease = luaL_optnumber(L, -1, 0);
	luaL_argcheck(L, lease >= 0, 3, "lease must not be negative");
	char *copy = table ? lm_strdup(table) : NULL;
	free(c->lock.table);
	c->lock.table = copy;
	c->lock.mode = mode == 0 ? LM_LOCK_AUTO : mode == 1 ? LM_LOCK_ADVISORY : LM_LOCK_TABLE;
	c->lock.lease_s = (double)lease;
	lua_pop(L, 3);
}

/* conn:try_lock(key [, options]) -> true, "" | false, holder text
 *   Tries once to take the runner lock named key (driver.h); the holder
 *   text says who holds it, as far as the database tells. options (kept
 *   on the connection): { mode = "auto" | "advisory" | "table", table =
 *   the lock table as SQL, lease = seconds }, for the drivers with more
 *   than one kind of lock (lm_lock_options). Raises on a database error,
 *   a bad option, and when a signal stopped the run in progress. */
static int l_try_lock(lua_State *L)
{
	lm_conn *c = check_conn(L);
	if (!lua_isnoneornil(L, 3)) {
		luaL_checktype(L, 3, LUA_TTABLE);
		read_lock_options(L, 3, c);
	}
	lm_signals_check(L);
	lm_lock_holder holder = {{0}};
	int rc = c->driver->try_lock(c, luaL_checkstring(L, 2), &holder);
	if (rc < 0) {
		lua_pushstring(L, lm_error_get());
		return lua_error(L);
	}
	lua_pushboolean(L, rc == 1);
	lua_pushstring(L, holder.text);
	return 2;
}

/* conn:unlock(key): releases the runner lock; raises on a database error. */
static int l_unlock(lua_State *L)
{
	lm_conn *c = check_conn(L);
	if (c->driver->unlock(c, luaL_checkstring(L, 2)) != 0) {
		lua_pushstring(L, lm_error_get());
		return lua_error(L);
	}
	return 0;
}

/* conn:enforce_foreign_keys(on) -> boolean: switches the enforcement of
 *   foreign keys for the connection, inside a transaction too (driver.h),
 *   and returns whether it was on. Raises where the database has no such
 *   switch, or when the switch fails. */
static int l_enforce_foreign_keys(lua_State *L)
{
	lm_conn *c = check_conn(L);
	int on = lua_toboolean(L, 2), was = 0;
	if (!c->driver->enforce_foreign_keys)
		return luaL_error(L, "%s has no switch for foreign key enforcement",
		                  c->driver->name);
	if (c->driver->enforce_foreign_keys(c, on, &was) != 0)
		return lm_lua_raise_slot(L);
	lua_pushboolean(L, was);
	return 1;
}

/* conn:close(), also __gc and __close: closes the connection (rolling
 * back an open transaction, releasing the lock); closing twice is fine. */
static int l_close(lua_State *L)
{
	lconn *lc = luaL_checkudata(L, 1, CONN_MT);
	if (lc->c)
		lm_signals_forget(lc->c);
	lm_conn_close(lc->c);
	lc->c = NULL;
	return 0;
}

/* conn.dialect, conn.url (password-free), conn.placeholder ("?" or "$"),
 * conn.server_version, conn.database (a file database's path, or nil),
 * and the methods. Raises on a closed connection. */
static int l_index(lua_State *L)
{
	lm_conn *c = check_conn(L);
	const char *k = luaL_checkstring(L, 2);
	if (strcmp(k, "dialect") == 0) {
		lua_pushstring(L, c->driver->name);
		return 1;
	}
	if (strcmp(k, "url") == 0) {
		lua_pushstring(L, c->url.redacted);
		return 1;
	}
	if (strcmp(k, "placeholder") == 0) {
		char p[2] = {c->driver->placeholder, 0};
		lua_pushstring(L, p);
		return 1;
	}
	if (strcmp(k, "server_version") == 0) {
		lua_pushstring(L, c->driver->server_version(c));
		return 1;
	}
	if (strcmp(k, "database") == 0) {
		if (c->url.path)
			lua_pushstring(L, c->url.path);
		else
			lua_pushnil(L);
		return 1;
	}
	luaL_getmetatable(L, CONN_MT);
	lua_getfield(L, -1, "methods");
	lua_getfield(L, -1, k);
	return 1;
}

static int l_tostring(lua_State *L)
{
	lconn *lc = luaL_checkudata(L, 1, CONN_MT);
	if (lc->c)
		lua_pushfstring(L, "<connection %s>", lc->c->url.redacted);
	else
		lua_pushliteral(L, "<connection closed>");
	return 1;
}

/* Registers the connection metatable (called by luamig.core's loader). */
void lm_lua_open_conn(lua_State *L)
{
	static const luaL_Reg methods[] = {
	        {"begin", l_begin},
	        {"commit", l_commit},
	        {"rollback", l_rollback},
	        {"in_transaction", l_in_transaction},
	        {"try_lock", l_try_lock},
	        {"unlock", l_unlock},
	        {"enforce_foreign_keys", l_enforce_foreign_keys},
	        {"close", l_close},
	        {NULL, NULL},
	};
	luaL_newmetatable(L, CONN_MT);
	luaL_newlib(L, methods);
	const struct {
		const char *name;
		int rows, prot;
	} runs[] = {{"execute", 0, 0}, {"pexecute", 0, 1}, {"query", 1, 0}, {"pquery", 1, 1}};
	for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
		lua_pushboolean(L, runs[i].rows);
		lua_pushboolean(L, runs[i].prot);
		lua_pushcclosure(L, l_run, 2);
		lua_setfield(L, -2, runs[i].name);
	}
	lua_setfield(L, -2, "methods");
	lua_pushcfunction(L, l_index);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, l_close);
	lua_setfield(L, -2, "__gc");
	lua_pushcfunction(L, l_close);
	lua_setfield(L, -2, "__close");
	lua_pushcfunction(L, l_tostring);
	lua_setfield(L, -2, "__tostring");
	lua_pop(L, 1);
}
