/*
 * headcache.h — a cache of revision headers, so that `heads`, `history`
 * and `current` stat each revision file instead of reading and scanning it.
 *
 * One file per script directory, under $LUAMIG_CACHE_DIR, else
 * $XDG_CACHE_HOME/luamig, else ~/.cache/luamig (never in the project).
 * An entry is used only when the file's size, inode, mtime and ctime (to
 * the nanosecond) are the ones recorded, and its ctime is older than the
 * run that wrote the cache by more than a second — a file changed in the
 * same second is read again, as git does with its index. A versions
 * folder's listing is kept the same way, against the folder's own stat
 * (lm_headcache_dir_get). The file is read only when it is this user's own
 * (lm_cache_own_file), and written 0600. Setting LUAMIG_NO_CACHE turns it
 * off; any problem with the cache only means reading the files (and the
 * folders).
 */
#ifndef LM_HEADCACHE_H
#define LM_HEADCACHE_H

#include <sys/stat.h>

#include "revmap.h"

typedef struct lm_headcache lm_headcache;

/* The cache of a script directory, loaded; NULL when caching is off or
 * there is no place for it. */
lm_headcache *lm_headcache_open(const char *script_dir);
/* 1 and *r filled (caller owns its strings) when path is cached and
 * unchanged; 0 otherwise. r->path is left NULL: the caller has the path. */
int lm_headcache_get(lm_headcache *c, const char *path, const struct stat *st, lm_revision *r);
/* Records a freshly scanned header. */
void lm_headcache_put(lm_headcache *c, const char *path, const struct stat *st,
                      const lm_revision *r);
/* When the versions folder dir is unchanged since its names were put
 * (st, its stat, the recorded one, and older than that listing by more
 * than a second): 1, and its revision files' paths appended to out as a
 * listing would (lm_path_join(dir, name), in the order put; whether the
 * names are ones a listing could give is the caller's to check). 0
 * otherwise. */
int lm_headcache_dir_get(lm_headcache *c, const char *dir, const struct stat *st, lm_strv *out);
/* Records the listing of dir (the paths of its n revision files, in
 * order): st is its stat and listed_at the time (time()), both taken
 * before it was read. */
void lm_headcache_dir_put(lm_headcache *c, const char *dir, const struct stat *st,
                          long long listed_at, char *const *paths, size_t n);
/* Writes the cache if it changed (atomically), and frees it. NULL-safe. */
void lm_headcache_close(lm_headcache *c);

#endif
