-- The Card API dialect: partners, their clients, cards, card transactions, partners' requests,
-- gift-card OTPs and one-time card data links. Money lives in the ledger (owner kinds partner
-- and card); these tables hold what the API shows and the guards' state.
--   partners: id is the auth_id; key_sealed the HMAC key sealed under the instance key (bound
--     to the id); currencies ('KZT,USD'), products ('1000,2000') and bin_ranges
--     ('400000,22022000-22022099') are what the partner may issue.
--   card_requests: one row per (partner, request_id): the primary key refuses a repeat in the
--     same transaction as the request's effect. produced is JSON (the ids it made).
--   cards: the PAN, expiry and CVV only sealed (data_sealed, bound to the card id); the mask and
--     a keyed fingerprint (unique: no PAN twice) in the clear. status is the wire code.
--   card_transactions: amounts in minor units; captured/released/refunded are guarded sums.
--   card_otps: a keyed digest of the code, never the code.
--   card_secrets: the SHA-256 of a one-time link's token.
-- The outbox gains partner_id and loses merchant_id's NOT NULL (per backend, below): an SMS is
-- a partner's message, not a merchant's.
CREATE TABLE partners (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    key_sealed TEXT NOT NULL,
    currencies TEXT NOT NULL,
    products TEXT NOT NULL,
    bin_ranges TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE card_requests (
    partner_id TEXT NOT NULL REFERENCES partners (id),
    request_id TEXT NOT NULL,
    method TEXT NOT NULL,
    status TEXT NOT NULL,
    error_code TEXT,
    error_description TEXT,
    produced TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (partner_id, request_id)
);
CREATE TABLE card_clients (
    id TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL REFERENCES partners (id),
    product_id BIGINT NOT NULL,
    client_type BIGINT NOT NULL,
    resident BIGINT NOT NULL,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    middle_name TEXT,
    phone TEXT NOT NULL,
    birthdate TEXT,
    email TEXT,
    country TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX card_clients_partner ON card_clients (partner_id, created_at);
CREATE TABLE cards (
    id TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL REFERENCES partners (id),
    client_id TEXT REFERENCES card_clients (id),
    product_id BIGINT NOT NULL,
    card_type TEXT NOT NULL,
    gift_product TEXT,
    currency TEXT NOT NULL,
    status BIGINT NOT NULL,
    -- Bumped by every movement of the card's money: a close that read the balance at one
    -- version refuses to apply at another (the money it returns would be stale).
    version BIGINT NOT NULL DEFAULT 0,
    card_token TEXT NOT NULL UNIQUE,
    pan_fingerprint TEXT NOT NULL UNIQUE,
    card_mask TEXT NOT NULL,
    holder_name TEXT,
    holder_phone TEXT,
    data_sealed TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX cards_partner ON cards (partner_id, created_at, id);
CREATE INDEX cards_client ON cards (client_id, created_at, id);
CREATE TABLE card_transactions (
    id TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL REFERENCES partners (id),
    card_id TEXT NOT NULL REFERENCES cards (id),
    kind TEXT NOT NULL,
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    captured BIGINT NOT NULL,
    released BIGINT NOT NULL,
    refunded BIGINT NOT NULL,
    parent_id TEXT REFERENCES card_transactions (id),
    description TEXT NOT NULL,
    merchant_name TEXT,
    external_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX card_transactions_card ON card_transactions (card_id, created_at, id);
CREATE TABLE card_otps (
    card_id TEXT PRIMARY KEY REFERENCES cards (id),
    digest TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE card_secrets (
    digest TEXT PRIMARY KEY,
    card_id TEXT NOT NULL REFERENCES cards (id),
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL
);
