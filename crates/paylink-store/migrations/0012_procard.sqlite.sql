-- An INTEGER PRIMARY KEY numbers rows in SQLite.
CREATE TABLE link_operations (
    id INTEGER PRIMARY KEY,
    payment_id TEXT NOT NULL UNIQUE,
    link_id TEXT NOT NULL REFERENCES permanent_links (id),
    merchant_id TEXT NOT NULL,
    amount BIGINT NOT NULL,
    quantity BIGINT NOT NULL,
    fee BIGINT NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    card_mask TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX link_operations_link ON link_operations (link_id, status, id);
