//! Payments against a bill: how a charge's result becomes a payment, its amounts and the bill's
//! new status.

use crate::bill::Bill;
use crate::error::DomainError;
use crate::event::{Dialect, Event, Notice, PaymentFinished};
use crate::id::{BillId, MerchantId, PaymentId, ShopId};
use crate::ledger::{credit_converted, Bucket, Entry, EntryKind, FxRate, Owner};
use crate::merchant::Shop;
use crate::money::{Currency, Rate};
use crate::plan::{Plan, Write};
use crate::settlement::Settlement;
use crate::time::Millis;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentStatus {
    New,
    Process,
    Underpaid,
    Success,
    Overpaid,
    Fail,
}

impl PaymentStatus {
    pub const ALL: [PaymentStatus; 6] = [
        PaymentStatus::New,
        PaymentStatus::Process,
        PaymentStatus::Underpaid,
        PaymentStatus::Success,
        PaymentStatus::Overpaid,
        PaymentStatus::Fail,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::New => "NEW",
            PaymentStatus::Process => "PROCESS",
            PaymentStatus::Underpaid => "UNDERPAID",
            PaymentStatus::Success => "SUCCESS",
            PaymentStatus::Overpaid => "OVERPAID",
            PaymentStatus::Fail => "FAIL",
        }
    }

    /// Final states in which money was received.
    pub fn brings_money(self) -> bool {
        matches!(
            self,
            PaymentStatus::Success | PaymentStatus::Underpaid | PaymentStatus::Overpaid
        )
    }
}

impl FromStr for PaymentStatus {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        PaymentStatus::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentMethod {
    BankCard,
    Sbp,
}

impl PaymentMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::BankCard => "BANK_CARD",
            PaymentMethod::Sbp => "SBP",
        }
    }
}

impl FromStr for PaymentMethod {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s.trim().to_ascii_uppercase().as_str() {
            "BANK_CARD" | "CARD" => Ok(PaymentMethod::BankCard),
            "SBP" => Ok(PaymentMethod::Sbp),
            _ => Err(()),
        }
    }
}

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
    /// Money received: only an active, unexpired bill that is not a finished NORMAL one.
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
/// payments of one bill and `per_client` from one client address. 0 turns a limit off.
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

/// Records `charge` against `bill` with the shop's fee `rate`, and books the money received
/// in the ledger as `booking` says; with a `postback_url`, the merchant's postback goes to the
/// outbox in the same plan.
pub fn settle(
    bill: &Bill,
    rate: Rate,
    charge: Charge,
    id: PaymentId,
    postback_url: Option<&str>,
    booking: Booking,
    now: Millis,
) -> Result<(Payment, Plan), DomainError> {
    bill.check_payable(charge.method, now)?;
    booking.check(bill.currency)?;
    let fx_rate = booking
        .fx_rate
        .filter(|_| bill.currency != booking.balance_currency);
    let expected = bill.quote(rate);
    let (status, error) = match charge.result {
        ChargeResult::Declined { code, message } => (PaymentStatus::Fail, Some((code, message))),
        ChargeResult::Approved => (
            match charge.paid.cmp(&expected) {
                std::cmp::Ordering::Less => PaymentStatus::Underpaid,
                std::cmp::Ordering::Equal => PaymentStatus::Success,
                std::cmp::Ordering::Greater => PaymentStatus::Overpaid,
            },
            None,
        ),
    };
    let commission = if !status.brings_money() {
        0
    } else if !bill.payer_pays_commission {
        rate.fee_on(charge.paid)
    } else if charge.paid == expected {
        expected - bill.amount.minor()
    } else {
        rate.fee_within(charge.paid)
    };
    let received = if status.brings_money() {
        charge.paid - commission
    } else {
        0
    };
    let (error_code, error_message) = match error {
        Some((c, m)) => (Some(c), Some(m)),
        None => (None, None),
    };
    let mut payment = Payment {
        id,
        bill_id: bill.id.clone(),
        merchant_id: bill.merchant_id.clone(),
        shop_id: bill.shop_id.clone(),
        method: charge.method,
        status,
        amount: charge.paid,
        amount_received: received,
        commission,
        account_amount: received,
        account_currency: booking.balance_currency,
        refunded_amount: 0,
        currency: bill.currency,
        fx_rate,
        from_card: charge.from_card,
        card_fingerprint: charge.card_fingerprint,
        error_code,
        error_message,
        created_at: now,
        updated_at: now,
        client_addr: charge.client_addr,
    };
    let transition = if status.brings_money() {
        BillTransition::Receive {
            status: bill.status_after(status),
            now,
        }
    } else {
        BillTransition::Fail { now }
    };
    let mut entries = Vec::new();
    if status.brings_money() {
        let m = &payment.merchant_id;
        let entry = Entry::new(
            EntryKind::Payment,
            format!("pay_{}", payment.id),
            payment.id.as_str(),
            now,
        )
        .leg(
            Bucket::AcquirerClearing,
            &Owner::PLATFORM,
            payment.currency,
            -payment.amount,
        )
        .leg(
            Bucket::FeeRevenue,
            &Owner::PLATFORM,
            payment.currency,
            payment.commission,
        );
        // Settled at once (no delay): straight to available, with nothing left to settle.
        let immediate = booking.settle_after <= 0;
        let (entry, landed) = credit_converted(
            entry,
            &Owner::merchant(m),
            if immediate {
                Bucket::Available
            } else {
                Bucket::Hold
            },
            received,
            payment.currency,
            booking.balance_currency,
            fx_rate,
        )
        .ok_or(DomainError::InvalidAmount)?;
        payment.account_amount = landed;
        entries.push(Write::Post(entry));
        if landed > 0 && !immediate {
            entries.push(Write::InsertSettlement(Settlement {
                id: payment.id.to_string(),
                payment_id: payment.id.clone(),
                merchant_id: m.clone(),
                currency: booking.balance_currency,
                amount: landed,
                due_at: now + booking.settle_after,
            }));
        }
    }
    let mut plan = Plan::one(Write::RecordPayment {
        payment: payment.clone(),
        transition,
    });
    plan.writes.extend(entries);
    if let Some(url) = postback_url {
        plan.writes.push(Write::EnqueueNotice(Notice::new(
            Dialect::Cardlink,
            payment.merchant_id.clone(),
            Some(payment.shop_id.clone()),
            Some(payment.bill_id.clone()),
            url,
            Event::PaymentFinished(finished(bill, &payment)),
            now,
        )));
    }
    Ok((payment, plan))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bill::{BillType, NewBill};
    use crate::money::Amount;

    fn shop() -> Shop {
        Shop {
            id: ShopId::from_trusted("SSSSSSSSSS".into()),
            merchant_id: MerchantId::from_trusted("MMMMMMMMMM".into()),
            name: "s".into(),
            currency: Currency::Rub,
            balance_currency: None,
            enabled: true,
            commission: None,
            result_url: None,
            success_url: None,
            fail_url: None,
            created_at: 0,
        }
    }

    fn bill(kind: BillType, payer_pays: bool) -> Bill {
        let m = MerchantId::from_trusted("MMMMMMMMMM".into());
        let shop = shop();
        NewBill {
            amount: Amount::from_minor(10_000),
            bill_type: Some(kind),
            payer_pays_commission: payer_pays,
            ttl_secs: Some(60),
            ..NewBill::default()
        }
        .open(&m, &shop, BillId::from_trusted("BBBBBBBBBB".into()), 0)
        .unwrap()
    }

    fn charge(method: PaymentMethod, paid: i64, ok: bool) -> Charge {
        Charge {
            method,
            paid,
            from_card: String::new(),
            card_fingerprint: None,
            client_addr: None,
            result: if ok {
                ChargeResult::Approved
            } else {
                ChargeResult::Declined {
                    code: 5,
                    message: "declined".into(),
                }
            },
        }
    }

    fn pid() -> PaymentId {
        PaymentId::from_trusted("PPPPPPPPPP".into())
    }

    #[test]
    fn merchant_pays_the_fee_out_of_the_amount() {
        let b = bill(BillType::Normal, false);
        let rate = Rate::from_bps(350).unwrap();
        let (p, _) = settle(
            &b,
            rate,
            charge(PaymentMethod::BankCard, 10_000, true),
            pid(),
            None,
            Booking::immediate(Currency::Rub),
            1,
        )
        .unwrap();
        assert_eq!(
            (p.status, p.amount, p.commission, p.amount_received),
            (PaymentStatus::Success, 10_000, 350, 9_650)
        );
    }

    #[test]
    fn payer_pays_the_fee_on_top() {
        let b = bill(BillType::Normal, true);
        let rate = Rate::from_bps(350).unwrap();
        assert_eq!(b.quote(rate), 10_350);
        let (p, _) = settle(
            &b,
            rate,
            charge(PaymentMethod::BankCard, 10_350, true),
            pid(),
            None,
            Booking::immediate(Currency::Rub),
            1,
        )
        .unwrap();
        assert_eq!(
            (p.status, p.commission, p.amount_received),
            (PaymentStatus::Success, 350, 10_000)
        );
        let (p, _) = settle(
            &b,
            rate,
            charge(PaymentMethod::Sbp, 5_175, true),
            pid(),
            None,
            Booking::immediate(Currency::Rub),
            1,
        )
        .unwrap();
        assert_eq!(
            (p.status, p.commission, p.amount_received),
            (PaymentStatus::Underpaid, 175, 5_000)
        );
    }

    #[test]
    fn sbp_amounts_decide_under_and_overpaid() {
        let b = bill(BillType::Multi, false);
        let r = Rate::ZERO;
        let st = |paid| {
            settle(
                &b,
                r,
                charge(PaymentMethod::Sbp, paid, true),
                pid(),
                None,
                Booking::immediate(Currency::Rub),
                1,
            )
            .unwrap()
            .0
            .status
        };
        assert_eq!(st(9_999), PaymentStatus::Underpaid);
        assert_eq!(st(10_000), PaymentStatus::Success);
        assert_eq!(st(10_001), PaymentStatus::Overpaid);
    }

    #[test]
    fn a_declined_charge_is_a_failed_payment_that_receives_nothing() {
        let b = bill(BillType::Normal, false);
        let (p, plan) = settle(
            &b,
            Rate::from_bps(350).unwrap(),
            charge(PaymentMethod::BankCard, 10_000, false),
            pid(),
            None,
            Booking::immediate(Currency::Rub),
            1,
        )
        .unwrap();
        assert_eq!(
            (p.status, p.amount_received, p.commission),
            (PaymentStatus::Fail, 0, 0)
        );
        assert_eq!(p.error_code, Some(5));
        assert!(matches!(
            &plan.writes[0],
            Write::RecordPayment {
                transition: BillTransition::Fail { .. },
                ..
            }
        ));
    }

    #[test]
    fn a_converted_payment_books_balanced_legs_in_both_currencies() {
        let mut b = bill(BillType::Normal, false);
        b.currency = Currency::Usd;
        let booking = Booking {
            balance_currency: Currency::Rub,
            fx_rate: FxRate::parse("92.5"),
            settle_after: 86_400_000,
        };
        let rate = Rate::from_bps(350).unwrap();
        let (p, plan) = settle(
            &b,
            rate,
            charge(PaymentMethod::BankCard, 1_000, true),
            pid(),
            None,
            booking,
            1,
        )
        .unwrap();
        // 10.00 USD - 0.35 fee = 9.65 USD = 892.625 RUB, rounded half up
        assert_eq!(
            (p.amount_received, p.account_amount, p.account_currency),
            (965, 89_263, Currency::Rub)
        );
        let entries: Vec<_> = plan
            .writes
            .iter()
            .filter_map(|w| match w {
                Write::Post(e) => Some(e),
                _ => None,
            })
            .collect();
        assert_eq!(entries.len(), 1, "settles later: only the payment entry");
        assert!(entries[0].is_balanced());
        assert!(plan
            .writes
            .iter()
            .any(|w| matches!(w, Write::InsertSettlement(s) if s.amount == 89_263)));
        let no_rate = Booking {
            fx_rate: None,
            ..booking
        };
        assert_eq!(
            settle(
                &b,
                rate,
                charge(PaymentMethod::BankCard, 1_000, true),
                pid(),
                None,
                no_rate,
                1
            )
            .map(|_| ()),
            Err(DomainError::RateNotFound)
        );
    }

    #[test]
    fn a_finished_inactive_or_expired_bill_takes_no_payment() {
        let mut b = bill(BillType::Normal, false);
        b.status = PaymentStatus::Success;
        assert_eq!(
            b.check_payable(PaymentMethod::Sbp, 1),
            Err(DomainError::BillIsFinished)
        );
        assert!(matches!(
            b.toggle(false, 1),
            Err(DomainError::BillIsFinished)
        ));
        let mut b = bill(BillType::Multi, false);
        b.status = PaymentStatus::Success;
        assert_eq!(b.check_payable(PaymentMethod::Sbp, 1), Ok(()));
        assert_eq!(
            b.check_payable(PaymentMethod::Sbp, 60_000),
            Err(DomainError::BillExpired)
        );
        b.active = false;
        assert_eq!(
            b.check_payable(PaymentMethod::Sbp, 1),
            Err(DomainError::BillInactive)
        );
    }

    #[test]
    fn bill_status_follows_payments() {
        let mut b = bill(BillType::Multi, false);
        assert_eq!(b.status_after(PaymentStatus::Fail), PaymentStatus::Fail);
        b.status = PaymentStatus::Success;
        assert_eq!(b.status_after(PaymentStatus::Fail), PaymentStatus::Success);
        assert_eq!(
            b.status_after(PaymentStatus::Overpaid),
            PaymentStatus::Overpaid
        );
    }

    #[test]
    fn a_bill_restricted_to_one_method_refuses_the_other() {
        let mut b = bill(BillType::Normal, false);
        b.payment_method = Some(PaymentMethod::Sbp);
        assert!(matches!(
            b.check_payable(PaymentMethod::BankCard, 1),
            Err(DomainError::Invalid {
                field: "method",
                ..
            })
        ));
    }

    #[test]
    fn a_banned_merchants_or_a_disabled_shops_bill_is_not_payable() {
        let b = bill(BillType::Normal, false);
        let mut s = shop();
        let card = Some(PaymentMethod::BankCard);
        assert_eq!(check_payable(&b, &s, false, card, 1), Ok(()));
        assert_eq!(
            check_payable(&b, &s, true, None, 1),
            Err(DomainError::MerchantBanned)
        );
        s.enabled = false;
        assert_eq!(
            check_payable(&b, &s, false, card, 1),
            Err(DomainError::ShopNotEnabled)
        );
        // The bill's own state comes first: a paid bill says so.
        let mut paid = b.clone();
        paid.status = PaymentStatus::Success;
        assert_eq!(
            check_payable(&paid, &s, true, card, 1),
            Err(DomainError::BillIsFinished)
        );
    }

    #[test]
    fn card_attempts_stop_at_either_limit_and_zero_means_none() {
        let l = CardAttemptLimits {
            per_bill: 5,
            per_client: 20,
            window: 1,
        };
        assert_eq!(l.check(4, 19), Ok(()));
        assert_eq!(l.check(5, 0), Err(DomainError::TooManyFailedAttempts));
        assert_eq!(l.check(0, 20), Err(DomainError::TooManyFailedAttempts));
        let off = CardAttemptLimits {
            per_bill: 0,
            per_client: 0,
            window: 1,
        };
        assert!(off.is_off());
        assert_eq!(off.check(1_000, 1_000), Ok(()));
    }
}
