--[[ luamig.autogenerate — Alembic's autogenerate API: compare the models with the live
database (luamig.compare) and turn the differences into what the commands need — the body of a
new revision (rendered with luamig.render), or the list `luamig check` reports.

Contract (luamig.commands calls these; `mc` is the migration context, luamig.migration):
  ag.compare_metadata(mc, metadata[, conn_md]) -> diffs (with the database's schema as
        reflected already, include_name applied, when given), a list as Alembic's
        compare_metadata returns:
        { "add_table", tbl }, { "remove_table", tbl },
        { "add_column", schema, tname, col }, { "remove_column", schema, tname, col },
        { { "modify_nullable" | "modify_type" | "modify_default" | "modify_comment",
            schema, tname, cname, { existing_... }, old, new }, ... }  (one list per column),
        { "add_index", ix }, { "remove_index", ix }, { "add_constraint", c },
        { "remove_constraint", c }, { "add_fk", fk }, { "remove_fk", fk },
        { "add_table_comment", tbl, existing }, { "remove_table_comment", tbl }
      Each tuple carries `n` (its length: schema may be nil) and, for constraints and indexes,
      `table_name` and `schema`.
  ag.produce_migrations(mc, metadata) -> script = { upgrade_ops = { op, ... },
        downgrade_ops = { op, ... } }: the operations in Alembic's order, those of an existing
        table grouped in a "modify_table" operation (Alembic's ModifyTableOps); downgrade_ops is
        every operation reversed, in reverse order.  The commands add message, rev_id, head.
        Both lists offer :is_empty() and :as_diffs() to process_revision_directives hooks.
  ag.is_empty(ops) -> true when ops holds no operation (empty groups do not count)
  ag.as_diffs(ops) -> the diffs (as compare_metadata's) of a list of operations
  ag.render_script(mc, script) -> { upgrades, downgrades, imports }: the text of the bodies of
        upgrade() and downgrade() (two-space indent, between luamig's marker comments) and the
        `require` lines of the dialect modules the text uses.
  ag.render_ops(mc, ops) -> the body text of one list (what render_python_code gives in Alembic)
  ag.renderer(mc[, as_batch]) -> r: a body rendered piece by piece (luamig checkpoint); see
        ag.renderer below
  ag.diff_lines(diffs) -> { "one readable line per difference", ... }    (luamig check)
  ag.diffs_json(diffs) -> JSON text, an array of objects, one per difference  (check --json)
  ag.compare(mc, conn_metadata, metadata) -> upgrade ops, from an already reflected database

What is compared, and how, is luamig.compare's (its header lists the mc fields it reads).
Rendering reads mc.opts: render_item, render_as_batch (default: the dialect's render_as_batch),
user_module_prefix; render_item's autogen_context has `imports`, a list the hook may append
`require` lines to (Alembic's imports.add).
]]

local core = require "luamig.core"
local sa = require "luamig.sa"
local render = require "luamig.render"
local compare = require "luamig.compare"
local op = require "luamig.op"

local ag = {}

local qualified = compare.qualified

local function tuple(...)
  return { n = select("#", ...), ... }
end

-- The upgrade operations that take the database `conn_md` to the models.
function ag.compare(mc, conn_md, metadata)
  local actx = compare.context(mc, compare.metadata_list(metadata))
  return compare.compare(actx, conn_md)
end

--------------------------------------------------------------------------------------------
-- The public entry points
--------------------------------------------------------------------------------------------

local function reverse_list(list)
  local r = {}
  for i = #list, 1, -1 do r[#r + 1] = list[i]:reverse() end
  return r
end

function ag.is_empty(list)
  for _, o in ipairs(list or {}) do
    if o.kind ~= "modify_table" or not ag.is_empty(o.ops) then return false end
  end
  return true
end

-- Alembic's to_diff_tuple for one operation, appended to `out`.
local function diffs_of(o, out)
  local k = o.kind
  if k == "modify_table" then
    for _, sub in ipairs(o.ops) do diffs_of(sub, out) end
  elseif k == "create_table" then
    out[#out + 1] = tuple("add_table", o.table)
  elseif k == "drop_table" then
    out[#out + 1] = tuple("remove_table", o.table or { kind = "table", name = o.table_name, schema = o.schema })
  elseif k == "add_column" then
    out[#out + 1] = tuple("add_column", o.schema, o.table_name, o.column)
  elseif k == "drop_column" then
    out[#out + 1] = tuple("remove_column", o.schema, o.table_name,
                          o.column or sa.Column(o.column_name, sa.NullType))
  elseif k == "alter_column" then
    local list = {}
    local s, t, c = o.schema, o.table_name, o.column_name
    local esd = o.existing_server_default
    if o.type_ ~= nil then
      list[#list + 1] = tuple("modify_type", s, t, c, { existing_nullable = o.existing_nullable,
        existing_server_default = esd, existing_comment = o.existing_comment }, o.existing_type, o.type_)
    end
    if o.nullable ~= nil then
      list[#list + 1] = tuple("modify_nullable", s, t, c, { existing_type = o.existing_type,
        existing_server_default = esd, existing_comment = o.existing_comment }, o.existing_nullable, o.nullable)
    end
    if o.server_default ~= nil then
      local new = o.server_default
      if new == false then new = nil end
      list[#list + 1] = tuple("modify_default", s, t, c, { existing_nullable = o.existing_nullable,
        existing_type = o.existing_type, existing_comment = o.existing_comment }, esd, new)
    end
    if o.comment ~= nil then
      local new = o.comment
      if new == false then new = nil end
      list[#list + 1] = tuple("modify_comment", s, t, c, { existing_nullable = o.existing_nullable,
        existing_type = o.existing_type, existing_server_default = esd }, o.existing_comment, new)
    end
    if #list > 0 then out[#out + 1] = list end
  elseif k == "create_index" then
    local d = tuple("add_index", o.index)
    d.table_name, d.schema = o.index.table, o.index.schema
    out[#out + 1] = d
  elseif k == "drop_index" then
    local d = tuple("remove_index", o.index or { kind = "index", name = o.index_name, columns = {} })
    d.table_name, d.schema = o.table_name, o.schema
    out[#out + 1] = d
  elseif k == "add_constraint" then
    local d = tuple(o.constraint.kind == "foreign_key" and "add_fk" or "add_constraint", o.constraint)
    d.table_name, d.schema = o.table_name, o.schema
    out[#out + 1] = d
  elseif k == "drop_constraint" then
    local c = o.constraint or { kind = "constraint", name = o.constraint_name }
    local d = tuple(o.type_ == "foreignkey" and "remove_fk" or "remove_constraint", c)
    d.table_name, d.schema = o.table_name, o.schema
    out[#out + 1] = d
  elseif k == "create_table_comment" then
    out[#out + 1] = tuple("add_table_comment", { kind = "table", name = o.table_name, schema = o.schema,
                                                 comment = o.comment }, o.existing_comment)
  elseif k == "drop_table_comment" then
    out[#out + 1] = tuple("remove_table_comment", { kind = "table", name = o.table_name, schema = o.schema,
                                                    comment = o.existing_comment })
  else
    error("autogenerate: no difference for operation " .. tostring(k), 0)
  end
end

function ag.as_diffs(list)
  local out = {}
  for _, o in ipairs(list) do diffs_of(o, out) end
  return out
end

local function ops_list(list)
  -- the methods Alembic's UpgradeOps offer to process_revision_directives hooks
  return setmetatable(list, { __index = {
    is_empty = function(self) return ag.is_empty(self ~= nil and self or list) end,
    as_diffs = function(self) return ag.as_diffs(self ~= nil and self or list) end,
  } })
end

function ag.compare_metadata(mc, metadata, conn_md)
  local actx = compare.context(mc, compare.metadata_list(metadata))
  if conn_md then
    actx.names_filtered = actx.opts.include_name ~= nil   -- as compare.reflect's
  else
    conn_md = compare.reflect(actx)
  end
  return ag.as_diffs(compare.compare(actx, conn_md))
end

--------------------------------------------------------------------------------------------
-- Without Alembic's traps: what the database does on its own, made explicit
--------------------------------------------------------------------------------------------

-- Calls fn(o, list, i) for every operation, inside modify_table groups too.
local function each_op(list, fn)
  for i, o in ipairs(list) do
    if o.kind == "modify_table" then each_op(o.ops, fn) else fn(o, list, i) end
  end
end

-- Every name of schema `schema` in the reflected database: tables, indexes, constraints
-- (PostgreSQL picks an unnamed constraint's name among the names not taken there).
local function names_in_schema(conn_md, schema)
  local taken = {}
  for _, tbl in ipairs(conn_md.sorted or {}) do
    if tbl.schema == schema then
      taken[tbl.name] = true
      if tbl.primary_key and tbl.primary_key.name then taken[tbl.primary_key.name] = true end
      for _, c in ipairs(tbl.constraints or {}) do if c.name then taken[c.name] = true end end
      for _, ix in ipairs(tbl.indexes or {}) do if ix.name then taken[ix.name] = true end end
    end
  end
  return taken
end

local function model_table(actx, conn_md, schema, name)
  for _, md in ipairs(actx.metadata) do
    for _, tbl in ipairs(md.sorted) do
      if tbl.name == name and (tbl.schema or md.schema) == schema then return tbl end
    end
  end
  for _, tbl in ipairs(conn_md.sorted or {}) do
    if tbl.name == name and tbl.schema == schema then return tbl end
  end
  return nil
end

-- An unnamed constraint added to an existing table gets the name the database will give it,
-- so that the downgrade can drop it (Alembic renders drop_constraint(None, ...), which cannot
-- run).  Where the database keeps it unnamed (SQLite), the downgrade's drop_constraint
-- carries the constraint itself and batch mode finds it by what it constrains.
local function name_unnamed_constraints(actx, conn_md, upgrade)
  local taken_by_schema = {}
  each_op(upgrade, function(o)
    if o.kind ~= "add_constraint" or o.constraint.name ~= nil then return end
    local key = o.schema or ""
    taken_by_schema[key] = taken_by_schema[key] or names_in_schema(conn_md, o.schema)
    local tbl = model_table(actx, conn_md, o.schema, o.table_name) or { name = o.table_name, c = {} }
    local name = actx.dialect:implicit_constraint_name(o.constraint, tbl, taken_by_schema[key])
    if name then
      o.constraint = sa._deep_copy(o.constraint)
      o.constraint.name = name
    end
  end)
end

-- The named types (PostgreSQL ENUMs) the columns of a list of tables use: a set of keys.
local function types_used(dialect, tables)
  local used = {}
  for _, tbl in ipairs(tables) do
    for _, col in ipairs(tbl.columns or {}) do
      for _, t in ipairs(dialect:named_types(col.type)) do used[t.key] = t.type end
    end
  end
  return used
end

local function model_tables(actx)
  local list = {}
  for _, md in ipairs(actx.metadata) do
    for _, tbl in ipairs(md.sorted) do list[#list + 1] = tbl end
  end
  return list
end

-- ENUM types follow their users, in both directions: a create_table whose type exists
-- already does not create it again (create_type = false); add_column creates a missing one
-- itself (luamig.sqldialect.postgresql); after the last drop_table / drop_column of the list
-- that removes a user of a type the end state no longer uses, the type is dropped if it
-- exists.  `before`: the types that exist when the list starts; `after`: those the end
-- state uses.
local function follow_types(dialect, list, before, after)
  local exists, last_drop = {}, {}
  for k in pairs(before) do exists[k] = true end
  local function dropped_types(o)
    if o.kind == "drop_table" and o.table then return o.table.columns end
    if o.kind == "drop_column" and o.column then return { o.column } end
    return {}
  end
  each_op(list, function(o)
    if o.kind == "create_table" and o.table then
      local copied = false
      for _, col in ipairs(o.table.columns) do
        for _, t in ipairs(dialect:named_types(col.type)) do
          if exists[t.key] then
            if not copied then
              o.table = sa._deep_copy(o.table)
              copied = true
            end
            o.table.c[col.name].type.create_type = false
          end
          exists[t.key] = true
        end
      end
    elseif o.kind == "add_column" then
      for _, t in ipairs(dialect:named_types(o.column.type)) do exists[t.key] = true end
    end
    for _, col in ipairs(dropped_types(o)) do
      for _, t in ipairs(dialect:named_types(col.type)) do
        if exists[t.key] and not after[t.key] then last_drop[t.key] = { op = o, type = t.type } end
      end
    end
  end)
  local after_op = {}
  for _, d in pairs(last_drop) do
    after_op[d.op] = after_op[d.op] or {}
    table.insert(after_op[d.op], d.type)
  end
  local function insert(ops_)
    local i = 1
    while i <= #ops_ do
      local o = ops_[i]
      if o.kind == "modify_table" then insert(o.ops) end
      local types = after_op[o] or {}
      table.sort(types, function(a, b) return a.enum_name < b.enum_name end)
      for k, t in ipairs(types) do
        table.insert(ops_, i + k, op.ops.execute(dialect:drop_type_if_exists_sql(t)))
      end
      i = i + 1 + #types
    end
  end
  insert(list)
end

function ag.produce_migrations(mc, metadata)
  local actx = compare.context(mc, compare.metadata_list(metadata))
  local conn_md = compare.reflect(actx)
  local upgrade = compare.compare(actx, conn_md)
  name_unnamed_constraints(actx, conn_md, upgrade)
  local downgrade = reverse_list(upgrade)
  -- a dialect without named types (SQLite) has nothing for them to follow: 7 % of an
  -- autogenerate's Lua on 200 tables, spent finding that out
  if actx.dialect.has_named_types then
    local in_db = types_used(actx.dialect, conn_md.sorted or {})
    local in_models = types_used(actx.dialect, model_tables(actx))
    follow_types(actx.dialect, upgrade, in_db, in_models)
    follow_types(actx.dialect, downgrade, in_models, in_db)
  end
  return { upgrade_ops = ops_list(upgrade), downgrade_ops = ops_list(downgrade) }
end

--------------------------------------------------------------------------------------------
-- Rendering
--------------------------------------------------------------------------------------------

local BEGIN = "-- ### commands auto generated by luamig - please adjust! ###"
local END = "-- ### end luamig commands ###"
ag.BEGIN_MARKER, ag.END_MARKER = BEGIN, END

-- The autogenerate context for rendering: render_as_batch as env.lua says, else as the
-- dialect's default.
local function render_context(mc, as_batch)
  local actx = compare.context(mc, {})
  local opts = actx.opts
  if as_batch ~= nil then
    actx.render_as_batch = as_batch
  elseif opts.render_as_batch ~= nil then
    actx.render_as_batch = opts.render_as_batch and true or false
  else
    actx.render_as_batch = actx.dialect.render_as_batch
  end
  actx.import_set = {}
  return actx
end

-- text with every line that is not empty indented by two spaces. The body is indented piece by
-- piece (a piece being a whole line, or an operation that may span lines): a pattern over the
-- whole body tests a class at every character (2 % of an autogenerate of 200 tables).
local function indented(text)
  if text:find("\n", 1, true) then return (text:gsub("[^\n]+", "  %0")) end
  return text ~= "" and "  " .. text or ""
end

-- A table's group as a batch block, as Alembic's render_as_batch does (the options table is
-- always there, as Alembic always writes schema=): its lines added to `out`, indented.
local IN_BATCH = { batch = true, indent = "  " }
local function render_batch(o, out)
  local opts = o.schema and ("{ schema = " .. render.string(o.schema) .. " }") or "{}"
  out[#out + 1] = indented("op.batch_alter_table(" .. render.string(o.table_name) .. ", " .. opts
                           .. ", function(batch_op)")
  for _, sub in ipairs(o.ops) do
    out[#out + 1] = indented("  " .. render.operation(sub, IN_BATCH))
  end
  out[#out + 1] = "  end)"
  out[#out + 1] = ""
end

-- The operations' lines, each that is not empty indented by two spaces, appended to `out`.
local function render_lines(actx, list, out)
  for _, o in ipairs(list) do
    if o.kind == "modify_table" then
      if #o.ops > 0 then
        if actx.render_as_batch then
          render_batch(o, out)
        else
          out[#out + 1] = indented(render.operation(o))
        end
      end
    else
      out[#out + 1] = indented(render.operation(o))
    end
  end
end

-- The operations as the function body they become, between the markers.
local function render_body(actx, list)
  local out = { indented(BEGIN) }
  render_lines(actx, list, out)
  if #out == 1 then out[2] = indented("-- nothing to do") end
  out[#out + 1] = indented(END)
  return table.concat(out, "\n")
end

-- Runs fn with render.lua's hooks set to this context's render_item and imports.
local function with_hooks(actx, fn)
  local saved = render.hooks
  render.hooks = { render_item = actx.opts.render_item, autogen_context = actx.public,
                   imports = actx.import_set, user_module_prefix = actx.opts.user_module_prefix }
  local ok, r = pcall(fn)
  render.hooks = saved
  if not ok then error(r, 0) end
  return r
end

local function imports_text(actx)
  local lines = {}
  for line in pairs(actx.import_set) do lines[#lines + 1] = line end
  -- hooks may append lines to autogen_context.imports, as Alembic's imports.add()
  for _, line in ipairs(actx.imports) do lines[#lines + 1] = line end
  table.sort(lines)
  local out, seen = {}, {}
  for _, l in ipairs(lines) do
    if not seen[l] then seen[l] = true; out[#out + 1] = l end
  end
  return table.concat(out, "\n")
end

function ag.render_ops(mc, list)
  local actx = render_context(mc)
  return with_hooks(actx, function() return render_body(actx, list) end)
end

-- A body rendered piece by piece, for more operations than are worth holding at once (luamig
-- checkpoint): r:lines(list) -> the text of those operations' lines (without the markers, "" for
-- none); r:imports() -> the imports every piece so far needs. as_batch: render_as_batch, for
-- this body whatever env.lua says (nil: as env.lua says). The body is
-- BEGIN_BODY .. "\n" .. <the pieces' texts that are not empty, joined by "\n"> .. "\n" .. END_BODY,
-- or EMPTY_BODY when all are empty.
function ag.renderer(mc, as_batch)
  local actx = render_context(mc, as_batch)
  return {
    lines = function(_, list)
      return with_hooks(actx, function()
        local out = {}
        render_lines(actx, list, out)
        return table.concat(out, "\n")
      end)
    end,
    imports = function() return imports_text(actx) end,
  }
end
ag.BEGIN_BODY, ag.END_BODY = indented(BEGIN), indented(END)
ag.EMPTY_BODY = ag.BEGIN_BODY .. "\n" .. indented("-- nothing to do") .. "\n" .. ag.END_BODY

function ag.render_script(mc, script)
  local actx = render_context(mc)
  return with_hooks(actx, function()
    local up = render_body(actx, script.upgrade_ops or {})
    local down = render_body(actx, script.downgrade_ops or {})
    return { upgrades = up, downgrades = down, imports = imports_text(actx) }
  end)
end

--------------------------------------------------------------------------------------------
-- Reporting differences (luamig check)
--------------------------------------------------------------------------------------------

local function sql_default(v)
  if v == nil then return nil end
  if type(v) == "table" and (v.kind == "text" or v.kind == "literal_column") then return v.text end
  return render.value(v)
end

local function cols(list)
  local r = {}
  for i, c in ipairs(list or {}) do r[i] = type(c) == "string" and c or render.value(c) end
  return "(" .. table.concat(r, ", ") .. ")"
end

local constraint_words = { unique = "unique constraint", check = "check constraint",
                           primary_key = "primary key", foreign_key = "foreign key" }

-- One difference as { kind=, schema=, table=, column=, name=, from=, to=, detail= } strings.
local function describe(d)
  local k = d[1]
  local r = { kind = k }
  if k == "add_table" or k == "remove_table" then
    r.schema, r.table = d[2].schema, d[2].name
  elseif k == "add_table_comment" or k == "remove_table_comment" then
    r.schema, r.table = d[2].schema, d[2].name
    if k == "add_table_comment" then r.from, r.to = d[3], d[2].comment else r.from = d[2].comment end
  elseif k == "add_column" or k == "remove_column" then
    r.schema, r.table, r.column = d[2], d[3], d[4].name
    r.detail = render.type(d[4].type) .. (d[4].nullable == false and " NOT NULL" or "")
  elseif k:match("^modify_") then
    r.schema, r.table, r.column = d[2], d[3], d[4]
    local old, new = d[6], d[7]
    if k == "modify_type" then
      r.from, r.to = old and render.type(old), render.type(new)
    elseif k == "modify_nullable" then
      r.from, r.to = old and "NULL" or "NOT NULL", new and "NULL" or "NOT NULL"
    elseif k == "modify_default" then
      r.from, r.to = sql_default(old), sql_default(new)
    else
      r.from, r.to = old, new
    end
  elseif k == "add_index" or k == "remove_index" then
    local ix = d[2]
    r.schema, r.table, r.name = d.schema, d.table_name, ix.name
    r.detail = cols(ix.columns) .. (ix.unique and " unique" or "")
  else
    local c = d[2]
    r.schema, r.table, r.name = d.schema, d.table_name, c.name
    r.constraint = constraint_words[c.kind] or c.kind
    if c.kind == "foreign_key" then
      r.detail = cols(c.columns) .. " -> " .. qualified(c.referred_schema, c.referred_table)
        .. cols(c.referred_columns)
    elseif c.kind == "check" then
      r.detail = c.sqltext
    elseif c.columns then
      r.detail = cols(c.columns)
    end
  end
  return r
end

local function flat(diffs)
  local out = {}
  for _, d in ipairs(diffs) do
    if type(d[1]) == "table" then
      for _, x in ipairs(d) do out[#out + 1] = x end
    else
      out[#out + 1] = d
    end
  end
  return out
end

local function line_of(r)
  local where = qualified(r.schema, r.table or "?")
  local k = r.kind
  if k == "add_table" or k == "remove_table" or k == "remove_table_comment" then
    return k .. " " .. where
  elseif k == "add_table_comment" then
    return string.format("%s %s: %s -> %s", k, where, r.from and string.format("%q", r.from) or "none",
                         string.format("%q", r.to))
  elseif k == "add_column" or k == "remove_column" then
    return string.format("%s %s.%s %s", k, where, r.column, r.detail)
  elseif k:match("^modify_") then
    local function show(v)
      if v == nil then return "none" end
      if k == "modify_comment" then return string.format("%q", v) end
      return v
    end
    return string.format("%s %s.%s: %s -> %s", k, where, r.column, show(r.from), show(r.to))
  elseif k == "add_index" or k == "remove_index" then
    return string.format("%s %s on %s %s", k, tostring(r.name), where, r.detail)
  end
  return string.format("%s %s %s on %s%s", k, r.constraint, r.name and ("'" .. r.name .. "'") or "(unnamed)",
                       where, r.detail and (" " .. r.detail) or "")
end

function ag.diff_lines(diffs)
  local out = {}
  for _, d in ipairs(flat(diffs)) do out[#out + 1] = line_of(describe(d)) end
  return out
end

-- any bytes give valid JSON (invalid UTF-8 becomes U+FFFD): the one escaper, in C (json.h)
local json_string = core.json_string

local json_keys = { "kind", "schema", "table", "column", "name", "constraint", "from", "to", "detail" }

-- JSON text: [{"kind": "add_column", "schema": null, "table": "hero", ...}, ...]; every key is
-- present (null when it does not apply), in this order, so that tools can read it plainly.
function ag.diffs_json(diffs)
  local items = {}
  for _, d in ipairs(flat(diffs)) do
    local r = describe(d)
    local parts = {}
    for _, key in ipairs(json_keys) do
      local v = r[key]
      parts[#parts + 1] = json_string(key) .. ": " .. (v == nil and "null" or json_string(tostring(v)))
    end
    items[#items + 1] = "{" .. table.concat(parts, ", ") .. "}"
  end
  if #items == 0 then return "[]" end
  return "[\n  " .. table.concat(items, ",\n  ") .. "\n]"
end

return ag
