/*
 * signals.h — SIGINT and SIGTERM during a run: the run stops the way a
 * failed step stops it (rolled back, lock released, one line), and luamig
 * then exits by that signal.
 *
 * Outside a run (core.interruptible, below) both signals keep whatever
 * action luamig was started with: a `history` or an offline `--sql` run
 * dies at once, which changes no database. During a run, the first signal
 *   - stops the statement in flight (the driver's interrupt entry:
 *     sqlite3_interrupt, or a PostgreSQL cancel request),
 *   - sets a Lua hook that raises "Interrupted by SIGINT" at the next Lua
 *     instruction, and again every so often should the revision's own
 *     code catch that error and carry on,
 *   - makes every statement, begin and commit the run then tries raise
 *     the same error instead of reaching the database,
 *   - and lets a second signal give both signals back their action from
 *     before, so that it kills luamig outright (the database's own
 *     transaction safety then rolls back, as after a crash). The same
 *     signal again within 0.1 s is not a second one: `timeout` sends
 *     SIGTERM to luamig and then to its process group.
 * While the run cleans up (rollback, history row, lock release) a first
 * signal is only recorded.
 */
#ifndef LM_SIGNALS_H
#define LM_SIGNALS_H

#include <lua.h>

#include "driver.h"

/* core.interruptible(conn, run, finish) -> what finish returns (lua_core.c
 * registers it; contract above its definition in signals.c). */
int lm_lua_interruptible(lua_State *L);
/* core.check_interrupt(): raises "Interrupted by SIG..." when a signal
 * stopped the run in progress; returns nothing otherwise. */
int lm_lua_check_interrupt(lua_State *L);

/* For the connection methods (lua_conn.c): raises "Interrupted by SIG..."
 * when a signal stopped the run in progress; returns 0 otherwise. */
int lm_signals_check(lua_State *L);
/* A connection is about to close: a signal must no longer reach it. */
void lm_signals_forget(lm_conn *c);
/* Forgets a signal that stopped an earlier run, for the library
 * (core/library.c), whose process goes on after a run a signal stopped;
 * does nothing during a run. */
void lm_signals_reset(void);
/* For main.c, last thing before exiting with status: when a signal stopped
 * a run, dies by that signal (the shell shows 128 + its number: 130 for
 * SIGINT, 143 for SIGTERM); otherwise returns status. */
int lm_signals_exit(int status);

#endif
