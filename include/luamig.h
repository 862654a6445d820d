/*
 * luamig.h — libluamig: luamig's commands called from C, returning values
 * instead of printing. Link with `pkg-config --cflags --libs luamig`.
 *
 *     luamig_error *err = NULL;
 *     luamig *h = luamig_open("migrations/luamig.ini", &err);
 *     luamig_list *steps = NULL;
 *     if (!h || luamig_upgrade(h, "head", &steps, &err) != 0)
 *             fprintf(stderr, "%s\n", luamig_error_message(err));
 *     luamig_list_free(steps);
 *     luamig_error_free(err);
 *     luamig_close(h);
 *
 * Each command runs as `luamig COMMAND` would, with the same code: the
 * ini's section, env.lua, the runner lock, transactions, the history
 * table. The library writes nothing to stdout or stderr: what the binary
 * would print (log lines, env.lua's print) goes to the log function set
 * with luamig_set_log, and is dropped when none is set (the default).
 *
 * Errors. A function that can fail returns 0 on success and -1 on failure
 * (luamig_open: NULL). On failure, when err is not NULL, *err receives a
 * new luamig_error holding the one-line message the binary would print
 * after "FAILED: " (passwords redacted); the caller frees it with
 * luamig_error_free. *err must be NULL on entry (an error is never
 * overwritten). On success *err is left as it is.
 *
 * Ownership. Every pointer a function hands out is the caller's: a
 * luamig_list with luamig_list_free, a luamig_error with
 * luamig_error_free, a string (luamig_inspect's JSON) with luamig_free,
 * the handle with luamig_close. All four free functions accept NULL.
 * Strings passed in are copied or only read during the call.
 *
 * Threads. One call at a time per process (luamig keeps its last error
 * in one process-wide slot); calls from different threads must be
 * serialised by the caller. During upgrade, downgrade and stamp, SIGINT
 * and SIGTERM are caught (the statement in flight is interrupted and the
 * command fails, rolling back) and the previous handlers are restored
 * when the command returns.
 */
#ifndef LUAMIG_H
#define LUAMIG_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A project: its luamig.ini and section. */
typedef struct luamig luamig;

/* An error: one message. */
typedef struct luamig_error luamig_error;

/* The message of err (never NULL; "" for a NULL err); owned by err. */
const char *luamig_error_message(const luamig_error *err);
void luamig_error_free(luamig_error *err);

/* One revision, or one step a command ran. Fields that do not apply are
 * NULL (strings) or 0. All strings belong to the list. */
typedef struct luamig_entry {
	char *revision;     /* the revision id; NULL for a step without one (stamp to base) */
	char *message;      /* the revision's message; check: the difference */
	char *direction;    /* steps: "upgrade", "downgrade" or "stamp" */
	char *path;         /* heads, history, revision: the revision file */
	int is_head;        /* current, heads, history: the revision is a head */
	double duration_ms; /* steps: how long the step took */
} luamig_entry;

typedef struct luamig_list {
	size_t count;
	luamig_entry *items;
} luamig_list;

void luamig_list_free(luamig_list *list);
/* Frees a string the library handed out (luamig_inspect's JSON). */
void luamig_free(void *p);

/* Where the output goes that `luamig` would print: stream is "stdout" or
 * "stderr", text is len bytes, not NUL-terminated, valid during the call. */
typedef void (*luamig_log_fn)(void *userdata, const char *stream, const char *text, size_t len);

/* The library's version ("0.1.0"). */
const char *luamig_version(void);

/* Opens the project of config_path (luamig.ini), section [luamig]; NULL
 * with *err set when the file cannot be read, has no such section or does
 * not parse. The file is read again by each command, as the binary does. */
luamig *luamig_open(const char *config_path, luamig_error **err);
/* The same with another section (the binary's -n NAME). */
luamig *luamig_open_section(const char *config_path, const char *section, luamig_error **err);
/* Sends what the commands of h would print to fn (NULL: drop it). */
void luamig_set_log(luamig *h, luamig_log_fn fn, void *userdata);
void luamig_close(luamig *h);

/* upgrade / downgrade / stamp REVISION. *steps (when steps is not NULL)
 * receives the steps run, in order: revision, direction, message,
 * duration_ms. */
int luamig_upgrade(luamig *h, const char *revision, luamig_list **steps, luamig_error **err);
int luamig_downgrade(luamig *h, const char *revision, luamig_list **steps, luamig_error **err);
int luamig_stamp(luamig *h, const char *revision, luamig_list **steps, luamig_error **err);

/* The database's version rows: revision, message, is_head. An empty list
 * for a database with no revision applied. Never creates a SQLite file. */
int luamig_current(luamig *h, luamig_list **revisions, luamig_error **err);
/* The heads of the revision files: revision, message, path, is_head. */
int luamig_heads(luamig *h, luamig_list **revisions, luamig_error **err);
/* Every revision, newest first: revision, message, path, is_head. */
int luamig_history(luamig *h, luamig_list **revisions, luamig_error **err);
/* Autogenerate's comparison of the models with the database (which must
 * be at its heads): one entry per difference, its text in message; an
 * empty list when there is none (not an error). */
int luamig_check(luamig *h, luamig_list **differences, luamig_error **err);
/* Writes a new revision file (autogenerate: compared with the models);
 * *created gets one entry: revision, message, path. */
int luamig_revision(luamig *h, const char *message, int autogenerate, luamig_list **created,
                    luamig_error **err);
/* The database's schema as autogenerate reflects it, as one JSON object
 * (see docs/library.md): { "dialect", "default_schema", "tables": [...] }.
 * url NULL: the ini's url. *json is the caller's (luamig_free). */
int luamig_inspect(luamig *h, const char *url, char **json, luamig_error **err);

#ifdef __cplusplus
}
#endif

#endif
