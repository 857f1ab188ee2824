//! Idempotent requests (`Idempotency-Key`), for every dialect: a request claims its merchant's
//! key, runs once, and its answer is stored in the same transaction as its effect; a retry of
//! the same request gets the stored answer, a concurrent one waits for it.
//!
//! - The claim is a write of its own (no effect yet). A claimer that dies leaves its claim to
//!   run out (`LEASE_MS`); the next retry takes it over and runs the request again, which is
//!   safe: the effect's plan is guarded on the claim, so only one claim ever makes an effect.
//! - An operation whose answer is known when its effect is planned (a bill, a payout) appends
//!   the answer to that plan ([`Seal::answer`]). One whose answer comes later (a refund waits
//!   for the acquirer) binds the object it made to the key in the effect's plan
//!   ([`Seal::bind`]) and stores the answer when it has it; a retry that finds the effect bound
//!   but no answer (its maker gave up) answers from the object.
//! - The request runs on a task of its own: a client that stops waiting (the request deadline)
//!   does not stop it, and its retry waits for the answer instead of making a second effect.

use crate::state::AppState;
use paylink_core::guard::Guard;
use paylink_core::id::MerchantId;
use paylink_core::plan::{Plan, RequestKey, StoredAnswer, Write};
use paylink_store::StoreError;
use std::sync::Mutex;
use std::time::Duration;

/// How long a claimer owns a key before another may take it over (it died): longer than any
/// request runs (the request deadline, an acquirer's answer).
pub const LEASE_MS: i64 = 120_000;

/// Longest `Idempotency-Key` accepted, in bytes (printable ASCII).
pub const MAX_KEY_LEN: usize = 255;

/// A key as the client sent it, if acceptable: 1 to [`MAX_KEY_LEN`] printable ASCII characters.
pub fn valid_key(key: &str) -> bool {
    (1..=MAX_KEY_LEN).contains(&key.len()) && key.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

/// The key of a web form's one-time token `token` on the form `form` (`bill`, `refund`,
/// `payout`), kept with the merchant's `Idempotency-Key`s. It holds `·`, which is not ASCII
/// and so in no key [`valid_key`] accepts: a form's keys and an API client's never meet.
pub fn form_key(merchant: &MerchantId, form: &str, token: &str) -> RequestKey {
    RequestKey {
        merchant_id: merchant.clone(),
        key: format!("form·{form}·{token}"),
    }
}

/// A claim on a key held by one request.
#[derive(Debug, Clone)]
pub struct Claim {
    pub key: RequestKey,
    pub token: String,
}

/// What a request with a key does.
#[derive(Debug)]
pub enum Start {
    /// Runs, holding `claim`; `reference` names the object an earlier claimer made before it
    /// gave up without an answer (answer from it, do not make another).
    Run {
        claim: Claim,
        reference: Option<String>,
    },
    /// Done before: the answer to replay.
    Replay(StoredAnswer),
    /// The key was used for another request.
    Mismatch,
}

/// Claims `key` for the request `fingerprint`, or finds its answer, waiting while another
/// request with the key runs.
pub async fn start(st: &AppState, key: RequestKey, fingerprint: &str) -> Result<Start, StoreError> {
    let mut pause = Duration::from_millis(2);
    loop {
        let now = st.now();
        let expired_before = now.saturating_sub(keep_ms(st));
        let found = st
            .store
            .remembered_request(&key)
            .await?
            .filter(|r| r.created_at >= expired_before);
        match &found {
            Some(r) if r.fingerprint != fingerprint => return Ok(Start::Mismatch),
            Some(r) => {
                if let Some(answer) = &r.answer {
                    return Ok(Start::Replay(answer.clone()));
                }
                if r.leased_until > now {
                    // Another request with this key runs: wait for its answer.
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(50));
                    continue;
                }
            }
            None => {}
        }
        let claim = Claim {
            key: key.clone(),
            token: paylink_core::id::random_base62(&mut rand::thread_rng(), 24),
        };
        let write = Write::ClaimRequest {
            key: key.clone(),
            fingerprint: fingerprint.to_string(),
            token: claim.token.clone(),
            now,
            leased_until: now + LEASE_MS,
            expired_before,
        };
        match st.store.apply(Plan::one(write)).await {
            Ok(()) => {}
            // Claimed by a concurrent request first: look again.
            Err(StoreError::GuardFailed(_)) => continue,
            Err(e) => return Err(e),
        }
        // A takeover keeps what the claimer before made; read it under our claim.
        let reference = match found {
            None => None,
            Some(_) => st
                .store
                .remembered_request(&key)
                .await?
                .and_then(|r| r.reference),
        };
        return Ok(Start::Run { claim, reference });
    }
}

/// The configured retention of keys, in milliseconds.
pub fn keep_ms(st: &AppState) -> i64 {
    i64::try_from(st.settings.idempotency.keep.as_millis()).unwrap_or(i64::MAX)
}

/// Stores the answer of a request that did not store it with an effect (a refusal that changed
/// nothing, an answer from an object already made), or gives up the claim on a server error
/// (5xx: the client retries, and the retry runs again).
pub async fn finish(st: &AppState, claim: &Claim, answer: &StoredAnswer) {
    if answer.status >= 500 {
        return release(st, claim).await;
    }
    let write = Write::SettleRequest {
        key: claim.key.clone(),
        token: claim.token.clone(),
        answer: answer.clone(),
        must_hold: false,
    };
    if let Err(e) = st.store.apply(Plan::one(write)).await {
        // The claim then runs out and a retry runs the request again (it made no effect).
        tracing::error!(error = %e, "cannot store an idempotent request's outcome");
    }
}

/// Gives up the claim without an answer: the key is forgotten if the request made no effect
/// (the next request with it runs), else the next one answers from the object made.
pub async fn release(st: &AppState, claim: &Claim) {
    let write = Write::ReleaseRequest {
        key: claim.key.clone(),
        token: claim.token.clone(),
    };
    if let Err(e) = st.store.apply(Plan::one(write)).await {
        // The claim then runs out and the next request with the key runs.
        tracing::error!(error = %e, "cannot give up an idempotent request's claim");
    }
}

/// Forgets keys past their retention, a bounded number at a time.
pub async fn purge(st: &AppState) -> Result<(), StoreError> {
    let before = st.now().saturating_sub(keep_ms(st));
    st.store
        .apply(Plan::one(Write::PurgeRequests {
            before,
            limit: 1000,
        }))
        .await
}

/// What an operation adds to the plan that makes its effect: an idempotent request's answer or
/// the object it made, so that they commit together. Writes go last in their plan.
pub trait Seal<T>: Send + Sync {
    /// For the effect's plan when its result answers the request.
    fn answer(&self, result: &T) -> Vec<Write>;
    /// For the effect's plan when the answer comes later: the object made.
    fn bind(&self, reference: &str) -> Vec<Write>;
    /// For a later plan (or one of its own) that has the answer.
    fn answer_later(&self, result: &T) -> Vec<Write>;
}

/// No key: nothing to add.
pub struct NoSeal;

impl<T> Seal<T> for NoSeal {
    fn answer(&self, _: &T) -> Vec<Write> {
        Vec::new()
    }
    fn bind(&self, _: &str) -> Vec<Write> {
        Vec::new()
    }
    fn answer_later(&self, _: &T) -> Vec<Write> {
        Vec::new()
    }
}

/// A [`Seal`] for a claimed key: renders the answer with the dialect's `render` and keeps the
/// last answer it handed out, which an operation that succeeded has committed.
pub struct Sealer<T> {
    claim: Claim,
    render: Box<dyn Fn(&T) -> StoredAnswer + Send + Sync>,
    sealed: Mutex<Option<StoredAnswer>>,
}

impl<T> Sealer<T> {
    pub fn new(claim: Claim, render: impl Fn(&T) -> StoredAnswer + Send + Sync + 'static) -> Self {
        Sealer {
            claim,
            render: Box::new(render),
            sealed: Mutex::new(None),
        }
    }

    pub fn claim(&self) -> &Claim {
        &self.claim
    }

    /// The answer last written with an effect (committed if the operation succeeded).
    pub fn sealed(&self) -> Option<StoredAnswer> {
        self.sealed.lock().ok().and_then(|s| s.clone())
    }

    fn settle(&self, result: &T, must_hold: bool) -> Vec<Write> {
        let answer = (self.render)(result);
        if let Ok(mut s) = self.sealed.lock() {
            *s = Some(answer.clone());
        }
        vec![Write::SettleRequest {
            key: self.claim.key.clone(),
            token: self.claim.token.clone(),
            answer,
            must_hold,
        }]
    }
}

impl<T> Seal<T> for Sealer<T> {
    fn answer(&self, result: &T) -> Vec<Write> {
        self.settle(result, true)
    }

    fn bind(&self, reference: &str) -> Vec<Write> {
        vec![Write::BindRequest {
            key: self.claim.key.clone(),
            token: self.claim.token.clone(),
            reference: reference.to_string(),
        }]
    }

    fn answer_later(&self, result: &T) -> Vec<Write> {
        self.settle(result, false)
    }
}

/// The refusal a failed claim guard in an effect's plan stands for: another request took the
/// key over (this one ran past its lease); the client's retry gets that one's answer.
pub fn lost(guard: Guard) -> bool {
    guard == Guard::RequestKeyLost
}
