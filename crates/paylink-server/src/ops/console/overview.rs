//! The console's reads: the overview. Payments (turnover, counts, success rate) per hour for
//! the last 24 clock hours and per day for the last 30 days, payouts by status over the same
//! windows, the outbox's backlog, and the health figures `/metrics` exposes, read from the
//! same source ([`paylink_store::Store::telemetry`]) and computed the same way.

use crate::ops::OpError;
use crate::state::AppState;
use paylink_core::audit::{Actor, Power};
use paylink_core::money::Currency;
use paylink_core::time::Millis;
use std::collections::BTreeMap;

pub const HOUR: Millis = 3_600_000;
pub const DAY: Millis = 86_400_000;
/// Buckets of each chart: hours of the short window, days of the long one.
pub const HOURS: i64 = 24;
pub const DAYS: i64 = 30;

/// Payments of one bucket (an hour or a day) in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    /// Hours or days since the epoch.
    pub at: i64,
    pub currency: Currency,
    /// Minor units of the payments that brought money.
    pub turnover: i64,
    pub made: i64,
    /// Payments that brought money (SUCCESS, UNDERPAID, OVERPAID).
    pub paid: i64,
    /// Payments that came to an end, successfully or not.
    pub finished: i64,
}

/// Payouts of one status in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutLine {
    pub status: String,
    pub currency: Currency,
    pub count: i64,
    pub amount: i64,
}

/// The totals of a window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    /// Minor units per currency, in currency order.
    pub turnover: BTreeMap<&'static str, i64>,
    pub made: i64,
    pub paid: i64,
    pub finished: i64,
    pub payouts: Vec<PayoutLine>,
}

impl Totals {
    /// Paid among finished payments, in whole percent (rounded down); `None` before any
    /// payment finished.
    pub fn success_percent(&self) -> Option<i64> {
        (self.finished > 0).then(|| self.paid * 100 / self.finished)
    }

    fn of(buckets: &[Bucket], payouts: Vec<PayoutLine>) -> Totals {
        let mut t = Totals {
            payouts,
            ..Totals::default()
        };
        for b in buckets {
            *t.turnover.entry(b.currency.code()).or_default() += b.turnover;
            t.made += b.made;
            t.paid += b.paid;
            t.finished += b.finished;
        }
        t.turnover.retain(|_, v| *v != 0);
        t
    }
}

/// Outbox messages waiting for delivery.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Postbacks to merchants' servers (payments, payouts, refunds).
    pub postbacks: i64,
    /// How long the oldest of them has waited since it was written (0 when none waits).
    pub oldest_postback_age_ms: i64,
    /// Emails and SMS.
    pub messages: i64,
}

/// The process's health, as `/metrics` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// Plans waiting for a writer (`paylink_writer_queue`).
    pub writer_queue: usize,
    /// Messages due for delivery now (`paylink_outbox_due`).
    pub outbox_due: i64,
    /// Messages being delivered (`paylink_outbox_in_flight`).
    pub outbox_in_flight: i64,
    /// How long the longest-waiting due message has been due (`paylink_outbox_delivery_lag`).
    pub outbox_lag_ms: i64,
    /// Held payments, and those whose settlement is overdue (`paylink_settlements_*`).
    pub settlements_waiting: i64,
    pub settlements_due: i64,
    /// Whether this process runs the postback dispatcher and the money worker.
    pub dispatcher: bool,
    pub money_worker: bool,
}

#[derive(Debug, Clone)]
pub struct Overview {
    pub now: Millis,
    /// The current hour's number (hours since the epoch): the last of the hourly buckets.
    pub hour: i64,
    /// Today's number (days since the epoch): the last of the daily buckets.
    pub today: i64,
    /// The last 24 clock hours (this one included), and the last 30 days (today included).
    pub day: Totals,
    pub month: Totals,
    pub hourly: Vec<Bucket>,
    pub daily: Vec<Bucket>,
    pub backlog: Backlog,
    pub health: Health,
}

/// Every merchant's payments since `since` in buckets of `width`.
async fn buckets(
    store: &paylink_store::Store,
    since: Millis,
    width: Millis,
) -> Result<Vec<Bucket>, OpError> {
    Ok(store
        .payments_by_bucket(since, width)
        .await?
        .into_iter()
        .map(|b| Bucket {
            at: b.bucket,
            currency: b.currency,
            turnover: b.turnover,
            made: b.made,
            paid: b.paid,
            finished: b.finished,
        })
        .collect())
}

/// Everything the overview shows, at `now`.
pub async fn overview(st: &AppState, actor: &Actor, now: Millis) -> Result<Overview, OpError> {
    actor.require(Power::Support)?;
    let store = &st.store;
    let hour = now.div_euclid(HOUR);
    let today = now.div_euclid(DAY);
    let (hour_start, day_start) = ((hour - HOURS + 1) * HOUR, (today - DAYS + 1) * DAY);
    let hourly = buckets(store, hour_start, HOUR).await?;
    let daily = buckets(store, day_start, DAY).await?;
    let payouts = |since| async move {
        Ok::<_, OpError>(
            store
                .payout_totals(since)
                .await?
                .into_iter()
                .map(|p| PayoutLine {
                    status: p.status,
                    currency: p.currency,
                    count: p.count,
                    amount: p.amount,
                })
                .collect::<Vec<_>>(),
        )
    };
    let day = Totals::of(&hourly, payouts(hour_start).await?);
    let month = Totals::of(&daily, payouts(day_start).await?);
    let b = store.outbox_backlog().await?;
    let backlog = Backlog {
        postbacks: b.postbacks,
        oldest_postback_age_ms: b.oldest_postback_at.map_or(0, |at| (now - at).max(0)),
        messages: b.messages,
    };
    // The same reading `/metrics` makes at a scrape, and the lag computed as it computes it.
    let t = store.telemetry(now).await?;
    let health = Health {
        writer_queue: t.writer_queue,
        outbox_due: t.outbox_due,
        outbox_in_flight: t.outbox_in_flight,
        outbox_lag_ms: t.outbox_oldest_due_at.map_or(0, |at| (now - at).max(0)),
        settlements_waiting: t.settlements_waiting,
        settlements_due: t.settlements_due,
        dispatcher: st.settings.postbacks.dispatch,
        money_worker: st.settings.money.work,
    };
    Ok(Overview {
        now,
        hour,
        today,
        day,
        month,
        hourly,
        daily,
        backlog,
        health,
    })
}
