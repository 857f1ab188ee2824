//! Accounts in the web app: the landing page and its language switch, signing up and in,
//! the failure limit, session cookies and their end, CSRF on every form, password resets,
//! changing a password, and invitations for merchants made without the web app.

use super::*;
use paylink_server::ops::accounts::{self as account_ops, Mailer};

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;

#[tokio::test]
async fn landing_page_links_sign_up_sign_in_and_find_transactions_and_shows_test_mode() {
    let app = spawn_app().await;
    let page = Browser::new(&app).get("/").await;
    page.assert_html();
    page.assert_shows("<html lang=\"en\">");
    for (href, words) in [
        ("/sign-up", "Sign up"),
        ("/sign-in", "Sign in"),
        ("/find-transactions", "Find transactions"),
    ] {
        page.assert_shows(&format!("href=\"{href}\">{words}</a>"));
    }
    // The harness runs a sandbox: the ribbon says no real money moves.
    page.assert_shows("id=\"test-mode\"");
    page.assert_shows("Test mode: no real money moves");
}

#[tokio::test]
async fn language_switch_to_russian_is_kept_by_a_cookie_on_the_next_pages() {
    let app = spawn_app().await;
    let mut b = Browser::new(&app);
    let page = b.get("/?lang=ru").await;
    page.assert_html();
    page.assert_shows("<html lang=\"ru\">");
    page.assert_shows("Регистрация");
    page.assert_shows("Найти платёж");
    let lang = page.set_cookie("paylink_lang").expect("a language cookie");
    assert!(lang.starts_with("paylink_lang=ru;"), "{lang}");
    // No query any more: the cookie keeps Russian.
    let next = b.get("/sign-in").await;
    next.assert_html();
    next.assert_shows("<html lang=\"ru\">");
    next.assert_shows("Войти");
    next.assert_shows("Забыли пароль?");
    next.assert_hides("Forgot password?");
    // And the switch back.
    let back = b.get("/sign-in?lang=en").await;
    back.assert_shows("<html lang=\"en\">");
    back.assert_shows("Forgot password?");
    let after = b.get("/").await;
    after.assert_shows("<html lang=\"en\">");
}

#[tokio::test]
async fn sign_up_shows_the_api_token_once_and_the_token_works_on_the_api() {
    let app = spawn_app().await;
    let before = app.store.merchant_count().await.unwrap();
    let (mut b, page) = sign_up(&app, "owner@shop.test", PASSWORD, "Corner shop").await;
    // Not a redirect: the token is shown on the answer to the sign-up itself.
    page.assert_html();
    page.assert_shows("API integration");
    page.assert_shows("Corner shop");
    let token = page.text_of("token").expect("the token is shown");
    assert!(!token.is_empty());
    assert_eq!(app.store.merchant_count().await.unwrap(), before + 1);
    assert!(b.cookie("paylink_session").is_some(), "signed in at once");
    assert_eq!(api_status(&app, &token).await, 200, "the token works");
    // Never again.
    let again = b.get("/integration").await;
    again.assert_html();
    assert_eq!(again.text_of("token"), None, "{}", again.text);
    again.assert_hides(&token);
    let dashboard = b.get("/dashboard").await;
    dashboard.assert_html();
    dashboard.assert_hides(&token);
}

#[tokio::test]
async fn sign_up_normalises_the_email_so_it_signs_in_in_lower_case() {
    let app = spawn_app().await;
    let (_, page) = sign_up(&app, " Owner@Shop.TEST ", PASSWORD, "Corner shop").await;
    page.assert_html();
    let mut b = signed_in(&app, "owner@shop.test", PASSWORD).await;
    let dashboard = b.get("/dashboard").await;
    dashboard.assert_html();
    dashboard.assert_shows("title=\"owner@shop.test\"");
}

#[tokio::test]
async fn second_sign_up_with_the_same_email_is_refused_and_creates_no_merchant() {
    let app = spawn_app().await;
    signed_up(&app, "owner@shop.test").await;
    let before = app.store.merchant_count().await.unwrap();
    let (b, page) = sign_up(&app, "OWNER@shop.test", "another password 1", "Other shop").await;
    assert_eq!(page.status, 422, "{}", page.text);
    page.assert_shows("An account with this email exists already.");
    assert_eq!(page.text_of("token"), None);
    assert_eq!(b.cookie("paylink_session"), None, "not signed in");
    assert_eq!(app.store.merchant_count().await.unwrap(), before);
    // The first owner's password is the one that signs in.
    let (_, refused) = sign_in(&app, "owner@shop.test", "another password 1").await;
    assert_eq!(refused.status, 401);
}

#[tokio::test]
async fn sign_up_refuses_a_short_password_and_an_invalid_email() {
    let app = spawn_app().await;
    let before = app.store.merchant_count().await.unwrap();
    let (b, short) = sign_up(&app, "owner@shop.test", "short1", "Corner shop").await;
    assert_eq!(short.status, 422, "{}", short.text);
    short.assert_shows("role=\"alert\"");
    short.assert_shows("The password must have 10 to 128 characters.");
    // The form keeps what was typed, but never the password.
    assert_eq!(
        short.input_value("email").as_deref(),
        Some("owner@shop.test")
    );
    assert_eq!(
        short.input_value("shop_name").as_deref(),
        Some("Corner shop")
    );
    short.assert_hides("short1");
    assert_eq!(b.cookie("paylink_session"), None);
    for email in ["not an email", "owner@", "@shop.test", ""] {
        let (b, page) = sign_up(&app, email, PASSWORD, "Corner shop").await;
        assert_eq!(page.status, 422, "{email:?}: {}", page.text);
        page.assert_shows("Enter a valid email address.");
        assert_eq!(b.cookie("paylink_session"), None);
    }
    assert_eq!(app.store.merchant_count().await.unwrap(), before);
}

#[tokio::test]
async fn sign_in_with_a_wrong_password_or_an_unknown_email_says_the_same_thing() {
    let app = spawn_app().await;
    signed_up(&app, "owner@shop.test").await;
    let (b, wrong) = sign_in(&app, "owner@shop.test", "not the password").await;
    assert_eq!(wrong.status, 401, "{}", wrong.text);
    wrong.assert_shows("Wrong email or password.");
    assert_eq!(b.cookie("paylink_session"), None);
    // The email typed stays in the form.
    assert_eq!(
        wrong.input_value("email").as_deref(),
        Some("owner@shop.test")
    );
    let (b, unknown) = sign_in(&app, "nobody@shop.test", PASSWORD).await;
    assert_eq!(unknown.status, 401, "{}", unknown.text);
    unknown.assert_shows("Wrong email or password.");
    assert_eq!(b.cookie("paylink_session"), None);
    // The right one works.
    let mut b = signed_in(&app, "owner@shop.test", PASSWORD).await;
    b.get("/dashboard").await.assert_html();
}

/// Each sign-up hashes a password and tells whether an email has an account: one address
/// gets ten an hour, taken emails included, and the eleventh is refused before either.
#[tokio::test]
async fn one_address_signs_up_at_most_ten_times_an_hour() {
    let app = spawn_app().await;
    signed_up(&app, "first@shop.test").await;
    for n in 2..=9 {
        signed_up(&app, &format!("owner{n}@shop.test")).await;
    }
    let (_, taken) = sign_up(&app, "first@shop.test", PASSWORD, "Again").await;
    assert_eq!(taken.status, 422, "{}", taken.text);
    let (b, refused) = sign_up(&app, "eleventh@shop.test", PASSWORD, "Eleventh").await;
    assert_eq!(refused.status, 429, "{}", refused.text);
    refused.assert_shows("Too many");
    assert_eq!(b.cookie("paylink_session"), None);
    let (_, still) = sign_up(&app, "first@shop.test", PASSWORD, "Again").await;
    assert_eq!(
        still.status, 429,
        "no answer about a taken email: {}",
        still.text
    );
    assert!(app
        .store
        .account_by_email(
            paylink_core::account::AccountKind::Merchant,
            "eleventh@shop.test"
        )
        .await
        .unwrap()
        .is_none());
    app.advance_ms(61 * MINUTE_MS);
    signed_up(&app, "eleventh@shop.test").await;
}

#[tokio::test]
async fn sign_in_is_refused_after_five_failures_until_fifteen_minutes_pass() {
    let app = spawn_app().await;
    signed_up(&app, "owner@shop.test").await;
    for attempt in 1..=5 {
        let (_, page) = sign_in(&app, "owner@shop.test", "not the password").await;
        assert_eq!(page.status, 401, "attempt {attempt}: {}", page.text);
    }
    // The sixth is refused even with the right password.
    let (b, locked) = sign_in(&app, "owner@shop.test", PASSWORD).await;
    assert_eq!(locked.status, 429, "{}", locked.text);
    locked.assert_shows("Too many failed attempts");
    assert_eq!(b.cookie("paylink_session"), None);
    // The limit counts the account, whatever the case of the email typed.
    let (_, locked) = sign_in(&app, "OWNER@shop.test", PASSWORD).await;
    assert_eq!(locked.status, 429, "{}", locked.text);
    // Still locked a minute before the window passes; open once it has.
    app.advance_ms(14 * MINUTE_MS);
    let (_, locked) = sign_in(&app, "owner@shop.test", PASSWORD).await;
    assert_eq!(locked.status, 429, "{}", locked.text);
    app.advance_ms(MINUTE_MS + 1000);
    let mut b = signed_in(&app, "owner@shop.test", PASSWORD).await;
    b.get("/dashboard").await.assert_html();
}

/// The failures all happen at one instant; the window is 15 minutes, so 15 minutes later
/// they are out of it and the right password works.
#[tokio::test]
async fn sign_in_works_again_fifteen_minutes_after_the_failures() {
    let app = spawn_app().await;
    signed_up(&app, "owner@shop.test").await;
    for _ in 1..=5 {
        let (_, page) = sign_in(&app, "owner@shop.test", "not the password").await;
        assert_eq!(page.status, 401, "{}", page.text);
    }
    app.advance_ms(15 * MINUTE_MS);
    let (_, page) = sign_in(&app, "owner@shop.test", PASSWORD).await;
    assert_eq!(
        (page.status, page.location.as_deref()),
        (303, Some("/dashboard")),
        "15 minutes after the last failure: {}",
        page.text_of("error").unwrap_or_default()
    );
}

#[tokio::test]
async fn session_cookie_is_http_only_same_site_lax_and_not_secure_on_http() {
    let app = spawn_app().await;
    signed_up(&app, "owner@shop.test").await;
    let (_, page) = sign_in(&app, "owner@shop.test", PASSWORD).await;
    page.assert_redirect("/dashboard");
    let cookie = page
        .set_cookie("paylink_session")
        .expect("a session cookie");
    let attributes: Vec<&str> = cookie.split(';').map(str::trim).collect();
    assert!(attributes.contains(&"HttpOnly"), "{cookie}");
    assert!(attributes.contains(&"SameSite=Lax"), "{cookie}");
    assert!(attributes.contains(&"Path=/"), "{cookie}");
    assert!(!attributes.contains(&"Secure"), "{cookie}");
    // It lasts as long as the session: 12 hours.
    assert!(attributes.contains(&"Max-Age=43200"), "{cookie}");
}

#[tokio::test]
async fn cookies_are_secure_when_the_public_url_is_https() {
    let app = spawn_app_with(|s| s.public_url = "https://pay.example.test".into()).await;
    let mut b = Browser::new(&app);
    let page = b.get("/").await;
    let csrf = page.set_cookie("paylink_csrf").expect("a form cookie");
    assert!(csrf.split(';').any(|a| a.trim() == "Secure"), "{csrf}");
    let (_, page) = sign_up(&app, "owner@shop.test", PASSWORD, "Corner shop").await;
    page.assert_html();
    let cookie = page
        .set_cookie("paylink_session")
        .expect("a session cookie");
    let attributes: Vec<&str> = cookie.split(';').map(str::trim).collect();
    assert!(attributes.contains(&"Secure"), "{cookie}");
    assert!(attributes.contains(&"HttpOnly"), "{cookie}");
    assert!(attributes.contains(&"SameSite=Lax"), "{cookie}");
}

#[tokio::test]
async fn sign_out_revokes_the_session_on_the_server() {
    let app = spawn_app().await;
    let SignedUp { mut browser, .. } = signed_up(&app, "owner@shop.test").await;
    let old = browser
        .cookie("paylink_session")
        .expect("a session")
        .to_string();
    let page = browser.submit("/dashboard", "/sign-out", &[]).await;
    page.assert_redirect("/");
    assert_eq!(
        browser.cookie("paylink_session"),
        None,
        "the browser forgets"
    );
    browser.get("/dashboard").await.assert_redirect("/sign-in");
    // Someone who kept the cookie gets nothing either: the server ended the session.
    let mut replay = Browser::new(&app);
    replay.put_cookie("paylink_session", &old);
    replay.get("/dashboard").await.assert_redirect("/sign-in");
    replay.get("/integration").await.assert_redirect("/sign-in");
}

#[tokio::test]
async fn session_ends_after_twelve_hours() {
    let app = spawn_app().await;
    let SignedUp { mut browser, .. } = signed_up(&app, "owner@shop.test").await;
    app.advance_ms(12 * HOUR_MS - MINUTE_MS);
    browser.get("/dashboard").await.assert_html();
    app.advance_ms(2 * MINUTE_MS);
    browser.get("/dashboard").await.assert_redirect("/sign-in");
    // The sign-in page is offered again, not the dashboard.
    browser.get("/sign-in").await.assert_html();
}

#[tokio::test]
async fn signed_out_posts_without_the_right_csrf_token_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    signed_up(&app, "owner@shop.test").await;
    let merchants = app.store.merchant_count().await.unwrap();
    let mails = paylink_server::ops::accounts::mail_messages(&app.store, &app.keys, 10)
        .await
        .unwrap()
        .len();
    let sign_up_fields = [
        ("email", "new@shop.test"),
        ("password", PASSWORD),
        ("shop_name", "New shop"),
    ];
    let mut b = Browser::new(&app);
    let form = b.get("/sign-up").await;
    let good = form.csrf();
    let wrong = "A".repeat(32);
    for csrf in [None, Some(""), Some(wrong.as_str())] {
        let with = |fields: &[(&'static str, &'static str)]| {
            let mut all: Vec<(&str, &str)> = fields.to_vec();
            if let Some(c) = csrf {
                all.push(("csrf", c));
            }
            all
        };
        let page = b.post("/sign-up", &with(&sign_up_fields)).await;
        assert_eq!(page.status, 403, "sign-up, csrf {csrf:?}: {}", page.text);
        page.assert_shows("The form expired.");
        let page = b
            .post(
                "/sign-in",
                &with(&[("email", "owner@shop.test"), ("password", PASSWORD)]),
            )
            .await;
        assert_eq!(page.status, 403, "sign-in, csrf {csrf:?}: {}", page.text);
        assert_eq!(b.cookie("paylink_session"), None);
        let page = b
            .post("/forgot-password", &with(&[("email", "owner@shop.test")]))
            .await;
        assert_eq!(page.status, 403, "forgot, csrf {csrf:?}: {}", page.text);
    }
    // Another visitor's token (another browser's cookie) is no better.
    let mut other = Browser::new(&app);
    let stolen = other.get("/sign-up").await.csrf();
    assert_ne!(stolen, good);
    let mut all = sign_up_fields.to_vec();
    all.push(("csrf", stolen.as_str()));
    let page = b.post("/sign-up", &all).await;
    assert_eq!(page.status, 403, "{}", page.text);
    assert_eq!(app.store.merchant_count().await.unwrap(), merchants);
    assert_eq!(
        paylink_server::ops::accounts::mail_messages(&app.store, &app.keys, 10)
            .await
            .unwrap()
            .len(),
        mails
    );
    // The page's own token works.
    let mut all = sign_up_fields.to_vec();
    all.push(("csrf", good.as_str()));
    b.post("/sign-up", &all).await.assert_html();
    assert_eq!(app.store.merchant_count().await.unwrap(), merchants + 1);
}

#[tokio::test]
async fn signed_in_posts_without_the_sessions_csrf_token_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let SignedUp {
        mut browser,
        token,
        shop_id,
    } = signed_up(&app, "owner@shop.test").await;
    let good = browser.get("/integration").await.csrf();
    // The pre-session cookie's token is not the session's.
    let pre_session = browser.cookie("paylink_csrf").map(str::to_string);
    let wrong = "B".repeat(32);
    let mut bad: Vec<Option<&str>> = vec![None, Some(""), Some(&wrong)];
    if let Some(c) = pre_session.as_deref() {
        assert_ne!(c, good);
        bad.push(Some(c));
    }
    let shop_path = format!("/integration/shops/{shop_id}");
    let webhook_path = format!("{shop_path}/webhook-secret");
    for csrf in bad {
        let with = |fields: &[(&'static str, &'static str)]| {
            let mut all: Vec<(&str, &str)> = fields.to_vec();
            if let Some(c) = csrf {
                all.push(("csrf", c));
            }
            all
        };
        let page = browser
            .post("/integration/token", &with(&[("confirm", "yes")]))
            .await;
        assert_eq!(page.status, 403, "refresh, csrf {csrf:?}: {}", page.text);
        assert_eq!(page.text_of("token"), None);
        let page = browser
            .post(
                &shop_path,
                &with(&[("result_url", "https://evil.example.test/")]),
            )
            .await;
        assert_eq!(page.status, 403, "shop, csrf {csrf:?}: {}", page.text);
        let page = browser
            .post(&webhook_path, &with(&[("confirm", "yes")]))
            .await;
        assert_eq!(page.status, 403, "webhook, csrf {csrf:?}: {}", page.text);
        let page = browser
            .post(
                "/account/password",
                &with(&[
                    ("current_password", PASSWORD),
                    ("password", "a brand new password"),
                ]),
            )
            .await;
        assert_eq!(page.status, 403, "password, csrf {csrf:?}: {}", page.text);
        let page = browser.post("/sign-out", &with(&[])).await;
        assert_eq!(page.status, 403, "sign-out, csrf {csrf:?}: {}", page.text);
    }
    // Nothing happened: the token works, the URL is unsaved, the password and session stand.
    assert_eq!(api_status(&app, &token).await, 200);
    let page = browser.get("/integration").await;
    page.assert_html();
    assert_eq!(
        page.input_value(&format!("result_url_{shop_id}"))
            .as_deref(),
        Some("")
    );
    signed_in(&app, "owner@shop.test", PASSWORD).await;
}

#[tokio::test]
async fn forgot_password_answers_the_same_for_any_email_and_mails_only_an_account() {
    let app = spawn_app().await;
    signed_up(&app, "owner@shop.test").await;
    let mut b = Browser::new(&app);
    let unknown = b
        .submit(
            "/forgot-password",
            "/forgot-password",
            &[("email", "nobody@shop.test")],
        )
        .await;
    unknown.assert_html();
    unknown.assert_shows("If an account has this email");
    assert!(
        paylink_server::ops::accounts::mail_messages(&app.store, &app.keys, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let known = b
        .submit(
            "/forgot-password",
            "/forgot-password",
            &[("email", " Owner@Shop.test")],
        )
        .await;
    known.assert_html();
    // Word for word the same page.
    assert_eq!(known.text, unknown.text);
    let mails = paylink_server::ops::accounts::mail_messages(&app.store, &app.keys, 10)
        .await
        .unwrap();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].to, "owner@shop.test");
    assert_eq!(
        mails[0].state, "kept",
        "no mail gateway: kept for `mail list`"
    );
    let path = link_path(&mails[0].text);
    assert!(
        mails[0].text.contains(&format!("{}{path}", app.address)),
        "the link starts with the public URL: {}",
        mails[0].text
    );
    // A malformed email gets the same notice, and no mail.
    let odd = b
        .submit(
            "/forgot-password",
            "/forgot-password",
            &[("email", "not an email")],
        )
        .await;
    assert_eq!(odd.text, unknown.text);
    assert_eq!(
        paylink_server::ops::accounts::mail_messages(&app.store, &app.keys, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// Asks for a reset link for `email` and answers its path.
async fn reset_link(app: &TestApp, email: &str) -> String {
    let page = Browser::new(app)
        .submit("/forgot-password", "/forgot-password", &[("email", email)])
        .await;
    page.assert_html();
    let mails = paylink_server::ops::accounts::mail_messages(&app.store, &app.keys, 10)
        .await
        .unwrap();
    let mail = mails.first().expect("an email");
    assert_eq!(mail.to, email);
    link_path(&mail.text)
}

#[tokio::test]
async fn reset_link_sets_a_new_password_once_and_signs_out_the_other_sessions() {
    let app = spawn_app().await;
    signed_up(&app, "owner@shop.test").await;
    let mut elsewhere = signed_in(&app, "owner@shop.test", PASSWORD).await;
    elsewhere.get("/dashboard").await.assert_html();
    // A link asked for earlier is spent by the one used.
    let earlier = reset_link(&app, "owner@shop.test").await;
    // A second later, so that the newest email is the second link's.
    app.advance_ms(1_000);
    let path = reset_link(&app, "owner@shop.test").await;
    assert_ne!(earlier, path);
    let mut b = Browser::new(&app);
    let form = b.get(&path).await;
    form.assert_html();
    form.assert_shows("Choose a password");
    // A short password is refused and the link still works.
    let short = b.submit(&path, &path, &[("password", "short")]).await;
    assert_eq!(short.status, 422, "{}", short.text);
    short.assert_shows("The password must have 10 to 128 characters.");
    let done = b
        .submit(&path, &path, &[("password", "a brand new password")])
        .await;
    done.assert_redirect("/dashboard");
    assert!(done.set_cookie("paylink_session").is_some(), "signed in");
    b.get("/dashboard").await.assert_html();
    // The old password no longer signs in; the new one does.
    let (_, old) = sign_in(&app, "owner@shop.test", PASSWORD).await;
    assert_eq!(old.status, 401, "{}", old.text);
    signed_in(&app, "owner@shop.test", "a brand new password").await;
    // The session opened before the reset is over.
    elsewhere
        .get("/dashboard")
        .await
        .assert_redirect("/sign-in");
    // The link works once, and the earlier one no more.
    for used in [&path, &earlier] {
        let again = Browser::new(&app).get(used).await;
        assert_eq!(again.status, 410, "{}", again.text);
        again.assert_shows("This link was used already or has expired.");
    }
    let mut late = Browser::new(&app);
    let csrf = late.get("/forgot-password").await.csrf();
    let reuse = late
        .post(
            &path,
            &[
                ("csrf", csrf.as_str()),
                ("password", "yet another password"),
            ],
        )
        .await;
    assert_eq!(reuse.status, 410, "{}", reuse.text);
    assert_eq!(late.cookie("paylink_session"), None);
    signed_in(&app, "owner@shop.test", "a brand new password").await;
}

#[tokio::test]
async fn reset_link_expires_after_an_hour() {
    let app = spawn_app().await;
    signed_up(&app, "owner@shop.test").await;
    let path = reset_link(&app, "owner@shop.test").await;
    let mut b = Browser::new(&app);
    let csrf = b.get(&path).await.csrf();
    app.advance_ms(HOUR_MS + 1000);
    let page = b.get(&path).await;
    assert_eq!(page.status, 410, "{}", page.text);
    let page = b
        .post(
            &path,
            &[
                ("csrf", csrf.as_str()),
                ("password", "a brand new password"),
            ],
        )
        .await;
    assert_eq!(page.status, 410, "{}", page.text);
    assert_eq!(b.cookie("paylink_session"), None);
    signed_in(&app, "owner@shop.test", PASSWORD).await;
    // A made-up link is gone the same way.
    let made_up = b.get("/password/nothing-like-a-token").await;
    assert_eq!(made_up.status, 410, "{}", made_up.text);
}

#[tokio::test]
async fn change_password_needs_the_current_one_and_signs_out_only_the_other_sessions() {
    let app = spawn_app().await;
    let SignedUp { mut browser, .. } = signed_up(&app, "owner@shop.test").await;
    let mut elsewhere = signed_in(&app, "owner@shop.test", PASSWORD).await;
    // A reset link asked for before the change (by the owner, or by whoever read their mail).
    app.advance_ms(1_000);
    let reset = reset_link(&app, "owner@shop.test").await;
    let wrong = browser
        .submit(
            "/account/password",
            "/account/password",
            &[
                ("current_password", "not the password"),
                ("password", "a brand new password"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 422, "{}", wrong.text);
    wrong.assert_shows("Wrong email or password.");
    elsewhere.get("/dashboard").await.assert_html();
    let short = browser
        .submit(
            "/account/password",
            "/account/password",
            &[("current_password", PASSWORD), ("password", "short")],
        )
        .await;
    assert_eq!(short.status, 422, "{}", short.text);
    signed_in(&app, "owner@shop.test", PASSWORD).await;
    let sent = browser
        .submit(
            "/account/password",
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("password", "a brand new password"),
            ],
        )
        .await;
    // Answered with a redirect: reloading the page that says so sends nothing again.
    assert_eq!(sent.status, 303, "{}", sent.text);
    let done = browser.follow(sent).await;
    done.assert_html();
    done.assert_shows("Your password is changed.");
    // This session goes on; the other one is over.
    browser.get("/dashboard").await.assert_html();
    elsewhere
        .get("/dashboard")
        .await
        .assert_redirect("/sign-in");
    let (_, old) = sign_in(&app, "owner@shop.test", PASSWORD).await;
    assert_eq!(old.status, 401);
    signed_in(&app, "owner@shop.test", "a brand new password").await;
    // The reset link asked for before no longer sets a password.
    let stale = Browser::new(&app).get(&reset).await;
    assert_eq!(stale.status, 410, "{}", stale.text);
}

#[tokio::test]
async fn invite_link_lets_the_owner_of_a_merchant_made_elsewhere_set_a_password() {
    let app = spawn_app().await;
    let mailer = Mailer {
        seal: &app.keys.seal,
        gateway: None,
        public_url: &app.address,
    };
    let url = account_ops::invite(
        &app.store,
        &mailer,
        &paylink_core::audit::Actor::cli("test"),
        app.merchant.merchant_id.as_str(),
        Some("a@b.test"),
        app.now(),
    )
    .await
    .expect("an invitation");
    assert!(
        url.starts_with(&format!("{}/password/", app.address)),
        "{url}"
    );
    let mails = paylink_server::ops::accounts::mail_messages(&app.store, &app.keys, 10)
        .await
        .unwrap();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, "a@b.test");
    assert!(mails[0].text.contains(&url), "{}", mails[0].text);
    // No password yet: signing in does not work.
    let (_, page) = sign_in(&app, "a@b.test", PASSWORD).await;
    assert_eq!(page.status, 401);
    let path = link_path(&url);
    let mut b = Browser::new(&app);
    b.get(&path).await.assert_html();
    b.submit(&path, &path, &[("password", PASSWORD)])
        .await
        .assert_redirect("/dashboard");
    let dashboard = b.get("/dashboard").await;
    dashboard.assert_html();
    dashboard.assert_shows(app.shop());
    let integration = b.get("/integration").await;
    assert_eq!(integration.shop_ids(), vec![app.shop().to_string()]);
    // The invitation is spent, and the password signs in.
    assert_eq!(Browser::new(&app).get(&path).await.status, 410);
    signed_in(&app, "a@b.test", PASSWORD).await;
}

#[tokio::test]
async fn invite_link_expires_after_seven_days() {
    let app = spawn_app().await;
    let mailer = Mailer {
        seal: &app.keys.seal,
        gateway: None,
        public_url: &app.address,
    };
    let url = account_ops::invite(
        &app.store,
        &mailer,
        &paylink_core::audit::Actor::cli("test"),
        app.merchant.merchant_id.as_str(),
        Some("a@b.test"),
        app.now(),
    )
    .await
    .expect("an invitation");
    let path = link_path(&url);
    app.advance_ms(7 * DAY_MS - MINUTE_MS);
    Browser::new(&app).get(&path).await.assert_html();
    app.advance_ms(2 * MINUTE_MS);
    assert_eq!(Browser::new(&app).get(&path).await.status, 410);
}

#[tokio::test]
async fn sign_in_from_one_address_is_refused_after_twenty_failures_whatever_the_email() {
    let app = spawn_app().await;
    signed_up(&app, "owner@shop.test").await;
    // Guessing across many emails from one address: 20 failures, 4 per email (under the
    // per-account limit of 5).
    for i in 0..20 {
        let email = format!("guess{}@shop.test", i % 5);
        let (_, page) = sign_in(&app, &email, "not the password").await;
        assert_eq!(page.status, 401, "attempt {i}: {}", page.text);
    }
    let (b, page) = sign_in(&app, "owner@shop.test", PASSWORD).await;
    assert_eq!(page.status, 429, "{}", page.text);
    page.assert_shows("Too many failed attempts");
    assert_eq!(b.cookie("paylink_session"), None);
    app.advance_ms(16 * MINUTE_MS);
    signed_in(&app, "owner@shop.test", PASSWORD).await;
}

#[tokio::test]
async fn passwords_of_ten_to_128_characters_are_accepted_and_others_refused() {
    let app = spawn_app().await;
    let cases = [(9, false), (10, true), (128, true), (129, false)];
    for (i, (len, ok)) in cases.into_iter().enumerate() {
        let email = format!("owner{i}@shop.test");
        let password = "p".repeat(len);
        let (_, page) = sign_up(&app, &email, &password, "Corner shop").await;
        if ok {
            page.assert_html();
            signed_in(&app, &email, &password).await;
        } else {
            assert_eq!(page.status, 422, "{len}: {}", page.text);
            page.assert_shows("The password must have 10 to 128 characters.");
        }
    }
}

#[tokio::test]
async fn sign_up_needs_a_shop_name_and_shows_it_escaped() {
    let app = spawn_app().await;
    let before = app.store.merchant_count().await.unwrap();
    let (_, page) = sign_up(&app, "owner@shop.test", PASSWORD, "   ").await;
    assert_eq!(page.status, 422, "{}", page.text);
    page.assert_shows("Fill in this field.");
    assert_eq!(app.store.merchant_count().await.unwrap(), before);
    let (mut b, page) = sign_up(
        &app,
        "owner@shop.test",
        PASSWORD,
        "<script>alert(1)</script> & Co",
    )
    .await;
    page.assert_html();
    page.assert_hides("<script>alert(1)</script>");
    let dashboard = b.get("/dashboard").await;
    dashboard.assert_html();
    dashboard.assert_hides("<script>alert(1)</script>");
    dashboard.assert_shows("alert(1)");
}

#[tokio::test]
async fn two_sign_ups_with_one_email_at_once_make_one_merchant() {
    let app = spawn_app().await;
    let before = app.store.merchant_count().await.unwrap();
    let (first, second) = tokio::join!(
        sign_up(&app, "owner@shop.test", PASSWORD, "First shop"),
        sign_up(&app, "Owner@shop.test", "another password 1", "Second shop"),
    );
    let mut statuses = [first.1.status, second.1.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 422], "{} / {}", first.1.text, second.1.text);
    assert_eq!(app.store.merchant_count().await.unwrap(), before + 1);
}

#[tokio::test]
async fn signed_in_visitors_go_from_sign_in_and_sign_up_to_the_dashboard() {
    let app = spawn_app().await;
    let SignedUp { mut browser, .. } = signed_up(&app, "owner@shop.test").await;
    browser.get("/sign-in").await.assert_redirect("/dashboard");
    browser.get("/sign-up").await.assert_redirect("/dashboard");
    let dashboard = browser.get("/dashboard").await;
    dashboard.assert_shows("Sign out");
    dashboard.assert_hides("href=\"/sign-in\"");
    // Signed out, the change-password form sends to sign in too.
    let mut stranger = Browser::new(&app);
    let csrf = stranger.get("/sign-in").await.csrf();
    stranger
        .post(
            "/account/password",
            &[
                ("csrf", csrf.as_str()),
                ("current_password", PASSWORD),
                ("password", "a brand new password"),
            ],
        )
        .await
        .assert_redirect("/sign-in");
    signed_in(&app, "owner@shop.test", PASSWORD).await;
}

#[tokio::test]
async fn an_unknown_language_is_ignored_and_the_browser_preference_decides() {
    let app = spawn_app().await;
    let mut b = Browser::new(&app);
    let page = b.get("/?lang=de").await;
    page.assert_html();
    page.assert_shows("<html lang=\"en\">");
    assert_eq!(page.set_cookie("paylink_lang"), None);
    let ru = app
        .http
        .get(app.url("/"))
        .header("Accept-Language", "ru-RU,ru;q=0.9,en;q=0.8")
        .send()
        .await
        .unwrap();
    let text = ru.text().await.unwrap();
    assert!(text.contains("<html lang=\"ru\">"), "{text}");
}

#[tokio::test]
async fn reset_emails_are_limited_per_email_and_per_address_alike_for_any_email() {
    let app = spawn_app().await;
    let _owner = signed_up(&app, "limited@shop.test").await;
    let mut b = Browser::new(&app);
    // Three links an hour for one email, whether or not it has an account.
    for email in ["limited@shop.test", "nobody@shop.test"] {
        for _ in 0..3 {
            let page = b
                .submit("/forgot-password", "/forgot-password", &[("email", email)])
                .await;
            assert_eq!(page.status, 200, "{email}: {}", page.text);
        }
        let refused = b
            .submit("/forgot-password", "/forgot-password", &[("email", email)])
            .await;
        assert_eq!(refused.status, 429, "{email}: {}", refused.text);
    }
    let mails = paylink_server::ops::accounts::mail_messages(&app.store, &app.keys, 20)
        .await
        .unwrap();
    assert_eq!(mails.len(), 3, "three reset emails, no more");
    // An hour later the owner can ask again.
    app.advance_ms(60 * 60 * 1000 + 1);
    let page = b
        .submit(
            "/forgot-password",
            "/forgot-password",
            &[("email", "limited@shop.test")],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(
        paylink_server::ops::accounts::mail_messages(&app.store, &app.keys, 20)
            .await
            .unwrap()
            .len(),
        4
    );
}

/// Guesses sent at once are counted like guesses sent one by one: each is recorded before its
/// password is checked, so no more than five are checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_wrong_passwords_at_once_get_only_five_checks() {
    let app = spawn_app().await;
    let _owner = signed_up(&app, "raced@shop.test").await;
    let mut browsers = Vec::new();
    for _ in 0..20 {
        let mut b = Browser::new(&app);
        let csrf = b.get("/sign-in").await.csrf();
        browsers.push((b, csrf));
    }
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(browsers.len()));
    let tasks: Vec<_> = browsers
        .into_iter()
        .map(|(mut b, csrf)| {
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                b.post(
                    "/sign-in",
                    &[
                        ("csrf", csrf.as_str()),
                        ("email", "raced@shop.test"),
                        ("password", "not the password at all"),
                    ],
                )
                .await
                .status
            })
        })
        .collect();
    let mut checked = 0;
    for t in tasks {
        match t.await.unwrap() {
            401 => checked += 1,
            429 => {}
            other => panic!("sign-in answered {other}"),
        }
    }
    // Never more than five checks; under such a burst fewer may get through (the limit errs
    // on the side of refusing).
    assert!(checked <= 5, "{checked} passwords were checked");
    // What was checked and failed counts: the remaining tries are five less those.
    let mut left = 0;
    loop {
        let (_, page) = sign_in(&app, "raced@shop.test", "still not the password").await;
        match page.status {
            401 => left += 1,
            429 => break,
            other => panic!("sign-in answered {other}"),
        }
        assert!(left <= 5, "more than five failures were checked");
    }
    assert_eq!(checked + left, 5, "five failures in all, then the limit");
}

/// The outbox keeps an email's text sealed: the one-time link is not in the database in the
/// clear (the mail gateway and `paylink mail list` get it opened).
#[tokio::test]
async fn the_outbox_holds_reset_links_only_sealed() {
    let app = spawn_app().await;
    let _owner = signed_up(&app, "sealed@shop.test").await;
    let mut b = Browser::new(&app);
    b.submit(
        "/forgot-password",
        "/forgot-password",
        &[("email", "sealed@shop.test")],
    )
    .await;
    let opened = paylink_server::ops::accounts::mail_messages(&app.store, &app.keys, 1)
        .await
        .unwrap();
    let link = link_path(&opened[0].text);
    let stored = app.store.mail_messages(1).await.unwrap();
    assert!(!stored[0].text.contains(&link), "{}", stored[0].text);
    assert!(!stored[0].text.contains("/password/"));
}

#[tokio::test]
async fn wrong_current_passwords_count_as_failed_sign_ins() {
    let app = spawn_app().await;
    let SignedUp { mut browser, .. } = signed_up(&app, "owner@shop.test").await;
    let change = |current: &'static str| {
        [
            ("current_password", current),
            ("password", "a brand new password"),
        ]
    };
    // A session left open guesses the password no faster than the sign-in page.
    for _ in 0..5 {
        let wrong = browser
            .submit(
                "/account/password",
                "/account/password",
                &change("a wrong guess"),
            )
            .await;
        assert_eq!(wrong.status, 422, "{}", wrong.text);
    }
    let refused = browser
        .submit("/account/password", "/account/password", &change(PASSWORD))
        .await;
    assert_eq!(refused.status, 429, "{}", refused.text);
    let (_, sign_in) = sign_in(&app, "owner@shop.test", PASSWORD).await;
    assert_eq!(sign_in.status, 429, "{}", sign_in.text);
    // Fifteen minutes on, the right one changes it.
    app.advance_ms(15 * MINUTE_MS + 1000);
    let sent = browser
        .submit("/account/password", "/account/password", &change(PASSWORD))
        .await;
    browser
        .follow(sent)
        .await
        .assert_shows("Your password is changed.");
    signed_in(&app, "owner@shop.test", "a brand new password").await;
}
