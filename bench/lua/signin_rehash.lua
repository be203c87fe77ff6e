-- toolkit signInWithPassword of imported Firebase users, each once (its first sign-in:
-- Firebase's scrypt verified, then the password re-hashed with latchkey's scrypt).
dofile("bench/lua/report.lua")
local L = dofile("bench/lua/lines.lua")
setup = L.setup
local users, i, step
function init(args) users = L.read(args[1]); i = id; step = tonumber(args[2]) end
function request()
  local u = users[(i % #users) + 1]
  i = i + step
  return wrk.format("POST", "/api/auth/accounts:signInWithPassword", {["Content-Type"] = "application/json"},
    string.format('{"username":"%s","password":"user1password"}', u))
end
