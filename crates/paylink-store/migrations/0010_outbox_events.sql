-- The outbox holds events, not wire bodies: each row names the dialect that renders it for its
-- recipient and keeps the event as JSON (see `events.rs`). Rows written before this migration
-- keep their `fields` (the Cardlink form fields, unsigned, form-urlencoded) and no event; they
-- are rendered from those fields, so a pending or failed postback still goes out byte for byte
-- as it would have. Later rows leave `fields` empty.
ALTER TABLE outbox ADD COLUMN dialect TEXT NOT NULL DEFAULT 'cardlink';
ALTER TABLE outbox ADD COLUMN event TEXT;
