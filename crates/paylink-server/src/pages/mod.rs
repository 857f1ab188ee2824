//! Payer-facing pages, server-rendered and usable without JavaScript: the share page
//! (`/link/{id}`), the payment page (`/transfer/{id}`) with card and SBP checkout, the result
//! and its redirect to the merchant, and the sandbox's issuer (3-D Secure) and bank-app pages.
//! Every payment goes through `checkout`, as the API's does.

mod texts;

use crate::bills::OpError;
use crate::cardlink::postback::signed_redirect;
use crate::checkout::{self, ClientAddr, Sale, Step, Tender};
use crate::keys::token_context;
use crate::state::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use paylink_core::bill::Bill;
use paylink_core::card::CardNumber;
use paylink_core::id::{random_base62, BillId, PaymentId};
use paylink_core::money::{format_fixed, Amount};
use paylink_core::payment::{Payment, PaymentMethod, PaymentStatus};
use paylink_core::time::{format_datetime, Millis};
use paylink_core::DomainError;
use paylink_store::Checkout;
use std::collections::HashMap;
use texts::Texts;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/link/{id}", get(link_page))
        .route("/transfer/{id}", get(transfer_page))
        .route("/transfer/{id}/card", post(pay_by_card))
        .route("/transfer/{id}/sbp/{qrc}", get(sbp_page))
        .route("/transfer/{id}/3ds", post(three_ds_return))
        .route("/transfer/{id}/payments/{payment}", get(result_page))
}

/// The sandbox issuer's 3-D Secure page and bank app, mounted in sandbox mode only.
pub fn sandbox_router() -> Router<AppState> {
    Router::new()
        .route("/sandbox/acs", get(acs_page).post(acs_page))
        .route("/sandbox/acs/answer", post(acs_answer))
        .route("/sandbox/sbp/{id}", get(sbp_bank_page).post(sbp_bank_pay))
}

/// Length of one-time form tokens (base62).
const FORM_TOKEN_LEN: usize = 16;

/// Text fields of a query string or form body; a repeated key keeps its first value.
type Fields = HashMap<String, String>;

fn fields(bytes: &[u8]) -> Fields {
    let mut out = Fields::new();
    for (k, v) in form_urlencoded::parse(bytes) {
        out.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    out
}

fn field<'a>(f: &'a Fields, key: &str) -> &'a str {
    f.get(key).map_or("", |v| v.trim())
}

/// An HTML answer that is never cached, framed or leaks its URL (it holds form tokens).
fn html(status: StatusCode, page: impl Template) -> Response {
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

fn see_other(location: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, location.to_string())],
    )
        .into_response()
}

fn language(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
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

fn message(t: &Texts, status: StatusCode, heading: &str, text: &str) -> Response {
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

fn not_found(t: &Texts) -> Response {
    message(t, StatusCode::NOT_FOUND, t.not_found, t.not_found_text)
}

fn failure(t: &Texts, e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "payer page failed");
    message(
        t,
        StatusCode::INTERNAL_SERVER_ERROR,
        t.unavailable,
        t.error_text,
    )
}

/// The bill behind a page, with its shop and merchant, and the payer's language for it; or the
/// page that says why there is none.
async fn load(
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
async fn made_already(st: &AppState, c: &Checkout, t: &Texts, pid: &PaymentId) -> Option<Response> {
    match st.store.payment(pid).await {
        Ok(Some(_)) => Some(see_other(&result_url(st, &c.bill, pid))),
        Ok(None) => None,
        Err(e) => Some(failure(t, e)),
    }
}

/// Why the bill cannot be paid now, in the payer's words; `None` when it can.
fn unpayable(c: &Checkout, now: Millis, t: &Texts) -> Option<&'static str> {
    Sale::of(c).check(None, now).err().map(|e| why(t, &e))
}

/// A refusal of the domain in the payer's words.
fn why(t: &Texts, e: &DomainError) -> &'static str {
    match e {
        DomainError::BillIsFinished => t.bill_paid,
        DomainError::BillInactive => t.bill_inactive,
        DomainError::BillExpired => t.bill_expired,
        DomainError::ShopNotEnabled => t.shop_disabled,
        DomainError::MerchantBanned => t.merchant_banned,
        DomainError::TooManyFailedAttempts => t.too_many_attempts,
        DomainError::Invalid { field: "MD", .. } => t.session_invalid,
        _ => t.failed_text,
    }
}

fn quote(st: &AppState, c: &Checkout) -> i64 {
    c.bill
        .quote(c.shop.commission.unwrap_or(st.settings.default_commission))
}

fn qr_svg(text: &str) -> String {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => {
            let svg = code
                .render::<qrcode::render::svg::Color>()
                .min_dimensions(220, 220)
                .quiet_zone(true)
                .build();
            // Inline in HTML: drop the XML declaration.
            match svg.find("<svg") {
                Some(at) => svg[at..].to_string(),
                None => svg,
            }
        }
        Err(_) => String::new(),
    }
}

#[derive(Template)]
#[template(path = "link.html")]
struct LinkPage<'a> {
    t: &'a Texts,
    lang: &'a str,
    title: String,
    merchant: String,
    heading: String,
    description: Option<String>,
    amount: String,
    currency: &'a str,
    state: Option<&'a str>,
    qr_svg: String,
    pay_url: String,
}

fn bill_heading(bill: &Bill, t: &Texts) -> String {
    bill.name
        .clone()
        .unwrap_or_else(|| format!("{} {}", t.bill, bill.id))
}

fn merchant_line(c: &Checkout) -> String {
    if c.shop.name == c.merchant_name {
        c.merchant_name.clone()
    } else {
        format!("{} · {}", c.merchant_name, c.shop.name)
    }
}

async fn link_page(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (c, t) = match load(&st, &id, &headers).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let pay_url = format!("{}/transfer/{}", st.settings.public_url, c.bill.id);
    let heading = bill_heading(&c.bill, t);
    html(
        StatusCode::OK,
        LinkPage {
            t,
            lang: t.lang,
            title: heading.clone(),
            merchant: merchant_line(&c),
            heading,
            description: c.bill.description.clone(),
            amount: format_fixed(quote(&st, &c)),
            currency: c.bill.currency.code(),
            state: unpayable(&c, st.now(), t),
            qr_svg: qr_svg(&pay_url),
            pay_url,
        },
    )
}

struct MethodTab {
    code: &'static str,
    label: &'static str,
    href: String,
    active: bool,
}

struct SbpView {
    qr_svg: String,
    bank_url: String,
}

#[derive(Template)]
#[template(path = "transfer.html")]
struct TransferPage<'a> {
    t: &'a Texts,
    lang: &'a str,
    title: String,
    merchant: String,
    heading: String,
    amount: String,
    currency: &'a str,
    methods: Vec<MethodTab>,
    error: Option<&'a str>,
    sbp: Option<SbpView>,
    card_action: String,
    form_token: String,
    holder: String,
}

/// CRC-16/CCITT-FALSE, the checksum an SBP QR link ends with.
fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0xffff;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The SBP QR payload, in the form of a dynamic NSPK link (`type=02`) but pointing at the
/// sandbox bank, which is the bank that pays it here.
fn sbp_payload(st: &AppState, c: &Checkout, qrc: &str) -> String {
    let base = format!(
        "{}/sandbox/sbp/{}?qrc={qrc}&type=02&bank=100000000111&sum={}&cur={}",
        st.settings.public_url,
        c.bill.id,
        quote(st, c),
        c.bill.currency.code()
    );
    let crc = crc16(base.as_bytes());
    format!("{base}&crc={crc:04X}")
}

/// The payment page for `method`; `sbp_qrc` shows the SBP code of that one-time token.
fn transfer(
    st: &AppState,
    c: &Checkout,
    t: &'static Texts,
    method: PaymentMethod,
    sbp_qrc: Option<&str>,
    error: Option<&'static str>,
) -> Response {
    let bill = &c.bill;
    let allowed: Vec<PaymentMethod> = match bill.payment_method {
        Some(m) => vec![m],
        None => vec![PaymentMethod::BankCard, PaymentMethod::Sbp],
    };
    let method = if allowed.contains(&method) {
        method
    } else {
        allowed[0]
    };
    let base = format!("{}/transfer/{}", st.settings.public_url, bill.id);
    let methods = allowed
        .iter()
        .map(|m| MethodTab {
            code: m.as_str(),
            label: match m {
                PaymentMethod::BankCard => t.method_card,
                PaymentMethod::Sbp => t.method_sbp,
            },
            href: format!("{base}?method={}", m.as_str()),
            active: *m == method,
        })
        .collect();
    let fresh = || random_base62(&mut rand::thread_rng(), FORM_TOKEN_LEN);
    let sbp = (method == PaymentMethod::Sbp).then(|| {
        let qrc = sbp_qrc.map_or_else(fresh, str::to_string);
        let payload = sbp_payload(st, c, &qrc);
        SbpView {
            qr_svg: qr_svg(&payload),
            bank_url: payload,
        }
    });
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let heading = bill_heading(bill, t);
    html(
        status,
        TransferPage {
            t,
            lang: t.lang,
            title: heading.clone(),
            merchant: merchant_line(c),
            heading,
            amount: format_fixed(quote(st, c)),
            currency: bill.currency.code(),
            methods,
            error,
            sbp,
            card_action: format!("{base}/card"),
            form_token: fresh(),
            holder: String::new(),
        },
    )
}

/// The page that says why a bill cannot be paid.
fn unpayable_page(c: &Checkout, t: &Texts, why: &str) -> Response {
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

async fn transfer_page(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let (c, t) = match load(&st, &id, &headers).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    if let Some(why) = unpayable(&c, st.now(), t) {
        return unpayable_page(&c, t, why);
    }
    let method = c.bill.payment_method.unwrap_or_else(|| {
        query
            .get("method")
            .and_then(|m| m.parse::<PaymentMethod>().ok())
            .unwrap_or(PaymentMethod::BankCard)
    });
    if method == PaymentMethod::Sbp {
        // Each SBP code is one payment: give this one its own address, which the page
        // refreshes until the payment arrives.
        let qrc = random_base62(&mut rand::thread_rng(), FORM_TOKEN_LEN);
        return see_other(&format!(
            "{}/transfer/{}/sbp/{qrc}",
            st.settings.public_url, c.bill.id
        ));
    }
    transfer(&st, &c, t, method, None, None)
}

/// The payment a one-time token stands for.
fn payment_id(st: &AppState, bill: &Bill, token: &str) -> Option<PaymentId> {
    (token.len() == FORM_TOKEN_LEN && token.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| PaymentId::derive(&st.keys.forms, &[bill.id.as_str(), token]))
}

fn result_url(st: &AppState, bill: &Bill, payment: &PaymentId) -> String {
    format!(
        "{}/transfer/{}/payments/{payment}",
        st.settings.public_url, bill.id
    )
}

async fn sbp_page(
    State(st): State<AppState>,
    Path((id, qrc)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let (c, t) = match load(&st, &id, &headers).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let Some(pid) = payment_id(&st, &c.bill, &qrc) else {
        return not_found(t);
    };
    if let Some(page) = made_already(&st, &c, t, &pid).await {
        return page;
    }
    if let Some(why) = unpayable(&c, st.now(), t) {
        return unpayable_page(&c, t, why);
    }
    transfer(&st, &c, t, PaymentMethod::Sbp, Some(&qrc), None)
}

/// `MM/YY`, `MMYY`, `MM/YYYY`: valid through the end of that month, which must not be past.
fn expiry_ok(text: &str, now: Millis) -> bool {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let (month, year) = match digits.len() {
        4 => (&digits[..2], format!("20{}", &digits[2..])),
        6 => (&digits[..2], digits[2..].to_string()),
        _ => return false,
    };
    let (Ok(month), Ok(year)) = (month.parse::<u32>(), year.parse::<u32>()) else {
        return false;
    };
    let today = format_datetime(now);
    let this_year: u32 = today[..4].parse().unwrap_or(0);
    let this_month: u32 = today[5..7].parse().unwrap_or(0);
    (1..=12).contains(&month) && (year, month) >= (this_year, this_month) && year <= this_year + 20
}

fn cvc_ok(text: &str) -> bool {
    (3..=4).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit())
}

/// The payer sees a refusal of the domain in words, not a code.
fn refused(c: &Checkout, t: &Texts, e: OpError) -> Response {
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
struct AutoPost<'a> {
    t: &'a Texts,
    lang: &'a str,
    title: String,
    heading: String,
    message: String,
    action: String,
    fields: Vec<(String, String)>,
}

/// A page whose form posts itself to `action` (with a button when JavaScript is off).
fn autopost(t: &Texts, heading: &str, action: String, fields: Vec<(String, String)>) -> Response {
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
fn after_step(st: &AppState, c: &Checkout, t: &Texts, step: Step) -> Response {
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

async fn pay_by_card(
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
    let Some(pid) = payment_id(&st, &c.bill, field(&f, "form")) else {
        return transfer(
            &st,
            &c,
            t,
            PaymentMethod::BankCard,
            None,
            Some(t.session_invalid),
        );
    };
    // A twin of a submitted form shows the first one's result (the card fields may be gone).
    if let Some(page) = made_already(&st, &c, t, &pid).await {
        return page;
    }
    let error = match CardNumber::parse(field(&f, "card_number")) {
        None => Err(t.card_invalid),
        Some(_) if !expiry_ok(field(&f, "expiry"), st.now()) => Err(t.expiry_invalid),
        Some(_) if !cvc_ok(field(&f, "cvc")) => Err(t.cvc_invalid),
        Some(card) => Ok(card),
    };
    let card = match error {
        Ok(card) => card,
        Err(why) => return transfer(&st, &c, t, PaymentMethod::BankCard, None, Some(why)),
    };
    match checkout::pay(&st, Sale::of(&c), pid, Tender::Card(card), &client).await {
        Ok(step) => after_step(&st, &c, t, step),
        Err(e) => refused(&c, t, e),
    }
}

async fn three_ds_return(
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
    let (md, pares) = (field(&f, "MD"), field(&f, "PaRes"));
    match checkout::complete(&st, Sale::of(&c), md, pares, &client).await {
        Ok(payment) => see_other(&result_url(&st, &c.bill, &payment.id)),
        Err(e) => refused(&c, t, e),
    }
}

async fn result_page(
    State(st): State<AppState>,
    Path((id, payment)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let (c, t) = match load(&st, &id, &headers).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let found = match PaymentId::parse(&payment) {
        Some(pid) => st.store.payment(&pid).await,
        None => Ok(None),
    };
    let payment = match found {
        Ok(Some(p)) if p.bill_id == c.bill.id => p,
        Ok(_) => return not_found(t),
        Err(e) => return failure(t, e),
    };
    let ok = payment.status.brings_money();
    let (bill, shop) = (&c.bill, &c.shop);
    let target = if ok {
        bill.success_url.as_ref().or(shop.success_url.as_ref())
    } else {
        bill.fail_url.as_ref().or(shop.fail_url.as_ref())
    };
    let token = c.token.as_ref().and_then(|tk| {
        st.keys
            .seal
            .open(tk.sealed.as_deref()?, &token_context(tk.id))
    });
    if let (Some(url), Some(token)) = (target, &token) {
        return autopost(
            t,
            t.redirecting,
            url.clone(),
            signed_redirect(bill, &payment, token.expose()),
        );
    }
    own_result(&st, &c, t, &payment)
}

/// paylink's own result page, for shops without a success or fail URL.
fn own_result(st: &AppState, c: &Checkout, t: &Texts, p: &Payment) -> Response {
    let ok = p.status.brings_money();
    let text = match p.status {
        PaymentStatus::Success => t.paid_text,
        PaymentStatus::Underpaid => t.underpaid_text,
        PaymentStatus::Overpaid => t.overpaid_text,
        _ => t.failed_text,
    };
    let mut details = vec![
        (t.payment_no.to_string(), p.id.to_string()),
        (
            t.amount.to_string(),
            format!("{} {}", format_fixed(p.amount), p.currency.code()),
        ),
    ];
    if !p.from_card.is_empty() {
        details.push((t.card.to_string(), p.from_card.clone()));
    }
    if let Some(reason) = &p.error_message {
        details.push((t.reason.to_string(), reason.clone()));
    }
    let retry = !ok && unpayable(c, st.now(), t).is_none();
    let link = if retry {
        Some((
            format!("{}/transfer/{}", st.settings.public_url, c.bill.id),
            t.try_again.to_string(),
        ))
    } else {
        c.bill
            .return_url
            .clone()
            .map(|u| (u, t.back_to_store.to_string()))
    };
    let heading = if ok { t.paid_heading } else { t.failed_heading };
    html(
        StatusCode::OK,
        MessagePage {
            t,
            lang: t.lang,
            title: heading.to_string(),
            merchant: Some(merchant_line(c)),
            heading: heading.to_string(),
            message: text.to_string(),
            tone: if ok { "good" } else { "bad" },
            details,
            link,
            refresh: None,
        },
    )
}

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

async fn acs_page(
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

async fn acs_answer(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
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

async fn sbp_bank_page(
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

async fn sbp_bank_pay(
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
    let tender = Tender::Sbp {
        amount: Some(amount),
    };
    match checkout::pay(&st, Sale::of(&c), pid, tender, &client).await {
        Ok(step) => after_step(&st, &c, t, step),
        Err(e) => refused(&c, t, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_dates_are_checked_against_this_month() {
        // 2024-05-14.
        let now = 1_715_680_800_000;
        assert!(expiry_ok("05/24", now));
        assert!(expiry_ok("12 / 2030", now));
        assert!(expiry_ok("0125", now));
        assert!(!expiry_ok("04/24", now));
        assert!(!expiry_ok("13/30", now));
        assert!(!expiry_ok("00/30", now));
        assert!(!expiry_ok("1/30", now));
        assert!(!expiry_ok("12/99", now));
    }

    #[test]
    fn crc16_is_ccitt_false() {
        // The standard check value of CRC-16/CCITT-FALSE.
        assert_eq!(crc16(b"123456789"), 0x29B1);
    }
}
