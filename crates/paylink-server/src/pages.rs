//! Payer-facing pages. `/link/{id}` and `/transfer/{id}` show the bill; the full checkout
//! (forms, QR codes, redirects) is built on this module.

use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use paylink_core::bill::Bill;
use paylink_core::id::BillId;
use paylink_core::money::format_fixed;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/link/{id}", get(bill_page))
        .route("/transfer/{id}", get(bill_page))
}

/// Escapes text for HTML element and attribute content.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(status: StatusCode, title: &str, body: String) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title></head><body><main>{body}</main></body></html>",
        escape(title)
    );
    (status, Html(html)).into_response()
}

async fn bill_page(State(st): State<AppState>, Path(id): Path<String>) -> Response {
    let bill = match BillId::parse(&id) {
        Some(id) => st.store.bill(&id).await,
        None => Ok(None),
    };
    match bill {
        Ok(Some(bill)) => render_bill(&bill, st.now()),
        Ok(None) => page(
            StatusCode::NOT_FOUND,
            "Bill not found",
            "<h1>Bill not found</h1>".into(),
        ),
        Err(e) => {
            tracing::error!(error = %e, "bill page failed");
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Error",
                "<h1>Something went wrong</h1>".into(),
            )
        }
    }
}

fn render_bill(bill: &Bill, now: i64) -> Response {
    let state = if bill.is_finished() {
        "This bill has been paid."
    } else if !bill.active {
        "This bill is not active."
    } else if bill.is_expired(now) {
        "This bill has expired."
    } else {
        "Awaiting payment."
    };
    let title = bill
        .name
        .clone()
        .unwrap_or_else(|| format!("Bill {}", bill.id));
    let body = format!(
        "<h1>{}</h1><p>{}</p><p><strong>{} {}</strong></p><p>Status: {}</p><p>{}</p>",
        escape(&title),
        escape(bill.description.as_deref().unwrap_or("")),
        format_fixed(bill.amount.minor()),
        bill.currency.code(),
        bill.status.as_str(),
        state
    );
    page(StatusCode::OK, &title, body)
}
