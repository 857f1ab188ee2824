#!/usr/bin/env python3
"""Bulk loader for bench/size.sh: fills a paylink database (made by `paylink merchant create`)
with N bills and N payments spread over several merchants, shops and months, fast.

SQLite: one transaction, prepared INSERTs through Python's sqlite3 (synchronous=OFF and a big
page cache for the load only). PostgreSQL: COPY through `psql` (each table's secondary indexes
dropped before and built after, the foreign keys' triggers skipped), then VACUUM (ANALYZE) (what
autovacuum would have done on a database that grew over months; without it autovacuum starts
during the measurement, and the first reads of each page set its hint bits). SQLite gets no ANALYZE: paylink never
runs it, so a real database that grew this big has no statistics either.

Layout (deterministic for a given N):
  - the benchmark merchant (`--merchant`, its shop `--shop`), plus two more shops of its own:
    `side` (19% of its rows) and `small` (1%); its main shop takes the other 80%;
  - `--others` more merchants (default 9) with one shop each, taking the rest of the rows;
  - the benchmark merchant owns `--share` percent of the rows (default 30);
  - bill n is created at start + n * span / N (+ jitter), start = now - 365 days, span 360 days,
    so the rows are in time order as a real table's are and end five days before now;
  - order ids `ord-<n>` (every 50th bill has none), 90% NORMAL / 10% MULTI, amounts 100-100,000
    RUB, half with a payer email;
  - payment n pays bill n, 1-30 minutes after it: 85% SUCCESS (bill SUCCESS), 15% FAIL
    (error 5 or 51; the bill stays NEW), cards from 200,000 payers (masked number and
    fingerprint), client addresses from 65,536;
  - every 10th n a payout of bill n's merchant an hour after the bill, order id `po-<n>`: 90%
    SUCCESS, 8% DECLINED, 2% FAIL;
  - every 20th successful payment a refund two days later: 97% SUCCESS, 3% FAIL.
Ids are 10 base62 characters like paylink's, a bijection of n (so unique) in a scrambled order
(so the primary keys fill as randomly as with paylink's random ids).

  load.py --sqlite PATH --merchant M --shop S --rows N [--first F] [--last L] [--now MS]
  load.py --postgres DBNAME [--pg-host H --pg-port P --pg-user U] --merchant M --shop S --rows N
  --rows 0 adds only the merchants and shops (the fresh database's layout). --first F and
  --last L add only rows F..L-1 of the N laid out (size.sh: --last 10000 for the fresh database,
  then --first 10000 with the same --now).
"""

import argparse
import os
import subprocess
import sqlite3
import sys
import time

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
SPACE = 62**10
# Odd, not a multiple of 31: n -> (n * MULT + offset) mod 62^10 is a bijection.
MULT = 650_835_421_617_829_173
DAY_MS = 86_400_000


def base62(x):
    out = []
    for _ in range(10):
        x, r = divmod(x, 62)
        out.append(ALPHABET[r])
    return "".join(out)


def make_id(n, offset):
    return base62((n * MULT + offset) % SPACE)


def mix(n):
    # A cheap 64-bit hash of n (splitmix64's finalizer) for the per-row choices.
    z = (n + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return z ^ (z >> 31)


BILL_COLS = (
    "id, merchant_id, shop_id, order_id, description, bill_type, currency, amount, active,"
    " status, payment_method, payer_pays_commission, payer_email, created_at, updated_at"
)
PAYMENT_COLS = (
    "id, bill_id, merchant_id, shop_id, method, status, amount, amount_received, commission,"
    " account_amount, account_currency, refunded_amount, currency, from_card, card_fingerprint,"
    " error_code, error_message, created_at, updated_at, client_addr"
)
PAYOUT_COLS = (
    "id, merchant_id, order_id, group_id, part, kind, payout_account_id, account_type,"
    " account_identifier, fingerprint, sealed, bank_member_id, holder, status, amount, commission,"
    " currency, day_key, month_key, error_message, leased_until, process_at, created_at, updated_at"
)
REFUND_COLS = (
    "id, payment_id, bill_id, merchant_id, shop_id, status, amount, currency, account_amount,"
    " account_currency, full_refund, error_message, process_at, from_hold, created_at, updated_at"
)


class Layout:
    def __init__(self, merchant, shop, others, share, now):
        self.merchant = merchant
        self.shop = shop
        self.side = make_id(1, 0x3C4D5E6F70819203)
        self.small = make_id(2, 0x3C4D5E6F70819203)
        self.others = [
            (make_id(10 + i, 0x4D5E6F7081920314), make_id(10 + i, 0x5E6F708192031425))
            for i in range(others)
        ]
        self.share = share
        self.now = now

    def merchants_sql(self):
        # Idempotent: size.sh adds them to the fresh database, then loads rows into it.
        rows = []
        for i, (m, s) in enumerate(self.others):
            rows.append(
                f"INSERT INTO merchants (id, name, verified, created_at) "
                f"VALUES ('{m}', 'size-other-{i}', 1, {self.now - 400 * DAY_MS}) ON CONFLICT DO NOTHING;"
            )
            rows.append(
                f"INSERT INTO shops (id, merchant_id, name, currency, enabled, created_at) "
                f"VALUES ('{s}', '{m}', 'size-other-{i}', 'RUB', 1, {self.now - 400 * DAY_MS}) ON CONFLICT DO NOTHING;"
            )
        for s, name in ((self.side, "size-side"), (self.small, "size-small")):
            rows.append(
                f"INSERT INTO shops (id, merchant_id, name, currency, enabled, created_at) "
                f"VALUES ('{s}', '{self.merchant}', '{name}', 'RUB', 1, {self.now - 400 * DAY_MS}) ON CONFLICT DO NOTHING;"
            )
        return rows

    def owner(self, h):
        if h % 100 < self.share:
            pick = (h >> 8) % 100
            shop = self.shop if pick < 80 else (self.side if pick < 99 else self.small)
            return self.merchant, shop
        return self.others[(h >> 16) % len(self.others)]


def rows(layout, n_rows, first=0, last=None):
    """(bill, payment, payout or None, refund or None) tuples of rows first..last-1 of n_rows,
    oldest first."""
    start = layout.now - 365 * DAY_MS
    step = 360 * DAY_MS // max(n_rows, 1)
    for n in range(first, min(n_rows, n_rows if last is None else last)):
        h = mix(n)
        merchant, shop = layout.owner(h)
        created = start + n * step + (h >> 40) % max(step, 1)
        bill_id = make_id(n, 0x1F2E3D4C5B6A7988)
        amount = (100 + (h >> 20) % 99_901) * 100
        multi = (h >> 12) % 10 == 0
        paid_ok = (h >> 28) % 100 < 85
        status = "SUCCESS" if paid_ok else "NEW"
        paid_at = created + 60_000 + (h >> 34) % 1_740_000
        bill = (
            bill_id,
            merchant,
            shop,
            None if n % 50 == 0 else f"ord-{n}",
            f"order {n}",
            "MULTI" if multi else "NORMAL",
            "RUB",
            amount,
            1,
            status,
            "BANK_CARD",
            0,
            f"payer{(h >> 44) % 1_000_000}@example.com" if (h >> 3) % 2 else None,
            created,
            paid_at,
        )
        card = (h >> 24) % 200_000
        commission = amount * 35 // 1000 if paid_ok else 0
        payment = (
            make_id(n, 0x2A3B4C5D6E7F8091),
            bill_id,
            merchant,
            shop,
            "BANK_CARD",
            "SUCCESS" if paid_ok else "FAIL",
            amount,
            amount if paid_ok else 0,
            commission,
            amount - commission if paid_ok else 0,
            "RUB",
            0,
            "RUB",
            f"4{card:05d}******{card % 10000:04d}",
            f"{mix(card + 1_000_000_007):016x}{mix(card):016x}" * 2,
            None if paid_ok else (5 if (h >> 30) % 2 else 51),
            None if paid_ok else ("declined" if (h >> 30) % 2 else "insufficient funds"),
            paid_at,
            paid_at,
            f"10.{(h >> 48) % 256}.{(h >> 56) % 256}.{card % 250 + 1}",
        )
        payout = None
        if n % 10 == 3:
            g = mix(n + 7_777_777_777) % 100
            status = "SUCCESS" if g < 90 else ("DECLINED" if g < 98 else "FAIL")
            at = created + 3_600_000
            day = time.strftime("%Y-%m-%d", time.gmtime(at // 1000))
            payout = (
                make_id(n, 0x3B4C5D6E7F809112),
                merchant,
                f"po-{n}",
                make_id(n, 0x4C5D6E7F80911223),
                1,
                "regular",
                None,
                "card",
                f"5{card:05d}******{card % 10000:04d}",
                f"{mix(card + 2_000_000_011):016x}{mix(card + 3):016x}" * 2,
                None,
                None,
                None,
                status,
                amount // 2,
                amount // 100,
                "RUB",
                day,
                day[:7],
                "declined by the bank" if status == "FAIL" else None,
                None,
                None,
                at,
                at + 60_000,
            )
        refund = None
        if paid_ok and n % 20 == 7:
            at = paid_at + 2 * DAY_MS
            ok = mix(n + 9_999_999_967) % 100 < 97
            refund = (
                make_id(n, 0x5D6E7F8091122334),
                payment[0],
                bill_id,
                merchant,
                shop,
                "SUCCESS" if ok else "FAIL",
                amount,
                "RUB",
                amount,
                "RUB",
                1,
                None if ok else "declined",
                None,
                0,
                at,
                at + 60_000,
            )
        yield bill, payment, payout, refund


def progress(what, done, total, t0):
    if total and (done % 1_000_000 == 0 or done == total):
        rate = done / max(time.time() - t0, 1e-9)
        print(f"[load] {what}: {done}/{total} ({rate:,.0f}/s)", file=sys.stderr, flush=True)


def load_sqlite(path, layout, n_rows, first, last):
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA synchronous = OFF")
    db.execute("PRAGMA cache_size = -4000000")  # KiB: 4 GB, the indexes stay in memory
    db.execute("PRAGMA busy_timeout = 10000")
    db.execute("BEGIN IMMEDIATE")
    for stmt in layout.merchants_sql():
        db.execute(stmt)
    bill_sql = f"INSERT INTO bills ({BILL_COLS}) VALUES ({', '.join(['?'] * 15)})"
    pay_sql = f"INSERT INTO payments ({PAYMENT_COLS}) VALUES ({', '.join(['?'] * 20)})"
    payout_sql = f"INSERT INTO payouts ({PAYOUT_COLS}) VALUES ({', '.join(['?'] * 24)})"
    refund_sql = f"INSERT INTO refunds ({REFUND_COLS}) VALUES ({', '.join(['?'] * 16)})"
    sqls = (bill_sql, pay_sql, payout_sql, refund_sql)
    t0 = time.time()
    batches, done = ([], [], [], []), 0

    def flush():
        for sql, batch in zip(sqls, batches):
            db.executemany(sql, batch)
            batch.clear()

    total = min(n_rows, last) - first
    for row in rows(layout, n_rows, first, last):
        for batch, value in zip(batches, row):
            if value is not None:
                batch.append(value)
        done += 1
        if done % 50_000 == 0:
            flush()
            progress("rows", done, total, t0)
    flush()
    progress("rows", done, total, t0)
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def copy_text(v):
    if v is None:
        return "\\N"
    return str(v)  # our values hold no tab, newline or backslash


def secondary_indexes(base, table):
    """(name, CREATE INDEX statement) of `table`'s indexes that back no constraint."""
    out = subprocess.run(base + ["-F", "\t", "-c",
                                 "SELECT indexrelid::regclass, pg_get_indexdef(indexrelid) FROM pg_index "
                                 f"WHERE indrelid = '{table}'::regclass AND NOT EXISTS "
                                 "(SELECT 1 FROM pg_constraint WHERE conindid = indexrelid)"],
                         check=True, capture_output=True, text=True).stdout
    return [tuple(l.split("\t", 1)) for l in out.splitlines() if l]


def load_postgres(args, layout, n_rows, first, last):
    base = ["psql", "-h", args.pg_host, "-p", str(args.pg_port), "-U", args.pg_user,
            "-d", args.postgres, "-v", "ON_ERROR_STOP=1", "-qAtX"]
    subprocess.run(base + ["-c", "\n".join(layout.merchants_sql())], check=True)
    total = min(n_rows, last) - first
    if total <= 0:
        return

    def line(values):
        return "\t".join(copy_text(v) for v in values)

    # Tables in the order of their references, each one's rows piped into one psql's COPY;
    # the payouts and refunds (a tenth and a twentieth as many) are kept from the payments'
    # pass rather than generating every row a third and fourth time.
    later = {"payouts": [], "refunds": []}
    for table, cols, pick in (("bills", BILL_COLS, 0), ("payments", PAYMENT_COLS, 1),
                              ("payouts", PAYOUT_COLS, 2), ("refunds", REFUND_COLS, 3)):
        t0 = time.time()
        indexes = secondary_indexes(base, table)
        if indexes:
            subprocess.run(base + ["-c", "; ".join(f"DROP INDEX {name}" for name, _ in indexes)],
                           check=True)
        # The rows are consistent by construction: the foreign keys' per-row triggers are
        # skipped (replica role), and the secondary indexes are built once after the COPY
        # rather than grown row by row (at 10^7 rows, hours against minutes).
        p = subprocess.Popen(base + ["-c", "SET session_replication_role = replica",
                                     "-c", f"COPY {table} ({cols}) FROM STDIN"],
                             stdin=subprocess.PIPE, text=True, bufsize=1 << 20)
        if table in later:
            p.stdin.write("".join(l + "\n" for l in later[table]))
        else:
            chunk, done = [], 0
            for row in rows(layout, n_rows, first, last):
                chunk.append(line(row[pick]))
                if pick == 1:
                    for name, value in (("payouts", row[2]), ("refunds", row[3])):
                        if value is not None:
                            later[name].append(line(value))
                if len(chunk) == 50_000:
                    p.stdin.write("\n".join(chunk) + "\n")
                    done += len(chunk)
                    chunk = []
                    progress(table, done, total, t0)
            if chunk:
                p.stdin.write("\n".join(chunk) + "\n")
                done += len(chunk)
                progress(table, done, total, t0)
        p.stdin.close()
        if p.wait() != 0:
            sys.exit(f"[load] COPY {table} failed")
        if indexes:
            print(f"[load] {table}: building {len(indexes)} indexes", file=sys.stderr, flush=True)
            subprocess.run(base + ["-c", "SET maintenance_work_mem = '512MB'"]
                           + [arg for _, ddl in indexes for arg in ("-c", ddl)], check=True)
    print("[load] VACUUM (ANALYZE)", file=sys.stderr, flush=True)
    subprocess.run(base + [arg for t in ("bills", "payments", "payouts", "refunds")
                           for arg in ("-c", f"VACUUM (ANALYZE) {t}")], check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--sqlite", metavar="PATH")
    where.add_argument("--postgres", metavar="DBNAME")
    ap.add_argument("--pg-host", default=os.environ.get("PG_HOST", "127.0.0.1"))
    ap.add_argument("--pg-port", default=os.environ.get("PG_PORT", "5432"))
    ap.add_argument("--pg-user", default=os.environ.get("PG_USER", "postgres"))
    ap.add_argument("--merchant", required=True, help="the benchmark merchant's id")
    ap.add_argument("--shop", required=True, help="the benchmark merchant's shop")
    ap.add_argument("--rows", type=int, required=True, help="bills, and as many payments")
    ap.add_argument("--first", type=int, default=0,
                    help="the first row to add (rows before it added by an earlier --last FIRST)")
    ap.add_argument("--last", type=int, default=None,
                    help="add rows up to this one, not including it (default: --rows)")
    ap.add_argument("--others", type=int, default=9, help="other merchants")
    ap.add_argument("--share", type=int, default=30, help="%% of rows for the benchmark merchant")
    ap.add_argument("--now", type=int, default=int(time.time() * 1000), help="unix ms")
    ap.add_argument("--print-shops", action="store_true",
                    help="print the benchmark merchant's side and small shop ids and exit")
    args = ap.parse_args()
    layout = Layout(args.merchant, args.shop, args.others, args.share, args.now)
    if args.print_shops:
        print(layout.side, layout.small)
        return
    t0 = time.time()
    last = args.rows if args.last is None else args.last
    if args.sqlite:
        load_sqlite(args.sqlite, layout, args.rows, args.first, last)
    else:
        load_postgres(args, layout, args.rows, args.first, last)
    n = max(min(args.rows, last) - args.first, 0)
    print(f"[load] {n} bills and {n} payments (and their payouts and refunds) in {time.time() - t0:.0f} s",
          file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
