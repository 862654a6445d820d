--[[ luamig.compare — autogenerate's comparison (Alembic's autogenerate/compare.py): the models
(target_metadata) against the live database, both values of the one schema model (luamig.sa),
and the differences as operation objects (luamig.op) — the same objects hand-written revisions
build.  Rendering them (luamig.autogenerate, luamig.render) is not done here.

Contract:
  compare.metadata_list(metadata) -> { metadata, ... } (a MetaData or a list of them; raises
        at the caller's caller on anything else)
  compare.context(mc, metadata_list) -> actx, the autogenerate context (Alembic's
        AutogenContext): { mc, opts = mc.opts, dialect, metadata, imports = {}, public = what
        user hooks receive as autogen_context }
  compare.reflect(actx) -> the database's schema: mc.reflected when set (tests, offline
        comparisons), else mc:inspect{ include_name =, schemas = } on the live connection
  compare.compare(actx, conn_metadata) -> the upgrade operations that take the database to the
        models: in Alembic's order, those of an existing table grouped in a "modify_table"
        operation (Alembic's ModifyTableOps).  Adjusts conn_metadata's reflected defaults in
        place (the dialect's reflected_default_for_compare).
  compare.types_differ(dialect, conn_type, meta_type) -> whether a column's type changed
  compare.normalise_default(sql) -> a default's SQL with what does not change its value removed
  compare.qualified(schema, name) -> "schema.name" or "name"
  compare.sort_by_dependency(entries) -> the entries ({ key, table, fk_default_schema }) in the
        order compare() creates tables: by key, each after the tables it refers to (sorted in
        place; the result may be `entries` itself)

mc fields used: dialect (a luamig.sqldialect object, or a name, or mc.dialect_name),
connection, as_sql, query, inspect, version_table, version_table_schema, history_table, opts
(what env.lua gave context.configure: include_object, include_name, include_schemas,
compare_type, compare_server_default, render_item for defaults), and optionally `reflected`.

Reflected values follow the schema model; a reflected server default is SQL text (sa.text or a
string of SQL), a reflected index that backs a unique constraint has the constraint's name or
`duplicates_constraint`.  A reflected metadata may name its `default_schema` (else the
dialect's default_schema).

Detected (as Alembic 1.8 + checks by name of 1.19): tables, columns, nullable, type (on by
default), server default (with compare_server_default), indexes and unique indexes, unique
constraints (named; unnamed by columns), foreign keys (with their options), named CHECK
constraints, table and column comments (where the dialect supports_comments).  Computed and
identity differences only warn.  Each detection is logged at INFO ("luamig.autogenerate.compare");
a warning goes to stderr ("luamig.autogenerate").  Errors: misuse raises.

Where luamig differs from Alembic on purpose: types compare as the DDL of the database's own
storage (the dialect's normalise_type_tokens: FLOAT(p) is REAL or DOUBLE PRECISION on
PostgreSQL, TIMESTAMP is DATETIME on SQLite, ARRAY is not its item type); defaults compare
normalised (parentheses, casts, quotes, now() / CURRENT_TIMESTAMP) before the database is asked
(the dialect's server_defaults_equal); index and unique columns compare in order; an expression
index is created with a new table (skipped only on existing ones); removed tables are dropped
dependents first.  Hooks get `mc` as their context.
]]

local sa = require "luamig.sa"
local op = require "luamig.op"
local render = require "luamig.render"
local dialects = require "luamig.sqldialect"
local base = require "luamig.sqldialect.base"
local log = require "luamig.log"
local txt = require "luamig.text"

local M = {}

local ops = op.ops

--------------------------------------------------------------------------------------------
-- Small helpers
--------------------------------------------------------------------------------------------

local function warn(msg)
  log.warning("luamig.autogenerate", msg)
end

-- Alembic logs each detection at INFO (silenced by --quiet).
local function info(msg)
  log.info("luamig.autogenerate.compare", msg)
end

local function shallow(t)
  local r = {}
  for k, v in pairs(t) do r[k] = v end
  return setmetatable(r, getmetatable(t))
end

function M.qualified(schema, name)
  if schema then return schema .. "." .. name end
  return name
end
local qualified = M.qualified

local function same_list(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do if a[i] ~= b[i] then return false end end
  return true
end

--------------------------------------------------------------------------------------------
-- The autogenerate context: the migration context, its options and its hooks
--------------------------------------------------------------------------------------------

-- The migration context's dialect object (mc.dialect may also be a name, or mc.dialect_name).
local function dialect_of(mc)
  local d = mc.dialect
  if type(d) == "string" then return dialects.get(d) end
  if d == nil and mc.dialect_name then return dialects.get(mc.dialect_name) end
  if d == nil then error("autogenerate: the migration context has no dialect", 3) end
  return d
end

function M.metadata_list(metadata)
  if metadata == nil then error("autogenerate: no target_metadata given", 3) end
  if type(metadata) == "table" and metadata.kind == "metadata" then return { metadata } end
  if type(metadata) ~= "table" then error("autogenerate: target_metadata must be a MetaData", 3) end
  for _, m in ipairs(metadata) do
    if type(m) ~= "table" or m.kind ~= "metadata" then
      error("autogenerate: target_metadata must be a MetaData or a list of them", 3)
    end
  end
  return metadata
end

function M.context(mc, metadata)
  local opts = mc.opts or {}
  local d = dialect_of(mc)
  local actx = { mc = mc, opts = opts, dialect = d, metadata = metadata, imports = {} }
  -- what user hooks receive as autogen_context (Alembic's AutogenContext)
  actx.public = { migration_context = mc, opts = opts, dialect = d, imports = actx.imports,
                  metadata = metadata }
  return actx
end

-- include_name(name, type_, parent_names): Alembic adds the schema-qualified table name.
local function name_ok(actx, name, type_, parents)
  local f = actx.opts.include_name
  if not f or actx.names_filtered then return true end
  parents = parents or {}
  if parents.schema_name ~= nil or type_ == "table" or parents.table_name then
    local tname = type_ == "table" and name or parents.table_name
    if tname then parents.schema_qualified_table_name = qualified(parents.schema_name, tname) end
  end
  return f(name, type_, parents) and true or false
end

local function object_ok(actx, obj, name, type_, reflected, compare_to)
  local f = actx.opts.include_object
  if not f then return true end
  return f(obj, name, type_, reflected, compare_to) and true or false
end

--------------------------------------------------------------------------------------------
-- Reflection and table sets
--------------------------------------------------------------------------------------------

function M.reflect(actx)
  local mc = actx.mc
  if mc.reflected then return mc.reflected end
  if mc.as_sql or not mc.connection then
    error("autogenerate needs a database connection to compare with", 0)
  end
  if type(mc.inspect) ~= "function" then
    error("autogenerate: luamig.inspect (database introspection) is not available", 0)
  end
  -- luamig.inspect applies include_name while it reads; the names it returns are not asked again
  actx.names_filtered = actx.opts.include_name ~= nil
  return mc:inspect({ include_name = actx.opts.include_name,
                      schemas = actx.opts.include_schemas and true or nil })
end

-- What Alembic's dialect impls change in reflected columns' defaults before comparing (see
-- the dialects' reflected_default_for_compare).
-- The convention keys of target_metadata whose template holds %(constraint_name)s: an op
-- given a plain name of that kind runs it through the template again (op.lua, as Alembic's
-- schemaobj does), so the database's names are rendered op.f(...) there. (Alembic renders
-- them plainly, and its revision then names a constraint the database does not have.)
local function expanding_kinds(actx)
  local tm = actx.opts.target_metadata
  local nc = type(tm) == "table" and tm.kind == "metadata" and tm.naming_convention
  if not nc then return nil end
  local kinds
  for kind, k in pairs(sa._convention_key) do
    local template = nc[k]
    if type(template) == "string" and template:find("%(constraint_name)s", 1, true) then
      kinds = kinds or {}
      kinds[kind] = true
    end
  end
  return kinds
end

local function prepare_reflected(actx, conn_md)
  local d = actx.dialect
  local kinds = expanding_kinds(actx)
  for _, t in pairs(kinds and conn_md.tables or {}) do
    for _, c in ipairs(t.constraints or {}) do
      if c.name and kinds[c.kind] then c.name_conv = true end
    end
    for _, ix in ipairs(t.indexes or {}) do
      if ix.name and kinds.index then ix.name_conv = true end
    end
    local pk = t.primary_key
    if pk and pk.name and kinds.primary_key then pk.name_conv = true end
  end
  for _, t in pairs(conn_md.tables or {}) do
    local cols = t.columns or {}
    for i = 1, #cols do
      local col = cols[i]
      local sd = col.server_default
      local text = type(sd) == "table" and sd.kind == "text" and sd.text or type(sd) == "string" and sd
      if text then col.server_default = d:reflected_default_for_compare(col, text) end
    end
  end
end

local function default_schema(actx, conn_md)
  return conn_md.default_schema or actx.dialect.default_schema
end

-- Tables of a metadata value, in declaration order (or key order when it has none).
local function tables_of(md)
  if md.sorted and #md.sorted > 0 then return md.sorted end
  local keys = {}
  for k in pairs(md.tables or {}) do keys[#keys + 1] = k end
  table.sort(keys)
  local r = {}
  for i, k in ipairs(keys) do r[i] = md.tables[k] end
  return r
end

-- SQLAlchemy's sorted_tables: by key, then in layers so that a table comes after the tables
-- its foreign keys refer to (self-references ignored; a cycle keeps the rest in key order).
-- entries: { key =, table = { constraints }, fk_default_schema = } (sorted in place; also
-- luamig.checkpoint's order for the tables it creates batch by batch). The result may be
-- `entries` itself (when no entry refers to another).
local function sort_by_dependency(entries)
  table.sort(entries, function(a, b) return a.key < b.key end)
  local by_key = {}
  for _, e in ipairs(entries) do by_key[e.key] = e end
  local deps = {}   -- only the entries that refer to others
  for _, e in ipairs(entries) do
    for _, c in ipairs(e.table.constraints or {}) do
      if c.kind == "foreign_key" then
        local k = qualified(c.referred_schema or e.fk_default_schema, c.referred_table)
        if by_key[k] and by_key[k] ~= e then
          deps[e] = deps[e] or {}
          deps[e][by_key[k]] = true
        end
      end
    end
  end
  if next(deps) == nil then return entries end
  local NONE = {}
  local out, todo = {}, {}
  for i, e in ipairs(entries) do todo[i] = e end
  while #todo > 0 do
    local pending = {}
    for _, e in ipairs(todo) do pending[e] = true end
    local layer, rest = {}, {}
    for _, e in ipairs(todo) do
      local ready = true
      for dep in pairs(deps[e] or NONE) do if pending[dep] then ready = false end end
      if ready then layer[#layer + 1] = e else rest[#rest + 1] = e end
    end
    if #layer == 0 then layer, rest = rest, {} end
    for _, e in ipairs(layer) do out[#out + 1] = e end
    todo = rest
  end
  return out
end

M.sort_by_dependency = sort_by_dependency

--------------------------------------------------------------------------------------------
-- Types
--------------------------------------------------------------------------------------------

local null_types = { NullType = true }

-- Alembic compares types by the DDL the dialect emits for each, split into a name, trailing
-- words and parenthesised arguments ("varchar", {}, {"50"}).  luamig also keeps "[]" so that an
-- ARRAY is not equal to its item type.
local function type_tokens(d, t)
  local ok, sql = pcall(d.type_sql, d, t)
  if not ok then return nil end
  sql = sql:lower()
  local words, args, i = {}, {}, 1
  while i <= #sql do
    local w = sql:match("^[%w_%-]+", i)
    local p = not w and sql:match("^%(.-%)", i)
    if w then
      words[#words + 1] = w; i = i + #w
    elseif p then
      args = {}
      for a in p:sub(2, -2):gmatch("[^,]+") do args[#args + 1] = txt.strip(a) end
      i = i + #p
    elseif sql:sub(i, i + 1) == "[]" then
      words[#words + 1] = "[]"; i = i + 2
    else
      i = i + 1
    end
  end
  if #words == 0 then return nil end
  local r = { token0 = table.remove(words, 1), tokens = {}, args = args }
  for _, w in ipairs(words) do
    if w == "[]" then r.token0 = r.token0 .. "[]" else r.tokens[#r.tokens + 1] = w end
  end
  return r
end

local synonyms = { { numeric = true, decimal = true } }

local function types_match(a, b)
  if a.token0 == b.token0 then return true end
  local all_a = table.concat({ a.token0, table.unpack(a.tokens) }, " ")
  local all_b = table.concat({ b.token0, table.unpack(b.tokens) }, " ")
  for _, set in ipairs(synonyms) do
    if (set[all_a] and set[all_b]) or (set[a.token0] and set[b.token0]) then return true end
  end
  return false
end

-- Arguments set on only one side do not count (String() matches VARCHAR(50)).
local function args_match(insp, meta)
  if #insp.tokens == #meta.tokens and not same_list(insp.tokens, meta.tokens) then return false end
  if #insp.args == #meta.args and not same_list(insp.args, meta.args) then return false end
  return true
end

-- True when the column types differ (Alembic's DefaultImpl.compare_type). The answer
-- depends only on the two types' SQL, which repeats across a schema: memoised.
local differ_memo = {}
function M.types_differ(d, conn_type, meta_type)
  local ok_a, sql_a = pcall(d.type_sql, d, conn_type)
  local ok_b, sql_b = pcall(d.type_sql, d, meta_type)
  local key = ok_a and ok_b and (d.name .. "\0" .. sql_a .. "\0" .. sql_b)
  if key and differ_memo[key] ~= nil then return differ_memo[key] end
  local a, b = type_tokens(d, conn_type), type_tokens(d, meta_type)
  local r
  if not a or not b then
    r = (conn_type.name or ""):lower() ~= (meta_type.name or ""):lower()
  else
    -- what the database stores for each declared type (the dialect's normalise_type_tokens)
    a, b = d:normalise_type_tokens(a), d:normalise_type_tokens(b)
    r = not types_match(a, b) or not args_match(a, b)
  end
  if key then differ_memo[key] = r end
  return r
end

local string_types = { String = true, Unicode = true, Text = true, UnicodeText = true,
                       VARCHAR = true, NVARCHAR = true, CHAR = true, NCHAR = true, TEXT = true,
                       CLOB = true, Enum = true, ENUM = true, CITEXT = true }

--------------------------------------------------------------------------------------------
-- Server defaults
--------------------------------------------------------------------------------------------

-- The model's default as SQL text for comparison (Alembic's _render_server_default_for_compare).
local function meta_default_text(actx, sd, col)
  local h = actx.opts.render_item
  if h then
    local r = h("server_default", sd, actx.public)
    if r ~= nil and r ~= false then return tostring(r) end
  end
  if sd == nil then return nil end
  if type(sd) == "string" then
    if string_types[col.type.name] then
      local v = sd:gsub("^'", ""):gsub("'$", "")
      return "'" .. v:gsub("'", "''") .. "'"
    end
    return sd
  end
  local ok, text = pcall(actx.dialect.expr, actx.dialect, sd)
  if ok then return text end
  return nil
end

local function conn_default_text(d, sd)
  if sd == nil then return nil end
  if type(sd) == "string" then return sd end
  if sd.kind == "text" or sd.kind == "literal_column" then return sd.text end
  local ok, text = pcall(d.expr, d, sd)
  return ok and text or nil
end

-- Strips what does not change a default's value: outer parentheses, PostgreSQL casts, the
-- quotes around a literal, case outside literals, and now() spelled CURRENT_TIMESTAMP.
local encloses = base.encloses_parens

local function normalise_default(text)
  if text == nil then return nil end
  local s = txt.strip(text)
  local prev
  repeat
    prev = s
    if encloses(s) then s = txt.strip(s:sub(2, -2)) end
    s = txt.rstrip(s:gsub("::[%a_][%w_ ]*$", ""):gsub("::\"[^\"]+\"$", ""))
    s = s:gsub('^"(\'.*\')"$', "%1")
  until s == prev
  -- a single quoted literal compares by its value ('1' and 1 are the same default)
  local lit = s:match("^'(.*)'$")
  if lit and not lit:gsub("''", ""):find("'", 1, true) then
    return (lit:gsub("''", "'"))
  end
  s = s:lower():gsub("%s+", " ")
  if s == "now()" or s == "current_timestamp()" then s = "current_timestamp" end
  return s
end
M.normalise_default = normalise_default

local function defaults_differ(actx, conn_col, meta_col, meta_text, conn_text, auto)
  local f = actx.opts.compare_server_default
  if type(f) == "function" then
    local r = f(actx.mc, conn_col, meta_col, conn_text, meta_col.server_default, meta_text)
    if r ~= nil then return r and true or false end
  end
  -- a default the autoincrement column owns (PostgreSQL's SERIAL nextval) is not compared
  if actx.dialect.autoincrement_default_is_implicit and auto then return false end
  if meta_text == conn_text then return false end
  if meta_text == nil or conn_text == nil then return true end
  if normalise_default(meta_text) == normalise_default(conn_text) then return false end
  -- the database may know better (PostgreSQL is asked); the model's plain string default is a
  -- literal value there, quoted unless the column is a string type
  local m = meta_text
  if type(meta_col.server_default) == "string" and not string_types[conn_col.type.name]
      and not m:match("^'.*'$") and not tonumber(m) then
    m = "'" .. m:gsub("'", "''") .. "'"
  end
  local eq = actx.dialect:server_defaults_equal(actx.mc, conn_text, m)
  if eq ~= nil then return not eq end
  return true
end

--------------------------------------------------------------------------------------------
-- Columns
--------------------------------------------------------------------------------------------

-- The column an add_column / drop_column carries: its foreign keys, unique and index flags
-- are compared (and rendered) as constraints and indexes of their own, as in Alembic.
-- A deep copy (sa._copy_column's) that leaves out what the bare column drops, rather than
-- copying it first.
local not_bare = { table = true, foreign_keys = true, constraints = true, unique = true, index = true }
local function bare_column(col)
  local c, seen = {}, nil
  for k, v in next, col do
    if not not_bare[k] then
      if type(v) == "table" then
        seen = seen or { [col] = c }
        v = sa._deep_copy(v, seen)
      end
      c[k] = v
    end
  end
  c.foreign_keys = {}
  c.primary_key = false
  return setmetatable(c, getmetatable(col))
end

local function identity_options(id)
  local r = {}
  for k, v in pairs(id or {}) do
    if k ~= "kind" then r[#r + 1] = k .. "=" .. tostring(v) end
  end
  table.sort(r)
  return table.concat(r, ",")
end

local function crude_sql(s)
  return ((s or ""):gsub("[%s%(%)'\"`%[%]]", ""):lower())
end

-- auto: the models' autoincrement column of the table (nil when none, or when the table's
-- primary key cannot have one), as sa.autoincrement_column finds it.
local function compare_column(actx, alter, s, tname, cname, conn_col, meta_col, auto)
  local d = actx.dialect
  -- nullable
  alter.existing_nullable = conn_col.nullable ~= false
  local meta_nullable = meta_col.nullable ~= false
  if alter.existing_nullable ~= meta_nullable then
    local computed_unset = meta_col.computed and not meta_col._nullable_set
    if computed_unset or meta_col.identity or conn_col.identity then
      info(string.format("Ignoring nullable change on identity column '%s.%s'", tname, cname))
    else
      alter.nullable = meta_nullable
      info(string.format("Detected %s on column '%s.%s'", meta_nullable and "NULL" or "NOT NULL",
                         tname, cname))
    end
  end
  -- autoincrement: said on the alter so that it survives a batch rebuild
  local is_auto = auto ~= nil and auto == meta_col
  if is_auto or meta_col.autoincrement == true then
    alter.autoincrement = true
  elseif meta_col.autoincrement == false then
    alter.autoincrement = false
  end
  -- type
  alter.existing_type = conn_col.type
  local ct, mt = conn_col.type or sa.NullType(), meta_col.type or sa.NullType()
  if null_types[ct.name] then
    info(string.format("Couldn't determine database type for column '%s.%s'", tname, cname))
  elseif null_types[mt.name] then
    info(string.format("Column '%s.%s' has no type within the model; can't compare", tname, cname))
  else
    local cmp = actx.opts.compare_type
    local differ
    if cmp == false then
      differ = false
    else
      if type(cmp) == "function" then
        local r = cmp(actx.mc, conn_col, meta_col, ct, mt)
        if r ~= nil then differ = r and true or false end
      end
      if differ == nil then differ = M.types_differ(d, ct, mt) end
    end
    if differ then
      alter.type_ = mt
      info(string.format("Detected type change from %s to %s on '%s.%s'", render.type(ct),
                         render.type(mt), tname, cname))
    end
  end
  -- server default
  alter.existing_server_default = conn_col.server_default
  local msd, csd = meta_col.server_default, conn_col.server_default
  if meta_col.computed or conn_col.computed then
    local a = meta_col.computed and crude_sql(meta_col.computed.sqltext) or ""
    local b = conn_col.computed and crude_sql(conn_col.computed.sqltext) or ""
    if a ~= b then warn(string.format("Computed default on %s.%s cannot be modified", tname, cname)) end
  elseif meta_col.identity or conn_col.identity then
    if identity_options(meta_col.identity) ~= identity_options(conn_col.identity)
        and actx.opts.compare_server_default then
      warn(string.format("Identity options of %s.%s differ; luamig does not alter identity "
                         .. "columns", tname, cname))
    end
  elseif actx.opts.compare_server_default and not (msd == nil and csd == nil) then
    local mtext = meta_default_text(actx, msd, meta_col)
    local ctext = conn_default_text(d, csd)
    if defaults_differ(actx, conn_col, meta_col, mtext, ctext, is_auto) then
      if msd == nil then alter.server_default = false else alter.server_default = msd end
      info(string.format("Detected server default on column '%s.%s'", tname, cname))
    end
  end
  -- comment
  if d.supports_comments and not (conn_col.comment == nil and meta_col.comment == nil) then
    alter.existing_comment = conn_col.comment
    if conn_col.comment ~= meta_col.comment then
      if meta_col.comment == nil then alter.comment = false else alter.comment = meta_col.comment end
      info(string.format("Detected column comment '%s.%s'", tname, cname))
    end
  end
end

local function alter_has_changes(a)
  return a.nullable ~= nil or a.type_ ~= nil or a.server_default ~= nil or a.comment ~= nil
end

--------------------------------------------------------------------------------------------
-- Indexes and unique constraints (Alembic's _compare_indexes_and_uniques)
--------------------------------------------------------------------------------------------

local function plain_columns(obj)
  local r = {}
  for _, c in ipairs(obj.columns or {}) do
    if type(c) == "string" then r[#r + 1] = c end
  end
  return r
end

local function has_expression(ix)
  for _, c in ipairs(ix.columns or {}) do
    if type(c) ~= "string" then return true end
  end
  return false
end

local function sig_of(obj)
  return table.concat(plain_columns(obj), "\0")
end

local function index_for(ix, tname, s)
  local r = shallow(ix)
  r.table, r.schema = tname, s
  return r
end

local NONE = {}

-- Whether the string columns of a and b are the same list (what sig_of compares, without
-- building it).
local function same_plain_columns(a, b)
  local ca, cb = a.columns or NONE, b.columns or NONE
  local i, j = 1, 1
  while true do
    while ca[i] ~= nil and type(ca[i]) ~= "string" do i = i + 1 end
    while cb[j] ~= nil and type(cb[j]) ~= "string" do j = j + 1 end
    if ca[i] ~= cb[j] then return false end
    if ca[i] == nil then return true end
    i, j = i + 1, j + 1
  end
end

-- The name an index or constraint has in the database, which the comparison matches on: one
-- a naming convention made or op.f() marked, over the dialect's limit, shortened as its DDL
-- shortens it (dialect:constraint_name), and an explicit one over the limit refused there, as
-- Alembic's comparison refuses it. Hooks and messages keep the model's own name.
local function db_name(actx, obj)
  local n = obj.name
  if n == nil then return nil end
  return actx.dialect:constraint_name(n, obj.name_conv)
end

-- The usual table: no unique constraint on either side and the same indexes (by name, each
-- once, plain columns, same columns and uniqueness), with no include_name hook to ask. The
-- comparison below finds nothing to do then, and says nothing: known here without its
-- bookkeeping (a score of tables and closures a table).
local function same_plain_indexes(actx, conn_t, meta_t)
  if actx.opts.include_name and not actx.names_filtered then return false end
  for _, c in ipairs(meta_t.constraints or NONE) do
    if c.kind == "unique" then return false end
  end
  for _, c in ipairs(conn_t.constraints or NONE) do
    if c.kind == "unique" then return false end
  end
  local m, c = meta_t.indexes or NONE, conn_t.indexes or NONE
  if #m ~= #c then return false end
  if #m == 0 then return true end
  local by_name = {}
  for _, ix in ipairs(c) do
    local n = ix.name
    if n == nil or by_name[n] ~= nil or ix.duplicates_constraint
        or (ix.dialect_kw and ix.dialect_kw.duplicates_constraint) then
      return false
    end
    by_name[n] = ix
  end
  for _, ix in ipairs(m) do
    local name = db_name(actx, ix)
    local other = name ~= nil and by_name[name]
    if not other or has_expression(ix) or (ix.unique and true or false) ~= (other.unique and true or false)
        or not same_plain_columns(ix, other) then
      return false
    end
    by_name[name] = false -- matched: a second model index of that name is not
  end
  return true
end

local function compare_indexes_and_uniques(actx, mops, s, tname, conn_t, meta_t)
  if conn_t and meta_t and same_plain_indexes(actx, conn_t, meta_t) then return end
  local is_create, is_drop = conn_t == nil, meta_t == nil
  local parents = function() return { table_name = tname, schema_name = s } end
  local m_uqs, m_ixs, c_uqs, c_ixs = {}, {}, {}, {}
  if meta_t then
    for _, c in ipairs(meta_t.constraints or {}) do
      if c.kind == "unique" then m_uqs[#m_uqs + 1] = c end
    end
    for _, ix in ipairs(meta_t.indexes or {}) do m_ixs[#m_ixs + 1] = ix end
  end
  if conn_t then
    if not is_drop then
      for _, c in ipairs(conn_t.constraints or {}) do
        if c.kind == "unique" and name_ok(actx, c.name, "unique_constraint", parents()) then
          c_uqs[#c_uqs + 1] = c
        end
      end
    end
    local uq_names = {}
    for _, c in ipairs(conn_t.constraints or {}) do
      if c.kind == "unique" and c.name then uq_names[c.name] = true end
    end
    for _, ix in ipairs(conn_t.indexes or {}) do
      -- PostgreSQL reports the index behind a unique constraint as an index too
      local dup = ix.duplicates_constraint or (ix.dialect_kw and ix.dialect_kw.duplicates_constraint)
      if not dup and not (ix.name and uq_names[ix.name]) and name_ok(actx, ix.name, "index", parents()) then
        c_ixs[#c_ixs + 1] = ix
      end
    end
    -- an expression index cannot be compared with what reflection gives back; one the
    -- database has under the same name is left alone (Alembic warns the same way)
    local conn_ix_names = {}
    for _, ix in ipairs(c_ixs) do if ix.name then conn_ix_names[ix.name] = true end end
    local kept = {}
    for _, ix in ipairs(m_ixs) do
      if has_expression(ix) and not conn_ix_names[db_name(actx, ix)] then
        warn("autogenerate skipping functional index " .. tostring(ix.name)
             .. "; not supported by reflection")
      else
        kept[#kept + 1] = ix
      end
    end
    m_ixs = kept
  end

  local function entry(obj, is_index)
    local unique = true
    if is_index then unique = obj.unique and true or false end
    return { obj = obj, name = obj.name, key = db_name(actx, obj), is_index = is_index,
             is_unique = unique, sig = sig_of(obj) }
  end
  local meta_names, meta_order = {}, {}
  local unnamed_meta_uqs, unnamed_order = {}, {}
  local meta_ix_by_sig, meta_uq_by_sig = {}, {}
  for _, ix in ipairs(m_ixs) do
    local e = entry(ix, true)
    if e.key then meta_names[e.key] = e; meta_order[#meta_order + 1] = e.key end
    meta_ix_by_sig[e.sig] = e
  end
  for _, uq in ipairs(m_uqs) do
    local e = entry(uq, false)
    meta_uq_by_sig[e.sig] = e
    if e.key then
      meta_names[e.key] = e; meta_order[#meta_order + 1] = e.key
    elseif not unnamed_meta_uqs[e.sig] then
      unnamed_meta_uqs[e.sig] = e; unnamed_order[#unnamed_order + 1] = e.sig
    end
  end
  local conn_names, conn_uq_by_name, conn_ix_by_name, conn_uq_by_sig = {}, {}, {}, {}
  for _, uq in ipairs(c_uqs) do
    local e = entry(uq, false)
    conn_uq_by_sig[e.sig] = e
    if e.key then conn_uq_by_name[e.key] = e; conn_names[e.key] = e end
  end
  for _, ix in ipairs(c_ixs) do
    local e = entry(ix, true)
    if e.key then conn_ix_by_name[e.key] = e; conn_names[e.key] = e end
  end

  local function added(e)
    if e.is_index then
      if object_ok(actx, e.obj, e.name, "index", false, nil) then
        mops[#mops + 1] = op.new("create_index", { index = index_for(e.obj, tname, s) })
        info(string.format("Detected added index '%s' on '%s'", tostring(e.name),
                           table.concat(plain_columns(e.obj), ", ")))
      end
    else
      if is_create or is_drop then return end
      if object_ok(actx, e.obj, e.name, "unique_constraint", false, nil) then
        mops[#mops + 1] = op.new("add_constraint", { constraint = e.obj, table_name = tname, schema = s })
        info(string.format("Detected added unique constraint '%s' on '%s'", tostring(e.name),
                           table.concat(plain_columns(e.obj), ", ")))
      end
    end
  end
  local function removed(e)
    if e.is_index then
      if object_ok(actx, e.obj, e.name, "index", true, nil) then
        mops[#mops + 1] = op.new("drop_index", { index_name = e.name, table_name = tname, schema = s,
                                                 index = index_for(e.obj, tname, s) })
        info(string.format("Detected removed index '%s' on '%s'", e.name, tname))
      end
    else
      if is_create or is_drop then return end
      if object_ok(actx, e.obj, e.name, "unique_constraint", true, nil) then
        mops[#mops + 1] = op.new("drop_constraint", { constraint_name = e.name, table_name = tname,
                                                      type_ = "unique", schema = s, constraint = e.obj })
        info(string.format("Detected removed unique constraint '%s' on '%s'", e.name, tname))
      end
    end
  end
  local function changed(old, new, why)
    local kind = old.is_index and "index" or "unique_constraint"
    if not object_ok(actx, new.obj, new.name, kind, false, old.obj) then return end
    info(string.format("Detected changed %s '%s' on '%s': %s",
                       old.is_index and "index" or "unique constraint", old.name, tname, why))
    removed(old)
    added(new)
  end

  local function sorted_names(set, pred)
    local r = {}
    for n in pairs(set) do if pred(n) then r[#r + 1] = n end end
    table.sort(r)
    return r
  end
  for _, n in ipairs(sorted_names(conn_names, function(n) return meta_names[n] == nil end)) do
    local e = conn_names[n]
    if not e.is_index and unnamed_meta_uqs[e.sig] then
      -- the database's name for a constraint the model leaves unnamed
    elseif conn_uq_by_name[n] and conn_ix_by_name[n] then
      if not meta_ix_by_sig[e.sig] and not meta_uq_by_sig[e.sig] then
        removed(conn_uq_by_name[n]); removed(conn_ix_by_name[n])
      end
    else
      removed(e)
    end
  end
  for _, n in ipairs(sorted_names(meta_names, function(n) return conn_names[n] ~= nil end)) do
    local m = meta_names[n]
    local c = conn_names[n]
    if conn_uq_by_name[n] and conn_ix_by_name[n] then
      c = m.is_index and conn_ix_by_name[n] or conn_uq_by_name[n]
    end
    if c.is_index ~= m.is_index then
      removed(c); added(m)
    else
      local why = {}
      if c.is_unique ~= m.is_unique then
        why[#why + 1] = string.format("unique=%s to unique=%s", tostring(c.is_unique), tostring(m.is_unique))
      end
      if c.sig ~= m.sig then
        why[#why + 1] = string.format("columns (%s) to (%s)", table.concat(plain_columns(c.obj), ", "),
                                      table.concat(plain_columns(m.obj), ", "))
      end
      if #why > 0 then changed(c, m, table.concat(why, ", ")) end
    end
  end
  for _, n in ipairs(meta_order) do
    if conn_names[n] == nil and meta_names[n] then added(meta_names[n]) end
  end
  for _, sig in ipairs(unnamed_order) do
    if not conn_uq_by_sig[sig] then added(unnamed_meta_uqs[sig]) end
  end
end

--------------------------------------------------------------------------------------------
-- Foreign keys, check constraints, table comments
--------------------------------------------------------------------------------------------

local function fk_action(a)
  if a == nil then return "" end
  a = a:lower()
  if a == "no action" then return "" end
  return a
end

local function fk_sig(actx, fk, md_schema)
  local target_schema = fk.referred_schema or md_schema
  if target_schema == actx.default_schema then target_schema = nil end
  local defer = "not deferrable"
  if fk.initially and fk.initially:lower() == "deferred" then defer = "initially_deferrable"
  elseif fk.deferrable then defer = "deferrable" end
  return table.concat({ table.concat(fk.columns, ","), target_schema or "", fk.referred_table,
                        table.concat(fk.referred_columns, ","), fk_action(fk.onupdate),
                        fk_action(fk.ondelete), defer }, "|")
end

local function fk_text(fk)
  return string.format("(%s)(%s)", table.concat(fk.columns, ", "), table.concat(fk.referred_columns, ", "))
end

local function compare_foreign_keys(actx, mops, s, tname, conn_t, meta_t, md_schema)
  if conn_t == nil or meta_t == nil then return end
  local m_fks, c_fks = {}, {}
  for _, c in ipairs(meta_t.constraints or {}) do
    if c.kind == "foreign_key" then m_fks[#m_fks + 1] = c end
  end
  for _, c in ipairs(conn_t.constraints or {}) do
    if c.kind == "foreign_key"
        and name_ok(actx, c.name, "foreign_key_constraint", { table_name = tname, schema_name = s }) then
      c_fks[#c_fks + 1] = c
    end
  end
  local m_by_sig, c_by_sig, m_by_name, c_by_name = {}, {}, {}, {}
  for _, fk in ipairs(m_fks) do
    m_by_sig[fk_sig(actx, fk, md_schema)] = fk
    if fk.name then m_by_name[db_name(actx, fk)] = fk end
  end
  for _, fk in ipairs(c_fks) do
    c_by_sig[fk_sig(actx, fk, nil)] = fk
    if fk.name then c_by_name[fk.name] = fk end
  end
  local source = qualified(s, tname)
  for _, fk in ipairs(c_fks) do
    if not m_by_sig[fk_sig(actx, fk, nil)]
        and object_ok(actx, fk, fk.name, "foreign_key_constraint", true, fk.name and m_by_name[fk.name]) then
      mops[#mops + 1] = op.new("drop_constraint", { constraint_name = fk.name, table_name = tname,
                                                    type_ = "foreignkey", schema = s, constraint = fk })
      info(string.format("Detected removed foreign key %s on table %s", fk_text(fk), source))
    end
  end
  for _, fk in ipairs(m_fks) do
    if not c_by_sig[fk_sig(actx, fk, md_schema)]
        and object_ok(actx, fk, fk.name, "foreign_key_constraint", false, fk.name and c_by_name[fk.name]) then
      local c = fk
      if fk.referred_schema == nil and md_schema and md_schema ~= actx.default_schema then
        c = shallow(fk); c.referred_schema = md_schema
      end
      mops[#mops + 1] = op.new("add_constraint", { constraint = c, table_name = tname, schema = s })
      info(string.format("Detected added foreign key %s on table %s", fk_text(fk), source))
    end
  end
end

-- CHECK constraints are compared by name only, as Alembic 1.19 does: their SQL comes back
-- from the database rewritten, and an unnamed one cannot be told apart.
local function compare_checks(actx, mops, s, tname, conn_t, meta_t)
  if conn_t == nil or meta_t == nil then return end
  local m, c, m_order, c_order = {}, {}, {}, {}
  for _, x in ipairs(meta_t.constraints or {}) do
    if x.kind == "check" and x.name then m[db_name(actx, x)] = x; m_order[#m_order + 1] = x end
  end
  for _, x in ipairs(conn_t.constraints or {}) do
    if x.kind == "check" and x.name
        and name_ok(actx, x.name, "check_constraint", { table_name = tname, schema_name = s }) then
      c[x.name] = x; c_order[#c_order + 1] = x
    end
  end
  for _, x in ipairs(c_order) do
    if not m[x.name] and object_ok(actx, x, x.name, "check_constraint", true, nil) then
      mops[#mops + 1] = op.new("drop_constraint", { constraint_name = x.name, table_name = tname,
                                                    type_ = "check", schema = s, constraint = x })
      info(string.format("Detected removed check constraint '%s' on '%s'", x.name, tname))
    end
  end
  for _, x in ipairs(m_order) do
    if not c[db_name(actx, x)] and object_ok(actx, x, x.name, "check_constraint", false, nil) then
      mops[#mops + 1] = op.new("add_constraint", { constraint = x, table_name = tname, schema = s })
      info(string.format("Detected added check constraint '%s' on '%s'", x.name, tname))
    end
  end
end

local function compare_table_comment(actx, mops, s, tname, conn_t, meta_t)
  if not actx.dialect.supports_comments or conn_t == nil or meta_t == nil then return end
  if conn_t.comment == nil and meta_t.comment == nil then return end
  if meta_t.comment == nil then
    mops[#mops + 1] = op.new("drop_table_comment", { table_name = tname, existing_comment = conn_t.comment,
                                                     schema = s })
    info(string.format("Detected removed table comment '%s'", tname))
  elseif meta_t.comment ~= conn_t.comment then
    mops[#mops + 1] = op.new("create_table_comment", { table_name = tname, comment = meta_t.comment,
                                                       existing_comment = conn_t.comment, schema = s })
    info(string.format("Detected table comment '%s'", tname))
  end
end

-- Everything compared at table level, in Alembic's order.
local function compare_table_items(actx, mops, s, tname, conn_t, meta_t, md_schema)
  compare_indexes_and_uniques(actx, mops, s, tname, conn_t, meta_t)
  compare_foreign_keys(actx, mops, s, tname, conn_t, meta_t, md_schema)
  compare_checks(actx, mops, s, tname, conn_t, meta_t)
  compare_table_comment(actx, mops, s, tname, conn_t, meta_t)
end

--------------------------------------------------------------------------------------------
-- Tables
--------------------------------------------------------------------------------------------

-- The table a create_table / drop_table carries: its indexes come as operations of their own.
local function without_indexes(tbl, schema)
  local t = shallow(tbl)
  t.indexes = {}
  t.schema = schema
  return t
end

-- (The loops over a table's columns index them: ipairs is a C call per column.)
local function compare_columns(actx, mops, s, tname, conn_t, meta_t)
  local conn_cols, conn_order = {}, {}
  -- the parents table is made only for an include_name hook to see (a new one per call)
  local named = actx.opts.include_name and not actx.names_filtered
  local ccols, mcols = conn_t.columns, meta_t.columns
  for i = 1, #ccols do
    local c = ccols[i]
    if not named or name_ok(actx, c.name, "column", { table_name = tname, schema_name = s }) then
      conn_cols[c.name] = c
      conn_order[#conn_order + 1] = c
    end
  end
  local meta_cols = {}
  for i = 1, #mcols do
    local c = mcols[i]
    if not c.system then meta_cols[c.name] = c end
  end
  local name = qualified(s, tname)
  -- once per table: it looks at the whole primary key
  local ok, auto = pcall(sa.autoincrement_column, meta_t)
  if not ok then auto = nil end
  for i = 1, #mcols do
    local c = mcols[i]
    if not c.system and not conn_cols[c.name] and object_ok(actx, c, c.name, "column", false, nil) then
      -- the operation made as the other ones here are: op.add_column's binding of a user's
      -- arguments (an options table to check) was 7 % of an autogenerate's Lua
      mops[#mops + 1] = op.new("add_column", { table_name = tname, column = bare_column(c),
                                               schema = s })
      info(string.format("Detected added column '%s.%s'", name, c.name))
    end
  end
  for i = 1, #mcols do
    local c = mcols[i]
    local cc = conn_cols[c.name]
    if not c.system and cc and object_ok(actx, c, c.name, "column", false, cc) then
      local alter = { table_name = tname, column_name = c.name, schema = s }
      compare_column(actx, alter, s, tname, c.name, cc, c, auto)
      if alter_has_changes(alter) then mops[#mops + 1] = op.new("alter_column", alter) end
    end
  end
  -- removed columns go last, after their indexes and constraints are gone
  return function()
    for _, cc in ipairs(conn_order) do
      if not meta_cols[cc.name] and object_ok(actx, cc, cc.name, "column", true, nil) then
        mops[#mops + 1] = op.new("drop_column", { table_name = tname, column_name = cc.name,
                                                  schema = s, column = bare_column(cc) })
        info(string.format("Detected removed column '%s.%s'", name, cc.name))
      end
    end
  end
end

local function modify_table(tname, s, list)
  return ops.modify_table_ops(tname, list, { schema = s })
end

-- The upgrade operations that take the database `conn_md` to the models.
function M.compare(actx, conn_md)
  local mc = actx.mc
  prepare_reflected(actx, conn_md)
  actx.default_schema = default_schema(actx, conn_md)
  local function norm(schema)
    if schema == nil or schema == actx.default_schema then return nil end
    return schema
  end
  local vt, vts = mc.version_table, norm(mc.version_table_schema)
  -- luamig's own tables (the version table, the audit history) are never in the diff
  local ht = mc.history_table
  local function is_version_table(s, name)
    return (vt ~= nil and name == vt and s == vts) or (ht ~= nil and name == ht and s == vts)
  end

  -- the database's tables, in the schemas autogenerate looks at
  local schema_ok = {}
  local function schema_included(s)
    if s ~= nil and not actx.opts.include_schemas then return false end
    if s ~= nil and s:lower() == "information_schema" then return false end
    if schema_ok[s or false] == nil then
      schema_ok[s or false] = name_ok(actx, s, "schema", {})
    end
    return schema_ok[s or false]
  end
  local conn = {}
  for _, t in pairs(conn_md.tables or {}) do
    local s = norm(t.schema)
    if schema_included(s) and not is_version_table(s, t.name)
        and name_ok(actx, t.name, "table", { schema_name = s }) then
      conn[qualified(s, t.name)] = { key = qualified(s, t.name), schema = s, name = t.name, table = t }
    end
  end
  -- the models' tables
  local meta, meta_list = {}, {}
  for _, md in ipairs(actx.metadata) do
    for _, t in ipairs(tables_of(md)) do
      local s = norm(t.schema)
      local key = qualified(s, t.name)
      if not is_version_table(s, t.name) then
        if meta[key] then error("autogenerate: table '" .. key .. "' is defined twice", 0) end
        local e = { key = key, schema = s, name = t.name, table = t, md_schema = md.schema,
                    fk_default_schema = norm(md.schema) }
        meta[key] = e
        meta_list[#meta_list + 1] = e
      end
    end
  end

  local upgrade = {}
  local added, removed, existing = {}, {}, {}
  for _, e in ipairs(meta_list) do
    if conn[e.key] then existing[#existing + 1] = e else added[#added + 1] = e end
  end
  for key, e in pairs(conn) do
    if not meta[key] then removed[#removed + 1] = e end
  end

  for _, e in ipairs(sort_by_dependency(added)) do
    if object_ok(actx, e.table, e.name, "table", false, nil) then
      upgrade[#upgrade + 1] = ops.create_table_from(without_indexes(e.table, e.schema))
      info(string.format("Detected added table '%s'", e.key))
      local mops = {}
      compare_table_items(actx, mops, e.schema, e.name, nil, e.table, e.md_schema)
      if #mops > 0 then upgrade[#upgrade + 1] = modify_table(e.name, e.schema, mops) end
    end
  end
  -- dependent tables are dropped before the tables they refer to
  local drop_order = sort_by_dependency(removed)
  for i = #drop_order, 1, -1 do
    local e = drop_order[i]
    if object_ok(actx, e.table, e.name, "table", true, nil) then
      local mops = {}
      compare_table_items(actx, mops, e.schema, e.name, e.table, nil, nil)
      if #mops > 0 then upgrade[#upgrade + 1] = modify_table(e.name, e.schema, mops) end
      upgrade[#upgrade + 1] = op.new("drop_table", { table_name = e.name, schema = e.schema,
                                                     table = without_indexes(e.table, e.schema) })
      info(string.format("Detected removed table '%s'", e.key))
    end
  end
  -- by schema, then name: one string each (Lua compares strings piece by piece between NULs,
  -- so "schema\0name" orders as the pair does), not a pair compared at each of the sort's
  -- thousand comparisons
  for _, e in ipairs(existing) do e.sort_key = (e.schema or "") .. "\0" .. e.name end
  table.sort(existing, function(a, b) return a.sort_key < b.sort_key end)
  for _, e in ipairs(existing) do
    local ct = conn[e.key].table
    if object_ok(actx, e.table, e.name, "table", false, ct) then
      local mops = {}
      local finish = compare_columns(actx, mops, e.schema, e.name, ct, e.table)
      compare_table_items(actx, mops, e.schema, e.name, ct, e.table, e.md_schema)
      finish()
      if #mops > 0 then upgrade[#upgrade + 1] = modify_table(e.name, e.schema, mops) end
    end
  end
  return upgrade
end

return M
