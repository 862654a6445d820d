/*
 * dag_fixture.h — what the DAG's unit tests (test_revmap.c, test_plan.c)
 * share: a CHECK that counts failures and goes on, and small graphs written
 * as strings ("a b" = the revisions a and b).
 */
#ifndef LM_DAG_FIXTURE_H
#define LM_DAG_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "revmap.h"

static int failures;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			failures++;                                                                \
			fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                            \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
		}                                                                                  \
	} while (0)

/* Splits "a b c" (spaces) into a list; "" is the empty list. */
static void words(const char *s, lm_strv *out)
{
	while (s && *s) {
		const char *e = strchr(s, ' ');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if (n)
			lm_strv_push_own(out, lm_strndup(s, n));
		s = e ? e + 1 : NULL;
	}
}

/* One revision: id, down revisions, labels, depends_on (space-separated). */
static void add(lm_revmap *m, const char *id, const char *down, const char *labels,
                const char *deps)
{
	lm_revision r;
	memset(&r, 0, sizeof r);
	r.id = lm_strdup(id);
	words(down, &r.down);
	words(labels, &r.labels);
	words(deps, &r.depends);
	r.message = lm_strdup(id);
	lm_revmap_add(m, &r);
}

#endif
