/*
 * json.h — JSON text for --json output: string literals that are valid
 * JSON whatever bytes they are given, and the error event every --json
 * command ends with when it fails.
 *
 * The format of every document and event is described in the README
 * ("Machine-readable output"); LM_JSON_FORMAT is its "format" field, raised
 * only when a key changes meaning or goes away.
 */
#ifndef LM_JSON_H
#define LM_JSON_H

#include <stddef.h>

#include "util.h"

#define LM_JSON_FORMAT 1

/* Appends the n bytes of s as a JSON string literal, quotes included:
 * '"', '\\' and control characters escaped, valid UTF-8 kept as is, and
 * each byte that is not part of a valid UTF-8 sequence (overlong forms,
 * surrogates and code points above U+10FFFF included) replaced by U+FFFD.
 * The output is always valid JSON. */
void lm_json_string_n(lm_buf *out, const char *s, size_t n);
/* The same for a NUL-terminated string; NULL appends null. */
void lm_json_string(lm_buf *out, const char *s);
/* A JSON array of the strings of v. */
void lm_json_strv(lm_buf *out, const lm_strv *v);

/* Whether the n bytes of text are one JSON value (RFC 8259; strings are
 * not checked for valid UTF-8), nested at most 64 deep: bounded work and
 * stack whatever the text. */
int lm_json_valid(const char *text, size_t n);

/* Writes the final error event of a failed --json command to stdout, one
 * line: {"format": 1, "event": "error", "command": ..., "message": ...,
 * "revision": null, "file": null, "line": null}, the message password-free. */
void lm_json_print_error(const char *command, const char *message);

struct lua_State;
/* What a failed --json command ends with: the error event above, with the
 * error slot's message, unless the Lua side already wrote its own, richer
 * one (luamig.events: revision, file and line) for this failure. */
void lm_json_report_failure(struct lua_State *L, const char *command);

#endif
