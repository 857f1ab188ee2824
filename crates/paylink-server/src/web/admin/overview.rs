//! The console's overview (filled in by issue 14's work).

use super::Console;
use axum::response::{IntoResponse, Response};

pub async fn overview(c: Console) -> Response {
    c.redirect("/admin/operators").into_response()
}
