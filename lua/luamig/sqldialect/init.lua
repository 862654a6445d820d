--[[ luamig.sqldialect — the dialect registry.

  require("luamig.sqldialect").get(name [, options]) -> a new dialect object
    name: "sqlite" or "postgresql" (also "postgres", "postgresql+psycopg2", "sqlite+pysqlite")
    options: fields copied onto the object, e.g. { backslash_escapes = true } on PostgreSQL to
    reproduce SQLAlchemy's offline string literals exactly.
  Raises "unknown dialect" for any other name.

Each call returns a fresh object, so per-connection settings never leak between contexts.
]]

local M = {}

local modules = { sqlite = "luamig.sqldialect.sqlite", postgresql = "luamig.sqldialect.postgresql" }

function M.get(name, options)
  if type(name) ~= "string" then error("dialect.get: expected a dialect name", 2) end
  local key = name:lower():gsub("%+.*$", "")
  if key == "postgres" then key = "postgresql" end
  local modname = modules[key]
  if not modname then error("unknown dialect '" .. name .. "'", 2) end
  local class = require(modname)
  local d = setmetatable({}, class)
  for k, v in pairs(options or {}) do d[k] = v end
  return d
end

return M
