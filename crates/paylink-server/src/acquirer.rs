//! The acquirer: whoever actually moves the payer's money. The flow talks to this trait only,
//! so a real bank connector plugs in beside the sandbox without touching it.

use paylink_core::card::CardNumber;
use paylink_core::money::Currency;
use paylink_core::payment::{ChargeResult, PaymentMethod};
use paylink_core::sandbox;
use std::future::Future;
use std::pin::Pin;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub struct ChargeRequest<'a> {
    pub method: PaymentMethod,
    pub amount: i64,
    pub currency: Currency,
    pub card: Option<&'a CardNumber>,
}

pub trait Acquirer: Send + Sync {
    fn charge<'a>(&'a self, request: ChargeRequest<'a>) -> BoxFuture<'a, ChargeResult>;
}

/// Settles instantly by the test-card table in `paylink_core::sandbox`; SBP always succeeds.
pub struct SandboxAcquirer;

impl Acquirer for SandboxAcquirer {
    fn charge<'a>(&'a self, request: ChargeRequest<'a>) -> BoxFuture<'a, ChargeResult> {
        let result = match request.card {
            Some(card) => sandbox::card_outcome(card),
            None => ChargeResult::Approved,
        };
        Box::pin(std::future::ready(result))
    }
}
