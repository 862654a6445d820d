--[[ luamig.lint — what each migration will do to a live database, before it runs.

Each revision's upgrade() (or downgrade()) runs against a recording context: no database, no
SQL sent; every op.* call is kept as its operation object (luamig.op), with the file:line of the
call in the revision file.  Each operation is then described by the dialect's facts
(dialect.lint: luamig.sqldialect.postgresql_lint, sqlite_lint — the lock it takes, whether it
rewrites or scans) and checked against the rules: the dialect's, the DB-neutral ones below, and
the user's.

  lint.catalogue(dialect) -> { { id, severity, summary, doc }, ... } every built-in rule
  lint.settings(config, dialect) -> settings
      reads luamig.ini's main section: lint.<rule> = error|warn|off, lint_rules = path.lua
      (user rules), and checks them; a bad value raises one line naming the setting
  lint.run{ steps, dialect, settings, opts, out, verbose } -> { errors, warnings, waived,
      operations, revisions }
      steps: core.plan's steps (upgrade() or downgrade() per step.upgrade); opts: the migration
      context's opts (naming conventions); out(line): where lines go; verbose: a line for every
      operation (its lock), not only for findings; on_finding(f) (optional, lint --json) is
      also called for each finding with { revision, file, line, rule, severity, message, fix,
      doc, waived, reason } (fields that do not apply are nil)
  lint.run_operations{ operations, dialect, settings, out, label } -> the same summary, for
      operation objects that are not in a file yet (revision --autogenerate)
  lint.relations_locked(steps, dialect, opts, forget) -> n
      a lower bound of the tables and indexes that running `steps` in one transaction keeps
      locked until it ends: each table an operation names, each index created (create_index,
      a created table's primary key, unique constraints and indexes). Sequences, TOAST tables
      and what op.execute SQL touches are not counted; a revision whose code needs the database
      counts for nothing. forget: drop each revision's loaded code after recording it (long
      plans, luamig.loader)

A revision may waive a rule for itself with a top-level
  lint_waivers = { { rule = "drop-column", reason = "column unused since v2.3" } }
User rules (lint_rules = path.lua, relative to luamig.ini) return a function, a list of
functions, or a table { [rule_id] = function }; each is called as fn(operation, info) with info =
{ table, existing, lock, effect, revision, path, line, dialect, downgrade, autocommit } and
returns nil (fine), a message, or { message, fix, rule, severity }.

The DB-neutral rules: drop-table, drop-column, rename-table, rename-column (a running
application still uses the old name: destructive), unknown-sql (op.execute SQL whose lock is not
known: never reported as safe), batch-rebuild (a batch that copies the table into a new one),
not-linted (upgrade()/downgrade() failed without a database, so what it does is not known).
]]

local core = require "luamig.core"
local op = require "luamig.op"
local loader = require "luamig.loader"
local lazy = require "luamig.lazy"
local batch = lazy "luamig.batch"

local M = {}

local function fail(msg)
  error(msg, 0)
end

local GENERIC = {
  { id = "drop-table", severity = "error",
    summary = "a table that exists before the range is dropped: the running application may "
      .. "still use it" },
  { id = "drop-column", severity = "error",
    summary = "a column of an existing table is dropped: the running application may still use it" },
  { id = "rename-table", severity = "error",
    summary = "an existing table is renamed: the running application still uses the old name" },
  { id = "rename-column", severity = "error",
    summary = "a column of an existing table is renamed: the running application still uses the "
      .. "old name" },
  { id = "unknown-sql", severity = "warn",
    summary = "op.execute SQL whose lock and cost luamig cannot tell: never reported as safe" },
  { id = "batch-rebuild", severity = "warn",
    summary = "batch mode rebuilds an existing table: every row is copied under the write lock" },
  { id = "not-linted", severity = "error",
    summary = "upgrade()/downgrade() failed without a database: what it does is not known" },
}

local LEVELS = { error = true, warn = true, off = true }

function M.catalogue(dialect)
  local out = {}
  for _, r in ipairs(GENERIC) do out[#out + 1] = r end
  local facts = dialect and dialect.lint
  for _, r in ipairs(facts and facts.rules or {}) do out[#out + 1] = r end
  return out
end

--------------------------------------------------------------------------------------------
-- Settings: severities and user rules
--------------------------------------------------------------------------------------------

local function dir_of(path)
  return path:match("^(.*)/[^/]*$") or "."
end

-- Loads the user rules file: returns a list of { id, fn }.
local function load_user_rules(path, ini, config_path)
  if path:sub(1, 1) ~= "/" then path = dir_of(config_path) .. "/" .. path end
  local shown = loader.display_path(path)
  local text, ferr = core.read_file(path, true)
  if not text then fail(string.format("%s: lint_rules = %s: %s", ini, shown, ferr)) end
  local chunk, err = load(text, "@" .. shown, "t", setmetatable({}, { __index = _G }))
  if not chunk then fail(loader.whole_names(err, shown)) end
  local ok, v = pcall(chunk)
  if not ok then fail(loader.whole_names(tostring(v), shown)) end
  local rules = {}
  if type(v) == "function" then
    rules[1] = { fn = v, shown = shown }
  elseif type(v) == "table" then
    for i, fn in ipairs(v) do
      if type(fn) ~= "function" then fail(string.format("%s: rule %d is not a function", shown, i)) end
      rules[#rules + 1] = { fn = fn, shown = shown }
    end
    local named = {}
    for k, fn in pairs(v) do
      if type(k) == "string" then
        if type(fn) ~= "function" then fail(string.format("%s: rule %s is not a function", shown, k)) end
        named[#named + 1] = { id = k, fn = fn, shown = shown }
      end
    end
    table.sort(named, function(a, b) return a.id < b.id end)
    for _, r in ipairs(named) do rules[#rules + 1] = r end
  else
    fail(string.format("%s: expected the file to return a function or a table of functions", shown))
  end
  return rules
end

function M.settings(config, dialect)
  local ini = loader.display_path(config.config_file_name or "luamig.ini")
  local s = { severity = {}, known = {}, user = {} }
  for _, r in ipairs(M.catalogue(dialect)) do
    s.severity[r.id] = r.severity
    s.known[r.id] = true
  end
  local path = config.get_main_option("lint_rules")
  if path and path ~= "" then s.user = load_user_rules(path, ini, config.config_file_name or "luamig.ini") end
  local open_ids = false
  for _, r in ipairs(s.user) do
    if r.id then s.known[r.id] = true else open_ids = true end
  end
  local section = config.get_section(config.config_ini_section, {})
  local keys = {}
  for k in pairs(section) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local id = k:match("^lint%.(.+)$")
    if id then
      local v = section[k]:lower()
      if not LEVELS[v] then
        fail(string.format("%s: %s = %s: expected error, warn or off", ini, k, section[k]))
      end
      if not s.known[id] and not open_ids then
        local ids = {}
        for rid in pairs(s.known) do ids[#ids + 1] = rid end
        table.sort(ids)
        fail(string.format("%s: %s: no lint rule '%s' (the rules: %s)", ini, k, id,
          table.concat(ids, ", ")))
      end
      s.severity[id] = v
    end
  end
  return s
end

--------------------------------------------------------------------------------------------
-- The state of a range: which tables are new, which NOT NULL checks are validated
--------------------------------------------------------------------------------------------

local State = {}
State.__index = State

local function key(name, schema)
  return ((schema or "") .. "." .. tostring(name)):lower()
end

local function new_state()
  return setmetatable({ created = {}, checks = {}, proven = {}, autocommit = false }, State)
end

function State:existing(name, schema)
  if name == nil then return true end
  return not self.created[key(name, schema)]
end

function State:note_created(name, schema)
  self.created[key(name, schema)] = true
end

function State:note_not_null_check(constraint, name, schema, column, validated)
  self.checks[constraint:lower()] = { key = key(name, schema), column = column:lower() }
  if validated then self:validated(constraint) end
end

function State:validated(constraint)
  local c = self.checks[constraint:lower()]
  if c then self.proven[c.key .. "." .. c.column] = true end
end

function State:not_null_proven(name, schema, column)
  return self.proven[key(name, schema) .. "." .. column:lower()] or false
end

--------------------------------------------------------------------------------------------
-- The recording context
--------------------------------------------------------------------------------------------

-- A migration context that runs nothing: each operation is kept with the place of its call.
local function recorder(dialect, opts, path)
  local rec = { dialect = dialect, as_sql = true, opts = opts or {}, connection = nil,
                in_autocommit = false, recorded = {} }
  local function keep(operation)
    rec.recorded[#rec.recorded + 1] = { op = operation, where = path and loader.where_in(path, 2),
                                        autocommit = rec.in_autocommit }
  end
  rec.places = setmetatable({}, { __mode = "k" })
  rec.note_operation = function(operation)
    rec.places[operation] = path and loader.where_in(path, 2)
  end
  rec.record_operation = function(operation)
    keep(operation)
    if operation.kind == "create_table" then return operation.table end
    return nil
  end
  local function method(fn)
    return function(a, ...)
      if a == rec then return fn(...) end
      return fn(a, ...)
    end
  end
  rec.execute = method(function(sql, params)
    keep(op.ops.execute(sql, params))
    return 0
  end)
  rec.query = method(function()
    fail("this revision reads from the database, which lint does not connect to")
  end)
  rec.inspect = rec.query
  rec.static_output = method(function() end)
  rec.get_bind = method(function() return nil end)
  rec.autocommit_block = method(function(fn)
    rec.in_autocommit = true
    local ok, err = pcall(fn)
    rec.in_autocommit = false
    if not ok then error(err, 0) end
  end)
  return rec
end

-- Runs one step's code against a recorder; returns the recorded operations and an error
-- message (or nil).
local function record_step(step, dialect, opts)
  local rev = step.rev
  local fn, fname, env = loader.step_function(step)
  local rec = recorder(dialect, opts, rev.path)
  if not fn then
    return rec.recorded, string.format("revision %s has no %s() function", rev.revision, fname), env,
      rec.places
  end
  local place
  local saved = op.context_provider()
  op.set_context_provider(function() return rec end)
  local ok, err = xpcall(fn, function(e)
    place = loader.where_in(rev.path, 2)
    return loader.whole_names(tostring(e), loader.display_path(rev.path))
  end, {})
  op.set_context_provider(saved)
  if not ok then
    place = place or loader.display_path(rev.path)
    -- one line, as every finding is (an error raised at the line lint names already starts
    -- with that place: not twice)
    err = err:gsub("%s*\n%s*", " ")
    if err:sub(1, #place + 2) == place .. ": " then err = err:sub(#place + 3) end
    return rec.recorded, string.format("%s() failed at %s: %s", fname, place, err), env,
      rec.places
  end
  return rec.recorded, nil, env, rec.places
end

--------------------------------------------------------------------------------------------
-- Describing and checking operations
--------------------------------------------------------------------------------------------

local function label(o)
  local k = o.kind
  local function t(name, schema) return schema and (schema .. "." .. name) or tostring(name) end
  if k == "create_table" or k == "drop_table" then return k .. " " .. t(o.table_name, o.schema) end
  if k == "rename_table" then
    return "rename_table " .. t(o.table_name, o.schema) .. " -> " .. tostring(o.new_table_name)
  end
  if k == "add_column" then return "add_column " .. t(o.table_name, o.schema) .. "." .. o.column.name end
  if k == "drop_column" or k == "alter_column" then
    return k .. " " .. t(o.table_name, o.schema) .. "." .. tostring(o.column_name)
  end
  if k == "create_index" then
    return "create_index " .. tostring(o.index.name) .. " on " .. t(o.index.table, o.index.schema)
  end
  if k == "drop_index" then return "drop_index " .. tostring(o.index_name) end
  if k == "add_constraint" then
    return "add_constraint " .. o.constraint.kind .. " " .. tostring(o.constraint.name) .. " on "
      .. t(o.table_name, o.schema)
  end
  if k == "drop_constraint" then
    return "drop_constraint " .. tostring(o.constraint_name) .. " on " .. t(o.table_name, o.schema)
  end
  if k == "execute" then
    local sql = o.sqltext
    if type(sql) == "table" then sql = sql.text or "<SQL>" end
    sql = tostring(sql):gsub("%s+", " "):gsub("^ ", "")
    if #sql > 60 then sql = sql:sub(1, 57) .. "..." end
    return "execute " .. sql
  end
  if k == "custom" then return o.name .. (o.table_name and (" " .. t(o.table_name)) or "") end
  if k == "batch" then return "batch_alter_table " .. t(o.table_name, o.schema) end
  if k == "bulk_insert" then return "bulk_insert " .. tostring(o.table and o.table.name) end
  return k
end

-- The DB-neutral rules, for one operation.
local function generic_findings(o, st, desc)
  local out = {}
  local function add(rule, message, fix) out[#out + 1] = { rule = rule, message = message, fix = fix } end
  local existing = st:existing(o.table_name, o.schema)
  local tname = o.schema and (o.schema .. "." .. tostring(o.table_name)) or tostring(o.table_name)
  if o.kind == "drop_table" and existing then
    add("drop-table", "table " .. tname .. " is dropped while the running application may still "
      .. "use it", "deploy code that no longer uses it first; drop it in a later release")
  elseif o.kind == "drop_column" and existing then
    add("drop-column", "column " .. tname .. "." .. tostring(o.column_name) .. " is dropped while "
      .. "the running application may still read it", "deploy code that no longer uses the "
      .. "column first; drop it in a later release")
  elseif o.kind == "rename_table" and existing then
    add("rename-table", "table " .. tname .. " is renamed to " .. tostring(o.new_table_name)
      .. ": the running application still uses the old name", "create the new table (or a view "
      .. "with the old name), move the code, then drop the old name in a later release")
  elseif o.kind == "alter_column" and o.new_column_name and existing then
    add("rename-column", "column " .. tname .. "." .. tostring(o.column_name) .. " is renamed to "
      .. tostring(o.new_column_name) .. ": the running application still uses the old name",
      "add the new column, write both, backfill, move the code, then drop the old one")
  end
  if desc.unknown then
    add("unknown-sql", "luamig cannot tell what lock this SQL takes or what it costs: it is not "
      .. "known to be safe", "check it by hand (upgrade --dry-run shows the locks it takes), then "
      .. "waive unknown-sql for this revision with a reason")
  end
  return out
end

local function describe_line(desc)
  local parts = {}
  if desc.lock then
    parts[#parts + 1] = "lock " .. desc.lock .. (desc.table and (" on " .. desc.table) or "")
  end
  if desc.effect == "rewrite" then parts[#parts + 1] = "rewrites the table"
  elseif desc.effect == "scan" then parts[#parts + 1] = "scans the table" end
  if desc.note then parts[#parts + 1] = desc.note end
  return table.concat(parts, ", ")
end

local Run = {}
Run.__index = Run

local function new_run(a)
  return setmetatable({ dialect = a.dialect, settings = a.settings, out = a.out or print,
                        verbose = a.verbose, downgrade = a.downgrade,
                        on_finding = a.on_finding,
                        summary = { errors = 0, warnings = 0, waived = 0, operations = 0,
                                    revisions = 0 } }, Run)
end

-- Reports one finding: its severity from the settings (a user rule's own when not set), its
-- waiver; counts it.
function Run:report(where, f, waivers, default_severity)
  local sev = self.settings.severity[f.rule] or default_severity or "error"
  if sev == "off" then return end
  local place = where and (where .. ": ") or ""
  local waiver = waivers and waivers[f.rule]
  if self.on_finding then
    local file, line = (where or ""):match("^(.*):(%d+)$")
    self.on_finding { revision = self.revision, file = file or where, line = tonumber(line),
                      rule = f.rule, severity = sev, message = f.message, fix = f.fix,
                      doc = f.doc, waived = waiver ~= nil, reason = waiver }
  end
  if waiver then
    self.summary.waived = self.summary.waived + 1
    self.out(string.format("%swaived %s [%s]: %s (reason: %s)", place, sev, f.rule, f.message,
      waiver))
    return
  end
  if sev == "error" then self.summary.errors = self.summary.errors + 1
  else self.summary.warnings = self.summary.warnings + 1 end
  self.out(string.format("%s%s [%s]: %s", place, sev, f.rule, f.message))
  if f.fix then self.out("    fix: " .. f.fix) end
  if f.doc then self.out("    see: " .. f.doc) end
end

-- Checks one recorded operation (and the operations of a batch).
function Run:check(entry, st, waivers, ctx)
  local o = entry.op
  local facts = self.dialect.lint
  st.autocommit = entry.autocommit
  self.summary.operations = self.summary.operations + 1
  local desc
  local where = entry.where or ctx.shown
  if o.kind == "create_table" then st:note_created(o.table_name, o.schema) end
  if o.kind == "batch" then
    local rebuild = batch._needs_recreate(o, self.dialect)
    desc = { lock = nil, table = o.table_name, findings = {} }
    if rebuild then
      desc.effect = "rewrite"
      desc.note = "table rebuilt (move and copy)"
      if st:existing(o.table_name, o.schema) then
        desc.findings[1] = { rule = "batch-rebuild", message = "batch mode rebuilds existing "
          .. "table " .. o.table_name .. ": every row is copied into a new table under the "
          .. "write lock", fix = "on a large table, run it when writes can wait, or use "
          .. "operations SQLite does in place (add_column, create_index) with recreate = \"never\"" }
      end
    end
  elseif o.kind == "custom" and o.spec.lock ~= nil then
    -- a registered operation that declares its lock (op.register_operation)
    desc = { lock = o.spec.lock, table = o.table_name, findings = {} }
  elseif facts then
    desc = facts.check(o, st, self.dialect)
  else
    desc = { findings = {} }
  end
  if self.verbose then
    local d = describe_line(desc)
    self.out(string.format("%s: %s%s", where, label(o), d ~= "" and (": " .. d) or ""))
  end
  for _, f in ipairs(desc.findings or {}) do self:report(where, f, waivers) end
  for _, f in ipairs(generic_findings(o, st, desc)) do self:report(where, f, waivers) end
  self:user_rules(o, st, desc, where, waivers, ctx)
  if o.kind == "batch" then
    for _, sub in ipairs(o.ops) do
      self:check({ op = sub, where = ctx.places and ctx.places[sub] or entry.where,
                   autocommit = entry.autocommit }, st, waivers, ctx)
    end
  end
  -- what the operation does to the state after it is checked: a dropped table is gone, a
  -- renamed one keeps its "new in this range" mark
  if o.kind == "rename_table" and not st:existing(o.table_name, o.schema) then
    st:note_created(o.new_table_name, o.schema)
  elseif o.kind == "drop_table" then
    st.created[((o.schema or "") .. "." .. tostring(o.table_name)):lower()] = nil
  end
end

function Run:user_rules(o, st, desc, where, waivers, ctx)
  if #self.settings.user == 0 then return end
  local tname = o.table_name or (o.index and o.index.table) or (o.table and o.table.name)
  local tschema = o.schema or (o.index and o.index.schema)
  local line = where and tonumber(where:match(":(%d+)$"))
  local info = { table = tname, existing = st:existing(tname, tschema), lock = desc.lock,
                 effect = desc.effect, revision = ctx.revision, path = ctx.shown, line = line,
                 dialect = self.dialect.name, downgrade = self.downgrade or false,
                 autocommit = st.autocommit }
  for _, r in ipairs(self.settings.user) do
    local ok, res = pcall(r.fn, o, info)
    if not ok then fail(loader.whole_names(tostring(res), r.shown)) end
    if res then
      if type(res) == "string" then res = { message = res } end
      if type(res) ~= "table" or type(res.message) ~= "string" then
        fail(string.format("%s: a rule returned %s; expected nil, a message or { message = ... }",
          r.shown, type(res)))
      end
      local f = { rule = res.rule or r.id or "user-rule", message = res.message, fix = res.fix }
      local default = res.severity
      if default ~= nil and not LEVELS[default] then
        fail(string.format("%s: rule %s: severity = %s: expected error, warn or off", r.shown,
          f.rule, tostring(default)))
      end
      self:report(where, f, waivers, default or "error")
    end
  end
end

--------------------------------------------------------------------------------------------
-- Waivers
--------------------------------------------------------------------------------------------

local function waivers_of(env, shown, settings)
  local w = rawget(env, "lint_waivers")
  if w == nil then return {} end
  if type(w) ~= "table" then fail(shown .. ": lint_waivers must be a list of { rule = ..., reason = ... }") end
  local out = {}
  for i, item in ipairs(w) do
    if type(item) ~= "table" or type(item.rule) ~= "string" or type(item.reason) ~= "string"
        or not item.reason:match("%S") then
      fail(string.format("%s: lint_waivers[%d]: a waiver needs rule = \"...\" and a reason = \"...\"",
        shown, i))
    end
    if not settings.known[item.rule] and not (#settings.user > 0) then
      fail(string.format("%s: lint_waivers[%d]: no lint rule '%s'", shown, i, item.rule))
    end
    out[item.rule] = item.reason
  end
  return out
end

--------------------------------------------------------------------------------------------
-- Entry points
--------------------------------------------------------------------------------------------

function M.run(a)
  local run = new_run(a)
  local st = new_state()
  -- a long plan's revisions are dropped once checked (10,000 of them would stay loaded)
  local keep = loader.keeps_loaded(#a.steps)
  for _, step in ipairs(a.steps) do
    if step.rev and not step.stamp then
      run.summary.revisions = run.summary.revisions + 1
      local shown = loader.display_path(step.rev.path)
      local recorded, err, env, places = record_step(step, a.dialect, a.opts)
      local waivers = waivers_of(env, shown, a.settings)
      local ctx = { revision = step.rev.revision, shown = shown, places = places }
      run.revision = step.rev.revision
      if a.verbose then
        run.out(string.format("Revision %s (%s)%s%s", step.rev.revision, shown,
          step.upgrade and "" or ", downgrade",
          step.rev.message ~= "" and (": " .. step.rev.message) or ""))
      end
      for _, entry in ipairs(recorded) do run:check(entry, st, waivers, ctx) end
      if err then
        run:report(shown, { rule = "not-linted", message = err,
          fix = "keep database reads out of the code lint runs, or waive not-linted with a reason" },
          waivers)
      end
      if not keep then loader.forget(step.rev.path) end
    end
  end
  return run.summary
end

function M.run_operations(a)
  local run = new_run(a)
  local st = new_state()
  local ctx = { revision = a.label, shown = a.label }
  local function each(list)
    for _, o in ipairs(list) do
      if o.kind == "modify_table" then each(o.ops)
      else run:check({ op = o, where = a.label, autocommit = false }, st, {}, ctx) end
    end
  end
  each(a.operations)
  return run.summary
end

function M.relations_locked(steps, dialect, opts, forget)
  local seen, n = {}, 0
  local function add(kind, name, schema)
    if type(name) ~= "string" then return end
    local k = kind .. key(name, schema)
    if not seen[k] then
      seen[k] = true
      n = n + 1
    end
  end
  local function count(o)
    if o.kind == "modify_table" or o.kind == "batch" then
      for _, sub in ipairs(o.ops or {}) do count(sub) end
      add("t", o.table_name, o.schema)
    elseif o.kind == "create_table" and o.table then
      local t = o.table
      add("t", t.name, t.schema)
      -- an unnamed key still creates its index: named here by its place in the table
      local pk = t.primary_key
      if pk and pk.columns and #pk.columns > 0 then add("i", pk.name or (t.name .. " pk"), t.schema) end
      for i, c in ipairs(t.constraints or {}) do
        if c.kind == "unique" then add("i", c.name or (t.name .. " unique " .. i), t.schema) end
      end
      for i, ix in ipairs(t.indexes or {}) do add("i", ix.name or (t.name .. " index " .. i), t.schema) end
    elseif o.kind == "create_index" and o.index then
      add("i", o.index.name, o.index.schema)
      add("t", o.index.table, o.index.schema)
    else
      add("t", o.table_name, o.schema)
    end
  end
  for _, step in ipairs(steps) do
    if step.rev and not step.stamp then
      local recorded = record_step(step, dialect, opts)
      for _, entry in ipairs(recorded) do count(entry.op) end
      if forget then loader.forget(step.rev.path) end
    end
  end
  return n
end

function M.summary_line(s)
  local function n(k, word)
    return string.format("%d %s%s", k, word, k == 1 and "" or "s")
  end
  return string.format("lint: %s, %s, %d waived (%s, %s)", n(s.errors, "error"),
    n(s.warnings, "warning"), s.waived, n(s.revisions, "revision"), n(s.operations, "operation"))
end

-- The steps for a REVISION_RANGE of the lint command: "A:B", ":B", "A:", a single revision, or
-- nil (from `heads`, the database's heads or none, to every head).
function M.steps_for(range, heads, downgrade)
  local steps
  if range == nil or range == "" then
    steps = core.plan("upgrade", heads or {}, "heads")
  elseif range:find(":", 1, true) then
    local a, b = range:match("^(.-):(.*)$")
    local from = {}
    if a ~= "" and a ~= "base" then from = core.resolve(a) end
    if b == "" then b = "heads" end
    steps = core.plan("upgrade", from, b)
  else
    steps = {}
    for _, id in ipairs(core.resolve(range)) do
      local rev = core.revision(id)
      for _, s in ipairs(core.plan("upgrade", rev.down_revision or {}, id)) do
        if s.rev and s.rev.revision == id then steps[#steps + 1] = s end
      end
    end
  end
  if downgrade then
    local r = {}
    for i = #steps, 1, -1 do
      local s = steps[i]
      r[#r + 1] = { upgrade = false, stamp = s.stamp, rev = s.rev, from = s.to, to = s.from, ops = {} }
    end
    steps = r
  end
  return steps
end

return M
