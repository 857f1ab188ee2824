#!/usr/bin/env bash
# Several paylink processes on one PostgreSQL database (issue 15, item 4).
#
# For each N in NS (default "1 2 4"): a fresh database, MERCHANTS merchants (default one),
# N `paylink serve`
# processes on N ports (same database, same key file, same settings; each with its own
# writers, pools, postback dispatcher and money worker), haproxy from Debian in front of them
# (round-robin, started here as a child in the foreground and stopped after the run), and wrk's
# payment load (bench/wrk/payment.lua: sandbox card payments on MULTI bills; with several
# merchants the bills are spread over them, interleaved) through haproxy. Prints the payment rate for each N and its ratio to N=1. N=1 goes through
# haproxy too, so every N pays the same proxy hop.
#
# Usage: bench/multi.sh                      (PostgreSQL on 127.0.0.1:5432, user postgres)
#        NS="1 2" DURATION=20s bench/multi.sh
#        MERCHANTS=64 bench/multi.sh         (payments spread over 64 merchants' balances)
#
# Needs: psql, curl, wrk and haproxy (both installed with apt-get when missing), a release
# build of paylink (built once with cargo unless PAYLINK_BIN is set). Exits non-zero if a server
# does not start or dies, or a run sees errors.
#
# Measure only on a quiet machine: the script prints the load average it started under and
# refuses to call its figures comparable when it is 1.0 or more.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WRK_DIR=$REPO/bench/wrk
NS=${NS:-1 2 4}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
WRK_TIMEOUT=${WRK_TIMEOUT:-5s}
N_BILLS=${N_BILLS:-1000}
MERCHANTS=${MERCHANTS:-1}
BILL_AMOUNT=${BILL_AMOUNT:-100.00}
HOST=127.0.0.1
LB_PORT=${LB_PORT:-18780}
BASE_PORT=${BASE_PORT:-18781}     # servers on BASE_PORT .. BASE_PORT+N-1
METRICS_BASE_PORT=${METRICS_BASE_PORT:-19464}  # and their /metrics (each process its own)
PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5432}
PG_USER=${PG_USER:-postgres}
SERVER_RUST_LOG=${SERVER_RUST_LOG:-warn}
RESULTS_DIR=${RESULTS_DIR:-$(mktemp -d /tmp/paylink-multi.XXXXXX)}

SERVER_PIDS=()
LB_PID=
SINK_PID=
PG_DB=

log() { printf '[multi %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
    printf '[multi] FATAL: %s\n' "$*" >&2
    exit 1
}

psql_admin() {
    psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -v ON_ERROR_STOP=1 -qAtX "$@"
}

json_str() { # KEY JSON -> the string value of "KEY"
    sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\([^\"]*\)\".*/\1/p" <<<"$2" | head -n 1
}

stop_pid() { # PID: TERM, then KILL after 15 s
    local pid=$1 i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

stop_round() {
    if [[ -n $LB_PID ]]; then stop_pid "$LB_PID"; LB_PID=; fi
    local pid
    for pid in "${SERVER_PIDS[@]}"; do stop_pid "$pid"; done
    SERVER_PIDS=()
    if [[ -n $PG_DB ]]; then
        psql_admin -c "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null 2>&1 ||
            log "warning: could not drop database $PG_DB"
        PG_DB=
    fi
}

cleanup() {
    stop_round
    if [[ -n $SINK_PID ]]; then stop_pid "$SINK_PID"; SINK_PID=; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

need_tools() {
    local missing=()
    command -v wrk >/dev/null 2>&1 || missing+=(wrk)
    command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
    if ((${#missing[@]})); then
        log "installing ${missing[*]} with apt-get"
        local sudo=
        ((EUID == 0)) || sudo=sudo
        $sudo apt-get install -y "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
    fi
    for t in psql curl wrk haproxy; do
        command -v "$t" >/dev/null 2>&1 || die "$t is required"
    done
}

build_bin() {
    if [[ -n ${PAYLINK_BIN:-} ]]; then
        log "using PAYLINK_BIN=$PAYLINK_BIN (no build)"
    else
        log "building: cargo build --release -p paylink-cli"
        (cd "$REPO" && cargo build --release -p paylink-cli) || die "cargo build failed"
        PAYLINK_BIN=${CARGO_TARGET_DIR:-$REPO/target}/release/paylink
    fi
    [[ -x $PAYLINK_BIN ]] || die "paylink binary not executable: $PAYLINK_BIN"
    # The postback receiver run.sh uses, when it is built: then the dispatchers have work.
    SINK_BIN=${SINK_BIN:-$(dirname "$PAYLINK_BIN")/examples/postback_sink}
}

start_sink() {
    [[ -x $SINK_BIN ]] || { log "no $SINK_BIN: payments are made without postbacks"; return 0; }
    local port=$((LB_PORT - 1)) i
    "$SINK_BIN" "$HOST:$port" >>"$RESULTS_DIR/sink.log" 2>&1 &
    SINK_PID=$!
    for ((i = 0; i < 50; i++)); do
        curl -fsS -o /dev/null "http://$HOST:$port/count" 2>/dev/null && break
        sleep 0.1
    done
    SINK_URL="http://$HOST:$port/postback"
    log "postback receiver on $SINK_URL"
}

wait_ready() { # PID PORT
    local pid=$1 port=$2 i
    for ((i = 0; i < 300; i++)); do
        kill -0 "$pid" 2>/dev/null || die "paylink serve on port $port exited during startup"
        curl -fsS -o /dev/null --max-time 2 "http://$HOST:$port/health" 2>/dev/null && return 0
        sleep 0.2
    done
    die "paylink serve on port $port did not answer /health within 60s"
}

haproxy_config() { # N -> the config on stdout
    local n=$1 i
    cat <<EOF
global
    maxconn 4096
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    option http-keep-alive
frontend paylink
    bind $HOST:$LB_PORT
    default_backend paylinks
backend paylinks
    balance roundrobin
EOF
    for ((i = 0; i < n; i++)); do
        echo "    server paylink$i $HOST:$((BASE_PORT + i))"
    done
}

# create_bills TOKEN SHOP COUNT OUTFILE: MULTI bills through haproxy, one keep-alive curl.
create_bills() {
    local token=$1 shop=$2 n=$3 out=$4 i resp
    resp=$(
        for ((i = 1; i <= n; i++)); do
            printf 'url = "http://%s:%s/api/v1/bill/create"\n' "$HOST" "$LB_PORT"
            printf 'header = "Authorization: Bearer %s"\n' "$token"
            printf 'data = "amount=%s&shop_id=%s&type=MULTI"\n' "$BILL_AMOUNT" "$shop"
            if ((i < n)); then printf 'next\n'; fi
        done | curl -sS --max-time 300 -K -
    ) || die "curl failed while creating bills"
    grep -o '"bill_id"[[:space:]]*:[[:space:]]*"[^"]*"' <<<"$resp" |
        sed 's/.*"\([^"]*\)"$/\1/' >"$out" || true
    [[ $(wc -l <"$out") -eq $n ]] || die "creating $n bills: $(wc -l <"$out") made"
}

declare -A RATE
ROWS=()

# new_merchant URL NAME -> "TOKEN SHOP" of a verified merchant whose postbacks go to the sink.
new_merchant() {
    local json token shop
    json=$(RUST_LOG=$SERVER_RUST_LOG "$PAYLINK_BIN" merchant create --database-url "$1" \
        --name "$2" --verified --json 2>>"$RESULTS_DIR/servers.log") ||
        die "paylink merchant create failed"
    json=$(grep -m 1 '^[[:space:]]*{' <<<"$json" || true)
    token=$(json_str api_token "$json")
    shop=$(json_str shop_id "$json")
    [[ -n $token && -n $shop ]] || die "unexpected output from paylink merchant create: $json"
    if [[ -n ${SINK_URL:-} ]]; then
        PAYLINK_POSTBACKS_ALLOW_PRIVATE_RECEIVERS=1 "$PAYLINK_BIN" shop update --database-url "$1" \
            --shop "$shop" --result-url "$SINK_URL" >>"$RESULTS_DIR/servers.log" 2>&1 ||
            die "setting the shop's result URL failed"
    fi
    echo "$token $shop"
}

run_round() { # N
    local n=$1 url i m port out line rps p50 p99 errs
    local merchants=()
    PG_DB="paylink_multi_$(date +%s)_$$_$n"
    psql_admin -c "CREATE DATABASE \"$PG_DB\"" >/dev/null || die "could not create a database"
    url="postgres://$PG_USER@$PG_HOST:$PG_PORT/$PG_DB"
    for ((m = 1; m <= MERCHANTS; m++)); do
        merchants+=("$(new_merchant "$url" "multi-$n-$m")")
    done

    # Every process: the same database, key file and settings; its own port.
    for ((i = 0; i < n; i++)); do
        port=$((BASE_PORT + i))
        PAYLINK_MONEY_SETTLE_AFTER=0 PAYLINK_POSTBACKS_ALLOW_PRIVATE_RECEIVERS=1 \
            RUST_LOG=$SERVER_RUST_LOG "$PAYLINK_BIN" serve --database-url "$url" \
            --listen "$HOST:$port" --public-url "http://$HOST:$LB_PORT" \
            --metrics-listen "$HOST:$((METRICS_BASE_PORT + i))" \
            >>"$RESULTS_DIR/server-$n-$i.log" 2>&1 &
        SERVER_PIDS+=($!)
        wait_ready "$!" "$port"
    done
    haproxy_config "$n" >"$RESULTS_DIR/haproxy-$n.cfg"
    haproxy -f "$RESULTS_DIR/haproxy-$n.cfg" -db >>"$RESULTS_DIR/haproxy.log" 2>&1 &
    LB_PID=$!
    for ((i = 0; i < 50; i++)); do
        curl -fsS -o /dev/null "http://$HOST:$LB_PORT/health" 2>/dev/null && break
        kill -0 "$LB_PID" 2>/dev/null || die "haproxy exited (see $RESULTS_DIR/haproxy.log)"
        sleep 0.1
    done
    log "[N=$n] ${#SERVER_PIDS[@]} servers on ports $BASE_PORT.. behind haproxy on $LB_PORT"

    local bills=$RESULTS_DIR/bills-$n.txt token shop
    read -r token shop <<<"${merchants[0]}"
    export PAYLINK_TOKEN=$token BILL_IDS_FILE=$bills
    if ((MERCHANTS == 1)); then
        create_bills "$token" "$shop" "$N_BILLS" "$bills"
    else
        # Each line a bill and its merchant's token, interleaved (each merchant's first bill,
        # then each one's second, ...): wrk's connections walk the file together.
        local per=$(((N_BILLS + MERCHANTS - 1) / MERCHANTS)) pair
        : >"$bills.all"
        for pair in "${merchants[@]}"; do
            read -r token shop <<<"$pair"
            create_bills "$token" "$shop" "$per" "$bills.one"
            awk -v t="$token" '{ print NR, $0, t }' "$bills.one" >>"$bills.all"
        done
        sort -s -n -k1,1 "$bills.all" | cut -d' ' -f2- >"$bills"
    fi
    for phase in warmup measure; do
        out=$RESULTS_DIR/wrk-$n-$phase.txt
        local dur=$DURATION
        [[ $phase == warmup ]] && dur=$WARMUP
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"$dur" --timeout "$WRK_TIMEOUT" --latency \
            -s "$WRK_DIR/payment.lua" "http://$HOST:$LB_PORT" >"$out" 2>&1 ||
            die "wrk failed (N=$n $phase): $(tail -n 5 "$out")"
    done
    for pid in "${SERVER_PIDS[@]}"; do
        kill -0 "$pid" 2>/dev/null || die "a paylink server died during the N=$n run"
    done
    line=$(grep -m 1 '^PAYLINK_BENCH ' "$out") || die "no PAYLINK_BENCH line in $out"
    field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<" $line"; }
    rps=$(field rps)
    p50=$(field p50_us)
    p99=$(field p99_us)
    errs=$(($(field status_errors) + $(field non200) + $(field app_errors) + $(field connect_errors) \
        + $(field read_errors) + $(field write_errors) + $(field timeouts)))
    RATE[$n]=$rps
    local ratio=1.00
    [[ -n ${RATE[1]:-} ]] && ratio=$(awk -v a="$rps" -v b="${RATE[1]}" 'BEGIN { printf "%.2f", a / b }')
    ROWS+=("$(awk -v n="$n" -v r="$rps" -v a="$p50" -v b="$p99" -v e="$errs" -v q="$ratio" \
        'BEGIN { printf "| %d | %.0f | %.2f | %.2f | %d | %s |", n, r, a / 1000, b / 1000, e, q }')")
    log "[N=$n] ${ROWS[-1]}"
    stop_round
    ((errs == 0)) || die "N=$n: $errs errors (see $out)"
}

main() {
    local load
    load=$(cut -d' ' -f1 /proc/loadavg)
    need_tools
    build_bin
    if [[ -z ${PAYLINK_KEY_FILE:-} ]]; then
        "$PAYLINK_BIN" keys generate --out "$RESULTS_DIR/paylink.key" >/dev/null ||
            die "paylink keys generate failed"
        export PAYLINK_KEY_FILE=$RESULTS_DIR/paylink.key
    fi
    start_sink
    local n
    for n in $NS; do run_round "$n"; done
    echo "# paylink: N processes on one PostgreSQL behind haproxy (payment, $MERCHANTS merchant(s))"
    echo
    echo "| N | payments/s | p50 (ms) | p99 (ms) | errors | vs N=1 |"
    echo "| ---: | ---: | ---: | ---: | ---: | ---: |"
    printf '%s\n' "${ROWS[@]}"
    echo
    echo "- wrk -t$THREADS -c$CONNECTIONS -d$DURATION (after $WARMUP warm-up), $(nproc) CPUs, commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "- load average at the start: $load$(awk -v l="$load" 'BEGIN { if (l >= 1.0) print " (NOT quiet: others were running; do not compare these figures)" }')"
    echo "- results and logs: $RESULTS_DIR"
}

main "$@"
