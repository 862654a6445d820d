--[[ luamig.environment — what env.lua sees (Alembic's EnvironmentContext), and running env.lua.

  environment.run(cmd, config, work)
      runs <script_location>/env.lua (text mode) in an environment of its own with `context`
      and `config` in scope; `context` is also require "luamig.context" while env.lua runs.
      cmd: the command table from C; config: luamig.config's object; work: what the command
      wants done when env.lua calls context.run_migrations():
        fn(heads, mc) -> steps   the plan from the database's current heads (may print, or
                                 return {} for read-only commands)
        destination, starting_rev   what get_revision_argument() and
                                 get_starting_revision_argument() answer
        starting_heads           offline: the heads a "<from>:<to>" range starts at
        dont_mutate              read-only: no lock, no transaction, no version table
        output                   where offline output goes instead of output_buffer/stdout
        purge                    stamp --purge
        resync                   stamp --resync: the set of revisions whose edit it records
                                 (their checksums are not compared, the others only warn)
        reports_checksums        validate: the run does not compare checksums itself
        dry_run                  upgrade/downgrade --dry-run (luamig.dryrun)
      An error in env.lua raises with its message; a connection the context opened is closed.

The `context` module (each function called with a dot):
  config, is_offline_mode(), is_transactional_ddl(), get_tag_argument(),
  get_x_argument([as_dictionary]), get_revision_argument(), get_starting_revision_argument(),
  get_head_revisions(), get_head_revision(),
  configure{ url = | connection = | dialect_name =, target_metadata, version_table,
             version_table_schema, version_table_pk, transaction_per_migration, lock,
             runner_lock (auto | advisory | table), runner_lock_lease, runner_lock_timeout, lock_timeout, statement_timeout, lock_retries,
             lock_retry_delay, history_table, checksums, output_buffer, on_version_apply, tag,
             and autogenerate's options (include_object, compare_type, render_item, ...) }
      -> the migration context (luamig.migration), options falling back to luamig.ini,
  get_context(), get_bind(), execute(sql, params), static_output(text),
  begin_transaction([fn]), run_migrations([kw]) (connects first when configured with a url).
]]

local core = require "luamig.core"
local luamig = require "luamig"
local migration = require "luamig.migration"
local loader = require "luamig.loader"

local M = {}

-- An error that carries its own, final message (no position prefix).
local function fail(msg)
  error(msg, 0)
end

-- fn (a command's planner, fn(heads, mc)) with one failure made actionable: a revision id
-- that none of the files has but the version table does ("Can't locate revision identified
-- by 'x'", Alembic's words) comes from the database, not from the command line; say so, and
-- how to get past it.
local function rows_named(fn)
  return function(heads, mc)
    local r = table.pack(pcall(fn, heads, mc))
    if r[1] then return table.unpack(r, 2, r.n) end
    local id = type(r[2]) == "string" and r[2]:match("^Can't locate revision identified by '(.-)'$")
    for _, h in ipairs(id and heads or {}) do
      if h == id then
        fail(string.format("%s (a row of the version table %s, from a revision this script "
          .. "directory does not have: restore its file, or replace the rows with "
          .. "'luamig stamp --purge <revision>')", r[2], mc:version_table_name()))
      end
    end
    error(r[2], 0)
  end
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
    -- the wait for another runner's lock, in seconds (before issue 12: lock_timeout, which now
    -- has PostgreSQL's meaning: see luamig.timeouts)
    local runner_lock_timeout = opts.runner_lock_timeout
    if runner_lock_timeout == nil then
      local v = config.get_main_option("runner_lock_timeout")
      if v ~= nil and v:match("%S") then
        -- a value that is not a number of seconds ("5min") was taken for the default
        local n = tonumber(v)
        if not n or n < 0 or n ~= n or n == math.huge then
          fail(string.format("runner_lock_timeout must be a number of seconds (0 or more), "
            .. "not '%s'", v))
        end
        runner_lock_timeout = n
      end
    end
    if runner_lock_timeout == nil then runner_lock_timeout = 300 end
    local use_lock = not cmd.no_lock
    if opts.lock == false or truthy(config.get_main_option("no_lock", "false")) then
      use_lock = false
    end
    -- how the runner lock is taken (luamig.lock): auto, advisory or table, and a lock row's lease
    local runner_lock = opts.runner_lock or config.get_main_option("runner_lock", "auto")
    if runner_lock ~= "auto" and runner_lock ~= "advisory" and runner_lock ~= "table" then
      fail(string.format("runner_lock must be auto, advisory or table, not '%s'",
        tostring(runner_lock)))
    end
    local lease = opts.runner_lock_lease or config.get_main_option("runner_lock_lease")
    if lease ~= nil then
      local n = tonumber(lease)
      if not n or n <= 0 or n ~= n or n == math.huge then
        fail(string.format("runner_lock_lease must be a number of seconds above 0, not '%s'",
          tostring(lease)))
      end
      lease = n
    end
    local tpm = opts.transaction_per_migration
    if tpm == nil then tpm = truthy(config.get_main_option("transaction_per_migration", "false")) end
    local vt = opts.version_table or config.get_main_option("version_table") or "luamig_version"
    local vpk = opts.version_table_pk
    if vpk == nil then vpk = true end
    -- "history_table =" with no value keeps no history, as when the line is absent
    local history_table = opts.history_table or config.get_main_option("history_table")
    if history_table == "" then history_table = nil end
    local checksums = opts.checksums or config.get_main_option("checksums", "warn")
    if checksums ~= "warn" and checksums ~= "error" and checksums ~= "off" then
      fail(string.format("checksums must be warn, error or off, not '%s'", tostring(checksums)))
    end
    mc = migration.new({
      opts = opts,
      dialect = migration.dialect_for(dialect_name, as_sql),
      as_sql = as_sql,
      connection = conn,
      url = url,
      output = work.output or opts.output_buffer or io.stdout,
      transaction_per_migration = tpm and true or false,
      version_table = vt,
      version_table_schema = opts.version_table_schema or config.get_main_option("version_table_schema"),
      version_table_pk = vpk,
      runner_lock_timeout = runner_lock_timeout ~= false and runner_lock_timeout or nil,
      lock_timeout = opts.lock_timeout or config.get_main_option("lock_timeout"),
      statement_timeout = opts.statement_timeout or config.get_main_option("statement_timeout"),
      lock_retries = opts.lock_retries or config.get_main_option("lock_retries"),
      lock_retry_delay = opts.lock_retry_delay or config.get_main_option("lock_retry_delay"),
      use_lock = use_lock,
      runner_lock = runner_lock,
      runner_lock_lease = lease,
      dont_mutate = work.dont_mutate,
      dry_run = work.dry_run,
      purge = work.purge,
      resync = work.resync,
      reports_checksums = work.reports_checksums,
      on_version_apply = opts.on_version_apply,
      history_table = history_table,
      checksums = checksums,
      migrations_fn = work.fn and rows_named(work.fn),
      script_location = cmd.script_location,
      starting_heads = work.starting_heads,
      config = config,
      script = work,
    })
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
      m.connection = luamig.connect(m.url)
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

function M.run(cmd, config, work)
  local context, get_mc = new_context_module(cmd, config, work)
  package.loaded["luamig.context"] = context
  local env_path = cmd.script_location .. "/env.lua"
  local env = setmetatable({ context = context, config = config }, { __index = _G })
  -- named as the user would type it, and whole (Lua shortens long chunk names to "...tail")
  local shown = loader.display_path(env_path)
  local f = io.open(env_path, "r")
  if not f then fail("No env.lua found in " .. cmd.script_location) end
  -- as loadfile reads it: a byte-order mark and a first "#" line are not code
  local text = f:read("a"):gsub("^\239\187\191", "")
  f:close()
  if text:sub(1, 1) == "#" then text = "--" .. text end
  local chunk, err = load(text, "@" .. shown, "t", env)
  if not chunk then fail(loader.whole_names(err, shown)) end
  local ok, e = pcall(chunk)
  package.loaded["luamig.context"] = nil
  local mc = get_mc()
  if mc and mc.owns_connection and mc.connection then mc.connection:close() end
  if not ok then fail(loader.whole_names(tostring(e), shown)) end
end

return M
