-- wrk script: POST /sandbox/pay, a sandbox card payment on a MULTI bill, round-robin over ids.
-- Each request is the whole payment path: the charge, the payment row, the bill's new status
-- and the postback in the outbox, committed durably in one transaction.
--
-- Environment:
--   PAYLINK_TOKEN   API token "<digits>|<secret>"            (required)
--   BILL_IDS_FILE   file with one MULTI bill id per line     (required); a line may add its
--                   merchant's token after a space (payment_many: bills of many merchants)
--
-- A response that is not 200 with "status":"SUCCESS" is counted by done() (see common.lua).
--
-- Usage: wrk -t2 -c64 -d10s --latency -s payment.lua http://127.0.0.1:PORT

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

setup = common.setup
done = common.done

local token = common.require_env("PAYLINK_TOKEN")

common.round_robin("BILL_IDS_FILE", function(line)
   local id, own = line:match("^(%S+)%s+(%S+)$")
   return wrk.format("POST", "/sandbox/pay", {
      ["Authorization"] = "Bearer " .. (own or token),
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["Accept"] = "application/json",
   }, "bill_id=" .. (id or line) .. "&method=BANK_CARD&card_number=4242424242424242")
end)

response = common.expect_body('"status"%s*:%s*"SUCCESS"')
