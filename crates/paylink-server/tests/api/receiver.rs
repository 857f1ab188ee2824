//! A merchant's server for tests: records every request it gets (postbacks to `/postback`,
//! the payer's browser arriving at `/success` and `/fail`) and answers postbacks with a status
//! the test chooses.

use crate::harness::patience;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: String,
    pub fields: Vec<(String, String)>,
}

impl Received {
    pub fn field(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

#[derive(Default)]
struct Shared {
    log: Mutex<Vec<Received>>,
    /// What `/postback` answers (200 unless set).
    status: AtomicU16,
}

pub struct Receiver {
    pub base: String,
    shared: Arc<Shared>,
}

async fn record(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let text = String::from_utf8_lossy(&body).into_owned();
    let mut fields: Vec<(String, String)> = form_urlencoded::parse(text.as_bytes())
        .into_owned()
        .collect();
    if let Some(q) = uri.query() {
        fields.extend(form_urlencoded::parse(q.as_bytes()).into_owned());
    }
    let path = uri.path().to_string();
    shared.log.lock().unwrap().push(Received {
        method: method.to_string(),
        path: path.clone(),
        headers,
        body: text,
        fields: fields.clone(),
    });
    if path == "/postback" {
        let status = match shared.status.load(Ordering::SeqCst) {
            0 => 200,
            s => s,
        };
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
        return (code, format!("answered {status}")).into_response();
    }
    let list: String = fields
        .iter()
        .map(|(k, v)| format!("<li id=\"{k}\">{k}={v}</li>"))
        .collect();
    Html(format!(
        "<!doctype html><title>Merchant {path}</title><h1 id=\"landed\">Merchant page {path}</h1><ul>{list}</ul>"
    ))
    .into_response()
}

impl Receiver {
    pub async fn start() -> Receiver {
        let shared = Arc::new(Shared::default());
        let app = axum::Router::new()
            .fallback(record)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { base, shared }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn answer_with(&self, status: u16) {
        self.shared.status.store(status, Ordering::SeqCst);
    }

    /// Every request to `path` so far.
    pub fn at(&self, path: &str) -> Vec<Received> {
        self.shared
            .log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// Waits (polling, up to `PATIENCE`) until `path` has had `n` requests; returns them all.
    pub async fn wait_for(&self, path: &str, n: usize) -> Vec<Received> {
        for _ in patience() {
            let got = self.at(path);
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "{path} got {} requests, expected {n}: {:?}",
            self.at(path).len(),
            self.at(path)
        );
    }
}
