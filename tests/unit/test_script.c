/*
 * test_script.c — the revision-header scanner: what it reads from a file
 * without running it, and how it says what is wrong; the order in which a
 * versions folder's files are listed.
 */
#define _DEFAULT_SOURCE /* mkdtemp */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "script.h"
#include "util.h"

static void test_template_header(void)
{
	const char *text = "--[[ create account table\n"
	                   "\n"
	                   "Revision ID: 1975ea83b712\n"
	                   "Revises:\n"
	                   "Create Date: 2026-11-25 21:00:00.000000\n"
	                   "\n"
	                   "]]\n"
	                   "\n"
	                   "revision = \"1975ea83b712\"\n"
	                   "down_revision = nil\n"
	                   "branch_labels = nil\n"
	                   "depends_on = nil\n"
	                   "\n"
	                   "function upgrade()\n"
	                   "  revision = \"not me\"\n"
	                   "end\n";
	lm_revision r;
	CHECK(lm_script_scan("v/a.lua", text, &r) == 0);
	CHECK_STR(r.id, "1975ea83b712");
	CHECK(r.down.n == 0 && r.labels.n == 0 && r.depends.n == 0);
	CHECK_STR(r.message, "create account table");
	CHECK_STR(r.create_date, "2026-11-25 21:00:00.000000");
	CHECK_STR(r.path, "v/a.lua");
	lm_revision_dispose(&r);
}

static void test_lists_quotes_and_comments(void)
{
	const char *text = "-- a plain comment first\n"
	                   "revision = 'abc' -- trailing comment\n"
	                   "down_revision = { \"p1\", 'p2', } -- a merge\n"
	                   "branch_labels = \"feature\"\n"
	                   "local s = [[\n"
	                   "depends_on = \"inside a long string\"\n"
	                   "]]\n"
	                   "--[==[\n"
	                   "depends_on = 'inside a long comment'\n"
	                   "]==]\n"
	                   "function upgrade() end\n"
	                   "depends_on = {\n  \"x1\",\n  \"networking\"\n}\n";
	lm_revision r;
	CHECK(lm_script_scan("b.lua", text, &r) == 0);
	CHECK_STR(r.id, "abc");
	CHECK(r.down.n == 2);
	CHECK_STR(r.down.v[0], "p1");
	CHECK_STR(r.down.v[1], "p2");
	CHECK(r.labels.n == 1);
	CHECK_STR(r.labels.v[0], "feature");
	/* not all four names were seen before the code: the scan goes on and
	 * finds the assignment at the end, skipping the long string/comment */
	CHECK(r.depends.n == 2);
	CHECK_STR(r.depends.v[1], "networking");
	CHECK_STR(r.message, "");
	lm_revision_dispose(&r);
}

static void test_indented_assignments_are_code(void)
{
	const char *text =
	        "revision = \"x\"\ndown_revision = nil\n"
	        "function upgrade()\n  revision = \"not me\"\n  depends_on = \"no\"\nend\n";
	lm_revision r;
	CHECK(lm_script_scan("i.lua", text, &r) == 0);
	CHECK_STR(r.id, "x");
	CHECK(r.depends.n == 0);
	lm_revision_dispose(&r);
}

static void test_byte_order_mark(void)
{
	const char *text =
	        "\xEF\xBB\xBF--[[ with a BOM\n]]\nrevision = \"b\"\ndown_revision = nil\n";
	lm_revision r;
	CHECK(lm_script_scan("bom.lua", text, &r) == 0);
	CHECK_STR(r.id, "b");
	CHECK_STR(r.message, "with a BOM");
	lm_revision_dispose(&r);
}

static void test_multi_paragraph_doc(void)
{
	const char *text = "--[=[ first line\nsecond line\n\nRevision ID: x\n]=]\n"
	                   "revision = \"x\"\ndown_revision = \"w\"\n";
	lm_revision r;
	CHECK(lm_script_scan("c.lua", text, &r) == 0);
	CHECK_STR(r.message, "first line\nsecond line");
	CHECK(r.down.n == 1);
	lm_revision_dispose(&r);
}

static void test_errors_name_file_and_line(void)
{
	lm_revision r;
	CHECK(lm_script_scan("d.lua", "revision = \"x\"\n\ndown_revision = make()\n", &r) != 0);
	CHECK_STR(lm_error_get(), "d.lua:3: down_revision must be nil, a string or a list of "
	                          "strings written literally");
	CHECK(lm_script_scan("e.lua", "down_revision = nil\n", &r) != 0);
	CHECK(strstr(lm_error_get(), "e.lua: no 'revision = \"...\"' line") != NULL);
	CHECK(lm_script_scan("f.lua", "revision = \"x\"\n", &r) != 0);
	CHECK(strstr(lm_error_get(), "f.lua: no 'down_revision = ...' line") != NULL);
	CHECK(lm_script_scan("g.lua", "--[[ never closed\nrevision = \"x\"\n", &r) != 0);
	CHECK(strstr(lm_error_get(), "g.lua:") == lm_error_get());
	CHECK(lm_script_scan("h.lua", "revision = {\"a\", \"b\"}\ndown_revision = nil\n", &r) != 0);
	CHECK_STR(lm_error_get(), "h.lua:1: revision must be a string");
}

/* "--[" that opens no long bracket is a line comment; it once made the
 * scanner spin forever. */
static void test_short_comment_with_bracket(void)
{
	lm_revision r;
	const char *text = "revision = \"a1\" --[ not a long comment\n"
	                   "down_revision = nil --[=x\n"
	                   "branch_labels = nil --[ x ]\n"
	                   "depends_on = nil\n"
	                   "x = 1 --[ trailing\n";
	CHECK(lm_script_scan("s.lua", text, &r) == 0);
	CHECK_STR(r.id, "a1");
	CHECK(r.down.n == 0);
	lm_revision_dispose(&r);
}

/* A header value is one plain string literal: what Lua would compute from
 * an expression or an escape is not what the scanner reads, so it is
 * refused with the file and line. */
static void test_values_must_be_plain_literals(void)
{
	lm_revision r;
	const char *bad[] = {
	        "revision = \"abc\" .. \"zz\"\ndown_revision = nil\n",
	        "revision = \"a\\65\"\ndown_revision = nil\n",
	        "revision = \"a\\\"b\"\ndown_revision = nil\n",
	        "revision = \"a\"\ndown_revision = { \"b\" } .. x\n",
	        "revision = \"a\"\ndown_revision = nil or \"b\"\n",
	        "revision = 'unterminated\ndown_revision = nil\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK(lm_script_scan("p.lua", bad[i], &r) != 0);
		CHECK(strstr(lm_error_get(), "p.lua:") == lm_error_get());
		CHECK(strstr(lm_error_get(), "written literally") ||
		      strstr(lm_error_get(), "string"));
	}
	CHECK(lm_script_scan("p.lua", "revision = \"abc\" .. \"zz\"\ndown_revision = nil\n", &r) !=
	      0);
	CHECK_STR(lm_error_get(),
	          "p.lua:1: revision must be nil, a string or a list of strings written literally");
	/* a comment or a semicolon may follow a literal */
	CHECK(lm_script_scan("p.lua", "revision = \"a\"; -- the id\ndown_revision = nil;\n", &r) ==
	      0);
	CHECK_STR(r.id, "a");
	lm_revision_dispose(&r);
	/* code after the header may hold escapes: it is skipped, not read */
	CHECK(lm_script_scan("p.lua",
	                     "revision = \"a\"\ndown_revision = nil\nx = \"q\\\"revision = 1\"\n",
	                     &r) == 0);
	CHECK_STR(r.id, "a");
	lm_revision_dispose(&r);
}

/* Hostile sizes end, with the scanner reading each byte a bounded number of
 * times: a 100,000-character id is read (revmap refuses its length). */
static void test_long_inputs_end(void)
{
	lm_revision r;
	lm_buf b = {0};
	lm_buf_puts(&b, "revision = \"");
	for (int i = 0; i < 100000; i++)
		lm_buf_putc(&b, 'a');
	lm_buf_puts(&b, "\"\ndown_revision = nil\n");
	for (int i = 0; i < 20000; i++)
		lm_buf_puts(&b, "--[ \n--[[ x ]] [[ y ]] \"z\" '\n");
	CHECK(lm_script_scan("l.lua", lm_buf_str(&b), &r) == 0);
	CHECK(strlen(r.id) == 100000);
	lm_revision_dispose(&r);
	lm_buf_dispose(&b);
}

static int by_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Files come in strcmp order of their names, whatever they share: the
 * listing sorts by each name's first eight bytes first, and by strcmp only
 * where those are equal. */
static void test_files_listed_in_name_order(void)
{
	char dir[] = "/tmp/luamig-test-list-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	const char *fixed[] = {"abcdefgh2.lua", "abcdefgh10.lua", "abcdefgh1.lua",
	                       "abcdefgh.lua",  "abcdefg.lua",    "a.lua",
	                       "ab.lua",        "b.lua",          "\xc3\xa9t\xc3\xa9.lua",
	                       "Z.lua",         "_x.lua",         "0.lua"};
	lm_strv names = {0};
	for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
		lm_strv_push(&names, fixed[i]);
	unsigned seed = 12345;
	for (int i = 0; i < 200; i++) { /* one long run of names sharing eight bytes */
		char name[32];
		snprintf(name, sizeof name, "migration_%03x.lua", (unsigned)(i * 7919 % 4096));
		if (!lm_strv_contains(&names, name))
			lm_strv_push(&names, name);
	}
	for (int i = 0; i < 300; i++) { /* ids sharing prefixes of every length */
		char name[32];
		size_t n = 0;
		int len = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 12;
		for (int k = 0; k < len; k++)
			name[n++] = "ab0f"[((seed = seed * 1103515245u + 12345u) >> 16) % 4];
		memcpy(name + n, ".lua", 5);
		if (!lm_strv_contains(&names, name))
			lm_strv_push(&names, name);
	}
	for (size_t i = 0; i < names.n; i++) {
		char *p = lm_path_join(dir, names.v[i]);
		FILE *f = fopen(p, "w");
		CHECK(f != NULL);
		if (f)
			fclose(f);
		free(p);
	}
	lm_script_dir sd;
	memset(&sd, 0, sizeof sd);
	lm_strv_push(&sd.version_locations, dir);
	lm_strv got = {0};
	CHECK(lm_script_dir_files(&sd, &got) == 0);
	qsort(names.v, names.n, sizeof *names.v, by_strcmp);
	CHECK(got.n == names.n);
	for (size_t i = 0; i < got.n && i < names.n; i++) {
		char *want = lm_path_join(dir, names.v[i]);
		CHECK_STR(got.v[i], want);
		free(want);
	}
	for (size_t i = 0; i < got.n; i++)
		unlink(got.v[i]);
	rmdir(dir);
	lm_strv_dispose(&got);
	lm_strv_dispose(&names);
	lm_strv_dispose(&sd.version_locations);
}

int main(void)
{
	RUN(test_template_header);
	RUN(test_lists_quotes_and_comments);
	RUN(test_indented_assignments_are_code);
	RUN(test_byte_order_mark);
	RUN(test_multi_paragraph_doc);
	RUN(test_errors_name_file_and_line);
	RUN(test_short_comment_with_bracket);
	RUN(test_values_must_be_plain_literals);
	RUN(test_long_inputs_end);
	RUN(test_files_listed_in_name_order);
	lm_error_clear();
	return CHECK_DONE();
}
