"""Postback delivery figures from paylink's own records: for postbacks created at or after
START_MS, how many were delivered, at what rate, and how long after the payment committed
each arrived (first successful attempt's start plus its latency, minus the outbox row's
creation). Reads SQLite directly, or rows piped from psql (`created|arrived` per line).

usage: postback_delay.py START_MS (--sqlite PATH | --rows FILE)
prints: PAYLINK_POSTBACKS created=N delivered=N pending=N rate=R p50_ms=X p99_ms=Y max_ms=Z
"""
import sqlite3
import sys

QUERY = """
SELECT o.created_at, MIN(a.attempted_at + a.latency_ms)
FROM outbox o LEFT JOIN outbox_attempts a
  ON a.outbox_id = o.id AND a.http_status BETWEEN 200 AND 299
WHERE o.created_at >= ?
GROUP BY o.id, o.created_at
"""


def main():
    start = int(sys.argv[1])
    if sys.argv[2] == "--sqlite":
        db = sqlite3.connect(f"file:{sys.argv[3]}?mode=ro", uri=True)
        rows = db.execute(QUERY, (start,)).fetchall()
    else:
        rows = []
        for line in open(sys.argv[3]):
            created, _, arrived = line.strip().partition("|")
            if created:
                rows.append((int(created), int(arrived) if arrived else None))
    delays = sorted(a - c for c, a in rows if a is not None)
    arrived = [a for _, a in rows if a is not None]
    created = len(rows)
    pending = created - len(delays)

    def pct(p):
        if not delays:
            return 0
        return delays[min(len(delays) - 1, int(round(p / 100 * (len(delays) - 1))))]

    span = (max(arrived) - min(c for c, _ in rows)) / 1000 if arrived else 0
    rate = len(delays) / span if span > 0 else 0
    print(
        f"PAYLINK_POSTBACKS created={created} delivered={len(delays)} pending={pending} "
        f"rate={rate:.0f} p50_ms={pct(50)} p99_ms={pct(99)} max_ms={delays[-1] if delays else 0}"
    )


main()
