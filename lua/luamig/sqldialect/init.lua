--[[ luamig.sqldialect — the registry of dialects: one object per database that compiles
operation objects to SQL and answers every per-database question the Lua side has.

This folder is the one place per database on the Lua side: base.lua holds the defaults and what
the databases share, <database>.lua derives from it (SQL, catalog queries, type handling,
autogenerate and batch policy).  A third database is one new module here and an entry in
KNOWN below (its names, its types module).  (The user-facing type modules,
`require "luamig.dialects.postgresql"`, are lua/luamig/dialects/; they only build schema-model
values.)

  require("luamig.sqldialect").get(name [, options]) -> a new dialect object
    name: a dialect name or one of its aliases, with or without a "+driver" suffix ("sqlite",
    "postgresql", "postgres", "postgresql+psycopg2", "sqlite+pysqlite").
    options: fields copied onto the object, e.g. { backslash_escapes = true } on PostgreSQL to
    reproduce SQLAlchemy's offline string literals exactly.
    Raises "unknown dialect" for any other name.
  types_module(module) -> { name = "postgresql", require = "luamig.dialects.postgresql" } for a
    schema-model type's `module` field when a dialect publishes a type module by that name;
    nil for "sa" and anything else
  types_modules() -> every such descriptor, sorted by name

Each call to get returns a fresh object, so per-connection settings never leak between contexts.
]]

local lazy = require "luamig.lazy"
-- the user-facing type modules, loaded for their registration in sa.dialects (a revision's
-- sa.dialects.postgresql), which must not wait for the database's dialect to load
require "luamig.dialects.sqlite"
require "luamig.dialects.postgresql"

local M = {}

-- The known databases: the names the registry accepts for each (its dialect object's name
-- first), the module of its user-facing types as rendered code requires it ({ name = "<alias in
-- code, and the types' module field>", require = "<module>" }), and its dialect module, loaded
-- when first asked for: a command on SQLite never loads PostgreSQL's.
local KNOWN = {
  { names = { "sqlite" }, module = lazy "luamig.sqldialect.sqlite" },
  { names = { "postgresql", "postgres" }, module = lazy "luamig.sqldialect.postgresql",
    types_module = { name = "postgresql", require = "luamig.dialects.postgresql" } },
}

local by_name, modules = {}, {}
for _, known in ipairs(KNOWN) do
  for _, name in ipairs(known.names) do by_name[name] = known end
  if known.types_module then
    modules[known.types_module.name] = known.types_module
  end
end

function M.get(name, options)
  if type(name) ~= "string" then error("dialect.get: expected a dialect name", 2) end
  local known = by_name[name:lower():gsub("%+.*$", "")]
  if not known then error("unknown dialect '" .. name .. "'", 2) end
  local d = setmetatable({}, known.module())
  for k, v in pairs(options or {}) do d[k] = v end
  return d
end

function M.types_module(module)
  return modules[module]
end

function M.types_modules()
  local list = {}
  for _, tm in pairs(modules) do list[#list + 1] = tm end
  table.sort(list, function(a, b) return a.name < b.name end)
  return list
end

return M
