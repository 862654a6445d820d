--[[ luamig.lock — the runner lock: one luamig at a time changes a database's version table.

  lock.take(mc)      waits for the lock on mc.connection (conn:try_lock, an advisory lock the
                     C driver implements per database: PostgreSQL's advisory lock on a
                     session of its own, a flock on a file beside a SQLite database), keyed
                     by the version table ("luamig:[schema.]table"), taken as
                     mc.runner_lock says: "auto" (the driver's choice: on PostgreSQL an
                     advisory lock, or a lock row where the server has no advisory locks),
                     "advisory" or "table" (a row in luamig_lock beside the version table,
                     with a lease of mc.runner_lock_lease seconds, renewed while held);
                     says once who holds it,
                     polls with a growing delay up to 0.5 s, and raises after
                     mc.runner_lock_timeout seconds (nil: waits for ever).  Sets mc.lock_key
                     before the first try, and mc.lock_waiting while it waits.  The lock
                     outlives the transactions: held from the start of a run to its end, also
                     when each migration commits on its own.
  lock.release(mc)   releases what take took, or was taking when an error (a signal) stopped
                     it (errors ignored: the connection may be gone)
]]

local core = require "luamig.core"
local log = require "luamig.log"
local events = require "luamig.events"

local M = {}

local LOGGER = "luamig.runtime.migration"

function M.take(mc)
  local conn = mc.connection
  local key = "luamig:" .. (mc.version_table_schema and (mc.version_table_schema .. ".") or "") ..
    mc.version_table
  local timeout = mc.runner_lock_timeout
  local start = core.now()
  local delay, said = 0.05, false
  -- Set before trying: an error raised between the lock being granted and this function
  -- returning (SIGINT stops a run at any Lua instruction) still has release() let it go.
  mc.lock_key = key
  local options = { mode = mc.runner_lock or "auto", lease = mc.runner_lock_lease,
                    table = mc.dialect:format_table("luamig_lock", mc.version_table_schema) }
  while true do
    local ok, holder = conn:try_lock(key, options)
    if ok then
      events.emit("lock_acquired", { key = key, waited_s = core.now() - start })
      if said then
        log.info(LOGGER, string.format("Took the migration lock after %.1f s", core.now() - start))
      end
      mc.lock_waiting = nil
      return
    end
    if holder == "" then holder = "another runner" end
    if not said then
      events.emit("lock_wait", { key = key, holder = core.redact(holder) })
      mc.lock_waiting = true
      -- written even with --quiet
      log.write("INFO", LOGGER, string.format("Waiting for the migration lock on %s, held by %s",
        conn.url, holder))
      said = true
    end
    if timeout and core.now() - start >= timeout then
      error(string.format("Timed out after %g s waiting for the migration lock on %s, held by %s",
        timeout, conn.url, holder), 0)
    end
    core.sleep(delay)
    delay = math.min(delay * 1.5, 0.5)
  end
end

function M.release(mc)
  mc.lock_waiting = nil
  if mc.lock_key and mc.connection then
    pcall(mc.connection.unlock, mc.connection, mc.lock_key)
    mc.lock_key = nil
  end
end

return M
