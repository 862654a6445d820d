/*
 * cmd.h — the commands, one function each, run by lm_main (cli.c) with the
 * program's Lua state (main.c's; opened, and left as found) and the parsed
 * command line. Each returns 0, an exit status the Lua runtime chose, or -1
 * with the error slot set.
 *
 * Commands that only read revision files (heads, branches, history, show,
 * revision, merge, init, ...) run in C; commands that touch the database
 * (upgrade, downgrade, current, stamp, ...) hand over to the Lua runtime
 * (cmd_runtime.c), which runs the user's env.lua as Alembic runs env.py.
 */
#ifndef LM_CMD_H
#define LM_CMD_H

#include <lua.h>

#include "cli.h"
#include "config.h"
#include "lua_core.h"
#include "script.h"

/* cmd_init.c */
int lm_cmd_init(lua_State *L, lm_opts *o);
int lm_cmd_list_templates(lua_State *L, lm_opts *o);

/* cmd_revision.c */
int lm_cmd_revision(lua_State *L, lm_opts *o);
int lm_cmd_merge(lua_State *L, lm_opts *o);

/* cmd_list.c */
int lm_cmd_heads(lua_State *L, lm_opts *o);
int lm_cmd_branches(lua_State *L, lm_opts *o);
int lm_cmd_history(lua_State *L, lm_opts *o);
int lm_cmd_show(lua_State *L, lm_opts *o);
int lm_cmd_edit(lua_State *L, lm_opts *o);

/* cmd_convert.c: Alembic revision files to Lua (lua/luamig/convert.lua). */
int lm_cmd_convert(lua_State *L, lm_opts *o);

/* cmd_runtime.c: every command that runs env.lua. */
int lm_cmd_runtime(lua_State *L, lm_opts *o);
/* The database's current heads, for a C command that needs them (history
 * -i or with "current" in its range, show current, edit current): env.lua
 * runs, as for `current`, with the opened cfg and sd, and appends the heads
 * to out. 0, or -1 with the error slot set. */
int lm_cmd_database_heads(lua_State *L, lm_opts *o, lm_config *cfg, lm_script_dir *sd,
                          lm_strv *out);
/* Pushes the command as the runtime's main expects it (a table). */
void lm_cmd_push_command(lua_State *L, const lm_opts *o, lm_config *cfg, const lm_script_dir *sd);
/* Lends host to luamig.core, requires the runtime and pushes runtime.main
 * and the command table (lm_cmd_push_command). May raise (out of memory):
 * call it from a function run under lm_lua_pcall. */
void lm_cmd_push_main(lua_State *L, lm_host *host, const lm_opts *o, lm_config *cfg,
                      const lm_script_dir *sd);

#endif
