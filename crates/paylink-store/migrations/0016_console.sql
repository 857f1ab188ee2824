-- The operator console (issue 14).
--   audit_log (in the backend's file: its seq is each backend's own counter): every operator
--     action (console and CLI) in the order it was written, append-only like the ledger
--     (triggers refuse UPDATE and DELETE).
--   fx_rate_history: every rate ever set, for the console's history.
--   web_accounts.disabled_at: an operator whose access was taken away (kept for the log).
--   disputes.decision: an operator's decision (refund, reject, chargeback), taken once.
CREATE TABLE fx_rate_history (
    base TEXT NOT NULL,
    quote TEXT NOT NULL,
    rate_e8 BIGINT NOT NULL,
    set_at BIGINT NOT NULL
);
CREATE INDEX fx_rate_history_pair ON fx_rate_history (base, quote, set_at);
INSERT INTO fx_rate_history (base, quote, rate_e8, set_at)
    SELECT base, quote, rate_e8, updated_at FROM fx_rates;
ALTER TABLE web_accounts ADD COLUMN disabled_at BIGINT;
ALTER TABLE disputes ADD COLUMN decision TEXT;
-- The console's queues.
CREATE INDEX payouts_status_created ON payouts (status, created_at);
