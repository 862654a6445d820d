/*
 * driver_pg.h — what the PostgreSQL driver (driver_pg.c) offers beyond the
 * driver interface of driver.h: its URL parser on its own, and the runner
 * lock's advisory-lock id, for DBAs and tests.
 */
#ifndef LM_DRIVER_PG_H
#define LM_DRIVER_PG_H

#include "driver.h"

/* The driver's url_parse: postgresql://, postgres:// and
 * postgresql+<driver>:// become conninfo, a libpq URI. Fills redacted and
 * conninfo, and raw, dialect and driver when still NULL (so it also works
 * called on its own, on a zeroed lm_url). 0, or -1 with the error slot set
 * and *out disposed. */
int lm_pg_url_parse(const char *text, lm_url *out);

/* The pg_advisory_lock id of a runner lock key: 64-bit FNV-1a of the key's
 * bytes as a signed bigint. */
long long lm_pg_advisory_key(const char *key);
/* Whether a server whose version() is version lacks advisory locks
 * (CockroachDB, YugabyteDB), so that the runner lock is a lock row. */
int lm_pg_engine_lacks_advisory_locks(const char *version);

#endif
