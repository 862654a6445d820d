/*
 * json.c — JSON string literals that are valid whatever the input (a
 * revision message may hold any byte), and the final error event of a
 * failed --json command.
 */
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>

#include "driver.h"

/* The length of the valid UTF-8 sequence at s (at most n bytes), or 0 when
 * the bytes there are not one: truncated, a continuation byte first, an
 * overlong form, a surrogate, or above U+10FFFF. */
static size_t utf8_valid_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned long cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0; /* a continuation byte, 0xc0/0xc1 (overlong), or 0xf5.. */
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

void lm_json_string_n(lm_buf *out, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	lm_buf_putc(out, '"');
	size_t i = 0;
	while (i < n) {
		unsigned char c = p[i];
		if (c == '"' || c == '\\') {
			lm_buf_putc(out, '\\');
			lm_buf_putc(out, (char)c);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			switch (c) {
			case '\n':
				lm_buf_puts(out, "\\n");
				break;
			case '\r':
				lm_buf_puts(out, "\\r");
				break;
			case '\t':
				lm_buf_puts(out, "\\t");
				break;
			default:
				lm_buf_printf(out, "\\u%04x", c);
			}
			i++;
		} else {
			size_t len = utf8_valid_len(p + i, n - i);
			if (len == 0) {
				lm_buf_puts(out, "\\ufffd");
				i++;
			} else {
				lm_buf_put(out, s + i, len);
				i += len;
			}
		}
	}
	lm_buf_putc(out, '"');
}

void lm_json_string(lm_buf *out, const char *s)
{
	if (!s)
		lm_buf_puts(out, "null");
	else
		lm_json_string_n(out, s, strlen(s));
}

void lm_json_strv(lm_buf *out, const lm_strv *v)
{
	lm_buf_putc(out, '[');
	for (size_t i = 0; i < v->n; i++) {
		if (i)
			lm_buf_puts(out, ", ");
		lm_json_string(out, v->v[i]);
	}
	lm_buf_putc(out, ']');
}

void lm_json_print_error(const char *command, const char *message)
{
	char *msg = lm_redact(message ? message : "");
	lm_buf b = {0};
	lm_buf_printf(&b, "{\"format\": %d, \"event\": \"error\", \"command\": ", LM_JSON_FORMAT);
	lm_json_string(&b, command);
	lm_buf_puts(&b, ", \"message\": ");
	lm_json_string(&b, msg);
	/* where a run failed is only known to the Lua side (luamig.events) */
	lm_buf_puts(&b, ", \"revision\": null, \"file\": null, \"line\": null}\n");
	fputs(lm_buf_str(&b), stdout);
	fflush(stdout);
	lm_buf_dispose(&b);
	free(msg);
}

/* Whether luamig.events (if it was loaded) has written the error event. */
static int lua_side_reported(lua_State *L)
{
	int top = lua_gettop(L);
	int done = 0;
	if (lua_getglobal(L, "package") == LUA_TTABLE &&
	    lua_getfield(L, -1, "loaded") == LUA_TTABLE &&
	    lua_getfield(L, -1, "luamig.events") == LUA_TTABLE) {
		lua_getfield(L, -1, "error_emitted");
		done = lua_toboolean(L, -1);
	}
	lua_settop(L, top);
	return done;
}

void lm_json_report_failure(lua_State *L, const char *command)
{
	if (!lua_side_reported(L))
		lm_json_print_error(command, lm_error_get());
}

/* --- checking a text is JSON ---------------------------------------------- */

/* The recursive descent of lm_json_valid: p walks the text to its end e.
 * Every function consumes one value (or fails) and returns 0 or -1. */
typedef struct scan {
	const char *p, *e;
	int depth;
} scan;

enum { MAX_DEPTH = 64 };

static void skip_space(scan *s)
{
	while (s->p < s->e && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int literal(scan *s, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(s->e - s->p) < n || memcmp(s->p, word, n) != 0)
		return -1;
	s->p += n;
	return 0;
}

static int hex4(const char *p)
{
	for (int i = 0; i < 4; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f') ||
		      (p[i] >= 'A' && p[i] <= 'F')))
			return -1;
	return 0;
}

static int string_value(scan *s)
{
	s->p++; /* the opening quote */
	while (s->p < s->e) {
		unsigned char c = (unsigned char)*s->p++;
		if (c == '"')
			return 0;
		if (c < 0x20)
			return -1;
		if (c == '\\') {
			if (s->p >= s->e)
				return -1;
			char x = *s->p++;
			if (x == 'u') {
				if (s->e - s->p < 4 || hex4(s->p) != 0)
					return -1;
				s->p += 4;
			} else if (!strchr("\"\\/bfnrt", x) || x == '\0') {
				return -1;
			}
		}
	}
	return -1;
}

static int digits(scan *s)
{
	const char *start = s->p;
	while (s->p < s->e && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > start ? 0 : -1;
}

static int number_value(scan *s)
{
	if (*s->p == '-')
		s->p++;
	if (s->p < s->e && *s->p == '0')
		s->p++;
	else if (digits(s) != 0)
		return -1;
	if (s->p < s->e && *s->p == '.') {
		s->p++;
		if (digits(s) != 0)
			return -1;
	}
	if (s->p < s->e && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->e && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (digits(s) != 0)
			return -1;
	}
	return 0;
}

static int value(scan *s);

/* An object ('{' ... '}') or an array ('[' ... ']'). */
static int container(scan *s, char close)
{
	if (++s->depth > MAX_DEPTH)
		return -1;
	s->p++;
	skip_space(s);
	if (s->p < s->e && *s->p == close) {
		s->p++;
		s->depth--;
		return 0;
	}
	for (;;) {
		if (close == '}') {
			skip_space(s);
			if (s->p >= s->e || *s->p != '"' || string_value(s) != 0)
				return -1;
			skip_space(s);
			if (s->p >= s->e || *s->p++ != ':')
				return -1;
		}
		if (value(s) != 0)
			return -1;
		skip_space(s);
		if (s->p >= s->e)
			return -1;
		char c = *s->p++;
		if (c == close)
			break;
		if (c != ',')
			return -1;
	}
	s->depth--;
	return 0;
}

static int value(scan *s)
{
	skip_space(s);
	if (s->p >= s->e)
		return -1;
	switch (*s->p) {
	case '{':
		return container(s, '}');
	case '[':
		return container(s, ']');
	case '"':
		return string_value(s);
	case 't':
		return literal(s, "true");
	case 'f':
		return literal(s, "false");
	case 'n':
		return literal(s, "null");
	default:
		return (*s->p == '-' || (*s->p >= '0' && *s->p <= '9')) ? number_value(s) : -1;
	}
}

int lm_json_valid(const char *text, size_t n)
{
	scan s = {text, text + n, 0};
	if (value(&s) != 0)
		return 0;
	skip_space(&s);
	return s.p == s.e;
}
