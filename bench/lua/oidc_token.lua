-- OpenID Connect code exchange (client_secret_basic): every code once, in the order the
-- authorization scenario made them (codes work for 60 s). A thread out of codes sends a
-- refusal, which shows in the non-2xx column. args: codes path, Basic credentials.
dofile("bench/lua/report.lua")
local L = dofile("bench/lua/lines.lua")
setup = L.setup
local codes, i, basic
function init(args)
  basic = "Basic " .. args[2]
  codes = {}
  local f = io.open(args[1] .. "-" .. id, "r")
  if f then
    for l in f:lines() do if #l > 0 then codes[#codes + 1] = l end end
    f:close()
  end
  i = 0
end
function request()
  i = i + 1
  local c = codes[i] or "none"
  return wrk.format("POST", "/oidc/token", {["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = basic},
    "grant_type=authorization_code&code=" .. c .. "&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb")
end
