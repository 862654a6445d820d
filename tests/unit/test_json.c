/*
 * test_json.c — core/json.c: JSON string literals are valid JSON whatever
 * the bytes (escapes, valid UTF-8 kept, every invalid byte U+FFFD); a text
 * is told to be JSON or not, in bounded depth.
 */
#include <stdlib.h>

#include "check.h"
#include "json.h"

/* s (n bytes) as json.c writes it; caller frees. */
static char *lit(const char *s, size_t n)
{
	lm_buf b = {0};
	lm_json_string_n(&b, s, n);
	return lm_buf_detach(&b);
}

#define CHECK_LIT(bytes, want)                                                                     \
	do {                                                                                       \
		char *got_ = lit(bytes, sizeof bytes - 1);                                         \
		int same_ = strcmp(got_, want) == 0;                                               \
		if (!same_)                                                                        \
			fprintf(stderr, "got %s, want %s\n", got_, want);                          \
		free(got_);                                                                        \
		CHECK(same_);                                                                      \
	} while (0)

static void escapes_quotes_backslashes_and_controls(void)
{
	CHECK_LIT("plain", "\"plain\"");
	CHECK_LIT("a \"q\" \\ b", "\"a \\\"q\\\" \\\\ b\"");
	CHECK_LIT("l1\nl2\r\t", "\"l1\\nl2\\r\\t\"");
	CHECK_LIT("\x01\x1b\x1f\x7f", "\"\\u0001\\u001b\\u001f\\u007f\"");
	CHECK_LIT("nul\0byte", "\"nul\\u0000byte\"");
	CHECK_LIT("", "\"\"");
}

static void keeps_valid_utf8(void)
{
	CHECK_LIT("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf",
	          "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\"");
}

static void replaces_each_invalid_byte(void)
{
	CHECK_LIT("\xff\xfe", "\"\\ufffd\\ufffd\"");
	CHECK_LIT("\x80x", "\"\\ufffdx\"");                     /* a lone continuation byte */
	CHECK_LIT("\xc3", "\"\\ufffd\"");                       /* truncated at the end */
	CHECK_LIT("\xe2\x82x", "\"\\ufffd\\ufffdx\"");          /* truncated before a char */
	CHECK_LIT("\xc0\xaf", "\"\\ufffd\\ufffd\"");            /* overlong '/' */
	CHECK_LIT("\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\""); /* overlong, 3 bytes */
	CHECK_LIT("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""); /* a surrogate */
	CHECK_LIT("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* > U+10FFFF */
	CHECK_LIT("\xf5\x80", "\"\\ufffd\\ufffd\"");
}

static void null_and_arrays(void)
{
	lm_buf b = {0};
	lm_json_string(&b, NULL);
	lm_strv v = {0};
	lm_json_strv(&b, &v);
	lm_strv_push(&v, "a");
	lm_strv_push(&v, "b\"");
	lm_json_strv(&b, &v);
	lm_strv_dispose(&v);
	char *s = lm_buf_detach(&b);
	int same = strcmp(s, "null[][\"a\", \"b\\\"\"]") == 0;
	free(s);
	CHECK(same);
}

#define VALID(text) CHECK(lm_json_valid(text, sizeof text - 1))
#define INVALID(text) CHECK(!lm_json_valid(text, sizeof text - 1))

static void tells_json_from_what_only_looks_like_it(void)
{
	VALID("{}");
	VALID("{\"event\": \"target\", \"n\": -1.5e+3, \"ok\": true, \"x\": null}");
	VALID(" [1, \"a\\u00e9\\n\", {\"k\": [false, {}]}, 0, 0.25] ");
	VALID("\"caf\xc3\xa9\"");
	INVALID("{ rows: 3 }"); /* a revision's own line that looks like an event */
	INVALID("{\"a\": 1,}");
	INVALID("{\"a\" 1}");
	INVALID("{\"a\": 1} {}"); /* two values */
	INVALID("{\"a\": 01}");
	INVALID("{\"a\": 1.}");
	INVALID("{\"a\": \"x\ty\"}"); /* a raw control character */
	INVALID("{\"a\": \"\\x\"}");  /* an unknown escape */
	INVALID("{\"a\": \"\\u12\"}");
	INVALID("{\"a\": tru}");
	INVALID("{\"a\": \"open");
	INVALID("{\"a\": [1, 2}");
	INVALID("");
	INVALID("nul\0l");
}

static void bounded_however_deep(void)
{
	char deep[4001];
	for (int i = 0; i < 2000; i++) {
		deep[i] = '[';
		deep[2000 + i] = ']';
	}
	deep[4000] = '\0';
	CHECK(!lm_json_valid(deep, 4000));      /* deeper than 64: refused, no stack overflow */
	CHECK(lm_json_valid(deep + 1936, 128)); /* 64 deep */
}

int main(void)
{
	RUN(escapes_quotes_backslashes_and_controls);
	RUN(keeps_valid_utf8);
	RUN(replaces_each_invalid_byte);
	RUN(null_and_arrays);
	RUN(tells_json_from_what_only_looks_like_it);
	RUN(bounded_however_deep);
	return CHECK_DONE();
}
