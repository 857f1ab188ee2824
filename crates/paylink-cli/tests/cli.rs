//! The `paylink` binary as an operator runs it: admin commands against a fresh database (a temp
//! SQLite file, or a new PostgreSQL database when `PAYLINK_TEST_DATABASE_URL` is set), and
//! `paylink serve` as a child process checked over HTTP.
//!
//! Every child runs in a scratch working directory with no `PAYLINK_*` variable inherited from
//! the test's environment; variables a test wants are set on the child `Command` only.

#[path = "cli/retention.rs"]
mod retention;

use paylink_core::id::ShopId;
use paylink_core::merchant::Shop;
use paylink_sdk::testing::{Received, Receiver};
use paylink_store::testing::TestDatabase;
use paylink_store::{Store, StoreOptions};
use reqwest::StatusCode;
use serde_json::{json, Map, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tempfile::TempDir;

const PAYLINK: &str = env!("CARGO_BIN_EXE_paylink");

/// Every variable the binary reads; none may leak in from the developer's shell.
const PAYLINK_VARS: &[&str] = &[
    "PAYLINK_DATABASE_URL",
    "PAYLINK_CONFIG",
    "PAYLINK_LISTEN",
    "PAYLINK_PUBLIC_URL",
    "PAYLINK_DEFAULT_COMMISSION",
    "PAYLINK_WRITERS",
    "PAYLINK_METRICS_LISTEN",
    "PAYLINK_LOG_FORMAT",
    "PAYLINK_POSTBACKS_RETRY_SCHEDULE",
    "PAYLINK_POSTBACKS_JITTER_PERCENT",
    "PAYLINK_POSTBACKS_TIMEOUT",
    "PAYLINK_POSTBACKS_LEASE",
    "PAYLINK_POSTBACKS_RETENTION_DAYS",
    "PAYLINK_POSTBACKS_POLL_INTERVAL",
    "PAYLINK_POSTBACKS_ALLOW_PRIVATE_RECEIVERS",
    "PAYLINK_POSTBACKS_DISPATCH",
    "PAYLINK_MONEY_SETTLE_AFTER",
    "PAYLINK_MONEY_POLL_INTERVAL",
    "PAYLINK_MONEY_SANDBOX_PAYOUT_DELAY",
    "PAYLINK_MONEY_MODERATION_THRESHOLD",
    "PAYLINK_MONEY_DAILY_PAYOUT_LIMIT",
    "PAYLINK_MONEY_MONTHLY_PAYOUT_LIMIT",
    "PAYLINK_MONEY_CARD_PAYOUTS",
    "PAYLINK_MONEY_SBP_PAYOUTS",
    "PAYLINK_MONEY_WORK",
    "PAYLINK_KEY_FILE",
    "PAYLINK_KEYS",
    "PAYLINK_MODE",
    "PAYLINK_IDEMPOTENCY_KEEP",
    "RUST_LOG",
];

/// Where a fixture keeps the key file it made, inside its scratch directory.
const FIXTURE_KEY_FILE: &str = "keys/paylink.key";

/// How long a child may go without answering before the test gives up: a bound on hangs,
/// not a timing assertion.
const PATIENCE: Duration = Duration::from_secs(120);

/// The rounds of a polling loop: as many as fit in [`PATIENCE`], whatever each one takes.
fn patience() -> impl Iterator<Item = ()> {
    let deadline = Instant::now() + PATIENCE;
    std::iter::from_fn(move || (Instant::now() < deadline).then_some(()))
}

/// `paylink ARGS` run in `dir`, with a clean `PAYLINK_*` environment; in a fixture's directory,
/// with `PAYLINK_KEY_FILE` naming the fixture's key file, as an operator sets it.
fn paylink(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(PAYLINK);
    cmd.args(args).current_dir(dir).stdin(Stdio::null());
    for var in PAYLINK_VARS {
        cmd.env_remove(var);
    }
    // Servers run side by side: each one's metrics on a port of its own.
    cmd.env("PAYLINK_METRICS_LISTEN", "127.0.0.1:0");
    // Every child logs as collectors read it, verbosely: each server's log is checked for
    // secrets and shape when the server stops (see `Server`'s `Drop`). A test may override.
    cmd.env("PAYLINK_LOG_FORMAT", "json");
    cmd.env("RUST_LOG", "debug");
    let key_file = dir.join(FIXTURE_KEY_FILE);
    if key_file.exists() {
        cmd.env("PAYLINK_KEY_FILE", key_file);
    }
    cmd
}

/// A finished `paylink` command.
#[derive(Debug)]
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Exit 0 and exactly one JSON object on stdout.
    fn json(&self) -> Map<String, Value> {
        assert!(self.status.success(), "paylink failed: {self:#?}");
        let lines: Vec<&str> = self.stdout.lines().collect();
        assert_eq!(lines.len(), 1, "expected one line of JSON: {self:#?}");
        match serde_json::from_str(lines[0]) {
            Ok(Value::Object(object)) => object,
            other => panic!("not a JSON object ({other:?}): {self:#?}"),
        }
    }

    /// Exit 0, whatever the output form.
    fn json_or_text(&self) {
        assert!(self.status.success(), "paylink failed: {self:#?}");
    }

    /// A refusal: non-zero exit, nothing on stdout, and a message naming each of `words`.
    fn refused(&self, words: &[&str]) {
        assert!(!self.status.success(), "expected a refusal: {self:#?}");
        assert!(
            self.stdout.trim().is_empty(),
            "a refusal printed: {self:#?}"
        );
        for word in words {
            assert!(
                self.stderr.contains(word),
                "the message does not name {word:?}: {self:#?}"
            );
        }
    }
}

async fn run(cmd: Command) -> Run {
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.kill_on_drop(true);
    let out = tokio::time::timeout(PATIENCE, cmd.output())
        .await
        .expect("paylink did not exit")
        .expect("run paylink");
    Run {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn keys(object: &Map<String, Value>) -> Vec<&str> {
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

fn text<'a>(object: &'a Map<String, Value>, key: &str) -> &'a str {
    object
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string {key:?} in {object:?}"))
}

fn assert_id(id: &str) {
    assert!(
        id.len() == 10 && id.bytes().all(|b| b.is_ascii_alphanumeric()),
        "not 10 base62 characters: {id:?}"
    );
}

/// `<digits>|<secret>`.
fn assert_token(token: &str) {
    let (id, secret) = token
        .split_once('|')
        .unwrap_or_else(|| panic!("no `|` in the token {token:?}"));
    assert!(
        !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()),
        "token id is not digits: {token:?}"
    );
    assert!(
        secret.len() >= 16 && secret.bytes().all(|b| b.is_ascii_alphanumeric()),
        "token secret is not base62: {token:?}"
    );
}

/// What `merchant create --json` gives the operator.
struct Merchant {
    id: String,
    shop: String,
    token: String,
}

impl Merchant {
    fn from_json(object: &Map<String, Value>) -> Merchant {
        assert_eq!(
            keys(object),
            ["api_token", "merchant_id", "shop_id", "webhook_secret"]
        );
        assert!(text(object, "webhook_secret").starts_with("whsec_"));
        let m = Merchant {
            id: text(object, "merchant_id").to_string(),
            shop: text(object, "shop_id").to_string(),
            token: text(object, "api_token").to_string(),
        };
        assert_id(&m.id);
        assert_id(&m.shop);
        assert_token(&m.token);
        m
    }
}

/// A fresh database and a scratch working directory.
struct Fixture {
    db: TestDatabase,
    dir: TempDir,
}

impl Fixture {
    async fn new() -> Fixture {
        let fx = Fixture {
            db: TestDatabase::new().await,
            dir: tempfile::tempdir().expect("temp dir"),
        };
        // The keys live outside the database: made the way the docs tell an operator to.
        std::fs::create_dir(fx.dir.path().join("keys")).expect("a key directory");
        let made = paylink(
            fx.dir.path(),
            &["keys", "generate", "--out", FIXTURE_KEY_FILE],
        )
        .output()
        .expect("run paylink keys generate");
        assert!(made.status.success(), "{made:?}");
        fx
    }

    fn key_file(&self) -> PathBuf {
        self.dir.path().join(FIXTURE_KEY_FILE)
    }

    /// `paylink ARGS --database-url <the test database>`.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = paylink(self.dir.path(), args);
        cmd.args(["--database-url", &self.db.url]);
        cmd
    }

    async fn admin(&self, args: &[&str]) -> Run {
        run(self.cmd(args)).await
    }

    /// As [`Fixture::admin`], with arguments built at run time.
    async fn admin_owned(&self, args: Vec<String>) -> Run {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.admin(&refs).await
    }

    async fn merchant(&self, name: &str) -> Merchant {
        Merchant::from_json(
            &self
                .admin(&["merchant", "create", "--name", name, "--json"])
                .await
                .json(),
        )
    }

    /// `paylink serve` on the test database and a free port.
    async fn serve(&self, args: &[&str]) -> Server {
        let mut cmd = self.cmd(&["serve", "--listen", "127.0.0.1:0"]);
        cmd.args(args);
        Server::start(cmd).await
    }

    /// `paylink serve` with these `PAYLINK_*` variables set.
    async fn serve_env(&self, vars: &[(&str, &str)]) -> Server {
        let mut cmd = self.cmd(&["serve", "--listen", "127.0.0.1:0"]);
        cmd.envs(vars.iter().copied());
        Server::start(cmd).await
    }

    fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).expect("write a file");
        path
    }

    /// Reads the database directly, for "nothing changed" checks.
    async fn store(&self) -> Store {
        Store::open(&self.db.url, StoreOptions::for_command())
            .await
            .expect("open the test database")
    }

    async fn shop(&self, id: &str) -> Option<Shop> {
        let store = self.store().await;
        let shop = store
            .shop(&ShopId::parse(id).expect("a shop id"))
            .await
            .expect("read the shop");
        store.close().await;
        shop
    }

    async fn merchant_count(&self) -> i64 {
        let store = self.store().await;
        let count = store.merchant_count().await.expect("count merchants");
        store.close().await;
        count
    }
}

/// A running `paylink serve`, killed when dropped.
struct Server {
    child: Child,
    /// `http://IP:PORT` from the `paylink listening on ...` line.
    base: String,
    /// stdout up to and including the listening line.
    banner: Vec<String>,
    stderr: Arc<Mutex<String>>,
    stderr_reader: Option<JoinHandle<()>>,
    http: reqwest::Client,
}

impl Server {
    async fn start(mut cmd: Command) -> Server {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start paylink serve");
        let stderr = Arc::new(Mutex::new(String::new()));
        let stderr_reader = {
            let sink = stderr.clone();
            let pipe = child.stderr.take().expect("stderr pipe");
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut sink = sink.lock().unwrap();
                    sink.push_str(&line);
                    sink.push('\n');
                }
            })
        };
        let (lines, received) = mpsc::channel();
        let pipe = child.stdout.take().expect("stdout pipe");
        // Keeps draining stdout after the banner so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        let mut server = Server {
            child,
            base: String::new(),
            banner: Vec::new(),
            stderr,
            stderr_reader: Some(stderr_reader),
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("HTTP client"),
        };
        let deadline = Instant::now() + PATIENCE;
        loop {
            match received.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => {
                    let base = line
                        .strip_prefix("paylink listening on ")
                        .and_then(|rest| rest.split_whitespace().next())
                        .map(str::to_string);
                    server.banner.push(line);
                    if let Some(base) = base {
                        server.base = base;
                        break;
                    }
                }
                Err(e) => server.fail(&format!("no `paylink listening on` line ({e})")),
            }
        }
        server.wait_healthy().await;
        server
    }

    /// Stops the child and panics with everything it printed.
    fn fail(&mut self, why: &str) -> ! {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.stderr_reader.take() {
            let _ = reader.join();
        }
        panic!(
            "paylink serve: {why}\nstdout: {:#?}\nstderr:\n{}",
            self.banner,
            self.stderr.lock().unwrap()
        );
    }

    async fn wait_healthy(&mut self) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(response) = self.http.get(self.url("/health")).send().await {
                if response.status() == StatusCode::OK {
                    let body: Value = response.json().await.expect("health JSON");
                    assert_eq!(body["status"], "ok");
                    return;
                }
            }
            if Instant::now() > deadline {
                self.fail("/health never answered 200");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn banner(&self) -> String {
        self.banner.join("\n")
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The body of `GET path`, whatever its status.
    async fn text(&self, path: &str) -> String {
        self.http
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// A Cardlink form POST with the merchant's bearer token.
    async fn post(&self, path: &str, token: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.url(path))
            .header("Authorization", format!("Bearer {token}"))
            .header("Accept", "application/json")
            .form(form)
            .send()
            .await
            .expect("request to paylink serve");
        let status = response.status();
        let body = response.json().await.expect("a JSON answer");
        (status, body)
    }

    async fn get(&self, path: &str, token: &str, query: &[(&str, &str)]) -> (StatusCode, Value) {
        let response = self
            .http
            .get(self.url(path))
            .header("Authorization", format!("Bearer {token}"))
            .query(query)
            .send()
            .await
            .expect("request to paylink serve");
        let status = response.status();
        let body = response.json().await.expect("a JSON answer");
        (status, body)
    }

    /// `POST /api/v1/bill/create` with `amount=10&shop_id=SHOP`.
    async fn create_bill(&self, token: &str, shop: &str) -> (StatusCode, Value) {
        self.post(
            "/api/v1/bill/create",
            token,
            &[("amount", "10"), ("shop_id", shop)],
        )
        .await
    }

    /// A bill that must be created; returns the answer.
    async fn bill_ok(&self, token: &str, shop: &str, amount: &str) -> Value {
        let (status, body) = self
            .post(
                "/api/v1/bill/create",
                token,
                &[("amount", amount), ("shop_id", shop)],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "bill create refused: {body}");
        assert_eq!(body["success"], "true", "{body}");
        assert!(body["bill_id"].as_str().is_some_and(|id| !id.is_empty()));
        body
    }

    /// The bill create answers `status` with `{"message": message}`.
    async fn bill_refused(&self, token: &str, shop: &str, status: StatusCode, message: &str) {
        let (got, body) = self.create_bill(token, shop).await;
        assert_eq!(got, status, "{body}");
        assert_eq!(body["message"], message, "{body}");
    }

    /// Pays `bill` with a sandbox card that always succeeds; returns the payment.
    async fn pay(&self, token: &str, bill: &str) -> Value {
        let (status, payment) = self
            .post(
                "/sandbox/pay",
                token,
                &[
                    ("bill_id", bill),
                    ("method", "BANK_CARD"),
                    ("card_number", "4242424242424242"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{payment}");
        assert_eq!(payment["status"], "SUCCESS", "{payment}");
        payment
    }

    /// SIGTERM, then the exit status.
    fn terminate(&mut self) -> ExitStatus {
        let pid = libc::pid_t::try_from(self.child.id()).expect("a pid");
        // SAFETY: kill(2) takes plain integers; `pid` is our own child, not yet reaped.
        let sent = unsafe { libc::kill(pid, libc::SIGTERM) };
        assert_eq!(sent, 0, "kill(SIGTERM) failed");
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for paylink") {
                if let Some(reader) = self.stderr_reader.take() {
                    let _ = reader.join();
                }
                return status;
            }
            if Instant::now() > deadline {
                self.fail("did not stop on SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    /// Kills the server, and fails the test if it logged a panic: every panic is a bug, even
    /// one the server caught and answered with a 500.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.stderr_reader.take() {
            let _ = reader.join();
        }
        let log = self.stderr.lock().map(|l| l.clone()).unwrap_or_default();
        if std::thread::panicking() {
            return;
        }
        if log.contains("panicked") {
            panic!("paylink serve logged a panic:\n{log}");
        }
        if let Some(why) = log_problem(&log) {
            panic!("paylink serve's log {why}:\n{log}");
        }
    }
}

/// Card numbers the tests pay or pay out with: none may reach a log, at any level.
const TEST_CARDS: &[&str] = &[
    "4242424242424242",
    "5555555555554444",
    "4111111111111111",
    "4000000000000002",
    "4000000000009995",
    "4000000000003220",
    "2200000000000004",
];

/// What is wrong with a server's log, run with `--log-format json`: a line that is not one
/// JSON object, a line logged while handling a request that does not name the request's id, a
/// test card number, an API token (`<digits>|<40 letters and digits>`) or a webhook secret.
fn log_problem(log: &str) -> Option<String> {
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(Value::Object(object)) = serde_json::from_str::<Value>(line) else {
            return Some(format!("has a line that is not a JSON object: {line}"));
        };
        let spans = object.get("spans").and_then(Value::as_array);
        let in_request = spans.is_some_and(|s| s.iter().any(|s| s["name"] == "request"));
        let named = spans.is_some_and(|s| {
            s.iter()
                .any(|s| s["request_id"].as_str().is_some_and(|id| !id.is_empty()))
        });
        if in_request && !named {
            return Some(format!(
                "has a request's line without its request_id: {line}"
            ));
        }
    }
    if let Some(card) = TEST_CARDS.iter().find(|c| log.contains(*c)) {
        return Some(format!("holds the card number {card}"));
    }
    if log.contains("whsec_") {
        return Some("holds a webhook secret".into());
    }
    let bytes = log.as_bytes();
    for (i, _) in log.match_indices('|') {
        let digits_before = i > 0 && bytes[i - 1].is_ascii_digit();
        let secret = bytes
            .get(i + 1..i + 41)
            .is_some_and(|s| s.iter().all(u8::is_ascii_alphanumeric));
        if digits_before && secret {
            return Some("holds an API token".into());
        }
    }
    None
}

/// Splits a shell command line made of plain words and 'single-quoted' words.
fn shell_words(line: &str) -> Vec<String> {
    let (mut words, mut word) = (Vec::new(), String::new());
    let (mut in_word, mut quoted) = (false, false);
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    assert!(!quoted, "unbalanced quote in {line:?}");
    if in_word {
        words.push(word);
    }
    words
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[tokio::test]
async fn merchant_create_prints_one_json_object_whose_token_works_on_a_served_instance() {
    let fx = Fixture::new().await;
    let out = fx
        .admin(&[
            "merchant",
            "create",
            "--name",
            "Acme",
            "--email",
            "ops@acme.test",
            "--verified",
            "--json",
        ])
        .await;
    let m = Merchant::from_json(&out.json());

    // Without --json: readable lines, the token among them, and no JSON.
    let human = fx.admin(&["merchant", "create", "--name", "Acme 2"]).await;
    assert!(human.status.success(), "{human:#?}");
    assert!(
        human.stdout.contains("token") && serde_json::from_str::<Value>(&human.stdout).is_err(),
        "{human:#?}"
    );

    // Refusals create nothing.
    // Field rules read as they always have, naming the flag.
    fx.admin(&["merchant", "create", "--name", "  ", "--json"])
        .await
        .refused(&["--name: The name field is required."]);
    fx.admin(&["merchant", "create", "--json"])
        .await
        .refused(&["--name"]);
    assert_eq!(fx.merchant_count().await, 2);

    let server = fx.serve(&[]).await;
    let (status, body) = server.create_bill(&m.token, &m.shop).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["success"], "true", "{body}");
}

#[tokio::test]
async fn shop_create_and_update_change_what_the_server_accepts_and_bad_input_changes_nothing() {
    let fx = Fixture::new().await;
    let m = fx.merchant("Acme").await;
    let out = fx
        .admin(&[
            "shop",
            "create",
            "--merchant",
            &m.id,
            "--name",
            "Dollar shop",
            "--currency",
            "USD",
            "--result-url",
            "https://merchant.test/postback",
            "--success-url",
            "https://merchant.test/ok",
            "--fail-url",
            "https://merchant.test/fail",
            "--commission",
            "2.5",
            "--json",
        ])
        .await
        .json();
    assert_eq!(keys(&out), ["shop_id", "webhook_secret"]);
    assert!(text(&out, "webhook_secret").starts_with("whsec_"));
    let shop = text(&out, "shop_id").to_string();
    assert_id(&shop);
    assert_ne!(shop, m.shop);

    let server = fx.serve(&[]).await;
    // The shop's currency is the bill's default; its commission applies to payments.
    let bill = server.bill_ok(&m.token, &shop, "100").await;
    let bill_id = bill["bill_id"].as_str().unwrap();
    let (status, shown) = server
        .post("/api/v1/bill/status", &m.token, &[("id", bill_id)])
        .await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(shown["currency_in"], "USD", "{shown}");
    assert_eq!(shown["shop_id"], shop.as_str(), "{shown}");
    let payment = server.pay(&m.token, bill_id).await;
    assert_eq!(payment["commission"].to_string(), "2.5", "{payment}");

    // Disabled: bills are refused; enabled again: accepted. The first shop is untouched.
    let out = fx
        .admin(&[
            "shop",
            "update",
            "--shop",
            &shop,
            "--enabled",
            "false",
            "--json",
        ])
        .await
        .json();
    assert_eq!(out["shop_id"], shop.as_str());
    assert_eq!(out["enabled"], false);
    server
        .bill_refused(
            &m.token,
            &shop,
            StatusCode::FORBIDDEN,
            "api:error.shop_not_enabled",
        )
        .await;
    server.bill_ok(&m.token, &m.shop, "10").await;
    let out = fx
        .admin(&[
            "shop",
            "update",
            "--shop",
            &shop,
            "--enabled",
            "true",
            "--json",
        ])
        .await
        .json();
    assert_eq!(out["enabled"], true);
    server.bill_ok(&m.token, &shop, "10").await;

    // Bad input: a clear message, and the shop exactly as it was.
    let before = fx.shop(&shop).await.expect("the shop exists");
    let update = |extra: &[&str]| {
        let mut args = vec!["shop", "update", "--shop", shop.as_str()];
        args.extend_from_slice(extra);
        fx.cmd(&args)
    };
    run(update(&["--currency", "XYZ"]))
        .await
        .refused(&["--currency", "XYZ"]);
    run(update(&["--result-url", "ftp://merchant.test/postback"]))
        .await
        .refused(&["--result-url"]);
    run(update(&["--success-url", "not a url"]))
        .await
        .refused(&["--success-url"]);
    run(update(&["--commission", "150"]))
        .await
        .refused(&["--commission", "150"]);
    // A good change next to a bad one is not half applied.
    run(update(&[
        "--currency",
        "EUR",
        "--fail-url",
        "mailto:ops@merchant.test",
    ]))
    .await
    .refused(&["--fail-url"]);
    run(update(&["--enabled", "maybe"]))
        .await
        .refused(&["--enabled"]);
    fx.admin(&[
        "shop",
        "update",
        "--shop",
        "NoSuchShop",
        "--enabled",
        "false",
    ])
    .await
    .refused(&["no shop", "NoSuchShop"]);
    assert_eq!(fx.shop(&shop).await.as_ref(), Some(&before));

    let create = |extra: &[&str]| {
        let mut args = vec!["shop", "create", "--merchant", m.id.as_str(), "--json"];
        args.extend_from_slice(extra);
        fx.cmd(&args)
    };
    run(create(&["--name", "Bad", "--currency", "ABC"]))
        .await
        .refused(&["--currency", "ABC"]);
    run(create(&[
        "--name",
        "Bad",
        "--result-url",
        "merchant.test/postback",
    ]))
    .await
    .refused(&["--result-url"]);
    run(create(&["--currency", "EUR"]))
        .await
        .refused(&["--name"]);
    fx.admin(&[
        "shop",
        "create",
        "--merchant",
        "NoSuchMerchant",
        "--name",
        "Orphan",
        "--json",
    ])
    .await
    .refused(&["no merchant", "NoSuchMerchant"]);

    // Still a USD shop that takes bills.
    let bill = server.bill_ok(&m.token, &shop, "10").await;
    let (_, shown) = server
        .post(
            "/api/v1/bill/status",
            &m.token,
            &[("id", bill["bill_id"].as_str().unwrap())],
        )
        .await;
    assert_eq!(shown["currency_in"], "USD", "{shown}");
}

#[tokio::test]
async fn token_refresh_revokes_the_old_token_on_the_running_server() {
    let fx = Fixture::new().await;
    let m = fx.merchant("Acme").await;
    let server = fx.serve(&[]).await;
    server.bill_ok(&m.token, &m.shop, "10").await;

    let out = fx
        .admin(&["token", "refresh", "--merchant", &m.id, "--json"])
        .await
        .json();
    assert_eq!(keys(&out), ["api_token"]);
    let fresh = text(&out, "api_token").to_string();
    assert_token(&fresh);
    assert_ne!(fresh, m.token);
    server
        .bill_refused(
            &m.token,
            &m.shop,
            StatusCode::UNAUTHORIZED,
            "Unauthenticated.",
        )
        .await;
    server.bill_ok(&fresh, &m.shop, "10").await;

    // The text form says so, and its token replaces the previous one as well.
    let human = fx.admin(&["token", "refresh", "--merchant", &m.id]).await;
    assert!(human.status.success(), "{human:#?}");
    assert!(human.stdout.contains("no longer works"), "{human:#?}");
    let newest = human
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("token "))
        .unwrap_or_else(|| panic!("no token line: {human:#?}"))
        .trim()
        .to_string();
    assert_token(&newest);
    server
        .bill_refused(
            &fresh,
            &m.shop,
            StatusCode::UNAUTHORIZED,
            "Unauthenticated.",
        )
        .await;
    server.bill_ok(&newest, &m.shop, "10").await;

    fx.admin(&["token", "refresh", "--merchant", "NoSuchMerchant", "--json"])
        .await
        .refused(&["no merchant", "NoSuchMerchant"]);
    server.bill_ok(&newest, &m.shop, "10").await;
}

#[tokio::test]
async fn ban_and_subscription_take_effect_on_the_running_server() {
    let fx = Fixture::new().await;
    let m = fx.merchant("Acme").await;
    let other = fx.merchant("Bystander").await;
    let server = fx.serve(&[]).await;
    let forbidden = StatusCode::FORBIDDEN;

    let out = fx
        .admin(&["merchant", "ban", "--merchant", &m.id, "--json"])
        .await
        .json();
    assert_eq!(out["merchant_id"], m.id.as_str());
    assert_eq!(out["banned"], true);
    server
        .bill_refused(&m.token, &m.shop, forbidden, "api:error.merchant_banned")
        .await;
    server.bill_ok(&other.token, &other.shop, "10").await;

    let out = fx
        .admin(&["merchant", "unban", "--merchant", &m.id, "--json"])
        .await
        .json();
    assert_eq!(out["banned"], false);
    server.bill_ok(&m.token, &m.shop, "10").await;

    for (state, refusal) in [
        ("inactive", Some("api:error.merchant_subscription_inactive")),
        ("none", Some("api:error.merchant_subscription_not_found")),
        ("active", None),
    ] {
        let out = fx
            .admin(&[
                "merchant",
                "subscription",
                "--merchant",
                &m.id,
                "--state",
                state,
                "--json",
            ])
            .await
            .json();
        assert_eq!(out["subscription"], state);
        match refusal {
            Some(message) => {
                server
                    .bill_refused(&m.token, &m.shop, forbidden, message)
                    .await
            }
            None => {
                server.bill_ok(&m.token, &m.shop, "10").await;
            }
        }
    }

    // The text form is one readable line.
    let human = fx.admin(&["merchant", "ban", "--merchant", &m.id]).await;
    assert!(human.status.success(), "{human:#?}");
    assert!(human.stdout.contains("banned"), "{human:#?}");
    let human = fx.admin(&["merchant", "unban", "--merchant", &m.id]).await;
    assert!(human.status.success(), "{human:#?}");
    assert!(human.stdout.contains("unbanned"), "{human:#?}");
    server.bill_ok(&m.token, &m.shop, "10").await;

    fx.admin(&["merchant", "ban", "--merchant", "NoSuchMerchant"])
        .await
        .refused(&["no merchant", "NoSuchMerchant"]);
    fx.admin(&[
        "merchant",
        "subscription",
        "--merchant",
        &m.id,
        "--state",
        "paused",
    ])
    .await
    .refused(&["--state", "paused", "active"]);
    server.bill_ok(&m.token, &m.shop, "10").await;
}

#[tokio::test]
async fn migrate_is_idempotent_on_a_fresh_database() {
    let fx = Fixture::new().await;
    for _ in 0..2 {
        let out = fx.admin(&["migrate"]).await;
        assert!(out.status.success(), "{out:#?}");
        assert!(out.stdout.contains("up to date"), "{out:#?}");
    }
    let m = fx.merchant("Acme").await;
    let out = fx.admin(&["migrate"]).await;
    assert!(out.status.success(), "{out:#?}");
    // The data survived: the merchant is still there to act on.
    fx.admin(&["merchant", "ban", "--merchant", &m.id, "--json"])
        .await
        .json();
    assert_eq!(fx.merchant_count().await, 1);
}

#[tokio::test]
async fn serve_without_merchants_prints_the_first_run_hint() {
    let fx = Fixture::new().await;
    let server = fx.serve(&[]).await;
    let banner = server.banner();
    assert!(banner.contains("no merchants yet"), "{banner}");
    assert!(banner.contains("paylink merchant create"), "{banner}");
    drop(server);

    fx.merchant("Acme").await;
    let server = fx.serve(&[]).await;
    assert!(!server.banner().contains("no merchants yet"));

    // A second server on a taken address says so and exits.
    let taken = server.base.trim_start_matches("http://");
    fx.admin(&["serve", "--listen", taken])
        .await
        .refused(&["cannot listen", taken]);
}

#[tokio::test]
async fn serve_demo_prints_a_curl_command_that_works() {
    let fx = Fixture::new().await;
    let server = fx.serve(&["--demo"]).await;
    let banner = server.banner();
    assert!(!banner.contains("no merchants yet"), "{banner}");
    let token = banner
        .lines()
        .find_map(|l| l.strip_prefix("API token: "))
        .unwrap_or_else(|| panic!("no token: {banner}"))
        .trim();
    assert_token(token);
    let shop = banner
        .lines()
        .find_map(|l| l.split_once(" with shop ").map(|(_, shop)| shop.trim()))
        .unwrap_or_else(|| panic!("no shop id: {banner}"));
    assert_id(shop);
    let curl = banner
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("curl "))
        .unwrap_or_else(|| panic!("no curl command: {banner}"));

    // Do what the command says, as curl would.
    let (mut url, mut headers, mut data) = (None, Vec::new(), Vec::new());
    let mut words = shell_words(curl).into_iter().skip(1);
    while let Some(word) = words.next() {
        match word.as_str() {
            "-s" => {}
            "-H" => headers.push(words.next().expect("a header")),
            "-d" => data.push(words.next().expect("data")),
            w if w.starts_with("http://") || w.starts_with("https://") => url = Some(word),
            w => panic!("unexpected curl argument {w:?} in {curl}"),
        }
    }
    let url = url.unwrap_or_else(|| panic!("no URL in {curl}"));
    assert!(
        headers.contains(&format!("Authorization: Bearer {token}")),
        "{curl}"
    );
    assert!(data.contains(&format!("shop_id={shop}")), "{curl}");
    let mut request = server
        .http
        .post(&url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(data.join("&"));
    for header in &headers {
        let (name, value) = header.split_once(": ").expect("Name: value");
        request = request.header(name, value);
    }
    let response = request.send().await.expect("the printed URL answers");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["success"], "true", "{body}");
    // Without --public-url, links point at the port actually bound, not at port 0.
    let link = body["link_url"].as_str().unwrap_or_default();
    assert!(
        link.starts_with(&format!("{}/link/", server.base)),
        "{body} from {}",
        server.base
    );
    assert!(
        banner.contains(&format!("public URL {}", server.base)),
        "{banner}"
    );
    // The printed one-time link opens the merchant app's password form.
    let app_link = banner
        .lines()
        .find_map(|l| l.trim().strip_prefix("merchant app: open "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no merchant app link: {banner}"));
    assert!(
        app_link.starts_with(&format!("{}/password/", server.base)),
        "{app_link}"
    );
    let form = server
        .http
        .get(app_link)
        .send()
        .await
        .expect("the link answers");
    assert_eq!(form.status(), StatusCode::OK);
    let html = form.text().await.expect("HTML");
    assert!(html.contains("Choose a password"), "{html}");
}

#[tokio::test]
async fn configuration_comes_from_the_file_then_the_environment_then_flags() {
    let fx = Fixture::new().await;
    let config = fx.file(
        "settings.toml",
        &format!(
            "listen = \"127.0.0.2:0\"\npublic_url = \"https://file.example/\"\n\
             database_url = {}\ndefault_commission = \"5\"\n",
            toml_string(&fx.db.url)
        ),
    );
    let config = config.to_str().unwrap();
    let dir = fx.dir.path();

    // Admin commands find the database through PAYLINK_DATABASE_URL, and through the file.
    let mut by_env = paylink(dir, &["merchant", "create", "--name", "Env", "--json"]);
    by_env.env("PAYLINK_DATABASE_URL", &fx.db.url);
    let m = Merchant::from_json(&run(by_env).await.json());
    let by_file = paylink(
        dir,
        &[
            "merchant", "create", "--name", "File", "--config", config, "--json",
        ],
    );
    let m2 = Merchant::from_json(&run(by_file).await.json());
    assert_eq!(fx.merchant_count().await, 2);

    // The file alone: its listen address, database, public URL and commission.
    let server = Server::start(paylink(dir, &["serve", "--config", config])).await;
    assert!(
        server.base.starts_with("http://127.0.0.2:"),
        "{}",
        server.banner()
    );
    let bill = server.bill_ok(&m.token, &m.shop, "100").await;
    let link = bill["link_url"].as_str().unwrap();
    assert!(link.starts_with("https://file.example/link/"), "{bill}");
    let payment = server
        .pay(&m.token, bill["bill_id"].as_str().unwrap())
        .await;
    assert_eq!(payment["commission"].to_string(), "5", "{payment}");
    server.bill_ok(&m2.token, &m2.shop, "10").await;
    drop(server);

    // PAYLINK_CONFIG names the file; PAYLINK_PUBLIC_URL beats the file.
    let mut cmd = paylink(dir, &["serve"]);
    cmd.env("PAYLINK_CONFIG", config)
        .env("PAYLINK_PUBLIC_URL", "https://env.example");
    let server = Server::start(cmd).await;
    let bill = server.bill_ok(&m.token, &m.shop, "10").await;
    assert!(
        bill["link_url"]
            .as_str()
            .unwrap()
            .starts_with("https://env.example/link/"),
        "{bill}"
    );
    drop(server);

    // --public-url beats the environment.
    let mut cmd = paylink(dir, &["serve", "--public-url", "https://flag.example"]);
    cmd.env("PAYLINK_CONFIG", config)
        .env("PAYLINK_PUBLIC_URL", "https://env.example");
    let server = Server::start(cmd).await;
    let bill = server.bill_ok(&m.token, &m.shop, "10").await;
    assert!(
        bill["link_url"]
            .as_str()
            .unwrap()
            .starts_with("https://flag.example/link/"),
        "{bill}"
    );
}

#[tokio::test]
async fn bad_configuration_is_refused_naming_the_key() {
    let fx = Fixture::new().await;
    let dir = fx.dir.path();
    let unknown = fx.file(
        "unknown.toml",
        "listen = \"127.0.0.1:0\"\ncolour = \"blue\"\n",
    );
    let unknown = unknown.to_str().unwrap();
    for args in [
        vec!["serve", "--config", unknown],
        vec!["migrate", "--config", unknown],
        vec!["merchant", "create", "--name", "X", "--config", unknown],
    ] {
        run(paylink(dir, &args)).await.refused(&["colour"]);
    }
    let mut cmd = paylink(dir, &["migrate"]);
    cmd.env("PAYLINK_CONFIG", unknown);
    run(cmd).await.refused(&["colour"]);
    run(paylink(dir, &["migrate", "--config", "missing.toml"]))
        .await
        .refused(&["missing.toml"]);

    // Bad values, from a flag, a variable or the file.
    run(paylink(dir, &["serve", "--listen", "nowhere"]))
        .await
        .refused(&["listen", "nowhere"]);
    let mut cmd = paylink(dir, &["serve"]);
    cmd.env("PAYLINK_LISTEN", "127.0.0.1:99999");
    run(cmd).await.refused(&["listen", "99999"]);
    let file = fx.file("listen.toml", "listen = \"localhost\"\n");
    run(paylink(dir, &["serve", "--config", file.to_str().unwrap()]))
        .await
        .refused(&["listen", "localhost"]);

    let serve = ["serve", "--listen", "127.0.0.1:0"];
    let mut args = serve.to_vec();
    args.extend(["--default-commission", "150"]);
    run(paylink(dir, &args))
        .await
        .refused(&["default_commission", "150"]);
    let mut cmd = paylink(dir, &serve);
    cmd.env("PAYLINK_DEFAULT_COMMISSION", "lots");
    run(cmd).await.refused(&["default_commission", "lots"]);
    let file = fx.file("commission.toml", "default_commission = \"3,5\"\n");
    let mut args = serve.to_vec();
    args.extend(["--config", file.to_str().unwrap()]);
    run(paylink(dir, &args))
        .await
        .refused(&["default_commission", "3,5"]);
    let file = fx.file("commission-list.toml", "default_commission = [3]\n");
    let mut args = serve.to_vec();
    args.extend(["--config", file.to_str().unwrap()]);
    run(paylink(dir, &args))
        .await
        .refused(&["default_commission"]);

    let mut args = serve.to_vec();
    args.extend(["--public-url", "pay.example.com"]);
    run(paylink(dir, &args)).await.refused(&["public_url"]);

    // A database URL paylink does not speak is refused without repeating its password.
    for args in [&["migrate"][..], &["serve", "--listen", "127.0.0.1:0"]] {
        let mut cmd = paylink(dir, args);
        cmd.env(
            "PAYLINK_DATABASE_URL",
            "postgress://paylink:hunter2@db.internal/paylink",
        );
        let out = run(cmd).await;
        out.refused(&["database_url", "postgress://"]);
        assert!(!out.stderr.contains("hunter2"), "{out:#?}");
    }

    // Nothing was started or created on the way.
    assert!(!dir.join("paylink.db").exists());
}

#[tokio::test]
async fn serve_defaults_to_paylink_db_in_the_working_directory_and_keeps_it_across_restarts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dir = dir.path();
    let serve = || paylink(dir, &["serve", "--listen", "127.0.0.1:0"]);

    let mut server = Server::start(serve()).await;
    assert!(dir.join("paylink.db").exists());
    let banner = server.banner();
    assert!(banner.contains("sqlite://paylink.db"), "{banner}");
    assert!(banner.contains("no merchants yet"), "{banner}");

    // Admin commands default to the same file, while the server runs.
    let out = run(paylink(
        dir,
        &["merchant", "create", "--name", "Kept", "--json"],
    ))
    .await;
    let m = Merchant::from_json(&out.json());
    server.bill_ok(&m.token, &m.shop, "10").await;

    let status = server.terminate();
    assert!(status.success(), "SIGTERM should stop cleanly: {status:?}");
    // Its log, written to a pipe, is plain text: no terminal colour codes.
    let log = server.stderr.lock().unwrap().clone();
    assert!(!log.is_empty() && !log.contains('\u{1b}'), "{log:?}");

    let server = Server::start(serve()).await;
    assert!(!server.banner().contains("no merchants yet"));
    server.bill_ok(&m.token, &m.shop, "10").await;
}

#[tokio::test]
async fn help_is_sensible_and_never_shows_the_database_url() {
    let dir = tempfile::tempdir().expect("temp dir");
    let secret_url = "postgres://paylink:hunter2@db.internal/paylink";
    let help = |args: &[&str]| {
        let mut cmd = paylink(dir.path(), args);
        cmd.env("PAYLINK_DATABASE_URL", secret_url);
        run(cmd)
    };
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["migrate", "--help"],
        &["merchant", "create", "--help"],
        &["merchant", "ban", "--help"],
        &["merchant", "subscription", "--help"],
        &["shop", "create", "--help"],
        &["shop", "update", "--help"],
        &["token", "refresh", "--help"],
    ] {
        let out = help(args).await;
        assert!(out.status.success(), "{out:#?}");
        assert!(!out.stdout.contains("hunter2"), "{args:?}: {}", out.stdout);
        // Every option says what it does, on its line or the next.
        let lines: Vec<&str> = out.stdout.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let line = line.trim();
            if !line.starts_with('-') {
                continue;
            }
            let described = line
                .split_once("  ")
                .is_some_and(|(_, d)| !d.trim().is_empty())
                || lines
                    .get(i + 1)
                    .is_some_and(|next| !next.trim().is_empty() && !next.trim().starts_with('-'));
            assert!(described, "{args:?}: undocumented option {line:?}");
        }
    }

    let top = help(&["--help"]).await.stdout;
    for word in [
        "serve",
        "migrate",
        "merchant",
        "shop",
        "token",
        "--database-url",
        "--config",
    ] {
        assert!(top.contains(word), "paylink --help lacks {word}:\n{top}");
    }
    let serve = help(&["serve", "--help"]).await.stdout;
    for word in [
        "--listen",
        "--public-url",
        "--default-commission",
        "--demo",
        "--database-url",
        "PAYLINK_LISTEN",
        "PAYLINK_PUBLIC_URL",
    ] {
        assert!(serve.contains(word), "serve --help lacks {word}:\n{serve}");
    }
    let create = help(&["merchant", "create", "--help"]).await.stdout;
    for word in ["--name", "--email", "--verified", "--json"] {
        assert!(
            create.contains(word),
            "merchant create --help lacks {word}:\n{create}"
        );
    }

    // No command: the usage, on stderr, and a usage-error exit.
    let out = run(paylink(dir.path(), &[])).await;
    assert_eq!(out.status.code(), Some(2), "{out:#?}");
    assert!(out.stderr.contains("Usage"), "{out:#?}");
    let out = run(paylink(dir.path(), &["--version"])).await;
    assert!(out.stdout.contains(env!("CARGO_PKG_VERSION")), "{out:#?}");
}

/// The deliveries of postback `id` (its `webhook-id`), once there are `n` of them.
async fn deliveries(receiver: &Receiver, id: &str, n: usize) -> Vec<Received> {
    receiver
        .wait_until(n, id, |r| r.header("webhook-id") == id)
        .await
}

#[tokio::test]
async fn a_postback_survives_a_crash_after_commit_and_one_during_delivery() {
    let fx = Fixture::new().await;
    let m = fx.merchant("Crashing shop").await;
    let receiver = Receiver::start();
    let postback_url = receiver.url("/postback");
    let private = ("PAYLINK_POSTBACKS_ALLOW_PRIVATE_RECEIVERS", "1");
    let mut update = fx.cmd(&[
        "shop",
        "update",
        "--shop",
        &m.shop,
        "--result-url",
        &postback_url,
    ]);
    update.env(private.0, private.1);
    let updated = run(update).await;
    assert!(updated.status.success(), "{updated:#?}");

    // 1. Killed after the payment committed, before any delivery (this server does not
    //    dispatch at all, so nothing can have been sent).
    let server = fx
        .serve_env(&[private, ("PAYLINK_POSTBACKS_DISPATCH", "0")])
        .await;
    let bill_a = server.bill_ok(&m.token, &m.shop, "10").await;
    let bill_a = bill_a["bill_id"].as_str().unwrap().to_string();
    let paid_a = server.pay(&m.token, &bill_a).await;
    let id_a = format!("msg_{}", paid_a["id"].as_str().unwrap());
    drop(server); // SIGKILL

    // 2. Killed while the receiver holds the delivery open.
    receiver.hang(true);
    let server = fx
        .serve_env(&[
            private,
            ("PAYLINK_POSTBACKS_TIMEOUT", "5s"),
            ("PAYLINK_POSTBACKS_LEASE", "6s"),
        ])
        .await;
    // The first server's postback goes out at once and hangs too.
    let hung_a = deliveries(&receiver, &id_a, 1).await;
    let bill_b = server.bill_ok(&m.token, &m.shop, "20").await;
    let bill_b = bill_b["bill_id"].as_str().unwrap().to_string();
    let paid_b = server.pay(&m.token, &bill_b).await;
    let id_b = format!("msg_{}", paid_b["id"].as_str().unwrap());
    let hung_b = deliveries(&receiver, &id_b, 1).await;
    drop(server); // SIGKILL mid-delivery

    // 3. A new process delivers both once the dead one's lease runs out: same id, same body.
    receiver.hang(false);
    let server = fx.serve_env(&[private]).await;
    let a = deliveries(&receiver, &id_a, 2).await;
    let b = deliveries(&receiver, &id_b, 2).await;
    assert_eq!(a[1].body, hung_a[0].body);
    assert_eq!(b[1].body, hung_b[0].body);
    assert_eq!(b[1].field("Status"), "SUCCESS", "{:?}", b[1]);
    assert_eq!(a[1].field("InvId"), bill_a, "{:?}", a[1]);

    // The operator sees it delivered, and can send it again.
    let mut listed = Value::Null;
    for _ in patience() {
        let out = fx
            .admin(&["postback", "list", "--bill", &bill_b, "--json"])
            .await
            .json();
        listed = out["postbacks"][0].clone();
        if listed["state"] == "delivered" {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert_eq!(listed["id"], id_b.as_str(), "{listed}");
    assert_eq!(listed["state"], "delivered", "{listed}");
    assert_eq!(listed["url"], postback_url.as_str());
    assert_eq!(listed["fields"]["Status"], "SUCCESS");
    let history = listed["history"].as_array().unwrap();
    assert_eq!(history.last().unwrap()["http_status"], 200, "{listed}");
    let text = fx.admin(&["postback", "list", "--bill", &bill_b]).await;
    assert!(text.status.success());
    assert!(
        text.stdout.contains(&id_b) && text.stdout.contains("HTTP 200"),
        "{}",
        text.stdout
    );

    let out = fx
        .admin(&["postback", "redeliver", "--id", &id_b, "--json"])
        .await
        .json();
    assert_eq!(out["state"], "pending");
    let again = deliveries(&receiver, &id_b, 3).await;
    assert_eq!(again[2].body, hung_b[0].body);

    fx.admin(&["postback", "redeliver", "--id", "msg_nothing"])
        .await
        .refused(&["no postback", "msg_nothing"]);
    fx.admin(&["postback", "list", "--bill", "AAAAAAAAAA"])
        .await
        .refused(&["no bill", "AAAAAAAAAA"]);
    drop(server);
}

#[tokio::test]
async fn a_card_paid_on_the_hosted_page_is_never_logged_or_stored_in_full() {
    let fx = Fixture::new().await;
    let m = fx.merchant("Careful shop").await;
    let mut server = fx.serve_env(&[("RUST_LOG", "trace")]).await;
    let bill = server.bill_ok(&m.token, &m.shop, "10").await;
    let bill = bill["bill_id"].as_str().unwrap().to_string();
    let page = server.text(&format!("/transfer/{bill}")).await;
    let token = page
        .split("name=\"form\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a form token")
        .to_string();
    let (pan, cvc) = ("5555555555554444", "8531");
    let answer = server
        .http
        .post(server.url(&format!("/transfer/{bill}/card")))
        .form(&[
            ("form", token.as_str()),
            ("card_number", "5555 5555 5555 4444"),
            ("expiry", "11/39"),
            ("cvc", cvc),
            ("holder", "A PAYER"),
        ])
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
    let (_, payments) = server
        .get("/api/v1/bill/payments", &m.token, &[("id", bill.as_str())])
        .await;
    assert_eq!(
        payments["data"][0]["from_card"], "555555******4444",
        "{payments}"
    );
    let status = server.terminate();
    assert!(status.success());
    let logs = server.stderr.lock().unwrap().clone();
    assert!(logs.contains(&bill), "trace logs were written: {logs}");
    // (The CVC's digits could turn up in a timestamp by chance; the field never appears.)
    for secret in [
        pan,
        "5555 5555 5555 4444",
        "5555+5555",
        "5555%205555",
        "cvc",
    ] {
        assert!(
            !logs.to_lowercase().contains(secret),
            "{secret} in the logs:\n{logs}"
        );
    }
    // At rest: the SQLite files hold the masked number only.
    if let Some(path) = fx.db.url.strip_prefix("sqlite://") {
        for file in [path.to_string(), format!("{path}-wal")] {
            if let Ok(bytes) = std::fs::read(&file) {
                let text = String::from_utf8_lossy(&bytes);
                assert!(!text.contains(pan), "{pan} in {file}");
                assert!(!text.contains(&format!("cvc={cvc}")), "the CVC in {file}");
            }
        }
    }
}

/// The money commands as an operator uses them against a running server: rates, the SBP
/// dictionary, payout accounts, verification, moderation, payout listing and the ledger check,
/// which fails (non-zero) once the books are broken.
#[tokio::test]
async fn money_commands_drive_payouts_on_the_running_server_and_ledger_check_guards_the_books() {
    let fx = Fixture::new().await;
    let m = Merchant::from_json(
        &fx.admin(&["merchant", "create", "--name", "Payer", "--json"])
            .await
            .json(),
    );
    let checked = fx.admin(&["ledger", "check", "--json"]).await.json();
    assert_eq!(checked["ok"], true, "{checked:?}");

    // Rates.
    fx.admin(&[
        "fx",
        "set",
        "--from",
        "USD",
        "--to",
        "RUB",
        "--rate",
        "92.123456789",
    ])
    .await
    .refused(&["--rate"]);
    fx.admin(&["fx", "set", "--from", "USD", "--to", "XXX", "--rate", "1"])
        .await
        .refused(&["--to", "XXX"]);
    let set = fx
        .admin(&[
            "fx", "set", "--from", "USD", "--to", "RUB", "--rate", "92.5", "--json",
        ])
        .await
        .json();
    assert_eq!(set["rate"], "92.5");
    let listed = fx.admin(&["fx", "list", "--json"]).await.json();
    assert_eq!(listed["rates"][0]["from"], "USD", "{listed:?}");

    // The SBP dictionary: shipped, and managed.
    let banks = fx.admin(&["sbp-bank", "list", "--json"]).await.json();
    let all = banks["banks"].as_array().expect("banks");
    assert!(all.len() >= 60, "{} banks", all.len());
    assert!(all
        .iter()
        .any(|b| b["member_id"] == 100000000111i64 && b["bic"] == 44525225));
    fx.admin(&[
        "sbp-bank",
        "disable",
        "--member-id",
        "100000000111",
        "--json",
    ])
    .await
    .json();
    fx.admin(&["sbp-bank", "disable", "--member-id", "1"])
        .await
        .refused(&["no SBP bank", "1"]);
    let added = fx
        .admin(&[
            "sbp-bank",
            "add",
            "--member-id",
            "100000009999",
            "--name",
            "Тестбанк",
            "--name-en",
            "Testbank",
            "--bic",
            "44525999",
            "--json",
        ])
        .await
        .json();
    assert_eq!(added["enabled"], true);

    // Payout accounts: the card is masked in every output, never printed whole.
    let account = fx
        .admin(&[
            "payout-account",
            "add",
            "--merchant",
            &m.id,
            "--type",
            "card",
            "--identifier",
            "4242 4242 4242 4242",
            "--holder",
            "ivan petrov",
            "--json",
        ])
        .await;
    assert!(
        !account.stdout.contains("4242424242424242")
            && !account.stderr.contains("4242424242424242")
    );
    let account = account.json();
    assert_eq!(account["identifier"], "424242******4242");
    let account_id = text(&account, "payout_account_id").to_string();
    fx.admin(&[
        "payout-account",
        "add",
        "--merchant",
        &m.id,
        "--type",
        "card",
        "--identifier",
        "4242424242424241",
        "--holder",
        "X",
    ])
    .await
    .refused(&["--identifier"]);
    fx.admin(&[
        "payout-account",
        "add",
        "--merchant",
        &m.id,
        "--type",
        "sbp",
        "--identifier",
        "+79991234567",
        "--bank",
        "100000000111",
    ])
    .await
    .json_or_text();
    fx.admin(&[
        "merchant",
        "update",
        "--merchant",
        &m.id,
        "--payout-webhook-url",
        "ftp://x",
    ])
    .await
    .refused(&["--payout-webhook-url"]);
    let updated = fx
        .admin(&[
            "merchant",
            "update",
            "--merchant",
            &m.id,
            "--payout-moderation",
            "true",
            "--daily-payout-limit",
            "50000",
            "--json",
        ])
        .await
        .json();
    assert_eq!(updated["payout_moderation"], true);
    assert_eq!(updated["daily_payout_limit"], "50000.00");

    let server = fx
        .serve_env(&[
            ("PAYLINK_MONEY_SETTLE_AFTER", "0"),
            ("PAYLINK_MONEY_POLL_INTERVAL", "50ms"),
        ])
        .await;
    let bill = server.bill_ok(&m.token, &m.shop, "1000").await;
    server
        .pay(&m.token, text(bill.as_object().unwrap(), "bill_id"))
        .await;
    let personal = |token: String, account: String| {
        let server = &server;
        async move {
            server
                .post(
                    "/api/v1/payout/personal/create",
                    &token,
                    &[("amount", "200"), ("payout_account_id", &account)],
                )
                .await
        }
    };
    // Unverified: refused until the operator verifies the merchant.
    let (status, body) = personal(m.token.clone(), account_id.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["message"], "api:error.merchant_not_verified");
    fx.admin(&["merchant", "verify", "--merchant", &m.id, "--json"])
        .await
        .json();
    let (status, body) = personal(m.token.clone(), account_id.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let payout = body["data"][0].clone();
    assert_eq!(payout["status"], "MODERATING", "{body}");
    let payout_id = payout["id"].as_str().unwrap().to_string();

    let waiting = fx
        .admin(&["payout", "list", "--status", "MODERATING", "--json"])
        .await
        .json();
    assert_eq!(
        waiting["payouts"][0]["payout_id"],
        payout_id.as_str(),
        "{waiting:?}"
    );
    fx.admin(&["payout", "approve", "--id", &payout_id, "--json"])
        .await
        .json();
    let mut status = String::new();
    for _ in patience() {
        let (_, p) = server
            .get("/api/v1/payout/status", &m.token, &[("id", &payout_id)])
            .await;
        status = p["status"].as_str().unwrap_or_default().to_string();
        if status == "SUCCESS" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(status, "SUCCESS");
    // Paid out: too late to decline.
    fx.admin(&["payout", "decline", "--id", &payout_id])
        .await
        .refused(&[&payout_id, "SUCCESS"]);

    // A second payout declined by the operator gives its money back.
    let (_, body) = personal(m.token.clone(), account_id.clone()).await;
    let second = body["data"][0]["id"].as_str().unwrap().to_string();
    // A reason the merchant could not be shown is refused, naming the flag.
    let long = "r".repeat(501);
    for reason in [long.as_str(), "tab\tok but bell\u{7} not", "  "] {
        fx.admin(&["payout", "decline", "--id", &second, "--reason", reason])
            .await
            .refused(&["--reason"]);
    }
    let declined = fx
        .admin(&[
            "payout",
            "decline",
            "--id",
            &second,
            "--reason",
            "Docs missing",
            "--json",
        ])
        .await
        .json();
    assert_eq!(declined["status"], "DECLINED");
    // A banned account takes no more payouts.
    fx.admin(&["payout-account", "ban", "--id", &account_id, "--json"])
        .await
        .json();
    let (status, body) = personal(m.token.clone(), account_id.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["message"], "api:error.payout_account_banned");

    let checked = fx.admin(&["ledger", "check", "--json"]).await.json();
    assert_eq!(checked["ok"], true, "{checked:?}");
    assert!(
        checked["transactions"].as_i64().unwrap() >= 4,
        "{checked:?}"
    );

    // Money moved without its postings: the check names it and exits non-zero.
    let store = fx.store().await;
    let mut broken = store
        .payout(&paylink_core::id::PayoutId::parse(&payout_id).unwrap())
        .await
        .unwrap()
        .unwrap();
    broken.id = paylink_core::id::PayoutId::parse("Unlocked01").unwrap();
    broken.order_id = None;
    broken.status = paylink_core::payout::PayoutStatus::New;
    store
        .apply(paylink_core::plan::Plan::one(
            paylink_core::plan::Write::InsertPayout(broken),
        ))
        .await
        .unwrap();
    store.close().await;
    let failed = fx.admin(&["ledger", "check"]).await;
    assert!(!failed.status.success(), "{failed:#?}");
    assert!(failed.stdout.contains("locked"), "{failed:#?}");
}

/// One paid bill through the HTTP API, for load that writes the ledger.
async fn bill_and_pay(http: &reqwest::Client, base: &str, m: &Merchant) {
    let post = |path: &str, form: Vec<(&str, String)>| {
        http.post(format!("{base}{path}"))
            .bearer_auth(&m.token)
            .form(&form)
            .send()
    };
    let bill: Value = post(
        "/api/v1/bill/create",
        vec![("amount", "10".into()), ("shop_id", m.shop.clone())],
    )
    .await
    .expect("bill/create answers")
    .json()
    .await
    .expect("JSON");
    let id = bill["bill_id"].as_str().expect("a bill id").to_string();
    let paid = post(
        "/sandbox/pay",
        vec![
            ("bill_id", id),
            ("method", "BANK_CARD".into()),
            ("card_number", "4242424242424242".into()),
        ],
    )
    .await
    .expect("sandbox/pay answers");
    assert!(paid.status().is_success());
}

#[tokio::test]
async fn backup_under_write_load_restores_into_books_that_balance() {
    let fx = Fixture::new().await;
    let copy = fx.dir.path().join("copy.db");
    let copy_arg = copy.to_str().expect("a UTF-8 path");
    if !fx.db.url.starts_with("sqlite:") {
        // PostgreSQL has its own tools; the command says which.
        fx.admin(&["backup", "--to", copy_arg])
            .await
            .refused(&["pg_dump"]);
        return;
    }
    let m = fx.merchant("Backed up").await;
    let server = fx.serve(&[]).await;
    for _ in 0..20 {
        bill_and_pay(&server.http, &server.base, &m).await;
    }
    // Four clients keep paying bills until the backup is done.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let load: Vec<_> = (0..4)
        .map(|_| {
            let (http, base, stopped) = (server.http.clone(), server.base.clone(), stopped.clone());
            let m = Merchant {
                id: m.id.clone(),
                shop: m.shop.clone(),
                token: m.token.clone(),
            };
            tokio::spawn(async move {
                let mut paid = 0;
                while !*stopped.borrow() {
                    bill_and_pay(&http, &base, &m).await;
                    paid += 1;
                }
                paid
            })
        })
        .collect();
    let backed = fx
        .admin(&["backup", "--to", copy_arg, "--json"])
        .await
        .json();
    stop.send(true).expect("the load listens");
    let mut paid_during = 0;
    for task in load {
        paid_during += task.await.expect("the load ran");
    }
    assert!(paid_during > 0, "the backup ran under write load");
    assert_eq!(backed["integrity"], "ok", "{backed:?}");
    assert!(
        backed["pages"].as_u64().is_some_and(|p| p > 0),
        "{backed:?}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&copy)
            .expect("the copy")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the copy holds sealed secrets");
    }
    // A second backup never overwrites the first.
    fx.admin(&["backup", "--to", copy_arg])
        .await
        .refused(&["exists"]);

    // Restored into a new database, the books balance and the merchant's token works.
    let restored = format!("sqlite://{}", fx.dir.path().join("restored.db").display());
    let restore = |extra: &[&str]| {
        let mut cmd = paylink(fx.dir.path(), &["restore", "--from", copy_arg, "--json"]);
        cmd.args(["--database-url", &restored]).args(extra);
        cmd
    };
    run(restore(&[])).await.json();
    run(restore(&[])).await.refused(&["--force"]);
    run(restore(&["--force"])).await.json();
    let mut check = paylink(fx.dir.path(), &["ledger", "check", "--json"]);
    check.args(["--database-url", &restored]);
    let checked = run(check).await.json();
    assert_eq!(checked["ok"], true, "{checked:?}");
    let mut serve = paylink(
        fx.dir.path(),
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &restored,
        ],
    );
    serve.env("PAYLINK_MONEY_WORK", "false");
    let copy_server = Server::start(serve).await;
    copy_server.bill_ok(&m.token, &m.shop, "10").await;
}

/// `--log-format json`: every stderr line is one JSON object; every line a request logs names
/// that request's id, which its answer carries too; no secret reaches the log at any level.
#[tokio::test]
async fn json_logs_name_the_request_and_hold_no_secret() {
    let fx = Fixture::new().await;
    let m = fx.merchant("Logged shop").await;
    let partner = fx
        .admin(&["partner", "create", "--name", "Logged partner", "--json"])
        .await
        .json();
    let partner_key = text(&partner, "secret_key").to_string();
    let mut cmd = fx.cmd(&["serve", "--listen", "127.0.0.1:0", "--log-format", "json"]);
    cmd.env("RUST_LOG", "trace");
    let mut server = Server::start(cmd).await;
    let issued_pan = issue_and_reveal(&server, text(&partner, "auth_id"), &partner_key).await;
    let pan = "4111111111111111";
    let answer = server
        .http
        .post(server.url("/api/v1/bill/create"))
        .bearer_auth(&m.token)
        .header("x-request-id", "proxy-given-7")
        .form(&[("amount", "10"), ("shop_id", m.shop.as_str())])
        .send()
        .await
        .expect("bill/create answers");
    assert_eq!(answer.headers()["x-request-id"], "proxy-given-7");
    let bill: Value = answer.json().await.expect("JSON");
    let bill = bill["bill_id"].as_str().expect("a bill id").to_string();
    let paid = server
        .http
        .post(server.url(&format!("/sandbox/pay?card_number={pan}")))
        .bearer_auth(&m.token)
        .form(&[("bill_id", bill.as_str()), ("method", "BANK_CARD")])
        .send()
        .await
        .expect("sandbox/pay answers");
    let own_id = paid.headers()["x-request-id"]
        .to_str()
        .expect("text")
        .to_string();
    // A fresh one: the process's random prefix, then a counter.
    let (prefix, counter) = own_id.split_once('-').expect("prefix-counter");
    assert!(
        prefix.len() >= 12 && !counter.is_empty(),
        "a fresh id: {own_id}"
    );
    assert!(paid.status().is_success());
    assert!(server.terminate().success());
    let logs = server.stderr.lock().unwrap().clone();
    let lines: Vec<Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let of_request = |id: &str| {
        lines
            .iter()
            .filter(|l| {
                l["spans"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|s| s["request_id"] == id))
            })
            .count()
    };
    assert!(of_request("proxy-given-7") > 0, "{logs}");
    assert!(of_request(&own_id) > 0, "{logs}");
    // A line logged inside a request's span never lacks its id.
    for l in &lines {
        if let Some(spans) = l["spans"].as_array() {
            if spans.iter().any(|s| s["name"] == "request") {
                assert!(spans.iter().any(|s| s["request_id"].is_string()), "{l}");
            }
        }
    }
    let secret = m.token.split('|').nth(1).expect("a token secret");
    for needle in [pan, secret, &issued_pan, &partner_key] {
        assert!(!logs.contains(needle), "{needle} in the logs:\n{logs}");
    }
}

/// Issues a Card API card and opens its one-time page: the PAN it shows.
async fn issue_and_reveal(server: &Server, auth_id: &str, key: &str) -> String {
    let client = paylink_sdk::cardapi::CardApiClient::new(&server.base, auth_id, key);
    let added = client
        .add_client(
            1000,
            json!({"phone": "77011234567", "type": 1, "resident": 1,
                   "first_name": "Ivan", "last_name": "Petrov"}),
        )
        .await
        .expect("client/add answers");
    let card = client
        .issue_card(1000, added.str("client_id").expect("a client"), "KZT")
        .await
        .expect("card/issue answers");
    let secret = client
        .call(
            "/v5/card-api/card/secret",
            &json!({"request_id": "secret-1", "card_id": card.str("card_id").expect("a card")}),
        )
        .await
        .expect("card/secret answers");
    let url = secret.str("url").expect("a one-time URL").to_string();
    let page = server
        .http
        .post(url)
        .send()
        .await
        .expect("the page answers")
        .text()
        .await
        .expect("HTML");
    let pan: String = page
        .split("id=\"pan\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("the PAN on the page")
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    assert_eq!(pan.len(), 16, "{page}");
    pan
}

/// The default text log: every line written while handling a request names it in the span's
/// `request_id=`, as the JSON log does.
#[tokio::test]
async fn text_logs_name_the_request_on_every_line_of_it() {
    let fx = Fixture::new().await;
    let m = fx.merchant("Text-logged shop").await;
    let mut cmd = fx.cmd(&["serve", "--listen", "127.0.0.1:0", "--log-format", "text"]);
    cmd.env("RUST_LOG", "trace");
    let mut server = Server::start(cmd).await;
    let answer = server
        .http
        .post(server.url("/api/v1/bill/create"))
        .bearer_auth(&m.token)
        .header("x-request-id", "proxy-given-8")
        .form(&[("amount", "10"), ("shop_id", m.shop.as_str())])
        .send()
        .await
        .expect("bill/create answers");
    assert!(answer.status().is_success(), "{}", answer.status());
    assert!(server.terminate().success());
    // Checked here: `Server`'s drop expects a JSON log.
    let logs = std::mem::take(&mut *server.stderr.lock().unwrap());
    let of_request: Vec<&str> = logs.lines().filter(|l| l.contains("request{")).collect();
    assert!(
        of_request
            .iter()
            .any(|l| l.contains("request{request_id=proxy-given-8")),
        "{logs}"
    );
    for line in of_request {
        assert!(line.contains("request{request_id="), "{line}");
    }
    assert!(!logs.contains(&m.token), "the token in the logs:\n{logs}");
}

#[cfg(unix)]
fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn a_new_sqlite_database_gets_its_key_file_and_postgresql_requires_one() {
    // Zero setup: SQLite in the working directory, nothing configured.
    let dir = tempfile::tempdir().expect("temp dir");
    let dir = dir.path();
    let serve = || paylink(dir, &["serve", "--listen", "127.0.0.1:0"]);
    let mut server = Server::start(serve()).await;
    let key_file = dir.join("paylink.key");
    assert!(key_file.exists(), "no paylink.key beside paylink.db");
    #[cfg(unix)]
    {
        assert_eq!(mode_of(&key_file), 0o600);
        assert_eq!(mode_of(&dir.join("paylink.db")), 0o600);
        assert_eq!(mode_of(&dir.join("paylink.db-wal")), 0o600);
    }
    let log = server.stderr.lock().unwrap().clone();
    assert!(
        log.contains("created the key file") && log.contains("paylink.key"),
        "the log does not say so: {log}"
    );
    let keys = std::fs::read_to_string(&key_file).unwrap();
    server.terminate();
    // A restart uses the same keys; a lost key file is not silently replaced.
    let server = Server::start(serve()).await;
    drop(server);
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), keys);
    std::fs::rename(&key_file, dir.join("elsewhere.key")).unwrap();
    run(serve())
        .await
        .refused(&["paylink.key is missing", "Restore it from your backup"]);
    assert!(!key_file.exists());

    // PostgreSQL: no key, no start, and the message says how to make one.
    let fx = Fixture::new().await;
    if fx.db.is_postgres() {
        let mut cmd = fx.cmd(&["serve", "--listen", "127.0.0.1:0"]);
        cmd.env_remove("PAYLINK_KEY_FILE");
        run(cmd).await.refused(&[
            "paylink keys generate --out",
            "key_file",
            "PAYLINK_KEY_FILE",
        ]);
        let mut cmd = fx.cmd(&["merchant", "create", "--name", "No key"]);
        cmd.env_remove("PAYLINK_KEY_FILE");
        run(cmd).await.refused(&["paylink keys generate --out"]);
    }
    // With the key file the docs tell the operator to make, it starts.
    fx.serve(&[]).await;
    // And its text may come from the environment instead (containers).
    let mut cmd = fx.cmd(&["serve", "--listen", "127.0.0.1:0"]);
    cmd.env_remove("PAYLINK_KEY_FILE").env(
        "PAYLINK_KEYS",
        std::fs::read_to_string(fx.key_file()).unwrap(),
    );
    Server::start(cmd).await;
    // Even when the configuration file names a key file: the variable wins over the file.
    let config = fx.dir.path().join("keys.toml");
    std::fs::write(&config, "key_file = \"/nonexistent/paylink.key\"\n").unwrap();
    let mut cmd = fx.cmd(&["merchant", "create", "--name", "Env keys", "--json"]);
    cmd.env_remove("PAYLINK_KEY_FILE")
        .env("PAYLINK_CONFIG", &config)
        .env(
            "PAYLINK_KEYS",
            std::fs::read_to_string(fx.key_file()).unwrap(),
        );
    assert!(run(cmd).await.json().contains_key("merchant_id"));
    // Both at once is a guess paylink does not make.
    let mut cmd = fx.cmd(&["merchant", "create", "--name", "Both"]);
    cmd.env(
        "PAYLINK_KEYS",
        std::fs::read_to_string(fx.key_file()).unwrap(),
    );
    run(cmd).await.refused(&["PAYLINK_KEYS", "keep one"]);
}

#[tokio::test]
async fn keys_rotate_while_the_server_runs_then_the_old_key_retires() {
    let fx = Fixture::new().await;
    let server = fx.serve(&[]).await;
    let m = fx.merchant("Rotated").await;
    server.bill_ok(&m.token, &m.shop, "10").await;
    let status = fx.admin(&["keys", "status", "--json"]).await.json();
    assert_eq!(text(&status, "active"), "s1");
    assert_eq!(status["keys"][0]["sealed"], 2, "{status:?}");
    fx.admin(&["keys", "retire", "--id", "s1"])
        .await
        .refused(&["active", "paylink keys rotate"]);

    // Requests go on while the rotation runs.
    let rotate = tokio::spawn(run(fx.cmd(&["keys", "rotate", "--json"])));
    let mut served = 0;
    while !rotate.is_finished() || served < 3 {
        server.bill_ok(&m.token, &m.shop, "11").await;
        served += 1;
    }
    let rotated = rotate.await.unwrap().json();
    assert_eq!(text(&rotated, "active"), "s2");
    assert_eq!(
        rotated["resealed"].as_u64().unwrap() + rotated["changed"].as_u64().unwrap(),
        2
    );
    let status = fx.admin(&["keys", "status", "--json"]).await.json();
    assert_eq!(text(&status, "active"), "s2");
    assert_eq!(
        status["keys"],
        serde_json::json!([{"id": "s1", "sealed": 0}, {"id": "s2", "sealed": 2}])
    );
    let retired = fx
        .admin(&["keys", "retire", "--id", "s1", "--json"])
        .await
        .json();
    assert_eq!(text(&retired, "retired"), "s1");
    let file = std::fs::read_to_string(fx.key_file()).unwrap();
    assert!(!file.contains("s1 =") && file.contains("s2 ="), "{file}");
    #[cfg(unix)]
    assert_eq!(mode_of(&fx.key_file()), 0o600);

    // The running server seals under the new key and opens what it sealed.
    let refreshed = fx
        .admin(&["token", "refresh", "--merchant", &m.id, "--json"])
        .await
        .json();
    server
        .bill_ok(text(&refreshed, "api_token"), &m.shop, "12")
        .await;
    let log = server.stderr.lock().unwrap().clone();
    assert!(log.contains("key file reloaded"), "{log}");
    let status = fx.admin(&["keys", "status", "--json"]).await.json();
    assert_eq!(
        status["keys"],
        serde_json::json!([{"id": "s2", "sealed": 3}])
    );
}

#[tokio::test]
async fn live_mode_refuses_to_start_and_a_sandbox_database_stays_a_sandbox() {
    let fx = Fixture::new().await;
    run(fx.cmd(&["serve", "--listen", "127.0.0.1:0", "--mode", "live"]))
        .await
        .refused(&[
            "none ships",
            "`Acquirer`",
            "`PayoutProvider`",
            "docs/operations.md",
        ]);
    let mut server = fx.serve(&[]).await;
    server.terminate();
    let mut cmd = fx.cmd(&["serve", "--listen", "127.0.0.1:0"]);
    cmd.env("PAYLINK_MODE", "live");
    run(cmd)
        .await
        .refused(&["made in sandbox mode", "set to live mode"]);
    let config = fx.file("live.toml", "mode = \"live\"\n");
    run(fx.cmd(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--config",
        config.to_str().unwrap(),
    ]))
    .await
    .refused(&["made in sandbox mode"]);
    run(fx.cmd(&["serve", "--listen", "127.0.0.1:0", "--mode", "test"]))
        .await
        .refused(&["mode", "sandbox", "live"]);
}

#[tokio::test]
async fn keys_migrate_moves_an_old_databases_keys_out_of_it() {
    let fx = Fixture::new().await;
    let store = fx.store().await;
    let legacy: Vec<(&str, String)> = [
        "seal_key",
        "card_fingerprint_key",
        "form_key",
        "sandbox_acs_key",
    ]
    .into_iter()
    .map(|n| (n, format!("{n}-{}", "x".repeat(40))))
    .collect();
    for (name, value) in &legacy {
        store.insert_legacy_secret(name, value).await.unwrap();
    }
    store.close().await;
    // A key file that is not this database's export is refused, saying what to do.
    run(fx.cmd(&["serve", "--listen", "127.0.0.1:0"]))
        .await
        .refused(&["paylink keys migrate --out"]);
    let out = fx.dir.path().join("keys/migrated.key");
    let done = fx
        .admin(&["keys", "migrate", "--out", out.to_str().unwrap()])
        .await;
    assert!(done.status.success(), "{done:?}");
    let text = std::fs::read_to_string(&out).unwrap();
    for (name, value) in &legacy {
        assert!(text.contains(value.as_str()), "{name} not exported");
    }
    #[cfg(unix)]
    assert_eq!(mode_of(&out), 0o600);
    let store = fx.store().await;
    assert!(store.legacy_secrets().await.unwrap().is_empty());
    store.close().await;
    fx.admin(&["keys", "migrate", "--out", "again.key"])
        .await
        .refused(&["nothing to migrate"]);
    let mut cmd = fx.cmd(&["serve", "--listen", "127.0.0.1:0"]);
    cmd.env("PAYLINK_KEY_FILE", &out);
    let server = Server::start(cmd).await;
    let mut cmd = fx.cmd(&["merchant", "create", "--name", "After", "--json"]);
    cmd.env("PAYLINK_KEY_FILE", &out);
    let m = Merchant::from_json(&run(cmd).await.json());
    server.bill_ok(&m.token, &m.shop, "10").await;
}

/// `paylink doctor` passes a sound setup and names what to fix in a broken one, exiting
/// non-zero.
#[tokio::test]
async fn doctor_passes_a_sound_setup_and_names_what_to_fix() {
    let fx = Fixture::new().await;
    fx.merchant("Checked").await;
    let ok = fx.admin(&["doctor", "--json"]).await.json();
    assert_eq!(ok["ok"], true, "{ok:?}");
    let checks = ok["checks"].as_array().expect("checks");
    for name in ["database", "keys", "clock", "public_url"] {
        assert!(
            checks
                .iter()
                .any(|c| c["check"] == name && c["verdict"] == "ok"),
            "{name} not ok: {ok:?}"
        );
    }

    // Plain http on a public host: payers would send card numbers in the clear.
    let mut cmd = fx.cmd(&["doctor"]);
    cmd.env("PAYLINK_PUBLIC_URL", "http://pay.example.com");
    let out = run(cmd).await;
    assert!(!out.status.success(), "{out:#?}");
    assert!(out.stdout.contains("FAIL  public_url"), "{out:#?}");
    assert!(out.stdout.contains("https"), "{out:#?}");

    // A key file others can read.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = fx.dir.path().join(FIXTURE_KEY_FILE);
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = fx.admin(&["doctor"]).await;
        assert!(!out.status.success(), "{out:#?}");
        assert!(out.stdout.contains("chmod 600"), "{out:#?}");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    // Another instance's key file.
    let other = fx.dir.path().join("other.key");
    run(paylink(
        fx.dir.path(),
        &["keys", "generate", "--out", other.to_str().unwrap()],
    ))
    .await
    .json_or_text();
    let mut cmd = fx.cmd(&["doctor"]);
    cmd.env("PAYLINK_KEY_FILE", &other);
    let out = run(cmd).await;
    assert!(!out.status.success(), "{out:#?}");
    assert!(out.stdout.contains("FAIL  keys"), "{out:#?}");
}

#[tokio::test]
async fn openapi_prints_the_document_the_server_serves_without_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(paylink(dir.path(), &["openapi"])).await;
    assert!(out.status.success(), "paylink openapi failed: {out:#?}");
    let committed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi/cardlink.json"),
    )
    .unwrap();
    assert_eq!(
        out.stdout, committed,
        "`paylink openapi` differs from docs/openapi/cardlink.json"
    );
    // Nothing else happened: no database appeared in the working directory.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

    let fx = Fixture::new().await;
    let server = fx.serve(&[]).await;
    assert_eq!(server.text("/openapi/cardlink.json").await, out.stdout);
}

/// `POST /permanent-links/list` signed with `key` as `login`: the answer's body.
async fn procard_list(server: &Server, login: &str, key: &str) -> Value {
    let signature = paylink_sdk::procard::sign(key, &[login]);
    let response = server
        .http
        .post(server.url("/permanent-links/list"))
        .form(&[("merchant_id", login), ("signature", &signature)])
        .send()
        .await
        .expect("request to paylink serve");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("a JSON answer")
}

#[tokio::test]
async fn procard_enable_prints_a_key_that_signs_and_rotate_key_replaces_it_at_once() {
    let fx = Fixture::new().await;
    let m = fx.merchant("Acme").await;
    let other = fx.merchant("Other").await;
    let server = fx.serve(&[]).await;
    let enable = |merchant: &str, login: Option<&str>| {
        let mut args = vec!["procard", "enable", "--merchant", merchant, "--json"];
        if let Some(l) = login {
            args.extend(["--login", l]);
        }
        fx.admin_owned(args.into_iter().map(str::to_string).collect())
    };
    let out = enable(&m.id, Some("TEST_TRADER_2")).await.json();
    assert_eq!(keys(&out), ["merchant_id", "secret_key"]);
    assert_eq!(text(&out, "merchant_id"), "TEST_TRADER_2");
    let first = text(&out, "secret_key").to_string();
    assert!(
        first.len() >= 32 && first.bytes().all(|b| b.is_ascii_alphanumeric()),
        "{first:?}"
    );
    assert_eq!(
        procard_list(&server, "TEST_TRADER_2", &first).await,
        serde_json::json!({"result": 0, "permanent_links": []})
    );

    // Running it again, with or without the login, prints the same credentials.
    for login in [Some("TEST_TRADER_2"), None] {
        let again = enable(&m.id, login).await.json();
        assert_eq!(text(&again, "merchant_id"), "TEST_TRADER_2");
        assert_eq!(text(&again, "secret_key"), first);
    }

    let rotated = fx
        .admin(&["procard", "rotate-key", "--merchant", &m.id, "--json"])
        .await
        .json();
    assert_eq!(keys(&rotated), ["merchant_id", "secret_key"]);
    assert_eq!(text(&rotated, "merchant_id"), "TEST_TRADER_2");
    let second = text(&rotated, "secret_key").to_string();
    assert_ne!(second, first);
    // The running server refuses the old key at once and takes the new one.
    assert_eq!(
        procard_list(&server, "TEST_TRADER_2", &first).await["code"],
        -4
    );
    assert_eq!(
        procard_list(&server, "TEST_TRADER_2", &second).await["result"],
        0
    );

    // Refusals: an unknown merchant, a login another merchant has, a merchant without access.
    enable("NoSuchMerchant", Some("X1"))
        .await
        .refused(&["no merchant", "NoSuchMerchant"]);
    fx.admin(&[
        "procard",
        "rotate-key",
        "--merchant",
        "NoSuchMerchant",
        "--json",
    ])
    .await
    .refused(&["no merchant", "NoSuchMerchant"]);
    enable(&other.id, Some("TEST_TRADER_2"))
        .await
        .refused(&["--login"]);
    let fresh = fx
        .admin(&["procard", "rotate-key", "--merchant", &other.id, "--json"])
        .await;
    assert!(!fresh.status.success(), "{fresh:#?}");
    assert!(fresh.stdout.trim().is_empty(), "{fresh:#?}");
    // A generated login when none is given.
    let generated = enable(&other.id, None).await.json();
    let login = text(&generated, "merchant_id").to_string();
    assert!(!login.is_empty() && login != "TEST_TRADER_2", "{login}");
    let key = text(&generated, "secret_key").to_string();
    assert_eq!(procard_list(&server, &login, &key).await["result"], 0);
    // The keys never reach the server's log.
    let log = server.stderr.lock().unwrap().clone();
    for k in [&first, &second, &key] {
        assert!(!log.contains(k.as_str()), "a Procard key is in the log");
    }
}

/// One JSON array on stdout (the `list --json` commands).
fn json_array(run: &Run) -> Vec<Value> {
    assert!(run.status.success(), "paylink failed: {run:#?}");
    match serde_json::from_str(run.stdout.trim()) {
        Ok(Value::Array(items)) => items,
        other => panic!("not a JSON array ({other:?}): {run:#?}"),
    }
}

#[tokio::test]
async fn partner_commands_make_credentials_that_sign_fund_the_balance_and_rotate_at_once() {
    use paylink_sdk::cardapi::CardApiClient;
    let fx = Fixture::new().await;
    let server = fx.serve(&[]).await;
    let created = fx
        .admin(&["partner", "create", "--name", "Freedom test", "--json"])
        .await
        .json();
    assert_eq!(keys(&created), ["auth_id", "secret_key"]);
    let auth_id = text(&created, "auth_id").to_string();
    let first = text(&created, "secret_key").to_string();
    assert!(first.len() >= 32, "{first:?}");

    // Funding books the prepaid balance; a gift card draws its face value from it.
    let funded = fx
        .admin(&[
            "partner",
            "fund",
            "--auth-id",
            &auth_id,
            "--amount",
            "1000.00",
            "--currency",
            "KZT",
            "--json",
        ])
        .await
        .json();
    assert_eq!(text(&funded, "available"), "1000.00");
    assert_eq!(text(&funded, "currency"), "KZT");
    let client = CardApiClient::new(&server.base, &auth_id, &first);
    let products = client
        .call("/v5/cards/products", &json!({"request_id": "p-1"}))
        .await
        .unwrap();
    assert!(products.is_ok(), "{:?}", products.body);
    // Not enough for the 20,000 card; enough for the 5,000 one after another funding.
    fx.admin(&[
        "partner",
        "fund",
        "--auth-id",
        &auth_id,
        "--amount",
        "4000",
        "--currency",
        "KZT",
    ])
    .await
    .json_or_text();
    let gift = client
        .call(
            "/v5/cards/issue",
            &json!({"request_id": "g-1", "cardholder_name": "Anna Smirnova",
                    "phone": 77019998877u64, "product_code": "GIFT-KZT-5000"}),
        )
        .await
        .unwrap();
    assert!(gift.is_ok(), "{:?}", gift.body);
    let list = json_array(&fx.admin(&["partner", "list", "--json"]).await);
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["auth_id"], json!(auth_id));
    assert_eq!(
        list[0]["balances"],
        json!([{"currency": "KZT", "available": "0.00"}])
    );

    // The OTP went out as a text message, readable with `sms list`.
    let sms = json_array(&fx.admin(&["sms", "list", "--json"]).await);
    assert_eq!(sms.len(), 1, "{sms:?}");
    assert_eq!(sms[0]["phone"], json!("77019998877"));
    let sms_text = sms[0]["text"].as_str().unwrap();
    let code = sms_text
        .split("code is ")
        .nth(1)
        .map(|rest| &rest[..6])
        .expect("the code in the text");
    assert!(code.bytes().all(|b| b.is_ascii_digit()), "{sms_text}");
    assert!(sms[0]["created_at"].as_str().is_some_and(|t| t.len() == 19));
    let activated = client
        .call(
            "/v5/cards/activate_card",
            &json!({"request_id": "a-1", "card_id": gift.body["card_id"], "otp": code}),
        )
        .await
        .unwrap();
    assert_eq!(
        activated.body["card_balance"],
        json!("5000.00"),
        "{:?}",
        activated.body
    );

    // A new key works at once; the old one is refused.
    let rotated = fx
        .admin(&["partner", "rotate-key", "--auth-id", &auth_id, "--json"])
        .await
        .json();
    let second = text(&rotated, "secret_key").to_string();
    assert_ne!(second, first);
    let old = client
        .call("/v5/cards/products", &json!({"request_id": "p-2"}))
        .await
        .unwrap();
    assert_eq!(old.http_status, 401);
    assert_eq!(old.error_code(), Some("invalid_signature"));
    let fresh = CardApiClient::new(&server.base, &auth_id, &second)
        .call("/v5/cards/products", &json!({"request_id": "p-3"}))
        .await
        .unwrap();
    assert!(fresh.is_ok(), "{:?}", fresh.body);

    // Refusals change nothing and say why.
    fx.admin(&[
        "partner",
        "fund",
        "--auth-id",
        "NoSuchPart",
        "--amount",
        "1",
        "--currency",
        "KZT",
    ])
    .await
    .refused(&["no partner"]);
    fx.admin(&[
        "partner",
        "fund",
        "--auth-id",
        &auth_id,
        "--amount",
        "1.001",
        "--currency",
        "KZT",
    ])
    .await
    .refused(&["--amount"]);
    fx.admin(&[
        "partner",
        "fund",
        "--auth-id",
        &auth_id,
        "--amount",
        "1",
        "--currency",
        "GBP",
    ])
    .await
    .refused(&["GBP"]);
    fx.admin(&["partner", "create", "--name", "X", "--bin", "12ab"])
        .await
        .refused(&["--bin"]);
    fx.admin(&["partner", "rotate-key", "--auth-id", "NoSuchPart"])
        .await
        .refused(&["no partner"]);
    let list = json_array(&fx.admin(&["partner", "list", "--json"]).await);
    assert_eq!(list.len(), 1);
    assert_eq!(
        list[0]["balances"],
        json!([{"currency": "KZT", "available": "0.00"}])
    );
    // Keys and codes never reach the server's log.
    let log = server.stderr.lock().unwrap().clone();
    for secret in [&first, &second] {
        assert!(
            !log.contains(secret.as_str()),
            "a partner key is in the log"
        );
    }
    assert!(!log.contains(code), "an OTP is in the log");
}

#[tokio::test]
async fn invite_mail_and_dispute_commands_work_with_the_web_app() {
    let fx = Fixture::new().await;
    let created = fx
        .admin(&[
            "merchant",
            "create",
            "--name",
            "Invited",
            "--email",
            "Owner@Invited.test",
            "--json",
        ])
        .await
        .json();
    let merchant = Merchant::from_json(&created);
    let server = fx.serve(&[]).await;
    // The invitation: a one-time link, also emailed to the merchant's address.
    let invite = fx
        .admin(&["merchant", "invite", "--merchant", &merchant.id, "--json"])
        .await
        .json();
    let link = text(&invite, "sign_in_link").to_string();
    assert!(link.contains("/password/"), "{link}");
    let page = server.text(&link[link.find("/password/").unwrap()..]).await;
    assert!(page.contains("Choose a password"), "{page}");
    let mails = json_array(&fx.admin(&["mail", "list", "--json"]).await);
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0]["to"], json!("owner@invited.test"));
    assert!(mails[0]["text"].as_str().unwrap().contains(&link));
    assert_eq!(mails[0]["state"], json!("kept"));
    fx.admin(&["merchant", "invite", "--merchant", "NoSuchMerc"])
        .await
        .refused(&["no merchant"]);

    // A payer's blank dispute reaches the operators' queue; the operator's reply is emailed.
    let form = server
        .http
        .get(server.url("/disputes/new"))
        .send()
        .await
        .expect("the form answers");
    let cookie = form
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("paylink_csrf="))
        .and_then(|c| c.split(';').next())
        .expect("a form cookie")
        .to_string();
    let csrf = cookie.trim_start_matches("paylink_csrf=").to_string();
    let sent = server
        .http
        .post(server.url("/disputes/new"))
        .header("cookie", &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("payment", ""),
            ("email", "payer@example.com"),
            ("text", "Who charged me?"),
        ])
        .send()
        .await
        .expect("the dispute is sent")
        .text()
        .await
        .expect("HTML");
    let reference = sent
        .split("id=\"reference\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .expect("a reference")
        .to_string();
    let queue = json_array(&fx.admin(&["dispute", "list", "--json"]).await);
    assert_eq!(queue.len(), 1, "{queue:?}");
    assert_eq!(queue[0]["id"], json!(reference));
    assert_eq!(queue[0]["email"], json!("payer@example.com"));
    let replied = fx
        .admin(&[
            "dispute",
            "reply",
            "--id",
            &reference,
            "--text",
            "We are looking into it",
            "--json",
        ])
        .await
        .json();
    assert_eq!(text(&replied, "status"), "answered");
    let shown = fx
        .admin(&["dispute", "show", "--id", &reference, "--json"])
        .await
        .json();
    assert_eq!(shown["messages"].as_array().map(Vec::len), Some(2));
    assert_eq!(shown["messages"][1]["author"], json!("operator"));
    assert!(json_array(&fx.admin(&["dispute", "list", "--json"]).await).is_empty());
    let mails = json_array(&fx.admin(&["mail", "list", "--json"]).await);
    assert!(
        mails.iter().any(|m| m["to"] == json!("payer@example.com")
            && m["text"]
                .as_str()
                .unwrap()
                .contains("We are looking into it")),
        "{mails:?}"
    );
    fx.admin(&["dispute", "show", "--id", "ZZZZZZZZZZ"])
        .await
        .refused(&["no dispute"]);

    // A long queue goes a page at a time: each dispute's cursor starts the page after it,
    // and a page that ends the queue says no more.
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let writes = (0..3)
        .map(|i| {
            paylink_core::plan::Write::InsertDispute(paylink_core::dispute::Dispute {
                id: paylink_core::id::DisputeId::parse(&format!("CliPage{i:03}")).unwrap(),
                merchant_id: None,
                payment_id: None,
                email: format!("p{i}@mail.test"),
                status: paylink_core::dispute::DisputeStatus::Open,
                decision: None,
                created_at: at,
                updated_at: at,
            })
        })
        .collect();
    let store = fx.store().await;
    store
        .apply(paylink_core::plan::Plan { writes })
        .await
        .unwrap();
    let first = json_array(
        &fx.admin(&["dispute", "list", "--limit", "2", "--json"])
            .await,
    );
    let ids = |page: &[Value]| page.iter().map(|d| d["id"].to_string()).collect::<Vec<_>>();
    assert_eq!(ids(&first), [r#""CliPage000""#, r#""CliPage001""#]);
    let cursor = first[1]["cursor"].as_str().expect("a cursor").to_string();
    let rest = ["dispute", "list", "--limit", "2", "--after", &cursor];
    let second = json_array(&fx.admin(&[&rest[..], &["--json"]].concat()).await);
    assert_eq!(ids(&second), [r#""CliPage002""#]);
    let shown = fx.admin(&["dispute", "list", "--limit", "2"]).await;
    assert!(
        shown
            .stdout
            .contains(&format!("--limit 2 --after {cursor}")),
        "{shown:#?}"
    );
    let last = fx.admin(&rest).await;
    assert!(
        last.stdout.contains("CliPage002") && !last.stdout.contains("more:"),
        "{last:#?}"
    );
    fx.admin(&["dispute", "list", "--after", "yesterday"])
        .await
        .refused(&["--after"]);
}

/// The log check every server's `Drop` runs finds what it looks for.
#[test]
fn the_log_check_finds_plain_lines_cards_tokens_and_secrets() {
    let clean = r#"{"level":"INFO","fields":{"message":"bill 1|x made"}}"#;
    assert_eq!(log_problem(clean), None);
    assert!(log_problem("paylink listening").is_some());
    let card = r#"{"fields":{"message":"card 4242424242424242"}}"#;
    assert!(log_problem(card).is_some());
    let token =
        r#"{"fields":{"message":"Bearer 183908448|JnU9bznbgsgjtRRLP6msVfFtvlpFFjxVCNSU5kYI"}}"#;
    assert!(log_problem(token).is_some());
    let secret = r#"{"fields":{"message":"whsec_NZtWBYPb7drsbDYTkvU7W8a6"}}"#;
    assert!(log_problem(secret).is_some());
}

/// What the CLI does is in the audit log as `cli@<the host user>`, and `paylink audit list`
/// shows it, narrowed as asked.
#[tokio::test]
async fn cli_actions_are_audited_as_the_host_user_and_audit_list_shows_them() {
    let fx = Fixture::new().await;
    let as_user = |args: &[&str]| {
        let mut cmd = fx.cmd(args);
        cmd.env("USER", "opsdesk");
        run(cmd)
    };
    as_user(&[
        "fx", "set", "--from", "USD", "--to", "RUB", "--rate", "92.5", "--json",
    ])
    .await
    .json();
    as_user(&[
        "fx", "set", "--from", "USD", "--to", "RUB", "--rate", "93", "--json",
    ])
    .await
    .json();
    let listed = fx.admin(&["audit", "list", "--json"]).await.json();
    let entries = listed["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 2, "{listed:?}");
    let newest = &entries[0];
    assert_eq!(newest["actor"], json!("cli@opsdesk"), "{newest:?}");
    assert_eq!(newest["role"], json!("cli"));
    assert_eq!(newest["address"], json!(""));
    assert_eq!(newest["action"], json!("fx.set"));
    assert_eq!(newest["target"], json!("USD/RUB"));
    assert_eq!(
        (&newest["before"], &newest["after"]),
        (&json!("92.5"), &json!("93"))
    );
    // Filters.
    let by_actor = fx
        .admin(&["audit", "list", "--actor", "cli@opsdesk", "--json"])
        .await
        .json();
    assert_eq!(by_actor["entries"].as_array().map(Vec::len), Some(2));
    let nobody = fx
        .admin(&["audit", "list", "--actor", "cli@someone", "--json"])
        .await
        .json();
    assert_eq!(nobody["entries"], json!([]));
    let one = fx
        .admin(&["audit", "list", "--limit", "1", "--json"])
        .await
        .json();
    assert_eq!(one["entries"][0]["after"], json!("93"));
    fx.admin(&["audit", "list", "--from", "yesterday"])
        .await
        .refused(&["--from"]);
}

/// `paylink operator create` makes a console operator and prints their one-time link; the
/// creation is audited.
#[tokio::test]
async fn operator_create_prints_a_console_link_and_is_audited() {
    let fx = Fixture::new().await;
    let mut cmd = fx.cmd(&[
        "operator", "create", "--email", "x@y.z", "--role", "admin", "--json",
    ]);
    cmd.env("USER", "opsdesk");
    let made = run(cmd).await.json();
    assert_eq!(made["email"], json!("x@y.z"));
    assert_eq!(made["role"], json!("admin"));
    let link = text(&made, "sign_in_link");
    assert!(link.contains("/admin/password/"), "{link}");
    let listed = fx.admin(&["operator", "list", "--json"]).await.json();
    assert_eq!(
        listed["operators"][0]["email"],
        json!("x@y.z"),
        "{listed:?}"
    );
    assert_eq!(listed["operators"][0]["password_set"], json!(false));
    let audit = fx
        .admin(&["audit", "list", "--action", "operator.", "--json"])
        .await
        .json();
    assert_eq!(
        audit["entries"][0]["actor"],
        json!("cli@opsdesk"),
        "{audit:?}"
    );
    assert_eq!(audit["entries"][0]["target"], json!("x@y.z"));
    assert_eq!(audit["entries"][0]["after"], json!("role=admin"));
    // The same email twice is refused and changes nothing.
    fx.admin(&[
        "operator", "create", "--email", "x@y.z", "--role", "support",
    ])
    .await
    .refused(&["exists"]);
    let again = fx
        .admin(&["audit", "list", "--action", "operator.", "--json"])
        .await
        .json();
    assert_eq!(again["entries"].as_array().map(Vec::len), Some(1));
}
