/*
 * fault.h — fault injection for the test suite, on SQLite's and Lua's
 * model: an allocator and a driver that fail on the Nth call.
 *
 * Only a build configured with -DLUAMIG_FAULT_INJECTION=ON (tests/run's)
 * honours it; elsewhere every hook below is a no-op and LUAMIG_FAULT is
 * ignored, so a production binary cannot be made to fail on purpose.
 *
 * LUAMIG_FAULT, read once at start-up, says what to do:
 *   count      inject nothing; count, and write the totals at exit
 *   stmt:N     the Nth statement (exec, query, the lock's try) fails
 *   begin:N    the Nth BEGIN fails
 *   commit:N   the Nth COMMIT fails (the transaction stays open)
 *   drop:N     the connection is lost (the network gone, the server or
 *              the file unreachable) just before the Nth driver call
 *              (a statement, begin, commit, rollback, lock or unlock)
 *   alloc:N    the Nth allocation fails: of luamig's (util.h), of the
 *              Lua state's, or of SQLite's; Lua's retry of it after an
 *              emergency collection fails too, so Lua raises
 *   alloc:N+   every allocation from the Nth on fails
 * A failed statement, begin or commit returns the driver's error path
 * with "injected fault: statement N" (begin N, commit N) in the error
 * slot, without reaching the database.
 *
 * LUAMIG_FAULT_LOG names a file that receives, at exit, one line
 * "counts stmt=S begin=B commit=C call=K alloc=A" (what the process did,
 * for a sweep to learn its range), the line "fired KIND N" when the fault
 * was injected, and, in count mode, one line per driver call
 * "call K KIND stmt=S alloc=A" (where in the allocation sequence the
 * database calls fall). libpq's own allocations are not counted.
 */
#ifndef LM_FAULT_H
#define LM_FAULT_H

#include <lua.h>

#include "driver.h"

#ifdef LUAMIG_FAULT_INJECTION

/* Reads LUAMIG_FAULT; installs SQLite's allocator (before any other
 * SQLite call). 0, or -1 with the error slot set for a malformed value. */
int lm_fault_init(void);
/* 1 when this allocation is to fail (counts it otherwise). */
int lm_fault_alloc_fails(void);
/* Puts the counting allocator under a new state. */
void lm_fault_lua_state(lua_State *L);
/* The counting shim of driver d for a new connection, or d itself when no
 * fault injection is asked for. */
const lm_driver *lm_fault_driver(const lm_driver *d);

#else

static inline int lm_fault_init(void)
{
	return 0;
}
static inline int lm_fault_alloc_fails(void)
{
	return 0;
}
static inline void lm_fault_lua_state(lua_State *L)
{
	(void)L;
}
static inline const lm_driver *lm_fault_driver(const lm_driver *d)
{
	return d;
}

#endif

#endif
