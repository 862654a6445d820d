/*
 * fuzz_dag.c — libFuzzer harness for the revision DAG and the planner on
 * generated graphs. The input's bytes describe up to 24 revisions (each
 * byte pair picks down revisions, a depends_on, a branch label) followed by
 * a target and rows for the version table; the harness builds the map
 * (cycles, dependency cycles, missing parents, duplicate labels included),
 * then asks for heads, resolution, upgrade, downgrade and stamp plans of
 * the target. Every input must end with an answer or a message: no crash,
 * no hang, no sanitizer report.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listing.h"
#include "plan.h"
#include "revmap.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const TARGETS[] = {"head", "heads",   "base",     "+1",      "-1",    "+2",
                                      "r3",   "r5@+1",   "lb0@head", "lb1@-1",  "r1:r4", "heads@-1",
                                      "r2+1", "current", "r",        "lb2@base"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	size_t n = data[0] % 24 + 1;
	size_t at = 1;
	lm_revmap *m = lm_revmap_new();
	char id[16];
	for (size_t i = 0; i < n && at + 1 < size; i++, at += 2) {
		uint8_t a = data[at], b = data[at + 1];
		lm_revision r;
		memset(&r, 0, sizeof r);
		snprintf(id, sizeof id, "r%zu", i);
		r.id = lm_strdup(id);
		/* parents: up to two of the revisions so far, or (rarely) later
		 * ones, which makes cycles and missing parents */
		if (i > 0 && (a & 3) != 0) {
			snprintf(id, sizeof id, "r%zu", (size_t)(a >> 2) % (i + (a & 64 ? 3 : 0)));
			lm_strv_push(&r.down, id);
			if ((a & 3) == 3) {
				snprintf(id, sizeof id, "r%zu", (size_t)(b >> 3) % (i + 1));
				lm_strv_push(&r.down, id);
			}
		}
		if (b & 1) {
			snprintf(id, sizeof id, "r%zu", (size_t)(b >> 1) % (n + 1));
			lm_strv_push(&r.depends, id);
		}
		if ((b & 6) == 6) {
			snprintf(id, sizeof id, "lb%u", (unsigned)(a % 3));
			lm_strv_push(&r.labels, id);
		}
		r.message = lm_strdup("m");
		r.doc = lm_strdup("m");
		r.path = lm_strdup("fuzz.lua");
		r.order = i;
		lm_revmap_add(m, &r);
	}
	if (lm_revmap_build(m) == 0) {
		const char *target = TARGETS[data[size - 1] % (sizeof TARGETS / sizeof *TARGETS)];
		lm_strv current = {0}, out = {0};
		/* version-table rows: what the last bytes pick */
		for (size_t k = at; k + 1 < size && current.n < 3; k++) {
			snprintf(id, sizeof id, "r%zu", (size_t)data[k] % (n + 1));
			lm_strv_push(&current, id);
		}
		lm_strv heads = {0};
		lm_revmap_heads(m, &heads);
		lm_strv_dispose(&heads);
		lm_revmap_resolve(m, target, &out);
		lm_strv_dispose(&out);
		lm_revmap_current(m, &current, &out);
		lm_strv_dispose(&out);
		lm_plan p;
		memset(&p, 0, sizeof p);
		lm_plan_upgrade(m, &current, target,
		                &p); /* *out is always initialised: dispose it */
		lm_plan_dispose(&p);
		memset(&p, 0, sizeof p);
		lm_plan_downgrade(m, &current, target,
		                  &p); /* *out is always initialised: dispose it */
		lm_plan_dispose(&p);
		lm_strv targets = {0};
		lm_strv_push(&targets, target);
		memset(&p, 0, sizeof p);
		lm_plan_stamp(m, &current, &targets, data[size - 1] & 1,
		              &p); /* *out is always initialised: dispose it */
		lm_plan_dispose(&p);
		lm_strv_dispose(&targets);
		lm_buf b = {0};
		lm_listing_walk(m, "base", "heads", &out);
		lm_strv_dispose(&out);
		lm_listing_format_branches(m, 1, &b);
		lm_buf_dispose(&b);
		lm_strv_dispose(&current);
	}
	lm_revmap_free(m);
	lm_error_clear();
	return 0;
}
