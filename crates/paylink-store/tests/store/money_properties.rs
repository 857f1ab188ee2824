//! Money properties. Any sequence of payments (converted or not, settled at once or later),
//! settlements, payouts (split, moderated, succeeding and failing), refunds (answered or not)
//! and FX rate changes, decided by paylink-core from what the store shows (fresh or stale) and
//! applied to a real store, keeps the ledger whole: every transaction balances in each
//! currency, every cached balance is the fold of its postings, no balance goes below zero, and
//! the balances are what a model kept by this test expects from the operations that committed.
//! Plus one race: payouts decided from one stale balance read, of which the SQL guard lets
//! exactly as many through as the balance pays for.

use crate::support::{charge, insert_bill, open, payment_id, race, seed, Outcome, NOW};
use paylink_core::bill::{Bill, BillType, NewBill};
use paylink_core::decide;
use paylink_core::guard::Guard;
use paylink_core::id::{MerchantId, PaymentId, PayoutId, RefundId, ShopId};
use paylink_core::ledger::{Balance, FxRate};
use paylink_core::merchant::{Merchant, Shop};
use paylink_core::money::{Amount, Currency, Rate};
use paylink_core::payment::{Booking, Payment};
use paylink_core::payout::{
    self, AccountType, DirectionRules, Payee, Payout, PayoutContext, PayoutKind, PayoutOrder,
    PayoutProfile, PayoutRules, PayoutStatus, Usage,
};
use paylink_core::plan::{Plan, Write};
use paylink_core::refund::{Refund, RefundStatus};
use paylink_core::settlement;
use paylink_core::time::Millis;
use paylink_store::{Store, StoreError};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// How long a delayed payment waits in hold.
const SETTLE_AFTER: Millis = 3_600_000;
const USD_RUB: i64 = 9_250_000_000; // 92.5
const RUB_USD: i64 = 1_081_081; // 0.01081081
/// Merchant 0's daily payout limit (merchant 1 has none).
const DAILY_LIMIT: i64 = 1_500_000;

fn rules() -> PayoutRules {
    let d = DirectionRules {
        enabled: true,
        currencies: vec![Currency::Rub, Currency::Usd],
        min: 100,
        max: 500_000,
        fee_rate: Rate::from_bps(150).unwrap(),
        fee_fixed: 30,
    };
    PayoutRules {
        card: d.clone(),
        sbp: d,
        moderation_threshold: 400_000,
        daily_limit: None,
        monthly_limit: None,
    }
}

fn payee() -> Payee {
    Payee {
        account_type: AccountType::Card,
        identifier: "400000******0010".into(),
        fingerprint: "f".repeat(64),
        sealed: None,
        bank_member_id: None,
        holder: Some("JOHN DOE".into()),
    }
}

#[derive(Debug, Clone, Copy)]
enum Size {
    /// Per mille of the available balance as read (above 1000: more than there is).
    Permille(i64),
    /// Twice the largest payout and a bit: three parts.
    Split,
    /// Below the smallest payout.
    BelowMin,
}

#[derive(Debug, Clone, Copy)]
enum End {
    Success,
    Fail,
    Error,
    Declined,
}

/// Pays a fresh NORMAL bill of `merchant`'s shop `shop` (shop 1 converts to its balance
/// currency), or (`again`) the last bill once more as the payer first saw it.
#[derive(Debug, Clone, Copy)]
struct Pay {
    merchant: usize,
    shop: usize,
    usd: bool,
    amount: i64,
    outcome: Outcome,
    /// Waits in hold for [`SETTLE_AFTER`] instead of settling at once.
    delayed: bool,
    payer_pays: bool,
    again: bool,
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Pay(Pay),
    /// Advances the clock and settles whatever is due.
    Settle {
        advance: Millis,
    },
    /// A payout decided from the balance and usage as read now, or (`stale`) as last read; of
    /// the merchant and currency (`usd`) given, or of the one with most available.
    Payout {
        target: Option<(usize, bool)>,
        size: Size,
        stale: bool,
    },
    /// MODERATING -> NEW (approved) or NEW -> PROCESS (sent), of a payout in flight.
    Advance {
        pick: usize,
    },
    /// Ends a payout in flight as read now, or (`stale`: any payout) as it was created.
    Finish {
        pick: usize,
        end: End,
        stale: bool,
    },
    /// Refunds all (`None`) or per mille of what remains, from the payment and balance as read
    /// now or (`stale`) as recorded / last read.
    Refund {
        pick: usize,
        permille: Option<i64>,
        stale: bool,
    },
    /// The acquirer's answer to a refund (twice for one refund: the guard refuses the second).
    RefundAnswer {
        pick: usize,
        ok: bool,
    },
    SetRate {
        usd_to_rub: bool,
        e8: i64,
    },
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        3 => Just(Outcome::Success),
        1 => Just(Outcome::Underpaid),
        1 => Just(Outcome::Overpaid),
        1 => Just(Outcome::Declined),
    ]
}

fn size() -> impl Strategy<Value = Size> {
    prop_oneof![
        6 => (1i64..=1_300).prop_map(Size::Permille),
        1 => Just(Size::Split),
        1 => Just(Size::BelowMin),
    ]
}

fn end() -> impl Strategy<Value = End> {
    prop_oneof![
        Just(End::Success),
        Just(End::Fail),
        Just(End::Error),
        Just(End::Declined),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (
            0usize..2,
            0usize..2,
            any::<bool>(),
            prop_oneof![1 => 1i64..=300, 6 => 100i64..=2_000_000],
            outcome(),
            any::<bool>(),
            any::<bool>(),
            prop::bool::weighted(0.15),
        )
            .prop_map(
                |(merchant, shop, usd, amount, outcome, delayed, payer_pays, again)| {
                    Op::Pay(Pay {
                        merchant,
                        shop,
                        usd,
                        amount,
                        outcome,
                        delayed,
                        payer_pays,
                        again,
                    })
                }
            ),
        3 => (0i64..=2 * SETTLE_AFTER).prop_map(|advance| Op::Settle { advance }),
        4 => (
            prop::option::weighted(0.25, (0usize..2, any::<bool>())),
            size(),
            prop::bool::weighted(0.3)
        )
            .prop_map(|(target, size, stale)| Op::Payout {
                target,
                size,
                stale
            }),
        3 => any::<usize>().prop_map(|pick| Op::Advance { pick }),
        4 => (any::<usize>(), end(), prop::bool::weighted(0.3))
            .prop_map(|(pick, end, stale)| Op::Finish { pick, end, stale }),
        3 => (
            any::<usize>(),
            prop::option::weighted(0.6, 1i64..=1_300),
            prop::bool::weighted(0.3)
        )
            .prop_map(|(pick, permille, stale)| Op::Refund {
                pick,
                permille,
                stale
            }),
        2 => (any::<usize>(), any::<bool>()).prop_map(|(pick, ok)| Op::RefundAnswer { pick, ok }),
        1 => prop_oneof![
            (5_000_000_000i64..=15_000_000_000).prop_map(|e8| Op::SetRate {
                usd_to_rub: true,
                e8
            }),
            (500_000i64..=2_000_000).prop_map(|e8| Op::SetRate {
                usd_to_rub: false,
                e8
            }),
        ],
    ]
}

/// Expected balance of one merchant in one currency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Expected {
    available: i64,
    locked: i64,
    hold: i64,
}

/// What the test expects the store to hold, kept from the operations that committed.
#[derive(Default)]
struct Model {
    balances: BTreeMap<(usize, Currency), Expected>,
    /// Unsettled money by settlement id (a payment's id, or `returned_<refund>` for what a
    /// refused refund put back in hold): (merchant, currency, amount, due_at).
    pending: BTreeMap<String, (usize, Currency, i64, Millis)>,
    /// When each delayed payment's own money settles (or settled).
    due_of: BTreeMap<PaymentId, Millis>,
    /// Every payout part created, with its status.
    payouts: Vec<(Payout, PayoutStatus)>,
    refunds: Vec<(Refund, RefundStatus)>,
    /// Every payment recorded, as recorded.
    payments: Vec<Payment>,
    /// Every bill opened, as opened.
    bills: Vec<Bill>,
}

impl Model {
    fn at(&mut self, m: usize, c: Currency) -> &mut Expected {
        self.balances.entry((m, c)).or_default()
    }
}

struct World {
    store: Store,
    merchants: Vec<Merchant>,
    /// Per merchant: a plain shop, and one that books to another currency.
    shops: Vec<[Shop; 2]>,
    rules: PayoutRules,
    now: Millis,
    /// The balance each (merchant, currency) had when last read: what a stale decision uses.
    seen: BTreeMap<(usize, Currency), Balance>,
    model: Model,
}

/// Whether a plan committed. A refusal by a guard is fine where the decision was made on stale
/// state; a decision made on fresh state must commit; any other error fails the property.
fn committed(
    result: Result<(), StoreError>,
    fresh: bool,
    what: &str,
) -> Result<bool, TestCaseError> {
    match result {
        Ok(()) => Ok(true),
        Err(StoreError::GuardFailed(_)) if !fresh => Ok(false),
        Err(e) => Err(TestCaseError::fail(format!(
            "{what} (fresh: {fresh}) failed: {e:?}"
        ))),
    }
}

impl World {
    async fn new() -> (paylink_store::testing::TestDatabase, World) {
        let (db, store) = open().await;
        let mut merchants = Vec::new();
        let mut shops = Vec::new();
        for i in 0..2 {
            let (m, plain) = seed(&store, &format!("money{i}")).await;
            let plain = Shop {
                commission: Some(Rate::from_bps([350, 0][i]).unwrap()),
                ..plain
            };
            let converting = Shop {
                id: ShopId::random(&mut rand::thread_rng()),
                name: format!("money{i} converting"),
                balance_currency: Some([Currency::Rub, Currency::Usd][i]),
                commission: Some(Rate::from_bps([0, 275][i]).unwrap()),
                ..plain.clone()
            };
            let profile = PayoutProfile {
                regular_payouts: true,
                daily_limit: (i == 0).then_some(DAILY_LIMIT),
                ..PayoutProfile::default()
            };
            store
                .apply(Plan {
                    writes: vec![
                        Write::UpdateShop(plain.clone()),
                        Write::InsertShop(converting.clone()),
                        Write::SetPayoutProfile {
                            merchant_id: m.id.clone(),
                            profile,
                        },
                    ],
                })
                .await
                .expect("set up a merchant");
            merchants.push(m);
            shops.push([plain, converting]);
        }
        for (base, quote, e8) in [
            (Currency::Usd, Currency::Rub, USD_RUB),
            (Currency::Rub, Currency::Usd, RUB_USD),
        ] {
            store
                .apply(Plan::one(Write::SetFxRate {
                    base,
                    quote,
                    rate: FxRate::from_e8(e8).unwrap(),
                    now: NOW,
                }))
                .await
                .expect("set a rate");
        }
        let world = World {
            store,
            merchants,
            shops,
            rules: rules(),
            now: NOW,
            seen: BTreeMap::new(),
            model: Model::default(),
        };
        (db, world)
    }

    fn index(&self, m: &MerchantId) -> usize {
        self.merchants
            .iter()
            .position(|x| &x.id == m)
            .expect("one of ours")
    }

    async fn balance(&mut self, m: usize, c: Currency) -> Balance {
        let b = self
            .store
            .balance(&self.merchants[m].id, c)
            .await
            .expect("read a balance");
        self.seen.insert((m, c), b);
        b
    }

    fn stale_balance(&self, m: usize, c: Currency) -> Balance {
        self.seen.get(&(m, c)).copied().unwrap_or(Balance::zero(c))
    }

    async fn step(&mut self, op: Op) -> Result<(), TestCaseError> {
        self.now += 1_000;
        match op {
            Op::Pay(pay) => self.pay(pay).await,
            Op::Settle { advance } => self.settle(advance).await,
            Op::Payout {
                target,
                size,
                stale,
            } => self.payout(target, size, stale).await,
            Op::Advance { pick } => self.advance(pick).await,
            Op::Finish { pick, end, stale } => self.finish(pick, end, stale).await,
            Op::Refund {
                pick,
                permille,
                stale,
            } => self.refund(pick, permille, stale).await,
            Op::RefundAnswer { pick, ok } => self.answer(pick, ok).await,
            Op::SetRate { usd_to_rub, e8 } => {
                let (base, quote) = if usd_to_rub {
                    (Currency::Usd, Currency::Rub)
                } else {
                    (Currency::Rub, Currency::Usd)
                };
                let result = self
                    .store
                    .apply(Plan::one(Write::SetFxRate {
                        base,
                        quote,
                        rate: FxRate::from_e8(e8).unwrap(),
                        now: self.now,
                    }))
                    .await;
                committed(result, true, "set a rate").map(|_| ())
            }
        }
    }

    async fn pay(&mut self, pay: Pay) -> Result<(), TestCaseError> {
        let Pay {
            merchant: m,
            shop,
            usd,
            amount,
            outcome,
            delayed,
            payer_pays,
            again,
        } = pay;
        let (bill, shop, fresh) = match self.model.bills.last().filter(|_| again) {
            Some(b) => {
                let m = self.index(&b.merchant_id);
                let s = self.shops[m]
                    .iter()
                    .find(|s| s.id == b.shop_id)
                    .expect("one of ours")
                    .clone();
                (b.clone(), s, false)
            }
            None => {
                let s = self.shops[m][shop].clone();
                let bill = NewBill {
                    amount: Amount::from_minor(amount),
                    currency: Some(if usd { Currency::Usd } else { Currency::Rub }),
                    bill_type: Some(BillType::Normal),
                    payer_pays_commission: payer_pays,
                    ..NewBill::default()
                }
                .open(&s.merchant_id, &s, crate::support::bill_id(), self.now)
                .expect("open a bill");
                insert_bill(&self.store, &bill).await;
                self.model.bills.push(bill.clone());
                (bill, s, true)
            }
        };
        let m = self.index(&bill.merchant_id);
        let rate = shop.commission.unwrap_or(Rate::ZERO);
        let balance_currency = shop.balance_currency.unwrap_or(bill.currency);
        let fx_rate = if balance_currency == bill.currency {
            None
        } else {
            self.store
                .fx_rate(bill.currency, balance_currency)
                .await
                .expect("read a rate")
        };
        prop_assert!(balance_currency == bill.currency || fx_rate.is_some());
        let booking = Booking {
            balance_currency,
            fx_rate,
            settle_after: if delayed { SETTLE_AFTER } else { 0 },
        };
        let decided = decide::payment::settle(
            &bill,
            rate,
            charge(&bill, rate, outcome),
            payment_id(),
            None,
            booking,
            self.now,
        );
        let (p, plan) = match decided {
            Ok(done) => done,
            Err(e) => {
                prop_assert!(!fresh, "a fresh bill refused a payment: {:?}", e);
                return Ok(());
            }
        };
        if !committed(self.store.apply(plan).await, fresh, "a payment")? {
            return Ok(());
        }
        self.model.payments.push(p.clone());
        if !p.status.brings_money() {
            return Ok(());
        }
        // What lands is what was received, converted at the operator's rate when it is.
        let landed = match fx_rate {
            Some(r) => r.convert(p.amount_received).expect("no overflow"),
            None => p.amount_received,
        };
        prop_assert_eq!(p.fx_rate, fx_rate);
        prop_assert_eq!(p.account_currency, balance_currency);
        prop_assert_eq!(p.account_amount, landed);
        prop_assert_eq!(p.amount_received + p.commission, p.amount);
        if landed == 0 {
            return Ok(());
        }
        if delayed {
            self.model.at(m, balance_currency).hold += landed;
            self.model.pending.insert(
                p.id.to_string(),
                (m, balance_currency, landed, self.now + SETTLE_AFTER),
            );
            self.model
                .due_of
                .insert(p.id.clone(), self.now + SETTLE_AFTER);
        } else {
            self.model.at(m, balance_currency).available += landed;
        }
        Ok(())
    }

    async fn settle(&mut self, advance: Millis) -> Result<(), TestCaseError> {
        self.now += advance;
        let due = self
            .store
            .due_settlements(self.now, 1_000)
            .await
            .expect("read due settlements");
        let found: BTreeSet<&String> = due.iter().map(|s| &s.id).collect();
        let expected: BTreeSet<&String> = self
            .model
            .pending
            .iter()
            .filter(|(_, (_, _, _, due_at))| *due_at <= self.now)
            .map(|(id, _)| id)
            .collect();
        prop_assert_eq!(found, expected, "due settlements");
        for s in due {
            let m = self.index(&s.merchant_id);
            let hold = self.balance(m, s.currency).await.hold;
            let plan = decide::settlement::settle(&s, hold, self.now);
            committed(self.store.apply(plan).await, true, "a settlement")?;
            let (_, c, amount, _) = self.model.pending.remove(&s.id).unwrap();
            prop_assert_eq!((s.amount, s.currency), (amount, c));
            // Refunds may have taken part of the hold: only what is left moves.
            let e = self.model.at(m, c);
            let moved = amount.min(e.hold);
            e.hold -= moved;
            e.available += moved;
        }
        Ok(())
    }

    async fn payout(
        &mut self,
        target: Option<(usize, bool)>,
        size: Size,
        stale: bool,
    ) -> Result<(), TestCaseError> {
        let (m, currency) = match target {
            Some((m, usd)) => (m, if usd { Currency::Usd } else { Currency::Rub }),
            None => self
                .model
                .balances
                .iter()
                .max_by_key(|(_, e)| e.available)
                .map_or((0, Currency::Rub), |(k, _)| *k),
        };
        let id = self.merchants[m].id.clone();
        let merchant = self
            .store
            .merchant(&id)
            .await
            .expect("read a merchant")
            .expect("it exists");
        let profile = self
            .store
            .payout_profile(&id)
            .await
            .expect("read a profile")
            .expect("it exists");
        let (balance, usage) = if stale {
            (self.stale_balance(m, currency), Usage::default())
        } else {
            let (day, month) = payout::periods(self.now);
            let usage = self
                .store
                .payout_usage(&id, currency, &day, &month)
                .await
                .expect("read usage");
            (self.balance(m, currency).await, usage)
        };
        let amount = match size {
            Size::Permille(p) => balance.available * p / 1_000,
            Size::Split => self.rules.card.max * 2 + 1,
            Size::BelowMin => self.rules.card.min - 1,
        };
        let cx = PayoutContext {
            merchant: &merchant,
            profile: &profile,
            rules: &self.rules,
            balance,
            usage,
            payee_banned: false,
            bank_enabled: true,
        };
        let order = PayoutOrder {
            kind: PayoutKind::Regular,
            amount,
            currency,
            payee: payee(),
            payout_account_id: None,
            order_id: None,
        };
        let Ok((parts, plan)) = decide::payout::create(
            &cx,
            order,
            || PayoutId::random(&mut rand::thread_rng()),
            self.now,
        ) else {
            return Ok(());
        };
        if !committed(self.store.apply(plan).await, !stale, "a payout")? {
            return Ok(());
        }
        prop_assert_eq!(parts.iter().map(|p| p.amount).sum::<i64>(), amount);
        // The moderation threshold weighs the whole request, every part alike.
        let moderated = profile.moderation || amount >= self.rules.moderation_threshold;
        for p in &parts {
            prop_assert_eq!(p.status == PayoutStatus::Moderating, moderated);
        }
        for p in parts {
            prop_assert!(p.amount <= self.rules.card.max);
            let e = self.model.at(m, currency);
            e.available -= p.total();
            e.locked += p.total();
            let status = p.status;
            self.model.payouts.push((p, status));
        }
        Ok(())
    }

    /// The `pick`th payout (of those in flight unless `any`), by its index in the model.
    fn pick_payout(&self, pick: usize, any: bool) -> Option<usize> {
        let candidates: Vec<usize> = (0..self.model.payouts.len())
            .filter(|i| any || !self.model.payouts[*i].1.is_final())
            .collect();
        (!candidates.is_empty()).then(|| candidates[pick % candidates.len()])
    }

    async fn advance(&mut self, pick: usize) -> Result<(), TestCaseError> {
        let Some(i) = self.pick_payout(pick, false) else {
            return Ok(());
        };
        let current = self
            .store
            .payout(&self.model.payouts[i].0.id)
            .await
            .expect("read a payout")
            .expect("it exists");
        prop_assert_eq!(current.status, self.model.payouts[i].1);
        let (to, process_at) = match current.status {
            PayoutStatus::Moderating => (PayoutStatus::New, None),
            _ => (PayoutStatus::Process, Some(self.now + 60_000)),
        };
        let Ok((_, plan)) = decide::payout::advance(&current, to, process_at, self.now) else {
            prop_assert!(current.status != PayoutStatus::New);
            return Ok(());
        };
        if committed(self.store.apply(plan).await, true, "a payout move")? {
            self.model.payouts[i].1 = to;
        }
        Ok(())
    }

    async fn finish(&mut self, pick: usize, end: End, stale: bool) -> Result<(), TestCaseError> {
        let Some(i) = self.pick_payout(pick, stale) else {
            return Ok(());
        };
        let snapshot = if stale {
            self.model.payouts[i].0.clone()
        } else {
            self.store
                .payout(&self.model.payouts[i].0.id)
                .await
                .expect("read a payout")
                .expect("it exists")
        };
        let outcome = match end {
            End::Success => payout::Outcome::Success,
            End::Fail => payout::Outcome::Fail("Recipient declined the transfer".into()),
            End::Error => payout::Outcome::Error("Payout provider error".into()),
            End::Declined => payout::Outcome::Declined("Declined by an operator".into()),
        };
        let Ok((done, plan)) = decide::payout::finish(&snapshot, outcome, None, self.now) else {
            return Ok(());
        };
        // A stale snapshot may still be the current status: then it must commit too.
        let fresh = !stale || snapshot.status == self.model.payouts[i].1;
        if !committed(self.store.apply(plan).await, fresh, "a payout end")? {
            return Ok(());
        }
        let (p, status) = &mut self.model.payouts[i];
        prop_assert!(!status.is_final(), "a final payout ended again");
        *status = done.status;
        let (merchant, total, currency) = (p.merchant_id.clone(), p.total(), p.currency);
        let m = self.index(&merchant);
        let e = self.model.at(m, currency);
        e.locked -= total;
        if done.status != PayoutStatus::Success {
            e.available += total;
        }
        Ok(())
    }

    async fn refund(
        &mut self,
        pick: usize,
        permille: Option<i64>,
        stale: bool,
    ) -> Result<(), TestCaseError> {
        if self.model.payments.is_empty() {
            return Ok(());
        }
        let recorded = self.model.payments[pick % self.model.payments.len()].clone();
        let m = self.index(&recorded.merchant_id);
        let (payment, balance) = if stale {
            let b = self.stale_balance(m, recorded.account_currency);
            (recorded, b)
        } else {
            let p = self
                .store
                .payment(&recorded.id)
                .await
                .expect("read a payment")
                .expect("it exists");
            let b = self.balance(m, p.account_currency).await;
            (p, b)
        };
        let remaining = payment.amount - payment.refunded_amount;
        let amount = permille.map(|p| remaining * p / 1_000);
        // What the payment's live refunds took, by the model.
        let live = |id: &PaymentId, refunds: &[(Refund, RefundStatus)]| -> i64 {
            refunds
                .iter()
                .filter(|(r, s)| &r.payment_id == id && *s != RefundStatus::Fail)
                .map(|(r, _)| r.account_amount)
                .sum()
        };
        let taken_before = live(&payment.id, &self.model.refunds);
        let Ok((r, plan)) = decide::refund::create(
            &payment,
            amount,
            balance,
            taken_before,
            RefundId::random(&mut rand::thread_rng()),
            self.now + 60_000,
            self.now,
        ) else {
            return Ok(());
        };
        if !committed(self.store.apply(plan).await, !stale, "a refund")? {
            return Ok(());
        }
        // Back at the payment's own rate, from available first, then from hold. Converted, the
        // live refunds together take the refunded amount rounded up once (or what they took
        // already, if a refused refund left them above it).
        let taken = match payment.fx_rate {
            Some(rate) => {
                let together = rate
                    .convert_up(payment.refunded_amount + r.amount)
                    .expect("no overflow");
                // Committed, so it was decided on the payment's refunds as they are.
                prop_assert_eq!(
                    taken_before + r.account_amount,
                    together.max(taken_before),
                    "the live refunds take their sum converted, rounded up once"
                );
                r.account_amount
            }
            None => r.amount,
        };
        prop_assert_eq!(r.account_amount, taken);
        prop_assert_eq!(r.account_currency, payment.account_currency);
        let from_available = balance.available.min(taken);
        prop_assert_eq!(
            r.from_hold,
            taken - from_available,
            "the refund's hold part"
        );
        let e = self.model.at(m, r.account_currency);
        e.available -= from_available;
        e.hold -= taken - from_available;
        self.model.refunds.push((r, RefundStatus::Process));
        Ok(())
    }

    async fn answer(&mut self, pick: usize, ok: bool) -> Result<(), TestCaseError> {
        if self.model.refunds.is_empty() {
            return Ok(());
        }
        let i = pick % self.model.refunds.len();
        let (r, status) = self.model.refunds[i].clone();
        let answer = if ok {
            Ok(())
        } else {
            Err("Refund refused by the issuer".to_string())
        };
        // What a refusal returns to hold settles when the payment's own money does (did).
        let hold_due_at = self
            .model
            .due_of
            .get(&r.payment_id)
            .copied()
            .unwrap_or(self.now);
        let (done, plan) = decide::refund::complete(&r, answer, None, None, hold_due_at, self.now);
        let fresh = status == RefundStatus::Process;
        if !committed(self.store.apply(plan).await, fresh, "a refund answer")? {
            return Ok(());
        }
        prop_assert!(fresh, "a finished refund was answered again");
        self.model.refunds[i].1 = done.status;
        if done.status == RefundStatus::Fail {
            // Each part goes back where the refund took it from; the held part waits to
            // settle again.
            let m = self.index(&r.merchant_id);
            let e = self.model.at(m, r.account_currency);
            e.available += r.account_amount - r.from_hold;
            e.hold += r.from_hold;
            if r.from_hold > 0 {
                self.model.pending.insert(
                    settlement::returned_id(&r.id),
                    (m, r.account_currency, r.from_hold, hold_due_at),
                );
            }
        }
        Ok(())
    }

    /// The store's balances (zero rows left out) against the model's.
    async fn check_balances(&self, after: &str) -> Result<(), TestCaseError> {
        let mut stored = BTreeMap::new();
        for (i, m) in self.merchants.iter().enumerate() {
            for b in self.store.balances(&m.id).await.expect("read balances") {
                prop_assert!(
                    b.available >= 0 && b.locked >= 0 && b.hold >= 0,
                    "{}: a negative balance {:?}",
                    after,
                    b
                );
                if (b.available, b.locked, b.hold) != (0, 0, 0) {
                    stored.insert((i, b.currency), (b.available, b.locked, b.hold));
                }
            }
        }
        let expected: BTreeMap<_, _> = self
            .model
            .balances
            .iter()
            .map(|(k, e)| (*k, (e.available, e.locked, e.hold)))
            .filter(|(_, v)| *v != (0, 0, 0))
            .collect();
        prop_assert_eq!(
            stored,
            expected,
            "balances (available, locked, hold) {}",
            after
        );
        Ok(())
    }

    async fn check_ledger(&self, after: &str) -> Result<(), TestCaseError> {
        let report = self.store.ledger_check().await.expect("check the ledger");
        prop_assert!(
            report.problems.is_empty(),
            "{}: {:?}",
            after,
            report.problems
        );
        Ok(())
    }

    /// Every payout and refund is in the status the model gave it, and the payout limits count
    /// exactly what did not fail to go out.
    async fn check_statuses(&self) -> Result<(), TestCaseError> {
        let mut periods = BTreeSet::new();
        for (p, status) in &self.model.payouts {
            let stored = self.store.payout(&p.id).await.expect("read a payout");
            prop_assert_eq!(stored.map(|s| s.status), Some(*status));
            periods.insert((
                p.merchant_id.clone(),
                p.currency,
                p.day_key.clone(),
                p.month_key.clone(),
            ));
        }
        for (m, c, day, month) in periods {
            let counts = |p: &Payout, s: PayoutStatus| {
                p.merchant_id == m
                    && p.currency == c
                    && matches!(
                        s,
                        PayoutStatus::New
                            | PayoutStatus::Moderating
                            | PayoutStatus::Process
                            | PayoutStatus::Success
                    )
            };
            let sum = |period: &dyn Fn(&Payout) -> bool| -> i64 {
                self.model
                    .payouts
                    .iter()
                    .filter(|(p, s)| counts(p, *s) && period(p))
                    .map(|(p, _)| p.amount)
                    .sum()
            };
            let expected = Usage {
                day: sum(&|p| p.day_key == day),
                month: sum(&|p| p.month_key == month),
            };
            let stored = self
                .store
                .payout_usage(&m, c, &day, &month)
                .await
                .expect("read usage");
            prop_assert_eq!(stored, expected, "payout usage of {} {} {}", m, c, day);
            if self.index(&m) == 0 {
                prop_assert!(stored.day <= DAILY_LIMIT);
            }
        }
        for (r, status) in &self.model.refunds {
            let stored = self
                .store
                .merchant_refund(&r.merchant_id, r.id.as_str())
                .await
                .expect("read a refund");
            prop_assert_eq!(
                stored.map(|s| (s.status, s.from_hold)),
                Some((*status, r.from_hold))
            );
        }
        Ok(())
    }
}

async fn check(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let (_db, mut world) = World::new().await;
    for (k, op) in ops.into_iter().enumerate() {
        world.step(op).await?;
        let after = format!("after op {k} ({op:?})");
        world.check_balances(&after).await?;
        world.check_ledger(&after).await?;
    }
    world.check_statuses().await?;
    world.store.close().await;
    Ok(())
}

/// 24 cases unless `PROPTEST_CASES` asks for more (a longer hunt).
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(24)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        ..ProptestConfig::default()
    })]

    #[test]
    fn money_sequences_keep_the_ledger_whole(ops in prop::collection::vec(op(), 8..=30)) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(check(ops))?;
    }
}

/// Payouts decided concurrently from one stale read of the balance: core lets every one
/// through, so only the SQL guard stands between them and an overdraft. It must let exactly
/// as many through as the balance pays for.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn payouts_decided_from_a_stale_balance_overdraw_nothing() {
    const RACERS: usize = 150;
    let (_db, store) = open().await;
    let (m, shop) = seed(&store, "payouts").await;
    store
        .apply(Plan::one(Write::SetPayoutProfile {
            merchant_id: m.id.clone(),
            profile: PayoutProfile {
                regular_payouts: true,
                ..PayoutProfile::default()
            },
        }))
        .await
        .unwrap();
    // 10,000.00 RUB received and settled at once.
    let bill = crate::support::open_bill(&shop, BillType::Normal, 1_000_000, NOW);
    insert_bill(&store, &bill).await;
    let (_, plan) = crate::support::settle(&bill, Outcome::Success, NOW + 1);
    store.apply(plan).await.unwrap();

    let merchant = store.merchant(&m.id).await.unwrap().unwrap();
    let profile = store.payout_profile(&m.id).await.unwrap().unwrap();
    let balance = store.balance(&m.id, Currency::Rub).await.unwrap();
    let rules = PayoutRules {
        moderation_threshold: i64::MAX,
        ..rules()
    };
    let available = balance.available;
    assert_eq!(available, 1_000_000);
    let mut total = 0;
    let plans: Vec<Plan> = (0..RACERS)
        .map(|_| {
            let cx = PayoutContext {
                merchant: &merchant,
                profile: &profile,
                rules: &rules,
                balance,
                usage: Usage::default(),
                payee_banned: false,
                bank_enabled: true,
            };
            let order = PayoutOrder {
                kind: PayoutKind::Regular,
                amount: 10_000,
                currency: Currency::Rub,
                payee: payee(),
                payout_account_id: None,
                order_id: None,
            };
            let (parts, plan) = decide::payout::create(
                &cx,
                order,
                || PayoutId::random(&mut rand::thread_rng()),
                NOW + 2,
            )
            .expect("the stale balance pays for each alone");
            assert_eq!(parts.len(), 1);
            total = parts[0].total();
            plan
        })
        .collect();
    // 100.00 + 1.5% + 0.30: 101.80 each.
    assert_eq!(total, 10_180);
    let results = race(&store, plans).await;
    let winners = results.iter().filter(|r| r.is_ok()).count();
    let expected = (available / total) as usize;
    assert!(expected < RACERS);
    assert_eq!(winners, expected, "{results:?}");
    for r in &results {
        assert!(
            matches!(
                r,
                Ok(()) | Err(StoreError::GuardFailed(Guard::BalanceNotEnough))
            ),
            "{r:?}"
        );
    }
    let after = store.balance(&m.id, Currency::Rub).await.unwrap();
    let spent = expected as i64 * total;
    assert_eq!(
        (after.available, after.locked, after.hold),
        (available - spent, spent, 0)
    );
    let report = store.ledger_check().await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    store.close().await;
}

/// Refunds the acquirer refuses put their held part back in hold (with a settlement of its
/// own) while the settlements of the very payments they took it from run, all decided from one
/// stale read: whatever commits, the hold never exceeds what waits to settle, and once every
/// settlement has run the money is all available again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refused_refunds_racing_settlements_keep_the_hold_settleable() {
    const PAYMENTS: usize = 24;
    let (_db, store) = open().await;
    let (m, shop) = seed(&store, "returns").await;
    let booking = Booking {
        balance_currency: Currency::Rub,
        fx_rate: None,
        settle_after: SETTLE_AFTER,
    };
    let mut refunds = Vec::new();
    for i in 0..PAYMENTS {
        let bill = crate::support::open_bill(&shop, BillType::Normal, 10_000, NOW);
        insert_bill(&store, &bill).await;
        let (p, plan) = decide::payment::settle(
            &bill,
            Rate::ZERO,
            charge(&bill, Rate::ZERO, Outcome::Success),
            payment_id(),
            None,
            booking,
            NOW + 1,
        )
        .unwrap();
        store.apply(plan).await.unwrap();
        // Half of each payment refunded, all of it from hold (nothing is available yet).
        let balance = store.balance(&m.id, Currency::Rub).await.unwrap();
        let (r, plan) = decide::refund::create(
            &p,
            Some(5_000),
            balance,
            0,
            RefundId::random(&mut rand::thread_rng()),
            NOW + 60_000,
            NOW + 2 + i as Millis,
        )
        .unwrap();
        assert_eq!(r.from_hold, 5_000);
        store.apply(plan).await.unwrap();
        refunds.push(r);
    }
    let total = PAYMENTS as i64 * 10_000;
    let stale = store.balance(&m.id, Currency::Rub).await.unwrap();
    assert_eq!((stale.available, stale.hold), (0, total / 2));

    // Every settlement is due; the acquirer refuses every refund; all race.
    let now = NOW + 1 + SETTLE_AFTER;
    let mut plans: Vec<Plan> = store
        .due_settlements(now, 1_000)
        .await
        .unwrap()
        .iter()
        .map(|s| decide::settlement::settle(s, stale.hold, now))
        .collect();
    assert_eq!(plans.len(), PAYMENTS);
    for r in &refunds {
        let due = store.settlement_due(&r.payment_id).await.unwrap().unwrap();
        let (_, plan) = decide::refund::complete(r, Err("refused".into()), None, None, due, now);
        plans.push(plan);
    }
    for result in race(&store, plans).await {
        assert!(
            matches!(
                result,
                Ok(()) | Err(StoreError::GuardFailed(Guard::BalanceNotEnough))
            ),
            "{result:?}"
        );
    }
    let report = store.ledger_check().await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);

    // The worker's later passes (fresh reads) settle what is left.
    for _ in 0..3 * PAYMENTS {
        let due = store.due_settlements(now, 1_000).await.unwrap();
        if due.is_empty() {
            break;
        }
        for s in due {
            let hold = store.balance(&m.id, Currency::Rub).await.unwrap().hold;
            store
                .apply(decide::settlement::settle(&s, hold, now))
                .await
                .unwrap();
        }
    }
    assert!(store.due_settlements(now, 1).await.unwrap().is_empty());
    let after = store.balance(&m.id, Currency::Rub).await.unwrap();
    assert_eq!((after.available, after.locked, after.hold), (total, 0, 0));
    let report = store.ledger_check().await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    store.close().await;
}
