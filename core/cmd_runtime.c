/*
 * cmd_runtime.c — the commands that run env.lua (upgrade, downgrade,
 * current, stamp, check, validate, ensure_version, lint; and, for the listings of
 * cmd_list.c that need them, the database's heads): the command, as a Lua
 * table, handed to the Lua runtime
 * (lua/luamig/runtime.lua), which runs the user's env.lua as Alembic runs
 * env.py.
 */
#include <lauxlib.h>
#include <lua.h>
#include <string.h>

#include "cmd.h"
#include "lua_core.h"
#include "lua_host.h"

static void set_str(lua_State *L, const char *k, const char *v)
{
	if (!v)
		return;
	lua_pushstring(L, v);
	lua_setfield(L, -2, k);
}

static void set_bool(lua_State *L, const char *k, int v)
{
	lua_pushboolean(L, v);
	lua_setfield(L, -2, k);
}

static void set_list(lua_State *L, const char *k, const lm_strv *v)
{
	lua_createtable(L, (int)v->n, 0);
	for (size_t i = 0; i < v->n; i++) {
		lua_pushstring(L, v->v[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_setfield(L, -2, k);
}

/* Pushes the command as runtime.main expects it. */
void lm_cmd_push_command(lua_State *L, const lm_opts *o, lm_config *cfg, const lm_script_dir *sd)
{
	lua_createtable(L, 0, 24);
	set_str(L, "command", o->command);
	set_list(L, "positional", &o->positional);
	set_list(L, "x", &o->x);
	set_bool(L, "quiet", o->quiet);
	set_bool(L, "raiseerr", o->raiseerr);
	set_bool(L, "sql", o->sql);
	set_str(L, "tag", o->tag);
	set_bool(L, "verbose", o->verbose);
	set_str(L, "rev_range", o->rev_range);
	set_bool(L, "indicate_current", o->indicate_current);
	set_bool(L, "purge", o->purge);
	set_bool(L, "check_heads", o->check_heads);
	set_bool(L, "no_lock", o->no_lock);
	set_bool(L, "json", o->json);
	set_bool(L, "resync", o->resync);
	set_bool(L, "downgrade", o->downgrade);
	set_bool(L, "dry_run", o->dry_run);
	set_bool(L, "data", o->data);
	set_bool(L, "schema", o->schema);
	set_bool(L, "no_checkpoints", o->no_checkpoints);
	set_bool(L, "prune", o->prune);
	set_bool(L, "autogenerate", o->autogenerate);
	set_bool(L, "allow_empty", o->allow_empty);
	set_str(L, "message", o->message);
	set_str(L, "log_revision", o->log_revision);
	set_str(L, "since", o->since);
	set_str(L, "until", o->until);
	set_bool(L, "failed", o->failed);
	set_bool(L, "succeeded", o->succeeded);
	set_str(L, "fleet", o->fleet);
	set_str(L, "parallel", o->parallel);
	set_bool(L, "fail_fast", o->fail_fast);
	set_list(L, "child_args", &o->child_args);
	set_str(L, "config_file", lm_config_path(cfg));
	set_str(L, "section", lm_cli_section(o));
	set_str(L, "script_location", sd->dir);
}

/* The command the user typed when it only reads the database (lm_host's
 * read_only): current, check, log, validate, lint, and the commands that ask
 * for the database's heads (history -i, show current, edit current); else
 * NULL. (A --dry-run may start from no database at all.) */
static const char *read_only_command(const lm_opts *o, const char *command)
{
	static const char *const readers[] = {"current", "check", "log", "validate", "lint"};
	if (command && strcmp(command, "database_heads") == 0)
		return o->command;
	for (size_t i = 0; i < sizeof readers / sizeof readers[0]; i++)
		if (strcmp(o->command, readers[i]) == 0)
			return o->command;
	return NULL;
}

void lm_cmd_push_main(lua_State *L, lm_host *host, const lm_opts *o, lm_config *cfg,
                      const lm_script_dir *sd)
{
	lm_lua_set_host(L, host);
	lua_getglobal(L, "require");
	lua_pushliteral(L, "luamig.runtime");
	lua_call(L, 1, 1);
	lua_getfield(L, -1, "main");
	lm_cmd_push_command(L, o, cfg, sd);
}

/* What call_main hands its protected first half. */
typedef struct main_call {
	lm_host *host;
	lm_opts *o;
	lm_config *cfg;
	lm_script_dir *sd;
	const char *command;
} main_call;

/* Lends the host, requires the runtime, and pushes runtime.main and the
 * command table (call_main's first half, under protection: each of these
 * may raise out of memory). */
static int prepare_main(lua_State *L)
{
	main_call *mc = lua_touserdata(L, 1);
	lm_cmd_push_main(L, mc->host, mc->o, mc->cfg, mc->sd);
	if (mc->command) {
		lua_pushstring(L, mc->command);
		lua_setfield(L, -2, "command");
	}
	return 2;
}

/* Calls runtime.main(cmd) with the host (cfg, sd) lent to luamig.core;
 * command, when not NULL, replaces o->command in cmd. Leaves runtime.main's
 * result on the stack (above top, which the caller restores). Returns 0,
 * or -1 with the error slot set. Every Lua API call that may raise runs
 * under lm_lua_pcall, so that no error unwinds past the command, which
 * holds cfg and sd. */
static int call_main(lua_State *L, lm_opts *o, lm_config *cfg, lm_script_dir *sd,
                     const char *command)
{
	/* (lm_cmd_runtime's command, run whole: the map is not read after it) */
	lm_host host = {cfg, lm_cli_section(o), sd, read_only_command(o, command), command == NULL};
	main_call mc = {&host, o, cfg, sd, command};
	lua_pushcfunction(L, prepare_main);
	lua_pushlightuserdata(L, &mc);
	int rc = lm_lua_pcall(L, 1, 2);
	if (rc == 0)
		rc = lm_lua_pcall(L, 1, 1);
	lm_lua_set_host(L, NULL);
	return rc;
}

/* Hands the command to lua/luamig/runtime.lua: runtime.main(cmd). */
int lm_cmd_runtime(lua_State *L, lm_opts *o)
{
	lm_config *cfg = NULL;
	lm_script_dir sd;
	int rc = -1;
	int top = lua_gettop(L);
	if (lm_cli_open_scripts(o, &cfg, &sd) != 0)
		goto done;
	rc = call_main(L, o, cfg, &sd, NULL);
	if (rc == 0 && lua_isinteger(L, -1))
		rc = (int)lua_tointeger(L, -1); /* an exit status the runtime chose */
done:
	lua_settop(L, top);
	lm_script_dir_end(&sd);
	lm_config_free(cfg);
	return rc;
}

int lm_cmd_database_heads(lua_State *L, lm_opts *o, lm_config *cfg, lm_script_dir *sd, lm_strv *out)
{
	int top = lua_gettop(L);
	int rc = call_main(L, o, cfg, sd, "database_heads");
	if (rc == 0) {
		if (!lua_istable(L, -1)) {
			lm_error_set("the runtime gave no list of heads");
			rc = -1;
		} else {
			lua_Integer n = luaL_len(L, -1);
			for (lua_Integer i = 1; i <= n; i++) {
				lua_rawgeti(L, -1, i);
				if (lua_type(L, -1) == LUA_TSTRING)
					lm_strv_push(out, lua_tostring(L, -1));
				lua_pop(L, 1);
			}
		}
	}
	lua_settop(L, top);
	return rc;
}
