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
local ids_file = common.require_env("BILL_IDS_FILE")

local function read_ids(file)
   local f, err = io.open(file, "r")
   if not f then
      io.stderr:write("paylink bench: cannot open BILL_IDS_FILE: " .. tostring(err) .. "\n")
      os.exit(2)
   end
   local ids = {}
   for line in f:lines() do
      local id = line:gsub("^%s+", ""):gsub("%s+$", "")
      if id ~= "" then table.insert(ids, id) end
   end
   f:close()
   if #ids == 0 then
      io.stderr:write("paylink bench: BILL_IDS_FILE " .. file .. " has no ids\n")
      os.exit(2)
   end
   return ids
end

local headers = {
   ["Authorization"] = "Bearer " .. token,
   ["Accept"] = "application/json",
}
local reqs = {}
local pos = 0

function init(args)
   non200 = 0
   app_errors = 0
   local ids = read_ids(ids_file)
   for i, id in ipairs(ids) do
      reqs[i] = wrk.format("GET", "/api/v1/bill/status?id=" .. common.urlencode(id), headers, nil)
   end
   -- Spread thread start positions across the list.
   pos = ((tid or 1) - 1) * 7919 % #reqs
end

function request()
   pos = pos % #reqs + 1
   return reqs[pos]
end

function response(status, hdrs, body)
   if status ~= 200 then
      common.note_bad(status, body)
   end
end
