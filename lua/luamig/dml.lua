--[[ luamig.dml — the few SQL expression constructs data migrations use, on sa.table():

  local account = sa.table("account", sa.column("id", sa.Integer), sa.column("name", sa.String))
  op.execute(account:update()
    :where(account.c.name:eq(op.inline_literal("account 1")))
    :values({ name = op.inline_literal("account 2") }))
  op.execute(account:insert():values({ id = 3, name = "c" }))
  op.execute(account:delete():where(sa.and_(account.c.id:gt(10), account.c.name:is_(nil))))

Python's operators become methods, since Lua cannot overload == for this: eq ne lt le gt ge,
like ilike notlike, in_ notin_, is_ isnot, between. sa.and_, sa.or_ and sa.not_ combine them.
Values are bound as parameters (":name_1"), except op.inline_literal() and SQL clauses
(sa.text, sa.func.*, sa.null()), which are rendered inline — so the same statement works in
--sql mode, as Alembic's docs recommend. The SQL text follows SQLAlchemy's:
  UPDATE account SET name=:name WHERE account.name = :name_1

A statement is an object with to_sql(dialect) -> sql, params, which op.execute runs.
]]

local M = {}

local Expr = {}
Expr.__index = Expr

local function expr(node) return setmetatable(node, Expr) end

local ColumnOps = {}

local function binary(op)
  return function(col, value) return expr { kind = "dml_binary", op = op, left = col, right = value } end
end
ColumnOps.eq, ColumnOps.ne = binary("="), binary("!=")
ColumnOps.lt, ColumnOps.le, ColumnOps.gt, ColumnOps.ge = binary("<"), binary("<="), binary(">"), binary(">=")
ColumnOps.like, ColumnOps.notlike = binary("LIKE"), binary("NOT LIKE")
ColumnOps.ilike = binary("ILIKE")

function ColumnOps.is_(col, value)
  return expr { kind = "dml_binary", op = "IS", left = col, right = value, null_ok = true }
end
function ColumnOps.isnot(col, value)
  return expr { kind = "dml_binary", op = "IS NOT", left = col, right = value, null_ok = true }
end
function ColumnOps.in_(col, values)
  if type(values) ~= "table" then error("in_: expected a list of values", 2) end
  return expr { kind = "dml_in", left = col, values = values, negate = false }
end
function ColumnOps.notin_(col, values)
  if type(values) ~= "table" then error("notin_: expected a list of values", 2) end
  return expr { kind = "dml_in", left = col, values = values, negate = true }
end
function ColumnOps.between(col, low, high)
  return expr { kind = "dml_between", left = col, low = low, high = high }
end

local column_mt = { __index = ColumnOps }

-- column -> its sa.table, kept beside the columns so the schema values stay acyclic data
local owner = setmetatable({}, { __mode = "k" })

function M.and_(...) return expr { kind = "dml_bool", op = "AND", args = { ... } } end
function M.or_(...) return expr { kind = "dml_bool", op = "OR", args = { ... } } end
function M.not_(e) return expr { kind = "dml_not", arg = e } end

-- Rendering ---------------------------------------------------------------------------------

local function render_table(d, t)
  local name = d:quote(t.name)
  if t.schema then return d:quote(t.schema) .. "." .. name end
  return name
end

-- A value on the right of an operator or in SET/VALUES: a bound parameter named after the
-- column (name, name_1, name_2, ... as SQLAlchemy names them), or inline SQL.
local function render_value(ctx, v, colname)
  if type(v) == "table" and getmetatable(v) ~= Expr and v.kind ~= nil then
    if v.kind == "column" and owner[v] then
      return render_table(ctx.d, owner[v]) .. "." .. ctx.d:quote(v.name)
    end
    return ctx.d:expr(v)   -- inline_literal, text, func, null, true/false
  end
  -- a column whose name is no word gets a plain one: the parameter parser ends a name at its
  -- first other character, and the rest would be SQL text ("x || (SELECT ...)")
  local base = colname and colname:match("^[%a_][%w_]*$") or "param"
  local key = base
  if ctx.used[key] then
    local n = 1
    while ctx.used[base .. "_" .. n] do n = n + 1 end
    key = base .. "_" .. n
  end
  ctx.used[key] = true
  ctx.params[key] = v
  return ":" .. key
end

local render_expr

local function render_column(ctx, col)
  if type(col) ~= "table" or col.kind ~= "column" then
    error("a comparison needs a column of sa.table(...) on its left", 0)
  end
  if ctx.qualify and owner[col] then
    return render_table(ctx.d, owner[col]) .. "." .. ctx.d:quote(col.name)
  end
  return ctx.d:quote(col.name)
end

function render_expr(ctx, e)
  local k = e.kind
  if k == "dml_binary" then
    local left = render_column(ctx, e.left)
    local is_null = e.right == nil or (type(e.right) == "table" and e.right.kind == "null")
    if is_null then
      -- as SQLAlchemy: == None is IS NULL, != None is IS NOT NULL
      if e.op == "=" or e.op == "IS" then return left .. " IS NULL" end
      if e.op == "!=" or e.op == "IS NOT" then return left .. " IS NOT NULL" end
      error("comparison " .. e.op .. " with NULL", 0)
    end
    -- a WHERE parameter is named after its column with a suffix (name_1), as SQLAlchemy
    local name = e.left.name
    if not ctx.used[name] then ctx.used[name] = true end
    return left .. " " .. e.op .. " " .. render_value(ctx, e.right, name)
  elseif k == "dml_in" then
    ctx.used[e.left.name] = true   -- WHERE parameters always carry a suffix
    local parts = {}
    for i, v in ipairs(e.values) do parts[i] = render_value(ctx, v, e.left.name) end
    return render_column(ctx, e.left) .. (e.negate and " NOT IN (" or " IN (")
      .. table.concat(parts, ", ") .. ")"
  elseif k == "dml_between" then
    ctx.used[e.left.name] = true
    return render_column(ctx, e.left) .. " BETWEEN " .. render_value(ctx, e.low, e.left.name)
      .. " AND " .. render_value(ctx, e.high, e.left.name)
  elseif k == "dml_bool" then
    local parts = {}
    for i, a in ipairs(e.args) do
      local s = render_expr(ctx, a)
      if a.kind == "dml_bool" and a.op ~= e.op then s = "(" .. s .. ")" end
      parts[i] = s
    end
    return table.concat(parts, " " .. e.op .. " ")
  elseif k == "dml_not" then
    return "NOT (" .. render_expr(ctx, e.arg) .. ")"
  elseif k == "text" or k == "literal_column" then
    return e.text
  end
  error("cannot render a WHERE clause of kind " .. tostring(k), 0)
end

-- Statements ---------------------------------------------------------------------------------

local Stmt = {}
Stmt.__index = Stmt

function Stmt:where(e)
  if type(e) ~= "table" then error(self.verb .. ":where: expected an expression", 2) end
  local s = setmetatable({}, Stmt)
  for k, v in pairs(self) do s[k] = v end
  if s.whereclause then s.whereclause = M.and_(s.whereclause, e) else s.whereclause = e end
  return s
end

function Stmt:values(vals)
  if type(vals) ~= "table" then error(self.verb .. ":values: expected a table", 2) end
  local s = setmetatable({}, Stmt)
  for k, v in pairs(self) do s[k] = v end
  s.vals = vals
  return s
end

-- The columns of a values table, in the table's column order (then any others by name).
local function ordered_keys(tbl, vals)
  local keys, seen = {}, {}
  for _, c in ipairs(tbl.columns) do
    if vals[c.name] ~= nil then
      keys[#keys + 1] = c.name
      seen[c.name] = true
    end
  end
  local extra = {}
  for k in pairs(vals) do if not seen[k] then extra[#extra + 1] = k end end
  table.sort(extra)
  for _, k in ipairs(extra) do keys[#keys + 1] = k end
  return keys
end

function Stmt:to_sql(d)
  local ctx = { d = d, params = {}, used = {}, qualify = true }
  local t = self.table
  local sql
  if self.verb == "insert" then
    local keys = ordered_keys(t, self.vals or {})
    local vs = {}
    for i, k in ipairs(keys) do vs[i] = render_value(ctx, self.vals[k], k) end
    local cols = {}
    for i, k in ipairs(keys) do cols[i] = d:quote(k) end
    sql = "INSERT INTO " .. render_table(d, t) .. " (" .. table.concat(cols, ", ")
      .. ") VALUES (" .. table.concat(vs, ", ") .. ")"
  elseif self.verb == "update" then
    local keys = ordered_keys(t, self.vals or {})
    if #keys == 0 then error("update: no values; use :values({ column = value })", 0) end
    local sets = {}
    for i, k in ipairs(keys) do sets[i] = d:quote(k) .. "=" .. render_value(ctx, self.vals[k], k) end
    sql = "UPDATE " .. render_table(d, t) .. " SET " .. table.concat(sets, ", ")
  else
    sql = "DELETE FROM " .. render_table(d, t)
  end
  if self.whereclause then sql = sql .. " WHERE " .. render_expr(ctx, self.whereclause) end
  if next(ctx.params) == nil then return sql, nil end
  return sql, ctx.params
end

-- Gives a lightweight table (sa.table) its insert/update/delete methods and its columns
-- their comparison methods. Returns the table.
function M.attach(tbl)
  for _, c in ipairs(tbl.columns) do
    owner[c] = tbl
    setmetatable(c, column_mt)
  end
  return setmetatable(tbl, { __index = {
    insert = function(self) return setmetatable({ verb = "insert", table = self }, Stmt) end,
    update = function(self) return setmetatable({ verb = "update", table = self }, Stmt) end,
    delete = function(self) return setmetatable({ verb = "delete", table = self }, Stmt) end,
  } })
end

return M
