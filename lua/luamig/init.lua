--[[ luamig — what env.lua and users reach with require "luamig".

  luamig.connect(url)  a live connection (online mode), as SQLAlchemy's
                       engine.connect(): conn:execute(sql, params),
                       conn:query(sql, params), conn:close()
  luamig.version       the program's version
]]
local core = require "luamig.core"

local M = { version = core.version }

function M.connect(url)
  if type(url) ~= "string" or url == "" then
    error("luamig.connect: no database URL given; set 'url = ...' in luamig.ini", 2)
  end
  return core.connect(url)
end

return M
