--[[ luamig — what env.lua and users reach with require "luamig".

  luamig.connect(url)  a live connection (online mode), as SQLAlchemy's
                       engine.connect(): conn:execute(sql, params),
                       conn:query(sql, params), conn:close()
  luamig.inspect(conn, opts)
                       the live database's schema as a schema-model metadata
                       value (see luamig.sa, "Reflected values"); opts:
                       schemas = { "name", ... } | true (all), default the
                       connection's default schema; include_name =
                       function(name, type_, parent_names) -> bool, applied
                       while reflecting, as Alembic's include_name;
                       tables = { "name", ... }: only these tables;
                       batch = true: also what a batch rebuild restores
                       (SQLite; see luamig.sa, "Reflected values")
  luamig.version       the program's version
  luamig._redirect(fn) while fn is set, every luamig.connect(url) (and every
                       connection context.configure{url=} makes) returns
                       fn(url) instead: `luamig test` points env.lua at its
                       scratch database this way (luamig.roundtrip); nil ends it
]]
local core = require "luamig.core"
local sa = require "luamig.sa"

local M = { version = core.version }

local redirect = nil

function M._redirect(fn)
  redirect = fn
end

function M.connect(url)
  if type(url) ~= "string" or url == "" then
    error("luamig.connect: no database URL given; set 'url = ...' in luamig.ini", 2)
  end
  if redirect then return redirect(url) end
  return core.connect(url)
end

function M.inspect(conn, opts)
  if opts ~= nil and type(opts) ~= "table" then
    error("luamig.inspect: opts must be a table", 2)
  end
  -- the C reader builds plain tables; sa, the one definition of the model, adopts them
  return sa._adopt_reflected(core.reflect(conn, opts))
end

return M
