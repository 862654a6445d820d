--[[ luamig.sqldialect.postgresql — SQL for PostgreSQL, as SQLAlchemy 1.4's postgresql dialect and
Alembic 1.8's PostgresqlImpl produce it.

Differences from base: SERIAL/BIGSERIAL/SMALLSERIAL for the autoincrement primary key, IDENTITY
columns, TIMESTAMP/TIME WITH(OUT) TIME ZONE, BYTEA, native ENUM types (CREATE TYPE before the
table that uses them, DROP TYPE after a dropped table whose model is known), COMMENT ON,
CREATE INDEX options (CONCURRENTLY, USING, INCLUDE, WITH, TABLESPACE, WHERE), EXCLUDE
constraints, ALTER COLUMN ... TYPE ... USING, and all constraint ALTERs.

Facts: PostgresqlImpl (also named "postgres"); default schema "public"; tables looked up in
pg_catalog.pg_tables; user-facing types in luamig.dialects.postgresql; offline literals double
backslashes; SERIAL ids; FLOAT(p) stored as REAL or DOUBLE PRECISION and SERIAL as INTEGER; a
SERIAL column's nextval() default is implicit; the server says whether two defaults are equal.
]]

local base = require "luamig.sqldialect.base"
local lint_facts = require "luamig.sqldialect.postgresql_lint"
local sa = require "luamig.sa"

local pg = base.derive("postgresql", {})
-- what each operation does to a live database, for luamig.lint
pg.lint = lint_facts

-- SQLAlchemy's postgresql RESERVED_WORDS.
local reserved = {}
for w in ([[all analyse analyze and any array as asc asymmetric authorization between binary
  both case cast check collate column constraint create cross current_catalog current_date
  current_role current_schema current_time current_timestamp current_user default deferrable
  desc distinct do else end except false fetch for foreign freeze from full grant group having
  ilike in initially inner intersect into is isnull join leading left like limit localtime
  localtimestamp natural new not notnull null of off offset old on only or order outer over
  overlaps placing primary references returning right select session_user similar some
  symmetric table then to trailing true union unique user using variadic verbose when where
  window with]]):gmatch("%S+") do
  reserved[w] = true
end
pg.reserved_words = reserved
pg.supports_comments = true
pg.max_identifier_length = 63   -- NAMEDATALEN - 1, as SQLAlchemy's PGDialect says

pg.impl_name = "PostgresqlImpl"
pg.default_schema = "public"
pg.offline_backslash_escapes = true
pg.autoincrement_default_is_implicit = true

-- A tenant's schema as the search_path of every session libpq opens (PGOPTIONS; a URL's own
-- options= parameter would take its place).
function pg:schema_session_env(schema)
  local prev = os.getenv("PGOPTIONS")
  local opt = "-c search_path=" .. schema
  return { PGOPTIONS = (prev and prev ~= "") and (prev .. " " .. opt) or opt }
end

function pg:table_exists_sql(name, schema)
  return "SELECT 1 FROM pg_catalog.pg_tables WHERE tablename = $1 AND schemaname = " ..
    "COALESCE($2, current_schema())", { name, schema, n = 2 }
end

function pg:autoincrement_id_sql(name)
  return name .. " SERIAL NOT NULL PRIMARY KEY"
end

-- PostgreSQL keeps FLOAT(p) as REAL (p <= 24) or DOUBLE PRECISION, and SERIAL as INTEGER.
local serial_storage = { serial = "integer", bigserial = "bigint", smallserial = "smallint" }
function pg:normalise_type_tokens(p)
  if serial_storage[p.token0] then p.token0 = serial_storage[p.token0] end
  if p.token0 == "float" then
    local prec = tonumber(p.args[1])
    if prec and prec <= 24 then p.token0 = "real" else p.token0 = "double"; p.tokens = { "precision" } end
    p.args = {}
  elseif p.token0 == "double" then
    p.args = {}
  end
  return p
end

-- A SERIAL column's default (nextval of the sequence it owns) is no default of the model.
function pg:reflected_default_for_compare(col, text)
  if col.autoincrement == true and text:match("^nextval%(") then return nil end
  return col.server_default
end

-- PostgreSQL can tell whether two default expressions are equal (Alembic asks it too).  Asked
-- inside a savepoint when a transaction is open, so that a failing comparison changes nothing.
function pg:server_defaults_equal(mc, conn_sql, meta_sql)
  local conn = mc.connection
  if not conn or mc.as_sql or not mc.query then return nil end
  local in_tx = conn.in_transaction and conn:in_transaction()
  if in_tx then pcall(conn.execute, conn, "SAVEPOINT luamig_autogenerate") end
  local ok, rows = pcall(mc.query, mc, "SELECT " .. conn_sql .. " = " .. meta_sql)
  if in_tx then
    if ok then pcall(conn.execute, conn, "RELEASE SAVEPOINT luamig_autogenerate")
    else pcall(conn.execute, conn, "ROLLBACK TO SAVEPOINT luamig_autogenerate") end
  end
  if not ok or not rows or not rows[1] then return nil end
  local v = rows[1][1]
  return v == true or v == "t" or v == 1 or v == "1" or v == "true"
end

-- Offline, SQLAlchemy assumes standard_conforming_strings is off and doubles backslashes in
-- string literals; a dialect built with { backslash_escapes = true } does the same.
function pg:quote_string(s)
  base.refuse_nul(s)
  if self.backslash_escapes then s = s:gsub("\\", "\\\\") end
  return "'" .. s:gsub("'", "''") .. "'"
end

local function tz(name, t, precision)
  local s = name
  if precision then s = s .. "(" .. precision .. ")" end
  return s .. (t.timezone and " WITH TIME ZONE" or " WITHOUT TIME ZONE")
end

local function enum_type_name(d, t)
  if t.enum_name == nil then
    error("PostgreSQL ENUM type requires a name.", 0)
  end
  local n = d:quote(t.enum_name)
  if t.schema then n = d:quote_schema(t.schema) .. "." .. n end
  return n
end

local function native_enum(t)
  return (t.name == "Enum" and t.native_enum ~= false) or t.name == "ENUM"
end

function pg:native_enum_type(t) return native_enum(t) end

pg.types = setmetatable({
  DateTime = function(_, t) return tz("TIMESTAMP", t) end,
  TIMESTAMP = function(_, t) return tz("TIMESTAMP", t, t.precision) end,
  DATETIME = function() return "DATETIME" end,
  Time = function(_, t) return tz("TIME", t) end,
  TIME = function(_, t) return tz("TIME", t, t.precision) end,
  Interval = function() return "INTERVAL" end,
  INTERVAL = function(_, t)
    local s = "INTERVAL"
    if t.fields then s = s .. " " .. t.fields end
    if t.precision then s = s .. " (" .. t.precision .. ")" end
    return s
  end,
  LargeBinary = function() return "BYTEA" end,
  BYTEA = function() return "BYTEA" end,
  Uuid = function() return "UUID" end,
  Enum = function(d, t)
    if native_enum(t) then return enum_type_name(d, t) end
    return "VARCHAR(" .. base._enum_length(t) .. ")"
  end,
  ENUM = function(d, t) return enum_type_name(d, t) end,
  ARRAY = function(d, t)
    return d:type_sql(t.item_type) .. string.rep("[]", t.dimensions or 1)
  end,
  JSONB = function() return "JSONB" end,
  HSTORE = function() return "HSTORE" end,
  INET = function() return "INET" end,
  CIDR = function() return "CIDR" end,
  MACADDR = function() return "MACADDR" end,
  MACADDR8 = function() return "MACADDR8" end,
  MONEY = function() return "MONEY" end,
  OID = function() return "OID" end,
  REGCLASS = function() return "REGCLASS" end,
  TSVECTOR = function() return "TSVECTOR" end,
  CITEXT = function() return "CITEXT" end,
  INT4RANGE = function() return "INT4RANGE" end,
  INT8RANGE = function() return "INT8RANGE" end,
  NUMRANGE = function() return "NUMRANGE" end,
  DATERANGE = function() return "DATERANGE" end,
  TSRANGE = function() return "TSRANGE" end,
  TSTZRANGE = function() return "TSTZRANGE" end,
  BIT = function(_, t)
    local s = t.varying and "BIT VARYING" or "BIT"
    local len = t.length
    if len == nil and not t.varying then len = 1 end
    if len then s = s .. "(" .. len .. ")" end
    return s
  end,
}, { __index = base.types })

local serial_names = { BigInteger = "BIGSERIAL", BIGINT = "BIGSERIAL", SmallInteger = "SMALLSERIAL",
                       SMALLINT = "SMALLSERIAL" }

function pg:identity_sql(id)
  local s = "GENERATED " .. (id.always and "ALWAYS" or "BY DEFAULT") .. " AS IDENTITY"
  local o = {}
  if id.increment ~= nil then o[#o + 1] = "INCREMENT BY " .. id.increment end
  if id.start ~= nil then o[#o + 1] = "START WITH " .. id.start end
  if id.minvalue ~= nil then o[#o + 1] = "MINVALUE " .. id.minvalue end
  if id.maxvalue ~= nil then o[#o + 1] = "MAXVALUE " .. id.maxvalue end
  if id.nominvalue ~= nil then o[#o + 1] = "NO MINVALUE" end
  if id.nomaxvalue ~= nil then o[#o + 1] = "NO MAXVALUE" end
  if id.cache ~= nil then o[#o + 1] = "CACHE " .. id.cache end
  if id.order ~= nil then o[#o + 1] = id.order and "ORDER" or "NO ORDER" end
  if id.cycle ~= nil then o[#o + 1] = id.cycle and "CYCLE" or "NO CYCLE" end
  if #o > 0 then s = s .. " (" .. table.concat(o, " ") .. ")" end
  return s
end

function pg:computed_sql(c)
  if c.persisted == false then
    error("PostrgreSQL computed columns do not support 'virtual' persistence; set the "
      .. "'persisted' flag to None or True for PostgreSQL support.", 0)
  end
  return "GENERATED ALWAYS AS (" .. c.sqltext .. ") STORED"
end

function pg:column_spec(col, tbl)
  local s = self:quote(col.name)
  local has_identity = col.identity ~= nil
  if col.primary_key and not has_identity and col.default == nil
      and sa.autoincrement_column(tbl) == col then
    s = s .. " " .. (serial_names[col.type.name] or "SERIAL")
  else
    s = s .. " " .. self:type_sql(col.type)
    local d = self:default_sql(col.server_default)
    if d then s = s .. " DEFAULT " .. d end
  end
  if col.computed then s = s .. " " .. self:computed_sql(col.computed) end
  if has_identity then s = s .. " " .. self:identity_sql(col.identity) end
  if not col.nullable and not has_identity then
    s = s .. " NOT NULL"
  elseif col.nullable and has_identity then
    s = s .. " NULL"
  end
  return s
end

function pg:constraint_sql(c, tbl)
  local text = base.constraint_sql(self, c, tbl)
  if text and (c.kind == "check" or c.kind == "foreign_key") and c.dialect_kw
      and c.dialect_kw.postgresql_not_valid then
    text = text .. " NOT VALID"
  end
  return text
end

-- EXCLUDE USING gist (col WITH =, ...) [WHERE (...)]
function pg:exclude_sql(c)
  local els = {}
  for i, e in ipairs(c.elements) do
    local expr, operator = e[1], e[2]
    local text = type(expr) == "string" and self:quote(expr) or self:expr(expr)
    if c.ops and type(expr) == "string" and c.ops[expr] then text = text .. " " .. c.ops[expr] end
    els[i] = text .. " WITH " .. operator
  end
  local s = self:constraint_prefix(c) .. "EXCLUDE USING " .. (c.using or "gist"):lower()
    .. " (" .. table.concat(els, ", ") .. ")"
  if c.where ~= nil then
    -- a plain string is SQL text, as SQLAlchemy's ExcludeConstraint(where="...") takes it
    local where = type(c.where) == "string" and c.where or self:expr(c.where)
    s = s .. " WHERE (" .. where .. ")"
  end
  return s .. self:deferrability(c)
end

function pg:post_create_table(tbl)
  local kw = tbl.dialect_kw or {}
  local s = ""
  if kw.postgresql_inherits then
    local inh = kw.postgresql_inherits
    if type(inh) == "string" then inh = { inh } end
    s = s .. "\n INHERITS ( " .. self:quoted_list(inh) .. " )"
  end
  if kw.postgresql_partition_by then s = s .. "\n PARTITION BY " .. kw.postgresql_partition_by end
  if kw.postgresql_with_oids == true then s = s .. "\n WITH OIDS"
  elseif kw.postgresql_with_oids == false then s = s .. "\n WITHOUT OIDS" end
  if kw.postgresql_on_commit then
    s = s .. "\n ON COMMIT " .. kw.postgresql_on_commit:gsub("_", " "):upper()
  end
  if kw.postgresql_tablespace then s = s .. "\n TABLESPACE " .. self:quote(kw.postgresql_tablespace) end
  return s
end

-- The native ENUM types a table's columns use, once each, in column order.
local function table_enums(tbl)
  local seen, list = {}, {}
  local function visit(t)
    if t.name == "ARRAY" and t.item_type then return visit(t.item_type) end
    if native_enum(t) and t.create_type ~= false then
      local key = (t.schema or "") .. "." .. tostring(t.enum_name)
      if not seen[key] then seen[key] = true; list[#list + 1] = t end
    end
  end
  for _, col in ipairs(tbl.columns) do visit(col.type) end
  return list
end

function pg:create_enum_sql(t)
  local vals = {}
  for i, v in ipairs(t.enums) do vals[i] = self:quote_string(v) end
  return "CREATE TYPE " .. enum_type_name(self, t) .. " AS ENUM (" .. table.concat(vals, ", ") .. ")"
end

-- SQLAlchemy creates a table's ENUM types with it (Alembic passes checkfirst=False).
function pg:before_create_table(tbl)
  local out = {}
  for _, t in ipairs(table_enums(tbl)) do out[#out + 1] = self:create_enum_sql(t) end
  return out
end

function pg:after_drop_table(tbl)
  local out = {}
  for _, t in ipairs(table_enums(tbl)) do out[#out + 1] = "DROP TYPE " .. enum_type_name(self, t) end
  return out
end

-- ADD COLUMN of a column of an ENUM type creates the type first when it does not exist
-- (Alembic adds the column and fails on the missing type); "when it does not exist" is
-- decided by the server, so that the same statement works in --sql scripts.
function pg:before_add_column(col)
  local out = {}
  for _, t in ipairs(table_enums({ columns = { col } })) do
    out[#out + 1] = "DO $luamig$ BEGIN " .. self:create_enum_sql(t)
      .. "; EXCEPTION WHEN duplicate_object THEN NULL; END $luamig$"
  end
  return out
end

pg.has_named_types = true
function pg:named_types(coltype)
  local out = {}
  for _, t in ipairs(table_enums({ columns = { { type = coltype } } })) do
    out[#out + 1] = { key = (t.schema or "") .. "." .. t.enum_name, type = t }
  end
  return out
end

function pg:drop_type_if_exists_sql(t)
  return "DROP TYPE IF EXISTS " .. enum_type_name(self, t)
end

-- The names PostgreSQL gives unnamed constraints (src/backend/commands/indexcmds.c,
-- tablecmds.c, heap.c): <table>_<columns>_fkey / _key / _pkey / _check, each part clipped so
-- that the whole fits in NAMEDATALEN - 1 = 63 bytes (the longer part loses a byte at a time,
-- never splitting a UTF-8 character), and a number after the label while the name is taken.
local NAMEDATALEN = 64

local function clip(s, n)
  if #s <= n then return s end
  while n > 0 and (s:byte(n + 1) or 0) >= 0x80 and s:byte(n + 1) < 0xC0 do n = n - 1 end
  return s:sub(1, n)
end

local function make_object_name(name1, name2, label)
  local n1, n2, overhead = #name1, 0, 0
  if name2 then n2 = #name2; overhead = overhead + 1 end
  if label then overhead = overhead + #label + 1 end
  local avail = NAMEDATALEN - 1 - overhead
  while n1 + n2 > avail do
    if n1 > n2 then n1 = n1 - 1 else n2 = n2 - 1 end
  end
  local s = clip(name1, n1)
  if name2 then s = s .. "_" .. clip(name2, n2) end
  if label then s = s .. "_" .. label end
  return s
end
pg._make_object_name = make_object_name

-- ChooseForeignKeyConstraintNameAddition / ChooseIndexNameAddition: the column names joined
-- with "_", stopping once NAMEDATALEN bytes are reached.
local function name_addition(cols)
  local buf = ""
  for _, c in ipairs(cols) do
    if #buf > 0 then buf = buf .. "_" end
    buf = buf .. (type(c) == "string" and c or "expr"):sub(1, NAMEDATALEN - 1)
    if #buf >= NAMEDATALEN then break end
  end
  return buf
end

local function choose_name(name1, name2, label, taken)
  local pass, modlabel = 0, label
  while true do
    local n = make_object_name(name1, name2, modlabel)
    if not taken[n] then
      taken[n] = true
      return n
    end
    pass = pass + 1
    modlabel = label .. pass
  end
end

-- heap.c names a CHECK after its column when the expression reads exactly one column.
local function check_column(sqltext, tbl)
  local found, count = nil, 0
  local text = sqltext:gsub("'[^']*'", " ")
  local seen = {}
  for word in text:gmatch('"?([%a_][%w_$]*)"?') do
    if tbl.c and tbl.c[word] and not seen[word] then
      seen[word] = true
      found, count = word, count + 1
    end
  end
  return count == 1 and found or nil
end

function pg:implicit_constraint_name(c, tbl, taken)
  if c.kind == "foreign_key" then
    return choose_name(tbl.name, name_addition(c.columns), "fkey", taken)
  elseif c.kind == "unique" then
    return choose_name(tbl.name, name_addition(c.columns), "key", taken)
  elseif c.kind == "primary_key" then
    return choose_name(tbl.name, nil, "pkey", taken)
  elseif c.kind == "check" then
    return choose_name(tbl.name, check_column(c.sqltext, tbl), "check", taken)
  end
  return nil
end

function pg:create_index_sql(ix, if_not_exists)
  local kw = ix.dialect_kw or {}
  local s = "CREATE "
  if ix.unique then s = s .. "UNIQUE " end
  s = s .. "INDEX "
  if kw.postgresql_concurrently then s = s .. "CONCURRENTLY " end
  if if_not_exists then s = s .. "IF NOT EXISTS " end
  s = s .. self:index_name(ix, false) .. " ON " .. self:format_table(ix.table, ix.schema) .. " "
  if kw.postgresql_using then s = s .. "USING " .. tostring(kw.postgresql_using):lower() .. " " end
  local ops = kw.postgresql_ops or {}
  local exprs = {}
  for i, e in ipairs(ix.columns) do
    local text = self:index_expr(e)
    if type(e) == "string" and ops[e] then text = text .. " " .. ops[e] end
    exprs[i] = text
  end
  s = s .. "(" .. table.concat(exprs, ", ") .. ")"
  if kw.postgresql_include and #kw.postgresql_include > 0 then
    s = s .. " INCLUDE (" .. self:quoted_list(kw.postgresql_include) .. ")"
  end
  if kw.postgresql_with then
    local keys = {}
    for k in pairs(kw.postgresql_with) do keys[#keys + 1] = k end
    table.sort(keys)
    local parts = {}
    for i, k in ipairs(keys) do parts[i] = k .. " = " .. tostring(kw.postgresql_with[k]) end
    s = s .. " WITH (" .. table.concat(parts, ", ") .. ")"
  end
  if kw.postgresql_tablespace then s = s .. " TABLESPACE " .. self:quote(kw.postgresql_tablespace) end
  if kw.postgresql_where ~= nil then s = s .. " WHERE " .. self:expr(kw.postgresql_where) end
  return s
end

function pg:drop_index_sql(ix, if_exists)
  local s = "DROP INDEX "
  if ix.dialect_kw and ix.dialect_kw.postgresql_concurrently then s = s .. "CONCURRENTLY " end
  if if_exists then s = s .. "IF EXISTS " end
  return s .. self:index_name(ix, true)
end

-- Alembic's PostgresqlImpl.alter_column: the TYPE change (with USING) comes first, then the
-- generic pieces.  Its TYPE statement ends with a space when there is no USING.
function pg:alter_column_sql(op)
  local out = {}
  if op.type_ ~= nil then
    out[1] = self:alter_table(op.table_name, op.schema) .. " ALTER COLUMN " .. self:quote(op.column_name)
      .. " TYPE " .. self:type_sql(op.type_) .. " "
      .. (op.postgresql_using and ("USING " .. op.postgresql_using) or "")
  end
  for _, s in ipairs(base.alter_column_sql(self, op, true)) do out[#out + 1] = s end
  return out
end

function pg:alter_comment_sql(op)
  local c = op.comment
  if c == false then c = nil end
  return self:column_comment_sql(op.table_name, op.schema, op.column_name, c)
end

-- The relation locks the session holds, for upgrade --dry-run (luamig.dryrun): mode as
-- pg_locks names it, schema, relation; the catalog's own locks left out.
function pg:held_locks_sql()
  return "SELECT l.mode, n.nspname, c.relname FROM pg_catalog.pg_locks l "
    .. "JOIN pg_catalog.pg_class c ON c.oid = l.relation "
    .. "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    .. "WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND l.granted "
    .. "AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') "
    .. "ORDER BY n.nspname, c.relname, l.mode"
end

-- the SQLSTATE of a statement cancelled by lock_timeout (lock_not_available): luamig.timeouts
-- retries the migration on it
pg.lock_timeout_sqlstate = "55P03"

-- lock_timeout and statement_timeout for the rest of the migration's transaction
-- (luamig.timeouts); values are already checked durations ("300ms", "5s").
function pg:timeout_statements(t)
  local out = {}
  if t.lock_timeout then out[#out + 1] = "SET LOCAL lock_timeout = '" .. t.lock_timeout .. "'" end
  if t.statement_timeout then
    out[#out + 1] = "SET LOCAL statement_timeout = '" .. t.statement_timeout .. "'"
  end
  return out
end

-- What to add to the error of a run in one transaction (or of a checkpoint's step: `checkpoint`)
-- that failed with SQLSTATE `code`, when that is the lock table overflowing (53200, "out of
-- shared memory": each table a migration creates or changes holds its locks until the
-- transaction ends, and the server's lock table has max_locks_per_transaction x
-- (max_connections + max_prepared_transactions) slots); nil for any other error.
local LOCK_TABLE_WAYS_OUT = "Set transaction_per_migration = true in luamig.ini (each migration "
  .. "commits and releases its locks), raise max_locks_per_transaction on the server, or start "
  .. "fresh databases from a checkpoint (luamig checkpoint)"

function pg:lock_table_full_advice(code, checkpoint)
  if code ~= "53200" then return nil end
  if checkpoint then
    return "the checkpoint is one transaction creating the whole schema it stands for, and its "
      .. "locks overflowed the server's lock table (max_locks_per_transaction x "
      .. "max_connections); nothing was applied. Raise max_locks_per_transaction on the server, "
      .. "or upgrade with --no-checkpoints (the revisions replayed, each in its transaction with "
      .. "transaction_per_migration = true)"
  end
  return "one transaction holding the locks of every migration of the run overflowed the "
    .. "server's lock table (max_locks_per_transaction x max_connections); nothing was applied. "
    .. LOCK_TABLE_WAYS_OUT
end

-- The slots of the server's shared lock table: max_locks_per_transaction x (the server's
-- processes + max_prepared_transactions), as PostgreSQL sizes it; nil when a setting is
-- missing (an engine that only speaks the protocol). Read from pg_settings, which names what
-- it has: a current_setting() of a missing one would fail, and with it the transaction the
-- run is in.
local LOCK_TABLE_SETTINGS = { "max_locks_per_transaction", "max_connections",
  "autovacuum_max_workers", "max_worker_processes", "max_wal_senders",
  "max_prepared_transactions" }

function pg:lock_table_capacity(conn)
  local rows = conn:query("SELECT name, setting FROM pg_catalog.pg_settings WHERE name IN ('"
    .. table.concat(LOCK_TABLE_SETTINGS, "', '") .. "')")
  local v = {}
  for _, r in ipairs(rows) do v[r[1]] = tonumber(r[2]) end
  for _, name in ipairs(LOCK_TABLE_SETTINGS) do
    if not v[name] then return nil end
  end
  return v.max_locks_per_transaction * (v.max_connections + v.autovacuum_max_workers + 1
    + v.max_worker_processes + v.max_wal_senders + v.max_prepared_transactions)
end

-- The message for a run that cannot fit the lock table, said before its first step.
function pg:lock_table_too_small(migrations, relations, capacity)
  return string.format("these %d migrations run in one transaction that would hold locks on at "
    .. "least %d tables and indexes until it ends, more than the server's lock table can hold "
    .. "(%d slots: max_locks_per_transaction x (max_connections + the server's other processes "
    .. "+ max_prepared_transactions)); nothing was applied. %s", migrations, relations, capacity,
    LOCK_TABLE_WAYS_OUT)
end

-- Checkpoints (luamig.checkpoint). How many relations a checkpoint creates in its one
-- transaction, each keeping a lock until it ends: tables, indexes, sequences, views, and the
-- TOAST table and index of a table that has them; in the schema the connection's search path
-- puts first, or (all_schemas: include_schemas) in every schema but the system's.
function pg:checkpoint_relations(conn, all_schemas)
  local schemas = all_schemas and [[n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%']]
    or "n.nspname = current_schema()"
  return tonumber(conn:query([[
SELECT count(*) + 2 * count(*) FILTER (WHERE c.reltoastrelid <> 0)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'i', 'I', 'S', 'v', 'm') AND ]] .. schemas)[1][1])
end

-- The message for a checkpoint whose one step cannot fit the lock table, said before it is
-- rendered.
function pg:checkpoint_too_big(relations, capacity)
  return string.format("the checkpoint would be one transaction creating %d tables, indexes and "
    .. "sequences, holding a lock on each until it ends: more than the server's lock table can "
    .. "hold (%d slots: max_locks_per_transaction x (max_connections + the server's other "
    .. "processes + max_prepared_transactions)); nothing was written. Raise "
    .. "max_locks_per_transaction on the server (for this command and for the upgrades that "
    .. "will run the checkpoint), or checkpoint an earlier revision", relations, capacity)
end

-- What luamig's reflection does not cover, in the schema the
-- connection's search path puts first: one sorted line per object ("view v", "function f",
-- "type e", "trigger t on x", "sequence s" not owned by a column, "extension x").
function pg:checkpoint_objects(conn)
  local rows = conn:query([[
SELECT 'view ' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = current_schema() AND c.relkind IN ('v', 'm')
UNION ALL
SELECT 'sequence ' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = current_schema() AND c.relkind = 'S' AND NOT EXISTS (
   SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
      AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i'))
UNION ALL
SELECT 'function ' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = current_schema()
UNION ALL
SELECT 'type ' || t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
 WHERE n.nspname = current_schema() AND t.typtype IN ('e', 'd', 'r', 'm')
UNION ALL
SELECT 'trigger ' || g.tgname || ' on ' || c.relname FROM pg_trigger g
  JOIN pg_class c ON c.oid = g.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = current_schema() AND NOT g.tgisinternal
UNION ALL
SELECT 'rule ' || r.rulename || ' on ' || c.relname FROM pg_rewrite r
  JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = current_schema() AND c.relkind = 'r'
UNION ALL
SELECT 'extension ' || extname FROM pg_extension WHERE extname <> 'plpgsql'
ORDER BY 1]])
  local out = {}
  for i, r in ipairs(rows) do out[i] = r[1] end
  return out
end

-- What a checkpoint's downgrade runs after dropping its tables, for one of the objects
-- checkpoint_objects listed after the replay: the enum types its columns made (DROP TABLE leaves
-- them); nil for the others.
function pg:checkpoint_drop_sql(object)
  local name = object:match("^type (.+)$")
  if name then return "DROP TYPE IF EXISTS " .. self:quote(name) end
  return nil
end

-- The sequences owned by columns (serial, identity) and where each stands: { { table =,
-- column =, value =, called = }, ... } sorted by table and column.
function pg:checkpoint_sequences(conn)
  local rows = conn:query([[
SELECT t.relname, a.attname, s.relname FROM pg_class s
  JOIN pg_namespace n ON n.oid = s.relnamespace
  JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid
   AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i')
  JOIN pg_class t ON t.oid = d.refobjid
  JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
 WHERE s.relkind = 'S' AND n.nspname = current_schema()
 ORDER BY 1, 2]])
  local out = {}
  for _, r in ipairs(rows) do
    local st = conn:query("SELECT last_value, is_called FROM " .. self:quote(r[3]))[1]
    local called = st[2]
    if type(called) == "string" then called = called == "t" end
    out[#out + 1] = { table = r[1], column = r[2], value = tostring(st[1]), called = called }
  end
  return out
end

-- The statements that put a column's sequence back where checkpoint_sequences found it.
function pg:checkpoint_sequence_sql(s)
  return { string.format("SELECT setval(pg_get_serial_sequence(%s, %s), %s, %s)",
    self:quote_string(self:quote(s.table)), self:quote_string(s.column), s.value,
    s.called and "true" or "false") }
end

-- Catalog snapshots (luamig.roundtrip, `luamig test` without --data): a print of each table of the
-- schema the search path puts first, kept in a TEMP table of the scratch connection (slots 0 and 1
-- for the states a step keeps), so that a state of 10,000 tables costs the test no Lua memory. A
-- print is the sha256 of what luamig's reflection reads for the table, as the reflection reads
-- it: each column (by name: compare does not look at their order, which a downgrade that adds a
-- column again changes) with its type (through a domain to its base type, with the domain's NOT
-- NULL and default, as reflect_pg.c does), an enum's labels, default, identity, generation,
-- collation, owned sequence and comment; each constraint as pg_get_constraintdef gives it; each
-- index as pg_get_indexdef gives it (without the schema it names its table with, ON or ON ONLY
-- for a partitioned table); the comments; the table's kind, options and partition key. Names (a
-- type's schema only when it is not the test's), never numbers: a column's number (attnum)
-- changes when a downgrade drops a column and the upgrade adds it again, and object ids differ
-- from one database to the next, while luamig compares prints across databases (catalog_prints,
-- on the replay luamig.roundtrip makes). Each group is an array of rows as text (array and record
-- output quote what needs it), so that no two different catalogs give the same text. Two states
-- whose prints are equal reflect the same; unlike SQLite's, the catalog cannot make a state again
-- (catalog_restore). {only} narrows the tables (TABLES) to those being printed again.
local TABLES = [[SELECT c.oid, c.relname, c.relkind, c.relpersistence, c.reloptions FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')]]

-- A table's parts that can go without a row of the table changing (its constraints, indexes and
-- defaults), and the table itself: what comments are on and what refers to other objects.
local PARTS = [[
parts (rel, cls, oid) AS (SELECT t.oid, 'pg_class'::regclass::oid, t.oid FROM t
  UNION ALL SELECT k.conrelid, 'pg_constraint'::regclass::oid, k.oid
            FROM t JOIN pg_constraint k ON k.conrelid = t.oid
  UNION ALL SELECT x.indrelid, 'pg_class'::regclass::oid, x.indexrelid
            FROM t JOIN pg_index x ON x.indrelid = t.oid
  UNION ALL SELECT f.adrelid, 'pg_attrdef'::regclass::oid, f.oid
            FROM t JOIN pg_attrdef f ON f.adrelid = t.oid)]]

local PRINTS = [[
WITH t AS (]] .. TABLES .. [[ {only}),
ds AS (SELECT d.objoid, d.classoid, d.objsubid, d.description FROM pg_description d
       WHERE d.classoid IN ('pg_class'::regclass, 'pg_constraint'::regclass)),
labels AS (SELECT e.enumtypid, array_agg(e.enumlabel ORDER BY e.enumsortorder)::text AS l
           FROM pg_enum e GROUP BY e.enumtypid),
seqs AS (SELECT dep.refobjid, dep.refobjsubid, ROW(dep.deptype, s.seqstart, s.seqincrement,
           s.seqmin, s.seqmax, s.seqcache, s.seqcycle)::text AS q
         FROM t JOIN pg_depend dep ON dep.refclassid = 'pg_class'::regclass AND dep.refobjid = t.oid
         JOIN pg_sequence s ON s.seqrelid = dep.objid
         WHERE dep.classid = 'pg_class'::regclass AND dep.deptype IN ('a', 'i')),
cols AS (SELECT a.attrelid AS oid, array_agg(ROW(a.attname, format_type(a.atttypid, a.atttypmod),
           format_type(et.oid, CASE WHEN ty.typtype = 'd' THEN ty.typtypmod ELSE a.atttypmod END),
           nullif(etn.nspname, current_schema()), coalesce(el.l, ael.l),
           a.attnotnull OR (ty.typtype = 'd' AND ty.typnotnull),
           COALESCE(pg_get_expr(f.adbin, CASE WHEN a.attgenerated <> '' THEN f.adrelid ELSE 0 END),
             CASE WHEN ty.typtype = 'd' THEN ty.typdefault END),
           a.attidentity, a.attgenerated, co.collname, sq.q, cd.description)::text
           ORDER BY a.attname, sq.q)::text AS p
         FROM t JOIN pg_attribute a ON a.attrelid = t.oid
         JOIN pg_type ty ON ty.oid = a.atttypid
         JOIN pg_type et ON et.oid = CASE WHEN ty.typtype = 'd' THEN ty.typbasetype ELSE ty.oid END
         JOIN pg_namespace etn ON etn.oid = et.typnamespace
         LEFT JOIN labels el ON el.enumtypid = et.oid
         LEFT JOIN labels ael ON ael.enumtypid = et.typelem
         LEFT JOIN pg_collation co ON co.oid = a.attcollation
         LEFT JOIN pg_attrdef f ON f.adrelid = a.attrelid AND f.adnum = a.attnum
         LEFT JOIN seqs sq ON sq.refobjid = a.attrelid AND sq.refobjsubid = a.attnum
         LEFT JOIN ds cd ON cd.objoid = a.attrelid AND cd.classoid = 'pg_class'::regclass
           AND cd.objsubid = a.attnum
         WHERE a.attnum > 0 AND NOT a.attisdropped GROUP BY a.attrelid),
cons AS (SELECT k.conrelid AS oid, array_agg(ROW(k.conname, pg_get_constraintdef(k.oid),
           k.convalidated, kd.description)::text ORDER BY k.conname)::text AS p
         FROM t JOIN pg_constraint k ON k.conrelid = t.oid
         LEFT JOIN ds kd ON kd.objoid = k.oid AND kd.classoid = 'pg_constraint'::regclass
         GROUP BY k.conrelid),
idx AS (SELECT x.indrelid AS oid, array_agg(ROW(replace(replace(pg_get_indexdef(x.indexrelid),
           ' ON ONLY ' || quote_ident(current_schema()) || '.', ' ON ONLY '),
           ' ON ' || quote_ident(current_schema()) || '.', ' ON '), i.reloptions,
           xd.description)::text ORDER BY i.relname)::text AS p
        FROM t JOIN pg_index x ON x.indrelid = t.oid JOIN pg_class i ON i.oid = x.indexrelid
        LEFT JOIN ds xd ON xd.objoid = i.oid AND xd.classoid = 'pg_class'::regclass
          AND xd.objsubid = 0
        GROUP BY x.indrelid),
home AS (SELECT 'pg_catalog'::regnamespace::oid AS oid
         UNION ALL SELECT oid FROM pg_namespace WHERE nspname = current_schema()),
]] .. PARTS .. [[,
outside AS (SELECT a.attrelid AS oid FROM t JOIN pg_attribute a ON a.attrelid = t.oid
              AND a.attnum > 0 AND NOT a.attisdropped
            JOIN pg_type ty ON ty.oid = a.atttypid
            LEFT JOIN pg_type bt ON bt.oid = ty.typbasetype
            LEFT JOIN pg_type el ON el.oid = ty.typelem
            WHERE ty.typnamespace NOT IN (SELECT oid FROM home)
              OR bt.typnamespace NOT IN (SELECT oid FROM home)
              OR el.typnamespace NOT IN (SELECT oid FROM home)
            UNION SELECT p.rel FROM parts p
            JOIN pg_depend d ON d.classid = p.cls AND d.objid = p.oid
            LEFT JOIN pg_class rc ON d.refclassid = 'pg_class'::regclass AND rc.oid = d.refobjid
            LEFT JOIN pg_type ry ON d.refclassid = 'pg_type'::regclass AND ry.oid = d.refobjid
            WHERE rc.relnamespace NOT IN (SELECT oid FROM home)
              OR ry.typnamespace NOT IN (SELECT oid FROM home))
SELECT t.oid, t.relname, encode(sha256(convert_to(ROW(t.relkind, t.relpersistence, t.reloptions,
  CASE WHEN t.relkind = 'p' THEN pg_get_partkeydef(t.oid) END, td.description, cols.p, cons.p,
  idx.p)::text, 'UTF8')), 'hex'), t.oid IN (SELECT oid FROM outside)
FROM t LEFT JOIN cols ON cols.oid = t.oid LEFT JOIN cons ON cons.oid = t.oid
LEFT JOIN idx ON idx.oid = t.oid
LEFT JOIN ds td ON td.objoid = t.oid AND td.classoid = 'pg_class'::regclass AND td.objsubid = 0]]

-- The prints are kept up to date in the scratch connection (NOW: oid, name, print, and whether
-- the table refers to a type or relation outside pg_catalog and the test's schema), and only the
-- tables a step may have changed are printed again. Printing every table at each state (65 ms at
-- 1,000 tables) made a test's time grow with the square of its history. A table is printed
-- again (DIRTY) when:
--   * a catalog row it is printed from was written since the last refresh: its row in pg_class,
--     its columns, defaults, constraints, indexes, comments, owned sequences, partition key, and
--     the dependencies recorded for them (a row's xmin is the transaction that wrote it; every
--     transaction that had not ended when the last refresh took its snapshot has an xid at or
--     after that snapshot's xmin, the horizon);
--   * such a row went: each table's parts are kept as keys (KEYS) and looked up again;
--   * an object it depends on was written (pg_depend, from the written object to its dependents,
--     and on through types: an array type to the columns of that type).
-- Everything else a print reads is in catalogs luamig test's steps seldom write (GLOBALS):
-- functions, operators, operator classes and families, collations, schemas, enum labels, access
-- methods, tablespaces, text search configurations and dictionaries, types other than a
-- relation's row type (an expression can name a type it records no dependency on), and
-- relations and types in pg_catalog or in the session's temporary schema (other than the test's
-- own; the only schemas whose objects can hide the test's schema's from the search path). When
-- a row of those is written or goes, when a table is renamed (its row type's name with it), when
-- the role, the schema or the search path changes, or when the search path puts pg_catalog after
-- another schema, every table is printed again. So it is while a table refers to a type or
-- relation in another schema, whose name a change elsewhere could qualify (it is printed
-- unqualified only while the search path finds it).
local NOW = "pg_temp.luamig_test_catalog_now"
local SLOT = "pg_temp.luamig_test_catalog_%d"   -- the state a step keeps in slot 0 or 1
local KEYS_TABLE = "pg_temp.luamig_test_catalog_keys"
local DIRTY_TABLE = "pg_temp.luamig_test_catalog_dirty"
local ONLY = "AND c.oid IN (SELECT oid FROM " .. DIRTY_TABLE .. ")"

local KEYS = [[
WITH t AS (]] .. TABLES .. [[ ]] .. ONLY .. [[),
]] .. PARTS .. [[
SELECT t.oid, 't', t.oid, 0, 0 FROM t
UNION ALL SELECT p.rel, CASE p.cls WHEN 'pg_constraint'::regclass THEN 'c'
    WHEN 'pg_attrdef'::regclass THEN 'f' ELSE 'x' END, p.oid, 0, 0 FROM parts p WHERE p.oid <> p.rel
UNION ALL SELECT p.rel, 'd', d.objoid, d.classoid, d.objsubid
  FROM parts p JOIN pg_description d ON d.objoid = p.oid AND d.classoid = p.cls
UNION ALL SELECT t.oid, 's', d.objid, 0, 0 FROM t JOIN pg_depend d
  ON d.refclassid = 'pg_class'::regclass AND d.refobjid = t.oid
  WHERE d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')]]

-- {new}: a row written at or after the horizon ($1) (a row older than 2^31 transactions has a
-- negative age)
local DIRTY = [[
WITH RECURSIVE
fresh_dep AS (SELECT classid, objid, refclassid, refobjid, deptype FROM pg_depend
              WHERE {new}),
changed (cls, oid) AS (
  SELECT 'pg_class'::regclass::oid, oid FROM pg_class WHERE {new}
  UNION SELECT 'pg_class'::regclass::oid, attrelid FROM pg_attribute WHERE {new}
  UNION SELECT 'pg_attrdef'::regclass::oid, oid FROM pg_attrdef WHERE {new}
  UNION SELECT 'pg_constraint'::regclass::oid, oid FROM pg_constraint WHERE {new}
  UNION SELECT 'pg_class'::regclass::oid, indexrelid FROM pg_index WHERE {new}
  UNION SELECT classoid, objoid FROM pg_description WHERE {new}
  UNION SELECT 'pg_class'::regclass::oid, seqrelid FROM pg_sequence WHERE {new}
  UNION SELECT 'pg_class'::regclass::oid, partrelid FROM pg_partitioned_table
    WHERE {new}
  UNION SELECT classid, objid FROM fresh_dep
  UNION SELECT refclassid, refobjid FROM fresh_dep WHERE classid = 'pg_class'::regclass
    AND refclassid = 'pg_class'::regclass AND deptype IN ('a', 'i')
  UNION SELECT 'pg_type'::regclass::oid, oid FROM pg_type WHERE {new}),
reach (cls, oid, seed) AS (SELECT cls, oid, true FROM changed
  UNION SELECT d.classid, d.objid, false FROM reach r
    JOIN pg_depend d ON d.refclassid = r.cls AND d.refobjid = r.oid
    WHERE r.seed OR r.cls = 'pg_type'::regclass),
rels (oid) AS (SELECT oid FROM reach WHERE cls = 'pg_class'::regclass
  UNION SELECT x.indrelid FROM reach r JOIN pg_index x ON x.indexrelid = r.oid
    WHERE r.cls = 'pg_class'::regclass
  UNION SELECT d.refobjid FROM reach r JOIN pg_depend d ON d.classid = r.cls AND d.objid = r.oid
    WHERE r.cls = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
      AND d.deptype IN ('a', 'i')
  UNION SELECT k.conrelid FROM reach r JOIN pg_constraint k ON k.oid = r.oid
    WHERE r.cls = 'pg_constraint'::regclass
  UNION SELECT f.adrelid FROM reach r JOIN pg_attrdef f ON f.oid = r.oid
    WHERE r.cls = 'pg_attrdef'::regclass
  UNION SELECT k.rel FROM ]] .. KEYS_TABLE .. [[ k LEFT JOIN pg_class c ON c.oid = k.oid
    WHERE k.kind = 't' AND c.oid IS NULL
  UNION SELECT k.rel FROM ]] .. KEYS_TABLE .. [[ k LEFT JOIN pg_constraint c ON c.oid = k.oid
    WHERE k.kind = 'c' AND c.oid IS NULL
  UNION SELECT k.rel FROM ]] .. KEYS_TABLE .. [[ k LEFT JOIN pg_index x ON x.indexrelid = k.oid
    WHERE k.kind = 'x' AND x.indexrelid IS NULL
  UNION SELECT k.rel FROM ]] .. KEYS_TABLE .. [[ k LEFT JOIN pg_attrdef f ON f.oid = k.oid
    WHERE k.kind = 'f' AND f.oid IS NULL
  UNION SELECT k.rel FROM ]] .. KEYS_TABLE .. [[ k LEFT JOIN pg_description d
    ON d.objoid = k.oid AND d.classoid = k.cls AND d.objsubid = k.sub
    WHERE k.kind = 'd' AND d.objoid IS NULL
  UNION SELECT k.rel FROM ]] .. KEYS_TABLE .. [[ k LEFT JOIN pg_depend d
    ON d.classid = 'pg_class'::regclass AND d.objid = k.oid AND d.refclassid = 'pg_class'::regclass
      AND d.refobjid = k.rel AND d.deptype IN ('a', 'i')
    WHERE k.kind = 's' AND d.objid IS NULL)
SELECT DISTINCT oid FROM rels]]

-- One row: the horizon for the next refresh, what must stay as it is for a refresh to print only
-- some tables again (the schema, the search path, how many rows the seldom written catalogs
-- have), and how many rows of those were written since the last refresh ({new}).
local GLOBALS = [[
WITH c (k, n, f) AS (
  SELECT 1, count(*), count(*) FILTER (WHERE {new}) FROM pg_proc
  UNION ALL SELECT 2, count(*), count(*) FILTER (WHERE {new}) FROM pg_operator
  UNION ALL SELECT 3, count(*), count(*) FILTER (WHERE {new}) FROM pg_opclass
  UNION ALL SELECT 4, count(*), count(*) FILTER (WHERE {new}) FROM pg_opfamily
  UNION ALL SELECT 5, count(*), count(*) FILTER (WHERE {new}) FROM pg_collation
  UNION ALL SELECT 6, count(*), count(*) FILTER (WHERE {new}) FROM pg_namespace
  UNION ALL SELECT 7, count(*), count(*) FILTER (WHERE {new}) FROM pg_enum
  UNION ALL SELECT 8, count(*), count(*) FILTER (WHERE {new}) FROM pg_am
  UNION ALL SELECT 9, count(*), count(*) FILTER (WHERE {new}) FROM pg_tablespace
  UNION ALL SELECT 10, count(*), count(*) FILTER (WHERE {new}) FROM pg_class
    WHERE relnamespace IN ('pg_catalog'::regnamespace, pg_my_temp_schema())
      AND relname NOT LIKE 'luamig\_test\_%'
  UNION ALL SELECT 11, count(*), count(*) FILTER (WHERE {new}) FROM pg_type
    WHERE typnamespace IN ('pg_catalog'::regnamespace, pg_my_temp_schema())
      AND typname NOT LIKE 'luamig\_test\_%' AND typname NOT LIKE '\_luamig\_test\_%'
  UNION ALL SELECT 12, count(*), count(*) FILTER (WHERE {new})
    FROM pg_ts_config
  UNION ALL SELECT 13, count(*), count(*) FILTER (WHERE {new})
    FROM pg_ts_dict
  -- types that are not a relation's row type or an array of one (an expression can name a type
  -- without a dependency on it: an empty ARRAY[]::t[])
  UNION ALL SELECT 14, count(*), count(*) FILTER (WHERE age(y.xmin) BETWEEN 0 AND age($1))
    FROM pg_type y LEFT JOIN pg_type e ON e.oid = y.typelem
    WHERE y.typrelid = 0 AND coalesce(e.typrelid, 0) = 0
  -- tables renamed (their row type's name too)
  UNION ALL SELECT 15, 0, count(*) FROM pg_class c
    JOIN ]] .. NOW .. [[ n ON n.oid = c.oid WHERE n.name <> c.relname)
SELECT txid_snapshot_xmin(txid_current_snapshot()) % 4294967296,
  concat_ws(' ', current_user, current_schema(), current_setting('search_path'),
    current_schemas(true)::text,
    (SELECT string_agg(n::text, ' ' ORDER BY k) FROM c)),
  (SELECT sum(f) FROM c)::bigint,
  coalesce(array_position(current_schemas(false), 'pg_catalog'), 1) > 1]]

local NEW = "age(xmin) BETWEEN 0 AND age($1)"

local function fill(sql, key, value)
  local i, j = sql:find(key, 1, true)
  while i do
    sql = sql:sub(1, i - 1) .. value .. sql:sub(j + 1)
    i, j = sql:find(key, i + #value, true)
  end
  return sql
end

-- What a connection's refreshes know: { horizon, globals, whole = the next prints every table }
local refreshed = setmetatable({}, { __mode = "k" })

-- What the refreshes keep in the session, in the order it is made: the temporary tables (the
-- prints, their keys, the tables to print again, the two states a step keeps), then the
-- prepared statements, which name them.
local SESSION = {
  { "CREATE TEMP TABLE", "luamig_test_catalog_now", "(oid oid PRIMARY KEY, name text NOT NULL, "
    .. "print text NOT NULL, outside boolean NOT NULL)" },
  { "CREATE TEMP TABLE", "luamig_test_catalog_keys", "(rel oid NOT NULL, kind text NOT NULL, "
    .. "oid oid NOT NULL, cls oid NOT NULL, sub integer NOT NULL)" },
  { "CREATE TEMP TABLE", "luamig_test_catalog_dirty", "(oid oid)" },
  { "CREATE TEMP TABLE", "luamig_test_catalog_0", "(name text PRIMARY KEY, print text NOT NULL)" },
  { "CREATE TEMP TABLE", "luamig_test_catalog_1", "(name text PRIMARY KEY, print text NOT NULL)" },
  { "PREPARE", "luamig_test_globals", "(xid) AS " .. fill(GLOBALS, "{new}", NEW) },
  { "PREPARE", "luamig_test_dirty", "(xid) AS INSERT INTO " .. DIRTY_TABLE .. " "
    .. fill(DIRTY, "{new}", NEW) },
  { "PREPARE", "luamig_test_prints", "AS INSERT INTO " .. NOW .. " "
    .. fill(PRINTS, "{only}", ONLY) },
  { "PREPARE", "luamig_test_keys", "AS INSERT INTO " .. KEYS_TABLE .. " " .. KEYS },
}

-- Makes what is missing of SESSION again (a step may have run DEALLOCATE ALL); true when all of
-- it was there.
local function set_up(conn)
  local have = {}
  for _, r in ipairs(conn:query("SELECT name FROM pg_prepared_statements "
      .. "WHERE name LIKE 'luamig\\_test\\_%' UNION ALL SELECT relname FROM pg_class "
      .. "WHERE relnamespace = pg_my_temp_schema() "
      .. "AND relname LIKE 'luamig\\_test\\_catalog\\_%'")) do
    have[r[1]] = true
  end
  local all = true
  for _, item in ipairs(SESSION) do
    if not have[item[2]] then
      all = false
      conn:execute(item[1] .. " " .. item[2] .. " " .. item[3])
    end
  end
  return all
end

-- Brings NOW up to date with the database: one transaction, without JIT (compiling these
-- queries took 65 ms, printing a few tables 5), with statements prepared once per connection.
local function refresh(conn)
  local known = refreshed[conn]
  if not known then
    known = { whole = true }
    refreshed[conn] = known
  end
  if not set_up(conn) then known.whole = true end
  conn:begin()
  local ok, key, outside = pcall(function()
    conn:execute("SET LOCAL jit = off")
    -- (an xid under 3 is not one a transaction has: the last horizon was among the xid space's
    -- first, after a wraparound)
    local horizon = known.horizon
    local key = conn:query(string.format("EXECUTE luamig_test_globals ('%d')",
      (horizon and horizon >= 3) and horizon or 3))[1]
    local whole = known.whole or not horizon or horizon < 3 or key[2] ~= known.globals
      or key[3] > 0 or key[4]
    known.whole = true   -- until this refresh is done
    conn:execute("DELETE FROM " .. DIRTY_TABLE)
    if whole then
      conn:execute("DELETE FROM " .. NOW)
      conn:execute("DELETE FROM " .. KEYS_TABLE)
      conn:execute("INSERT INTO " .. DIRTY_TABLE .. " SELECT c.oid FROM (" .. TABLES .. ") c")
    else
      conn:execute(string.format("EXECUTE luamig_test_dirty ('%d')", horizon))
      conn:execute("DELETE FROM " .. NOW .. " WHERE oid IN (SELECT oid FROM " .. DIRTY_TABLE .. ")")
      conn:execute("DELETE FROM " .. KEYS_TABLE .. " WHERE rel IN (SELECT oid FROM "
        .. DIRTY_TABLE .. ")")
    end
    conn:execute("EXECUTE luamig_test_prints")
    conn:execute("EXECUTE luamig_test_keys")
    if os.getenv("LUAMIG_TEST_CHECK_PRINTS") then
      -- (the tests' check that printing some tables again gives what printing all of them does)
      local stale = conn:query("SELECT coalesce(a.relname, b.name) FROM ("
        .. fill(PRINTS, "{only}", "") .. ") a (oid, relname, print, outside) FULL JOIN " .. NOW
        .. " b ON b.oid = a.oid WHERE a.print IS DISTINCT FROM b.print "
        .. "OR a.relname IS DISTINCT FROM b.name ORDER BY 1")
      if #stale > 0 then
        local names = {}
        for i, r in ipairs(stale) do names[i] = r[1] end
        error("luamig test: the kept prints of " .. table.concat(names, ", ")
          .. " are not the catalog's", 0)
      end
    end
    return key, conn:query("SELECT EXISTS (SELECT 1 FROM " .. NOW .. " WHERE outside)")[1][1]
  end)
  if not ok then
    pcall(conn.rollback, conn)
    error(key, 0)
  end
  conn:commit()
  -- (only once committed: a refresh that did not end prints every table again next time)
  known.horizon, known.globals, known.whole = key[1], key[2], outside
end

function pg:catalog_snapshot(conn, slot)
  refresh(conn)
  local t = string.format(SLOT, slot)
  conn:execute("DELETE FROM " .. t)
  conn:execute("INSERT INTO " .. t .. " SELECT name, print FROM " .. NOW)
end

-- The tables whose prints differ between snapshot `slot` and the database now (one that is on
-- one side only included), sorted, and those of them the database has now.
function pg:catalog_changes(conn, slot)
  refresh(conn)
  local keys, live = {}, {}
  for _, r in ipairs(conn:query(string.format("SELECT coalesce(b.name, a.name), b.name "
      .. "FROM %s a FULL JOIN %s b ON b.name = a.name "
      .. "WHERE a.print IS DISTINCT FROM b.print ORDER BY 1", string.format(SLOT, slot), NOW))) do
    keys[#keys + 1] = r[1]
    if r[2] ~= nil then live[#live + 1] = r[2] end
  end
  return keys, live
end

-- The prints of the tables `names` in snapshot `slot`, or with slot nil as the database has them
-- now: { [name] = print } (a table that is not there has none).
function pg:catalog_prints(conn, slot, names)
  local wanted = {}
  for _, n in ipairs(names) do wanted[n] = true end
  if not slot then refresh(conn) end
  local out = {}
  for _, r in ipairs(conn:query("SELECT name, print FROM " .. (slot
      and string.format(SLOT, slot) or NOW))) do
    if wanted[r[1]] then out[r[1]] = r[2] end
  end
  return out
end

-- Runs the statement that drops a scratch database or schema on the connection that made it,
-- and closes that connection; raises the server's message when the drop failed (the connection
-- lost), for luamig.scratch to say what was left behind.
local function drop(admin, sql)
  local ok, err = admin:pexecute(sql)
  admin:close()
  if not ok then error((tostring(err):gsub("%s+", " ")), 0) end
end

-- luamig test's scratch database, on the configured server: CREATE DATABASE luamig_test_<token>
-- (the URL's database name replaced; a dbname=... in its query string is not), or with
-- opts.schema CREATE SCHEMA luamig_test_<token> in the configured database and search_path set
-- to it on every connection. The connection that created it stays open to drop it: DROP
-- DATABASE ... WITH (FORCE) (PostgreSQL 13+) ends connections a failed run left behind.
function pg:scratch(url, opts)
  local core = { connect = opts.connect, redact = opts.redact }
  local name = "luamig_test_" .. opts.token
  local admin = core.connect(url)
  local s = { kind = opts.schema and "schema" or "database", where = name }
  if opts.schema then
    admin:execute("CREATE SCHEMA " .. name)
    s.url = url
    function s.connect()
      local c = core.connect(url)
      c:execute("SET search_path TO " .. name)
      c:execute("SET synchronous_commit TO off")   -- scratch data: no wait for the WAL flush
      return c
    end
    function s.drop() drop(admin, "DROP SCHEMA IF EXISTS " .. name .. " CASCADE") end
  else
    local prefix, _, rest = url:match("^([^:]+://[^/?]*)/?([^?]*)(.*)$")
    if not prefix then
      admin:close()
      error("luamig " .. opts.command .. ": cannot name another database in the URL " .. core.redact(url), 0)
    end
    local ok, err = admin:pexecute("CREATE DATABASE " .. name)
    if not ok then
      admin:close()
      error("luamig " .. opts.command .. ": cannot create the scratch database " .. name .. " (" ..
        tostring(err):gsub("%s+", " ") .. "); --schema tests in a temporary schema of the "
        .. "configured database instead", 0)
    end
    s.url = prefix .. "/" .. name .. rest
    function s.connect()
      local c = core.connect(s.url)
      c:execute("SET synchronous_commit TO off")   -- scratch data: no wait for the WAL flush
      return c
    end
    function s.drop() drop(admin, "DROP DATABASE IF EXISTS " .. name .. " WITH (FORCE)") end
  end
  return s
end

return pg
