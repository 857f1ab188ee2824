//! The operator console at `/admin` (issue 14): the people who run an instance do their work
//! here, several at once, on the web app's foundation (server-side sessions in their own
//! cookie, CSRF on every form, English and Russian, no JavaScript needed). Every page calls
//! the same operations as the CLI ([`crate::ops`]), which check the operator's role and write
//! the audit log in the same plan as the action.
//!
//! - [`Console`]: the signed-in operator, or a redirect to the sign-in page.
//! - [`ConsoleForm`]: the same, for a POST, with its fields and CSRF token checked.
//! - Pages answer refusals in place; a POST that worked redirects (303) to a page that shows
//!   a fixed notice chosen by `?notice=` (never text from the request).

mod access;
mod audit;
mod disputes;
mod merchants;
mod money;
mod operators;
mod overview;
mod payouts;
mod postbacks;
pub mod texts;

use super::visitor::Visitor;
use super::Chrome;
use crate::ops::operators::role_of;
use crate::ops::OpError;
use crate::pages::{fields, html, see_other, Fields};
use crate::state::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use paylink_core::account::{Account, Session};
use paylink_core::audit::{Actor, Power, Role};
use paylink_core::error::Rule;
use paylink_core::DomainError;
use texts::ConsoleTexts;

/// The one-time link page of an operator (invitation, new password): its path segment is a
/// secret, so logs name the template.
pub const PASSWORD_LINK_ROUTE: &str = "/admin/password/{token}";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(overview::overview))
        .route(
            "/admin/sign-in",
            get(access::sign_in_page).post(access::sign_in),
        )
        .route("/admin/sign-out", post(access::sign_out))
        .route(
            PASSWORD_LINK_ROUTE,
            get(access::link_page).post(access::set_by_link),
        )
        .route("/admin/account", get(access::account))
        .route("/admin/account/password", post(access::change_password))
        .route("/admin/account/totp", post(access::totp_on))
        .route("/admin/account/totp/off", post(access::totp_off))
        .route(
            "/admin/operators",
            get(operators::list).post(operators::create),
        )
        .route("/admin/operators/{id}", post(operators::set))
        .merge(merchants::router())
        .merge(payouts::router())
        .merge(disputes::router())
        .merge(money::router())
        .merge(postbacks::router())
        .merge(audit::router())
}

/// The signed-in operator of a console page.
pub struct Console {
    pub v: Visitor,
    pub session: Session,
    pub account: Account,
    pub role: Role,
    /// Who the operations record in the audit log: the operator, from the client's address.
    pub actor: Actor,
    pub a: &'static ConsoleTexts,
}

impl Console {
    pub fn may(&self, power: Power) -> bool {
        self.actor.may(power)
    }

    /// What every console page shows around its content.
    pub fn chrome(&self, st: &AppState) -> Chrome {
        Chrome::of(st, &self.v)
    }

    /// A page's HTML with the visit's cookies.
    pub fn page(&self, status: StatusCode, template: impl Template) -> Response {
        self.v.finish(html(status, template))
    }

    /// A 303 to `to` with the visit's cookies.
    pub fn redirect(&self, to: &str) -> Response {
        self.v.finish(see_other(to))
    }
}

/// The console's words for the visitor's language.
pub fn words(v: &Visitor) -> &'static ConsoleTexts {
    texts::pick(v.t.lang, &texts::EN, &texts::RU)
}

impl FromRequestParts<AppState> for Console {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Response> {
        let Ok(v) = Visitor::from_request_parts(parts, st).await;
        let Some((session, account)) = v.signed_in.clone() else {
            return Err(v.finish(see_other("/admin/sign-in")));
        };
        // A disabled operator's sessions were revoked; a role this version does not know may
        // do nothing.
        let Some(role) = role_of(&account) else {
            return Err(v.finish(see_other("/admin/sign-in")));
        };
        let actor = Actor::operator(&account.email, role, &v.address);
        let a = words(&v);
        Ok(Console {
            v,
            session,
            account,
            role,
            actor,
            a,
        })
    }
}

/// A console form's POST: the operator, the fields, the CSRF token checked (a wrong one is
/// answered 403 before any handler runs).
pub struct ConsoleForm {
    pub c: Console,
    pub f: Fields,
    /// The raw body, for fields that repeat (checkboxes).
    pub body: Bytes,
}

impl ConsoleForm {
    pub fn field(&self, name: &str) -> &str {
        crate::pages::field(&self.f, name)
    }

    /// Every value of a repeated field, in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        form_urlencoded::parse(&self.body)
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .collect()
    }

    /// Whether the operator confirmed (the confirm page's button).
    pub fn confirmed(&self) -> bool {
        self.field("confirm") == "yes"
    }
}

impl FromRequest<AppState> for ConsoleForm {
    type Rejection = Response;

    async fn from_request(req: Request, st: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let c = Console::from_request_parts(&mut parts, st).await?;
        let req = Request::from_parts(parts, body);
        let body = Bytes::from_request(req, st)
            .await
            .map_err(IntoResponse::into_response)?;
        let f = fields(&body);
        if !c.v.csrf_ok(crate::pages::field(&f, "csrf")) {
            return Err(super::bad_form(&c.v));
        }
        Ok(ConsoleForm { c, f, body })
    }
}

/// The page that asks an operator to confirm an action on money: the same form again, every
/// field carried, with `confirm=yes`.
#[derive(Template)]
#[template(path = "admin_confirm.html")]
pub struct ConfirmPage {
    pub c: Chrome,
    pub title: String,
    pub question: String,
    pub action: String,
    pub carried: Vec<(String, String)>,
    pub cancel: String,
}

/// Asks to confirm `form`'s action (posted to `action`).
pub fn confirm(
    st: &AppState,
    form: &ConsoleForm,
    title: &str,
    question: String,
    action: &str,
    cancel: &str,
) -> Response {
    let carried = form_urlencoded::parse(&form.body)
        .filter(|(k, _)| k != "csrf" && k != "confirm")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    form.c.page(
        StatusCode::OK,
        ConfirmPage {
            c: form.c.chrome(st),
            title: title.to_string(),
            question,
            action: action.to_string(),
            carried,
            cancel: cancel.to_string(),
        },
    )
}

/// The fixed notice `?notice=` names, if any.
pub fn notice(a: &'static ConsoleTexts, key: Option<&str>) -> Option<&'static str> {
    match key? {
        "done" => Some(a.done),
        "moved" => Some(a.moved_meanwhile),
        "not_permitted" => Some(a.not_permitted),
        _ => None,
    }
}

/// The words for an operation's refusal in the console: the role, a change by someone else,
/// or the merchant app's words for the rest.
pub fn refusal(c: &Console, e: &OpError) -> &'static str {
    match e {
        OpError::Domain(DomainError::NotPermitted) => c.a.not_permitted,
        OpError::Domain(DomainError::PayoutNotCancelable) => c.a.moved_meanwhile,
        OpError::Domain(DomainError::Invalid {
            field: "dispute",
            kind: Rule::Refused { .. },
        }) => c.a.moved_meanwhile,
        OpError::Domain(DomainError::Invalid { field: "code", .. }) => c.a.wrong_code,
        OpError::Domain(DomainError::Invalid {
            field: "rules",
            kind: Rule::Refused { .. },
        }) => c.a.moved_meanwhile,
        OpError::Domain(DomainError::TransactionRejected) => c.a.refund_refused,
        OpError::Domain(DomainError::Invalid {
            field: "invite", ..
        }) => c.a.owner_has_password,
        OpError::Domain(DomainError::BalanceNotEnough) => c.a.balance_short,
        OpError::Domain(
            DomainError::MerchantBanned
            | DomainError::MerchantNotVerified
            | DomainError::SubscriptionInactive
            | DomainError::SubscriptionNotFound
            | DomainError::PayoutAccountBanned,
        ) => c.a.not_payable,
        OpError::Domain(DomainError::Invalid {
            field: "operator",
            kind: Rule::Refused { .. },
        }) => c.a.last_admin,
        e => super::refusal_text(c.v.t, e),
    }
}

/// The status a refusal is answered with.
pub fn refusal_status(e: &OpError) -> StatusCode {
    match e {
        OpError::Domain(DomainError::NotPermitted) => StatusCode::FORBIDDEN,
        OpError::Domain(DomainError::TooManyFailedAttempts) => StatusCode::TOO_MANY_REQUESTS,
        OpError::Domain(
            DomainError::PayoutNotCancelable
            | DomainError::Invalid {
                field: "dispute" | "rules",
                kind: Rule::Refused { .. },
            },
        ) => StatusCode::CONFLICT,
        OpError::Domain(
            DomainError::MerchantNotFound
            | DomainError::PayoutNotFound
            | DomainError::DisputeNotFound
            | DomainError::PaymentNotFound
            | DomainError::ShopNotFound,
        ) => StatusCode::NOT_FOUND,
        OpError::Domain(_) => StatusCode::UNPROCESSABLE_ENTITY,
        OpError::Store(s) => crate::app::storage_status(s),
    }
}

/// A simple page with a title and one message: a refusal answered in place.
#[derive(Template)]
#[template(path = "admin_message.html")]
pub struct MessagePage {
    pub c: Chrome,
    pub title: String,
    pub message: String,
    pub back: String,
}

/// Answers a refused action with its words and status, and a link back.
pub fn refused(st: &AppState, c: &Console, e: &OpError, back: &str) -> Response {
    c.page(
        refusal_status(e),
        MessagePage {
            c: c.chrome(st),
            title: c.a.console.to_string(),
            message: refusal(c, e).to_string(),
            back: back.to_string(),
        },
    )
}

/// `text` if it is a plain query value (bounded, printable), else nothing: filters never carry
/// more than a search box holds.
pub fn query_text(text: Option<&String>) -> Option<String> {
    text.map(|t| t.trim())
        .filter(|t| !t.is_empty() && t.len() <= 200 && !t.chars().any(char::is_control))
        .map(str::to_string)
}
