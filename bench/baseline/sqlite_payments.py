#!/usr/bin/env python3
"""Plain-SQL baseline for paylink's payment run on SQLite (issue 15).

Writes the rows of one sandbox card payment, as paylink's payment plan does (bill update with
the double-payment guard, payment, ledger transaction, three postings, the merchant's balance,
the postback in the outbox), into a database made by `paylink migrate`: the same tables,
indexes, constraints and triggers. SQLite is set up as paylink's writer sets it up
(crates/paylink-store/src/sqlite.rs): WAL, synchronous=FULL, foreign keys on,
wal_autocheckpoint=10000. One thread, one connection: SQLite has one writer anyway.

    paylink migrate --database-url 'sqlite:///tmp/b.db?mode=rwc'
    python3 sqlite_payments.py /tmp/b.db --seconds 10 --per-commit 1
    python3 sqlite_payments.py /tmp/b.db --seconds 10 --per-commit 100

Seeds merchants, shops and MULTI bills the first time (the layout of bench/baseline/seed.sql),
runs for --warmup seconds unmeasured, then --seconds measured, and prints one line:

    PAYLINK_BASELINE backend=sqlite per_commit=1 merchants=1 payments=46720 seconds=10.00 rate=4672.0
"""

import argparse
import random
import sqlite3
import sys
import time

SHOP_URL = "http://127.0.0.1:18990/postback"
AMOUNT = 10050  # minor units, as the bills of paylink's run (100.50)
COMMISSION = 352  # 3.5%, rounded

UPDATE_BILL = """UPDATE bills SET status = 'SUCCESS', updated_at = ?1, charging_payment = NULL,
    charging_until = NULL
 WHERE id = ?2
   AND NOT (bill_type = 'NORMAL' AND status IN ('SUCCESS', 'UNDERPAID', 'OVERPAID'))"""
INSERT_PAYMENT = """INSERT INTO payments (id, bill_id, merchant_id, shop_id, method, status, amount,
    amount_received, commission, account_amount, account_currency, refunded_amount, currency,
    from_card, card_fingerprint, error_code, error_message, created_at, updated_at, fx_rate_e8,
    client_addr)
 VALUES (?1, ?2, ?3, ?3, 'BANK_CARD', 'SUCCESS', ?4, ?5, ?6, ?5, 'RUB', 0, 'RUB',
    '424242******4242', 'b4f1c0a6f3d2e8a9c7b5d1e3f2a4c6b8d0e2f4a6c8b0d2e4f6a8c0b2d4e6f8a0',
    NULL, NULL, ?7, ?7, NULL, '127.0.0.1')"""
INSERT_TX = """INSERT INTO ledger_transactions (id, kind, subject_id, created_at)
 VALUES (?1, 'payment', ?2, ?3)"""
INSERT_POSTINGS = """INSERT INTO ledger_postings (tx_id, seq, owner_kind, owner_id, bucket,
    currency, amount)
 VALUES (?1, 1, 'platform', '', 'acquirer_clearing', 'RUB', ?2),
        (?1, 2, 'platform', '', 'fee_revenue', 'RUB', ?3),
        (?1, 3, 'merchant', ?4, 'available', 'RUB', ?5)"""
UPSERT_BALANCE = """INSERT INTO balances (owner_kind, owner_id, currency, available, locked, hold,
    updated_at)
 VALUES ('merchant', ?1, 'RUB', ?2, 0, 0, ?3)
 ON CONFLICT (owner_kind, owner_id, currency) DO UPDATE
 SET available = balances.available + excluded.available,
     locked = balances.locked + excluded.locked,
     hold = balances.hold + excluded.hold,
     updated_at = excluded.updated_at"""
INSERT_OUTBOX = """INSERT INTO outbox (id, kind, dialect, merchant_id, partner_id, shop_id,
    bill_id, subject_id, url, event, fields, state, next_at, delivered_at, created_at)
 VALUES ('msg_' || ?1, 'payment', 'cardlink', ?2, NULL, ?2, ?3, ?1, ?4, ?5, '', 'pending', ?6,
    NULL, ?6)"""


def connect(path):
    # isolation_level=None: this program says BEGIN and COMMIT itself.
    conn = sqlite3.connect(path, isolation_level=None, cached_statements=64)
    conn.execute("PRAGMA busy_timeout = 5000")
    for pragma in ("journal_mode = WAL", "synchronous = FULL", "foreign_keys = ON",
                   "wal_autocheckpoint = 10000"):
        conn.execute("PRAGMA " + pragma)
    return conn


def seed(conn, merchants, bills_hot, bills_each):
    """Merchants and shops '1'..merchants, MULTI bills m * 1000000 + j (see seed.sql)."""
    try:
        have = conn.execute("SELECT COUNT(*) FROM merchants WHERE name LIKE 'baseline-%'").fetchone()[0]
    except sqlite3.OperationalError as e:
        sys.exit(f"sqlite_payments: {e}: make the database with `paylink migrate` first")
    if have >= merchants:
        return
    now = int(time.time() * 1000)
    conn.execute("BEGIN")
    for m in range(have + 1, merchants + 1):
        conn.execute("INSERT INTO merchants (id, name, verified, created_at) VALUES (?, ?, 1, ?)",
                     (str(m), f"baseline-{m}", now))
        conn.execute("INSERT INTO shops (id, merchant_id, name, currency, enabled, result_url,"
                     " created_at) VALUES (?1, ?1, ?2, 'RUB', 1, ?3, ?4)",
                     (str(m), f"baseline-{m}", SHOP_URL, now))
        n = max(bills_hot, bills_each) if m == 1 else bills_each
        conn.executemany(
            "INSERT INTO bills (id, merchant_id, shop_id, order_id, bill_type, currency, amount,"
            " active, status, payer_pays_commission, created_at, updated_at)"
            " VALUES (?1, ?2, ?2, 'o' || ?1, 'MULTI', 'RUB', ?3, 1, 'NEW', 0, ?4, ?4)",
            ((str(m * 1000000 + j), str(m), AMOUNT, now) for j in range(1, n + 1)))
    conn.execute("COMMIT")


def pay(conn, rng, merchants, bills):
    """One payment's rows; the caller holds the transaction."""
    m = rng.randint(1, merchants)
    bill = str(m * 1000000 + rng.randint(1, bills))
    merchant = str(m)
    pid = str(rng.randint(10**18, 2**63 - 2))
    tx = "pay_" + pid
    now = time.time_ns() // 1_000_000
    received = AMOUNT - COMMISSION
    if conn.execute(UPDATE_BILL, (now, bill)).rowcount != 1:
        raise RuntimeError(f"bill {bill} not payable")
    conn.execute(INSERT_PAYMENT, (pid, bill, merchant, AMOUNT, received, COMMISSION, now))
    conn.execute(INSERT_TX, (tx, pid, now))
    conn.execute(INSERT_POSTINGS, (tx, -AMOUNT, COMMISSION, merchant, received))
    conn.execute(UPSERT_BALANCE, (merchant, received, now))
    event = ('{"type":"payment_finished","payment_id":"%s","bill_id":"%s","order_id":"o%s",'
             '"status":"SUCCESS","amount":%d,"commission":%d,"currency":"RUB","custom":null}'
             % (pid, bill, bill, AMOUNT, COMMISSION))
    conn.execute(INSERT_OUTBOX, (pid, merchant, bill, SHOP_URL, event, now))


def run(conn, rng, seconds, per_commit, merchants, bills):
    """Payments for `seconds`, `per_commit` to a transaction: (payments, elapsed seconds)."""
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        conn.execute("BEGIN IMMEDIATE")
        for _ in range(per_commit):
            pay(conn, rng, merchants, bills)
        conn.execute("COMMIT")
        done += per_commit
        now = time.perf_counter()
        if now >= deadline:
            return done, now - start


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("db", help="SQLite file made by `paylink migrate`")
    ap.add_argument("--seconds", type=float, default=10.0, help="measured run (default 10)")
    ap.add_argument("--warmup", type=float, default=2.0, help="unmeasured run first (default 2)")
    ap.add_argument("--per-commit", type=int, default=1, help="payments per transaction")
    ap.add_argument("--merchants", type=int, default=1,
                    help="merchants the payments spread over (1: one hot balance row)")
    ap.add_argument("--bills", type=int, default=1000,
                    help="bills per merchant to pay (one merchant); spread runs use --bills-each")
    ap.add_argument("--bills-each", type=int, default=16, help="bills per merchant when spread")
    ap.add_argument("--seed", type=int, default=None, help="random seed (default: from time)")
    a = ap.parse_args()
    if a.per_commit < 1 or a.merchants < 1 or a.bills < 1 or a.bills_each < 1 or a.seconds <= 0:
        ap.error("--per-commit, --merchants, --bills, --bills-each and --seconds must be positive")
    conn = connect(a.db)
    bills = a.bills if a.merchants == 1 else a.bills_each
    seed(conn, a.merchants, a.bills, a.bills_each)
    rng = random.Random(a.seed)
    if a.warmup > 0:
        run(conn, rng, a.warmup, a.per_commit, a.merchants, bills)
    payments, elapsed = run(conn, rng, a.seconds, a.per_commit, a.merchants, bills)
    conn.close()
    print(f"PAYLINK_BASELINE backend=sqlite per_commit={a.per_commit} merchants={a.merchants} "
          f"payments={payments} seconds={elapsed:.2f} rate={payments / elapsed:.1f}")


if __name__ == "__main__":
    main()
