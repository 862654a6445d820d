/*
 * test_revmap.c — the revision DAG on the tricky cases of Alembic's own test
 * suite (tests/test_revision.py, test_version_traversal.py) that the
 * recorded conformance cases cover thinly. Expected values come from running
 * Alembic 1.8.1's RevisionMap on the same graphs.
 */
#include "listing.h"
#include "plan.h"
#include "revmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dag_fixture.h"

static char *joined(const lm_strv *v)
{
	lm_buf b = {0};
	for (size_t i = 0; i < v->n; i++)
		lm_buf_printf(&b, "%s%s", i ? " " : "", v->v[i] ? v->v[i] : "None");
	return lm_buf_detach(&b);
}

static void expect_resolve(const lm_revmap *m, const char *ident, const char *want)
{
	lm_strv v = {0};
	int rc = lm_revmap_resolve_raw(m, ident, &v);
	char *got = rc < 0 ? lm_sprintf("ERR %s", lm_error_get()) : joined(&v);
	CHECK(strcmp(got, want) == 0, "resolve %s: want [%s], got [%s]", ident, want, got);
	free(got);
	lm_strv_dispose(&v);
}

/* Runs a plan and compares the revisions of its steps, in order, or the
 * error ("ERR message"). */
static void expect_plan(const lm_revmap *m, int upgrade, const char *current, const char *target,
                        const char *want)
{
	lm_strv cur = {0};
	words(current, &cur);
	lm_plan p;
	int rc = upgrade ? lm_plan_upgrade(m, &cur, target, &p)
	                 : lm_plan_downgrade(m, &cur, target, &p);
	char *got;
	if (rc < 0) {
		got = lm_sprintf("ERR %s", lm_error_get());
	} else {
		lm_strv ids = {0};
		for (size_t i = 0; i < p.n; i++)
			lm_strv_push(&ids, p.steps[i].rev->id);
		got = joined(&ids);
		lm_strv_dispose(&ids);
	}
	CHECK(strcmp(got, want) == 0, "%s [%s] -> %s: want [%s], got [%s]",
	      upgrade ? "upgrade" : "downgrade", current, target, want, got);
	free(got);
	lm_plan_dispose(&p);
	lm_strv_dispose(&cur);
}

static const char multiple_heads_abranch[] =
        "ERR Multiple head revisions are present for given argument 'abranch@head'; please "
        "specify a specific target revision, '<branchname>@abranch@head' to narrow to a "
        "specific head, or 'heads' for all heads";

/* LabeledBranchTest: labels, label@rev, prefixes within a branch. */
static void test_labeled_branches(void)
{
	lm_revmap *m = lm_revmap_new();
	add(m, "a", "", "abranch", "");
	add(m, "b", "a", "", "");
	add(m, "somerev", "b", "", "");
	add(m, "c", "somerev", "", "");
	add(m, "d", "b", "dbranch", "");
	add(m, "e", "d", "ebranch", "");
	add(m, "f", "e", "", "");
	CHECK(lm_revmap_build(m) == 0, "build: %s", lm_error_get());

	expect_resolve(m, "abranch@head", multiple_heads_abranch);
	expect_resolve(m, "ebranch@head", "f");
	expect_resolve(m, "dbranch@heads", "f");
	expect_resolve(m, "abranch@heads", "c f");
	expect_resolve(m, "ebranch@some", "ERR Can't locate revision identified by 'some'");
	expect_resolve(m, "ebranch@d", "d");
	expect_resolve(m, "e@d", "d"); /* a revision id where a label goes */
	expect_resolve(m, "x@d", "ERR Can't locate revision identified by 'x'");
	expect_resolve(m, "abranch@so", "somerev");
	expect_resolve(m, "ebranch@somerev", "ERR Can't locate revision identified by 'somerev'");
	expect_resolve(m, "ebranch@-2", "d");
	expect_resolve(m, "abranch@base", "");
	expect_resolve(m, "so", "somerev"); /* prefixes shorter than four work if unique */
	expect_resolve(m, "-1", "somerev e");
	expect_resolve(m, "-5", "None base");

	const lm_revision *one;
	CHECK(lm_revmap_resolve_one(m, "heads", &one) < 0, "heads is not one revision");
	CHECK(lm_revmap_resolve_one(m, "base", &one) == 0 && one == NULL, "base is no revision");

	expect_plan(m, 1, "", "ebranch@+2", "a b"); /* from base: branch point first */
	expect_plan(m, 1, "c", "ebranch@+2", "d e");
	expect_plan(m, 1, "c f", "+1", "ERR Ambiguous upgrade from multiple current revisions");
	expect_plan(m, 1, "c", "dbranch@+1", "d");
	expect_plan(m, 0, "c f", "ebranch@-2", "f e");
	expect_plan(m, 0, "c f", "dbranch@base", "c somerev f e d b a");
	/* Alembic crashes (AssertionError) when no current head is on the
	 * branch; luamig refuses. */
	expect_plan(m, 0, "c f", "abranch@-1",
	            "ERR Relative downgrade 'abranch@-1' needs exactly "
	            "one current revision on branch 'abranch'; 2 found");

	lm_strv cur = {0};
	words("c f", &cur);
	lm_plan p;
	CHECK(lm_plan_downgrade(m, &cur, "-1", &p) == 0, "-1: %s", lm_error_get());
	CHECK(p.n == 1 && !strcmp(p.steps[0].rev->id, "c"), "-1 uses the first row");
	CHECK(p.warnings.n == 1 && strstr(p.warnings.v[0], "downgrade -1 from multiple heads is "
	                                                   "ambiguous"),
	      "the multiple-heads warning");
	lm_plan_dispose(&p);
	lm_strv_dispose(&cur);
	lm_revmap_free(m);
}

/* MultipleBranchEffectiveHead and depends_on across roots. */
static void test_effective_head(void)
{
	lm_revmap *m = lm_revmap_new();
	add(m, "x1", "", "x", "");
	add(m, "x2", "x1", "", "");
	add(m, "y1", "", "y", "");
	add(m, "y2", "y1", "", "x1");
	CHECK(lm_revmap_build(m) == 0, "build: %s", lm_error_get());
	expect_plan(m, 0, "x2 y2", "x@-1", "x2");
	expect_plan(m, 0, "x2 y2", "x@base", "x2 y2 x1"); /* dependents go too */
	expect_plan(m, 1, "", "y@head", "x1 y1 y2");      /* dependencies come first */

	lm_revmap *n = lm_revmap_new();
	add(n, "a", "", "", "");
	add(n, "b", "a", "", "");
	add(n, "c", "", "", "b");
	CHECK(lm_revmap_build(n) == 0, "build: %s", lm_error_get());
	lm_strv heads = {0}, real = {0};
	lm_revmap_heads(n, &heads);
	lm_revmap_real_heads(n, &real);
	char *h = joined(&heads), *r = joined(&real);
	CHECK(!strcmp(h, "b c") && !strcmp(r, "c"), "heads [%s] real heads [%s]", h, r);
	lm_buf b = {0};
	lm_listing_format_short(n, lm_revmap_get(n, "b"), 0, &b);
	CHECK(!strcmp(lm_buf_str(&b), "b (effective head)\n"), "got %s", lm_buf_str(&b));
	/* After upgrading, b is implied by c's row and has none of its own. */
	lm_strv cur = {0};
	lm_plan p;
	CHECK(lm_plan_upgrade(n, &cur, "heads", &p) == 0, "%s", lm_error_get());
	CHECK(p.n == 3 && p.steps[2].nops == 1 && p.steps[2].ops[0].kind == LM_VOP_UPDATE &&
	              !strcmp(p.steps[2].ops[0].from, "b") && !strcmp(p.steps[2].ops[0].to, "c"),
	      "c's step takes over b's row");
	lm_plan_dispose(&p);
	free(h);
	free(r);
	lm_buf_dispose(&b);
	lm_strv_dispose(&heads);
	lm_strv_dispose(&real);
	lm_revmap_free(n);
	lm_revmap_free(m);
}

/* The revisions a version table's rows mark as applied: each row and its
 * ancestors, through depends_on; a row naming no revision is set apart. */
static void test_applied(void)
{
	lm_revmap *m = lm_revmap_new();
	add(m, "a", "", "", "");
	add(m, "b", "a", "", "");
	add(m, "c", "b", "", "");
	add(m, "x", "", "", "");
	add(m, "y", "", "", "b");
	CHECK(lm_revmap_build(m) == 0, "build: %s", lm_error_get());
	const char *cases[][3] = {
	        {"", "", ""},           {"b", "a b", ""},      {"y", "a b y", ""},
	        {"c x", "a b c x", ""}, {"zz b", "a b", "zz"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		lm_strv rows = {0}, applied = {0}, unknown = {0};
		words(cases[i][0], &rows);
		lm_revmap_applied(m, &rows, &applied, &unknown);
		char *a = joined(&applied), *u = joined(&unknown);
		CHECK(!strcmp(a, cases[i][1]) && !strcmp(u, cases[i][2]),
		      "applied [%s]: want [%s] [%s], got [%s] [%s]", cases[i][0], cases[i][1],
		      cases[i][2], a, u);
		free(a);
		free(u);
		lm_strv_dispose(&rows);
		lm_strv_dispose(&applied);
		lm_strv_dispose(&unknown);
	}
	lm_revmap_free(m);
}

static void expect_build_error(lm_revmap *m, const char *want)
{
	int rc = lm_revmap_build(m);
	CHECK(rc < 0 && !strcmp(lm_error_get(), want), "want %s, got %s", want,
	      rc < 0 ? lm_error_get() : "success");
	lm_revmap_free(m);
}

/* GraphWithLoopTest and friends, plus what Alembic only warns about. */
static void test_build_errors(void)
{
	lm_revmap *m = lm_revmap_new();
	add(m, "a", "", "", "b");
	add(m, "b", "a", "", "");
	expect_build_error(m, "Dependency cycle is detected in revisions (a, b)");

	m = lm_revmap_new();
	add(m, "a", "", "", "a");
	expect_build_error(m, "Dependency self-loop is detected in revisions (a)");

	m = lm_revmap_new();
	add(m, "a", "", "", "");
	add(m, "b", "a", "", "c");
	add(m, "c", "a", "", "b");
	expect_build_error(m, "Dependency cycle is detected in revisions (a, b, c)");

	m = lm_revmap_new();
	add(m, "a", "", "", "");
	add(m, "b", "a c", "", "");
	add(m, "c", "b", "", "");
	/* no head is left outside the loop: Alembic names every revision */
	expect_build_error(m, "Cycle is detected in revisions (a, b, c)");

	/* a cycle through depends_on between a head and a base: Alembic's own
	 * check misses it (and its sort never ends); named by its revisions */
	m = lm_revmap_new();
	add(m, "r0", "", "", "r6");
	add(m, "r1", "r0", "", "");
	add(m, "r2", "", "", "");
	add(m, "r3", "r0", "", "r2");
	add(m, "r4", "r3", "", "r3");
	add(m, "r5", "r2", "", "r1");
	add(m, "r6", "r1", "", "r5");
	expect_build_error(m, "Dependency cycle is detected in revisions (r0, r1, r5, r6)");

	m = lm_revmap_new();
	add(m, "a:b", "", "", "");
	expect_build_error(m, "Character(s) ':' not allowed in revision identifier 'a:b'");

	m = lm_revmap_new();
	add(m, "a+b@c", "", "", "");
	expect_build_error(m, "Character(s) '+, @' not allowed in revision identifier 'a+b@c'");

	m = lm_revmap_new();
	add(m, "a", "", "", "");
	add(m, "a", "", "", "");
	expect_build_error(m, "Revision a is present more than once");

	m = lm_revmap_new();
	add(m, "a", "", "", "nope");
	expect_build_error(m, "Revision nope referenced from a is not present");

	m = lm_revmap_new();
	add(m, "abcd", "", "", "");
	add(m, "b", "abcd", "abcd", "");
	expect_build_error(m, "Branch name 'abcd' in revision b already used by revision abcd");
}

/* LargeMapTest: build and plans stay near-linear. */
static void test_scale(void)
{
	enum { N = 10000 };
	lm_revmap *m = lm_revmap_new();
	char id[32], prev[32] = "";
	for (int i = 0; i < N; i++) {
		snprintf(id, sizeof id, "%012x", 0x100000 + i * 7919);
		add(m, id, prev, "", "");
		strcpy(prev, id);
	}
	double t0 = lm_now();
	CHECK(lm_revmap_build(m) == 0, "build: %s", lm_error_get());
	lm_strv cur = {0};
	lm_plan p;
	CHECK(lm_plan_upgrade(m, &cur, "head", &p) == 0 && p.n == N, "upgrade all");
	lm_plan_dispose(&p);
	lm_strv_push(&cur, prev);
	CHECK(lm_plan_downgrade(m, &cur, "base", &p) == 0 && p.n == N, "downgrade all");
	lm_plan_dispose(&p);
	CHECK(lm_plan_downgrade(m, &cur, "-3", &p) == 0 && p.n == 3, "downgrade -3");
	lm_plan_dispose(&p);
	lm_strv hist = {0};
	CHECK(lm_listing_walk(m, NULL, NULL, &hist) == 0 && hist.n == N, "history");
	double dt = lm_now() - t0;
	CHECK(dt < 2.0, "10,000 revisions took %.3f s", dt);
	lm_strv_dispose(&hist);
	lm_strv_dispose(&cur);
	lm_revmap_free(m);
}

/* The one revision-id grammar (Alembic's forbidden characters, and nothing
 * that leaves the versions folder, closes a Lua string or comment, or
 * outgrows the version table's VARCHAR(32)), with Alembic's message. */
static void id_refused(const char *id, const char *want)
{
	int rc = lm_revmap_check_id(id);
	CHECK(rc == -1, "'%s' accepted", id);
	if (rc == -1 && want)
		CHECK(strcmp(lm_error_get(), want) == 0, "'%s': got \"%s\"", id, lm_error_get());
}

static void test_revision_id_grammar(void)
{
	CHECK(lm_revmap_check_id("abc123") == 0, "abc123 refused");
	CHECK(lm_revmap_check_id("20261205_add.users") == 0, "dotted id refused");
	CHECK(lm_revmap_check_id("0123456789abcdef0123456789abcdef") == 0, "32 characters refused");
	id_refused("a-b", "Character(s) '-' not allowed in revision identifier 'a-b'");
	/* Alembic sorts the characters and joins them with ", " */
	id_refused("a@b:c", "Character(s) ':, @' not allowed in revision identifier 'a@b:c'");
	id_refused("../../x", "Character(s) '/' not allowed in revision identifier '../../x'");
	id_refused(
	        "a\"]]os.exit(3)--",
	        "Character(s) '\", -, ]' not allowed in revision identifier 'a\"]]os.exit(3)--'");
	id_refused("", "A revision identifier must not be empty");
	id_refused(".hidden", NULL);
	id_refused("tab\there", NULL);
	/* each forbidden byte alone, wherever it sits in the byte order */
	const char *one_each = " \"'+,-/:@[\\]`\x7f\x01";
	for (const char *c = one_each; *c; c++) {
		char id[] = {'a', *c, 'b', '\0'};
		id_refused(id, NULL);
	}
	/* what the forbidden ones leave: other punctuation, UTF-8 */
	CHECK(lm_revmap_check_id("a!b~c{d}e|f^g=h;i") == 0, "legal punctuation refused");
	CHECK(lm_revmap_check_id("r\xc3\xa9vision") == 0, "UTF-8 id refused");
	id_refused("0123456789abcdef0123456789abcdef0",
	           "Revision identifier '0123456789abcdef0123456789abcdef...' is longer than 32 "
	           "characters (the version table's version_num column)");
}

int main(void)
{
	test_labeled_branches();
	test_effective_head();
	test_applied();
	test_build_errors();
	test_revision_id_grammar();
	test_scale();
	if (failures)
		fprintf(stderr, "%d failure(s)\n", failures);
	return failures ? 1 : 0;
}
