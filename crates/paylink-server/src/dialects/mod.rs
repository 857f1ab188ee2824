//! The wire dialects. Each parses and authenticates its requests, calls the operations in
//! [`crate::ops`], and renders answers and outgoing messages in its own format; each has one
//! `router()`. [`docs`] serves their API documents.

pub mod cardlink;
pub mod docs;
