--[[ luamig.events — the machine-readable output of --json: JSON documents and the JSON Lines
event stream of upgrade, downgrade and stamp, on stdout (human logging stays on stderr).
The README ("Machine-readable output") documents every document and event; FORMAT is their
"format" field, raised only when a key changes meaning or goes away.

  events.enable(command, stream) from runtime.main when the command has --json; stream: the
                                command's output is the event stream (upgrade, downgrade, stamp)
  events.enabled() -> whether --json is on
  events.emit(name, fields)     one line {"format": 1, "event": name, "command": ..., fields...}
                                for a stream command (nothing otherwise: a document command's
                                output is its document); keys after those three in sorted order.
                                The error event is written for every --json command.
  events.active() -> whether an emitted event goes anywhere (build big events only then)
  events.listen(fn)             fn(name, fields) is also called for every emitted event, --json
                                or not (the library, luamig.library, collects the steps run
                                this way); nil stops it
  events.document(fields)       one line {"format": 1, "command": ..., fields...} (always)
  events.array(t) -> t          marks a (possibly empty) list as a JSON array
  events.raw(text) -> a value   JSON text written as is (from luamig.core, already valid)
  events.null                   JSON null (a key that is there with no value)
  events.failed_in(fields)      what the run knew when it failed: revision, place ("file:line")
  events.record_run(fields)     what a finished run did: steps (how many ran), heads (after)
  events.last_run() -> those fields, or nil when no run finished
  events.note_heads(kind, heads) the version table's heads as a run found them (kind "before")
                                or left them so far (kind "after"), for a fleet's report
  events.heads_noted() -> { before = heads?, after = heads? }
  events.error(message)         the final error event: the message (password-free), and the
                                revision, file and line the run recorded with failed_in;
                                sets events.error_emitted, which core/json.c reads so that C
                                does not write a second one
Strings go through core.json_string: any bytes give valid JSON (invalid UTF-8 becomes U+FFFD).
]]

local core = require "luamig.core"

local M = { FORMAT = 1, error_emitted = false }

local ARRAY = {}
local RAW = {}
M.null = setmetatable({}, { __name = "luamig.events.null" })

local command = nil
local streaming = false
local failure = {}

function M.enable(name, stream)
  command = name
  streaming = stream and true or false
end

function M.enabled()
  return command ~= nil
end

function M.array(t)
  return setmetatable(t or {}, ARRAY)
end

function M.raw(text)
  return setmetatable({ text = text }, RAW)
end

local encode

local function is_array(t)
  if getmetatable(t) == ARRAY then return true end
  local n = #t
  if n == 0 then return false end
  local count = 0
  for _ in pairs(t) do count = count + 1 end
  return count == n
end

local function encode_object(t, first_keys)
  local parts, seen = {}, {}
  for _, k in ipairs(first_keys or {}) do
    if t[k] ~= nil then
      parts[#parts + 1] = core.json_string(k) .. ": " .. encode(t[k])
      seen[k] = true
    end
  end
  local keys = {}
  for k in pairs(t) do
    if not seen[k] then keys[#keys + 1] = tostring(k) end
  end
  table.sort(keys)
  for _, k in ipairs(keys) do
    parts[#parts + 1] = core.json_string(k) .. ": " .. encode(t[k])
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

encode = function(v)
  local ty = type(v)
  if v == nil or v == M.null then return "null" end
  if ty == "boolean" then return v and "true" or "false" end
  if ty == "number" then
    if math.type(v) == "integer" then return string.format("%d", v) end
    if v ~= v or v == math.huge or v == -math.huge then return "null" end
    return string.format("%.3f", v)
  end
  if ty == "string" then return core.json_string(v) end
  if ty == "table" then
    if getmetatable(v) == RAW then return v.text end
    if is_array(v) then
      local parts = {}
      for i = 1, #v do parts[i] = encode(v[i]) end
      return "[" .. table.concat(parts, ", ") .. "]"
    end
    return encode_object(v)
  end
  return core.json_string(tostring(v))
end

M.encode = encode

local function write(t, first)
  io.stdout:write(encode_object(t, first), "\n")
  io.stdout:flush()
end

local function event(name, fields)
  local t = {}
  for k, v in pairs(fields or {}) do t[k] = v end
  t.format, t.event, t.command = M.FORMAT, name, command
  write(t, { "format", "event", "command" })
end

local listener = nil

function M.listen(fn)
  listener = fn
end

-- Whether an emitted event goes anywhere (--json's stream, or a listener): a caller that would
-- build a large event (the plan of 10,000 steps) asks first.
function M.active()
  return listener ~= nil or streaming
end

function M.emit(name, fields)
  if listener then listener(name, fields) end
  if streaming then event(name, fields) end
end

function M.document(fields)
  local t = {}
  for k, v in pairs(fields or {}) do t[k] = v end
  t.format, t.command = M.FORMAT, command
  write(t, { "format", "command" })
end

local last_run = nil

function M.record_run(fields)
  last_run = fields
end

function M.last_run()
  return last_run
end

local noted = {}

function M.note_heads(kind, heads)
  local copy = {}
  for i, h in ipairs(heads) do copy[i] = h end
  noted[kind] = copy
end

function M.heads_noted()
  return noted
end

function M.failed_in(fields)
  failure = fields or {}
end

function M.error(message)
  if not command or M.error_emitted then return end
  local msg = core.redact(tostring(message))
  local file, line
  if failure.place then
    file, line = failure.place:match("^(.*):(%d+)$")
    if not file then file = failure.place end
  end
  event("error", { message = msg, revision = failure.revision or M.null,
                    file = file or M.null, line = line and math.tointeger(tonumber(line)) or M.null })
  M.error_emitted = true
end

return M
