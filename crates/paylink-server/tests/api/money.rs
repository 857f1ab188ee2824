//! Merchant money over real HTTP: the balance, payouts (cards, SBP, personal accounts), their
//! worker and webhooks, refunds and their postbacks, conversion into the balance currency,
//! settlement after a delay, and the races a balance must survive. Every test that moves money
//! ends with the ledger check (`paylink ledger check`) finding nothing wrong.
//!
//! Amounts in minor units are written `rubles_kopecks`: `1070_00` is 1 070.00 RUB.
#![allow(clippy::inconsistent_digit_grouping)]

use crate::harness::*;
use crate::receiver::{Received, Receiver};
use paylink_core::decide;
use paylink_core::event::NoticeState;
use paylink_core::id::{MerchantId, PaymentId, PayoutAccountId, PayoutId};
use paylink_core::ledger::FxRate;
use paylink_core::money::Currency;
use paylink_core::payout::{AccountType, Payee, PayoutProfile};
use paylink_core::plan::{Plan, Write};
use paylink_server::md5_signature;
use paylink_server::ops::merchants::{self, Onboarded, ShopChanges};
use paylink_server::ops::payouts;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

const HOUR_MS: i64 = 3_600_000;
/// Sandbox payout outcomes by the payee's last four digits.
const PAYEE_FAIL: &str = "4000000000000002";
const PAYEE_ERROR: &str = "4000000000000119";
/// Seeded in the SBP banks dictionary.
const SBERBANK: i64 = 100_000_000_111;

const PAYOUT_FIELDS: [&str; 11] = [
    "id",
    "status",
    "order_id",
    "account_identifier",
    "amount",
    "account_amount",
    "commission",
    "account_commission",
    "currency",
    "account_currency",
    "created_at",
];

// ---------------------------------------------------------------------------------------------
// Helpers

/// The ledger re-derived from its postings agrees with every cached balance and payout.
pub(crate) async fn assert_ledger_ok(app: &TestApp) {
    let report = app
        .store
        .ledger_check()
        .await
        .expect("the ledger check runs");
    assert!(
        report.problems.is_empty(),
        "ledger problems: {:#?}",
        report.problems
    );
    assert!(report.postings >= 2 * report.transactions, "{report:?}");
}

/// Minor units of a decimal text with at most two places (`965`, `96.98`, `1000.00`).
#[track_caller]
fn minor(text: &str) -> i64 {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    assert!(
        frac.len() <= 2 && !whole.is_empty() && !whole.starts_with('-'),
        "not a money amount: {text}"
    );
    let whole: i64 = whole.parse().unwrap_or_else(|_| panic!("{text}"));
    let frac: i64 = format!("{frac:0<2}")
        .parse()
        .unwrap_or_else(|_| panic!("{text}"));
    whole * 100 + frac
}

/// A JSON number amount, in minor units.
#[track_caller]
pub(crate) fn number(v: &Value) -> i64 {
    assert!(v.is_number(), "not a JSON number: {v}");
    minor(&v.to_string())
}

/// A balance field: a decimal string with exactly two decimals, in minor units.
#[track_caller]
fn fixed(v: &Value) -> i64 {
    let text = v.as_str().unwrap_or_else(|| panic!("not a string: {v}"));
    let (_, frac) = text.split_once('.').unwrap_or((text, ""));
    assert_eq!(frac.len(), 2, "not two decimals: {text}");
    minor(text)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Bal {
    pub available: i64,
    pub locked: i64,
    pub hold: i64,
}

/// `merchant/balance` of `token`'s merchant in RUB, its wire shape checked on the way.
pub(crate) async fn balance_of(app: &TestApp, token: &str) -> Bal {
    let a = app.get_as(token, "/api/v1/merchant/balance", &[]).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_json(&a);
    assert_raw(&a.text, "success", "\"true\"");
    let mut rub = Bal::default();
    for b in a.json["balances"].as_array().expect("a balances array") {
        let bal = Bal {
            available: fixed(&b["balance_available"]),
            locked: fixed(&b["balance_locked"]),
            hold: fixed(&b["balance_hold"]),
        };
        if b["currency"] == json!("RUB") {
            rub = bal;
        }
    }
    rub
}

async fn balance(app: &TestApp) -> Bal {
    balance_of(app, app.token()).await
}

/// Polls the balance (bounded) until `ok` holds; the worker moves money on its own time.
async fn wait_balance(app: &TestApp, token: &str, ok: impl Fn(Bal) -> bool) -> Bal {
    let mut last = Bal::default();
    for _ in patience() {
        last = balance_of(app, token).await;
        if ok(last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the balance never got there: {last:?}");
}

/// A bill of `amount` in `who`'s shop, paid by `card` through the sandbox: the payment.
pub(crate) async fn pay_as(app: &TestApp, who: &Onboarded, amount: &str, card: &str) -> Value {
    let a = app
        .create_bill_as(
            &who.api_token,
            json!({"amount": amount, "shop_id": who.shop_id.as_str()}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let bill = a.json["bill_id"].as_str().expect("a bill id");
    app.send(
        Method::POST,
        "/sandbox/pay",
        Some(&who.api_token),
        Body::Json(json!({"bill_id": bill, "method": "BANK_CARD", "card_number": card})),
    )
    .await
    .ok()
    .clone()
}

/// Pays a bill of `amount` for `who`; returns what reached the balance (minor units).
async fn fund_as(app: &TestApp, who: &Onboarded, amount: &str) -> i64 {
    let p = pay_as(app, who, amount, CARD_OK).await;
    assert_eq!(p["status"], json!("SUCCESS"));
    number(&p["amount_received"])
}

pub(crate) async fn fund(app: &TestApp, amount: &str) -> i64 {
    fund_as(app, &app.merchant, amount).await
}

pub(crate) async fn set_profile(app: &TestApp, merchant: &MerchantId, profile: PayoutProfile) {
    app.store
        .apply(Plan::one(Write::SetPayoutProfile {
            merchant_id: merchant.clone(),
            profile,
        }))
        .await
        .expect("the payout profile is set");
}

/// Regular payouts allowed, no moderation, the server's limits.
pub(crate) fn open_profile() -> PayoutProfile {
    PayoutProfile {
        regular_payouts: true,
        ..PayoutProfile::default()
    }
}

pub(crate) fn card(amount: &str, number: &str) -> Value {
    json!({
        "amount": amount,
        "currency": "RUB",
        "account_type": "credit_card",
        "account_identifier": number,
        "card_holder": "Ivan Petrov",
    })
}

fn sbp(amount: &str, phone: &str, bank: Value) -> Value {
    json!({
        "amount": amount,
        "currency": "RUB",
        "account_type": "sbp",
        "account_identifier": phone,
        "account_bank": bank,
    })
}

fn with_order(mut body: Value, order_id: &str) -> Value {
    body["order_id"] = json!(order_id);
    body
}

async fn regular_as(app: &TestApp, token: &str, body: Value) -> Answer {
    app.send(
        Method::POST,
        "/api/v1/payout/regular/create",
        Some(token),
        Body::Json(body),
    )
    .await
}

async fn regular(app: &TestApp, body: Value) -> Answer {
    regular_as(app, app.token(), body).await
}

/// A payout object with every compat field (item 14) and no `error_message`.
#[track_caller]
fn assert_payout_object(p: &Value) {
    for key in PAYOUT_FIELDS {
        assert!(p.get(key).is_some(), "no {key} in {p}");
    }
    assert!(is_base62_id(p["id"].as_str().unwrap_or("")), "{p}");
    assert!(
        p["amount"].is_number() && p["commission"].is_number(),
        "{p}"
    );
    assert!(
        p["account_amount"].is_number() && p["account_commission"].is_number(),
        "{p}"
    );
    assert!(p["created_at"].is_string(), "{p}");
    if !matches!(p["status"].as_str(), Some("FAIL" | "ERROR" | "DECLINED")) {
        assert!(p.get("error_message").is_none(), "{p}");
    }
}

/// A `payout/*/create` answer: `{"success": true, "data": [...]}`; the payouts.
#[track_caller]
fn created(a: &Answer) -> Vec<Value> {
    let body = a.ok();
    assert_raw(&a.text, "success", "true");
    let data = body["data"].as_array().expect("a data array").clone();
    assert!(!data.is_empty(), "{}", a.text);
    data.iter().for_each(assert_payout_object);
    data
}

/// Points the test shop's postbacks (payments' and refunds') at `r`.
async fn post_to(app: &TestApp, r: &Receiver) {
    merchants::update_shop(
        &app.store,
        app.shop(),
        ShopChanges {
            result_url: Some(r.url("/postback")),
            ..ShopChanges::default()
        },
        true,
    )
    .await
    .unwrap();
}

#[track_caller]
pub(crate) fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

/// Polls `payout/status` (bounded) until the payout is final; returns it.
async fn wait_payout(app: &TestApp, token: &str, id: &str) -> Value {
    let mut last = Value::Null;
    for _ in patience() {
        let a = app
            .get_as(token, "/api/v1/payout/status", &[("id", id)])
            .await;
        last = a.ok().clone();
        if matches!(
            last["status"].as_str(),
            Some("SUCCESS" | "FAIL" | "ERROR" | "DECLINED")
        ) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("payout {id} never finished: {last}");
}

async fn refund_partial_as(app: &TestApp, token: &str, payment: &str, amount: &str) -> Answer {
    app.send(
        Method::POST,
        "/api/v1/refund/partial/create",
        Some(token),
        Body::Json(json!({"payment_id": payment, "amount": amount})),
    )
    .await
}

async fn refund_full_as(app: &TestApp, token: &str, payment: &str) -> Answer {
    app.send(
        Method::POST,
        "/api/v1/refund/full/create",
        Some(token),
        Body::Json(json!({"payment_id": payment})),
    )
    .await
}

/// A refund of `amount` of the payment `paid` whose money is taken but whose asker died
/// before the acquirer answered: in PROCESS, leased for `lease_ms`.
async fn crashed_refund(
    app: &TestApp,
    paid: &Value,
    amount: i64,
    id: &str,
    lease_ms: i64,
) -> paylink_core::refund::Refund {
    let payment = app
        .store
        .payment(&PaymentId::parse(&id_of(paid)).unwrap())
        .await
        .unwrap()
        .unwrap();
    let bal = app
        .store
        .balance(&payment.merchant_id, Currency::Rub)
        .await
        .unwrap();
    let now = app.now();
    let (refund, plan) = decide::refund::create(
        &payment,
        Some(amount),
        bal,
        paylink_core::id::RefundId::parse(id).unwrap(),
        now + lease_ms,
        now,
    )
    .unwrap();
    app.store.apply(plan).await.unwrap();
    refund
}

/// The status of refund `id` once it has left PROCESS (polled, bounded: the worker answers
/// on its own time).
async fn answered(app: &TestApp, id: &str) -> Value {
    let mut last = Value::Null;
    for _ in patience() {
        last = app.get("/api/v1/refund/status", &[("id", id)]).await.ok()["status"].clone();
        if last != json!("PROCESS") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    last
}

pub(crate) async fn payment_status(app: &TestApp, id: &str) -> Value {
    app.get("/api/v1/payment/status", &[("id", id), ("refunds", "1")])
        .await
        .ok()
        .clone()
}

/// Runs `n` copies of one request at once, each on its own task; the answers.
async fn all_at_once(
    app: &TestApp,
    n: usize,
    path: &str,
    body: impl Fn(usize) -> Value,
) -> Vec<Answer> {
    let url = app.url(path);
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let http = app.http.clone();
            let url = url.clone();
            let token = app.token().to_string();
            let body = body(i);
            tokio::spawn(async move {
                let response = http
                    .post(url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .expect("the server answers");
                answer(response).await
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(n);
    for t in tasks {
        answers.push(t.await.expect("the request task"));
    }
    answers
}

// ---------------------------------------------------------------------------------------------
// Balance

#[tokio::test]
async fn the_balance_has_the_wire_shape_and_a_paid_bill_is_available_at_once() {
    let app = spawn_app().await;
    let a = app.get("/api/v1/merchant/balance", &[]).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_raw(&a.text, "success", "\"true\"");
    assert!(a.json["balances"].is_array(), "{}", a.text);
    assert_eq!(balance(&app).await, Bal::default());

    let paid = pay_as(&app, &app.merchant, "1000", CARD_OK).await;
    let a = app.get("/api/v1/merchant/balance", &[]).await;
    assert_raw(&a.text, "success", "\"true\"");
    let balances = a.json["balances"].as_array().unwrap();
    assert_eq!(balances.len(), 1, "{}", a.text);
    let rub = &balances[0];
    assert_eq!(rub["currency"], json!("RUB"));
    // 1000 less the default 3.5% commission, as strings with two decimals.
    assert_eq!(rub["balance_available"], json!("965.00"));
    assert_eq!(rub["balance_locked"], json!("0.00"));
    assert_eq!(rub["balance_hold"], json!("0.00"));
    assert_eq!(
        fixed(&rub["balance_available"]),
        number(&paid["amount_received"])
    );

    // Odd cents, and a declined payment that brings nothing.
    let second = fund(&app, "100.50").await;
    assert_eq!(second, 96_98);
    let declined = pay_as(&app, &app.merchant, "500", CARD_DECLINED).await;
    assert_eq!(declined["status"], json!("FAIL"));
    let a = app
        .send(
            Method::POST,
            "/api/v1/merchant/balance",
            Some(app.token()),
            Body::None,
        )
        .await;
    assert_eq!(a.json["balances"][0]["balance_available"], json!("1061.98"));
    assert_eq!(
        balance(&app).await,
        Bal {
            available: 1061_98,
            locked: 0,
            hold: 0
        }
    );
    // Another merchant's money is its own.
    let other = app.new_merchant("Other").await;
    assert_eq!(balance_of(&app, &other.api_token).await, Bal::default());
    assert_ledger_ok(&app).await;
}

// ---------------------------------------------------------------------------------------------
// Card payouts

#[tokio::test]
async fn a_card_payout_locks_its_money_then_the_worker_pays_it_out() {
    // The sandbox provider answers an hour after the payout is sent: the lock is observable.
    let app = spawn_app_with(|s| s.money.sandbox_payout_delay = Duration::from_secs(3600)).await;
    set_profile(&app, &app.merchant.merchant_id, open_profile()).await;
    let funded = fund(&app, "10000").await;
    assert_eq!(funded, 9650_00);

    let a = regular(&app, with_order(card("1000", CARD_OK), "po-1")).await;
    let data = created(&a);
    assert_eq!(data.len(), 1);
    let p = &data[0];
    assert_eq!(p["status"], json!("NEW"));
    assert_eq!(p["order_id"], json!("po-1"));
    assert_eq!(p["account_identifier"], json!("424242******4242"));
    assert_eq!(number(&p["amount"]), 1000_00);
    assert_eq!(number(&p["account_amount"]), 1000_00);
    // Cards: 2% + 50 RUB.
    assert_eq!(number(&p["commission"]), 70_00);
    assert_eq!(number(&p["account_commission"]), 70_00);
    assert_eq!(p["currency"], json!("RUB"));
    assert_eq!(p["account_currency"], json!("RUB"));
    assert_eq!(p["created_at"], json!("2024-05-14 10:00:00"));
    let id = id_of(p);

    assert_eq!(
        balance(&app).await,
        Bal {
            available: 9650_00 - 1070_00,
            locked: 1070_00,
            hold: 0
        }
    );
    assert_ledger_ok(&app).await;

    // payout/status by id and by order_id: the same payout, with currency_in.
    let by_id = app.get("/api/v1/payout/status", &[("id", &id)]).await;
    let s = by_id.ok();
    assert_payout_object(s);
    assert_eq!(s["id"], json!(id));
    assert_eq!(s["currency_in"], json!("RUB"));
    assert!(
        matches!(s["status"].as_str(), Some("NEW" | "PROCESS")),
        "{s}"
    );
    let by_order = app
        .get("/api/v1/payout/status", &[("order_id", "po-1")])
        .await;
    assert_eq!(by_order.ok()["id"], json!(id));

    // The provider answers: SUCCESS, and the lock leaves the balance.
    app.advance_ms(HOUR_MS);
    let done = wait_payout(&app, app.token(), &id).await;
    assert_eq!(done["status"], json!("SUCCESS"), "{done}");
    assert!(done.get("error_message").is_none(), "{done}");
    assert_eq!(
        balance(&app).await,
        Bal {
            available: 8580_00,
            locked: 0,
            hold: 0
        }
    );

    // payout/search: the cursor page with the payout.
    let a = app
        .get("/api/v1/payout/search", &[("order_id", "po-1")])
        .await;
    let page = a.ok();
    let listed = page["data"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{}", a.text);
    assert_eq!(listed[0]["id"], json!(id));
    assert_eq!(listed[0]["status"], json!("SUCCESS"));
    assert!(
        page["links"].is_object() && page["meta"].is_object(),
        "{}",
        a.text
    );
    assert_ledger_ok(&app).await;
}

#[tokio::test]
async fn a_failed_or_erroring_payout_gives_the_money_back() {
    let app = spawn_app().await;
    set_profile(&app, &app.merchant.merchant_id, open_profile()).await;
    fund(&app, "5000").await;
    let before = balance(&app).await;
    assert_eq!(before.available, 4825_00);

    let failed = id_of(&created(&regular(&app, card("1000", PAYEE_FAIL)).await)[0]);
    let erred = id_of(&created(&regular(&app, card("500.50", PAYEE_ERROR)).await)[0]);
    let ok = id_of(&created(&regular(&app, card("100", CARD_OK)).await)[0]);

    let f = wait_payout(&app, app.token(), &failed).await;
    assert_eq!(f["status"], json!("FAIL"), "{f}");
    assert_eq!(f["account_identifier"], json!("400000******0002"));
    assert!(
        f["error_message"].as_str().is_some_and(|m| !m.is_empty()),
        "{f}"
    );
    let e = wait_payout(&app, app.token(), &erred).await;
    assert_eq!(e["status"], json!("ERROR"), "{e}");
    assert!(e["error_message"].is_string(), "{e}");
    let s = wait_payout(&app, app.token(), &ok).await;
    assert_eq!(s["status"], json!("SUCCESS"), "{s}");

    // Only the successful payout (100 + 2 + 50) left the balance.
    assert_eq!(
        balance(&app).await,
        Bal {
            available: 4825_00 - 152_00,
            locked: 0,
            hold: 0
        }
    );
    assert_ledger_ok(&app).await;
}

#[tokio::test]
async fn payout_refusals_leave_the_balance_untouched() {
    let app = spawn_app().await;
    set_profile(&app, &app.merchant.merchant_id, open_profile()).await;
    fund(&app, "1000").await; // 965.00
    let before = balance(&app).await;

    // 1000 + 70 commission is more than 965.
    regular(&app, card("1000", CARD_OK))
        .await
        .error(400, "api:error.balance_not_enough");
    // 900 + 68 commission is still more than 965.
    regular(&app, card("900", CARD_OK))
        .await
        .error(400, "api:error.balance_not_enough");
    // Below the card minimum, not positive, or with too many decimals.
    for bad in ["99.99", "0", "-100", "100.001"] {
        regular(&app, card(bad, CARD_OK))
            .await
            .error(400, "api:error.invalid_amount");
    }
    // Validation: a number failing Luhn, no holder, no type, an unknown type, no currency.
    regular(&app, card("100", "4242424242424241"))
        .await
        .invalid("account_identifier");
    let mut no_holder = card("100", CARD_OK);
    no_holder.as_object_mut().unwrap().remove("card_holder");
    regular(&app, no_holder).await.invalid("card_holder");
    let mut no_type = card("100", CARD_OK);
    no_type.as_object_mut().unwrap().remove("account_type");
    regular(&app, no_type).await.invalid("account_type");
    let mut bad_type = card("100", CARD_OK);
    bad_type["account_type"] = json!("paypal");
    regular(&app, bad_type).await.invalid("account_type");
    let mut no_currency = card("100", CARD_OK);
    no_currency.as_object_mut().unwrap().remove("currency");
    regular(&app, no_currency).await.invalid("currency");
    // Payouts are made in RUB only.
    let mut usd = card("100", CARD_OK);
    usd["currency"] = json!("USD");
    regular(&app, usd).await.error(403, "api:error.no_payout");
    // A card number is never echoed in full.
    let a = regular(&app, card("100", "4242424242424241")).await;
    assert!(!a.text.contains("4242424242424241"), "{}", a.text);

    assert_eq!(balance(&app).await, before);
    let a = app.get("/api/v1/payout/search", &[]).await;
    assert_eq!(a.ok()["data"], json!([]), "{}", a.text);

    // What the balance allows exactly goes through: 895 + 17.90 + 50 = 962.90.
    created(&regular(&app, card("895", CARD_OK)).await);
    assert_ledger_ok(&app).await;
}

#[tokio::test]
async fn a_duplicate_order_id_is_refused_and_locks_nothing() {
    let app = spawn_app().await;
    set_profile(&app, &app.merchant.merchant_id, open_profile()).await;
    fund(&app, "10000").await;
    let first = created(&regular(&app, with_order(card("1000", CARD_OK), "dup")).await);
    regular(&app, with_order(card("200", CARD_OK), "dup"))
        .await
        .invalid("order_id");
    let done = wait_payout(&app, app.token(), &id_of(&first[0])).await;
    assert_eq!(done["status"], json!("SUCCESS"));
    // Still refused once the first one is done.
    regular(&app, with_order(card("200", CARD_OK), "dup"))
        .await
        .invalid("order_id");
    assert_eq!(balance(&app).await.available, 9650_00 - 1070_00);
    // Another merchant may use the same order id.
    let other = app.new_merchant("Other").await;
    set_profile(&app, &other.merchant_id, open_profile()).await;
    fund_as(&app, &other, "1000").await;
    created(
        &regular_as(
            &app,
            &other.api_token,
            with_order(card("100", CARD_OK), "dup"),
        )
        .await,
    );
    assert_ledger_ok(&app).await;
}

#[tokio::test]
async fn a_payout_above_the_card_maximum_is_split_into_parts_sharing_the_order_id() {
    // The provider answers an hour after taking a payout, so its parts are seen locked.
    let app = spawn_app_with(|s| s.money.sandbox_payout_delay = Duration::from_secs(3600)).await;
    set_profile(&app, &app.merchant.merchant_id, open_profile()).await;
    fund(&app, "400000").await; // 386 000.00
    let a = regular(&app, with_order(card("200000", CARD_OK), "big-1")).await;
    let parts = created(&a);
    assert_eq!(parts.len(), 2, "{}", a.text);
    for p in &parts {
        assert_eq!(p["order_id"], json!("big-1"));
        assert_eq!(number(&p["amount"]), 100_000_00);
        assert_eq!(number(&p["commission"]), 2_050_00);
    }
    assert_ne!(parts[0]["id"], parts[1]["id"]);
    let b = balance(&app).await;
    assert_eq!(b.locked, 204_100_00);
    assert_eq!(b.available, 386_000_00 - 204_100_00);

    // By order_id: the first part; payout/search finds both.
    let s = app
        .get("/api/v1/payout/status", &[("order_id", "big-1")])
        .await;
    assert_eq!(s.ok()["id"], parts[0]["id"]);
    let found = app
        .get("/api/v1/payout/search", &[("order_id", "big-1")])
        .await;
    assert_eq!(found.ok()["data"].as_array().unwrap().len(), 2);

    app.advance_ms(3_600_001);
    for p in &parts {
        let done = wait_payout(&app, app.token(), &id_of(p)).await;
        assert_eq!(done["status"], json!("SUCCESS"), "{done}");
    }
    assert_eq!(
        balance(&app).await,
        Bal {
            available: 181_900_00,
            locked: 0,
            hold: 0
        }
    );
    assert_ledger_ok(&app).await;
}

// ---------------------------------------------------------------------------------------------
// SBP and personal payouts

#[tokio::test]
async fn sbp_payouts_go_to_a_bank_of_the_dictionary() {
    let app = spawn_app().await;
    set_profile(&app, &app.merchant.merchant_id, open_profile()).await;

    let a = app.get("/api/v1/payout/dictionaries/sbp_banks", &[]).await;
    let banks = a.ok()["data"].as_array().unwrap().clone();
    let sber = banks
        .iter()
        .find(|b| b["member_id"] == json!(SBERBANK))
        .unwrap_or_else(|| panic!("no Sberbank in {}", a.text));
    assert_eq!(sber["name_en"], json!("Sberbank"));
    assert!(sber["name"].is_string() && sber["bic"].is_i64(), "{sber}");
    assert!(banks.iter().all(|b| b["member_id"].is_i64()), "{}", a.text);

    fund(&app, "2000").await; // 1930.00
    let a = regular(&app, sbp("500", "+7 999 123-45-67", json!(SBERBANK))).await;
    let p = created(&a).remove(0);
    assert_eq!(p["account_identifier"], json!("+79991234567"));
    // SBP: 1%.
    assert_eq!(number(&p["commission"]), 5_00);
    // The bank as a string, the type in upper case.
    let mut upper = sbp("100", "89991234567", json!(SBERBANK.to_string()));
    upper["account_type"] = json!("SBP");
    let q = created(&regular(&app, upper).await).remove(0);
    // A phone ending 0002 fails at the provider.
    let f = created(&regular(&app, sbp("10", "+79990000002", json!(SBERBANK))).await).remove(0);

    // A bank outside the dictionary, no bank, a phone that is not a Russian mobile.
    regular(&app, sbp("100", "+79991234567", json!(123)))
        .await
        .invalid("account_bank");
    let mut no_bank = sbp("100", "+79991234567", json!(SBERBANK));
    no_bank.as_object_mut().unwrap().remove("account_bank");
    regular(&app, no_bank).await.invalid("account_bank");
    regular(&app, sbp("100", "+1 202 555 0100", json!(SBERBANK)))
        .await
        .invalid("account_identifier");
    // Below the SBP minimum of 10 RUB.
    regular(&app, sbp("9.99", "+79991234567", json!(SBERBANK)))
        .await
        .error(400, "api:error.invalid_amount");

    assert_eq!(
        wait_payout(&app, app.token(), &id_of(&p)).await["status"],
        json!("SUCCESS")
    );
    assert_eq!(
        wait_payout(&app, app.token(), &id_of(&q)).await["status"],
        json!("SUCCESS")
    );
    assert_eq!(
        wait_payout(&app, app.token(), &id_of(&f)).await["status"],
        json!("FAIL")
    );
    // 505 + 101 left; the failed 10.10 came back.
    assert_eq!(
        balance(&app).await,
        Bal {
            available: 1930_00 - 606_00,
            locked: 0,
            hold: 0
        }
    );
    assert_ledger_ok(&app).await;
}

#[tokio::test]
async fn a_personal_payout_goes_to_a_registered_account() {
    let app = spawn_app().await;
    let me = &app.merchant;
    fund(&app, "1000").await;
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

    let done = wait_payout(&app, app.token(), &id_of(&p)).await;
    assert_eq!(done["status"], json!("SUCCESS"));
    assert_eq!(balance(&app).await.available, 965_00 - 303_00);
    assert_ledger_ok(&app).await;
}

// ---------------------------------------------------------------------------------------------
// Moderation, cancel, limits, who may pay out

#[tokio::test]
async fn canceling_a_moderating_payout_declines_it_and_returns_the_money() {
    let app = spawn_app().await;
    set_profile(
        &app,
        &app.merchant.merchant_id,
        PayoutProfile {
            moderation: true,
            ..open_profile()
        },
    )
    .await;
    fund(&app, "5000").await; // 4825.00
    let a = regular(&app, with_order(card("1000", CARD_OK), "mod-1")).await;
    let p = created(&a).remove(0);
    assert_eq!(p["status"], json!("MODERATING"));
    let id = id_of(&p);
    assert_eq!(
        balance(&app).await,
        Bal {
            available: 4825_00 - 1070_00,
            locked: 1070_00,
            hold: 0
        }
    );
    assert_ledger_ok(&app).await;

    let c = app
        .post("/api/v1/payout/cancel", json!({"order_id": "mod-1"}))
        .await;
    let c = c.ok();
    assert_eq!(c["id"], json!(id));
    assert_eq!(c["status"], json!("DECLINED"));
    let s = app.get("/api/v1/payout/status", &[("id", &id)]).await;
    assert_eq!(s.ok()["status"], json!("DECLINED"));
    assert_eq!(
        balance(&app).await,
        Bal {
            available: 4825_00,
            locked: 0,
            hold: 0
        }
    );
    // Once declined it cannot be canceled again, nor can a paid-out payout.
    app.post("/api/v1/payout/cancel", json!({"id": id}))
        .await
        .error(400, "api:error.transaction_rejected");
    set_profile(&app, &app.merchant.merchant_id, open_profile()).await;
    let sent = id_of(&created(&regular(&app, card("100", CARD_OK)).await)[0]);
    assert_eq!(
        wait_payout(&app, app.token(), &sent).await["status"],
        json!("SUCCESS")
    );
    app.post("/api/v1/payout/cancel", json!({"id": sent}))
        .await
        .error(400, "api:error.transaction_rejected");
    // Neither id nor order_id.
    app.post("/api/v1/payout/cancel", json!({}))
        .await
        .invalid("id");
    assert_eq!(balance(&app).await.available, 4825_00 - 152_00);
    assert_ledger_ok(&app).await;
}

/// `payout/cancel` by `order_id` cancels every part of a split payout; by `id`, one part.
#[tokio::test]
async fn canceling_a_split_payout_by_order_id_cancels_every_part() {
    let app = spawn_app().await;
    set_profile(
        &app,
        &app.merchant.merchant_id,
        PayoutProfile {
            moderation: true,
            ..open_profile()
        },
    )
    .await;
    fund(&app, "400000").await;
    let funded = balance(&app).await.available;
    let a = regular(&app, with_order(card("300000", CARD_OK), "split-c")).await;
    let parts = created(&a);
    assert_eq!(parts.len(), 2, "{}", a.text);
    // One part by id first: the other stays.
    let one = app
        .post("/api/v1/payout/cancel", json!({"id": id_of(&parts[1])}))
        .await;
    assert_eq!(one.ok()["status"], json!("DECLINED"));
    let first = app
        .get("/api/v1/payout/status", &[("id", &id_of(&parts[0]))])
        .await;
    assert_eq!(first.ok()["status"], json!("MODERATING"));
    // The rest by order id.
    let all = app
        .post("/api/v1/payout/cancel", json!({"order_id": "split-c"}))
        .await;
    assert_eq!(all.ok()["id"], json!(id_of(&parts[0])));
    for p in &parts {
        let s = app.get("/api/v1/payout/status", &[("id", &id_of(p))]).await;
        assert_eq!(s.ok()["status"], json!("DECLINED"));
    }
    assert_eq!(
        balance(&app).await,
        Bal {
            available: funded,
            locked: 0,
            hold: 0
        }
    );
    // Nothing left to cancel.
    app.post("/api/v1/payout/cancel", json!({"order_id": "split-c"}))
        .await
        .error(400, "api:error.transaction_rejected");
    assert_ledger_ok(&app).await;
}

#[tokio::test]
async fn payouts_from_the_moderation_threshold_up_wait_for_an_operator() {
    let app = spawn_app_with(|s| s.money.payouts.moderation_threshold = 500_00).await;
    set_profile(&app, &app.merchant.merchant_id, open_profile()).await;
    fund(&app, "5000").await;
    let big = created(&regular(&app, card("500", CARD_OK)).await).remove(0);
    assert_eq!(big["status"], json!("MODERATING"));
    let small = created(&regular(&app, card("499.99", CARD_OK)).await).remove(0);
    assert_eq!(small["status"], json!("NEW"));
    assert_eq!(
        wait_payout(&app, app.token(), &id_of(&small)).await["status"],
        json!("SUCCESS")
    );
    // The worker has been by, and left the moderated one alone.
    let s = app
        .get("/api/v1/payout/status", &[("id", &id_of(&big))])
        .await;
    assert_eq!(s.ok()["status"], json!("MODERATING"));
    assert_eq!(balance(&app).await.locked, 560_00);

    let stored = app
        .store
        .payout(&PayoutId::from_trusted(id_of(&big)))
        .await
        .unwrap()
        .expect("the payout is stored");
    payouts::approve(&app.store, &stored, app.now())
        .await
        .expect("an operator approves");
    assert_eq!(
        wait_payout(&app, app.token(), &id_of(&big)).await["status"],
        json!("SUCCESS")
    );
    assert_eq!(
        balance(&app).await,
        Bal {
            available: 4825_00 - 560_00 - 559_99,
            locked: 0,
            hold: 0
        }
    );
    assert_ledger_ok(&app).await;
}

/// The threshold weighs the whole request: a split order whose parts are each below it, but
/// whose total is not, waits for an operator in every part.
#[tokio::test]
async fn a_split_order_above_the_moderation_threshold_is_moderated_in_every_part() {
    let app = spawn_app_with(|s| s.money.payouts.moderation_threshold = 200_000_00).await;
    set_profile(&app, &app.merchant.merchant_id, open_profile()).await;
    fund(&app, "500000").await;
    let parts = created(&regular(&app, with_order(card("250000", CARD_OK), "big")).await);
    assert_eq!(parts.len(), 2);
    for p in &parts {
        assert!(number(&p["amount"]) < 200_000_00, "{p}");
        assert_eq!(p["status"], json!("MODERATING"), "{p}");
    }
    // Below the threshold in total, the same split goes out at once.
    let parts = created(&regular(&app, with_order(card("160000", CARD_OK), "small")).await);
    assert_eq!(parts.len(), 2);
    for p in &parts {
        assert_eq!(
            wait_payout(&app, app.token(), &id_of(p)).await["status"],
            json!("SUCCESS")
        );
    }
    // The worker has been by, and left the moderated order alone.
    let s = app
        .get("/api/v1/payout/status", &[("order_id", "big")])
        .await;
    assert_eq!(s.ok()["status"], json!("MODERATING"));
    assert_ledger_ok(&app).await;
}

#[tokio::test]
async fn the_daily_and_monthly_limits_hold_and_a_failed_payout_gives_its_share_back() {
    let app = spawn_app().await;
    fund(&app, "20000").await;
    set_profile(
        &app,
        &app.merchant.merchant_id,
        PayoutProfile {
            daily_limit: Some(1500_00),
            ..open_profile()
        },
    )
    .await;
    // A failed payout counts while in flight, and not once it failed.
    let failed = created(&regular(&app, card("1000", PAYEE_FAIL)).await).remove(0);
    assert_eq!(
        wait_payout(&app, app.token(), &id_of(&failed)).await["status"],
        json!("FAIL")
    );
    created(&regular(&app, card("1000", CARD_OK)).await);
    regular(&app, card("600", CARD_OK))
        .await
        .error(400, "api:error.daily_payout_limit_exceeded");
    created(&regular(&app, card("500", CARD_OK)).await);
    regular(&app, card("100", CARD_OK))
        .await
        .error(400, "api:error.daily_payout_limit_exceeded");
    // The next (UTC) day has its own limit.
    app.advance_ms(DAY_MS);
    created(&regular(&app, card("600", CARD_OK)).await);

    // A monthly limit: 2100 used this month so far.
    set_profile(
        &app,
        &app.merchant.merchant_id,
        PayoutProfile {
            monthly_limit: Some(2500_00),
            ..open_profile()
        },
    )
    .await;
    regular(&app, card("500", CARD_OK))
        .await
        .error(400, "api:error.monthly_payout_limit_exceeded");
    created(&regular(&app, card("400", CARD_OK)).await);
    wait_balance(&app, app.token(), |b| b.locked == 0).await;
    assert_ledger_ok(&app).await;
}

#[tokio::test]
async fn an_unverified_merchant_may_not_pay_out() {
    let app = spawn_app().await;
    let unverified =
        merchants::create_merchant(&app.store, &app.keys, "Unverified", None, false, app.now())
            .await
            .unwrap();
    set_profile(&app, &unverified.merchant_id, open_profile()).await;
    regular_as(&app, &unverified.api_token, card("100", CARD_OK))
        .await
        .error(400, "api:error.merchant_not_verified");
    assert_ledger_ok(&app).await;
}

#[tokio::test]
async fn regular_payouts_need_access() {
    let app = spawn_app().await;
    fund(&app, "1000").await;
    set_profile(&app, &app.merchant.merchant_id, PayoutProfile::default()).await;
    let a = regular(&app, card("100", CARD_OK)).await;
    assert_eq!(a.status, 403, "{}", a.text);
    assert_eq!(a.json["success"], json!(false), "{}", a.text);
    assert_eq!(balance(&app).await.locked, 0);
    assert_ledger_ok(&app).await;
}

#[tokio::test]
async fn another_merchants_payouts_and_refunds_are_not_found() {
    let app = spawn_app().await;
    let other = app.new_merchant("Other").await;
    set_profile(&app, &other.merchant_id, open_profile()).await;
    let paid = pay_as(&app, &other, "1000", CARD_OK).await;
    fund_as(&app, &other, "1000").await;
    let theirs = created(
        &regular_as(
            &app,
            &other.api_token,
            with_order(card("100", CARD_OK), "theirs"),
        )
        .await,
    )
    .remove(0);
    let refund = refund_partial_as(&app, &other.api_token, &id_of(&paid), "10").await;
    let refund_id = id_of(refund.ok());

    let mine = app.token();
    app.get_as(mine, "/api/v1/payout/status", &[("id", &id_of(&theirs))])
        .await
        .error(422, "api:error.payout_not_found");
    app.get_as(mine, "/api/v1/payout/status", &[("order_id", "theirs")])
        .await
        .error(422, "api:error.payout_not_found");
    app.post("/api/v1/payout/cancel", json!({"id": id_of(&theirs)}))
        .await
        .error(422, "api:error.payout_not_found");
    app.get_as(mine, "/api/v1/payout/status", &[("id", "NoSuchOne1")])
        .await
        .error(422, "api:error.payout_not_found");
    app.get_as(mine, "/api/v1/payout/status", &[])
        .await
        .invalid("id");
    refund_partial_as(&app, mine, &id_of(&paid), "10")
        .await
        .error(422, "api:error.payment_not_found");
    refund_full_as(&app, mine, &id_of(&paid))
        .await
        .error(422, "api:error.payment_not_found");
    app.get_as(mine, "/api/v1/refund/status", &[("id", &refund_id)])
        .await
        .error(422, "api:error.refund_not_found");
    let a = app.get_as(mine, "/api/v1/refund/search", &[]).await;
    assert_eq!(a.ok()["data"], json!([]));
    let a = app.get_as(mine, "/api/v1/payout/search", &[]).await;
    assert_eq!(a.ok()["data"], json!([]));

    // Theirs is untouched and still theirs.
    let done = wait_payout(&app, &other.api_token, &id_of(&theirs)).await;
    assert_eq!(done["status"], json!("SUCCESS"));
    assert_eq!(balance(&app).await, Bal::default());
    assert_eq!(
        balance_of(&app, &other.api_token).await.available,
        2 * 965_00 - 152_00 - 10_00
    );
    assert_ledger_ok(&app).await;
}

// ---------------------------------------------------------------------------------------------
// Payout webhook

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
    let r = Receiver::start().await;
    let hook = PayoutProfile {
        webhook_url: Some(r.url("/payouts")),
        ..open_profile()
    };
    set_profile(&app, &app.merchant.merchant_id, hook.clone()).await;
    fund(&app, "5000").await;
    let ok = id_of(&created(&regular(&app, card("1000", CARD_OK)).await)[0]);
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
    let failed = id_of(&created(&regular(&app, card("500", PAYEE_FAIL)).await)[0]);
    r.wait_for("/payouts", 2).await;
    set_profile(
        &app,
        &app.merchant.merchant_id,
        PayoutProfile {
            moderation: true,
            ..hook
        },
    )
    .await;
    let moderated =
        id_of(&created(&regular(&app, sbp("300", "+79991234567", json!(SBERBANK))).await)[0]);
    app.post("/api/v1/payout/cancel", json!({"id": moderated}))
        .await
        .ok();
    let got = r.wait_for("/payouts", 3).await;
    let by_id = |id: &str| {
        got.iter()
            .find(|w| w.field("TrsId") == id)
            .unwrap_or_else(|| panic!("no webhook for {id}: {got:?}"))
    };
    let f = by_id(&failed);
    assert_payout_webhook(&app, f);
    assert_eq!(f.field("Status"), "FAIL");
    assert_eq!(f.field("AccountNumber"), "400000******0002");
    let d = by_id(&moderated);
    assert_payout_webhook(&app, d);
    assert_eq!(d.field("Status"), "DECLINED");
    assert_eq!(d.field("AccountType"), "SBP");
    assert_eq!(d.field("AccountNumber"), "+79991234567");
    assert_eq!(d.field("Amount"), "300.00");
    assert_eq!(d.field("Commission"), "3.00");
    assert_ledger_ok(&app).await;
}

// ---------------------------------------------------------------------------------------------
// Refunds

#[tokio::test]
async fn a_paid_bill_is_refunded_in_part_then_in_full_and_each_refund_is_posted() {
    let app = spawn_app().await;
    let r = Receiver::start().await;
    post_to(&app, &r).await;
    let bill = app
        .bill(json!({"amount": "1000", "custom": "order 77"}))
        .await;
    let paid = app.pay_card(&bill, CARD_OK).await.ok().clone();
    let payment = id_of(&paid);
    // Enough on the balance for a refund of the whole 1000 (the payment brought 965).
    fund(&app, "1000").await;
    assert_eq!(balance(&app).await.available, 1930_00);

    let a = refund_partial_as(&app, app.token(), &payment, "300").await;
    let first = a.ok().clone();
    for key in [
        "id",
        "payment_id",
        "bill_id",
        "status",
        "amount",
        "currency",
        "account_amount",
        "account_currency",
        "created_at",
    ] {
        assert!(first.get(key).is_some(), "no {key} in {}", a.text);
    }
    assert_eq!(first["payment_id"], json!(payment));
    assert_eq!(first["bill_id"], json!(bill));
    assert_eq!(first["status"], json!("SUCCESS"));
    assert_eq!(number(&first["amount"]), 300_00);
    assert_eq!(number(&first["account_amount"]), 300_00);
    assert_eq!(first["currency"], json!("RUB"));
    assert_eq!(first["account_currency"], json!("RUB"));
    let first_id = id_of(&first);

    let p = payment_status(&app, &payment).await;
    assert_eq!(number(&p["refunded_amount"]), 300_00);
    assert_eq!(balance(&app).await.available, 1630_00);

    // The clock is about to jump a whole postback lease: let the dispatcher finish recording
    // the first refund's delivery, or it would lease and send it again.
    let notice = format!("msg_{first_id}");
    for _ in patience() {
        let record = app.store.notice(&notice).await.unwrap();
        if record.is_some_and(|n| n.state == NoticeState::Delivered) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // The full refund, a minute later, takes what remains.
    app.advance_ms(60_000);
    let a = refund_full_as(&app, app.token(), &payment).await;
    let second = a.ok().clone();
    assert_eq!(number(&second["amount"]), 700_00);
    let second_id = id_of(&second);
    let p = payment_status(&app, &payment).await;
    assert_eq!(number(&p["refunded_amount"]), 1000_00);
    // payment/status with refunds=1 lists them, oldest first.
    let listed = p["refunds"].as_array().expect("a refunds array");
    let seen: Vec<(String, i64)> = listed
        .iter()
        .map(|r| (id_of(r), number(&r["amount"])))
        .collect();
    assert_eq!(
        seen,
        vec![(first_id.clone(), 300_00), (second_id.clone(), 700_00)],
        "{p}"
    );
    assert_eq!(balance(&app).await.available, 930_00);

    // Nothing remains.
    refund_full_as(&app, app.token(), &payment)
        .await
        .error(403, "api:error.invalid_amount");
    refund_partial_as(&app, app.token(), &payment, "0.01")
        .await
        .error(403, "api:error.invalid_amount");

    // refund/status and refund/search.
    let s = app.get("/api/v1/refund/status", &[("id", &first_id)]).await;
    let s = s.ok();
    assert_eq!(s["id"], json!(first_id));
    assert_eq!(number(&s["amount"]), 300_00);
    app.get("/api/v1/refund/status", &[("id", "NoSuchOne1")])
        .await
        .error(422, "api:error.refund_not_found");
    app.get("/api/v1/refund/status", &[]).await.invalid("id");
    let a = app
        .get("/api/v1/refund/search", &[("payment_id", &payment)])
        .await;
    let page = a.ok();
    let mut ids: Vec<String> = page["data"].as_array().unwrap().iter().map(id_of).collect();
    ids.sort();
    let mut expected = vec![first_id.clone(), second_id.clone()];
    expected.sort();
    assert_eq!(ids, expected, "{}", a.text);
    assert!(page["links"].is_object() && page["meta"].is_object());

    // The payment's postback and one per refund, signed md5(Amount:Currency:BillId:PaymentId:Id:token).
    // Four in all: the two payments' postbacks (the refunded one and the funding one) and
    // the two refunds'.
    let got = r.wait_for("/postback", 4).await;
    assert_eq!(
        got.iter().filter(|p| !p.field("OutSum").is_empty()).count(),
        2
    );
    let refunds: Vec<&Received> = got
        .iter()
        .filter(|p| !p.field("PaymentId").is_empty())
        .collect();
    assert_eq!(refunds.len(), 2, "{got:?}");
    for p in &refunds {
        assert_eq!(p.method, "POST");
        assert_eq!(p.field("PaymentId"), payment);
        assert_eq!(p.field("BillId"), bill);
        assert_eq!(p.field("Currency"), "RUB");
        assert_eq!(p.field("custom"), "order 77");
        let signature = md5_signature(
            &[
                p.field("Amount"),
                p.field("Currency"),
                p.field("BillId"),
                p.field("PaymentId"),
                p.field("Id"),
            ],
            app.token(),
        );
        assert_eq!(p.field("SignatureValue"), signature, "{p:?}");
    }
    let amount_of = |id: &str| {
        refunds
            .iter()
            .find(|p| p.field("Id") == id)
            .map(|p| p.field("Amount").to_string())
    };
    assert_eq!(amount_of(&first_id).as_deref(), Some("300.00"));
    assert_eq!(amount_of(&second_id).as_deref(), Some("700.00"));
    assert_ledger_ok(&app).await;
}

/// The sandbox acquirer refuses refunds of payments by a card ending 0259: the refund ends
/// FAIL with the acquirer's reason, its money back in available, the payment refundable again,
/// and the merchant told by a postback.
#[tokio::test]
async fn a_refund_the_acquirer_refuses_gives_the_money_back() {
    let app = spawn_app().await;
    let r = Receiver::start().await;
    post_to(&app, &r).await;
    let paid = pay_as(&app, &app.merchant, "1000", "4000000000000259").await;
    let payment = id_of(&paid);
    let before = balance(&app).await;
    assert_eq!(before.available, 965_00);

    let a = refund_partial_as(&app, app.token(), &payment, "400").await;
    let refused = a.ok().clone();
    assert_eq!(refused["status"], json!("FAIL"), "{}", a.text);
    assert_eq!(
        refused["error_message"],
        json!("Refund refused by the issuer")
    );
    assert_eq!(
        balance(&app).await,
        before,
        "the money is back in available"
    );
    assert_eq!(
        number(&payment_status(&app, &payment).await["refunded_amount"]),
        0
    );
    let id = id_of(&refused);
    let s = app.get("/api/v1/refund/status", &[("id", &id)]).await;
    assert_eq!(s.ok()["status"], json!("FAIL"));

    // The same amount may be asked for again (and is refused again).
    let again = refund_partial_as(&app, app.token(), &payment, "400").await;
    assert_eq!(again.ok()["status"], json!("FAIL"));
    assert_eq!(balance(&app).await, before);

    let got = r.wait_for("/postback", 3).await;
    let refunds: Vec<&Received> = got
        .iter()
        .filter(|p| !p.field("PaymentId").is_empty())
        .collect();
    assert_eq!(refunds.len(), 2, "{got:?}");
    assert!(refunds.iter().all(|p| p.field("Status") == "FAIL"));
    assert_ledger_ok(&app).await;
}

/// A refund takes available first, then hold; when the acquirer refuses it, each part goes
/// back where it came from, and the held part settles when its payment's money does.
#[tokio::test]
async fn a_refused_refund_puts_back_in_hold_what_it_took_from_hold() {
    let app = spawn_app_with(|s| s.money.settle_after = Duration::from_secs(3600)).await;
    // 965.00 settled, then 965.00 more waiting in hold.
    let refused = pay_as(&app, &app.merchant, "1000", "4000000000000259").await;
    app.advance_ms(HOUR_MS);
    wait_balance(&app, app.token(), |b| b.hold == 0 && b.available == 965_00).await;
    pay_as(&app, &app.merchant, "1000", CARD_OK).await;
    let before = Bal {
        available: 965_00,
        locked: 0,
        hold: 965_00,
    };
    assert_eq!(balance(&app).await, before);

    // The full 1 000.00: 965.00 from available and 35.00 from hold. Refused: both return.
    let a = refund_full_as(&app, app.token(), &id_of(&refused)).await;
    assert_eq!(a.ok()["status"], json!("FAIL"), "{}", a.text);
    assert_eq!(balance(&app).await, before, "each part back in its bucket");
    assert_ledger_ok(&app).await;

    // What waits in hold settles on time, all of it.
    app.advance_ms(HOUR_MS);
    let settled = wait_balance(&app, app.token(), |b| b.hold == 0).await;
    assert_eq!(
        settled,
        Bal {
            available: 1930_00,
            locked: 0,
            hold: 0
        }
    );
    assert_ledger_ok(&app).await;
}

/// The payment settles while its refund waits for the acquirer; the acquirer then refuses.
/// The held part goes back to hold with its payment's settlement already past, so the worker
/// settles it on its next pass: hold never holds more than waits to settle.
#[tokio::test]
async fn a_refusal_after_the_settlement_ran_returns_the_held_part_and_settles_it() {
    let app = spawn_app_with(|s| s.money.settle_after = Duration::from_secs(3600)).await;
    let paid = pay_as(&app, &app.merchant, "1000", "4000000000000259").await;
    // A refund whose asker died: 400.00 taken from hold, the acquirer not asked yet.
    let refund = crashed_refund(&app, &paid, 400_00, "Crashed002", 2 * HOUR_MS).await;
    assert_eq!(
        balance(&app).await,
        Bal {
            available: 0,
            locked: 0,
            hold: 565_00
        }
    );
    // The settlement moves what is left in hold.
    app.advance_ms(HOUR_MS);
    wait_balance(&app, app.token(), |b| b.hold == 0 && b.available == 565_00).await;
    assert_ledger_ok(&app).await;

    // The lease runs out; the worker asks, the acquirer refuses: 400.00 back to hold, and on
    // to available by the next settlement pass.
    app.advance_ms(HOUR_MS + 1);
    assert_eq!(answered(&app, refund.id.as_str()).await, json!("FAIL"));
    let settled = wait_balance(&app, app.token(), |b| b.hold == 0 && b.available == 965_00).await;
    assert_eq!(settled.locked, 0);
    assert_eq!(
        number(&payment_status(&app, &id_of(&paid)).await["refunded_amount"]),
        0
    );
    assert_ledger_ok(&app).await;
}

/// A refund whose money was taken but whose creator died before the acquirer answered stays
/// in PROCESS until its lease runs out; then the worker asks the acquirer and completes it.
#[tokio::test]
async fn a_refund_left_in_process_is_completed_by_the_worker() {
    let app = spawn_app().await;
    let paid = pay_as(&app, &app.merchant, "1000", CARD_OK).await;
    let refund = crashed_refund(&app, &paid, 100_00, "Crashed001", 60_000).await;
    let status = || async {
        app.get("/api/v1/refund/status", &[("id", refund.id.as_str())])
            .await
            .ok()["status"]
            .clone()
    };
    assert_eq!(status().await, json!("PROCESS"));
    assert_eq!(
        balance(&app).await.available,
        865_00,
        "taken while in PROCESS"
    );
    // Within its lease nobody else asks.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(status().await, json!("PROCESS"));
    app.advance_ms(60_001);
    assert_eq!(answered(&app, refund.id.as_str()).await, json!("SUCCESS"));
    assert_eq!(balance(&app).await.available, 865_00);
    assert_ledger_ok(&app).await;
}

#[tokio::test]
async fn refunds_that_cannot_be_made_are_refused() {
    let app = spawn_app().await;
    let paid = pay_as(&app, &app.merchant, "1000", CARD_OK).await;
    let payment = id_of(&paid);
    let token = app.token();
    // The balance (965) cannot cover a refund of the whole payment.
    refund_full_as(&app, token, &payment)
        .await
        .error(400, "api:error.balance_not_enough");
    // More than was paid.
    refund_partial_as(&app, token, &payment, "1000.01")
        .await
        .error(403, "api:error.invalid_amount");
    refund_partial_as(&app, token, &payment, "0")
        .await
        .error(403, "api:error.invalid_amount");
    refund_partial_as(&app, token, &payment, "1.001")
        .await
        .error(403, "api:error.invalid_amount");
    // A payment that failed brought nothing to refund.
    let failed = pay_as(&app, &app.merchant, "100", CARD_DECLINED).await;
    assert_eq!(failed["status"], json!("FAIL"));
    refund_full_as(&app, token, &id_of(&failed))
        .await
        .error(400, "api:error.transaction_rejected");
    refund_partial_as(&app, token, &id_of(&failed), "10")
        .await
        .error(400, "api:error.transaction_rejected");
    // Validation and unknown payments.
    app.post(
        "/api/v1/refund/partial/create",
        json!({"payment_id": payment}),
    )
    .await
    .invalid("amount");
    app.post("/api/v1/refund/full/create", json!({}))
        .await
        .invalid("payment_id");
    refund_full_as(&app, token, "NoSuchOne1")
        .await
        .error(422, "api:error.payment_not_found");

    assert_eq!(
        number(&payment_status(&app, &payment).await["refunded_amount"]),
        0
    );
    assert_eq!(balance(&app).await.available, 965_00);
    // What the balance covers is refunded.
    refund_partial_as(&app, token, &payment, "965").await.ok();
    assert_eq!(balance(&app).await, Bal::default());
    assert_ledger_ok(&app).await;
}

// ---------------------------------------------------------------------------------------------
// Conversion into the balance currency

#[tokio::test]
async fn a_foreign_currency_payment_lands_converted_in_the_balance_currency() {
    let app = spawn_app().await;
    merchants::update_shop(
        &app.store,
        app.shop(),
        ShopChanges {
            balance_currency: Some(Currency::Rub),
            ..ShopChanges::default()
        },
        true,
    )
    .await
    .unwrap();
    let usd = json!({"amount": "10", "currency_in": "USD", "shop_id": app.shop()});
    app.create_bill_as(app.token(), usd.clone())
        .await
        .error(403, "api:error.rate-not-found");

    app.store
        .apply(Plan::one(Write::SetFxRate {
            base: Currency::Usd,
            quote: Currency::Rub,
            rate: FxRate::parse("92.5").unwrap(),
            now: app.now(),
        }))
        .await
        .unwrap();
    let bill = app.bill(usd).await;
    let paid = app.pay_card(&bill, CARD_OK).await.ok().clone();
    let payment = id_of(&paid);
    let p = payment_status(&app, &payment).await;
    assert_eq!(p["currency_in"], json!("USD"));
    assert_eq!(number(&p["amount"]), 10_00);
    // 10 USD less 3.5% is 9.65 USD, at 92.5 RUB: 892.625, rounded half up.
    assert_eq!(number(&p["amount_received"]), 9_65);
    assert_eq!(number(&p["account_amount"]), 892_63);
    assert_eq!(p["account_currency_code"], json!("RUB"));

    let a = app.get("/api/v1/merchant/balance", &[]).await;
    let balances = a.json["balances"].as_array().unwrap();
    assert_eq!(balances.len(), 1, "only a RUB balance: {}", a.text);
    assert_eq!(balances[0]["currency"], json!("RUB"));
    assert_eq!(balances[0]["balance_available"], json!("892.63"));

    // A refund converts back at the payment's rate: 5 USD is 462.50 RUB.
    let r = refund_partial_as(&app, app.token(), &payment, "5").await;
    let r = r.ok();
    assert_eq!(r["currency"], json!("USD"));
    assert_eq!(number(&r["amount"]), 5_00);
    assert_eq!(r["account_currency"], json!("RUB"));
    assert_eq!(number(&r["account_amount"]), 462_50);
    assert_eq!(balance(&app).await.available, 430_13);

    // No EUR rate: still refused.
    app.create_bill_as(
        app.token(),
        json!({"amount": "10", "currency_in": "EUR", "shop_id": app.shop()}),
    )
    .await
    .error(403, "api:error.rate-not-found");
    assert_ledger_ok(&app).await;
}

// ---------------------------------------------------------------------------------------------
// Settlement

#[tokio::test]
async fn received_money_waits_in_hold_until_it_settles() {
    let app = spawn_app_with(|s| s.money.settle_after = Duration::from_secs(3600)).await;
    set_profile(&app, &app.merchant.merchant_id, open_profile()).await;
    let paid = pay_as(&app, &app.merchant, "1000", CARD_OK).await;
    assert_eq!(
        balance(&app).await,
        Bal {
            available: 0,
            locked: 0,
            hold: 965_00
        }
    );
    // Held money is not paid out, but a refund may take it.
    regular(&app, card("100", CARD_OK))
        .await
        .error(400, "api:error.balance_not_enough");
    refund_partial_as(&app, app.token(), &id_of(&paid), "100")
        .await
        .ok();
    assert_eq!(balance(&app).await.hold, 865_00);
    assert_ledger_ok(&app).await;

    // Not due a minute early; due after the hour.
    app.advance_ms(HOUR_MS - 60_000);
    assert_eq!(balance(&app).await.hold, 865_00);
    app.advance_ms(60_000);
    let settled = wait_balance(&app, app.token(), |b| b.hold == 0).await;
    assert_eq!(
        settled,
        Bal {
            available: 865_00,
            locked: 0,
            hold: 0
        }
    );
    let p = created(&regular(&app, card("100", CARD_OK)).await).remove(0);
    assert_eq!(
        wait_payout(&app, app.token(), &id_of(&p)).await["status"],
        json!("SUCCESS")
    );
    assert_eq!(balance(&app).await.available, 865_00 - 152_00);
    assert_ledger_ok(&app).await;
}

// ---------------------------------------------------------------------------------------------
// Races through real HTTP

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_payouts_never_spend_more_than_the_balance() {
    let app = spawn_app_with(|s| {
        s.money.payouts.moderation_threshold = i64::MAX;
        s.money.payouts.daily_limit = None;
        s.money.payouts.monthly_limit = None;
    })
    .await;
    set_profile(&app, &app.merchant.merchant_id, open_profile()).await;
    fund(&app, "40000").await;
    let b = balance(&app).await.available;
    assert_eq!(b, 38_600_00);
    let each = 1000_00 + 70_00;
    let expected = (b / each) as usize;

    let answers = all_at_once(&app, 256, "/api/v1/payout/regular/create", |i| {
        with_order(card("1000", CARD_OK), &format!("race-{i}"))
    })
    .await;
    let mut accepted = Vec::new();
    for a in &answers {
        match a.status {
            200 => accepted.extend(created(a)),
            _ => a.error(400, "api:error.balance_not_enough"),
        }
    }
    assert_eq!(
        accepted.len(),
        expected,
        "exactly floor(B / (X + fee)) accepted"
    );
    for p in &accepted {
        let done = wait_payout(&app, app.token(), &id_of(p)).await;
        assert_eq!(done["status"], json!("SUCCESS"), "{done}");
    }
    assert_eq!(
        balance(&app).await,
        Bal {
            available: b - expected as i64 * each,
            locked: 0,
            hold: 0
        }
    );
    let listed = app
        .get("/api/v1/payout/search", &[("per_page", "500")])
        .await;
    assert_eq!(listed.ok()["data"].as_array().unwrap().len(), expected);
    assert_ledger_ok(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_payouts_never_pass_the_daily_limit() {
    let app = spawn_app().await;
    set_profile(
        &app,
        &app.merchant.merchant_id,
        PayoutProfile {
            daily_limit: Some(20_000_00),
            ..open_profile()
        },
    )
    .await;
    fund(&app, "40000").await; // room for 36 payouts of 1000, the limit allows 20
    let answers = all_at_once(&app, 256, "/api/v1/payout/regular/create", |_| {
        card("1000", CARD_OK)
    })
    .await;
    let mut accepted = 0;
    for a in &answers {
        match a.status {
            200 => accepted += created(a).len(),
            _ => a.error(400, "api:error.daily_payout_limit_exceeded"),
        }
    }
    assert_eq!(accepted, 20);
    let b = wait_balance(&app, app.token(), |b| b.locked == 0).await;
    assert_eq!(b.available, 38_600_00 - 20 * 1070_00);
    assert_ledger_ok(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_partial_refunds_never_refund_more_than_the_payment() {
    let app = spawn_app().await;
    let paid = pay_as(&app, &app.merchant, "1000", CARD_OK).await;
    let payment = id_of(&paid);
    // Plenty of balance: the refunds are limited by the payment alone.
    fund(&app, "100000").await;
    let before = balance(&app).await.available;
    let (a, r) = (1000_00, 7_00);
    let expected = (a / r) as usize; // 142

    let answers = all_at_once(
        &app,
        256,
        "/api/v1/refund/partial/create",
        |_| json!({"payment_id": payment, "amount": "7.00"}),
    )
    .await;
    let mut accepted = 0;
    for ans in &answers {
        match ans.status {
            200 => {
                let refund = ans.ok();
                assert_eq!(number(&refund["amount"]), r);
                accepted += 1;
            }
            _ => ans.error(403, "api:error.invalid_amount"),
        }
    }
    assert_eq!(accepted, expected, "exactly floor(A / R) accepted");
    let p = payment_status(&app, &payment).await;
    assert_eq!(number(&p["refunded_amount"]), expected as i64 * r);
    let listed = app
        .get(
            "/api/v1/refund/search",
            &[("payment_id", &payment), ("per_page", "500")],
        )
        .await;
    assert_eq!(listed.ok()["data"].as_array().unwrap().len(), expected);
    assert_eq!(balance(&app).await.available, before - expected as i64 * r);
    assert_ledger_ok(&app).await;

    // What remains (6.00) goes to exactly one of many full refunds.
    let answers = all_at_once(
        &app,
        32,
        "/api/v1/refund/full/create",
        |_| json!({"payment_id": payment}),
    )
    .await;
    let winners: Vec<&Answer> = answers.iter().filter(|a| a.status == 200).collect();
    assert_eq!(winners.len(), 1);
    assert_eq!(number(&winners[0].json["amount"]), 6_00);
    for a in answers.iter().filter(|a| a.status != 200) {
        a.error(403, "api:error.invalid_amount");
    }
    let p = payment_status(&app, &payment).await;
    assert_eq!(number(&p["refunded_amount"]), 1000_00);
    assert_ledger_ok(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payouts_and_refunds_racing_for_one_balance_never_overdraw_it() {
    let app = spawn_app().await;
    set_profile(&app, &app.merchant.merchant_id, open_profile()).await;
    let paid = pay_as(&app, &app.merchant, "1000", CARD_OK).await;
    let payment = id_of(&paid);
    fund(&app, "4000").await;
    let b = balance(&app).await.available;
    assert_eq!(b, 4825_00);
    let (payout_each, refund_each) = (100_00 + 52_00, 10_00);

    let url_payout = app.url("/api/v1/payout/regular/create");
    let url_refund = app.url("/api/v1/refund/partial/create");
    let tasks: Vec<_> = (0..256)
        .map(|i| {
            let http = app.http.clone();
            let token = app.token().to_string();
            let (url, body) = if i % 2 == 0 {
                (url_payout.clone(), card("100", CARD_OK))
            } else {
                (
                    url_refund.clone(),
                    json!({"payment_id": payment, "amount": "10"}),
                )
            };
            tokio::spawn(async move {
                let response = http
                    .post(url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .expect("the server answers");
                (i % 2 == 0, answer(response).await)
            })
        })
        .collect();
    let (mut payouts_ok, mut refunds_ok) = (0i64, 0i64);
    let (mut payout_refused, mut refund_refused_for_balance) = (false, false);
    for t in tasks {
        let (is_payout, a) = t.await.expect("the request task");
        match (is_payout, a.status) {
            (true, 200) => payouts_ok += created(&a).len() as i64,
            (false, 200) => refunds_ok += 1,
            (true, _) => {
                a.error(400, "api:error.balance_not_enough");
                payout_refused = true;
            }
            (false, 400) => {
                a.error(400, "api:error.balance_not_enough");
                refund_refused_for_balance = true;
            }
            (false, _) => a.error(403, "api:error.invalid_amount"),
        }
    }
    let spent = payouts_ok * payout_each + refunds_ok * refund_each;
    assert!(spent <= b, "spent {spent} of {b}");
    let left = b - spent;
    // A balance only shrinks here, so whatever was refused for want of money still cannot be
    // afforded from what is left.
    if payout_refused {
        assert!(left < payout_each, "{left} left, yet a payout was refused");
    }
    if refund_refused_for_balance {
        assert!(left < refund_each, "{left} left, yet a refund was refused");
    }
    assert!(refunds_ok <= 100);
    let settled = wait_balance(&app, app.token(), |x| x.locked == 0).await;
    assert_eq!(settled.available, left);
    let p = payment_status(&app, &payment).await;
    assert_eq!(number(&p["refunded_amount"]), refunds_ok * refund_each);
    assert_ledger_ok(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_order_id_sent_many_times_at_once_makes_one_payout() {
    let app = spawn_app().await;
    set_profile(&app, &app.merchant.merchant_id, open_profile()).await;
    fund(&app, "100000").await;
    let b = balance(&app).await.available;
    let answers = all_at_once(&app, 64, "/api/v1/payout/regular/create", |_| {
        with_order(card("1000", CARD_OK), "same-order")
    })
    .await;
    let mut accepted = Vec::new();
    for a in &answers {
        match a.status {
            200 => accepted.extend(created(a)),
            _ => a.invalid("order_id"),
        }
    }
    assert_eq!(accepted.len(), 1);
    let done = wait_payout(&app, app.token(), &id_of(&accepted[0])).await;
    assert_eq!(done["status"], json!("SUCCESS"));
    assert_eq!(balance(&app).await.available, b - 1070_00);
    assert_ledger_ok(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payout_canceled_many_times_at_once_gives_its_money_back_once() {
    let app = spawn_app().await;
    set_profile(
        &app,
        &app.merchant.merchant_id,
        PayoutProfile {
            moderation: true,
            ..open_profile()
        },
    )
    .await;
    fund(&app, "5000").await;
    let p = created(&regular(&app, card("1000", CARD_OK)).await).remove(0);
    let id = id_of(&p);
    let answers = all_at_once(&app, 64, "/api/v1/payout/cancel", |_| json!({"id": id})).await;
    let mut declined = 0;
    for a in &answers {
        match a.status {
            200 => {
                assert_eq!(a.ok()["status"], json!("DECLINED"));
                declined += 1;
            }
            _ => a.error(400, "api:error.transaction_rejected"),
        }
    }
    assert_eq!(declined, 1);
    assert_eq!(
        balance(&app).await,
        Bal {
            available: 4825_00,
            locked: 0,
            hold: 0
        }
    );
    assert_ledger_ok(&app).await;
}

/// The check the other tests rely on does find money that moved without its postings.
#[tokio::test]
async fn the_ledger_check_finds_money_moved_without_its_postings() {
    use paylink_core::payout::PayoutStatus;
    let app = spawn_app_with(|s| s.money.settle_after = Duration::from_secs(3600)).await;
    set_profile(
        &app,
        &app.merchant.merchant_id,
        PayoutProfile {
            moderation: true,
            ..open_profile()
        },
    )
    .await;
    // One payment settled, one still held.
    pay_as(&app, &app.merchant, "1000", CARD_OK).await;
    app.advance_ms(HOUR_MS);
    wait_balance(&app, app.token(), |b| b.hold == 0).await;
    let paid = pay_as(&app, &app.merchant, "1000", CARD_OK).await;
    let p = created(&regular(&app, card("100", CARD_OK)).await).remove(0);
    assert_ledger_ok(&app).await;

    // A payout declined without releasing its lock, a refund counted without being made, and
    // a settlement marked without moving the hold.
    app.store
        .apply(Plan::one(Write::MovePayout {
            id: PayoutId::from_trusted(id_of(&p)),
            from: &[PayoutStatus::Moderating],
            to: PayoutStatus::Declined,
            error_message: None,
            process_at: None,
            now: app.now(),
        }))
        .await
        .unwrap();
    app.store
        .apply(Plan::one(Write::AddRefunded {
            payment_id: PaymentId::from_trusted(id_of(&paid)),
            amount: 1_00,
            now: app.now(),
        }))
        .await
        .unwrap();
    app.store
        .apply(Plan::one(Write::MarkSettled {
            id: id_of(&paid),
            now: app.now(),
        }))
        .await
        .unwrap();
    let report = app
        .store
        .ledger_check()
        .await
        .expect("the ledger check runs");
    let problems = report.problems.join("\n");
    assert_eq!(report.problems.len(), 3, "{problems}");
    assert!(
        problems.contains("locked 15200 but payouts in flight hold 0"),
        "{problems}"
    );
    assert!(
        problems.contains("refunded_amount 100 but its refunds total 0"),
        "{problems}"
    );
    assert!(
        problems.contains("hold 96500 exceeds the 0 waiting to settle"),
        "{problems}"
    );
}
