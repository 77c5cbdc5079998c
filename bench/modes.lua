-- wrk script for bench/modes: done() prints one line that bench/modes parses, with
-- wrk's errors by kind (status = responses that were not 2xx or 3xx).
--   wrk -t1 -c64 -d10s --latency -s bench/modes.lua URL
function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "wrk-summary requests=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d p50_us=%d p99_us=%d max_us=%d\n",
      summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(99), latency.max))
end
