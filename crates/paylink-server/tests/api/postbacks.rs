//! Postbacks: written with the payment, delivered signed (Cardlink md5 and Standard Webhooks),
//! retried on the configured schedule by the test's clock, redelivered on demand, and refused
//! for receivers paylink must not call.

use crate::harness::*;
use paylink_core::event::{Dialect, EventKind, NoticeState};
use paylink_core::DomainError;
use paylink_sdk::testing::{Received, Receiver};
use paylink_server::keys::KeySource;
use paylink_server::ops::merchants::{self, ShopChanges};
use paylink_server::ops::OpError;
use paylink_server::{md5_signature, Application, Settings, WebhookKey};
use paylink_store::{NoticeContent, StoredNotice};
use serde_json::json;

/// The Cardlink signature and the Standard Webhooks signature of a postback both verify.
#[track_caller]
pub fn assert_signed(app: &TestApp, p: &Received) {
    assert_eq!(
        p.field("SignatureValue"),
        md5_signature(&[p.field("OutSum"), p.field("InvId")], app.token()),
        "{p:?}"
    );
    let key = WebhookKey::parse(&app.merchant.webhook_secret).unwrap();
    let ts: i64 = p.header("webhook-timestamp").parse().expect("a timestamp");
    assert_eq!(
        p.header("webhook-signature"),
        key.sign(p.header("webhook-id"), ts, &p.body),
        "{p:?}"
    );
    assert_eq!(
        p.header("content-type"),
        "application/x-www-form-urlencoded"
    );
    assert_eq!(p.method, "POST");
}

#[tokio::test]
async fn a_paid_bill_posts_every_field_signed_both_ways() {
    let app = spawn_app().await;
    let r = Receiver::start();
    app.set_result_url(&r.url("/postback")).await;
    let bill = app
        .bill(json!({"amount": "200.00", "order_id": "inv-9", "custom": "note 1"}))
        .await;
    let paid = app.pay_card(&bill, CARD_OK).await;
    let payment = paid.ok()["id"].as_str().unwrap().to_string();
    let got = r.wait_for("/postback", 1).await;
    let p = &got[0];
    let names: Vec<&str> = p.fields.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "InvId",
            "OutSum",
            "Commission",
            "TrsId",
            "Status",
            "CurrencyIn",
            "custom",
            "SignatureValue"
        ]
    );
    assert_eq!(p.field("InvId"), "inv-9");
    assert_eq!(p.field("OutSum"), "200.00");
    // The default commission, 3.5%, paid by the merchant.
    assert_eq!(p.field("Commission"), "7.00");
    assert_eq!(p.field("TrsId"), payment);
    assert_eq!(p.field("Status"), "SUCCESS");
    assert_eq!(p.field("CurrencyIn"), "RUB");
    assert_eq!(p.field("custom"), "note 1");
    assert_eq!(p.header("webhook-id"), format!("msg_{payment}"));
    // The attempt time comes from the server's clock.
    assert_eq!(p.header("webhook-timestamp"), (START / 1000).to_string());
    assert_signed(&app, p);
}

#[tokio::test]
async fn every_final_state_is_posted_and_a_bill_without_an_order_id_is_its_own_invoice() {
    let app = spawn_app().await;
    let r = Receiver::start();
    app.set_result_url(&r.url("/postback")).await;
    let normal = app.bill(json!({"amount": 100})).await;
    let multi = app.bill(json!({"amount": 100, "type": "MULTI"})).await;
    app.pay_card(&normal, CARD_DECLINED).await.ok();
    app.pay_card(&normal, CARD_NO_FUNDS).await.ok();
    app.pay_sbp(&multi, Some("90")).await.ok();
    app.pay_sbp(&multi, Some("120.50")).await.ok();
    app.pay_sbp(&multi, None).await.ok();
    let got = r.wait_for("/postback", 5).await;
    let mut seen: Vec<(String, String, String)> = got
        .iter()
        .map(|p| {
            assert_signed(&app, p);
            (
                p.field("InvId").to_string(),
                p.field("Status").to_string(),
                p.field("OutSum").to_string(),
            )
        })
        .collect();
    seen.sort();
    let mut expected = vec![
        (normal.clone(), "FAIL".to_string(), "100.00".to_string()),
        (normal.clone(), "FAIL".into(), "100.00".into()),
        (multi.clone(), "UNDERPAID".into(), "90.00".into()),
        (multi.clone(), "OVERPAID".into(), "120.50".into()),
        (multi.clone(), "SUCCESS".into(), "100.00".into()),
    ];
    expected.sort();
    assert_eq!(seen, expected);
    // A failed payment carries no commission.
    assert!(got
        .iter()
        .filter(|p| p.field("Status") == "FAIL")
        .all(|p| p.field("Commission") == "0.00"));
}

#[tokio::test]
async fn a_shop_without_a_result_url_gets_no_postback() {
    let app = spawn_app().await;
    let bill = app.bill(json!({"amount": 5})).await;
    app.pay_card(&bill, CARD_OK).await.ok();
    let history = merchants::postbacks(&app.store, &bill).await.unwrap();
    assert!(history.is_empty());
}

#[tokio::test]
async fn a_failing_receiver_is_retried_on_the_schedule_then_given_up_and_redelivered() {
    let app = spawn_app_with(|s| {
        s.postbacks.retry.delays = vec![10_000, 60_000];
        s.postbacks.retry.jitter_percent = 0;
    })
    .await;
    let r = Receiver::start();
    r.answer_with(500);
    app.set_result_url(&r.url("/postback")).await;
    let bill = app.bill(json!({"amount": 42})).await;
    app.pay_card(&bill, CARD_OK).await.ok();
    let first = r.wait_for("/postback", 1).await[0].clone();

    let state = |app: &TestApp| {
        let store = app.store.clone();
        let bill = bill.clone();
        async move {
            let h = merchants::postbacks(&store, &bill).await.unwrap();
            assert_eq!(h.len(), 1);
            h.into_iter().next().unwrap()
        }
    };
    // Recorded, and due again exactly one delay later (no jitter).
    app.recorded_attempts(&bill, 1).await;
    let mut h = state(&app).await;
    assert_eq!(h.record.state, NoticeState::Pending);
    assert_eq!(h.record.next_at, START + 10_000);
    assert_eq!(h.attempts.len(), 1);
    assert_eq!(h.attempts[0].http_status, Some(500));
    assert_eq!(h.attempts[0].excerpt, "answered 500");
    assert_eq!(h.attempts[0].at, START);

    app.advance_ms(10_000);
    r.wait_for("/postback", 2).await;
    app.recorded_attempts(&bill, 2).await;
    app.advance_ms(60_000);
    let third = r.wait_for("/postback", 3).await[2].clone();
    // The schedule is spent: failed, with every attempt on record.
    for _ in patience() {
        h = state(&app).await;
        if h.record.state == NoticeState::Failed {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(h.record.state, NoticeState::Failed);
    let numbers: Vec<i64> = h.attempts.iter().map(|a| a.number).collect();
    assert_eq!(numbers, [1, 2, 3]);
    assert_eq!(
        h.attempts.iter().map(|a| a.at).collect::<Vec<_>>(),
        [START, START + 10_000, START + 70_000]
    );
    // Nothing more comes however long we wait.
    app.advance_ms(30 * DAY_MS);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(r.at("/postback").len(), 3);

    // Redelivery: same id, same fields, same signature; a healthy receiver takes it.
    r.answer_with(200);
    merchants::redeliver(
        &app.store,
        Some(&paylink_core::audit::Actor::cli("test")),
        &h.record.notice.id,
        app.now(),
    )
    .await
    .unwrap();
    let fourth = r.wait_for("/postback", 4).await[3].clone();
    for p in [&third, &fourth] {
        assert_eq!(p.header("webhook-id"), first.header("webhook-id"));
        assert_eq!(p.body, first.body);
        assert_signed(&app, p);
    }
    for _ in patience() {
        h = state(&app).await;
        if h.record.state == NoticeState::Delivered {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(h.record.state, NoticeState::Delivered);
    assert_eq!(h.attempts.len(), 4);
    assert_eq!(h.attempts[3].http_status, Some(200));
    // An unknown postback cannot be redelivered.
    assert!(merchants::redeliver(
        &app.store,
        Some(&paylink_core::audit::Actor::cli("test")),
        "msg_nope",
        app.now()
    )
    .await
    .is_err());
}

#[tokio::test]
async fn a_receiver_that_is_down_is_an_attempt_with_an_error_and_a_retry() {
    let app = spawn_app().await;
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/postback", closed.local_addr().unwrap());
    drop(closed);
    app.set_result_url(&url).await;
    let bill = app.bill(json!({"amount": 3})).await;
    app.pay_card(&bill, CARD_OK).await.ok();
    app.recorded_attempts(&bill, 1).await;
    let h = merchants::postbacks(&app.store, &bill).await.unwrap();
    let p = &h[0];
    assert_eq!(p.record.state, NoticeState::Pending);
    assert_eq!(p.attempts[0].http_status, None);
    assert!(p.attempts[0]
        .error
        .as_deref()
        .is_some_and(|e| !e.is_empty()));
    assert!(p.record.next_at > START);
}

#[tokio::test]
async fn forbidden_receivers_are_refused_when_configured_and_when_sending() {
    let app = spawn_app_with(|s| s.postbacks.allow_private = false).await;
    let refuse = |url: &'static str, allow_private: bool| {
        let store = app.store.clone();
        let shop = app.shop().to_string();
        async move {
            merchants::update_shop(
                &store,
                Some(&paylink_core::audit::Actor::cli("test")),
                &shop,
                ShopChanges {
                    result_url: Some(url.into()),
                    ..ShopChanges::default()
                },
                allow_private,
                0,
            )
            .await
        }
    };
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/cb",
        "http://127.0.0.1:9/cb",
        "http://localhost:9/cb",
        "http://10.0.0.8/cb",
        "ftp://merchant.example/cb",
    ] {
        let refused = refuse(url, false).await;
        assert!(
            matches!(
                refused,
                Err(OpError::Domain(DomainError::Invalid {
                    field: "result_url",
                    ..
                }))
            ),
            "{url}: {refused:?}"
        );
    }
    // Metadata stays refused even where private receivers are allowed.
    assert!(refuse("http://169.254.169.254/", true).await.is_err());
    assert_eq!(
        app.store
            .shop(&paylink_core::id::ShopId::parse(app.shop()).unwrap())
            .await
            .unwrap()
            .unwrap()
            .result_url,
        None
    );

    // A URL accepted where private receivers were allowed is still refused by a server that
    // does not allow them, at send time.
    let r = Receiver::start();
    let url = r.url("/postback");
    merchants::update_shop(
        &app.store,
        Some(&paylink_core::audit::Actor::cli("test")),
        app.shop(),
        ShopChanges {
            result_url: Some(url),
            ..ShopChanges::default()
        },
        true,
        0,
    )
    .await
    .unwrap();
    let bill = app.bill(json!({"amount": 3})).await;
    app.pay_card(&bill, CARD_OK).await.ok();
    let mut h = Vec::new();
    for _ in patience() {
        h = merchants::postbacks(&app.store, &bill).await.unwrap();
        if h.first().is_some_and(|p| !p.attempts.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let error = h[0].attempts[0].error.clone().unwrap_or_default();
    assert!(error.contains("refused"), "{error}");
    assert!(r.at("/postback").is_empty());
}

#[tokio::test]
async fn a_token_refresh_signs_later_postbacks_with_the_new_token() {
    let app = spawn_app().await;
    let r = Receiver::start();
    app.set_result_url(&r.url("/postback")).await;
    let token = app.refresh_token().await;
    let bill = app.bill_as(&token, json!({"amount": 11})).await;
    let paid = app
        .send(
            reqwest::Method::POST,
            "/sandbox/pay",
            Some(&token),
            Body::Json(json!({"bill_id": bill, "method": "SBP"})),
        )
        .await;
    paid.ok();
    let p = &r.wait_for("/postback", 1).await[0];
    assert_eq!(
        p.field("SignatureValue"),
        md5_signature(&[p.field("OutSum"), p.field("InvId")], &token)
    );
    assert_ne!(
        p.field("SignatureValue"),
        md5_signature(&[p.field("OutSum"), p.field("InvId")], app.token())
    );
}

#[tokio::test]
async fn the_sandbox_api_answers_a_three_ds_card_as_told() {
    let app = spawn_app().await;
    let bill = app.bill(json!({"amount": 10, "type": "MULTI"})).await;
    let ok = app.pay_card(&bill, "4000000000003220").await;
    assert_eq!(ok.ok()["status"], json!("SUCCESS"));
    let failed = app
        .post(
            "/sandbox/pay",
            json!({"bill_id": bill, "method": "BANK_CARD", "card_number": "4000000000003220", "three_ds": "fail"}),
        )
        .await;
    let p = failed.ok();
    assert_eq!(p["status"], json!("FAIL"));
    assert_eq!(p["error_code"], json!(5));
}

/// Serves `app`'s database with its key file, as another paylink process would, until `stop`
/// fires; dispatches postbacks (one attempt a round) but runs no money worker.
fn another_process(
    app: &TestApp,
    stop: tokio::sync::oneshot::Receiver<()>,
) -> tokio::task::JoinHandle<()> {
    let mut settings = Settings::new(app.db.url.clone(), "127.0.0.1:0".parse().unwrap());
    settings.keys = KeySource::File(app.key_file.clone());
    settings.postbacks.allow_private = true;
    settings.postbacks.poll = std::time::Duration::from_millis(50);
    settings.postbacks.retry.delays = Vec::new();
    settings.money.work = false;
    let clock = app.clock.clone();
    tokio::spawn(async move {
        let server = Application::build(settings, clock)
            .await
            .expect("the second process builds");
        server
            .run_until(async move {
                let _ = stop.await;
            })
            .await
            .expect("the second process serves");
    })
}

/// The history of the only postback about `bill` once `done` holds for it.
async fn postback_when(
    app: &TestApp,
    bill: &str,
    done: impl Fn(&merchants::PostbackHistory) -> bool,
) -> merchants::PostbackHistory {
    for _ in patience() {
        let h = merchants::postbacks(&app.store, bill).await.unwrap();
        if let Some(p) = h.into_iter().next().filter(|p| done(p)) {
            return p;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the postback about {bill} did not get there");
}

#[tokio::test]
async fn a_postback_redelivered_after_a_restart_carries_the_same_bytes() {
    // The process that takes the payment sends nothing; one process tries the postback and
    // stops, the next one redelivers it.
    let app = spawn_app_with(|s| s.postbacks.dispatch = false).await;
    let r = Receiver::start();
    r.answer_with(500);
    app.set_result_url(&r.url("/postback")).await;
    let bill = app
        .bill(json!({"amount": "12.30", "order_id": "r/1 é", "custom": "x&y"}))
        .await;
    app.pay_card(&bill, CARD_OK).await.ok();

    let (stop, stopped) = tokio::sync::oneshot::channel();
    let first = another_process(&app, stopped);
    let before = r.wait_for("/postback", 1).await[0].clone();
    let h = postback_when(&app, &bill, |p| p.record.state == NoticeState::Failed).await;
    let _ = stop.send(());
    first.await.unwrap();

    r.answer_with(200);
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let second = another_process(&app, stopped);
    merchants::redeliver(
        &app.store,
        Some(&paylink_core::audit::Actor::cli("test")),
        &h.record.notice.id,
        app.now(),
    )
    .await
    .unwrap();
    let after = r.wait_for("/postback", 2).await[1].clone();
    postback_when(&app, &bill, |p| p.record.state == NoticeState::Delivered).await;
    let _ = stop.send(());
    second.await.unwrap();

    assert_eq!(after.body, before.body);
    for name in [
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "content-type",
    ] {
        assert_eq!(after.header(name), before.header(name), "{name}");
    }
    assert_eq!(before.field("InvId"), "r/1 é");
    assert_eq!(before.field("custom"), "x&y");
    assert_signed(&app, &after);
}

/// A legacy row as the outbox held it before events: its form fields, no event.
fn legacy(
    app: &TestApp,
    id: &str,
    kind: EventKind,
    shop: bool,
    url: String,
    fields: &[(&str, &str)],
) -> StoredNotice {
    StoredNotice {
        id: id.into(),
        kind,
        dialect: Dialect::Cardlink,
        merchant_id: Some(app.merchant.merchant_id.clone()),
        partner_id: None,
        shop_id: shop.then(|| app.merchant.shop_id.clone()),
        bill_id: None,
        subject_id: id.trim_start_matches("msg_").into(),
        url,
        content: NoticeContent::Fields(
            fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        created_at: START,
    }
}

#[tokio::test]
async fn postbacks_pending_from_before_the_upgrade_go_out_byte_for_byte() {
    let app = spawn_app().await;
    let r = Receiver::start();
    let token = app.token().to_string();
    let payment = legacy(
        &app,
        "msg_PPPPPPPPPP",
        EventKind::Payment,
        true,
        r.url("/payment"),
        &[
            ("InvId", "order 7/ü"),
            ("OutSum", "10.00"),
            ("Commission", "0.35"),
            ("TrsId", "PPPPPPPPPP"),
            ("Status", "SUCCESS"),
            ("CurrencyIn", "RUB"),
            ("custom", "a&b=c"),
        ],
    );
    let payout = legacy(
        &app,
        "msg_QQQQQQQQQQ",
        EventKind::Payout,
        false,
        r.url("/payout"),
        &[
            ("TrsId", "QQQQQQQQQQ"),
            ("Amount", "1000.00"),
            ("IsAuto", "false"),
            ("Status", "SUCCESS"),
            ("Currency", "RUB"),
            ("Commission", "25.00"),
            ("AccountType", "BANK_CARD"),
            ("AccountNumber", "400000******0010"),
            ("BalanceAmount", "1000.00"),
            ("BalanceCommission", "25.00"),
            ("BalanceCurrency", "RUB"),
            ("CommissionApplyType", "sender"),
        ],
    );
    let refund = legacy(
        &app,
        "msg_RRRRRRRRRR",
        EventKind::Refund,
        true,
        r.url("/refund"),
        &[
            ("Id", "RRRRRRRRRR"),
            ("PaymentId", "PPPPPPPPPP"),
            ("BillId", "BBBBBBBBBB"),
            ("Amount", "5.00"),
            ("Currency", "RUB"),
            ("Status", "SUCCESS"),
            ("Type", "REFUND"),
            ("custom", ""),
        ],
    );
    for n in [&payment, &payout, &refund] {
        app.store.insert_legacy_notice(n).await.unwrap();
    }
    let sig = |values: &[&str]| md5_signature(values, &token);
    let expected = [
        (
            "/payment",
            &payment.id,
            format!(
                "InvId=order+7%2F%C3%BC&OutSum=10.00&Commission=0.35&TrsId=PPPPPPPPPP\
                 &Status=SUCCESS&CurrencyIn=RUB&custom=a%26b%3Dc&SignatureValue={}",
                sig(&["10.00", "order 7/ü"])
            ),
        ),
        (
            "/payout",
            &payout.id,
            format!(
                "TrsId=QQQQQQQQQQ&Amount=1000.00&IsAuto=false&Status=SUCCESS&Currency=RUB\
                 &Commission=25.00&AccountType=BANK_CARD&AccountNumber=400000******0010\
                 &BalanceAmount=1000.00&BalanceCommission=25.00&BalanceCurrency=RUB\
                 &CommissionApplyType=sender&SignatureValue={}",
                sig(&["1000.00", "QQQQQQQQQQ"])
            ),
        ),
        (
            "/refund",
            &refund.id,
            format!(
                "Id=RRRRRRRRRR&PaymentId=PPPPPPPPPP&BillId=BBBBBBBBBB&Amount=5.00&Currency=RUB\
                 &Status=SUCCESS&Type=REFUND&custom=&SignatureValue={}",
                sig(&["5.00", "RUB", "BBBBBBBBBB", "PPPPPPPPPP", "RRRRRRRRRR"])
            ),
        ),
    ];
    let key = WebhookKey::parse(&app.merchant.webhook_secret).unwrap();
    for (path, id, body) in expected {
        let p = r.wait_for(path, 1).await[0].clone();
        assert_eq!(p.body, body, "{path}");
        assert_eq!(p.header("webhook-id"), id.as_str());
        assert_eq!(p.header("webhook-timestamp"), (START / 1000).to_string());
        assert_eq!(
            p.header("content-type"),
            "application/x-www-form-urlencoded"
        );
        // Payout webhooks belong to no shop: no Standard Webhooks signature, as before.
        let signature =
            (path != "/payout").then(|| key.sign(p.header("webhook-id"), START / 1000, &p.body));
        assert_eq!(
            p.header("webhook-signature"),
            signature.unwrap_or_default(),
            "{path}"
        );
    }
    // The operator sees their fields as they were.
    let record = app.store.notice(&payment.id).await.unwrap().unwrap();
    assert_eq!(
        paylink_server::dialects::fields(&record.notice),
        match &payment.content {
            NoticeContent::Fields(f) => f.clone(),
            NoticeContent::Event(_) => unreachable!(),
        }
    );
}
