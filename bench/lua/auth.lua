-- GET /users/me. args[2] = "same": one token per thread, reused; "distinct": a different
-- token on every request (cycling through the prepared list).
dofile("bench/lua/report.lua")
local L = dofile("bench/lua/lines.lua")
setup = L.setup
local tokens, mode, i
function init(args)
  tokens = L.read(args[1]); mode = args[2]; i = id * 7919
end
function request()
  local t
  if mode == "same" then t = tokens[(id % #tokens) + 1] else i = i + 1; t = tokens[(i % #tokens) + 1] end
  return wrk.format("GET", "/users/me", {["Authorization"] = "Bearer " .. t})
end
