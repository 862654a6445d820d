/*
 * lua_host.c — the embedded Lua: the state, how luamig's own modules are
 * found, and protected calls that turn any Lua error into the error slot.
 *
 * Built-in modules are found by a package searcher that looks in the
 * binary (embedded.c), or in $LUAMIG_LUA_DIR during development; C
 * modules (luamig.core, lua_core.c) go in package.preload. User files
 * (env.lua, revisions, models) are loaded in text mode: env.lua and the
 * revisions by the Lua side, each in its own environment; a module on
 * package.path (models.lua) by a searcher that takes the place of Lua's,
 * and compiles it once (chunkcache.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "lua_host.h"

#include <lauxlib.h>
#include <limits.h>
#include <lualib.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chunkcache.h"
#include "driver.h"
#include "embedded.h"
#include "util.h"

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
		lua_pushfstring(L, "no embedded module '%s'", modname);
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
	lm_buf_dispose(&base); /* before the push, which may raise */
	lua_pushfstring(L, "no embedded module '%s'", modname);
	return 1;
}

/* package.searchers entry in place of Lua's own for package.path: the
 * same search (package.searchpath) and the same messages, but the file is
 * loaded in text mode only, and its bytecode cached while it is unchanged
 * (chunkcache.h): a models.lua of 200 tables is 40 KB of Lua to compile on
 * each autogenerate. A file whose first line starts with "#" is compiled
 * as luaL_loadfilex does, uncached. */
static int path_searcher(lua_State *L)
{
	const char *modname = luaL_checkstring(L, 1);
	/* the package table and its searchpath as they were at the start (as
	 * Lua's own searcher keeps them): a file cannot swap them */
	lua_pushvalue(L, lua_upvalueindex(2));
	lua_pushvalue(L, 1);
	lua_getfield(L, lua_upvalueindex(1), "path");
	if (!lua_isstring(L, -1))
		luaL_error(L, "'package.path' must be a string");
	lua_call(L, 2, 2);
	if (!lua_isstring(L, -2))
		return 1; /* not found: searchpath's list of the files tried */
	lua_pop(L, 1);
	const char *filename = lua_tostring(L, -1);
	char head[4] = {0};
	FILE *f = fopen(filename, "rb");
	size_t got = f ? fread(head, 1, sizeof head, f) : 0;
	if (f)
		fclose(f);
	int hash =
	        got > 0 && (head[0] == '#' || (got == 4 && memcmp(head, "\xEF\xBB\xBF#", 4) == 0));
	int rc;
	if (hash) {
		rc = luaL_loadfilex(L, filename, "t");
	} else {
		/* the entry named by the absolute path: "./models.lua" of two
		 * projects are two files */
		char cwd[PATH_MAX];
		const char *path = filename;
		if (filename[0] != '/' && getcwd(cwd, sizeof cwd))
			path = lua_pushfstring(L, "%s/%s", cwd, filename);
		else
			lua_pushnil(L);
		const char *chunkname = lua_pushfstring(L, "@%s", filename);
		rc = lm_chunkcache_load(L, path, chunkname, 1);
		lua_replace(L, -3); /* the chunk (or message) where the path was */
		lua_pop(L, 1);      /* the chunk name */
	}
	if (rc != LUA_OK)
		return luaL_error(L, "error loading module '%s' from file '%s':\n\t%s", modname,
		                  filename, lua_tostring(L, -1));
	lua_pushvalue(L, -2); /* the file name, the loader's second argument */
	return 2;
}

/* The number of active call levels (lua_getstack's levels) of L. */
static int stack_depth(lua_State *L)
{
	lua_Debug ar;
	int n = 0;
	while (lua_getstack(L, n, &ar))
		n++;
	return n;
}

/* The call depth (stack_depth) at each active lm_lua_pcall, innermost
 * last, for the message handler to cut the traceback there. A C array, not
 * an upvalue of the handler: making a closure allocates, and lm_lua_pcall
 * must not raise (out of memory) before its call is protected. */
enum { MAX_PCALL_NESTING = 64 };
static int pcall_depths[MAX_PCALL_NESTING];
static int npcalls;

/* The traceback handler of lm_lua_pcall: a string message, or a table
 * error object as it is. With LUAMIG_TRACEBACK (--raiseerr), a string gets
 * the traceback of what ran under the protected call, without the levels
 * beneath it (main.c's pmain, ...), so that the trace ends where the call
 * began. */
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
	/* A message that carries its traceback already (a revision's, which
	 * migration.lua takes where the user's code failed) keeps that one. */
	if (!getenv("LUAMIG_TRACEBACK") || strstr(msg, "\nstack traceback:\n")) {
		lua_pushstring(L, msg);
		return 1;
	}
	luaL_traceback(L, L, msg, 1);
	/* One "\n\t..." line per level, the outermost last. */
	size_t len;
	const char *tb = lua_tolstring(L, -1, &len);
	int beneath = npcalls > 0 && npcalls <= MAX_PCALL_NESTING ? pcall_depths[npcalls - 1] : 0;
	for (int k = beneath; k > 0; k--) {
		size_t i = len;
		while (i > 0 && !(tb[i - 1] == '\n' && tb[i] == '\t'))
			i--;
		if (i == 0)
			break;
		len = i - 1;
	}
	lua_pushlstring(L, tb, len);
	return 1;
}

int lm_lua_pcall(lua_State *L, int nargs, int nresults)
{
	int base = lua_gettop(L) - nargs;
	lua_pushcfunction(L, msghandler); /* a light C function: allocates nothing */
	lua_insert(L, base);
	if (npcalls < MAX_PCALL_NESTING)
		pcall_depths[npcalls] = stack_depth(L);
	npcalls++;
	int rc = lua_pcall(L, nargs, nresults, base);
	npcalls--;
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

/* A scratch block behind its dispose function; the flexible array of
 * max_align_t keeps the block aligned for any type. */
typedef struct scratch {
	void (*dispose)(void *block);
	max_align_t block[];
} scratch;

#define SCRATCH_MT "luamig.scratch"

static scratch *scratch_of(void *block)
{
	return (scratch *)(void *)((char *)block - offsetof(scratch, block));
}

static int scratch_gc(lua_State *L)
{
	scratch *s = lua_touserdata(L, 1);
	lm_lua_scratch_done(s->block);
	return 0;
}

void *lm_lua_scratch(lua_State *L, size_t size, void (*dispose)(void *block))
{
	scratch *s = lua_newuserdatauv(L, sizeof *s + size, 0);
	memset(s, 0, sizeof *s + size);
	if (luaL_newmetatable(L, SCRATCH_MT)) {
		lua_pushcfunction(L, scratch_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_setmetatable(L, -2);
	/* from here on the block is owned: nothing above raises after this */
	s->dispose = dispose;
	return s->block;
}

void lm_lua_scratch_done(void *block)
{
	scratch *s = scratch_of(block);
	void (*dispose)(void *) = s->dispose;
	s->dispose = NULL;
	if (dispose)
		dispose(block);
}

static void free_string(void *block)
{
	char **s = block;
	free(*s);
	*s = NULL;
}

void lm_lua_push_redacted(lua_State *L, const char *text)
{
	char **s = lm_lua_scratch(L, sizeof *s, free_string);
	*s = lm_redact(text);
	lua_pushstring(L, *s);
	lm_lua_scratch_done(s);
	lua_remove(L, -2); /* the scratch, now empty */
}

int lm_lua_raise_slot(lua_State *L)
{
	lua_pushstring(L, lm_error_get());
	return lua_error(L);
}

void lm_lua_open(lua_State *L)
{
	luaL_openlibs(L);
	/* Our searcher second in line, right after package.preload, so no
	 * file on LUA_PATH can shadow luamig. */
	lua_getglobal(L, "package");
	lua_getfield(L, -1, "searchers");
	lua_Integer n = luaL_len(L, -1);
	for (lua_Integer i = n; i >= 2; i--) {
		lua_rawgeti(L, -1, i);
		lua_rawseti(L, -2, i + 1);
	}
	lua_pushcfunction(L, searcher);
	lua_rawseti(L, -2, 2);
	lua_pushvalue(L, -2); /* package */
	lua_getfield(L, -1, "searchpath");
	lua_pushcclosure(L, path_searcher, 2); /* Lua's own, now third */
	lua_rawseti(L, -2, 3);
	lua_pop(L, 2);
}
