/*
 * lua_core.c — luamig.core: what the Lua side asks of the C engine.
 *
 * The module's functions read the configuration, the revision map and its
 * plans, and format listings, through the lm_host that the command lends
 * the state (lm_lua_set_host); connections (lua_conn.c) and reflection
 * (lua_reflect.c) have files of their own. Each function's contract is
 * above it: what it takes, what it returns, and which failures raise a Lua
 * error (misuse, and the engine's errors with Alembic's message) versus
 * return nil.
 */
#define _POSIX_C_SOURCE 200809L
#include "lua_core.h"

#include <dirent.h>
#include <lauxlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "checksum.h"
#include "chunkcache.h"
#include "config.h"
#include "editor.h"
#include "json.h"
#include "listing.h"
#include "lua_host.h"
#include "md5.h"
#include "plan.h"
#include "revmap.h"
#include "script.h"
#include "signals.h"
#include "template.h"

static const char HOST_KEY = 'h';

void lm_lua_set_host(lua_State *L, lm_host *host)
{
	if (!host) {
		/* Taking it back never raises: an existing slot is overwritten
		 * in place, and an absent one is left absent. */
		int lent = lua_rawgetp(L, LUA_REGISTRYINDEX, &HOST_KEY) != LUA_TNIL;
		lua_pop(L, 1);
		if (!lent)
			return;
	}
	if (host)
		lua_pushlightuserdata(L, host);
	else
		lua_pushnil(L);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &HOST_KEY);
}

lm_host *lm_lua_host(lua_State *L)
{
	lua_rawgetp(L, LUA_REGISTRYINDEX, &HOST_KEY);
	lm_host *h = lua_touserdata(L, -1);
	lua_pop(L, 1);
	return h;
}

/* Arguments are checked as Lua's own libraries check them: a wrong type
 * raises "bad argument #n". "A list" below is an array of strings; as an
 * argument it may also be nil (empty) or one string. */

/* C memory held across Lua API calls that may raise lives in scratch
 * blocks (lm_lua_scratch): these dispose them. */
static void strv_dispose(void *block)
{
	lm_strv_dispose(block);
}

static void buf_dispose(void *block)
{
	lm_buf_dispose(block);
}

static void url_dispose(void *block)
{
	lm_url_dispose(block);
}

static void free_string(void *block)
{
	char **s = block;
	free(*s);
	*s = NULL;
}

/* core.redact(text) -> text with every URL password and password=...
 *   value replaced by "***". */
static int l_redact(lua_State *L)
{
	lm_lua_push_redacted(L, luaL_checkstring(L, 1));
	return 1;
}

/* core.parse_url(url) -> { dialect, redacted, path } | nil, message
 *   Parses without connecting (driver.h): dialect is the registered
 *   driver's name, redacted the password-free URL, path a file database's
 *   path (absent for memory and server databases). A URL that does not
 *   parse returns nil and the message (password-free). */
static int l_parse_url(lua_State *L)
{
	const char *text = luaL_checkstring(L, 1);
	lm_url *u = lm_lua_scratch(L, sizeof *u, url_dispose);
	if (lm_url_parse(text, u) != 0) {
		lua_pushnil(L);
		lua_pushstring(L, lm_error_get());
		return 2;
	}
	lua_createtable(L, 0, 4);
	lua_pushstring(L, u->dialect);
	lua_setfield(L, -2, "dialect");
	lua_pushstring(L, u->redacted);
	lua_setfield(L, -2, "redacted");
	if (u->path) {
		lua_pushstring(L, u->path);
		lua_setfield(L, -2, "path");
	}
	lm_lua_scratch_done(u);
	return 1;
}

/* core.sleep(seconds): waits; fractions of a second count. */
static int l_sleep(lua_State *L)
{
	double s = luaL_checknumber(L, 1);
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
	nanosleep(&ts, NULL);
	return 0;
}

/* core.error_code() -> the SQLSTATE of the last database error raised
 *   ("55P03": lock_timeout), or "" when the last error had none. */
static int l_error_code(lua_State *L)
{
	lua_pushstring(L, lm_error_code());
	return 1;
}

/* core.now() -> seconds of a monotonic clock (a float), for measuring
 *   elapsed time; not the time of day. */
static int l_now(lua_State *L)
{
	lua_pushnumber(L, lm_now());
	return 1;
}

/* core.cwd() -> the working directory | nil when it cannot be read (or is
 *   longer than 4095 bytes). */
static int l_cwd(lua_State *L)
{
	char buf[4096];
	if (!getcwd(buf, sizeof buf))
		return 0;
	lua_pushstring(L, buf);
	return 1;
}

/* core.checksum(path[, like]) -> the revision file's checksum as the
 *   history table records it (checksum.h): in the current scheme, or, given
 *   a recorded value `like`, in the scheme of that value, so that the two
 *   compare | nil, message when `like` is in no scheme luamig knows. Raises
 *   "path: reason" when the file cannot be read. */
static int l_checksum(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	int scheme = LM_CHECKSUM_CURRENT;
	if (!lua_isnoneornil(L, 2)) {
		scheme = lm_checksum_scheme(luaL_checkstring(L, 2));
		if (scheme == LM_CHECKSUM_UNKNOWN) {
			lua_pushnil(L);
			lua_pushfstring(L, "checksum '%s' is in a scheme this luamig does not know",
			                lua_tostring(L, 2));
			return 2;
		}
	}
	size_t len;
	char *data = lm_read_file(path, &len);
	if (!data)
		return lm_lua_raise_slot(L);
	char sum[LM_CHECKSUM_MAX + 1];
	lm_checksum(data, len, scheme, sum);
	free(data);
	lua_pushstring(L, sum);
	return 1;
}

/* core.md5_hex(s) -> the MD5 of s in 32 lowercase hex digits (md5.h: the
 *   suffix of a name SQLAlchemy shortens). */
static int l_md5_hex(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	char out[33];
	lm_md5_hex(s, len, out);
	lua_pushlstring(L, out, 32);
	return 1;
}

/* core.header_quote(s) -> s as a revision header's literal, in the quotes
 *   the header scanner reads back | nil when only an escape could write it
 *   (template.h, lm_header_quote; a NUL too). */
static int l_header_quote(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	char *q = strlen(s) == len ? lm_header_quote(s) : NULL; /* a NUL: no literal either */
	if (!q)
		return 0;
	lua_pushstring(L, q);
	free(q);
	return 1;
}

/* core.read_file(path [, regular]) -> the file's content | nil, "path:
 *   reason" (io.open's words). One open, fstat, read and close: a run reads
 *   every revision file, and stdio's reading through its own buffer to a
 *   second read() at end of file took twice the time. With regular, a path
 *   that is there but is not a regular file (a folder, a FIFO, whose open
 *   would wait for a writer) is nil, "path: not a regular file", unopened. */
static int l_read_file(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	if (lua_toboolean(L, 2) && lm_is_regular(path) == 0) {
		lua_pushnil(L);
		lua_pushfstring(L, "%s: not a regular file", path);
		return 2;
	}
	char **to_free = lm_lua_scratch(L, sizeof *to_free, free_string);
	size_t len;
	*to_free = lm_read_file(path, &len);
	if (!*to_free) {
		lua_pushnil(L);
		lua_pushstring(L, lm_error_get());
		return 2;
	}
	lua_pushlstring(L, *to_free, len);
	lm_lua_scratch_done(to_free);
	return 1;
}

/* core.load_revision(path, chunkname, env, seen) -> the revision file's
 *   chunk, its globals env | nil, message ("path: reason" or the syntax
 *   error). With seen (an earlier run read the file as it is: the
 *   revision's `seen`), the text is compiled once and the bytecode reused
 *   while the file is unchanged (chunkcache.h). */
static int l_load_revision(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	const char *chunkname = luaL_checkstring(L, 2);
	luaL_checktype(L, 3, LUA_TTABLE);
	int seen = lua_toboolean(L, 4);
	lua_settop(L, 3);
	if (lm_chunkcache_load(L, path, chunkname, seen) != LUA_OK) {
		lua_pushnil(L);
		lua_insert(L, -2);
		return 2;
	}
	lua_pushvalue(L, 3);
	if (!lua_setupvalue(L, -2, 1))
		lua_pop(L, 1);
	return 1;
}

/* core.hostname() -> this machine's name | nil when it cannot be read. */
static int l_hostname(lua_State *L)
{
	char buf[256];
	if (gethostname(buf, sizeof buf) != 0)
		return 0;
	buf[sizeof buf - 1] = '\0';
	lua_pushstring(L, buf);
	return 1;
}

/* core.release_memory(): between the phases of a long command, what the
 * last one freed goes back to the system: a full collection, then the long
 * free runs of the Lua arena (lm_arena_trim) and the free pages of
 * malloc's heap (glibc's malloc_trim; SQLite's freed schemas are there). */
static int l_release_memory(lua_State *L)
{
	void *ud;
	lua_gc(L, LUA_GCCOLLECT);
	/* (a fault-injection run's allocator wraps the arena's: left alone) */
	if (lua_getallocf(L, &ud) == lm_arena_lua_alloc)
		lm_arena_trim(ud);
#ifdef __GLIBC__
	(void)malloc_trim(0);
#endif
	return 0;
}

/* core.getpid() -> this process's id (an integer). */
static int l_getpid(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)getpid());
	return 1;
}

/* core.username() -> the name of the user this process runs as, from the
 *   password database (getpwuid of the real user id: what a changed $USER
 *   cannot hide) | nil when the user id has no entry there. */
static int l_username(lua_State *L)
{
	struct passwd *pw = getpwuid(getuid());
	if (!pw || !pw->pw_name)
		return 0;
	lua_pushstring(L, pw->pw_name);
	return 1;
}

/* core.file(name) -> the content of a file of lua/ ("templates/generic/
 *   env.lua"), from the binary or from $LUAMIG_LUA_DIR | nil when there
 *   is no such file. A module's source is not in the binary (only its
 *   bytecode), so core.file("luamig/op.lua") is nil in a release build. */
static int l_file(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1);
	char **to_free = lm_lua_scratch(L, sizeof *to_free, free_string);
	size_t len;
	const char *data = lm_lua_file(name, &len, to_free);
	if (!data)
		return 0;
	lua_pushlstring(L, data, len);
	lm_lua_scratch_done(to_free);
	return 1;
}

/* The configuration the command lent; raises "no configuration is loaded"
 * when there is none. */
static lm_config *config_of(lua_State *L)
{
	lm_host *h = lm_lua_host(L);
	if (!h || !h->config)
		luaL_error(L, "no configuration is loaded");
	return h->config;
}

/* core.config_get(section, key) -> the interpolated value | nil when the
 *   key (or section) is absent. Raises without a configuration. */
static int l_config_get(lua_State *L)
{
	const char *v = lm_config_get(config_of(L), luaL_checkstring(L, 1), luaL_checkstring(L, 2));
	if (!v)
		return 0;
	lua_pushstring(L, v);
	return 1;
}

/* core.config_set(section, key, value): sets the value in memory (the
 *   file is not written), creating the section if needed. Raises without
 *   a configuration. */
static int l_config_set(lua_State *L)
{
	lm_config_set(config_of(L), luaL_checkstring(L, 1), luaL_checkstring(L, 2),
	              luaL_checkstring(L, 3));
	return 0;
}

/* Pushes a list. */
static void push_strv(lua_State *L, const lm_strv *sv)
{
	lua_createtable(L, (int)sv->n, 0);
	for (size_t i = 0; i < sv->n; i++) {
		lua_pushstring(L, sv->v[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
}

/* Appends the list argument at idx to out: nil, one string, or an array
 * of strings; anything else raises. */
static void check_strv(lua_State *L, int idx, lm_strv *out)
{
	if (lua_isnoneornil(L, idx))
		return;
	if (lua_type(L, idx) == LUA_TSTRING) {
		lm_strv_push(out, lua_tostring(L, idx));
		return;
	}
	luaL_checktype(L, idx, LUA_TTABLE);
	/* raw: no __len runs Lua while a caller holds the revision map */
	lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
	for (lua_Integer i = 1; i <= n; i++) {
		lua_rawgeti(L, idx, i);
		lm_strv_push(out, luaL_checkstring(L, -1));
		lua_pop(L, 1);
	}
}

/* core.config_keys(section) -> a list of the section's keys in file order
 *   (empty when the section is absent). Raises without a configuration. */
static int l_config_keys(lua_State *L)
{
	lm_config *cfg = config_of(L);
	const char *section = luaL_checkstring(L, 1);
	lm_strv *keys = lm_lua_scratch(L, sizeof *keys, strv_dispose);
	lm_config_keys(cfg, section, keys);
	push_strv(L, keys);
	lm_lua_scratch_done(keys);
	return 1;
}

/* core.config_sections() -> a list of section names in file order (DEFAULT
 *   left out). Raises without a configuration. */
static int l_config_sections(lua_State *L)
{
	lm_config *cfg = config_of(L);
	lm_strv *s = lm_lua_scratch(L, sizeof *s, strv_dispose);
	lm_config_sections(cfg, s);
	push_strv(L, s);
	lm_lua_scratch_done(s);
	return 1;
}

/* core.config_info() -> { path, here, section, script_location }: the ini
 *   file's absolute path and folder, the section in use, the script
 *   directory; a field is absent when the command has not loaded it. Never
 *   raises. */
static int l_config_info(lua_State *L)
{
	lm_host *h = lm_lua_host(L);
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

/* The revision map the command lent, loaded again after
 * core.release_revisions; raises "no revisions are loaded" when there is
 * none, or the error of loading it again (at each use, until a load
 * succeeds). Every function below raises so without one. */
static const lm_revmap *map_of(lua_State *L)
{
	lm_host *h = lm_lua_host(L);
	if (h && h->script && !h->script->map && h->script->released) {
		if (lm_script_dir_load(h->script) != 0)
			luaL_error(L, "%s", lm_error_get());
		h->script->released = 0;
	}
	if (!h || !h->script || !h->script->map)
		luaL_error(L, "no revisions are loaded");
	return h->script->map;
}

/* The long plans alive (push_lazy_plan's proxies): each points into the
 * map, which must outlive them. */
static size_t lazy_plans;

/* core.release_revisions() -> whether the map was freed: a command that
 * has read what it needs of the revisions (7 MiB for 10,000 of them) frees
 * them for its next phases; a later core function that needs them reads
 * them again (from the header cache: tens of milliseconds). Not while a
 * long plan is alive, nor where C reads the map after the Lua call
 * (lm_host's map_releasable), nor from a finalizer (which may run inside
 * any allocation of a C function that holds the map; lua_gc answers -1
 * there). */
static int l_release_revisions(lua_State *L)
{
	lm_host *h = lm_lua_host(L);
	int freed = h && h->map_releasable && h->script && h->script->map && lazy_plans == 0 &&
	            lua_gc(L, LUA_GCISRUNNING) >= 0;
	if (freed) {
		lm_revmap_free(h->script->map);
		h->script->map = NULL;
		h->script->released = 1;
	}
	lua_pushboolean(L, freed);
	return 1;
}

/* Pushes { revision, path, message, [seen] } ("" for no message; seen =
 * true when an earlier run read the file as it is now), room made for
 * `fields` fields in all. */
static void push_revision_head(lua_State *L, const lm_revision *r, int fields)
{
	lua_createtable(L, 0, fields + 1);
	if (r->seen) {
		lua_pushboolean(L, 1);
		lua_setfield(L, -2, "seen");
	}
	lua_pushstring(L, r->id);
	lua_setfield(L, -2, "revision");
	lua_pushstring(L, r->path);
	lua_setfield(L, -2, "path");
	lua_pushstring(L, r->message ? r->message : "");
	lua_setfield(L, -2, "message");
}

/* Pushes { revision, path, message, doc, down_revision, branch_labels,
 * depends_on }: strings ("" for no message or doc) and three lists. */
static void push_revision(lua_State *L, const lm_revision *r)
{
	push_revision_head(L, r, 8);
	lua_pushstring(L, r->doc ? r->doc : "");
	lua_setfield(L, -2, "doc");
	push_strv(L, &r->down);
	lua_setfield(L, -2, "down_revision");
	push_strv(L, &r->labels);
	lua_setfield(L, -2, "branch_labels");
	push_strv(L, &r->depends);
	lua_setfield(L, -2, "depends_on");
}

/* core.revision(id) -> the revision (see push_revision) | nil when no
 *   revision has exactly this id (no prefixes, labels or symbols). */
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
 *   kind is "upgrade", "stamp" (target may then be a list; purge applies)
 *   or, for any other string, "downgrade". current_heads is the list of
 *   the version table's rows. Each step is { upgrade, stamp, rev = {
 *   revision, path, message } (absent for a step without a revision),
 *   from, to (lists), ops = { { "insert"|"delete"|"update", from =, to = },
 *   ... } (the version-table changes) }; warnings is a list of messages.
 *   A plan of more than LAZY_PLAN_STEPS steps stays in C: steps is then a
 *   read-only proxy whose steps[i] (ipairs, #) is made when asked for, and
 *   kept only while something holds it, so that tens of thousands of steps
 *   do not sit in the Lua heap for the whole run.
 *   A target that does not resolve, or a plan Alembic refuses, raises
 *   Alembic's message. */
#define LAZY_PLAN_STEPS 2000

/* What l_plan holds while it reads its arguments and builds the steps; a
 * long plan's proxy keeps it (see above). */
typedef struct plan_scratch {
	lm_strv current, targets;
	lm_plan plan;
	const lm_revmap *map; /* the revisions plan.steps point into */
	int lazy;             /* counted in lazy_plans */
} plan_scratch;

static void plan_scratch_dispose(void *block)
{
	plan_scratch *p = block;
	if (p->lazy)
		lazy_plans--;
	lm_strv_dispose(&p->current);
	lm_strv_dispose(&p->targets);
	lm_plan_dispose(&p->plan);
}

/* Pushes the Lua table of step s (see core.plan). */
static void push_step(lua_State *L, const lm_step *s)
{
	lua_createtable(L, 0, 8);
	lua_pushboolean(L, s->upgrade);
	lua_setfield(L, -2, "upgrade");
	lua_pushboolean(L, s->stamp);
	lua_setfield(L, -2, "stamp");
	if (s->rev) {
		/* What running a step needs, and no more (core.revision has
		 * the rest). */
		push_revision_head(L, s->rev, 3);
		lua_setfield(L, -2, "rev");
	}
	push_strv(L, &s->from);
	lua_setfield(L, -2, "from");
	push_strv(L, &s->to);
	lua_setfield(L, -2, "to");
	lua_createtable(L, (int)s->nops, 0);
	for (size_t j = 0; j < s->nops; j++) {
		lua_createtable(L, 1, 2);
		lua_pushstring(L, vop_name(s->ops[j].kind));
		lua_rawseti(L, -2, 1);
		lua_pushstring(L, s->ops[j].from);
		lua_setfield(L, -2, "from");
		lua_pushstring(L, s->ops[j].to);
		lua_setfield(L, -2, "to");
		lua_rawseti(L, -2, (lua_Integer)j + 1);
	}
	lua_setfield(L, -2, "ops");
}

/* A long plan's __index(steps, i): upvalues are the plan_scratch (as light
 * userdata), its userdata (which keeps it) and a weak-valued cache, so that
 * steps[i] is the same table for as long as anything holds it. */
static int lazy_step(lua_State *L)
{
	const plan_scratch *ps = lua_touserdata(L, lua_upvalueindex(1));
	lua_Integer i = lua_isinteger(L, 2) ? lua_tointeger(L, 2) : 0;
	if (i < 1 || (lua_Unsigned)i > ps->plan.n)
		return 0;
	if (lua_rawgeti(L, lua_upvalueindex(3), i) != LUA_TNIL)
		return 1;
	lua_pop(L, 1);
	/* (a plan keeps its map: core.release_revisions refuses while one is
	 * alive, and no other path loads the map while the runtime runs) */
	if (map_of(L) != ps->map)
		return luaL_error(L, "the revisions of this plan were loaded again");
	push_step(L, &ps->plan.steps[i - 1]);
	lua_pushvalue(L, -1);
	lua_rawseti(L, lua_upvalueindex(3), i);
	return 1;
}

static int lazy_len(lua_State *L)
{
	const plan_scratch *ps = lua_touserdata(L, lua_upvalueindex(1));
	lua_pushinteger(L, (lua_Integer)ps->plan.n);
	return 1;
}

static int lazy_newindex(lua_State *L)
{
	return luaL_error(L, "a long plan's steps cannot be changed");
}

/* Pushes the proxy of a long plan, which takes over ps (at stack index
 * ps_idx). */
static void push_lazy_plan(lua_State *L, plan_scratch *ps, int ps_idx)
{
	lua_createtable(L, 0, 0);
	lua_createtable(L, 0, 3);
	lua_pushlightuserdata(L, ps);
	lua_pushvalue(L, ps_idx);
	lua_createtable(L, 0, 0);
	lua_createtable(L, 0, 1);
	lua_pushliteral(L, "v");
	lua_setfield(L, -2, "__mode");
	lua_setmetatable(L, -2);
	lua_pushcclosure(L, lazy_step, 3);
	lua_setfield(L, -2, "__index");
	lua_pushlightuserdata(L, ps);
	lua_pushcclosure(L, lazy_len, 1);
	lua_setfield(L, -2, "__len");
	lua_pushcfunction(L, lazy_newindex);
	lua_setfield(L, -2, "__newindex");
	lua_setmetatable(L, -2);
}

static int l_plan(lua_State *L)
{
	const lm_revmap *m = map_of(L);
	const char *kind = luaL_checkstring(L, 1);
	plan_scratch *ps = lm_lua_scratch(L, sizeof *ps, plan_scratch_dispose);
	int ps_idx = lua_gettop(L);
	ps->map = m;
	check_strv(L, 2, &ps->current);
	lm_plan *plan = &ps->plan;
	int rc;
	if (strcmp(kind, "stamp") == 0) {
		check_strv(L, 3, &ps->targets);
		rc = lm_plan_stamp(m, &ps->current, &ps->targets, lua_toboolean(L, 4), plan);
	} else if (strcmp(kind, "upgrade") == 0) {
		rc = lm_plan_upgrade(m, &ps->current, luaL_checkstring(L, 3), plan);
	} else {
		rc = lm_plan_downgrade(m, &ps->current, luaL_checkstring(L, 3), plan);
	}
	if (rc != 0) {
		lm_lua_scratch_done(ps);
		return lm_lua_raise_slot(L);
	}
	if (plan->n > LAZY_PLAN_STEPS) {
		ps->lazy = 1;
		lazy_plans++;
		push_lazy_plan(L, ps, ps_idx);
		push_strv(L, &plan->warnings);
		return 2;
	}
	lua_createtable(L, (int)plan->n, 0);
	for (size_t i = 0; i < plan->n; i++) {
		push_step(L, &plan->steps[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	push_strv(L, &plan->warnings);
	lm_lua_scratch_done(ps);
	return 2;
}

/* core.resolve(ident) -> a list of ids: an id, prefix, label, head(s),
 *   base (empty) or relative form, as Alembic resolves it. One that does
 *   not resolve raises Alembic's message. */
static int l_resolve(lua_State *L)
{
	const lm_revmap *m = map_of(L);
	const char *ident = luaL_checkstring(L, 1);
	lm_strv *out = lm_lua_scratch(L, sizeof *out, strv_dispose);
	if (lm_revmap_resolve(m, ident, out) != 0) {
		lm_lua_scratch_done(out);
		return lm_lua_raise_slot(L);
	}
	push_strv(L, out);
	lm_lua_scratch_done(out);
	return 1;
}

/* core.heads() -> the list of head ids. */
static int l_heads(lua_State *L)
{
	const lm_revmap *m = map_of(L);
	lm_strv *out = lm_lua_scratch(L, sizeof *out, strv_dispose);
	lm_revmap_heads(m, out);
	push_strv(L, out);
	lm_lua_scratch_done(out);
	return 1;
}

/* core.format_short(id, verbose) -> the line `heads` prints for the
 *   revision ("rev (label) (head)"), or the `show` block when verbose. An
 *   unknown id raises "Can't locate revision identified by '<id>'". */
static int l_format_short(lua_State *L)
{
	const lm_revmap *m = map_of(L);
	const lm_revision *r = lm_revmap_get(m, luaL_checkstring(L, 1));
	if (!r)
		return luaL_error(L, "Can't locate revision identified by '%s'",
		                  lua_tostring(L, 1));
	lm_buf *b = lm_lua_scratch(L, sizeof *b, buf_dispose);
	lm_listing_format_short(m, r, lua_toboolean(L, 2), b);
	lua_pushstring(L, lm_buf_str(b));
	lm_lua_scratch_done(b);
	return 1;
}

/* core.current_ids(rows) -> the list of ids `current` shows for the
 *   version table's rows (the rows and what they imply, reduced to branch
 *   tips). A row naming no revision raises Alembic's message. */
/* What the current_* functions hold: the rows, the ids, a line. */
typedef struct current_scratch {
	lm_strv rows, ids;
	lm_buf line;
} current_scratch;

static void current_scratch_dispose(void *block)
{
	current_scratch *c = block;
	lm_strv_dispose(&c->rows);
	lm_strv_dispose(&c->ids);
	lm_buf_dispose(&c->line);
}

/* Reads the rows at idx and resolves them to the ids `current` shows, in
 * a new scratch block (pushed); raises as current_ids. */
static current_scratch *current_of(lua_State *L, const lm_revmap *m, int idx)
{
	current_scratch *c = lm_lua_scratch(L, sizeof *c, current_scratch_dispose);
	check_strv(L, idx, &c->rows);
	if (lm_revmap_current(m, &c->rows, &c->ids) != 0) {
		lm_lua_scratch_done(c);
		lm_lua_raise_slot(L);
	}
	return c;
}

static int l_current_ids(lua_State *L)
{
	current_scratch *c = current_of(L, map_of(L), 1);
	push_strv(L, &c->ids);
	lm_lua_scratch_done(c);
	return 1;
}

/* core.current_lines(rows, verbose) -> a list of what `current` prints, one
 *   entry per revision of current_ids(rows), without its final newline.
 *   Raises as current_ids. */
static int l_current_lines(lua_State *L)
{
	const lm_revmap *m = map_of(L);
	int verbose = lua_toboolean(L, 2);
	current_scratch *c = current_of(L, m, 1);
	lua_createtable(L, (int)c->ids.n, 0);
	for (size_t i = 0; i < c->ids.n; i++) {
		lm_buf *b = &c->line;
		lm_listing_format_current(m, lm_revmap_get(m, c->ids.v[i]), verbose, b);
		/* one entry per revision, without its final newline */
		if (b->len && b->data[b->len - 1] == '\n')
			b->data[--b->len] = '\0';
		lua_pushstring(L, lm_buf_str(b));
		lua_rawseti(L, -2, (lua_Integer)i + 1);
		lm_buf_dispose(b);
	}
	lm_lua_scratch_done(c);
	return 1;
}

/* core.current_json(rows) -> JSON text: an array of the revision objects
 *   (lm_listing_json_revision, "current": true) of current_ids(rows).
 *   Raises as current_ids. */
static int l_current_json(lua_State *L)
{
	const lm_revmap *m = map_of(L);
	current_scratch *c = current_of(L, m, 1);
	lm_buf *b = &c->line;
	lm_buf_putc(b, '[');
	for (size_t i = 0; i < c->ids.n; i++) {
		if (i)
			lm_buf_puts(b, ", ");
		lm_listing_json_revision(m, lm_revmap_get(m, c->ids.v[i]), &c->ids, b);
	}
	lm_buf_putc(b, ']');
	lua_pushlstring(L, b->data, b->len);
	lm_lua_scratch_done(c);
	return 1;
}

/* core.json_string(s) -> s as a JSON string literal, valid JSON whatever
 *   its bytes (json.h: invalid UTF-8 becomes U+FFFD). */
static int l_json_string(lua_State *L)
{
	size_t n;
	const char *s = luaL_checklstring(L, 1, &n);
	lm_buf *b = lm_lua_scratch(L, sizeof *b, buf_dispose);
	lm_json_string_n(b, s, n);
	lua_pushlstring(L, b->data, b->len);
	lm_lua_scratch_done(b);
	return 1;
}

/* core.json_valid(s) -> whether s is one JSON value (json.h). */
static int l_json_valid(lua_State *L)
{
	size_t n;
	const char *s = luaL_checklstring(L, 1, &n);
	lua_pushboolean(L, lm_json_valid(s, n));
	return 1;
}

/* core.applied(rows) -> applied, unknown: the revisions the version
 *   table's rows mark as applied (each row and all its ancestors, through
 *   depends_on too), as a table from id to the checksum of its file as the
 *   script directory read it (checksum.h; "" when not known), and the list
 *   of rows that name no revision of the script directory. Never raises on
 *   a row. */
/* What l_applied holds while it makes its tables. */
typedef struct applied_scratch {
	lm_strv rows, applied, unknown;
} applied_scratch;

static void applied_scratch_dispose(void *block)
{
	applied_scratch *a = block;
	lm_strv_dispose(&a->rows);
	lm_strv_dispose(&a->applied);
	lm_strv_dispose(&a->unknown);
}

static int l_applied(lua_State *L)
{
	const lm_revmap *m = map_of(L);
	applied_scratch *a = lm_lua_scratch(L, sizeof *a, applied_scratch_dispose);
	check_strv(L, 1, &a->rows);
	lm_revmap_applied(m, &a->rows, &a->applied, &a->unknown);
	lua_createtable(L, 0, (int)a->applied.n);
	for (size_t i = 0; i < a->applied.n; i++) {
		lua_pushstring(L, lm_revmap_get(m, a->applied.v[i])->checksum);
		lua_setfield(L, -2, a->applied.v[i]);
	}
	push_strv(L, &a->unknown);
	lm_lua_scratch_done(a);
	return 2;
}

/* core.isatty(fd) -> true when the file descriptor is a terminal. */
static int l_isatty(lua_State *L)
{
	lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
	return 1;
}

static void free_strv(void *block)
{
	lm_strv_dispose(block);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* core.lua_files(dir) -> the names of the "*.lua" files in dir (not in its
 *   subfolders; no hidden or editor-lock files), sorted; {} when dir does not
 *   exist | nil, name: the name of one that is neither a file nor a folder
 *   (a FIFO would block its load). For the checkpoints folder. */
static int l_lua_files(lua_State *L)
{
	const char *dir = luaL_checkstring(L, 1);
	lm_strv *names = lm_lua_scratch(L, sizeof *names, free_strv);
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			size_t n = strlen(e->d_name);
			if (e->d_name[0] == '.' || n <= 4 || strcmp(e->d_name + n - 4, ".lua") != 0)
				continue;
			char *p = lm_path_join(dir, e->d_name);
			if (lm_is_dir(p)) {
				free(p);
				continue;
			}
			if (lm_is_regular(p) == 0) {
				free(p);
				lua_pushnil(L);
				lua_pushstring(L, e->d_name); /* before closedir frees it */
				closedir(d);
				return 2;
			}
			free(p);
			lm_strv_push(names, e->d_name);
		}
		closedir(d);
	}
	if (names->n)
		qsort(names->v, names->n, sizeof(char *), cmp_name);
	lua_createtable(L, (int)names->n, 0);
	for (size_t i = 0; i < names->n; i++) {
		lua_pushstring(L, names->v[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lm_lua_scratch_done(names);
	return 1;
}

/* core.exists(path) -> whether anything is there (a file, a folder, a
 *   FIFO, a link even to nothing), asked without opening it. */
static int l_exists(lua_State *L)
{
	struct stat st;
	lua_pushboolean(L, lstat(luaL_checkstring(L, 1), &st) == 0);
	return 1;
}

/* core.is_regular(path) -> true for a regular file (a link followed), false
 *   for anything else there (a folder, a FIFO, a device), nil when nothing
 *   is: asked without opening it, so that a FIFO never makes it wait. */
static int l_is_regular(lua_State *L)
{
	int r = lm_is_regular(luaL_checkstring(L, 1));
	if (r < 0)
		lua_pushnil(L);
	else
		lua_pushboolean(L, r);
	return 1;
}

/* core.write_new(path, text [, private]) -> true | nil, "path: reason": a
 *   new file (one already there is "File exists", never overwritten) with
 *   the text, readable by its owner only when private (mode 0600; else
 *   0666 less the umask), from the moment it exists. */
static int l_write_new(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	size_t len;
	const char *text = luaL_checklstring(L, 2, &len);
	mode_t mode = lua_toboolean(L, 3) ? 0600 : 0666;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	int err = 0;
	if (fd < 0) {
		err = errno;
	} else {
		err = lm_write_all(fd, text, len);
		if (close(fd) != 0 && !err)
			err = errno;
		if (err)
			unlink(path);
	}
	if (err) {
		lua_pushnil(L);
		lua_pushfstring(L, "%s: %s", path, strerror(err));
		return 2;
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* core.mkdir_p(path) -> true | nil, message: the folder and its parents. */
static int l_mkdir_p(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	if (lm_mkdir_p(path) != 0) {
		lua_pushnil(L);
		lua_pushstring(L, lm_error_get());
		return 2;
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* The loader of luamig.core (package.preload): the module table, with
 * version, the functions above, connect (lua_conn.c), reflect
 * (lua_reflect.c), interruptible and check_interrupt (signals.c), spawn
 * and wait_child (lua_process.c); registers the connection
 * metatable first. */
static int open_core(lua_State *L)
{
	static const luaL_Reg fns[] = {
	        {"connect", lm_lua_connect},
	        {"set_sql_echo", lm_lua_set_sql_echo},
	        {"redact", l_redact},
	        {"parse_url", l_parse_url},
	        {"sleep", l_sleep},
	        {"error_code", l_error_code},
	        {"now", l_now},
	        {"getpid", l_getpid},
	        {"release_memory", l_release_memory},
	        {"release_revisions", l_release_revisions},
	        {"cwd", l_cwd},
	        {"checksum", l_checksum},
	        {"md5_hex", l_md5_hex},
	        {"header_quote", l_header_quote},
	        {"hostname", l_hostname},
	        {"username", l_username},
	        {"file", l_file},
	        {"read_file", l_read_file},
	        {"load_revision", l_load_revision},
	        {"lua_files", l_lua_files},
	        {"exists", l_exists},
	        {"is_regular", l_is_regular},
	        {"write_new", l_write_new},
	        {"mkdir_p", l_mkdir_p},
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
	        {"current_json", l_current_json},
	        {"json_string", l_json_string},
	        {"json_valid", l_json_valid},
	        {"applied", l_applied},
	        {"reflect", lm_lua_reflect},
	        {"interruptible", lm_lua_interruptible},
	        {"check_interrupt", lm_lua_check_interrupt},
	        {"spawn", lm_lua_spawn},
	        {"wait_child", lm_lua_wait_child},
	        {NULL, NULL},
	};
	lm_lua_open_conn(L);
	luaL_newlib(L, fns);
	lua_pushstring(L, LUAMIG_VERSION);
	lua_setfield(L, -2, "version");
	return 1;
}

void lm_lua_preload_core(lua_State *L)
{
	lua_getglobal(L, "package");
	lua_getfield(L, -1, "preload");
	lua_pushcfunction(L, open_core);
	lua_setfield(L, -2, "luamig.core");
	lua_pop(L, 2);
}
