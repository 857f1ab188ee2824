//! Payer-facing pages, server-rendered and usable without JavaScript: the share page
//! (`/link/{id}`), the payment page (`/transfer/{id}`) with card and SBP checkout, a permanent
//! link's page (`/p/{id}`, amount, quantity and card form in one), the result
//! and its redirect to the merchant, and the sandbox's issuer (3-D Secure) and bank-app pages.
//! Every payment goes through `checkout`, as the API's does.

mod card_secret;
mod link;
pub(crate) mod permanent;
pub(crate) mod qr;
mod result;
pub(crate) mod texts;
mod transfer;

use crate::client::ClientAddr;
use crate::dialects::cardlink::postback::signed_redirect;
use crate::keys::token_context;
use crate::ops::checkout::{self, Sale, Step, Tender};
use crate::ops::OpError;
use crate::state::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use paylink_core::bill::Bill;
use paylink_core::card::{cvc_ok, expiry_ok, CardNumber};
use paylink_core::id::{random_base62, BillId, PaymentId};
use paylink_core::money::format_fixed;
use paylink_core::payment::{Payment, PaymentMethod, PaymentStatus};
use paylink_core::time::Millis;
use paylink_core::DomainError;
use paylink_store::{Checkout, StoreError};
use std::collections::HashMap;
use texts::Texts;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/link/{id}", get(link::link_page))
        .route("/p/{id}", get(permanent::link_page).post(permanent::pay))
        .route("/transfer/{id}", get(transfer::transfer_page))
        .route("/transfer/{id}/card", post(transfer::pay_by_card))
        .route("/transfer/{id}/sbp/{qrc}", get(transfer::sbp_page))
        .route("/transfer/{id}/3ds", post(transfer::three_ds_return))
        .route(
            "/transfer/{id}/payments/{payment}",
            get(result::result_page),
        )
        .route(
            CARD_SECRET_ROUTE,
            get(card_secret::show_form).post(card_secret::reveal),
        )
}

/// The one-time card data page: its path segment is a secret, so logs name the template.
pub const CARD_SECRET_ROUTE: &str = "/card-secret/{token}";

/// Length of one-time form tokens (base62).
pub(crate) const FORM_TOKEN_LEN: usize = 16;

/// Text fields of a query string or form body; a repeated key keeps its first value.
pub(crate) type Fields = HashMap<String, String>;

pub(crate) fn fields(bytes: &[u8]) -> Fields {
    let mut out = Fields::new();
    for (k, v) in form_urlencoded::parse(bytes) {
        out.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    out
}

pub(crate) fn field<'a>(f: &'a Fields, key: &str) -> &'a str {
    f.get(key).map_or("", |v| v.trim())
}

/// The card a payer typed into a card form (number, expiry, CVC), or why it is refused, in the
/// payer's words.
pub(crate) fn card_fields(f: &Fields, now: Millis, t: &Texts) -> Result<CardNumber, &'static str> {
    match CardNumber::parse(field(f, "card_number")) {
        None => Err(t.card_invalid),
        Some(_) if !expiry_ok(field(f, "expiry"), now) => Err(t.expiry_invalid),
        Some(_) if !cvc_ok(field(f, "cvc")) => Err(t.cvc_invalid),
        Some(card) => Ok(card),
    }
}

/// An HTML answer that is never cached, framed or leaks its URL (it holds form tokens).
pub(crate) fn html(status: StatusCode, page: impl Template) -> Response {
    match page.render() {
        Ok(body) => {
            let mut r = (status, body).into_response();
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            // What every page can refuse without hashing its few inline scripts: framing, a
            // <base> that re-points its relative links and forms, and plugins.
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
                ),
            );
            h.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            );
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "page rendering failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response()
        }
    }
}

pub(crate) fn see_other(location: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, location.to_string())],
    )
        .into_response()
}

pub(crate) fn language(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
}

#[derive(Template)]
#[template(path = "message.html")]
pub(crate) struct MessagePage<'a> {
    t: &'a Texts,
    lang: &'a str,
    title: String,
    merchant: Option<String>,
    heading: String,
    message: String,
    /// CSS class of the message: `good`, `bad` or empty.
    tone: &'a str,
    details: Vec<(String, String)>,
    link: Option<(String, String)>,
    refresh: Option<u32>,
}

pub(crate) fn message(t: &Texts, status: StatusCode, heading: &str, text: &str) -> Response {
    html(
        status,
        MessagePage {
            t,
            lang: t.lang,
            title: heading.to_string(),
            merchant: None,
            heading: heading.to_string(),
            message: text.to_string(),
            tone: "bad",
            details: Vec::new(),
            link: None,
            refresh: None,
        },
    )
}

pub(crate) fn not_found(t: &Texts) -> Response {
    message(t, StatusCode::NOT_FOUND, t.not_found, t.not_found_text)
}

/// Whether `route` (a route's template) is one of the payer's pages.
pub(crate) fn serves(route: &str) -> bool {
    ["/link/", "/p/", "/transfer/", "/card-secret/"]
        .iter()
        .any(|p| route.starts_with(p))
}

/// An answer no page wrote (see `app::unanswered`), as a page in the payer's language: past
/// the deadline or a panic, the failure page; an unknown path or method, or a path that does not
/// decode, the page of no such bill; a form that could not be read (over the body limit),
/// the page of a session no longer valid. A card data link's pages say it in their words.
pub(crate) fn unanswered(
    st: &AppState,
    path: &str,
    accept_language: Option<&str>,
    status: StatusCode,
) -> Response {
    let t = texts::choose(st.settings.mode, None, accept_language);
    if path.starts_with("/card-secret/") {
        return card_secret::unanswered(t, status);
    }
    let (heading, text) = match status {
        s if s.is_server_error() => (t.unavailable, t.error_text),
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED | StatusCode::BAD_REQUEST => {
            (t.not_found, t.not_found_text)
        }
        _ => (t.unavailable, t.session_invalid),
    };
    message(t, status, heading, text)
}

pub(crate) fn failure(t: &Texts, e: StoreError) -> Response {
    crate::app::log_storage_failure(&e, "a payer page");
    let status = crate::app::storage_status(&e);
    message(t, status, t.unavailable, t.error_text)
}

/// The bill behind a page, with its shop and merchant, and the payer's language for it; or the
/// page that says why there is none.
pub(crate) async fn load(
    st: &AppState,
    id: &str,
    headers: &HeaderMap,
) -> Result<(Checkout, &'static Texts), Response> {
    let t = texts::choose(st.settings.mode, None, language(headers));
    let Some(id) = BillId::parse(id) else {
        return Err(not_found(t));
    };
    match st.store.checkout(&id).await {
        Ok(Some(c)) => {
            let t = texts::choose(st.settings.mode, c.bill.locale, language(headers));
            Ok((c, t))
        }
        Ok(None) => Err(not_found(t)),
        Err(e) => Err(failure(t, e)),
    }
}

/// The result page of payment `pid` when it exists already (a twin submit, a code paid
/// twice); `None` when it is still to be made.
pub(crate) async fn made_already(
    st: &AppState,
    c: &Checkout,
    t: &Texts,
    pid: &PaymentId,
) -> Option<Response> {
    match st.store.payment(pid).await {
        Ok(Some(_)) => Some(see_other(&result_url(st, &c.bill, pid))),
        Ok(None) => None,
        Err(e) => Some(failure(t, e)),
    }
}

/// Why the bill cannot be paid now, in the payer's words; `None` when it can.
pub(crate) fn unpayable(c: &Checkout, now: Millis, t: &Texts) -> Option<&'static str> {
    Sale::of(c).check(None, now).err().map(|e| why(t, &e))
}

/// A refusal of the domain in the payer's words.
pub(crate) fn why(t: &Texts, e: &DomainError) -> &'static str {
    match e {
        DomainError::BillIsFinished => t.bill_paid,
        DomainError::BillBusy => t.bill_busy,
        DomainError::BillInactive => t.bill_inactive,
        DomainError::BillExpired => t.bill_expired,
        DomainError::ShopNotEnabled => t.shop_disabled,
        DomainError::MerchantBanned => t.merchant_banned,
        DomainError::TooManyFailedAttempts => t.too_many_attempts,
        DomainError::Invalid { field: "MD", .. } => t.session_invalid,
        _ => t.failed_text,
    }
}

pub(crate) fn quote(st: &AppState, c: &Checkout) -> i64 {
    Sale::of(c).quote(st)
}

pub(crate) fn bill_heading(bill: &Bill, t: &Texts) -> String {
    bill.name
        .clone()
        .unwrap_or_else(|| format!("{} {}", t.bill, bill.id))
}

pub(crate) fn merchant_line(c: &Checkout) -> String {
    if c.shop.name == c.merchant_name {
        c.merchant_name.clone()
    } else {
        format!("{} · {}", c.merchant_name, c.shop.name)
    }
}

/// The page that says why a bill cannot be paid.
pub(crate) fn unpayable_page(c: &Checkout, t: &Texts, why: &str) -> Response {
    html(
        StatusCode::OK,
        MessagePage {
            t,
            lang: t.lang,
            title: t.unavailable.to_string(),
            merchant: Some(merchant_line(c)),
            heading: bill_heading(&c.bill, t),
            message: why.to_string(),
            tone: "bad",
            details: vec![(
                t.amount.to_string(),
                format!(
                    "{} {}",
                    format_fixed(c.bill.amount.minor()),
                    c.bill.currency.code()
                ),
            )],
            link: c
                .bill
                .return_url
                .clone()
                .map(|u| (u, t.back_to_store.to_string())),
            refresh: None,
        },
    )
}

/// The payment a one-time token stands for.
pub(crate) fn payment_id(st: &AppState, bill: &Bill, token: &str) -> Option<PaymentId> {
    (token.len() == FORM_TOKEN_LEN && token.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| PaymentId::derive(&st.keys.forms, &[bill.id.as_str(), token]))
}

pub(crate) fn result_url(st: &AppState, bill: &Bill, payment: &PaymentId) -> String {
    format!(
        "{}/transfer/{}/payments/{payment}",
        st.settings.public_url, bill.id
    )
}

/// The payer sees a refusal of the domain in words, not a code.
pub(crate) fn refused(c: &Checkout, t: &Texts, e: OpError) -> Response {
    match e {
        OpError::Domain(d) => {
            let mut page = unpayable_page(c, t, why(t, &d));
            if d == DomainError::TooManyFailedAttempts {
                *page.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            }
            page
        }
        OpError::Store(e) => failure(t, e),
    }
}

#[derive(Template)]
#[template(path = "autopost.html")]
pub(crate) struct AutoPost<'a> {
    t: &'a Texts,
    lang: &'a str,
    title: String,
    heading: String,
    message: String,
    action: String,
    fields: Vec<(String, String)>,
}

/// A page whose form posts itself to `action` (with a button when JavaScript is off).
pub(crate) fn autopost(
    t: &Texts,
    heading: &str,
    action: String,
    fields: Vec<(String, String)>,
) -> Response {
    html(
        StatusCode::OK,
        AutoPost {
            t,
            lang: t.lang,
            title: heading.to_string(),
            heading: heading.to_string(),
            message: String::new(),
            action,
            fields,
        },
    )
}

/// Where a payment attempt leads the payer: the payment's result, or the issuer's challenge.
pub(crate) fn after_step(st: &AppState, c: &Checkout, t: &Texts, step: Step) -> Response {
    match step {
        Step::Paid(payment) => see_other(&result_url(st, &c.bill, &payment.id)),
        Step::Challenge {
            acs_url,
            request,
            state,
        } => autopost(
            t,
            t.to_bank,
            acs_url,
            vec![
                ("PaReq".into(), request),
                ("MD".into(), state),
                (
                    "TermUrl".into(),
                    format!("{}/transfer/{}/3ds", st.settings.public_url, c.bill.id),
                ),
            ],
        ),
    }
}
