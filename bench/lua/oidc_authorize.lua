-- OpenID Connect authorization of a signed-in browser: each request gets a code (302 to
-- the client); each thread writes the codes it got to <args[2]>-<thread id> for the
-- exchange scenario (oidc_token.lua). args: session cookie, codes path, client id.
dofile("bench/lua/report.lua")
local L = dofile("bench/lua/lines.lua")
setup = L.setup
local session, out, path
function init(args)
  session = args[1]
  out = io.open(args[2] .. "-" .. id, "w")
  path = "/oidc/authorize?response_type=code&client_id=" .. args[3] ..
    "&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&scope=openid%20email&state=s"
end
function request()
  return wrk.format("GET", path, {["Cookie"] = "latchkey_session=" .. session})
end
function response(status, headers, body)
  local loc = headers["Location"] or headers["location"]
  local code = loc and loc:match("[?&]code=([^&]+)")
  if code then out:write(code, "\n"); out:flush() end
end
