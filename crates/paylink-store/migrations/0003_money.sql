-- Merchant money: the double-entry ledger and its cached balances, FX rates, payouts, refunds
-- and the SBP banks dictionary. Triggers that make the ledger append-only are per backend
-- (0003_money.sqlite.sql, 0003_money.postgres.sql).

ALTER TABLE merchants ADD COLUMN payout_webhook_url TEXT;
-- Payouts of a merchant under moderation wait for an operator.
ALTER TABLE merchants ADD COLUMN payout_moderation BIGINT NOT NULL DEFAULT 0;
ALTER TABLE merchants ADD COLUMN regular_payouts BIGINT NOT NULL DEFAULT 1;
-- Minor units of the payout currency; NULL: the server's configured default.
ALTER TABLE merchants ADD COLUMN daily_payout_limit BIGINT;
ALTER TABLE merchants ADD COLUMN monthly_payout_limit BIGINT;

-- NULL: the shop's currency.
ALTER TABLE shops ADD COLUMN balance_currency TEXT;

-- The rate the payment's amount_received was converted at (1e-8 units; NULL: no conversion),
-- so that its refunds convert back at the same rate.
ALTER TABLE payments ADD COLUMN fx_rate_e8 BIGINT;

CREATE TABLE ledger_transactions (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX ledger_transactions_subject ON ledger_transactions (subject_id);

-- One row per leg. merchant_id is NULL for platform accounts. Sum of amount per (tx, currency)
-- is zero; the balance of an account is the sum of its legs.
CREATE TABLE ledger_postings (
    tx_id TEXT NOT NULL REFERENCES ledger_transactions (id),
    seq BIGINT NOT NULL,
    account TEXT NOT NULL,
    merchant_id TEXT,
    currency TEXT NOT NULL,
    amount BIGINT NOT NULL,
    PRIMARY KEY (tx_id, seq)
);

-- The fold of a merchant's postings, kept in the same transaction. Guards in the writes keep
-- every column non-negative; the CHECKs are the last line.
CREATE TABLE balances (
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    currency TEXT NOT NULL,
    available BIGINT NOT NULL CHECK (available >= 0),
    locked BIGINT NOT NULL CHECK (locked >= 0),
    hold BIGINT NOT NULL CHECK (hold >= 0),
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, currency)
);

-- Received money waiting to settle: hold -> available once due.
CREATE TABLE settlements (
    payment_id TEXT PRIMARY KEY REFERENCES payments (id),
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    currency TEXT NOT NULL,
    amount BIGINT NOT NULL CHECK (amount > 0),
    due_at BIGINT NOT NULL,
    settled_at BIGINT
);
CREATE INDEX settlements_due ON settlements (due_at) WHERE settled_at IS NULL;

CREATE TABLE fx_rates (
    base TEXT NOT NULL,
    quote TEXT NOT NULL,
    rate_e8 BIGINT NOT NULL CHECK (rate_e8 > 0),
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (base, quote)
);

CREATE TABLE sbp_banks (
    member_id BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    name_en TEXT NOT NULL,
    bic BIGINT NOT NULL,
    enabled BIGINT NOT NULL DEFAULT 1,
    updated_at BIGINT NOT NULL
);

-- Accounts a merchant registered for personal payouts. The card number is sealed
-- (AES-256-GCM); identifier is what may be shown (masked card, phone).
CREATE TABLE payout_accounts (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    account_type TEXT NOT NULL,
    identifier TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    sealed TEXT,
    bank_member_id BIGINT,
    holder TEXT,
    banned BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE INDEX payout_accounts_merchant ON payout_accounts (merchant_id);
CREATE INDEX payout_accounts_fingerprint ON payout_accounts (fingerprint);

CREATE TABLE payouts (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    order_id TEXT,
    -- Parts of one request that was split share its order_id and group_id.
    group_id TEXT NOT NULL,
    part BIGINT NOT NULL,
    kind TEXT NOT NULL,
    payout_account_id TEXT,
    account_type TEXT NOT NULL,
    account_identifier TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    sealed TEXT,
    bank_member_id BIGINT,
    holder TEXT,
    status TEXT NOT NULL,
    amount BIGINT NOT NULL CHECK (amount > 0),
    commission BIGINT NOT NULL CHECK (commission >= 0),
    currency TEXT NOT NULL,
    day_key TEXT NOT NULL,
    month_key TEXT NOT NULL,
    error_message TEXT,
    leased_until BIGINT,
    process_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX payouts_order ON payouts (merchant_id, order_id, part);
CREATE INDEX payouts_merchant_created ON payouts (merchant_id, created_at, id);
CREATE INDEX payouts_status ON payouts (status, process_at);

-- What a merchant has paid out per period (day or month key) and currency, for the limits.
CREATE TABLE payout_usage (
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    period TEXT NOT NULL,
    currency TEXT NOT NULL,
    used BIGINT NOT NULL CHECK (used >= 0),
    PRIMARY KEY (merchant_id, period, currency)
);

CREATE TABLE refunds (
    id TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL REFERENCES payments (id),
    bill_id TEXT NOT NULL REFERENCES bills (id),
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    shop_id TEXT NOT NULL REFERENCES shops (id),
    status TEXT NOT NULL,
    amount BIGINT NOT NULL CHECK (amount > 0),
    currency TEXT NOT NULL,
    account_amount BIGINT NOT NULL,
    account_currency TEXT NOT NULL,
    full_refund BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX refunds_payment ON refunds (payment_id);
CREATE INDEX refunds_merchant_created ON refunds (merchant_id, created_at, id);
