//! Forms that make something (a bill, a refund, a payout) act once per form. Each page draws a one-time
//! token into the form (the hidden field `form`); a submit claims it as one of the merchant's
//! idempotency keys ([`crate::ops::idempotency`], the machinery of the API's
//! `Idempotency-Key`, in a namespace of its own: [`idempotency::form_key`]), and the
//! operation's effect is sealed with it. A second submit of the same form (a double click, a
//! network retry, a resubmit) makes nothing: it waits for the first if that still runs and is
//! sent where the first one was, to the page that shows its outcome. A refusal changed nothing
//! and is not kept: the form may be sent again. The page after a refusal draws a new token.

use crate::ops::idempotency::{self, Seal, Sealer, Start};
use crate::ops::OpError;
use crate::pages::{field, Fields, FORM_TOKEN_LEN};
use crate::state::AppState;
use crate::web::Visitor;
use axum::http::StatusCode;
use axum::response::Response;
use paylink_core::id::{random_base62, MerchantId};
use paylink_core::plan::StoredAnswer;
use sha2::{Digest, Sha256};
use std::future::Future;
use std::sync::Arc;

/// The form field that carries the token.
pub const FIELD: &str = "form";

/// A new token for a form on a page.
pub fn fresh() -> String {
    random_base62(&mut rand::thread_rng(), FORM_TOKEN_LEN)
}

/// The form's token, if it is one a page draws.
fn token(f: &Fields) -> Option<&str> {
    let t = field(f, FIELD);
    (t.len() == FORM_TOKEN_LEN && t.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(t)
}

/// What a submit of a one-time form came to.
pub enum Outcome {
    /// Done, by this submit or an earlier one of the same form: the page that shows it.
    Done(String),
    /// Refused; nothing was made.
    Refused(OpError),
    /// No acceptable token (a page from before the token, a form made by hand).
    NoToken,
    /// The form was sent before with other values; that one stands.
    Used,
    /// The submit's task failed (logged).
    Failed,
}

/// What a form's submit is compared by: the form and the values that decide its effect.
fn fingerprint(form: &str, values: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(form.as_bytes());
    for v in values {
        // Length-prefixed: no two lists of values hash the same text.
        h.update(format!("\n{}:", v.len()).as_bytes());
        h.update(v.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs the submit of `merchant`'s form `form` (fields `f`; `values` are what decides its
/// effect) once per token. `run` makes the effect, sealing it with the seal it is given; it is
/// also given the object an earlier submit made before it gave up without an answer, and then
/// answers from that object instead of making another. `done` names the page that shows an
/// outcome. The submit runs on a task of its own, so a browser that stops waiting (a double
/// click cancels the first request) does not stop it, and the second submit gets its outcome.
pub async fn once<T, D, F, Fut>(
    st: &AppState,
    merchant: &MerchantId,
    form: &'static str,
    f: &Fields,
    values: &[&str],
    done: D,
    run: F,
) -> Outcome
where
    T: Send + 'static,
    D: Fn(&T) -> String + Send + Sync + 'static,
    F: FnOnce(Arc<dyn Seal<T>>, Option<String>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, OpError>> + Send + 'static,
{
    let Some(token) = token(f) else {
        return Outcome::NoToken;
    };
    let key = idempotency::form_key(merchant, form, token);
    let fingerprint = fingerprint(form, values);
    let st = st.clone();
    let task = tokio::spawn(tracing::Instrument::in_current_span(async move {
        let (claim, made) = match idempotency::start(&st, key, &fingerprint).await {
            Ok(Start::Run { claim, reference }) => (claim, reference),
            Ok(Start::Replay(answer)) => return Outcome::Done(answer.body),
            Ok(Start::Mismatch) => return Outcome::Used,
            Err(e) => return Outcome::Refused(e.into()),
        };
        let done = Arc::new(done);
        let to = done.clone();
        let sealer = Arc::new(Sealer::new(claim.clone(), move |t: &T| StoredAnswer {
            status: 303,
            body: to(t),
        }));
        let seal: Arc<dyn Seal<T>> = sealer.clone();
        match run(seal, made).await {
            Ok(t) => match sealer.sealed() {
                // Stored with the effect, in its transaction.
                Some(stored) => Outcome::Done(stored.body),
                None => {
                    let answer = StoredAnswer {
                        status: 303,
                        body: done(&t),
                    };
                    idempotency::finish(&st, &claim, &answer).await;
                    Outcome::Done(answer.body)
                }
            },
            Err(e) => {
                idempotency::release(&st, &claim).await;
                Outcome::Refused(e)
            }
        }
    }));
    match task.await {
        Ok(outcome) => outcome,
        Err(e) => {
            tracing::error!(error = %e, "a one-time form's task failed");
            Outcome::Failed
        }
    }
}

/// The answer to a submit: a redirect to the outcome's page, or the form's page again (by
/// `refused`) with why nothing was made, a refusal in the words `words` gives it.
pub async fn answer<F, Fut>(
    outcome: Outcome,
    v: &Visitor,
    words: impl Fn(&OpError) -> &'static str,
    refused: F,
) -> Response
where
    F: FnOnce(StatusCode, &'static str) -> Fut,
    Fut: Future<Output = Response>,
{
    match outcome {
        Outcome::Done(to) => super::redirect(v, &to),
        Outcome::Refused(e) => {
            let status = super::status_of(&e, StatusCode::UNPROCESSABLE_ENTITY);
            refused(status, words(&e)).await
        }
        Outcome::NoToken => refused(StatusCode::UNPROCESSABLE_ENTITY, v.t.form_expired).await,
        Outcome::Used => refused(StatusCode::CONFLICT, v.t.form_used).await,
        Outcome::Failed => refused(StatusCode::INTERNAL_SERVER_ERROR, v.t.something_wrong).await,
    }
}
