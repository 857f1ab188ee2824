//! The store's integration suite: one binary, run against SQLite always and against PostgreSQL
//! when `PAYLINK_TEST_DATABASE_URL` is set. Every test opens a fresh database.

#[path = "store/support.rs"]
mod support;

#[path = "store/group_commit.rs"]
mod group_commit;
#[path = "store/guards.rs"]
mod guards;
#[path = "store/idempotency.rs"]
mod idempotency;
#[path = "store/migrations.rs"]
mod migrations;
#[path = "store/money_properties.rs"]
mod money_properties;
#[path = "store/outbox.rs"]
mod outbox;
#[path = "store/owners.rs"]
mod owners;
#[path = "store/pagination.rs"]
mod pagination;
#[path = "store/properties.rs"]
mod properties;
#[path = "store/round_trip.rs"]
mod round_trip;
#[path = "store/secrets.rs"]
mod secrets;
#[path = "store/tokens.rs"]
mod tokens;
