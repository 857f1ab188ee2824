-- A refund remembers what it took from hold (the rest came from available), so that a refusal
-- by the acquirer puts each part back where it came from. Refunds made before this answer as
-- they did then: all back to available.
ALTER TABLE refunds ADD COLUMN from_hold BIGINT NOT NULL DEFAULT 0;

-- Settlements get an id of their own: a payment's money settles under the payment's id (as
-- before), and what a refused refund returned to hold under `returned_<refund id>`. Rebuilt,
-- because SQLite cannot change a primary key in place.
CREATE TABLE settlements_0009 (
    id TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL REFERENCES payments (id),
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    currency TEXT NOT NULL,
    amount BIGINT NOT NULL CHECK (amount > 0),
    due_at BIGINT NOT NULL,
    settled_at BIGINT
);
INSERT INTO settlements_0009 (id, payment_id, merchant_id, currency, amount, due_at, settled_at)
    SELECT payment_id, payment_id, merchant_id, currency, amount, due_at, settled_at
    FROM settlements;
DROP TABLE settlements;
ALTER TABLE settlements_0009 RENAME TO settlements;
CREATE INDEX settlements_due ON settlements (due_at) WHERE settled_at IS NULL;
CREATE INDEX settlements_payment ON settlements (payment_id);

-- Card testing: the address a payment attempt came from, so that declined card payments can
-- be counted per client address and per bill within a window. Partial indexes: the counts
-- touch only failed payments, however many a busy bill has taken.
ALTER TABLE payments ADD COLUMN client_addr TEXT;
CREATE INDEX payments_failed_by_client ON payments (client_addr, created_at)
    WHERE status = 'FAIL' AND client_addr IS NOT NULL;
CREATE INDEX payments_failed_by_bill ON payments (bill_id, created_at) WHERE status = 'FAIL';
