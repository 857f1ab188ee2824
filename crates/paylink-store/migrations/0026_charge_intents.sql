-- A charge asked of the acquirer is kept here until its answer is recorded (in the record's
-- own transaction), so that one whose recorder died, or whose answer never came, is found and
-- asked about again by the money worker instead of being lost. `terms`: what the record needs
-- (price, rate, booking, payer), written by the checkout; `process_at`: the asker's lease.
CREATE TABLE charge_intents (
    payment_id TEXT PRIMARY KEY,
    bill_id TEXT NOT NULL,
    terms TEXT NOT NULL,
    process_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX charge_intents_due ON charge_intents (process_at);
