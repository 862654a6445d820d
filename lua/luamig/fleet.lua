--[[ luamig.fleet — one command on every target of a fleet: `luamig --fleet NAME upgrade head`.

A fleet is a section [fleet:NAME] of luamig.ini with one of
  targets = <name> <url>          one target a line (a database each: SQLite files, servers)
  schemas = <schema> ...          PostgreSQL schemas of the main URL (tenants as schemas),
                                  separated by spaces or new lines
  lua = <file.lua>                a Lua file (relative to the ini's folder) that returns the list
                                  of targets, or a function(fleet_name, config) that returns it;
                                  each target { name = ..., url = ... } or { name = ..., schema
                                  = ... } (or both: a schema of that URL)

  fleet.targets(name, config) -> the list of { name, url, schema } (url nil: the main URL);
    raises one line naming the section and setting on bad input
  fleet.run(cmd, config) -> the exit status: 0 when every target succeeded, 1 otherwise

Each target runs in a luamig of its own (core.spawn re-executes this binary) with the command
line of the parent less the fleet's options (cmd.child_args), at most cmd.parallel at a time:
its own connection, runner lock, transactions and audit history. What the child is to work on
travels in its environment, never in its argv, where ps would show a password:
  LUAMIG_FLEET_TARGET  the target's name (the C side reads the two below only when it is set)
  LUAMIG_FLEET_URL     the target's URL: the section's url for this run
  LUAMIG_FLEET_SCHEMA  the target's schema: version_table_schema, and the session's schema
                       (the dialect's schema_session_env: on PostgreSQL, search_path through
                       PGOPTIONS)
  LUAMIG_FLEET_RESULT  a file where the child writes the heads it found and left
                       (fleet.write_result, from luamig.runtime)
A child's stdout and stderr go to temporary files, relayed with a "[target] " prefix once it
is done, so that targets never interleave. A failure stops that target only; with
cmd.fail_fast no target starts after one failed (those are reported as skipped). The command
ends with the table of the targets (text), or, with --json, one "target" event per target and
a "fleet_summary" event (README: Fleets).
]]

local core = require "luamig.core"
local events = require "luamig.events"
local dialects = require "luamig.sqldialect"
local txt = require "luamig.text"

local M = {}

local function fail(msg)
  error(msg, 0)
end

local NAME = "^[%w_.%-]+$"

-- The target list of a section's `lua` file.
local function lua_targets(where, file, fleet_name, config)
  local info = core.config_info()
  local path = file
  if not path:match("^/") then path = (info.here or ".") .. "/" .. path end
  local env = setmetatable({ config = config, fleet = fleet_name }, { __index = _G })
  -- read first, so that a FIFO or a folder is refused instead of waited on
  local text, err = core.read_file(path, true)
  local chunk
  if text then chunk, err = load(text, "@" .. path, "t", env) end
  if not chunk then fail(string.format("%s lua: %s", where, err)) end
  local ok, list = pcall(chunk)
  if ok and type(list) == "function" then ok, list = pcall(list, fleet_name, config) end
  if not ok then fail(string.format("%s lua: %s", where, tostring(list))) end
  if type(list) ~= "table" then
    fail(string.format("%s lua: %s returned %s, not a list of targets", where, file, type(list)))
  end
  local out = {}
  for i, t in ipairs(list) do
    if type(t) ~= "table" or type(t.name) ~= "string" or
      (t.url ~= nil and type(t.url) ~= "string") or
      (t.schema ~= nil and type(t.schema) ~= "string") then
      fail(string.format("%s lua: target %d of %s is not { name = ..., url = ... } or "
        .. "{ name = ..., schema = ... }", where, i, file))
    end
    out[#out + 1] = { name = t.name, url = t.url, schema = t.schema, setting = "lua" }
  end
  return out
end

-- A targets line that is not "<name> <url>" as it may be shown: a password with a space or a
-- quote in it, unencoded, split the line, so it goes by position as the URL parser takes it
-- (from "scheme://user:" to the line's last "@"), then core.redact masks the rest.
local function redact_line(line)
  local _, e = line:find("://[^:/?#@%s]*:")
  local at = line:match(".*()@")
  if e and at and at > e then line = line:sub(1, e) .. "***" .. line:sub(at) end
  return core.redact(line)
end

function M.targets(name, config)
  local section = "fleet:" .. name
  local where = "[" .. section .. "]"
  local known, found = {}, false
  for _, s in ipairs(core.config_sections()) do
    local f = s:match("^fleet:(.*)$")
    if f then known[#known + 1] = f end
    if s == section then found = true end
  end
  if not found then
    fail(string.format("No fleet '%s' in %s: it has no %s section (fleets: %s)", name,
      config.config_file_name, where, #known > 0 and table.concat(known, ", ") or "none"))
  end
  local targets_text = core.config_get(section, "targets")
  local schemas_text = core.config_get(section, "schemas")
  local lua_file = core.config_get(section, "lua")
  local given = (targets_text and 1 or 0) + (schemas_text and 1 or 0) + (lua_file and 1 or 0)
  if given ~= 1 then
    fail(string.format("%s needs exactly one of targets, schemas or lua", where))
  end
  local list = {}
  if targets_text then
    local n = 0
    for line in (targets_text .. "\n"):gmatch("([^\n]*)\n") do
      n = n + 1
      line = txt.strip(line)
      if line ~= "" and not line:match("^[#;]") then
        local tname, url = line:match("^(%S+)%s+(%S+)$")
        if not tname or not tname:match(NAME) then
          fail(string.format("%s targets, line %d: expected '<name> <url>', got '%s'", where, n,
            redact_line(line)))
        end
        list[#list + 1] = { name = tname, url = url, setting = "targets" }
      end
    end
  elseif schemas_text then
    for schema in schemas_text:gmatch("%S+") do
      list[#list + 1] = { name = schema, schema = schema, setting = "schemas" }
    end
  else
    list = lua_targets(where, lua_file, name, config)
  end
  if #list == 0 then fail(string.format("%s has no targets", where)) end
  local seen = {}
  for _, t in ipairs(list) do
    if not t.name:match(NAME) then
      fail(string.format("%s %s: target name '%s' is not letters, digits, '_', '.' and '-'",
        where, t.setting, t.name))
    end
    if seen[t.name] then
      fail(string.format("%s %s: target '%s' is named twice", where, t.setting, t.name))
    end
    seen[t.name] = true
    if t.url then
      local u, err = core.parse_url(t.url)
      if not u then fail(string.format("%s %s: target '%s': %s", where, t.setting, t.name, err)) end
    end
    if t.schema then
      if not t.schema:match("^[a-z_][a-z0-9_]*$") then
        fail(string.format("%s %s: '%s' is not a lowercase SQL identifier", where, t.setting,
          t.schema))
      end
      local url = t.url or config.get_main_option("url")
      if not url then
        fail(string.format("%s %s: tenants as schemas need the section's url", where, t.setting))
      end
      local u, err = core.parse_url(url)
      if not u then fail(string.format("%s %s: %s", where, t.setting, err)) end
      local d = dialects.get(u.dialect)
      t.env = d:schema_session_env(t.schema)
      if not t.env then
        fail(string.format("%s %s: %s has no schemas (tenants as schemas need PostgreSQL); the "
          .. "url is %s", where, t.setting, u.dialect, u.redacted))
      end
    end
  end
  return list
end

---------------------------------------------------------------------------
-- The child's side
---------------------------------------------------------------------------

-- Writes what a fleet's child found and left (the heads before and after, as events noted
-- them) to path, the parent's $LUAMIG_FLEET_RESULT (luamig.runtime reads it, so that a command
-- that is not a fleet's child never loads this module). Never raises.
function M.write_result(path)
  local seen = events.heads_noted()
  local f = io.open(path, "w")
  if not f then return end
  if seen.before then f:write("before\t", table.concat(seen.before, " "), "\n") end
  if seen.after then f:write("after\t", table.concat(seen.after, " "), "\n") end
  f:close()
end

---------------------------------------------------------------------------
-- The parent's side
---------------------------------------------------------------------------

local function read_all(path)
  local f = io.open(path, "r")
  if not f then return "" end
  local s = f:read("a") or ""
  f:close()
  return s
end

local function lines(text)
  local out = {}
  for line in text:gmatch("[^\n]+") do out[#out + 1] = line end
  return out
end

local function read_result(path)
  local r = {}
  for _, line in ipairs(lines(read_all(path))) do
    local k, v = line:match("^(%a+)\t(.*)$")
    if k then
      local heads = {}
      for h in v:gmatch("%S+") do heads[#heads + 1] = h end
      r[k] = heads
    end
  end
  return r
end

-- The one line that says why a child failed: its "FAILED: " line, else its last line.
local function error_line(stderr_lines, status)
  if status == 0 then return nil end
  for i = #stderr_lines, 1, -1 do
    local m = stderr_lines[i]:match("^FAILED: (.*)$")
    if m then return core.redact(m) end
  end
  for i = #stderr_lines, 1, -1 do
    if txt.strip(stderr_lines[i]) ~= "" then return core.redact(txt.strip(stderr_lines[i])) end
  end
  return "exited with status " .. status
end

local function heads_text(heads)
  if heads == nil then return "?" end
  if #heads == 0 then return "base" end
  return table.concat(heads, ",")
end

local function heads_json(heads)
  if heads == nil then return events.null end
  local a = events.array()
  for i, h in ipairs(heads) do a[i] = h end
  return a
end

local function print_table(results, cmd)
  local rows = { { "TARGET", "STATUS", "BEFORE", "AFTER", "DURATION", "ERROR" } }
  for _, r in ipairs(results) do
    rows[#rows + 1] = { r.name, r.status, heads_text(r.before), heads_text(r.after),
      r.duration and string.format("%.1f s", r.duration) or "-", r.error or "" }
  end
  local widths = {}
  for _, row in ipairs(rows) do
    for i = 1, 5 do widths[i] = math.max(widths[i] or 0, #row[i]) end
  end
  for _, row in ipairs(rows) do
    local parts = {}
    for i = 1, 5 do parts[i] = row[i] .. string.rep(" ", widths[i] - #row[i]) end
    parts[6] = row[6]
    io.stdout:write(txt.rstrip(table.concat(parts, "  ")), "\n")
  end
  local n = { ok = 0, failed = 0, skipped = 0 }
  for _, r in ipairs(results) do n[r.status] = n[r.status] + 1 end
  io.stdout:write(string.format("fleet %s: %s on %d targets: %d ok, %d failed, %d skipped\n",
    cmd.fleet, cmd.command, #results, n.ok, n.failed, n.skipped))
  return n
end

-- Relays a finished child's output: stdout lines (text mode) and stderr lines, each with the
-- target's name in front.
local function relay(r, out_lines, err_lines, json)
  local prefix = "[" .. r.name .. "] "
  if not json then
    for _, line in ipairs(out_lines) do io.stdout:write(prefix, line, "\n") end
  end
  for _, line in ipairs(err_lines) do io.stderr:write(prefix, line, "\n") end
  io.stdout:flush()
  io.stderr:flush()
end

local function target_event(r, out_lines)
  local output = events.array()
  for _, line in ipairs(out_lines) do
    -- the child's own JSON lines, whole ones only (a child killed mid-line leaves a stub, and
    -- a revision may print a line of its own that only looks like one)
    if line:match("^{.*}$") and core.json_valid(line) then output[#output + 1] = events.raw(line) end
  end
  events.emit("target", { target = r.name, status = r.status, before = heads_json(r.before),
    after = heads_json(r.after), duration_ms = r.duration and r.duration * 1000 or events.null,
    error = r.error or events.null, exit_status = r.exit_status or events.null,
    output = output })
end

function M.run(cmd, config)
  local list = M.targets(cmd.fleet, config)
  local parallel = math.tointeger(tonumber(cmd.parallel or "1")) or 1
  if cmd.json then events.enable(cmd.command, true) end
  local t0 = core.now()
  local results, running, nrunning = {}, {}, 0
  for i, t in ipairs(list) do
    results[i] = { name = t.name, status = "skipped", target = t }
  end
  local next_target, any_failed = 1, false

  local function finish(r, status)
    r.duration = core.now() - r.started
    r.exit_status = status
    local out_text, err_text = read_all(r.files.out), read_all(r.files.err)
    local result = read_result(r.files.result)
    for _, p in pairs(r.files) do os.remove(p) end
    r.before, r.after = result.before, result.after
    local out_lines, err_lines = lines(out_text), lines(err_text)
    r.error = error_line(err_lines, status)
    r.status = status == 0 and "ok" or "failed"
    if status ~= 0 then any_failed = true end
    relay(r, out_lines, err_lines, cmd.json)
    if cmd.json then target_event(r, out_lines) end
  end

  local function start(r)
    local t = r.target
    r.files = { out = os.tmpname(), err = os.tmpname(), result = os.tmpname() }
    local env = { LUAMIG_FLEET_TARGET = t.name, LUAMIG_FLEET_RESULT = r.files.result,
                  LUAMIG_FLEET_URL = t.url or "", LUAMIG_FLEET_SCHEMA = t.schema or "" }
    for k, v in pairs(t.env or {}) do env[k] = v end
    r.started = core.now()
    local pid, err = core.spawn(cmd.child_args, env, r.files.out, r.files.err)
    if not pid then
      r.status, r.error, r.duration = "failed", err, 0
      for _, p in pairs(r.files) do os.remove(p) end
      any_failed = true
      if cmd.json then target_event(r, {}) end
      return
    end
    running[pid] = r
    nrunning = nrunning + 1
  end

  while true do
    while nrunning < parallel and next_target <= #results and not (cmd.fail_fast and any_failed) do
      start(results[next_target])
      next_target = next_target + 1
    end
    if nrunning == 0 then break end
    local pid, status = core.wait_child()
    if not pid then break end
    local r = running[pid]
    if r then
      running[pid] = nil
      nrunning = nrunning - 1
      finish(r, status)
    end
  end

  local n = { ok = 0, failed = 0, skipped = 0 }
  for _, r in ipairs(results) do n[r.status] = n[r.status] + 1 end
  if cmd.json then
    for _, r in ipairs(results) do
      if r.status == "skipped" then target_event(r, {}) end
    end
    events.emit("fleet_summary", { fleet = cmd.fleet, status = n.ok == #results and "ok" or "failed",
      targets = #results, ok = n.ok, failed = n.failed, skipped = n.skipped,
      duration_ms = (core.now() - t0) * 1000 })
  else
    print_table(results, cmd)
  end
  return n.ok == #results and 0 or 1
end

return M
