/*
 * driver.c — URL parsing, password redaction, and the driver registry.
 */
#include "driver.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

int lm_pg_url_parse(const char *text, lm_url *out);

char *lm_redact(const char *text)
{
	/* A password sits between "scheme://user:" and "@"; it may itself
	 * contain ':' but never '@' (it would be percent-encoded). Also catch
	 * libpq's "password=..." keyword form. */
	lm_buf b = {0};
	const char *p = text;
	while (*p) {
		const char *scheme = strstr(p, "://");
		const char *kw = strstr(p, "password=");
		if (kw && (!scheme || kw < scheme)) {
			lm_buf_put(&b, p, (size_t)(kw - p) + 9);
			lm_buf_puts(&b, "***");
			p = kw + 9;
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

/* sqlite:///relative.db, sqlite:////abs.db, sqlite:// (memory), with an
 * optional "+driver" and "?query" that SQLite ignores. */
static int sqlite_url_parse(const char *text, const char *rest, lm_url *out)
{
	if (strncmp(rest, "//", 2) != 0) {
		lm_error_set("Could not parse SQLAlchemy URL from string '%s'", out->redacted);
		return -1;
	}
	rest += 2;
	size_t n = strcspn(rest, "?");
	if (n == 0 || (n == 1 && rest[0] == '/')) {
		out->path = NULL; /* memory */
	} else if (rest[0] == '/') {
		out->path = lm_strndup(rest + 1, n - 1);
		if (strcmp(out->path, ":memory:") == 0) {
			free(out->path);
			out->path = NULL;
		}
	} else {
		lm_error_set("Invalid SQLite URL: %s; expected sqlite:///relative.db, "
		             "sqlite:////absolute.db or sqlite://",
		             out->redacted);
		return -1;
	}
	(void)text;
	return 0;
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
	int rc;
	if (strcmp(out->dialect, "sqlite") == 0) {
		rc = sqlite_url_parse(text, colon + 1, out);
	} else if (strcmp(out->dialect, "postgresql") == 0 ||
	           strcmp(out->dialect, "postgres") == 0) {
		free(out->dialect);
		out->dialect = lm_strdup("postgresql");
		rc = lm_pg_url_parse(text, out);
	} else {
		lm_error_set("Can't load plugin: sqlalchemy.dialects:%s (luamig speaks sqlite and "
		             "postgresql)",
		             out->dialect);
		rc = -1;
	}
	if (rc != 0)
		lm_url_dispose(out);
	return rc;
}

const lm_driver *lm_driver_find(const char *dialect)
{
	if (strcmp(dialect, "sqlite") == 0)
		return &lm_driver_sqlite;
	if (strcmp(dialect, "postgresql") == 0)
		return &lm_driver_postgresql;
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
	c->driver = d;
	c->url = u; /* the connection owns the parsed URL from here on */
	*out = c;
	return 0;
}

void lm_conn_close(lm_conn *c)
{
	if (!c)
		return;
	lm_url u = c->url;
	c->driver->close(c);
	lm_url_dispose(&u);
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
