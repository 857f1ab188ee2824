//! The Cardlink merchant API (`/api/v1`, seed `cardlink-api.txt`, compat `cardlink.md`) and the
//! sandbox payment helper (mounted by [`crate::sandbox`]). Handlers parse, call [`crate::ops`],
//! and render.

mod auth;
mod error;
mod money;
mod once;
mod openapi;
mod params;
pub mod postback;
mod views;

pub use error::{message as field_message, ApiError};
pub use openapi::{document, document_json, Unavailable, SPEC_PATH};

use crate::client::ClientAddr;
use crate::ops::bills;
use crate::ops::checkout::{self, Sale, Step, Tender};
use crate::state::AppState;
use auth::{Authed, Credentials};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use once::{once, IdempotencyKey, Run};
use params::{Fields, Params};
use paylink_api::cardlink as wire;
use paylink_core::bill::{Bill, BillType, Locale, NewBill};
use paylink_core::card::CardNumber;
use paylink_core::id::{BillId, PaymentId, ShopId};
use paylink_core::money::Currency;
use paylink_core::payment::PaymentMethod;
use paylink_core::time::{parse_filter_date, DayEdge};
use paylink_core::DomainError;
use paylink_store::{BillFilter, PaymentFilter};
use serde_json::Value;

pub(crate) type Answer<T> = Result<Wire<T>, ApiError>;

/// A JSON answer, serialized into one buffer sized for a typical object (axum's `Json` starts
/// at 128 bytes and regrows).
pub(crate) struct Wire<T>(T);

impl<T: serde::Serialize> IntoResponse for Wire<T> {
    fn into_response(self) -> Response {
        let mut body = Vec::with_capacity(1024);
        match serde_json::to_writer(&mut body, &self.0) {
            Ok(()) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
            Err(e) => {
                tracing::error!(error = %e, "cannot serialize an answer");
                ApiError::Internal.into_response()
            }
        }
    }
}

/// Every route of the dialect. Parameters may come by GET or POST alike (compat 1).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/bill/create", post(create_bill).get(create_bill))
        .route(
            "/api/v1/bill/toggle_activity",
            post(toggle_activity).get(toggle_activity),
        )
        .route("/api/v1/bill/status", get(bill_status).post(bill_status))
        .route(
            "/api/v1/bill/payments",
            get(bill_payments).post(bill_payments),
        )
        .route("/api/v1/bill/search", get(bill_search).post(bill_search))
        .route(
            "/api/v1/payment/status",
            get(payment_status).post(payment_status),
        )
        .route(
            "/api/v1/payment/search",
            get(payment_search).post(payment_search),
        )
        .merge(money::router())
}

/// `result`, but an error found before the credentials were checked is reported only to a
/// caller that may use the API: a bad token or a banned merchant answers first, as it would
/// for a valid request.
pub(crate) async fn authorized<T>(
    result: Result<T, ApiError>,
    who: &Credentials,
    st: &AppState,
) -> Result<T, ApiError> {
    if result.is_err() {
        who.merchant(st).await?;
    }
    result
}

#[utoipa::path(
    post,
    path = "/api/v1/bill/create",
    tag = "bills",
    description = "Creates a bill. Also kept with the bill (not described here, nested): `payer_data`, `request_fields`, `items`, `show_converted_amount`. 403 `invalid_amount`, `shop_not_found`, `shop_not_enabled`, `access_denied`, `rate-not-found`.",
    request_body = openapi::BillCreateParams,
    responses((status = 200, description = "Success.", body = wire::BillCreated), openapi::ParamRefusals),
    security(("bearer" = [])),
)]
async fn create_bill(
    State(st): State<AppState>,
    who: Credentials,
    key: IdempotencyKey,
    params: Params,
) -> Response {
    let public = st.settings.public_url.clone();
    let render = move |bill: &Bill| wire::BillCreated {
        success: Value::String("true".into()),
        link_url: views::link_url(bill, &public),
        link_page_url: views::link_page_url(bill, &public),
        bill_id: bill.id.to_string(),
    };
    once(st, who, key, params, render, bill_create).await
}

async fn bill_create(run: Run<Bill>) -> Result<Bill, ApiError> {
    let (st, who, params, seal) = (&run.st, &run.who, &run.params, run.seal);
    let mut f = params.fields();
    let shop_id = f.required_text("shop_id");
    let new = NewBill {
        amount: None,
        currency: f.choice::<Currency>("currency_in"),
        bill_type: f.choice::<BillType>("type"),
        order_id: f.text("order_id"),
        description: f.text("description"),
        name: f.text("name"),
        custom: f.text("custom"),
        payment_method: f.choice::<PaymentMethod>("payment_method"),
        payer_pays_commission: f.boolean("payer_pays_commission").unwrap_or(false),
        ttl_secs: f.integer("ttl"),
        success_url: f.text("success_url"),
        fail_url: f.text("fail_url"),
        return_url: f.text("return_url"),
        locale: f.choice::<Locale>("locale"),
        payer_email: f.text("payer_email"),
        extra: params.json_of(&[
            "payer_data",
            "request_fields",
            "items",
            "show_converted_amount",
        ]),
    };
    f.boolean("show_converted_amount");
    authorized(f.finish(), who, st).await?;
    let amount = authorized(params.amount("amount"), who, st).await?;
    let new = NewBill {
        amount: Some(amount),
        ..new
    };
    let (merchant, shop) = who.with_shop(st, &shop_id.unwrap_or_default()).await?;
    Ok(bills::create(st, &merchant, shop, new, seal.as_ref()).await?)
}

#[utoipa::path(
    post,
    path = "/api/v1/bill/toggle_activity",
    tag = "bills",
    description = "Turns a bill on or off. 403 `bill_is_finished` for a paid NORMAL bill; 422 `bill_not_found`.",
    request_body = openapi::ToggleParams,
    responses((status = 200, description = "Success.", body = wire::Bill), openapi::ParamRefusals),
    security(("bearer" = [])),
)]
async fn toggle_activity(
    State(st): State<AppState>,
    who: Credentials,
    key: IdempotencyKey,
    params: Params,
) -> Response {
    let public = st.settings.public_url.clone();
    let render = move |bill: &Bill| wire::Bill {
        success: Some(true),
        ..views::bill(bill.clone(), &public)
    };
    once(st, who, key, params, render, toggle).await
}

async fn toggle(run: Run<Bill>) -> Result<Bill, ApiError> {
    let (st, who, params, seal) = (&run.st, &run.who, &run.params, run.seal);
    let mut f = params.fields();
    let id = f.required_text("id");
    let active = f.required_boolean("active");
    authorized(f.finish(), who, st).await?;
    // finish() has refused a missing field, so both are present here.
    let (Some(id), Some(active)) = (id, active) else {
        return Err(ApiError::Internal);
    };
    let (_, bill) = who.with_bill(st, &id).await?;
    let bill = bill.ok_or(DomainError::BillNotFound)?;
    Ok(bills::toggle(st, bill, active, seal.as_ref()).await?)
}

#[utoipa::path(
    post,
    path = "/api/v1/bill/status",
    tag = "bills",
    description = "A bill. 422 `bill_not_found`.",
    request_body = openapi::IdParams,
    responses((status = 200, description = "Success.", body = wire::Bill), openapi::ParamRefusals),
    security(("bearer" = [])),
)]
async fn bill_status(
    State(st): State<AppState>,
    who: Credentials,
    params: Params,
) -> Answer<wire::Bill> {
    let mut f = params.fields();
    let id = f.required_text("id");
    authorized(f.finish(), &who, &st).await?;
    let (_, bill) = who.with_bill(&st, &id.unwrap_or_default()).await?;
    let bill = bill.ok_or(DomainError::BillNotFound)?;
    Ok(Wire(wire::Bill {
        success: Some(true),
        ..views::bill(bill, &st.settings.public_url)
    }))
}

pub(crate) fn date_range(f: &mut Fields) -> (Option<i64>, Option<i64>) {
    let message = "The :attribute is not a valid date.";
    let from = f.parsed("start_date", message, |t| {
        parse_filter_date(t, DayEdge::Start)
    });
    let to = f.parsed("finish_date", message, |t| {
        parse_filter_date(t, DayEdge::End)
    });
    (from, to)
}

fn shop_filter(f: &mut Fields) -> Option<ShopId> {
    // A shop id that cannot exist filters everything out, as an unknown one does.
    f.text("shop_id")
        .map(|s| ShopId::parse(&s).unwrap_or_else(|| ShopId::from_trusted(String::new())))
}

#[utoipa::path(
    post,
    path = "/api/v1/bill/payments",
    tag = "payments",
    description = "A bill's payments, newest first. 403 `bill_not_found` for an unknown bill; 400 `too_many_payments` above 500 per page.",
    request_body = openapi::BillPaymentsParams,
    responses((status = 200, description = "Success.", body = wire::CursorPage<wire::Payment>), openapi::ParamRefusals),
    security(("bearer" = [])),
)]
async fn bill_payments(
    State(st): State<AppState>,
    who: Credentials,
    params: Params,
) -> Answer<wire::CursorPage<wire::Payment>> {
    let mut f = params.fields();
    let id = f.required_text("id");
    let page = authorized(views::page_request(&mut f, "too_many_payments"), &who, &st).await?;
    authorized(f.finish(), &who, &st).await?;
    let (merchant, bill) = who.with_bill(&st, &id.unwrap_or_default()).await?;
    // The seed documents 403 for an unknown bill on this endpoint.
    let bill = bill.ok_or(ApiError::Key(StatusCode::FORBIDDEN, "bill_not_found"))?;
    let filter = PaymentFilter {
        bill_id: Some(bill.id),
        ..PaymentFilter::default()
    };
    let found = st
        .store
        .search_payments(&merchant.id, &filter, &page)
        .await?;
    let path = format!("{}/api/v1/bill/payments", st.settings.public_url);
    Ok(Wire(views::render_page(
        found,
        &page,
        path,
        &params.pairs_of(&["id"]),
        views::payment_key,
        views::payment,
    )))
}

#[utoipa::path(
    post,
    path = "/api/v1/bill/search",
    tag = "bills",
    description = "The merchant's bills, newest first. 400 `too_many_bills` above 500 per page.",
    request_body = openapi::BillSearchParams,
    responses((status = 200, description = "Success.", body = wire::CursorPage<wire::Bill>), openapi::ParamRefusals),
    security(("bearer" = [])),
)]
async fn bill_search(
    State(st): State<AppState>,
    Authed(merchant): Authed,
    params: Params,
) -> Answer<wire::CursorPage<wire::Bill>> {
    let mut f = params.fields();
    let (from, to) = date_range(&mut f);
    let filter = BillFilter {
        shop_id: shop_filter(&mut f),
        order_id: f.text("order_id"),
        from,
        to,
    };
    let page = views::page_request(&mut f, "too_many_bills")?;
    f.finish()?;
    let found = st.store.search_bills(&merchant.id, &filter, &page).await?;
    let public = st.settings.public_url.clone();
    let path = format!("{public}/api/v1/bill/search");
    Ok(Wire(views::render_page(
        found,
        &page,
        path,
        &params.pairs_of(&["start_date", "finish_date", "shop_id", "order_id"]),
        views::bill_key,
        |b| views::bill(b, &public),
    )))
}

#[utoipa::path(
    post,
    path = "/api/v1/payment/status",
    tag = "payments",
    description = "A payment. 422 `payment_not_found`.",
    request_body = openapi::PaymentStatusParams,
    responses((status = 200, description = "Success.", body = wire::Payment), openapi::ParamRefusals),
    security(("bearer" = [])),
)]
async fn payment_status(
    State(st): State<AppState>,
    who: Credentials,
    params: Params,
) -> Answer<wire::Payment> {
    let mut f = params.fields();
    let id = f.required_text("id");
    let with_refunds = f.boolean("refunds").unwrap_or(false);
    let with_chargeback = f.boolean("chargeback").unwrap_or(false);
    authorized(f.finish(), &who, &st).await?;
    let (_, payment) = who.with_payment(&st, &id.unwrap_or_default()).await?;
    let payment = payment.ok_or(DomainError::PaymentNotFound)?;
    let refunds = if with_refunds {
        let refunds = st.store.refunds_of(&payment.id).await?;
        Some(
            refunds
                .into_iter()
                .map(|r| serde_json::to_value(views::refund(r)).map_err(|_| ApiError::Internal))
                .collect::<Result<Vec<_>, _>>()?,
        )
    } else {
        None
    };
    Ok(Wire(wire::Payment {
        success: Some(true),
        refunds,
        chargeback: with_chargeback.then(Vec::new),
        ..views::payment(payment)
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/payment/search",
    tag = "payments",
    description = "The merchant's payments, newest first. 400 `too_many_payments` above 500 per page.",
    request_body = openapi::PaymentSearchParams,
    responses((status = 200, description = "Success.", body = wire::CursorPage<wire::Payment>), openapi::ParamRefusals),
    security(("bearer" = [])),
)]
async fn payment_search(
    State(st): State<AppState>,
    Authed(merchant): Authed,
    params: Params,
) -> Answer<wire::CursorPage<wire::Payment>> {
    let mut f = params.fields();
    let (from, to) = date_range(&mut f);
    let bill_order_id = f.text("bill_order_id");
    let order_id = f.text("order_id");
    let filter = PaymentFilter {
        bill_id: f
            .text("bill_id")
            .map(|s| BillId::parse(&s).unwrap_or_else(|| BillId::from_trusted(String::new()))),
        shop_id: shop_filter(&mut f),
        bill_order_id: bill_order_id.or(order_id),
        from,
        to,
    };
    let page = views::page_request(&mut f, "too_many_payments")?;
    f.finish()?;
    let found = st
        .store
        .search_payments(&merchant.id, &filter, &page)
        .await?;
    let path = format!("{}/api/v1/payment/search", st.settings.public_url);
    let filters = params.pairs_of(&[
        "start_date",
        "finish_date",
        "shop_id",
        "order_id",
        "bill_id",
        "bill_order_id",
    ]);
    Ok(Wire(views::render_page(
        found,
        &page,
        path,
        &filters,
        views::payment_key,
        views::payment,
    )))
}

/// `POST /sandbox/pay`: pays a bill through the sandbox acquirer, as the hosted page does.
#[utoipa::path(
    post,
    path = "/sandbox/pay",
    tag = "sandbox",
    description = "Pays a bill through the sandbox acquirer, as the payment page does (POST only). 403 `bill_inactive`, `bill_expired`, `bill_is_finished`, `bill_busy`, `invalid_amount`, `merchant_banned`, `shop_not_enabled`; 422 `bill_not_found`; 429 `too_many_failed_attempts`; 503 when the acquirer's answer did not arrive (the money worker asks it again and records the payment: check `bill/status`).",
    request_body = openapi::SandboxPayParams,
    responses((status = 200, description = "Success.", body = wire::Payment), openapi::PayRefusals),
    security(("bearer" = [])),
)]
pub(crate) async fn sandbox_pay(
    State(st): State<AppState>,
    who: Credentials,
    client: ClientAddr,
    params: Params,
) -> Answer<wire::Payment> {
    let mut f = params.fields();
    let bill_id = f.required_text("bill_id");
    let method = match params.get("method") {
        None => {
            f.fail("method", "The method field is required.".into());
            None
        }
        Some(_) => f.choice::<PaymentMethod>("method"),
    };
    let card = match method {
        Some(PaymentMethod::BankCard) => {
            if params.get("card_number").is_none() {
                f.fail("card_number", "The card number field is required.".into());
                None
            } else {
                f.parsed(
                    "card_number",
                    "The :attribute is invalid.",
                    CardNumber::parse,
                )
            }
        }
        _ => None,
    };
    let payer = match (method, params.get("phone")) {
        (Some(PaymentMethod::Sbp), Some(_)) => f.parsed(
            "phone",
            "The :attribute must be a Russian mobile phone number.",
            paylink_core::payout::Phone::parse,
        ),
        _ => None,
    };
    authorized(f.finish(), &who, &st).await?;
    let tender = match (method, card) {
        (Some(PaymentMethod::BankCard), Some(card)) => Tender::Card(card),
        (Some(PaymentMethod::Sbp), _) => Tender::Sbp {
            amount: match params.get("amount") {
                Some(_) => Some(authorized(params.amount("amount"), &who, &st).await?),
                None => None,
            },
            payer,
        },
        // finish() has refused a missing method or card.
        _ => return Err(ApiError::Internal),
    };
    let (merchant, found) = who
        .with_bill_and_shop(&st, &bill_id.unwrap_or_default())
        .await?;
    let (bill, shop) = found.ok_or(DomainError::BillNotFound)?;
    let sale = Sale {
        bill: &bill,
        shop: &shop,
        merchant_banned: merchant.banned,
        link: None,
    };
    let id = PaymentId::random(&mut rand::thread_rng());
    let payment = match checkout::pay(&st, sale, id, tender, &client).await? {
        Step::Paid(payment) => *payment,
        // No browser here: the API answers the challenge as `three_ds` says (confirm unless
        // `three_ds=fail`), through the same issuer answer a payer's click gives.
        Step::Challenge { request, state, .. } => {
            let confirm = !params
                .get("three_ds")
                .and_then(Value::as_str)
                .is_some_and(|v| v.eq_ignore_ascii_case("fail"));
            let answer = st.sandbox.answer(&request, confirm);
            checkout::complete(&st, sale, &state, &answer, &client).await?
        }
    };
    Ok(Wire(wire::Payment {
        success: Some(true),
        ..views::payment(payment)
    }))
}
