/*
 * library.h — the engine of libluamig (include/luamig.h, lib/capi.c) and of
 * the Lua module luamig.so (lib/lua_module.c): one command run in a private
 * Lua state with the binary's own code (cmd_runtime.c's command table,
 * lua/luamig/library.lua over luamig.commands), its value left in that
 * state for the caller to convert.
 *
 * Not thread-safe: the error slot (util.h) is one per process, so one call
 * at a time per process.
 */
#ifndef LM_LIBRARY_H
#define LM_LIBRARY_H

#include <lua.h>
#include <stddef.h>

#include "cli.h"
#include "config.h"
#include "script.h"

/* Where the output goes that the binary would have printed: stream is
 * "stdout" or "stderr", text is len bytes (not NUL-terminated). */
typedef void (*lm_lib_sink)(void *ud, const char *stream, const char *text, size_t len);

/* One call. The caller zeroes it, fills opts (command, config, name,
 * positional, message, rev_id, autogenerate, purge), url (inspect), json
 * (inspect as JSON text) and sink, then calls lm_lib_run; opts' strings are
 * the caller's and must outlive the call, opts.positional is owned by the
 * call (lm_lib_dispose frees it). */
typedef struct lm_lib_call {
	lm_opts opts;
	const char *url;
	int json;
	lm_lib_sink sink;
	void *sink_ud;
	/* set by lm_lib_run */
	lua_State *L; /* the private state; the command's value on its top */
	lm_config *cfg;
	lm_script_dir sd;
	char *rev_id; /* revision: the id of the new file */
} lm_lib_call;

/* Runs the call's command. 0 with its value on top of c->L, or -1 with the
 * error slot set. Either way lm_lib_dispose(c) must follow. */
int lm_lib_run(lm_lib_call *c);
/* Closes the private state and frees what the call holds; NULL-safe, and
 * safe to call twice. */
void lm_lib_dispose(lm_lib_call *c);

#endif
