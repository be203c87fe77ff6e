-- Shared by every scenario: one machine-readable line at the end of a wrk run.
function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"rps":%.1f,"ok_rps":%.1f,"p50_ms":%.3f,"p99_ms":%.3f,"non2xx":%d,"socket_errors":%d}\n',
    summary.requests, summary.requests / secs, (summary.requests - e.status) / secs,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, e.status,
    e.connect + e.read + e.write + e.timeout))
end
