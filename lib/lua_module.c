/*
 * lua_module.c — luamig.so, the Lua C module: require "luamig" from a
 * plain lua5.4 process. Each function runs one command through the
 * library engine (core/library.c) in a private Lua state, and copies the
 * command's value (plain data) into the caller's state:
 *
 *   luamig.upgrade{ config = "luamig.ini", revision = "head" } -> steps
 *   luamig.downgrade{ config =, revision = } / luamig.stamp{ ... } -> steps
 *   luamig.current{ config = } -> { { revision, is_head, message }, ... }
 *   luamig.heads{ ... } / luamig.history{ ... } -> revisions
 *   luamig.check{ ... } -> { "difference", ... }
 *   luamig.revision{ config =, message =, autogenerate = , rev_id = } -> { revision, path, message
 * } luamig.inspect{ config = | url = } -> { dialect, default_schema, tables = { ... } }
 *   luamig.version
 *
 * Every function takes one table; optional fields: section (-n NAME), log
 * = function(stream, text) (what luamig would print; dropped without it;
 * an error in it is ignored). A failure of the command (a bad config, a
 * failing migration, a database error) returns nil and the one-line
 * message the binary prints after "FAILED: "; misuse (no table, no
 * config, a field of the wrong type) raises.
 *
 * The module uses the host's Lua (it links no Lua library of its own):
 * its private states are made by the same Lua the host runs.
 */
#include <lauxlib.h>
#include <lua.h>
#include <string.h>

#include "library.h"
#include "lua_host.h"

int luaopen_luamig(lua_State *L);

/* What the sink needs to call the caller's log function. */
typedef struct host_log {
	lua_State *L;
	int fn; /* stack index of the log function in L, 0 when none */
	const char *stream;
	const char *text;
	size_t len;
} host_log;

/* call_log(fn, h): fn(stream, text). */
static int call_log(lua_State *L)
{
	host_log *h = lua_touserdata(L, 2);
	lua_settop(L, 1);
	lua_pushstring(L, h->stream);
	lua_pushlstring(L, h->text, h->len);
	lua_call(L, 2, 0);
	return 0;
}

static void sink(void *ud, const char *stream, const char *text, size_t len)
{
	host_log *h = ud;
	if (!h->fn || !lua_checkstack(h->L, 4))
		return;
	h->stream = stream;
	h->text = text;
	h->len = len;
	/* a light C function, a copy and a light userdata: nothing here
	 * allocates before the call is protected */
	lua_pushcfunction(h->L, call_log);
	lua_pushvalue(h->L, h->fn);
	lua_pushlightuserdata(h->L, h);
	if (lua_pcall(h->L, 2, 0, 0) != LUA_OK)
		lua_pop(h->L, 1);
}

/* Copies the plain value at idx of from onto to's stack: nil, booleans,
 * numbers, strings and tables of them (string and number keys); anything
 * else becomes nil. May raise in to (out of memory). */
static void copy_value(lua_State *from, int idx, lua_State *to, int depth)
{
	luaL_checkstack(to, 3, "luamig: result too deep");
	switch (lua_type(from, idx)) {
	case LUA_TBOOLEAN:
		lua_pushboolean(to, lua_toboolean(from, idx));
		break;
	case LUA_TNUMBER:
		if (lua_isinteger(from, idx))
			lua_pushinteger(to, lua_tointeger(from, idx));
		else
			lua_pushnumber(to, lua_tonumber(from, idx));
		break;
	case LUA_TSTRING: {
		size_t len;
		const char *s = lua_tolstring(from, idx, &len);
		lua_pushlstring(to, s, len);
		break;
	}
	case LUA_TTABLE:
		if (depth > 32 || !lua_checkstack(from, 3)) {
			lua_pushnil(to);
			break;
		}
		idx = lua_absindex(from, idx);
		lua_newtable(to);
		lua_pushnil(from);
		while (lua_next(from, idx)) {
			int kt = lua_type(from, -2);
			if (kt == LUA_TSTRING || kt == LUA_TNUMBER) {
				copy_value(from, -2, to, depth + 1);
				copy_value(from, -1, to, depth + 1);
				lua_rawset(to, -3);
			}
			lua_pop(from, 1);
		}
		break;
	default:
		lua_pushnil(to);
	}
}

/* A string field of the options table (argument 1), or NULL; raises when
 * it is there and not a string. */
static const char *opt_string(lua_State *L, const char *fname, const char *k, int required)
{
	lua_getfield(L, 1, k);
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		if (required)
			luaL_error(L, "luamig.%s: the field '%s' is required", fname, k);
		return NULL;
	}
	if (lua_type(L, -1) != LUA_TSTRING)
		luaL_error(L, "luamig.%s: the field '%s' must be a string", fname, k);
	const char *s = lua_tostring(L, -1);
	lua_pop(L, 1); /* the options table keeps it alive */
	return s;
}

static void dispose_call(void *block)
{
	lm_lib_dispose(block);
}

/* luamig.<command>(opts): the command is the upvalue. */
static int l_command(lua_State *L)
{
	const char *command = lua_tostring(L, lua_upvalueindex(1));
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	const char *config = opt_string(L, command, "config", 1);
	const char *section = opt_string(L, command, "section", 0);
	int needs_rev = strcmp(command, "downgrade") == 0 || strcmp(command, "stamp") == 0;
	const char *revision = NULL;
	if (needs_rev || strcmp(command, "upgrade") == 0)
		revision = opt_string(L, command, "revision", needs_rev);
	const char *message = opt_string(L, command, "message", 0);
	const char *rev_id = opt_string(L, command, "rev_id", 0);
	const char *url = opt_string(L, command, "url", 0);
	lua_getfield(L, 1, "autogenerate");
	int autogenerate = lua_toboolean(L, -1);
	lua_getfield(L, 1, "log"); /* index 3 */
	if (!lua_isnil(L, 3) && !lua_isfunction(L, 3))
		return luaL_error(L, "luamig.%s: the field 'log' must be a function", command);
	host_log *hl = lua_newuserdatauv(L, sizeof *hl, 0); /* index 4 */
	memset(hl, 0, sizeof *hl);
	hl->L = L;
	hl->fn = lua_isfunction(L, 3) ? 3 : 0;

	lm_lib_call *c = lm_lua_scratch(L, sizeof *c, dispose_call); /* index 5 */
	c->opts.command = command;
	c->opts.config = config;
	c->opts.name = section;
	c->opts.message = message;
	c->opts.rev_id = rev_id;
	c->opts.autogenerate = autogenerate;
	c->url = url;
	c->sink = sink;
	c->sink_ud = hl;
	if (revision || strcmp(command, "upgrade") == 0)
		lm_strv_push(&c->opts.positional, revision ? revision : "head");
	if (lm_lib_run(c) != 0) {
		lua_pushnil(L);
		lm_lua_push_redacted(L, lm_error_get());
		lm_lua_scratch_done(c);
		/* after the private state is closed: a finalizer may have set it */
		lm_error_clear();
		luaL_gsub(L, lua_tostring(L, -1), "\n", " ");
		lua_remove(L, -2);
		return 2;
	}
	copy_value(c->L, -1, L, 0);
	lm_lua_scratch_done(c);
	lm_error_clear();
	return 1;
}

int luaopen_luamig(lua_State *L)
{
	static const char *const commands[] = {"upgrade", "downgrade", "stamp",
	                                       "current", "heads",     "history",
	                                       "check",   "revision",  "inspect"};
	lua_createtable(L, 0, 10);
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		lua_pushstring(L, commands[i]);
		lua_pushcclosure(L, l_command, 1);
		lua_setfield(L, -2, commands[i]);
	}
	lua_pushstring(L, LUAMIG_VERSION);
	lua_setfield(L, -2, "version");
	return 1;
}
