//! The one-time page of an issued card's data (the Card API's `card/secret`): `GET` says what
//! the link does and offers a button; `POST` spends the link and shows PAN, expiry and CVV
//! once. Only the POST spends it, so a link preview or a scanner fetching the URL does not
//! burn it. A used, expired or unknown link reads the same. The token is a secret: the request
//! log names this route by its template, not its path.

use crate::ops::issuing::{self, CardError};
use crate::pages::html;
use crate::pages::texts::{choose, Texts};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use paylink_core::bill::Locale;
use paylink_core::issuing::IssuingError;

#[derive(Template)]
#[template(path = "card_secret.html")]
struct CardSecretPage<'a> {
    t: &'a Texts,
    lang: &'a str,
    title: &'a str,
    heading: &'a str,
    message: &'a str,
    show_form: bool,
    action: String,
    button: &'a str,
    number_label: &'a str,
    expiry_label: &'a str,
    data: Option<(String, String, String)>,
}

struct Words {
    heading: &'static str,
    intro: &'static str,
    button: &'static str,
    once: &'static str,
    gone: &'static str,
    failed: &'static str,
    number: &'static str,
    expiry: &'static str,
}

fn words(t: &Texts) -> Words {
    if t.lang == "uk" {
        Words {
            heading: "Дані картки",
            intro:
                "Реквізити картки можна переглянути один раз. Переконайтеся, що поруч нікого немає.",
            button: "Показати реквізити",
            once: "Посилання більше не працює. Збережіть реквізити в надійному місці.",
            gone: "Посилання вже використано або термін його дії минув.",
            failed:
                "Зараз показати реквізити не вдається; посилання й далі дійсне. Спробуйте пізніше.",
            number: "Номер картки",
            expiry: "Термін дії",
        }
    } else if t.lang == "ru" {
        Words {
            heading: "Данные карты",
            intro: "Реквизиты карты можно посмотреть один раз. Убедитесь, что рядом никого нет.",
            button: "Показать реквизиты",
            once: "Ссылка больше не работает. Сохраните реквизиты в надёжном месте.",
            gone: "Ссылка уже использована или срок её действия истёк.",
            failed: "Сейчас реквизиты показать не получается; ссылка по-прежнему действует. Попробуйте позже.",
            number: "Номер карты",
            expiry: "Срок действия",
        }
    } else {
        Words {
            heading: "Card details",
            intro: "The card's details can be shown once. Make sure nobody is watching.",
            button: "Show card details",
            once: "This link no longer works. Keep the details somewhere safe.",
            gone: "This link was used already or has expired.",
            failed:
                "The card details cannot be shown right now; the link still works. Try again later.",
            number: "Card number",
            expiry: "Expiry",
        }
    }
}

/// The visitor's words: a card data link belongs to no bill, so the browser's language.
fn texts(st: &AppState, headers: &HeaderMap) -> &'static Texts {
    choose(
        st.settings.mode,
        None::<Locale>,
        crate::pages::language(headers),
    )
}

fn page(
    st: &AppState,
    headers: &HeaderMap,
    token: &str,
    data: Option<(String, String, String)>,
    form: bool,
) -> Response {
    let t = texts(st, headers);
    let w = words(t);
    let (status, message) = match (&data, form) {
        (Some(_), _) => (StatusCode::OK, w.once),
        (None, true) => (StatusCode::OK, w.intro),
        (None, false) => (StatusCode::GONE, w.gone),
    };
    render(t, status, message, token, data, form)
}

/// An answer no handler here wrote (see `pages::unanswered`): a failure says the link still
/// works; anything else reads as a used or unknown link does.
pub(crate) fn unanswered(t: &Texts, status: StatusCode) -> Response {
    let w = words(t);
    let message = if status.is_server_error() {
        w.failed
    } else {
        w.gone
    };
    render(t, status, message, "", None, false)
}

fn render(
    t: &Texts,
    status: StatusCode,
    message: &str,
    token: &str,
    data: Option<(String, String, String)>,
    form: bool,
) -> Response {
    let w = words(t);
    html(
        status,
        CardSecretPage {
            t,
            lang: t.lang,
            title: w.heading,
            heading: w.heading,
            message,
            show_form: form,
            action: format!("/card-secret/{token}"),
            button: w.button,
            number_label: w.number,
            expiry_label: w.expiry,
            data,
        },
    )
}

fn plausible(token: &str) -> bool {
    token.len() <= 64 && token.bytes().all(|b| b.is_ascii_alphanumeric())
}

pub(crate) async fn show_form(
    State(st): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !plausible(&token) {
        return page(&st, &headers, "", None, false);
    }
    match issuing::card_secret_usable(&st.store, &token, st.now()).await {
        Ok(usable) => page(&st, &headers, &token, None, usable),
        // Storage trouble says nothing about the link: it still works, later.
        Err(e) => {
            tracing::error!(error = %e, "a card data link could not be looked up");
            unanswered(texts(&st, &headers), StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

pub(crate) async fn reveal(
    State(st): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    match issuing::open_card_secret(&st.store, &st.keys, &token, st.now()).await {
        Ok((_, data)) => {
            let pan = data
                .pan
                .expose()
                .as_bytes()
                .chunks(4)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join(" ");
            let shown = (pan, data.expiry.mm_yy(), data.cvv.expose().clone());
            page(&st, &headers, "", Some(shown), false)
        }
        Err(CardError::Refused(IssuingError::SecretGone)) => page(&st, &headers, "", None, false),
        Err(e) => {
            tracing::error!(error = %e, "opening a card data link failed");
            unanswered(texts(&st, &headers), StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}
