/*
 * lua_reflect.c — luamig.core.reflect(conn, opts): the schema of a live
 * database as a schema-model metadata value (reflect.h).
 */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "lua_core.h"
#include "lua_host.h"
#include "reflect.h"

#define REFLECT_MT "luamig.reflect"

static int l_reflect_gc(lua_State *L)
{
	lm_reflect_dispose(luaL_checkudata(L, 1, REFLECT_MT));
	return 0;
}

/*
 * core.reflect(conn, opts) -> metadata
 *   opts.schemas       nil (the connection's default schema), true (every
 *                      schema), or an array of names ("" = the default)
 *   opts.include_name  function(name, type_, parent_names) -> bool, called
 *                      while reflecting, as Alembic's include_name
 *   opts.tables        nil or {} (every table), or an array of table names (exact
 *                      spelling): only those are reflected
 *   opts.batch         true: also what a batch rebuild must restore (SQLite;
 *                      see lm_reflect.batch in reflect.h)
 * Misuse raises: conn not an open connection, opts not a table,
 * include_name not a function, schemas neither names nor true, tables not
 * a list of names; so does a database without reflection. A database error
 * raises "reflect: <message>" (password-free); an error in include_name is
 * raised as it is.
 */
int lm_lua_reflect(lua_State *L)
{
	lm_conn *c = lm_lua_check_conn(L, 1);
	if (!lua_isnoneornil(L, 2))
		luaL_checktype(L, 2, LUA_TTABLE);
	lua_settop(L, 2);
	/* 3: include_name or nil */
	if (lua_istable(L, 2)) {
		lua_getfield(L, 2, "include_name");
		if (!lua_isnil(L, -1) && !lua_isfunction(L, -1))
			return luaL_error(L, "reflect: include_name must be a function");
	} else {
		lua_pushnil(L);
	}
	/* 4: the reflection, disposed by __gc if anything below raises */
	lm_reflect *r = lua_newuserdatauv(L, sizeof *r, 0);
	memset(r, 0, sizeof *r);
	if (luaL_newmetatable(L, REFLECT_MT)) {
		lua_pushcfunction(L, l_reflect_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_setmetatable(L, -2);
	r->L = L;
	r->conn = c;
	r->include_fn = lua_isfunction(L, 3) ? 3 : 0;
	if (lua_istable(L, 2)) {
		lua_getfield(L, 2, "schemas");
		if (lua_isboolean(L, -1)) {
			r->all_schemas = lua_toboolean(L, -1);
		} else if (lua_istable(L, -1)) {
			lua_Integer n = luaL_len(L, -1);
			for (lua_Integer i = 1; i <= n; i++) {
				lua_rawgeti(L, -1, i);
				if (lua_type(L, -1) != LUA_TSTRING)
					return luaL_error(L, "reflect: schemas[%d] is not a name",
					                  (int)i);
				lm_strv_push(&r->schemas, lua_tostring(L, -1));
				lua_pop(L, 1);
			}
		} else if (lua_type(L, -1) == LUA_TSTRING) {
			lm_strv_push(&r->schemas, lua_tostring(L, -1));
		} else if (!lua_isnil(L, -1)) {
			return luaL_error(L, "reflect: schemas must be a list of names or true");
		}
		lua_pop(L, 1);
		lua_getfield(L, 2, "tables");
		if (lua_istable(L, -1)) {
			lua_Integer n = luaL_len(L, -1);
			for (lua_Integer i = 1; i <= n; i++) {
				lua_rawgeti(L, -1, i);
				if (lua_type(L, -1) != LUA_TSTRING)
					return luaL_error(L, "reflect: tables[%d] is not a name",
					                  (int)i);
				lm_strv_push(&r->tables, lua_tostring(L, -1));
				lua_pop(L, 1);
			}
		} else if (!lua_isnil(L, -1)) {
			return luaL_error(L, "reflect: tables must be a list of names");
		}
		lua_pop(L, 1);
		lua_getfield(L, 2, "batch");
		r->batch = lua_toboolean(L, -1);
		lua_pop(L, 1);
	}
	if (!c->driver->reflect)
		return luaL_error(L, "reflect: no reflection for %s", c->driver->name);
	if (c->driver->reflect(r) != 0) {
		lm_reflect_dispose(r);
		lua_pushliteral(L, "reflect: ");
		lm_lua_push_redacted(L, lm_error_get());
		lua_concat(L, 2);
		return lua_error(L);
	}
	lm_reflect_dispose(r);
	return 1;
}
