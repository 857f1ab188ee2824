//! The Card API v5 (`../shared/seeds/card-issuing-api.txt`, `../shared/compat/card-api.md`,
//! `docs/card-api.md`): `POST /v5/card-api/<method>` with the v5 envelope
//! (`{"status": "ok"|"error", "request_status", "dt", ...}`) and the gift cards'
//! `POST /v5/cards/<method>` with the older one (`{"datetime", "status": 0, ...}`), every call
//! authenticated by a detached JWS (HS512) in `X-JWS-Signature` over the raw body.
//!
//! A request goes: raw body → signature ([`jws`]) → JSON object → `request_id` → the method's
//! fields → an operation of [`crate::ops::issuing`] → the answer in the method's envelope.
//! Business refusals are HTTP 200 with `status: "error"`; malformed JSON 400; authentication
//! failures 401; all in the envelope, none changes anything.

mod fields;
pub mod jws;
pub mod openapi;
pub mod sms;

use crate::config::Mode;
use crate::ops::issuing::{self as ops, Call, CardError, CardView, Movement, Settle, StatusChange};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use fields::Fields;
use paylink_core::issued::{
    check_request_id, CardRequest, CardTransaction, ClientDetails, Partner, RequestOutcome,
    StatementLine, TransactionKind,
};
use paylink_core::issuing::{CardBalance, IssuingError};
use paylink_core::money::format_fixed;
use paylink_core::time::{format_datetime, DayEdge, Millis};
use serde_json::{json, Map, Value};

pub use openapi::{document_json, SPEC_PATH};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v5/card-api/{*method}", post(card_api))
        .route(
            "/v5/partner/external/cardholder_validate",
            post(partner_validate),
        )
        .route("/v5/cards/{*method}", post(gift_api))
}

/// Which envelope a method answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Envelope {
    /// `{"status": "ok", "request_status": ..., "dt": ...}`.
    V5,
    /// `{"datetime": ..., "status": 0}` (gift cards).
    Gift,
}

/// A method's answer: its fields, and its `request_status` (v5).
struct Out {
    fields: Map<String, Value>,
    request_status: &'static str,
}

impl Out {
    fn new(fields: Value) -> Out {
        Out {
            fields: match fields {
                Value::Object(m) => m,
                _ => Map::new(),
            },
            request_status: "success",
        }
    }
}

/// `2026-12-05T14:05:45+00:00`.
fn dt(now: Millis) -> String {
    format!("{}+00:00", format_datetime(now).replacen(' ', "T", 1))
}

fn success(envelope: Envelope, now: Millis, out: Out) -> Response {
    let mut body = Map::new();
    match envelope {
        Envelope::V5 => {
            body.insert("status".into(), json!("ok"));
            body.insert("request_status".into(), json!(out.request_status));
            body.insert("dt".into(), json!(dt(now)));
        }
        Envelope::Gift => {
            body.insert("datetime".into(), json!(format_datetime(now)));
            body.insert("status".into(), json!(0));
        }
    }
    body.extend(out.fields);
    (StatusCode::OK, Json(Value::Object(body))).into_response()
}

fn failure(
    envelope: Envelope,
    http: StatusCode,
    now: Millis,
    code: &str,
    description: &str,
) -> Response {
    let body = match envelope {
        Envelope::V5 => json!({
            "status": "error",
            "request_status": "error",
            "dt": dt(now),
            "error_code": code,
            "error_description": description,
        }),
        Envelope::Gift => json!({
            "datetime": format_datetime(now),
            "status": 1,
            "error_code": code,
            "error_description": description,
        }),
    };
    (http, Json(body)).into_response()
}

fn refusal(envelope: Envelope, now: Millis, e: &IssuingError) -> Response {
    failure(envelope, StatusCode::OK, now, e.code(), &e.to_string())
}

/// A request that failed for want of the database: 503 while it is out of reach (a failover),
/// else 500; the code is `internal_error` either way, as partners' clients know it.
fn internal(envelope: Envelope, now: Millis, e: &CardError) -> Response {
    let status = match e {
        CardError::Store(s) => {
            crate::app::log_storage_failure(s, "a Card API request");
            crate::app::storage_status(s)
        }
        CardError::Refused(r) => {
            tracing::error!(error = %r, "a Card API request failed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    failure(
        envelope,
        status,
        now,
        "internal_error",
        "internal error; the request may be retried with a new request_id after checking request/status",
    )
}

/// An answer of `status` no method wrote (see `app::unanswered`): past the deadline or a
/// panic, `internal_error` (ask `request/status` before sending again); an unknown path, a
/// method other than POST, a path that does not decode or a body over the limit,
/// `validation_error`.
pub(crate) fn unanswered(st: &AppState, path: &str, status: StatusCode) -> Response {
    let envelope = if path.starts_with("/v5/cards/") {
        Envelope::Gift
    } else {
        Envelope::V5
    };
    let (code, description) = match status {
        StatusCode::SERVICE_UNAVAILABLE => (
            "internal_error",
            "the request took too long; check request/status before retrying it",
        ),
        s if s.is_server_error() => (
            "internal_error",
            "paylink failed; check request/status before retrying it",
        ),
        StatusCode::NOT_FOUND => ("validation_error", "no such method"),
        StatusCode::METHOD_NOT_ALLOWED => ("validation_error", "every method is a POST"),
        StatusCode::PAYLOAD_TOO_LARGE => ("validation_error", "the request body is too large"),
        _ => ("validation_error", "the request could not be read"),
    };
    failure(envelope, status, st.now(), code, description)
}

async fn card_api(
    State(st): State<AppState>,
    Path(method): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    serve(
        &st,
        Envelope::V5,
        &format!("card-api/{method}"),
        &uri,
        &headers,
        body,
    )
    .await
}

async fn partner_validate(
    State(st): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    serve(
        &st,
        Envelope::V5,
        "card-api/external/cardholder_validate",
        &uri,
        &headers,
        body,
    )
    .await
}

async fn gift_api(
    State(st): State<AppState>,
    Path(method): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    serve(
        &st,
        Envelope::Gift,
        &format!("cards/{method}"),
        &uri,
        &headers,
        body,
    )
    .await
}

/// Every method, by its path under `/v5/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    RequestStatus,
    ClientAdd,
    ClientEdit,
    CardIssue,
    CardBulkIssue,
    CardLink,
    CardStatus(StatusChange),
    CardInfo,
    CardBalance,
    CardList,
    CardStatement,
    CardSecret,
    CardholderValidate,
    TransactionCreate,
    TransactionClearing,
    TransactionRefund,
    TransactionInfo,
    TransactionRequestStatus,
    SandboxAuthorize,
    SandboxClearing,
    SandboxReverse,
    GiftProducts,
    GiftIssue,
    GiftActivate,
}

impl Method {
    fn parse(path: &str) -> Option<Method> {
        use Method as M;
        Some(match path {
            "card-api/request/status" => M::RequestStatus,
            "card-api/client/add" => M::ClientAdd,
            "card-api/client/edit" => M::ClientEdit,
            "card-api/card/issue" => M::CardIssue,
            "card-api/card/bulk_issue" => M::CardBulkIssue,
            "card-api/card/link" => M::CardLink,
            "card-api/card/activate" => M::CardStatus(StatusChange::Activate),
            "card-api/card/block" => M::CardStatus(StatusChange::Block),
            "card-api/card/unblock" => M::CardStatus(StatusChange::Unblock),
            "card-api/card/close" => M::CardStatus(StatusChange::Close),
            "card-api/card/info" => M::CardInfo,
            "card-api/card/balance" => M::CardBalance,
            "card-api/card/list" => M::CardList,
            "card-api/card/statement" => M::CardStatement,
            "card-api/card/secret" => M::CardSecret,
            "card-api/external/cardholder_validate" => M::CardholderValidate,
            "card-api/transaction/create" => M::TransactionCreate,
            "card-api/transaction/clearing" => M::TransactionClearing,
            "card-api/transaction/refund" => M::TransactionRefund,
            "card-api/transaction/info" => M::TransactionInfo,
            "card-api/transaction/request/status" => M::TransactionRequestStatus,
            "card-api/sandbox/authorize" => M::SandboxAuthorize,
            "card-api/sandbox/clearing" => M::SandboxClearing,
            "card-api/sandbox/reverse" => M::SandboxReverse,
            "cards/products" => M::GiftProducts,
            "cards/issue" => M::GiftIssue,
            "cards/activate_card" => M::GiftActivate,
            _ => return None,
        })
    }

    fn sandbox_only(self) -> bool {
        matches!(
            self,
            Method::SandboxAuthorize | Method::SandboxClearing | Method::SandboxReverse
        )
    }

    /// The status lookups name another request's id and consume none of their own.
    fn is_lookup(self) -> bool {
        matches!(
            self,
            Method::RequestStatus | Method::TransactionRequestStatus
        )
    }
}

async fn serve(
    st: &AppState,
    envelope: Envelope,
    path: &str,
    uri: &Uri,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let now = st.now();
    let body = match body {
        Ok(b) => b,
        Err(r) => {
            return failure(
                envelope,
                r.status(),
                now,
                "validation_error",
                &r.body_text(),
            )
        }
    };
    let method = match Method::parse(path) {
        Some(m) if !m.sandbox_only() || st.settings.mode == Mode::Sandbox => m,
        _ => {
            return failure(
                envelope,
                StatusCode::NOT_FOUND,
                now,
                "validation_error",
                "no such method",
            )
        }
    };
    let partner = match authenticate(st, headers, uri, &body).await {
        Ok(p) => p,
        Err(Auth::Refused(e)) => {
            return failure(
                envelope,
                StatusCode::UNAUTHORIZED,
                now,
                e.code(),
                &e.to_string(),
            )
        }
        Err(Auth::Broken(e)) => return internal(envelope, now, &e),
    };
    let json = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(m)) => m,
        _ => {
            return failure(
                envelope,
                StatusCode::BAD_REQUEST,
                now,
                "validation_error",
                "the body must be a JSON object",
            )
        }
    };
    let f = Fields::new(&json);
    // Taken as sent, untrimmed: the id a partner looks its request up by is exactly its own.
    let request_id = match json.get("request_id") {
        Some(Value::String(id)) if check_request_id(id) => id.clone(),
        other => {
            let kind = match other {
                None | Some(Value::Null) => paylink_core::error::Rule::Required,
                Some(_) => paylink_core::error::Rule::NotValid,
            };
            return refusal(
                envelope,
                now,
                &IssuingError::Invalid {
                    field: "request_id",
                    kind,
                },
            );
        }
    };
    let call = Call {
        partner: &partner,
        request_id: &request_id,
        // The method as partners name it: `card/issue`, and the gift cards' `cards/issue`.
        method: path.strip_prefix("card-api/").unwrap_or(path),
        now,
    };
    match run(st, method, &call, &f).await {
        Ok(out) => success(envelope, now, out),
        Err(CardError::Refused(e)) if method.is_lookup() => refusal(envelope, now, &e),
        Err(CardError::Refused(e)) => match ops::record_refusal(&st.store, &call, e).await {
            CardError::Refused(e) => refusal(envelope, now, &e),
            e => internal(envelope, now, &e),
        },
        Err(e) => internal(envelope, now, &e),
    }
}

enum Auth {
    Refused(jws::JwsError),
    Broken(CardError),
}

/// The partner who signed this request, or why nobody did.
async fn authenticate(
    st: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    body: &[u8],
) -> Result<Partner, Auth> {
    // The seed's table of headers names it `JWS-Signature`, its text `X-JWS-Signature`.
    let header = headers
        .get("x-jws-signature")
        .or_else(|| headers.get("jws-signature"))
        .ok_or(Auth::Refused(jws::JwsError::Missing))?
        .to_str()
        .map_err(|_| Auth::Refused(jws::JwsError::NotDetached))?;
    let token = jws::parse(header).map_err(Auth::Refused)?;
    let unknown = || Auth::Refused(jws::JwsError::UnknownAuthId);
    let id = paylink_core::id::PartnerId::parse(token.auth_id()).ok_or_else(unknown)?;
    let partner = st
        .store
        .partner(&id)
        .await
        .map_err(|e| Auth::Broken(e.into()))?
        .ok_or_else(unknown)?;
    let key = ops::partner_key(&st.keys, &partner).ok_or_else(|| {
        Auth::Broken(CardError::Store(paylink_store::StoreError::Corrupt(
            format!("the key of partner {} does not open", partner.id),
        )))
    })?;
    token
        .verify(
            key.expose().as_bytes(),
            "POST",
            uri.path(),
            uri.query().unwrap_or(""),
            body,
        )
        .map_err(Auth::Refused)?;
    Ok(partner)
}

async fn run(
    st: &AppState,
    method: Method,
    call: &Call<'_>,
    f: &Fields<'_>,
) -> Result<Out, CardError> {
    let store = &st.store;
    let keys = &st.keys;
    Ok(match method {
        Method::RequestStatus => {
            let r = ops::request_status(store, call.partner, call.request_id).await?;
            request_status(&r)
        }
        Method::TransactionRequestStatus => {
            let r = ops::request_status(store, call.partner, call.request_id).await?;
            let mut out = request_status(&r);
            out.fields.entry("transaction_id").or_insert(Value::Null);
            out
        }
        Method::ClientAdd => {
            let product_id = f.product_id()?;
            let client = f.object("client")?;
            let details = client_details(&client, None)?;
            let c = ops::add_client(store, call, product_id, details).await?;
            Out::new(json!({"client_id": c.id.as_str()}))
        }
        Method::ClientEdit => {
            let client_id = f.text("client_id", 64)?;
            let product_id = f.opt_product_id()?;
            let changes = f.object("client")?;
            // Over the stored particulars (as read by the edit, again if it races another):
            // each given field replaces its value.
            let c = ops::edit_client(store, call, &client_id, product_id, |stored| {
                client_details(&changes, Some(stored))
            })
            .await?;
            Out::new(json!({"client_id": c.id.as_str()}))
        }
        Method::CardIssue => {
            let product_id = f.product_id()?;
            let client_id = f.text("client_id", 64)?;
            let currency = f.currency("currency")?;
            let c = ops::issue_card(store, keys, call, product_id, &client_id, currency).await?;
            Out::new(json!({
                "card_id": c.id.as_str(),
                "card_mask": c.card_mask,
                "card_status": c.status.code(),
            }))
        }
        Method::CardBulkIssue => {
            let product_id = f.product_id()?;
            let quantity = f.int("quantity", 1, i64::from(ops::MAX_BULK))?;
            let currency = f.currency("currency")?;
            let cards =
                ops::bulk_issue(store, keys, call, product_id, quantity as u32, currency).await?;
            let mut out = Out::new(json!({"quantity": cards.len()}));
            out.request_status = "process";
            out
        }
        Method::CardLink => {
            let client_id = f.text("client_id", 64)?;
            let card_id = f.text("card_id", 64)?;
            let c = ops::link_card(store, keys, call, &client_id, &card_id).await?;
            Out::new(json!({
                "card_id": c.card.id.as_str(),
                "client_id": c.card.client_id.as_ref().map(|c| c.as_str()),
            }))
        }
        Method::CardStatus(change) => {
            let card_id = f.text("card_id", 64)?;
            f.opt_text("description", 255)?;
            let c = ops::change_status(store, keys, call, &card_id, change).await?;
            Out::new(json!({"card_id": c.card.id.as_str(), "card_status": c.status.code()}))
        }
        Method::CardInfo => {
            let card_id = f.text("card_id", 64)?;
            let c = ops::card_info(store, keys, call, &card_id).await?;
            Out::new(json!({"card": card_json(&c)}))
        }
        Method::CardBalance => {
            let card_id = f.text("card_id", 64)?;
            let (c, b) = ops::card_balance(store, keys, call, &card_id).await?;
            let mut out = balance_json(&b);
            out.insert("card_id".into(), json!(c.card.id.as_str()));
            out.insert("currency".into(), json!(c.card.currency.code()));
            Out::new(Value::Object(out))
        }
        Method::CardList => {
            let client_id = f.opt_text("client_id", 64)?;
            let page = f.opt_int("page", 1, 1_000_000)?.unwrap_or(1);
            let limit = f.opt_int("limit", 1, ops::MAX_PAGE)?.unwrap_or(20);
            let cards =
                ops::list_cards(store, keys, call, client_id.as_deref(), page, limit).await?;
            Out::new(json!({
                "cards": cards.iter().map(card_json).collect::<Vec<_>>(),
                "page": page,
                "limit": limit,
            }))
        }
        Method::CardStatement => {
            let card_id = f.text("card_id", 64)?;
            let from = f.date("date_from", DayEdge::Start)?;
            let to = f.date("date_to", DayEdge::End)?;
            let page = f.opt_int("page", 1, 1_000_000)?.unwrap_or(1);
            let limit = f.opt_int("limit", 1, ops::MAX_PAGE)?.unwrap_or(20);
            let ops_ = ops::statement(store, keys, call, &card_id, from, to, page, limit).await?;
            Out::new(json!({
                "card_id": card_id,
                "operations": ops_.iter().map(operation_json).collect::<Vec<_>>(),
                "page": page,
                "limit": limit,
            }))
        }
        Method::CardSecret => {
            let card_id = f.text("card_id", 64)?;
            let (token, expires_at) = ops::card_secret(store, keys, call, &card_id).await?;
            let base = st.settings.public_url.trim_end_matches('/');
            Out::new(json!({
                "card_id": card_id,
                "url": format!("{base}/card-secret/{}", token.expose()),
                "expires_at": format_datetime(expires_at),
            }))
        }
        Method::CardholderValidate => {
            let phone = f.phone("user_phone")?;
            let first = f.name("first_name")?;
            let last = f.name("last_name")?;
            let token = f.text("card_token", 64)?;
            let score =
                ops::validate_cardholder(store, call, &phone, &first, &last, &token).await?;
            Out::new(json!({
                "score": score.percent_text(),
                "fishy": u8::from(score.fishy),
            }))
        }
        Method::TransactionCreate => {
            let kind = match f.text("type", 16)?.as_str() {
                "credit" => TransactionKind::Credit,
                "debit" => TransactionKind::Debit,
                _ => {
                    return Err(IssuingError::Invalid {
                        field: "type",
                        kind: paylink_core::error::Rule::Unknown,
                    }
                    .into())
                }
            };
            let m = movement(f)?;
            let t = ops::create_transaction(store, keys, call, kind, m.borrowed()).await?;
            Out::new(json!({
                "transaction_id": t.id.as_str(),
                "transaction_status": t.status.as_str(),
            }))
        }
        Method::SandboxAuthorize => {
            let m = movement(f)?;
            let t = ops::authorize(store, keys, call, m.borrowed()).await?;
            Out::new(json!({
                "transaction_id": t.id.as_str(),
                "transaction_status": t.status.as_str(),
            }))
        }
        Method::TransactionClearing | Method::SandboxClearing | Method::SandboxReverse => {
            let id = f.text("transaction_id", 64)?;
            let amount = f.opt_amount("amount")?;
            let how = match method {
                Method::SandboxReverse => Settle::Reverse(amount),
                _ => Settle::Clear(amount),
            };
            let t = ops::settle(store, keys, call, &id, how).await?;
            Out::new(json!({
                "transaction_id": t.id.as_str(),
                "transaction_status": t.status.as_str(),
                "captured": format_fixed(t.captured),
            }))
        }
        Method::TransactionRefund => {
            let id = f.text("transaction_id", 64)?;
            let amount = f.opt_amount("amount")?;
            let (r, original, to) = ops::refund(store, keys, call, &id, amount).await?;
            Out::new(json!({
                "transaction_id": r.id.as_str(),
                "refunded_transaction_id": original.id.as_str(),
                "amount": format_fixed(r.amount.minor()),
                "transaction_status": r.status.as_str(),
                "refunded_to": to.as_str(),
            }))
        }
        Method::TransactionInfo => {
            let id = f.text("transaction_id", 64)?;
            let t = ops::transaction_info(store, call, &id).await?;
            Out::new(json!({"transaction": transaction_json(&t)}))
        }
        Method::GiftProducts => {
            let products = ops::list_gift_products(store, call).await?;
            Out::new(json!({
                "products": products.iter().map(|p| json!({
                    "code": p.code,
                    "name": p.name,
                    "name_en": p.name_en,
                    "currency": p.currency.code(),
                    "balance": format_fixed(p.face_value.minor()),
                })).collect::<Vec<_>>(),
            }))
        }
        Method::GiftIssue => {
            let name = f.person("cardholder_name")?;
            let phone = f.phone("phone")?;
            let code = f.text("product_code", 64)?;
            let sms_url = st.settings.card_api.sms_url.as_deref();
            let c = ops::issue_gift(store, keys, call, &name, &phone, &code, sms_url).await?;
            Out::new(json!({
                "card_id": c.id.as_str(),
                "card_status": c.status.code(),
                "card_mask": c.card_mask,
            }))
        }
        Method::GiftActivate => {
            let card_id = f.text("card_id", 64)?;
            let otp = f.text("otp", 16)?;
            let (c, b) = ops::activate_gift(store, keys, call, &card_id, &otp).await?;
            Out::new(json!({
                "card_id": c.card.id.as_str(),
                "card_status": c.status.code(),
                "card_currency": c.card.currency.code(),
                "card_balance": format_fixed(b.balance),
                "card_mask": c.card.card_mask,
            }))
        }
    })
}

/// `request/status`'s answer: the original's outcome and the ids it produced.
fn request_status(r: &CardRequest) -> Out {
    let p = &r.produced;
    let mut fields = Map::new();
    fields.insert("method".into(), json!(r.method));
    fields.insert("request_id".into(), json!(r.request_id));
    if let Some(id) = &p.client_id {
        fields.insert("client_id".into(), json!(id.as_str()));
    }
    if let Some(id) = &p.card_id {
        fields.insert("card_id".into(), json!(id.as_str()));
    }
    if let Some(id) = &p.transaction_id {
        fields.insert("transaction_id".into(), json!(id.as_str()));
    }
    if !p.cards.is_empty() {
        fields.insert(
            "cards".into(),
            json!(p
                .cards
                .iter()
                .map(|(id, mask)| json!({"card_id": id.as_str(), "card_mask": mask}))
                .collect::<Vec<_>>()),
        );
    }
    if let RequestOutcome::Error { code, description } = &r.outcome {
        fields.insert("error_code".into(), json!(code));
        fields.insert("error_description".into(), json!(description));
    }
    Out {
        fields,
        request_status: r.outcome.status(),
    }
}

fn card_json(c: &CardView) -> Value {
    json!({
        "card_id": c.card.id.as_str(),
        "card_token": c.card.card_token,
        "client_id": c.card.client_id.as_ref().map(|c| c.as_str()),
        "product_id": c.card.product_id,
        "card_mask": c.card.card_mask,
        "expiry": c.expiry.mm_yy(),
        "currency": c.card.currency.code(),
        "card_status": c.status.code(),
        "type": c.card.card_type.as_str(),
        "created_at": format_datetime(c.card.created_at),
    })
}

fn balance_json(b: &CardBalance) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("balance".into(), json!(format_fixed(b.balance)));
    m.insert("hold".into(), json!(format_fixed(b.hold)));
    m.insert("available".into(), json!(format_fixed(b.available())));
    m
}

/// A statement line: the movement's own type, amount, status and time; the rest from its
/// transaction (none for what a close returned to the partner's prepaid balance).
fn operation_json(l: &StatementLine) -> Value {
    let t = l.transaction.as_ref();
    json!({
        "transaction_id": t.map(|t| t.id.as_str()),
        "type": l.kind.as_str(),
        "amount": format_fixed(l.amount),
        "currency": l.currency.code(),
        "status": l.status.as_str(),
        "description": match t {
            Some(t) => t.description.clone(),
            None => "card closed: the rest returned to the partner's prepaid balance".into(),
        },
        "merchant_name": t.and_then(|t| t.merchant_name.clone()),
        "created_at": format_datetime(l.at),
    })
}

fn transaction_json(t: &CardTransaction) -> Value {
    json!({
        "transaction_id": t.id.as_str(),
        "card_id": t.card_id.as_str(),
        "type": t.kind.as_str(),
        "amount": format_fixed(t.amount.minor()),
        "currency": t.currency.code(),
        "status": t.status.as_str(),
        "captured": format_fixed(t.captured),
        "refunded": format_fixed(t.refunded),
        "description": t.description,
        "merchant_name": t.merchant_name,
        "external_id": t.external_id,
        "parent_id": t.parent_id.as_ref().map(|p| p.as_str()),
        "created_at": format_datetime(t.created_at),
    })
}

/// The particulars of `client` (a `client` object of a request), over `base` when editing:
/// each given field replaces the stored one.
fn client_details(
    client: &Fields<'_>,
    base: Option<&ClientDetails>,
) -> Result<ClientDetails, IssuingError> {
    let editing = base.is_some();
    let mut d = base.cloned().unwrap_or_default();
    if !editing || client.has("phone") {
        d.phone = client.phone("phone")?;
    }
    if !editing || client.has("type") {
        d.client_type = client.int("type", 1, 3)? as u8;
    }
    if !editing || client.has("resident") {
        d.resident = client.int("resident", 1, 2)? as u8;
    }
    if !editing || client.has("first_name") {
        d.first_name = client.name("first_name")?;
    }
    if !editing || client.has("last_name") {
        d.last_name = client.name("last_name")?;
    }
    if client.has("middle_name") {
        d.middle_name = client.opt_text("middle_name", 64)?;
    }
    if client.has("birthdate") {
        d.birthdate = client.opt_birthdate("birthdate")?;
    }
    if client.has("email") {
        d.email = client.opt_email("email")?;
    }
    if client.has("country") {
        d.country = client.opt_country("country")?;
    }
    Ok(d)
}

/// A movement's fields, owned (the borrowed [`Movement`] is built from it).
struct MovementFields {
    card_id: String,
    amount: paylink_core::money::Amount,
    currency: paylink_core::money::Currency,
    description: String,
    external_id: Option<String>,
    merchant_name: Option<String>,
}

impl MovementFields {
    fn borrowed(&self) -> Movement<'_> {
        Movement {
            card_id: &self.card_id,
            amount: self.amount,
            currency: self.currency,
            description: &self.description,
            external_id: self.external_id.clone(),
            merchant_name: self.merchant_name.clone(),
        }
    }
}

fn movement(f: &Fields<'_>) -> Result<MovementFields, IssuingError> {
    Ok(MovementFields {
        card_id: f.text("card_id", 64)?,
        amount: f.amount("amount")?,
        currency: f.currency("currency")?,
        description: f.opt_text("description", 255)?.unwrap_or_default(),
        external_id: f.opt_text("external_id", 64)?,
        merchant_name: f.opt_text("merchant_name", 128)?,
    })
}
