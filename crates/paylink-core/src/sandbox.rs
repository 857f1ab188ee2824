//! The sandbox acquirer's rules: test cards with fixed outcomes, documented in the README.

use crate::card::CardNumber;
use crate::payment::ChargeResult;

pub const CARD_DECLINED: &str = "4000000000000002";
pub const CARD_INSUFFICIENT_FUNDS: &str = "4000000000009995";
pub const CARD_THREE_DS: &str = "4000000000003220";
pub const CARD_ANSWER_LOST: &str = "4000000000000424";

/// What charging a sandbox card does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardOutcome {
    Result(ChargeResult),
    /// A 3-D Secure challenge first; the payer's answer decides.
    Challenge,
    /// The money is taken but the acquirer's answer never arrives (a timeout): asked about the
    /// charge again, it is approved.
    AnswerLost,
}

/// The outcome of charging `card` in the sandbox: the test cards do what the table says,
/// every other Luhn-valid card succeeds.
pub fn card_outcome(card: &CardNumber) -> CardOutcome {
    CardOutcome::Result(match card.expose_pan() {
        CARD_DECLINED => ChargeResult::Declined {
            code: 5,
            message: "The card was declined by the issuer.".into(),
        },
        CARD_INSUFFICIENT_FUNDS => ChargeResult::Declined {
            code: 51,
            message: "Insufficient funds on the card.".into(),
        },
        CARD_THREE_DS => return CardOutcome::Challenge,
        CARD_ANSWER_LOST => return CardOutcome::AnswerLost,
        _ => ChargeResult::Approved,
    })
}

/// A challenge the payer failed (or an answer that is not the issuer's).
pub fn challenge_failed() -> ChargeResult {
    ChargeResult::Declined {
        code: 5,
        message: "3-D Secure authentication failed.".into(),
    }
}

/// The sandbox payout provider's answer for a payee (card or phone): identifiers ending 0002
/// fail, ending 0119 end in a provider error; everything else is paid.
pub fn payout_outcome(identifier: &str) -> crate::payout::Outcome {
    use crate::payout::Outcome;
    if identifier.ends_with("0002") {
        Outcome::Fail("Recipient declined the transfer".into())
    } else if identifier.ends_with("0119") {
        Outcome::Error("Payout provider error".into())
    } else {
        Outcome::Success
    }
}

/// Whether the sandbox's answer to the first ask about a payout to `identifier`, or a refund
/// of a payment by a card `identifier`, never arrives (as a provider that timed out): those
/// ending 0408. Asked again, it answers as usual.
pub fn first_answer_lost(identifier: &str) -> bool {
    identifier.ends_with("0408")
}

/// How long the sandbox acquirer takes to answer a refund of a payment made with a card ending
/// 0267 (the card itself pays normally): to try what a client does when a refund outlasts its
/// request deadline. Every other refund is answered at once.
pub fn refund_delay_ms(from_card: &str) -> u64 {
    if from_card.ends_with("0267") {
        5_000
    } else {
        0
    }
}

/// The sandbox acquirer refuses refunds of payments made with a card ending 0259 (the card
/// itself pays normally); every other refund succeeds.
pub fn refund_outcome(from_card: &str) -> Result<(), String> {
    if from_card.ends_with("0259") {
        Err("Refund refused by the issuer".into())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_cards_have_their_documented_outcomes() {
        let outcome = |n: &str| card_outcome(&CardNumber::parse(n).unwrap());
        let ok = CardOutcome::Result(ChargeResult::Approved);
        assert_eq!(outcome("4242424242424242"), ok);
        assert_eq!(outcome("5555555555554444"), ok);
        assert!(
            matches!(outcome(CARD_DECLINED), CardOutcome::Result(ChargeResult::Declined { code, .. }) if code == 5)
        );
        assert!(
            matches!(outcome(CARD_INSUFFICIENT_FUNDS), CardOutcome::Result(ChargeResult::Declined { code, .. }) if code == 51)
        );
        assert_eq!(outcome(CARD_THREE_DS), CardOutcome::Challenge);
        assert_eq!(outcome(CARD_ANSWER_LOST), CardOutcome::AnswerLost);
    }
}
