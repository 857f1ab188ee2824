-- SMS notices are a partner's: no merchant.
ALTER TABLE outbox ALTER COLUMN merchant_id DROP NOT NULL;
ALTER TABLE outbox ADD COLUMN partner_id TEXT REFERENCES partners (id);
CREATE INDEX outbox_partner ON outbox (partner_id, created_at) WHERE partner_id IS NOT NULL;
