//! Disputes: a payer who does not recognise a charge ("didn't buy anything?") writes in; the
//! merchant answers in its dashboard, operators decide. A dispute is open until answered, then
//! answered, and closed at the end; every message is kept, and the payer gets each answer by
//! email.

use crate::error::{DomainError, Rule};
use crate::id::{DisputeId, MerchantId, PaymentId};
use crate::time::Millis;

/// How long the payer is told an answer takes (the seed's promise).
pub const ANSWER_WITHIN_MS: Millis = 48 * 60 * 60 * 1000;
/// The longest message, in characters.
pub const MAX_TEXT: usize = 4_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisputeStatus {
    Open,
    Answered,
    Closed,
}

impl DisputeStatus {
    pub const ALL: [DisputeStatus; 3] = [
        DisputeStatus::Open,
        DisputeStatus::Answered,
        DisputeStatus::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DisputeStatus::Open => "open",
            DisputeStatus::Answered => "answered",
            DisputeStatus::Closed => "closed",
        }
    }

    pub fn parse(text: &str) -> Option<DisputeStatus> {
        DisputeStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Author {
    Payer,
    Merchant,
    Operator,
}

impl Author {
    pub fn as_str(self) -> &'static str {
        match self {
            Author::Payer => "payer",
            Author::Merchant => "merchant",
            Author::Operator => "operator",
        }
    }

    pub fn parse(text: &str) -> Option<Author> {
        [Author::Payer, Author::Merchant, Author::Operator]
            .into_iter()
            .find(|a| a.as_str() == text)
    }
}

/// An operator's decision on a dispute, taken once, closing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisputeDecision {
    /// The charge is refunded in full (what is left of it) from the merchant's balance.
    Refund,
    /// The charge stands.
    Reject,
    /// The payer is told to ask their bank for a chargeback; nothing moves here now.
    Chargeback,
}

impl DisputeDecision {
    pub const ALL: [DisputeDecision; 3] = [
        DisputeDecision::Refund,
        DisputeDecision::Reject,
        DisputeDecision::Chargeback,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DisputeDecision::Refund => "refund",
            DisputeDecision::Reject => "reject",
            DisputeDecision::Chargeback => "chargeback",
        }
    }

    pub fn parse(text: &str) -> Option<DisputeDecision> {
        DisputeDecision::ALL
            .into_iter()
            .find(|d| d.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispute {
    pub id: DisputeId,
    /// The merchant of the disputed charge; `None` when the payer wrote without one.
    pub merchant_id: Option<MerchantId>,
    pub payment_id: Option<PaymentId>,
    /// Where answers go.
    pub email: String,
    pub status: DisputeStatus,
    /// The operator's decision, once taken.
    pub decision: Option<DisputeDecision>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl Dispute {
    /// When an answer is due.
    pub fn answer_due(&self) -> Millis {
        self.created_at + ANSWER_WITHIN_MS
    }

    /// Whether the payer has waited past [`Self::answer_due`] for an answer: only an open
    /// dispute is (an answered or closed one was answered).
    pub fn overdue(&self, now: Millis) -> bool {
        self.status == DisputeStatus::Open && self.answer_due() < now
    }

    /// The statuses a reply by `author` moves from, and where to: the merchant's or an
    /// operator's reply answers an open dispute (an answered one stays answered); a closed
    /// dispute takes no more messages.
    pub fn reply(&self, author: Author) -> Result<DisputeStatus, DomainError> {
        match (self.status, author) {
            (DisputeStatus::Closed, _) => Err(DomainError::Invalid {
                field: "dispute",
                kind: Rule::Refused {
                    reason: "the dispute is closed".into(),
                },
            }),
            (status, Author::Payer) => Ok(status),
            (_, Author::Merchant | Author::Operator) => Ok(DisputeStatus::Answered),
        }
    }
}

/// A message of a dispute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisputeMessage {
    pub dispute_id: DisputeId,
    pub author: Author,
    pub text: String,
    pub created_at: Millis,
}

/// A message's text: trimmed, not empty, at most [`MAX_TEXT`] characters, no control characters
/// but line breaks and tabs.
pub fn check_text(text: &str) -> Result<String, DomainError> {
    let text = text.trim();
    let invalid = |kind| DomainError::Invalid {
        field: "text",
        kind,
    };
    if text.is_empty() {
        return Err(invalid(Rule::Required));
    }
    if text.chars().count() > MAX_TEXT {
        return Err(invalid(Rule::TooLong { max: MAX_TEXT }));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(invalid(Rule::ControlCharacter));
    }
    Ok(text.replace("\r\n", "\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dispute(status: DisputeStatus) -> Dispute {
        Dispute {
            id: DisputeId::from_trusted("D000000001".into()),
            merchant_id: None,
            payment_id: None,
            email: "payer@example.com".into(),
            status,
            decision: None,
            created_at: 1_000,
            updated_at: 1_000,
        }
    }

    #[test]
    fn only_an_open_dispute_past_its_deadline_is_overdue() {
        let late = 1_000 + ANSWER_WITHIN_MS + 1;
        assert!(dispute(DisputeStatus::Open).overdue(late));
        assert!(!dispute(DisputeStatus::Open).overdue(1_000 + ANSWER_WITHIN_MS));
        // Answered in time, then left waiting on the payer or an operator: not overdue.
        assert!(!dispute(DisputeStatus::Answered).overdue(late));
        assert!(!dispute(DisputeStatus::Closed).overdue(late));
    }

    #[test]
    fn a_merchants_reply_answers_and_a_closed_dispute_takes_nothing() {
        assert_eq!(
            dispute(DisputeStatus::Open).reply(Author::Merchant),
            Ok(DisputeStatus::Answered)
        );
        assert_eq!(
            dispute(DisputeStatus::Open).reply(Author::Payer),
            Ok(DisputeStatus::Open)
        );
        assert!(dispute(DisputeStatus::Closed)
            .reply(Author::Operator)
            .is_err());
        assert_eq!(
            dispute(DisputeStatus::Open).answer_due(),
            1_000 + 48 * 3600 * 1000
        );
    }

    #[test]
    fn texts_are_bounded_and_clean() {
        assert_eq!(check_text("  hi\r\nthere ").unwrap(), "hi\nthere");
        assert!(check_text("   ").is_err());
        assert!(check_text("a\u{0}b").is_err());
        assert!(check_text(&"x".repeat(MAX_TEXT + 1)).is_err());
        assert!(check_text(&"я".repeat(MAX_TEXT)).is_ok());
    }
}
