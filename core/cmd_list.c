/*
 * cmd_list.c — the commands that list revision files: `heads`, `branches`,
 * `history`, `show`, and `edit` (which opens them in an editor). They read
 * only the revision map; when the answer needs the database ("current",
 * history -i, revision_environment) they hand over to the Lua runtime
 * (cmd_runtime.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "editor.h"
#include "json.h"
#include "listing.h"
#include "revmap.h"

/* The --json document of a listing: {"format": 1, "command": ..., "<key>":
 * [revision objects of ids]} and a newline. current as in
 * lm_listing_json_revision. */
static void json_document(const lm_opts *o, const char *key, const lm_revmap *m, const lm_strv *ids,
                          const lm_strv *current, lm_buf *b)
{
	lm_buf_printf(b, "{\"format\": %d, \"command\": ", LM_JSON_FORMAT);
	lm_json_string(b, o->command);
	lm_buf_printf(b, ", \"%s\": [", key);
	for (size_t i = 0; i < ids->n; i++) {
		if (i)
			lm_buf_puts(b, ", ");
		lm_listing_json_revision(m, lm_revmap_get(m, ids->v[i]), current, b);
	}
	lm_buf_puts(b, "]}\n");
}

/* Prints a command's output: JSON always (it was asked for), text unless
 * --quiet. */
static void out(const lm_opts *o, const lm_buf *b)
{
	if (o->json)
		fputs(lm_buf_str(b), stdout);
	else
		lm_cli_out(o, lm_buf_str(b));
}

/* Runs a command that only reads the revision map and prints what `list`
 * appends to a buffer (nothing is printed when it fails). */
static int run_listing(lm_opts *o, int (*list)(const lm_opts *o, const lm_revmap *m, lm_buf *b))
{
	lm_config *cfg = NULL;
	lm_script_dir sd;
	lm_buf b = {0};
	int rc = -1;
	if (lm_cli_open_scripts(o, &cfg, &sd) == 0 && list(o, sd.map, &b) == 0) {
		out(o, &b);
		rc = 0;
	}
	lm_buf_dispose(&b);
	lm_script_dir_end(&sd);
	lm_config_free(cfg);
	return rc;
}

static int list_heads(const lm_opts *o, const lm_revmap *m, lm_buf *b)
{
	lm_strv ids = {0};
	if (o->resolve_dependencies) {
		if (lm_revmap_resolve(m, "heads", &ids) != 0) {
			lm_strv_dispose(&ids);
			return -1;
		}
	} else {
		lm_revmap_heads(m, &ids);
	}
	if (o->json)
		json_document(o, "heads", m, &ids, NULL, b);
	for (size_t i = 0; !o->json && i < ids.n; i++)
		lm_listing_format_short(m, lm_revmap_get(m, ids.v[i]), o->verbose, b);
	lm_strv_dispose(&ids);
	return 0;
}

int lm_cmd_heads(lua_State *L, lm_opts *o)
{
	(void)L; /* runs no Lua */
	return run_listing(o, list_heads);
}

static int list_branches(const lm_opts *o, const lm_revmap *m, lm_buf *b)
{
	if (o->json) {
		lm_buf_printf(b, "{\"format\": %d, \"command\": \"branches\", \"branch_points\": [",
		              LM_JSON_FORMAT);
		if (lm_listing_json_branches(m, b) != 0)
			return -1;
		lm_buf_puts(b, "]}\n");
		return 0;
	}
	return lm_listing_format_branches(m, o->verbose, b);
}

int lm_cmd_branches(lua_State *L, lm_opts *o)
{
	(void)L; /* runs no Lua */
	return run_listing(o, list_branches);
}

/* A history bound: "current" is the database's first head ("base" when it
 * has none), "" the default. Caller frees. */
static char *history_bound(const char *given, const char *dflt, const lm_strv *heads)
{
	if (!given || !*given)
		return lm_strdup(dflt);
	if (strcmp(given, "current") == 0)
		return lm_strdup(heads->n ? heads->v[0] : "base");
	return lm_strdup(given);
}

int lm_cmd_history(lua_State *L, lm_opts *o)
{
	if (o->rev_range && !strchr(o->rev_range, ':')) {
		lm_error_set("History range requires [start]:[end], [start]:, or :[end]");
		return -1;
	}
	char *lower = NULL, *upper = NULL, *from = NULL, *to = NULL;
	if (o->rev_range) {
		const char *colon = strchr(o->rev_range, ':');
		lower = lm_strndup(o->rev_range, (size_t)(colon - o->rev_range));
		upper = lm_strdup(colon + 1);
	}
	int needs_db = o->indicate_current || (lower && strcmp(lower, "current") == 0) ||
	               (upper && strcmp(upper, "current") == 0);
	lm_config *cfg = NULL;
	lm_script_dir sd;
	int rc = -1;
	lm_strv ids = {0}, heads = {0};
	lm_buf b = {0};
	if (lm_cli_open_scripts(o, &cfg, &sd) != 0)
		goto done;
	/* revision_environment: env.lua runs for history too, as in Alembic */
	if (needs_db ||
	    lm_cli_is_true(lm_config_get(cfg, lm_cli_section(o), "revision_environment")))
		if (lm_cmd_database_heads(L, o, cfg, &sd, &heads) != 0)
			goto done;
	from = history_bound(lower, "base", &heads);
	to = history_bound(upper, "heads", &heads);
	if (o->json) {
		if (lm_listing_walk(sd.map, from, to, &ids) != 0)
			goto done;
		json_document(o, "revisions", sd.map, &ids, needs_db ? &heads : NULL, &b);
	} else if (lm_listing_history(sd.map, from, to, o->verbose,
	                              o->indicate_current ? &heads : NULL, &b) != 0) {
		goto done;
	}
	out(o, &b);
	rc = 0;
done:
	free(lower);
	free(upper);
	free(from);
	free(to);
	lm_buf_dispose(&b);
	lm_strv_dispose(&ids);
	lm_strv_dispose(&heads);
	lm_script_dir_end(&sd);
	lm_config_free(cfg);
	return rc;
}

static int list_show(const lm_opts *o, const lm_revmap *m, lm_buf *b)
{
	lm_strv ids = {0};
	int rc = lm_revmap_resolve(m, o->positional.v[0], &ids);
	if (rc == 0 && o->json)
		json_document(o, "revisions", m, &ids, NULL, b);
	for (size_t i = 0; rc == 0 && !o->json && i < ids.n; i++)
		lm_listing_format_show(m, lm_revmap_get(m, ids.v[i]), NULL, b);
	lm_strv_dispose(&ids);
	return rc;
}

/* The revisions a show/edit argument names: "current" is the database's
 * heads (env.lua runs), anything else resolves in the map. */
static int named_revisions(lua_State *L, lm_opts *o, lm_config *cfg, lm_script_dir *sd,
                           lm_strv *out)
{
	if (strcmp(o->positional.v[0], "current") == 0)
		return lm_cmd_database_heads(L, o, cfg, sd, out);
	return lm_revmap_resolve(sd->map, o->positional.v[0], out);
}

int lm_cmd_show(lua_State *L, lm_opts *o)
{
	if (strcmp(o->positional.v[0], "current") != 0)
		return run_listing(o, list_show);
	/* `show current`: the rows' entries as `show <rev>` prints them, no
	 * "(current)" marks; nothing at all on an unversioned database */
	lm_config *cfg = NULL;
	lm_script_dir sd;
	lm_strv ids = {0};
	lm_buf b = {0};
	int rc = -1;
	if (lm_cli_open_scripts(o, &cfg, &sd) != 0 || named_revisions(L, o, cfg, &sd, &ids) != 0)
		goto done;
	for (size_t i = 0; i < ids.n; i++) {
		const lm_revision *r = lm_revmap_get(sd.map, ids.v[i]);
		if (!r) {
			lm_error_set("Can't locate revision identified by '%s'", ids.v[i]);
			goto done;
		}
		if (!o->json)
			lm_listing_format_show(sd.map, r, NULL, &b);
	}
	if (o->json)
		json_document(o, "revisions", sd.map, &ids, &ids, &b);
	out(o, &b);
	rc = 0;
done:
	lm_buf_dispose(&b);
	lm_strv_dispose(&ids);
	lm_script_dir_end(&sd);
	lm_config_free(cfg);
	return rc;
}

int lm_cmd_edit(lua_State *L, lm_opts *o)
{
	lm_config *cfg = NULL;
	lm_script_dir sd;
	int rc = -1;
	lm_strv ids = {0};
	if (lm_cli_open_scripts(o, &cfg, &sd) != 0)
		goto done;
	if (named_revisions(L, o, cfg, &sd, &ids) != 0)
		goto done;
	if (ids.n == 0) {
		if (strcmp(o->positional.v[0], "current") == 0)
			lm_error_set("No current revisions");
		else
			lm_error_set("No revision files indicated by symbol '%s'",
			             o->positional.v[0]);
		goto done;
	}
	for (size_t i = 0; i < ids.n; i++) {
		const lm_revision *r = lm_revmap_get(sd.map, ids.v[i]);
		if (!r) {
			lm_error_set("Can't locate revision identified by '%s'", ids.v[i]);
			goto done;
		}
		if (lm_open_in_editor(r->path) != 0)
			goto done;
	}
	rc = 0;
done:
	lm_strv_dispose(&ids);
	lm_script_dir_end(&sd);
	lm_config_free(cfg);
	return rc;
}
