--[[ luamig.commands — the commands that need the database, each run through env.lua as in
Alembic's command module: C parses the command line and hands the command here
(runtime.main), and each command tells luamig.environment what to do when env.lua calls
context.run_migrations().

  commands.<name>(cmd, config) -> nil (exit status 0), an exit status, or (revision) a table
    upgrade, downgrade, stamp     plan from the database's heads (core.plan) and run it; with
                                  --sql, "<from>:<to>" ranges (upgrade: "current:<to>" starts
                                  from the database's heads); upgrade/downgrade --dry-run: in
                                  one transaction, rolled back, each statement's locks reported;
                                  stamp --resync records the checksum of edited applied
                                  revisions (luamig.audit)
    current                       print the database's revisions (--verbose, --check-heads)
    ensure_version                create the version table (offline: write its DDL)
    revision                      with --autogenerate (or revision_environment): compare the
                                  models with the database (luamig.autogenerate), run
                                  process_revision_directives, and return to C what the new
                                  file holds: { upgrades, downgrades, imports, message, rev_id }
                                  or { skip = true } / { empty = true }
    check                         autogenerate without writing: print the differences (or
                                  JSON with --json) and fail when there is any
    differences                   what check prints, as compare_metadata's list (the library's
                                  check returns it)
    validate                      the applied revisions against the script directory: changed
                                  files, files missing, unknown version-table rows
    log                           the audit history table (luamig.auditlog), filtered by -r,
                                  --since/--until, --failed/--succeeded; --json
    test                          luamig.roundtrip: up, down, up of every revision in the range
                                  on a scratch database, compared (--data, --json, --schema)
    database_heads                the database's heads, for history/show/edit (run in C)
    lint                          luamig.lint over a revision range (default: what the database
                                  has not applied, or every revision when there is no database
                                  or with --sql); exit 1 on an unwaived error finding
With `lint = warn|error` in luamig.ini, upgrade lints the revisions it is about to run first
(findings on stderr); `error` refuses the whole run, before anything is applied, when one of
them has an unwaived error finding.
Errors raise with a final message (no position).
]]

local core = require "luamig.core"
local log = require "luamig.log"
local migration = require "luamig.migration"
local environment = require "luamig.environment"
local lazy = require "luamig.lazy"
local ag = lazy "luamig.autogenerate"
local audit = lazy "luamig.audit"
local loader = require "luamig.loader"
local lint = lazy "luamig.lint"
local auditlog = lazy "luamig.auditlog"
local events = require "luamig.events"
local roundtrip = lazy "luamig.roundtrip"
local checkpoint = lazy "luamig.checkpoint"

local M = {}

-- An error that carries its own, final message (no position prefix).
local function fail(msg)
  error(msg, 0)
end

-- The lint setting: "off" (unset), "warn" or "error". Read here, not in luamig.lint, which an
-- upgrade loads only when it is on (the module is a tenth of what an upgrade would load).
local function lint_mode(config)
  local v = config.get_main_option("lint")
  if v == nil or v == "" then return "off" end
  v = v:lower()
  if v ~= "warn" and v ~= "error" and v ~= "off" then
    fail(string.format("%s: lint = %s: expected warn, error or off",
      loader.display_path(config.config_file_name or "luamig.ini"), v))
  end
  return v
end

-- Whether the script directory has checkpoint files, asked before luamig.checkpoint is loaded:
-- most projects have none, and the module is as large as lint.
local function has_checkpoints(script_location)
  -- (a file there that is not a regular one is the checkpoint module's to report)
  local names = core.lua_files(loader.checkpoints_dir(script_location))
  return names == nil or #names > 0
end

local function split_range(rev)
  local a, b = rev:match("^(.-):(.*)$")
  return a, b
end

local function starting_heads_of(start, cmd, config)
  if start == nil or start == "" or start == "base" then return {} end
  -- "current:head --sql": the script starts from what the database has applied (env.lua runs
  -- read-only online to read it; the script itself is still only written)
  if start == "current" and cmd then
    local online = {}
    for k, v in pairs(cmd) do online[k] = v end
    online.sql = false
    return M.database_heads(online, config)
  end
  local ids = core.resolve(start)
  return ids
end


local function dry_run(cmd, work)
  if cmd.dry_run then
    if cmd.sql then fail("--dry-run runs on the database; it cannot be combined with --sql") end
    work.dry_run = true
  end
end

function M.upgrade(cmd, config)
  local revision = cmd.positional[1]
  local work = {}
  dry_run(cmd, work)
  if revision:find(":", 1, true) then
    if not cmd.sql then fail("Range revision not allowed") end
    work.starting_rev, revision = split_range(revision)
    work.starting_heads = starting_heads_of(work.starting_rev, cmd, config)
  end
  work.destination = revision
  work.fn = function(heads, mc)
    local steps = core.plan("upgrade", heads, revision)
    -- a fresh database starts from the latest checkpoint the plan passes (luamig.checkpoint)
    if #heads == 0 and mc.fresh_database and not cmd.no_checkpoints and #steps > 0
        and has_checkpoints(cmd.script_location) then
      steps = checkpoint.shorten(mc, cmd.script_location, revision, steps)
    end
    return steps
  end
  local mode = lint_mode(config)
  if mode ~= "off" then
    local plan = work.fn
    work.fn = function(heads, mc)
      local steps = plan(heads, mc)
      local settings = lint.settings(config, mc.dialect)
      local out = function(line) io.stderr:write(line, "\n") end
      local s = lint.run { steps = steps, dialect = mc.dialect, settings = settings, opts = mc.opts,
                           out = out }
      if s.errors + s.warnings > 0 then out(lint.summary_line(s)) end
      if mode == "error" and s.errors > 0 then
        fail(string.format("lint = error: %d unwaived lint error%s in the revisions to apply; "
          .. "nothing was applied", s.errors, s.errors == 1 and "" or "s"))
      end
      return steps
    end
  end
  environment.run(cmd, config, work)
end

function M.downgrade(cmd, config)
  local revision = cmd.positional[1]
  local work = {}
  dry_run(cmd, work)
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
    for _, w in ipairs(warnings or {}) do log.warning("luamig.runtime.migration", w) end
    return steps
  end
  environment.run(cmd, config, work)
end

-- stamp --resync REV...: a 'resync' history row for each revision, with its file's checksum
-- now; the version table is not changed. C refuses --sql and --purge with it (usage).
local function resync(cmd, config)
  local ids, set = {}, {}
  for _, r in ipairs(cmd.positional) do
    local resolved = core.resolve(r)
    if #resolved == 0 then
      fail(string.format("stamp --resync needs an applied revision; '%s' names none", r))
    end
    for _, id in ipairs(resolved) do
      if not set[id] then
        ids[#ids + 1] = id
        set[id] = true
      end
    end
  end
  local work = { resync = set, destination = cmd.positional[1] }
  work.fn = function(heads, mc)
    if not mc.history_table then
      fail("stamp --resync records checksums in the history table: set history_table in " ..
        "luamig.ini (or in context.configure)")
    end
    local applied = core.applied(heads)
    for _, id in ipairs(ids) do
      if not applied[id] then
        fail(string.format("Revision %s is not applied to the database: stamp --resync " ..
          "records an edit of an applied revision", id))
      end
    end
    audit.ensure_table(mc)
    for _, id in ipairs(ids) do
      local rev = core.revision(id)
      audit.record_resync(mc, rev, heads)
      log.info("luamig.runtime.migration", string.format("Recorded the checksum of revision " ..
        "%s (%s) as it is now", id, loader.display_path(rev.path)))
    end
    return {}
  end
  environment.run(cmd, config, work)
end

function M.stamp(cmd, config)
  if cmd.resync then return resync(cmd, config) end
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
  environment.run(cmd, config, work)
end

function M.current(cmd, config)
  local work = { dont_mutate = true }
  work.fn = function(heads, mc)
    if cmd.json then
      local rows = events.array()
      for k, h in ipairs(heads) do rows[k] = h end
      events.document { database = core.redact(mc.connection and mc.connection.url or mc.url or ""),
                        version_rows = rows, heads = events.raw(core.current_json(heads)) }
    end
    if cmd.verbose and not cmd.json then
      config.print_stdout("Current revision(s) for " .. (mc.connection and mc.connection.url or
        core.redact(mc.url or "")) .. ":")
    end
    for _, line in ipairs(cmd.json and {} or core.current_lines(heads, cmd.verbose)) do
      config.print_stdout(line)
    end
    if cmd.check_heads then
      local all = core.heads()
      local cur = core.current_ids(heads)
      if not migration.same_set(all, cur) then
        fail("Database is not on all head revisions")
      end
    end
    return {}
  end
  environment.run(cmd, config, work)
end

function M.ensure_version(cmd, config)
  local work = {}
  work.fn = function(heads, mc)
    if mc.as_sql then mc:ensure_version_table() end
    return {}
  end
  environment.run(cmd, config, work)
end

-- Autogenerate compares with the database only when it is at every head.
local function require_up_to_date(heads)
  if not migration.same_set(core.resolve("heads"), core.current_ids(heads)) then
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
function M.revision(cmd, config)
  local result = {}
  local work = { dont_mutate = true, script_location = cmd.script_location }
  -- env.lua may run several databases, each configured with its own upgrade_token /
  -- downgrade_token (Alembic's multidb: "engine1_upgrades"); their bodies go to the template
  -- under those names, and the file is empty only when every database's is
  local tokened = { runs = 0, empty = 0, imports = {} }
  work.fn = function(heads, mc)
    if not cmd.autogenerate then return {} end
    require_up_to_date(heads)
    local up_tok = mc.opts.upgrade_token or "upgrades"
    local down_tok = mc.opts.downgrade_token or "downgrades"
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
    if up_tok ~= "upgrades" then tokened.runs = tokened.runs + 1 end
    if ag.is_empty(script.upgrade_ops) and not cmd.allow_empty then
      if up_tok == "upgrades" then
        result.empty = true
        return {}
      end
      tokened.empty = tokened.empty + 1
    end
    -- lint = warn|error: the new revision's operations are linted; the file is written either
    -- way (it is where a fix or a waiver goes), the findings go to stderr
    if lint_mode(config) ~= "off" then
      local out = function(line) io.stderr:write(line, "\n") end
      local s = lint.run_operations { operations = script.upgrade_ops, dialect = mc.dialect,
                                      settings = lint.settings(config, mc.dialect), out = out,
                                      label = "autogenerated upgrade()" }
      if s.errors + s.warnings > 0 then out(lint.summary_line(s)) end
    end
    local text = ag.render_script(mc, script)
    if up_tok ~= "upgrades" then
      result.tokens = result.tokens or {}
      result.tokens[up_tok] = text.upgrades
      result.tokens[down_tok] = text.downgrades
      for line in text.imports:gmatch("[^\n]+") do tokened.imports[line] = true end
      local lines = {}
      for line in pairs(tokened.imports) do lines[#lines + 1] = line end
      table.sort(lines)
      result.imports = table.concat(lines, "\n")
    else
      result.upgrades = text.upgrades
      result.downgrades = text.downgrades
      result.imports = text.imports
    end
    result.message = script.message
    result.rev_id = script.rev_id
    return {}
  end
  environment.run(cmd, config, work)
  if tokened.runs > 0 and tokened.empty == tokened.runs then result.empty = true end
  return result
end

-- The differences between the models (env.lua's target_metadata) and the database, as
-- Alembic's compare_metadata returns them; the database must be at every head. check prints
-- them; the library (luamig.library) returns them.
function M.differences(cmd, config)
  local work = { dont_mutate = true, script_location = cmd.script_location }
  local diffs = {}
  work.fn = function(heads, mc)
    require_up_to_date(heads)
    -- env.lua may compare several databases (multidb): every run's differences count
    for _, d in ipairs(ag.compare_metadata(mc, target_metadata(mc))) do diffs[#diffs + 1] = d end
    return {}
  end
  environment.run(cmd, config, work)
  return diffs
end

-- check: autogenerate without writing; exit 1 and list what differs.
function M.check(cmd, config)
  local diffs = M.differences(cmd, config)
  local found = #diffs
  if cmd.json then
    -- the one-line document holds the array diffs_json lays out on lines of its own
    events.document { differences = events.raw((ag.diffs_json(diffs):gsub("\n%s*", ""))) }
  elseif found == 0 then
    config.print_stdout("No new upgrade operations detected.")
  else
    for _, line in ipairs(ag.diff_lines(diffs)) do io.stdout:write(line, "\n") end
  end
  if found > 0 then
    fail(string.format("New upgrade operations detected: %d difference%s", found,
      found == 1 and "" or "s"))
  end
  return 0
end

-- validate: the applied revisions against the script directory (luamig.audit.validate): one
-- line per problem on stdout and a failure, or "No problems found."; notes (checksums not
-- recorded) are printed either way and are no failure. Checksums are compared whatever the
-- checksums setting says: the command is asked for.
function M.validate(cmd, config)
  local work = { dont_mutate = true, reports_checksums = true }
  local problems = {}
  work.fn = function(heads, mc)
    local notes
    problems, notes = audit.validate(mc, heads)
    if cmd.json then
      local p, n = events.array(), events.array()
      for k, line in ipairs(problems) do p[k] = line end
      for k, line in ipairs(notes) do n[k] = line end
      events.document { problems = p, notes = n }
      return {}
    end
    for _, line in ipairs(problems) do io.stdout:write(line, "\n") end
    for _, line in ipairs(notes) do config.print_stdout(line) end
    if #problems == 0 then config.print_stdout("No problems found.") end
    return {}
  end
  environment.run(cmd, config, work)
  if #problems > 0 then
    fail(string.format("Validation found %d problem%s", #problems, #problems == 1 and "" or "s"))
  end
  return 0
end

-- lint [REVISION_RANGE] [--downgrade] [--sql]: env.lua runs read-only to learn the dialect and
-- the database's heads; when the database cannot be reached (or with --sql), it runs offline
-- and every revision is linted.  Nothing is sent to the database but the version-table read.
function M.lint(cmd, config)
  local got = nil
  local work = { dont_mutate = true, output = { write = function() end } }
  work.fn = function(heads, mc)
    got = { heads = heads, mc = mc, online = not mc.as_sql }
    return {}
  end
  if not cmd.sql then
    local ok, err = pcall(environment.run, cmd, config, work)
    if not ok then
      local why = core.redact(tostring(err)):gsub("%s+", " ")
      log.warning("luamig.lint", "no database (" .. why .. "): linting every revision")
      got = nil
    end
  end
  if not got then
    local offline = {}
    for k, v in pairs(cmd) do offline[k] = v end
    offline.sql = true
    environment.run(offline, config, work)
  end
  if not got then fail("env.lua did not call context.run_migrations()") end
  local dialect = got.mc.dialect
  local settings = lint.settings(config, dialect)
  local steps = lint.steps_for(cmd.positional[1], got.online and got.heads or {}, cmd.downgrade)
  local findings = events.array()
  local out = function(line) io.stdout:write(line, "\n") end
  if cmd.json then out = function() end end
  local s = lint.run { steps = steps, dialect = dialect, settings = settings, opts = got.mc.opts,
                       out = out, verbose = true, downgrade = cmd.downgrade,
                       on_finding = function(f)
                         for _, k in ipairs { "revision", "file", "line", "fix", "doc", "reason" } do
                           if f[k] == nil then f[k] = events.null end
                         end
                         findings[#findings + 1] = f
                       end }
  if cmd.json then
    events.document { online = got.online, downgrade = cmd.downgrade or false,
                      findings = findings, summary = s }
  else
    io.stdout:write(lint.summary_line(s), "\n")
  end
  if s.errors > 0 then
    fail(string.format("lint found %d unwaived error%s", s.errors, s.errors == 1 and "" or "s"))
  end
  return 0
end

-- A usage error found here rather than by C's parser: one line, exit 2, as cli.c's.
local function usage_error(command, what)
  io.stderr:write(string.format("luamig %s: error: %s (see 'luamig %s --help')\n", command,
    what, command))
  return 2
end

-- log: the audit history table, oldest first (luamig.auditlog).
function M.log(cmd, config)
  local f = { failed = cmd.failed, succeeded = cmd.succeeded }
  if cmd.failed and cmd.succeeded then
    return usage_error("log", "argument --succeeded: not allowed with argument --failed")
  end
  for key, field in pairs({ since = "since", ["until"] = "upto" }) do
    if cmd[key] then
      f[field] = auditlog.parse_time(cmd[key], key == "until")
      if not f[field] then
        return usage_error("log", string.format("argument --%s: invalid time: '%s' " ..
          "(use YYYY-MM-DD, YYYY-MM-DD HH:MM or YYYY-MM-DD HH:MM:SS)", key, cmd[key]))
      end
    end
  end
  if cmd.log_revision then
    -- an id, partial id or symbol of the revision files; else (a revision whose file is
    -- gone) the start of the id as recorded
    local ok, found = pcall(core.resolve, cmd.log_revision)
    if ok and type(found) == "table" and #found > 0 then
      f.revisions = {}
      for _, id in ipairs(found) do f.revisions[id] = true end
    else
      f.prefix = cmd.log_revision
    end
  end
  local work = { dont_mutate = true }
  work.fn = function(_, mc)
    if not mc.history_table then
      fail("No history table is configured: set history_table (e.g. history_table = " ..
        "luamig_history) in " .. config.config_file_name .. " to keep one")
    end
    local rows = auditlog.filter(auditlog.read(mc) or {}, f)
    if cmd.json then
      io.stdout:write(auditlog.json(rows, mc.history_table), "\n")
    else
      for _, line in ipairs(auditlog.text(rows)) do io.stdout:write(line, "\n") end
    end
    return {}
  end
  environment.run(cmd, config, work)
  return 0
end

-- test [REVISION_RANGE] [--data] [--json] [--schema]: luamig.roundtrip.
function M.test(cmd, config)
  return roundtrip.run(cmd, config)
end

-- checkpoint [REVISION] [--prune] [--schema] [--json]: luamig.checkpoint.
function M.checkpoint(cmd, config)
  if cmd.prune then return checkpoint.prune(cmd, config) end
  return checkpoint.write(cmd, config)
end

-- The database's heads, for the commands C runs that need them (history -i or with "current"
-- in its range, show current, edit current): env.lua runs as for `current`, and the list goes
-- back to C, which does the rest.
function M.database_heads(cmd, config)
  local got = {}
  local work = { dont_mutate = true }
  work.fn = function(heads)
    got = heads
    return {}
  end
  environment.run(cmd, config, work)
  return got
end

return M
