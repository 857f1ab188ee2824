//! Prometheus metrics, served on their own listener (`metrics_listen`, loopback by default), never
//! on the public one. Counters and histograms are updated as things happen; the gauges of
//! waiting work (outbox, settlements, writer queue, read pool) are read from the store at each
//! scrape.

use paylink_core::guard::Guard;
use paylink_core::plan::{Plan, Write};
use paylink_store::{Store, StoreObserver, Telemetry};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::AtomicU64;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route's template (`/transfer/{id}`), or `unmatched`: never the raw path, whose ids
    /// would make a series each.
    pub route: &'static str,
    pub method: &'static str,
    pub status: u16,
}

/// The routes' templates, each kept once for the process: labels then cost no allocation per
/// request. Bounded: only the router's templates (and `unmatched`) are ever interned.
static ROUTES: std::sync::RwLock<Vec<&'static str>> = std::sync::RwLock::new(Vec::new());

fn interned(route: &str) -> &'static str {
    let known = ROUTES
        .read()
        .map(|r| r.iter().copied().find(|k| *k == route));
    if let Ok(Some(k)) = known {
        return k;
    }
    let mut routes = ROUTES.write().unwrap_or_else(|e| e.into_inner());
    if let Some(k) = routes.iter().copied().find(|k| *k == route) {
        return k;
    }
    let k: &'static str = Box::leak(route.to_string().into_boxed_str());
    routes.push(k);
    k
}

fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    pub status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PaymentLabels {
    pub status: &'static str,
    pub method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GuardLabels {
    pub guard: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabels {
    pub state: &'static str,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Histogram>,
    payments: Family<PaymentLabels, Counter>,
    payouts: Family<StatusLabels, Counter>,
    refunds: Family<StatusLabels, Counter>,
    notices: Counter,
    batch_plans: Histogram,
    commit_seconds: Histogram,
    failed_plans: Counter,
    guards: Family<GuardLabels, Counter>,
    writer_queue: Gauge,
    outbox_due: Gauge,
    outbox_in_flight: Gauge,
    outbox_lag: Gauge<f64, AtomicU64>,
    settlements_waiting: Gauge,
    settlements_due: Gauge,
    read_connections: Family<PoolLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("paylink");
        // One histogram per route, method and status: its count is the request count, so a
        // request costs one lookup.
        let requests = Family::<RequestLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        registry.register_with_unit(
            "http_request_duration",
            "Requests answered, by route, method and status, and the time from each one's \
             arrival to its answer's headers",
            Unit::Seconds,
            requests.clone(),
        );
        let payments = Family::<PaymentLabels, Counter>::default();
        registry.register(
            "payments",
            "Payments recorded, by status and method",
            payments.clone(),
        );
        let payouts = Family::<StatusLabels, Counter>::default();
        registry.register(
            "payouts",
            "Payouts created (NEW) or moved to a status",
            payouts.clone(),
        );
        let refunds = Family::<StatusLabels, Counter>::default();
        registry.register(
            "refunds",
            "Refunds created (PROCESS) or finished, by status",
            refunds.clone(),
        );
        let notices = Counter::default();
        registry.register(
            "outbox_enqueued",
            "Messages written to the outbox (postbacks, webhooks)",
            notices.clone(),
        );
        let batch_plans = Histogram::new(exponential_buckets(1.0, 2.0, 11));
        registry.register(
            "writer_batch_plans",
            "Plans committed together in one transaction",
            batch_plans.clone(),
        );
        let commit_seconds = Histogram::new(exponential_buckets(0.0001, 2.0, 16));
        registry.register_with_unit(
            "writer_commit_duration",
            "Time a writer's batch took, first statement to durable commit",
            Unit::Seconds,
            commit_seconds.clone(),
        );
        let failed_plans = Counter::default();
        registry.register(
            "writer_failed_plans",
            "Plans refused by a guard or lost with a failed commit",
            failed_plans.clone(),
        );
        let guards = Family::<GuardLabels, Counter>::default();
        registry.register(
            "store_guard_refusals",
            "Writes refused by a guard in SQL (double spending, races), by guard",
            guards.clone(),
        );
        let writer_queue = Gauge::default();
        registry.register(
            "writer_queue",
            "Plans waiting for a writer",
            writer_queue.clone(),
        );
        let outbox_due = Gauge::default();
        registry.register(
            "outbox_due",
            "Messages due for delivery now",
            outbox_due.clone(),
        );
        let outbox_in_flight = Gauge::default();
        registry.register(
            "outbox_in_flight",
            "Messages being delivered (leased by a dispatcher)",
            outbox_in_flight.clone(),
        );
        let outbox_lag = Gauge::<f64, AtomicU64>::default();
        registry.register_with_unit(
            "outbox_delivery_lag",
            "How long the longest-waiting due message has been due (0 when none is)",
            Unit::Seconds,
            outbox_lag.clone(),
        );
        let settlements_waiting = Gauge::default();
        registry.register(
            "settlements_waiting",
            "Payments whose money waits in hold",
            settlements_waiting.clone(),
        );
        let settlements_due = Gauge::default();
        registry.register(
            "settlements_due",
            "Payments whose hold should have been settled already (the settlement backlog)",
            settlements_due.clone(),
        );
        let read_connections = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "db_read_connections",
            "Database read connections, open and idle",
            read_connections.clone(),
        );
        Metrics {
            registry,
            requests,
            payments,
            payouts,
            refunds,
            notices,
            batch_plans,
            commit_seconds,
            failed_plans,
            guards,
            writer_queue,
            outbox_due,
            outbox_in_flight,
            outbox_lag,
            settlements_waiting,
            settlements_due,
            read_connections,
        }
    }

    /// `route` is the matched template (`None`: no route matched).
    pub fn request(
        &self,
        route: Option<&str>,
        method: &axum::http::Method,
        status: u16,
        took: Duration,
    ) {
        let route = route.map_or("unmatched", interned);
        let method = method_label(method);
        self.requests
            .get_or_create(&RequestLabels {
                route,
                method,
                status,
            })
            .observe(took.as_secs_f64());
    }

    /// The exposition text, with the waiting-work gauges read from `store` first.
    pub async fn render(&self, store: &Store, now: i64) -> Result<String, String> {
        let t: Telemetry = store.telemetry(now).await.map_err(|e| e.to_string())?;
        self.writer_queue.set(t.writer_queue as i64);
        self.outbox_due.set(t.outbox_due);
        self.outbox_in_flight.set(t.outbox_in_flight);
        self.outbox_lag.set(
            t.outbox_oldest_due_at
                .map_or(0.0, |at| (now - at).max(0) as f64 / 1000.0),
        );
        self.settlements_waiting.set(t.settlements_waiting);
        self.settlements_due.set(t.settlements_due);
        for (state, n) in [("open", t.reads_open), ("idle", t.reads_idle)] {
            self.read_connections
                .get_or_create(&PoolLabels { state })
                .set(i64::from(n));
        }
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .map_err(|e| e.to_string())?;
        Ok(text)
    }
}

impl StoreObserver for Metrics {
    fn refused(&self, guard: Guard) {
        let guard = guard.as_str();
        self.guards.get_or_create(&GuardLabels { guard }).inc();
    }

    fn committed(&self, plans: usize, failed: usize, took: Duration) {
        self.batch_plans.observe(plans as f64);
        self.commit_seconds.observe(took.as_secs_f64());
        self.failed_plans.inc_by(failed as u64);
    }

    fn applied(&self, plan: &Plan) {
        for w in &plan.writes {
            match w {
                Write::RecordPayment { payment, .. } => {
                    self.payments
                        .get_or_create(&PaymentLabels {
                            status: payment.status.as_str(),
                            method: payment.method.as_str(),
                        })
                        .inc();
                }
                Write::InsertPayout(p) => {
                    self.payouts
                        .get_or_create(&StatusLabels {
                            status: p.status.as_str(),
                        })
                        .inc();
                }
                Write::MovePayout { to, .. } => {
                    self.payouts
                        .get_or_create(&StatusLabels {
                            status: to.as_str(),
                        })
                        .inc();
                }
                Write::InsertRefund { refund, .. } => {
                    self.refunds
                        .get_or_create(&StatusLabels {
                            status: refund.status.as_str(),
                        })
                        .inc();
                }
                Write::FinishRefund { status, .. } => {
                    self.refunds
                        .get_or_create(&StatusLabels {
                            status: status.as_str(),
                        })
                        .inc();
                }
                Write::EnqueueNotice(_) => {
                    self.notices.inc();
                }
                _ => {}
            }
        }
    }
}
