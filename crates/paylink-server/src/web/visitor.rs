//! Who is asking: the visitor's language, session (if signed in) and CSRF token, read from
//! cookies; and the cookies an answer sets.
//!
//! - `paylink_session`: the session token (HttpOnly, SameSite=Lax, Secure when the public URL
//!   is https). The database keeps its SHA-256 only.
//! - `paylink_console`: an operator's session token, sent only to `/admin` (Path=/admin): the
//!   console and the merchant app never share a session, and a merchant's session is no
//!   operator's (each cookie opens only its own kind of account).
//! - `paylink_csrf`: before signing in, a random token that forms without a session echo
//!   (double submit); a signed-in form echoes its session's own token instead.
//! - `paylink_lang`: `en` or `ru`, set by the `?lang=` switch on every page.

use crate::client::ClientAddr;
use crate::ops::accounts;
use crate::state::AppState;
use crate::web::texts::{self, WebTexts};
use axum::extract::{FromRequestParts, Query};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use paylink_core::account::{Account, AccountKind, Session};
use paylink_core::id::random_base62;
use std::collections::HashMap;
use std::convert::Infallible;
use subtle::ConstantTimeEq;

pub const SESSION_COOKIE: &str = "paylink_session";
pub const CONSOLE_COOKIE: &str = "paylink_console";
const CSRF_COOKIE: &str = "paylink_csrf";
const LANG_COOKIE: &str = "paylink_lang";

/// The visitor of a web page.
pub struct Visitor {
    pub t: &'static WebTexts,
    /// The live session and its account, when signed in.
    pub signed_in: Option<(Session, Account)>,
    /// The token forms echo: the session's, else the pre-session cookie's.
    csrf: String,
    /// Cookies the answer sets.
    set_cookies: Vec<String>,
    pub address: String,
    secure: bool,
    /// A visit to the operator console (`/admin`).
    pub console: bool,
    /// The address of this page in the other language: its query kept (a dispute form's
    /// charge, a list's filter), `lang` switched.
    pub other_lang: String,
}

/// The value of cookie `name` in the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Infallible> {
        let secure = st.settings.public_url.starts_with("https://");
        let Ok(ClientAddr(address)) = ClientAddr::from_request_parts(parts, st).await;
        let address = address.unwrap_or_default();
        let mut set_cookies = Vec::new();
        let query: HashMap<String, String> = Query::try_from_uri(&parts.uri)
            .map(|Query(q)| q)
            .unwrap_or_default();
        let chosen = query.get("lang").and_then(|l| texts::by_code(l));
        let t = match chosen {
            Some(t) => {
                set_cookies.push(cookie_text(LANG_COOKIE, t.lang, 365 * 24 * 3600, secure));
                t
            }
            None => cookie(&parts.headers, LANG_COOKIE)
                .and_then(texts::by_code)
                .unwrap_or_else(|| {
                    texts::from_accept_language(
                        parts
                            .headers
                            .get(axum::http::header::ACCEPT_LANGUAGE)
                            .and_then(|v| v.to_str().ok()),
                    )
                }),
        };
        let other_lang = {
            let mut q = form_urlencoded::Serializer::new(String::new());
            for (k, v) in form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()) {
                if k != "lang" {
                    q.append_pair(&k, &v);
                }
            }
            q.append_pair("lang", t.other_lang.0);
            format!("?{}", q.finish())
        };
        let path = parts.uri.path();
        let console = path == "/admin" || path.starts_with("/admin/");
        let (name, kind) = if console {
            (CONSOLE_COOKIE, AccountKind::Operator)
        } else {
            (SESSION_COOKIE, AccountKind::Merchant)
        };
        let signed_in = match cookie(&parts.headers, name) {
            Some(token) => accounts::session(&st.store, token, st.now())
                .await
                .unwrap_or_else(|e| {
                    tracing::error!(error = %e, "reading a session failed");
                    None
                })
                .filter(|(_, a)| a.kind == kind),
            None => None,
        };
        let csrf = match &signed_in {
            Some((s, _)) => s.csrf.clone(),
            None => match cookie(&parts.headers, CSRF_COOKIE)
                .filter(|c| c.len() == 32 && c.bytes().all(|b| b.is_ascii_alphanumeric()))
            {
                Some(c) => c.to_string(),
                None => {
                    let fresh = random_base62(&mut rand::thread_rng(), 32);
                    set_cookies.push(cookie_text(CSRF_COOKIE, &fresh, 24 * 3600, secure));
                    fresh
                }
            },
        };
        Ok(Visitor {
            t,
            signed_in,
            csrf,
            set_cookies,
            address,
            secure,
            console,
            other_lang,
        })
    }
}

fn cookie_text(name: &str, value: &str, max_age: i64, secure: bool) -> String {
    cookie_at(name, value, "/", max_age, secure)
}

fn cookie_at(name: &str, value: &str, path: &str, max_age: i64, secure: bool) -> String {
    format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{}",
        if secure { "; Secure" } else { "" }
    )
}

impl Visitor {
    /// The signed-in merchant's id (`None`: nobody, or not a merchant's account).
    pub fn merchant(&self) -> Option<paylink_core::id::MerchantId> {
        self.signed_in
            .as_ref()
            .and_then(|(_, a)| a.merchant_id.clone())
    }

    pub fn csrf(&self) -> &str {
        &self.csrf
    }

    /// Whether a form's `csrf` field is this visitor's token (in constant time).
    pub fn csrf_ok(&self, given: &str) -> bool {
        !given.is_empty() && bool::from(given.as_bytes().ct_eq(self.csrf.as_bytes()))
    }

    /// Starts a session in the browser; the rest of this visit is the session's.
    pub fn start_session(&mut self, token: &str, max_age: i64, session: Session, account: Account) {
        let cookie = self.session_cookie(token, max_age);
        self.set_cookies.push(cookie);
        self.csrf = session.csrf.clone();
        self.signed_in = Some((session, account));
    }

    /// Forgets the session in the browser.
    pub fn clear_session(&mut self) {
        let cookie = self.session_cookie("", 0);
        self.set_cookies.push(cookie);
    }

    /// The session cookie of this visit's surface: the console's, or the merchant app's.
    fn session_cookie(&self, token: &str, max_age: i64) -> String {
        if self.console {
            cookie_at(CONSOLE_COOKIE, token, "/admin", max_age, self.secure)
        } else {
            cookie_text(SESSION_COOKIE, token, max_age, self.secure)
        }
    }

    /// The answer with the cookies this visit sets.
    pub fn finish(&self, mut response: Response) -> Response {
        for c in &self.set_cookies {
            if let Ok(v) = HeaderValue::from_str(c) {
                response.headers_mut().append(SET_COOKIE, v);
            }
        }
        response
    }
}
