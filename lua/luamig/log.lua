--[[ luamig.log — diagnostic lines on stderr, in Alembic's log format
("%(levelname)-5.5s [%(name)s] %(message)s"), and the --quiet switch.

  log.info(logger, msg)        "INFO  [logger] msg", unless quiet
  log.warning(logger, msg)     "WARNING [logger] msg", always (a warning is never silenced)
  log.write(level, logger, msg)  one line at `level`, always
  log.set_quiet(flag)          set once per command (runtime.main, from -q/--quiet)
  log.on_warning(fn)           fn(logger, msg) is also called for every warning (--json: the
                               warning event; runtime.main sets it)
  log.is_quiet()               whether command output that --quiet silences is left out

Logger names are part of the output users and tests read ("luamig.runtime.migration",
"luamig.autogenerate.compare"): a module keeps its logger name when the code moves.
]]

local log = {}

local quiet = false
local warning_listener = nil

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
  io.stderr:write(string.format("%-5s [%s] %s\n", level, logger, msg))
end

function log.info(logger, msg)
  if quiet then return end
  log.write("INFO", logger, msg)
end

function log.warning(logger, msg)
  log.write("WARNING", logger, msg)
  if warning_listener then warning_listener(logger, msg) end
end

return log
