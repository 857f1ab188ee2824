//! The audit log in the console: what operators did in the console and with the CLI, who,
//! from where, before and after; filters, pages that neither repeat nor skip, the CSV export
//! (formula-safe), and a table nobody can rewrite.

use super::*;
use paylink_core::ledger::FxRate;
use paylink_core::money::Currency;
use paylink_server::ops::{fx, merchants, sbp_banks};

/// The rows of the audit page: (seq, the row's HTML).
fn rows(page: &Page) -> Vec<(i64, String)> {
    page.assert_html();
    page.text
        .match_indices("<tr class=\"audit-entry\" data-seq=\"")
        .map(|(i, m)| {
            let rest = &page.text[i + m.len()..];
            let seq = rest[..rest.find('"').expect("a seq")]
                .parse()
                .expect("a number");
            let row = &rest[..rest.find("</tr>").expect("a row's end")];
            (seq, row.to_string())
        })
        .collect()
}

/// The link to the next page, if the page has one.
fn next_link(page: &Page) -> Option<String> {
    let at = page.text.find("id=\"next-page\"")?;
    let start = page.text[..at].rfind("href=\"")? + "href=\"".len();
    let end = start + page.text[start..].find('"')?;
    Some(
        page.text[start..end]
            .replace("&#38;", "&")
            .replace("&amp;", "&"),
    )
}

/// A CSV answer's records, fields unquoted (RFC 4180: quoted fields may hold commas, quotes
/// and line breaks).
fn csv_records(page: &Page) -> Vec<Vec<String>> {
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.content_type.starts_with("text/csv"), "{page:?}");
    let (mut records, mut record, mut field) = (Vec::new(), Vec::new(), String::new());
    let mut chars = page.text.chars().peekable();
    let mut quoted = false;
    while let Some(ch) = chars.next() {
        match (quoted, ch) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(field.is_empty() && record.is_empty(), "a last line unended");
    records
}

fn usd_rub(rate: &str) -> (Currency, Currency, FxRate) {
    (
        Currency::Usd,
        Currency::Rub,
        FxRate::parse(rate).expect("a rate"),
    )
}

#[tokio::test]
async fn console_and_cli_actions_show_who_from_where_and_the_change() {
    let app = spawn_app().await;
    let mut b = admin(&app).await;
    // In the console: an operator made through the operators page.
    let made = b
        .submit(
            "/admin/operators",
            "/admin/operators",
            &[("email", "helper@ops.test"), ("role", "support")],
        )
        .await;
    made.assert_html();
    // An operator's action from another address, and the CLI's.
    let from_afar = Actor::operator("admin@ops.test", Role::Admin, "203.0.113.9");
    merchants::set_verified(
        &app.store,
        &from_afar,
        app.merchant.merchant_id.as_str(),
        false,
        app.now(),
    )
    .await
    .expect("unverified");
    let (base, quote, rate) = usd_rub("92.5");
    fx::set_rate(&app.store, &cli(), base, quote, rate, app.now())
        .await
        .expect("a rate");
    let (base, quote, rate) = usd_rub("93");
    fx::set_rate(&app.store, &cli(), base, quote, rate, app.now())
        .await
        .expect("a new rate");

    let page = b.get("/admin/audit").await;
    let rows = rows(&page);
    let row = |action: &str, target: &str| {
        rows.iter()
            .map(|(_, r)| r)
            .find(|r| {
                r.contains(&format!("data-action=\"{action}\""))
                    && r.contains(&format!("<td class=\"target\">{target}</td>"))
            })
            .unwrap_or_else(|| panic!("no {action} on {target} in {}", page.text))
            .clone()
    };
    let created = row("operator.create", "helper@ops.test");
    assert!(
        created.contains("<td class=\"actor\">admin@ops.test</td>"),
        "{created}"
    );
    assert!(created.contains(">admin</span>"), "{created}");
    assert!(
        created.contains("<td class=\"address\">127.0.0.1</td>"),
        "{created}"
    );
    assert!(
        created.contains("<span class=\"after\">role=support</span>"),
        "{created}"
    );
    let verified = row("merchant.unverify", app.merchant.merchant_id.as_str());
    assert!(
        verified.contains("<td class=\"address\">203.0.113.9</td>"),
        "{verified}"
    );
    assert!(
        verified.contains("<span class=\"before\">verified=true</span>")
            && verified.contains("<span class=\"after\">verified=false</span>"),
        "{verified}"
    );
    // The CLI: no address, its own role; the second rate shows the first as before.
    let rates: Vec<&String> = rows
        .iter()
        .map(|(_, r)| r)
        .filter(|r| r.contains("data-action=\"fx.set\""))
        .collect();
    assert_eq!(rates.len(), 2, "{}", page.text);
    assert!(
        rates[0].contains("<td class=\"actor\">cli@test</td>"),
        "{}",
        rates[0]
    );
    assert!(rates[0].contains(">cli</span>"), "{}", rates[0]);
    assert!(
        rates[0].contains("<td class=\"address\">—</td>"),
        "{}",
        rates[0]
    );
    assert!(
        rates[0].contains("<span class=\"before\">92.5</span>")
            && rates[0].contains("<span class=\"after\">93</span>"),
        "{}",
        rates[0]
    );
    // Newest first.
    let seqs: Vec<i64> = rows.iter().map(|(s, _)| *s).collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "{seqs:?}");
    assert!(next_link(&page).is_none(), "one page only");

    // Support reads the log too; without a session, sign in first.
    let mut s = support(&app).await;
    let seen = s.get("/admin/audit").await;
    seen.assert_shows("helper@ops.test");
    let csv = s.get("/admin/audit.csv").await;
    assert!(csv_records(&csv).len() > 4);
    let mut nobody = Browser::new(&app);
    nobody
        .get("/admin/audit")
        .await
        .assert_redirect("/admin/sign-in");
    nobody
        .get("/admin/audit.csv")
        .await
        .assert_redirect("/admin/sign-in");
}

#[tokio::test]
async fn filters_narrow_and_pages_neither_repeat_nor_skip() {
    let app = spawn_app().await;
    let mut b = admin(&app).await;
    let other = Actor::operator("other@ops.test", Role::Admin, "198.51.100.7");
    let cli = cli();
    for i in 1..=130 {
        let who = if i % 2 == 0 { &other } else { &cli };
        let (base, quote, rate) = usd_rub(&format!("{i}.5"));
        fx::set_rate(&app.store, who, base, quote, rate, app.now())
            .await
            .expect("a rate");
    }
    // Two days later (the operation's own clock: the console session stays fresh).
    merchants::set_banned(
        &app.store,
        &other,
        app.merchant.merchant_id.as_str(),
        true,
        app.now() + 2 * 86_400_000,
    )
    .await
    .expect("banned");

    // Every entry, page by page, by the next-page links.
    let everything = app
        .store
        .audit_entries(&paylink_store::AuditFilter::default(), 10_000)
        .await
        .expect("the log");
    assert!(everything.len() > 131, "{}", everything.len());
    let mut seen = Vec::new();
    let mut next = Some("/admin/audit".to_string());
    let mut pages = 0;
    while let Some(path) = next {
        let page = b.get(&path).await;
        let rows = rows(&page);
        assert!(rows.len() <= 100, "{} rows", rows.len());
        seen.extend(rows.into_iter().map(|(seq, _)| seq));
        next = next_link(&page);
        pages += 1;
    }
    assert_eq!(pages, 2);
    let all: Vec<i64> = everything.iter().map(|e| e.seq).collect();
    assert_eq!(seen, all, "every entry once, newest first");

    // Filters, each alone, and the pages of a filter keep it.
    let actor = b.get("/admin/audit?actor=other%40ops.test").await;
    let rows_of = |page: &Page| rows(page).len();
    assert_eq!(rows_of(&actor), 66);
    assert_eq!(
        actor.input_value("f-actor").as_deref(),
        Some("other@ops.test")
    );
    // The harness made the merchant as the CLI does (`merchant.create`); then it was banned.
    let merchant_actions = b.get("/admin/audit?action=merchant.").await;
    assert_eq!(rows_of(&merchant_actions), 2);
    merchant_actions.assert_shows("data-action=\"merchant.ban\"");
    merchant_actions.assert_shows("data-action=\"merchant.create\"");
    let rates = b.get("/admin/audit?action=fx.&target=USD%2FRUB").await;
    assert_eq!(rows_of(&rates), 100);
    let second = next_link(&rates).expect("a second page of rates");
    assert!(
        second.contains("action=fx.") && second.contains("target=USD%2FRUB"),
        "{second}"
    );
    assert_eq!(rows_of(&b.get(&second).await), 30);
    // Days, inclusive, in UTC: the rates were set on the 14th, the ban two days later.
    let day = |q: &str| format!("/admin/audit?{q}");
    assert_eq!(rows_of(&b.get(&day("from=2024-05-16")).await), 1);
    let on_the_14th = b
        .get(&day("from=2024-05-14&to=2024-05-14&action=fx."))
        .await;
    assert_eq!(rows_of(&on_the_14th), 100);
    assert_eq!(rows_of(&b.get(&day("to=2024-05-13")).await), 0);
    b.get(&day("to=2024-05-13"))
        .await
        .assert_shows("id=\"audit-empty\"");
    // What does not parse is said, not guessed, and nothing is listed.
    for bad in ["from=yesterday", "to=2024-13-45", "before=abc", "before=-3"] {
        let page = b.get(&day(bad)).await;
        assert_eq!(page.status, 422, "{bad}: {}", page.text);
        assert!(page.text.contains("id=\"error\""), "{bad}");
        assert!(
            rows(&Page {
                status: 200,
                ..page
            })
            .is_empty(),
            "{bad}"
        );
        assert_eq!(b.get(&format!("/admin/audit.csv?{bad}")).await.status, 422);
    }
    let long = "x".repeat(5_000);
    let page = b.get(&format!("/admin/audit?target={long}")).await;
    assert_eq!(page.status, 200, "an oversized filter narrows nothing");
}

#[tokio::test]
async fn the_csv_holds_every_entry_of_the_filter_and_defuses_formulas() {
    let app = spawn_app().await;
    let mut b = admin(&app).await;
    // Fields an operator controls, as a spreadsheet would read them: a formula.
    let sneaky = Actor::operator("=HYPERLINK(1)", Role::Admin, "+7 10.0.0.1");
    sbp_banks::add(
        &app.store,
        &sneaky,
        100000000999,
        "=cmd",
        "Evil, Inc.",
        44525999,
        app.now(),
    )
    .await
    .expect("a bank");
    for i in 1..=600 {
        let (base, quote, rate) = usd_rub(&format!("{i}"));
        fx::set_rate(&app.store, &cli(), base, quote, rate, app.now())
            .await
            .expect("a rate");
    }
    let all = csv_records(&b.get("/admin/audit.csv").await);
    assert_eq!(
        all[0],
        ["seq", "at", "actor", "role", "address", "action", "target", "before", "after"]
    );
    let entries = &all[1..];
    // More than one chunk of the exporter, each entry once, newest first.
    let everything = app
        .store
        .audit_entries(&paylink_store::AuditFilter::default(), 10_000)
        .await
        .expect("the log");
    let seqs: Vec<String> = everything.iter().map(|e| e.seq.to_string()).collect();
    let exported: Vec<String> = entries.iter().map(|r| r[0].clone()).collect();
    assert_eq!(exported, seqs);
    assert!(entries.iter().all(|r| r.len() == 9), "nine fields each");
    let bank = entries
        .iter()
        .find(|r| r[5] == "sbp_bank.add")
        .expect("the bank's entry");
    assert_eq!(bank[2], "'=HYPERLINK(1)", "{bank:?}");
    assert_eq!(bank[4], "'+7 10.0.0.1", "{bank:?}");
    assert_eq!(bank[6], "100000000999");
    assert!(
        bank[8].contains("\"=cmd\"") && bank[8].contains("Evil, Inc."),
        "{bank:?}"
    );
    assert!(bank[1].starts_with("2024-05-14"), "{bank:?}");
    // The same filter as the page.
    let banks = csv_records(&b.get("/admin/audit.csv?action=sbp_bank.").await);
    assert_eq!(banks.len(), 2, "{banks:?}");
    let page = b.get("/admin/audit?action=sbp_bank.").await;
    page.assert_shows("href=\"/admin/audit.csv?action=sbp_bank.\"");
    // The page shows the text as text.
    let page = b.get("/admin/audit?target=100000000999").await;
    page.assert_shows("=HYPERLINK(1)");
    page.assert_hides("<script");
}

#[tokio::test]
async fn nobody_can_rewrite_or_remove_the_log() {
    let app = spawn_app().await;
    let (base, quote, rate) = usd_rub("90");
    fx::set_rate(&app.store, &cli(), base, quote, rate, app.now())
        .await
        .expect("a rate");
    let before = audited(&app, "USD/RUB").await;
    assert_eq!(before.len(), 1);
    for edit in [
        "UPDATE audit_log SET actor = 'someone else'",
        "UPDATE audit_log SET after_state = '1' WHERE target = 'USD/RUB'",
        "DELETE FROM audit_log",
        "DELETE FROM audit_log WHERE target = 'USD/RUB'",
    ] {
        assert!(
            app.store.execute_raw(edit).await.is_err(),
            "{edit} went through"
        );
    }
    assert_eq!(audited(&app, "USD/RUB").await, before);
}
