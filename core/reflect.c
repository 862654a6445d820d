/*
 * reflect.c — what both readers of reflect.h share: the scratch memory of
 * a reflection, the include_name filter, and the builders of model values
 * on the Lua stack.
 */
#include "reflect.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

void lm_reflect_dispose(lm_reflect *r)
{
	for (size_t i = 0; i < r->nresults; i++)
		lm_result_free(r->results[i]);
	free(r->results);
	r->results = NULL;
	r->nresults = r->cap_results = 0;
	lm_pool_dispose(&r->pool);
	lm_strv_dispose(&r->schemas);
	lm_strv_dispose(&r->tables);
}

lm_result *lm_reflect_query(lm_reflect *r, const char *sql, const lm_value *params, size_t nparams)
{
	lm_result *res = NULL;
	if (r->conn->driver->query(r->conn, sql, params, nparams, &res, NULL) != 0)
		return NULL;
	if (r->nresults == r->cap_results) {
		r->cap_results = r->cap_results ? 2 * r->cap_results : 8;
		r->results = lm_realloc(r->results, r->cap_results * sizeof *r->results);
	}
	r->results[r->nresults++] = res;
	return res;
}

void *lm_reflect_alloc(lm_reflect *r, size_t n)
{
	return lm_pool_alloc(&r->pool, n);
}

char *lm_reflect_strndup(lm_reflect *r, const char *s, size_t n)
{
	return lm_pool_strndup(&r->pool, s, n);
}

int lm_reflect_include(lm_reflect *r, const char *name, const char *type_, const char *schema,
                       const char *table)
{
	lua_State *L = r->L;
	if (r->tables.n > 0 && strcmp(type_, "table") == 0 && !lm_strv_contains(&r->tables, name))
		return 0;
	if (!r->include_fn)
		return 1;
	lua_pushvalue(L, r->include_fn);
	if (name)
		lua_pushstring(L, name);
	else
		lua_pushnil(L);
	lua_pushstring(L, type_);
	/* parent_names, as Alembic builds it: {} for a schema, else
	 * schema_name (nil for the default schema), table_name for the
	 * objects of a table, and schema_qualified_table_name. */
	lua_createtable(L, 0, 3);
	if (strcmp(type_, "schema") != 0) {
		const char *tname = strcmp(type_, "table") == 0 ? name : table;
		lm_reflect_set_str(L, "schema_name", schema);
		if (table)
			lm_reflect_set_str(L, "table_name", table);
		if (tname) {
			if (schema)
				lua_pushfstring(L, "%s.%s", schema, tname);
			else
				lua_pushstring(L, tname);
			lua_setfield(L, -2, "schema_qualified_table_name");
		}
	}
	lua_call(L, 3, 1);
	int keep = lua_toboolean(L, -1);
	lua_pop(L, 1);
	return keep;
}

const char *lm_reflect_text(const lm_result *res, size_t row, size_t col)
{
	const lm_value *v = lm_result_at(res, row, col);
	if (v->type == LM_V_TEXT || v->type == LM_V_BLOB)
		return v->s;
	return NULL;
}

long long lm_reflect_int(const lm_result *res, size_t row, size_t col)
{
	const lm_value *v = lm_result_at(res, row, col);
	switch (v->type) {
	case LM_V_INT:
	case LM_V_BOOL:
		return v->i;
	case LM_V_FLOAT:
		return (long long)v->f;
	case LM_V_TEXT:
		return strtoll(v->s, NULL, 10);
	default:
		return 0;
	}
}

int lm_reflect_bool(const lm_result *res, size_t row, size_t col)
{
	const lm_value *v = lm_result_at(res, row, col);
	switch (v->type) {
	case LM_V_INT:
	case LM_V_BOOL:
		return v->i != 0;
	case LM_V_TEXT:
		return v->s[0] == 't' || v->s[0] == '1';
	default:
		return 0;
	}
}

void lm_reflect_set_str(lua_State *L, const char *key, const char *value)
{
	if (!value)
		return;
	lua_pushstring(L, value);
	lua_setfield(L, -2, key);
}

void lm_reflect_set_bool(lua_State *L, const char *key, int value)
{
	lua_pushboolean(L, value);
	lua_setfield(L, -2, key);
}

void lm_reflect_set_int(lua_State *L, const char *key, long long value)
{
	lua_pushinteger(L, (lua_Integer)value);
	lua_setfield(L, -2, key);
}

void lm_reflect_push_text(lua_State *L, const char *text)
{
	lua_createtable(L, 0, 2);
	lm_reflect_set_str(L, "kind", "text");
	lm_reflect_set_str(L, "text", text);
}

void lm_reflect_push_type(lua_State *L, const char *name, const char *module)
{
	lua_createtable(L, 0, 4);
	lm_reflect_set_str(L, "kind", "type");
	lm_reflect_set_str(L, "name", name);
	lm_reflect_set_str(L, "module", module);
}

void lm_reflect_push_metadata(lua_State *L, const char *dialect, const char *default_schema)
{
	lua_createtable(L, 0, 6);
	lm_reflect_set_str(L, "kind", "metadata");
	lua_newtable(L);
	lua_setfield(L, -2, "tables");
	lua_newtable(L);
	lua_setfield(L, -2, "sorted");
	lm_reflect_set_bool(L, "reflected", 1);
	lm_reflect_set_str(L, "dialect", dialect);
	lm_reflect_set_str(L, "default_schema", default_schema);
}

void lm_reflect_push_table(lua_State *L, const char *name, const char *schema)
{
	lua_createtable(L, 0, 9);
	lm_reflect_set_str(L, "kind", "table");
	lm_reflect_set_str(L, "name", name);
	lm_reflect_set_str(L, "schema", schema);
	lua_newtable(L);
	lua_setfield(L, -2, "columns");
	lua_newtable(L);
	lua_setfield(L, -2, "c");
	lua_newtable(L);
	lua_setfield(L, -2, "constraints");
	lua_newtable(L);
	lua_setfield(L, -2, "indexes");
	lua_createtable(L, 0, 2);
	lm_reflect_set_str(L, "kind", "primary_key");
	lua_newtable(L);
	lua_setfield(L, -2, "columns");
	lua_setfield(L, -2, "primary_key");
}

void lm_reflect_append(lua_State *L, int idx, const char *key)
{
	idx = lua_absindex(L, idx);
	lua_getfield(L, idx, key);
	lua_pushvalue(L, -2);
	lua_rawseti(L, -2, (lua_Integer)luaL_len(L, -2) + 1);
	lua_pop(L, 2);
}

void lm_reflect_add_table(lua_State *L, int meta_idx)
{
	meta_idx = lua_absindex(L, meta_idx);
	lua_getfield(L, meta_idx, "tables");
	lua_getfield(L, -2, "schema");
	if (lua_isstring(L, -1)) {
		lua_getfield(L, -3, "name");
		lua_pushfstring(L, "%s.%s", lua_tostring(L, -2), lua_tostring(L, -1));
		lua_replace(L, -3);
		lua_pop(L, 1);
	} else {
		lua_pop(L, 1);
		lua_getfield(L, -2, "name");
	}
	lua_pushvalue(L, -3);
	lua_rawset(L, -3);
	lua_pop(L, 1);
	lm_reflect_append(L, meta_idx, "sorted");
}

void lm_reflect_add_column(lua_State *L, int tbl_idx)
{
	tbl_idx = lua_absindex(L, tbl_idx);
	lua_getfield(L, tbl_idx, "c");
	lua_getfield(L, -2, "name");
	lua_pushvalue(L, -3);
	lua_rawset(L, -3);
	lua_pop(L, 1);
	lm_reflect_append(L, tbl_idx, "columns");
}
