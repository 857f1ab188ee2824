//! Deciding payouts: a request becomes parts whose money is locked; each part moves through
//! the provider and ends with its ledger entry and webhook.

use crate::error::DomainError;
use crate::event::{Dialect, Event, Notice, PayoutFinished};
use crate::guard::Guard;
use crate::id::PayoutId;
use crate::ledger::{Bucket, Entry, EntryKind, Owner};
use crate::payout::*;
use crate::plan::{Plan, Write};
use crate::time::Millis;

/// The most parts one request is split into: a larger request (for its direction's largest
/// payout) is refused before anything is allocated for it.
pub const MAX_PARTS: i64 = 100;

/// `amount` in `n` near-equal parts, the larger ones first.
fn split(amount: i64, max: i64) -> Vec<i64> {
    let n = (amount + max - 1) / max;
    let (base, extra) = (amount / n, amount % n);
    (0..n).map(|i| base + i64::from(i < extra)).collect()
}

/// Decides a payout request: the parts it becomes and the plan that locks their money.
/// `new_id` gives each part its id.
pub fn create(
    cx: &PayoutContext,
    order: PayoutOrder,
    mut new_id: impl FnMut() -> PayoutId,
    now: Millis,
) -> Result<(Vec<Payout>, Plan), DomainError> {
    // As long as a bill's: it is in a unique index, whose entries have a size limit.
    crate::text::check_len("order_id", &order.order_id, crate::bill::MAX_ORDER_ID)?;
    cx.merchant.check_access()?;
    if !cx.merchant.verified {
        return Err(DomainError::MerchantNotVerified);
    }
    if order.kind == PayoutKind::Regular && !cx.profile.regular_payouts {
        return Err(DomainError::Unauthorized);
    }
    let rules = cx.rules.direction(order.payee.account_type);
    if !rules.currencies.contains(&order.currency) {
        return Err(DomainError::NoPayout);
    }
    if !rules.enabled || (order.payee.account_type == AccountType::Sbp && !cx.bank_enabled) {
        return Err(DomainError::DirectionNotAvailable);
    }
    if cx.payee_banned {
        return Err(DomainError::PayoutAccountBanned);
    }
    if order.amount < rules.min.max(1) {
        return Err(DomainError::InvalidAmount);
    }
    let max = rules.max.max(rules.min).max(1);
    // The amount is at least 1 here: the parts without overflow.
    if (order.amount - 1) / max + 1 > MAX_PARTS {
        return Err(DomainError::InvalidAmount);
    }
    let parts = split(order.amount, max);
    // Rules whose largest payout is under twice the smallest split some amounts into parts
    // below the smallest (151.00 in two of 75.50 with 100.00 the least): refused, as any
    // payout under the least is.
    if parts.iter().any(|p| *p < rules.min) {
        return Err(DomainError::InvalidAmount);
    }
    let commission: i64 = parts.iter().map(|a| rules.commission(*a)).sum();
    let total = order
        .amount
        .checked_add(commission)
        .ok_or(DomainError::InvalidAmount)?;
    let daily = cx.profile.daily_limit.or(cx.rules.daily_limit);
    let monthly = cx.profile.monthly_limit.or(cx.rules.monthly_limit);
    if daily.is_some_and(|l| cx.usage.day + order.amount > l) {
        return Err(DomainError::DailyPayoutLimitExceeded);
    }
    if monthly.is_some_and(|l| cx.usage.month + order.amount > l) {
        return Err(DomainError::MonthlyPayoutLimitExceeded);
    }
    if cx.balance.available < total {
        return Err(DomainError::BalanceNotEnough);
    }
    let (day_key, month_key) = periods(now);
    let mut plan = Plan::default();
    let mut payouts = Vec::with_capacity(parts.len());
    let mut group_id = None;
    // The threshold weighs the whole request: splitting it must not slip a large order past
    // the operator part by part. Every part shares the order's fate.
    let status = if cx.profile.moderation || order.amount >= cx.rules.moderation_threshold {
        PayoutStatus::Moderating
    } else {
        PayoutStatus::New
    };
    for (i, amount) in parts.into_iter().enumerate() {
        let id = new_id();
        let group = group_id.get_or_insert_with(|| id.to_string()).clone();
        let payout = Payout {
            id,
            merchant_id: cx.merchant.id.clone(),
            order_id: order.order_id.clone(),
            group_id: group,
            part: i as i64 + 1,
            kind: order.kind,
            payout_account_id: order.payout_account_id.clone(),
            payee: order.payee.clone(),
            status,
            amount,
            commission: rules.commission(amount),
            currency: order.currency,
            day_key: day_key.clone(),
            month_key: month_key.clone(),
            error_message: None,
            created_at: now,
            updated_at: now,
        };
        plan.writes.push(Write::InsertPayout(payout.clone()));
        plan.writes.push(Write::Post(
            Entry::new(
                EntryKind::PayoutLock,
                format!("lock_{}", payout.id),
                payout.id.as_str(),
                now,
            )
            .transfer(
                Bucket::Available,
                Bucket::Locked,
                &Owner::merchant(&payout.merchant_id),
                payout.currency,
                payout.total(),
            ),
        ));
        payouts.push(payout);
    }
    for (period, limit, guard) in [
        (day_key, daily, Guard::DailyPayoutLimitExceeded),
        (month_key, monthly, Guard::MonthlyPayoutLimitExceeded),
    ] {
        plan.writes.push(Write::UsePayoutLimit {
            merchant_id: cx.merchant.id.clone(),
            period,
            currency: order.currency,
            amount: order.amount,
            limit: limit.unwrap_or(i64::MAX),
            guard,
        });
    }
    Ok((payouts, plan))
}

/// Ends `payout` with `outcome`: the status move (guarded on the current status), the ledger
/// entry, the limits given back unless it succeeded, and the webhook to `webhook_url`.
pub fn finish(
    payout: &Payout,
    outcome: Outcome,
    webhook_url: Option<&str>,
    now: Millis,
) -> Result<(Payout, Plan), DomainError> {
    let status = outcome.status();
    if !allowed_from(status).contains(&payout.status) {
        return Err(DomainError::PayoutNotCancelable);
    }
    let mut done = payout.clone();
    done.status = status;
    done.updated_at = now;
    done.error_message = match outcome {
        Outcome::Success => None,
        Outcome::Fail(m) | Outcome::Error(m) | Outcome::Declined(m) => Some(m),
    };
    let m = &payout.merchant_id;
    let entry = match status {
        PayoutStatus::Success => Entry::new(
            EntryKind::PayoutSent,
            format!("sent_{}", payout.id),
            payout.id.as_str(),
            now,
        )
        .leg(
            Bucket::Locked,
            &Owner::merchant(m),
            payout.currency,
            -payout.total(),
        )
        .leg(
            Bucket::PayoutClearing,
            &Owner::PLATFORM,
            payout.currency,
            payout.amount,
        )
        .leg(
            Bucket::FeeRevenue,
            &Owner::PLATFORM,
            payout.currency,
            payout.commission,
        ),
        _ => Entry::new(
            EntryKind::PayoutReleased,
            format!("release_{}", payout.id),
            payout.id.as_str(),
            now,
        )
        .transfer(
            Bucket::Locked,
            Bucket::Available,
            &Owner::merchant(m),
            payout.currency,
            payout.total(),
        ),
    };
    let mut plan = Plan::one(Write::MovePayout {
        id: payout.id.clone(),
        from: allowed_from(status),
        to: status,
        error_message: done.error_message.clone(),
        process_at: None,
        now,
    });
    plan.writes.push(Write::Post(entry));
    if status != PayoutStatus::Success {
        plan.writes.push(Write::ReleasePayoutLimit {
            merchant_id: m.clone(),
            periods: [payout.day_key.clone(), payout.month_key.clone()],
            currency: payout.currency,
            amount: payout.amount,
        });
    }
    if let Some(url) = webhook_url {
        let event = Event::PayoutFinished(PayoutFinished {
            payout_id: done.id.clone(),
            status: done.status.as_str().into(),
            amount: done.amount,
            commission: done.commission,
            currency: done.currency,
            account_type: done.payee.account_type.as_str().into(),
            payee: done.payee.identifier.clone(),
        });
        plan.writes.push(Write::EnqueueNotice(Notice::new(
            Dialect::Cardlink,
            done.merchant_id.clone(),
            None,
            None,
            url,
            event,
            now,
        )));
    }
    Ok((done, plan))
}

/// A move that takes no money: MODERATING → NEW (approved), NEW → PROCESS (sent to the
/// provider, who answers by `process_at`).
pub fn advance(
    payout: &Payout,
    to: PayoutStatus,
    process_at: Option<Millis>,
    now: Millis,
) -> Result<(Payout, Plan), DomainError> {
    if to.is_final() || !allowed_from(to).contains(&payout.status) {
        return Err(DomainError::PayoutNotCancelable);
    }
    let mut moved = payout.clone();
    moved.status = to;
    moved.updated_at = now;
    Ok((
        moved,
        Plan::one(Write::MovePayout {
            id: payout.id.clone(),
            from: allowed_from(to),
            to,
            error_message: None,
            process_at,
            now,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::MerchantId;
    use crate::ledger::Balance;
    use crate::merchant::Merchant;
    use crate::merchant::Subscription;
    use crate::money::{Currency, Rate};

    fn rules() -> PayoutRules {
        let d = DirectionRules {
            enabled: true,
            currencies: vec![Currency::Rub],
            min: 10_000,
            max: 1_000_000,
            fee_rate: Rate::from_bps(100).unwrap(),
            fee_fixed: 5_000,
        };
        PayoutRules {
            card: d.clone(),
            sbp: d,
            moderation_threshold: 5_000_000,
            daily_limit: Some(3_000_000),
            monthly_limit: None,
        }
    }

    fn merchant(verified: bool) -> Merchant {
        Merchant {
            id: MerchantId::from_trusted("MMMMMMMMMM".into()),
            name: "m".into(),
            email: None,
            verified,
            banned: false,
            subscription: Subscription::Active,
            created_at: 0,
        }
    }

    fn order(amount: i64) -> PayoutOrder {
        PayoutOrder {
            kind: PayoutKind::Regular,
            amount,
            currency: Currency::Rub,
            payee: Payee {
                account_type: AccountType::Card,
                identifier: "400000******0010".into(),
                fingerprint: "f".into(),
                sealed: None,
                bank_member_id: None,
                holder: Some("JOHN DOE".into()),
            },
            payout_account_id: None,
            order_id: Some("o1".into()),
        }
    }

    fn run(
        m: &Merchant,
        available: i64,
        usage: Usage,
        amount: i64,
    ) -> Result<Vec<Payout>, DomainError> {
        run_with(rules(), m, available, usage, amount)
    }

    fn run_with(
        r: PayoutRules,
        m: &Merchant,
        available: i64,
        usage: Usage,
        amount: i64,
    ) -> Result<Vec<Payout>, DomainError> {
        let profile = PayoutProfile {
            regular_payouts: true,
            ..PayoutProfile::default()
        };
        let cx = PayoutContext {
            merchant: m,
            profile: &profile,
            rules: &r,
            balance: Balance {
                available,
                ..Balance::zero(Currency::Rub)
            },
            usage,
            payee_banned: false,
            bank_enabled: true,
        };
        let mut n = 0;
        create(
            &cx,
            order(amount),
            || {
                n += 1;
                PayoutId::from_trusted(format!("PAYOUT{n:04}"))
            },
            1_700_000_000_000,
        )
        .map(|(p, plan)| {
            for w in &plan.writes {
                if let Write::Post(e) = w {
                    assert!(e.is_balanced());
                }
            }
            p
        })
    }

    #[test]
    fn a_large_payout_is_split_into_parts_each_with_its_commission() {
        let parts = run(&merchant(true), 10_000_000, Usage::default(), 2_500_001).unwrap();
        let amounts: Vec<i64> = parts.iter().map(|p| p.amount).collect();
        assert_eq!(amounts, vec![833_334, 833_334, 833_333]);
        assert!(parts.iter().all(|p| p.group_id == "PAYOUT0001"));
        assert_eq!(parts[0].commission, 8_333 + 5_000);
        assert_eq!(
            parts.iter().map(|p| p.part).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
    }

    #[test]
    fn a_request_whose_parts_would_fall_below_the_smallest_payout_is_refused() {
        // 100.00 to 150.00 a payout: 151.00 would be two parts of 75.50.
        let mut r = rules();
        r.card.min = 10_000;
        r.card.max = 15_000;
        let rich = 10_000_000;
        assert_eq!(
            run_with(r.clone(), &merchant(true), rich, Usage::default(), 15_100),
            Err(DomainError::InvalidAmount)
        );
        // 200.00 is two parts of 100.00, and 150.00 one part: both go.
        let two = run_with(r.clone(), &merchant(true), rich, Usage::default(), 20_000).unwrap();
        assert_eq!(
            two.iter().map(|p| p.amount).collect::<Vec<_>>(),
            [10_000, 10_000]
        );
        assert_eq!(
            run_with(r, &merchant(true), rich, Usage::default(), 15_000)
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn a_request_of_more_than_a_hundred_parts_is_refused_before_it_is_split() {
        // Max 10 000.00 a part: 1 000 000.00 is exactly 100 parts (then refused by the daily
        // limit, checked after), a cent more is 101 (refused first, as an amount).
        let rich = 10_000_000_000;
        assert_eq!(
            run(&merchant(true), rich, Usage::default(), 100_000_000),
            Err(DomainError::DailyPayoutLimitExceeded)
        );
        assert_eq!(
            run(&merchant(true), rich, Usage::default(), 100_000_001),
            Err(DomainError::InvalidAmount)
        );
        assert_eq!(
            run(&merchant(true), rich, Usage::default(), i64::MAX / 2),
            Err(DomainError::InvalidAmount)
        );
    }

    #[test]
    fn the_moderation_threshold_weighs_the_whole_order_not_each_part() {
        let m = merchant(true);
        let profile = PayoutProfile {
            regular_payouts: true,
            ..PayoutProfile::default()
        };
        // Parts of at most 1 000 000, each below the 2 500 000 threshold.
        let r = PayoutRules {
            moderation_threshold: 2_500_000,
            ..rules()
        };
        let cx = PayoutContext {
            merchant: &m,
            profile: &profile,
            rules: &r,
            balance: Balance {
                available: 100_000_000,
                ..Balance::zero(Currency::Rub)
            },
            usage: Usage::default(),
            payee_banned: false,
            bank_enabled: true,
        };
        let mut n = 0;
        let mut id = || {
            n += 1;
            PayoutId::from_trusted(format!("PAYOUT{n:04}"))
        };
        let (parts, _) = create(&cx, order(2_500_000), &mut id, 1).unwrap();
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| p.amount < 2_500_000));
        assert!(parts.iter().all(|p| p.status == PayoutStatus::Moderating));
        let (parts, _) = create(&cx, order(2_499_999), &mut id, 1).unwrap();
        assert!(parts.iter().all(|p| p.status == PayoutStatus::New));
    }

    #[test]
    fn every_refusal_has_its_error() {
        let m = merchant(true);
        assert_eq!(
            run(&merchant(false), 1_000_000, Usage::default(), 50_000),
            Err(DomainError::MerchantNotVerified)
        );
        assert_eq!(
            run(&m, 1_000_000, Usage::default(), 9_999),
            Err(DomainError::InvalidAmount)
        );
        // 50 000 + 500 + 5 000 commission
        assert_eq!(
            run(&m, 55_499, Usage::default(), 50_000),
            Err(DomainError::BalanceNotEnough)
        );
        assert!(run(&m, 55_500, Usage::default(), 50_000).is_ok());
        assert_eq!(
            run(
                &m,
                10_000_000,
                Usage {
                    day: 2_960_000,
                    month: 0
                },
                50_000
            ),
            Err(DomainError::DailyPayoutLimitExceeded)
        );
    }

    #[test]
    fn phones_normalize_and_odd_text_is_refused() {
        for ok in [
            "+7 999 123-45-67",
            "79991234567",
            "8 (999) 123 45 67",
            "9991234567",
        ] {
            assert_eq!(Phone::parse(ok).unwrap().as_str(), "+79991234567", "{ok}");
        }
        for bad in [
            "",
            "+1 999 123 45 67",
            "7999123456",
            "+7 499 123 45 67",
            "79991234567x",
        ] {
            assert_eq!(Phone::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn finished_payouts_do_not_move_again() {
        let p = run(&merchant(true), 1_000_000, Usage::default(), 50_000)
            .unwrap()
            .remove(0);
        let (sent, _) = advance(&p, PayoutStatus::Process, Some(5), 1).unwrap();
        let (done, plan) = finish(&sent, Outcome::Success, Some("http://x"), 2).unwrap();
        assert!(plan
            .writes
            .iter()
            .any(|w| matches!(w, Write::EnqueueNotice(_))));
        assert_eq!(
            finish(&done, Outcome::Declined("no".into()), None, 3).map(|_| ()),
            Err(DomainError::PayoutNotCancelable)
        );
        assert_eq!(
            finish(&sent, Outcome::Declined("no".into()), None, 3).map(|_| ()),
            Err(DomainError::PayoutNotCancelable)
        );
    }
}
