--[[ luamig.checkpoint — checkpoints: one step that creates, on a fresh database, the schema (and
the rows) that replaying the history up to a revision produces.

A checkpoint is a Lua file in <script_location>/checkpoints/, shaped like a revision:

  checkpoint = { "ae1027a6acf" }   -- the version table's rows it leaves: the revision(s) it
                                   -- stands for (several for a set of heads)
  dialect = "sqlite"               -- the database kind it was rendered for
  replaces = 500                   -- how many revisions it stands for
  history_checksum = "fnv1a64:..." -- of those revisions' files, as the script directory read them
  function upgrade() ... end       -- creates the tables (autogenerate's renderer), inserts the
                                   -- rows the revisions left, sets the sequences
  function downgrade() ... end     -- drops it all again

The checkpoint names the revisions it stands for; they stay in the script directory, so the DAG
and every command (history, heads, current, downgrade below the checkpoint) work as before.

  checkpoint.write(cmd, config)   `luamig checkpoint [REVISION]`: replays the history up to
      REVISION (default head; "heads" for a set of heads) on a scratch database
      (luamig.scratch), renders the checkpoint, and writes it only after applying it on a second
      scratch database gives the same schema, rows, sequences and catalog objects and its
      downgrade empties that database again. A history that leaves what luamig's reflection
      does not cover (a view, a trigger, a function, a type that no column uses) is refused,
      naming what differs.
  checkpoint.shorten(mc, script_location, target, steps) -> steps: for a fresh database (no
      version table), the plan `steps` to `target` with the revisions the latest applicable
      checkpoint stands for replaced by one step running it. Applicable: rendered for mc's
      dialect, every revision it stands for is in the plan, and its history_checksum still
      matches the files (a stale checkpoint is skipped with a warning). The latest: the one that
      stands for the most revisions.
  checkpoint.verify_all(mc, script_location, steps) -> { { file, ok, problems = { lines } } }:
      for `luamig test`, each checkpoint of mc's dialect whose revisions are all in `steps`,
      compared with the replay it stands for, each on scratch databases of its own.
  checkpoint.prune(cmd, config)   `luamig checkpoint --prune [REVISION]`: see M.prune.
]]

local core = require "luamig.core"
local lazy = require "luamig.lazy"
local ag = lazy "luamig.autogenerate"
local render = lazy "luamig.render"
local loader = require "luamig.loader"
local log = require "luamig.log"
local scratch = lazy "luamig.scratch"
local environment = require "luamig.environment"
local migration = require "luamig.migration"

local M = {}

local LOGGER = "luamig.runtime.migration"
local FORMAT = 1

local function fail(msg)
  error(msg, 0)
end

M.dir = loader.checkpoints_dir

---------------------------------------------------------------------------
-- What a checkpoint stands for
---------------------------------------------------------------------------

-- FNV-1a, 64 bits, over the revisions' checksums in id order: one value that changes when any
-- file a checkpoint stands for changes.
local function history_checksum(applied)
  local ids = {}
  for id in pairs(applied) do ids[#ids + 1] = id end
  table.sort(ids)
  local h = -3750763034362895579   -- 0xcbf29ce484222325
  local function feed(s)
    for i = 1, #s do
      h = h ~ s:byte(i)
      h = h * 1099511628211
    end
  end
  for _, id in ipairs(ids) do
    local sum = applied[id]
    if sum == "" then sum = core.checksum(core.revision(id).path) or "" end
    feed(id); feed("="); feed(sum); feed("\n")
  end
  return string.format("fnv1a64:%016x", h), #ids
end

-- The checkpoint files of the script directory: { { path, name, heads, dialect, replaces,
-- history_checksum } }, sorted by file name. A file that does not load, or whose fields are
-- wrong, raises its file (and line) in one line.
local function list(script_location)
  local dir = M.dir(script_location)
  local out = {}
  for _, name in ipairs(core.lua_files(dir)) do
    local path = dir .. "/" .. name
    local env = loader.load(path)
    local shown = loader.display_path(path)
    local heads = rawget(env, "checkpoint")
    if type(heads) ~= "table" or #heads == 0 then
      fail(shown .. ": a checkpoint file sets checkpoint = { \"<revision>\", ... }")
    end
    for _, h in ipairs(heads) do
      if type(h) ~= "string" or not core.revision(h) then
        fail(string.format("%s: checkpoint stands for revision '%s', which the script directory "
          .. "does not have", shown, tostring(h)))
      end
    end
    local dialect = rawget(env, "dialect")
    if type(dialect) ~= "string" then fail(shown .. ": a checkpoint file sets dialect = \"<name>\"") end
    if type(rawget(env, "upgrade")) ~= "function" then
      fail(shown .. ": a checkpoint file has an upgrade() function")
    end
    out[#out + 1] = { path = path, name = name, shown = shown, heads = heads, dialect = dialect,
                      history_checksum = rawget(env, "history_checksum") }
  end
  return out
end

-- The upgrade steps from nothing to every revision of `heads` (one plan per head, each from
-- where the previous one left the version table).
local function plan_to(heads)
  local rows, steps = {}, {}
  for _, h in ipairs(heads) do
    for _, st in ipairs(core.plan("upgrade", rows, h)) do
      steps[#steps + 1] = st
      rows = migration.replay(rows, st.ops)
    end
  end
  return steps, rows
end

-- The plan step that runs checkpoint `cp`: the version table goes from nothing to its heads.
local function step_of(cp, count)
  local heads = {}
  for i, h in ipairs(cp.heads) do heads[i] = h end
  table.sort(heads)
  local ops = {}
  for i, h in ipairs(heads) do ops[i] = { "insert", to = h } end
  return { upgrade = true, stamp = false, checkpoint = true, from = {}, to = heads, ops = ops,
           rev = { revision = #heads == 1 and heads[1] or "checkpoint", path = cp.path,
                   message = string.format("checkpoint of %d revision%s (%s)", count,
                     count == 1 and "" or "s", cp.name) } }
end

-- The step that undoes a checkpoint's step (its downgrade()).
local function down_step_of(step)
  local ops = {}
  for i, h in ipairs(step.to) do ops[i] = { "delete", from = h } end
  return { upgrade = false, stamp = false, checkpoint = true, from = step.to, to = {}, ops = ops,
           rev = step.rev }
end

-- The checkpoints applicable to a plan: rendered for `dialect`, every revision they stand for
-- in the plan; with the revisions each stands for, the most first. Stale ones are left out,
-- each with its warning (when `warn`).
local function applicable(script_location, dialect, steps, warn)
  local files = list(script_location)
  if #files == 0 then return {} end   -- no need to walk a plan of 10,000 steps
  local in_plan = {}
  for _, s in ipairs(steps) do
    if s.rev then in_plan[s.rev.revision] = true end
  end
  local found = {}
  for _, cp in ipairs(files) do
    local all_in = cp.dialect == dialect
    for _, h in ipairs(cp.heads) do all_in = all_in and in_plan[h] end
    if all_in then
      local applied = core.applied(cp.heads)
      local sum, count = history_checksum(applied)
      if sum ~= cp.history_checksum then
        if warn then
          log.warning(LOGGER, string.format("Checkpoint %s is stale: the revisions it stands for "
            .. "changed since it was written; replaying them instead (luamig checkpoint %s "
            .. "writes it again)", cp.shown, table.concat(cp.heads, " ")))
        end
        cp.stale = true
      end
      cp.applied, cp.count = applied, count
      found[#found + 1] = cp
    end
  end
  table.sort(found, function(a, b)
    if a.count ~= b.count then return a.count > b.count end
    return a.name < b.name
  end)
  return found
end

-- The checkpoint files, read and checked (M.list: luamig test reads them before its long run,
-- so that a broken file stops it at once).
M.list = list

-- Past this many steps core.plan's plan stays in C (LAZY_PLAN_STEPS, core/lua_core.c).
local LONG_PLAN = 2000

function M.shorten(mc, script_location, target, steps)
  for _, cp in ipairs(applicable(script_location, mc.dialect.name, steps, true)) do
    if not cp.stale then
      local rest = core.plan("upgrade", cp.heads, target)
      log.info(LOGGER, string.format("Starting from checkpoint %s: one step for %d revision%s, "
        .. "then %d more", cp.shown, cp.count, cp.count == 1 and "" or "s", #rest))
      local first = step_of(cp, cp.count)
      local n = #rest
      if n > LONG_PLAN then
        -- rest is core.plan's lazy plan (its steps made when asked for): a copy would hold
        -- thousands of steps in the Lua heap for the whole run, so the plan is one more
        -- read-only proxy in front of it
        return setmetatable({}, {
          __index = function(_, i)
            if i == 1 then return first end
            if math.type(i) == "integer" and i >= 2 and i <= n + 1 then return rest[i - 1] end
          end,
          __len = function() return n + 1 end,
          __newindex = function() error("checkpoint.shorten: the plan is read-only", 2) end,
        })
      end
      local out = { first }
      for _, s in ipairs(rest) do out[#out + 1] = s end
      return out
    end
  end
  return steps
end

---------------------------------------------------------------------------
-- Snapshots: what a checkpoint must reproduce
---------------------------------------------------------------------------

-- The reflection without luamig's own tables.
local function user_schema(mc, md)
  local out = {}
  for k, v in pairs(md) do out[k] = v end
  local keep = {}
  local own = { [mc.version_table] = true }
  if mc.history_table then own[mc.history_table] = true end
  if #(md.tables or {}) > 0 then
    for _, t in ipairs(md.tables) do if not own[t.name] then keep[#keep + 1] = t end end
  else
    for k, t in pairs(md.tables or {}) do if not own[t.name] then keep[k] = t end end
  end
  out.tables = keep
  return out
end

-- The rows of a table, each as a list of values in column order.
local function rows_of(mc, t)
  local d = mc.dialect
  local names = {}
  for i, c in ipairs(t.columns) do names[i] = d:quote(c.name) end
  if #names == 0 then return {} end
  local from = d:quote(t.name)
  if t.schema then from = d:quote(t.schema) .. "." .. from end
  -- in primary-key order, so that the file is the same for the same rows
  local order = {}
  for i, c in ipairs(t.primary_key and t.primary_key.columns or {}) do
    order[i] = d:quote(type(c) == "table" and c.name or c)
  end
  return mc.connection:query(string.format("SELECT %s FROM %s%s", table.concat(names, ", "), from,
    #order > 0 and (" ORDER BY " .. table.concat(order, ", ")) or ""))
end

local function row_text(row, n)
  local parts = {}
  for i = 1, n do
    local v = row[i]
    parts[i] = v == nil and "NULL" or string.format("%q", tostring(v))
  end
  return "(" .. table.concat(parts, ", ") .. ")"
end

local function snapshot(mc)
  local md = user_schema(mc, scratch.reflect(mc))
  local tables = scratch.user_tables(mc, md)
  local data = {}
  for name, entry in pairs(tables) do
    local rows = rows_of(mc, entry.table)
    local counts = {}
    for _, r in ipairs(rows) do
      local key = row_text(r, #entry.table.columns)
      counts[key] = (counts[key] or 0) + 1
    end
    data[name] = { rows = rows, counts = counts, n = #rows }
  end
  local seqs = {}
  for _, s in ipairs(mc.dialect:checkpoint_sequences(mc.connection)) do
    if tostring(s.value):match("^%-?%d+$") then seqs[#seqs + 1] = s end
  end
  local heads = mc:get_current_heads()
  table.sort(heads)
  return { schema = md, tables = tables, data = data,
           objects = mc.dialect:checkpoint_objects(mc.connection),
           sequences = seqs, heads = heads }
end

local function seq_line(s)
  return string.format("sequence of %s%s at %s%s", s.table, s.column and ("." .. s.column) or "",
    s.value, s.called == false and " (not yet called)" or "")
end

-- What `now` (a database after the checkpoint) lacks or has more than `want` (the replay):
-- lines, as `luamig check` prints schema differences.
local function differences(mc, want, now)
  local lines = {}
  for _, l in ipairs(ag.diff_lines(ag.compare_metadata(mc, want.schema))) do lines[#lines + 1] = l end
  local names = {}
  for name in pairs(want.data) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    local w, n = want.data[name], now.data[name]
    if n then
      local missing, extra = 0, 0
      for key, c in pairs(w.counts) do
        local have = n.counts[key] or 0
        if have < c then missing = missing + c - have end
      end
      for key, c in pairs(n.counts) do
        local had = w.counts[key] or 0
        if c > had then extra = extra + c - had end
      end
      if missing + extra > 0 then
        lines[#lines + 1] = string.format("table %s: %d row(s) of the replay missing, %d not in "
          .. "the replay", name, missing, extra)
      end
    end
  end
  local function set_diff(a, b, what)
    local seen = {}
    for _, x in ipairs(b) do seen[x] = true end
    for _, x in ipairs(a) do
      if not seen[x] then lines[#lines + 1] = what .. x end
    end
  end
  set_diff(want.objects, now.objects, "missing: ")
  set_diff(now.objects, want.objects, "not in the replay: ")
  local ws, ns = {}, {}
  for i, s in ipairs(want.sequences) do ws[i] = seq_line(s) end
  for i, s in ipairs(now.sequences) do ns[i] = seq_line(s) end
  set_diff(ws, ns, "replay has ")
  local wh, nh = table.concat(want.heads, ", "), table.concat(now.heads, ", ")
  if wh ~= nh then lines[#lines + 1] = "version table: " .. nh .. " instead of " .. wh end
  return lines
end

---------------------------------------------------------------------------
-- Rendering
---------------------------------------------------------------------------

local function value_text(v)
  if type(v) == "number" then
    if math.type(v) == "integer" then return tostring(v) end
    if v ~= v or v == math.huge or v == -math.huge then return render.string(tostring(v)) end
    return string.format("%.17g", v)
  elseif type(v) == "boolean" then
    return tostring(v)
  elseif v == nil then
    return "sa.null()"
  end
  return render.string(tostring(v))
end

-- op.bulk_insert of a table's rows, in chunks of 500.
local function insert_text(t, rows)
  local cols = {}
  for _, c in ipairs(t.columns) do
    cols[#cols + 1] = "sa.column(" .. render.string(c.name) .. ", " .. render.type(c.type) .. ")"
  end
  local tbl = "sa.table(" .. render.string(t.name) .. ", " .. table.concat(cols, ", ")
    .. (t.schema and (", { schema = " .. render.string(t.schema) .. " }") or "") .. ")"
  local out = {}
  for first = 1, #rows, 500 do
    local lines = { "  op.bulk_insert(" .. tbl .. ", {" }
    for i = first, math.min(first + 499, #rows) do
      local fields = {}
      for k, c in ipairs(t.columns) do
        fields[k] = "[" .. render.string(c.name) .. "] = " .. value_text(rows[i][k])
      end
      lines[#lines + 1] = "    { " .. table.concat(fields, ", ") .. " },"
    end
    lines[#lines + 1] = "  })"
    out[#out + 1] = table.concat(lines, "\n")
  end
  return table.concat(out, "\n")
end


local function render_file(mc, empty_md, snap, info)
  local up_ops = ag.compare(mc, empty_md, snap.schema)
  local down_ops = {}
  for i = #up_ops, 1, -1 do down_ops[#down_ops + 1] = up_ops[i]:reverse() end
  local body = ag.render_script(mc, { upgrade_ops = up_ops, downgrade_ops = down_ops })
  local data = {}
  local total = 0
  for _, name in ipairs(scratch.parents_first(snap.tables)) do
    local rows = snap.data[name].rows
    if #rows > 0 then
      data[#data + 1] = insert_text(snap.tables[name].table, rows)
      total = total + #rows
    end
  end
  local seq = {}
  for _, s in ipairs(snap.sequences) do
    for _, sql in ipairs(mc.dialect:checkpoint_sequence_sql(s)) do
      seq[#seq + 1] = "  op.execute(" .. render.string(sql) .. ")"
    end
  end
  local heads_list = {}
  for i, h in ipairs(snap.heads) do heads_list[i] = render.string(h) end
  local lines = {
    "--[[ Checkpoint: the schema at " .. table.concat(snap.heads, ", "),
    "",
    string.format("Stands for: %d revision%s, up to %s", info.count, info.count == 1 and "" or "s",
      table.concat(snap.heads, ", ")),
    "Dialect: " .. mc.dialect.name,
    "Create Date: " .. os.date("%Y-%m-%d %H:%M:%S"),
    "",
    "Written by `luamig checkpoint`. A fresh database (no version table) upgraded to or past",
    "these revisions runs this one step instead of the revisions it stands for, then the rest;",
    "`luamig test` checks that it still equals them. Write it again rather than edit it.",
    "]]",
    "",
    "checkpoint = { " .. table.concat(heads_list, ", ") .. " }",
    "dialect = " .. render.string(mc.dialect.name),
    "replaces = " .. info.count,
    "history_checksum = " .. render.string(info.checksum),
    "checkpoint_format = " .. FORMAT,
  }
  if body.imports ~= "" then
    lines[#lines + 1] = ""
    lines[#lines + 1] = body.imports
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "function upgrade()"
  lines[#lines + 1] = body.upgrades
  -- a commented block of statements, when there is one
  local function section(comment, chunk)
    if #chunk == 0 then return end
    lines[#lines + 1] = "  -- " .. comment
    lines[#lines + 1] = table.concat(chunk, "\n")
  end
  section(string.format("the %d row%s the revisions left", total, total == 1 and "" or "s"), data)
  section("the sequences, where the revisions left them", seq)
  lines[#lines + 1] = "end"
  lines[#lines + 1] = ""
  lines[#lines + 1] = "function downgrade()"
  lines[#lines + 1] = body.downgrades
  local drops = {}
  for _, object in ipairs(snap.objects) do
    local sql = mc.dialect:checkpoint_drop_sql(object)
    if sql then drops[#drops + 1] = "  op.execute(" .. render.string(sql) .. ")" end
  end
  section("what dropping the tables leaves", drops)
  lines[#lines + 1] = "end"
  lines[#lines + 1] = ""
  return table.concat(lines, "\n"), total
end

---------------------------------------------------------------------------
-- Comparing a checkpoint with its replay
---------------------------------------------------------------------------

-- Runs checkpoint step `step` on the fresh scratch context `other` and compares it with `want`
-- (the replay's snapshot); then its downgrade must empty the database. Returns the problems.
local function compare_on(other, step, want)
  local before = other.dialect:checkpoint_objects(other.connection)
  local ok, err = scratch.run_steps(other, { step })
  if not ok then return { "the checkpoint's upgrade fails: " .. err:gsub("\n", " ") } end
  local got = snapshot(other)
  local problems = differences(other, want, got)
  if #problems > 0 then return problems end
  ok, err = scratch.run_steps(other, { down_step_of(step) })
  if not ok then return { "the checkpoint's downgrade fails: " .. err:gsub("\n", " ") } end
  local left = scratch.user_tables(other, user_schema(other, scratch.reflect(other)))
  local names = {}
  for name in pairs(left) do names[#names + 1] = name end
  table.sort(names)
  if #names > 0 then
    return { "the checkpoint's downgrade leaves table(s) " .. table.concat(names, ", ") }
  end
  local was = {}
  for _, x in ipairs(before) do was[x] = true end
  for _, x in ipairs(other.dialect:checkpoint_objects(other.connection)) do
    if not was[x] then problems[#problems + 1] = "the checkpoint's downgrade leaves " .. x end
  end
  return problems
end

function M.verify_all(mc, script_location, steps)
  local out = {}
  for _, cp in ipairs(applicable(script_location, mc.dialect.name, steps, false)) do
    local entry = { file = cp.shown, heads = cp.heads, count = cp.count, problems = {} }
    out[#out + 1] = entry
    if cp.stale then
      entry.problems[1] = "stale: the revisions it stands for changed since it was written "
        .. "(luamig checkpoint " .. table.concat(cp.heads, " ") .. " writes it again)"
    else
      local replay = scratch.another(mc)
      local ok, err = scratch.run_steps(replay, (plan_to(cp.heads)))
      if not ok then
        entry.problems[1] = "the replay of the revisions it stands for fails: " .. err
      else
        local want = snapshot(replay)
        entry.problems = compare_on(scratch.another(mc), step_of(cp, cp.count), want)
      end
    end
    entry.ok = #entry.problems == 0
  end
  table.sort(out, function(a, b) return a.file < b.file end)
  return out
end

---------------------------------------------------------------------------
-- luamig checkpoint [REVISION]
---------------------------------------------------------------------------

local function write_file(path, text)
  local f, err = io.open(path, "w")
  if not f then fail("luamig checkpoint: " .. err) end
  local ok, werr = f:write(text)
  if ok then ok, werr = f:close() else f:close() end
  if not ok then
    os.remove(path)
    fail("luamig checkpoint: " .. tostring(werr))
  end
end

function M.write(cmd, config)
  local target = cmd.positional[1] or "head"
  local script_location = cmd.script_location
  -- an unknown revision is refused before any connection
  if #core.plan("upgrade", {}, target) == 0 then
    fail("luamig checkpoint: " .. target .. " stands for no revision")
  end
  local result
  -- the scratch runs' own log lines (each step, each table found) say nothing the summary does
  -- not; warnings and errors still show
  log.set_quiet(true)
  local restore <close> = setmetatable({}, { __close = function() log.set_quiet(cmd.quiet) end })
  scratch.run(cmd, config, { schema = cmd.schema, destination = target }, function(mc)
    local steps = core.plan("upgrade", {}, target)
    local ok, err = scratch.run_steps(mc, steps)
    if not ok then fail("luamig checkpoint: replaying the revisions up to " .. target
      .. " failed: " .. err) end
    local snap = snapshot(mc)
    local sum, count = history_checksum(core.applied(snap.heads))
    local other = scratch.another(mc)
    local empty = scratch.reflect(other)
    local text, rows = render_file(mc, empty, snap, { count = count, checksum = sum })
    local dir = M.dir(script_location)
    local made, merr = core.mkdir_p(dir)
    if not made then fail("luamig checkpoint: " .. merr) end
    local sorted = {}
    for i, h in ipairs(snap.heads) do sorted[i] = h end
    table.sort(sorted)
    local name = table.concat(sorted, "_") .. "_" .. mc.dialect.name .. ".lua"
    local path = dir .. "/" .. name
    local tmp = dir .. "/.luamig-checkpoint-" .. core.getpid() .. ".lua"
    write_file(tmp, text)
    local cleanup <close> = setmetatable({}, { __close = function()
      os.remove(tmp)
      loader.forget(tmp)
    end })
    local cp = { path = tmp, name = name, heads = snap.heads }
    local problems = compare_on(other, step_of(cp, count), snap)
    if #problems > 0 then
      fail("luamig checkpoint: the rendered checkpoint does not reproduce the replay, so none "
        .. "was written (a checkpoint creates what luamig's reflection covers: tables, columns, "
        .. "indexes, constraints, comments, the enum types of columns; and the rows and "
        .. "sequences): " .. table.concat(problems, "; "))
    end
    local renamed, rerr = os.rename(tmp, path)
    if not renamed then fail("luamig checkpoint: " .. tostring(rerr)) end
    result = { path = path, heads = sorted, count = count, rows = rows, dialect = mc.dialect.name }
  end)
  local shown = loader.display_path(result.path)
  if cmd.json then
    local heads = {}
    for i, h in ipairs(result.heads) do heads[i] = core.json_string(h) end
    io.stdout:write(string.format('{"path": %s, "checkpoint": [%s], "dialect": %s, '
      .. '"replaces": %d, "rows": %d}\n', core.json_string(shown), table.concat(heads, ", "),
      core.json_string(result.dialect), result.count, result.rows))
  else
    io.stdout:write(string.format("Generating %s ...  done (checkpoint of %d revision%s, up to "
      .. "%s, %s, %d row%s)\n", shown, result.count, result.count == 1 and "" or "s",
      table.concat(result.heads, ", "), result.dialect, result.rows, result.rows == 1 and "" or "s"))
  end
  return 0
end

---------------------------------------------------------------------------
-- luamig checkpoint --prune [REVISION]
---------------------------------------------------------------------------

--[[ Prune (squash): the revisions the checkpoint of REVISION (default head) stands for leave
the version locations for <script_location>/pruned/<revision>/, and the revision's own file
becomes a root revision (down_revision = nil, same id, branch labels kept) whose upgrade and
downgrade are the checkpoint's. Refused: with no checkpoint of that single revision (a set of
heads cannot become one root: merge them first); when a revision that stays names a pruned one
as its down_revision or depends_on; when the configured database cannot be read, or has a
version row older than the checkpoint. Databases with a history table then report the
revision's file as changed: `luamig stamp --resync REVISION` on each records the new file. ]]
function M.prune(cmd, config)
  local target = cmd.positional[1] or "head"
  local ids = core.resolve(target)
  if #ids ~= 1 then
    fail("luamig checkpoint --prune: " .. target .. " is " .. #ids .. " revisions; a set of "
      .. "heads cannot become one root revision (merge them first)")
  end
  local id = ids[1]
  local script_location = cmd.script_location
  local cp
  for _, c in ipairs(list(script_location)) do
    if #c.heads == 1 and c.heads[1] == id then cp = c end
  end
  if not cp then
    fail("luamig checkpoint --prune: no checkpoint stands for " .. id .. " (luamig checkpoint "
      .. id .. " writes one)")
  end
  local applied = core.applied({ id })
  local sum = history_checksum(applied)
  if sum ~= cp.history_checksum then
    fail("luamig checkpoint --prune: checkpoint " .. cp.shown .. " is stale (the revisions it "
      .. "stands for changed since it was written); write it again first")
  end
  -- every revision that stays must not lean on one that goes
  local gone = {}
  for rid in pairs(applied) do if rid ~= id then gone[rid] = true end end
  for _, st in ipairs(core.plan("upgrade", {}, "heads")) do
    local rid = st.rev.revision
    if not applied[rid] then
      local r = core.revision(rid)
      local leans = {}
      for _, dep in ipairs(r.down_revision) do leans[#leans + 1] = dep end
      for _, dep in ipairs(r.depends_on) do leans[#leans + 1] = dep end
      for _, dep in ipairs(leans) do
        if gone[dep] then fail(string.format("luamig checkpoint --prune: revision %s (%s) "
          .. "follows %s, which the checkpoint stands for but is not %s", rid,
          loader.display_path(r.path), dep, id)) end
      end
    end
  end
  -- the configured database must be at or past the checkpoint
  local rows
  local ok, err = pcall(function()
    local work = { dont_mutate = true }
    work.fn = function(heads)
      rows = heads
      return {}
    end
    environment.run(cmd, config, work)
  end)
  if not ok then
    fail("luamig checkpoint --prune: cannot read the database's version table to check that it "
      .. "is at or past " .. id .. ": " .. tostring(err))
  end
  for _, h in ipairs(rows) do
    if gone[h] then
      fail(string.format("luamig checkpoint --prune: the database is at %s, older than the "
        .. "checkpoint %s; upgrade it first", h, id))
    end
  end
  -- move the files
  local rev = core.revision(id)
  local dest = script_location .. "/pruned/" .. id
  local made, merr = core.mkdir_p(dest)
  if not made then fail("luamig checkpoint --prune: " .. merr) end
  local moved = 0
  local ids_sorted = {}
  for rid in pairs(applied) do ids_sorted[#ids_sorted + 1] = rid end
  table.sort(ids_sorted)
  for _, rid in ipairs(ids_sorted) do
    local path = core.revision(rid).path
    local to = dest .. "/" .. path:match("[^/]+$")
    local renamed, rerr = os.rename(path, to)
    if not renamed then fail("luamig checkpoint --prune: " .. tostring(rerr)) end
    moved = moved + 1
  end
  -- the revision's own file, as a root that runs the checkpoint
  local labels = "nil"
  if #rev.branch_labels > 0 then
    local quoted = {}
    for i, l in ipairs(rev.branch_labels) do quoted[i] = render.string(l) end
    labels = "{ " .. table.concat(quoted, ", ") .. " }"
  end
  local cf = assert(io.open(cp.path, "r"))
  local cp_text = cf:read("a")
  cf:close()
  local body = cp_text:match("\n(function upgrade%(%).*)$")
  local header = string.format("--[[ %s\n\nRevision ID: %s\nRevises:\nCreate Date: %s\n\n"
    .. "The checkpoint of %d revisions, pruned by `luamig checkpoint --prune`; they are in %s.\n"
    .. "]]\n\nrevision = %s\ndown_revision = nil\nbranch_labels = %s\ndepends_on = nil\n\n",
    rev.message ~= "" and rev.message or "checkpoint", id, os.date("%Y-%m-%d %H:%M:%S"),
    moved, loader.display_path(dest), render.string(id), labels)
  write_file(rev.path, header .. body)
  local cp_dest = dest .. "/" .. cp.name
  os.rename(cp.path, cp_dest)
  io.stdout:write(string.format("Pruned %d revision%s into %s; %s is now a root revision that "
    .. "runs the checkpoint\n", moved, moved == 1 and "" or "s", loader.display_path(dest),
    loader.display_path(rev.path)))
  log.warning(LOGGER, "Databases with a history table now report revision " .. id .. " as changed: "
    .. "run 'luamig stamp --resync " .. id .. "' on each")
  return 0
end

return M
