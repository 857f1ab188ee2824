//! The sandbox issuer's 3-D Secure page and the sandbox bank app that pays SBP codes: what a
//! real payer sees at their bank, played by paylink so that checkout works without one.

use crate::client::ClientAddr;
use crate::ops::checkout::{self, Sale, Tender};
use crate::pages::texts::{self, Texts};
use crate::pages::{
    after_step, autopost, field, fields, html, language, load, made_already, merchant_line,
    message, not_found, payment_id, quote, refused, unpayable, unpayable_page,
};
use crate::state::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use paylink_core::id::BillId;
use paylink_core::money::{format_fixed, Amount};
use paylink_store::Checkout;
use std::collections::HashMap;

#[derive(Template)]
#[template(path = "acs.html")]
struct AcsPage<'a> {
    t: &'a Texts,
    lang: &'a str,
    title: String,
    pareq: String,
    md: String,
    term_url: String,
}

/// The sandbox issuer only answers to paylink's own return address: it is not an open
/// redirector.
fn term_url_ok(st: &AppState, url: &str) -> bool {
    url.strip_prefix(&format!("{}/transfer/", st.settings.public_url))
        .and_then(|rest| rest.strip_suffix("/3ds"))
        .is_some_and(|id| BillId::parse(id).is_some())
}

pub(super) async fn acs_page(
    State(st): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let t = texts::choose(st.settings.mode, None, language(&headers));
    let mut f = fields(&body);
    for (k, v) in query {
        f.entry(k).or_insert(v);
    }
    let term_url = field(&f, "TermUrl").to_string();
    if !term_url_ok(&st, &term_url) || field(&f, "PaReq").is_empty() {
        return message(t, StatusCode::BAD_REQUEST, t.unavailable, t.session_invalid);
    }
    html(
        StatusCode::OK,
        AcsPage {
            t,
            lang: t.lang,
            title: t.acs_heading.to_string(),
            pareq: field(&f, "PaReq").to_string(),
            md: field(&f, "MD").to_string(),
            term_url,
        },
    )
}

pub(super) async fn acs_answer(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let t = texts::choose(st.settings.mode, None, language(&headers));
    let f = fields(&body);
    let term_url = field(&f, "TermUrl").to_string();
    if !term_url_ok(&st, &term_url) {
        return message(t, StatusCode::BAD_REQUEST, t.unavailable, t.session_invalid);
    }
    let answer = st
        .sandbox
        .answer(field(&f, "PaReq"), field(&f, "verdict") == "Y");
    autopost(
        t,
        t.redirecting,
        term_url,
        vec![
            ("PaRes".into(), answer),
            ("MD".into(), field(&f, "MD").to_string()),
        ],
    )
}

#[derive(Template)]
#[template(path = "sbp_bank.html")]
struct SbpBankPage<'a> {
    t: &'a Texts,
    lang: &'a str,
    title: String,
    merchant: String,
    bill_name: Option<String>,
    error: Option<&'a str>,
    action: String,
    qrc: String,
    amount: String,
    currency: &'a str,
}

fn sbp_bank(
    st: &AppState,
    c: &Checkout,
    t: &'static Texts,
    qrc: &str,
    amount: String,
    error: Option<&'static str>,
) -> Response {
    html(
        if error.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        },
        SbpBankPage {
            t,
            lang: t.lang,
            title: t.sbp_bank.to_string(),
            merchant: merchant_line(c),
            bill_name: c.bill.name.clone(),
            error,
            action: format!("{}/sandbox/sbp/{}", st.settings.public_url, c.bill.id),
            qrc: qrc.to_string(),
            amount,
            currency: c.bill.currency.code(),
        },
    )
}

pub(super) async fn sbp_bank_page(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let (c, t) = match load(&st, &id, &headers).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let qrc = query.get("qrc").map_or("", |q| q.as_str());
    if payment_id(&st, &c.bill, qrc).is_none() {
        return not_found(t);
    }
    if let Some(why) = unpayable(&c, st.now(), t) {
        return unpayable_page(&c, t, why);
    }
    let sum = query
        .get("sum")
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|s| *s > 0)
        .unwrap_or_else(|| quote(&st, &c));
    sbp_bank(&st, &c, t, qrc, format_fixed(sum), None)
}

pub(super) async fn sbp_bank_pay(
    State(st): State<AppState>,
    Path(id): Path<String>,
    client: ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (c, t) = match load(&st, &id, &headers).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let f = fields(&body);
    let qrc = field(&f, "qrc");
    let Some(pid) = payment_id(&st, &c.bill, qrc) else {
        return not_found(t);
    };
    if let Some(page) = made_already(&st, &c, t, &pid).await {
        return page;
    }
    let Some(amount) = Amount::parse(field(&f, "amount")) else {
        let typed = field(&f, "amount").to_string();
        return sbp_bank(&st, &c, t, qrc, typed, Some(t.amount_invalid));
    };
    // The payer's phone, as the bank knows it (optional in the sandbox's bank app).
    let payer = match field(&f, "phone") {
        "" => None,
        text => match paylink_core::payout::Phone::parse(text) {
            Some(p) => Some(p),
            None => {
                let typed = field(&f, "amount").to_string();
                return sbp_bank(&st, &c, t, qrc, typed, Some(t.phone_invalid));
            }
        },
    };
    let tender = Tender::Sbp {
        amount: Some(amount),
        payer,
    };
    match checkout::pay(&st, Sale::of(&c), pid, tender, &client).await {
        Ok(step) => after_step(&st, &c, t, step),
        Err(e) => refused(&c, t, e),
    }
}
