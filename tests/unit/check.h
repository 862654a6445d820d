/*
 * check.h — the smallest test harness: named cases, CHECK macros that
 * report file:line and stop the case, and a summary line ctest and CI read.
 */
#ifndef LM_CHECK_H
#define LM_CHECK_H

#include <stdio.h>
#include <string.h>

static const char *check_case;
static int check_failures, check_cases;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: %s: CHECK(%s) failed\n", __FILE__, __LINE__,       \
			        check_case, #cond);                                                \
			check_failures++;                                                          \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#define CHECK_STR(got, want)                                                                       \
	do {                                                                                       \
		const char *g_ = (got), *w_ = (want);                                              \
		if (!g_ || strcmp(g_, w_) != 0) {                                                  \
			fprintf(stderr, "%s:%d: %s: got \"%s\", want \"%s\"\n", __FILE__,          \
			        __LINE__, check_case, g_ ? g_ : "(null)", w_);                     \
			check_failures++;                                                          \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#define RUN(fn)                                                                                    \
	do {                                                                                       \
		int before_ = check_failures;                                                      \
		check_case = #fn;                                                                  \
		check_cases++;                                                                     \
		fn();                                                                              \
		printf("%s %s\n", check_failures == before_ ? "ok  " : "FAIL", #fn);               \
	} while (0)

#define CHECK_DONE()                                                                               \
	(printf("%d passed, %d failed\n", check_cases - check_failures, check_failures),           \
	 check_failures ? 1 : 0)

#endif
