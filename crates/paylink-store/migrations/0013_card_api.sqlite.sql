-- SMS notices are a partner's: outbox.merchant_id becomes nullable and partner_id appears.
-- SQLite cannot drop NOT NULL, so the outbox is rebuilt with its attempts, as in
-- 0003_money.sqlite.sql (children first; renaming the new outbox renames the references).
CREATE TABLE outbox_rebuilt (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    merchant_id TEXT REFERENCES merchants (id),
    shop_id TEXT REFERENCES shops (id),
    bill_id TEXT,
    subject_id TEXT NOT NULL,
    url TEXT NOT NULL,
    fields TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    total_attempts BIGINT NOT NULL DEFAULT 0,
    next_at BIGINT NOT NULL,
    leased_until BIGINT,
    lease_owner TEXT,
    last_status BIGINT,
    delivered_at BIGINT,
    created_at BIGINT NOT NULL,
    dialect TEXT NOT NULL DEFAULT 'cardlink',
    event TEXT,
    partner_id TEXT REFERENCES partners (id)
);
INSERT INTO outbox_rebuilt (id, kind, merchant_id, shop_id, bill_id, subject_id, url, fields,
    state, attempts, total_attempts, next_at, leased_until, lease_owner, last_status,
    delivered_at, created_at, dialect, event)
    SELECT id, kind, merchant_id, shop_id, bill_id, subject_id, url, fields, state, attempts,
    total_attempts, next_at, leased_until, lease_owner, last_status, delivered_at, created_at,
    dialect, event FROM outbox;
CREATE TABLE outbox_attempts_rebuilt (
    outbox_id TEXT NOT NULL REFERENCES outbox_rebuilt (id),
    number BIGINT NOT NULL,
    attempted_at BIGINT NOT NULL,
    http_status BIGINT,
    latency_ms BIGINT NOT NULL,
    error TEXT,
    response_excerpt TEXT NOT NULL,
    PRIMARY KEY (outbox_id, number)
);
INSERT INTO outbox_attempts_rebuilt SELECT outbox_id, number, attempted_at, http_status,
    latency_ms, error, response_excerpt FROM outbox_attempts;
DROP TABLE outbox_attempts;
DROP TABLE outbox;
ALTER TABLE outbox_rebuilt RENAME TO outbox;
ALTER TABLE outbox_attempts_rebuilt RENAME TO outbox_attempts;
CREATE INDEX outbox_due ON outbox (next_at) WHERE state = 'pending';
CREATE INDEX outbox_bill ON outbox (bill_id, created_at);
CREATE INDEX outbox_partner ON outbox (partner_id, created_at) WHERE partner_id IS NOT NULL;
