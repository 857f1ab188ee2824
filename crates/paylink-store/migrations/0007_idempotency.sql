-- Idempotency keys: a merchant's write sent with an `Idempotency-Key` header is remembered with
-- a fingerprint of the request and, once done, its answer, which a retry with the same key gets
-- again instead of a second effect. The answer (or the reference to the object made) is
-- written in the same transaction as the effect.
--   state: 'running' while a request holds the claim (claim_token, until leased_until; a
--          claimer that died is taken over when its lease ends), 'done' once answered.
--   reference: the object whose effect is done while the answer is not yet known (a refund
--          waiting for the acquirer).
--   status, body: the answer, replayed byte for byte.
-- Rows older than the configured retention are forgotten (claimed afresh, and purged).
CREATE TABLE requests (
    merchant_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    state TEXT NOT NULL,
    claim_token TEXT,
    leased_until BIGINT NOT NULL,
    reference TEXT,
    status BIGINT,
    body TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, idempotency_key)
);
CREATE INDEX requests_created ON requests (created_at);
