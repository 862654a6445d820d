--[[ tests/lua/helper.lua — a tiny test harness and a fake migration context.

  local T = require "helper"
  T.test("name", function() ... end)        -- registers a case
  T.eq(actual, expected [, msg])            -- deep equality, with a readable diff
  T.raises(fn, pattern)                     -- fn must raise an error matching pattern (plain)
  local ctx = T.context("sqlite" [, { as_sql = true, opts = {...} }])
      -- makes it op's current context (op.set_context_provider); it records ctx.log = { {sql, params}, ... }
  T.sql(ctx)                                -- the recorded SQL texts, in order
  T.run()                                   -- runs all cases, exits non-zero on failure

The fake context follows the runtime contract: execute(sql, params), query(sql, params)
(answers from ctx.answers[sql] or a handler), autocommit_block(fn), dialect, as_sql, opts.
]]

local T = {}
local cases = {}

function T.test(name, fn) cases[#cases + 1] = { name = name, fn = fn } end

local function show(v, indent)
  indent = indent or ""
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) ~= "table" then return tostring(v) end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local parts = {}
  for _, k in ipairs(keys) do
    parts[#parts + 1] = indent .. "  [" .. show(k) .. "] = " .. show(v[k], indent .. "  ")
  end
  return "{\n" .. table.concat(parts, ",\n") .. "\n" .. indent .. "}"
end
T.show = show

local function deep_eq(a, b)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  for k, v in pairs(a) do if not deep_eq(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end
T.deep_eq = deep_eq

function T.eq(actual, expected, msg)
  if not deep_eq(actual, expected) then
    error((msg and (msg .. "\n") or "") .. "expected: " .. show(expected) .. "\n  actual: "
      .. show(actual), 2)
  end
end

function T.raises(fn, pattern)
  local ok, err = pcall(fn)
  if ok then error("expected an error matching '" .. pattern .. "', got none", 2) end
  if not tostring(err):find(pattern, 1, true) then
    error("expected an error matching '" .. pattern .. "', got: " .. tostring(err), 2)
  end
  return err
end

function T.context(dialect_name, o)
  o = o or {}
  local dialect = require("luamig.sqldialect").get(dialect_name, o.dialect_options)
  local ctx = { dialect = dialect, as_sql = o.as_sql or false, opts = o.opts or {}, log = {},
                answers = o.answers or {}, query_handler = o.query_handler,
                connection = o.as_sql and nil or {} }
  function ctx:execute(sql, params)
    if self.fail_on and sql:find(self.fail_on, 1, true) then error("fake failure: " .. sql, 0) end
    self.log[#self.log + 1] = { sql = sql, params = params }
    if self.on_execute then self.on_execute(sql, params) end
  end
  function ctx:query(sql, params)
    if self.as_sql then error("query() is not available offline", 2) end
    if self.query_handler then return self.query_handler(sql, params) end
    local a = self.answers[sql]
    if a == nil then error("fake context: no answer for query " .. sql, 2) end
    return a
  end
  function ctx:autocommit_block(fn)
    self.log[#self.log + 1] = { sql = "-- autocommit begin" }
    fn()
    self.log[#self.log + 1] = { sql = "-- autocommit end" }
  end
  require("luamig.op").set_context_provider(function() return ctx end)
  return ctx
end

function T.sql(ctx)
  local r = {}
  for i, e in ipairs(ctx.log) do r[i] = e.sql end
  return r
end

-- The offline script of the recorded statements, as Alembic writes it (";\n\n" after each).
function T.script(ctx)
  local r = {}
  for _, e in ipairs(ctx.log) do r[#r + 1] = e.sql .. ";\n\n" end
  return table.concat(r)
end

-- Runs the cases; then `after` (when given: a file's cleanup, e.g. removing its database), and
-- exits 0 when all passed.
function T.run(after)
  local failed = 0
  for _, c in ipairs(cases) do
    local ok, err = xpcall(c.fn, debug.traceback)
    if ok then
      io.write("ok   ", c.name, "\n")
    else
      failed = failed + 1
      io.write("FAIL ", c.name, "\n", tostring(err), "\n")
    end
  end
  io.write(string.format("%d cases, %d failed\n", #cases, failed))
  if after then after() end
  os.exit(failed == 0 and 0 or 1)
end

return T
