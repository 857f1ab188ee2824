//! A merchant's postback endpoint for benchmarks: answers every POST with 200 and counts them.
//! `cargo run --release -p paylink-server --example postback_sink -- 127.0.0.1:18990`
//! prints `listening on ADDR`, and the count on `GET /count`.

use axum::extract::State;
use axum::routing::{get, post};
use axum::Router;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let count = Arc::new(AtomicU64::new(0));
    let app =
        Router::new()
            .route(
                "/postback",
                post(|State(c): State<Arc<AtomicU64>>| async move {
                    c.fetch_add(1, Ordering::Relaxed);
                    "OK"
                }),
            )
            .route(
                "/count",
                get(|State(c): State<Arc<AtomicU64>>| async move {
                    c.load(Ordering::Relaxed).to_string()
                }),
            )
            .with_state(count);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await
}
