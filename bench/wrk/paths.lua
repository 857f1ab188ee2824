-- wrk script: authenticated GETs of the paths in a file, round-robin (bench/size.sh's searches).
--
-- Environment:
--   PAYLINK_TOKEN   API token "<digits>|<secret>"                      (required)
--   PATHS_FILE      one path with its query per line, e.g.
--                   /api/v1/bill/search?order_id=ord-42                  (required)
--   EXPECT          Lua pattern a 200 body must match (default: "success":true)
--
-- Each thread starts at a different offset so threads don't walk in lockstep.
--
-- Usage: wrk -t2 -c4 -d10s --latency -s paths.lua http://127.0.0.1:PORT

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

setup = common.setup
done = common.done

local token = common.require_env("PAYLINK_TOKEN")
local expect = os.getenv("EXPECT")
if expect == nil or expect == "" then expect = '"success"%s*:%s*true' end

local headers = {
   ["Authorization"] = "Bearer " .. token,
   ["Accept"] = "application/json",
}

common.round_robin("PATHS_FILE", function(path)
   return wrk.format("GET", path, headers, nil)
end)

response = common.expect_body(expect)
