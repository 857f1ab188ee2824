//! paylink's HTTP server: the application layer ([`ops`]) and the surfaces over it: the wire
//! dialects ([`dialects`]), the payer pages, the sandbox and the workers. `app.rs` merges every
//! surface's `router()`; surfaces parse and render, [`ops`] runs the domain against the store.

pub mod acquirer;
mod app;
pub mod client;
pub mod config;
pub mod dialects;
pub mod egress;
pub mod keys;
pub mod metrics;
pub mod ops;
mod pages;
pub mod sandbox;
pub mod state;
pub mod web;
pub mod workers;

pub use app::{Application, Panics, StartError};
pub use config::Settings;
pub use dialects::cardlink::document_json as openapi_json;
/// Cardlink's postback signatures, for whoever verifies them (the tests, receivers).
pub use dialects::cardlink::postback::md5_signature;
pub use dialects::standard_webhooks::WebhookKey;
pub use state::{Clock, ManualClock, SystemClock};
