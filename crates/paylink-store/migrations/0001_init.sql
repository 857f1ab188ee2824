-- Portable across SQLite and PostgreSQL: BIGINT money (minor units), BIGINT unix milliseconds,
-- BIGINT 0/1 flags, TEXT ids, enums and JSON.

CREATE TABLE instance_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE merchants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT,
    verified BIGINT NOT NULL DEFAULT 0,
    banned BIGINT NOT NULL DEFAULT 0,
    subscription TEXT NOT NULL DEFAULT 'active',
    created_at BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id BIGINT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    secret_sha256 TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX api_tokens_merchant ON api_tokens (merchant_id);

CREATE TABLE shops (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    name TEXT NOT NULL,
    currency TEXT NOT NULL,
    enabled BIGINT NOT NULL DEFAULT 1,
    commission_bps BIGINT,
    result_url TEXT,
    success_url TEXT,
    fail_url TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX shops_merchant ON shops (merchant_id);

CREATE TABLE bills (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    shop_id TEXT NOT NULL REFERENCES shops (id),
    order_id TEXT,
    description TEXT,
    name TEXT,
    custom TEXT,
    bill_type TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount BIGINT NOT NULL CHECK (amount > 0),
    active BIGINT NOT NULL,
    status TEXT NOT NULL,
    payment_method TEXT,
    payer_pays_commission BIGINT NOT NULL,
    ttl_secs BIGINT,
    expires_at BIGINT,
    success_url TEXT,
    fail_url TEXT,
    return_url TEXT,
    locale TEXT,
    payer_email TEXT,
    extra TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX bills_merchant_created ON bills (merchant_id, created_at, id);
CREATE INDEX bills_merchant_order ON bills (merchant_id, order_id);

CREATE TABLE payments (
    id TEXT PRIMARY KEY,
    bill_id TEXT NOT NULL REFERENCES bills (id),
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    shop_id TEXT NOT NULL REFERENCES shops (id),
    method TEXT NOT NULL,
    status TEXT NOT NULL,
    amount BIGINT NOT NULL CHECK (amount > 0),
    amount_received BIGINT NOT NULL CHECK (amount_received >= 0),
    commission BIGINT NOT NULL CHECK (commission >= 0),
    account_amount BIGINT NOT NULL,
    account_currency TEXT NOT NULL,
    refunded_amount BIGINT NOT NULL DEFAULT 0,
    currency TEXT NOT NULL,
    from_card TEXT NOT NULL,
    card_fingerprint TEXT,
    error_code BIGINT,
    error_message TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX payments_bill_created ON payments (bill_id, created_at, id);
CREATE INDEX payments_merchant_created ON payments (merchant_id, created_at, id);
