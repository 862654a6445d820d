--[[ luamig.loader — revision files as code: compiling and loading them, and naming the file
and line of whatever goes wrong in them.  (The C side scans their headers without running
them; this is the only place that runs them.)

  loader.load(path [, seen]) -> env
                                 runs the file once in its own environment (op, sa and the
                                 standard globals in scope) and keeps it; its upgrade() and
                                 downgrade() are env.upgrade, env.downgrade. seen: an earlier
                                 run read the file as it is (the revision's `seen`), so its
                                 compiled code may come from and go to the chunk cache
  loader.step_function(step) -> fn, fname, env
                                 what a plan step runs: its revision's upgrade() or downgrade()
                                 (fn nil when the file has none), that name, and load's env
  loader.precompile(steps) -> keep
                                 compiles every revision a plan runs before the first step: a
                                 syntax error anywhere stops the run before it touches the
                                 database.  A short plan is also loaded and kept (keep = true);
                                 a long one is compiled again when its step runs
  loader.keeps_loaded(n) -> keep whether a run over n steps keeps what it loads (true: up to
                                 2,000); false paces the collector for the long run
  loader.forget(path)            drops what load kept (long plans, step by step)
  loader.checkpoints_dir(script_location)
                                 the folder of the checkpoint files this module loads
                                 (luamig.checkpoint; luamig.commands looks in it first)
  loader.display_path(path)      how messages name a file: relative to the working directory
                                 when below it, else absolute
  loader.whole_names(msg, shown) msg with Lua's shortened "...tail" chunk name made whole
  loader.where_in(path, level) -> "file:line" of the innermost frame (from `level` up) running
                                 code of `path`, or nil

Errors (a missing file, a syntax error, an error while the file's top level runs) raise one
line that starts with the file's name and line.
]]

local core = require "luamig.core"
local lazy = require "luamig.lazy"
local op = lazy "luamig.op"   -- loaded with the first revision: `current` loads none
local sa = require "luamig.sa"

local M = {}

local function fail(msg)
  error(msg, 0)
end

local loaded = {}

local cwd = core.cwd()
local cwd_slash = cwd and cwd .. "/"
-- The last path named and its name: a step names its revision file several times in a row
-- (one entry, so that a run of 10,000 revisions keeps no table of them).
local last_path, last_shown
function M.display_path(path)
  if path == last_path then return last_shown end
  local shown = path
  if cwd_slash and path:sub(1, #cwd_slash) == cwd_slash then shown = path:sub(#cwd_slash + 1) end
  last_path, last_shown = path, shown
  return shown
end
local display_path = M.display_path

function M.whole_names(msg, shown)
  local tail = msg:match("^%.%.%.([^:]*):%d")
  if tail and shown:sub(-#tail) == tail then
    msg = shown .. msg:sub(4 + #tail)
  end
  return M.user_positions(msg, shown)
end

-- msg without the positions inside luamig's own modules that lead it ("luamig/op.lua:483: "):
-- an error raised in luamig at the wrong level names luamig's line, which a user cannot act
-- on; the caller names the user's file:line instead. shown: the user's file, never stripped.
function M.user_positions(msg, shown)
  while true do
    local pos = msg:match("^([^:\n]*luamig/[%w_]+%.lua:%d+: )")
      or msg:match("^([^:\n]*luamig/[%w_]+/[%w_]+%.lua:%d+: )")
    if not pos or (shown and pos:sub(1, #shown + 1) == shown .. ":") then return msg end
    msg = msg:sub(#pos + 1)
  end
end
local whole_names = M.whole_names

-- Compiles a revision file (text mode only, a UTF-8 byte-order mark skipped as loadfile
-- does) into a chunk that runs in `env`, or loads the bytecode compiled by an earlier run
-- while the file is unchanged (core/chunkcache.h); returns the chunk and the file's display
-- name.
local function compile_revision(path, env, seen)
  local shown = display_path(path)
  local chunk, err = core.load_revision(path, "@" .. shown, env or _G, seen)
  if not chunk then
    err = whole_names(err, shown)
    -- a message with no position (Lua refusing a binary chunk) still names the file
    if not err:find(shown, 1, true) and not err:find(path, 1, true) then
      err = shown .. ": " .. err
    end
    fail(err)
  end
  return chunk, shown
end

-- What a revision sees as `os`: the standard library, except os.exit, which would end the
-- process in the middle of a transaction with status 0 and no word said; a migration stops
-- with error(), which rolls it back and names the revision, the file and the line.
local revision_os = setmetatable({
  exit = function()
    error("os.exit is not available in a revision: raise an error() to stop the migration "
      .. "(it is rolled back)", 2)
  end,
}, { __index = os })

function M.load(path, seen)
  if loaded[path] then return loaded[path] end
  local env = setmetatable({}, { __index = _G })
  env.op = op()   -- the module itself, not its stand-in (luamig.lazy)
  env.sa = sa
  env.os = revision_os
  local chunk, shown = compile_revision(path, env, seen)
  local ok, e = pcall(chunk)
  if not ok then fail(whole_names(tostring(e), shown)) end
  loaded[path] = env
  return env
end

function M.step_function(step)
  local env = M.load(step.rev.path, step.rev.seen)
  local fname = step.upgrade and "upgrade" or "downgrade"
  local fn = rawget(env, fname)
  if type(fn) ~= "function" then fn = nil end
  return fn, fname, env
end

function M.checkpoints_dir(script_location)
  return script_location .. "/checkpoints"
end

function M.forget(path)
  loaded[path] = nil
end

-- Plans longer than this are checked file by file and compiled again when
-- their step runs, so that memory stays flat with tens of thousands of
-- revisions; shorter ones keep what they compiled.
local KEEP_COMPILED = 2000

-- Whether a run over n steps keeps each revision's code once loaded. When not, a long run also
-- collects sooner: the heap stays nearer what is live (10,000 revisions under 32 MiB), for a
-- few percent more time. One full collection first: the new pause only applies from the next
-- cycle, and the plan just built left as much garbage as it keeps.
function M.keeps_loaded(n)
  if n <= KEEP_COMPILED then return true end
  collectgarbage("incremental", 120, 200)
  collectgarbage()
  return false
end

function M.precompile(steps)
  local keep = M.keeps_loaded(#steps)
  for _, st in ipairs(steps) do
    -- (a file loaded already compiled: a checkpoint's, whose step the plan was shortened with)
    if st.rev and not st.stamp and not loaded[st.rev.path] then
      if keep then M.load(st.rev.path, st.rev.seen) else compile_revision(st.rev.path, nil, st.rev.seen) end
    end
  end
  return keep
end

function M.where_in(path, level)
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

return M
