//! The decisions: each takes the current state and `now` and returns what to write, as a
//! [`crate::plan::Plan`] (or one [`crate::plan::Write`]). They sit above `plan`, which sits
//! above the records it carries (bills, payments, payouts, refunds, settlements), so no module
//! of core imports one that imports it back.

pub mod bill;
pub mod issuing;
pub mod payment;
pub mod payout;
pub mod permanent_link;
pub mod refund;
pub mod settlement;
