-- Bills by order id, newest first (the dashboard's and the API's search by order id): the
-- index covers the order, so SQLite no longer walks all of a merchant's bills by date to find
-- one order id (measured: 650-800 ms p99 at 10^5 bills without statistics; see
-- docs/benchmarks.md, "Web pages").
DROP INDEX bills_merchant_order;
CREATE INDEX bills_merchant_order ON bills (merchant_id, order_id, created_at, id);
