//! `Idempotency-Key` on the Cardlink writes (see [`crate::ops::idempotency`]): the header, the
//! request's fingerprint, and the answers as stored and replayed.

use super::auth::Credentials;
use super::error::ApiError;
use super::params::Params;
use crate::ops::idempotency::{self, Claim, Seal, Sealer, Start};
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use paylink_core::plan::{RequestKey, StoredAnswer};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::future::Future;
use std::sync::Arc;

const HEADER: &str = "idempotency-key";
/// Set on an answer replayed from an earlier request with the same key.
const REPLAYED: &str = "idempotent-replayed";

/// The request's `Idempotency-Key`, if it sent one (`Err`: not an acceptable one), with its
/// method and path.
pub struct IdempotencyKey {
    key: Result<Option<String>, ()>,
    method: Method,
    path: String,
}

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _: &S,
    ) -> Result<Self, std::convert::Infallible> {
        let mut values = parts.headers.get_all(HEADER).iter();
        let key = match (values.next(), values.next()) {
            (None, _) => Ok(None),
            (Some(v), None) => match v.to_str() {
                Ok(k) if idempotency::valid_key(k) => Ok(Some(k.to_string())),
                _ => Err(()),
            },
            (Some(_), Some(_)) => Err(()),
        };
        Ok(IdempotencyKey {
            key,
            method: parts.method.clone(),
            path: parts.uri.path().to_string(),
        })
    }
}

fn invalid() -> ApiError {
    ApiError::field(
        "idempotency_key",
        format!(
            "The Idempotency-Key header must be one value of 1 to {} printable ASCII characters.",
            idempotency::MAX_KEY_LEN
        ),
    )
}

/// What a request with a key is compared by: method, path and canonical parameters.
fn fingerprint(key: &IdempotencyKey, params: &Params) -> String {
    let mut h = Sha256::new();
    h.update(key.method.as_str().as_bytes());
    h.update(b" ");
    h.update(key.path.as_bytes());
    h.update(b"\n");
    h.update(params.canonical().as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A successful answer as bytes (what `Wire` sends).
fn wire_answer<W: Serialize>(wire: &W) -> StoredAnswer {
    match serde_json::to_string(wire) {
        Ok(body) => StoredAnswer { status: 200, body },
        Err(e) => {
            tracing::error!(error = %e, "cannot serialize an answer");
            error_answer(ApiError::Internal)
        }
    }
}

fn error_answer(e: ApiError) -> StoredAnswer {
    let (status, body) = e.parts();
    StoredAnswer {
        status: status.as_u16(),
        body: serde_json::to_string(&body).unwrap_or_default(),
    }
}

fn respond(answer: StoredAnswer, replayed: bool) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        answer.body,
    )
        .into_response();
    if replayed {
        response
            .headers_mut()
            .insert(REPLAYED, HeaderValue::from_static("true"));
    }
    response
}

/// What a write runs with.
pub(crate) struct Run<T> {
    pub st: AppState,
    pub who: Credentials,
    pub params: Params,
    /// Adds the answer (or the object made) to the effect's plan.
    pub seal: Arc<dyn Seal<T>>,
    /// The object an earlier request with the key made before it gave up without an answer.
    pub made: Option<String>,
}

/// Runs a write: `run` does the work (adding the answer to its effect's plan through the seal)
/// and returns what `render` turns into the wire answer. Without a key, as any request; with
/// one, once per key: a retry gets the stored answer, a concurrent one waits for it, another
/// request with the key is refused. `run` is also given the object an earlier claimer made
/// before it gave up without an answer (only refunds bind one): it answers from it.
pub(crate) async fn once<T, W, R, F, Fut>(
    st: AppState,
    who: Credentials,
    key: IdempotencyKey,
    params: Params,
    render: R,
    run: F,
) -> Response
where
    T: Send + 'static,
    W: Serialize,
    R: Fn(&T) -> W + Send + Sync + Clone + 'static,
    F: FnOnce(Run<T>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, ApiError>> + Send + 'static,
{
    let key_or_refusal = key.key.clone().map_err(|()| invalid());
    let k = match super::authorized(key_or_refusal, &who, &st).await {
        Ok(k) => k,
        Err(e) => return e.into_response(),
    };
    let Some(k) = k else {
        let seal: Arc<dyn Seal<T>> = Arc::new(idempotency::NoSeal);
        let made = None;
        return match run(Run {
            st,
            who,
            params,
            seal,
            made,
        })
        .await
        {
            Ok(t) => super::Wire(render(&t)).into_response(),
            Err(e) => e.into_response(),
        };
    };
    // Keys are the merchant's own: the caller is known before the key is looked at.
    let merchant = match who.merchant(&st).await {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };
    let request = RequestKey {
        merchant_id: merchant.id,
        key: k,
    };
    let fingerprint = fingerprint(&key, &params);
    // On a task of its own: a client that stops waiting (the request deadline) leaves the
    // request to finish and store its answer for the retry. It stays in the request's span, so
    // its log lines carry the request id.
    let task = tokio::spawn(tracing::Instrument::in_current_span(async move {
        let (claim, reference) = match idempotency::start(&st, request, &fingerprint).await {
            Ok(Start::Run { claim, reference }) => (claim, reference),
            Ok(Start::Replay(answer)) => return (answer, true),
            Ok(Start::Mismatch) => {
                let e = ApiError::field(
                    "idempotency_key",
                    "This Idempotency-Key was used with other parameters; send a new key \
                     for a new request.",
                );
                return (error_answer(e), false);
            }
            Err(e) => return (error_answer(ApiError::from(e)), false),
        };
        (
            run_claimed(st, who, params, claim, reference, render, run).await,
            false,
        )
    }));
    match task.await {
        Ok((answer, replayed)) => respond(answer, replayed),
        Err(e) => {
            tracing::error!(error = %e, "an idempotent request's task failed");
            ApiError::Internal.into_response()
        }
    }
}

async fn run_claimed<T, W, R, F, Fut>(
    st: AppState,
    who: Credentials,
    params: Params,
    claim: Claim,
    reference: Option<String>,
    render: R,
    run: F,
) -> StoredAnswer
where
    T: Send + 'static,
    W: Serialize,
    R: Fn(&T) -> W + Send + Sync + Clone + 'static,
    F: FnOnce(Run<T>) -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let renders = render.clone();
    let sealer = Arc::new(Sealer::new(claim.clone(), move |t: &T| {
        wire_answer(&renders(t))
    }));
    let seal: Arc<dyn Seal<T>> = sealer.clone();
    let made = reference;
    let answer = match run(Run {
        st: st.clone(),
        who,
        params,
        seal,
        made,
    })
    .await
    {
        Ok(t) => match sealer.sealed() {
            // Stored with the effect, in its transaction.
            Some(stored) => return stored,
            None => wire_answer(&render(&t)),
        },
        Err(e) => error_answer(e),
    };
    idempotency::finish(&st, &claim, &answer).await;
    answer
}
