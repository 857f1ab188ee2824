//! Building and running the application: `Application::build` binds the listener (port 0 in
//! tests) and wires state, routes and middleware.

use crate::acquirer::SandboxAcquirer;
use crate::apidocs;
use crate::cardlink::{self, ApiError};
use crate::config::Settings;
use crate::keys::InstanceKeys;
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
        let keys = InstanceKeys::load(&store).await?;
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
            .then(|| tokio::spawn(worker::run(self.state.clone(), stopped)));
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
        self.store.close().await;
        served
    }
}

fn router(state: AppState) -> Router {
    let body_limit = state.settings.body_limit;
    Router::new()
        .route("/health", get(health))
        .merge(apidocs::router())
        .merge(cardlink::router())
        .merge(pages::router())
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
