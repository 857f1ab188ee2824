-- The web app (issue 13; operators of issue 14 use the same account tables):
--   web_accounts: kind 'merchant' (merchant_id set) or 'operator' (role set); email normalised,
--     unique per kind; password_hash argon2id (PHC) or NULL until an invitation is accepted;
--     totp_sealed/totp_last_step an operator's second factor.
--   web_sessions: the SHA-256 of each session cookie's token, never the token; each session has
--     its CSRF token; revoked_at ends it early.
--   web_links: one-time links (invitation, password reset) by the SHA-256 of their token.
--   attempts: rate-limited events by subject (a failed sign-in per email and per client address,
--     a payer's charge search per address), counted in a sliding window.
CREATE TABLE web_accounts (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    merchant_id TEXT REFERENCES merchants (id),
    email TEXT NOT NULL,
    password_hash TEXT,
    role TEXT,
    totp_sealed TEXT,
    totp_last_step BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (kind, email)
);
CREATE INDEX web_accounts_merchant ON web_accounts (merchant_id);
CREATE TABLE web_sessions (
    digest TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES web_accounts (id),
    csrf TEXT NOT NULL,
    address TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX web_sessions_account ON web_sessions (account_id, created_at);
CREATE TABLE web_links (
    digest TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES web_accounts (id),
    purpose TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE TABLE attempts (
    subject TEXT NOT NULL,
    id TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (subject, id)
);
CREATE INDEX attempts_subject ON attempts (subject, at);
CREATE INDEX attempts_at ON attempts (at);
-- Disputes (the payers' "didn't buy anything?" form): merchant_id and payment_id are NULL when
-- the payer wrote without a charge; status open / answered / closed; every message kept.
CREATE TABLE disputes (
    id TEXT PRIMARY KEY,
    merchant_id TEXT REFERENCES merchants (id),
    payment_id TEXT REFERENCES payments (id),
    email TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX disputes_merchant ON disputes (merchant_id, created_at);
CREATE INDEX disputes_status ON disputes (status, created_at);
CREATE TABLE dispute_messages (
    dispute_id TEXT NOT NULL REFERENCES disputes (id),
    seq BIGINT NOT NULL,
    author TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (dispute_id, seq)
);
-- "Find transactions": a payer's card mask, or an SBP payer's phone fingerprint (kept in
-- card_fingerprint: the payer's keyed fingerprint, of a card or of a phone), then the day.
CREATE INDEX payments_from_card ON payments (from_card, created_at);
CREATE INDEX payments_payer_fingerprint ON payments (card_fingerprint, created_at);
-- The merchant's postback log in the dashboard.
CREATE INDEX outbox_merchant ON outbox (merchant_id, created_at, id);
-- `paylink sms list` and `paylink mail list` read the outbox by kind, newest first.
CREATE INDEX outbox_kind ON outbox (kind, created_at);
