//! The acquirer: whoever actually moves the payer's money. The flow talks to this trait only,
//! so a real bank connector plugs in beside the sandbox without touching it.

use paylink_core::card::CardNumber;
use paylink_core::money::Currency;
use paylink_core::payment::{ChargeResult, PaymentMethod};
use std::future::Future;
use std::pin::Pin;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub struct ChargeRequest<'a> {
    /// paylink's payment id: the acquirer's idempotency key.
    pub reference: &'a str,
    pub method: PaymentMethod,
    pub amount: i64,
    pub currency: Currency,
    pub card: Option<&'a CardNumber>,
}

/// The acquirer's first answer to a charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeStep {
    Done(ChargeResult),
    /// 3-D Secure: the payer's browser goes to `acs_url` with `PaReq = request`, `MD` and
    /// `TermUrl`; the issuer's page posts `PaRes` and `MD` back to `TermUrl`.
    Challenge {
        acs_url: String,
        request: String,
    },
}

/// A refund of (part of) a captured payment.
pub struct RefundRequest<'a> {
    /// paylink's refund id: the acquirer's idempotency key (a refund may be asked twice).
    pub reference: &'a str,
    /// The payment's id, as given to `charge`.
    pub payment: &'a str,
    /// The payment's masked card (empty for SBP).
    pub from_card: &'a str,
    pub amount: i64,
    pub currency: Currency,
}

/// Every call may answer [`Unsure`] (its answer never came): paylink then keeps the charge or
/// refund open and asks again under the same reference, never guessing an outcome.
pub trait Acquirer: Send + Sync {
    fn charge<'a>(
        &'a self,
        request: ChargeRequest<'a>,
    ) -> BoxFuture<'a, Result<ChargeStep, Unsure>>;
    /// The result of a challenge from the issuer's answer (`PaRes`) to `request` (`PaReq`).
    fn complete<'a>(
        &'a self,
        request: &'a str,
        answer: &'a str,
    ) -> BoxFuture<'a, Result<ChargeResult, Unsure>>;
    /// The result of the charge made as `reference` (paylink's payment id), asked when its
    /// answer never came or was never recorded; `from_card` is the masked card charged (empty
    /// for SBP). A charge the acquirer has no record of took no money: declined.
    fn status<'a>(
        &'a self,
        reference: &'a str,
        from_card: &'a str,
    ) -> BoxFuture<'a, Result<ChargeResult, Unsure>>;
    /// Returns money to the payer: `Ok(Ok)`, `Ok(Err)` with the acquirer's reason for refusing,
    /// or [`Unsure`] when its answer never came (the refund is asked again later).
    fn refund<'a>(
        &'a self,
        request: RefundRequest<'a>,
    ) -> BoxFuture<'a, Result<Result<(), String>, Unsure>>;
}

/// A payout to send: paylink's id (the provider's idempotency key: a payout whose answer was
/// not recorded is sent again) and the recipient.
pub struct PayoutRequest<'a> {
    pub reference: &'a str,
    pub account_type: paylink_core::payout::AccountType,
    /// The full card number (opened from its seal for this call only), or the phone.
    pub account: &'a str,
    pub bank_member_id: Option<i64>,
    pub holder: Option<&'a str>,
    pub amount: i64,
    pub currency: Currency,
}

/// A provider's answer that did not arrive (a timeout, a dropped connection, a reply that
/// cannot be read): the money may or may not have moved. Nothing is recorded, and the same
/// request, under the same reference, is asked again later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsure(pub String);

/// Whoever actually sends payouts; the money worker talks to this trait only. `Outcome::Error`
/// is the provider's own final answer (the payout failed, its money returns); an answer that
/// never came is [`Unsure`], never an error.
pub trait PayoutProvider: Send + Sync {
    fn send<'a>(
        &'a self,
        request: PayoutRequest<'a>,
    ) -> BoxFuture<'a, Result<paylink_core::payout::Outcome, Unsure>>;
}
