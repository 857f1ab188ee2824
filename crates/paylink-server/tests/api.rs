//! The server's integration suite: a real server on port 0 (`harness::spawn_app`), driven through
//! the SDK and raw HTTP. Runs on SQLite, and on PostgreSQL when `PAYLINK_TEST_DATABASE_URL` is set.

#[path = "api/harness.rs"]
mod harness;
#[path = "api/receiver.rs"]
mod receiver;

#[path = "api/amounts.rs"]
mod amounts;
#[path = "api/auth.rs"]
mod auth;
#[path = "api/bill_create.rs"]
mod bill_create;
#[path = "api/browser.rs"]
mod browser;
#[path = "api/card_testing.rs"]
mod card_testing;
#[path = "api/checkout_pages.rs"]
mod checkout_pages;
#[path = "api/concurrency.rs"]
mod concurrency;
#[path = "api/connections.rs"]
mod connections;
#[path = "api/health.rs"]
mod health;
#[path = "api/hostile.rs"]
mod hostile;
#[path = "api/idempotency.rs"]
mod idempotency;
#[path = "api/keys.rs"]
mod keys;
#[path = "api/lists.rs"]
mod lists;
#[path = "api/metrics.rs"]
mod metrics;
#[path = "api/mode.rs"]
mod mode;
#[path = "api/money.rs"]
mod money;
#[path = "api/openapi.rs"]
mod openapi;
#[path = "api/pages.rs"]
mod pages;
#[path = "api/payability.rs"]
mod payability;
#[path = "api/payment_status.rs"]
mod payment_status;
#[path = "api/payments.rs"]
mod payments;
#[path = "api/postbacks.rs"]
mod postbacks;
#[path = "api/toggle.rs"]
mod toggle;
#[path = "api/validation.rs"]
mod validation;
