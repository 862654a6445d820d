--[[ luamig.sqldialect.base — the defaults every dialect starts from, and what SQLite and
PostgreSQL share when turning the schema model (luamig.sa) and operation objects (luamig.op)
into SQL text.

Contract: a dialect is a table of methods; sqlite.lua and postgresql.lua derive from this one
with base.derive(name, overrides).  Every compile method returns a list of statements; a
statement is either a SQL string or { sql = "...", params = { name = value } } with :name
placeholders (bound online, rendered with literal() offline).  The text is what SQLAlchemy 1.4 /
Alembic 1.8 emit for the same construct (CREATE TABLE keeps SQLAlchemy's "\n\t" layout, without
its leading and trailing newlines; offline output replaces tabs with four spaces and strips).

Besides SQL, a dialect answers what the rest of the Lua side would otherwise ask by database
name (see "Facts about the database" below): the runner (luamig.migration, luamig.audit),
autogenerate (luamig.compare, luamig.autogenerate) and rendering (luamig.render, through the
registry luamig.sqldialect) read these fields and methods, never dialect.name.

Misuse and unsupported constructs raise a Lua error with Alembic's / SQLAlchemy's message.
]]

local lazy = require "luamig.lazy"
local core = lazy "luamig.core"   -- only a name past the limit needs it (md5_hex)
local sa = require "luamig.sa"

local base = {}
base.__index = base

-- Creates a dialect class `name` with `methods` overriding base's.
function base.derive(name, methods)
  local d = setmetatable(methods or {}, base)
  d.name = name
  d.__index = d
  return d
end

--------------------------------------------------------------------------------------------
-- Facts about the database (defaults; each dialect overrides what differs)
--------------------------------------------------------------------------------------------

-- The name of Alembic's implementation class, logged as "Context impl <name>."
base.impl_name = "DefaultImpl"

-- The schema a reflected table is in when it names none (a reflected metadata usually says).
base.default_schema = nil

-- Whether autogenerate renders a table's changes as a batch_alter_table block unless env.lua
-- says otherwise (render_as_batch), because plain ALTERs cannot do them on this database.
base.render_as_batch = false

-- Whether offline (--sql) output doubles backslashes in string literals, as SQLAlchemy does
-- where it assumes standard_conforming_strings is off.  get(name, { backslash_escapes = true })
-- switches it on for one object.
base.offline_backslash_escapes = false

-- Whether a reflected default that an autoincrement column owns (PostgreSQL's SERIAL
-- nextval(...)) is no default of the model, so autogenerate never compares it.
base.autoincrement_default_is_implicit = false

-- A catalog query telling whether table `name` exists in `schema` (nil: the connection's
-- default).  Returns the SQL, with the driver's own positional placeholders, and its values
-- ({ n = count, ... }) for conn:query.
-- The environment a fleet's child gets so that its sessions work in schema (tenants as
-- schemas, luamig.fleet): a table of variables, or nil when the database has no schemas.
function base:schema_session_env()
  return nil
end

function base:table_exists_sql()
  error("dialect " .. self.name .. ": no catalog query for tables", 0)
end

-- The column definition of an integer primary key the database numbers itself, as luamig's
-- own history table declares it.
function base:autoincrement_id_sql(name)
  return name .. " INTEGER NOT NULL PRIMARY KEY"
end

-- Autogenerate compares types by tokens of their DDL ({ token0 = "varchar", tokens = {...},
-- args = {"50"} }); this rewrites them into what the database actually stores for the type.
function base:normalise_type_tokens(p)
  return p
end

-- The server default autogenerate should see for a reflected column whose default is SQL
-- `text` (col.server_default is that text as a clause or string).
function base:reflected_default_for_compare(col)
  return col.server_default
end

-- Whether the database holds two default expressions equal: true, false, or nil when it cannot
-- say (or is not asked).  `conn_sql` is the reflected default's SQL, `meta_sql` the model's.
function base:server_defaults_equal()
  return nil
end

-- True when `s` is one parenthesised expression, "(...)" from its first to its last character
-- (quotes respected): "(1 + 2)" yes, "(a) + (b)" no.
function base.encloses_parens(s)
  if s:sub(1, 1) ~= "(" or s:sub(-1) ~= ")" then return false end
  local depth, inq = 0, false
  for i = 1, #s do
    local c = s:sub(i, i)
    if c == "'" then inq = not inq
    elseif not inq and c == "(" then depth = depth + 1
    elseif not inq and c == ")" then
      depth = depth - 1
      if depth == 0 and i < #s then return false end
    end
  end
  return true
end

--------------------------------------------------------------------------------------------
-- Identifiers
--------------------------------------------------------------------------------------------

-- True when SQLAlchemy would quote `ident`: a reserved word, an illegal first character, a
-- character outside [A-Za-z0-9_$], or any uppercase letter.
local function requires_quotes(reserved, ident)
  local lc = ident:lower()
  return reserved[lc] == true
    or ident:match("^[%d$]") ~= nil
    or ident:match("^[%w_$]+$") == nil
    or lc ~= ident
end

function base:requires_quotes(ident)
  return requires_quotes(self.reserved_words, ident)
end

-- The text of each identifier quoted so far, per reserved-word list: the same names are
-- quoted over and over. Started afresh past MEMO_MAX names, so that a run of 10,000 revisions
-- does not keep every table's and index's name.
local quoted_memo = setmetatable({}, { __mode = "k" })
local MEMO_MAX = 4096

function base:quote(ident)
  if ident == nil then error("quote: no identifier", 2) end
  local reserved = self.reserved_words
  local memo = quoted_memo[reserved]
  if not memo or memo.n > MEMO_MAX then
    memo = { n = 0, q = {} }
    quoted_memo[reserved] = memo
  end
  local q = memo.q[ident]
  if q == nil then
    q = ident
    if requires_quotes(reserved, ident) then q = '"' .. ident:gsub('"', '""') .. '"' end
    memo.q[ident] = q
    memo.n = memo.n + 1
  end
  return q
end

-- The longest name a constraint or an index may have, in characters (SQLAlchemy's
-- max_identifier_length); nil for no limit (SQLite).
base.max_identifier_length = nil

-- The name a constraint or an index goes by in DDL, as SQLAlchemy's format_constraint gives
-- it: a name over the dialect's limit is shortened when a naming convention made it or op.f()
-- marked it (`conv`), to its first limit - 8 characters, "_" and the last four hex digits of
-- the MD5 of the whole name (what Alembic's DDL names it: a later drop must find it), and is
-- otherwise refused in SQLAlchemy's words, before the server would cut it short without a
-- word. Lengths are in characters, as Python counts them (bytes for a name that is not UTF-8).
function base:constraint_name(name, conv)
  local max = self.max_identifier_length
  if not max or #name <= max then return name end
  local chars = utf8.len(name)
  if chars and chars <= max then return name end
  if conv then
    local cut = chars and utf8.offset(name, max - 8 + 1) or max - 8 + 1
    return name:sub(1, cut - 1) .. "_" .. core.md5_hex(name):sub(-4)
  end
  error(string.format("Identifier '%s' exceeds maximum length of %d characters", name, max), 0)
end

-- A schema name may be dotted ("db.owner"); each part is quoted on its own.
function base:quote_schema(schema)
  local parts = {}
  for p in schema:gmatch("[^.]+") do parts[#parts + 1] = self:quote(p) end
  return table.concat(parts, ".")
end

function base:format_table(name, schema)
  if schema then return self:quote_schema(schema) .. "." .. self:quote(name) end
  return self:quote(name)
end

--------------------------------------------------------------------------------------------
-- Literals and expressions
--------------------------------------------------------------------------------------------

-- Python's repr() of a float: the shortest text that reads back as the same number.
local function float_repr(x)
  if x ~= x then return "NaN" end
  if x == math.huge then return "Infinity" end
  if x == -math.huge then return "-Infinity" end
  local s
  for p = 15, 17 do
    s = string.format("%." .. p .. "g", x)
    if tonumber(s) == x then break end
  end
  if not s:find("[.eEn]") then s = s .. ".0" end
  return s
end
base.float_repr = float_repr

-- A string literal's text may not hold a NUL byte: sqlite3 and psql end the line there, and the
-- rest of a script would be read out of step, its data as SQL (psycopg2's words).
function base.refuse_nul(s)
  if s:find("\0", 1, true) then
    error("A string literal cannot contain NUL (0x00) characters.", 0)
  end
end

function base:quote_string(s)
  base.refuse_nul(s)
  return "'" .. s:gsub("'", "''") .. "'"
end

function base:render_bool(b) return b and "true" or "false" end

-- A Lua value as a SQL literal.  Strings are quoted, numbers printed as Python prints them,
-- booleans per dialect, nil and sa.null() as NULL; SQL clauses are rendered as SQL.
function base:literal(v)
  local tv = type(v)
  if v == nil then return "NULL" end
  if tv == "string" then return self:quote_string(v) end
  if tv == "boolean" then return self:render_bool(v) end
  if tv == "number" then
    if math.type(v) == "integer" then return tostring(v) end
    return float_repr(v)
  end
  if tv == "table" then
    if v.kind == "inline_literal" then return self:literal(v.value) end
    if sa._is_clause(v) then return self:expr(v) end
  end
  error("literal: cannot render a value of type " .. tv .. " as SQL", 2)
end

-- Functions SQL spells without parentheses (SQLAlchemy's ANSI functions).
local ansi_functions = {
  current_date = "CURRENT_DATE", current_time = "CURRENT_TIME",
  current_timestamp = "CURRENT_TIMESTAMP", current_user = "CURRENT_USER",
  localtime = "LOCALTIME", localtimestamp = "LOCALTIMESTAMP",
  session_user = "SESSION_USER", user = "USER",
}

function base:func_sql(f)
  local lname = f.name:lower()
  if ansi_functions[lname] and #f.args == 0 then return ansi_functions[lname] end
  local args = {}
  for i, a in ipairs(f.args) do args[i] = self:expr(a) end
  -- a name with characters no SQL name has is quoted, as SQLAlchemy does: it is a name,
  -- never SQL text around the call
  local fname = f.name
  if not fname:match("^[%a_][%w_$]*$") then fname = self:quote(fname) end
  return fname .. "(" .. table.concat(args, ", ") .. ")"
end

-- A SQL clause (sa.text, sa.func.*, sa.true_(), ...) rendered with literal values inline.
function base:expr(e)
  if type(e) ~= "table" then return self:literal(e) end
  local k = e.kind
  if k == "text" or k == "literal_column" then return e.text end
  if k == "func" then return self:func_sql(e) end
  if k == "true" then return self:true_sql() end
  if k == "false" then return self:false_sql() end
  if k == "null" then return "NULL" end
  if k == "inline_literal" then return self:literal(e.value) end
  if k == "column_ref" then return self:quote(e.name) end
  error("cannot render SQL expression of kind " .. tostring(k), 2)
end

function base:true_sql() return "true" end
function base:false_sql() return "false" end

--------------------------------------------------------------------------------------------
-- Types
--------------------------------------------------------------------------------------------

local function with_length(name, t)
  local s = name
  if t.length then s = s .. "(" .. t.length .. ")" end
  if t.collation then s = s .. ' COLLATE "' .. t.collation .. '"' end
  return s
end

local function numeric(name, t)
  if t.precision == nil then return name end
  if t.scale == nil then return name .. "(" .. t.precision .. ")" end
  return name .. "(" .. t.precision .. ", " .. t.scale .. ")"
end

local function enum_length(t)
  if t.length then return t.length end
  local n = 0
  for _, v in ipairs(t.enums or {}) do if #v > n then n = #v end end
  return n
end

-- Generic renderings; a dialect overrides entries of its `types` table.
base.types = {
  NullType = function()
    error("Can't generate DDL for NullType(); did you forget to specify a type on this Column?", 0)
  end,
  Integer = function() return "INTEGER" end,
  INTEGER = function() return "INTEGER" end,
  BigInteger = function() return "BIGINT" end,
  BIGINT = function() return "BIGINT" end,
  SmallInteger = function() return "SMALLINT" end,
  SMALLINT = function() return "SMALLINT" end,
  String = function(_, t) return with_length("VARCHAR", t) end,
  Unicode = function(_, t) return with_length("VARCHAR", t) end,
  VARCHAR = function(_, t) return with_length("VARCHAR", t) end,
  NVARCHAR = function(_, t) return with_length("NVARCHAR", t) end,
  CHAR = function(_, t) return with_length("CHAR", t) end,
  NCHAR = function(_, t) return with_length("NCHAR", t) end,
  Text = function(_, t) return with_length("TEXT", t) end,
  UnicodeText = function(_, t) return with_length("TEXT", t) end,
  TEXT = function(_, t) return with_length("TEXT", t) end,
  CLOB = function(_, t) return with_length("CLOB", t) end,
  Boolean = function() return "BOOLEAN" end,
  BOOLEAN = function() return "BOOLEAN" end,
  Date = function() return "DATE" end,
  DATE = function() return "DATE" end,
  DateTime = function() return "DATETIME" end,
  DATETIME = function() return "DATETIME" end,
  TIMESTAMP = function() return "TIMESTAMP" end,
  Time = function() return "TIME" end,
  TIME = function() return "TIME" end,
  Interval = function() return "DATETIME" end,
  Float = function(_, t) return numeric("FLOAT", { precision = t.precision }) end,
  FLOAT = function(_, t) return numeric("FLOAT", { precision = t.precision }) end,
  REAL = function() return "REAL" end,
  DOUBLE = function() return "DOUBLE" end,
  DOUBLE_PRECISION = function() return "DOUBLE PRECISION" end,
  Numeric = function(_, t) return numeric("NUMERIC", t) end,
  NUMERIC = function(_, t) return numeric("NUMERIC", t) end,
  DECIMAL = function(_, t) return numeric("DECIMAL", t) end,
  LargeBinary = function() return "BLOB" end,
  BLOB = function() return "BLOB" end,
  BINARY = function(_, t) return with_length("BINARY", t) end,
  VARBINARY = function(_, t) return with_length("VARBINARY", t) end,
  JSON = function() return "JSON" end,
  Enum = function(_, t) return "VARCHAR(" .. enum_length(t) .. ")" end,
  Uuid = function() return "CHAR(32)" end,
  UUID = function() return "UUID" end,
}
base._enum_length = enum_length
base._with_length = with_length
base._numeric = numeric

function base:type_sql(t)
  -- a reflected type luamig has no model for keeps its declared text
  if t.sql then return t.sql end
  local f = self.types[t.name]
  if not f then
    error("Compiler for " .. self.name .. " can't render type " .. (t.module or "sa") .. "."
      .. t.name .. "()", 0)
  end
  return f(self, t)
end

--------------------------------------------------------------------------------------------
-- Columns and constraints inside CREATE TABLE / ALTER TABLE
--------------------------------------------------------------------------------------------

-- The DEFAULT text of a server default: a string is a quoted literal, a clause is SQL.
function base:default_sql(sd)
  if sd == nil or sd == false then return nil end
  if type(sd) == "string" then return self:quote_string(sd) end
  return self:expr(sd)
end

-- "Column element" defaults (everything but sa.text) get parentheses on SQLite.
function base:is_column_element(sd)
  return type(sd) == "table" and sd.kind ~= "text"
end

function base:computed_sql(c)
  local s = "GENERATED ALWAYS AS (" .. c.sqltext .. ")"
  if c.persisted == true then s = s .. " STORED" elseif c.persisted == false then s = s .. " VIRTUAL" end
  return s
end

-- The column's text in CREATE TABLE / ADD COLUMN.  `tbl` is the table the column belongs to
-- (may be a one-column table built for ADD COLUMN).
function base:column_spec(col, tbl)
  local s = self:quote(col.name) .. " " .. self:type_sql(col.type)
  local d = self:default_sql(col.server_default)
  if d then s = s .. " DEFAULT " .. d end
  if col.computed then s = s .. " " .. self:computed_sql(col.computed) end
  if not col.nullable then s = s .. " NOT NULL" end
  return s
end

function base:deferrability(c)
  local s = ""
  if c.deferrable ~= nil then s = s .. (c.deferrable and " DEFERRABLE" or " NOT DEFERRABLE") end
  if c.initially ~= nil then s = s .. " INITIALLY " .. c.initially end
  return s
end

function base:constraint_prefix(c)
  if c.name ~= nil then
    return "CONSTRAINT " .. self:quote(self:constraint_name(c.name, c.name_conv)) .. " "
  end
  return ""
end

function base:quoted_list(names)
  if #names == 1 then return self:quote(names[1]) end
  local r = {}
  for i = 1, #names do
    local n = names[i]
    r[i] = self:quote(n)
  end
  return table.concat(r, ", ")
end

-- `tbl` may be nil (ALTER TABLE ADD CONSTRAINT on a table we only know by name).
function base:constraint_sql(c, tbl)
  local k = c.kind
  if k == "primary_key" then
    if #c.columns == 0 then return nil end
    local cols = c.columns
    -- SQLAlchemy lists the autoincrement column first in an implicit primary key.
    if c._implicit and tbl and #cols > 1 then
      local auto = sa.autoincrement_column(tbl)
      if auto then
        cols = { auto.name }
        for _, n in ipairs(c.columns) do if n ~= auto.name then cols[#cols + 1] = n end end
      end
    end
    return self:constraint_prefix(c) .. "PRIMARY KEY (" .. self:quoted_list(cols) .. ")"
      .. self:deferrability(c)
  elseif k == "unique" then
    if #c.columns == 0 then return nil end
    return self:constraint_prefix(c) .. "UNIQUE (" .. self:quoted_list(c.columns) .. ")"
      .. self:deferrability(c)
  elseif k == "check" then
    return self:constraint_prefix(c) .. "CHECK (" .. c.sqltext .. ")" .. self:deferrability(c)
  elseif k == "foreign_key" then
    return self:foreign_key_sql(c, tbl)
  elseif k == "exclude" then
    return self:exclude_sql(c)
  end
  error("cannot render constraint of kind " .. tostring(k), 0)
end

function base:remote_table(c)
  return self:format_table(c.referred_table, c.referred_schema)
end

function base:foreign_key_sql(c, tbl)
  local s = self:constraint_prefix(c) .. "FOREIGN KEY(" .. self:quoted_list(c.columns)
    .. ") REFERENCES " .. self:remote_table(c, tbl) .. " (" .. self:quoted_list(c.referred_columns) .. ")"
  if c.match then s = s .. " MATCH " .. c.match end
  if c.ondelete then s = s .. " ON DELETE " .. c.ondelete end
  if c.onupdate then s = s .. " ON UPDATE " .. c.onupdate end
  return s .. self:deferrability(c)
end

function base:exclude_sql()
  error("EXCLUDE constraints are only supported on PostgreSQL", 0)
end

function base:post_create_table() return "" end

--------------------------------------------------------------------------------------------
-- DDL statements
--------------------------------------------------------------------------------------------

-- The column specs of `tbl` into `specs`, in order (so that #specs + 1 is the column an error
-- came from).
local function column_specs(self, tbl, specs)
  local cols = tbl.columns
  for i = 1, #cols do specs[i] = self:column_spec(cols[i], tbl) end
end

-- Appends the text of constraint `c` of `tbl` to `cons` unless it has none or is added later
-- (use_alter).
local function add_constraint_text(self, c, tbl, cons)
  if not (c.kind == "foreign_key" and c.use_alter and self.supports_alter) then
    local text = self:constraint_sql(c, tbl)
    if text ~= nil and text ~= "" then cons[#cons + 1] = text end
  end
end

-- CREATE TABLE text, as SQLAlchemy lays it out.
function base:create_table_sql(tbl, if_not_exists)
  -- the head first, the columns after it: the order of the errors of a bad table is kept
  local prefixes = tbl.prefixes
  local head = "CREATE " .. ((prefixes and #prefixes > 0) and table.concat(prefixes, " ") .. " " or "")
    .. "TABLE " .. (if_not_exists and "IF NOT EXISTS " or "") .. self:format_table(tbl.name, tbl.schema)
    .. " ("
  local specs = {}
  local ok, err = pcall(column_specs, self, tbl, specs)
  if not ok then
    local col = tbl.columns[#specs + 1]
    error("(in table '" .. tbl.name .. "', column '" .. col.name .. "'): " .. tostring(err), 0)
  end
  local cons = {}
  add_constraint_text(self, tbl.primary_key, tbl, cons)
  local constraints = tbl.constraints
  for i = 1, #constraints do add_constraint_text(self, constraints[i], tbl, cons) end
  local body = table.concat(specs, ", \n\t")
  if #cons > 0 then
    body = body .. (#specs > 0 and ", \n\t" or "") .. table.concat(cons, ", \n\t")
  end
  return head .. ((#specs > 0 or #cons > 0) and "\n\t" or "") .. body .. "\n)"
    .. self:post_create_table(tbl)
end

function base:index_expr(e)
  if type(e) == "string" then return self:quote(e) end
  return self:expr(e)
end

function base:index_name(ix, with_schema)
  local name = ix.name
  if name == nil then error("CREATE INDEX requires that the index have a name", 0) end
  name = self:quote(self:constraint_name(name, ix.name_conv))
  if with_schema and ix.schema then name = self:quote_schema(ix.schema) .. "." .. name end
  return name
end

-- The column list of CREATE INDEX, without its parentheses.
function base:index_exprs(columns)
  if #columns == 1 then return self:index_expr(columns[1]) end
  local exprs = {}
  for i = 1, #columns do exprs[i] = self:index_expr(columns[i]) end
  return table.concat(exprs, ", ")
end

function base:create_index_sql(ix, if_not_exists)
  return "CREATE " .. (ix.unique and "UNIQUE " or "") .. "INDEX "
    .. (if_not_exists and "IF NOT EXISTS " or "") .. self:index_name(ix, false) .. " ON "
    .. self:format_table(ix.table, ix.schema) .. " (" .. self:index_exprs(ix.columns) .. ")"
end

function base:drop_index_sql(ix, if_exists)
  local s = "DROP INDEX "
  if if_exists then s = s .. "IF EXISTS " end
  return s .. self:index_name(ix, true)
end

function base:alter_table(name, schema)
  return "ALTER TABLE " .. self:format_table(name, schema)
end

function base:table_comment_sql(name, schema, comment)
  if comment == nil then
    return "COMMENT ON TABLE " .. self:format_table(name, schema) .. " IS NULL"
  end
  return "COMMENT ON TABLE " .. self:format_table(name, schema) .. " IS " .. self:quote_string(comment)
end

function base:column_comment_sql(tname, schema, cname, comment)
  return "COMMENT ON COLUMN " .. self:format_table(tname, schema) .. "." .. self:quote(cname)
    .. " IS " .. (comment == nil and "NULL" or self:quote_string(comment))
end

-- Statements a dialect emits before / after CREATE TABLE and DROP TABLE (PG ENUM types).
-- (lists a caller reads and never changes)
local NONE = setmetatable({}, { __newindex = function() error("dialect: NONE is read-only", 2) end })
function base:before_create_table() return NONE end
function base:after_drop_table() return NONE end
-- What ADD COLUMN needs first (PostgreSQL: the column's ENUM types, when missing).
function base:before_add_column() return NONE end

-- Autogenerate's knowledge of what the database does on its own (see luamig.autogenerate):
-- the name the database gives an unnamed constraint `c` of table `tbl` (a model: name, schema,
-- columns), given the names `taken` in its schema (a set, updated), or nil when it keeps
-- such a constraint unnamed (SQLite);
function base:implicit_constraint_name() return nil end
-- the named types a column type needs (PostgreSQL's ENUM types): { { key =, type = } ... },
-- looked at only when has_named_types is set;
base.has_named_types = false
function base:named_types() return {} end
-- the statement that drops such a type when it exists.
function base:drop_type_if_exists_sql() return nil end

-- Whether table and column comments go out as separate COMMENT statements.
base.supports_comments = false
base.supports_alter = true

--------------------------------------------------------------------------------------------
-- Operations
--------------------------------------------------------------------------------------------

local compile = {}
base.compile_op = compile

function compile.create_table(d, op)
  local tbl = op.table
  local out = {}
  local before = d:before_create_table(tbl)
  for i = 1, #before do out[i] = before[i] end
  out[#out + 1] = d:create_table_sql(tbl, op.if_not_exists)
  local indexes = tbl.indexes
  for i = 1, #indexes do out[#out + 1] = d:create_index_sql(indexes[i]) end
  if d.supports_comments then
    if tbl.comment then out[#out + 1] = d:table_comment_sql(tbl.name, tbl.schema, tbl.comment) end
    for _, col in ipairs(tbl.columns) do
      if col.comment then
        out[#out + 1] = d:column_comment_sql(tbl.name, tbl.schema, col.name, col.comment)
      end
    end
  end
  return out
end

function compile.drop_table(d, op)
  local s = "DROP TABLE "
  if op.if_exists then s = s .. "IF EXISTS " end
  local out = { s .. d:format_table(op.table_name, op.schema) }
  if op.table then
    for _, x in ipairs(d:after_drop_table(op.table)) do out[#out + 1] = x end
  end
  return out
end

function compile.rename_table(d, op)
  return { d:alter_table(op.table_name, op.schema) .. " RENAME TO " .. d:quote(op.new_table_name) }
end

-- A column's own CHECK or foreign key written in its definition (ADD COLUMN on a database that
-- cannot add a constraint afterwards).
function base:inline_constraint_sql(c)
  if c.kind == "check" then
    return self:constraint_prefix(c) .. "CHECK (" .. c.sqltext .. ")" .. self:deferrability(c)
  end
  local s = self:constraint_prefix(c) .. "REFERENCES " .. self:remote_table(c) .. " ("
    .. self:quoted_list(c.referred_columns) .. ")"
  if c.match then s = s .. " MATCH " .. c.match end
  if c.ondelete then s = s .. " ON DELETE " .. c.ondelete end
  if c.onupdate then s = s .. " ON UPDATE " .. c.onupdate end
  return s .. self:deferrability(c)
end

-- Whether ADD COLUMN writes the column's CHECKs and foreign keys into the column definition
-- (a database without ALTER TABLE ADD CONSTRAINT) rather than adding them afterwards.
base.add_column_inlines_constraints = false

-- ADD COLUMN, then what Alembic 1.8 adds for the column's own ForeignKey / unique / index
-- flags, CHECKs and its comment.
function compile.add_column(d, op)
  local col = op.column
  local tbl = sa._build_table(op.table_name, op._metadata, { sa._copy_column(col) },
                              { schema = op.schema })
  local c = tbl.c[col.name]
  local s = d:alter_table(op.table_name, op.schema) .. " ADD COLUMN "
  if op.if_not_exists then s = s .. "IF NOT EXISTS " end
  local spec = d:column_spec(c, tbl)
  local later = {}
  for _, con in ipairs(tbl.constraints) do
    if d.add_column_inlines_constraints and (con.kind == "check" or con.kind == "foreign_key") then
      spec = spec .. " " .. d:inline_constraint_sql(con)
    else
      later[#later + 1] = con
    end
  end
  local out = {}
  for _, x in ipairs(d:before_add_column(c)) do out[#out + 1] = x end
  out[#out + 1] = s .. spec
  for _, con in ipairs(later) do
    for _, x in ipairs(d:add_constraint(con, op.table_name, op.schema, tbl)) do out[#out + 1] = x end
  end
  for _, ix in ipairs(tbl.indexes) do out[#out + 1] = d:create_index_sql(ix) end
  if d.supports_comments and c.comment then
    out[#out + 1] = d:column_comment_sql(op.table_name, op.schema, c.name, c.comment)
  end
  return out
end

-- A custom operation (op.register_operation): its `sql` is one function for every database or a
-- table of them by dialect name; each returns a statement or a list of statements.
function compile.custom(d, op)
  local sql = op.spec.sql
  if type(sql) == "table" then sql = sql[d.name] or sql.default end
  if type(sql) ~= "function" then
    error("operation " .. op.name .. " has no SQL for " .. d.name, 0)
  end
  local out = sql(d, table.unpack(op.args, 1, op.args.n))
  if type(out) == "string" then return { out } end
  if type(out) ~= "table" then
    error("operation " .. op.name .. ": sql() must return a statement or a list of them", 0)
  end
  return out
end

function compile.drop_column(d, op)
  local s = d:alter_table(op.table_name, op.schema) .. " DROP COLUMN "
  if op.if_exists then s = s .. "IF EXISTS " end
  return { s .. d:quote(op.column_name) }
end

-- ALTER COLUMN pieces in Alembic's order: nullable, default, type, comment, then rename.
-- `skip_type` leaves the type out (a dialect that emits it itself, first).
function base:alter_column_sql(op, skip_type)
  local out = {}
  local head = self:alter_table(op.table_name, op.schema) .. " ALTER COLUMN " .. self:quote(op.column_name)
  if op.nullable ~= nil then
    out[#out + 1] = head .. (op.nullable and " DROP NOT NULL" or " SET NOT NULL")
  end
  if op.server_default ~= nil then
    out[#out + 1] = self:alter_default_sql(op, head)
  end
  if op.type_ ~= nil and not skip_type then
    out[#out + 1] = head .. " TYPE " .. self:type_sql(op.type_)
  end
  if op.comment ~= nil then
    out[#out + 1] = self:alter_comment_sql(op)
  end
  if op.new_column_name ~= nil then
    out[#out + 1] = self:alter_table(op.table_name, op.schema) .. " RENAME "
      .. self:quote(op.column_name) .. " TO " .. self:quote(op.new_column_name)
  end
  return out
end

function base:alter_default_sql(op, head)
  local sd = op.server_default
  if type(sd) == "table" and (sd.kind == "computed") then
    error('Adding or removing a "computed" construct, e.g. GENERATED ALWAYS AS, to or from an '
      .. "existing column is not supported.", 0)
  end
  if type(sd) == "table" and sd.kind == "identity" then
    error('Adding, removing or modifying an "identity" construct, e.g. GENERATED AS IDENTITY, '
      .. "to or from an existing column is not supported in this dialect.", 0)
  end
  if sd == false then return head .. " DROP DEFAULT" end
  return head .. " SET DEFAULT " .. self:default_sql(sd)
end

function base:alter_comment_sql()
  error("Compiler for " .. self.name .. " can't render element of type ColumnComment", 0)
end

-- Whether the database has a boolean type (SQLAlchemy's supports_native_boolean): where it
-- has none, sa.Boolean{ create_constraint = true } brings a CHECK.
base.native_boolean = true

-- Whether an sa.Enum is the database's own ENUM type (PostgreSQL's, unless native_enum = false).
function base:native_enum_type() return false end

-- The CHECK a column's type brings with it (SQLAlchemy's SchemaType): sa.Enum with
-- create_constraint = true that is not a native ENUM (`c IN ('a', 'b')`, named by the Enum's
-- name), sa.Boolean with create_constraint = true where there is no boolean type (`c IN (0,
-- 1)`); nil for any other type.
function base:type_check(column_name, t)
  if type(t) ~= "table" or t.create_constraint ~= true then return nil end
  if t.name == "Enum" and not self:native_enum_type(t) then
    local values = {}
    for i, v in ipairs(t.enums or {}) do values[i] = self:quote_string(v) end
    return { kind = "check", name = t.enum_name,
             sqltext = self:quote(column_name) .. " IN (" .. table.concat(values, ", ") .. ")" }
  end
  if (t.name == "Boolean" or t.name == "BOOLEAN") and not self.native_boolean then
    return { kind = "check", sqltext = self:quote(column_name) .. " IN (0, 1)" }
  end
  return nil
end

-- Alembic adds the CHECK of the new type after the ALTERs (toimpl.alter_column).
function compile.alter_column(d, op)
  if op.postgresql_using ~= nil and op.type_ == nil then
    error("postgresql_using must be used with the type_ parameter", 0)
  end
  local out = d:alter_column_sql(op)
  local check = op.type_ ~= nil and d:type_check(op.column_name, sa._to_type(op.type_))
  if check then
    for _, stmt in ipairs(d:add_constraint(check, op.table_name, op.schema)) do out[#out + 1] = stmt end
  end
  return out
end

function compile.create_index(d, op)
  return { d:create_index_sql(op.index, op.if_not_exists) }
end

function compile.drop_index(d, op)
  local ix = { kind = "index", name = op.index_name, table = op.table_name, schema = op.schema,
               name_conv = op.index_name_conv or (op.index and op.index.name_conv),
               columns = {}, dialect_kw = op.kw }
  return { d:drop_index_sql(ix, op.if_exists) }
end

-- ALTER TABLE ... ADD <constraint>; `tbl` is the table model when one is at hand.
function base:add_constraint(c, table_name, schema, tbl)
  local text = self:constraint_sql(c, tbl)
  if text == nil or text == "" then return {} end
  return { self:alter_table(table_name, schema) .. " ADD " .. text }
end

function compile.add_constraint(d, op)
  return d:add_constraint(op.constraint, op.table_name, op.schema)
end

function base:drop_constraint(op)
  if op.constraint_name == nil then
    error("Can't emit DROP CONSTRAINT for constraint; it has no name", 0)
  end
  local s = self:alter_table(op.table_name, op.schema) .. " DROP CONSTRAINT "
  if op.if_exists then s = s .. "IF EXISTS " end
  return { s .. self:quote(self:constraint_name(op.constraint_name,
    op.constraint_name_conv or (op.constraint and op.constraint.name_conv))) }
end

function compile.drop_constraint(d, op) return d:drop_constraint(op) end

function compile.create_table_comment(d, op)
  if not d.supports_comments then
    error("Compiler for " .. d.name .. " can't render element of type SetTableComment", 0)
  end
  return { d:table_comment_sql(op.table_name, op.schema, op.comment) }
end

function compile.drop_table_comment(d, op)
  if not d.supports_comments then
    error("Compiler for " .. d.name .. " can't render element of type DropTableComment", 0)
  end
  return { d:table_comment_sql(op.table_name, op.schema, nil) }
end

-- The INSERT statements of op.bulk_insert.  Columns are the union of the rows' keys in table
-- column order (Lua tables cannot hold nil, so a key missing from one row is NULL there).
-- Online: one statement per row with :name parameters; offline: literal values.
function base:bulk_insert(op, as_sql)
  local tbl = op.table
  local used = {}
  for _, row in ipairs(op.rows) do
    for k in pairs(row) do
      if not tbl.c[k] then
        error("Unconsumed column names: " .. tostring(k), 0)
      end
      used[k] = true
    end
  end
  local cols = {}
  for _, col in ipairs(tbl.columns) do if used[col.name] then cols[#cols + 1] = col.name end end
  local head = "INSERT INTO " .. self:format_table(tbl.name, tbl.schema) .. " ("
    .. self:quoted_list(cols) .. ") VALUES ("
  local out = {}
  for _, row in ipairs(op.rows) do
    local vals, params = {}, {}
    for i, cname in ipairs(cols) do
      local v = row[cname]
      -- op.inline_literal() and SQL clauses are rendered inline even online
      if as_sql or type(v) == "table" or v == nil then
        vals[i] = self:typed_literal(v, tbl.c[cname].type)
      else
        -- a parameter named by position: a column's name is no parameter name (one holding
        -- "||", ")" or a quote would have become SQL text around it)
        vals[i] = ":p" .. i
        params["p" .. i] = v
      end
    end
    local sql = head .. table.concat(vals, ", ") .. ")"
    if as_sql or next(params) == nil then
      out[#out + 1] = sql
    else
      out[#out + 1] = { sql = sql, params = params }
    end
  end
  return out
end

-- A literal for a value destined to a column of type `t` (bulk_insert offline).
function base:typed_literal(v)
  if type(v) == "boolean" then return self:render_bool(v) end
  return self:literal(v)
end

function compile.bulk_insert(d, op, as_sql) return d:bulk_insert(op, as_sql) end

function compile.execute(d, op)
  local s = op.sqltext
  local params = op.params
  if type(s) == "table" then
    if s.kind == "text" or s.kind == "literal_column" then s = s.text
    elseif s.to_sql then
      -- a statement object (luamig.dml) brings its own bound parameters
      local own
      s, own = s:to_sql(d)
      if own then
        local merged = {}
        for k, v in pairs(own) do merged[k] = v end
        for k, v in pairs(params or {}) do merged[k] = v end
        params = merged
      end
    else error("op.execute: cannot execute a value of kind " .. tostring(s.kind), 0) end
  end
  if params and next(params) then return { { sql = s, params = params } } end
  return { s }
end

-- Compiles an operation object into a list of statements.  `as_sql` is true offline.
function base:compile(op, as_sql)
  local f = compile[op.kind]
  if not f then error("dialect " .. self.name .. ": cannot compile operation " .. tostring(op.kind), 0) end
  return f(self, op, as_sql)
end

--------------------------------------------------------------------------------------------
-- Batch mode policy (luamig.batch), as Alembic's DefaultImpl: no rebuild unless asked for
--------------------------------------------------------------------------------------------

-- Whether batch_alter_table(recreate = "auto") rebuilds the table ("move and copy") rather
-- than running each operation as an ALTER.
function base:batch_rebuilds_by_default() return false end

-- Whether a rebuild can read the live table; without it, a rebuild needs copy_from.
function base:batch_reflects_live_table() return false end

-- Alembic's cast_for_batch_migrate: whether a rebuild copies a column whose type changes from
-- old_type to new_type through CAST(... AS new_type).
function base:cast_for_batch_migrate(old_type, new_type) return false end

-- Runs run(), which executes the statements of the online rebuild of table `name` (luamig
-- batch), inside the migration's transaction in ctx, with whatever this database needs around
-- them; `named_elsewhere` says whether views or triggers of other tables name the table (nil:
-- not known, with copy_from).  Raises what run raises, or a violation the rebuild left.
function base:batch_rebuild_guard(ctx, name, schema, named_elsewhere, run) return run() end

-- luamig test's scratch database (luamig.roundtrip): base:scratch(url, opts) -> { url, kind,
-- where, connect() -> a connection to it, drop() } made from the configured URL; opts.token
-- names it, opts.schema asks for a schema instead of a database, opts.connect(url) and
-- opts.redact(text) are luamig.core's. A dialect without one refuses.
function base:scratch(url, opts) -- luacheck: no unused args
  error("luamig " .. (opts and opts.command or "test") .. ": no scratch database for " .. self.name, 0)
end

return base
