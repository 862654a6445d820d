/*
 * lua_process.c — luamig.core's child processes, for fleets (luamig.fleet):
 * the parent luamig runs each target in a luamig of its own, re-executing
 * its own binary, so that every target has its own connection, lock,
 * transaction and Lua state, and a crash or a signal in one stays there.
 *
 * A child's settings travel in its environment, never in its argv (which
 * ps shows to every user): a target's URL may hold a password. Its stdout
 * and stderr go to files the parent names, read once the child is done, so
 * that no pipe can fill up and stall it. A child gets SIGTERM when the
 * parent dies (Linux), so that killing the fleet's luamig stops its
 * targets as Ctrl-C would: each rolls back and releases its lock.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <lua.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <unistd.h>

#include "lua_core.h"
#include "util.h"

extern char **environ;

/* The binary to re-execute: /proc/self/exe where there is one, else the
 * name "luamig" looked up in PATH. */
static const char *self_exe(void)
{
	return access("/proc/self/exe", X_OK) == 0 ? "/proc/self/exe" : "luamig";
}

/* Opens path for a child's output (created or truncated, mode 0600): the
 * output may quote its database. -1 on failure. */
static int open_output(const char *path)
{
	return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
}

/*
 * core.spawn(args, env, stdout_path, stderr_path) -> pid
 *   Starts this luamig binary again with the arguments args (a list of
 *   strings, argv[0] left out) and this process's environment plus env (a
 *   table of name = value strings; a value replaces an inherited one), its
 *   stdout and stderr written to the two files (created or truncated).
 *   Raises when an argument is not a string; returns nil, message when the
 *   files cannot be opened or fork fails. The child gets SIGTERM if this
 *   process dies first (Linux). The child's exec failing shows as
 *   exit status 127 with the reason on its stderr.
 */
int lm_lua_spawn(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	luaL_checktype(L, 2, LUA_TTABLE);
	const char *out_path = luaL_checkstring(L, 3);
	const char *err_path = luaL_checkstring(L, 4);
	lua_Integer n = luaL_len(L, 1);
	/* Everything the child needs is built before fork: after it, only
	 * async-signal-safe calls. The arrays live in Lua userdata, freed by
	 * the collector whatever raises. */
	const char **argv = lua_newuserdatauv(L, sizeof *argv * (size_t)(n + 2), 0);
	argv[0] = "luamig";
	for (lua_Integer i = 1; i <= n; i++) {
		lua_rawgeti(L, 1, i);
		argv[i] = luaL_checkstring(L, -1);
		lua_pop(L, 1); /* the string stays alive in args */
	}
	argv[n + 1] = NULL;
	size_t nenv = 0, nadd = 0;
	while (environ[nenv])
		nenv++;
	lua_pushnil(L);
	while (lua_next(L, 2)) {
		nadd++;
		lua_pop(L, 1);
	}
	const char **envp = lua_newuserdatauv(L, sizeof *envp * (nenv + nadd + 1), 0);
	/* the "name=value" strings, anchored in a table on the stack */
	lua_createtable(L, (int)nadd, 0);
	int strings = lua_gettop(L);
	size_t k = 0;
	lua_pushnil(L);
	while (lua_next(L, 2)) {
		const char *name = luaL_checkstring(L, -2);
		const char *value = luaL_checkstring(L, -1);
		envp[k] = lua_pushfstring(L, "%s=%s", name, value);
		lua_rawseti(L, strings, (lua_Integer)++k);
		lua_pop(L, 1);
	}
	for (size_t i = 0; environ[i]; i++) {
		size_t len = strcspn(environ[i], "=");
		int replaced = 0;
		for (size_t j = 0; j < nadd; j++)
			if (strncmp(envp[j], environ[i], len + 1) == 0)
				replaced = 1;
		if (!replaced)
			envp[k++] = environ[i];
	}
	envp[k] = NULL;
	int out = open_output(out_path);
	int err = out >= 0 ? open_output(err_path) : -1;
	pid_t pid = -1;
	pid_t parent = getpid();
	if (out >= 0 && err >= 0) {
		fflush(stdout);
		fflush(stderr);
		pid = fork();
	}
	if (pid == 0) {
#ifdef __linux__
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent) /* the parent died before prctl */
			_exit(128 + SIGTERM);
#else
		(void)parent;
#endif
		dup2(out, 1);
		dup2(err, 2);
		execve(self_exe(), (char *const *)argv, (char *const *)envp);
		if (errno == ENOENT)
			execvp("luamig", (char *const *)argv);
		const char msg[] = "FAILED: cannot start luamig again for a fleet target\n";
		ssize_t w = write(2, msg, sizeof msg - 1);
		(void)w;
		_exit(127);
	}
	int saved = errno;
	if (out >= 0)
		close(out);
	if (err >= 0)
		close(err);
	if (pid < 0) {
		lua_pushnil(L);
		lua_pushfstring(L, "cannot start a child luamig: %s", strerror(saved));
		return 2;
	}
	lua_pushinteger(L, pid);
	return 1;
}

/*
 * core.wait_child() -> pid, status
 *   Waits for any child to end: its exit status, or 128 + the signal that
 *   killed it. Returns nil when there is no child left. Never raises.
 */
int lm_lua_wait_child(lua_State *L)
{
	int st = 0;
	pid_t pid;
	do
		pid = waitpid(-1, &st, 0);
	while (pid < 0 && errno == EINTR);
	if (pid < 0)
		return 0;
	lua_pushinteger(L, pid);
	lua_pushinteger(L, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	return 2;
}
