/*
 * hooks.h — post_write_hooks, as Alembic runs them on a new revision file:
 *
 *   [post_write_hooks]
 *   hooks = stylua
 *   stylua.type = exec
 *   stylua.executable = stylua
 *   stylua.options = REVISION_SCRIPT_FILENAME
 */
#ifndef LM_HOOKS_H
#define LM_HOOKS_H

#include "config.h"

/* Runs every hook named in [post_write_hooks] on path, in order. A hook
 * that cannot start or exits non-zero fails with a message naming it; the
 * file stays. Progress lines go to stdout unless quiet. */
int lm_run_post_write_hooks(lm_config *cfg, const char *path, int quiet);

/* Splits a command line as POSIX shlex does (quotes, backslashes). */
void lm_shell_split(const char *line, lm_strv *out);

#endif
