/*
 * reflect.h — introspection: the schema of a live database, read into the
 * schema model of lua/luamig/sa.lua (see its header comment, "THE SCHEMA
 * MODEL", and the "Reflected values" part of it) and pushed onto a Lua
 * stack, for autogenerate to compare with the user's models.
 *
 * One reflection is one lm_reflect: the connection, the options, and the
 * scratch memory (query results, parser allocations) that lives until the
 * reflection ends. It sits inside a Lua userdata whose __gc disposes it,
 * so that a Lua error raised in the middle (the user's include_name
 * function, an out-of-memory error in the Lua API) leaks nothing.
 *
 * Each database reads its catalog in a fixed, small number of queries,
 * each for all the tables at once (never one query per table), so that a
 * schema of thousands of tables reflects in well under a second.
 */
#ifndef LM_REFLECT_H
#define LM_REFLECT_H

#include <lua.h>

#include "driver.h"
#include "util.h"

typedef struct lm_reflect {
	lua_State *L;
	lm_conn *conn;
	/* Absolute stack index of the include_name function, or 0. */
	int include_fn;
	/* The schemas asked for: every schema of the database when all is
	 * set, else names ("" = the connection's default schema); empty =
	 * the default schema only. Owned. */
	int all_schemas;
	lm_strv schemas;
	/* The tables asked for (exact names), or all when empty. Owned. */
	lm_strv tables;
	/* Also read what a batch rebuild ("move and copy") must restore
	 * and the inspector's view does not say (SQLite; lm_reflect_pg
	 * ignores it): column types are the declared types (the declared
	 * text kept as `sql` when luamig has no class for it, collation on
	 * any type); constraints written in a column definition carry
	 * inline = true; indexes carry their CREATE INDEX text (sql) and
	 * come in creation order; and each table has
	 *   triggers = { { name =, sql = }, ... } on the table, in creation
	 *     order;
	 *   mentioned_in = { { type = "view"|"trigger", name = }, ... } the
	 *     views and other tables' triggers whose SQL mentions the
	 *     table's name. */
	int batch;
	/* Scratch owned by the reflection, freed by lm_reflect_dispose. */
	lm_result **results;
	size_t nresults, cap_results;
	lm_pool pool;
} lm_reflect;

/* Frees the scratch (results, allocations, schema and table names); the
 * struct may be disposed twice. */
void lm_reflect_dispose(lm_reflect *r);

/* Runs a query whose result the reflection owns. Returns the result, or
 * NULL with the error slot set. */
lm_result *lm_reflect_query(lm_reflect *r, const char *sql, const lm_value *params, size_t nparams);
/* Memory owned by the reflection (zeroed; aborts on out-of-memory). */
void *lm_reflect_alloc(lm_reflect *r, size_t n);
char *lm_reflect_strndup(lm_reflect *r, const char *s, size_t n);

/* Asks the user's include_name(name, type_, parent_names) whether an
 * object is reflected, as Alembic's include_name filter: type_ is
 * "schema", "table", "column", "index", "unique_constraint" or
 * "foreign_key_constraint"; schema is NULL for the default schema; table
 * is NULL for schemas and tables. 1 = include (also when there is no
 * filter), 0 = leave out. A table that is not among the tables asked for
 * is left out without asking. An error in the filter is raised as a Lua
 * error. */
int lm_reflect_include(lm_reflect *r, const char *name, const char *type_, const char *schema,
                       const char *table);

/* Cells of a result: text (NULL for SQL NULL), integer, boolean. */
const char *lm_reflect_text(const lm_result *res, size_t row, size_t col);
long long lm_reflect_int(const lm_result *res, size_t row, size_t col);
int lm_reflect_bool(const lm_result *res, size_t row, size_t col);

/* Builders of model values on the Lua stack. The set_* functions set a
 * field of the table on top of the stack (nothing for a NULL string). */
void lm_reflect_set_str(lua_State *L, const char *key, const char *value);
void lm_reflect_set_bool(lua_State *L, const char *key, int value);
void lm_reflect_set_int(lua_State *L, const char *key, long long value);
/* Pushes { kind = "text", text = text }, sa.text()'s shape. */
void lm_reflect_push_text(lua_State *L, const char *text);
/* Pushes { kind = "type", name = name, module = module }. */
void lm_reflect_push_type(lua_State *L, const char *name, const char *module);
/* Pushes a new metadata value: { kind = "metadata", tables = {},
 * sorted = {}, reflected = true, dialect = dialect,
 * default_schema = default_schema }. */
void lm_reflect_push_metadata(lua_State *L, const char *dialect, const char *default_schema);
/* Pushes a new table value (columns, c, constraints, indexes empty; an
 * unnamed primary key without columns); schema NULL = default schema. */
void lm_reflect_push_table(lua_State *L, const char *name, const char *schema);
/* Adds the table on top of the stack to the metadata at meta_idx (key
 * "name" or "schema.name", and sorted) and pops it. */
void lm_reflect_add_table(lua_State *L, int meta_idx);
/* Appends the value on top of the stack to the array field `key` of the
 * table at idx and pops it. */
void lm_reflect_append(lua_State *L, int idx, const char *key);
/* Adds the column on top of the stack to the table at tbl_idx (columns,
 * c) and pops it. */
void lm_reflect_add_column(lua_State *L, int tbl_idx);

/* The readers, one per database, reached through lm_driver.reflect. Each
 * pushes a metadata value holding the tables of the schemas asked for, or
 * returns -1 with the error slot set (nothing pushed). */
int lm_reflect_sqlite(lm_reflect *r);
int lm_reflect_pg(lm_reflect *r);

#endif
