//! The merchant web app (issue 13) driven as a browser does, over real HTTP: a cookie jar kept
//! by hand (the workspace's reqwest has no `cookies` feature), forms found by simple string
//! search and posted with their `csrf` field, and redirects never followed, so every test sees
//! the 303 and its `Location` a browser would have followed.

mod accounts;
mod customers;
mod dashboard;
mod integration;
mod isolation;

use crate::harness::*;
use std::collections::BTreeMap;

/// A one-time form token as a page draws one (a page kept open in another tab has its own).
pub fn fresh_form_token() -> String {
    paylink_core::id::random_base62(&mut rand::thread_rng(), 16)
}

/// A password that meets the rules (10 to 128 characters).
pub const PASSWORD: &str = "correct horse battery";

/// A browser: its own cookies, no automatic redirects.
#[derive(Clone)]
pub struct Browser {
    http: reqwest::Client,
    base: String,
    cookies: BTreeMap<String, String>,
}

/// A page (or a redirect) as the browser received it.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub content_type: String,
    pub location: Option<String>,
    /// Every `Set-Cookie` header, as sent.
    pub set_cookies: Vec<String>,
    pub text: String,
}

impl Browser {
    pub fn new(app: &TestApp) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("an HTTP client"),
            base: app.address.clone(),
            cookies: BTreeMap::new(),
        }
    }

    /// The value of cookie `name` in the jar.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    /// Puts a cookie in the jar by hand (replaying an old one).
    pub fn put_cookie(&mut self, name: &str, value: &str) {
        self.cookies.insert(name.to_string(), value.to_string());
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&mut self, rb: reqwest::RequestBuilder) -> Page {
        let rb = if self.cookies.is_empty() {
            rb
        } else {
            rb.header("Cookie", self.cookie_header())
        };
        let response = rb.send().await.expect("the server answers");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let content_type = header("content-type").unwrap_or_default();
        let location = header("location");
        let set_cookies: Vec<String> = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_string)
            .collect();
        for c in &set_cookies {
            self.store_cookie(c);
        }
        let status = response.status().as_u16();
        let text = response.text().await.expect("a body");
        Page {
            status,
            content_type,
            location,
            set_cookies,
            text,
        }
    }

    /// As a browser keeps a `Set-Cookie`: an empty value or `Max-Age=0` deletes it.
    fn store_cookie(&mut self, header: &str) {
        let mut parts = header.split(';').map(str::trim);
        let Some((name, value)) = parts.next().and_then(|p| p.split_once('=')) else {
            return;
        };
        let expired = parts.any(|p| p.eq_ignore_ascii_case("max-age=0"));
        if value.is_empty() || expired {
            self.cookies.remove(name);
        } else {
            self.cookies.insert(name.to_string(), value.to_string());
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let rb = self.http.get(format!("{}{path}", self.base));
        self.send(rb).await
    }

    /// POSTs exactly these fields (no `csrf` added).
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let pairs: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let rb = self
            .http
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form_encode(&pairs));
        self.send(rb).await
    }

    /// As a person submits a form: opens `page`, takes its `csrf` field (and the form's
    /// one-time `form` token, if it has one) and POSTs them to `action` with `fields`.
    pub async fn submit(&mut self, page: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let opened = self.get(page).await;
        assert_eq!(opened.status, 200, "GET {page}: {}", opened.text);
        assert!(
            opened.text.contains(&format!("action=\"{action}\"")),
            "no form to {action} on {page}: {}",
            opened.text
        );
        let csrf = opened.csrf();
        let once = opened.form_token(action);
        let mut all = vec![("csrf", csrf.as_str())];
        if let Some(once) = &once {
            all.push(("form", once.as_str()));
        }
        all.extend_from_slice(fields);
        self.post(action, &all).await
    }

    /// Where a 303 leads, as a browser follows it (a GET); any other answer as it is.
    pub async fn follow(&mut self, answer: Page) -> Page {
        match (answer.status, &answer.location) {
            (303, Some(to)) => {
                let to = to.clone();
                self.get(&to).await
            }
            _ => answer,
        }
    }
}

impl Page {
    /// A 303 to `to`.
    #[track_caller]
    pub fn assert_redirect(&self, to: &str) {
        assert_eq!(self.status, 303, "{self:?}");
        assert_eq!(self.location.as_deref(), Some(to), "{self:?}");
    }

    /// A 200 HTML page.
    #[track_caller]
    pub fn assert_html(&self) {
        assert_eq!(self.status, 200, "{}", self.text);
        assert!(
            self.content_type.starts_with("text/html"),
            "{}",
            self.content_type
        );
    }

    #[track_caller]
    pub fn assert_shows(&self, words: &str) {
        assert!(self.text.contains(words), "{words:?} not in {}", self.text);
    }

    #[track_caller]
    pub fn assert_hides(&self, words: &str) {
        assert!(!self.text.contains(words), "{words:?} in {}", self.text);
    }

    /// The page's form token (the first hidden `csrf` field; every form of a page has the
    /// same one).
    #[track_caller]
    pub fn csrf(&self) -> String {
        self.input_value_by("name=\"csrf\"")
            .unwrap_or_else(|| panic!("no csrf field in {}", self.text))
    }

    /// The one-time token (the hidden `form` field) of the page's form to `action`.
    pub fn form_token(&self, action: &str) -> Option<String> {
        let at = self.text.find(&format!("action=\"{action}\""))?;
        let form = &self.text[at..];
        let form = &form[..form.find("</form>")?];
        let page = Page {
            status: self.status,
            content_type: String::new(),
            location: None,
            set_cookies: Vec::new(),
            text: form.to_string(),
        };
        page.input_value_by("name=\"form\"")
    }

    /// The `value` of the input whose `id` is `id`.
    pub fn input_value(&self, id: &str) -> Option<String> {
        self.input_value_by(&format!("id=\"{id}\""))
    }

    fn input_value_by(&self, marker: &str) -> Option<String> {
        self.attribute_by(marker, "value")
    }

    /// The `href` of the element with `id`, unescaped.
    pub fn href_of(&self, id: &str) -> Option<String> {
        self.attribute_by(&format!("id=\"{id}\""), "href")
    }

    /// Attribute `name` of the first tag holding `marker`, unescaped.
    fn attribute_by(&self, marker: &str, name: &str) -> Option<String> {
        let at = self.text.find(marker)?;
        let start = self.text[..at].rfind('<')?;
        let end = at + self.text[at..].find('>')?;
        let tag = &self.text[start..end];
        let opening = format!("{name}=\"");
        let v = tag.find(&opening)? + opening.len();
        let len = tag[v..].find('"')?;
        Some(unescape(&tag[v..v + len]))
    }

    /// The text of the element with `id` (a shown-once secret: `token`, `webhook-secret`).
    pub fn text_of(&self, id: &str) -> Option<String> {
        let marker = format!("id=\"{id}\"");
        let at = self.text.find(&marker)?;
        let open = at + self.text[at..].find('>')? + 1;
        let len = self.text[open..].find('<')?;
        Some(unescape(self.text[open..open + len].trim()))
    }

    /// The shop ids the integration page lists.
    pub fn shop_ids(&self) -> Vec<String> {
        let marker = "<code class=\"shop-id\">";
        self.text
            .match_indices(marker)
            .filter_map(|(i, _)| {
                let rest = &self.text[i + marker.len()..];
                rest.find('<').map(|end| rest[..end].to_string())
            })
            .collect()
    }

    /// The `Set-Cookie` header that sets `name`.
    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        self.set_cookies
            .iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .map(String::as_str)
    }
}

/// The few entities askama writes in text and attribute values.
fn unescape(text: &str) -> String {
    text.replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&lt;", "<")
        .replace("&#62;", ">")
        .replace("&gt;", ">")
        .replace("&#47;", "/")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

/// Signs up in a new browser; answers the browser and the page the sign-up answered.
pub async fn sign_up(app: &TestApp, email: &str, password: &str, shop: &str) -> (Browser, Page) {
    let mut b = Browser::new(app);
    let page = b
        .submit(
            "/sign-up",
            "/sign-up",
            &[
                ("email", email),
                ("password", password),
                ("shop_name", shop),
            ],
        )
        .await;
    (b, page)
}

/// A merchant signed up through the web app.
pub struct SignedUp {
    pub browser: Browser,
    /// The API token the sign-up page showed.
    pub token: String,
    pub shop_id: String,
}

pub async fn signed_up(app: &TestApp, email: &str) -> SignedUp {
    let (browser, page) = sign_up(app, email, PASSWORD, "Corner shop").await;
    page.assert_html();
    let token = page.text_of("token").expect("the new token is shown");
    let shops = page.shop_ids();
    assert_eq!(shops.len(), 1, "{}", page.text);
    SignedUp {
        browser,
        token,
        shop_id: shops[0].clone(),
    }
}

/// Signs in in a new browser; answers the browser and the sign-in's answer.
pub async fn sign_in(app: &TestApp, email: &str, password: &str) -> (Browser, Page) {
    let mut b = Browser::new(app);
    let page = b
        .submit(
            "/sign-in",
            "/sign-in",
            &[("email", email), ("password", password)],
        )
        .await;
    (b, page)
}

/// A browser signed in with `email` and `password` (the sign-in must work).
pub async fn signed_in(app: &TestApp, email: &str, password: &str) -> Browser {
    let (b, page) = sign_in(app, email, password).await;
    page.assert_redirect("/dashboard");
    b
}

/// The status the Cardlink API answers `token` with.
pub async fn api_status(app: &TestApp, token: &str) -> u16 {
    app.send(
        reqwest::Method::GET,
        "/api/v1/merchant/balance",
        Some(token),
        Body::None,
    )
    .await
    .status
}

/// The path of the one-time link (`/password/...`) in an email's text.
#[track_caller]
pub fn link_path(text: &str) -> String {
    let at = text
        .find("/password/")
        .unwrap_or_else(|| panic!("no link in {text}"));
    text[at..]
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}
