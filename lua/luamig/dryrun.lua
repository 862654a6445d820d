--[[ luamig.dryrun — upgrade --dry-run: the plan runs on the real database inside one transaction
that is always rolled back, and each statement is reported with its time and, where the dialect
can tell (PostgreSQL: pg_locks of the session's own backend), the locks it took.

The migration context (luamig.migration) calls, when mc.dry_run is set:
  dryrun.start(mc)               prints what is going to happen
  dryrun.statement(mc, sql, run) -> what run() returns: runs the statement (run() executes it),
                                 times it, then reads the locks the session holds and prints the
                                 ones this statement added, e.g. "AccessExclusiveLock on
                                 public.hero", under the statement and the file:line of the
                                 revision code that sent it
  dryrun.autocommit(mc)          an autocommit block would commit: it is skipped, and said so
  dryrun.finish(mc)              rolls back and says so
All output goes to stdout (it is the command's output; with --json, stdout is the event stream
and this report goes to stderr); the version table, the history table,
the schema and the rows are left as they were (sequences a statement advanced stay advanced: a
sequence is not transactional).
]]

local core = require "luamig.core"
local loader = require "luamig.loader"
local events = require "luamig.events"

local M = {}

local function out(line)
  (events.enabled() and io.stderr or io.stdout):write(line, "\n")
end

function M.start(mc)
  mc.dry_run_seen = {}
  out("Dry run on " .. (mc.connection and mc.connection.url or "") .. ": every statement runs in "
    .. "one transaction, rolled back at the end")
end

local function one_line(sql)
  local s = tostring(sql):gsub("%s+", " "):gsub("^ ", ""):gsub(" $", "")
  if #s > 100 then s = s:sub(1, 97) .. "..." end
  return s
end

-- The locks of the session not reported yet, as "Mode on schema.relation".
local function new_locks(mc)
  local sql = mc.dialect.held_locks_sql and mc.dialect:held_locks_sql()
  if not sql then return nil end
  local seen = mc.dry_run_seen
  local fresh = {}
  for _, r in ipairs(mc.connection:query(sql)) do
    local text = string.format("%s on %s.%s", r[1], r[2], r[3])
    if not seen[text] then
      seen[text] = true
      fresh[#fresh + 1] = text
    end
  end
  return fresh
end

function M.statement(mc, sql, run)
  local step = mc.running_step
  local where = step and step.rev and loader.where_in(step.rev.path, 2)
  if not mc.dry_run_primed then
    -- what the run held before the first statement (the version table's read) is not its
    mc.dry_run_primed = true
    new_locks(mc)
  end
  local t0 = core.now()
  local result = run()
  local ms = (core.now() - t0) * 1000
  local label = where or (step and step.rev and step.rev.revision) or ""
  out(string.format("%s (%.1f ms): %s", label, ms, one_line(sql)))
  local locks = new_locks(mc)
  if locks then
    if #locks == 0 then out("    no new locks") end
    for _, l in ipairs(locks) do out("    " .. l) end
  end
  return result
end

function M.autocommit(mc)
  local step = mc.running_step
  local where = step and step.rev and (loader.where_in(step.rev.path, 2)
    or loader.display_path(step.rev.path)) or "?"
  out(where .. ": skipped an autocommit block: it commits, which a dry run cannot roll back")
end

function M.finish(mc)
  local conn = mc.connection
  if conn:in_transaction() then conn:rollback() end
  out("Dry run rolled back: the database is as it was")
end

return M
