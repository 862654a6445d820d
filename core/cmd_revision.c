/*
 * cmd_revision.c — `revision` and `merge`: a new revision file written from
 * the script directory's script.lua.tmpl, then the post-write hooks. With
 * --autogenerate or revision_environment, env.lua runs first (through
 * the Lua runtime) and says what goes into the file.
 */
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "hooks.h"
#include "lua_core.h"
#include "lua_host.h"
#include "revmap.h"
#include "template.h"

typedef struct new_revision {
	const char *message;
	lm_strv heads; /* ident(s) to base the revision on */
	int splice;
	const lm_strv *branch_labels;
	const lm_strv *depends_on;
	const char *version_path;
	const char *rev_id;
	int multiple_heads_is_merge_hint;
	/* What env.lua produced (autogenerate); NULL = nothing. */
	const char *upgrades, *downgrades, *imports;
	/* Bodies rendered under a context's upgrade_token / downgrade_token
	 * ("engine1_upgrades": the multidb template); NULL = none. */
	const lm_vars *tokens;
} new_revision;

/* Where the new file goes: --version-path, the folder of its first
 * parent, or the only version location (Alembic's rules). */
static char *choose_version_path(const lm_script_dir *sd, const char *version_path,
                                 const lm_strv *parents)
{
	char *path = NULL;
	if (version_path) {
		path = lm_path_abs(version_path);
	} else if (sd->version_locations.n > 1) {
		for (size_t i = 0; i < parents->n && !path; i++) {
			const lm_revision *r = lm_revmap_get(sd->map, parents->v[i]);
			if (r)
				path = lm_path_dirname(r->path);
		}
		if (!path) {
			lm_error_set("Multiple version locations present, please specify "
			             "--version-path");
			return NULL;
		}
	} else {
		path = lm_strdup(sd->version_locations.v[0]);
	}
	/* With recursive_version_locations a parent's subfolder is fine too. */
	for (size_t i = 0; i < sd->version_locations.n; i++) {
		const char *vl = sd->version_locations.v[i];
		size_t n = strlen(vl);
		if (strcmp(vl, path) == 0 ||
		    (sd->recursive && strncmp(vl, path, n) == 0 && path[n] == '/'))
			return path;
	}
	lm_error_set("Path %s is not represented in current version locations",
	             version_path ? version_path : path);
	free(path);
	return NULL;
}

static char *read_script_template(const lm_script_dir *sd)
{
	char *tmpl_path = lm_path_join(sd->dir, "script.lua.tmpl");
	char *text = lm_read_file(tmpl_path, NULL);
	free(tmpl_path);
	return text;
}

/* ${database_functions} of the multidb template (Alembic's multidb script.py.mako): for
 * each name of the "databases" option (comma or space separated), an empty
 * upgrade_<name>() and downgrade_<name>(), which upgrade({ engine_name = ... }) calls.
 * Returns a new string ("" without the option), or NULL with the error set when a name
 * cannot be a Lua function name. */
static char *database_functions(lm_config *cfg, const char *section, const lm_vars *tokens)
{
	const char *dbs = lm_config_get(cfg, section, "databases");
	lm_buf b = {0};
	for (const char *p = dbs ? dbs : ""; *p;) {
		size_t skip = strspn(p, ", \t\n");
		p += skip;
		size_t n = strcspn(p, ", \t\n");
		if (n == 0)
			break;
		int valid = p[0] == '_' || ((p[0] | 0x20) >= 'a' && (p[0] | 0x20) <= 'z');
		for (size_t i = 0; i < n; i++) {
			char c = p[i];
			if (!(c == '_' || (c >= '0' && c <= '9') ||
			      ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')))
				valid = 0;
		}
		if (!valid) {
			lm_error_set(
			        "databases: '%.*s' cannot name the functions upgrade_%.*s() and "
			        "downgrade_%.*s() (letters, digits and _ only)",
			        (int)n, p, (int)n, p, (int)n, p);
			lm_buf_dispose(&b);
			return NULL;
		}
		/* the body autogenerate rendered for this database (its upgrade_token
		 * is "<name>_upgrades"), as Alembic's template fills it */
		char *up_key = lm_sprintf("%.*s_upgrades", (int)n, p);
		char *down_key = lm_sprintf("%.*s_downgrades", (int)n, p);
		const char *up = tokens ? lm_vars_get(tokens, up_key) : NULL;
		const char *down = tokens ? lm_vars_get(tokens, down_key) : NULL;
		lm_buf_printf(&b,
		              "\n\nfunction upgrade_%.*s()\n%s\nend\n\nfunction "
		              "downgrade_%.*s()\n%s\nend",
		              (int)n, p, up ? up : "", (int)n, p, down ? down : "");
		free(up_key);
		free(down_key);
		p += n;
	}
	return lm_buf_detach(&b);
}

/* Whether text compiles as Lua (compiled in a state of its own, never
 * run); sets the error slot ("path:line: message") when it does not. A new
 * revision that would not load (a template's mistake, a construct the
 * renderer got wrong) is refused before it is written. */
static int compiles(const char *text, const char *path)
{
	lua_State *L = luaL_newstate();
	if (!L) {
		lm_error_set("out of memory");
		return 0;
	}
	/* an empty chunk name: Lua shortens a long one, the path goes in whole */
	int ok = luaL_loadbufferx(L, text, strlen(text), "=", "t") == LUA_OK;
	if (!ok)
		lm_error_set("The new revision file would not compile (nothing was written): %s%s",
		             path, lua_tostring(L, -1));
	lua_close(L);
	return ok;
}

static int write_revision(const lm_opts *o, lm_config *cfg, lm_script_dir *sd,
                          const new_revision *nr, char **path_out)
{
	int rc = -1;
	lm_strv parents = {0};
	lm_strv deps = {0};
	char *rev = NULL, *vpath = NULL, *slug = NULL, *fname = NULL, *path = NULL;
	char *text = NULL, *rendered = NULL;
	char *down = NULL, *labels = NULL, *depends = NULL;
	lm_vars vars = {0};
	rev = nr->rev_id ? lm_strdup(nr->rev_id) : lm_rev_id();
	if (lm_revmap_check_id(rev) != 0)
		goto done;
	if (nr->message && lm_lua_comment_check(nr->message, "A revision message") != 0)
		goto done;
	const lm_revision *existing = lm_revmap_get(sd->map, rev);
	if (existing) {
		lm_error_set("Revision %s is present more than once: %s has it already", rev,
		             existing->path ? existing->path : "a revision file");
		goto done;
	}
	for (size_t i = 0; i < nr->heads.n; i++) {
		lm_strv got = {0};
		if (lm_revmap_resolve(sd->map, nr->heads.v[i], &got) != 0) {
			lm_strv_dispose(&got);
			if (nr->multiple_heads_is_merge_hint &&
			    strcmp(nr->heads.v[i], "head") == 0) {
				lm_strv hs = {0};
				lm_revmap_heads(sd->map, &hs);
				if (hs.n > 1)
					lm_error_set(
					        "Multiple heads are present; please specify the "
					        "head revision on which the new revision should be "
					        "based, or perform a merge.");
				lm_strv_dispose(&hs);
			}
			goto done;
		}
		for (size_t j = 0; j < got.n; j++) {
			if (lm_strv_contains(&parents, got.v[j])) {
				lm_strv_dispose(&got);
				lm_error_set("Duplicate head revisions specified");
				goto done;
			}
			lm_strv_push(&parents, got.v[j]);
		}
		lm_strv_dispose(&got);
	}
	if (!nr->splice) {
		lm_strv heads = {0};
		lm_revmap_heads(sd->map, &heads);
		for (size_t i = 0; i < parents.n; i++)
			if (!lm_strv_contains(&heads, parents.v[i])) {
				lm_error_set("Revision %s is not a head revision; please specify "
				             "--splice to create a new branch from this revision",
				             parents.v[i]);
				lm_strv_dispose(&heads);
				goto done;
			}
		lm_strv_dispose(&heads);
	}
	for (size_t i = 0; nr->depends_on && i < nr->depends_on->n; i++) {
		const char *dep = nr->depends_on->v[i];
		const lm_revision *r = NULL;
		if (lm_revmap_resolve_one(sd->map, dep, &r) != 0 || !r) {
			if (!r)
				lm_error_set("Can't locate revision identified by '%s'", dep);
			goto done;
		}
		/* A branch label stays a label; a prefix becomes the full id. */
		int is_label = lm_strv_contains(&r->labels, dep);
		lm_strv_push(&deps, is_label ? dep : r->id);
	}
	/* the header's values, refused before any folder is made */
	if (!(down = lm_lua_literal_list(&parents, "revision")) ||
	    !(labels = lm_lua_literal_list(nr->branch_labels, "branch label")) ||
	    !(depends = lm_lua_literal_list(&deps, "revision")))
		goto done;
	vpath = choose_version_path(sd, nr->version_path, &parents);
	if (!vpath)
		goto done;
	/* Alembic announces a configured version location it has to create. */
	int announce =
	        lm_config_get(cfg, lm_cli_section(o), "version_locations") && !lm_is_dir(vpath);
	if (announce) {
		char *m = lm_sprintf("Creating directory %s ...  ", vpath);
		lm_cli_out(o, m);
		free(m);
	}
	if (lm_mkdir_p(vpath) != 0)
		goto done;
	if (announce)
		lm_cli_out(o, "done\n");
	lm_moment now;
	if (lm_moment_now(sd->timezone, &now) != 0)
		goto done;
	const char *message = nr->message ? nr->message : "empty message";
	slug = lm_slug(message, sd->truncate_slug_length);
	fname = lm_file_name(sd->file_template, rev, slug, &now);
	if (!fname)
		goto done;
	char *base = lm_sprintf("%s.lua", fname);
	path = lm_path_join(vpath, base);
	free(base);
	char *sub = lm_path_dirname(path);
	int mk = lm_mkdir_p(sub);
	free(sub);
	if (mk != 0)
		goto done;
	text = read_script_template(sd);
	if (!text)
		goto done;
	char *date = lm_moment_format(&now);
	lm_buf revises = {0};
	for (size_t i = 0; i < parents.n; i++)
		lm_buf_printf(&revises, "%s%s", i ? ", " : "", parents.v[i]);
	char *qrev = lm_lua_quote(rev);
	lm_vars_set(&vars, "message", message);
	lm_vars_set(&vars, "up_revision", rev);
	lm_vars_set(&vars, "up_revision_lua", qrev);
	lm_vars_set(&vars, "down_revision", down);
	lm_vars_set(&vars, "revises", lm_buf_str(&revises));
	lm_vars_set(&vars, "branch_labels", labels);
	lm_vars_set(&vars, "depends_on", depends);
	lm_vars_set(&vars, "create_date", date);
	lm_vars_set(&vars, "imports", nr->imports ? nr->imports : "");
	lm_vars_set(&vars, "upgrades", nr->upgrades ? nr->upgrades : "");
	lm_vars_set(&vars, "downgrades", nr->downgrades ? nr->downgrades : "");
	if (nr->tokens)
		for (size_t i = 0; i < nr->tokens->names.n; i++)
			lm_vars_set(&vars, nr->tokens->names.v[i], nr->tokens->values.v[i]);
	char *dbf = database_functions(cfg, lm_cli_section(o), nr->tokens);
	free(qrev);
	free(date);
	lm_buf_dispose(&revises);
	if (!dbf)
		goto done;
	lm_vars_set(&vars, "database_functions", dbf);
	free(dbf);
	char *src = lm_path_join(sd->dir, "script.lua.tmpl");
	rendered = lm_render(text, &vars, src);
	free(src);
	if (!rendered)
		goto done;
	if (lm_file_exists(path)) {
		lm_error_set("File %s already exists", path);
		goto done;
	}
	if (!compiles(rendered, path))
		goto done;
	char *m = lm_sprintf("Generating %s ...  ", path);
	lm_cli_out(o, m);
	free(m);
	if (lm_write_file(path, rendered, strlen(rendered)) != 0)
		goto done;
	/* The new file must load into the map as every other file does;
	 * otherwise take it back, so a failed command leaves nothing behind. */
	if (lm_script_dir_load(sd) != 0) {
		char *err = lm_strdup(lm_error_get());
		remove(path);
		lm_error_set("%s", err);
		free(err);
		lm_cli_out(o, "failed\n");
		goto done;
	}
	const lm_revision *written = lm_revmap_get(sd->map, rev);
	if (nr->branch_labels && nr->branch_labels->n && written && written->labels.n == 0) {
		lm_error_set(
		        "Version %s specified branch_labels %s, however the migration file %s "
		        "does not have them; have you upgraded your script.lua.tmpl to include "
		        "the 'branch_labels' section?",
		        rev, nr->branch_labels->v[0], path);
		goto done;
	}
	lm_cli_out(o, "done\n");
	if (path_out) {
		*path_out = path;
		path = NULL;
	}
	rc = 0;
done:
	free(down);
	free(labels);
	free(depends);
	lm_vars_dispose(&vars);
	lm_strv_dispose(&parents);
	lm_strv_dispose(&deps);
	free(rev);
	free(vpath);
	free(slug);
	free(fname);
	free(path);
	free(text);
	free(rendered);
	return rc;
}

/* Copies a string field of the table on top of the stack, or NULL. */
static char *field_dup(lua_State *L, const char *k)
{
	lua_getfield(L, -1, k);
	char *v = lua_isstring(L, -1) ? lm_strdup(lua_tostring(L, -1)) : NULL;
	lua_pop(L, 1);
	return v;
}

/* What env.lua decided for a new revision (autogenerate, or
 * revision_environment = true). */
typedef struct revision_env {
	char *upgrades, *downgrades, *imports, *message, *rev_id;
	lm_vars tokens; /* bodies under other tokens than upgrades/downgrades */
	int skip;       /* process_revision_directives emptied the list */
	int empty;      /* autogenerate found nothing (and --allow-empty not given) */
} revision_env;

static void revision_env_dispose(revision_env *e)
{
	free(e->upgrades);
	free(e->downgrades);
	free(e->imports);
	free(e->message);
	free(e->rev_id);
	lm_vars_dispose(&e->tokens);
}

/* What run_revision_env hands its protected halves. */
typedef struct revision_call {
	lm_host *host;
	lm_opts *o;
	lm_config *cfg;
	lm_script_dir *sd;
	const char *rev_id;
	revision_env *out;
} revision_call;

/* Lends the host, requires the runtime, and pushes runtime.main and the
 * command table (under protection: each may raise out of memory). */
static int prepare_revision_env(lua_State *L)
{
	revision_call *rc = lua_touserdata(L, 1);
	lm_cmd_push_main(L, rc->host, rc->o, rc->cfg, rc->sd);
	lua_pushstring(L, rc->rev_id);
	lua_setfield(L, -2, "rev_id");
	lua_pushstring(L, rc->o->head ? rc->o->head : "head");
	lua_setfield(L, -2, "head");
	return 2;
}

/* Copies runtime.main's answer (argument 2) into rc->out, which owns what
 * it holds at every step (under protection: reading fields may raise). */
static int read_revision_env(lua_State *L)
{
	revision_call *rc = lua_touserdata(L, 1);
	revision_env *out = rc->out;
	lua_settop(L, 2);
	if (!lua_istable(L, 2))
		return 0;
	out->upgrades = field_dup(L, "upgrades");
	out->downgrades = field_dup(L, "downgrades");
	out->imports = field_dup(L, "imports");
	out->message = field_dup(L, "message");
	out->rev_id = field_dup(L, "rev_id");
	lua_getfield(L, 2, "tokens");
	if (lua_istable(L, -1)) {
		lua_pushnil(L);
		while (lua_next(L, -2)) {
			if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING)
				lm_vars_set(&out->tokens, lua_tostring(L, -2), lua_tostring(L, -1));
			lua_pop(L, 1);
		}
	}
	lua_pop(L, 1);
	lua_getfield(L, 2, "skip");
	out->skip = lua_toboolean(L, -1);
	lua_getfield(L, 2, "empty");
	out->empty = lua_toboolean(L, -1);
	return 0;
}

/* Runs env.lua for `revision`: runtime.main returns a table of what to
 * write. Every Lua API call that may raise runs under lm_lua_pcall, so
 * that no error unwinds past the command, which holds cfg and sd. */
static int run_revision_env(lua_State *L, lm_opts *o, lm_config *cfg, lm_script_dir *sd,
                            const char *rev_id, revision_env *out)
{
	memset(out, 0, sizeof *out);
	/* revision may create the database; the map is read after env.lua */
	lm_host host = {cfg, lm_cli_section(o), sd, NULL, 0};
	revision_call call = {&host, o, cfg, sd, rev_id, out};
	int top = lua_gettop(L);
	int rc = -1;
	lua_pushcfunction(L, prepare_revision_env);
	lua_pushlightuserdata(L, &call);
	if (lm_lua_pcall(L, 1, 2) != 0)
		goto done;
	if (lm_lua_pcall(L, 1, 1) != 0)
		goto done;
	lua_pushcfunction(L, read_revision_env);
	lua_insert(L, -2);
	lua_pushlightuserdata(L, &call);
	lua_insert(L, -2);
	if (lm_lua_pcall(L, 2, 0) != 0)
		goto done;
	rc = 0;
done:
	lua_settop(L, top);
	lm_lua_set_host(L, NULL);
	/* Finalize what env.lua left unreferenced (a connection or a file it
	 * did not close, a __gc of its own) before the file is written and
	 * the hooks run, as Python's reference counting does for env.py.
	 * Always: only a collection knows what is unreferenced (3 % of an
	 * autogenerate of 200 tables). */
	lua_gc(L, LUA_GCCOLLECT);
	return rc;
}

static int run_post_write_hooks(const lm_opts *o, lm_config *cfg, const char *path)
{
	return lm_run_post_write_hooks(cfg, path, o->quiet);
}

int lm_cmd_revision(lua_State *L, lm_opts *o)
{
	if (o->sql && o->autogenerate) {
		lm_error_set("Using --sql with --autogenerate does not make any sense");
		return -1;
	}
	lm_config *cfg = NULL;
	lm_script_dir sd;
	int rc = -1;
	revision_env env;
	memset(&env, 0, sizeof env);
	char *rev = NULL, *path = NULL;
	new_revision nr = {0};
	if (lm_cli_open_scripts(o, &cfg, &sd) != 0)
		goto done;
	rev = o->rev_id ? lm_strdup(o->rev_id) : lm_rev_id();
	nr.message = o->message;
	nr.rev_id = rev;
	if (o->autogenerate ||
	    lm_cli_is_true(lm_config_get(cfg, lm_cli_section(o), "revision_environment"))) {
		if (run_revision_env(L, o, cfg, &sd, rev, &env) != 0)
			goto done;
		if (env.skip) {
			rc = 0; /* process_revision_directives asked for no file */
			goto done;
		}
		if (env.empty) {
			if (!o->quiet)
				fputs("INFO  [luamig.autogenerate] No changes in schema detected; "
				      "no "
				      "revision written (--allow-empty writes one anyway).\n",
				      stderr);
			rc = 0;
			goto done;
		}
		nr.upgrades = env.upgrades;
		nr.downgrades = env.downgrades;
		nr.imports = env.imports;
		nr.tokens = &env.tokens;
		if (env.message)
			nr.message = env.message;
		if (env.rev_id)
			nr.rev_id = env.rev_id;
	}
	lm_strv_push(&nr.heads, o->head ? o->head : "head");
	nr.splice = o->splice;
	nr.branch_labels = &o->branch_label;
	nr.depends_on = &o->depends_on;
	nr.version_path = o->version_path;
	nr.multiple_heads_is_merge_hint = 1;
	rc = write_revision(o, cfg, &sd, &nr, &path);
	if (rc == 0)
		rc = run_post_write_hooks(o, cfg, path);
done:
	lm_strv_dispose(&nr.heads);
	revision_env_dispose(&env);
	free(rev);
	free(path);
	lm_script_dir_dispose(&sd);
	lm_config_free(cfg);
	return rc;
}

int lm_cmd_merge(lua_State *L, lm_opts *o)
{
	(void)L; /* runs no Lua */
	lm_config *cfg = NULL;
	lm_script_dir sd;
	int rc = -1;
	if (lm_cli_open_scripts(o, &cfg, &sd) != 0)
		goto done;
	new_revision nr = {0};
	nr.message = o->message;
	for (size_t i = 0; i < o->positional.n; i++)
		lm_strv_push(&nr.heads, o->positional.v[i]);
	nr.branch_labels = &o->branch_label;
	nr.rev_id = o->rev_id;
	char *path = NULL;
	rc = write_revision(o, cfg, &sd, &nr, &path);
	if (rc == 0)
		rc = run_post_write_hooks(o, cfg, path);
	free(path);
	lm_strv_dispose(&nr.heads);
done:
	lm_script_dir_dispose(&sd);
	lm_config_free(cfg);
	return rc;
}
