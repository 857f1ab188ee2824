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
use std::collections::{HashMap, VecDeque};
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

/// What the sandbox acquirer answered to recent charges, by reference: asked again about one
/// ([`Acquirer::status`]), it says the same; about one it never charged (or has forgotten,
/// past the last [`Charged::KEPT`], or across a restart), that it took no money.
#[derive(Default)]
struct Charged(std::sync::Mutex<(HashMap<String, ChargeResult>, VecDeque<String>)>);

impl Charged {
    const KEPT: usize = 65_536;

    fn remember(&self, reference: &str, result: &ChargeResult) {
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let (by_reference, order) = &mut *guard;
        if by_reference
            .insert(reference.to_string(), result.clone())
            .is_none()
        {
            order.push_back(reference.to_string());
        }
        while order.len() > Charged::KEPT {
            if let Some(old) = order.pop_front() {
                by_reference.remove(&old);
            }
        }
    }

    fn recall(&self, reference: &str) -> ChargeResult {
        let guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        guard
            .0
            .get(reference)
            .cloned()
            .unwrap_or(ChargeResult::Declined {
                code: 91,
                message: "The acquirer has no record of this charge.".into(),
            })
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
    charged: Charged,
}

impl SandboxAcquirer {
    pub fn new(public_url: &str, key: Vec<u8>) -> SandboxAcquirer {
        SandboxAcquirer {
            acs_url: format!("{public_url}/sandbox/acs"),
            key,
            unanswered: Unanswered::default(),
            charged: Charged::default(),
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
            // The request names its charge, so that the completion is remembered under it.
            Some(CardOutcome::Challenge) => Ok(ChargeStep::Challenge {
                acs_url: self.acs_url.clone(),
                request: format!(
                    "{}.{}",
                    request.reference,
                    random_base62(&mut rand::thread_rng(), 24)
                ),
            }),
            Some(CardOutcome::AnswerLost) => {
                // Charged, but the answer never leaves.
                self.charged
                    .remember(request.reference, &ChargeResult::Approved);
                Err(Unsure(
                    "no answer from the sandbox acquirer (a card ending 0424)".into(),
                ))
            }
        };
        if let Ok(ChargeStep::Done(result)) = &step {
            self.charged.remember(request.reference, result);
        }
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
        if let Some((reference, _)) = request.split_once('.') {
            self.charged.remember(reference, &result);
        }
        Box::pin(std::future::ready(Ok(result)))
    }

    fn status<'a>(
        &'a self,
        reference: &'a str,
        _from_card: &'a str,
    ) -> BoxFuture<'a, Result<ChargeResult, Unsure>> {
        Box::pin(std::future::ready(Ok(self.charged.recall(reference))))
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

    #[tokio::test]
    async fn asked_again_it_says_what_it_answered_and_took_no_money_for_what_it_never_charged() {
        use paylink_core::card::CardNumber;
        use paylink_core::money::Currency;
        use paylink_core::payment::PaymentMethod;
        let a = SandboxAcquirer::new("http://x", b"k".to_vec());
        let charge = |reference: &'static str, card: &'static CardNumber| ChargeRequest {
            reference,
            method: PaymentMethod::BankCard,
            amount: 100,
            currency: Currency::Rub,
            card: Some(card),
        };
        let declined = CardNumber::parse(sandbox::CARD_DECLINED).unwrap();
        let lost = CardNumber::parse(sandbox::CARD_ANSWER_LOST).unwrap();
        let challenged = CardNumber::parse(sandbox::CARD_THREE_DS).unwrap();
        let (declined, lost, challenged) = (
            Box::leak(Box::new(declined)),
            Box::leak(Box::new(lost)),
            Box::leak(Box::new(challenged)),
        );

        let first = a.charge(charge("p1", declined)).await;
        let Ok(ChargeStep::Done(said)) = first else {
            panic!("{first:?}")
        };
        assert_eq!(a.status("p1", "").await, Ok(said));
        assert!(a.charge(charge("p2", lost)).await.is_err(), "no answer");
        assert_eq!(a.status("p2", "").await, Ok(ChargeResult::Approved));
        let Ok(ChargeStep::Challenge { request, .. }) = a.charge(charge("p3", challenged)).await
        else {
            panic!("a challenge")
        };
        // Not charged until the payer answers the challenge.
        assert!(matches!(
            a.status("p3", "").await,
            Ok(ChargeResult::Declined { code: 91, .. })
        ));
        let yes = a.answer(&request, true);
        assert_eq!(a.complete(&request, &yes).await, Ok(ChargeResult::Approved));
        assert_eq!(a.status("p3", "").await, Ok(ChargeResult::Approved));
        assert!(matches!(
            a.status("never", "").await,
            Ok(ChargeResult::Declined { code: 91, .. })
        ));
    }
}
