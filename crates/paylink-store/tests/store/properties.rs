//! A property: whatever sequence of sandbox payments a bill sees (settled against a fresh or a
//! stale snapshot of it), a NORMAL bill holds at most one payment that brought money, and the
//! stored bill is what folding `Bill::status_after` over the accepted payments predicts.

use crate::support::{
    bill_payments, charge, insert_bill, open, open_bill, payment_id, seed, stored_bill, Outcome,
    NOW,
};
use paylink_core::bill::{Bill, BillType};
use paylink_core::decide;
use paylink_core::money::Rate;
use paylink_core::payment::Payment;
use paylink_core::plan::{Plan, Write};
use paylink_core::DomainError;
use paylink_store::StoreError;
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Case {
    kind: BillType,
    payer_pays_commission: bool,
    bps: i64,
    amount: i64,
    /// Each payment's outcome, and whether it was settled against the bill as first opened
    /// (a payer who kept the page open) instead of the bill as stored now.
    steps: Vec<(Outcome, bool)>,
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        Just(Outcome::Success),
        Just(Outcome::Underpaid),
        Just(Outcome::Overpaid),
        Just(Outcome::Declined),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop_oneof![Just(BillType::Normal), Just(BillType::Multi)],
        any::<bool>(),
        0i64..=1_500,
        100i64..=10_000_000,
        prop::collection::vec((outcome(), any::<bool>()), 1..10),
    )
        .prop_map(|(kind, payer_pays_commission, bps, amount, steps)| Case {
            kind,
            payer_pays_commission,
            bps,
            amount,
            steps,
        })
}

async fn check(case: Case) -> Result<(), TestCaseError> {
    let (_db, store) = open().await;
    let (_, plain) = seed(&store, "prop").await;
    let rate = Rate::from_bps(case.bps).unwrap();
    let shop = paylink_core::merchant::Shop {
        commission: Some(rate),
        ..plain
    };
    store
        .apply(Plan::one(Write::UpdateShop(shop.clone())))
        .await
        .unwrap();
    let opened = Bill {
        payer_pays_commission: case.payer_pays_commission,
        ..open_bill(&shop, case.kind, case.amount, NOW)
    };
    insert_bill(&store, &opened).await;

    let mut model = opened.clone();
    let mut accepted: Vec<Payment> = Vec::new();
    for (k, (outcome, stale)) in case.steps.iter().copied().enumerate() {
        let now = NOW + 1_000 * (k as i64 + 1);
        let snapshot = if stale {
            opened.clone()
        } else {
            stored_bill(&store, &opened.id).await
        };
        let settled = decide::payment::settle(
            &snapshot,
            rate,
            charge(&snapshot, rate, outcome),
            payment_id(),
            None,
            paylink_core::payment::Booking::immediate(snapshot.currency),
            now,
        );
        let (p, plan) = match settled {
            Ok(done) => done,
            Err(e) => {
                // Only a fresh look at a finished NORMAL bill refuses up front.
                prop_assert!(!stale);
                prop_assert_eq!(e, DomainError::BillIsFinished);
                prop_assert!(model.is_finished());
                continue;
            }
        };
        let result = store.apply(plan).await;
        if p.status.brings_money() && model.is_finished() {
            prop_assert!(
                matches!(result, Err(StoreError::GuardFailed(_))),
                "step {}: a finished bill took money: {:?}",
                k,
                result
            );
        } else {
            prop_assert!(result.is_ok(), "step {}: {:?}", k, result);
            if p.status.brings_money() || !model.status.brings_money() {
                model.updated_at = now;
            }
            model.status = model.status_after(p.status);
            accepted.insert(0, p);
        }

        prop_assert_eq!(
            &stored_bill(&store, &opened.id).await,
            &model,
            "after step {}",
            k
        );
        let stored = bill_payments(&store, &opened).await;
        prop_assert_eq!(&stored, &accepted, "payments after step {}", k);
        if case.kind == BillType::Normal {
            let money = stored.iter().filter(|p| p.status.brings_money()).count();
            prop_assert!(money <= 1, "a NORMAL bill took money {} times", money);
        }
    }
    store.close().await;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 16,
        ..ProptestConfig::default()
    })]

    #[test]
    fn payment_sequences_keep_bill_invariants(case in case()) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(check(case))?;
    }
}
