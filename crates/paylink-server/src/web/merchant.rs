//! The signed-in merchant's pages: the dashboard (balances, shops) and API integration (the
//! API token with its refresh, each shop's id, postback URLs and webhook secret). Secrets are
//! shown once, on the page that answers the action that made them; every action that breaks
//! something an integration uses (a token refresh, a new webhook secret) has a confirm step.

use super::{page, redirect, refusal_text, to_sign_in, Chrome, Visitor};
use crate::ops::merchants::{self, ShopChanges};
use crate::ops::OpError;
use crate::pages::field;
use crate::state::AppState;
use crate::web::SignedForm;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use paylink_core::id::MerchantId;
use paylink_core::merchant::Shop;
use paylink_core::money::format_fixed;
use paylink_core::DomainError;

#[derive(Template)]
#[template(path = "web_dashboard.html")]
struct Dashboard {
    c: Chrome,
    title: &'static str,
    notice: Option<&'static str>,
    /// Currency, available, hold, locked.
    balances: Vec<(String, String, String, String)>,
    /// Name, id, currency.
    shops: Vec<(String, String, String)>,
    /// Inline SVG charts (made here, not from input): their titles and pictures.
    charts: Vec<(String, String)>,
}

/// Days the dashboard's charts cover.
const CHART_DAYS: i64 = 30;

/// Turnover per day per currency (the four biggest) and the daily success rate.
fn charts(
    v: &Visitor,
    daily: &[paylink_store::DailyPayments],
    today: i64,
) -> Vec<(String, String)> {
    use super::charts::{bars, money_label, Bar};
    use std::collections::BTreeMap;
    let mut by_currency: BTreeMap<&str, Vec<Bar>> = BTreeMap::new();
    let mut per_day: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    for d in daily {
        let code = d.currency.code();
        by_currency.entry(code).or_default().push(Bar {
            day: d.day,
            value: d.turnover as f64,
            label: money_label(d.turnover, code),
        });
        let e = per_day.entry(d.day).or_default();
        e.0 += d.made;
        e.1 += d.paid;
    }
    let mut currencies: Vec<_> = by_currency.into_iter().collect();
    currencies
        .sort_by_key(|(_, b)| std::cmp::Reverse(b.iter().map(|b| b.value as i64).sum::<i64>()));
    let mut out: Vec<(String, String)> = currencies
        .into_iter()
        .take(4)
        .map(|(code, b)| {
            let title = format!("{}, {code}", v.t.turnover);
            let svg = bars(&title, &b, today, CHART_DAYS, None);
            (title, svg)
        })
        .collect();
    if !per_day.is_empty() {
        let rate: Vec<Bar> = per_day
            .into_iter()
            .map(|(day, (made, paid))| {
                let pct = if made > 0 {
                    paid as f64 * 100.0 / made as f64
                } else {
                    0.0
                };
                Bar {
                    day,
                    value: pct,
                    label: format!("{pct:.0}% ({paid}/{made})"),
                }
            })
            .collect();
        let title = v.t.success_rate.to_string();
        let svg = bars(&title, &rate, today, CHART_DAYS, Some(100.0));
        out.push((title, svg));
    }
    out
}

pub async fn dashboard(State(st): State<AppState>, v: Visitor) -> Response {
    let Some(merchant) = v.merchant() else {
        return to_sign_in(&v);
    };
    let today = st.now().div_euclid(86_400_000);
    let loaded = async {
        let balances = st.store.balances(&merchant).await?;
        let shops = merchants::shops(&st.store, &merchant).await?;
        let since = (today - CHART_DAYS + 1) * 86_400_000;
        let daily = st.store.daily_payments(&merchant, since).await?;
        Ok::<_, OpError>((balances, shops, daily))
    }
    .await;
    match loaded {
        Ok((balances, shops, daily)) => page(
            &v,
            StatusCode::OK,
            Dashboard {
                c: Chrome::of(&st, &v),
                title: v.t.dashboard,
                notice: None,
                balances: balances
                    .iter()
                    .map(|b| {
                        (
                            b.currency.code().to_string(),
                            format_fixed(b.available),
                            format_fixed(b.hold),
                            format_fixed(b.locked),
                        )
                    })
                    .collect(),
                shops: shops
                    .iter()
                    .map(|s| (s.name.clone(), s.id.to_string(), s.currency.code().into()))
                    .collect(),
                charts: charts(&v, &daily, today),
            },
        ),
        Err(e) => failed(&v, &e),
    }
}

fn failed(v: &Visitor, e: &OpError) -> Response {
    let text = refusal_text(v.t, e);
    let status = match e {
        OpError::Domain(DomainError::ShopNotFound) => StatusCode::NOT_FOUND,
        OpError::Domain(_) => StatusCode::UNPROCESSABLE_ENTITY,
        OpError::Store(s) => crate::app::storage_status(s),
    };
    v.finish(axum::response::IntoResponse::into_response((status, text)))
}

/// A shop as the integration page shows it.
struct ShopView {
    id: String,
    name: String,
    result_url: String,
    success_url: String,
    fail_url: String,
    /// Right after a rotation: the new secret, shown this once.
    new_webhook_secret: Option<String>,
    /// Right after a test postback: what the receiver answered.
    test_result: Option<String>,
}

#[derive(Template)]
#[template(path = "web_integration.html")]
struct Integration {
    c: Chrome,
    title: &'static str,
    error: Option<&'static str>,
    notice: Option<&'static str>,
    /// Right after a refresh (or sign-up): the new token, shown this once.
    new_token: Option<String>,
    shops: Vec<ShopView>,
}

#[derive(Default)]
struct Shown {
    error: Option<&'static str>,
    notice: Option<&'static str>,
    new_token: Option<String>,
    webhook: Option<(String, String)>,
    /// A shop's id and what its receiver answered to a test postback.
    test: Option<(String, String)>,
}

async fn integration_page(
    st: &AppState,
    v: &Visitor,
    merchant: &MerchantId,
    status: StatusCode,
    shown: Shown,
) -> Response {
    let shops: Vec<Shop> = match merchants::shops(&st.store, merchant).await {
        Ok(s) => s,
        Err(e) => return failed(v, &e),
    };
    let shops = shops
        .into_iter()
        .map(|s| ShopView {
            new_webhook_secret: shown
                .webhook
                .as_ref()
                .filter(|(id, _)| *id == s.id.as_str())
                .map(|(_, secret)| secret.clone()),
            test_result: shown
                .test
                .as_ref()
                .filter(|(id, _)| *id == s.id.as_str())
                .map(|(_, r)| r.clone()),
            id: s.id.to_string(),
            name: s.name,
            result_url: s.result_url.unwrap_or_default(),
            success_url: s.success_url.unwrap_or_default(),
            fail_url: s.fail_url.unwrap_or_default(),
        })
        .collect();
    page(
        v,
        status,
        Integration {
            c: Chrome::of(st, v),
            title: v.t.api_integration,
            error: shown.error,
            notice: shown.notice,
            new_token: shown.new_token,
            shops,
        },
    )
}

pub async fn integration(State(st): State<AppState>, v: Visitor) -> Response {
    let Some(merchant) = v.merchant() else {
        return to_sign_in(&v);
    };
    let shown = Shown {
        error: None,
        notice: None,
        new_token: None,
        webhook: None,
        test: None,
    };
    integration_page(&st, &v, &merchant, StatusCode::OK, shown).await
}

/// The integration page right after signing up, with the first API token.
pub async fn welcome(st: &AppState, v: &Visitor, merchant: &MerchantId, token: String) -> Response {
    let shown = Shown {
        error: None,
        notice: Some(v.t.welcome),
        new_token: Some(token),
        webhook: None,
        test: None,
    };
    integration_page(st, v, merchant, StatusCode::OK, shown).await
}

/// A confirm step before an action that breaks what an integration uses.
#[derive(Template)]
#[template(path = "web_confirm.html")]
pub(super) struct Confirm {
    pub c: Chrome,
    pub title: &'static str,
    pub question: &'static str,
    pub action: String,
    pub cancel: &'static str,
}

pub async fn token_confirm(State(st): State<AppState>, v: Visitor) -> Response {
    if v.merchant().is_none() {
        return to_sign_in(&v);
    }
    let c = Chrome::of(&st, &v);
    let (title, question) = (c.t.refresh_api_token, c.t.refresh_confirm);
    page(
        &v,
        StatusCode::OK,
        Confirm {
            c,
            title,
            question,
            action: "/integration/token".into(),
            cancel: "/integration",
        },
    )
}

pub async fn refresh_token(State(st): State<AppState>, form: SignedForm) -> Response {
    let SignedForm { v, merchant, f } = form;
    if field(&f, "confirm") != "yes" {
        return redirect(&v, "/integration/token");
    }
    let shown = match merchants::refresh_token(
        &st.store,
        &st.keys,
        None,
        merchant.as_str(),
        st.now(),
    )
    .await
    {
        Ok(token) => Shown {
            error: None,
            notice: None,
            new_token: Some(token),
            webhook: None,
            test: None,
        },
        Err(e) => Shown {
            error: Some(refusal_text(v.t, &e)),
            notice: None,
            new_token: None,
            webhook: None,
            test: None,
        },
    };
    integration_page(&st, &v, &merchant, StatusCode::OK, shown).await
}

pub async fn update_shop(
    State(st): State<AppState>,
    Path(id): Path<String>,
    form: SignedForm,
) -> Response {
    let SignedForm { v, merchant, f } = form;
    let changes = ShopChanges {
        result_url: Some(field(&f, "result_url").to_string()),
        success_url: Some(field(&f, "success_url").to_string()),
        fail_url: Some(field(&f, "fail_url").to_string()),
        ..ShopChanges::default()
    };
    let allow_private = st.settings.postbacks.allow_private;
    match merchants::update_own_shop(&st.store, &merchant, &id, changes, allow_private).await {
        Ok(_) => {
            let shown = Shown {
                error: None,
                notice: Some(v.t.saved),
                new_token: None,
                webhook: None,
                test: None,
            };
            integration_page(&st, &v, &merchant, StatusCode::OK, shown).await
        }
        Err(e @ OpError::Domain(DomainError::ShopNotFound)) => failed(&v, &e),
        Err(e) => {
            let shown = Shown {
                error: Some(url_refusal(&v, &e)),
                notice: None,
                new_token: None,
                webhook: None,
                test: None,
            };
            integration_page(&st, &v, &merchant, StatusCode::UNPROCESSABLE_ENTITY, shown).await
        }
    }
}

/// Why a URL was refused, or why a test postback cannot go (no Result URL yet).
fn url_refusal(v: &Visitor, e: &OpError) -> &'static str {
    match e {
        OpError::Domain(DomainError::Invalid {
            field: "result_url",
            kind: paylink_core::error::Rule::Required,
        }) => v.t.result_url_needed,
        OpError::Domain(DomainError::Invalid { field, .. }) if field.ends_with("_url") => {
            v.t.url_refused
        }
        _ => refusal_text(v.t, e),
    }
}

/// A new shop of the merchant's; its webhook secret is shown once.
pub async fn create_shop(State(st): State<AppState>, form: SignedForm) -> Response {
    let SignedForm { v, merchant, f } = form;
    let name = field(&f, "name");
    let currency = field(&f, "currency").parse().ok();
    let shown = if name.is_empty() || currency.is_none() {
        Shown {
            error: Some(v.t.field_required),
            ..Shown::default()
        }
    } else {
        let changes = ShopChanges {
            name: Some(name.to_string()),
            currency,
            ..ShopChanges::default()
        };
        match merchants::create_shop(
            &st.store,
            &st.keys,
            merchant.as_str(),
            changes,
            st.settings.postbacks.allow_private,
            st.now(),
        )
        .await
        {
            Ok(created) => Shown {
                notice: Some(v.t.saved),
                webhook: Some((created.shop.id.to_string(), created.webhook_secret)),
                ..Shown::default()
            },
            Err(e) => Shown {
                error: Some(refusal_text(v.t, &e)),
                ..Shown::default()
            },
        }
    };
    let status = if shown.error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    integration_page(&st, &v, &merchant, status, shown).await
}

/// Sends a sample postback to the shop's result URL and shows what the receiver answered.
pub async fn test_postback(
    State(st): State<AppState>,
    Path(id): Path<String>,
    form: SignedForm,
) -> Response {
    let SignedForm { v, merchant, f: _ } = form;
    match merchants::test_postback(&st, &merchant, &id).await {
        Ok(answer) => {
            let text = match answer {
                Ok((status, excerpt)) => format!("HTTP {status}: {}", excerpt.trim()),
                Err(why) => format!("{}: {why}", v.t.no_answer),
            };
            let shown = Shown {
                test: Some((id, text)),
                ..Shown::default()
            };
            integration_page(&st, &v, &merchant, StatusCode::OK, shown).await
        }
        Err(e @ OpError::Domain(DomainError::ShopNotFound)) => failed(&v, &e),
        Err(e) => {
            let shown = Shown {
                error: Some(url_refusal(&v, &e)),
                ..Shown::default()
            };
            integration_page(&st, &v, &merchant, StatusCode::UNPROCESSABLE_ENTITY, shown).await
        }
    }
}

pub async fn webhook_confirm(
    State(st): State<AppState>,
    v: Visitor,
    Path(id): Path<String>,
) -> Response {
    let Some(merchant) = v.merchant() else {
        return to_sign_in(&v);
    };
    if let Err(e) = merchants::own_shop(&st.store, &merchant, &id).await {
        return failed(&v, &e);
    }
    let c = Chrome::of(&st, &v);
    let (title, question) = (c.t.rotate_webhook_secret, c.t.rotate_confirm);
    page(
        &v,
        StatusCode::OK,
        Confirm {
            c,
            title,
            question,
            action: format!("/integration/shops/{id}/webhook-secret"),
            cancel: "/integration",
        },
    )
}

pub async fn rotate_webhook(
    State(st): State<AppState>,
    Path(id): Path<String>,
    form: SignedForm,
) -> Response {
    let SignedForm { v, merchant, f } = form;
    if let Err(e) = merchants::own_shop(&st.store, &merchant, &id).await {
        return failed(&v, &e);
    }
    if field(&f, "confirm") != "yes" {
        return redirect(&v, &format!("/integration/shops/{id}/webhook-secret"));
    }
    match merchants::rotate_webhook_key(&st.store, &st.keys, None, &id, st.now()).await {
        Ok(secret) => {
            let shown = Shown {
                error: None,
                notice: None,
                new_token: None,
                webhook: Some((id, secret)),
                test: None,
            };
            integration_page(&st, &v, &merchant, StatusCode::OK, shown).await
        }
        Err(e) => failed(&v, &e),
    }
}
