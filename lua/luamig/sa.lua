--[[ luamig.sa — SQLAlchemy's schema API, in Lua.

Contract: every constructor returns plain data (a Lua table with a `kind` field), so that a table
declared in models.lua, a table given to op.create_table and a table read back by introspection
are values of the same shape, and autogenerate can compare them with a plain diff.  Nothing here
talks to a database or knows a dialect; luamig.sqldialect turns these values into SQL and
luamig.render turns them back into Lua source.

THE SCHEMA MODEL (field names follow SQLAlchemy's; absent = nil)

  type        { kind="type", name="String", module="sa"|"postgresql", ...arguments }
              name is SQLAlchemy's class name ("Integer", "String", "VARCHAR", "Enum", "JSONB").
              arguments by name: length, collation, precision, scale, asdecimal, timezone,
              enums (array of strings), enum_name, native_enum, create_constraint,
              create_type, schema, item_type (a type), dimensions, as_uuid, fsp, ...
  column      { kind="column", name, type, nullable (bool), primary_key (bool),
                constraints = nil | { check, ... } (CHECKs given as positional arguments; a
                table built from the column lists them among its constraints, with _column),
                server_default = nil | string (a literal value, quoted when rendered)
                                     | clause (sa.text / sa.func.* / sa.true_() / ...),
                default (client-side, never in DDL), autoincrement ("auto"|true|false),
                unique, index, comment, computed, identity, foreign_keys = { fk spec ... },
                dialect_kw = { sqlite_on_conflict_not_null = ..., ... } }
  fk spec     { kind="foreign_key_spec", target="schema.table.col" | "table.col", name,
                ondelete, onupdate, deferrable, initially, match, use_alter }
  table       { kind="table", name, schema, comment, info, prefixes,
                columns = { column, ... } (declaration order), c = { [name] = column },
                primary_key = constraint of kind "primary_key" (columns may be empty),
                constraints = { unique | foreign_key | check | exclude ... } (creation order),
                indexes = { index, ... }, dialect_kw = { sqlite_autoincrement = true, ... } }
              sa.table() builds the same shape with lightweight = true (columns only).
  constraints { kind="primary_key"|"unique", name, columns = { "a", ... }, deferrable, initially }
              { kind="foreign_key", name, columns, referred_schema, referred_table,
                referred_columns, ondelete, onupdate, deferrable, initially, match, use_alter }
              { kind="check", name, sqltext (string), deferrable, initially }
              { kind="exclude", name, elements = { {expr, operator}, ... }, using, where }
  index       { kind="index", name, table (name), schema, unique (bool),
                columns = { "col" | clause, ... }, dialect_kw = { postgresql_where = ..., ... } }
  clauses     { kind="text", text }  { kind="func", name, args }  { kind="true" }
              { kind="false" }  { kind="null" }  { kind="literal_column", text }
              { kind="computed", sqltext, persisted }  { kind="identity", always, start, ... }
  metadata    { kind="metadata", naming_convention, schema, tables = { [key] = table },
                sorted = { table, ... } (declaration order) }

Fields whose name starts with "_" are construction bookkeeping, not part of the model; a diff
ignores them.

A name produced by op.f()/sa.conv() is stored as a plain string with `name_conv = true` next to it
(so naming conventions leave it alone and render.lua writes op.f(...) back).

REFLECTED VALUES — what luamig.inspect(conn) (core/reflect_*.c) builds from a live database: the
shapes above, filled as SQLAlchemy 1.4's inspector reports them (Alembic compares and renders
these), plus the fields marked "+" (absent from declared values).
  metadata    + reflected = true, dialect = "sqlite"|"postgresql", default_schema = "main"|"public",
              + schema_names = { every schema of the database, as the inspector's get_schema_names }
              tables keyed "name" (default schema) or "schema.name"; sorted = by schema (in the
              order asked) then name; no naming_convention.  Tables only: no views, no SQLite
              internal tables (sqlite_*); the version table is there (the caller leaves it out).
  table       schema = nil in the default schema; comment; primary_key always present (name nil
              and columns {} when there is none); constraints = unique, foreign_key, check (and
              exclude on PostgreSQL) — never primary_key; indexes leave out the indexes that back a
              primary key or unique constraint; dialect_kw: sqlite_autoincrement = true,
              sqlite_with_rowid = false, postgresql_partition_by = "RANGE (k)".
  column      name, type, nullable, primary_key, comment, foreign_keys = {} (foreign keys are
              table-level constraints only), and:
              server_default = sa.text(<the text the database keeps>) — always a clause, never a
                plain string: "'x'::character varying", "now()", "nextval('t_id_seq'::regclass)";
                SQLite: as written in CREATE TABLE ("'x'", "CURRENT_TIMESTAMP", "1+2")
              autoincrement: SQLite "auto"; PostgreSQL true for identity columns and serial
                columns (a nextval() default of a sequence the column owns), false otherwise
              identity = { kind="identity", always, start, increment, minvalue, maxvalue, cache,
                cycle }; computed = { kind="computed", sqltext, persisted } (no server_default then)
  type        the class SQLAlchemy's reflection gives, with the arguments its repr shows (defaults
              left out): sa VARCHAR{length=50}, CHAR, TEXT, INTEGER, BIGINT, SMALLINT, NUMERIC
              {precision, scale}, REAL, FLOAT, BOOLEAN, DATE, DATETIME, TIMESTAMP, TIME, BLOB, JSON,
              String (PG "char"/name), NullType; postgresql TIMESTAMP/TIME {timezone=true,
              precision}, INTERVAL {precision, fields}, DOUBLE_PRECISION {precision=53}, BIT
              {length, varying}, BYTEA, UUID, INET, CIDR, MACADDR(8), MONEY, OID, REGCLASS,
              TSVECTOR, CITEXT, ranges, JSON/JSONB {astext_type=sa.Text}, HSTORE {text_type},
              ARRAY {item_type}, ENUM {enums, enum_name, schema (when not the default schema)};
              + collation when it is not the type's default;
              + sql = "<the database's spelling>" on a NullType that stands for a type luamig has
                no class for (PostgreSQL xml, point, ...)
  foreign_key referred_schema nil when the referred table is in the default schema; ondelete /
              onupdate only when not NO ACTION; deferrable / initially only when the database says
              so (SQLite: as written); match = "FULL"|"PARTIAL"; referred_columns filled in from the
              referred primary key for SQLite's "REFERENCES t" without columns
  check       sqltext without the parentheses around the whole expression ("power > (0)::numeric");
              dialect_kw.postgresql_not_valid = true for NOT VALID
  unique      deferrable = true / initially = "DEFERRED" only when so
  index       table, schema, unique, columns = { "name" | sa.text("lower(name::text)") ... } (key
              columns; expressions as text); dialect_kw: sqlite_where / postgresql_where =
              sa.text(predicate), postgresql_using (not btree), postgresql_include = { ... },
              postgresql_ops = { [column] = "varchar_pattern_ops" } (non-default operator classes),
              postgresql_with = { fillfactor = "70" }, postgresql_nulls_not_distinct = true;
              + column_sorting = { [column or expression text] = { "desc" [, "nulls_last"] } |
                { "nulls_first" } }, only what differs from the default order, as SQLAlchemy's
  exclude     elements = { { "col" | sa.text(expr), "&&" }, ... }, using, where = sa.text(...)
  With batch = true (SQLite; what batch mode's rebuild reads, core/reflect.h): types are the
  declared types (sa INTEGER, VARCHAR{length}, ... or { module = "reflected", sql = "<as
  declared>" }, collation on any type); unique / check / foreign_key written in a column
  definition + inline = true; index + sql = "<its CREATE INDEX>", in creation order; table
  + triggers = { { name, sql } }, + mentioned_in = { { type = "view"|"trigger", name } }.

  sa._adopt_reflected(md) turns what the C reader (core.reflect) builds — plain tables of these
  shapes — into the values above in place: types become sa types, SQL clauses sa.text values,
  so that a reflected value behaves like a declared one.  luamig.inspect returns its result.

Errors: misuse raises a Lua error naming the function, at the caller's level.
]]

local dml = require "luamig.dml"
local suggest = require "luamig.suggest"

local sa = {}

-- Objects created by the user are ordered by creation, as SQLAlchemy orders the table-level
-- constraints in CREATE TABLE.  The sequence lives outside the objects so that two equal
-- schemas stay equal values.  Only constraints and indexes are stamped: build_table sorts
-- nothing else (columns keep the order they are given in).
local creation = setmetatable({}, { __mode = "k" })
local counter = 0
local function stamp(obj)
  counter = counter + 1
  creation[obj] = counter
  return obj
end
function sa._creation_order(obj) return creation[obj] or math.huge end

local function is_plain(t)
  return type(t) == "table" and t.kind == nil and getmetatable(t) == nil
end
sa._is_plain = is_plain

-- A plain table with at least one non-array key is an options table.
local function is_options(t)
  if not is_plain(t) then return false end
  for k in pairs(t) do
    if type(k) ~= "number" then return true end
  end
  return next(t) == nil
end
sa._is_options = is_options

local function pack(...) return { n = select("#", ...), ... } end

-- Splits the trailing options table (Python's keyword arguments) from the positionals.
local function split_opts(args)
  local n = args.n or #args
  if n > 0 and is_options(args[n]) then
    local opts = args[n]
    local pos = {}
    for i = 1, n - 1 do pos[i] = args[i] end
    pos.n = n - 1
    return pos, opts
  end
  return args, {}
end
sa._split_opts = split_opts

-- Python's binding of f(p1, p2, *rest, **kw) (DESIGN's keyword rule): any of the named
-- parameters `names` may come by name in the trailing options table instead of by position,
-- and the array part of that table continues the positionals, so that
-- sa.Index{ name = "ix", "a", "b", unique = true } is sa.Index("ix", "a", "b", { unique = true }).
-- Returns bound (by name), rest (the *args, packed), opts (the options left over).  args is
-- the call's own packed arguments (pack(...)): with no names to bind it may come back as rest.
local function bind_kw(where, names, args)
  local n = args.n or #args
  if n == 0 or not is_options(args[n]) then
    -- positionals only (sa.String(50), the usual call): nothing to merge or check
    if #names == 0 then
      args.n = n
      return {}, args, {}
    end
    local bound, rest = {}, { n = 0 }
    for i, name in ipairs(names) do bound[name] = args[i] end
    for i = #names + 1, n do
      rest.n = rest.n + 1
      rest[rest.n] = args[i]
    end
    return bound, rest, {}
  end
  local given = {}
  if n > 0 and is_options(args[n]) then
    for k, v in pairs(args[n]) do given[k] = v end
    n = n - 1
  end
  local opts, extra = {}, {}
  for k, v in pairs(given) do
    if type(k) == "number" then extra[k] = v else opts[k] = v end
  end
  local bound = {}
  for i, name in ipairs(names) do
    if i <= n then
      if opts[name] ~= nil then
        error(where .. ": got multiple values for argument '" .. name .. "'", 3)
      end
      bound[name] = args[i]
    else
      bound[name] = opts[name]
    end
    opts[name] = nil
  end
  local rest = { n = 0 }
  for i = #names + 1, n do
    rest.n = rest.n + 1
    rest[rest.n] = args[i]
  end
  for i = 1, #extra do
    rest.n = rest.n + 1
    rest[rest.n] = extra[i]
  end
  return bound, rest, opts
end
sa._bind_kw = bind_kw

local function copy(t)
  if type(t) ~= "table" then return t end
  local r = {}
  for k, v in pairs(t) do r[k] = v end
  return setmetatable(r, getmetatable(t))
end

local function deep_copy(t, seen)
  if type(t) ~= "table" then return t end
  seen = seen or {}
  if seen[t] then return seen[t] end
  local r = {}
  seen[t] = r
  -- only tables recurse: most keys and values are strings, numbers and booleans
  for k, v in pairs(t) do
    if type(k) == "table" then k = deep_copy(k, seen) end
    if type(v) == "table" then v = deep_copy(v, seen) end
    r[k] = v
  end
  return setmetatable(r, getmetatable(t))
end
sa._deep_copy = deep_copy

--------------------------------------------------------------------------------------------
-- Types
--------------------------------------------------------------------------------------------

local type_mt = {}
type_mt.__index = type_mt

-- Every type is both a class and a default instance: sa.Integer and sa.Integer() are the same
-- value; calling the class builds a new instance from the arguments.  The constructor is kept
-- beside the class, not in it, so that the class value stays plain data.
local ctors = setmetatable({}, { __mode = "k" })
type_mt.__call = function(self, ...)
  local ctor = ctors[self]
  if not ctor then error("sa." .. tostring(self.name) .. ": a type instance is not callable", 2) end
  return ctor(...)
end
type_mt.__tostring = function(self) return "sa." .. self.name .. "()" end

local function is_type(v) return type(v) == "table" and v.kind == "type" end
sa._is_type = is_type

-- A copy of type value v, made with the fields every type has (no rehash as they are added),
-- copied by next: pairs() looks for a __pairs metamethod on every call.
local function copy_type(v)
  local r = { kind = "type", name = v.name, module = v.module, length = v.length }
  for k, val in next, v do r[k] = val end
  return setmetatable(r, type_mt)
end

-- The instance stored in a column: a fresh copy, so that the class object is never shared.
function sa._to_type(v, where)
  if v == nil then return sa.NullType() end
  if not is_type(v) then
    error((where or "sa") .. ": expected a type, got " .. type(v), 3)
  end
  return copy_type(v)
end

-- Defines type `name`: `params` lists the positional parameter names in SQLAlchemy's order; any
-- of them may come by name in a trailing options table.  `extra` are fixed fields.
local function deftype(name, params, extra, module)
  module = module or "sa"
  local nparams = #params
  local function ctor(...)
    local n = select("#", ...)
    -- positionals only, no more than the parameters (sa.String(50), the usual call): each goes
    -- to its parameter's field, with no binding tables made
    if n <= nparams and (n == 0 or not is_options((select(n, ...)))) then
      local t = { kind = "type", name = name, module = module }
      if extra then for k, v in pairs(extra) do t[k] = v end end
      for i = 1, n do
        local v = select(i, ...)
        if v ~= nil then t[params[i]] = v end
      end
      if t.item_type ~= nil then t.item_type = sa._to_type(t.item_type, name) end
      return setmetatable(t, type_mt)
    end
    local bound, rest, opts = bind_kw("sa." .. name, params, pack(...))
    if rest.n > 0 then error("sa." .. name .. ": too many arguments", 3) end
    local t = { kind = "type", name = name, module = module }
    if extra then for k, v in pairs(extra) do t[k] = v end end
    for k, v in pairs(bound) do t[k] = v end
    for k, v in pairs(opts) do t[k] = v end
    if t.item_type ~= nil then t.item_type = sa._to_type(t.item_type, name) end
    return setmetatable(t, type_mt)
  end
  local class = ctor()
  ctors[class] = ctor
  return class
end
sa._deftype = deftype

local string_params = { "length", "collation" }
local numeric_params = { "precision", "scale", "decimal_return_scale", "asdecimal" }
local float_params = { "precision", "asdecimal", "decimal_return_scale" }

-- generic CamelCase types
sa.NullType = deftype("NullType", {})
sa.Integer = deftype("Integer", {})
sa.BigInteger = deftype("BigInteger", {})
sa.SmallInteger = deftype("SmallInteger", {})
sa.String = deftype("String", string_params)
sa.Unicode = deftype("Unicode", string_params)
sa.Text = deftype("Text", string_params)
sa.UnicodeText = deftype("UnicodeText", string_params)
sa.Boolean = deftype("Boolean", { "create_constraint", "name" })
sa.Date = deftype("Date", {})
sa.DateTime = deftype("DateTime", { "timezone" })
sa.Time = deftype("Time", { "timezone" })
sa.Interval = deftype("Interval", { "native", "second_precision", "day_precision" })
sa.Float = deftype("Float", float_params)
sa.Numeric = deftype("Numeric", numeric_params)
sa.LargeBinary = deftype("LargeBinary", { "length" })
sa.JSON = deftype("JSON", { "none_as_null" })
sa.Uuid = deftype("Uuid", { "as_uuid", "native_uuid" })
sa.ARRAY = deftype("ARRAY", { "item_type", "as_tuple", "dimensions", "zero_indexes" })

-- uppercase SQL types: rendered by their own name
sa.INTEGER = deftype("INTEGER", {})
sa.INT = deftype("INTEGER", {})
sa.BIGINT = deftype("BIGINT", {})
sa.SMALLINT = deftype("SMALLINT", {})
sa.VARCHAR = deftype("VARCHAR", string_params)
sa.NVARCHAR = deftype("NVARCHAR", string_params)
sa.CHAR = deftype("CHAR", string_params)
sa.NCHAR = deftype("NCHAR", string_params)
sa.TEXT = deftype("TEXT", string_params)
sa.CLOB = deftype("CLOB", string_params)
sa.BOOLEAN = deftype("BOOLEAN", { "create_constraint", "name" })
sa.DATE = deftype("DATE", {})
sa.DATETIME = deftype("DATETIME", { "timezone" })
sa.TIMESTAMP = deftype("TIMESTAMP", { "timezone" })
sa.TIME = deftype("TIME", { "timezone" })
sa.FLOAT = deftype("FLOAT", float_params)
sa.REAL = deftype("REAL", float_params)
sa.DOUBLE = deftype("DOUBLE", float_params)
sa.DOUBLE_PRECISION = deftype("DOUBLE_PRECISION", float_params)
sa.NUMERIC = deftype("NUMERIC", numeric_params)
sa.DECIMAL = deftype("DECIMAL", numeric_params)
sa.BLOB = deftype("BLOB", { "length" })
sa.BINARY = deftype("BINARY", { "length" })
sa.VARBINARY = deftype("VARBINARY", { "length" })
sa.UUID = deftype("UUID", { "as_uuid" })

-- Enum('a', 'b', name='mood'): the values are positional; a single array table also works.
do
  local function enum_ctor(...)
    local _, args, opts = bind_kw("sa.Enum", {}, pack(...))
    local values = {}
    if args.n == 1 and is_plain(args[1]) then
      for i, v in ipairs(args[1]) do values[i] = v end
    else
      for i = 1, args.n do values[i] = args[i] end
    end
    for _, v in ipairs(values) do
      if type(v) ~= "string" then error("sa.Enum: values must be strings", 3) end
    end
    local t = { kind = "type", name = "Enum", module = "sa", enums = values }
    for k, v in pairs(opts) do
      if k == "name" then t.enum_name = v else t[k] = v end
    end
    return setmetatable(t, type_mt)
  end
  sa.Enum = enum_ctor()
  ctors[sa.Enum] = enum_ctor
end

-- Makes `class` callable with `ctor` (types defined outside this module, e.g. postgresql.ENUM).
function sa._register_ctor(class, ctor) ctors[class] = ctor end

--------------------------------------------------------------------------------------------
-- SQL expressions used in DDL: text, functions, true/false/null
--------------------------------------------------------------------------------------------

local clause_mt = {}
clause_mt.__index = clause_mt

local function clause(t) return setmetatable(t, clause_mt) end

function sa.text(s)
  if type(s) ~= "string" then error("sa.text: expected a string", 2) end
  return clause { kind = "text", text = s }
end
function sa.literal_column(s) return clause { kind = "literal_column", text = s } end
function sa.true_() return clause { kind = "true" } end
function sa.false_() return clause { kind = "false" } end
function sa.null() return clause { kind = "null" } end
sa["true"] = sa.true_
sa["false"] = sa.false_

-- sa.func.<name>(args...): any name is a SQL function, as in SQLAlchemy.
sa.func = setmetatable({}, {
  __index = function(_, name)
    return function(...)
      local args = pack(...)
      local list = {}
      for i = 1, args.n do list[i] = args[i] end
      return clause { kind = "func", name = name, args = list }
    end
  end,
})

function sa._is_clause(v)
  return type(v) == "table" and (v.kind == "text" or v.kind == "func" or v.kind == "true"
    or v.kind == "false" or v.kind == "null" or v.kind == "literal_column"
    or v.kind == "inline_literal" or v.kind == "column_ref")
end

function sa.Computed(...)
  local a, _, opts = bind_kw("sa.Computed", { "sqltext" }, pack(...))
  local sqltext = a.sqltext
  if type(sqltext) == "table" and sqltext.kind == "text" then sqltext = sqltext.text end
  return { kind = "computed", sqltext = sqltext, persisted = opts.persisted }
end

function sa.Identity(opts)
  local t = { kind = "identity", always = false }
  for k, v in pairs(opts or {}) do t[k] = v end
  return t
end

--------------------------------------------------------------------------------------------
-- Names: op.f() / sa.conv()
--------------------------------------------------------------------------------------------

local conv_mt = { __tostring = function(self) return self.name end }
function sa.conv(name) return setmetatable({ kind = "conv", name = name }, conv_mt) end

-- Returns name, is_conv for a name given by the user (string, conv or nil).
function sa._name(v)
  if type(v) == "table" and v.kind == "conv" then return v.name, true end
  if v ~= nil and type(v) ~= "string" then error("expected a name (string)", 3) end
  return v, nil
end

--------------------------------------------------------------------------------------------
-- Columns and ForeignKey
--------------------------------------------------------------------------------------------

function sa.ForeignKey(...)
  local a, rest, opts = bind_kw("sa.ForeignKey", { "column" }, pack(...))
  if rest.n > 0 then error("sa.ForeignKey: too many arguments", 2) end
  local target = a.column
  if type(target) == "table" and target.kind == "column" then
    error("sa.ForeignKey: give the target as \"table.column\"", 2)
  end
  if type(target) ~= "string" then error("sa.ForeignKey: expected \"table.column\"", 2) end
  local name, conv = sa._name(opts.name)
  return {
    kind = "foreign_key_spec", target = target, name = name, name_conv = conv,
    ondelete = opts.ondelete, onupdate = opts.onupdate, deferrable = opts.deferrable,
    initially = opts.initially, match = opts.match, use_alter = opts.use_alter,
  }
end

local column_keys = {
  primary_key = true, nullable = true, server_default = true, default = true, unique = true,
  index = true, autoincrement = true, comment = true, key = true, quote = true, info = true,
  onupdate = true, server_onupdate = true, doc = true, system = true, type_ = true, name = true,
  _copy = true,
}

-- sa.Column(name, type, [ForeignKey | Computed | Identity ...], { options })

-- t as a Column's options table, read in place: a plain table whose keys are all names (an
-- empty one too); nil otherwise. One pass, where is_options and a check for positional keys
-- would make two: a revision makes thousands of columns.
local function keyword_options(t)
  if type(t) ~= "table" or t.kind ~= nil or getmetatable(t) ~= nil then return nil end
  for k in next, t do
    if type(k) == "number" then return nil end
  end
  return t
end

-- The options of a call that gives none: read, never written.
local NO_OPTIONS = {}

local column_from

function sa.Column(...)
  -- the usual call, Column(name, type [, { options }]): no arguments table
  local n, a1, a2, a3 = select("#", ...), ...
  if n <= 3 and type(a1) == "string" and type(a2) == "table" and a2.kind == "type" then
    local opts = NO_OPTIONS
    if n == 3 then opts = keyword_options(a3) end
    if opts then
      if opts.name ~= nil then error("sa.Column: got multiple values for argument 'name'", 2) end
      if opts.type_ ~= nil then error("sa.Column: got multiple values for argument 'type_'", 2) end
      return column_from(a1, copy_type(a2), {}, nil, nil, nil, opts)
    end
  end
  -- Column(name, type_, *args, **kw): name and type_ may come by keyword, and the name may be
  -- left out (Column(sa.Integer, ...)), so the positionals are bound here, not by bind_kw.
  -- A trailing options table without an array part (the usual call) is read in place (never
  -- written): with no names to bind there is nothing to take out of it.
  local args = pack(...)
  local opts = args.n > 0 and keyword_options(args[args.n])
  if opts then
    args[args.n] = nil
    args.n = args.n - 1
  elseif args.n == 0 or not is_options(args[args.n]) then
    opts = NO_OPTIONS   -- positionals only: nothing to bind
  else
    args, opts = select(2, bind_kw("sa.Column", {}, args))
  end
  local i, name = 1, nil
  if type(args[1]) == "string" then
    if opts.name ~= nil then error("sa.Column: got multiple values for argument 'name'", 2) end
    name = args[1]; i = 2
  else
    name = opts.name or nil
  end
  local type_
  if is_type(args[i]) then
    if opts.type_ ~= nil then error("sa.Column: got multiple values for argument 'type_'", 2) end
    type_ = sa._to_type(args[i], "sa.Column"); i = i + 1
  elseif opts.type_ then
    type_ = sa._to_type(opts.type_, "sa.Column")
  else
    type_ = sa.NullType()
  end
  local foreign_keys, constraints, computed, identity = {}, nil, nil, nil
  for j = i, args.n do
    local a = args[j]
    if type(a) ~= "table" then
      error("sa.Column: unexpected argument " .. tostring(a), 2)
    elseif a.kind == "foreign_key_spec" then
      foreign_keys[#foreign_keys + 1] = a
    elseif a.kind == "check" then
      -- a column-level CHECK, as SQLAlchemy's Column(name, type, CheckConstraint(...))
      constraints = constraints or {}
      constraints[#constraints + 1] = a
    elseif a.kind == "computed" then
      computed = a
    elseif a.kind == "identity" then
      identity = a
    else
      error("sa.Column: unexpected argument of kind " .. tostring(a.kind), 2)
    end
  end
  return column_from(name, type_, foreign_keys, constraints, computed, identity, opts)
end

-- The options a column keeps as they are given.
local column_copied = { default = true, unique = true, index = true, comment = true, key = true,
                        info = true, onupdate = true, server_onupdate = true }

-- The column value from its bound arguments (sa.Column's two ways of binding them). One pass
-- over the options checks and takes them: a revision makes thousands of columns.
column_from = function(name, type_, foreign_keys, constraints, computed, identity, opts)
  local col = {
    kind = "column", name = name, type = type_, foreign_keys = foreign_keys,
    constraints = constraints, computed = computed, identity = identity,
    primary_key = false, nullable = true, autoincrement = "auto",
  }
  local nullable, sd
  for k, v in next, opts do
    if column_copied[k] then
      col[k] = v
    elseif k == "primary_key" then
      col.primary_key = v and true or false
    elseif k == "nullable" then
      nullable = v
    elseif k == "autoincrement" then
      col.autoincrement = v
    elseif k == "server_default" then
      sd = v
    elseif not column_keys[k] then
      -- an option luamig does not know is a dialect's ("sqlite_...", "postgresql_...") or a
      -- mistake
      if not k:match("^%l+_") then error("sa.Column: unknown option '" .. tostring(k) .. "'", 2) end
      local kw = col.dialect_kw or {}
      kw[k] = v
      col.dialect_kw = kw
    end
  end
  -- SQLAlchemy: nullable defaults to "not primary_key", and a PrimaryKeyConstraint naming the
  -- column later makes it NOT NULL unless the user said otherwise (_nullable_set).
  if nullable == nil then
    col.nullable = not col.primary_key and not identity
  else
    col.nullable, col._nullable_set = nullable and true or false, true
  end
  if sd ~= nil then
    if type(sd) == "number" then sd = tostring(sd) end
    if type(sd) ~= "string" and not sa._is_clause(sd) then
      error("sa.Column: server_default must be a string or a SQL expression", 2)
    end
    col.server_default = sd
  end
  return col
end

-- A copy of a column not attached to any table (Alembic copies columns it reuses).
function sa._copy_column(col)
  local c = deep_copy(col)
  c.table = nil
  return c
end

-- and_/or_/not_ combine the comparisons of sa.table() columns (luamig.dml).
sa.and_ = dml.and_
sa.or_ = dml.or_
sa.not_ = dml.not_

-- Lightweight column for sa.table(): a name and a type, nothing else.
function sa.column(...)
  local a, rest, opts = bind_kw("sa.column", { "text", "type_" }, pack(...))
  if rest.n > 0 then error("sa.column: too many arguments", 2) end
  local name, type_ = a.text or opts.name, a.type_
  if type(name) ~= "string" then error("sa.column: expected a column name", 2) end
  return { kind = "column", name = name, type = sa._to_type(type_ or sa.NullType, "sa.column"),
           nullable = true, primary_key = false, foreign_keys = {}, autoincrement = "auto" }
end

--------------------------------------------------------------------------------------------
-- Constraints and indexes
--------------------------------------------------------------------------------------------

local function col_name(c, where)
  if type(c) == "string" then return c end
  if type(c) == "table" and c.kind == "column" then return c.name end
  error(where .. ": expected a column name", 4)
end

local function names_of(list, where)
  local r = {}
  for i, c in ipairs(list) do r[i] = col_name(c, where) end
  return r
end

local function common(t, opts)
  t.name, t.name_conv = sa._name(opts.name)
  t.deferrable = opts.deferrable
  t.initially = opts.initially
  for k, v in pairs(opts) do
    if type(k) == "string" and k:match("^%l+_") and k ~= "name_conv" then
      t.dialect_kw = t.dialect_kw or {}
      t.dialect_kw[k] = v
    end
  end
  return stamp(t)
end

function sa.PrimaryKeyConstraint(...)
  local _, args, opts = bind_kw("sa.PrimaryKeyConstraint", {}, pack(...))
  local cols = {}
  for i = 1, args.n do cols[i] = col_name(args[i], "sa.PrimaryKeyConstraint") end
  if opts.columns then cols = names_of(opts.columns, "sa.PrimaryKeyConstraint") end
  return common({ kind = "primary_key", columns = cols }, opts)
end

function sa.UniqueConstraint(...)
  local _, args, opts = bind_kw("sa.UniqueConstraint", {}, pack(...))
  local cols = {}
  for i = 1, args.n do cols[i] = col_name(args[i], "sa.UniqueConstraint") end
  if opts.columns then cols = names_of(opts.columns, "sa.UniqueConstraint") end
  return common({ kind = "unique", columns = cols }, opts)
end

function sa.CheckConstraint(...)
  local a, rest, opts = bind_kw("sa.CheckConstraint", { "sqltext" }, pack(...))
  if rest.n > 0 then error("sa.CheckConstraint: too many arguments", 2) end
  local sqltext = a.sqltext
  if type(sqltext) == "table" and (sqltext.kind == "text" or sqltext.kind == "literal_column") then
    sqltext = sqltext.text
  end
  if type(sqltext) ~= "string" then error("sa.CheckConstraint: expected SQL text", 2) end
  return common({ kind = "check", sqltext = sqltext }, opts)
end

-- Parses "table.col" / "schema.table.col".
function sa._parse_target(target)
  local parts = {}
  for p in target:gmatch("[^.]+") do parts[#parts + 1] = p end
  if #parts < 2 then error("invalid foreign key target '" .. target .. "'", 4) end
  local colname = table.remove(parts)
  local tname = table.remove(parts)
  local schema = #parts > 0 and table.concat(parts, ".") or nil
  return schema, tname, colname
end

function sa.ForeignKeyConstraint(...)
  local a, rest, opts = bind_kw("sa.ForeignKeyConstraint", { "columns", "refcolumns" }, pack(...))
  if rest.n > 0 then error("sa.ForeignKeyConstraint: too many arguments", 2) end
  local columns, refcolumns = a.columns, a.refcolumns
  if not is_plain(columns) or not is_plain(refcolumns) or #columns ~= #refcolumns then
    error("sa.ForeignKeyConstraint: expected two lists of the same length", 2)
  end
  local t = { kind = "foreign_key", columns = names_of(columns, "sa.ForeignKeyConstraint"),
              referred_columns = {} }
  for i, r in ipairs(refcolumns) do
    if type(r) ~= "string" then error("sa.ForeignKeyConstraint: expected \"table.column\"", 2) end
    local schema, tname, cname = sa._parse_target(r)
    t.referred_schema, t.referred_table = schema, tname
    t.referred_columns[i] = cname
  end
  t.ondelete, t.onupdate, t.match, t.use_alter = opts.ondelete, opts.onupdate, opts.match, opts.use_alter
  return common(t, opts)
end

-- sa.Index(name, "col" | sa.text(...) ..., { unique=, postgresql_where=, ... })
function sa.Index(...)
  local a, args, opts = bind_kw("sa.Index", { "name" }, pack(...))
  local t = { kind = "index", columns = {}, unique = opts.unique and true or false }
  t.name, t.name_conv = sa._name(a.name)
  for i = 1, args.n do
    local e = args[i]
    if type(e) == "table" and e.kind == "column" then e = e.name end
    t.columns[i] = e
  end
  for k, v in pairs(opts) do
    if k ~= "unique" and k ~= "quote" and k ~= "info" then
      t.dialect_kw = t.dialect_kw or {}
      t.dialect_kw[k] = v
    end
  end
  return stamp(t)
end

--------------------------------------------------------------------------------------------
-- MetaData, naming conventions, Table
--------------------------------------------------------------------------------------------

sa.DEFAULT_NAMING_CONVENTION = { ix = "ix_%(column_0_label)s" }

function sa.MetaData(opts)
  opts = opts or {}
  return { kind = "metadata", naming_convention = opts.naming_convention or sa.DEFAULT_NAMING_CONVENTION,
           schema = opts.schema, tables = {}, sorted = {} }
end

local convention_key = { index = "ix", unique = "uq", check = "ck", foreign_key = "fk",
                         primary_key = "pk" }
sa._convention_key = convention_key   -- each kind's key in a naming convention

-- Expands a naming-convention template for constraint `c` of table `tbl` (SQLAlchemy's tokens).
local function expand_convention(template, c, tbl)
  -- a column-level CHECK names its column (SQLAlchemy's column_0_name of such a constraint)
  local cols = c.columns or (c._column and { c._column }) or {}
  local function colstr(i)
    local v = cols[i + 1]
    if type(v) == "table" then return v.text or "" end
    return v
  end
  local function token(tok)
    if tok == "table_name" then return tbl.name end
    if tok == "constraint_name" then
      if c.name == nil then error("naming convention needs an explicit constraint name", 0) end
      return c.name
    end
    if tok == "referred_table_name" then return c.referred_table end
    local what, n, sep, all
    n, what = tok:match("^column_(%d+)_(%a+)$")
    if not n then
      local multi
      multi, what = tok:match("^column_0(_?N)_(%a+)$")
      if multi then
        sep = multi == "_N" and "_" or ""
        all = true
      end
    end
    local ref = false
    if not what then
      n, what = tok:match("^referred_column_(%d+)_(%a+)$")
      ref = n ~= nil
    end
    if not what then error("unknown naming convention token %(" .. tok .. ")s", 0) end
    local function one(i)
      local name = ref and (c.referred_columns or {})[i + 1] or colstr(i)
      if name == nil then error("naming convention: no column " .. i, 0) end
      if what == "label" then
        if ref then return c.referred_table .. "_" .. name end
        return tbl.name .. "_" .. name
      end
      return name
    end
    if all then
      local parts = {}
      for i = 0, #cols - 1 do parts[#parts + 1] = one(i) end
      return table.concat(parts, sep)
    end
    return one(tonumber(n))
  end
  return (template:gsub("%%%((.-)%)s", token))
end

-- Names an unnamed constraint / index after the naming convention; a name given explicitly
-- is expanded only when the convention refers to %(constraint_name)s, as SQLAlchemy does.
function sa._apply_convention(c, tbl, convention)
  convention = convention or sa.DEFAULT_NAMING_CONVENTION
  local key = convention_key[c.kind]
  local template = key and convention[key]
  if not template or c.name_conv then return end
  if c.name == nil then
    if template:find("%(constraint_name)s", 1, true) then return end
    c.name = expand_convention(template, c, tbl)
    c.name_conv = true
  elseif template:find("%(constraint_name)s", 1, true) then
    c.name = expand_convention(template, c, tbl)
    c.name_conv = true
  end
end

local table_keys = { schema = true, comment = true, info = true, prefixes = true,
                     keep_existing = true, extend_existing = true, quote = true,
                     if_not_exists = true, must_exist = true }

-- Adds a column to a table under construction: its primary_key flag, unique/index flags and
-- ForeignKeys become table-level items, as SQLAlchemy's Column._set_parent does.
local function attach_column(tbl, col, pk, items)
  if tbl.c[col.name] then
    error("sa.Table: duplicate column '" .. col.name .. "' in table '" .. tbl.name .. "'", 0)
  end
  tbl.columns[#tbl.columns + 1] = col
  tbl.c[col.name] = col
  if col.primary_key then pk[#pk + 1] = col.name end
  local fks = col.foreign_keys
  for i = 1, (fks and #fks or 0) do
    local fk = fks[i]
    local schema, tname, cname = sa._parse_target(fk.target)
    local c = stamp({ kind = "foreign_key", name = fk.name, name_conv = fk.name_conv,
                      columns = { col.name }, referred_schema = schema, referred_table = tname,
                      referred_columns = { cname }, ondelete = fk.ondelete, onupdate = fk.onupdate,
                      deferrable = fk.deferrable, initially = fk.initially, match = fk.match,
                      use_alter = fk.use_alter })
    items[#items + 1] = c
  end
  local cks = col.constraints
  for i = 1, (cks and #cks or 0) do
    local ck = cks[i]
    local c = stamp(deep_copy(ck))
    c._column = col.name
    items[#items + 1] = c
  end
  if col.index then
    local ix = stamp({ kind = "index", columns = { col.name }, unique = col.unique and true or false,
                       _column_flag = true })
    items[#items + 1] = ix
  elseif col.unique then
    items[#items + 1] = stamp({ kind = "unique", columns = { col.name }, _column_flag = true })
  end
end

-- Builds a table value.  `metadata` may be nil (tables built by op.create_table get a private
-- metadata carrying the context's naming convention).
local function build_table(name, metadata, items, opts)
  if type(name) ~= "string" then error("sa.Table: expected a table name", 3) end
  local convention = metadata and metadata.naming_convention or sa.DEFAULT_NAMING_CONVENTION
  local tbl = { kind = "table", name = name, schema = opts.schema or (metadata and metadata.schema),
                columns = {}, c = {}, constraints = {}, indexes = {}, comment = opts.comment,
                info = opts.info, prefixes = opts.prefixes }
  for k, v in next, opts do
    if not table_keys[k] then
      if type(k) == "string" and k:match("^%l+_") then
        tbl.dialect_kw = tbl.dialect_kw or {}
        tbl.dialect_kw[k] = v
      else
        error("sa.Table: unknown option '" .. tostring(k) .. "'", 3)
      end
    end
  end
  -- the primary key's column names, and the constraints and indexes, as the items give them
  local pk, pending = {}, {}
  local explicit_pk
  for _, item in ipairs(items) do
    if type(item) ~= "table" then
      error("sa.Table: unexpected argument " .. tostring(item), 3)
    elseif item.kind == "column" then
      if item._attached then item = sa._copy_column(item) end
      item._attached = nil
      attach_column(tbl, item, pk, pending)
    elseif item.kind == "primary_key" then
      explicit_pk = item
    elseif item.kind == "unique" or item.kind == "check" or item.kind == "foreign_key"
        or item.kind == "index" or item.kind == "exclude" then
      pending[#pending + 1] = item
    else
      error("sa.Table: unexpected argument of kind " .. tostring(item.kind), 3)
    end
  end
  -- Constraints keep their creation order; items made here from column flags come after the
  -- ones the user built before calling Table().
  if #pending > 1 then
    table.sort(pending, function(a, b) return sa._creation_order(a) < sa._creation_order(b) end)
  end
  if explicit_pk then
    tbl.primary_key = explicit_pk
    for _, cname in ipairs(explicit_pk.columns) do
      local col = tbl.c[cname]
      if not col then error("sa.Table: primary key column '" .. cname .. "' not in table", 3) end
      col.primary_key = true
      if not col._nullable_set then col.nullable = false end
    end
    for i = 1, #tbl.columns do
      local col = tbl.columns[i]
      if col.primary_key and not explicit_pk.columns[1] then
        explicit_pk.columns[#explicit_pk.columns + 1] = col.name
      end
    end
  else
    tbl.primary_key = { kind = "primary_key", columns = pk, _implicit = true }
  end
  sa._apply_convention(tbl.primary_key, tbl, convention)
  for i = 1, #pending do
    local item = pending[i]
    if item.kind ~= "index" then
      for _, cname in ipairs(item.columns or NO_OPTIONS) do
        if type(cname) == "string" and not tbl.c[cname] then
          error("sa.Table: constraint column '" .. cname .. "' not in table '" .. name .. "'", 3)
        end
      end
    end
    sa._apply_convention(item, tbl, convention)
    if item.kind == "index" then
      item.table = name
      item.schema = tbl.schema
      tbl.indexes[#tbl.indexes + 1] = item
    else
      tbl.constraints[#tbl.constraints + 1] = item
    end
  end
  for i = 1, #tbl.columns do
    local col = tbl.columns[i]
    col._attached = true
  end
  return tbl
end
sa._build_table = build_table

-- sa.Table(name, metadata, columns and constraints ..., { schema=, comment=, sqlite_... })
function sa.Table(...)
  local n, name, metadata = select("#", ...), ...
  local items, opts
  if n >= 2 and not is_options((select(n, ...))) then
    -- the usual call, Table(name, metadata, columns and constraints ...): its items taken in
    -- one table, with no binding tables made (a models file makes hundreds of tables)
    items, opts = { select(3, ...) }, NO_OPTIONS
  else
    local a, args
    a, args, opts = bind_kw("sa.Table", { "name", "metadata" }, pack(...))
    name, metadata = a.name, a.metadata
    items = {}
    for i = 1, args.n do items[i] = args[i] end
  end
  if type(metadata) ~= "table" or metadata.kind ~= "metadata" then
    error("sa.Table: the second argument must be a sa.MetaData()", 2)
  end
  local tbl = build_table(name, metadata, items, opts)
  local key = tbl.schema and (tbl.schema .. "." .. name) or name
  if metadata.tables[key] then
    error("sa.Table: table '" .. key .. "' is already defined for this MetaData instance", 2)
  end
  metadata.tables[key] = tbl
  metadata.sorted[#metadata.sorted + 1] = tbl
  return tbl
end

-- sa.table(name, sa.column(...) ..., { schema = }) — a lightweight table for data migrations.
function sa.table(...)
  local a, args, opts = bind_kw("sa.table", { "name" }, pack(...))
  local name = a.name
  if type(name) ~= "string" then error("sa.table: expected a table name", 2) end
  local tbl = { kind = "table", name = name, schema = opts.schema, columns = {}, c = {},
                constraints = {}, indexes = {}, lightweight = true,
                primary_key = { kind = "primary_key", columns = {} } }
  for i = 1, args.n do
    local col = args[i]
    if type(col) ~= "table" or col.kind ~= "column" then
      error("sa.table: expected sa.column(...) arguments", 2)
    end
    tbl.columns[#tbl.columns + 1] = col
    tbl.c[col.name] = col
  end
  -- insert()/update()/delete() and column comparisons for op.execute (luamig.dml)
  return dml.attach(tbl)
end

-- The column SQLAlchemy treats as the table's autoincrement column, or nil
-- (PrimaryKeyConstraint._autoincrement_column in SQLAlchemy 1.4).
local integer_types = { Integer = true, BigInteger = true, SmallInteger = true, INTEGER = true,
                        BIGINT = true, SMALLINT = true, SERIAL = true, BIGSERIAL = true,
                        SMALLSERIAL = true }
local numeric_types = { Numeric = true, NUMERIC = true, DECIMAL = true, Float = true,
                        FLOAT = true, REAL = true, DOUBLE = true, DOUBLE_PRECISION = true }
function sa._is_integer_type(t) return t ~= nil and integer_types[t.name] == true end

function sa.autoincrement_column(tbl)
  local pk = tbl.primary_key and tbl.primary_key.columns or {}
  local function valid(col, forced)
    local t = col.type
    if not (integer_types[t.name] or numeric_types[t.name]) then
      if forced then error("column " .. col.name .. " cannot be autoincrement: not an integer type", 0) end
      return false
    end
    if forced then return true end
    if col.default ~= nil then return false end
    if col.server_default ~= nil then return false end
    if #(col.foreign_keys or {}) > 0 and col.autoincrement ~= "ignore_fk" then return false end
    for _, c in ipairs(tbl.constraints) do
      if c.kind == "foreign_key" then
        for _, n in ipairs(c.columns) do
          if n == col.name and col.autoincrement ~= "ignore_fk" then return false end
        end
      end
    end
    return true
  end
  if #pk == 1 then
    local col = tbl.c[pk[1]]
    if not col then return nil end
    if col.autoincrement == true then valid(col, true); return col end
    if (col.autoincrement == "auto" or col.autoincrement == "ignore_fk") and valid(col, false) then
      return col
    end
    return nil
  end
  local found
  for _, n in ipairs(pk) do
    local col = tbl.c[n]
    if col and col.autoincrement == true then
      valid(col, true)
      if found then error("only one column may be marked autoincrement=true", 0) end
      found = col
    end
  end
  return found
end

--------------------------------------------------------------------------------------------
-- Reflected values: what core.reflect builds, adopted as model values
--------------------------------------------------------------------------------------------

local function adopt_type(t)
  if t == nil then return nil end
  if t.item_type then t.item_type = adopt_type(t.item_type) end
  if t.astext_type then t.astext_type = adopt_type(t.astext_type) end
  if t.text_type then t.text_type = adopt_type(t.text_type) end
  -- reflection made this table for its column alone: it becomes the type value in place
  if is_type(t) and getmetatable(t) == nil then return setmetatable(t, type_mt) end
  return sa._to_type(t)
end

local function adopt_clause(v)
  if type(v) == "table" and v.kind == "text" then return sa.text(v.text) end
  return v
end

-- Adopts a reflected metadata value (see "REFLECTED VALUES" above) in place; returns it.
-- (Indexed loops: ipairs is a C call per element, and a database has thousands of columns.)
function sa._adopt_reflected(md)
  for _, tbl in ipairs(md.sorted) do
    local cols, ixs = tbl.columns, tbl.indexes
    for i = 1, #cols do
      local col = cols[i]
      col.type = adopt_type(col.type)
      col.server_default = adopt_clause(col.server_default)
    end
    for i = 1, #ixs do
      local ix = ixs[i]
      local ixcols = ix.columns
      for j = 1, #ixcols do ixcols[j] = adopt_clause(ixcols[j]) end
      if ix.dialect_kw then
        for k, v in pairs(ix.dialect_kw) do ix.dialect_kw[k] = adopt_clause(v) end
      end
    end
    for _, c in ipairs(tbl.constraints) do
      if c.kind == "exclude" then
        for _, e in ipairs(c.elements) do e[1] = adopt_clause(e[1]) end
        c.where = adopt_clause(c.where)
      end
    end
  end
  return md
end

-- sa.dialects.postgresql / sa.dialects.sqlite: the user-facing type modules
-- (luamig.dialects.<db>), as `sqlalchemy.dialects.postgresql` is reached from `sa`.  Each
-- module registers itself here when it loads (it requires this module, so this one cannot
-- require it); the dialect modules of the engine load them, so they are there whenever a
-- revision or models.lua runs.
sa.dialects = suggest.strict({}, function(name) return "sa.dialects has no " .. name end)
function sa._register_dialect_types(name, module) rawset(sa.dialects, name, module) end

-- A misspelt name raises at the user's line with the nearest one ("sa has no Intger; did you
-- mean Integer?"), as Python's AttributeError does, instead of a nil passed on.
return suggest.strict(sa, function(name) return "sa has no " .. name end)
