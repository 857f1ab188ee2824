//! The Card API v5 through real HTTP, signed by the SDK's client as a partner's client signs:
//! authentication, request ids, every method's answers and refusals, card money under
//! concurrency, gift cards with their SMS codes, and the one-time card data page. Every answer
//! a [`Partner`] receives is checked for a card number (a run of 13 or more digits).

mod auth;
mod cards;
mod gift;
mod money;
mod refusals;
mod requests;

use crate::harness::*;
use paylink_core::money::{Amount, Currency};
use paylink_sdk::cardapi::{new_request_id, Answer, CardApiClient};
use paylink_server::ops::issuing::{self, IssuingSettings};
use serde_json::{json, Value};

/// A partner's credentials and its signed client.
pub struct Partner {
    pub auth_id: String,
    pub key: String,
    pub client: CardApiClient,
}

/// A new partner of `app` (the CLI's `partner create`), its prepaid balance funded with
/// `funds` KZT (major units; none when 0).
pub async fn partner(app: &TestApp, funds: i64) -> Partner {
    let c = issuing::create_partner(
        &app.store,
        &app.keys,
        &paylink_core::audit::Actor::cli("test"),
        "Test partner",
        IssuingSettings::default(),
        app.now(),
    )
    .await
    .expect("a partner is created");
    let p = Partner {
        auth_id: c.auth_id.clone(),
        key: c.secret_key.expose().clone(),
        client: CardApiClient::new(&app.address, &c.auth_id, c.secret_key.expose()),
    };
    if funds > 0 {
        fund(app, &p, funds * 100, Currency::Kzt).await;
    }
    p
}

/// Books `minor` into the partner's prepaid balance (the CLI's `partner fund`).
pub async fn fund(app: &TestApp, p: &Partner, minor: i64, currency: Currency) {
    issuing::fund_partner(
        &app.store,
        &paylink_core::audit::Actor::cli("test"),
        &p.auth_id,
        Amount::from_minor(minor).unwrap(),
        currency,
        app.now(),
    )
    .await
    .expect("the partner is funded");
}

/// No card number in `text`: no run of 13 or more digits.
pub fn assert_no_pan(text: &str) {
    let mut run = 0;
    for c in text.chars() {
        run = if c.is_ascii_digit() { run + 1 } else { 0 };
        assert!(run < 13, "a card number in an answer: {text}");
    }
}

impl Partner {
    /// `body` (with a fresh `request_id` unless it has one) to `/v5/<path>`; the answer, checked
    /// for card numbers.
    pub async fn call(&self, path: &str, mut body: Value) -> Answer {
        if body.get("request_id").is_none() {
            body["request_id"] = json!(new_request_id());
        }
        let a = self
            .client
            .call(&format!("/v5/{path}"), &body)
            .await
            .expect("the server answers JSON");
        assert_no_pan(&a.body.to_string());
        a
    }

    /// [`Partner::call`] that must succeed; its body.
    pub async fn ok(&self, path: &str, body: Value) -> Value {
        let a = self.call(path, body).await;
        assert!(a.is_ok(), "{path} failed: {} {}", a.http_status, a.body);
        a.body
    }

    /// [`Partner::call`] that must be refused (HTTP 200, `status: "error"` or non-zero) with
    /// `code`.
    pub async fn refused(&self, path: &str, body: Value, code: &str) -> Value {
        let a = self.call(path, body).await;
        assert_eq!(a.http_status, 200, "{path}: {}", a.body);
        assert_eq!(a.error_code(), Some(code), "{path}: {}", a.body);
        a.body
    }

    /// A client (an individual resident) of product 1000 named `first last` with `phone`.
    pub async fn client(&self, first: &str, last: &str, phone: &str) -> String {
        self.client_of(1000, first, last, phone).await
    }

    /// [`Partner::client`] of `product_id`.
    pub async fn client_of(&self, product_id: u32, first: &str, last: &str, phone: &str) -> String {
        let b = self
            .ok(
                "card-api/client/add",
                json!({"product_id": product_id, "client": {
                    "phone": phone, "type": 1, "resident": 1,
                    "first_name": first, "last_name": last,
                }}),
            )
            .await;
        b["client_id"].as_str().unwrap().to_string()
    }

    /// An active virtual card in `currency` for a new client.
    pub async fn card(&self, currency: &str) -> String {
        let client = self.client("Ivan", "Petrov", "77011234567").await;
        let b = self
            .ok(
                "card-api/card/issue",
                json!({"product_id": 1000, "client_id": client, "currency": currency}),
            )
            .await;
        b["card_id"].as_str().unwrap().to_string()
    }

    /// A card funded with `amount` (major units, a decimal string) from the prepaid balance.
    pub async fn funded_card(&self, amount: &str) -> String {
        let card = self.card("KZT").await;
        self.ok(
            "card-api/transaction/create",
            json!({"card_id": card, "type": "credit", "amount": amount, "currency": "KZT",
                   "description": "top-up"}),
        )
        .await;
        card
    }

    /// `card/balance`: (balance, hold, available) as the API shows them.
    pub async fn balance(&self, card: &str) -> (String, String, String) {
        let b = self
            .ok("card-api/card/balance", json!({"card_id": card}))
            .await;
        let s = |k: &str| b[k].as_str().unwrap().to_string();
        (s("balance"), s("hold"), s("available"))
    }
}
