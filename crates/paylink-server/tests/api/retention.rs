//! The outbox's retention: postbacks, SMS and emails finished (delivered, failed, kept) longer
//! than `[postbacks] retention_days` are added to the daily summary and removed with their
//! attempts; pending ones stay whatever their age; passes may race; 0 keeps everything.

use crate::harness::*;
use crate::web::{signed_up, Browser};
use paylink_core::event::{Email, Notice, NoticeState};
use paylink_core::id::BillId;
use paylink_core::plan::{Plan, Write};
use paylink_sdk::testing::Receiver;
use paylink_server::ops::merchants;
use paylink_server::workers::retention;
use paylink_store::{HistoryDay, NoticeRecord, Store};
use serde_json::json;
use std::collections::BTreeMap;

/// A server whose own retention is off (the test runs passes by hand, as `paylink postback
/// purge` does), with one retry 40 days after a first failure and no jitter.
async fn app_for_passes() -> TestApp {
    spawn_app_with(|s| {
        s.postbacks.retention_days = 0;
        s.postbacks.retry.delays = vec![40 * DAY_MS];
        s.postbacks.retry.jitter_percent = 0;
    })
    .await
}

/// A paid bill, once its postback is in `state`: the bill and its notice.
async fn paid(app: &TestApp, state: NoticeState) -> (String, NoticeRecord) {
    let bill = app.bill(json!({"amount": "100.00"})).await;
    app.pay_card(&bill, CARD_OK).await.ok();
    (bill.clone(), in_state(app, &bill, state).await)
}

/// The postback of `bill` once it is in `state` after at least one attempt (the dispatcher
/// works on its own time).
async fn in_state(app: &TestApp, bill: &str, state: NoticeState) -> NoticeRecord {
    let id = BillId::from_trusted(bill.to_string());
    for () in patience() {
        let notices = app.store.notices_for_bill(&id).await.unwrap();
        if let [n] = notices.as_slice() {
            if n.state == state && n.total_attempts > 0 {
                return n.clone();
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the postback of {bill} never became {state:?}");
}

/// The summary as a map (day, merchant, kind, state) -> (notices, attempts, delay).
type Summary = BTreeMap<(i64, String, &'static str, &'static str), (i64, i64, i64)>;

async fn summary(store: &Store) -> Summary {
    store
        .outbox_history()
        .await
        .unwrap()
        .into_iter()
        .map(|h: HistoryDay| {
            let merchant = h.merchant_id.map(|m| m.to_string()).unwrap_or_default();
            (
                (h.day, merchant, h.kind.as_str(), h.state.as_str()),
                (h.notices, h.attempts, h.delay_ms),
            )
        })
        .collect()
}

/// What the summary gains from `removed`.
fn add(summary: &mut Summary, removed: &[&NoticeRecord]) {
    for r in removed {
        let n = &r.notice;
        let key = (
            n.created_at - n.created_at % DAY_MS,
            n.merchant_id
                .as_ref()
                .map(|m| m.to_string())
                .unwrap_or_default(),
            n.kind.as_str(),
            r.state.as_str(),
        );
        let line = summary.entry(key).or_default();
        line.0 += 1;
        line.1 += r.total_attempts;
        line.2 += r.delivered_at.map_or(0, |d| d - n.created_at);
    }
}

async fn pass(app: &TestApp, days: u32) -> retention::Purged {
    let before = retention::cutoff(app.now(), days).expect("a retention");
    retention::purge(&app.store, before, || true).await.unwrap()
}

async fn gone(app: &TestApp, r: &NoticeRecord) -> bool {
    app.store.notice(&r.notice.id).await.unwrap().is_none()
        && app
            .store
            .notice_attempts(&r.notice.id)
            .await
            .unwrap()
            .is_empty()
}

#[tokio::test]
async fn finished_notices_past_the_retention_are_summed_and_removed_and_pending_ones_stay() {
    let app = app_for_passes().await;
    let r = Receiver::start();
    app.set_result_url(&r.url("/postback")).await;
    let t0 = app.now();
    // Day 0: two postbacks delivered, one failing (retried on day 40), one email kept (no
    // mail gateway).
    let (bill_a, a) = paid(&app, NoticeState::Delivered).await;
    let (_, b) = paid(&app, NoticeState::Delivered).await;
    r.answer_with(500);
    let (bill_c, _) = paid(&app, NoticeState::Pending).await;
    signed_up(&app, "owner@shop.test").await;
    Browser::new(&app)
        .submit(
            "/forgot-password",
            "/forgot-password",
            &[("email", "owner@shop.test")],
        )
        .await
        .assert_html();
    let mails = paylink_server::ops::accounts::mail_messages(&app.store, &app.keys, 10)
        .await
        .unwrap();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].state, "kept");
    let mail = app.store.notice(&mails[0].id).await.unwrap().unwrap();

    // Day 41: the failing postback's second attempt fails for good; a new one waits for its
    // retry on day 81; another is delivered.
    app.advance_ms(41 * DAY_MS);
    let c = in_state(&app, &bill_c, NoticeState::Failed).await;
    assert_eq!(c.total_attempts, 2);
    let (bill_d, d) = paid(&app, NoticeState::Pending).await;
    r.answer_with(200);
    let (_, e) = paid(&app, NoticeState::Delivered).await;

    // A pass with 30 days: what finished on day 0 goes, with its attempts, into the summary.
    let mut expected = Summary::new();
    add(&mut expected, &[&a, &b, &mail]);
    let purged = pass(&app, 30).await;
    assert_eq!(
        (purged.notices, purged.attempts),
        (3, 2),
        "two delivered postbacks (one attempt each) and a kept email"
    );
    assert_eq!(summary(&app.store).await, expected);
    let day0 = t0 - t0 % DAY_MS;
    assert_eq!(
        expected.get(&(
            day0,
            app.merchant.merchant_id.to_string(),
            "payment",
            "delivered"
        )),
        Some(&(
            2,
            2,
            a.delivered_at.unwrap() - a.notice.created_at + b.delivered_at.unwrap()
                - b.notice.created_at
        ))
    );
    for removed in [&a, &b, &mail] {
        assert!(gone(&app, removed).await, "{} is kept", removed.notice.id);
    }
    for kept in [&c, &d, &e] {
        assert!(app.store.notice(&kept.notice.id).await.unwrap().is_some());
        assert_eq!(
            app.store
                .notice_attempts(&kept.notice.id)
                .await
                .unwrap()
                .len() as i64,
            kept.total_attempts
        );
    }
    // What people read still works on the trimmed outbox: the old rows are simply gone.
    assert!(merchants::postbacks(&app.store, &bill_a)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        merchants::postbacks(&app.store, &bill_d)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        paylink_server::ops::accounts::mail_messages(&app.store, &app.keys, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // A second pass finds nothing more.
    assert_eq!(pass(&app, 30).await, retention::Purged::default());
    assert_eq!(summary(&app.store).await, expected);

    // Day 72: the failed one (finished on day 41) and the one delivered on day 41 go; the
    // pending one, made 31 days ago, stays until it is final.
    app.advance_ms(31 * DAY_MS);
    let purged = pass(&app, 30).await;
    assert_eq!((purged.notices, purged.attempts), (2, 3));
    add(&mut expected, &[&c, &e]);
    assert_eq!(summary(&app.store).await, expected);
    assert!(gone(&app, &c).await && gone(&app, &e).await);
    let still = app.store.notice(&d.notice.id).await.unwrap().unwrap();
    assert_eq!(still.state, NoticeState::Pending);
    assert_eq!(
        summary(&app.store).await.values().map(|v| v.0).sum::<i64>(),
        5
    );
}

/// `n` emails kept at `now` (no mail gateway), written as the web pages write them.
async fn kept_emails(store: &Store, n: usize, now: i64) {
    let notices: Vec<Write> = (0..n)
        .map(|i| {
            Write::EnqueueNotice(Notice::email(
                "",
                Email {
                    subject_id: format!("retention{i:05}"),
                    to: format!("owner{i}@shop.test"),
                    subject: "Reset your paylink password".into(),
                    text_sealed: "sealed".into(),
                },
                now,
            ))
        })
        .collect();
    for chunk in notices.chunks(500) {
        store
            .apply(Plan {
                writes: chunk.to_vec(),
            })
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn two_passes_racing_count_every_notice_once() {
    let app = app_for_passes().await;
    kept_emails(&app.store, 2500, app.now()).await;
    app.advance_ms(31 * DAY_MS);
    let before = retention::cutoff(app.now(), 30).unwrap();
    let (one, two) = tokio::join!(
        tokio::spawn({
            let store = app.store.clone();
            async move { retention::purge(&store, before, || true).await }
        }),
        tokio::spawn({
            let store = app.store.clone();
            async move { retention::purge(&store, before, || true).await }
        }),
    );
    let (one, two) = (one.unwrap().unwrap(), two.unwrap().unwrap());
    // A pass counts what it found gone, which may include the other's rows; the summary
    // counts each row once.
    assert!(one.notices + two.notices >= 2500, "{one:?} {two:?}");
    let lines = summary(&app.store).await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    let ((_, merchant, kind, state), totals) = lines.into_iter().next().unwrap();
    assert_eq!(
        (merchant.as_str(), kind, state, totals),
        ("", "email", "kept", (2500, 0, 0))
    );
    assert!(app.store.mail_messages(10).await.unwrap().is_empty());
    assert_eq!(pass(&app, 30).await, retention::Purged::default());
}

#[tokio::test]
async fn the_dispatching_server_removes_old_notices_by_itself_and_zero_days_keeps_them() {
    // The default: 30 days, run by the server beside its dispatcher.
    let app = spawn_app().await;
    let r = Receiver::start();
    app.set_result_url(&r.url("/postback")).await;
    let (_, old) = paid(&app, NoticeState::Delivered).await;
    app.advance_ms(31 * DAY_MS);
    let (_, recent) = paid(&app, NoticeState::Delivered).await;
    let mut removed = false;
    for () in patience() {
        if gone(&app, &old).await {
            removed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(removed, "the server never removed a postback 31 days old");
    let mut expected = Summary::new();
    add(&mut expected, &[&old]);
    assert_eq!(summary(&app.store).await, expected);
    assert!(app.store.notice(&recent.notice.id).await.unwrap().is_some());

    // retention_days = 0: nothing is ever removed, however old.
    let keep = spawn_app_with(|s| s.postbacks.retention_days = 0).await;
    keep.set_result_url(&r.url("/postback")).await;
    let (_, first) = paid(&keep, NoticeState::Delivered).await;
    keep.advance_ms(400 * DAY_MS);
    // The dispatcher (and the retention beside it) ran after the clock moved: a new postback
    // is delivered; the old one is still there.
    paid(&keep, NoticeState::Delivered).await;
    assert!(retention::cutoff(keep.now(), 0).is_none());
    assert!(keep.store.notice(&first.notice.id).await.unwrap().is_some());
    assert!(summary(&keep.store).await.is_empty());
}
