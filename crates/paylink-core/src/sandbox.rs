//! The sandbox acquirer's rules: test cards with fixed outcomes, documented in the README.

use crate::card::CardNumber;
use crate::payment::ChargeResult;

pub const CARD_DECLINED: &str = "4000000000000002";
pub const CARD_INSUFFICIENT_FUNDS: &str = "4000000000009995";

/// The outcome of charging `card` in the sandbox: the two test cards fail, every other
/// Luhn-valid card succeeds.
pub fn card_outcome(card: &CardNumber) -> ChargeResult {
    match card.expose_pan() {
        CARD_DECLINED => ChargeResult::Declined {
            code: 5,
            message: "The card was declined by the issuer.".into(),
        },
        CARD_INSUFFICIENT_FUNDS => ChargeResult::Declined {
            code: 51,
            message: "Insufficient funds on the card.".into(),
        },
        _ => ChargeResult::Approved,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_cards_have_their_documented_outcomes() {
        let outcome = |n: &str| card_outcome(&CardNumber::parse(n).unwrap());
        assert_eq!(outcome("4242424242424242"), ChargeResult::Approved);
        assert_eq!(outcome("5555555555554444"), ChargeResult::Approved);
        assert!(matches!(outcome(CARD_DECLINED), ChargeResult::Declined { code, .. } if code == 5));
        assert!(
            matches!(outcome(CARD_INSUFFICIENT_FUNDS), ChargeResult::Declined { code, .. } if code == 51)
        );
    }
}
