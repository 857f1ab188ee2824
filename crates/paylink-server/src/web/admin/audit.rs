//! The audit log in the console: every operator action (console and CLI), newest first, 100 a
//! page with a link to the older ones, narrowed by actor, action (prefix), target and UTC days;
//! and the same selection as CSV, streamed. Admins and support both read it.

use super::{Console, MessagePage};
use crate::ops::console::audit::{self, PAGE};
use crate::state::AppState;
use crate::web::lists::{csv_line, stream_csv};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use paylink_core::audit::{AuditEntry, Power};
use paylink_core::time::{format_datetime, parse_filter_date, DayEdge};
use paylink_store::{AuditFilter, Keyset, Page, PageRequest};
use std::collections::HashMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/audit", get(list))
        .route("/admin/audit.csv", get(csv))
}

pub struct AuditTexts {
    pub time: &'static str,
    pub actor: &'static str,
    pub address: &'static str,
    pub action: &'static str,
    pub action_hint: &'static str,
    pub target: &'static str,
    pub change: &'static str,
    pub from: &'static str,
    pub to: &'static str,
    pub newest: &'static str,
    pub bad_filter: &'static str,
}

pub const EN: AuditTexts = AuditTexts {
    time: "Time (UTC)",
    actor: "Operator",
    address: "Address",
    action: "Action",
    action_hint: "starts with, e.g. payout.",
    target: "Object",
    change: "Before → after",
    from: "From",
    to: "To",
    newest: "Newest",
    bad_filter: "Dates are YYYY-MM-DD; the page position is a number.",
};

pub const RU: AuditTexts = AuditTexts {
    time: "Время (UTC)",
    actor: "Оператор",
    address: "Адрес",
    action: "Действие",
    action_hint: "начинается с, например payout.",
    target: "Объект",
    change: "Было → стало",
    from: "С",
    to: "По",
    newest: "Новые",
    bad_filter: "Даты в виде ГГГГ-ММ-ДД; позиция страницы — число.",
};

pub struct Row {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub role: String,
    pub address: String,
    pub action: String,
    pub target: String,
    pub before: String,
    pub after: String,
}

/// A missing state reads as a dash: "nothing" rather than a blank cell.
fn shown(text: &str) -> String {
    if text.is_empty() {
        "—".to_string()
    } else {
        text.to_string()
    }
}

fn row(e: &AuditEntry) -> Row {
    Row {
        seq: e.seq,
        at: format_datetime(e.at),
        actor: e.actor.clone(),
        role: e.role.clone(),
        address: shown(&e.address),
        action: e.action.clone(),
        target: shown(&e.target),
        before: shown(&e.before),
        after: shown(&e.after),
    }
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPage {
    c: crate::web::Chrome,
    title: &'static str,
    w: &'static AuditTexts,
    error: Option<&'static str>,
    rows: Vec<Row>,
    /// The filter's fields as typed, to fill the form again.
    actor: String,
    action: String,
    target: String,
    from: String,
    to: String,
    /// `?actor=...` of the filter (no `before`), for the CSV and first-page links.
    query: String,
    next: Option<String>,
}

/// The filter's fields as the form sent them (bounded, printable; else absent).
struct Typed {
    actor: Option<String>,
    action: Option<String>,
    target: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

impl Typed {
    fn of(q: &HashMap<String, String>) -> Typed {
        let get = |k: &str| super::query_text(q.get(k));
        Typed {
            // Operators are their emails, stored lower-cased; the CLI's user names keep their case.
            actor: get("actor").map(|a| {
                if a.starts_with("cli@") {
                    a
                } else {
                    a.to_lowercase()
                }
            }),
            action: get("action"),
            target: get("target"),
            from: get("from"),
            to: get("to"),
        }
    }

    /// The query string that repeats this filter (empty when nothing narrows).
    fn query(&self) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("actor", &self.actor),
            ("action", &self.action),
            ("target", &self.target),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if let Some(v) = v {
                s.append_pair(k, v);
            }
        }
        let s = s.finish();
        if s.is_empty() {
            s
        } else {
            format!("?{s}")
        }
    }

    /// The store's filter; `None` when a date (or `before`) does not parse.
    fn filter(&self, before: Option<&String>) -> Option<AuditFilter> {
        let day = |t: &Option<String>, edge| match t {
            Some(t) => parse_filter_date(t, edge).map(Some),
            None => Some(None),
        };
        let before = match super::query_text(before) {
            Some(b) => Some(b.parse::<i64>().ok().filter(|b| *b > 0)?),
            None => None,
        };
        Some(AuditFilter {
            actor: self.actor.clone(),
            action: self.action.clone(),
            target: self.target.clone(),
            from: day(&self.from, DayEdge::Start)?,
            to: day(&self.to, DayEdge::End)?,
            before,
        })
    }
}

fn words(c: &Console) -> &'static AuditTexts {
    super::texts::pick(c.v.t.lang, &EN, &RU)
}

/// `GET /admin/audit`: a page of the log.
pub async fn list(
    State(st): State<AppState>,
    c: Console,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let w = words(&c);
    let typed = Typed::of(&q);
    let query = typed.query();
    let (status, error, rows, next) = match typed.filter(q.get("before")) {
        None => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(w.bad_filter),
            Vec::new(),
            None,
        ),
        Some(filter) => match audit::page(&st.store, &c.actor, &filter, PAGE).await {
            Ok(p) => {
                let next = p.next.map(|seq| {
                    let join = if query.is_empty() { '?' } else { '&' };
                    format!("/admin/audit{query}{join}before={seq}")
                });
                (
                    StatusCode::OK,
                    None,
                    p.entries.iter().map(row).collect(),
                    next,
                )
            }
            Err(e) => return super::refused(&st, &c, &e, "/admin"),
        },
    };
    let text = |t: &Option<String>| t.clone().unwrap_or_default();
    c.page(
        status,
        AuditPage {
            c: c.chrome(&st),
            title: c.a.audit,
            w,
            error,
            rows,
            actor: text(&typed.actor),
            action: text(&typed.action),
            target: text(&typed.target),
            from: text(&typed.from),
            to: text(&typed.to),
            query,
            next,
        },
    )
}

fn entry_csv(e: &AuditEntry) -> String {
    csv_line(&[
        &e.seq.to_string(),
        &format_datetime(e.at),
        &e.actor,
        &e.role,
        &e.address,
        &e.action,
        &e.target,
        &e.before,
        &e.after,
    ])
}

/// `GET /admin/audit.csv`: every entry the same filter selects, newest first, streamed.
pub async fn csv(
    State(st): State<AppState>,
    c: Console,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(filter) = Typed::of(&q).filter(q.get("before")) else {
        return c.page(
            StatusCode::UNPROCESSABLE_ENTITY,
            MessagePage {
                c: c.chrome(&st),
                title: c.a.audit.to_string(),
                message: words(&c).bad_filter.to_string(),
                back: "/admin/audit".to_string(),
            },
        );
    };
    if let Err(e) = c.actor.require(Power::Support) {
        return super::refused(&st, &c, &e.into(), "/admin/audit");
    }
    let actor = c.actor.clone();
    stream_csv(
        &c.v,
        "audit.csv",
        &[
            "seq", "at", "actor", "role", "address", "action", "target", "before", "after",
        ],
        move |request: PageRequest| {
            let (st, actor, mut filter) = (st.clone(), actor.clone(), filter.clone());
            async move {
                // The exporter's keyset carries the last entry's `seq` (see below).
                if let Some((k, _)) = request.from {
                    filter.before = Some(k.created_at);
                }
                let limit = i64::from(request.limit);
                match audit::page(&st.store, &actor, &filter, limit).await {
                    Ok(p) => Ok(Page {
                        has_more: p.next.is_some(),
                        items: p.entries,
                    }),
                    Err(crate::ops::OpError::Store(e)) => Err(e),
                    // Checked before the export started; nothing else refuses.
                    Err(crate::ops::OpError::Domain(_)) => Ok(Page {
                        items: Vec::new(),
                        has_more: false,
                    }),
                }
            }
        },
        entry_csv,
        // The log pages by `seq` alone; the exporter's keyset holds it in its number.
        |e: &AuditEntry| Keyset {
            created_at: e.seq,
            id: String::new(),
        },
    )
}
