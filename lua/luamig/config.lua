--[[ luamig.config — the Config object env.lua reaches as `config` and `context.config`
(Alembic's alembic.config.Config), over the ini file the C side has read.

  config.new(cmd) -> config, for the command table C hands to runtime.main: its fields
    config_file_name, config_ini_section, cmd_opts (the command table), attributes = {}
    and its methods, each callable with a dot or a colon (config.get_main_option("url") and
    config:get_main_option("url") are the same call):
    get_main_option(name [, default])  the value in the command's section; "url" and
                                       "sqlalchemy.url" are one setting under two names
    set_main_option(name, value)
    get_section_option(section, name [, default]), set_section_option(section, name, value)
    get_section(section [, default])   the section as a table, or default when it is empty
    print_stdout(text, ...)            text (string.format'ed with the extra arguments) and a
                                       newline on stdout, unless --quiet
]]

local core = require "luamig.core"
local log = require "luamig.log"

local M = {}

-- Methods work called with a dot or a colon.
local function method(self_tbl, fn)
  return function(a, ...)
    if a == self_tbl then return fn(...) end
    return fn(a, ...)
  end
end

function M.new(cmd)
  local config = {
    config_file_name = cmd.config_file,
    config_ini_section = cmd.section,
    cmd_opts = cmd,
    attributes = {},
  }
  local section = cmd.section
  -- "url" and SQLAlchemy's "sqlalchemy.url" are one setting under two names.
  local aliases = { url = "sqlalchemy.url", ["sqlalchemy.url"] = "url" }
  config.get_main_option = method(config, function(name, default)
    local v = core.config_get(section, name)
    if v == nil and aliases[name] then v = core.config_get(section, aliases[name]) end
    if v == nil then return default end
    return v
  end)
  config.set_main_option = method(config, function(name, value)
    core.config_set(section, name, value)
  end)
  config.get_section_option = method(config, function(sec, name, default)
    local v = core.config_get(sec, name)
    if v == nil then return default end
    return v
  end)
  config.set_section_option = method(config, function(sec, name, value)
    core.config_set(sec, name, value)
  end)
  config.get_section = method(config, function(sec, default)
    local keys = core.config_keys(sec)
    if #keys == 0 then return default end
    local t = {}
    for _, k in ipairs(keys) do t[k] = core.config_get(sec, k) end
    return t
  end)
  config.print_stdout = method(config, function(text, ...)
    if select("#", ...) > 0 then text = string.format(text, ...) end
    if not log.is_quiet() then io.stdout:write(text, "\n") end
  end)
  return config
end

return M
