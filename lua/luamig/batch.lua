--[[ luamig.batch — op.batch_alter_table: Alembic's "move and copy" for SQLite, done with
SQLite's own 12-step ALTER TABLE procedure in mind.

Contract:
  batch.run(batch_operation, ctx)   runs a "batch" operation (see luamig.op) in ctx
  batch.statements(batch_operation, dialect, tbl, as_sql)
                                    the SQL of the rebuild for a known table model `tbl`
                                    (copy_from), or of the plain ALTERs when no rebuild is needed
  batch.reflect_sqlite(ctx, name, schema)
                                    the live table as a schema model plus what the rebuild must
                                    restore: { table, indexes = {{name, sql, columns}}, triggers,
                                    views_reference, autoincrement, foreign_keys_on }

Whether the table is rebuilt follows Alembic: recreate = "always" | "never" | "auto"; "auto"
rebuilds on SQLite unless every operation is create_index, drop_index or an add_column whose
server default is a plain string.  Other dialects run the operations as plain ALTERs unless
recreate = "always".

Rebuild (online, SQLite): reflect through PRAGMA table_info / foreign_key_list / index_list /
index_xinfo and sqlite_master; apply the operations to the model; then
  CREATE TABLE _alembic_tmp_<t> (...); INSERT INTO _alembic_tmp_<t> (...) SELECT ... FROM <t>;
  DROP TABLE <t>; ALTER TABLE _alembic_tmp_<t> RENAME TO <t>; indexes; triggers.
Better than Alembic 1.8: unnamed CHECK constraints (table- and column-level) are kept; indexes on
dropped columns are not recreated and renamed columns are followed in indexes and constraints;
constraints on a dropped column are dropped with it; triggers are recreated from their SQL;
views that mention the table survive (legacy_alter_table is switched on around the rename, so
SQLite does not re-check them while the table is missing); column renames are done first with
SQLite's own ALTER TABLE RENAME, which rewrites views, triggers and indexes naming the column; foreign keys from other tables stay
valid, and when PRAGMA foreign_keys is on the rebuild runs in an autocommit block with foreign
keys off (DROP TABLE would otherwise fire ON DELETE actions) followed by foreign_key_check;
a type change CASTs the copied values only when SQLite's column affinity changes.

Offline (--sql), a rebuild needs copy_from, as in Alembic; the output then matches Alembic's.
]]

local sa = require "luamig.sa"

local batch = {}

local function op_module() return require "luamig.op" end

--------------------------------------------------------------------------------------------
-- Deciding whether to rebuild
--------------------------------------------------------------------------------------------

local function needs_recreate(b, dialect)
  if b.recreate == "always" then return true end
  if b.recreate == "never" then return false end
  if dialect.name ~= "sqlite" then return false end
  for _, o in ipairs(b.ops) do
    if o.kind == "add_column" then
      local sd = o.column.server_default
      if type(sd) == "table" and sd.kind ~= nil then return true end
      if o.column.computed and o.column.computed.persisted then return true end
    elseif o.kind ~= "create_index" and o.kind ~= "drop_index" then
      return true
    end
  end
  return false
end
batch._needs_recreate = needs_recreate

local function offline_error(b, dialect)
  return 'This operation cannot proceed in --sql mode; batch mode with dialect ' .. dialect.name
    .. ' requires a live database connection with which to reflect the table "' .. b.table_name
    .. '". To generate a batch SQL migration script using table "move and copy", a complete '
    .. 'Table object should be passed to the "copy_from" argument of the batch_alter_table() '
    .. 'method so that table reflection can be skipped.'
end

--------------------------------------------------------------------------------------------
-- SQLite reflection
--------------------------------------------------------------------------------------------

-- Splits SQL text into tokens: words, quoted identifiers, strings, punctuation.
local function tokenize(sql)
  local toks, i, n = {}, 1, #sql
  while i <= n do
    local c = sql:sub(i, i)
    if c:match("%s") then
      i = i + 1
    elseif c == "-" and sql:sub(i, i + 1) == "--" then
      local e = sql:find("\n", i, true) or n
      i = e + 1
    elseif c == "/" and sql:sub(i, i + 1) == "/*" then
      local _, e = sql:find("*/", i + 2, true)
      i = (e or n) + 1
    elseif c == "'" or c == '"' or c == "`" or c == "[" then
      local close = c == "[" and "]" or c
      local j = i + 1
      while j <= n do
        local d = sql:sub(j, j)
        if d == close then
          if close ~= "]" and sql:sub(j + 1, j + 1) == close then j = j + 2 else break end
        else
          j = j + 1
        end
      end
      local raw = sql:sub(i, j)
      local inner = sql:sub(i + 1, j - 1)
      if close ~= "]" then inner = inner:gsub(close .. close, close) end
      toks[#toks + 1] = { t = c == "'" and "string" or "ident", v = inner, raw = raw, s = i, e = j }
      i = j + 1
    elseif c:match("[%w_$]") then
      local j = i
      while j <= n and sql:sub(j, j):match("[%w_$]") do j = j + 1 end
      local w = sql:sub(i, j - 1)
      toks[#toks + 1] = { t = "word", v = w, up = w:upper(), raw = w, s = i, e = j - 1 }
      i = j
    else
      toks[#toks + 1] = { t = "punct", v = c, raw = c, s = i, e = i }
      i = i + 1
    end
  end
  return toks
end
batch._tokenize = tokenize

local function is_kw(tok, w) return tok and tok.t == "word" and tok.up == w end

-- Index of the token closing the parenthesis opened at toks[i].
local function close_paren(toks, i)
  local depth = 0
  for j = i, #toks do
    if toks[j].v == "(" and toks[j].t == "punct" then depth = depth + 1
    elseif toks[j].v == ")" and toks[j].t == "punct" then
      depth = depth - 1
      if depth == 0 then return j end
    end
  end
  error("unbalanced parentheses in table definition", 0)
end

-- The identifiers of a parenthesised column list starting at toks[i] == "(".
local function ident_list(toks, i)
  local j = close_paren(toks, i)
  local r, expect = {}, true
  for k = i + 1, j - 1 do
    local t = toks[k]
    if t.v == "," and t.t == "punct" then expect = true
    elseif expect and (t.t == "ident" or t.t == "word") then r[#r + 1] = t.v; expect = false end
  end
  return r, j
end

local constraint_words = { CONSTRAINT = true, PRIMARY = true, UNIQUE = true, CHECK = true,
                           FOREIGN = true }

-- Parses the column definitions and table constraints of a CREATE TABLE statement.
-- Returns { columns = { [name] = { collation, checks = {...}, unique, pk_name } },
--           pk = { name, columns }, uniques, checks, fks = { {name, columns, deferrable, initially} },
--           autoincrement, without_rowid }
local function parse_create_table(sql)
  local toks = tokenize(sql)
  local open
  for i, t in ipairs(toks) do if t.t == "punct" and t.v == "(" then open = i; break end end
  if not open then error("cannot parse table definition: " .. sql, 0) end
  local close = close_paren(toks, open)
  local info = { columns = {}, uniques = {}, checks = {}, fks = {}, column_order = {} }
  for k = close + 1, #toks do
    if is_kw(toks[k], "WITHOUT") then info.without_rowid = true end
  end
  -- split the body at top-level commas
  local items, start, depth = {}, open + 1, 0
  for k = open + 1, close do
    local t = toks[k]
    if t.t == "punct" and t.v == "(" then depth = depth + 1
    elseif t.t == "punct" and t.v == ")" and k < close then depth = depth - 1
    end
    if (k == close) or (depth == 0 and t.t == "punct" and t.v == ",") then
      items[#items + 1] = { from = start, to = k - 1 }
      start = k + 1
    end
  end
  local function text_between(a, b) return sql:sub(toks[a].e + 1, toks[b].s - 1) end
  local function deferrability(from, to, c)
    for k = from, to do
      if is_kw(toks[k], "DEFERRABLE") then
        c.deferrable = not is_kw(toks[k - 1], "NOT")
        if is_kw(toks[k + 1], "INITIALLY") and toks[k + 2] then c.initially = toks[k + 2].up end
      end
    end
  end
  for _, it in ipairs(items) do
    local k = it.from
    local first = toks[k]
    if first and first.t == "word" and constraint_words[first.up] then
      local name
      if first.up == "CONSTRAINT" then name = toks[k + 1].v; k = k + 2 end
      local kw = toks[k].up
      if kw == "PRIMARY" then
        local cols = ident_list(toks, k + 2)
        info.pk = { name = name, columns = cols }
      elseif kw == "UNIQUE" then
        local cols = ident_list(toks, k + 1)
        local c = { kind = "unique", name = name, columns = cols }
        deferrability(k, it.to, c)
        info.uniques[#info.uniques + 1] = c
      elseif kw == "CHECK" then
        local j = close_paren(toks, k + 1)
        info.checks[#info.checks + 1] = { kind = "check", name = name, sqltext = text_between(k + 1, j) }
      elseif kw == "FOREIGN" then
        local cols = ident_list(toks, k + 2)
        local c = { name = name, columns = cols }
        deferrability(k, it.to, c)
        info.fks[#info.fks + 1] = c
      end
    elseif first then
      local cname = first.v
      local col = { checks = {} }
      info.columns[cname] = col
      info.column_order[#info.column_order + 1] = cname
      local pending
      local j = k + 1
      while j <= it.to do
        local t = toks[j]
        if is_kw(t, "CONSTRAINT") then
          pending = toks[j + 1].v; j = j + 2
        elseif is_kw(t, "CHECK") then
          local e = close_paren(toks, j + 1)
          col.checks[#col.checks + 1] = { kind = "check", name = pending, sqltext = text_between(j + 1, e) }
          pending = nil; j = e + 1
        elseif is_kw(t, "COLLATE") then
          col.collation = toks[j + 1].v; j = j + 2
        elseif is_kw(t, "UNIQUE") then
          col.unique = { kind = "unique", name = pending, columns = { cname } }
          pending = nil; j = j + 1
        elseif is_kw(t, "PRIMARY") then
          col.pk_name = pending
          info.pk = info.pk or { name = pending, columns = { cname } }
          pending = nil; j = j + 2
        elseif is_kw(t, "AUTOINCREMENT") then
          info.autoincrement = true; j = j + 1
        elseif is_kw(t, "REFERENCES") then
          local fk = { name = pending, columns = { cname }, inline = true }
          deferrability(j, it.to, fk)
          info.fks[#info.fks + 1] = fk
          pending = nil; j = j + 1
        elseif t.t == "punct" and t.v == "(" then
          j = close_paren(toks, j) + 1
        else
          j = j + 1
        end
      end
    end
  end
  return info
end
batch._parse_create_table = parse_create_table

-- A declared SQLite type as a schema-model type.
local known_types = {
  INTEGER = {}, INT = {}, BIGINT = {}, SMALLINT = {}, BOOLEAN = {}, DATE = {}, DATETIME = {},
  TIMESTAMP = {}, TIME = {}, BLOB = {}, JSON = {}, REAL = {},
  VARCHAR = { "length" }, CHAR = { "length" }, NVARCHAR = { "length" }, NCHAR = { "length" },
  TEXT = { "length" }, CLOB = { "length" },
  NUMERIC = { "precision", "scale" }, DECIMAL = { "precision", "scale" }, FLOAT = { "precision" },
}

function batch.parse_type(decl)
  local name, args = decl:match("^%s*([%a_][%w_]*)%s*%((.-)%)%s*$")
  if not name then name = decl:match("^%s*([%a_][%w_]*)%s*$") end
  local up = name and name:upper()
  local params = up and known_types[up]
  if not params then
    return { kind = "type", name = up or "", module = "reflected", sql = decl }
  end
  local t = { kind = "type", name = up == "INT" and "INTEGER" or up, module = "sa" }
  if args then
    local i = 0
    for a in args:gmatch("[^,]+") do
      i = i + 1
      local v = tonumber((a:gsub("%s", "")))
      if not params[i] or not v then return { kind = "type", name = up, module = "reflected", sql = decl } end
      t[params[i]] = v
    end
  end
  return t
end

-- SQLAlchemy's sqlite reflection adds parentheses around a default that is an expression.
local function reflected_default(text)
  if text == nil then return nil end
  if text:match("^%-?[%d.]+$") or text:match("^'.*'$") or text:match("^%(.*%)$")
      or text:upper() == "NULL" or text:match("^CURRENT_%a+$") then
    return sa.text(text)
  end
  return sa.text("(" .. text .. ")")
end

local function q(d, name) return '"' .. name:gsub('"', '""') .. '"' end

-- Reflects table `name` of the live SQLite database into the schema model.
function batch.reflect_sqlite(ctx, name, schema)
  local d = ctx.dialect
  local prefix = schema and (q(d, schema) .. ".") or ""
  local master = (schema and (q(d, schema) .. ".") or "") .. "sqlite_master"
  local rows = ctx:query("SELECT sql FROM " .. master .. " WHERE type = 'table' AND name = :name",
                         { name = name })
  if #rows == 0 then error("No such table: '" .. name .. "'", 0) end
  local info = parse_create_table(rows[1].sql or rows[1][1])
  local cols = ctx:query("PRAGMA " .. prefix .. "table_info(" .. q(d, name) .. ")")
  local tbl_items = {}
  local pk_cols = {}
  for _, r in ipairs(cols) do
    local cname = r.name or r[2]
    local decl = r.type or r[3] or ""
    local t = batch.parse_type(decl)
    local extra = info.columns[cname] or { checks = {} }
    if extra.collation then t.collation = extra.collation end
    local col = sa.Column(cname, t, {
      nullable = (tonumber(r.notnull or r[4]) or 0) == 0,
      server_default = reflected_default(r.dflt_value or r[5]) })
    local pkpos = tonumber(r.pk or r[6]) or 0
    if pkpos > 0 then pk_cols[pkpos] = cname end
    tbl_items[#tbl_items + 1] = col
  end
  local pk = sa.PrimaryKeyConstraint(table.unpack(pk_cols))
  if info.pk and info.pk.name then pk.name = info.pk.name end
  tbl_items[#tbl_items + 1] = pk
  -- the pk flag on columns drives SQLite's inline PRIMARY KEY AUTOINCREMENT
  for _, c in ipairs(info.uniques) do tbl_items[#tbl_items + 1] = sa.UniqueConstraint(
    table.unpack(c.columns), { name = c.name, deferrable = c.deferrable, initially = c.initially }) end
  for _, cname in ipairs(info.column_order) do
    local extra = info.columns[cname]
    if extra.unique then
      tbl_items[#tbl_items + 1] = sa.UniqueConstraint(cname, { name = extra.unique.name })
    end
  end
  for _, c in ipairs(info.checks) do
    tbl_items[#tbl_items + 1] = sa.CheckConstraint(c.sqltext, { name = c.name })
  end
  for _, cname in ipairs(info.column_order) do
    for _, c in ipairs(info.columns[cname].checks) do
      tbl_items[#tbl_items + 1] = sa.CheckConstraint(c.sqltext, { name = c.name })
    end
  end
  -- foreign keys: details from the PRAGMA, names and deferrability from the SQL
  local fkrows = ctx:query("PRAGMA " .. prefix .. "foreign_key_list(" .. q(d, name) .. ")")
  local by_id, ids = {}, {}
  for _, r in ipairs(fkrows) do
    local id = tonumber(r.id or r[1])
    if not by_id[id] then
      by_id[id] = { cols = {}, refcols = {}, table = r.table or r[3], on_update = r.on_update or r[6],
                    on_delete = r.on_delete or r[7], match = r.match or r[8] }
      ids[#ids + 1] = id
    end
    local f = by_id[id]
    local seq = (tonumber(r.seq or r[2]) or 0) + 1
    f.cols[seq] = r.from or r[4]
    f.refcols[seq] = r.to or r[5]
  end
  table.sort(ids, function(a, b) return a > b end) -- PRAGMA numbers them last-declared first
  for _, id in ipairs(ids) do
    local f = by_id[id]
    local meta
    for _, c in ipairs(info.fks) do
      if table.concat(c.columns, ",") == table.concat(f.cols, ",") and not c.used then
        meta = c; c.used = true; break
      end
    end
    meta = meta or {}
    local refs = {}
    for i, rc in ipairs(f.refcols) do refs[i] = f.table .. "." .. (rc ~= nil and rc or f.cols[i]) end
    local function action(a) if a == nil or a == "NO ACTION" then return nil end return a end
    local m = f.match
    if m == "NONE" then m = nil end
    tbl_items[#tbl_items + 1] = sa.ForeignKeyConstraint(f.cols, refs, {
      name = meta.name, ondelete = action(f.on_delete), onupdate = action(f.on_update), match = m,
      deferrable = meta.deferrable, initially = meta.initially })
  end
  local opts = { schema = schema }
  if info.autoincrement then opts.sqlite_autoincrement = true end
  if info.without_rowid then opts.sqlite_with_rowid = false end
  local tbl = sa._build_table(name, nil, tbl_items, opts)
  tbl.primary_key._implicit = nil
  -- indexes created with CREATE INDEX (origin "c"), with their SQL and columns
  local indexes = {}
  local unique_of = {}
  for _, r in ipairs(ctx:query("PRAGMA " .. prefix .. "index_list(" .. q(d, name) .. ")")) do
    if (r.origin or r[4]) == "c" then unique_of[r.name or r[2]] = tonumber(r.unique or r[3]) or 0 end
  end
  -- in creation order, as they are recreated
  for _, r in ipairs(ctx:query("SELECT name, sql FROM " .. master
      .. " WHERE type = 'index' AND tbl_name = :name AND sql IS NOT NULL ORDER BY rowid", { name = name })) do
    local iname, isql = r.name or r[1], r.sql or r[2]
    if unique_of[iname] then
      local icols, expr = {}, false
      for _, x in ipairs(ctx:query("PRAGMA " .. prefix .. "index_xinfo(" .. q(d, iname) .. ")")) do
        local key = tonumber(x.key or x[6]) or 1
        if key == 1 then
          local cn = x.name or x[3]
          if cn == nil or tonumber(x.cid or x[2]) == -2 then expr = true else icols[#icols + 1] = cn end
        end
      end
      indexes[#indexes + 1] = { name = iname, sql = isql, columns = icols, expression = expr,
                                unique = unique_of[iname] == 1 }
    end
  end
  local triggers, views = {}, {}
  for _, r in ipairs(ctx:query("SELECT type, name, tbl_name, sql FROM " .. master
      .. " WHERE type IN ('trigger', 'view') ORDER BY rowid")) do
    local typ, tname, sqltext = r.type or r[1], r.tbl_name or r[3], r.sql or r[4]
    if typ == "trigger" and tname == name then
      triggers[#triggers + 1] = { name = r.name or r[2], sql = sqltext }
    elseif sqltext and sqltext:lower():find(name:lower(), 1, true) then
      views[#views + 1] = r.name or r[2]
    end
  end
  local fk_on = ctx:query("PRAGMA foreign_keys")
  return { table = tbl, indexes = indexes, triggers = triggers, views_reference = #views > 0,
           foreign_keys_on = fk_on[1] and tonumber(fk_on[1][1] or fk_on[1].foreign_keys) == 1 }
end

--------------------------------------------------------------------------------------------
-- Applying the operations to the table model
--------------------------------------------------------------------------------------------

-- SQLite's column affinity of a declared type (https://sqlite.org/datatype3.html 3.1).
local function affinity(dialect, t)
  local decl = (t.sql or dialect:type_sql(t)):upper()
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
batch._affinity = affinity

local function replace_word(text, old, new)
  -- whole-word replacement outside string literals
  local out, i = {}, 1
  for pre, lit in (text .. "''"):gmatch("([^']*)('[^']*')") do
    pre = pre:gsub("%f[%w_$]" .. old:gsub("%p", "%%%0") .. "%f[^%w_$]", (new:gsub("%%", "%%%%")))
    out[#out + 1] = pre
    out[#out + 1] = lit
    i = i + 1
  end
  local r = table.concat(out)
  return r:sub(1, #r - 2)
end
batch._replace_word = replace_word

local function mentions(text, word)
  return text:find("%f[%w_$]" .. word:gsub("%p", "%%%0") .. "%f[^%w_$]") ~= nil
end

local function remove_if(list, pred)
  local r = {}
  for _, x in ipairs(list) do if not pred(x) then r[#r + 1] = x end end
  return r
end

local function has(list, v)
  for _, x in ipairs(list) do if x == v then return true end end
  return false
end

-- The model the rebuild works on: the table, the column transfers (new name -> SQL expression
-- reading the old table) and the indexes to (re)create.
local function new_plan(tbl, dialect, reflected)
  local t = sa._deep_copy(tbl)
  local plan = { table = t, transfer = {}, indexes = {}, dialect = dialect, order = {} }
  for _, col in ipairs(t.columns) do
    col.unique, col.index = nil, nil
    plan.transfer[col.name] = { expr = dialect:format_table(tbl.name, nil) .. "." .. dialect:quote(col.name),
                                old_type = col.type }
  end
  if reflected then
    for _, ix in ipairs(reflected.indexes) do
      plan.indexes[#plan.indexes + 1] = { name = ix.name, sql = ix.sql, columns = ix.columns,
                                          expression = ix.expression, unique = ix.unique }
    end
  else
    for _, ix in ipairs(t.indexes) do
      plan.indexes[#plan.indexes + 1] = { name = ix.name, model = ix, columns = ix.columns }
    end
  end
  t.indexes = {}
  return plan
end

local function find_column(plan, name)
  for i, c in ipairs(plan.table.columns) do if c.name == name then return c, i end end
  return nil
end

local apply = {}

function apply.add_column(plan, o)
  local t = plan.table
  if find_column(plan, o.column.name) then
    error("batch add_column: column '" .. o.column.name .. "' already exists", 0)
  end
  local col = sa._copy_column(o.column)
  local pos = #t.columns + 1
  if o.insert_before then
    local _, i = find_column(plan, o.insert_before); if i then pos = i end
  elseif o.insert_after then
    local _, i = find_column(plan, o.insert_after); if i then pos = i + 1 end
  end
  table.insert(t.columns, pos, col)
  t.c[col.name] = col
  if col.primary_key then t.primary_key.columns[#t.primary_key.columns + 1] = col.name end
  for _, fk in ipairs(col.foreign_keys or {}) do
    local schema, tname, cname = sa._parse_target(fk.target)
    t.constraints[#t.constraints + 1] = { kind = "foreign_key", name = fk.name, columns = { col.name },
      referred_schema = schema, referred_table = tname, referred_columns = { cname },
      ondelete = fk.ondelete, onupdate = fk.onupdate, deferrable = fk.deferrable, initially = fk.initially }
  end
  col.foreign_keys = {}
  if col.index then
    local ix = { kind = "index", columns = { col.name }, unique = col.unique and true or false }
    sa._apply_convention(ix, t, o._naming_convention)
    ix.table, ix.schema = t.name, t.schema
    plan.indexes[#plan.indexes + 1] = { name = ix.name, model = ix, columns = ix.columns }
  elseif col.unique then
    t.constraints[#t.constraints + 1] = { kind = "unique", columns = { col.name } }
  end
  col.index, col.unique = nil, nil
end

function apply.drop_column(plan, o)
  local t = plan.table
  local col, i = find_column(plan, o.column_name)
  if not col then error("No such column '" .. o.column_name .. "' in table '" .. t.name .. "'", 0) end
  table.remove(t.columns, i)
  t.c[o.column_name] = nil
  plan.transfer[o.column_name] = nil
  local name = o.column_name
  t.primary_key.columns = remove_if(t.primary_key.columns, function(c) return c == name end)
  t.constraints = remove_if(t.constraints, function(c)
    if c.kind == "check" then return mentions(c.sqltext, name) end
    return has(c.columns or {}, name)
  end)
  plan.indexes = remove_if(plan.indexes, function(ix)
    if has(ix.columns or {}, name) then return true end
    return ix.expression and ix.sql and mentions(ix.sql, name)
  end)
end

function apply.alter_column(plan, o)
  local t = plan.table
  local col = find_column(plan, o.column_name)
  if not col then error("No such column '" .. o.column_name .. "' in table '" .. t.name .. "'", 0) end
  if o.nullable ~= nil then col.nullable = o.nullable end
  if o.server_default ~= nil then
    if o.server_default == false then col.server_default = nil else col.server_default = o.server_default end
  end
  if o.comment ~= nil then col.comment = o.comment or nil end
  if o.autoincrement ~= nil then col.autoincrement = o.autoincrement end
  if o.type_ ~= nil then
    local tr = plan.transfer[col.name]
    local new = sa._to_type(o.type_)
    if tr and plan.dialect.name == "sqlite" and new.name ~= "JSON"
        and affinity(plan.dialect, tr.old_type) ~= affinity(plan.dialect, new) then
      tr.expr = "CAST(" .. tr.expr .. " AS " .. plan.dialect:type_sql(new) .. ")"
      tr.cast = true
    end
    col.type = new
  end
  local new_name = o.new_column_name
  if new_name ~= nil and new_name ~= col.name then
    local old = col.name
    col.name = new_name
    t.c[old] = nil
    t.c[new_name] = col
    plan.transfer[new_name] = plan.transfer[old]
    plan.transfer[old] = nil
    local function rename_in(list)
      for k, v in ipairs(list or {}) do if v == old then list[k] = new_name end end
    end
    rename_in(t.primary_key.columns)
    for _, c in ipairs(t.constraints) do
      rename_in(c.columns)
      if c.kind == "check" then c.sqltext = replace_word(c.sqltext, old, new_name) end
      if c.kind == "foreign_key" and c.referred_table == t.name then rename_in(c.referred_columns) end
    end
    for _, ix in ipairs(plan.indexes) do
      if has(ix.columns or {}, old) then
        rename_in(ix.columns)
        if ix.sql then ix.sql = replace_word(ix.sql, old, new_name) end
        if ix.model then rename_in(ix.model.columns) end
      end
    end
  end
end

function apply.create_index(plan, o)
  local ix = sa._deep_copy(o.index)
  plan.indexes[#plan.indexes + 1] = { name = ix.name, model = ix, columns = ix.columns }
end

function apply.drop_index(plan, o)
  local before = #plan.indexes
  plan.indexes = remove_if(plan.indexes, function(ix) return ix.name == o.index_name end)
  if #plan.indexes == before then error("No such index: '" .. tostring(o.index_name) .. "'", 0) end
end

function apply.add_constraint(plan, o)
  local c = sa._deep_copy(o.constraint)
  local t = plan.table
  if c.kind == "primary_key" then
    t.primary_key = c
    for _, n in ipairs(c.columns) do
      local col = find_column(plan, n)
      if not col then error("No such column '" .. n .. "'", 0) end
      col.primary_key = true
      col.nullable = false
    end
  else
    t.constraints[#t.constraints + 1] = c
  end
end

local drop_kinds = { foreignkey = "foreign_key", primary = "primary_key", unique = "unique", check = "check" }

function apply.drop_constraint(plan, o)
  local t = plan.table
  local want = o.type_ and drop_kinds[o.type_]
  if (want == "primary_key" or want == nil) and t.primary_key.name == o.constraint_name
      and o.constraint_name ~= nil then
    for _, n in ipairs(t.primary_key.columns) do
      local col = find_column(plan, n)
      if col then col.primary_key = false end
    end
    t.primary_key = { kind = "primary_key", columns = {} }
    return
  end
  local before = #t.constraints
  t.constraints = remove_if(t.constraints, function(c)
    return c.name ~= nil and c.name == o.constraint_name and (want == nil or want == c.kind)
  end)
  if #t.constraints == before then
    error("No such constraint: '" .. tostring(o.constraint_name) .. "'", 0)
  end
end

-- Table comments have nowhere to go on SQLite; on other dialects a rebuild keeps the model's.
function apply.create_table_comment(plan, o) plan.table.comment = o.comment end
function apply.drop_table_comment(plan) plan.table.comment = nil end

function apply.execute(plan, o) plan.after = plan.after or {}; plan.after[#plan.after + 1] = o end

--------------------------------------------------------------------------------------------
-- The rebuild's statements
--------------------------------------------------------------------------------------------

local function temp_name(name)
  local t = "_alembic_tmp_" .. name
  if #t > 50 then t = t:sub(1, 50) end
  return t
end

-- Statements that rebuild `tbl` after applying the batch's operations.  `reflected` carries
-- the live indexes and triggers (nil with copy_from).
local function rebuild_statements(b, dialect, tbl, reflected, as_sql)
  local plan = new_plan(tbl, dialect, reflected)
  for _, o in ipairs(b.ops) do
    local f = apply[o.kind]
    if not f then error("batch mode: operation " .. o.kind .. " is not supported", 0) end
    f(plan, o)
  end
  local t = plan.table
  local tmp = temp_name(t.name)
  local final_name = t.name
  t.name = tmp
  local out = {}
  local create = op_module().ops.create_table_from(t)
  for _, s in ipairs(dialect:compile(create, as_sql)) do
    -- the table's own indexes are created after the rename, against the final name
    if not (type(s) == "string" and s:match("^CREATE [%w ]*INDEX")) then out[#out + 1] = s end
  end
  t.name = final_name
  local into, from = {}, {}
  local anon = 0
  for _, col in ipairs(t.columns) do
    local tr = plan.transfer[col.name]
    if tr then
      into[#into + 1] = dialect:quote(col.name)
      from[#from + 1] = tr.expr
      if tr.cast then
        -- SQLAlchemy gives the unlabeled CAST in Alembic's SELECT an anonymous label
        anon = anon + 1
        from[#from] = from[#from] .. " AS anon_" .. anon
      end
    end
  end
  local tmp_full = dialect:format_table(tmp, t.schema)
  local src = dialect:format_table(final_name, t.schema)
  if #into > 0 then
    out[#out + 1] = "INSERT INTO " .. tmp_full .. " (" .. table.concat(into, ", ") .. ") SELECT "
      .. table.concat(from, ", ") .. " \nFROM " .. src
  end
  out[#out + 1] = "DROP TABLE " .. src
  out[#out + 1] = "ALTER TABLE " .. tmp_full .. " RENAME TO " .. dialect:quote(final_name)
  for _, ix in ipairs(plan.indexes) do
    if ix.model then
      ix.model.table, ix.model.schema = final_name, t.schema
      out[#out + 1] = dialect:create_index_sql(ix.model)
    else
      out[#out + 1] = ix.sql
    end
  end
  for _, tr in ipairs(reflected and reflected.triggers or {}) do out[#out + 1] = tr.sql end
  for _, o in ipairs(plan.after or {}) do
    for _, s in ipairs(dialect:compile(o, as_sql)) do out[#out + 1] = s end
  end
  return out
end
batch._rebuild_statements = rebuild_statements

-- The plain (non-rebuild) statements: each operation on its own.
local function plain_statements(b, dialect, as_sql)
  local out = {}
  for _, o in ipairs(b.ops) do
    for _, s in ipairs(dialect:compile(o, as_sql)) do out[#out + 1] = s end
  end
  return out
end

function batch.statements(b, dialect, tbl, as_sql)
  if not needs_recreate(b, dialect) then return plain_statements(b, dialect, as_sql) end
  tbl = tbl or b.copy_from
  if not tbl then error(offline_error(b, dialect), 0) end
  return rebuild_statements(b, dialect, tbl, nil, as_sql)
end

--------------------------------------------------------------------------------------------
-- Running
--------------------------------------------------------------------------------------------

-- Column renames go through SQLite's own ALTER TABLE ... RENAME, before the rebuild: SQLite
-- then rewrites the views, triggers, indexes and foreign keys that name the column.  Returns
-- the batch with those renames taken out and every column reference using the final names.
function batch._native_renames(b, ctx)
  local renames = {}
  for i, o in ipairs(b.ops) do
    if o.kind == "alter_column" and o.new_column_name and o.new_column_name ~= o.column_name then
      renames[#renames + 1] = { at = i, old = o.column_name, new = o.new_column_name }
    end
  end
  if #renames == 0 then return b end
  -- the name column `name` (as seen by operation i) ends up with
  local function final(name, i)
    for _, r in ipairs(renames) do
      if r.at >= i and r.old == name then name = r.new end
    end
    return name
  end
  local d = ctx.dialect
  for _, r in ipairs(renames) do
    ctx:execute(d:alter_table(b.table_name, b.schema) .. " RENAME " .. d:quote(r.old) .. " TO " .. d:quote(r.new))
  end
  local function map_list(list, i)
    local out = {}
    for k, v in ipairs(list or {}) do out[k] = type(v) == "string" and final(v, i) or v end
    return out
  end
  local ops = {}
  for i, o in ipairs(b.ops) do
    local c = {}
    for k, v in pairs(o) do c[k] = v end
    setmetatable(c, getmetatable(o))
    if c.column_name then c.column_name = final(c.column_name, i) end
    if c.kind == "alter_column" then c.new_column_name = nil end
    if c.insert_before then c.insert_before = final(c.insert_before, i) end
    if c.insert_after then c.insert_after = final(c.insert_after, i) end
    if c.kind == "create_index" then
      c.index = sa._deep_copy(c.index); c.index.columns = map_list(c.index.columns, i)
    elseif c.kind == "add_constraint" then
      c.constraint = sa._deep_copy(c.constraint)
      c.constraint.columns = map_list(c.constraint.columns, i)
      if c.constraint.referred_table == b.table_name then
        c.constraint.referred_columns = map_list(c.constraint.referred_columns, i)
      end
    end
    ops[i] = c
  end
  local nb = setmetatable({}, getmetatable(b))
  for k, v in pairs(b) do nb[k] = v end
  nb.ops = ops
  return nb
end

function batch.run(b, ctx)
  local op = op_module()
  local dialect = ctx.dialect
  if not needs_recreate(b, dialect) then
    for _, o in ipairs(b.ops) do op.invoke(o) end
    return
  end
  if b.copy_from then
    op._execute_statements(ctx, rebuild_statements(b, dialect, b.copy_from, nil, ctx.as_sql))
    return
  end
  if ctx.as_sql then error(offline_error(b, dialect), 0) end
  if dialect.name ~= "sqlite" then
    error("batch mode with recreate='always' on " .. dialect.name .. " needs copy_from=<the table> "
      .. "(luamig reflects only SQLite tables here)", 0)
  end
  b = batch._native_renames(b, ctx)
  local reflected = batch.reflect_sqlite(ctx, b.table_name, b.schema)
  local statements = rebuild_statements(b, dialect, reflected.table, reflected, false)
  if reflected.views_reference then
    -- a view naming the table would make SQLite reject the rename while the table is missing
    table.insert(statements, 1, "PRAGMA legacy_alter_table=ON")
    statements[#statements + 1] = "PRAGMA legacy_alter_table=OFF"
  end
  if not reflected.foreign_keys_on then
    op._execute_statements(ctx, statements)
    return
  end
  -- With foreign keys enforced, DROP TABLE would run the children's ON DELETE actions; the
  -- pragma only changes outside a transaction.
  ctx:autocommit_block(function()
    ctx:execute("PRAGMA foreign_keys=OFF")
    local ok, err = pcall(function()
      ctx:execute("BEGIN")
      op._execute_statements(ctx, statements)
      local bad = ctx:query("PRAGMA foreign_key_check")
      if #bad > 0 then
        error("batch rebuild of '" .. b.table_name .. "' would violate foreign keys ("
          .. tostring(bad[1].table or bad[1][1]) .. ")", 0)
      end
      ctx:execute("COMMIT")
    end)
    if not ok then pcall(ctx.execute, ctx, "ROLLBACK") end
    ctx:execute("PRAGMA foreign_keys=ON")
    if not ok then error(err, 0) end
  end)
end

return batch
