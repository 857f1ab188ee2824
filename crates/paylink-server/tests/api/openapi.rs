//! The OpenAPI document and the docs page: served without a token, equal to the committed copy,
//! and true to the routes (every documented operation answers, with a documented status).

use crate::harness::*;
use paylink_server::Settings;
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn the_document_is_served_and_is_the_committed_copy() {
    let app = spawn_app().await;
    let a = app
        .send(Method::GET, "/openapi/cardlink.json", None, Body::None)
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_json(&a);
    assert_eq!(a.json["openapi"], json!("3.1.0"));
    let committed = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi/cardlink.json"),
    )
    .expect("docs/openapi/cardlink.json exists");
    assert_eq!(
        a.text, committed,
        "the served document differs from docs/openapi/cardlink.json: \
         regenerate it with `PAYLINK_UPDATE_OPENAPI=1 cargo test -p paylink-server --lib committed_copy`"
    );
}

#[tokio::test]
async fn every_documented_operation_is_routed_and_answers_a_documented_status() {
    let app = spawn_app().await;
    let doc = app
        .send(Method::GET, "/openapi/cardlink.json", None, Body::None)
        .await
        .json;
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 20, "{} paths", paths.len());
    let mut checked = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("a path item") {
            let (method, body) = match method.as_str() {
                "get" => (Method::GET, Body::None),
                "post" => (Method::POST, Body::Json(json!({}))),
                other => panic!("{other} {path}: only GET and POST are documented"),
            };
            let a = app
                .send(method.clone(), path, Some(app.token()), body)
                .await;
            let documented: Vec<&String> = op["responses"]
                .as_object()
                .expect("responses")
                .keys()
                .collect();
            assert!(
                documented.contains(&&a.status.to_string()),
                "{method} {path} answered {} (documented: {documented:?}): {}",
                a.status,
                a.text
            );
            assert_json(&a);
            checked += 1;
        }
    }
    assert!(checked >= 38, "{checked} operations");
}

#[tokio::test]
async fn the_docs_page_is_offline_html_listing_every_path() {
    let app = spawn_app().await;
    let doc: Value = app
        .send(Method::GET, "/openapi/cardlink.json", None, Body::None)
        .await
        .json;
    let a = app.send(Method::GET, "/docs", None, Body::None).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert!(
        a.content_type.starts_with("text/html"),
        "{}",
        a.content_type
    );
    for path in doc["paths"].as_object().expect("paths").keys() {
        assert!(a.text.contains(path.as_str()), "{path} is not on /docs");
    }
    for schema in ["BillCreated", "Payment", "ErrorBody"] {
        assert!(a.text.contains(schema), "{schema} is not on /docs");
    }
    // Nothing loaded from elsewhere: no scripts, no external styles or images.
    assert!(!a.text.contains("<script"), "a script on /docs");
    assert!(
        !a.text.contains("src=\"http"),
        "an external source on /docs"
    );
    assert!(!a.text.contains("<link"), "an external stylesheet on /docs");
}

#[tokio::test]
async fn the_procard_document_is_served_and_is_the_committed_copy() {
    let app = spawn_app().await;
    let a = app
        .send(Method::GET, "/openapi/procard.json", None, Body::None)
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_json(&a);
    assert_eq!(a.json["openapi"], json!("3.1.0"));
    let committed = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi/procard.json"),
    )
    .expect("docs/openapi/procard.json exists");
    assert_eq!(
        a.text, committed,
        "the served document differs from docs/openapi/procard.json: \
         regenerate it with `PAYLINK_UPDATE_OPENAPI=1 cargo test -p paylink-server --lib committed_copy`"
    );
    let docs = app.send(Method::GET, "/docs", None, Body::None).await;
    assert!(
        docs.text.contains("/openapi/procard.json"),
        "/docs does not link the Procard document"
    );
}

#[tokio::test]
async fn the_card_api_document_is_served_and_is_the_committed_copy() {
    let app = spawn_app().await;
    let a = app
        .send(Method::GET, "/openapi/cardapi.json", None, Body::None)
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_json(&a);
    assert_eq!(a.json["openapi"], json!("3.1.0"));
    let committed = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi/cardapi.json"),
    )
    .expect("docs/openapi/cardapi.json exists");
    assert_eq!(
        a.text, committed,
        "the served document differs from docs/openapi/cardapi.json: \
         regenerate it with `PAYLINK_UPDATE_OPENAPI=1 cargo test -p paylink-server --lib committed_copy`"
    );
    // Every method the server routes is documented.
    for path in [
        "/v5/card-api/request/status",
        "/v5/card-api/card/issue",
        "/v5/card-api/transaction/create",
        "/v5/card-api/sandbox/authorize",
        "/v5/partner/external/cardholder_validate",
        "/v5/cards/activate_card",
    ] {
        assert!(
            a.json["paths"].get(path).is_some(),
            "{path} is not documented"
        );
    }
    let docs = app.send(Method::GET, "/docs", None, Body::None).await;
    assert!(
        docs.text.contains("/openapi/cardapi.json"),
        "/docs does not link the Card API document"
    );
}

/// Every Procard operation, with an empty body, a form body and one over the body limit,
/// answers HTTP 200 in one of the two documented shapes; another method answers the documented
/// 405.
#[tokio::test]
async fn every_procard_operation_answers_a_documented_shape() {
    let app = spawn_app().await;
    let doc = app
        .send(Method::GET, "/openapi/procard.json", None, Body::None)
        .await
        .json;
    let paths = doc["paths"].as_object().expect("paths");
    for path in [
        "/permanent-links/list",
        "/permanent-links/create",
        "/permanent-links/update",
        "/permanent-links/operations",
        "/sandbox/permanent-links/pay",
    ] {
        let op = &paths[path]["post"];
        let documented: Vec<&String> = op["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{path} is not documented"))
            .keys()
            .collect();
        let oversized = "x".repeat(Settings::DEFAULT_BODY_LIMIT + 1);
        for body in [
            Body::Json(json!({})),
            Body::form(&[("merchant_id", "NOBODY"), ("signature", "00")]),
            Body::Raw("application/json", format!("{{\"name\":\"{oversized}\"}}")),
        ] {
            let a = app.send(Method::POST, path, None, body).await;
            assert_eq!(a.status, 200, "POST {path}: {}", a.text);
            assert_json(&a);
            assert!(
                a.json["code"].as_i64().is_some_and(|c| c < 0)
                    && (a.json["message"].is_string() || a.json["message"].is_array()),
                "POST {path} answered outside the Failure shape: {}",
                a.text
            );
        }
        let a = app.send(Method::PUT, path, None, Body::None).await;
        assert_eq!(a.status, 405, "PUT {path}: {}", a.text);
        assert!(documented.contains(&&"405".to_string()), "{path}");
        assert_json(&a);
    }
}
