-- wrk: each write carries 16 pipelined GET /hello; wrk counts 16 requests per batch.
local depth = tonumber(os.getenv("PIPELINE_DEPTH") or "16")
init = function(args)
  local r = {}
  for i = 1, depth do r[i] = wrk.format("GET", "/hello") end
  batch = table.concat(r)
end
request = function() return batch end
