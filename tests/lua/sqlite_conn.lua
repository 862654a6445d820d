--[[ tests/lua/sqlite_conn.lua — a migration context backed by a real SQLite database through a
luamig connection, for the cases that need the C engine (batch rebuilds read the live table
through the C reflection); such a file runs inside the luamig binary (run_in_luamig.py).
The same interface as sqlite_cli.lua:

  local db = require("sqlite_conn").context(path)   -- installs it as the current context
  db:execute(sql, params)   -- runs the statement (params spliced as literals: tests only)
  db:query(sql, params)     -- rows with [i] and [name] fields
  db.log                    -- the statements run, in order
  db.connection             -- the luamig connection (autocommit: no transaction across calls)
]]

local M = {}

function M.context(path, dialect_name)
  if M.current then M.current.connection:close() end
  os.remove(path)
  local conn = require("luamig").connect("sqlite:///" .. path)
  local dialect = require("luamig.sqldialect").get(dialect_name or "sqlite")
  local ctx = { dialect = dialect, as_sql = false, opts = {}, log = {}, path = path, connection = conn }
  local function splice(sql, params)
    if not params then return sql end
    return (sql:gsub(":([%a_][%w_]*)", function(n) return dialect:literal(params[n]) end))
  end
  function ctx:execute(sql, params)
    self.log[#self.log + 1] = sql
    return conn:execute(splice(sql, params))
  end
  function ctx:query(sql, params)
    return conn:query(splice(sql, params))
  end
  function ctx:autocommit_block(fn) fn() end
  function ctx:inspect(opts) return require("luamig").inspect(conn, opts) end
  require("luamig.op").set_context_provider(function() return ctx end)
  M.current = ctx
  return ctx
end

return M
