--[[ luamig.batch — op.batch_alter_table: Alembic's "move and copy" for SQLite, done with
SQLite's own 12-step ALTER TABLE procedure in mind.

Contract:
  batch.run(batch_operation, ctx, host)
                                    runs a "batch" operation (see luamig.op) in ctx
  batch.statements(batch_operation, dialect, tbl, as_sql, host)
                                    the SQL of the rebuild for a known table model `tbl`
                                    (copy_from), or of the plain ALTERs when no rebuild is needed
  batch.reflect(ctx, name, schema)  the live table as a schema model plus what the rebuild must
                                    restore: { table, indexes = {{name, sql, columns, expression,
                                    unique}}, triggers = {{name, sql}}, views_reference
                                    (views or triggers of other tables name it) }
  host is what the op layer lends batch (this module does not require luamig.op):
    host.create_table_from(tbl)     the create_table operation of a table model
    host.execute_statements(ctx, statements)
                                    runs compiled statements as op.invoke does

Whether the table is rebuilt follows Alembic: recreate = "always" | "never" | "auto"; "auto"
rebuilds where the dialect says so (dialect:batch_rebuilds_by_default(): SQLite) unless every
operation is create_index, drop_index or an add_column whose server default is a plain string.
Elsewhere the operations run as plain ALTERs unless recreate = "always".

Rebuild (online, where dialect:batch_reflects_live_table(): SQLite): read the table through the
C reflection (luamig.inspect(conn, { tables = { name }, batch = true }), core/reflect_sqlite.c);
apply the operations to the model; then
  CREATE TABLE _alembic_tmp_<t> (...); INSERT INTO _alembic_tmp_<t> (...) SELECT ... FROM <t>;
  DROP TABLE <t>; ALTER TABLE _alembic_tmp_<t> RENAME TO <t>; indexes; triggers.
Better than Alembic 1.8: unnamed CHECK constraints (table- and column-level) are kept; indexes on
dropped columns are not recreated and renamed columns are followed in indexes and constraints;
constraints on a dropped column are dropped with it; triggers are recreated from their SQL;
generated columns are recreated, not copied;
column renames are done first with SQLite's own ALTER TABLE RENAME, which rewrites views,
triggers and indexes naming the column; the statements of a rebuild run online inside the
migration's transaction through dialect:batch_rebuild_guard, which on SQLite keeps the views
and triggers that name the table (legacy_alter_table around the rename, so SQLite does not
re-check them while the table is missing), keeps the ON DELETE actions of the foreign keys of
other tables from firing when PRAGMA foreign_keys is on, and then fails the step if
PRAGMA foreign_key_check finds a violation involving the table (see luamig.sqldialect.sqlite),
copy_from or not; a type change CASTs the copied values when dialect:cast_for_batch_migrate
says so (SQLite: when the column affinity changes).

Offline (--sql), a rebuild needs copy_from, as in Alembic; the output then matches Alembic's.
]]

local sa = require "luamig.sa"

local batch = {}

--------------------------------------------------------------------------------------------
-- Deciding whether to rebuild
--------------------------------------------------------------------------------------------

local function needs_recreate(b, dialect)
  if b.recreate == "always" then return true end
  if b.recreate == "never" then return false end
  if not dialect:batch_rebuilds_by_default() then return false end
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
-- The live table
--------------------------------------------------------------------------------------------

-- SQLAlchemy's sqlite reflection adds parentheses around a default that is an expression.
local function reflected_default(text)
  if text == nil then return nil end
  if text:match("^%-?[%d.]+$") or text:match("^'.*'$") or text:match("^%(.*%)$")
      or text:upper() == "NULL" or text:match("^CURRENT_%a+$") then
    return sa.text(text)
  end
  return sa.text("(" .. text .. ")")
end

-- Reads table `name` of the live database through the one schema reader, the C reflection
-- (luamig.inspect with batch = true: declared types, index SQL, triggers), and returns the
-- schema model of the table plus what the rebuild must restore around it.
function batch.reflect(ctx, name, schema)
  -- the context reflects (ctx:inspect is luamig.inspect on its connection): the SQL of a
  -- batch (offline, copy_from) needs no engine, so this module does not require one
  local md = ctx:inspect({ schemas = schema and { schema } or nil, tables = { name },
                           batch = true })
  local tbl = md.sorted[1]
  if not tbl then error("No such table: '" .. name .. "'", 0) end
  tbl.schema = schema
  for _, col in ipairs(tbl.columns) do
    col.server_default = reflected_default(col.server_default and col.server_default.text)
  end
  -- The rebuild declares unique constraints (those of the table, then those written in a
  -- column definition), then checks (likewise), then foreign keys in declaration order; the
  -- reflection lists foreign keys last-declared first, as SQLite's pragma does.
  local groups = { {}, {}, {}, {}, {} }
  for _, c in ipairs(tbl.constraints) do
    local g = (c.kind == "unique" and 1) or (c.kind == "check" and 3) or 5
    if g < 5 and c.inline then g = g + 1 end
    c.inline = nil
    table.insert(groups[g], g == 5 and 1 or #groups[g] + 1, c)
  end
  tbl.constraints = {}
  for _, g in ipairs(groups) do
    for _, c in ipairs(g) do tbl.constraints[#tbl.constraints + 1] = c end
  end
  -- indexes created with CREATE INDEX, in creation order, recreated from their SQL
  local indexes = {}
  for _, ix in ipairs(tbl.indexes) do
    local columns, expression = {}, false
    for _, e in ipairs(ix.columns) do
      if type(e) == "string" then columns[#columns + 1] = e else expression = true end
    end
    indexes[#indexes + 1] = { name = ix.name, sql = ix.sql, columns = columns,
                              expression = expression, unique = ix.unique }
  end
  tbl.indexes = {}
  local triggers, mentioned_in = tbl.triggers, tbl.mentioned_in
  tbl.triggers, tbl.mentioned_in = nil, nil
  return { table = tbl, indexes = indexes, triggers = triggers,
           views_reference = #mentioned_in > 0 }
end

--------------------------------------------------------------------------------------------
-- Applying the operations to the table model
--------------------------------------------------------------------------------------------

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
-- batch_alter_table's naming_convention (Alembic's recipe "Dropping Unnamed or Named Foreign
-- Key Constraints"): the unnamed constraints of the table get the convention's names, so that
-- an operation of the batch can name them and the rebuilt table declares them named.  A
-- template that cannot be filled for a constraint (a CHECK read back from the database has no
-- columns for %(column_0_name)s) leaves that constraint unnamed, as it was.
local function name_by_convention(c, t, convention)
  if not convention or c.name ~= nil then return end
  local ok = pcall(sa._apply_convention, c, t, convention)
  if not ok then c.name, c.name_conv = nil, nil end
end

local function new_plan(tbl, dialect, reflected, convention)
  local t = sa._deep_copy(tbl)
  local plan = { table = t, transfer = {}, indexes = {}, dialect = dialect, order = {},
                 naming_convention = convention }
  if convention then
    if #t.primary_key.columns > 0 then name_by_convention(t.primary_key, t, convention) end
    for _, c in ipairs(t.constraints) do name_by_convention(c, t, convention) end
  end
  for _, col in ipairs(t.columns) do
    col.unique, col.index = nil, nil
    -- a generated column is computed by the new table, never copied into it
    if not col.computed then
      plan.transfer[col.name] = { expr = dialect:format_table(tbl.name, nil) .. "." .. dialect:quote(col.name),
                                  old_type = col.type }
    end
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
    name_by_convention(t.constraints[#t.constraints], t, plan.naming_convention)
  end
  col.foreign_keys = {}
  for _, ck in ipairs(col.constraints or {}) do
    local c = sa._deep_copy(ck)
    c._column = col.name
    sa._apply_convention(c, t, o._naming_convention or plan.naming_convention)
    c._column = nil
    t.constraints[#t.constraints + 1] = c
  end
  col.constraints = nil
  if col.index then
    local ix = { kind = "index", columns = { col.name }, unique = col.unique and true or false }
    sa._apply_convention(ix, t, o._naming_convention or plan.naming_convention)
    ix.table, ix.schema = t.name, t.schema
    plan.indexes[#plan.indexes + 1] = { name = ix.name, model = ix, columns = ix.columns }
  elseif col.unique then
    t.constraints[#t.constraints + 1] = { kind = "unique", columns = { col.name } }
    name_by_convention(t.constraints[#t.constraints], t, plan.naming_convention)
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
    if tr and plan.dialect:cast_for_batch_migrate(tr.old_type, new) then
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
  -- the new type's CHECK (Enum, Boolean with create_constraint), after the table's own
  if o.type_ ~= nil then
    local check = plan.dialect:type_check(col.name, col.type)
    if check then t.constraints[#t.constraints + 1] = check end
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
  name_by_convention(c, t, plan.naming_convention)
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

local function same_list(a, b)
  if #(a or {}) ~= #(b or {}) then return false end
  for i, v in ipairs(a or {}) do if v ~= b[i] then return false end end
  return true
end

local function squeeze(sql) return ((sql or ""):gsub("%s+", ""):gsub("^%((.*)%)$", "%1")) end

-- Whether table constraint `c` is the one `want` describes (kind, columns, and what it refers
-- to or checks): how an unnamed constraint is dropped.
local function same_constraint(c, want)
  if c.kind ~= want.kind then return false end
  if c.kind == "check" then return squeeze(c.sqltext) == squeeze(want.sqltext) end
  if not same_list(c.columns, want.columns) then return false end
  if c.kind == "foreign_key" then
    return c.referred_table == want.referred_table and same_list(c.referred_columns, want.referred_columns)
  end
  return true
end

function apply.drop_constraint(plan, o)
  local t = plan.table
  if o.constraint_name == nil and o.constraint then
    local before = #t.constraints
    local done = false
    t.constraints = remove_if(t.constraints, function(c)
      if done or not same_constraint(c, o.constraint) then return false end
      done = true
      return true
    end)
    if #t.constraints == before then
      error("No such constraint: an unnamed " .. o.constraint.kind .. " constraint on "
        .. table.concat(o.constraint.columns or {}, ", "), 0)
    end
    return
  end
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
local function rebuild_statements(b, dialect, tbl, reflected, as_sql, host)
  local plan = new_plan(tbl, dialect, reflected, b.naming_convention)
  -- table_args: constraints of the new table, before the ones it copies (Alembic gives them to
  -- the new Table first, and keeps a copied CHECK of the same name as well)
  if b.table_args then
    local front = {}
    for _, c in ipairs(b.table_args) do
      if type(c) ~= "table" or not (c.kind == "check" or c.kind == "unique" or c.kind == "foreign_key") then
        error("batch mode: table_args takes constraints (sa.CheckConstraint, sa.UniqueConstraint, "
          .. "sa.ForeignKeyConstraint)", 0)
      end
      front[#front + 1] = sa._deep_copy(c)
    end
    for _, c in ipairs(plan.table.constraints) do front[#front + 1] = c end
    plan.table.constraints = front
  end
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
  local create = host.create_table_from(t)
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

function batch.statements(b, dialect, tbl, as_sql, host)
  if not needs_recreate(b, dialect) then return plain_statements(b, dialect, as_sql) end
  tbl = tbl or b.copy_from
  if not tbl then error(offline_error(b, dialect), 0) end
  return rebuild_statements(b, dialect, tbl, nil, as_sql, host)
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

function batch.run(b, ctx, host)
  local dialect = ctx.dialect
  if not needs_recreate(b, dialect) then
    for _, o in ipairs(b.ops) do host.execute_statements(ctx, dialect:compile(o, ctx.as_sql)) end
    return
  end
  local statements, named_elsewhere
  if b.copy_from then
    statements = rebuild_statements(b, dialect, b.copy_from, nil, ctx.as_sql, host)
    if ctx.as_sql then
      host.execute_statements(ctx, statements)
      return
    end
  else
    if ctx.as_sql then error(offline_error(b, dialect), 0) end
    if not dialect:batch_reflects_live_table() then
      error("batch mode with recreate='always' on " .. dialect.name .. " needs copy_from=<the table> "
        .. "(luamig reflects only SQLite tables here)", 0)
    end
    b = batch._native_renames(b, ctx)
    local reflected = batch.reflect(ctx, b.table_name, b.schema)
    statements = rebuild_statements(b, dialect, reflected.table, reflected, false, host)
    named_elsewhere = reflected.views_reference
  end
  -- inside the migration's transaction, with what the database needs around a rebuild
  -- (SQLite: foreign key actions kept from firing, foreign_key_check after)
  dialect:batch_rebuild_guard(ctx, b.table_name, b.schema, named_elsewhere, function()
    host.execute_statements(ctx, statements)
  end)
end

return batch
