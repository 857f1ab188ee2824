//! The postback dispatcher, which delivers the outbox. Core writes each event to the outbox in
//! the same plan as the change it reports, as a row naming the URL, the dialect that renders
//! it and the event (see `paylink_store`'s `outbox` and `events`). The dispatcher claims due
//! rows with a lease, asks the row's dialect to render it ([`crate::dialects::render`]: body and headers,
//! signatures included), delivers the bytes concurrently with a timeout, records every attempt
//! and reschedules failures by the configured [`RetrySchedule`]. Delivery is at-least-once: a
//! dispatcher that dies mid-delivery leaves its lease to run out, and the notice goes again.
//! A row's event never changes, so every attempt carries the same id and the same body.

use crate::config::PostbackSettings;
use crate::dialects;
use crate::egress::{self, GuardedResolver};
use crate::state::AppState;
use paylink_core::event::{AfterAttempt, Event};
use paylink_core::id::random_base62;
use paylink_core::plan::{DeliveryAttempt, Finished, Plan, Write};
use paylink_core::time::{format_datetime, Millis};
use paylink_store::{Claimed, Handover, NoticeContent, StoreError};
use rand::Rng;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, watch, Semaphore};

/// Bytes of a receiver's answer kept with the attempt.
const EXCERPT_BYTES: usize = 256;

/// The HTTP client postbacks go out with: no redirects followed (a receiver cannot bounce a
/// signed postback elsewhere), no proxy from the environment (a proxy would resolve the name
/// itself, past the guarded resolver), the configured timeout, and the guarded resolver.
pub fn client(settings: &PostbackSettings) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout)
        .dns_resolver(Arc::new(GuardedResolver {
            allow_private: settings.allow_private,
        }))
        .user_agent(concat!("paylink/", env!("CARGO_PKG_VERSION"), " postbacks"))
        .pool_max_idle_per_host(64)
        .build()
        .expect("the postback client builds (no TLS files are read)")
}

/// Notices handed over and not yet started, at most: beyond it the oldest are left to their
/// leases, which lapse, after which a claim takes them like any other due notice.
const MAX_WAITING: usize = 100_000;

/// Delivers notices until `stop` turns true. Up to `batch` deliveries are in flight at once,
/// each on its own task, so one slow receiver holds up only its own slot; a free slot is filled
/// by the next notice. The notices this process writes come straight from the store, already
/// leased to this dispatcher ([`paylink_store::Store::hand_over_notices`]): no read or write
/// to claim them. Retries, redeliveries and notices other processes left are claimed from the
/// outbox every `poll`. Results go to one recorder that writes them in batches.
pub async fn run(st: AppState, mut stop: watch::Receiver<bool>) {
    let settings = &st.settings.postbacks;
    let batch = settings.batch;
    let slots = Arc::new(Semaphore::new(batch));
    let (results, finished) = mpsc::unbounded_channel();
    let recorder = tokio::spawn(record(st.clone(), finished));
    let owner = random_base62(&mut rand::thread_rng(), 16);
    let mut handed = st
        .store
        .hand_over_notices(&owner, settings.lease.as_millis() as i64);
    let mut waiting: VecDeque<String> = VecDeque::new();
    let mut handing = true;
    let mut poll = true;
    let mut next_poll = tokio::time::Instant::now();
    loop {
        if *stop.borrow() {
            break;
        }
        while let Ok(h) = handed.try_recv() {
            take(h, &mut waiting, &mut poll);
        }
        if tokio::time::Instant::now() >= next_poll {
            poll = true;
        }
        // What is due first, so that retries are not starved by a steady stream of new notices.
        if poll && slots.available_permits() > 0 {
            let free = slots.available_permits();
            match claim(&st, free).await {
                Ok(claimed) => {
                    // All it asked for: more may be due, so claim again at once.
                    poll = claimed.len() == free;
                    start(&st, &slots, &results, claimed).await;
                }
                Err(e) => {
                    poll = false;
                    tracing::error!(error = %e, "claiming postbacks failed");
                }
            }
            next_poll = tokio::time::Instant::now() + settings.poll;
        }
        let free = slots.available_permits();
        if free > 0 && !waiting.is_empty() {
            let ids: Vec<String> = waiting.drain(..free.min(waiting.len())).collect();
            match leased_to(&st, &owner, &ids).await {
                Ok(claimed) => start(&st, &slots, &results, claimed).await,
                Err(e) => {
                    // The database out of reach for a moment (a failover): the leases are still
                    // this dispatcher's, so the same notices are read again after a pause, not
                    // left to wait out their leases. One that lapses meanwhile is skipped by the
                    // read and claimed like any due notice.
                    tracing::warn!(error = %e, "reading postbacks handed over failed; trying again");
                    for id in ids.into_iter().rev() {
                        waiting.push_front(id);
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(settings.poll) => {}
                        _ = stop.changed() => {}
                    }
                }
            }
            continue;
        }
        if slots.available_permits() == 0 {
            // Every slot busy: go on once half of them are free, so that work is taken in
            // large batches, not one notice at a time.
            let half = (batch / 2).max(1) as u32;
            tokio::select! {
                _ = slots.acquire_many(half) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        if poll {
            continue;
        }
        tokio::select! {
            h = handed.recv(), if handing => match h {
                Some(h) => take(h, &mut waiting, &mut poll),
                // The store hands over to another dispatcher now: claims only.
                None => handing = false,
            },
            _ = tokio::time::sleep_until(next_poll) => poll = true,
            _ = stop.changed() => {}
        }
    }
    // Let the deliveries in flight finish and be recorded. Notices handed over and not
    // started keep their leases until they lapse.
    drop(handed);
    let _ = slots.acquire_many(batch as u32).await;
    drop(results);
    let _ = recorder.await;
}

fn take(h: Handover, waiting: &mut VecDeque<String>, poll: &mut bool) {
    match h {
        Handover::Leased(ids) => {
            waiting.extend(ids);
            let over = waiting.len().saturating_sub(MAX_WAITING);
            waiting.drain(..over);
        }
        Handover::Due => *poll = true,
    }
}

/// Starts a delivery for each claimed notice, each holding a slot until it is done.
async fn start(
    st: &AppState,
    slots: &Arc<Semaphore>,
    results: &mpsc::UnboundedSender<Finished>,
    claimed: Vec<(String, Claimed)>,
) {
    for (owner, c) in claimed {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            break;
        };
        let (st, results) = (st.clone(), results.clone());
        tokio::spawn(async move {
            let done = deliver(&st, owner, c).await;
            let _ = results.send(done);
            drop(permit);
        });
    }
}

/// Until when a lease must last for a delivery to start under it: one that lapsed during the
/// delivery could be claimed and sent a second time.
fn live_until(st: &AppState, now: Millis) -> Millis {
    let p = &st.settings.postbacks;
    now + p.timeout.min(p.lease / 2).as_millis() as i64
}

/// The notices `ids` leased to `owner` (handed over, or just claimed), those whose lease is
/// still good.
async fn leased_to(
    st: &AppState,
    owner: &str,
    ids: &[String],
) -> Result<Vec<(String, Claimed)>, StoreError> {
    let live = live_until(st, st.now());
    Ok(st
        .store
        .claimed_notices(owner, ids, live)
        .await?
        .into_iter()
        .map(|c| (owner.to_string(), c))
        .collect())
}

/// Leases up to `limit` due notices to a fresh owner: finds them with a read, then leases
/// those still free.
async fn claim(st: &AppState, limit: usize) -> Result<Vec<(String, Claimed)>, StoreError> {
    let now = st.now();
    let ids = st.store.due_notices(now, limit as i64).await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let owner = random_base62(&mut rand::thread_rng(), 16);
    st.store
        .apply(Plan::one(Write::ClaimNotices {
            owner: owner.clone(),
            ids: ids.clone(),
            now,
            until: now + st.settings.postbacks.lease.as_millis() as i64,
        }))
        .await?;
    leased_to(st, &owner, &ids).await
}

/// Writes finished attempts, as many at once as have come in.
async fn record(st: AppState, mut finished: mpsc::UnboundedReceiver<Finished>) {
    while let Some(first) = finished.recv().await {
        let mut batch = vec![first];
        while batch.len() < 1024 {
            match finished.try_recv() {
                Ok(f) => batch.push(f),
                Err(_) => break,
            }
        }
        if let Err(e) = st
            .store
            .apply(Plan::one(Write::FinishAttempts(batch)))
            .await
        {
            // The leases run out and the notices go again: at least once, never lost.
            tracing::error!(error = %e, "recording postback attempts failed");
        }
    }
}

/// When what the notice carries stops being good (an SMS's one-time code), if ever.
fn expires_at(claimed: &Claimed) -> Option<Millis> {
    match &claimed.record.notice.content {
        NoticeContent::Event(Event::Sms(sms)) => sms.expires_at,
        _ => None,
    }
}

async fn deliver(st: &AppState, owner: String, claimed: Claimed) -> Finished {
    let record = &claimed.record;
    let notice = &record.notice;
    let at = st.now();
    let expires_at = expires_at(&claimed);
    if let Some(dead) = expires_at.filter(|&e| at >= e) {
        // Never delivered with a dead code: given up, the record says why.
        return Finished {
            attempt: DeliveryAttempt {
                notice_id: notice.id.clone(),
                number: record.total_attempts + 1,
                at,
                http_status: None,
                latency_ms: 0,
                error: Some(format!(
                    "not sent, given up: the code it carries expired at {} UTC",
                    format_datetime(dead)
                )),
                excerpt: String::new(),
            },
            owner,
            next: AfterAttempt::GiveUp,
        };
    }
    let started = Instant::now();
    let outcome = send(st, &claimed, at).await;
    let latency_ms = started.elapsed().as_millis() as i64;
    let ok = matches!(&outcome, Ok((status, _)) if (200..300).contains(status));
    let roll = rand::thread_rng().gen_range(0..=2000);
    let made = u32::try_from(record.attempts + 1).unwrap_or(u32::MAX);
    let mut next = st.settings.postbacks.retry.after(made, ok, st.now(), roll);
    let (http_status, mut error, excerpt) = match outcome {
        Ok((status, excerpt)) => (Some(i64::from(status)), None, excerpt),
        Err(why) => (None, Some(why), String::new()),
    };
    if let (AfterAttempt::RetryAt(t), Some(dead)) = (next, expires_at) {
        if t >= dead {
            // The next try would carry a dead code: this one was the last.
            next = AfterAttempt::GiveUp;
            let why = format!(
                "given up: the code it carries expires at {} UTC, before the next try",
                format_datetime(dead)
            );
            error = Some(match error {
                Some(e) => format!("{e}; {why}"),
                None => why,
            });
        }
    }
    if let Some(why) = &error {
        tracing::warn!(notice = %notice.id, url = %notice.url, error = %why, "postback attempt failed");
    }
    Finished {
        attempt: DeliveryAttempt {
            notice_id: notice.id.clone(),
            number: record.total_attempts + 1,
            at,
            http_status,
            latency_ms,
            error,
            excerpt,
        },
        owner,
        next,
    }
}

/// Posts the notice; the receiver's status and the start of its answer, or why none came.
pub(crate) async fn send(
    st: &AppState,
    claimed: &Claimed,
    at: i64,
) -> Result<(u16, String), String> {
    let notice = &claimed.record.notice;
    let settings = &st.settings.postbacks;
    let url = egress::check_url(&notice.url, settings.allow_private)
        .map_err(|r| format!("refused: {r}"))?;
    let rendered = dialects::render(&st.keys.seal, claimed, at)?;
    let mut request = st.postback_client.post(url);
    for (name, value) in rendered.headers {
        request = request.header(name, value);
    }
    let mut response = request.body(rendered.body).send().await.map_err(describe)?;
    let status = response.status().as_u16();
    let mut excerpt = Vec::new();
    while excerpt.len() < EXCERPT_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
            _ => break,
        }
    }
    excerpt.truncate(EXCERPT_BYTES);
    Ok((status, String::from_utf8_lossy(&excerpt).into_owned()))
}

/// A request error with its causes, which say what actually happened (a refused address, a
/// reset connection).
fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".into();
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// When failed deliveries are tried again: `delays[n]` after the (n+1)th failed attempt of a
/// round, each moved by a random jitter of up to `jitter_percent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    pub delays: Vec<Millis>,
    pub jitter_percent: u32,
}

impl Default for RetrySchedule {
    /// 12 attempts over about 44 hours (at least 39 with the jitter): more patient than the
    /// real service's 6 attempts over 31 hours.
    fn default() -> Self {
        let s = 1000;
        let m = 60 * s;
        let h = 60 * m;
        RetrySchedule {
            delays: vec![
                10 * s,
                m,
                5 * m,
                15 * m,
                30 * m,
                h,
                2 * h,
                4 * h,
                8 * h,
                12 * h,
                16 * h,
            ],
            jitter_percent: 10,
        }
    }
}

impl RetrySchedule {
    /// Attempts in one round, the first included.
    pub fn attempts(&self) -> usize {
        self.delays.len() + 1
    }

    /// After the `made`th attempt of a round (1-based): `ok` delivers; a failure waits the
    /// scheduled delay, moved by `roll` (uniform in `0..=2000`, 1000 meaning no jitter).
    pub fn after(&self, made: u32, ok: bool, now: Millis, roll: u32) -> AfterAttempt {
        if ok {
            return AfterAttempt::Delivered;
        }
        let Some(&delay) = self.delays.get(made.saturating_sub(1) as usize) else {
            return AfterAttempt::GiveUp;
        };
        let roll = i64::from(roll.min(2000)) - 1000;
        let jitter = delay * i64::from(self.jitter_percent) / 100 * roll / 1000;
        AfterAttempt::RetryAt(now + (delay + jitter).max(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_is_at_least_twelve_attempts_over_a_day_whatever_the_jitter() {
        let s = RetrySchedule::default();
        assert!(s.attempts() >= 12);
        for roll in [0, 1000, 2000] {
            let mut now = 0;
            let mut made = 1;
            while let AfterAttempt::RetryAt(t) = s.after(made, false, now, roll) {
                assert!(t > now);
                now = t;
                made += 1;
            }
            assert_eq!(made as usize, s.attempts());
            assert!(now >= 24 * 3_600_000, "last attempt after {now} ms");
        }
        assert_eq!(s.after(3, true, 7, 0), AfterAttempt::Delivered);
        assert_eq!(s.after(1, false, 0, 1000), AfterAttempt::RetryAt(10_000));
        assert_eq!(s.after(1, false, 0, 0), AfterAttempt::RetryAt(9_000));
        assert_eq!(s.after(1, false, 0, 2000), AfterAttempt::RetryAt(11_000));
    }
}
