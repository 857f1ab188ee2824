-- Postbacks: the outbox written with the state change it reports, and every delivery attempt.
-- Sealed secrets (AES-256-GCM under the instance key): the API token (postbacks are signed
-- with it) and each shop's Standard Webhooks key.

ALTER TABLE api_tokens ADD COLUMN sealed TEXT;
ALTER TABLE shops ADD COLUMN webhook_key_sealed TEXT;

CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    shop_id TEXT NOT NULL REFERENCES shops (id),
    bill_id TEXT,
    subject_id TEXT NOT NULL,
    url TEXT NOT NULL,
    fields TEXT NOT NULL,
    state TEXT NOT NULL,
    -- Attempts in the current round of the retry schedule, and in all rounds.
    attempts BIGINT NOT NULL DEFAULT 0,
    total_attempts BIGINT NOT NULL DEFAULT 0,
    next_at BIGINT NOT NULL,
    leased_until BIGINT,
    lease_owner TEXT,
    last_status BIGINT,
    delivered_at BIGINT,
    created_at BIGINT NOT NULL
);
-- Only what is waiting: claims scan it in due order and stop at their limit.
CREATE INDEX outbox_due ON outbox (next_at) WHERE state = 'pending';
CREATE INDEX outbox_bill ON outbox (bill_id, created_at);

CREATE TABLE outbox_attempts (
    outbox_id TEXT NOT NULL REFERENCES outbox (id),
    number BIGINT NOT NULL,
    attempted_at BIGINT NOT NULL,
    http_status BIGINT,
    latency_ms BIGINT NOT NULL,
    error TEXT,
    response_excerpt TEXT NOT NULL,
    PRIMARY KEY (outbox_id, number)
);
