//! Console tests: money settings. FX rates set through the console (and their history), the
//! SBP banks dictionary, the money rules (shown, changed at run time, back to the
//! configuration), the ledger check, and support changing nothing.
#![allow(clippy::inconsistent_digit_grouping)]

use super::*;
use paylink_core::ledger::FxRate;
use paylink_core::money::Currency;
use serde_json::json;

/// The member ids `payout/dictionaries/sbp_banks` lists.
async fn dictionary(app: &TestApp) -> Vec<i64> {
    let a = app.get("/api/v1/payout/dictionaries/sbp_banks", &[]).await;
    a.ok()["data"]
        .as_array()
        .expect("a data array")
        .iter()
        .map(|b| b["member_id"].as_i64().expect("a member id"))
        .collect()
}

/// Sets `base`/`quote` to `rate` through the form and its confirmation.
async fn set_rate(b: &mut Browser, base: &str, quote: &str, rate: &str) -> Page {
    let fields = [("base", base), ("quote", quote), ("rate", rate)];
    let ask = b.submit("/admin/money", "/admin/money/fx", &fields).await;
    ask.assert_html();
    assert!(ask.text_of("question").is_some(), "{}", ask.text);
    let csrf = ask.csrf();
    let mut all = vec![("csrf", csrf.as_str()), ("confirm", "yes")];
    all.extend(fields);
    b.post("/admin/money/fx", &all).await
}

#[tokio::test]
async fn a_rate_set_in_the_console_is_in_force_and_its_history_keeps_the_old_one() {
    let app = spawn_app().await;
    let mut b = admin(&app).await;
    set_rate(&mut b, "USD", "RUB", "90")
        .await
        .assert_redirect("/admin/money/fx/USD/RUB?notice=done");
    app.advance_ms(60_000);
    let ask = b
        .submit(
            "/admin/money",
            "/admin/money/fx",
            &[("base", "USD"), ("quote", "RUB"), ("rate", "92.5")],
        )
        .await;
    assert_eq!(
        ask.text_of("question").as_deref(),
        Some("Set 1 USD = 92.5 RUB (now 90)?")
    );
    // Not confirmed: still 90.
    assert_eq!(
        app.store
            .fx_rate(Currency::Usd, Currency::Rub)
            .await
            .unwrap(),
        FxRate::parse("90")
    );
    set_rate(&mut b, "USD", "RUB", "92.5")
        .await
        .assert_redirect("/admin/money/fx/USD/RUB?notice=done");
    assert_eq!(
        app.store
            .fx_rate(Currency::Usd, Currency::Rub)
            .await
            .unwrap(),
        FxRate::parse("92.5")
    );

    let history = b.get("/admin/money/fx/USD/RUB?notice=done").await;
    history.assert_html();
    assert_eq!(
        history.text_of("fx-history-pair").as_deref(),
        Some("USD/RUB")
    );
    let table = &history.text[history.text.find("id=\"fx-history\"").expect("a history")..];
    let (new, old) = (
        table
            .find("<td class=\"rate\">92.5</td>")
            .expect("the new rate"),
        table
            .find("<td class=\"rate\">90</td>")
            .expect("the old rate"),
    );
    assert!(new < old, "newest first");
    let money = b.get("/admin/money").await;
    money.assert_shows("data-pair=\"USD/RUB\"");
    money.assert_shows("<td class=\"rate\">92.5</td>");

    let audit = audited(&app, "USD/RUB").await;
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert_eq!(audit[0].action, "fx.set");
    assert_eq!(audit[0].actor, "admin@ops.test");
    assert_eq!(
        (audit[0].before.as_str(), audit[0].after.as_str()),
        ("90", "92.5")
    );
    assert_eq!(
        (audit[1].before.as_str(), audit[1].after.as_str()),
        ("", "90")
    );
}

#[tokio::test]
async fn a_bad_rate_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let mut b = admin(&app).await;
    let long = "9".repeat(100);
    for (base, quote, rate) in [
        ("USD", "RUB", "abc"),
        ("USD", "RUB", "-1"),
        ("USD", "RUB", "0"),
        ("USD", "RUB", "1.123456789"),
        ("USD", "USD", "1"),
        ("XXX", "RUB", "1"),
        ("USD", "RUB", long.as_str()),
    ] {
        let page = b
            .submit(
                "/admin/money",
                "/admin/money/fx",
                &[
                    ("base", base),
                    ("quote", quote),
                    ("rate", rate),
                    ("confirm", "yes"),
                ],
            )
            .await;
        assert_eq!(page.status, 422, "{rate}: {}", page.text);
        assert!(page.text_of("error").is_some(), "{}", page.text);
    }
    assert_eq!(
        app.store
            .fx_rate(Currency::Usd, Currency::Rub)
            .await
            .unwrap(),
        None
    );
    assert!(audited(&app, "USD/RUB").await.is_empty());
}

#[tokio::test]
async fn a_disabled_sbp_bank_leaves_the_payout_dictionary_and_an_added_one_joins_it() {
    let app = spawn_app().await;
    assert!(dictionary(&app).await.contains(&SBERBANK));
    let mut b = admin(&app).await;
    let action = format!("/admin/money/sbp-banks/{SBERBANK}");
    let ask = b
        .submit("/admin/money", &action, &[("do", "disable")])
        .await;
    ask.assert_html();
    assert!(ask.text_of("question").is_some(), "{}", ask.text);
    assert!(dictionary(&app).await.contains(&SBERBANK), "not yet");
    let csrf = ask.csrf();
    b.post(
        &action,
        &[("csrf", &csrf), ("confirm", "yes"), ("do", "disable")],
    )
    .await
    .assert_redirect("/admin/money?notice=done#sbp-banks");
    assert!(!dictionary(&app).await.contains(&SBERBANK));
    let page = b.get("/admin/money").await;
    page.assert_shows(&format!(
        "data-member=\"{SBERBANK}\" data-enabled=\"false\""
    ));
    let audit = audited(&app, &SBERBANK.to_string()).await;
    assert_eq!(audit[0].action, "sbp_bank.disable");
    assert_eq!(audit[0].actor, "admin@ops.test");

    // Enabling asks nothing.
    b.submit("/admin/money", &action, &[("do", "enable")])
        .await
        .assert_redirect("/admin/money?notice=done#sbp-banks");
    assert!(dictionary(&app).await.contains(&SBERBANK));

    let added: i64 = 100_000_000_999;
    b.submit(
        "/admin/money",
        "/admin/money/sbp-banks",
        &[
            ("member_id", &added.to_string()),
            ("name", "Тестбанк"),
            ("name_en", "Testbank"),
            ("bic", "044525999"),
        ],
    )
    .await
    .assert_redirect("/admin/money?notice=done#sbp-banks");
    assert!(dictionary(&app).await.contains(&added));
    let a = app.get("/api/v1/payout/dictionaries/sbp_banks", &[]).await;
    let bank = a.ok()["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["member_id"] == json!(added))
        .cloned()
        .unwrap();
    assert_eq!(bank["name_en"], json!("Testbank"));
    assert_eq!(
        audited(&app, &added.to_string()).await[0].action,
        "sbp_bank.add"
    );

    // A bank without a name is refused.
    let bad = b
        .submit(
            "/admin/money",
            "/admin/money/sbp-banks",
            &[
                ("member_id", "100000000998"),
                ("name", ""),
                ("name_en", "Nameless"),
                ("bic", "1"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.text);
    assert!(!dictionary(&app).await.contains(&100_000_000_998));
    // An unknown bank is not found.
    let csrf = b.get("/admin/money").await.csrf();
    let unknown = b
        .post(
            "/admin/money/sbp-banks/12345",
            &[("csrf", &csrf), ("do", "enable")],
        )
        .await;
    assert_eq!(unknown.status, 404, "{}", unknown.text);
}

#[tokio::test]
async fn the_ledger_check_runs_from_the_console_and_finds_it_balanced() {
    let app = spawn_app().await;
    app.fund("1000").await;
    app.fund("250").await;
    let mut b = admin(&app).await;
    let report = b
        .submit("/admin/money", "/admin/money/ledger-check", &[])
        .await;
    report.assert_html();
    assert_eq!(report.text_of("ledger-result").as_deref(), Some("balanced"));
    let transactions: i64 = report
        .text_of("ledger-transactions")
        .unwrap()
        .parse()
        .unwrap();
    assert!(transactions >= 2, "{}", report.text);
    assert!(!report.text.contains("id=\"ledger-problems\""));
}

#[tokio::test]
async fn the_configured_rules_are_shown_with_the_keys_that_set_them() {
    let app = spawn_app().await;
    let mut b = admin(&app).await;
    let page = b.get("/admin/money").await;
    page.assert_html();
    for key in [
        "money.settle_after",
        "money.moderation_threshold",
        "money.daily_payout_limit",
        "money.monthly_payout_limit",
        "money.card_payouts",
        "money.sbp_payouts",
        "PAYLINK_MONEY_",
    ] {
        page.assert_shows(key);
    }
    page.assert_shows("data-direction=\"card\"");
    page.assert_shows("data-direction=\"sbp\"");
    page.assert_shows("data-source=\"configuration\"");
    let note = page.text_of("rules-note").expect("a note");
    assert!(note.contains("Back to the configuration"), "{note}");
    // The form holds the configuration's rules.
    assert_eq!(page.input_value("rules-settle-after").as_deref(), Some("0"));
    assert_eq!(page.input_value("rules-card-fee").as_deref(), Some("2.00"));
    assert_eq!(
        page.input_value("rules-card-max").as_deref(),
        Some("150000.00")
    );
    assert_eq!(
        page.input_value("rules-card-currencies").as_deref(),
        Some("RUB")
    );
    assert_eq!(
        page.input_value("rules-daily-limit").as_deref(),
        Some("3000000.00")
    );
    page.assert_hides("id=\"rules-reset\"");
}

#[tokio::test]
async fn support_may_look_at_the_money_settings_but_change_nothing() {
    let app = spawn_app().await;
    let mut s = support(&app).await;
    let page = s.get("/admin/money").await;
    page.assert_html();
    page.assert_hides("id=\"fx-set\"");
    page.assert_hides("id=\"ledger-check\"");
    page.assert_hides("id=\"rules-form\"");
    let csrf = page.csrf();
    let bank = format!("/admin/money/sbp-banks/{SBERBANK}");
    for (action, fields) in [
        (
            "/admin/money/fx",
            vec![("base", "USD"), ("quote", "RUB"), ("rate", "90")],
        ),
        (
            "/admin/money/fx",
            vec![
                ("base", "USD"),
                ("quote", "RUB"),
                ("rate", "90"),
                ("confirm", "yes"),
            ],
        ),
        (
            "/admin/money/sbp-banks",
            vec![
                ("member_id", "100000000999"),
                ("name", "X"),
                ("name_en", "X"),
                ("bic", "1"),
            ],
        ),
        (bank.as_str(), vec![("do", "disable"), ("confirm", "yes")]),
        ("/admin/money/ledger-check", vec![]),
        (
            "/admin/money/rules",
            vec![("settle_after", "0"), ("card_fee", "5")],
        ),
        (
            "/admin/money/rules",
            vec![("settle_after", "0"), ("card_fee", "5"), ("confirm", "yes")],
        ),
        ("/admin/money/rules/reset", vec![]),
        ("/admin/money/rules/reset", vec![("confirm", "yes")]),
    ] {
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend(fields);
        let refused = s.post(action, &all).await;
        assert_eq!(refused.status, 403, "{action}: {}", refused.text);
    }
    assert_eq!(
        app.store
            .fx_rate(Currency::Usd, Currency::Rub)
            .await
            .unwrap(),
        None
    );
    assert!(dictionary(&app).await.contains(&SBERBANK));
    assert!(!dictionary(&app).await.contains(&100_000_000_999));
    assert!(audited(&app, "money_rules").await.is_empty());
}

#[tokio::test]
async fn support_cannot_change_the_money_rules_even_with_a_whole_form() {
    let app = spawn_app().await;
    let mut a = admin(&app).await;
    let fields = with(&rules_fields(&mut a).await, &[("card_fee", "9")]);
    let mut s = support(&app).await;
    let csrf = s.get("/admin/money").await.csrf();
    for confirm in ["", "yes"] {
        let mut all: Vec<(&str, &str)> = vec![("csrf", &csrf), ("confirm", confirm)];
        all.extend(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let refused = s.post("/admin/money/rules", &all).await;
        assert_eq!(refused.status, 403, "{}", refused.text);
    }
    assert!(audited(&app, "money_rules").await.is_empty());
    let page = s.get("/admin/money").await;
    page.assert_shows("data-source=\"configuration\"");
    page.assert_shows("<td class=\"fee\">2.00% + 50.00 RUB</td>");
}

/// The rules form's text inputs: the posted name and the input's id.
const RULE_INPUTS: [(&str, &str); 14] = [
    ("settle_after", "rules-settle-after"),
    ("card_currencies", "rules-card-currencies"),
    ("card_min", "rules-card-min"),
    ("card_max", "rules-card-max"),
    ("card_fee", "rules-card-fee"),
    ("card_fee_fixed", "rules-card-fee-fixed"),
    ("sbp_currencies", "rules-sbp-currencies"),
    ("sbp_min", "rules-sbp-min"),
    ("sbp_max", "rules-sbp-max"),
    ("sbp_fee", "rules-sbp-fee"),
    ("sbp_fee_fixed", "rules-sbp-fee-fixed"),
    ("moderation_threshold", "rules-moderation-threshold"),
    ("daily_limit", "rules-daily-limit"),
    ("monthly_limit", "rules-monthly-limit"),
];

/// Whether the checkbox with `id` is checked on `page`.
fn checked(page: &Page, id: &str) -> bool {
    let at = page
        .text
        .find(&format!("id=\"{id}\""))
        .expect("the checkbox");
    let end = at + page.text[at..].find('>').expect("its tag ends");
    page.text[at..end].contains(" checked")
}

/// The rules form as the money page fills it, as a browser would post it untouched.
async fn rules_fields(b: &mut Browser) -> Vec<(String, String)> {
    let page = b.get("/admin/money").await;
    page.assert_html();
    let mut out: Vec<(String, String)> = RULE_INPUTS
        .iter()
        .map(|(name, id)| {
            let value = page
                .input_value(id)
                .unwrap_or_else(|| panic!("no {id}: {}", page.text));
            (name.to_string(), value)
        })
        .collect();
    for p in ["card", "sbp"] {
        if checked(&page, &format!("rules-{p}-enabled")) {
            out.push((format!("{p}_enabled"), "yes".to_string()));
        }
    }
    out
}

/// `fields` with `changes` typed over them.
fn with(fields: &[(String, String)], changes: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out = fields.to_vec();
    for (name, value) in changes {
        match out.iter_mut().find(|(n, _)| n == name) {
            Some(f) => f.1 = value.to_string(),
            None => out.push((name.to_string(), value.to_string())),
        }
    }
    out
}

/// Submits the rules form with `fields`; answers the confirm question and the confirmed
/// answer.
async fn save_rules(b: &mut Browser, fields: &[(String, String)]) -> (String, Page) {
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let ask = b.submit("/admin/money", "/admin/money/rules", &refs).await;
    ask.assert_html();
    let question = ask
        .text_of("question")
        .unwrap_or_else(|| panic!("a question: {}", ask.text));
    let csrf = ask.csrf();
    let mut all = vec![("csrf", csrf.as_str()), ("confirm", "yes")];
    all.extend(refs);
    (question, b.post("/admin/money/rules", &all).await)
}

#[tokio::test]
async fn rules_saved_in_the_console_price_and_split_the_next_payout_until_reset() {
    let app = spawn_app().await;
    app.set_profile(&app.merchant.merchant_id, open_profile())
        .await;
    app.fund("5000").await; // 4825.00 available
    let mut b = admin(&app).await;
    let fields = with(
        &rules_fields(&mut b).await,
        &[("card_fee", "2.5"), ("card_max", "500")],
    );
    let (question, saved) = save_rules(&mut b, &fields).await;
    assert!(
        question.contains("card fee 2.00% \u{2192} 2.50%"),
        "{question}"
    );
    assert!(
        question.contains("card max 150000.00 RUB \u{2192} 500.00 RUB"),
        "{question}"
    );
    assert!(!question.contains("SBP"), "only what changed: {question}");
    saved.assert_redirect("/admin/money?notice=done#rules");

    let page = b.get("/admin/money?notice=done").await;
    page.assert_shows("data-source=\"console\"");
    assert!(page.text_of("notice").is_some(), "{}", page.text);
    assert_eq!(page.input_value("rules-card-fee").as_deref(), Some("2.50"));
    assert_eq!(
        page.input_value("rules-card-max").as_deref(),
        Some("500.00")
    );
    page.assert_shows("<td class=\"fee\">2.50% + 50.00 RUB</td>");

    // 1000 RUB in two parts of 500, each charged 2.5% + 50.
    let parts = created(&app.regular_payout(card("1000", CARD_OK)).await);
    assert_eq!(parts.len(), 2, "{parts:?}");
    for p in &parts {
        assert_eq!(number(&p["amount"]), 500_00, "{p}");
        assert_eq!(number(&p["commission"]), 62_50, "{p}");
    }
    assert_eq!(app.balance().await.available, 4825_00 - 1000_00 - 125_00);

    let audit = audited(&app, "money_rules").await;
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].action, "money.rules");
    assert_eq!(audit[0].actor, "admin@ops.test");
    for line in ["card.max = 15000000", "card.fee_bps = 200"] {
        assert!(audit[0].before.contains(line), "{}", audit[0].before);
    }
    for line in ["card.max = 50000", "card.fee_bps = 250"] {
        assert!(audit[0].after.contains(line), "{}", audit[0].after);
    }
    assert!(!audit[0].after.contains("sbp"), "{}", audit[0].after);

    // Back to the configuration: one 100 RUB payout at 2% + 50.
    let ask = b
        .submit("/admin/money", "/admin/money/rules/reset", &[])
        .await;
    let question = ask.text_of("question").expect("a question");
    assert!(
        question.contains("card fee 2.50% \u{2192} 2.00%"),
        "{question}"
    );
    let csrf = ask.csrf();
    assert_eq!(audited(&app, "money_rules").await.len(), 1, "not yet");
    b.post(
        "/admin/money/rules/reset",
        &[("csrf", &csrf), ("confirm", "yes")],
    )
    .await
    .assert_redirect("/admin/money?notice=done#rules");
    let page = b.get("/admin/money").await;
    page.assert_shows("data-source=\"configuration\"");
    assert_eq!(page.input_value("rules-card-fee").as_deref(), Some("2.00"));
    let parts = created(&app.regular_payout(card("1000", CARD_OK)).await);
    assert_eq!(parts.len(), 1, "{parts:?}");
    assert_eq!(number(&parts[0]["commission"]), 70_00);
    let audit = audited(&app, "money_rules").await;
    assert_eq!(audit[0].action, "money.rules_reset");
    assert!(audit[0].after.contains("card.fee_bps = 200"), "{audit:?}");
    app.assert_ledger_ok().await;
}

#[tokio::test]
async fn a_settle_delay_saved_as_zero_makes_new_money_available_at_once() {
    let app = spawn_app_with(|s| s.money.settle_after = std::time::Duration::from_secs(3600)).await;
    let held = app.fund("1000").await;
    let before = app.balance().await;
    assert_eq!((before.available, before.hold), (0, held), "{before:?}");

    let mut b = admin(&app).await;
    let page = b.get("/admin/money").await;
    assert_eq!(
        page.input_value("rules-settle-after").as_deref(),
        Some("1h")
    );
    let fields = with(&rules_fields(&mut b).await, &[("settle_after", "0")]);
    let (question, saved) = save_rules(&mut b, &fields).await;
    assert!(
        question.contains("settle delay 1h \u{2192} 0"),
        "{question}"
    );
    saved.assert_redirect("/admin/money?notice=done#rules");

    let received = app.fund("500").await;
    let after = app
        .wait_balance(app.token(), |b| b.available >= received)
        .await;
    assert!(after.available >= received, "{after:?}");
    let page = b.get("/admin/money").await;
    assert_eq!(page.input_value("rules-settle-after").as_deref(), Some("0"));
    page.assert_shows("<td class=\"value\">0</td>");
}

#[tokio::test]
async fn bad_rules_are_refused_with_the_field_named_and_nothing_is_saved() {
    let app = spawn_app().await;
    let mut b = admin(&app).await;
    let form = rules_fields(&mut b).await;
    for (field, value, id, named) in [
        (
            "card_min",
            "200000",
            "rules-card-min",
            "Card payouts · Minimum",
        ),
        ("card_fee", "150", "rules-card-fee", "Card payouts · Fee, %"),
        ("sbp_fee", "100", "rules-sbp-fee", "SBP payouts · Fee, %"),
        (
            "card_currencies",
            "RUB, XXX",
            "rules-card-currencies",
            "Card payouts · Currencies",
        ),
        (
            "sbp_currencies",
            "",
            "rules-sbp-currencies",
            "SBP payouts · Currencies",
        ),
        (
            "daily_limit",
            "abc",
            "rules-daily-limit",
            "Daily payout limit",
        ),
        ("settle_after", "3w", "rules-settle-after", "Settle delay"),
        ("settle_after", "91d", "rules-settle-after", "Settle delay"),
        (
            "card_fee_fixed",
            "-5",
            "rules-card-fee-fixed",
            "Card payouts · Fixed fee",
        ),
    ] {
        let mut fields = with(&form, &[(field, value)]);
        fields.push(("confirm".to_string(), "yes".to_string()));
        let refs: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let page = b.submit("/admin/money", "/admin/money/rules", &refs).await;
        assert_eq!(page.status, 422, "{field}={value}: {}", page.text);
        let error = page.text_of("error").expect("an error");
        assert!(error.starts_with(named), "{field}: {error}");
        page.assert_shows(&format!("data-invalid=\"{field}\""));
        assert_eq!(page.input_value(id).as_deref(), Some(value), "kept");
    }
    assert!(audited(&app, "money_rules").await.is_empty());
    let page = b.get("/admin/money").await;
    page.assert_shows("data-source=\"configuration\"");
    assert_eq!(page.input_value("rules-card-fee").as_deref(), Some("2.00"));
}

/// Two admins edit the rules from the same page: the first save is taken, the second is told
/// the rules changed meanwhile instead of silently undoing the first.
#[tokio::test]
async fn of_two_admins_saving_rules_from_one_page_the_second_is_told() {
    let app = spawn_app().await;
    let mut first = super::operator(&app, "first@ops.test", Role::Admin).await;
    let mut second = super::operator(&app, "second@ops.test", Role::Admin).await;
    let (p1, p2) = (
        first.get("/admin/money").await,
        second.get("/admin/money").await,
    );
    let version = p1
        .input_value("rules-version")
        .expect("the form names its rules");
    assert_eq!(p2.input_value("rules-version"), Some(version.clone()));
    let save = |csrf: String, fee: &'static str| {
        let mut fields: Vec<(&str, String)> = super::roles::rules_fields()
            .into_iter()
            .map(|(k, v)| (k, v.to_string()))
            .collect();
        fields.retain(|(k, _)| *k != "card_fee");
        fields.push(("card_fee", fee.to_string()));
        fields.push(("csrf", csrf));
        fields.push(("confirm", "yes".into()));
        fields.push(("rules_version", version.clone()));
        fields
    };
    let a = save(p1.csrf(), "3");
    let pairs: Vec<(&str, &str)> = a.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let taken = first.post("/admin/money/rules", &pairs).await;
    assert_eq!(taken.status, 303, "{}", taken.text);
    let b = save(p2.csrf(), "4");
    let pairs: Vec<(&str, &str)> = b.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let told = second.post("/admin/money/rules", &pairs).await;
    assert_eq!(told.status, 409, "{}", told.text);
    told.assert_shows("Someone else changed this meanwhile");
    let rules = first.get("/admin/money").await;
    assert_eq!(
        rules.input_value("rules-card-fee").as_deref(),
        Some("3.00"),
        "the first save stands"
    );
    let saves: Vec<String> = super::audited(&app, "money_rules")
        .await
        .into_iter()
        .map(|e| e.actor)
        .collect();
    assert_eq!(saves, ["first@ops.test"]);
}
