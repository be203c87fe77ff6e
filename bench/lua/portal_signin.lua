-- Portal password sign-in: the login form (csrf field and pre-login cookie, made once by
-- bench.py), answered 303 with a session cookie.
dofile("bench/lua/report.lua")
local L = dofile("bench/lua/lines.lua")
setup = L.setup
local users, cookie, csrf, i
function init(args)
  users = L.read(args[1]); cookie = args[2]; csrf = args[3]; i = id
end
function request()
  i = i + 1
  local u = users[(i % #users) + 1]
  return wrk.format("POST", "/ui/login", {["Content-Type"] = "application/x-www-form-urlencoded",
    ["Cookie"] = "latchkey_csrf=" .. cookie},
    "csrf=" .. csrf .. "&username=" .. u .. "&password=bench+password+" .. u)
end
