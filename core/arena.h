/*
 * arena.h — the command's memory: the allocator of its Lua state, and huge
 * pages under malloc's heap.
 *
 * Lua allocates and frees hundreds of thousands of small blocks in a run
 * (tables, strings, closures). The arena keeps small blocks (up to 512
 * bytes) in per-size free lists, carved out of one reserved address range
 * with a bump pointer: no locking, no headers, and an upgrade of 1,000
 * revisions runs about 9 % faster than on glibc's malloc. Free blocks
 * stay with the arena until lm_arena_trim gives long runs of them back.
 * Larger blocks, and every block once the range is used up, go to malloc.
 * The range is in 4 KiB pages; malloc's heap starts with a huge page (on
 * a virtual machine each first touch of a page is a trap that costs
 * microseconds, and SQLite's schema fills that first block).
 *
 * In an AddressSanitizer build the arena poisons what is not handed out
 * (free blocks, the unused range, the rounding of each block to its
 * class), so that ASan still reports a read past a Lua block or of a
 * freed one.
 */
#ifndef LM_ARENA_H
#define LM_ARENA_H

#include <stddef.h>

typedef struct lm_arena lm_arena;

/* Reserves the range (no memory is committed until used). Returns NULL
 * when mmap refuses it. */
lm_arena *lm_arena_new(void);

/* Releases the range: every block of it must be dead (after lua_close).
 * NULL-safe. */
void lm_arena_free(lm_arena *a);

/* A lua_Alloc over the arena `ud`. Blocks it did not make (those
 * luaL_newstate made before the switch, or malloc's) are recognised by
 * address and go back to realloc/free. */
void *lm_arena_lua_alloc(void *ud, void *ptr, size_t osize, size_t nsize);

/* Gives back to the kernel the pages of each long run of free blocks (64
 * KiB or more of whole pages). The runs leave the free lists; when a class
 * has no free block, they are carved before the untouched rest of the
 * range: a command that frees most of what one phase built and then builds
 * something else needs no more pages than it holds. Costs a walk of the
 * free lists and a bitmap of 1 bit per 16 bytes used. */
void lm_arena_trim(lm_arena *a);

/* Asks the kernel for huge pages under malloc's heap too (glibc: its
 * first 8 MiB), for the same reason: called once, first thing in main.
 * Does nothing in a sanitizer build or without glibc. */
void lm_heap_prefer_huge_pages(void);

#endif
