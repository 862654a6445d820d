--[[ luamig.migration — the migration context (Alembic's MigrationContext): where operations
run, the version table, and the run of a plan's steps.

  migration.new(fields) -> mc       the context env.lua's context.configure builds (see
                                    luamig.environment for the fields)
  migration.dialect_for(name, as_sql) -> a dialect object for the context (offline, with the
                                    dialect's offline literal rules)
  migration.same_set(a, b) -> whether two lists of heads hold the same revisions
  migration.replay(heads, ops) -> the heads after a step's version-table ops

The context's contract with luamig.op (which finds it through op.set_context_provider, set
here when the first step runs: the context of the step that runs, nil between steps):
  mc.dialect, mc.as_sql, mc.opts, mc.connection,
  mc:execute(sql, params)       runs a statement online (":name" parameters bound) or writes it
                                offline (parameters rendered as literals, ";" appended)
  mc:query(sql, params) -> rows online; raises in --sql mode
  mc:autocommit_block(fn)       runs fn outside the transaction
Also: mc:static_output(text), mc:get_bind(), mc:inspect(opts) (luamig.inspect on the
connection), mc:version_table_name(), mc:table_exists(name), mc:version_table_exists(),
mc:get_current_heads(), mc:version_table_ddl(), mc:ensure_version_table(),
mc:apply_version_ops(ops), mc:check_checksums(heads) (luamig.audit's comparison, as every
online run does it with a history table: warn, or fail with checksums = error), and
  mc:run_migrations(kw)         takes the runner lock (luamig.lock), reads the version table,
                                compares the applied revisions' checksums (history_table; not
                                for `validate`, which reports them itself), asks
                                mc.migrations_fn(heads, mc) for the steps, compiles every
                                revision first (luamig.loader), then runs each step — the
                                revision's upgrade()/downgrade() with kw, then its version-table
                                changes and its audit row (luamig.audit) — inside one
                                transaction per run, or per migration with
                                transaction_per_migration; on an error it rolls back, records
                                the failure and raises. Online, SIGINT and SIGTERM are such an
                                error (core.interruptible): the message says what was rolled
                                back and where the database is ("Interrupted by SIGINT during
                                upgrade of revision X at file:line; rolled back, the database
                                is at W (nothing applied)").
Every method answers both call styles, mc:execute(sql) and mc.execute(sql).
]]

local core = require "luamig.core"
local lazy = require "luamig.lazy"
local luamig = require "luamig"
local dialects = require "luamig.sqldialect"
local op = lazy "luamig.op"
local named = require "luamig.params"
local log = require "luamig.log"
local loader = require "luamig.loader"
local lint = lazy "luamig.lint"
local audit = lazy "luamig.audit"   -- the history table: most projects have none
local lock = require "luamig.lock"
local timeouts = require "luamig.timeouts"
local dryrun = lazy "luamig.dryrun"
local events = require "luamig.events"
local txt = lazy "luamig.text"   -- (only a failure with advice uses it)

local M = {}

local LOGGER = "luamig.runtime.migration"

-- An error that carries its own, final message (no position prefix).
local function fail(msg)
  error(msg, 0)
end

local active_context = nil     -- the MigrationContext while a step's code runs

-- The op layer finds the context of the running migration here: told when the first step runs,
-- so that a command that runs none (current, heads of the database) never loads the op layer.
local told_op = false
local function provide_context()
  if not told_op then
    op.set_context_provider(function() return active_context end)
    told_op = true
  end
end

---------------------------------------------------------------------------
-- The context and its statements
---------------------------------------------------------------------------

local MigrationContext = {}

-- Methods answer both call styles: ctx:execute(sql) and, as DESIGN.md asks
-- of everything users reach from op and context, ctx.execute(sql) —
-- e.g. op.get_context().autocommit_block(function() ... end).
-- Each context has a metatable of its own whose __index table holds the
-- context's bound methods, made when the context is: a method is one table
-- lookup, and a field the context lacks (most options) falls through to the
-- class table without a function call. The bound methods stay out of the
-- context's own fields, which scratch runs copy.
local function instance_meta(self)
  local methods = setmetatable({}, { __index = MigrationContext })
  for key, m in pairs(MigrationContext) do
    if type(m) == "function" then
      methods[key] = function(a, ...)
        if a == self then return m(self, ...) end
        return m(self, a, ...)
      end
    end
  end
  return { __index = methods }
end

-- Writes offline output: text + "\n\n", as Alembic's static_output.
function MigrationContext:static_output(text)
  self.output:write(text, "\n\n")
end

-- Runs a statement on connection conn, its named parameters bound.
local function run_statement(conn, sql, params)
  if params == nil then
    return conn:execute(sql)
  end
  local q, values = named.bind(sql, params, conn.placeholder)
  for k = 1, values.n do values[k] = named.bindable(values[k]) end
  return conn:execute(q, values)
end

-- Runs a statement (online) or writes it (offline). Params are named.
function MigrationContext:execute(sql, params)
  if type(sql) == "table" and sql.text then
    sql = sql.text
  end
  -- A migration's statements run inside luamig's transaction: one that ends it would commit
  -- half a revision (and, on SQLite, drop the runner lock). Refused before it is sent.
  if self.running_step and not self.in_autocommit and type(sql) == "string" then
    local words = named.transaction_control(sql)
    if words then
      fail(words .. " would end the transaction luamig runs this migration in and leave it "
        .. "half-applied; run it inside op.get_context().autocommit_block(function() ... end)")
    end
  end
  if self.as_sql then
    local text = sql
    if params ~= nil or sql:find(":", 1, true) then
      if params ~= nil then
        text = named.bind(sql, params, nil, function(v) return self.dialect:literal(v) end)
      end
    end
    text = op._offline_text(text)
    self:static_output(text .. ";")
    return 0
  end
  local conn = self.connection
  if self.running_step then
    self.statement_count = (self.statement_count or 0) + 1
    if self.dry_run then
      return dryrun.statement(self, sql, function() return run_statement(conn, sql, params) end)
    end
  end
  return run_statement(conn, sql, params)
end

-- Runs a query online and returns rows (each with [i] and [column] fields).
function MigrationContext:query(sql, params)
  if self.as_sql then
    fail("This operation cannot proceed in --sql mode: it needs to read from the database")
  end
  local conn = self.connection
  if params == nil then return conn:query(sql) end
  local q, values = named.bind(sql, params, conn.placeholder)
  for k = 1, values.n do values[k] = named.bindable(values[k]) end
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
  if self.dry_run then return dryrun.autocommit(self) end
  local conn = self.connection
  local was_in = conn:in_transaction()
  self.retry_savepoint = nil   -- committed: luamig.timeouts can no longer roll back to it
  if was_in then conn:commit() end
  self.in_autocommit = true
  local ok, err = pcall(fn)
  self.in_autocommit = false
  if was_in then conn:begin() end
  if not ok then error(err, 0) end
end

-- The live schema through the connection (luamig.inspect) as a schema-model value: what
-- batch mode reads and autogenerate compares the models with.
function MigrationContext:inspect(opts)
  return luamig.inspect(self.connection, opts)
end

function MigrationContext:get_bind()
  return self.connection
end

---------------------------------------------------------------------------
-- The version table
---------------------------------------------------------------------------

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

function MigrationContext:get_current_heads()
  if self.as_sql then
    return self.starting_heads or {}
  end
  if not self:version_table_exists() then return {} end
  local rows = self.connection:query("SELECT version_num FROM " .. self:version_table_name())
  local heads = {}
  for i, r in ipairs(rows) do
    -- a row a hand left NULL would read as no revision at all: the whole history would run
    -- again over the schema it made
    if r[1] == nil then
      error(string.format("The version table %s has a row whose version_num is NULL: delete it, "
        .. "or replace the rows with 'luamig stamp --purge <revision>'", self:version_table_name()), 0)
    end
    heads[i] = r[1]
  end
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
  -- the statements' text, worked out once per context (a step runs one or two)
  local vs = self.version_sql
  if not vs then
    local tbl = self:version_table_name()
    local col = self.version_table .. ".version_num"
    if self.version_table_schema then col = self.version_table_schema .. "." .. col end
    vs = { insert = "INSERT INTO " .. tbl .. " (version_num) VALUES (:to)",
           update = "UPDATE " .. tbl .. " SET version_num=:to WHERE " .. col .. " = :from",
           delete = "DELETE FROM " .. tbl .. " WHERE " .. col .. " = :from" }
    self.version_sql = vs
  end
  for _, change in ipairs(ops) do
    local kind, from, to = change[1], change.from, change.to
    local sql, params
    if kind == "insert" then
      sql = vs.insert
      params = { to = to }
    elseif kind == "update" then
      sql = vs.update
      params = { to = to, from = from }
    else
      sql = vs.delete
      params = { from = from }
    end
    local changed = self:execute(sql, params)
    if not self.as_sql and kind ~= "insert" and changed ~= 1 then
      local what = kind == "update" and string.format("updating '%s' to '%s'", from, to)
        or string.format("deleting '%s'", from)
      fail(string.format("Online migration expected to match one row when %s in '%s'; %d found",
        what, self.version_table, changed))
    end
  end
end

---------------------------------------------------------------------------
-- Running the steps
---------------------------------------------------------------------------

local function short_log(step)
  local name = step.stamp and "stamp_revision" or (step.upgrade and "upgrade" or "downgrade")
  if step.checkpoint then name = name .. " checkpoint" end
  return string.format("%s %s -> %s", name, table.concat(step.from, ", "),
    table.concat(step.to, ", "))
end

-- A step as the --json events show it (luamig.events).
local function step_fields(step, index)
  local function list(t)
    local out = events.array()
    for i, v in ipairs(t or {}) do out[i] = v end
    return out
  end
  return { index = index, revision = step.rev and step.rev.revision or events.null,
           direction = step.stamp and "stamp" or (step.upgrade and "upgrade" or "downgrade"),
           from = list(step.from), to = list(step.to),
           message = step.rev and step.rev.message or events.null,
           checkpoint = step.checkpoint or nil }
end

-- The progress line of step k of n (luamig.log draws it on a terminal only): the revision, the
-- time since the run began and, from the second step on, the time the remaining steps should
-- take at the pace of those done.
local function progress_text(k, n, step, elapsed)
  local rev = step.rev and step.rev.revision or table.concat(step.to or {}, ",")
  local text = string.format("step %d of %d, %s %s, elapsed %.1f s", k, n,
    step.stamp and "stamp" or (step.upgrade and "upgrade" or "downgrade"), rev, elapsed)
  if k > 1 then
    text = text .. string.format(", about %.1f s left", elapsed / (k - 1) * (n - k + 1))
  end
  return text
end

-- The plan event: where the database is and every step, in order.
local function plan_event(heads, steps, replanned)
  if not events.active() then return end   -- a step list the size of the plan, for nothing
  local list, from = events.array(), events.array()
  for k, step in ipairs(steps) do list[k] = step_fields(step, k) end
  for k, h in ipairs(heads) do from[k] = h end
  events.emit("plan", { from = from, steps = list, replanned = replanned })
end

-- The "Running" line's text: the step's short_log text s and the revision's message.
local function describe(step, s)
  if step.rev and step.rev.message ~= "" and not step.stamp then
    s = s .. ", " .. step.rev.message
  end
  return s
end

-- Runs a step's migration code, turning an error into one line that names
-- the revision, the file and the line.
local function run_code(mc, step, kw)
  local rev = step.rev
  local fn, fname = loader.step_function(step)
  if not fn then
    fail(string.format("%s: revision %s has no %s() function", rev.path, rev.revision, fname))
  end
  local place
  local function handler(e)
    place = loader.where_in(rev.path, 2)
    if type(e) ~= "string" then e = tostring(e) end
    e = loader.whole_names(e, loader.display_path(rev.path))
    -- --raiseerr: the traceback of the revision's code, down to this xpcall
    if os.getenv("LUAMIG_TRACEBACK") then
      e = (debug.traceback(e, 2):gsub("\n\t%[C%]: in function 'xpcall'.*", ""))
    end
    return e
  end
  provide_context()
  active_context = mc
  local ok, err = xpcall(fn, handler, kw)
  active_context = nil
  if not ok then
    mc.failed_at = place or loader.display_path(rev.path)
    -- A message that already starts with the place does not repeat it.
    if place and err:sub(1, #place + 1) == place .. ":" then
      err = err:sub(#place + 3)
    end
    fail(string.format("%s of revision %s failed at %s: %s", fname, rev.revision,
      place or loader.display_path(rev.path), err))
  end
  -- the code may have caught an interruption (a pcall around everything) and returned
  core.check_interrupt()
end

function M.same_set(a, b)
  if #a ~= #b then return false end
  local s = {}
  for _, v in ipairs(a) do s[v] = true end
  for _, v in ipairs(b) do if not s[v] then return false end end
  return true
end

-- Replays a step's version ops on a list of heads (also M.replay, for the planners outside).
local function replay(heads, ops)
  local out = {}
  for _, h in ipairs(heads) do out[#out + 1] = h end
  for _, change in ipairs(ops) do
    if change[1] == "insert" then
      out[#out + 1] = change.to
    else
      for k, h in ipairs(out) do
        if h == change.from then
          if change[1] == "update" then out[k] = change.to else table.remove(out, k) end
          break
        end
      end
    end
  end
  return out
end

-- Compares the checksums the history table recorded for the revisions applied at `heads`
-- with their files, whatever the command: a warning per changed file, or, with checksums =
-- error, the first one as the command's failure (before anything is changed). The revisions
-- `stamp --resync` records (self.resync, a set) are what it is told to accept, and while it
-- runs the others only warn.
function MigrationContext:check_checksums(heads)
  if #heads == 0 then return end   -- a fresh database: nothing applied (audit not loaded)
  for _, complaint in ipairs(audit.changed_revisions(self, heads, self.resync)) do
    if self.checksums == "error" and not self.resync then fail(complaint) end
    log.warning(LOGGER, complaint)
  end
end

M.replay = replay

-- "1111", "1111, 2222", or "base" for no revision.
local function heads_text(heads)
  if #heads == 0 then return "base" end
  local sorted = {}
  for k, h in ipairs(heads) do sorted[k] = h end
  table.sort(sorted)
  return table.concat(sorted, ", ")
end

-- The one line of a run that SIGINT or SIGTERM stopped: what it was doing, whether that was
-- rolled back, and where the database is now (read again: per migration, what committed
-- before the signal stays).
local function interrupted_message(mc, signal, start_heads, rolled_back)
  local s = "Interrupted by " .. signal
  local step = mc.running_step
  if step and step.stamp then
    s = s .. " during " .. short_log(step)
  elseif step then
    s = string.format("%s during %s of revision %s", s, step.upgrade and "upgrade" or "downgrade",
      step.rev.revision)
    if mc.failed_at then s = s .. " at " .. mc.failed_at end
  elseif mc.lock_waiting then
    s = s .. " while waiting for the migration lock"
  end
  if rolled_back then s = s .. "; rolled back" end
  local ok, now = pcall(mc.get_current_heads, mc)
  if ok then
    s = s .. (rolled_back and ", " or "; ") .. "the database is at " .. heads_text(now)
    if not start_heads or M.same_set(now, start_heads) then s = s .. " (nothing applied)" end
  end
  return s
end

-- A run in one transaction keeps every lock it takes until it ends, and PostgreSQL's lock table
-- is shared by the whole server: a plan that surely overflows it stops before its first step
-- (the dialect's lock_table_capacity; without one, or when it cannot tell, the run goes on and
-- an overflow is rolled back with the same advice). The table can borrow some of the server's
-- spare shared memory, so only a lower bound of the relations locked (lint.relations_locked)
-- above twice its slots is sure. Counting runs each revision's code once more, without a
-- database: it is done only for plans long enough to get there at 8 relations a migration.
local SURE_OVERFLOW, RELATIONS_PER_MIGRATION = 2, 8

local function check_lock_table(mc, steps, keep_loaded)
  if not mc.dialect.lock_table_capacity then return end
  local capacity = mc.dialect:lock_table_capacity(mc.connection)
  if not capacity then return end
  local sure = SURE_OVERFLOW * capacity
  if #steps * RELATIONS_PER_MIGRATION <= sure then return end
  local relations = lint.relations_locked(steps, mc.dialect, mc.opts, not keep_loaded)
  if relations > sure then
    fail(mc.dialect:lock_table_too_small(#steps, relations, capacity))
  end
end

function MigrationContext:run_migrations(kw)
  -- a dry run is one transaction, rolled back at the end (luamig.dryrun)
  local per_migration = self.transaction_per_migration and not self.dry_run
  local conn = self.connection
  local online = not self.as_sql
  local heads, start_heads
  if self.purge then
    if self.as_sql then fail("Can't use --purge with --sql mode") end
  end

  log.info(LOGGER, "Context impl " .. self.dialect.impl_name .. ".")
  log.info(LOGGER, "Will assume transactional DDL.")

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

  -- Everything but the final commit of a transaction per run; online and mutating, SIGINT and
  -- SIGTERM stop it as a failing step would (core.interruptible).
  local function run()
    self.failed_at = nil
    if online and not self.dont_mutate and self.use_lock then
      lock.take(self)
    end
    if online and not self.dont_mutate then
      begin()
      began_outer = true
      if self.dry_run then dryrun.start(self) end
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
      -- a fresh database (no version table yet) may start from a checkpoint (luamig.checkpoint)
      if #heads == 0 then self.fresh_database = not online or not self:version_table_exists() end
      if online and #heads == 0 and not self.dont_mutate then
        self:ensure_version_table()
      end
    end
    start_heads = heads
    events.note_heads("before", heads)
    events.note_heads("after", heads)
    if online and self.history_table and self.checksums ~= "off" and
      not self.reports_checksums then
      self:check_checksums(heads)
    end
    local steps = self.migrations_fn(heads, self) or {}
    plan_event(heads, steps, false)
    -- Compile every revision the plan runs before running any: a syntax
    -- error anywhere stops the run before it touches the database.
    local keep_loaded = loader.precompile(steps)
    if online and not per_migration and not self.dont_mutate then
      check_lock_table(self, steps, keep_loaded)
    end
    if self.history_table and #steps > 0 then
      audit.ensure_table(self)
    end
    local expected = heads
    local k = 1
    local ran = 0
    local run_t0 = core.now()
    while k <= #steps do
      local step = steps[k]
      if per_migration and (k > 1 or not online) then
        begin()
        if online then
          -- The runner lock keeps other runners out between our transactions,
          -- but not a run with --no-lock or a hand edit: plan again from what
          -- is there now.
          local now_heads = self:get_current_heads()
          if not M.same_set(now_heads, expected) then
            steps = self.migrations_fn(now_heads, self) or {}
            plan_event(now_heads, steps, true)
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
      local step_text = short_log(step)
      log.info(LOGGER, "Running " .. describe(step, step_text))
      if log.wants_progress() then log.progress(progress_text(k, #steps, step, t0 - run_t0)) end
      if self.as_sql then self:static_output("-- Running " .. step_text) end
      self.running_step, self.step_started = step, t0
      if events.active() then events.emit("step_start", step_fields(step, k)) end
      self.statement_count = 0
      local statements = 0
      if not step.stamp then
        timeouts.run_step(self, step, function() run_code(self, step, kw) end)
        statements = self.statement_count
        if not keep_loaded then loader.forget(step.rev.path) end
        -- whatever the code did (a procedure that commits, SQL luamig could not read), the
        -- step's transaction must still be open, or it was not all or nothing
        if online and not conn:in_transaction() then
          fail(string.format("%s of revision %s ended luamig's transaction (a COMMIT or "
            .. "ROLLBACK in its code?): what it did before that is committed; the version "
            .. "table was not changed", step.upgrade and "upgrade" or "downgrade", step.rev.revision))
        end
      end
      self:apply_version_ops(step.ops)
      if self.history_table then
        audit.record(self, step, true, nil, (core.now() - t0) * 1000)
      end
      self.running_step = nil
      expected = replay(expected, step.ops)
      if self.on_version_apply then
        self.on_version_apply { ctx = self, step = step, heads = expected, run_args = kw }
      end
      if per_migration then
        commit()
        if online and not self.dont_mutate then events.note_heads("after", expected) end
      end
      if not self.as_sql and not step.stamp then
        log.info(LOGGER, string.format("Finished %s in %.1f ms",
          step_text, (core.now() - t0) * 1000))
      end
      if events.active() then
        local ended = step_fields(step, k)
        ended.duration_ms, ended.statements = (core.now() - t0) * 1000, statements
        events.emit("step_end", ended)
      end
      ran = ran + 1
      k = k + 1
    end
    local after = events.array()
    for i, h in ipairs(expected) do after[i] = h end
    events.record_run { steps = ran, heads = after }
    -- what the final commit will leave (a dry run rolls back, leaving what it found)
    if not self.dry_run then events.note_heads("after", after) end
  end

  -- The final commit (with signals only recorded: once COMMIT is sent, finishing it is the
  -- database's business), or, after a failure or a signal, the rollback, the failed step's
  -- history row, the lock released, and the error raised.
  local function finish(ok, err, signal)
    log.progress_clear()
    if ok and began_outer then
      -- a dry run ends in a rollback instead (luamig.dryrun)
      ok, err = pcall((self.dry_run and online) and function() dryrun.finish(self) end or commit)
      if not ok and type(err) ~= "string" then err = tostring(err) end
    end
    if not ok then
      local failed = self.running_step
      events.failed_in { revision = failed and failed.rev and failed.rev.revision,
                         place = failed and self.failed_at }
      -- what the rollback takes back: the step that ran, or everything of a run in one
      -- transaction (SQLite may have rolled an interrupted statement's transaction back itself)
      local rolled_back = online and (self.running_step ~= nil or (began_outer and not per_migration))
      -- a whole run in one transaction, or a checkpoint's step, that overflowed the lock table:
      -- say what to do
      local checkpoint = failed ~= nil and failed.checkpoint == true
      local advice = online and (checkpoint or not per_migration)
        and self.dialect.lock_table_full_advice
        and self.dialect:lock_table_full_advice(core.error_code(), checkpoint)
      if online and conn:in_transaction() then pcall(conn.rollback, conn) end
      if advice and type(err) == "string" then err = txt.rstrip(err) .. "; " .. advice end
      if signal then err = interrupted_message(self, signal, start_heads, rolled_back) end
      if online and self.history_table and self.running_step and not self.dry_run then
        -- The step's own rows went with the rollback; the failure itself is
        -- recorded in a transaction of its own. Never hides the real error.
        local step, t0 = self.running_step, self.step_started
        pcall(function()
          conn:begin()
          self.history_ready = false
          audit.ensure_table(self)
          audit.record(self, step, false, err, (core.now() - t0) * 1000)
          conn:commit()
        end)
        if conn:in_transaction() then pcall(conn.rollback, conn) end
      end
      lock.release(self)
      error(err, 0)
    end
    lock.release(self)
  end

  if online and not self.dont_mutate then
    return core.interruptible(conn, run, finish)
  end
  local ok, err = xpcall(run, function(e)
    if type(e) ~= "string" then e = tostring(e) end
    return e
  end)
  finish(ok, err)
end

-- Makes a migration context of `fields` (taken over, not copied).
function M.new(fields)
  return setmetatable(fields, instance_meta(fields))
end

-- Offline output doubles backslashes in string literals where SQLAlchemy's
-- literal rendering does (PostgreSQL); online, values are bound.
function M.dialect_for(name, as_sql)
  local d = dialects.get(name)
  if as_sql and d.offline_backslash_escapes then d.backslash_escapes = true end
  return d
end

return M
