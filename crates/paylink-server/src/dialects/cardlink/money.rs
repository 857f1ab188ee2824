//! Merchant money over the Cardlink API: balance, payouts, the SBP banks dictionary, refunds.

use super::auth::{Authed, Credentials};
use super::once::{once, IdempotencyKey, Run};
use super::params::{Fields, Params};
use super::{authorized, date_range, views, Answer, ApiError, Wire};
use crate::ops::idempotency::Seal;
use crate::ops::payouts::{self, Destination};
use crate::ops::refunds;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use paylink_api::cardlink as wire;
use paylink_core::card::{self, CardNumber};
use paylink_core::money::{format_fixed, Currency};
use paylink_core::payout::{AccountType, Payout, PayoutKind, PayoutOrder, Phone};
use paylink_core::refund::Refund;
use paylink_core::DomainError;
use paylink_store::MoneyFilter;
use serde_json::Value;
use std::sync::Arc;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/merchant/balance", get(balance).post(balance))
        .route(
            "/api/v1/payout/personal/create",
            post(personal_payout).get(personal_payout),
        )
        .route(
            "/api/v1/payout/regular/create",
            post(regular_payout).get(regular_payout),
        )
        .route(
            "/api/v1/payout/status",
            get(payout_status).post(payout_status),
        )
        .route(
            "/api/v1/payout/search",
            get(payout_search).post(payout_search),
        )
        .route(
            "/api/v1/payout/cancel",
            post(payout_cancel).get(payout_cancel),
        )
        .route(
            "/api/v1/payout/dictionaries/sbp_banks",
            get(sbp_banks).post(sbp_banks),
        )
        .route(
            "/api/v1/refund/full/create",
            post(full_refund).get(full_refund),
        )
        .route(
            "/api/v1/refund/partial/create",
            post(partial_refund).get(partial_refund),
        )
        .route(
            "/api/v1/refund/status",
            get(refund_status).post(refund_status),
        )
        .route(
            "/api/v1/refund/search",
            get(refund_search).post(refund_search),
        )
}

#[utoipa::path(
    post,
    path = "/api/v1/merchant/balance",
    tag = "merchant",
    description = "The merchant's balances, one per currency held.",
    responses((status = 200, description = "Success.", body = wire::Balances), super::openapi::AuthRefusals),
    security(("bearer" = [])),
)]
pub(super) async fn balance(
    State(st): State<AppState>,
    Authed(merchant): Authed,
) -> Answer<wire::Balances> {
    let balances = st.store.balances(&merchant.id).await?;
    Ok(Wire(wire::Balances {
        success: Value::String("true".into()),
        balances: balances
            .into_iter()
            .map(|b| wire::Balance {
                currency: b.currency.code().into(),
                balance_available: format_fixed(b.available),
                balance_locked: format_fixed(b.locked),
                balance_hold: format_fixed(b.hold),
            })
            .collect(),
    }))
}

/// The payout endpoints answer the merchant's refusals with 400 (the seed's table for them).
fn as_payout_error(e: ApiError) -> ApiError {
    match e {
        ApiError::Key(StatusCode::FORBIDDEN, key) if key != "no_payout" => {
            ApiError::Key(StatusCode::BAD_REQUEST, key)
        }
        other => other,
    }
}

/// The payout amount: a positive decimal with at most two places, else `invalid_amount`.
fn payout_amount(params: &Params) -> Result<i64, ApiError> {
    params
        .amount("amount")
        .map(|a| a.minor())
        .map_err(as_payout_error)
}

fn created(payouts: &[Payout]) -> wire::DataList<wire::Payout> {
    wire::DataList {
        success: true,
        data: payouts.iter().cloned().map(views::payout).collect(),
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/payout/personal/create",
    tag = "payouts",
    description = "A payout to an account the operator registered. Refusals are 400 (`invalid_amount`, `payout_account_not_found`, ... see docs/cardlink-api.md), 403 `no_payout`, 422 validation.",
    request_body = super::openapi::PersonalPayoutParams,
    responses((status = 200, description = "Success.", body = wire::DataList<wire::Payout>), super::openapi::ParamRefusals),
    security(("bearer" = [])),
)]
pub(super) async fn personal_payout(
    State(st): State<AppState>,
    who: Credentials,
    key: IdempotencyKey,
    params: Params,
) -> Response {
    once(st, who, key, params, |p: &Vec<Payout>| created(p), personal).await
}

async fn personal(run: Run<Vec<Payout>>) -> Result<Vec<Payout>, ApiError> {
    let (st, who, params, seal) = (&run.st, &run.who, &run.params, run.seal);
    let mut f = params.fields();
    let account_id = f.required_text("payout_account_id");
    let order_id = f.text("order_id");
    let currency = f.choice::<Currency>("currency");
    let result = f.finish().and_then(|()| payout_amount(params));
    let amount = authorized(result, who, st).await.map_err(as_payout_error)?;
    let merchant = who.merchant(st).await.map_err(as_payout_error)?;
    payouts::create_personal(
        st,
        &merchant,
        &account_id.unwrap_or_default(),
        amount,
        currency.unwrap_or(Currency::Rub),
        order_id,
        seal.as_ref(),
    )
    .await
    .map_err(|e| as_payout_error(e.into()))
}

fn destination(f: &mut Fields, account_type: Option<AccountType>) -> Option<Destination> {
    match account_type? {
        AccountType::Card => {
            let number = f.parsed(
                "account_identifier",
                "The :attribute must be a valid card number.",
                CardNumber::parse,
            );
            let holder = f.required_text("card_holder").and_then(|h| {
                let name = card::holder_name(&h);
                if name.is_none() {
                    f.fail("card_holder", "The card holder is invalid.".into());
                }
                name
            });
            Some(Destination::Card {
                number: number?,
                holder: holder?,
            })
        }
        AccountType::Sbp => {
            let phone = f.parsed(
                "account_identifier",
                "The :attribute must be a Russian mobile phone number.",
                Phone::parse,
            );
            let bank = f.integer("account_bank");
            Some(Destination::Sbp {
                phone: phone?,
                bank: bank?,
            })
        }
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/payout/regular/create",
    tag = "payouts",
    description = "A payout to a card or by SBP. Refusals are 400 (`invalid_amount`, `balance_not_enough`, ... see docs/cardlink-api.md), 403 `no_payout` or `This action is unauthorized.`, 422 validation.",
    request_body = super::openapi::RegularPayoutParams,
    responses((status = 200, description = "Success.", body = wire::DataList<wire::Payout>), super::openapi::ParamRefusals),
    security(("bearer" = [])),
)]
pub(super) async fn regular_payout(
    State(st): State<AppState>,
    who: Credentials,
    key: IdempotencyKey,
    params: Params,
) -> Response {
    once(st, who, key, params, |p: &Vec<Payout>| created(p), regular).await
}

async fn regular(run: Run<Vec<Payout>>) -> Result<Vec<Payout>, ApiError> {
    let (st, who, params, seal) = (&run.st, &run.who, &run.params, run.seal);
    let mut f = params.fields();
    let currency = match params.get("currency") {
        None => {
            f.fail("currency", "The currency field is required.".into());
            None
        }
        Some(_) => f.choice::<Currency>("currency"),
    };
    let account_type = match params.get("account_type") {
        None => {
            f.fail("account_type", "The account type field is required.".into());
            None
        }
        Some(_) => f.choice::<AccountType>("account_type"),
    };
    if params.get("account_identifier").is_none() {
        f.fail(
            "account_identifier",
            "The account identifier field is required.".into(),
        );
    }
    if account_type == Some(AccountType::Sbp) && params.get("account_bank").is_none() {
        f.fail("account_bank", "The account bank field is required.".into());
    }
    let to = destination(&mut f, account_type);
    let order_id = f.text("order_id");
    let result = f.finish().and_then(|()| payout_amount(params));
    let amount = authorized(result, who, st).await.map_err(as_payout_error)?;
    let merchant = who.merchant(st).await.map_err(as_payout_error)?;
    let (Some(to), Some(currency)) = (to, currency) else {
        return Err(ApiError::Internal);
    };
    let payee = payouts::payee(&st.keys, to);
    let order = PayoutOrder {
        kind: PayoutKind::Regular,
        amount,
        currency,
        payee,
        payout_account_id: None,
        order_id,
    };
    payouts::create(st, &merchant, order, seal.as_ref())
        .await
        .map_err(|e| as_payout_error(e.into()))
}

/// The payout named by `id` or `order_id`, the caller's only.
async fn named_payout(
    st: &AppState,
    who: &Credentials,
    params: &Params,
) -> Result<Payout, ApiError> {
    let mut f = params.fields();
    let id = f.text("id");
    let order_id = f.text("order_id");
    if id.is_none() && order_id.is_none() {
        f.fail(
            "id",
            "The id field is required when order id is not present.".into(),
        );
    }
    authorized(f.finish(), who, st).await?;
    let merchant = who.merchant(st).await?;
    let found = match (id, order_id) {
        (Some(id), _) => st.store.merchant_payout(&merchant.id, &id).await?,
        (None, Some(order)) => st.store.payout_by_order(&merchant.id, &order).await?,
        (None, None) => None,
    };
    Ok(found.ok_or(DomainError::PayoutNotFound)?)
}

#[utoipa::path(
    post,
    path = "/api/v1/payout/status",
    tag = "payouts",
    description = "A payout, by `id` or `order_id`. 422 `payout_not_found`.",
    request_body = super::openapi::PayoutRefParams,
    responses((status = 200, description = "Success.", body = wire::Payout), super::openapi::ParamRefusals),
    security(("bearer" = [])),
)]
pub(super) async fn payout_status(
    State(st): State<AppState>,
    who: Credentials,
    params: Params,
) -> Answer<wire::Payout> {
    let payout = named_payout(&st, &who, &params).await?;
    let currency = payout.currency.code().to_string();
    Ok(Wire(wire::Payout {
        success: Some(true),
        currency_in: Some(currency),
        ..views::payout(payout)
    }))
}

/// Cancels a payout by `id`, or every part of a split one by `order_id` (answering the first).
#[utoipa::path(
    post,
    path = "/api/v1/payout/cancel",
    tag = "payouts",
    description = "Declines a payout still NEW or MODERATING (by `order_id`: every such part). 400 `transaction_rejected`; 422 `payout_not_found`.",
    request_body = super::openapi::PayoutRefParams,
    responses((status = 200, description = "Success.", body = wire::Payout), super::openapi::ParamRefusals),
    security(("bearer" = [])),
)]
pub(super) async fn payout_cancel(
    State(st): State<AppState>,
    who: Credentials,
    key: IdempotencyKey,
    params: Params,
) -> Response {
    let render = |p: &Payout| wire::Payout {
        success: Some(true),
        ..views::payout(p.clone())
    };
    once(st, who, key, params, render, cancel).await
}

async fn cancel(run: Run<Payout>) -> Result<Payout, ApiError> {
    let (st, who, params, seal) = (&run.st, &run.who, &run.params, run.seal);
    let payout = named_payout(st, who, params).await?;
    // Named by order_id, the cancel is of the whole order; by id, of that part (compat).
    let whole_order = params.get("id").is_none();
    Ok(payouts::cancel(st, payout, whole_order, seal.as_ref()).await?)
}

fn money_filter(f: &mut Fields) -> MoneyFilter {
    let (from, to) = date_range(f);
    MoneyFilter {
        order_id: f.text("order_id"),
        payment_id: f.text("payment_id"),
        status: f.text("status").map(|s| s.to_uppercase()),
        from,
        to,
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/payout/search",
    tag = "payouts",
    description = "The merchant's payouts, newest first. 400 `too_many_payouts` above 500 per page.",
    request_body = super::openapi::PayoutSearchParams,
    responses((status = 200, description = "Success.", body = wire::CursorPage<wire::Payout>), super::openapi::ParamRefusals),
    security(("bearer" = [])),
)]
pub(super) async fn payout_search(
    State(st): State<AppState>,
    Authed(merchant): Authed,
    params: Params,
) -> Answer<wire::CursorPage<wire::Payout>> {
    let mut f = params.fields();
    let filter = money_filter(&mut f);
    let page = views::page_request(&mut f, "too_many_payouts")?;
    f.finish()?;
    let found = st
        .store
        .search_payouts(&merchant.id, &filter, &page)
        .await?;
    let path = format!("{}/api/v1/payout/search", st.settings.public_url);
    Ok(Wire(views::render_page(
        found,
        &page,
        path,
        &params.pairs_of(&["start_date", "finish_date", "order_id", "status"]),
        views::payout_key,
        views::payout,
    )))
}

#[utoipa::path(
    post,
    path = "/api/v1/payout/dictionaries/sbp_banks",
    tag = "payouts",
    description = "The enabled banks of the SBP dictionary.",
    responses((status = 200, description = "Success.", body = wire::DataList<wire::SbpBank>), super::openapi::AuthRefusals),
    security(("bearer" = [])),
)]
pub(super) async fn sbp_banks(
    State(st): State<AppState>,
    Authed(_): Authed,
) -> Answer<wire::DataList<wire::SbpBank>> {
    let banks = st.store.sbp_banks(false).await?;
    Ok(Wire(wire::DataList {
        success: true,
        data: banks
            .into_iter()
            .map(|b| wire::SbpBank {
                member_id: b.member_id,
                name: b.name,
                name_en: b.name_en,
                bic: b.bic,
            })
            .collect(),
    }))
}

async fn refund(
    st: &AppState,
    who: &Credentials,
    params: &Params,
    partial: bool,
    seal: Arc<dyn Seal<Refund>>,
    made: Option<String>,
) -> Result<Refund, ApiError> {
    if let Some(id) = made {
        // An earlier request with this key took the money and gave up before the acquirer's
        // answer: the refund it made answers (the money worker finishes it).
        let merchant = who.merchant(st).await?;
        return Ok(st
            .store
            .merchant_refund(&merchant.id, &id)
            .await?
            .ok_or(DomainError::RefundNotFound)?);
    }
    let mut f = params.fields();
    let payment_id = f.required_text("payment_id");
    let mut result = f.finish();
    let amount = if partial {
        if result.is_ok() && params.get("amount").is_none() {
            result = Err(ApiError::field("amount", "The amount field is required."));
        }
        match result {
            Ok(()) => Some(params.amount("amount").map(|a| a.minor())),
            Err(_) => None,
        }
    } else {
        None
    };
    authorized(result, who, st).await?;
    let amount = match amount {
        Some(a) => Some(authorized(a, who, st).await?),
        None => None,
    };
    let (_, payment) = who
        .with_payment(st, &payment_id.unwrap_or_default())
        .await?;
    let payment = payment.ok_or(DomainError::PaymentNotFound)?;
    Ok(refunds::create(st, &payment, amount, seal.as_ref()).await?)
}

fn refund_answer(refund: &Refund) -> wire::Refund {
    wire::Refund {
        success: Some(true),
        ..views::refund(refund.clone())
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/refund/full/create",
    tag = "refunds",
    description = "Refunds what remains of a payment. 400 `transaction_rejected`, `balance_not_enough`; 403 `invalid_amount`; 422 `payment_not_found`.",
    request_body = super::openapi::FullRefundParams,
    responses((status = 200, description = "Success.", body = wire::Refund), super::openapi::ParamRefusals),
    security(("bearer" = [])),
)]
pub(super) async fn full_refund(
    State(st): State<AppState>,
    who: Credentials,
    key: IdempotencyKey,
    params: Params,
) -> Response {
    create_refund(st, who, key, params, false).await
}

#[utoipa::path(
    post,
    path = "/api/v1/refund/partial/create",
    tag = "refunds",
    description = "Refunds part of a payment. 400 `transaction_rejected`, `balance_not_enough`; 403 `invalid_amount`; 422 `payment_not_found`.",
    request_body = super::openapi::PartialRefundParams,
    responses((status = 200, description = "Success.", body = wire::Refund), super::openapi::ParamRefusals),
    security(("bearer" = [])),
)]
pub(super) async fn partial_refund(
    State(st): State<AppState>,
    who: Credentials,
    key: IdempotencyKey,
    params: Params,
) -> Response {
    create_refund(st, who, key, params, true).await
}

/// `refund/full/create` and `refund/partial/create`, once per idempotency key.
async fn create_refund(
    st: AppState,
    who: Credentials,
    key: IdempotencyKey,
    params: Params,
    partial: bool,
) -> Response {
    let run = move |run: Run<Refund>| async move {
        refund(&run.st, &run.who, &run.params, partial, run.seal, run.made).await
    };
    once(st, who, key, params, refund_answer, run).await
}

#[utoipa::path(
    post,
    path = "/api/v1/refund/status",
    tag = "refunds",
    description = "A refund. 422 `refund_not_found`.",
    request_body = super::openapi::IdParams,
    responses((status = 200, description = "Success.", body = wire::Refund), super::openapi::ParamRefusals),
    security(("bearer" = [])),
)]
pub(super) async fn refund_status(
    State(st): State<AppState>,
    who: Credentials,
    params: Params,
) -> Answer<wire::Refund> {
    let mut f = params.fields();
    let id = f.required_text("id");
    authorized(f.finish(), &who, &st).await?;
    let merchant = who.merchant(&st).await?;
    let refund = st
        .store
        .merchant_refund(&merchant.id, &id.unwrap_or_default())
        .await?
        .ok_or(DomainError::RefundNotFound)?;
    Ok(Wire(wire::Refund {
        success: Some(true),
        ..views::refund(refund)
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/refund/search",
    tag = "refunds",
    description = "The merchant's refunds, newest first. 400 `too_many_refunds` above 500 per page.",
    request_body = super::openapi::RefundSearchParams,
    responses((status = 200, description = "Success.", body = wire::CursorPage<wire::Refund>), super::openapi::ParamRefusals),
    security(("bearer" = [])),
)]
pub(super) async fn refund_search(
    State(st): State<AppState>,
    Authed(merchant): Authed,
    params: Params,
) -> Answer<wire::CursorPage<wire::Refund>> {
    let mut f = params.fields();
    let filter = money_filter(&mut f);
    let page = views::page_request(&mut f, "too_many_refunds")?;
    f.finish()?;
    let found = st
        .store
        .search_refunds(&merchant.id, &filter, &page)
        .await?;
    let path = format!("{}/api/v1/refund/search", st.settings.public_url);
    Ok(Wire(views::render_page(
        found,
        &page,
        path,
        &params.pairs_of(&["start_date", "finish_date", "payment_id", "status"]),
        views::refund_key,
        views::refund,
    )))
}
