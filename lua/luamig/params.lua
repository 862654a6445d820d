--[[ luamig.params — named parameters in SQL text (":name", SQLAlchemy's text() rule), bound
online and rendered as literals offline.

  params.bind(sql, params, placeholder [, literal]) -> sql, values
      rewrites each ":name" into the driver's placeholder ("?" in order, or "$n" once per name
      when placeholder == "$"), or, when `literal` (a function value -> SQL text) is given,
      into that literal; values = { n = count, ... } in placeholder order.  Raises "A value is
      required for bind parameter 'x'" for a name `params` lacks.
  params.bindable(v) -> v as a driver binds it: sa.null() is nil, an op.inline_literal() its
      value, anything else itself

  params.transaction_control(sql) -> the words of the first statement in sql that would end or
      open a transaction (COMMIT, END, ROLLBACK without TO, ABORT, BEGIN, START TRANSACTION,
      PREPARE TRANSACTION), or nil; quoted text, dollar-quoted bodies and comments are skipped

Depends on nothing: the migration context (luamig.migration) uses it for execute and query.
]]

local M = {}

-- Splits SQL text at its ":name" parameters (SQLAlchemy's text() rule: not
-- after a word character, a colon or a backslash, and not followed by a
-- colon). Quoted strings, quoted identifiers and comments are left alone;
-- "\:" is a literal colon. Returns { text, name, text, name, ..., text }.
-- Memoised: a run sends the same statements (the version table's) again
-- and again.
-- The index of the quote that closes the quoted text opening at i (quote
-- character q, doubled inside to stand for itself), or #sql + 1 when it is
-- never closed.
local function quoted_end(sql, i, q)
  local j, n = i + 1, #sql
  while j <= n do
    if sql:sub(j, j) == q then
      if sql:sub(j + 1, j + 1) ~= q then return j end
      j = j + 1
    end
    j = j + 1
  end
  return j
end

-- Each text's parts, kept while they are in use and until the next collection (weak values):
-- a run repeats its version-table statements, and `luamig test` of 10,000 revisions would
-- otherwise keep every revision's SQL to the end.
local parsed_sql = setmetatable({}, { __mode = "v" })
local function parse_named(sql)
  local cached = parsed_sql[sql]
  if cached then return cached end
  local parts, buf = {}, {}
  local i, n = 1, #sql
  while i <= n do
    local c = sql:sub(i, i)
    if c == "'" or c == '"' then
      local j = quoted_end(sql, i, c)
      buf[#buf + 1] = sql:sub(i, j)
      i = j + 1
    elseif c == "-" and sql:sub(i + 1, i + 1) == "-" then
      local j = sql:find("\n", i, true) or n
      buf[#buf + 1] = sql:sub(i, j)
      i = j + 1
    elseif c == "\\" and sql:sub(i + 1, i + 1) == ":" then
      buf[#buf + 1] = ":"
      i = i + 2
    elseif c == ":" then
      local prev = i > 1 and sql:sub(i - 1, i - 1) or ""
      local name = sql:match("^[%a_][%w_]*", i + 1)
      local after = name and sql:sub(i + 1 + #name, i + 1 + #name) or ""
      if name and not prev:match("[%w_:]") and after ~= ":" then
        parts[#parts + 1] = table.concat(buf)
        parts[#parts + 1] = name
        buf = {}
        i = i + 1 + #name
      else
        buf[#buf + 1] = c
        i = i + 1
      end
    else
      local j = sql:find("['\"%-\\:]", i + 1) or (n + 1)
      buf[#buf + 1] = sql:sub(i, j - 1)
      i = j
    end
  end
  parts[#parts + 1] = table.concat(buf)
  parsed_sql[sql] = parts
  return parts
end

-- Rewrites ":name" parameters into the driver's placeholders ("?" in
-- order, or "$n" once per name), or into literals when `literal` is
-- given. Returns the new SQL and the ordered parameter list.
function M.bind(sql, params, placeholder, literal)
  local parts = parse_named(sql)
  if #parts == 1 then return sql, { n = 0 } end
  local out, values, index = { parts[1] }, { n = 0 }, {}
  for k = 2, #parts, 2 do
    local name = parts[k]
    if params == nil or params[name] == nil then
      error(string.format("A value is required for bind parameter '%s'", name), 0)
    end
    local v = params[name]
    if literal then
      out[#out + 1] = literal(v)
    elseif placeholder == "$" then
      if not index[name] then
        values.n = values.n + 1
        values[values.n] = v
        index[name] = values.n
      end
      out[#out + 1] = "$" .. index[name]
    else
      values.n = values.n + 1
      values[values.n] = v
      out[#out + 1] = "?"
    end
    out[#out + 1] = parts[k + 1]
  end
  return table.concat(out), values
end

-- Values the drivers bind: nil, booleans, numbers, strings. Objects with a
-- `value` field (inline literals, sa.null()) are unwrapped.
function M.bindable(v)
  if type(v) == "table" then
    if v.kind == "null" then return nil end
    if v.value ~= nil then return v.value end
  end
  return v
end

-- The statement-opening words that end (or nest) the transaction a migration runs in.
local ENDS = { COMMIT = true, ["END"] = true, ROLLBACK = true, ABORT = true, BEGIN = true,
  START = "TRANSACTION", PREPARE = "TRANSACTION" }

-- Finds the first statement of sql (statements split at ";" outside quotes, dollar quotes and
-- comments) whose first words end or open a transaction. Bounded: one pass over the text.
local ENDS_LIST = {}
for w in pairs(ENDS) do ENDS_LIST[#ENDS_LIST + 1] = w end

function M.transaction_control(sql)
  -- A single statement (no ";" anywhere) that opens with a word is decided by that word: the
  -- usual case, every statement luamig compiles, answered without copying the text.
  if not sql:find(";", 1, true) then
    local first = sql:match("^%s*([%a_][%w_]*)")
    if first and not ENDS[first:upper()] then return nil end
  end
  -- most statements hold none of the words at all: a few searches in C instead of the scan
  local upper = sql:upper()
  local any = false
  for _, w in ipairs(ENDS_LIST) do
    if upper:find(w, 1, true) then
      any = true
      break
    end
  end
  if not any then return nil end
  local i, n = 1, #sql
  local at_start = true
  -- CREATE TRIGGER ... BEGIN ...; END (SQLite) and BEGIN ATOMIC ...; END (PostgreSQL): the
  -- ";" inside such a block and its END belong to the CREATE statement
  local creating, blocks = false, 0
  while i <= n do
    local c = sql:sub(i, i)
    if c:match("%s") then
      i = i + 1
    elseif c == "-" and sql:sub(i + 1, i + 1) == "-" then
      i = (sql:find("\n", i, true) or n) + 1
    elseif c == "/" and sql:sub(i + 1, i + 1) == "*" then
      local e = sql:find("*/", i + 2, true)
      i = e and e + 2 or n + 1
    elseif c == ";" then
      at_start, i = true, i + 1
    elseif c == "'" or c == '"' or c == "`" then
      at_start, i = false, quoted_end(sql, i, c) + 1
    elseif c == "$" and sql:match("^%$[%a_]?[%w_]*%$", i) then
      local tag = sql:match("^%$[%a_]?[%w_]*%$", i)
      local e = sql:find(tag, i + #tag, true)
      at_start, i = false, e and e + #tag or n + 1
    else
      local word = sql:match("^[%a_][%w_]*", i)
      if not word then
        at_start, i = false, i + 1
      else
        local up = word:upper()
        if at_start and blocks > 0 and up == "END" then
          blocks = blocks - 1
        elseif at_start then
          creating = up == "CREATE"
          local need = ENDS[up]
          local nxt = sql:match("^%s*([%a_][%w_]*)", i + #word)
          nxt = nxt and nxt:upper()
          if need == true and not (up == "ROLLBACK" and nxt == "TO")
              and not (up == "END" and nxt ~= nil and nxt ~= "TRANSACTION" and nxt ~= "WORK") then
            return up .. ((nxt == "TRANSACTION" or nxt == "WORK") and (" " .. nxt) or "")
          elseif need and nxt == need then
            return up .. " " .. nxt
          end
        elseif creating and up == "BEGIN" then
          blocks = blocks + 1
        end
        at_start, i = false, i + #word
      end
    end
  end
  return nil
end

return M
