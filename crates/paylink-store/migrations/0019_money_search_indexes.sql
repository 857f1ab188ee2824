-- payout/search and refund/search the way migration 18 made the bill and payment searches:
-- each filter an index range read in the paging order (created_at, id), scoped to the
-- merchant, with the filter's column an equality column before created_at so that SQLite
-- without statistics prefers it (docs/benchmarks.md, "Flat with size").
--
-- By status: before, the merchant's payouts or refunds newest first, each checked for its
-- status, so a rare status (FAIL among many SUCCESS) read every one of them.
CREATE INDEX payouts_merchant_status ON payouts (merchant_id, status, created_at, id);
CREATE INDEX refunds_merchant_status ON refunds (merchant_id, status, created_at, id);
-- By payment: SQLite weighed refunds_payment (payment_id) and refunds_merchant_created alike
-- (one equality column each) and chose the one that needs no sort, reading every refund of the
-- merchant. refunds_payment stays: the refunds of a payment are looked up without the merchant.
CREATE INDEX refunds_merchant_payment ON refunds (merchant_id, payment_id, created_at, id);
