//! Slow and idle clients: a client trickling its headers is cut off at the header timeout while
//! everyone else is served, and the connection cap holds without locking anyone out for good.

use crate::harness::*;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Generous: CI machines are small and loaded.
const PATIENCE: Duration = Duration::from_secs(60);

/// Whether the server has closed `stream` (end of file or a reset), waiting at most `wait`.
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 512];
    match tokio::time::timeout(wait, stream.read(&mut buf)).await {
        Ok(Ok(0)) | Ok(Err(_)) => true,
        // hyper may answer 408 before closing; the connection is still being ended.
        Ok(Ok(n)) => String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 408"),
        Err(_) => false,
    }
}

#[tokio::test]
async fn a_client_trickling_headers_is_cut_off_while_others_are_served() {
    let app = spawn_app_with(|s| s.header_timeout = Duration::from_secs(1)).await;
    let address = app.address.trim_start_matches("http://").to_string();
    let mut slow = TcpStream::connect(&address).await.expect("connects");
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: paylink\r\n")
        .await
        .expect("the request line is sent");
    let started = Instant::now();
    let mut served = 0;
    let mut cut_off = false;
    while started.elapsed() < PATIENCE {
        // One header line at a time, never the blank line that ends them.
        if slow.write_all(b"X-Slow: 1\r\n").await.is_err() {
            cut_off = true;
            break;
        }
        let health = app.http.get(app.url("/health")).send().await;
        assert_eq!(health.expect("a normal request is served").status(), 200);
        served += 1;
        if closed_within(&mut slow, Duration::from_millis(200)).await {
            cut_off = true;
            break;
        }
    }
    assert!(cut_off, "the trickling client was never cut off");
    assert!(served > 0, "normal requests were served meanwhile");
    let health = app.http.get(app.url("/health")).send().await;
    assert_eq!(health.expect("the server still answers").status(), 200);
}

#[tokio::test]
async fn idle_connections_over_the_cap_are_closed_and_the_next_client_gets_in() {
    let app = spawn_app_with(|s| {
        s.header_timeout = Duration::from_secs(1);
        s.max_connections = 2;
    })
    .await;
    let address = app.address.trim_start_matches("http://").to_string();
    // Two connections that never send a byte hold every slot.
    let mut idle = Vec::new();
    for _ in 0..2 {
        idle.push(TcpStream::connect(&address).await.expect("connects"));
    }
    // A fresh client (no pooled connection) still gets its answer once the idle ones are cut.
    let client = reqwest::Client::builder()
        .timeout(PATIENCE)
        .build()
        .expect("a client");
    let health = client.get(app.url("/health")).send().await;
    assert_eq!(health.expect("served after the idle ones").status(), 200);
    for stream in &mut idle {
        assert!(
            closed_within(stream, PATIENCE).await,
            "an idle connection was left open past the header timeout"
        );
    }
}
