//! The operators page: every operator with role, second factor and access; an admin creates
//! operators (the one-time link is shown once and emailed), changes roles, takes access away
//! and gives it back, sends a new password link, turns a lost second factor off.

use super::{Console, ConsoleForm};
use crate::ops::operators;
use crate::state::AppState;
use crate::web::account::mailer;
use crate::web::Chrome;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use paylink_core::account::Account;
use paylink_core::audit::Role;
use paylink_core::time::format_datetime;
use std::collections::HashMap;

pub struct Row {
    pub id: String,
    pub email: String,
    pub role: String,
    pub totp: bool,
    pub invited: bool,
    pub disabled: bool,
    pub created: String,
    pub is_me: bool,
}

#[derive(Template)]
#[template(path = "admin_operators.html")]
struct OperatorsPage {
    c: Chrome,
    title: &'static str,
    rows: Vec<Row>,
    error: Option<&'static str>,
    notice: Option<&'static str>,
    /// The link of an operator just made (or a new password link), shown once.
    link: Option<String>,
    email: String,
}

fn row(a: &Account, me: &Account) -> Row {
    Row {
        id: a.id.to_string(),
        email: a.email.clone(),
        role: a.role.clone().unwrap_or_default(),
        totp: a.totp_sealed.is_some(),
        invited: a.password_hash.is_none(),
        disabled: a.disabled_at.is_some(),
        created: format_datetime(a.created_at),
        is_me: a.id == me.id,
    }
}

async fn render(
    st: &AppState,
    c: &Console,
    status: StatusCode,
    error: Option<&'static str>,
    notice: Option<&'static str>,
    link: Option<String>,
    email: &str,
) -> Response {
    let rows = match operators::list(&st.store).await {
        Ok(list) => list.iter().map(|a| row(a, &c.account)).collect(),
        Err(e) => return super::refused(st, c, &e, "/admin"),
    };
    c.page(
        status,
        OperatorsPage {
            c: c.chrome(st),
            title: c.a.operators,
            rows,
            error,
            notice,
            link,
            email: email.to_string(),
        },
    )
}

pub async fn list(
    State(st): State<AppState>,
    c: Console,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let notice = super::notice(c.a, q.get("notice").map(String::as_str));
    render(&st, &c, StatusCode::OK, None, notice, None, "").await
}

pub async fn create(State(st): State<AppState>, form: ConsoleForm) -> Response {
    let c = &form.c;
    let role = Role::parse(form.field("role")).unwrap_or(Role::Support);
    let email = form.field("email");
    match operators::create(&st.store, &mailer(&st), &c.actor, email, role, st.now()).await {
        Ok(made) => {
            render(
                &st,
                c,
                StatusCode::OK,
                None,
                Some(c.a.operator_created),
                Some(made.link),
                "",
            )
            .await
        }
        Err(e) => {
            let status = super::refusal_status(&e);
            render(
                &st,
                c,
                status,
                Some(super::refusal(c, &e)),
                None,
                None,
                email,
            )
            .await
        }
    }
}

/// One operator's change: `do` is `admin`, `support`, `disable`, `enable`, `reset_link` or
/// `reset_totp`.
pub async fn set(
    State(st): State<AppState>,
    Path(id): Path<String>,
    form: ConsoleForm,
) -> Response {
    let c = &form.c;
    let now = st.now();
    let target = match operators::operator(&st.store, &id).await {
        Ok(a) => a,
        Err(e) => return super::refused(&st, c, &e, "/admin/operators"),
    };
    let role = target
        .role
        .as_deref()
        .and_then(Role::parse)
        .unwrap_or(Role::Support);
    let disabled = target.disabled_at.is_some();
    let outcome = match form.field("do") {
        "admin" => operators::set_access(&st.store, &c.actor, &id, Role::Admin, disabled, now)
            .await
            .map(|_| None),
        "support" => operators::set_access(&st.store, &c.actor, &id, Role::Support, disabled, now)
            .await
            .map(|_| None),
        "disable" => operators::set_access(&st.store, &c.actor, &id, role, true, now)
            .await
            .map(|_| None),
        "enable" => operators::set_access(&st.store, &c.actor, &id, role, false, now)
            .await
            .map(|_| None),
        "reset_link" => operators::reset_link(&st.store, &mailer(&st), &c.actor, &id, now)
            .await
            .map(Some),
        "reset_totp" => operators::disable_totp(&st.store, &st.keys, &c.actor, &target, None, now)
            .await
            .map(|_| None),
        _ => return c.redirect("/admin/operators"),
    };
    match outcome {
        Ok(None) => c.redirect("/admin/operators?notice=done"),
        Ok(Some(link)) => {
            render(&st, c, StatusCode::OK, None, Some(c.a.done), Some(link), "").await
        }
        Err(e) => {
            let status = super::refusal_status(&e);
            render(&st, c, status, Some(super::refusal(c, &e)), None, None, "").await
        }
    }
}
