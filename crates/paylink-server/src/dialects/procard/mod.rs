//! The Procard permanent-links API (`../shared/seeds/procard-permanent-links-api.txt`,
//! `../shared/compat/procard.md`): `POST /permanent-links/{list,create,update,operations}` with
//! JSON or form bodies, authenticated by an HMAC-SHA512 `signature` over documented fields, and
//! answered `{"result": 0, ...}` or, with HTTP 200 too, `{"code": <negative>, "message": ...}`.
//! Also the sandbox's `POST /sandbox/permanent-links/pay` and the callback renderer.

pub mod callback;
pub mod openapi;
mod params;
pub mod sign;

use crate::client::ClientAddr;
use crate::ops::checkout::Step;
use crate::ops::permanent_links::{self as links, LinkChanges, LinkRequest, MAX_PER_PAGE};
use crate::ops::OpError;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
pub use openapi::{document_json, SPEC_PATH};
pub use params::Params;
use paylink_api::procard as wire;
use paylink_core::card::CardNumber;
use paylink_core::error::Rule;
use paylink_core::id::PaymentId;
use paylink_core::money::{format_fixed, format_short, Amount};
use paylink_core::permanent_link::{
    Language, LinkFlow, LinkKind, LinkTerms, Operation, MAX_AMOUNTS,
};
use paylink_core::time::format_datetime;
use paylink_core::DomainError;
use paylink_store::{LinkWithBill, ProcardAccess};
use serde_json::json;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/permanent-links/list", post(list))
        .route("/permanent-links/create", post(create))
        .route("/permanent-links/update", post(update))
        .route("/permanent-links/operations", post(operations))
}

/// A refusal in Procard's shape (always HTTP 200: clients read the body).
#[derive(Debug)]
pub struct Refusal {
    pub code: i64,
    pub message: serde_json::Value,
}

impl Refusal {
    fn new(code: i64, message: &str) -> Refusal {
        Refusal {
            code,
            message: json!(message),
        }
    }

    pub fn missing(name: &str) -> Refusal {
        Refusal::new(-14, &format!("Parameter {name} not found"))
    }

    /// -15 with one message per invalid field.
    pub fn invalid(messages: Vec<String>) -> Refusal {
        Refusal {
            code: -15,
            message: json!(messages),
        }
    }

    pub fn bad_card() -> Refusal {
        Refusal::new(-6, "Invalid card number")
    }

    fn system() -> Refusal {
        Refusal::new(-1, "System error")
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (
            StatusCode::OK,
            Json(wire::Failure {
                code: self.code,
                message: self.message,
            }),
        )
            .into_response()
    }
}

impl From<DomainError> for Refusal {
    fn from(e: DomainError) -> Refusal {
        use DomainError as D;
        match e {
            D::Invalid {
                field,
                kind: Rule::Required,
            } => Refusal::missing(field),
            D::Invalid {
                field,
                kind: Rule::Unknown,
            } => Refusal::invalid(vec![format!(
                "Parameter {field} is not one of the allowed values"
            )]),
            D::Invalid { field, kind } => {
                Refusal::invalid(vec![format!("Parameter {field} {kind}")])
            }
            D::InvalidAmount => Refusal::invalid(vec!["Parameter amount is not valid".into()]),
            D::LinkNotFound | D::BillNotFound => Refusal::new(-16, "Permanent link not found"),
            D::MerchantNotFound | D::ProcardNotEnabled => Refusal::new(-3, "Merchant not found"),
            D::MerchantBanned | D::DirectionNotAvailable | D::ShopNotFound => {
                Refusal::new(-17, "Operation not allowed")
            }
            D::TooManyFailedAttempts => Refusal::new(-18, "Declined by anti-fraud"),
            D::BillInactive
            | D::BillExpired
            | D::BillIsFinished
            | D::BillBusy
            | D::ShopNotEnabled => Refusal::new(-12, "Operation rejected"),
            D::RateNotFound => Refusal::new(-7, "Invalid currency"),
            other => {
                tracing::warn!(error = %other, "a Procard request was refused");
                Refusal::new(-12, "Operation rejected")
            }
        }
    }
}

impl From<OpError> for Refusal {
    fn from(e: OpError) -> Refusal {
        match e {
            OpError::Domain(d) => d.into(),
            // Procard has no code for "retry later": clients read -1 as a system error.
            OpError::Store(s) => {
                crate::app::log_storage_failure(&s, "a Procard request");
                Refusal::system()
            }
        }
    }
}

type Answer<T> = Result<Json<T>, Refusal>;

/// An answer no endpoint wrote (see `app::unanswered`), in Procard's shape (its clients read
/// the body): past the deadline, the system error (-1) with HTTP 200 as every endpoint's
/// answer; a panic, -1 with its 500; an unknown path or a method other than POST, -15 naming
/// the endpoints, with its HTTP status (404, 405).
pub(crate) fn unanswered(status: StatusCode) -> Response {
    let (refusal, http) = match status {
        StatusCode::SERVICE_UNAVAILABLE => (Refusal::system(), StatusCode::OK),
        s if s.is_server_error() => (Refusal::system(), s),
        s => (Refusal::invalid(vec![why(s).into()]), s),
    };
    let mut answer = refusal.into_response();
    *answer.status_mut() = http;
    answer
}

fn why(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => {
            "No such endpoint, or a method other than POST"
        }
        StatusCode::PAYLOAD_TOO_LARGE => "The request body is too large",
        _ => "The request could not be read",
    }
}

/// The request's parameters; a body the server would not read (over `body_limit_bytes`, or
/// cut off) is refused in Procard's shape too, as clients read every answer's body.
fn read(headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<Params, Refusal> {
    match body {
        Ok(body) => Params::read(headers, &body),
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(Refusal::invalid(vec![
            "The request body is too large".into(),
        ])),
        Err(_) => Err(Refusal::invalid(vec![
            "The request body could not be read".into()
        ])),
    }
}

/// The caller's Procard access, once `merchant_id` and `signature` check out over `signed`
/// (the values of the fields the seed lists, in order; `amount` names the one that may be
/// signed in its shortest form).
async fn authenticate(
    st: &AppState,
    p: &Params,
    signed: &[&str],
    amount: Option<usize>,
) -> Result<ProcardAccess, Refusal> {
    let login = p.text("merchant_id").filter(|l| !l.is_empty());
    let Some(login) = login else {
        return Err(Refusal::new(-2, "Parameter merchant_id not found"));
    };
    let Some(signature) = p.text("signature").filter(|s| !s.is_empty()) else {
        return Err(Refusal::new(-13, "Parameter signature not found"));
    };
    let Some((access, key)) = links::access(st, login).await? else {
        return Err(Refusal::new(-3, "Merchant not found"));
    };
    let values: Vec<&str> = signed.iter().map(|f| p.text(f).unwrap_or("")).collect();
    if !sign::verify(key.expose(), &values, amount, signature) {
        return Err(Refusal::new(-4, "Invalid signature"));
    }
    if access.merchant_banned {
        return Err(Refusal::new(-17, "Operation not allowed"));
    }
    Ok(access)
}

/// The fields `create` and `update` sign: the protocol's, then paylink's own `callback_url`
/// whenever it is sent, empty too (no Procard client sends it), so that a replayed request can
/// neither send a link's callbacks elsewhere nor take its own URL away.
fn signed_with_callback<'a>(p: &Params, protocol: &[&'a str]) -> Vec<&'a str> {
    let mut fields = protocol.to_vec();
    if p.text("callback_url").is_some() {
        fields.push("callback_url");
    }
    fields
}

fn public_link(st: &AppState, id: &str) -> String {
    format!("{}/p/{id}", st.settings.public_url)
}

/// Minor units as a JSON number in its shortest form (`100.55`, `0`).
fn number(minor: i64) -> serde_json::Number {
    format_short(minor)
        .parse()
        .unwrap_or_else(|_| serde_json::Number::from(0))
}

fn link_view(st: &AppState, login: &str, l: &LinkWithBill) -> wire::Link {
    let t = &l.link.terms;
    wire::Link {
        merchant_id: login.to_string(),
        id: l.link.id.to_string(),
        name: l.bill.name.clone().unwrap_or_default(),
        permanent_link: public_link(st, l.link.id.as_str()),
        kind: t.kind.code(),
        enable_counter: i64::from(t.enable_counter),
        amount: t
            .amounts
            .iter()
            .map(|a| format_fixed(a.minor()))
            .collect::<Vec<_>>()
            .join(";"),
        description: l.bill.description.clone().unwrap_or_default(),
        custom_amount: number(t.custom_amount),
        target_amount: number(t.target_amount),
        show_total_amount: i64::from(t.show_total),
        language: t.language.as_str().to_string(),
        operation: l.link.flow.as_str().to_string(),
        card_number2: l.link.recipient_mask.clone(),
    }
}

/// An operation as `operations` lists it.
pub fn operation_view(login: &str, description: &str, op: &Operation) -> wire::Operation {
    wire::Operation {
        merchant_id: login.to_string(),
        id: op.id,
        date: format_datetime(op.created_at),
        amount: format_fixed(op.amount),
        total_amount: format_fixed(op.amount - op.fee),
        fee: format_fixed(op.fee),
        status: op.status.as_str().to_string(),
        card_number: op.card_mask.clone(),
        order_id: op.payment_id.to_string(),
        description: description.to_string(),
        stan: op.stan(),
    }
}

/// `POST /permanent-links/list`: every link of the merchant.
#[utoipa::path(
    post,
    path = "/permanent-links/list",
    operation_id = "procard_list",
    tag = "permanent-links",
    description = "Every link of the merchant, oldest first (the first 10,000), every field with its type. Signed over `merchant_id`. Refusals: -2, -13, -3, -4, -17 (banned merchant), -15 (unreadable body).",
    request_body = openapi::ListParams,
    responses((status = 200, description = "The links (`result` 0) or a refusal.", body = openapi::ListAnswer), openapi::Around),
)]
async fn list(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer<wire::Links> {
    let p = read(&headers, body)?;
    let access = authenticate(&st, &p, &["merchant_id"], None).await?;
    let found = links::list(&st, &access).await?;
    Ok(Json(wire::Links {
        result: 0,
        permanent_links: found
            .iter()
            .map(|l| link_view(&st, &access.login, l))
            .collect(),
    }))
}

/// The amount list of `create`/`update`: `;`-separated amounts, each positive with at most
/// two decimals; empty text is no amounts.
fn amounts(p: &Params, errors: &mut Vec<String>) -> Result<Vec<Amount>, Refusal> {
    let text = p.required("amount")?;
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let parts: Vec<&str> = text.split(';').collect();
    if parts.len() > MAX_AMOUNTS {
        errors.push(format!(
            "Parameter amount may not have more than {MAX_AMOUNTS} amounts"
        ));
        return Ok(Vec::new());
    }
    match parts
        .iter()
        .map(|a| Amount::parse(a))
        .collect::<Option<Vec<_>>>()
    {
        Some(list) => Ok(list),
        None => {
            errors.push(
                "Parameter amount must be one or more positive amounts with at most two \
                 decimals, separated by ;"
                    .into(),
            );
            Ok(Vec::new())
        }
    }
}

/// The language: required, one of `ukr`, `en`, `ru`.
fn language(p: &Params, errors: &mut Vec<String>) -> Result<Language, Refusal> {
    let text = p.required("language")?;
    Ok(Language::parse(text).unwrap_or_else(|| {
        errors.push("Parameter language must be one of ukr, en, ru".into());
        Language::Ukr
    }))
}

/// The optional fields `create` and `update` share; `None` where not given.
struct Optional {
    enable_counter: Option<bool>,
    custom_amount: Option<i64>,
    target_amount: Option<i64>,
    show_total: Option<bool>,
    callback_url: Option<String>,
}

fn optional(p: &Params, errors: &mut Vec<String>) -> Optional {
    let mut money = |name: &str| -> Option<i64> {
        let text = p.text(name).filter(|t| !t.trim().is_empty())?;
        match paylink_core::money::parse_minor(text, 2) {
            Some(m) if (0..=Amount::MAX).contains(&m) => Some(m),
            _ => {
                errors.push(format!(
                    "Parameter {name} must be an amount of at least 0 with at most two decimals"
                ));
                None
            }
        }
    };
    let custom_amount = money("custom_amount");
    let target_amount = money("target_amount");
    Optional {
        enable_counter: p.flag("enable_counter", errors),
        custom_amount,
        target_amount,
        show_total: p.flag("show_total_amount", errors),
        callback_url: p.text("callback_url").map(str::to_string),
    }
}

/// `POST /permanent-links/create`.
#[utoipa::path(
    post,
    path = "/permanent-links/create",
    operation_id = "procard_create",
    tag = "permanent-links",
    description = "Creates a link. Signed over `merchant_id;operation;amount;language`, then `;callback_url` when one is sent. Refusals: -2, -13, -3, -4, -17; -11 an unknown `operation`; -14 a missing parameter (`card_number2` for P2Pin too); -6 a `card_number2` failing the Luhn check; -15 invalid values, `message` one text per field.",
    request_body = openapi::CreateParams,
    responses((status = 200, description = "The new link's id and public URL (`result` 0) or a refusal.", body = openapi::CreateAnswer), openapi::Around),
)]
async fn create(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer<wire::Created> {
    let p = read(&headers, body)?;
    let access = authenticate(
        &st,
        &p,
        &signed_with_callback(&p, &["merchant_id", "operation", "amount", "language"]),
        Some(2),
    )
    .await?;
    let flow = LinkFlow::parse(p.required("operation")?)
        .ok_or_else(|| Refusal::new(-11, "Invalid operation type"))?;
    let recipient = match flow {
        LinkFlow::P2pIn => {
            let text = p.required("card_number2")?;
            Some(CardNumber::parse(text).ok_or_else(Refusal::bad_card)?)
        }
        LinkFlow::Purchase => None,
    };
    let name = p.required("name")?.to_string();
    let description = p.required("description")?.to_string();
    let mut errors = Vec::new();
    let kind = match p.text("kind").map(str::trim) {
        None | Some("") => LinkKind::Fixed,
        Some(k) => k
            .parse()
            .ok()
            .and_then(LinkKind::from_code)
            .unwrap_or_else(|| {
                errors.push("Parameter kind must be 0 or 1".into());
                LinkKind::Fixed
            }),
    };
    let amounts = amounts(&p, &mut errors)?;
    let language = language(&p, &mut errors)?;
    let o = optional(&p, &mut errors);
    if !errors.is_empty() {
        return Err(Refusal::invalid(errors));
    }
    let request = LinkRequest {
        name,
        description,
        flow,
        terms: LinkTerms {
            kind,
            amounts,
            enable_counter: o.enable_counter.unwrap_or(false),
            custom_amount: o.custom_amount.unwrap_or(0),
            target_amount: o.target_amount.unwrap_or(0),
            show_total: o.show_total.unwrap_or(false),
            language,
        },
        recipient,
        // Empty, as any optional field: not given.
        callback_url: o.callback_url.filter(|u| !u.is_empty()),
    };
    let link = links::create(&st, &access, request).await?;
    Ok(Json(wire::Created {
        result: 0,
        permanent_link: public_link(&st, link.id.as_str()),
        id: link.id.into_string(),
    }))
}

/// `POST /permanent-links/update`: omitted optional fields keep their values.
#[utoipa::path(
    post,
    path = "/permanent-links/update",
    operation_id = "procard_update",
    tag = "permanent-links",
    description = "Changes a link; omitted optional fields keep their values. Signed over `merchant_id;id;amount;language`, then `;callback_url` when one is sent. Refusals: -2, -13, -3, -4, -17, -14, -15; -16 an unknown link or another merchant's.",
    request_body = openapi::UpdateParams,
    responses((status = 200, description = "Done (`result` 0) or a refusal.", body = openapi::UpdateAnswer), openapi::Around),
)]
async fn update(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer<wire::Done> {
    let p = read(&headers, body)?;
    let access = authenticate(
        &st,
        &p,
        &signed_with_callback(&p, &["merchant_id", "id", "amount", "language"]),
        Some(2),
    )
    .await?;
    let id = p.required("id")?.to_string();
    let name = p.required("name")?.to_string();
    let description = p.required("description")?.to_string();
    let mut errors = Vec::new();
    let amounts = amounts(&p, &mut errors)?;
    let language = language(&p, &mut errors)?;
    let o = optional(&p, &mut errors);
    if !errors.is_empty() {
        return Err(Refusal::invalid(errors));
    }
    links::update(
        &st,
        &access,
        &id,
        LinkChanges {
            name,
            description,
            amounts,
            language,
            enable_counter: o.enable_counter,
            custom_amount: o.custom_amount,
            target_amount: o.target_amount,
            show_total: o.show_total,
            callback_url: o.callback_url,
        },
    )
    .await?;
    Ok(Json(wire::Done { result: 0 }))
}

/// `POST /permanent-links/operations`.
#[utoipa::path(
    post,
    path = "/permanent-links/operations",
    operation_id = "procard_operations",
    tag = "permanent-links",
    description = "The APPROVED and WAITING-AUTH operations of a link, newest first, a page at a time. Signed over `merchant_id;id`. Refusals: -2, -13, -3, -4, -17, -14, -15; -16 an unknown link or another merchant's.",
    request_body = openapi::OperationsParams,
    responses((status = 200, description = "A page of operations (`result` 0) or a refusal.", body = openapi::OperationsAnswer), openapi::Around),
)]
async fn operations(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer<wire::Operations> {
    let p = read(&headers, body)?;
    let access = authenticate(&st, &p, &["merchant_id", "id"], None).await?;
    let id = p.required("id")?.to_string();
    let mut errors = Vec::new();
    // Larger pages are cut to the cap rather than refused.
    let per_page = p
        .whole("per_page", 1, i64::MAX, &mut errors)
        .unwrap_or(100)
        .min(MAX_PER_PAGE);
    let page = p.whole("page", 1, 1_000_000_000, &mut errors).unwrap_or(1);
    if !errors.is_empty() {
        return Err(Refusal::invalid(errors));
    }
    let found = links::link_of(&st, &access.merchant_id, &id).await?;
    let (ops, total) = links::operations(&st, &access, &id, page, per_page).await?;
    let description = found.bill.description.unwrap_or_default();
    Ok(Json(wire::Operations {
        result: 0,
        operations: ops
            .iter()
            .map(|op| operation_view(&access.login, &description, op))
            .collect(),
        per_page,
        page,
        total,
    }))
}

/// `POST /sandbox/permanent-links/pay` (sandbox mode): pays a link as its page does, with a
/// test card, answering the challenge as `three_ds` says (confirm unless `three_ds=fail`).
#[utoipa::path(
    post,
    path = "/sandbox/permanent-links/pay",
    operation_id = "procard_sandbox_pay",
    tag = "sandbox",
    description = "Pays a link with a sandbox test card as its page does (sandbox mode only; no merchant authentication): amount × quantity, through the same checkout, 3-D Secure and ledger. A declined card is an operation with status DECLINED. Refusals (nothing recorded): -14 a missing `id` or `card_number`, -16 an unknown link, -15 an amount or quantity the link does not take, -6 a card failing the Luhn check, -17 a banned merchant, -12 the link is off, -18 too many declined cards.",
    request_body = openapi::SandboxPayParams,
    responses((status = 200, description = "The operation, in the shape of an `operations` element, or a refusal.", body = openapi::PayAnswer), openapi::Around),
)]
pub(crate) async fn sandbox_pay(
    State(st): State<AppState>,
    client: ClientAddr,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer<wire::Operation> {
    let p = read(&headers, body)?;
    let id = p.required("id")?.to_string();
    let c = links::checkout(&st, &id).await?;
    let mut errors = Vec::new();
    let unit = match p.text("amount").map(str::trim) {
        None | Some("") => None,
        Some(text) => Amount::parse(text).or_else(|| {
            errors.push("Parameter amount is not valid".into());
            None
        }),
    };
    let quantity = p.whole("quantity", 1, i64::MAX, &mut errors).unwrap_or(1);
    if !errors.is_empty() {
        return Err(Refusal::invalid(errors));
    }
    let card = CardNumber::parse(p.required("card_number")?).ok_or_else(Refusal::bad_card)?;
    let payment_id = PaymentId::random(&mut rand::thread_rng());
    let payment = match links::pay(&st, &c, unit, quantity, payment_id, card, &client).await? {
        Step::Paid(payment) => *payment,
        Step::Challenge { request, state, .. } => {
            let confirm = !p
                .text("three_ds")
                .is_some_and(|v| v.eq_ignore_ascii_case("fail"));
            let answer = st.sandbox.answer(&request, confirm);
            links::complete(&st, &c, &state, &answer, &client).await?
        }
    };
    let op = st
        .store
        .operation(&payment.id)
        .await
        .map_err(OpError::from)?
        .ok_or_else(Refusal::system)?;
    let login = st
        .store
        .procard_of(&c.bill.merchant_id)
        .await
        .map_err(OpError::from)?
        .map(|a| a.login)
        .unwrap_or_default();
    Ok(Json(operation_view(
        &login,
        c.bill.description.as_deref().unwrap_or(""),
        &op,
    )))
}
