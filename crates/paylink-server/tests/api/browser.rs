//! The payer pages and the merchant web app in a real browser: headless Chromium driven
//! through chromedriver with `fantoccini`, from the payment page to the merchant's success or
//! fail page, with the postback checked on the receiver; and a merchant's whole day in the
//! web app, and an operator's first day in the console, found by labels and link texts as a
//! person finds them.
//!
//! They run only with `PAYLINK_BROWSER_TESTS=1` (and then fail loudly without `/usr/bin/chromium`
//! and `/usr/bin/chromedriver`: `apt-get install -y chromium chromium-driver`); otherwise each
//! test says it was skipped and passes. Screenshots of every page go to
//! `target/browser-artifacts/`.

use crate::harness::*;
use fantoccini::elements::Element;
use fantoccini::error::{CmdError, ErrorStatus};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use paylink_sdk::testing::{Received, Receiver};
use paylink_server::{md5_signature, WebhookKey};
use reqwest::Method;
use serde_json::{json, Value};
use std::future::Future;
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

/// An element that is not (or no longer, or not yet usably) on the page: worth another try,
/// and the command did nothing.
fn transient(e: &CmdError) -> bool {
    e.is_no_such_element()
        || e.is_stale_element_reference()
        || e.is_element_not_interactable()
        || matches!(e, CmdError::Standard(w) if w.error == ErrorStatus::ElementClickIntercepted)
}

/// `text` as an XPath string literal (XPath 1.0 has no escapes).
fn xpath_literal(text: &str) -> String {
    assert!(!text.contains('\''), "no quote in {text:?}");
    format!("'{text}'")
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
    client: Client,
    port: u16,
    /// `None` once closed.
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

/// Waits until chromedriver on `port` says it is ready.
async fn wait_ready(driver: &mut Driver, port: u16) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Ok(Some(status)) = driver.0.try_wait() {
            panic!("{CHROMEDRIVER} exited at start: {status}");
        }
        let status = http
            .get(format!("http://127.0.0.1:{port}/status"))
            .send()
            .await;
        if let Ok(response) = status {
            if let Ok(v) = response.json::<Value>().await {
                if v["value"]["ready"] == json!(true) {
                    return;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "chromedriver on port {port} is not ready"
        );
        tokio::time::sleep(POLL).await;
    }
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
        let mut driver = Driver(child);
        wait_ready(&mut driver, port).await;
        let capabilities = json!({
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
                    "--window-size=1280,1000",
                ],
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object")
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap_or_else(|e| panic!("chromedriver does not start {CHROMIUM}: {e}"));
        let session = client
            .session_id()
            .await
            .unwrap_or_else(|e| panic!("no session id: {e}"));
        Browser {
            client,
            port,
            session,
            test: test.to_string(),
            shots: 0,
            _driver: driver,
        }
    }

    pub async fn goto(&self, url: &str) {
        if let Err(e) = self.client.goto(url).await {
            panic!("opening {url}: {e}");
        }
    }

    pub async fn url(&self) -> String {
        match self.client.current_url().await {
            Ok(url) => url.to_string(),
            Err(e) => panic!("the current address: {e}"),
        }
    }

    pub async fn source(&self) -> String {
        match self.client.source().await {
            Ok(source) => source,
            Err(e) => panic!("the page source: {e}"),
        }
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

    /// Runs `op` on the element `at` finds, trying again (for up to [`PATIENCE`]) while there
    /// is no such element or it cannot be used yet.
    async fn on<T, F, Fut>(&self, at: Locator<'_>, what: &str, op: F) -> T
    where
        F: Fn(Element) -> Fut,
        Fut: Future<Output = Result<T, CmdError>>,
    {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let attempt = match self.client.find(at).await {
                Ok(element) => op(element).await,
                Err(e) => Err(e),
            };
            match attempt {
                Ok(v) => return v,
                Err(e) if transient(&e) && Instant::now() < deadline => {
                    tokio::time::sleep(POLL).await
                }
                Err(e) if transient(&e) => {
                    panic!("{}", self.lost(&format!("{what} {at:?}: {e}")).await)
                }
                Err(e) => panic!("{what} {at:?}: {e}"),
            }
        }
    }

    /// Waits for an element to be on the page.
    pub async fn wait_for(&self, css: &str) {
        self.on(Locator::Css(css), "waiting for", |e| async move {
            e.tag_name().await
        })
        .await;
    }

    pub async fn click(&self, css: &str) {
        self.on(
            Locator::Css(css),
            "clicking",
            |e| async move { e.click().await },
        )
        .await;
    }

    /// Types `text` into the element, key by key, as a person would.
    pub async fn send_keys(&self, css: &str, text: &str) {
        self.type_into(Locator::Css(css), text).await;
    }

    async fn type_into(&self, at: Locator<'_>, text: &str) {
        self.on(
            at,
            "typing into",
            |e| async move { e.send_keys(text).await },
        )
        .await;
    }

    pub async fn clear(&self, css: &str) {
        self.on(
            Locator::Css(css),
            "clearing",
            |e| async move { e.clear().await },
        )
        .await;
    }

    /// The element's rendered text.
    pub async fn text(&self, css: &str) -> String {
        self.text_at(Locator::Css(css)).await
    }

    async fn text_at(&self, at: Locator<'_>) -> String {
        self.on(at, "reading", |e| async move { e.text().await })
            .await
    }

    /// An input's current value.
    pub async fn value(&self, css: &str) -> String {
        self.value_at(Locator::Css(css)).await
    }

    async fn value_at(&self, at: Locator<'_>) -> String {
        self.on(at, "reading the value of", |e| async move {
            e.prop("value").await
        })
        .await
        .unwrap_or_default()
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

    /// The id of the field the label reading `label` is for.
    async fn field_id(&self, label: &str) -> String {
        let xpath = format!("//label[normalize-space()={}]", xpath_literal(label));
        let id = self
            .on(
                Locator::XPath(&xpath),
                "reading the label",
                |e| async move { e.attr("for").await },
            )
            .await;
        id.unwrap_or_else(|| panic!("the label {label:?} is for no field"))
    }

    /// Types `text` into the field labelled `label`, over what it held.
    pub async fn fill(&self, label: &str, text: &str) {
        let id = self.field_id(label).await;
        self.on(
            Locator::Id(&id),
            "clearing",
            |e| async move { e.clear().await },
        )
        .await;
        self.type_into(Locator::Id(&id), text).await;
    }

    /// Chooses the option reading `option` in the list labelled `label`.
    pub async fn choose(&self, label: &str, option: &str) {
        let id = self.field_id(label).await;
        self.on(Locator::Id(&id), "choosing in", |e| async move {
            e.select_by_label(option).await
        })
        .await;
    }

    /// Clicks what `xpath` finds and waits for the next page to be there: the page it was on
    /// is gone (its root element is stale).
    async fn follow(&self, xpath: &str) {
        let old = self
            .on(Locator::Css("html"), "finding the page", |e| async move {
                Ok(e)
            })
            .await;
        self.on(Locator::XPath(xpath), "clicking", |e| async move {
            e.click().await
        })
        .await;
        let deadline = Instant::now() + PATIENCE;
        loop {
            match old.tag_name().await {
                Err(e) if e.is_stale_element_reference() => break,
                _ if Instant::now() >= deadline => {
                    panic!("{}", self.lost(&format!("no new page after {xpath}")).await)
                }
                _ => tokio::time::sleep(POLL).await,
            }
        }
        // The new document may still be loading.
        self.wait_for("body").await;
    }

    /// Clicks the link reading `text` and waits for the page it leads to.
    pub async fn click_link(&self, text: &str) {
        self.follow(&format!("//a[normalize-space()={}]", xpath_literal(text)))
            .await;
    }

    /// Clicks the button reading `text` and waits for the page its form answers with.
    pub async fn click_button(&self, text: &str) {
        self.follow(&format!(
            "//button[normalize-space()={}]",
            xpath_literal(text)
        ))
        .await;
    }

    /// Reloads the page until `ready` holds for it (for up to [`PATIENCE`]): for what the
    /// server does on its own time.
    async fn reload_until<F, Fut>(&self, what: &str, ready: F)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = bool>,
    {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if ready().await {
                return;
            }
            if Instant::now() >= deadline {
                panic!("{}", self.lost(&format!("never saw {what}")).await);
            }
            tokio::time::sleep(POLL * 5).await;
            if let Err(e) = self.client.refresh().await {
                panic!("reloading: {e}");
            }
        }
    }

    /// Whether `css` finds something on the page now.
    async fn shows(&self, css: &str) -> bool {
        match self.client.find(Locator::Css(css)).await {
            Ok(_) => true,
            Err(e) if e.is_no_such_element() => false,
            Err(e) => panic!("looking for {css}: {e}"),
        }
    }

    /// The value of the browser's cookie `name`.
    pub async fn cookie(&self, name: &str) -> String {
        match self.client.get_named_cookie(name).await {
            Ok(c) => c.value().to_string(),
            Err(e) => panic!("the cookie {name}: {e}"),
        }
    }

    /// Sets the value of the field labelled `label` by script: a date input takes typed
    /// digits in the order of the browser's locale, its `value` is always `YYYY-MM-DD`.
    pub async fn set_value(&self, label: &str, value: &str) {
        let id = self.field_id(label).await;
        let script = "const f = document.getElementById(arguments[0]); f.value = arguments[1]; \
                      f.dispatchEvent(new Event('input', {bubbles: true})); \
                      f.dispatchEvent(new Event('change', {bubbles: true}));";
        if let Err(e) = self
            .client
            .execute(script, vec![json!(id), json!(value)])
            .await
        {
            panic!("setting {label:?}: {e}");
        }
        assert_eq!(self.value_at(Locator::Id(&id)).await, value, "{label}");
    }

    /// Ticks the checkbox named `label` (by its `aria-label`, or the label it sits in), if it is
    /// not ticked yet.
    pub async fn tick(&self, label: &str) {
        let l = xpath_literal(label);
        let xpath = format!(
            "//input[@type='checkbox'][@aria-label={l}] | //label[normalize-space()={l}]//input[@type='checkbox']"
        );
        self.on(Locator::XPath(&xpath), "ticking", |e| async move {
            if !e.is_selected().await? {
                e.click().await?;
            }
            Ok(())
        })
        .await;
        let ticked = self
            .on(Locator::XPath(&xpath), "reading", |e| async move {
                e.is_selected().await
            })
            .await;
        assert!(ticked, "{label:?} is not ticked");
    }

    /// The rendered texts of every element `css` finds now (none: empty).
    pub async fn texts(&self, css: &str) -> Vec<String> {
        let found = match self.client.find_all(Locator::Css(css)).await {
            Ok(found) => found,
            Err(e) => panic!("looking for {css}: {e}"),
        };
        let mut texts = Vec::with_capacity(found.len());
        for e in found {
            match e.text().await {
                Ok(t) => texts.push(t),
                Err(e) => panic!("reading {css}: {e}"),
            }
        }
        texts
    }

    /// Scrolls the element `css` finds to the middle of the window (for a screenshot of it).
    pub async fn scroll_to(&self, css: &str) {
        self.wait_for(css).await;
        let script = "document.querySelector(arguments[0]).scrollIntoView({block: 'center'});";
        if let Err(e) = self.client.execute(script, vec![json!(css)]).await {
            panic!("scrolling to {css}: {e}");
        }
    }

    async fn screenshot_as(&self, name: &str) -> PathBuf {
        let png = match self.client.screenshot().await {
            Ok(png) => png,
            Err(e) => panic!("a screenshot: {e}"),
        };
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
        if self.session.take().is_some() {
            if let Err(e) = self.client.clone().close().await {
                panic!("closing the session: {e}");
            }
        }
    }
}

impl Drop for Browser {
    /// A test that failed half-way still closes its browser (synchronously: the runtime may be
    /// gone with the panic).
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

/// An arbitrary-amount link with suggested amounts: a suggestion fills the field and the total,
/// and the payer may still type another amount.
#[tokio::test]
async fn an_arbitrary_links_suggestions_fill_the_amount() {
    if !enabled("link_suggestions") {
        return;
    }
    let app = spawn_app().await;
    let mut b = Browser::start("link_suggestions").await;
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
    let sign = paylink_server::dialects::procard::sign::sign;
    let created = app
        .send(
            Method::POST,
            "/permanent-links/create",
            None,
            Body::Json(json!({
                "merchant_id": "TEST_TRADER_2",
                "operation": "Purchase",
                "kind": 1,
                "amount": "100;250.50",
                "name": "Donation",
                "description": "Any amount",
                "language": "en",
                "signature": sign(access.secret_key.expose(), &["TEST_TRADER_2", "Purchase", "100;250.50", "en"]),
            })),
        )
        .await;
    assert_eq!(created.json["result"], json!(0), "{}", created.text);
    let page = created.json["permanent_link"].as_str().unwrap().to_string();
    b.goto(&page).await;
    b.wait_for("#suggestions").await;
    assert_eq!(b.value("#amount").await, "");
    assert_eq!(
        b.texts("#suggestions button").await,
        vec!["100.00 RUB", "250.50 RUB"]
    );
    b.click("#suggestions button[data-amount='250.50']").await;
    assert_eq!(b.value("#amount").await, "250.50");
    assert_eq!(b.text("#total").await, "250.50");
    b.screenshot("link-suggestions").await;
    // Another amount than the suggestions is the payer's to choose.
    b.clear("#amount").await;
    b.send_keys("#amount", "77").await;
    assert_eq!(b.text("#total").await, "77.00");
    fill_card(&b, "4242424242424242").await;
    b.click("#submit").await;
    b.wait_for("#heading").await;
    assert_eq!(b.text("#heading").await, "Payment successful");
    b.quit().await;
}

/// Types a test card into a card form.
async fn fill_card(b: &Browser, card: &str) {
    b.send_keys("#card_number", card).await;
    b.send_keys("#expiry", "1230").await;
    b.send_keys("#cvc", "123").await;
}

/// `YYYY-MM-DD` of the UTC day of `ms` (unix milliseconds): the date a bank statement shows.
fn utc_date(ms: i64) -> String {
    // Days to the civil calendar (Howard Hinnant's algorithm), with no date crate to hand.
    let z = ms.div_euclid(DAY_MS) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// One CSV line split into its fields (the export quotes none of the fields this test reads).
fn csv_fields(line: &str) -> Vec<&str> {
    line.split(',').collect()
}

/// A merchant's day in the web app, and a payer's dispute, as people click through them: sign
/// up, integrate, bill, get paid, refund, rotate the token, export, and answer a dispute.
#[tokio::test]
async fn a_merchant_signs_up_and_works_in_the_dashboard() {
    if !enabled("web") {
        return;
    }
    let app = spawn_app().await;
    let r = Receiver::start();
    let mut b = Browser::start("web").await;
    let email = "owner@corner-shop.example";
    let password = "correct horse battery";

    // Sign up from the landing page.
    b.goto(&app.url("/")).await;
    b.screenshot("landing").await;
    b.click_link("Sign up").await;
    b.screenshot("sign-up").await;
    b.fill("Email", email).await;
    b.fill("Password", password).await;
    b.fill("Shop name", "Corner shop").await;
    b.click_button("Sign up").await;
    let token = b.text("#token").await;
    assert!(token.len() > 10, "{token:?}");
    let shop_id = b.text("code.shop-id").await;
    assert!(is_base62_id(&shop_id), "{shop_id:?}");
    b.screenshot("integration").await;
    assert_eq!(
        app.get_as(&token, "/api/v1/merchant/balance", &[])
            .await
            .status,
        200
    );

    // Postbacks to the merchant's server.
    b.fill("Result URL", &r.url("/postback")).await;
    b.click_button("Save").await;
    let id = b.field_id("Result URL").await;
    assert_eq!(b.value_at(Locator::Id(&id)).await, r.url("/postback"));
    b.screenshot("integration-saved").await;

    // A bill, paid by card through its payment link.
    b.click_link("Bills").await;
    b.screenshot("bills").await;
    b.fill("Amount", "150.50").await;
    b.choose("Shop", "Corner shop").await;
    b.fill("Description", "Two cups of coffee").await;
    b.fill("Order ID", "web-1").await;
    b.click_button("Create bill").await;
    let row = b.text("tr.bill").await;
    assert!(row.contains("150.50"), "{row}");
    assert!(row.contains("Two cups of coffee"), "{row}");
    b.screenshot("bill-created").await;
    b.follow("//tr[@class='bill']//a[normalize-space()='Payment link']")
        .await;
    assert!(b.url().await.starts_with(&app.url("/link/")));
    b.wait_for(".qr svg").await;
    b.screenshot("share-page").await;
    b.click("#pay").await;
    b.wait_for_url(&app.url("/transfer/")).await;
    b.wait_for("form#card-form").await;
    assert!(b.source().await.contains("150.50 RUB"));
    b.screenshot("payment-page").await;
    pay_by_card(&mut b, "4242 4242 4242 4242").await;
    // No success URL: the payer stays on paylink's own result page.
    b.wait_for("#heading").await;
    b.screenshot("paid").await;

    let p = r
        .wait_until(1, "the postback for web-1", |p| {
            p.path == "/postback" && p.field("InvId") == "web-1"
        })
        .await
        .remove(0);
    assert_eq!(p.field("Status"), "SUCCESS", "{p:?}");
    assert_eq!(p.field("OutSum"), "150.50", "{p:?}");
    let signed = md5_signature(&[p.field("OutSum"), p.field("InvId")], &token);
    assert_eq!(p.field("SignatureValue"), signed, "{p:?}");

    // The payment, its postback, and a refund of a part.
    b.goto(&app.url("/dashboard")).await;
    b.screenshot("dashboard").await;
    b.click_link("Payments").await;
    let payment_id = b.text("tr.payment a").await;
    assert!(is_base62_id(&payment_id), "{payment_id:?}");
    b.screenshot("payments").await;
    b.click_link(&payment_id).await;
    assert_eq!(b.text("#amount").await, "150.50 RUB");
    b.reload_until("the postback row", || b.shows("tr.postback"))
        .await;
    let postback_row = b.text("tr.postback").await;
    assert!(postback_row.contains(&r.url("/postback")), "{postback_row}");
    b.screenshot("payment").await;
    b.fill("Refund amount (empty: all that is left)", "50.00")
        .await;
    b.click_button("Refund").await;
    b.reload_until("50.00 refunded", || async {
        b.text("#refunded").await == "50.00"
    })
    .await;
    b.screenshot("refunded").await;

    // A new API token: the old one stops working.
    b.click_link("API integration").await;
    b.screenshot("integration-again").await;
    b.click_link("Refresh API token").await;
    b.screenshot("refresh-token").await;
    b.click_button("Refresh API token").await;
    let new_token = b.text("#token").await;
    assert_ne!(new_token, token);
    b.screenshot("new-token").await;
    let balance = "/api/v1/merchant/balance";
    assert_eq!(app.get_as(&token, balance, &[]).await.status, 401);
    assert_eq!(app.get_as(&new_token, balance, &[]).await.status, 200);

    // The payments as CSV, downloaded with the browser's session.
    b.click_link("Payments").await;
    b.screenshot("payments-export").await;
    let href = b
        .on(
            Locator::XPath("//a[normalize-space()='Export CSV']"),
            "reading the link",
            |e| async move { e.attr("href").await },
        )
        .await
        .expect("the export link has an address");
    assert!(href.starts_with("/payments.csv"), "{href}");
    let session = b.cookie("paylink_session").await;
    let csv = app
        .http
        .get(app.url(&href))
        .header("Cookie", format!("paylink_session={session}"))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(csv.status(), 200);
    let csv = csv.text().await.expect("a body");
    let lines: Vec<&str> = csv.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 2, "{csv}");
    let header = csv_fields(lines[0]);
    let row = csv_fields(lines[1]);
    assert_eq!(header.len(), row.len(), "{csv}");
    let column = |name: &str| {
        let at = header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no {name} column in {csv}"));
        row[at]
    };
    assert_eq!(column("payment_id"), payment_id);
    assert_eq!(column("amount"), "150.50");
    assert_eq!(column("refunded"), "50.00");

    b.click_button("Sign out").await;
    b.screenshot("signed-out").await;

    // A payer finds the charge by the card's digits, the day and the amount, and disputes it.
    b.goto(&app.url("/")).await;
    b.click_link("Find transactions").await;
    b.fill("Card first 6 digits", "424242").await;
    b.fill("Card last 4 digits", "4242").await;
    // The server's clock, not the wall's, dated the payment.
    let today = utc_date(app.now());
    b.set_value("Date", &today).await;
    b.fill("Amount", "150.50").await;
    b.screenshot("find-transactions").await;
    b.click_button("Find").await;
    let charge = b.text("tr.charge").await;
    assert!(charge.contains("150.50"), "{charge}");
    b.screenshot("found").await;
    b.follow("//tr[@class='charge']//a[normalize-space()='Dispute this charge']")
        .await;
    b.screenshot("dispute-form").await;
    b.fill("Email", "payer@example.com").await;
    b.fill("What happened", "I was charged but never got the coffee.")
        .await;
    b.click_button("Send").await;
    let reference = b.text("#reference").await;
    assert!(!reference.is_empty());
    b.screenshot("dispute-sent").await;

    // The merchant signs in again and answers it.
    b.click_link("Sign in").await;
    b.screenshot("sign-in").await;
    b.fill("Email", email).await;
    b.fill("Password", password).await;
    b.click_button("Sign in").await;
    b.wait_for("nav form button").await;
    b.screenshot("signed-in").await;
    b.click_link("Disputes").await;
    b.screenshot("disputes").await;
    b.follow(&format!(
        "//tr[@class='dispute']//a[normalize-space()={}]",
        xpath_literal(&reference)
    ))
    .await;
    assert_eq!(b.text("#status").await, "Open");
    b.screenshot("dispute").await;
    b.fill("Reply", "Sorry: the coffee is on its way.").await;
    b.click_button("Reply").await;
    assert_eq!(b.text("#status").await, "Answered");
    b.screenshot("dispute-answered").await;
    b.quit().await;
}

/// A paid bill of `amount` for the harness's merchant: its payment's id.
async fn paid_bill(app: &TestApp, amount: &str) -> String {
    let bill = app.bill(json!({ "amount": amount })).await;
    let a = app.pay_card(&bill, CARD_OK).await;
    assert_eq!(a.ok()["status"], json!("SUCCESS"), "{}", a.text);
    a.ok()["id"].as_str().expect("a payment id").to_string()
}

/// The current authenticator code for the base32 `secret` the account page shows.
fn authenticator_code(app: &TestApp, secret: &str) -> String {
    use paylink_core::totp;
    let secret: String = secret.chars().filter(|c| !c.is_whitespace()).collect();
    let secret = totp::base32_decode(&secret).expect("a base32 secret");
    totp::totp(totp::Algorithm::Sha1, &secret, app.now(), 6).expect("a code")
}

/// An operator's first day in the console, clicked through as a person does: the invitation
/// link, the second factor, sign-in with a code, a new colleague, a merchant verified, a payout
/// approved, a dispute answered, an exchange rate set, and all of it read back in the audit
/// log. Its screenshots illustrate the console's documentation.
#[tokio::test]
async fn an_operator_runs_the_console() {
    if !enabled("console") {
        return;
    }
    let app = spawn_app().await;

    // Something to look at: payments spread over two days, a merchant who just signed up, a
    // payout waiting for an operator and a payer's dispute.
    let disputed = paid_bill(&app, "1250.00").await;
    app.advance_ms(DAY_MS);
    paid_bill(&app, "780.00").await;
    app.advance_ms(3 * 60 * 60 * 1000);
    paid_bill(&app, "2400.00").await;
    app.advance_ms(2 * 60 * 60 * 1000);
    app.set_profile(
        &app.merchant.merchant_id,
        paylink_core::payout::PayoutProfile {
            moderation: true,
            ..open_profile()
        },
    )
    .await;
    app.fund("5000").await;
    let payout = created(&app.regular_payout(card("1000", CARD_OK)).await).remove(0);
    assert_eq!(payout["status"], json!("MODERATING"), "{payout}");
    let payout = id_of(&payout);
    paylink_server::ops::merchants::create_merchant(
        &app.store,
        &app.keys,
        &paylink_core::audit::Actor::cli("test"),
        "Corner shop",
        Some("owner@corner-shop.example".into()),
        false,
        app.now(),
    )
    .await
    .expect("a merchant signs up");
    let payer = "payer@mail.test";
    let proof = paylink_server::ops::disputes::charge_proof(&app.keys, &disputed);
    let form = format!("/disputes/new?payment={disputed}&proof={proof}");
    let sent = crate::web::Browser::new(&app)
        .submit(
            &form,
            "/disputes/new",
            &[
                ("payment", &disputed),
                ("proof", &proof),
                ("email", payer),
                ("text", "I did not buy anything in this shop."),
            ],
        )
        .await;
    let reference = sent
        .text_of("reference")
        .unwrap_or_else(|| panic!("no reference in {}", sent.text));

    // The first admin, made as `paylink operator create` does: the one-time link.
    let admin = "admin@ops.test";
    let password = "correct horse battery";
    let mailer = paylink_server::ops::accounts::Mailer {
        gateway: None,
        public_url: &app.address,
        seal: &app.keys.seal,
    };
    let made = paylink_server::ops::operators::create(
        &app.store,
        &mailer,
        &paylink_core::audit::Actor::cli("ops"),
        admin,
        paylink_core::audit::Role::Admin,
        app.now(),
    )
    .await
    .expect("the CLI makes an operator");

    let mut b = Browser::start("console").await;
    b.goto(&made.link).await;
    b.fill("New password", password).await;
    b.screenshot("choose-password").await;
    b.click_button("Choose a password").await;
    b.wait_for_url(&app.url("/admin/account")).await;
    assert_eq!(b.text("#email").await, admin);
    assert_eq!(b.text("#totp-state").await, "The second factor is off.");

    // The second factor, from the secret the page shows.
    let secret = b.text("#totp-secret").await;
    let code = authenticator_code(&app, &secret);
    // The first "Current password" on the page is the second factor's (the password form's
    // comes after it).
    b.fill("Current password", password).await;
    b.fill("Authenticator code", &code).await;
    b.screenshot("second-factor-offered").await;
    b.click_button("Turn on").await;
    assert_eq!(
        b.text("#totp-state").await,
        "The second factor is on: sign-in asks for a code."
    );
    b.screenshot("second-factor-on").await;

    // Signing in again takes the next code: the one used to turn it on is spent.
    b.click_button("Sign out").await;
    b.wait_for_url(&app.url("/admin/sign-in")).await;
    app.advance_ms(30_000);
    b.fill("Email", admin).await;
    b.fill("Password", password).await;
    let code = authenticator_code(&app, &secret);
    b.fill("Authenticator code", &code).await;
    b.screenshot("sign-in").await;
    b.click_button("Sign in to the console").await;
    assert_eq!(b.url().await, app.url("/admin"));
    assert_eq!(b.text("h1").await, "Overview");
    assert_eq!(b.text("#payments-30d").await, "4");
    b.wait_for("#charts-24h svg").await;
    b.screenshot("overview").await;

    // A colleague for support.
    b.click_link("Operators").await;
    b.fill("Email", "support@ops.test").await;
    b.choose("Role", "support").await;
    b.click_button("Create operator").await;
    assert!(b
        .text("#operator-link")
        .await
        .starts_with(&app.url("/admin/password/")));
    assert!(b
        .text("tr[data-email='support@ops.test']")
        .await
        .contains("invited"));
    b.screenshot("operator-created").await;

    // The new merchant, found by name and verified.
    b.click_link("Merchants").await;
    b.fill(
        "Merchant id, email (or its start), or part of the name",
        "Corner",
    )
    .await;
    b.click_button("Search").await;
    assert_eq!(b.texts("tr.merchant").await.len(), 1);
    b.click_link("Corner shop").await;
    assert_eq!(b.text("#merchant-verified").await, "not verified");
    b.click_button("Verify").await;
    assert_eq!(b.text("#merchant-verified").await, "verified");
    assert_eq!(b.text("#notice").await, "Done.");
    b.screenshot("merchant-verified").await;

    // The payout waiting for an operator: ticked, approved, confirmed.
    b.click_link("Payouts").await;
    let row = b.text(&format!("tr[data-payout='{payout}']")).await;
    assert!(row.contains("1000.00"), "{row}");
    assert!(row.contains("Test merchant"), "{row}");
    b.tick(&payout).await;
    b.screenshot("payout-queue").await;
    b.click_button("Approve selected").await;
    let question = b.text("#question").await;
    assert!(question.starts_with("Approve 1 payout(s)"), "{question}");
    assert!(question.contains("1000.00 RUB"), "{question}");
    b.screenshot("payout-confirm").await;
    b.click_button("Confirm").await;
    assert_eq!(b.text("#summary-approved").await, "Approved: 1");
    assert!(b.texts("tr.payout").await.is_empty());
    b.screenshot("payout-approved").await;
    assert_eq!(
        app.wait_payout(app.token(), &payout).await["status"],
        json!("SUCCESS")
    );

    // The payer's dispute, answered; the answer is emailed to them.
    b.click_link("Disputes").await;
    b.follow(&format!(
        "//tr[@class='dispute']//a[normalize-space()={}]",
        xpath_literal(&reference)
    ))
    .await;
    assert_eq!(b.text("#dispute-status").await, "open");
    assert_eq!(b.text("#payer-email").await, payer);
    assert_eq!(b.text("#charge-amount").await, "1250.00 RUB");
    let answer = "We asked Test merchant for the receipt and will write again within two days.";
    b.fill("Text (emailed to the payer)", answer).await;
    b.click_button("Reply").await;
    assert_eq!(b.text("#notice").await, "Done.");
    assert_eq!(b.text("#dispute-status").await, "answered");
    let said = b.text("tr.message[data-author='operator']").await;
    assert!(said.contains(answer), "{said}");
    b.screenshot("dispute-answered").await;
    b.scroll_to("#messages").await;
    b.screenshot("dispute-messages").await;
    let mails = paylink_server::ops::accounts::mail_messages(&app.store, &app.keys, 50)
        .await
        .expect("the outbox reads");
    assert!(
        mails
            .iter()
            .any(|m| m.to == payer && m.text.contains(answer)),
        "{mails:?}"
    );

    // An exchange rate, confirmed, in its history.
    b.click_link("Money settings").await;
    b.choose("From", "USD").await;
    b.choose("To", "RUB").await;
    b.fill("Rate", "92.5").await;
    b.click_button("Set rate").await;
    let question = b.text("#question").await;
    assert!(question.starts_with("Set 1 USD = 92.5 RUB"), "{question}");
    b.screenshot("fx-confirm").await;
    b.click_button("Confirm").await;
    assert_eq!(b.text("#fx-history-pair").await, "USD/RUB");
    assert_eq!(b.texts("#fx-history .rate").await[0], "92.5");
    assert_eq!(
        b.text("tr.fx-rate[data-pair='USD/RUB'] .rate").await,
        "92.5"
    );
    b.scroll_to("#fx").await;
    b.screenshot("fx-set").await;

    // Everything above, in the audit log, by this operator.
    b.click_link("Audit log").await;
    let entries = b.texts("tr.audit-entry").await;
    for action in [
        "operator.totp",
        "operator.create",
        "merchant.verify",
        "payout.approve",
        "dispute.reply",
        "fx.set",
    ] {
        assert!(
            entries
                .iter()
                .any(|e| e.contains(action) && e.contains(admin)),
            "no {action} by {admin} in {entries:#?}"
        );
    }
    b.screenshot("audit-log").await;
    b.fill("Action", "payout.").await;
    b.click_button("Search").await;
    let entries = b.texts("tr.audit-entry").await;
    assert_eq!(entries.len(), 1, "{entries:#?}");
    assert!(entries[0].contains("payout.approve"), "{entries:#?}");
    assert!(entries[0].contains(&payout), "{entries:#?}");
    b.screenshot("audit-log-payouts").await;
    b.quit().await;
}
