/*
 * test_pool.c — lm_pool (util.h): pieces are zeroed, aligned for any type
 * and keep their bytes while thousands more are carved; a piece larger
 * than a block's quarter gets a block of its own; strndup terminates; a
 * disposed pool is empty and can be used again.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "util.h"

static void test_pieces_are_zeroed_aligned_and_kept(void)
{
	lm_pool p = {0};
	enum { N = 5000 };
	unsigned char *piece[N];
	size_t size[N];
	for (size_t i = 0; i < N; i++) {
		size[i] = i % 97; /* 0 included: still a piece of its own */
		piece[i] = lm_pool_alloc(&p, size[i]);
		CHECK(piece[i] != NULL);
		CHECK((uintptr_t)piece[i] % _Alignof(max_align_t) == 0);
		for (size_t k = 0; k < size[i]; k++)
			CHECK(piece[i][k] == 0);
		memset(piece[i], (int)(i & 0xff), size[i]);
	}
	for (size_t i = 0; i < N; i++) {
		for (size_t k = 0; k < size[i]; k++)
			CHECK(piece[i][k] == (unsigned char)(i & 0xff));
		if (i > 0)
			CHECK(piece[i] != piece[i - 1]);
	}
	/* 5,000 pieces of 16 to 96 bytes fill a few blocks, not 5,000 */
	CHECK(p.n > 1 && p.n < 40);
	lm_pool_dispose(&p);
	CHECK(p.n == 0 && p.blocks == NULL && p.left == 0);
}

static void test_a_large_piece_has_a_block_of_its_own(void)
{
	lm_pool p = {0};
	char *small = lm_pool_alloc(&p, 10);
	size_t blocks = p.n, left = p.left;
	unsigned char *big = lm_pool_alloc(&p, 100000);
	CHECK(p.n == blocks + 1);
	CHECK(p.left == left); /* the current block goes on after it */
	for (size_t k = 0; k < 100000; k++)
		CHECK(big[k] == 0);
	memset(big, 0xab, 100000);
	char *next = lm_pool_alloc(&p, 10);
	CHECK(next == small + 16);
	lm_pool_dispose(&p);
}

static void test_strndup_terminates_and_reuse_after_dispose(void)
{
	lm_pool p = {0};
	const char text[] = "sqlite_master\0hidden";
	char *s = lm_pool_strndup(&p, text, 6);
	CHECK_STR(s, "sqlite");
	char *all = lm_pool_strndup(&p, text, sizeof text - 1);
	CHECK(memcmp(all, text, sizeof text) == 0); /* embedded NUL kept, then the terminator */
	char *empty = lm_pool_strndup(&p, "", 0);
	CHECK_STR(empty, "");
	lm_pool_dispose(&p);
	CHECK_STR(lm_pool_strndup(&p, "again", 5), "again");
	lm_pool_dispose(&p);
}

int main(void)
{
	RUN(test_pieces_are_zeroed_aligned_and_kept);
	RUN(test_a_large_piece_has_a_block_of_its_own);
	RUN(test_strndup_terminates_and_reuse_after_dispose);
	return CHECK_DONE();
}
