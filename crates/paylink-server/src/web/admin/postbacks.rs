//! Console section: postbacks and webhooks across merchants. A search by merchant, bill or
//! payment (and delivery state), newest first in keyset pages; one postback with every
//! delivery attempt and what it says; redelivery (support may), audited.

use super::{Console, ConsoleForm};
use crate::ops::console::postbacks::{self as reads, Search};
use crate::state::AppState;
use crate::web::Chrome;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use paylink_core::event::NoticeState;
use paylink_core::time::format_datetime;
use paylink_store::{Keyset, NoticeRecord, Page};
use std::collections::HashMap;

/// Rows per page.
const PER_PAGE: i64 = 50;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/postbacks", get(list))
        .route("/admin/postbacks/{id}", get(show))
        .route("/admin/postbacks/{id}/redeliver", post(redeliver))
}

pub struct PostbacksTexts {
    pub bill: &'static str,
    pub payment: &'static str,
    pub state: &'static str,
    pub any: &'static str,
    pub event: &'static str,
    pub target: &'static str,
    pub attempts: &'static str,
    pub last_status: &'static str,
    pub next_attempt: &'static str,
    pub newest: &'static str,
    pub postback: &'static str,
    pub subject: &'static str,
    pub url: &'static str,
    pub delivered: &'static str,
    pub body: &'static str,
    pub number: &'static str,
    pub at: &'static str,
    pub error: &'static str,
    pub duration: &'static str,
    pub response: &'static str,
    pub no_attempts: &'static str,
    pub redeliver: &'static str,
}

pub const EN: PostbacksTexts = PostbacksTexts {
    bill: "Bill",
    payment: "Payment",
    state: "State",
    any: "Any",
    event: "Event",
    target: "Sent to",
    attempts: "Attempts",
    last_status: "Last HTTP status",
    next_attempt: "Next attempt",
    newest: "Newest",
    postback: "Postback",
    subject: "About",
    url: "URL",
    delivered: "Delivered",
    body: "What it says (unsigned)",
    number: "#",
    at: "Time",
    error: "Error",
    duration: "Duration, ms",
    response: "Response (start)",
    no_attempts: "No attempt yet.",
    redeliver: "Redeliver",
};

pub const RU: PostbacksTexts = PostbacksTexts {
    bill: "Счёт",
    payment: "Платёж",
    state: "Состояние",
    any: "Любое",
    event: "Событие",
    target: "Куда",
    attempts: "Попытки",
    last_status: "Последний HTTP-статус",
    next_attempt: "Следующая попытка",
    newest: "Новые",
    postback: "Постбэк",
    subject: "О чём",
    url: "URL",
    delivered: "Доставлен",
    body: "Содержание (без подписи)",
    number: "№",
    at: "Время",
    error: "Ошибка",
    duration: "Длительность, мс",
    response: "Ответ (начало)",
    no_attempts: "Попыток ещё не было.",
    redeliver: "Отправить снова",
};

fn words(c: &Console) -> &'static PostbacksTexts {
    super::texts::pick(c.v.t.lang, &EN, &RU)
}

/// The host (and port) a URL points at: the list shows where, not the whole address.
fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| {
            let host = u.host_str()?.to_string();
            Some(match u.port() {
                Some(p) => format!("{host}:{p}"),
                None => host,
            })
        })
        .unwrap_or_default()
}

pub struct Row {
    pub id: String,
    pub merchant_id: String,
    pub kind: &'static str,
    pub dialect: &'static str,
    pub subject: String,
    pub host: String,
    pub state: &'static str,
    pub attempts: i64,
    pub last_status: String,
    /// Only while one is coming.
    pub next_at: String,
    pub created: String,
}

fn row(r: &NoticeRecord) -> Row {
    let n = &r.notice;
    Row {
        id: n.id.clone(),
        merchant_id: n
            .merchant_id
            .as_ref()
            .map(|m| m.to_string())
            .unwrap_or_default(),
        kind: n.kind.as_str(),
        dialect: n.dialect.as_str(),
        subject: n.subject_id.clone(),
        host: host_of(&n.url),
        state: r.state.as_str(),
        attempts: r.total_attempts,
        last_status: r.last_status.map(|s| s.to_string()).unwrap_or_default(),
        next_at: match r.state {
            NoticeState::Pending => format_datetime(r.next_at),
            _ => String::new(),
        },
        created: format_datetime(n.created_at),
    }
}

#[derive(Template)]
#[template(path = "admin_postbacks.html")]
struct ListPage {
    c: Chrome,
    w: &'static PostbacksTexts,
    title: &'static str,
    notice: Option<&'static str>,
    merchant: String,
    bill: String,
    payment: String,
    state: &'static str,
    states: [&'static str; 3],
    rows: Vec<Row>,
    next: Option<String>,
}

/// `GET /admin/postbacks?merchant=&bill=&payment=&state=&cursor=`: newest first.
pub async fn list(
    State(st): State<AppState>,
    c: Console,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let search = Search {
        merchant: super::query_text(q.get("merchant")),
        bill: super::query_text(q.get("bill")),
        payment: super::query_text(q.get("payment")),
        state: q.get("state").and_then(|s| NoticeState::parse(s.trim())),
        before: q
            .get("cursor")
            .and_then(|c| Keyset::parse(c))
            .map(|k| (k.created_at, k.id)),
    };
    let list = match reads::search(&st.store, &search, PER_PAGE + 1).await {
        Ok(list) => Page::of(list, PER_PAGE as usize),
        Err(e) => return super::refused(&st, &c, &e, "/admin"),
    };
    let next = list
        .next(|n| Keyset::of(n.notice.created_at, &n.notice.id))
        .map(|last| {
            let mut link = form_urlencoded::Serializer::new(String::new());
            for (k, v) in [
                ("merchant", &search.merchant),
                ("bill", &search.bill),
                ("payment", &search.payment),
            ] {
                if let Some(v) = v {
                    link.append_pair(k, v);
                }
            }
            if let Some(s) = search.state {
                link.append_pair("state", s.as_str());
            }
            link.append_pair("cursor", &last.to_string());
            format!("/admin/postbacks?{}", link.finish())
        });
    c.page(
        StatusCode::OK,
        ListPage {
            c: c.chrome(&st),
            w: words(&c),
            title: c.a.postbacks,
            notice: super::notice(c.a, q.get("notice").map(String::as_str)),
            merchant: search.merchant.clone().unwrap_or_default(),
            bill: search.bill.clone().unwrap_or_default(),
            payment: search.payment.clone().unwrap_or_default(),
            state: search.state.map(NoticeState::as_str).unwrap_or(""),
            states: ["pending", "delivered", "failed"],
            rows: list.items.iter().map(row).collect(),
            next,
        },
    )
}

pub struct AttemptRow {
    pub number: i64,
    pub at: String,
    pub status: String,
    pub error: String,
    pub duration: i64,
    pub excerpt: String,
}

#[derive(Template)]
#[template(path = "admin_postback.html")]
struct PostbackPage {
    c: Chrome,
    w: &'static PostbacksTexts,
    title: String,
    notice: Option<&'static str>,
    row: Row,
    url: String,
    bill: String,
    delivered: String,
    fields: Vec<(String, String)>,
    attempts: Vec<AttemptRow>,
}

/// `GET /admin/postbacks/{id}`: the postback, what it says and every delivery attempt.
pub async fn show(
    State(st): State<AppState>,
    c: Console,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let p = match reads::postback(&st.store, &id).await {
        Ok(p) => p,
        Err(e) => return super::refused(&st, &c, &e, "/admin/postbacks"),
    };
    let w = words(&c);
    c.page(
        StatusCode::OK,
        PostbackPage {
            c: c.chrome(&st),
            w,
            title: format!("{} {}", w.postback, p.record.notice.id),
            notice: super::notice(c.a, q.get("notice").map(String::as_str)),
            row: row(&p.record),
            url: p.record.notice.url.clone(),
            bill: p
                .record
                .notice
                .bill_id
                .as_ref()
                .map(|b| b.to_string())
                .unwrap_or_default(),
            delivered: p
                .record
                .delivered_at
                .map(format_datetime)
                .unwrap_or_default(),
            fields: p.fields,
            attempts: p
                .attempts
                .iter()
                .map(|a| AttemptRow {
                    number: a.number,
                    at: format_datetime(a.at),
                    status: a.http_status.map(|s| s.to_string()).unwrap_or_default(),
                    error: a.error.clone().unwrap_or_default(),
                    duration: a.latency_ms,
                    excerpt: a.excerpt.clone(),
                })
                .collect(),
        },
    )
}

/// `POST /admin/postbacks/{id}/redeliver`: due now in a fresh round (support may).
pub async fn redeliver(
    State(st): State<AppState>,
    Path(id): Path<String>,
    form: ConsoleForm,
) -> Response {
    let c = &form.c;
    let back = format!("/admin/postbacks/{id}");
    match reads::redeliver(&st.store, &c.actor, &id, st.now()).await {
        Ok(()) => c.redirect(&format!("{back}?notice=done")),
        Err(e) => super::refused(&st, c, &e, &back),
    }
}
