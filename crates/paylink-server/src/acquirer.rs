//! The acquirer: whoever actually moves the payer's money. The flow talks to this trait only,
//! so a real bank connector plugs in beside the sandbox without touching it.

use hmac::{Hmac, Mac};
use paylink_core::card::CardNumber;
use paylink_core::id::random_base62;
use paylink_core::money::Currency;
use paylink_core::payment::{ChargeResult, PaymentMethod};
use paylink_core::sandbox::{self, CardOutcome};
use sha2::Sha256;
use std::future::Future;
use std::pin::Pin;
use subtle::ConstantTimeEq;

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

pub trait Acquirer: Send + Sync {
    fn charge<'a>(&'a self, request: ChargeRequest<'a>) -> BoxFuture<'a, ChargeStep>;
    /// The result of a challenge from the issuer's answer (`PaRes`) to `request` (`PaReq`).
    fn complete<'a>(&'a self, request: &'a str, answer: &'a str) -> BoxFuture<'a, ChargeResult>;
    /// Returns money to the payer: `Ok`, or the acquirer's reason for refusing.
    fn refund<'a>(&'a self, request: RefundRequest<'a>) -> BoxFuture<'a, Result<(), String>>;
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

/// Whoever actually sends payouts; the money worker talks to this trait only.
pub trait PayoutProvider: Send + Sync {
    fn send<'a>(
        &'a self,
        request: PayoutRequest<'a>,
    ) -> BoxFuture<'a, paylink_core::payout::Outcome>;
}

/// Answers at once by the test-identifier table in `paylink_core::sandbox`.
pub struct SandboxPayouts;

impl PayoutProvider for SandboxPayouts {
    fn send<'a>(
        &'a self,
        request: PayoutRequest<'a>,
    ) -> BoxFuture<'a, paylink_core::payout::Outcome> {
        Box::pin(std::future::ready(sandbox::payout_outcome(request.account)))
    }
}

/// Settles instantly by the test-card table in `paylink_core::sandbox` (SBP always succeeds);
/// its 3-D Secure page is paylink's own `/sandbox/acs`, whose answers it signs with `key`.
pub struct SandboxAcquirer {
    acs_url: String,
    key: Vec<u8>,
}

impl SandboxAcquirer {
    pub fn new(public_url: &str, key: Vec<u8>) -> SandboxAcquirer {
        SandboxAcquirer {
            acs_url: format!("{public_url}/sandbox/acs"),
            key,
        }
    }

    fn mac(&self, request: &str, verdict: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(request.as_bytes());
        mac.update(b":");
        mac.update(verdict.as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The sandbox issuer's `PaRes`: the payer's verdict on `request`, signed.
    pub fn answer(&self, request: &str, confirmed: bool) -> String {
        let verdict = if confirmed { "Y" } else { "N" };
        format!("{verdict}.{}", self.mac(request, verdict))
    }
}

impl Acquirer for SandboxAcquirer {
    fn charge<'a>(&'a self, request: ChargeRequest<'a>) -> BoxFuture<'a, ChargeStep> {
        let step = match request.card.map(sandbox::card_outcome) {
            None => ChargeStep::Done(ChargeResult::Approved),
            Some(CardOutcome::Result(r)) => ChargeStep::Done(r),
            Some(CardOutcome::Challenge) => ChargeStep::Challenge {
                acs_url: self.acs_url.clone(),
                request: random_base62(&mut rand::thread_rng(), 24),
            },
        };
        Box::pin(std::future::ready(step))
    }

    fn complete<'a>(&'a self, request: &'a str, answer: &'a str) -> BoxFuture<'a, ChargeResult> {
        let genuine = |verdict: &str, mac: &str| {
            bool::from(self.mac(request, verdict).as_bytes().ct_eq(mac.as_bytes()))
        };
        let result = match answer.split_once('.') {
            Some(("Y", mac)) if genuine("Y", mac) => ChargeResult::Approved,
            _ => sandbox::challenge_failed(),
        };
        Box::pin(std::future::ready(result))
    }

    fn refund<'a>(&'a self, request: RefundRequest<'a>) -> BoxFuture<'a, Result<(), String>> {
        let delay = sandbox::refund_delay_ms(request.from_card);
        let outcome = sandbox::refund_outcome(request.from_card);
        if delay == 0 {
            return Box::pin(std::future::ready(outcome));
        }
        Box::pin(async move {
            tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
            outcome
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_a_signed_confirmation_approves_a_challenge() {
        let a = SandboxAcquirer::new("http://x", b"k".to_vec());
        let yes = a.answer("req1", true);
        assert_eq!(a.complete("req1", &yes).await, ChargeResult::Approved);
        assert_ne!(a.complete("req2", &yes).await, ChargeResult::Approved);
        assert_ne!(
            a.complete("req1", &a.answer("req1", false)).await,
            ChargeResult::Approved
        );
        assert_ne!(a.complete("req1", "Y.forged").await, ChargeResult::Approved);
        let other = SandboxAcquirer::new("http://x", b"other".to_vec());
        assert_ne!(other.complete("req1", &yes).await, ChargeResult::Approved);
    }
}
