/*
 * test_arena.c — the Lua state's allocator (arena.h): blocks of each
 * class keep their bytes through growth and shrinking, a freed block is
 * reused by its class, large blocks and blocks it did not make go to
 * malloc, a trim gives the pages of long free runs back and carves them
 * again first, and a whole Lua state runs on it and closes cleanly.
 */
#define _DEFAULT_SOURCE /* mincore */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arena.h"
#include "check.h"

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(seed + i * 7);
}

static int holds(const unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned char)(seed + i * 7))
			return 0;
	return 1;
}

static void test_blocks_keep_their_bytes_through_realloc(void)
{
	lm_arena *a = lm_arena_new();
	CHECK(a != NULL);
	/* every size from 1 to past the largest class, grown then shrunk */
	for (size_t n = 1; n <= 600; n += 3) {
		unsigned char *p = lm_arena_lua_alloc(a, NULL, LUA_TTABLE, n);
		CHECK(p != NULL);
		CHECK(((size_t)p & 15) == 0);
		fill(p, n, (unsigned)n);
		unsigned char *q = lm_arena_lua_alloc(a, p, n, n * 2 + 5);
		CHECK(q != NULL);
		CHECK(holds(q, n, (unsigned)n));
		fill(q, n * 2 + 5, (unsigned)n + 1);
		unsigned char *r = lm_arena_lua_alloc(a, q, n * 2 + 5, n);
		CHECK(r != NULL);
		CHECK(holds(r, n, (unsigned)n + 1));
		CHECK(lm_arena_lua_alloc(a, r, n, 0) == NULL);
	}
	lm_arena_free(a);
}

static void test_a_freed_block_is_reused_by_its_class(void)
{
	lm_arena *a = lm_arena_new();
	CHECK(a != NULL);
	void *p = lm_arena_lua_alloc(a, NULL, 0, 40);
	void *q = lm_arena_lua_alloc(a, NULL, 0, 40);
	CHECK(p != q);
	lm_arena_lua_alloc(a, p, 40, 0);
	/* 33..48 bytes share the class of 40 */
	CHECK(lm_arena_lua_alloc(a, NULL, 0, 48) == p);
	/* growing within the class keeps the block; past it moves it */
	CHECK(lm_arena_lua_alloc(a, q, 40, 47) == q);
	void *moved = lm_arena_lua_alloc(a, q, 47, 49);
	CHECK(moved != q);
	CHECK(lm_arena_lua_alloc(a, NULL, 0, 36) == q);
	lm_arena_free(a);
}

static void test_blocks_it_did_not_make_go_to_malloc(void)
{
	lm_arena *a = lm_arena_new();
	CHECK(a != NULL);
	/* a block from before the switch: realloc'ed and freed by malloc */
	char *m = malloc(24);
	CHECK(m != NULL);
	strcpy(m, "before the switch");
	char *g = lm_arena_lua_alloc(a, m, 24, 4096);
	CHECK(g != NULL);
	CHECK_STR(g, "before the switch");
	lm_arena_lua_alloc(a, g, 4096, 0);
	/* a large block is malloc's, and moves into a class when shrunk */
	char *big = lm_arena_lua_alloc(a, NULL, 0, 100000);
	CHECK(big != NULL);
	strcpy(big, "large");
	char *small = lm_arena_lua_alloc(a, big, 100000, 16);
	CHECK_STR(small, "large");
	lm_arena_lua_alloc(a, small, 16, 0);
	lm_arena_free(a);
}

static void test_more_than_one_region_of_blocks(void)
{
	lm_arena *a = lm_arena_new();
	CHECK(a != NULL);
	/* 8 MiB of 512-byte blocks: the range opens four times */
	enum { N = 16384 };
	void **v = malloc(N * sizeof *v);
	CHECK(v != NULL);
	for (unsigned i = 0; i < N; i++) {
		v[i] = lm_arena_lua_alloc(a, NULL, 0, 512);
		CHECK(v[i] != NULL);
		fill(v[i], 512, i);
	}
	for (unsigned i = 0; i < N; i++)
		CHECK(holds(v[i], 512, i));
	for (unsigned i = 0; i < N; i++)
		lm_arena_lua_alloc(a, v[i], 512, 0);
	free(v);
	lm_arena_free(a);
}

/* Whether the page that holds p is in memory: 1 or 0 (-1: unknown). */
static int resident(const void *p)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	unsigned char in = 0;
	if (mincore((void *)((size_t)p & ~(page - 1)), page, &in) != 0)
		return -1;
	return in & 1;
}

static void test_a_trim_gives_long_free_runs_back(void)
{
	lm_arena *a = lm_arena_new();
	CHECK(a != NULL);
	/* 2 MiB of 64-byte blocks; all but every 4096th (one per 256 KiB) freed */
	enum { N = 32768, KEEP = 4096 };
	unsigned char **v = malloc(N * sizeof *v);
	CHECK(v != NULL);
	for (unsigned i = 0; i < N; i++) {
		v[i] = lm_arena_lua_alloc(a, NULL, 0, 64);
		CHECK(v[i] != NULL);
		fill(v[i], 64, i);
	}
	for (unsigned i = 0; i < N; i++)
		if (i % KEEP)
			lm_arena_lua_alloc(a, v[i], 64, 0);
	unsigned char *middle = v[KEEP / 2];
	CHECK(resident(middle) == 1);
	lm_arena_trim(a);
	/* the runs between the kept blocks are out of memory; those stay */
	CHECK(resident(middle) == 0);
	for (unsigned i = 0; i < N; i += KEEP) {
		CHECK(resident(v[i]) == 1);
		CHECK(holds(v[i], 64, i));
	}
	/* carved again before the untouched tail, and never over a kept block:
	 * blocks of every class, until the first beyond the old ones */
	unsigned char *end = v[N - 1] + 64;
	size_t again = 0;
	for (size_t n = 16;; n = n % 512 + 16) {
		unsigned char *p = lm_arena_lua_alloc(a, NULL, 0, n);
		CHECK(p != NULL);
		if (p >= end)
			break;
		for (unsigned i = 0; i < N; i += KEEP)
			CHECK(p + n <= v[i] || p >= v[i] + 64);
		memset(p, 0xee, n);
		again += n;
	}
	CHECK(again > (size_t)N * 64 / 2);
	for (unsigned i = 0; i < N; i += KEEP)
		CHECK(holds(v[i], 64, i));
	/* a second trim with nothing long to give is harmless */
	lm_arena_trim(a);
	for (unsigned i = 0; i < N; i += KEEP)
		CHECK(holds(v[i], 64, i));
	free(v);
	lm_arena_free(a);
}

static void test_a_lua_state_runs_on_it(void)
{
	lua_State *L = luaL_newstate();
	CHECK(L != NULL);
	lm_arena *a = lm_arena_new();
	CHECK(a != NULL);
	lua_setallocf(L, lm_arena_lua_alloc, a);
	luaL_openlibs(L);
	const char *code =
	        "local t = {}\n"
	        "for i = 1, 20000 do t[i] = { i, tostring(i) .. string.rep('x', i % 700) } end\n"
	        "for i = 1, 20000, 2 do t[i] = nil end\n"
	        "collectgarbage()\n"
	        "local sum = 0\n"
	        "for i = 2, 20000, 2 do sum = sum + t[i][1] + #t[i][2] end\n"
	        "return sum";
	CHECK(luaL_dostring(L, code) == LUA_OK);
	/* the even i and their strings: sum of i, plus len(tostring(i)) + i % 700 */
	long long want = 0;
	for (long long i = 2; i <= 20000; i += 2) {
		char buf[32];
		want += i + (long long)snprintf(buf, sizeof buf, "%lld", i) + i % 700;
	}
	CHECK(lua_tointeger(L, -1) == want);
	lua_close(L);
	lm_arena_free(a);
}

int main(void)
{
	RUN(test_blocks_keep_their_bytes_through_realloc);
	RUN(test_a_freed_block_is_reused_by_its_class);
	RUN(test_blocks_it_did_not_make_go_to_malloc);
	RUN(test_more_than_one_region_of_blocks);
	RUN(test_a_trim_gives_long_free_runs_back);
	RUN(test_a_lua_state_runs_on_it);
	return CHECK_DONE();
}
