/*
 * signals.c — SIGINT and SIGTERM during a run (see signals.h for what the
 * user sees).
 *
 * The handler does only what is safe in a signal handler, each by its own
 * library's word: sigaction; sqlite3_interrupt (SQLite's shell calls it
 * from its SIGINT handler) or PQcancel with a cancel handle made before
 * (libpq documents it as signal-safe; psql's ^C does this), through the
 * driver's interrupt entry; and lua_sethook (Lua's lua.c stops a running
 * chunk this way). Everything else happens on the main line: the hook
 * raises the error, and the run's own failure path rolls back.
 *
 * The state moves OFF -> RUNNING (the run's function) -> CLEANUP (its
 * finish function) -> OFF, each move with both signals blocked, so the
 * handler never sees a half-made move. The first signal received is kept
 * for lm_signals_exit.
 */
#define _POSIX_C_SOURCE 200809L
#include "signals.h"

#include <errno.h>
#include <lauxlib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lua_core.h"

enum { OFF, RUNNING, CLEANUP };

/* How many Lua instructions the hook lets run after raising before it
 * raises again: enough for error handlers to finish (a few milliseconds),
 * and for code that caught the interruption to have gone on. */
#define AGAIN_COUNT 100000

static const int caught[] = {SIGINT, SIGTERM};
#define NCAUGHT (sizeof caught / sizeof caught[0])

static volatile sig_atomic_t state = OFF;
static volatile sig_atomic_t received; /* the first signal, 0 none; reset by lm_signals_reset */
static lua_State *volatile run_L;      /* the thread that runs the run */
static lm_conn *volatile run_conn;     /* the run's connection, or NULL */
static struct sigaction saved[NCAUGHT];
static int installed[NCAUGHT]; /* 1 when saved[i] holds what to give back */

static const char *signal_name(int sig)
{
	return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal";
}

static void block(sigset_t *old)
{
	sigset_t set;
	sigemptyset(&set);
	for (size_t i = 0; i < NCAUGHT; i++)
		sigaddset(&set, caught[i]);
	sigprocmask(SIG_BLOCK, &set, old);
}

static void unblock(const sigset_t *old)
{
	sigprocmask(SIG_SETMASK, old, NULL);
}

/* Gives both signals back the action they had before the run. */
static void restore_actions(void)
{
	for (size_t i = 0; i < NCAUGHT; i++)
		if (installed[i])
			sigaction(caught[i], &saved[i], NULL);
}

static void push_interrupted(lua_State *L)
{
	lua_pushfstring(L, "Interrupted by %s", signal_name((int)received));
}

/* The hook the handler sets: raises the interruption at the run's next
 * Lua instruction, and again AGAIN_COUNT instructions later, should the
 * revision's code have caught it (a pcall) and gone on. From then on it
 * raises at every call, return and instruction, so that a pcall in a
 * loop cannot catch it every time; the error handlers that then fail
 * too make Lua's "error in error handling", which is still an error.
 * Outside a run it only removes itself. */
static int raised; /* stop_hook raised once; the hook runs on the main line only */

static void stop_hook(lua_State *L, lua_Debug *ar)
{
	(void)ar;
	if (state != RUNNING) {
		lua_sethook(L, NULL, 0, 0);
		return;
	}
	if (!raised) {
		raised = 1;
		lua_sethook(L, stop_hook, LUA_MASKCOUNT, AGAIN_COUNT);
	} else {
		lua_sethook(L, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
	}
	push_interrupted(L);
	lua_error(L);
}

/* A repeat of the first signal this soon after it is the same one, not a
 * second: `timeout` sends SIGTERM to luamig and then to its whole process
 * group, and the two may arrive a moment apart. */
#define SAME_SIGNAL_NS 100000000L

static struct timespec first_at; /* when the first signal came (the handler's) */

static void on_signal(int sig)
{
	int saved_errno = errno;
	if (!received) {
		received = sig;
		clock_gettime(CLOCK_MONOTONIC, &first_at);
		if (state == RUNNING) {
			lm_conn *c = run_conn;
			if (c && c->driver->interrupt)
				c->driver->interrupt(c);
			lua_sethook(run_L, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT,
			            1);
		}
	} else {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long ns = (long)(now.tv_sec - first_at.tv_sec) * 1000000000L +
		          (now.tv_nsec - first_at.tv_nsec);
		if (sig != received || ns >= SAME_SIGNAL_NS) {
			/* A second signal acts as if luamig had never caught the
			 * first: its old action, once this handler returns. */
			restore_actions();
			raise(sig);
		}
	}
	errno = saved_errno;
}

/* OFF -> RUNNING: catches both signals (except one that luamig was started
 * with ignored, as shells leave SIGINT for background jobs). */
static void arm(lua_State *L, lm_conn *c)
{
	sigset_t old;
	block(&old);
	run_L = L;
	run_conn = c;
	state = RUNNING;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < NCAUGHT; i++)
		sigaddset(&sa.sa_mask, caught[i]);
	for (size_t i = 0; i < NCAUGHT; i++) {
		installed[i] = 0;
		if (sigaction(caught[i], NULL, &saved[i]) != 0 || saved[i].sa_handler == SIG_IGN)
			continue;
		if (sigaction(caught[i], &sa, NULL) == 0)
			installed[i] = 1;
	}
	unblock(&old);
}

/* The connection whose statement a signal interrupts, changed with both
 * signals blocked. */
static void set_run_conn(lm_conn *c)
{
	sigset_t old;
	block(&old);
	run_conn = c;
	unblock(&old);
}

/* RUNNING -> CLEANUP: a signal is only recorded from here on. */
static void hold(lua_State *L)
{
	sigset_t old;
	block(&old);
	state = CLEANUP;
	if (lua_gethook(L) == stop_hook)
		lua_sethook(L, NULL, 0, 0);
	unblock(&old);
}

/* CLEANUP -> OFF: both signals get their action from before the run; one
 * that arrives now takes it at once. */
static void disarm(void)
{
	sigset_t old;
	block(&old);
	state = OFF;
	run_conn = NULL;
	run_L = NULL;
	restore_actions();
	for (size_t i = 0; i < NCAUGHT; i++)
		installed[i] = 0;
	unblock(&old);
}

/*
 * core.interruptible(conn, run, finish) -> what finish returns
 *   Calls run() with SIGINT and SIGTERM stopping it (signals.h): conn's
 *   statement in flight interrupted, "Interrupted by SIGINT" raised in
 *   run's Lua code, conn's methods refusing to go on. Then calls
 *   finish(ok, err, signal) with signals only recorded: ok is whether run
 *   returned, err its error as a string (nil when ok), signal "SIGINT" or
 *   "SIGTERM" when one arrived during run (nil otherwise). Finally gives
 *   the signals back their action from before, and returns finish's
 *   results or raises its error. Inside another interruptible call, the
 *   outer one's handling stays as it is. conn may be nil (no statement to
 *   interrupt: `luamig test` arms before env.lua opens its connection);
 *   then an inner call's conn is the one interrupted while the inner
 *   run runs.
 *   Raises when conn is neither nil nor an open connection, or run or
 *   finish is not a function.
 */
int lm_lua_interruptible(lua_State *L)
{
	lm_conn *c = lua_isnil(L, 1) ? NULL : lm_lua_check_conn(L, 1);
	luaL_checktype(L, 2, LUA_TFUNCTION);
	luaL_checktype(L, 3, LUA_TFUNCTION);
	lua_settop(L, 3);
	int outer = state == OFF;
	/* An outer run armed without a connection lends its statement
	 * interruption to the inner run's connection while that runs. */
	int lent = !outer && state == RUNNING && run_conn == NULL && c != NULL;
	if (outer)
		arm(L, c);
	else if (lent)
		set_run_conn(c);
	lua_pushvalue(L, 2);
	int rc = lua_pcall(L, 0, 0, 0);
	if (outer)
		hold(L);
	else if (lent)
		set_run_conn(NULL);
	int sig = (int)received;
	/* stack: conn, run, finish[, error] */
	lua_pushvalue(L, 3);
	lua_pushboolean(L, rc == LUA_OK);
	if (rc == LUA_OK)
		lua_pushnil(L);
	else
		luaL_tolstring(L, 4, NULL);
	if (sig)
		lua_pushstring(L, signal_name(sig));
	else
		lua_pushnil(L);
	int base = lua_gettop(L) - 4;
	rc = lua_pcall(L, 3, LUA_MULTRET, 0);
	if (outer)
		disarm();
	if (rc != LUA_OK)
		return lua_error(L);
	return lua_gettop(L) - base;
}

void lm_signals_reset(void)
{
	if (state != OFF)
		return;
	received = 0;
	raised = 0;
}

int lm_signals_check(lua_State *L)
{
	if (state == RUNNING && received) {
		push_interrupted(L);
		return lua_error(L);
	}
	return 0;
}

int lm_lua_check_interrupt(lua_State *L)
{
	lm_signals_check(L);
	return 0;
}

void lm_signals_forget(lm_conn *c)
{
	if (run_conn != c)
		return;
	sigset_t old;
	block(&old);
	run_conn = NULL;
	unblock(&old);
}

int lm_signals_exit(int status)
{
	int sig = (int)received;
	if (!sig)
		return status;
	fflush(NULL);
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sigaction(sig, &dfl, NULL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
	return 128 + sig; /* not reached unless the signal could not kill us */
}
