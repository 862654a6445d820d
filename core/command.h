/*
 * command.h — the command line: global options, one function per command,
 * help texts, and exit codes (0 ok, 1 failure, 2 usage).
 */
#ifndef LM_COMMAND_H
#define LM_COMMAND_H

#include "util.h"

enum { LM_EXIT_OK = 0, LM_EXIT_FAILURE = 1, LM_EXIT_USAGE = 2 };

/* Everything the command line said. Strings point into argv. */
typedef struct lm_opts {
	/* global */
	const char *config;
	const char *name;
	lm_strv x;
	int quiet;
	int raiseerr;
	const char *command;
	/* per command (Alembic's option names) */
	const char *message;
	int autogenerate;
	int sql;
	const char *head;
	int splice;
	lm_strv branch_label;
	const char *version_path;
	const char *rev_id;
	lm_strv depends_on;
	const char *tag;
	int verbose;
	const char *rev_range;
	int indicate_current;
	int resolve_dependencies;
	int purge;
	int check_heads;
	const char *template_name;
	int package;
	int no_lock;
	int allow_empty;
	int json;
	lm_strv positional;
} lm_opts;

/* Opens a file in $EDITOR, $VISUAL or a known editor; waits for it. */
int lm_open_in_editor(const char *path);

/* The whole program: parses argv, runs the command, returns the exit status. */
int lm_main(int argc, char **argv);

#endif
