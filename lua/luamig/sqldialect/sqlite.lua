--[[ luamig.sqldialect.sqlite — SQL for SQLite, as SQLAlchemy 1.4's sqlite dialect and Alembic
1.8's SQLiteImpl produce it.

Differences from base: no native booleans (1/0), parenthesised expression defaults, inline
"PRIMARY KEY AUTOINCREMENT" for sqlite_autoincrement tables, partial indexes via sqlite_where,
FKs to another schema left out of CREATE TABLE, index names carry the schema and the table does
not, and every constraint ALTER raises Alembic's NotImplementedError message (use batch mode).

Facts: SQLiteImpl; default schema "main"; tables looked up in sqlite_master; autogenerate
renders batch blocks by default; TIMESTAMP is stored as DATETIME; a reflected expression
default gets its parentheses back before it is compared.
]]

local base = require "luamig.sqldialect.base"
local lint_facts = require "luamig.sqldialect.sqlite_lint"
local sa = require "luamig.sa"

local sqlite = base.derive("sqlite", {})
-- what each operation does to a live database, for luamig.lint
sqlite.lint = lint_facts

sqlite.impl_name = "SQLiteImpl"
-- no boolean type: sa.Boolean{ create_constraint = true } is INTEGER-like with a CHECK
sqlite.native_boolean = false
sqlite.default_schema = "main"
-- ALTER cannot change most things on SQLite: autogenerate writes batch_alter_table blocks.
sqlite.render_as_batch = true

function sqlite:table_exists_sql(name, schema)
  local master = "sqlite_master"
  if schema then master = schema .. ".sqlite_master" end
  return "SELECT name FROM " .. master .. " WHERE type = 'table' AND name = ?", { name, n = 1 }
end

-- SQLite keeps DATETIME and TIMESTAMP alike.
function sqlite:normalise_type_tokens(p)
  if p.token0 == "timestamp" then p.token0 = "datetime" end
  return p
end

-- SQLite gives an expression default back as written, without the parentheses CREATE TABLE
-- needs around it ("CURRENT_TIMESTAMP" is fine, "1 + 2" is not): put them back, as Alembic's
-- SQLiteImpl guesses, so that the reflected default is valid DDL again.
function sqlite:reflected_default_for_compare(col, text)
  if not text:match("^%-?[%d.]+$") and not text:match("^'.*'$") and not base.encloses_parens(text) then
    return sa.text("(" .. text .. ")")
  end
  return col.server_default
end

sqlite.NO_CONSTRAINT_ALTER = "No support for ALTER of constraints in SQLite dialect. Please "
  .. "refer to the batch mode feature which allows for SQLite migrations using a copy-and-move "
  .. "strategy."

-- SQLAlchemy's SQLiteIdentifierPreparer.reserved_words.
local reserved = {}
for w in ([[add after all alter analyze and as asc attach autoincrement before begin between by
  cascade case cast check collate column commit conflict constraint create cross current_date
  current_time current_timestamp database default deferrable deferred delete desc detach distinct
  drop each else end escape except exclusive exists explain fail false for foreign from full glob
  group having if ignore immediate in index indexed initially inner insert instead intersect into
  is isnull join key left like limit match natural not notnull null of offset on or order outer
  plan pragma primary query raise references reindex rename replace restrict right rollback row
  select set table temp temporary then to transaction trigger true union unique update using
  vacuum values view virtual when where]]):gmatch("%S+") do
  reserved[w] = true
end
sqlite.reserved_words = reserved

sqlite.types = setmetatable({}, { __index = base.types })

function sqlite:render_bool(b) return b and "1" or "0" end

-- SQLAlchemy's sqlite compiler spells now() as CURRENT_TIMESTAMP.
function sqlite:func_sql(f)
  if f.name:lower() == "now" and #f.args == 0 then return "CURRENT_TIMESTAMP" end
  return base.func_sql(self, f)
end
function sqlite:true_sql() return "1" end
function sqlite:false_sql() return "0" end

-- An integer-affinity primary key alone in a sqlite_autoincrement table is declared inline.
local function inline_autoincrement(col, tbl)
  return col.primary_key and tbl.dialect_kw and tbl.dialect_kw.sqlite_autoincrement
    and #tbl.primary_key.columns == 1 and sa._is_integer_type(col.type)
    and #(col.foreign_keys or {}) == 0
end

local NO_KW = setmetatable({}, { __newindex = function() error("sqlite: NO_KW is read-only", 2) end })

function sqlite:column_spec(col, tbl)
  local s = self:quote(col.name) .. " " .. self:type_sql(col.type)
  local d = self:default_sql(col.server_default)
  if d then
    if self:is_column_element(col.server_default) then d = "(" .. d .. ")" end
    s = s .. " DEFAULT " .. d
  end
  local kw = col.dialect_kw or NO_KW
  if not col.nullable then
    s = s .. " NOT NULL"
    if kw.sqlite_on_conflict_not_null then s = s .. " ON CONFLICT " .. kw.sqlite_on_conflict_not_null end
  end
  if col.primary_key then
    if col.autoincrement == true and #tbl.primary_key.columns ~= 1 then
      error("SQLite does not support autoincrement for composite primary keys", 0)
    end
    if inline_autoincrement(col, tbl) then
      s = s .. " PRIMARY KEY"
      if kw.sqlite_on_conflict_primary_key then
        s = s .. " ON CONFLICT " .. kw.sqlite_on_conflict_primary_key
      end
      s = s .. " AUTOINCREMENT"
    end
  end
  if col.computed then s = s .. " " .. self:computed_sql(col.computed) end
  return s
end

function sqlite:constraint_sql(c, tbl)
  if c.kind == "primary_key" and tbl and #c.columns == 1 then
    local col = tbl.c[c.columns[1]]
    if col and inline_autoincrement(col, tbl) then return nil end
  end
  if c.kind == "foreign_key" and tbl and (tbl.schema ~= c.referred_schema) then
    return nil
  end
  local text = base.constraint_sql(self, c, tbl)
  local oc = c.dialect_kw and c.dialect_kw.sqlite_on_conflict
  if text and oc then text = text .. " ON CONFLICT " .. oc end
  return text
end

function sqlite:remote_table(c)
  return self:quote(c.referred_table)
end

function sqlite:post_create_table(tbl)
  if tbl.dialect_kw and tbl.dialect_kw.sqlite_with_rowid == false then return "\n WITHOUT ROWID" end
  return ""
end

-- CREATE INDEX: the schema goes on the index name, not the table; WHERE from sqlite_where.
function sqlite:create_index_sql(ix, if_not_exists)
  local s = "CREATE " .. (ix.unique and "UNIQUE " or "") .. "INDEX "
    .. (if_not_exists and "IF NOT EXISTS " or "") .. self:index_name(ix, true) .. " ON "
    .. self:quote(ix.table) .. " (" .. self:index_exprs(ix.columns) .. ")"
  local where = ix.dialect_kw and ix.dialect_kw.sqlite_where
  if where ~= nil then s = s .. " WHERE " .. self:expr(where) end
  return s
end

-- Alembic's SQLiteImpl: constraints cannot be altered outside batch mode.  Constraints that a
-- column flag produced (unique=true) raise too; Alembic only skips "implicit" ones that come
-- from types, which luamig does not create.
function sqlite:add_constraint()
  error(sqlite.NO_CONSTRAINT_ALTER, 0)
end

-- ADD COLUMN can carry the column's own CHECK and REFERENCES (SQLite checks the existing rows),
-- which is how sa.Column("x", sa.Integer, sa.ForeignKey("t.id")) adds its foreign key here.
sqlite.add_column_inlines_constraints = true

function sqlite:drop_constraint()
  error(sqlite.NO_CONSTRAINT_ALTER, 0)
end

--------------------------------------------------------------------------------------------
-- Batch mode policy (luamig.batch): SQLite alters a table by rebuilding it, read live
--------------------------------------------------------------------------------------------

function sqlite:batch_rebuilds_by_default() return true end

function sqlite:batch_reflects_live_table() return true end

local function pragma_on(ctx, name)
  local row = ctx:query("PRAGMA " .. name)[1]
  return row ~= nil and tonumber(row[1]) == 1
end

-- The first foreign key violation that involves table `name`, as the child or as the parent
-- (PRAGMA foreign_key_check: { table, rowid, parent }), or nil.  Violations elsewhere are left
-- alone: deferred constraints may be put right later in the run.
local function foreign_key_violation(ctx, d, name, schema)
  local prefix = schema and (d:quote(schema) .. ".") or ""
  local lname = name:lower()
  for _, r in ipairs(ctx:query("PRAGMA " .. prefix .. "foreign_key_check")) do
    local child, rowid, parent = r.table or r[1], r.rowid or r[2], r.parent or r[3]
    if child:lower() == lname or parent:lower() == lname then
      return { table = child, rowid = rowid, parent = parent }
    end
  end
  return nil
end

-- SQLite's 12-step procedure (lang_altertable.html#otheralter) inside the run's transaction:
--  * when views or triggers of other tables name the table (or that is not known), PRAGMA
--    legacy_alter_table is on for the rebuild (then back as it was), so that the final RENAME
--    does not re-check them while the table is missing;
--  * with PRAGMA foreign_keys on, the DROP TABLE would run the ON DELETE actions of the tables
--    that refer to this one (deleting or nulling their rows) and leave SQLite's count of
--    deferred violations off by the rows it orphans.  PRAGMA foreign_keys is a no-op inside a
--    transaction, so the connection's own switch (conn:enforce_foreign_keys) turns enforcement
--    off for the rebuild's statements only, and PRAGMA foreign_key_check must then find no
--    violation involving the table before the step goes on.
-- Everything happens inside the transaction, so a failure later rolls the rebuild back too.
function sqlite:batch_rebuild_guard(ctx, name, schema, named_elsewhere, run)
  local legacy = named_elsewhere ~= false and not pragma_on(ctx, "legacy_alter_table")
  local conn = ctx.connection
  local enforced = pragma_on(ctx, "foreign_keys")
  local ok, err = pcall(function()
    if legacy then ctx:execute("PRAGMA legacy_alter_table=ON") end
    if enforced then conn:enforce_foreign_keys(false) end
    run()
  end)
  -- put back as they were whatever happened (a failed statement leaves the transaction open)
  if legacy then ctx:execute("PRAGMA legacy_alter_table=OFF") end
  if enforced then conn:enforce_foreign_keys(true) end
  if not ok then error(err, 0) end
  local bad = enforced and foreign_key_violation(ctx, self, name, schema)
  if bad then
    error(string.format("batch_alter_table('%s'): after the rebuild, %s of table '%s' refers to "
      .. "a row of '%s' that does not exist (PRAGMA foreign_key_check)", name,
      bad.rowid and ("row " .. tostring(bad.rowid)) or "a row", bad.table, bad.parent), 0)
  end
end

-- SQLite's column affinity of a type (https://sqlite.org/datatype3.html 3.1): "INTEGER",
-- "TEXT", "BLOB", "REAL" or "NUMERIC".
function sqlite:column_affinity(t)
  local decl = (t.sql or self:type_sql(t)):upper()
  if decl:find("INT", 1, true) then return "INTEGER" end
  if decl:find("CHAR", 1, true) or decl:find("CLOB", 1, true) or decl:find("TEXT", 1, true) then
    return "TEXT"
  end
  if decl == "" or decl:find("BLOB", 1, true) then return "BLOB" end
  if decl:find("REAL", 1, true) or decl:find("FLOA", 1, true) or decl:find("DOUB", 1, true) then
    return "REAL"
  end
  return "NUMERIC"
end

-- Alembic's SQLiteImpl.cast_for_batch_migrate: the copy CASTs a value whose column affinity
-- changes, unless the new type is JSON.
function sqlite:cast_for_batch_migrate(old_type, new_type)
  return new_type.name ~= "JSON" and self:column_affinity(old_type) ~= self:column_affinity(new_type)
end

-- luamig test's scratch database: a new file luamig_test_<token>.db in $TMPDIR (else /tmp); the
-- configured file is never opened. drop() removes it and the files SQLite and luamig keep beside
-- it (journal, WAL, the runner lock).
-- Checkpoints (luamig.checkpoint). What luamig's reflection does not cover: one sorted line per
-- view and trigger.
function sqlite:checkpoint_objects(conn)
  local rows = conn:query("SELECT type || ' ' || name FROM sqlite_master "
    .. "WHERE type IN ('view', 'trigger') ORDER BY 1")
  local out = {}
  for i, r in ipairs(rows) do out[i] = r[1] end
  return out
end

-- A text equal for two states of the database exactly when their catalogs are: every row of
-- sqlite_master (tables, indexes, views, triggers, with their SQL), from which everything
-- luamig's reflection reads derives. luamig.roundtrip skips comparing two reflections whose
-- fingerprints are equal.
local FINGERPRINT = [[
SELECT group_concat(length(CAST(type AS BLOB)) || ':' || type
  || length(CAST(name AS BLOB)) || ':' || name
  || length(CAST(tbl_name AS BLOB)) || ':' || tbl_name
  || coalesce(length(CAST(sql AS BLOB)) || ':' || sql, '-'), ',')
FROM (SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name)]]

function sqlite:schema_fingerprint(conn)
  -- one row made by SQLite: each value with its length in bytes, so that no text passes for
  -- another split differently (a NULL, for an index SQLite made itself, is "-"). SQLite
  -- aggregates the rows in the subquery's order; another order would only cost a comparison.
  local rows = conn:query(FINGERPRINT)
  return rows[1] and rows[1][1] or ""
end

-- Catalog snapshots (luamig.roundtrip, `luamig test` without --data): the rows of sqlite_master
-- kept in a TEMP table of the scratch connection (slots 0 and 1 for the states a step keeps;
-- slot 2 for the catalog as it is, to compare with), each keyed by (type, name). A state of
-- 10,000 tables then costs the test no Lua memory: SQLite keeps the rows in its temporary
-- file, behind its page cache, and compares them through the keys, with no sort or temporary
-- index that would grow with the schema. The rows' rowids (seq) keep the creation order.
local CATALOG = "temp.luamig_test_catalog_%d"
local NOW = 2

function sqlite:catalog_snapshot(conn, slot)
  local t = string.format(CATALOG, slot)
  -- the temporary file's cache: 256 KiB, not SQLite's 2 MiB (the rows are read in key order)
  conn:execute("PRAGMA temp.cache_size = -256")
  conn:execute("CREATE TABLE IF NOT EXISTS " .. t .. " (type TEXT, name TEXT, tbl_name TEXT, "
    .. "sql TEXT, seq INTEGER, PRIMARY KEY (type, name)) WITHOUT ROWID")
  conn:execute("DELETE FROM " .. t)
  conn:execute("INSERT INTO " .. t .. " SELECT type, name, tbl_name, sql, rowid FROM main.sqlite_master")
end

-- The tables that may reflect differently between snapshot `slot` and the database now, as
-- keys (names in lower case: a trigger's row keeps its table's name as the statement spelled
-- it), sorted, and the database's own spellings of those it has now. A table is in when one of
-- its rows (its own, its indexes', triggers', autoindexes') differs, or when one of its foreign
-- keys names such a table (one that names no columns takes that table's primary key). SQLite's
-- own tables are left out. Tables whose rows and referred tables' rows are equal reflect the same.
function sqlite:catalog_changes(conn, slot)
  local was, now = string.format(CATALOG, slot), string.format(CATALOG, NOW)
  -- the usual answer first, without copying the catalog: as many rows as the snapshot, each
  -- found there whole (names are unique on both sides), is the same catalog
  local same = conn:query(string.format([[
SELECT (SELECT count(*) FROM main.sqlite_master) = (SELECT count(*) FROM %s)
  AND NOT EXISTS (SELECT 1 FROM main.sqlite_master m WHERE NOT EXISTS (SELECT 1 FROM %s a
    WHERE a.type = m.type AND a.name = m.name AND a.tbl_name IS m.tbl_name AND a.sql IS m.sql))]],
    was, was))
  if same[1][1] == 1 then return {}, {} end
  self:catalog_snapshot(conn, NOW)
  local keys, changed = {}, {}
  for _, r in ipairs(conn:query(string.format([[
SELECT DISTINCT lower(tbl_name) FROM (
  SELECT a.tbl_name FROM %s a WHERE NOT EXISTS (SELECT 1 FROM %s b WHERE b.type = a.type
    AND b.name = a.name AND b.tbl_name IS a.tbl_name AND b.sql IS a.sql)
  UNION ALL
  SELECT b.tbl_name FROM %s b WHERE NOT EXISTS (SELECT 1 FROM %s a WHERE a.type = b.type
    AND a.name = b.name AND a.tbl_name IS b.tbl_name AND a.sql IS b.sql))
WHERE substr(tbl_name, 1, 7) <> 'sqlite_' COLLATE NOCASE]], was, now, now, was))) do
    changed[r[1]] = true
    keys[#keys + 1] = r[1]
  end
  if #keys == 0 then return keys, {} end
  for _, r in ipairs(conn:query([[SELECT DISTINCT lower(m.name), lower(f."table")
FROM main.sqlite_master m JOIN pragma_foreign_key_list(m.name) f WHERE m.type = 'table']])) do
    if changed[r[2]] and not changed[r[1]] then
      changed[r[1]] = true
      keys[#keys + 1] = r[1]
    end
  end
  table.sort(keys)
  local live = {}
  for _, r in ipairs(conn:query("SELECT name FROM main.sqlite_master WHERE type = 'table' ORDER BY name")) do
    if changed[r[1]:lower()] then live[#live + 1] = r[1] end
  end
  return keys, live
end

-- The empty database catalog_restore makes an earlier state again on: a new in-memory SQLite
-- database, opened with `connect` (luamig.core's; the caller closes it).
function sqlite:catalog_database(connect)
  return connect("sqlite://")
end

-- Snapshot `slot`'s objects of the tables `keys` (catalog_changes') made again on `into` (an
-- empty database from catalog_database), and the tables their foreign keys refer to (for the primary keys they take);
-- returns the snapshot's names of the tables of `keys`. Virtual tables first (each makes its
-- shadow tables, which may come earlier in the catalog after a VACUUM), then the other tables,
-- indexes, views and triggers, each kind in creation order; an object that exists already (a
-- shadow table) is left alone.
function sqlite:catalog_restore(conn, slot, keys, into)
  local t = string.format(CATALOG, slot)
  local wanted = {}
  for _, k in ipairs(keys) do wanted[k] = true end
  local rows = conn:query("SELECT type, name, tbl_name, sql FROM " .. t .. " WHERE sql IS NOT NULL "
    .. "ORDER BY CASE WHEN type = 'table' AND sql LIKE 'CREATE VIRTUAL%' THEN 0 "
    .. "WHEN type = 'table' THEN 1 WHEN type = 'index' THEN 2 WHEN type = 'view' THEN 3 ELSE 4 END, seq")
  local function make(r)
    if #into:query("SELECT 1 FROM sqlite_master WHERE name = ? COLLATE NOCASE", { r[2] }) == 0 then
      into:execute(r[4])
    end
  end
  local names, tables = {}, {}
  for _, r in ipairs(rows) do
    if r[1] == "table" then tables[r[2]:lower()] = r end
    if wanted[r[3]:lower()] then
      make(r)
      if r[1] == "table" then names[#names + 1] = r[2] end
    end
  end
  for _, f in ipairs(into:query([[SELECT DISTINCT lower(f."table")
FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f WHERE m.type = 'table']])) do
    if tables[f[1]] then make(tables[f[1]]) end
  end
  return names
end

-- The AUTOINCREMENT counters (sqlite_sequence): { { table =, value = }, ... } sorted by table.
function sqlite:checkpoint_sequences(conn)
  local has = conn:query("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'")
  if #has == 0 then return {} end
  local out = {}
  for _, r in ipairs(conn:query("SELECT name, seq FROM sqlite_sequence ORDER BY name")) do
    out[#out + 1] = { table = r[1], value = tostring(r[2]) }
  end
  return out
end

function sqlite:checkpoint_drop_sql() return nil end

-- Frees the schema that `conn` keeps parsed in memory (a few hundred bytes a table, megabytes
-- for thousands); its next statement reads it again. A checkpoint's check does this to the
-- replay's connection while the checkpoint's own steps run on the other database.
function sqlite:checkpoint_release(conn)
  conn:execute("PRAGMA writable_schema = RESET")
end

function sqlite:checkpoint_sequence_sql(s)
  local name = self:quote_string(s.table)
  return { "DELETE FROM sqlite_sequence WHERE name = " .. name,
           string.format("INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)", name, s.value) }
end

function sqlite:scratch(url, opts)
  local core = { connect = opts.connect, redact = opts.redact }
  if opts.schema then
    error("luamig " .. opts.command .. " --schema is for PostgreSQL; SQLite uses a temporary file", 0)
  end
  local dir = os.getenv("TMPDIR")
  if dir == nil or dir == "" then dir = "/tmp" end
  local path = string.format("%s/luamig_test_%s.db", dir, opts.token)
  local s = { url = "sqlite:///" .. path, kind = "file", where = path }
  -- a throwaway file: no fsync at each of the many commits (a crash only loses the scratch
  -- database). The journal stays a file: in memory, one step dropping 5,000 tables kept 30 MiB
  -- of it. A small page cache: the file is in the system's cache anyway, and two connections
  -- with the default 2 MiB each were a tenth of a checkpoint's memory.
  function s.connect()
    local c = core.connect(s.url)
    c:execute("PRAGMA synchronous = OFF")
    c:execute("PRAGMA journal_mode = TRUNCATE")
    c:execute("PRAGMA cache_size = -512")
    return c
  end
  function s.drop()
    for _, suffix in ipairs { "", "-journal", "-wal", "-shm", "-luamig-lock" } do
      os.remove(path .. suffix)
    end
  end
  return s
end

return sqlite
