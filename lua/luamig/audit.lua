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
  audit.record_resync(mc, rev, heads)   a 'resync' row: rev's file was edited on purpose and
                                        its checksum now is the one to compare with
  audit.changed_revisions(mc, heads[, skip]) -> { complaint, ... }: the revisions applied at
                           `heads` (the version table's rows) whose file changed since it ran or
                           was resynced (online; {} without a history table)
  audit.validate(mc, heads) -> problems, notes: what `luamig validate` prints

Checksums name their scheme (core.checksum; core/checksum.h): "fnv1a64-v2:<16 hex>" is
written, ignoring line endings and a byte-order mark; a row of an older luamig (16 bare hex
digits) is compared by its own scheme. For each revision, the newest successful upgrade,
downgrade or resync row counts: after a downgrade there is nothing to compare.
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

-- The user from the operating system (getpwuid), $USER only when it has no name for us.
local function applied_by()
  local user = core.username() or os.getenv("USER") or os.getenv("LOGNAME") or "?"
  return string.format("%s@%s pid %d", user, core.hostname() or "?", core.getpid())
end

function M.record(mc, step, ok, err, ms)
  local checksum = NULL
  if step.rev and not step.stamp then checksum = core.checksum(step.rev.path) end
  local message = NULL
  if step.rev and step.rev.message ~= "" then message = step.rev.message end
  mc:execute("INSERT INTO " .. M.table_name(mc) .. " (revision, operation, " ..
    "from_revisions, to_revisions, message, checksum, success, error, duration_ms, " ..
    "applied_by, luamig_version, applied_at) VALUES (:revision, :operation, " ..
    ":from_revisions, :to_revisions, :message, :checksum, :success, :error, :duration_ms, " ..
    ":applied_by, :luamig_version, " ..
    -- UTC on every database, for `luamig log`; an offline script's time is when it runs
    (mc.as_sql and "CURRENT_TIMESTAMP" or ":applied_at") .. ")", {
      revision = step.rev and step.rev.revision or table.concat(step.to, ", "),
      operation = step.checkpoint and "checkpoint"
        or (step.stamp and "stamp" or (step.upgrade and "upgrade" or "downgrade")),
      from_revisions = table.concat(step.from, ", "),
      to_revisions = table.concat(step.to, ", "),
      message = message,
      checksum = checksum,
      success = ok and true or false,
      error = err and core.redact(err):sub(1, 2000) or NULL,
      duration_ms = ms and math.floor(ms + 0.5) or NULL,
      applied_by = applied_by(),
      applied_at = os.date("!%Y-%m-%d %H:%M:%S"),
      luamig_version = core.version,
    })
end

-- A resync row: the file of an applied revision was edited on purpose, and from now on its
-- checksum is the one to compare with. The version table (heads) is named, not changed.
function M.record_resync(mc, rev, heads)
  local message = NULL
  if rev.message ~= "" then message = rev.message end
  local at = table.concat(heads, ", ")
  mc:execute("INSERT INTO " .. M.table_name(mc) .. " (revision, operation, " ..
    "from_revisions, to_revisions, message, checksum, success, duration_ms, applied_by, " ..
    "luamig_version, applied_at) VALUES (:revision, 'resync', :from_revisions, :to_revisions, " ..
    ":message, :checksum, :success, :duration_ms, :applied_by, :luamig_version, :applied_at)", {
      revision = rev.revision,
      from_revisions = at,
      to_revisions = at,
      message = message,
      checksum = core.checksum(rev.path),
      success = true,
      duration_ms = 0,
      applied_by = applied_by(),
      luamig_version = core.version,
      applied_at = os.date("!%Y-%m-%d %H:%M:%S"), -- UTC, as record's
    })
end

-- The newest successful upgrade, downgrade or resync row of each revision in the history
-- table: { [revision] = { op =, checksum = } } (checksum nil when none was recorded), or nil
-- when the table does not exist. One catalog lookup and one query, a plain scan in id order
-- (the newest row wins here: a MAX(id) ... GROUP BY is many times slower on SQLite); stamp
-- rows ran no code and say nothing about a file.
local function newest_rows(mc)
  if not mc:table_exists(mc.history_table) then return nil end
  local rows = mc.connection:query("SELECT revision, operation, checksum FROM " ..
    M.table_name(mc) .. " WHERE success AND operation IN ('upgrade', 'downgrade', 'resync') " ..
    "ORDER BY id")
  local out = {}
  for _, r in ipairs(rows) do out[r[1]] = { op = r[2], checksum = r[3] } end
  return out
end

local function sorted_keys(t)
  local ids = {}
  for id in pairs(t) do ids[#ids + 1] = id end
  table.sort(ids)
  return ids
end

-- The complaint about an applied revision whose file no longer has the recorded checksum
-- e.checksum, or nil when it still has it. `known` is the file's checksum as the script
-- directory read it (core.applied: from the header cache when the file's stat is unchanged),
-- which answers the usual case without reading the file again.
local function drift(id, known, e)
  if known == e.checksum then return nil end
  local rev = core.revision(id)
  local now, unknown = core.checksum(rev.path, e.checksum)
  local shown = loader.display_path(rev.path)
  if not now then
    return string.format("Revision %s (%s) cannot be compared with the history table: %s",
      id, shown, unknown)
  end
  if now == e.checksum then return nil end
  return string.format("Revision %s (%s) was changed after it was applied: checksum %s when " ..
    "%s, %s now (luamig stamp --resync %s records a deliberate edit)", id, shown, e.checksum,
    e.op == "resync" and "resynced" or "applied", now, id)
end

-- The still-applied revisions (the version table's rows `heads` and their ancestors) whose
-- file changed since it ran or was resynced, as complaints in revision order; revisions in
-- `skip` (a set, may be nil) are left out. {} without a history table, and, when nothing is
-- applied, without a query.
function M.changed_revisions(mc, heads, skip)
  if #heads == 0 then return {} end
  local recorded = newest_rows(mc)
  if not recorded then return {} end
  local applied = core.applied(heads)
  local out = {}
  for _, id in ipairs(sorted_keys(recorded)) do
    local e = recorded[id]
    if applied[id] and not (skip and skip[id]) and e.op ~= "downgrade" and e.checksum then
      out[#out + 1] = drift(id, applied[id], e)
    end
  end
  return out
end

-- What `luamig validate` reports for the version table's rows `heads`:
--   problems   lines: an unknown version-table row (Alembic's "Can't locate revision"), a
--              revision the history table says is applied but that has no file, an applied
--              revision whose file changed
--   notes      lines that are no problem: checksums not recorded (no history table, or
--              applied revisions without a checksum row)
function M.validate(mc, heads)
  local problems, notes = {}, {}
  local applied, unknown = core.applied(heads)
  for _, id in ipairs(unknown) do
    problems[#problems + 1] = string.format("Can't locate revision identified by '%s' " ..
      "(a row of the version table %s)", id, mc.version_table)
  end
  local recorded = mc.history_table and newest_rows(mc)
  if not recorded then
    notes[#notes + 1] = mc.history_table and string.format("Checksums are not recorded: the " ..
      "history table %s does not exist yet", mc.history_table) or
      "Checksums are not recorded: no history_table is configured"
    return problems, notes
  end
  local in_version_table = {}
  for _, id in ipairs(heads) do in_version_table[id] = true end
  for _, id in ipairs(sorted_keys(recorded)) do
    local e = recorded[id]
    if e.op ~= "downgrade" then
      if not core.revision(id) then
        if not in_version_table[id] then
          problems[#problems + 1] = string.format("Revision %s was applied (history table %s) " ..
            "but has no file in the script directory", id, mc.history_table)
        end
      elseif applied[id] and e.checksum then
        problems[#problems + 1] = drift(id, applied[id], e)
      end
    end
  end
  local without = 0
  for id in pairs(applied) do
    local e = recorded[id]
    if not e or e.op == "downgrade" or not e.checksum then without = without + 1 end
  end
  if without > 0 then
    notes[#notes + 1] = string.format("No checksum is recorded for %d applied revision%s (run " ..
      "before history_table was set, or stamped); luamig stamp --resync REV records one",
      without, without == 1 and "" or "s")
  end
  return problems, notes
end

return M
