//! The sandbox's acquirer and payout provider: they answer by the test tables in
//! `paylink_core::sandbox`, so every flow works without a bank.

use crate::acquirer::{
    Acquirer, BoxFuture, ChargeRequest, ChargeStep, PayoutProvider, PayoutRequest, RefundRequest,
    Unsure,
};
use hmac::{Hmac, Mac};
use paylink_core::id::random_base62;
use paylink_core::payment::ChargeResult;
use paylink_core::sandbox::{self, CardOutcome};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// References whose first ask the sandbox left unanswered, until they are asked again.
#[derive(Default)]
struct Unanswered(std::sync::Mutex<std::collections::HashSet<String>>);

impl Unanswered {
    /// [`Unsure`] the first time `reference` is asked; answered the next.
    fn ask(&self, reference: &str) -> Result<(), Unsure> {
        let mut asked = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if asked.remove(reference) {
            return Ok(());
        }
        asked.insert(reference.to_string());
        Err(Unsure(
            "no answer from the sandbox (a test identifier ending 0408)".into(),
        ))
    }
}

/// Answers at once by the test-identifier table in `paylink_core::sandbox`.
#[derive(Default)]
pub struct SandboxPayouts {
    unanswered: Unanswered,
}

impl PayoutProvider for SandboxPayouts {
    fn send<'a>(
        &'a self,
        request: PayoutRequest<'a>,
    ) -> BoxFuture<'a, Result<paylink_core::payout::Outcome, Unsure>> {
        let answer = match sandbox::first_answer_lost(request.account) {
            true => self.unanswered.ask(request.reference),
            false => Ok(()),
        }
        .map(|()| sandbox::payout_outcome(request.account));
        Box::pin(std::future::ready(answer))
    }
}

/// Settles instantly by the test-card table in `paylink_core::sandbox` (SBP always succeeds);
/// its 3-D Secure page is paylink's own `/sandbox/acs`, whose answers it signs with `key`.
pub struct SandboxAcquirer {
    acs_url: String,
    key: Vec<u8>,
    unanswered: Unanswered,
}

impl SandboxAcquirer {
    pub fn new(public_url: &str, key: Vec<u8>) -> SandboxAcquirer {
        SandboxAcquirer {
            acs_url: format!("{public_url}/sandbox/acs"),
            key,
            unanswered: Unanswered::default(),
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
    fn charge<'a>(
        &'a self,
        request: ChargeRequest<'a>,
    ) -> BoxFuture<'a, Result<ChargeStep, Unsure>> {
        let step = match request.card.map(sandbox::card_outcome) {
            None => Ok(ChargeStep::Done(ChargeResult::Approved)),
            Some(CardOutcome::Result(r)) => Ok(ChargeStep::Done(r)),
            Some(CardOutcome::Challenge) => Ok(ChargeStep::Challenge {
                acs_url: self.acs_url.clone(),
                request: random_base62(&mut rand::thread_rng(), 24),
            }),
            Some(CardOutcome::AnswerLost) => Err(Unsure(
                "no answer from the sandbox acquirer (a card ending 0424)".into(),
            )),
        };
        Box::pin(std::future::ready(step))
    }

    fn complete<'a>(
        &'a self,
        request: &'a str,
        answer: &'a str,
    ) -> BoxFuture<'a, Result<ChargeResult, Unsure>> {
        let genuine = |verdict: &str, mac: &str| {
            bool::from(self.mac(request, verdict).as_bytes().ct_eq(mac.as_bytes()))
        };
        let result = match answer.split_once('.') {
            Some(("Y", mac)) if genuine("Y", mac) => ChargeResult::Approved,
            _ => sandbox::challenge_failed(),
        };
        Box::pin(std::future::ready(Ok(result)))
    }

    fn status<'a>(
        &'a self,
        _reference: &'a str,
        from_card: &'a str,
    ) -> BoxFuture<'a, Result<ChargeResult, Unsure>> {
        Box::pin(std::future::ready(Ok(sandbox::charge_status(from_card))))
    }

    fn refund<'a>(
        &'a self,
        request: RefundRequest<'a>,
    ) -> BoxFuture<'a, Result<Result<(), String>, Unsure>> {
        let delay = sandbox::refund_delay_ms(request.from_card);
        let outcome = match sandbox::first_answer_lost(request.from_card) {
            true => self.unanswered.ask(request.reference),
            false => Ok(()),
        }
        .map(|()| sandbox::refund_outcome(request.from_card));
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
        assert_eq!(a.complete("req1", &yes).await, Ok(ChargeResult::Approved));
        assert_ne!(a.complete("req2", &yes).await, Ok(ChargeResult::Approved));
        assert_ne!(
            a.complete("req1", &a.answer("req1", false)).await,
            Ok(ChargeResult::Approved)
        );
        assert_ne!(
            a.complete("req1", "Y.forged").await,
            Ok(ChargeResult::Approved)
        );
        let other = SandboxAcquirer::new("http://x", b"other".to_vec());
        assert_ne!(
            other.complete("req1", &yes).await,
            Ok(ChargeResult::Approved)
        );
    }
}
