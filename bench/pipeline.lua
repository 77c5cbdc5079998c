-- wrk script for bench/run.
--   WRK_DEPTH=16 wrk ... -s bench/pipeline.lua URL
-- WRK_DEPTH requests go out in one write and wrk waits for all of their responses
-- before sending the next batch (default 1: plain wrk, one request at a time).
-- wrk counts every response as a request. done() prints one line that bench/run parses.
--
-- With batches, wrk's latency figures are wrong: its coordinated-omission correction
-- assumes one request per sample and adds samples below the real minimum, so its
-- percentiles come out as 0. bench/run takes the pipelined p99 from bench/batch_probe.py.

local depth = tonumber(os.getenv("WRK_DEPTH") or "") or 1

if depth > 1 then
   init = function(args)
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
