-- Owns the request mix of bench/soak.sh: cache hits, uncached misses, ranges and streams, in fixed proportions.
-- Per 20 requests: 12 hits of hot 1 KiB objects, 4 misses (a bucket without cache), 3 ranges of the
-- 8 MiB object, 1 full 1 MiB stream. Deterministic: the counter decides, not a random draw.
local counter = 0
local hot = 16

request = function()
  counter = counter + 1
  local slot = counter % 20
  if slot < 12 then
    return wrk.format("GET", "/cached/hot-" .. (counter % hot) .. ".bin")
  elseif slot < 16 then
    return wrk.format("GET", "/direct/hot-" .. (counter % hot) .. ".bin")
  elseif slot < 19 then
    local start = (counter * 7919) % (8 * 1024 * 1024 - 65536)
    return wrk.format("GET", "/direct/big-8m.bin", { Range = "bytes=" .. start .. "-" .. (start + 65535) })
  else
    return wrk.format("GET", "/direct/stream-1m.bin")
  end
end

local errors = 0
response = function(status, headers, body)
  if status ~= 200 and status ~= 206 then errors = errors + 1 end
end

done = function(summary, latency, requests)
  io.write(string.format("soak: requests=%d non2xx=%d socket_errors=%d p99_ms=%.2f\n",
    summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(99) / 1000))
end
