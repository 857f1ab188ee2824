#!/usr/bin/env bash
# Flat with size (issue 15): the latency of the payment, bill/status and every filter of the
# Cardlink searches on a fresh database, then again on the same database after
# bench/size/load.py has added $N_ROWS bills and $N_ROWS payments; one table with both and the ratio.
#
#   flock /tmp/paylink-cargo.lock bash bench/size.sh                 # sqlite + postgres, 10^6
#   N_ROWS=10000000 BACKENDS=postgres PAYLINK_BIN=target/release/paylink bash bench/size.sh
#
# Low concurrency (wrk -t2 -c4 by default): the figure is a request's latency, not a saturation
# one. Sources run.sh for its helpers and knobs (PG_*, PORT, PAYLINK_BIN, RESULTS_DIR, ...).
# See bench/README.md.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-4}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
N_ROWS=${N_ROWS:-1000000}          # bills added by the loader, and as many payments
FRESH_ROWS=${FRESH_ROWS:-10000}    # of them, loaded before the fresh runs (so that payouts and refunds exist)
((FRESH_ROWS >= 1000)) || { echo "FRESH_ROWS must be at least 1000 (the fresh payout and refund runs need rows)" >&2; exit 2; }
SAMPLES=${SAMPLES:-20000}      # ids, order ids and days drawn from the database per run
SIZE_RUNS=${SIZE_RUNS:-payment bill_status bill_search bill_search_order_id bill_search_shop_id bill_search_small_shop bill_search_day bill_search_finish_date bill_payments payment_search payment_search_bill_id payment_search_bill_order_id payment_search_shop_id payment_search_small_shop payment_search_day payment_search_finish_date payout_search payout_search_order_id payout_search_status refund_search refund_search_payment_id refund_search_status}
# run.sh's helpers; the runs here are our own, so no plain-SQL baseline, and `payment` makes
# build_bin build the postback receiver.
BASELINE=0
ENDPOINTS=payment
# shellcheck source=bench/run.sh
source "$BENCH_DIR/run.sh"

declare -A FRESH_P50 FRESH_P99 LOADED_P50 LOADED_P99 ERRS
LOAD_SECS=()

# q BACKEND URL SQL -> rows, one per line, columns separated by '|'
q() {
    if [[ $1 == sqlite ]]; then
        local path=${2#sqlite://}
        sqlite3 -cmd '.timeout 10000' "${path%%\?*}" "$3"
    else
        psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" -v ON_ERROR_STOP=1 -qAtX -c "$3"
    fi
}

start_server() { # BACKEND URL -> port in $SIZE_PORT
    local port
    port=$(pick_port)
    PAYLINK_POSTBACKS_ALLOW_PRIVATE_RECEIVERS=1 RUST_LOG=$SERVER_RUST_LOG "$PAYLINK_BIN" serve \
        --database-url "$2" --listen "$HOST:$port" --public-url "http://$HOST:$port" --metrics-listen off \
        >>"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    wait_ready "$port"
    SIZE_PORT=$port
}

wait_outbox() { # BACKEND URL: until no postback is pending (or DRAIN_TIMEOUT)
    local deadline=$((SECONDS + DRAIN_TIMEOUT)) n
    while :; do
        n=$(q "$1" "$2" "SELECT COUNT(*) FROM outbox WHERE state = 'pending'")
        [[ $n == 0 ]] && return 0
        ((SECONDS < deadline)) || { FAILURES+=("$1: $n postbacks still pending"); return 0; }
        sleep 1
    done
}

DAY_MS=86400000
# day_of MS -> YYYY-MM-DD (UTC)
day_of() { date -u -d "@$(($1 / 1000))" +%Y-%m-%d; }

# paths BACKEND URL RUN MERCHANT SHOP SMALL OUT: the requests of one run, one per line
paths() {
    local backend=$1 url=$2 run=$3 m=$4 shop=$5 small=$6 out=$7
    case $run in
        bill_status)
            q "$backend" "$url" "SELECT id FROM bills WHERE merchant_id = '$m'
                ORDER BY random() LIMIT $SAMPLES" >"$out" ;;
        bill_search) echo /api/v1/bill/search >"$out" ;;
        payment_search) echo /api/v1/payment/search >"$out" ;;
        bill_search_order_id)
            q "$backend" "$url" "SELECT order_id FROM bills WHERE merchant_id = '$m'
                AND order_id IS NOT NULL ORDER BY random() LIMIT $SAMPLES" |
                sed 's|^|/api/v1/bill/search?order_id=|' >"$out" ;;
        bill_search_shop_id) echo "/api/v1/bill/search?shop_id=$shop" >"$out" ;;
        bill_search_small_shop) echo "/api/v1/bill/search?shop_id=$small" >"$out" ;;
        payment_search_shop_id) echo "/api/v1/payment/search?shop_id=$shop" >"$out" ;;
        payment_search_small_shop) echo "/api/v1/payment/search?shop_id=$small" >"$out" ;;
        bill_search_day | bill_search_finish_date | payment_search_day | payment_search_finish_date)
            local table=bills what=bill d
            [[ $run == bill_* ]] || { table=payments; what=payment; }
            : >"$out"
            while read -r d; do
                d=$(day_of "$d")
                if [[ $run == *_day ]]; then
                    echo "/api/v1/$what/search?start_date=$d&finish_date=$d" >>"$out"
                else
                    echo "/api/v1/$what/search?finish_date=$d" >>"$out"
                fi
            # Days with a full page of the merchant's rows (on the fresh database, the bills
            # made through the API today), so that both phases read 100 rows.
            done < <(q "$backend" "$url" "SELECT created_at / $DAY_MS * $DAY_MS FROM $table
                WHERE merchant_id = '$m' GROUP BY created_at / $DAY_MS HAVING COUNT(*) >= 100
                ORDER BY random() LIMIT 200") ;;
        bill_payments | payment_search_bill_id)
            local prefix=/api/v1/bill/payments?id=
            [[ $run == bill_payments ]] || prefix=/api/v1/payment/search?bill_id=
            # Not the payment run's MULTI bills (main shop), which have thousands of payments
            # on either database: bills paid once, as most are.
            q "$backend" "$url" "SELECT bill_id FROM payments WHERE merchant_id = '$m'
                AND shop_id <> '$shop' ORDER BY random() LIMIT $SAMPLES" | sed "s|^|$prefix|" >"$out" ;;
        payment_search_bill_order_id)
            q "$backend" "$url" "SELECT b.order_id FROM payments p JOIN bills b ON b.id = p.bill_id
                WHERE p.merchant_id = '$m' AND p.shop_id <> '$shop' AND b.order_id IS NOT NULL
                ORDER BY random() LIMIT $SAMPLES" |
                sed 's|^|/api/v1/payment/search?bill_order_id=|' >"$out" ;;
        payout_search) echo /api/v1/payout/search >"$out" ;;
        refund_search) echo /api/v1/refund/search >"$out" ;;
        # FAIL: the rarest status of each (2% of payouts, 3% of refunds).
        payout_search_status) echo "/api/v1/payout/search?status=FAIL" >"$out" ;;
        refund_search_status) echo "/api/v1/refund/search?status=FAIL" >"$out" ;;
        payout_search_order_id)
            q "$backend" "$url" "SELECT order_id FROM payouts WHERE merchant_id = '$m'
                ORDER BY random() LIMIT $SAMPLES" | sed 's|^|/api/v1/payout/search?order_id=|' >"$out" ;;
        refund_search_payment_id)
            q "$backend" "$url" "SELECT payment_id FROM refunds WHERE merchant_id = '$m'
                ORDER BY random() LIMIT $SAMPLES" | sed 's|^|/api/v1/refund/search?payment_id=|' >"$out" ;;
        *) die "unknown run '$run'" ;;
    esac
    [[ -s $out ]] || die "no requests for $run ($backend)"
}

# measure BACKEND URL PHASE MERCHANT SHOP SMALL MULTI_IDS
measure() {
    local backend=$1 url=$2 phase=$3 m=$4 shop=$5 small=$6 multi=$7 run out res rps p50 p99 non sock req
    local raw=$RESULTS_DIR/raw/size-$backend-$phase
    for run in $SIZE_RUNS; do
        local script=paths
        case $run in
            payment) script=payment; export BILL_IDS_FILE=$multi ;;
            bill_status) script=bill_status; export BILL_IDS_FILE=$raw-$run.paths ;;
            *) export PATHS_FILE=$raw-$run.paths ;;
        esac
        [[ $run == payment ]] || paths "$backend" "$url" "$run" "$m" "$shop" "$small" "$raw-$run.paths"
        if [[ $WARMUP != 0 && $WARMUP != 0s ]]; then
            wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" --timeout "$WRK_TIMEOUT" --latency \
                -s "$WRK_DIR/$script.lua" "http://$HOST:$SIZE_PORT" >"$raw-$run-warmup.txt" 2>&1 ||
                die "wrk failed ($backend $phase $run warm-up): $(tail -n 5 "$raw-$run-warmup.txt")"
        fi
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout "$WRK_TIMEOUT" --latency \
            -s "$WRK_DIR/$script.lua" "http://$HOST:$SIZE_PORT" >"$raw-$run.txt" 2>&1 ||
            die "wrk failed ($backend $phase $run): $(tail -n 5 "$raw-$run.txt")"
        res=$(parse_wrk "$raw-$run.txt") || die "could not parse $raw-$run.txt"
        read -r rps p50 p99 non sock req <<<"$res"
        check_alive "$run"
        local key="$backend $run"
        ERRS[$key]=$((${ERRS[$key]:-0} + non + sock))
        ((non + sock == 0)) || FAILURES+=("$backend $phase $run: $non bad responses, $sock socket errors (see $raw-$run.txt)")
        if [[ $phase == fresh ]]; then FRESH_P50[$key]=$p50 FRESH_P99[$key]=$p99; else LOADED_P50[$key]=$p50 LOADED_P99[$key]=$p99; fi
        log "[$backend $phase] $run: $(fmt_rps "$rps") req/s, p50 $(fmt_ms "$p50") ms, p99 $(fmt_ms "$p99") ms, errors $((non + sock))"
        # The payments' postbacks are delivered before the next run, so they do not load it.
        [[ $run != payment ]] || wait_outbox "$backend" "$url"
    done
}

size_backend() {
    local backend=$1 url json token shop merchant small side multi t0
    SERVER_LOG=$RESULTS_DIR/server-size-$backend.log
    : >"$SERVER_LOG"
    case $backend in
        sqlite)
            local dbdir=$RESULTS_DIR/db-size-sqlite
            rm -rf "$dbdir"
            mkdir -p "$dbdir"
            url="sqlite://$dbdir/paylink.db?mode=rwc"
            ;;
        postgres)
            ensure_postgres
            PG_DB="paylink_size_$(date +%s)_$$"
            psql_admin -c "CREATE DATABASE \"$PG_DB\"" >/dev/null || { PG_DB=; die "could not create PostgreSQL database"; }
            url="postgres://$PG_USER@$PG_HOST:$PG_PORT/$PG_DB"
            ;;
    esac
    log "[$backend] database: $url"
    json=$(RUST_LOG=$SERVER_RUST_LOG "$PAYLINK_BIN" merchant create --database-url "$url" \
        --name "size-$backend" --verified --json 2>>"$SERVER_LOG") || die "paylink merchant create failed"
    json=$(grep -m 1 '^[[:space:]]*{' <<<"$json" || true)
    # With KEEP_DB=1, the merchant's token and ids, to measure the kept database again.
    [[ $KEEP_DB != 1 ]] || printf '%s\n' "$json" >"$RESULTS_DIR/size-merchant-$backend.json"
    token=$(json_str api_token "$json")
    shop=$(json_str shop_id "$json")
    merchant=$(json_str merchant_id "$json")
    [[ $token =~ ^[0-9]+\|.+ && -n $shop && -n $merchant ]] || die "unexpected merchant create output: $json"
    local where=(--postgres "$PG_DB") path=${url#sqlite://}
    [[ $backend != sqlite ]] || where=(--sqlite "${path%%\?*}")
    # One --now for both loads: the rows' times are laid out once for $N_ROWS.
    local loader=(python3 "$BENCH_DIR/size/load.py" "${where[@]}" --merchant "$merchant" --shop "$shop"
        --now "$(date +%s%3N)")
    read -r side small < <("${loader[@]}" --rows 0 --print-shops)
    # The fresh database has the loaded one's merchants and shops and its first $FRESH_ROWS
    # rows (payouts and refunds are made only by the loader).
    "${loader[@]}" --rows "$N_ROWS" --last "$FRESH_ROWS" || die "loader failed"
    # FAIL is rare among the loaded payouts and refunds (2%, 3%), but a page of them (100) is
    # what the loaded runs read: the fresh database gets a full page of each too.
    local t
    for t in payouts refunds; do
        q "$backend" "$url" "UPDATE $t SET status = 'FAIL' WHERE id IN
            (SELECT id FROM $t WHERE merchant_id = '$merchant' ORDER BY created_at DESC LIMIT 110)" >/dev/null
    done

    if [[ -z $SINK_PID ]]; then
        local sink_port i
        sink_port=$(PORT= pick_port_from 18990)
        "$SINK_BIN" "$HOST:$sink_port" >>"$RESULTS_DIR/sink.log" 2>&1 &
        SINK_PID=$!
        for ((i = 0; i < 50; i++)); do
            curl -fsS -o /dev/null "http://$HOST:$sink_port/count" 2>/dev/null && break
            sleep 0.1
        done
        SINK_URL="http://$HOST:$sink_port/postback"
    fi
    PAYLINK_POSTBACKS_ALLOW_PRIVATE_RECEIVERS=1 "$PAYLINK_BIN" shop update --database-url "$url" \
        --shop "$shop" --result-url "$SINK_URL" >>"$SERVER_LOG" 2>&1 || die "shop update failed"

    start_server "$backend" "$url"
    export PAYLINK_TOKEN=$token PAYLINK_SHOP_ID=$shop BILL_AMOUNT
    log "[$backend] creating $N_BILLS bills and $N_BILLS MULTI bills"
    create_bills "$SIZE_PORT" "$token" "$shop" "$N_BILLS" "$RESULTS_DIR/size-bills-$backend.txt"
    multi=$RESULTS_DIR/size-multi-$backend.txt
    sleep 1.1
    create_bills "$SIZE_PORT" "$token" "$shop" "$N_BILLS" "$multi" "&type=MULTI"
    # Bills of the small shop, each paid once, so that its searches and the searches by bill
    # return as many rows on the fresh database as on the loaded one.
    log "[$backend] creating and paying $N_BILLS bills of the small shop"
    # create_bills stamps its order ids with the second: a second later, so that these bills'
    # order ids are not the main shop's bills' too.
    sleep 1.1
    create_bills "$SIZE_PORT" "$token" "$small" "$N_BILLS" "$RESULTS_DIR/size-small-$backend.txt"
    pay_bills "$SIZE_PORT" "$token" "$RESULTS_DIR/size-small-$backend.txt"
    measure "$backend" "$url" fresh "$merchant" "$shop" "$small" "$multi"
    stop_server

    log "[$backend] loading $N_ROWS bills and $N_ROWS payments"
    t0=$SECONDS
    "${loader[@]}" --rows "$N_ROWS" --first "$FRESH_ROWS" || die "loader failed"
    LOAD_SECS+=("$backend: $((SECONDS - t0)) s")
    log "[$backend] loaded in $((SECONDS - t0)) s; size: $(db_size "$backend" "$url")"
    start_server "$backend" "$url"
    # New MULTI bills: the fresh run's have taken thousands of payments each.
    multi=$RESULTS_DIR/size-multi-loaded-$backend.txt
    create_bills "$SIZE_PORT" "$token" "$shop" "$N_BILLS" "$multi" "&type=MULTI"
    measure "$backend" "$url" loaded "$merchant" "$shop" "$small" "$multi"
    stop_server
    drop_pg_db
    [[ $KEEP_DB == 1 ]] || rm -rf "$RESULTS_DIR/db-size-sqlite"
}

# pay_bills PORT TOKEN IDS_FILE: one sandbox card payment per bill, one keep-alive curl.
pay_bills() {
    local port=$1 token=$2 ids=$3 n ok id first=1
    n=$(wc -l <"$ids" | tr -d ' ')
    ok=$(while read -r id; do
        ((first)) || printf 'next\n'
        first=0
        printf 'url = "http://%s:%s/sandbox/pay"\n' "$HOST" "$port"
        printf 'header = "Authorization: Bearer %s"\n' "$token"
        printf 'data = "bill_id=%s&method=BANK_CARD&card_number=4242424242424242"\n' "$id"
        printf 'write-out = "\\n"\n'
    done <"$ids" | curl -sS --max-time 300 -K - | grep -c '"status"[[:space:]]*:[[:space:]]*"SUCCESS"' || true)
    [[ $ok == "$n" ]] || die "paying $n bills: $ok succeeded"
}

db_size() {
    if [[ $1 == sqlite ]]; then
        du -sh "$RESULTS_DIR/db-size-sqlite" | cut -f1
    else
        q postgres "$2" "SELECT pg_size_pretty(pg_database_size(current_database()))"
    fi
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "-" }'; }

size_main() {
    need_tools
    command -v python3 >/dev/null 2>&1 || die "python3 is required (bench/size/load.py)"
    if [[ " $BACKENDS " == *" sqlite "* ]]; then
        command -v sqlite3 >/dev/null 2>&1 || die "sqlite3 is required (apt-get install sqlite3)"
    fi
    mkdir -p "$RESULTS_DIR/raw"
    build_bin
    if [[ -z ${PAYLINK_KEY_FILE:-} && -z ${PAYLINK_KEYS:-} ]]; then
        rm -f "$RESULTS_DIR/size.key"
        "$PAYLINK_BIN" keys generate --out "$RESULTS_DIR/size.key" >/dev/null || die "paylink keys generate failed"
        export PAYLINK_KEY_FILE=$RESULTS_DIR/size.key
    fi
    local started load b run commit report
    started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    for b in $BACKENDS; do size_backend "$b"; done
    commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
    if [[ -n $(git -C "$REPO" status --porcelain 2>/dev/null | head -n 1) ]]; then commit="$commit (dirty)"; fi
    report=$(
        echo "# paylink: latency on a fresh database and with $N_ROWS bills + $N_ROWS payments"
        echo
        echo "| backend | run | fresh p50 (ms) | fresh p99 (ms) | loaded p50 (ms) | loaded p99 (ms) | p50 ratio | p99 ratio | errors |"
        echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        for b in $BACKENDS; do
            for run in $SIZE_RUNS; do
                local k="$b $run"
                echo "| $b | $run | $(fmt_ms "${FRESH_P50[$k]:-0}") | $(fmt_ms "${FRESH_P99[$k]:-0}") | $(fmt_ms "${LOADED_P50[$k]:-0}") | $(fmt_ms "${LOADED_P99[$k]:-0}") | $(ratio "${FRESH_P50[$k]:-0}" "${LOADED_P50[$k]:-0}") | $(ratio "${FRESH_P99[$k]:-0}" "${LOADED_P99[$k]:-0}") | ${ERRS[$k]:-0} |"
            done
        done
        echo
        echo "- date: $started; load average before: $load"
        echo "- machine: $(nproc) CPUs, $(uname -sr)"
        echo "- load: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency (warm-up $WARMUP) per run, on the same machine"
        echo "- loader: bench/size/load.py --rows $N_ROWS ($(IFS=', '; echo "${LOAD_SECS[*]}"))"
        echo "- paylink: $PAYLINK_BIN, commit $commit"
        if ((${#FAILURES[@]})); then
            echo
            echo "**FAILED:**"
            printf -- '- %s\n' "${FAILURES[@]}"
        fi
    )
    printf '%s\n' "$report" >"$RESULTS_DIR/size-latest.md"
    cp "$RESULTS_DIR/size-latest.md" "$RESULTS_DIR/size-run-$(date -u +%Y%m%dT%H%M%SZ).md"
    echo
    printf '%s\n' "$report"
    ((${#FAILURES[@]} == 0)) || exit 1
}

size_main "$@"
