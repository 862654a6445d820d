/*
 * config.c — the configparser subset that alembic.ini files use.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
	char *key;
	char *value;    /* raw */
	char *expanded; /* interpolated, cached */
} entry;

typedef struct section {
	char *name;
	entry *entries;
	size_t n, cap;
} section;

struct lm_config {
	char *path;
	char *here;
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

static void put(section *s, char *key, char *value)
{
	entry *e = find_entry(s, key);
	if (e) {
		free(key);
		free(e->value);
		free(e->expanded);
		e->value = value;
		e->expanded = NULL;
		return;
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 8;
		s->entries = lm_realloc(s->entries, s->cap * sizeof *s->entries);
	}
	s->entries[s->n++] = (entry){key, value, NULL};
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
		put(cur, key, trim(line + sep + 1, len - sep - 1));
		last = find_entry(cur, key);
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

/* Expands %(name)s and %% as configparser's BasicInterpolation does; depth
 * bounds recursive references. Unknown names are left as written. */
static void expand(lm_config *c, const char *sec, const char *v, int depth, lm_buf *out)
{
	while (*v) {
		if (v[0] == '%' && v[1] == '%') {
			lm_buf_putc(out, '%');
			v += 2;
		} else if (v[0] == '%' && v[1] == '(') {
			const char *close = strstr(v, ")s");
			if (!close) {
				lm_buf_puts(out, v);
				return;
			}
			char *name = lower(v + 2, (size_t)(close - v - 2));
			const entry *e = lookup(c, sec, name);
			if (strcmp(name, "here") == 0 && !e)
				lm_buf_puts(out, c->here);
			else if (e && depth < 10)
				expand(c, sec, e->value, depth + 1, out);
			else
				lm_buf_put(out, v, (size_t)(close + 2 - v));
			free(name);
			v = close + 2;
		} else {
			lm_buf_putc(out, *v++);
		}
	}
}

const char *lm_config_get(lm_config *c, const char *sec, const char *key)
{
	entry *e = find_entry(find_section(c, sec), key);
	if (!e)
		e = find_entry(find_section(c, "DEFAULT"), key);
	if (!e)
		/* Alembic's parser has "here" among its defaults; so does ours. */
		return strcmp(key, "here") == 0 ? c->here : NULL;
	if (!e->expanded) {
		lm_buf b = {0};
		expand(c, sec, e->value, 0, &b);
		e->expanded = lm_buf_detach(&b);
	}
	return e->expanded;
}

void lm_config_set(lm_config *c, const char *sec, const char *key, const char *value)
{
	put(add_section(c, sec), lower(key, strlen(key)), lm_strdup(value));
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
