--[[ luamig.op — Alembic's `op`, in Lua.

Contract: each op.<name>(...) builds an operation object (plain data: { kind = "...", fields })
with luamig.op.new(kind, fields) and runs it with op.invoke(operation), which compiles it with
the current migration context's dialect and sends every statement through ctx:execute.  The same
object can be compiled for any dialect (operation:to_sql(dialect [, as_sql])), rendered as Lua
source (operation:to_lua(), see luamig.render) and reversed (operation:reverse()), which is what
autogenerate needs.

Arguments follow DESIGN.md's translation rule: Python's positional arguments stay positional,
keyword arguments go into one trailing options table, and a parameter Python passes by keyword
may also come by its Alembic name in that table (op.drop_constraint{ constraint_name = "pk",
table_name = "t", type_ = "primary" }).  "Remove it" for server_default / comment is `false`.

Operation kinds and their fields (besides `kind`):
  create_table        table_name, schema, items (columns and constraints as given), table (the
                      built schema model), if_not_exists
  drop_table          table_name, schema, if_exists, table (model, when known: reverse of create)
  rename_table        table_name, new_table_name, schema
  add_column          table_name, column, schema, if_not_exists
  drop_column         table_name, column_name, schema, if_exists, column (model, when known)
  alter_column        table_name, column_name, schema, nullable, server_default, comment,
                      new_column_name, type_, existing_type, existing_server_default,
                      existing_nullable, existing_comment, postgresql_using, autoincrement,
                      existing_autoincrement (nil = not changing; false = remove for defaults)
  create_index        index (model: name, table, schema, columns, unique, dialect_kw),
                      if_not_exists
  drop_index          index_name, table_name, schema, if_exists, kw, index (model, when known)
  add_constraint      constraint (model), table_name, schema
  drop_constraint     constraint_name, table_name, type_, schema, if_exists, constraint (model)
  create_table_comment  table_name, comment, existing_comment, schema
  drop_table_comment  table_name, existing_comment, schema
  execute             sqltext (string or sa.text), params, execution_options
  bulk_insert         table, rows, multiinsert
  batch               table_name, schema, recreate, copy_from, ..., ops (operations above)
  modify_table        table_name, schema, ops: what autogenerate found for one table (Alembic's
                      ModifyTableOps); runs, compiles and reverses as its operations in order

The migration context: op runs operations in the context the runner (or a test) provides with
op.set_context_provider(fn): fn() returns the context of the running migration, or nil when
none runs.  The context's contract: ctx.dialect, ctx.as_sql, ctx.opts, ctx.connection,
ctx:execute(sql, params), ctx:query(sql, params), ctx:autocommit_block(fn).  op never asks for
the runner itself: luamig.migration sets the provider when it loads.

Errors: misuse raises at the caller's line; SQL failures raise from ctx:execute.
]]

local sa = require "luamig.sa"
local dialects = require "luamig.sqldialect"
local lazy = require "luamig.lazy"
local render = lazy "luamig.render"
local batch_mode = lazy "luamig.batch"
local suggest = require "luamig.suggest"
local txt = require "luamig.text"

local op = {}

--------------------------------------------------------------------------------------------
-- Operation objects
--------------------------------------------------------------------------------------------

local Operation = {}
Operation.__index = Operation
op.Operation = Operation

-- Makes an operation object of `kind` from `fields` (taken over, not copied).
function op.new(kind, fields)
  fields.kind = kind
  return setmetatable(fields, Operation)
end

function op.is_operation(v) return getmetatable(v) == Operation end

-- What luamig.batch needs of this module, lent to it so that batch does not require op.
local batch_host = {
  create_table_from = function(tbl) return op.ops.create_table_from(tbl) end,
  execute_statements = function(ctx, statements) return op._execute_statements(ctx, statements) end,
}

-- Statements for `dialect` (a dialect object or a name); `as_sql` selects offline rendering.
function Operation:to_sql(dialect, as_sql)
  if type(dialect) == "string" then dialect = dialects.get(dialect) end
  if self.kind == "modify_table" then
    local out = {}
    for _, sub in ipairs(self.ops) do
      for _, st in ipairs(sub:to_sql(dialect, as_sql)) do out[#out + 1] = st end
    end
    return out
  end
  if self.kind == "batch" then
    return batch_mode.statements(self, dialect, nil, as_sql, batch_host)
  end
  return dialect:compile(self, as_sql)
end

function Operation:to_lua(opts)
  return render.operation(self, opts)
end

function Operation:reverse()
  local f = op.reversers[self.kind]
  if not f then error("operation " .. self.kind .. " is not reversible", 2) end
  return f(self)
end

--------------------------------------------------------------------------------------------
-- Running operations through the migration context
--------------------------------------------------------------------------------------------

local context_provider = nil

-- Sets where op finds the migration context (see the header); fn may be nil.
function op.set_context_provider(fn)
  context_provider = fn
end

-- The provider set now (luamig.lint puts its recording context in place for a while and
-- restores the runner's afterwards).
function op.context_provider()
  return context_provider
end

local function context()
  local ctx = context_provider and context_provider()
  if not ctx then
    error("op functions may only be called inside upgrade() or downgrade() while luamig " ..
      "runs a migration", 2)
  end
  return ctx
end

-- Offline, Alembic writes each statement with tabs as four spaces and surrounding whitespace
-- stripped.  The migration context (luamig.migration) appends the terminator.
local function offline_text(sql)
  return txt.strip((sql:gsub("\t", "    ")))
end
op._offline_text = offline_text

-- Sends compiled statements to the context.
function op._execute_statements(ctx, statements)
  for i = 1, #statements do
    local st = statements[i]
    local sql, params = st, nil
    if type(st) == "table" then sql, params = st.sql, st.params end
    if ctx.as_sql then sql = offline_text(sql) end
    ctx:execute(sql, params)
  end
end

-- Runs `operation` in the current migration context; returns what Alembic's op returns
-- (the table model for create_table, nil otherwise).
function op.invoke(operation)
  if getmetatable(operation) ~= Operation then error("op.invoke: expected an operation object", 2) end
  local ctx = context()
  if operation.kind == "modify_table" then
    for _, sub in ipairs(operation.ops) do op.invoke(sub) end
    return nil
  end
  -- A recording context (luamig.lint) keeps the operation as data and runs nothing.
  if ctx.record_operation then return ctx.record_operation(operation) end
  if operation.kind == "batch" then
    batch_mode.run(operation, ctx, batch_host)
    return nil
  end
  op._execute_statements(ctx, ctx.dialect:compile(operation, ctx.as_sql))
  if operation.kind == "create_table" then return operation.table end
  return nil
end

--------------------------------------------------------------------------------------------
-- Argument handling
--------------------------------------------------------------------------------------------

local function pack(...) return { n = select("#", ...), ... } end

-- Binds positional arguments to `names`, taking missing ones from the options table.
-- `required`: how many leading names must be present, or a set of the names that must be
-- (a constraint name may be nil: Python's None).
-- Returns the bound values (by name) and the remaining options.
-- The value bound to parameter i (`name`) of op.<fname>: v, or an error at the line that
-- called the op when it is missing and `required` (see bind) says it must be there.
local function given(fname, required, i, name, v)
  local needed
  if type(required) == "table" then needed = required[name] else needed = i <= required end
  if v == nil and needed then
    -- levels: given, bind, the op's constructor, its caller
    error("op." .. fname .. ": missing argument '" .. name .. "'", 4)
  end
  return v
end

-- The options of a call that gives none: read, never written.
local NO_OPTIONS = setmetatable({}, { __newindex = function() error("op: NO_OPTIONS is read-only", 2) end })

local function bind(fname, names, required, ...)
  local n = select("#", ...)
  if n <= #names and not (n > 0 and sa._is_options((select(n, ...)))) then
    -- positionals only (the usual call): each to its name, no options table to merge
    local r = {}
    for i = 1, #names do
      local name, v = names[i], (select(i, ...))
      if v == nil then v = given(fname, required, i, name, v) end
      r[name] = v
    end
    return r, NO_OPTIONS
  end
  local args, opts = sa._split_opts(pack(...))
  if args.n > #names then error("op." .. fname .. ": too many positional arguments", 3) end
  local r = {}
  local rest = {}
  for k, v in pairs(opts) do rest[k] = v end
  for i, name in ipairs(names) do
    local v = args[i]
    if v == nil then v = rest[name] end
    rest[name] = nil
    r[name] = given(fname, required, i, name, v)
  end
  return r, rest
end
op._bind = bind

local function check_keys(fname, opts, allowed)
  for k in next, opts do
    if not allowed[k] and not (type(k) == "string" and k:match("^%l+_")) then
      error("op." .. fname .. ": unknown option '" .. tostring(k) .. "'", 3)
    end
  end
end

-- The set of an op's known option names (each made once, beside its op, not at every call).
local function keyset(list)
  local s = {}
  for _, k in ipairs(list) do s[k] = true end
  return s
end

local function dialect_kw(opts, allowed)
  local kw
  for k, v in next, opts do
    if not allowed[k] then kw = kw or {}; kw[k] = v end
  end
  return kw
end

-- The naming convention of the context's target_metadata, as Alembic's schema_obj uses it.
local function context_metadata()
  local ctx = context_provider and context_provider()
  local tm = ctx and ctx.opts and ctx.opts.target_metadata
  if type(tm) == "table" and tm.kind == "metadata" then
    return sa.MetaData { naming_convention = tm.naming_convention }
  end
  return nil
end
op._context_metadata = context_metadata

-- Names constraint or index c of table `table_name` by the naming convention, as Alembic's
-- schemaobj does: it builds each op's constraint on a table of a MetaData carrying
-- target_metadata's convention (SQLAlchemy's default, ix_%(column_0_label)s, without one), so
-- an unnamed one is named, and a name is expanded when the template holds %(constraint_name)s.
local function by_convention(c, table_name)
  local ctx = context_provider and context_provider()
  local tm = ctx and ctx.opts and ctx.opts.target_metadata
  local nc = type(tm) == "table" and tm.kind == "metadata" and tm.naming_convention or nil
  sa._apply_convention(c, { name = table_name }, nc)
  return c
end

-- kind of the constraint drop_constraint's type_ names
local kind_of_type = { foreignkey = "foreign_key", primary = "primary_key", unique = "unique",
                       check = "check" }

local function column_list(fname, cols)
  if type(cols) == "string" then return { cols } end
  if type(cols) ~= "table" then error("op." .. fname .. ": expected a list of columns", 3) end
  local r = {}
  for i = 1, #cols do
    local c = cols[i]
    if type(c) == "table" and c.kind == "column" then c = c.name end
    r[i] = c
  end
  return r
end

--------------------------------------------------------------------------------------------
-- Operation constructors (op.ops.<name> builds, op.<name> builds and runs)
--------------------------------------------------------------------------------------------

local ops = {}
op.ops = ops

local create_table_keys = keyset { "schema", "if_not_exists", "comment", "info", "prefixes" }

function ops.create_table(table_name, ...)
  if type(table_name) ~= "string" then
    error("op.create_table: expected a table name", 2)
  end
  -- the columns and constraints as given, a trailing options table taken off
  local items, n = { ... }, select("#", ...)
  local opts, topts = NO_OPTIONS, NO_OPTIONS
  if n > 0 and sa._is_options(items[n]) then
    opts = items[n]
    items[n] = nil
    topts = {}
    for k, v in next, opts do if k ~= "if_not_exists" then topts[k] = v end end
  end
  local ok, tbl = pcall(sa._build_table, table_name, context_metadata(), items, topts)
  if not ok then
    -- build_table raises at the level of sa.Table's caller, which is this function here: the
    -- position it names is luamig's own, not the user's (who is named by the runner)
    local msg = tostring(tbl):gsub("^[^:\n]*luamig/[%w_/]+%.lua:%d+: ", "")
    error("op.create_table: " .. msg, 2)
  end
  return op.new("create_table", { table_name = table_name, schema = opts.schema, items = items,
                                  table = tbl, if_not_exists = opts.if_not_exists })
end

-- create_table from an existing table model (autogenerate, batch).
function ops.create_table_from(tbl, if_not_exists)
  return op.new("create_table", { table_name = tbl.name, schema = tbl.schema, table = tbl,
                                  if_not_exists = if_not_exists })
end

-- Alembic's ModifyTableOps: a group of operations on one table (autogenerate's unit).
function ops.modify_table_ops(table_name, list, opts)
  return op.new("modify_table", { table_name = table_name, schema = opts and opts.schema,
                                  ops = list or {} })
end

local drop_table_keys = keyset { "schema", "if_exists", "table" }
local drop_table_args = { "table_name" }
function ops.drop_table(...)
  local a, opts = bind("drop_table", drop_table_args, 1, ...)
  check_keys("drop_table", opts, drop_table_keys)
  return op.new("drop_table", { table_name = a.table_name, schema = opts.schema,
                                if_exists = opts.if_exists, table = opts.table })
end

local rename_table_keys = keyset { "schema" }
local rename_table_args = { "old_table_name", "new_table_name" }
function ops.rename_table(...)
  local a, opts = bind("rename_table", rename_table_args, 2, ...)
  check_keys("rename_table", opts, rename_table_keys)
  return op.new("rename_table", { table_name = a.old_table_name, new_table_name = a.new_table_name,
                                  schema = opts.schema })
end

local add_column_keys = keyset { "schema", "if_not_exists", "insert_before", "insert_after" }
local add_column_args = { "table_name", "column" }
function ops.add_column(...)
  local a, opts = bind("add_column", add_column_args, 2, ...)
  check_keys("add_column", opts, add_column_keys)
  if type(a.column) ~= "table" or a.column.kind ~= "column" then
    error("op.add_column: expected a sa.Column(...)", 2)
  end
  return op.new("add_column", { table_name = a.table_name, column = a.column, schema = opts.schema,
                                if_not_exists = opts.if_not_exists,
                                insert_before = opts.insert_before, insert_after = opts.insert_after })
end

local drop_column_keys = keyset { "schema", "if_exists", "existing_type", "column" }
local drop_column_args = { "table_name", "column_name" }
function ops.drop_column(...)
  local a, opts = bind("drop_column", drop_column_args, 2, ...)
  return op.new("drop_column", { table_name = a.table_name, column_name = a.column_name,
                                 schema = opts.schema, if_exists = opts.if_exists,
                                 existing_type = opts.existing_type, column = opts.column,
                                 kw = dialect_kw(opts, drop_column_keys) })
end

local alter_keys = keyset { "nullable", "comment", "server_default", "new_column_name", "type_",
  "existing_type", "existing_server_default", "existing_nullable", "existing_comment", "schema",
  "postgresql_using", "autoincrement", "existing_autoincrement", "insert_before", "insert_after" }

local alter_column_args = { "table_name", "column_name" }
function ops.alter_column(...)
  local a, opts = bind("alter_column", alter_column_args, 2, ...)
  check_keys("alter_column", opts, alter_keys)
  local f = { table_name = a.table_name, column_name = a.column_name }
  for k in pairs(alter_keys) do f[k] = opts[k] end
  if f.type_ then f.type_ = sa._to_type(f.type_, "op.alter_column") end
  if f.existing_type then f.existing_type = sa._to_type(f.existing_type, "op.alter_column") end
  if type(f.server_default) == "number" then f.server_default = tostring(f.server_default) end
  f.kw = dialect_kw(opts, alter_keys)
  return op.new("alter_column", f)
end

local index_keys = keyset { "schema", "unique", "if_not_exists", "quote", "info" }

local create_index_args = { "index_name", "table_name", "columns" }
-- the arguments an op cannot do without, when they are not simply its first ones
local table_and_columns = { table_name = true, columns = true }
function ops.create_index(...)
  local a, opts = bind("create_index", create_index_args, table_and_columns, ...)
  local name, conv = sa._name(a.index_name)
  local ix = { kind = "index", name = name, name_conv = conv, table = a.table_name,
               schema = opts.schema, unique = opts.unique and true or false,
               columns = column_list("create_index", a.columns),
               dialect_kw = dialect_kw(opts, index_keys) }
  by_convention(ix, a.table_name)
  return op.new("create_index", { index = ix, if_not_exists = opts.if_not_exists })
end

local drop_index_keys = keyset { "schema", "if_exists", "index" }
local drop_index_args = { "index_name", "table_name" }
function ops.drop_index(...)
  local a, opts = bind("drop_index", drop_index_args, 1, ...)
  local name, conv = sa._name(a.index_name)
  if name ~= nil then
    local ix = by_convention({ kind = "index", name = name, name_conv = conv, columns = {} },
                             a.table_name)
    name, conv = ix.name, ix.name_conv
  end
  return op.new("drop_index", { index_name = name, index_name_conv = conv,
                                table_name = a.table_name, schema = opts.schema,
                                if_exists = opts.if_exists, kw = dialect_kw(opts, drop_index_keys),
                                index = opts.index })
end

local function add_constraint(c, table_name, schema)
  by_convention(c, table_name)
  return op.new("add_constraint", { constraint = c, table_name = table_name, schema = schema })
end

local function named(c, name)
  c.name, c.name_conv = sa._name(name)
  return c
end

local constraint_keys = keyset { "schema", "deferrable", "initially" }
local create_unique_constraint_args = { "constraint_name", "table_name", "columns" }
function ops.create_unique_constraint(...)
  local a, opts = bind("create_unique_constraint", create_unique_constraint_args, table_and_columns, ...)
  local c = named({ kind = "unique", columns = column_list("create_unique_constraint", a.columns),
                    deferrable = opts.deferrable, initially = opts.initially,
                    dialect_kw = dialect_kw(opts, constraint_keys) },
                  a.constraint_name)
  return add_constraint(c, a.table_name, opts.schema)
end

local create_primary_key_args = { "constraint_name", "table_name", "columns" }
function ops.create_primary_key(...)
  local a, opts = bind("create_primary_key", create_primary_key_args, table_and_columns, ...)
  local c = named({ kind = "primary_key", columns = column_list("create_primary_key", a.columns) },
                  a.constraint_name)
  return add_constraint(c, a.table_name, opts.schema)
end

local create_check_constraint_args = { "constraint_name", "table_name", "condition" }
local table_and_condition = { table_name = true, condition = true }
function ops.create_check_constraint(...)
  local a, opts = bind("create_check_constraint", create_check_constraint_args, table_and_condition, ...)
  local cond = a.condition
  if type(cond) == "table" and (cond.kind == "text" or cond.kind == "literal_column") then cond = cond.text end
  if type(cond) ~= "string" then error("op.create_check_constraint: condition must be SQL text", 2) end
  local c = named({ kind = "check", sqltext = cond, deferrable = opts.deferrable,
                    initially = opts.initially,
                    dialect_kw = dialect_kw(opts, constraint_keys) },
                  a.constraint_name)
  return add_constraint(c, a.table_name, opts.schema)
end

local fk_keys = keyset { "onupdate", "ondelete", "deferrable", "initially", "match", "source_schema",
                         "referent_schema", "use_alter" }

local create_foreign_key_args = { "constraint_name", "source_table", "referent_table", "local_cols",
                                  "remote_cols" }
local create_foreign_key_required = { source_table = true, referent_table = true, local_cols = true,
                                      remote_cols = true }
function ops.create_foreign_key(...)
  local a, opts = bind("create_foreign_key", create_foreign_key_args, create_foreign_key_required, ...)
  local c = named({ kind = "foreign_key", columns = column_list("create_foreign_key", a.local_cols),
                    referred_table = a.referent_table, referred_schema = opts.referent_schema,
                    referred_columns = column_list("create_foreign_key", a.remote_cols),
                    onupdate = opts.onupdate, ondelete = opts.ondelete,
                    deferrable = opts.deferrable, initially = opts.initially, match = opts.match,
                    dialect_kw = dialect_kw(opts, fk_keys) }, a.constraint_name)
  return add_constraint(c, a.source_table, opts.source_schema)
end

-- op.create_exclude_constraint(name, table, {"col", "="}, {sa.text("period"), "&&"}, { using = "gist", where = ... })
function ops.create_exclude_constraint(name, table_name, ...)
  local args, opts = sa._split_opts(pack(...))
  local elements = {}
  for i = 1, args.n do
    local e = args[i]
    if type(e) ~= "table" or #e ~= 2 then
      error("op.create_exclude_constraint: each element is { column_or_expression, operator }", 2)
    end
    elements[i] = { e[1], e[2] }
  end
  local c = named({ kind = "exclude", elements = elements, using = opts.using or "gist",
                    where = opts.where, deferrable = opts.deferrable, initially = opts.initially,
                    ops = opts.ops }, name)
  return add_constraint(c, table_name, opts.schema)
end

local constraint_types = { foreignkey = true, primary = true, unique = true, check = true }

local drop_constraint_keys = keyset { "schema", "if_exists", "constraint" }
local drop_constraint_args = { "constraint_name", "table_name", "type_" }
local table_only = { table_name = true }
function ops.drop_constraint(...)
  -- the name may be nil when the constraint itself is given (constraint = ...): batch mode
  -- then drops the unnamed constraint that matches it
  local a, opts = bind("drop_constraint", drop_constraint_args, table_only, ...)
  if a.constraint_name == nil and opts.constraint == nil then
    error("op.drop_constraint: missing argument 'constraint_name'", 2)
  end
  check_keys("drop_constraint", opts, drop_constraint_keys)
  if a.type_ ~= nil and not constraint_types[a.type_] then
    error("op.drop_constraint: type_ must be one of 'foreignkey', 'primary', 'unique', 'check'", 2)
  end
  local name, conv = sa._name(a.constraint_name)
  local kind = kind_of_type[a.type_]
  if name ~= nil and kind then
    local c = by_convention({ kind = kind, name = name, name_conv = conv, columns = {} },
                            a.table_name)
    name, conv = c.name, c.name_conv
  end
  return op.new("drop_constraint", { constraint_name = name, constraint_name_conv = conv,
                                     table_name = a.table_name, type_ = a.type_,
                                     schema = opts.schema, if_exists = opts.if_exists,
                                     constraint = opts.constraint })
end

local create_table_comment_keys = keyset { "existing_comment", "schema" }
local create_table_comment_args = { "table_name", "comment" }
function ops.create_table_comment(...)
  local a, opts = bind("create_table_comment", create_table_comment_args, 2, ...)
  check_keys("create_table_comment", opts, create_table_comment_keys)
  return op.new("create_table_comment", { table_name = a.table_name, comment = a.comment,
                                          existing_comment = opts.existing_comment,
                                          schema = opts.schema })
end

local drop_table_comment_keys = keyset { "existing_comment", "schema" }
local drop_table_comment_args = { "table_name" }
function ops.drop_table_comment(...)
  local a, opts = bind("drop_table_comment", drop_table_comment_args, 1, ...)
  check_keys("drop_table_comment", opts, drop_table_comment_keys)
  return op.new("drop_table_comment", { table_name = a.table_name,
                                        existing_comment = opts.existing_comment,
                                        schema = opts.schema })
end

-- op.execute(sql [, params [, { execution_options = }]]): the second argument is always the
-- parameter table (named :placeholders, bound online, rendered as literals offline).
function ops.execute(sqltext, params, opts)
  if type(sqltext) ~= "string" and not (type(sqltext) == "table"
      and (sqltext.kind == "text" or sqltext.kind == "literal_column" or sqltext.to_sql)) then
    error("op.execute: expected SQL text", 2)
  end
  if params ~= nil and type(params) ~= "table" then
    error("op.execute: parameters must be a table", 2)
  end
  return op.new("execute", { sqltext = sqltext, params = params,
                             execution_options = opts and opts.execution_options })
end

local bulk_insert_keys = keyset { "multiinsert" }
local bulk_insert_args = { "table", "rows" }
function ops.bulk_insert(...)
  local a, opts = bind("bulk_insert", bulk_insert_args, 1, ...)
  check_keys("bulk_insert", opts, bulk_insert_keys)
  local tbl, rows = a.table, a.rows or {}
  if type(tbl) ~= "table" or tbl.kind ~= "table" then
    error("op.bulk_insert: expected a table from op.create_table or sa.table", 2)
  end
  if type(rows) ~= "table" then error("List expected", 2) end
  for _, r in ipairs(rows) do
    if type(r) ~= "table" then error("List of dictionaries expected", 2) end
  end
  local multi = opts.multiinsert
  if multi == nil then multi = true end
  return op.new("bulk_insert", { table = tbl, rows = rows, multiinsert = multi })
end

-- Public op.<name>: build, then run through the context.
for name, ctor in pairs(ops) do
  if name ~= "create_table_from" and name ~= "modify_table_ops" then
    op[name] = function(...)
      local operation = ctor(...)
      return op.invoke(operation)
    end
  end
end

--------------------------------------------------------------------------------------------
-- Custom operations: Alembic's Operations.register_operation + implementation_for
--------------------------------------------------------------------------------------------

local custom_specs = {}

-- op.register_operation(name, spec) adds op.<name>(...) (and op.ops.<name>) for the rest of the
-- run; env.lua or a module a revision requires calls it.  spec:
--   sql      function(dialect, ...) -> statement or { statements }, given the op's arguments;
--            or a table of such functions by dialect name ("postgresql", "sqlite", "default")
--   reverse  optional: the name of the operation that undoes it, called with the same
--            arguments, or function(...) -> name, arguments...  (autogenerate and
--            operation:reverse() use it)
--   lock     optional: the lock it takes ("ACCESS EXCLUSIVE", "none", ...), for luamig lint;
--            without it lint reports the operation as unknown-sql
--   table    optional: function(...) -> the table it works on (lint's reports)
-- A built-in operation cannot be replaced; a custom one can (env.lua may run more than once).
function op.register_operation(name, spec)
  if type(name) ~= "string" or not name:match("^[%a_][%w_]*$") then
    error("op.register_operation: expected an operation name", 2)
  end
  if rawget(op, name) ~= nil and not custom_specs[name] then
    error("op.register_operation: op." .. name .. " already exists", 2)
  end
  if type(spec) ~= "table" or (type(spec.sql) ~= "function" and type(spec.sql) ~= "table") then
    error("op.register_operation: " .. name .. " needs sql = function(dialect, ...) (or a "
      .. "table of them by dialect name)", 2)
  end
  if spec.reverse ~= nil and type(spec.reverse) ~= "string" and type(spec.reverse) ~= "function" then
    error("op.register_operation: reverse must be an operation name or a function", 2)
  end
  custom_specs[name] = spec
  ops[name] = function(...)
    local args = pack(...)
    local tname = spec.table and spec.table(...)
    return op.new("custom", { name = name, args = args, spec = spec, table_name = tname })
  end
  rawset(op, name, function(...) return op.invoke(ops[name](...)) end)
end

-- Alembic's name for the same thing, as a decorator would be used: op.implementation_for(name,
-- sql) sets (or replaces) the SQL of a registered operation.
function op.implementation_for(name, sql)
  local spec = custom_specs[name]
  if not spec then error("op.implementation_for: no registered operation " .. tostring(name), 2) end
  spec.sql = sql
end

--------------------------------------------------------------------------------------------
-- Helpers that are not operations
--------------------------------------------------------------------------------------------

-- A value rendered inline as a SQL literal (not bound), so the same script works offline.
function op.inline_literal(value, type_)
  return { kind = "inline_literal", value = value, type = type_ }
end

-- A name already converted by the naming convention.
function op.f(name) return sa.conv(name) end

function op.get_context() return context() end

function op.get_bind() return context().connection end

--------------------------------------------------------------------------------------------
-- Batch mode
--------------------------------------------------------------------------------------------

local batch_keys = keyset { "schema", "recreate", "partial_reordering", "copy_from", "table_args",
                            "table_kwargs", "reflect_args", "reflect_kwargs", "naming_convention" }

local function is_plain_opts(v) return type(v) == "table" and sa._is_options(v) end

-- The batch_op functions: the same operations without the table (and schema) arguments.
local function batch_operations(batch)
  local b = {}
  local function add(operation)
    batch.ops[#batch.ops + 1] = operation
    -- a recording context (luamig.lint) notes where each operation of the batch was written
    local ctx = context_provider and context_provider()
    if ctx and ctx.note_operation then ctx.note_operation(operation) end
  end
  local t, s = batch.table_name, batch.schema
  function b.add_column(column, opts)
    opts = opts or {}
    local o = { schema = s }
    for k, v in pairs(opts) do o[k] = v end
    add(ops.add_column(t, column, o))
  end
  function b.drop_column(column_name, opts)
    local o = { schema = s }
    for k, v in pairs(opts or {}) do o[k] = v end
    if is_plain_opts(column_name) then
      for k, v in pairs(column_name) do o[k] = v end
      column_name = o.column_name; o.column_name = nil
    end
    add(ops.drop_column(t, column_name, o))
  end
  function b.alter_column(column_name, opts)
    local o = { schema = s }
    if type(column_name) == "table" then opts, column_name = column_name, column_name.column_name end
    for k, v in pairs(opts or {}) do if k ~= "column_name" then o[k] = v end end
    add(ops.alter_column(t, column_name, o))
  end
  function b.create_index(index_name, columns, opts)
    local o = { schema = s }
    if type(index_name) == "table" and sa._is_options(index_name) then
      opts = index_name; index_name, columns = opts.index_name, opts.columns
    end
    for k, v in pairs(opts or {}) do if k ~= "index_name" and k ~= "columns" then o[k] = v end end
    add(ops.create_index(index_name, t, columns, o))
  end
  function b.drop_index(index_name, opts)
    local o = { schema = s }
    if type(index_name) == "table" and sa._is_options(index_name) then
      opts = index_name; index_name = opts.index_name
    end
    for k, v in pairs(opts or {}) do if k ~= "index_name" then o[k] = v end end
    add(ops.drop_index(index_name, t, o))
  end
  local function constraint_adder(name, ctor, positional)
    b[name] = function(...)
      local args, opts = sa._split_opts(pack(...))
      local full = {}
      local n = 0
      for i = 1, #positional do
        local v = args[i]
        if v == nil then v = opts[positional[i]] end
        n = n + 1
        full[n] = v
        if i == 1 then n = n + 1; full[n] = t end
      end
      local o = { schema = s }
      for k, v in pairs(opts) do
        local pos = false
        for _, p in ipairs(positional) do if p == k then pos = true end end
        if not pos then o[k] = v end
      end
      if name == "create_foreign_key" then o.source_schema = s; o.schema = nil end
      full[n + 1] = o
      add(ctor(table.unpack(full, 1, n + 1)))
    end
  end
  constraint_adder("create_unique_constraint", ops.create_unique_constraint, { "constraint_name", "columns" })
  constraint_adder("create_primary_key", ops.create_primary_key, { "constraint_name", "columns" })
  constraint_adder("create_check_constraint", ops.create_check_constraint, { "constraint_name", "condition" })
  constraint_adder("create_foreign_key", ops.create_foreign_key,
                   { "constraint_name", "referent_table", "local_cols", "remote_cols" })
  function b.drop_constraint(constraint_name, type_, opts)
    if type(constraint_name) == "table" and sa._is_options(constraint_name) then
      opts = constraint_name
      constraint_name, type_ = opts.constraint_name, opts.type_
    elseif type(type_) == "table" then
      opts = type_; type_ = opts.type_
    end
    local o = { schema = s }
    for k, v in pairs(opts or {}) do
      if k ~= "constraint_name" and k ~= "type_" then o[k] = v end
    end
    add(ops.drop_constraint(constraint_name, t, type_, o))
  end
  function b.create_table_comment(comment, opts)
    local o = { schema = s }
    for k, v in pairs(opts or {}) do o[k] = v end
    add(ops.create_table_comment(t, comment, o))
  end
  function b.drop_table_comment(opts)
    local o = { schema = s }
    for k, v in pairs(opts or {}) do o[k] = v end
    add(ops.drop_table_comment(t, o))
  end
  function b.execute(sqltext, params, opts)
    add(ops.execute(sqltext, params, opts))
  end
  function b.create_table() error("create_table() not allowed in batch mode", 2) end
  function b.drop_table() error("drop_table() not allowed in batch mode", 2) end
  b.f = op.f
  b.inline_literal = op.inline_literal
  b.get_context = op.get_context
  b.get_bind = op.get_bind
  return b
end

-- op.ops.batch_alter_table(table_name, [opts,] fn): collects the operations fn(batch_op) adds
-- into one "batch" operation.
function ops.batch_alter_table(table_name, opts, fn)
  if type(opts) == "function" then opts, fn = nil, opts end
  opts = opts or {}
  if type(table_name) == "table" and sa._is_options(table_name) then
    opts = table_name; table_name = opts.table_name
  end
  if type(table_name) ~= "string" then error("op.batch_alter_table: expected a table name", 2) end
  if type(fn) ~= "function" then
    error("op.batch_alter_table: expected a function(batch_op) as last argument", 2)
  end
  for k in pairs(opts) do
    if not batch_keys[k] and k ~= "table_name" then
      error("op.batch_alter_table: unknown option '" .. tostring(k) .. "'", 2)
    end
  end
  local recreate = opts.recreate or "auto"
  if recreate ~= "auto" and recreate ~= "always" and recreate ~= "never" then
    error("recreate may be one of 'auto', 'always', or 'never'.", 2)
  end
  local batch = op.new("batch", { table_name = table_name, schema = opts.schema, recreate = recreate,
                                  copy_from = opts.copy_from, partial_reordering = opts.partial_reordering,
                                  table_args = opts.table_args, table_kwargs = opts.table_kwargs,
                                  reflect_args = opts.reflect_args, naming_convention = opts.naming_convention,
                                  ops = {} })
  fn(batch_operations(batch))
  return batch
end

function op.batch_alter_table(...)
  return op.invoke(ops.batch_alter_table(...))
end

--------------------------------------------------------------------------------------------
-- reverse(): what autogenerate's downgrade needs
--------------------------------------------------------------------------------------------

local reversers = {}
op.reversers = reversers

function reversers.create_table(o)
  return op.new("drop_table", { table_name = o.table_name, schema = o.schema, table = o.table })
end

function reversers.drop_table(o)
  if not o.table then
    error("operation is not reversible; original table is not present", 0)
  end
  return ops.create_table_from(o.table)
end

function reversers.rename_table(o)
  return op.new("rename_table", { table_name = o.new_table_name, new_table_name = o.table_name,
                                  schema = o.schema })
end

function reversers.add_column(o)
  return op.new("drop_column", { table_name = o.table_name, column_name = o.column.name,
                                 schema = o.schema, column = o.column })
end

function reversers.drop_column(o)
  if not o.column then
    error("operation is not reversible; original column is not present", 0)
  end
  return op.new("add_column", { table_name = o.table_name, column = o.column, schema = o.schema })
end

function reversers.alter_column(o)
  local r = { table_name = o.table_name, schema = o.schema,
              column_name = o.new_column_name or o.column_name,
              new_column_name = o.new_column_name and o.column_name or nil,
              kw = o.kw, autoincrement = o.autoincrement,
              existing_autoincrement = o.existing_autoincrement }
  -- the "existing_*" hints and the changes swap places
  r.existing_type = o.type_ or o.existing_type
  r.type_ = o.type_ and o.existing_type or nil
  r.existing_nullable = o.nullable
  if o.nullable ~= nil then
    r.existing_nullable = o.nullable
    if o.existing_nullable ~= nil then r.nullable = o.existing_nullable else r.nullable = not o.nullable end
  else
    r.existing_nullable = o.existing_nullable
  end
  if o.server_default ~= nil then
    r.existing_server_default = o.server_default or nil
    if o.existing_server_default ~= nil then r.server_default = o.existing_server_default
    else r.server_default = false end
  else
    r.existing_server_default = o.existing_server_default
  end
  if o.comment ~= nil then
    r.existing_comment = o.comment or nil
    if o.existing_comment ~= nil then r.comment = o.existing_comment else r.comment = false end
  else
    r.existing_comment = o.existing_comment
  end
  return op.new("alter_column", r)
end

function reversers.create_index(o)
  return op.new("drop_index", { index_name = o.index.name, table_name = o.index.table,
                                schema = o.index.schema, index = o.index })
end

function reversers.drop_index(o)
  if not o.index then error("operation is not reversible; original index is not present", 0) end
  return op.new("create_index", { index = o.index })
end

local type_for_drop = { unique = "unique", foreign_key = "foreignkey", primary_key = "primary",
                        check = "check" }

function reversers.add_constraint(o)
  return op.new("drop_constraint", { constraint_name = o.constraint.name, table_name = o.table_name,
                                     type_ = type_for_drop[o.constraint.kind], schema = o.schema,
                                     constraint = o.constraint })
end

function reversers.drop_constraint(o)
  if not o.constraint then
    error("operation is not reversible; original constraint is not present", 0)
  end
  return add_constraint(o.constraint, o.table_name, o.schema)
end

function reversers.create_table_comment(o)
  if o.existing_comment == nil then
    return op.new("drop_table_comment", { table_name = o.table_name, existing_comment = o.comment,
                                          schema = o.schema })
  end
  return op.new("create_table_comment", { table_name = o.table_name, comment = o.existing_comment,
                                          existing_comment = o.comment, schema = o.schema })
end

function reversers.drop_table_comment(o)
  if o.existing_comment == nil then
    error("operation is not reversible; existing comment is not present", 0)
  end
  return op.new("create_table_comment", { table_name = o.table_name, comment = o.existing_comment,
                                          schema = o.schema })
end

function reversers.custom(o)
  local r = o.spec.reverse
  if r == nil then error("operation " .. o.name .. " is not reversible", 0) end
  if type(r) == "string" then
    if not custom_specs[r] and not ops[r] then
      error("operation " .. o.name .. ": its reverse " .. r .. " is not an operation", 0)
    end
    return ops[r](table.unpack(o.args, 1, o.args.n))
  end
  local res = table.pack(r(table.unpack(o.args, 1, o.args.n)))
  return ops[res[1]](table.unpack(res, 2, res.n))
end

function reversers.modify_table(o)
  local r = {}
  for i = #o.ops, 1, -1 do r[#r + 1] = o.ops[i]:reverse() end
  return op.new("modify_table", { table_name = o.table_name, schema = o.schema, ops = r })
end

function reversers.batch(o)
  local r = {}
  for i = #o.ops, 1, -1 do r[#r + 1] = o.ops[i]:reverse() end
  local b = {}
  for k, v in pairs(o) do b[k] = v end
  b.ops = r
  b.kind = nil
  return op.new("batch", b)
end

-- A misspelt operation raises at the user's line with the nearest name ("no operation
-- create_tabel; did you mean create_table?") instead of "attempt to call a nil value".
return suggest.strict(op, function(name) return "no operation " .. name end)
