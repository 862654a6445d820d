/*
 * template.c — revision ids, slugs, file names, dates and ${name} templates.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE
#include "template.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "embedded.h"

char *lm_rev_id(void)
{
	unsigned char raw[6];
	int fd = open("/dev/urandom", O_RDONLY);
	ssize_t got = fd >= 0 ? read(fd, raw, sizeof raw) : -1;
	if (fd >= 0)
		close(fd);
	if (got != (ssize_t)sizeof raw) {
		/* No urandom (a chroot?): time and pid are unique enough for a
		 * 48-bit id made by one person at a time. */
		struct timeval tv;
		gettimeofday(&tv, NULL);
		unsigned long long x = ((unsigned long long)tv.tv_sec * 1000003ULL) ^
		                       ((unsigned long long)tv.tv_usec << 20) ^
		                       (unsigned long long)getpid();
		for (size_t i = 0; i < sizeof raw; i++)
			raw[i] = (unsigned char)(x >> (8 * i));
	}
	char *id = lm_malloc(13);
	for (size_t i = 0; i < sizeof raw; i++)
		snprintf(id + 2 * i, 3, "%02x", raw[i]);
	return id;
}

/* Python's \w on str: letters, digits, underscore, and (approximately) any
 * non-ASCII character, which in UTF-8 means every byte >= 0x80. */
static int is_word(unsigned char c)
{
	return isalnum(c) || c == '_' || c >= 0x80;
}

char *lm_slug(const char *message, int truncate_len)
{
	lm_buf b = {0};
	const unsigned char *p = (const unsigned char *)(message ? message : "");
	while (*p) {
		while (*p && !is_word(*p))
			p++;
		if (!*p)
			break;
		if (b.len)
			lm_buf_putc(&b, '_');
		while (*p && is_word(*p))
			lm_buf_putc(&b, (char)tolower(*p++));
	}
	char *slug = lm_buf_detach(&b);
	if (truncate_len >= 0 && strlen(slug) > (size_t)truncate_len) {
		slug[truncate_len] = '\0';
		char *us = strrchr(slug, '_');
		/* Python's rsplit("_", 1)[0] keeps the whole string when there is
		 * no underscore; then "_" is appended either way. */
		if (us)
			*us = '\0';
		char *s2 = lm_sprintf("%s_", slug);
		free(slug);
		slug = s2;
	}
	return slug;
}

int lm_moment_now(const char *zone, lm_moment *out)
{
	memset(out, 0, sizeof *out);
	struct timeval tv;
	gettimeofday(&tv, NULL);
	out->epoch = tv.tv_sec;
	out->usec = (long)tv.tv_usec;
	if (zone && *zone) {
		int known = strcmp(zone, "UTC") == 0 || strcmp(zone, "utc") == 0;
		if (!known && !strstr(zone, "..")) {
			char *zi = lm_sprintf("/usr/share/zoneinfo/%s", zone);
			known = lm_file_exists(zi);
			free(zi);
		}
		if (!known) {
			lm_error_set("Can't locate timezone: %s", zone);
			return -1;
		}
		const char *old = getenv("TZ");
		char *saved = old ? lm_strdup(old) : NULL;
		setenv("TZ", strcmp(zone, "utc") == 0 ? "UTC" : zone, 1);
		tzset();
		localtime_r(&out->epoch, &out->tm);
		if (saved) {
			setenv("TZ", saved, 1);
			free(saved);
		} else {
			unsetenv("TZ");
		}
		tzset();
		out->has_tz = 1;
	} else {
		localtime_r(&out->epoch, &out->tm);
	}
	out->utcoff = out->tm.tm_gmtoff;
	return 0;
}

char *lm_moment_format(const lm_moment *m)
{
	char base[64];
	strftime(base, sizeof base, "%Y-%m-%d %H:%M:%S", &m->tm);
	lm_buf b = {0};
	lm_buf_puts(&b, base);
	if (m->usec)
		lm_buf_printf(&b, ".%06ld", m->usec);
	if (m->has_tz) {
		long off = m->utcoff;
		char sign = off < 0 ? '-' : '+';
		if (off < 0)
			off = -off;
		lm_buf_printf(&b, "%c%02ld:%02ld", sign, off / 3600, (off % 3600) / 60);
	}
	return lm_buf_detach(&b);
}

/* Python's "%[flags][width][.precision](s|d)" for one value, done by hand
 * so that no format string is ever built from configuration. */
static void put_formatted(lm_buf *b, const char *spec, size_t speclen, const char *str, long num)
{
	int left = 0, zero = 0, width = 0, prec = -1;
	size_t i = 0;
	for (; i < speclen && strchr("-+ #0", spec[i]); i++) {
		left |= spec[i] == '-';
		zero |= spec[i] == '0';
	}
	for (; i < speclen && isdigit((unsigned char)spec[i]); i++)
		width = width * 10 + (spec[i] - '0');
	if (i < speclen && spec[i] == '.') {
		prec = 0;
		for (i++; i < speclen && isdigit((unsigned char)spec[i]); i++)
			prec = prec * 10 + (spec[i] - '0');
	}
	lm_buf body = {0};
	if (str) {
		size_t n = strlen(str);
		lm_buf_put(&body, str, prec >= 0 && (size_t)prec < n ? (size_t)prec : n);
		zero = 0;
	} else {
		char digits[32];
		snprintf(digits, sizeof digits, "%ld", num < 0 ? -num : num);
		if (num < 0)
			lm_buf_putc(&body, '-');
		for (int k = (int)strlen(digits); k < prec; k++)
			lm_buf_putc(&body, '0');
		lm_buf_puts(&body, digits);
	}
	int pad = width - (int)body.len;
	if (!left)
		for (int k = 0; k < pad; k++)
			lm_buf_putc(b, zero && prec < 0 ? '0' : ' ');
	lm_buf_puts(b, lm_buf_str(&body));
	if (left)
		for (int k = 0; k < pad; k++)
			lm_buf_putc(b, ' ');
	lm_buf_dispose(&body);
}

char *lm_file_name(const char *tmpl, const char *rev, const char *slug, const lm_moment *m)
{
	lm_buf b = {0};
	const char *p = tmpl;
	while (*p) {
		if (p[0] == '%' && p[1] == '%') {
			lm_buf_putc(&b, '%');
			p += 2;
			continue;
		}
		if (p[0] != '%') {
			lm_buf_putc(&b, *p++);
			continue;
		}
		if (p[1] != '(')
			goto bad;
		const char *close = strchr(p, ')');
		if (!close)
			goto bad;
		char name[32];
		size_t nlen = (size_t)(close - p - 2);
		if (nlen >= sizeof name)
			goto bad;
		memcpy(name, p + 2, nlen);
		name[nlen] = '\0';
		/* The conversion spec: flags, width, precision, then s, d or i. */
		const char *spec = close + 1;
		size_t speclen = strspn(spec, "-+ #0123456789.");
		char conv = spec[speclen];
		if (conv != 's' && conv != 'd' && conv != 'i')
			goto bad;
		/* a width or precision of 4 digits or more makes no file
		 * name (255 bytes at most), and would overflow an int */
		for (size_t k = 0, run = 0; k < speclen; k++) {
			run = isdigit((unsigned char)spec[k]) ? run + 1 : 0;
			if (run > 3)
				goto bad;
		}
		long num = 0;
		const char *str = NULL;
		if (strcmp(name, "rev") == 0)
			str = rev;
		else if (strcmp(name, "slug") == 0)
			str = slug;
		else if (strcmp(name, "epoch") == 0)
			num = (long)m->epoch;
		else if (strcmp(name, "year") == 0)
			num = m->tm.tm_year + 1900;
		else if (strcmp(name, "month") == 0)
			num = m->tm.tm_mon + 1;
		else if (strcmp(name, "day") == 0)
			num = m->tm.tm_mday;
		else if (strcmp(name, "hour") == 0)
			num = m->tm.tm_hour;
		else if (strcmp(name, "minute") == 0)
			num = m->tm.tm_min;
		else if (strcmp(name, "second") == 0)
			num = m->tm.tm_sec;
		else {
			lm_error_set("Unknown file_template token %%(%s)s: luamig knows rev, slug, "
			             "epoch, year, month, day, hour, minute, second",
			             name);
			lm_buf_dispose(&b);
			return NULL;
		}
		if (str && conv != 's')
			goto bad;
		put_formatted(&b, spec, speclen, str, num);
		p = spec + speclen + 1;
	}
	return lm_buf_detach(&b);
bad:
	lm_error_set("Invalid file_template '%s'", tmpl);
	lm_buf_dispose(&b);
	return NULL;
}

void lm_vars_set(lm_vars *v, const char *name, const char *value)
{
	for (size_t i = 0; i < v->names.n; i++)
		if (strcmp(v->names.v[i], name) == 0) {
			free(v->values.v[i]);
			v->values.v[i] = lm_strdup(value);
			return;
		}
	lm_strv_push(&v->names, name);
	lm_strv_push(&v->values, value);
}

const char *lm_vars_get(const lm_vars *v, const char *name)
{
	for (size_t i = 0; i < v->names.n; i++)
		if (strcmp(v->names.v[i], name) == 0)
			return v->values.v[i];
	return NULL;
}

void lm_vars_dispose(lm_vars *v)
{
	lm_strv_dispose(&v->names);
	lm_strv_dispose(&v->values);
}

char *lm_render(const char *text, const lm_vars *vars, const char *source)
{
	lm_buf b = {0};
	int line = 1;
	for (const char *p = text; *p;) {
		if (*p == '\n')
			line++;
		if (p[0] == '$' && p[1] == '$') {
			lm_buf_putc(&b, '$');
			p += 2;
			continue;
		}
		if (p[0] == '$' && p[1] == '{') {
			/* the name ends on its own line: a "${" left open is named
			 * where it is, never with the lines up to some later "}" */
			size_t nlen = strcspn(p + 2, "}\n");
			if (p[2 + nlen] != '}') {
				lm_error_set("%s:%d: '${' without its closing '}' on the same line",
				             source, line);
				lm_buf_dispose(&b);
				return NULL;
			}
			const char *close = p + 2 + nlen;
			char *name = lm_strndup(p + 2, nlen);
			const char *val = lm_vars_get(vars, name);
			if (!val) {
				lm_error_set("%s:%d: unknown template variable ${%s}", source, line,
				             name);
				free(name);
				lm_buf_dispose(&b);
				return NULL;
			}
			lm_buf_puts(&b, val);
			free(name);
			p = close + 1;
			continue;
		}
		lm_buf_putc(&b, *p++);
	}
	return lm_buf_detach(&b);
}

int lm_lua_comment_check(const char *text, const char *what)
{
	for (const char *p = strchr(text, ']'); p; p = strchr(p + 1, ']')) {
		const char *q = p + 1;
		while (*q == '=')
			q++;
		if (*q == ']') {
			lm_error_set(
			        "%s may not contain '%.*s': it would end the comment that holds it "
			        "in the revision file",
			        what, (int)(q + 1 - p), p);
			return -1;
		}
	}
	return 0;
}

char *lm_lua_quote(const char *s)
{
	lm_buf b = {0};
	lm_buf_putc(&b, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			lm_buf_puts(&b, "\\\"");
			break;
		case '\\':
			lm_buf_puts(&b, "\\\\");
			break;
		case '\n':
			lm_buf_puts(&b, "\\n");
			break;
		case '\r':
			lm_buf_puts(&b, "\\r");
			break;
		case '\t':
			lm_buf_puts(&b, "\\t");
			break;
		default:
			if (*p < 0x20)
				lm_buf_printf(&b, "\\%03d", *p);
			else
				lm_buf_putc(&b, (char)*p);
		}
	}
	lm_buf_putc(&b, '"');
	return lm_buf_detach(&b);
}

char *lm_header_quote(const char *s)
{
	int dq = 0, sq = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '\\' || *p == '\n' || *p == '\r')
			return NULL;
		dq |= *p == '"';
		sq |= *p == '\'';
	}
	if (dq && sq)
		return NULL;
	return lm_sprintf(dq ? "'%s'" : "\"%s\"", s);
}

char *lm_lua_literal_list(const lm_strv *items, const char *what)
{
	if (!items || items->n == 0)
		return lm_strdup("nil");
	lm_buf b = {0};
	if (items->n > 1)
		lm_buf_puts(&b, "{ ");
	for (size_t i = 0; i < items->n; i++) {
		char *q = lm_header_quote(items->v[i]);
		if (!q) {
			lm_error_set(
			        "%s '%s' cannot be written in a revision header: it holds both "
			        "quotes, a backslash or a line break",
			        what, items->v[i]);
			lm_buf_dispose(&b);
			return NULL;
		}
		lm_buf_printf(&b, "%s%s", i ? ", " : "", q);
		free(q);
	}
	if (items->n > 1)
		lm_buf_puts(&b, " }");
	return lm_buf_detach(&b);
}

void lm_template_names(lm_strv *outv)
{
	for (const lm_embedded_file *f = lm_embedded_files; f->name; f++) {
		if (strncmp(f->name, "templates/", 10) != 0)
			continue;
		const char *rest = f->name + 10;
		const char *slash = strchr(rest, '/');
		if (!slash)
			continue;
		char *n = lm_strndup(rest, (size_t)(slash - rest));
		if (lm_strv_contains(outv, n))
			free(n);
		else
			lm_strv_push_own(outv, n);
	}
}
