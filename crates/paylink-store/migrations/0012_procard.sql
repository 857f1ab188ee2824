-- The Procard dialect: a merchant's Procard access and its permanent links.
--   procard_merchants: id is the merchant's id; login is the `merchant_id` Procard clients send;
--     key_sealed is the HMAC key sealed under the instance key (bound to the merchant id);
--     shop_id is the shop its links belong to; callback_url the default for its links.
--   permanent_links: the terms of a bill of type PERMANENT (same id). amounts are the choices in
--     minor units, ';'-separated; money in minor units; flags 0/1.
--   link_operations (per backend, below): each payment of a link, numbered by the database.
CREATE TABLE procard_merchants (
    id TEXT PRIMARY KEY REFERENCES merchants (id),
    login TEXT NOT NULL UNIQUE,
    key_sealed TEXT NOT NULL,
    shop_id TEXT NOT NULL REFERENCES shops (id),
    callback_url TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE permanent_links (
    id TEXT PRIMARY KEY REFERENCES bills (id),
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    flow TEXT NOT NULL,
    kind BIGINT NOT NULL,
    amounts TEXT NOT NULL,
    enable_counter BIGINT NOT NULL,
    custom_amount BIGINT NOT NULL,
    target_amount BIGINT NOT NULL,
    show_total BIGINT NOT NULL,
    language TEXT NOT NULL,
    recipient_sealed TEXT,
    recipient_mask TEXT,
    callback_url TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX permanent_links_merchant ON permanent_links (merchant_id, created_at);
