/*
 * config.c — the configparser subset that alembic.ini files use.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
	char *key;
	char *value;    /* raw */
	char *expanded; /* interpolated, cached */
	int line;       /* where the key was written; 0 when set by a program */
} entry;

typedef struct section {
	char *name;
	entry *entries;
	size_t n, cap;
} section;

struct lm_config {
	char *path;
	char *here;
	char *shown; /* the path as given, for messages */
	int failed;  /* an interpolation failed (lm_config_get returned NULL) */
	section *sections;
	size_t n, cap;
};

static section *find_section(const lm_config *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->sections[i].name, name) == 0)
			return &c->sections[i];
	return NULL;
}

static section *add_section(lm_config *c, const char *name)
{
	section *s = find_section(c, name);
	if (s)
		return s;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 8;
		c->sections = lm_realloc(c->sections, c->cap * sizeof *c->sections);
	}
	s = &c->sections[c->n++];
	memset(s, 0, sizeof *s);
	s->name = lm_strdup(name);
	return s;
}

static entry *find_entry(const section *s, const char *key)
{
	if (!s)
		return NULL;
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->entries[i].key, key) == 0)
			return &s->entries[i];
	return NULL;
}

static char *lower(const char *s, size_t n)
{
	char *d = lm_strndup(s, n);
	for (char *p = d; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return d;
}

/* Sets key to value in s, taking ownership of both; returns the entry. An
 * existing key is overwritten (lm_config_set); the parser refuses
 * duplicates before it calls this. */
static entry *put(section *s, char *key, char *value, int line)
{
	entry *e = find_entry(s, key);
	if (e) {
		free(key);
		free(e->value);
		free(e->expanded);
		e->value = value;
		e->expanded = NULL;
		e->line = line;
		return e;
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 8;
		s->entries = lm_realloc(s->entries, s->cap * sizeof *s->entries);
	}
	s->entries[s->n] = (entry){key, value, NULL, line};
	return &s->entries[s->n++];
}

/* Python's repr() of a str, as configparser's messages quote names and
 * values: single quotes unless the text holds one and no double quote. */
static void put_repr(lm_buf *b, const char *s)
{
	char q = strchr(s, '\'') && !strchr(s, '"') ? '"' : '\'';
	lm_buf_putc(b, q);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '\\' || *p == (unsigned char)q) {
			lm_buf_putc(b, '\\');
			lm_buf_putc(b, (char)*p);
		} else if (*p == '\n') {
			lm_buf_puts(b, "\\n");
		} else if (*p == '\t') {
			lm_buf_puts(b, "\\t");
		} else if (*p == '\r') {
			lm_buf_puts(b, "\\r");
		} else if (*p < 0x20 || *p == 0x7f) {
			char hex[8];
			snprintf(hex, sizeof hex, "\\x%02x", *p);
			lm_buf_puts(b, hex);
		} else {
			lm_buf_putc(b, (char)*p);
		}
	}
	lm_buf_putc(b, q);
}

/* Fails the parse with configparser's "While reading from ..." message. */
static lm_config *parse_fail(lm_config *c, const char *path, int lineno, const char *what,
                             const char *name, const char *sec)
{
	lm_buf b = {0};
	lm_buf_puts(&b, "While reading from ");
	put_repr(&b, path);
	char num[32];
	snprintf(num, sizeof num, " [line %2d]: %s ", lineno, what);
	lm_buf_puts(&b, num);
	put_repr(&b, name);
	if (sec) {
		lm_buf_puts(&b, " in section ");
		put_repr(&b, sec);
	}
	lm_buf_puts(&b, " already exists");
	lm_error_set("%s", lm_buf_str(&b));
	lm_buf_dispose(&b);
	lm_config_free(c);
	return NULL;
}

static char *trim(const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	return lm_strndup(s, n);
}

lm_config *lm_config_parse(const char *text, const char *path)
{
	lm_config *c = lm_calloc(1, sizeof *c);
	c->path = lm_path_abs(path);
	c->here = lm_path_dirname(c->path);
	c->shown = lm_strdup(path);
	section *cur = NULL;
	entry *last = NULL;
	int lineno = 0;
	const char *p = text;
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		lineno++;
		const char *line = p;
		p = eol ? eol + 1 : p + len;
		if (len && line[len - 1] == '\r')
			len--;
		size_t indent = 0;
		while (indent < len && (line[indent] == ' ' || line[indent] == '\t'))
			indent++;
		if (indent == len) {
			last = NULL; /* a blank line ends a multi-line value */
			continue;
		}
		char first = line[indent];
		if (first == '#' || first == ';')
			continue;
		if (indent > 0 && last) {
			char *more = trim(line, len);
			char *joined = lm_sprintf("%s\n%s", last->value, more);
			free(more);
			free(last->value);
			last->value = joined;
			continue;
		}
		if (first == '[') {
			const char *close = memchr(line, ']', len);
			if (!close) {
				lm_error_set("%s:%d: malformed section header", path, lineno);
				lm_config_free(c);
				return NULL;
			}
			char *name = trim(line + indent + 1, (size_t)(close - line - indent - 1));
			if (find_section(c, name)) {
				/* configparser's strict mode: a second [name] is an error */
				lm_config *r = parse_fail(c, path, lineno, "section", name, NULL);
				free(name);
				return r;
			}
			cur = add_section(c, name);
			free(name);
			last = NULL;
			continue;
		}
		size_t sep = 0;
		while (sep < len && line[sep] != '=' && line[sep] != ':')
			sep++;
		if (sep == len || !cur) {
			lm_error_set("%s:%d: %s", path, lineno,
			             cur ? "expected 'key = value'"
			                 : "File contains no section headers.");
			lm_config_free(c);
			return NULL;
		}
		char *k = trim(line, sep);
		char *key = lower(k, strlen(k));
		free(k);
		if (find_entry(cur, key)) {
			lm_config *r = parse_fail(c, path, lineno, "option", key, cur->name);
			free(key);
			return r;
		}
		last = put(cur, key, trim(line + sep + 1, len - sep - 1), lineno);
	}
	return c;
}

lm_config *lm_config_load(const char *path)
{
	char *text = lm_read_file(path, NULL);
	if (!text)
		return NULL;
	lm_config *c = lm_config_parse(text, path);
	free(text);
	return c;
}

void lm_config_free(lm_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		section *s = &c->sections[i];
		for (size_t j = 0; j < s->n; j++) {
			free(s->entries[j].key);
			free(s->entries[j].value);
			free(s->entries[j].expanded);
		}
		free(s->entries);
		free(s->name);
	}
	free(c->sections);
	free(c->path);
	free(c->here);
	free(c->shown);
	free(c);
}

const char *lm_config_path(const lm_config *c)
{
	return c->path;
}

const char *lm_config_here(const lm_config *c)
{
	return c->here;
}

int lm_config_has_section(const lm_config *c, const char *name)
{
	return find_section(c, name) != NULL;
}

static const entry *lookup(const lm_config *c, const char *sec, const char *key)
{
	const entry *e = find_entry(find_section(c, sec), key);
	if (!e)
		e = find_entry(find_section(c, "DEFAULT"), key);
	return e;
}

const char *lm_config_get_raw(const lm_config *c, const char *sec, const char *key)
{
	const entry *e = lookup(c, sec, key);
	return e ? e->value : NULL;
}

/* Sets the error slot to configparser's message for a value that cannot be
 * interpolated, prefixed with the file and line of the option. */
static int interpolation_error(const lm_config *c, const char *sec, const char *option,
                               const char *what, const char *detail)
{
	const entry *e = lookup(c, sec, option);
	lm_buf b = {0};
	if (e && e->line > 0) {
		char *where = lm_sprintf("%s:%d: ", c->shown, e->line);
		lm_buf_puts(&b, where);
		free(where);
	}
	lm_buf_puts(&b, what);
	lm_buf_puts(&b, detail);
	lm_error_set("%s", lm_buf_str(&b));
	lm_buf_dispose(&b);
	return -1;
}

/* Puts repr(text), part of the value of option (raw: its whole value), into
 * m, as configparser's messages quote it; unless the value may hold a
 * password (an option named like a URL or a password, or a value with
 * "://" and "@"), which no message shows, whatever its characters. */
static void put_value(lm_buf *m, const char *option, const char *raw, const char *text)
{
	char *lo = lower(option, strlen(option));
	int secret = strstr(lo, "url") || strstr(lo, "password") || strstr(lo, "dsn") ||
	             (strstr(raw, "://") && strchr(raw, '@'));
	free(lo);
	if (secret)
		lm_buf_puts(m, "(not shown: the value may hold a password)");
	else
		put_repr(m, text);
}

/* Expands rest into out as configparser's BasicInterpolation does: %% is
 * a percent sign, %(name)s the (interpolated) value of name from the same
 * section, [DEFAULT] or "here"; any other % is an error, as are unknown
 * names and more than 10 levels of nesting (which also ends any cycle).
 * Errors name option, the key being read, as configparser does. Returns 0,
 * or -1 with the error slot set. Work is bounded: each level is one pass
 * over a value, and there are at most 10 levels. */
static int expand(const lm_config *c, const char *sec, const char *option, const char *rest,
                  int depth, lm_buf *out)
{
	const char *rawval = lm_config_get_raw(c, sec, option);
	if (!rawval)
		rawval = rest;
	if (depth > 10) {
		lm_buf m = {0};
		lm_buf_puts(&m, "option ");
		put_repr(&m, option);
		lm_buf_puts(&m, " in section ");
		put_repr(&m, sec);
		lm_buf_puts(&m, " contains an interpolation key which cannot be substituted in 10 "
		                "steps. Raw value: ");
		put_value(&m, option, rawval, rawval);
		int rc = interpolation_error(
		        c, sec, option,
		        "Recursion limit exceeded in value substitution: ", lm_buf_str(&m));
		lm_buf_dispose(&m);
		return rc;
	}
	while (*rest) {
		const char *pct = strchr(rest, '%');
		if (!pct) {
			lm_buf_puts(out, rest);
			return 0;
		}
		lm_buf_put(out, rest, (size_t)(pct - rest));
		rest = pct;
		if (rest[1] == '%') {
			lm_buf_putc(out, '%');
			rest += 2;
			continue;
		}
		lm_buf m = {0};
		int rc = 0;
		if (rest[1] != '(') {
			lm_buf_puts(&m, "found: ");
			put_value(&m, option, rawval, rest);
			rc = interpolation_error(c, sec, option,
			                         "'%' must be followed by '%' or '(', ",
			                         lm_buf_str(&m));
			lm_buf_dispose(&m);
			return rc;
		}
		const char *close = strchr(rest + 2, ')');
		if (!close || close == rest + 2 || close[1] != 's') {
			put_value(&m, option, rawval, rest);
			rc = interpolation_error(c, sec, option,
			                         "bad interpolation variable reference ",
			                         lm_buf_str(&m));
			lm_buf_dispose(&m);
			return rc;
		}
		char *name = lower(rest + 2, (size_t)(close - rest - 2));
		rest = close + 2;
		const entry *e = lookup(c, sec, name);
		if (!e && strcmp(name, "here") == 0) {
			lm_buf_puts(out, c->here);
		} else if (!e) {
			lm_buf_puts(&m, "option ");
			put_repr(&m, option);
			lm_buf_puts(&m, " in section ");
			put_repr(&m, sec);
			lm_buf_puts(&m, " contains an interpolation key ");
			put_repr(&m, name);
			lm_buf_puts(&m, " which is not a valid option name. Raw value: ");
			put_value(&m, option, rawval, rawval);
			rc = interpolation_error(c, sec, option,
			                         "Bad value substitution: ", lm_buf_str(&m));
		} else if (strchr(e->value, '%')) {
			rc = expand(c, sec, option, e->value, depth + 1, out);
		} else {
			lm_buf_puts(out, e->value);
		}
		lm_buf_dispose(&m);
		free(name);
		if (rc != 0)
			return rc;
	}
	return 0;
}

const char *lm_config_get(lm_config *c, const char *sec, const char *key)
{
	entry *e = find_entry(find_section(c, sec), key);
	if (!e)
		e = find_entry(find_section(c, "DEFAULT"), key);
	if (!e)
		/* Alembic's parser has "here" among its defaults; so does ours. */
		return strcmp(key, "here") == 0 ? c->here : NULL;
	if (e->expanded)
		return e->expanded;
	lm_buf b = {0};
	if (expand(c, sec, key, e->value, 1, &b) != 0) {
		lm_buf_dispose(&b);
		c->failed = 1;
		return NULL;
	}
	e->expanded = lm_buf_detach(&b);
	return e->expanded;
}

int lm_config_check_section(lm_config *c, const char *sec)
{
	lm_strv keys = {0};
	lm_config_keys(c, sec, &keys);
	lm_config_keys(c, "DEFAULT", &keys);
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < keys.n; i++)
		if (!lm_config_get(c, sec, keys.v[i]))
			rc = -1;
	lm_strv_dispose(&keys);
	return rc;
}

int lm_config_failed(const lm_config *c)
{
	return c->failed;
}

void lm_config_set(lm_config *c, const char *sec, const char *key, const char *value)
{
	put(add_section(c, sec), lower(key, strlen(key)), lm_strdup(value), 0);
	/* Another key may interpolate this one: drop every cached expansion. */
	for (size_t i = 0; i < c->n; i++)
		for (size_t j = 0; j < c->sections[i].n; j++) {
			free(c->sections[i].entries[j].expanded);
			c->sections[i].entries[j].expanded = NULL;
		}
}

void lm_config_sections(const lm_config *c, lm_strv *out)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->sections[i].name, "DEFAULT") != 0)
			lm_strv_push(out, c->sections[i].name);
}

void lm_config_keys(const lm_config *c, const char *sec, lm_strv *out)
{
	const section *s = find_section(c, sec);
	for (size_t i = 0; s && i < s->n; i++)
		lm_strv_push(out, s->entries[i].key);
}
