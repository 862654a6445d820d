--[[
luamig.suggest - "did you mean ...?" for a name a user got wrong.

  suggest.closest(name, candidates) -> the candidate nearest to name, or nil
      candidates: a table whose string keys are the known names ("_"-prefixed ones are
      private). Near means an edit distance (Levenshtein, case-insensitive) of at most 2
      (1 for names of 3 or 4 letters, 0 below); ties go to the one nearer in case, then to
      the alphabetically first, so the answer never depends on table order. Else the one
      candidate that starts with name (or that name starts with), if only one does.
  suggest.strict(t, unknown) -> t
      Gives t a metatable whose __index raises, at the caller's line, unknown(name) ..
      "; did you mean X?" when X is close, for a missing string key, as Python raises
      AttributeError. luamig's own modules probe optional fields of such a table with rawget.
]]

local M = {}

local function distance(a, b, limit)
  local la, lb = #a, #b
  if math.abs(la - lb) > limit then return limit + 1 end
  local prev = {}
  for j = 0, lb do prev[j] = j end
  for i = 1, la do
    local cur = { [0] = i }
    local best = i
    local ca = a:byte(i)
    for j = 1, lb do
      local cost = ca == b:byte(j) and 0 or 1
      local v = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
      cur[j] = v
      if v < best then best = v end
    end
    if best > limit then return limit + 1 end
    prev = cur
  end
  return prev[lb]
end

function M.closest(name, candidates)
  if type(name) ~= "string" or name == "" then return nil end
  local lname = name:lower()
  local limit = #name <= 2 and 0 or (#name <= 4 and 1 or 2)
  local best, best_d, prefixed, nprefixed = nil, nil, nil, 0
  for cand in pairs(candidates) do
    if type(cand) == "string" and cand:sub(1, 1) ~= "_" then
      local lc = cand:lower()
      local d = distance(lname, lc, limit)
      if d <= limit then
        -- the same letters in the same case first: sa.Intger is Integer, not INTEGER
        d = d + distance(name, cand, 99) / 100
        if not best or d < best_d or (d == best_d and cand < best) then best, best_d = cand, d end
      end
      if math.min(#lname, #lc) >= 4 and (lc:sub(1, #lname) == lname or lname:sub(1, #lc) == lc) then
        prefixed, nprefixed = cand, nprefixed + 1
      end
    end
  end
  -- a prefix only when it is the one: op.bulk for op.bulk_insert, not op.create
  return best or (nprefixed == 1 and prefixed or nil)
end

function M.strict(t, unknown)
  return setmetatable(t, {
    __index = function(self, name)
      if type(name) ~= "string" then return nil end
      local msg = unknown(name)
      local near = M.closest(name, self)
      if near then msg = msg .. "; did you mean " .. near .. "?" end
      error(msg, 2)
    end,
  })
end

return M
