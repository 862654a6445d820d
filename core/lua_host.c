/*
 * lua_host.c — the embedded Lua state and the luamig.core C module.
 *
 * Built-in modules are found by a package searcher that looks in the
 * binary (embedded.c), or in $LUAMIG_LUA_DIR during development; user
 * files (env.lua, revisions, models) are loaded by the Lua side in text
 * mode, each in its own environment.
 */
#define _POSIX_C_SOURCE 200809L
#include "lua_host.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "command.h"
#include "driver.h"
#include "embedded.h"
#include "lua_core.h"
#include "revmap.h"

static const char HOST_KEY = 'h';

static lm_host *get_host(lua_State *L)
{
	lua_rawgetp(L, LUA_REGISTRYINDEX, &HOST_KEY);
	lm_host *h = lua_touserdata(L, -1);
	lua_pop(L, 1);
	return h;
}

/* The embedded entry of a name, or NULL. */
static const lm_embedded_file *embedded(const char *name)
{
	for (const lm_embedded_file *f = lm_embedded_files; f->name; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

const char *lm_lua_file(const char *name, size_t *len, char **to_free)
{
	*to_free = NULL;
	const char *dev = getenv("LUAMIG_LUA_DIR");
	if (dev && *dev) {
		char *path = lm_path_join(dev, name);
		char *data = lm_read_file(path, len);
		free(path);
		*to_free = data;
		return data;
	}
	const lm_embedded_file *f = embedded(name);
	if (!f || f->bytecode)
		return NULL; /* a module's source is not in the binary, only its bytecode */
	*len = f->len;
	return f->data;
}

/* package.searchers entry: "luamig.x.y" -> lua/luamig/x/y.lua or
 * lua/luamig/x/y/init.lua. */
static int searcher(lua_State *L)
{
	const char *modname = luaL_checkstring(L, 1);
	if (strncmp(modname, "luamig.", 7) != 0 && strcmp(modname, "luamig") != 0) {
		lua_pushfstring(L, "\n\tno embedded module '%s'", modname);
		return 1;
	}
	lm_buf base = {0};
	for (const char *p = modname; *p; p++)
		lm_buf_putc(&base, *p == '.' ? '/' : *p);
	const char *suffixes[] = {".lua", "/init.lua"};
	const char *dev = getenv("LUAMIG_LUA_DIR");
	for (int i = 0; i < 2; i++) {
		char *name = lm_sprintf("%s%s", lm_buf_str(&base), suffixes[i]);
		size_t len = 0;
		char *to_free = NULL;
		const char *data = NULL;
		const char *mode = "t";
		const lm_embedded_file *f = (dev && *dev) ? NULL : embedded(name);
		if (f) {
			/* our own bytecode, compiled from lua/ at build time */
			data = f->data;
			len = f->len;
			mode = f->bytecode ? "b" : "t";
		} else {
			data = lm_lua_file(name, &len, &to_free);
		}
		if (data) {
			char *chunk = lm_sprintf("=%s", name);
			int rc = luaL_loadbufferx(L, data, len, chunk, mode);
			free(chunk);
			free(to_free);
			free(name);
			lm_buf_dispose(&base);
			if (rc != LUA_OK)
				return lua_error(L);
			lua_pushstring(L, modname);
			return 2;
		}
		free(name);
	}
	lm_error_clear();
	lua_pushfstring(L, "\n\tno embedded module '%s'", modname);
	lm_buf_dispose(&base);
	return 1;
}

static int msghandler(lua_State *L)
{
	const char *msg = lua_tostring(L, 1);
	if (!msg) {
		if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
			return 1;
		/* A table error object: keep it, the Lua side knows its shape. */
		if (lua_istable(L, 1)) {
			lua_settop(L, 1);
			return 1;
		}
		msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
	}
	if (getenv("LUAMIG_TRACEBACK"))
		luaL_traceback(L, L, msg, 1);
	else
		lua_pushstring(L, msg);
	return 1;
}

int lm_lua_pcall(lua_State *L, int nargs, int nresults)
{
	int base = lua_gettop(L) - nargs;
	lua_pushcfunction(L, msghandler);
	lua_insert(L, base);
	int rc = lua_pcall(L, nargs, nresults, base);
	lua_remove(L, base);
	if (rc == LUA_OK)
		return 0;
	if (lua_istable(L, -1)) {
		lua_getfield(L, -1, "message");
		lm_error_set("%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "error");
		lua_pop(L, 2);
	} else {
		const char *m = lua_tostring(L, -1);
		lm_error_set("%s", m ? m : "unknown Lua error");
		lua_pop(L, 1);
	}
	return -1;
}

/* ---- luamig.core: what the Lua side asks of the C engine ---------------- */

int lm_lua_raise_slot(lua_State *L)
{
	lua_pushstring(L, lm_error_get());
	return lua_error(L);
}

static int l_redact(lua_State *L)
{
	char *r = lm_redact(luaL_checkstring(L, 1));
	lua_pushstring(L, r);
	free(r);
	return 1;
}

static int l_parse_url(lua_State *L)
{
	lm_url u;
	if (lm_url_parse(luaL_checkstring(L, 1), &u) != 0) {
		lua_pushnil(L);
		lua_pushstring(L, lm_error_get());
		return 2;
	}
	lua_createtable(L, 0, 4);
	lua_pushstring(L, u.dialect);
	lua_setfield(L, -2, "dialect");
	lua_pushstring(L, u.redacted);
	lua_setfield(L, -2, "redacted");
	if (u.path) {
		lua_pushstring(L, u.path);
		lua_setfield(L, -2, "path");
	}
	lm_url_dispose(&u);
	return 1;
}

static int l_sleep(lua_State *L)
{
	double s = luaL_checknumber(L, 1);
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
	nanosleep(&ts, NULL);
	return 0;
}

static int l_now(lua_State *L)
{
	lua_pushnumber(L, lm_now());
	return 1;
}

static int l_cwd(lua_State *L)
{
	char buf[4096];
	if (!getcwd(buf, sizeof buf))
		return 0;
	lua_pushstring(L, buf);
	return 1;
}

/* core.checksum(path) -> 16 hex digits: FNV-1a (64 bit) of the file with
 * CRLF read as LF, so a checkout's line endings do not count as an edit.
 * Change detection, not a cryptographic seal. */
static int l_checksum(lua_State *L)
{
	size_t len;
	char *data = lm_read_file(luaL_checkstring(L, 1), &len);
	if (!data)
		return lm_lua_raise_slot(L);
	unsigned long long h = 14695981039346656037ULL;
	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\r' && i + 1 < len && data[i + 1] == '\n')
			continue;
		h = (h ^ (unsigned char)data[i]) * 1099511628211ULL;
	}
	free(data);
	char hex[17];
	snprintf(hex, sizeof hex, "%016llx", h);
	lua_pushstring(L, hex);
	return 1;
}

static int l_hostname(lua_State *L)
{
	char buf[256];
	if (gethostname(buf, sizeof buf) != 0)
		return 0;
	buf[sizeof buf - 1] = '\0';
	lua_pushstring(L, buf);
	return 1;
}

static int l_getpid(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)getpid());
	return 1;
}

static int l_file(lua_State *L)
{
	size_t len;
	char *to_free;
	const char *data = lm_lua_file(luaL_checkstring(L, 1), &len, &to_free);
	if (!data)
		return 0;
	lua_pushlstring(L, data, len);
	free(to_free);
	return 1;
}

static lm_config *config_of(lua_State *L)
{
	lm_host *h = get_host(L);
	if (!h || !h->config)
		luaL_error(L, "no configuration is loaded");
	return h->config;
}

static int l_config_get(lua_State *L)
{
	const char *v = lm_config_get(config_of(L), luaL_checkstring(L, 1), luaL_checkstring(L, 2));
	if (!v)
		return 0;
	lua_pushstring(L, v);
	return 1;
}

static int l_config_set(lua_State *L)
{
	lm_config_set(config_of(L), luaL_checkstring(L, 1), luaL_checkstring(L, 2),
	              luaL_checkstring(L, 3));
	return 0;
}

static void push_strv(lua_State *L, const lm_strv *sv)
{
	lua_createtable(L, (int)sv->n, 0);
	for (size_t i = 0; i < sv->n; i++) {
		lua_pushstring(L, sv->v[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
}

static void check_strv(lua_State *L, int idx, lm_strv *out)
{
	if (lua_isnoneornil(L, idx))
		return;
	if (lua_type(L, idx) == LUA_TSTRING) {
		lm_strv_push(out, lua_tostring(L, idx));
		return;
	}
	luaL_checktype(L, idx, LUA_TTABLE);
	lua_Integer n = luaL_len(L, idx);
	for (lua_Integer i = 1; i <= n; i++) {
		lua_rawgeti(L, idx, i);
		lm_strv_push(out, luaL_checkstring(L, -1));
		lua_pop(L, 1);
	}
}

static int l_config_keys(lua_State *L)
{
	lm_strv keys = {0};
	lm_config_keys(config_of(L), luaL_checkstring(L, 1), &keys);
	push_strv(L, &keys);
	lm_strv_dispose(&keys);
	return 1;
}

static int l_config_sections(lua_State *L)
{
	lm_strv s = {0};
	lm_config_sections(config_of(L), &s);
	push_strv(L, &s);
	lm_strv_dispose(&s);
	return 1;
}

static int l_config_info(lua_State *L)
{
	lm_host *h = get_host(L);
	lua_createtable(L, 0, 3);
	if (h && h->config) {
		lua_pushstring(L, lm_config_path(h->config));
		lua_setfield(L, -2, "path");
		lua_pushstring(L, lm_config_here(h->config));
		lua_setfield(L, -2, "here");
	}
	if (h && h->section) {
		lua_pushstring(L, h->section);
		lua_setfield(L, -2, "section");
	}
	if (h && h->script) {
		lua_pushstring(L, h->script->dir);
		lua_setfield(L, -2, "script_location");
	}
	return 1;
}

static const lm_revmap *map_of(lua_State *L)
{
	lm_host *h = get_host(L);
	if (!h || !h->script || !h->script->map)
		luaL_error(L, "no revisions are loaded");
	return h->script->map;
}

static void push_revision(lua_State *L, const lm_revision *r)
{
	lua_createtable(L, 0, 8);
	lua_pushstring(L, r->id);
	lua_setfield(L, -2, "revision");
	lua_pushstring(L, r->path);
	lua_setfield(L, -2, "path");
	lua_pushstring(L, r->message ? r->message : "");
	lua_setfield(L, -2, "message");
	lua_pushstring(L, r->doc ? r->doc : "");
	lua_setfield(L, -2, "doc");
	push_strv(L, &r->down);
	lua_setfield(L, -2, "down_revision");
	push_strv(L, &r->labels);
	lua_setfield(L, -2, "branch_labels");
	push_strv(L, &r->depends);
	lua_setfield(L, -2, "depends_on");
}

static int l_revision(lua_State *L)
{
	const lm_revision *r = lm_revmap_get(map_of(L), luaL_checkstring(L, 1));
	if (!r)
		return 0;
	push_revision(L, r);
	return 1;
}

static const char *vop_name(lm_vop_kind k)
{
	return k == LM_VOP_INSERT ? "insert" : k == LM_VOP_DELETE ? "delete" : "update";
}

/* core.plan(kind, current_heads, target[, purge]) -> steps, warnings
 * kind is "upgrade", "downgrade" or "stamp" (target may then be a list). */
static int l_plan(lua_State *L)
{
	const lm_revmap *m = map_of(L);
	const char *kind = luaL_checkstring(L, 1);
	lm_strv current = {0}, targets = {0};
	check_strv(L, 2, &current);
	lm_plan plan = {0};
	int rc;
	if (strcmp(kind, "stamp") == 0) {
		check_strv(L, 3, &targets);
		rc = lm_revmap_plan_stamp(m, &current, &targets, lua_toboolean(L, 4), &plan);
	} else if (strcmp(kind, "upgrade") == 0) {
		rc = lm_revmap_plan_upgrade(m, &current, luaL_checkstring(L, 3), &plan);
	} else {
		rc = lm_revmap_plan_downgrade(m, &current, luaL_checkstring(L, 3), &plan);
	}
	lm_strv_dispose(&current);
	lm_strv_dispose(&targets);
	if (rc != 0) {
		lm_plan_dispose(&plan);
		return lm_lua_raise_slot(L);
	}
	lua_createtable(L, (int)plan.n, 0);
	for (size_t i = 0; i < plan.n; i++) {
		const lm_step *s = &plan.steps[i];
		lua_createtable(L, 0, 8);
		lua_pushboolean(L, s->upgrade);
		lua_setfield(L, -2, "upgrade");
		lua_pushboolean(L, s->stamp);
		lua_setfield(L, -2, "stamp");
		if (s->rev) {
			/* What running a step needs, and no more: a plan of tens of
			 * thousands of steps stays small (core.revision has the rest). */
			lua_createtable(L, 0, 3);
			lua_pushstring(L, s->rev->id);
			lua_setfield(L, -2, "revision");
			lua_pushstring(L, s->rev->path);
			lua_setfield(L, -2, "path");
			lua_pushstring(L, s->rev->message ? s->rev->message : "");
			lua_setfield(L, -2, "message");
			lua_setfield(L, -2, "rev");
		}
		push_strv(L, &s->from);
		lua_setfield(L, -2, "from");
		push_strv(L, &s->to);
		lua_setfield(L, -2, "to");
		lua_createtable(L, (int)s->nops, 0);
		for (size_t j = 0; j < s->nops; j++) {
			lua_createtable(L, 3, 0);
			lua_pushstring(L, vop_name(s->ops[j].kind));
			lua_rawseti(L, -2, 1);
			lua_pushstring(L, s->ops[j].from);
			lua_setfield(L, -2, "from");
			lua_pushstring(L, s->ops[j].to);
			lua_setfield(L, -2, "to");
			lua_rawseti(L, -2, (lua_Integer)j + 1);
		}
		lua_setfield(L, -2, "ops");
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	push_strv(L, &plan.warnings);
	lm_plan_dispose(&plan);
	return 2;
}

/* core.resolve(ident) -> list of ids (errors raise with Alembic's text). */
static int l_resolve(lua_State *L)
{
	lm_strv out = {0};
	if (lm_revmap_resolve(map_of(L), luaL_checkstring(L, 1), &out) != 0) {
		lm_strv_dispose(&out);
		return lm_lua_raise_slot(L);
	}
	push_strv(L, &out);
	lm_strv_dispose(&out);
	return 1;
}

static int l_heads(lua_State *L)
{
	lm_strv out = {0};
	lm_revmap_heads(map_of(L), &out);
	push_strv(L, &out);
	lm_strv_dispose(&out);
	return 1;
}

/* core.format_short(id, verbose) -> the line `current`/`heads` print. */
static int l_format_short(lua_State *L)
{
	const lm_revmap *m = map_of(L);
	const lm_revision *r = lm_revmap_get(m, luaL_checkstring(L, 1));
	if (!r)
		return luaL_error(L, "Can't locate revision identified by '%s'",
		                  lua_tostring(L, 1));
	lm_buf b = {0};
	lm_revmap_format_short(m, r, lua_toboolean(L, 2), &b);
	lua_pushstring(L, lm_buf_str(&b));
	lm_buf_dispose(&b);
	return 1;
}

/* core.current_ids(rows) -> what `current` shows for these rows. */
static int l_current_ids(lua_State *L)
{
	lm_strv rows = {0}, ids = {0};
	check_strv(L, 1, &rows);
	int rc = lm_revmap_current(map_of(L), &rows, &ids);
	lm_strv_dispose(&rows);
	if (rc != 0) {
		lm_strv_dispose(&ids);
		return lm_lua_raise_slot(L);
	}
	push_strv(L, &ids);
	lm_strv_dispose(&ids);
	return 1;
}

/* core.current_lines(rows, verbose) -> the lines `current` prints. */
static int l_current_lines(lua_State *L)
{
	const lm_revmap *m = map_of(L);
	lm_strv rows = {0}, ids = {0};
	check_strv(L, 1, &rows);
	int rc = lm_revmap_current(m, &rows, &ids);
	lm_strv_dispose(&rows);
	if (rc != 0) {
		lm_strv_dispose(&ids);
		return lm_lua_raise_slot(L);
	}
	lua_createtable(L, (int)ids.n, 0);
	for (size_t i = 0; i < ids.n; i++) {
		lm_buf b = {0};
		lm_revmap_format_current(m, lm_revmap_get(m, ids.v[i]), lua_toboolean(L, 2), &b);
		/* one entry per revision, without its final newline */
		if (b.len && b.data[b.len - 1] == '\n')
			b.data[--b.len] = '\0';
		lua_pushstring(L, lm_buf_str(&b));
		lua_rawseti(L, -2, (lua_Integer)i + 1);
		lm_buf_dispose(&b);
	}
	lm_strv_dispose(&ids);
	return 1;
}

/* A history bound: nil/"" = default, a string, or a list of ids (the
 * database's current heads) joined as Alembic accepts a tuple. */
static char *bound_arg(lua_State *L, int idx, const char *dflt)
{
	if (lua_isnoneornil(L, idx))
		return lm_strdup(dflt);
	if (lua_type(L, idx) == LUA_TSTRING) {
		const char *s = lua_tostring(L, idx);
		return lm_strdup(*s ? s : dflt);
	}
	lm_strv v = {0};
	check_strv(L, idx, &v);
	char *r = v.n ? lm_strdup(v.v[0]) : lm_strdup("base");
	lm_strv_dispose(&v);
	return r;
}

/* core.history_text(lower, upper, current_rows, verbose, indicate) */
static int l_history_text(lua_State *L)
{
	const lm_revmap *m = map_of(L);
	char *lower = bound_arg(L, 1, "base");
	char *upper = bound_arg(L, 2, "heads");
	lm_strv current = {0}, ids = {0};
	check_strv(L, 3, &current);
	int rc = lm_revmap_walk(m, lower, upper, &ids);
	free(lower);
	free(upper);
	if (rc != 0) {
		lm_strv_dispose(&current);
		lm_strv_dispose(&ids);
		return lm_lua_raise_slot(L);
	}
	lm_buf b = {0};
	for (size_t i = 0; i < ids.n; i++)
		lm_revmap_format_history(m, lm_revmap_get(m, ids.v[i]), lua_toboolean(L, 4),
		                         lua_toboolean(L, 5) ? &current : NULL, &b);
	lua_pushstring(L, lm_buf_str(&b));
	lm_buf_dispose(&b);
	lm_strv_dispose(&current);
	lm_strv_dispose(&ids);
	return 1;
}

/* core.show_text(id, current_rows) -> the `show` block. */
static int l_show_text(lua_State *L)
{
	const lm_revmap *m = map_of(L);
	const lm_revision *r = lm_revmap_get(m, luaL_checkstring(L, 1));
	if (!r)
		return luaL_error(L, "Can't locate revision identified by '%s'",
		                  lua_tostring(L, 1));
	lm_strv current = {0};
	check_strv(L, 2, &current);
	lm_buf b = {0};
	lm_revmap_format_show(m, r, &current, &b);
	lua_pushstring(L, lm_buf_str(&b));
	lm_buf_dispose(&b);
	lm_strv_dispose(&current);
	return 1;
}

static int l_edit(lua_State *L)
{
	const lm_revision *r = lm_revmap_get(map_of(L), luaL_checkstring(L, 1));
	if (!r)
		return luaL_error(L, "Can't locate revision identified by '%s'",
		                  lua_tostring(L, 1));
	if (lm_open_in_editor(r->path) != 0)
		return lm_lua_raise_slot(L);
	return 0;
}

static int l_isatty(lua_State *L)
{
	lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
	return 1;
}

static int open_core(lua_State *L)
{
	static const luaL_Reg fns[] = {
	        {"connect", lm_lua_connect},
	        {"redact", l_redact},
	        {"parse_url", l_parse_url},
	        {"sleep", l_sleep},
	        {"now", l_now},
	        {"getpid", l_getpid},
	        {"cwd", l_cwd},
	        {"checksum", l_checksum},
	        {"hostname", l_hostname},
	        {"file", l_file},
	        {"config_get", l_config_get},
	        {"config_set", l_config_set},
	        {"config_keys", l_config_keys},
	        {"config_sections", l_config_sections},
	        {"config_info", l_config_info},
	        {"revision", l_revision},
	        {"plan", l_plan},
	        {"resolve", l_resolve},
	        {"heads", l_heads},
	        {"format_short", l_format_short},
	        {"isatty", l_isatty},
	        {"current_ids", l_current_ids},
	        {"current_lines", l_current_lines},
	        {"history_text", l_history_text},
	        {"show_text", l_show_text},
	        {"edit", l_edit},
	        {"reflect", lm_lua_reflect},
	        {NULL, NULL},
	};
	luaL_newlib(L, fns);
	lua_pushstring(L, LUAMIG_VERSION);
	lua_setfield(L, -2, "version");
	return 1;
}

lua_State *lm_lua_new(lm_host *host)
{
	lua_State *L = luaL_newstate();
	luaL_openlibs(L);
	lua_pushlightuserdata(L, host);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &HOST_KEY);
	lm_lua_open_conn(L);
	/* package.preload["luamig.core"], and our searcher second in line,
	 * right after preload, so no file on LUA_PATH can shadow luamig. */
	lua_getglobal(L, "package");
	lua_getfield(L, -1, "preload");
	lua_pushcfunction(L, open_core);
	lua_setfield(L, -2, "luamig.core");
	lua_pop(L, 1);
	lua_getfield(L, -1, "searchers");
	lua_Integer n = luaL_len(L, -1);
	for (lua_Integer i = n; i >= 2; i--) {
		lua_rawgeti(L, -1, i);
		lua_rawseti(L, -2, i + 1);
	}
	lua_pushcfunction(L, searcher);
	lua_rawseti(L, -2, 2);
	lua_pop(L, 2);
	return L;
}

void lm_lua_close(lua_State *L)
{
	if (L)
		lua_close(L);
}
