//! Operators' access: invitation, sign-in with and without the second factor, the console's
//! own session cookie, access taken away, the last admin.

use super::*;
use crate::web::signed_up;
use paylink_core::totp;

/// The TOTP secret the account page offers, from its text.
fn offered_secret(page: &Page) -> Vec<u8> {
    let text = page.text_of("totp-secret").expect("a secret on the page");
    totp::base32_decode(text.trim()).expect("base32")
}

fn code_at(secret: &[u8], now: i64) -> String {
    totp::totp(totp::Algorithm::Sha1, secret, now, 6).expect("a code")
}

/// Turns the second factor on through the account page; answers the secret.
async fn turn_totp_on(app: &TestApp, b: &mut Browser) -> Vec<u8> {
    let page = b.get("/admin/account").await;
    assert_eq!(page.status, 200, "{}", page.text);
    let secret = offered_secret(&page);
    let offer = page.input_value("offer").expect("the sealed offer");
    let csrf = page.csrf();
    let code = code_at(&secret, app.now());
    let on = b
        .post(
            "/admin/account/totp",
            &[
                ("csrf", &csrf),
                ("current_password", PASSWORD),
                ("offer", &offer),
                ("code", &code),
            ],
        )
        .await;
    on.assert_redirect("/admin/account?notice=totp_on");
    secret
}

#[tokio::test]
async fn an_invited_operator_chooses_a_password_and_signs_in_with_it() {
    let app = spawn_app().await;
    let mut b = admin(&app).await;
    let account = b.get("/admin/account").await;
    assert_eq!(account.status, 200);
    assert_eq!(account.text_of("email").as_deref(), Some("admin@ops.test"));
    assert_eq!(account.text_of("role").as_deref(), Some("admin"));
    // The invitation link is spent.
    let (fresh, signed) = sign_in(&app, "admin@ops.test", PASSWORD, "").await;
    signed.assert_redirect("/admin");
    assert!(fresh.cookie("paylink_console").is_some());
    let wrong = sign_in(&app, "admin@ops.test", "not the password at all", "")
        .await
        .1;
    assert_eq!(wrong.status, 401);
    assert!(wrong.set_cookie("paylink_console").is_none());
}

#[tokio::test]
async fn the_console_cookie_is_its_own_and_only_for_admin_paths() {
    let app = spawn_app().await;
    let (_b, page) = {
        invite(&app, "ops@ops.test", Role::Support).await;
        let link = invite(&app, "ops2@ops.test", Role::Support).await;
        let mut b = Browser::new(&app);
        let page = b.submit(&link, &link, &[("password", PASSWORD)]).await;
        (b, page)
    };
    let cookie = page
        .set_cookies
        .iter()
        .find(|c| c.starts_with("paylink_console="))
        .expect("a console session cookie");
    assert!(cookie.contains("Path=/admin"), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(
        !page
            .set_cookies
            .iter()
            .any(|c| c.starts_with("paylink_session=")),
        "no merchant session"
    );
}

#[tokio::test]
async fn a_merchant_session_never_opens_the_console_nor_an_operator_session_the_app() {
    let app = spawn_app().await;
    let mut merchant = signed_up(&app, "shop@example.com").await.browser;
    for path in ["/admin", "/admin/operators", "/admin/account"] {
        merchant.get(path).await.assert_redirect("/admin/sign-in");
    }
    // The merchant's session token replayed as a console cookie opens nothing either.
    let token = merchant.cookie("paylink_session").unwrap().to_string();
    merchant.put_cookie("paylink_console", &token);
    merchant
        .get("/admin/account")
        .await
        .assert_redirect("/admin/sign-in");
    // And the merchant's credentials are not an operator's.
    let page = sign_in(&app, "shop@example.com", PASSWORD, "").await.1;
    assert_eq!(page.status, 401);

    let mut op = admin(&app).await;
    let console = op.cookie("paylink_console").unwrap().to_string();
    op.put_cookie("paylink_session", &console);
    op.get("/dashboard").await.assert_redirect("/sign-in");
}

#[tokio::test]
async fn with_the_second_factor_on_sign_in_takes_the_current_code_once() {
    let app = spawn_app().await;
    let mut b = admin(&app).await;
    let secret = turn_totp_on(&app, &mut b).await;
    let page = b.get("/admin/account?notice=totp_on").await;
    assert!(page.text.contains("id=\"totp-off\""), "{}", page.text);
    // The stored secret is sealed: the database holds no base32 of it.
    let account = app
        .store
        .account_by_email(
            paylink_core::account::AccountKind::Operator,
            "admin@ops.test",
        )
        .await
        .unwrap()
        .unwrap();
    let sealed = account.totp_sealed.expect("the secret is stored");
    assert!(!sealed.contains(&totp::base32_encode(&secret)));

    // The code the enrolment used is spent: a sign-in in the same step needs the next one.
    let used = code_at(&secret, app.now());
    let page = sign_in(&app, "admin@ops.test", PASSWORD, &used).await.1;
    assert_eq!(page.status, 401, "a spent code");
    app.advance_ms(30_000);
    let page = sign_in(&app, "admin@ops.test", PASSWORD, "").await.1;
    assert_eq!(page.status, 401, "no code");
    let page = sign_in(&app, "admin@ops.test", PASSWORD, "000000").await.1;
    assert_eq!(page.status, 401, "a wrong code");
    let code = code_at(&secret, app.now());
    let page = sign_in(&app, "admin@ops.test", PASSWORD, &code).await.1;
    page.assert_redirect("/admin");
    // The same code again (replayed from the same 30 seconds) is refused.
    let page = sign_in(&app, "admin@ops.test", PASSWORD, &code).await.1;
    assert_eq!(page.status, 401, "a replayed code");
}

#[tokio::test]
async fn two_sign_ins_racing_with_one_code_let_one_in() {
    let app = spawn_app().await;
    let mut b = admin(&app).await;
    let secret = turn_totp_on(&app, &mut b).await;
    app.advance_ms(30_000);
    let code = code_at(&secret, app.now());
    let app = std::sync::Arc::new(app);
    let mut tries = tokio::task::JoinSet::new();
    // Four: a fifth failure in the window would lock the account (and refuse all of them).
    for _ in 0..4 {
        let (app, code) = (app.clone(), code.clone());
        tries.spawn(async move {
            sign_in(&app, "admin@ops.test", PASSWORD, &code)
                .await
                .1
                .status
        });
    }
    let statuses: Vec<u16> = tries.join_all().await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 303).count(),
        1,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn a_wrong_enrolment_code_leaves_the_second_factor_off() {
    let app = spawn_app().await;
    let mut b = admin(&app).await;
    let page = b.get("/admin/account").await;
    let offer = page.input_value("offer").unwrap();
    let csrf = page.csrf();
    let refused = b
        .post(
            "/admin/account/totp",
            &[
                ("csrf", &csrf),
                ("current_password", PASSWORD),
                ("offer", &offer),
                ("code", "123456"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422);
    refused.assert_shows("That code is not right");
    // An offer made for another account does not enrol this one.
    let mut other = support(&app).await;
    let theirs = other.get("/admin/account").await;
    let secret = offered_secret(&theirs);
    let their_offer = theirs.input_value("offer").unwrap();
    let code = code_at(&secret, app.now());
    let refused = b
        .post(
            "/admin/account/totp",
            &[
                ("csrf", &csrf),
                ("current_password", PASSWORD),
                ("offer", &their_offer),
                ("code", &code),
            ],
        )
        .await;
    assert_eq!(refused.status, 422);
    let page = sign_in(&app, "admin@ops.test", PASSWORD, "").await.1;
    page.assert_redirect("/admin");
}

#[tokio::test]
async fn an_operator_whose_access_is_taken_away_is_signed_out_and_refused() {
    let app = spawn_app().await;
    let mut a = admin(&app).await;
    let mut s = support(&app).await;
    assert_eq!(s.get("/admin/account").await.status, 200);
    let list = a.get("/admin/operators").await;
    let id = operator_id(&app, "support@ops.test").await;
    let csrf = list.csrf();
    a.post(
        &format!("/admin/operators/{id}"),
        &[("csrf", &csrf), ("do", "disable")],
    )
    .await
    .assert_redirect("/admin/operators?notice=done");
    s.get("/admin/account")
        .await
        .assert_redirect("/admin/sign-in");
    let page = sign_in(&app, "support@ops.test", PASSWORD, "").await.1;
    assert_eq!(page.status, 401);
    let entries = audited(&app, "support@ops.test").await;
    assert_eq!(entries[0].action, "operator.access");
    assert_eq!(entries[0].actor, "admin@ops.test");
    assert_eq!(entries[0].after, "role=support disabled");
    // Given back, the operator signs in again.
    a.post(
        &format!("/admin/operators/{id}"),
        &[("csrf", &csrf), ("do", "enable")],
    )
    .await
    .assert_redirect("/admin/operators?notice=done");
    let page = sign_in(&app, "support@ops.test", PASSWORD, "").await.1;
    page.assert_redirect("/admin");
}

pub async fn operator_id(app: &TestApp, email: &str) -> String {
    app.store
        .account_by_email(paylink_core::account::AccountKind::Operator, email)
        .await
        .unwrap()
        .expect("the operator exists")
        .id
        .to_string()
}

#[tokio::test]
async fn the_last_admin_cannot_be_demoted_or_disabled() {
    let app = spawn_app().await;
    let mut a = admin(&app).await;
    let id = operator_id(&app, "admin@ops.test").await;
    let csrf = a.get("/admin/operators").await.csrf();
    for action in ["support", "disable"] {
        let page = a
            .post(
                &format!("/admin/operators/{id}"),
                &[("csrf", &csrf), ("do", action)],
            )
            .await;
        assert_eq!(page.status, 422, "{action}: {}", page.text);
        page.assert_shows("the last admin who can sign in");
    }
    assert_eq!(a.get("/admin/account").await.status, 200);
}

/// Two admins demoting each other at the same moment, round after round: one wins, and one
/// admin always remains. On PostgreSQL the two plans may run in two writers at once, each
/// seeing the other still an admin; the guard in SQL makes them take turns.
#[tokio::test]
async fn two_admins_demoting_each_other_at_once_leave_one_admin() {
    let app = spawn_app().await;
    let mut survivor = (admin(&app).await, "admin@ops.test".to_string());
    for round in 0..8 {
        let email = format!("admin{round}@ops.test");
        let mut other = (operator(&app, &email, Role::Admin).await, email);
        let ids = (
            operator_id(&app, &survivor.1).await,
            operator_id(&app, &other.1).await,
        );
        let csrf = (
            survivor.0.get("/admin/operators").await.csrf(),
            other.0.get("/admin/operators").await.csrf(),
        );
        let paths = (
            format!("/admin/operators/{}", ids.1),
            format!("/admin/operators/{}", ids.0),
        );
        let forms = (
            [("csrf", csrf.0.as_str()), ("do", "support")],
            [("csrf", csrf.1.as_str()), ("do", "support")],
        );
        let (by_survivor, by_other) = tokio::join!(
            survivor.0.post(&paths.0, &forms.0),
            other.0.post(&paths.1, &forms.1),
        );
        let won = [&by_survivor, &by_other].map(|p| p.status == 303);
        assert_eq!(
            won.iter().filter(|w| **w).count(),
            1,
            "round {round}: {by_survivor:?} {by_other:?}"
        );
        for lost in [&by_survivor, &by_other]
            .into_iter()
            .filter(|p| p.status != 303)
        {
            // Refused as the last admin, or, once demoted, as no admin at all.
            assert!([422, 403].contains(&lost.status), "round {round}: {lost:?}");
        }
        let admins: Vec<String> = operators::list(&app.store)
            .await
            .unwrap()
            .iter()
            .filter(|a| operators::role_of(a) == Some(Role::Admin))
            .map(|a| a.email.clone())
            .collect();
        assert_eq!(admins.len(), 1, "round {round}: {admins:?}");
        if won[1] {
            std::mem::swap(&mut survivor, &mut other);
        }
        assert_eq!(admins[0], survivor.1, "round {round}");
    }
}

/// An admin's request is let in as an admin's, then another change demotes or disables them
/// before its write: the write is refused, as though they had asked a moment later. The
/// acting admin is checked in the same transaction, after the changes written before it.
#[tokio::test]
async fn an_admin_demoted_or_disabled_meanwhile_changes_no_operator() {
    use paylink_core::DomainError;
    use paylink_server::ops::OpError;
    let app = spawn_app().await;
    let _a = admin(&app).await;
    for email in ["b@ops.test", "c@ops.test"] {
        invite(&app, email, Role::Admin).await;
    }
    let (b, c) = (
        operator_id(&app, "b@ops.test").await,
        operator_id(&app, "c@ops.test").await,
    );
    // What b's sessions were let in as, before each change below was written.
    let b_as_read = Actor::operator("b@ops.test", Role::Admin, "203.0.113.7");
    let a = Actor::operator("admin@ops.test", Role::Admin, "203.0.113.1");
    fn refused<T>(r: Result<T, OpError>) -> bool {
        matches!(r, Err(OpError::Domain(DomainError::NotPermitted)))
    }

    operators::set_access(&app.store, &a, &b, Role::Support, false, app.now())
        .await
        .expect("a demotes b");
    let by_b = operators::set_access(&app.store, &b_as_read, &c, Role::Support, true, app.now());
    assert!(refused(by_b.await));
    let by_b = operators::set_access(&app.store, &b_as_read, &b, Role::Admin, false, app.now());
    assert!(refused(by_b.await), "b cannot promote themselves back");
    // Nor make an admin of their own, nor take over another admin by a reset link.
    let mailer = paylink_server::ops::accounts::Mailer {
        gateway: None,
        public_url: &app.address,
        seal: &app.keys.seal,
    };
    let made = operators::create(
        &app.store,
        &mailer,
        &b_as_read,
        "mine@ops.test",
        Role::Admin,
        app.now(),
    );
    assert!(refused(made.await));
    let link = operators::reset_link(&app.store, &mailer, &b_as_read, &c, app.now());
    assert!(refused(link.await));
    assert!(operators::list(&app.store)
        .await
        .unwrap()
        .iter()
        .all(|o| o.email != "mine@ops.test"));

    operators::set_access(&app.store, &a, &b, Role::Admin, true, app.now())
        .await
        .expect("a gives b the admin role back, and disables b");
    let by_b = operators::set_access(&app.store, &b_as_read, &b, Role::Admin, false, app.now());
    assert!(
        refused(by_b.await),
        "a disabled admin cannot let themselves back in"
    );

    let b_now = operators::operator(&app.store, &b).await.unwrap();
    assert_eq!(operators::role_of(&b_now), None, "b stays disabled");
    let c_now = operators::operator(&app.store, &c).await.unwrap();
    assert_eq!(operators::role_of(&c_now), Some(Role::Admin), "c untouched");
    for target in ["b@ops.test", "c@ops.test"] {
        let lines = audited(&app, target).await;
        assert!(lines.iter().all(|e| e.actor != "b@ops.test"), "{lines:?}");
    }
    // An admin who still is one changes operators as before.
    operators::set_access(&app.store, &a, &c, Role::Support, false, app.now())
        .await
        .expect("a demotes c");
}

#[tokio::test]
async fn an_admin_creates_an_operator_whose_link_is_shown_once_and_emailed() {
    let app = spawn_app().await;
    let mut a = admin(&app).await;
    let page = a
        .submit(
            "/admin/operators",
            "/admin/operators",
            &[("email", "New.Person@Ops.test"), ("role", "support")],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.text);
    let link = page.text_of("operator-link").expect("the link is shown");
    assert!(link.contains("/admin/password/"), "{link}");
    // The list shows the new operator as invited, and the link works once.
    let list = a.get("/admin/operators").await;
    assert!(list.text.contains("new.person@ops.test"));
    assert!(!list.text.contains(&link), "the link is not shown again");
    let path = &link[link.find("/admin/password/").unwrap()..];
    let mut b = Browser::new(&app);
    b.submit(path, path, &[("password", PASSWORD)])
        .await
        .assert_redirect("/admin/account");
    assert_eq!(Browser::new(&app).get(path).await.status, 410);
    // Taken: the same email again is refused.
    let again = a
        .submit(
            "/admin/operators",
            "/admin/operators",
            &[("email", "new.person@ops.test"), ("role", "admin")],
        )
        .await;
    assert_eq!(again.status, 422);
    let entries = audited(&app, "new.person@ops.test").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].action, "operator.create");
    assert_eq!(entries[0].after, "role=support");
}

#[tokio::test]
async fn a_merchant_link_does_not_open_the_console_nor_an_operator_link_the_app() {
    let app = spawn_app().await;
    let link = invite(&app, "someone@ops.test", Role::Support).await;
    let merchant_path = link.replace("/admin/password/", "/password/");
    assert_eq!(Browser::new(&app).get(&merchant_path).await.status, 410);
    assert_eq!(Browser::new(&app).get(&link).await.status, 200);
}

#[tokio::test]
async fn a_password_link_is_no_second_factor() {
    let app = spawn_app().await;
    let mut b = admin(&app).await;
    let secret = turn_totp_on(&app, &mut b).await;
    // A new password link (from another admin, or the CLI) sets the password but signs in no one.
    let mailer = paylink_server::ops::accounts::Mailer {
        gateway: None,
        public_url: &app.address,
        seal: &app.keys.seal,
    };
    let id = operator_id(&app, "admin@ops.test").await;
    let link = operators::reset_link(&app.store, &mailer, &cli(), &id, app.now())
        .await
        .unwrap();
    let path = &link[link.find("/admin/password/").unwrap()..];
    let mut taker = Browser::new(&app);
    let set = taker
        .submit(path, path, &[("password", "another long password")])
        .await;
    set.assert_redirect("/admin/sign-in?notice=password_set");
    assert!(taker.cookie("paylink_console").is_none());
    taker
        .get("/admin/account")
        .await
        .assert_redirect("/admin/sign-in");
    // The old session ended with the new password; the new password needs the code.
    b.get("/admin/account")
        .await
        .assert_redirect("/admin/sign-in");
    let page = sign_in(&app, "admin@ops.test", "another long password", "")
        .await
        .1;
    assert_eq!(page.status, 401);
    app.advance_ms(30_000);
    let code = code_at(&secret, app.now());
    let page = sign_in(&app, "admin@ops.test", "another long password", &code)
        .await
        .1;
    page.assert_redirect("/admin");
}

#[tokio::test]
async fn turning_the_second_factor_off_takes_a_current_code() {
    let app = spawn_app().await;
    let mut b = admin(&app).await;
    let secret = turn_totp_on(&app, &mut b).await;
    let csrf = b.get("/admin/account").await.csrf();
    // A session alone does not drop the factor (nor does a wrong code, or the enrolment's).
    for code in ["", "000000", &code_at(&secret, app.now())] {
        let refused = b
            .post(
                "/admin/account/totp/off",
                &[
                    ("csrf", &csrf),
                    ("current_password", PASSWORD),
                    ("code", code),
                ],
            )
            .await;
        assert_eq!(refused.status, 422, "{code:?}: {}", refused.text);
        refused.assert_shows("That code is not right");
    }
    app.advance_ms(30_000);
    let off = b
        .post(
            "/admin/account/totp/off",
            &[
                ("csrf", &csrf),
                ("current_password", PASSWORD),
                ("code", &code_at(&secret, app.now())),
            ],
        )
        .await;
    off.assert_redirect("/admin/account?notice=totp_off");
    let page = sign_in(&app, "admin@ops.test", PASSWORD, "").await.1;
    page.assert_redirect("/admin");
    let entries = audited(&app, "admin@ops.test").await;
    assert_eq!(
        (
            entries[0].action.as_str(),
            entries[0].before.as_str(),
            entries[0].after.as_str()
        ),
        ("operator.totp", "on", "off")
    );
}

#[tokio::test]
async fn an_offer_is_shown_again_after_a_wrong_code_and_expires() {
    let app = spawn_app().await;
    let mut b = admin(&app).await;
    let page = b.get("/admin/account").await;
    let secret = page.text_of("totp-secret").unwrap();
    let offer = page.input_value("offer").unwrap();
    let csrf = page.csrf();
    let wrong = b
        .post(
            "/admin/account/totp",
            &[
                ("csrf", &csrf),
                ("current_password", PASSWORD),
                ("offer", &offer),
                ("code", "000000"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 422);
    assert_eq!(
        wrong.text_of("totp-secret"),
        Some(secret.clone()),
        "the same secret to scan"
    );
    // Sixteen minutes later the offer is stale, even with its right code.
    app.advance_ms(16 * 60 * 1000);
    let bytes = totp::base32_decode(secret.trim()).unwrap();
    let stale = b
        .post(
            "/admin/account/totp",
            &[
                ("csrf", &csrf),
                ("current_password", PASSWORD),
                ("offer", &offer),
                ("code", &code_at(&bytes, app.now())),
            ],
        )
        .await;
    assert_eq!(stale.status, 422);
    assert_ne!(
        stale.text_of("totp-secret"),
        Some(secret),
        "a new secret is offered"
    );
}

#[tokio::test]
async fn a_session_alone_does_not_change_the_second_factor_and_its_guesses_count() {
    let app = spawn_app().await;
    let mut b = admin(&app).await;
    let (mut elsewhere, signed_in) = sign_in(&app, "admin@ops.test", PASSWORD, "").await;
    signed_in.assert_redirect("/admin");
    // Turning it on takes the password: whoever holds a session cannot put in their own app.
    let page = b.get("/admin/account").await;
    let secret = offered_secret(&page);
    let offer = page.input_value("offer").unwrap();
    let csrf = page.csrf();
    let code = code_at(&secret, app.now());
    let on = |password: &'static str| {
        [
            ("csrf", csrf.clone()),
            ("current_password", password.to_string()),
            ("offer", offer.clone()),
            ("code", code.clone()),
        ]
    };
    let fields = on("not the password at all");
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = b.post("/admin/account/totp", &pairs).await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    let fields = on(PASSWORD);
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    b.post("/admin/account/totp", &pairs)
        .await
        .assert_redirect("/admin/account?notice=totp_on");
    // The change ended the operator's other session.
    let gone = elsewhere.get("/admin/account").await;
    assert_eq!(gone.status, 303, "{}", gone.text);
    let to = gone.location.clone().unwrap_or_default();
    assert!(to.contains("/admin/sign-in"), "{to}");

    // Turning it off with the password but guessed codes: each guess is a failed sign-in,
    // so a handful locks the account's sign-in and the guessing with it.
    app.advance_ms(30_000);
    let csrf = b.get("/admin/account").await.csrf();
    for _ in 0..4 {
        let refused = b
            .post(
                "/admin/account/totp/off",
                &[
                    ("csrf", &csrf),
                    ("current_password", PASSWORD),
                    ("code", "000000"),
                ],
            )
            .await;
        assert_eq!(refused.status, 422, "{}", refused.text);
    }
    // The fifth failure counted: now even the right password and code wait out the window.
    let locked = b
        .post(
            "/admin/account/totp/off",
            &[
                ("csrf", &csrf),
                ("current_password", PASSWORD),
                ("code", &code_at(&secret, app.now())),
            ],
        )
        .await;
    assert_eq!(locked.status, 429, "{}", locked.text);
    let page = sign_in(
        &app,
        "admin@ops.test",
        PASSWORD,
        &code_at(&secret, app.now()),
    )
    .await
    .1;
    assert_eq!(page.status, 429, "{}", page.text);
    assert_eq!(audited(&app, "admin@ops.test").await[0].after, "on");
}

#[tokio::test]
async fn guesses_at_the_merchant_sign_in_do_not_lock_an_operator_out_of_the_console() {
    let app = spawn_app().await;
    admin(&app).await;
    for _ in 0..6 {
        let mut web = Browser::new(&app);
        web.submit(
            "/sign-in",
            "/sign-in",
            &[
                ("email", "admin@ops.test"),
                ("password", "a wrong guess here"),
            ],
        )
        .await;
    }
    let page = sign_in(&app, "admin@ops.test", PASSWORD, "").await.1;
    page.assert_redirect("/admin");
}
