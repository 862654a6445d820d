/*
 * test_checksum.c — revision-file checksums (checksum.h): FNV-1a 64's
 * published test vectors, what scheme 2 ignores (line endings, a leading
 * byte-order mark) and what it does not, scheme 1 as luamig wrote it
 * before, and how a recorded value's scheme is recognised.
 */
#include <string.h>

#include "check.h"
#include "checksum.h"

static const char *sum(const char *data, size_t len, int scheme)
{
	static char out[LM_CHECKSUM_MAX + 1];
	lm_checksum(data, len, scheme, out);
	return out;
}

#define V1(s) sum(s, sizeof s - 1, LM_CHECKSUM_V1)
#define V2(s) sum(s, sizeof s - 1, LM_CHECKSUM_V2)

static void test_fnv1a64_vectors(void)
{
	CHECK_STR(V1(""), "cbf29ce484222325");
	CHECK_STR(V1("a"), "af63dc4c8601ec8c");
	CHECK_STR(V1("foobar"), "85944171f73967e8");
	CHECK_STR(V2("foobar"), "fnv1a64-v2:85944171f73967e8");
	CHECK(strlen(V2("foobar")) == LM_CHECKSUM_MAX);
	CHECK(LM_CHECKSUM_MAX <= 32); /* the history table's VARCHAR(32) */
}

static void test_v2_ignores_line_endings_and_bom(void)
{
	const char *lf = "fnv1a64-v2:5e4216b9c8c23ae7";
	CHECK_STR(V2("x = 1\ny = 2\n"), lf);
	CHECK_STR(V2("x = 1\r\ny = 2\r\n"), lf);
	CHECK_STR(V2("x = 1\ry = 2\r"), lf);
	CHECK_STR(V2("\xef\xbb\xbfx = 1\r\ny = 2\r\n"), lf);
	/* CR CR LF is two line endings, and a BOM elsewhere is text */
	CHECK_STR(V2("a\r\r\nb"), "fnv1a64-v2:789bef81f0f17e3e");
	CHECK(strcmp(V2("x = 1\n\xef\xbb\xbfy = 2\n"), lf) != 0);
	CHECK(strcmp(V2("x = 1\ny = 2"), lf) != 0);
	CHECK(strcmp(V2("x = 1\ny = 3\n"), lf) != 0);
}

static void test_v1_as_before(void)
{
	/* CRLF read as LF, nothing else */
	CHECK_STR(V1("x = 1\r\ny = 2\r\n"), "5e4216b9c8c23ae7");
	CHECK_STR(V1("x = 1\ry = 2\r"), "b182f152bbcd2b1b");
	CHECK_STR(V1("\xef\xbb\xbfx = 1\ny = 2\n"), "2c6e5358d1d3d592");
}

static void test_scheme_of_recorded_value(void)
{
	CHECK(lm_checksum_scheme("fnv1a64-v2:5e4216b9c8c23ae7") == LM_CHECKSUM_V2);
	CHECK(lm_checksum_scheme("5e4216b9c8c23ae7") == LM_CHECKSUM_V1);
	CHECK(lm_checksum_scheme("5E4216B9C8C23AE7") == LM_CHECKSUM_UNKNOWN);
	CHECK(lm_checksum_scheme("5e4216b9c8c23ae") == LM_CHECKSUM_UNKNOWN);
	CHECK(lm_checksum_scheme("sha256:5e4216b9c8c23ae7") == LM_CHECKSUM_UNKNOWN);
	CHECK(lm_checksum_scheme("") == LM_CHECKSUM_UNKNOWN);
}

int main(void)
{
	RUN(test_fnv1a64_vectors);
	RUN(test_v2_ignores_line_endings_and_bom);
	RUN(test_v1_as_before);
	RUN(test_scheme_of_recorded_value);
	return CHECK_DONE();
}
