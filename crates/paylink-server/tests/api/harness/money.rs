//! Money on the test app: the balance as `merchant/balance` shows it, funding by paid bills,
//! payout profiles and payout requests, refunds, and the ledger check every money test ends
//! with. Amounts in minor units are written `rubles_kopecks`: `1070_00` is 1 070.00 RUB.
#![allow(clippy::inconsistent_digit_grouping)]

use super::CARD_OK;
use super::{answer, assert_json, assert_raw, is_base62_id, patience, Answer, Body, TestApp};
use paylink_core::id::MerchantId;
use paylink_core::payout::PayoutProfile;
use paylink_core::plan::{Plan, Write};
use paylink_server::ops::merchants::Onboarded;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

pub const HOUR_MS: i64 = 3_600_000;
/// Sandbox payout outcomes by the payee's last four digits.
pub const PAYEE_FAIL: &str = "4000000000000002";
pub const PAYEE_ERROR: &str = "4000000000000119";
/// The provider's answer to the first ask never arrives; asked again, it is paid.
pub const PAYEE_UNANSWERED: &str = "4000000000000408";
/// Seeded in the SBP banks dictionary.
pub const SBERBANK: i64 = 100_000_000_111;

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
pub fn number(v: &Value) -> i64 {
    assert!(v.is_number(), "not a JSON number: {v}");
    minor(&v.to_string())
}

/// A balance field: a decimal string with exactly two decimals, in minor units.
#[track_caller]
pub fn fixed(v: &Value) -> i64 {
    let text = v.as_str().unwrap_or_else(|| panic!("not a string: {v}"));
    let (_, frac) = text.split_once('.').unwrap_or((text, ""));
    assert_eq!(frac.len(), 2, "not two decimals: {text}");
    minor(text)
}

/// A merchant's RUB balance, in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bal {
    pub available: i64,
    pub locked: i64,
    pub hold: i64,
}

/// Regular payouts allowed, no moderation, the server's limits.
pub fn open_profile() -> PayoutProfile {
    PayoutProfile {
        regular_payouts: true,
        ..PayoutProfile::default()
    }
}

/// A `payout/regular/create` body paying `amount` RUB to the card `number`.
pub fn card(amount: &str, number: &str) -> Value {
    json!({
        "amount": amount,
        "currency": "RUB",
        "account_type": "credit_card",
        "account_identifier": number,
        "card_holder": "Ivan Petrov",
    })
}

/// A `payout/regular/create` body paying `amount` RUB by SBP to `phone` at `bank`.
pub fn sbp(amount: &str, phone: &str, bank: Value) -> Value {
    json!({
        "amount": amount,
        "currency": "RUB",
        "account_type": "sbp",
        "account_identifier": phone,
        "account_bank": bank,
    })
}

pub fn with_order(mut body: Value, order_id: &str) -> Value {
    body["order_id"] = json!(order_id);
    body
}

/// A payout object with every compat field (item 14) and no `error_message`.
#[track_caller]
pub fn assert_payout_object(p: &Value) {
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
pub fn created(a: &Answer) -> Vec<Value> {
    let body = a.ok();
    assert_raw(&a.text, "success", "true");
    let data = body["data"].as_array().expect("a data array").clone();
    assert!(!data.is_empty(), "{}", a.text);
    data.iter().for_each(assert_payout_object);
    data
}

#[track_caller]
pub fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

impl TestApp {
    /// The ledger re-derived from its postings agrees with every cached balance and payout.
    pub async fn assert_ledger_ok(&self) {
        let report = self
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

    /// `merchant/balance` of `token`'s merchant in RUB, its wire shape checked on the way.
    pub async fn balance_of(&self, token: &str) -> Bal {
        let a = self.get_as(token, "/api/v1/merchant/balance", &[]).await;
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

    /// The default merchant's balance.
    pub async fn balance(&self) -> Bal {
        self.balance_of(self.token()).await
    }

    /// Polls the balance (bounded) until `ok` holds; the worker moves money on its own time.
    pub async fn wait_balance(&self, token: &str, ok: impl Fn(Bal) -> bool) -> Bal {
        let mut last = Bal::default();
        for _ in patience() {
            last = self.balance_of(token).await;
            if ok(last) {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the balance never got there: {last:?}");
    }

    /// A bill of `amount` in `who`'s shop, paid by `card` through the sandbox: the payment.
    pub async fn pay_as(&self, who: &Onboarded, amount: &str, card: &str) -> Value {
        let a = self
            .create_bill_as(
                &who.api_token,
                json!({"amount": amount, "shop_id": who.shop_id.as_str()}),
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.text);
        let bill = a.json["bill_id"].as_str().expect("a bill id");
        self.send(
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
    pub async fn fund_as(&self, who: &Onboarded, amount: &str) -> i64 {
        let p = self.pay_as(who, amount, CARD_OK).await;
        assert_eq!(p["status"], json!("SUCCESS"));
        number(&p["amount_received"])
    }

    /// As [`TestApp::fund_as`], for the default merchant.
    pub async fn fund(&self, amount: &str) -> i64 {
        self.fund_as(&self.merchant, amount).await
    }

    pub async fn set_profile(&self, merchant: &MerchantId, profile: PayoutProfile) {
        self.store
            .apply(Plan::one(Write::SetPayoutProfile {
                merchant_id: merchant.clone(),
                profile,
            }))
            .await
            .expect("the payout profile is set");
    }

    /// `payout/regular/create` as `token`.
    pub async fn regular_payout_as(&self, token: &str, body: Value) -> Answer {
        self.send(
            Method::POST,
            "/api/v1/payout/regular/create",
            Some(token),
            Body::Json(body),
        )
        .await
    }

    /// `payout/regular/create` as the default merchant.
    pub async fn regular_payout(&self, body: Value) -> Answer {
        self.regular_payout_as(self.token(), body).await
    }

    /// Polls `payout/status` (bounded) until the payout is final; returns it.
    pub async fn wait_payout(&self, token: &str, id: &str) -> Value {
        let mut last = Value::Null;
        for _ in patience() {
            let a = self
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

    pub async fn refund_partial_as(&self, token: &str, payment: &str, amount: &str) -> Answer {
        self.send(
            Method::POST,
            "/api/v1/refund/partial/create",
            Some(token),
            Body::Json(json!({"payment_id": payment, "amount": amount})),
        )
        .await
    }

    pub async fn refund_full_as(&self, token: &str, payment: &str) -> Answer {
        self.send(
            Method::POST,
            "/api/v1/refund/full/create",
            Some(token),
            Body::Json(json!({"payment_id": payment})),
        )
        .await
    }

    /// The status of refund `id` once it has left PROCESS (polled, bounded: the worker
    /// answers on its own time).
    pub async fn refund_answered(&self, id: &str) -> Value {
        let mut last = Value::Null;
        for _ in patience() {
            last = self.get("/api/v1/refund/status", &[("id", id)]).await.ok()["status"].clone();
            if last != json!("PROCESS") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        last
    }

    /// `payment/status` with its refunds.
    pub async fn payment_status(&self, id: &str) -> Value {
        self.get("/api/v1/payment/status", &[("id", id), ("refunds", "1")])
            .await
            .ok()
            .clone()
    }

    /// Runs `n` copies of one POST at once as the default merchant, each on its own task; the
    /// answers.
    pub async fn all_at_once(
        &self,
        n: usize,
        path: &str,
        body: impl Fn(usize) -> Value,
    ) -> Vec<Answer> {
        let url = self.url(path);
        let tasks: Vec<_> = (0..n)
            .map(|i| {
                let http = self.http.clone();
                let url = url.clone();
                let token = self.token().to_string();
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
}
