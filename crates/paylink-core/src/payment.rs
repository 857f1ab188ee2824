//! Payments against a bill: how a charge's result becomes a payment, its amounts and the bill's
//! new status.

use crate::bill::Bill;
use crate::error::DomainError;
use crate::event::PaymentFinished;
use crate::id::{BillId, MerchantId, PaymentId, ShopId};
use crate::ledger::FxRate;
use crate::merchant::Shop;
use crate::money::Currency;
use crate::time::Millis;

pub use crate::status::{PaymentMethod, PaymentStatus};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub id: PaymentId,
    pub bill_id: BillId,
    pub merchant_id: MerchantId,
    pub shop_id: ShopId,
    pub method: PaymentMethod,
    pub status: PaymentStatus,
    /// What the payer paid (or tried to pay), in `currency`.
    pub amount: i64,
    /// What the merchant receives: `amount - commission` (0 for a failed payment).
    pub amount_received: i64,
    pub commission: i64,
    /// `amount_received` in the merchant's balance currency.
    pub account_amount: i64,
    pub account_currency: Currency,
    pub refunded_amount: i64,
    pub currency: Currency,
    /// The rate `currency -> account_currency` the payment was converted at, if it was.
    pub fx_rate: Option<FxRate>,
    /// `first6******last4` for cards, empty for SBP.
    pub from_card: String,
    pub card_fingerprint: Option<String>,
    pub error_code: Option<i64>,
    pub error_message: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// The address the attempt came from (its peer, or as a trusted proxy said), when known:
    /// declined card payments are counted by it against card testing.
    pub client_addr: Option<String>,
}

/// The acquirer's answer to a charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeResult {
    Approved,
    /// `code` is the ISO 8583 response code (5: do not honor, 51: insufficient funds); clients
    /// parse `error_code` as an integer.
    Declined {
        code: i64,
        message: String,
    },
}

/// A charge asked of the acquirer whose answer is not recorded yet. `terms` is what its record
/// needs (price, rate, booking, payer), as the checkout wrote it; `process_at` is when the
/// worker may ask the acquirer about it (the asker's lease).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeIntent {
    pub payment_id: PaymentId,
    pub bill_id: BillId,
    pub terms: String,
    pub process_at: Millis,
    pub created_at: Millis,
}

/// A charge the acquirer has answered, ready to be recorded against its bill.
#[derive(Debug, Clone)]
pub struct Charge {
    pub method: PaymentMethod,
    /// Minor units the payer paid (for SBP the payer may change the amount).
    pub paid: i64,
    pub from_card: String,
    pub card_fingerprint: Option<String>,
    pub result: ChargeResult,
    /// See [`Payment::client_addr`].
    pub client_addr: Option<String>,
}

/// How a recorded payment moves its bill; the store enforces the guard in SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BillTransition {
    /// Money received: by any bill but a finished NORMAL one (whether it was active and
    /// unexpired was checked before the charge; money taken is recorded).
    Receive { status: PaymentStatus, now: Millis },
    /// A failed attempt: marks the bill FAIL only while it has received nothing.
    Fail { now: Millis },
}

/// Where a payment's money lands: the shop's balance currency, the operator's rate from the
/// bill's currency to it (needed when they differ), and how long it stays in hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Booking {
    pub balance_currency: Currency,
    pub fx_rate: Option<FxRate>,
    pub settle_after: Millis,
}

impl Booking {
    /// No conversion, settled at once.
    pub fn immediate(currency: Currency) -> Booking {
        Booking {
            balance_currency: currency,
            fx_rate: None,
            settle_after: 0,
        }
    }

    /// Refuses a conversion without a rate before any money is taken.
    pub fn check(&self, bill_currency: Currency) -> Result<(), DomainError> {
        if bill_currency != self.balance_currency && self.fx_rate.is_none() {
            return Err(DomainError::RateNotFound);
        }
        Ok(())
    }
}

/// Whether a payer may pay `bill` of `shop` now: the one rule behind the payment pages, their
/// checkout and the sandbox API. The bill is open (not finished, active, not expired), its
/// merchant is not banned, its shop is enabled, and it takes `method` (`None`: a page that
/// shows the bill before the payer picks a method).
pub fn check_payable(
    bill: &Bill,
    shop: &Shop,
    merchant_banned: bool,
    method: Option<PaymentMethod>,
    now: Millis,
) -> Result<(), DomainError> {
    bill.check_open(now)?;
    if merchant_banned {
        return Err(DomainError::MerchantBanned);
    }
    if !shop.enabled {
        return Err(DomainError::ShopNotEnabled);
    }
    method.map_or(Ok(()), |m| bill.check_method(m))
}

/// Limits on declined card payments, against card testing (someone trying stolen card numbers
/// on a bill until one goes through): within `window`, at most `per_bill` declined card
/// payments of one bill (of a bill many payers pay, from one client address on it) and
/// `per_client` from one client address. 0 turns a limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardAttemptLimits {
    pub per_bill: i64,
    pub per_client: i64,
    pub window: Millis,
}

impl Default for CardAttemptLimits {
    fn default() -> Self {
        CardAttemptLimits {
            per_bill: 5,
            per_client: 20,
            window: 3_600_000,
        }
    }
}

impl CardAttemptLimits {
    pub fn is_off(&self) -> bool {
        self.per_bill <= 0 && self.per_client <= 0
    }

    /// Whether another card payment may be tried, with `by_bill` declined card payments of
    /// the bill and `by_client` from the client's address within the window.
    pub fn check(&self, by_bill: i64, by_client: i64) -> Result<(), DomainError> {
        let over = |limit: i64, seen: i64| limit > 0 && seen >= limit;
        if over(self.per_bill, by_bill) || over(self.per_client, by_client) {
            return Err(DomainError::TooManyFailedAttempts);
        }
        Ok(())
    }
}

/// What the merchant is told of `payment` in a final state: by its postback, and by the
/// payer's browser on the way to the shop's success or fail URL.
pub fn finished(bill: &Bill, payment: &Payment) -> PaymentFinished {
    PaymentFinished {
        payment_id: payment.id.clone(),
        bill_id: bill.id.clone(),
        order_id: bill.order_id.clone(),
        status: payment.status.as_str().into(),
        amount: payment.amount,
        commission: payment.commission,
        currency: payment.currency,
        custom: bill.custom.clone(),
    }
}
