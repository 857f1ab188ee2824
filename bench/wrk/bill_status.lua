-- wrk script: GET /api/v1/bill/status?id=<bill_id>, round-robin over ids.
--
-- Environment:
--   PAYLINK_TOKEN   API token "<digits>|<secret>"            (required)
--   BILL_IDS_FILE   file with one bill id per line           (required)
--
-- All requests are pre-formatted in init(); each thread starts at a
-- different offset in the id list so threads don't walk in lockstep.
-- Non-200 responses are counted and reported by done() (see common.lua).
--
-- Usage: wrk -t2 -c64 -d10s --latency -s bill_status.lua http://127.0.0.1:PORT

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

setup = common.setup
done = common.done

local token = common.require_env("PAYLINK_TOKEN")

local headers = {
   ["Authorization"] = "Bearer " .. token,
   ["Accept"] = "application/json",
}

common.round_robin("BILL_IDS_FILE", function(id)
   return wrk.format("GET", "/api/v1/bill/status?id=" .. common.urlencode(id), headers, nil)
end)

function response(status, hdrs, body)
   if status ~= 200 then
      common.note_bad(status, body)
   end
end
