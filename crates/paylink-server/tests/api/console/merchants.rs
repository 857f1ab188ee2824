//! Console tests: merchants. The search box finds a merchant by id, email and name (and no
//! other); the merchant's page shows its shops, money and recent activity; each admin action
//! changes what the merchant meets through its own API and lands in the audit log; support
//! reads only; missing ids and forms without the session's token are refused cleanly.
#![allow(clippy::inconsistent_digit_grouping)]

use super::*;
use crate::web::{api_status, link_path, signed_up};
use paylink_core::account::AccountKind;
use paylink_core::audit::AuditEntry;
use serde_json::json;

fn page_of(id: &str) -> String {
    format!("/admin/merchants/{id}")
}

/// The list found for `q`.
async fn search(b: &mut Browser, q: &str) -> Page {
    let query = form_encode(&[("q".to_string(), q.to_string())]);
    let page = b.get(&format!("/admin/merchants?{query}")).await;
    page.assert_html();
    page
}

/// Whether the list `page` has merchant `id`'s row.
fn lists(page: &Page, id: &str) -> bool {
    page.text.contains(&format!("data-merchant=\"{id}\""))
}

/// The merchants a list page shows, in order.
fn listed(page: &Page) -> Vec<String> {
    let marker = "data-merchant=\"";
    page.text
        .match_indices(marker)
        .filter_map(|(i, _)| {
            let rest = &page.text[i + marker.len()..];
            rest.find('"').map(|end| rest[..end].to_string())
        })
        .collect()
}

/// The newest audit entry about `target`.
#[track_caller]
fn newest(entries: &[AuditEntry]) -> &AuditEntry {
    entries.first().expect("an audit entry")
}

/// Submits a form of merchant `id`'s page to `action` as `b`.
async fn act(b: &mut Browser, id: &str, action: &str, fields: &[(&str, &str)]) -> Page {
    b.submit(&page_of(id), action, fields).await
}

#[tokio::test]
async fn search_finds_a_merchant_by_name_email_and_id_and_no_other() {
    let app = spawn_app().await;
    let mut b = admin(&app).await;
    app.advance_ms(1_000);
    let lagoon = app.new_merchant("Blue Lagoon 50%_off").await.merchant_id;
    app.advance_ms(1_000);
    let harbour = app.new_merchant("Red Harbour").await.merchant_id;
    app.advance_ms(1_000);
    signed_up(&app, "owner.search@shop.test").await;
    let owned = app
        .store
        .account_by_email(AccountKind::Merchant, "owner.search@shop.test")
        .await
        .expect("the store answers")
        .and_then(|a| a.merchant_id)
        .expect("the signed-up merchant");
    let default = app.merchant.merchant_id.clone();

    // Name: anywhere in it, any letter case; LIKE's wildcards are only themselves.
    for q in ["lagoon", "BLUE LAG", "50%_", "%"] {
        let found = search(&mut b, q).await;
        assert_eq!(listed(&found), vec![lagoon.to_string()], "{q}");
    }
    assert!(!lists(&search(&mut b, "_").await, harbour.as_str()));
    // Email: exactly or its start, any letter case; not the middle of it.
    for q in ["owner.search@shop.test", "OWNER.SEARCH@", "owner."] {
        assert_eq!(
            listed(&search(&mut b, q).await),
            vec![owned.to_string()],
            "{q}"
        );
    }
    assert!(listed(&search(&mut b, "search@shop").await).is_empty());
    // Id: exactly.
    assert_eq!(
        listed(&search(&mut b, harbour.as_str()).await),
        vec![harbour.to_string()]
    );
    assert!(listed(&search(&mut b, &harbour.as_str()[..6]).await).is_empty());
    let none = search(&mut b, "no such merchant").await;
    assert!(listed(&none).is_empty());
    none.assert_shows("id=\"nothing\"");

    // An empty box lists every merchant, newest first.
    let all = b.get("/admin/merchants").await;
    all.assert_html();
    assert_eq!(
        listed(&all),
        vec![
            owned.to_string(),
            harbour.to_string(),
            lagoon.to_string(),
            default.to_string()
        ]
    );
    all.assert_shows("owner.search@shop.test");
    assert!(all.href_of("next-page").is_none());
}

#[tokio::test]
async fn the_list_goes_fifty_at_a_time_with_a_link_to_the_next_page() {
    let app = spawn_app().await;
    let mut b = admin(&app).await;
    let mut made = Vec::new();
    for i in 0..51 {
        app.advance_ms(1);
        made.push(app.new_merchant(&format!("Paged {i}")).await.merchant_id);
    }
    let first = b.get("/admin/merchants?q=paged").await;
    let first_ids = listed(&first);
    assert_eq!(first_ids.len(), 50);
    assert_eq!(first_ids[0], made[50].to_string(), "newest first");
    let next = first.href_of("next-page").expect("a next page");
    let second = b.get(&next).await;
    second.assert_html();
    assert_eq!(listed(&second), vec![made[0].to_string()]);
    assert!(second.href_of("next-page").is_none());
    // Without a search the default merchant is on the second page too.
    let everything = b.get("/admin/merchants").await;
    let next = everything.href_of("next-page").expect("a next page");
    assert_eq!(
        listed(&b.get(&next).await),
        vec![made[0].to_string(), app.merchant.merchant_id.to_string()]
    );
    // A mangled cursor starts from the top rather than failing.
    let mangled = b.get("/admin/merchants?after=garbage.%3Cx%3E").await;
    mangled.assert_html();
    assert_eq!(listed(&mangled).len(), 50);
}

#[tokio::test]
async fn the_page_shows_shops_balances_payout_settings_and_recent_payments() {
    let app = spawn_app().await;
    let mut b = admin(&app).await;
    let id = app.merchant.merchant_id.to_string();
    let shop = app.shop().to_string();
    let bill = app.bill(json!({"amount": "1000"})).await;
    let paid = app.pay_card(&bill, CARD_OK).await;
    let payment = paid.ok()["id"].as_str().expect("a payment id").to_string();
    let bal = app.wait_balance(app.token(), |b| b.available > 0).await;

    let page = b.get(&page_of(&id)).await;
    page.assert_html();
    assert_eq!(
        page.text_of("merchant-name").as_deref(),
        Some("Test merchant")
    );
    assert_eq!(page.text_of("merchant-id").as_deref(), Some(id.as_str()));
    assert_eq!(
        page.text_of("merchant-subscription").as_deref(),
        Some("active")
    );
    page.assert_shows("data-verified=\"yes\"");
    page.assert_hides("id=\"merchant-banned\"");
    // The shop with the server's default commission.
    page.assert_shows(&format!("data-shop=\"{shop}\""));
    assert_eq!(
        page.text_of(&format!("commission-of-{shop}")).as_deref(),
        Some("default (3.5%)")
    );
    // The balance as the merchant's API tells it.
    let rub = |minor: i64| format!("{}.{:02} RUB", minor / 100, minor % 100);
    assert_eq!(page.text_of("available-RUB"), Some(rub(bal.available)));
    assert_eq!(page.text_of("hold-RUB"), Some(rub(bal.hold)));
    // The default limits, named as such.
    assert_eq!(
        page.text_of("payout-daily-limit").as_deref(),
        Some("default (3000000.00)")
    );
    assert_eq!(page.text_of("payout-moderation").as_deref(), Some("no"));
    // The payment among the recent ones, with its amount and status.
    let row_at = page
        .text
        .find(&format!("data-payment=\"{payment}\""))
        .expect("the payment is listed");
    let row = &page.text[row_at..row_at + page.text[row_at..].find("</tr>").unwrap()];
    assert!(
        row.contains("1000.00 RUB") && row.contains("SUCCESS"),
        "{row}"
    );
    page.assert_shows("id=\"no-payouts\"");
    // The admin sees the actions.
    for button in [
        "unverify",
        "ban",
        "set-subscription",
        "save-payouts",
        "invite",
    ] {
        page.assert_shows(&format!("id=\"{button}\""));
    }
    page.assert_shows(&format!("id=\"save-commission-{shop}\""));
}

#[tokio::test]
async fn a_ban_is_confirmed_first_then_the_merchants_api_is_refused_until_unbanned() {
    let app = spawn_app().await;
    let mut b = admin(&app).await;
    let id = app.merchant.merchant_id.to_string();
    let ban = format!("{}/banned", page_of(&id));

    let asked = act(&mut b, &id, &ban, &[("banned", "yes")]).await;
    asked.assert_html();
    asked.assert_shows("Test merchant");
    asked.assert_shows("id=\"confirm\"");
    assert_eq!(api_status(&app, app.token()).await, 200, "not banned yet");
    assert!(
        audited(&app, &id)
            .await
            .iter()
            .all(|e| e.action == "merchant.create"),
        "nothing but the merchant's making is in the log"
    );

    let csrf = asked.csrf();
    b.post(
        &ban,
        &[("csrf", &csrf), ("banned", "yes"), ("confirm", "yes")],
    )
    .await
    .assert_redirect(&format!("/admin/merchants/{id}?notice=done"));
    app.get("/api/v1/merchant/balance", &[])
        .await
        .error(403, "api:error.merchant_banned");
    let page = b.get(&format!("/admin/merchants/{id}?notice=done")).await;
    page.assert_shows("id=\"merchant-banned\"");
    page.assert_shows("id=\"notice\"");
    let entries = audited(&app, &id).await;
    let e = newest(&entries);
    assert_eq!(
        (
            e.actor.as_str(),
            e.action.as_str(),
            e.before.as_str(),
            e.after.as_str()
        ),
        (
            "admin@ops.test",
            "merchant.ban",
            "banned=false",
            "banned=true"
        )
    );

    // Unbanning needs no confirmation.
    act(&mut b, &id, &ban, &[("banned", "no")])
        .await
        .assert_redirect(&format!("/admin/merchants/{id}?notice=done"));
    assert_eq!(api_status(&app, app.token()).await, 200);
    assert_eq!(newest(&audited(&app, &id).await).action, "merchant.unban");
}

#[tokio::test]
async fn verification_and_regular_payouts_decide_whether_the_merchant_may_pay_out() {
    let app = spawn_app().await;
    let mut b = admin(&app).await;
    let id = app.merchant.merchant_id.to_string();
    let done = format!("/admin/merchants/{id}?notice=done");
    app.fund("5000").await;
    let payouts = format!("{}/payouts", page_of(&id));
    act(&mut b, &id, &payouts, &[("regular_payouts", "yes")])
        .await
        .assert_redirect(&done);

    let verified = format!("{}/verified", page_of(&id));
    act(&mut b, &id, &verified, &[("verified", "no")])
        .await
        .assert_redirect(&done);
    app.regular_payout(card("1000", CARD_OK))
        .await
        .error(400, "api:error.merchant_not_verified");
    let e = newest(&audited(&app, &id).await).clone();
    assert_eq!(
        (e.action.as_str(), e.before.as_str(), e.after.as_str()),
        ("merchant.unverify", "verified=true", "verified=false")
    );
    b.get(&page_of(&id))
        .await
        .assert_shows("data-verified=\"no\"");

    act(&mut b, &id, &verified, &[("verified", "yes")])
        .await
        .assert_redirect(&done);
    let p = created(&app.regular_payout(card("1000", CARD_OK)).await).remove(0);
    assert_eq!(newest(&audited(&app, &id).await).action, "merchant.verify");
    // The payout is on the merchant's page.
    b.get(&page_of(&id))
        .await
        .assert_shows(&format!("data-payout=\"{}\"", id_of(&p)));
    app.wait_payout(app.token(), &id_of(&p)).await;
    app.assert_ledger_ok().await;
}

#[tokio::test]
async fn moderation_holds_new_payouts_and_a_daily_limit_refuses_what_is_over_it() {
    let app = spawn_app().await;
    let mut b = admin(&app).await;
    let id = app.merchant.merchant_id.to_string();
    let done = format!("/admin/merchants/{id}?notice=done");
    let payouts = format!("{}/payouts", page_of(&id));
    app.fund("5000").await;

    act(
        &mut b,
        &id,
        &payouts,
        &[
            ("moderation", "yes"),
            ("regular_payouts", "yes"),
            ("daily_limit", "1500"),
            ("monthly_limit", ""),
        ],
    )
    .await
    .assert_redirect(&done);
    let e = newest(&audited(&app, &id).await).clone();
    assert_eq!(e.action, "merchant.payout_settings");
    assert_eq!(e.actor, "admin@ops.test");
    assert!(
        e.before.contains("moderation=false") && e.before.contains("daily_limit=default"),
        "{e:?}"
    );
    assert!(
        e.after.contains("moderation=true")
            && e.after.contains("regular_payouts=true")
            && e.after.contains("daily_limit=150000")
            && e.after.contains("monthly_limit=default"),
        "{e:?}"
    );

    let p = created(&app.regular_payout(card("1000", CARD_OK)).await).remove(0);
    assert_eq!(p["status"], json!("MODERATING"));
    app.regular_payout(card("600", CARD_OK))
        .await
        .error(400, "api:error.daily_payout_limit_exceeded");

    let page = b.get(&page_of(&id)).await;
    assert_eq!(page.text_of("payout-moderation").as_deref(), Some("yes"));
    assert_eq!(
        page.text_of("payout-daily-limit").as_deref(),
        Some("1500.00")
    );
    assert_eq!(page.input_value("daily-limit").as_deref(), Some("1500.00"));
    assert_eq!(
        page.text_of("used-today-RUB").as_deref(),
        Some("1000.00 RUB")
    );
    assert_eq!(
        page.text_of("payout-monthly-limit").as_deref(),
        Some("default (30000000.00)")
    );

    // Moderation off and the limit back to the default: the next payout goes on its way.
    act(&mut b, &id, &payouts, &[("regular_payouts", "yes")])
        .await
        .assert_redirect(&done);
    let q = created(&app.regular_payout(card("600", CARD_OK)).await).remove(0);
    assert_ne!(q["status"], json!("MODERATING"));

    // A limit that is not an amount is refused and changes nothing.
    for bad in ["lots", "-5", "0", "1.234"] {
        let refused = act(
            &mut b,
            &id,
            &payouts,
            &[("moderation", "yes"), ("daily_limit", bad)],
        )
        .await;
        assert_eq!(refused.status, 422, "{bad}: {}", refused.text);
    }
    let page = b.get(&page_of(&id)).await;
    assert_eq!(page.text_of("payout-moderation").as_deref(), Some("no"));
    app.wait_payout(app.token(), &id_of(&q)).await;
}

#[tokio::test]
async fn the_subscription_decides_whether_the_api_answers() {
    let app = spawn_app().await;
    let mut b = admin(&app).await;
    let id = app.merchant.merchant_id.to_string();
    let action = format!("{}/subscription", page_of(&id));
    act(&mut b, &id, &action, &[("subscription", "inactive")])
        .await
        .assert_redirect(&format!("/admin/merchants/{id}?notice=done"));
    app.get("/api/v1/merchant/balance", &[])
        .await
        .error(403, "api:error.merchant_subscription_inactive");
    let e = newest(&audited(&app, &id).await).clone();
    assert_eq!(
        (e.action.as_str(), e.before.as_str(), e.after.as_str()),
        ("merchant.subscription", "active", "inactive")
    );
    let page = b.get(&page_of(&id)).await;
    assert_eq!(
        page.text_of("merchant-subscription").as_deref(),
        Some("inactive")
    );

    act(&mut b, &id, &action, &[("subscription", "bogus")])
        .await
        .status
        .eq(&422)
        .then_some(())
        .expect("an unknown subscription is refused");
    act(&mut b, &id, &action, &[("subscription", "active")])
        .await
        .assert_redirect(&format!("/admin/merchants/{id}?notice=done"));
    assert_eq!(api_status(&app, app.token()).await, 200);
}

#[tokio::test]
async fn a_shops_commission_is_set_and_goes_back_to_the_default() {
    let app = spawn_app().await;
    let mut b = admin(&app).await;
    let id = app.merchant.merchant_id.to_string();
    let shop = app.shop().to_string();
    let action = format!("/admin/shops/{shop}/commission");
    let done = format!("/admin/merchants/{id}?notice=done");

    act(&mut b, &id, &action, &[("commission", "2.5")])
        .await
        .assert_redirect(&done);
    // The merchant's next payment pays 2.5%: 1000.00 brings 975.00.
    let p = app.pay_as(&app.merchant, "1000", CARD_OK).await;
    assert_eq!(number(&p["amount_received"]), 975_00, "{p}");
    let e = newest(&audited(&app, &shop).await).clone();
    assert_eq!(
        (e.actor.as_str(), e.action.as_str()),
        ("admin@ops.test", "shop.update")
    );
    assert!(e.before.contains("commission=default"), "{e:?}");
    assert!(e.after.contains("commission=250bps"), "{e:?}");
    let page = b.get(&page_of(&id)).await;
    assert_eq!(
        page.text_of(&format!("commission-of-{shop}")).as_deref(),
        Some("2.5%")
    );
    assert_eq!(
        page.input_value(&format!("commission-{shop}")).as_deref(),
        Some("2.5")
    );

    // Not a percentage: refused, nothing changed.
    for bad in ["abc", "101", "-1", "2.555"] {
        let refused = act(&mut b, &id, &action, &[("commission", bad)]).await;
        assert_eq!(refused.status, 422, "{bad}: {}", refused.text);
        assert_eq!(
            refused.href_of("back").as_deref(),
            Some(page_of(&id).as_str())
        );
    }
    assert_eq!(audited(&app, &shop).await.len(), 1);

    // Empty: the server's default (3.5%) again.
    act(&mut b, &id, &action, &[("commission", "")])
        .await
        .assert_redirect(&done);
    let p = app.pay_as(&app.merchant, "1000", CARD_OK).await;
    assert_eq!(number(&p["amount_received"]), 965_00, "{p}");
    let e = newest(&audited(&app, &shop).await).clone();
    assert!(
        e.before.contains("commission=250bps") && e.after.contains("commission=default"),
        "{e:?}"
    );
    assert_eq!(
        b.get(&page_of(&id))
            .await
            .text_of(&format!("commission-of-{shop}"))
            .as_deref(),
        Some("default (3.5%)")
    );
}

#[tokio::test]
async fn an_invitation_link_is_shown_once_and_lets_the_owner_in() {
    let app = spawn_app().await;
    let mut b = admin(&app).await;
    let made = app.new_merchant("No account yet").await;
    let id = made.merchant_id.to_string();
    let action = format!("{}/invite", page_of(&id));

    // No account and no email: an email is needed.
    let refused = act(&mut b, &id, &action, &[("email", "")]).await;
    assert_eq!(refused.status, 422, "{}", refused.text);

    let shown = act(&mut b, &id, &action, &[("email", "Owner@Invited.test")]).await;
    shown.assert_html();
    let link = shown.text_of("invite-link").expect("the link is shown");
    let e = newest(&audited(&app, &id).await).clone();
    assert_eq!(
        (e.actor.as_str(), e.action.as_str(), e.after.as_str()),
        ("admin@ops.test", "merchant.invite", "owner@invited.test")
    );
    // Only this once.
    b.get(&page_of(&id))
        .await
        .assert_hides("id=\"invite-link\"");
    let page = b.get(&page_of(&id)).await;
    page.assert_shows("owner@invited.test");

    let path = link_path(&link);
    let mut owner = Browser::new(&app);
    owner
        .submit(&path, &path, &[("password", PASSWORD)])
        .await
        .assert_redirect("/dashboard");
    owner.get("/dashboard").await.assert_html();
    // Now the owner has a password: no more links to their account from the console.
    let again = act(&mut b, &id, &action, &[("email", "")]).await;
    assert_eq!(again.status, 422, "{}", again.text);
    again.assert_shows("Forgot password");
    again.assert_hides("id=\"invite-link\"");
}

#[tokio::test]
async fn support_reads_the_page_but_sees_no_actions_and_is_refused_each_one() {
    let app = spawn_app().await;
    let mut s = support(&app).await;
    let id = app.merchant.merchant_id.to_string();
    let shop = app.shop().to_string();

    let found = search(&mut s, "test merchant").await;
    assert_eq!(listed(&found), vec![id.clone()]);
    let page = s.get(&page_of(&id)).await;
    page.assert_html();
    page.assert_shows("id=\"read-only\"");
    for action in ["verified", "banned", "subscription", "payouts", "invite"] {
        page.assert_hides(&format!("action=\"/admin/merchants/{id}/{action}\""));
    }
    page.assert_hides(&format!("action=\"/admin/shops/{shop}/commission\""));
    page.assert_hides("id=\"ban\"");

    let csrf = page.csrf();
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            format!("{}/verified", page_of(&id)),
            vec![("verified", "no")],
        ),
        (format!("{}/banned", page_of(&id)), vec![("banned", "yes")]),
        (
            format!("{}/banned", page_of(&id)),
            vec![("banned", "yes"), ("confirm", "yes")],
        ),
        (
            format!("{}/subscription", page_of(&id)),
            vec![("subscription", "none")],
        ),
        (
            format!("{}/payouts", page_of(&id)),
            vec![("moderation", "yes"), ("daily_limit", "1")],
        ),
        (
            format!("{}/invite", page_of(&id)),
            vec![("email", "x@y.test")],
        ),
        (
            format!("/admin/shops/{shop}/commission"),
            vec![("commission", "9")],
        ),
        (
            format!("/admin/shops/{shop}/commission"),
            vec![("commission", "")],
        ),
    ];
    for (action, fields) in posts {
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend(fields);
        let refused = s.post(&action, &all).await;
        assert_eq!(refused.status, 403, "{action}: {}", refused.text);
    }
    assert!(
        audited(&app, &id)
            .await
            .iter()
            .all(|e| e.action == "merchant.create"),
        "nothing but the merchant's making is in the log"
    );
    assert!(audited(&app, &shop).await.is_empty());
    assert_eq!(api_status(&app, app.token()).await, 200);
    let page = s.get(&page_of(&id)).await;
    page.assert_shows("data-verified=\"yes\"");
    assert_eq!(page.text_of("payout-moderation").as_deref(), Some("no"));
}

#[tokio::test]
async fn a_missing_or_garbage_id_is_not_found_and_a_form_without_its_token_is_refused() {
    let app = spawn_app().await;
    let mut b = admin(&app).await;
    let id = app.merchant.merchant_id.to_string();
    for path in [
        "/admin/merchants/ZZZZZZZZZZ",
        "/admin/merchants/%3Cscript%3E",
        "/admin/merchants/..%2F..",
        &format!("/admin/merchants/{}", "x".repeat(5000)),
    ] {
        let page = b.get(path).await;
        assert_eq!(page.status, 404, "{path}: {}", page.text);
        page.assert_hides("<script>");
    }
    let csrf = b.get(&page_of(&id)).await.csrf();
    for (action, field, value) in [
        ("/admin/merchants/ZZZZZZZZZZ/verified", "verified", "yes"),
        ("/admin/merchants/ZZZZZZZZZZ/banned", "banned", "yes"),
        (
            "/admin/merchants/garbage!/subscription",
            "subscription",
            "none",
        ),
        ("/admin/merchants/ZZZZZZZZZZ/payouts", "moderation", "yes"),
        ("/admin/merchants/ZZZZZZZZZZ/invite", "email", "a@b.test"),
        ("/admin/shops/ZZZZZZZZZZ/commission", "commission", "1"),
        ("/admin/shops/%00/commission", "commission", ""),
    ] {
        let page = b.post(action, &[("csrf", &csrf), (field, value)]).await;
        assert_eq!(page.status, 404, "{action}: {}", page.text);
    }

    // Without the session's form token: refused, and nothing changes.
    let ban = format!("{}/banned", page_of(&id));
    for fields in [
        vec![("banned", "yes"), ("confirm", "yes")],
        vec![("csrf", "forged"), ("banned", "yes"), ("confirm", "yes")],
    ] {
        assert_eq!(b.post(&ban, &fields).await.status, 403);
    }
    assert_eq!(api_status(&app, app.token()).await, 200);
    assert!(
        audited(&app, &id)
            .await
            .iter()
            .all(|e| e.action == "merchant.create"),
        "nothing but the merchant's making is in the log"
    );

    // Signed out: to the console's sign-in.
    let mut out = Browser::new(&app);
    out.get("/admin/merchants")
        .await
        .assert_redirect("/admin/sign-in");
    out.get(&page_of(&id))
        .await
        .assert_redirect("/admin/sign-in");
    out.post(&ban, &[("csrf", "x"), ("banned", "yes")])
        .await
        .assert_redirect("/admin/sign-in");
}
