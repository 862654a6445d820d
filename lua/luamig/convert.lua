--[[ luamig.convert — `luamig convert`: Alembic revision files (Python) to luamig revision files.

A small Python tokenizer and a recursive-descent parser for the subset revision files use
(imports, assignments, def upgrade()/downgrade() and helpers, if/elif/else, with-blocks, for
loops over lists, return/pass/raise, expressions with calls and keyword arguments, literals,
string formatting, comments), and an emitter that writes Lua by DESIGN's rule: positional
arguments stay positional, keyword arguments go into a trailing options table.

Nothing of the input runs. What the subset does not cover is kept in the output as `--`
comment lines under a `-- luamig convert: TODO <what>` marker and listed on stderr as
`file:line: luamig convert: TODO <what>`. Every string the output holds is written by
M.quote (escapes for quotes, backslashes, newlines, control bytes and NUL), comments are `-- `
lines whose control characters (a CR ends a Lua comment too) are written as escapes, as in
every message, and a docstring goes into a long bracket whose level its text cannot close: the
output can hold no code the input did not spell as a supported construct. Each file's Lua is
compiled (not run) before it is written; a file read is a regular one; with --ini a project is
written whole or not at all.

  M.convert(text, name) -> lua_text, todos | nil, "name:line: message"
      todos: list of { line = n, what = "..." }
  M.quote(s) -> a Lua string literal for any bytes
  M.main(cmd) -> exit status (called by core/cmd_convert.c)
]]

local core = require "luamig.core"
local lazy = require "luamig.lazy"
local render = lazy "luamig.render"

local M = {}

local MAX_BYTES = 4 * 1024 * 1024  -- larger inputs are refused, not read
local MAX_DEPTH = 100              -- nesting of brackets, expressions and blocks
local MAX_EXPR_DEPTH = 2 * MAX_DEPTH   -- the depth of an expression the emitter writes

--------------------------------------------------------------------------------------------
-- Lua output helpers
--------------------------------------------------------------------------------------------

-- A Lua string literal for the bytes of s: printable ASCII and UTF-8 as they are, every
-- other byte as a decimal escape of three digits (so a digit after it cannot extend it).
function M.quote(s)
  return '"' .. s:gsub('[%c"\\\127]', function(c)
    if c == '"' then return '\\"' elseif c == "\\" then return "\\\\"
    elseif c == "\n" then return "\\n" elseif c == "\t" then return "\\t" end
    return string.format("\\%03d", c:byte())
  end) .. '"'
end

local lua_keywords = {}
for w in ([[and break do else elseif end false for function goto if in local nil not or
            repeat return then true until while]]):gmatch("%a+") do lua_keywords[w] = true end

local Unsupported = {}  -- the error value of a construct the emitter cannot write: { what = ... }

local function lua_name(n)
  if not n:match("^[%a_][%w_]*$") then
    error(setmetatable({ what = "a name Lua cannot spell (" .. n .. ")" }, Unsupported), 0)
  end
  if lua_keywords[n] then return n .. "_" end
  return n
end

-- A table key: `name = ` when name is a Lua identifier, else `["name"] = `.
local function key(k)
  if k:match("^[%a_][%w_]*$") and not lua_keywords[k] then return k end
  return "[" .. M.quote(k) .. "]"
end

-- Text from the input made to stay on one line of a comment or a message: a control
-- character (a CR ends a Lua line comment as a LF does) is written as a visible escape.
local function one_line(text)
  return (text:gsub("[%c]", function(c)
    if c == "\t" then return c end
    if c == "\n" then return "\\n" end
    if c == "\r" then return "\\r" end
    return string.format("\\%03d", c:byte())
  end))
end

-- A Python comment's text (after '#') as a Lua line comment. A text that starts with '['
-- gets a space first: "--[[" would open a long comment and turn later lines into code.
local function comment(text)
  text = one_line(text)
  if text:sub(1, 1) == "[" then return "-- " .. text end
  return "--" .. text
end


--------------------------------------------------------------------------------------------
-- Tokenizer
--------------------------------------------------------------------------------------------

local Fail = {}  -- the error value of a fatal input error: { msg = "name:line: ..." }

local function fail(name, line, msg)
  error(setmetatable({ msg = string.format("%s:%d: %s", name, line, msg) }, Fail), 0)
end

local three_ops = { ["**="] = true, ["//="] = true, [">>="] = true, ["<<="] = true, ["..."] = true }
local two_ops = {}
for o in ("== != <= >= ** // -> += -= *= /= %= &= |= ^= >> << := <>"):gmatch("%S+") do two_ops[o] = true end

-- Decodes the escapes of a (non-raw) Python string body; bytes: a b"" literal.
local simple_escapes = { n = "\n", t = "\t", r = "\r", ["\\"] = "\\", ["'"] = "'", ['"'] = '"',
                         a = "\a", b = "\b", f = "\f", v = "\v", ["\n"] = "" }
local function unescape(body, name, line, bytes)
  local out, i, n = {}, 1, #body
  local function bad(what) fail(name, line, "bad " .. what .. " escape in a string") end
  while i <= n do
    local j = body:find("\\", i, true)
    if not j then out[#out + 1] = body:sub(i); break end
    out[#out + 1] = body:sub(i, j - 1)
    local c = body:sub(j + 1, j + 1)
    if simple_escapes[c] then
      out[#out + 1] = simple_escapes[c]; i = j + 2
    elseif c == "x" then
      local h = body:match("^%x%x", j + 2)
      if not h then bad("\\x") end
      local v = tonumber(h, 16)
      out[#out + 1] = bytes and string.char(v) or utf8.char(v); i = j + 4
    elseif c:match("^[0-7]$") then
      local o = body:match("^[0-7][0-7]?[0-7]?", j + 1)
      local v = tonumber(o, 8)
      out[#out + 1] = bytes and string.char(v % 256) or utf8.char(v); i = j + 1 + #o
    elseif (c == "u" or c == "U") and not bytes then
      local len = c == "u" and 4 or 8
      local h = body:match("^" .. string.rep("%x", len), j + 2)
      if not h or tonumber(h, 16) > 0x10FFFF then bad("\\" .. c) end
      out[#out + 1] = utf8.char(tonumber(h, 16)); i = j + 2 + len
    elseif c == "N" and not bytes then
      fail(name, line, "\\N{...} escapes are not supported")
    else
      out[#out + 1] = "\\" .. c; i = j + 2  -- Python keeps an unknown escape as it is
    end
  end
  return table.concat(out)
end

-- The number literal at pos (a digit, or a dot and a digit): 0x/0o/0b digits, or an integer
-- part, a fraction and an exponent, each matched once where the last ended. (One pattern with
-- two runs of digits around an optional dot backtracks over every split of the digits: a
-- literal of 40,000 digits took 35 s.)
local function number_at(src, pos)
  local based = src:match("^0[xXoObB][%x_]+", pos)
  if based then return based end
  local e = select(2, src:find("^%d[%d_]*", pos)) or pos - 1
  e = select(2, src:find("^%.[%d_]*", e + 1)) or e
  e = select(2, src:find("^[eE][+-]?%d+", e + 1)) or e
  return src:sub(pos, e)
end

-- tokens: { type = "name"|"number"|"string"|"op"|"newline"|"indent"|"dedent"|"eof",
--           value, line, [prefix for strings] }; comments: { line = n, text = "...", own = bool }
local function tokenize(src, name)
  local toks, comments = {}, {}
  local pos, line, n = 1, 1, #src
  local indents = { 0 }
  local depth = 0          -- bracket depth: newlines inside brackets join lines
  local at_line_start = true
  local function push(t, v, l, extra)
    local tok = { type = t, value = v, line = l or line }
    if extra then for k, x in pairs(extra) do tok[k] = x end end
    toks[#toks + 1] = tok
  end
  -- Where the string literal whose body starts at i ends (the position of its closing delim),
  -- counting the lines it spans; an unterminated one is a failure at its first line.
  local function string_end(i, delim, tq, start_line)
    while true do
      local ch = src:sub(i, i)
      if ch == "" then fail(name, start_line, "unterminated string literal") end
      if ch == "\\" then
        if src:sub(i + 1, i + 1) == "\n" then line = line + 1 end
        i = i + 2
      elseif ch == "\n" or ch == "\r" then
        if not tq then fail(name, start_line, "unterminated string literal") end
        line = line + 1
        i = i + ((src:sub(i, i + 1) == "\r\n") and 2 or 1)
      elseif src:sub(i, i + #delim - 1) == delim then
        return i
      else
        i = i + 1
      end
    end
  end
  while true do
    if at_line_start and depth == 0 then
      -- measure the indentation of a logical line; blank and comment-only lines do not count
      local s, e = src:find("^[ \t\f]*", pos)
      local ws = src:sub(s, e)
      local col = 0
      for ch in ws:gmatch(".") do
        if ch == "\t" then col = col + 8 - col % 8 elseif ch == " " then col = col + 1 end
      end
      local nextc = src:sub(e + 1, e + 1)
      pos = e + 1
      if nextc == "#" then
        local c = src:match("^#[^\r\n]*", pos)
        comments[#comments + 1] = { line = line, text = c:sub(2), own = true, col = col }
        pos = pos + #c
      elseif nextc == "\r" or nextc == "\n" then
        pos = pos + ((src:sub(pos, pos + 1) == "\r\n") and 2 or 1)
        line = line + 1
      elseif nextc == "\\" and src:sub(pos + 1, pos + 1):match("[\r\n]") then
        pos = pos + 1
      elseif nextc == "" then
        break
      else
        at_line_start = false
        if col > indents[#indents] then
          if #indents > MAX_DEPTH then fail(name, line, "too deeply nested") end
          indents[#indents + 1] = col
          push("indent", col)
        else
          while col < indents[#indents] do
            indents[#indents] = nil
            push("dedent", col)
          end
          if col ~= indents[#indents] then fail(name, line, "unindent does not match any outer indentation level") end
        end
      end
    else
      local c = src:sub(pos, pos)
      if c == "" then break end
      if c == " " or c == "\t" or c == "\f" then
        pos = pos + 1
      elseif c == "#" then
        local cm = src:match("^#[^\r\n]*", pos)
        comments[#comments + 1] = { line = line, text = cm:sub(2), own = false }
        pos = pos + #cm
      elseif c == "\r" or c == "\n" then
        pos = pos + ((src:sub(pos, pos + 1) == "\r\n") and 2 or 1)
        if depth == 0 then push("newline"); at_line_start = true end
        line = line + 1
      elseif c == "\\" then
        local nl = src:match("^\\(\r?\n?)", pos)
        if nl == "" then fail(name, line, "unexpected character after line continuation character") end
        pos = pos + 1 + #nl
        line = line + 1
      elseif c:match("[%a_\128-\255]") then
        local word = src:match("^[%w_\128-\255]+", pos)
        local q = src:sub(pos + #word, pos + #word)
        local lw = word:lower()
        if (q == "'" or q == '"') and #word <= 2 and lw:match("^[rubf]+$") and lw ~= "ub" and lw ~= "bu"
            and lw ~= "uf" and lw ~= "fu" and lw ~= "fb" and lw ~= "bf" and lw ~= "uu" then
          pos = pos + #word
          c = q
          -- fall through to the string reader below with a prefix
          local tq = src:sub(pos, pos + 2) == q:rep(3)
          local delim = tq and q:rep(3) or q
          local start_line = line
          local raw = lw:find("r", 1, true) ~= nil
          local body_start = pos + #delim
          local i = string_end(body_start, delim, tq, start_line)
          local body = src:sub(body_start, i - 1):gsub("\r\n?", "\n")
          pos = i + #delim
          local bytes = lw:find("b", 1, true) ~= nil
          local value = raw and body or unescape(body, name, start_line, bytes)
          push("string", value, start_line, { fstring = lw:find("f", 1, true) ~= nil, raw_body = body,
                                              end_line = line })
        else
          push("name", word)
          pos = pos + #word
        end
      elseif c == "'" or c == '"' then
        local tq = src:sub(pos, pos + 2) == c:rep(3)
        local delim = tq and c:rep(3) or c
        local start_line = line
        local i = string_end(pos + #delim, delim, tq, start_line)
        local body = src:sub(pos + #delim, i - 1):gsub("\r\n?", "\n")
        pos = i + #delim
        push("string", unescape(body, name, start_line, false), start_line, { raw_body = body,
                                                                            end_line = line })
      elseif c:match("%d") or (c == "." and src:sub(pos + 1, pos + 1):match("%d")) then
        local num = number_at(src, pos)
        pos = pos + #num
        if src:sub(pos, pos):match("[jJlL]") then fail(name, line, "complex and long number literals are not supported") end
        push("number", num)
      else
        local three, two = src:sub(pos, pos + 2), src:sub(pos, pos + 1)
        local o
        if three_ops[three] then o = three elseif two_ops[two] then o = two else o = c end
        if not o:match("^[%p]+$") then fail(name, line, "invalid character in the source") end
        if o == "(" or o == "[" or o == "{" then
          depth = depth + 1
          if depth > MAX_DEPTH then fail(name, line, "too deeply nested") end
        elseif o == ")" or o == "]" or o == "}" then
          depth = depth - 1
          if depth < 0 then fail(name, line, "unmatched '" .. o .. "'") end
        end
        push("op", o)
        pos = pos + #o
      end
    end
  end
  if depth > 0 then fail(name, line, "unexpected end of file inside brackets") end
  if toks[#toks] and toks[#toks].type ~= "newline" then push("newline") end
  for _ = 2, #indents do push("dedent", 0) end
  push("eof")
  return toks, comments
end

--------------------------------------------------------------------------------------------
-- Parser: tokens to a small syntax tree
--------------------------------------------------------------------------------------------

local Parser = {}
Parser.__index = Parser

-- Past the end every token read is the last one (end of file); taking it a second time is a
-- syntax error there, never a read of nothing.
function Parser:peek(k) local toks = self.toks; return toks[self.i + (k or 0)] or toks[#toks] end
function Parser:next()
  local toks = self.toks
  local t = toks[self.i]
  if not t then fail(self.name, toks[#toks].line, "unexpected end of file") end
  self.i = self.i + 1
  return t
end
function Parser:is(v, ty) local t = self:peek(); return t.value == v and (ty or "op") == t.type end
function Parser:accept(v, ty) if self:is(v, ty) then return self:next() end end
function Parser:err(msg, t) fail(self.name, (t or self:peek()).line, msg) end
function Parser:expect(v, ty)
  local t = self:peek()
  if t.value ~= v or t.type ~= (ty or "op") then
    self:err(string.format("expected '%s', found %s", v, t.type == "eof" and "end of file"
      or t.type == "newline" and "end of line" or ("'" .. one_line(tostring(t.value)) .. "'")))
  end
  return self:next()
end
function Parser:enter()
  self.depth = self.depth + 1
  if self.depth > MAX_DEPTH then self:err("too deeply nested") end
end
function Parser:leave() self.depth = self.depth - 1 end

-- Skips tokens up to the operator `stop` outside any brackets they open (a slice's bounds,
-- a lambda's parameters: x[1:y[0]], lambda d={1: 2}: d), leaving it next; a ':' that ends a
-- lambda among the skipped tokens (lambda d=lambda: 1: d) is not `stop`. When a line ends
-- first or a bracket closes one it did not open, the error is `message`, or "bad <what>"; the
-- end of the file is next()'s "unexpected end of file".
local CLOSES = { [")"] = "(", ["]"] = "[", ["}"] = "{" }
function Parser:skip_to(stop, what, message)
  local open, lambdas = {}, 0
  while true do
    local t = self:peek()
    if #open == 0 and t.type == "op" and t.value == stop then
      if stop ~= ":" or lambdas == 0 then return end
      lambdas = lambdas - 1
    elseif t.type == "newline" and #open == 0 then
      self:err(message or ("bad " .. what))
    elseif t.type == "name" and t.value == "lambda" and #open == 0 then
      lambdas = lambdas + 1
    elseif t.type == "op" then
      if t.value == "(" or t.value == "[" or t.value == "{" then
        open[#open + 1] = t.value
      elseif CLOSES[t.value] then
        if open[#open] ~= CLOSES[t.value] then self:err(message or ("bad " .. what)) end
        open[#open] = nil
      end
    end
    self:next()
  end
end

-- Whether the subscript whose '[' was just read holds a ':' outside the brackets it opens
-- before its closing ']' (a slice: x[1:2], x[0, :1]); lambdas' colons aside. Looks ahead
-- only; the answer for every subscript nested in it is kept on the way (self.slices, by the
-- index of its '['), so that nested subscripts are scanned once, not once per level.
function Parser:subscript_is_slice()
  local memo = self.slices
  if not memo then
    memo = {}
    self.slices = memo
  end
  local at = self.i - 1
  if memo[at] ~= nil then return memo[at] end
  -- the open brackets: { kind, token index, a ':' seen in it, lambdas awaiting their ':' }
  local stack = { { "[", at, false, 0 } }
  for k = 0, math.huge do
    local t = self:peek(k)
    if t.type == "eof" then return false end
    local top = stack[#stack]
    if t.type == "op" then
      if t.value == "(" or t.value == "[" or t.value == "{" then
        stack[#stack + 1] = { t.value, self.i + k, false, 0 }
      elseif t.value == ")" or t.value == "]" or t.value == "}" then
        if top[1] == "[" then memo[top[2]] = top[3] end
        stack[#stack] = nil
        if #stack == 0 then return top[3] end
      elseif t.value == ":" then
        if top[4] > 0 then
          top[4] = top[4] - 1
        elseif #stack == 1 then
          memo[at] = true
          return true
        else
          top[3] = true
        end
      end
    elseif t.type == "name" and t.value == "lambda" then
      top[4] = top[4] + 1
    end
  end
end

-- Expressions ---------------------------------------------------------------------------

function Parser:expr()
  self:enter()
  local e
  if self:is("lambda", "name") then
    local t = self:next()
    self:skip_to(":", "lambda")
    self:next()
    self:expr()
    e = { k = "unsupported", what = "a lambda", line = t.line }
  else
    e = self:or_expr()
    if self:is("if", "name") then
      self:next()
      local cond = self:or_expr()
      self:expect("else", "name")
      local other = self:expr()
      e = { k = "ifexp", cond = cond, a = e, b = other }
    end
  end
  self:leave()
  return e
end

-- expr[, expr ...] as a tuple when there is a comma
function Parser:exprlist(stop)
  local first = self:starred()
  if not self:is(",") then return first end
  local items = { first }
  while self:accept(",") do
    if stop(self) then break end
    items[#items + 1] = self:starred()
  end
  return { k = "tuple", items = items }
end

function Parser:starred()
  if self:is("*") then
    local t = self:next()
    return { k = "star", e = self:or_expr(), line = t.line }
  end
  return self:expr()
end

function Parser:or_expr()
  local e = self:and_expr()
  while self:accept("or", "name") do e = { k = "bin", op = "or", a = e, b = self:and_expr() } end
  return e
end

function Parser:and_expr()
  local e = self:not_expr()
  while self:accept("and", "name") do e = { k = "bin", op = "and", a = e, b = self:not_expr() } end
  return e
end

function Parser:not_expr()
  if self:accept("not", "name") then
    self:enter()
    local e = { k = "not", e = self:not_expr() }
    self:leave()
    return e
  end
  return self:comparison()
end

local compare_ops = { ["=="] = true, ["!="] = true, ["<"] = true, [">"] = true, ["<="] = true, [">="] = true }

function Parser:comparison()
  local e = self:bitor()
  local n = 0
  while true do
    local t = self:peek()
    -- Python's a == b == c is a == b and b == c, b once: not Lua's (a == b) == c
    n = n + 1
    if n == 2 and (e.k == "bin" or e.k == "in" or e.k == "not") and ((t.type == "op"
        and compare_ops[t.value]) or (t.type == "name" and (t.value == "is" or t.value == "in"
        or (t.value == "not" and self:peek(1).value == "in")))) then
      e = { k = "unsupported", what = "a chained comparison", line = t.line }
    end
    if t.type == "op" and compare_ops[t.value] then
      self:next()
      e = { k = "bin", op = t.value, a = e, b = self:bitor() }
    elseif t.type == "name" and t.value == "is" then
      self:next()
      local neg = self:accept("not", "name") ~= nil
      e = { k = "bin", op = neg and "!=" or "==", a = e, b = self:bitor() }
    elseif t.type == "name" and t.value == "in" then
      self:next()
      e = { k = "in", a = e, b = self:bitor(), line = t.line }
    elseif t.type == "name" and t.value == "not" and self:peek(1).value == "in" then
      self:next(); self:next()
      e = { k = "not", e = { k = "in", a = e, b = self:bitor(), line = t.line } }
    else
      return e
    end
  end
end

local binary_levels = {
  { "|" }, { "^" }, { "&" }, { "<<", ">>" }, { "+", "-" }, { "*", "/", "//", "%", "@" },
}

function Parser:binary(level)
  if level > #binary_levels then return self:unary() end
  local e = self:binary(level + 1)
  while true do
    local t = self:peek()
    local found = false
    if t.type == "op" then
      for _, o in ipairs(binary_levels[level]) do if t.value == o then found = true end end
    end
    if not found then return e end
    self:next()
    e = { k = "bin", op = t.value, a = e, b = self:binary(level + 1), line = t.line }
  end
end

function Parser:bitor() return self:binary(1) end

function Parser:unary()
  local t = self:peek()
  if t.type == "op" and (t.value == "-" or t.value == "+" or t.value == "~") then
    self:next()
    self:enter()
    local e = { k = "unary", op = t.value, e = self:unary(), line = t.line }
    self:leave()
    return e
  end
  if t.type == "name" and t.value == "await" then self:err("await is not supported") end
  local e = self:postfix()
  if self:is("**") then
    local pt = self:next()
    self:enter()
    e = { k = "bin", op = "**", a = e, b = self:unary(), line = pt.line }
    self:leave()
  end
  return e
end

function Parser:postfix()
  local e = self:atom()
  local n = 0
  while true do
    n = n + 1
    if n > MAX_DEPTH then self:err("too deeply nested") end
    if self:is(".") then
      self:next()
      local t = self:next()
      if t.type ~= "name" then self:err("expected a name after '.'", t) end
      e = { k = "attr", e = e, name = t.value, line = t.line }
    elseif self:is("(") then
      local t = self:next()
      local args, kwargs = {}, {}
      while not self:is(")") do
        if self:is("**") then
          self:next()
          kwargs[#kwargs + 1] = { star = true, e = self:expr() }
        elseif self:is("*") then
          self:next()
          args[#args + 1] = { k = "star", e = self:expr(), line = t.line }
        elseif self:peek().type == "name" and self:peek(1).value == "=" and self:peek(1).type == "op" then
          local kt = self:next(); self:next()
          kwargs[#kwargs + 1] = { name = kt.value, e = self:expr() }
        else
          local a = self:expr()
          if self:is("for", "name") then a = self:comprehension(a, ")", t) end
          args[#args + 1] = a
        end
        if not self:accept(",") then break end
      end
      self:expect(")")
      e = { k = "call", f = e, args = args, kwargs = kwargs, line = t.line }
    elseif self:is("[") then
      local t = self:next()
      local idx
      if self:subscript_is_slice() then
        idx = { k = "unsupported", what = "a slice", line = t.line }
        self:skip_to("]", "slice")
      else
        idx = self:exprlist(function(p) return p:is("]") end)
      end
      self:expect("]")
      e = { k = "index", e = e, idx = idx, line = t.line }
    else
      return e
    end
  end
end

-- Skips a comprehension's clauses up to the closing bracket; the result is unsupported.
function Parser:comprehension(_, close, t)
  local level = 0
  while true do
    local x = self:peek()
    if x.type == "eof" then self:err("unexpected end of file") end
    if x.type == "op" and (x.value == "(" or x.value == "[" or x.value == "{") then level = level + 1 end
    if x.type == "op" and (x.value == ")" or x.value == "]" or x.value == "}") then
      if level == 0 and x.value == close then break end
      level = level - 1
    end
    self:next()
  end
  return { k = "unsupported", what = "a comprehension", line = t.line }
end

function Parser:atom()
  local t = self:next()
  if t.type == "name" then
    if t.value == "True" then return { k = "const", v = "true" } end
    if t.value == "False" then return { k = "const", v = "false" } end
    if t.value == "None" then return { k = "const", v = "nil" } end
    local reserved = { ["if"] = 1, ["else"] = 1, ["for"] = 1, ["while"] = 1, ["def"] = 1, ["class"] = 1,
                       ["return"] = 1, ["import"] = 1, ["from"] = 1, ["with"] = 1, ["pass"] = 1,
                       ["and"] = 1, ["or"] = 1, ["not"] = 1, ["in"] = 1, ["is"] = 1, ["elif"] = 1 }
    if reserved[t.value] then self:err("invalid syntax near '" .. one_line(t.value) .. "'", t) end
    return { k = "name", name = t.value, line = t.line }
  elseif t.type == "number" then
    return { k = "number", text = t.value, line = t.line }
  elseif t.type == "string" then
    local parts = { t }
    while self:peek().type == "string" do parts[#parts + 1] = self:next() end
    return { k = "str", parts = parts, line = t.line }
  elseif t.type == "op" and t.value == "(" then
    if self:accept(")") then return { k = "tuple", items = {} } end
    local e = self:exprlist(function(p) return p:is(")") end)
    if self:is("for", "name") then e = self:comprehension(e, ")", t) end
    self:expect(")")
    if e.k ~= "tuple" then e = { k = "paren", e = e } end
    return e
  elseif t.type == "op" and t.value == "[" then
    local items = {}
    while not self:is("]") do
      local a = self:starred()
      if self:is("for", "name") then return self:comprehension(a, "]", t), self:expect("]") end
      items[#items + 1] = a
      if not self:accept(",") then break end
    end
    self:expect("]")
    return { k = "list", items = items }
  elseif t.type == "op" and t.value == "{" then
    local pairs_, items = {}, {}
    while not self:is("}") do
      if self:is("**") then
        self:next(); self:expr()
        pairs_[#pairs_ + 1] = { unsupported = true }
      else
        local k = self:expr()
        if self:accept(":") then
          local v = self:expr()
          if self:is("for", "name") then return self:comprehension(k, "}", t), self:expect("}") end
          pairs_[#pairs_ + 1] = { k = k, v = v }
        else
          if self:is("for", "name") then return self:comprehension(k, "}", t), self:expect("}") end
          items[#items + 1] = k
        end
      end
      if not self:accept(",") then break end
    end
    self:expect("}")
    if #items > 0 then return { k = "unsupported", what = "a set", line = t.line } end
    return { k = "dict", pairs = pairs_, line = t.line }
  elseif t.type == "op" and t.value == "..." then
    return { k = "const", v = "nil" }
  end
  if t.type == "eof" then self:err("unexpected end of file", t) end
  if t.type == "newline" then self:err("invalid syntax: unexpected end of line", t) end
  if t.type == "indent" then self:err("unexpected indent", t) end
  self:err("invalid syntax near '" .. one_line(tostring(t.value)) .. "'", t)
end

-- Statements ---------------------------------------------------------------------------

-- Skips to the end of the current simple statement (its NEWLINE).
function Parser:skip_line()
  while true do
    local t = self:next()
    if t.type == "newline" or t.type == "eof" then return end
  end
end

-- Skips a block (after its ':' and NEWLINE): INDENT ... matching DEDENT; or the rest of a
-- one-line suite.
function Parser:skip_suite()
  if self:peek().type ~= "newline" then self:skip_line(); return end
  self:next()
  if self:peek().type ~= "indent" then self:err("expected an indented block") end
  self:next()
  local level = 1
  while level > 0 do
    local t = self:next()
    if t.type == "indent" then level = level + 1
    elseif t.type == "dedent" then level = level - 1
    elseif t.type == "eof" then return end
  end
end

-- The last line of what was consumed so far.
function Parser:last_line()
  local j = self.i - 1
  while j > 1 and (self.toks[j].type == "dedent" or self.toks[j].type == "newline") do j = j - 1 end
  local t = self.toks[j]
  return t and (t.end_line or t.line) or 1   -- a string over several lines ends on its last
end

-- An unsupported statement from here: the whole statement (with its block) is skipped and
-- kept as a TODO with its source lines.
function Parser:unsupported_stmt(what, compound)
  local first = self:peek().line
  if compound then
    -- a decorated definition's decorators, a line each; then the header, which ends at its
    -- first ':' outside brackets (class A: pass is all on one line)
    while self:is("@") do self:skip_line() end
    self:skip_to(":", nil, "expected ':'")
    self:next()
    self:skip_suite()
    -- the clauses that continue it: except/else/finally, elif/else
    while self:peek().type == "name" and (self:is("except", "name") or self:is("else", "name")
        or self:is("finally", "name") or self:is("elif", "name")) do
      self:skip_to(":", nil, "expected ':'")
      self:next()
      self:skip_suite()
    end
  else
    self:skip_line()
  end
  return { k = "todo", what = what, line = first, last = self:last_line() }
end

function Parser:block()
  -- after ':'
  if self:peek().type ~= "newline" then
    local stmts = self:simple_stmts()
    return stmts
  end
  self:next()
  if self:peek().type ~= "indent" then self:err("expected an indented block") end
  self:next()
  self:enter()
  local stmts = {}
  while self:peek().type ~= "dedent" and self:peek().type ~= "eof" do
    for _, s in ipairs(self:statement()) do stmts[#stmts + 1] = s end
  end
  if self:peek().type == "dedent" then self:next() end
  self:leave()
  return stmts
end

function Parser:simple_stmts()
  local out = {}
  repeat
    if self:peek().type == "newline" then break end
    out[#out + 1] = self:simple_stmt()
  until not self:accept(";")
  if self:peek().type ~= "newline" and self:peek().type ~= "eof" then
    self:err("invalid syntax near '" .. one_line(tostring(self:peek().value)) .. "'")
  end
  self:next()
  return out
end

local aug_ops = { ["+="] = "+", ["-="] = "-", ["*="] = "*", ["/="] = "/", ["%="] = "%", ["//="] = "//",
                  ["**="] = "**", ["|="] = "|", ["&="] = "&", ["^="] = "^", [">>="] = ">>", ["<<="] = "<<" }

function Parser:simple_stmt()
  local t = self:peek()
  local line = t.line
  if t.type == "name" then
    local w = t.value
    if w == "pass" then self:next(); return { k = "pass", line = line } end
    if w == "return" then
      self:next()
      local e
      if self:peek().type ~= "newline" and not self:is(";") then
        e = self:exprlist(function(p) return p:peek().type == "newline" end)
      end
      return { k = "return", e = e, line = line }
    end
    if w == "import" or w == "from" then return self:import_stmt() end
    if w == "raise" then
      self:next()
      local e
      if self:peek().type ~= "newline" then e = self:expr() end
      if self:accept("from", "name") then self:expr() end
      return { k = "raise", e = e, line = line }
    end
    if w == "global" or w == "nonlocal" or w == "del" or w == "assert" or w == "break"
        or w == "continue" or w == "yield" then
      if w == "break" then self:next(); return { k = "break", line = line } end
      local s = self:unsupported_line("'" .. w .. "'")
      return s
    end
  end
  local first = self:exprlist(function(p) return p:is("=") or p:peek().type == "newline" end)
  if self:is("=") then
    local targets = { first }
    local value
    while self:accept("=") do
      value = self:exprlist(function(p) return p:is("=") or p:peek().type == "newline" end)
      targets[#targets + 1] = value
    end
    targets[#targets] = nil
    return { k = "assign", targets = targets, value = value, line = line, last = self:last_line() }
  end
  if self:is(":") then  -- annotated assignment: x: int = 3
    self:next()
    self:expr()
    if self:accept("=") then
      local value = self:exprlist(function(p) return p:peek().type == "newline" end)
      return { k = "assign", targets = { first }, value = value, line = line, last = self:last_line() }
    end
    return { k = "pass", line = line }
  end
  local t2 = self:peek()
  if t2.type == "op" and aug_ops[t2.value] then
    self:next()
    local value = self:exprlist(function(p) return p:peek().type == "newline" end)
    return { k = "assign", targets = { first }, line = line, last = self:last_line(),
             value = { k = "bin", op = aug_ops[t2.value], a = first, b = value, line = line } }
  end
  return { k = "expr", e = first, line = line, last = self:last_line() }
end

-- An unsupported simple statement: its line is kept as a TODO.
function Parser:unsupported_line(what)
  local first = self:peek().line
  while self:peek().type ~= "newline" and self:peek().type ~= "eof" and not self:is(";") do self:next() end
  return { k = "todo", what = what, line = first, last = self:last_line() }
end

function Parser:dotted()
  local t = self:next()
  if t.type ~= "name" and not (t.type == "op" and (t.value == "." or t.value == "...")) then
    self:err("expected a module name", t)
  end
  local s = t.value
  while self:is(".") or self:is("...") or (self:peek().type == "name" and s:sub(-1) == ".") do
    s = s .. self:next().value
  end
  return s
end

function Parser:import_stmt()
  local t = self:next()
  local line = t.line
  local names = {}
  local module
  if t.value == "import" then
    repeat
      local m = self:dotted()
      local alias
      if self:accept("as", "name") then alias = self:next().value end
      names[#names + 1] = { module = m, alias = alias }
    until not self:accept(",")
    return { k = "import", names = names, line = line, last = self:last_line() }
  end
  module = self:dotted()
  self:expect("import", "name")
  local paren = self:accept("(")
  repeat
    if paren and self:is(")") then break end
    local n = self:next()
    if n.type ~= "name" and n.value ~= "*" then self:err("expected a name to import", n) end
    local alias
    if self:accept("as", "name") then alias = self:next().value end
    names[#names + 1] = { name = n.value, alias = alias }
  until not self:accept(",")
  if paren then self:expect(")") end
  return { k = "from", module = module, names = names, line = line, last = self:last_line() }
end

function Parser:statement()
  local t = self:peek()
  if t.type == "indent" then self:err("unexpected indent") end
  if t.type == "op" and t.value == "@" then
    return { self:unsupported_stmt("a decorated definition", true) }
  end
  if t.type == "name" then
    local w = t.value
    if w == "def" then return { self:def_stmt() } end
    if w == "if" then return { self:if_stmt() } end
    if w == "with" then return { self:with_stmt() } end
    if w == "for" then return { self:for_stmt() } end
    if w == "class" then return { self:unsupported_stmt("a class", true) } end
    if w == "try" then return { self:unsupported_stmt("a try statement", true) } end
    if w == "while" then return { self:unsupported_stmt("a while loop", true) } end
    if w == "async" then return { self:unsupported_stmt("an async statement", true) } end
    if w == "match" and self:peek(1).type == "name" and self:peek_line_ends_colon() then
      return { self:unsupported_stmt("a match statement", true) }
    end
  end
  return self:simple_stmts()
end

function Parser:peek_line_ends_colon()
  local j = self.i
  while self.toks[j].type ~= "newline" and self.toks[j].type ~= "eof" do j = j + 1 end
  return self.toks[j - 1].value == ":"
end

function Parser:def_stmt()
  local line = self:next().line
  local nt = self:next()
  if nt.type ~= "name" then self:err("expected a function name", nt) end
  self:expect("(")
  local params = {}
  local unsupported
  while not self:is(")") do
    if self:is("*") or self:is("**") or self:is("/") then
      self:next()
      unsupported = "a function with * or ** parameters"
      if self:peek().type == "name" then self:next() end
    else
      local p = self:next()
      if p.type ~= "name" then self:err("expected a parameter name", p) end
      local param = { name = p.value }
      if self:accept(":") then self:expr() end
      if self:accept("=") then param.default = self:expr() end
      params[#params + 1] = param
    end
    if not self:accept(",") then break end
  end
  self:expect(")")
  if self:accept("->") then self:expr() end
  self:expect(":")
  local body = self:block()
  return { k = "def", name = nt.value, params = params, body = body, line = line,
           unsupported = unsupported, last = self:last_line() }
end

function Parser:if_stmt()
  local line = self:next().line
  local branches = {}
  local cond = self:expr()
  self:expect(":")
  branches[1] = { cond = cond, body = self:block() }
  local else_body
  while true do
    if self:is("elif", "name") then
      self:next()
      local c = self:expr()
      self:expect(":")
      branches[#branches + 1] = { cond = c, body = self:block() }
    elseif self:is("else", "name") then
      self:next()
      self:expect(":")
      else_body = self:block()
      break
    else
      break
    end
  end
  return { k = "if", branches = branches, else_body = else_body, line = line }
end

function Parser:with_stmt()
  local start = self.i
  local line = self:next().line
  local items = {}
  repeat
    local e = self:expr()
    local alias
    if self:accept("as", "name") then
      local a = self:next()
      if a.type ~= "name" then self.i = start; return self:unsupported_stmt("a with statement", true) end
      alias = a.value
    end
    items[#items + 1] = { e = e, alias = alias }
  until not self:accept(",")
  self:expect(":")
  local body = self:block()
  return { k = "with", items = items, body = body, line = line }
end

function Parser:for_stmt()
  local start = self.i
  local line = self:next().line
  local targets = {}
  repeat
    local t = self:next()
    if t.type ~= "name" then
      self.i = start
      return self:unsupported_stmt("a for loop over a pattern", true)
    end
    targets[#targets + 1] = t.value
  until not self:accept(",")
  self:expect("in", "name")
  local iter = self:exprlist(function(p) return p:is(":") end)
  self:expect(":")
  local body = self:block()
  if self:is("else", "name") then
    self:next(); self:expect(":"); self:block()
    return { k = "todo", what = "a for ... else", line = line, last = self:last_line() }
  end
  return { k = "for", targets = targets, iter = iter, body = body, line = line }
end

local function parse(src, name)
  local toks, comments = tokenize(src, name)
  local p = setmetatable({ toks = toks, i = 1, name = name, depth = 0 }, Parser)
  local stmts = {}
  while p:peek().type ~= "eof" do
    if p:peek().type == "newline" or p:peek().type == "dedent" then
      p:next()
    else
      for _, s in ipairs(p:statement()) do stmts[#stmts + 1] = s end
    end
  end
  return stmts, comments
end

--------------------------------------------------------------------------------------------
-- Emitter: syntax tree to Lua
--------------------------------------------------------------------------------------------

local Emitter = {}
Emitter.__index = Emitter

-- What a Python name stands for: "sa" (sqlalchemy), "sa:X" (a name of it), "op", "context",
-- "pg" (the postgresql dialect module), "pg:X", "sa.dialects" ...
local known_modules = {
  ["sqlalchemy"] = "sa", ["sqlalchemy.sql"] = "sa", ["sqlalchemy.sql.expression"] = "sa",
  ["sqlalchemy.schema"] = "sa", ["sqlalchemy.types"] = "sa", ["sqlalchemy.sql.sqltypes"] = "sa",
  ["sqlalchemy.sql.functions"] = "sa.func", ["sqlalchemy.dialects.postgresql"] = "pg",
  ["sqlalchemy.dialects.sqlite"] = "sa",
}

-- Databases luamig does not run on: their branches of a dialect test are kept as comments.
local other_dialects = { mysql = true, mariadb = true, mssql = true, oracle = true }

-- Modules that only serve Python's type annotations: their imports are dropped.
local ignored_modules = { typing = true, __future__ = true, ["typing_extensions"] = true,
                          ["collections.abc"] = true }

function Emitter:todo(line, what)
  self.todos[#self.todos + 1] = { line = line, what = one_line(what) }
end

function Emitter:line(text)
  self.out[#self.out + 1] = string.rep("  ", self.indent) .. text
end

-- Writes every comment that stands before line as `--` lines.
function Emitter:comments_before(line)
  while self.ci <= #self.comments and self.comments[self.ci].line < line do
    self:line(comment(self.comments[self.ci].text))
    self.ci = self.ci + 1
  end
end

-- Trailing comments of a statement that ends on line last.
function Emitter:comments_through(last)
  local first = true
  while self.ci <= #self.comments and self.comments[self.ci].line <= last do
    local c = self.comments[self.ci]
    if first and not c.own and #self.out > 0 then
      self.out[#self.out] = self.out[#self.out] .. " " .. comment(c.text)
    else
      self:line(comment(c.text))
    end
    first = false
    self.ci = self.ci + 1
  end
end

-- Keeps the source lines first..last as comments under a TODO marker.
function Emitter:keep_source(first, last, what)
  self:todo(first, what)
  self:line("-- luamig convert: TODO " .. one_line(what))
  for l = first, last do self:line("-- " .. one_line(self.lines[l] or "")) end
  -- the comments of those lines are in the kept text already
  while self.ci <= #self.comments and self.comments[self.ci].line <= last do self.ci = self.ci + 1 end
end

-- An expression the emitter cannot write: raises so that the statement is kept as a TODO.
local function unsupported(what)
  error(setmetatable({ what = what }, Unsupported), 0)
end

function Emitter:str_literal(node)
  local s = {}
  local dynamic = false
  for _, t in ipairs(node.parts) do
    if t.fstring then dynamic = true end
  end
  if not dynamic then
    for _, t in ipairs(node.parts) do s[#s + 1] = t.value end
    return M.quote(table.concat(s)), true
  end
  local pieces = {}
  for _, t in ipairs(node.parts) do
    if t.fstring then
      for _, p in ipairs(self:fstring_pieces(t)) do pieces[#pieces + 1] = p end
    else
      pieces[#pieces + 1] = M.quote(t.value)
    end
  end
  return "(" .. table.concat(pieces, " .. ") .. ")", true
end

-- An f-string as pieces to concatenate: literal parts quoted, each {expr} as tostring(expr).
function Emitter:fstring_pieces(t)
  local body = t.value  -- escapes already decoded; braces are still Python's
  -- Python finds the fields in the text as written, before its escapes are decoded: a brace
  -- written as an escape (\x7b) is text there, never a field
  local _, written = t.raw_body:gsub("[{}]", "")
  local _, decoded = body:gsub("[{}]", "")
  if written ~= decoded then unsupported("an f-string with a brace written as an escape") end
  local pieces = {}
  local i, lit = 1, {}
  while i <= #body do
    local c = body:sub(i, i)
    if c == "{" and body:sub(i + 1, i + 1) == "{" then lit[#lit + 1] = "{"; i = i + 2
    elseif c == "}" and body:sub(i + 1, i + 1) == "}" then lit[#lit + 1] = "}"; i = i + 2
    elseif c == "{" then
      local level, j = 1, i + 1
      while j <= #body and level > 0 do
        local d = body:sub(j, j)
        if d == "{" then level = level + 1 elseif d == "}" then level = level - 1 end
        j = j + 1
      end
      if level > 0 then unsupported("an f-string with an unbalanced '{'") end
      local inner = body:sub(i + 1, j - 2)
      if inner:find("[!:]") and not inner:find("[!=<>]=") then
        unsupported("an f-string conversion or format spec")
      end
      if inner:match("=%s*$") then unsupported("an f-string '=' specifier") end
      if #lit > 0 then pieces[#pieces + 1] = M.quote(table.concat(lit)); lit = {} end
      pieces[#pieces + 1] = "tostring(" .. self:sub_expr(inner, t.line) .. ")"
      i = j
    elseif c == "}" then
      unsupported("an f-string with a single '}'")
    else
      lit[#lit + 1] = c; i = i + 1
    end
  end
  if #lit > 0 or #pieces == 0 then pieces[#pieces + 1] = M.quote(table.concat(lit)) end
  return pieces
end

-- An expression given as source text (inside an f-string or .format field).
function Emitter:sub_expr(text, line)
  local ok, toks = pcall(tokenize, text .. "\n", self.name)
  if not ok then unsupported("an f-string expression") end
  for _, tk in ipairs(toks) do if tk.line then tk.line = line end end
  local p = setmetatable({ toks = toks, i = 1, name = self.name, depth = 0 }, Parser)
  local ok2, e = pcall(p.expr, p)
  if not ok2 or p:peek().type ~= "newline" then unsupported("an f-string expression") end
  return self:expr(e)
end

-- str.format(...) with a literal template: {} / {0} / {name} fields, no format specs.
function Emitter:format_call(template, call)
  local pieces, lit = {}, {}
  local auto = 0
  local i = 1
  while i <= #template do
    local c = template:sub(i, i)
    if c == "{" and template:sub(i + 1, i + 1) == "{" then lit[#lit + 1] = "{"; i = i + 2
    elseif c == "}" and template:sub(i + 1, i + 1) == "}" then lit[#lit + 1] = "}"; i = i + 2
    elseif c == "{" then
      local j = template:find("}", i, true)
      if not j then unsupported("a format string with an unbalanced '{'") end
      local field = template:sub(i + 1, j - 1)
      local arg
      if field == "" then
        auto = auto + 1
        arg = call.args[auto]
      elseif field:match("^%d+$") then
        arg = call.args[tonumber(field) + 1]
      elseif field:match("^[%a_][%w_]*$") then
        for _, kw in ipairs(call.kwargs) do if kw.name == field then arg = kw.e end end
      else
        unsupported("a format field '{" .. field .. "}'")
      end
      if not arg then unsupported("a format field without its argument") end
      if #lit > 0 then pieces[#pieces + 1] = M.quote(table.concat(lit)); lit = {} end
      pieces[#pieces + 1] = "tostring(" .. self:expr(arg) .. ")"
      i = j + 1
    else
      lit[#lit + 1] = c; i = i + 1
    end
  end
  if #lit > 0 or #pieces == 0 then pieces[#pieces + 1] = M.quote(table.concat(lit)) end
  return "(" .. table.concat(pieces, " .. ") .. ")"
end

-- The dotted form of an attribute chain of names ("op.get_context"), or nil.
local function dotted(e)
  if e.k == "name" then return e.name end
  if e.k == "attr" then
    local b = dotted(e.e)
    if b then return b .. "." .. e.name end
  end
end

-- Whether e is a Python str for sure: a literal, a concatenation or formatting of one, str(),
-- .format() and .join() on a literal, or a variable whose innermost assignment is one of
-- those (scopes: the emitter's, where such a variable is marked "string").
-- Calls whose result is true or false: a truth test of one reads the same in Lua.
local boolean_calls = { isinstance = true, hasattr = true, callable = true, bool = true }
local boolean_methods = { startswith = true, endswith = true, is_offline_mode = true,
                          has_table = true, has_index = true, has_sequence = true,
                          has_schema = true, isdigit = true, isalpha = true, isalnum = true,
                          isupper = true, islower = true, isspace = true }
local comparisons = { ["=="] = true, ["!="] = true, ["<"] = true, [">"] = true, ["<="] = true,
                      [">="] = true }

-- Whether Python and Lua read e's truth alike: it is a comparison, a membership test, True,
-- False or None, a call known to give a boolean, a variable last given one, or these joined
-- by and/or/not. Anything else may be an empty string, 0 or an empty list, which Python
-- reads as false and Lua as true.
-- (d: how deep in e the walk is. Past the depth the emitter writes (Emitter:expr) the answer is
-- no: such an expression is a TODO anyway, and each level of a long chain would walk the rest.)
local function is_boolean(e, scopes, d)
  d = (d or 0) + 1
  if d > MAX_EXPR_DEPTH then return false end
  local k = e.k
  if k == "const" or k == "in" then return true end
  if k == "paren" or k == "not" then return is_boolean(e.e, scopes, d) end
  if k == "bin" then
    if comparisons[e.op] then return true end
    if e.op == "and" or e.op == "or" then return is_boolean(e.a, scopes, d) and is_boolean(e.b, scopes, d) end
    return false
  end
  if k == "call" then
    if e.f.k == "name" then return boolean_calls[e.f.name] == true end
    return e.f.k == "attr" and boolean_methods[e.f.name] == true
  end
  if k == "name" and scopes then
    for j = #scopes, 1, -1 do
      local v = scopes[j][e.name]
      if v then return v == "boolean" end
    end
  end
  return false
end

local function is_string(e, scopes, d)
  d = (d or 0) + 1
  if d > MAX_EXPR_DEPTH then return false end   -- (as is_boolean's d)
  if e.k == "name" and scopes then
    for j = #scopes, 1, -1 do
      local v = scopes[j][e.name]
      if v then return v == "string" end
    end
    return false
  end
  if e.k == "call" then
    if dotted(e.f) == "str" then return true end
    if e.f.k == "attr" and (e.f.name == "upper" or e.f.name == "lower" or e.f.name == "strip") and #e.args == 0 then
      return true
    end
    return e.f.k == "attr" and (e.f.name == "format" or e.f.name == "join") and e.f.e.k == "str"
  end
  return e.k == "str" or (e.k == "bin" and e.op == "+" and (is_string(e.a, scopes, d) or is_string(e.b, scopes, d)))
    or (e.k == "paren" and is_string(e.e, scopes, d))
    or (e.k == "bin" and e.op == "%" and is_string(e.a, scopes, d))
end

-- Member `name` of the Lua module value `base`, as an imported name refers to it:
-- sqlalchemy's true and false are sa.true_ and sa.false_ (as module_path has them); another
-- Lua keyword, or a name Lua cannot spell, is base["name"].
local function member(base, name)
  if base == "sa" and (name == "true" or name == "false") then return "sa." .. name .. "_" end
  if lua_keywords[name] or not name:match("^[%a_][%w_]*$") then
    return base .. "[" .. M.quote(name) .. "]"
  end
  return base .. "." .. name
end

-- Where a Python name points: the Lua expression for it.
function Emitter:name_ref(n)
  for j = #self.scopes, 1, -1 do
    if self.scopes[j][n] then return lua_name(n) end
  end
  local b = self.bindings[n]
  if b then return b end
  if b == false then unsupported("a use of " .. n .. ", which is not translated") end
  if n == "op" or n == "sa" then return n end
  if self.toplevel[n] then return lua_name(n) end
  if n == "print" then return "print" end
  unsupported("Python's " .. n)
end

function Emitter:uses_postgresql()
  self.need_pg = true
  return "postgresql"
end

-- A dotted reference rewritten to luamig's modules: sqlalchemy.X / sa.sql.X -> sa.X,
-- sa.dialects.postgresql.X / postgresql.X -> postgresql.X.
function Emitter:module_path(path)
  local head, rest = path:match("^([^.]+)%.?(.*)$")
  for j = #self.scopes, 1, -1 do
    if self.scopes[j][head] then return nil end
  end
  local base = self.bindings[head]
  if base == false then unsupported("a use of " .. head .. ", which is not translated") end
  if base == nil and (head == "op" or head == "sa" or head == "context") then base = head end
  if base == nil then return nil end
  local full = rest ~= "" and (base .. "." .. rest) or base
  full = full:gsub("^sa%.sql%.expression%.", "sa."):gsub("^sa%.sql%.", "sa."):gsub("^sa%.schema%.", "sa.")
             :gsub("^sa%.types%.", "sa."):gsub("^sa%.expression%.", "sa.")
  if full:match("^sa%.dialects%.postgresql") then
    full = full:gsub("^sa%.dialects%.postgresql", "postgresql")
  elseif full:match("^sa%.dialects%.sqlite%.") then
    full = full:gsub("^sa%.dialects%.sqlite%.", "sa.")
  elseif full:match("^sa%.dialects") then
    unsupported("a dialect other than postgresql and sqlite (" .. path .. ")")
  end
  if full:match("^postgresql") then self:uses_postgresql() end
  -- sqlalchemy's true()/false() are sa.true_/sa.false_; other Lua keywords become ["name"]
  full = full:gsub("^sa%.true$", "sa.true_"):gsub("^sa%.false$", "sa.false_")
  local segs = {}
  for seg in full:gmatch("[^.]+") do
    if #segs > 0 and (lua_keywords[seg] or not seg:match("^[%a_][%w_]*$")) then segs[#segs] = segs[#segs] .. "[" .. M.quote(seg) .. "]"
    else segs[#segs + 1] = seg end
  end
  full = table.concat(segs, ".")
  if full == "op.get_bind.dialect.name" then return nil end
  return full
end

-- Python's str methods that have a plain Lua form: n arguments, f(obj, arg) -> Lua.
local string_methods = {
  startswith = { n = 1, f = function(o, a) return "(" .. o .. ":sub(1, #" .. a .. ") == " .. a .. ")" end },
  endswith = { n = 1, f = function(o, a) return "(" .. a .. " == \"\" or " .. o .. ":sub(-#" .. a .. ") == " .. a .. ")" end },
  lower = { n = 0, f = function(o) return o .. ":lower()" end },
  upper = { n = 0, f = function(o) return o .. ":upper()" end },
  strip = { n = 0, f = function(o) return "(" .. o .. ":match(\"^%s*(.-)%s*$\"))" end },
}

local function is_bind_call(e)
  return e.k == "call" and #e.args == 0 and (dotted(e.f) == "op.get_bind" or dotted(e.f) == "op.get_context")
end

function Emitter:call(e)
  local fname = dotted(e.f)
  -- sa.Text().with_variant(MEDIUMTEXT, "mysql"): a variant for a database luamig does not run
  -- on is left out
  if e.f.k == "attr" and e.f.name == "with_variant" and #e.args == 2 and #e.kwargs == 0 then
    local d = e.args[2]
    if d.k == "str" and #d.parts == 1 and not d.parts[1].fstring and other_dialects[d.parts[1].value] then
      return self:expr_prec(e.f.e)
    end
  end
  -- "...".format(...)
  if e.f.k == "attr" and e.f.name == "format" and e.f.e.k == "str" then
    for _, t in ipairs(e.f.e.parts) do if t.fstring then unsupported("format() on an f-string") end end
    local s = {}
    for _, t in ipairs(e.f.e.parts) do s[#s + 1] = t.value end
    return self:format_call(table.concat(s), e)
  end
  if e.f.k == "attr" and e.f.name == "join" and e.f.e.k == "str" and #e.args == 1 and #e.kwargs == 0 then
    return "table.concat(" .. self:expr(e.args[1]) .. ", " .. self:expr(e.f.e) .. ")"
  end
  if fname == "str" and #e.args == 1 and #e.kwargs == 0 then return "tostring(" .. self:expr(e.args[1]) .. ")" end
  if fname == "len" and #e.args == 1 and #e.kwargs == 0 then return "#" .. self:expr_prec(e.args[1]) end
  if fname == "int" and #e.args == 1 and #e.kwargs == 0 then
    return "math.tointeger(tonumber(" .. self:expr(e.args[1]) .. "))"
  end
  local callee
  if e.f.k == "attr" then
    local path = fname and self:module_path(fname)
    if path then
      callee = path
    elseif e.f.name == "execute" and (is_bind_call(e.f.e) or (e.f.e.k == "name" and self.binds[e.f.e.name])) then
      -- conn.execute(sql) on op.get_bind(): op.execute runs the same statement (strings, sa.text, DML)
      callee = "op.execute"
    elseif e.f.name == "engine" or (e.f.e.k == "attr" and e.f.e.name == "engine") then
      unsupported("the engine of a connection")
    elseif string_methods[e.f.name] and #e.kwargs == 0 and #e.args == string_methods[e.f.name].n then
      local obj = self:expr_prec(e.f.e)
      local a = e.args[1] and self:expr_prec(e.args[1])
      return string_methods[e.f.name].f(obj, a)
    else
      local obj = self:expr_prec(e.f.e)
      local method = e.f.name
      if e.f.e.k == "name" and self.batch_ops[e.f.e.name] then
        callee = obj .. "." .. method
      elseif method:match("^[%a_][%w_]*$") and not lua_keywords[method] then
        callee = obj .. ":" .. method
      else
        unsupported("a call of method '" .. method .. "'")
      end
    end
  else
    callee = self:expr_prec(e.f)
  end
  local args = {}
  for i, a in ipairs(e.args) do
    if a.k == "star" then
      if i ~= #e.args then unsupported("*args before other arguments") end
      args[#args + 1] = "table.unpack(" .. self:expr(a.e) .. ")"
    else
      args[#args + 1] = self:expr(a)
    end
  end
  if #e.kwargs > 0 then
    local kv = {}
    -- alter_column's server_default: Python's False is Alembic's "leave it as it is" (the
    -- argument left out), None drops the default (luamig's false)
    local alter = callee:match("%.alter_column$")
    for _, kw in ipairs(e.kwargs) do
      if kw.star then unsupported("**kwargs in a call") end
      local const = kw.e.k == "const" and kw.e.v
      if alter and kw.name == "server_default" and const == "false" then
        -- left out
      elseif alter and kw.name == "server_default" and const == "nil" then
        kv[#kv + 1] = "server_default = false"
      else
        kv[#kv + 1] = key(kw.name) .. " = " .. self:expr(kw.e)
      end
    end
    if #kv == 0 then kv = nil end
    if kv and #args > 0 and args[#args]:match("^table%.unpack") then unsupported("*args with keyword arguments") end
    if kv then args[#args + 1] = "{ " .. table.concat(kv, ", ") .. " }" end
  end
  if e.trailing_fn then args[#args + 1] = e.trailing_fn end
  local flat = callee .. "(" .. table.concat(args, ", ") .. ")"
  if callee:match("^op%.") and #args > 1 and #flat + 2 * self.indent > 100 and not e.trailing_fn then
    -- as Alembic's autogenerate writes create_table: one argument a line
    local pad = "\n" .. string.rep("  ", self.indent + 1)
    return callee .. "(" .. pad .. table.concat(args, "," .. pad) .. "\n" .. string.rep("  ", self.indent) .. ")"
  end
  return flat
end

local column_methods = { ["=="] = "eq", ["!="] = "ne", ["<"] = "lt", ["<="] = "le", [">"] = "gt", [">="] = "ge" }

-- t.c.name: a column of an sa.table() (or of a Table), whose comparisons build SQL
local function is_column(e)
  return e.k == "attr" and e.e.k == "attr" and e.e.name == "c"
end

local lua_binops = { ["+"] = "+", ["-"] = "-", ["*"] = "*", ["/"] = "/", ["//"] = "//", ["%"] = "%",
                     ["**"] = "^", ["=="] = "==", ["!="] = "~=", ["<"] = "<", [">"] = ">",
                     ["<="] = "<=", [">="] = ">=", ["and"] = "and", ["or"] = "or" }

-- An expression wrapped in parentheses unless it is a simple primary.
function Emitter:expr_prec(e)
  local s = self:expr(e)
  if e.k == "name" or e.k == "attr" or e.k == "call" or e.k == "index" or e.k == "paren"
      or e.k == "const" or e.k == "dict" or e.k == "list" or e.k == "tuple"
      or (e.k == "number" and not s:match("^%-")) or (e.k == "str" and s:sub(1, 1) == '"') then
    return s
  end
  return "(" .. s .. ")"
end

-- e as a truth test: the expression, when Python and Lua read its truth alike (is_boolean);
-- otherwise the statement is a TODO.
function Emitter:truth(e)
  if not is_boolean(e, self.scopes) then
    unsupported("a truth test of a value that may be an empty string, 0 or an empty list "
      .. "(false in Python, true in Lua)")
  end
  return self:expr(e)
end

function Emitter:expr(e)
  self.edepth = (self.edepth or 0) + 1
  if self.edepth > MAX_EXPR_DEPTH then unsupported("an expression nested too deeply") end
  local r = self:expr1(e)
  self.edepth = self.edepth - 1
  return r
end

function Emitter:expr1(e)
  local k = e.k
  if k == "const" then return e.v end
  if k == "number" then
    local t = e.text:gsub("_", "")
    if t:match("^0[oO]") then return tostring(tonumber(t:sub(3), 8)) end
    if t:match("^0[bB]") then return tostring(tonumber(t:sub(3), 2)) end
    if t:match("^0[xX]") then return t end
    if t:match("^%.") then t = "0" .. t end
    if t:match("%.$") then t = t .. "0" end
    if not tonumber(t) then unsupported("the number " .. e.text) end
    return t
  end
  if k == "str" then return (self:str_literal(e)) end
  if k == "name" then return self:name_ref(e.name) end
  if k == "attr" then
    local path = dotted(e)
    if path then
      if path:match("%.dialect%.name$") then
        local base = path:gsub("%.dialect%.name$", "")
        if base == "op.get_bind" or base == "context" or self.binds[base] then
          return "op.get_context().dialect.name"
        end
      end
      -- a connection's engine is named after its dialect: `bind.engine.name == "mysql"`
      local engine_of = path:match("^(.-)%.engine%.name$")
      if engine_of == "op.get_bind" or (engine_of and self.binds[engine_of]) then
        return "op.get_context().dialect.name"
      end
      local m = self:module_path(path)
      if m then return m end
    end
    if e.name == "dialect" and is_bind_call(e.e) then return "op.get_context().dialect" end
    if e.name == "engine" then unsupported("the engine of a connection") end
    if e.e.k == "attr" and e.e.name == "dialect" and e.name == "name" and is_bind_call(e.e.e) then
      return "op.get_context().dialect.name"
    end
    local obj = self:expr_prec(e.e)
    if lua_keywords[e.name] or not e.name:match("^[%a_][%w_]*$") then
      return obj .. "[" .. M.quote(e.name) .. "]"
    end
    return obj .. "." .. e.name
  end
  if k == "call" then return self:call(e) end
  if k == "index" then
    local obj = self:expr_prec(e.e)
    local idx = e.idx
    if idx.k == "unsupported" then unsupported(idx.what) end
    if idx.k == "number" and idx.text:match("^%d+$") then
      return obj .. "[" .. (tonumber(idx.text) + 1) .. "]"
    end
    if idx.k == "unary" and idx.op == "-" and idx.e.k == "number" and idx.e.text:match("^%d+$") then
      return obj .. "[#" .. obj .. " + 1 - " .. idx.e.text .. "]"
    end
    if idx.k == "str" then return obj .. "[" .. self:expr(idx) .. "]" end
    unsupported("a subscript by a computed index")
  end
  if k == "paren" then return "(" .. self:expr(e.e) .. ")" end
  if k == "tuple" or k == "list" then
    if #e.items == 0 then return "{}" end
    local items = {}
    for _, it in ipairs(e.items) do
      if it.k == "star" then unsupported("*unpacking in a list") end
      items[#items + 1] = self:expr(it)
    end
    return "{ " .. table.concat(items, ", ") .. " }"
  end
  if k == "dict" then
    if #e.pairs == 0 then return "{}" end
    local items = {}
    for _, p in ipairs(e.pairs) do
      if p.unsupported then unsupported("**unpacking in a dict") end
      items[#items + 1] = "[" .. self:expr(p.k) .. "] = " .. self:expr(p.v)
    end
    return "{ " .. table.concat(items, ", ") .. " }"
  end
  if k == "not" then
    self:truth(e.e)
    return "not " .. self:expr_prec(e.e)
  end
  if k == "unary" then
    if e.op == "~" then unsupported("the ~ operator") end
    if e.op == "+" then return self:expr(e.e) end
    return "-" .. self:expr_prec(e.e)
  end
  if k == "bin" then
    if e.op == "%" and is_string(e.a, self.scopes) then
      local args
      if e.b.k == "tuple" then
        args = {}
        for _, it in ipairs(e.b.items) do args[#args + 1] = self:expr(it) end
      elseif e.b.k == "dict" then
        unsupported("%-formatting with a dict")
      else
        args = { self:expr(e.b) }
      end
      return "string.format(" .. self:expr(e.a) .. (#args > 0 and ", " or "") .. table.concat(args, ", ") .. ")"
    end
    if e.op == "+" and (is_string(e.a, self.scopes) or is_string(e.b, self.scopes)) then
      -- concatenation is associative: a chain needs no parentheses
      local function side(x)
        if x.k == "bin" and x.op == "+" and is_string(x, self.scopes) then return self:expr(x) end
        return self:expr_prec(x)
      end
      return side(e.a) .. " .. " .. side(e.b)
    end
    if column_methods[e.op] and is_column(e.a) then
      -- SQL expressions on sa.table() columns: Lua cannot overload ==, luamig.dml has methods
      local m = column_methods[e.op]
      if e.b.k == "const" and e.b.v == "nil" then
        if e.op == "==" then m = "is_" elseif e.op == "!=" then m = "isnot" end
      end
      return self:expr_prec(e.a) .. ":" .. m .. "(" .. self:expr(e.b) .. ")"
    end
    local o = lua_binops[e.op]
    if not o then unsupported("the " .. e.op .. " operator") end
    if o == "and" or o == "or" then self:truth(e.a) end
    return self:expr_prec(e.a) .. " " .. o .. " " .. self:expr_prec(e.b)
  end
  if k == "ifexp" then
    -- Python's a if c else b, exact even when a is false or nil
    return "(function() if " .. self:truth(e.cond) .. " then return " .. self:expr(e.a)
      .. " else return " .. self:expr(e.b) .. " end end)()"
  end
  if k == "in" then
    if e.b.k == "tuple" or e.b.k == "list" then
      if #e.b.items == 0 then return "false" end
      local a = self:expr_prec(e.a)
      -- the left operand is evaluated once, as in Python: a call is not made per item
      local simple = e.a.k == "name" or e.a.k == "const" or e.a.k == "number" or e.a.k == "str"
      local tests = {}
      for _, it in ipairs(e.b.items) do
        tests[#tests + 1] = (simple and a or "v") .. " == " .. self:expr_prec(it)
      end
      if not simple then
        return "(function(v) return " .. table.concat(tests, " or ") .. " end)(" .. self:expr(e.a) .. ")"
      end
      return "(" .. table.concat(tests, " or ") .. ")"
    end
    self:expr(e.b)  -- a container that is not translated says so first
    unsupported("'in' on a computed container")
  end
  if k == "star" then unsupported("*unpacking") end
  if k == "unsupported" then unsupported(e.what) end
  unsupported("an expression")
end

-- Statements ---------------------------------------------------------------------------

local FN = "\0function"  -- the key that marks a function's scope (no Python name has a NUL)

local header_names = { revision = true, down_revision = true, branch_labels = true, depends_on = true }

-- The scope of the current function (or of the file) that already holds name n, or nil.
-- Python's variables belong to the whole function; Lua's locals to a block: a name a
-- function assigns inside a nested block is declared once at the function's top (hoisted).
function Emitter:scope_of(n)
  for j = #self.scopes, 1, -1 do
    if self.scopes[j][n] then return self.scopes[j] end
    if self.scopes[j][FN] then return nil end
  end
  return nil
end

-- The names a function body assigns inside if/for/with blocks (its own, not nested defs').
local function nested_assignments(stmts, depth, out)
  for _, s in ipairs(stmts) do
    if s.k == "assign" and depth > 0 then
      for _, t in ipairs(s.targets) do
        for _, x in ipairs(t.k == "tuple" and t.items or { t }) do
          if x.k == "name" then out[x.name] = true end
        end
      end
    elseif s.k == "if" then
      for _, br in ipairs(s.branches) do nested_assignments(br.body, depth + 1, out) end
      if s.else_body then nested_assignments(s.else_body, depth + 1, out) end
    elseif s.k == "for" or s.k == "with" then
      nested_assignments(s.body, depth + 1, out)
    end
  end
  return out
end

-- A header value (revision, down_revision, branch_labels, depends_on) written as the header
-- scanner reads it: None, a string or a tuple or list of strings, each string plain. A string
-- that only an escape could write fails the file; any other value is written as an
-- expression, which the scanner refuses with its own message.
function Emitter:header_value(n, e, line)
  local function plain(x)
    if x.k ~= "str" then return nil end
    local text = {}
    for _, t in ipairs(x.parts) do
      if t.fstring then return nil end
      text[#text + 1] = t.value
    end
    local v = table.concat(text)
    local q = core.header_quote(v)   -- the rule `luamig revision` writes by (core/template.c)
    if not q then
      fail(self.name, line, string.format("%s value %s cannot be written in a revision header: it "
        .. "holds both quotes, a backslash or a line break", n, M.quote(v)))
    end
    return q
  end
  if e.k == "const" and e.v == "nil" then return "nil" end
  local one = plain(e)
  if one then return one end
  if e.k == "tuple" or e.k == "list" then
    local items = {}
    for i, x in ipairs(e.items) do
      items[i] = plain(x)
      if not items[i] then return self:expr(e) end
    end
    return #items == 0 and "{}" or "{ " .. table.concat(items, ", ") .. " }"
  end
  return self:expr(e)
end

function Emitter:assign(s, top)
  if #s.targets ~= 1 then unsupported("a chained assignment") end
  local target = s.targets[1]
  -- conn = op.get_bind(): the connection; its dialect and execute map onto op's
  if target.k == "name" and is_bind_call(s.value) then
    self.binds[target.name] = true
  end
  if target.k == "name" then
    local n = target.name
    if top and header_names[n] then
      self.header[n] = true
      return n .. " = " .. self:header_value(n, s.value, s.line or target.line)
    end
    local v = self:expr(s.value)
    if s.value.k == "tuple" and #s.value.items > 0 then v = v end
    local scope = self:scope_of(n) or self.scopes[#self.scopes]
    local known = scope[n] or self.bindings[n]
    scope[n] = is_string(s.value, self.scopes) and "string"
      or is_boolean(s.value, self.scopes) and "boolean" or true
    if known then return lua_name(n) .. " = " .. v end
    return "local " .. lua_name(n) .. " = " .. v
  end
  if target.k == "tuple" then
    local names = {}
    for _, t in ipairs(target.items) do
      if t.k ~= "name" then unsupported("an unpacking assignment") end
      names[#names + 1] = lua_name(t.name)
    end
    local values
    if s.value.k == "tuple" and #s.value.items == #names then
      local vs = {}
      for _, it in ipairs(s.value.items) do vs[#vs + 1] = self:expr(it) end
      values = table.concat(vs, ", ")
    else
      values = "table.unpack(" .. self:expr(s.value) .. ")"
    end
    local scope = self.scopes[#self.scopes]
    local fresh = false
    for _, t in ipairs(target.items) do if not self:scope_of(t.name) then fresh = true end end
    if fresh then
      for _, t in ipairs(target.items) do
        if self:scope_of(t.name) then unsupported("an unpacking assignment to names old and new") end
      end
    end
    for _, t in ipairs(target.items) do (self:scope_of(t.name) or scope)[t.name] = true end
    return (fresh and "local " or "") .. table.concat(names, ", ") .. " = " .. values
  end
  if target.k == "attr" or target.k == "index" then
    return self:expr(target) .. " = " .. self:expr(s.value)
  end
  unsupported("an assignment to this target")
end

function Emitter:import(s)
  -- what each imported name means in Lua; unknown modules are TODOs
  if s.k == "import" then
    for _, n in ipairs(s.names) do
      local m = known_modules[n.module] or (n.module == "alembic" and "alembic") or nil
      local bound = n.alias or n.module:match("^[^.]+")
      if n.module == "sqlalchemy" or (n.module:match("^sqlalchemy%.") and not n.alias) then
        self.bindings[bound] = "sa"
      elseif m == "pg" then
        self.bindings[bound] = self:uses_postgresql()
      elseif m then
        self.bindings[bound] = m
      elseif n.module == "alembic" then
        self.bindings[bound] = "alembic"
      elseif ignored_modules[n.module] then
        self.bindings[bound] = "nil"
      else
        self.bindings[bound] = false
        return false, "import " .. n.module
      end
    end
    return true
  end
  local mod = s.module
  local bad = {}
  for _, n in ipairs(s.names) do
    local bound = n.alias or n.name
    if ignored_modules[mod] then
      self.bindings[bound] = "nil"
    elseif n.name == "*" then
      bad[#bad + 1] = "*"
    elseif mod == "alembic" and n.name == "op" then
      self.bindings[bound] = "op"
    elseif mod == "alembic" and n.name == "context" then
      self.bindings[bound] = "op.get_context()"
    elseif mod == "sqlalchemy.dialects" and known_modules["sqlalchemy.dialects." .. n.name] == "pg" then
      self.bindings[bound] = self:uses_postgresql()
    elseif mod == "sqlalchemy.dialects" and other_dialects[n.name] then
      self.bindings[bound] = false  -- usable only in branches for that database
    elseif other_dialects[mod:match("^sqlalchemy%.dialects%.([%w_]+)$") or ""] then
      self.bindings[bound] = false  -- a MySQL type: usable only in that database's variants and branches
    elseif mod == "sqlalchemy.dialects" and known_modules["sqlalchemy.dialects." .. n.name] == "sa" then
      self.bindings[bound] = "sa"
    elseif (mod == "sqlalchemy" and (n.name == "sql" or n.name == "schema" or n.name == "types"))
        or (mod == "sqlalchemy.sql" and n.name == "expression") then
      self.bindings[bound] = "sa"
    elseif known_modules[mod] == "sa" then
      self.bindings[bound] = member("sa", n.name)
    elseif known_modules[mod] == "sa.func" then
      self.bindings[bound] = member("sa.func", n.name)
    elseif known_modules[mod] == "pg" then
      self.bindings[bound] = member(self:uses_postgresql(), n.name)
    else
      bad[#bad + 1] = n.name
    end
  end
  for _, n in ipairs(s.names) do
    if self.bindings[n.alias or n.name] == nil then self.bindings[n.alias or n.name] = false end
  end
  if #bad > 0 then return false, "from " .. mod .. " import " .. table.concat(bad, ", ") end
  return true
end

-- self.limit: the line of the statement after the one being written (its block's comments
-- end before it).
function Emitter:block(stmts, top)
  local outer = self.limit
  for i, s in ipairs(stmts) do
    if top and s.k == "def" then self:line("") end
    self.limit = stmts[i + 1] and stmts[i + 1].line or outer
    self:stmt(s, top)
  end
  self.limit = outer
end

-- Runs fn (which writes lines); when it raises Unsupported, the lines it wrote are dropped and
-- the source lines first..last are kept as a TODO instead.
function Emitter:guard(first, last, fn, stmt)
  local mark, ci, scopes_n = #self.out, self.ci, #self.scopes
  local saved_indent = self.indent
  local edepth, in_callback = self.edepth, self.in_callback
  local ok, err = pcall(fn)
  self.edepth, self.in_callback = edepth, in_callback
  if ok then return end
  if getmetatable(err) ~= Unsupported then error(err, 0) end
  for j = #self.out, mark + 1, -1 do self.out[j] = nil end
  self.ci = ci
  self.indent = saved_indent
  for j = #self.scopes, scopes_n + 1, -1 do self.scopes[j] = nil end
  -- a variable whose assignment was not translated: its later uses are not either
  if stmt and stmt.k == "assign" then
    for _, t in ipairs(stmt.targets) do
      local names = t.k == "tuple" and t.items or { t }
      for _, n in ipairs(names) do
        if n.k == "name" then self.bindings[n.name] = false end
      end
    end
  end
  self:keep_source(first, last, err.what)
end

function Emitter:span(s)
  return s.line, math.max(s.last or s.line, self:last_of(s))
end

-- The last source line of a statement (compound ones: their last body statement).
function Emitter:last_of(s)
  local last = s.last or s.line
  local function body_last(b)
    if b and #b > 0 then
      local l = self:last_of(b[#b])
      if l > last then last = l end
    end
  end
  if s.k == "if" then
    for _, br in ipairs(s.branches) do body_last(br.body) end
    body_last(s.else_body)
  elseif s.body then
    body_last(s.body)
  end
  return last
end

function Emitter:stmt(s, top)
  self:comments_before(s.line)
  local first, last = self:span(s)
  if s.k == "todo" then
    self:keep_source(first, last, s.what)
    return
  end
  self:guard(first, last, function() self:stmt1(s, top) end, s)
  if s.k ~= "def" and s.k ~= "if" and s.k ~= "with" and s.k ~= "for" then
    self:comments_through(last)
  end
end

function Emitter:stmt1(s, top)
  local k = s.k
  if k == "pass" then return end
  if k == "import" or k == "from" then
    local ok, what = self:import(s)
    if not ok then unsupported(what) end
    return
  end
  if k == "expr" then
    if s.e.k == "str" and (s.docstring_ok ~= false) then
      -- a docstring or a bare string: kept as a comment
      local text = {}
      for _, t in ipairs(s.e.parts) do text[#text + 1] = t.value end
      for l in (table.concat(text) .. "\n"):gmatch("(.-)\n") do self:line("-- " .. one_line(l)) end
      return
    end
    if s.e.k == "const" then return end
    if s.e.k ~= "call" then unsupported("an expression statement") end
    self:line(self:expr(s.e))
    return
  end
  if k == "assign" then self:line(self:assign(s, top)); return end
  if k == "return" then
    if (self.in_callback or 0) > 0 then
      unsupported("a return inside a with block (its body is a Lua function: the return would "
        .. "end only the block)")
    end
    if s.e then self:line("return " .. self:expr(s.e)) else self:line("do return end") end
    return
  end
  if k == "break" then self:line("break"); return end
  if k == "raise" then
    if not s.e then unsupported("a bare raise") end
    local e = s.e
    if e.k == "call" and #e.args <= 1 and #e.kwargs == 0 then
      self:line("error(" .. (e.args[1] and self:expr(e.args[1]) or M.quote(dotted(e.f) or "error")) .. ")")
    elseif e.k == "name" then
      self:line("error(" .. M.quote(e.name) .. ")")
    else
      unsupported("a raise statement")
    end
    return
  end
  if k == "def" then
    if s.unsupported then unsupported(s.unsupported) end
    local params = {}
    for _, p in ipairs(s.params) do params[#params + 1] = lua_name(p.name) end
    local scope = { [FN] = true }
    for _, p in ipairs(s.params) do scope[p.name] = true end
    local head
    if top then
      -- the revision's environment holds upgrade, downgrade and the helpers, in any order
      head = "function " .. lua_name(s.name) .. "(" .. table.concat(params, ", ") .. ")"
    else
      head = "local function " .. lua_name(s.name) .. "(" .. table.concat(params, ", ") .. ")"
      self.scopes[#self.scopes][s.name] = true
    end
    self:line(head)
    self.indent = self.indent + 1
    self.scopes[#self.scopes + 1] = scope
    for _, p in ipairs(s.params) do
      if p.default then
        self:line("if " .. lua_name(p.name) .. " == nil then " .. lua_name(p.name) .. " = "
                  .. self:expr(p.default) .. " end")
      end
    end
    local body = s.body
    if body[1] and body[1].k == "expr" and body[1].e.k == "str" then
      body[1].docstring_ok = true
    end
    local hoisted = {}
    for n in pairs(nested_assignments(body, 0, {})) do
      if not scope[n] then hoisted[#hoisted + 1] = n end
    end
    table.sort(hoisted)
    if #hoisted > 0 then
      local names = {}
      for _, n in ipairs(hoisted) do names[#names + 1] = lua_name(n); scope[n] = true end
      self:line("local " .. table.concat(names, ", "))
    end
    self:block(body, false)
    self:comments_through(self:last_of(s))
    self:body_comments(body)
    self.scopes[#self.scopes] = nil
    self.indent = self.indent - 1
    self:line("end")
    if top then self:line("") end
    return
  end
  if k == "if" then
    for i, br in ipairs(s.branches) do
      self:line((i == 1 and "if " or "elseif ") .. self:truth(br.cond) .. " then")
      local other = self:other_dialect(br.cond)
      if other then
        -- this branch runs on a database luamig does not support: kept as a note, never run
        self.indent = self.indent + 1
        self:line("-- luamig convert: only for " .. other .. ", which luamig does not run on:")
        local last = 0
        for _, b in ipairs(br.body) do last = math.max(last, self:last_of(b)) end
        for l = br.body[1].line, last do self:line("-- " .. (self.lines[l] or "")) end
        while self.ci <= #self.comments and self.comments[self.ci].line <= last do self.ci = self.ci + 1 end
        self.indent = self.indent - 1
      else
        self:nested(br.body)
      end
    end
    if s.else_body then
      self:line("else")
      self:nested(s.else_body)
    end
    self:line("end")
    return
  end
  if k == "with" then
    if #s.items ~= 1 then unsupported("a with statement of several items") end
    local item = s.items[1]
    local f = item.e.k == "call" and dotted(item.e.f)
    local batch = f and (self:module_path(f) == "op.batch_alter_table")
    if not batch then
      if f == "op.get_context.autocommit_block" or (item.e.k == "call" and item.e.f.k == "attr"
          and item.e.f.name == "autocommit_block" and is_bind_call(item.e.f.e)) then
        self:line("op.get_context().autocommit_block(function()")
        self.in_callback = (self.in_callback or 0) + 1
        self:nested(s.body)
        self.in_callback = self.in_callback - 1
        self:line("end)")
        return
      end
      unsupported("a with statement other than op.batch_alter_table")
    end
    local alias = item.alias or "batch_op"
    self.batch_ops[alias] = true
    local call = {}
    for kk, v in pairs(item.e) do call[kk] = v end
    call.trailing_fn = "function(" .. lua_name(alias) .. ")"
    local head = self:call(call)
    self:line(head:sub(1, -2))
    self.in_callback = (self.in_callback or 0) + 1
    self:nested(s.body, { [alias] = true })
    self.in_callback = self.in_callback - 1
    self:line("end)")
    return
  end
  if k == "for" then
    local iter = s.iter
    if iter.k == "call" and dotted(iter.f) == "range" and #iter.kwargs == 0 and #s.targets == 1 then
      local a, b, step
      if #iter.args == 1 then a, b = "0", self:expr_prec(iter.args[1]) .. " - 1"
      elseif #iter.args == 2 then a, b = self:expr(iter.args[1]), self:expr_prec(iter.args[2]) .. " - 1"
      else unsupported("range() with a step") end
      self:line("for " .. lua_name(s.targets[1]) .. " = " .. a .. ", " .. b .. (step or "") .. " do")
      self:nested(s.body, { [s.targets[1]] = true })
      self:line("end")
      return
    end
    if iter.k == "call" then unsupported("a for loop over a call's result") end
    local src = self:expr(iter)
    if #s.targets == 1 then
      self:line("for _, " .. lua_name(s.targets[1]) .. " in ipairs(" .. src .. ") do")
      self:nested(s.body, { [s.targets[1]] = true })
    else
      self:line("for _, item_ in ipairs(" .. src .. ") do")
      local names, vals, scope = {}, {}, {}
      for i, t in ipairs(s.targets) do
        names[#names + 1] = lua_name(t); vals[#vals + 1] = "item_[" .. i .. "]"; scope[t] = true
      end
      self.indent = self.indent + 1
      self:line("local " .. table.concat(names, ", ") .. " = " .. table.concat(vals, ", "))
      self.indent = self.indent - 1
      self:nested(s.body, scope)
    end
    self:line("end")
    return
  end
  unsupported("a statement")
end

-- The comment lines after a block's last statement that are indented as its body: they
-- belong inside it (Python's comments have no other tie to a block).
function Emitter:body_comments(body)
  if not body[1] then return end
  local first = self.lines[body[1].line] or ""
  local col = #first:match("^[ \t]*"):gsub("\t", "        ")
  while self.ci <= #self.comments do
    local c = self.comments[self.ci]
    if not c.own or (c.col or 0) < col or col == 0 or c.line >= self.limit then break end
    self:line(comment(c.text))
    self.ci = self.ci + 1
  end
end

-- The database an if's condition tests for, when luamig does not run on it
-- (`dialect.name == "mysql"`); else nil.
function Emitter:other_dialect(cond)
  if cond.k ~= "bin" or cond.op ~= "==" then return nil end
  local a, b = cond.a, cond.b
  if a.k == "str" then a, b = b, a end
  if b.k ~= "str" or #b.parts ~= 1 or b.parts[1].fstring then return nil end
  local path = dotted(a) or (a.k == "attr" and a.name == "name" and a.e.k == "attr" and a.e.name == "dialect" and "x.dialect.name")
  local engine_of = path and path:match("^(.-)%.engine%.name$")
  local of_bind = engine_of == "op.get_bind" or (engine_of and self.binds[engine_of])
  if not path or not (path:match("dialect%.name$") or of_bind) then return nil end
  if other_dialects[b.parts[1].value] then return b.parts[1].value end
  return nil
end

function Emitter:nested(body, scope)
  self.indent = self.indent + 1
  if self.indent > MAX_DEPTH then unsupported("blocks nested too deeply") end
  self.scopes[#self.scopes + 1] = scope or {}
  self:block(body, false)
  local last = 0
  for _, b in ipairs(body) do last = math.max(last, self:last_of(b)) end
  self:comments_through(last)
  self:body_comments(body)
  self.scopes[#self.scopes] = nil
  self.indent = self.indent - 1
end

--------------------------------------------------------------------------------------------
-- A whole file
--------------------------------------------------------------------------------------------

-- Converts the text of one Alembic revision file; name is used in messages.
function M.convert(src, name)
  if #src > MAX_BYTES then
    return nil, string.format("%s:1: file too large (%d bytes; at most %d)", name, #src, MAX_BYTES)
  end
  local bad = utf8.len(src)
  if not bad then
    local _, at = utf8.len(src)
    local line = 1
    for _ in src:sub(1, at - 1):gmatch("\n") do line = line + 1 end
    return nil, string.format("%s:%d: not UTF-8 text", name, line)
  end
  if src:find("\0", 1, true) then
    local at = src:find("\0", 1, true)
    local line = 1
    for _ in src:sub(1, at - 1):gmatch("\n") do line = line + 1 end
    return nil, string.format("%s:%d: a NUL byte in the source", name, line)
  end
  src = src:gsub("^\239\187\191", "")
  local ok, stmts, comments = pcall(parse, src, name)
  if not ok then
    if getmetatable(stmts) == Fail then return nil, stmts.msg end
    error(stmts, 0)
  end
  local lines = {}
  for l in (src:gsub("\r\n?", "\n") .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = l end
  local em = setmetatable({ out = {}, todos = {}, indent = 0, comments = comments, ci = 1, lines = lines,
                            name = name, bindings = {}, binds = {}, batch_ops = {}, scopes = { {} },
                            header = {}, need_pg = false, toplevel = {}, limit = math.huge }, Emitter)
  -- the names the file defines at the top, for the functions that use them before
  for _, s in ipairs(stmts) do
    if s.k == "def" then em.toplevel[s.name] = true end
    if s.k == "assign" then
      for _, t in ipairs(s.targets) do
        if t.k == "name" then em.toplevel[t.name] = true end
        if t.k == "tuple" then for _, x in ipairs(t.items) do if x.k == "name" then em.toplevel[x.name] = true end end end
      end
    end
  end
  -- the module docstring becomes the header comment, as luamig's revision template has it
  local docstring
  if stmts[1] and stmts[1].k == "expr" and stmts[1].e.k == "str" then
    local text = {}
    for _, t in ipairs(stmts[1].e.parts) do text[#text + 1] = t.value end
    -- (in a long comment a CR is harmless to Lua, but a NUL ends the text the header scanner
    -- reads: both are written as escapes, as every control character but tab and LF)
    docstring = table.concat(text):gsub("[\0\1-\8\11-\31\127]", one_line)
    em:comments_before(stmts[1].line)
    table.remove(stmts, 1)
  end
  local ok2, err = pcall(function()
    for i, s in ipairs(stmts) do
      if s.k == "expr" and s.e.k == "str" then s.docstring_ok = true end
      if s.k == "def" then em:line("") end
      em.limit = stmts[i + 1] and stmts[i + 1].line or math.huge
      em:stmt(s, true)
    end
    em:comments_before(math.huge)
  end)
  if not ok2 then
    if getmetatable(err) == Fail then return nil, err.msg end
    error(err, 0)
  end
  -- the header lines Alembic lets a file leave out, after down_revision as luamig writes them
  local at = #em.out
  for j, l in ipairs(em.out) do
    if l:match("^down_revision = ") then at = j; break end
  end
  for _, n in ipairs { "depends_on", "branch_labels" } do
    if not em.header[n] then table.insert(em.out, at + 1, n .. " = nil") end
  end
  local head = {}
  if docstring then
    local open, close = render.long_bracket(docstring)
    head[#head + 1] = "--" .. open .. " " .. docstring:gsub("^\n", "") .. (docstring:match("\n$") and "" or "\n") .. close
  end
  if em.need_pg then head[#head + 1] = 'local postgresql = require "luamig.dialects.postgresql"' end
  local body = table.concat(em.out, "\n"):gsub("\n\n\n+", "\n\n"):gsub("^\n+", ""):gsub("\n+$", "")
  local text = table.concat(head, "\n") .. (#head > 0 and "\n" or "") .. body .. "\n"
  table.sort(em.todos, function(a, b) return a.line < b.line end)
  return text, em.todos
end

--------------------------------------------------------------------------------------------
-- The command
--------------------------------------------------------------------------------------------

local function read_file(path)
  -- a FIFO would make the open wait, a device or a folder has no size to check
  if core.is_regular(path) == false then return nil, "not a regular file" end
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local size = f:seek("end")
  if size and size > MAX_BYTES then
    f:close()
    return nil, string.format("file too large (%d bytes; at most %d)", size, MAX_BYTES)
  end
  f:seek("set", 0)
  local data = f:read("a")
  f:close()
  return data or ""
end

local function write_file(path, text)
  -- a link to nothing would be followed, and its target made wherever it points
  if core.exists(path) and core.is_regular(path) == nil then
    return nil, "a link to nothing; not written through"
  end
  local f, err = io.open(path, "wb")
  if not f then return nil, err end
  local ok, werr = f:write(text)
  local cok, cerr = f:close()
  if not ok then return nil, werr end
  if not cok then return nil, cerr end
  return true
end

-- A write error as one line that names `path` once (io.open's messages name it already).
local function naming(path, err)
  err = tostring(err)
  if err:sub(1, #path + 1) == path .. ":" then return err end
  return path .. ": " .. err
end

local function dirname(p) return p:match("^(.*)/[^/]*$") or "." end
local function basename(p) return p:match("([^/]*)$") end

-- script_location as luamig.ini should say it, relative to the ini's folder when below it.
local function location_for(ini_dir, dir)
  -- (a '%' of the path is written '%%', as luamig.ini reads it back)
  if dir:sub(1, #ini_dir + 1) == ini_dir .. "/" then
    return "%(here)s/" .. dir:sub(#ini_dir + 2):gsub("%%", "%%%%")
  end
  if dir == ini_dir then return "%(here)s" end
  return (dir:gsub("%%", "%%%%"))
end

-- The luamig.ini that takes over alembic's version table.
local function ini_text(location, url)
  local tmpl = core.file("templates/generic/luamig.ini.tmpl") or "[luamig]\nscript_location = ${script_location}\nurl = sqlite:///app.db\n"
  local text = tmpl:gsub("%${script_location}", function() return location end)
  url = (url or ""):gsub("^(%w+)%+[%w_]+://", "%1://")
  if url:find("[\r\n]") then
    -- a value over several lines would write lines of its own into luamig.ini
    io.stderr:write("luamig convert: alembic.ini's sqlalchemy.url runs over several lines; "
      .. "luamig.ini's url is left empty: set it there\n")
    url = ""
  end
  local note = "# converted from alembic.ini by luamig convert: the database's alembic_version table\n"
               .. "# stays the version table, so the applied revisions carry over\n"
  text = text:gsub("\nurl = [^\n]*\n", function()
    return "\nurl = " .. url:gsub("%%", "%%%%") .. "\n\n" .. note .. "version_table = alembic_version\n"
  end, 1)
  return text
end

-- Converts one input file: { path =, dest =, text =, todos = } or { path =, err = }. The
-- text is compiled (not run) first: what Lua would refuse is an error here, not a revision
-- that breaks every later command.
local function convert_one(path, dest_dir)
  local src, rerr
  if path:match("%.py$") then
    src, rerr = read_file(path)
  else
    rerr = "not an Alembic revision file (.py); nothing written"
  end
  if not src then return { path = path, err = path .. ":1: " .. tostring(rerr) } end
  local pok, text, todos = pcall(M.convert, src, path)
  if not pok then
    return { path = path, err = string.format("%s:1: luamig convert: internal error: %s", path,
                                              one_line(tostring(text))) }
  end
  if not text then return { path = path, err = todos } end
  if not (("\n" .. text):find("\nrevision = ")) then
    return { path = path, err = path .. ":1: no revision = ... line: not an Alembic revision "
      .. "file; nothing written" }
  end
  local dest = (dest_dir or dirname(path)) .. "/" .. basename(path):gsub("%.py$", "") .. ".lua"
  local chunk, cerr = load(text, "=" .. dest, "t")
  if not chunk then
    return { path = path, err = string.format("%s:1: the converted text would not compile "
      .. "(nothing written): %s", path, one_line(tostring(cerr))) }
  end
  return { path = path, dest = dest, text = text, todos = todos }
end

-- Makes folder `dir` (and its parents); false, with "<dir>: cannot create <what> (<why>)" on
-- stderr, when it cannot.
local function make_folder(dir, what)
  local ok, err = core.mkdir_p(dir)
  if ok then return true end
  io.stderr:write(string.format("%s: cannot create %s (%s)\n", dir, what, one_line(tostring(err))))
  return false
end

function M.main(cmd)
  local status = 0
  local files = cmd.files or {}
  local out_dir = cmd.output
  local ini_dir, loc_dir, versions_out
  if cmd.ini then
    -- -o DIR: DIR/luamig.ini and DIR/migrations/{env.lua, versions/}; else beside alembic's
    ini_dir = out_dir or dirname(cmd.ini)
    loc_dir = out_dir and (out_dir .. "/migrations") or cmd.script_location
    versions_out = out_dir and (loc_dir .. "/versions") or nil
  end
  -- every file converted before anything is written
  local results, by_dest = {}, {}
  for i, path in ipairs(files) do
    local r = convert_one(path, versions_out or out_dir)
    if r.dest then
      local first = by_dest[r.dest]
      if first then
        r = { path = path, err = string.format("%s:1: converts to %s, as %s does; neither is "
          .. "written", path, r.dest, first.path) }
        first.err = string.format("%s:1: converts to %s, as %s does; neither is written",
          first.path, first.dest, path)
      else
        by_dest[r.dest] = r
      end
    end
    results[i] = r
  end
  local nfailed = 0
  for _, r in ipairs(results) do
    if r.err then nfailed = nfailed + 1 end
  end
  local failed = nfailed > 0
  if cmd.ini then
    -- a project is converted whole or not at all: half a history would run as if whole
    if failed then
      for _, r in ipairs(results) do
        if r.err then io.stderr:write(r.err, "\n") end
      end
      io.stderr:write("luamig convert: nothing written (the files above could not be converted)\n")
      return 1
    end
    local ini_path = ini_dir .. "/luamig.ini"
    if core.exists(ini_path) then
      io.stderr:write(ini_path .. ": already exists; not overwritten\n")
      return 1
    end
    -- -o DIR: DIR/luamig.ini, DIR/migrations/{env.lua, versions/}
    if versions_out and not make_folder(versions_out, "the folder") then return 1 end
    local ok, err = core.write_new(ini_path, ini_text(location_for(ini_dir, loc_dir), cmd.url),
                                   cmd.ini_private)
    if not ok then io.stderr:write(tostring(err) .. "\n"); return 1 end
    for _, f in ipairs { "env.lua", "script.lua.tmpl" } do
      local dest = loc_dir .. "/" .. f
      if not core.exists(dest) then   -- a link to nothing is not written through
        local text = core.file("templates/generic/" .. f)
        if text then
          local wok, werr = write_file(dest, text)
          if not wok then io.stderr:write(naming(dest, werr) .. "\n"); return 1 end
        end
      end
    end
    io.stdout:write("Generating " .. ini_path .. " ...  done\n")
  end
  -- -o DIR without --ini: made once a file is to be written in it
  if out_dir and not cmd.ini and nfailed < #results
      and not make_folder(out_dir, "the output folder") then
    for _, r in ipairs(results) do
      if r.err then io.stderr:write(r.err .. "\n") end
    end
    return 1
  end
  for _, r in ipairs(results) do
    if r.err then
      io.stderr:write(r.err .. "\n")
      status = 1
    else
      for _, t in ipairs(r.todos) do
        io.stderr:write(string.format("%s:%d: luamig convert: TODO %s\n", r.path, t.line, t.what))
        status = 1
      end
      local ok, werr = write_file(r.dest, r.text)
      if not ok then
        io.stderr:write(naming(r.dest, werr) .. "\n")
        status = 1
      else
        io.stdout:write("Generating " .. r.dest .. " ...  done\n")
      end
    end
  end
  return status
end

return M
