-- Ledger accounts have owners: an account is (owner kind, owner id, bucket, currency), the
-- owner kinds being platform (owner_id ''), merchant, partner and card. Postings and balance
-- rows keep their meaning: a posting with a merchant was the merchant's, one without was the
-- platform's; every balance row was a merchant's. Both tables are rebuilt: the postings are
-- append-only (no UPDATE may fill new columns) and SQLite cannot change a primary key in
-- place. The append-only triggers go with the old table and come back per backend
-- (0011_ledger_owners.sqlite.sql, 0011_ledger_owners.postgres.sql).

CREATE TABLE ledger_postings_0011 (
    tx_id TEXT NOT NULL REFERENCES ledger_transactions (id),
    seq BIGINT NOT NULL,
    owner_kind TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    bucket TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount BIGINT NOT NULL,
    PRIMARY KEY (tx_id, seq)
);
INSERT INTO ledger_postings_0011 (tx_id, seq, owner_kind, owner_id, bucket, currency, amount)
    SELECT tx_id, seq,
           CASE WHEN merchant_id IS NULL THEN 'platform' ELSE 'merchant' END,
           COALESCE(merchant_id, ''), account, currency, amount
    FROM ledger_postings;
DROP TABLE ledger_postings;
ALTER TABLE ledger_postings_0011 RENAME TO ledger_postings;

-- One row per (owner, currency) with a balance bucket: the hot rows, locked in the order of
-- this key. No foreign key to merchants any more: owners live in several tables.
CREATE TABLE balances_0011 (
    owner_kind TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    currency TEXT NOT NULL,
    available BIGINT NOT NULL CHECK (available >= 0),
    locked BIGINT NOT NULL CHECK (locked >= 0),
    hold BIGINT NOT NULL CHECK (hold >= 0),
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (owner_kind, owner_id, currency)
);
INSERT INTO balances_0011 (owner_kind, owner_id, currency, available, locked, hold, updated_at)
    SELECT 'merchant', merchant_id, currency, available, locked, hold, updated_at FROM balances;
DROP TABLE balances;
ALTER TABLE balances_0011 RENAME TO balances;
