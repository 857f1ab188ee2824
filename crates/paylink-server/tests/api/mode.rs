//! Sandbox and live mode: the sandbox says so on every payer page and answers on `/sandbox`;
//! live mode refuses to start without live providers; a database keeps the mode it was made in.

use crate::harness::*;
use paylink_server::config::Mode;
use paylink_server::keys::KeySource;
use paylink_server::{Application, ManualClock, Settings, StartError};
use paylink_store::testing::TestDatabase;
use serde_json::json;
use std::sync::Arc;

async fn build(
    db_url: &str,
    key_file: &std::path::Path,
    mode: Mode,
) -> Result<Application, StartError> {
    let mut settings = Settings::new(db_url, "127.0.0.1:0".parse().unwrap());
    settings.keys = KeySource::File(key_file.to_path_buf());
    settings.mode = mode;
    Application::build(settings, Arc::new(ManualClock::new(START))).await
}

#[tokio::test]
async fn live_mode_refuses_to_start_until_live_providers_exist() {
    let db = TestDatabase::new().await;
    let (_dir, key_file) = key_file();
    let Err(e) = build(&db.url, &key_file, Mode::Live).await else {
        panic!("live mode started without a live acquirer");
    };
    assert!(matches!(e, StartError::NoLiveProviders), "{e}");
    let text = e.to_string();
    for word in [
        "none ships",
        "`Acquirer`",
        "`PayoutProvider`",
        "docs/operations.md",
    ] {
        assert!(text.contains(word), "{word:?} not in {text}");
    }
    // The refused start recorded nothing: the database can still become a sandbox.
    let app = build(&db.url, &key_file, Mode::Sandbox)
        .await
        .expect("a sandbox starts");
    assert_eq!(
        app.store()
            .instance_setting("mode")
            .await
            .unwrap()
            .as_deref(),
        Some("sandbox")
    );
}

#[tokio::test]
async fn a_sandbox_database_refuses_to_start_live() {
    let app = spawn_app().await;
    let Err(e) = build(&app.db.url, &app.key_file, Mode::Live).await else {
        panic!("a sandbox database started live");
    };
    assert!(matches!(e, StartError::ModeMismatch { .. }), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("made in sandbox mode") && text.contains("set to live mode"),
        "{text}"
    );
    // Sandbox again is fine.
    build(&app.db.url, &app.key_file, Mode::Sandbox)
        .await
        .expect("the sandbox starts again");
}

#[tokio::test]
async fn every_payer_page_of_the_sandbox_says_test_mode() {
    let app = spawn_app().await;
    let bill = app.bill(json!({"amount": 100})).await;
    let ru = app.bill(json!({"amount": 100, "locale": "ru"})).await;
    for (path, ribbon) in [
        (format!("/link/{bill}"), "Test mode"),
        (format!("/transfer/{bill}"), "Test mode"),
        (format!("/transfer/{ru}"), "Тестовый режим"),
        ("/link/NOSUCHBILL".to_string(), "Test mode"),
        ("/sandbox/acs".to_string(), "Test mode"),
    ] {
        let page = app
            .send(reqwest::Method::GET, &path, None, Body::None)
            .await;
        assert!(
            page.content_type.starts_with("text/html"),
            "{path}: {page:?}"
        );
        assert!(
            page.text.contains("id=\"test-mode\"") && page.text.contains(ribbon),
            "{path} has no ribbon: {}",
            page.text
        );
    }
}

#[tokio::test]
async fn the_sandbox_routes_answer_in_sandbox_mode() {
    let app = spawn_app().await;
    let bill = app.bill(json!({"amount": 100})).await;
    assert_eq!(
        app.pay_card(&bill, CARD_OK).await.ok()["status"],
        json!("SUCCESS")
    );
    // The issuer's page and the bank app are mounted: their own pages answer, not the JSON
    // of a missing route.
    let open = app.bill(json!({"amount": 100})).await;
    for path in ["/sandbox/acs", &format!("/sandbox/sbp/{open}")] {
        let a = app.send(reqwest::Method::GET, path, None, Body::None).await;
        assert!(a.content_type.starts_with("text/html"), "{path}: {a:?}");
    }
    let missing = app
        .send(reqwest::Method::GET, "/sandbox/nothing", None, Body::None)
        .await;
    assert_eq!(missing.status, 404);
}
