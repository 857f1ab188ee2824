//! Building and running the application: `Application::build` binds the listener (port 0 in
//! tests) and wires state, routes and middleware.

use crate::acquirer::SandboxAcquirer;
use crate::cardlink::{self, ApiError};
use crate::config::{Mode, Settings};
use crate::keys::{InstanceKeys, KeyError};
use crate::pages;
use crate::state::{AppState, Clock, Services};
use crate::{postbacks, worker};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
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

pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
    store: Store,
    public_url: String,
}

impl Application {
    pub async fn build(
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> Result<Application, StartError> {
        let store = Store::open(&settings.database_url, settings.store.clone()).await?;
        Application::with_store(settings, clock, store).await
    }

    pub async fn with_store(
        mut settings: Settings,
        clock: Arc<dyn Clock>,
        store: Store,
    ) -> Result<Application, StartError> {
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
        let state = AppState::new(Services {
            store: store.clone(),
            postback_client: postbacks::client(&settings.postbacks),
            settings,
            clock,
            acquirer: sandbox.clone(),
            payout_provider: Arc::new(crate::acquirer::SandboxPayouts),
            sandbox,
            keys,
            postbacks_due: tokio::sync::Notify::new(),
            payouts_due: tokio::sync::Notify::new(),
        });
        Ok(Application {
            listener,
            router: router(state.clone()),
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
        let dispatcher = self
            .state
            .settings
            .postbacks
            .dispatch
            .then(|| tokio::spawn(postbacks::run(self.state.clone(), stopped.clone())));
        let worker = self
            .state
            .settings
            .money
            .work
            .then(|| tokio::spawn(worker::run(self.state.clone(), stopped.clone())));
        let key_watch = tokio::spawn(crate::keys::watch(self.state.keys.clone(), stopped));
        let served = axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await;
        // Let the dispatcher record the attempts in flight before the writer stops.
        let _ = stop.send(true);
        if let Some(d) = dispatcher {
            let _ = d.await;
        }
        if let Some(w) = worker {
            let _ = w.await;
        }
        let _ = key_watch.await;
        self.store.close().await;
        served
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

fn router(state: AppState) -> Router {
    let body_limit = state.settings.body_limit;
    let mut routes = Router::new()
        .route("/health", get(health))
        .merge(cardlink::router())
        .merge(pages::router());
    if state.settings.mode == Mode::Sandbox {
        routes = routes
            .merge(cardlink::sandbox_router())
            .merge(pages::sandbox_router());
    }
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), deadline))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::Internal.into_response()
        }))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

async fn not_found() -> ApiError {
    ApiError::Http(StatusCode::NOT_FOUND, "Not Found")
}

async fn method_not_allowed() -> ApiError {
    ApiError::Http(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
}

/// Every request has a deadline; past it the client gets a JSON 503 (the work is dropped, and
/// a write already queued either commits whole or not at all).
async fn deadline(State(st): State<AppState>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(st.settings.request_timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::Http(
            StatusCode::SERVICE_UNAVAILABLE,
            "The request took too long.",
        )
        .into_response(),
    }
}
