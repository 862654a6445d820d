--[[ luamig.library — the commands of libluamig and of the Lua module luamig.so (core/library.c),
returning values instead of printing. C (core/library.c) makes a private Lua state per call,
lends it the config and the script directory as for the binary's commands, and calls

  library.open(sink)   first, once per state: sink(stream, text) receives from then on
    everything luamig or env.lua would have written to stdout or stderr ("stdout" |
    "stderr"): the library prints nothing itself
  library.run(cmd) -> the command's value (plain Lua data: strings, numbers, booleans,
    tables; no functions), raises on failure. cmd is the command table of cmd_runtime.c
    (command, positional, config_file, section, script_location, message, ...) plus url
    (inspect) and json.

  upgrade, downgrade, stamp -> { step, ... } in the order run; step = { revision, direction
    ("upgrade" | "downgrade" | "stamp"), from = { id, ... }, to = { id, ... }, message,
    duration_ms }. A stamp step's revision is the one it stamps (nil for a stamp to base or to
    several heads at once).
  current  -> { { revision, is_head, message }, ... }: the version table's rows
  heads    -> { { revision, is_head = true, message, down_revision = { ... } }, ... }
  history  -> every revision, newest first: { revision, is_head, message, down_revision, path }
  check    -> { "one line per difference", ... } (autogenerate's compare; {} when none)
  revision -> { revision, path, message } of the file just written (core/library.c writes it
    with the binary's revision command and asks "revision_info" here)
  inspect  -> { dialect, default_schema, tables = { table, ... } }: the database's schema as
    autogenerate reflects it (luamig.inspect); table = { name, schema, comment, columns =
    { { name, type (the dialect's SQL), nullable, primary_key, default }, ... }, primary_key =
    { columns }, indexes = { { name, unique, columns }, ... }, foreign_keys = { { name,
    columns, referred_schema, referred_table, referred_columns }, ... }, unique_constraints,
    check_constraints }. With cmd.json, the same as one JSON text.
The version table and the history table are part of inspect's answer, as they are of the
database.
]]

local core = require "luamig.core"
local config = require "luamig.config"
local commands = require "luamig.commands"
local events = require "luamig.events"
local log = require "luamig.log"
local ag = require "luamig.autogenerate"
local sa = require "luamig.sa"
local sqldialect = require "luamig.sqldialect"

local M = {}

-- A file object whose writes go to sink(stream, text).
local function sink_file(sink, stream)
  local f = {}
  function f.write(self, ...)
    local parts = table.pack(...)
    for i = 1, parts.n do parts[i] = tostring(parts[i]) end
    sink(stream, table.concat(parts, "", 1, parts.n))
    return self
  end
  function f.flush(self) return self end
  function f.setvbuf() return true end
  function f.close() return true end
  return f
end

-- Everything this private state would print goes to the sink: luamig's own output and log
-- lines, and what env.lua or a revision prints.
local function redirect_output(sink)
  local out, err = sink_file(sink, "stdout"), sink_file(sink, "stderr")
  io.stdout, io.stderr = out, err
  io.write = function(...) return out:write(...) end
  print = function(...)
    local parts = table.pack(...)
    for i = 1, parts.n do parts[i] = tostring(parts[i]) end
    out:write(table.concat(parts, "\t", 1, parts.n), "\n")
  end
end

-- A copy of a list, marked as one (inspect's JSON writes [] for it even when it is empty).
local function strings(t)
  local out = events.array()
  for i, v in ipairs(t or {}) do out[i] = v end
  return out
end

local function is_head_set()
  local set = {}
  for _, id in ipairs(core.heads()) do set[id] = true end
  return set
end

local function revision_entry(id, heads)
  local rev = core.revision(id) or {}
  return { revision = id, is_head = heads[id] or false, message = rev.message,
           down_revision = strings(rev.down_revision), path = rev.path }
end

-- upgrade, downgrade, stamp: the command as the binary runs it, its steps collected.
local function run_steps(cmd, cfg)
  local steps = {}
  events.listen(function(name, fields)
    if name ~= "step_end" then return end
    local step = { revision = fields.revision ~= events.null and fields.revision or nil,
                   direction = fields.direction, from = strings(fields.from),
                   to = strings(fields.to),
                   message = fields.message ~= events.null and fields.message or nil,
                   duration_ms = fields.duration_ms }
    -- a stamp step names no revision of its own: the one it stamps, when it is one
    if step.revision == nil and #step.to == 1 then
      step.revision = step.to[1]
      step.message = (core.revision(step.to[1]) or {}).message
    end
    steps[#steps + 1] = step
  end)
  commands[cmd.command](cmd, cfg)
  events.listen(nil)
  return steps
end

local handlers = {}
handlers.upgrade, handlers.downgrade, handlers.stamp = run_steps, run_steps, run_steps

function handlers.current(cmd, cfg)
  local heads = is_head_set()
  local out = {}
  for i, id in ipairs(commands.database_heads(cmd, cfg)) do
    local e = revision_entry(id, heads)
    out[i] = { revision = id, is_head = e.is_head, message = e.message }
  end
  return out
end

function handlers.heads()
  local heads = is_head_set()
  local out = {}
  for i, id in ipairs(core.heads()) do out[i] = revision_entry(id, heads) end
  return out
end

-- Every revision, newest first: the upgrade plan from base to every head, reversed.
function handlers.history()
  local heads = is_head_set()
  local steps = core.plan("upgrade", {}, "heads")
  local out = {}
  for i = #steps, 1, -1 do
    local step = steps[i]
    if step.rev then out[#out + 1] = revision_entry(step.rev.revision, heads) end
  end
  return out
end

function handlers.check(cmd, cfg)
  return ag.diff_lines(commands.differences(cmd, cfg))
end

function handlers.revision_info(cmd)
  local rev = core.revision(cmd.rev_id)
  if not rev then
    -- autogenerate found nothing to write, or process_revision_directives wrote no file
    -- (or one under another id)
    error("No revision written: no changes in schema detected, or process_revision_directives " ..
      "left no revision " .. tostring(cmd.rev_id), 0)
  end
  return { revision = rev.revision, path = rev.path, message = rev.message }
end

local function text_of(v)
  if type(v) == "table" then return v.text or v.sqltext end
  return v
end

local function plain_table(tbl, dialect)
  local t = { name = tbl.name, schema = tbl.schema, comment = tbl.comment,
              columns = events.array(),
              primary_key = { name = tbl.primary_key and tbl.primary_key.name,
                              columns = strings(tbl.primary_key and tbl.primary_key.columns) },
              indexes = events.array(), foreign_keys = events.array(),
              unique_constraints = events.array(), check_constraints = events.array() }
  for i, col in ipairs(tbl.columns) do
    local ok, sql = pcall(dialect.type_sql, dialect, col.type)
    t.columns[i] = { name = col.name, type = ok and sql or col.type.name,
                     nullable = col.nullable, primary_key = col.primary_key or false,
                     default = text_of(col.server_default), comment = col.comment }
  end
  for _, ix in ipairs(tbl.indexes) do
    local cols = events.array()
    for i, c in ipairs(ix.columns) do cols[i] = text_of(c) end
    t.indexes[#t.indexes + 1] = { name = ix.name, unique = ix.unique or false, columns = cols }
  end
  for _, c in ipairs(tbl.constraints) do
    if c.kind == "foreign_key" then
      t.foreign_keys[#t.foreign_keys + 1] = { name = c.name, columns = strings(c.columns),
        referred_schema = c.referred_schema, referred_table = c.referred_table,
        referred_columns = strings(c.referred_columns), ondelete = c.ondelete,
        onupdate = c.onupdate }
    elseif c.kind == "unique" then
      t.unique_constraints[#t.unique_constraints + 1] = { name = c.name,
                                                          columns = strings(c.columns) }
    elseif c.kind == "check" then
      t.check_constraints[#t.check_constraints + 1] = { name = c.name,
                                                        sqltext = text_of(c.sqltext) }
    end
  end
  return t
end

-- inspect: the URL given, or the ini's url; read-only (a missing SQLite file is an error).
function handlers.inspect(cmd, cfg)
  local url = cmd.url or cfg.get_main_option("url")
  if url == nil or url == "" then
    error("inspect: no database URL: pass url, or set 'url = ...' in " .. cmd.config_file, 0)
  end
  local conn = core.connect(url)
  local ok, md = pcall(function() return sa._adopt_reflected(core.reflect(conn, {})) end)
  conn:close()
  if not ok then error(md, 0) end
  local dialect = sqldialect.get(md.dialect)
  local out = { dialect = md.dialect, default_schema = md.default_schema,
                tables = events.array() }
  for i, tbl in ipairs(md.sorted) do out.tables[i] = plain_table(tbl, dialect) end
  if cmd.json then return events.encode(out) end
  return out
end

M.open = redirect_output

function M.run(cmd)
  log.set_quiet(false)
  log.set_progress(false)
  local cfg = config.new(cmd)
  log.configure(core.config_get, cmd.config_file)
  local fn = handlers[cmd.command]
  if not fn then error("luamig: no library command '" .. tostring(cmd.command) .. "'", 0) end
  return fn(cmd, cfg)
end

return M
