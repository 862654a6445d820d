/*
 * dag_query.c — answers DAG conformance queries through revmap.h, plan.h
 * and listing.h.
 *
 * Reads a case from stdin in a line format written by run_dag.py (fields
 * separated by tabs, list items by \x1f, a list field prefixed with 'L'):
 *
 *   R <id> <down list> <label list> <depends list> <message> [<doc> <path>]
 *   BUILD
 *   Q <op> [args...]
 *
 * (a doc has its newlines as \x1e). Besides the recorded Alembic queries,
 * fmt_* queries print what the heads/branches/history/show/current
 * commands would (the command layer adds nothing but these lines).
 *
 * and prints one JSON object per BUILD and per Q line, in the shape of the
 * recorded Alembic answers, for run_dag.py to compare.
 */
#include "listing.h"
#include "plan.h"
#include "revmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void json_str(FILE *f, const char *s)
{
	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

static void json_strv(FILE *f, const lm_strv *v)
{
	fputc('[', f);
	for (size_t i = 0; i < v->n; i++) {
		if (i)
			fputc(',', f);
		json_str(f, v->v[i]);
	}
	fputc(']', f);
}

static void json_error(FILE *f, const lm_strv *warnings)
{
	fputs("{\"ok\":false,\"error\":{\"message\":", f);
	json_str(f, lm_error_get());
	fputs("}", f);
	if (warnings && warnings->n) {
		fputs(",\"warnings\":", f);
		json_strv(f, warnings);
	}
	fputs("}\n", f);
}

/* Splits a list field ("L" then items separated by \x1f). */
static void parse_list(const char *field, lm_strv *out)
{
	if (!field || field[0] != 'L')
		return;
	const char *p = field + 1;
	if (!*p)
		return;
	for (;;) {
		const char *e = strchr(p, '\x1f');
		if (!e) {
			lm_strv_push(out, p);
			return;
		}
		lm_strv_push_own(out, lm_strndup(p, (size_t)(e - p)));
		p = e + 1;
	}
}

static void split_tabs(char *line, char **fields, size_t max, size_t *n)
{
	*n = 0;
	char *p = line;
	while (*n < max) {
		fields[(*n)++] = p;
		char *t = strchr(p, '\t');
		if (!t)
			break;
		*t = '\0';
		p = t + 1;
	}
}

static void print_plan(const lm_plan *p)
{
	fputs("{\"ok\":true,\"steps\":[", stdout);
	for (size_t i = 0; i < p->n; i++) {
		const lm_step *s = &p->steps[i];
		if (i)
			fputc(',', stdout);
		printf("{\"dir\":\"%s\"", s->upgrade ? "up" : "down");
		if (s->stamp) {
			fputs(",\"stamp\":true,\"from\":", stdout);
			json_strv(stdout, &s->from);
			fputs(",\"to\":", stdout);
			json_strv(stdout, &s->to);
			printf(",\"branch_move\":%s", s->branch_move ? "true" : "false");
		} else {
			fputs(",\"rev\":", stdout);
			json_str(stdout, s->rev->id);
		}
		fputs(",\"ops\":[", stdout);
		for (size_t k = 0; k < s->nops; k++) {
			const lm_vop *op = &s->ops[k];
			char *t = op->kind == LM_VOP_INSERT ? lm_sprintf("insert %s", op->to)
			          : op->kind == LM_VOP_DELETE
			                  ? lm_sprintf("delete %s", op->from)
			                  : lm_sprintf("update %s %s", op->from, op->to);
			if (k)
				fputc(',', stdout);
			json_str(stdout, t);
			free(t);
		}
		fputs("],\"log\":", stdout);
		lm_buf b = {0};
		lm_step_describe(s, &b);
		json_str(stdout, lm_buf_str(&b));
		lm_buf_dispose(&b);
		fputc('}', stdout);
	}
	fputs("]", stdout);
	if (p->warnings.n) {
		fputs(",\"warnings\":", stdout);
		json_strv(stdout, &p->warnings);
	}
	fputs("}\n", stdout);
}

/* The output of a listing command:
 *   fmt_heads <verbose> <resolve>      fmt_branches <verbose>
 *   fmt_history <verbose> <rows|-> <lower> <upper>   (rows: history -i)
 *   fmt_show <ident> <rows>            fmt_current <verbose> <rows> */
static void format_query(lm_revmap *m, char **f, size_t nf)
{
	const char *op = f[1] + 4;
	int verbose = nf > 2 && !strcmp(f[2], "1");
	lm_buf b = {0};
	lm_strv v = {0}, rows = {0};
	int rc = 0;
	if (!strcmp(op, "heads")) {
		if (nf > 3 && !strcmp(f[3], "1"))
			rc = lm_revmap_resolve(m, "heads", &v);
		else
			lm_revmap_heads(m, &v);
		for (size_t i = 0; rc == 0 && i < v.n; i++)
			lm_listing_format_short(m, lm_revmap_get(m, v.v[i]), verbose, &b);
	} else if (!strcmp(op, "branches")) {
		rc = lm_listing_format_branches(m, verbose, &b);
	} else if (!strcmp(op, "history")) {
		int indicate = nf > 3 && f[3][0] == 'L';
		parse_list(f[3], &rows);
		rc = lm_listing_history(m, f[4], f[5], verbose, indicate ? &rows : NULL, &b);
	} else if (!strcmp(op, "show")) {
		parse_list(nf > 3 ? f[3] : NULL, &rows);
		if (!strcmp(f[2], "current")) {
			for (size_t i = 0; rc == 0 && i < rows.n; i++)
				rc = lm_revmap_resolve(m, rows.v[i], &v);
		} else {
			rc = lm_revmap_resolve(m, f[2], &v);
		}
		for (size_t i = 0; rc == 0 && i < v.n; i++)
			lm_listing_format_show(m, lm_revmap_get(m, v.v[i]), NULL, &b);
	} else if (!strcmp(op, "current")) {
		parse_list(nf > 3 ? f[3] : NULL, &rows);
		rc = lm_revmap_current(m, &rows, &v);
		for (size_t i = 0; rc == 0 && i < v.n; i++)
			lm_listing_format_current(m, lm_revmap_get(m, v.v[i]), verbose, &b);
	}
	if (rc < 0) {
		json_error(stdout, NULL);
	} else {
		fputs("{\"ok\":true,\"text\":", stdout);
		json_str(stdout, lm_buf_str(&b));
		fputs("}\n", stdout);
	}
	lm_buf_dispose(&b);
	lm_strv_dispose(&v);
	lm_strv_dispose(&rows);
}

static void query(lm_revmap *m, char **f, size_t nf)
{
	const char *op = f[1];
	lm_strv v = {0};
	if (!strcmp(op, "heads") || !strcmp(op, "bases") || !strcmp(op, "real_heads") ||
	    !strcmp(op, "branch_points")) {
		if (!strcmp(op, "heads"))
			lm_revmap_heads(m, &v);
		else if (!strcmp(op, "bases"))
			lm_revmap_bases(m, &v);
		else if (!strcmp(op, "real_heads"))
			lm_revmap_real_heads(m, &v);
		else
			lm_revmap_branch_points(m, &v);
		fputs("{\"ok\":true,\"value\":", stdout);
		json_strv(stdout, &v);
		fputs("}\n", stdout);
	} else if (!strcmp(op, "real_bases") || !strcmp(op, "merge_points")) {
		for (size_t i = 0; i < lm_revmap_count(m); i++) {
			lm_revinfo info;
			lm_revmap_info(m, lm_revmap_at(m, i)->id, &info);
			if (!strcmp(op, "real_bases") ? info.is_real_base : info.is_merge_point)
				lm_strv_push(&v, lm_revmap_at(m, i)->id);
			lm_revinfo_dispose(&info);
		}
		fputs("{\"ok\":true,\"value\":", stdout);
		json_strv(stdout, &v);
		fputs("}\n", stdout);
	} else if (!strcmp(op, "revision_info")) {
		fputs("{\"ok\":true,\"value\":{", stdout);
		for (size_t i = 0; i < lm_revmap_count(m); i++) {
			lm_revinfo in;
			const char *id = lm_revmap_at(m, i)->id;
			lm_revmap_info(m, id, &in);
			if (i)
				fputc(',', stdout);
			json_str(stdout, id);
			fputs(":{\"nextrev\":", stdout);
			json_strv(stdout, &in.nextrev);
			fputs(",\"all_nextrev\":", stdout);
			json_strv(stdout, &in.all_nextrev);
			fputs(",\"branch_labels\":", stdout);
			json_strv(stdout, &in.branch_labels);
			fputs(",\"versioned_down_revisions\":", stdout);
			json_strv(stdout, &in.down);
			fputs(",\"resolved_dependencies\":", stdout);
			json_strv(stdout, &in.resolved_deps);
			fputs(",\"normalized_down_revisions\":", stdout);
			json_strv(stdout, &in.normalized_down);
			printf(",\"is_head\":%s,\"is_real_head\":%s,\"is_base\":%s,\"is_real_"
			       "base\":%s,"
			       "\"is_branch_point\":%s,\"is_real_branch_point\":%s,"
			       "\"is_merge_point\":%s}",
			       in.is_head ? "true" : "false", in.is_real_head ? "true" : "false",
			       in.is_base ? "true" : "false", in.is_real_base ? "true" : "false",
			       in.is_branch_point ? "true" : "false",
			       in.is_real_branch_point ? "true" : "false",
			       in.is_merge_point ? "true" : "false");
			lm_revinfo_dispose(&in);
		}
		fputs("}}\n", stdout);
	} else if (!strcmp(op, "heads_cmd")) {
		int resolve = nf > 2 && !strcmp(f[2], "1");
		lm_buf b = {0};
		if (resolve) {
			if (lm_revmap_resolve(m, "heads", &v) < 0) {
				json_error(stdout, NULL);
				return;
			}
		} else {
			lm_revmap_heads(m, &v);
		}
		for (size_t i = 0; i < v.n; i++)
			lm_listing_format_short(m, lm_revmap_get(m, v.v[i]), 0, &b);
		fputs("{\"ok\":true,\"text\":", stdout);
		json_str(stdout, lm_buf_str(&b));
		fputs("}\n", stdout);
		lm_buf_dispose(&b);
	} else if (!strcmp(op, "branches_cmd")) {
		lm_buf b = {0};
		if (lm_listing_format_branches(m, 0, &b) < 0) {
			json_error(stdout, NULL);
		} else {
			fputs("{\"ok\":true,\"text\":", stdout);
			json_str(stdout, lm_buf_str(&b));
			fputs("}\n", stdout);
		}
		lm_buf_dispose(&b);
	} else if (!strcmp(op, "history")) {
		if (lm_listing_walk(m, f[2], f[3], &v) < 0) {
			json_error(stdout, NULL);
		} else {
			lm_buf b = {0};
			lm_listing_history(m, f[2], f[3], 0, NULL, &b);
			fputs("{\"ok\":true,\"value\":{\"revisions\":", stdout);
			json_strv(stdout, &v);
			fputs(",\"text\":", stdout);
			json_str(stdout, lm_buf_str(&b));
			fputs("}}\n", stdout);
			lm_buf_dispose(&b);
		}
	} else if (!strcmp(op, "resolve")) {
		if (lm_revmap_resolve_raw(m, f[2], &v) < 0) {
			json_error(stdout, NULL);
		} else {
			fputs("{\"ok\":true,\"value\":", stdout);
			json_strv(stdout, &v);
			fputs("}\n", stdout);
		}
	} else if (!strcmp(op, "resolve_one")) {
		const lm_revision *r;
		if (lm_revmap_resolve_one(m, f[2], &r) < 0) {
			json_error(stdout, NULL);
		} else {
			fputs("{\"ok\":true,\"value\":", stdout);
			json_str(stdout, r ? r->id : NULL);
			fputs("}\n", stdout);
		}
	} else if (!strcmp(op, "upgrade") || !strcmp(op, "downgrade") || !strcmp(op, "stamp")) {
		lm_strv cur = {0}, targets = {0};
		lm_plan p;
		int rc;
		parse_list(f[2], &cur);
		if (!strcmp(op, "upgrade")) {
			rc = lm_plan_upgrade(m, &cur, f[3], &p);
		} else if (!strcmp(op, "downgrade")) {
			rc = lm_plan_downgrade(m, &cur, f[3], &p);
		} else {
			parse_list(f[3], &targets);
			rc = lm_plan_stamp(m, &cur, &targets, nf > 4 && !strcmp(f[4], "1"), &p);
		}
		if (rc < 0)
			json_error(stdout, &p.warnings);
		else
			print_plan(&p);
		lm_plan_dispose(&p);
		lm_strv_dispose(&cur);
		lm_strv_dispose(&targets);
	} else if (!strncmp(op, "fmt_", 4)) {
		format_query(m, f, nf);
	} else {
		printf("{\"ok\":false,\"error\":{\"message\":\"unknown query %s\"}}\n", op);
	}
	lm_strv_dispose(&v);
}

/* One line of stdin without its newline, in *buf; 0 at end of input. */
static int read_line(lm_buf *buf)
{
	buf->len = 0;
	if (buf->data)
		buf->data[0] = '\0';
	int c, any = 0;
	while ((c = getchar()) != EOF) {
		any = 1;
		if (c == '\n')
			break;
		lm_buf_putc(buf, (char)c);
	}
	return any;
}

int main(void)
{
	lm_revmap *m = lm_revmap_new();
	int built = 0;
	lm_buf buf = {0};
	while (read_line(&buf)) {
		if (!buf.len)
			continue;
		char *line = buf.data;
		char *f[10];
		size_t nf;
		split_tabs(line, f, 10, &nf);
		if (!strcmp(f[0], "R") && nf >= 6) {
			lm_revision r;
			memset(&r, 0, sizeof r);
			r.id = lm_strdup(f[1]);
			parse_list(f[2], &r.down);
			parse_list(f[3], &r.labels);
			parse_list(f[4], &r.depends);
			r.message = lm_strdup(f[5]);
			if (nf >= 8) {
				r.doc = lm_strdup(f[6]);
				for (char *c = r.doc; *c; c++)
					if (*c == '\x1e')
						*c = '\n';
				r.path = lm_strdup(f[7]);
			} else {
				r.path = lm_sprintf("versions/%s.lua", f[1]);
			}
			lm_revmap_add(m, &r);
		} else if (!strcmp(f[0], "BUILD")) {
			if (lm_revmap_build(m) < 0) {
				fputs("{\"load\":{\"ok\":false,\"message\":", stdout);
				json_str(stdout, lm_error_get());
				fputs("}}\n", stdout);
			} else {
				built = 1;
				fputs("{\"load\":{\"ok\":true}}\n", stdout);
			}
		} else if (!strcmp(f[0], "Q") && nf >= 2) {
			if (!built)
				puts("{\"ok\":false,\"error\":{\"message\":\"not built\"}}");
			else
				query(m, f, nf);
		}
		fflush(stdout);
	}
	lm_buf_dispose(&buf);
	lm_revmap_free(m);
	return 0;
}
