--[[ luamig.roundtrip — `luamig test [REVISION_RANGE]`: every revision upgraded, downgraded and
upgraded again on a scratch database that luamig creates and removes itself, the schema
reflected and compared (luamig.compare, as autogenerate and `check` do) after each move.

  roundtrip.run(cmd, config) -> 0 when every revision round-trips (and, with target_metadata,
      the schema at the heads equals the models); raises "N of M revisions ..." otherwise.
      cmd: positional[1] (the range, "[START:]END", default "base:heads": the revisions up to
      START are applied without being tested), data (--data), json (--json), schema (--schema).

The scratch database. env.lua runs once, as it does for every command; while it runs, every
connection it opens (luamig.connect, or context.configure{url=}) goes to the scratch database
instead (luamig._redirect): the URL env.lua asks for only says where the scratch database goes
(the dialect's scratch(): SQLite, a temporary file in $TMPDIR; PostgreSQL, CREATE DATABASE
luamig_test_<token> on the same server, or with --schema CREATE SCHEMA luamig_test_<token> in the
configured database). So a test never runs a migration on the configured database, whatever
env.lua builds its URL from (luamig.ini, -x url=, an environment variable); a connection env.lua
makes some other way (core.connect) is refused. The whole run is
under core.interruptible: a failing step, an error in env.lua, SIGINT or SIGTERM all end in the
same cleanup, which drops the scratch database before the error is reported.

Per revision, in plan order (S = the reflected schema, D = the rows of every table):
  S0; [--data: rows inserted]; upgrade; S1; [--data: rows inserted, D1]; downgrade;
  compare with S0 ("downgrade does not restore"); upgrade; compare with S1 ("upgrade again
  differs"); [--data: D3 against D1 ("rows lost")].
The comparison is compare.compare with the earlier reflection standing for the models, so the
differences read as `luamig check` prints them: what would take the database as it is now to the
schema it had. Without --data a state is kept as the dialect's catalog snapshot in the scratch
connection (SQLite: the rows of sqlite_master in a TEMP table; PostgreSQL: a print of each
table's catalog rows in a TEMP table, which the dialect keeps up to date by printing again only
the tables a move may have changed), not as a reflection: after a move, only the tables that
differ are reflected. The earlier state's side of them is made again: on SQLite from its rows
(with the tables whose foreign keys refer to them), in an in-memory database; on PostgreSQL by
replaying the steps the test applied up to that state on a second scratch database, made when a
step first differs. Equal prints reflect the same, so a step that comes back reflects nothing
(user hooks such as compare_type or include_object are called for the differing tables only), and
a history of 10,000 tables costs the test no memory of its own. With --data, or other schemas,
every state is reflected whole; where the dialect has a schema fingerprint, a state whose
fingerprint equals the earlier one's is not compared, and S0 is then the previous revision's S1
when its second upgrade came back to S1.
A revision whose upgrade fails, or whose second upgrade fails, stops the test
(later revisions need it); a failing downgrade is reported and the test goes on from the
upgraded schema, unless it failed because the scratch database's connection is gone (the test
stops, and says so). The version table (and history table) are luamig's and never compared; the
scratch runs keep no history and take no runner lock.

Rows that should survive (--data): a row of a table that existed before the upgrade and still
exists after it, projected on the columns it had both before and after the upgrade (the columns
the revision adds or drops are not compared, nor are tables it creates or drops). Before every
step, each table gets two generated rows (values made from the column types; foreign keys take a
row of the table they refer to; a table whose rows cannot be made or are refused is skipped and
named). The rows of the tables the revision keeps must come back from a downgrade and an
upgrade as they were (as a multiset of the values as text). A revision that changes data in
place on each upgrade (an UPDATE that is not idempotent) is reported too: that is a true
difference between the first and the second upgrade.
]]

local core = require "luamig.core"
local luamig = require "luamig"
local ag = require "luamig.autogenerate"
local scratch = require "luamig.scratch"
local checkpoint = require "luamig.checkpoint"
local loader = require "luamig.loader"

local M = {}

-- An error that carries its own, final message (no position prefix).
local function fail(msg)
  error(msg, 0)
end

---------------------------------------------------------------------------
-- Steps
---------------------------------------------------------------------------

-- The step that undoes `step`: the same revision's downgrade(), the version-table changes
-- reversed.
local function inverse(step)
  local ops = {}
  for i = #step.ops, 1, -1 do
    local o = step.ops[i]
    if o[1] == "insert" then
      ops[#ops + 1] = { "delete", from = o.to }
    elseif o[1] == "delete" then
      ops[#ops + 1] = { "insert", to = o.from }
    else
      ops[#ops + 1] = { "update", from = o.to, to = o.from }
    end
  end
  return { upgrade = false, stamp = false, rev = step.rev, from = step.to, to = step.from, ops = ops }
end

local run_steps = scratch.run_steps

---------------------------------------------------------------------------
-- Schemas
---------------------------------------------------------------------------

local reflect = scratch.reflect

-- The differences between the database now and `expected` (an earlier reflection), as check
-- reports them: { lines = {...}, json = "[...]" }, or nil when there is none.
local function differences(mc, expected)
  local diffs = ag.compare_metadata(mc, expected)
  if #diffs == 0 then return nil end
  return { lines = ag.diff_lines(diffs), json = ag.diffs_json(diffs) }
end

local table_map = scratch.user_tables

-- The dialect's schema fingerprint of the database now, or nil when it has none (PostgreSQL:
-- every state is reflected and compared) or when other schemas are reflected too.
local function fingerprint(mc)
  if not mc.dialect.schema_fingerprint or mc.opts.include_schemas then return nil end
  return mc.dialect:schema_fingerprint(mc.connection)
end

-- Whether the database's fingerprint now is `was` (never when there is none): then a
-- reflection of it would equal the one taken when `was` was.
local function unchanged_since(mc, was)
  return was ~= nil and fingerprint(mc) == was
end

---------------------------------------------------------------------------
-- Generated rows (--data)
---------------------------------------------------------------------------

local counter = 0

-- A value for column `c` (the n-th generated), or nil when no value can be made for its type.
local function value_for(c, n)
  local name = (c.type and c.type.name or ""):lower()
  local len = c.type and tonumber(c.type.length)
  if name:find("int") or name:find("serial") then return n end
  if name:find("bool") then return n % 2 end
  if name:find("num") or name:find("dec") or name:find("float") or name:find("real")
      or name:find("double") then
    return n + 0.5
  end
  if name:find("timestamp") or name:find("datetime") then
    return string.format("2020-01-01 00:%02d:%02d", (n // 60) % 60, n % 60)
  end
  if name:find("date") then return string.format("2020-01-%02d", n % 28 + 1) end
  if name:find("time") then return string.format("00:%02d:%02d", (n // 60) % 60, n % 60) end
  if name:find("json") then return string.format('{"n": %d}', n) end
  if name:find("uuid") then return string.format("00000000-0000-4000-8000-%012d", n) end
  if name:find("char") or name:find("text") or name:find("string") or name:find("clob")
      or name == "" then
    local s = "r" .. n
    if len and #s > len then s = s:sub(-len) end
    return s
  end
  return nil
end

local parents_first = scratch.parents_first

-- Inserts two generated rows into every user table; returns the names of the tables that
-- refused them (or where no row could be made), sorted.
local function insert_rows(mc, tables)
  local d, conn = mc.dialect, mc.connection
  local skipped = {}
  for _, name in ipairs(parents_first(tables)) do
    local t = tables[name].table
    local fk_of = {}
    for _, con in ipairs(t.constraints or {}) do
      if con.kind == "foreign_key" then
        for i, col in ipairs(con.columns) do fk_of[col] = { con = con, i = i } end
      end
    end
    local refused = false
    for _ = 1, 2 do
      counter = counter + 1
      local cols, marks, params = {}, {}, {}
      local made = true
      for _, c in ipairs(t.columns or {}) do
        local v
        local fk = fk_of[c.name]
        if fk and fk.con.referred_table ~= name then
          local rows = conn:pquery(string.format("SELECT %s FROM %s LIMIT 1",
            d:quote(fk.con.referred_columns[fk.i]), d:quote(fk.con.referred_table)))
          v = rows and rows[1] and rows[1][1]
        elseif fk then
          v = nil
        else
          v = value_for(c, counter)
        end
        if v == nil and c.nullable == false and c.server_default == nil and not c.autoincrement then
          made = false
        end
        if v ~= nil then
          cols[#cols + 1] = d:quote(c.name)
          params["v" .. #cols] = v
          marks[#marks + 1] = ":v" .. #cols
        end
      end
      if not made or #cols == 0 then
        refused = true
        break
      end
      local ok = pcall(mc.execute, mc, string.format("INSERT INTO %s (%s) VALUES (%s)",
        d:quote(name), table.concat(cols, ", "), table.concat(marks, ", ")), params)
      if not ok then
        refused = true
        break
      end
    end
    if refused then skipped[#skipped + 1] = name end
  end
  table.sort(skipped)
  return skipped
end

-- The rows that should survive a downgrade and an upgrade: for each table of both `before`
-- and `after`, the values (as text) of the columns both have, counted. Returns { [table] =
-- { columns = {...}, rows = { [row text] = count }, total = n } }.
local function snapshot(mc, before, after)
  local d, conn = mc.dialect, mc.connection
  local out = {}
  for name, a in pairs(after) do
    local b = before[name]
    if b then
      local cols = {}
      for _, c in ipairs(a.table.columns or {}) do
        if b.cols[c.name] then cols[#cols + 1] = c.name end
      end
      if #cols > 0 then
        local quoted = {}
        for i, c in ipairs(cols) do quoted[i] = d:quote(c) end
        local rows = conn:query(string.format("SELECT %s FROM %s", table.concat(quoted, ", "),
          d:quote(name)))
        local counts = {}
        for _, r in ipairs(rows) do
          local parts = {}
          for i = 1, #cols do
            local v = r[i]
            parts[i] = v == nil and "NULL" or string.format("%q", tostring(v))
          end
          local key = "(" .. table.concat(parts, ", ") .. ")"
          counts[key] = (counts[key] or 0) + 1
        end
        out[name] = { columns = cols, rows = counts, total = #rows }
      end
    end
  end
  return out
end

-- The rows of `was` missing from `now`: { "table t (a, b): n of m rows lost, e.g. (...)" }.
local function rows_lost(was, now)
  local lines = {}
  local names = {}
  for name in pairs(was) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    local w, n = was[name], now[name]
    local lost, example = 0, nil
    local keys = {}
    for key in pairs(w.rows) do keys[#keys + 1] = key end
    table.sort(keys)
    for _, key in ipairs(keys) do
      local have = n and n.rows[key] or 0
      if have < w.rows[key] then
        lost = lost + w.rows[key] - have
        example = example or key
      end
    end
    if lost > 0 then
      lines[#lines + 1] = string.format("table %s (%s): %d of %d rows lost, e.g. %s", name,
        table.concat(w.columns, ", "), lost, w.total, example)
    end
  end
  return lines
end

---------------------------------------------------------------------------
-- The test
---------------------------------------------------------------------------

local function steps_of(range)
  local start, stop = range:match("^(.-):(.*)$")
  if not start then start, stop = "base", range end
  if stop == "" then stop = "heads" end
  local all = core.plan("upgrade", {}, stop)
  if start == "" or start == "base" then
    -- the plan as core.plan gives it: a long one stays in C, each step made as the loop
    -- reaches it (a copy would hold 10,000 steps in the Lua heap for the whole test)
    return {}, all, stop
  end
  local prefix = core.plan("upgrade", {}, start)
  local done = {}
  for _, s in ipairs(prefix) do done[s.rev.revision] = true end
  local tested = {}
  for _, s in ipairs(all) do
    if not done[s.rev.revision] then tested[#tested + 1] = s end
  end
  return prefix, tested, stop
end

-- How a state of the scratch database is kept, to compare the database with it later:
--   keeper.take(slot, position) -> state (slot 0 or 1: the two states a step keeps at once;
--       position: how many steps the test has applied to reach it)
--   keeper.compare(state) -> diff | nil, same: the differences from the database now to the
--       state (as `differences`), and whether the two are known equal without comparing
--   keeper.reflection(state) -> the state's reflection (--data only)
-- By catalog (without --data): the dialect's catalog snapshot in the scratch connection
-- (sqldialect's catalog_snapshot: SQLite's catalog rows, PostgreSQL's table prints); only the
-- tables that differ are reflected. The state's side of them is made again: on SQLite from its
-- rows, on an in-memory database (and the tables whose foreign keys refer to them); on
-- PostgreSQL by replaying the steps the test applied up to that state, as upgrades, on a second
-- scratch database made the first time a step differs, and used only for the tables whose
-- prints there are the state's. A test of 10,000 revisions then keeps no reflection in memory,
-- and reflects nothing where a step comes back.
-- By reflection (--data, other schemas): the whole reflection, and the fingerprint when the
-- dialect has one.
local function own_table(mc, key)
  return (mc.version_table ~= nil and key == mc.version_table:lower())
    or (mc.history_table ~= nil and key == mc.history_table:lower())
end

-- The earlier side from the snapshot's rows (catalog_restore), and the side now.
local function restored(mc, state, keys, live)
  local d, include_name = mc.dialect, mc.opts.include_name
  local into = d:catalog_database(core.connect)
  local ok, expected, current = pcall(function()
    local none = luamig.inspect(into, {})   -- an empty database's: a side with no table
    local names = d:catalog_restore(mc.connection, state.slot, keys, into)
    local was = #names > 0 and luamig.inspect(into, { include_name = include_name, tables = names })
    local now = #live > 0 and mc:inspect({ include_name = include_name, tables = live })
    return was or none, now or none
  end)
  into:close()
  if not ok then
    if not pcall(core.check_interrupt) then error(expected, 0) end
    error("luamig test: the earlier schema could not be made again to compare with: "
      .. tostring(expected), 0)
  end
  return expected, current
end

-- The earlier side from a replay: applied(i) is the i-th step the test applied (a state's
-- position counts them). Returns a function(mc, state, keys) -> the earlier side and the side
-- now of the tables the replay stands for (nil when none), the tables it does not stand for,
-- and why. The replay runs each step in its own transaction, as a test's steps are.
local function replayer(mc, applied)
  local d, include_name = mc.dialect, mc.opts.include_name
  local replay   -- { mc, position, broken = why it cannot go on }
  return function(_, state, keys)
    if replay and replay.position > state.position then replay = nil end
    if not replay then
      replay = { mc = scratch.another(mc), position = 0 }
      replay.mc.transaction_per_migration = true
    end
    while not replay.broken and replay.position < state.position do
      local batch = {}
      for i = replay.position + 1, math.min(state.position, replay.position + 500) do
        batch[#batch + 1] = applied(i)
      end
      local ok, err = run_steps(replay.mc, batch)
      if ok then
        replay.position = replay.position + #batch
      else
        -- (a revision that makes what a database cluster shares, a role or a tablespace, or
        -- with --schema a schema, cannot be replayed beside the test's own database)
        replay.broken = "replaying the revisions before it failed: " .. err:gsub("%s+", " ")
      end
    end
    if replay.broken then return nil, nil, keys, replay.broken end
    -- The replay stands for the state where its tables print as the state's did; not where an
    -- earlier revision's second upgrade left a table otherwise than its first.
    local want = d:catalog_prints(mc.connection, state.slot, keys)
    local have = d:catalog_prints(replay.mc.connection, nil, keys)
    local shown, unshown = {}, {}
    for _, key in ipairs(keys) do
      local list = want[key] == have[key] and shown or unshown
      list[#list + 1] = key
    end
    local why = "replaying the revisions before it does not give the schema the test found"
    if #shown == 0 then return nil, nil, unshown, why end
    return replay.mc:inspect({ include_name = include_name, tables = shown }),
      mc:inspect({ include_name = include_name, tables = shown }), unshown, why
  end
end

-- A table whose catalog differs but whose difference cannot be shown, and why, as a diff's line
-- and JSON object. (It counts as a difference: what compare would make of it is not known, and
-- it may be one compare leaves out, such as an enum's labels.)
local function unshown_line(key, why)
  return "table " .. key .. " changed in the catalog (how, and whether check would report it, "
    .. "cannot be shown: " .. why .. ")"
end

local function unshown_json(key, why)
  return string.format('{"kind": "table_differs", "schema": null, "table": %s, "column": null, '
    .. '"name": null, "constraint": null, "from": null, "to": null, "detail": %s}',
    core.json_string(key), core.json_string(why))
end

local function catalog_keeper(mc, applied)
  local d, conn = mc.dialect, mc.connection
  local earlier = d.catalog_restore and restored or replayer(mc, applied)
  local k = {}
  function k.take(slot, position)
    d:catalog_snapshot(conn, slot)
    return { slot = slot, position = position }
  end
  function k.compare(state)
    local keys, live = d:catalog_changes(conn, state.slot)
    local mine = {}
    for _, key in ipairs(keys) do
      if not own_table(mc, key) then mine[#mine + 1] = key end
    end
    if #mine == 0 then return nil, true end
    local expected, current, unshown, why = earlier(mc, state, mine, live)
    local diffs = expected and ag.compare_metadata(mc, expected, current) or {}
    if #diffs == 0 and not (unshown and #unshown > 0) then return nil, false end
    local lines, json = ag.diff_lines(diffs), ag.diffs_json(diffs)
    if unshown and #unshown > 0 then
      local items = {}
      for _, key in ipairs(unshown) do
        lines[#lines + 1] = unshown_line(key, why)
        items[#items + 1] = unshown_json(key, why)
      end
      json = #diffs == 0 and ("[\n  " .. table.concat(items, ",\n  ") .. "\n]")
        or (json:sub(1, -3) .. ",\n  " .. table.concat(items, ",\n  ") .. "\n]")
    end
    return { lines = lines, json = json }, false
  end
  return k
end

local function reflection_keeper(mc)
  local k = {}
  function k.take()
    return { md = reflect(mc), print = fingerprint(mc) }
  end
  function k.compare(state)
    if unchanged_since(mc, state.print) then return nil, true end
    return differences(mc, state.md), false
  end
  function k.reflection(state) return state.md end
  return k
end

-- Tests each step, giving each revision's entry to emit(entry) once it is done ({ revision,
-- message, problems = { { kind, error | lines/json | skipped } }, no_rows }: not kept as tables,
-- 300 bytes a revision); returns { tested = n, failed = n, stopped = message | nil }.
local function test_steps(mc, prefix, steps, opts, emit)
  local report = { tested = 0, failed = 0 }
  local pending
  local function done(entry)
    report.tested = report.tested + 1
    if #entry.problems > 0 then report.failed = report.failed + 1 end
    emit(entry)
  end
  local by_catalog = not opts.data and mc.dialect.catalog_snapshot and not mc.opts.include_schemas
  -- the i-th step applied (as an upgrade): the range's prefix, then the steps tested
  local function applied(i)
    if i <= #prefix then return prefix[i] end
    return steps[i - #prefix]
  end
  local keeper = by_catalog and catalog_keeper(mc, applied) or reflection_keeper(mc)
  -- the state the next step starts from, when already kept (the previous step came back to it)
  local now
  local slot0, slot1 = 0, 1
  for i, step in ipairs(steps) do
    if pending then done(pending) end
    local entry = { revision = step.rev.revision, message = step.rev.message, problems = {} }
    pending = entry
    local function problem(p) entry.problems[#entry.problems + 1] = p end
    local s0 = now or keeper.take(slot0, #prefix + i - 1)
    now = nil
    local before
    if opts.data then
      before = table_map(mc, keeper.reflection(s0))
      insert_rows(mc, before)
    end
    local ok, err = run_steps(mc, { step })
    if not ok then
      problem { kind = "upgrade_failed", error = err }
      report.stopped = "the upgrade of " .. step.rev.revision .. " failed"
      break
    end
    local s1 = keeper.take(slot1, #prefix + i)
    local d1, after
    if opts.data then
      after = table_map(mc, keeper.reflection(s1))
      local skipped = insert_rows(mc, after)
      if #skipped > 0 then entry.no_rows = skipped end
      d1 = snapshot(mc, before, after)
    end
    ok, err = run_steps(mc, { inverse(step) })
    if not ok then
      problem { kind = "downgrade_failed", error = err }
      -- a downgrade that failed because the connection is gone: nothing more can be tested
      if scratch.connection_lost(mc) then
        report.stopped = "the connection to the scratch database was lost in the downgrade of "
          .. step.rev.revision
        break
      end
    else
      local diff = keeper.compare(s0)
      if diff then
        diff.kind = "downgrade_differs"
        problem(diff)
      end
      ok, err = run_steps(mc, { step })
      if not ok then
        problem { kind = "reupgrade_failed", error = err }
        report.stopped = "the second upgrade of " .. step.rev.revision .. " failed"
        break
      end
      local back
      diff, back = keeper.compare(s1)
      if diff then
        diff.kind = "reupgrade_differs"
        problem(diff)
      end
      if back then   -- the next revision starts from S1 again, kept in the other slot
        now = s1
        slot0, slot1 = slot1, slot0
      end
      if d1 then
        local now_map = back and after or table_map(mc, reflect(mc))
        local lost = rows_lost(d1, snapshot(mc, before, now_map))
        if #lost > 0 then problem { kind = "rows_lost", lines = lost } end
      end
    end
    -- the revision's code is not needed again: a test of 10,000 revisions keeps none of it
    loader.forget(step.rev.path)
  end
  if pending then done(pending) end
  return report
end

local headings = {
  upgrade_failed = "upgrade fails",
  downgrade_failed = "downgrade fails",
  downgrade_differs = "downgrade does not restore the schema before the upgrade "
    .. "(what would take the database back to it):",
  reupgrade_failed = "upgrade after the downgrade fails",
  reupgrade_differs = "upgrade after the downgrade differs from the first "
    .. "(what would take the database to the first upgrade's schema):",
  rows_lost = "downgrade and upgrade lose rows they should keep:",
}

local function json_string(s)
  return '"' .. tostring(s):gsub('[%c"\\]', function(c)
    if c == '"' then return '\\"' end
    if c == "\\" then return "\\\\" end
    if c == "\n" then return "\\n" end
    return string.format("\\u%04x", c:byte())
  end) .. '"'
end

local function json_list(items)
  local parts = {}
  for i, s in ipairs(items) do parts[i] = json_string(s) end
  return "[" .. table.concat(parts, ", ") .. "]"
end

-- One revision's lines.
local function text_entry(e, out)
  out(string.format("%-4s %s  %s", #e.problems == 0 and "ok" or "FAIL", e.revision, e.message))
  for _, p in ipairs(e.problems) do
    out("       " .. headings[p.kind] .. (p.error and (": " .. p.error:gsub("\n", " ")) or ""))
    for _, line in ipairs(p.lines or {}) do out("         " .. line) end
  end
  if e.no_rows then
    out("       (--data: no rows could be inserted into " .. table.concat(e.no_rows, ", ") .. ")")
  end
end

-- What follows the revisions' lines.
local function print_text(report, out)
  if report.stopped then out("Stopped: " .. report.stopped .. "; later revisions were not tested") end
  for _, c in ipairs(report.checkpoints or {}) do
    if c.ok then
      out(string.format("ok   checkpoint %s equals the replay of its %d revision%s", c.file,
        c.count, c.count == 1 and "" or "s"))
    else
      out(string.format("FAIL checkpoint %s differs from the replay of its %d revision%s:", c.file,
        c.count, c.count == 1 and "" or "s"))
      for _, line in ipairs(c.problems) do out("         " .. line) end
    end
  end
  if report.models then
    if report.models.diff then
      out("FAIL the schema at the heads differs from target_metadata (as `luamig check` prints it):")
      for _, line in ipairs(report.models.diff.lines) do out("         " .. line) end
    else
      out("ok   the schema at the heads equals target_metadata")
    end
  end
end

-- One revision's JSON object.
local function json_entry(e)
  local problems = {}
  for _, p in ipairs(e.problems) do
    local fields = { '"kind": ' .. json_string(p.kind) }
    if p.error then fields[#fields + 1] = '"error": ' .. json_string(p.error) end
    if p.json then fields[#fields + 1] = '"differences": ' .. p.json end
    if p.kind == "rows_lost" then fields[#fields + 1] = '"rows_lost": ' .. json_list(p.lines) end
    problems[#problems + 1] = "{" .. table.concat(fields, ", ") .. "}"
  end
  return string.format('{"revision": %s, "message": %s, "ok": %s, "problems": [%s]%s}',
    json_string(e.revision), json_string(e.message), #e.problems == 0 and "true" or "false",
    table.concat(problems, ", "),
    e.no_rows and (', "no_rows": ' .. json_list(e.no_rows)) or "")
end

-- The whole document; report.json_revisions: json_entry's texts.
local function print_json(report, out)
  local cps = {}
  for _, c in ipairs(report.checkpoints or {}) do
    cps[#cps + 1] = string.format('{"file": %s, "checkpoint": %s, "replaces": %d, "ok": %s, '
      .. '"problems": %s}', json_string(c.file), json_list(c.heads), c.count,
      c.ok and "true" or "false", json_list(c.problems))
  end
  local models = "null"
  if report.models then
    models = string.format('{"ok": %s, "differences": %s}', report.models.diff and "false" or "true",
      report.models.diff and report.models.diff.json or "[]")
  end
  out(string.format('{"format": 1, "ok": %s, "dialect": %s, "scratch": %s, "data": %s, '
    .. '"stopped": %s, "revisions": [%s], "checkpoints": [%s], "models": %s}',
    report.ok and "true" or "false", json_string(report.dialect), json_string(report.scratch),
    report.data and "true" or "false",
    report.stopped and json_string(report.stopped) or "null",
    table.concat(report.json_revisions, ",\n  "), table.concat(cps, ", "), models))
end

function M.run(cmd, config)
  local range = cmd.positional[1] or "base:heads"
  local opts = { data = cmd.data, schema = cmd.schema, destination = range }
  local report
  local out = function(line) io.stdout:write(line, "\n") end
  -- each revision's lines (text) or object (JSON) kept as one text, printed once the scratch
  -- database is gone (a closed pipe on stdout must not end the run before it is dropped)
  local done = {}
  local emit = function(e) done[#done + 1] = json_entry(e) end
  if not cmd.json then
    emit = function(e)
      local lines = {}
      text_entry(e, function(line) lines[#lines + 1] = line end)
      done[#done + 1] = table.concat(lines, "\n")
    end
  end
  scratch.run(cmd, config, opts, function(mc, kind)
    local prefix, tested, stop = steps_of(range)
    checkpoint.list(cmd.script_location)   -- a broken checkpoint file fails before the long run
    if #prefix > 0 then
      local ok, err = run_steps(mc, prefix)
      if not ok then fail("luamig test: upgrading to the start of the range failed: " .. err) end
    end
    report = test_steps(mc, prefix, tested, opts, emit)
    -- each checkpoint the range passes equals the replay it stands for (luamig.checkpoint)
    local all = tested
    if #prefix > 0 then
      all = {}
      for _, st in ipairs(prefix) do all[#all + 1] = st end
      for _, st in ipairs(tested) do all[#all + 1] = st end
    end
    report.checkpoints = checkpoint.verify_all(mc, cmd.script_location, all)
    report.dialect = mc.dialect.name
    report.data = opts.data and true or false
    report.scratch = kind
    -- the models, once, when the whole range reached the heads
    if mc.opts.target_metadata and not report.stopped and (stop == "heads" or stop == "head") then
      report.models = { diff = differences(mc, mc.opts.target_metadata) }
    end
  end)
  local failed, tested = report.failed, report.tested
  report.ok = failed == 0 and not report.stopped and not (report.models and report.models.diff)
  for _, c in ipairs(report.checkpoints or {}) do report.ok = report.ok and c.ok end
  report.json_revisions = done
  if not cmd.json then
    for _, text in ipairs(done) do out(text) end
  end
  if cmd.json then print_json(report, out) else print_text(report, out) end
  if failed > 0 then
    fail(string.format("%d of %d revision%s do not round-trip", failed, tested,
      tested == 1 and "" or "s"))
  end
  local bad_cp = 0
  for _, c in ipairs(report.checkpoints or {}) do
    if not c.ok then bad_cp = bad_cp + 1 end
  end
  if bad_cp > 0 then
    fail(string.format("%d checkpoint%s differ%s from the revisions %s stand%s for", bad_cp,
      bad_cp == 1 and "" or "s", bad_cp == 1 and "s" or "", bad_cp == 1 and "it" or "they",
      bad_cp == 1 and "s" or ""))
  end
  if not report.ok then fail("the schema at the heads differs from target_metadata") end
  if not cmd.json then
    out(string.format("All %d revision%s round-trip", tested, tested == 1 and "" or "s"))
  end
  return 0
end

return M
