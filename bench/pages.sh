#!/usr/bin/env bash
# paylink web pages benchmark (issue 13: "pages answer in under 50 ms at p99 on 10^5 bills").
#
# For each backend in $BACKENDS: fresh database, `paylink serve` (release build), a merchant
# signed up through the web app (curl), $N_BILLS bills created through the API with wrk (order
# ids o-1 … o-$N_BILLS), the last $N_PAID of them paid in the sandbox (their postbacks delivered
# to a local receiver), then wrk on each signed-in page in $PAGES with the session cookie.
# Prints one Markdown table (also written to results/pages-latest.md).
#
# Exits non-zero if the server does not start or dies, the data can't be set up, or any run
# sees errors (non-200 answers, including redirects to the sign-in page, socket errors or
# timeouts). A p99 above $TARGET_P99_MS is flagged in the table, not an error.
#
# It reuses bench/run.sh's helpers (sourced; see bench/README.md). Quick start:
#   bash bench/pages.sh
#   BACKENDS=sqlite N_BILLS=10000 bash bench/pages.sh
set -euo pipefail

PAGES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# ---- knobs (those run.sh also has get this script's defaults first) -------------------
CONNECTIONS=${CONNECTIONS:-16}
WARMUP=${WARMUP:-2s}                  # "0" disables warm-up
N_BILLS=${N_BILLS:-100000}            # bills in the merchant's account
N_PAID=${N_PAID:-1000}                # of which the newest are paid (payments, postbacks)
FILL_CONNECTIONS=${FILL_CONNECTIONS:-32}  # wrk -c while creating the bills
FIND_ORDER=${FIND_ORDER:-}            # order id the /bills search looks for (default o-77777)
PAGES=${PAGES:-}                      # paths to measure (default: see below)
TARGET_P99_MS=${TARGET_P99_MS:-50}
CARD=${CARD:-4111111111111111}        # sandbox card: approved
CARGO_LOCK=${CARGO_LOCK:-/tmp/paylink-cargo.lock}  # builds share the machine; flock when present

# shellcheck source=bench/run.sh
source "$PAGES_DIR/run.sh"
ENDPOINTS=                            # run.sh's endpoint list: none of its runs here
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-60}

if [[ -z $FIND_ORDER ]]; then
    if ((N_BILLS >= 77777)); then FIND_ORDER=o-77777; else FIND_ORDER=o-$(((N_BILLS + 1) / 2)); fi
fi
if [[ -z $PAGES ]]; then
    PAGES="/dashboard /bills /bills?order_id=$FIND_ORDER /payments /postbacks /disputes /"
fi
((N_PAID <= N_BILLS)) || die "N_PAID ($N_PAID) must not exceed N_BILLS ($N_BILLS)"

PAGE_ROWS=()

# cargo, through the shared lock when there is one (other builds run on the same 2 cores).
locked_cargo() {
    if command -v flock >/dev/null 2>&1 && [[ -e $CARGO_LOCK ]]; then
        (cd "$REPO" && flock "$CARGO_LOCK" cargo "$@")
    else
        (cd "$REPO" && cargo "$@")
    fi
}

# Like run.sh's build_bin, through the lock; also the postback receiver.
pages_build() {
    if [[ -n ${PAYLINK_BIN:-} ]]; then
        log "using PAYLINK_BIN=$PAYLINK_BIN (no build)"
    else
        command -v cargo >/dev/null 2>&1 || die "cargo not found (or set PAYLINK_BIN)"
        log "building: cargo build --release -p paylink-cli"
        locked_cargo build --release -p paylink-cli || die "cargo build failed"
        PAYLINK_BIN=${CARGO_TARGET_DIR:-$REPO/target}/release/paylink
    fi
    [[ -x $PAYLINK_BIN ]] || die "paylink binary not executable: $PAYLINK_BIN"
    SINK_BIN=${SINK_BIN:-$(dirname "$PAYLINK_BIN")/examples/postback_sink}
    if [[ ! -x $SINK_BIN ]]; then
        log "building: cargo build --release -p paylink-server --example postback_sink"
        locked_cargo build --release -p paylink-server --example postback_sink ||
            die "cargo build of the postback sink failed"
    fi
    [[ -x $SINK_BIN ]] || die "postback sink not executable: $SINK_BIN"
}

# The wrk scripts are written at run time (next to the raw output) and share bench/wrk/common.lua.
write_lua() {
    local dir=$RESULTS_DIR/raw
    # Creates bills o-$FIRST … o-$LAST: thread t of T takes FIRST+t-1, FIRST+t-1+T, …; once its
    # share is answered it drops a marker file (the shell then stops wrk with SIGINT: wrk itself
    # always runs its full -d). Connections with nothing left to create ask for /health.
    cat >"$dir/pages-fill.lua" <<EOF
local common = dofile("$WRK_DIR/common.lua")
setup = common.setup
local token = common.require_env("PAYLINK_TOKEN")
local shop_id = common.require_env("PAYLINK_SHOP_ID")
local first = tonumber(common.require_env("FILL_FIRST"))
local last = tonumber(common.require_env("FILL_LAST"))
local threads = tonumber(common.require_env("FILL_THREADS"))
local marks = common.require_env("FILL_MARKS")
local amount = os.getenv("BILL_AMOUNT") or "100.50"
local headers = {
   ["Authorization"] = "Bearer " .. token,
   ["Content-Type"] = "application/x-www-form-urlencoded",
}
local head = "amount=" .. common.urlencode(amount) .. "&shop_id=" .. common.urlencode(shop_id) .. "&order_id=o-"
local filler = wrk.format("GET", "/health")

function init(args)
   non200 = 0
   app_errors = 0
   created = 0
   nxt = first + tid - 1
   share = 0
   for n = nxt, last, threads do share = share + 1 end
   answered = 0
   marked = false
   probe = (tid == 1)
   if share == 0 then
      io.open(marks .. "/done-" .. tid, "w"):close()
      marked = true
   end
end

function request()
   -- wrk calls request() once on the first thread before the run to check the script
   -- (script_verify_request) and drops what it returns: give it the filler, not a bill.
   if probe then
      probe = false
      return filler
   end
   if nxt > last then return filler end
   local n = nxt
   nxt = nxt + threads
   return wrk.format("POST", "/api/v1/bill/create", headers, head .. n)
end

function response(status, hdrs, body)
   if marked then return end
   if status ~= 200 then
      common.note_bad(status, body)
      answered = answered + 1
   elseif body and body:find('"success"%s*:%s*"?true') then
      created = created + 1
      answered = answered + 1
   elseif body and body:find('"success"') then
      app_errors = app_errors + 1
      answered = answered + 1
   end -- else: a /health filler
   if answered >= share then
      io.open(marks .. "/done-" .. tid, "w"):close()
      marked = true
   end
end

function done(summary, latency, requests)
   common.done(summary, latency, requests)
   local total = 0
   for _, t in ipairs(common.threads) do total = total + (t:get("created") or 0) end
   io.write(string.format("PAYLINK_CREATED %d\n", total))
end
EOF
    # One signed-in page: every answer must be a 200 (a redirect means the session is gone).
    cat >"$dir/pages-page.lua" <<EOF
local common = dofile("$WRK_DIR/common.lua")
setup = common.setup
done = common.done
local path = common.require_env("PAGE_PATH")
local cookie = common.require_env("PAGE_COOKIE")
local req

function init(args)
   non200 = 0
   app_errors = 0
   req = wrk.format("GET", path, { ["Cookie"] = cookie, ["Accept-Language"] = "en" })
end

function request()
   return req
end

function response(status, hdrs, body)
   if status ~= 200 then common.note_bad(status, body) end
end
EOF
}

# fill_bills PORT TOKEN SHOP FIRST LAST: bills o-FIRST … o-LAST through the API with wrk.
fill_bills() {
    local port=$1 token=$2 shop=$3 first=$4 last=$5 marks out pid i rc=0 created res
    local n=$((last - first + 1))
    ((n > 0)) || return 0
    marks=$RESULTS_DIR/raw/pages-fill-marks
    out=$RESULTS_DIR/raw/pages-$CUR_BACKEND-fill-$first.txt
    rm -rf "$marks"
    mkdir -p "$marks"
    # -d is only a bound (at 100 bills/s); the run ends when every thread's share is answered.
    PAYLINK_TOKEN=$token PAYLINK_SHOP_ID=$shop FILL_FIRST=$first FILL_LAST=$last \
        FILL_THREADS=$THREADS FILL_MARKS=$marks BILL_AMOUNT=$BILL_AMOUNT \
        wrk -t"$THREADS" -c"$FILL_CONNECTIONS" -d"$((n / 100 + 60))s" --timeout "$WRK_TIMEOUT" \
        --latency -s "$RESULTS_DIR/raw/pages-fill.lua" "http://$HOST:$port" >"$out" 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        (($(find "$marks" -name 'done-*' | wc -l) >= THREADS)) && break
        check_alive "bill fill"
        sleep 0.2
    done
    kill -INT "$pid" 2>/dev/null || true
    wait "$pid" || rc=$?
    ((rc == 0)) || { sed 's/^/    /' "$out" >&2; die "wrk exited with status $rc while creating bills"; }
    created=$(awk '/^PAYLINK_CREATED / {print $2}' "$out")
    res=$(parse_wrk "$out") || die "could not parse wrk output: $out"
    read -r rps _ _ non sock _ <<<"$res"
    [[ $created == "$n" && $non == 0 && $sock == 0 ]] || {
        { grep -E '^PAYLINK' "$out" || tail -n 5 "$out"; } | sed 's/^/    /' >&2
        die "creating bills o-$first … o-$last: $created of $n created, $non bad answers, $sock socket errors"
    }
}

# create_ids PORT TOKEN SHOP FIRST LAST OUTFILE: bills o-FIRST … o-LAST (one keep-alive curl),
# their ids to OUTFILE.
create_ids() {
    local port=$1 token=$2 shop=$3 first=$4 last=$5 out=$6 i resp ok got n=$(($5 - $4 + 1))
    ((n > 0)) || { : >"$out"; return 0; }
    resp=$(for ((i = first; i <= last; i++)); do
        printf 'url = "http://%s:%s/api/v1/bill/create"\n' "$HOST" "$port"
        printf 'header = "Authorization: Bearer %s"\n' "$token"
        printf 'data = "amount=%s&shop_id=%s&order_id=o-%d"\n' "$BILL_AMOUNT" "$shop" "$i"
        printf 'write-out = "\\nHTTP_STATUS %%{http_code}\\n"\n'
        if ((i < last)); then printf 'next\n'; fi
    done | curl -sS --max-time 600 -K -) || die "curl failed while creating bills"
    ok=$(grep -c '^HTTP_STATUS 200$' <<<"$resp" || true)
    grep -o '"bill_id"[[:space:]]*:[[:space:]]*"[^"]*"' <<<"$resp" |
        sed 's/.*"\([^"]*\)"$/\1/' >"$out" || true
    got=$(wc -l <"$out" | tr -d ' ')
    [[ $ok == "$n" && $got == "$n" ]] || {
        grep -v '^HTTP_STATUS 200$' <<<"$resp" | head -n 5 | sed 's/^/    /' >&2 || true
        die "creating bills o-$first … o-$last: $ok answered 200, $got bill ids parsed"
    }
}

# pay_all PORT TOKEN IDS_FILE: one sandbox card payment per bill (one keep-alive curl).
pay_all() {
    local port=$1 token=$2 ids=$3 resp ok n
    n=$(wc -l <"$ids" | tr -d ' ')
    ((n > 0)) || return 0
    resp=$(awk -v u="http://$HOST:$port/sandbox/pay" -v t="$token" -v card="$CARD" '
        NR > 1 { print "next" }
        { print "url = \"" u "\""; print "header = \"Authorization: Bearer " t "\""
          print "data = \"bill_id=" $1 "&method=BANK_CARD&card_number=" card "\""
          print "write-out = \"\\n\"" }' "$ids" | curl -sS --max-time 600 -K -) ||
        die "curl failed while paying bills"
    ok=$(grep -o '"status"[[:space:]]*:[[:space:]]*"SUCCESS"' <<<"$resp" | wc -l | tr -d ' ')
    [[ $ok == "$n" ]] || {
        grep -v 'SUCCESS' <<<"$resp" | head -n 5 | sed 's/^/    /' >&2 || true
        die "paying $n bills: $ok succeeded"
    }
}

# The API token, the shop id and the form token on a page; a cookie a response sets.
html_token() { sed -n 's/.*<p class="secret" id="token">\([^<]*\)<\/p>.*/\1/p' "$1" | head -n 1; }
html_shop() { sed -n 's/.*<code class="shop-id">\([^<]*\)<\/code>.*/\1/p' "$1" | head -n 1; }
html_csrf() { sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$1" | head -n 1; }
set_cookie() { sed -n "s/^[Ss]et-[Cc]ookie: $2=\([^;]*\);.*/\1/p" "$1" | tr -d '\r' | head -n 1; }

# sign_up PORT BACKEND -> "TOKEN SHOP SESSION CSRF" (the merchant, through the web pages)
sign_up() {
    local port=$1 backend=$2 dir=$RESULTS_DIR/raw base="http://$HOST:$1" pre csrf code
    local email="pages-$backend-$(date +%s)-$$@example.com" token shop session
    curl -sS --max-time 30 -D "$dir/pages-signup-get.hdr" -o "$dir/pages-signup-get.html" \
        "$base/sign-up" || die "GET /sign-up failed"
    pre=$(set_cookie "$dir/pages-signup-get.hdr" paylink_csrf)
    csrf=$(html_csrf "$dir/pages-signup-get.html")
    [[ -n $pre && $csrf == "$pre" ]] || die "GET /sign-up: no paylink_csrf cookie or csrf field"
    code=$(curl -sS --max-time 30 -o "$dir/pages-signup.html" -D "$dir/pages-signup.hdr" \
        -w '%{http_code}' -H "Cookie: paylink_csrf=$pre" \
        --data-urlencode "csrf=$csrf" --data-urlencode "email=$email" \
        --data-urlencode "password=bench-password-$$" --data-urlencode "shop_name=Bench $backend" \
        "$base/sign-up") || die "POST /sign-up failed"
    token=$(html_token "$dir/pages-signup.html")
    shop=$(html_shop "$dir/pages-signup.html")
    session=$(set_cookie "$dir/pages-signup.hdr" paylink_session)
    csrf=$(html_csrf "$dir/pages-signup.html")
    [[ $code == 200 && $token =~ ^[0-9]+\|.+ && -n $shop && -n $session && -n $csrf ]] ||
        die "POST /sign-up answered $code without token, shop id, session or csrf (see $dir/pages-signup.html)"
    echo "$token $shop $session $csrf"
}

# page_check PORT PATH COOKIE -> "BYTES ROWS" (one fetch: 200 and rows counted)
page_check() {
    local f=$RESULTS_DIR/raw/pages-check.html code rows
    code=$(curl -sS --max-time 30 -o "$f" -w '%{http_code}' -H "Cookie: $3" -H 'Accept-Language: en' \
        "http://$HOST:$1$2") || die "GET $2 failed"
    [[ $code == 200 ]] || die "GET $2 answered $code (expected 200)"
    rows=$(grep -o '<tr class="[a-z]*"' "$f" | wc -l | tr -d ' ')
    echo "$(wc -c <"$f" | tr -d ' ') $rows"
}

run_pages_backend() {
    local backend=$1 url port token shop session csrf sink_port i
    CUR_BACKEND=$backend
    SERVER_LOG=$RESULTS_DIR/server-pages-$backend.log
    : >"$SERVER_LOG"
    case $backend in
        sqlite)
            local dbdir=$RESULTS_DIR/db-pages-sqlite
            rm -rf "$dbdir"
            mkdir -p "$dbdir"
            [[ $dbdir != *[[:space:]?#%]* ]] || die "SQLite path must not contain spaces, ?, # or %: $dbdir"
            url="sqlite://$dbdir/paylink.db?mode=rwc"
            ;;
        postgres)
            ensure_postgres
            PG_DB="paylink_pages_$(date +%s)_$$"
            psql_admin -c "CREATE DATABASE \"$PG_DB\"" >/dev/null ||
                { PG_DB=; die "could not create PostgreSQL database"; }
            url="postgres://$PG_USER@$PG_HOST:$PG_PORT/$PG_DB"
            ;;
    esac
    log "[$backend] database: $url"

    if [[ -z $SINK_PID ]]; then
        sink_port=$(PORT= pick_port_from 18990)
        "$SINK_BIN" "$HOST:$sink_port" >>"$RESULTS_DIR/sink-pages.log" 2>&1 &
        SINK_PID=$!
        for ((i = 0; i < 50; i++)); do
            curl -fsS -o /dev/null "http://$HOST:$sink_port/count" 2>/dev/null && break
            sleep 0.1
        done
        SINK_URL="http://$HOST:$sink_port"
    fi

    port=$(pick_port)
    log "[$backend] starting paylink serve on $HOST:$port (log: $SERVER_LOG)"
    PAYLINK_POSTBACKS_ALLOW_PRIVATE_RECEIVERS=1 RUST_LOG=$SERVER_RUST_LOG "$PAYLINK_BIN" serve \
        --database-url "$url" --listen "$HOST:$port" --public-url "http://$HOST:$port" \
        >>"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    wait_ready "$port"

    local signed
    signed=$(sign_up "$port" "$backend")
    read -r token shop session csrf <<<"$signed"
    log "[$backend] signed up through the web app: shop $shop"
    local code
    code=$(curl -sS --max-time 30 -o "$RESULTS_DIR/raw/pages-shop.html" -w '%{http_code}' \
        -H "Cookie: paylink_session=$session" --data-urlencode "csrf=$csrf" \
        --data-urlencode "result_url=$SINK_URL/postback" \
        --data-urlencode "success_url=" --data-urlencode "fail_url=" \
        "http://$HOST:$port/integration/shops/$shop") || die "POST /integration/shops/$shop failed"
    [[ $code == 200 ]] || die "setting the result URL through the web app answered $code"

    local t0=$SECONDS before=$((N_BILLS - N_PAID)) sink0
    write_lua
    log "[$backend] creating bills o-1 … o-$before with wrk -c$FILL_CONNECTIONS"
    fill_bills "$port" "$token" "$shop" 1 "$before"
    log "[$backend] creating bills o-$((before + 1)) … o-$N_BILLS with curl and paying them (card $CARD)"
    create_ids "$port" "$token" "$shop" $((before + 1)) "$N_BILLS" "$RESULTS_DIR/raw/pages-paid-$backend.txt"
    sink0=$(curl -fsS "$SINK_URL/count")
    pay_all "$port" "$token" "$RESULTS_DIR/raw/pages-paid-$backend.txt"
    # Let the postbacks go out before measuring, so the dispatcher isn't part of the load.
    local deadline=$((SECONDS + DRAIN_TIMEOUT))
    while (($(curl -fsS "$SINK_URL/count") - sink0 < N_PAID)); do
        ((SECONDS < deadline)) || die "postbacks: not all $N_PAID delivered within ${DRAIN_TIMEOUT}s"
        sleep 0.5
    done
    log "[$backend] $N_BILLS bills, $N_PAID paid, postbacks delivered ($((SECONDS - t0)) s)"

    local cookie="paylink_session=$session" p res rps p50 p99 non sock req errs size rows ok name
    local found checked
    found=$(page_check "$port" "/bills?order_id=$FIND_ORDER" "$cookie")
    ((${found#* } >= 1)) || die "/bills?order_id=$FIND_ORDER shows no bill"
    for p in $PAGES; do
        checked=$(page_check "$port" "$p" "$cookie")
        read -r size rows <<<"$checked"
        name=${p//[^A-Za-z0-9]/_}
        if [[ $WARMUP != 0 && $WARMUP != 0s ]]; then
            PAGE_PATH=$p PAGE_COOKIE=$cookie wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" \
                --timeout "$WRK_TIMEOUT" --latency -s "$RESULTS_DIR/raw/pages-page.lua" \
                "http://$HOST:$port" >"$RESULTS_DIR/raw/pages-$backend$name-warmup.txt" 2>&1 ||
                die "wrk failed (warm-up of $p)"
            res=$(parse_wrk "$RESULTS_DIR/raw/pages-$backend$name-warmup.txt") || die "could not parse wrk output"
            read -r rps p50 p99 non sock req <<<"$res"
            ((non + sock == 0)) || FAILURES+=("$backend $p warm-up: $non bad responses, $sock socket errors")
        fi
        log "[$backend] $p: wrk -t$THREADS -c$CONNECTIONS -d$DURATION ($size bytes, $rows rows)"
        local out=$RESULTS_DIR/raw/pages-$backend$name.txt rc=0
        PAGE_PATH=$p PAGE_COOKIE=$cookie wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" \
            --timeout "$WRK_TIMEOUT" --latency -s "$RESULTS_DIR/raw/pages-page.lua" \
            "http://$HOST:$port" >"$out" 2>&1 || rc=$?
        ((rc == 0)) || { sed 's/^/    /' "$out" >&2; die "wrk exited with status $rc ($backend $p)"; }
        res=$(parse_wrk "$out") || { sed 's/^/    /' "$out" >&2; die "could not parse wrk output: $out"; }
        read -r rps p50 p99 non sock req <<<"$res"
        check_alive "$p"
        errs=$((non + sock))
        ((req > 0)) || FAILURES+=("$backend $p: no requests completed")
        ((errs == 0)) || FAILURES+=("$backend $p: $non bad responses, $sock socket errors (see $out)")
        if ((p99 < TARGET_P99_MS * 1000)); then ok=yes; else ok="**no**"; fi
        log "[$backend] $p: $(fmt_rps "$rps") req/s, p50 $(fmt_ms "$p50") ms, p99 $(fmt_ms "$p99") ms, errors $errs"
        PAGE_ROWS+=("| $backend | \`$p\` | $(fmt_rps "$rps") | $(fmt_ms "$p50") | $(fmt_ms "$p99") | $ok | $errs | $size | $rows |")
    done

    stop_server
    drop_pg_db
    if [[ $backend == sqlite && $KEEP_DB != 1 ]]; then rm -rf "$RESULTS_DIR/db-pages-sqlite"; fi
}

pages_main() {
    need_tools
    mkdir -p "$RESULTS_DIR/raw"
    pages_build
    if [[ -z ${PAYLINK_KEY_FILE:-} && -z ${PAYLINK_KEYS:-} ]]; then
        rm -f "$RESULTS_DIR/pages.key"
        "$PAYLINK_BIN" keys generate --out "$RESULTS_DIR/pages.key" >/dev/null ||
            die "paylink keys generate failed"
        export PAYLINK_KEY_FILE=$RESULTS_DIR/pages.key
    fi

    local started load b
    started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    load=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
    for b in $BACKENDS; do
        run_pages_backend "$b"
    done

    local cpu commit report
    cpu=$(awk -F: '/^model name/ {sub(/^[ \t]+/, "", $2); print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
    commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
    if [[ -n $(git -C "$REPO" status --porcelain 2>/dev/null | head -n 1) ]]; then commit="$commit (dirty)"; fi
    report=$(
        echo "# paylink web pages benchmark"
        echo
        echo "| backend | page | req/s | p50 (ms) | p99 (ms) | p99 < $TARGET_P99_MS ms | errors | bytes | rows |"
        echo "| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |"
        printf '%s\n' "${PAGE_ROWS[@]}"
        echo
        echo "- date: $started; load average before the runs: $load"
        echo "- machine: $(nproc) CPUs, ${cpu:-unknown CPU}, $(uname -sr)"
        echo "- data: one merchant (signed up through the web app) with $N_BILLS bills (order ids o-1 … o-$N_BILLS, created through the API), the newest $N_PAID paid with the sandbox card and their postbacks delivered; no disputes"
        echo "- load: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --timeout $WRK_TIMEOUT (warm-up $WARMUP), GET with the session cookie, wrk and server on the same machine, loopback"
        echo "- bytes / rows: size of the page and its table rows (bills, payments, postbacks), from one fetch before the run"
        echo "- paylink: $PAYLINK_BIN, commit $commit, RUST_LOG=$SERVER_RUST_LOG"
        if ((${#FAILURES[@]})); then
            echo
            echo "**FAILED:**"
            printf -- '- %s\n' "${FAILURES[@]}"
        fi
    )
    printf '%s\n' "$report" >"$RESULTS_DIR/pages-latest.md"
    cp "$RESULTS_DIR/pages-latest.md" "$RESULTS_DIR/pages-run-$(date -u +%Y%m%dT%H%M%SZ).md"
    echo
    printf '%s\n' "$report"
    echo
    log "written $RESULTS_DIR/pages-latest.md (raw wrk output in $RESULTS_DIR/raw/)"
    if ((${#FAILURES[@]})); then
        log "FAILED: ${#FAILURES[@]} run(s) had errors"
        exit 1
    fi
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    pages_main "$@"
fi
