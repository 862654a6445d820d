/*
 * cachedir.c — luamig's cache folder (see cachedir.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "cachedir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define DAY 86400L
#define STAMP "prune-stamp"

char *lm_cache_dir(int create)
{
	const char *dir = getenv("LUAMIG_CACHE_DIR");
	char *base = NULL;
	if (dir && *dir)
		base = lm_strdup(dir);
	else if ((dir = getenv("XDG_CACHE_HOME")) && *dir)
		base = lm_sprintf("%s/luamig", dir);
	else if ((dir = getenv("HOME")) && *dir)
		base = lm_sprintf("%s/.cache/luamig", dir);
	else
		return NULL;
	if (create && lm_mkdir_p(base) != 0) {
		lm_error_clear();
		free(base);
		return NULL;
	}
	return base;
}

char *lm_cache_file(int create, const char *sub, const char *key, const char *ext)
{
	char *base = lm_cache_dir(create);
	if (!base)
		return NULL;
	char *file = lm_sprintf("%s/%s%016llx.%s", base, sub, lm_fnv1a(key), ext);
	free(base);
	return file;
}

/* Whether t is at least `age` seconds before now, or more than a day after
 * it (a clock set back). */
static int older_than(time_t t, time_t now, long age)
{
	return (long long)t <= (long long)now - age || (long long)t > (long long)now + DAY;
}

/* The effective user id, asked once: every revision's chunk entry is
 * checked against it, twice (luamig never changes it). */
static uid_t own_uid(void)
{
	static uid_t uid;
	static int known;
	if (!known) {
		uid = geteuid();
		known = 1;
	}
	return uid;
}

int lm_cache_own_file(const struct stat *st)
{
	return S_ISREG(st->st_mode) && st->st_uid == own_uid() && st->st_nlink == 1 &&
	       !(st->st_mode & (S_IWGRP | S_IWOTH));
}

void lm_cache_mark_used(int fd, const struct stat *st)
{
	if (lm_cache_own_file(st) && older_than(st->st_mtime, time(NULL), DAY))
		(void)futimens(fd, NULL);
}

enum { NOT_OURS, ENTRY, TEMPORARY };

/* What the file called name is: a cache file (16 lowercase hex digits, ".",
 * ext), the temporary file of one (that name, ".", a process id, ".tmp"),
 * or neither. */
static int kind_of(const char *name, const char *ext)
{
	for (int i = 0; i < 16; i++)
		if (!name[i] || !strchr("0123456789abcdef", name[i]))
			return NOT_OURS;
	const char *p = name + 16;
	size_t n = strlen(ext);
	if (*p++ != '.' || strncmp(p, ext, n) != 0)
		return NOT_OURS;
	p += n;
	if (!*p)
		return ENTRY;
	if (*p++ != '.' || !(*p >= '0' && *p <= '9'))
		return NOT_OURS;
	while (*p >= '0' && *p <= '9')
		p++;
	return strcmp(p, ".tmp") == 0 ? TEMPORARY : NOT_OURS;
}

/* Opens the folder name under at, when it is a folder owned by this user
 * (a link to one if follow is set); -1 otherwise. */
static int open_own_dir(int at, const char *name, int follow)
{
	int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
	struct stat st;
	if (fd >= 0 && (fstat(fd, &st) != 0 || st.st_uid != own_uid())) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Removes the unused cache files named *.ext, and old temporary files, of
 * the folder open on fd (which this closes). */
static void prune_dir(int fd, const char *ext, time_t now)
{
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		int kind = kind_of(de->d_name, ext);
		struct stat st;
		if (kind == NOT_OURS ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !lm_cache_own_file(&st))
			continue;
		if (older_than(st.st_mtime, now, kind == ENTRY ? LM_CACHE_MAX_UNUSED : DAY))
			(void)unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

void lm_cache_prune(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	char *base = lm_cache_dir(0);
	if (!base)
		return;
	int dir = open_own_dir(AT_FDCWD, base, 1); /* ~/.cache may be a link */
	free(base);
	if (dir < 0)
		return;
	time_t now = time(NULL);
	struct stat st;
	int due = fstatat(dir, STAMP, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
	          older_than(st.st_mtime, now, DAY);
	/* the stamp first, so that a run starting later finds it fresh (two
	 * that look at the same moment both prune, which is harmless). Never
	 * waited on if someone made it a FIFO. */
	int stamp = due ? openat(dir, STAMP,
	                         O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600)
	                : -1;
	if (stamp >= 0 && fstat(stamp, &st) == 0 && lm_cache_own_file(&st) &&
	    futimens(stamp, NULL) == 0) {
		int chunks = open_own_dir(dir, "chunks", 0);
		if (chunks >= 0)
			prune_dir(chunks, "luac", now);
		prune_dir(dir, "idx", now);
		dir = -1; /* closed by prune_dir */
	}
	if (stamp >= 0)
		close(stamp);
	if (dir >= 0)
		close(dir);
}

int lm_cache_write(const char *file, const void *data, size_t len)
{
	/* removed if there, then made anew: a run killed before its rename
	 * left it, and the next process of that id (PID 1 in a container) must
	 * not be stopped; opening it in place could empty another file it is a
	 * link to */
	char *tmp = lm_sprintf("%s.%ld.tmp", file, (long)getpid());
	const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
	unlink(tmp);
	int fd = open(tmp, flags, 0600), rc = -1;
	if (fd < 0 && errno == ENOENT) {
		/* the first file of its folder: make the folder. Its failure is no
		 * error, and the message of one the caller is reporting (a cache
		 * is written on the way out of a failed load) stays. */
		const char *was = lm_error_get();
		char *kept = *was ? lm_strdup(was) : NULL, *code = lm_strdup(lm_error_code());
		char *dir = lm_path_dirname(file);
		if (lm_mkdir_p(dir) == 0)
			fd = open(tmp, flags, 0600);
		free(dir);
		if (kept)
			lm_error_set("%s", kept);
		else
			lm_error_clear();
		lm_error_set_code(code);
		free(kept);
		free(code);
	}
	struct stat ts;
	if (fd >= 0 && (fstat(fd, &ts) != 0 || !lm_cache_own_file(&ts))) {
		rc = 1;
		close(fd);
		unlink(tmp);
		fd = -1;
	}
	if (fd >= 0) {
		int werr = lm_write_all(fd, data, len);
		if (close(fd) == 0 && !werr && rename(tmp, file) == 0) {
			rc = 0;
			lm_cache_prune();
		} else {
			unlink(tmp);
		}
	}
	free(tmp);
	return rc;
}
