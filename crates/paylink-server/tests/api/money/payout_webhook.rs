//! The payout webhook: every final payout posted to the merchant, signed.
#![allow(clippy::inconsistent_digit_grouping)]

use crate::harness::*;
use paylink_core::payout::PayoutProfile;
use paylink_sdk::testing::{Received, Receiver};
use paylink_server::md5_signature;
use serde_json::json;

#[track_caller]
fn assert_payout_webhook(app: &TestApp, w: &Received) {
    assert_eq!(w.method, "POST");
    assert_eq!(
        w.header("content-type"),
        "application/x-www-form-urlencoded"
    );
    for name in [
        "TrsId",
        "Amount",
        "Status",
        "Currency",
        "Commission",
        "AccountType",
        "AccountNumber",
        "BalanceAmount",
        "BalanceCommission",
        "BalanceCurrency",
        "CommissionApplyType",
        "IsAuto",
        "SignatureValue",
    ] {
        assert!(!w.field(name).is_empty(), "no {name} in {w:?}");
    }
    let signature = w.field("SignatureValue");
    assert_eq!(
        signature,
        md5_signature(&[w.field("Amount"), w.field("TrsId")], app.token()),
        "{w:?}"
    );
    assert!(
        signature.len() == 32
            && signature
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)),
        "{signature}"
    );
}

#[tokio::test]
async fn final_payouts_are_posted_to_the_payout_webhook_signed() {
    let app = spawn_app().await;
    let r = Receiver::start();
    let hook = PayoutProfile {
        webhook_url: Some(r.url("/payouts")),
        ..open_profile()
    };
    app.set_profile(&app.merchant.merchant_id, hook.clone())
        .await;
    app.fund("5000").await;
    let ok = id_of(&created(&app.regular_payout(card("1000", CARD_OK)).await)[0]);
    let got = r.wait_for("/payouts", 1).await;
    let w = &got[0];
    assert_payout_webhook(&app, w);
    assert_eq!(w.field("TrsId"), ok);
    assert_eq!(w.field("Amount"), "1000.00");
    assert_eq!(w.field("Status"), "SUCCESS");
    assert_eq!(w.field("Currency"), "RUB");
    assert_eq!(w.field("Commission"), "70.00");
    assert_eq!(w.field("AccountType"), "BANK_CARD");
    assert_eq!(w.field("AccountNumber"), "424242******4242");
    assert_eq!(w.field("BalanceAmount"), "1000.00");
    assert_eq!(w.field("BalanceCommission"), "70.00");
    assert_eq!(w.field("BalanceCurrency"), "RUB");
    assert_eq!(w.field("CommissionApplyType"), "sender");
    assert_eq!(w.field("IsAuto"), "false");
    assert!(!w.body.contains("4242424242424242"), "{}", w.body);

    // A failed one, and one declined by the merchant while in moderation.
    let failed = id_of(&created(&app.regular_payout(card("500", PAYEE_FAIL)).await)[0]);
    r.wait_for("/payouts", 2).await;
    // The provider's error: `ERROR` in payout/status, `FAIL` in the webhook's statuses.
    let errored = id_of(&created(&app.regular_payout(card("200", PAYEE_ERROR)).await)[0]);
    r.wait_for("/payouts", 3).await;
    app.set_profile(
        &app.merchant.merchant_id,
        PayoutProfile {
            moderation: true,
            ..hook
        },
    )
    .await;
    let moderated = id_of(
        &created(
            &app.regular_payout(sbp("300", "+79991234567", json!(SBERBANK)))
                .await,
        )[0],
    );
    app.post("/api/v1/payout/cancel", json!({"id": moderated}))
        .await
        .ok();
    let got = r.wait_for("/payouts", 4).await;
    let by_id = |id: &str| {
        got.iter()
            .find(|w| w.field("TrsId") == id)
            .unwrap_or_else(|| panic!("no webhook for {id}: {got:?}"))
    };
    let f = by_id(&failed);
    assert_payout_webhook(&app, f);
    assert_eq!(f.field("Status"), "FAIL");
    assert_eq!(f.field("AccountNumber"), "400000******0002");
    let e = by_id(&errored);
    assert_payout_webhook(&app, e);
    assert_eq!(e.field("Status"), "FAIL");
    let status = app.wait_payout(app.token(), &errored).await;
    assert_eq!(status["status"], json!("ERROR"), "{status}");
    let d = by_id(&moderated);
    assert_payout_webhook(&app, d);
    assert_eq!(d.field("Status"), "DECLINED");
    assert_eq!(d.field("AccountType"), "SBP");
    assert_eq!(d.field("AccountNumber"), "+79991234567");
    assert_eq!(d.field("Amount"), "300.00");
    assert_eq!(d.field("Commission"), "3.00");
    app.assert_ledger_ok().await;
}
