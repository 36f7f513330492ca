-- wrk script for the /auth benchmark: every request carries the bearer token of an agent picked
-- at random from the token file (one token per line, path in $FINCH_BENCH_TOKENS), plus the
-- headers Traefik's ForwardAuth sends for a Loki push. The same script drives Finch and the
-- trivial responder, so both parse identical requests.
--
-- With $FINCH_BENCH_INTERVAL_MS set, each connection waits that long on average between a
-- response and its next request (wrk's delay(), in whole milliseconds, so the fractions are
-- carried over): a paced run at a fixed fraction of the maximum rate.
--
-- All requests are formatted up front (one per token), so wrk spends its CPU on I/O, not on Lua
-- string building. At the end the aggregated results are printed as one `BENCH_JSON {...}` line.

local path = os.getenv("FINCH_BENCH_TOKENS")
local requests = {}

local function load_requests()
    local f = assert(io.open(path, "r"), "cannot open token file " .. tostring(path))
    for line in f:lines() do
        if #line > 0 then
            requests[#requests + 1] = wrk.format("GET", nil, {
                ["Authorization"] = "Bearer " .. line,
                ["X-Forwarded-Method"] = "POST",
                ["X-Forwarded-Proto"] = "https",
                ["X-Forwarded-Host"] = "finch.example",
                ["X-Forwarded-Uri"] = "/loki/api/v1/push",
                ["X-Forwarded-For"] = "127.0.0.1",
            })
        end
    end
    f:close()
    assert(#requests > 0, "token file " .. path .. " is empty")
end

local counter = 0
local interval_ms = tonumber(os.getenv("FINCH_BENCH_INTERVAL_MS") or "")
local carried = 0

function setup(thread)
    counter = counter + 1
    thread:set("thread_id", counter) -- a global in the thread's Lua state
end

function init(args)
    load_requests()
    math.randomseed(1000 + (thread_id or 0))
end

function request()
    return requests[math.random(#requests)]
end

if interval_ms and interval_ms > 0 then
    function delay()
        carried = carried + interval_ms
        local whole = math.floor(carried)
        carried = carried - whole
        return whole
    end
end

function done(summary, latency, requests_)
    local e = summary.errors
    io.write(string.format(
        'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
        '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
        '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d}}\n',
        summary.requests, summary.duration, summary.bytes,
        e.connect, e.read, e.write, e.status, e.timeout,
        latency.mean, latency:percentile(50), latency:percentile(90),
        latency:percentile(99), latency:percentile(99.9), latency.max))
end
