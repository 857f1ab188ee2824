//! The signed-in merchant's pages: the dashboard and API integration (the token and its
//! refresh, the shops' postback URLs and webhook secrets), and one merchant's pages and forms
//! tried with another merchant's shop.

use super::*;
use paylink_core::id::ShopId;
use paylink_core::plan::SealedColumn;

/// The shop's sealed webhook key as stored (it changes exactly when the key does).
async fn sealed_webhook_key(app: &TestApp, shop_id: &str) -> Option<String> {
    app.store
        .sealed_values(SealedColumn::WebhookKey, "", "", 10_000)
        .await
        .expect("sealed values")
        .into_iter()
        .find(|v| v.id == shop_id)
        .map(|v| v.sealed)
}

/// The shop's result, success and fail URLs as stored.
async fn stored_urls(app: &TestApp, shop_id: &str) -> [Option<String>; 3] {
    let shop = app
        .store
        .shop(&ShopId::parse(shop_id).expect("a shop id"))
        .await
        .expect("the store reads")
        .expect("the shop");
    [shop.result_url, shop.success_url, shop.fail_url]
}

#[tokio::test]
async fn signed_out_visitors_are_sent_to_sign_in_from_every_merchant_page() {
    let app = spawn_app().await;
    let mut b = Browser::new(&app);
    let shop = app.shop().to_string();
    for path in [
        "/dashboard".to_string(),
        "/integration".to_string(),
        "/integration/token".to_string(),
        "/account/password".to_string(),
        format!("/integration/shops/{shop}/webhook-secret"),
    ] {
        b.get(&path).await.assert_redirect("/sign-in");
    }
    // Forms posted without a session do nothing either.
    let csrf = b.get("/sign-in").await.csrf();
    let token = app.token().to_string();
    for (path, fields) in [
        ("/integration/token".to_string(), vec![("confirm", "yes")]),
        (
            format!("/integration/shops/{shop}"),
            vec![("result_url", "https://evil.example.test/")],
        ),
        (
            format!("/integration/shops/{shop}/webhook-secret"),
            vec![("confirm", "yes")],
        ),
    ] {
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend(fields);
        let page = b.post(&path, &all).await;
        assert!(page.status == 303 || page.status == 403, "{path}: {page:?}");
        assert_eq!(page.text_of("token"), None);
    }
    assert_eq!(api_status(&app, &token).await, 200);
    assert_eq!(stored_urls(&app, &shop).await, [None, None, None]);
}

#[tokio::test]
async fn integration_page_lists_the_shops_and_never_shows_the_token_again() {
    let app = spawn_app().await;
    let SignedUp {
        mut browser,
        token,
        shop_id,
    } = signed_up(&app, "owner@shop.test").await;
    let page = browser.get("/integration").await;
    page.assert_html();
    assert_eq!(page.shop_ids(), vec![shop_id.clone()]);
    page.assert_shows("Corner shop");
    page.assert_shows("The token is shown only once");
    page.assert_shows("Refresh API token");
    page.assert_hides(&token);
    assert_eq!(page.text_of("token"), None);
    // Not the harness's merchant's shop: only this merchant's.
    page.assert_hides(app.shop());
    let dashboard = browser.get("/dashboard").await;
    dashboard.assert_html();
    dashboard.assert_shows(&shop_id);
    dashboard.assert_shows("Balance");
    dashboard.assert_hides(&token);
    dashboard.assert_hides(app.shop());
    // The page's id is the shop the API bills to.
    let bill = app
        .create_bill_as(
            &token,
            serde_json::json!({"amount": 100, "shop_id": shop_id}),
        )
        .await;
    assert_eq!(bill.status, 200, "{}", bill.text);
}

#[tokio::test]
async fn refresh_api_token_asks_first_then_shows_the_new_token_once_and_the_old_one_stops() {
    let app = spawn_app().await;
    let SignedUp {
        mut browser, token, ..
    } = signed_up(&app, "owner@shop.test").await;
    let confirm = browser.get("/integration/token").await;
    confirm.assert_html();
    confirm.assert_shows("The current token stops working at once");
    confirm.assert_shows("name=\"confirm\" value=\"yes\"");
    let csrf = confirm.csrf();
    // Without the confirmation: back to the question, nothing changed.
    let page = browser
        .post("/integration/token", &[("csrf", csrf.as_str())])
        .await;
    page.assert_redirect("/integration/token");
    let page = browser
        .post(
            "/integration/token",
            &[("csrf", csrf.as_str()), ("confirm", "no")],
        )
        .await;
    page.assert_redirect("/integration/token");
    assert_eq!(api_status(&app, &token).await, 200);
    let page = browser
        .submit(
            "/integration/token",
            "/integration/token",
            &[("confirm", "yes")],
        )
        .await;
    page.assert_html();
    let new = page.text_of("token").expect("the new token is shown");
    assert_ne!(new, token);
    page.assert_shows("Copy it now");
    assert_eq!(api_status(&app, &token).await, 401, "the old token stops");
    assert_eq!(api_status(&app, &new).await, 200, "the new one works");
    let later = browser.get("/integration").await;
    later.assert_html();
    later.assert_hides(&new);
    assert_eq!(later.text_of("token"), None);
}

#[tokio::test]
async fn shop_urls_are_saved_and_shown_again() {
    let app = spawn_app().await;
    let SignedUp {
        mut browser,
        shop_id,
        ..
    } = signed_up(&app, "owner@shop.test").await;
    let action = format!("/integration/shops/{shop_id}");
    let urls = [
        ("result_url", "https://shop.example.test/paylink/result"),
        (
            "success_url",
            "https://shop.example.test/thanks?order=1&x=2",
        ),
        ("fail_url", "https://shop.example.test/sorry"),
    ];
    let page = browser.submit("/integration", &action, &urls).await;
    page.assert_html();
    page.assert_shows("Saved.");
    let again = browser.get("/integration").await;
    for (name, url) in urls {
        assert_eq!(
            again.input_value(&format!("{name}_{shop_id}")).as_deref(),
            Some(url),
            "{name}"
        );
    }
    assert_eq!(
        stored_urls(&app, &shop_id).await,
        urls.map(|(_, u)| Some(u.to_string()))
    );
}

#[tokio::test]
async fn invalid_shop_urls_are_refused_with_an_error_and_nothing_is_saved() {
    let app = spawn_app().await;
    let SignedUp {
        mut browser,
        shop_id,
        ..
    } = signed_up(&app, "owner@shop.test").await;
    let action = format!("/integration/shops/{shop_id}");
    let good = [
        ("result_url", "https://shop.example.test/result"),
        ("success_url", "https://shop.example.test/ok"),
        ("fail_url", "https://shop.example.test/fail"),
    ];
    browser
        .submit("/integration", &action, &good)
        .await
        .assert_html();
    let saved = stored_urls(&app, &shop_id).await;
    for (field, bad) in [
        ("result_url", "ftp://x"),
        ("result_url", "not a url"),
        ("result_url", "javascript:alert(1)"),
        ("success_url", "ftp://x"),
        ("fail_url", "javascript:alert(1)"),
    ] {
        let fields: Vec<(&str, &str)> = good
            .iter()
            .map(|&(name, url)| {
                if name == field {
                    (name, bad)
                } else {
                    (name, url)
                }
            })
            .collect();
        let page = browser.submit("/integration", &action, &fields).await;
        assert_eq!(page.status, 422, "{field}={bad}: {}", page.text);
        page.assert_shows("role=\"alert\"");
        page.assert_hides("Saved.");
        assert_eq!(stored_urls(&app, &shop_id).await, saved, "{field}={bad}");
        // The page shows what is saved, not what was refused.
        let again = browser.get("/integration").await;
        again.assert_hides(bad);
    }
}

#[tokio::test]
async fn result_url_on_a_private_address_is_refused_unless_private_addresses_are_allowed() {
    // The harness allows private receivers (its receivers run on loopback); a real instance
    // does not.
    let app = spawn_app_with(|s| s.postbacks.allow_private = false).await;
    let SignedUp {
        mut browser,
        shop_id,
        ..
    } = signed_up(&app, "owner@shop.test").await;
    let action = format!("/integration/shops/{shop_id}");
    for url in [
        "http://127.0.0.1/",
        "http://10.0.0.7/postback",
        "http://[::1]:8080/",
    ] {
        let page = browser
            .submit("/integration", &action, &[("result_url", url)])
            .await;
        assert_eq!(page.status, 422, "{url}: {}", page.text);
        page.assert_shows("role=\"alert\"");
        assert_eq!(stored_urls(&app, &shop_id).await[0], None, "{url}");
    }
    let allowed = spawn_app().await;
    let SignedUp {
        mut browser,
        shop_id,
        ..
    } = signed_up(&allowed, "owner@shop.test").await;
    let action = format!("/integration/shops/{shop_id}");
    let page = browser
        .submit(
            "/integration",
            &action,
            &[("result_url", "http://127.0.0.1/")],
        )
        .await;
    page.assert_html();
    assert_eq!(
        stored_urls(&allowed, &shop_id).await[0].as_deref(),
        Some("http://127.0.0.1/")
    );
}

#[tokio::test]
async fn webhook_secret_rotation_asks_first_then_shows_a_new_secret_once() {
    let app = spawn_app().await;
    let SignedUp {
        mut browser,
        shop_id,
        ..
    } = signed_up(&app, "owner@shop.test").await;
    let path = format!("/integration/shops/{shop_id}/webhook-secret");
    let first = sealed_webhook_key(&app, &shop_id).await;
    assert!(first.is_some(), "a shop starts with a webhook key");
    let integration = browser.get("/integration").await;
    integration.assert_shows(&format!("href=\"{path}\""));
    assert_eq!(integration.text_of("webhook-secret"), None);
    let confirm = browser.get(&path).await;
    confirm.assert_html();
    confirm.assert_shows("Postbacks are signed with the new secret from now on.");
    let csrf = confirm.csrf();
    browser
        .post(&path, &[("csrf", csrf.as_str())])
        .await
        .assert_redirect(&path);
    assert_eq!(sealed_webhook_key(&app, &shop_id).await, first, "unchanged");
    let page = browser.submit(&path, &path, &[("confirm", "yes")]).await;
    page.assert_html();
    let secret = page.text_of("webhook-secret").expect("the new secret");
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert!(secret.len() > "whsec_".len() + 16, "{secret}");
    let second = sealed_webhook_key(&app, &shop_id).await;
    assert_ne!(second, first, "the stored key changed");
    let later = browser.get("/integration").await;
    later.assert_hides(&secret);
    assert_eq!(later.text_of("webhook-secret"), None);
    // Each rotation makes another.
    let again = browser.submit(&path, &path, &[("confirm", "yes")]).await;
    let other = again.text_of("webhook-secret").expect("another secret");
    assert_ne!(other, secret);
}

#[tokio::test]
async fn another_merchant_cannot_change_rotate_or_see_a_shop_that_is_not_theirs() {
    let app = spawn_app().await;
    let SignedUp {
        browser: mut a,
        token: a_token,
        shop_id: a_shop,
    } = signed_up(&app, "a@shop.test").await;
    let a_urls = [
        ("result_url", "https://a.example.test/result"),
        ("success_url", "https://a.example.test/ok"),
        ("fail_url", "https://a.example.test/fail"),
    ];
    a.submit(
        "/integration",
        &format!("/integration/shops/{a_shop}"),
        &a_urls,
    )
    .await
    .assert_html();
    let a_saved = stored_urls(&app, &a_shop).await;
    let a_key = sealed_webhook_key(&app, &a_shop).await;
    let SignedUp {
        browser: mut b,
        shop_id: b_shop,
        ..
    } = signed_up(&app, "b@shop.test").await;
    assert_ne!(a_shop, b_shop);
    let csrf = b.get("/integration").await.csrf();
    // A well-formed id of no shop at all, for comparison: a foreign id answers the same.
    let missing = "Zz9Zz9Zz9Z";
    let mut answers = Vec::new();
    for shop in [a_shop.as_str(), missing] {
        let update = b
            .post(
                &format!("/integration/shops/{shop}"),
                &[
                    ("csrf", csrf.as_str()),
                    ("result_url", "https://b.example.test/steal"),
                    ("success_url", "https://b.example.test/ok"),
                    ("fail_url", "https://b.example.test/fail"),
                ],
            )
            .await;
        assert_eq!(update.status, 404, "update {shop}: {}", update.text);
        let confirm = b
            .get(&format!("/integration/shops/{shop}/webhook-secret"))
            .await;
        assert_eq!(confirm.status, 404, "confirm {shop}: {}", confirm.text);
        let rotate = b
            .post(
                &format!("/integration/shops/{shop}/webhook-secret"),
                &[("csrf", csrf.as_str()), ("confirm", "yes")],
            )
            .await;
        assert_eq!(rotate.status, 404, "rotate {shop}: {}", rotate.text);
        assert_eq!(rotate.text_of("webhook-secret"), None);
        answers.push([update.text, confirm.text, rotate.text]);
    }
    assert_eq!(
        answers[0], answers[1],
        "a foreign shop answers like a missing one"
    );
    assert_eq!(stored_urls(&app, &a_shop).await, a_saved);
    assert_eq!(sealed_webhook_key(&app, &a_shop).await, a_key);
    // B's own pages never show A's shop.
    for path in [
        "/dashboard",
        "/integration",
        "/integration/token",
        "/account/password",
    ] {
        let page = b.get(path).await;
        page.assert_html();
        page.assert_hides(&a_shop);
        page.assert_hides("a.example.test");
    }
    assert_eq!(b.get("/integration").await.shop_ids(), vec![b_shop.clone()]);
    // And B's token refresh leaves A's token alone.
    b.submit(
        "/integration/token",
        "/integration/token",
        &[("confirm", "yes")],
    )
    .await
    .assert_html();
    assert_eq!(api_status(&app, &a_token).await, 200);
    // A still sees and manages its own shop.
    let page = a.get("/integration").await;
    assert_eq!(page.shop_ids(), vec![a_shop.clone()]);
    page.assert_hides(&b_shop);
}

#[tokio::test]
async fn a_merchant_creates_a_second_shop_that_takes_bills_at_once() {
    let app = spawn_app().await;
    let mut su = signed_up(&app, "two-shops@merchant.test").await;
    let made = su
        .browser
        .submit(
            "/integration",
            "/integration/shops",
            &[("name", "Second shop"), ("currency", "USD")],
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.text);
    let shops = made.shop_ids();
    assert_eq!(shops.len(), 2, "{}", made.text);
    let second = shops
        .iter()
        .find(|s| **s != su.shop_id)
        .expect("the new shop")
        .clone();
    let secret = made
        .text_of("webhook-secret")
        .expect("its secret, shown once");
    assert!(secret.starts_with("whsec_"), "{secret}");
    // The new shop takes bills with the merchant's token, in its currency.
    let bill = app
        .send(
            reqwest::Method::POST,
            "/api/v1/bill/create",
            Some(&su.token),
            Body::Form(vec![
                ("amount".into(), "10".into()),
                ("shop_id".into(), second.clone()),
            ]),
        )
        .await;
    assert_eq!(bill.status, 200, "{}", bill.text);
    // The secret is not shown again.
    let again = su.browser.get("/integration").await;
    assert!(!again.text.contains(&secret));
    // Without a name nothing is made; without the form token neither.
    let refused = su
        .browser
        .submit(
            "/integration",
            "/integration/shops",
            &[("name", ""), ("currency", "RUB")],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    let forged = su
        .browser
        .post(
            "/integration/shops",
            &[("csrf", "forged"), ("name", "Third"), ("currency", "RUB")],
        )
        .await;
    assert_eq!(forged.status, 403);
    assert_eq!(su.browser.get("/integration").await.shop_ids().len(), 2);
}
