-- Helpers: read a file of lines; give each wrk thread its own id.
local M = {}
function M.read(path)
  local t = {}
  for l in io.lines(path) do if #l > 0 then t[#t + 1] = l end end
  return t
end
local counter = 0
function M.setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
return M
