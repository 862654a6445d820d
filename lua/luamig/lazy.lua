--[[ luamig.lazy — a module required when it is first used, for the modules that most commands
never touch (autogenerate and its comparer and renderer, checkpoints, batch mode, the fleet
runner ...).  Loading the embedded modules is most of what a short command such as `current`
does besides its one query, and every module that a command did not need was loaded for nothing.

  local autogenerate = lazy "luamig.autogenerate"

is written where the require would be (at module level, with a literal name: the style check
tests/style/lua_graph.lua reads it as an edge of the module graph, so a lazy edge cannot hide a
cycle) and returns a stand-in: the first field read or written through it requires the module,
and from then on the stand-in forwards every access to the module.  A stand-in is not the
module: compare it with nothing, and neither iterate it nor take its length.  Calling it,
`autogenerate()`, returns the module itself, for a place that hands the module to user code.
]]

return function(name)
  local stand_in = {}
  local function load()
    local module = require(name)
    setmetatable(stand_in, { __index = module, __newindex = module,
                             __call = function() return module end })
    return module
  end
  return setmetatable(stand_in, {
    __index = function(_, key) return load()[key] end,
    __newindex = function(_, key, value) load()[key] = value end,
    __call = function() return load() end,
  })
end
