//! `/metrics` on its own listener, read with a Prometheus text parser: what an operator's
//! dashboards and alerts are built on.

use crate::harness::*;
use serde_json::json;
use std::collections::HashMap;

/// The samples of one scrape: `name{sorted labels}` → value.
async fn scrape(app: &TestApp) -> HashMap<String, f64> {
    let url = app.metrics_url.as_ref().expect("a metrics listener");
    let response = app.http.get(url).send().await.expect("metrics answer");
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("text");
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let parsed = prometheus_parse::Scrape::parse(lines).expect("the exposition parses");
    assert!(!parsed.samples.is_empty(), "{text}");
    parsed
        .samples
        .into_iter()
        .map(|s| {
            let mut labels: Vec<String> =
                s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            labels.sort();
            let value = match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                prometheus_parse::Value::Histogram(h) => {
                    h.iter().map(|b| b.count).fold(0.0, f64::max)
                }
                prometheus_parse::Value::Summary(_) => f64::NAN,
            };
            (format!("{}{{{}}}", s.metric, labels.join(",")), value)
        })
        .collect()
}

fn sample(samples: &HashMap<String, f64>, key: &str) -> f64 {
    *samples
        .get(key)
        .unwrap_or_else(|| panic!("no {key} in {:#?}", samples.keys().collect::<Vec<_>>()))
}

#[tokio::test]
async fn requests_payments_and_the_writer_are_counted_off_the_public_listener() {
    let app = spawn_app_with(|s| s.metrics_listen = Some("127.0.0.1:0".parse().unwrap())).await;
    let paid = app
        .bill(json!({"amount": "100", "shop_id": app.shop()}))
        .await;
    app.pay_card(&paid, CARD_OK).await.ok();
    let declined = app
        .bill(json!({"amount": "100", "shop_id": app.shop()}))
        .await;
    app.pay_card(&declined, CARD_DECLINED).await;
    app.get("/api/v1/bill/status", &[("id", paid.as_str())])
        .await
        .ok();
    let missing = app.http.get(app.url("/no/such/page")).send().await.unwrap();
    assert_eq!(missing.status(), 404);

    let m = scrape(&app).await;
    assert_eq!(
        sample(
            &m,
            "paylink_http_request_duration_seconds_count{method=POST,route=/api/v1/bill/create,status=200}"
        ),
        2.0
    );
    assert_eq!(
        sample(
            &m,
            "paylink_http_request_duration_seconds_count{method=GET,route=/api/v1/bill/status,status=200}"
        ),
        1.0
    );
    // An unknown path is one series, whatever the path: no unbounded labels.
    assert_eq!(
        sample(
            &m,
            "paylink_http_request_duration_seconds_count{method=GET,route=unmatched,status=404}"
        ),
        1.0
    );
    assert_eq!(
        sample(
            &m,
            "paylink_payments_total{method=BANK_CARD,status=SUCCESS}"
        ),
        1.0
    );
    assert_eq!(
        sample(&m, "paylink_payments_total{method=BANK_CARD,status=FAIL}"),
        1.0
    );
    assert!(sample(&m, "paylink_writer_batch_plans_count{}") >= 4.0);
    assert!(sample(&m, "paylink_writer_commit_duration_seconds_count{}") >= 1.0);
    assert_eq!(sample(&m, "paylink_writer_queue{}"), 0.0);
    for gauge in [
        "paylink_outbox_due{}",
        "paylink_outbox_in_flight{}",
        "paylink_outbox_delivery_lag_seconds{}",
        "paylink_settlements_due{}",
    ] {
        assert_eq!(sample(&m, gauge), 0.0, "{gauge}");
    }
    assert!(sample(&m, "paylink_db_read_connections{state=open}") >= 1.0);

    // The public listener does not serve them.
    let public = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), 404);
}

#[tokio::test]
async fn waiting_work_shows_in_the_gauges() {
    let app = spawn_app_with(|s| {
        s.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
        // Money waits a day in hold; postbacks go nowhere fast.
        s.money.settle_after = std::time::Duration::from_secs(86_400);
        s.postbacks.dispatch = false;
    })
    .await;
    paylink_server::ops::merchants::update_shop(
        &app.store,
        Some(&paylink_core::audit::Actor::cli("test")),
        app.shop(),
        paylink_server::ops::merchants::ShopChanges {
            result_url: Some("http://127.0.0.1:9/postback".into()),
            ..Default::default()
        },
        true,
        0,
    )
    .await
    .expect("a result URL");
    let bill = app
        .bill(json!({"amount": "100", "shop_id": app.shop()}))
        .await;
    app.pay_card(&bill, CARD_OK).await.ok();
    app.advance_ms(90_000);
    let m = scrape(&app).await;
    assert_eq!(sample(&m, "paylink_outbox_due{}"), 1.0);
    assert_eq!(sample(&m, "paylink_outbox_delivery_lag_seconds{}"), 90.0);
    assert_eq!(sample(&m, "paylink_settlements_waiting{}"), 1.0);
    assert_eq!(sample(&m, "paylink_settlements_due{}"), 0.0);
    assert_eq!(sample(&m, "paylink_outbox_enqueued_total{}"), 1.0);
}
