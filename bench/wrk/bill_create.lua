-- wrk script: POST /api/v1/bill/create (a durable, group-committed write).
--
-- Environment:
--   PAYLINK_TOKEN     API token "<digits>|<secret>"         (required)
--   PAYLINK_SHOP_ID   shop id of the token's merchant       (required)
--   BILL_AMOUNT       amount to bill                        (default 100.50)
--   ORDER_PREFIX      prefix making order ids unique across runs
--                     (default: "wrk" .. unix time)
--
-- order_id = <prefix>-t<thread>-<counter>, unique per request.
-- Non-200 responses, and 200 responses whose body lacks "success":"true",
-- are counted and reported by done() (see common.lua).
--
-- Usage: wrk -t2 -c64 -d10s --latency -s bill_create.lua http://127.0.0.1:PORT

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

setup = common.setup
done = common.done

local token = common.require_env("PAYLINK_TOKEN")
local shop_id = common.require_env("PAYLINK_SHOP_ID")
local amount = os.getenv("BILL_AMOUNT") or "100.50"
local prefix = os.getenv("ORDER_PREFIX") or ("wrk" .. os.time())

local path = "/api/v1/bill/create"
local headers = {
   ["Authorization"] = "Bearer " .. token,
   ["Content-Type"] = "application/x-www-form-urlencoded",
   ["Accept"] = "application/json",
}
local body_head = "amount=" .. common.urlencode(amount)
   .. "&shop_id=" .. common.urlencode(shop_id)
   .. "&order_id="
local order_head

function init(args)
   -- tid is set by setup() before init() runs.
   counter = 0
   non200 = 0
   app_errors = 0
   order_head = common.urlencode(prefix .. "-t" .. tostring(tid or 0) .. "-")
end

function request()
   counter = counter + 1
   return wrk.format("POST", path, headers, body_head .. order_head .. counter)
end

function response(status, hdrs, body)
   if status ~= 200 then
      common.note_bad(status, body)
   elseif not (body and body:find('"success"%s*:%s*"?true')) then
      app_errors = app_errors + 1
      if first_bad == nil then
         first_bad = "200 " .. tostring(body or ""):gsub("%s+", " "):sub(1, 160)
      end
   end
end
