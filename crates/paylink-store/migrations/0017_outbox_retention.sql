-- Retention of the outbox: notices in a final state (delivered, failed, kept) longer than
-- `[postbacks] retention_days` are removed with their attempts, after being added to this
-- daily summary, so that the history of deliveries outlives the rows.
--
-- One row per UTC day of the notices' creation (`day`: ms since the epoch at 00:00 UTC), owner
-- (`merchant_id` or, for the Card API's SMS, `partner_id`; '' where the notice has none, as
-- emails), kind (payment, payout, refund, sms, email) and final state. `attempts` sums the
-- notices' delivery attempts, `delay_ms` the time from creation to delivery of the delivered
-- ones (a day's mean delay is delay_ms / notices).
CREATE TABLE outbox_history (
    day BIGINT NOT NULL,
    merchant_id TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    notices BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    delay_ms BIGINT NOT NULL,
    PRIMARY KEY (day, merchant_id, partner_id, kind, state)
);
-- What retention looks for: the finished notices, oldest first (`next_at` is when a notice
-- reached its final state). Pending rows stay out of it, so the payment path does not pay
-- for it; a delivery adds one entry.
CREATE INDEX outbox_done ON outbox (next_at) WHERE state <> 'pending';
