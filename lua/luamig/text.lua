--[[ luamig.text — blanks off the ends of a text, in time linear in its length.

  text.rstrip(s) -> s without its trailing blanks (%s); "" when s is all blanks
  text.strip(s)  -> s without its leading and trailing blanks

The obvious patterns are quadratic in a run of blanks inside s: gsub("%s+$", "") and
match("^%s*(.-)%s*$") scan the rest of the run from each of its characters for the end (50 s
for a run of 80,000), and match("^%s*(.*%S)") backtracks over every split of an all-blank s.
]]

local M = {}

function M.rstrip(s)
  return s:match("^(.*%S)") or ""
end

function M.strip(s)
  return M.rstrip((s:gsub("^%s+", "")))
end

return M
