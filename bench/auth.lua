-- wrk script for the /auth benchmark: every request carries the bearer token of an agent picked
-- at random from the token file (one token per line, path in $FINCH_BENCH_TOKENS), plus the
-- headers Traefik's ForwardAuth sends for a Loki push. The same script drives Finch and the
-- trivial responder, so both parse identical requests.
--
-- With $FINCH_BENCH_INTERVAL_MS set, each connection waits that long on average between a
-- response and its next request (wrk's delay(), in whole milliseconds, so the fractions are
-- carried over): a paced run at a fixed fraction of the maximum rate.
--
-- bench/run-traefik reuses it for pushes through Traefik: $FINCH_BENCH_METHOD (default GET) is
-- the method, $FINCH_BENCH_HOST (if set) the Host header that picks Traefik's router, and
-- $FINCH_BENCH_FORWARDED=0 leaves out the X-Forwarded-* headers (Traefik sets its own), and
-- $FINCH_BENCH_BODY_BYTES (default 0) gives each request a body of that many bytes.
--
-- $FINCH_BENCH_CLOSE=1 adds `Connection: close` to every request, so each request pays for a new
-- connection (wrk reconnects after every answer): what a ForwardAuth check costs when Traefik
-- opens a connection for it.
--
-- All requests are formatted up front (one per token), so wrk spends its CPU on I/O, not on Lua
-- string building. At the end the aggregated results are printed as one `BENCH_JSON {...}` line.

local path = os.getenv("FINCH_BENCH_TOKENS")
local method = os.getenv("FINCH_BENCH_METHOD") or "GET"
local host = os.getenv("FINCH_BENCH_HOST")
local forwarded = os.getenv("FINCH_BENCH_FORWARDED") ~= "0"
local body_bytes = tonumber(os.getenv("FINCH_BENCH_BODY_BYTES") or "") or 0
local close = os.getenv("FINCH_BENCH_CLOSE") == "1"
local body = nil
if body_bytes > 0 then
    body = string.rep("x", body_bytes)
end
local requests = {}

local function headers_for(token)
    local h = { ["Authorization"] = "Bearer " .. token }
    if close then
        h["Connection"] = "close"
    end
    if host and #host > 0 then
        h["Host"] = host
    end
    if forwarded then
        h["X-Forwarded-Method"] = "POST"
        h["X-Forwarded-Proto"] = "https"
        h["X-Forwarded-Host"] = "finch.example"
        h["X-Forwarded-Uri"] = "/loki/api/v1/push"
        h["X-Forwarded-For"] = "127.0.0.1"
    end
    return h
end

local function load_requests()
    local f = assert(io.open(path, "r"), "cannot open token file " .. tostring(path))
    for line in f:lines() do
        if #line > 0 then
            requests[#requests + 1] = wrk.format(method, nil, headers_for(line), body)
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
