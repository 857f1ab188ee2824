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
local paths_file = common.require_env("PATHS_FILE")
local expect = os.getenv("EXPECT")
if expect == nil or expect == "" then expect = '"success"%s*:%s*true' end

local headers = {
   ["Authorization"] = "Bearer " .. token,
   ["Accept"] = "application/json",
}
local reqs = {}
local pos = 0

function init(args)
   non200 = 0
   app_errors = 0
   local f, err = io.open(paths_file, "r")
   if not f then
      io.stderr:write("paylink bench: cannot open PATHS_FILE: " .. tostring(err) .. "\n")
      os.exit(2)
   end
   for line in f:lines() do
      local path = line:gsub("^%s+", ""):gsub("%s+$", "")
      if path ~= "" then table.insert(reqs, wrk.format("GET", path, headers, nil)) end
   end
   f:close()
   if #reqs == 0 then
      io.stderr:write("paylink bench: PATHS_FILE " .. paths_file .. " has no paths\n")
      os.exit(2)
   end
   pos = ((tid or 1) - 1) * 7919 % #reqs
end

function request()
   pos = pos % #reqs + 1
   return reqs[pos]
end

response = common.expect_body(expect)
