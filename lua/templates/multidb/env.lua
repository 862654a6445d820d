-- env.lua of the multidb template: luamig runs this for every command that touches the
-- databases, as Alembic runs env.py. It is yours to change.
local luamig = require "luamig"

local config = context.config

-- The databases, from luamig.ini: `databases = engine1, engine2`, and per name a section
-- with its URL (`[engine1]` `sqlalchemy.url = ...`).
local db_names = {}
for name in config.get_main_option("databases", ""):gmatch("[^,%s]+") do
  db_names[#db_names + 1] = name
end

local function url_of(name)
  local url = config.get_section_option(name, "sqlalchemy.url")
    or config.get_section_option(name, "url")
  if not url then error("luamig.ini: section [" .. name .. "] has no sqlalchemy.url", 0) end
  return url
end

-- Add your models' MetaData here for 'autogenerate' support, one per database, e.g.
--   package.path = config.get_main_option("here", ".") .. "/?.lua;" .. package.path
--   local target_metadata = { engine1 = require "models1", engine2 = require "models2" }
local target_metadata = {}

-- Each database is migrated in turn, each in its own transaction, with its own version
-- table; upgrade({ engine_name = name }) of each revision calls upgrade_<name>().
-- Offline (--sql), the script of each database follows the previous one's.
local function run_migrations_offline()
  for _, name in ipairs(db_names) do
    context.configure {
      url = url_of(name),
      target_metadata = target_metadata[name],
      literal_binds = true,
      upgrade_token = name .. "_upgrades",
      downgrade_token = name .. "_downgrades",
    }
    context.static_output("-- Migrating database " .. name)
    context.begin_transaction(function()
      context.run_migrations { engine_name = name }
    end)
  end
end

local function run_migrations_online()
  for _, name in ipairs(db_names) do
    local connection = luamig.connect(url_of(name))
    context.configure {
      connection = connection,
      target_metadata = target_metadata[name],
      -- autogenerate writes this database's operations into upgrade_<name>() / downgrade_<name>()
      upgrade_token = name .. "_upgrades",
      downgrade_token = name .. "_downgrades",
    }
    local ok, err = pcall(context.begin_transaction, function()
      context.run_migrations { engine_name = name }
    end)
    connection:close()
    if not ok then error(err, 0) end
  end
end

if context.is_offline_mode() then
  run_migrations_offline()
else
  run_migrations_online()
end
