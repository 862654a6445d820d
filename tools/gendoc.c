/*
 * gendoc.c — the build tool that writes luamig's manual page and its shell
 * completion scripts from the option and command tables the command line
 * itself parses with (cli.h), so that neither can drift from the binary
 * (not part of the engine: CMake builds it against luamig_core and runs
 * it at build time).
 *
 * Usage: gendoc man|bash|zsh|fish OUT
 *
 * What an option's value is (a file, a folder, a revision, a template
 * name) is read from its metavar and a positional's from its usage name:
 * value_kind below is the one place that says so. Revisions are completed
 * from `luamig history` of the project being typed in (its -c/-n options
 * passed on), plus the symbolic names head, heads and base.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "template.h"

typedef enum { V_NONE, V_FILE, V_DIR, V_REVISION, V_TEMPLATE } value_kind;

/* What a metavar or positional name stands for, for completion. */
static value_kind value_kind_of(const char *name)
{
	static const struct {
		const char *name;
		value_kind kind;
	} kinds[] = {
	        {"CONFIG", V_FILE},
	        {"VERSION_PATH", V_DIR},
	        {"directory", V_DIR},
	        {"HEAD", V_REVISION},
	        {"DEPENDS_ON", V_REVISION},
	        {"REV_RANGE", V_REVISION},
	        {"revision", V_REVISION},
	        {"revisions", V_REVISION},
	        {"rev", V_REVISION},
	        {"TEMPLATE", V_TEMPLATE},
	        {"REVISION", V_REVISION},
	        {"revision_range", V_REVISION},
	        {"DIR", V_DIR},
	        {"ALEMBIC_INI", V_FILE},
	        {"paths", V_FILE},
	};
	for (size_t i = 0; name && i < sizeof kinds / sizeof kinds[0]; i++)
		if (strcmp(kinds[i].name, name) == 0)
			return kinds[i].kind;
	return V_NONE;
}

static int accepts(const lm_cli_command *c, const lm_cli_option *op)
{
	return (c->options & op->flag) != 0;
}

/* The template names init knows (lm_template_names), space-separated. */
static void template_names(char *buf, size_t size)
{
	lm_strv names = {0};
	lm_template_names(&names);
	buf[0] = '\0';
	for (size_t i = 0; i < names.n; i++) {
		size_t len = strlen(buf);
		snprintf(buf + len, size - len, "%s%s", len ? " " : "", names.v[i]);
	}
	lm_strv_dispose(&names);
}

/* ---- the manual page ------------------------------------------------------ */

/* Writes text for roff: backslashes and hyphens escaped, a line never
 * starting with a control character. */
static void roff(FILE *f, const char *s)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", f);
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\e", f);
		else if (*s == '-')
			fputs("\\-", f);
		else
			fputc(*s, f);
	}
}

/* "\fB-c\fR \fICONFIG\fR, \fB--config\fR \fICONFIG\fR" */
static void man_invocation(FILE *f, const lm_cli_option *op)
{
	const char *names[2] = {op->shortname, op->longname};
	int first = 1;
	for (int k = 0; k < 2; k++) {
		if (!names[k])
			continue;
		fputs(first ? "\\fB" : ", \\fB", f);
		roff(f, names[k]);
		fputs("\\fR", f);
		if (op->metavar) {
			fputs(" \\fI", f);
			roff(f, op->metavar);
			fputs("\\fR", f);
		}
		first = 0;
	}
}

static void man_option(FILE *f, const lm_cli_option *op)
{
	fputs(".TP\n", f);
	man_invocation(f, op);
	fputc('\n', f);
	roff(f, op->help);
	fputc('\n', f);
}

static void man_usage_option(FILE *f, const lm_cli_option *op)
{
	fputs("[\\fB", f);
	roff(f, op->shortname ? op->shortname : op->longname);
	fputs("\\fR", f);
	if (op->metavar) {
		fputs(" \\fI", f);
		roff(f, op->metavar);
		fputs("\\fR", f);
	}
	fputs("]\n", f);
}

static void write_man(FILE *f)
{
	const lm_cli_option *globals = lm_cli_global_options();
	fprintf(f,
	        ".\\\" luamig(1), generated from the command line's tables by tools/gendoc.c\n"
	        ".TH LUAMIG 1 \"\" \"luamig %s\" \"User Commands\"\n"
	        ".nh\n"
	        ".SH NAME\n"
	        "luamig \\- database schema migrations in Lua, the Alembic way\n"
	        ".SH SYNOPSIS\n"
	        ".B luamig\n",
	        LUAMIG_VERSION);
	for (const lm_cli_option *op = globals; op->flag; op++)
		man_usage_option(f, op);
	fputs(".I command\n[\\fIoptions\\fR] [\\fIarguments\\fR]\n"
	      ".SH DESCRIPTION\n"
	      "\\fBluamig\\fR runs database schema migrations written in Lua against SQLite and "
	      "PostgreSQL, with the commands, options, files and messages of Alembic.\n"
	      "Revision files live in the script directory named by \\fIscript_location\\fR in "
	      "\\fIluamig.ini\\fR; \\fIenv.lua\\fR in that directory connects to the database.\n"
	      ".PP\n"
	      "Global options come before the command; each command's options after it.\n"
	      "A long option may be shortened to any unambiguous prefix "
	      "(\\fB\\-\\-autogen\\fR for \\fB\\-\\-autogenerate\\fR).\n"
	      ".SH OPTIONS\n",
	      f);
	for (const lm_cli_option *op = globals; op->flag; op++)
		man_option(f, op);
	fputs(".SH COMMANDS\n", f);
	for (const lm_cli_command *c = lm_cli_commands(); c->name; c++) {
		fprintf(f, ".SS %s\n.B luamig %s\n[\\fB\\-h\\fR]\n", c->name, c->name);
		for (const lm_cli_option *op = lm_cli_options(); op->flag; op++)
			if (accepts(c, op))
				man_usage_option(f, op);
		if (c->positional && c->min_pos == 0 && c->max_pos == 1) {
			fputs("[\\fI", f); /* optional, as the usage line shows it */
			roff(f, c->positional);
			fputs("\\fR]\n", f);
		} else if (c->positional) {
			fputs(".I ", f);
			roff(f, c->positional);
			fputc('\n', f);
			if (c->max_pos < 0) {
				fputs("[\\fI", f);
				roff(f, c->positional);
				fputs("\\fR ...]\n", f);
			}
		}
		fputs(".PP\n", f);
		roff(f, c->summary);
		fputs("\n.RS\n", f);
		if (c->positional) {
			fputs(".TP\n\\fI", f);
			roff(f, c->positional);
			fputs("\\fR\n", f);
			roff(f, c->positional_help);
			fputc('\n', f);
		}
		for (const lm_cli_option *op = lm_cli_options(); op->flag; op++)
			if (accepts(c, op))
				man_option(f, op);
		fputs(".RE\n", f);
	}
	fputs(".SH ENVIRONMENT\n"
	      ".TP\n.B LUAMIG_CONFIG\nThe config file when \\fB\\-c\\fR is not given "
	      "(default \\fIluamig.ini\\fR).\n"
	      ".TP\n.BR EDITOR \", \" VISUAL\nThe editor of \\fBluamig edit\\fR.\n"
	      ".TP\n.B LUAMIG_CACHE_DIR\nWhere the caches of revision headers (and of the "
	      "versions folders' listings, used while a folder's mtime and ctime are "
	      "unchanged) and of the compiled code of revision files and of the modules env.lua "
	      "requires (models.lua) are kept, a folder of their own "
	      "(default \\fI$XDG_CACHE_HOME/luamig\\fR or \\fI~/.cache/luamig\\fR); "
	      "a run that writes to them removes, at most once a day, the cache files "
	      "unused for 30 days; deleting the folder is always safe; "
	      "\\fBLUAMIG_NO_CACHE\\fR=1 turns them off.\n"
	      ".SH FILES\n"
	      ".TP\n.I luamig.ini\nThe configuration: the \\fI[luamig]\\fR section "
	      "(\\fIscript_location\\fR, \\fIurl\\fR, \\fIhistory_table\\fR, ...) and "
	      "\\fI[post_write_hooks]\\fR.\n"
	      ".TP\n.I <script_location>/env.lua\nConnects and runs the migrations, as Alembic's "
	      "env.py.\n"
	      ".TP\n.I <script_location>/versions/*.lua\nThe revision files.\n"
	      ".SH EXIT STATUS\n"
	      "0 on success, 1 when the command failed (one line on standard error says why), "
	      "2 for a usage error.\n"
	      ".SH SEE ALSO\n"
	      "The README of luamig; Alembic's documentation for the commands' meaning.\n",
	      f);
}

/* ---- bash ------------------------------------------------------------------- */

/* The words of the options that take a value of kind k, among the global
 * options (c NULL) or c's options, space-separated, into buf. */
static void option_words(const lm_cli_command *c, int want_value, int kind, char *buf, size_t size)
{
	const lm_cli_option *table = c ? lm_cli_options() : lm_cli_global_options();
	size_t len = strlen(buf);
	for (const lm_cli_option *op = table; op->flag; op++) {
		if (c && !accepts(c, op))
			continue;
		if (want_value &&
		    (!op->metavar || (kind >= 0 && (int)value_kind_of(op->metavar) != kind)))
			continue;
		const char *names[2] = {op->shortname, op->longname};
		for (int k = 0; k < 2; k++)
			if (names[k]) {
				snprintf(buf + len, size - len, "%s%s", len ? " " : "", names[k]);
				len = strlen(buf);
			}
	}
}

static void write_bash(FILE *f)
{
	char templates[512];
	template_names(templates, sizeof templates);
	char globals[512] = "", gvalue[512] = "";
	option_words(NULL, 0, -1, globals, sizeof globals);
	option_words(NULL, 1, -1, gvalue, sizeof gvalue);
	fprintf(f, "# bash completion for luamig, generated from its command line's tables "
	           "by tools/gendoc.c\n\n");
	/* the revisions of the project on the command line: history's targets */
	fputs("_luamig_revisions()\n{\n"
	      "\tlocal -a args=()\n"
	      "\tlocal i w\n"
	      "\tfor ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do\n"
	      "\t\tw=${COMP_WORDS[i]}\n"
	      "\t\tcase $w in\n"
	      "\t\t-c | --config | -n | --name) args+=(\"$w\" \"${COMP_WORDS[i + 1]}\") ;;\n"
	      "\t\t--config=* | --name=*) args+=(\"$w\") ;;\n"
	      "\t\tesac\n"
	      "\tdone\n"
	      "\tprintf '%s\\n' head heads base\n"
	      "\t\"${COMP_WORDS[0]}\" \"${args[@]}\" history 2>/dev/null |\n"
	      "\t\tawk -F' -> ' 'NF > 1 { split($2, a, /[ ,]/); print a[1] }'\n"
	      "}\n\n",
	      f);
	fputs("_luamig()\n{\n"
	      "\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}\n"
	      "\tlocal cmd=\"\" i\n"
	      "\tCOMPREPLY=()\n"
	      "\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
	      "\t\tcase ${COMP_WORDS[i]} in\n",
	      f);
	/* the global options that take a value skip it: "-c|--config|..." */
	for (char *p = gvalue; *p; p++)
		if (*p == ' ')
			*p = '|';
	fprintf(f, "\t\t%s) ((i++)) ;;\n", gvalue);
	fputs("\t\t-*) ;;\n"
	      "\t\t*)\n\t\t\tcmd=${COMP_WORDS[i]}\n\t\t\tbreak\n\t\t\t;;\n"
	      "\t\tesac\n"
	      "\tdone\n"
	      "\tlocal words=\"\" revision_opts=\"\" dir_opts=\"\" "
	      "template_opts=\"\" "
	      "value_opts=\"\" positional=\"\"\n"
	      "\tcase $cmd in\n",
	      f);
	char cmds[1024] = "";
	for (const lm_cli_command *c = lm_cli_commands(); c->name; c++) {
		size_t len = strlen(cmds);
		snprintf(cmds + len, sizeof cmds - len, "%s%s", len ? " " : "", c->name);
		char all[1024] = "-h --help", val[512] = "", rev[512] = "", dir[512] = "",
		     tpl[512] = "";
		option_words(c, 0, -1, all, sizeof all);
		option_words(c, 1, -1, val, sizeof val);
		option_words(c, 1, V_REVISION, rev, sizeof rev);
		option_words(c, 1, V_DIR, dir, sizeof dir);
		option_words(c, 1, V_TEMPLATE, tpl, sizeof tpl);
		static const char *kind_names[] = {"", "file", "dir", "revision", "template"};
		fprintf(f,
		        "\t%s)\n\t\twords=\"%s\"\n\t\tvalue_opts=\" %s \"\n\t\trevision_opts=\" %s "
		        "\"\n"
		        "\t\tdir_opts=\" %s \"\n\t\ttemplate_opts=\" %s "
		        "\"\n\t\tpositional=%s\n\t\t;;\n",
		        c->name, all, val, rev, dir, tpl,
		        c->positional && value_kind_of(c->positional) != V_NONE
		                ? kind_names[value_kind_of(c->positional)]
		                : "\"\"");
	}
	fprintf(f,
	        "\t\"\")\n"
	        "\t\tcase $prev in\n"
	        "\t\t-c | --config)\n\t\t\tCOMPREPLY=($(compgen -f -- "
	        "\"$cur\"))\n\t\t\treturn\n\t\t\t;;\n"
	        "\t\t-n | --name | -x) return ;;\n"
	        "\t\tesac\n"
	        "\t\tif [[ $cur == -* ]]; then\n"
	        "\t\t\tCOMPREPLY=($(compgen -W \"%s\" -- \"$cur\"))\n"
	        "\t\telse\n"
	        "\t\t\tCOMPREPLY=($(compgen -W \"%s\" -- \"$cur\"))\n"
	        "\t\tfi\n"
	        "\t\treturn\n"
	        "\t\t;;\n"
	        "\t*) return ;;\n"
	        "\tesac\n",
	        globals, cmds);
	fprintf(f,
	        "\tif [[ $revision_opts == *\" $prev \"* ]]; then\n"
	        "\t\tCOMPREPLY=($(compgen -W \"$(_luamig_revisions)\" -- \"$cur\"))\n"
	        "\telif [[ $dir_opts == *\" $prev \"* ]]; then\n"
	        "\t\tCOMPREPLY=($(compgen -d -- \"$cur\"))\n"
	        "\telif [[ $template_opts == *\" $prev \"* ]]; then\n"
	        "\t\tCOMPREPLY=($(compgen -W \"%s\" -- \"$cur\"))\n"
	        "\telif [[ $value_opts == *\" $prev \"* ]]; then\n"
	        "\t\treturn\n"
	        "\telif [[ $cur == -* ]]; then\n"
	        "\t\tCOMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
	        "\telif [[ $positional == revision ]]; then\n"
	        "\t\tCOMPREPLY=($(compgen -W \"$(_luamig_revisions)\" -- \"$cur\"))\n"
	        "\telif [[ $positional == dir ]]; then\n"
	        "\t\tCOMPREPLY=($(compgen -d -- \"$cur\"))\n"
	        "\telif [[ $positional == file ]]; then\n"
	        "\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n"
	        "\tfi\n"
	        "}\n\n"
	        "complete -F _luamig luamig\n",
	        templates);
}

/* ---- zsh --------------------------------------------------------------------- */

/* Writes s for a zsh single-quoted _arguments spec's description: quotes
 * closed and reopened, brackets and colons escaped. */
static void zsh_desc(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", f);
		else if (*s == '[' || *s == ']' || *s == ':' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else
			fputc(*s, f);
	}
}

static const char *zsh_action(value_kind k)
{
	switch (k) {
	case V_FILE:
		return "_files";
	case V_DIR:
		return "_files -/";
	case V_REVISION:
		return "_luamig_revisions";
	case V_TEMPLATE:
		return "_luamig_templates";
	default:
		return " ";
	}
}

/* One _arguments spec per option: '(-c --config)'{-c+,--config=}'[help]:CONFIG:_files' */
static void zsh_option(FILE *f, const lm_cli_option *op)
{
	const char *val = op->metavar ? (op->shortname ? "+" : "=") : "";
	fputs("\t\t'", f);
	if (op->shortname && op->longname)
		fprintf(f, "(%s %s)'{%s%s,%s%s}'", op->shortname, op->longname, op->shortname,
		        op->metavar ? "+" : "", op->longname, op->metavar ? "=" : "");
	else if (op->kind == 'l')
		fprintf(f, "*%s%s", op->shortname ? op->shortname : op->longname, val);
	else
		fprintf(f, "%s%s", op->shortname ? op->shortname : op->longname, val);
	fputc('[', f);
	zsh_desc(f, op->help);
	fputc(']', f);
	if (op->metavar)
		fprintf(f, ":%s:%s", op->metavar, zsh_action(value_kind_of(op->metavar)));
	fputs("' \\\n", f);
}

static void write_zsh(FILE *f)
{
	char templates[512];
	template_names(templates, sizeof templates);
	fputs("#compdef luamig\n"
	      "# zsh completion for luamig, generated from its command line's tables by "
	      "tools/gendoc.c\n\n",
	      f);
	/* _luamig keeps the whole command line in luamig_words: _arguments
	 * shifts words to the command's own */
	fputs("_luamig_revisions() {\n"
	      "\tlocal -a revs args\n"
	      "\tlocal i\n"
	      "\tfor ((i = 2; i < ${#luamig_words}; i++)); do\n"
	      "\t\tcase ${luamig_words[i]} in\n"
	      "\t\t-c | --config | -n | --name) args+=(${luamig_words[i]} ${luamig_words[i+1]}) "
	      ";;\n"
	      "\t\t--config=* | --name=*) args+=(${luamig_words[i]}) ;;\n"
	      "\t\tesac\n"
	      "\tdone\n"
	      "\trevs=(head heads base ${(f)\"$(_call_program revisions ${luamig_words[1]} ${args} "
	      "history 2>/dev/null | awk -F' -> ' 'NF > 1 { split($2, a, /[ ,]/); print a[1] "
	      "}')\"})\n"
	      "\t_describe -t revisions revision revs\n"
	      "}\n\n",
	      f);
	fprintf(f,
	        "_luamig_templates() {\n\tlocal -a t=(%s)\n\t_describe -t templates template "
	        "t\n}\n\n",
	        templates);
	fputs("_luamig() {\n"
	      "\tlocal curcontext=$curcontext state line ret=1\n"
	      "\tlocal -a luamig_words=(\"${words[@]}\")\n"
	      "\t_arguments -C \\\n",
	      f);
	for (const lm_cli_option *op = lm_cli_global_options(); op->flag; op++) {
		if (op->kind == 'h' || op->kind == 'V') {
			/* help and version end the command line */
			fputs("\t\t'(- *)'", f);
			if (op->shortname)
				fprintf(f, "{%s,%s}'", op->shortname, op->longname);
			else
				fprintf(f, "'%s", op->longname);
			fputc('[', f);
			zsh_desc(f, op->help);
			fputs("]' \\\n", f);
		} else {
			zsh_option(f, op);
		}
	}
	fputs("\t\t'1:command:->command' \\\n"
	      "\t\t'*::argument:->argument' && ret=0\n"
	      "\tcase $state in\n"
	      "\tcommand)\n"
	      "\t\tlocal -a commands=(\n",
	      f);
	for (const lm_cli_command *c = lm_cli_commands(); c->name; c++) {
		fprintf(f, "\t\t\t'%s:", c->name);
		for (const char *s = c->summary; *s; s++) {
			if (*s == '\'')
				fputs("'\\''", f);
			else
				fputc(*s, f);
		}
		fputs("'\n", f);
	}
	fputs("\t\t)\n"
	      "\t\t_describe -t commands 'luamig command' commands && ret=0\n"
	      "\t\t;;\n"
	      "\targument)\n"
	      "\t\tcurcontext=${curcontext%:*:*}:luamig-$words[1]:\n"
	      "\t\tcase $words[1] in\n",
	      f);
	for (const lm_cli_command *c = lm_cli_commands(); c->name; c++) {
		fprintf(f, "\t\t%s)\n\t\t\t_arguments \\\n", c->name);
		fputs("\t\t\t\t'(- *)'{-h,--help}'[show this help message and exit]' \\\n", f);
		for (const lm_cli_option *op = lm_cli_options(); op->flag; op++) {
			if (!accepts(c, op))
				continue;
			fputs("\t\t", f);
			zsh_option(f, op);
		}
		if (c->positional) {
			fprintf(f, "\t\t\t\t'%s:%s:%s' \\\n", c->max_pos < 0 ? "*" : "1",
			        c->positional, zsh_action(value_kind_of(c->positional)));
		}
		fputs("\t\t\t\t&& ret=0\n\t\t\t;;\n", f);
	}
	fputs("\t\tesac\n"
	      "\t\t;;\n"
	      "\tesac\n"
	      "\treturn ret\n"
	      "}\n\n"
	      "_luamig \"$@\"\n",
	      f);
}

/* ---- fish -------------------------------------------------------------------- */

/* Writes s single-quoted for fish. */
static void fish_quote(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('\'', f);
}

static void fish_option(FILE *f, const char *condition, const lm_cli_option *op,
                        const char *templates)
{
	fprintf(f, "complete -c luamig -n %s", condition);
	if (op->shortname)
		fprintf(f, " -s %s", op->shortname + 1);
	if (op->longname)
		fprintf(f, " -l %s", op->longname + 2);
	if (op->metavar) {
		switch (value_kind_of(op->metavar)) {
		case V_FILE:
			fputs(" -r -F", f);
			break;
		case V_DIR:
			fputs(" -r -a '(__fish_complete_directories)'", f);
			break;
		case V_REVISION:
			fputs(" -r -a '(__luamig_revisions)'", f);
			break;
		case V_TEMPLATE:
			fprintf(f, " -r -a '%s'", templates);
			break;
		default:
			fputs(" -r", f);
		}
	}
	fputs(" -d ", f);
	fish_quote(f, op->help);
	fputc('\n', f);
}

static void write_fish(FILE *f)
{
	char templates[512];
	template_names(templates, sizeof templates);
	char cmds[1024] = "";
	for (const lm_cli_command *c = lm_cli_commands(); c->name; c++) {
		size_t len = strlen(cmds);
		snprintf(cmds + len, sizeof cmds - len, "%s%s", len ? " " : "", c->name);
	}
	fputs("# fish completion for luamig, generated from its command line's tables by "
	      "tools/gendoc.c\n\n",
	      f);
	fputs("function __luamig_revisions\n"
	      "    set -l tokens (commandline -opc)\n"
	      "    set -l args\n"
	      "    for i in (seq 2 (count $tokens))\n"
	      "        switch $tokens[$i]\n"
	      "            case -c --config -n --name\n"
	      "                set -a args $tokens[$i] $tokens[(math $i + 1)]\n"
	      "            case '--config=*' '--name=*'\n"
	      "                set -a args $tokens[$i]\n"
	      "        end\n"
	      "    end\n"
	      "    printf '%s\\n' head heads base\n"
	      "    $tokens[1] $args history 2>/dev/null | "
	      "awk -F' -> ' 'NF > 1 { split($2, a, /[ ,]/); print a[1] }'\n"
	      "end\n\n",
	      f);
	fputs("complete -c luamig -f\n", f);
	char cond[1200];
	snprintf(cond, sizeof cond, "'not __fish_seen_subcommand_from %s'", cmds);
	for (const lm_cli_option *op = lm_cli_global_options(); op->flag; op++)
		fish_option(f, cond, op, templates);
	for (const lm_cli_command *c = lm_cli_commands(); c->name; c++) {
		fprintf(f, "complete -c luamig -n %s -a %s -d ", cond, c->name);
		fish_quote(f, c->summary);
		fputc('\n', f);
	}
	for (const lm_cli_command *c = lm_cli_commands(); c->name; c++) {
		char ccond[128];
		snprintf(ccond, sizeof ccond, "'__fish_seen_subcommand_from %s'", c->name);
		fprintf(f,
		        "complete -c luamig -n %s -s h -l help -d 'show this help message and "
		        "exit'\n",
		        ccond);
		for (const lm_cli_option *op = lm_cli_options(); op->flag; op++)
			if (accepts(c, op))
				fish_option(f, ccond, op, templates);
		if (c->positional) {
			value_kind k = value_kind_of(c->positional);
			if (k == V_REVISION)
				fprintf(f, "complete -c luamig -n %s -a '(__luamig_revisions)'\n",
				        ccond);
			else if (k == V_DIR)
				fprintf(f,
				        "complete -c luamig -n %s -a "
				        "'(__fish_complete_directories)'\n",
				        ccond);
		}
	}
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: gendoc man|bash|zsh|fish OUT\n");
		return 2;
	}
	void (*write)(FILE *) = NULL;
	if (strcmp(argv[1], "man") == 0)
		write = write_man;
	else if (strcmp(argv[1], "bash") == 0)
		write = write_bash;
	else if (strcmp(argv[1], "zsh") == 0)
		write = write_zsh;
	else if (strcmp(argv[1], "fish") == 0)
		write = write_fish;
	if (!write) {
		fprintf(stderr, "gendoc: unknown output '%s'\n", argv[1]);
		return 2;
	}
	FILE *f = fopen(argv[2], "w");
	if (!f) {
		perror(argv[2]);
		return 1;
	}
	write(f);
	if (fclose(f) != 0) {
		perror(argv[2]);
		return 1;
	}
	return 0;
}
