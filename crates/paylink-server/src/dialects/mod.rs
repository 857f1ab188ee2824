//! The wire dialects. Each parses and authenticates its requests, calls the operations in
//! [`crate::ops`], and renders answers and outgoing messages in its own format; each has one
//! `router()`. [`docs`] serves their API documents.
//!
//! An outbox row names the dialect that renders it: [`render`] asks that dialect for the bytes
//! and headers, so the dispatcher only delivers them.

pub mod cardapi;
pub mod cardlink;
pub mod docs;
pub mod procard;
pub mod standard_webhooks;

use crate::keys::Sealing;
use paylink_core::event::Dialect;
use paylink_core::time::Millis;
use paylink_store::{Claimed, StoredNotice};

/// A notice as its dialect sends it.
pub struct Rendered {
    /// In the order they are sent, `content-type` among them.
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// The notice rendered by its dialect for an attempt at `at`; why not, if it cannot be.
pub fn render(seal: &Sealing, claimed: &Claimed, at: Millis) -> Result<Rendered, String> {
    match claimed.record.notice.dialect {
        Dialect::Cardlink => cardlink::postback::render(seal, claimed, at),
        Dialect::Procard => procard::callback::render(seal, claimed, at),
        Dialect::CardApi => cardapi::sms::render(seal, claimed),
        Dialect::Mail => crate::web::mail::render(seal, claimed),
    }
}

/// What the notice says, as its dialect's name and value pairs (unsigned): for operators.
pub fn fields(notice: &StoredNotice) -> Vec<(String, String)> {
    match notice.dialect {
        Dialect::Cardlink => cardlink::postback::fields(notice),
        Dialect::Procard => procard::callback::fields(notice),
        Dialect::CardApi => cardapi::sms::fields(notice),
        Dialect::Mail => crate::web::mail::fields(notice),
    }
}
