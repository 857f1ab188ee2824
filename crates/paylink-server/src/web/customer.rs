//! Pages for payers, no account needed: "Find transactions" (a charge by what the bank
//! statement shows: card first 6 and last 4 digits, date, amount; exact matches only, rate
//! limited per address) and the dispute form ("didn't buy anything?"). And the merchant's side
//! of disputes: the list, one dispute with its messages, and the reply.

use super::account::mailer;
use super::{bad_form, page, refusal_text, to_sign_in, Chrome, Visitor};
use crate::ops::disputes::{self, ChargeQuery, NewDispute};
use crate::ops::OpError;
use crate::pages::{field, fields};
use crate::state::AppState;
use crate::web::SignedForm;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use paylink_core::dispute::{Author, Dispute, DisputeStatus};
use paylink_core::id::PaymentId;
use paylink_core::money::format_fixed;
use paylink_core::time::format_datetime;
use paylink_core::DomainError;
use std::collections::HashMap;

/// A found charge as the page shows it.
struct Found {
    payment_id: String,
    proof: String,
    shop: String,
    date: String,
    amount: String,
    status: String,
    card: String,
}

#[derive(Template)]
#[template(path = "web_find.html")]
struct FindPage {
    c: Chrome,
    title: &'static str,
    error: Option<&'static str>,
    first6: String,
    last4: String,
    phone: String,
    date: String,
    amount: String,
    searched: bool,
    found: Vec<Found>,
}

pub async fn find_page(State(st): State<AppState>, v: Visitor) -> Response {
    let c = Chrome::of(&st, &v);
    let title = c.t.find_transactions;
    page(
        &v,
        StatusCode::OK,
        FindPage {
            c,
            title,
            error: None,
            first6: String::new(),
            last4: String::new(),
            phone: String::new(),
            date: String::new(),
            amount: String::new(),
            searched: false,
            found: Vec::new(),
        },
    )
}

pub async fn find(State(st): State<AppState>, v: Visitor, body: Bytes) -> Response {
    let f = fields(&body);
    if !v.csrf_ok(field(&f, "csrf")) {
        return bad_form(&v);
    }
    let q = ChargeQuery {
        first6: field(&f, "first6"),
        last4: field(&f, "last4"),
        phone: field(&f, "phone"),
        date: field(&f, "date"),
        amount: field(&f, "amount"),
    };
    let result =
        disputes::find_charges(&st.store, &st.keys.fingerprint, &q, &v.address, st.now()).await;
    let c = Chrome::of(&st, &v);
    let title = c.t.find_transactions;
    let mut p = FindPage {
        c,
        title,
        error: None,
        first6: q.first6.to_string(),
        last4: q.last4.to_string(),
        phone: q.phone.to_string(),
        date: q.date.to_string(),
        amount: q.amount.to_string(),
        searched: false,
        found: Vec::new(),
    };
    let status = match result {
        Ok(found) => {
            p.searched = true;
            p.found = found
                .into_iter()
                .map(|f| Found {
                    proof: disputes::charge_proof(&st.keys, f.payment_id.as_str()),
                    payment_id: f.payment_id.to_string(),
                    shop: f.shop_name,
                    date: format!("{} UTC", format_datetime(f.created_at)),
                    amount: format!("{} {}", format_fixed(f.amount), f.currency),
                    status: f.status,
                    // An SBP payment has no card: it was found by the payer's phone.
                    card: if f.card_mask.is_empty() {
                        "SBP".to_string()
                    } else {
                        f.card_mask
                    },
                })
                .collect();
            StatusCode::OK
        }
        Err(OpError::Domain(DomainError::Invalid { .. })) => {
            // A malformed field matches nothing: said the same way as no match.
            p.searched = true;
            StatusCode::OK
        }
        Err(e) => {
            p.error = Some(refusal_text(v.t, &e));
            super::status_of(&e, StatusCode::INTERNAL_SERVER_ERROR)
        }
    };
    page(&v, status, p)
}

#[derive(Template)]
#[template(path = "web_dispute_new.html")]
struct DisputeForm {
    c: Chrome,
    title: &'static str,
    error: Option<&'static str>,
    /// The charge the dispute is about, as the payer found it.
    charge: Option<String>,
    payment: String,
    proof: String,
    email: String,
    text: String,
    /// Once sent: the dispute's reference.
    reference: Option<String>,
}

/// The charge a dispute form is about, described for the payer (nothing the search did not
/// show), when `proof` shows the payer found it by searching.
async fn charge_line(st: &AppState, payment: &str, proof: &str) -> Option<String> {
    if !disputes::proof_ok(&st.keys, payment, proof) {
        return None;
    }
    let id = PaymentId::parse(payment)?;
    let p = st.store.payment(&id).await.ok()??;
    Some(format!(
        "{} {} · {} · {}",
        format_fixed(p.amount),
        p.currency,
        format_datetime(p.created_at),
        p.from_card
    ))
}

pub async fn dispute_page(
    State(st): State<AppState>,
    v: Visitor,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let payment = q.get("payment").cloned().unwrap_or_default();
    let proof = q.get("proof").cloned().unwrap_or_default();
    let charge = charge_line(&st, &payment, &proof).await;
    let c = Chrome::of(&st, &v);
    let title = c.t.dispute_title;
    page(
        &v,
        StatusCode::OK,
        DisputeForm {
            c,
            title,
            error: None,
            payment: if charge.is_some() {
                payment
            } else {
                String::new()
            },
            proof: if charge.is_some() {
                proof
            } else {
                String::new()
            },
            charge,
            email: String::new(),
            text: String::new(),
            reference: None,
        },
    )
}

pub async fn open_dispute(State(st): State<AppState>, v: Visitor, body: Bytes) -> Response {
    let f = fields(&body);
    if !v.csrf_ok(field(&f, "csrf")) {
        return bad_form(&v);
    }
    let payment = field(&f, "payment");
    let proof = field(&f, "proof");
    let text = f.get("text").map_or("", String::as_str);
    let result = disputes::open(
        &st.store,
        &st.keys,
        &mailer(&st),
        NewDispute {
            payment_id: Some(payment),
            proof,
            email: field(&f, "email"),
            text,
        },
        &v.address,
        st.now(),
    )
    .await;
    let c = Chrome::of(&st, &v);
    let title = c.t.dispute_title;
    let mut p = DisputeForm {
        c,
        title,
        error: None,
        charge: charge_line(&st, payment, proof).await,
        payment: payment.to_string(),
        proof: proof.to_string(),
        email: field(&f, "email").to_string(),
        text: text.to_string(),
        reference: None,
    };
    match result {
        Ok(d) => {
            p.reference = Some(d.id.to_string());
            page(&v, StatusCode::OK, p)
        }
        Err(e) => {
            p.error = Some(refusal_text(v.t, &e));
            page(
                &v,
                super::status_of(&e, StatusCode::UNPROCESSABLE_ENTITY),
                p,
            )
        }
    }
}

fn status_text(v: &Visitor, s: DisputeStatus) -> &'static str {
    match s {
        DisputeStatus::Open => v.t.dispute_status_open,
        DisputeStatus::Answered => v.t.dispute_status_answered,
        DisputeStatus::Closed => v.t.dispute_status_closed,
    }
}

struct DisputeRow {
    id: String,
    created: String,
    status: &'static str,
    due: String,
    email: String,
}

#[derive(Template)]
#[template(path = "web_disputes.html")]
struct DisputesPage {
    c: Chrome,
    title: &'static str,
    rows: Vec<DisputeRow>,
}

pub async fn merchant_disputes(
    State(st): State<AppState>,
    v: Visitor,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(merchant) = v.merchant() else {
        return to_sign_in(&v);
    };
    let page_no = q
        .get("page")
        .and_then(|p| p.parse::<i64>().ok())
        .unwrap_or(1)
        .clamp(1, 100_000);
    match disputes::merchant_disputes(&st.store, &merchant, page_no, 50).await {
        Ok(list) => {
            let rows = list
                .iter()
                .map(|d| DisputeRow {
                    id: d.id.to_string(),
                    created: format_datetime(d.created_at),
                    status: status_text(&v, d.status),
                    due: format_datetime(d.answer_due()),
                    email: d.email.clone(),
                })
                .collect();
            let c = Chrome::of(&st, &v);
            let title = c.t.disputes;
            page(&v, StatusCode::OK, DisputesPage { c, title, rows })
        }
        Err(e) => failed(&v, &e),
    }
}

/// The merchant's disputes as CSV, newest first, streamed.
pub async fn merchant_disputes_csv(State(st): State<AppState>, v: Visitor) -> Response {
    let Some(merchant) = v.merchant() else {
        return to_sign_in(&v);
    };
    let mut page_no = 0;
    super::lists::stream_csv(
        &v,
        "disputes.csv",
        &[
            "dispute_id",
            "created_at",
            "status",
            "answer_due",
            "email",
            "payment_id",
        ],
        move |request: paylink_store::PageRequest| {
            page_no += 1;
            let (st, merchant, no) = (st.clone(), merchant.clone(), page_no);
            async move {
                let per = i64::from(request.limit);
                let items = st
                    .store
                    .disputes_of(&merchant, per + 1, (no - 1) * per)
                    .await?;
                Ok(paylink_store::Page::of(items, request.limit as usize))
            }
        },
        |d: &Dispute| {
            super::lists::csv_line(&[
                d.id.as_str(),
                &format_datetime(d.created_at),
                d.status.as_str(),
                &format_datetime(d.answer_due()),
                &d.email,
                d.payment_id.as_ref().map_or("", |p| p.as_str()),
            ])
        },
        |d: &Dispute| paylink_store::Keyset {
            created_at: d.created_at,
            id: d.id.to_string(),
        },
    )
}

fn failed(v: &Visitor, e: &OpError) -> Response {
    let status = match e {
        OpError::Domain(DomainError::DisputeNotFound) => StatusCode::NOT_FOUND,
        OpError::Domain(_) => StatusCode::UNPROCESSABLE_ENTITY,
        OpError::Store(s) => crate::app::storage_status(s),
    };
    let text = match e {
        OpError::Domain(DomainError::DisputeNotFound) => v.t.not_found,
        e => refusal_text(v.t, e),
    };
    v.finish((status, text).into_response())
}

#[derive(Template)]
#[template(path = "web_dispute.html")]
struct DisputePage {
    c: Chrome,
    title: &'static str,
    notice: Option<&'static str>,
    error: Option<&'static str>,
    id: String,
    status: &'static str,
    due: String,
    email: String,
    charge: Option<String>,
    /// Author, time, text.
    messages: Vec<(&'static str, String, String)>,
    open: bool,
}

async fn dispute_view(
    st: &AppState,
    v: &Visitor,
    d: &Dispute,
    notice: Option<&'static str>,
    error: Option<&'static str>,
    status: StatusCode,
) -> Response {
    let merchant = match v.merchant() {
        Some(m) => m,
        None => return to_sign_in(v),
    };
    let (d, messages) = match disputes::merchant_dispute(&st.store, &merchant, d.id.as_str()).await
    {
        Ok(x) => x,
        Err(e) => return failed(v, &e),
    };
    // The merchant sees its own charge (the proof is made here, for its own payment).
    let charge = match &d.payment_id {
        Some(p) => {
            charge_line(
                st,
                p.as_str(),
                &disputes::charge_proof(&st.keys, p.as_str()),
            )
            .await
        }
        None => None,
    };
    let c = Chrome::of(st, v);
    let title = c.t.disputes;
    page(
        v,
        status,
        DisputePage {
            c,
            title,
            notice,
            error,
            id: d.id.to_string(),
            status: status_text(v, d.status),
            due: format_datetime(d.answer_due()),
            email: d.email.clone(),
            charge,
            messages: messages
                .into_iter()
                .map(|m| {
                    let who = match m.author {
                        Author::Payer => v.t.from_payer,
                        Author::Merchant => v.t.from_merchant,
                        Author::Operator => v.t.from_operator,
                    };
                    (who, format_datetime(m.created_at), m.text)
                })
                .collect(),
            open: d.status != DisputeStatus::Closed,
        },
    )
}

/// The query a reply redirects to: the dispute's page says it was sent (and a reload of it
/// sends nothing again).
const REPLIED: &str = "notice=replied";

pub async fn merchant_dispute(
    State(st): State<AppState>,
    v: Visitor,
    Path(id): Path<String>,
    uri: axum::http::Uri,
) -> Response {
    let Some(merchant) = v.merchant() else {
        return to_sign_in(&v);
    };
    let notice = (uri.query() == Some(REPLIED)).then_some(v.t.replied);
    match disputes::merchant_dispute(&st.store, &merchant, &id).await {
        Ok((d, _)) => dispute_view(&st, &v, &d, notice, None, StatusCode::OK).await,
        Err(e) => failed(&v, &e),
    }
}

pub async fn reply(
    State(st): State<AppState>,
    Path(id): Path<String>,
    form: SignedForm,
) -> Response {
    let SignedForm { v, merchant, f } = form;
    let d = match disputes::merchant_dispute(&st.store, &merchant, &id).await {
        Ok((d, _)) => d,
        Err(e) => return failed(&v, &e),
    };
    let text = f.get("text").map_or("", String::as_str);
    match disputes::reply(&st.store, &mailer(&st), &d, None, text, st.now()).await {
        Ok(_) => super::redirect(&v, &format!("/disputes/{}?{REPLIED}", d.id)),
        Err(e) => {
            let text = refusal_text(v.t, &e);
            dispute_view(
                &st,
                &v,
                &d,
                None,
                Some(text),
                super::status_of(&e, StatusCode::UNPROCESSABLE_ENTITY),
            )
            .await
        }
    }
}
