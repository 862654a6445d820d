--[[ luamig.audit — the audit history (history_table, e.g. luamig_history) and revision
checksums.

Alembic keeps only the current heads (#309 asks for more). With history_table set, every step —
upgrade, downgrade, stamp, and a failed step after its rollback — leaves a row: what, from/to,
when, how long, by whom, and the checksum of the revision file it ran. A later run compares the
applied revisions' checksums with the files: an edit to an applied migration is reported
(checksums = warn, the default) or refused (checksums = error).

Each function takes the migration context `mc` (luamig.migration) and uses mc.history_table,
mc.version_table_schema, mc.dialect, mc:execute and, online, mc.connection and mc:table_exists.
  audit.table_name(mc) -> the qualified, quoted history table name
  audit.ddl(mc) -> its CREATE TABLE IF NOT EXISTS statement (the id column is the dialect's
                   autoincrement_id_sql)
  audit.ensure_table(mc)   creates it once per context (mc.history_ready; set it false to ask
                           again, after a rollback)
  audit.record(mc, step, ok, err, ms)   one row for a step of the plan
  audit.changed_revisions(mc) -> { complaint, ... }: the still-applied revisions whose file
                                 changed since it ran (online; {} without a history table)
]]

local core = require "luamig.core"
local loader = require "luamig.loader"

local M = {}

local NULL = { kind = "null" }

function M.table_name(mc)
  local d = mc.dialect
  local name = d:quote(mc.history_table)
  if mc.version_table_schema then return d:quote(mc.version_table_schema) .. "." .. name end
  return name
end

function M.ddl(mc)
  local id = mc.dialect:autoincrement_id_sql("id")
  return "CREATE TABLE IF NOT EXISTS " .. M.table_name(mc) .. " (\n    " ..
    table.concat({ id, "revision VARCHAR(32)", "operation VARCHAR(16) NOT NULL",
      "from_revisions TEXT", "to_revisions TEXT", "message TEXT", "checksum VARCHAR(32)",
      "success BOOLEAN NOT NULL", "error TEXT",
      "applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP", "duration_ms INTEGER",
      "applied_by VARCHAR(255)", "luamig_version VARCHAR(32)" }, ", \n    ") .. "\n)"
end

function M.ensure_table(mc)
  if mc.history_ready then return end
  mc:execute(M.ddl(mc))
  mc.history_ready = true
end

local function applied_by()
  local user = os.getenv("USER") or os.getenv("LOGNAME") or "?"
  return string.format("%s@%s pid %d", user, core.hostname() or "?", core.getpid())
end

function M.record(mc, step, ok, err, ms)
  local checksum = NULL
  if step.rev and not step.stamp then checksum = core.checksum(step.rev.path) end
  local message = NULL
  if step.rev and step.rev.message ~= "" then message = step.rev.message end
  mc:execute("INSERT INTO " .. M.table_name(mc) .. " (revision, operation, " ..
    "from_revisions, to_revisions, message, checksum, success, error, duration_ms, " ..
    "applied_by, luamig_version) VALUES (:revision, :operation, :from_revisions, " ..
    ":to_revisions, :message, :checksum, :success, :error, :duration_ms, :applied_by, " ..
    ":luamig_version)", {
      revision = step.rev and step.rev.revision or table.concat(step.to, ", "),
      operation = step.stamp and "stamp" or (step.upgrade and "upgrade" or "downgrade"),
      from_revisions = table.concat(step.from, ", "),
      to_revisions = table.concat(step.to, ", "),
      message = message,
      checksum = checksum,
      success = ok and true or false,
      error = err and core.redact(err):sub(1, 2000) or NULL,
      duration_ms = ms and math.floor(ms + 0.5) or NULL,
      applied_by = applied_by(),
      luamig_version = core.version,
    })
end

-- Compares the checksums recorded when each still-applied revision ran
-- with its file now.
function M.changed_revisions(mc)
  if not mc:table_exists(mc.history_table) then return {} end
  local rows = mc.connection:query("SELECT revision, operation, checksum FROM " ..
    M.table_name(mc) .. " WHERE success ORDER BY id")
  local last = {}
  for _, r in ipairs(rows) do
    if r[2] ~= "stamp" then last[r[1]] = { op = r[2], checksum = r[3] } end
  end
  local out = {}
  local ids = {}
  for id in pairs(last) do ids[#ids + 1] = id end
  table.sort(ids)
  for _, id in ipairs(ids) do
    local e = last[id]
    local rev = e.op == "upgrade" and e.checksum and core.revision(id)
    if rev then
      local now = core.checksum(rev.path)
      if now ~= e.checksum then
        out[#out + 1] = string.format("Revision %s (%s) was changed after it was applied: " ..
          "checksum %s when applied, %s now", id, loader.display_path(rev.path), e.checksum, now)
      end
    end
  end
  return out
end

return M
