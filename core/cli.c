/*
 * cli.c — the command line, mirroring Alembic's: global options before
 * the command, Alembic's command and option names, its messages.
 *
 * One option table and one command table say everything: what each
 * command accepts, where an option's value goes in lm_opts, and the help
 * texts, which are printed from them. The parser checks argv against the
 * tables (usage errors exit 2), then lm_main runs the command (cmd_*.c),
 * inside main.c's protected call; a failed command's -1 goes back to
 * main.c, which reports it. The lm_cli_* helpers say what the global
 * options mean to every command: which config file and section, and
 * whether to print.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>

#include "cmd.h"
#include "json.h"

/* ---- the command table -------------------------------------------------- */

/* Option flags a command accepts: one bit each of a 64-bit mask. */
#define LM_OPT_BIT(n) ((uint64_t)1 << (n))
#define O_MESSAGE LM_OPT_BIT(0)
#define O_AUTOGEN LM_OPT_BIT(1)
#define O_SQL LM_OPT_BIT(2)
#define O_HEAD LM_OPT_BIT(3)
#define O_SPLICE LM_OPT_BIT(4)
#define O_BRANCH_LABEL LM_OPT_BIT(5)
#define O_VERSION_PATH LM_OPT_BIT(6)
#define O_REV_ID LM_OPT_BIT(7)
#define O_DEPENDS_ON LM_OPT_BIT(8)
#define O_TAG LM_OPT_BIT(9)
#define O_VERBOSE LM_OPT_BIT(10)
#define O_REV_RANGE LM_OPT_BIT(11)
#define O_INDICATE LM_OPT_BIT(12)
#define O_RESOLVE_DEPS LM_OPT_BIT(13)
#define O_PURGE LM_OPT_BIT(14)
#define O_CHECK_HEADS LM_OPT_BIT(15)
#define O_TEMPLATE LM_OPT_BIT(16)
#define O_PACKAGE LM_OPT_BIT(17)
#define O_NO_LOCK LM_OPT_BIT(18)
#define O_ALLOW_EMPTY LM_OPT_BIT(19)
#define O_JSON LM_OPT_BIT(20)
#define O_RESYNC LM_OPT_BIT(21)
#define O_DOWNGRADE LM_OPT_BIT(22)
#define O_DRY_RUN LM_OPT_BIT(23)
/* log's */
#define O_LOG_REVISION LM_OPT_BIT(25)
#define O_SINCE LM_OPT_BIT(26)
#define O_UNTIL LM_OPT_BIT(27)
#define O_FAILED LM_OPT_BIT(28)
#define O_SUCCEEDED LM_OPT_BIT(29)
#define O_LOG_JSON LM_OPT_BIT(30)
/* test's */
#define O_DATA LM_OPT_BIT(24)
#define O_SCHEMA LM_OPT_BIT(31)
#define O_NO_CHECKPOINTS LM_OPT_BIT(32)
#define O_PRUNE LM_OPT_BIT(33)
#define O_OUTPUT LM_OPT_BIT(34)
#define O_INI LM_OPT_BIT(35)

typedef lm_cli_command command;
typedef lm_cli_option option;

#define F(name) 'f', offsetof(lm_opts, name)
#define S(name) 's', offsetof(lm_opts, name)
#define L(name) 'l', offsetof(lm_opts, name)

/* The global options, before the command (flag UINT64_MAX). */
static const option global_options[] = {
        {UINT64_MAX, "-h", "--help", NULL, "show this help message and exit", 'h', 0},
        {UINT64_MAX, NULL, "--version", NULL, "show program's version number and exit", 'V', 0},
        {UINT64_MAX, "-c", "--config", "CONFIG",
         "Alternate config file; defaults to value of LUAMIG_CONFIG environment variable, or "
         "\"luamig.ini\"",
         S(config)},
        {UINT64_MAX, "-n", "--name", "NAME",
         "Name of section in .ini file to use for luamig config", S(name)},
        {UINT64_MAX, "-x", NULL, "X",
         "Additional arguments consumed by custom env.lua scripts, e.g. -x "
         "setting1=somesetting -x setting2=somesetting",
         L(x)},
        {UINT64_MAX, NULL, "--fleet", "FLEET",
         "Run the command on every target of the [fleet:FLEET] section of the .ini file, "
         "each in a luamig of its own, and end with a table of the targets",
         S(fleet)},
        {UINT64_MAX, NULL, "--parallel", "N",
         "With --fleet: how many targets run at once (default 1)", S(parallel)},
        {UINT64_MAX, NULL, "--fail-fast", NULL,
         "With --fleet: after a target fails, start no other (they are reported as skipped)",
         F(fail_fast)},
        {UINT64_MAX, NULL, "--raiseerr", NULL, "Raise a full stack trace on error", F(raiseerr)},
        {UINT64_MAX, "-q", "--quiet", NULL, "Do not log to std output.", F(quiet)},
        {0, NULL, NULL, NULL, NULL, 0, 0},
};

static const option options[] = {
        {O_MESSAGE, "-m", "--message", "MESSAGE", "Message string to use with 'revision'",
         S(message)},
        {O_AUTOGEN, NULL, "--autogenerate", NULL,
         "Populate revision script with candidate migration operations, based on comparison of "
         "database to model.",
         F(autogenerate)},
        {O_SQL, NULL, "--sql", NULL,
         "Don't emit SQL to database - dump to standard output/file instead. See docs on offline "
         "mode.",
         F(sql)},
        {O_HEAD, NULL, "--head", "HEAD",
         "Specify head revision or <branchname>@head to base new revision on.", S(head)},
        {O_SPLICE, NULL, "--splice", NULL, "Allow a non-head revision as the 'head' to splice onto",
         F(splice)},
        {O_BRANCH_LABEL, NULL, "--branch-label", "BRANCH_LABEL",
         "Specify a branch label to apply to the new revision", L(branch_label)},
        {O_VERSION_PATH, NULL, "--version-path", "VERSION_PATH",
         "Specify specific path from config for version file", S(version_path)},
        {O_REV_ID, NULL, "--rev-id", "REV_ID",
         "Specify a hardcoded revision id instead of generating one", S(rev_id)},
        {O_DEPENDS_ON, NULL, "--depends-on", "DEPENDS_ON",
         "Specify one or more revision identifiers which this revision should depend on.",
         L(depends_on)},
        {O_TAG, NULL, "--tag", "TAG",
         "Arbitrary 'tag' name - can be used by custom env.lua scripts.", S(tag)},
        {O_VERBOSE, "-v", "--verbose", NULL, "Use more verbose output", F(verbose)},
        {O_REV_RANGE, "-r", "--rev-range", "REV_RANGE",
         "Specify a revision range; format is [start]:[end]", S(rev_range)},
        {O_INDICATE, "-i", "--indicate-current", NULL, "Indicate the current revision",
         F(indicate_current)},
        {O_RESOLVE_DEPS, NULL, "--resolve-dependencies", NULL,
         "Treat dependency versions as down revisions", F(resolve_dependencies)},
        {O_PURGE, NULL, "--purge", NULL, "Unconditionally erase the version table before stamping",
         F(purge)},
        {O_CHECK_HEADS, NULL, "--check-heads", NULL,
         "Check if all head revisions are applied to the database. Exit with an error code if this "
         "is not the case.",
         F(check_heads)},
        {O_TEMPLATE, "-t", "--template", "TEMPLATE", "Setup template for use with 'init'",
         S(template_name)},
        {O_PACKAGE, NULL, "--package", NULL,
         "Accepted for Alembic compatibility; Lua needs no __init__ files", F(package)},
        {O_NO_LOCK, NULL, "--no-lock", NULL, "Do not take the lock against concurrent runners",
         F(no_lock)},
        {O_ALLOW_EMPTY, NULL, "--allow-empty", NULL,
         "Write an autogenerated revision even when it has no operations", F(allow_empty)},
        {O_JSON, NULL, "--json", NULL,
         "Write JSON to standard output: one document, or for upgrade, downgrade and stamp one "
         "event per line (README: Machine-readable output)",
         F(json)},
        {O_RESYNC, NULL, "--resync", NULL,
         "Record the current checksum of the given applied revision(s), edited on purpose; "
         "don't change the version table",
         F(resync)},
        {O_DOWNGRADE, NULL, "--downgrade", NULL,
         "Lint the downgrade() of each revision of the range instead of its upgrade()",
         F(downgrade)},
        {O_DRY_RUN, NULL, "--dry-run", NULL,
         "Run on the database in one transaction that is rolled back, reporting each "
         "statement's locks and time",
         F(dry_run)},
        {O_LOG_REVISION, "-r", "--revision", "REVISION",
         "Only the rows of this revision (a full or partial id, or a symbol such as head)",
         S(log_revision)},
        {O_SINCE, NULL, "--since", "SINCE",
         "Only the rows applied at or after this UTC time: YYYY-MM-DD[ HH:MM[:SS]]", S(since)},
        {O_UNTIL, NULL, "--until", "UNTIL",
         "Only the rows applied at or before this UTC time (a date alone: through its end)",
         S(until)},
        {O_FAILED, NULL, "--failed", NULL, "Only the steps that failed", F(failed)},
        {O_SUCCEEDED, NULL, "--succeeded", NULL, "Only the steps that succeeded", F(succeeded)},
        {O_LOG_JSON, NULL, "--json", NULL, "Print the rows as one JSON document", F(json)},
        {O_DATA, NULL, "--data", NULL,
         "Insert generated rows into every table before each step and report rows a downgrade "
         "and upgrade lose",
         F(data)},
        {O_SCHEMA, NULL, "--schema", NULL,
         "PostgreSQL: test in a temporary schema of the configured database instead of a "
         "temporary database",
         F(schema)},
        {O_NO_CHECKPOINTS, NULL, "--no-checkpoints", NULL,
         "Replay the whole history on a fresh database, even where a checkpoint stands for its "
         "start",
         F(no_checkpoints)},
        {O_PRUNE, NULL, "--prune", NULL,
         "Move the revisions the checkpoint stands for out of the version locations (refused "
         "while the database is older than the checkpoint)",
         F(prune)},
        {O_OUTPUT, "-o", "--output", "DIR",
         "Write the converted files into DIR instead of beside each input", S(output)},
        {O_INI, NULL, "--ini", "ALEMBIC_INI",
         "Convert the versions folder of this alembic.ini and write a luamig.ini that takes over "
         "its alembic_version table",
         S(ini)},
        {0, NULL, NULL, NULL, NULL, 0, 0},
};

#undef F
#undef S
#undef L

static const command commands[] = {
        {"branches", lm_cmd_branches, O_VERBOSE | O_JSON, 0, 0, NULL, "Show current branch points.",
         NULL},
        {"check", lm_cmd_runtime, O_JSON, 0, 0, NULL,
         "Check if revision command with autogenerate has pending upgrade ops.", NULL},
        {"checkpoint", lm_cmd_runtime, O_JSON | O_SCHEMA | O_PRUNE, 0, 1, "revision",
         "Write a checkpoint: one step that creates the schema the history up to the revision "
         "produces, for fresh databases.",
         "revision identifier; default: head"},
        {"convert", lm_cmd_convert, O_OUTPUT | O_INI, 0, -1, "paths",
         "Translate Alembic revision files (.py) into luamig revision files.",
         "Alembic revision files, or folders of them (a versions folder)"},
        {"current", lm_cmd_runtime, O_VERBOSE | O_CHECK_HEADS | O_JSON, 0, 0, NULL,
         "Display the current revision for a database.", NULL},
        {"downgrade", lm_cmd_runtime, O_SQL | O_TAG | O_VERBOSE | O_NO_LOCK | O_DRY_RUN | O_JSON, 1,
         1, "revision", "Revert to a previous version.", "revision identifier"},
        {"edit", lm_cmd_edit, 0, 1, 1, "rev", "Edit revision script(s) using $EDITOR.",
         "revision identifier"},
        {"ensure_version", lm_cmd_runtime, O_SQL, 0, 0, NULL,
         "Create the version table if it does not exist.", NULL},
        {"heads", lm_cmd_heads, O_VERBOSE | O_RESOLVE_DEPS | O_JSON, 0, 0, NULL,
         "Show current available heads in the script directory.", NULL},
        {"history", lm_cmd_history, O_REV_RANGE | O_VERBOSE | O_INDICATE | O_JSON, 0, 0, NULL,
         "List changeset scripts in chronological order.", NULL},
        {"init", lm_cmd_init, O_TEMPLATE | O_PACKAGE, 1, 1, "directory",
         "Initialize a new scripts directory.", "location of scripts directory"},
        {"lint", lm_cmd_runtime, O_SQL | O_DOWNGRADE | O_JSON, 0, 1, "revision_range",
         "Report the locks, rewrites and risks of migrations before they run.",
         "[start]:[end] or one revision; default: the revisions the database has not applied "
         "(all of them with --sql or without a database)"},
        {"list_templates", lm_cmd_list_templates, 0, 0, 0, NULL, "List available templates.", NULL},
        {"log", lm_cmd_runtime,
         O_LOG_REVISION | O_SINCE | O_UNTIL | O_FAILED | O_SUCCEEDED | O_LOG_JSON, 0, 0, NULL,
         "List the audit history table: who ran which step of which revision, when, how long "
         "it took, and whether it succeeded.",
         NULL},
        {"merge", lm_cmd_merge, O_MESSAGE | O_BRANCH_LABEL | O_REV_ID, 1, -1, "revisions",
         "Merge two revisions together.  Creates a new migration file.",
         "one or more revisions, or 'heads' for all heads"},
        {"revision", lm_cmd_revision,
         O_MESSAGE | O_AUTOGEN | O_SQL | O_HEAD | O_SPLICE | O_BRANCH_LABEL | O_VERSION_PATH |
                 O_REV_ID | O_DEPENDS_ON | O_ALLOW_EMPTY,
         0, 0, NULL, "Create a new revision file.", NULL},
        {"show", lm_cmd_show, O_JSON, 1, 1, "rev",
         "Show the revision(s) denoted by the given symbol.", "revision identifier"},
        {"stamp", lm_cmd_runtime,
         O_SQL | O_TAG | O_VERBOSE | O_PURGE | O_NO_LOCK | O_RESYNC | O_JSON, 1, -1, "revisions",
         "'stamp' the revision table with the given revision; don't run any migrations.",
         "revision identifier"},
        {"test", lm_cmd_runtime, O_JSON | O_DATA | O_SCHEMA, 0, 1, "revision_range",
         "Upgrade, downgrade and upgrade again each revision on a scratch database, comparing "
         "the schemas.",
         "[start]:[end] or one revision; default: base:heads"},
        {"upgrade", lm_cmd_runtime,
         O_SQL | O_TAG | O_VERBOSE | O_NO_LOCK | O_DRY_RUN | O_JSON | O_NO_CHECKPOINTS, 1, 1,
         "revision", "Upgrade to a later version.", "revision identifier"},
        {"validate", lm_cmd_runtime, O_JSON, 0, 0, NULL,
         "Check the applied revisions against the script directory: changed, missing or "
         "unknown revisions.",
         NULL},
        {NULL, NULL, 0, 0, 0, NULL, NULL, NULL},
};

static const command *find_command(const char *name)
{
	for (const command *c = commands; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

/* ---- help and usage ----------------------------------------------------- */

/* An option as help shows it: "-c CONFIG, --config CONFIG", "--sql", "-x X". */
static void option_invocation(const option *op, char *buf, size_t size)
{
	const char *mv = op->metavar;
	if (op->shortname && op->longname && mv)
		snprintf(buf, size, "%s %s, %s %s", op->shortname, mv, op->longname, mv);
	else if (op->shortname && op->longname)
		snprintf(buf, size, "%s, %s", op->shortname, op->longname);
	else
		snprintf(buf, size, "%s%s%s", op->shortname ? op->shortname : op->longname,
		         mv ? " " : "", mv ? mv : "");
}

/* Prints one option of help as argparse does: the invocation, then the
 * help at column 24 (on the next line when the invocation is longer than
 * 20), wrapped at width columns (0: not wrapped). */
static void print_option_help(FILE *f, const option *op, int width)
{
	char left[128];
	option_invocation(op, left, sizeof left);
	if (strlen(left) > 20)
		fprintf(f, "  %s\n%24s", left, "");
	else
		fprintf(f, "  %-20s  ", left);
	const char *h = op->help;
	while (width > 0 && (int)strlen(h) > width) {
		int cut = width;
		while (cut > 0 && h[cut] != ' ')
			cut--;
		if (cut == 0)
			break;
		fprintf(f, "%.*s\n%24s", cut, h, "");
		h += cut + 1;
	}
	fprintf(f, "%s\n", h);
}

static void print_program_help(FILE *f)
{
	fprintf(f, "usage: luamig");
	for (const option *op = global_options; op->flag; op++) {
		const char *n = op->shortname ? op->shortname : op->longname;
		fprintf(f, op->metavar ? " [%s %s]" : " [%s]", n, op->metavar);
	}
	fprintf(f, "\n              {");
	for (const command *c = commands; c->name; c++)
		fprintf(f, "%s%s", c == commands ? "" : ",", c->name);
	fprintf(f, "}\n              ...\n\n"
	           "luamig: database schema migrations in Lua, the Alembic way.\n\n"
	           "positional arguments:\n");
	for (const command *c = commands; c->name; c++)
		fprintf(f, "    %-16s%s\n", c->name, c->summary);
	fprintf(f, "\noptions:\n");
	for (const option *op = global_options; op->flag; op++)
		print_option_help(f, op, 54);
}

static void print_usage(FILE *f, const command *c)
{
	fprintf(f, "usage: luamig %s [-h]", c->name);
	for (const option *op = options; op->flag; op++) {
		if (!(c->options & op->flag))
			continue;
		const char *n = op->shortname ? op->shortname : op->longname;
		if (op->metavar)
			fprintf(f, " [%s %s]", n, op->metavar);
		else
			fprintf(f, " [%s]", n);
	}
	if (c->positional && c->min_pos == 0 && c->max_pos == 1)
		fprintf(f, " [%s]", c->positional); /* argparse's nargs="?" */
	else if (c->positional)
		fprintf(f, c->max_pos < 0 ? " %s [%s ...]" : " %s", c->positional, c->positional);
	fputc('\n', f);
}

static void print_command_help(const command *c)
{
	print_usage(stdout, c);
	printf("\n%s\n", c->summary);
	if (c->positional)
		printf("\npositional arguments:\n  %-20s  %s\n", c->positional, c->positional_help);
	printf("\noptions:\n  -h, --help            show this help message and exit\n");
	for (const option *op = options; op->flag; op++) {
		if (!(c->options & op->flag))
			continue;
		print_option_help(stdout, op, 0);
	}
}

/* Prints "luamig CMD: error: <what><arg> (see 'luamig CMD --help')". */
static int usage_error(const command *c, const char *what, const char *arg)
{
	fprintf(stderr, "luamig%s%s: error: %s%s (see 'luamig %s%s--help')\n", c ? " " : "",
	        c ? c->name : "", what, arg, c ? c->name : "", c ? " " : "");
	return LM_EXIT_USAGE;
}

/* ---- argument parsing --------------------------------------------------- */

/* Reads the value of an option: "--opt=value", "-mvalue" or the next word. */
static const char *take_value(int argc, char **argv, int *i, const char *arg, size_t namelen)
{
	if (arg[namelen] == '=')
		return arg + namelen + 1;
	if (arg[namelen] != '\0' && arg[1] != '-')
		return arg + namelen;
	if (*i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

/* The -h/--help every command accepts (the global one is in its table). */
static const option command_help = {-1,  "-h", "--help", NULL, "show this help message and exit",
                                    'h', 0};

/* The option that arg names among cands (n of them), as argparse finds
 * it: by its short name ("-m", "-mVALUE", "-m=VALUE"), its long name
 * ("--message", "--message=VALUE"), or an unambiguous prefix of a long
 * name ("--mess", "--mess=VALUE"); an exact long name wins over prefixes.
 * Sets *namelen to the length of the name as typed (where its "=VALUE" or
 * attached value starts). NULL when nothing matches (err empty) or the
 * prefix is ambiguous (err says so, in argparse's words). */
static const option *match_option(const option *const *cands, size_t n, const char *arg,
                                  size_t *namelen, char *err, size_t errsize)
{
	err[0] = '\0';
	if (arg[1] != '-') {
		for (size_t k = 0; k < n; k++) {
			const char *sn = cands[k]->shortname;
			if (sn && strncmp(arg, sn, 2) == 0 &&
			    (arg[2] == '\0' || cands[k]->metavar)) {
				*namelen = 2;
				return cands[k];
			}
		}
		return NULL;
	}
	size_t len = strcspn(arg, "=");
	const option *found = NULL;
	size_t matches = 0;
	for (size_t k = 0; k < n; k++) {
		const char *ln = cands[k]->longname;
		if (!ln || strncmp(arg, ln, len) != 0)
			continue;
		if (ln[len] == '\0') {
			*namelen = len;
			return cands[k]; /* exact */
		}
		found = cands[k];
		matches++;
	}
	if (matches == 1) {
		*namelen = len;
		return found;
	}
	if (matches > 1) {
		int w = snprintf(err, errsize, "ambiguous option: %s could match", arg);
		const char *sep = " ";
		for (size_t k = 0; k < n && w >= 0 && (size_t)w < errsize; k++) {
			const char *ln = cands[k]->longname;
			if (ln && strncmp(arg, ln, len) == 0) {
				w += snprintf(err + w, errsize - (size_t)w, "%s%s", sep, ln);
				sep = ", ";
			}
		}
	}
	return NULL;
}

/* Applies option op, found in argv[*i] with the name namelen long: reads
 * its value ("=VALUE", attached, or the next word) and stores it in o, or
 * prints help (c's, or the program's when c is NULL) or the version.
 * Returns 0, 1 when the program is done (exit 0), or -1 after a usage
 * error. */
static int apply_option(const command *c, const option *op, int argc, char **argv, int *i,
                        size_t namelen, lm_opts *o)
{
	const char *a = argv[*i];
	if (op->kind == 'h') {
		if (c)
			print_command_help(c);
		else
			print_program_help(stdout);
		return 1;
	}
	if (op->kind == 'V') {
		printf("luamig %s\n", LUAMIG_VERSION);
		return 1;
	}
	const char *v = NULL;
	if (op->metavar) {
		v = take_value(argc, argv, i, a, namelen);
		if (!v) {
			char msg[160];
			snprintf(msg, sizeof msg, "argument %s%s%s: expected one argument",
			         op->shortname ? op->shortname : "",
			         op->shortname && op->longname ? "/" : "",
			         op->longname ? op->longname : "");
			usage_error(c, msg, "");
			return -1;
		}
	} else if (a[namelen] == '=') {
		usage_error(c, "ignored explicit argument for ", op->longname);
		return -1;
	}
	void *field = (char *)o + op->field;
	if (op->kind == 'f')
		*(int *)field = 1;
	else if (op->kind == 's')
		*(const char **)field = v;
	else
		lm_strv_push((lm_strv *)field, v);
	return 0;
}

static int parse_command_args(const command *c, int argc, char **argv, int i, lm_opts *o)
{
	const option *cands[64];
	size_t n = 0;
	cands[n++] = &command_help;
	for (const option *op = options; op->flag && n < 64; op++)
		if (c->options & op->flag)
			cands[n++] = op;
	int only_positional = 0;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (only_positional || a[0] != '-' || a[1] == '\0' ||
		    (a[1] >= '0' && a[1] <= '9')) {
			/* "-1" is a relative revision, not an option. */
			lm_strv_push(&o->positional, a);
			continue;
		}
		if (strcmp(a, "--") == 0) {
			only_positional = 1;
			continue;
		}
		size_t namelen = 0;
		char err[512];
		const option *found = match_option(cands, n, a, &namelen, err, sizeof err);
		if (!found) {
			if (err[0])
				usage_error(c, err, "");
			else
				usage_error(c, "unrecognized arguments: ", a);
			return -1;
		}
		int rc = apply_option(c, found, argc, argv, &i, namelen, o);
		if (rc != 0)
			return rc;
	}
	if ((int)o->positional.n < c->min_pos) {
		usage_error(c, "the following arguments are required: ", c->positional);
		return -1;
	}
	if (c->max_pos >= 0 && (int)o->positional.n > c->max_pos) {
		usage_error(c, "unrecognized arguments: ", o->positional.v[c->max_pos]);
		return -1;
	}
	/* stamp --resync only writes a history row: nothing to script, nothing to purge */
	if (o->resync && (o->sql || o->purge)) {
		usage_error(c, "argument --resync: not allowed with argument ",
		            o->sql ? "--sql" : "--purge");
		return -1;
	}
	/* --sql writes the script to stdout, where --json writes its JSON */
	if (o->json && o->sql && strcmp(c->name, "lint") != 0) {
		usage_error(c, "argument --json: not allowed with argument ", "--sql");
		return -1;
	}
	return 0;
}

static void opts_dispose(lm_opts *o)
{
	lm_strv_dispose(&o->x);
	lm_strv_dispose(&o->child_args);
	lm_strv_dispose(&o->branch_label);
	lm_strv_dispose(&o->depends_on);
	lm_strv_dispose(&o->positional);
}

/* ---- shared helpers ----------------------------------------------------- */

const char *lm_cli_section(const lm_opts *o)
{
	return o->name ? o->name : "luamig";
}

const char *lm_cli_config_path(const lm_opts *o)
{
	if (o->config)
		return o->config;
	const char *env = getenv("LUAMIG_CONFIG");
	return env && *env ? env : "luamig.ini";
}

lm_config *lm_cli_load_config(const lm_opts *o)
{
	const char *path = lm_cli_config_path(o);
	lm_config *cfg = lm_file_exists(path) ? lm_config_load(path) : NULL;
	if (cfg && !lm_config_has_section(cfg, lm_cli_section(o))) {
		lm_config_free(cfg);
		cfg = NULL;
	} else if (!cfg && lm_file_exists(path)) {
		return NULL; /* a parse error: keep its file:line message */
	}
	if (!cfg)
		lm_error_set("No config file '%s' found, or file has no '[%s]' section", path,
		             lm_cli_section(o));
	else
		lm_cli_apply_fleet_target(cfg, lm_cli_section(o));
	return cfg;
}

/* Loads config, script directory and revision map. */
int lm_cli_open_scripts(const lm_opts *o, lm_config **cfg, lm_script_dir *sd)
{
	memset(sd, 0, sizeof *sd);
	*cfg = lm_cli_load_config(o);
	if (!*cfg)
		return -1;
	if (lm_script_dir_open(*cfg, lm_cli_section(o), sd) != 0)
		return -1;
	return lm_script_dir_load(sd);
}

void lm_cli_apply_fleet_target(lm_config *cfg, const char *section)
{
	if (!getenv("LUAMIG_FLEET_TARGET"))
		return;
	const char *url = getenv("LUAMIG_FLEET_URL");
	const char *schema = getenv("LUAMIG_FLEET_SCHEMA");
	if (url && *url) {
		/* stored as written in the file, where a % is written %% */
		lm_buf b = {0};
		for (const char *p = url; *p; p++) {
			if (*p == '%')
				lm_buf_putc(&b, '%');
			lm_buf_putc(&b, *p);
		}
		lm_config_set(cfg, section, "sqlalchemy.url", lm_buf_str(&b));
		if (lm_config_get_raw(cfg, section, "url"))
			lm_config_set(cfg, section, "url", lm_buf_str(&b));
		lm_buf_dispose(&b);
	}
	if (schema && *schema)
		lm_config_set(cfg, section, "version_table_schema", schema);
}

void lm_cli_out(const lm_opts *o, const char *s)
{
	if (!o->quiet)
		fputs(s, stdout);
}

int lm_cli_is_true(const char *v)
{
	return v && (strcmp(v, "true") == 0 || strcmp(v, "True") == 0 || strcmp(v, "1") == 0 ||
	             strcmp(v, "yes") == 0 || strcmp(v, "on") == 0);
}

/* ---- main ----------------------------------------------------------------- */

static int parse_global(int argc, char **argv, lm_opts *o, int *next)
{
	const option *cands[16];
	size_t n = 0;
	for (const option *op = global_options; op->flag && n < 16; op++)
		cands[n++] = op;
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-')
			break;
		size_t namelen = 0;
		char err[512];
		const option *found =
		        a[1] ? match_option(cands, n, a, &namelen, err, sizeof err) : NULL;
		if (!found) {
			if (a[1] && err[0])
				usage_error(NULL, err, "");
			else
				usage_error(NULL, "unrecognized arguments: ", a);
			return -1;
		}
		int start = i;
		int rc = apply_option(NULL, found, argc, argv, &i, namelen, o);
		if (rc != 0)
			return rc;
		/* a fleet's targets run the same command line, less the fleet's options */
		if (found->field != offsetof(lm_opts, fleet) &&
		    found->field != offsetof(lm_opts, parallel) &&
		    found->field != offsetof(lm_opts, fail_fast))
			for (int k = start; k <= i; k++)
				lm_strv_push(&o->child_args, argv[k]);
	}
	if (o->raiseerr) /* Lua tracebacks in error messages (lua_host.c reads this). */
		setenv("LUAMIG_TRACEBACK", "1", 1);
	*next = i;
	return 0;
}

/* The commands a fleet runs on each target. */
static const char *const fleet_commands[] = {"upgrade", "downgrade", "current", "check",
                                             "lint",    "test",      "stamp",   NULL};

/* Checks --fleet, --parallel and --fail-fast against each other and the
 * command: 0, or -1 after a usage error. */
static int check_fleet_options(const command *c, const lm_opts *o)
{
	if (!o->fleet) {
		if (o->parallel || o->fail_fast)
			usage_error(NULL,
			            o->parallel ? "argument --parallel" : "argument --fail-fast",
			            ": only with --fleet");
		return o->parallel || o->fail_fast ? -1 : 0;
	}
	int known = 0;
	for (size_t i = 0; fleet_commands[i]; i++)
		if (strcmp(c->name, fleet_commands[i]) == 0)
			known = 1;
	if (!known) {
		usage_error(c, "argument --fleet: not allowed with the command ", c->name);
		return -1;
	}
	if (!o->fleet[0]) {
		usage_error(NULL, "argument --fleet: expected a fleet name", "");
		return -1;
	}
	if (o->sql) {
		usage_error(c, "argument --sql: not allowed with argument ", "--fleet");
		return -1;
	}
	if (o->parallel) {
		char *end = NULL;
		long n = strtol(o->parallel, &end, 10);
		if (!*o->parallel || *end || n < 1 || n > 1024) {
			char msg[160];
			snprintf(msg, sizeof msg,
			         "argument --parallel: invalid value: '%.80s' (a whole number from "
			         "1 "
			         "to 1024)",
			         o->parallel);
			usage_error(NULL, msg, "");
			return -1;
		}
	}
	return 0;
}

static int opts_gc(lua_State *L)
{
	opts_dispose(lua_touserdata(L, 1));
	return 0;
}

int lm_main(lua_State *L, int argc, char **argv)
{
	/* The options own lists (-x, --branch-label, ...): a userdata owns
	 * them, so that an error unwinding past here leaks nothing. */
	lm_opts *o = lua_newuserdatauv(L, sizeof *o, 0);
	memset(o, 0, sizeof *o);
	lua_createtable(L, 0, 1);
	lua_pushcfunction(L, opts_gc);
	lua_setfield(L, -2, "__gc");
	lua_setmetatable(L, -2);
	int next = 0;
	int rc = parse_global(argc, argv, o, &next);
	if (rc != 0)
		return rc > 0 ? LM_EXIT_OK : LM_EXIT_USAGE;
	if (next >= argc) {
		/* one line, as every other usage error */
		fprintf(stderr, "luamig: error: too few arguments (see 'luamig --help')\n");
		return LM_EXIT_USAGE;
	}
	const command *c = find_command(argv[next]);
	if (!c) {
		fprintf(stderr,
		        "luamig: error: argument command: invalid choice: '%s' (choose from ",
		        argv[next]);
		for (const command *k = commands; k->name; k++)
			fprintf(stderr, "%s'%s'", k == commands ? "" : ", ", k->name);
		fprintf(stderr, ")\n");
		return LM_EXIT_USAGE;
	}
	o->command = c->name;
	rc = parse_command_args(c, argc, argv, next + 1, o);
	if (rc != 0)
		return rc > 0 ? LM_EXIT_OK : LM_EXIT_USAGE;
	if (check_fleet_options(c, o) != 0)
		return LM_EXIT_USAGE;
	for (int k = next; k < argc; k++)
		lm_strv_push(&o->child_args, argv[k]);
	fflush(stdout);
	rc = c->run(L, o);
	if (rc < 0 && o->json)
		lm_json_report_failure(L, c->name);
	fflush(stdout);
	return rc;
}

/* ---- the tables, for what is generated from them ---------------------------- */

const lm_cli_option *lm_cli_global_options(void)
{
	return global_options;
}

const lm_cli_option *lm_cli_options(void)
{
	return options;
}

const lm_cli_command *lm_cli_commands(void)
{
	return commands;
}
