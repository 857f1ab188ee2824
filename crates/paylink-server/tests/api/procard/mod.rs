//! The Procard permanent-links dialect through real HTTP: credentials, the signed
//! `/permanent-links/...` API with JSON and form bodies, its refusals, link payments through the
//! sandbox (operations, money, the page's collected amount, callbacks) and payments at once.
//! Requests are signed with the SDK's signer, as a merchant's client signs them.

mod callbacks;
mod credentials;
mod links;
mod p2p;
mod payments;
mod refusals;

use crate::harness::*;
use paylink_sdk::procard::sign;
use paylink_server::ops::merchants::Onboarded;
use paylink_server::ops::permanent_links;
use serde_json::{json, Value};

/// The Procard login the seed's examples use.
pub const LOGIN: &str = "TEST_TRADER_2";
/// A 3-D Secure card of the sandbox: challenged, then confirmed unless `three_ds=fail`.
pub const CARD_THREE_DS: &str = "4000000000003220";

/// A merchant's Procard credentials, as `paylink procard enable` prints them.
#[derive(Debug, Clone)]
pub struct Creds {
    pub login: String,
    pub key: String,
}

/// Turns on Procard access for `who` under `login`.
pub async fn enable_as(app: &TestApp, who: &Onboarded, login: &str) -> Creds {
    let c = permanent_links::enable(
        &app.store,
        &app.keys,
        who.merchant_id.as_str(),
        Some(login.into()),
        None,
        None,
        true,
        app.now(),
    )
    .await
    .expect("Procard access is enabled");
    assert_eq!(c.login, login);
    Creds {
        login: c.login,
        key: c.secret_key.expose().clone(),
    }
}

/// The default merchant's access as `TEST_TRADER_2`.
pub async fn enable(app: &TestApp) -> Creds {
    enable_as(app, &app.merchant, LOGIN).await
}

/// How a request travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    Json,
    Form,
}

/// A field's text as a client signs and sends it (JSON numbers keep their text).
fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The fields the seed signs for `path`, in order.
fn signed_fields(path: &str) -> &'static [&'static str] {
    match path {
        "/permanent-links/list" => &["merchant_id"],
        "/permanent-links/create" => &["merchant_id", "operation", "amount", "language"],
        "/permanent-links/update" => &["merchant_id", "id", "amount", "language"],
        "/permanent-links/operations" => &["merchant_id", "id"],
        other => panic!("not a Procard route: {other}"),
    }
}

/// The signature of `fields` for `path` under `key` (absent fields sign as empty text; paylink's
/// own `callback_url` is signed last whenever it is sent, empty too).
pub fn signature(key: &str, path: &str, fields: &Value) -> String {
    let mut values: Vec<String> = signed_fields(path)
        .iter()
        .map(|f| text(&fields[*f]))
        .collect();
    let sent = !fields["callback_url"].is_null();
    if (path.ends_with("/create") || path.ends_with("/update")) && sent {
        values.push(text(&fields["callback_url"]));
    }
    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
    sign(key, &refs)
}

/// `POST path` with `fields` as they are (no signature added).
pub async fn send(app: &TestApp, path: &str, fields: &Value, wire: Wire) -> Answer {
    let body = match wire {
        Wire::Json => Body::Json(fields.clone()),
        Wire::Form => Body::Form(
            fields
                .as_object()
                .expect("fields are an object")
                .iter()
                .map(|(k, v)| (k.clone(), text(v)))
                .collect(),
        ),
    };
    app.send(reqwest::Method::POST, path, None, body).await
}

impl Creds {
    /// `fields` with this merchant's `merchant_id` and a signature for `path`.
    pub fn signed(&self, path: &str, fields: Value) -> Value {
        let mut fields = fields;
        fields["merchant_id"] = json!(self.login);
        fields["signature"] = json!(signature(&self.key, path, &fields));
        fields
    }

    /// A signed request to `path`.
    pub async fn call(&self, app: &TestApp, path: &str, fields: Value, wire: Wire) -> Answer {
        send(app, path, &self.signed(path, fields), wire).await
    }

    /// Every link, as `list` answers them.
    pub async fn list(&self, app: &TestApp) -> Vec<Value> {
        let a = self
            .call(app, "/permanent-links/list", json!({}), Wire::Json)
            .await;
        accepted(&a)["permanent_links"]
            .as_array()
            .expect("a permanent_links array")
            .clone()
    }

    /// The link `id` as `list` shows it.
    pub async fn link(&self, app: &TestApp, id: &str) -> Value {
        self.list(app)
            .await
            .into_iter()
            .find(|l| l["id"] == json!(id))
            .unwrap_or_else(|| panic!("link {id} is not listed"))
    }

    /// Creates a link with `fields` (over a fixed 100.00 Purchase link in Ukrainian); its id.
    pub async fn create(&self, app: &TestApp, fields: Value) -> String {
        let mut body = json!({
            "name": "Donation",
            "description": "For the shelter",
            "operation": "Purchase",
            "amount": "100.00",
            "language": "ukr",
        });
        for (k, v) in fields.as_object().expect("fields are an object") {
            body[k] = v.clone();
        }
        let a = self
            .call(app, "/permanent-links/create", body, Wire::Json)
            .await;
        accepted(&a)["id"].as_str().expect("an id").to_string()
    }

    /// `operations` of link `id` with extra `fields` (paging).
    pub async fn operations(&self, app: &TestApp, id: &str, fields: Value) -> Value {
        let mut body = fields;
        body["id"] = json!(id);
        let a = self
            .call(app, "/permanent-links/operations", body, Wire::Json)
            .await;
        accepted(&a).clone()
    }
}

/// A Procard success: HTTP 200, JSON, `result` the integer 0.
#[track_caller]
pub fn accepted(a: &Answer) -> &Value {
    assert_eq!(a.status, 200, "{}", a.text);
    assert_json(a);
    assert_raw(&a.text, "result", "0");
    &a.json
}

/// A Procard refusal: HTTP 200 (clients read the body), `code` exactly `code`, a message, and
/// nothing else in the body.
#[track_caller]
pub fn refused(a: &Answer, code: i64) -> &Value {
    assert_eq!(a.status, 200, "{}", a.text);
    assert_json(a);
    assert_eq!(a.json["code"], json!(code), "{}", a.text);
    let message = &a.json["message"];
    assert!(
        message.as_str().is_some_and(|m| !m.is_empty())
            || message
                .as_array()
                .is_some_and(|m| !m.is_empty() && m.iter().all(Value::is_string)),
        "{}",
        a.text
    );
    assert!(a.json.get("result").is_none(), "{}", a.text);
    &a.json["message"]
}

/// A sandbox payment of link `id` (the payer's side, no merchant auth).
pub async fn pay(app: &TestApp, fields: Value) -> Answer {
    send(app, "/sandbox/permanent-links/pay", &fields, Wire::Json).await
}

/// A sandbox payment that must go through as `status`: the operation.
pub async fn pay_ok(app: &TestApp, id: &str, amount: &str, quantity: i64, card: &str) -> Value {
    let a = pay(
        app,
        json!({"id": id, "amount": amount, "quantity": quantity, "card_number": card}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_json(&a);
    assert!(a.json.get("code").is_none(), "refused: {}", a.text);
    a.json.clone()
}
