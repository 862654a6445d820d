/*
 * chunkcache.h — revision files compiled once: the bytecode Lua made of a
 * revision file's text is kept between runs, so that the next `upgrade`
 * loads it instead of parsing the file again (the parse was a sixth of an
 * upgrade's own work). Modules required from package.path (models.lua)
 * go through it too (lua_host.c), as files always seen.
 *
 * One cache file per revision file, under the cache folder (cachedir.h,
 * lm_cache_dir) in chunks/, named by a hash of the path. Its bytecode is
 * used only when all of these hold, else the text is read and compiled
 * (and the entry written again):
 *   - the revision file's size, inode, mtime and ctime (to the nanosecond)
 *     are the ones recorded, and its ctime is older than the entry by more
 *     than a second (a change in the second the entry was written could
 *     keep the same stat, as headcache.h says);
 *   - the chunk name (how errors name the file) is the one recorded;
 *   - the entry was made by this Lua release, as built and as running (a
 *     hash of a probe function's dump: the library and the Lua module run
 *     on the system's Lua), and its seal (a hash of the whole entry)
 *     matches: damage is never loaded;
 *   - the cache file is a regular file (opened without following a link or
 *     waiting on a FIFO) with one name, owned by this user and writable by
 *     no one else: bytecode is not checked by Lua as text is, so only
 *     bytecode this user's luamig wrote is loaded, never a file someone
 *     else could have put there. A file system that keeps no owner or mode
 *     makes every entry unbelievable: the first one written is checked,
 *     and the run writes no more.
 * An entry is written (and looked for) only for a file an earlier run read
 * as it is now, which the header cache knows (revmap.h, lm_revision.seen):
 * writing an entry is a file created, and a run on a fresh machine (a
 * deploy) that made a thousand of them took half as long again as one
 * that compiled; such a run writes none, and the next run writes them.
 * A revision file itself is still compiled in text mode only: a binary
 * chunk in the versions folder is refused. LUAMIG_NO_CACHE turns this cache
 * off with the header cache; any problem with it only means compiling.
 */
#ifndef LM_CHUNKCACHE_H
#define LM_CHUNKCACHE_H

#include <lua.h>

/* Pushes the chunk of the revision file at path, compiled (or loaded from
 * the cache) under chunkname ("@migrations/versions/x.lua"), with its first
 * upvalue unset (the global table, as lua_load leaves it), and returns
 * LUA_OK. Otherwise pushes a message and returns an error status:
 * LUA_ERRFILE when the file cannot be read ("path: reason"), else
 * lua_load's status and message. A UTF-8 byte-order mark is skipped, as
 * luaL_loadfile skips it. seen: an earlier run read the file as it is now;
 * when 0 the cache is neither read nor written. */
int lm_chunkcache_load(lua_State *L, const char *path, const char *chunkname, int seen);

#endif
