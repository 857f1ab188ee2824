//! The merchant's bills and payments: lists newest first in keyset pages (fast at any size:
//! each page is one index range), a filter by order id, bill creation, a payment's detail with
//! its postbacks and a refund, and CSV exports of the lists with the same filter, streamed page
//! by page.

use super::once::{self, Outcome};
use super::{page, refusal_text, to_sign_in, Chrome, Visitor};
use crate::ops::idempotency::{NoSeal, Seal};
use crate::ops::{bills, merchants, refunds, OpError};
use crate::pages::field;
use crate::state::AppState;
use crate::web::SignedForm;
use askama::Template;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use paylink_core::bill::{Bill, NewBill};
use paylink_core::id::{MerchantId, PaymentId};
use paylink_core::money::{format_fixed, Amount};
use paylink_core::payment::Payment;
use paylink_core::refund::Refund;
use paylink_core::text::has_control;
use paylink_core::time::{format_datetime, parse_filter_date, DayEdge};
use paylink_core::DomainError;
use paylink_store::{BillFilter, Direction, Keyset, Page, PageRequest, PaymentFilter};
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Rows per page of a list.
const PER_PAGE: u32 = 50;
/// Rows per query of an export.
const EXPORT_CHUNK: u32 = 500;

/// `?cursor=<created_at>.<id>`: the page after that row.
fn cursor(q: &HashMap<String, String>) -> Option<(Keyset, Direction)> {
    Some((Keyset::parse(q.get("cursor")?)?, Direction::Next))
}

/// A list's filter as the URL carries it: the order id and a range of days (`YYYY-MM-DD`, UTC,
/// both ends included). Kept on the "Older" link and the export link.
#[derive(Clone, Default)]
struct ListFilter {
    order: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

impl ListFilter {
    fn of(q: &HashMap<String, String>) -> ListFilter {
        let day = |name: &str| {
            q.get(name)
                .map(|d| d.trim().to_string())
                .filter(|d| d.len() == 10 && parse_filter_date(d, DayEdge::Start).is_some())
        };
        ListFilter {
            order: q
                .get("order_id")
                .map(|o| o.trim().to_string())
                .filter(|o| !o.is_empty() && o.chars().count() <= 255 && !has_control(o)),
            from: day("from"),
            to: day("to"),
        }
    }

    fn start_ms(&self) -> Option<i64> {
        self.from
            .as_deref()
            .and_then(|d| parse_filter_date(d, DayEdge::Start))
    }

    fn end_ms(&self) -> Option<i64> {
        self.to
            .as_deref()
            .and_then(|d| parse_filter_date(d, DayEdge::End))
    }

    fn pairs(&self) -> form_urlencoded::Serializer<'static, String> {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("order_id", &self.order),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if let Some(v) = v {
                q.append_pair(k, v);
            }
        }
        q
    }

    /// `?order_id=...&from=...` (or nothing), for the export link.
    fn query(&self) -> String {
        let q = self.pairs().finish();
        if q.is_empty() {
            q
        } else {
            format!("?{q}")
        }
    }

    /// The link to the page after `(created_at, id)`, keeping the filter.
    fn next_link(&self, path: &str, created_at: i64, id: &str) -> String {
        let mut q = self.pairs();
        q.append_pair("cursor", &Keyset::of(created_at, id).to_string());
        format!("{path}?{}", q.finish())
    }
}

struct BillRow {
    /// Whether the bill may be switched on or off (a finished NORMAL bill may not).
    toggle: bool,
    active: bool,
    id: String,
    created: String,
    amount: String,
    status: &'static str,
    order_id: String,
    description: String,
    link: String,
}

#[derive(Template)]
#[template(path = "web_bills.html")]
struct BillsPage {
    c: Chrome,
    title: &'static str,
    error: Option<&'static str>,
    notice: Option<&'static str>,
    /// Id and name of each shop (the create form's choice).
    shops: Vec<(String, String)>,
    /// The create form's one-time token (see [`once`]).
    form: String,
    order_id: String,
    from: String,
    to: String,
    currencies: Vec<&'static str>,
    rows: Vec<BillRow>,
    next: Option<String>,
    /// The filter, for the export link.
    query: String,
}

async fn bills_page(
    st: &AppState,
    v: &Visitor,
    merchant: &MerchantId,
    q: &HashMap<String, String>,
    status: StatusCode,
    error: Option<&'static str>,
    notice: Option<&'static str>,
) -> Response {
    let lf = ListFilter::of(q);
    let filter = BillFilter {
        order_id: lf.order.clone(),
        from: lf.start_ms(),
        to: lf.end_ms(),
        ..BillFilter::default()
    };
    let request = PageRequest {
        from: cursor(q),
        limit: PER_PAGE,
    };
    let loaded = async {
        let shops = merchants::shops(&st.store, merchant).await?;
        let page = st.store.search_bills(merchant, &filter, &request).await?;
        Ok::<_, OpError>((shops, page))
    }
    .await;
    let (shops, found) = match loaded {
        Ok(x) => x,
        Err(e) => return failed(v, &e),
    };
    let next = found.next(|b| lf.next_link("/bills", b.created_at, b.id.as_str()));
    let public = &st.settings.public_url;
    let c = Chrome::of(st, v);
    let title = c.t.bills;
    page(
        v,
        status,
        BillsPage {
            c,
            title,
            error,
            notice,
            shops: shops
                .iter()
                .map(|s| (s.id.to_string(), s.name.clone()))
                .collect(),
            form: once::fresh(),
            order_id: lf.order.clone().unwrap_or_default(),
            from: lf.from.clone().unwrap_or_default(),
            to: lf.to.clone().unwrap_or_default(),
            currencies: paylink_core::money::Currency::ALL
                .iter()
                .map(|c| c.code())
                .collect(),
            rows: found
                .items
                .iter()
                .map(|b| BillRow {
                    toggle: !b.is_finished(),
                    active: b.active,
                    id: b.id.to_string(),
                    created: format_datetime(b.created_at),
                    amount: format!("{} {}", format_fixed(b.amount.minor()), b.currency),
                    status: b.status.as_str(),
                    order_id: b.order_id.clone().unwrap_or_default(),
                    description: b.description.clone().unwrap_or_default(),
                    // The share page: the link and its QR code.
                    link: format!("{public}/link/{}", b.id),
                })
                .collect(),
            next,
            query: lf.query(),
        },
    )
}

fn failed(v: &Visitor, e: &OpError) -> Response {
    let status = match e {
        OpError::Domain(
            DomainError::PaymentNotFound | DomainError::BillNotFound | DomainError::ShopNotFound,
        ) => StatusCode::NOT_FOUND,
        OpError::Domain(_) => StatusCode::UNPROCESSABLE_ENTITY,
        OpError::Store(s) => crate::app::storage_status(s),
    };
    v.finish((status, refusal_text(v.t, e)).into_response())
}

pub async fn bills(
    State(st): State<AppState>,
    v: Visitor,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(merchant) = v.merchant() else {
        return to_sign_in(&v);
    };
    let notice = (q.get("notice").map(String::as_str) == Some(BILL_MADE)).then_some(v.t.saved);
    bills_page(&st, &v, &merchant, &q, StatusCode::OK, None, notice).await
}

/// `?notice=` after the create form: the bill is made.
const BILL_MADE: &str = "bill_made";

/// The form's fields that make a bill (what a second submit of the form is compared by).
const BILL_FIELDS: [&str; 14] = [
    "amount",
    "shop_id",
    "description",
    "order_id",
    "name",
    "custom",
    "payer_email",
    "success_url",
    "fail_url",
    "type",
    "currency",
    "payment_method",
    "ttl",
    "payer_pays_commission",
];

/// A bill from the create form: amount, shop, description, order id. Once per form (see
/// [`once`]): made, the list shows it (303: reloading the list sends nothing).
pub async fn create_bill(State(st): State<AppState>, form: SignedForm) -> Response {
    let SignedForm {
        v,
        merchant: merchant_id,
        f,
    } = form;
    let none = HashMap::new();
    let refused = |status, text| bills_page(&st, &v, &merchant_id, &none, status, Some(text), None);
    let Some(amount) = Amount::parse_written(field(&f, "amount")) else {
        return refused(StatusCode::UNPROCESSABLE_ENTITY, v.t.amount_invalid).await;
    };
    let text = |name: &str| Some(field(&f, name).to_string()).filter(|s| !s.is_empty());
    // The API's options, each refused as the API refuses it.
    let parsed = |name: &'static str| DomainError::Invalid {
        field: name,
        kind: paylink_core::error::Rule::Unknown,
    };
    let options = (|| {
        Ok::<_, DomainError>(NewBill {
            amount: Some(amount),
            description: text("description"),
            order_id: text("order_id"),
            name: text("name"),
            custom: text("custom"),
            payer_email: text("payer_email"),
            success_url: text("success_url"),
            fail_url: text("fail_url"),
            bill_type: text("type")
                .map(|t| t.parse().map_err(|_| parsed("type")))
                .transpose()?,
            currency: text("currency")
                .map(|c| c.parse().map_err(|_| parsed("currency")))
                .transpose()?,
            payment_method: text("payment_method")
                .map(|m| m.parse().map_err(|_| parsed("payment_method")))
                .transpose()?,
            ttl_secs: text("ttl")
                .map(|t| t.parse::<i64>().map_err(|_| parsed("ttl")))
                .transpose()?,
            payer_pays_commission: field(&f, "payer_pays_commission") == "1",
            ..NewBill::default()
        })
    })();
    let new = match options {
        Ok(new) => new,
        Err(e) => {
            let e = OpError::from(e);
            return refused(StatusCode::UNPROCESSABLE_ENTITY, refusal_text(v.t, &e)).await;
        }
    };
    let run = {
        let (st, merchant_id, shop_id) = (
            st.clone(),
            merchant_id.clone(),
            field(&f, "shop_id").to_string(),
        );
        move |seal: Arc<dyn Seal<Bill>>, made: Option<String>| async move {
            if made.is_some() {
                // Bills are answered with their effect: an earlier submit's bill is in the
                // stored answer, never only bound.
                return Err(DomainError::BillNotFound.into());
            }
            let shop = merchants::own_shop(&st.store, &merchant_id, &shop_id).await?;
            let merchant = st
                .store
                .merchant(&merchant_id)
                .await?
                .ok_or(DomainError::MerchantNotFound)?;
            bills::create(&st, &merchant, Some(shop), new, seal.as_ref()).await
        }
    };
    let done = |_: &Bill| format!("/bills?notice={BILL_MADE}");
    let values: Vec<&str> = BILL_FIELDS.iter().map(|name| field(&f, name)).collect();
    let outcome = once::once(&st, &merchant_id, "bill", &f, &values, done, run).await;
    once::answer(outcome, &v, |e| refusal_text(v.t, e), refused).await
}

/// Switches a bill on or off (the list's button).
pub async fn set_bill_active(
    State(st): State<AppState>,
    Path(id): Path<String>,
    form: SignedForm,
) -> Response {
    let SignedForm { v, merchant, f } = form;
    let active = field(&f, "active") == "1";
    let done = async {
        let id = paylink_core::id::BillId::parse(&id).ok_or(DomainError::BillNotFound)?;
        let bill = st
            .store
            .merchant_bill(&merchant, &id)
            .await?
            .ok_or(DomainError::BillNotFound)?;
        bills::toggle(&st, bill, active, &NoSeal).await
    }
    .await;
    let none = HashMap::new();
    match done {
        Ok(_) => {
            bills_page(
                &st,
                &v,
                &merchant,
                &none,
                StatusCode::OK,
                None,
                Some(v.t.saved),
            )
            .await
        }
        Err(e @ OpError::Domain(DomainError::BillNotFound)) => failed(&v, &e),
        Err(e) => {
            let text = refusal_text(v.t, &e);
            bills_page(
                &st,
                &v,
                &merchant,
                &none,
                super::status_of(&e, StatusCode::UNPROCESSABLE_ENTITY),
                Some(text),
                None,
            )
            .await
        }
    }
}

struct PostbackRow {
    id: String,
    created: String,
    subject: String,
    url: String,
    state: &'static str,
    attempts: i64,
    last_status: String,
}

#[derive(Template)]
#[template(path = "web_postbacks.html")]
struct PostbacksPage {
    c: Chrome,
    title: &'static str,
    notice: Option<&'static str>,
    error: Option<&'static str>,
    rows: Vec<PostbackRow>,
    next: Option<String>,
}

async fn postbacks_page(
    st: &AppState,
    v: &Visitor,
    merchant: &MerchantId,
    q: &HashMap<String, String>,
    status: StatusCode,
    notice: Option<&'static str>,
    error: Option<&'static str>,
) -> Response {
    let before = cursor(q).map(|(k, _)| (k.created_at, k.id));
    let limit = i64::from(PER_PAGE);
    let list = match st
        .store
        .notices_of_merchant(merchant, before, limit + 1)
        .await
    {
        Ok(l) => Page::of(l, PER_PAGE as usize),
        Err(e) => return failed(v, &e.into()),
    };
    let next = list
        .next(|n| ListFilter::default().next_link("/postbacks", n.notice.created_at, &n.notice.id));
    let list = list.items;
    let c = Chrome::of(st, v);
    let title = c.t.postbacks;
    page(
        v,
        status,
        PostbacksPage {
            c,
            title,
            notice,
            error,
            rows: list
                .iter()
                .map(|n| PostbackRow {
                    id: n.notice.id.clone(),
                    created: format_datetime(n.notice.created_at),
                    subject: n.notice.subject_id.clone(),
                    url: n.notice.url.clone(),
                    state: n.state.as_str(),
                    attempts: n.total_attempts,
                    last_status: n.last_status.map(|s| s.to_string()).unwrap_or_default(),
                })
                .collect(),
            next,
        },
    )
}

/// The merchant's postbacks, newest first, each with its delivery state and a redeliver button.
pub async fn postbacks(
    State(st): State<AppState>,
    v: Visitor,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(merchant) = v.merchant() else {
        return to_sign_in(&v);
    };
    postbacks_page(&st, &v, &merchant, &q, StatusCode::OK, None, None).await
}

pub async fn redeliver(
    State(st): State<AppState>,
    Path(id): Path<String>,
    form: SignedForm,
) -> Response {
    let SignedForm { v, merchant, f: _ } = form;
    let none = HashMap::new();
    match merchants::redeliver_own(&st.store, &merchant, &id, st.now()).await {
        Ok(()) => {
            postbacks_page(
                &st,
                &v,
                &merchant,
                &none,
                StatusCode::OK,
                Some(v.t.redelivered),
                None,
            )
            .await
        }
        Err(e @ OpError::Domain(DomainError::PaymentNotFound)) => failed(&v, &e),
        Err(e) => {
            let text = refusal_text(v.t, &e);
            postbacks_page(
                &st,
                &v,
                &merchant,
                &none,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some(text),
            )
            .await
        }
    }
}

struct PaymentRow {
    id: String,
    bill_id: String,
    created: String,
    amount: String,
    status: &'static str,
    method: &'static str,
    card: String,
    refunded: String,
}

fn payment_row(p: &Payment) -> PaymentRow {
    PaymentRow {
        id: p.id.to_string(),
        bill_id: p.bill_id.to_string(),
        created: format_datetime(p.created_at),
        amount: format!("{} {}", format_fixed(p.amount), p.currency),
        status: p.status.as_str(),
        method: p.method.as_str(),
        card: p.from_card.clone(),
        refunded: format_fixed(p.refunded_amount),
    }
}

#[derive(Template)]
#[template(path = "web_payments.html")]
struct PaymentsPage {
    c: Chrome,
    title: &'static str,
    order_id: String,
    from: String,
    to: String,
    rows: Vec<PaymentRow>,
    next: Option<String>,
    query: String,
}

pub async fn payments(
    State(st): State<AppState>,
    v: Visitor,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(merchant) = v.merchant() else {
        return to_sign_in(&v);
    };
    let lf = ListFilter::of(&q);
    let filter = PaymentFilter {
        bill_order_id: lf.order.clone(),
        from: lf.start_ms(),
        to: lf.end_ms(),
        ..PaymentFilter::default()
    };
    let request = PageRequest {
        from: cursor(&q),
        limit: PER_PAGE,
    };
    let found = match st.store.search_payments(&merchant, &filter, &request).await {
        Ok(p) => p,
        Err(e) => return failed(&v, &e.into()),
    };
    let next = found.next(|p| lf.next_link("/payments", p.created_at, p.id.as_str()));
    let c = Chrome::of(&st, &v);
    let title = c.t.payments;
    page(
        &v,
        StatusCode::OK,
        PaymentsPage {
            c,
            title,
            order_id: lf.order.clone().unwrap_or_default(),
            from: lf.from.clone().unwrap_or_default(),
            to: lf.to.clone().unwrap_or_default(),
            rows: found.items.iter().map(payment_row).collect(),
            next,
            query: lf.query(),
        },
    )
}

#[derive(Template)]
#[template(path = "web_payment.html")]
struct PaymentPage {
    c: Chrome,
    title: &'static str,
    error: Option<&'static str>,
    notice: Option<&'static str>,
    p: PaymentRow,
    refundable: bool,
    /// The refund form's one-time token.
    form: String,
    /// Id, created, URL, state, attempts, last HTTP status.
    postbacks: Vec<(String, String, String, &'static str, i64, String)>,
}

async fn payment_page(
    st: &AppState,
    v: &Visitor,
    merchant: &MerchantId,
    id: &str,
    status: StatusCode,
    error: Option<&'static str>,
    notice: Option<&'static str>,
) -> Response {
    let loaded = async {
        let id = PaymentId::parse(id).ok_or(DomainError::PaymentNotFound)?;
        let p = st
            .store
            .merchant_payment(merchant, &id)
            .await?
            .ok_or(DomainError::PaymentNotFound)?;
        let history = merchants::postbacks(&st.store, p.bill_id.as_str()).await?;
        Ok::<_, OpError>((p, history))
    }
    .await;
    let (p, history) = match loaded {
        Ok(x) => x,
        Err(e) => return failed(v, &e),
    };
    let refundable = p.status.brings_money() && p.refunded_amount < p.amount;
    let c = Chrome::of(st, v);
    let title = c.t.payment;
    page(
        v,
        status,
        PaymentPage {
            c,
            title,
            error,
            notice,
            refundable,
            form: once::fresh(),
            postbacks: history
                .iter()
                .filter(|h| h.record.notice.subject_id == p.id.as_str())
                .map(|h| {
                    (
                        h.record.notice.id.clone(),
                        format_datetime(h.record.notice.created_at),
                        h.record.notice.url.clone(),
                        h.record.state.as_str(),
                        h.record.total_attempts,
                        h.record
                            .last_status
                            .map(|s| s.to_string())
                            .unwrap_or_default(),
                    )
                })
                .collect(),
            p: payment_row(&p),
        },
    )
}

/// `?notice=` after a refund form: the refund is made.
const REFUND_MADE: &str = "refund_made";

pub async fn payment(
    State(st): State<AppState>,
    v: Visitor,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(merchant) = v.merchant() else {
        return to_sign_in(&v);
    };
    let notice =
        (q.get("notice").map(String::as_str) == Some(REFUND_MADE)).then_some(v.t.refund_done);
    payment_page(&st, &v, &merchant, &id, StatusCode::OK, None, notice).await
}

/// A refund of the payment: the amount given, or all that is left. Once per form (see
/// [`once`]); made, it is shown on the payment's page (303: reloading that page sends nothing).
pub async fn refund(
    State(st): State<AppState>,
    Path(id): Path<String>,
    form: SignedForm,
) -> Response {
    let SignedForm { v, merchant, f } = form;
    let refused = |status, text| payment_page(&st, &v, &merchant, &id, status, Some(text), None);
    let amount_text = field(&f, "amount");
    let amount = match amount_text {
        "" => None,
        text => match Amount::parse_written(text)
            .map(|a| a.minor())
            .filter(|a| *a > 0)
        {
            Some(a) => Some(a),
            None => return refused(StatusCode::UNPROCESSABLE_ENTITY, v.t.amount_invalid).await,
        },
    };
    let run = {
        let (st, merchant, id) = (st.clone(), merchant.clone(), id.clone());
        move |seal: Arc<dyn Seal<Refund>>, made: Option<String>| async move {
            if let Some(made) = made {
                // An earlier submit of the form took the money and gave up before the
                // acquirer's answer: its refund answers (the money worker finishes it).
                return Ok(st
                    .store
                    .merchant_refund(&merchant, &made)
                    .await?
                    .ok_or(DomainError::RefundNotFound)?);
            }
            let pid = PaymentId::parse(&id).ok_or(DomainError::PaymentNotFound)?;
            let p = st
                .store
                .merchant_payment(&merchant, &pid)
                .await?
                .ok_or(DomainError::PaymentNotFound)?;
            refunds::create(&st, &p, amount, seal.as_ref()).await
        }
    };
    let done = |r: &Refund| format!("/payments/{}?notice={REFUND_MADE}", r.payment_id);
    let values = [id.as_str(), amount_text];
    match once::once(&st, &merchant, "refund", &f, &values, done, run).await {
        Outcome::Refused(e @ OpError::Domain(DomainError::PaymentNotFound)) => failed(&v, &e),
        outcome => once::answer(outcome, &v, |e| refusal_text(v.t, e), refused).await,
    }
}

/// A body of chunks sent through a channel: an export is written page by page while the
/// client reads it.
struct Chunks(tokio::sync::mpsc::Receiver<Bytes>);

impl http_body::Body for Chunks {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| Ok(http_body::Frame::data(c))))
    }
}

/// One CSV field: quoted when it holds a separator, a quote or a line break; a leading `=`,
/// `+`, `-` or `@` is escaped so that spreadsheets do not run it as a formula.
fn csv_field(text: &str) -> String {
    let text = match text.chars().next() {
        Some('=' | '+' | '-' | '@') => format!("'{text}"),
        _ => text.to_string(),
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

pub(super) fn csv_line(fields: &[&str]) -> String {
    let mut line = fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

fn csv_answer(v: &Visitor, name: &str, rx: tokio::sync::mpsc::Receiver<Bytes>) -> Response {
    let mut r = Body::new(Chunks(rx)).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(d) = header::HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, d);
    }
    h.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    v.finish(r)
}

fn bill_csv(b: &Bill) -> String {
    csv_line(&[
        b.id.as_str(),
        &format_datetime(b.created_at),
        &format_fixed(b.amount.minor()),
        b.currency.code(),
        b.status.as_str(),
        b.order_id.as_deref().unwrap_or(""),
        b.description.as_deref().unwrap_or(""),
    ])
}

fn payment_csv(p: &Payment) -> String {
    csv_line(&[
        p.id.as_str(),
        p.bill_id.as_str(),
        &format_datetime(p.created_at),
        &format_fixed(p.amount),
        p.currency.code(),
        p.status.as_str(),
        p.method.as_str(),
        &p.from_card,
        &format_fixed(p.commission),
        &format_fixed(p.refunded_amount),
    ])
}

/// Streams a CSV export: `head`, then the rows of every page `fetch` gives (from the keyset
/// of the last row of the page before), each as `line` writes it, while the client reads.
pub(super) fn stream_csv<T, F, Fut>(
    v: &Visitor,
    name: &str,
    head: &[&str],
    mut fetch: F,
    line: fn(&T) -> String,
    keyset: fn(&T) -> Keyset,
) -> Response
where
    T: Send + 'static,
    F: FnMut(PageRequest) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<paylink_store::Page<T>, paylink_store::StoreError>>
        + Send,
{
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let head = csv_line(head);
    let what = name.to_string();
    tokio::spawn(async move {
        if tx.send(Bytes::from(head)).await.is_err() {
            return;
        }
        let mut from = None;
        loop {
            let page = match fetch(PageRequest {
                from: from.take(),
                limit: EXPORT_CHUNK,
            })
            .await
            {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(error = %e, export = %what, "an export stopped");
                    return;
                }
            };
            let chunk: String = page.items.iter().map(line).collect();
            if !chunk.is_empty() && tx.send(Bytes::from(chunk)).await.is_err() {
                return;
            }
            match page.next(keyset) {
                Some(last) => from = Some((last, Direction::Next)),
                None => return,
            }
        }
    });
    csv_answer(v, name, rx)
}

pub async fn bills_csv(
    State(st): State<AppState>,
    v: Visitor,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(merchant) = v.merchant() else {
        return to_sign_in(&v);
    };
    let lf = ListFilter::of(&q);
    let filter = BillFilter {
        order_id: lf.order.clone(),
        from: lf.start_ms(),
        to: lf.end_ms(),
        ..BillFilter::default()
    };
    stream_csv(
        &v,
        "bills.csv",
        &[
            "bill_id",
            "created_at",
            "amount",
            "currency",
            "status",
            "order_id",
            "description",
        ],
        move |request| {
            let (st, merchant, filter) = (st.clone(), merchant.clone(), filter.clone());
            async move { st.store.search_bills(&merchant, &filter, &request).await }
        },
        bill_csv,
        |b| Keyset {
            created_at: b.created_at,
            id: b.id.to_string(),
        },
    )
}

/// The merchant's postbacks as CSV, newest first, streamed.
pub async fn postbacks_csv(State(st): State<AppState>, v: Visitor) -> Response {
    let Some(merchant) = v.merchant() else {
        return to_sign_in(&v);
    };
    stream_csv(
        &v,
        "postbacks.csv",
        &[
            "notice_id",
            "created_at",
            "about",
            "kind",
            "url",
            "state",
            "attempts",
            "last_status",
        ],
        move |request: PageRequest| {
            let (st, merchant) = (st.clone(), merchant.clone());
            async move {
                let before = request.from.map(|(k, _)| (k.created_at, k.id));
                let limit = i64::from(request.limit);
                let items = st
                    .store
                    .notices_of_merchant(&merchant, before, limit + 1)
                    .await?;
                Ok(Page::of(items, request.limit as usize))
            }
        },
        |n: &paylink_store::NoticeRecord| {
            csv_line(&[
                &n.notice.id,
                &format_datetime(n.notice.created_at),
                &n.notice.subject_id,
                n.notice.kind.as_str(),
                &n.notice.url,
                n.state.as_str(),
                &n.total_attempts.to_string(),
                &n.last_status.map(|s| s.to_string()).unwrap_or_default(),
            ])
        },
        |n: &paylink_store::NoticeRecord| Keyset {
            created_at: n.notice.created_at,
            id: n.notice.id.clone(),
        },
    )
}

pub async fn payments_csv(
    State(st): State<AppState>,
    v: Visitor,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(merchant) = v.merchant() else {
        return to_sign_in(&v);
    };
    let lf = ListFilter::of(&q);
    let filter = PaymentFilter {
        bill_order_id: lf.order.clone(),
        from: lf.start_ms(),
        to: lf.end_ms(),
        ..PaymentFilter::default()
    };
    stream_csv(
        &v,
        "payments.csv",
        &[
            "payment_id",
            "bill_id",
            "created_at",
            "amount",
            "currency",
            "status",
            "method",
            "card",
            "commission",
            "refunded",
        ],
        move |request| {
            let (st, merchant, filter) = (st.clone(), merchant.clone(), filter.clone());
            async move { st.store.search_payments(&merchant, &filter, &request).await }
        },
        payment_csv,
        |p| Keyset {
            created_at: p.created_at,
            id: p.id.to_string(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(csv_field("-1"), "'-1");
        assert_eq!(csv_line(&["a", "b\nc"]), "a,\"b\nc\"\r\n");
    }
}
