-- oauth password grant, RFC 6749 form, client_secret_basic.
dofile("bench/lua/report.lua")
local L = dofile("bench/lua/lines.lua")
setup = L.setup
local users, i
function init(args) users = L.read(args[1]); i = id end
function request()
  i = i + 1
  local u = users[(i % #users) + 1]
  return wrk.format("POST", "/auth/token", {["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = "Basic d2ViOmNoYW5nZS1tZQ=="},
    "grant_type=password&username=" .. u .. "&password=bench+password+" .. u)
end
