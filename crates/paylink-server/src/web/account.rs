//! Account pages: sign up, sign in, sign out, "forgot password", the one-time link page (an
//! invitation or a reset: choose a password) and changing the password.

use super::{bad_form, page, redirect, refusal_text, status_of, to_sign_in, Chrome, Visitor};
use crate::ops::accounts::{self, Mailer};
use crate::pages::{field, fields};
use crate::state::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use paylink_core::account::AccountKind;

/// One input of a form.
pub struct Field {
    pub label: &'static str,
    pub name: &'static str,
    pub kind: &'static str,
    pub value: String,
    pub autocomplete: &'static str,
    pub required: bool,
}

impl Field {
    pub fn new(label: &'static str, name: &'static str, kind: &'static str) -> Field {
        Field {
            label,
            name,
            kind,
            value: String::new(),
            autocomplete: "off",
            required: true,
        }
    }

    pub fn auto(mut self, autocomplete: &'static str) -> Field {
        self.autocomplete = autocomplete;
        self
    }

    pub fn value(mut self, value: &str) -> Field {
        self.value = value.to_string();
        self
    }
}

#[derive(Template)]
#[template(path = "web_form.html")]
pub struct FormPage {
    pub c: Chrome,
    pub title: &'static str,
    pub intro: Option<&'static str>,
    pub error: Option<&'static str>,
    pub notice: Option<&'static str>,
    pub show_form: bool,
    pub action: String,
    pub fields: Vec<Field>,
    pub submit: &'static str,
    pub links: Vec<(String, &'static str)>,
}

impl FormPage {
    pub fn new(c: Chrome, title: &'static str, action: &str, fields: Vec<Field>) -> FormPage {
        FormPage {
            c,
            title,
            intro: None,
            error: None,
            notice: None,
            show_form: true,
            action: action.to_string(),
            fields,
            submit: title,
            links: Vec::new(),
        }
    }
}

fn sign_up_form(st: &AppState, v: &Visitor, email: &str, shop: &str) -> FormPage {
    let t = v.t;
    let mut p = FormPage::new(
        Chrome::of(st, v),
        t.sign_up,
        "/sign-up",
        vec![
            Field::new(t.email, "email", "email")
                .auto("email")
                .value(email),
            Field::new(t.password, "password", "password").auto("new-password"),
            Field::new(t.shop_name, "shop_name", "text")
                .auto("organization")
                .value(shop),
        ],
    );
    p.intro = Some(t.password_rules);
    p.links = vec![("/sign-in".into(), t.have_account)];
    p
}

pub async fn sign_up_page(State(st): State<AppState>, v: Visitor) -> Response {
    if v.signed_in.is_some() {
        return redirect(&v, "/dashboard");
    }
    page(&v, StatusCode::OK, sign_up_form(&st, &v, "", ""))
}

pub async fn sign_up(State(st): State<AppState>, mut v: Visitor, body: Bytes) -> Response {
    let f = fields(&body);
    if !v.csrf_ok(field(&f, "csrf")) {
        return bad_form(&v);
    }
    let (email, password, shop) = (
        field(&f, "email"),
        f.get("password").map_or("", String::as_str),
        field(&f, "shop_name"),
    );
    let now = st.now();
    match accounts::sign_up(&st.store, &st.keys, email, password, shop, &v.address, now).await {
        Ok((onboarded, s)) => {
            let seconds = accounts::session_seconds(&s.session, now);
            v.start_session(s.token.expose(), seconds, s.session, s.account);
            // The token is shown now or never: the integration page with it, not a redirect.
            super::merchant::welcome(&st, &v, &onboarded.merchant_id, onboarded.api_token).await
        }
        Err(e) => {
            let mut p = sign_up_form(&st, &v, email, shop);
            p.error = Some(refusal_text(v.t, &e));
            page(&v, status_of(&e, StatusCode::UNPROCESSABLE_ENTITY), p)
        }
    }
}

fn sign_in_form(st: &AppState, v: &Visitor, email: &str) -> FormPage {
    let t = v.t;
    let mut p = FormPage::new(
        Chrome::of(st, v),
        t.sign_in,
        "/sign-in",
        vec![
            Field::new(t.email, "email", "email")
                .auto("email")
                .value(email),
            Field::new(t.password, "password", "password").auto("current-password"),
        ],
    );
    p.links = vec![
        ("/forgot-password".into(), t.forgot_password),
        ("/sign-up".into(), t.no_account),
    ];
    p
}

pub async fn sign_in_page(State(st): State<AppState>, v: Visitor) -> Response {
    if v.signed_in.is_some() {
        return redirect(&v, "/dashboard");
    }
    page(&v, StatusCode::OK, sign_in_form(&st, &v, ""))
}

pub async fn sign_in(State(st): State<AppState>, mut v: Visitor, body: Bytes) -> Response {
    let f = fields(&body);
    if !v.csrf_ok(field(&f, "csrf")) {
        return bad_form(&v);
    }
    let email = field(&f, "email");
    let password = f.get("password").map_or("", String::as_str);
    let now = st.now();
    match accounts::sign_in(
        &st.store,
        &st.keys,
        AccountKind::Merchant,
        accounts::Credentials {
            email,
            password,
            code: "",
        },
        &v.address,
        now,
    )
    .await
    {
        Ok(s) => {
            let seconds = accounts::session_seconds(&s.session, now);
            v.start_session(s.token.expose(), seconds, s.session, s.account);
            redirect(&v, "/dashboard")
        }
        Err(e) => {
            let mut p = sign_in_form(&st, &v, email);
            p.error = Some(refusal_text(v.t, &e));
            page(&v, status_of(&e, StatusCode::UNAUTHORIZED), p)
        }
    }
}

pub async fn sign_out(State(st): State<AppState>, mut v: Visitor, body: Bytes) -> Response {
    let f = fields(&body);
    if !v.csrf_ok(field(&f, "csrf")) {
        return bad_form(&v);
    }
    if let Some((session, _)) = &v.signed_in {
        if let Err(e) = accounts::sign_out(&st.store, session, st.now()).await {
            tracing::error!(error = %e, "signing out failed");
        }
    }
    v.clear_session();
    redirect(&v, "/")
}

fn forgot_form(st: &AppState, v: &Visitor) -> FormPage {
    let t = v.t;
    let mut p = FormPage::new(
        Chrome::of(st, v),
        t.forgot_password,
        "/forgot-password",
        vec![Field::new(t.email, "email", "email").auto("email")],
    );
    p.intro = Some(t.forgot_intro);
    p.submit = t.send_link;
    p.links = vec![("/sign-in".into(), t.sign_in)];
    p
}

pub async fn forgot_page(State(st): State<AppState>, v: Visitor) -> Response {
    page(&v, StatusCode::OK, forgot_form(&st, &v))
}

pub fn mailer(st: &AppState) -> Mailer<'_> {
    Mailer::of(st)
}

pub async fn forgot(State(st): State<AppState>, v: Visitor, body: Bytes) -> Response {
    let f = fields(&body);
    if !v.csrf_ok(field(&f, "csrf")) {
        return bad_form(&v);
    }
    let mut p = forgot_form(&st, &v);
    let email = field(&f, "email");
    match accounts::forgot_password(&st.store, &mailer(&st), email, &v.address, st.now()).await {
        Ok(()) => {
            p.notice = Some(v.t.link_sent);
            p.show_form = false;
            page(&v, StatusCode::OK, p)
        }
        Err(e) => {
            p.error = Some(refusal_text(v.t, &e));
            page(&v, status_of(&e, StatusCode::INTERNAL_SERVER_ERROR), p)
        }
    }
}

/// Where a surface's one-time links (invitations, resets) live and lead: the merchant app's
/// and the console's differ only in these.
pub struct LinkPages {
    pub kind: AccountKind,
    /// The page's path before the token.
    pub prefix: &'static str,
    /// Where a new session lands.
    pub home: &'static str,
    /// Where an account with a second factor signs in after choosing its password.
    pub sign_in: &'static str,
    /// A way to a new link when this one is gone (the merchant app's "forgot password").
    pub forgot: bool,
}

const MERCHANT_LINKS: LinkPages = LinkPages {
    kind: AccountKind::Merchant,
    prefix: "/password/",
    home: "/dashboard",
    sign_in: "/sign-in",
    forgot: true,
};

fn link_form(st: &AppState, v: &Visitor, pages: &LinkPages, token: &str) -> FormPage {
    let t = v.t;
    let mut p = FormPage::new(
        Chrome::of(st, v),
        t.set_password,
        &format!("{}{token}", pages.prefix),
        vec![Field::new(t.new_password, "password", "password").auto("new-password")],
    );
    p.intro = Some(t.set_password_intro);
    p
}

fn link_gone(st: &AppState, v: &Visitor, pages: &LinkPages) -> Response {
    let mut p = link_form(st, v, pages, "");
    p.error = Some(v.t.link_gone);
    p.show_form = false;
    if pages.forgot {
        p.links = vec![("/forgot-password".into(), v.t.forgot_password)];
    }
    page(v, StatusCode::GONE, p)
}

/// The page a one-time link opens: a password form while the link works.
pub async fn show_link(st: &AppState, v: Visitor, pages: &LinkPages, token: &str) -> Response {
    match accounts::link_account(&st.store, pages.kind, token, st.now()).await {
        Ok(_) => page(&v, StatusCode::OK, link_form(st, &v, pages, token)),
        Err(_) => link_gone(st, &v, pages),
    }
}

/// The password chosen through a one-time link: the link spent, a new session (or, for an
/// account with a second factor, the way to sign in with it).
pub async fn use_link(
    st: &AppState,
    mut v: Visitor,
    pages: &LinkPages,
    token: &str,
    body: &[u8],
) -> Response {
    let f = fields(body);
    if !v.csrf_ok(field(&f, "csrf")) {
        return bad_form(&v);
    }
    let password = f.get("password").map_or("", String::as_str);
    let now = st.now();
    match accounts::set_password_by_link(&st.store, pages.kind, token, password, &v.address, now)
        .await
    {
        Ok(Some(s)) => {
            let seconds = accounts::session_seconds(&s.session, now);
            v.start_session(s.token.expose(), seconds, s.session, s.account);
            redirect(&v, pages.home)
        }
        Ok(None) => redirect(&v, &format!("{}?notice=password_set", pages.sign_in)),
        Err(crate::ops::OpError::Domain(paylink_core::DomainError::Invalid {
            field: "link",
            ..
        })) => link_gone(st, &v, pages),
        Err(e) => {
            let mut p = link_form(st, &v, pages, token);
            p.error = Some(refusal_text(v.t, &e));
            page(&v, status_of(&e, StatusCode::UNPROCESSABLE_ENTITY), p)
        }
    }
}

pub async fn link_page(
    State(st): State<AppState>,
    v: Visitor,
    Path(token): Path<String>,
) -> Response {
    show_link(&st, v, &MERCHANT_LINKS, &token).await
}

pub async fn set_by_link(
    State(st): State<AppState>,
    v: Visitor,
    Path(token): Path<String>,
    body: Bytes,
) -> Response {
    use_link(&st, v, &MERCHANT_LINKS, &token, &body).await
}

fn change_form(st: &AppState, v: &Visitor) -> FormPage {
    let t = v.t;
    let mut p = FormPage::new(
        Chrome::of(st, v),
        t.change_password,
        "/account/password",
        vec![
            Field::new(t.current_password, "current_password", "password").auto("current-password"),
            Field::new(t.new_password, "password", "password").auto("new-password"),
        ],
    );
    p.intro = Some(t.password_rules);
    p
}

/// The query a password change redirects to: the page says it was changed (and a reload of it
/// sends nothing again).
const CHANGED: &str = "notice=changed";

pub async fn change_page(State(st): State<AppState>, v: Visitor, uri: axum::http::Uri) -> Response {
    if v.signed_in.is_none() {
        return to_sign_in(&v);
    }
    let mut p = change_form(&st, &v);
    if uri.query() == Some(CHANGED) {
        p.notice = Some(v.t.password_changed);
    }
    page(&v, StatusCode::OK, p)
}

pub async fn change(State(st): State<AppState>, v: Visitor, body: Bytes) -> Response {
    let Some((session, account)) = &v.signed_in else {
        return to_sign_in(&v);
    };
    let f = fields(&body);
    if !v.csrf_ok(field(&f, "csrf")) {
        return bad_form(&v);
    }
    let current = f.get("current_password").map_or("", String::as_str);
    let new = f.get("password").map_or("", String::as_str);
    let mut p = change_form(&st, &v);
    match accounts::change_password(&st.store, session, account, current, new, st.now()).await {
        Ok(()) => super::redirect(&v, &format!("/account/password?{CHANGED}")),
        Err(e) => {
            p.error = Some(refusal_text(v.t, &e));
            page(&v, status_of(&e, StatusCode::UNPROCESSABLE_ENTITY), p)
        }
    }
}
