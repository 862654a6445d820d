/*
 * plan.h — the planner: from the version table's rows and a target, the
 * ordered steps of an upgrade, downgrade or stamp (Alembic's ScriptDirectory.
 * _upgrade_revs/_downgrade_revs/_stamp_revs), each with the version-table
 * changes Alembic's HeadMaintainer would make.
 *
 * Input is a built revision map (revmap.h); output is a plan the caller
 * owns and executes (lua_host.c hands it to the migration context). The
 * version table is simulated while planning, so a plan that Alembic would
 * abort half-way is refused before anything runs.
 *
 * Error messages are Alembic's CLI wording (see ../shared/alembic.md §2).
 */
#ifndef LM_PLAN_H
#define LM_PLAN_H

#include <stddef.h>

#include "revmap.h"
#include "util.h"

/* One change to the version table. */
typedef enum lm_vop_kind { LM_VOP_INSERT, LM_VOP_DELETE, LM_VOP_UPDATE } lm_vop_kind;

typedef struct lm_vop {
	lm_vop_kind kind;
	char *from; /* DELETE, UPDATE: the row that goes */
	char *to;   /* INSERT, UPDATE: the row that comes */
} lm_vop;

typedef struct lm_step {
	int upgrade;            /* 1 up, 0 down */
	int stamp;              /* 1 for a stamp step (no migration code runs) */
	const lm_revision *rev; /* the revision whose code runs; NULL for stamp */
	lm_strv from;           /* for the log line: "Running upgrade a, b -> c, msg" */
	lm_strv to;
	lm_vop *ops; /* version-table changes after the step, in order */
	size_t nops;
	int branch_move; /* stamp steps: creates or deletes a branch row */
} lm_step;

/* The log text of a step, without "Running ": "upgrade a, b -> c, msg",
 * "downgrade c -> a, b", "stamp_revision a -> b". Appends to out. */
void lm_step_describe(const lm_step *s, lm_buf *out);

/* Steps and the strings they hold are owned by the plan; rev points into the
 * map, which must outlive the plan. */
typedef struct lm_plan {
	lm_step *steps;
	size_t n;
	lm_strv warnings; /* e.g. "downgrade -1 from multiple heads is ambiguous; ..." */
} lm_plan;

/* Frees the steps and warnings and leaves an empty plan. */
void lm_plan_dispose(lm_plan *p);

/* Plans from the current heads (the version table's rows, in table order).
 * The version-table changes are simulated from `current`, so a plan that
 * Alembic would abort half-way is refused before anything runs.
 * Returns 0, or -1 with the error set (lm_error_get).
 * *out is always initialised (dispose it); on failure it has no steps but
 * keeps the warnings Alembic would have printed before failing.
 * stamp with purge plans as if the table were empty: the caller deletes
 * every row first, as Alembic's --purge does. */
int lm_plan_upgrade(const lm_revmap *m, const lm_strv *current, const char *target, lm_plan *out);
int lm_plan_downgrade(const lm_revmap *m, const lm_strv *current, const char *target, lm_plan *out);
int lm_plan_stamp(const lm_revmap *m, const lm_strv *current, const lm_strv *targets, int purge,
                  lm_plan *out);

#endif
