/*
 * test_config.c — luamig.ini read as Python's configparser reads alembic.ini.
 */
#include <stdlib.h>

#include "check.h"
#include "config.h"
#include "util.h"

static const char *INI = "# a comment\n"
                         "; another\n"
                         "[DEFAULT]\n"
                         "shared = from-default\n"
                         "\n"
                         "[luamig]\n"
                         "script_location = %(here)s/migrations\n"
                         "file_template = %%(rev)s_%%(slug)s\n"
                         "URL: sqlite:///%(name)s.db\n"
                         "name = app\n"
                         "version_locations = %(here)s/a\n"
                         "    %(here)s/b\n"
                         "empty =\n"
                         "\n"
                         "[other]\n"
                         "key = value with = sign\n";

static void test_sections_and_keys(void)
{
	lm_config *c = lm_config_parse(INI, "/srv/proj/luamig.ini");
	CHECK(c);
	CHECK(lm_config_has_section(c, "luamig"));
	CHECK(lm_config_has_section(c, "other"));
	CHECK(!lm_config_has_section(c, "nope"));
	CHECK_STR(lm_config_get(c, "other", "key"), "value with = sign");
	CHECK_STR(lm_config_get(c, "luamig", "empty"), "");
	CHECK(lm_config_get(c, "luamig", "missing") == NULL);
	lm_strv secs = {0};
	lm_config_sections(c, &secs);
	CHECK(secs.n == 2);
	CHECK_STR(secs.v[0], "luamig");
	lm_strv_dispose(&secs);
	lm_config_free(c);
}

static void test_interpolation(void)
{
	lm_config *c = lm_config_parse(INI, "/srv/proj/luamig.ini");
	CHECK_STR(lm_config_get(c, "luamig", "script_location"), "/srv/proj/migrations");
	CHECK_STR(lm_config_get(c, "luamig", "file_template"), "%(rev)s_%(slug)s");
	CHECK_STR(lm_config_get_raw(c, "luamig", "file_template"), "%%(rev)s_%%(slug)s");
	/* keys fold to lower case; ':' separates too; references resolve */
	CHECK_STR(lm_config_get(c, "luamig", "url"), "sqlite:///app.db");
	CHECK_STR(lm_config_get(c, "luamig", "shared"), "from-default");
	CHECK_STR(lm_config_get(c, "luamig", "here"), "/srv/proj");
	lm_config_free(c);
}

static void test_continuation_lines(void)
{
	lm_config *c = lm_config_parse(INI, "/srv/proj/luamig.ini");
	CHECK_STR(lm_config_get(c, "luamig", "version_locations"), "/srv/proj/a\n/srv/proj/b");
	lm_config_free(c);
}

static void test_set_replaces_and_reinterpolates(void)
{
	lm_config *c = lm_config_parse(INI, "/srv/proj/luamig.ini");
	CHECK_STR(lm_config_get(c, "luamig", "url"), "sqlite:///app.db");
	lm_config_set(c, "luamig", "name", "other");
	CHECK_STR(lm_config_get(c, "luamig", "url"), "sqlite:///other.db");
	lm_config_set(c, "new", "k", "v");
	CHECK_STR(lm_config_get(c, "new", "k"), "v");
	lm_config_free(c);
}

static void test_errors_name_file_and_line(void)
{
	lm_config *c = lm_config_parse("key = before any section\n", "x.ini");
	CHECK(c == NULL);
	CHECK_STR(lm_error_get(), "x.ini:1: File contains no section headers.");
	c = lm_config_parse("[a]\nok = 1\n[broken\n", "y.ini");
	CHECK(c == NULL);
	CHECK_STR(lm_error_get(), "y.ini:3: malformed section header");
	c = lm_config_parse("[a]\njust words\n", "z.ini");
	CHECK(c == NULL);
	CHECK_STR(lm_error_get(), "z.ini:2: expected 'key = value'");
	CHECK(lm_config_load("/nonexistent/luamig.ini") == NULL);
	CHECK_STR(lm_error_get(), "/nonexistent/luamig.ini: No such file or directory");
}

static void test_recursive_reference_stops(void)
{
	lm_config *c = lm_config_parse("[a]\nx = %(y)s\ny = %(x)s\n", "r.ini");
	CHECK(c);
	const char *v = lm_config_get(c, "a", "x");
	CHECK(v != NULL); /* bounded, no hang, no crash */
	lm_config_free(c);
}

int main(void)
{
	RUN(test_sections_and_keys);
	RUN(test_interpolation);
	RUN(test_continuation_lines);
	RUN(test_set_replaces_and_reinterpolates);
	RUN(test_errors_name_file_and_line);
	RUN(test_recursive_reference_stops);
	lm_error_clear();
	return CHECK_DONE();
}
