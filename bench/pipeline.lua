-- wrk script for bench/run.
--   wrk ... -s bench/pipeline.lua URL -- DEPTH
-- DEPTH requests go out in one write and wrk waits for all DEPTH responses before
-- sending the next batch (default 16). DEPTH 1 is plain wrk: one request at a time.
-- wrk counts every response as a request, but records latency once per batch: from
-- the batch's write to its last response.
-- done() prints one line that bench/run parses.

function init(args)
   local depth = tonumber(args[1]) or 16
   if depth > 1 then
      local batch = string.rep(wrk.format(), depth)
      request = function() return batch end
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "wrk-summary requests=%d duration_us=%d errors=%d p50_us=%d p99_us=%d\n",
      summary.requests, summary.duration,
      e.connect + e.read + e.write + e.status + e.timeout,
      latency:percentile(50), latency:percentile(99)))
end
