--[[ luamig.runtime — the migration runtime: what Alembic's EnvironmentContext
and MigrationContext do.

The C side hands a command to main(cmd). main builds the `context` module
(configure, run_migrations, ...), then runs the user's env.lua in an
environment of its own. env.lua decides the connection and calls
context.run_migrations(), which takes the runner lock, reads the version
table, asks the C revision map for a plan, and runs each step: the
revision's upgrade()/downgrade(), then the version-table changes, inside
one transaction per run (or per migration).

The migration context (get_context()) is the contract with luamig.op:
  ctx.dialect, ctx.as_sql, ctx.opts, ctx.connection,
  ctx:execute(sql, params), ctx:query(sql, params), ctx:autocommit_block(fn)
]]

local core = require "luamig.core"
local dialects = require "luamig.sqldialect"
local op = require "luamig.op"
local sa = require "luamig.sa"

local M = {}

local quiet = false
local active_context = nil     -- the MigrationContext while a step runs

-- The op layer finds the context of the running migration here.
op.set_context_provider(function() return active_context end)
local display_path             -- defined with the revision loader below

-- Alembic's log format: "%(levelname)-5.5s [%(name)s] %(message)s".
local function log(logger, msg, level)
  if quiet then return end
  io.stderr:write(string.format("%-5s [%s] %s\n", level or "INFO", logger, msg))
end
M.log = log

local function warn(msg)
  io.stderr:write("WARNING [luamig.runtime.migration] " .. msg .. "\n")
end

-- An error that carries its own, final message (no position prefix).
local function fail(msg)
  error(msg, 0)
end
M.fail = fail

---------------------------------------------------------------------------
-- The Config object (alembic.config.Config)
---------------------------------------------------------------------------

-- Methods work called with a dot or a colon: config.get_main_option("url")
-- and config:get_main_option("url") are the same call.
local function method(self_tbl, fn)
  return function(a, ...)
    if a == self_tbl then return fn(...) end
    return fn(a, ...)
  end
end

local function new_config(cmd)
  local config = {
    config_file_name = cmd.config_file,
    config_ini_section = cmd.section,
    cmd_opts = cmd,
    attributes = {},
  }
  local section = cmd.section
  -- "url" and SQLAlchemy's "sqlalchemy.url" are one setting under two names.
  local aliases = { url = "sqlalchemy.url", ["sqlalchemy.url"] = "url" }
  config.get_main_option = method(config, function(name, default)
    local v = core.config_get(section, name)
    if v == nil and aliases[name] then v = core.config_get(section, aliases[name]) end
    if v == nil then return default end
    return v
  end)
  config.set_main_option = method(config, function(name, value)
    core.config_set(section, name, value)
  end)
  config.get_section_option = method(config, function(sec, name, default)
    local v = core.config_get(sec, name)
    if v == nil then return default end
    return v
  end)
  config.set_section_option = method(config, function(sec, name, value)
    core.config_set(sec, name, value)
  end)
  config.get_section = method(config, function(sec, default)
    local keys = core.config_keys(sec)
    if #keys == 0 then return default end
    local t = {}
    for _, k in ipairs(keys) do t[k] = core.config_get(sec, k) end
    return t
  end)
  config.print_stdout = method(config, function(text, ...)
    if select("#", ...) > 0 then text = string.format(text, ...) end
    if not quiet then io.stdout:write(text, "\n") end
  end)
  return config
end

---------------------------------------------------------------------------
-- Parameters: ":name" in SQL text, bound online, rendered offline
---------------------------------------------------------------------------

-- Splits SQL text at its ":name" parameters (SQLAlchemy's text() rule: not
-- after a word character, a colon or a backslash, and not followed by a
-- colon). Quoted strings, quoted identifiers and comments are left alone;
-- "\:" is a literal colon. Returns { text, name, text, name, ..., text }.
-- Memoised: a run sends the same statements (the version table's) again
-- and again.
local parsed_sql = {}
local function parse_named(sql)
  local cached = parsed_sql[sql]
  if cached then return cached end
  local parts, buf = {}, {}
  local i, n = 1, #sql
  while i <= n do
    local c = sql:sub(i, i)
    if c == "'" or c == '"' then
      local j = i + 1
      while j <= n do
        local d = sql:sub(j, j)
        if d == c then
          if sql:sub(j + 1, j + 1) == c then j = j + 1 else break end
        end
        j = j + 1
      end
      buf[#buf + 1] = sql:sub(i, j)
      i = j + 1
    elseif c == "-" and sql:sub(i + 1, i + 1) == "-" then
      local j = sql:find("\n", i, true) or n
      buf[#buf + 1] = sql:sub(i, j)
      i = j + 1
    elseif c == "\\" and sql:sub(i + 1, i + 1) == ":" then
      buf[#buf + 1] = ":"
      i = i + 2
    elseif c == ":" then
      local prev = i > 1 and sql:sub(i - 1, i - 1) or ""
      local name = sql:match("^[%a_][%w_]*", i + 1)
      local after = name and sql:sub(i + 1 + #name, i + 1 + #name) or ""
      if name and not prev:match("[%w_:]") and after ~= ":" then
        parts[#parts + 1] = table.concat(buf)
        parts[#parts + 1] = name
        buf = {}
        i = i + 1 + #name
      else
        buf[#buf + 1] = c
        i = i + 1
      end
    else
      local j = sql:find("['\"%-\\:]", i + 1) or (n + 1)
      buf[#buf + 1] = sql:sub(i, j - 1)
      i = j
    end
  end
  parts[#parts + 1] = table.concat(buf)
  parsed_sql[sql] = parts
  return parts
end

-- Rewrites ":name" parameters into the driver's placeholders ("?" in
-- order, or "$n" once per name), or into literals when `literal` is
-- given. Returns the new SQL and the ordered parameter list.
local function bind_named(sql, params, placeholder, literal)
  local parts = parse_named(sql)
  if #parts == 1 then return sql, { n = 0 } end
  local out, values, index = { parts[1] }, { n = 0 }, {}
  for k = 2, #parts, 2 do
    local name = parts[k]
    if params == nil or params[name] == nil then
      fail(string.format("A value is required for bind parameter '%s'", name))
    end
    local v = params[name]
    if literal then
      out[#out + 1] = literal(v)
    elseif placeholder == "$" then
      if not index[name] then
        values.n = values.n + 1
        values[values.n] = v
        index[name] = values.n
      end
      out[#out + 1] = "$" .. index[name]
    else
      values.n = values.n + 1
      values[values.n] = v
      out[#out + 1] = "?"
    end
    out[#out + 1] = parts[k + 1]
  end
  return table.concat(out), values
end
M.bind_named = bind_named

-- Values the drivers bind: nil, booleans, numbers, strings. Objects with a
-- `value` field (inline literals, sa.null()) are unwrapped.
local function bindable(v)
  if type(v) == "table" then
    if v.kind == "null" then return nil end
    if v.value ~= nil then return v.value end
  end
  return v
end

---------------------------------------------------------------------------
-- The migration context
---------------------------------------------------------------------------

local MigrationContext = {}

-- Methods answer both call styles: ctx:execute(sql) and, as DESIGN.md asks
-- of everything users reach from op and context, ctx.execute(sql) —
-- e.g. op.get_context().autocommit_block(function() ... end).
local bound = setmetatable({}, { __mode = "k" })
MigrationContext.__index = function(self, key)
  local m = MigrationContext[key]
  if type(m) ~= "function" then return m end
  local per = bound[self]
  if not per then
    per = {}
    bound[self] = per
  end
  local f = per[key]
  if not f then
    f = function(a, ...)
      if a == self then return m(self, ...) end
      return m(self, a, ...)
    end
    per[key] = f
  end
  return f
end

-- Offline output doubles backslashes in string literals where SQLAlchemy's
-- literal rendering does (PostgreSQL); online, values are bound.
local function load_dialect(name, as_sql)
  local d = dialects.get(name)
  if as_sql and d.offline_backslash_escapes then d.backslash_escapes = true end
  return d
end

-- Writes offline output: text + "\n\n", as Alembic's static_output.
function MigrationContext:static_output(text)
  self.output:write(text, "\n\n")
end

-- Runs a statement (online) or writes it (offline). Params are named.
function MigrationContext:execute(sql, params)
  if type(sql) == "table" and sql.text then
    sql = sql.text
  end
  if self.as_sql then
    local text = sql
    if params ~= nil or sql:find(":", 1, true) then
      if params ~= nil then
        text = bind_named(sql, params, nil, function(v) return self.dialect:literal(v) end)
      end
    end
    text = text:gsub("\t", "    "):gsub("^%s+", ""):gsub("%s+$", "")
    self:static_output(text .. ";")
    return 0
  end
  local conn = self.connection
  if params == nil then
    return conn:execute(sql)
  end
  local q, values = bind_named(sql, params, conn.placeholder)
  for k = 1, values.n do values[k] = bindable(values[k]) end
  return conn:execute(q, values)
end

-- Runs a query online and returns rows (each with [i] and [column] fields).
function MigrationContext:query(sql, params)
  if self.as_sql then
    fail("This operation cannot proceed in --sql mode: it needs to read from the database")
  end
  local conn = self.connection
  if params == nil then return conn:query(sql) end
  local q, values = bind_named(sql, params, conn.placeholder)
  for k = 1, values.n do values[k] = bindable(values[k]) end
  return conn:query(q, values)
end

-- Runs fn outside any transaction: what came before is committed first,
-- and a new transaction begins after (Alembic's autocommit_block).
function MigrationContext:autocommit_block(fn)
  if self.as_sql then
    self:static_output("COMMIT;")
    fn()
    self:static_output("BEGIN;")
    return
  end
  local conn = self.connection
  local was_in = conn:in_transaction()
  if was_in then conn:commit() end
  self.in_autocommit = true
  local ok, err = pcall(fn)
  self.in_autocommit = false
  if was_in then conn:begin() end
  if not ok then error(err, 0) end
end

function MigrationContext:get_bind()
  return self.connection
end

-- A qualified, quoted version table name.
function MigrationContext:version_table_name()
  local d = self.dialect
  local name = d:quote(self.version_table)
  if self.version_table_schema then
    return d:quote(self.version_table_schema) .. "." .. name
  end
  return name
end

-- Whether one of luamig's tables exists, in version_table_schema.
function MigrationContext:table_exists(name)
  local sql, values = self.dialect:table_exists_sql(name, self.version_table_schema)
  return #self.connection:query(sql, values) > 0
end

function MigrationContext:version_table_exists()
  return self:table_exists(self.version_table)
end

---------------------------------------------------------------------------
-- The audit history and revision checksums (history_table = luamig_history)
--
-- Alembic keeps only the current heads (#309 asks for more). With
-- history_table set, every step — upgrade, downgrade, stamp, and a failed
-- step after its rollback — leaves a row: what, from/to, when, how long, by
-- whom, and the checksum of the revision file it ran. A later run compares
-- the applied revisions' checksums with the files: an edit to an applied
-- migration is reported (checksums = warn, the default) or refused
-- (checksums = error).
---------------------------------------------------------------------------

local NULL = { kind = "null" }

function MigrationContext:history_table_name()
  local d = self.dialect
  local name = d:quote(self.history_table)
  if self.version_table_schema then return d:quote(self.version_table_schema) .. "." .. name end
  return name
end

function MigrationContext:history_ddl()
  local id = self.dialect:autoincrement_id_sql("id")
  return "CREATE TABLE IF NOT EXISTS " .. self:history_table_name() .. " (\n    " ..
    table.concat({ id, "revision VARCHAR(32)", "operation VARCHAR(16) NOT NULL",
      "from_revisions TEXT", "to_revisions TEXT", "message TEXT", "checksum VARCHAR(32)",
      "success BOOLEAN NOT NULL", "error TEXT",
      "applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP", "duration_ms INTEGER",
      "applied_by VARCHAR(255)", "luamig_version VARCHAR(32)" }, ", \n    ") .. "\n)"
end

function MigrationContext:ensure_history_table()
  if self.history_ready then return end
  self:execute(self:history_ddl())
  self.history_ready = true
end

local function applied_by()
  local user = os.getenv("USER") or os.getenv("LOGNAME") or "?"
  return string.format("%s@%s pid %d", user, core.hostname() or "?", core.getpid())
end

function MigrationContext:record_history(step, ok, err, ms)
  local checksum = NULL
  if step.rev and not step.stamp then checksum = core.checksum(step.rev.path) end
  local message = NULL
  if step.rev and step.rev.message ~= "" then message = step.rev.message end
  self:execute("INSERT INTO " .. self:history_table_name() .. " (revision, operation, " ..
    "from_revisions, to_revisions, message, checksum, success, error, duration_ms, " ..
    "applied_by, luamig_version) VALUES (:revision, :operation, :from_revisions, " ..
    ":to_revisions, :message, :checksum, :success, :error, :duration_ms, :applied_by, " ..
    ":luamig_version)", {
      revision = step.rev and step.rev.revision or table.concat(step.to, ", "),
      operation = step.stamp and "stamp" or (step.upgrade and "upgrade" or "downgrade"),
      from_revisions = table.concat(step.from, ", "),
      to_revisions = table.concat(step.to, ", "),
      message = message,
      checksum = checksum,
      success = ok and true or false,
      error = err and core.redact(err):sub(1, 2000) or NULL,
      duration_ms = ms and math.floor(ms + 0.5) or NULL,
      applied_by = applied_by(),
      luamig_version = core.version,
    })
end

-- Compares the checksums recorded when each still-applied revision ran
-- with its file now. Returns the list of complaints.
function MigrationContext:changed_revisions()
  if not self:table_exists(self.history_table) then return {} end
  local rows = self.connection:query("SELECT revision, operation, checksum FROM " ..
    self:history_table_name() .. " WHERE success ORDER BY id")
  local last = {}
  for _, r in ipairs(rows) do
    if r[2] ~= "stamp" then last[r[1]] = { op = r[2], checksum = r[3] } end
  end
  local out = {}
  local ids = {}
  for id in pairs(last) do ids[#ids + 1] = id end
  table.sort(ids)
  for _, id in ipairs(ids) do
    local e = last[id]
    local rev = e.op == "upgrade" and e.checksum and core.revision(id)
    if rev then
      local now = core.checksum(rev.path)
      if now ~= e.checksum then
        out[#out + 1] = string.format("Revision %s (%s) was changed after it was applied: " ..
          "checksum %s when applied, %s now", id, display_path(rev.path), e.checksum, now)
      end
    end
  end
  return out
end

function MigrationContext:get_current_heads()
  if self.as_sql then
    return self.starting_heads or {}
  end
  if not self:version_table_exists() then return {} end
  local rows = self.connection:query("SELECT version_num FROM " .. self:version_table_name())
  local heads = {}
  for _, r in ipairs(rows) do heads[#heads + 1] = r[1] end
  return heads
end

function MigrationContext:version_table_ddl()
  local t = self.version_table
  local cols = "    version_num VARCHAR(32) NOT NULL"
  if self.version_table_pk then
    cols = cols .. ", \n    CONSTRAINT " .. self.dialect:quote(t .. "_pkc") ..
      " PRIMARY KEY (version_num)"
  end
  return "CREATE TABLE " .. self:version_table_name() .. " (\n" .. cols .. "\n)"
end

function MigrationContext:ensure_version_table()
  if self.as_sql then
    self:execute(self:version_table_ddl())
  elseif not self:version_table_exists() then
    self.connection:execute(self:version_table_ddl())
  end
end

-- Applies one step's version-table changes; online, each UPDATE/DELETE
-- must match exactly one row, as Alembic checks.
function MigrationContext:apply_version_ops(ops)
  local tbl = self:version_table_name()
  local col = self.version_table .. ".version_num"
  if self.version_table_schema then col = self.version_table_schema .. "." .. col end
  for _, op in ipairs(ops) do
    local kind, from, to = op[1], op.from, op.to
    local sql, params, what
    if kind == "insert" then
      sql = "INSERT INTO " .. tbl .. " (version_num) VALUES (:to)"
      params = { to = to }
    elseif kind == "update" then
      sql = "UPDATE " .. tbl .. " SET version_num=:to WHERE " .. col .. " = :from"
      params = { to = to, from = from }
      what = string.format("updating '%s' to '%s'", from, to)
    else
      sql = "DELETE FROM " .. tbl .. " WHERE " .. col .. " = :from"
      params = { from = from }
      what = string.format("deleting '%s'", from)
    end
    local changed = self:execute(sql, params)
    if not self.as_sql and what and changed ~= 1 then
      fail(string.format("Online migration expected to match one row when %s in '%s'; %d found",
        what, self.version_table, changed))
    end
  end
end

---------------------------------------------------------------------------
-- Revision files
---------------------------------------------------------------------------

local loaded = {}

-- How a file is named in messages: relative to the working directory when
-- it lies below it (as the user typed paths), else absolute.
local cwd = core.cwd()
function display_path(path)
  if cwd and path:sub(1, #cwd + 1) == cwd .. "/" then return path:sub(#cwd + 2) end
  return path
end
M.display_path = display_path

-- Lua shortens long chunk names to "...tail"; put the whole name back.
local function whole_names(msg, shown)
  local tail = msg:match("^%.%.%.([^:]*):%d")
  if tail and shown:sub(-#tail) == tail then
    return shown .. msg:sub(4 + #tail)
  end
  return msg
end
M.whole_names = whole_names

-- Loads a revision file in its own environment (op, sa and the standard
-- globals in scope), once. Errors name the file and line.
local function compile_revision(path, env)
  local shown = display_path(path)
  local f, ferr = io.open(path, "r")
  if not f then fail(ferr) end
  local text = f:read("a"):gsub("^\239\187\191", "")   -- a UTF-8 byte-order mark
  f:close()
  local chunk, err = load(text, "@" .. shown, "t", env)
  if not chunk then fail(whole_names(err, shown)) end
  return chunk, shown
end

local function load_revision(path)
  if loaded[path] then return loaded[path] end
  local env = setmetatable({}, { __index = _G })
  env.op = op
  env.sa = sa
  local chunk, shown = compile_revision(path, env)
  local ok, e = pcall(chunk)
  if not ok then fail(whole_names(tostring(e), shown)) end
  loaded[path] = env
  return env
end
M.load_revision = load_revision

-- Plans longer than this are checked file by file and compiled again when
-- their step runs, so that memory stays flat with tens of thousands of
-- revisions; shorter ones keep what they compiled.
local KEEP_COMPILED = 2000

-- Checks that every revision of a plan compiles (and, for a short plan,
-- loads it) before the first step runs.
local function precompile(steps)
  local keep = #steps <= KEEP_COMPILED
  if not keep then
    -- a long plan also collects sooner: the heap stays nearer what is live
    -- (10,000 revisions under 32 MiB), for a few percent more time
    collectgarbage("incremental", 150, 200)
  end
  for _, st in ipairs(steps) do
    if st.rev and not st.stamp then
      if keep then load_revision(st.rev.path) else compile_revision(st.rev.path) end
    end
  end
  return keep
end

-- The file:line of the innermost frame that runs code of `path`.
local function where_in(path, level)
  local shown = display_path(path)
  local src = "@" .. shown
  for l = level, 200 do
    local info = debug.getinfo(l, "Sl")
    if not info then break end
    if info.source == src and info.currentline and info.currentline > 0 then
      return shown .. ":" .. info.currentline
    end
  end
  return nil
end

---------------------------------------------------------------------------
-- The runner lock
---------------------------------------------------------------------------

local function take_lock(mc)
  local conn = mc.connection
  local key = "luamig:" .. (mc.version_table_schema and (mc.version_table_schema .. ".") or "") ..
    mc.version_table
  local timeout = mc.lock_timeout
  local start = core.now()
  local delay, said = 0.05, false
  while true do
    local ok, holder = conn:try_lock(key)
    if ok then
      if said then
        log("luamig.runtime.migration", string.format("Took the migration lock after %.1f s",
          core.now() - start))
      end
      mc.lock_key = key
      return
    end
    if holder == "" then holder = "another runner" end
    if not said then
      io.stderr:write(string.format(
        "INFO  [luamig.runtime.migration] Waiting for the migration lock on %s, held by %s\n",
        conn.url, holder))
      said = true
    end
    if timeout and core.now() - start >= timeout then
      fail(string.format("Timed out after %g s waiting for the migration lock on %s, held by %s",
        timeout, conn.url, holder))
    end
    core.sleep(delay)
    delay = math.min(delay * 1.5, 0.5)
  end
end

local function release_lock(mc)
  if mc.lock_key and mc.connection then
    pcall(mc.connection.unlock, mc.connection, mc.lock_key)
    mc.lock_key = nil
  end
end

---------------------------------------------------------------------------
-- Running the steps
---------------------------------------------------------------------------

local function short_log(step)
  local name = step.stamp and "stamp_revision" or (step.upgrade and "upgrade" or "downgrade")
  return string.format("%s %s -> %s", name, table.concat(step.from, ", "),
    table.concat(step.to, ", "))
end

local function describe(step)
  local s = short_log(step)
  if step.rev and step.rev.message ~= "" and not step.stamp then
    s = s .. ", " .. step.rev.message
  end
  return s
end

-- Runs a step's migration code, turning an error into one line that names
-- the revision, the file and the line.
local function run_code(mc, step, kw)
  local rev = step.rev
  local mod = load_revision(rev.path)
  local fname = step.upgrade and "upgrade" or "downgrade"
  local fn = rawget(mod, fname)
  if type(fn) ~= "function" then
    fail(string.format("%s: revision %s has no %s() function", rev.path, rev.revision, fname))
  end
  local place
  local function handler(e)
    place = where_in(rev.path, 2)
    if type(e) ~= "string" then e = tostring(e) end
    return whole_names(e, display_path(rev.path))
  end
  active_context = mc
  local ok, err = xpcall(fn, handler, kw)
  active_context = nil
  if not ok then
    -- A message that already starts with the place does not repeat it.
    if place and err:sub(1, #place + 1) == place .. ":" then
      err = err:sub(#place + 3)
    end
    fail(string.format("%s of revision %s failed at %s: %s", fname, rev.revision,
      place or display_path(rev.path), err))
  end
end

local function same_set(a, b)
  if #a ~= #b then return false end
  local s = {}
  for _, v in ipairs(a) do s[v] = true end
  for _, v in ipairs(b) do if not s[v] then return false end end
  return true
end

-- Replays a step's version ops on a list of heads.
local function replay(heads, ops)
  local out = {}
  for _, h in ipairs(heads) do out[#out + 1] = h end
  for _, op in ipairs(ops) do
    if op[1] == "insert" then
      out[#out + 1] = op.to
    else
      for k, h in ipairs(out) do
        if h == op.from then
          if op[1] == "update" then out[k] = op.to else table.remove(out, k) end
          break
        end
      end
    end
  end
  return out
end

function MigrationContext:run_migrations(kw)
  local per_migration = self.transaction_per_migration
  local conn = self.connection
  local online = not self.as_sql
  local heads
  if self.purge then
    if self.as_sql then fail("Can't use --purge with --sql mode") end
  end

  log("luamig.runtime.migration", "Context impl " .. self.dialect.impl_name .. ".")
  log("luamig.runtime.migration", "Will assume transactional DDL.")

  local began_outer = false
  local function begin()
    if online then
      if not conn:in_transaction() then conn:begin() end
    else
      self:static_output("BEGIN;")
    end
  end
  local function commit()
    if online then
      if conn:in_transaction() then conn:commit() end
    else
      self:static_output("COMMIT;")
    end
  end

  if online and not self.dont_mutate and self.use_lock then
    take_lock(self)
  end
  local ok, err = xpcall(function()
    if online and not self.dont_mutate then
      begin()
      began_outer = true
    elseif not online and not per_migration then
      begin()
      began_outer = true
    end
    if self.purge then
      self:ensure_version_table()
      self.connection:execute("DELETE FROM " .. self:version_table_name())
      heads = {}
    else
      heads = self:get_current_heads()
      if online and #heads == 0 and not self.dont_mutate then
        self:ensure_version_table()
      end
    end
    local steps = self.migrations_fn(heads, self) or {}
    -- Compile every revision the plan runs before running any: a syntax
    -- error anywhere stops the run before it touches the database.
    local keep_loaded = precompile(steps)
    if self.history_table and #steps > 0 then
      if online then
        for _, complaint in ipairs(self:changed_revisions()) do
          if self.checksums == "error" then fail(complaint) end
          if self.checksums ~= "off" then warn(complaint) end
        end
      end
      self:ensure_history_table()
    end
    local expected = heads
    local k = 1
    while k <= #steps do
      local step = steps[k]
      if per_migration and (k > 1 or not online) then
        begin()
        if online then
          -- Another runner may have moved the version table between our
          -- transactions: plan again from what is there now.
          local now_heads = self:get_current_heads()
          if not same_set(now_heads, expected) then
            steps = self.migrations_fn(now_heads, self) or {}
            expected = now_heads
            k = 1
            if #steps == 0 then break end
            step = steps[1]
          end
        end
      end
      if self.as_sql and #expected == 0 then
        self:ensure_version_table()
      end
      local t0 = core.now()
      log("luamig.runtime.migration", "Running " .. describe(step))
      if self.as_sql then self:static_output("-- Running " .. short_log(step)) end
      self.running_step, self.step_started = step, t0
      if not step.stamp then
        run_code(self, step, kw)
        if not keep_loaded then loaded[step.rev.path] = nil end
      end
      self:apply_version_ops(step.ops)
      if self.history_table then
        self:record_history(step, true, nil, (core.now() - t0) * 1000)
      end
      self.running_step = nil
      expected = replay(expected, step.ops)
      if self.on_version_apply then
        self.on_version_apply { ctx = self, step = step, heads = expected, run_args = kw }
      end
      if per_migration then commit() end
      if not quiet and not self.as_sql and not step.stamp then
        log("luamig.runtime.migration", string.format("Finished %s in %.1f ms",
          short_log(step), (core.now() - t0) * 1000))
      end
      k = k + 1
    end
    if began_outer and online then
      commit()
    elseif not online and not per_migration then
      commit()
    end
  end, function(e)
    if type(e) ~= "string" then e = tostring(e) end
    return e
  end)
  if not ok then
    if online and conn:in_transaction() then pcall(conn.rollback, conn) end
    if online and self.history_table and self.running_step then
      -- The step's own rows went with the rollback; the failure itself is
      -- recorded in a transaction of its own. Never hides the real error.
      local step, t0 = self.running_step, self.step_started
      pcall(function()
        conn:begin()
        self.history_ready = false
        self:ensure_history_table()
        self:record_history(step, false, err, (core.now() - t0) * 1000)
        conn:commit()
      end)
      if conn:in_transaction() then pcall(conn.rollback, conn) end
    end
    release_lock(self)
    error(err, 0)
  end
  release_lock(self)
end

---------------------------------------------------------------------------
-- The `context` module seen by env.lua
---------------------------------------------------------------------------

local function truthy(v)
  if type(v) == "string" then
    v = v:lower()
    return v == "true" or v == "1" or v == "yes" or v == "on"
  end
  return v and true or false
end

local function new_context_module(cmd, config, work)
  local context = { config = config }
  local mc = nil
  local script_heads = nil

  function context.is_offline_mode() return cmd.sql and true or false end
  function context.is_transactional_ddl() return true end
  function context.get_tag_argument() return cmd.tag end
  function context.get_x_argument(opts)
    local as_dict = opts == true or (type(opts) == "table" and opts.as_dictionary)
    if not as_dict then
      local t = {}
      for i, v in ipairs(cmd.x) do t[i] = v end
      return t
    end
    local d = {}
    for _, v in ipairs(cmd.x) do
      local k, val = v:match("^([^=]*)=(.*)$")
      if k then d[k] = val else d[v] = "" end
    end
    return d
  end
  function context.get_revision_argument() return work.destination end
  function context.get_starting_revision_argument() return work.starting_rev end
  function context.get_head_revisions() return core.heads() end
  function context.get_head_revision()
    local h = core.heads()
    if #h > 1 then
      fail("The script directory has multiple heads (due to branching).Please use " ..
        "get_heads(), or merge the branches using luamig merge.")
    end
    return h[1]
  end

  function context.configure(opts)
    opts = opts or {}
    if mc and mc.owns_connection and mc.connection then mc.connection:close() end
    local as_sql = cmd.sql and true or false
    local dialect_name = opts.dialect_name
    local conn = nil
    local url = opts.url
    if type(url) == "table" then url = tostring(url) end
    if opts.connection then
      conn = opts.connection
      dialect_name = conn.dialect
      if as_sql then
        fail("Can't specify a connection in --sql mode; pass url = ... to context.configure")
      end
    elseif url then
      local u, perr = core.parse_url(url)
      if not u then fail(perr) end
      dialect_name = dialect_name or u.dialect
    end
    if not dialect_name then
      fail("context.configure needs url = ... or connection = ... (or dialect_name in --sql mode)")
    end
    local lock_timeout = opts.lock_timeout
    if lock_timeout == nil then
      lock_timeout = tonumber(config.get_main_option("lock_timeout") or "")
    end
    if lock_timeout == nil then lock_timeout = 300 end
    local use_lock = not cmd.no_lock
    if opts.lock == false or truthy(config.get_main_option("no_lock", "false")) then
      use_lock = false
    end
    local tpm = opts.transaction_per_migration
    if tpm == nil then tpm = truthy(config.get_main_option("transaction_per_migration", "false")) end
    local vt = opts.version_table or config.get_main_option("version_table") or "luamig_version"
    local vpk = opts.version_table_pk
    if vpk == nil then vpk = true end
    mc = setmetatable({
      opts = opts,
      dialect = load_dialect(dialect_name, as_sql),
      as_sql = as_sql,
      connection = conn,
      url = url,
      output = opts.output_buffer or io.stdout,
      transaction_per_migration = tpm and true or false,
      version_table = vt,
      version_table_schema = opts.version_table_schema or config.get_main_option("version_table_schema"),
      version_table_pk = vpk,
      lock_timeout = lock_timeout ~= false and lock_timeout or nil,
      use_lock = use_lock,
      dont_mutate = work.dont_mutate,
      purge = work.purge,
      on_version_apply = opts.on_version_apply,
      history_table = opts.history_table or config.get_main_option("history_table"),
      checksums = opts.checksums or config.get_main_option("checksums", "warn"),
      migrations_fn = work.fn,
      script_location = cmd.script_location,
      starting_heads = work.starting_heads,
      config = config,
      script = work,
    }, MigrationContext)
    if opts.tag then cmd.tag = opts.tag end
    return mc
  end

  local function ensure_mc()
    if not mc then fail("context.configure{...} must be called before this") end
    return mc
  end

  function context.get_context() return ensure_mc() end
  function context.get_bind() return ensure_mc():get_bind() end
  function context.execute(sql, params) return ensure_mc():execute(sql, params) end
  function context.static_output(text) return ensure_mc():static_output(text) end

  -- A "logical" transaction for env.lua, as Alembic's begin_transaction():
  -- run_migrations manages the real transactions, so this only calls fn.
  function context.begin_transaction(fn)
    if fn then return fn() end
    return { __close = function() end, rollback = function() end, commit = function() end }
  end

  function context.run_migrations(kw)
    local m = ensure_mc()
    if not m.connection and not m.as_sql then
      if not m.url then fail("context.configure needs url = ... or connection = ...") end
      m.connection = core.connect(m.url)
      m.owns_connection = true
    end
    local ok, err = pcall(m.run_migrations, m, kw or {})
    if m.owns_connection and m.connection then
      m.connection:close()
      m.connection = nil
    end
    if not ok then error(err, 0) end
  end

  return context, function() return mc end
end

---------------------------------------------------------------------------
-- Running env.lua
---------------------------------------------------------------------------

local function run_env(cmd, config, work)
  local context, get_mc = new_context_module(cmd, config, work)
  package.loaded["luamig.context"] = context
  local env_path = cmd.script_location .. "/env.lua"
  local env = setmetatable({ context = context, config = config }, { __index = _G })
  local chunk, err = loadfile(env_path, "t", env)
  if not chunk then
    local f = io.open(env_path, "r")
    if not f then fail("No env.lua found in " .. cmd.script_location) end
    f:close()
    fail(err)
  end
  local ok, e = pcall(chunk)
  package.loaded["luamig.context"] = nil
  local mc = get_mc()
  if mc and mc.owns_connection and mc.connection then mc.connection:close() end
  if not ok then fail(tostring(e)) end
end

---------------------------------------------------------------------------
-- Commands
---------------------------------------------------------------------------

local function split_range(rev)
  local a, b = rev:match("^(.-):(.*)$")
  return a, b
end

local function starting_heads_of(start)
  if start == nil or start == "" or start == "base" then return {} end
  local ids = core.resolve(start)
  return ids
end

local commands = {}

function commands.upgrade(cmd, config)
  local revision = cmd.positional[1]
  local work = {}
  if revision:find(":", 1, true) then
    if not cmd.sql then fail("Range revision not allowed") end
    work.starting_rev, revision = split_range(revision)
    work.starting_heads = starting_heads_of(work.starting_rev)
  end
  work.destination = revision
  work.fn = function(heads) return (core.plan("upgrade", heads, revision)) end
  run_env(cmd, config, work)
end

function commands.downgrade(cmd, config)
  local revision = cmd.positional[1]
  local work = {}
  if revision:find(":", 1, true) then
    if not cmd.sql then fail("Range revision not allowed") end
    work.starting_rev, revision = split_range(revision)
    work.starting_heads = starting_heads_of(work.starting_rev)
  elseif cmd.sql then
    fail("downgrade with --sql requires <fromrev>:<torev>")
  end
  work.destination = revision
  work.fn = function(heads)
    local steps, warnings = core.plan("downgrade", heads, revision)
    for _, w in ipairs(warnings or {}) do warn(w) end
    return steps
  end
  run_env(cmd, config, work)
end

function commands.stamp(cmd, config)
  local work = { purge = cmd.purge }
  local destinations = {}
  if cmd.sql then
    if cmd.purge then fail("Can't use --purge with --sql mode") end
    local start
    for _, r in ipairs(cmd.positional) do
      if r:find(":", 1, true) then
        local s, d = split_range(r)
        if start ~= nil and start ~= s then
          fail("Stamp operation with --sql only supports a single starting revision at a time")
        end
        start = s
        r = d
      end
      destinations[#destinations + 1] = r
    end
    work.starting_rev = start
    work.starting_heads = starting_heads_of(start)
  else
    for _, r in ipairs(cmd.positional) do destinations[#destinations + 1] = r end
  end
  work.destination = destinations[1]
  work.fn = function(heads)
    return (core.plan("stamp", heads, destinations, cmd.purge))
  end
  run_env(cmd, config, work)
end

function commands.current(cmd, config)
  local work = { dont_mutate = true }
  work.fn = function(heads, mc)
    if cmd.verbose then
      config.print_stdout("Current revision(s) for " .. (mc.connection and mc.connection.url or
        core.redact(mc.url or "")) .. ":")
    end
    for _, line in ipairs(core.current_lines(heads, cmd.verbose)) do
      config.print_stdout(line)
    end
    if cmd.check_heads then
      local all = core.heads()
      local cur = core.current_ids(heads)
      if not same_set(all, cur) then
        fail("Database is not on all head revisions")
      end
    end
    return {}
  end
  run_env(cmd, config, work)
end

function commands.ensure_version(cmd, config)
  local work = {}
  work.fn = function(heads, mc)
    if mc.as_sql then mc:ensure_version_table() end
    return {}
  end
  run_env(cmd, config, work)
end

-- Autogenerate compares with the database only when it is at every head.
local function require_up_to_date(heads)
  if not same_set(core.resolve("heads"), core.current_ids(heads)) then
    fail("Target database is not up to date.")
  end
end

local function target_metadata(mc)
  local md = mc.opts.target_metadata
  if md == nil then
    fail("Can't proceed with --autogenerate option; environment script " ..
      mc.script.script_location .. "/env.lua does not provide a MetaData object or " ..
      "sequence of objects to the context.")
  end
  return md
end

-- revision: env.lua runs with --autogenerate (or revision_environment =
-- true); returns to C what the new file holds.
function commands.revision(cmd, config)
  local result = {}
  local work = { dont_mutate = true, script_location = cmd.script_location }
  work.fn = function(heads, mc)
    if not cmd.autogenerate then return {} end
    require_up_to_date(heads)
    local ag = require "luamig.autogenerate"
    local script = ag.produce_migrations(mc, target_metadata(mc))
    script.message = cmd.message
    script.rev_id = cmd.rev_id
    script.head = cmd.head
    local directives = { script }
    local hook = mc.opts.process_revision_directives
    if hook then hook(mc, { cmd.head }, directives) end
    if #directives == 0 then
      result.skip = true
      return {}
    end
    script = directives[1]
    if ag.is_empty(script.upgrade_ops) and not cmd.allow_empty then
      result.empty = true
      return {}
    end
    local text = ag.render_script(mc, script)
    result.upgrades = text.upgrades
    result.downgrades = text.downgrades
    result.imports = text.imports
    result.message = script.message
    result.rev_id = script.rev_id
    return {}
  end
  run_env(cmd, config, work)
  return result
end

-- check: autogenerate without writing; exit 1 and list what differs.
function commands.check(cmd, config)
  local work = { dont_mutate = true, script_location = cmd.script_location }
  local found = 0
  work.fn = function(heads, mc)
    require_up_to_date(heads)
    local ag = require "luamig.autogenerate"
    local diffs = ag.compare_metadata(mc, target_metadata(mc))
    found = #diffs
    if cmd.json then
      io.stdout:write(ag.diffs_json(diffs), "\n")
    elseif found == 0 then
      config.print_stdout("No new upgrade operations detected.")
    else
      for _, line in ipairs(ag.diff_lines(diffs)) do io.stdout:write(line, "\n") end
    end
    return {}
  end
  run_env(cmd, config, work)
  if found > 0 then
    fail(string.format("New upgrade operations detected: %d difference%s", found,
      found == 1 and "" or "s"))
  end
  return 0
end

-- history with "current" in its range, or -i: needs the database's heads.
function commands.history(cmd, config)
  local lower, upper
  if cmd.rev_range then lower, upper = split_range(cmd.rev_range) end
  local work = { dont_mutate = true }
  work.fn = function(heads)
    local lo, up = lower, upper
    if lo == "current" then lo = heads end
    if up == "current" then up = heads end
    local text = core.history_text(lo, up, heads, cmd.verbose, cmd.indicate_current)
    if not quiet then io.stdout:write(text) end
    return {}
  end
  run_env(cmd, config, work)
end

-- `show current`: the rows' log entries, as `show <rev>` prints them (no
-- "(current)" marks); nothing at all on an unversioned database.
function commands.show(cmd, config)
  local work = { dont_mutate = true }
  work.fn = function(heads)
    for _, id in ipairs(heads) do
      if not quiet then io.stdout:write(core.show_text(id)) end
    end
    return {}
  end
  run_env(cmd, config, work)
end

function commands.edit(cmd, config)
  local work = { dont_mutate = true }
  work.fn = function(heads)
    if #heads == 0 then fail("No current revisions") end
    for _, id in ipairs(heads) do core.edit(id) end
    return {}
  end
  run_env(cmd, config, work)
end

-- Entry point from C: runs one command. Returns an exit status, or raises.
function M.main(cmd)
  quiet = cmd.quiet
  local config = new_config(cmd)
  local fn = commands[cmd.command]
  if not fn then fail("command " .. cmd.command .. " is not available") end
  local result = fn(cmd, config)
  if result == nil then return 0 end
  return result
end

return M
