--[[ tests/style/lua_graph.lua — the shape rules of the embedded Lua modules (DESIGN.md,
"Where things live"), checked on the source text:

  1. Every require is at module level: no `require` inside a function body, where it would
     hide a dependency (or dodge a cycle) until the function first runs.  A module name must be
     a literal, so that the graph can be read from the text.  A lazy require
     (`local m = lazy "luamig.x"`, luamig/lazy.lua: the module loads when first used) is held
     to the same rules and is an edge of the graph like a require.
  2. The modules form a directed acyclic graph.
  3. One place per database: outside lua/luamig/sqldialect/ (the per-database SQL compiler and
     facts) and lua/luamig/dialects/ (the user-facing type modules), no code compares a value
     with "sqlite" or "postgresql" — such a branch belongs in a dialect object.

Usage: lua5.4 tests/style/lua_graph.lua <source>/lua [file.lua ...]
  The files are paths below <source>/lua (default: every luamig/**/*.lua found there).
  Prints each violation as file:line: message and exits 1 when there is one.

Lua source is read with a small tokenizer (strings, long brackets, comments), so a require in a
comment or inside a string (render.lua writes `require` lines into generated code) is not one.
]]

local root = arg[1]
if not root then
  io.stderr:write("usage: lua5.4 lua_graph.lua <source>/lua [file.lua ...]\n")
  os.exit(2)
end

-- Known exceptions, each with the reason it is allowed for now.
-- Known exceptions, each with the reason it is allowed for now (none today).
local EXCEPTIONS = {
  require_in_function = {},
  dialect_names = {},
}

-- The one module that requires a computed name: the loader behind `lazy "luamig.x"`, whose
-- names are literal where it is called, and are read there as edges of the graph.
local LAZY_LOADER = "luamig/lazy.lua"

-- Folders whose files may name a database: that is what they are for.
local DIALECT_FOLDERS = { "luamig/sqldialect/", "luamig/dialects/" }
local DATABASE_NAMES = { sqlite = true, postgresql = true }

--------------------------------------------------------------------------------------------
-- Tokenizer
--------------------------------------------------------------------------------------------

-- Returns a list of { type = "name"|"string"|"number"|"op", value, line }.
local function tokenize(src)
  local toks, i, n, line = {}, 1, #src, 1
  local function push(t, v) toks[#toks + 1] = { type = t, value = v, line = line } end
  local function count_lines(s) for _ in s:gmatch("\n") do line = line + 1 end end
  -- the end of a long bracket opened at `at` ("[[" or "[==["), or nil when it is not one
  local function long_bracket(at)
    local eq = src:match("^%[(=*)%[", at)
    if not eq then return nil end
    local close = "]" .. eq .. "]"
    local s = at + #eq + 2
    local e = src:find(close, s, true)
    if not e then error("unfinished long bracket at line " .. line, 0) end
    return src:sub(s, e - 1), e + #close
  end
  if src:sub(1, 1) == "#" then i = (src:find("\n", 1, true) or n + 1) end
  while i <= n do
    local c = src:sub(i, i)
    if c == "\n" then
      line = line + 1
      i = i + 1
    elseif c:match("%s") then
      i = i + 1
    elseif src:sub(i, i + 1) == "--" then
      local body, after = long_bracket(i + 2)
      if body then
        count_lines(src:sub(i, after - 1))
        i = after
      else
        i = src:find("\n", i, true) or (n + 1)
      end
    elseif c == "[" and src:match("^%[=*%[", i) then
      local start = line
      local body, after = long_bracket(i)
      count_lines(src:sub(i, after - 1))
      toks[#toks + 1] = { type = "string", value = body, line = start }
      i = after
    elseif c == '"' or c == "'" then
      local j, buf = i + 1, {}
      while j <= n do
        local d = src:sub(j, j)
        if d == "\\" then
          local nx = src:sub(j + 1, j + 1)
          if nx == "\n" then line = line + 1 end
          buf[#buf + 1] = d .. nx
          j = j + 2
        elseif d == c then
          break
        elseif d == "\n" then
          error("unfinished string at line " .. line, 0)
        else
          buf[#buf + 1] = d
          j = j + 1
        end
      end
      push("string", table.concat(buf))
      i = j + 1
    elseif c:match("[%a_]") then
      local w = src:match("^[%w_]+", i)
      push("name", w)
      i = i + #w
    elseif c:match("%d") or (c == "." and src:sub(i + 1, i + 1):match("%d")) then
      local num = src:match("^0[xX][%x%.]+[pP]?[%+%-]?%x*", i) or src:match("^[%d%.]+[eE][%+%-]?%d+", i)
        or src:match("^[%d%.]+", i)
      push("number", num)
      i = i + #num
    else
      local o = src:match("^%.%.%.", i) or src:match("^[=~<>]=", i) or src:match("^%.%.", i)
        or src:match("^::", i) or src:match("^//", i) or src:match("^<<", i) or src:match("^>>", i) or c
      push("op", o)
      i = i + #o
    end
  end
  return toks
end

--------------------------------------------------------------------------------------------
-- Scanning one module
--------------------------------------------------------------------------------------------

-- Returns { requires = { {name, line, in_function} ... }, dynamic = { line ... },
-- comparisons = { {name, line} ... } }.
local function scan(src)
  local toks = tokenize(src)
  local out = { requires = {}, dynamic = {}, comparisons = {} }
  -- the open blocks: "function", "block" (do/if/repeat), or a loop header still waiting for
  -- its `do` ("loop")
  local stack = {}
  local function in_function()
    for _, b in ipairs(stack) do if b == "function" then return true end end
    return false
  end
  for k, t in ipairs(toks) do
    local prev, nxt = toks[k - 1], toks[k + 1]
    if t.type == "name" then
      local v = t.value
      local is_field = prev and prev.type == "op" and (prev.value == "." or prev.value == ":")
      if is_field then
        -- a field name, not a keyword or a global
      elseif v == "function" then
        stack[#stack + 1] = "function"
      elseif v == "if" or v == "repeat" then
        stack[#stack + 1] = "block"
      elseif v == "while" or v == "for" then
        stack[#stack + 1] = "loop"
      elseif v == "do" then
        if stack[#stack] == "loop" then stack[#stack] = "block" else stack[#stack + 1] = "block" end
      elseif v == "end" or v == "until" then
        stack[#stack] = nil
      elseif (v == "require" or v == "lazy") and not (nxt and nxt.type == "op" and nxt.value == "=") then
        local name
        if nxt and nxt.type == "string" then
          name = nxt.value
        elseif nxt and nxt.value == "(" and toks[k + 2] and toks[k + 2].type == "string"
            and toks[k + 3] and toks[k + 3].value == ")" then
          name = toks[k + 2].value
        end
        if name then
          out.requires[#out.requires + 1] = { name = name, line = t.line, in_function = in_function(),
                                              how = v }
        elseif v == "lazy" then
          -- a variable named lazy used otherwise (passed on, compared): not a declaration
        else
          out.dynamic[#out.dynamic + 1] = { line = t.line, in_function = in_function() }
        end
      end
    elseif t.type == "string" and DATABASE_NAMES[t.value] then
      local function cmp(o) return o and o.type == "op" and (o.value == "==" or o.value == "~=") end
      if cmp(prev) or cmp(nxt) then
        out.comparisons[#out.comparisons + 1] = { name = t.value, line = t.line }
      end
    end
  end
  return out
end

--------------------------------------------------------------------------------------------
-- The whole tree
--------------------------------------------------------------------------------------------

local files = {}
for k = 2, #arg do files[#files + 1] = arg[k] end
if #files == 0 then
  local p = assert(io.popen("cd '" .. root:gsub("'", "'\\''") .. "' && find luamig -name '*.lua' | sort"))
  for f in p:lines() do files[#files + 1] = f end
  p:close()
end
table.sort(files)

-- "luamig/x/y.lua" -> "luamig.x.y"; "luamig/x/init.lua" -> "luamig.x"
local function module_name(path)
  return (path:gsub("%.lua$", ""):gsub("/init$", ""):gsub("/", "."))
end

local problems = {}
local function problem(file, line, msg)
  problems[#problems + 1] = string.format("lua/%s:%d: %s", file, line, msg)
end

local modules, edges = {}, {}
for _, f in ipairs(files) do
  local fh = io.open(root .. "/" .. f, "r")
  if not fh then
    io.stderr:write("lua_graph: cannot read " .. root .. "/" .. f .. "\n")
    os.exit(2)
  end
  local src = fh:read("a")
  fh:close()
  local ok, s = pcall(scan, src)
  if not ok then
    problem(f, 0, "cannot tokenize: " .. tostring(s))
  else
    local name = module_name(f)
    modules[name] = f
    edges[name] = {}
    local allowed = EXCEPTIONS.require_in_function[f] or {}
    for _, r in ipairs(s.requires) do
      if r.in_function and not allowed[r.name] then
        problem(f, r.line, r.how .. " \"" .. r.name .. "\" inside a function: " .. r.how
          .. " it at the top of the module (if that makes a cycle, pass the value in or register "
          .. "it instead)")
      end
      -- an allowed exception is left out of the graph: it is the cycle being taken apart
      if not (r.in_function and allowed[r.name]) then
        edges[name][#edges[name] + 1] = { to = r.name, line = r.line }
      end
    end
    for _, d in ipairs(s.dynamic) do
      if f ~= LAZY_LOADER then
        problem(f, d.line, "require with a computed module name: name the module literally")
      end
    end
    local in_dialect_folder = false
    for _, prefix in ipairs(DIALECT_FOLDERS) do
      if f:sub(1, #prefix) == prefix then in_dialect_folder = true end
    end
    if not in_dialect_folder and not EXCEPTIONS.dialect_names[f] then
      for _, c in ipairs(s.comparisons) do
        problem(f, c.line, "compares with \"" .. c.name .. "\": a per-database branch belongs in "
          .. "lua/luamig/sqldialect/ (a field or method of the dialect object)")
      end
    end
  end
end

-- Cycles, by depth-first search over the modules found (luamig.core is C, not in the graph).
local state, path = {}, {}
local function visit(m)
  state[m] = "open"
  path[#path + 1] = m
  for _, e in ipairs(edges[m] or {}) do
    if modules[e.to] then
      if state[e.to] == "open" then
        local cycle = {}
        local from
        for k = #path, 1, -1 do if path[k] == e.to then from = k end end
        for k = from, #path do cycle[#cycle + 1] = path[k] end
        cycle[#cycle + 1] = e.to
        problem(modules[m], e.line, "require cycle: " .. table.concat(cycle, " -> "))
      elseif state[e.to] == nil then
        visit(e.to)
      end
    end
  end
  path[#path] = nil
  state[m] = "done"
end
local names = {}
for m in pairs(modules) do names[#names + 1] = m end
table.sort(names)
for _, m in ipairs(names) do if state[m] == nil then visit(m) end end

for _, p in ipairs(problems) do io.stdout:write(p, "\n") end
io.stdout:write(string.format("%d modules, %d problem%s\n", #names, #problems,
  #problems == 1 and "" or "s"))
os.exit(#problems == 0 and 0 or 1)
