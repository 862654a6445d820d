-- luamig.lazy: a module required when first used, and the style check that reads a lazy
-- declaration as an edge of the module graph.
local T = require "helper"
local lazy = require "luamig.lazy"

local loads = 0
package.preload["lazytest.counted"] = function()
  loads = loads + 1
  return { answer = 42, f = function(x) return x * 2 end }
end
package.preload["lazytest.broken"] = function() error("broken at load", 0) end

T.test("declaring loads nothing; the first field read loads the module once", function()
  local m = lazy "lazytest.counted"
  T.eq(loads, 0)
  T.eq(package.loaded["lazytest.counted"], nil)
  T.eq(m.answer, 42)
  T.eq(loads, 1)
  T.eq(m.f(21), 42)
  T.eq(m.missing, nil)
  T.eq(loads, 1)
  -- a second stand-in for the same module shares it
  local again = lazy "lazytest.counted"
  T.eq(again.answer, 42)
  T.eq(loads, 1)
end)

T.test("a write through the stand-in reaches the module", function()
  local m = lazy "lazytest.counted"
  m.extra = "x"
  T.eq(package.loaded["lazytest.counted"].extra, "x")
  T.eq(m.extra, "x")
  rawset(package.loaded["lazytest.counted"], "extra", nil)
end)

T.test("calling the stand-in gives the module itself, before and after it loads", function()
  local m = lazy "lazytest.called"
  package.preload["lazytest.called"] = function() return { answer = 7 } end
  local module = m()
  T.eq(module, package.loaded["lazytest.called"])
  T.eq(rawget(module, "answer"), 7)
  T.eq(m(), module)
  T.eq(m.answer, 7)
  T.eq(m(), module)
end)

T.test("a module that fails to load fails where it is first used", function()
  local m = lazy "lazytest.broken"
  T.raises(function() return m.anything end, "broken at load")
  T.raises(function() return m.anything end, "broken at load")
end)

-- tests/style/lua_graph.lua on a tree of its own
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local graph = here .. "/../style/lua_graph.lua"
local interpreter = arg and arg[-1] or "lua5.4"

local function check(files)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p '" .. dir .. "/luamig'"))
  for name, text in pairs(files) do
    local f = assert(io.open(dir .. "/luamig/" .. name, "w"))
    f:write(text)
    f:close()
  end
  local p = assert(io.popen(interpreter .. " '" .. graph .. "' '" .. dir .. "' 2>&1"))
  local out = p:read("a")
  p:close()
  os.execute("rm -rf '" .. dir .. "'")
  return out
end

T.test("the style check: a lazy edge counts in the graph and must be at module level", function()
  local out = check {
    ["a.lua"] = 'local lazy = require "luamig.lazy"\nlocal b = lazy "luamig.b"\nreturn {}\n',
    ["b.lua"] = 'local a = require "luamig.a"\nreturn {}\n',
    ["lazy.lua"] = 'return function(name) return require(name) end\n',
  }
  T.eq(out:find("require cycle: luamig.a -> luamig.b -> luamig.a", 1, true) ~= nil, true, out)
  out = check {
    ["a.lua"] = 'local lazy = require "luamig.lazy"\nlocal function f() return lazy "luamig.b" end\n'
      .. 'return {}\n',
    ["b.lua"] = 'return {}\n',
    ["lazy.lua"] = 'return function(name) return require(name) end\n',
  }
  T.eq(out:find('lua/luamig/a.lua:2: lazy "luamig.b" inside a function', 1, true) ~= nil, true, out)
  out = check {
    ["a.lua"] = 'local lazy = require "luamig.lazy"\nlocal b = lazy "luamig.b"\nreturn {}\n',
    ["b.lua"] = 'return {}\n',
    ["lazy.lua"] = 'return function(name) return require(name) end\n',
  }
  T.eq(out:find("0 problems", 1, true) ~= nil, true, out)
end)

T.run()
