/*
 * cmd_convert.c — `luamig convert`: Alembic revision files (.py) to luamig
 * revision files (.lua). C resolves the command line into files (folders
 * listed, the alembic.ini of --ini read with configparser's rules, the
 * output folder's path); lua/luamig/convert.lua translates each file and
 * writes the results, making the output folder once there is something to
 * write. No Python runs and nothing of the input is executed.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd.h"
#include "lua_host.h"
#include "util.h"

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Appends the Alembic revision files of dir (*.py but __init__.py, sorted)
 * to out. 0, or -1 with the error slot set. */
static int list_py(const char *dir, lm_strv *out)
{
	DIR *d = opendir(dir);
	if (!d) {
		lm_error_set("%s: cannot read the folder", dir);
		return -1;
	}
	lm_strv names = {0};
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n > 3 && strcmp(e->d_name + n - 3, ".py") == 0 &&
		    strcmp(e->d_name, "__init__.py") != 0 && e->d_name[0] != '.')
			lm_strv_push_own(&names, lm_path_join(dir, e->d_name));
	}
	closedir(d);
	if (names.n)
		qsort(names.v, names.n, sizeof names.v[0], cmp_str);
	for (size_t i = 0; i < names.n; i++)
		lm_strv_push(out, names.v[i]);
	lm_strv_dispose(&names);
	return 0;
}

/* What the protected half gets. */
typedef struct convert_call {
	const lm_opts *o;
	const lm_strv *files;
	const char *output;   /* absolute, or NULL: beside each input */
	const char *ini;      /* absolute alembic.ini, or NULL */
	const char *location; /* its script_location, absolute */
	const char *url;      /* its sqlalchemy.url, or NULL */
	int ini_private;      /* alembic.ini is not for everyone to read: nor is luamig.ini */
} convert_call;

static void set_str(lua_State *L, const char *k, const char *v)
{
	if (!v)
		return;
	lua_pushstring(L, v);
	lua_setfield(L, -2, k);
}

/* Calls require("luamig.convert").main{files=, output=, ini=, ...}; leaves
 * its exit status. Runs under lm_lua_pcall: any of these may raise. */
static int run_convert(lua_State *L)
{
	const convert_call *cc = lua_touserdata(L, 1);
	lua_getglobal(L, "require");
	lua_pushliteral(L, "luamig.convert");
	lua_call(L, 1, 1);
	lua_getfield(L, -1, "main");
	lua_createtable(L, 0, 6);
	lua_createtable(L, (int)cc->files->n, 0);
	for (size_t i = 0; i < cc->files->n; i++) {
		lua_pushstring(L, cc->files->v[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_setfield(L, -2, "files");
	set_str(L, "output", cc->output);
	set_str(L, "ini", cc->ini);
	set_str(L, "script_location", cc->location);
	set_str(L, "url", cc->url);
	lua_pushboolean(L, cc->ini_private);
	lua_setfield(L, -2, "ini_private");
	lua_call(L, 1, 1);
	return 1;
}

int lm_cmd_convert(lua_State *L, lm_opts *o)
{
	lm_strv files = {0};
	lm_config *cfg = NULL;
	char *output = NULL, *ini = NULL, *location = NULL;
	const char *url = NULL;
	int rc = -1;
	int top = lua_gettop(L);
	if (o->positional.n == 0 && !o->ini) {
		fprintf(stderr,
		        "luamig convert: error: give Alembic revision files, a versions folder "
		        "or --ini alembic.ini (see 'luamig convert --help')\n");
		return LM_EXIT_USAGE;
	}
	if (o->output && !*o->output) {
		fprintf(stderr, "luamig convert: error: argument -o/--output: expected a folder "
		                "name, got ''\n");
		return LM_EXIT_USAGE;
	}
	if (o->ini) {
		cfg = lm_config_load(o->ini);
		if (!cfg)
			goto done;
		const char *loc = lm_config_get(cfg, "alembic", "script_location");
		if (!loc && lm_config_failed(cfg))
			goto done; /* configparser's message, naming file and line */
		if (!loc) {
			lm_error_set("%s: no 'script_location' key in the [alembic] section",
			             o->ini);
			goto done;
		}
		if (lm_config_get(cfg, "alembic", "version_locations")) {
			lm_error_set("%s: version_locations is not handled by convert --ini; "
			             "convert each "
			             "folder with luamig convert and set version_locations in "
			             "luamig.ini",
			             o->ini);
			goto done;
		}
		ini = lm_path_abs(o->ini);
		/* Alembic resolves a relative script_location from the working
		 * folder, as luamig does. */
		location = lm_path_abs(loc);
		url = lm_config_get(cfg, "alembic", "sqlalchemy.url");
		/* a value Alembic's configparser would refuse too (a bare '%') */
		if (!url && lm_config_failed(cfg))
			goto done;
		char *versions = lm_path_join(location, "versions");
		int lrc = list_py(versions, &files);
		free(versions);
		if (lrc != 0)
			goto done;
	}
	for (size_t i = 0; i < o->positional.n; i++) {
		const char *p = o->positional.v[i];
		struct stat st;
		if (stat(p, &st) != 0) {
			lm_error_set("%s: no such file or folder", p);
			goto done;
		}
		if (S_ISDIR(st.st_mode)) {
			if (list_py(p, &files) != 0)
				goto done;
		} else {
			lm_strv_push(&files, p);
		}
	}
	/* the output folder is made by convert.lua, once something is to be
	 * written in it: a run where every file fails leaves none behind */
	if (o->output)
		output = lm_path_abs(o->output);
	struct stat ist;
	int ini_private = o->ini && stat(o->ini, &ist) == 0 && !(ist.st_mode & S_IROTH);
	convert_call cc = {o, &files, output, ini, location, url, ini_private};
	lua_pushcfunction(L, run_convert);
	lua_pushlightuserdata(L, &cc);
	rc = lm_lua_pcall(L, 1, 1);
	if (rc == 0 && lua_isinteger(L, -1))
		rc = (int)lua_tointeger(L, -1);
done:
	lua_settop(L, top);
	free(output);
	free(ini);
	free(location);
	lm_config_free(cfg);
	lm_strv_dispose(&files);
	return rc;
}
