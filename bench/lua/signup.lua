-- toolkit sign-up, a new user on every request.
dofile("bench/lua/report.lua")
local L = dofile("bench/lua/lines.lua")
setup = L.setup
local n = 0
function init(args) math.randomseed(os.time() + id * 7919) end
function request()
  n = n + 1
  local body = string.format('{"username":"s%d-%d-%d","password":"bench password signup","displayName":"S"}', id, n, math.random(1, 1e9))
  return wrk.format("POST", "/api/auth/accounts:signUp", {["Content-Type"] = "application/json"}, body)
end
