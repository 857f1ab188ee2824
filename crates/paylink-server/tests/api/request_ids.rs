//! Request ids: a 500 names the request in its body (`request_id`, the Cardlink error shape
//! otherwise unchanged), and that id is the one the request's log lines carry.

use crate::harness::*;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

/// Log lines as the server writes them with `--log-format json`, kept in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<Value> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }
}

/// A store that is gone (closed under the running server) makes a write fail: the client gets
/// a 500 naming the request, and the error's log line names the same request.
// One thread: the server's tasks run on the test's thread, where the log subscriber is set.
#[tokio::test(flavor = "current_thread")]
async fn a_500_names_the_request_whose_log_lines_carry_the_same_id() {
    let captured = Captured::default();
    let writer = captured.clone();
    // As the binary's JSON log (`paylink serve --log-format json`).
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_current_span(false)
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .finish();
    let _logging = tracing::subscriber::set_default(subscriber);
    // tracing caches, per log statement, whether anyone listens. While one dispatcher exists
    // it asks only the default of the thread that first reaches the statement, which may be
    // another test's thread (none): the statement would stay off here too. With two, it asks
    // them all, and each thread's default decides for its own lines.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());

    let app = spawn_app().await;
    app.store.close().await;
    let response = app
        .http
        .post(app.url("/api/v1/bill/create"))
        .bearer_auth(app.token())
        .json(&json!({"amount": "10", "shop_id": app.shop()}))
        .send()
        .await
        .expect("the server answers");
    let id = response.headers()["x-request-id"]
        .to_str()
        .expect("a text id")
        .to_string();
    let a = answer(response).await;
    a.error(500, "api:error.general_error");
    assert_eq!(a.json["request_id"], json!(id), "{}", a.text);
    // The Cardlink shape with one field more, in this order.
    assert_eq!(
        a.text,
        format!(r#"{{"success":false,"message":"api:error.general_error","request_id":"{id}"}}"#)
    );

    let lines = captured.lines();
    let of_request: Vec<&Value> = lines
        .iter()
        .filter(|l| {
            l["spans"]
                .as_array()
                .is_some_and(|s| s.iter().any(|s| s["request_id"] == json!(id)))
        })
        .collect();
    assert!(
        of_request.iter().any(|l| l["level"] == json!("ERROR")),
        "no error line names {id}: {lines:#?}"
    );
    // Every line logged in a request's span names its request.
    for l in &lines {
        if let Some(spans) = l["spans"].as_array() {
            if spans.iter().any(|s| s["name"] == json!("request")) {
                assert!(spans.iter().any(|s| s["request_id"].is_string()), "{l}");
            }
        }
    }
}

/// Answers other than 500 keep their shape: no `request_id` in the body, the id in the header.
#[tokio::test]
async fn other_errors_keep_their_body_and_name_the_request_in_the_header() {
    let app = spawn_app().await;
    let response = app
        .http
        .get(app.url("/api/v1/bill/status?id=NoSuchBil1"))
        .bearer_auth(app.token())
        .header("x-request-id", "client-chosen-1")
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.headers()["x-request-id"], "client-chosen-1");
    let a = answer(response).await;
    a.error(422, "api:error.bill_not_found");
    assert!(a.json.get("request_id").is_none(), "{}", a.text);
}
