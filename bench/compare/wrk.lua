-- wrk script for bench/compare/run.sh. With WRK_BODY set to a file, every request is a POST of
-- that file. done() prints one line that run.sh parses: counts, errors and latency
-- percentiles in microseconds. Read errors are apart: wrk counts one at the end of every
-- response whose end is the connection closing (Python's and busybox's CGI answers).
local body = os.getenv("WRK_BODY")
if body and body ~= "" then
  local f = assert(io.open(body, "rb"))
  wrk.method = "POST"
  wrk.body = f:read("*a")
  f:close()
  wrk.headers["Content-Type"] = "application/octet-stream"
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKRESULT requests=%d duration_us=%d errors=%d read_errors=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration,
    e.connect + e.write + e.status + e.timeout, e.read,
    latency:percentile(50), latency:percentile(99)))
end
