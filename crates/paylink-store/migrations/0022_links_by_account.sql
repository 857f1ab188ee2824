-- A password set spends every link of the account not used yet (an invitation or a reset made
-- before it must not set another one later): they are found by account.
CREATE INDEX web_links_account ON web_links (account_id) WHERE used_at IS NULL;
