//! The merchant's permanent links (the Procard dialect) in the dashboard: its Procard access
//! (turn it on; the key shown once; rotate it behind a confirm step) and its links with what
//! each has collected.

use super::merchant::Confirm;
use super::{page, redirect, refusal_text, to_sign_in, Chrome, Visitor};
use crate::ops::permanent_links;
use crate::ops::OpError;
use crate::pages::field;
use crate::state::AppState;
use crate::web::SignedForm;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use paylink_core::id::MerchantId;
use paylink_core::money::format_fixed;

struct LinkRow {
    id: String,
    name: String,
    amount: String,
    collected: String,
    status: &'static str,
    url: String,
}

#[derive(Template)]
#[template(path = "web_links.html")]
struct LinksPage {
    c: Chrome,
    title: &'static str,
    error: Option<&'static str>,
    login: Option<String>,
    new_key: Option<String>,
    rows: Vec<LinkRow>,
}

async fn links_page(
    st: &AppState,
    v: &Visitor,
    merchant: &MerchantId,
    new_key: Option<String>,
    error: Option<&'static str>,
) -> Response {
    let loaded = async {
        let access = st.store.procard_of(merchant).await?;
        let mut rows = Vec::new();
        if let Some(access) = &access {
            for l in permanent_links::list(st, access).await? {
                let collected = permanent_links::accumulated(st, &l.link).await?;
                rows.push(LinkRow {
                    id: l.link.id.to_string(),
                    name: l.bill.name.clone().unwrap_or_default(),
                    amount: format!(
                        "{} {}",
                        format_fixed(l.bill.amount.minor()),
                        l.bill.currency
                    ),
                    collected: format_fixed(collected),
                    status: if l.bill.active { "ACTIVE" } else { "INACTIVE" },
                    url: format!(
                        "{}/p/{}",
                        st.settings.public_url.trim_end_matches('/'),
                        l.link.id
                    ),
                });
            }
        }
        Ok::<_, OpError>((access.map(|a| a.login), rows))
    }
    .await;
    match loaded {
        Ok((login, rows)) => {
            let c = Chrome::of(st, v);
            let title = c.t.permanent_links;
            page(
                v,
                StatusCode::OK,
                LinksPage {
                    c,
                    title,
                    error,
                    login,
                    new_key,
                    rows,
                },
            )
        }
        Err(e) => {
            let status = super::status_of(&e, StatusCode::INTERNAL_SERVER_ERROR);
            v.finish((status, refusal_text(v.t, &e)).into_response())
        }
    }
}

pub async fn links(State(st): State<AppState>, v: Visitor) -> Response {
    let Some(merchant) = v.merchant() else {
        return to_sign_in(&v);
    };
    links_page(&st, &v, &merchant, None, None).await
}

pub async fn enable(State(st): State<AppState>, form: SignedForm) -> Response {
    let SignedForm { v, merchant, f: _ } = form;
    // Turning it on again keeps the key (it is not shown again).
    let was_on = matches!(st.store.procard_of(&merchant).await, Ok(Some(_)));
    match permanent_links::enable(
        &st.store,
        &st.keys,
        merchant.as_str(),
        None,
        None,
        None,
        st.settings.postbacks.allow_private,
        st.now(),
    )
    .await
    {
        Ok(c) => {
            let key = (!was_on).then(|| c.secret_key.expose().clone());
            links_page(&st, &v, &merchant, key, None).await
        }
        Err(e) => {
            let t = refusal_text(v.t, &e);
            links_page(&st, &v, &merchant, None, Some(t)).await
        }
    }
}

pub async fn key_confirm(State(st): State<AppState>, v: Visitor) -> Response {
    if v.merchant().is_none() {
        return to_sign_in(&v);
    }
    let c = Chrome::of(&st, &v);
    let (title, question) = (c.t.procard_rotate, c.t.procard_rotate_confirm);
    page(
        &v,
        StatusCode::OK,
        Confirm {
            c,
            title,
            question,
            action: "/links/key".into(),
            cancel: "/links",
        },
    )
}

pub async fn rotate_key(State(st): State<AppState>, form: SignedForm) -> Response {
    let SignedForm { v, merchant, f } = form;
    if field(&f, "confirm") != "yes" {
        return redirect(&v, "/links/key");
    }
    match permanent_links::rotate_key(&st.store, &st.keys, None, merchant.as_str(), st.now()).await
    {
        Ok(c) => {
            links_page(
                &st,
                &v,
                &merchant,
                Some(c.secret_key.expose().clone()),
                None,
            )
            .await
        }
        Err(e) => {
            let t = refusal_text(v.t, &e);
            links_page(&st, &v, &merchant, None, Some(t)).await
        }
    }
}
