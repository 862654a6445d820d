/*
 * library.c — one command of libluamig or of luamig.so, run with the
 * binary's own code in a private Lua state: the state is opened as main.c
 * opens the binary's (lm_lua_open, luamig.core), the config and the script
 * directory are loaded and lent as cmd_runtime.c lends them, and the
 * command goes to lua/luamig/library.lua, which runs luamig.commands and
 * returns a value instead of printing. `revision` writes its file with the
 * binary's revision command (cmd_revision.c), quietly.
 *
 * A private state per call: the caller's Lua state (luamig.so's host) sees
 * nothing of luamig's modules, and a failed call leaves nothing behind.
 */
#include "library.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "lua_core.h"
#include "lua_host.h"
#include "revmap.h"
#include "signals.h"
#include "template.h"
#include "util.h"

/* sink(stream, text): library.lua's output, to the caller's sink or
 * nowhere. */
static int l_sink(lua_State *L)
{
	lm_lib_call *c = lua_touserdata(L, lua_upvalueindex(1));
	const char *stream = luaL_checkstring(L, 1);
	size_t len;
	const char *text = luaL_checklstring(L, 2, &len);
	if (c->sink)
		c->sink(c->sink_ud, stream, text, len);
	return 0;
}

/* The state's libraries, luamig.core, and library.open(sink): from here on
 * nothing the state runs writes to stdout or stderr. */
static int open_state(lua_State *L)
{
	lm_lib_call *c = lua_touserdata(L, 1);
	lm_lua_open(L);
	lm_lua_preload_core(L);
	lua_getglobal(L, "require");
	lua_pushliteral(L, "luamig.library");
	lua_call(L, 1, 1);
	lua_getfield(L, -1, "open");
	lua_pushlightuserdata(L, c);
	lua_pushcclosure(L, l_sink, 1);
	lua_call(L, 1, 0);
	return 0;
}

/* The commands that only read the database (lm_host's read_only). */
static const char *read_only(const char *command)
{
	static const char *const readers[] = {"current", "heads", "history", "check", "inspect"};
	for (size_t i = 0; i < sizeof readers / sizeof readers[0]; i++)
		if (strcmp(command, readers[i]) == 0)
			return command;
	return NULL;
}

typedef struct run_args {
	lm_lib_call *c;
	lm_host *host;
	const char *command;
} run_args;

/* library.run(cmd), with the host lent; leaves the value on the stack. */
static int run_library(lua_State *L)
{
	run_args *a = lua_touserdata(L, 1);
	lm_lib_call *c = a->c;
	lm_lua_set_host(L, a->host);
	lua_getglobal(L, "require");
	lua_pushliteral(L, "luamig.library");
	lua_call(L, 1, 1);
	lua_getfield(L, -1, "run");
	lm_cmd_push_command(L, &c->opts, c->cfg, &c->sd);
	lua_pushstring(L, a->command);
	lua_setfield(L, -2, "command");
	if (c->url) {
		lua_pushstring(L, c->url);
		lua_setfield(L, -2, "url");
	}
	lua_pushboolean(L, c->json);
	lua_setfield(L, -2, "json");
	if (c->opts.rev_id) {
		lua_pushstring(L, c->opts.rev_id);
		lua_setfield(L, -2, "rev_id");
	}
	lua_call(L, 1, 1);
	return 1;
}

int lm_lib_run(lm_lib_call *c)
{
	lm_error_clear();
	lm_signals_reset();
	c->L = luaL_newstate();
	if (!c->L) {
		lm_error_set("cannot create the Lua state: not enough memory");
		return -1;
	}
	lua_State *L = c->L;
	lua_pushcfunction(L, open_state);
	lua_pushlightuserdata(L, c);
	if (lm_lua_pcall(L, 1, 0) != 0)
		return -1;
	const char *command = c->opts.command;
	c->opts.quiet = 1;
	if (strcmp(command, "revision") == 0) {
		if (!c->opts.rev_id) {
			c->rev_id = lm_rev_id();
			c->opts.rev_id = c->rev_id;
		}
		if (lm_cmd_revision(L, &c->opts) != 0)
			return -1;
		command = "revision_info"; /* the file written, read back */
	}
	if (lm_cli_open_scripts(&c->opts, &c->cfg, &c->sd) != 0)
		return -1;
	lm_host host = {c->cfg, lm_cli_section(&c->opts), &c->sd, read_only(command), 0};
	run_args a = {c, &host, command};
	lua_pushcfunction(L, run_library);
	lua_pushlightuserdata(L, &a);
	int rc = lm_lua_pcall(L, 1, 1);
	lm_lua_set_host(L, NULL);
	return rc;
}

void lm_lib_dispose(lm_lib_call *c)
{
	if (!c)
		return;
	if (c->L)
		lua_close(c->L);
	c->L = NULL;
	lm_script_dir_dispose(&c->sd);
	memset(&c->sd, 0, sizeof c->sd);
	lm_config_free(c->cfg);
	c->cfg = NULL;
	lm_strv_dispose(&c->opts.positional);
	free(c->rev_id);
	c->rev_id = NULL;
	lm_revmap_clear_error();
}
