--[[ luamig.timeouts — PostgreSQL's lock_timeout and statement_timeout for each migration.

  timeouts.apply(mc, step)   before a step's code runs, in its transaction: the values of the
                             revision file (a top-level lock_timeout = "1s" / statement_timeout =
                             "5min") or else of the context (luamig.ini's lock_timeout and
                             statement_timeout, or context.configure's), sent as the dialect
                             words them (PostgreSQL: SET LOCAL, which ends with the transaction;
                             SQLite: nothing).  Offline, the statements are written to the script.
  timeouts.check(value, where) -> value as text; raises one line naming `where` when value is not
                             a duration in PostgreSQL's units (a number, then ms, s, min, h or d;
                             a bare number is milliseconds, 0 turns the timeout off)

(The wait for another runner's lock is runner_lock_timeout, luamig.lock's business.)
]]

local loader = require "luamig.loader"

local M = {}

local UNITS = { [""] = true, us = true, ms = true, s = true, min = true, h = true, d = true }

function M.check(value, where)
  if value == nil or value == false then return nil end
  local text = tostring(value)
  local n, unit = text:match("^%s*(%d+)%s*(%a*)%s*$")
  if not n or not UNITS[unit] then
    error(string.format("%s = %s: expected a duration such as 300ms, 5s or 1min", where, text), 0)
  end
  return n .. unit
end

function M.apply(mc, step)
  if step.stamp or not step.rev then return end
  if not (mc.dialect.timeout_statements) then return end
  local ini = loader.display_path(mc.config and mc.config.config_file_name or "luamig.ini")
  local lt = M.check(mc.lock_timeout, ini .. ": lock_timeout")
  local st = M.check(mc.statement_timeout, ini .. ": statement_timeout")
  local env = loader.load(step.rev.path)
  local shown = loader.display_path(step.rev.path)
  local rl, rs = rawget(env, "lock_timeout"), rawget(env, "statement_timeout")
  if rl ~= nil then lt = M.check(rl, shown .. ": lock_timeout") end
  if rs ~= nil then st = M.check(rs, shown .. ": statement_timeout") end
  for _, sql in ipairs(mc.dialect:timeout_statements { lock_timeout = lt, statement_timeout = st }) do
    if mc.as_sql then mc:execute(sql) else mc.connection:execute(sql) end
  end
end

return M
