//! Deciding refunds: the money taken from the merchant's balance, and the acquirer's answer
//! recorded (a refusal gives the money back).

use crate::error::DomainError;
use crate::event::{Dialect, Event, Notice, RefundMade};
use crate::id::RefundId;
use crate::ledger::{Balance, Bucket, Entry, EntryKind, Owner};
use crate::payment::Payment;
use crate::plan::{Plan, Write};
use crate::refund::*;
use crate::settlement::{self, Settlement};
use crate::time::Millis;

/// Decides a refund of `amount` (`None`: all that remains) of `payment`, whose merchant has
/// `balance` in the payment's account currency and whose refunds in process or done took
/// `taken` of it: the refund in PROCESS with its money taken. The acquirer is asked until
/// `lease_until`; then whoever finds it still in PROCESS asks.
pub fn create(
    payment: &Payment,
    amount: Option<i64>,
    balance: Balance,
    taken: i64,
    id: RefundId,
    lease_until: Millis,
    now: Millis,
) -> Result<(Refund, Plan), DomainError> {
    if !payment.status.brings_money() {
        return Err(DomainError::TransactionRejected);
    }
    let remaining = payment.amount - payment.refunded_amount;
    let amount = amount.unwrap_or(remaining);
    if amount <= 0 || amount > remaining {
        return Err(DomainError::InvalidAmount);
    }
    let fx_rate = payment.fx_rate;
    let account_amount = match fx_rate {
        // Rounded up, once for all the payment's refunds: what they refund together, converted,
        // less what the live ones (in process or done) took. A merchant never pays back less
        // than the payment brought it, nor a minor unit more per partial refund; a refused
        // refund gives back what it took, and the next one makes up for it.
        Some(rate) => {
            let together = rate
                .convert_up(payment.refunded_amount + amount)
                .ok_or(DomainError::InvalidAmount)?;
            (together - taken).max(0)
        }
        None => amount,
    };
    let from_available = balance.available.min(account_amount);
    let from_hold = account_amount - from_available;
    if from_hold > balance.hold {
        return Err(DomainError::BalanceNotEnough);
    }
    let refund = Refund {
        id,
        payment_id: payment.id.clone(),
        bill_id: payment.bill_id.clone(),
        merchant_id: payment.merchant_id.clone(),
        shop_id: payment.shop_id.clone(),
        status: RefundStatus::Process,
        amount,
        currency: payment.currency,
        account_amount,
        account_currency: payment.account_currency,
        from_hold,
        full: amount == payment.amount,
        error_message: None,
        created_at: now,
        updated_at: now,
    };
    let m = &Owner::merchant(&payment.merchant_id);
    let mut entry = Entry::new(
        EntryKind::Refund,
        format!("refund_{}", refund.id),
        refund.id.as_str(),
        now,
    )
    .leg(
        Bucket::Available,
        m,
        refund.account_currency,
        -from_available,
    )
    .leg(Bucket::Hold, m, refund.account_currency, -from_hold);
    if fx_rate.is_some() {
        entry = entry
            .leg(
                Bucket::Fx,
                &Owner::PLATFORM,
                refund.account_currency,
                account_amount,
            )
            .leg(Bucket::Fx, &Owner::PLATFORM, refund.currency, -amount);
    }
    entry = entry.leg(
        Bucket::AcquirerClearing,
        &Owner::PLATFORM,
        refund.currency,
        amount,
    );
    let mut plan = Plan::one(Write::InsertRefund {
        refund: refund.clone(),
        process_at: lease_until,
    });
    plan.writes.push(Write::AddRefunded {
        payment_id: payment.id.clone(),
        amount,
        // The conversion above holds only for the refunded amount it was made from.
        was: fx_rate.map(|_| payment.refunded_amount),
        now,
    });
    plan.writes.push(Write::Post(entry));
    plan.writes.push(Write::RefreshOperation {
        payment_id: payment.id.clone(),
        now,
    });
    Ok((refund, plan))
}

/// Records the acquirer's answer to a refund in PROCESS (guarded on that status): SUCCESS, or
/// FAIL with its money back where it came from and the payment refundable again. What came
/// from hold goes back to hold with a settlement of its own due at `hold_due_at` (when the
/// payment's own money settles, or settled: then on the next settlement pass), so the hold
/// never holds more than waits to settle. Either way the refund postback goes to
/// `postback_url` (compat item 19) in the same plan.
pub fn complete(
    refund: &Refund,
    answer: Result<(), String>,
    postback_url: Option<&str>,
    custom: Option<&str>,
    hold_due_at: Millis,
    now: Millis,
) -> (Refund, Plan) {
    let mut done = refund.clone();
    done.updated_at = now;
    let mut plan = Plan::default();
    match answer {
        Ok(()) => done.status = RefundStatus::Success,
        Err(reason) => {
            done.status = RefundStatus::Fail;
            done.error_message = Some(reason);
            let m = &refund.merchant_id;
            let mut entry = Entry::new(
                EntryKind::RefundFailed,
                format!("refund_failed_{}", refund.id),
                refund.id.as_str(),
                now,
            )
            .leg(
                Bucket::AcquirerClearing,
                &Owner::PLATFORM,
                refund.currency,
                -refund.amount,
            );
            if refund.currency != refund.account_currency {
                entry = entry
                    .leg(Bucket::Fx, &Owner::PLATFORM, refund.currency, refund.amount)
                    .leg(
                        Bucket::Fx,
                        &Owner::PLATFORM,
                        refund.account_currency,
                        -refund.account_amount,
                    );
            }
            // A row read back from before refunds recorded their split has none: all of it
            // goes to available, as it did then.
            let to_hold = refund.from_hold.clamp(0, refund.account_amount);
            entry = entry
                .leg(
                    Bucket::Available,
                    &Owner::merchant(m),
                    refund.account_currency,
                    refund.account_amount - to_hold,
                )
                .leg(
                    Bucket::Hold,
                    &Owner::merchant(m),
                    refund.account_currency,
                    to_hold,
                );
            if to_hold > 0 {
                plan.writes.push(Write::InsertSettlement(Settlement {
                    id: settlement::returned_id(&refund.id),
                    payment_id: refund.payment_id.clone(),
                    merchant_id: m.clone(),
                    currency: refund.account_currency,
                    amount: to_hold,
                    due_at: hold_due_at,
                }));
            }
            plan.writes.push(Write::AddRefunded {
                payment_id: refund.payment_id.clone(),
                amount: -refund.amount,
                was: None,
                now,
            });
            plan.writes.push(Write::Post(entry));
        }
    }
    plan.writes.insert(
        0,
        Write::FinishRefund {
            id: refund.id.clone(),
            status: done.status,
            error_message: done.error_message.clone(),
            now,
        },
    );
    plan.writes.push(Write::RefreshOperation {
        payment_id: refund.payment_id.clone(),
        now,
    });
    if let Some(url) = postback_url {
        let event = Event::RefundMade(RefundMade {
            refund_id: done.id.clone(),
            payment_id: done.payment_id.clone(),
            bill_id: done.bill_id.clone(),
            status: done.status.as_str().into(),
            amount: done.amount,
            currency: done.currency,
            custom: custom.map(String::from),
        });
        plan.writes.push(Write::EnqueueNotice(Notice::new(
            Dialect::Cardlink,
            done.merchant_id.clone(),
            Some(done.shop_id.clone()),
            Some(done.bill_id.clone()),
            url,
            event,
            now,
        )));
    }
    (done, plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::{BillId, MerchantId, PaymentId, ShopId};
    use crate::ledger::FxRate;
    use crate::money::Currency;
    use crate::payment::{PaymentMethod, PaymentStatus};

    fn payment(fx: Option<FxRate>) -> Payment {
        Payment {
            id: PaymentId::from_trusted("PPPPPPPPPP".into()),
            bill_id: BillId::from_trusted("BBBBBBBBBB".into()),
            merchant_id: MerchantId::from_trusted("MMMMMMMMMM".into()),
            shop_id: ShopId::from_trusted("SSSSSSSSSS".into()),
            method: PaymentMethod::BankCard,
            status: PaymentStatus::Success,
            amount: 1_000,
            amount_received: 965,
            commission: 35,
            account_amount: 89_263,
            account_currency: if fx.is_some() {
                Currency::Rub
            } else {
                Currency::Usd
            },
            refunded_amount: 0,
            currency: Currency::Usd,
            fx_rate: fx,
            from_card: "400000******0259".into(),
            card_fingerprint: None,
            error_code: None,
            error_message: None,
            created_at: 0,
            updated_at: 0,
            client_addr: None,
        }
    }

    fn balance(currency: Currency, available: i64, hold: i64) -> Balance {
        Balance {
            available,
            hold,
            ..Balance::zero(currency)
        }
    }

    fn entries(plan: &Plan) -> Vec<&Entry> {
        plan.writes
            .iter()
            .filter_map(|w| match w {
                Write::Post(e) => Some(e),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_converted_refund_takes_available_then_hold_and_a_refusal_gives_it_back() {
        let p = payment(FxRate::parse("92.5"));
        let id = RefundId::from_trusted("RRRRRRRRRR".into());
        // 5.00 USD back at the payment's rate: 462.50 RUB, 400.00 from available, 62.50 held.
        let (r, plan) = create(
            &p,
            Some(500),
            balance(Currency::Rub, 40_000, 10_000),
            0,
            id,
            9,
            1,
        )
        .unwrap();
        assert_eq!(
            (r.account_amount, r.status),
            (46_250, RefundStatus::Process)
        );
        let e = entries(&plan);
        assert!(e[0].is_balanced());
        let d = e[0].deltas()[&(Owner::merchant(&p.merchant_id), Currency::Rub)];
        assert_eq!((d.available, d.hold), (-40_000, -6_250));
        assert_eq!(r.from_hold, 6_250);
        // The acquirer refuses: each part returns where it came from, balanced in both
        // currencies, and the held part settles again on its own.
        let (done, plan) = complete(&r, Err("no".into()), Some("http://x"), None, 7, 2);
        assert_eq!(done.status, RefundStatus::Fail);
        let e = entries(&plan);
        assert!(e[0].is_balanced());
        let d = e[0].deltas()[&(Owner::merchant(&p.merchant_id), Currency::Rub)];
        assert_eq!((d.available, d.hold), (40_000, 6_250));
        let returned: Vec<&Settlement> = plan
            .writes
            .iter()
            .filter_map(|w| match w {
                Write::InsertSettlement(s) => Some(s),
                _ => None,
            })
            .collect();
        assert_eq!(returned.len(), 1);
        assert_eq!(
            (returned[0].amount, returned[0].due_at, returned[0].currency),
            (6_250, 7, Currency::Rub)
        );
        assert_eq!(returned[0].id, "returned_RRRRRRRRRR");
        assert!(plan
            .writes
            .iter()
            .any(|w| matches!(w, Write::AddRefunded { amount: -500, .. })));
        assert!(plan
            .writes
            .iter()
            .any(|w| matches!(w, Write::EnqueueNotice(_))));
        // Success moves no money.
        let (_, plan) = complete(&r, Ok(()), None, None, 7, 2);
        assert!(entries(&plan).is_empty());
        // All from available: all back there, nothing to settle.
        let (r, _) = create(
            &p,
            Some(500),
            balance(Currency::Rub, 50_000, 0),
            0,
            RefundId::from_trusted("RRRRRRRRRR".into()),
            9,
            1,
        )
        .unwrap();
        let (_, plan) = complete(&r, Err("no".into()), None, None, 7, 2);
        let d = entries(&plan)[0].deltas()[&(Owner::merchant(&p.merchant_id), Currency::Rub)];
        assert_eq!((d.available, d.hold), (46_250, 0));
        assert!(!plan
            .writes
            .iter()
            .any(|w| matches!(w, Write::InsertSettlement(_))));
    }

    #[test]
    fn partial_refunds_of_a_converted_payment_cost_what_the_whole_converts_to() {
        // A payment of 1,000.00 booked at 0.01081081 (a rate below one, where rounding each
        // refund up on its own would cost a unit per refund): 10.81081 rounds up to 10.82.
        let p = Payment {
            amount: 100_000,
            ..payment(FxRate::parse("0.01081081"))
        };
        let rate = p.fx_rate.unwrap();
        let mut paid = p.clone();
        // The live refunds: (amount, what each took).
        let mut live: Vec<(i64, i64)> = Vec::new();
        let refund = |paid: &mut Payment, live: &mut Vec<(i64, i64)>, cents| {
            let taken = live.iter().map(|(_, t)| t).sum();
            let (r, plan) = create(
                paid,
                Some(cents),
                balance(Currency::Rub, 1_000_000, 0),
                taken,
                RefundId::from_trusted("RRRRRRRRRR".into()),
                9,
                1,
            )
            .unwrap();
            // The refund holds only for the refunded amount it was converted from.
            assert!(plan.writes.iter().any(|w| matches!(
                w,
                Write::AddRefunded { was: Some(was), .. } if *was == paid.refunded_amount
            )));
            assert!(entries(&plan)[0].is_balanced());
            paid.refunded_amount += cents;
            live.push((cents, r.account_amount));
        };
        for cents in [1, 1, 1] {
            refund(&mut paid, &mut live, cents);
        }
        // The first is refused by the acquirer: its amount and what it took come back.
        let (cents, _) = live.remove(0);
        paid.refunded_amount -= cents;
        for cents in [97, 1_000] {
            refund(&mut paid, &mut live, cents);
            let taken: i64 = live.iter().map(|(_, t)| t).sum();
            assert_eq!(taken, rate.convert_up(paid.refunded_amount).unwrap());
        }
        let rest = 100_000 - paid.refunded_amount;
        refund(&mut paid, &mut live, rest);
        let taken: i64 = live.iter().map(|(_, t)| t).sum();
        assert_eq!(taken, 1_082, "rounded up once for all of it");
    }

    #[test]
    fn never_more_than_remains_nor_than_the_balance_holds() {
        let p = payment(None);
        let id = || RefundId::from_trusted("RRRRRRRRRR".into());
        let rich = balance(Currency::Usd, 100_000, 0);
        assert_eq!(
            create(&p, Some(1_001), rich, 0, id(), 9, 1).map(|_| ()),
            Err(DomainError::InvalidAmount)
        );
        assert_eq!(
            create(&p, Some(0), rich, 0, id(), 9, 1).map(|_| ()),
            Err(DomainError::InvalidAmount)
        );
        assert_eq!(
            create(&p, None, balance(Currency::Usd, 500, 499), 0, id(), 9, 1).map(|_| ()),
            Err(DomainError::BalanceNotEnough)
        );
        let (r, _) = create(&p, None, balance(Currency::Usd, 500, 500), 0, id(), 9, 1).unwrap();
        assert!(r.full);
        let mut failed = p.clone();
        failed.status = crate::payment::PaymentStatus::Fail;
        assert_eq!(
            create(&failed, None, rich, 0, id(), 9, 1).map(|_| ()),
            Err(DomainError::TransactionRejected)
        );
    }
}
