//! Health for load balancers and service managers: live while the process serves, ready only
//! while the database answers, its schema is current and a writer commits.

use crate::harness::*;
use serde_json::json;

async fn health(app: &TestApp, path: &str) -> (u16, serde_json::Value) {
    let r = app
        .http
        .get(app.url(path))
        .send()
        .await
        .expect("the server answers");
    let status = r.status().as_u16();
    (status, r.json().await.expect("a JSON body"))
}

#[tokio::test]
async fn live_and_ready_on_a_working_server() {
    let app = spawn_app().await;
    for path in ["/health", "/health/live", "/health/ready"] {
        assert_eq!(
            health(&app, path).await,
            (200, json!({"status": "ok"})),
            "{path}"
        );
    }
}

#[tokio::test]
async fn not_ready_once_the_writer_is_gone_but_still_live() {
    let app = spawn_app().await;
    app.store.close().await;
    let (status, body) = health(&app, "/health/ready").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "unavailable");
    assert!(
        body["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{body}"
    );
    assert_eq!(health(&app, "/health/live").await.0, 200);
}
