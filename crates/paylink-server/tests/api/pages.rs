//! The payer pages and the health check.

use crate::harness::*;
use serde_json::json;

#[tokio::test]
async fn bill_pages_show_the_bill() {
    let app = spawn_app().await;
    let id = app
        .bill(json!({"amount": "1234.50", "name": "Desk <lamp>", "description": "Two bulbs"}))
        .await;
    for path in [format!("/link/{id}"), format!("/transfer/{id}")] {
        let response = app.http.get(app.url(&path)).send().await.unwrap();
        let a = answer(response).await;
        assert_eq!(a.status, 200, "{path}");
        assert!(
            a.content_type.starts_with("text/html"),
            "{}",
            a.content_type
        );
        assert!(a.text.contains("1234.50"), "{}", a.text);
        assert!(a.text.contains("RUB"), "{}", a.text);
        assert!(a.text.contains("Desk &#60;lamp&#62;"), "{}", a.text);
        assert!(!a.text.contains("<lamp>"), "{}", a.text);
    }
    // The links bill/create hands out are these pages.
    let created = app
        .create_bill_as(app.token(), json!({"amount": 7, "shop_id": app.shop()}))
        .await;
    for key in ["link_url", "link_page_url"] {
        let url = created.json[key].as_str().unwrap();
        let a = answer(app.http.get(url).send().await.unwrap()).await;
        assert_eq!(a.status, 200, "{url}");
        assert!(a.text.contains("7.00"), "{}", a.text);
    }
}

#[tokio::test]
async fn bill_pages_tell_the_payer_the_bills_state() {
    let app = spawn_app().await;
    let page = |id: String| {
        let app = &app;
        async move {
            let a = answer(
                app.http
                    .get(app.url(&format!("/link/{id}")))
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(a.status, 200, "{}", a.text);
            a.text
        }
    };
    let paid = app.bill(json!({"amount": 1})).await;
    let inactive = app.bill(json!({"amount": 1})).await;
    let expiring = app.bill(json!({"amount": 1, "ttl": 60})).await;
    assert!(page(paid.clone()).await.contains("Awaiting payment"));
    app.pay_sbp(&paid, None).await.ok();
    assert!(page(paid).await.contains("has been paid"));
    app.post(
        "/api/v1/bill/toggle_activity",
        json!({"id": inactive, "active": 0}),
    )
    .await
    .ok();
    assert!(page(inactive).await.contains("not active"));
    app.advance_ms(61_000);
    assert!(page(expiring).await.contains("expired"));
}

#[tokio::test]
async fn unknown_bill_pages_are_404() {
    let app = spawn_app().await;
    for path in [
        "/link/AAAAAAAAAA",
        "/transfer/AAAAAAAAAA",
        "/link/nope",
        "/transfer/x'--",
    ] {
        let a = answer(app.http.get(app.url(path)).send().await.unwrap()).await;
        assert_eq!(a.status, 404, "{path}");
    }
}

#[tokio::test]
async fn health_answers_200() {
    let app = spawn_app().await;
    let a = answer(app.http.get(app.url("/health")).send().await.unwrap()).await;
    assert_eq!(a.status, 200, "{}", a.text);
}
