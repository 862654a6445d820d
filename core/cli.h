/*
 * cli.h — the command line: what it said (lm_opts), the exit codes (0 ok,
 * 1 failure, 2 usage), the whole program (lm_main), and what the global
 * options mean to every command (cli.c). The commands are in cmd.h.
 */
#ifndef LM_CLI_H
#define LM_CLI_H

#include <lua.h>

#include "config.h"
#include "script.h"
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
	int resync;
	int downgrade;
	int dry_run;
	int data;   /* test --data */
	int schema; /* test --schema */
	lm_strv positional;
} lm_opts;

/* The whole program after main.c's set-up: parses argv and runs the
 * command in L (the state main.c made and opened; lm_main runs inside its
 * protected call). Returns the exit status, or -1 with the error slot set
 * (main.c reports it). */
int lm_main(lua_State *L, int argc, char **argv);

/* The config section: -n NAME, or "luamig". */
const char *lm_cli_section(const lm_opts *o);
/* The config file: -c CONFIG, $LUAMIG_CONFIG, or "luamig.ini". */
const char *lm_cli_config_path(const lm_opts *o);
/* Loads the config file, which must have the section; NULL with the error
 * slot set ("No config file ... found", or the parse error's file:line). */
lm_config *lm_cli_load_config(const lm_opts *o);
/* Loads config, script directory and revision map. 0, or -1 with the error
 * slot set; *cfg and *sd are the caller's to free either way. */
int lm_cli_open_scripts(const lm_opts *o, lm_config **cfg, lm_script_dir *sd);
/* Prints s on stdout unless -q. */
void lm_cli_out(const lm_opts *o, const char *s);
/* A true ini value ("true", "True", "1", "yes", "on"), as Alembic reads
 * revision_environment. */
int lm_cli_is_true(const char *v);

#endif
