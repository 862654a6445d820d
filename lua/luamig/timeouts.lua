--[[ luamig.timeouts — PostgreSQL's lock_timeout and statement_timeout for each migration.

  timeouts.apply(mc, step)   before a step's code runs, in its transaction: the values of the
                             revision file (a top-level lock_timeout = "1s" / statement_timeout =
                             "5min") or else of the context (luamig.ini's lock_timeout and
                             statement_timeout, or context.configure's), sent as the dialect
                             words them (PostgreSQL: SET LOCAL, which ends with the transaction;
                             SQLite: nothing).  Offline, the statements are written to the script.
  timeouts.run_step(mc, step, fn)
                             applies the timeouts, then runs fn (the step's code); in
                             per-migration mode with lock_retries > 0, inside a savepoint: when
                             a statement fails on lock_timeout (the dialect's
                             lock_timeout_sqlstate, PostgreSQL 55P03) the step's work is rolled
                             back to it, a warning says "retry", and after lock_retry_delay
                             (doubling each time) it runs again, up to lock_retries times
  timeouts.check(value, where) -> value as text; raises one line naming `where` when value is not
                             a duration in PostgreSQL's units (a number, then ms, s, min, h or d;
                             a bare number is milliseconds, 0 turns the timeout off)

(The wait for another runner's lock is runner_lock_timeout, luamig.lock's business.)
]]

local core = require "luamig.core"
local log = require "luamig.log"
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

-- How messages name the ini file.
local function ini_name(mc)
  return loader.display_path(mc.config and mc.config.config_file_name or "luamig.ini")
end

function M.apply(mc, step)
  if step.stamp or not step.rev then return end
  -- checked on every database, so that a wrong value is found before the deploy that needs it
  -- (the names in a message are only worked out for a value that is set: this runs per step)
  local lt, st
  if mc.lock_timeout or mc.statement_timeout then
    local ini = ini_name(mc)
    lt = M.check(mc.lock_timeout, ini .. ": lock_timeout")
    st = M.check(mc.statement_timeout, ini .. ": statement_timeout")
  end
  local env = loader.load(step.rev.path, step.rev.seen)
  local rl, rs = rawget(env, "lock_timeout"), rawget(env, "statement_timeout")
  if rl ~= nil then lt = M.check(rl, loader.display_path(step.rev.path) .. ": lock_timeout") end
  if rs ~= nil then st = M.check(rs, loader.display_path(step.rev.path) .. ": statement_timeout") end
  if not mc.dialect.timeout_statements then return end
  for _, sql in ipairs(mc.dialect:timeout_statements { lock_timeout = lt, statement_timeout = st }) do
    if mc.as_sql then mc:execute(sql) else mc.connection:execute(sql) end
  end
end

local SECONDS = { [""] = 0.001, us = 1e-6, ms = 0.001, s = 1, min = 60, h = 3600, d = 86400 }

function M.run_step(mc, step, fn)
  local retries = mc.lock_retries
  if retries ~= nil then
    retries = tonumber(retries)
    if not retries or retries < 0 or retries % 1 ~= 0 then
      error(string.format("%s: lock_retries = %s: expected a whole number", ini_name(mc),
        tostring(mc.lock_retries)), 0)
    end
  end
  local delay = 1
  if mc.lock_retry_delay ~= nil then
    local text = M.check(mc.lock_retry_delay, ini_name(mc) .. ": lock_retry_delay")
    local n, unit = text:match("^(%d+)(%a*)$")
    delay = tonumber(n) * SECONDS[unit]
  end
  local code = mc.dialect.lock_timeout_sqlstate
  local conn = mc.connection
  if mc.as_sql or not mc.transaction_per_migration or not retries or retries == 0 or not code then
    M.apply(mc, step)
    return fn()
  end
  local attempt = 0
  while true do
    conn:execute("SAVEPOINT luamig_step")
    mc.retry_savepoint = true
    local ok, err = pcall(function()
      M.apply(mc, step)
      fn()
    end)
    -- an autocommit block in the step committed what came before it, savepoint included
    local have_savepoint = mc.retry_savepoint
    mc.retry_savepoint = nil
    if ok then
      if have_savepoint then conn:execute("RELEASE SAVEPOINT luamig_step") end
      return
    end
    if attempt >= retries or core.error_code() ~= code or not have_savepoint
        or not conn:in_transaction() then
      error(err, 0)
    end
    attempt = attempt + 1
    conn:execute("ROLLBACK TO SAVEPOINT luamig_step")
    log.warning("luamig.runtime.migration", string.format("Revision %s waited longer than "
      .. "lock_timeout and was rolled back; retry %d of %d in %g s", step.rev.revision, attempt,
      retries, delay))
    core.sleep(delay)
    delay = delay * 2
  end
end

return M
