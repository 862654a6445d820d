--[[ luamig.log — diagnostic lines on stderr, in Alembic's log format
("%(levelname)-5.5s [%(name)s] %(message)s"), and the --quiet switch.

  log.info(logger, msg)        "INFO  [logger] msg", unless quiet or the ini's levels hide it
  log.warning(logger, msg)     "WARNING [logger] msg", even when quiet; only a logger level
                               above WARNING in the ini (ERROR, CRITICAL) hides it
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
  log.wants_progress()         whether progress lines are drawn (a caller can skip making them)
  log.progress_clear()         erases the progress line for good (the run ended)
  log.configure(get, file)     the ini's logging sections, as Python's logging.config.fileConfig
                               reads them: [loggers] keys, each [logger_KEY]'s level and
                               qualname (root: [logger_root]). get(section, key) -> value | nil.
                               A line of logger "a.b.c" is written when its level reaches the
                               level of the longest configured qualname among "a.b.c", "a.b",
                               "a" (NOTSET: look further), else root's, else WARNING. Without a
                               [loggers] section every INFO line is written, as before.
                               Handlers and formatters are not read: lines go to stderr in the
                               format above.

Logger names are part of the output users and tests read ("luamig.runtime.migration",
"luamig.autogenerate.compare"): a module keeps its logger name when the code moves.
]]

local core = require "luamig.core"

local log = {}

local quiet = false
local warning_listener = nil
local levels = nil          -- qualname ("" = root) -> level number, from log.configure
local threshold = {}        -- logger name -> the level its lines need (levels worked out once)
local progress_on = false
local progress_text = nil   -- the progress line on the terminal now, or nil

-- "\r" back to the line's start, ESC[K erase to its end: the progress line is gone.
local ERASE = "\r\27[K"

local LEVELS = { NOTSET = 0, DEBUG = 10, INFO = 20, WARN = 30, WARNING = 30, ERROR = 40,
                 FATAL = 50, CRITICAL = 50 }

function log.configure(get, file)
  threshold = {}
  local keys = get("loggers", "keys")
  if keys == nil then
    levels = nil
    return
  end
  levels = {}
  for key in keys:gmatch("[^,%s]+") do
    local section = "logger_" .. key
    local name = key == "root" and "" or (get(section, "qualname") or "")
    local level = get(section, "level")
    if level and level ~= "" then
      local n = LEVELS[level:upper()] or tonumber(level)
      if n == nil then
        error(string.format("%s: [%s] level = %s: not a logging level (DEBUG, INFO, WARN, ERROR, "
          .. "CRITICAL, NOTSET)", file or "the ini file", section, level), 0)
      end
      if key == "root" or n > 0 then levels[name] = n end
    end
  end
end

-- The level a line of logger `name` needs (see log.configure): that of the longest configured
-- qualname among name and its dotted prefixes, else root's, else WARNING.
local function threshold_of(name)
  local n = name
  while true do
    local at = levels[n]
    if at and n ~= "" then return at end
    local dot = n:match("^.*()%.")
    if not dot then break end
    n = n:sub(1, dot - 1)
  end
  return levels[""] or LEVELS.WARNING
end

-- Whether a line of `level` from logger `name` is written. A run logs a line or two per
-- revision from the same few loggers: each one's threshold is worked out once.
local function enabled(level, name)
  if levels == nil then return true end
  local at = threshold[name]
  if at == nil then
    at = threshold_of(name)
    threshold[name] = at
  end
  return LEVELS[level] >= at
end

function log.set_progress(flag)
  progress_on = flag and true or false
end

function log.wants_progress()
  return progress_on
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

-- Each level's name as a line starts with it, padded to five characters ("%-5s"): made once,
-- not by string.format at every line.
local PADDED = setmetatable({}, { __index = function(t, level)
  local s = string.format("%-5s", level)
  t[level] = s
  return s
end })

function log.write(level, logger, msg)
  if progress_text then io.stderr:write(ERASE) end
  io.stderr:write(PADDED[tostring(level)] .. " [" .. tostring(logger) .. "] " .. tostring(msg) .. "\n")
  if progress_text then
    io.stderr:write(progress_text)
    io.stderr:flush()
  end
end

function log.info(logger, msg)
  if quiet or not enabled("INFO", logger) then return end
  log.write("INFO", logger, msg)
end

function log.warning(logger, msg)
  if enabled("WARNING", logger) then log.write("WARNING", logger, msg) end
  if warning_listener then warning_listener(logger, msg) end
end

-- One parameter as SQL shows it: 'text' (quotes doubled), numbers, NULL.
local function sql_value(v)
  if v == nil then return "NULL" end
  if type(v) == "string" then return "'" .. v:gsub("'", "''") .. "'" end
  return tostring(v)
end

function log.sql_echo(sql, params, seconds, err)
  if quiet or not enabled("INFO", "luamig.sql") then return end
  log.write("INFO", "luamig.sql", core.redact(sql))
  local shown = {}
  if params then
    for k = 1, params.n or #params do shown[k] = sql_value(params[k]) end
  end
  log.write("INFO", "luamig.sql", core.redact(string.format("[%.3f ms] (%s)%s",
    seconds * 1000, table.concat(shown, ", "), err and " failed" or "")))
end

return log
