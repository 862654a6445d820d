/*
 * cachedir.h — luamig's cache folder: where it is, what its files are
 * called, and how it is kept from growing without end.
 *
 * The header cache (headcache.h) keeps one file per script directory, the
 * chunk cache (chunkcache.h) one per revision file, both named by a hash of
 * the path they stand for. A path that goes away (a project moved or
 * deleted, a CI checkout at a new temporary path) leaves its files behind,
 * so the folder is pruned: a cache file records its last use in its mtime
 * (to within a day, so that a read seldom costs a write), and a run that
 * writes to the cache removes, at most once a day (the mtime of the file
 * prune-stamp), this user's cache files unused for LM_CACHE_MAX_UNUSED
 * seconds, and temporary files that a killed run left a day ago or more.
 * Only files with a cache file's name that lm_cache_own_file accepts, in a
 * folder owned by this user, are ever removed (the folder is luamig's own:
 * point LUAMIG_CACHE_DIR at no folder other files live in); a removed entry
 * only means compiling or reading that file again.
 */
#ifndef LM_CACHEDIR_H
#define LM_CACHEDIR_H

#include <stddef.h>
#include <sys/stat.h>

/* Thirty days. */
#define LM_CACHE_MAX_UNUSED (30L * 86400L)

/* The folder of luamig's caches: $LUAMIG_CACHE_DIR, else
 * $XDG_CACHE_HOME/luamig, else ~/.cache/luamig (never in a project); made
 * when missing if create is set. Malloc'd; NULL (error slot clear) when
 * there is none or it cannot be made: a cache is never needed. */
char *lm_cache_dir(int create);

/* The file <cache folder>/<sub><hash of key, 16 hex digits>.<ext> (sub "" or
 * "chunks/"), or NULL when there is no cache folder (see lm_cache_dir for
 * create); to free. */
char *lm_cache_file(int create, const char *sub, const char *key, const char *ext);

/* Whether a cache file, as fstat or lstat sees it, is one this user's luamig
 * wrote and no one else could have: a regular file of this user, with one
 * name, writable by no one else. Only such files are used as bytecode,
 * marked used or removed. */
int lm_cache_own_file(const struct stat *st);

/* Records that the cache file open on fd, whose fstat is st, was used now:
 * sets its mtime when the recorded one is a day old or more (or in the
 * future), if lm_cache_own_file. Failure is ignored. */
void lm_cache_mark_used(int fd, const struct stat *st);

/* Writes a cache file whole: data to "<file>.<pid>.tmp", made 0600 (its
 * folder made when missing), then renamed over file, and the folder
 * pruned (lm_cache_prune). 0 when written; -1 when not (the error slot
 * as it was); 1 when the file system makes a file lm_cache_own_file would not
 * accept (no owner or mode kept): nothing was written, and writing more
 * is pointless. */
int lm_cache_write(const char *file, const void *data, size_t len);

/* Called after a cache file was written: prunes the cache folder as above
 * when it was last pruned a day ago or more. Once per process at most;
 * failure is ignored. */
void lm_cache_prune(void);

#endif
