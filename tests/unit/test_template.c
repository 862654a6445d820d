/*
 * test_template.c — revision ids, slugs, file names, dates and ${name}
 * templates, as Alembic makes them.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "template.h"
#include "util.h"

static void test_rev_id_is_12_hex_digits_and_random(void)
{
	char *a = lm_rev_id(), *b = lm_rev_id();
	CHECK(strlen(a) == 12);
	CHECK(strspn(a, "0123456789abcdef") == 12);
	CHECK(strcmp(a, b) != 0);
	free(a);
	free(b);
}

static void test_slug(void)
{
	char *s = lm_slug("create account table", 40);
	CHECK_STR(s, "create_account_table");
	free(s);
	s = lm_slug("Add a column!  (v2) -- user's", 40);
	CHECK_STR(s, "add_a_column_v2_user_s");
	free(s);
	/* cut at a word boundary past the length, then "_" (Alembic's rule) */
	s = lm_slug("this is a very long message that goes on and on", 20);
	CHECK_STR(s, "this_is_a_very_long_");
	free(s);
	s = lm_slug("abcdefghijklmnopqrstuvwxyz", 10);
	CHECK_STR(s, "abcdefghij_");
	free(s);
	s = lm_slug(NULL, 40);
	CHECK_STR(s, "");
	free(s);
}

static lm_moment fixed_moment(void)
{
	lm_moment m;
	memset(&m, 0, sizeof m);
	m.tm.tm_year = 126;
	m.tm.tm_mon = 10;
	m.tm.tm_mday = 5;
	m.tm.tm_hour = 7;
	m.tm.tm_min = 3;
	m.tm.tm_sec = 9;
	m.usec = 123456;
	m.epoch = 1794207789;
	return m;
}

static void test_file_name_tokens(void)
{
	lm_moment m = fixed_moment();
	char *f = lm_file_name("%(rev)s_%(slug)s", "ae1027a6acf", "add_a_column", &m);
	CHECK_STR(f, "ae1027a6acf_add_a_column");
	free(f);
	f = lm_file_name("%(year)d_%(month).2d_%(day).2d_%(hour).2d%(minute).2d-%(rev)s_%(slug)s",
	                 "abc", "s", &m);
	CHECK_STR(f, "2026_11_05_0703-abc_s");
	free(f);
	f = lm_file_name("%(epoch)s_%(second)02d_%(rev).3s", "abcdef", "s", &m);
	CHECK_STR(f, "1794207789_09_abc");
	free(f);
	CHECK(lm_file_name("%(bogus)s", "a", "b", &m) == NULL);
	CHECK(strstr(lm_error_get(), "Unknown file_template token %(bogus)s") != NULL);
	CHECK(lm_file_name("%(rev)q", "a", "b", &m) == NULL);
	/* widths and precisions no file name has: refused, not overflowed */
	f = lm_file_name("%(rev)999s", "a", "b", &m);
	CHECK(f != NULL && strlen(f) == 999);
	free(f);
	CHECK(lm_file_name("%(rev)99999999999s_%(slug)s", "a", "b", &m) == NULL);
	CHECK_STR(lm_error_get(), "Invalid file_template '%(rev)99999999999s_%(slug)s'");
	CHECK(lm_file_name("%(second).2147483648d", "a", "b", &m) == NULL);
}

static void test_create_date_format(void)
{
	lm_moment m = fixed_moment();
	char *d = lm_moment_format(&m);
	CHECK_STR(d, "2026-11-05 07:03:09.123456");
	free(d);
	m.has_tz = 1;
	m.utcoff = -5 * 3600 - 30 * 60;
	d = lm_moment_format(&m);
	CHECK_STR(d, "2026-11-05 07:03:09.123456-05:30");
	free(d);
	lm_moment now;
	CHECK(lm_moment_now("UTC", &now) == 0);
	CHECK(now.utcoff == 0 && now.has_tz);
	CHECK(lm_moment_now("Not/AZone", &now) != 0);
	CHECK_STR(lm_error_get(), "Can't locate timezone: Not/AZone");
}

static void test_render(void)
{
	lm_vars v = {0};
	lm_vars_set(&v, "message", "hello");
	lm_vars_set(&v, "up_revision", "abc");
	lm_vars_set(&v, "message", "replaced");
	char *out =
	        lm_render("--[[ ${message} ]]\nrevision = \"${up_revision}\" -- $$5\n", &v, "t");
	CHECK_STR(out, "--[[ replaced ]]\nrevision = \"abc\" -- $5\n");
	free(out);
	CHECK(lm_render("a\nb ${nope}\n", &v, "script.lua.tmpl") == NULL);
	CHECK_STR(lm_error_get(), "script.lua.tmpl:2: unknown template variable ${nope}");
	/* a "${" left open is named on its line, whatever "}" comes later */
	CHECK(lm_render("a\nb = \"${message\"\nc = {}\n", &v, "script.lua.tmpl") == NULL);
	CHECK_STR(lm_error_get(),
	          "script.lua.tmpl:2: '${' without its closing '}' on the same line");
	CHECK(lm_render("x ${up_revision", &v, "t") == NULL);
	CHECK_STR(lm_error_get(), "t:1: '${' without its closing '}' on the same line");
	lm_vars_dispose(&v);
}

static void test_lua_literals(void)
{
	lm_strv l = {0};
	char *s = lm_lua_literal_list(&l, "branch label");
	CHECK_STR(s, "nil");
	free(s);
	/* in the quotes the header scanner reads back: it reads no escapes */
	lm_strv_push(&l, "a\"b");
	s = lm_lua_literal_list(&l, "branch label");
	CHECK_STR(s, "'a\"b'");
	free(s);
	lm_strv_push(&l, "c'd");
	s = lm_lua_literal_list(&l, "branch label");
	CHECK_STR(s, "{ 'a\"b', \"c'd\" }");
	free(s);
	lm_strv_push(&l, "e\"f'g");
	CHECK(lm_lua_literal_list(&l, "branch label") == NULL);
	CHECK_STR(lm_error_get(),
	          "branch label 'e\"f'g' cannot be written in a revision header: it "
	          "holds both quotes, a backslash or a line break");
	lm_strv_dispose(&l);
	lm_strv_push(&l, "x\\y");
	CHECK(lm_lua_literal_list(&l, "branch label") == NULL);
	lm_strv_dispose(&l);
}

int main(void)
{
	RUN(test_rev_id_is_12_hex_digits_and_random);
	RUN(test_slug);
	RUN(test_file_name_tokens);
	RUN(test_create_date_format);
	RUN(test_render);
	RUN(test_lua_literals);
	lm_error_clear();
	return CHECK_DONE();
}
