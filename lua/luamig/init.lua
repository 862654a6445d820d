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
]]
local core = require "luamig.core"

local M = { version = core.version }

function M.connect(url)
  if type(url) ~= "string" or url == "" then
    error("luamig.connect: no database URL given; set 'url = ...' in luamig.ini", 2)
  end
  return core.connect(url)
end

-- The C reader (core.reflect) builds plain tables; here types and SQL clauses become the same
-- objects luamig.sa builds, so a reflected value behaves like a declared one.
local function adopt(md)
  local sa = require "luamig.sa"
  local function typ(t)
    if t == nil then return nil end
    if t.item_type then t.item_type = typ(t.item_type) end
    if t.astext_type then t.astext_type = typ(t.astext_type) end
    if t.text_type then t.text_type = typ(t.text_type) end
    return sa._to_type(t)
  end
  local function clause(v)
    if type(v) == "table" and v.kind == "text" then return sa.text(v.text) end
    return v
  end
  for _, tbl in ipairs(md.sorted) do
    for _, col in ipairs(tbl.columns) do
      col.type = typ(col.type)
      col.server_default = clause(col.server_default)
    end
    for _, ix in ipairs(tbl.indexes) do
      for i, e in ipairs(ix.columns) do ix.columns[i] = clause(e) end
      for k, v in pairs(ix.dialect_kw or {}) do ix.dialect_kw[k] = clause(v) end
    end
    for _, c in ipairs(tbl.constraints) do
      if c.kind == "exclude" then
        for _, e in ipairs(c.elements) do e[1] = clause(e[1]) end
        c.where = clause(c.where)
      end
    end
  end
  return md
end

function M.inspect(conn, opts)
  if opts ~= nil and type(opts) ~= "table" then
    error("luamig.inspect: opts must be a table", 2)
  end
  return adopt(core.reflect(conn, opts))
end

return M
