//! `spawn_app()`: a real server on port 0 over a fresh database (a temp SQLite file, or a new
//! PostgreSQL database when `PAYLINK_TEST_DATABASE_URL` is set), a hand-driven clock, and one
//! onboarded merchant. Helpers speak raw HTTP so tests can check the wire itself.

use paylink_sdk::CardlinkClient;
use paylink_server::keys::{InstanceKeys, KeyFile, KeySource};
use paylink_server::ops::merchants::{self, Onboarded};
use paylink_server::{Application, ManualClock, Panics, Settings};
use paylink_store::testing::TestDatabase;
use paylink_store::Store;
use serde_json::{json, Value};
use std::sync::Arc;

mod money;
pub use money::*;

/// How long a test waits for something the server does on its own time (a worker, a
/// dispatcher): generous, since CI machines are small and loaded. A test that gets there
/// sooner moves on at once.
pub const PATIENCE: std::time::Duration = std::time::Duration::from_secs(90);

/// The rounds of a polling loop: as many as fit in [`PATIENCE`], whatever each one sleeps.
pub fn patience() -> impl Iterator<Item = ()> {
    let deadline = std::time::Instant::now() + PATIENCE;
    std::iter::from_fn(move || (std::time::Instant::now() < deadline).then_some(()))
}

/// 2024-05-14 10:00:00 UTC.
pub const START: i64 = 1_715_680_800_000;
pub const DAY_MS: i64 = 86_400_000;

pub const CARD_OK: &str = "4242424242424242";
pub const CARD_DECLINED: &str = "4000000000000002";
pub const CARD_NO_FUNDS: &str = "4000000000009995";

pub struct TestApp {
    /// `http://127.0.0.1:<port>`: the server root and its public URL.
    pub address: String,
    /// `http://127.0.0.1:<port>/metrics` when the test asked for a metrics listener.
    pub metrics_url: Option<String>,
    pub clock: Arc<ManualClock>,
    pub store: Store,
    pub http: reqwest::Client,
    /// The merchant every test starts with: one enabled RUB shop.
    pub merchant: Onboarded,
    /// Panics the server caught; a test that saw one fails when its app is dropped.
    panics: Panics,
    /// The instance keys, as the server loaded them (admin operations seal with them).
    pub keys: Arc<InstanceKeys>,
    /// The key file the server reads (in a directory of its own, apart from the database).
    pub key_file: std::path::PathBuf,
    pub db: TestDatabase,
    _key_dir: tempfile::TempDir,
}

/// A fresh key file in a directory of its own, as an operator makes one with
/// `paylink keys generate --out FILE`.
pub fn key_file() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("paylink.key");
    KeyFile::generate()
        .write_new(&path)
        .expect("write a key file");
    (dir, path)
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let caught = self.panics.count();
        if caught > 0 && !std::thread::panicking() {
            panic!("the server caught {caught} panic(s) during this test (see its log): a panic is a bug");
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// As [`spawn_app`], with `configure` applied to the settings before the build.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let (key_dir, key_path) = key_file();
    spawn_app_on(TestDatabase::new().await, key_dir, key_path, configure).await
}

/// The settings every test server starts from: a server on port 0 over the database at `url`
/// with the key file at `key_path`.
pub fn test_settings(url: &str, key_path: &std::path::Path) -> Settings {
    let mut settings = Settings::new(url.to_string(), "127.0.0.1:0".parse().unwrap());
    settings.keys = KeySource::File(key_path.to_path_buf());
    // Receivers run on loopback; retries come due on the test's clock, found within 50 ms.
    settings.postbacks.allow_private = true;
    settings.postbacks.poll = std::time::Duration::from_millis(50);
    settings.money.poll = std::time::Duration::from_millis(50);
    settings.money.settle_after = std::time::Duration::ZERO;
    settings
}

/// As [`spawn_app_with`], on the database `db` with the key file at `key_path` (in `key_dir`).
pub async fn spawn_app_on(
    db: TestDatabase,
    key_dir: tempfile::TempDir,
    key_path: std::path::PathBuf,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    let mut settings = test_settings(&db.url, &key_path);
    let derived = settings.public_url.clone();
    configure(&mut settings);
    let custom_public_url = (settings.public_url != derived).then(|| settings.public_url.clone());
    let clock = Arc::new(ManualClock::new(START));
    let app = Application::build(settings, clock.clone())
        .await
        .expect("the application builds");
    let port = app.port();
    assert_ne!(port, 0, "a real port is bound");
    let address = format!("http://127.0.0.1:{port}");
    if custom_public_url.is_none() {
        assert_eq!(
            app.public_url(),
            address,
            "public_url follows the bound port"
        );
    }
    let store = app.store().clone();
    let panics = app.panics();
    let metrics_url = app.metrics_address().map(|a| format!("http://{a}/metrics"));
    let keys = app.keys();
    tokio::spawn(app.run_until(std::future::pending()));
    let merchant = merchants::create_merchant(
        &store,
        &keys,
        &paylink_core::audit::Actor::cli("test"),
        "Test merchant",
        None,
        true,
        START,
    )
    .await
    .expect("a merchant is created");
    TestApp {
        address,
        metrics_url,
        clock,
        store,
        http: reqwest::Client::new(),
        merchant,
        panics,
        keys,
        key_file: key_path,
        db,
        _key_dir: key_dir,
    }
}

/// A body as a client sends it.
pub enum Body {
    None,
    Json(Value),
    /// Raw text with its content type.
    Raw(&'static str, String),
    Form(Vec<(String, String)>),
    Multipart(Vec<(String, String)>),
}

impl Body {
    pub fn form(pairs: &[(&str, &str)]) -> Body {
        Body::Form(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    pub fn multipart(pairs: &[(&str, &str)]) -> Body {
        Body::Multipart(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }
}

pub fn form_encode(pairs: &[(String, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

const BOUNDARY: &str = "----paylinkTestBoundary7MA4YWxkTrZu0gW";

fn multipart_encode(pairs: &[(String, String)]) -> String {
    let mut body = String::new();
    for (k, v) in pairs {
        body.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
        ));
    }
    body.push_str(&format!("--{BOUNDARY}--\r\n"));
    body
}

/// A response as the client saw it.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub text: String,
    /// The body parsed as JSON (`Null` when it is not JSON).
    pub json: Value,
}

impl Answer {
    /// A JSON body with `success` the boolean `true`.
    #[track_caller]
    pub fn ok(&self) -> &Value {
        assert_eq!(self.status, 200, "{}", self.text);
        assert_json(self);
        assert_eq!(self.json["success"], json!(true), "{}", self.text);
        &self.json
    }

    /// An error in the Cardlink shape: the status, JSON, `success` the boolean `false`, and
    /// `message` exactly `message`.
    #[track_caller]
    pub fn error(&self, status: u16, message: &str) {
        assert_eq!(self.status, status, "{}", self.text);
        assert_json(self);
        assert_eq!(self.json["success"], json!(false), "{}", self.text);
        assert_eq!(self.json["message"], json!(message), "{}", self.text);
    }

    /// A Laravel validation failure naming `field` in its `errors` map.
    #[track_caller]
    pub fn invalid(&self, field: &str) {
        assert_eq!(self.status, 422, "{}", self.text);
        assert_json(self);
        assert_eq!(self.json["success"], json!(false), "{}", self.text);
        assert!(self.json["message"].is_string(), "{}", self.text);
        let messages = &self.json["errors"][field];
        assert!(
            messages
                .as_array()
                .is_some_and(|m| !m.is_empty()
                    && m.iter().all(|x| x.as_str().is_some_and(|s| !s.is_empty()))),
            "no errors.{field} in {}",
            self.text
        );
    }
}

#[track_caller]
pub fn assert_json(a: &Answer) {
    assert!(
        a.content_type.starts_with("application/json"),
        "content type {:?} of {}",
        a.content_type,
        a.text
    );
    assert!(a.json.is_object(), "not a JSON object: {}", a.text);
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn token(&self) -> &str {
        &self.merchant.api_token
    }

    pub fn shop(&self) -> &str {
        self.merchant.shop_id.as_str()
    }

    pub fn client(&self) -> CardlinkClient {
        CardlinkClient::new(&self.address, self.token())
    }

    /// Another merchant, with its own shop and token.
    pub async fn new_merchant(&self, name: &str) -> Onboarded {
        merchants::create_merchant(
            &self.store,
            &self.keys,
            &paylink_core::audit::Actor::cli("test"),
            name,
            None,
            true,
            self.now(),
        )
        .await
        .expect("a merchant is created")
    }

    /// A new API token for the default merchant (the old one stops working).
    pub async fn refresh_token(&self) -> String {
        merchants::refresh_token(
            &self.store,
            &self.keys,
            None,
            self.merchant.merchant_id.as_str(),
            self.now(),
        )
        .await
        .expect("the token is refreshed")
    }

    pub fn now(&self) -> i64 {
        use paylink_server::Clock;
        self.clock.now()
    }

    pub fn advance_ms(&self, ms: i64) {
        self.clock.advance(ms);
    }

    /// Waits until the bill's postback has `n` attempts on record. A receiver sees a request
    /// before its attempt is recorded, and the next attempt is scheduled from the clock when
    /// the answer comes: wait for this before moving the clock on.
    pub async fn recorded_attempts(&self, bill: &str, n: i64) {
        for _ in patience() {
            let h = merchants::postbacks(&self.store, bill).await.unwrap();
            if h.first().is_some_and(|p| p.record.total_attempts >= n) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("the postback of {bill} never had {n} attempts recorded");
    }

    /// Any request: `token` None sends no Authorization header.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        token: Option<&str>,
        body: Body,
    ) -> Answer {
        let mut rb = self.http.request(method, self.url(path_and_query));
        if let Some(t) = token {
            rb = rb.header("Authorization", format!("Bearer {t}"));
        }
        rb = match body {
            Body::None => rb,
            Body::Json(v) => rb
                .header("Content-Type", "application/json")
                .body(v.to_string()),
            Body::Raw(ct, text) => rb.header("Content-Type", ct).body(text),
            Body::Form(pairs) => rb
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(form_encode(&pairs)),
            Body::Multipart(pairs) => rb
                .header(
                    "Content-Type",
                    format!("multipart/form-data; boundary={BOUNDARY}"),
                )
                .body(multipart_encode(&pairs)),
        };
        let response = rb.send().await.expect("the server answers");
        answer(response).await
    }

    /// `POST path` with a JSON body as the default merchant.
    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(
            reqwest::Method::POST,
            path,
            Some(&self.merchant.api_token),
            Body::Json(body),
        )
        .await
    }

    /// `GET path?query` as the default merchant.
    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> Answer {
        self.get_as(self.token(), path, query).await
    }

    pub async fn get_as(&self, token: &str, path: &str, query: &[(&str, &str)]) -> Answer {
        let pairs: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let q = form_encode(&pairs);
        let target = if q.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{q}")
        };
        self.send(reqwest::Method::GET, &target, Some(token), Body::None)
            .await
    }

    /// `bill/create` as `token` with these JSON fields (shop_id defaulting to the merchant's).
    pub async fn create_bill_as(&self, token: &str, fields: Value) -> Answer {
        self.send(
            reqwest::Method::POST,
            "/api/v1/bill/create",
            Some(token),
            Body::Json(fields),
        )
        .await
    }

    /// Creates a bill of the default merchant and returns its id.
    pub async fn bill(&self, fields: Value) -> String {
        let mut fields = fields;
        if fields.get("shop_id").is_none() {
            fields["shop_id"] = json!(self.shop());
        }
        let a = self.create_bill_as(self.token(), fields).await;
        assert_eq!(a.status, 200, "{}", a.text);
        a.json["bill_id"].as_str().expect("a bill id").to_string()
    }

    /// Creates a bill as `token` (in the default shop unless `shop_id` is given).
    pub async fn bill_as(&self, token: &str, fields: Value) -> String {
        let mut fields = fields;
        if fields.get("shop_id").is_none() {
            fields["shop_id"] = json!(self.shop());
        }
        let a = self.create_bill_as(token, fields).await;
        assert_eq!(a.status, 200, "{}", a.text);
        a.json["bill_id"].as_str().expect("a bill id").to_string()
    }

    pub async fn bill_status(&self, id: &str) -> Value {
        self.get("/api/v1/bill/status", &[("id", id)])
            .await
            .ok()
            .clone()
    }

    pub async fn pay_card(&self, bill_id: &str, card: &str) -> Answer {
        self.post(
            "/sandbox/pay",
            json!({"bill_id": bill_id, "method": "BANK_CARD", "card_number": card}),
        )
        .await
    }

    pub async fn pay_sbp(&self, bill_id: &str, amount: Option<&str>) -> Answer {
        let mut body = json!({"bill_id": bill_id, "method": "SBP"});
        if let Some(a) = amount {
            body["amount"] = json!(a);
        }
        self.post("/sandbox/pay", body).await
    }

    /// Points the default shop's result URL (its payments' and refunds' postbacks) at `url`.
    pub async fn set_result_url(&self, url: &str) {
        merchants::update_shop(
            &self.store,
            Some(&paylink_core::audit::Actor::cli("test")),
            self.shop(),
            merchants::ShopChanges {
                result_url: Some(url.to_string()),
                ..merchants::ShopChanges::default()
            },
            true,
            0,
        )
        .await
        .expect("the result URL is accepted");
    }

    /// Points the default shop at the merchant's server `r`: postbacks to `/postback`, the
    /// payer back to `/success` and `/fail`.
    pub async fn set_shop_urls(&self, r: &paylink_sdk::testing::Receiver) {
        merchants::update_shop(
            &self.store,
            Some(&paylink_core::audit::Actor::cli("test")),
            self.shop(),
            merchants::ShopChanges {
                result_url: Some(r.url("/postback")),
                success_url: Some(r.url("/success")),
                fail_url: Some(r.url("/fail")),
                ..merchants::ShopChanges::default()
            },
            true,
            0,
        )
        .await
        .expect("the shop's URLs are set");
    }

    /// How many bills the default merchant has, by `bill/search`.
    pub async fn bill_count(&self) -> usize {
        let a = self
            .get("/api/v1/bill/search", &[("per_page", "500")])
            .await;
        a.ok()["data"].as_array().expect("data").len()
    }
}

pub async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = response.text().await.expect("a body");
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        content_type,
        text,
        json,
    }
}

/// `"key":value` exactly as it appears in compact JSON text.
#[track_caller]
pub fn assert_raw(text: &str, key: &str, value: &str) {
    let needle = format!("\"{key}\":{value}");
    let found = text
        .match_indices(&needle)
        .any(|(i, _)| matches!(text.as_bytes().get(i + needle.len()), Some(b',' | b'}')));
    assert!(found, "{needle} not in {text}");
}

/// Ten base62 characters, the shape of every public id.
pub fn is_base62_id(id: &str) -> bool {
    id.len() == 10 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}
