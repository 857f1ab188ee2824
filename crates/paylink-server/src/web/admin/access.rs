//! Operators' access: sign in (password, and the authenticator's code once the second factor
//! is on), sign out, the one-time link to choose a password, and "my account" (password,
//! second factor).

use super::{words, Console, ConsoleForm};
use crate::ops::{accounts, operators, OpError};
use crate::pages::{field, fields, qr::qr_svg};
use crate::state::AppState;
use crate::web::account::{show_link, use_link, Field, FormPage, LinkPages};
use crate::web::visitor::Visitor;
use crate::web::{bad_form, page, redirect, refusal_text, status_of, Chrome};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use paylink_core::account::AccountKind;
use paylink_core::DomainError;
use std::collections::HashMap;

fn sign_in_form(st: &AppState, v: &Visitor, email: &str) -> FormPage {
    let a = words(v);
    let mut code = Field::new(a.code, "code", "text").auto("one-time-code");
    code.required = false;
    let mut p = FormPage::new(
        Chrome::of(st, v),
        a.sign_in,
        "/admin/sign-in",
        vec![
            Field::new(v.t.email, "email", "email")
                .auto("username")
                .value(email),
            Field::new(v.t.password, "password", "password").auto("current-password"),
            code,
        ],
    );
    p.intro = Some(a.code_hint);
    p
}

pub async fn sign_in_page(
    State(st): State<AppState>,
    v: Visitor,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    // Only an operator who may act goes on (a stored role this version does not know would
    // otherwise bounce between here and /admin).
    if v.signed_in
        .as_ref()
        .is_some_and(|(_, a)| operators::role_of(a).is_some())
    {
        return redirect(&v, "/admin");
    }
    let mut p = sign_in_form(&st, &v, "");
    if q.get("notice").map(String::as_str) == Some("password_set") {
        p.notice = Some(v.t.password_changed);
    }
    page(&v, StatusCode::OK, p)
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
        AccountKind::Operator,
        accounts::Credentials {
            email,
            password,
            code: field(&f, "code"),
        },
        &v.address,
        now,
    )
    .await
    {
        Ok(s) => {
            let seconds = accounts::session_seconds(&s.session, now);
            v.start_session(s.token.expose(), seconds, s.session, s.account);
            redirect(&v, "/admin")
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
    redirect(&v, "/admin/sign-in")
}

const CONSOLE_LINKS: LinkPages = LinkPages {
    kind: AccountKind::Operator,
    prefix: "/admin/password/",
    home: "/admin/account",
    sign_in: "/admin/sign-in",
    forgot: false,
};

pub async fn link_page(
    State(st): State<AppState>,
    v: Visitor,
    Path(token): Path<String>,
) -> Response {
    show_link(&st, v, &CONSOLE_LINKS, &token).await
}

pub async fn set_by_link(
    State(st): State<AppState>,
    v: Visitor,
    Path(token): Path<String>,
    body: Bytes,
) -> Response {
    use_link(&st, v, &CONSOLE_LINKS, &token, &body).await
}

/// An authenticator offered on the account page: its QR code, secret, and the sealed offer
/// the confirming form carries.
pub struct Offer {
    pub qr: String,
    pub secret: String,
    pub offer: String,
}

#[derive(Template)]
#[template(path = "admin_account.html")]
struct AccountPage {
    c: Chrome,
    title: &'static str,
    email: String,
    role: &'static str,
    totp_on: bool,
    offer: Option<Offer>,
    error: Option<&'static str>,
    notice: Option<&'static str>,
}

/// The account page; `kept`: an offer the operator already scanned (a refused code shows it
/// again rather than a new secret to scan), while it may still be confirmed.
fn account_page(
    st: &AppState,
    c: &Console,
    error: Option<&'static str>,
    notice: Option<&'static str>,
    kept: Option<&str>,
) -> AccountPage {
    let totp_on = c.account.totp_sealed.is_some();
    let issuer = issuer(st);
    let again = kept.and_then(|offer| {
        let text = operators::offered_secret(&st.keys, &c.account, offer, st.now())?;
        let secret = paylink_core::totp::base32_decode(&text)?;
        Some(Offer {
            qr: qr_svg(&paylink_core::totp::otpauth_uri(
                &issuer,
                &c.account.email,
                &secret,
            )),
            secret: text,
            offer: offer.to_string(),
        })
    });
    let offer = (!totp_on).then(|| {
        again.unwrap_or_else(|| {
            let o = operators::totp_offer(&st.keys, &c.account, &issuer, st.now());
            Offer {
                qr: qr_svg(&o.uri),
                secret: o.secret,
                offer: o.offer,
            }
        })
    });
    AccountPage {
        c: c.chrome(st),
        title: c.a.account,
        email: c.account.email.clone(),
        role: c.role.as_str(),
        totp_on,
        offer,
        error,
        notice,
    }
}

/// The name the authenticator lists the account under: the instance's host.
fn issuer(st: &AppState) -> String {
    let host = st
        .settings
        .public_url
        .split("://")
        .nth(1)
        .unwrap_or("")
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    if host.is_empty() {
        "paylink".into()
    } else {
        format!("paylink {host}")
    }
}

pub async fn account(
    State(st): State<AppState>,
    c: Console,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let notice = match q.get("notice").map(String::as_str) {
        Some("totp_on") => Some(c.a.totp_on),
        Some("totp_off") => Some(c.a.totp_off),
        Some("password") => Some(c.v.t.password_changed),
        other => super::notice(c.a, other),
    };
    let p = account_page(&st, &c, None, notice, None);
    c.page(StatusCode::OK, p)
}

pub async fn totp_on(State(st): State<AppState>, form: ConsoleForm) -> Response {
    let c = &form.c;
    let own = operators::OwnProof {
        session: &c.session.digest,
        password: form.field("current_password"),
        code: form.field("code"),
    };
    match operators::enable_totp(
        &st.store,
        &st.keys,
        &c.actor,
        &c.account,
        own,
        form.field("offer"),
        st.now(),
    )
    .await
    {
        Ok(()) => c.redirect("/admin/account?notice=totp_on"),
        Err(e) => {
            let p = account_page(
                &st,
                c,
                Some(super::refusal(c, &e)),
                None,
                Some(form.field("offer")),
            );
            c.page(
                crate::web::status_of(&e, StatusCode::UNPROCESSABLE_ENTITY),
                p,
            )
        }
    }
}

pub async fn totp_off(State(st): State<AppState>, form: ConsoleForm) -> Response {
    let c = &form.c;
    let own = operators::OwnProof {
        session: &c.session.digest,
        password: form.field("current_password"),
        code: form.field("code"),
    };
    match operators::disable_totp(
        &st.store,
        &st.keys,
        &c.actor,
        &c.account,
        Some(own),
        st.now(),
    )
    .await
    {
        Ok(()) => c.redirect("/admin/account?notice=totp_off"),
        Err(OpError::Domain(DomainError::Unauthorized)) => {
            let p = account_page(&st, c, Some(c.a.wrong_code), None, None);
            c.page(StatusCode::UNPROCESSABLE_ENTITY, p)
        }
        Err(e) => {
            let p = account_page(&st, c, Some(super::refusal(c, &e)), None, None);
            c.page(super::refusal_status(&e), p)
        }
    }
}

pub async fn change_password(State(st): State<AppState>, form: ConsoleForm) -> Response {
    let c = &form.c;
    let current = form.f.get("current_password").map_or("", String::as_str);
    let new = form.f.get("password").map_or("", String::as_str);
    match accounts::change_password(&st.store, &c.session, &c.account, current, new, st.now()).await
    {
        Ok(()) => c.redirect("/admin/account?notice=password"),
        Err(e) => {
            let p = account_page(&st, c, Some(refusal_text(c.v.t, &e)), None, None);
            c.page(
                crate::web::status_of(&e, StatusCode::UNPROCESSABLE_ENTITY),
                p,
            )
        }
    }
}
