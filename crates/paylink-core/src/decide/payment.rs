//! Deciding a payment: a charge's result becomes a payment, ledger entries, a settlement and
//! the merchant's postback, in one plan.

use crate::bill::Bill;
use crate::error::DomainError;
use crate::event::{Dialect, Event, Notice};
use crate::id::PaymentId;
use crate::ledger::{credit_converted, Bucket, Entry, EntryKind, Owner};
use crate::money::Rate;
use crate::payment::*;
use crate::plan::{Plan, Write};
use crate::settlement::Settlement;
use crate::time::Millis;

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
    match charge.result {
        // Money taken is recorded: whether the bill could be paid (active, not expired) was
        // checked before the charge, and it may have expired or been switched off since.
        ChargeResult::Approved if bill.is_finished() => return Err(DomainError::BillIsFinished),
        ChargeResult::Approved => bill.check_method(charge.method)?,
        ChargeResult::Declined { .. } => bill.check_payable(charge.method, now)?,
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bill::{BillType, NewBill};
    use crate::id::{BillId, MerchantId, ShopId};
    use crate::ledger::FxRate;
    use crate::merchant::Shop;
    use crate::money::Amount;
    use crate::money::Currency;

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
    fn money_taken_is_recorded_though_the_bill_expired_or_was_switched_off_meanwhile() {
        let settled = |b: &Bill, approved: bool, now| {
            settle(
                b,
                Rate::ZERO,
                charge(PaymentMethod::BankCard, 10_000, approved),
                pid(),
                None,
                Booking::immediate(Currency::Rub),
                now,
            )
            .map(|(p, _)| p.status)
        };
        // The bill's ttl is 60 s: the charge began before, its answer came after.
        let b = bill(BillType::Normal, false);
        assert_eq!(settled(&b, true, 61_000), Ok(PaymentStatus::Success));
        assert_eq!(settled(&b, false, 61_000), Err(DomainError::BillExpired));
        let off = Bill {
            active: false,
            ..b.clone()
        };
        assert_eq!(settled(&off, true, 1), Ok(PaymentStatus::Success));
        // A NORMAL bill paid meanwhile is not paid twice.
        let paid = Bill {
            status: PaymentStatus::Success,
            ..b
        };
        assert_eq!(settled(&paid, true, 1), Err(DomainError::BillIsFinished));
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
            crate::decide::bill::toggle(&b, false, 1),
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
