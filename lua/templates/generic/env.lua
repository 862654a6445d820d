-- env.lua: luamig runs this for every command that touches the database,
-- as Alembic runs env.py. It is yours to change.
local luamig = require "luamig"

-- The Config object gives access to the values in the .ini file in use.
local config = context.config

-- Add your models' MetaData here for 'autogenerate' support, e.g. with a
-- models.lua beside luamig.ini that ends in `return metadata`:
--   package.path = config.get_main_option("here", ".") .. "/?.lua;" .. package.path
--   local target_metadata = require "models"
local target_metadata = nil

-- Other values from the config, defined by the needs of env.lua,
-- can be acquired:
--   local my_important_option = config.get_main_option("my_important_option")

-- Run migrations in 'offline' mode (--sql): the context is configured with
-- just a URL, no connection is made, and the SQL is written out.
local function run_migrations_offline()
  local url = config.get_main_option("url")
  context.configure {
    url = url,
    target_metadata = target_metadata,
    literal_binds = true,
  }
  context.begin_transaction(function()
    context.run_migrations()
  end)
end

-- Run migrations in 'online' mode: connect, and run them on that
-- connection.
local function run_migrations_online()
  local connection = luamig.connect(config.get_main_option("url"))
  context.configure {
    connection = connection,
    target_metadata = target_metadata,
  }
  context.begin_transaction(function()
    context.run_migrations()
  end)
  connection:close()
end

if context.is_offline_mode() then
  run_migrations_offline()
else
  run_migrations_online()
end
