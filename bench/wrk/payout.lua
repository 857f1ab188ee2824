-- wrk script: POST /api/v1/payout/regular/create, an SBP payout of PAYOUT_AMOUNT RUB, with the
-- API tokens of TOKENS_FILE in turn: one token is one hot merchant balance, many tokens spread
-- the payouts over many merchants. Each request locks amount + commission on the merchant's
-- balance (a guarded update), counts it towards the limits, and commits the payout and its
-- ledger entry durably; the money worker then sends and settles every payout meanwhile.
--
-- Environment:
--   TOKENS_FILE     file with one API token per line       (required)
--   PAYOUT_AMOUNT   decimal RUB                             (default 10)
--
-- A response that is not 200 with "success":true is counted by done() (see common.lua).

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

setup = common.setup
done = common.done

local amount = os.getenv("PAYOUT_AMOUNT") or "10"
local body = "amount=" .. amount .. "&currency=RUB&account_type=sbp"
   .. "&account_identifier=%2B79991234567&account_bank=100000000111"

common.round_robin("TOKENS_FILE", function(token)
   return wrk.format("POST", "/api/v1/payout/regular/create", {
      ["Authorization"] = "Bearer " .. token,
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["Accept"] = "application/json",
   }, body)
end)

response = common.expect_body('"success"%s*:%s*true')
