//! Console tests: payouts. The moderation queue with each merchant's context, approving and
//! declining one or selected payouts, two admins deciding one payout at once, and support's
//! read-only view.
#![allow(clippy::inconsistent_digit_grouping)]

use super::*;
use paylink_core::payout::PayoutProfile;
use serde_json::json;
use tokio::task::JoinSet;

/// The default merchant's payouts wait for an operator; it has 4825.00 RUB available.
pub(super) async fn moderated(app: &TestApp) {
    app.set_profile(
        &app.merchant.merchant_id,
        PayoutProfile {
            moderation: true,
            ..open_profile()
        },
    )
    .await;
    app.fund("5000").await;
}

/// A card payout of `amount` RUB that waits in MODERATING; its id.
pub(super) async fn waiting(app: &TestApp, amount: &str) -> String {
    let p = created(&app.regular_payout(card(amount, CARD_OK)).await).remove(0);
    assert_eq!(p["status"], json!("MODERATING"), "{p}");
    id_of(&p)
}

async fn payout_status(app: &TestApp, id: &str) -> serde_json::Value {
    app.get("/api/v1/payout/status", &[("id", id)])
        .await
        .ok()
        .clone()
}

fn actions(entries: &[paylink_core::audit::AuditEntry], action: &str) -> usize {
    entries.iter().filter(|e| e.action == action).count()
}

#[tokio::test]
async fn two_admins_approving_one_payout_at_once_one_wins_and_the_other_is_told_it_moved() {
    let app = spawn_app().await;
    moderated(&app).await;
    let id = waiting(&app, "1000").await;
    let mut first = admin(&app).await;
    let mut second = operator(&app, "admin2@ops.test", Role::Admin).await;
    // Both see it waiting before either decides (a decision sent at once could otherwise
    // empty the queue before the second admin has read it).
    let mut seen = Vec::new();
    for b in [&mut first, &mut second] {
        let page = b.get("/admin/payouts").await;
        page.assert_html();
        page.assert_shows(&id);
        seen.push((page.csrf(), b.clone()));
    }
    let mut set = JoinSet::new();
    for (csrf, mut b) in seen {
        let id = id.clone();
        set.spawn(async move {
            b.post(
                "/admin/payouts/decide",
                &[
                    ("csrf", &csrf),
                    ("do", "approve"),
                    ("payout", &id),
                    ("confirm", "yes"),
                ],
            )
            .await
        });
    }
    let mut answers = Vec::new();
    while let Some(done) = set.join_next().await {
        answers.push(done.expect("the request task"));
    }
    answers.sort_by_key(|p| p.status);
    answers[0].assert_redirect("/admin/payouts?approved=1&declined=0&moved=0&missing=0");
    assert_eq!(answers[1].status, 409, "{}", answers[1].text);
    answers[1].assert_shows("Someone else changed this meanwhile");

    assert_eq!(
        app.wait_payout(app.token(), &id).await["status"],
        json!("SUCCESS")
    );
    let audit = audited(&app, &id).await;
    assert_eq!(actions(&audit, "payout.approve"), 1, "{audit:?}");
    assert_eq!(actions(&audit, "payout.decline"), 0, "{audit:?}");
    assert_eq!(app.balance().await.available, 4825_00 - 1070_00);
    app.assert_ledger_ok().await;
}

#[tokio::test]
async fn a_declined_payout_shows_its_reason_to_the_merchant_and_its_money_is_back() {
    let app = spawn_app().await;
    moderated(&app).await;
    let id = waiting(&app, "1000").await;
    assert_eq!(app.balance().await.available, 4825_00 - 1070_00);
    let mut b = admin(&app).await;
    let page = format!("/admin/payouts/{id}");
    let one = b.get(&page).await;
    one.assert_html();
    assert_eq!(one.text_of("payout-status").as_deref(), Some("MODERATING"));
    one.assert_shows("1000.00 RUB");
    one.assert_hides(CARD_OK);

    // No reason, or one no merchant could be shown (a NUL cannot be stored on PostgreSQL):
    // refused, nothing moved.
    let long = "x".repeat(501);
    for reason in [" ", "bad\u{0}name", "bell\u{7}", long.as_str()] {
        let bare = b
            .submit(
                &page,
                "/admin/payouts/decide",
                &[("do", "decline"), ("payout", &id), ("reason", reason)],
            )
            .await;
        assert_eq!(bare.status, 422, "{}", bare.text);
        bare.assert_shows("Give a reason for declining");
    }
    assert_eq!(
        payout_status(&app, &id).await["status"],
        json!("MODERATING")
    );

    let ask = b
        .submit(
            &page,
            "/admin/payouts/decide",
            &[
                ("do", "decline"),
                ("payout", &id),
                ("reason", "Payee name does not match"),
            ],
        )
        .await;
    ask.assert_html();
    assert_eq!(
        ask.text_of("question").as_deref(),
        Some(
            "Decline 1 payout(s) totalling 1000.00 RUB? The money goes back to the merchants' balances."
        )
    );
    assert_eq!(
        payout_status(&app, &id).await["status"],
        json!("MODERATING")
    );
    let csrf = ask.csrf();
    let done = b
        .post(
            "/admin/payouts/decide",
            &[
                ("csrf", &csrf),
                ("confirm", "yes"),
                ("do", "decline"),
                ("payout", &id),
                ("reason", "Payee name does not match"),
            ],
        )
        .await;
    done.assert_redirect("/admin/payouts?approved=0&declined=1&moved=0&missing=0");
    let summary = b.get(done.location.as_deref().unwrap()).await;
    summary.assert_shows("Declined: 1");
    summary.assert_hides(&id);

    let p = payout_status(&app, &id).await;
    assert_eq!(p["status"], json!("DECLINED"), "{p}");
    assert_eq!(
        p["error_message"],
        json!("Payee name does not match"),
        "{p}"
    );
    assert_eq!(
        app.balance().await,
        Bal {
            available: 4825_00,
            locked: 0,
            hold: 0
        }
    );
    let audit = audited(&app, &id).await;
    assert_eq!(actions(&audit, "payout.decline"), 1, "{audit:?}");
    assert!(audit[0].after.contains("Payee name does not match"));

    // Deciding it again: it moved.
    let again = b
        .post(
            "/admin/payouts/decide",
            &[
                ("csrf", &csrf),
                ("confirm", "yes"),
                ("do", "approve"),
                ("payout", &id),
            ],
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.text);
    assert_eq!(payout_status(&app, &id).await["status"], json!("DECLINED"));
    let declined = b.get("/admin/payouts?status=DECLINED").await;
    declined.assert_shows(&id);
    declined.assert_shows("Payee name does not match");
    app.assert_ledger_ok().await;
}

#[tokio::test]
async fn support_sees_the_queue_but_may_not_decide() {
    let app = spawn_app().await;
    moderated(&app).await;
    let id = waiting(&app, "1000").await;
    let mut s = support(&app).await;
    let queue = s.get("/admin/payouts").await;
    queue.assert_html();
    queue.assert_shows(&id);
    queue.assert_hides("id=\"approve-selected\"");
    let csrf = queue.csrf();
    for fields in [
        vec![("do", "approve"), ("payout", id.as_str())],
        vec![("do", "approve"), ("payout", &id), ("confirm", "yes")],
        vec![
            ("do", "decline"),
            ("payout", &id),
            ("reason", "no"),
            ("confirm", "yes"),
        ],
    ] {
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend(fields);
        let refused = s.post("/admin/payouts/decide", &all).await;
        assert_eq!(refused.status, 403, "{}", refused.text);
    }
    assert_eq!(
        payout_status(&app, &id).await["status"],
        json!("MODERATING")
    );
    assert!(audited(&app, &id).await.is_empty());
}

#[tokio::test]
async fn selected_payouts_are_approved_together_after_one_confirmation() {
    let app = spawn_app().await;
    moderated(&app).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(waiting(&app, "100").await);
        app.advance_ms(1_000);
    }
    let mut b = admin(&app).await;
    let queue = b.get("/admin/payouts").await;
    queue.assert_html();
    // Oldest first, each with its merchant's context; never the card number.
    let at: Vec<usize> = ids
        .iter()
        .map(|id| queue.text.find(&format!("data-payout=\"{id}\"")).expect(id))
        .collect();
    assert!(at[0] < at[1] && at[1] < at[2], "{at:?}");
    queue.assert_shows(&format!(
        "href=\"/admin/merchants/{}\"",
        app.merchant.merchant_id
    ));
    queue.assert_shows("100.00 RUB");
    queue.assert_shows(&format!(
        "{} RUB",
        paylink_core::money::format_fixed(4825_00 - 3 * 152_00)
    ));
    queue.assert_hides(CARD_OK);

    let mut fields = vec![("do", "approve")];
    fields.extend(ids.iter().map(|id| ("payout", id.as_str())));
    let ask = b
        .submit("/admin/payouts", "/admin/payouts/decide", &fields)
        .await;
    ask.assert_html();
    assert_eq!(
        ask.text_of("question").as_deref(),
        Some("Approve 3 payout(s) totalling 300.00 RUB?")
    );
    let csrf = ask.csrf();
    let mut confirmed = vec![("csrf", csrf.as_str()), ("confirm", "yes")];
    confirmed.extend(fields);
    let done = b.post("/admin/payouts/decide", &confirmed).await;
    done.assert_redirect("/admin/payouts?approved=3&declined=0&moved=0&missing=0");
    for id in &ids {
        assert_eq!(
            app.wait_payout(app.token(), id).await["status"],
            json!("SUCCESS")
        );
        assert_eq!(actions(&audited(&app, id).await, "payout.approve"), 1);
    }
    let empty = b.get("/admin/payouts").await;
    assert!(empty.text.contains("id=\"empty\""), "{}", empty.text);
    app.assert_ledger_ok().await;
}

#[tokio::test]
async fn a_decline_made_on_a_stale_view_does_not_undo_another_operators_approval() {
    let app = spawn_app().await;
    moderated(&app).await;
    let id = waiting(&app, "100").await;
    let seen = app
        .store
        .payout(&paylink_core::id::PayoutId::parse(&id).unwrap())
        .await
        .unwrap()
        .unwrap();
    let alice = Actor::operator("alice@ops.test", Role::Admin, "10.0.0.1");
    let bob = Actor::operator("bob@ops.test", Role::Admin, "10.0.0.2");
    use paylink_server::ops::payouts::{moderate, Moderation};
    moderate(&app.store, &alice, &seen, Moderation::Approve, app.now())
        .await
        .expect("alice approves");
    // Bob still looks at the MODERATING payout he read before Alice's approval.
    let refused = moderate(
        &app.store,
        &bob,
        &seen,
        Moderation::Decline("Looks odd".into()),
        app.now(),
    )
    .await;
    assert!(
        matches!(
            refused,
            Err(paylink_server::ops::OpError::Domain(
                paylink_core::DomainError::PayoutNotCancelable
            ))
        ),
        "{refused:?}"
    );
    let entries = audited(&app, &id).await;
    assert_eq!(actions(&entries, "payout.approve"), 1);
    assert_eq!(actions(&entries, "payout.decline"), 0);
    assert_ne!(payout_status(&app, &id).await["status"], json!("DECLINED"));
}

#[tokio::test]
async fn a_payout_is_not_approved_for_a_merchant_banned_since_it_was_asked_for() {
    let app = spawn_app().await;
    moderated(&app).await;
    let id = waiting(&app, "100").await;
    let merchant = app.merchant.merchant_id.to_string();
    paylink_server::ops::merchants::set_banned(&app.store, &cli(), &merchant, true, app.now())
        .await
        .unwrap();
    let mut a = admin(&app).await;
    let csrf = a.get("/admin/payouts").await.csrf();
    let approve = |d: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("do", d.to_string()),
            ("payout", id.clone()),
            ("confirm", "yes".to_string()),
            ("reason", "Merchant banned".to_string()),
        ]
    };
    let fields = approve("approve");
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = a.post("/admin/payouts/decide", &pairs).await;
    assert!(
        [409, 422].contains(&refused.status),
        "{} {}",
        refused.status,
        refused.text
    );
    refused.assert_shows("Decline it instead");
    assert_eq!(actions(&audited(&app, &id).await, "payout.approve"), 0);
    // Unbanned, it can be declined (or approved) again; declined here, its money back.
    paylink_server::ops::merchants::set_banned(&app.store, &cli(), &merchant, false, app.now())
        .await
        .unwrap();
    let fields = approve("decline");
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let declined = a.post("/admin/payouts/decide", &pairs).await;
    assert_eq!(declined.status, 303, "{}", declined.text);
    assert_eq!(payout_status(&app, &id).await["status"], json!("DECLINED"));
}

#[tokio::test]
async fn a_split_request_is_approved_whole_from_any_of_its_parts() {
    let app = spawn_app().await;
    moderated(&app).await;
    app.fund("400000").await;
    // Over the card maximum (150 000.00): two parts, both waiting.
    let parts = created(&app.regular_payout(card("300000", CARD_OK)).await);
    assert_eq!(parts.len(), 2, "{parts:?}");
    let ids: Vec<String> = parts.iter().map(id_of).collect();
    for p in &parts {
        assert_eq!(p["status"], json!("MODERATING"), "{p}");
    }
    let mut a = admin(&app).await;
    let csrf = a.get("/admin/payouts").await.csrf();
    // Only the second part is ticked: the confirmation asks about the whole request.
    let asked = a
        .post(
            "/admin/payouts/decide",
            &[("csrf", &csrf), ("do", "approve"), ("payout", &ids[1])],
        )
        .await;
    assert_eq!(asked.status, 200, "{}", asked.text);
    asked.assert_shows("Approve 2 payout(s) totalling 300000.00 RUB?");
    let done = a
        .post(
            "/admin/payouts/decide",
            &[
                ("csrf", &csrf),
                ("do", "approve"),
                ("payout", &ids[1]),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.text);
    for id in &ids {
        assert_ne!(
            payout_status(&app, id).await["status"],
            json!("MODERATING"),
            "{id}"
        );
        assert_eq!(
            actions(&audited(&app, id).await, "payout.approve"),
            1,
            "{id}"
        );
    }
}
