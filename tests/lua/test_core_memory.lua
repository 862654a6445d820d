-- luamig.core's memory between the phases of a long command: core.release_revisions frees the
-- revision map, and the next function that needs it reads the revision files again;
-- core.release_memory gives free memory back and leaves every live value as it was.
-- (Runs inside the binary, in run_in_luamig.py's project: its versions folder starts empty.)
local T = require "helper"
local core = require "luamig.core"

local function write_revision(id, down)
  local f = assert(io.open("migrations/versions/" .. id .. "_step.lua", "w"))
  f:write(string.format('--[[ %s\n\nRevision ID: %s\n]]\nrevision = "%s"\ndown_revision = %s\n'
    .. "function upgrade() end\nfunction downgrade() end\n", id, id, id,
    down and string.format("%q", down) or "nil"))
  f:close()
end

T.test("a released map is read again, from the files as they are now", function()
  T.eq(core.heads(), {})
  write_revision("a1")
  -- the map is the command's, read when it began
  T.eq(core.heads(), {})
  T.eq(core.release_revisions(), true)
  T.eq(core.heads(), { "a1" })
  T.eq(core.revision("a1").revision, "a1")
  os.remove("migrations/versions/a1_step.lua")
  T.eq(core.release_revisions(), true)
  T.eq(core.heads(), {})
end)

T.test("not while a long plan points into the map", function()
  local n = 2001 -- past the plans built lazily (lua_core.c, LAZY_PLAN_STEPS)
  for i = 1, n do write_revision(string.format("r%04d", i), i > 1 and string.format("r%04d", i - 1)) end
  T.eq(core.release_revisions(), true)
  local plan = core.plan("upgrade", {}, "heads")
  T.eq(#plan, n)
  T.eq(core.release_revisions(), false)
  T.eq(plan[n].rev.revision, string.format("r%04d", n))
  plan = nil
  collectgarbage()
  T.eq(core.release_revisions(), true)
  T.eq(core.heads(), { string.format("r%04d", n) })
  for i = 1, n do os.remove(string.format("migrations/versions/r%04d_step.lua", i)) end
end)

T.test("not from a finalizer, which may run inside a function that holds the map", function()
  core.heads() -- the map is loaded
  local got = "not run"
  setmetatable({}, { __gc = function() got = core.release_revisions() end })
  collectgarbage()
  T.eq(got, false)
  T.eq(core.release_revisions(), true)
end)

T.test("a reload that fails names the file, and the next use tries again", function()
  core.heads() -- the map is loaded
  local f = assert(io.open("migrations/versions/bad_step.lua", "w"))
  f:write('revision = "bad"\ndown_revision = {\n')
  f:close()
  T.eq(core.release_revisions(), true)
  T.raises(function() core.heads() end, "bad_step.lua")
  T.raises(function() core.heads() end, "bad_step.lua")
  os.remove("migrations/versions/bad_step.lua")
  T.eq(core.heads(), {})
end)

-- The process's resident memory, from /proc/self/status (Linux), in KiB.
local function rss_kib()
  local f = assert(io.open("/proc/self/status"))
  local text = f:read("a")
  f:close()
  return tonumber(text:match("VmRSS:%s*(%d+)"))
end

T.test("release_memory gives the freed Lua heap back to the system", function()
  local junk = {}
  for i = 1, 200000 do junk[i] = { i, i + 1 } end -- some 16 MiB of small blocks
  junk = nil
  collectgarbage()
  local before = rss_kib()
  core.release_memory()
  local after = rss_kib()
  -- (a collection alone gives nothing back: the freed blocks stay on the arena's lists)
  T.eq(before - after > 8 * 1024, true, string.format("RSS %d -> %d KiB", before, after))
end)

T.test("release_memory keeps what is alive", function()
  local keep = {}
  for i = 1, 50000 do
    local t = { i, tostring(i) .. string.rep("x", i % 300) }
    if i % 1000 == 0 then keep[#keep + 1] = t end
  end
  collectgarbage()
  core.release_memory()
  -- and the memory given back is used again
  local again = {}
  for i = 1, 50000 do again[i] = { i, string.rep("y", i % 200) } end
  core.release_memory()
  for k, t in ipairs(keep) do
    T.eq(t[1], k * 1000)
    T.eq(t[2], tostring(k * 1000) .. string.rep("x", k * 1000 % 300))
  end
  for i = 1, 50000, 997 do T.eq(again[i][2], string.rep("y", i % 200)) end
end)

T.run()
