//! The store's integration suite: one binary, run against SQLite always and against PostgreSQL
//! when `PAYLINK_TEST_DATABASE_URL` is set. Every test opens a fresh database.

mod support;

mod failover;
mod group_commit;
mod guards;
mod idempotency;
mod migrations;
mod money_properties;
mod outbox;
mod owners;
mod pagination;
mod properties;
mod round_trip;
mod secrets;
mod tokens;
