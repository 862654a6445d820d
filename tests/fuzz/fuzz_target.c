/*
 * fuzz_target.c — libFuzzer harness for the revision-id grammar and for
 * what a user types as a target: relative targets ("head-2", "ae1@+3",
 * "heads+1", "base+-1"), branch labels ("lb@head"), partial ids, ranges
 * ("a:b" for history) and numbers too big for any integer. The input is
 * one such text; the harness checks it as an id, resolves it against a
 * fixed history with two branches, a merge, a label and a depends_on, and
 * plans upgrade, downgrade and stamp to it from a few version-table
 * states. Every input must end with an answer or a message: no crash, no
 * hang, no sanitizer report.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "listing.h"
#include "plan.h"
#include "revmap.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* id, down revisions (space separated), label, depends_on */
static const char *const HISTORY[][4] = {
        {"ae1027a6acf", "", "", ""},
        {"27c6a30d7c24", "ae1027a6acf", "", ""},
        {"1975ea83b712", "27c6a30d7c24", "", ""},
        {"ae10b2", "ae1027a6acf", "lb", ""},
        {"3cac04ae8714", "ae10b2", "", "27c6a30d7c24"},
        {"4e2b7e1a", "1975ea83b712 3cac04ae8714", "", ""},
        {"base2", "", "other", ""},
        {"base2c", "base2", "", ""},
};

static lm_revmap *history(void)
{
	lm_revmap *m = lm_revmap_new();
	for (size_t i = 0; i < sizeof HISTORY / sizeof *HISTORY; i++) {
		lm_revision r;
		memset(&r, 0, sizeof r);
		r.id = lm_strdup(HISTORY[i][0]);
		char *downs = lm_strdup(HISTORY[i][1]);
		for (char *tok = strtok(downs, " "); tok; tok = strtok(NULL, " "))
			lm_strv_push(&r.down, tok);
		free(downs);
		if (HISTORY[i][2][0])
			lm_strv_push(&r.labels, HISTORY[i][2]);
		if (HISTORY[i][3][0])
			lm_strv_push(&r.depends, HISTORY[i][3]);
		r.message = lm_strdup("m");
		r.doc = lm_strdup("m");
		r.path = lm_strdup("fuzz.lua");
		r.order = i;
		lm_revmap_add(m, &r);
	}
	if (lm_revmap_build(m) != 0)
		abort(); /* the fixed history is valid */
	return m;
}

static void plans(const lm_revmap *m, const lm_strv *current, const char *target)
{
	lm_plan p;
	memset(&p, 0, sizeof p);
	lm_plan_upgrade(m, current, target, &p); /* *out is always initialised */
	lm_plan_dispose(&p);
	memset(&p, 0, sizeof p);
	lm_plan_downgrade(m, current, target, &p);
	lm_plan_dispose(&p);
	lm_strv targets = {0};
	lm_strv_push(&targets, target);
	memset(&p, 0, sizeof p);
	lm_plan_stamp(m, current, &targets, 0, &p);
	lm_plan_dispose(&p);
	lm_strv_dispose(&targets);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static lm_revmap *m;
	if (!m)
		m = history();
	if (size > 4096)
		return 0;
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	/* bytes after a NUL are another target, as the planner never sees a NUL */
	lm_revmap_check_id(text);
	lm_error_clear();

	lm_strv out = {0};
	lm_revmap_resolve(m, text, &out);
	lm_strv_dispose(&out);
	lm_error_clear();
	const lm_revision *one = NULL;
	lm_revmap_resolve_one(m, text, &one);
	lm_error_clear();

	static const char *const STATES[][2] = {{NULL, NULL},
	                                        {"ae1027a6acf", NULL},
	                                        {"1975ea83b712", "ae10b2"},
	                                        {"4e2b7e1a", "base2c"}};
	for (size_t s = 0; s < sizeof STATES / sizeof *STATES; s++) {
		lm_strv current = {0};
		for (size_t k = 0; k < 2 && STATES[s][k]; k++)
			lm_strv_push(&current, STATES[s][k]);
		plans(m, &current, text);
		lm_error_clear();
		lm_strv_dispose(&current);
	}

	/* history -r LOWER:UPPER */
	char *colon = strchr(text, ':');
	if (colon) {
		*colon = '\0';
		lm_listing_walk(m, *text ? text : "base", colon[1] ? colon + 1 : "heads", &out);
		lm_strv_dispose(&out);
		lm_error_clear();
	}
	free(text);
	return 0;
}
