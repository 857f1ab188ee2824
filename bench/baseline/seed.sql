-- Seeds the plain-SQL baseline's PostgreSQL database (made by `paylink migrate`) for
-- payment.pgbench: merchants and shops '1'..:merchants (shop id = merchant id), and MULTI bills
-- (payable again and again, as the bills of paylink's payment run) with id m * 1000000 + j:
-- j = 1..:bills_hot for merchant 1 (the one-merchant runs), 1..:bills_each for every merchant
-- (the spread runs). bench/baseline/sqlite_payments.py seeds SQLite the same way.
--   psql -v merchants=64 -v bills_hot=1000 -v bills_each=16 -v now=<unix ms> -f seed.sql
\set ON_ERROR_STOP 1
INSERT INTO merchants (id, name, verified, created_at)
SELECT m::text, 'baseline-' || m, 1, :now FROM generate_series(1, :merchants) m;
INSERT INTO shops (id, merchant_id, name, currency, enabled, result_url, created_at)
SELECT m::text, m::text, 'baseline-' || m, 'RUB', 1, 'http://127.0.0.1:18990/postback', :now
FROM generate_series(1, :merchants) m;
INSERT INTO bills (id, merchant_id, shop_id, order_id, bill_type, currency, amount, active, status,
    payer_pays_commission, created_at, updated_at)
SELECT (m * 1000000 + j)::text, m::text, m::text, 'o' || (m * 1000000 + j), 'MULTI', 'RUB', 10050,
    1, 'NEW', 0, :now, :now
FROM generate_series(1, :merchants) m,
     generate_series(1, CASE WHEN m = 1 THEN greatest(:bills_hot, :bills_each) ELSE :bills_each END) j;
VACUUM ANALYZE;
