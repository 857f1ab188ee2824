//! Console section: payouts (filled in by issue 14's work).

use crate::state::AppState;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
}
