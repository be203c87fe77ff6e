dofile("bench/lua/report.lua")
function request() return wrk.format("GET", "/healthz") end
