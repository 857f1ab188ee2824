//! The web app around the APIs (issue 13): the landing page, merchants' accounts (sign up, sign
//! in, sessions, password resets and invitations), the API integration page and the dashboard.
//! Server-rendered, usable without JavaScript, in Russian and English; every form carries a
//! CSRF token; every page calls the application layer ([`crate::ops`]) and holds no rule.

mod account;
pub mod admin;
mod charts;
mod customer;
mod links;
mod lists;
pub mod mail;
mod merchant;
mod once;
mod payouts;
pub mod texts;
pub mod visitor;

use crate::config::Mode;
use crate::ops::OpError;
use crate::pages::html;
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use paylink_core::error::Rule;
use paylink_core::DomainError;
use texts::WebTexts;
use visitor::Visitor;

/// The one-time link page (invitation, password reset): its path segment is a secret, so logs
/// name the template.
pub const PASSWORD_LINK_ROUTE: &str = "/password/{token}";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(landing))
        .route(
            "/sign-up",
            get(account::sign_up_page).post(account::sign_up),
        )
        .route(
            "/sign-in",
            get(account::sign_in_page).post(account::sign_in),
        )
        .route("/sign-out", post(account::sign_out))
        .route(
            "/forgot-password",
            get(account::forgot_page).post(account::forgot),
        )
        .route(
            PASSWORD_LINK_ROUTE,
            get(account::link_page).post(account::set_by_link),
        )
        .route(
            "/account/password",
            get(account::change_page).post(account::change),
        )
        .route(
            "/find-transactions",
            get(customer::find_page).post(customer::find),
        )
        .route(
            "/disputes/new",
            get(customer::dispute_page).post(customer::open_dispute),
        )
        .route("/disputes", get(customer::merchant_disputes))
        .route("/disputes.csv", get(customer::merchant_disputes_csv))
        .route("/disputes/{id}", get(customer::merchant_dispute))
        .route("/disputes/{id}/reply", post(customer::reply))
        .route("/dashboard", get(merchant::dashboard))
        .route("/bills", get(lists::bills).post(lists::create_bill))
        .route("/bills.csv", get(lists::bills_csv))
        .route("/bills/{id}/active", post(lists::set_bill_active))
        .route("/postbacks", get(lists::postbacks))
        .route("/postbacks.csv", get(lists::postbacks_csv))
        .route("/links", get(links::links))
        .route("/links/enable", post(links::enable))
        .route(
            "/links/key",
            get(links::key_confirm).post(links::rotate_key),
        )
        .route("/payouts", get(payouts::payouts_list).post(payouts::create))
        .route("/payouts.csv", get(payouts::payouts_csv))
        .route("/payouts/accounts", post(payouts::add_account))
        .route("/payouts/{id}/cancel", post(payouts::cancel))
        .route("/postbacks/{id}/redeliver", post(lists::redeliver))
        .route("/payments", get(lists::payments))
        .route("/payments.csv", get(lists::payments_csv))
        .route("/payments/{id}", get(lists::payment))
        .route("/payments/{id}/refund", post(lists::refund))
        .route("/integration", get(merchant::integration))
        .route(
            "/integration/token",
            get(merchant::token_confirm).post(merchant::refresh_token),
        )
        .route("/integration/shops", post(merchant::create_shop))
        .route("/integration/shops/{id}", post(merchant::update_shop))
        .route(
            "/integration/shops/{id}/test-postback",
            post(merchant::test_postback),
        )
        .route(
            "/integration/shops/{id}/webhook-secret",
            get(merchant::webhook_confirm).post(merchant::rotate_webhook),
        )
}

/// What every page shows around its content: the words, who is signed in, the form token,
/// whether the instance is a sandbox.
pub struct Chrome {
    pub t: &'static WebTexts,
    /// The signed-in account's email.
    pub email: Option<String>,
    pub csrf: String,
    pub sandbox: bool,
    /// The console's words on a console page (its navigation instead of the merchant app's).
    pub console: Option<&'static admin::texts::ConsoleTexts>,
    /// A console page shown to an admin (support sees no buttons for admin actions).
    pub admin: bool,
    /// This page in the other language (see [`Visitor::other_lang`]).
    pub other_lang: String,
}

impl Chrome {
    pub fn of(st: &AppState, v: &Visitor) -> Chrome {
        Chrome {
            t: v.t,
            email: v.signed_in.as_ref().map(|(_, a)| a.email.clone()),
            csrf: v.csrf().to_string(),
            sandbox: st.settings.mode == Mode::Sandbox,
            console: v.console.then(|| admin::words(v)),
            admin: v.signed_in.as_ref().is_some_and(|(_, a)| {
                crate::ops::operators::role_of(a) == Some(paylink_core::audit::Role::Admin)
            }),
            other_lang: v.other_lang.clone(),
        }
    }
}

/// A page's HTML with the visit's cookies.
pub fn page(v: &Visitor, status: StatusCode, template: impl Template) -> Response {
    v.finish(html(status, template))
}

/// A redirect (303: the browser follows with a GET) with the visit's cookies.
pub fn redirect(v: &Visitor, to: &str) -> Response {
    v.finish(crate::pages::see_other(to))
}

/// The words for an operation's refusal; storage trouble is logged and said generically.
pub fn refusal_text(t: &WebTexts, e: &OpError) -> &'static str {
    match e {
        OpError::Domain(d) => match d {
            DomainError::Invalid { field, kind } => match (*field, kind) {
                ("email", Rule::Taken) => t.email_taken,
                ("email", _) => t.email_invalid,
                ("password", _) => t.password_rules,
                ("link", _) => t.link_gone,
                ("current_password", _) => t.wrong_credentials,
                ("text", Rule::Required) => t.field_required,
                ("text", _) => t.something_wrong,
                (_, Rule::Required) => t.field_required,
                _ => t.field_invalid,
            },
            DomainError::Unauthorized => t.wrong_credentials,
            DomainError::TooManyFailedAttempts => t.too_many_attempts,
            DomainError::ShopNotFound
            | DomainError::DisputeNotFound
            | DomainError::PaymentNotFound => t.not_found,
            _ => t.something_wrong,
        },
        OpError::Store(s) => {
            crate::app::log_storage_failure(s, "a web page's operation");
            t.something_wrong
        }
    }
}

/// Whether `route` (a route's template) is one of the web app's or the console's pages:
/// everything but the APIs (Cardlink's `/api/`, the sandbox's, Procard's, Card API's), the
/// payer's pages, health and the API documents.
pub(crate) fn serves(route: &str) -> bool {
    const NOT_OURS: [&str; 7] = [
        "/api/",
        "/sandbox/",
        "/permanent-links/",
        "/v5/",
        "/health",
        "/docs",
        "/openapi/",
    ];
    !route.is_empty()
        && !crate::pages::serves(route)
        && !NOT_OURS.iter().any(|p| route.starts_with(p))
}

/// A request of the web app or the console past its deadline: 503 with the words of a failure.
pub(crate) fn late(accept_language: Option<&str>) -> Response {
    let t = texts::from_accept_language(accept_language);
    (StatusCode::SERVICE_UNAVAILABLE, t.something_wrong).into_response()
}

/// The status of a page that answers `e`: `refused` for the domain's refusals (429 for a limit
/// on attempts); for storage trouble 503 while the database is out of reach (the visitor retries), else 500.
pub fn status_of(e: &OpError, refused: StatusCode) -> StatusCode {
    match e {
        OpError::Domain(DomainError::TooManyFailedAttempts) => StatusCode::TOO_MANY_REQUESTS,
        OpError::Domain(_) => refused,
        OpError::Store(s) => crate::app::storage_status(s),
    }
}

#[derive(Template)]
#[template(path = "web_landing.html")]
struct Landing {
    c: Chrome,
    title: &'static str,
}

async fn landing(State(st): State<AppState>, v: Visitor) -> Response {
    let c = Chrome::of(&st, &v);
    let title = c.t.tagline;
    page(&v, StatusCode::OK, Landing { c, title })
}

/// The answer to a page a signed-out visitor may not see: to the sign-in page.
pub fn to_sign_in(v: &Visitor) -> Response {
    redirect(v, "/sign-in")
}

/// A signed-in merchant's form: the visitor, the merchant, the fields. A signed-out visitor is
/// sent to the sign-in page, and a form whose CSRF token is wrong is answered 403, before any
/// handler runs.
pub struct SignedForm {
    pub v: Visitor,
    pub merchant: paylink_core::id::MerchantId,
    pub f: crate::pages::Fields,
}

impl axum::extract::FromRequest<AppState> for SignedForm {
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, st: &AppState) -> Result<Self, Response> {
        use axum::extract::FromRequestParts;
        let (mut parts, body) = req.into_parts();
        let Ok(v) = Visitor::from_request_parts(&mut parts, st).await;
        let Some(merchant) = v.merchant() else {
            return Err(to_sign_in(&v));
        };
        let req = axum::extract::Request::from_parts(parts, body);
        let body = axum::body::Bytes::from_request(req, st)
            .await
            .map_err(IntoResponse::into_response)?;
        let f = crate::pages::fields(&body);
        if !v.csrf_ok(crate::pages::field(&f, "csrf")) {
            return Err(bad_form(&v));
        }
        Ok(SignedForm { v, merchant, f })
    }
}

/// The answer to a form whose CSRF token is wrong (an old page, or another site's form).
pub fn bad_form(v: &Visitor) -> Response {
    v.finish((StatusCode::FORBIDDEN, v.t.form_expired).into_response())
}
