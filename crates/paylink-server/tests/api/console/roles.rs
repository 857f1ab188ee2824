//! Console tests: roles. Every admin action of the console, walked as support: each answers
//! 403 and changes nothing (no audit line, which every action writes in its own transaction);
//! the same request as an admin is taken. Support's own actions work: answering disputes here,
//! redelivering postbacks in `postbacks.rs`. A list of the console's POST routes read from its sources
//! makes sure no new action escapes the walk.

use super::*;
use serde_json::json;
use std::collections::BTreeSet;

/// An action: the route as the router names it, the path, the fields an admin would send.
struct Action {
    route: &'static str,
    path: String,
    fields: Vec<(&'static str, String)>,
}

fn action(route: &'static str, path: String, fields: &[(&'static str, &str)]) -> Action {
    Action {
        route,
        path,
        fields: fields.iter().map(|(k, v)| (*k, v.to_string())).collect(),
    }
}

/// Posts `a` with the browser's form token (and `confirm=yes`: past any confirm step).
async fn post(b: &mut Browser, csrf: &str, a: &Action) -> Page {
    let mut fields: Vec<(&str, &str)> = vec![("csrf", csrf), ("confirm", "yes")];
    fields.extend(a.fields.iter().map(|(k, v)| (*k, v.as_str())));
    b.post(&a.path, &fields).await
}

/// Every audit line written by `actor`.
async fn lines_by(app: &TestApp, actor: &str) -> usize {
    app.store
        .audit_entries(
            &paylink_store::AuditFilter {
                actor: Some(actor.to_string()),
                ..Default::default()
            },
            10_000,
        )
        .await
        .unwrap()
        .len()
}

/// Every money rule as the rules form sends it (valid: an admin's save is taken).
pub(super) fn rules_fields() -> Vec<(&'static str, &'static str)> {
    vec![
        ("settle_after", "0"),
        ("card_enabled", "yes"),
        ("card_currencies", "RUB"),
        ("card_min", "100.00"),
        ("card_max", "150000.00"),
        ("card_fee", "2.5"),
        ("card_fee_fixed", "50.00"),
        ("sbp_enabled", "yes"),
        ("sbp_currencies", "RUB"),
        ("sbp_min", "10.00"),
        ("sbp_max", "1000000.00"),
        ("sbp_fee", "1"),
        ("sbp_fee_fixed", "0"),
        ("moderation_threshold", "500000.00"),
        ("daily_limit", ""),
        ("monthly_limit", ""),
    ]
}

/// The console's POST routes as its router declares them (`src/web/admin/*.rs`).
fn declared_post_routes() -> BTreeSet<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/web/admin");
    let mut routes = BTreeSet::new();
    for entry in std::fs::read_dir(dir).expect("the console's sources") {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for call in text.split(".route(").skip(1) {
            // The call's text up to the next route: `"/admin/...", get(..).post(..))`.
            let call = call.trim_start();
            let Some(path) = call.strip_prefix('"').and_then(|c| c.split('"').next()) else {
                // A constant for the path (the one-time link page).
                if call.contains("post(") {
                    routes.insert(call.split(',').next().unwrap().trim().to_string());
                }
                continue;
            };
            if call.split(".route(").next().unwrap().contains("post(") {
                routes.insert(path.to_string());
            }
        }
    }
    routes
}

#[tokio::test]
async fn support_is_refused_every_admin_action_that_an_admin_may_take() {
    let app = spawn_app().await;
    let mut a = admin(&app).await;
    let mut s = support(&app).await;
    let (admin_csrf, support_csrf) = (
        a.get("/admin/account").await.csrf(),
        s.get("/admin/account").await.csrf(),
    );
    let m = app.merchant.merchant_id.to_string();
    let shop = app.shop().to_string();
    super::payouts::moderated(&app).await;
    let approve = super::payouts::waiting(&app, "100").await;
    let decline = super::payouts::waiting(&app, "101").await;
    let payment = super::disputes::paid(&app, "700").await;
    let refund = super::disputes::dispute(&app, &payment, "payer@example.com", "Not me").await;
    invite(&app, "other@ops.test", Role::Support).await;
    let other = super::access::operator_id(&app, "other@ops.test").await;
    let bank = app.store.sbp_banks(true).await.unwrap()[0].member_id;

    let mut actions = vec![
        action(
            "/admin/operators",
            "/admin/operators".into(),
            &[("email", "new@ops.test"), ("role", "admin")],
        ),
        action(
            "/admin/merchants/{id}/payouts",
            format!("/admin/merchants/{m}/payouts"),
            &[("moderation", "yes"), ("daily_limit", "100000")],
        ),
        action(
            "/admin/merchants/{id}/invite",
            format!("/admin/merchants/{m}/invite"),
            &[("email", "owner@shop.test")],
        ),
        action(
            "/admin/shops/{id}/commission",
            format!("/admin/shops/{shop}/commission"),
            &[("commission", "4.5")],
        ),
        action(
            "/admin/payouts/decide",
            "/admin/payouts/decide".into(),
            &[("do", "approve"), ("payout", &approve)],
        ),
        action(
            "/admin/payouts/decide",
            "/admin/payouts/decide".into(),
            &[("do", "decline"), ("payout", &decline), ("reason", "No")],
        ),
        action(
            "/admin/money/fx",
            "/admin/money/fx".into(),
            &[("base", "USD"), ("quote", "RUB"), ("rate", "91.5")],
        ),
        action(
            "/admin/money/sbp-banks",
            "/admin/money/sbp-banks".into(),
            &[
                ("member_id", "100000000999"),
                ("name", "Тестовый банк"),
                ("name_en", "Test bank"),
                ("bic", "044525999"),
            ],
        ),
        action(
            "/admin/money/sbp-banks/{member_id}",
            format!("/admin/money/sbp-banks/{bank}"),
            &[("do", "disable")],
        ),
        action(
            "/admin/money/rules",
            "/admin/money/rules".into(),
            &rules_fields(),
        ),
        action(
            "/admin/money/rules/reset",
            "/admin/money/rules/reset".into(),
            &[],
        ),
        action(
            "/admin/disputes/{id}/decide",
            format!("/admin/disputes/{refund}/decide"),
            &[("decision", "refund"), ("text", "Refunded in full.")],
        ),
        // Late: an unverified (or banned) merchant's payouts are not approved.
        action(
            "/admin/merchants/{id}/verified",
            format!("/admin/merchants/{m}/verified"),
            &[("verified", "no")],
        ),
        action(
            "/admin/merchants/{id}/subscription",
            format!("/admin/merchants/{m}/subscription"),
            &[("subscription", "inactive")],
        ),
        // The merchant's ban last but one, the operators' changes last: they end sessions.
        action(
            "/admin/merchants/{id}/banned",
            format!("/admin/merchants/{m}/banned"),
            &[("banned", "yes")],
        ),
    ];
    for change in [
        "admin",
        "support",
        "reset_link",
        "reset_totp",
        "disable",
        "enable",
    ] {
        actions.push(action(
            "/admin/operators/{id}",
            format!("/admin/operators/{other}"),
            &[("do", change)],
        ));
    }
    // The ledger check changes nothing, but runs only for admins.
    let check = action(
        "/admin/money/ledger-check",
        "/admin/money/ledger-check".into(),
        &[],
    );

    for a in actions.iter().chain([&check]) {
        let refused = post(&mut s, &support_csrf, a).await;
        assert_eq!(
            refused.status, 403,
            "support posting {} {:?}: {}",
            a.path, a.fields, refused.text
        );
        assert_eq!(lines_by(&app, "support@ops.test").await, 0, "{}", a.path);
    }
    // Nothing moved: the merchant, its payouts, the dispute are as they were.
    let detail = a.get(&format!("/admin/merchants/{m}")).await;
    assert!(
        detail.text.contains("data-verified=\"yes\""),
        "{}",
        detail.text
    );
    assert!(!detail.text.contains("data-banned=\"yes\""));
    for id in [&approve, &decline] {
        let p = app
            .get("/api/v1/payout/status", &[("id", id)])
            .await
            .ok()
            .clone();
        assert_eq!(p["status"], json!("MODERATING"), "{p}");
    }

    // The same requests as an admin are taken, each writing its audit line.
    for a_ in actions.iter() {
        let before = lines_by(&app, "admin@ops.test").await;
        let taken = post(&mut a, &admin_csrf, a_).await;
        assert!(
            [200, 303].contains(&taken.status),
            "admin posting {} {:?}: {} {}",
            a_.path,
            a_.fields,
            taken.status,
            taken.text
        );
        assert!(
            lines_by(&app, "admin@ops.test").await > before,
            "no audit line for {} {:?}",
            a_.path,
            a_.fields
        );
    }
    let checked = post(&mut a, &admin_csrf, &check).await;
    assert_eq!(checked.status, 200, "{}", checked.text);

    // Every admin-only POST route of the console was walked; the rest are support's own or
    // every operator's own (their account) or signing in and out.
    let walked: BTreeSet<String> = actions
        .iter()
        .chain([&check])
        .map(|a| a.route.to_string())
        .collect();
    let everyone: BTreeSet<String> = [
        "/admin/sign-in",
        "/admin/sign-out",
        "PASSWORD_LINK_ROUTE",
        "/admin/account/password",
        "/admin/account/totp",
        "/admin/account/totp/off",
        "/admin/disputes/{id}/reply",
        "/admin/disputes/{id}/close",
        "/admin/postbacks/{id}/redeliver",
    ]
    .into_iter()
    .map(str::to_string)
    .collect();
    let declared = declared_post_routes();
    let unwalked: Vec<&String> = declared
        .iter()
        .filter(|r| !walked.contains(*r) && !everyone.contains(*r))
        .collect();
    assert!(
        unwalked.is_empty(),
        "console POST routes no role test covers: {unwalked:?} (declared: {declared:?})"
    );
    // `/admin/disputes/{id}/decide` is both: support may reject (below), not refund (above).
}

#[tokio::test]
async fn support_answers_disputes() {
    let app = spawn_app().await;
    let mut s = support(&app).await;
    let csrf = s.get("/admin/account").await.csrf();
    let payment = super::disputes::paid(&app, "300").await;
    let one = super::disputes::dispute(&app, &payment, "payer@example.com", "Not me").await;
    let reply = s
        .post(
            &format!("/admin/disputes/{one}/reply"),
            &[("csrf", &csrf), ("text", "We are looking into it.")],
        )
        .await;
    assert_eq!(reply.status, 303, "{}", reply.text);
    let reject = s
        .post(
            &format!("/admin/disputes/{one}/decide"),
            &[
                ("csrf", &csrf),
                ("decision", "reject"),
                ("text", "The charge is right."),
            ],
        )
        .await;
    assert_eq!(reject.status, 303, "{}", reject.text);
    let two = super::disputes::dispute(&app, &payment, "payer@example.com", "Again").await;
    let close = s
        .post(
            &format!("/admin/disputes/{two}/close"),
            &[("csrf", &csrf), ("text", "Answered in the first one.")],
        )
        .await;
    assert_eq!(close.status, 303, "{}", close.text);
    let actions: Vec<String> = app
        .store
        .audit_entries(
            &paylink_store::AuditFilter {
                actor: Some("support@ops.test".into()),
                ..Default::default()
            },
            100,
        )
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        ["dispute.close", "dispute.decide", "dispute.reply"],
        "newest first"
    );
}
