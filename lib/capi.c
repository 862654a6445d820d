/*
 * capi.c — libluamig's C API (include/luamig.h) over the library engine
 * (core/library.c): a command's Lua value, read from the private state into
 * a luamig_list, and the error slot's message into a luamig_error.
 */
#include "luamig.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "library.h"
#include "lua_host.h"
#include "util.h"

struct luamig {
	char *config;
	char *section;
	luamig_log_fn log;
	void *log_ud;
};

struct luamig_error {
	char *message;
};

const char *luamig_version(void)
{
	return LUAMIG_VERSION;
}

const char *luamig_error_message(const luamig_error *err)
{
	return err && err->message ? err->message : "";
}

void luamig_error_free(luamig_error *err)
{
	if (!err)
		return;
	free(err->message);
	free(err);
}

void luamig_free(void *p)
{
	free(p);
}

void luamig_list_free(luamig_list *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->count; i++) {
		luamig_entry *e = &list->items[i];
		free(e->revision);
		free(e->message);
		free(e->direction);
		free(e->path);
	}
	free(list->items);
	free(list);
}

/* The error slot into *err (when err is given and *err is still free):
 * one line, passwords redacted, as the binary's FAILED line. */
static void take_error(luamig_error **err)
{
	if (err && !*err) {
		luamig_error *e = lm_calloc(1, sizeof *e);
		e->message = lm_redact(lm_error_get()[0] ? lm_error_get() : "unknown error");
		for (char *p = e->message; *p; p++)
			if (*p == '\n' || *p == '\r')
				*p = ' ';
		*err = e;
	}
	lm_error_clear();
}

/* take_error, for a failure before any call was made. Returns -1. */
static int fail(luamig_error **err)
{
	take_error(err);
	return -1;
}

/* Ends call c: its error (rc != 0) into *err, the private state closed,
 * and the slot left empty (a finalizer run by the close may set it).
 * Returns 0 or -1. */
static int finish(lm_lib_call *c, int rc, luamig_error **err)
{
	if (rc != 0)
		take_error(err);
	lm_lib_dispose(c);
	lm_error_clear();
	return rc == 0 ? 0 : -1;
}

luamig *luamig_open_section(const char *config_path, const char *section, luamig_error **err)
{
	lm_error_clear();
	if (!config_path || !*config_path) {
		lm_error_set("luamig_open: no config file given");
		fail(err);
		return NULL;
	}
	lm_opts o;
	memset(&o, 0, sizeof o);
	o.config = config_path;
	o.name = section;
	lm_config *cfg = lm_cli_load_config(&o);
	if (!cfg) {
		fail(err);
		return NULL;
	}
	lm_config_free(cfg);
	luamig *h = lm_calloc(1, sizeof *h);
	h->config = lm_strdup(config_path);
	h->section = section ? lm_strdup(section) : NULL;
	return h;
}

luamig *luamig_open(const char *config_path, luamig_error **err)
{
	return luamig_open_section(config_path, NULL, err);
}

void luamig_set_log(luamig *h, luamig_log_fn fn, void *userdata)
{
	h->log = fn;
	h->log_ud = userdata;
}

void luamig_close(luamig *h)
{
	if (!h)
		return;
	free(h->config);
	free(h->section);
	free(h);
}

static void sink(void *ud, const char *stream, const char *text, size_t len)
{
	luamig *h = ud;
	if (h->log)
		h->log(h->log_ud, stream, text, len);
}

static void start(lm_lib_call *c, luamig *h, const char *command)
{
	memset(c, 0, sizeof *c);
	c->opts.command = command;
	c->opts.config = h->config;
	c->opts.name = h->section;
	c->sink = sink;
	c->sink_ud = h;
}

/* A string field of the table on top, copied, or NULL. */
static char *field(lua_State *L, const char *k)
{
	lua_getfield(L, -1, k);
	char *s = lua_type(L, -1) == LUA_TSTRING ? lm_strdup(lua_tostring(L, -1)) : NULL;
	lua_pop(L, 1);
	return s;
}

/* The entry on top of the state: a table, or a string (a difference). */
static void read_entry(lua_State *L, luamig_entry *e)
{
	if (lua_type(L, -1) == LUA_TSTRING) {
		e->message = lm_strdup(lua_tostring(L, -1));
		return;
	}
	if (!lua_istable(L, -1))
		return;
	e->revision = field(L, "revision");
	e->message = field(L, "message");
	e->direction = field(L, "direction");
	e->path = field(L, "path");
	lua_getfield(L, -1, "is_head");
	e->is_head = lua_toboolean(L, -1);
	lua_getfield(L, -2, "duration_ms");
	e->duration_ms = lua_tonumber(L, -1);
	lua_pop(L, 2);
}

/* read_list(value, list): reads the command's value into the luamig_list
 * given as light userdata: a list of entries, or one entry (a table with a
 * revision field: revision's answer). Run protected: a field read may
 * raise (out of memory). */
static int read_list(lua_State *L)
{
	luamig_list *list = lua_touserdata(L, 2);
	lua_settop(L, 1);
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_getfield(L, -1, "revision");
	int single = lua_type(L, -1) == LUA_TSTRING;
	lua_pop(L, 1);
	if (single) {
		list->items = lm_calloc(1, sizeof *list->items);
		list->count = 1;
		read_entry(L, &list->items[0]);
		return 0;
	}
	size_t n = (size_t)luaL_len(L, -1);
	list->items = lm_calloc(n ? n : 1, sizeof *list->items);
	for (size_t i = 0; i < n; i++) {
		list->count = i + 1;
		lua_rawgeti(L, -1, (lua_Integer)i + 1);
		read_entry(L, &list->items[i]);
		lua_pop(L, 1);
	}
	return 0;
}

/* Runs c and, when out is given, reads its list into *out. */
static int run_list(lm_lib_call *c, luamig_list **out, luamig_error **err)
{
	int rc = lm_lib_run(c);
	if (rc == 0 && out) {
		luamig_list *list = lm_calloc(1, sizeof *list);
		lua_pushcfunction(c->L, read_list);
		lua_insert(c->L, -2);
		lua_pushlightuserdata(c->L, list);
		rc = lm_lua_pcall(c->L, 2, 0);
		if (rc == 0)
			*out = list;
		else
			luamig_list_free(list);
	}
	return finish(c, rc, err);
}

static int run_to(luamig *h, const char *command, const char *revision, luamig_list **out,
                  luamig_error **err)
{
	lm_lib_call c;
	start(&c, h, command);
	if (revision)
		lm_strv_push(&c.opts.positional, revision);
	return run_list(&c, out, err);
}

int luamig_upgrade(luamig *h, const char *revision, luamig_list **steps, luamig_error **err)
{
	return run_to(h, "upgrade", revision ? revision : "head", steps, err);
}

int luamig_downgrade(luamig *h, const char *revision, luamig_list **steps, luamig_error **err)
{
	if (!revision) {
		lm_error_set("luamig_downgrade: no revision given");
		return fail(err);
	}
	return run_to(h, "downgrade", revision, steps, err);
}

int luamig_stamp(luamig *h, const char *revision, luamig_list **steps, luamig_error **err)
{
	if (!revision) {
		lm_error_set("luamig_stamp: no revision given");
		return fail(err);
	}
	return run_to(h, "stamp", revision, steps, err);
}

int luamig_current(luamig *h, luamig_list **revisions, luamig_error **err)
{
	return run_to(h, "current", NULL, revisions, err);
}

int luamig_heads(luamig *h, luamig_list **revisions, luamig_error **err)
{
	return run_to(h, "heads", NULL, revisions, err);
}

int luamig_history(luamig *h, luamig_list **revisions, luamig_error **err)
{
	return run_to(h, "history", NULL, revisions, err);
}

int luamig_check(luamig *h, luamig_list **differences, luamig_error **err)
{
	return run_to(h, "check", NULL, differences, err);
}

int luamig_revision(luamig *h, const char *message, int autogenerate, luamig_list **created,
                    luamig_error **err)
{
	lm_lib_call c;
	start(&c, h, "revision");
	c.opts.message = message;
	c.opts.autogenerate = autogenerate;
	return run_list(&c, created, err);
}

int luamig_inspect(luamig *h, const char *url, char **json, luamig_error **err)
{
	lm_lib_call c;
	start(&c, h, "inspect");
	c.url = url;
	c.json = 1;
	int rc = lm_lib_run(&c);
	if (rc == 0 && json) {
		size_t len;
		const char *s = lua_tolstring(c.L, -1, &len);
		*json = s ? lm_strdup(s) : lm_strdup("{}");
	}
	return finish(&c, rc, err);
}
