//! The database out of reach for a while (a failover, a restart): every surface tells its
//! client to retry in its own shape (HTTP 503 where its clients read statuses, Procard's system
//! error where they read only the body), and serves again by itself once the database is back.
//!
//! PostgreSQL only: the server reaches it through a relay that closes and refuses connections
//! as a killed primary does, or the database takes no writes as a standby does. Without
//! `PAYLINK_TEST_DATABASE_URL` each test says it was skipped and passes.

use crate::checkout_pages;
use crate::harness::*;
use crate::{cardapi, procard, web};
use paylink_store::testing::{Relay, TestDatabase};
use serde_json::json;
use std::time::Duration;

const RETRY: &str = "The service is temporarily unavailable; retry the request.";

fn skipped(db: &TestDatabase) -> bool {
    if !db.is_postgres() {
        eprintln!(
            "skipped: an unreachable database is tested on PostgreSQL (PAYLINK_TEST_DATABASE_URL)"
        );
    }
    !db.is_postgres()
}

/// A page (the payer's, or the web app's) that says the service is out for a moment: 503, and
/// words that ask to try again.
#[track_caller]
fn asks_to_try_again(status: u16, text: &str) {
    assert_eq!(status, 503, "{text}");
    assert!(text.contains("Please try again"), "{text}");
}

/// What each surface needs, made while the database is there.
struct Callers {
    bill: String,
    procard: procard::Creds,
    partner: cardapi::Partner,
}

async fn callers(app: &TestApp) -> Callers {
    Callers {
        bill: app.bill(json!({"amount": "100.00"})).await,
        procard: procard::enable(app).await,
        partner: cardapi::partner(app, 0).await,
    }
}

/// Waits for `bill/create` to make a bill again, the database back; a 503 meanwhile is the
/// only other answer allowed.
async fn creates_bills_again(app: &TestApp) {
    for () in patience() {
        let a = app
            .create_bill_as(
                app.token(),
                json!({"amount": "10.00", "shop_id": app.shop()}),
            )
            .await;
        if a.status == 200 {
            assert!(a.json["bill_id"].is_string(), "{}", a.text);
            return;
        }
        assert_eq!(a.status, 503, "{}", a.text);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("bill/create never served again once the database was back");
}

fn new_client() -> serde_json::Value {
    json!({"product_id": 1000, "client": {
        "phone": "77011234567", "type": 1, "resident": 1,
        "first_name": "Aigerim", "last_name": "Seitkali",
    }})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_database_gone_every_surface_asks_for_a_retry_and_serves_again_when_it_is_back() {
    let db = TestDatabase::new().await;
    if skipped(&db) {
        return;
    }
    let host = db.url.split_once('@').unwrap().1.split_once('/').unwrap().0;
    let relay = Relay::to(host).await;
    let url = relay.url_for(&db.url);
    let (key_dir, key_path) = key_file();
    let app = spawn_app_on(db, key_dir, key_path, |s| s.database_url = url).await;
    let c = callers(&app).await;

    relay.down();
    // Cardlink, a read and a write: JSON 503.
    let status = app
        .get("/api/v1/bill/status", &[("id", c.bill.as_str())])
        .await;
    status.error(503, RETRY);
    let created = app
        .create_bill_as(
            app.token(),
            json!({"amount": "10.00", "shop_id": app.shop()}),
        )
        .await;
    created.error(503, RETRY);
    // Card API: 503 in its envelope.
    let a = c.partner.call("card-api/client/add", new_client()).await;
    assert_eq!(a.http_status, 503, "{}", a.body);
    assert_eq!(a.error_code(), Some("internal_error"), "{}", a.body);
    assert_eq!(a.body["status"], "error", "{}", a.body);
    // Procard: its system error, in the body of a 200 as all its answers.
    let listed = c
        .procard
        .call(
            &app,
            "/permanent-links/list",
            json!({}),
            procard::Wire::Json,
        )
        .await;
    procard::refused(&listed, -1);
    // The payer's page and the merchant's web app: 503 pages that say to try again.
    let page = checkout_pages::get(&app.url(&format!("/transfer/{}", c.bill)), "en").await;
    asks_to_try_again(page.status, &page.text);
    let (_, signed_in) = web::sign_in(&app, "nobody@example.com", web::PASSWORD).await;
    asks_to_try_again(signed_in.status, &signed_in.text);

    // Back: every surface serves again, with no restart.
    relay.up();
    creates_bills_again(&app).await;
    c.partner.client("Dana", "Nurlanova", "77017654321").await;
    procard::accepted(
        &c.procard
            .call(
                &app,
                "/permanent-links/list",
                json!({}),
                procard::Wire::Json,
            )
            .await,
    );
    let page = checkout_pages::get(&app.url(&format!("/transfer/{}", c.bill)), "en").await;
    assert_eq!(page.status, 200, "{}", page.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_that_wait_for_a_primary_past_the_deadline_are_answered_in_each_surfaces_shape() {
    let db = TestDatabase::new().await;
    if skipped(&db) {
        return;
    }
    let (key_dir, key_path) = key_file();
    let app = spawn_app_on(db, key_dir, key_path, |s| {
        s.request_timeout = Duration::from_secs(2);
    })
    .await;
    let c = callers(&app).await;

    // Reads are answered; writes wait for a node that takes them, until the deadline.
    app.db.set_read_only(true).await;
    let created = app
        .create_bill_as(
            app.token(),
            json!({"amount": "10.00", "shop_id": app.shop()}),
        )
        .await;
    created.error(503, "The request took too long.");
    let a = c.partner.call("card-api/client/add", new_client()).await;
    assert_eq!(a.http_status, 503, "{}", a.body);
    assert_eq!(a.error_code(), Some("internal_error"), "{}", a.body);
    let made = c
        .procard
        .call(
            &app,
            "/permanent-links/create",
            json!({"name": "Donation", "description": "For the shelter", "operation": "Purchase",
                   "amount": "100.00", "language": "ukr"}),
            procard::Wire::Json,
        )
        .await;
    procard::refused(&made, -1);
    // The payment page writes its one-time form token before it shows the form.
    let page = checkout_pages::get(&app.url(&format!("/transfer/{}", c.bill)), "en").await;
    asks_to_try_again(page.status, &page.text);
    let (_, signed_up) = web::sign_up(&app, "late@example.com", web::PASSWORD, "Late shop").await;
    asks_to_try_again(signed_up.status, &signed_up.text);

    // A node takes writes again: they go through, with no restart.
    app.db.set_read_only(false).await;
    creates_bills_again(&app).await;
    c.partner.client("Dana", "Nurlanova", "77017654321").await;
}
