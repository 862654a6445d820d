/*
 * cmd_init.c — `init` (a new scripts directory and luamig.ini from an
 * embedded template) and `list_templates`.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "embedded.h"
#include "lua_host.h"
#include "template.h"

int lm_cmd_list_templates(lua_State *L, lm_opts *o)
{
	(void)L; /* runs no Lua */
	lm_strv names = {0};
	lm_template_names(&names);
	lm_cli_out(o, "Available templates:\n\n");
	for (size_t i = 0; i < names.n; i++) {
		char *readme = lm_sprintf("templates/%s/README", names.v[i]);
		size_t len;
		char *to_free;
		const char *text = lm_lua_file(readme, &len, &to_free);
		char *first = text ? lm_strndup(text, strcspn(text, "\n")) : lm_strdup("");
		char *line = lm_sprintf("%s - %s\n", names.v[i], first);
		lm_cli_out(o, line);
		free(line);
		free(first);
		free(to_free);
		free(readme);
	}
	lm_cli_out(o,
	           "\nTemplates are used via the 'init' command, e.g.:\n\n  luamig init --template "
	           "generic ./scripts\n");
	lm_strv_dispose(&names);
	return 0;
}

static int dir_is_empty(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return 1;
	struct dirent *e;
	int empty = 1;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			empty = 0;
	closedir(d);
	return empty;
}

/* script_location as the ini should say it: "%(here)s/<dir>" when the
 * folder sits below the ini's folder, else the absolute path. */
static char *script_location_for(const char *ini_abs, const char *dir_abs)
{
	char *here = lm_path_dirname(ini_abs);
	size_t n = strlen(here);
	char *loc;
	if (strncmp(dir_abs, here, n) == 0 && dir_abs[n] == '/')
		loc = lm_sprintf("%%(here)s/%s", dir_abs + n + 1);
	else if (strcmp(here, "/") == 0)
		loc = lm_sprintf("%%(here)s%s", dir_abs);
	else
		loc = lm_strdup(dir_abs);
	free(here);
	return loc;
}

int lm_cmd_init(lua_State *L, lm_opts *o)
{
	(void)L; /* runs no Lua */
	const char *tmpl = o->template_name ? o->template_name : "generic";
	const char *directory = o->positional.v[0];
	lm_strv names = {0};
	lm_template_names(&names);
	int known = lm_strv_contains(&names, tmpl);
	lm_strv_dispose(&names);
	if (!known) {
		lm_error_set("No such template '%s'", tmpl);
		return -1;
	}
	char *dir = lm_path_abs(directory);
	char *ini = lm_path_abs(lm_cli_config_path(o));
	int rc = -1;
	if (lm_file_exists(dir) && !dir_is_empty(dir)) {
		lm_error_set("Directory %s already exists and is not empty", directory);
		goto done;
	}
	char *versions = lm_path_join(dir, "versions");
	if (!lm_file_exists(dir)) {
		char *msg = lm_sprintf("Creating directory '%s' ...  ", dir);
		lm_cli_out(o, msg);
		free(msg);
		if (lm_mkdir_p(dir) != 0) {
			free(versions);
			goto done;
		}
		lm_cli_out(o, "done\n");
	}
	char *msg = lm_sprintf("Creating directory '%s' ...  ", versions);
	lm_cli_out(o, msg);
	free(msg);
	int ok = lm_mkdir_p(versions) == 0;
	free(versions);
	if (!ok)
		goto done;
	lm_cli_out(o, "done\n");
	char *prefix = lm_sprintf("templates/%s/", tmpl);
	size_t plen = strlen(prefix);
	for (const lm_embedded_file *f = lm_embedded_files; f->name; f++) {
		if (strncmp(f->name, prefix, plen) != 0)
			continue;
		const char *rel = f->name + plen;
		size_t len;
		char *to_free;
		const char *data = lm_lua_file(f->name, &len, &to_free);
		if (!data) {
			free(prefix);
			goto done;
		}
		if (strcmp(rel, "luamig.ini.tmpl") == 0) {
			if (lm_file_exists(ini)) {
				char *m2 = lm_sprintf("File '%s' already exists, skipping\n", ini);
				lm_cli_out(o, m2);
				free(m2);
				free(to_free);
				continue;
			}
			lm_vars vars = {0};
			char *loc = script_location_for(ini, dir);
			lm_vars_set(&vars, "script_location", loc);
			free(loc);
			char *text = lm_render(data, &vars, f->name);
			lm_vars_dispose(&vars);
			free(to_free);
			if (!text) {
				free(prefix);
				goto done;
			}
			char *m2 = lm_sprintf("Generating %s ...  ", ini);
			lm_cli_out(o, m2);
			free(m2);
			ok = lm_write_file(ini, text, strlen(text)) == 0;
			free(text);
			if (!ok) {
				free(prefix);
				goto done;
			}
			lm_cli_out(o, "done\n");
			continue;
		}
		char *dest = lm_path_join(dir, rel);
		char *m2 = lm_sprintf("Generating %s ...  ", dest);
		lm_cli_out(o, m2);
		free(m2);
		ok = lm_write_file(dest, data, len) == 0;
		free(dest);
		free(to_free);
		if (!ok) {
			free(prefix);
			goto done;
		}
		lm_cli_out(o, "done\n");
	}
	free(prefix);
	msg = lm_sprintf("Please edit configuration/connection/logging settings in '%s' before "
	                 "proceeding.\n",
	                 ini);
	lm_cli_out(o, msg);
	free(msg);
	rc = 0;
done:
	free(dir);
	free(ini);
	return rc;
}
