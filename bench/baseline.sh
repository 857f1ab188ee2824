#!/usr/bin/env bash
# The plain-SQL baseline of paylink's payment run (issue 15): the rows of one sandbox card
# payment (bill update, payment, ledger transaction with three postings, the merchant's balance,
# the postback in the outbox) written by hand, on a database made by `paylink migrate`, so with
# paylink's own tables, indexes, constraints and triggers.
#
# - SQLite: bench/baseline/sqlite_payments.py (Python sqlite3, one thread, WAL,
#   synchronous=FULL as paylink sets it), one commit per payment and $BASELINE_BATCH per commit.
# - PostgreSQL: pgbench with bench/baseline/payment.pgbench, one transaction per payment, for
#   each client count in $PGBENCH_CLIENTS: every payment to one merchant (one balance row, as in
#   paylink's payment run) and spread over $BASELINE_MERCHANTS merchants.
#
# bench/run.sh sources this file and, when its endpoints include `payment`, runs the baseline of
# each backend right after that backend's paylink runs (server stopped), then prints paylink's
# payment rate as a ratio of each baseline. Run on its own it prints the baseline rates only:
#   PAYLINK_BIN=target/release/paylink bash bench/baseline.sh
#   BACKENDS=postgres BASELINE_DURATION=5s bash bench/baseline.sh

if [[ ${BASH_SOURCE[0]} == "$0" && -z ${_BASELINE_MAIN:-} ]]; then
    set -euo pipefail
    _BASELINE_MAIN=1
    # run.sh has the helpers and knobs (and sources this file for the functions below).
    # shellcheck source=bench/run.sh
    source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/run.sh"
    ENDPOINTS=    # none of run.sh's HTTP runs; no postback receiver to build
    baseline_main "$@"
    exit 0
fi

# ---- knobs (after run.sh's: DURATION, WARMUP, THREADS, N_BILLS, MANY_MERCHANTS) ----------
BASELINE=${BASELINE:-1}                                 # 0: run.sh runs no baseline
BASELINE_DURATION=${BASELINE_DURATION:-${DURATION:-10s}} # each measured baseline run
BASELINE_WARMUP=${BASELINE_WARMUP:-${WARMUP:-3s}}       # unmeasured run before each; 0: none
BASELINE_BATCH=${BASELINE_BATCH:-100}                   # SQLite: payments per commit, batched run
BASELINE_MERCHANTS=${BASELINE_MERCHANTS:-${MANY_MERCHANTS:-64}}  # PostgreSQL spread runs
PGBENCH_CLIENTS=${PGBENCH_CLIENTS:-16 64}               # pgbench -c, one run each
BASELINE_ROWS=()          # "backend|key|what|payments/s", in run order
declare -A PAYMENT_RPS=() # backend -> paylink's payment req/s of this run

# secs DURATION -> whole seconds (wrk spelling: 10s, 2m, 1h, 500ms; bare numbers are seconds)
secs() {
    awk -v d="$1" 'BEGIN {
        n = d + 0; u = d; sub(/^[0-9.]+/, "", u)
        if (u == "ms") n /= 1000; else if (u == "m") n *= 60; else if (u == "h") n *= 3600
        n = int(n + 0.5); if (n < 1 && d + 0 > 0) n = 1; print n }'
}

baseline_wanted() {
    [[ $BASELINE != 0 && " $ENDPOINTS " == *" payment "* ]]
}

baseline_tools() {
    command -v python3 >/dev/null 2>&1 || die "python3 is required for the SQLite baseline"
    if [[ " $BACKENDS " == *" postgres "* ]]; then
        command -v pgbench >/dev/null 2>&1 ||
            die "pgbench is required for the PostgreSQL baseline (apt-get install postgresql-contrib, or BASELINE=0)"
    fi
}

baseline_add() { # BACKEND KEY WHAT RATE
    BASELINE_ROWS+=("$1|$2|$3|$4")
    log "[$1 baseline] $3: $(fmt_rps "$4") payments/s"
}

# sqlite_baseline_run DB PER_COMMIT -> payments/s
sqlite_baseline_run() {
    local db=$1 per=$2 out line
    out=$(python3 "$BENCH_DIR/baseline/sqlite_payments.py" "$db" --per-commit "$per" \
        --merchants 1 --bills "$N_BILLS" --seconds "$(secs "$BASELINE_DURATION")" \
        --warmup "$(secs "$BASELINE_WARMUP")" 2>&1) ||
        { sed 's/^/    /' <<<"$out" >&2; die "sqlite_payments.py failed (per commit $per)"; }
    line=$(grep -m 1 '^PAYLINK_BASELINE ' <<<"$out") || die "sqlite_payments.py printed no result: $out"
    sed -n 's/.* rate=\([0-9.]*\).*/\1/p' <<<"$line"
}

# pgbench_run URL MERCHANTS BILLS CLIENTS PHASE -> payments/s (measure) or nothing (warmup)
pgbench_run() {
    local url=$1 merchants=$2 bills=$3 clients=$4 phase=$5 dur out rc=0 tps failed
    if [[ $phase == warmup ]]; then dur=$(secs "$BASELINE_WARMUP"); else dur=$(secs "$BASELINE_DURATION"); fi
    out=$RESULTS_DIR/raw/postgres-baseline-m$merchants-c$clients-$phase.txt
    # -n: no vacuum of pgbench's own tables (there are none); -M prepared: paylink prepares its
    # statements too. One thread per wrk thread: the same share of the two cores for the client.
    pgbench -n -M prepared -c "$clients" -j "$THREADS" -T "$dur" \
        -f "$BENCH_DIR/baseline/payment.pgbench" -D merchants="$merchants" -D bills="$bills" \
        "$url" >"$out" 2>&1 || rc=$?
    failed=$(awk -F'[: ]+' '/^number of failed transactions/ {print $5}' "$out")
    if ((rc != 0)) || [[ ${failed:-0} != 0 ]] || grep -q 'aborted' "$out"; then
        sed 's/^/    /' "$out" >&2
        die "pgbench failed ($merchants merchant(s), -c$clients $phase; see $out)"
    fi
    [[ $phase == warmup ]] && return 0
    tps=$(awk '/^tps = / {print $3; exit}' "$out")
    [[ -n $tps ]] || die "could not read pgbench's tps from $out"
    echo "$tps"
}

# run_baseline BACKEND: the baseline runs of one backend, on a fresh database of its own.
run_baseline() {
    local backend=$1 url c rate
    case $backend in
        sqlite)
            local dbdir=$RESULTS_DIR/db-baseline
            rm -rf "$dbdir"
            mkdir -p "$dbdir"
            url="sqlite://$dbdir/baseline.db?mode=rwc"
            "$PAYLINK_BIN" migrate --database-url "$url" >>"$RESULTS_DIR/baseline.log" 2>&1 ||
                die "paylink migrate failed for the SQLite baseline (see $RESULTS_DIR/baseline.log)"
            log "[sqlite baseline] Python sqlite3, 1 thread, $BASELINE_DURATION per run"
            rate=$(sqlite_baseline_run "$dbdir/baseline.db" 1)
            baseline_add sqlite plain-1-commit "plain SQL, one commit per payment (Python sqlite3, 1 thread)" "$rate"
            rate=$(sqlite_baseline_run "$dbdir/baseline.db" "$BASELINE_BATCH")
            baseline_add sqlite "plain-$BASELINE_BATCH-per-commit" "plain SQL, $BASELINE_BATCH payments per commit" "$rate"
            [[ $KEEP_DB == 1 ]] || rm -rf "$dbdir"
            ;;
        postgres)
            ensure_postgres
            PG_DB="paylink_baseline_$(date +%s)_$$"   # dropped by drop_pg_db / the cleanup trap
            psql_admin -c "CREATE DATABASE \"$PG_DB\"" >/dev/null ||
                { PG_DB=; die "could not create the PostgreSQL baseline database"; }
            url="postgres://$PG_USER@$PG_HOST:$PG_PORT/$PG_DB"
            "$PAYLINK_BIN" migrate --database-url "$url" >>"$RESULTS_DIR/baseline.log" 2>&1 ||
                die "paylink migrate failed for the PostgreSQL baseline (see $RESULTS_DIR/baseline.log)"
            local each=$(((N_BILLS + BASELINE_MERCHANTS - 1) / BASELINE_MERCHANTS))
            psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" -qAtX \
                -v merchants="$BASELINE_MERCHANTS" -v bills_hot="$N_BILLS" -v bills_each="$each" \
                -v now="$(date +%s%3N)" -f "$BENCH_DIR/baseline/seed.sql" >>"$RESULTS_DIR/baseline.log" 2>&1 ||
                die "seeding the PostgreSQL baseline failed (see $RESULTS_DIR/baseline.log)"
            local mode merchants bills what
            for mode in hot spread; do
                if [[ $mode == hot ]]; then merchants=1 bills=$N_BILLS; else merchants=$BASELINE_MERCHANTS bills=$each; fi
                for c in $PGBENCH_CLIENTS; do
                    if [[ $mode == hot ]]; then what="plain SQL, one merchant, pgbench -c$c"
                    else what="plain SQL, payments spread over $merchants merchants, pgbench -c$c"; fi
                    log "[postgres baseline] $what: ${BASELINE_DURATION}"
                    if [[ $(secs "$BASELINE_WARMUP") != 0 ]]; then
                        pgbench_run "$url" "$merchants" "$bills" "$c" warmup
                    fi
                    rate=$(pgbench_run "$url" "$merchants" "$bills" "$c" measure)
                    if [[ $mode == hot ]]; then
                        baseline_add postgres "plain-1-merchant-c$c" "$what" "$rate"
                    else
                        baseline_add postgres "plain-spread-c$c" "$what" "$rate"
                    fi
                done
            done
            drop_pg_db
            ;;
    esac
}

# ratio PAYLINK BASELINE -> "1.16" (two decimals), or "—" without a paylink figure
ratio() {
    awk -v p="$1" -v b="$2" 'BEGIN { if (p == "" || b + 0 <= 0) print "—"; else printf "%.2f\n", p / b }'
}

# The baseline table (Markdown), with paylink's payment rate of the same run as a ratio of each.
baseline_report() {
    ((${#BASELINE_ROWS[@]})) || return 0
    local r backend key what rate p
    echo "## paylink payments against plain SQL (same run)"
    echo
    echo "| backend | baseline | payments/s | paylink payment req/s | paylink / baseline |"
    echo "| --- | --- | ---: | ---: | ---: |"
    for r in "${BASELINE_ROWS[@]}"; do
        IFS='|' read -r backend key what rate <<<"$r"
        p=${PAYMENT_RPS[$backend]:-}
        echo "| $backend | $what | $(fmt_rps "$rate") | ${p:+$(fmt_rps "$p")} | $(ratio "$p" "$rate") |"
    done
    if ((${#PAYMENT_RPS[@]})); then
        echo
        for r in "${BASELINE_ROWS[@]}"; do
            IFS='|' read -r backend key what rate <<<"$r"
            p=${PAYMENT_RPS[$backend]:-}
            if [[ -n $p ]]; then echo "- $backend: paylink/$key = $(ratio "$p" "$rate")"; fi
        done
    fi
    echo
    echo "- baseline: the rows of one sandbox card payment (bill update with paylink's guard, payment, ledger transaction, three postings, balance upsert, outbox row) as plain SQL on a database made by \`paylink migrate\`; bench/baseline/"
    echo "- SQLite: Python sqlite3 (SQLite $(python3 -c 'import sqlite3; print(sqlite3.sqlite_version)' 2>/dev/null || echo '?')), one thread, WAL, synchronous=FULL, wal_autocheckpoint=10000, one merchant, $N_BILLS bills"
    if [[ " $BACKENDS " == *" postgres "* ]]; then
        echo "- PostgreSQL: pgbench -M prepared -j$THREADS, one transaction per payment; one merchant ($N_BILLS bills) or $BASELINE_MERCHANTS merchants; synchronous_commit as the server has it"
    fi
    if ((${#PAYMENT_RPS[@]})); then
        echo "- each baseline run: $BASELINE_DURATION after a $BASELINE_WARMUP warm-up, right after the backend's paylink runs (server stopped); ratio = paylink's payment req/s (wrk -c$CONNECTIONS, HTTP included) / the baseline's payments/s"
    else
        echo "- each baseline run: $BASELINE_DURATION after a $BASELINE_WARMUP warm-up; no paylink run (bench/baseline.sh alone), so no ratios"
    fi
}

# `bash bench/baseline.sh`: the baselines alone.
baseline_main() {
    local b
    for b in $BACKENDS; do
        [[ $b == sqlite || $b == postgres ]] || die "unknown backend '$b' (BACKENDS: sqlite postgres)"
    done
    baseline_tools
    mkdir -p "$RESULTS_DIR/raw"
    build_bin
    for b in $BACKENDS; do
        run_baseline "$b"
    done
    local report
    report=$(baseline_report)
    printf '%s\n' "$report" >"$RESULTS_DIR/baseline-latest.md"
    echo
    printf '%s\n' "$report"
    echo
    log "written $RESULTS_DIR/baseline-latest.md"
}
