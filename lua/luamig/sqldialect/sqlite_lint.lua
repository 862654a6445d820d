--[[ luamig.sqldialect.sqlite_lint — what SQLite does to a live database for each operation, for
luamig.lint (the same interface as luamig.sqldialect.postgresql_lint).

SQLite has no table locks: every statement that writes takes the one write lock of the database
file (https://www.sqlite.org/lockingv3.html) until the migration's transaction ends, so readers
in WAL mode go on and other writers wait.  What is dangerous on SQLite is the size of the work
done under that lock: batch mode's table rebuild (luamig.lint's batch-rebuild rule, which asks
luamig.batch whether a batch rebuilds) copies every row.

  facts.rules                     {} (no SQLite-only rule besides the DB-neutral ones)
  facts.check(o, st, dialect) -> { lock, table, findings = {} }
]]

local M = {}

local LOCK = "database write lock"
local DOC = "https://www.sqlite.org/lockingv3.html"

M.rules = {}

local function table_of(o)
  if o.kind == "create_index" then return o.index.table, o.index.schema end
  if o.kind == "bulk_insert" then return o.table and o.table.name, o.table and o.table.schema end
  return o.table_name, o.schema
end

function M.check(o, st)
  local name, schema = table_of(o)
  if o.kind == "create_table" then st:note_created(o.table_name, o.schema) end
  local d = { lock = LOCK, doc = DOC, findings = {} }
  if name then d.table = schema and (schema .. "." .. name) or name end
  if o.kind == "create_index" and name and st:existing(name, schema) then d.effect = "scan" end
  if o.kind == "execute" then
    local sql = o.sqltext
    if type(sql) == "table" then sql = sql.text end
    local s = type(sql) == "string" and sql:upper():match("^%s*(%u+ ?%u*)") or ""
    if s:match("^CREATE TABLE") then
      local n = sql:match('^%s*[Cc][Rr][Ee][Aa][Tt][Ee]%s+[Tt][Aa][Bb][Ll][Ee]%s+"?([%w_]+)')
      if n then st:note_created(n) end
    end
  end
  return d
end

return M
