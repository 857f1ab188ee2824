//! Console section: payouts. The moderation queue (MODERATING payouts, oldest first, each with
//! its merchant's context) where an admin approves or declines payouts one at a time or
//! selected; other statuses are listed read only. Two operators deciding one payout at once:
//! the store's guard lets one move it, the other is told it moved meanwhile.

use super::{Console, ConsoleForm};
use crate::ops::console::payouts::{self as reads, Queued};
use crate::ops::payouts::{decline_reason, moderate, Moderation};
use crate::ops::OpError;
use crate::state::AppState;
use crate::web::Chrome;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use paylink_core::audit::Power;
use paylink_core::id::PayoutId;
use paylink_core::money::Currency;
use paylink_core::payout::{Payout, PayoutStatus};
use paylink_core::time::format_datetime;
use paylink_core::DomainError;
use paylink_store::Keyset;
use std::collections::{BTreeMap, HashMap};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/payouts", get(queue))
        .route("/admin/payouts/decide", post(decide))
        .route("/admin/payouts/{id}", get(one))
}

pub struct PayoutTexts {
    pub title: &'static str,
    pub payout: &'static str,
    pub verified: &'static str,
    pub not_verified: &'static str,
    pub commission: &'static str,
    pub destination: &'static str,
    pub available: &'static str,
    pub today: &'static str,
    pub no_limit: &'static str,
    pub approve: &'static str,
    pub decline: &'static str,
    pub decline_one: &'static str,
    pub approve_selected: &'static str,
    pub decline_selected: &'static str,
    pub reason_hint: &'static str,
    pub approved: &'static str,
    pub declined: &'static str,
    pub moved: &'static str,
    pub missing: &'static str,
    pub confirm_approve: &'static str,
    pub confirm_decline: &'static str,
    pub nothing_selected: &'static str,
    pub reason_required: &'static str,
    pub oldest_first: &'static str,
}

pub const EN: PayoutTexts = PayoutTexts {
    title: "Payouts",
    payout: "Payout",
    verified: "verified",
    not_verified: "not verified",
    commission: "Commission",
    destination: "Destination",
    available: "Available balance",
    today: "Paid out today / daily limit",
    no_limit: "no limit",
    approve: "Approve",
    decline: "Decline",
    decline_one: "Decline…",
    approve_selected: "Approve selected",
    decline_selected: "Decline selected",
    reason_hint: "Reason for declining (the merchant sees it)",
    approved: "Approved",
    declined: "Declined",
    moved: "Moved meanwhile (someone else decided first or the merchant cancelled)",
    missing: "Not found",
    confirm_approve: "Approve payouts",
    confirm_decline: "Decline payouts",
    nothing_selected: "Select at least one payout waiting for moderation.",
    reason_required: "Give a reason for declining (up to 500 characters).",
    oldest_first: "Oldest first.",
};

pub const RU: PayoutTexts = PayoutTexts {
    title: "Выплаты",
    payout: "Выплата",
    verified: "верифицирован",
    not_verified: "не верифицирован",
    commission: "Комиссия",
    destination: "Получатель",
    available: "Доступный баланс",
    today: "Выплачено сегодня / дневной лимит",
    no_limit: "без лимита",
    approve: "Одобрить",
    decline: "Отклонить",
    decline_one: "Отклонить…",
    approve_selected: "Одобрить выбранные",
    decline_selected: "Отклонить выбранные",
    reason_hint: "Причина отказа (её увидит мерчант)",
    approved: "Одобрено",
    declined: "Отклонено",
    moved: "Уже изменены (кто-то решил раньше или мерчант отменил)",
    missing: "Не найдено",
    confirm_approve: "Одобрить выплаты",
    confirm_decline: "Отклонить выплаты",
    nothing_selected: "Выберите хотя бы одну выплату на модерации.",
    reason_required: "Укажите причину отказа (до 500 символов).",
    oldest_first: "Сначала старые.",
};

fn words(c: &Console) -> &'static PayoutTexts {
    super::texts::pick(c.v.t.lang, &EN, &RU)
}

/// `minor` units of `currency` as text with the currency's exponent: `1070.00 RUB`.
pub fn money(minor: i64, currency: Currency) -> String {
    let e = currency.exponent();
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    if e == 0 {
        return format!("{sign}{abs} {currency}");
    }
    let scale = 10u64.pow(e);
    format!(
        "{sign}{}.{:0w$} {currency}",
        abs / scale,
        abs % scale,
        w = e as usize
    )
}

pub struct Row {
    pub id: String,
    pub merchant_id: String,
    pub merchant_name: String,
    pub verified: bool,
    pub status: String,
    pub amount: String,
    pub commission: String,
    pub account_type: String,
    pub destination: String,
    pub bank: Option<i64>,
    pub error_message: Option<String>,
    pub created: String,
    pub available: String,
    pub today: String,
    pub moderating: bool,
}

fn row(st: &AppState, t: &PayoutTexts, q: &Queued) -> Row {
    let limit = q.daily_limit.or(st.money_rules().payouts.daily_limit);
    Row {
        id: q.id.clone(),
        merchant_id: q.merchant_id.clone(),
        merchant_name: q.merchant_name.clone(),
        verified: q.verified,
        status: q.status.clone(),
        amount: money(q.amount, q.currency),
        commission: money(q.commission, q.currency),
        account_type: q.account_type.clone(),
        destination: q.destination.clone(),
        bank: q.bank_member_id,
        error_message: q.error_message.clone(),
        created: format_datetime(q.created_at),
        available: money(q.available, q.currency),
        today: match limit {
            Some(l) => format!(
                "{} / {}",
                money(q.day_used, q.currency),
                money(l, q.currency)
            ),
            None => format!("{} / {}", money(q.day_used, q.currency), t.no_limit),
        },
        moderating: q.status == PayoutStatus::Moderating.as_str(),
    }
}

/// The summary of a decision, from the counts in the query only.
pub struct Summary {
    pub approved: u32,
    pub declined: u32,
    pub moved: u32,
    pub missing: u32,
}

#[derive(Template)]
#[template(path = "admin_payouts.html")]
struct QueuePage {
    c: Chrome,
    title: &'static str,
    t: &'static PayoutTexts,
    status: &'static str,
    /// Each status, and whether it is the one shown.
    statuses: Vec<(&'static str, bool)>,
    rows: Vec<Row>,
    summary: Option<Summary>,
    error: Option<&'static str>,
    reason: String,
    next: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_payout.html")]
struct PayoutPage {
    c: Chrome,
    title: &'static str,
    t: &'static PayoutTexts,
    r: Row,
}

fn count(q: &HashMap<String, String>, key: &str) -> u32 {
    q.get(key)
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(0)
        .min(10_000)
}

async fn render_queue(
    st: &AppState,
    c: &Console,
    q: &HashMap<String, String>,
    code: StatusCode,
    error: Option<&'static str>,
    reason: &str,
) -> Response {
    let t = words(c);
    let status = q
        .get("status")
        .and_then(|s| s.parse::<PayoutStatus>().ok())
        .unwrap_or(PayoutStatus::Moderating);
    let after = q.get("after").and_then(|a| Keyset::parse(a));
    let page = match reads::queue(&st.store, status, after.as_ref(), st.now()).await {
        Ok(page) => page,
        Err(e) => return super::refused(st, c, &e, "/admin"),
    };
    let next = page
        .next(|p| Keyset::of(p.created_at, &p.id))
        .map(|after| format!("/admin/payouts?status={}&after={after}", status.as_str()));
    let summary = ["approved", "declined", "moved", "missing"]
        .iter()
        .any(|k| q.contains_key(*k))
        .then(|| Summary {
            approved: count(q, "approved"),
            declined: count(q, "declined"),
            moved: count(q, "moved"),
            missing: count(q, "missing"),
        });
    c.page(
        code,
        QueuePage {
            c: c.chrome(st),
            title: t.title,
            t,
            status: status.as_str(),
            statuses: PayoutStatus::ALL
                .iter()
                .map(|s| (s.as_str(), *s == status))
                .collect(),
            rows: page.items.iter().map(|p| row(st, t, p)).collect(),
            summary,
            error,
            reason: reason.to_string(),
            next,
        },
    )
}

/// `GET /admin/payouts`: `?status=` (MODERATING unless another is asked for), `?after=` the
/// next page, and the counts of a decision just made.
pub async fn queue(
    State(st): State<AppState>,
    c: Console,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    render_queue(&st, &c, &q, StatusCode::OK, None, "").await
}

/// `GET /admin/payouts/{id}`: one payout with its merchant's context and, while it waits,
/// the approve and decline forms.
pub async fn one(State(st): State<AppState>, c: Console, Path(id): Path<String>) -> Response {
    let t = words(&c);
    let found = match PayoutId::parse(&id) {
        Some(id) => reads::payout(&st.store, id.as_str(), st.now()).await,
        None => Ok(None),
    };
    match found {
        Ok(Some(p)) => c.page(
            StatusCode::OK,
            PayoutPage {
                c: c.chrome(&st),
                title: t.payout,
                t,
                r: row(&st, t, &p),
            },
        ),
        Ok(None) => super::refused(
            &st,
            &c,
            &OpError::Domain(DomainError::PayoutNotFound),
            "/admin/payouts",
        ),
        Err(e) => super::refused(&st, &c, &e, "/admin/payouts"),
    }
}

/// What a decision names: `approve_one` (a row's own button) or the selected `payout`s.
fn chosen(form: &ConsoleForm) -> (String, Vec<String>) {
    let one = form.field("approve_one");
    if !one.is_empty() {
        return ("approve".to_string(), vec![one.to_string()]);
    }
    let mut ids = form.all("payout");
    ids.sort();
    ids.dedup();
    (form.field("do").to_string(), ids)
}

/// `POST /admin/payouts/decide`: `do` (`approve` or `decline`), `reason` (declines), the
/// `payout`s (or `approve_one`); confirmed first, then each payout on its own.
pub async fn decide(State(st): State<AppState>, form: ConsoleForm) -> Response {
    let c = &form.c;
    let t = words(c);
    let back = HashMap::new();
    if !c.may(Power::Admin) {
        return super::refused(
            &st,
            c,
            &OpError::Domain(DomainError::NotPermitted),
            "/admin/payouts",
        );
    }
    let (action, ids) = chosen(&form);
    let reason = form.field("reason").trim().to_string();
    let approve = match action.as_str() {
        "approve" => true,
        "decline" => false,
        _ => return c.redirect("/admin/payouts"),
    };
    // Bounded: a page never shows more than one page of checkboxes.
    if ids.is_empty() || ids.len() > reads::PAGE as usize {
        return render_queue(
            &st,
            c,
            &back,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(t.nothing_selected),
            &reason,
        )
        .await;
    }
    if !approve && decline_reason(&reason).is_err() {
        return render_queue(
            &st,
            c,
            &back,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(t.reason_required),
            "",
        )
        .await;
    }
    let mut waiting = Vec::new();
    let mut missing = 0u32;
    let mut moved = 0u32;
    for id in &ids {
        let Some(pid) = PayoutId::parse(id) else {
            missing += 1;
            continue;
        };
        match st.store.payout(&pid).await {
            Ok(Some(p)) if p.status == PayoutStatus::Moderating => waiting.push(p),
            Ok(Some(_)) => moved += 1,
            Ok(None) => missing += 1,
            Err(e) => return super::refused(&st, c, &e.into(), "/admin/payouts"),
        }
    }
    // A part's decision is its whole request's (a split request is paid whole or not at all):
    // the confirmation asks about, and the summary counts, every part waiting with it.
    let mut whole: Vec<Payout> = Vec::with_capacity(waiting.len());
    for p in &waiting {
        if whole.iter().any(|w| w.id == p.id) {
            continue;
        }
        match st
            .store
            .payout_group(&p.merchant_id, &p.group_id, p.created_at)
            .await
        {
            Ok(parts) => {
                for g in parts {
                    if g.status == PayoutStatus::Moderating && !whole.iter().any(|w| w.id == g.id) {
                        whole.push(g);
                    }
                }
            }
            Err(e) => return super::refused(&st, c, &e.into(), "/admin/payouts"),
        }
    }
    // Found waiting, then decided by someone else before its request was read: moved.
    moved += waiting
        .iter()
        .filter(|p| !whole.iter().any(|w| w.id == p.id))
        .count() as u32;
    let waiting = whole;
    if !form.confirmed() && !waiting.is_empty() {
        let mut totals: BTreeMap<&'static str, (i64, Currency)> = BTreeMap::new();
        for p in &waiting {
            let e = totals.entry(p.currency.code()).or_insert((0, p.currency));
            e.0 = e.0.saturating_add(p.amount);
        }
        let sums: Vec<String> = totals.values().map(|(m, cur)| money(*m, *cur)).collect();
        let (title, question) = if approve {
            (
                t.confirm_approve,
                match c.v.t.lang {
                    "ru" => format!(
                        "Одобрить выплаты: {}, на сумму {}?",
                        waiting.len(),
                        sums.join(" + ")
                    ),
                    _ => format!(
                        "Approve {} payout(s) totalling {}?",
                        waiting.len(),
                        sums.join(" + ")
                    ),
                },
            )
        } else {
            (
                t.confirm_decline,
                match c.v.t.lang {
                    "ru" => format!(
                        "Отклонить выплаты: {}, на сумму {}? Деньги вернутся на балансы мерчантов.",
                        waiting.len(),
                        sums.join(" + ")
                    ),
                    _ => format!(
                        "Decline {} payout(s) totalling {}? The money goes back to the merchants' balances.",
                        waiting.len(),
                        sums.join(" + ")
                    ),
                },
            )
        };
        return super::confirm(
            &st,
            &form,
            title,
            question,
            "/admin/payouts/decide",
            "/admin/payouts",
        );
    }
    let now = st.now();
    let (mut approved, mut declined) = (0u32, 0u32);
    // A part's decision is its whole request's: parts of a request decided already are counted.
    let mut requests = std::collections::HashSet::new();
    for p in &waiting {
        if requests.contains(&p.group_id) {
            if approve {
                approved += 1;
            } else {
                declined += 1;
            }
            continue;
        }
        let decision = if approve {
            Moderation::Approve
        } else {
            Moderation::Decline(reason.clone())
        };
        let outcome = moderate(&st.store, &c.actor, p, decision, now).await;
        if outcome.is_ok() {
            requests.insert(p.group_id.clone());
        }
        match outcome {
            Ok(_) if approve => approved += 1,
            Ok(_) => declined += 1,
            Err(OpError::Domain(DomainError::PayoutNotCancelable)) => moved += 1,
            Err(e) => {
                wake(&st, approved);
                return super::refused(&st, c, &e, "/admin/payouts");
            }
        }
    }
    wake(&st, approved);
    if ids.len() == 1 && moved + missing == 1 {
        let e = if moved == 1 {
            DomainError::PayoutNotCancelable
        } else {
            DomainError::PayoutNotFound
        };
        return super::refused(&st, c, &OpError::Domain(e), "/admin/payouts");
    }
    c.redirect(&format!(
        "/admin/payouts?approved={approved}&declined={declined}&moved={moved}&missing={missing}"
    ))
}

/// Approved payouts are the money worker's to send (a decline's webhook reaches the
/// dispatcher from the store).
fn wake(st: &AppState, approved: u32) {
    if approved > 0 {
        st.payouts_due.notify_one();
    }
}
