-- forward-auth as a proxy asks it: a portal session cookie and the original request of
-- an app whose rule is the last of 50 (bench.py's config). Args: the session cookie.
dofile("bench/lua/report.lua")
local cookie
function init(args)
  cookie = args[1]
end
function request()
  return wrk.format("GET", "/auth/forward", {
    ["Cookie"] = "latchkey_session=" .. cookie,
    ["X-Forwarded-Proto"] = "https",
    ["X-Forwarded-Host"] = "photos.bench.test",
    ["X-Forwarded-Uri"] = "/album/2024?page=3",
    ["X-Forwarded-Method"] = "GET",
  })
end
