//! `paylink postback purge`: a pass of the outbox's retention by hand, against a fresh database
//! (a temp SQLite file, or a new PostgreSQL database when `PAYLINK_TEST_DATABASE_URL` is set).

use paylink_core::event::{Email, Notice};
use paylink_core::plan::{Plan, Write};
use paylink_store::testing::TestDatabase;
use paylink_store::{Store, StoreOptions};
use serde_json::{json, Value};
use std::process::{Command, Output, Stdio};

const PAYLINK: &str = env!("CARGO_BIN_EXE_paylink");
const DAY_MS: i64 = 86_400_000;

/// `paylink ARGS` on `url` in a scratch directory, with no `PAYLINK_*` variable inherited but
/// those given.
fn paylink(url: &str, args: &[&str], vars: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cmd = Command::new(PAYLINK);
    cmd.arg("--database-url")
        .arg(url)
        .args(args)
        .current_dir(dir.path())
        .stdin(Stdio::null());
    for (name, _) in std::env::vars() {
        if name.starts_with("PAYLINK_") {
            cmd.env_remove(name);
        }
    }
    cmd.envs(vars.iter().copied());
    cmd.output().expect("run paylink")
}

fn json_of(out: &Output) -> Value {
    assert!(out.status.success(), "paylink failed: {out:?}");
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

/// `n` emails made `age_days` ago, kept (no gateway) or pending (a gateway that never answers).
async fn emails(store: &Store, prefix: &str, n: usize, age_days: i64, pending: bool) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let writes = (0..n)
        .map(|i| {
            Write::EnqueueNotice(Notice::email(
                if pending {
                    "http://127.0.0.1:9/mail"
                } else {
                    ""
                },
                Email {
                    subject_id: format!("{prefix}{i}"),
                    to: "owner@shop.test".into(),
                    subject: "Reset your paylink password".into(),
                    text_sealed: "sealed".into(),
                },
                now - age_days * DAY_MS,
            ))
        })
        .collect();
    store.apply(Plan { writes }).await.expect("emails written");
}

#[tokio::test]
async fn postback_purge_removes_what_finished_before_the_retention_and_prints_the_summary() {
    let db = TestDatabase::new().await;
    let store = Store::open(&db.url, StoreOptions::for_command())
        .await
        .expect("open the database");
    emails(&store, "old", 3, 40, false).await;
    emails(&store, "month", 2, 20, false).await;
    emails(&store, "waiting", 2, 40, true).await;
    store.close().await;

    let first = json_of(&paylink(&db.url, &["postback", "purge", "--json"], &[]));
    assert_eq!(first["older_than_days"], 30);
    assert_eq!(first["removed"], json!({"notices": 3, "attempts": 0}));
    let summary = first["summary"].as_array().expect("a summary");
    assert_eq!(summary.len(), 1, "{first}");
    assert_eq!(
        (
            &summary[0]["kind"],
            &summary[0]["state"],
            &summary[0]["notices"]
        ),
        (&json!("email"), &json!("kept"), &json!(3))
    );

    // Nothing more to do; then a shorter retention takes the 20-day-old ones, never the
    // pending ones.
    let again = json_of(&paylink(&db.url, &["postback", "purge", "--json"], &[]));
    assert_eq!(again["removed"], json!({"notices": 0, "attempts": 0}));
    let shorter = json_of(&paylink(
        &db.url,
        &["postback", "purge", "--older-than-days", "10", "--json"],
        &[],
    ));
    assert_eq!(shorter["removed"]["notices"], 2);
    assert_eq!(shorter["summary"][0]["notices"], 5);
    let text = paylink(
        &db.url,
        &["postback", "purge", "--older-than-days", "1"],
        &[],
    );
    assert!(text.status.success(), "{text:?}");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("removed 0 finished notice(s)") && text.contains("email kept: 5 notice(s)"),
        "{text}"
    );

    // retention_days = 0 keeps everything: purging then needs an explicit age.
    let off = paylink(
        &db.url,
        &["postback", "purge"],
        &[("PAYLINK_POSTBACKS_RETENTION_DAYS", "0")],
    );
    assert!(!off.status.success() && off.stdout.is_empty(), "{off:?}");
    assert!(String::from_utf8_lossy(&off.stderr).contains("retention_days = 0"));

    let store = Store::open(&db.url, StoreOptions::for_command())
        .await
        .expect("open the database");
    let pending = store.mail_messages(10).await.unwrap();
    assert_eq!(pending.len(), 2, "{pending:?}");
    assert!(pending.iter().all(|m| m.state == "pending"));
    store.close().await;
}
