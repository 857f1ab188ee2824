//! Several paylink servers on one PostgreSQL database, as separate processes run them: each a
//! whole `Application` (its own store, writers, pools, postback dispatcher and money worker) on
//! the same database, key file and clock, with the requests spread round-robin over them.
//! The races the single-server suite runs must come out the same, and the workers of every
//! server share the work through their leases without doing anything twice.
//!
//! PostgreSQL only (separate processes on one SQLite file are not how paylink runs): without
//! `PAYLINK_TEST_DATABASE_URL` each test says it was skipped and passes.
#![allow(clippy::inconsistent_digit_grouping)]

use crate::harness::*;
use paylink_core::audit::Actor;
use paylink_core::event::NoticeState;
use paylink_core::id::PayoutId;
use paylink_core::payout::PayoutProfile;
use paylink_sdk::testing::{Received, Receiver};
use paylink_server::ops::{merchants, payouts};
use paylink_server::{Application, Panics, Settings};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

/// One of the servers besides the test app's own.
struct Peer {
    address: String,
    panics: Panics,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let caught = self.panics.count();
        if caught > 0 && !std::thread::panicking() {
            panic!(
                "the server at {} caught {caught} panic(s): a panic is a bug",
                self.address
            );
        }
    }
}

/// `n` servers on one database: the test app (which the setup and the checks go through) and
/// `n - 1` peers.
struct Cluster {
    app: TestApp,
    peers: Vec<Peer>,
}

/// Fewer connections per server than the default, so that four servers per test, two tests at
/// once, fit PostgreSQL's 100 beside the rest of the suite.
fn small_pools(s: &mut Settings) {
    s.store.read_connections = 4;
    s.store.writers = 2;
}

/// `n` servers on a fresh PostgreSQL database, each with `configure` applied; `None` (and a
/// note saying so) on SQLite.
async fn cluster(n: usize, configure: impl Fn(&mut Settings)) -> Option<Cluster> {
    let on_postgres = std::env::var(paylink_store::testing::ENV).is_ok_and(|u| !u.is_empty());
    if !on_postgres {
        eprintln!(
            "skipped: several servers on one database is tested on PostgreSQL \
             (set {})",
            paylink_store::testing::ENV
        );
        return None;
    }
    let app = spawn_app_with(|s| {
        small_pools(s);
        configure(s);
    })
    .await;
    let mut peers = Vec::new();
    for _ in 1..n {
        let mut settings = test_settings(&app.db.url, &app.key_file);
        small_pools(&mut settings);
        configure(&mut settings);
        let server = Application::build(settings, app.clock.clone())
            .await
            .expect("another server builds on the same database and key file");
        let address = format!("http://127.0.0.1:{}", server.port());
        let panics = server.panics();
        tokio::spawn(server.run_until(std::future::pending()));
        peers.push(Peer { address, panics });
    }
    Some(Cluster { app, peers })
}

impl Cluster {
    fn addresses(&self) -> Vec<String> {
        std::iter::once(self.app.address.clone())
            .chain(self.peers.iter().map(|p| p.address.clone()))
            .collect()
    }

    /// `requests` POSTs to `path` at once as the default merchant, request `i` to server
    /// `i mod n`, each on its own task; `request(i)` gives its `Idempotency-Key` (if any) and
    /// JSON body. The answers, in order.
    async fn spread(
        &self,
        requests: usize,
        path: &str,
        request: impl Fn(usize) -> (Option<String>, Value),
    ) -> Vec<Answer> {
        let servers = self.addresses();
        let tasks: Vec<_> = (0..requests)
            .map(|i| {
                let url = format!("{}{path}", servers[i % servers.len()]);
                let (http, token) = (self.app.http.clone(), self.app.token().to_string());
                let (key, body) = request(i);
                tokio::spawn(async move {
                    let mut rb = http.post(url).bearer_auth(token).json(&body);
                    if let Some(k) = key {
                        rb = rb.header("Idempotency-Key", k);
                    }
                    answer(rb.send().await.expect("the server answers")).await
                })
            })
            .collect();
        let mut answers = Vec::with_capacity(requests);
        for t in tasks {
            answers.push(t.await.expect("the request task"));
        }
        answers
    }
}

/// Waits until `r` has had `n` distinct notices at `path` and the store has each recorded as
/// delivered (so no dispatcher takes it again), checking on the way that none came twice; the
/// deliveries.
async fn delivered_once(app: &TestApp, r: &Receiver, path: &str, n: usize) -> Vec<Received> {
    let once = |got: &[Received]| {
        let mut count: HashMap<String, usize> = HashMap::new();
        for p in got {
            let id = p.header("webhook-id");
            assert!(!id.is_empty(), "a notice without its id: {p:?}");
            *count.entry(id.to_string()).or_default() += 1;
        }
        let mut twice: Vec<_> = count.iter().filter(|(_, c)| **c > 1).collect();
        twice.sort();
        assert!(twice.is_empty(), "delivered more than once: {twice:?}");
        count.len()
    };
    for _ in patience() {
        if once(&r.at(path)) >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let got = r.at(path);
    assert_eq!(once(&got), n, "notices at {path}: {got:?}");
    for p in &got {
        let id = p.header("webhook-id");
        let mut state = None;
        for _ in patience() {
            let record = app.store.notice(id).await.expect("the notice is read");
            state = record.map(|r| r.state);
            if state == Some(NoticeState::Delivered) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(state, Some(NoticeState::Delivered), "notice {id}");
    }
    let got = r.at(path);
    assert_eq!(once(&got), n);
    got
}

async fn payouts_never_overdraw(n: usize) {
    let Some(c) = cluster(n, |s| {
        s.money.payouts.moderation_threshold = i64::MAX;
        s.money.payouts.daily_limit = None;
        s.money.payouts.monthly_limit = None;
    })
    .await
    else {
        return;
    };
    let app = &c.app;
    app.set_profile(&app.merchant.merchant_id, open_profile())
        .await;
    app.fund("40000").await;
    let b = app.balance().await.available;
    assert_eq!(b, 38_600_00);
    let each = 1000_00 + 70_00;
    let expected = (b / each) as usize;

    let answers = c
        .spread(256, "/api/v1/payout/regular/create", |i| {
            (
                None,
                with_order(card("1000", CARD_OK), &format!("race-{i}")),
            )
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
        "exactly floor(B / (X + fee)) accepted over {n} servers"
    );
    for p in &accepted {
        let done = app.wait_payout(app.token(), &id_of(p)).await;
        assert_eq!(done["status"], json!("SUCCESS"), "{done}");
    }
    assert_eq!(
        app.balance().await,
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
    app.assert_ledger_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payouts_racing_over_2_servers_never_spend_more_than_the_balance() {
    payouts_never_overdraw(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payouts_racing_over_4_servers_never_spend_more_than_the_balance() {
    payouts_never_overdraw(4).await;
}

async fn normal_bill_paid_once(n: usize) {
    let Some(c) = cluster(n, |_| {}).await else {
        return;
    };
    let app = &c.app;
    let id = app.bill(json!({"amount": "100.50"})).await;
    let answers = c
        .spread(32, "/sandbox/pay", |_| {
            let body = json!({"bill_id": id, "method": "BANK_CARD", "card_number": CARD_OK});
            (None, body)
        })
        .await;
    let mut successes = Vec::new();
    for a in answers {
        if a.status == 200 {
            successes.push(a);
        } else if a.text.contains("bill_busy") {
            // Refused while the winner's charge held the bill: before any money was taken.
            a.error(403, "api:error.bill_busy");
        } else {
            a.error(403, "api:error.bill_is_finished");
        }
    }
    assert_eq!(
        successes.len(),
        1,
        "exactly one payment succeeds over {n} servers"
    );
    let winner = &successes[0];
    assert_eq!(winner.json["status"], json!("SUCCESS"));
    let payments = app.get("/api/v1/bill/payments", &[("id", &id)]).await;
    let data = payments.ok()["data"].as_array().unwrap().clone();
    assert_eq!(data.len(), 1, "{}", payments.text);
    assert_eq!(data[0]["id"], winner.json["id"]);
    assert_eq!(app.bill_status(&id).await["status"], json!("SUCCESS"));
    let all = app.get("/api/v1/payment/search", &[]).await;
    assert_eq!(all.ok()["data"].as_array().unwrap().len(), 1);
    // Paid once, so credited once (the settlement too, by whichever worker took it).
    let received = number(&winner.json["amount_received"]);
    app.wait_balance(app.token(), |b| b.hold == 0 && b.available == received)
        .await;
    app.assert_ledger_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_normal_bill_paid_from_32_requests_over_2_servers_is_paid_once() {
    normal_bill_paid_once(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_normal_bill_paid_from_32_requests_over_4_servers_is_paid_once() {
    normal_bill_paid_once(4).await;
}

/// Orders sent this many times each; every copy of an order goes round all the servers.
const COPIES: usize = 16;
const ORDERS: usize = 8;

async fn one_payout_per_order_id(n: usize) {
    let Some(c) = cluster(n, |_| {}).await else {
        return;
    };
    let app = &c.app;
    app.set_profile(&app.merchant.merchant_id, open_profile())
        .await;
    app.fund("100000").await;
    let b = app.balance().await.available;
    // Request i is order i / COPIES on server i mod n: each order's copies reach every server.
    let answers = c
        .spread(ORDERS * COPIES, "/api/v1/payout/regular/create", |i| {
            let order = format!("order-{}", i / COPIES);
            (None, with_order(card("1000", CARD_OK), &order))
        })
        .await;
    let mut accepted: HashMap<String, Vec<Value>> = HashMap::new();
    for a in &answers {
        match a.status {
            200 => {
                for p in created(a) {
                    let order = p["order_id"].as_str().expect("an order id").to_string();
                    accepted.entry(order).or_default().push(p);
                }
            }
            _ => a.invalid("order_id"),
        }
    }
    assert_eq!(accepted.len(), ORDERS, "{accepted:?}");
    for (order, made) in &accepted {
        assert_eq!(made.len(), 1, "order {order} made {made:?}");
        let done = app.wait_payout(app.token(), &id_of(&made[0])).await;
        assert_eq!(done["status"], json!("SUCCESS"));
    }
    assert_eq!(app.balance().await.available, b - ORDERS as i64 * 1070_00);
    app.assert_ledger_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_payout_order_ids_over_2_servers_make_one_payout_each() {
    one_payout_per_order_id(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_payout_order_ids_over_4_servers_make_one_payout_each() {
    one_payout_per_order_id(4).await;
}

/// Bills may share an order id (the merchant's own business), so a retried `bill/create` is
/// made once by its `Idempotency-Key`: the keys live in the database, so the servers agree.
async fn one_bill_per_key(n: usize) {
    let Some(c) = cluster(n, |_| {}).await else {
        return;
    };
    let app = &c.app;
    let shop = app.shop().to_string();
    let answers = c
        .spread(ORDERS * COPIES, "/api/v1/bill/create", |i| {
            let order = format!("order-{}", i / COPIES);
            let body = json!({"amount": "100", "shop_id": shop, "order_id": order});
            (Some(format!("key-{order}")), body)
        })
        .await;
    let mut made: HashMap<String, Vec<&Answer>> = HashMap::new();
    for (i, a) in answers.iter().enumerate() {
        assert_eq!(a.status, 200, "{}", a.text);
        assert!(a.json["bill_id"].is_string(), "{}", a.text);
        made.entry(format!("order-{}", i / COPIES))
            .or_default()
            .push(a);
    }
    assert_eq!(made.len(), ORDERS);
    for (order, all) in &made {
        assert_eq!(all.len(), COPIES);
        // One bill, answered alike to every copy.
        assert!(
            all.iter().all(|a| a.text == all[0].text),
            "order {order}: {all:?}"
        );
        let found = app.get("/api/v1/bill/search", &[("order_id", order)]).await;
        assert_eq!(
            found.ok()["data"].as_array().unwrap().len(),
            1,
            "{}",
            found.text
        );
    }
    assert_eq!(app.bill_count().await, ORDERS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bill_create_retried_over_2_servers_makes_one_bill_per_key() {
    one_bill_per_key(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bill_create_retried_over_4_servers_makes_one_bill_per_key() {
    one_bill_per_key(4).await;
}

/// Bills paid at once over the servers.
const PAID: usize = 40;

async fn postbacks_once(n: usize) {
    let Some(c) = cluster(n, |_| {}).await else {
        return;
    };
    let app = &c.app;
    let r = Receiver::start();
    app.set_result_url(&r.url("/postback")).await;
    let mut bills = Vec::new();
    for i in 0..PAID {
        bills.push(
            app.bill(json!({"amount": "100", "order_id": format!("inv-{i}")}))
                .await,
        );
    }
    let answers = c
        .spread(PAID, "/sandbox/pay", |i| {
            let body = json!({"bill_id": bills[i], "method": "BANK_CARD", "card_number": CARD_OK});
            (None, body)
        })
        .await;
    let mut payments = std::collections::HashSet::new();
    for a in &answers {
        assert_eq!(a.ok()["status"], json!("SUCCESS"));
        payments.insert(a.json["id"].as_str().expect("a payment id").to_string());
    }
    // Every server's dispatcher polls the one outbox; each notice goes out once.
    let got = delivered_once(app, &r, "/postback", PAID).await;
    let posted: std::collections::HashSet<String> =
        got.iter().map(|p| p.field("TrsId").to_string()).collect();
    assert_eq!(posted, payments);
    for bill in &bills {
        let h = merchants::postbacks(&app.store, bill).await.unwrap();
        assert_eq!(h.len(), 1, "bill {bill}");
        assert_eq!(h[0].attempts.len(), 1, "bill {bill}: {:?}", h[0].attempts);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postbacks_go_once_each_with_a_dispatcher_in_each_of_2_servers() {
    postbacks_once(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postbacks_go_once_each_with_a_dispatcher_in_each_of_4_servers() {
    postbacks_once(4).await;
}

/// Payouts waiting for an operator.
const MODERATED: usize = 24;

async fn approved_payouts_sent_once(n: usize) {
    let Some(c) = cluster(n, |_| {}).await else {
        return;
    };
    let app = &c.app;
    let r = Receiver::start();
    app.set_profile(
        &app.merchant.merchant_id,
        PayoutProfile {
            moderation: true,
            webhook_url: Some(r.url("/payouts")),
            ..open_profile()
        },
    )
    .await;
    app.fund("40000").await;
    let b = app.balance().await.available;
    let answers = c
        .spread(MODERATED, "/api/v1/payout/regular/create", |i| {
            (None, with_order(card("1000", CARD_OK), &format!("mod-{i}")))
        })
        .await;
    let mut ids = Vec::new();
    for a in &answers {
        let p = created(a).remove(0);
        assert_eq!(p["status"], json!("MODERATING"));
        ids.push(id_of(&p));
    }
    // Approved all at once; the money worker of every server finds them due.
    let approvals: Vec<_> = ids
        .iter()
        .map(|id| {
            let (store, now) = (app.store.clone(), app.now());
            let id = PayoutId::from_trusted(id.clone());
            tokio::spawn(async move {
                let stored = store
                    .payout(&id)
                    .await
                    .unwrap()
                    .expect("the payout is stored");
                payouts::moderate(
                    &store,
                    &Actor::cli("test"),
                    &stored,
                    payouts::Moderation::Approve,
                    now,
                )
                .await
                .expect("an operator approves");
            })
        })
        .collect();
    for a in approvals {
        a.await.expect("the approval task");
    }
    for id in &ids {
        let done = app.wait_payout(app.token(), id).await;
        assert_eq!(done["status"], json!("SUCCESS"), "{done}");
    }
    // Each final payout is posted once, and the money left once per payout.
    let got = delivered_once(app, &r, "/payouts", MODERATED).await;
    let mut posted: Vec<String> = got.iter().map(|w| w.field("TrsId").to_string()).collect();
    posted.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(posted, want);
    assert!(
        got.iter().all(|w| w.field("Status") == "SUCCESS"),
        "{got:?}"
    );
    assert_eq!(
        app.balance().await,
        Bal {
            available: b - MODERATED as i64 * 1070_00,
            locked: 0,
            hold: 0
        }
    );
    app.assert_ledger_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approved_payouts_are_sent_once_by_the_money_workers_of_2_servers() {
    approved_payouts_sent_once(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approved_payouts_are_sent_once_by_the_money_workers_of_4_servers() {
    approved_payouts_sent_once(4).await;
}

/// A payout asked for before its merchant was banned is not sent by the worker that finds it
/// afterwards: it is declined, and its money returns. One server takes the request and does no
/// money work; a second, started after the ban, runs the worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payout_whose_merchant_was_banned_since_is_declined_not_sent() {
    let Some(c) = cluster(1, |s| {
        s.money.payouts.moderation_threshold = i64::MAX;
        s.money.work = false;
    })
    .await
    else {
        return;
    };
    let app = &c.app;
    app.set_profile(&app.merchant.merchant_id, open_profile())
        .await;
    app.fund("5000").await;
    // Read from the store: a banned merchant's API answers nothing.
    let balance = || async {
        app.store
            .balance(
                &app.merchant.merchant_id,
                paylink_core::money::Currency::Rub,
            )
            .await
            .unwrap()
    };
    let before = balance().await;
    let made = app.regular_payout(card("1000", CARD_OK)).await;
    let id = id_of(&created(&made)[0]);
    merchants::set_banned(
        &app.store,
        &Actor::cli("test"),
        app.merchant.merchant_id.as_str(),
        true,
        app.now(),
    )
    .await
    .unwrap();
    let mut settings = test_settings(&app.db.url, &app.key_file);
    small_pools(&mut settings);
    let worker = Application::build(settings, app.clock.clone())
        .await
        .expect("a second server builds");
    let panics = worker.panics();
    tokio::spawn(worker.run_until(std::future::pending()));
    let id = PayoutId::parse(&id).unwrap();
    let mut done = None;
    for _ in 0..600 {
        let p = app.store.payout(&id).await.unwrap().unwrap();
        if p.status.is_final() {
            done = Some(p);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let done = done.expect("the worker ends the payout");
    assert_eq!(done.status.as_str(), "DECLINED");
    assert!(
        done.error_message
            .as_deref()
            .is_some_and(|m| m.contains("banned")),
        "{done:?}"
    );
    assert_eq!(balance().await, before, "the money is back");
    app.assert_ledger_ok().await;
    assert_eq!(panics.count(), 0);
}
