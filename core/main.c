/*
 * main.c — argv to one protected call of the whole program; one report of
 * any failure, and the exit status.
 *
 * As in Lua's own lua.c, main only makes the Lua state and calls pmain
 * under lm_lua_pcall (with its traceback handler): opening the libraries,
 * parsing argv and running the command all happen inside that call, in
 * that one state. So every failure reaches the report below the same way:
 * a command's -1 with the error slot set, or a Lua error that escapes the
 * command (out of memory in the Lua API included), which lm_lua_pcall puts
 * in the error slot.
 *
 * Commands call into Lua only through lm_lua_pcall (which itself allocates
 * nothing before its call is protected), so that they free the C resources
 * they hold (config, script directory) and return -1: no error, out of
 * memory included, unwinds past a command. Inside Lua, C functions keep
 * what they allocate in userdata (lm_lua_scratch), so that an error
 * unwinding past them leaks nothing either.
 */
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>

#include "arena.h"
#include "cli.h"
#include "driver.h"
#include "fault.h"
#include "lua_core.h"
#include "lua_host.h"
#include "signals.h"
#include "util.h"

/* The program, protected: pmain(argc, argv) -> the exit status, or -1
 * when the command failed with the error slot set. */
static int pmain(lua_State *L)
{
	int argc = (int)lua_tointeger(L, 1);
	char **argv = lua_touserdata(L, 2);
	lm_lua_open(L);
	lm_lua_preload_core(L);
	lua_pushinteger(L, lm_main(L, argc, argv));
	return 1;
}

/* The one report: Alembic's "FAILED: <message>", on one line and
 * password-free; with --raiseerr (LUAMIG_TRACEBACK), as many lines as the
 * message and its traceback have. */
static void report(const char *message)
{
	char *msg = lm_redact(message);
	for (char *p = msg; *p && !getenv("LUAMIG_TRACEBACK"); p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	fprintf(stderr, "FAILED: %s\n", msg);
	free(msg);
}

int main(int argc, char **argv)
{
	lm_heap_prefer_huge_pages();
#ifndef LM_ASAN
	lm_exit_reclaims = 1;
#endif
	if (lm_fault_init() != 0) {
		report(lm_error_get());
		lm_error_clear();
		return LM_EXIT_USAGE;
	}
	lua_State *L = luaL_newstate();
	if (!L) {
		report("cannot create the Lua state: not enough memory");
		return LM_EXIT_FAILURE;
	}
	/* the command's Lua heap in an arena of its own (arena.h); what
	 * luaL_newstate allocated so far stays malloc's, by address */
	lm_arena *arena = lm_arena_new();
	if (arena)
		lua_setallocf(L, lm_arena_lua_alloc, arena);
	lm_fault_lua_state(L);
	lua_pushcfunction(L, pmain);
	lua_pushinteger(L, argc);
	lua_pushlightuserdata(L, argv);
	int status = lm_lua_pcall(L, 2, 1) == 0 ? (int)lua_tointeger(L, -1) : -1;
	/* Closing runs what is left to finalize (an unclosed connection)
	 * before the report, as when each command closed a state of its own. */
	lua_close(L);
	lm_arena_free(arena);
	if (status < 0) {
		fflush(stdout);
		report(lm_error_get());
		status = LM_EXIT_FAILURE;
	}
	lm_error_clear();
	/* A run stopped by SIGINT or SIGTERM has said so above; now luamig
	 * dies by that signal, as a program that did not catch it would: the
	 * shell shows 130 or 143, and a shell script that the same ^C reached
	 * stops too (it only does when its child died by the signal). */
	return lm_signals_exit(status);
}
