-- A block or a close spends every unused one-time card data link of the card
-- (Write::SpendCardSecrets): they are found by card.
CREATE INDEX card_secrets_card ON card_secrets (card_id) WHERE used_at IS NULL;
