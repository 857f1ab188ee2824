-- Shared helpers for the paylink wrk scripts.
--
-- Loaded by each endpoint script with dofile() relative to the script's own
-- path, so the scripts work whatever the current directory is.
--
-- Every script ends its run by printing exactly one machine-readable line:
--
--   PAYLINK_BENCH requests=N duration_us=N rps=F p50_us=N p90_us=N p99_us=N
--     max_us=N status_errors=N non200=N app_errors=N
--     connect_errors=N read_errors=N write_errors=N timeouts=N
--
-- (all on one line) which bench/run.sh parses. status_errors is wrk's own
-- count of HTTP statuses > 399; non200/app_errors are counted by the script's
-- response() hook (0 when the script has no such hook, e.g. health.lua).

local M = {}

-- Threads seen by setup(), so done() can collect per-thread counters.
M.threads = {}
local next_tid = 1

function M.setup(thread)
   thread:set("tid", next_tid)
   next_tid = next_tid + 1
   table.insert(M.threads, thread)
end

-- Percent-encode for application/x-www-form-urlencoded and query strings.
function M.urlencode(s)
   s = tostring(s)
   s = s:gsub("([^%w%-%._~])", function(c)
      return string.format("%%%02X", string.byte(c))
   end)
   return s
end

-- Sets the script's init() and request(): the requests `build` makes of the lines of the file
-- named by the environment variable `var` (each trimmed, blank ones skipped), sent round-robin.
-- Each thread starts at its own offset so threads don't walk in lockstep.
function M.round_robin(var, build)
   local file = M.require_env(var)
   local reqs = {}
   local pos = 0
   init = function(args)
      non200 = 0
      app_errors = 0
      local f, err = io.open(file, "r")
      if not f then
         io.stderr:write("paylink bench: cannot open " .. var .. ": " .. tostring(err) .. "\n")
         os.exit(2)
      end
      for line in f:lines() do
         line = line:gsub("^%s+", ""):gsub("%s+$", "")
         if line ~= "" then table.insert(reqs, build(line)) end
      end
      f:close()
      if #reqs == 0 then
         io.stderr:write("paylink bench: " .. var .. " " .. file .. " has no lines\n")
         os.exit(2)
      end
      pos = ((tid or 1) - 1) * 7919 % #reqs
   end
   request = function()
      pos = pos % #reqs + 1
      return reqs[pos]
   end
end

function M.require_env(name)
   local v = os.getenv(name)
   if v == nil or v == "" then
      io.stderr:write("paylink bench: environment variable " .. name .. " is not set\n")
      os.exit(2)
   end
   return v
end

local function sum_thread_global(name)
   local total = 0
   for _, thread in ipairs(M.threads) do
      local v = thread:get(name)
      if type(v) == "number" then
         total = total + v
      end
   end
   return total
end

function M.done(summary, latency, requests)
   local non200 = sum_thread_global("non200")
   local app_errors = sum_thread_global("app_errors")
   local e = summary.errors
   local secs = summary.duration / 1e6
   local rps = 0
   if secs > 0 then rps = summary.requests / secs end

   -- First bad statuses seen, per thread (for a readable error line).
   local samples = {}
   for _, thread in ipairs(M.threads) do
      local s = thread:get("first_bad")
      if type(s) == "string" and s ~= "" then table.insert(samples, s) end
   end

   if non200 > 0 or app_errors > 0 or e.status > 0 then
      io.write(string.format(
         "PAYLINK_BENCH_ERRORS: %d non-200 responses, %d 200s without success, %d statuses >399 (wrk)%s\n",
         non200, app_errors, e.status,
         (#samples > 0) and ("; first: " .. table.concat(samples, " | ")) or ""))
   end

   io.write(string.format(
      "PAYLINK_BENCH requests=%d duration_us=%d rps=%.2f p50_us=%d p90_us=%d p99_us=%d max_us=%d "
         .. "status_errors=%d non200=%d app_errors=%d "
         .. "connect_errors=%d read_errors=%d write_errors=%d timeouts=%d\n",
      summary.requests, summary.duration, rps,
      latency:percentile(50.0), latency:percentile(90.0), latency:percentile(99.0), latency.max,
      e.status, non200, app_errors,
      e.connect, e.read, e.write, e.timeout))
end

-- Record a bad response in the calling thread's globals (non200, first_bad).
function M.note_bad(status, body)
   non200 = (non200 or 0) + 1
   if first_bad == nil then
      local snippet = tostring(body or ""):gsub("%s+", " "):sub(1, 160)
      first_bad = tostring(status) .. " " .. snippet
   end
end

-- A response() hook: a 200 whose body matches `pattern` is good; another status is a bad
-- response (note_bad), a 200 without the pattern an application error (app_errors).
function M.expect_body(pattern)
   return function(status, hdrs, body)
      if status ~= 200 then
         M.note_bad(status, body)
      elseif not (body and body:find(pattern)) then
         app_errors = (app_errors or 0) + 1
         if first_bad == nil then
            first_bad = "200 " .. tostring(body or ""):gsub("%s+", " "):sub(1, 160)
         end
      end
   end
end

return M
