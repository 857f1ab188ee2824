//! Console section: disputes from the payers' form. The queue (open and answered, oldest
//! first, the 48-hour answer deadline shown and marked when past), one dispute with its charge
//! and every message, and the operator's reply, decision (refund, reject, chargeback later)
//! and close; the ops email each to the payer through the outbox.

use super::{Console, ConsoleForm};
use crate::ops::console::disputes::{self as reads, Charge};
use crate::ops::{disputes, OpError};
use crate::state::AppState;
use crate::web::account::mailer;
use crate::web::Chrome;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use paylink_core::audit::Power;
use paylink_core::dispute::{Dispute, DisputeDecision, DisputeMessage, DisputeStatus};
use paylink_core::money::format_fixed;
use paylink_core::time::{format_datetime, Millis};
use paylink_store::{FoundCharge, Keyset};
use std::collections::HashMap;

/// Rows of the queue shown at once (the oldest: the ones due first).
const QUEUE_LIMIT: i64 = 200;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/disputes", get(list))
        .route("/admin/disputes/{id}", get(show))
        .route("/admin/disputes/{id}/reply", post(reply))
        .route("/admin/disputes/{id}/decide", post(decide))
        .route("/admin/disputes/{id}/close", post(close))
}

pub struct DisputesTexts {
    pub queue: &'static str,
    pub all_closed: &'static str,
    pub reference: &'static str,
    pub age: &'static str,
    pub deadline: &'static str,
    pub overdue: &'static str,
    pub charge: &'static str,
    pub decision: &'static str,
    pub no_charge: &'static str,
    pub dispute: &'static str,
    pub payer_email: &'static str,
    pub shop: &'static str,
    pub card: &'static str,
    pub charged_at: &'static str,
    pub payment: &'static str,
    pub refunded: &'static str,
    pub messages: &'static str,
    pub payer: &'static str,
    pub merchant: &'static str,
    pub operator: &'static str,
    pub text: &'static str,
    pub reply: &'static str,
    pub decide: &'static str,
    pub decide_hint: &'static str,
    pub refund: &'static str,
    pub reject: &'static str,
    pub chargeback: &'static str,
    pub close: &'static str,
    pub close_hint: &'static str,
    pub is_closed: &'static str,
    pub refund_title: &'static str,
    pub refund_question: &'static str,
    pub minutes: &'static str,
    pub hours: &'static str,
    pub days: &'static str,
}

pub const EN: DisputesTexts = DisputesTexts {
    queue: "Open and answered",
    all_closed: "Closed",
    reference: "Reference",
    age: "Age",
    deadline: "Answer due",
    overdue: "overdue",
    charge: "Charge",
    decision: "Decision",
    no_charge: "No charge named",
    dispute: "Dispute",
    payer_email: "Payer's email",
    shop: "Shop",
    card: "Card",
    charged_at: "Charged",
    payment: "Payment",
    refunded: "Refunded already",
    messages: "Messages",
    payer: "payer",
    merchant: "merchant",
    operator: "operator",
    text: "Text (emailed to the payer)",
    reply: "Reply",
    decide: "Decide",
    decide_hint: "The decision closes the dispute; the text is emailed to the payer.",
    refund: "Refund the charge",
    reject: "Reject",
    chargeback: "Chargeback later (through the bank)",
    close: "Close without a decision",
    close_hint: "A closed dispute takes no more messages.",
    is_closed: "This dispute is closed.",
    refund_title: "Refund the charge",
    refund_question:
        "Refund what is left of this charge from the merchant's balance and close the dispute?",
    minutes: "min",
    hours: "h",
    days: "d",
};

pub const RU: DisputesTexts = DisputesTexts {
    queue: "Открытые и с ответом",
    all_closed: "Закрытые",
    reference: "Номер",
    age: "Возраст",
    deadline: "Ответить до",
    overdue: "просрочено",
    charge: "Списание",
    decision: "Решение",
    no_charge: "Списание не указано",
    dispute: "Спор",
    payer_email: "Email плательщика",
    shop: "Магазин",
    card: "Карта",
    charged_at: "Списано",
    payment: "Платёж",
    refunded: "Уже возвращено",
    messages: "Сообщения",
    payer: "плательщик",
    merchant: "мерчант",
    operator: "оператор",
    text: "Текст (уйдёт плательщику по email)",
    reply: "Ответить",
    decide: "Решить",
    decide_hint: "Решение закрывает спор; текст уйдёт плательщику по email.",
    refund: "Вернуть списание",
    reject: "Отклонить",
    chargeback: "Chargeback позже (через банк)",
    close: "Закрыть без решения",
    close_hint: "В закрытый спор нельзя писать.",
    is_closed: "Спор закрыт.",
    refund_title: "Возврат списания",
    refund_question: "Вернуть остаток этого списания с баланса мерчанта и закрыть спор?",
    minutes: "мин",
    hours: "ч",
    days: "д",
};

fn words(c: &Console) -> &'static DisputesTexts {
    super::texts::pick(c.v.t.lang, &EN, &RU)
}

/// How long ago `since` was, in the largest units that say it: `40 min`, `5 h`, `2 d 3 h`.
fn age(w: &DisputesTexts, since: Millis, now: Millis) -> String {
    let minutes = (now - since).max(0) / 60_000;
    let (days, hours) = (minutes / (24 * 60), minutes / 60 % 24);
    match (days, hours) {
        (0, 0) => format!("{minutes} {}", w.minutes),
        (0, h) => format!("{h} {}", w.hours),
        (d, h) => format!("{d} {} {h} {}", w.days, w.hours),
    }
}

fn money(amount: i64, currency: impl std::fmt::Display) -> String {
    format!("{} {currency}", format_fixed(amount))
}

pub struct Row {
    pub id: String,
    pub age: String,
    pub deadline: String,
    pub overdue: bool,
    /// Empty when the payer named no charge.
    pub merchant_id: String,
    pub shop: String,
    pub charge: String,
    pub charged_at: String,
    pub status: &'static str,
    pub decision: &'static str,
}

fn row(w: &DisputesTexts, d: &Dispute, charge: Option<&FoundCharge>, now: Millis) -> Row {
    Row {
        id: d.id.to_string(),
        age: age(w, d.created_at, now),
        deadline: format_datetime(d.answer_due()),
        overdue: d.overdue(now),
        merchant_id: d
            .merchant_id
            .as_ref()
            .map(|m| m.to_string())
            .unwrap_or_default(),
        shop: charge.map(|c| c.shop_name.clone()).unwrap_or_default(),
        charge: charge
            .map(|c| money(c.amount, c.currency))
            .unwrap_or_default(),
        charged_at: charge
            .map(|c| format_datetime(c.created_at))
            .unwrap_or_default(),
        status: d.status.as_str(),
        decision: d.decision.map(|x| x.as_str()).unwrap_or(""),
    }
}

#[derive(Template)]
#[template(path = "admin_disputes.html")]
struct QueuePage {
    c: Chrome,
    w: &'static DisputesTexts,
    title: &'static str,
    notice: Option<&'static str>,
    /// The status filter as chosen (`""`: the queue).
    status: &'static str,
    rows: Vec<Row>,
    /// The next page's address, when this one is full.
    next: Option<String>,
}

/// `GET /admin/disputes?status=&after=`: the queue, oldest first, a page at a time.
pub async fn list(
    State(st): State<AppState>,
    c: Console,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let w = words(&c);
    let status = q.get("status").and_then(|s| DisputeStatus::parse(s.trim()));
    let after = q.get("after").and_then(|a| Keyset::parse(a));
    let now = st.now();
    let page = match reads::queue(&st.store, status, after.as_ref(), QUEUE_LIMIT).await {
        Ok(page) => page,
        Err(e) => return super::refused(&st, &c, &e, "/admin"),
    };
    let next = page
        .next(|(d, _)| Keyset::of(d.created_at, d.id.as_str()))
        .map(|after| {
            format!(
                "/admin/disputes?status={}&after={after}",
                status.map(DisputeStatus::as_str).unwrap_or("")
            )
        });
    let rows = page
        .items
        .iter()
        .map(|(d, charge)| row(w, d, charge.as_ref(), now))
        .collect();
    c.page(
        StatusCode::OK,
        QueuePage {
            c: c.chrome(&st),
            w,
            title: c.a.disputes,
            notice: super::notice(c.a, q.get("notice").map(String::as_str)),
            status: status.map(DisputeStatus::as_str).unwrap_or(""),
            rows,
            next,
        },
    )
}

pub struct MessageRow {
    pub author: &'static str,
    pub author_key: &'static str,
    pub at: String,
    pub text: String,
}

pub struct ChargeView {
    pub payment_id: String,
    pub merchant_id: String,
    pub shop: String,
    pub amount: String,
    pub status: String,
    pub created: String,
    pub card: String,
    pub refunded: String,
}

#[derive(Template)]
#[template(path = "admin_dispute.html")]
struct DisputePage {
    c: Chrome,
    w: &'static DisputesTexts,
    title: String,
    notice: Option<&'static str>,
    row: Row,
    email: String,
    charge: Option<ChargeView>,
    messages: Vec<MessageRow>,
    closed: bool,
}

fn message(w: &'static DisputesTexts, m: &DisputeMessage) -> MessageRow {
    use paylink_core::dispute::Author;
    MessageRow {
        author: match m.author {
            Author::Payer => w.payer,
            Author::Merchant => w.merchant,
            Author::Operator => w.operator,
        },
        author_key: m.author.as_str(),
        at: format_datetime(m.created_at),
        text: m.text.clone(),
    }
}

/// `GET /admin/disputes/{id}`: the dispute, its charge, every message, and the forms.
pub async fn show(
    State(st): State<AppState>,
    c: Console,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let w = words(&c);
    let (d, messages) = match disputes::dispute(&st.store, &id).await {
        Ok(found) => found,
        Err(e) => return super::refused(&st, &c, &e, "/admin/disputes"),
    };
    let charge = match reads::charge(&st.store, &d).await {
        Ok(charge) => charge,
        Err(e) => return super::refused(&st, &c, &e, "/admin/disputes"),
    };
    let now = st.now();
    c.page(
        StatusCode::OK,
        DisputePage {
            c: c.chrome(&st),
            w,
            title: format!("{} {}", w.dispute, d.id),
            notice: super::notice(c.a, q.get("notice").map(String::as_str)),
            row: row(w, &d, charge.as_ref().map(|c| &c.found), now),
            email: d.email.clone(),
            charge: charge.map(|Charge { found, refunded }| ChargeView {
                payment_id: found.payment_id.to_string(),
                merchant_id: found.merchant_id.to_string(),
                shop: found.shop_name.clone(),
                amount: money(found.amount, found.currency),
                status: found.status.clone(),
                created: format_datetime(found.created_at),
                card: found.card_mask.clone(),
                refunded: money(refunded, found.currency),
            }),
            messages: messages.iter().map(|m| message(w, m)).collect(),
            closed: d.status == DisputeStatus::Closed,
        },
    )
}

/// The dispute a form acts on, read now (not as the page showed it: someone may have acted
/// meanwhile, and the ops refuse a closed one).
async fn current(st: &AppState, form: &ConsoleForm, id: &str) -> Result<Dispute, Response> {
    match disputes::dispute(&st.store, id).await {
        Ok((d, _)) => Ok(d),
        Err(e) => Err(super::refused(st, &form.c, &e, "/admin/disputes")),
    }
}

/// The answer to an action on dispute `id`: back to it with a notice, or the refusal.
async fn done(
    st: &AppState,
    form: &ConsoleForm,
    id: &str,
    outcome: Result<(), OpError>,
) -> Response {
    let back = format!("/admin/disputes/{id}");
    match outcome {
        Ok(()) => form.c.redirect(&format!("{back}?notice=done")),
        Err(e) => super::refused(st, &form.c, &moved_meanwhile(st, id, e).await, &back),
    }
}

/// A refusal of an action on a dispute decided or closed meanwhile reads as that (409),
/// whatever step of the action noticed (a refund can fail first on the money it moved).
async fn moved_meanwhile(st: &AppState, id: &str, e: OpError) -> OpError {
    use paylink_core::error::Rule;
    use paylink_core::DomainError;
    if matches!(e, OpError::Domain(DomainError::NotPermitted)) {
        return e;
    }
    match disputes::dispute(&st.store, id).await {
        Ok((d, _)) if d.status == DisputeStatus::Closed => DomainError::Invalid {
            field: "dispute",
            kind: Rule::Refused {
                reason: "the dispute is closed".into(),
            },
        }
        .into(),
        _ => e,
    }
}

/// `POST /admin/disputes/{id}/reply` (`text`): an operator's answer, emailed to the payer.
pub async fn reply(
    State(st): State<AppState>,
    Path(id): Path<String>,
    form: ConsoleForm,
) -> Response {
    let d = match current(&st, &form, &id).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let outcome = disputes::reply(
        &st.store,
        &mailer(&st),
        &d,
        Some(&form.c.actor),
        form.field("text"),
        st.now(),
    )
    .await
    .map(|_| ());
    done(&st, &form, &id, outcome).await
}

/// `POST /admin/disputes/{id}/decide` (`decision`, `text`): refund (admins, confirmed),
/// reject or chargeback later; it closes the dispute and is emailed to the payer.
pub async fn decide(
    State(st): State<AppState>,
    Path(id): Path<String>,
    form: ConsoleForm,
) -> Response {
    let back = format!("/admin/disputes/{id}");
    let Some(decision) = DisputeDecision::parse(form.field("decision")) else {
        return form.c.redirect(&back);
    };
    let d = match current(&st, &form, &id).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    // Refunds move money: confirmed first (support is refused by the op, unasked).
    if decision == DisputeDecision::Refund && form.c.may(Power::Admin) && !form.confirmed() {
        let w = words(&form.c);
        return super::confirm(
            &st,
            &form,
            w.refund_title,
            w.refund_question.to_string(),
            &format!("/admin/disputes/{id}/decide"),
            &back,
        );
    }
    let outcome = disputes::decide(
        &st,
        &mailer(&st),
        &form.c.actor,
        &d,
        decision,
        form.field("text"),
        st.now(),
    )
    .await;
    done(&st, &form, &id, outcome).await
}

/// `POST /admin/disputes/{id}/close` (`text`): closes without a decision, the text emailed.
pub async fn close(
    State(st): State<AppState>,
    Path(id): Path<String>,
    form: ConsoleForm,
) -> Response {
    let d = match current(&st, &form, &id).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let outcome = disputes::close(
        &st.store,
        &mailer(&st),
        &form.c.actor,
        &d,
        form.field("text"),
        st.now(),
    )
    .await;
    done(&st, &form, &id, outcome).await
}
