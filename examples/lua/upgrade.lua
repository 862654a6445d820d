-- upgrade.lua — upgrades a database through the luamig Lua module and prints where it is.
--
--     lua5.4 upgrade.lua path/to/luamig.ini [REVISION]
--
-- Prints one line per step run ("upgrade aaa1: create account") and one per version row
-- ("current aaa1 (head)"); on failure, the message on stderr and exit status 1.
local luamig = require "luamig"

local config, revision = arg[1], arg[2] or "head"
if not config then
  io.stderr:write("usage: lua5.4 upgrade.lua CONFIG [REVISION]\n")
  os.exit(2)
end

-- luamig's log lines (what `luamig upgrade` would print on stderr)
local function log(_, text) io.stderr:write(text) end

local steps, err = luamig.upgrade { config = config, revision = revision, log = log }
if not steps then
  io.stderr:write("error: ", err, "\n")
  os.exit(1)
end
for _, step in ipairs(steps) do
  print(string.format("%s %s: %s", step.direction, step.revision, step.message or ""))
end

local current
current, err = luamig.current { config = config }
if not current then
  io.stderr:write("error: ", err, "\n")
  os.exit(1)
end
for _, row in ipairs(current) do
  print(string.format("current %s%s", row.revision, row.is_head and " (head)" or ""))
end
