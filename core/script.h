/*
 * script.h — the script directory: where revision files live, how their
 * headers are read, and the revision map built from them.
 *
 * Reading a revision's header never runs its code: a small scanner reads
 * the leading --[[ docstring ]] and the top-level literal assignments of
 * revision, down_revision, branch_labels and depends_on. That is what
 * keeps `heads` and `history` at milliseconds per thousand files.
 */
#ifndef LM_SCRIPT_H
#define LM_SCRIPT_H

#include "config.h"
#include "revmap.h"
#include "util.h"

typedef struct lm_script_dir {
	char *dir;                 /* script_location, absolute */
	lm_strv version_locations; /* absolute folders, in configured order */
	char *file_template;       /* "%(rev)s_%(slug)s" by default */
	int truncate_slug_length;  /* 40 by default */
	char *timezone;            /* NULL when not configured */
	int recursive;             /* recursive_version_locations */
	lm_revmap *map;            /* NULL until lm_script_dir_load */
	/* 1 while the map is freed for its memory (core.release_revisions):
	 * its next use loads it again */
	int released;
} lm_script_dir;

/* Reads the script-directory settings of a config section. Fails with
 * Alembic's "No 'script_location' key found in configuration." or
 * "Path doesn't exist: ..." */
int lm_script_dir_open(lm_config *cfg, const char *section, lm_script_dir *out);
void lm_script_dir_dispose(lm_script_dir *sd);
/* lm_script_dir_dispose at a command's end: the revision map (thousands of
 * small blocks) is left to the process's exit when lm_exit_reclaims. */
void lm_script_dir_end(lm_script_dir *sd);

/* Scans every revision file and builds the revision map (sd->map). */
int lm_script_dir_load(lm_script_dir *sd);

/* Lists the revision files of the version locations in load order. */
int lm_script_dir_files(const lm_script_dir *sd, lm_strv *out);

/* Reads the header of one revision file's text into *out (path is used for
 * messages and stored in out->path). */
int lm_script_scan(const char *path, const char *text, lm_revision *out);

#endif
