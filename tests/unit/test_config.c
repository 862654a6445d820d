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
	CHECK(!lm_config_failed(c));
	CHECK(lm_config_get(c, "a", "x") == NULL); /* bounded, no hang, no crash */
	CHECK(lm_config_failed(c));
	CHECK_STR(lm_error_get(),
	          "r.ini:2: Recursion limit exceeded in value substitution: option 'x' in section "
	          "'a' contains an interpolation key which cannot be substituted in 10 steps. Raw "
	          "value: '%(y)s'");
	lm_config_free(c);
	/* a value that grows at each level stops at the same bound */
	c = lm_config_parse("[a]\nx = %(x)s%(x)s\n", "r.ini");
	CHECK(lm_config_get(c, "a", "x") == NULL);
	lm_config_free(c);
}

/* Python's configparser (strict) refuses a key or a section written twice;
 * the second key once freed the first's name while it was still read. */
static void test_duplicates_are_errors(void)
{
	lm_config *c = lm_config_parse("[alembic]\nurl = a\n\nURL = b\n", "luamig.ini");
	CHECK(c == NULL);
	CHECK_STR(lm_error_get(), "While reading from 'luamig.ini' [line  4]: option 'url' in "
	                          "section 'alembic' already exists");
	c = lm_config_parse("[a]\nx = 1\n[b]\n[a]\ny = 2\n", "luamig.ini");
	CHECK(c == NULL);
	CHECK_STR(lm_error_get(),
	          "While reading from 'luamig.ini' [line  4]: section 'a' already exists");
	/* the same key in two sections is fine */
	c = lm_config_parse("[a]\nx = 1\n[b]\nx = 2\n", "luamig.ini");
	CHECK(c);
	CHECK_STR(lm_config_get(c, "b", "x"), "2");
	lm_config_free(c);
}

/* configparser's BasicInterpolation errors: nothing unknown is left in a
 * value (a SQLite file named "%(nosuch)s.db" was created and migrated). */
static void test_bad_interpolation_is_an_error(void)
{
	lm_config *c = lm_config_parse("[alembic]\nscript_location = m\nurl = "
	                               "sqlite:///%(nosuch)s.db\n",
	                               "luamig.ini");
	CHECK(c);
	CHECK(lm_config_get(c, "alembic", "url") == NULL);
	/* a URL's value is never quoted: it may hold a password */
	CHECK_STR(lm_error_get(),
	          "luamig.ini:3: Bad value substitution: option 'url' in section 'alembic' "
	          "contains an interpolation key 'nosuch' which is not a valid option name. Raw "
	          "value: (not shown: the value may hold a password)");
	CHECK(lm_config_check_section(c, "alembic") == -1);
	lm_config_free(c);
	c = lm_config_parse("[a]\nx = 100%x\ny = %(abc\nz = 5%\n", "p.ini");
	CHECK(lm_config_get(c, "a", "x") == NULL);
	CHECK_STR(lm_error_get(), "p.ini:2: '%' must be followed by '%' or '(', found: '%x'");
	CHECK(lm_config_get(c, "a", "y") == NULL);
	CHECK_STR(lm_error_get(), "p.ini:3: bad interpolation variable reference '%(abc'");
	CHECK(lm_config_get(c, "a", "z") == NULL);
	CHECK_STR(lm_error_get(), "p.ini:4: '%' must be followed by '%' or '(', found: '%'");
	lm_config_free(c);
	/* a '%' in a password (sqlalchemy.url, or any value with "://" and "@") */
	c = lm_config_parse("[a]\nsqlalchemy.url = postgresql://u:s3cr%etpw@h/db\n"
	                    "target = x://u:pw%zz@h\n",
	                    "p.ini");
	CHECK(lm_config_get(c, "a", "sqlalchemy.url") == NULL);
	CHECK_STR(lm_error_get(), "p.ini:2: '%' must be followed by '%' or '(', found: (not shown: "
	                          "the value may hold a password)");
	CHECK(lm_config_get(c, "a", "target") == NULL);
	CHECK(strstr(lm_error_get(), "pw") == NULL);
	lm_config_free(c);
	/* a key of the section that interpolates fine passes the check */
	c = lm_config_parse("[DEFAULT]\nd = 1\n[a]\nx = %(d)s%%\n", "p.ini");
	CHECK(lm_config_check_section(c, "a") == 0);
	CHECK_STR(lm_config_get(c, "a", "x"), "1%");
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
	RUN(test_duplicates_are_errors);
	RUN(test_bad_interpolation_is_an_error);
	lm_error_clear();
	return CHECK_DONE();
}
