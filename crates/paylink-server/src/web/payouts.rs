//! The merchant's payouts: its payout accounts (a card, or an SBP phone with a bank of the
//! dictionary), payouts to them, their statuses with a cancel button while they can still be
//! cancelled, and a CSV export. The rules are the API's own ([`crate::ops::payouts`]).

use super::lists::{csv_line, stream_csv};
use super::once;
use super::{page, refusal_text, to_sign_in, Chrome, Visitor};
use crate::ops::idempotency::{NoSeal, Seal};
use crate::ops::payouts::{self, Destination};
use crate::ops::OpError;
use crate::pages::field;
use crate::state::AppState;
use crate::web::SignedForm;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use paylink_core::card::{holder_name, CardNumber};
use paylink_core::id::MerchantId;
use paylink_core::money::{format_fixed, Amount, Currency};
use paylink_core::payout::{Payout, PayoutStatus, Phone};
use paylink_core::time::format_datetime;
use paylink_core::DomainError;
use paylink_store::{Direction, Keyset, MoneyFilter, PageRequest};
use std::collections::HashMap;
use std::sync::Arc;

const PER_PAGE: u32 = 50;

struct PayoutRow {
    id: String,
    created: String,
    amount: String,
    commission: String,
    status: &'static str,
    payee: String,
    cancelable: bool,
}

fn row(p: &Payout) -> PayoutRow {
    PayoutRow {
        id: p.id.to_string(),
        created: format_datetime(p.created_at),
        amount: format!("{} {}", format_fixed(p.amount), p.currency),
        commission: format_fixed(p.commission),
        status: p.status.as_str(),
        payee: p.payee.identifier.clone(),
        cancelable: matches!(p.status, PayoutStatus::New | PayoutStatus::Moderating),
    }
}

#[derive(Template)]
#[template(path = "web_payouts.html")]
struct PayoutsPage {
    c: Chrome,
    title: &'static str,
    error: Option<&'static str>,
    notice: Option<&'static str>,
    /// Id, type, payee as shown.
    accounts: Vec<(String, &'static str, String)>,
    /// Member id and name of each enabled SBP bank.
    banks: Vec<(i64, String)>,
    currencies: Vec<&'static str>,
    rows: Vec<PayoutRow>,
    next: Option<String>,
    /// The payout form's one-time token.
    form: String,
}

async fn payouts_page(
    st: &AppState,
    v: &Visitor,
    merchant: &MerchantId,
    q: &HashMap<String, String>,
    status: StatusCode,
    error: Option<&'static str>,
    notice: Option<&'static str>,
) -> Response {
    let from = q
        .get("cursor")
        .and_then(|c| Keyset::parse(c))
        .map(|k| (k, Direction::Next));
    let loaded = async {
        let accounts = st.store.payout_accounts(merchant).await?;
        let banks = st.store.sbp_banks(false).await?;
        let page = st
            .store
            .search_payouts(
                merchant,
                &MoneyFilter::default(),
                &PageRequest {
                    from,
                    limit: PER_PAGE,
                },
            )
            .await?;
        Ok::<_, OpError>((accounts, banks, page))
    }
    .await;
    let (accounts, banks, found) = match loaded {
        Ok(x) => x,
        Err(e) => {
            let status = super::status_of(&e, StatusCode::INTERNAL_SERVER_ERROR);
            return v.finish((status, refusal_text(v.t, &e)).into_response());
        }
    };
    let next = found
        .next(|p| Keyset::of(p.created_at, p.id.as_str()))
        .map(|k| format!("/payouts?cursor={k}"));
    let c = Chrome::of(st, v);
    let title = c.t.payouts;
    page(
        v,
        status,
        PayoutsPage {
            c,
            title,
            error,
            notice,
            accounts: accounts
                .iter()
                .filter(|a| !a.banned)
                .map(|a| {
                    (
                        a.id.to_string(),
                        a.payee.account_type.as_str(),
                        a.payee.identifier.clone(),
                    )
                })
                .collect(),
            banks: banks
                .iter()
                .map(|b| {
                    let name = if v.t.lang == "ru" {
                        &b.name
                    } else {
                        &b.name_en
                    };
                    (b.member_id, name.clone())
                })
                .collect(),
            currencies: Currency::ALL.iter().map(|c| c.code()).collect(),
            rows: found.items.iter().map(row).collect(),
            next,
            form: once::fresh(),
        },
    )
}

/// `?notice=` after a payout form: the payout is made.
const PAYOUT_MADE: &str = "payout_made";

pub async fn payouts_list(
    State(st): State<AppState>,
    v: Visitor,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(merchant) = v.merchant() else {
        return to_sign_in(&v);
    };
    let notice =
        (q.get("notice").map(String::as_str) == Some(PAYOUT_MADE)).then_some(v.t.payout_done);
    payouts_page(&st, &v, &merchant, &q, StatusCode::OK, None, notice).await
}

pub async fn add_account(State(st): State<AppState>, form: SignedForm) -> Response {
    let SignedForm { v, merchant, f } = form;
    let none = HashMap::new();
    let destination = match field(&f, "account_type") {
        "card" => CardNumber::parse(field(&f, "card_number"))
            .zip(holder_name(field(&f, "card_holder")).filter(|h| !h.is_empty()))
            .map(|(number, holder)| Destination::Card { number, holder }),
        "sbp" => Phone::parse(field(&f, "phone"))
            .zip(field(&f, "bank").parse::<i64>().ok())
            .map(|(phone, bank)| Destination::Sbp { phone, bank }),
        _ => None,
    };
    let Some(destination) = destination else {
        let t = v.t.account_invalid;
        return payouts_page(
            &st,
            &v,
            &merchant,
            &none,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(t),
            None,
        )
        .await;
    };
    let payee = payouts::payee(&st.keys, destination);
    match payouts::add_account(&st.store, &merchant, payee, st.now()).await {
        Ok(_) => {
            payouts_page(
                &st,
                &v,
                &merchant,
                &none,
                StatusCode::OK,
                None,
                Some(v.t.saved),
            )
            .await
        }
        Err(e) => {
            let t = match &e {
                OpError::Domain(DomainError::Invalid { .. }) => v.t.account_invalid,
                e => refusal_text(v.t, e),
            };
            payouts_page(
                &st,
                &v,
                &merchant,
                &none,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(t),
                None,
            )
            .await
        }
    }
}

/// A payout to one of the merchant's accounts. Once per form (see [`once`]); made, it is shown
/// on the payouts page (303: reloading that page sends nothing).
pub async fn create(State(st): State<AppState>, form: SignedForm) -> Response {
    let SignedForm {
        v,
        merchant: merchant_id,
        f,
    } = form;
    let none = HashMap::new();
    let refused =
        |status, text| payouts_page(&st, &v, &merchant_id, &none, status, Some(text), None);
    let (amount_text, currency_text, account) = (
        field(&f, "amount"),
        field(&f, "currency"),
        field(&f, "account"),
    );
    let amount = Amount::parse_written(amount_text)
        .map(|a| a.minor())
        .filter(|a| *a > 0);
    let currency = currency_text.parse::<Currency>().ok();
    let (Some(amount), Some(currency)) = (amount, currency) else {
        return refused(StatusCode::UNPROCESSABLE_ENTITY, v.t.amount_invalid).await;
    };
    let run = {
        let (st, merchant_id, account) = (st.clone(), merchant_id.clone(), account.to_string());
        // Payouts answer with their effect (never only bound): no earlier one to answer from.
        move |seal: Arc<dyn Seal<Vec<Payout>>>, _made: Option<String>| async move {
            let merchant = st
                .store
                .merchant(&merchant_id)
                .await?
                .ok_or(DomainError::MerchantNotFound)?;
            payouts::create_personal(
                &st,
                &merchant,
                &account,
                amount,
                currency,
                None,
                seal.as_ref(),
            )
            .await
        }
    };
    let done = |_: &Vec<Payout>| format!("/payouts?notice={PAYOUT_MADE}");
    let values = [account, amount_text, currency_text];
    let outcome = once::once(&st, &merchant_id, "payout", &f, &values, done, run).await;
    once::answer(outcome, &v, |e| payout_refusal(&v, e), refused).await
}

/// A payout's refusal in the words of the API's errors (balance, limits, verification).
fn payout_refusal(v: &Visitor, e: &OpError) -> &'static str {
    match e {
        OpError::Domain(d) => match d {
            DomainError::BalanceNotEnough => v.t.balance_short,
            DomainError::MerchantNotVerified => v.t.not_verified,
            DomainError::DailyPayoutLimitExceeded | DomainError::MonthlyPayoutLimitExceeded => {
                v.t.payout_limit
            }
            DomainError::PayoutAccountNotFound | DomainError::PayoutAccountBanned => {
                v.t.account_invalid
            }
            _ => refusal_text(v.t, e),
        },
        e => refusal_text(v.t, e),
    }
}

pub async fn cancel(
    State(st): State<AppState>,
    Path(id): Path<String>,
    form: SignedForm,
) -> Response {
    let SignedForm { v, merchant, f: _ } = form;
    let none = HashMap::new();
    let payout = match st.store.merchant_payout(&merchant, &id).await {
        Ok(Some(p)) => p,
        Ok(None) => return v.finish((StatusCode::NOT_FOUND, v.t.not_found).into_response()),
        Err(e) => {
            let status = crate::app::storage_status(&e);
            return v.finish((status, refusal_text(v.t, &e.into())).into_response());
        }
    };
    match payouts::cancel(&st, payout, false, &NoSeal).await {
        Ok(_) => {
            payouts_page(
                &st,
                &v,
                &merchant,
                &none,
                StatusCode::OK,
                None,
                Some(v.t.saved),
            )
            .await
        }
        Err(e) => {
            let t = refusal_text(v.t, &e);
            payouts_page(
                &st,
                &v,
                &merchant,
                &none,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(t),
                None,
            )
            .await
        }
    }
}

pub async fn payouts_csv(State(st): State<AppState>, v: Visitor) -> Response {
    let Some(merchant) = v.merchant() else {
        return to_sign_in(&v);
    };
    stream_csv(
        &v,
        "payouts.csv",
        &[
            "payout_id",
            "created_at",
            "amount",
            "currency",
            "commission",
            "status",
            "payee",
        ],
        move |request| {
            let (st, merchant) = (st.clone(), merchant.clone());
            async move {
                st.store
                    .search_payouts(&merchant, &MoneyFilter::default(), &request)
                    .await
            }
        },
        |p: &Payout| {
            csv_line(&[
                p.id.as_str(),
                &format_datetime(p.created_at),
                &format_fixed(p.amount),
                p.currency.code(),
                &format_fixed(p.commission),
                p.status.as_str(),
                &p.payee.identifier,
            ])
        },
        |p: &Payout| Keyset {
            created_at: p.created_at,
            id: p.id.to_string(),
        },
    )
}
