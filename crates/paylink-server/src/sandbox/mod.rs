//! The sandbox: a test acquirer and payout provider, the issuer's 3-D Secure page, the SBP bank
//! app, and the API helpers that pay a bill or a permanent link without a browser. Every `/sandbox` route is here;
//! they are mounted in sandbox mode only.

pub mod acquirer;
mod bank;

use crate::dialects::{cardlink, procard};
use crate::state::AppState;
use axum::routing::{get, post};
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
        // Speaks Cardlink (its token, parameters and error shape), so the dialect holds it.
        .route("/sandbox/pay", post(cardlink::sandbox_pay))
        // Speaks Procard (its fields and error shape), and pays a permanent link.
        .route("/sandbox/permanent-links/pay", post(procard::sandbox_pay))
        .route("/sandbox/acs", get(bank::acs_page).post(bank::acs_page))
        .route("/sandbox/acs/answer", post(bank::acs_answer))
        .route(
            "/sandbox/sbp/{id}",
            get(bank::sbp_bank_page).post(bank::sbp_bank_pay),
        )
}
