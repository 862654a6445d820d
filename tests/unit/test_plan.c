/*
 * test_plan.c — the planner on stamps and step texts: version-table changes
 * of stamp plans (collapsing heads, --purge, base) and the log text of
 * steps. Expected values come from running Alembic 1.8.1 on the same graphs.
 */
#include "plan.h"
#include "revmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dag_fixture.h"

/* Stamp: collapsing heads, new branches, --purge, base. */
static void test_stamp(void)
{
	lm_revmap *m = lm_revmap_new();
	add(m, "aaaa1111", "", "", "");
	add(m, "bbbb2222", "aaaa1111", "", "");
	add(m, "cccc3333", "bbbb2222", "", "");
	add(m, "dddd4444", "bbbb2222", "", "");
	CHECK(lm_revmap_build(m) == 0, "build: %s", lm_error_get());
	lm_strv cur = {0}, targets = {0};
	words("cccc3333 dddd4444", &cur);
	words("bbbb2222", &targets);
	lm_plan p;
	CHECK(lm_plan_stamp(m, &cur, &targets, 0, &p) == 0, "%s", lm_error_get());
	lm_buf b = {0};
	if (p.n == 1)
		lm_step_describe(&p.steps[0], &b);
	CHECK(!strcmp(lm_buf_str(&b), "stamp_revision cccc3333, dddd4444 -> bbbb2222"), "got %s",
	      lm_buf_str(&b));
	CHECK(p.n == 1 && p.steps[0].nops == 2, "delete one row, update the other");
	lm_plan_dispose(&p);
	lm_buf_dispose(&b);

	/* --purge: planned from an empty table. */
	CHECK(lm_plan_stamp(m, &cur, &targets, 1, &p) == 0, "%s", lm_error_get());
	CHECK(p.n == 1 && p.steps[0].nops == 1 && p.steps[0].ops[0].kind == LM_VOP_INSERT,
	      "purge then insert");
	lm_plan_dispose(&p);

	lm_strv_dispose(&targets);
	words("head", &targets);
	CHECK(lm_plan_stamp(m, &cur, &targets, 0, &p) < 0 &&
	              !strcmp(lm_error_get(), "Multiple heads are present; please specify a single "
	                                      "target revision"),
	      "stamp head with two heads: %s", lm_error_get());
	lm_plan_dispose(&p);

	lm_strv_dispose(&targets);
	words("base", &targets);
	CHECK(lm_plan_stamp(m, &cur, &targets, 0, &p) == 0 && p.n == 2, "base deletes all");
	lm_plan_dispose(&p);
	lm_strv_dispose(&targets);
	lm_strv_dispose(&cur);
	lm_revmap_free(m);
}

/* Log texts of steps: from/to without depends_on, first paragraph of the doc. */
static void test_step_text(void)
{
	lm_revmap *m = lm_revmap_new();
	add(m, "a", "", "", "");
	lm_revision r;
	memset(&r, 0, sizeof r);
	r.id = lm_strdup("b");
	lm_strv_push(&r.down, "a");
	r.message = lm_strdup("add things");
	r.doc = lm_strdup("add things\nand more\n\nRevision ID: b\n");
	lm_revmap_add(m, &r);
	add(m, "c", "", "", "b");
	CHECK(lm_revmap_build(m) == 0, "build: %s", lm_error_get());
	lm_strv cur = {0};
	lm_plan p;
	CHECK(lm_plan_upgrade(m, &cur, "heads", &p) == 0, "%s", lm_error_get());
	const char *want[] = {"upgrade  -> a, a", "upgrade a -> b, add things\nand more",
	                      "upgrade  -> c, c"};
	CHECK(p.n == 3, "three steps");
	for (size_t i = 0; i < p.n && i < 3; i++) {
		lm_buf b = {0};
		lm_step_describe(&p.steps[i], &b);
		CHECK(!strcmp(lm_buf_str(&b), want[i]), "step %zu: %s", i, lm_buf_str(&b));
		lm_buf_dispose(&b);
	}
	lm_plan_dispose(&p);
	lm_revmap_free(m);
}

int main(void)
{
	test_stamp();
	test_step_text();
	if (failures)
		fprintf(stderr, "%d failure(s)\n", failures);
	return failures ? 1 : 0;
}
