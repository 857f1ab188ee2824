//! What the Card API has issued and recorded, as stored: partners and their issuing settings,
//! clients (cardholders), cards, card transactions, and partners' requests with their outcome.
//! The rules that act on these are in [`crate::issuing`] and [`crate::decide::issuing`].

use crate::id::{CardId, CardTransactionId, ClientId, PartnerId};
use crate::issuing::{BinRange, CardStatus, CardType};
use crate::money::{Amount, Currency};
use crate::time::Millis;

/// The client products a card or client may belong to (compat note): wallet, instant and
/// electron cards.
pub const PRODUCTS: [u32; 3] = [1000, 2000, 3000];

/// BIN prefix of the sandbox's cards when a partner names none: a test range no real issuer
/// uses for production cards.
pub const SANDBOX_BIN: &str = "400000";

/// A partner: a user of the Card API, with its key (sealed) and what it may issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partner {
    /// The `auth_id` of its signatures.
    pub id: PartnerId,
    pub name: String,
    /// The HMAC key, sealed (bound to the partner id).
    pub key_sealed: String,
    pub currencies: Vec<Currency>,
    pub products: Vec<u32>,
    pub bin_ranges: Vec<BinRange>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// A partner's client: the person (or company) cards are issued to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardClient {
    pub id: ClientId,
    pub partner_id: PartnerId,
    pub product_id: u32,
    pub details: ClientDetails,
    /// Moves on with every edit: an edit is written only over the version it read.
    pub version: i64,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// A client's particulars as the partner gave them (already checked at the edge).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientDetails {
    /// Digits only, with the country code.
    pub phone: String,
    /// 1 individual, 2 legal entity, 3 sole proprietor.
    pub client_type: u8,
    /// 1 resident, 2 non-resident.
    pub resident: u8,
    pub first_name: String,
    pub last_name: String,
    pub middle_name: Option<String>,
    /// `YYYY-MM-DD`.
    pub birthdate: Option<String>,
    pub email: Option<String>,
    pub country: Option<String>,
}

/// A card as stored. The PAN, expiry and CVV are only in `data_sealed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCard {
    pub id: CardId,
    pub partner_id: PartnerId,
    pub client_id: Option<ClientId>,
    pub product_id: u32,
    pub card_type: CardType,
    /// The gift product's code (gift cards).
    pub gift_product: Option<String>,
    pub currency: Currency,
    pub status: CardStatus,
    /// Counts the movements of the card's money (see [`crate::plan::Write::MoveCardMoney`]).
    pub version: i64,
    /// The token partners validate cardholders with (never the PAN).
    pub card_token: String,
    /// Keyed fingerprint of the PAN: unique, so no PAN is issued twice.
    pub pan_fingerprint: String,
    /// `first6******last4`.
    pub card_mask: String,
    /// A gift card's holder as the partner named them, and the phone its OTP went to.
    pub holder_name: Option<String>,
    pub holder_phone: Option<String>,
    /// `PAN|MM/YY|CVV`, sealed (bound to the card id).
    pub data_sealed: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// What a card transaction does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransactionKind {
    /// Money onto the card from the partner's prepaid balance.
    Credit,
    /// Money off the card at once.
    Debit,
    /// A hold: money reserved, cleared or reversed later.
    Authorization,
    /// Money given back to the card for a debit (or a cleared authorization).
    Refund,
}

impl TransactionKind {
    pub const ALL: [TransactionKind; 4] = [
        TransactionKind::Credit,
        TransactionKind::Debit,
        TransactionKind::Authorization,
        TransactionKind::Refund,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TransactionKind::Credit => "credit",
            TransactionKind::Debit => "debit",
            TransactionKind::Authorization => "authorization",
            TransactionKind::Refund => "refund",
        }
    }

    pub fn parse(text: &str) -> Option<TransactionKind> {
        TransactionKind::ALL
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

/// Where a card transaction stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransactionStatus {
    /// An authorization still holding money.
    Process,
    Success,
    Error,
    /// A debit given back in full.
    Refunded,
    /// An authorization released without (or after part of) a capture.
    Reversed,
}

impl TransactionStatus {
    pub const ALL: [TransactionStatus; 5] = [
        TransactionStatus::Process,
        TransactionStatus::Success,
        TransactionStatus::Error,
        TransactionStatus::Refunded,
        TransactionStatus::Reversed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TransactionStatus::Process => "process",
            TransactionStatus::Success => "success",
            TransactionStatus::Error => "error",
            TransactionStatus::Refunded => "refunded",
            TransactionStatus::Reversed => "reversed",
        }
    }

    pub fn parse(text: &str) -> Option<TransactionStatus> {
        TransactionStatus::ALL
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

/// A card transaction as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardTransaction {
    pub id: CardTransactionId,
    pub partner_id: PartnerId,
    pub card_id: CardId,
    pub kind: TransactionKind,
    pub amount: Amount,
    pub currency: Currency,
    pub status: TransactionStatus,
    /// Of an authorization: what clearings took.
    pub captured: i64,
    /// Of an authorization: what clearings and reversals gave back to the card.
    pub released: i64,
    /// Of a debit or a cleared authorization: what refunds gave back.
    pub refunded: i64,
    /// The transaction a refund gives back.
    pub parent_id: Option<CardTransactionId>,
    pub description: String,
    pub merchant_name: Option<String>,
    pub external_id: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl CardTransaction {
    /// What a refund may still give back: a debit's amount, or what an authorization captured,
    /// less earlier refunds.
    pub fn refundable(&self) -> i64 {
        let base = match self.kind {
            TransactionKind::Debit => self.amount.minor(),
            TransactionKind::Authorization => self.captured,
            TransactionKind::Credit | TransactionKind::Refund => 0,
        };
        base - self.refunded
    }
}

/// One line of a card's statement: one movement of the card's money, as the ledger booked it,
/// at the time it was booked.
///
/// `status` says what the line did: `success` money moved (onto the card for a `credit` or a
/// `refund`, off it for a `debit` or the capture of an `authorization`), `process` an
/// authorization put money on hold, `reversed` a hold was given back without a capture. The
/// `success` lines of a period sum to the change of the card's `balance` over it; with the
/// holds (`process` off, `reversed` back on) they sum to the change of its `available`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementLine {
    /// The transaction the movement belongs to; `None` for what a close returned to the
    /// partner's prepaid balance.
    pub transaction: Option<CardTransaction>,
    pub kind: TransactionKind,
    pub status: TransactionStatus,
    /// What moved, more than 0.
    pub amount: i64,
    pub currency: Currency,
    pub at: Millis,
}

impl StatementLine {
    /// The line(s) of one ledger entry on the card: `available` and `hold` are what it posted
    /// to the card's buckets. A settlement of an authorization (the hold shrinks) is a capture
    /// line, a release line, or both, in that order.
    pub fn of_entry(
        transaction: Option<CardTransaction>,
        currency: Currency,
        available: i64,
        hold: i64,
        at: Millis,
    ) -> Vec<StatementLine> {
        let line = |kind, status, amount| StatementLine {
            transaction: transaction.clone(),
            kind,
            status,
            amount,
            currency,
            at,
        };
        let mut lines = Vec::with_capacity(2);
        if hold > 0 {
            lines.push(line(
                TransactionKind::Authorization,
                TransactionStatus::Process,
                hold,
            ));
        } else if hold < 0 {
            let captured = -hold - available;
            if captured > 0 {
                lines.push(line(
                    TransactionKind::Authorization,
                    TransactionStatus::Success,
                    captured,
                ));
            }
            if available > 0 {
                lines.push(line(
                    TransactionKind::Authorization,
                    TransactionStatus::Reversed,
                    available,
                ));
            }
        } else if available != 0 {
            let kind = match &transaction {
                Some(t) => t.kind,
                // A close: the rest of the card back to the partner.
                None => TransactionKind::Debit,
            };
            lines.push(line(kind, TransactionStatus::Success, available.abs()));
        }
        lines
    }

    /// What the line changed on the card's balance (`available` + `hold`).
    pub fn balance_change(&self) -> i64 {
        match (self.status, self.kind) {
            (TransactionStatus::Success, TransactionKind::Credit | TransactionKind::Refund) => {
                self.amount
            }
            (TransactionStatus::Success, _) => -self.amount,
            _ => 0,
        }
    }
}

/// How a partner's request ended, as `request/status` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestOutcome {
    Success,
    /// Accepted; its results are in `request/status` (bulk issue).
    Process,
    Error {
        code: String,
        description: String,
    },
}

impl RequestOutcome {
    /// The wire `request_status`.
    pub fn status(&self) -> &'static str {
        match self {
            RequestOutcome::Success => "success",
            RequestOutcome::Process => "process",
            RequestOutcome::Error { .. } => "error",
        }
    }
}

/// The ids a request produced.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Produced {
    pub client_id: Option<ClientId>,
    pub card_id: Option<CardId>,
    pub transaction_id: Option<CardTransactionId>,
    /// Bulk issue: each card and its mask.
    pub cards: Vec<(CardId, String)>,
}

/// A partner's request, recorded with its outcome in the plan of its effect: the database's
/// key (partner, request id) refuses a second one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardRequest {
    pub partner_id: PartnerId,
    pub request_id: String,
    /// The method as partners name it (`card/issue`; the gift cards' `cards/issue`).
    pub method: String,
    pub outcome: RequestOutcome,
    pub produced: Produced,
    pub created_at: Millis,
}

/// Request ids: what partners send (UUIDs), bounded.
pub fn check_request_id(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}
