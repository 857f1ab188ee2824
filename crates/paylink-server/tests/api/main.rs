//! The server's integration suite: a real server on port 0 (`harness::spawn_app`), driven through
//! the SDK and raw HTTP. Runs on SQLite, and on PostgreSQL when `PAYLINK_TEST_DATABASE_URL` is set.

mod harness;

mod amounts;
mod auth;
mod bill_create;
mod browser;
mod card_testing;
mod cardapi;
mod checkout_pages;
mod concurrency;
mod connections;
mod console;
mod health;
mod hostile;
mod idempotency;
mod keys;
mod lists;
mod metrics;
mod mode;
mod money;
mod multi;
mod openapi;
mod outage;
mod pages;
mod payability;
mod payment_status;
mod payments;
mod postbacks;
mod procard;
mod request_ids;
mod retention;
mod toggle;
mod validation;
mod web;
