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
      naming what differs. Tables are reflected, rendered and compared a batch at a time, the
      file written from part files: memory stays flat however many tables there are.
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
local compare = lazy "luamig.compare"
local sa = lazy "luamig.sa"
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
  local names, odd = core.lua_files(dir)
  if not names then
    -- as the script directory's scan says of a revision file: reading a FIFO would wait
    fail(loader.display_path(dir .. "/" .. odd) .. ": not a regular file")
  end
  for _, name in ipairs(names) do
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
-- The schema, a batch of tables at a time
---------------------------------------------------------------------------

-- Tables are reflected, rendered and compared this many at a time: a checkpoint holds one
-- batch's reflection, never the whole schema's (5,000 tables reflected at once took 60 MiB).
local BATCH = 250

local function table_key(schema, name)
  return (schema or "") .. "\0" .. name
end

-- The user tables of mc's database (luamig's own left out), each { name =, schema = }, by
-- schema and name; none of them is reflected.
local function table_list(mc)
  local out = {}
  scratch.reflect(mc, nil, function(name, schema)
    if not scratch.own_table(mc, name) then out[#out + 1] = { name = name, schema = schema } end
    return false
  end)
  for _, t in ipairs(out) do t.key = table_key(t.schema, t.name) end
  table.sort(out, function(a, b) return a.key < b.key end)
  return out
end

-- The reflection of the tables `batch` lists (table_list's entries). Its constraints' and
-- indexes' names are the database's own: marked as op.f() marks a name, so that they are
-- written op.f(...) and a naming convention with %(constraint_name)s is not applied to them a
-- second time when the checkpoint runs.
local function reflect_batch(mc, batch)
  local names, wanted = {}, {}
  for i, t in ipairs(batch) do
    names[i] = t.name
    wanted[table_key(t.schema, t.name)] = true
  end
  local md = scratch.reflect(mc, names, function(name, schema)
    return wanted[table_key(schema, name)] == true
  end)
  for _, t in pairs(md.tables) do
    local pk = t.primary_key
    if pk and pk.name then pk.name_conv = true end
    for _, c in ipairs(t.constraints or {}) do
      if c.name then c.name_conv = true end
    end
    for _, ix in ipairs(t.indexes or {}) do
      if ix.name then ix.name_conv = true end
    end
  end
  return md
end

-- Calls fn(batch) for each BATCH entries of `list` in turn.
local function each_batch(list, fn)
  for first = 1, #list, BATCH do
    fn(table.move(list, first, math.min(first + BATCH - 1, #list), 1, {}))
  end
end

-- The tables of a reflection, in `batch`'s order.
local function tables_in(md, batch)
  local by_key = {}
  for _, t in pairs(md.tables or {}) do by_key[table_key(t.schema, t.name)] = t end
  local out = {}
  for _, e in ipairs(batch) do
    local t = by_key[table_key(e.schema, e.name)]
    if t then out[#out + 1] = t end
  end
  return out
end

-- The user tables in the order a checkpoint creates them, autogenerate's: each after the
-- tables its foreign keys refer to. A first pass over the batches keeps only those references.
-- (A table without foreign keys shares one empty `table` value: with thousands of tables, the
-- order is most of what the check holds in Lua.)
local NO_REFERENCES = { constraints = {} }

local function creation_order(mc)
  local entries = {}
  each_batch(table_list(mc), function(batch)
    for _, t in ipairs(tables_in(reflect_batch(mc, batch), batch)) do
      local fks
      for _, c in ipairs(t.constraints or {}) do
        if c.kind == "foreign_key" then
          fks = fks or {}
          fks[#fks + 1] = { kind = "foreign_key", referred_schema = c.referred_schema,
                            referred_table = c.referred_table }
        end
      end
      entries[#entries + 1] = { key = compare.qualified(t.schema, t.name), name = t.name,
                                schema = t.schema, table = fks and { constraints = fks }
                                  or NO_REFERENCES }
    end
  end)
  local order = compare.sort_by_dependency(entries)
  -- kept for the whole check: two fields each, not the four an entry was made with
  for i, e in ipairs(order) do order[i] = { name = e.name, schema = e.schema } end
  return order
end

-- What a checkpoint must reproduce besides the tables: the catalog objects, the sequences, the
-- version table's rows.
local function state_of(mc)
  local seqs = {}
  for _, s in ipairs(mc.dialect:checkpoint_sequences(mc.connection)) do
    if tostring(s.value):match("^%-?%d+$") then seqs[#seqs + 1] = s end
  end
  local heads = mc:get_current_heads()
  table.sort(heads)
  return { objects = mc.dialect:checkpoint_objects(mc.connection), sequences = seqs,
           heads = heads }
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

-- A table's rows counted by their text.
local function row_counts(mc, t)
  local counts = {}
  for _, r in ipairs(rows_of(mc, t)) do
    local parts = {}
    for i = 1, #t.columns do
      local v = r[i]
      parts[i] = v == nil and "NULL" or string.format("%q", tostring(v))
    end
    local key = table.concat(parts, ", ")
    counts[key] = (counts[key] or 0) + 1
  end
  return counts
end

local function seq_line(s)
  return string.format("sequence of %s%s at %s%s", s.table, s.column and ("." .. s.column) or "",
    s.value, s.called == false and " (not yet called)" or "")
end

-- What the database of `got` (after the checkpoint) lacks or has more than that of `want` (the
-- replay, with its tables `order` and its state_of `ws`): lines, as `luamig check` prints
-- schema differences, then the tables whose rows differ, then the rest.
local function differences(want, got, order, ws)
  local lines, row_lines = {}, {}
  local function add_diffs(want_md, got_md)
    for _, l in ipairs(ag.diff_lines(ag.compare_metadata(got, want_md, got_md))) do
      lines[#lines + 1] = l
    end
  end
  each_batch(order, function(batch)
    local want_md, got_md = reflect_batch(want, batch), reflect_batch(got, batch)
    add_diffs(want_md, got_md)
    local made = {}
    for _, t in ipairs(tables_in(got_md, batch)) do made[table_key(t.schema, t.name)] = t end
    for _, t in ipairs(tables_in(want_md, batch)) do
      local n = made[table_key(t.schema, t.name)]
      if n then
        local w_counts, n_counts = row_counts(want, t), row_counts(got, n)
        local missing, extra = 0, 0
        for key, c in pairs(w_counts) do
          local have = n_counts[key] or 0
          if have < c then missing = missing + c - have end
        end
        for key, c in pairs(n_counts) do
          local had = w_counts[key] or 0
          if c > had then extra = extra + c - had end
        end
        if missing + extra > 0 then
          local shown = compare.qualified(t.schema, t.name)
          row_lines[#row_lines + 1] = { name = shown, line = string.format("table %s: %d "
            .. "row(s) of the replay missing, %d not in the replay", shown, missing, extra) }
        end
      end
    end
  end)
  -- the tables the checkpoint made that the replay has not
  local known, extra = {}, {}
  for _, e in ipairs(order) do known[table_key(e.schema, e.name)] = true end
  for _, e in ipairs(table_list(got)) do
    if not known[e.key] then extra[#extra + 1] = e end
  end
  each_batch(extra, function(batch) add_diffs(sa.MetaData(), reflect_batch(got, batch)) end)
  table.sort(row_lines, function(a, b) return a.name < b.name end)
  for _, r in ipairs(row_lines) do lines[#lines + 1] = r.line end
  local now = state_of(got)
  local function set_diff(a, b, what)
    local seen = {}
    for _, x in ipairs(b) do seen[x] = true end
    for _, x in ipairs(a) do
      if not seen[x] then lines[#lines + 1] = what .. x end
    end
  end
  set_diff(ws.objects, now.objects, "missing: ")
  set_diff(now.objects, ws.objects, "not in the replay: ")
  local wseq, nseq = {}, {}
  for i, s in ipairs(ws.sequences) do wseq[i] = seq_line(s) end
  for i, s in ipairs(now.sequences) do nseq[i] = seq_line(s) end
  set_diff(wseq, nseq, "replay has ")
  local wh, nh = table.concat(ws.heads, ", "), table.concat(now.heads, ", ")
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

-- A file opened for writing whose writes raise "luamig checkpoint: <error>"; closed when it
-- goes out of scope (a <close> variable). A part file (`part`) is removed from its folder at
-- once: only its handle reaches it, and nothing of it is left whatever ends the run.
local function output(path, part)
  local f, err = io.open(path, part and "w+" or "w")
  if not f then fail("luamig checkpoint: " .. err) end
  if part then os.remove(path) end
  local function check(ok, werr)
    if not ok then fail("luamig checkpoint: " .. path .. ": " .. tostring(werr)) end
    return ok
  end
  return setmetatable({
    f = f,
    put = function(self, ...) check(self.f:write(...)) end,
    -- the text from offset `from` (default: the start), `len` bytes (default: to the end),
    -- written to `to`, a block at a time
    copy_to = function(self, to, from, len)
      check(self.f:seek("set", from or 0))
      local left = len or math.huge
      while left > 0 do
        local block, rerr = self.f:read(math.min(left, 65536))
        if not block then
          if rerr or len then check(nil, rerr or "shorter than written") end
          break
        end
        to:put(block)
        left = left - #block
      end
    end,
    size = function(self) return check(self.f:seek("end")) end,
    offset = function(self) return check(self.f:seek("cur")) end,
    close = function(self) return check(self.f:close()) end,
  }, { __close = function(self)
    if io.type(self.f) == "file" then self.f:close() end
  end })
end

-- Writes the checkpoint of mc's database (the replay; its tables `order`, its state_of `st`)
-- to `path`. The tables are rendered a batch at a time (autogenerate's operations against the
-- empty database `empty_md`, then their rows) into part files beside it (`path`.up, .down,
-- .data, removed as soon as they are open), which are then copied into the checkpoint in order
-- (the downgrade's batches in reverse). Returns the number of rows.
local function render_file(mc, path, order, empty_md, st, info)
  -- a new table's indexes need no batch block, even on SQLite: plain op.create_index calls are
  -- half the compiled code (a block is a function each)
  local r = ag.renderer(mc, false)
  local up <close> = output(path .. ".up", true)
  local down <close> = output(path .. ".down", true)
  local data <close> = output(path .. ".data", true)
  local downs = {}   -- each batch's downgrade text in `down`: { offset, length }
  local total = 0
  each_batch(order, function(batch)
    local md = reflect_batch(mc, batch)
    local up_ops = ag.compare(mc, empty_md, md)
    local down_ops = {}
    for i = #up_ops, 1, -1 do down_ops[#down_ops + 1] = up_ops[i]:reverse() end
    local text = r:lines(up_ops)
    if text ~= "" then up:put(text, "\n") end
    text = r:lines(down_ops)
    if text ~= "" then
      downs[#downs + 1] = { down:offset(), #text + 1 }
      down:put(text, "\n")
    end
    for _, t in ipairs(tables_in(md, batch)) do
      local rows = rows_of(mc, t)
      if #rows > 0 then
        data:put(insert_text(t, rows), "\n")
        total = total + #rows
      end
    end
  end)
  local heads_list = {}
  for i, h in ipairs(st.heads) do heads_list[i] = render.string(h) end
  local out <close> = output(path)
  local function line(s) out:put(s, "\n") end
  for _, l in ipairs({
    "--[[ Checkpoint: the schema at " .. table.concat(st.heads, ", "),
    "",
    string.format("Stands for: %d revision%s, up to %s", info.count, info.count == 1 and "" or "s",
      table.concat(st.heads, ", ")),
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
  }) do line(l) end
  local imports = r:imports()
  if imports ~= "" then
    line("")
    line(imports)
  end
  -- a body: the markers around the part file's text, or the empty body
  local function body(part, copy)
    if part:size() == 0 then return line(ag.EMPTY_BODY) end
    line(ag.BEGIN_BODY)
    copy()
    line(ag.END_BODY)
  end
  line("")
  line("function upgrade()")
  body(up, function() up:copy_to(out) end)
  if total > 0 then
    line(string.format("  -- the %d row%s the revisions left", total, total == 1 and "" or "s"))
    data:copy_to(out)
  end
  -- a commented block of op.execute calls, when there are any
  local function section(comment, sqls)
    if #sqls == 0 then return end
    line("  -- " .. comment)
    for _, sql in ipairs(sqls) do line("  op.execute(" .. render.string(sql) .. ")") end
  end
  local seq = {}
  for _, s in ipairs(st.sequences) do
    for _, sql in ipairs(mc.dialect:checkpoint_sequence_sql(s)) do seq[#seq + 1] = sql end
  end
  section("the sequences, where the revisions left them", seq)
  line("end")
  line("")
  line("function downgrade()")
  body(down, function()
    for i = #downs, 1, -1 do down:copy_to(out, downs[i][1], downs[i][2]) end
  end)
  local drops = {}
  for _, object in ipairs(st.objects) do
    local sql = mc.dialect:checkpoint_drop_sql(object)
    if sql then drops[#drops + 1] = sql end
  end
  section("what dropping the tables leaves", drops)
  line("end")
  out:close()
  return total
end

---------------------------------------------------------------------------
-- Comparing a checkpoint with its replay
---------------------------------------------------------------------------

-- Runs checkpoint step `step` on the fresh scratch context `other` and compares it with `want`
-- (the replay, its tables `order`, its state_of `ws`); then its downgrade must empty the
-- database. Returns the problems.
-- A step of the checkpoint that failed because the scratch database's connection is gone says
-- nothing about the checkpoint: that is an error of its own, not a difference.
local function step_failed(other, what, err)
  err = err:gsub("\n", " ")
  if scratch.connection_lost(other) then
    fail("lost the connection to the scratch database while checking the rendered checkpoint "
      .. "(its " .. what .. "): " .. err)
  end
  return { "the checkpoint's " .. what .. " fails: " .. err }
end

-- The replay's database is only read again by the comparison: while the checkpoint's own steps
-- run, its connection need not keep the schema in memory (SQLite: 4 MiB for 10,000 tables).
local function release(mc)
  if mc.dialect.checkpoint_release then mc.dialect:checkpoint_release(mc.connection) end
end

local function compare_on(want, other, step, order, ws)
  local before = other.dialect:checkpoint_objects(other.connection)
  release(want)
  core.release_memory()
  local ok, err = scratch.run_steps(other, { step })
  -- the checkpoint's code (megabytes for thousands of tables) is not kept through the
  -- comparison, and its memory is free again for what comes next; the downgrade loads it again
  loader.forget(step.rev.path)
  core.release_memory()
  if not ok then return step_failed(other, "upgrade", err) end
  local problems = differences(want, other, order, ws)
  if #problems > 0 then return problems end
  -- the code is compiled again while neither database keeps its schema in memory, and with
  -- the comparison's memory given back (compiling is this phase's peak); the downgrade's first
  -- statement reads the schema again
  release(want)
  release(other)
  core.release_memory()
  loader.load(step.rev.path, step.rev.seen)
  core.release_memory()
  ok, err = scratch.run_steps(other, { down_step_of(step) })
  loader.forget(step.rev.path)
  if not ok then return step_failed(other, "downgrade", err) end
  local names = {}
  for i, e in ipairs(table_list(other)) do names[i] = compare.qualified(e.schema, e.name) end
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
        entry.problems = compare_on(replay, scratch.another(mc), step_of(cp, cp.count),
          creation_order(replay), state_of(replay))
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

-- A checkpoint is one step: one transaction that keeps a lock on everything it creates until it
-- ends. Where the server's lock table surely cannot hold them (more than twice its slots: it
-- can borrow some spare shared memory, as luamig.migration's check says), the checkpoint is
-- refused before it is rendered, rather than failing its own verification.
local function check_lock_table(mc)
  local d = mc.dialect
  if not (d.lock_table_capacity and d.checkpoint_relations) then return end
  local capacity = d:lock_table_capacity(mc.connection)
  if not capacity then return end
  local relations = d:checkpoint_relations(mc.connection, mc.opts.include_schemas)
  if relations > 2 * capacity then fail("luamig checkpoint: " .. d:checkpoint_too_big(relations,
    capacity)) end
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
    -- the plan's steps (past 2,000 of them, C memory behind a small Lua object: 2 MiB for
    -- 10,000 revisions) are freed now, not whenever the collector next comes by; and what the
    -- replay freed goes back to the system
    steps = nil
    core.release_memory()
    check_lock_table(mc)
    local st = state_of(mc)
    local sum, count = history_checksum(core.applied(st.heads))
    -- the rest reads no revision: their map (7 MiB for 10,000) is freed for the check
    core.release_revisions()
    local order = creation_order(mc)
    local other = scratch.another(mc)
    local dir = M.dir(script_location)
    local made, merr = core.mkdir_p(dir)
    if not made then fail("luamig checkpoint: " .. merr) end
    local sorted = {}
    for i, h in ipairs(st.heads) do sorted[i] = h end
    table.sort(sorted)
    local name = table.concat(sorted, "_") .. "_" .. mc.dialect.name .. ".lua"
    local path = dir .. "/" .. name
    local tmp = dir .. "/.luamig-checkpoint-" .. core.getpid() .. ".lua"
    local cleanup <close> = setmetatable({}, { __close = function()
      os.remove(tmp)
      loader.forget(tmp)
    end })
    local rows = render_file(mc, tmp, order, scratch.reflect(other), st,
      { count = count, checksum = sum })
    local cp = { path = tmp, name = name, heads = st.heads }
    local problems = compare_on(mc, other, step_of(cp, count), order, st)
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
  -- the checkpoint's text after its fields (the `require` lines its types need, the functions),
  -- read before any file moves
  local cf, cerr = io.open(cp.path, "r")
  if not cf then fail("luamig checkpoint --prune: " .. tostring(cerr)) end
  local cp_text = cf:read("a")
  cf:close()
  local body = cp_text and cp_text:match("\ncheckpoint_format%s*=%s*%d+[ \t]*\r?\n%s*(.*)$")
  if not body then
    fail("luamig checkpoint --prune: " .. cp.shown .. " has no 'checkpoint_format = <n>' line "
      .. "to prune after (luamig checkpoint " .. id .. " writes it again)")
  end
  -- move the files
  local rev = core.revision(id)
  local dest = script_location .. "/pruned/" .. id
  local made, merr = core.mkdir_p(dest)
  if not made then fail("luamig checkpoint --prune: " .. merr) end
  local ids_sorted = {}
  for rid in pairs(applied) do ids_sorted[#ids_sorted + 1] = rid end
  table.sort(ids_sorted)
  -- all the files move, or none: a move that fails (or anything after it) puts back those
  -- already moved, so that the script directory is never left half pruned
  local plan, done = {}, {}
  for _, rid in ipairs(ids_sorted) do
    local from = core.revision(rid).path
    plan[#plan + 1] = { from = from, to = dest .. "/" .. from:match("[^/]+$") }
  end
  local cp_dest = dest .. "/" .. cp.name
  local function undo()
    for i = #done, 1, -1 do os.rename(done[i].to, done[i].from) end
  end
  local function cannot(from, to, why)
    undo()
    fail(string.format("luamig checkpoint --prune: cannot move %s to %s (%s); nothing was moved",
      loader.display_path(from), loader.display_path(to), why))
  end
  -- os.rename would replace what an earlier prune left there
  for _, m in ipairs(plan) do
    if core.exists(m.to) then cannot(m.from, m.to, "it is there already") end
  end
  if core.exists(cp_dest) then cannot(cp.path, cp_dest, "it is there already") end
  for _, m in ipairs(plan) do
    local renamed, rerr = os.rename(m.from, m.to)
    if not renamed then
      rerr = tostring(rerr)
      if rerr:sub(1, #m.from + 2) == m.from .. ": " then rerr = rerr:sub(#m.from + 3) end
      cannot(m.from, m.to, rerr)
    end
    done[#done + 1] = m
  end
  local moved = #done
  -- the revision's own file, as a root that runs the checkpoint
  local labels = "nil"
  if #rev.branch_labels > 0 then
    local quoted = {}
    for i, l in ipairs(rev.branch_labels) do quoted[i] = render.string(l) end
    labels = "{ " .. table.concat(quoted, ", ") .. " }"
  end
  -- the comment holds the message the revision's own header gave (a "--[=[" one may hold
  -- "]]") and the folder's path: its brackets are of a level neither can close
  local comment = string.format(" %s\n\nRevision ID: %s\nRevises:\nCreate Date: %s\n\n"
    .. "The checkpoint of %d revision%s, pruned by `luamig checkpoint --prune`; %s in %s.\n",
    rev.message ~= "" and rev.message or "checkpoint", id, os.date("%Y-%m-%d %H:%M:%S"),
    moved, moved == 1 and "" or "s", moved == 1 and "it is" or "they are",
    loader.display_path(dest))
  local open, close = render.long_bracket(comment)
  local header = string.format("--%s%s%s\n\nrevision = %s\ndown_revision = nil\n"
    .. "branch_labels = %s\ndepends_on = nil\n\n", open, comment, close, render.string(id), labels)
  local wrote, werr = pcall(write_file, rev.path, header .. body)
  if not wrote then
    undo()
    error(werr, 0)
  end
  local renamed, rerr = os.rename(cp.path, cp_dest)
  if not renamed then
    os.remove(rev.path) -- the revision's own file comes back with the others
    cannot(cp.path, cp_dest, tostring(rerr))
  end
  io.stdout:write(string.format("Pruned %d revision%s into %s; %s is now a root revision that "
    .. "runs the checkpoint\n", moved, moved == 1 and "" or "s", loader.display_path(dest),
    loader.display_path(rev.path)))
  log.warning(LOGGER, "Databases with a history table now report revision " .. id .. " as changed: "
    .. "run 'luamig stamp --resync " .. id .. "' on each")
  return 0
end

return M
