//! paylink's HTTP server: the dialect routes, the payer pages and the operations they share.
//! Dialects parse and render; [`bills`] and [`checkout`] run the domain against the store.

pub mod acquirer;
pub mod admin;
mod apidocs;
mod app;
pub mod bills;
mod cardlink;
pub mod checkout;
pub mod config;
pub mod egress;
pub mod idempotency;
pub mod keys;
pub mod metrics;
mod pages;
pub mod payouts;
pub mod postbacks;
pub mod refunds;
pub mod state;
pub mod worker;

pub use app::{Application, Panics, StartError};
pub use cardlink::document_json as openapi_json;
/// Cardlink's postback signatures, for whoever verifies them (the tests, receivers).
pub use cardlink::postback::{md5_signature, WebhookKey};
pub use config::Settings;
pub use state::{Clock, ManualClock, SystemClock};
