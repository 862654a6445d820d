-- env.lua of the example: the generic one, plus the models for autogenerate
-- and a URL that LUAMIG_URL or `-x url=...` can override.
local luamig = require "luamig"

local config = context.config

-- models.lua sits beside luamig.ini
package.path = config.get_main_option("here") .. "/?.lua;" .. package.path
local target_metadata = require "models"

local function url()
  return context.get_x_argument({ as_dictionary = true }).url
    or os.getenv("LUAMIG_URL")
    or config.get_main_option("url")
end

local function run_migrations_offline()
  context.configure { url = url(), target_metadata = target_metadata, literal_binds = true }
  context.begin_transaction(function()
    context.run_migrations()
  end)
end

local function run_migrations_online()
  local connection = luamig.connect(url())
  context.configure { connection = connection, target_metadata = target_metadata }
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
