#!/usr/bin/env bash
# paylink benchmark harness: one machine, one go.
#
# For each backend in $BACKENDS: fresh database, create a merchant, start
# `paylink serve` (release build), warm up, run wrk against /health,
# /api/v1/bill/create, /api/v1/bill/status, /sandbox/pay (the payment path,
# with postbacks delivered to a local receiver and their delay measured from
# paylink's own delivery records) and /api/v1/payout/regular/create (against one
# merchant's balance, then spread over many), record the server's peak RSS, stop it, and
# print one Markdown table (also written to results/latest.md). After each backend's runs,
# when they include the payment run: the same payment rows as plain SQL (bench/baseline.sh:
# Python sqlite3, pgbench), with paylink's payment rate printed as a ratio of each.
#
# Exits non-zero if the server does not start, dies, or any run sees errors
# (non-2xx responses, failed creates, socket errors/timeouts).
#
# See bench/README.md for the knobs. Quick start:  bash bench/run.sh
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$BENCH_DIR")
WRK_DIR=$BENCH_DIR/wrk

# ---- knobs ---------------------------------------------------------------
BACKENDS=${BACKENDS:-sqlite postgres}
ENDPOINTS=${ENDPOINTS:-health bill_create bill_status payment payout_hot payout_many}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}                # "0" disables warm-up
WRK_TIMEOUT=${WRK_TIMEOUT:-5s}      # wrk --timeout; slower responses count as errors
N_BILLS=${N_BILLS:-1000}            # bills created (curl) for the bill/status and payment runs
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-60}  # seconds to wait for postbacks to be delivered after the payment run
BILL_AMOUNT=${BILL_AMOUNT:-100.50}
PAYOUT_AMOUNT=${PAYOUT_AMOUNT:-10}      # RUB per SBP payout (commission 1% on top)
MANY_MERCHANTS=${MANY_MERCHANTS:-64}    # merchants the payment_many and payout_many runs spread over
FUND_HOT=${FUND_HOT:-2000000}           # RUB paid in for the hot merchant before payout_hot
FUND_EACH=${FUND_EACH:-100000}          # RUB paid in for each of the many merchants
PORT=${PORT:-}                      # empty: first free port from 18080 up
STARTUP_TIMEOUT=${STARTUP_TIMEOUT:-60}  # seconds to wait for /health
RESULTS_DIR=${RESULTS_DIR:-$BENCH_DIR/results}
PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5432}
PG_USER=${PG_USER:-postgres}
# Query parameters for paylink's PostgreSQL URL, e.g. PG_PARAMS=sslmode=disable (paylink, like
# libpq, encrypts by default when the server offers TLS).
PG_PARAMS=${PG_PARAMS:-}
SERVER_RUST_LOG=${SERVER_RUST_LOG:-warn}  # RUST_LOG for the server process
KEEP_DB=${KEEP_DB:-0}               # 1: keep the SQLite file / PostgreSQL database
HOST=127.0.0.1                      # loopback only, on purpose
# The plain-SQL baseline of the payment run, and its knobs (BASELINE=0 turns it off).
# shellcheck source=bench/baseline.sh
source "$BENCH_DIR/baseline.sh"

# ---- state used by the cleanup trap -----------------------------------------
SERVER_PID=
SINK_PID=
SERVER_LOG=
PG_DB=
ROWS=()
FAILURES=()

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

die() {
    printf '[bench] FATAL: %s\n' "$*" >&2
    if [[ -n $SERVER_LOG && -s $SERVER_LOG ]]; then
        printf '[bench] last lines of %s:\n' "$SERVER_LOG" >&2
        tail -n 30 "$SERVER_LOG" | sed 's/^/    /' >&2
    fi
    exit 1
}

stop_server() {
    local pid=$SERVER_PID rc=0 i
    [[ -n $pid ]] || return 0
    SERVER_PID=
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 150; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "server $pid ignored SIGTERM for 15s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || rc=$?
    log "server $pid stopped (exit status $rc)"
}

psql_admin() {
    psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres \
        -v ON_ERROR_STOP=1 -qAtX "$@"
}

drop_pg_db() {
    local db=$PG_DB
    [[ -n $db ]] || return 0
    PG_DB=
    if [[ $KEEP_DB == 1 ]]; then
        log "keeping PostgreSQL database $db (KEEP_DB=1)"
        return 0
    fi
    psql_admin -c "DROP DATABASE IF EXISTS \"$db\"" >/dev/null 2>&1 ||
        log "warning: could not drop PostgreSQL database $db"
}

stop_sink() {
    [[ -n $SINK_PID ]] || return 0
    kill -TERM "$SINK_PID" 2>/dev/null || true
    wait "$SINK_PID" 2>/dev/null || true
    SINK_PID=
}

cleanup() {
    stop_server
    stop_sink
    drop_pg_db
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- tools --------------------------------------------------------------------
need_tools() {
    if ! command -v wrk >/dev/null 2>&1; then
        log "wrk not found; installing it with apt-get"
        if command -v apt-get >/dev/null 2>&1; then
            local sudo=
            [[ $(id -u) == 0 ]] || sudo=sudo
            if ! { $sudo apt-get update -qq && $sudo apt-get install -y -qq wrk; } >&2; then
                die "apt-get install wrk failed"
            fi
        fi
        command -v wrk >/dev/null 2>&1 || die "wrk is required (Debian/Ubuntu: apt-get install wrk)"
    fi
    command -v curl >/dev/null 2>&1 || die "curl is required"
    if [[ " $BACKENDS " == *" postgres "* ]]; then
        command -v psql >/dev/null 2>&1 || die "psql is required for the postgres backend (apt-get install postgresql-client)"
    fi
    local b e
    for b in $BACKENDS; do
        [[ $b == sqlite || $b == postgres ]] || die "unknown backend '$b' (BACKENDS: sqlite postgres)"
    done
    for e in $ENDPOINTS; do
        [[ $e == health || $e == bill_create || $e == bill_status || $e == payment ||
            $e == payment_many || $e == payout_hot || $e == payout_many ]] ||
            die "unknown endpoint '$e' (ENDPOINTS: health bill_create bill_status payment payment_many payout_hot payout_many)"
    done
    if wants_payments; then
        command -v python3 >/dev/null 2>&1 || die "python3 is required for the payment run's postback figures"
    fi
    if baseline_wanted; then baseline_tools; fi
}

build_bin() {
    if [[ -n ${PAYLINK_BIN:-} ]]; then
        log "using PAYLINK_BIN=$PAYLINK_BIN (no build)"
    else
        command -v cargo >/dev/null 2>&1 || die "cargo not found (or set PAYLINK_BIN)"
        log "building: cargo build --release -p paylink-cli"
        (cd "$REPO" && cargo build --release -p paylink-cli) || die "cargo build failed"
        PAYLINK_BIN=${CARGO_TARGET_DIR:-$REPO/target}/release/paylink
    fi
    [[ -x $PAYLINK_BIN ]] || die "paylink binary not executable: $PAYLINK_BIN"
    if wants_payments; then
        SINK_BIN=${SINK_BIN:-$(dirname "$PAYLINK_BIN")/examples/postback_sink}
        if [[ ! -x $SINK_BIN ]]; then
            log "building: cargo build --release -p paylink-server --example postback_sink"
            (cd "$REPO" && cargo build --release -p paylink-server --example postback_sink) ||
                die "cargo build of the postback sink failed"
        fi
        [[ -x $SINK_BIN ]] || die "postback sink not executable: $SINK_BIN"
    fi
}

# ---- helpers --------------------------------------------------------------------
port_in_use() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

pick_port_from() {
    local p
    for ((p = $1; p < $1 + 100; p++)); do
        if ! port_in_use "$p"; then
            echo "$p"
            return
        fi
    done
    die "no free port from $1 on $HOST"
}

pick_port() {
    if [[ -n $PORT ]]; then
        port_in_use "$PORT" && die "PORT=$PORT is already in use on $HOST"
        echo "$PORT"
        return
    fi
    local p
    for ((p = 18080; p < 18180; p++)); do
        if ! port_in_use "$p"; then
            echo "$p"
            return
        fi
    done
    die "no free port in 18080-18179 on $HOST"
}

# json_str KEY JSON  -> value of a flat "KEY":"value" string field
json_str() {
    printf '%s' "$2" | sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\([^\"]*\)\".*/\1/p" | head -n 1
}

ensure_postgres() {
    if pg_isready -h "$PG_HOST" -p "$PG_PORT" -q 2>/dev/null; then
        return 0
    fi
    if command -v pg_ctlcluster >/dev/null 2>&1 && [[ -d /etc/postgresql ]]; then
        local v
        for v in /etc/postgresql/*/; do
            v=$(basename "$v")
            [[ -d /etc/postgresql/$v/main ]] || continue
            log "starting PostgreSQL cluster $v/main"
            pg_ctlcluster --skip-systemctl-redirect "$v" main start >&2 || true
        done
    fi
    local i
    for ((i = 0; i < 30; i++)); do
        if pg_isready -h "$PG_HOST" -p "$PG_PORT" -q 2>/dev/null ||
            psql_admin -c 'SELECT 1' >/dev/null 2>&1; then
            return 0
        fi
        sleep 1
    done
    die "PostgreSQL is not accepting connections on $PG_HOST:$PG_PORT"
}

wait_ready() { # port
    local port=$1 deadline=$((SECONDS + STARTUP_TIMEOUT))
    while ((SECONDS < deadline)); do
        kill -0 "$SERVER_PID" 2>/dev/null || die "paylink serve exited during startup"
        if curl -fsS -o /dev/null --max-time 2 "http://$HOST:$port/health" 2>/dev/null; then
            return 0
        fi
        sleep 0.2
    done
    die "paylink serve did not answer GET /health within ${STARTUP_TIMEOUT}s"
}

check_alive() {
    kill -0 "$SERVER_PID" 2>/dev/null || die "paylink serve (pid $SERVER_PID) died during the $1 run"
}

peak_rss_kib() {
    local v
    v=$(awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status" 2>/dev/null || true)
    echo "${v:-0}"
}

# create_bills PORT TOKEN SHOP_ID COUNT OUTFILE [EXTRA_FORM]: one curl, keep-alive, N POSTs.
create_bills() {
    local port=$1 token=$2 shop=$3 n=$4 out=$5 extra=${6:-} tag i body ok got
    tag="seed-$(date +%s)-$$"
    body=$(
        for ((i = 1; i <= n; i++)); do
            printf 'url = "http://%s:%s/api/v1/bill/create"\n' "$HOST" "$port"
            printf 'header = "Authorization: Bearer %s"\n' "$token"
            printf 'data = "amount=%s&shop_id=%s&order_id=%s-%d%s"\n' "$BILL_AMOUNT" "$shop" "$tag" "$i" "$extra"
            printf 'write-out = "\\nHTTP_STATUS %%{http_code}\\n"\n'
            if ((i < n)); then printf 'next\n'; fi
        done
    )
    local resp
    resp=$(printf '%s\n' "$body" | curl -sS --max-time 300 -K -) || die "curl failed while creating bills"
    ok=$(grep -c '^HTTP_STATUS 200$' <<<"$resp" || true)
    grep -o '"bill_id"[[:space:]]*:[[:space:]]*"[^"]*"' <<<"$resp" |
        sed 's/.*"\([^"]*\)"$/\1/' >"$out" || true
    got=$(wc -l <"$out" | tr -d ' ')
    if [[ $ok != "$n" || $got != "$n" ]]; then
        printf '%s\n' "$resp" | grep -v '^HTTP_STATUS 200$' | head -n 5 | sed 's/^/    /' >&2
        die "creating $n bills: $ok answered 200, $got bill ids parsed"
    fi
}

# fund PORT TOKEN SHOP_ID AMOUNT: one bill of AMOUNT paid by the sandbox card; settled at once
# (the server runs with PAYLINK_MONEY_SETTLE_AFTER=0), so the money is available for payouts.
fund() {
    local port=$1 token=$2 shop=$3 amount=$4 resp bill
    resp=$(curl -sS --max-time 30 -H "Authorization: Bearer $token" \
        --data "amount=$amount&shop_id=$shop" "http://$HOST:$port/api/v1/bill/create") ||
        die "curl failed while funding"
    bill=$(json_str bill_id "$resp")
    [[ -n $bill ]] || die "funding: bill/create answered $resp"
    resp=$(curl -sS --max-time 30 -H "Authorization: Bearer $token" \
        --data "bill_id=$bill&method=BANK_CARD&card_number=4242424242424242" \
        "http://$HOST:$port/sandbox/pay") || die "curl failed while funding"
    [[ $(json_str status "$resp") == SUCCESS ]] || die "funding: sandbox/pay answered $resp"
}

# new_merchant DB_URL NAME -> "TOKEN SHOP_ID"
new_merchant() {
    local json
    json=$(RUST_LOG=$SERVER_RUST_LOG "$PAYLINK_BIN" merchant create --database-url "$1" \
        --name "$2" --verified --json 2>>"$SERVER_LOG") || die "paylink merchant create failed"
    json=$(grep -m 1 '^[[:space:]]*{' <<<"$json" || true)
    echo "$(json_str api_token "$json") $(json_str shop_id "$json")"
}

# to_us VALUE_WITH_UNIT (wrk text: 812.00us, 1.52ms, 2.01s, 1.00m)
to_us() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") m = 1; else if (u == "ms") m = 1000; else if (u == "s") m = 1e6;
        else if (u == "m") m = 6e7; else if (u == "h") m = 3.6e9; else m = -1
        if (m < 0) print ""; else printf "%.0f\n", n * m }'
}

# parse_wrk FILE -> "rps p50_us p99_us non2xx sockerr requests"
# Prefers the PAYLINK_BENCH line printed by our Lua done(); falls back to
# wrk's own text output (e.g. a run without a script).
parse_wrk() {
    local f=$1 line
    line=$(grep -m 1 '^PAYLINK_BENCH ' "$f" || true)
    if [[ -n $line ]]; then
        awk '{
            for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
            non = v["non200"] + 0; if (v["status_errors"] + 0 > non) non = v["status_errors"] + 0
            non += v["app_errors"] + 0
            sock = v["connect_errors"] + v["read_errors"] + v["write_errors"] + v["timeouts"]
            printf "%s %d %d %d %d %d\n", v["rps"], v["p50_us"], v["p99_us"], non, sock, v["requests"]
        }' <<<"$line"
        return
    fi
    local rps p50 p99 non sock req
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$f")
    p50=$(to_us "$(awk '$1 == "50%" {print $2}' "$f")")
    p99=$(to_us "$(awk '$1 == "99%" {print $2}' "$f")")
    non=$(awk -F: '/Non-2xx or 3xx responses/ {gsub(/ /, "", $2); print $2}' "$f")
    sock=$(awk '/Socket errors:/ {gsub(/,/, ""); print $4 + $6 + $8 + $10}' "$f")
    req=$(awk '/requests in/ {print $1}' "$f")
    [[ -n $rps && -n $p50 && -n $p99 && -n $req ]] || return 1
    echo "$rps $p50 $p99 ${non:-0} ${sock:-0} $req"
}

# run_wrk BACKEND ENDPOINT PHASE PORT OUTFILE -> parsed figures on stdout
run_wrk() {
    local backend=$1 ep=$2 phase=$3 port=$4 out=$5 dur url rc=0
    if [[ $phase == warmup ]]; then dur=$WARMUP; else dur=$DURATION; fi
    local script=$ep
    [[ $ep != payout_* ]] || script=payout   # one script; TOKENS_FILE says hot or many
    [[ $ep != payment_many ]] || script=payment   # BILL_IDS_FILE's lines carry their tokens
    case $ep in
        health) url="http://$HOST:$port/health" ;;
        *) url="http://$HOST:$port" ;;
    esac
    ORDER_PREFIX="bench-$backend-$phase-$(date +%s)-$$" \
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"$dur" --timeout "$WRK_TIMEOUT" --latency \
        -s "$WRK_DIR/$script.lua" "$url" >"$out" 2>&1 || rc=$?
    ((rc == 0)) || { sed 's/^/    /' "$out" >&2; die "wrk exited with status $rc ($backend $ep $phase)"; }
    parse_wrk "$out" || { sed 's/^/    /' "$out" >&2; die "could not parse wrk output: $out"; }
}

fmt_ms() { awk -v u="$1" 'BEGIN { printf "%.2f", u / 1000 }'; }
fmt_mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
fmt_rps() { awk -v r="$1" 'BEGIN { printf "%.0f", r }'; }

# postback_figures BACKEND DB_URL START_MS -> the PAYLINK_POSTBACKS line, once none is pending
# (or DRAIN_TIMEOUT passed).
wants_payments() { [[ " $ENDPOINTS " == *" payment "* || " $ENDPOINTS " == *" payment_many "* ]]; }

postback_figures() {
    local backend=$1 url=$2 start=$3 line deadline=$((SECONDS + DRAIN_TIMEOUT)) rows
    rows=$RESULTS_DIR/raw/$backend-postbacks.txt
    while :; do
        if [[ $backend == sqlite ]]; then
            local path=${url#sqlite://}
            line=$(python3 "$BENCH_DIR/postback_delay.py" "$start" --sqlite "${path%%\?*}")
        else
            psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" -qAtX -c "
                SELECT o.created_at, MIN(a.attempted_at + a.latency_ms)
                FROM outbox o LEFT JOIN outbox_attempts a
                  ON a.outbox_id = o.id AND a.http_status BETWEEN 200 AND 299
                WHERE o.created_at >= $start GROUP BY o.id, o.created_at" >"$rows"
            line=$(python3 "$BENCH_DIR/postback_delay.py" "$start" --rows "$rows")
        fi
        [[ $line == *" pending=0 "* || $SECONDS -ge $deadline ]] && break
        sleep 1
    done
    echo "$line"
}

# ---- one backend -------------------------------------------------------------------
run_backend() {
    local backend=$1 url port json token shop ids_file ep res rps p50 p99 non sock req errs rss
    SERVER_LOG=$RESULTS_DIR/server-$backend.log
    : >"$SERVER_LOG"

    case $backend in
        sqlite)
            local dbdir=$RESULTS_DIR/db-sqlite
            rm -rf "$dbdir"
            mkdir -p "$dbdir"
            [[ $dbdir != *[[:space:]?#%]* ]] || die "SQLite path must not contain spaces, ?, # or %: $dbdir"
            url="sqlite://$dbdir/paylink.db?mode=rwc"
            ;;
        postgres)
            ensure_postgres
            PG_DB="paylink_bench_$(date +%s)_$$"
            psql_admin -c "CREATE DATABASE \"$PG_DB\"" >/dev/null ||
                { PG_DB=; die "could not create PostgreSQL database"; }
            url="postgres://$PG_USER@$PG_HOST:$PG_PORT/$PG_DB${PG_PARAMS:+?$PG_PARAMS}"
            ;;
    esac
    log "[$backend] database: $url"

    json=$(RUST_LOG=$SERVER_RUST_LOG "$PAYLINK_BIN" merchant create --database-url "$url" \
        --name "bench-$backend" --verified --json 2>>"$SERVER_LOG") ||
        die "paylink merchant create failed ($backend)"
    json=$(grep -m 1 '^[[:space:]]*{' <<<"$json" || true)
    token=$(json_str api_token "$json")
    shop=$(json_str shop_id "$json")
    [[ $token =~ ^[0-9]+\|.+ && -n $shop ]] ||
        die "unexpected output from paylink merchant create: ${json:-<empty>}"

    if wants_payments && [[ -z $SINK_PID ]]; then
        local sink_port
        sink_port=$(PORT= pick_port_from 18990)
        "$SINK_BIN" "$HOST:$sink_port" >>"$RESULTS_DIR/sink.log" 2>&1 &
        SINK_PID=$!
        local i
        for ((i = 0; i < 50; i++)); do
            curl -fsS -o /dev/null "http://$HOST:$sink_port/count" 2>/dev/null && break
            sleep 0.1
        done
        SINK_URL="http://$HOST:$sink_port/postback"
        log "postback receiver on $SINK_URL (pid $SINK_PID)"
    fi
    if wants_payments; then
        PAYLINK_POSTBACKS_ALLOW_PRIVATE_RECEIVERS=1 "$PAYLINK_BIN" shop update --database-url "$url" \
            --shop "$shop" --result-url "$SINK_URL" >>"$SERVER_LOG" 2>&1 ||
            die "setting the shop's result URL failed ($backend)"
    fi
    # payment_many's merchants, made before the server starts (the CLI writes to the database).
    local many_shops=()
    if [[ " $ENDPOINTS " == *" payment_many "* ]]; then
        log "[$backend] creating $MANY_MERCHANTS merchants for payment_many"
        local i m_token m_shop
        for ((i = 1; i <= MANY_MERCHANTS; i++)); do
            read -r m_token m_shop <<<"$(new_merchant "$url" "bench-pay-$backend-$i")"
            PAYLINK_POSTBACKS_ALLOW_PRIVATE_RECEIVERS=1 "$PAYLINK_BIN" shop update --database-url "$url" \
                --shop "$m_shop" --result-url "$SINK_URL" >>"$SERVER_LOG" 2>&1 ||
                die "setting a shop's result URL failed ($backend)"
            many_shops+=("$m_token $m_shop")
        done
    fi

    port=$(pick_port)
    log "[$backend] starting paylink serve on $HOST:$port (log: $SERVER_LOG)"
    # Payments settle at once (so the payout runs have money to pay out) and the payout limits
    # are off (the runs pay out far more than a day's default limit).
    PAYLINK_MONEY_SETTLE_AFTER=0 PAYLINK_MONEY_DAILY_PAYOUT_LIMIT=none \
        PAYLINK_MONEY_MONTHLY_PAYOUT_LIMIT=none \
        PAYLINK_POSTBACKS_ALLOW_PRIVATE_RECEIVERS=1 RUST_LOG=$SERVER_RUST_LOG "$PAYLINK_BIN" serve --database-url "$url" \
        --listen "$HOST:$port" --public-url "http://$HOST:$port" >>"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    wait_ready "$port"
    log "[$backend] server up (pid $SERVER_PID)"

    export PAYLINK_TOKEN=$token PAYLINK_SHOP_ID=$shop BILL_AMOUNT
    ids_file=$RESULTS_DIR/bill-ids-$backend.txt

    for ep in $ENDPOINTS; do
        if [[ $ep == bill_status ]]; then
            log "[$backend] creating $N_BILLS bills for bill/status"
            create_bills "$port" "$token" "$shop" "$N_BILLS" "$ids_file"
            export BILL_IDS_FILE=$ids_file
        fi
        if [[ $ep == payment ]]; then
            log "[$backend] creating $N_BILLS MULTI bills for payments"
            create_bills "$port" "$token" "$shop" "$N_BILLS" "$ids_file.multi" "&type=MULTI"
            export BILL_IDS_FILE=$ids_file.multi
        fi
        if [[ $ep == payment_many ]]; then
            # As many MULTI bills as the payment run's, spread over the merchants: each line of
            # the file is a bill and its merchant's token.
            log "[$backend] creating $N_BILLS MULTI bills over $MANY_MERCHANTS merchants"
            local per=$(((N_BILLS + MANY_MERCHANTS - 1) / MANY_MERCHANTS)) pair m_token m_shop
            : >"$ids_file.many"
            for pair in "${many_shops[@]}"; do
                read -r m_token m_shop <<<"$pair"
                create_bills "$port" "$m_token" "$m_shop" "$per" "$ids_file.one" "&type=MULTI"
                awk -v t="$m_token" '{ print NR, $0, t }' "$ids_file.one" >>"$ids_file.many"
            done
            # Interleaved (each merchant's first bill, then each one's second, ...): wrk's
            # connections walk the file together, so in blocks they would share a merchant.
            sort -s -n -k1,1 "$ids_file.many" | cut -d' ' -f2- >"$ids_file.many.sorted"
            export BILL_IDS_FILE=$ids_file.many.sorted
        fi
        if [[ $ep == payout_hot ]]; then
            log "[$backend] funding the hot merchant with $FUND_HOT RUB"
            fund "$port" "$token" "$shop" "$FUND_HOT"
            echo "$token" >"$RESULTS_DIR/tokens-hot.txt"
            export TOKENS_FILE=$RESULTS_DIR/tokens-hot.txt PAYOUT_AMOUNT
        fi
        if [[ $ep == payout_many ]]; then
            log "[$backend] creating and funding $MANY_MERCHANTS merchants with $FUND_EACH RUB each"
            local i m
            : >"$RESULTS_DIR/tokens-many.txt"
            for ((i = 1; i <= MANY_MERCHANTS; i++)); do
                read -r m_token m_shop <<<"$(new_merchant "$url" "bench-$backend-$i")"
                fund "$port" "$m_token" "$m_shop" "$FUND_EACH"
                echo "$m_token" >>"$RESULTS_DIR/tokens-many.txt"
            done
            export TOKENS_FILE=$RESULTS_DIR/tokens-many.txt PAYOUT_AMOUNT
        fi
        if [[ $WARMUP != 0 && $WARMUP != 0s ]]; then
            log "[$backend] $ep: warm-up $WARMUP"
            res=$(run_wrk "$backend" "$ep" warmup "$port" "$RESULTS_DIR/raw/$backend-$ep-warmup.txt")
            read -r rps p50 p99 non sock req <<<"$res"
            check_alive "$ep warm-up"
            ((non + sock == 0)) ||
                FAILURES+=("$backend $ep warm-up: $non bad responses, $sock socket errors")
        fi
        log "[$backend] $ep: wrk -t$THREADS -c$CONNECTIONS -d$DURATION"
        local measure_start
        measure_start=$(date +%s%3N)
        res=$(run_wrk "$backend" "$ep" measure "$port" "$RESULTS_DIR/raw/$backend-$ep.txt")
        if [[ $ep == payout_* ]]; then
            # The ledger must still hold after the load: every payout's money is accounted for.
            "$PAYLINK_BIN" ledger check --database-url "$url" >>"$SERVER_LOG" 2>&1 ||
                FAILURES+=("$backend $ep: paylink ledger check failed (see $SERVER_LOG)")
        fi
        read -r rps p50 p99 non sock req <<<"$res"
        check_alive "$ep"
        rss=$(peak_rss_kib)
        errs=$((non + sock))
        ((req > 0)) || FAILURES+=("$backend $ep: no requests completed")
        ((errs == 0)) || FAILURES+=("$backend $ep: $non bad responses, $sock socket errors (see raw/$backend-$ep.txt)")
        log "[$backend] $ep: $(fmt_rps "$rps") req/s, p50 $(fmt_ms "$p50") ms, p99 $(fmt_ms "$p99") ms, errors $errs"
        ROWS+=("| $backend | $ep | $(fmt_rps "$rps") | $(fmt_ms "$p50") | $(fmt_ms "$p99") | $errs | $(fmt_mib "$rss") |")
        [[ $ep != payment ]] || PAYMENT_RPS[$backend]=$rps
        if [[ $ep == payment || $ep == payment_many ]]; then
            local pb created delivered pending prate pp50 pp99
            pb=$(postback_figures "$backend" "$url" "$measure_start")
            log "[$backend] $pb"
            read -r created delivered pending prate pp50 pp99 < <(awk '{
                for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
                print v["created"], v["delivered"], v["pending"], v["rate"], v["p50_ms"], v["p99_ms"] }' <<<"$pb")
            ((pending == 0)) || FAILURES+=("$backend $ep postbacks: $pending of $created not delivered within ${DRAIN_TIMEOUT}s")
            ROWS+=("| $backend | $ep: postback delivery (delay after commit) | $prate | $pp50 | $pp99 | $pending | |")
        fi
    done

    stop_server
    drop_pg_db
    if [[ $backend == sqlite && $KEEP_DB != 1 ]]; then rm -rf "$RESULTS_DIR/db-sqlite"; fi
    # The same payment rows as plain SQL, on the same machine right after paylink's runs.
    if baseline_wanted; then run_baseline "$backend"; fi
}

# ---- main ---------------------------------------------------------------------------
main() {
    need_tools
    mkdir -p "$RESULTS_DIR/raw"
    build_bin
    # The instance keys live outside the database: one key file for every backend's server
    # and operator commands in this run (PostgreSQL refuses to start without one).
    if [[ -z ${PAYLINK_KEY_FILE:-} && -z ${PAYLINK_KEYS:-} ]]; then
        mkdir -p "$RESULTS_DIR"
        rm -f "$RESULTS_DIR/paylink.key"
        "$PAYLINK_BIN" keys generate --out "$RESULTS_DIR/paylink.key" >/dev/null ||
            die "paylink keys generate failed"
        export PAYLINK_KEY_FILE=$RESULTS_DIR/paylink.key
    fi

    local started b
    started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    for b in $BACKENDS; do
        run_backend "$b"
    done

    local cpu commit report
    cpu=$(awk -F: '/^model name/ {sub(/^[ \t]+/, "", $2); print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
    [[ -n $cpu ]] || cpu=$(lscpu 2>/dev/null | awk -F: '/Model name/ {sub(/^[ \t]+/, "", $2); print $2; exit}' || true)
    commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
    if [[ -n $(git -C "$REPO" status --porcelain 2>/dev/null | head -n 1) ]]; then commit="$commit (dirty)"; fi

    report=$(
        echo "# paylink benchmark"
        echo
        echo "| backend | endpoint | req/s | p50 (ms) | p99 (ms) | errors | peak RSS (MiB) |"
        echo "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
        printf '%s\n' "${ROWS[@]}"
        echo
        echo "- date: $started"
        echo "- machine: $(nproc) CPUs, ${cpu:-unknown CPU}, $(uname -sr)"
        echo "- load: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --timeout $WRK_TIMEOUT (warm-up $WARMUP), wrk and server on the same machine, loopback"
        if [[ " $ENDPOINTS " == *" bill_create "* ]]; then
            echo "- bill/create: form POST, amount $BILL_AMOUNT, unique order_id per request"
        fi
        if [[ " $ENDPOINTS " == *" bill_status "* ]]; then
            echo "- bill/status: round-robin over $N_BILLS bills created with curl before the run"
        fi
        if wants_payments; then
            echo "- payment / payment_many: POST /sandbox/pay (card 4242…) round-robin over $N_BILLS MULTI bills of one merchant / of $MANY_MERCHANTS merchants; each payment commits the payment, the bill's status, its ledger entry and its postback"
            echo "- postback delivery: to a local receiver (examples/postback_sink); req/s is postbacks delivered per second from the first payment to the last delivery, p50/p99 the delay from commit to the receiver's answer, errors the postbacks still undelivered ${DRAIN_TIMEOUT}s after the run"
        fi
        if [[ " $ENDPOINTS " == *" payout_"* ]]; then
            echo "- payout_hot / payout_many: POST /api/v1/payout/regular/create, SBP $PAYOUT_AMOUNT RUB, all from one merchant's balance / round-robin over $MANY_MERCHANTS merchants; the money worker sends and settles the payouts during the run; paylink ledger check passes after each"
            echo "- the server runs with PAYLINK_MONEY_SETTLE_AFTER=0: payments are settled at once (booked straight to available), and payout limits are off"
        fi
        echo "- paylink: $PAYLINK_BIN, commit $commit, RUST_LOG=$SERVER_RUST_LOG"
        echo "- peak RSS: server VmHWM after that run (cumulative since the server started)"
        if ((${#BASELINE_ROWS[@]})); then
            echo
            baseline_report
        fi
        if ((${#FAILURES[@]})); then
            echo
            echo "**FAILED:**"
            printf -- '- %s\n' "${FAILURES[@]}"
        fi
    )
    printf '%s\n' "$report" >"$RESULTS_DIR/latest.md"
    cp "$RESULTS_DIR/latest.md" "$RESULTS_DIR/run-$(date -u +%Y%m%dT%H%M%SZ).md"
    echo
    printf '%s\n' "$report"
    echo
    log "written $RESULTS_DIR/latest.md (raw wrk output in $RESULTS_DIR/raw/)"
    if ((${#FAILURES[@]})); then
        log "FAILED: ${#FAILURES[@]} run(s) had errors"
        exit 1
    fi
}

# Run unless sourced (sourcing lets the helpers be tested on their own).
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    main "$@"
fi
