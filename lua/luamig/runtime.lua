--[[ luamig.runtime — the entry point of the Lua side: the C side hands every command that
needs the database (and revision --autogenerate) to require("luamig.runtime").main(cmd).

  runtime.main(cmd) -> an exit status (0 when the command returns nothing), or the table
    `revision` returns to C; raises on failure.  cmd is the command table C builds: command,
    positional, sql, quiet, x, tag, verbose, ..., config_file, section, script_location.

The pipeline, one module per stage:
  luamig.config       the Config object over luamig.ini
  luamig.commands     what each command asks of env.lua's run
  luamig.environment  the `context` module env.lua sees; runs env.lua
  luamig.migration    the migration context: statements, version table, the run of the steps
  luamig.loader       revision files: compile, load, error positions
  luamig.fleet        --fleet: the command on each target, in a luamig of its own
  luamig.lock, luamig.audit, luamig.params, luamig.log
                      the runner lock, the history table and checksums, :name parameters,
                      log lines
  luamig.op -> luamig.sqldialect -> SQL; luamig.compare -> luamig.autogenerate/render -> Lua
The log lines keep this module's name as their logger ("luamig.runtime.migration").
]]

local config = require "luamig.config"
local commands = require "luamig.commands"
local log = require "luamig.log"
local core = require "luamig.core"
local events = require "luamig.events"
local lazy = require "luamig.lazy"
local fleet = lazy "luamig.fleet"

local M = {}

-- The commands whose --json output is the JSON Lines event stream, ending in a summary event.
local STREAMS = { upgrade = true, downgrade = true, stamp = true }

local run

function M.main(cmd)
  if cmd.fleet then
    log.set_quiet(cmd.quiet)
    return fleet.run(cmd, config.new(cmd))
  end
  -- a fleet's child reports the heads it found and left, whatever happens
  local report <close> = setmetatable({}, { __close = function()
    local result = os.getenv("LUAMIG_FLEET_RESULT")
    if result then fleet.write_result(result) end
  end })
  return run(cmd)
end

run = function(cmd)
  log.set_quiet(cmd.quiet)
  -- -v on the commands that run migrations: every statement sent, with its time (luamig.log)
  if cmd.verbose and STREAMS[cmd.command] and not cmd.quiet then
    core.set_sql_echo(log.sql_echo)
  end
  -- the progress line is for a person watching a terminal, never for a pipe, -q or --json
  log.set_progress(core.isatty(2) and not cmd.quiet and not cmd.json and not cmd.sql)
  local cfg = config.new(cmd)
  log.configure(core.config_get, cmd.config_file)
  local fn = commands[cmd.command]
  if not fn then error("command " .. cmd.command .. " is not available", 0) end
  -- database_heads serves a C listing, which writes the JSON (and any error event) itself
  if not cmd.json or cmd.command == "database_heads" then
    local result = fn(cmd, cfg)
    if result == nil then return 0 end
    return result
  end
  events.enable(cmd.command, STREAMS[cmd.command])
  log.on_warning(function(logger, msg)
    events.emit("warning", { logger = logger, message = core.redact(msg) })
  end)
  local t0 = core.now()
  -- A failure unwinds through here: the error event is written on the way (a to-be-closed
  -- variable sees the error without catching it, so --raiseerr's traceback is still the one of
  -- where it was raised; it is left out of the event).
  local on_error <close> = setmetatable({}, { __close = function(_, err)
    if err ~= nil then
      events.error((tostring(err):gsub("\nstack traceback:.*$", "")))
    end
  end })
  local result = fn(cmd, cfg)
  if STREAMS[cmd.command] then
    local run = events.last_run() or {}
    events.emit("summary", { status = "ok", steps = run.steps or 0,
                             dry_run = cmd.dry_run or false,
                             heads = events.array(run.heads or {}),
                             duration_ms = (core.now() - t0) * 1000 })
  end
  if result == nil then return 0 end
  return result
end

return M
