//! Requests built to break the server (issue 9's repros and their relatives): each gets a clear
//! answer in its surface's shape, and the server keeps serving everyone else.

use crate::harness::*;
use reqwest::Method;
use serde_json::json;

async fn still_serving(app: &TestApp) {
    let health = app.http.get(app.url("/health")).send().await;
    assert_eq!(
        health.expect("the server is still up").status(),
        200,
        "the server answers after the hostile request"
    );
    app.get("/api/v1/bill/search", &[]).await.ok();
}

#[tokio::test]
async fn deeply_nested_keys_get_a_422_not_a_dead_server() {
    let app = spawn_app().await;
    for key in [
        format!("x{}", "[]".repeat(32_000)),
        format!("x{}", "[a]".repeat(20_000)),
        format!("x{}", "[a]".repeat(9)),
    ] {
        let body = format!("{key}=1");
        for token in ["1|x", app.token()] {
            let a = app
                .send(
                    Method::POST,
                    "/api/v1/bill/status",
                    Some(token),
                    Body::Raw("application/x-www-form-urlencoded", body.clone()),
                )
                .await;
            assert!(
                a.status == 422 || a.status == 401,
                "{}: {}",
                a.status,
                a.text
            );
            if token == app.token() {
                a.invalid("x");
            }
            still_serving(&app).await;
        }
    }
    let nested = format!("{{\"id\":{}1{}}}", "[".repeat(120), "]".repeat(120));
    let a = app
        .send(
            Method::POST,
            "/api/v1/bill/status",
            Some(app.token()),
            Body::Raw("application/json", nested),
        )
        .await;
    a.invalid("id");
    still_serving(&app).await;
}

#[tokio::test]
async fn multibyte_dates_are_a_validation_error() {
    let app = spawn_app().await;
    for date in ["2024-01-0\u{e9}", "2024-01-01T10:00+1\u{e9}2"] {
        let a = app
            .get("/api/v1/bill/search", &[("start_date", date)])
            .await;
        a.invalid("start_date");
        let a = app
            .get("/api/v1/bill/search", &[("finish_date", date)])
            .await;
        a.invalid("finish_date");
    }
    still_serving(&app).await;
}

#[tokio::test]
async fn control_characters_are_refused_alike_on_every_backend() {
    let app = spawn_app().await;
    for (field, text) in [
        ("description", "tea\u{0}cake"),
        ("name", "bell\u{7}"),
        ("order_id", "A\u{1b}[31m"),
        ("custom", "x\u{85}y"),
    ] {
        let a = app
            .post(
                "/api/v1/bill/create",
                json!({"amount": "100", "shop_id": app.shop(), field: text}),
            )
            .await;
        a.invalid(field);
        // The same through a form body.
        let a = app
            .send(
                Method::POST,
                "/api/v1/bill/create",
                Some(app.token()),
                Body::form(&[("amount", "100"), ("shop_id", app.shop()), (field, text)]),
            )
            .await;
        a.invalid(field);
    }
    assert_eq!(app.bill_count().await, 0, "nothing was half-written");
    // Line breaks and tabs are text, and come back as sent.
    let description = "line one\r\nline two\twith a tab";
    let id = app
        .bill(json!({"amount": "100", "shop_id": app.shop(), "description": description}))
        .await;
    assert_eq!(
        app.bill_status(&id).await["description"],
        json!(description)
    );
}

/// A cursor is base64 of JSON, so the parameter's own check sees no control character: the
/// id inside is checked when it is decoded (a NUL would reach PostgreSQL), and so is its length.
#[tokio::test]
async fn a_cursor_hiding_a_nul_or_a_huge_id_is_invalid() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let app = spawn_app().await;
    let huge = "a".repeat(10_000);
    for id in ["\u{0}", "a\u{0}b", "a'b", huge.as_str()] {
        let cursor = URL_SAFE_NO_PAD
            .encode(json!({"created_at": 0, "id": id, "_pointsToNextItems": true}).to_string());
        for path in ["/api/v1/bill/search", "/api/v1/payment/search"] {
            let a = app.get(path, &[("cursor", cursor.as_str())]).await;
            a.invalid("cursor");
        }
    }
    still_serving(&app).await;
}

/// What no handler answers itself (an unknown path or method, a path segment that is not
/// UTF-8, a body over the limit) still comes in the shape of the surface the path belongs to:
/// the Card API's envelopes, Procard's code and messages, the payer's pages as a page.
#[tokio::test]
async fn unanswered_requests_come_in_their_surfaces_shape() {
    let app = spawn_app().await;
    let big = "x".repeat(200 * 1024);
    let v5 = [
        (Method::POST, "/v5/card-api/%FF", Body::None, 400, "status"),
        (
            Method::GET,
            "/v5/card-api/card/info",
            Body::None,
            405,
            "status",
        ),
        (Method::POST, "/v5/no/such/thing", Body::None, 404, "status"),
        (Method::POST, "/v5/cards/%FF", Body::None, 400, "datetime"),
        (
            Method::POST,
            "/v5/card-api/card/info",
            Body::Raw("application/json", big.clone()),
            413,
            "status",
        ),
    ];
    for (method, path, body, status, stamp) in v5 {
        let a = app.send(method, path, None, body).await;
        assert_eq!(a.status, status, "{path}: {}", a.text);
        assert_json(&a);
        assert!(a.json[stamp].is_string(), "{path}: {}", a.text);
        assert_eq!(
            a.json["error_code"],
            json!("validation_error"),
            "{path}: {}",
            a.text
        );
        assert!(
            a.json["error_description"].is_string(),
            "{path}: {}",
            a.text
        );
    }
    for (method, path, status) in [
        (Method::POST, "/permanent-links/nope", 404),
        (Method::GET, "/permanent-links/list", 405),
    ] {
        let a = app.send(method, path, None, Body::None).await;
        assert_eq!(a.status, status, "{path}: {}", a.text);
        assert_json(&a);
        assert_eq!(a.json["code"], json!(-15), "{path}: {}", a.text);
    }
    for (method, path, body, status) in [
        (Method::GET, "/link/%FF", Body::None, 400),
        (Method::GET, "/p/%C3%28", Body::None, 400),
        (Method::DELETE, "/transfer/AbCdEfGhIj", Body::None, 405),
        (
            Method::POST,
            "/transfer/AbCdEfGhIj/card",
            Body::Raw("application/x-www-form-urlencoded", format!("a={big}")),
            413,
        ),
    ] {
        let a = app.send(method, path, None, body).await;
        assert_eq!(a.status, status, "{path}: {}", a.text);
        assert!(
            a.content_type.starts_with("text/html"),
            "{path}: {}",
            a.text
        );
        assert!(a.text.contains("<html"), "{path}: {}", a.text);
    }
    // A card data link's pages say it in their own words, not a bill's.
    let a = app
        .send(Method::DELETE, "/card-secret/AbCd1234", None, Body::None)
        .await;
    assert_eq!(a.status, 405, "{}", a.text);
    assert!(a.text.contains("used already or has expired"), "{}", a.text);
    // The Cardlink API's own, as before.
    let a = app
        .send(Method::GET, "/api/v1/nope", None, Body::None)
        .await;
    a.error(404, "Not Found");
    still_serving(&app).await;
}
