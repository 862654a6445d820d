/*
 * lua_core.h — luamig.core, the C module the Lua side requires: what it
 * asks of the C engine (config, revisions and plans, connections,
 * reflection, small system utilities). Each function's contract sits above
 * its definition: arguments, results, and what raises versus what returns
 * nil (or nil, message).
 */
#ifndef LM_LUA_CORE_H
#define LM_LUA_CORE_H

#include <lua.h>

#include "config.h"
#include "driver.h"
#include "script.h"

/* What a command lends luamig.core: the config, its section, the script
 * directory and revision map. Not owned. */
typedef struct lm_host {
	lm_config *config;
	const char *section;
	lm_script_dir *script;
	/* The command, when it only reads the database (current, check, log, validate,
	 * and the database's heads for history/show/edit): core.connect then
	 * refuses a database file that does not exist instead of creating it.
	 * NULL for the others. */
	const char *read_only;
	/* 1 when nothing in C reads script->map after the Lua call (a command
	 * run whole by the runtime): only then may core.release_revisions free
	 * it. 0 where C goes on with the map (history after env.lua, revision
	 * with env.lua, the library). (During the call, the C functions that
	 * hold the map run no Lua but finalizers, from which it refuses.) */
	int map_releasable;
} lm_host;

/* Puts luamig.core's loader in package.preload (lua_core.c). */
void lm_lua_preload_core(lua_State *L);
/* Lends the state what a command loaded (host), for luamig.core to read
 * (may raise out of memory: lend under a protected call); NULL takes it
 * back, before the command frees it, and never raises. */
void lm_lua_set_host(lua_State *L, lm_host *host);
/* What the command lent the state, or NULL. */
lm_host *lm_lua_host(lua_State *L);

/* Connections (lua_conn.c): core.connect, the connection metatable that
 * the loader registers, and the lm_conn of the connection at idx (raises
 * when it is not a connection or is closed). */
int lm_lua_connect(lua_State *L);
/* core.set_sql_echo(fn | nil): see lua_conn.c. */
int lm_lua_set_sql_echo(lua_State *L);
void lm_lua_open_conn(lua_State *L);
lm_conn *lm_lua_check_conn(lua_State *L, int idx);

/* core.reflect (lua_reflect.c). */
int lm_lua_reflect(lua_State *L);

/* core.spawn and core.wait_child (lua_process.c): child luamigs, for fleets. */
int lm_lua_spawn(lua_State *L);
int lm_lua_wait_child(lua_State *L);

#endif
