/*
 * cli.h — the command line: what it said (lm_opts), the exit codes (0 ok,
 * 1 failure, 2 usage), the whole program (lm_main), and what the global
 * options mean to every command (cli.c). The commands are in cmd.h.
 */
#ifndef LM_CLI_H
#define LM_CLI_H

#include <stdint.h>

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
	const char *fleet;    /* --fleet NAME: run the command on each target (luamig.fleet) */
	const char *parallel; /* --parallel N, checked by lm_main */
	int fail_fast;
	lm_strv child_args; /* argv without argv[0] and the fleet options: a target's command */
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
	const char *log_revision; /* log -r */
	const char *since;
	const char *until;
	int failed;
	int succeeded;
	int data;           /* test --data */
	int schema;         /* test --schema */
	int no_checkpoints; /* upgrade --no-checkpoints */
	int prune;          /* checkpoint --prune */
	const char *output; /* convert -o */
	const char *ini;    /* convert --ini */
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
/* Applies a fleet target's settings to cfg when this luamig is a fleet's
 * child (LUAMIG_FLEET_TARGET in the environment, set by luamig.fleet):
 * LUAMIG_FLEET_URL becomes section's url, LUAMIG_FLEET_SCHEMA its
 * version_table_schema. */
void lm_cli_apply_fleet_target(lm_config *cfg, const char *section);
/* Prints s on stdout unless -q. */
void lm_cli_out(const lm_opts *o, const char *s);
/* A true ini value ("true", "True", "1", "yes", "on"), as Alembic reads
 * revision_environment. */
int lm_cli_is_true(const char *v);

/* ---- the tables, for what is generated from them ------------------------
 * The option and command tables that parse argv and print --help, read-only,
 * so that the manual page and the shell completion scripts are generated
 * from them at build time (tools/gendoc.c) and cannot drift. */

/* An option, and where its value goes in lm_opts: kind 'f' sets an int
 * flag, 's' stores the string, 'l' appends to a list (repeatable); the
 * global -h/--help and --version are kinds 'h' and 'V'. A command's
 * option has its bit in flag (the command's options mask); a global
 * option has flag UINT64_MAX. shortname and metavar may be NULL (a flag). */
typedef struct lm_cli_option {
	uint64_t flag; /* global options: UINT64_MAX */
	const char *shortname, *longname, *metavar, *help;
	char kind;
	size_t field;
} lm_cli_option;

/* A command: what it runs, which options it accepts (a mask of option
 * flags), how many positionals (max -1 = any) and their usage name and
 * help, its one-line summary. */
typedef struct lm_cli_command {
	const char *name;
	int (*run)(lua_State *L, lm_opts *o);
	uint64_t options;
	int min_pos, max_pos;
	const char *positional;
	const char *summary;
	const char *positional_help;
} lm_cli_command;

/* Each table ends with an entry whose flag (options) or name (commands) is
 * 0/NULL. The global options come first in usage; every command also
 * accepts -h/--help. */
const lm_cli_option *lm_cli_global_options(void);
const lm_cli_option *lm_cli_options(void);
const lm_cli_command *lm_cli_commands(void);

#endif
