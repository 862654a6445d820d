/*
 * driver.c — the driver registry: URL parsing up to the scheme (the
 * driver takes it from there), password redaction, connecting and closing.
 */
#include "driver.h"

#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "util.h"

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The longest key text that can spell "sslpassword", each letter
 * percent-encoded. */
#define KEY_MAX 33

/* Whether the key k[0..n) ends in "password" once percent-decoded, as
 * libpq decodes a URL's query keys: "passwor%64" is "password" to it
 * (and libpq's "sslpassword" is a password too). */
static int password_key(const char *k, size_t n)
{
	char dec[KEY_MAX];
	size_t m = 0;
	for (size_t i = 0; i < n && m < sizeof dec;) {
		char c = k[i];
		if (c == '%' && i + 2 < n && hex_digit(k[i + 1]) >= 0 && hex_digit(k[i + 2]) >= 0) {
			c = (char)(hex_digit(k[i + 1]) * 16 + hex_digit(k[i + 2]));
			i += 3;
		} else {
			i++;
		}
		dec[m++] = c;
	}
	return m >= 8 && memcmp(dec + m - 8, "password", 8) == 0;
}

/* The first "=" at or after p that ends a password's key (the key read
 * back to a delimiter, at most KEY_MAX characters: bounded work whatever
 * the text), or NULL. */
static const char *password_kw(const char *p)
{
	for (const char *eq = strchr(p, '='); eq; eq = strchr(eq + 1, '=')) {
		const char *k = eq;
		while (k > p && eq - k < KEY_MAX && !strchr("?&; \t\n'\"(,", k[-1]))
			k--;
		if (password_key(k, (size_t)(eq - k)))
			return eq;
	}
	return NULL;
}

char *lm_redact(const char *text)
{
	/* A password sits between "scheme://user:" and "@"; it may itself
	 * contain ':' but never '@' (it would be percent-encoded). Also catch
	 * libpq's "password=..." keyword form, its key percent-encoded or not. */
	lm_buf b = {0};
	const char *p = text;
	while (*p) {
		const char *scheme = strstr(p, "://");
		const char *kw = password_kw(p);
		if (kw && (!scheme || kw < scheme)) {
			lm_buf_put(&b, p, (size_t)(kw - p) + 1);
			lm_buf_puts(&b, "***");
			p = kw + 1;
			while (*p && *p != ' ' && *p != '&' && *p != '\'' && *p != '"' &&
			       *p != '\n')
				p++;
			continue;
		}
		if (!scheme) {
			lm_buf_puts(&b, p);
			break;
		}
		const char *auth = scheme + 3;
		size_t authlen = strcspn(auth, "/?# \t\n'\"");
		const char *at = NULL;
		for (const char *q = auth; q < auth + authlen; q++)
			if (*q == '@')
				at = q;
		const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
		if (colon) {
			lm_buf_put(&b, p, (size_t)(colon + 1 - p));
			lm_buf_puts(&b, "***");
			p = at;
		} else {
			lm_buf_put(&b, p, (size_t)(auth - p));
			p = auth;
		}
	}
	return lm_buf_detach(&b);
}

void lm_url_dispose(lm_url *u)
{
	free(u->dialect);
	free(u->driver);
	free(u->raw);
	free(u->redacted);
	free(u->path);
	free(u->conninfo);
	memset(u, 0, sizeof *u);
}

/* The registry: every database luamig speaks, in the order the "luamig
 * speaks ..." message names them. */
static const lm_driver *const registry[] = {&lm_driver_sqlite, &lm_driver_postgresql, NULL};

/* The driver accepting URL scheme (without "+driver"), or NULL. */
static const lm_driver *driver_for_scheme(const char *scheme)
{
	for (const lm_driver *const *d = registry; *d; d++)
		for (const char *const *s = (*d)->schemes; *s; s++)
			if (strcmp(*s, scheme) == 0)
				return *d;
	return NULL;
}

int lm_url_parse(const char *text, lm_url *out)
{
	memset(out, 0, sizeof *out);
	out->raw = lm_strdup(text);
	out->redacted = lm_redact(text);
	const char *colon = strchr(text, ':');
	if (!colon || colon == text) {
		lm_error_set("Could not parse SQLAlchemy URL from string '%s'", out->redacted);
		lm_url_dispose(out);
		return -1;
	}
	size_t schemelen = (size_t)(colon - text);
	const char *plus = memchr(text, '+', schemelen);
	size_t dlen = plus ? (size_t)(plus - text) : schemelen;
	out->dialect = lm_strndup(text, dlen);
	if (plus)
		out->driver = lm_strndup(plus + 1, schemelen - dlen - 1);
	const lm_driver *d = driver_for_scheme(out->dialect);
	if (!d) {
		lm_buf names = {0};
		for (const lm_driver *const *k = registry; *k; k++)
			lm_buf_printf(&names, "%s%s",
			              k == registry ? ""
			              : k[1]        ? ", "
			                            : " and ",
			              (*k)->name);
		lm_error_set("Can't load plugin: sqlalchemy.dialects:%s (luamig speaks %s)",
		             out->dialect, lm_buf_str(&names));
		lm_buf_dispose(&names);
		lm_url_dispose(out);
		return -1;
	}
	free(out->dialect);
	out->dialect = lm_strdup(d->name);
	int rc = d->url_parse(text, out);
	if (rc != 0)
		lm_url_dispose(out);
	return rc;
}

const lm_driver *lm_driver_find(const char *dialect)
{
	for (const lm_driver *const *d = registry; *d; d++)
		if (strcmp((*d)->name, dialect) == 0)
			return *d;
	return NULL;
}

int lm_connect(const char *url, lm_conn **out)
{
	lm_url u;
	if (lm_url_parse(url, &u) != 0)
		return -1;
	const lm_driver *d = lm_driver_find(u.dialect);
	lm_conn *c = NULL;
	if (d->connect(&u, &c) != 0) {
		/* The driver's message may quote the URL: scrub it. */
		char *clean = lm_redact(lm_error_get());
		lm_error_set("%s", clean);
		free(clean);
		lm_url_dispose(&u);
		return -1;
	}
	/* d itself, unless a test build injects faults (fault.h) */
	c->driver = lm_fault_driver(d);
	c->url = u; /* the connection owns the parsed URL from here on */
	*out = c;
	return 0;
}

void lm_conn_close(lm_conn *c)
{
	if (!c)
		return;
	lm_url u = c->url;
	char *lock_table = c->lock.table;
	c->driver->close(c);
	lm_url_dispose(&u);
	free(lock_table);
}

void lm_result_free(lm_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->ncols; i++)
		free(r->colnames[i]);
	free(r->colnames);
	free(r->cells);
	if (r->free_priv)
		r->free_priv(r->priv);
	free(r);
}
