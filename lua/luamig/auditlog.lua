--[[ luamig.auditlog — `luamig log`: the audit history table (luamig.audit) read back, filtered,
and shown as a table for people or as one JSON document for machines.

  auditlog.parse_time(text, upper) -> "YYYY-MM-DD HH:MM:SS" | nil
      what --since/--until accept: YYYY-MM-DD, YYYY-MM-DD HH:MM, YYYY-MM-DD HH:MM:SS (a "T"
      for the space and a final "Z" are accepted too); the missing part is the start of the
      day/minute, or with upper its end (so --until 2026-12-05 means through that day)
  auditlog.read(mc) -> rows, oldest first; nil when the table does not exist yet. Each row:
      { id, applied_at ("YYYY-MM-DD HH:MM:SS", UTC), revision, operation, from_revisions = {...},
        to_revisions = {...}, message, checksum, success (boolean), error, duration_ms,
        applied_by, luamig_version } (absent values nil)
  auditlog.filter(rows, f) -> the rows that pass f = { revisions = set | nil, prefix = text |
      nil, since, upto (normalized times: --since, --until), failed, succeeded }
  auditlog.text(rows) -> the lines of the table (a header, one line per row, "    error: ..."
      under a failed one); {} for no rows
  auditlog.json(rows, table_name) -> { "format": 1, "table": ..., "rows": [...] } as text
]]

local core = require "luamig.core"
local audit = require "luamig.audit"
local txt = require "luamig.text"

local M = {}

function M.parse_time(text, upper)
  if type(text) ~= "string" then return nil end
  local s = text:gsub("Z$", "")
  local y, mo, d, rest = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)(.*)$")
  if not y then return nil end
  local h, mi, sec
  if rest == "" then
    h, mi, sec = upper and "23" or "00", upper and "59" or "00", upper and "59" or "00"
  else
    h, mi, sec = rest:match("^[ T](%d%d):(%d%d):(%d%d)$")
    if not h then
      h, mi = rest:match("^[ T](%d%d):(%d%d)$")
      if not h then return nil end
      sec = upper and "59" or "00"
    end
  end
  local n = { tonumber(mo), tonumber(d), tonumber(h), tonumber(mi), tonumber(sec) }
  if n[1] < 1 or n[1] > 12 or n[2] < 1 or n[2] > 31 or n[3] > 23 or n[4] > 59 or n[5] > 59 then
    return nil
  end
  return string.format("%s-%s-%s %s:%s:%s", y, mo, d, h, mi, sec)
end

local function text_or_nil(v)
  if v == nil or type(v) == "table" then return nil end -- a NULL
  return tostring(v)
end

local function is_true(v)
  return v == true or v == 1 or v == "1" or v == "t" or v == "true"
end

local function list(v)
  local out = {}
  for id in (text_or_nil(v) or ""):gmatch("[^,%s]+") do out[#out + 1] = id end
  return out
end

-- A row's duration in whole milliseconds, or nil: luamig writes an integer, but the column
-- (an INTEGER, which SQLite does not enforce) may hold 1.5 or 1e300 after a hand edit.
local function whole_ms(v)
  local n = tonumber(v)
  if not n or n ~= n then return nil end
  return math.tointeger(math.floor(n + 0.5))
end

function M.read(mc)
  if not mc:table_exists(mc.history_table) then return nil end
  local rows = mc:query("SELECT id, applied_at, revision, operation, from_revisions, " ..
    "to_revisions, message, checksum, success, error, duration_ms, applied_by, " ..
    "luamig_version FROM " .. audit.table_name(mc) .. " ORDER BY id")
  local out = {}
  for _, r in ipairs(rows) do
    out[#out + 1] = {
      id = tonumber(r[1]),
      -- PostgreSQL may add fractions of a second; the log shows whole seconds
      applied_at = (text_or_nil(r[2]) or ""):sub(1, 19),
      revision = text_or_nil(r[3]),
      operation = text_or_nil(r[4]),
      from_revisions = list(r[5]),
      to_revisions = list(r[6]),
      message = text_or_nil(r[7]),
      checksum = text_or_nil(r[8]),
      success = is_true(r[9]),
      error = text_or_nil(r[10]),
      duration_ms = whole_ms(r[11]),
      applied_by = text_or_nil(r[12]),
      luamig_version = text_or_nil(r[13]),
    }
  end
  return out
end

function M.filter(rows, f)
  local out = {}
  for _, r in ipairs(rows) do
    local keep = true
    if f.revisions and not f.revisions[r.revision or ""] then keep = false end
    if f.prefix and (r.revision or ""):sub(1, #f.prefix) ~= f.prefix then keep = false end
    if f.since and r.applied_at < f.since then keep = false end
    if f.upto and r.applied_at > f.upto then keep = false end
    if f.failed and r.success then keep = false end
    if f.succeeded and not r.success then keep = false end
    if keep then out[#out + 1] = r end
  end
  return out
end

local function ids(l)
  if #l == 0 then return "<base>" end
  return table.concat(l, ", ")
end

function M.text(rows)
  if #rows == 0 then return {} end
  local header = { "ID", "APPLIED AT (UTC)", "OPERATION", "REVISION", "FROM -> TO", "RESULT",
    "DURATION", "BY", "MESSAGE" }
  local cells = { header }
  for _, r in ipairs(rows) do
    cells[#cells + 1] = {
      tostring(r.id or ""), r.applied_at, r.operation or "", r.revision or "",
      ids(r.from_revisions) .. " -> " .. ids(r.to_revisions),
      r.success and "ok" or "FAILED",
      r.duration_ms and (string.format("%d ms", r.duration_ms)) or "",
      r.applied_by or "", r.message or "",
    }
  end
  local width = {}
  for _, row in ipairs(cells) do
    for i, c in ipairs(row) do width[i] = math.max(width[i] or 0, #c) end
  end
  local lines = {}
  for k, row in ipairs(cells) do
    local parts = {}
    for i, c in ipairs(row) do
      parts[i] = i < #row and c .. string.rep(" ", width[i] - #c) or c
    end
    lines[#lines + 1] = txt.rstrip(table.concat(parts, "  "))
    local r = rows[k - 1]
    if r and r.error then
      lines[#lines + 1] = "    error: " .. r.error:gsub("\n", "\n           ")
    end
  end
  return lines
end

-- any bytes give valid JSON (invalid UTF-8 becomes U+FFFD): the one escaper, in C (json.h)
local json_string = core.json_string

local function json_value(v)
  if v == nil then return "null" end
  if type(v) == "boolean" then return tostring(v) end
  if type(v) == "number" then return string.format("%d", v) end
  if type(v) == "table" then
    local parts = {}
    for i, x in ipairs(v) do parts[i] = json_string(x) end
    return "[" .. table.concat(parts, ", ") .. "]"
  end
  return json_string(v)
end

local json_keys = { "id", "applied_at", "revision", "operation", "from_revisions",
  "to_revisions", "message", "success", "error", "duration_ms", "applied_by", "checksum",
  "luamig_version" }

function M.json(rows, table_name)
  local out = { '{"format": 1, "table": ' .. json_string(table_name) .. ', "rows": [' }
  for k, r in ipairs(rows) do
    local parts = {}
    for i, key in ipairs(json_keys) do
      parts[i] = json_string(key) .. ": " .. json_value(r[key])
    end
    out[#out + 1] = "  {" .. table.concat(parts, ", ") .. "}" .. (k < #rows and "," or "")
  end
  out[#out + 1] = "]}"
  return table.concat(out, "\n")
end

return M
