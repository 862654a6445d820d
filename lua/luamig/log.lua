--[[ luamig.log — diagnostic lines on stderr, in Alembic's log format
("%(levelname)-5.5s [%(name)s] %(message)s"), and the --quiet switch.

  log.info(logger, msg)        "INFO  [logger] msg", unless quiet
  log.warning(logger, msg)     "WARNING [logger] msg", always (a warning is never silenced)
  log.write(level, logger, msg)  one line at `level`, always
  log.set_quiet(flag)          set once per command (runtime.main, from -q/--quiet)
  log.on_warning(fn)           fn(logger, msg) is also called for every warning (--json: the
                               warning event; runtime.main sets it)
  log.is_quiet()               whether command output that --quiet silences is left out
  log.sql_echo(sql, params, seconds, err)  -v: the statement a connection sent, as two INFO
                               lines of logger "luamig.sql" (the statement; its time in ms,
                               its parameters and, when it failed, "failed"); passwords
                               redacted (core.redact). runtime.main installs it with
                               core.set_sql_echo.
  log.set_progress(flag)       whether progress lines are drawn (runtime.main: stderr is a
                               terminal, no -q, no --json, no --sql)
  log.progress(text)           draws text as the one progress line (redrawn with \r, erased
                               before any log line and drawn again after it)
  log.progress_clear()         erases the progress line for good (the run ended)

Logger names are part of the output users and tests read ("luamig.runtime.migration",
"luamig.autogenerate.compare"): a module keeps its logger name when the code moves.
]]

local core = require "luamig.core"

local log = {}

local quiet = false
local warning_listener = nil
local progress_on = false
local progress_text = nil   -- the progress line on the terminal now, or nil

-- "\r" back to the line's start, ESC[K erase to its end: the progress line is gone.
local ERASE = "\r\27[K"

function log.set_progress(flag)
  progress_on = flag and true or false
end

function log.progress(text)
  if not progress_on then return end
  progress_text = text
  io.stderr:write(ERASE, text)
  io.stderr:flush()
end

function log.progress_clear()
  if progress_text == nil then return end
  progress_text = nil
  io.stderr:write(ERASE)
  io.stderr:flush()
end

function log.on_warning(fn)
  warning_listener = fn
end

function log.set_quiet(flag)
  quiet = flag and true or false
end

function log.is_quiet()
  return quiet
end

function log.write(level, logger, msg)
  if progress_text then io.stderr:write(ERASE) end
  io.stderr:write(string.format("%-5s [%s] %s\n", level, logger, msg))
  if progress_text then
    io.stderr:write(progress_text)
    io.stderr:flush()
  end
end

function log.info(logger, msg)
  if quiet then return end
  log.write("INFO", logger, msg)
end

function log.warning(logger, msg)
  log.write("WARNING", logger, msg)
  if warning_listener then warning_listener(logger, msg) end
end

-- One parameter as SQL shows it: 'text' (quotes doubled), numbers, NULL.
local function sql_value(v)
  if v == nil then return "NULL" end
  if type(v) == "string" then return "'" .. v:gsub("'", "''") .. "'" end
  return tostring(v)
end

function log.sql_echo(sql, params, seconds, err)
  if quiet then return end
  log.write("INFO", "luamig.sql", core.redact(sql))
  local shown = {}
  if params then
    for k = 1, params.n or #params do shown[k] = sql_value(params[k]) end
  end
  log.write("INFO", "luamig.sql", core.redact(string.format("[%.3f ms] (%s)%s",
    seconds * 1000, table.concat(shown, ", "), err and " failed" or "")))
end

return log
