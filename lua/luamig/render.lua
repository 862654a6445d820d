--[[ luamig.render — operation objects (luamig.op) and schema-model values (luamig.sa) back to
Lua source, as Alembic's autogenerate renders Python (alembic/autogenerate/render.py), translated
with DESIGN.md's rule: keyword arguments become one trailing options table.

Contract:
  render.operation(operation [, opts]) -> Lua source text of one op call (no trailing newline)
      opts.batch = true renders a call on `batch_op` without the table (and schema) arguments;
      opts.indent = string prefixed to continuation lines (default "")
  render.operations(list [, opts]) -> lines joined with "\n"
  render.column(column), render.type(t), render.constraint(c), render.value(v) -> text
  render.imports(text) -> the `local postgresql = require "luamig.dialects.postgresql"` lines
      a rendered text needs (one per types module a dialect publishes, see luamig.sqldialect)
  render.hooks: nil, or (while autogenerate renders) { render_item = fn(kind, obj, autogen_context),
      autogen_context, imports = { [line] = true }, user_module_prefix }: render_item may return
      the text of a "type", "server_default", "column", "primary_key", "unique", "foreign_key" or
      "check" (false/nil = the default rendering); types of a dialect module add their import line.
Raises on an operation kind or value it cannot render.

A type whose `module` names a dialect's types module (luamig.sqldialect's types_module) renders
with that module's prefix ("postgresql.JSONB()") and adds its require line; other types render
as "sa." types (or with the hooks' user_module_prefix).
]]

local base = require "luamig.sqldialect.base"
local dialects = require "luamig.sqldialect"

local render = {}

render.hooks = nil

-- The user's rendering of an item (Alembic's render_item), or nil for the default.
local function user_render(kind, obj)
  local h = render.hooks
  if h and h.render_item then
    local r = h.render_item(kind, obj, h.autogen_context)
    if r ~= nil and r ~= false then return tostring(r) end
  end
  return nil
end

-- A Lua string literal that reads back as `s`.
local function str(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    if c == "\n" then return "\\n" end
    if c == "\t" then return "\\t" end
    if c == "\r" then return "\\r" end
    if c == '"' then return '\\"' end
    if c == "\\" then return "\\\\" end
    return string.format("\\%03d", c:byte())
  end) .. '"'
end
render.string = str

-- The long bracket ("[==[", "]==]") of the smallest level whose closing bracket `text` does not
-- contain: text put between them (a comment, a string) reads back as itself and ends nothing.
function render.long_bracket(text)
  local level = 0
  while text:find("]" .. string.rep("=", level) .. "]", 1, true) do level = level + 1 end
  local eq = string.rep("=", level)
  return "[" .. eq .. "[", "]" .. eq .. "]"
end

-- A call's arguments, written so that Lua can compile the call however many there are: a call
-- passes at most about 250 (the registers of a function), so past MAX_ARGS they go through one
-- table constructor, which has no such limit (sa.Enum of 300 values, a table of 300 columns).
local MAX_ARGS = 200
local function arguments(args, sep)
  sep = sep or ", "
  if #args <= MAX_ARGS then return table.concat(args, sep) end
  return "table.unpack { " .. table.concat(args, sep) .. " }"
end

local lua_keywords = {}
for w in ([[and break do else elseif end false for function goto if in local nil not or
  repeat return then true until while]]):gmatch("%S+") do lua_keywords[w] = true end

-- (an option name is rendered at every operation that has it: each one's text is kept)
local plain_keys = {}
local function key(k)
  if plain_keys[k] then return k end
  if type(k) == "string" and k:match("^[%a_][%w_]*$") and not lua_keywords[k] then
    plain_keys[k] = true
    return k
  end
  return "[" .. (type(k) == "string" and str(k) or tostring(k)) .. "]"
end

local function name(n, conv)
  if n == nil then return "nil" end
  if conv then return "op.f(" .. str(n) .. ")" end
  return str(n)
end

local function list(items)
  local r = {}
  for i, v in ipairs(items) do r[i] = render.value(v) end
  return "{ " .. table.concat(r, ", ") .. " }"
end

-- An options table from ordered { key, rendered } pairs; nil when empty.
local function options(pairs_)
  if #pairs_ == 0 then return nil end
  local r = {}
  for i, p in ipairs(pairs_) do r[i] = key(p[1]) .. " = " .. p[2] end
  return "{ " .. table.concat(r, ", ") .. " }"
end

local function sorted_keys(t)
  local ks = {}
  for k in pairs(t or {}) do ks[#ks + 1] = k end
  table.sort(ks, function(a, b) return tostring(a) < tostring(b) end)
  return ks
end

-- Any plain value: strings, numbers, booleans, SQL clauses, types, arrays and maps.
function render.value(v)
  local tv = type(v)
  if v == nil then return "nil" end
  if tv == "string" then return str(v) end
  if tv == "number" then
    if math.type(v) == "integer" then return tostring(v) end
    return base.float_repr(v)
  end
  if tv == "boolean" then return tostring(v) end
  if tv ~= "table" then error("render: cannot render a " .. tv, 0) end
  local k = v.kind
  if k == "type" then return render.type(v) end
  if k == "text" then return "sa.text(" .. str(v.text) .. ")" end
  if k == "literal_column" then return "sa.literal_column(" .. str(v.text) .. ")" end
  if k == "true" then return "sa.true_()" end
  if k == "false" then return "sa.false_()" end
  if k == "null" then return "sa.null()" end
  if k == "func" then
    local args = {}
    for i, a in ipairs(v.args) do args[i] = render.value(a) end
    -- sa.func.now(), or sa.func["..."]() for a name that is no Lua name: the name is the
    -- models' text, never code of the revision
    local fname = key(v.name)
    return "sa.func" .. (fname:sub(1, 1) == "[" and "" or ".") .. fname .. "("
      .. table.concat(args, ", ") .. ")"
  end
  if k == "inline_literal" then return "op.inline_literal(" .. render.value(v.value) .. ")" end
  if k == "conv" then return "op.f(" .. str(v.name) .. ")" end
  if k == "column" then return render.column(v) end
  if k == "computed" then
    local o = options(v.persisted ~= nil and { { "persisted", tostring(v.persisted) } } or {})
    return "sa.Computed(" .. str(v.sqltext) .. (o and (", " .. o) or "") .. ")"
  end
  if k == "identity" then
    local p = {}
    for _, kk in ipairs(sorted_keys(v)) do
      if kk ~= "kind" and not (kk == "always" and v.always == false) then
        p[#p + 1] = { kk, render.value(v[kk]) }
      end
    end
    return "sa.Identity(" .. (options(p) or "") .. ")"
  end
  if k ~= nil then return render.constraint(v) end
  -- a plain array or map
  if #v > 0 then return list(v) end
  local p = {}
  for _, kk in ipairs(sorted_keys(v)) do p[#p + 1] = { kk, render.value(v[kk]) } end
  return options(p) or "{}"
end

-- Type arguments rendered by name, in SQLAlchemy's parameter order.
local type_params = { "length", "collation", "precision", "scale", "decimal_return_scale",
  "asdecimal", "timezone", "fields", "native", "second_precision", "day_precision",
  "create_constraint", "none_as_null", "as_uuid", "native_uuid", "item_type", "as_tuple",
  "dimensions", "zero_indexes", "varying", "astext_type", "text_type" }
local type_param_index = {}
for i, k in ipairs(type_params) do type_param_index[k] = i end

-- The line rendered code needs to use types module `tm`.
local function import_line(tm)
  return "local " .. tm.name .. " = require " .. str(tm.require)
end

function render.type(t)
  local u = user_render("type", t)
  if u then return u end
  local tm = dialects.types_module(t.module)
  local prefix = tm and (tm.name .. ".") or "sa."
  local h = render.hooks
  if h and tm and h.imports then
    h.imports[import_line(tm)] = true
  elseif h and h.user_module_prefix and t.module ~= "sa" and t.module ~= "reflected" and not tm then
    prefix = h.user_module_prefix
  end
  if t.module == "reflected" then
    -- a type luamig has no model for: keep its SQL where a type is expected
    return "sa.NullType() --[[ " .. (t.sql or t.name) .. " ]]"
  end
  if t.name == "Enum" or t.name == "ENUM" then
    local args = {}
    for i, e in ipairs(t.enums or {}) do args[i] = str(e) end
    local p = {}
    if t.enum_name then p[#p + 1] = { "name", str(t.enum_name) } end
    for _, kk in ipairs { "schema", "native_enum", "create_constraint", "create_type", "length" } do
      if t[kk] ~= nil then p[#p + 1] = { kk, render.value(t[kk]) } end
    end
    local o = options(p)
    if o then args[#args + 1] = o end
    return prefix .. t.name .. "(" .. arguments(args) .. ")"
  end
  -- the parameters the type holds, in type_params' order: a type is plain data with a few
  -- fields, so its own keys are walked, not every parameter name (each absent one a miss
  -- through the type's metatable)
  local found
  for k in next, t do
    local i = type_param_index[k]
    if i then
      found = found or {}
      found[#found + 1] = i
    end
  end
  if not found then return prefix .. t.name .. "()" end
  table.sort(found)
  local p = {}
  for j, i in ipairs(found) do
    local kk = type_params[i]
    p[j] = { kk, render.value(t[kk]) }
  end
  return prefix .. t.name .. options(p)
end

-- Inside create_table (c._from_table) the table-level constraints and indexes carry the column's
-- primary_key / ForeignKey / unique / index flags, so the column leaves them out.
local function server_default_text(v)
  if v == false then return "false" end
  return user_render("server_default", v) or render.value(v)
end

function render.column(c)
  local u = user_render("column", c)
  if u then return u end
  local args = { str(c.name), render.type(c.type) }
  if not c._from_table then
    for _, fk in ipairs(c.foreign_keys or {}) do args[#args + 1] = render.constraint(fk) end
    for _, ck in ipairs(c.constraints or {}) do args[#args + 1] = render.constraint(ck) end
  end
  if c.computed then args[#args + 1] = render.value(c.computed) end
  if c.identity then args[#args + 1] = render.value(c.identity) end
  local p = {}
  if c.server_default ~= nil then p[#p + 1] = { "server_default", server_default_text(c.server_default) } end
  if c.autoincrement ~= nil and c.autoincrement ~= "auto" then
    p[#p + 1] = { "autoincrement", render.value(c.autoincrement) }
  end
  if c.primary_key and not c._from_table then p[#p + 1] = { "primary_key", "true" } end
  p[#p + 1] = { "nullable", tostring(c.nullable ~= false) }
  if c.comment then p[#p + 1] = { "comment", str(c.comment) } end
  if c.unique and not c._from_table then p[#p + 1] = { "unique", "true" } end
  if c.index and not c._from_table then p[#p + 1] = { "index", "true" } end
  args[#args + 1] = options(p)
  return "sa.Column(" .. table.concat(args, ", ") .. ")"
end

local function common_opts(c, p)
  if c.name ~= nil then table.insert(p, 1, { "name", name(c.name, c.name_conv) }) end
  if c.deferrable ~= nil then p[#p + 1] = { "deferrable", tostring(c.deferrable) } end
  if c.initially ~= nil then p[#p + 1] = { "initially", str(c.initially) } end
  for _, kk in ipairs(sorted_keys(c.dialect_kw)) do p[#p + 1] = { kk, render.value(c.dialect_kw[kk]) } end
  return options(p)
end

local function with_opts(head, args, o)
  if o then args[#args + 1] = o end
  return head .. "(" .. arguments(args) .. ")"
end

local user_kinds = { primary_key = "primary_key", unique = "unique", foreign_key = "foreign_key",
                     check = "check" }

function render.constraint(c)
  local k = c.kind
  local u = user_kinds[k] and user_render(user_kinds[k], c)
  if u then return u end
  if k == "primary_key" or k == "unique" then
    local args = {}
    for i, n in ipairs(c.columns) do args[i] = str(n) end
    return with_opts(k == "unique" and "sa.UniqueConstraint" or "sa.PrimaryKeyConstraint", args,
                     common_opts(c, {}))
  elseif k == "check" then
    return with_opts("sa.CheckConstraint", { str(c.sqltext) }, common_opts(c, {}))
  elseif k == "foreign_key" then
    local refs = {}
    local prefix = (c.referred_schema and (c.referred_schema .. ".") or "") .. c.referred_table .. "."
    for i, n in ipairs(c.referred_columns) do refs[i] = prefix .. n end
    local p = {}
    for _, kk in ipairs { "onupdate", "ondelete", "match", "use_alter" } do
      if c[kk] ~= nil then p[#p + 1] = { kk, render.value(c[kk]) } end
    end
    return with_opts("sa.ForeignKeyConstraint", { list(c.columns), list(refs) }, common_opts(c, p))
  elseif k == "foreign_key_spec" then
    local p = {}
    for _, kk in ipairs { "onupdate", "ondelete", "match", "use_alter" } do
      if c[kk] ~= nil then p[#p + 1] = { kk, render.value(c[kk]) } end
    end
    return with_opts("sa.ForeignKey", { str(c.target) }, common_opts(c, p))
  elseif k == "index" then
    local args = { name(c.name, c.name_conv) }
    for _, e in ipairs(c.columns) do args[#args + 1] = render.value(e) end
    local p = {}
    if c.unique then p[#p + 1] = { "unique", "true" } end
    for _, kk in ipairs(sorted_keys(c.dialect_kw)) do p[#p + 1] = { kk, render.value(c.dialect_kw[kk]) } end
    return with_opts("sa.Index", args, options(p))
  end
  error("render: cannot render a value of kind " .. tostring(k), 0)
end

--------------------------------------------------------------------------------------------
-- Operations
--------------------------------------------------------------------------------------------

local R = {}

-- The call of operation o: table_name (false for none) leads the arguments unless rendering
-- inside a batch, rendered only then; `rest` (rendered) and the options follow.
local function call(o, fname, ctx, table_name, rest, opt_pairs)
  local args = {}
  if table_name ~= false and not ctx.batch then args[1] = str(table_name) end
  for _, a in ipairs(rest) do args[#args + 1] = a end
  if o.schema and not ctx.batch then opt_pairs[#opt_pairs + 1] = { "schema", str(o.schema) } end
  local op_ = options(opt_pairs)
  if op_ then args[#args + 1] = op_ end
  return (ctx.batch and "batch_op." or "op.") .. fname .. "(" .. table.concat(args, ", ") .. ")"
end

function R.create_table(o, ctx)
  local t = o.table
  local items = {}
  for _, c in ipairs(t.columns) do
    local c2 = setmetatable({ _from_table = true }, { __index = c })
    items[#items + 1] = render.column(c2)
  end
  local cons = {}
  if #t.primary_key.columns > 0 then cons[#cons + 1] = render.constraint(t.primary_key) end
  for _, c in ipairs(t.constraints) do cons[#cons + 1] = render.constraint(c) end
  -- Alembic sorts the rendered constraints
  table.sort(cons)
  for _, c in ipairs(cons) do items[#items + 1] = c end
  local p = {}
  if t.schema then p[#p + 1] = { "schema", str(t.schema) } end
  if t.comment then p[#p + 1] = { "comment", str(t.comment) } end
  for _, kk in ipairs(sorted_keys(t.dialect_kw)) do p[#p + 1] = { kk, render.value(t.dialect_kw[kk]) } end
  if o.if_not_exists then p[#p + 1] = { "if_not_exists", "true" } end
  local o2 = options(p)
  if o2 then items[#items + 1] = o2 end
  local ind = ctx.indent or ""
  local many = #items + 1 > MAX_ARGS -- (with the name: see arguments())
  local text = "op.create_table(" .. str(t.name) .. (many and ", table.unpack {\n" or ",\n")
  for i, it in ipairs(items) do
    text = text .. ind .. "  " .. it .. (i < #items and ",\n" or "\n")
  end
  local out = text .. ind .. (many and "})" or ")")
  -- indexes declared on the table come as their own operations, as in Alembic
  for _, ix in ipairs(t.indexes) do
    out = out .. "\n" .. ind .. R.create_index({ index = ix, schema = ix.schema }, ctx)
  end
  return out
end

function R.drop_table(o, ctx)
  local p = {}
  if o.if_exists then p[#p + 1] = { "if_exists", "true" } end
  return call(o, "drop_table", ctx, o.table_name, {}, p)
end

function R.rename_table(o, ctx)
  return call(o, "rename_table", ctx, o.table_name, { str(o.new_table_name) }, {})
end

function R.add_column(o, ctx)
  local p = {}
  if o.if_not_exists then p[#p + 1] = { "if_not_exists", "true" } end
  if o.insert_before then p[#p + 1] = { "insert_before", str(o.insert_before) } end
  if o.insert_after then p[#p + 1] = { "insert_after", str(o.insert_after) } end
  return call(o, "add_column", ctx, o.table_name, { render.column(o.column) }, p)
end

function R.drop_column(o, ctx)
  local p = {}
  if o.if_exists then p[#p + 1] = { "if_exists", "true" } end
  if o.existing_type then p[#p + 1] = { "existing_type", render.type(o.existing_type) } end
  return call(o, "drop_column", ctx, o.table_name, { str(o.column_name) }, p)
end

local server_default = server_default_text

function R.alter_column(o, ctx)
  local p = {}
  if o.existing_type then p[#p + 1] = { "existing_type", render.type(o.existing_type) } end
  if o.server_default ~= nil then p[#p + 1] = { "server_default", server_default(o.server_default) } end
  if o.type_ then p[#p + 1] = { "type_", render.type(o.type_) } end
  if o.nullable ~= nil then p[#p + 1] = { "nullable", tostring(o.nullable) } end
  if o.comment ~= nil then p[#p + 1] = { "comment", o.comment == false and "false" or str(o.comment) } end
  if o.existing_comment ~= nil then p[#p + 1] = { "existing_comment", str(o.existing_comment) } end
  if o.nullable == nil and o.existing_nullable ~= nil then
    p[#p + 1] = { "existing_nullable", tostring(o.existing_nullable) }
  end
  if o.autoincrement ~= nil then p[#p + 1] = { "autoincrement", render.value(o.autoincrement) } end
  if o.server_default == nil and o.existing_server_default ~= nil and o.existing_server_default ~= false then
    p[#p + 1] = { "existing_server_default", server_default(o.existing_server_default) }
  end
  if o.new_column_name then p[#p + 1] = { "new_column_name", str(o.new_column_name) } end
  if o.postgresql_using then p[#p + 1] = { "postgresql_using", str(o.postgresql_using) } end
  return call(o, "alter_column", ctx, o.table_name, { str(o.column_name) }, p)
end

function R.create_index(o, ctx)
  local ix = o.index
  local p = { { "unique", tostring(ix.unique and true or false) } }
  for _, kk in ipairs(sorted_keys(ix.dialect_kw)) do p[#p + 1] = { kk, render.value(ix.dialect_kw[kk]) } end
  if o.if_not_exists then p[#p + 1] = { "if_not_exists", "true" } end
  local o2 = { schema = ix.schema }
  local args = { name(ix.name, ix.name_conv) }
  if not ctx.batch then args[#args + 1] = str(ix.table) end
  args[#args + 1] = list(ix.columns)
  if o2.schema and not ctx.batch then p[#p + 1] = { "schema", str(o2.schema) } end
  args[#args + 1] = options(p)
  return (ctx.batch and "batch_op." or "op.") .. "create_index(" .. table.concat(args, ", ") .. ")"
end

function R.drop_index(o, ctx)
  local p = {}
  if o.table_name and not ctx.batch then p[#p + 1] = { "table_name", str(o.table_name) } end
  if o.if_exists then p[#p + 1] = { "if_exists", "true" } end
  for _, kk in ipairs(sorted_keys(o.kw)) do p[#p + 1] = { kk, render.value(o.kw[kk]) } end
  local conv = o.index_name_conv or (o.index and o.index.name_conv)
  return call(o, "drop_index", { batch = ctx.batch }, false, { name(o.index_name, conv) }, p)
end

function R.add_constraint(o, ctx)
  local c = o.constraint
  local k = c.kind
  local cname = name(c.name, c.name_conv)
  local tname = str(o.table_name)
  local function with_batch(fname, lead_after_name, rest, p)
    local args = { cname }
    if not ctx.batch then args[#args + 1] = tname end
    for _, a in ipairs(lead_after_name) do args[#args + 1] = a end
    for _, a in ipairs(rest) do args[#args + 1] = a end
    if o.schema and not ctx.batch then
      p[#p + 1] = { k == "foreign_key" and "source_schema" or "schema", str(o.schema) }
    end
    local op_ = options(p)
    if op_ then args[#args + 1] = op_ end
    return (ctx.batch and "batch_op." or "op.") .. fname .. "(" .. table.concat(args, ", ") .. ")"
  end
  local function defer(p)
    if c.deferrable ~= nil then p[#p + 1] = { "deferrable", tostring(c.deferrable) } end
    if c.initially ~= nil then p[#p + 1] = { "initially", str(c.initially) } end
    for _, kk in ipairs(sorted_keys(c.dialect_kw)) do p[#p + 1] = { kk, render.value(c.dialect_kw[kk]) } end
    return p
  end
  if k == "unique" then
    return with_batch("create_unique_constraint", {}, { list(c.columns) }, defer({}))
  elseif k == "primary_key" then
    return with_batch("create_primary_key", {}, { list(c.columns) }, {})
  elseif k == "check" then
    return with_batch("create_check_constraint", {}, { str(c.sqltext) }, defer({}))
  elseif k == "foreign_key" then
    local p = {}
    for _, kk in ipairs { "onupdate", "ondelete", "match" } do
      if c[kk] ~= nil then p[#p + 1] = { kk, str(c[kk]) } end
    end
    if c.referred_schema then p[#p + 1] = { "referent_schema", str(c.referred_schema) } end
    return with_batch("create_foreign_key", { str(c.referred_table) },
                      { list(c.columns), list(c.referred_columns) }, defer(p))
  elseif k == "exclude" then
    local args = {}
    for i, e in ipairs(c.elements) do args[i] = "{ " .. render.value(e[1]) .. ", " .. str(e[2]) .. " }" end
    local p = { { "using", str(c.using or "gist") } }
    if c.where ~= nil then p[#p + 1] = { "where", render.value(c.where) } end
    return with_batch("create_exclude_constraint", {}, args, defer(p))
  end
  error("render: cannot render a constraint of kind " .. tostring(k), 0)
end

function R.drop_constraint(o, ctx)
  local p = {}
  if o.type_ then p[#p + 1] = { "type_", str(o.type_) } end
  if o.if_exists then p[#p + 1] = { "if_exists", "true" } end
  -- an unnamed constraint (SQLite keeps them so) is dropped by what it constrains: batch mode
  -- finds it from the constraint given here
  if o.constraint_name == nil and o.constraint then
    p[#p + 1] = { "constraint", render.constraint(o.constraint) }
  end
  local conv = o.constraint_name_conv or (o.constraint and o.constraint.name_conv)
  return call(o, "drop_constraint", ctx, false, ctx.batch and { name(o.constraint_name, conv) }
              or { name(o.constraint_name, conv), str(o.table_name) }, p)
end

function R.create_table_comment(o, ctx)
  local p = {}
  if o.existing_comment ~= nil then p[#p + 1] = { "existing_comment", str(o.existing_comment) } end
  return call(o, "create_table_comment", ctx, o.table_name, { str(o.comment) }, p)
end

function R.drop_table_comment(o, ctx)
  local p = {}
  if o.existing_comment ~= nil then p[#p + 1] = { "existing_comment", str(o.existing_comment) } end
  return call(o, "drop_table_comment", ctx, o.table_name, {}, p)
end

function R.execute(o, ctx)
  local s = o.sqltext
  local text = type(s) == "string" and str(s) or render.value(s)
  local args = { text }
  if o.params and next(o.params) then args[#args + 1] = render.value(o.params) end
  return (ctx.batch and "batch_op." or "op.") .. "execute(" .. table.concat(args, ", ") .. ")"
end

function R.bulk_insert(o)
  local t = o.table
  local cols = {}
  for _, c in ipairs(t.columns) do
    cols[#cols + 1] = "sa.column(" .. str(c.name) .. ", " .. render.type(c.type) .. ")"
  end
  local rows = {}
  for _, r in ipairs(o.rows) do
    local p = {}
    for _, c in ipairs(t.columns) do
      if r[c.name] ~= nil then p[#p + 1] = { c.name, render.value(r[c.name]) } end
    end
    rows[#rows + 1] = options(p) or "{}"
  end
  local tbl = "sa.table(" .. str(t.name) .. (#cols > 0 and (", " .. table.concat(cols, ", ")) or "")
    .. (t.schema and (", { schema = " .. str(t.schema) .. " }") or "") .. ")"
  local text = "op.bulk_insert(" .. tbl .. ", { " .. table.concat(rows, ", ") .. " }"
  if o.multiinsert == false then text = text .. ", { multiinsert = false }" end
  return text .. ")"
end

function R.batch(o, ctx)
  local p = {}
  if o.schema then p[#p + 1] = { "schema", str(o.schema) } end
  if o.recreate and o.recreate ~= "auto" then p[#p + 1] = { "recreate", str(o.recreate) } end
  local ind = ctx.indent or ""
  local lines = {}
  for _, sub in ipairs(o.ops) do
    lines[#lines + 1] = ind .. "  " .. render.operation(sub, { batch = true, indent = ind .. "  " })
  end
  local o2 = options(p)
  return "op.batch_alter_table(" .. str(o.table_name) .. (o2 and (", " .. o2) or "")
    .. ", function(batch_op)\n" .. table.concat(lines, "\n") .. "\n" .. ind .. "end)"
end

-- Autogenerate's group of operations on one table: one line each (render_as_batch is
-- autogenerate's business: it renders the group as a batch_alter_table block instead).
function R.modify_table(o, ctx)
  local lines = {}
  for _, sub in ipairs(o.ops) do lines[#lines + 1] = render.operation(sub, ctx) end
  return table.concat(lines, "\n" .. (ctx.indent or ""))
end

-- A registered operation (op.register_operation): op.<name>(arguments...).
function R.custom(o)
  local parts = {}
  for i = 1, o.args.n do parts[i] = render.value(o.args[i]) end
  return "op." .. o.name .. "(" .. table.concat(parts, ", ") .. ")"
end

function render.operation(o, opts)
  local f = R[o.kind]
  if not f then error("render: cannot render operation " .. tostring(o.kind), 0) end
  return f(o, opts or {})
end

function render.operations(ops_, opts)
  local r = {}
  for i, o in ipairs(ops_) do r[i] = render.operation(o, opts) end
  return table.concat(r, "\n")
end

function render.imports(text)
  local lines = {}
  for _, tm in ipairs(dialects.types_modules()) do
    if text:find(tm.name .. ".", 1, true) then lines[#lines + 1] = import_line(tm) end
  end
  return lines
end

return render
