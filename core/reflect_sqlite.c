/*
 * reflect_sqlite.c — SQLite's schema into the schema model.
 *
 * Four queries per schema ("main", or an attached database), each for all
 * tables at once through the table-valued pragma functions: the tables of
 * sqlite_master; pragma_table_xinfo (columns, declared types, NOT NULL,
 * defaults as written, primary key positions, generated columns);
 * pragma_foreign_key_list; pragma_index_list joined with
 * pragma_index_xinfo and the CREATE INDEX text. What the pragmas do not
 * say comes from the CREATE TABLE text, read by a small tokenizer: the
 * names of the primary key, unique, check and foreign key constraints,
 * check texts, unique constraints (as opposed to unique indexes),
 * deferrability, AUTOINCREMENT, WITHOUT ROWID, collations and generated
 * column expressions. Index expressions and partial-index predicates come
 * from the CREATE INDEX text.
 *
 * Types follow SQLAlchemy 1.4's SQLite reflection (_resolve_type_affinity):
 * a declared name SQLAlchemy knows gives that class, otherwise SQLite's
 * affinity rules choose INTEGER, TEXT, REAL, NUMERIC or NullType.
 * Defaults are the text SQLite keeps (pragma dflt_value), as the
 * inspector reports them; autoincrement is "auto" everywhere, and the
 * AUTOINCREMENT keyword is the table's sqlite_autoincrement.
 *
 * With r->batch (reflect.h) the same queries read a table as batch mode's
 * "move and copy" rebuild must recreate it: declared types instead of the
 * inspector's classes, whether each constraint was written in a column
 * definition, each index's CREATE INDEX text in creation order, and one
 * more query for the triggers and views of sqlite_master.
 */
#include "reflect.h"

#include <ctype.h>
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------
 * A tokenizer for CREATE TABLE / CREATE INDEX text
 * ------------------------------------------------------------------ */

enum { TK_WORD, TK_IDENT, TK_STRING, TK_PUNCT };

typedef struct token {
	int type;
	size_t start, end; /* byte range in the SQL text, end exclusive */
	const char *value; /* word as written, or the unquoted name/string */
} token;

typedef struct tokens {
	const char *sql;
	token *v;
	size_t n;
} tokens;

/* Unquotes sql[start+1 .. end-2] where the closing quote q is doubled to
 * escape it (not for [brackets]). */
static const char *unquote(lm_reflect *r, const char *s, size_t n, char q)
{
	char *out = lm_reflect_alloc(r, n + 1);
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		out[j++] = s[i];
		if (q != ']' && s[i] == q && i + 1 < n && s[i + 1] == q)
			i++;
	}
	out[j] = '\0';
	return out;
}

/* SQLite compares names and keywords ignoring ASCII case only. */
static int ci_cmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		int x = tolower((unsigned char)*a), y = tolower((unsigned char)*b);
		if (x != y || !x)
			return x - y;
	}
}

static int word_char(unsigned char c)
{
	return isalnum(c) || c == '_' || c == '$' || c >= 0x80;
}

static tokens tokenize(lm_reflect *r, const char *sql)
{
	tokens t = {sql, NULL, 0};
	size_t len = strlen(sql), cap = 16;
	t.v = lm_reflect_alloc(r, cap * sizeof *t.v);
	size_t i = 0;
	while (i < len) {
		unsigned char c = (unsigned char)sql[i];
		if (isspace(c)) {
			i++;
			continue;
		}
		if (c == '-' && sql[i + 1] == '-') {
			while (i < len && sql[i] != '\n')
				i++;
			continue;
		}
		if (c == '/' && sql[i + 1] == '*') {
			const char *e = strstr(sql + i + 2, "*/");
			i = e ? (size_t)(e - sql) + 2 : len;
			continue;
		}
		if (t.n == cap) {
			token *nv = lm_reflect_alloc(r, 2 * cap * sizeof *nv);
			memcpy(nv, t.v, cap * sizeof *nv);
			t.v = nv;
			cap *= 2;
		}
		token *tk = &t.v[t.n++];
		tk->start = i;
		if (c == '\'' || c == '"' || c == '`' || c == '[') {
			char q = c == '[' ? ']' : (char)c;
			size_t j = i + 1;
			while (j < len) {
				if (sql[j] == q) {
					if (q != ']' && sql[j + 1] == q) {
						j += 2;
						continue;
					}
					break;
				}
				j++;
			}
			tk->type = c == '\'' ? TK_STRING : TK_IDENT;
			tk->value = unquote(r, sql + i + 1, j - i - 1, q);
			i = j < len ? j + 1 : len;
		} else if (word_char(c)) {
			size_t j = i;
			while (j < len && word_char((unsigned char)sql[j]))
				j++;
			tk->type = TK_WORD;
			tk->value = lm_reflect_strndup(r, sql + i, j - i);
			i = j;
		} else {
			tk->type = TK_PUNCT;
			tk->value = lm_reflect_strndup(r, sql + i, 1);
			i++;
		}
		tk->end = i;
	}
	return t;
}

static int is_kw(const tokens *t, size_t i, const char *kw)
{
	return i < t->n && t->v[i].type == TK_WORD && ci_cmp(t->v[i].value, kw) == 0;
}

static int is_punct(const tokens *t, size_t i, char p)
{
	return i < t->n && t->v[i].type == TK_PUNCT && t->v[i].value[0] == p;
}

/* The index of the ")" closing the "(" at i, or t->n when unbalanced. */
static size_t close_paren(const tokens *t, size_t i)
{
	int depth = 0;
	for (size_t j = i; j < t->n; j++) {
		if (is_punct(t, j, '('))
			depth++;
		else if (is_punct(t, j, ')') && --depth == 0)
			return j;
	}
	return t->n;
}

/* The SQL text from token a to token b inclusive, trimmed. */
static const char *text_of(lm_reflect *r, const tokens *t, size_t a, size_t b)
{
	if (a > b || b >= t->n)
		return lm_reflect_strndup(r, "", 0);
	return lm_reflect_strndup(r, t->sql + t->v[a].start, t->v[b].end - t->v[a].start);
}

/* A list of names, owned by the reflection. */
typedef struct names {
	const char **v;
	size_t n;
} names;

/* The names of "( a, b COLLATE x DESC, ... )" starting at the "(" at i: the
 * first name of each item. Sets *end to the closing ")". */
static names name_list(lm_reflect *r, const tokens *t, size_t i, size_t *end)
{
	size_t close = close_paren(t, i);
	names out = {lm_reflect_alloc(r, (close - i + 1) * sizeof(char *)), 0};
	int expect = 1;
	for (size_t k = i + 1; k < close; k++) {
		if (is_punct(t, k, ','))
			expect = 1;
		else if (expect && t->v[k].type != TK_PUNCT) {
			out.v[out.n++] = t->v[k].value;
			expect = 0;
		}
	}
	*end = close;
	return out;
}

/* ---------------------------------------------------------------------
 * What the CREATE TABLE text says
 * ------------------------------------------------------------------ */

enum { C_UNIQUE, C_CHECK, C_FK };

typedef struct parsed_constraint {
	int kind;
	const char *name;
	names columns;
	const char *sqltext;   /* CHECK */
	const char *ref_table; /* FOREIGN KEY */
	names ref_columns;
	int deferrable;        /* -1 unsaid, 0 NOT DEFERRABLE, 1 DEFERRABLE */
	const char *initially; /* "DEFERRED", "IMMEDIATE" or NULL */
	int inline_;           /* written in a column definition */
	int used;              /* matched with a pragma row */
} parsed_constraint;

typedef struct parsed_column {
	const char *name;
	const char *collation;
	const char *computed; /* the expression of GENERATED ... AS (...) */
} parsed_column;

typedef struct parsed_table {
	const char *pk_name;
	int autoincrement, without_rowid;
	parsed_column *cols;
	size_t ncols;
	parsed_constraint *cons;
	size_t ncons;
} parsed_table;

static const parsed_column *parsed_col(const parsed_table *p, const char *name)
{
	for (size_t i = 0; i < p->ncols; i++)
		if (ci_cmp(p->cols[i].name, name) == 0)
			return &p->cols[i];
	return NULL;
}

/* Reads "REFERENCES t [(cols)] [ON DELETE|UPDATE ...] [MATCH x]
 * [[NOT] DEFERRABLE] [INITIALLY x]" from i (at REFERENCES) into c; returns
 * the index after it. */
static size_t parse_references(lm_reflect *r, const tokens *t, size_t i, size_t end,
                               parsed_constraint *c)
{
	i++;
	if (i <= end && t->v[i].type != TK_PUNCT)
		c->ref_table = t->v[i++].value;
	if (is_punct(t, i, '(') && i <= end) {
		size_t close;
		c->ref_columns = name_list(r, t, i, &close);
		i = close + 1;
	}
	while (i <= end) {
		if (is_kw(t, i, "ON")) {
			i += 2; /* DELETE|UPDATE; the action comes from the pragma */
			if (is_kw(t, i, "SET") || is_kw(t, i, "NO"))
				i++;
			i++;
		} else if (is_kw(t, i, "MATCH")) {
			i += 2;
		} else if (is_kw(t, i, "NOT") && is_kw(t, i + 1, "DEFERRABLE")) {
			c->deferrable = 0;
			i += 2;
		} else if (is_kw(t, i, "DEFERRABLE")) {
			c->deferrable = 1;
			i++;
		} else if (is_kw(t, i, "INITIALLY") && i + 1 <= end) {
			c->initially = is_kw(t, i + 1, "DEFERRED") ? "DEFERRED" : "IMMEDIATE";
			i += 2;
		} else {
			break;
		}
	}
	return i;
}

static parsed_constraint *new_constraint(parsed_table *p, int kind, const char *name)
{
	parsed_constraint *c = &p->cons[p->ncons++];
	memset(c, 0, sizeof *c);
	c->kind = kind;
	c->name = name;
	c->deferrable = -1;
	return c;
}

/* A table-level constraint: items[from..to] starts with CONSTRAINT,
 * PRIMARY, UNIQUE, CHECK or FOREIGN. */
static void parse_table_constraint(lm_reflect *r, const tokens *t, size_t k, size_t to,
                                   parsed_table *p)
{
	const char *name = NULL;
	if (is_kw(t, k, "CONSTRAINT") && k + 1 <= to) {
		name = t->v[k + 1].value;
		k += 2;
	}
	size_t close;
	if (is_kw(t, k, "PRIMARY")) {
		p->pk_name = name;
	} else if (is_kw(t, k, "UNIQUE") && is_punct(t, k + 1, '(')) {
		parsed_constraint *c = new_constraint(p, C_UNIQUE, name);
		c->columns = name_list(r, t, k + 1, &close);
	} else if (is_kw(t, k, "CHECK") && is_punct(t, k + 1, '(')) {
		parsed_constraint *c = new_constraint(p, C_CHECK, name);
		close = close_paren(t, k + 1);
		c->sqltext = text_of(r, t, k + 2, close - 1);
	} else if (is_kw(t, k, "FOREIGN") && is_punct(t, k + 2, '(')) {
		parsed_constraint *c = new_constraint(p, C_FK, name);
		c->columns = name_list(r, t, k + 2, &close);
		if (is_kw(t, close + 1, "REFERENCES"))
			parse_references(r, t, close + 1, to, c);
	}
}

/* A column definition: name, type words, then column constraints. */
static void parse_column_def(lm_reflect *r, const tokens *t, size_t k, size_t to, parsed_table *p)
{
	parsed_column *col = &p->cols[p->ncols++];
	memset(col, 0, sizeof *col);
	col->name = t->v[k].value;
	const char *pending = NULL; /* CONSTRAINT name before a constraint */
	size_t j = k + 1;
	while (j <= to) {
		if (is_kw(t, j, "CONSTRAINT") && j + 1 <= to) {
			pending = t->v[j + 1].value;
			j += 2;
		} else if (is_kw(t, j, "PRIMARY")) {
			p->pk_name = pending;
			pending = NULL;
			j++;
		} else if (is_kw(t, j, "AUTOINCREMENT")) {
			p->autoincrement = 1;
			j++;
		} else if (is_kw(t, j, "UNIQUE")) {
			parsed_constraint *c = new_constraint(p, C_UNIQUE, pending);
			c->inline_ = 1;
			c->columns.v = lm_reflect_alloc(r, sizeof(char *));
			c->columns.v[0] = col->name;
			c->columns.n = 1;
			pending = NULL;
			j++;
		} else if (is_kw(t, j, "CHECK") && is_punct(t, j + 1, '(')) {
			parsed_constraint *c = new_constraint(p, C_CHECK, pending);
			c->inline_ = 1;
			size_t close = close_paren(t, j + 1);
			c->sqltext = text_of(r, t, j + 2, close - 1);
			pending = NULL;
			j = close + 1;
		} else if (is_kw(t, j, "REFERENCES")) {
			parsed_constraint *c = new_constraint(p, C_FK, pending);
			c->inline_ = 1;
			c->columns.v = lm_reflect_alloc(r, sizeof(char *));
			c->columns.v[0] = col->name;
			c->columns.n = 1;
			pending = NULL;
			j = parse_references(r, t, j, to, c);
		} else if (is_kw(t, j, "COLLATE") && j + 1 <= to) {
			col->collation = t->v[j + 1].value;
			j += 2;
		} else if (is_kw(t, j, "AS") && is_punct(t, j + 1, '(')) {
			size_t close = close_paren(t, j + 1);
			col->computed = text_of(r, t, j + 2, close - 1);
			j = close + 1;
		} else if (is_kw(t, j, "DEFAULT")) {
			/* DEFAULT (expr) | [+-] literal: skipped, the pragma has it */
			j++;
			if (is_punct(t, j, '+') || is_punct(t, j, '-'))
				j++;
			if (is_punct(t, j, '('))
				j = close_paren(t, j);
			j++;
		} else if (is_punct(t, j, '(')) {
			j = close_paren(t, j) + 1;
		} else {
			j++;
		}
	}
}

/* Parses a CREATE TABLE statement; tolerant: what it cannot read it leaves out. */
static parsed_table parse_create_table(lm_reflect *r, const char *sql)
{
	parsed_table p;
	memset(&p, 0, sizeof p);
	if (!sql)
		return p;
	tokens t = tokenize(r, sql);
	size_t open = 0;
	while (open < t.n && !is_punct(&t, open, '(')) {
		if (is_kw(&t, open, "AS")) /* CREATE TABLE ... AS SELECT: no definitions */
			return p;
		open++;
	}
	if (open == t.n)
		return p;
	size_t close = close_paren(&t, open);
	for (size_t k = close + 1; k + 1 < t.n; k++)
		if (is_kw(&t, k, "WITHOUT") && is_kw(&t, k + 1, "ROWID"))
			p.without_rowid = 1;
	p.cols = lm_reflect_alloc(r, t.n * sizeof *p.cols);
	p.cons = lm_reflect_alloc(r, t.n * sizeof *p.cons);
	size_t start = open + 1;
	int depth = 0;
	for (size_t k = open + 1; k <= close && k < t.n; k++) {
		if (is_punct(&t, k, '('))
			depth++;
		else if (is_punct(&t, k, ')') && k < close)
			depth--;
		if (k == close || (depth == 0 && is_punct(&t, k, ','))) {
			if (start < k) {
				static const char *const cons_words[] = {
				        "CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"};
				int is_cons = 0;
				for (size_t w = 0; w < sizeof cons_words / sizeof *cons_words; w++)
					is_cons |= is_kw(&t, start, cons_words[w]);
				if (is_cons)
					parse_table_constraint(r, &t, start, k - 1, &p);
				else
					parse_column_def(r, &t, start, k - 1, &p);
			}
			start = k + 1;
		}
	}
	return p;
}

/* What a CREATE INDEX text says: each item's expression text (for the
 * items that are not plain columns) and the WHERE predicate. */
typedef struct parsed_index {
	const char **items;
	size_t nitems;
	const char *where;
} parsed_index;

static parsed_index parse_create_index(lm_reflect *r, const char *sql)
{
	parsed_index p = {NULL, 0, NULL};
	if (!sql)
		return p;
	tokens t = tokenize(r, sql);
	size_t k = 0;
	while (k < t.n && !is_kw(&t, k, "ON"))
		k++;
	while (k < t.n && !is_punct(&t, k, '('))
		k++;
	if (k == t.n)
		return p;
	size_t close = close_paren(&t, k);
	p.items = lm_reflect_alloc(r, t.n * sizeof *p.items);
	size_t start = k + 1;
	int depth = 0;
	for (size_t j = k + 1; j <= close && j < t.n; j++) {
		if (is_punct(&t, j, '('))
			depth++;
		else if (is_punct(&t, j, ')') && j < close)
			depth--;
		if (j == close || (depth == 0 && is_punct(&t, j, ','))) {
			size_t last = j - 1;
			/* an item's sort order and collation are not its expression */
			if (last > start && (is_kw(&t, last, "ASC") || is_kw(&t, last, "DESC")))
				last--;
			if (last > start + 1 && is_kw(&t, last - 1, "COLLATE"))
				last -= 2;
			p.items[p.nitems++] = text_of(r, &t, start, last);
			start = j + 1;
		}
	}
	if (close + 1 < t.n && is_kw(&t, close + 1, "WHERE"))
		p.where = text_of(r, &t, close + 2, t.n - 1);
	return p;
}

/* ---------------------------------------------------------------------
 * Types
 * ------------------------------------------------------------------ */

/* SQLAlchemy's sqlite ischema_names: the declared name, the class, and
 * the names of its positional numeric arguments. */
static const struct sqlite_type {
	const char *decl, *name, *arg1, *arg2;
} sqlite_types[] = {
        {"BIGINT", "BIGINT", NULL, NULL},
        {"BLOB", "BLOB", "length", NULL},
        {"BOOL", "BOOLEAN", NULL, NULL},
        {"BOOLEAN", "BOOLEAN", NULL, NULL},
        {"CHAR", "CHAR", "length", NULL},
        {"DATE", "DATE", NULL, NULL},
        {"DATE_CHAR", "DATE", NULL, NULL},
        {"DATETIME", "DATETIME", NULL, NULL},
        {"DATETIME_CHAR", "DATETIME", NULL, NULL},
        {"DOUBLE", "FLOAT", "precision", NULL},
        {"DECIMAL", "DECIMAL", "precision", "scale"},
        {"FLOAT", "FLOAT", "precision", NULL},
        {"INT", "INTEGER", NULL, NULL},
        {"INTEGER", "INTEGER", NULL, NULL},
        {"JSON", "JSON", NULL, NULL},
        {"NUMERIC", "NUMERIC", "precision", "scale"},
        {"REAL", "REAL", "precision", NULL},
        {"SMALLINT", "SMALLINT", NULL, NULL},
        {"TEXT", "TEXT", "length", NULL},
        {"TIME", "TIME", NULL, NULL},
        {"TIME_CHAR", "TIME", NULL, NULL},
        {"TIMESTAMP", "TIMESTAMP", NULL, NULL},
        {"VARCHAR", "VARCHAR", "length", NULL},
        {"NVARCHAR", "NVARCHAR", "length", NULL},
        {"NCHAR", "NCHAR", "length", NULL},
};

static const struct sqlite_type affinity_integer = {"", "INTEGER", NULL, NULL};
static const struct sqlite_type affinity_text = {"", "TEXT", "length", NULL};
static const struct sqlite_type affinity_null = {"", "NullType", NULL, NULL};
static const struct sqlite_type affinity_real = {"", "REAL", "precision", NULL};
static const struct sqlite_type affinity_numeric = {"", "NUMERIC", "precision", "scale"};

static int is_string_type(const char *name)
{
	return strcmp(name, "VARCHAR") == 0 || strcmp(name, "CHAR") == 0 ||
	       strcmp(name, "NVARCHAR") == 0 || strcmp(name, "NCHAR") == 0 ||
	       strcmp(name, "TEXT") == 0;
}

/* Pushes the model type of a declared SQLite type ("VARCHAR(50)",
 * "INTEGER GENERATED ALWAYS", "" ...), with collation for string types. */
static void push_sqlite_type(lua_State *L, const char *decl, const char *collation)
{
	char up[256];
	size_t n = 0;
	for (const char *s = decl; *s && n + 1 < sizeof up; s++)
		up[n++] = (char)toupper((unsigned char)*s);
	up[n] = '\0';
	/* generated columns used to report "INTEGER GENERATED ALWAYS" */
	for (const char *w = " GENERATED ALWAYS"; w;) {
		char *at = strstr(up, w);
		if (at)
			*at = '\0';
		w = strcmp(w, " GENERATED ALWAYS") == 0 ? " GENERATED" : NULL;
	}
	/* the leading words ([\w ]+) name the type; trailing blanks dropped */
	size_t name_len = 0;
	while (up[name_len] &&
	       (isalnum((unsigned char)up[name_len]) || up[name_len] == '_' || up[name_len] == ' '))
		name_len++;
	char args[256] = "";
	int has_args = up[name_len] == '(';
	if (has_args)
		memcpy(args, up + name_len, n - name_len + 1);
	while (name_len > 0 && up[name_len - 1] == ' ')
		name_len--;
	up[name_len] = '\0';

	const struct sqlite_type *ty = NULL;
	for (size_t i = 0; i < sizeof sqlite_types / sizeof *sqlite_types; i++)
		if (strcmp(sqlite_types[i].decl, up) == 0)
			ty = &sqlite_types[i];
	if (!ty) {
		if (strstr(up, "INT"))
			ty = &affinity_integer;
		else if (strstr(up, "CHAR") || strstr(up, "CLOB") || strstr(up, "TEXT"))
			ty = &affinity_text;
		else if (strstr(up, "BLOB") || name_len == 0)
			ty = &affinity_null;
		else if (strstr(up, "REAL") || strstr(up, "FLOA") || strstr(up, "DOUB"))
			ty = &affinity_real;
		else
			ty = &affinity_numeric;
	}
	lm_reflect_push_type(L, ty->name, "sa");
	if (has_args) {
		/* the numbers inside the parentheses are positional arguments;
		 * more than the class takes means none, as SQLAlchemy falls back */
		long long nums[2];
		size_t count = 0, total = 0;
		const char *closep = strchr(args, ')');
		for (const char *s = args; *s && (!closep || s < closep);) {
			if (isdigit((unsigned char)*s)) {
				char *e;
				long long v = strtoll(s, &e, 10);
				if (count < 2)
					nums[count++] = v;
				total++;
				s = e;
			} else {
				s++;
			}
		}
		size_t takes = (ty->arg1 != NULL) + (ty->arg2 != NULL);
		if (total <= takes) {
			if (count > 0)
				lm_reflect_set_int(L, ty->arg1, nums[0]);
			if (count > 1)
				lm_reflect_set_int(L, ty->arg2, nums[1]);
		}
	}
	if (collation && is_string_type(ty->name))
		lm_reflect_set_str(L, "collation", collation);
}

/* The declared types a batch rebuild models by name, with the names of
 * their numeric arguments; INT is modelled as INTEGER. */
static const struct declared_type {
	const char *decl, *arg1, *arg2;
} declared_types[] = {
        {"BIGINT", NULL, NULL},       {"BLOB", NULL, NULL},
        {"BOOLEAN", NULL, NULL},      {"CHAR", "length", NULL},
        {"CLOB", "length", NULL},     {"DATE", NULL, NULL},
        {"DATETIME", NULL, NULL},     {"DECIMAL", "precision", "scale"},
        {"FLOAT", "precision", NULL}, {"INT", NULL, NULL},
        {"INTEGER", NULL, NULL},      {"JSON", NULL, NULL},
        {"NCHAR", "length", NULL},    {"NUMERIC", "precision", "scale"},
        {"NVARCHAR", "length", NULL}, {"REAL", NULL, NULL},
        {"SMALLINT", NULL, NULL},     {"TEXT", "length", NULL},
        {"TIME", NULL, NULL},         {"TIMESTAMP", NULL, NULL},
        {"VARCHAR", "length", NULL},
};

/* Pushes the model type of a declared type for a batch rebuild: NAME or
 * NAME(args), blanks around, where NAME is one of declared_types and
 * every argument (the text between commas, blanks removed) is a number
 * as Lua's tonumber reads it and one the type takes, becomes that type
 * with its arguments. Anything else keeps its text: { name = NAME in
 * upper case, or "" when the text is not of that form, module =
 * "reflected", sql = the declaration }, so that the rebuilt table
 * declares the column exactly as before. A collation is kept on any
 * type. decl[0, len) is the declaration. */
static void push_declared_type(lua_State *L, const char *decl, size_t len, const char *collation)
{
	size_t i = 0, end = len;
	while (i < len && isspace((unsigned char)decl[i]))
		i++;
	while (end > i && isspace((unsigned char)decl[end - 1]))
		end--;
	size_t name_from = i;
	if (i < end && (isalpha((unsigned char)decl[i]) || decl[i] == '_'))
		while (i < end && (isalnum((unsigned char)decl[i]) || decl[i] == '_'))
			i++;
	size_t name_end = i;
	while (i < end && isspace((unsigned char)decl[i]))
		i++;
	/* the arguments run from the "(" after the name to the last ")" */
	int has_args = name_end > name_from && i < end && decl[i] == '(' && decl[end - 1] == ')';
	if (i < end && !has_args)
		name_end = name_from; /* not NAME or NAME(args): no name */
	luaL_Buffer b;
	luaL_buffinit(L, &b);
	for (size_t k = name_from; k < name_end; k++)
		luaL_addchar(&b, (char)toupper((unsigned char)decl[k]));
	luaL_pushresult(&b);
	const char *up = lua_tostring(L, -1);
	const struct declared_type *ty = NULL;
	for (size_t k = 0; *up && k < sizeof declared_types / sizeof *declared_types; k++)
		if (strcmp(declared_types[k].decl, up) == 0)
			ty = &declared_types[k];
	const char *params[2] = {ty ? ty->arg1 : NULL, ty ? ty->arg2 : NULL};
	/* each argument, the text between commas with blanks removed, is
	 * pushed as the number it reads as */
	int nargs = 0;
	for (size_t a = i + 1; ty && has_args && a < end - 1; a++) {
		if (decl[a] == ',')
			continue;
		lm_buf piece = {0};
		for (; a < end - 1 && decl[a] != ','; a++)
			if (!isspace((unsigned char)decl[a]))
				lm_buf_putc(&piece, decl[a]);
		if (nargs < 2 && params[nargs] && lua_stringtonumber(L, lm_buf_str(&piece)) != 0)
			nargs++;
		else
			ty = NULL;
		lm_buf_dispose(&piece);
	}
	if (!ty) {
		lua_pop(L, nargs);
		nargs = 0;
	}
	lua_createtable(L, 0, 6);
	lm_reflect_set_str(L, "kind", "type");
	if (ty) {
		lm_reflect_set_str(L, "name", strcmp(up, "INT") == 0 ? "INTEGER" : up);
		lm_reflect_set_str(L, "module", "sa");
		for (int k = 0; k < nargs; k++) {
			lua_pushvalue(L, -1 - nargs + k);
			lua_setfield(L, -2, params[k]);
		}
	} else {
		lm_reflect_set_str(L, "name", up);
		lm_reflect_set_str(L, "module", "reflected");
		lua_pushlstring(L, decl, len);
		lua_setfield(L, -2, "sql");
	}
	lm_reflect_set_str(L, "collation", collation);
	/* leave the type alone on the stack, above the name and arguments */
	lua_replace(L, -2 - nargs);
	lua_pop(L, nargs);
}

/* ---------------------------------------------------------------------
 * The reader
 * ------------------------------------------------------------------ */

/* One table being reflected: its position in the Lua array of tables. */
typedef struct sq_table {
	const char *name;
	const char *sql;
	int include;
	parsed_table parsed;
} sq_table;

/* The table of name in tables[0..n) (sorted by name as sqlite_master's
 * ORDER BY name sorts, BINARY = memcmp), or -1. */
static long find_table(const sq_table *tables, size_t n, const char *name)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(tables[mid].name, name);
		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* "main" -> "\"main\"" for use in SQL text, owned by the reflection. */
static const char *quote_ident(lm_reflect *r, const char *name)
{
	lm_buf b = {0};
	lm_buf_putc(&b, '"');
	for (const char *s = name; *s; s++) {
		if (*s == '"')
			lm_buf_putc(&b, '"');
		lm_buf_putc(&b, *s);
	}
	lm_buf_putc(&b, '"');
	char *q = lm_reflect_strndup(r, lm_buf_str(&b), b.len);
	lm_buf_dispose(&b);
	return q;
}

/* The SQL text tmpl with every "{S}" replaced by qschema and every
 * "{T}" by only (a condition on the tables m, or ""). */
static const char *sql_for(lm_reflect *r, const char *tmpl, const char *qschema, const char *only)
{
	lm_buf b = {0};
	for (const char *s = tmpl; *s;) {
		if (strncmp(s, "{S}", 3) == 0) {
			lm_buf_puts(&b, qschema);
			s += 3;
		} else if (strncmp(s, "{T}", 3) == 0) {
			lm_buf_puts(&b, only);
			s += 3;
		} else {
			lm_buf_putc(&b, *s++);
		}
	}
	const char *owned = lm_reflect_strndup(r, lm_buf_str(&b), b.len);
	lm_buf_dispose(&b);
	return owned;
}

/* The length of a column's declared type without the " GENERATED ALWAYS"
 * (or " GENERATED") that SQLite before 3.31.1 appended to the type of a
 * generated column. */
static size_t declared_len(const char *decl, int generated)
{
	size_t n = strlen(decl);
	static const char *const suffixes[] = {" GENERATED ALWAYS", " GENERATED"};
	for (size_t k = 0; generated && k < 2; k++) {
		size_t m = strlen(suffixes[k]);
		if (n >= m && ci_cmp(decl + n - m, suffixes[k]) == 0)
			return n - m;
	}
	return n;
}

/* Pushes the columns of one table (rows [from, to) of cols) into the
 * table value at tbl_idx. Columns: table, cid, name, type, notnull,
 * dflt_value, pk, hidden. */
static void add_columns(lm_reflect *r, int tbl_idx, const sq_table *t, const char *schema,
                        const lm_result *cols, size_t from, size_t to)
{
	lua_State *L = r->L;
	/* primary key columns, in their pk position order */
	size_t npk = 0;
	lua_getfield(L, tbl_idx, "primary_key");
	lua_getfield(L, -1, "columns");
	for (long long pos = 1;; pos++) {
		int found = 0;
		for (size_t i = from; i < to; i++)
			if (lm_reflect_int(cols, i, 6) == pos) {
				lua_pushstring(L, lm_reflect_text(cols, i, 2));
				lua_rawseti(L, -2, (lua_Integer)++npk);
				found = 1;
			}
		if (!found)
			break;
	}
	lua_pop(L, 1);
	lm_reflect_set_str(L, "name", t->parsed.pk_name);
	lua_pop(L, 1);

	for (size_t i = from; i < to; i++) {
		const char *name = lm_reflect_text(cols, i, 2);
		long long hidden = lm_reflect_int(cols, i, 7);
		if (hidden == 1) /* a virtual table's hidden column */
			continue;
		if (!lm_reflect_include(r, name, "column", schema, t->name))
			continue;
		const parsed_column *pc = parsed_col(&t->parsed, name);
		lua_createtable(L, 0, 10);
		lm_reflect_set_str(L, "kind", "column");
		lm_reflect_set_str(L, "name", name);
		const char *decl = lm_reflect_text(cols, i, 3);
		if (!decl)
			decl = "";
		if (r->batch)
			push_declared_type(L, decl, declared_len(decl, hidden == 2 || hidden == 3),
			                   pc ? pc->collation : NULL);
		else
			push_sqlite_type(L, decl, pc ? pc->collation : NULL);
		lua_setfield(L, -2, "type");
		lm_reflect_set_bool(L, "nullable", !lm_reflect_int(cols, i, 4));
		lm_reflect_set_bool(L, "primary_key", lm_reflect_int(cols, i, 6) > 0);
		const char *dflt = lm_reflect_text(cols, i, 5);
		if (dflt) {
			lm_reflect_push_text(L, dflt);
			lua_setfield(L, -2, "server_default");
		}
		lm_reflect_set_str(L, "autoincrement", "auto");
		lua_newtable(L);
		lua_setfield(L, -2, "foreign_keys");
		if (hidden == 2 || hidden == 3) {
			lua_createtable(L, 0, 3);
			lm_reflect_set_str(L, "kind", "computed");
			lm_reflect_set_str(L, "sqltext", pc && pc->computed ? pc->computed : "");
			lm_reflect_set_bool(L, "persisted", hidden == 3);
			lua_setfield(L, -2, "computed");
		}
		lm_reflect_add_column(L, tbl_idx);
	}
}

static void push_names(lua_State *L, const names *n)
{
	lua_createtable(L, (int)n->n, 0);
	for (size_t i = 0; i < n->n; i++) {
		lua_pushstring(L, n->v[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
}

static int names_equal_ci(const names *a, const char *const *b, size_t nb)
{
	if (a->n != nb)
		return 0;
	for (size_t i = 0; i < nb; i++)
		if (!b[i] || ci_cmp(a->v[i], b[i]) != 0)
			return 0;
	return 1;
}

/* The unique and check constraints of the CREATE TABLE text, in the
 * order written. */
static void add_parsed_constraints(lm_reflect *r, int tbl_idx, const sq_table *t,
                                   const char *schema)
{
	lua_State *L = r->L;
	for (size_t i = 0; i < t->parsed.ncons; i++) {
		const parsed_constraint *c = &t->parsed.cons[i];
		if (c->kind == C_UNIQUE) {
			if (!lm_reflect_include(r, c->name, "unique_constraint", schema, t->name))
				continue;
			lua_createtable(L, 0, 5);
			lm_reflect_set_str(L, "kind", "unique");
			lm_reflect_set_str(L, "name", c->name);
			push_names(L, &c->columns);
			lua_setfield(L, -2, "columns");
			if (c->deferrable >= 0)
				lm_reflect_set_bool(L, "deferrable", c->deferrable);
			lm_reflect_set_str(L, "initially", c->initially);
		} else if (c->kind == C_CHECK) {
			lua_createtable(L, 0, 3);
			lm_reflect_set_str(L, "kind", "check");
			lm_reflect_set_str(L, "name", c->name);
			lm_reflect_set_str(L, "sqltext", c->sqltext);
		} else {
			continue;
		}
		if (r->batch && c->inline_)
			lm_reflect_set_bool(L, "inline", 1);
		lm_reflect_append(L, tbl_idx, "constraints");
	}
}

/* The primary key columns of table `name` (for a REFERENCES without
 * columns), from the columns result. */
static void push_pk_of(lua_State *L, const sq_table *tables, size_t ntables, const lm_result *cols,
                       const size_t *col_from, const char *name)
{
	lua_newtable(L);
	long ti = find_table(tables, ntables, name);
	if (ti < 0) {
		/* the referred table as written may differ in case */
		for (size_t i = 0; i < ntables; i++)
			if (ci_cmp(tables[i].name, name) == 0)
				ti = (long)i;
	}
	if (ti < 0)
		return;
	size_t from = col_from[ti], to = col_from[ti + 1];
	lua_Integer n = 0;
	for (long long pos = 1;; pos++) {
		int found = 0;
		for (size_t i = from; i < to; i++)
			if (lm_reflect_int(cols, i, 6) == pos) {
				lua_pushstring(L, lm_reflect_text(cols, i, 2));
				lua_rawseti(L, -2, ++n);
				found = 1;
			}
		if (!found)
			break;
	}
}

static const char *fk_action(const char *a)
{
	if (!a || ci_cmp(a, "NO ACTION") == 0 || ci_cmp(a, "NONE") == 0)
		return NULL;
	return a;
}

/* The foreign keys of one table: rows [from, to) of fks (table, id, seq,
 * table, from, to, on_update, on_delete, match), grouped by id; the
 * pragma lists the last-declared first. Names and deferrability come from
 * the parsed text, matched on (columns, referred table, referred
 * columns). */
static void add_foreign_keys(lm_reflect *r, int tbl_idx, sq_table *t, const char *schema,
                             const lm_result *fks, size_t from, size_t to, const sq_table *tables,
                             size_t ntables, const lm_result *cols, const size_t *col_from)
{
	lua_State *L = r->L;
	size_t gto = to;
	while (gto > from) {
		/* the group [gfrom, gto): rows are ordered id DESC, seq */
		long long id = lm_reflect_int(fks, gto - 1, 1);
		size_t gfrom = gto;
		while (gfrom > from && lm_reflect_int(fks, gfrom - 1, 1) == id)
			gfrom--;
		size_t n = gto - gfrom;
		const char **lcols = lm_reflect_alloc(r, n * sizeof *lcols);
		const char **rcols = lm_reflect_alloc(r, n * sizeof *rcols);
		int has_rcols = 1;
		for (size_t i = 0; i < n; i++) {
			lcols[i] = lm_reflect_text(fks, gfrom + i, 4);
			rcols[i] = lm_reflect_text(fks, gfrom + i, 5);
			if (!rcols[i])
				has_rcols = 0;
		}
		const char *rtable = lm_reflect_text(fks, gfrom, 3);
		parsed_constraint *match = NULL;
		for (size_t i = 0; i < t->parsed.ncons && !match; i++) {
			parsed_constraint *c = &t->parsed.cons[i];
			if (c->kind != C_FK || c->used || !c->ref_table ||
			    ci_cmp(c->ref_table, rtable) != 0 ||
			    !names_equal_ci(&c->columns, lcols, n))
				continue;
			if (has_rcols ? names_equal_ci(&c->ref_columns, rcols, n)
			              : c->ref_columns.n == 0)
				match = c;
		}
		if (match)
			match->used = 1;
		const char *name = match ? match->name : NULL;
		gto = gfrom;
		if (!lm_reflect_include(r, name, "foreign_key_constraint", schema, t->name))
			continue;
		lua_createtable(L, 0, 12);
		lm_reflect_set_str(L, "kind", "foreign_key");
		lm_reflect_set_str(L, "name", name);
		lua_createtable(L, (int)n, 0);
		for (size_t i = 0; i < n; i++) {
			lua_pushstring(L, lcols[i]);
			lua_rawseti(L, -2, (lua_Integer)i + 1);
		}
		lua_setfield(L, -2, "columns");
		lm_reflect_set_str(L, "referred_schema", schema);
		lm_reflect_set_str(L, "referred_table", rtable);
		if (has_rcols) {
			lua_createtable(L, (int)n, 0);
			for (size_t i = 0; i < n; i++) {
				lua_pushstring(L, rcols[i]);
				lua_rawseti(L, -2, (lua_Integer)i + 1);
			}
		} else {
			push_pk_of(L, tables, ntables, cols, col_from, rtable);
		}
		lua_setfield(L, -2, "referred_columns");
		lm_reflect_set_str(L, "onupdate", fk_action(lm_reflect_text(fks, gfrom, 6)));
		lm_reflect_set_str(L, "ondelete", fk_action(lm_reflect_text(fks, gfrom, 7)));
		lm_reflect_set_str(L, "match", fk_action(lm_reflect_text(fks, gfrom, 8)));
		if (match && match->deferrable >= 0)
			lm_reflect_set_bool(L, "deferrable", match->deferrable);
		if (match)
			lm_reflect_set_str(L, "initially", match->initially);
		if (r->batch && match && match->inline_)
			lm_reflect_set_bool(L, "inline", 1);
		lm_reflect_append(L, tbl_idx, "constraints");
	}
}

/* The indexes of one table: rows [from, to) of ixs (table, index name,
 * unique, partial, seqno, cid, column name, desc, key, sql), one row per
 * index column, ordered by index name and seqno. */
static void add_indexes(lm_reflect *r, int tbl_idx, const sq_table *t, const char *schema,
                        const lm_result *ixs, size_t from, size_t to)
{
	lua_State *L = r->L;
	size_t i = from;
	while (i < to) {
		const char *iname = lm_reflect_text(ixs, i, 1);
		size_t end = i;
		while (end < to && strcmp(lm_reflect_text(ixs, end, 1), iname) == 0)
			end++;
		size_t first = i;
		i = end;
		if (!lm_reflect_include(r, iname, "index", schema, t->name))
			continue;
		parsed_index pi = parse_create_index(r, lm_reflect_text(ixs, first, 9));
		lua_createtable(L, 0, 8);
		lm_reflect_set_str(L, "kind", "index");
		lm_reflect_set_str(L, "name", iname);
		lm_reflect_set_str(L, "table", t->name);
		lm_reflect_set_str(L, "schema", schema);
		lm_reflect_set_bool(L, "unique", (int)lm_reflect_int(ixs, first, 2));
		lua_newtable(L); /* columns */
		int sorted = 0;
		lua_Integer n = 0;
		for (size_t k = first; k < end; k++) {
			if (!lm_reflect_int(ixs, k, 8)) /* the rowid after the key */
				continue;
			long long seq = lm_reflect_int(ixs, k, 4);
			long long cid = lm_reflect_int(ixs, k, 5);
			if (cid >= 0) {
				lua_pushstring(L, lm_reflect_text(ixs, k, 6));
			} else {
				const char *expr = seq >= 0 && (size_t)seq < pi.nitems
				                           ? pi.items[seq]
				                           : "rowid";
				lm_reflect_push_text(L, expr);
			}
			lua_rawseti(L, -2, ++n);
			sorted |= lm_reflect_int(ixs, k, 7) != 0;
		}
		lua_setfield(L, -2, "columns");
		if (sorted) {
			/* column_sorting = { [column or expression text] = { "desc" } } */
			lua_newtable(L);
			for (size_t k = first; k < end; k++) {
				if (!lm_reflect_int(ixs, k, 8) || !lm_reflect_int(ixs, k, 7))
					continue;
				long long seq = lm_reflect_int(ixs, k, 4);
				const char *key = lm_reflect_int(ixs, k, 5) >= 0
				                          ? lm_reflect_text(ixs, k, 6)
				                          : (seq >= 0 && (size_t)seq < pi.nitems
				                                     ? pi.items[seq]
				                                     : "rowid");
				lua_createtable(L, 1, 0);
				lua_pushliteral(L, "desc");
				lua_rawseti(L, -2, 1);
				lua_setfield(L, -2, key);
			}
			lua_setfield(L, -2, "column_sorting");
		}
		if (r->batch)
			lm_reflect_set_str(L, "sql", lm_reflect_text(ixs, first, 9));
		if (lm_reflect_int(ixs, first, 3) && pi.where) {
			lua_createtable(L, 0, 1);
			lm_reflect_push_text(L, pi.where);
			lua_setfield(L, -2, "sqlite_where");
			lua_setfield(L, -2, "dialect_kw");
		}
		lm_reflect_append(L, tbl_idx, "indexes");
	}
}

/* Whether text contains word, ignoring ASCII case. */
static int contains_ci(const char *text, const char *word)
{
	size_t n = strlen(word);
	for (const char *s = text; *s; s++) {
		size_t k = 0;
		while (k < n && s[k] &&
		       tolower((unsigned char)s[k]) == tolower((unsigned char)word[k]))
			k++;
		if (k == n)
			return 1;
	}
	return n == 0;
}

/* Batch mode: the triggers on table `name` and the views and triggers
 * that mention it, from objs (type, name, tbl_name, sql of the schema's
 * triggers and views, in creation order). A mention is the name appearing
 * anywhere in the SQL text, ignoring case: enough to know that SQLite
 * would check the object while the table is missing. */
static void add_triggers_and_mentions(lua_State *L, int tbl_idx, const char *name,
                                      const lm_result *objs)
{
	lua_newtable(L);
	lua_setfield(L, tbl_idx, "triggers");
	lua_newtable(L);
	lua_setfield(L, tbl_idx, "mentioned_in");
	for (size_t i = 0; i < objs->nrows; i++) {
		const char *type = lm_reflect_text(objs, i, 0);
		const char *sql = lm_reflect_text(objs, i, 3);
		const char *on = lm_reflect_text(objs, i, 2);
		int own = strcmp(type, "trigger") == 0 && on && strcmp(on, name) == 0;
		if (!own && !(sql && contains_ci(sql, name)))
			continue;
		lua_createtable(L, 0, 2);
		lm_reflect_set_str(L, "name", lm_reflect_text(objs, i, 1));
		if (own)
			lm_reflect_set_str(L, "sql", sql);
		else
			lm_reflect_set_str(L, "type", type);
		lm_reflect_append(L, tbl_idx, own ? "triggers" : "mentioned_in");
	}
}

/* Advances *row past the rows of result res (first column = table name)
 * that belong to tables sorting before `name`, and returns the end of the
 * rows of `name`. Both lists are sorted by name with BINARY collation. */
static size_t rows_of(const lm_result *res, size_t *row, const char *name)
{
	while (*row < res->nrows && strcmp(lm_reflect_text(res, *row, 0), name) < 0)
		(*row)++;
	size_t end = *row;
	while (end < res->nrows && strcmp(lm_reflect_text(res, end, 0), name) == 0)
		end++;
	return end;
}

/* The tables reflected: not SQLite's own (sqlite_sequence, sqlite_stat1;
 * no other table may have the prefix, in any case). */
#define USER_TABLE "m.type = 'table' AND substr(m.name, 1, 7) <> 'sqlite_' COLLATE NOCASE"

/* Reflects one schema (qschema: its quoted name; schema: NULL for main)
 * into the metadata at meta_idx. */
static int reflect_schema(lm_reflect *r, int meta_idx, const char *dbname, const char *schema)
{
	lua_State *L = r->L;
	const char *q = quote_ident(r, dbname);
	/* ?1 is the schema name, as the table-valued pragmas take it. With
	 * tables asked for, ?2... are their names, and the queries read only
	 * them and the tables their foreign keys refer to (for REFERENCES t
	 * without columns): reflecting one table of thousands costs what
	 * reflecting one table alone does. */
	size_t nargs = 1 + r->tables.n;
	lm_value *args = lm_reflect_alloc(r, nargs * sizeof *args);
	args[0] = (lm_value){.type = LM_V_TEXT, .s = dbname, .len = strlen(dbname)};
	lm_buf names_ = {0};
	for (size_t i = 0; i < r->tables.n; i++) {
		const char *t = r->tables.v[i];
		args[1 + i] = (lm_value){.type = LM_V_TEXT, .s = t, .len = strlen(t)};
		lm_buf_printf(&names_, "%s?%zu", i ? ", " : "", i + 2);
	}
	const char *only = "";
	if (r->tables.n > 0) {
		lm_buf f = {0};
		lm_buf_printf(&f,
		              " AND (m.name IN (%s) OR m.name COLLATE NOCASE IN (SELECT "
		              "f.\"table\" FROM {S}.sqlite_master m2 "
		              "JOIN pragma_foreign_key_list(m2.name, ?1) f "
		              "WHERE m2.type = 'table' AND m2.name IN (%s)))",
		              lm_buf_str(&names_), lm_buf_str(&names_));
		only = sql_for(r, lm_buf_str(&f), q, "");
		lm_buf_dispose(&f);
	}
	lm_buf_dispose(&names_);
	/* A filter over the whole schema (a listing of its tables) decides by
	 * name: the names first, so that one that keeps none never holds
	 * every table's CREATE statement (2.6 MiB and a sort of 1 MiB for
	 * 10,000 tables); each table is put to the filter once. */
	lm_result *named = NULL;
	char *keep = NULL;
	if (!*only && r->include_fn) {
		named = lm_reflect_query(
		        r,
		        sql_for(r,
		                "SELECT m.name FROM {S}.sqlite_master m WHERE " USER_TABLE
		                " ORDER BY m.name",
		                q, ""),
		        NULL, 0);
		if (!named)
			return -1;
		keep = lm_reflect_alloc(r, named->nrows + 1);
		int any = 0;
		for (size_t i = 0; i < named->nrows; i++) {
			keep[i] = (char)lm_reflect_include(r, lm_reflect_text(named, i, 0), "table",
			                                   schema, NULL);
			any |= keep[i];
		}
		if (!any)
			return 0;
	}
	lm_result *master = lm_reflect_query(
	        r,
	        sql_for(r,
	                "SELECT m.name, m.sql FROM {S}.sqlite_master m WHERE " USER_TABLE
	                "{T} ORDER BY m.name",
	                q, only),
	        *only ? args : NULL, *only ? nargs : 0);
	if (!master)
		return -1;
	size_t n = master->nrows;
	sq_table *tables = lm_reflect_alloc(r, (n + 1) * sizeof *tables);
	int any_included = 0;
	for (size_t i = 0, k = 0; i < n; i++) {
		tables[i].name = lm_reflect_text(master, i, 0);
		tables[i].sql = lm_reflect_text(master, i, 1);
		size_t end = named ? rows_of(named, &k, tables[i].name) : k;
		/* (a table made between the two queries is put to the filter now) */
		tables[i].include =
		        end > k ? keep[k]
		                : lm_reflect_include(r, tables[i].name, "table", schema, NULL);
		any_included |= tables[i].include;
	}
	/* include_name kept none (a caller listing the tables through it): the
	 * queries below would read every table's columns and indexes for nothing */
	if (!any_included)
		return 0;

	size_t nqargs = *only ? nargs : 1;
	lm_result *cols = lm_reflect_query(
	        r,
	        sql_for(r,
	                "SELECT m.name, p.cid, p.name, p.type, p.\"notnull\", p.dflt_value, p.pk, "
	                "p.hidden FROM {S}.sqlite_master m JOIN pragma_table_xinfo(m.name, ?1) p "
	                "WHERE " USER_TABLE "{T} ORDER BY m.name, p.cid",
	                q, only),
	        args, nqargs);
	if (!cols)
		return -1;
	/* A foreign key is declared with the keyword REFERENCES, which cannot
	 * be spelt otherwise: when no table's SQL has the word, in any case,
	 * there is none to ask the pragma for; else the pragma (a statement
	 * prepared per table) runs only for the tables that have it (GLOB:
	 * PRAGMA case_sensitive_like changes LIKE). */
	static const lm_result no_rows;
	const lm_result *fks = &no_rows;
	int any_references = 0;
	for (size_t i = 0; i < n && !any_references; i++)
		any_references = tables[i].sql && contains_ci(tables[i].sql, "references");
	if (any_references) {
		lm_result *res = lm_reflect_query(
		        r,
		        sql_for(r,
		                "SELECT m.name, f.id, f.seq, f.\"table\", f.\"from\", f.\"to\", "
		                "f.on_update, f.on_delete, f.\"match\" FROM {S}.sqlite_master m "
		                "JOIN pragma_foreign_key_list(m.name, ?1) f WHERE " USER_TABLE
		                "{T} AND m.sql GLOB '*[Rr][Ee][Ff][Ee][Rr][Ee][Nn][Cc][Ee][Ss]*' "
		                "ORDER BY m.name, f.id DESC, f.seq",
		                q, only),
		        args, nqargs);
		if (!res)
			return -1;
		fks = res;
	}
	/* a batch rebuild recreates the indexes in the order they were created */
	lm_buf ixs_sql = {0};
	lm_buf_puts(&ixs_sql,
	            "SELECT m.name, il.name, il.\"unique\", il.partial, x.seqno, x.cid, "
	            "x.name, x.\"desc\", x.\"key\", im.sql FROM {S}.sqlite_master m "
	            "JOIN pragma_index_list(m.name, ?1) il "
	            "JOIN pragma_index_xinfo(il.name, ?1) x "
	            "LEFT JOIN {S}.sqlite_master im ON im.type = 'index' AND im.name = il.name "
	            "WHERE " USER_TABLE "{T} AND il.origin = 'c' ORDER BY m.name, ");
	lm_buf_puts(&ixs_sql, r->batch ? "im.rowid, x.seqno" : "il.name, x.seqno");
	lm_result *ixs =
	        lm_reflect_query(r, sql_for(r, lm_buf_str(&ixs_sql), q, only), args, nqargs);
	lm_buf_dispose(&ixs_sql);
	if (!ixs)
		return -1;
	lm_result *objs = NULL;
	if (r->batch) {
		objs = lm_reflect_query(
		        r,
		        sql_for(r,
		                "SELECT type, name, tbl_name, sql FROM {S}.sqlite_master "
		                "WHERE type IN ('trigger', 'view') ORDER BY rowid",
		                q, ""),
		        NULL, 0);
		if (!objs)
			return -1;
	}

	/* where each table's columns start, for REFERENCES without columns */
	size_t *col_from = lm_reflect_alloc(r, (n + 1) * sizeof *col_from);
	size_t crow = 0;
	for (size_t i = 0; i < n; i++) {
		size_t end = rows_of(cols, &crow, tables[i].name);
		col_from[i] = crow;
		crow = end;
	}
	col_from[n] = cols->nrows;

	size_t crow2 = 0, frow = 0, irow = 0;
	for (size_t i = 0; i < n; i++) {
		sq_table *t = &tables[i];
		size_t cend = rows_of(cols, &crow2, t->name);
		size_t fend = rows_of(fks, &frow, t->name);
		size_t iend = rows_of(ixs, &irow, t->name);
		if (t->include) {
			t->parsed = parse_create_table(r, t->sql);
			lm_reflect_push_table(L, t->name, schema);
			int tbl = lua_gettop(L);
			add_columns(r, tbl, t, schema, cols, crow2, cend);
			add_parsed_constraints(r, tbl, t, schema);
			add_foreign_keys(r, tbl, t, schema, fks, frow, fend, tables, n, cols,
			                 col_from);
			add_indexes(r, tbl, t, schema, ixs, irow, iend);
			if (t->parsed.autoincrement || t->parsed.without_rowid) {
				lua_newtable(L);
				if (t->parsed.autoincrement)
					lm_reflect_set_bool(L, "sqlite_autoincrement", 1);
				if (t->parsed.without_rowid)
					lm_reflect_set_bool(L, "sqlite_with_rowid", 0);
				lua_setfield(L, -2, "dialect_kw");
			}
			if (objs)
				add_triggers_and_mentions(L, tbl, t->name, objs);
			lm_reflect_add_table(L, meta_idx);
		}
		crow2 = cend;
		frow = fend;
		irow = iend;
	}
	return 0;
}

int lm_reflect_sqlite(lm_reflect *r)
{
	lua_State *L = r->L;
	lm_result *dbs = lm_reflect_query(r, "PRAGMA database_list", NULL, 0);
	if (!dbs)
		return -1;
	lm_reflect_push_metadata(L, "sqlite", "main");
	int meta = lua_gettop(L);
	/* schema_names: every attached database but temp, as SQLAlchemy's
	 * get_schema_names */
	lua_newtable(L);
	lua_Integer ns = 0;
	for (size_t i = 0; i < dbs->nrows; i++) {
		const char *db = lm_reflect_text(dbs, i, 1);
		if (db && strcmp(db, "temp") != 0) {
			lua_pushstring(L, db);
			lua_rawseti(L, -2, ++ns);
		}
	}
	lua_setfield(L, meta, "schema_names");

	lm_strv todo = {0};
	if (r->all_schemas) {
		for (size_t i = 0; i < dbs->nrows; i++) {
			const char *db = lm_reflect_text(dbs, i, 1);
			if (db && strcmp(db, "temp") != 0)
				lm_strv_push(&todo, db);
		}
	} else if (r->schemas.n == 0) {
		lm_strv_push(&todo, "main");
	} else {
		for (size_t i = 0; i < r->schemas.n; i++)
			lm_strv_push(&todo, r->schemas.v[i][0] ? r->schemas.v[i] : "main");
	}
	/* todo is freed with the reflection if the filter raises */
	char **names_ = lm_reflect_alloc(r, (todo.n + 1) * sizeof *names_);
	size_t nnames = todo.n;
	for (size_t i = 0; i < todo.n; i++)
		names_[i] = lm_reflect_strndup(r, todo.v[i], strlen(todo.v[i]));
	lm_strv_dispose(&todo);

	for (size_t i = 0; i < nnames; i++) {
		int found = 0;
		for (size_t j = 0; j < dbs->nrows; j++) {
			const char *db = lm_reflect_text(dbs, j, 1);
			found |= db && strcmp(db, names_[i]) == 0;
		}
		if (!found) {
			lua_settop(L, meta - 1);
			lm_error_set("no schema (attached database) named '%s'", names_[i]);
			return -1;
		}
		const char *schema = strcmp(names_[i], "main") == 0 ? NULL : names_[i];
		if (!lm_reflect_include(r, schema, "schema", NULL, NULL))
			continue;
		if (reflect_schema(r, meta, names_[i], schema) != 0) {
			lua_settop(L, meta - 1);
			return -1;
		}
	}
	return 0;
}
