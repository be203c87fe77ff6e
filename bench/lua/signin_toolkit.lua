-- toolkit signInWithPassword, cycling over the prepared users.
dofile("bench/lua/report.lua")
local L = dofile("bench/lua/lines.lua")
setup = L.setup
local users, i
function init(args) users = L.read(args[1]); i = id end
function request()
  i = i + 1
  local u = users[(i % #users) + 1]
  return wrk.format("POST", "/api/auth/accounts:signInWithPassword", {["Content-Type"] = "application/json"},
    string.format('{"username":"%s","password":"bench password %s"}', u, u))
end
