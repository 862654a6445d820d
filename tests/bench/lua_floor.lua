--[[ tests/bench/lua_floor.lua — the least that any runner of Lua revision files must do for
`upgrade head`, besides running the SQL: read and compile every revision file, run its
upgrade(), and build the statements' text. Here `op` and `sa` do only what the benchmark's
generated histories need (create_table with Integer/String/Text columns, create_index) and
each revision adds the version-table UPDATE; nothing is checked, quoted or dispatched per
dialect, and no database is opened.

Usage: lua5.4 lua_floor.lua FILE...     prints the number of statements and their bytes

bench.py runs it on the same files as `luamig upgrade head` and shows its time next to the raw
client's: raw client + this − one process start is a floor for an upgrade that runs Lua
revision files, whatever the runner.
]]

local statements = {}

local function emit(sql)
  statements[#statements + 1] = sql
end

local sa = {}
sa.Integer = { sql = "INTEGER" }
sa.Text = { sql = "TEXT" }
function sa.String(n)
  return { sql = "VARCHAR(" .. n .. ")" }
end
function sa.Column(name, type_, opts)
  if type(type_) == "function" then type_ = type_() end
  return { name = name, type = type_, opts = opts or {} }
end

local op = {}
function op.create_table(name, ...)
  local cols, pk = {}, nil
  for i = 1, select("#", ...) do
    local c = select(i, ...)
    local line = "\t" .. c.name .. " " .. c.type.sql
    if c.opts.primary_key then
      pk = c.name
      line = line .. " NOT NULL"
    elseif c.opts.nullable == false then
      line = line .. " NOT NULL"
    end
    cols[#cols + 1] = line
  end
  if pk then cols[#cols + 1] = "\tPRIMARY KEY (" .. pk .. ")" end
  emit("CREATE TABLE " .. name .. " (\n" .. table.concat(cols, ", \n") .. "\n)")
end
function op.create_index(name, table_name, columns)
  emit("CREATE INDEX " .. name .. " ON " .. table_name .. " (" .. table.concat(columns, ", ")
       .. ")")
end

local bytes = 0
for i = 1, #arg do
  local f = assert(io.open(arg[i], "r"))
  local text = f:read("a")
  f:close()
  local env = setmetatable({ op = op, sa = sa }, { __index = _G })
  local chunk = assert(load(text, "@" .. arg[i], "t", env))
  chunk()
  env.upgrade()
  emit("UPDATE alembic_version SET version_num='" .. env.revision .. "' WHERE "
       .. "alembic_version.version_num = '" .. tostring(env.down_revision) .. "'")
end
for _, s in ipairs(statements) do bytes = bytes + #s end
print(#statements, bytes)
