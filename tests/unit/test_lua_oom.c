/*
 * test_lua_oom.c — out of memory in the Lua API, wherever luamig's C meets
 * Lua: luamig.core's functions, connections, reflection, the module
 * searcher, and commands that hold a config and a revision map while they
 * call into Lua.
 *
 * As in Lua's and SQLite's own test suites, each scenario runs once per
 * allocation of its Lua state, with that allocation (and Lua's retry of it
 * after an emergency collection) failing, until a run gets through without
 * reaching it. A failing run must end in Lua's memory error, never in a
 * crash or another error; and nothing may leak: in the sanitizer build,
 * LeakSanitizer is asked after every scenario. luamig's own C allocations
 * do not fail here (they end the process: util.c); those are the fault
 * injection's (tests/integration/test_faults.py).
 */
#define _POSIX_C_SOURCE 200809L
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "cli.h"
#include "config.h"
#include "lua_core.h"
#include "lua_host.h"
#include "script.h"
#include "util.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define LEAKS_FOUND() __lsan_do_recoverable_leak_check()
#else
#define LEAKS_FOUND() 0
#endif

/* --- an allocator that fails the Nth allocation ----------------------------- */

static struct {
	int armed;
	long n, count;
	int fired;
	int retry; /* the failed request, which Lua asks once more for */
	void *retry_ptr;
	size_t retry_size;
} A;

static void *failing_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	(void)ud;
	if (nsize == 0) {
		free(ptr);
		return NULL;
	}
	size_t old = ptr ? osize : 0; /* without ptr, osize is a type tag */
	if (A.armed && nsize > old) {
		int again = A.retry && A.retry_ptr == ptr && A.retry_size == nsize;
		A.retry = 0;
		if (again)
			return NULL;
		if (++A.count == A.n) {
			A.fired = 1;
			A.retry = 1;
			A.retry_ptr = ptr;
			A.retry_size = nsize;
			return NULL;
		}
	}
	return realloc(ptr, nsize);
}

/* --- scenarios --------------------------------------------------------------- */

/* A scenario: Lua source to run, or a command line for lm_main; what its
 * complete run ends with (NULL: success, else a part of the error); the
 * host to lend; and how many allocations to sweep (0: all of them). */
typedef struct scenario {
	const char *chunk;
	const char **argv;
	const char *expect;
	lm_host *host;
	long limit;
} scenario;

static const scenario *current;

static int body(lua_State *L)
{
	if (current->argv) {
		int argc = 0;
		while (current->argv[argc])
			argc++;
		int rc = lm_main(L, argc, (char **)current->argv);
		if (rc != 0)
			return luaL_error(L, "%s", rc < 0 ? lm_error_get() : "exit status");
		return 0;
	}
	if (luaL_loadstring(L, current->chunk) != LUA_OK)
		return lua_error(L);
	lua_call(L, 0, 0);
	return 0;
}

static int is_memory_error(int status, const char *msg)
{
	return status == LUA_ERRMEM || (msg && strstr(msg, "not enough memory"));
}

/* Runs the scenario with allocation n failing (0: none); returns the
 * status, the message in msg. */
static int run_once(long n, char *msg, size_t msglen)
{
	A.armed = 0;
	lua_State *L = lua_newstate(failing_alloc, NULL);
	lm_lua_open(L);
	lm_lua_preload_core(L);
	if (current->host)
		lm_lua_set_host(L, current->host);
	lua_pushcfunction(L, body);
	A.n = n;
	A.count = 0;
	A.fired = 0;
	A.retry = 0;
	A.armed = n > 0;
	int status = lua_pcall(L, 0, 0, 0);
	A.armed = 0;
	msg[0] = '\0';
	if (status != LUA_OK)
		snprintf(msg, msglen, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
	lm_lua_set_host(L, NULL);
	lua_close(L);
	lm_error_clear();
	return status;
}

/* Every allocation of the scenario fails in turn. */
static void sweep(const scenario *s)
{
	char msg[4096];
	current = s;
	int status = run_once(0, msg, sizeof msg);
	int as_expected = s->expect ? status != LUA_OK && strstr(msg, s->expect) : status == LUA_OK;
	if (!as_expected)
		fprintf(stderr, "%s: the complete run ended in: %s\n", check_case,
		        status == LUA_OK ? "success" : msg);
	CHECK(as_expected);
	long n;
	for (n = 1; s->limit == 0 || n <= s->limit; n++) {
		status = run_once(n, msg, sizeof msg);
		if (!A.fired)
			break;
		if (status == LUA_OK || is_memory_error(status, msg))
			continue;
		if (s->expect && strstr(msg, s->expect))
			continue; /* the memory error came after the scenario's own */
		fprintf(stderr, "%s: allocation %ld failed, and the run ended in: %s\n", check_case,
		        n, msg);
		CHECK(0);
	}
	CHECK(s->limit > 0 || !A.fired);
	printf("     %s: %ld allocations failed in turn\n", check_case, n - 1);
	CHECK(LEAKS_FOUND() == 0);
}

/* --- a project on disk, for the host and the commands ------------------------ */

static char project[256];
static char ini_path[300];

static void write_at(const char *rel, const char *text)
{
	char *path = lm_path_join(project, rel);
	if (lm_write_file(path, text, strlen(text)) != 0) {
		fprintf(stderr, "%s\n", lm_error_get());
		exit(1);
	}
	free(path);
}

static void make_project(void)
{
	snprintf(project, sizeof project, "%s/lm_oom_XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(project)) {
		perror("mkdtemp");
		exit(1);
	}
	char *versions = lm_path_join(project, "migrations/versions");
	lm_mkdir_p(versions);
	free(versions);
	lm_buf ini = {0};
	lm_buf_printf(&ini,
	              "[luamig]\nscript_location = %s/migrations\nurl = sqlite:///%s/app.db\n"
	              "revision_environment = true\n",
	              project, project);
	write_at("luamig.ini", lm_buf_str(&ini));
	lm_buf_dispose(&ini);
	write_at("app.db", ""); /* an empty database: current refuses a missing file */
	snprintf(ini_path, sizeof ini_path, "%s/luamig.ini", project);
	setenv("LUAMIG_NO_CACHE", "1", 1); /* no header cache outside the project */
	const char *from_template[] = {"env.lua", "script.lua.tmpl", NULL};
	for (const char **f = from_template; *f; f++) {
		size_t len;
		char *to_free;
		char *name = lm_sprintf("templates/generic/%s", *f);
		char *rel = lm_sprintf("migrations/%s", *f);
		write_at(rel, lm_lua_file(name, &len, &to_free));
		free(to_free);
		free(rel);
		free(name);
	}
	write_at("migrations/versions/a1_first.lua",
	         "revision = \"a1\"\ndown_revision = nil\n"
	         "function upgrade() op.execute(\"CREATE TABLE t (a INTEGER)\") end\n"
	         "function downgrade() op.execute(\"DROP TABLE t\") end\n");
	write_at("migrations/versions/a2_second.lua",
	         "--[[ second ]]\nrevision = \"a2\"\ndown_revision = \"a1\"\n"
	         "function upgrade() end\nfunction downgrade() end\n");
}

static void remove_project(void)
{
	/* the files written above, the revisions `revision` wrote, app.db */
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", project);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", project);
}

/* --- the cases ------------------------------------------------------------------ */

static void query_rows_and_errors(void)
{
	scenario s = {.chunk = "local core = require 'luamig.core'\n"
	                       "local c = core.connect('sqlite://')\n"
	                       "c:execute('CREATE TABLE t (a INTEGER, b TEXT)')\n"
	                       "c:execute(\"INSERT INTO t VALUES (1, 'one'), (2, 'two')\")\n"
	                       "assert(#c:query('SELECT a, b FROM t WHERE a > ?', { 0 }) == 2)\n"
	                       "local none, msg = c:pquery('SELECT * FROM nosuch')\n"
	                       "assert(none == nil and msg:find('no such table'))\n"
	                       "c:begin() c:rollback()\n"
	                       "c:execute('SELECT * FROM nosuch')\n",
	              .expect = "no such table: nosuch"};
	sweep(&s);
}

static void urls_and_redaction(void)
{
	scenario s = {
	        .chunk = "local core = require 'luamig.core'\n"
	                 "assert(core.parse_url('postgresql://u:secret@h/db').dialect)\n"
	                 "assert(core.parse_url('sqlite:///x.db').path == 'x.db')\n"
	                 "assert(core.parse_url('nosuch://x') == nil)\n"
	                 "assert(not core.redact('postgresql://u:secret@h/db'):find('secret'))\n"
	                 "assert(core.file('templates/generic/env.lua'))\n"};
	sweep(&s);
}

static void reflection_error(void)
{
	scenario s = {.chunk = "local core = require 'luamig.core'\n"
	                       "local c = core.connect('sqlite://')\n"
	                       "c:execute('CREATE TABLE t (a INTEGER PRIMARY KEY)')\n"
	                       "assert(core.reflect(c, { batch = true }).tables.t)\n"
	                       "core.reflect(c, { schemas = { 'nosuch' } })\n",
	              .expect = "reflect: no schema (attached database) named 'nosuch'"};
	sweep(&s);
}

static void module_searcher(void)
{
	scenario s = {.chunk = "require 'luamig.log'\nrequire 'luamig.nosuch'\n",
	              .expect = "module 'luamig.nosuch' not found"};
	sweep(&s);
}

static void revisions_plans_and_config(void)
{
	lm_config *cfg = lm_config_load(ini_path);
	CHECK(cfg);
	lm_script_dir sd;
	CHECK(lm_script_dir_open(cfg, "luamig", &sd) == 0 && lm_script_dir_load(&sd) == 0);
	lm_host host = {cfg, "luamig", &sd, NULL, 0};
	scenario s = {.chunk = "local core = require 'luamig.core'\n"
	                       "assert(core.heads()[1] == 'a2')\n"
	                       "assert(core.resolve('head')[1] == 'a2')\n"
	                       "assert(core.revision('a2').down_revision[1] == 'a1')\n"
	                       "assert(#core.plan('upgrade', {}, 'head') == 2)\n"
	                       "assert(#core.plan('downgrade', { 'a2' }, 'base') == 2)\n"
	                       "assert(#core.plan('stamp', {}, { 'a2' }) == 1)\n"
	                       "assert(core.current_ids({ 'a2' })[1] == 'a2')\n"
	                       "assert(#core.current_lines({ 'a2' }, true) == 1)\n"
	                       "assert(core.format_short('a2', true))\n"
	                       "assert(#core.config_keys('luamig') == 3)\n"
	                       "assert(#core.config_sections() == 1)\n"
	                       "assert(core.config_info().path)\n"
	                       "assert(core.current_json({ 'a2' }):find('\"a2\"'))\n"
	                       "assert(core.json_string('caf\\195\\169 \\255') == '\"caf\\195\\169 "
	                       "\\\\ufffd\"')\n"
	                       "local applied, unknown = core.applied({ 'a2', 'zz' })\n"
	                       "assert(applied.a1 and unknown[1] == 'zz')\n"
	                       "core.plan('upgrade', {}, 'nosuch')\n",
	              .expect = "nosuch",
	              .host = &host};
	sweep(&s);
	lm_script_dir_dispose(&sd);
	lm_config_free(cfg);
}

/* The start of a command that runs env.lua: the config and the revision
 * map are loaded, then the runtime is required and the command built. */
static void command_runtime(void)
{
	const char *argv[] = {"luamig", "-q", "-c", ini_path, "current", NULL};
	scenario s = {.argv = argv, .limit = 400};
	sweep(&s);
}

static void command_revision_environment(void)
{
	const char *argv[] = {"luamig", "-q", "-c", ini_path, "revision", "-m", "x", NULL};
	scenario s = {.argv = argv, .limit = 400};
	sweep(&s);
}

int main(void)
{
	make_project();
	RUN(query_rows_and_errors);
	RUN(urls_and_redaction);
	RUN(reflection_error);
	RUN(module_searcher);
	RUN(revisions_plans_and_config);
	RUN(command_runtime);
	RUN(command_revision_environment);
	remove_project();
	return CHECK_DONE();
}
