--[[ tests/lua/sqlite_cli.lua — a migration context backed by a real SQLite database, through the
sqlite3 command-line shell (the tests have no Lua SQLite binding).

  local db = require("sqlite_cli").context(path)   -- installs it as the current context
  db:execute(sql, params)   -- runs the statement (params spliced as literals: tests only)
  db:query(sql, params)     -- rows with [i] and [name] fields (sqlite3 -json output)
  db.log                    -- the statements run, in order

Each call is one sqlite3 process, so there is no transaction across calls; BEGIN/COMMIT are
recorded but not sent, and PRAGMA legacy_alter_table=ON is replayed before later statements.
]]

local M = {}

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- Minimal JSON decoder for sqlite3 -json output (arrays of flat objects).
local function decode(s)
  local i = 1
  local function ws() i = s:find("[^%s]", i) or #s + 1 end
  local value
  local function str()
    local r, j = {}, i + 1
    while true do
      local c = s:sub(j, j)
      if c == '"' then break end
      if c == "\\" then
        local e = s:sub(j + 1, j + 1)
        local map = { n = "\n", t = "\t", r = "\r", b = "\b", f = "\f", ['"'] = '"', ["\\"] = "\\", ["/"] = "/" }
        if e == "u" then
          r[#r + 1] = utf8.char(tonumber(s:sub(j + 2, j + 5), 16)); j = j + 6
        else
          r[#r + 1] = map[e]; j = j + 2
        end
      else
        r[#r + 1] = c; j = j + 1
      end
    end
    i = j + 1
    return table.concat(r)
  end
  function value()
    ws()
    local c = s:sub(i, i)
    if c == "[" then
      i = i + 1; local r = {}
      ws()
      if s:sub(i, i) == "]" then i = i + 1; return r end
      while true do
        r[#r + 1] = value(); ws()
        local d = s:sub(i, i); i = i + 1
        if d == "]" then return r end
      end
    elseif c == "{" then
      i = i + 1; local r, keys = {}, {}
      ws()
      if s:sub(i, i) == "}" then i = i + 1; return r, keys end
      while true do
        ws(); local k = str(); ws(); i = i + 1
        local v = value()
        keys[#keys + 1] = k
        r[k] = v
        r[#keys] = v
        ws()
        local d = s:sub(i, i); i = i + 1
        if d == "}" then return r end
      end
    elseif c == '"' then
      return str()
    elseif s:sub(i, i + 3) == "null" then i = i + 4; return nil
    elseif s:sub(i, i + 3) == "true" then i = i + 4; return true
    elseif s:sub(i, i + 4) == "false" then i = i + 5; return false
    else
      local num = s:match("^-?[%d.eE+-]+", i)
      i = i + #num
      return math.tointeger(tonumber(num)) or tonumber(num)
    end
  end
  return value()
end
M.decode = decode

function M.run(path, sql, json)
  local cmd = "sqlite3 " .. (json and "-json " or "") .. "-bail " .. shell_quote(path) .. " "
    .. shell_quote(sql) .. " 2>&1"
  local p = io.popen(cmd)
  local out = p:read("a")
  local ok = p:close()
  if not ok then error("sqlite3: " .. out .. "\nwhile running: " .. sql, 0) end
  return out
end

function M.context(path, dialect_name)
  os.remove(path)
  local dialect = require("luamig.sqldialect").get(dialect_name or "sqlite")
  local ctx = { dialect = dialect, as_sql = false, opts = {}, log = {}, path = path, connection = {} }
  local function splice(sql, params)
    if not params then return sql end
    return (sql:gsub(":([%a_][%w_]*)", function(n) return dialect:literal(params[n]) end))
  end
  function ctx:execute(sql, params)
    self.log[#self.log + 1] = sql
    if sql == "BEGIN" or sql == "COMMIT" or sql == "ROLLBACK" then return end
    -- connection-level pragmas are replayed before every later statement
    local pragma, value = sql:match("^PRAGMA (legacy_alter_table)=(%a+)$")
    if pragma then self.session = value == "ON" and (sql .. ";") or nil; return end
    M.run(self.path, (self.session or "") .. splice(sql, params) .. ";", false)
  end
  function ctx:query(sql, params)
    local out = M.run(self.path, splice(sql, params) .. ";", true)
    if out:match("^%s*$") then return {} end
    return decode(out)
  end
  function ctx:autocommit_block(fn) fn() end
  require("luamig.op").set_context_provider(function() return ctx end)
  return ctx
end

return M
