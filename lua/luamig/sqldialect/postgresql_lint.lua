--[[ luamig.sqldialect.postgresql_lint — what PostgreSQL does to a live table for each operation:
the lock it takes, whether it rewrites or scans the table, and the rules that say when that is
dangerous and what to do instead.  luamig.lint asks this module (through the dialect object,
dialect.lint) about each recorded operation; it owns the DB-neutral rules (drops, renames,
unknown SQL) and the state of the range.

  facts.rules                      { { id, severity, summary, doc }, ... } the rules of this module
  facts.check(o, st, dialect) -> desc
      o: an operation object (luamig.op); st: luamig.lint's state of the range (st:existing(name,
      schema), st.autocommit, st:not_null_proven(name, schema, column), st:note_not_null_check(
      constraint, name, schema, column, validated), st:validated(constraint), st:note_created(
      name, schema)); desc = { lock, table, effect ("rewrite" | "scan" | nil), doc,
      unknown = true when the SQL could not be classified, findings = { { rule, message, fix,
      doc } ... } }
  facts.classify_sql(sql, st) -> desc for one statement of op.execute (the same shape)

Lock levels and what each statement takes come from the PostgreSQL documentation:
  explicit-locking.html (the lock modes and what conflicts with what), sql-altertable.html (the
  lock of each ALTER TABLE form, rewrites, NOT VALID, SET NOT NULL and a validated CHECK),
  sql-createindex.html (SHARE, and SHARE UPDATE EXCLUSIVE with CONCURRENTLY), sql-dropindex.html.
]]

local txt = require "luamig.text"

local M = {}

local DOCS = "https://www.postgresql.org/docs/current/"
local LOCKING = DOCS .. "explicit-locking.html"
local ALTER = DOCS .. "sql-altertable.html"
local CREATE_INDEX = DOCS .. "sql-createindex.html"
local DROP_INDEX = DOCS .. "sql-dropindex.html"

local AE = "ACCESS EXCLUSIVE"
local SHARE = "SHARE"
local SUE = "SHARE UPDATE EXCLUSIVE"
local SRE = "SHARE ROW EXCLUSIVE"
local RE = "ROW EXCLUSIVE"

M.rules = {
  { id = "index-not-concurrent", severity = "error", doc = CREATE_INDEX,
    summary = "CREATE INDEX without CONCURRENTLY on an existing table: SHARE lock (blocks writes) "
      .. "for the whole build" },
  { id = "concurrently-in-transaction", severity = "error", doc = CREATE_INDEX,
    summary = "CREATE/DROP INDEX CONCURRENTLY outside an autocommit block: PostgreSQL refuses it "
      .. "inside a transaction" },
  { id = "drop-index-not-concurrent", severity = "warn", doc = DROP_INDEX,
    summary = "DROP INDEX without CONCURRENTLY: ACCESS EXCLUSIVE on the table" },
  { id = "constraint-not-valid", severity = "error", doc = ALTER,
    summary = "FOREIGN KEY or CHECK added to an existing table without NOT VALID: the whole table "
      .. "is scanned under the lock" },
  { id = "set-not-null", severity = "error", doc = ALTER,
    summary = "SET NOT NULL on an existing table without a validated CHECK (col IS NOT NULL): "
      .. "ACCESS EXCLUSIVE and a full scan" },
  { id = "type-change-rewrite", severity = "error", doc = ALTER,
    summary = "a column type change that rewrites the table under ACCESS EXCLUSIVE" },
  { id = "volatile-default", severity = "error", doc = ALTER,
    summary = "a column added to an existing table with a volatile default: the table is rewritten" },
  { id = "unique-not-from-index", severity = "error", doc = ALTER,
    summary = "a UNIQUE or PRIMARY KEY constraint added to an existing table without USING INDEX: "
      .. "the index is built under ACCESS EXCLUSIVE" },
}

--------------------------------------------------------------------------------------------
-- Helpers
--------------------------------------------------------------------------------------------

local function finding(rule, message, fix, doc)
  return { rule = rule, message = message, fix = fix, doc = doc }
end

-- A constraint's name as SQL a fix advises may write it: quoted, and shortened as its DDL
-- shortens a convention's name past the limit (dialect:constraint_name), so that the advice
-- names the constraint the database has.
local function sql_name(dialect, c)
  if c.name == nil or not dialect then return tostring(c.name) end
  local ok, name = pcall(dialect.constraint_name, dialect, c.name, c.name_conv)
  return dialect:quote(ok and name or c.name)
end

local function qualified(name, schema)
  if schema then return schema .. "." .. name end
  return name
end

-- A type as PostgreSQL spells it, reduced to a base name and its modifiers:
-- "VARCHAR(50)" -> "VARCHAR", { 50 }; "NUMERIC(10, 2)" -> "NUMERIC", { 10, 2 }.
local SYNONYMS = { ["CHARACTER VARYING"] = "VARCHAR", ["CHARACTER"] = "CHAR",
                   ["DECIMAL"] = "NUMERIC", ["INT"] = "INTEGER", ["INT4"] = "INTEGER",
                   ["INT8"] = "BIGINT", ["INT2"] = "SMALLINT" }

local function parse_type(sql)
  sql = sql:upper():gsub("%s+", " "):gsub("^ ", ""):gsub(" $", "")
  local name, mods = sql:match("^([%u_ ]-)%s*%((.-)%)$")
  if not name then name, mods = sql, nil end
  name = SYNONYMS[name] or name
  local m = {}
  if mods then for n in mods:gmatch("%d+") do m[#m + 1] = tonumber(n) end end
  return name, m
end

-- Whether changing a column from `old` to `new` (type SQL) leaves every stored value as it is
-- (binary coercible, sql-altertable.html: "increasing the length limit of a varchar column,
-- varchar to text, numeric precision"): then no rewrite.
local function rewrite_free(old, new)
  local on, om = parse_type(old)
  local nn, nm = parse_type(new)
  if on == nn and #om == #nm then
    local same = true
    for i = 1, #om do if om[i] ~= nm[i] then same = false end end
    if same then return true end
  end
  if on == "VARCHAR" and nn == "VARCHAR" then
    return nm[1] == nil or (om[1] ~= nil and nm[1] >= om[1])
  end
  if (on == "VARCHAR" or on == "TEXT") and nn == "TEXT" then return true end
  if on == "TEXT" and nn == "VARCHAR" and nm[1] == nil then return true end
  if on == "NUMERIC" and nn == "NUMERIC" then
    if nm[1] == nil then return true end
    return om[1] ~= nil and nm[1] >= om[1] and (nm[2] or 0) == (om[2] or 0)
  end
  return false
end
M._rewrite_free = rewrite_free

-- Functions a default may call without rewriting the table (PostgreSQL 11+ stores a
-- non-volatile default once): stable or immutable.
local NON_VOLATILE = {}
for w in ([[now current_timestamp current_date current_time localtimestamp localtime
  transaction_timestamp statement_timestamp lower upper coalesce nullif length abs round
  to_char to_timestamp make_interval jsonb_build_object json_build_object
  jsonb_build_array json_build_array array cast concat]]):gmatch("%S+") do
  NON_VOLATILE[w] = true
end
local VOLATILE = {}
for w in ([[random gen_random_uuid uuid_generate_v1 uuid_generate_v1mc uuid_generate_v4
  clock_timestamp timeofday nextval setseed txid_current]]):gmatch("%S+") do
  VOLATILE[w] = true
end

-- Whether a default (its SQL) forces a rewrite: "volatile", "unknown" (a function whose
-- volatility is not known here) or nil (constant or stable).
local function default_volatility(sql)
  local verdict = nil
  local text = sql:gsub("'[^']*'", "''")
  -- each name once, then whether a call's parenthesis follows it (a pattern for both,
  -- "([%a_][%w_%.]*)%s*%(", starts again inside every name it fails on: quadratic in its length)
  local pos = 1
  while true do
    local s, e = text:find("[%a_][%w_%.]*", pos)
    if not s then break end
    if text:find("^%s*%(", e + 1) then
      local base = text:sub(s, e):lower():match("([%w_]+)$")   -- (nil after a last ".")
      if VOLATILE[base] then return "volatile", base end
      if base and not NON_VOLATILE[base] and not base:match("^%u") then verdict = verdict or base end
    end
    pos = e + 1
  end
  if verdict then return "unknown", verdict end
  return nil
end

-- The column a CHECK condition proves NOT NULL: "col IS NOT NULL", "(\"col\" IS NOT NULL)".
-- (The closing parenthesis is taken off by hand: an unanchored "%s*%)%s*$" scans the rest of a
-- run of whitespace from each of its characters, quadratic in the run.)
local function not_null_column(cond)
  if type(cond) ~= "string" then return nil end
  local c = cond:gsub("^%s*%(%s*", "")
  local t = txt.rstrip(c)
  if t:sub(-1) == ")" then c = txt.rstrip(t:sub(1, -2)) end
  local col = c:match('^"?([%w_]+)"?%s+[Ii][Ss]%s+[Nn][Oo][Tt]%s+[Nn][Uu][Ll][Ll]$')
  return col
end

--------------------------------------------------------------------------------------------
-- Operation objects
--------------------------------------------------------------------------------------------

local check = {}

function check.create_table(o, st)
  st:note_created(o.table_name, o.schema)
  local d = { lock = AE, table = qualified(o.table_name, o.schema), note = "new table", doc = LOCKING,
              findings = {} }
  -- a foreign key to an existing table locks that table too (SHARE ROW EXCLUSIVE)
  local refs = {}
  for _, c in ipairs(o.table and o.table.constraints or {}) do
    if c.kind == "foreign_key" and st:existing(c.referred_table, c.referred_schema) then
      refs[#refs + 1] = qualified(c.referred_table, c.referred_schema)
    end
  end
  if #refs > 0 then d.note = "new table; " .. SRE .. " on " .. table.concat(refs, ", ") end
  return d
end

function check.drop_table(o)
  return { lock = AE, table = qualified(o.table_name, o.schema), doc = LOCKING, findings = {} }
end

function check.rename_table(o)
  return { lock = AE, table = qualified(o.table_name, o.schema), doc = ALTER, findings = {} }
end

function check.drop_column(o)
  return { lock = AE, table = qualified(o.table_name, o.schema), doc = ALTER, findings = {} }
end

function check.add_column(o, st, dialect)
  local d = { lock = AE, table = qualified(o.table_name, o.schema), doc = ALTER, findings = {} }
  if not st:existing(o.table_name, o.schema) then return d end
  local col = o.column
  local sd = col.server_default
  if col.computed and col.computed.persisted ~= false then
    d.effect = "rewrite"
    d.findings[1] = finding("volatile-default", string.format("column %s is a stored generated "
      .. "column: adding it rewrites %s under %s", col.name, d.table, AE),
      "add a plain nullable column, backfill it in batches, then use a trigger", ALTER)
  elseif col.identity then
    d.effect = "rewrite"
    d.findings[1] = finding("volatile-default", string.format("identity column %s: adding it "
      .. "fills every row, rewriting %s under %s", col.name, d.table, AE),
      "add the column without identity, backfill in batches, then ALTER ... ADD GENERATED", ALTER)
  elseif sd ~= nil and sd ~= false then
    local sql = dialect:default_sql(sd) or ""
    local verdict, fname = default_volatility(sql)
    if verdict then
      d.effect = "rewrite"
      local what = verdict == "volatile" and ("volatile default " .. sql)
        or ("default " .. sql .. " (the volatility of " .. fname .. "() is not known)")
      d.findings[1] = finding("volatile-default", string.format("column %s added to existing "
        .. "table %s with %s: every row is rewritten under %s", col.name, d.table, what, AE),
        "add the column without a default (or with a constant one), backfill in batches, then "
        .. "SET DEFAULT for new rows", ALTER)
    end
  end
  return d
end

function check.alter_column(o, st, dialect)
  local t = qualified(o.table_name, o.schema)
  local d = { lock = AE, table = t, doc = ALTER, findings = {} }
  local existing = st:existing(o.table_name, o.schema)
  local only_comment = o.type_ == nil and o.nullable == nil and o.server_default == nil
    and o.new_column_name == nil and o.comment ~= nil
  if only_comment then d.lock = SUE end
  if o.type_ ~= nil then
    local new = dialect:type_sql(o.type_)
    if not existing then
      -- a table created in this range is empty: nothing to rewrite
    elseif o.existing_type == nil then
      d.effect = "rewrite"
      d.findings[#d.findings + 1] = finding("type-change-rewrite", string.format("type of %s.%s "
        .. "changed to %s without existing_type: luamig cannot tell whether %s is rewritten, "
        .. "so it assumes it is (%s)", t, o.column_name, new, t, AE),
        "give existing_type = ...; a rewriting change is better done as a new column, a backfill "
        .. "in batches and a swap", ALTER)
    else
      local old = dialect:type_sql(o.existing_type)
      if o.postgresql_using or not rewrite_free(old, new) then
        d.effect = "rewrite"
        d.findings[#d.findings + 1] = finding("type-change-rewrite", string.format("type of "
          .. "%s.%s changed from %s to %s: %s and its indexes are rewritten under %s",
          t, o.column_name, old, new, t, AE),
          "add a new column of the new type, backfill it in batches, switch the application, "
          .. "then drop the old column (widening VARCHAR or VARCHAR -> TEXT does not rewrite)",
          ALTER)
      end
    end
  end
  if o.nullable == false and o.existing_nullable ~= false and existing then
    if st:not_null_proven(o.table_name, o.schema, o.column_name) then
      d.note = "a validated CHECK proves it: no scan"
    else
      d.effect = d.effect or "scan"
      d.findings[#d.findings + 1] = finding("set-not-null", string.format("SET NOT NULL on %s.%s "
        .. "scans the whole table under %s", t, o.column_name, AE),
        "first op.create_check_constraint(name, table, \"" .. o.column_name .. " IS NOT NULL\", "
        .. "{ postgresql_not_valid = true }), then VALIDATE CONSTRAINT in the next migration, "
        .. "then SET NOT NULL (no scan) and drop the CHECK", ALTER)
    end
  end
  return d
end

function check.create_index(o, st)
  local ix = o.index
  local kw = ix.dialect_kw or {}
  local t = qualified(ix.table, ix.schema)
  local d = { lock = SHARE, table = t, effect = "scan", doc = CREATE_INDEX, findings = {} }
  if kw.postgresql_concurrently then
    d.lock = SUE
    if not st.autocommit then
      d.findings[1] = finding("concurrently-in-transaction", "CREATE INDEX CONCURRENTLY "
        .. ix.name .. " runs inside the migration's transaction, which PostgreSQL refuses",
        "wrap it in op.get_context().autocommit_block(function() ... end)", CREATE_INDEX)
    end
  elseif st:existing(ix.table, ix.schema) then
    d.findings[1] = finding("index-not-concurrent", string.format("index %s built on existing "
      .. "table %s without CONCURRENTLY: writes to %s wait for the whole build (%s lock)",
      tostring(ix.name), t, t, SHARE),
      "op.create_index(..., { postgresql_concurrently = true }) inside "
      .. "op.get_context().autocommit_block(function() ... end)", CREATE_INDEX)
  else
    d.effect = nil
  end
  return d
end

function check.drop_index(o, st)
  local kw = o.kw or {}
  local t = o.table_name and qualified(o.table_name, o.schema) or nil
  local d = { lock = AE, table = t, doc = DROP_INDEX, findings = {} }
  if kw.postgresql_concurrently then
    d.lock = SUE
    if not st.autocommit then
      d.findings[1] = finding("concurrently-in-transaction", "DROP INDEX CONCURRENTLY "
        .. tostring(o.index_name) .. " runs inside the migration's transaction, which PostgreSQL "
        .. "refuses", "wrap it in op.get_context().autocommit_block(function() ... end)", DROP_INDEX)
    end
  elseif o.table_name == nil or st:existing(o.table_name, o.schema) then
    d.findings[1] = finding("drop-index-not-concurrent", string.format("DROP INDEX %s takes %s "
      .. "on its table", tostring(o.index_name), AE),
      "op.drop_index(..., { postgresql_concurrently = true }) inside an autocommit block",
      DROP_INDEX)
  end
  return d
end

function check.add_constraint(o, st, dialect)
  local c = o.constraint
  local t = qualified(o.table_name, o.schema)
  local d = { lock = AE, table = t, doc = ALTER, findings = {} }
  local existing = st:existing(o.table_name, o.schema)
  local not_valid = c.dialect_kw and c.dialect_kw.postgresql_not_valid
  if c.kind == "foreign_key" then
    d.lock = SRE
    d.note = SRE .. " on " .. qualified(c.referred_table, c.referred_schema) .. " too"
  end
  if c.kind == "check" then
    local col = not_null_column(c.sqltext)
    if col and c.name then
      st:note_not_null_check(c.name, o.table_name, o.schema, col, not not_valid)
    end
  end
  if not existing then return d end
  if c.kind == "foreign_key" or c.kind == "check" then
    if not_valid then
      d.note = (d.note and d.note .. "; " or "") .. "NOT VALID: no scan"
    else
      d.effect = "scan"
      d.findings[1] = finding("constraint-not-valid", string.format("%s constraint %s added to "
        .. "existing table %s without NOT VALID: every row is checked under %s", c.kind == "check"
        and "CHECK" or "FOREIGN KEY", tostring(c.name), t, d.lock),
        "add it with { postgresql_not_valid = true }, then op.execute(\"ALTER TABLE " .. t
        .. " VALIDATE CONSTRAINT " .. sql_name(dialect, c) .. "\") in a later migration "
        .. "(SHARE UPDATE EXCLUSIVE: writes go on)", ALTER)
    end
  elseif c.kind == "unique" or c.kind == "primary_key" then
    d.effect = "scan"
    d.findings[1] = finding("unique-not-from-index", string.format("%s constraint %s added to "
      .. "existing table %s builds its index under %s", c.kind == "unique" and "UNIQUE"
      or "PRIMARY KEY", tostring(c.name), t, AE),
      "CREATE UNIQUE INDEX CONCURRENTLY (autocommit block), then op.execute(\"ALTER TABLE " .. t
      .. " ADD CONSTRAINT " .. sql_name(dialect, c) .. " " .. (c.kind == "unique" and "UNIQUE"
      or "PRIMARY KEY") .. " USING INDEX <index>\")", ALTER)
  end
  return d
end

function check.drop_constraint(o)
  return { lock = AE, table = qualified(o.table_name, o.schema), doc = ALTER, findings = {} }
end

function check.create_table_comment(o)
  return { lock = SUE, table = qualified(o.table_name, o.schema), doc = LOCKING, findings = {} }
end
check.drop_table_comment = check.create_table_comment

function check.bulk_insert(o)
  local t = o.table or {}
  return { lock = RE, table = t.name and qualified(t.name, t.schema) or nil, doc = LOCKING,
           findings = {} }
end

--------------------------------------------------------------------------------------------
-- SQL text (op.execute)
--------------------------------------------------------------------------------------------

local NAME = '"?[%w_]+"?'
local QNAME = '(' .. NAME .. '%.?' .. '"?[%w_]*"?)'

local function unquote(n)
  n = n:gsub('"', "")
  local s, t = n:match("^([%w_]+)%.([%w_]+)$")
  if s then return t, s end
  return n, nil
end

-- One statement, upper-cased with whitespace collapsed and comments removed, classified.
function M.classify_sql(sql, st)
  local s = sql:gsub("%-%-[^\n]*", " "):gsub("%s+", " "):gsub("^ ", ""):gsub(" $", "")
  local u = s:upper()
  local d = { findings = {}, doc = LOCKING }
  if u == "" then d.lock = "none"; return d end
  local tname, schema
  if u:match("^SET ") or u:match("^RESET ") or u:match("^SHOW ") then
    d.lock = "none"
    return d
  end
  if u:match("^SELECT ") then d.lock = "ACCESS SHARE"; return d end
  if u:match("^INSERT INTO ") or u:match("^UPDATE ") or u:match("^DELETE FROM ") then
    local n
    if u:match("^UPDATE ") then n = s:match("^%a+ " .. QNAME) else n = s:match("^%a+ %a+ " .. QNAME) end
    if n then tname, schema = unquote(n) end
    d.lock = RE
    d.table = tname and qualified(tname, schema)
    return d
  end
  if u:match("^COMMENT ON ") then d.lock = SUE; return d end
  -- a type's own lock, no table's (what autogenerate writes after the last user of an ENUM)
  if u:match("^CREATE TYPE ") or u:match("^DROP TYPE ") then d.lock = "none"; return d end
  if u:match("^CREATE INDEX ") or u:match("^CREATE UNIQUE INDEX ") then
    local conc = u:match("^CREATE INDEX CONCURRENTLY ") or u:match("^CREATE UNIQUE INDEX CONCURRENTLY ")
    local n = s:match(" [Oo][Nn] [Oo][Nn][Ll][Yy] " .. QNAME) or s:match(" [Oo][Nn] " .. QNAME)
    if n then tname, schema = unquote(n) end
    d.table = tname and qualified(tname, schema)
    d.effect = "scan"
    d.doc = CREATE_INDEX
    if conc then
      d.lock = SUE
      if not st.autocommit then
        d.findings[1] = finding("concurrently-in-transaction", "CREATE INDEX CONCURRENTLY runs "
          .. "inside the migration's transaction, which PostgreSQL refuses",
          "wrap it in op.get_context().autocommit_block(function() ... end)", CREATE_INDEX)
      end
    else
      d.lock = SHARE
      if tname and st:existing(tname, schema) then
        d.findings[1] = finding("index-not-concurrent", "CREATE INDEX on existing table "
          .. d.table .. " without CONCURRENTLY: writes wait for the whole build (SHARE lock)",
          "CREATE INDEX CONCURRENTLY inside op.get_context().autocommit_block(function() ... end)",
          CREATE_INDEX)
      end
    end
    return d
  end
  if u:match("^DROP INDEX CONCURRENTLY ") then d.lock = SUE; d.doc = DROP_INDEX; return d end
  if u:match("^CREATE TABLE ") then
    local n = s:match("^%a+ %a+ [Ii][Ff] [Nn][Oo][Tt] [Ee][Xx][Ii][Ss][Tt][Ss] " .. QNAME)
      or s:match("^%a+ %a+ " .. QNAME)
    if n then
      tname, schema = unquote(n)
      st:note_created(tname, schema)
      d.table = qualified(tname, schema)
    end
    d.lock = AE
    d.note = "new table"
    return d
  end
  local n, action = s:match("^[Aa][Ll][Tt][Ee][Rr] [Tt][Aa][Bb][Ll][Ee] " .. QNAME .. " (.*)$")
  if n and n:upper() == "ONLY" then n, action = action:match("^" .. QNAME .. " (.*)$") end
  if n and n:upper() == "IF" then
    n, action = action:match("^[Ee][Xx][Ii][Ss][Tt][Ss] " .. QNAME .. " (.*)$")
  end
  if n and action then
    tname, schema = unquote(n)
    d.table = qualified(tname, schema)
    d.doc = ALTER
    local a = action:upper()
    local cname = a:match("^VALIDATE CONSTRAINT " .. QNAME .. "$")
    if cname then
      d.lock = SUE
      d.effect = "scan"
      d.note = "writes go on"
      local validated = action:match("^%a+ %a+ " .. QNAME)
      st:validated((validated:gsub('"', "")))
      return d
    end
    if a:match("^ADD CONSTRAINT " .. QNAME .. " UNIQUE USING INDEX ")
        or a:match("^ADD CONSTRAINT " .. QNAME .. " PRIMARY KEY USING INDEX ") then
      d.lock = AE
      d.note = "index already built: no scan"
      return d
    end
    local cn, cond, nv = action:match("^[Aa][Dd][Dd] [Cc][Oo][Nn][Ss][Tt][Rr][Aa][Ii][Nn][Tt] "
      .. QNAME .. " [Cc][Hh][Ee][Cc][Kk] (%b())(.*)$")
    if cn then
      local col = not_null_column(cond:sub(2, -2))
      local valid = not nv:upper():match("NOT VALID")
      if col then st:note_not_null_check(cn:gsub('"', ""), tname, schema, col, valid) end
      d.lock = AE
      if valid and st:existing(tname, schema) then
        d.effect = "scan"
        d.findings[1] = finding("constraint-not-valid", "CHECK constraint " .. cn .. " added "
          .. "to existing table " .. d.table .. " without NOT VALID: every row is checked under "
          .. AE, "add it NOT VALID, then VALIDATE CONSTRAINT in a later migration", ALTER)
      end
      return d
    end
    if a:match("^ADD CONSTRAINT " .. QNAME .. " FOREIGN KEY ") then
      d.lock = SRE
      if a:match(" NOT VALID$") then return d end
      if st:existing(tname, schema) then
        d.effect = "scan"
        d.findings[1] = finding("constraint-not-valid", "FOREIGN KEY added to existing table "
          .. d.table .. " without NOT VALID: every row is checked under " .. SRE,
          "add it NOT VALID, then VALIDATE CONSTRAINT in a later migration", ALTER)
      end
      return d
    end
  end
  d.unknown = true
  d.lock = "unknown"
  return d
end

-- Splits SQL text into statements at semicolons outside quotes.
local function statements(sql)
  local out, buf, q = {}, {}, nil
  for ch in sql:gmatch(".") do
    if q then
      if ch == q then q = nil end
      buf[#buf + 1] = ch
    elseif ch == "'" or ch == '"' then
      q = ch
      buf[#buf + 1] = ch
    elseif ch == ";" then
      out[#out + 1] = table.concat(buf)
      buf = {}
    else
      buf[#buf + 1] = ch
    end
  end
  out[#out + 1] = table.concat(buf)
  local r = {}
  for _, s in ipairs(out) do if s:match("%S") then r[#r + 1] = s end end
  return r
end

function check.execute(o, st)
  local sql = o.sqltext
  if type(sql) == "table" then sql = sql.text end
  if type(sql) ~= "string" then
    return { lock = "unknown", unknown = true, findings = {}, doc = LOCKING }
  end
  local parts = statements(sql)
  if #parts == 1 then return M.classify_sql(parts[1], st) end
  -- several statements: the strongest claim wins; one unknown makes the whole unknown
  local d = { findings = {}, doc = LOCKING, lock = "none" }
  for _, p in ipairs(parts) do
    local one = M.classify_sql(p, st)
    for _, f in ipairs(one.findings) do d.findings[#d.findings + 1] = f end
    if one.unknown then d.unknown = true; d.lock = "unknown" end
    if not d.unknown and one.lock ~= "none" then d.lock, d.table = one.lock, one.table end
    d.effect = d.effect or one.effect
  end
  return d
end

-- Batch mode on PostgreSQL runs plain ALTERs: each operation is checked on its own by lint.
function M.check(o, st, dialect)
  local f = check[o.kind]
  if not f then return { lock = "unknown", unknown = true, findings = {}, doc = LOCKING } end
  return f(o, st, dialect)
end

return M
