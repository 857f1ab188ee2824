-- The Cardlink searches (bill/search, payment/search, bill/payments) and the web app's lists
-- without a walk of all of a merchant's rows, whatever a filter leaves out (issue 15, "Flat with
-- size"; plans and figures in docs/benchmarks.md). Each index is scoped to the merchant, as
-- every search is, and ends with the paging order (created_at, id), so that a page is an index
-- range read in order. SQLite has no statistics (paylink never runs ANALYZE): its planner
-- prefers the index with the most equality columns, so the filter's columns come before
-- created_at here.
--
-- By shop: before, the merchant's rows newest first, each checked for its shop (a shop with 1%
-- of the bills read 100 rows per row found).
CREATE INDEX bills_merchant_shop ON bills (merchant_id, shop_id, created_at, id);
CREATE INDEX payments_merchant_shop ON payments (merchant_id, shop_id, created_at, id);
-- By bill (payment/search?bill_id=, bill/payments, and payment/search?bill_order_id= once the
-- bills with that order id are found): SQLite chose payments_merchant_created over
-- payments_bill_created (bill_id, created_at, id), both one equality column, and read all the
-- merchant's payments. This one replaces it: no query looks payments up by bill without the
-- merchant (the card-testing count by bill has its partial payments_failed_by_bill), so the
-- payment path keeps the same number of indexes on payments' bill.
DROP INDEX payments_bill_created;
CREATE INDEX payments_merchant_bill ON payments (merchant_id, bill_id, created_at, id);
