//! paylink's pure domain. It decides; it never performs IO, reads the clock or talks SQL.
//! Operations take the current state and `now` and return values or a [`plan::Plan`] that the
//! store applies atomically.

pub mod account;
pub mod audit;
pub mod bill;
pub mod card;
pub mod cardholder;
pub mod decide;
pub mod dispute;
pub mod error;
pub mod event;
pub mod guard;
pub mod id;
pub mod issued;
pub mod issuing;
pub mod ledger;
pub mod merchant;
pub mod money;
pub mod password;
pub mod payment;
pub mod payout;
pub mod permanent_link;
pub mod plan;
pub mod refund;
pub mod rules;
pub mod sandbox;
pub mod seal;
pub mod secret;
pub mod settlement;
pub mod status;
pub mod text;
pub mod time;
pub mod token;
pub mod totp;

pub use error::DomainError;
