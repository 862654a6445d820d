--[[ luamig.scratch — scratch databases that luamig creates and removes itself, for the commands
that run migrations without touching the configured database: `luamig test` (luamig.roundtrip)
and `luamig checkpoint` (luamig.checkpoint).

  scratch.run(cmd, config, opts, fn)
      Runs env.lua once, as every command does; while it runs, every connection it opens
      (luamig.connect, or context.configure{url=}) goes to a scratch database instead
      (luamig._redirect): the URL env.lua asks for only says where the scratch database goes
      (the dialect's scratch(): SQLite, a temporary file in $TMPDIR; PostgreSQL, CREATE DATABASE
      luamig_test_<token> on the same server, or with opts.schema CREATE SCHEMA
      luamig_test_<token> in the configured database). When env.lua calls run_migrations,
      fn(mc, kind) runs with the migration context on the empty scratch database (kind: the
      scratch's kind, "database", "file" or "schema"). A connection env.lua makes some other way
      (core.connect) is refused, as is a scratch database that is not empty. The whole run is
      under core.interruptible: a failing step, an error in env.lua, SIGINT or SIGTERM all end
      in the same cleanup, which drops every scratch database made (also those of
      scratch.another) before the error is reported; one it cannot remove (the connection that
      made it lost) is named in a warning. Raises when env.lua never calls
      run_migrations. opts: schema (--schema), data (passed to scratch()), destination.
  scratch.another(mc) -> a migration context like mc on a second, new scratch database (made
      beside the first, dropped with it)
  scratch.run_steps(mc, steps) -> true | false, error: runs plan steps on the scratch database
      through a migration context made like env.lua's (its options, its connection) but
      mutating, without the runner lock, the history table or checksums
  scratch.reflect(mc[, tables, pick]) -> the schema of mc's database, as luamig.inspect gives it
      with env.lua's include_name; tables: only the tables of those names; pick(name, schema):
      whether to keep a table (after include_name)
  scratch.connection_lost(mc) -> whether mc's connection no longer answers (the server
      restarted, the backend was terminated): asked after a step failed, when a connection that
      still answers is idle again (the step was rolled back)
  scratch.own_table(mc, name) -> whether it is one of luamig's own (the version and history
      tables)
  scratch.user_tables(mc, md) -> { [name] = { table =, cols = { [name] = column } } }: the
      reflection's tables but luamig's own (the version and history tables)
  scratch.parents_first(tables) -> the names of user_tables' result in an order where each
      comes after the tables it refers to (cycles broken anyhow)
]]

local core = require "luamig.core"
local log = require "luamig.log"
local luamig = require "luamig"
local environment = require "luamig.environment"
local dialects = require "luamig.sqldialect"
local migration = require "luamig.migration"

local M = {}

local function fail(msg)
  error(msg, 0)
end

function M.run_steps(mc, steps)
  local fields = {}
  for k, v in pairs(mc) do fields[k] = v end
  fields.dont_mutate = false
  fields.use_lock = false
  fields.history_table = nil
  fields.checksums = "off"
  fields.migrations_fn = function() return steps end
  local child = migration.new(fields)
  local ok, err = pcall(child.run_migrations, child, {})
  if not ok then
    -- SIGINT/SIGTERM end the whole command (the scratch database is dropped), not just the step
    if not pcall(core.check_interrupt) then error(err, 0) end
    return false, tostring(err)
  end
  return true
end

function M.reflect(mc, tables, pick)
  local user = mc.opts.include_name
  local include = user
  if pick then
    include = function(name, type_, parents)
      if user and not user(name, type_, parents) then return false end
      if type_ == "table" then return pick(name, parents.schema_name) end
      return true
    end
  end
  return mc:inspect({ include_name = include, tables = tables,
                      schemas = mc.opts.include_schemas and true or nil })
end

function M.connection_lost(mc)
  local conn = mc.connection
  return not pcall(conn.query, conn, "SELECT 1")
end

function M.own_table(mc, name)
  return name == mc.version_table or (mc.history_table ~= nil and name == mc.history_table)
end

function M.user_tables(mc, md)
  local out = {}
  for _, t in pairs(md.tables or {}) do
    if not M.own_table(mc, t.name) then
      local cols = {}
      for _, c in ipairs(t.columns or {}) do cols[c.name] = c end
      out[t.name] = { table = t, cols = cols }
    end
  end
  return out
end

function M.parents_first(tables)
  local order, seen = {}, {}
  local names = {}
  for name in pairs(tables) do names[#names + 1] = name end
  table.sort(names)
  local function visit(name)
    if seen[name] then return end
    seen[name] = true
    for _, con in ipairs(tables[name].table.constraints or {}) do
      if con.kind == "foreign_key" and tables[con.referred_table] then visit(con.referred_table) end
    end
    order[#order + 1] = name
  end
  for _, name in ipairs(names) do visit(name) end
  return order
end

-- The scratch run in progress: how to make another scratch database, and what to drop.
local current

function M.another(mc)
  if not current then fail("luamig: no scratch run in progress") end
  local s = current.make()
  local fields = {}
  for k, v in pairs(mc) do fields[k] = v end
  fields.connection = s.connect()
  return migration.new(fields)
end

function M.run(cmd, config, opts, fn)
  local base_token = string.format("%d_%06x", core.getpid(), math.random(0, 0xffffff))
  local made = setmetatable({}, { __mode = "k" })  -- the connections to scratch databases
  local scratches = {}
  local url_seen
  local function make(url)
    url = url or url_seen
    local u, err = core.parse_url(url)
    if not u then fail(err) end
    -- connect and redact: the dialects' scratch() take luamig.core from here (the dialect
    -- modules load without it, for the plain-Lua tests)
    local sopts = { data = opts.data, connect = core.connect, redact = core.redact,
                    schema = opts.schema, command = cmd.command,
                    token = #scratches == 0 and base_token or (base_token .. "_" .. #scratches) }
    local s = dialects.get(u.dialect):scratch(url, sopts)
    scratches[#scratches + 1] = s
    local connect = s.connect
    s.connect = function()
      local conn = connect()
      made[conn] = true
      return conn
    end
    url_seen = url
    return s
  end
  local ran = false
  local work = { dont_mutate = true, destination = opts.destination }
  work.fn = function(heads, mc)
    -- a connection env.lua made some other way (core.connect) may be the real database
    if not made[mc.connection] then
      fail("luamig " .. cmd.command .. ": env.lua's connection was not made by luamig.connect or "
        .. "context.configure{ url = }; refusing to run on it")
    end
    if #heads > 0 then fail("luamig " .. cmd.command .. ": the scratch database is not empty") end
    ran = true
    fn(mc, scratches[1].kind)
    return {}
  end
  luamig._redirect(function(url)
    local s = scratches[1] or make(url)
    return s.connect()
  end)
  current = { make = function() return make() end }
  core.interruptible(nil, function()
    environment.run(cmd, config, work)
  end, function(ok, err)
    luamig._redirect(nil)
    current = nil
    for i = #scratches, 1, -1 do
      local dropped, why = pcall(scratches[i].drop)
      if not dropped then
        log.warning("luamig.scratch", string.format("could not remove the scratch %s %s (%s); "
          .. "remove it by hand", scratches[i].kind, scratches[i].where, tostring(why)))
      end
    end
    if not ok then error(err, 0) end
  end)
  if not ran then fail("luamig " .. cmd.command .. ": env.lua did not call context.run_migrations()") end
end

return M
