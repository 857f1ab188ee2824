//! The payer pages in a real browser: headless Chromium driven through chromedriver by a
//! minimal W3C WebDriver client (plain `reqwest` + `serde_json`), from the payment page to the
//! merchant's success or fail page, with the postback checked on the receiver.
//!
//! They run only with `PAYLINK_BROWSER_TESTS=1` (and then fail loudly without `/usr/bin/chromium`
//! and `/usr/bin/chromedriver`: `apt-get install -y chromium chromium-driver`); otherwise each
//! test says it was skipped and passes. Screenshots of every page go to
//! `target/browser-artifacts/`.

use crate::harness::*;
use base64::Engine;
use paylink_sdk::testing::{Received, Receiver};
use paylink_server::{md5_signature, WebhookKey};
use reqwest::Method;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const ARTIFACTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../target/browser-artifacts"
);
/// How long to wait for a page, an element or a postback before failing.
const PATIENCE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(100);
/// The W3C key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

const CARD_THREE_DS: &str = "4000000000003220";

/// Whether the browser tests run; when they do, Chromium and its driver must be installed.
fn enabled(test: &str) -> bool {
    if std::env::var("PAYLINK_BROWSER_TESTS").as_deref() != Ok("1") {
        println!("skipped {test}: the browser tests run only with PAYLINK_BROWSER_TESTS=1");
        return false;
    }
    for path in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            Path::new(path).is_file(),
            "PAYLINK_BROWSER_TESTS=1 but {path} is missing: apt-get install -y chromium chromium-driver"
        );
    }
    true
}

/// An error answer of the WebDriver server.
#[derive(Debug)]
struct WdError {
    status: u16,
    error: String,
    message: String,
}

impl std::fmt::Display for WdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.error, self.status, self.message)
    }
}

impl WdError {
    /// An element that is not (or no longer, or not yet usably) on the page: worth another try,
    /// and the command did nothing.
    fn transient(&self) -> bool {
        matches!(
            self.error.as_str(),
            "no such element"
                | "stale element reference"
                | "element not interactable"
                | "element click intercepted"
        )
    }
}

/// chromedriver as a child process, killed on drop.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One browser session.
pub struct Browser {
    http: reqwest::Client,
    port: u16,
    base: String,
    /// `None` once deleted.
    session: Option<String>,
    /// Screenshots are `{test}-{nn}-{name}.png`.
    test: String,
    shots: usize,
    _driver: Driver,
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().unwrap().port()
}

impl Browser {
    /// Starts chromedriver, waits for it to be ready and opens a headless Chromium session.
    pub async fn start(test: &str) -> Browser {
        std::fs::create_dir_all(ARTIFACTS).expect("the artifacts directory is created");
        let port = free_port();
        let log = format!("--log-path={ARTIFACTS}/{test}-chromedriver.log");
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{CHROMEDRIVER} does not start: {e}"));
        let mut browser = Browser {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            port,
            base: format!("http://127.0.0.1:{port}"),
            session: None,
            test: test.to_string(),
            shots: 0,
            _driver: Driver(child),
        };
        browser.wait_ready().await;
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "timeouts": {"pageLoad": 30_000, "script": 10_000, "implicit": 0},
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--window-size=420,900",
                ],
            },
        }}});
        let created = browser
            .call(Method::POST, "/session", Some(capabilities))
            .await
            .unwrap_or_else(|e| panic!("chromedriver does not start {CHROMIUM}: {e}"));
        let id = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no sessionId in {created}"));
        browser.session = Some(id.to_string());
        browser
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(Some(status)) = self._driver.0.try_wait() {
                panic!("{CHROMEDRIVER} exited at start: {status}");
            }
            if let Ok(v) = self.call(Method::GET, "/status", None).await {
                if v["ready"] == json!(true) {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver on port {} is not ready",
                self.port
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// One WebDriver command; its `value`, or the error it answered.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, WdError> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let fail = |message: String| WdError {
            status: 0,
            error: "transport".into(),
            message,
        };
        let response = request.send().await.map_err(|e| fail(e.to_string()))?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|e| fail(e.to_string()))?;
        let mut v: Value = serde_json::from_str(&text).map_err(|e| fail(format!("{e}: {text}")))?;
        let value = v["value"].take();
        if status == 200 {
            Ok(value)
        } else {
            Err(WdError {
                status,
                error: value["error"].as_str().unwrap_or("unknown").to_string(),
                message: value["message"].as_str().unwrap_or(&text).to_string(),
            })
        }
    }

    fn session_path(&self, path: &str) -> String {
        let id = self.session.as_deref().expect("an open session");
        format!("/session/{id}{path}")
    }

    /// A command of the session that must succeed.
    async fn command(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let path = self.session_path(path);
        match self.call(method, &path, body).await {
            Ok(v) => v,
            Err(e) => panic!("{path}: {e}"),
        }
    }

    pub async fn goto(&self, url: &str) {
        self.command(Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    pub async fn url(&self) -> String {
        let v = self.command(Method::GET, "/url", None).await;
        v.as_str().unwrap_or_default().to_string()
    }

    pub async fn source(&self) -> String {
        let v = self.command(Method::GET, "/source", None).await;
        v.as_str().unwrap_or_default().to_string()
    }

    /// The element `css` matches now, if any.
    async fn find(&self, css: &str) -> Result<String, WdError> {
        let path = self.session_path("/element");
        let body = json!({"using": "css selector", "value": css});
        let v = self.call(Method::POST, &path, Some(body)).await?;
        Ok(v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element reference in {v}"))
            .to_string())
    }

    /// Why a wait gave up: where the browser is and what it shows (to panic with).
    async fn lost(&self, what: &str) -> String {
        let url = self.url().await;
        let source = self.source().await;
        let shot = self.screenshot_as("lost").await;
        let body = source
            .find("<body")
            .map_or(source.as_str(), |at| &source[at..]);
        let excerpt: String = body.chars().take(4000).collect();
        format!(
            "{what}, after {PATIENCE:?} at {url} (screenshot {})\n{excerpt}",
            shot.display()
        )
    }

    /// Runs the element command `request` makes of the element `css` matches, trying again
    /// (for up to [`PATIENCE`]) while there is no such element or it cannot be used yet.
    async fn on_element(
        &self,
        css: &str,
        what: &str,
        request: impl Fn(&str) -> (Method, String, Option<Value>),
    ) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let attempt = match self.find(css).await {
                Ok(element) => {
                    let (method, path, body) = request(&element);
                    let path = self.session_path(&format!("/element/{element}{path}"));
                    self.call(method, &path, body).await
                }
                Err(e) => Err(e),
            };
            match attempt {
                Ok(v) => return v,
                Err(e) if e.transient() && Instant::now() < deadline => {
                    tokio::time::sleep(POLL).await
                }
                Err(e) if e.transient() => {
                    panic!("{}", self.lost(&format!("{what} `{css}`: {e}")).await)
                }
                Err(e) => panic!("{what} `{css}`: {e}"),
            }
        }
    }

    /// Waits for an element to be on the page.
    pub async fn wait_for(&self, css: &str) {
        self.on_element(css, "waiting for", |_| (Method::GET, "/name".into(), None))
            .await;
    }

    pub async fn click(&self, css: &str) {
        self.on_element(css, "clicking", |_| {
            (Method::POST, "/click".into(), Some(json!({})))
        })
        .await;
    }

    /// Types `text` into the element, key by key, as a person would.
    pub async fn send_keys(&self, css: &str, text: &str) {
        self.on_element(css, "typing into", |_| {
            (Method::POST, "/value".into(), Some(json!({ "text": text })))
        })
        .await;
    }

    pub async fn clear(&self, css: &str) {
        self.on_element(css, "clearing", |_| {
            (Method::POST, "/clear".into(), Some(json!({})))
        })
        .await;
    }

    /// The element's rendered text.
    pub async fn text(&self, css: &str) -> String {
        let v = self
            .on_element(css, "reading", |_| (Method::GET, "/text".into(), None))
            .await;
        v.as_str().unwrap_or_default().to_string()
    }

    /// An input's current value.
    pub async fn value(&self, css: &str) -> String {
        let v = self
            .on_element(css, "reading the value of", |_| {
                (Method::GET, "/property/value".into(), None)
            })
            .await;
        v.as_str().unwrap_or_default().to_string()
    }

    /// Waits until the browser is at an address starting with `prefix`; returns it.
    pub async fn wait_for_url(&self, prefix: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let url = self.url().await;
            if url.starts_with(prefix) {
                return url;
            }
            if Instant::now() >= deadline {
                panic!("{}", self.lost(&format!("never reached {prefix}")).await);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn screenshot_as(&self, name: &str) -> PathBuf {
        let v = self.command(Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("a base64 screenshot"))
            .expect("the screenshot is base64");
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
        let path = PathBuf::from(ARTIFACTS).join(format!("{}-{name}.png", self.test));
        std::fs::write(&path, png).expect("the screenshot is saved");
        path
    }

    /// Saves what the browser shows as `target/browser-artifacts/{test}-{nn}-{name}.png`.
    pub async fn screenshot(&mut self, name: &str) -> PathBuf {
        self.shots += 1;
        self.screenshot_as(&format!("{:02}-{name}", self.shots))
            .await
    }

    /// Closes the browser.
    pub async fn quit(mut self) {
        if let Some(id) = self.session.take() {
            let path = format!("/session/{id}");
            if let Err(e) = self.call(Method::DELETE, &path, None).await {
                panic!("deleting the session: {e}");
            }
        }
    }
}

impl Drop for Browser {
    /// A test that failed half-way still closes its browser (synchronously: no runtime here).
    fn drop(&mut self) {
        let Some(id) = self.session.take() else {
            return;
        };
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = write!(
                s,
                "DELETE /session/{id} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
                self.port
            );
            let mut answer = Vec::new();
            let _ = s.read_to_end(&mut answer);
        }
    }
}

/// A server, a merchant receiver the shop's result, success and fail URLs point at, and a
/// browser; `None` (the test skipped) unless `PAYLINK_BROWSER_TESTS=1`.
async fn setup(test: &str) -> Option<(TestApp, Receiver, Browser)> {
    if !enabled(test) {
        return None;
    }
    let app = spawn_app().await;
    let receiver = Receiver::start();
    app.set_shop_urls(&receiver).await;
    let browser = Browser::start(test).await;
    Some((app, receiver, browser))
}

/// Creates a bill; its id and `link_page_url`, which must be its payment page.
async fn create_bill(app: &TestApp, fields: Value) -> (String, String) {
    let mut fields = fields;
    fields["shop_id"] = json!(app.shop());
    let a = app.create_bill_as(app.token(), fields).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let created = &a.json;
    let id = created["bill_id"].as_str().expect("a bill id").to_string();
    let page = created["link_page_url"]
        .as_str()
        .expect("a link_page_url")
        .to_string();
    assert_eq!(page, app.url(&format!("/transfer/{id}")));
    (id, page)
}

/// Fills the card form and submits it.
async fn pay_by_card(b: &mut Browser, card: &str) {
    b.wait_for("form#card-form").await;
    b.send_keys("#card_number", card).await;
    b.send_keys("#expiry", "1230").await;
    b.send_keys("#cvc", "123").await;
    b.send_keys("#holder", "IVAN IVANOV").await;
    // The page groups the digits and puts the slash in as the payer types.
    let digits: String = card.chars().filter(char::is_ascii_digit).collect();
    let grouped: Vec<String> = digits
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    assert_eq!(b.value("#card_number").await, grouped.join(" "));
    assert_eq!(b.value("#expiry").await, "12/30");
    b.screenshot("card-form").await;
    b.click("#submit").await;
}

/// Waits until the browser has landed on the receiver's `path` page; screenshots it.
async fn landed(b: &mut Browser, r: &Receiver, path: &str) {
    b.wait_for_url(&r.url(path)).await;
    assert_eq!(b.text("#landed").await, format!("Merchant page {path}"));
    b.screenshot(&format!("merchant{}", path.replace('/', "-")))
        .await;
}

#[track_caller]
fn assert_signed(app: &TestApp, got: &Received) {
    let expected = md5_signature(&[got.field("OutSum"), got.field("InvId")], app.token());
    assert_eq!(got.field("SignatureValue"), expected, "{got:?}");
}

/// What the payer's browser brought to the receiver's `path` for `inv_id` (a signed POST).
async fn arrival(b: &Browser, app: &TestApp, r: &Receiver, path: &str, inv_id: &str) -> Received {
    let got = r
        .at(path)
        .into_iter()
        .find(|x| x.field("InvId") == inv_id)
        .unwrap_or_else(|| panic!("no {path} request for {inv_id}: {:?}", r.at(path)));
    assert_eq!(got.method, "POST", "{got:?}");
    assert_signed(app, &got);
    // And the merchant's page saw the same fields.
    assert_eq!(b.text("#InvId").await, format!("InvId={inv_id}"));
    assert_eq!(
        b.text("#SignatureValue").await,
        format!("SignatureValue={}", got.field("SignatureValue"))
    );
    got
}

/// The postback for `inv_id`, its signature and Standard Webhooks headers checked.
async fn postback(app: &TestApp, r: &Receiver, inv_id: &str) -> Received {
    let got = r
        .wait_until(1, &format!("the postback for {inv_id}"), |p| {
            p.path == "/postback" && p.field("InvId") == inv_id
        })
        .await
        .remove(0);
    assert_eq!(got.method, "POST");
    assert_signed(app, &got);
    let key = WebhookKey::parse(&app.merchant.webhook_secret).expect("a webhook key");
    let id = got.header("webhook-id");
    let timestamp: i64 = got
        .header("webhook-timestamp")
        .parse()
        .expect("a webhook-timestamp");
    assert!(!id.is_empty(), "{got:?}");
    assert_eq!(
        got.header("webhook-signature"),
        key.sign(id, timestamp, &got.body)
    );
    got
}

#[tokio::test]
async fn card_payment_lands_on_the_success_page() {
    let Some((app, r, mut b)) = setup("card_success").await else {
        return;
    };
    let (id, page) = create_bill(
        &app,
        json!({"amount": "150.00", "order_id": "order-1", "custom": "c-1", "name": "Desk lamp"}),
    )
    .await;
    b.goto(&page).await;
    assert!(b.source().await.contains("150.00 RUB"));
    b.screenshot("payment-page").await;
    pay_by_card(&mut b, "4242 4242 4242 4242").await;
    landed(&mut b, &r, "/success").await;

    let got = arrival(&b, &app, &r, "/success", "order-1").await;
    assert_eq!(got.field("OutSum"), "150.00");
    assert_eq!(got.field("CurrencyIn"), "RUB");
    assert_eq!(got.field("custom"), "c-1");

    let p = postback(&app, &r, "order-1").await;
    assert_eq!(p.field("Status"), "SUCCESS", "{p:?}");
    assert_eq!(p.field("OutSum"), "150.00");
    assert_eq!(p.field("CurrencyIn"), "RUB");
    assert_eq!(p.field("custom"), "c-1");
    assert!(!p.field("TrsId").is_empty(), "{p:?}");
    assert!(!p.field("Commission").is_empty(), "{p:?}");
    assert_eq!(app.bill_status(&id).await["status"], json!("SUCCESS"));
    assert!(r.at("/fail").is_empty());
    b.quit().await;
}

#[tokio::test]
async fn declined_card_lands_on_the_fail_page() {
    let Some((app, r, mut b)) = setup("card_declined").await else {
        return;
    };
    let (id, page) = create_bill(
        &app,
        json!({"amount": "99.90", "order_id": "order-2", "custom": "c-2"}),
    )
    .await;
    b.goto(&page).await;
    b.screenshot("payment-page").await;
    pay_by_card(&mut b, CARD_DECLINED).await;
    landed(&mut b, &r, "/fail").await;

    let got = arrival(&b, &app, &r, "/fail", "order-2").await;
    assert_eq!(got.field("OutSum"), "99.90");
    assert_eq!(got.field("custom"), "c-2");
    let p = postback(&app, &r, "order-2").await;
    assert_eq!(p.field("Status"), "FAIL", "{p:?}");
    assert_eq!(app.bill_status(&id).await["status"], json!("FAIL"));
    assert!(r.at("/success").is_empty());
    b.quit().await;
}

/// From the payment page to the sandbox bank's app by the SBP tab; `amount`, when given, is
/// typed over the prefilled one.
async fn pay_by_sbp(b: &mut Browser, page: &str, billed: &str, amount: Option<&str>) {
    b.goto(page).await;
    b.click("#method-SBP").await;
    b.wait_for_url(&format!("{page}/sbp/")).await;
    b.wait_for("#sbp-open").await;
    assert!(b.source().await.contains("<svg"), "no QR code");
    b.screenshot("sbp-page").await;
    b.click("#sbp-open").await;
    b.wait_for("input#amount").await;
    assert_eq!(b.value("#amount").await, billed);
    if let Some(amount) = amount {
        b.clear("#amount").await;
        b.send_keys("#amount", amount).await;
        assert_eq!(b.value("#amount").await, amount);
    }
    b.screenshot("bank-app").await;
    b.click("#sbp-pay").await;
}

#[tokio::test]
async fn sbp_payment_through_the_bank_app() {
    let Some((app, r, mut b)) = setup("sbp").await else {
        return;
    };
    let (id, page) = create_bill(&app, json!({"amount": "250.00", "order_id": "sbp-1"})).await;
    pay_by_sbp(&mut b, &page, "250.00", None).await;
    landed(&mut b, &r, "/success").await;
    let got = arrival(&b, &app, &r, "/success", "sbp-1").await;
    assert_eq!(got.field("OutSum"), "250.00");
    let p = postback(&app, &r, "sbp-1").await;
    assert_eq!(p.field("Status"), "SUCCESS", "{p:?}");
    assert_eq!(app.bill_status(&id).await["status"], json!("SUCCESS"));

    // Less than billed still brings money: the success page, and an UNDERPAID postback.
    let (id, page) = create_bill(&app, json!({"amount": "300.00", "order_id": "sbp-2"})).await;
    pay_by_sbp(&mut b, &page, "300.00", Some("120.50")).await;
    landed(&mut b, &r, "/success").await;
    let got = arrival(&b, &app, &r, "/success", "sbp-2").await;
    assert_eq!(got.field("OutSum"), "120.50");
    let p = postback(&app, &r, "sbp-2").await;
    assert_eq!(p.field("Status"), "UNDERPAID", "{p:?}");
    assert_eq!(p.field("OutSum"), "120.50");
    assert_eq!(app.bill_status(&id).await["status"], json!("UNDERPAID"));
    assert!(r.at("/fail").is_empty());
    b.quit().await;
}

#[tokio::test]
async fn three_d_secure_confirmed_and_failed() {
    let Some((app, r, mut b)) = setup("three_ds").await else {
        return;
    };
    let (id, page) = create_bill(&app, json!({"amount": "500.00", "order_id": "3ds-1"})).await;
    b.goto(&page).await;
    pay_by_card(&mut b, CARD_THREE_DS).await;
    b.wait_for("#confirm").await;
    b.screenshot("3ds-page").await;
    b.click("#confirm").await;
    landed(&mut b, &r, "/success").await;
    arrival(&b, &app, &r, "/success", "3ds-1").await;
    let p = postback(&app, &r, "3ds-1").await;
    assert_eq!(p.field("Status"), "SUCCESS", "{p:?}");
    assert_eq!(app.bill_status(&id).await["status"], json!("SUCCESS"));

    let (id, page) = create_bill(&app, json!({"amount": "500.00", "order_id": "3ds-2"})).await;
    b.goto(&page).await;
    pay_by_card(&mut b, CARD_THREE_DS).await;
    b.wait_for("#fail").await;
    b.screenshot("3ds-page").await;
    b.click("#fail").await;
    landed(&mut b, &r, "/fail").await;
    arrival(&b, &app, &r, "/fail", "3ds-2").await;
    let p = postback(&app, &r, "3ds-2").await;
    assert_eq!(p.field("Status"), "FAIL", "{p:?}");
    assert_eq!(app.bill_status(&id).await["status"], json!("FAIL"));
    b.quit().await;
}

#[tokio::test]
async fn russian_pages_and_the_share_page_qr_code() {
    let Some((app, _r, mut b)) = setup("russian").await else {
        return;
    };
    let (id, page) = create_bill(&app, json!({"amount": "75.00", "locale": "ru"})).await;
    b.goto(&page).await;
    b.wait_for("form#card-form").await;
    let source = b.source().await;
    assert!(source.contains("<html lang=\"ru\""), "{source}");
    assert!(b.text("#submit").await.starts_with("Оплатить"));
    assert_eq!(b.text("#method-BANK_CARD").await, "Банковская карта");
    assert_eq!(b.text("#method-SBP").await, "СБП");
    b.screenshot("payment-page").await;

    b.goto(&app.url(&format!("/link/{id}"))).await;
    b.wait_for(".qr svg").await;
    assert!(b.source().await.contains("<svg"));
    assert_eq!(b.text("#pay").await, "Оплатить");
    b.screenshot("share-page").await;
    b.quit().await;
}

/// A Procard permanent link with choices, a quantity control and a target, in Ukrainian: paid
/// twice (once through 3-D Secure), the collected amount grows on its page each time.
#[tokio::test]
async fn permanent_link_with_quantity_and_target_collects() {
    if !enabled("permanent_link") {
        return;
    }
    // No shop URLs: the payer stays on paylink's own result page, which leads back to the link.
    let app = spawn_app().await;
    let mut b = Browser::start("permanent_link").await;
    let access = paylink_server::ops::permanent_links::enable(
        &app.store,
        &app.keys,
        app.merchant.merchant_id.as_str(),
        Some("TEST_TRADER_2".into()),
        None,
        None,
        true,
        app.now(),
    )
    .await
    .expect("Procard access");
    let key = access.secret_key.expose();
    let sign = paylink_server::dialects::procard::sign::sign;
    let created = app
        .send(
            Method::POST,
            "/permanent-links/create",
            None,
            Body::Json(json!({
                "merchant_id": "TEST_TRADER_2",
                "operation": "Purchase",
                "kind": 0,
                "amount": "150.00;250.00",
                "enable_counter": 1,
                "show_total_amount": 1,
                "custom_amount": 100,
                "target_amount": 1000,
                "name": "Збір на ліхтарики",
                "description": "Фіксована з кількістю",
                "language": "ukr",
                "signature": sign(key, &["TEST_TRADER_2", "Purchase", "150.00;250.00", "ukr"]),
            })),
        )
        .await;
    assert_eq!(created.json["result"], json!(0), "{}", created.text);
    let page = created.json["permanent_link"].as_str().unwrap().to_string();

    b.goto(&page).await;
    b.wait_for("form#link-form").await;
    assert!(b.source().await.contains("<html lang=\"uk\""));
    assert_eq!(b.text("h1").await, "Збір на ліхтарики");
    assert_eq!(b.text("#collected").await, "100.00 RUB");
    assert_eq!(b.text("#target").await, "1000.00 RUB");
    // The first choice is preselected; the total follows the choice and the quantity.
    assert_eq!(b.text("#total").await, "150.00");
    b.click("#amount-2").await;
    b.clear("#quantity").await;
    b.send_keys("#quantity", "2").await;
    assert_eq!(b.text("#total").await, "500.00");
    b.screenshot("permanent-link").await;
    fill_card(&b, "4242424242424242").await;
    b.click("#submit").await;
    b.wait_for("#heading").await;
    assert_eq!(b.text("#heading").await, "Оплата пройшла");
    b.screenshot("permanent-link-paid").await;
    b.click("#link").await;
    b.wait_for("form#link-form").await;
    assert_eq!(b.text("#collected").await, "600.00 RUB");

    // Through 3-D Secure: one of the first choice.
    fill_card(&b, CARD_THREE_DS).await;
    b.click("#submit").await;
    b.wait_for("#confirm").await;
    b.click("#confirm").await;
    b.wait_for("#heading").await;
    assert_eq!(b.text("#heading").await, "Оплата пройшла");
    b.click("#link").await;
    b.wait_for("form#link-form").await;
    assert_eq!(b.text("#collected").await, "750.00 RUB");
    assert!(b
        .source()
        .await
        .contains(r#"<progress id="progress" max="100" value="75">"#));
    b.screenshot("permanent-link-collected").await;
    b.quit().await;
}

/// Types a test card into a card form.
async fn fill_card(b: &Browser, card: &str) {
    b.send_keys("#card_number", card).await;
    b.send_keys("#expiry", "1230").await;
    b.send_keys("#cvc", "123").await;
}
