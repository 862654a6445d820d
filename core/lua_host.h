/*
 * lua_host.h — the embedded Lua: a state with luamig's modules reachable by
 * require (from the binary, or from the source tree when LUAMIG_LUA_DIR
 * is set, for development), and protected calls that turn any Lua error
 * into the error slot. The luamig.core C module is lua_core.h's.
 */
#ifndef LM_LUA_HOST_H
#define LM_LUA_HOST_H

#include <lua.h>
#include <stddef.h>

/* Opens a new state (main.c makes it, and calls this under its protected
 * call): the standard libraries and the embedded-module searcher. Raises
 * on out-of-memory. */
void lm_lua_open(lua_State *L);

/* Calls the function below nargs arguments under a traceback handler
 * (which adds the traceback with --raiseerr). On error, puts the message
 * in the error slot (a table error object's message field) and returns
 * -1; either way the function and arguments are popped. */
int lm_lua_pcall(lua_State *L, int nargs, int nresults);

/* An embedded file of lua/ ("templates/generic/env.lua"), or NULL. With
 * LUAMIG_LUA_DIR set, read from that folder instead (caller must free
 * *to_free then). */
const char *lm_lua_file(const char *name, size_t *len, char **to_free);

/* Raises the error slot's message as it is (a Lua error; never returns):
 * these messages are for the user (Alembic's wording), so no "file:line:"
 * of luamig's own Lua is added. */
int lm_lua_raise_slot(lua_State *L);

/* C memory that no Lua error can leak. Pushes a userdata holding a zeroed
 * block of size bytes and returns the block; when the userdata is
 * collected (an error unwound past the C function that made it), its __gc
 * runs dispose(block), unless lm_lua_scratch_done ran it already. A C
 * function that holds allocations across Lua API calls that may raise (out
 * of memory in any lua_push*, a bad argument) keeps them in such a block,
 * made before them, as lauxlib keeps a growing buffer in a box. Raises
 * (out of memory) only before anything is owned. */
void *lm_lua_scratch(lua_State *L, size_t size, void (*dispose)(void *block));
/* Runs the block's dispose now, and never again; the userdata stays. */
void lm_lua_scratch_done(void *block);

/* Pushes text with every password redacted (lm_redact); an out-of-memory
 * error while pushing leaks nothing. */
void lm_lua_push_redacted(lua_State *L, const char *text);

#endif
