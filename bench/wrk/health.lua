-- wrk script: GET /health, the "trivial endpoint" ceiling.
--
-- Deliberately defines no request()/response() hooks so wrk sends its
-- pre-built request and skips body parsing: this measures the server and
-- wrk at their cheapest. Errors come from wrk's own counters (statuses > 399
-- and socket errors); done() prints the PAYLINK_BENCH line (see common.lua).
--
-- Usage: wrk -t2 -c64 -d10s --latency -s health.lua http://127.0.0.1:PORT/health

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

setup = common.setup
done = common.done
