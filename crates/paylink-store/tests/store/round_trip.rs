//! Every `Write` through `Store::apply` and back through the read methods, every field compared,
//! optional fields both set and unset.

use crate::support::{
    self, all_bills, all_payments, bill_id, insert_bill, merchant, open, open_bill, seed, settle,
    shop, stored_bill, Outcome, NOW,
};
use paylink_core::bill::{Bill, BillType, Locale, NewBill};
use paylink_core::decide;
use paylink_core::merchant::{Merchant, Subscription};
use paylink_core::money::{Amount, Currency, Rate};
use paylink_core::payment::{BillTransition, PaymentMethod, PaymentStatus};
use paylink_core::plan::{Plan, Write};
use paylink_store::{BillFilter, PaymentFilter, StoreError};

#[tokio::test]
async fn merchants_round_trip_with_and_without_optional_fields() {
    let (_db, store) = open().await;
    let full = Merchant {
        email: Some("owner+shop@example.com".into()),
        verified: true,
        banned: true,
        subscription: Subscription::Inactive,
        created_at: NOW - 123_456,
        ..merchant("Ёлка & Co 'quoted'")
    };
    let bare = Merchant {
        email: None,
        verified: false,
        banned: false,
        subscription: Subscription::None,
        created_at: 0,
        ..merchant("bare")
    };
    for m in [&full, &bare] {
        store
            .apply(Plan::one(Write::InsertMerchant(m.clone())))
            .await
            .unwrap();
    }
    assert_eq!(store.merchant(&full.id).await.unwrap(), Some(full.clone()));
    assert_eq!(store.merchant(&bare.id).await.unwrap(), Some(bare.clone()));
    assert_eq!(store.merchant(&support::merchant_id()).await.unwrap(), None);
    assert_eq!(store.merchant_count().await.unwrap(), 2);

    // SetMerchantBanned and SetSubscription change exactly their field.
    store
        .apply(Plan::one(Write::SetMerchantBanned {
            merchant_id: full.id.clone(),
            banned: false,
        }))
        .await
        .unwrap();
    store
        .apply(Plan::one(Write::SetMerchantBanned {
            merchant_id: bare.id.clone(),
            banned: true,
        }))
        .await
        .unwrap();
    let mut expected_full = Merchant {
        banned: false,
        ..full.clone()
    };
    let mut expected_bare = Merchant {
        banned: true,
        ..bare.clone()
    };
    assert_eq!(
        store.merchant(&full.id).await.unwrap(),
        Some(expected_full.clone())
    );
    assert_eq!(
        store.merchant(&bare.id).await.unwrap(),
        Some(expected_bare.clone())
    );
    for subscription in [
        Subscription::Active,
        Subscription::None,
        Subscription::Inactive,
    ] {
        store
            .apply(Plan::one(Write::SetSubscription {
                merchant_id: full.id.clone(),
                subscription,
            }))
            .await
            .unwrap();
        expected_full.subscription = subscription;
        assert_eq!(
            store.merchant(&full.id).await.unwrap(),
            Some(expected_full.clone())
        );
    }
    expected_bare.subscription = Subscription::None;
    assert_eq!(store.merchant(&bare.id).await.unwrap(), Some(expected_bare));

    // Updates of a missing merchant are refused, not silently ignored.
    let missing = support::merchant_id();
    let r = store
        .apply(Plan::one(Write::SetMerchantBanned {
            merchant_id: missing.clone(),
            banned: true,
        }))
        .await;
    assert!(support::is_guard(&r), "{r:?}");
    let r = store
        .apply(Plan::one(Write::SetSubscription {
            merchant_id: missing,
            subscription: Subscription::Active,
        }))
        .await;
    assert!(support::is_guard(&r), "{r:?}");

    // A duplicate id is a conflict and leaves the stored merchant as it was.
    let r = store
        .apply(Plan::one(Write::InsertMerchant(Merchant {
            name: "impostor".into(),
            ..full.clone()
        })))
        .await;
    assert!(support::is_conflict(&r), "{r:?}");
    assert_eq!(store.merchant(&full.id).await.unwrap(), Some(expected_full));
}

#[tokio::test]
async fn shops_round_trip_and_update_every_field() {
    let (_db, store) = open().await;
    let (m, plain) = seed(&store, "shops").await;
    let (other, _) = seed(&store, "other").await;
    assert_eq!(store.shop(&plain.id).await.unwrap(), Some(plain.clone()));

    let full = paylink_core::merchant::Shop {
        name: "Магазин \"full\"".into(),
        currency: Currency::Kzt,
        balance_currency: None,
        enabled: false,
        commission: Rate::from_bps(275),
        result_url: Some("https://example.com/result".into()),
        success_url: Some("https://example.com/success".into()),
        fail_url: Some("https://example.com/fail".into()),
        created_at: NOW + 5,
        ..shop(&m, "x")
    };
    store
        .apply(Plan::one(Write::InsertShop(full.clone())))
        .await
        .unwrap();
    assert_eq!(store.shop(&full.id).await.unwrap(), Some(full.clone()));

    // A zero commission is a rate, not "no rate".
    let zero = paylink_core::merchant::Shop {
        commission: Some(Rate::ZERO),
        currency: Currency::Usd,
        ..shop(&m, "zero")
    };
    store
        .apply(Plan::one(Write::InsertShop(zero.clone())))
        .await
        .unwrap();
    assert_eq!(store.shop(&zero.id).await.unwrap(), Some(zero));

    // UpdateShop rewrites every field, setting and clearing optionals.
    let updated = paylink_core::merchant::Shop {
        id: full.id.clone(),
        merchant_id: other.id.clone(),
        name: "renamed".into(),
        currency: Currency::Eur,
        balance_currency: None,
        enabled: true,
        commission: None,
        result_url: None,
        success_url: Some("http://example.org/ok".into()),
        fail_url: None,
        created_at: NOW + 6,
    };
    store
        .apply(Plan::one(Write::UpdateShop(updated.clone())))
        .await
        .unwrap();
    assert_eq!(store.shop(&full.id).await.unwrap(), Some(updated.clone()));
    let back = paylink_core::merchant::Shop {
        commission: Rate::from_bps(10_000),
        result_url: Some("https://example.com/r2".into()),
        ..updated
    };
    store
        .apply(Plan::one(Write::UpdateShop(back.clone())))
        .await
        .unwrap();
    assert_eq!(store.shop(&full.id).await.unwrap(), Some(back));
    // The plain shop was not touched.
    assert_eq!(store.shop(&plain.id).await.unwrap(), Some(plain.clone()));

    let missing = shop(&m, "missing");
    let r = store
        .apply(Plan::one(Write::UpdateShop(missing.clone())))
        .await;
    assert!(support::is_guard(&r), "{r:?}");
    assert_eq!(store.shop(&missing.id).await.unwrap(), None);
}

/// A bill with every optional field set, distinct values in look-alike fields.
fn full_bill(shop: &paylink_core::merchant::Shop) -> Bill {
    let mut bill = NewBill {
        amount: Amount::from_minor(Amount::MAX),
        currency: Some(Currency::Usd),
        bill_type: Some(BillType::Multi),
        order_id: Some("order-Ω-1".into()),
        description: Some("A description with 'quotes', \"double\" and ✓".into()),
        name: Some("The name".into()),
        custom: Some("custom|payload=1".into()),
        payment_method: Some(PaymentMethod::Sbp),
        payer_pays_commission: true,
        ttl_secs: Some(3_600),
        success_url: Some("https://example.com/success?x=1".into()),
        fail_url: Some("https://example.com/fail".into()),
        return_url: Some("http://example.com/return".into()),
        locale: Some(Locale::En),
        payer_email: Some("payer@example.com".into()),
        extra: Some(
            r#"{"payer_data":{"email":"p@example.com","phone":"+70000000000"},"request_fields":{"email":true},"items":[{"name":"Чай","price":1.5,"quantity":2}],"show_converted_amount":true}"#
                .into(),
        ),
    }
    .open(&shop.merchant_id, shop, bill_id(), NOW)
    .expect("open the full bill");
    // Distinct stamps, so a swap of the two columns shows.
    bill.updated_at = NOW + 1;
    bill
}

#[tokio::test]
async fn bills_round_trip_through_every_read() {
    let (_db, store) = open().await;
    let (m, s) = seed(&store, "bills").await;
    let full = full_bill(&s);
    assert_eq!(full.expires_at, Some(NOW + 3_600_000));
    let bare = open_bill(&s, BillType::Normal, 1, NOW - 1);
    assert_eq!(
        (
            bare.order_id.as_ref(),
            bare.ttl_secs,
            bare.expires_at,
            bare.locale,
            bare.extra.as_ref()
        ),
        (None, None, None, None, None)
    );
    let ru = Bill {
        locale: Some(Locale::Ru),
        payment_method: Some(PaymentMethod::BankCard),
        extra: Some("{}".into()),
        active: false,
        ..open_bill(&s, BillType::Normal, 500, NOW - 2)
    };
    for b in [&full, &bare, &ru] {
        insert_bill(&store, b).await;
    }
    for b in [&full, &bare, &ru] {
        assert_eq!(store.bill(&b.id).await.unwrap().as_ref(), Some(b));
        assert_eq!(
            store.merchant_bill(&m.id, &b.id).await.unwrap().as_ref(),
            Some(b)
        );
    }
    assert_eq!(
        all_bills(&store, &m.id, &BillFilter::default()).await,
        vec![full.clone(), bare.clone(), ru.clone()]
    );
    assert_eq!(store.bill(&bill_id()).await.unwrap(), None);

    // A duplicate id is a conflict; the first bill stays.
    let r = store
        .apply(Plan::one(Write::InsertBill(Bill {
            amount: Amount::from_minor(2).unwrap(),
            ..bare.clone()
        })))
        .await;
    assert!(support::is_conflict(&r), "{r:?}");
    assert_eq!(stored_bill(&store, &bare.id).await, bare);

    // A bill in a shop that does not exist is refused by the database.
    let orphan = Bill {
        shop_id: support::shop_id(),
        ..open_bill(&s, BillType::Normal, 100, NOW)
    };
    let r = store
        .apply(Plan::one(Write::InsertBill(orphan.clone())))
        .await;
    assert!(r.is_err(), "a bill without its shop was stored");
    // Not a Conflict: callers take a Conflict for "this id is taken" and draw a new id.
    assert!(
        !support::is_conflict(&r),
        "a missing shop reported as a taken id: {r:?}"
    );
    assert_eq!(store.bill(&orphan.id).await.unwrap(), None);
}

#[tokio::test]
async fn only_a_taken_id_is_a_conflict() {
    let (_db, store) = open().await;
    let (m, s) = seed(&store, "conflicts").await;
    // A token for a merchant that does not exist: a broken reference, not a taken token id
    // (the server draws a fresh token id on every Conflict).
    let r = store
        .apply(Plan::one(Write::ReplaceToken {
            merchant_id: support::merchant_id(),
            token_id: 77,
            digest: "0".repeat(64),
            sealed: "sealed".into(),
            now: NOW,
        }))
        .await;
    assert!(r.is_err() && !support::is_conflict(&r), "{r:?}");
    assert!(store.token_owner(77).await.unwrap().is_none());
    // A payment of a bill that does not exist.
    let ghost = open_bill(&s, BillType::Multi, 100, NOW);
    let (p, plan) = settle(&ghost, Outcome::Declined, NOW);
    let r = store.apply(plan).await;
    assert!(r.is_err() && !support::is_conflict(&r), "{r:?}");
    assert_eq!(store.merchant_payment(&m.id, &p.id).await.unwrap(), None);
    // A taken id is.
    let r = store.apply(Plan::one(Write::InsertShop(s.clone()))).await;
    assert!(support::is_conflict(&r), "{r:?}");
}

#[tokio::test]
async fn set_bill_active_toggles_and_stamps_updated_at() {
    let (_db, store) = open().await;
    let (_, s) = seed(&store, "toggle").await;
    let bill = open_bill(&s, BillType::Normal, 1_000, NOW);
    insert_bill(&store, &bill).await;
    let write = decide::bill::toggle(&bill, false, NOW + 10).unwrap();
    store.apply(Plan::one(write)).await.unwrap();
    let off = Bill {
        active: false,
        updated_at: NOW + 10,
        ..bill.clone()
    };
    assert_eq!(stored_bill(&store, &bill.id).await, off);
    store
        .apply(Plan::one(
            decide::bill::toggle(&off, true, NOW + 20).unwrap(),
        ))
        .await
        .unwrap();
    assert_eq!(
        stored_bill(&store, &bill.id).await,
        Bill {
            active: true,
            updated_at: NOW + 20,
            ..bill
        }
    );
}

#[tokio::test]
async fn payments_round_trip_through_every_read() {
    let (_db, store) = open().await;
    let (m, s) = seed(&store, "payments").await;
    let rate = Rate::from_bps(350).unwrap();
    let bill = Bill {
        payer_pays_commission: true,
        ..open_bill(&s, BillType::Multi, 10_000, NOW)
    };
    insert_bill(&store, &bill).await;

    // A declined card payment: error code and message set, nothing received.
    let (failed, plan) = decide::payment::settle(
        &bill,
        rate,
        support::charge(&bill, rate, Outcome::Declined),
        support::payment_id(),
        None,
        paylink_core::payment::Booking::immediate(bill.currency),
        NOW + 1_000,
    )
    .unwrap();
    assert_eq!(failed.status, PaymentStatus::Fail);
    assert!(failed.error_code.is_some() && failed.card_fingerprint.is_some());
    store.apply(plan).await.unwrap();
    let after_fail = Bill {
        status: PaymentStatus::Fail,
        updated_at: NOW + 1_000,
        ..bill.clone()
    };
    assert_eq!(stored_bill(&store, &bill.id).await, after_fail);

    // An SBP payment: no card, no fingerprint, no error.
    let (paid, plan) = decide::payment::settle(
        &after_fail,
        rate,
        support::charge(&after_fail, rate, Outcome::Overpaid),
        support::payment_id(),
        None,
        paylink_core::payment::Booking::immediate(bill.currency),
        NOW + 2_000,
    )
    .unwrap();
    assert_eq!(paid.status, PaymentStatus::Overpaid);
    assert_eq!(
        (
            paid.from_card.as_str(),
            paid.card_fingerprint.as_ref(),
            paid.error_code
        ),
        ("", None, None)
    );
    store.apply(plan).await.unwrap();

    // A payment with every number distinct (refunds and account currency set by hand), so a
    // column swapped with another shows.
    let (mut odd, _) = settle(&bill, Outcome::Success, NOW + 3_000);
    odd.amount = 7_001;
    odd.amount_received = 6_002;
    odd.commission = 999;
    odd.account_amount = 123;
    odd.account_currency = Currency::Eur;
    odd.refunded_amount = 45;
    odd.currency = Currency::Usd;
    odd.error_code = Some(-7);
    odd.error_message = Some("partly refunded — ✓".into());
    odd.updated_at = NOW + 3_500;
    store
        .apply(Plan::one(Write::RecordPayment {
            payment: odd.clone(),
            transition: BillTransition::Receive {
                status: PaymentStatus::Success,
                now: NOW + 3_000,
            },
        }))
        .await
        .unwrap();

    for p in [&failed, &paid, &odd] {
        assert_eq!(
            store.merchant_payment(&m.id, &p.id).await.unwrap().as_ref(),
            Some(p)
        );
    }
    assert_eq!(
        all_payments(&store, &m.id, &PaymentFilter::default()).await,
        vec![odd.clone(), paid.clone(), failed.clone()]
    );
    assert_eq!(
        stored_bill(&store, &bill.id).await,
        Bill {
            status: PaymentStatus::Success,
            updated_at: NOW + 3_000,
            ..bill.clone()
        }
    );

    // A duplicate payment id is a conflict and does not move the bill.
    let (mut dup, _) = settle(&bill, Outcome::Overpaid, NOW + 4_000);
    dup.id = paid.id.clone();
    let r = store
        .apply(Plan::one(Write::RecordPayment {
            payment: dup,
            transition: BillTransition::Receive {
                status: PaymentStatus::Overpaid,
                now: NOW + 4_000,
            },
        }))
        .await;
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
    assert_eq!(
        store.merchant_payment(&m.id, &paid.id).await.unwrap(),
        Some(paid)
    );
    assert_eq!(
        stored_bill(&store, &bill.id).await.status,
        PaymentStatus::Success
    );
    assert_eq!(support::bill_payments(&store, &bill).await.len(), 3);
}
