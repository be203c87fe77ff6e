-- Refresh rotation. A thread keeps a queue of refresh tokens (several families per
-- connection); a family's next token goes back into the queue only when its answer
-- arrives, so no family ever has two rotations in flight (no reuse, no revocation).
dofile("bench/lua/report.lua")
local L = dofile("bench/lua/lines.lua")
setup = L.setup
local queue, head, tail
function init(args)
  local all = L.read(args[1])
  local threads = tonumber(args[2])
  queue, head, tail = {}, 1, 0
  for k = 1, #all do
    if (k - 1) % threads == id then tail = tail + 1; queue[tail] = all[k] end
  end
end
function request()
  local t = queue[head]
  if t == nil then
    -- Every family of this thread is in flight: send a refusal that shows in the
    -- non-2xx column rather than pass off another request as a rotation.
    return wrk.format("POST", "/auth/refresh-token", {["Content-Type"] = "application/json"},
      '{"refresh_token":"none"}')
  end
  queue[head] = nil
  head = head + 1
  return wrk.format("POST", "/auth/refresh-token", {["Content-Type"] = "application/json"},
    '{"refresh_token":"' .. t .. '"}')
end
function response(status, headers, body)
  local t = body:match('"refresh_token":"([^"]+)"')
  if t then tail = tail + 1; queue[tail] = t end
end
