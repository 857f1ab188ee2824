//! What the operator console reads across merchants: searches, queues, overview figures. The
//! console's actions are the ordinary operations (they take the operator as [`Actor`] and
//! audit themselves); these are its reads.
//!
//! [`Actor`]: paylink_core::audit::Actor

pub mod audit;
pub mod disputes;
pub mod merchants;
pub mod money;
pub mod overview;
pub mod payouts;
pub mod postbacks;
