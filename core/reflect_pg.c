/*
 * reflect_pg.c — PostgreSQL's schema into the schema model, from pg_catalog.
 *
 * Nine round trips whatever the number of tables (Alembic on SQLAlchemy
 * 1.4 runs several queries per table, which took minutes on schemas of
 * thousands of tables: alembic #580, #1771):
 *   1. the default schema (current_schema()), the server version and the
 *      schema names;
 *   2. the tables (relkind r and p) of the schemas asked for; the
 *      include_name filter then picks the tables, and the queries below
 *      take the chosen tables' oids as one array parameter;
 *   3. the labels of the enum types, 4. the non-default operator classes;
 *   5. the comments of those tables and their columns, 6. the sequences
 *      their columns own (serial and identity, with its options);
 *   7. every column (type, NOT NULL, default, generated, collation);
 *   8. their primary key, unique, foreign key and check constraints;
 *   9. their indexes (unique, columns and expressions, sort order,
 *      operator classes, method, INCLUDE, WITH, partial predicate), with
 *      the constraint an index backs: a primary key's or a unique
 *      constraint's index is not listed among the indexes, an exclusion
 *      constraint's index becomes the constraint.
 * Each query reads one catalog through its index, or joins small ones:
 * the planner's estimates on a schema just created (not yet analyzed) can
 * be far off, and a bad join order there costs seconds. Names of columns
 * and operator classes are resolved here, not by per-row subqueries.
 *
 * Types follow SQLAlchemy 1.4's PostgreSQL reflection (_get_column_info):
 * the text of format_type() names the class, with the same arguments.
 * Defaults are pg_get_expr() text, as the inspector reports them.
 */
#include "reflect.h"

#include <ctype.h>
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

/* A text[] value in PostgreSQL's output syntax, {a,"b c",NULL}, split into
 * strings owned by the reflection (NULL for an unquoted NULL). Returns the
 * number of elements. */
static size_t pg_array(lm_reflect *r, const char *s, const char ***out)
{
	*out = NULL;
	if (!s || *s != '{')
		return 0;
	size_t cap = 1;
	for (const char *p = s; *p; p++)
		cap += *p == ',';
	const char **v = lm_reflect_alloc(r, cap * sizeof *v);
	size_t n = 0;
	const char *p = s + 1;
	if (*p == '}') {
		*out = v;
		return 0;
	}
	char *buf = lm_reflect_alloc(r, strlen(s) + 1);
	while (*p && n < cap) {
		char *start = buf;
		int quoted = *p == '"';
		if (quoted) {
			p++;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1])
					p++;
				*buf++ = *p++;
			}
			if (*p == '"')
				p++;
		} else {
			while (*p && *p != ',' && *p != '}')
				*buf++ = *p++;
		}
		*buf++ = '\0';
		v[n++] = !quoted && strcmp(start, "NULL") == 0 ? NULL : start;
		if (*p == ',')
			p++;
		else
			break;
	}
	*out = v;
	return n;
}

/* A PostgreSQL array literal of oids, "{1,2,3}", owned by the reflection. */
static const char *oid_array(lm_reflect *r, const long long *oids, size_t n)
{
	lm_buf b = {0};
	lm_buf_putc(&b, '{');
	for (size_t i = 0; i < n; i++)
		lm_buf_printf(&b, "%s%lld", i ? "," : "", oids[i]);
	lm_buf_putc(&b, '}');
	const char *s = lm_reflect_strndup(r, lm_buf_str(&b), b.len);
	lm_buf_dispose(&b);
	return s;
}

/* A text[] literal of names, each quoted. */
static const char *text_array(lm_reflect *r, char *const *names, size_t n)
{
	lm_buf b = {0};
	lm_buf_putc(&b, '{');
	for (size_t i = 0; i < n; i++) {
		lm_buf_puts(&b, i ? ",\"" : "\"");
		for (const char *s = names[i]; *s; s++) {
			if (*s == '"' || *s == '\\')
				lm_buf_putc(&b, '\\');
			lm_buf_putc(&b, *s);
		}
		lm_buf_putc(&b, '"');
	}
	lm_buf_putc(&b, '}');
	const char *s = lm_reflect_strndup(r, lm_buf_str(&b), b.len);
	lm_buf_dispose(&b);
	return s;
}

/* ---------------------------------------------------------------------
 * Types
 * ------------------------------------------------------------------ */

/* format_type() names: the class SQLAlchemy's ischema_names gives, and
 * its module ("sa": sqlalchemy.types, rendered sa.X; "postgresql": the
 * dialect's own class, rendered postgresql.X). */
static const struct pg_type {
	const char *attype, *name, *module;
} pg_types[] = {
        {"integer", "INTEGER", "sa"},
        {"bigint", "BIGINT", "sa"},
        {"smallint", "SMALLINT", "sa"},
        {"character varying", "VARCHAR", "sa"},
        {"character", "CHAR", "sa"},
        {"\"char\"", "String", "sa"},
        {"name", "String", "sa"},
        {"text", "TEXT", "sa"},
        {"numeric", "NUMERIC", "sa"},
        {"real", "REAL", "sa"},
        {"boolean", "BOOLEAN", "sa"},
        {"date", "DATE", "sa"},
        {"double precision", "DOUBLE_PRECISION", "postgresql"},
        {"timestamp with time zone", "TIMESTAMP", "postgresql"},
        {"timestamp without time zone", "TIMESTAMP", "postgresql"},
        {"time with time zone", "TIME", "postgresql"},
        {"time without time zone", "TIME", "postgresql"},
        {"interval", "INTERVAL", "postgresql"},
        {"bytea", "BYTEA", "postgresql"},
        {"bit", "BIT", "postgresql"},
        {"bit varying", "BIT", "postgresql"},
        {"uuid", "UUID", "postgresql"},
        {"inet", "INET", "postgresql"},
        {"cidr", "CIDR", "postgresql"},
        {"macaddr", "MACADDR", "postgresql"},
        {"macaddr8", "MACADDR8", "postgresql"},
        {"money", "MONEY", "postgresql"},
        {"oid", "OID", "postgresql"},
        {"regclass", "REGCLASS", "postgresql"},
        {"tsvector", "TSVECTOR", "postgresql"},
        {"json", "JSON", "postgresql"},
        {"jsonb", "JSONB", "postgresql"},
        {"hstore", "HSTORE", "postgresql"},
        {"citext", "CITEXT", "postgresql"},
        {"int4range", "INT4RANGE", "postgresql"},
        {"int8range", "INT8RANGE", "postgresql"},
        {"numrange", "NUMRANGE", "postgresql"},
        {"daterange", "DATERANGE", "postgresql"},
        {"tsrange", "TSRANGE", "postgresql"},
        {"tstzrange", "TSTZRANGE", "postgresql"},
};

/* The enum labels, one row per label ordered by type oid then position. */
typedef struct pg_enums {
	const lm_result *res;
} pg_enums;

static void push_enum_labels(lua_State *L, const pg_enums *e, long long oid)
{
	lua_newtable(L);
	const lm_result *res = e->res;
	size_t lo = 0, hi = res->nrows;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (lm_reflect_int(res, mid, 0) < oid)
			lo = mid + 1;
		else
			hi = mid;
	}
	lua_Integer n = 0;
	for (size_t i = lo; i < res->nrows && lm_reflect_int(res, i, 0) == oid; i++) {
		lua_pushstring(L, lm_reflect_text(res, i, 1));
		lua_rawseti(L, -2, ++n);
	}
}

/* What a column's type is, from the catalog. */
typedef struct pg_typeinfo {
	const char *fmt;     /* format_type(), "character varying(20)" */
	const char *typtype; /* "b", "e", "r", ... */
	const char *typname;
	const char *schema; /* the type's namespace */
	long long oid;
} pg_typeinfo;

/* Pushes the model type of t (not an array). */
static void push_pg_type(lua_State *L, const pg_typeinfo *t, const char *default_schema,
                         const pg_enums *enums)
{
	if (t->typtype && t->typtype[0] == 'e') {
		lm_reflect_push_type(L, "ENUM", "postgresql");
		push_enum_labels(L, enums, t->oid);
		lua_setfield(L, -2, "enums");
		lm_reflect_set_str(L, "enum_name", t->typname);
		if (t->schema && strcmp(t->schema, default_schema) != 0)
			lm_reflect_set_str(L, "schema", t->schema);
		return;
	}
	/* attype: the text without its "(...)" part; args: the numbers in it */
	char attype[128];
	size_t n = 0;
	const char *fmt = t->fmt ? t->fmt : "";
	const char *open = strchr(fmt, '('), *close = strrchr(fmt, ')');
	for (const char *s = fmt; *s && n + 1 < sizeof attype; s++) {
		if (open && close && s >= open && s <= close)
			continue;
		attype[n++] = *s;
	}
	attype[n] = '\0';
	long long args[2];
	int nargs = 0;
	if (open && close) {
		for (const char *s = open; s < close && nargs < 2;) {
			if (isdigit((unsigned char)*s)) {
				char *e;
				args[nargs++] = strtoll(s, &e, 10);
				s = e;
			} else {
				s++;
			}
		}
	}
	const char *fields = NULL;
	if (strncmp(attype, "interval ", 9) == 0) {
		fields = fmt + 9; /* "interval day to second(3)" */
		attype[8] = '\0';
	}
	const struct pg_type *ty = NULL;
	for (size_t i = 0; i < sizeof pg_types / sizeof *pg_types && !ty; i++)
		if (strcmp(pg_types[i].attype, attype) == 0)
			ty = &pg_types[i];
	/* an extension's type outside the search path: "ext.citext" */
	for (size_t i = 0; i < sizeof pg_types / sizeof *pg_types && !ty && t->typname; i++)
		if (strcmp(pg_types[i].attype, t->typname) == 0 && t->typtype &&
		    t->typtype[0] == 'b' &&
		    (strcmp(t->typname, "citext") == 0 || strcmp(t->typname, "hstore") == 0))
			ty = &pg_types[i];
	if (!ty) {
		/* SQLAlchemy: "Did not recognize type"; the text stays in sql */
		lm_reflect_push_type(L, "NullType", "sa");
		lm_reflect_set_str(L, "sql", fmt);
		return;
	}
	lm_reflect_push_type(L, ty->name, ty->module);
	const char *name = ty->name;
	if (strcmp(name, "NUMERIC") == 0) {
		if (nargs == 2) {
			lm_reflect_set_int(L, "precision", args[0]);
			lm_reflect_set_int(L, "scale", args[1]);
		}
	} else if (strcmp(name, "DOUBLE_PRECISION") == 0) {
		lm_reflect_set_int(L, "precision", 53);
	} else if (strcmp(name, "TIMESTAMP") == 0 || strcmp(name, "TIME") == 0) {
		if (strstr(attype, "with time zone") && !strstr(attype, "without"))
			lm_reflect_set_bool(L, "timezone", 1);
		if (nargs > 0)
			lm_reflect_set_int(L, "precision", args[0]);
	} else if (strcmp(name, "INTERVAL") == 0) {
		if (nargs > 0)
			lm_reflect_set_int(L, "precision", args[0]);
		if (fields) {
			const char *p = strchr(fields, '(');
			lua_pushlstring(L, fields, p ? (size_t)(p - fields) : strlen(fields));
			lua_setfield(L, -2, "fields");
		}
	} else if (strcmp(name, "BIT") == 0) {
		if (nargs > 0)
			lm_reflect_set_int(L, "length", args[0]);
		if (strcmp(attype, "bit varying") == 0)
			lm_reflect_set_bool(L, "varying", 1);
	} else if (strcmp(name, "JSON") == 0 || strcmp(name, "JSONB") == 0 ||
	           strcmp(name, "HSTORE") == 0) {
		/* SQLAlchemy's repr shows astext_type=Text() / text_type=Text() */
		lm_reflect_push_type(L, "Text", "sa");
		lua_setfield(L, -2, strcmp(name, "HSTORE") == 0 ? "text_type" : "astext_type");
	} else if (nargs > 0 && strcmp(name, "INTEGER") != 0 && strcmp(name, "BIGINT") != 0 &&
	           strcmp(name, "SMALLINT") != 0) {
		/* VARCHAR(n), CHAR(n), ...: the one positional argument */
		lm_reflect_set_int(L, "length", args[0]);
	}
}

/* ---------------------------------------------------------------------
 * The reader
 * ------------------------------------------------------------------ */

typedef struct pg_table {
	long long oid;
	size_t index; /* position in the Lua array of table values */
	const char *name;
	const char *schema;      /* NULL for the default schema */
	size_t col_from, col_to; /* its rows in the columns result */
} pg_table;

/* What the constraint and index rows are resolved against. */
typedef struct pg_lookup {
	const lm_result *cols;      /* COLUMNS_SQL */
	const lm_result *opclasses; /* non-default operator classes: oid, name */
} pg_lookup;

/* The numbers of "1 0 3" (int2vector, oidvector) or "{1,3}" (int2[]);
 * returns how many, in *out (owned by the reflection). */
static size_t number_list(lm_reflect *r, const char *s, long long **out)
{
	size_t cap = 1;
	for (const char *p = s ? s : ""; *p; p++)
		cap += *p == ' ' || *p == ',';
	long long *v = lm_reflect_alloc(r, cap * sizeof *v);
	size_t n = 0;
	for (const char *p = s ? s : ""; *p && n < cap;) {
		if (isdigit((unsigned char)*p) || (*p == '-' && isdigit((unsigned char)p[1]))) {
			char *e;
			v[n++] = strtoll(p, &e, 10);
			p = e;
		} else {
			p++;
		}
	}
	*out = v;
	return n;
}

static int cmp_oid(const void *a, const void *b)
{
	long long x = ((const pg_table *)a)->oid, y = ((const pg_table *)b)->oid;
	return (x > y) - (x < y);
}

static pg_table *find_oid(pg_table *by_oid, size_t n, long long oid)
{
	pg_table key = {.oid = oid};
	return bsearch(&key, by_oid, n, sizeof *by_oid, cmp_oid);
}

static const char *fk_action(const char *code)
{
	switch (code ? code[0] : 'a') {
	case 'r':
		return "RESTRICT";
	case 'c':
		return "CASCADE";
	case 'n':
		return "SET NULL";
	case 'd':
		return "SET DEFAULT";
	default:
		return NULL; /* NO ACTION */
	}
}

/* The sqltext of a check constraint from pg_get_expr(conbin): without the
 * parentheses that wrap the whole expression, as SQLAlchemy strips them
 * from pg_get_constraintdef's "CHECK ((a > 1))". */
static const char *check_text(lm_reflect *r, const char *expr)
{
	const char *s = expr;
	size_t len = strlen(s);
	while (len && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	if (len >= 2 && s[0] == '(' && s[len - 1] == ')') {
		/* do the first "(" and the last ")" match each other? */
		int depth = 0, wraps = 1, in_str = 0;
		for (size_t i = 0; i < len; i++) {
			if (s[i] == '\'')
				in_str = !in_str;
			if (in_str)
				continue;
			if (s[i] == '(')
				depth++;
			else if (s[i] == ')' && --depth == 0 && i + 1 < len)
				wraps = 0;
		}
		if (wraps) {
			s++;
			len -= 2;
		}
	}
	return lm_reflect_strndup(r, s, len);
}

static void push_name_array(lua_State *L, const char **v, size_t n)
{
	lua_createtable(L, (int)n, 0);
	for (size_t i = 0; i < n; i++) {
		lua_pushstring(L, v[i] ? v[i] : "");
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
}

/* Sets column.primary_key = true for each name of the table's primary key
 * (the table value at tbl). */
static void mark_pk_columns(lua_State *L, int tbl, const char **cols, size_t n)
{
	lua_getfield(L, tbl, "c");
	for (size_t i = 0; i < n; i++) {
		if (!cols[i])
			continue;
		if (lua_getfield(L, -1, cols[i]) == LUA_TTABLE)
			lm_reflect_set_bool(L, "primary_key", 1);
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
}

/* Columns: one row per column, by table oid then attnum. */
static const char *const COLUMNS_SQL =
        "SELECT a.attrelid, a.attname, a.attnum, "
        " format_type(et.oid, CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END), "
        " et.typtype, et.typname, etn.nspname, et.oid, "
        " CASE WHEN et.typcategory = 'A' THEN format_type(el.oid, "
        "  CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END) END, "
        " el.typtype, el.typname, eln.nspname, el.oid, "
        " a.attnotnull OR (t.typtype = 'd' AND t.typnotnull), "
        /* a default cannot refer to columns: deparsing it without its table
         * (relid 0) spares a relation lookup per column, 4 times faster */
        " COALESCE(pg_get_expr(d.adbin, CASE WHEN a.attgenerated <> '' THEN d.adrelid ELSE 0 END), "
        "  CASE WHEN t.typtype = 'd' THEN t.typdefault END), "
        " a.attidentity::text, a.attgenerated::text, "
        " CASE WHEN a.attcollation <> et.typcollation AND co.collname <> 'default' "
        "  THEN co.collname END "
        "FROM pg_attribute a "
        "JOIN pg_type t ON t.oid = a.atttypid "
        "JOIN pg_type et ON et.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END "
        "JOIN pg_namespace etn ON etn.oid = et.typnamespace "
        "LEFT JOIN pg_type el ON el.oid = et.typelem AND et.typcategory = 'A' "
        "LEFT JOIN pg_namespace eln ON eln.oid = el.typnamespace "
        "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
        "LEFT JOIN pg_collation co ON co.oid = a.attcollation "
        "WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY a.attrelid, a.attnum";

enum {
	COL_REL,
	COL_NAME,
	COL_ATTNUM,
	COL_FMT,
	COL_TYPTYPE,
	COL_TYPNAME,
	COL_TYPSCHEMA,
	COL_TYPOID,
	COL_EFMT,
	COL_ETYPTYPE,
	COL_ETYPNAME,
	COL_ETYPSCHEMA,
	COL_ETYPOID,
	COL_NOTNULL,
	COL_DEFAULT,
	COL_IDENTITY,
	COL_GENERATED,
	COL_COLLATION
};

/* Comments and owned sequences come by separate queries, each on one
 * catalog through its index: joined into the columns query, a stale
 * estimate (a schema just created, not yet analyzed) made the planner
 * rescan pg_description once per column. Both are ordered by (oid, attnum);
 * attnum 0 is the table's own comment. */
static const char *const COMMENTS_SQL =
        "SELECT objoid, objsubid, description FROM pg_description "
        "WHERE objoid = ANY($1::oid[]) AND classoid = 'pg_class'::regclass "
        "ORDER BY objoid, objsubid";

/* The sequences owned by a column: serial ('a') and identity ('i'). */
static const char *const SEQUENCES_SQL =
        "SELECT dep.refobjid, dep.refobjsubid, dep.deptype::text, s.seqstart, s.seqincrement, "
        " s.seqmin, s.seqmax, s.seqcache, s.seqcycle "
        "FROM pg_depend dep JOIN pg_sequence s ON s.seqrelid = dep.objid "
        "WHERE dep.refclassid = 'pg_class'::regclass AND dep.refobjid = ANY($1::oid[]) "
        " AND dep.classid = 'pg_class'::regclass AND dep.deptype IN ('a', 'i') "
        "ORDER BY dep.refobjid, dep.refobjsubid";

enum {
	SEQ_REL,
	SEQ_ATTNUM,
	SEQ_DEPTYPE,
	SEQ_START,
	SEQ_INC,
	SEQ_MIN,
	SEQ_MAX,
	SEQ_CACHE,
	SEQ_CYCLE
};

/* The first row of res (ordered by its first two columns) whose first two
 * columns are (a, b), or -1. */
static long find_row2(const lm_result *res, long long a, long long b)
{
	size_t lo = 0, hi = res->nrows;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		long long x = lm_reflect_int(res, mid, 0), y = lm_reflect_int(res, mid, 1);
		if (x < a || (x == a && y < b))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < res->nrows && lm_reflect_int(res, lo, 0) == a && lm_reflect_int(res, lo, 1) == b)
		return (long)lo;
	return -1;
}

/* The name of column attnum of table t, or NULL. */
static const char *attname(const pg_lookup *lk, const pg_table *t, long long attnum)
{
	size_t lo = t->col_from, hi = t->col_to;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		long long n = lm_reflect_int(lk->cols, mid, COL_ATTNUM);
		if (n == attnum)
			return lm_reflect_text(lk->cols, mid, COL_NAME);
		if (n < attnum)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The name of operator class oid when it is not its type's default. */
static const char *opclass_name(const pg_lookup *lk, long long oid)
{
	size_t lo = 0, hi = lk->opclasses->nrows;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		long long n = lm_reflect_int(lk->opclasses, mid, 0);
		if (n == oid)
			return lm_reflect_text(lk->opclasses, mid, 1);
		if (n < oid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void push_column(lm_reflect *r, const lm_result *res, size_t i, const char *default_schema,
                        const pg_enums *enums, const lm_result *comments, const lm_result *seqs)
{
	long long rel = lm_reflect_int(res, i, COL_REL),
	          attnum = lm_reflect_int(res, i, COL_ATTNUM);
	long crow = find_row2(comments, rel, attnum), srow = find_row2(seqs, rel, attnum);
	lua_State *L = r->L;
	lua_createtable(L, 0, 12);
	lm_reflect_set_str(L, "kind", "column");
	lm_reflect_set_str(L, "name", lm_reflect_text(res, i, COL_NAME));
	pg_typeinfo ti = {lm_reflect_text(res, i, COL_FMT), lm_reflect_text(res, i, COL_TYPTYPE),
	                  lm_reflect_text(res, i, COL_TYPNAME),
	                  lm_reflect_text(res, i, COL_TYPSCHEMA),
	                  lm_reflect_int(res, i, COL_TYPOID)};
	if (lm_reflect_text(res, i, COL_EFMT)) {
		pg_typeinfo el = {lm_reflect_text(res, i, COL_EFMT),
		                  lm_reflect_text(res, i, COL_ETYPTYPE),
		                  lm_reflect_text(res, i, COL_ETYPNAME),
		                  lm_reflect_text(res, i, COL_ETYPSCHEMA),
		                  lm_reflect_int(res, i, COL_ETYPOID)};
		lm_reflect_push_type(L, "ARRAY", "postgresql");
		push_pg_type(L, &el, default_schema, enums);
		lua_setfield(L, -2, "item_type");
	} else {
		push_pg_type(L, &ti, default_schema, enums);
	}
	const char *collation = lm_reflect_text(res, i, COL_COLLATION);
	if (collation) {
		lua_getfield(L, -1, "name");
		const char *tn = lua_tostring(L, -1);
		int stringy = tn && (strcmp(tn, "VARCHAR") == 0 || strcmp(tn, "CHAR") == 0 ||
		                     strcmp(tn, "TEXT") == 0 || strcmp(tn, "String") == 0 ||
		                     strcmp(tn, "CITEXT") == 0);
		lua_pop(L, 1);
		if (stringy)
			lm_reflect_set_str(L, "collation", collation);
	}
	lua_setfield(L, -2, "type");
	lm_reflect_set_bool(L, "nullable", !lm_reflect_bool(res, i, COL_NOTNULL));
	lm_reflect_set_bool(L, "primary_key", 0);
	const char *dflt = lm_reflect_text(res, i, COL_DEFAULT);
	const char *identity = lm_reflect_text(res, i, COL_IDENTITY);
	const char *generated = lm_reflect_text(res, i, COL_GENERATED);
	const char *deptype = srow >= 0 ? lm_reflect_text(seqs, (size_t)srow, SEQ_DEPTYPE) : NULL;
	int autoincrement = 0;
	if (generated && generated[0]) {
		lua_createtable(L, 0, 3);
		lm_reflect_set_str(L, "kind", "computed");
		lm_reflect_set_str(L, "sqltext", dflt ? dflt : "");
		lm_reflect_set_bool(L, "persisted", generated[0] == 's');
		lua_setfield(L, -2, "computed");
	} else if (dflt) {
		lm_reflect_push_text(L, dflt);
		lua_setfield(L, -2, "server_default");
		/* serial: a nextval() default of a sequence the column owns */
		autoincrement = deptype && deptype[0] == 'a' && strstr(dflt, "nextval(") != NULL;
	}
	if (identity && identity[0]) {
		autoincrement = 1;
		lua_createtable(L, 0, 8);
		lm_reflect_set_str(L, "kind", "identity");
		lm_reflect_set_bool(L, "always", identity[0] == 'a');
		if (srow >= 0) {
			size_t k = (size_t)srow;
			lm_reflect_set_int(L, "start", lm_reflect_int(seqs, k, SEQ_START));
			lm_reflect_set_int(L, "increment", lm_reflect_int(seqs, k, SEQ_INC));
			lm_reflect_set_int(L, "minvalue", lm_reflect_int(seqs, k, SEQ_MIN));
			lm_reflect_set_int(L, "maxvalue", lm_reflect_int(seqs, k, SEQ_MAX));
			lm_reflect_set_int(L, "cache", lm_reflect_int(seqs, k, SEQ_CACHE));
			lm_reflect_set_bool(L, "cycle", lm_reflect_bool(seqs, k, SEQ_CYCLE));
		}
		lua_setfield(L, -2, "identity");
	}
	lm_reflect_set_bool(L, "autoincrement", autoincrement);
	if (crow >= 0)
		lm_reflect_set_str(L, "comment", lm_reflect_text(comments, (size_t)crow, 2));
	lua_newtable(L);
	lua_setfield(L, -2, "foreign_keys");
}

/* Constraints: primary key, unique, foreign key, check. */
static const char *const CONSTRAINTS_SQL =
        "SELECT k.conrelid, k.conname, k.contype::text, k.condeferrable, k.condeferred, "
        " k.conkey::text, rn.nspname, rc.relname, "
        /* the referred table may be outside the tables read: names here */
        " CASE WHEN k.contype = 'f' THEN array(SELECT a.attname FROM unnest(k.confkey) "
        "  WITH ORDINALITY u(n, o) JOIN pg_attribute a ON a.attrelid = k.confrelid "
        "  AND a.attnum = u.n ORDER BY u.o)::text[] END, "
        " k.confupdtype::text, k.confdeltype::text, k.confmatchtype::text, "
        /* pg_get_expr is 5 times faster than pg_get_constraintdef */
        " CASE WHEN k.contype = 'c' THEN pg_get_expr(k.conbin, k.conrelid) END, k.convalidated "
        "FROM pg_constraint k "
        "LEFT JOIN pg_class rc ON rc.oid = k.confrelid "
        "LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace "
        "WHERE k.conrelid = ANY($1::oid[]) AND k.contype IN ('p', 'u', 'f', 'c') "
        "ORDER BY k.conrelid, k.contype, k.conname";

enum {
	CON_REL,
	CON_NAME,
	CON_TYPE,
	CON_DEFERRABLE,
	CON_DEFERRED,
	CON_COLS,
	CON_RSCHEMA,
	CON_RTABLE,
	CON_RCOLS,
	CON_UPD,
	CON_DEL,
	CON_MATCH,
	CON_DEF,
	CON_VALIDATED
};

/* Pushes one constraint row as a model value; returns 0 and pushes nothing
 * when include_name leaves it out. The primary key goes to the table. */
static int push_constraint(lm_reflect *r, int tbl, const pg_table *t, const pg_lookup *lk,
                           const lm_result *res, size_t i, const char *default_schema)
{
	lua_State *L = r->L;
	const char *type = lm_reflect_text(res, i, CON_TYPE);
	const char *name = lm_reflect_text(res, i, CON_NAME);
	long long *keys;
	size_t ncols = number_list(r, lm_reflect_text(res, i, CON_COLS), &keys);
	const char **cols = lm_reflect_alloc(r, (ncols + 1) * sizeof *cols);
	for (size_t k = 0; k < ncols; k++)
		cols[k] = attname(lk, t, keys[k]);
	int deferrable = lm_reflect_bool(res, i, CON_DEFERRABLE);
	int deferred = lm_reflect_bool(res, i, CON_DEFERRED);
	switch (type[0]) {
	case 'p':
		lua_getfield(L, tbl, "primary_key");
		lm_reflect_set_str(L, "name", name);
		push_name_array(L, cols, ncols);
		lua_setfield(L, -2, "columns");
		lua_pop(L, 1);
		mark_pk_columns(L, tbl, cols, ncols);
		return 0;
	case 'u':
		if (!lm_reflect_include(r, name, "unique_constraint", t->schema, t->name))
			return 0;
		lua_createtable(L, 0, 5);
		lm_reflect_set_str(L, "kind", "unique");
		break;
	case 'f': {
		if (!lm_reflect_include(r, name, "foreign_key_constraint", t->schema, t->name))
			return 0;
		lua_createtable(L, 0, 12);
		lm_reflect_set_str(L, "kind", "foreign_key");
		const char *rschema = lm_reflect_text(res, i, CON_RSCHEMA);
		if (rschema && strcmp(rschema, default_schema) != 0)
			lm_reflect_set_str(L, "referred_schema", rschema);
		lm_reflect_set_str(L, "referred_table", lm_reflect_text(res, i, CON_RTABLE));
		const char **rcols;
		size_t nr = pg_array(r, lm_reflect_text(res, i, CON_RCOLS), &rcols);
		push_name_array(L, rcols, nr);
		lua_setfield(L, -2, "referred_columns");
		lm_reflect_set_str(L, "onupdate", fk_action(lm_reflect_text(res, i, CON_UPD)));
		lm_reflect_set_str(L, "ondelete", fk_action(lm_reflect_text(res, i, CON_DEL)));
		const char *match = lm_reflect_text(res, i, CON_MATCH);
		if (match && match[0] == 'f')
			lm_reflect_set_str(L, "match", "FULL");
		else if (match && match[0] == 'p')
			lm_reflect_set_str(L, "match", "PARTIAL");
		break;
	}
	case 'c': {
		const char *def = lm_reflect_text(res, i, CON_DEF);
		lua_createtable(L, 0, 4);
		lm_reflect_set_str(L, "kind", "check");
		lm_reflect_set_str(L, "sqltext", check_text(r, def ? def : ""));
		if (!lm_reflect_bool(res, i, CON_VALIDATED)) {
			lua_createtable(L, 0, 1);
			lm_reflect_set_bool(L, "postgresql_not_valid", 1);
			lua_setfield(L, -2, "dialect_kw");
		}
		lm_reflect_set_str(L, "name", name);
		return 1;
	}
	default:
		return 0;
	}
	lm_reflect_set_str(L, "name", name);
	push_name_array(L, cols, ncols);
	lua_setfield(L, -2, "columns");
	if (deferrable)
		lm_reflect_set_bool(L, "deferrable", 1);
	if (deferred)
		lm_reflect_set_str(L, "initially", "DEFERRED");
	return 1;
}

/* Indexes, with the constraint each backs; {nulls_not_distinct} is
 * replaced by the column (PostgreSQL 15) or by false. */
static const char *const INDEXES_SQL =
        "SELECT x.indrelid, i.relname, x.indisunique, x.indnkeyatts, x.indoption::text, "
        /* column numbers (0 = an expression) and operator classes are
         * resolved by the reader: per-row subqueries would dominate */
        " x.indkey::text, "
        " CASE WHEN x.indexprs IS NOT NULL THEN array(SELECT pg_get_indexdef(x.indexrelid, n, "
        "true) "
        "  FROM generate_series(1, x.indnkeyatts) n ORDER BY n)::text[] END, "
        " x.indclass::text, "
        " am.amname, pg_get_expr(x.indpred, x.indrelid), i.reloptions, {nulls_not_distinct}, "
        " k.contype::text, k.conname, k.condeferrable, k.condeferred, "
        " CASE WHEN k.contype = 'x' THEN array(SELECT o.oprname FROM unnest(k.conexclop) "
        "  WITH ORDINALITY u(p, n) JOIN pg_operator o ON o.oid = u.p ORDER BY u.n)::text[] END "
        "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_am am ON am.oid = i.relam "
        "LEFT JOIN pg_constraint k ON k.conindid = x.indexrelid AND k.conrelid = x.indrelid "
        " AND k.contype IN ('p', 'u', 'x') "
        "WHERE x.indrelid = ANY($1::oid[]) "
        "ORDER BY x.indrelid, i.relname";

enum {
	IX_REL,
	IX_NAME,
	IX_UNIQUE,
	IX_NKEY,
	IX_OPTION,
	IX_KEYS,
	IX_EXPRS,
	IX_OPCLASS,
	IX_AM,
	IX_PRED,
	IX_RELOPTIONS,
	IX_NND,
	IX_CONTYPE,
	IX_CONNAME,
	IX_DEFERRABLE,
	IX_DEFERRED,
	IX_EXCLOPS
};

/* Pushes an index element: a column name, or { kind = "text" } for an
 * expression. */
static void push_element(lua_State *L, const char *text, const char *isexpr)
{
	if (isexpr && isexpr[0] == 't')
		lm_reflect_push_text(L, text ? text : "");
	else
		lua_pushstring(L, text ? text : "");
}

/* Pushes one index row as an index (returns 1), or as an exclusion
 * constraint (returns 2), or nothing (0: a primary key's or unique
 * constraint's index, or left out by include_name). */
static int push_index(lm_reflect *r, const pg_table *t, const pg_lookup *lk, const lm_result *res,
                      size_t i)
{
	lua_State *L = r->L;
	const char *contype = lm_reflect_text(res, i, IX_CONTYPE);
	if (contype && (contype[0] == 'p' || contype[0] == 'u'))
		return 0;
	int exclude = contype && contype[0] == 'x';
	const char *name = lm_reflect_text(res, i, IX_NAME);
	if (!exclude && !lm_reflect_include(r, name, "index", t->schema, t->name))
		return 0;
	/* the columns (key columns, then INCLUDE columns): a name, or for
	 * attnum 0 the expression's text */
	long long *keys, *classes;
	size_t ncols = number_list(r, lm_reflect_text(res, i, IX_KEYS), &keys);
	size_t nopc = number_list(r, lm_reflect_text(res, i, IX_OPCLASS), &classes);
	const char **exprs;
	size_t nexprs = pg_array(r, lm_reflect_text(res, i, IX_EXPRS), &exprs);
	const char **cols = lm_reflect_alloc(r, (ncols + 1) * sizeof *cols);
	const char **isexpr = lm_reflect_alloc(r, (ncols + 1) * sizeof *isexpr);
	const char **opclass = lm_reflect_alloc(r, (nopc + 1) * sizeof *opclass);
	for (size_t k = 0; k < ncols; k++) {
		if (keys[k] == 0) {
			cols[k] = k < nexprs ? exprs[k] : NULL;
			isexpr[k] = "t";
		} else {
			cols[k] = attname(lk, t, keys[k]);
		}
	}
	for (size_t k = 0; k < nopc; k++)
		opclass[k] = opclass_name(lk, classes[k]);
	const char **exclops, **relopts;
	size_t nexcl = pg_array(r, lm_reflect_text(res, i, IX_EXCLOPS), &exclops);
	size_t nrel = pg_array(r, lm_reflect_text(res, i, IX_RELOPTIONS), &relopts);
	/* indoption: "1 0", one number per key column */
	size_t nkey = (size_t)lm_reflect_int(res, i, IX_NKEY);
	if (nkey > ncols)
		nkey = ncols;
	long long *flags = lm_reflect_alloc(r, (nkey + 1) * sizeof *flags);
	const char *opt = lm_reflect_text(res, i, IX_OPTION);
	for (size_t k = 0; k < nkey && opt && *opt; k++) {
		char *e;
		flags[k] = strtoll(opt, &e, 10);
		opt = e;
	}
	const char *am = lm_reflect_text(res, i, IX_AM);
	const char *pred = lm_reflect_text(res, i, IX_PRED);

	if (exclude) {
		lua_createtable(L, 0, 7);
		lm_reflect_set_str(L, "kind", "exclude");
		lm_reflect_set_str(L, "name", lm_reflect_text(res, i, IX_CONNAME));
		lua_createtable(L, (int)nkey, 0);
		for (size_t k = 0; k < nkey; k++) {
			lua_createtable(L, 2, 0);
			push_element(L, cols[k], isexpr[k]);
			lua_rawseti(L, -2, 1);
			lua_pushstring(L, k < nexcl && exclops[k] ? exclops[k] : "=");
			lua_rawseti(L, -2, 2);
			lua_rawseti(L, -2, (lua_Integer)k + 1);
		}
		lua_setfield(L, -2, "elements");
		lm_reflect_set_str(L, "using", am);
		if (pred) {
			lm_reflect_push_text(L, pred);
			lua_setfield(L, -2, "where");
		}
		if (lm_reflect_bool(res, i, IX_DEFERRABLE))
			lm_reflect_set_bool(L, "deferrable", 1);
		if (lm_reflect_bool(res, i, IX_DEFERRED))
			lm_reflect_set_str(L, "initially", "DEFERRED");
		return 2;
	}

	lua_createtable(L, 0, 8);
	lm_reflect_set_str(L, "kind", "index");
	lm_reflect_set_str(L, "name", name);
	lm_reflect_set_str(L, "table", t->name);
	lm_reflect_set_str(L, "schema", t->schema);
	lm_reflect_set_bool(L, "unique", lm_reflect_bool(res, i, IX_UNIQUE));
	lua_createtable(L, (int)nkey, 0);
	for (size_t k = 0; k < nkey; k++) {
		push_element(L, cols[k], isexpr[k]);
		lua_rawseti(L, -2, (lua_Integer)k + 1);
	}
	lua_setfield(L, -2, "columns");

	/* column_sorting as SQLAlchemy reports it: only what differs from
	 * PostgreSQL's default (ASC NULLS LAST, DESC NULLS FIRST) */
	int any_sorting = 0;
	for (size_t k = 0; k < nkey; k++) {
		int desc = (flags[k] & 1) != 0, nulls_first = (flags[k] & 2) != 0;
		if (!desc && !nulls_first)
			continue;
		if (!any_sorting) {
			lua_newtable(L);
			any_sorting = 1;
		}
		lua_newtable(L);
		lua_Integer n = 0;
		if (desc) {
			lua_pushliteral(L, "desc");
			lua_rawseti(L, -2, ++n);
			if (!nulls_first) {
				lua_pushliteral(L, "nulls_last");
				lua_rawseti(L, -2, ++n);
			}
		} else {
			lua_pushliteral(L, "nulls_first");
			lua_rawseti(L, -2, ++n);
		}
		lua_setfield(L, -2, cols[k] ? cols[k] : "");
	}
	if (any_sorting)
		lua_setfield(L, -2, "column_sorting");

	lua_newtable(L); /* dialect_kw */
	int nkw = 0;
	if (pred) {
		lm_reflect_push_text(L, pred);
		lua_setfield(L, -2, "postgresql_where");
		nkw++;
	}
	if (am && strcmp(am, "btree") != 0) {
		lm_reflect_set_str(L, "postgresql_using", am);
		nkw++;
	}
	if (ncols > nkey) {
		push_name_array(L, cols + nkey, ncols - nkey);
		lua_setfield(L, -2, "postgresql_include");
		nkw++;
	}
	int any_ops = 0;
	for (size_t k = 0; k < nkey && k < nopc; k++) {
		if (!opclass[k])
			continue;
		if (!any_ops) {
			lua_newtable(L);
			any_ops = 1;
		}
		lm_reflect_set_str(L, cols[k] ? cols[k] : "", opclass[k]);
	}
	if (any_ops) {
		lua_setfield(L, -2, "postgresql_ops");
		nkw++;
	}
	if (nrel > 0) {
		lua_newtable(L);
		for (size_t k = 0; k < nrel; k++) {
			const char *eq = relopts[k] ? strchr(relopts[k], '=') : NULL;
			if (!eq)
				continue;
			lua_pushlstring(L, relopts[k], (size_t)(eq - relopts[k]));
			lua_pushstring(L, eq + 1);
			lua_rawset(L, -3);
		}
		lua_setfield(L, -2, "postgresql_with");
		nkw++;
	}
	if (lm_reflect_bool(res, i, IX_NND)) {
		lm_reflect_set_bool(L, "postgresql_nulls_not_distinct", 1);
		nkw++;
	}
	if (nkw)
		lua_setfield(L, -2, "dialect_kw");
	else
		lua_pop(L, 1);
	return 1;
}

/* The rows [*row, end) of res whose first column is oid, res being ordered
 * by it; advances *row to the first row of oid. */
static size_t rows_for(const lm_result *res, size_t *row, long long oid)
{
	while (*row < res->nrows && lm_reflect_int(res, *row, 0) < oid)
		(*row)++;
	size_t end = *row;
	while (end < res->nrows && lm_reflect_int(res, end, 0) == oid)
		end++;
	return end;
}

int lm_reflect_pg(lm_reflect *r)
{
	lua_State *L = r->L;
	int base = lua_gettop(L);
	lm_result *info = lm_reflect_query(
	        r,
	        "SELECT current_schema(), current_setting('server_version_num')::int, "
	        "array(SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_' "
	        "AND nspname <> 'information_schema' ORDER BY nspname)::text[]",
	        NULL, 0);
	if (!info)
		return -1;
	const char *default_schema = lm_reflect_text(info, 0, 0);
	if (!default_schema)
		default_schema = "public";
	long long version = lm_reflect_int(info, 0, 1);
	const char **all;
	size_t nall = pg_array(r, lm_reflect_text(info, 0, 2), &all);

	lm_reflect_push_metadata(L, "postgresql", default_schema);
	int meta = lua_gettop(L);
	push_name_array(L, all, nall);
	lua_setfield(L, meta, "schema_names");

	/* the schemas to read, after include_name(schema, "schema", {}) */
	char **want = lm_reflect_alloc(r, (nall + r->schemas.n + 1) * sizeof *want);
	size_t nwant = 0;
	if (r->all_schemas) {
		for (size_t i = 0; i < nall; i++)
			want[nwant++] = (char *)all[i];
	} else if (r->schemas.n == 0) {
		want[nwant++] = (char *)default_schema;
	} else {
		for (size_t i = 0; i < r->schemas.n; i++)
			want[nwant++] =
			        r->schemas.v[i][0] ? r->schemas.v[i] : (char *)default_schema;
	}
	size_t kept = 0;
	for (size_t i = 0; i < nwant; i++) {
		const char *s = strcmp(want[i], default_schema) == 0 ? NULL : want[i];
		if (lm_reflect_include(r, s, "schema", NULL, NULL))
			want[kept++] = want[i];
	}
	nwant = kept;
	if (nwant == 0)
		return 0;

	/* array_position keeps the order of the schemas as asked */
	const char *schemas_lit = text_array(r, want, nwant);
	lm_value arg = {.type = LM_V_TEXT, .s = schemas_lit, .len = strlen(schemas_lit)};
	lm_result *tables =
	        lm_reflect_query(r,
	                         "SELECT c.oid, n.nspname, c.relname, "
	                         "CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END "
	                         "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
	                         "WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY($1::text[]) "
	                         "ORDER BY array_position($1::text[], n.nspname::text), c.relname",
	                         &arg, 1);
	if (!tables)
		goto fail;

	/* the tables kept by include_name, in a Lua array (in order) and by oid */
	lua_newtable(L);
	int arr = lua_gettop(L);
	pg_table *by_oid = lm_reflect_alloc(r, (tables->nrows + 1) * sizeof *by_oid);
	long long *oids = lm_reflect_alloc(r, (tables->nrows + 1) * sizeof *oids);
	size_t n = 0;
	for (size_t i = 0; i < tables->nrows; i++) {
		const char *nsp = lm_reflect_text(tables, i, 1);
		const char *name = lm_reflect_text(tables, i, 2);
		const char *schema = strcmp(nsp, default_schema) == 0 ? NULL : nsp;
		if (!lm_reflect_include(r, name, "table", schema, NULL))
			continue;
		pg_table *t = &by_oid[n];
		t->oid = lm_reflect_int(tables, i, 0);
		t->index = n + 1;
		t->name = name;
		t->schema = schema;
		oids[n++] = t->oid;
		lm_reflect_push_table(L, name, schema);
		const char *partition = lm_reflect_text(tables, i, 3);
		if (partition) {
			lua_createtable(L, 0, 1);
			lm_reflect_set_str(L, "postgresql_partition_by", partition);
			lua_setfield(L, -2, "dialect_kw");
		}
		lua_rawseti(L, arr, (lua_Integer)n);
	}
	qsort(by_oid, n, sizeof *by_oid, cmp_oid);
	const char *oids_lit = oid_array(r, oids, n);
	lm_value oarg = {.type = LM_V_TEXT, .s = oids_lit, .len = strlen(oids_lit)};

	lm_result *enums_res = lm_reflect_query(
	        r, "SELECT enumtypid, enumlabel FROM pg_enum ORDER BY enumtypid, enumsortorder",
	        NULL, 0);
	if (!enums_res)
		goto fail;
	pg_enums enums = {enums_res};

	lm_result *opclasses = lm_reflect_query(
	        r, "SELECT oid, opcname FROM pg_opclass WHERE NOT opcdefault ORDER BY oid", NULL,
	        0);
	if (!opclasses)
		goto fail;
	lm_result *comments = lm_reflect_query(r, COMMENTS_SQL, &oarg, 1);
	if (!comments)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		long row = find_row2(comments, by_oid[i].oid, 0);
		if (row < 0)
			continue;
		lua_rawgeti(L, arr, (lua_Integer)by_oid[i].index);
		lm_reflect_set_str(L, "comment", lm_reflect_text(comments, (size_t)row, 2));
		lua_pop(L, 1);
	}
	lm_result *seqs = lm_reflect_query(r, SEQUENCES_SQL, &oarg, 1);
	if (!seqs)
		goto fail;
	lm_result *cols = lm_reflect_query(r, COLUMNS_SQL, &oarg, 1);
	if (!cols)
		goto fail;
	pg_lookup lk = {cols, opclasses};
	for (size_t i = 0; i < cols->nrows;) {
		long long oid = lm_reflect_int(cols, i, COL_REL);
		size_t row = i, end = rows_for(cols, &row, oid);
		pg_table *t = find_oid(by_oid, n, oid);
		t->col_from = row;
		t->col_to = end;
		lua_rawgeti(L, arr, (lua_Integer)t->index);
		int tbl = lua_gettop(L);
		for (size_t k = row; k < end; k++) {
			if (!lm_reflect_include(r, lm_reflect_text(cols, k, COL_NAME), "column",
			                        t->schema, t->name))
				continue;
			push_column(r, cols, k, default_schema, &enums, comments, seqs);
			lm_reflect_add_column(L, tbl);
		}
		lua_pop(L, 1);
		i = end;
	}

	lm_result *cons = lm_reflect_query(r, CONSTRAINTS_SQL, &oarg, 1);
	if (!cons)
		goto fail;
	for (size_t i = 0; i < cons->nrows; i++) {
		const pg_table *t = find_oid(by_oid, n, lm_reflect_int(cons, i, CON_REL));
		lua_rawgeti(L, arr, (lua_Integer)t->index);
		int tbl = lua_gettop(L);
		if (push_constraint(r, tbl, t, &lk, cons, i, default_schema))
			lm_reflect_append(L, tbl, "constraints");
		lua_pop(L, 1);
	}

	char *ix_sql = lm_sprintf("%s", INDEXES_SQL);
	{
		/* x.indnullsnotdistinct exists from PostgreSQL 15 on */
		const char *mark = "{nulls_not_distinct}";
		char *at = strstr(ix_sql, mark);
		const char *with = version >= 150000 ? "x.indnullsnotdistinct" : "false";
		lm_buf b = {0};
		lm_buf_put(&b, ix_sql, (size_t)(at - ix_sql));
		lm_buf_puts(&b, with);
		lm_buf_puts(&b, at + strlen(mark));
		free(ix_sql);
		ix_sql = lm_buf_detach(&b);
	}
	lm_result *ixs = lm_reflect_query(r, ix_sql, &oarg, 1);
	free(ix_sql);
	if (!ixs)
		goto fail;
	for (size_t i = 0; i < ixs->nrows; i++) {
		const pg_table *t = find_oid(by_oid, n, lm_reflect_int(ixs, i, IX_REL));
		lua_rawgeti(L, arr, (lua_Integer)t->index);
		int tbl = lua_gettop(L);
		int what = push_index(r, t, &lk, ixs, i);
		if (what == 1)
			lm_reflect_append(L, tbl, "indexes");
		else if (what == 2)
			lm_reflect_append(L, tbl, "constraints");
		lua_pop(L, 1);
	}

	for (size_t i = 1; i <= n; i++) {
		lua_rawgeti(L, arr, (lua_Integer)i);
		lm_reflect_add_table(L, meta);
	}
	lua_settop(L, meta);
	return 0;
fail:
	lua_settop(L, base);
	return -1;
}
