//! Building and running the application: `Application::build` binds the listener (port 0 in
//! tests) and wires state, routes and middleware.

use crate::config::{Mode, Settings};
use crate::dialects::cardapi;
use crate::dialects::cardlink::{self, ApiError};
use crate::dialects::docs;
use crate::dialects::procard;
use crate::keys::{InstanceKeys, KeyError};
use crate::metrics::Metrics;
use crate::pages;
use crate::sandbox::{self, acquirer::SandboxAcquirer, acquirer::SandboxPayouts};
use crate::state::{AppState, Clock, Services};
use crate::web;
use crate::workers::{dispatcher, money};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use paylink_store::{Store, StoreError};
use std::future::Future;
use std::sync::Arc;
use thiserror::Error;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

#[derive(Debug, Error)]
pub enum StartError {
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("keys: {0}")]
    Keys(#[from] KeyError),
    #[error(
        "this database was made in {recorded} mode and paylink is set to {configured} mode: test \
         and live money never share a database. Use another database for {configured} mode, or \
         set mode = \"{recorded}\" (PAYLINK_MODE={recorded})"
    )]
    ModeMismatch {
        recorded: String,
        configured: &'static str,
    },
    #[error(
        "mode = \"live\" needs a live acquirer and a live payout provider, and none ships with \
         this version of paylink: a live connector implements the `Acquirer` and \
         `PayoutProvider` traits (crates/paylink-server/src/acquirer.rs; see \"Live mode\" in \
         docs/operations.md). Until one is configured, run in mode = \"sandbox\""
    )]
    NoLiveProviders,
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}

/// How many panics the server caught: a request's (answered 500) or a background worker's
/// (restarted). Every one is a bug; the test harness fails a test that saw one.
#[derive(Clone, Default)]
pub struct Panics(Arc<std::sync::atomic::AtomicUsize>);

impl Panics {
    pub fn count(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn record(&self, what: &str, message: &str) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        tracing::error!(panic = message, "{what} panicked: this is a bug");
    }
}

/// The status a surface answers a storage failure with: 503 while the database is out of reach
/// (a failover: the client retries), 500 otherwise.
pub(crate) fn storage_status(e: &StoreError) -> StatusCode {
    if e.is_transient() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

/// Logs a storage failure met while serving `what`: a warning while the database is out of
/// reach (a failover is expected to pass), an error otherwise.
pub(crate) fn log_storage_failure(e: &StoreError, what: &str) {
    if e.is_transient() {
        tracing::warn!(error = %e, "{what}: the database is unavailable");
    } else {
        tracing::error!(error = %e, "{what}: storage failed");
    }
}

/// The text of a caught panic's payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)")
}

pub struct Application {
    listener: TcpListener,
    /// `/metrics`, when `metrics_listen` is set.
    metrics_listener: Option<TcpListener>,
    metrics: Arc<Metrics>,
    panics: Panics,
    router: Router,
    state: AppState,
    store: Store,
    public_url: String,
}

impl Application {
    pub async fn build(
        mut settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> Result<Application, StartError> {
        let metrics = Arc::new(Metrics::new());
        settings.store.observer = Some(paylink_store::Observer(metrics.clone()));
        let store = Store::open(&settings.database_url, settings.store.clone()).await?;
        Application::assemble(settings, clock, store, metrics).await
    }

    /// On a store opened elsewhere; its writers report nothing to `/metrics`.
    pub async fn with_store(
        settings: Settings,
        clock: Arc<dyn Clock>,
        store: Store,
    ) -> Result<Application, StartError> {
        Application::assemble(settings, clock, store, Arc::new(Metrics::new())).await
    }

    async fn assemble(
        mut settings: Settings,
        clock: Arc<dyn Clock>,
        store: Store,
        metrics: Arc<Metrics>,
    ) -> Result<Application, StartError> {
        let metrics_listener = match settings.metrics_listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| StartError::Bind { addr, source })?,
            ),
            None => None,
        };
        let listen = settings.listen;
        let bind_error = |source| StartError::Bind {
            addr: listen,
            source,
        };
        let listener = TcpListener::bind(settings.listen)
            .await
            .map_err(bind_error)?;
        // A `public_url` that follows the listen address follows the port actually bound
        // (port 0 picks one), so links point at a server that answers.
        let bound = listener.local_addr().map_err(bind_error)?;
        if settings.public_url == format!("http://{}", settings.listen) {
            settings.public_url = format!("http://{bound}");
        }
        let public_url = settings.public_url.clone();
        check_mode(&store, settings.mode).await?;
        let keys =
            Arc::new(InstanceKeys::open(&settings.keys, &settings.database_url, &store).await?);
        // Only the sandbox ships; `check_mode` refused live mode before this point.
        let sandbox = Arc::new(SandboxAcquirer::new(&public_url, keys.sandbox.clone()));
        let rules = std::sync::RwLock::new(settings.money.rules());
        let state = AppState::new(Services {
            store: store.clone(),
            postback_client: dispatcher::client(&settings.postbacks),
            settings,
            clock,
            acquirer: sandbox.clone(),
            payout_provider: Arc::new(SandboxPayouts::default()),
            sandbox,
            keys,
            payouts_due: tokio::sync::Notify::new(),
            money_rules: rules,
        });
        state.reload_money_rules().await;
        let panics = Panics::default();
        Ok(Application {
            listener,
            metrics_listener,
            router: router(state.clone(), panics.clone(), metrics.clone()),
            metrics,
            panics,
            state,
            store,
            public_url,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// The base of payment links, with the real port when the listen address said port 0.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Where `/metrics` is served (the port actually bound), if anywhere.
    pub fn metrics_address(&self) -> Option<std::net::SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// The count of panics caught while serving, to watch from outside.
    pub fn panics(&self) -> Panics {
        self.panics.clone()
    }

    /// The instance keys (admin operations seal with them).
    pub fn keys(&self) -> Arc<InstanceKeys> {
        self.state.keys.clone()
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let (st, panics) = (&self.state, &self.panics);
        let dispatcher = st.settings.postbacks.dispatch.then(|| {
            let (st, stopped) = (st.clone(), stopped.clone());
            tokio::spawn(supervise(
                "the postback dispatcher",
                panics.clone(),
                move || dispatcher::run(st.clone(), stopped.clone()),
            ))
        });
        // Where postbacks are dispatched, the outbox is trimmed too.
        let retention = st.settings.postbacks.dispatch.then(|| {
            let (st, stopped) = (st.clone(), stopped.clone());
            tokio::spawn(supervise(
                "the outbox retention",
                panics.clone(),
                move || crate::workers::retention::run(st.clone(), stopped.clone()),
            ))
        });
        let worker = st.settings.money.work.then(|| {
            let (st, stopped) = (st.clone(), stopped.clone());
            tokio::spawn(supervise("the money worker", panics.clone(), move || {
                money::run(st.clone(), stopped.clone())
            }))
        });
        let key_watch = tokio::spawn(crate::keys::watch(self.state.keys.clone(), stopped.clone()));
        let rules_watch = tokio::spawn(crate::state::watch_money_rules(
            self.state.clone(),
            stopped.clone(),
        ));
        let (metrics_stop, metrics_stopped) = tokio::sync::watch::channel(false);
        let metrics_server = self.metrics_listener.map(|listener| {
            let router = Router::new()
                .route("/metrics", get(scrape))
                .with_state((self.metrics.clone(), self.state.clone()));
            let mut stopped = metrics_stopped;
            tokio::spawn(serve(
                listener,
                router,
                ConnectionLimits {
                    header_timeout: self.state.settings.header_timeout,
                    max_connections: 64,
                },
                async move {
                    let _ = stopped.wait_for(|s| *s).await;
                },
            ))
        });
        let served = serve(
            self.listener,
            self.router,
            ConnectionLimits {
                header_timeout: self.state.settings.header_timeout,
                max_connections: self.state.settings.max_connections,
            },
            shutdown,
        )
        .await;
        let _ = metrics_stop.send(true);
        if let Some(m) = metrics_server {
            let _ = m.await;
        }
        // Let the dispatcher record the attempts in flight before the writer stops.
        let _ = stop.send(true);
        if let Some(d) = dispatcher {
            let _ = d.await;
        }
        if let Some(w) = worker {
            let _ = w.await;
        }
        if let Some(r) = retention {
            let _ = r.await;
        }
        let _ = key_watch.await;
        let _ = rules_watch.await;
        self.store.close().await;
        served
    }
}

/// Runs a background worker, and runs it again after a panic: one bug must not stop every
/// postback or payout until the next restart.
async fn supervise<F, Fut>(what: &'static str, panics: Panics, start: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    loop {
        match tokio::spawn(start()).await {
            Err(e) if e.is_panic() => {
                panics.record(what, panic_message(&e.into_panic()));
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            _ => return,
        }
    }
}

struct ConnectionLimits {
    header_timeout: std::time::Duration,
    max_connections: usize,
}

/// HTTP/1.1 on hyper with what `axum::serve` lacks: a timer for the header read timeout (which
/// also ends idle keep-alive connections) and a cap on connections. Each request carries its
/// peer address as `ConnectInfo`. On `shutdown` it stops accepting and lets in-flight requests
/// finish.
async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::extract::ConnectInfo;
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::server::graceful::GracefulShutdown;
    use std::net::SocketAddr;
    use tower::ServiceExt;

    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors and the like: wait a little rather than spin.
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let router = router.clone();
        let service =
            hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                router.clone().oneshot(req.map(axum::body::Body::new))
            });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %peer, "connection ended");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// `GET /metrics` on the metrics listener: the Prometheus text format.
async fn scrape(State((metrics, st)): State<(Arc<Metrics>, AppState)>) -> Response {
    match metrics.render(&st.store, st.now()).await {
        Ok(text) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "metrics could not be read");
            (StatusCode::SERVICE_UNAVAILABLE, e).into_response()
        }
    }
}

/// Refuses a database made in the other mode, and live mode while no live acquirer exists;
/// records the mode at a database's first start.
async fn check_mode(store: &Store, mode: Mode) -> Result<(), StartError> {
    let mismatch = |recorded: String| StartError::ModeMismatch {
        recorded,
        configured: mode.as_str(),
    };
    if let Some(recorded) = store.instance_setting("mode").await? {
        if recorded != mode.as_str() {
            return Err(mismatch(recorded));
        }
    }
    if mode == Mode::Live {
        return Err(StartError::NoLiveProviders);
    }
    let recorded = store.record_instance_setting("mode", mode.as_str()).await?;
    if recorded != mode.as_str() {
        return Err(mismatch(recorded));
    }
    Ok(())
}

fn router(state: AppState, panics: Panics, metrics: Arc<Metrics>) -> Router {
    let body_limit = state.settings.body_limit;
    let mut routes = Router::new()
        .route("/health", get(health))
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .merge(docs::router())
        .merge(cardlink::router())
        .merge(procard::router())
        .merge(cardapi::router())
        .merge(pages::router())
        .merge(web::router())
        .merge(web::admin::router());
    if state.settings.mode == Mode::Sandbox {
        routes = routes.merge(sandbox::router());
    }
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(CatchPanicLayer::custom(
            move |payload: Box<dyn std::any::Any + Send>| {
                panics.record("a request", panic_message(payload.as_ref()));
                let mut answer = ApiError::Internal.into_response();
                answer.extensions_mut().insert(Panicked);
                answer
            },
        ))
        // Its events (request, response, latency) go in `observe`'s span; its own span would
        // log the URI, whose query may carry what must not be logged.
        .layer(TraceLayer::new_for_http().make_span_with(|_: &Request| tracing::Span::none()))
        .layer(middleware::from_fn_with_state(
            Observed {
                metrics,
                timeout: state.settings.request_timeout,
                state: state.clone(),
            },
            observe,
        ))
        .with_state(state)
}

/// `/health`'s answer.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct Health {
    /// Always `ok`.
    status: &'static str,
}

#[utoipa::path(
    get,
    path = "/health",
    tag = "health",
    description = "The server is up (it does not query the database).",
    responses((status = 200, description = "Up.", body = Health), cardlink::Unavailable),
)]
pub(crate) async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[utoipa::path(
    get,
    path = "/health/live",
    tag = "health",
    description = "The process serves HTTP (for a supervisor's liveness probe).",
    responses((status = 200, description = "Up.", body = Health)),
)]
pub(crate) async fn live() -> Json<Health> {
    health().await
}

/// `/health/ready`'s answer when not ready.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct NotReady {
    /// Always `unavailable`.
    status: &'static str,
    /// What failed, for the operator.
    reason: String,
}

/// Ready to serve: the database answers, its schema is current and a writer commits; else 503
/// with the reason, for load balancers and service managers.
#[utoipa::path(
    get,
    path = "/health/ready",
    tag = "health",
    description = "Ready to serve: the database answers a read, every migration is applied and a writer commits, within 5 s (for a load balancer's health check).",
    responses(
        (status = 200, description = "Ready.", body = Health),
        (status = 503, description = "Not ready, with the reason.", body = NotReady),
    ),
)]
pub(crate) async fn ready(State(st): State<AppState>) -> Response {
    let checked = tokio::time::timeout(READY_WITHIN, st.store.check_ready()).await;
    let why = match checked {
        Ok(Ok(())) => return health().await.into_response(),
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("the database did not answer within {READY_WITHIN:?}"),
    };
    tracing::warn!(reason = %why, "not ready");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(NotReady {
            status: "unavailable",
            reason: why,
        }),
    )
        .into_response()
}

/// How long a readiness check may take before the answer is "not ready".
const READY_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

async fn not_found(State(st): State<AppState>, uri: axum::http::Uri, h: HeaderMap) -> Response {
    unanswered(&st, uri.path(), pages::language(&h), StatusCode::NOT_FOUND)
}

async fn method_not_allowed(
    State(st): State<AppState>,
    uri: axum::http::Uri,
    h: HeaderMap,
) -> Response {
    unanswered(
        &st,
        uri.path(),
        pages::language(&h),
        StatusCode::METHOD_NOT_ALLOWED,
    )
}

/// What every request passes through once: see [`observe`].
#[derive(Clone)]
struct Observed {
    metrics: Arc<Metrics>,
    timeout: std::time::Duration,
    state: AppState,
}

/// One layer for what every request needs (each `from_fn` layer costs a clone of the stack
/// below it per request, measured on `/health`):
/// - a name: the caller's `x-request-id` when it is a sane token (a proxy's), else a fresh one,
///   in every log line of the request (the span's `request_id`), in the answer's
///   `x-request-id` and in a 500's body, so a client reporting an error can point at its log
///   lines;
/// - a deadline: past `request_timeout` the client gets a 503 in its surface's shape
///   (`unanswered`; the work is dropped, and a write already queued either commits whole or
///   not at all);
/// - a shape: what no handler answered (a panic, an extractor's plain-text refusal) is
///   answered in its surface's shape (`unanswered`);
/// - metrics: counted and timed by its route's template.
async fn observe(State(o): State<Observed>, req: Request, next: Next) -> Response {
    use axum::http::HeaderValue;
    use tracing::Instrument;
    let started = std::time::Instant::now();
    let given = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=64).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
        .map(str::to_string);
    let id = given.unwrap_or_else(fresh_request_id);
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .cloned();
    let method = req.method().clone();
    // The path only: a query may carry what must not be logged; a path that is itself a
    // secret (a one-time link) is logged as its route's template.
    let path = match route.as_ref().map(|r| r.as_str()) {
        Some(template)
            if [
                pages::CARD_SECRET_ROUTE,
                web::PASSWORD_LINK_ROUTE,
                web::admin::PASSWORD_LINK_ROUTE,
            ]
            .contains(&template) =>
        {
            template
        }
        _ => req.uri().path(),
    };
    // Only what `unanswered` reads, kept in case the request runs past its deadline.
    let language = pages::language(req.headers()).map(str::to_string);
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %method,
        path = %path
    );
    let path = path.to_string();
    let language = language.as_deref();
    let mut response = match tokio::time::timeout(o.timeout, next.run(req).instrument(span)).await {
        Ok(response) if unshaped(&response, &path) => {
            unanswered(&o.state, &path, language, response.status())
        }
        Ok(response) => response,
        Err(_) => unanswered(&o.state, &path, language, StatusCode::SERVICE_UNAVAILABLE),
    };
    if response.status() == StatusCode::INTERNAL_SERVER_ERROR {
        response = with_log_reference(response, &id, surface(&path)).await;
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    o.metrics.request(
        route.as_ref().map(|r| r.as_str()),
        &method,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// The surfaces with an error shape of their own, by path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Surface {
    CardApi,
    Procard,
    /// The payer's pages and the sandbox bank's pages they lead to.
    Pages,
    Cardlink,
    /// The web app, the console, docs and health: answers of their own making.
    Other,
}

fn surface(path: &str) -> Surface {
    if path.starts_with("/v5/") {
        Surface::CardApi
    } else if path.starts_with("/permanent-links/") || path.starts_with("/sandbox/permanent-links/")
    {
        Surface::Procard
    } else if pages::serves(path) || path == "/sandbox/acs" || path.starts_with("/sandbox/sbp/") {
        Surface::Pages
    } else if path.starts_with("/api/") || path.starts_with("/sandbox/") {
        Surface::Cardlink
    } else {
        Surface::Other
    }
}

/// An answer of `status` that no handler of the surface wrote (a request past its deadline, a
/// caught panic, an unknown path or method, an extractor's refusal: a path segment that does
/// not decode, a body over the limit) in the shape of the surface `path` belongs to, so that
/// its clients read it as they read the rest. Paths of no such surface answer in Cardlink's
/// shape, as they always have; the web app's deadline in its own words.
fn unanswered(st: &AppState, path: &str, language: Option<&str>, status: StatusCode) -> Response {
    match surface(path) {
        Surface::CardApi => cardapi::unanswered(st, path, status),
        Surface::Procard => procard::unanswered(status),
        Surface::Pages => pages::unanswered(st, path, language, status),
        Surface::Other if status == StatusCode::SERVICE_UNAVAILABLE && web::serves(path) => {
            web::late(language)
        }
        Surface::Cardlink | Surface::Other => match status {
            StatusCode::INTERNAL_SERVER_ERROR => ApiError::Internal,
            StatusCode::SERVICE_UNAVAILABLE => ApiError::Http(status, "The request took too long."),
            _ => ApiError::Http(status, status.canonical_reason().unwrap_or("Bad Request")),
        }
        .into_response(),
    }
}

/// Marks the answer to a request whose handler panicked, for [`observe`] to shape.
#[derive(Clone, Copy)]
struct Panicked;

/// Whether `response` is a caught panic's, or an error axum's extractors wrote (plain text) on
/// a surface with a shape of its own, rather than a handler's own answer.
fn unshaped(response: &Response, path: &str) -> bool {
    if response.extensions().get::<Panicked>().is_some() {
        return true;
    }
    let status = response.status();
    let plain = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    plain
        && (status.is_client_error() || status.is_server_error())
        && surface(path) != Surface::Other
}

/// A 500 whose body is a JSON object (Cardlink's error shape, the Card API's envelopes,
/// Procard's failure), with the request id added as `request_id` (on the Card API as
/// `trace_id`: its `request_id` is the partner's own): the reference a client quotes to find
/// the request's log lines (every line of it carries the id). Done here, once, because a 500
/// can come from anywhere below (a handler, a caught panic, an idempotent request's own task).
/// Any other body passes unchanged (a page's: the `x-request-id` header carries the id).
async fn with_log_reference(response: Response, id: &str, surface: Surface) -> Response {
    use axum::body::Body;
    use paylink_api::cardlink::ErrorBody;
    let (mut parts, body) = response.into_parts();
    // An error body is a few hundred bytes; anything longer is not one.
    let bytes = match axum::body::to_bytes(body, 64 * 1024).await {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::error!(error = %e, "cannot read a 500 answer's body");
            // Strings: serializing cannot fail.
            serde_json::to_vec(&ApiError::Internal.parts().1)
                .unwrap_or_default()
                .into()
        }
    };
    // Cardlink's keeps its fields' order; another surface's object gains the field.
    let body = if let Ok(mut error) = serde_json::from_slice::<ErrorBody>(&bytes) {
        error.request_id = Some(id.to_string());
        serde_json::to_vec(&error)
    } else if let Ok(serde_json::Value::Object(mut error)) = serde_json::from_slice(&bytes) {
        let name = match surface {
            Surface::CardApi => "trace_id",
            _ => "request_id",
        };
        error.insert(name.into(), id.into());
        serde_json::to_vec(&error)
    } else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    // Strings and maps of JSON values: serializing cannot fail.
    Response::from_parts(parts, Body::from(body.unwrap_or_default()))
}

/// A request id unique across processes and time: a random prefix drawn once per process, then
/// a counter (cheaper per request than drawing every id).
fn fresh_request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static PREFIX: OnceLock<String> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        paylink_core::id::random_base62(&mut rand::thread_rng(), REQUEST_ID_PREFIX_LEN)
    });
    format!("{prefix}-{:x}", NEXT.fetch_add(1, Ordering::Relaxed))
}

const REQUEST_ID_PREFIX_LEN: usize = 12;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_belongs_to_the_surface_that_shapes_its_errors() {
        for (path, expected) in [
            ("/v5/card-api/card/info", Surface::CardApi),
            ("/v5/cards/activate", Surface::CardApi),
            ("/permanent-links/list", Surface::Procard),
            ("/sandbox/permanent-links/pay", Surface::Procard),
            ("/link/AbCdEfGhIj", Surface::Pages),
            ("/card-secret/token", Surface::Pages),
            ("/sandbox/acs", Surface::Pages),
            ("/sandbox/sbp/AbCdEfGhIj", Surface::Pages),
            ("/api/v1/bill/create", Surface::Cardlink),
            ("/sandbox/pay", Surface::Cardlink),
            ("/dashboard", Surface::Other),
            ("/admin/disputes", Surface::Other),
            ("/docs", Surface::Other),
            ("/health/ready", Surface::Other),
        ] {
            assert_eq!(surface(path), expected, "{path}");
        }
    }

    #[test]
    fn a_panic_or_an_extractors_text_is_reshaped_and_a_surfaces_own_answer_is_not() {
        let text = |status: StatusCode| (status, "Failed to buffer the body").into_response();
        assert!(unshaped(
            &text(StatusCode::PAYLOAD_TOO_LARGE),
            "/v5/card-api/x"
        ));
        assert!(unshaped(&text(StatusCode::BAD_REQUEST), "/link/x"));
        // The web app's own plain-text refusals (an expired form) stay as they are.
        assert!(!unshaped(&text(StatusCode::FORBIDDEN), "/bills"));
        assert!(!unshaped(&text(StatusCode::OK), "/link/x"));
        let json = ApiError::Http(StatusCode::NOT_FOUND, "Not Found").into_response();
        assert!(!unshaped(&json, "/api/v1/nope"));
        let mut panicked = ApiError::Internal.into_response();
        panicked.extensions_mut().insert(Panicked);
        assert!(unshaped(&panicked, "/dashboard"));
    }

    #[tokio::test]
    async fn a_json_500_of_any_surface_carries_the_request_id() {
        let envelope = (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(serde_json::json!({"status": "error", "error_code": "internal_error"})),
        )
            .into_response();
        let json = |answered: Response| async {
            let body = axum::body::to_bytes(answered.into_body(), 1 << 16)
                .await
                .unwrap();
            serde_json::from_slice::<serde_json::Value>(&body).unwrap()
        };
        let failure = || {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(serde_json::json!({"result": -1})),
            )
                .into_response()
        };
        let body = json(with_log_reference(failure(), "ref-0", Surface::Procard).await).await;
        assert_eq!(body["request_id"], "ref-0");
        // The Card API's `request_id` is the partner's: the reference has a name of its own.
        let body = json(with_log_reference(envelope, "ref-1", Surface::CardApi).await).await;
        assert_eq!(body["trace_id"], "ref-1");
        assert_eq!(body.get("request_id"), None);
        assert_eq!(body["error_code"], "internal_error");
        let page = (StatusCode::INTERNAL_SERVER_ERROR, "<html>failed</html>").into_response();
        let answered = with_log_reference(page, "ref-2", Surface::Pages).await;
        let body = axum::body::to_bytes(answered.into_body(), 1 << 16)
            .await
            .unwrap();
        assert_eq!(&body[..], b"<html>failed</html>");
    }
}
