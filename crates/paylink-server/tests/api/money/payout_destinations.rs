//! Payouts by SBP to a bank of the dictionary, and to a merchant's registered account.
#![allow(clippy::inconsistent_digit_grouping)]

use crate::harness::*;
use paylink_core::id::PayoutAccountId;
use paylink_core::payout::{AccountType, Payee};
use paylink_core::plan::{Plan, Write};
use paylink_server::ops::payouts;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn sbp_payouts_go_to_a_bank_of_the_dictionary() {
    let app = spawn_app().await;
    app.set_profile(&app.merchant.merchant_id, open_profile())
        .await;

    let a = app.get("/api/v1/payout/dictionaries/sbp_banks", &[]).await;
    let banks = a.ok()["data"].as_array().unwrap().clone();
    let sber = banks
        .iter()
        .find(|b| b["member_id"] == json!(SBERBANK))
        .unwrap_or_else(|| panic!("no Sberbank in {}", a.text));
    assert_eq!(sber["name_en"], json!("Sberbank"));
    assert!(sber["name"].is_string() && sber["bic"].is_i64(), "{sber}");
    assert!(banks.iter().all(|b| b["member_id"].is_i64()), "{}", a.text);

    app.fund("2000").await; // 1930.00
    let a = app
        .regular_payout(sbp("500", "+7 999 123-45-67", json!(SBERBANK)))
        .await;
    let p = created(&a).remove(0);
    assert_eq!(p["account_identifier"], json!("+79991234567"));
    // SBP: 1%.
    assert_eq!(number(&p["commission"]), 5_00);
    // The bank as a string, the type in upper case.
    let mut upper = sbp("100", "89991234567", json!(SBERBANK.to_string()));
    upper["account_type"] = json!("SBP");
    let q = created(&app.regular_payout(upper).await).remove(0);
    // A phone ending 0002 fails at the provider.
    let f = created(
        &app.regular_payout(sbp("10", "+79990000002", json!(SBERBANK)))
            .await,
    )
    .remove(0);

    // A bank outside the dictionary, no bank, a phone that is not a Russian mobile.
    app.regular_payout(sbp("100", "+79991234567", json!(123)))
        .await
        .invalid("account_bank");
    let mut no_bank = sbp("100", "+79991234567", json!(SBERBANK));
    no_bank.as_object_mut().unwrap().remove("account_bank");
    app.regular_payout(no_bank).await.invalid("account_bank");
    app.regular_payout(sbp("100", "+1 202 555 0100", json!(SBERBANK)))
        .await
        .invalid("account_identifier");
    // Below the SBP minimum of 10 RUB.
    app.regular_payout(sbp("9.99", "+79991234567", json!(SBERBANK)))
        .await
        .error(400, "api:error.invalid_amount");

    assert_eq!(
        app.wait_payout(app.token(), &id_of(&p)).await["status"],
        json!("SUCCESS")
    );
    assert_eq!(
        app.wait_payout(app.token(), &id_of(&q)).await["status"],
        json!("SUCCESS")
    );
    assert_eq!(
        app.wait_payout(app.token(), &id_of(&f)).await["status"],
        json!("FAIL")
    );
    // 505 + 101 left; the failed 10.10 came back.
    assert_eq!(
        app.balance().await,
        Bal {
            available: 1930_00 - 606_00,
            locked: 0,
            hold: 0
        }
    );
    app.assert_ledger_ok().await;
}

#[tokio::test]
async fn a_personal_payout_goes_to_a_registered_account() {
    let app = spawn_app().await;
    let me = &app.merchant;
    app.fund("1000").await;
    let payee = Payee {
        account_type: AccountType::Sbp,
        identifier: "+79991234567".into(),
        fingerprint: "personal-test-fingerprint".into(),
        sealed: None,
        bank_member_id: Some(SBERBANK),
        holder: None,
    };
    let account = payouts::add_account(&app.store, &me.merchant_id, payee.clone(), app.now())
        .await
        .expect("the account is added");
    let personal = |account: &str, amount: &str, token: &str| {
        let body = json!({"amount": amount, "payout_account_id": account, "order_id": format!("pp-{amount}")});
        let token = token.to_string();
        let app = &app;
        async move {
            app.send(
                Method::POST,
                "/api/v1/payout/personal/create",
                Some(&token),
                Body::Form(
                    body.as_object()
                        .unwrap()
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                        .collect(),
                ),
            )
            .await
        }
    };
    let p = created(&personal(account.id.as_str(), "300", app.token()).await).remove(0);
    assert_eq!(p["account_identifier"], json!("+79991234567"));
    assert_eq!(p["order_id"], json!("pp-300"));
    assert_eq!(number(&p["commission"]), 3_00);

    // Unknown, another merchant's, banned.
    personal("NoSuchAcct", "100", app.token())
        .await
        .error(400, "api:error.payout_account_not_found");
    let other = app.new_merchant("Other").await;
    let theirs = payouts::add_account(
        &app.store,
        &other.merchant_id,
        Payee {
            fingerprint: "other-fingerprint".into(),
            ..payee.clone()
        },
        app.now(),
    )
    .await
    .unwrap();
    personal(theirs.id.as_str(), "100", app.token())
        .await
        .error(400, "api:error.payout_account_not_found");
    app.store
        .apply(Plan::one(Write::SetPayoutAccountBanned {
            id: PayoutAccountId::from_trusted(account.id.as_str().to_string()),
            banned: true,
        }))
        .await
        .unwrap();
    personal(account.id.as_str(), "100", app.token())
        .await
        .error(400, "api:error.payout_account_banned");

    let done = app.wait_payout(app.token(), &id_of(&p)).await;
    assert_eq!(done["status"], json!("SUCCESS"));
    assert_eq!(app.balance().await.available, 965_00 - 303_00);
    app.assert_ledger_ok().await;
}
